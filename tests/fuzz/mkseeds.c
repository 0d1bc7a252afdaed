// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mkseeds DIR - write the binary seed corpora of the fuzz targets into DIR/<target>/:
 * the worked examples of docs/protocol.md and the other message kinds (codec), fragment
 * sequences (reasm), load reports (report), Ethernet frames (frame), replies (client),
 * tasks for every built-in handler (handler_*, runtime), model files (model) and PNG
 * files of every colour type (png). Each seed is in its target's input format (see the
 * comment at the top of each tests/fuzz/fuzz_*.c). Text seeds (configurations, API
 * requests) are committed in tests/fuzz/corpus/ instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "edgeplane/codec.h"
#include "edgeplane/fcodec.h"
#include "../lib/doc.h"
#include "edgeplane/model.h"
#include "edgeplane/payload.h"
#include "../lib/pkt.h"
#include "../lib/msg.h"

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* A growing byte buffer. */
struct buf {
	uint8_t b[1 << 16];
	size_t n;
};

static void add(struct buf *b, const void *p, size_t len)
{
	if (b->n + len > sizeof(b->b)) {
		fprintf(stderr, "mkseeds: seed too large\n");
		exit(1);
	}
	memcpy(b->b + b->n, p, len);
	b->n += len;
}

static void add8(struct buf *b, uint8_t v)
{
	add(b, &v, 1);
}

static void add16(struct buf *b, uint16_t v)
{
	add8(b, (uint8_t)(v >> 8));
	add8(b, (uint8_t)v);
}

static void add32(struct buf *b, uint32_t v)
{
	add16(b, (uint16_t)(v >> 16));
	add16(b, (uint16_t)v);
}

static void addf(struct buf *b, float f) /* little-endian float32 */
{
	uint32_t u;

	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		add8(b, (uint8_t)(u >> (8 * i)));
}

/* One datagram: header from @m, @len bytes of payload, as fragment @index of @frag. */
static size_t dgram(const struct ep_msg *m, const void *payload, uint32_t len, uint32_t frag,
		    uint32_t index, uint8_t *out, size_t cap)
{
	ssize_t n = ep_frag_build(m, payload, len, frag, index, out, cap);

	if (n < 0) {
		fprintf(stderr, "mkseeds: ep_frag_build: %s\n", strerror((int)-n));
		exit(1);
	}
	return (size_t)n;
}

static const struct ep_msg req =
	EP_TEST_MSG(EP_KIND_REQUEST, .task_id = 42, .size_hint_kib = 4, .deadline_ms = 100);

