// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-amp - how much larger than its request can a node's answer be? For each built-in
 * handler, requests chosen to make the reply as large as possible for as few bytes sent
 * (tiny compressed inputs, large outputs, replies asked uncompressed), and cached replays
 * (header-only datagrams repeating the task id of a large result, which the cache's binding
 * answers CONFLICT; and copies of the task's own fragment 0, the smallest datagram that is
 * the request the result belongs to). Each is sent from a
 * fresh UDP socket that never showed a token (an unvalidated source), and the tool counts
 * the UDP payload bytes it sent and received:
 *
 *	ratio = bytes received / bytes sent      (docs/protocol.md: at most 3 until validated)
 *
 * When the node answers RETRY, the tool sends the task again with the token and measures
 * that exchange as well (what a validated client gets), and the client library runs the
 * same task to show that it still gets the whole result.
 *
 *   eptest-amp --to ADDR [--infer-in N] [--max-ratio 3]    TAP, one case per line
 *   eptest-amp --to ADDR [--infer-in N] --table            a markdown table
 *
 * Every exchange is bounded: one request (or 20 replays) and at most 3 s of waiting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/payload.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"
#include "opts.h"
#include "raw.h"
#include "session.h"

#define MTU	      RAW_MTU
#define WAIT_MS	      3000 /* longest wait for a reply */
#define REPLAYS	      20
#define REPLAY_GAP_US 15000 /* beyond the node's resend gap */
#define REPLAY_HEADER 1	    /* header-only datagrams with the task's id */
#define REPLAY_FRAG0  2	    /* copies of the task's fragment 0 */

static struct sockaddr_storage to_ss;
static socklen_t to_len;
static const char *to;
static struct ep_client *cli;
static bool table;
static double max_ratio = EP_AMP_FACTOR;
static uint64_t next_id;

struct acase {
	const char *name; /* handler */
	const char *what; /* the request, in words */
	uint16_t type;
	uint8_t flags; /* EP_F_ZSTD: compress the payload (level 19) */
	uint8_t *payload;
	uint32_t len;
	int replay; /* replays once answered: REPLAY_HEADER or REPLAY_FRAG0 */
};

static int open_sock(void)
{
	return raw_open(&to_ss, to_len);
}

/* One request from @fd, with @token (a RETRY's) if not NULL. */
static void exchange(int fd, const struct acase *c, const uint8_t *wire, uint32_t wire_len,
		     uint64_t id, const struct ep_msg *token, struct exch *x)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = EP_PRIO_DEFAULT,
			    .flags = (uint8_t)((c->flags & EP_F_ZSTD) | EP_F_PLAIN_REPLY),
			    .task_type = c->type,
			    .tenant_id = 1,
			    .task_id = id };

	memset(x, 0, sizeof(*x));
	if (token)
		raw_use_token(&m, token);
	raw_send(fd, to_ss.ss_family == AF_INET6, &m, wire, wire_len, x);
	raw_collect(fd, id, WAIT_MS, x);
}

/* REPLAYS datagrams repeating task @id (with @token if not NULL): header-only ones, or
 * copies of fragment 0 of its request (@wire, as sent). */
static void replays(int fd, const struct acase *c, const uint8_t *wire, uint32_t wire_len,
		    uint64_t id, const struct ep_msg *token, struct exch *x)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = EP_PRIO_DEFAULT,
			    .flags = (uint8_t)((c->flags & EP_F_ZSTD) | EP_F_RETRY |
					       EP_F_PLAIN_REPLY),
			    .task_type = c->type,
			    .tenant_id = 1,
			    .task_id = id };
	uint8_t d[RAW_MTU];
	ssize_t len;

	memset(x, 0, sizeof(*x));
	if (token)
		raw_use_token(&m, token);
	if (c->replay == REPLAY_HEADER) {
		m.flags &= (uint8_t)~EP_F_ZSTD;
		m.frag_count = 1;
		len = ep_encode_hdr(&m, d, sizeof(d));
	} else {
		len = ep_frag_build(&m, wire, wire_len,
				    ep_frag_size_for_mtu(RAW_MTU, to_ss.ss_family == AF_INET6), 0,
				    d, sizeof(d));
	}
	if (len < EP_HDR_LEN)
		return;
	for (int i = 0; i < REPLAYS; i++) {
		struct exch one = { 0 };

		if (send(fd, d, (size_t)len, 0) == len)
			x->out += (uint64_t)len;
		raw_collect(fd, id, REPLAY_GAP_US / 1000, &one);
		x->in += one.in;
		x->dgrams_in += one.dgrams_in;
		if (one.kind) {
			x->kind = one.kind;
			x->status = one.status;
			x->complete = true; /* an answer came (each counted in full) */
		}
		if (one.kind == EP_KIND_RETRY)
			x->retry = one.retry;
	}
}

