// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-limits - checks of a running node's limits and of the client library's answers
 * to them, for tests/integration/test_limits.sh. TAP on stdout. Each check is bounded in
 * datagrams and time.
 *
 *   eptest-limits work --to ADDR       a 609-byte zstd matmul asking for 8.6 GFLOP gets
 *                                      TOO_LARGE at once; a realistic one runs
 *   eptest-limits priority --to ADDR   with the queue full, a priority-5 task sheds no
 *                                      priority-3 task (queue_depth 4)
 *   eptest-limits always --to ADDR     validation.mode "always": RETRY first, then the result
 *   eptest-limits plain --to ADDR      PLAIN_REPLY: results uncompressed, cached ones too
 *   eptest-limits mtu --to ADDR        reply_mtu: reply fragments fit the client's MTU
 *   eptest-limits pong --to ADDR --expect-max-priority N --expect-max-work N
 *                                      PING: the PONG carries the node's limits
 *   eptest-limits client               the library against a fake node on loopback:
 *                                      RETRY handling, its limit, CONFLICT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/payload.h"
#include "../lib/tap.h"
#include "opts.h"
#include "raw.h"

static struct sockaddr_storage to_ss;
static socklen_t to_len;
static const char *to;
static uint64_t next_id;
static long expect_prio = -1, expect_work = -1;

static bool ipv6(void)
{
	return to_ss.ss_family == AF_INET6;
}

static uint8_t *zstd19(const uint8_t *in, uint32_t len, uint32_t *out_len)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *out = malloc(cap);
	size_t n = ZSTD_compress(out, cap, in, len, 19);

	*out_len = ZSTD_isError(n) ? 0 : (uint32_t)n;
	return out;
}

static struct ep_msg request(uint16_t type, uint8_t prio, uint8_t flags)
{
	return (struct ep_msg){ .kind = EP_KIND_REQUEST,
				.priority = prio,
				.flags = flags,
				.task_type = type,
				.tenant_id = 1,
				.task_id = next_id++ };
}

/* A token for @fd's address and port: an echo whose plain reply would be 1 MiB for a
 * 100-byte request gets RETRY. Returns 0 and the RETRY in @retry. */
static int get_token(int fd, struct ep_msg *retry)
{
	static uint8_t zeros[1 << 20];
	struct ep_msg m = request(EP_TT_ECHO, 3, EP_F_ZSTD | EP_F_PLAIN_REPLY);
	struct exch x = { 0 };
	uint32_t len;
	uint8_t *w = zstd19(zeros, sizeof(zeros), &len);

	raw_send(fd, ipv6(), &m, w, len, &x);
	raw_collect(fd, m.task_id, 2000, &x);
	free(w);
	if (x.kind != EP_KIND_RETRY)
		return -1;
	*retry = x.retry;
	return 0;
}

/* --- work ----------------------------------------------------------------------------- */