static void codec_seeds(void)
{
	static const char *const names[] = { "request", "response", "error",
					     "frag0",	"frag1",    "frag2" };
	static uint8_t big[2500], out[1200];
	struct ep_msg m;
	uint8_t doc[256];
	size_t n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t got = doc_example(names[i], doc, sizeof(doc));

		if (got <= 0) {
			fprintf(stderr, "mkseeds: docs/protocol.md has no example '%s'\n",
				names[i]);
			exit(1);
		}
		n = (size_t)got;
		if (i >= 3) { /* the fragments' headers, with their payloads */
			m = (struct ep_msg)EP_TEST_FRAG_MSG;
			n = dgram(&m, big, sizeof(big), 1000, (uint32_t)i - 3, out, sizeof(out));
			put("codec", names[i], out, n);
			continue;
		}
		put("codec", names[i], doc, n);
	}
	/* Acknowledgements (5.1): the worked examples, and their payloads alone. */
	for (size_t i = 0; i < 2; i++) {
		static const char *const acks[] = { "task-ack", "result-ack" };
		static const char *const bare[] = { "task-ack-payload", "result-ack-payload" };
		ssize_t got = doc_example(acks[i], doc, sizeof(doc));

		if (got <= EP_HDR_LEN) {
			fprintf(stderr, "mkseeds: docs/protocol.md has no example '%s'\n", acks[i]);
			exit(1);
		}
		put("codec", acks[i], doc, (size_t)got);
		put("codec", bare[i], doc + EP_HDR_LEN, (size_t)got - EP_HDR_LEN);
	}
	m = (struct ep_msg){ .kind = EP_KIND_PING, .priority = 3, .task_id = 1 };
	put("codec", "ping", out, dgram(&m, NULL, 0, 1400, 0, out, sizeof(out)));
	m = (struct ep_msg){ .kind = EP_KIND_PONG, .priority = 3, .task_id = 1, .load_pct = 12 };
	put("codec", "pong", out, dgram(&m, big, 48, 1400, 0, out, sizeof(out)));
	m = (struct ep_msg){ .kind = EP_KIND_CANCEL, .priority = 3, .task_id = 42 };
	put("codec", "cancel", out, dgram(&m, NULL, 0, 1400, 0, out, sizeof(out)));
	m = (struct ep_msg){ .kind = EP_KIND_RETRY,
			     .priority = 3,
			     .task_id = 42,
			     .task_type = 1,
			     .flags = EP_F_TOKEN,
			     .auth_key_id = 0x1234,
			     .auth_tag = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					   16 } };
	put("codec", "retry", out, dgram(&m, NULL, 0, 1400, 0, out, sizeof(out)));
	m = req;
	m.flags = EP_F_TOKEN | EP_F_PLAIN_REPLY | EP_F_RETRY;
	m.auth_key_id = 7;
	m.reply_mtu = 20;
	put("codec", "request-token", out, dgram(&m, "hello", 5, 1400, 0, out, sizeof(out)));
	m = (struct ep_msg){ .kind = EP_KIND_LOAD_REPORT, .priority = 3 };
	put("codec", "load-report", out, dgram(&m, big, 72, 1400, 0, out, sizeof(out)));
}

/* reasm: limits, then fragments of one 3000-byte task at L = 1000 (op 0). */
static void reasm_frag(struct buf *b, uint8_t src_op, uint8_t id, uint16_t index)
{
	add8(b, src_op); /* op 0, source in bits 4-5 */
	add8(b, id);
	add16(b, 3000); /* total */
	add8(b, 0);	/* shift */
	add16(b, 999);	/* fragment size - 1 */
	add16(b, index);
}

static void reasm_seeds(void)
{
	static const uint8_t limits[] = { 15, 255, 7, 255, 24, 64, 100, 16 };
	uint8_t out[EP_HDR_LEN + 1000];
	struct buf b = { .n = 0 };
	struct ep_msg m = req;

	add(&b, limits, sizeof(limits));
	for (uint16_t i = 0; i < 3; i++)
		reasm_frag(&b, 0x00, 1, i);
	put("reasm", "in-order", b.b, b.n);

	b.n = 0;
	add(&b, limits, sizeof(limits));
	reasm_frag(&b, 0x10, 2, 2);
	reasm_frag(&b, 0x10, 2, 0);
	reasm_frag(&b, 0x10, 2, 0);   /* duplicate */
	reasm_frag(&b, 0x20, 2, 1);   /* another source, same id */
	add8(&b, 2), add16(&b, 5000); /* 5 s pass */
	add8(&b, 3);		      /* expire */
	reasm_frag(&b, 0x10, 2, 1);
	put("reasm", "shuffled-expired", b.b, b.n);

	b.n = 0;
	add(&b, limits, sizeof(limits));
	m.task_id = 3;
	m.frag_count = 2;
	add8(&b, 1); /* a raw datagram */
	add16(&b, (uint16_t)dgram(&m, out, 1500, 1000, 0, out, sizeof(out)));
	add(&b, out, dgram(&m, out, 1500, 1000, 0, out, sizeof(out)));
	put("reasm", "raw", b.b, b.n);
}

