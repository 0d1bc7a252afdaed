// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the client's selective repeat (docs/protocol.md 5.1, docs/client.md): a
 * session (userspace/client/client.c) against an "edge" that is a UDP socket of this test
 * on 127.0.0.1, which loses fragments on purpose and answers with TASK_ACK as a node does:
 *
 * - a TASK_ACK with gaps gets exactly the missing fragments again; one listing all stops
 *   the resends, and the task's timer then asks with RESULT_ACK instead of resending;
 * - a result with a gap is acknowledged at the end of its pass, with the ranges held;
 * - a result that does not decompress (zstd checksum) is asked for again (RESULT_ACK of
 *   count 0), not reported as the task's failure;
 * - a session that does not know yet whether its edge acknowledges resends whole tasks on
 *   its timer and asks with RESULT_ACK too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/util.h"
#include "../lib/tap.h"
#include "../lib/msg.h"

static int edge = -1;
static struct sockaddr_in client_addr;
static struct ep_client *c;

struct got {
	int n, error;
	uint8_t *data;
	uint32_t len, attempts;
};

static void on_done(void *arg, struct ep_result *r)
{
	struct got *g = arg;

	g->n++;
	g->error = r->error;
	g->data = r->data;
	g->len = r->len;
	g->attempts = r->attempts;
}

static uint16_t edge_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	edge = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	EXPECT(edge >= 0 && !bind(edge, (struct sockaddr *)&sa, sizeof(sa)));
	EXPECT(!getsockname(edge, (struct sockaddr *)&sa, &sl));
	return ntohs(sa.sin_port);
}

static struct ep_client *session(uint16_t port)
{
	struct ep_client_opts o = { .host = "127.0.0.1",
				    .port = port,
				    .tenant_id = 7,
				    .timeout_ms = 100,
				    .max_timeout_ms = 1000,
				    .max_attempts = 5 };
	struct ep_client *s = NULL;

	EXPECT_EQ(ep_client_open(&o, &s), 0);
	return s;
}

/* The next datagram the session sent within @wait_ms (the session is driven meanwhile):
 * 1 and *m, its payload in @pl; 0 if none came. */
static int edge_get(int wait_ms, struct ep_msg *m, uint8_t *pl)
{
	uint64_t end = ep_now_ns() + (uint64_t)wait_ms * 1000000;
	static uint8_t buf[65536];

	do {
		socklen_t sl = sizeof(client_addr);
		const uint8_t *payload;
		ssize_t n;

		ep_client_poll(c, 1);
		n = recvfrom(edge, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&client_addr,
			     &sl);
		if (n < 0)
			continue;
		if (ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, m, &payload, NULL))
			return -1;
		memcpy(pl, payload, m->payload_len);
		return 1;
	} while (ep_now_ns() < end);
	return 0;
}

static void edge_send(const struct ep_msg *tmpl, const void *data, uint32_t len, uint32_t fsz,
		      uint32_t idx)
{
	uint8_t d[2048];
	ssize_t n = ep_frag_build(tmpl, data, len, fsz, idx, d, sizeof(d));

	EXPECT(n > 0);
	EXPECT_EQ(
		sendto(edge, d, (size_t)n, 0, (struct sockaddr *)&client_addr, sizeof(client_addr)),
		n);
}

/* TASK_ACK for @id: the fragments in @bm of @count held. */
static void edge_task_ack(uint64_t id, const uint8_t *bm, uint16_t count)
{
	struct ep_msg m = EP_TEST_MSG(EP_KIND_TASK_ACK, .task_id = id, .load_pct = 20);
	struct ep_ack a;
	uint8_t pl[1100];
	ssize_t n;

	ep_ack_from_bitmap(&a, bm, count);
	n = ep_ack_encode(&a, EP_ACK_MAX_RANGES, pl, sizeof(pl));
	EXPECT(n > 0);
	edge_send(&m, pl, (uint32_t)n, (uint32_t)n, 0);
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + i / 251);
}