static void check_work(void)
{
	struct ep_msg tok, m;
	struct exch x = { 0 };
	uint32_t len, wlen;
	uint8_t *p, *w;
	uint64_t t0;
	int fd = raw_open(&to_ss, to_len);

	tap_begin();
	EXPECT(fd >= 0 && !get_token(fd, &tok));
	/* The case: 2048x1023 * 1023x2047 of zeros, 16 MB that zstd makes 609 bytes,
	 * 8.6e9 multiply-adds; within max_task_len and max_result_len. */
	p = tool_matmul_zeros(2048, 1023, 2047, &len);
	w = zstd19(p, len, &wlen);
	m = request(EP_TT_MATMUL, 3, EP_F_ZSTD);
	raw_use_token(&m, &tok);
	t0 = raw_now_ns();
	raw_send(fd, ipv6(), &m, w, wlen, &x);
	raw_collect(fd, m.task_id, 5000, &x);
	EXPECT_EQ(x.kind, EP_KIND_ERROR);
	EXPECT_EQ(x.status, EP_ST_TOO_LARGE);
	EXPECT(x.reply_ns && x.reply_ns - t0 < 300 * 1000000ull);
	tap_end("work cap: a %u-byte zstd matmul (2048x1023 * 1023x2047, %u bytes inflated) gets "
		"%s in %.0f ms",
		wlen, len,
		x.kind == EP_KIND_ERROR ? ep_status_name(x.status)
		: x.kind		? ep_kind_name(x.kind)
					: "no reply",
		x.reply_ns ? (double)(x.reply_ns - t0) / 1e6 : -1.0);
	free(p);
	free(w);

	/* Realistic tasks still run: a 256 x 256 x 256 product. */
	tap_begin();
	memset(&x, 0, sizeof(x));
	p = tool_matmul_zeros(256, 256, 256, &len);
	w = zstd19(p, len, &wlen);
	m = request(EP_TT_MATMUL, 3, EP_F_ZSTD);
	raw_use_token(&m, &tok);
	raw_send(fd, ipv6(), &m, w, wlen, &x);
	raw_collect(fd, m.task_id, 3000, &x);
	EXPECT_EQ(x.kind, EP_KIND_RESPONSE);
	EXPECT(x.complete);
	tap_end("work cap: a 256 x 256 x 256 matmul runs (%s)",
		x.kind ? ep_kind_name(x.kind) : "no reply");
	free(p);
	free(w);
	if (fd >= 0)
		close(fd);
}

/* --- what a source that has not validated its address gets done ---------------------- */

/*
 * 1. A task of 8 fragments whose result an unvalidated client lost: its retry (every
 *    fragment again, no token) is answered with one RETRY, not one per fragment (each
 *    fragment alone is too small a budget for the cached result), and the retry with that
 *    token gets the result.
 * 2. Compressed payloads that would inflate far beyond what came: a zstd frame of 16 MiB
 *    of zeros (a few hundred bytes), and one that does not say its size, get RETRY before
 *    anything is decompressed (test_limits.sh reads the runtime's CPU time around this).
 * 3. A cached result asked again uncompressed (PLAIN_REPLY) by retries without a token:
 *    RETRYs, at most one per resend gap, and nothing decompressed for them.
 */
