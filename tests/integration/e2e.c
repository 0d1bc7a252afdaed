// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-e2e - end-to-end checks against a running edgeplane runtime, from another
 * network namespace (tests/integration/test_runtime.sh sets both up). TAP on stdout.
 *
 *   eptest-e2e --to ADDR --images DIR              handlers, retries, big tasks, hostile input
 *                                                  (ADDR: IPv4 or IPv6)
 *   eptest-e2e --to ADDR --images DIR --drain PID  SIGTERM while tasks are queued
 *
 * Handler results through the network must equal the same handler run here, in process
 * (tests/unit/test_handlers.c checks the handlers against independent references).
 * The count plugin (tests/plugins) tells how often a task ran and whether it arrived whole.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <zstd.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "edgeplane/reasm.h"
#include "handlers/builtin.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"
#include "../tools/opts.h"
#include "../tools/session.h"

#define COUNT_TYPE 900
#define MTU	   1500

static const char *to, *images;
static struct ep_client *cli;

/* --- helpers ------------------------------------------------------------------------ */

struct image {
	uint8_t *px;
	uint32_t w, h;
};

static bool load_image(const char *name, struct image *im)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", images, name);
	return !ep_png_read_gray(path, &im->px, &im->w, &im->h);
}

static uint8_t *img_task(const struct image *im, uint16_t a0, uint16_t a1, uint32_t a2,
			 uint32_t *len)
{
	struct ep_img_hdr h = {
		htons((uint16_t)im->w), htons((uint16_t)im->h), htons(a0), htons(a1), htonl(a2), 0
	};
	uint8_t *t;

	*len = (uint32_t)sizeof(h) + im->w * im->h;
	t = malloc(*len);
	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), im->px, (size_t)im->w * im->h);
	return t;
}

static void no_log(int level, const char *fmt, ...)
{
}

/* Run built-in @h on one task here; returns its status and a malloc'd result. */
static uint16_t run_local(const struct ep_handler *h, const uint8_t *data, uint32_t len,
			  uint8_t **out, uint32_t *out_len)
{
	struct ep_handler_env env = { .abi_version = EP_HANDLER_ABI_VERSION,
				      .type = h->default_type,
				      .max_task_len = 8u << 20,
				      .log = no_log };
	struct ep_hreq rq = { .data = data, .len = len, .type = h->default_type, .priority = 3 };
	struct ep_hres rs = { 0 };
	void *state = NULL;

	*out = NULL;
	*out_len = 0;
	if (h->init && h->init(&env, &state))
		return EP_ST_INTERNAL;
	rs.cap = h->out_size(state, &rq);
	rs.data = malloc(rs.cap ? rs.cap : 1);
	if (h->run(state, &rq, &rs, 1))
		rs.status = EP_ST_HANDLER_FAILED;
	if (h->fini)
		h->fini(state);
	*out = rs.data;
	*out_len = rs.len;
	return rs.status;
}

static int remote(uint16_t type, const void *data, uint32_t len, struct ep_result *r)
{
	struct ep_task_opts t = { .type = type };

	return ep_client_run(cli, &t, data, len, r);
}

/* The same task here and there: identical result bytes. */
static void check_same(const char *name, const struct ep_handler *h, const uint8_t *task,
		       uint32_t len)
{
	struct ep_result r;
	uint8_t *local = NULL;
	uint32_t local_len = 0;
	uint16_t st;
	int err;

	tap_begin();
	st = run_local(h, task, len, &local, &local_len);
	err = remote(h->default_type, task, len, &r);
	EXPECT_EQ(st, 0);
	EXPECT_EQ(err, 0);
	if (err)
		tap_diag("remote: %s status %s %s", strerror(-err), ep_status_name(r.status),
			 r.msg);
	EXPECT_EQ(r.len, local_len);
	EXPECT(!err && r.len == local_len && (!local_len || !memcmp(r.data, local, local_len)));
	tap_end("%s: %u-byte task, result of %u bytes equals the handler run locally%s", name, len,
		local_len, r.compressed ? " (came compressed)" : "");
	ep_result_free(&r);
	free(local);
}