static void test_repairs(void)
{
	static uint8_t req[20000], res[5000], pl[65536];
	struct ep_task_opts t = { .type = 1, .priority = 3 };
	struct ep_client_link_stats ls = { .sz = sizeof(ls) };
	struct ep_msg m, r;
	struct got g = { 0 };
	uint8_t bm[4] = { 0 };
	uint32_t nfrag = 0, last = 0, idx[4], n = 0;
	bool ascending = true;
	struct ep_ack a;
	uint64_t id;

	fill(req, sizeof(req), 1);
	fill(res, sizeof(res), 2);
	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &t, req, sizeof(req), on_done, &g, &id), 0);
	while (edge_get(100, &m, pl) == 1 && m.kind == EP_KIND_REQUEST) {
		ascending &= !nfrag || m.frag_index > last;
		last = m.frag_index;
		nfrag++;
		if (nfrag == m.frag_count)
			break;
	}
	EXPECT_EQ(nfrag, m.frag_count);
	EXPECT(m.frag_count > 8);
	EXPECT(ascending);
	/* Lost: fragments 3 and 7. */
	for (uint32_t i = 0; i < m.frag_count; i++)
		if (i != 3 && i != 7)
			bm[i / 8] |= (uint8_t)(1u << (i % 8));
	edge_task_ack(id, bm, m.frag_count);
	while (n < 4 && edge_get(40, &r, pl) == 1)
		idx[n++] = r.kind == EP_KIND_REQUEST ? r.frag_index : 1000 + r.kind;
	EXPECT_EQ(n, 2);
	EXPECT(n == 2 && idx[0] == 3 && idx[1] == 7);
	tap_end("a TASK_ACK with gaps gets exactly the fragments it does not list (%u of %u "
		"resent)",
		n, nfrag);

	tap_begin();
	bm[0] = 0xff;
	bm[1] = 0xff;
	edge_task_ack(id, bm, m.frag_count);
	/* The timer (100 ms) now asks instead of resending 15 fragments. */
	EXPECT_EQ(edge_get(400, &r, pl), 1);
	EXPECT_EQ(r.kind, EP_KIND_RESULT_ACK);
	EXPECT(!ep_ack_decode(pl, r.payload_len, &a) && a.count == 0);
	EXPECT_EQ(r.task_id, id);
	EXPECT_EQ(edge_get(30, &r, pl), 0);
	ep_client_get_link_stats(c, &ls);
	EXPECT_EQ(ls.task_acks, 2);
	EXPECT_EQ(ls.frags_resent, 2);
	EXPECT_EQ(ls.whole_resends, 0);
	EXPECT(ls.edge_acks);
	tap_end("a TASK_ACK listing all holds the task: the timer asks with RESULT_ACK count 0 "
		"and resends nothing");

	tap_begin();
	{
		struct ep_msg rt = EP_TEST_MSG(EP_KIND_RESPONSE, .task_id = id);

		for (uint32_t i = 0; i < 4; i++)
			if (i != 2)
				edge_send(&rt, res, sizeof(res), 1400, i);
		/* The pass ends at fragment 3 with 2 missing: RESULT_ACK [0,1] [3,3] at once. */
		EXPECT_EQ(edge_get(100, &r, pl), 1);
		EXPECT_EQ(r.kind, EP_KIND_RESULT_ACK);
		EXPECT(!ep_ack_decode(pl, r.payload_len, &a));
		EXPECT(a.count == 4 && a.n == 2 && a.r[0].first == 0 && a.r[0].last == 1 &&
		       a.r[1].first == 3 && a.r[1].last == 3);
		edge_send(&rt, res, sizeof(res), 1400, 2);
		for (int i = 0; i < 100 && !g.n; i++)
			ep_client_poll(c, 2);
	}
	EXPECT_EQ(g.n, 1);
	EXPECT_EQ(g.error, 0);
	EXPECT(g.len == sizeof(res) && !memcmp(g.data, res, sizeof(res)));
	free(g.data);
	tap_end("a result with a gap is acknowledged at the end of its pass; the missing "
		"fragment completes it");
}