static void check_unvalidated(void)
{
	static uint8_t data[10000];
	static uint8_t zeros[16 << 20];
	struct exch x = { 0 }, y = { 0 }, z = { 0 }, r = { 0 };
	struct ep_msg m;
	uint32_t wlen;
	uint8_t *w;
	int fd = raw_open(&to_ss, to_len), retries = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	tap_begin();
	m = request(EP_TT_ECHO, 3, EP_F_PLAIN_REPLY);
	raw_send(fd, ipv6(), &m, data, sizeof(data), &x);
	raw_collect(fd, m.task_id, 2000, &x);
	EXPECT_EQ(x.kind, EP_KIND_RESPONSE);
	m.flags |= EP_F_RETRY;
	raw_send(fd, ipv6(), &m, data, sizeof(data), &y);
	raw_collect(fd, m.task_id, 300, &y);
	EXPECT_EQ(y.kind, EP_KIND_RETRY);
	EXPECT_EQ(y.dgrams_in, 1);
	raw_use_token(&m, &y.retry);
	raw_send(fd, ipv6(), &m, data, sizeof(data), &z);
	raw_collect(fd, m.task_id, 2000, &z);
	EXPECT(z.kind == EP_KIND_RESPONSE && z.complete && z.result_len == sizeof(data));
	tap_end("unvalidated: the retry of an 8-fragment task whose result is cached gets one "
		"RETRY (%llu datagrams back), the retry with its token the result (%s)",
		(unsigned long long)y.dgrams_in, z.kind ? ep_kind_name(z.kind) : "no reply");

	tap_begin();
	w = zstd19(zeros, sizeof(zeros), &wlen);
	for (int i = 0; i < 50 && w; i++) {
		struct exch e = { 0 };

		m = request(EP_TT_ECHO, 3, EP_F_ZSTD | EP_F_PLAIN_REPLY);
		raw_send(fd, ipv6(), &m, w, wlen, &e);
		raw_collect(fd, m.task_id, 1000, &e);
		retries += e.kind == EP_KIND_RETRY;
	}
	EXPECT_EQ(retries, 50);
	free(w);
	/* A frame that does not say its size: zstd's streaming form, by hand. */
	{
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		ZSTD_outBuffer ob = { NULL, 0, 0 };
		ZSTD_inBuffer ib = { zeros, 1 << 20, 0 };
		struct exch e = { 0 };

		ob.size = ZSTD_compressBound(1 << 20);
		ob.dst = malloc(ob.size);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
		EXPECT(ob.dst && !ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end)));
		EXPECT(ZSTD_getFrameContentSize(ob.dst, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
		m = request(EP_TT_ECHO, 3, EP_F_ZSTD | EP_F_PLAIN_REPLY);
		raw_send(fd, ipv6(), &m, ob.dst, (uint32_t)ob.pos, &e);
		raw_collect(fd, m.task_id, 1000, &e);
		EXPECT_EQ(e.kind, EP_KIND_RETRY);
		free(ob.dst);
		ZSTD_freeCCtx(cc);
	}
	tap_end("unvalidated: 50 zstd frames of %u bytes that inflate to 16 MiB, and one that "
		"does not say its size, get RETRY (%d), nothing inflated",
		wlen, retries);

	/* 3: the cached result of a validated task of this source, compressed (zeros), then
	 * asked uncompressed by 20 retries without the token, back to back. */
	tap_begin();
	{
		struct ep_msg tok;
		struct exch e = { 0 };
		uint64_t id;

		EXPECT(!get_token(fd, &tok));
		m = request(EP_TT_ECHO, 3, 0);
		id = m.task_id;
		raw_use_token(&m, &tok);
		raw_send(fd, ipv6(), &m, zeros, 1 << 20, &e);
		raw_collect(fd, id, 3000, &e);
		EXPECT(e.kind == EP_KIND_RESPONSE && (e.flags & EP_F_ZSTD));
		m = request(EP_TT_ECHO, 3, EP_F_RETRY | EP_F_PLAIN_REPLY);
		m.task_id = id;
		{ /* the request's own fragment 0, 20 times */
			uint8_t d[RAW_MTU];
			ssize_t n = ep_frag_build(&m, zeros, 1 << 20,
						  ep_frag_size_for_mtu(RAW_MTU, ipv6()), 0, d,
						  sizeof(d));

			for (int i = 0; i < 20 && n > 0; i++)
				if (send(fd, d, (size_t)n, 0) == n)
					r.out += (uint64_t)n;
		}
		raw_collect(fd, id, 300, &r);
		EXPECT(r.dgrams_in >= 1 && r.dgrams_in <= 2);
		EXPECT_EQ(r.kind, EP_KIND_RETRY);
	}
	tap_end("unvalidated: 20 PLAIN_REPLY retries of a cached compressed 1 MiB result get "
		"%llu RETRY, not the result",
		(unsigned long long)r.dgrams_in);
	if (fd >= 0)
		close(fd);
}

/* --- priority ------------------------------------------------------------------------- */

struct answer {
	uint64_t id;
	uint8_t kind, priority;
	uint16_t status;
};

/* Replies to the tasks in @a (one datagram each: small results) until all came. */
static void collect_all(int fd, struct answer *a, unsigned int n, int wait_ms)
{
	static uint8_t buf[65536];
	double end = tool_now() + wait_ms / 1e3;
	unsigned int got = 0;

	while (got < n && tool_now() < end) {
		const uint8_t *payload;
		struct ep_msg m;

		if (!tool_wait_in(fd, end, 50) ||
		    raw_recv_msg(fd, buf, sizeof(buf), &m, &payload) <= 0)
			continue;
		for (unsigned int i = 0; i < n; i++) {
			if (a[i].id != m.task_id || a[i].kind)
				continue;
			a[i].kind = m.kind;
			a[i].status = m.status;
			a[i].priority = m.priority;
			got++;
		}
	}
}