static void report_body(struct buf *b, uint32_t id, uint32_t seq, uint32_t ip4, uint16_t port,
			uint32_t cap)
{
	struct ep_load_report r = ep_test_report(id, seq, (uint8_t)id, 800, cap);

	r.ip4 = htonl(ip4);
	r.port = htons(port);
	r.rate = htonl(1000);
	add(b, &r, sizeof(r));
}

static void report_seeds(void)
{
	uint8_t out[EP_HDR_LEN + 72];
	struct buf b = { .n = 0 }, body = { .n = 0 };
	struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT, .priority = 3 };

	/* Registration on, node 1 configured: reports from the right and wrong sources. */
	add8(&b, 0x01 | 0x04);
	for (uint32_t seq = 1; seq <= 3; seq++) {
		add8(&b, 1), add8(&b, 0); /* a report body from 198.18.0.1 */
		report_body(&b, 1, seq, 0xc6120001, 7878, 100);
		add8(&b, 1), add8(&b, 1); /* node 5 registers from 198.18.0.2 */
		report_body(&b, 5, seq, 0xc6120002, 7878, 200);
		add8(&b, 2), add8(&b, 0), add16(&b, 100); /* 100 ms */
		add8(&b, 3), add8(&b, 0);		  /* tick */
	}
	add8(&b, 1), add8(&b, 2); /* node 5 claimed from 198.18.0.3 */
	report_body(&b, 5, 1000, 0xc6120003, 7878, 0xffffffff);
	add8(&b, 2), add8(&b, 0), add16(&b, 2000); /* node 1 and 5 die */
	add8(&b, 3), add8(&b, 0);
	add8(&b, 4), add8(&b, 0), add8(&b, 5); /* drain node 5 */
	put("report", "register-and-die", b.b, b.n);

	/* A raw datagram: the whole LOAD_REPORT as it comes off the wire. */
	report_body(&body, 2, 1, 0xc6120002, 7878, 100);
	b.n = 0;
	add8(&b, 0x01 | 0x08);
	add8(&b, 0), add8(&b, 1);
	add8(&b, (uint8_t)dgram(&m, body.b, 72, 1400, 0, out, sizeof(out)));
	add(&b, out, sizeof(out));
	put("report", "raw-datagram", b.b, b.n);
}

static void frame_seeds(void)
{
	uint8_t dg[EP_HDR_LEN + 5], frame[256];
	struct pkt_spec s = { .dport = EP_DEFAULT_PORT, .payload = dg };
	size_t n;

	s.payload_len = dgram(&req, "hello", 5, 1400, 0, dg, sizeof(dg));
	n = pkt_build(&s, frame, sizeof(frame));
	put("frame", "ipv4", frame, n);
	s.ipv6 = true;
	n = pkt_build(&s, frame, sizeof(frame));
	put("frame", "ipv6", frame, n);
	s.vlan_tags = 2;
	s.ipv6_ext = 2;
	n = pkt_build(&s, frame, sizeof(frame));
	put("frame", "ipv6-qinq-ext", frame, n);
	s.ipv6 = false;
	s.vlan_tags = 1;
	s.ip_opt_len = 8;
	n = pkt_build(&s, frame, sizeof(frame));
	put("frame", "ipv4-vlan-opts", frame, n);
}

/* client: datagrams for pending task 0 (the id is written in by the harness). */
static void client_dgram(struct buf *b, const struct ep_msg *m, const void *payload, uint32_t len,
			 uint32_t frag, uint32_t index, uint8_t which)
{
	uint8_t out[EP_HDR_LEN + 1500];
	size_t n = dgram(m, payload, len, frag, index, out, sizeof(out));

	add16(b, (uint16_t)n);
	add8(b, which);
	add(b, out, n);
}