static double ratio(const struct exch *x)
{
	return x->out ? (double)x->in / (double)x->out : 0;
}

static const char *kind_str(const struct exch *x)
{
	static char s[48];

	if (!x->kind)
		return "no reply";
	if (x->kind == EP_KIND_ERROR) {
		snprintf(s, sizeof(s), "error %s", ep_status_name(x->status));
		return s;
	}
	if (x->kind == EP_KIND_RESPONSE && !x->complete)
		return "response (incomplete)";
	return ep_kind_name(x->kind);
}

/* The wire form of a case's payload: zstd level 19 if asked (the attacker's best). */
static uint8_t *wire_of(const struct acase *c, uint32_t *len)
{
	size_t cap = ZSTD_compressBound(c->len);
	uint8_t *w = malloc(cap ? cap : 1);
	size_t n;

	if (!(c->flags & EP_F_ZSTD)) {
		memcpy(w, c->payload, c->len);
		*len = c->len;
		return w;
	}
	n = ZSTD_compress(w, cap, c->payload, c->len, 19);
	*len = ZSTD_isError(n) ? 0 : (uint32_t)n;
	return w;
}

static void run_case(const struct acase *c)
{
	struct exch u = { 0 }, v = { 0 };
	struct ep_result r = { 0 };
	struct ep_task_opts t = { .type = c->type };
	uint32_t wire_len;
	uint8_t *wire = wire_of(c, &wire_len);
	uint64_t id = next_id++;
	bool lib_ok, validated = false;
	int fd = open_sock(), err;

	if (fd < 0 || !wire_len) {
		tap_begin();
		EXPECT(fd >= 0 && wire_len);
		tap_end("amplification %s: set up", c->name);
		free(wire);
		return;
	}
	if (!c->replay) {
		exchange(fd, c, wire, wire_len, id, NULL, &u);
		if (u.kind == EP_KIND_RETRY) {
			exchange(fd, c, wire, wire_len, id, &u.retry, &v);
			validated = true;
		}
	} else {
		struct exch first;

		/* The task itself (its reply fits its budget), then the replays. */
		exchange(fd, c, wire, wire_len, id, NULL, &first);
		if (first.kind == EP_KIND_RETRY)
			exchange(fd, c, wire, wire_len, id, &first.retry, &first);
		replays(fd, c, wire, wire_len, id, NULL, &u);
		if (u.kind == EP_KIND_RETRY) {
			replays(fd, c, wire, wire_len, id, &u.retry, &v);
			validated = true;
		}
	}
	close(fd);

	/* The library, from its own socket: it answers RETRY itself and gets the result. */
	t.no_compress = !(c->flags & EP_F_ZSTD);
	err = c->replay ? 0 : ep_client_run(cli, &t, c->payload, c->len, &r);
	lib_ok = !err;
	if (table) {
		printf("| %s | %s | %llu | %llu | %s | **%.2f** |\n", c->name, c->what,
		       (unsigned long long)u.out, (unsigned long long)u.in, kind_str(&u),
		       ratio(&u));
		if (validated)
			printf("|  | ... with the token | %llu | %llu | %s | %.2f |\n",
			       (unsigned long long)v.out, (unsigned long long)v.in, kind_str(&v),
			       ratio(&v));
	} else {
		tap_begin();
		EXPECT(u.out > 0);
		EXPECT(ratio(&u) <= max_ratio);
		EXPECT(lib_ok);
		if (validated && !c->replay)
			EXPECT(v.kind == EP_KIND_RESPONSE && v.complete);
		if (!lib_ok)
			tap_diag("library: %s (%s) %s", ep_result_strerror(&r),
				 ep_status_name(r.status), r.msg);
		tap_end("amplification %s, %s: %llu B sent -> %llu B back unvalidated (%s), x%.2f "
			"(limit %.0f); with the token: %s%s x%.2f; library: %s",
			c->name, c->what, (unsigned long long)u.out, (unsigned long long)u.in,
			kind_str(&u), ratio(&u), max_ratio, validated ? "" : "not asked for ",
			validated ? kind_str(&v) : "", ratio(validated ? &v : &u),
			c->replay ? "-"
			: lib_ok  ? "whole result"
				  : "failed");
	}
	ep_result_free(&r);
	free(wire);
}

