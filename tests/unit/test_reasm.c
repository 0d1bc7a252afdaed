// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of reassembly: orders, duplicates, conflicts, limits, expiry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/codec.h"
#include "edgeplane/reasm.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

static const struct ep_reasm_cfg default_cfg = {
	.max_tasks = 64,
	.max_bytes = 64u << 20,
	.max_src_tasks = 16,
	.max_src_bytes = 32u << 20,
	.max_task_len = 16u << 20,
	.timeout_ns = 1000000000ull,
};

static struct ep_peer peer(int host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ep_peer p;
	char ip[32];

	snprintf(ip, sizeof(ip), "198.18.1.%d", host);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	ep_peer_from_sockaddr(&p, (struct sockaddr *)&sa);
	return p;
}

/* Fragment @i of a task as the receiver sees it after ep_decode. */
struct frag {
	struct ep_msg m;
	const uint8_t *payload;
	uint8_t dgram[2048];
};

static int make_frag(struct frag *f, uint64_t id, const uint8_t *data, uint32_t total,
		     uint32_t fs, uint32_t i)
{
	struct ep_msg t = { .kind = EP_KIND_REQUEST, .priority = 3, .task_type = 5,
			    .tenant_id = 1, .task_id = id };
	ssize_t n = ep_frag_build(&t, data, total, fs, i, f->dgram, sizeof(f->dgram));

	if (n < 0)
		return (int)n;
	return ep_decode(f->dgram, (size_t)n, EP_MAX_TASK_LEN, &f->m, &f->payload, NULL);
}

static void shuffle(uint32_t *a, uint32_t n)
{
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(rnd() % i), t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* Random sizes and orders, with duplicates: every task completes once, intact. */
static void test_random_orders(void)
{
	static uint8_t data[400000];
	static uint32_t order[8000], dist[4000];
	struct ep_reasm *r = ep_reasm_new(&default_cfg);
	struct ep_peer p = peer(1, 5000);
	int bad = 0, done = 0;

	for (int t = 0; t < 200 && r; t++) {
		uint32_t fs = (uint32_t)(rnd() % 1400) + 1;
		uint32_t total = (uint32_t)(rnd() % (fs * 250u)) + fs + 1;
		uint32_t count = ep_frag_count(total, fs), n = 0, completions = 0;
		struct ep_reasm_task task = { 0 };
		struct frag f;

		for (uint32_t i = 0; i < total; i++)
			data[i] = (uint8_t)rnd();
		/* A shuffled order of the distinct indices, with duplicates of fragments already
		 * sent mixed in before the last one. (Fragments after completion would start a
		 * new task: the runtime's result cache answers those, not reassembly.) */
		for (uint32_t i = 0; i < count; i++)
			dist[i] = i;
		shuffle(dist, count);
		for (uint32_t i = 0; i + 1 < count; i++) {
			order[n++] = dist[i];
			if (rnd() % 4 == 0)
				order[n++] = dist[rnd() % (i + 1)];
		}
		order[n++] = dist[count - 1];
		for (uint32_t k = 0; k < n; k++) {
			int ret;

			if (make_frag(&f, (uint64_t)t, data, total, fs, order[k])) {
				bad++;
				break;
			}
			ret = ep_reasm_add(r, &p, &f.m, f.payload, 1000, NULL, &task);
			if (ret < 0) {
				bad++;
				break;
			}
			if (ret == 1) {
				completions++;
				if (task.len != total || memcmp(task.data, data, total))
					bad++;
				free(task.data);
			}
		}
		bad += completions != 1;
		done += completions == 1;
	}
	tap_begin();
	EXPECT(r != NULL);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(done, 200);
	if (r) {
		struct ep_reasm_stats st;

		ep_reasm_get_stats(r, &st);
		EXPECT_EQ(st.tasks, 0);
		EXPECT_EQ(st.bytes, 0);
		EXPECT(st.duplicates > 0);
	}
	tap_end("200 random tasks, shuffled with duplicates: each completes once and intact");
	ep_reasm_free(r);
}

static void test_interleaved_sources(void)
{
	uint8_t a[5000], b[5000];
	struct ep_reasm *r = ep_reasm_new(&default_cfg);
	struct ep_peer pa = peer(1, 5000), pb = peer(2, 5000), pa2 = peer(1, 5001);
	struct ep_reasm_task task;
	struct frag f;
	int got = 0;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	tap_begin();
	/* Same task id from three sources (two ports of one host) must not mix. */
	for (uint32_t i = 0; i < 5; i++) {
		const struct ep_peer *ps[] = { &pa, &pb, &pa2 };

		for (int s = 0; s < 3; s++) {
			make_frag(&f, 77, s == 1 ? b : a, 5000, 1000, i);
			if (ep_reasm_add(r, ps[s], &f.m, f.payload, 1, NULL, &task) == 1) {
				got++;
				EXPECT(!memcmp(task.data, s == 1 ? b : a, 5000));
				EXPECT(task.peer.port == ps[s]->port);
				free(task.data);
			}
		}
	}
	EXPECT_EQ(got, 3);
	tap_end("one task id from different sources and ports stays separate");
	ep_reasm_free(r);
}

static void test_rejects(void)
{
	uint8_t data[3000] = { 0 };
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_reasm *r;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm_task task;
	struct frag f, g;
	struct ep_reasm_stats st;

	tap_begin();
	cfg.max_task_len = 2000;
	r = ep_reasm_new(&cfg);
	make_frag(&f, 1, data, 100, 1400, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 1, NULL, &task), -EINVAL);
	make_frag(&f, 2, data, 3000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 1, NULL, &task), -EMSGSIZE);
	tap_end("single fragments and oversize tasks are refused");

	tap_begin();
	make_frag(&f, 3, data, 1500, 500, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 1, NULL, &task), 0);
	make_frag(&g, 3, data, 1800, 600, 1);	/* same id, different shape */
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), -EPROTO);
	make_frag(&g, 3, data, 1500, 500, 1);
	g.m.task_type = 6;
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), -EPROTO);
	make_frag(&g, 3, data, 1500, 500, 1);
	g.m.flags |= EP_F_RETRY;	/* a retry's fragment completes the first attempt's */
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 0);	/* duplicate */
	make_frag(&g, 3, data, 1500, 500, 2);
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 1);
	free(task.data);
	ep_reasm_get_stats(r, &st);
	EXPECT_EQ(st.conflicts, 2);
	EXPECT_EQ(st.duplicates, 1);
	EXPECT_EQ(st.completed, 1);
	tap_end("conflicting fragments are refused and the task still completes");
	ep_reasm_free(r);
}

