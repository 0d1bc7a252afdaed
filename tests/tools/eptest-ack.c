// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-ack - selective repeat at the edge (docs/protocol.md 5.1), by hand over raw UDP:
 * TASK_ACK while a request is reassembled (at the end of a pass with gaps), RESULT_ACK
 * answered with only the result fragments it does not list, TASK_ACK for a task being
 * reassembled and for an unknown one, and the amplification limit on every answer to a
 * source that has not validated its address (3 x the RESULT_ACK, else RETRY).
 *
 *   eptest-ack --to ADDR [--port N] [--type T]     TAP, one case per line
 *
 * The node runs the echo handler (type T, 1 by default) in the default validation mode.
 * Every wait is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "../lib/tap.h"
#include "opts.h"
#include "raw.h"

#define WAIT_MS	 2000
#define QUIET_MS 150	/* how long "nothing else comes" is watched */
#define TASK_LEN 20000	/* 15 fragments at a 1500-byte MTU */
#define BIG_LEN	 142000 /* 100 */

static struct sockaddr_storage to_ss;
static socklen_t to_len;
static bool ipv6;
static uint16_t type = 1;
static uint64_t next_id = 0x5e1ec7000ull;
static uint8_t task[BIG_LEN];

/* One datagram received for the task, decoded. */
struct rx {
	struct ep_msg m;
	uint8_t payload[RAW_MTU];
	uint32_t len; /* UDP payload bytes */
};

/* The next datagram for task @id within @ms (others are skipped): 0, or -1. */
static int rx_next(int fd, uint64_t id, int ms, struct rx *r)
{
	double give_up = tool_now() + ms / 1e3;
	uint8_t buf[65536];

	for (;;) {
		const uint8_t *payload;
		ssize_t n;

		if (!tool_wait_in(fd, give_up, INT_MAX))
			return -1;
		n = raw_recv_msg(fd, buf, sizeof(buf), &r->m, &payload);
		if (n <= 0 || r->m.task_id != id)
			continue;
		r->len = (uint32_t)n;
		memcpy(r->payload, payload,
		       r->m.payload_len < sizeof(r->payload) ? r->m.payload_len
							     : sizeof(r->payload));
		return 0;
	}
}

static struct ep_msg request(uint64_t id)
{
	return (struct ep_msg){ .kind = EP_KIND_REQUEST,
				.priority = EP_PRIO_DEFAULT,
				.flags = EP_F_PLAIN_REPLY,
				.task_type = type,
				.tenant_id = 1,
				.task_id = id };
}

/* Send fragment @i of the task @m (@len bytes of task[]). */
static void send_frag_len(int fd, const struct ep_msg *m, uint32_t i, uint32_t len)
{
	uint32_t fs = ep_frag_size_for_mtu(RAW_MTU, ipv6);
	uint8_t d[RAW_MTU];
	ssize_t n = ep_frag_build(m, task, len, fs, i, d, sizeof(d));

	if (n > 0)
		send(fd, d, (size_t)n, 0);
}

static void send_frag(int fd, const struct ep_msg *m, uint32_t i)
{
	send_frag_len(fd, m, i, TASK_LEN);
}

static uint32_t task_frags(void)
{
	return ep_frag_count(TASK_LEN, ep_frag_size_for_mtu(RAW_MTU, ipv6));
}

/* Send a RESULT_ACK for @id with @a (@retry: with its token). Returns its bytes. */
static uint32_t send_result_ack(int fd, uint64_t id, const struct ep_ack *a,
				const struct ep_msg *retry)
{
	struct ep_msg m = { .kind = EP_KIND_RESULT_ACK,
			    .priority = EP_PRIO_DEFAULT,
			    .task_type = type,
			    .tenant_id = 1,
			    .task_id = id };
	uint8_t p[4 + 4 * EP_ACK_MAX_RANGES], d[RAW_MTU];
	ssize_t pl = ep_ack_encode(a, EP_ACK_MAX_RANGES, p, sizeof(p)), n;

	if (retry)
		raw_use_token(&m, retry);
	m.flags &= (uint8_t)~EP_F_RETRY;
	if (pl < 0)
		return 0;
	n = ep_frag_build(&m, p, (uint32_t)pl, (uint32_t)pl, 0, d, sizeof(d));
	if (n <= 0 || send(fd, d, (size_t)n, 0) != n)
		return 0;
	return (uint32_t)n;
}

/* Run the whole task @id and wait for its complete result; its fragment count in *count,
 * or 0. */