/* --- the cases ---------------------------------------------------------------------- */

static uint8_t *image(uint32_t w, uint32_t h, uint16_t a0, uint16_t a1, uint32_t a2, uint32_t *len,
		      int fill)
{
	struct ep_img_hdr hdr = { htons((uint16_t)w), htons((uint16_t)h), htons(a0),
				  htons(a1),	      htonl(a2),	  0 };
	uint8_t *p;

	*len = (uint32_t)sizeof(hdr) + w * h;
	p = calloc(1, *len);
	memcpy(p, &hdr, sizeof(hdr));
	for (uint32_t i = 0; i < w * h; i++) {
		uint32_t x = i % w, y = i / w;

		switch (fill) {
		case 0: /* random */
			p[sizeof(hdr) + i] = (uint8_t)rnd();
			break;
		case 1: /* a grid of dots, 3 px apart: many blobs */
			p[sizeof(hdr) + i] = x % 3 == 1 && y % 3 == 1 ? 255 : 0;
			break;
		default: /* flat grey */
			p[sizeof(hdr) + i] = 128;
		}
	}
	return p;
}

/* @c with image()'s task of the arguments given as its payload. */
static struct acase img_case(struct acase c, uint32_t w, uint32_t h, uint16_t a0, uint16_t a1,
			     uint32_t a2, int fill)
{
	c.payload = image(w, h, a0, a1, a2, &c.len, fill);
	return c;
}

static uint8_t *matmul(uint32_t n, uint32_t k, uint32_t m, uint32_t *len)
{
	uint8_t *p = tool_matmul_zeros(n, k, m, len);

	for (uint32_t i = 0; p && i < n * k + k * m; i++) {
		float v = (float)(rnd() % 20001) / 10000.0f - 1.0f;

		memcpy(p + 16 + 4 * i, &v, 4); /* little-endian host */
	}
	return p;
}

static uint8_t *bytes(uint32_t len, int fill, uint32_t prefix_zstd_level)
{
	uint32_t off = prefix_zstd_level ? 4 : 0;
	uint8_t *p = calloc(1, len + off);

	if (off)
		p[0] = (uint8_t)prefix_zstd_level;
	for (uint32_t i = 0; i < len; i++)
		p[off + i] = fill == 0	 ? (uint8_t)rnd()
			     : fill == 1 ? 0
			     : fill == 2 ? (uint8_t) "ACGT"[rnd() % 4]
					 : (uint8_t)(rnd() % 8);
	return p;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: eptest-amp --to ADDR [--infer-in N] [--max-ratio R] "
		   "[--table] [--only HANDLER]\n");
}

int main(int argc, char **argv)
{
	struct ep_client_opts co = {
		.mtu = MTU, .zstd_level = 3, .timeout_ms = 1000, .max_attempts = 3
	};
	struct acase cases[16];
	const char *only = NULL;
	unsigned int n = 0;
	long infer_in = 0;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("infer-in", infer_in, 0, 4096),
		OPT_REAL("max-ratio", max_ratio),
		OPT_FLAG("table", table),
		OPT_STR("only", only),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc)
		return 2;
	if (!to || tool_addr(to, EP_DEFAULT_PORT, &to_ss, &to_len))
		return 2;
	cli = tool_session(&co, to);
	rnd_seed(17);
	next_id = 0xa3a3000000000000ull | (uint64_t)getpid() << 20;

#define CASE(...)			 cases[n++] = (struct acase){ __VA_ARGS__ }
	/* IMG_CASE((w, h, a0, a1, a2, fill), fields...): a case whose payload is image()'s. */