static void test_undecodable(void)
{
	struct ep_task_opts t = { .type = 1, .priority = 3 };
	struct ep_client_link_stats ls = { .sz = sizeof(ls) };
	static uint8_t pl[65536], z[512], bad[512];
	const char *text = "the result, compressed, with its checksum: the result, compressed";
	struct ep_msg m = { 0 }, r = { 0 }, rt; /* zeros where edge_get() finds nothing */
	struct got g = { 0 };
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t zn;
	uint64_t id;

	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	zn = ZSTD_compress2(cc, z, sizeof(z), text, strlen(text));
	ZSTD_freeCCtx(cc);
	memcpy(bad, z, zn);
	bad[zn - 1] ^= 0x01; /* the checksum no longer matches */

	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &t, "hi", 2, on_done, &g, &id), 0);
	EXPECT_EQ(edge_get(100, &m, pl), 1);
	EXPECT_EQ(m.kind, EP_KIND_REQUEST);
	rt = (struct ep_msg)EP_TEST_MSG(EP_KIND_RESPONSE, .task_id = id, .flags = EP_F_ZSTD);
	edge_send(&rt, bad, (uint32_t)zn, 1400, 0);
	/* A single-fragment task asks by sending itself again (a fragmented one would
	 * send RESULT_ACK count 0): one datagram, which any node behind a gateway can take. */
	EXPECT_EQ(edge_get(100, &r, pl), 1);
	EXPECT_EQ(r.kind, EP_KIND_REQUEST);
	EXPECT(r.task_id == id && (r.flags & EP_F_RETRY));
	EXPECT_EQ(g.n, 0);
	edge_send(&rt, z, (uint32_t)zn, 1400, 0);
	for (int i = 0; i < 100 && !g.n; i++)
		ep_client_poll(c, 2);
	EXPECT_EQ(g.n, 1);
	EXPECT_EQ(g.error, 0);
	EXPECT_EQ(g.attempts, 2);
	EXPECT(g.len == strlen(text) && !memcmp(g.data, text, g.len));
	free(g.data);
	ep_client_get_link_stats(c, &ls);
	EXPECT_EQ(ls.results_undecodable, 1);
	tap_end("a result that fails its zstd checksum is asked for again (the request again), "
		"then completes");
}

static void test_unknown_edge(uint16_t port)
{
	static uint8_t req[20000], pl[65536];
	struct ep_task_opts t = { .type = 1, .priority = 3 };
	struct ep_client_link_stats ls = { .sz = sizeof(ls) };
	struct ep_msg m;
	struct got g = { 0 };
	uint32_t reqs = 0, acks = 0, count = 0;
	uint64_t id;

	c = session(port);
	fill(req, sizeof(req), 3);
	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &t, req, sizeof(req), on_done, &g, &id), 0);
	/* First pass, then (at the timer, ~100 ms) a RESULT_ACK alone: an edge that
	 * acknowledges would say so in its answer. None comes: at the next timer, a whole
	 * resend and a RESULT_ACK. */
	while (edge_get(250, &m, pl) == 1 && reqs + acks < 200) {
		if (m.kind == EP_KIND_REQUEST) {
			reqs++;
			count = m.frag_count;
		} else if (m.kind == EP_KIND_RESULT_ACK) {
			EXPECT_EQ(reqs, (acks + 1) * count);
			if (++acks == 2)
				break;
		}
	}
	EXPECT_EQ(reqs, 2 * count);
	EXPECT_EQ(acks, 2);
	ep_client_get_link_stats(c, &ls);
	EXPECT_EQ(ls.whole_resends, 1);
	EXPECT(!ls.edge_acks);
	tap_end("with an edge not known to acknowledge, the timer asks with RESULT_ACK, then "
		"resends the task whole (%u datagrams) when that got no answer",
		reqs);
	ep_client_close(c);
	c = NULL;
	EXPECT_EQ(g.error, -ECANCELED);
}

int main(void)
{
	uint16_t port = edge_open();

	c = session(port);
	test_repairs();
	test_undecodable();
	ep_client_close(c);
	test_unknown_edge(port);
	close(edge);
	return tap_finish();
}