static void client_seeds(void)
{
	static const char hello[] = "hello hello hello hello hello hello";
	uint8_t hello_zst[128];
	size_t zn = ZSTD_compress(hello_zst, sizeof(hello_zst), hello, sizeof(hello), 19);
	struct ep_msg rsp =
		EP_TEST_MSG(EP_KIND_RESPONSE, .queue_us = 10, .exec_us = 20, .load_pct = 5);
	struct ep_msg err = EP_TEST_MSG(EP_KIND_ERROR, .status = EP_ST_INVALID_INPUT);
	static uint8_t big[3000];
	struct buf b = { .n = 0 };

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	add8(&b, 0);
	client_dgram(&b, &rsp, "HELLO", 5, 1400, 0, 0);
	put("client", "response", b.b, b.n);

	b.n = 0;
	add8(&b, 1);
	for (uint32_t i = 3; i-- > 0;)
		client_dgram(&b, &rsp, big, sizeof(big), 1000, i, 1);
	client_dgram(&b, &err, "bad input", 9, 1400, 0, 0);
	put("client", "fragments-and-error", b.b, b.n);

	b.n = 0;
	add8(&b, 0);
	rsp.flags = EP_F_ZSTD;
	if (ZSTD_isError(zn)) {
		fprintf(stderr, "mkseeds: zstd: %s\n", ZSTD_getErrorName(zn));
		exit(1);
	}
	client_dgram(&b, &rsp, hello_zst, (uint32_t)zn, 1400, 0, 0);
	put("client", "zstd", b.b, b.n);

	b.n = 0;
	add8(&b, 0);
	err.status = EP_ST_OVERLOADED;
	client_dgram(&b, &err, NULL, 0, 1400, 0, 0);
	rsp = (struct ep_msg)EP_TEST_MSG(EP_KIND_RETRY, .flags = EP_F_TOKEN, .auth_key_id = 3,
					 .auth_tag = { 9, 9, 9 });
	client_dgram(&b, &rsp, NULL, 0, 1400, 0, 0);
	rsp = (struct ep_msg){ .kind = EP_KIND_PONG, .priority = 3 };
	client_dgram(&b, &rsp, big, 48, 1400, 0, 0);
	put("client", "overloaded-retry-pong", b.b, b.n);
}

/* --- handler payloads ------------------------------------------------------------------ */

static void img(struct buf *b, uint16_t w, uint16_t h, uint16_t a0, uint16_t a1, uint32_t a2)
{
	add16(b, w), add16(b, h), add16(b, a0), add16(b, a1), add32(b, a2), add32(b, 0);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) /* two bright squares on a dark field */
			add8(b, ((x / 3 + y / 3) & 1) ? 200 : (uint8_t)(x * 4 + y));
}

static void matmul(struct buf *b, uint32_t n, uint32_t k, uint32_t m)
{
	add32(b, n), add32(b, k), add32(b, m), add32(b, 0);
	for (uint32_t i = 0; i < n * k + k * m; i++)
		addf(b, (float)i / 4.0f - 1.0f);
}

static void infer(struct buf *b, uint32_t dim)
{
	add32(b, dim), add32(b, 0);
	for (uint32_t i = 0; i < dim; i++)
		addf(b, (float)i / 8.0f);
}