static void check_priority(void)
{
	struct answer a[6] = { 0 };
	struct ep_msg tok, m;
	struct exch x = { 0 };
	uint32_t len, wlen;
	uint8_t *p, *w;
	unsigned int shed = 0;
	int fd = raw_open(&to_ss, to_len);

	tap_begin();
	EXPECT(fd >= 0 && !get_token(fd, &tok));
	/* A blocker keeps the worker busy (a 1200^3 product, 30 ms) while the others
	 * arrive, so they are taken in one burst: four priority-3 tasks fill the queue
	 * (queue_depth 4), then one claiming priority 5. */
	p = tool_matmul_zeros(1200, 1200, 1200, &len);
	w = zstd19(p, len, &wlen);
	m = request(EP_TT_MATMUL, 3, EP_F_ZSTD);
	raw_use_token(&m, &tok);
	a[0].id = m.task_id;
	raw_send(fd, ipv6(), &m, w, wlen, &x);
	usleep(5000);
	for (int i = 1; i < 6; i++) {
		m = request(EP_TT_ECHO, i < 5 ? 3 : 5, 0);
		raw_use_token(&m, &tok);
		a[i].id = m.task_id;
		raw_send(fd, ipv6(), &m, (const uint8_t *)"0123456789", 10, &x);
	}
	collect_all(fd, a, 6, 5000);
	for (int i = 1; i < 5; i++)
		shed += a[i].kind == EP_KIND_ERROR && a[i].status == EP_ST_OVERLOADED;
	EXPECT_EQ(a[0].kind, EP_KIND_RESPONSE);
	EXPECT_EQ(shed, 0);
	for (int i = 1; i < 5; i++)
		EXPECT_EQ(a[i].kind, EP_KIND_RESPONSE);
	EXPECT_EQ(a[5].kind, EP_KIND_ERROR);
	EXPECT_EQ(a[5].status, EP_ST_OVERLOADED);
	EXPECT_EQ(a[5].priority, 3);
	tap_end("priority ceiling: with the queue full of priority-3 tasks, one claiming "
		"priority 5 shed %u of them and got %s %s at priority %u",
		shed, a[5].kind ? ep_kind_name(a[5].kind) : "no reply",
		a[5].kind == EP_KIND_ERROR ? ep_status_name(a[5].status) : "", a[5].priority);
	free(p);
	free(w);
	if (fd >= 0)
		close(fd);
}

/* --- always --------------------------------------------------------------------------- */

static void check_always(void)
{
	struct ep_client_opts co = {
		.host = to, .mtu = 1500, .timeout_ms = 500, .max_attempts = 3
	};
	struct ep_task_opts t = { .type = EP_TT_ECHO };
	struct ep_client_stats st;
	struct ep_client *cli = NULL;
	struct exch x = { 0 }, y = { 0 };
	struct ep_result r = { 0 };
	struct ep_msg m = request(EP_TT_ECHO, 3, 0);
	int fd = raw_open(&to_ss, to_len);

	/* Even a 2-byte echo: RETRY, then the result with the token. */
	tap_begin();
	raw_send(fd, ipv6(), &m, (const uint8_t *)"hi", 2, &x);
	raw_collect(fd, m.task_id, 2000, &x);
	EXPECT_EQ(x.kind, EP_KIND_RETRY);
	EXPECT_EQ(x.in, EP_HDR_LEN);
	if (x.kind == EP_KIND_RETRY) {
		raw_use_token(&m, &x.retry);
		raw_send(fd, ipv6(), &m, (const uint8_t *)"hi", 2, &y);
		raw_collect(fd, m.task_id, 2000, &y);
	}
	EXPECT_EQ(y.kind, EP_KIND_RESPONSE);
	EXPECT_EQ(y.result_len, 2);
	tap_end("always: a 2-byte echo gets RETRY (%llu bytes), then with the token %s",
		(unsigned long long)x.in, y.kind ? ep_kind_name(y.kind) : "no reply");

	tap_begin();
	EXPECT_EQ(ep_client_open(&co, &cli), 0);
	if (cli) {
		EXPECT_EQ(ep_client_run(cli, &t, "abc", 3, &r), 0);
		EXPECT(r.len == 3 && !memcmp(r.data, "abc", 3));
		ep_result_free(&r);
		EXPECT_EQ(ep_client_run(cli, &t, "defg", 4, &r), 0);
		ep_result_free(&r);
		ep_client_get_stats(cli, &st);
		EXPECT_EQ(st.validations, 1); /* the second task carried the token */
		EXPECT_EQ(st.retries, 0);
		ep_client_close(cli);
	}
	tap_end("always: the library answers the RETRY once, then every task carries the token "
		"(validations %llu)",
		cli ? (unsigned long long)st.validations : 0ull);
	if (fd >= 0)
		close(fd);
}