static void run_task(int fd, uint64_t id, uint32_t *count)
{
	struct ep_msg m = request(id);
	uint32_t have = 0;
	uint8_t got[256] = { 0 };
	struct exch x = { 0 };
	struct rx r;

	*count = 0;
	raw_send(fd, ipv6, &m, task, TASK_LEN, &x);
	while (!rx_next(fd, id, WAIT_MS, &r)) {
		if (r.m.kind == EP_KIND_TASK_ACK)
			continue;
		if (r.m.kind != EP_KIND_RESPONSE || r.m.frag_count > 256)
			break;
		if (!got[r.m.frag_index]++)
			have++;
		if (have == r.m.frag_count) {
			*count = have;
			break;
		}
	}
}

/* The result fragments that come for @id within QUIET_MS, as a bitmap in @got (256
 * entries); other kinds counted in *other. */
static uint32_t collect_frags(int fd, uint64_t id, uint8_t *got, uint32_t *other)
{
	uint32_t n = 0;
	struct rx r;

	memset(got, 0, 256);
	*other = 0;
	while (!rx_next(fd, id, QUIET_MS, &r)) {
		if (r.m.kind == EP_KIND_RESPONSE && r.m.frag_index < 256) {
			got[r.m.frag_index]++;
			n++;
		} else {
			(*other)++;
		}
	}
	return n;
}

static void case_task_ack(int fd)
{
	uint64_t id = next_id++;
	struct ep_msg m = request(id);
	uint32_t count = task_frags(), got = 0;
	struct ep_ack a = { 0 };
	struct exch x = { 0 };
	struct rx r;

	tap_begin();
	for (uint32_t i = 0; i < count; i++)
		if (i != 3 && i != 7)
			send_frag(fd, &m, i);
	/* The last fragment ended the pass with gaps: a TASK_ACK at once. */
	while (!rx_next(fd, id, WAIT_MS, &r))
		if (r.m.kind == EP_KIND_TASK_ACK)
			break;
	EXPECT_EQ(r.m.kind, EP_KIND_TASK_ACK);
	EXPECT(!ep_ack_decode(r.payload, r.m.payload_len, &a));
	EXPECT_EQ(a.count, count);
	EXPECT_EQ(a.n, 3);
	EXPECT(a.r[0].first == 0 && a.r[0].last == 2);
	EXPECT(a.r[1].first == 4 && a.r[1].last == 6);
	EXPECT(a.r[2].first == 8 && a.r[2].last == count - 1);
	EXPECT_EQ(r.m.task_type, type);
	EXPECT_EQ(r.m.tenant_id, 1);
	EXPECT_EQ(r.m.frag_count, 1);
	send_frag(fd, &m, 3);
	send_frag(fd, &m, 7);
	raw_collect(fd, id, WAIT_MS, &x);
	got = x.complete && x.kind == EP_KIND_RESPONSE && x.result_len == TASK_LEN;
	EXPECT(got);
	tap_end("a request without fragments 3 and 7 gets TASK_ACK [0,2] [4,6] [8,%u] at the "
		"end of its pass; the two sent, the result comes",
		count - 1);
}