/* One payload of handler @name (variant @v); false when it has no more variants. */
static bool payload_of(const char *name, int v, struct buf *b)
{
	b->n = 0;
	if (!strcmp(name, "echo") || !strcmp(name, "checksum")) {
		if (v > 1)
			return false;
		add(b, "The quick brown fox jumps over the lazy dog", v ? 43 : 0);
	} else if (!strcmp(name, "resize")) {
		if (v > 1)
			return false;
		img(b, 8, 8, v ? 3 : 16, v ? 5 : 12, 0);
	} else if (!strcmp(name, "box_blur")) {
		if (v > 1)
			return false;
		img(b, 8, 6, v ? 64 : 1, 0, 0);
	} else if (!strcmp(name, "gauss_blur")) {
		if (v > 1)
			return false;
		img(b, 7, 9, v ? 2000 : 100, 0, 0);
	} else if (!strcmp(name, "sobel")) {
		if (v > 0)
			return false;
		img(b, 8, 8, 0, 0, 0);
	} else if (!strcmp(name, "threshold")) {
		if (v > 1)
			return false;
		img(b, 8, 8, v ? EP_IMG_OTSU : 128, v, 0);
	} else if (!strcmp(name, "blobs")) {
		static const uint32_t flags[] = { 0, EP_BLOBS_F_DARK | EP_BLOBS_F_CONN8,
						  EP_BLOBS_F_REFERENCE | EP_BLOBS_F_BLUR,
						  EP_BLOBS_F_NO_BORDER };

		if (v > 3)
			return false;
		img(b, 8, 8, v & 1 ? EP_IMG_OTSU : 100, (uint16_t)v, flags[v]);
	} else if (!strcmp(name, "zstd")) {
		if (v > 1)
			return false;
		add8(b, v ? 19 : 1), add8(b, 0), add8(b, 0), add8(b, 0);
		add(b, "abcabcabcabcabcabcabcabcabc", 27);
	} else if (!strcmp(name, "matmul")) {
		if (v > 1)
			return false;
		matmul(b, v ? 3 : 2, 2, v ? 1 : 2);
	} else if (!strcmp(name, "infer")) {
		if (v > 1)
			return false;
		infer(b, v ? 7 : 8);
	} else {
		return false;
	}
	return true;
}

static void handler_seeds(void)
{
	static const char *const names[] = { "echo",	   "checksum", "resize",    "box_blur",
					     "gauss_blur", "sobel",    "threshold", "blobs",
					     "zstd",	   "matmul",   "infer" };
	static struct buf p, q, seed;
	char target[64], file[32];
	int last;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(target, sizeof(target), "handler_%s", names[i]);
		for (int v = 0; payload_of(names[i], v, &p); v++) {
			seed.n = 0;
			add8(&seed, 0); /* one task */
			add(&seed, p.b, p.n);
			snprintf(file, sizeof(file), "one-%d", v);
			put(target, file, seed.b, seed.n);
		}
		/* A batch of two: the first variant, then the last. */
		payload_of(names[i], 0, &p);
		for (last = 0; payload_of(names[i], last + 1, &q); last++)
			;
		payload_of(names[i], last, &q);
		seed.n = 0;
		add8(&seed, 1);
		add16(&seed, (uint16_t)p.n);
		add(&seed, p.b, p.n);
		add(&seed, q.b, q.n);
		put(target, "batch", seed.b, seed.n);
	}
}