static void test_limits(void)
{
	uint8_t data[10000] = { 0 };
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_reasm *r;
	struct ep_peer p1 = peer(1, 1), p2 = peer(2, 1), p3 = peer(3, 1);
	struct ep_reasm_task task;
	struct ep_reasm_stats st;
	struct frag f;
	int i;

	tap_begin();
	cfg.max_tasks = 4;
	cfg.max_src_tasks = 2;
	r = ep_reasm_new(&cfg);
	for (i = 0; i < 2; i++) {
		make_frag(&f, (uint64_t)i, data, 2000, 1000, 0);
		EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), 0);
	}
	make_frag(&f, 9, data, 2000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), -ENOBUFS);
	EXPECT_EQ(ep_reasm_add(r, &p2, &f.m, f.payload, 1, NULL, &task), 0);
	EXPECT_EQ(ep_reasm_add(r, &p3, &f.m, f.payload, 1, NULL, &task), 0);
	make_frag(&f, 10, data, 2000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p3, &f.m, f.payload, 1, NULL, &task), -ENOBUFS);	/* global */
	/* Finishing a task frees its slot. */
	make_frag(&f, 0, data, 2000, 1000, 1);
	EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), 1);
	free(task.data);
	make_frag(&f, 10, data, 2000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p3, &f.m, f.payload, 1, NULL, &task), 0);
	ep_reasm_get_stats(r, &st);
	EXPECT_EQ(st.refused, 2);
	EXPECT_EQ(st.tasks, 4);
	tap_end("task limits: per source first, then in total; a finished task frees a slot");
	ep_reasm_free(r);

	tap_begin();
	cfg = default_cfg;
	cfg.max_src_bytes = 25000;
	cfg.max_bytes = 40000;
	r = ep_reasm_new(&cfg);
	make_frag(&f, 1, data, 10000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), 0);
	make_frag(&f, 2, data, 10000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), 0);
	make_frag(&f, 3, data, 10000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p1, &f.m, f.payload, 1, NULL, &task), -ENOBUFS);	/* source bytes */
	EXPECT_EQ(ep_reasm_add(r, &p2, &f.m, f.payload, 1, NULL, &task), 0);
	make_frag(&f, 4, data, 10000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p3, &f.m, f.payload, 1, NULL, &task), -ENOBUFS);	/* all bytes */
	ep_reasm_get_stats(r, &st);
	EXPECT(st.bytes <= cfg.max_bytes);
	EXPECT_EQ(st.tasks, 3);
	tap_end("byte limits: per source and in total, never exceeded");
	ep_reasm_free(r);
}