/* --- raw exchanges: fragments in any order, replies by hand ------------------------- */

struct raw {
	int fd;
	uint32_t fs;
	struct ep_reasm *reasm;
	struct ep_peer edge;
	uint8_t buf[65536];
};

static int raw_open(struct raw *r)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(EP_DEFAULT_PORT) };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(EP_DEFAULT_PORT) };
	struct ep_reasm_cfg rc = { .max_tasks = 16,
				   .max_bytes = 64u << 20,
				   .max_src_tasks = 16,
				   .max_src_bytes = 64u << 20,
				   .max_task_len = 16u << 20,
				   .timeout_ns = 5000000000ull };
	struct sockaddr *to_sa = (struct sockaddr *)&sa;
	socklen_t to_len = sizeof(sa);
	int rcv = 16 << 20;

	if (inet_pton(AF_INET, to, &sa.sin_addr) != 1) { /* else IPv6 */
		if (inet_pton(AF_INET6, to, &sa6.sin6_addr) != 1)
			return -EINVAL;
		to_sa = (struct sockaddr *)&sa6;
		to_len = sizeof(sa6);
	}
	r->fd = socket(to_sa->sa_family, SOCK_DGRAM, 0);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (r->fd < 0 || connect(r->fd, to_sa, to_len))
		return -errno;
	ep_peer_from_sockaddr(&r->edge, to_sa);
	r->fs = ep_frag_size_for_mtu(MTU, to_sa->sa_family == AF_INET6);
	r->reasm = ep_reasm_new(&rc);
	return r->reasm ? 0 : -ENOMEM;
}

static void raw_close(struct raw *r)
{
	close(r->fd);
	ep_reasm_free(r->reasm);
}

/* Send fragments @idx[0..n) of a task, pausing now and then so the receive ring keeps up. */
static void raw_send(struct raw *r, const struct ep_msg *m, const uint8_t *data, uint32_t len,
		     const uint32_t *idx, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t d[MTU];
		ssize_t k = ep_frag_build(m, data, len, r->fs, idx[i], d, sizeof(d));

		if (k > 0)
			send(r->fd, d, (size_t)k, 0);
		if (i % 128 == 127)
			usleep(300);
	}
}

/* Wait for the reply to @id. Returns 0 and the reply, or -ETIMEDOUT. */
static int raw_reply(struct raw *r, uint64_t id, int timeout_ms, struct ep_msg *m, uint8_t **data,
		     uint32_t *len)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		struct ep_reasm_task whole;
		const uint8_t *payload;
		struct ep_msg d;
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms -
		       ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		n = recv(r->fd, r->buf, sizeof(r->buf), 0);
		/* A TASK_ACK (the node's acknowledgement of a request in reassembly,
		 * docs/protocol.md 5.1) is no reply: this client resends whole tasks. */
		if (n <= 0 || ep_decode(r->buf, (size_t)n, 16u << 20, &d, &payload, NULL) ||
		    d.task_id != id || d.kind == EP_KIND_TASK_ACK)
			continue;
		if (d.frag_count == 1) {
			*m = d;
			*data = malloc(d.payload_len + 1u);
			memcpy(*data, payload, d.payload_len);
			*len = d.payload_len;
			return 0;
		}
		if (ep_reasm_add(r->reasm, &r->edge, &d, payload, 0, NULL, &whole) == 1) {
			*m = whole.msg;
			*data = whole.data;
			*len = whole.len;
			return 0;
		}
	}
}

/* A one-shot raw task: all fragments in order; the reply's status (or -1 on silence). A
 * RETRY (the node wants the address validated) is answered with its token, as a client
 * must (docs/protocol.md 3.7). */