/* runtime: each handler's first payload as a task (op 1), then a ping and a cancel. */
static void runtime_seeds(void)
{
	static const char *const names[] = { "echo",	   "checksum", "resize",    "box_blur",
					     "gauss_blur", "sobel",    "threshold", "blobs",
					     "zstd",	   "matmul" };
	static struct buf p, seed;
	uint8_t out[EP_HDR_LEN + 64], out2[EP_HDR_LEN + 1400];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char file[32];

		payload_of(names[i], 0, &p);
		seed.n = 0;
		add8(&seed, 0x08);		  /* batch 1, bursts of 9 */
		for (uint8_t f = 0; f < 2; f++) { /* plain, then zstd; second is a retry */
			add8(&seed, 1);
			add8(&seed, f ? 0x0a : 0x02); /* priority 3, zstd on the second */
			add8(&seed, (uint8_t)i);      /* task id */
			add8(&seed, (uint8_t)i);      /* type: types[i] */
			add16(&seed, 999);	      /* fragments of 1000 */
			add16(&seed, (uint16_t)p.n);
			add(&seed, p.b, p.n);
		}
		add8(&seed, 2), add8(&seed, 1), add8(&seed, 0); /* a ping */
		snprintf(file, sizeof(file), "task-%s", names[i]);
		put("runtime", file, seed.b, seed.n);
	}
	/* A raw request datagram, its retry, and a cancel of another task. */
	seed.n = 0;
	add8(&seed, 0);
	for (int i = 0; i < 2; i++) {
		add8(&seed, 0);
		add16(&seed, (uint16_t)dgram(&req, "hello", 5, 1400, 0, out, sizeof(out)));
		add(&seed, out, dgram(&req, "hello", 5, 1400, 0, out, sizeof(out)));
	}
	add8(&seed, 2), add8(&seed, 0), add8(&seed, 9);
	put("runtime", "raw-retry-cancel", seed.b, seed.n);
	/* zstd frames without their size, damaged, and plain bytes flagged as zstd. */
	static const uint8_t zflags[] = { 0x4a, 0x0e, 0x42 };
	for (size_t z = 0; z < sizeof(zflags); z++) {
		char file[32];

		payload_of("echo", 1, &p);
		seed.n = 0;
		add8(&seed, 0x08);
		add8(&seed, 1), add8(&seed, zflags[z]), add8(&seed, (uint8_t)z), add8(&seed, 0);
		add16(&seed, 999), add16(&seed, (uint16_t)p.n);
		add(&seed, p.b, p.n);
		snprintf(file, sizeof(file), "zstd-%02x", zflags[z]);
		put("runtime", file, seed.b, seed.n);
	}
	/* A full queue (16) of priority 1 in one burst, then priority 5: one is shed. */
	seed.n = 0;
	add8(&seed, 0x38);
	for (int i = 0; i < 18; i++) {
		add8(&seed, 1), add8(&seed, i < 17 ? 0x00 : 0x03), add8(&seed, (uint8_t)i);
		add8(&seed, 2); /* resize: slow enough to queue */
		payload_of("resize", 0, &p);
		add16(&seed, 999), add16(&seed, (uint16_t)p.n);
		add(&seed, p.b, p.n);
	}
	put("runtime", "shed", seed.b, seed.n);
	/* Fragments expire after 1 µs: 17 unfinished tasks (each missing its first fragment)
	 * from three sources overfill the table of 16, which expires the oldest (TIMEOUT). */
	seed.n = 0;
	add8(&seed, 0x80 | 0x08);
	for (int i = 0; i < 17; i++) {
		add8(&seed, (const uint8_t[]){ 1, 4, 10 }[i % 3]); /* op 1, source i % 3 */
		add8(&seed, 0x12), add8(&seed, (uint8_t)i), add8(&seed, 0);
		add16(&seed, 99), add16(&seed, 300);
		for (int k = 0; k < 300; k++)
			add8(&seed, (uint8_t)(k + i));
	}
	put("runtime", "expire", seed.b, seed.n);
	/* zstd frames that do not declare their size and inflate past the first 64 KiB of
	 * the buffer (it grows), and past max_task_len (TOO_LARGE), as raw datagrams. */
	for (int z = 0; z < 2; z++) {
		static uint8_t zeros[300 << 10], frame[4096];
		ZSTD_CCtx *cctx = ZSTD_createCCtx();
		struct ep_msg m = req;
		size_t zn;
		char file[32];

		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
		zn = ZSTD_compress2(cctx, frame, sizeof(frame), zeros,
				    z ? sizeof(zeros) : 100 << 10);
		ZSTD_freeCCtx(cctx);
		if (ZSTD_isError(zn)) {
			fprintf(stderr, "mkseeds: zstd: %s\n", ZSTD_getErrorName(zn));
			exit(1);
		}
		m.flags = EP_F_ZSTD;
		m.task_id = 77;
		seed.n = 0;
		add8(&seed, 0);
		add8(&seed, 0);
		add16(&seed, (uint16_t)dgram(&m, frame, (uint32_t)zn, 1400, 0, out2, sizeof(out2)));
		add(&seed, out2, dgram(&m, frame, (uint32_t)zn, 1400, 0, out2, sizeof(out2)));
		snprintf(file, sizeof(file), "zstd-unsized-%dk", z ? 300 : 100);
		put("runtime", file, seed.b, seed.n);
	}
	/* A large echo in many fragments. */
	seed.n = 0;
	add8(&seed, 0x3f);
	add8(&seed, 1), add8(&seed, 0x22), add8(&seed, 5), add8(&seed, 0);
	add16(&seed, 99), add16(&seed, 5000);
	for (int i = 0; i < 5000; i++)
		add8(&seed, (uint8_t)i);
	put("runtime", "fragmented-echo", seed.b, seed.n);
	/* Sealed with the node's session key (task id bit 4): an echo of 3000 bytes in
	 * fragments, the same task again (its retry, answered from the cache), and a checksum
	 * tampered on the way (bit 5: bad_tag). */
	seed.n = 0;
	add8(&seed, 0x08);
	for (int t = 0; t < 3; t++) {
		add8(&seed, 1), add8(&seed, 0x02), add8(&seed, t < 2 ? 0x11 : 0x32);
		add8(&seed, t < 2 ? 0 : 1);
		add16(&seed, 999), add16(&seed, 3000);
		for (int i = 0; i < 3000; i++)
			add8(&seed, (uint8_t)(i * 7));
	}
	put("runtime", "auth", seed.b, seed.n);
}