/* --- plain ---------------------------------------------------------------------------- */

static void check_plain(void)
{
	static uint8_t text[32768];
	struct ep_msg tok, m;
	struct exch x = { 0 }, y = { 0 }, z = { 0 };
	int fd = raw_open(&to_ss, to_len);

	for (size_t i = 0; i < sizeof(text); i++) /* compressible */
		text[i] = (uint8_t) "edge plane "[i % 11];
	tap_begin();
	EXPECT(fd >= 0 && !get_token(fd, &tok));
	m = request(EP_TT_ECHO, 3, 0);
	raw_use_token(&m, &tok);
	raw_send(fd, ipv6(), &m, text, sizeof(text), &x);
	raw_collect(fd, m.task_id, 2000, &x);
	EXPECT_EQ(x.kind, EP_KIND_RESPONSE);
	EXPECT(x.flags & EP_F_ZSTD);
	EXPECT(x.result_len < sizeof(text));
	m = request(EP_TT_ECHO, 3, EP_F_PLAIN_REPLY);
	raw_use_token(&m, &tok);
	raw_send(fd, ipv6(), &m, text, sizeof(text), &y);
	raw_collect(fd, m.task_id, 2000, &y);
	EXPECT_EQ(y.kind, EP_KIND_RESPONSE);
	EXPECT(!(y.flags & EP_F_ZSTD));
	EXPECT_EQ(y.result_len, sizeof(text));
	tap_end("plain: a 32 KiB compressible echo comes back compressed (%u bytes), with "
		"PLAIN_REPLY plain (%u bytes)",
		x.result_len, y.result_len);

	/* The first task's result is cached compressed: a PLAIN_REPLY replay (the same
	 * request again, as the cache binds the id to it) is plain. */
	tap_begin();
	m.task_id = next_id - 2;
	m.flags = EP_F_RETRY | EP_F_PLAIN_REPLY;
	raw_use_token(&m, &tok);
	raw_send(fd, ipv6(), &m, text, sizeof(text), &z);
	raw_collect(fd, m.task_id, 2000, &z);
	EXPECT_EQ(z.kind, EP_KIND_RESPONSE);
	EXPECT(!(z.flags & EP_F_ZSTD));
	EXPECT_EQ(z.result_len, sizeof(text));
	tap_end("plain: a cached compressed result replayed for PLAIN_REPLY is plain (%u bytes)",
		z.result_len);
	if (fd >= 0)
		close(fd);
}

/* --- mtu ------------------------------------------------------------------------------ */

static void check_mtu(void)
{
	static uint8_t data[20000];
	static const struct {
		uint8_t units;
		uint32_t max;
	} cases[] = {
		{ 0, 1500 }, { 9, 576 }, { 4, 576 }, { 16, 1024 }, { 255, 1500 },
	};
	uint32_t over = (ipv6() ? 40 : 20) + 8; /* IP and UDP headers */
	struct ep_msg tok;
	int fd = raw_open(&to_ss, to_len);

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + (i >> 7));
	tap_begin();
	EXPECT(fd >= 0 && !get_token(fd, &tok));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ep_msg m = request(EP_TT_ECHO, 3, EP_F_PLAIN_REPLY);
		struct exch x = { 0 };
		uint32_t want_frags;

		m.reply_mtu = cases[c].units;
		raw_use_token(&m, &tok);
		raw_send(fd, ipv6(), &m, data, sizeof(data), &x);
		raw_collect(fd, m.task_id, 2000, &x);
		want_frags =
			ep_frag_count(sizeof(data), ep_frag_size_for_mtu(cases[c].max, ipv6()));
		EXPECT_EQ(x.kind, EP_KIND_RESPONSE);
		EXPECT(x.complete);
		EXPECT_EQ(x.max_dgram, cases[c].max - over);
		EXPECT_EQ(x.dgrams_in, want_frags);
		tap_diag("reply_mtu %u: %llu fragments, the largest %u bytes of UDP payload",
			 cases[c].units, (unsigned long long)x.dgrams_in, x.max_dgram);
	}
	tap_end("reply_mtu: reply fragments fit min(node MTU 1500, reply_mtu x 64), at least 576");
	if (fd >= 0)
		close(fd);
}