static int raw_task(struct raw *r, uint64_t id, uint16_t type, uint8_t flags, const uint8_t *data,
		    uint32_t len, int timeout_ms, uint8_t **out, uint32_t *out_len)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .flags = flags,
			    .task_type = type,
			    .tenant_id = 1,
			    .task_id = id };
	uint32_t count = ep_frag_count(len, r->fs), *idx = calloc(count, sizeof(*idx));
	struct ep_msg rm;
	uint8_t *d = NULL;
	uint32_t dl = 0;
	int err;

	for (uint32_t i = 0; i < count; i++)
		idx[i] = i;
	for (int validations = 0;; validations++) {
		raw_send(r, &m, data, len, idx, count);
		err = raw_reply(r, id, timeout_ms, &rm, &d, &dl);
		if (err || rm.kind != EP_KIND_RETRY || validations == 3)
			break;
		free(d);
		d = NULL;
		m.flags |= EP_F_TOKEN | EP_F_RETRY;
		m.auth_key_id = rm.auth_key_id;
		memcpy(m.auth_tag, rm.auth_tag, sizeof(m.auth_tag));
	}
	free(idx);
	if (err || rm.kind == EP_KIND_RETRY) { /* silence, or RETRY after RETRY */
		free(d);
		return -1;
	}
	if (out) {
		*out = d;
		*out_len = dl;
	} else {
		free(d);
	}
	return rm.kind == EP_KIND_ERROR ? rm.status : 0;
}

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- the cases ---------------------------------------------------------------------- */

/* An image task of handler @h on camera.png or coins.png, with img_task()'s arguments. */
struct img_case {
	const char *name;
	const struct ep_handler *h;
	bool coins;
	uint16_t a0, a1;
	uint32_t a2;
};

static const struct img_case img_cases[] = {
	{ "resize camera 512x512 -> 200x150", &ep_resize_handler, false, 200, 150, 0 },
	{ "box blur camera r=3", &ep_box_blur_handler, false, 3, 0, 0 },
	{ "gaussian blur coins sigma 2.5", &ep_gauss_blur_handler, true, 250, 0, 0 },
	{ "sobel camera", &ep_sobel_handler, false, 0, 0, 0 },
	{ "threshold coins (Otsu)", &ep_threshold_handler, true, EP_IMG_OTSU, 0, 0 },
	{ "blobs coins", &ep_blobs_handler, true, 120, 300,
	  EP_BLOBS_F_BLUR | EP_BLOBS_F_CONN8 | EP_BLOBS_F_NO_BORDER },
};

static void test_handlers(void)
{
	struct image cam, coins;
	uint8_t *t, *raw;
	uint32_t len;

	if (!load_image("camera.png", &cam) || !load_image("coins.png", &coins)) {
		tap_skip("handlers on real images",
			 "build/data/images is missing (make fetches it)");
		return;
	}
	raw = malloc((size_t)cam.w * cam.h);
	memcpy(raw, cam.px, (size_t)cam.w * cam.h);
	check_same("echo camera.png pixels", &ep_echo_handler, raw, cam.w * cam.h);
	check_same("checksum camera.png pixels", &ep_checksum_handler, raw, cam.w * cam.h);

	for (size_t i = 0; i < sizeof(img_cases) / sizeof(img_cases[0]); i++) {
		const struct img_case *c = &img_cases[i];

		t = img_task(c->coins ? &coins : &cam, c->a0, c->a1, c->a2, &len);
		check_same(c->name, c->h, t, len);
		free(t);
	}

	{ /* zstd: the result decompresses to the input */
		uint32_t n = cam.w * cam.h;
		uint8_t *z = malloc(n + 4);
		struct ep_result r;
		size_t dn;
		uint8_t *back = malloc(n);

		z[0] = 3, z[1] = z[2] = z[3] = 0;
		memcpy(z + 4, cam.px, n);
		tap_begin();
		EXPECT_EQ(remote(EP_TT_ZSTD, z, n + 4, &r), 0);
		dn = ZSTD_decompress(back, n, r.data, r.len);
		EXPECT_EQ(dn, n);
		EXPECT(dn == n && !memcmp(back, cam.px, n));
		tap_end("zstd camera: %u -> %u bytes, decompresses to the input", n, r.len);
		ep_result_free(&r);
		free(z);
		free(back);
	}
	{ /* matmul 64x48 * 48x32 */
		uint32_t n = 64, k = 48, m = 32;
		uint32_t len2 = 16 + 4 * (n * k + k * m);
		uint8_t *mm = calloc(1, len2);

		rnd_seed(7);
		((uint32_t *)mm)[0] = htonl(n), ((uint32_t *)mm)[1] = htonl(k);
		((uint32_t *)mm)[2] = htonl(m);
		for (uint32_t i = 0; i < n * k + k * m; i++) {
			float v = (float)(rnd() % 2001) / 1000.0f - 1.0f;

			memcpy(mm + 16 + 4 * i, &v, 4); /* little-endian host */
		}
		check_same("matmul 64x48 * 48x32", &ep_matmul_handler, mm, len2);
		free(mm);
	}
	free(raw);
	free(cam.px);
	free(coins.px);
}