/* model: a file of @nl layers with @dims, weights from a fixed sequence. */
static void model_seed(const char *name, unsigned int nl, const uint32_t *dims)
{
	struct ep_model_hdr hdr = { .magic = "EPMD", .version = 1, .nlayers = (uint16_t)nl };
	static struct buf b;

	b.n = 0;
	add(&b, &hdr, sizeof(hdr));
	add(&b, dims, 4 * (nl + 1)); /* little-endian host */
	for (uint64_t i = 0; b.n < ep_model_file_len(nl, dims); i++)
		addf(&b, (float)((i * 37) % 19) / 10.0f - 0.9f);
	put("model", name, b.b, b.n);
}

static void model_seeds(void)
{
	static const uint32_t a[] = { 8, 16, 4 }, c[] = { 3, 2 }, d[] = { 4, 6, 6, 6, 2 };

	model_seed("mlp-8-16-4", 2, a);
	model_seed("linear-3-2", 1, c);
	model_seed("mlp-4-6-6-6-2", 4, d);
}

/* png: small images of every colour type and depth, one interlaced. */
static void png_seed(const char *name, int color, int depth, int interlace, bool trns)
{
	char path[512];
	png_structp png;
	png_infop info;
	png_color pal[4] = { { 0, 0, 0 }, { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } };
	png_byte alpha[4] = { 255, 128, 0, 255 }, row[256];
	int w = 9, h = 7, ch;
	FILE *f;

	snprintf(path, sizeof(path), "%s/png", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/png/%s", root, name);
	f = fopen(path, "wb");
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "mkseeds: %s: cannot write\n", path);
		exit(1);
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_PLTE(png, info, pal, 4);
	if (trns)
		png_set_tRNS(png, info, alpha, 4, NULL);
	if (color == PNG_COLOR_TYPE_RGB)
		png_set_gAMA(png, info, 1 / 2.2);
	png_write_info(png, info);
	ch = color == PNG_COLOR_TYPE_RGB	  ? 3
	     : color == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
	     : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
						  : 1;
	if (interlace != PNG_INTERLACE_NONE)
		png_set_interlace_handling(png);
	for (int pass = 0; pass < (interlace ? 7 : 1); pass++)
		for (int y = 0; y < h; y++) {
			for (size_t i = 0; i < sizeof(row); i++)
				row[i] = (uint8_t)((i * 37 + (size_t)y * 11) &
						   (depth < 8 ? 0x55 : 0xff));
			(void)ch;
			png_write_row(png, row);
		}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	fclose(f);
}