/* --- pong ----------------------------------------------------------------------------- */

static void check_pong(void)
{
	struct ep_client_opts co = { .host = to, .mtu = 1500 };
	struct ep_node_limits l = { 0 };
	struct ep_msg m = {
		.kind = EP_KIND_PING, .priority = 3, .task_id = next_id++, .frag_count = 1
	};
	struct ep_client *cli = NULL;
	struct exch x = { 0 };
	uint8_t d[EP_HDR_LEN];
	int fd = raw_open(&to_ss, to_len), err = -1;

	tap_begin();
	if (fd >= 0 && ep_encode_hdr(&m, d, sizeof(d)) == EP_HDR_LEN &&
	    send(fd, d, sizeof(d), 0) > 0)
		raw_collect(fd, m.task_id, 2000, &x);
	EXPECT_EQ(x.kind, EP_KIND_PONG);
	EXPECT_EQ(x.in, EP_HDR_LEN + sizeof(struct ep_limits));
	EXPECT(x.in <= EP_AMP_FACTOR * EP_HDR_LEN);
	tap_end("pong: a 64-byte PING gets a %llu-byte PONG (limit %u)", (unsigned long long)x.in,
		EP_AMP_FACTOR * EP_HDR_LEN);

	tap_begin();
	EXPECT_EQ(ep_client_open(&co, &cli), 0);
	if (cli)
		err = ep_client_limits(cli, 2000, &l);
	EXPECT_EQ(err, 0);
	EXPECT_EQ(l.amp_factor, EP_AMP_FACTOR);
	EXPECT(l.flags & EP_LIM_F_TOKENS);
	EXPECT(l.flags & EP_LIM_F_REPLY_MTU);
	EXPECT(l.flags & EP_LIM_F_PLAIN_REPLY);
	EXPECT_EQ(l.mtu, 1500);
	EXPECT_EQ(l.max_task_len, EP_DEFAULT_MAX_TASK_LEN);
	if (expect_prio >= 0)
		EXPECT_EQ(l.max_priority, expect_prio);
	if (expect_work >= 0)
		EXPECT_EQ(l.max_work, expect_work);
	tap_end("pong: ep_client_limits(): max_task_len %u, max_result_len %u, mtu %u, "
		"max_priority %u, amp_factor %u, max_work %llu, reassembly timeout %u ms, cache "
		"window %u ms, flags 0x%x",
		l.max_task_len, l.max_result_len, l.mtu, l.max_priority, l.amp_factor,
		(unsigned long long)l.max_work, l.reasm_timeout_ms, l.cache_window_ms, l.flags);
	ep_client_close(cli);
	if (fd >= 0)
		close(fd);
}

/* --- client against a fake node -------------------------------------------------------- */

/* What the fake node answers each request with, in turn. */
enum fake_answer { FAKE_RETRY, FAKE_CONFLICT, FAKE_RESPONSE };

struct fake {
	int fd;
	unsigned int seen; /* requests received */
	uint64_t ids[16];
	bool token[16]; /* did request i carry a token? */
	uint16_t key_id[16];
	unsigned int issued; /* tokens handed out, over every run */
};