static void test_retry_and_big(void)
{
	static uint8_t big[4u << 20];
	struct raw r = { 0 };
	uint8_t *out = NULL, *out2 = NULL;
	uint32_t ol = 0, ol2 = 0, count, n = 0, *idx;
	uint64_t base = 0x5151000000000000ull | (uint64_t)getpid() << 16;
	int st;

	if (raw_open(&r)) {
		tap_skip("retries and big tasks", "no socket");
		return;
	}
	/* A retried task id is answered from the result cache: same answer, no second run. */
	tap_begin();
	st = raw_task(&r, base + 1, COUNT_TYPE, 0, (const uint8_t *)"abc", 3, 2000, &out, &ol);
	EXPECT_EQ(st, 0);
	usleep(20000); /* a retry comes after a timeout, not inside the 10 ms resend gap */
	st = raw_task(&r, base + 1, COUNT_TYPE, EP_F_RETRY, (const uint8_t *)"abc", 3, 2000, &out2,
		      &ol2);
	EXPECT_EQ(st, 0);
	EXPECT(ol == 12 && ol2 == 12 && !memcmp(out, out2, 12));
	free(out2);
	out2 = NULL;
	ol2 = 0;
	st = raw_task(&r, base + 2, COUNT_TYPE, 0, (const uint8_t *)"abc", 3, 2000, &out2, &ol2);
	EXPECT_EQ(st, 0);
	EXPECT(ol == 12 && ol2 == 12 && be64_at(out2) == be64_at(out) + 1);
	tap_end("a retried task id gets the cached result; the handler ran once (run %llu, "
		"next task run %llu)",
		ol == 12 ? (unsigned long long)be64_at(out) : 0,
		ol2 == 12 ? (unsigned long long)be64_at(out2) : 0);

	/* 4 MB in ~3000 fragments, shuffled, 10 % sent twice: completes once, intact. */
	rnd_seed(11);
	for (uint32_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)rnd();
	count = ep_frag_count(sizeof(big), r.fs);
	idx = calloc(2 * (size_t)count, sizeof(*idx));
	for (uint32_t i = 0; i < count; i++) {
		idx[n++] = i;
		if (rnd() % 10 == 0)
			idx[n++] = i;
	}
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(rnd() % i), x = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = x;
	}
	{
		struct ep_msg m = { .kind = EP_KIND_REQUEST,
				    .priority = 3,
				    .task_type = COUNT_TYPE,
				    .tenant_id = 1,
				    .task_id = base + 3 };
		struct ep_msg rm;
		uint8_t *d = NULL;
		uint32_t dl = 0;
		int err;

		tap_begin();
		raw_send(&r, &m, big, sizeof(big), idx, n);
		err = raw_reply(&r, base + 3, 5000, &rm, &d, &dl);
		EXPECT_EQ(err, 0);
		EXPECT_EQ(rm.kind, EP_KIND_RESPONSE);
		EXPECT_EQ(dl, 12);
		if (!err && rm.kind == EP_KIND_ERROR)
			tap_diag("the 4 MiB task got %s", ep_status_name(rm.status));
		if (!err && dl == 12) {
			EXPECT_EQ(be64_at(d), be64_at(out2) + 1);
			EXPECT_EQ((uint32_t)(d[8] << 24 | d[9] << 16 | d[10] << 8 | d[11]),
				  (uint32_t)crc32(0, big, sizeof(big)));
		}
		tap_end("4 MiB task in %u fragments, shuffled with %u duplicates: ran once, intact",
			count, n - count);
		free(d);
	}
	free(idx);
	free(out);
	free(out2);
	raw_close(&r);
}