static void case_result_ack(int fd)
{
	uint64_t id = next_id++;
	struct ep_ack a = { 0 };
	uint32_t count, sent, other, n;
	struct ep_msg retry;
	uint8_t got[256];
	struct rx r;

	tap_begin();
	run_task(fd, id, &count);
	EXPECT(count > 8);
	if (count <= 8)
		goto out;
	/* Unvalidated: the last two fragments (about 3 KB) are more than 3 x the ack. */
	a = (struct ep_ack){ .count = (uint16_t)count,
			     .n = 1,
			     .r = { { 0, (uint16_t)(count - 3) } } };
	usleep(20000); /* past the resend gap of the reply */
	sent = send_result_ack(fd, id, &a, NULL);
	retry.kind = 0;
	n = 0;
	while (!rx_next(fd, id, QUIET_MS, &r)) {
		n += r.len;
		if (r.m.kind == EP_KIND_RETRY)
			retry = r.m;
	}
	EXPECT_EQ(retry.kind, EP_KIND_RETRY);
	EXPECT(n <= 3 * sent);
	tap_end("an unvalidated RESULT_ACK missing 2 fragments gets RETRY (%u bytes for %u)", n,
		sent);
	if (retry.kind != EP_KIND_RETRY)
		return;

	tap_begin();
	send_result_ack(fd, id, &a, &retry);
	n = collect_frags(fd, id, got, &other);
	EXPECT_EQ(n, 2);
	EXPECT(got[count - 2] == 1 && got[count - 1] == 1);
	EXPECT_EQ(other, 0);
	tap_end("with the token, the same RESULT_ACK gets only fragments %u and %u", count - 2,
		count - 1);

	tap_begin();
	a = (struct ep_ack){ .count = (uint16_t)count,
			     .n = 3,
			     .r = { { 0, 0 }, { 2, 4 }, { 6, (uint16_t)(count - 1) } } };
	send_result_ack(fd, id, &a, &retry);
	send_result_ack(fd, id, &a, &retry); /* a duplicate on the way: ignored */
	n = collect_frags(fd, id, got, &other);
	EXPECT_EQ(n, 2);
	EXPECT(got[1] == 1 && got[5] == 1);
	tap_end("a RESULT_ACK listing all but 1 and 5 gets those two, once for two copies");

	tap_begin();
	usleep(5000);
	a = (struct ep_ack){ 0 };
	send_result_ack(fd, id, &a, &retry);
	n = collect_frags(fd, id, got, &other);
	EXPECT_EQ(n, count);
	tap_end("a RESULT_ACK of count 0 gets the whole result (%u fragments)", n);

	tap_begin();
	a = (struct ep_ack){ .count = (uint16_t)count,
			     .n = 1,
			     .r = { { 0, (uint16_t)(count - 1) } } };
	send_result_ack(fd, id, &a, &retry);
	n = collect_frags(fd, id, got, &other);
	EXPECT_EQ(n + other, 0);
	tap_end("a RESULT_ACK listing every fragment gets nothing");
out:;
}

/* Wait out what the node sends of task @id (its pause acknowledgement), then ask with an
 * empty RESULT_ACK: the answer must be a TASK_ACK within 3 times the question, decoded
 * into *a. Returns the answer's bytes; *@asked, the question's. */
static uint32_t ask_task_ack(int fd, uint64_t id, struct ep_ack *a, uint32_t *asked)
{
	struct ep_ack q = { 0 };
	uint32_t sent;
	struct rx r;

	while (!rx_next(fd, id, 100, &r))
		;
	sent = send_result_ack(fd, id, &q, NULL);
	EXPECT(!rx_next(fd, id, WAIT_MS, &r));
	EXPECT_EQ(r.m.kind, EP_KIND_TASK_ACK);
	EXPECT(r.len <= 3 * sent);
	EXPECT(!ep_ack_decode(r.payload, r.m.payload_len, a));
	*asked = sent;
	return (uint32_t)r.len;
}

static void case_reassembling(int fd)
{
	uint64_t id = next_id++;
	struct ep_msg m = request(id);
	uint32_t count = task_frags(), sent;
	struct ep_ack a = { 0 };

	tap_begin();
	/* Fragments 0..4 of the task: no pass ended; wait out the pause acknowledgement. */
	for (uint32_t i = 0; i < 5; i++)
		send_frag(fd, &m, i);
	ask_task_ack(fd, id, &a, &sent);
	EXPECT_EQ(a.count, count);
	EXPECT_EQ(a.n, 1);
	EXPECT(a.r[0].first == 0 && a.r[0].last == 4);
	tap_end("a RESULT_ACK for a task being reassembled gets TASK_ACK [0,4] of %u", count);
}

static void case_many_ranges(int fd)
{
	uint64_t id = next_id++;
	struct ep_msg m = request(id);
	uint32_t count, sent, got;
	struct ep_ack a = { 0 };

	tap_begin();
	/* Every other fragment but the last of a 100-fragment task: 50 ranges held. An
	 * empty RESULT_ACK is 68 bytes, so 204 back: 64 of header, 4 of count, and 34
	 * ranges, the lowest. */
	m.total_len = BIG_LEN;
	count = ep_frag_count(BIG_LEN, ep_frag_size_for_mtu(RAW_MTU, ipv6));
	for (uint32_t i = 0; i + 1 < count; i += 2)
		send_frag_len(fd, &m, i, BIG_LEN);
	got = ask_task_ack(fd, id, &a, &sent);
	EXPECT_EQ(a.count, count);
	EXPECT_EQ(a.n, 34);
	for (uint16_t i = 0; i < a.n; i++)
		EXPECT(a.r[i].first == 2 * i && a.r[i].last == 2 * i);
	tap_end("TASK_ACK lists every other fragment, %u ranges (%u bytes for %u)", a.n, got, sent);
}