#define IMG_CASE(img, ...)		 cases[n++] = img_case((struct acase){ __VA_ARGS__ }, IMG_ARGS img)
#define IMG_ARGS(w, h, a0, a1, a2, fill) w, h, a0, a1, a2, fill
	CASE(.name = "echo", .what = "1 MiB of zeros, zstd", .type = EP_TT_ECHO, .flags = EP_F_ZSTD,
	     .payload = bytes(1 << 20, 1, 0), .len = 1 << 20);
	CASE(.name = "echo", .what = "64 KiB of 3-bit symbols, zstd (compresses 2.6:1)",
	     .type = EP_TT_ECHO, .flags = EP_F_ZSTD, .payload = bytes(64 << 10, 3, 0),
	     .len = 64 << 10);
	CASE(.name = "checksum", .what = "1 KiB", .type = EP_TT_CHECKSUM,
	     .payload = bytes(1024, 0, 0), .len = 1024);
	CASE(.name = "zstd", .what = "level 1 of 256 KiB of ACGT, sent at level 19",
	     .type = EP_TT_ZSTD, .flags = EP_F_ZSTD, .payload = bytes(256 << 10, 2, 1),
	     .len = (256 << 10) + 4);
	IMG_CASE((64, 64, 2048, 2048, 0, 0), .name = "resize", .what = "random 64x64 -> 2048x2048",
		 .type = EP_TT_RESIZE);
	IMG_CASE((2048, 2048, 64, 0, 0, 2), .name = "box_blur", .what = "flat 2048x2048 r=64, zstd",
		 .type = EP_TT_BOX_BLUR, .flags = EP_F_ZSTD);
	IMG_CASE((1024, 1024, 200, 0, 0, 2), .name = "gauss_blur",
		 .what = "flat 1024x1024 sigma 2, zstd", .type = EP_TT_GAUSS_BLUR,
		 .flags = EP_F_ZSTD);
	IMG_CASE((2048, 2048, 0, 0, 0, 2), .name = "sobel", .what = "flat 2048x2048, zstd",
		 .type = EP_TT_SOBEL, .flags = EP_F_ZSTD);
	IMG_CASE((2048, 2048, 100, 0, 0, 2), .name = "threshold", .what = "flat 2048x2048, zstd",
		 .type = EP_TT_THRESHOLD, .flags = EP_F_ZSTD);
	IMG_CASE((1024, 1024, 100, 0, 0, 1), .name = "blobs",
		 .what = "a grid of 1-pixel dots 1024x1024, zstd", .type = EP_TT_BLOBS,
		 .flags = EP_F_ZSTD);
	CASE(.name = "matmul", .what = "1024x1 * 1x1024, random", .type = EP_TT_MATMUL);
	cases[n - 1].payload = matmul(1024, 1, 1024, &cases[n - 1].len);
	if (infer_in) {
		CASE(.name = "infer", .what = "the node's model", .type = EP_TT_INFER);
		cases[n - 1].len = 8 + 4 * (uint32_t)infer_in;
		cases[n - 1].payload = calloc(1, cases[n - 1].len);
		((uint32_t *)cases[n - 1].payload)[0] = htonl((uint32_t)infer_in);
	}
	CASE(.name = "cache replay", .what = "20 header-only replays of a 256 KiB echo result",
	     .type = EP_TT_ECHO, .payload = bytes(256 << 10, 0, 0), .len = 256 << 10,
	     .replay = REPLAY_HEADER);
	CASE(.name = "cache replay",
	     .what = "20 copies of fragment 0 of a 256 KiB echo task, "
		     "15 ms apart",
	     .type = EP_TT_ECHO, .payload = bytes(256 << 10, 0, 0), .len = 256 << 10,
	     .replay = REPLAY_FRAG0);
#undef CASE
#undef IMG_CASE
#undef IMG_ARGS

	if (table) {
		printf("| handler | request | bytes sent | bytes back | answer | back / sent |\n");
		printf("|---|---|---:|---:|---|---:|\n");
	}
	for (unsigned int i = 0; i < n; i++) {
		if (!only || strstr(cases[i].name, only))
			run_case(&cases[i]);
		free(cases[i].payload);
	}
	ep_client_close(cli);
	return table ? 0 : tap_finish();
}