static void fake_serve(struct fake *f, const enum fake_answer *plan, unsigned int nplan)
{
	static uint8_t buf[65536];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	const uint8_t *payload;
	struct ep_msg m, r;
	uint8_t out[EP_HDR_LEN + 16];
	ssize_t n;

	while ((n = recvfrom(f->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fl)) > 0) {
		unsigned int i = f->seen;
		enum fake_answer a;

		if (ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, &m, &payload, NULL) ||
		    m.kind != EP_KIND_REQUEST || i >= 16)
			continue;
		f->ids[i] = m.task_id;
		f->token[i] = m.flags & EP_F_TOKEN;
		f->key_id[i] = m.auth_key_id;
		f->seen++;
		a = plan[i < nplan ? i : nplan - 1];
		r = (struct ep_msg){ .priority = m.priority,
				     .task_type = m.task_type,
				     .tenant_id = m.tenant_id,
				     .task_id = m.task_id,
				     .frag_count = 1 };
		if (a == FAKE_RETRY) {
			r.kind = EP_KIND_RETRY;
			r.flags = EP_F_TOKEN;
			/* A new token each time (a client ignores a RETRY that hands it back
			 * the token it sent with: one for an earlier send of the task). */
			r.auth_key_id = (uint16_t)(0x100 + f->issued);
			memset(r.auth_tag, 0xa0 + (int)f->issued, sizeof(r.auth_tag));
			f->issued++;
		} else if (a == FAKE_CONFLICT) {
			r.kind = EP_KIND_ERROR;
			r.status = EP_ST_CONFLICT;
		} else {
			r.kind = EP_KIND_RESPONSE;
			r.total_len = r.payload_len = 2;
		}
		if (ep_encode_hdr(&r, out, sizeof(out)) != EP_HDR_LEN)
			continue;
		memcpy(out + EP_HDR_LEN, "ok", 2);
		sendto(f->fd, out, EP_HDR_LEN + r.payload_len, 0, (struct sockaddr *)&from, fl);
	}
}

struct sync {
	struct ep_result *r;
	bool done;
};

static void sync_cb(void *arg, struct ep_result *r)
{
	struct sync *s = arg;

	*s->r = *r;
	s->done = true;
}

/* Run one task against the fake node with @plan; returns the result's error. */
static int fake_run(struct fake *f, struct ep_client *cli, const enum fake_answer *plan,
		    unsigned int nplan, struct ep_result *res)
{
	struct sync s = { res, false };
	struct ep_task_opts t = { .type = EP_TT_ECHO };
	uint64_t end = raw_now_ns() + 3000000000ull;
	int err;

	memset(res, 0, sizeof(*res));
	err = ep_client_submit(cli, &t, "x", 1, sync_cb, &s, NULL);
	if (err)
		return err;
	while (!s.done && raw_now_ns() < end) {
		usleep(1000);
		fake_serve(f, plan, nplan);
		ep_client_process(cli);
	}
	return s.done ? res->error : -ETIMEDOUT;
}