static void echo_still_works(const char *after)
{
	struct ep_result r;

	tap_begin();
	EXPECT_EQ(remote(EP_TT_ECHO, "ok", 2, &r), 0);
	EXPECT(r.len == 2 && !memcmp(r.data, "ok", 2));
	tap_end("the runtime still serves after %s", after);
	ep_result_free(&r);
}

/* A zstd frame that inflates to @size zero bytes; @pledge: declare the size in it. */
static uint8_t *bomb(size_t size, bool pledge, uint32_t *len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	static uint8_t zeros[1 << 20];
	size_t cap = 1 << 20, left = size;
	uint8_t *out = malloc(cap);
	ZSTD_outBuffer ob = { out, cap, 0 };

	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, pledge);
	if (pledge)
		ZSTD_CCtx_setPledgedSrcSize(c, size);
	while (left) {
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
		ZSTD_inBuffer ib = { zeros, n, 0 };

		left -= n;
		while (ib.pos < ib.size)
			ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
	}
	while (ZSTD_compressStream2(c, &ob, &(ZSTD_inBuffer){ zeros, 0, 0 }, ZSTD_e_end))
		;
	ZSTD_freeCCtx(c);
	*len = (uint32_t)ob.pos;
	return out;
}

static void test_hostile(void)
{
	uint64_t base = 0x4242000000000000ull | (uint64_t)getpid() << 16;
	struct image cam = { 0 };
	struct raw r = { 0 };
	uint8_t *t;
	uint32_t len;
	int st;

	if (raw_open(&r)) {
		tap_skip("hostile tasks", "no socket");
		return;
	}
	if (load_image("camera.png", &cam)) {
		tap_begin();
		t = img_task(&cam, 0, 0, 0, &len);
		st = raw_task(&r, base + 1, EP_TT_SOBEL, 0, t, len - 1, 3000, NULL, NULL);
		EXPECT_EQ(st, EP_ST_INVALID_INPUT);
		tap_end("an image task one byte short gets invalid_input (got %s)",
			st < 0 ? "no reply" : ep_status_name((unsigned int)st));
		free(t);
		free(cam.px);
		echo_still_works("a bad length");
	}

	tap_begin();
	t = bomb(64u << 20, true, &len);
	st = raw_task(&r, base + 2, EP_TT_ECHO, EP_F_ZSTD, t, len, 3000, NULL, NULL);
	EXPECT_EQ(st, EP_ST_TOO_LARGE);
	tap_end("a %u-byte zstd frame declaring 64 MiB gets too_large (got %s)", len,
		st < 0 ? "no reply" : ep_status_name((unsigned int)st));
	free(t);
	tap_begin();
	t = bomb(64u << 20, false, &len);
	st = raw_task(&r, base + 3, EP_TT_ECHO, EP_F_ZSTD, t, len, 5000, NULL, NULL);
	EXPECT_EQ(st, EP_ST_TOO_LARGE);
	tap_end("a %u-byte zstd frame of unstated size inflating to 64 MiB gets too_large "
		"(got %s)",
		len, st < 0 ? "no reply" : ep_status_name((unsigned int)st));
	free(t);
	echo_still_works("two decompression bombs");

	tap_begin();
	st = raw_task(&r, base + 4, EP_TT_ECHO, EP_F_ZSTD, (const uint8_t *)"not zstd at all", 15,
		      3000, NULL, NULL);
	EXPECT_EQ(st, EP_ST_DECOMPRESS_FAILED);
	tap_end("a corrupt zstd payload gets decompress_failed (got %s)",
		st < 0 ? "no reply" : ep_status_name((unsigned int)st));

	tap_begin();
	st = raw_task(&r, base + 5, 4321, 0, (const uint8_t *)"x", 1, 3000, NULL, NULL);
	EXPECT_EQ(st, EP_ST_UNKNOWN_TYPE);
	tap_end("an unknown task type gets unknown_type (got %s)",
		st < 0 ? "no reply" : ep_status_name((unsigned int)st));
	echo_still_works("an unknown type");

	{ /* fragments 0 and 1 of 3: the task times out at the edge */
		static uint8_t data[3000];
		struct ep_msg m = { .kind = EP_KIND_REQUEST,
				    .priority = 3,
				    .task_type = EP_TT_ECHO,
				    .tenant_id = 1,
				    .task_id = base + 6 };
		uint32_t idx[2] = { 0, 1 };
		struct ep_msg rm = { 0 };
		uint8_t *d = NULL;
		uint32_t dl;
		int err;

		tap_begin();
		raw_send(&r, &m, data, sizeof(data), idx, 2);
		err = raw_reply(&r, base + 6, 3000, &rm, &d, &dl);
		EXPECT_EQ(err, 0);
		EXPECT_EQ(rm.kind, EP_KIND_ERROR);
		EXPECT_EQ(rm.status, EP_ST_TIMEOUT);
		tap_end("a task missing its last fragment gets timeout (got %s)",
			err ? "no reply" : ep_status_name(rm.status));
		free(d);
	}
	echo_still_works("an incomplete task");
	raw_close(&r);
}