static void png_seeds(void)
{
	png_seed("gray1", PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, false);
	png_seed("gray4", PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, false);
	png_seed("gray8", PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, false);
	png_seed("gray16", PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, false);
	png_seed("gray-alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, false);
	png_seed("rgb8-gama", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, false);
	png_seed("rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE, false);
	png_seed("palette2-trns", PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, true);
	png_seed("gray8-interlaced", PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_ADAM7, false);
}

/* The frame codec: coded frames (lossless, k = 2, a kept level; 1 x N, N x 1, 32 x 32) for
 * the decoder, pixels with their parameter bytes for the encoder; and frame-coded tasks
 * for the runtime. */
static void fcodec_seeds(void)
{
	static const struct {
		uint16_t w, h;
		unsigned int k;
		int keep;
	} f[] = {
		{ 32, 32, 0, EP_FC_KEEP_NONE },
		{ 32, 32, 2, EP_FC_KEEP_NONE },
		{ 32, 32, 2, EP_FC_KEEP_OTSU },
		{ 1, 200, 0, EP_FC_KEEP_NONE },
		{ 200, 1, 1, 100 },
		{ 80, 60, 3, EP_FC_KEEP_NONE },
	};
	struct ep_fc_enc *e = ep_fc_enc_new();
	static uint8_t frame[16 + 80 * 60], out[2 * sizeof(frame) + 1024];
	static struct buf seed;

	if (!e)
		exit(1);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct ep_fc_params prm = { .max_error = f[i].k, .keep = f[i].keep };
		struct ep_img_hdr hdr = { .width = htons(f[i].w), .height = htons(f[i].h) };
		uint32_t n = (uint32_t)f[i].w * f[i].h;
		char name[32];
		ssize_t len;

		memcpy(frame, &hdr, sizeof(hdr));
		for (uint32_t p = 0; p < n; p++) /* a gradient with a bright disc and noise */
			frame[16 + p] =
				(uint8_t)((p % f[i].w) * 3 + (p / f[i].w) +
					  ((p * 2654435761u) >> 29) +
					  ((p % f[i].w - 16) * (p % f[i].w - 16) +
								   (p / f[i].w - 16) *
									   (p / f[i].w - 16) <
							   64
						   ? 120
						   : 0));
		len = ep_fc_encode(e, frame, 16 + n, &prm, out, sizeof(out));
		if (len < 0)
			exit(1);
		snprintf(name, sizeof(name), "coded-%zu-%ux%u-k%u", i, f[i].w, f[i].h, f[i].k);
		put("fcodec", name, out, (size_t)len);
		if (i == 1) { /* a frame-coded blobs task for the runtime, k = 2 */
			seed.n = 0;
			add8(&seed, 0x08);
			add8(&seed, 1), add8(&seed, 0x02), add8(&seed, 0xc1), add8(&seed, 7);
			add16(&seed, 999), add16(&seed, (uint16_t)n);
			add(&seed, frame + 16, n);
			add8(&seed, 1), add8(&seed, 0x02), add8(&seed, 0x42), add8(&seed, 7);
			add16(&seed, 999), add16(&seed, (uint16_t)n);
			add(&seed, frame + 16, n);
			put("runtime", "frame-blobs", seed.b, seed.n);
		}
		/* The encoder's input: parameter byte, 16-bit width, pixels. */
		seed.n = 0;
		add8(&seed, (uint8_t)(f[i].k | (f[i].keep == EP_FC_KEEP_NONE ? 0 : 4) |
				      (f[i].keep == EP_FC_KEEP_OTSU ? 8 : 0)));
		add16(&seed, (uint16_t)(f[i].w - 1));
		add(&seed, frame + 16, n);
		snprintf(name, sizeof(name), "pixels-%zu-%ux%u-k%u", i, f[i].w, f[i].h, f[i].k);
		put("fcodec", name, seed.b, seed.n);
	}
	ep_fc_enc_free(e);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	root = argv[1];
	codec_seeds();
	reasm_seeds();
	report_seeds();
	frame_seeds();
	client_seeds();
	handler_seeds();
	runtime_seeds();
	model_seeds();
	png_seeds();
	fcodec_seeds();
	return 0;
}