static void check_client(void)
{
	static const enum fake_answer retry_once[] = { FAKE_RETRY, FAKE_RESPONSE };
	static const enum fake_answer retry_always[] = { FAKE_RETRY };
	static const enum fake_answer conflict[] = { FAKE_CONFLICT, FAKE_RESPONSE };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	struct ep_client_opts co = { .host = "127.0.0.1", .timeout_ms = 300, .max_attempts = 3 };
	struct fake f = { .fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
	struct ep_client_stats st;
	struct ep_client *cli = NULL;
	socklen_t sl = sizeof(sa);
	struct ep_result r;
	int err;

	if (f.fd < 0 || bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(f.fd, (struct sockaddr *)&sa, &sl)) {
		tap_skip("client: RETRY handling", "no loopback socket");
		return;
	}
	co.port = ntohs(sa.sin_port);
	if (ep_client_open(&co, &cli)) {
		tap_skip("client: RETRY handling", "no session");
		return;
	}

	tap_begin();
	err = fake_run(&f, cli, retry_once, 2, &r);
	ep_client_get_stats(cli, &st);
	EXPECT_EQ(err, 0);
	EXPECT_EQ(f.seen, 2);
	EXPECT(!f.token[0] && f.token[1] && f.key_id[1] == 0x100);
	EXPECT_EQ(f.ids[0], f.ids[1]); /* the same task id */
	EXPECT_EQ(r.attempts, 1);      /* not counted as an attempt */
	EXPECT_EQ(st.validations, 1);
	EXPECT_EQ(st.retries, 0);
	tap_end("client: a RETRY is answered at once with its token, same task id, no attempt "
		"counted (attempts %u)",
		r.attempts);
	ep_result_free(&r);

	tap_begin();
	f.seen = 0;
	err = fake_run(&f, cli, retry_once + 1, 1, &r);
	EXPECT_EQ(err, 0);
	EXPECT(f.seen == 1 && f.token[0] && f.key_id[0] == 0x100);
	tap_end("client: the next task carries the token from the start");
	ep_result_free(&r);

	tap_begin();
	f.seen = 0;
	err = fake_run(&f, cli, retry_always, 1, &r);
	EXPECT_EQ(err, -EADDRNOTAVAIL);
	EXPECT_EQ(f.seen, EP_CLIENT_MAX_VALIDATIONS + 1);
	/* each newer RETRY's token replaced the one before (0x100 came with the first task) */
	for (unsigned int i = 1; i < f.seen && i < 16; i++)
		EXPECT_EQ(f.key_id[i], 0x100 + i);
	tap_end("client: a node that keeps answering RETRY: %u sends, then %s", f.seen,
		ep_result_strerror(&r));
	ep_result_free(&r);

	tap_begin();
	f.seen = 0;
	err = fake_run(&f, cli, conflict, 2, &r);
	ep_client_get_stats(cli, &st);
	EXPECT_EQ(err, 0);
	EXPECT_EQ(f.seen, 2);
	EXPECT(f.ids[0] != f.ids[1]);	/* a new task id on the wire */
	EXPECT_EQ(r.task_id, f.ids[0]); /* the result keeps the one submit gave */
	EXPECT_EQ(st.conflicts, 1);
	tap_end("client: CONFLICT sends the task again under a new id, which completes under "
		"the id submit gave");
	ep_result_free(&r);

	tap_begin();
	f.seen = 0;
	err = fake_run(&f, cli, conflict, 1, &r);
	EXPECT_EQ(err, -EREMOTEIO);
	EXPECT_EQ(r.status, EP_ST_CONFLICT);
	EXPECT_EQ(f.seen, EP_CLIENT_MAX_CONFLICTS + 1);
	tap_end("client: CONFLICT after CONFLICT is reported (%s) after %u sends",
		ep_result_strerror(&r), f.seen);
	ep_result_free(&r);
	ep_client_close(cli);
	close(f.fd);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: eptest-limits work|priority|always|plain|mtu|pong|unvalidated --to ADDR\n"
		"       eptest-limits client\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("expect-max-priority", expect_prio, 1, 5),
		OPT_NUM("expect-max-work", expect_work, 0, 1L << 62),
		{ 0 },
	};

	optind = 2;
	if (tool_opts(argc, argv, opts, usage) != argc)
		return 2;
	if (strcmp(cmd, "client") && (!to || tool_addr(to, EP_DEFAULT_PORT, &to_ss, &to_len))) {
		usage(stderr);
		return 2;
	}
	next_id = 0x11a1000000000000ull | (uint64_t)getpid() << 20;
	if (!strcmp(cmd, "work"))
		check_work();
	else if (!strcmp(cmd, "priority"))
		check_priority();
	else if (!strcmp(cmd, "always"))
		check_always();
	else if (!strcmp(cmd, "plain"))
		check_plain();
	else if (!strcmp(cmd, "mtu"))
		check_mtu();
	else if (!strcmp(cmd, "pong"))
		check_pong();
	else if (!strcmp(cmd, "client"))
		check_client();
	else if (!strcmp(cmd, "unvalidated"))
		check_unvalidated();
	else
		return 2;
	return tap_finish();
}