static void case_unknown(int fd)
{
	uint64_t id = next_id++ + 1000000;
	struct ep_ack q = { .count = 3, .n = 1, .r = { { 0, 1 } } }, a = { .count = 9 };
	uint32_t sent;
	struct rx r;

	tap_begin();
	sent = send_result_ack(fd, id, &q, NULL);
	EXPECT(!rx_next(fd, id, WAIT_MS, &r));
	EXPECT_EQ(r.m.kind, EP_KIND_TASK_ACK);
	EXPECT(r.len <= 3 * sent);
	EXPECT(!ep_ack_decode(r.payload, r.m.payload_len, &a));
	EXPECT_EQ(a.count, 0);
	EXPECT_EQ(a.n, 0);
	EXPECT(rx_next(fd, id, QUIET_MS, &r)); /* and nothing else */
	tap_end("a RESULT_ACK for an unknown task gets TASK_ACK with count 0");
}

/* DECOMPRESS_FAILED is retriable (a frame corrupted on the way): answered, not remembered,
 * so a RESULT_ACK finds nothing and the client sends the task again. */
static void case_decompress_failed(int fd)
{
	uint64_t id = next_id++ + 2000000;
	struct ep_msg m = request(id);
	struct ep_ack q = { 0 }, a = { .count = 9 };
	uint8_t d[RAW_MTU];
	ssize_t n;
	struct rx r;

	tap_begin();
	m.flags |= EP_F_ZSTD;
	n = ep_frag_build(&m, "not zstd at all", 15, 15, 0, d, sizeof(d));
	EXPECT(n > 0 && send(fd, d, (size_t)n, 0) == n);
	EXPECT(!rx_next(fd, id, WAIT_MS, &r));
	EXPECT_EQ(r.m.kind, EP_KIND_ERROR);
	EXPECT_EQ(r.m.status, EP_ST_DECOMPRESS_FAILED);
	send_result_ack(fd, id, &q, NULL);
	EXPECT(!rx_next(fd, id, WAIT_MS, &r));
	EXPECT_EQ(r.m.kind, EP_KIND_TASK_ACK);
	EXPECT(!ep_ack_decode(r.payload, r.m.payload_len, &a));
	EXPECT_EQ(a.count, 0);
	tap_end("decompress_failed is not cached: a RESULT_ACK then gets TASK_ACK count 0");
}

static void case_invalid(int fd)
{
	uint64_t id = next_id++ + 1000000;
	struct ep_msg m = { .kind = EP_KIND_RESULT_ACK,
			    .priority = EP_PRIO_DEFAULT,
			    .task_type = type,
			    .tenant_id = 1,
			    .task_id = id };
	/* Ranges out of order: invalid. */
	uint8_t p[12] = { 0, 9, 0, 2, 0, 5, 0, 6, 0, 1, 0, 2 }, d[RAW_MTU];
	ssize_t n = ep_frag_build(&m, p, sizeof(p), sizeof(p), 0, d, sizeof(d));
	struct rx r;

	tap_begin();
	EXPECT(n > 0 && send(fd, d, (size_t)n, 0) == n);
	EXPECT(rx_next(fd, id, QUIET_MS, &r));
	tap_end("a RESULT_ACK with invalid ranges gets no answer");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: eptest-ack --to ADDR [--port N] [--type T]\n");
}

int main(int argc, char **argv)
{
	const char *to = NULL;
	unsigned int port = EP_DEFAULT_PORT;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("type", type, 1, 65535),
		{ 0 },
	};
	int fd;

	if (tool_opts(argc, argv, opts, usage) != argc)
		return 2;
	if (!to || tool_addr(to, port, &to_ss, &to_len))
		return 2;
	ipv6 = to_ss.ss_family == AF_INET6;
	for (uint32_t i = 0; i < BIG_LEN; i++) /* incompressible enough */
		task[i] = (uint8_t)((i * 2654435761u) >> 13);
	fd = raw_open(&to_ss, to_len);
	if (fd < 0) {
		printf("Bail out! cannot open a socket: %s\n", strerror(errno));
		return 1;
	}
	case_task_ack(fd);
	case_result_ack(fd);
	case_reassembling(fd);
	case_many_ranges(fd);
	case_unknown(fd);
	case_decompress_failed(fd);
	case_invalid(fd);
	close(fd);
	return tap_finish();
}