/* Queue slow tasks, SIGTERM the runtime, and expect every one of them answered. */
static void test_drain(pid_t pid)
{
	struct image cam;
	uint64_t id[8];
	int done = 0, ok = 0;
	uint8_t *t;
	uint32_t len;

	if (!load_image("camera.png", &cam)) {
		tap_skip("SIGTERM drains", "build/data/images is missing");
		return;
	}
	t = img_task(&cam, 2000, 0, 0, &len); /* gaussian, sigma 20: slow */
	for (int i = 0; i < 8; i++) {
		struct ep_task_opts o = { .type = EP_TT_GAUSS_BLUR, .no_compress = 1 };

		ep_client_submit(cli, &o, t, len, NULL, NULL, &id[i]);
	}
	/* No callbacks: the session's counters tell how the tasks ended. */
	ep_client_flush(cli);
	/* Drive the session until its pacer has sent every fragment, then 20 ms more. */
	for (int i = 0; i < 2000; i++) {
		struct ep_client_link_stats ls = { .sz = sizeof(ls) };

		ep_client_poll(cli, 1);
		if (!ep_client_get_link_stats(cli, &ls) && !ls.frags_queued)
			break;
	}
	for (int i = 0; i < 20; i++)
		ep_client_poll(cli, 1);
	kill(pid, SIGTERM);
	for (int i = 0; i < 400 && ep_client_inflight(cli); i++)
		ep_client_poll(cli, 10);
	{
		struct ep_client_stats st;

		ep_client_get_stats(cli, &st);
		done = (int)(st.completed + st.failed);
		ok = (int)st.completed;
	}
	tap_begin();
	EXPECT_EQ(ep_client_inflight(cli), 0);
	EXPECT_EQ(ok, 8);
	tap_end("SIGTERM with 8 slow tasks queued: %d answered, %d of them results", done, ok);
	free(t);
	free(cam.px);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-e2e --to ADDR --images DIR [--drain PID]\n");
}

int main(int argc, char **argv)
{
	struct ep_client_opts co = {
		.mtu = MTU, .zstd_level = 3, .timeout_ms = 500, .max_attempts = 4
	};
	pid_t drain = 0;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_STR("images", images),
		OPT_NUM("drain", drain, 1, INT32_MAX),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc || !to || !images) {
		usage(stderr);
		return 2;
	}
	cli = tool_session(&co, to);
	if (drain) {
		test_drain(drain);
	} else {
		test_handlers();
		test_retry_and_big();
		test_hostile();
	}
	ep_client_close(cli);
	return tap_finish();
}