static int expired_calls;
static uint64_t expired_id, expired_user;

static void on_expire(void *arg, const struct ep_peer *p, const struct ep_msg *m,
		      const void *user)
{
	expired_calls++;
	expired_id = m->task_id;
	memcpy(&expired_user, user, sizeof(expired_user));
}

static void test_expiry(void)
{
	uint8_t data[4000] = { 0 };
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_reasm *r;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm_task task;
	struct ep_reasm_stats st;
	struct frag f;
	const uint64_t s = 1000000000ull;

	tap_begin();
	cfg.max_tasks = 2;
	cfg.max_src_tasks = 2;
	cfg.user_size = sizeof(uint64_t);
	cfg.on_expire = on_expire;
	r = ep_reasm_new(&cfg);
	make_frag(&f, 1, data, 3000, 1000, 0);	/* fragment 2 never comes */
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 1 * s, &(uint64_t){ 4242 }, &task), 0);
	make_frag(&f, 2, data, 3000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 1 * s, NULL, &task), 0);
	make_frag(&f, 2, data, 3000, 1000, 1);	/* task 2 stays active */
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, s + s / 2, NULL, &task), 0);
	EXPECT_EQ(ep_reasm_expire(r, 2 * s - 1), 0);
	EXPECT_EQ(ep_reasm_expire(r, 2 * s), 1);
	EXPECT_EQ(expired_calls, 1);
	EXPECT_EQ(expired_id, 1);
	EXPECT_EQ(expired_user, 4242);
	make_frag(&f, 2, data, 3000, 1000, 2);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 2 * s, NULL, &task), 1);
	free(task.data);
	tap_end("an idle task expires after the timeout with its context, an active one does not");

	tap_begin();
	/* Full table: a new task first expires stale ones instead of being refused. */
	make_frag(&f, 3, data, 3000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 10 * s, NULL, &task), 0);
	make_frag(&f, 4, data, 3000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 10 * s, NULL, &task), 0);
	make_frag(&f, 5, data, 3000, 1000, 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 10 * s, NULL, &task), -ENOBUFS);
	EXPECT_EQ(ep_reasm_add(r, &p, &f.m, f.payload, 12 * s, NULL, &task), 0);
	ep_reasm_get_stats(r, &st);
	EXPECT_EQ(st.tasks, 1);
	EXPECT_EQ(st.expired, 3);
	EXPECT_EQ(expired_calls, 3);	/* the two expired to make room were reported too */
	tap_end("a full table makes room by expiring stale tasks, not live ones");
	ep_reasm_free(r);
}

static void test_bad_cfg(void)
{
	struct ep_reasm_cfg cfg = default_cfg;

	tap_begin();
	cfg.max_tasks = 0;
	errno = 0;
	EXPECT(ep_reasm_new(&cfg) == NULL);
	EXPECT_EQ(errno, EINVAL);
	tap_end("a zero limit is refused with EINVAL");
}

int main(void)
{
	rnd_seed(0x2545f4914f6cdd1dULL);
	test_random_orders();
	test_interleaved_sources();
	test_rejects();
	test_limits();
	test_expiry();
	test_bad_cfg();
	return tap_finish();
}
