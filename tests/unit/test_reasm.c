// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of reassembly: orders, duplicates, conflicts, limits, expiry, and what a
 * hostile sender does (issue 11): memory charged as it arrives, sources grouped by prefix,
 * the least complete tasks evicted under pressure, a lifetime however a task trickles,
 * cancel. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
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
	.prefix_v4 = 24,
	.prefix_v6 = 64,
	.max_task_len = 16u << 20,
	.timeout_ns = 1000000000ull,
};

static struct ep_peer peer(int host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ep_peer p;
	char ip[32];

	snprintf(ip, sizeof(ip), "198.18.%d.1", host); /* one /24 each */
	inet_pton(AF_INET, ip, &sa.sin_addr);
	ep_peer_from_sockaddr(&p, (struct sockaddr *)&sa);
	return p;
}

/* A peer by address (IPv4 or IPv6 text). */
static struct ep_peer peer_at(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ep_peer p;

	if (inet_pton(AF_INET, ip, &sa.sin_addr) == 1)
		ep_peer_from_sockaddr(&p, (struct sockaddr *)&sa);
	else if (inet_pton(AF_INET6, ip, &sa6.sin6_addr) == 1)
		ep_peer_from_sockaddr(&p, (struct sockaddr *)&sa6);
	else
		abort();
	return p;
}

/* Fragment @i of a task as the receiver sees it after ep_decode. */
struct frag {
	struct ep_msg m;
	const uint8_t *payload;
	uint8_t dgram[2048];
};

static int make_frag(struct frag *f, uint64_t id, const uint8_t *data, uint32_t total, uint32_t fs,
		     uint32_t i)
{
	struct ep_msg t = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = 5,
			    .tenant_id = 1,
			    .task_id = id };
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
	make_frag(&g, 3, data, 1800, 600, 1); /* same id, different shape */
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), -EPROTO);
	make_frag(&g, 3, data, 1500, 500, 1);
	g.m.task_type = 6;
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), -EPROTO);
	make_frag(&g, 3, data, 1500, 500, 1);
	g.m.flags |= EP_F_RETRY; /* a retry's fragment completes the first attempt's */
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 0);
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 0); /* duplicate */
	make_frag(&g, 3, data, 1500, 500, 2);
	/* ... and one that now carries an address-validation token, and asks for a plain
	 * reply, too (docs/protocol.md 5: a later attempt may add them). */
	g.m.flags |= EP_F_RETRY | EP_F_TOKEN | EP_F_PLAIN_REPLY;
	g.m.auth_key_id = 0x3bb5;
	EXPECT_EQ(ep_reasm_add(r, &p, &g.m, g.payload, 1, NULL, &task), 1);
	free(task.data);
	ep_reasm_get_stats(r, &st);
	EXPECT_EQ(st.conflicts, 2);
	EXPECT_EQ(st.duplicates, 1);
	EXPECT_EQ(st.completed, 1);
	tap_end("conflicting fragments are refused and the task still completes");
	ep_reasm_free(r);
}

/* What the callback heard, in order. */
static struct {
	int calls;
	uint64_t id[64];
	enum ep_reasm_end why[64];
	uint64_t user, start_ns, bytes, wire_bytes;
	uint32_t frags;
} ended;

static void on_end(void *arg, const struct ep_reasm_info *t, enum ep_reasm_end why)
{
	if (ended.calls < 64) {
		ended.id[ended.calls] = t->msg.task_id;
		ended.why[ended.calls] = why;
	}
	ended.calls++;
	if (t->user)
		memcpy(&ended.user, t->user, sizeof(ended.user));
	ended.start_ns = t->start_ns;
	ended.bytes = t->bytes;
	ended.wire_bytes = t->wire_bytes;
	ended.frags = t->frags;
}

static struct ep_reasm *open_cfg(struct ep_reasm_cfg cfg)
{
	memset(&ended, 0, sizeof(ended));
	cfg.on_expire = on_end;
	cfg.user_size = sizeof(uint64_t);
	return ep_reasm_new(&cfg);
}

/* Add fragment @i of task @id (@total bytes in fragments of @fs) from @p at @now. */
static int add(struct ep_reasm *r, const struct ep_peer *p, uint64_t id, uint32_t total,
	       uint32_t fs, uint32_t i, uint64_t now)
{
	static uint8_t zeros[16u << 20];
	struct ep_reasm_task task = { 0 };
	struct frag f;
	int ret;

	if (make_frag(&f, id, zeros, total, fs, i))
		return -1000;
	ret = ep_reasm_add(r, p, &f.m, f.payload, now, &(uint64_t){ id }, &task);
	if (ret == 1)
		free(task.data);
	return ret;
}

/* add() of a fragment of priority @prio (as the runtime passes it, after its ceiling). */
static int add_prio(struct ep_reasm *r, const struct ep_peer *p, uint64_t id, uint8_t prio,
		    uint32_t i, uint64_t now)
{
	static uint8_t zeros[5000];
	struct ep_reasm_task task = { 0 };
	struct frag f;
	int ret;

	if (make_frag(&f, id, zeros, sizeof(zeros), 1000, i))
		return -1000;
	f.m.priority = prio;
	ret = ep_reasm_add(r, p, &f.m, f.payload, now, &(uint64_t){ id }, &task);
	if (ret == 1)
		free(task.data);
	return ret;
}

static struct ep_reasm_stats stats(const struct ep_reasm *r)
{
	struct ep_reasm_stats st;

	ep_reasm_get_stats(r, &st);
	return st;
}

static void test_limits(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p1 = peer(1, 1), p2 = peer(2, 1), p3 = peer(3, 1);
	struct ep_reasm *r;

	tap_begin();
	cfg.max_tasks = 4;
	cfg.max_src_tasks = 2;
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p1, 0, 3000, 1000, 0, 1), 0);
	EXPECT_EQ(add(r, &p1, 1, 3000, 1000, 0, 2), 0);
	EXPECT_EQ(add(r, &p1, 0, 3000, 1000, 1, 3), 0); /* task 0 is further along */
	/* A third task of the prefix: its least complete task makes room. */
	EXPECT_EQ(add(r, &p1, 9, 3000, 1000, 0, 4), 0);
	EXPECT_EQ(ended.calls, 1);
	EXPECT(ended.id[0] == 1 && ended.why[0] == EP_REASM_EVICTED);
	EXPECT_EQ(add(r, &p2, 9, 3000, 1000, 0, 5), 0);
	EXPECT_EQ(add(r, &p3, 9, 3000, 1000, 0, 6), 0);
	EXPECT_EQ(stats(r).tasks, 4);
	/* The table is full: the least complete of all, least recently active first. */
	EXPECT_EQ(add(r, &p3, 10, 3000, 1000, 0, 7), 0);
	EXPECT_EQ(ended.calls, 2);
	EXPECT_EQ(ended.id[1], 9); /* p1's task 9: one fragment, older than p2's and p3's */
	EXPECT_EQ(stats(r).tasks, 4);
	EXPECT_EQ(stats(r).evicted, 2);
	EXPECT_EQ(stats(r).refused, 0);
	/* Task 0 (two fragments) survived both and completes. */
	EXPECT_EQ(add(r, &p1, 0, 3000, 1000, 2, 8), 1);
	tap_end("task limits, per prefix then in total: the least complete task makes room");
	ep_reasm_free(r);

	tap_begin();
	cfg = default_cfg;
	cfg.max_src_bytes = 25000; /* 10000-byte tasks are charged whole: two per prefix */
	cfg.max_bytes = 40000;	   /* three in all */
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p1, 1, 10000, 1000, 0, 1), 0);
	EXPECT_EQ(add(r, &p1, 2, 10000, 1000, 0, 2), 0);
	EXPECT_EQ(add(r, &p1, 3, 10000, 1000, 0, 3), 0); /* evicts p1's task 1 */
	EXPECT_EQ(ended.calls, 1);
	EXPECT_EQ(ended.id[0], 1);
	EXPECT_EQ(add(r, &p2, 3, 10000, 1000, 0, 4), 0);
	EXPECT_EQ(add(r, &p3, 4, 10000, 1000, 0, 5), 0); /* evicts p1's task 2 */
	EXPECT_EQ(ended.id[1], 2);
	EXPECT(stats(r).bytes <= cfg.max_bytes);
	EXPECT_EQ(stats(r).tasks, 3);
	tap_end("byte limits, per prefix and in total, never exceeded: the least complete goes");
	ep_reasm_free(r);

	tap_begin();
	cfg = default_cfg;
	cfg.max_src_bytes = 5000; /* less than a 10000-byte task is charged */
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p1, 1, 10000, 1000, 0, 1), -ENOBUFS);
	EXPECT_EQ(stats(r).refused, 1);
	EXPECT_EQ(stats(r).tasks, 0);
	tap_end("a task that cannot fit even alone is refused (-ENOBUFS)");
	ep_reasm_free(r);
}

/* Bytes are charged as fragments arrive, by the pages written, not as declared. */
static void test_charging(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm_stats st;
	struct ep_reasm *r;
	uint64_t b1, b10;

	tap_begin();
	cfg.max_tasks = 1024;
	cfg.max_src_tasks = 1024;
	cfg.max_bytes = 64u << 20;
	cfg.max_src_bytes = 64u << 20;
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p, 1, 16u << 20, 1400, 0, 1), 0);
	b1 = stats(r).bytes;
	for (uint32_t i = 1; i < 10; i++)
		EXPECT_EQ(add(r, &p, 1, 16u << 20, 1400, i, 1), 0);
	b10 = stats(r).bytes;
	tap_diag("a 16 MiB task: %llu bytes charged for 1 fragment, %llu for 10",
		 (unsigned long long)b1, (unsigned long long)b10);
	EXPECT(b1 < 32768);
	/* 14000 contiguous bytes write four or five pages more. */
	EXPECT(b10 > b1 && b10 - b1 <= 5 * 4096ull);
	/* The same fragment again charges nothing. */
	EXPECT_EQ(add(r, &p, 1, 16u << 20, 1400, 3, 1), 0);
	EXPECT_EQ(stats(r).bytes, b10);
	tap_end("a 16 MiB task is charged by the pages its fragments wrote, not 16 MiB");

	tap_begin();
	/* 200 first fragments of 16 MiB tasks (3.2 GiB declared) fit in 64 MiB. */
	for (uint64_t id = 100; id < 300; id++)
		EXPECT_EQ(add(r, &p, id, 16u << 20, 1400, 0, 2), 0);
	st = stats(r);
	EXPECT_EQ(st.tasks, 201);
	EXPECT(st.bytes < (8u << 20));
	EXPECT_EQ(st.refused + st.evicted, 0);
	tap_end("200 first fragments of 16 MiB tasks take %llu KiB, not 3.2 GiB",
		(unsigned long long)st.bytes / 1024);
	ep_reasm_free(r);

	tap_begin();
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p, 1, 100000, 1400, 0, 1), 0); /* below EP_REASM_LAZY_MIN */
	EXPECT(stats(r).bytes >= 100000);
	b1 = stats(r).bytes;
	EXPECT_EQ(add(r, &p, 1, 100000, 1400, 1, 1), 0);
	EXPECT_EQ(stats(r).bytes, b1);
	EXPECT_EQ(ep_reasm_cancel(r, &p, 1, NULL), 0);
	EXPECT_EQ(stats(r).bytes, 0);
	tap_end("a small task is charged whole when it opens; nothing is left when it goes");
	ep_reasm_free(r);

	tap_begin();
	/* A fragment of a task in progress that finds no room is dropped, the task kept. */
	cfg = default_cfg;
	cfg.max_bytes = 64 * 1024;
	r = open_cfg(cfg);
	{
		int ret = 0, n = 0;

		/* Fragments 4096 bytes apart: each writes a page of its own. */
		for (uint32_t i = 0; i < 64 && ret == 0; i += 3, n++)
			ret = add(r, &p, 1, 1u << 20, 1400, i, 1);
		EXPECT_EQ(ret, -ENOSPC);
		EXPECT(n > 5);
	}
	st = stats(r);
	EXPECT_EQ(st.tasks, 1);
	EXPECT_EQ(st.dropped, 1);
	EXPECT(st.bytes <= cfg.max_bytes);
	EXPECT_EQ(ended.calls, 0);
	tap_end("a fragment with no room is dropped (-ENOSPC) and its task stays");
	ep_reasm_free(r);
}

/* Resident memory follows what arrived, with large blocks lazily backed. */
static void test_rss(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm *r;
	long before, after;
	FILE *f;

	cfg.max_tasks = 64;
	cfg.max_src_tasks = 64;
	r = open_cfg(cfg);
	f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%*d %ld", &before) != 1) {
		tap_skip("resident memory of 32 first fragments of 16 MiB tasks",
			 "no /proc/self/statm");
		if (f)
			fclose(f);
		ep_reasm_free(r);
		return;
	}
	fclose(f);
	for (uint64_t id = 1; id <= 32; id++)
		add(r, &p, id, 16u << 20, 1400, (uint32_t)(id * 97), 1);
	f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%*d %ld", &after) != 1)
		after = before;
	if (f)
		fclose(f);
	tap_begin();
	EXPECT_EQ(stats(r).tasks, 32);
	EXPECT((after - before) * 4096 < (16l << 20));
	tap_end("32 fragments of 16 MiB tasks (512 MiB declared): %ld KiB more resident",
		(after - before) * 4);
	ep_reasm_free(r);
}

/* Does a task from @b evict one from @a, with one task allowed per prefix? */
static bool same_group(uint8_t v4, uint8_t v6, const char *a, const char *b)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer pa = peer_at(a, 1), pb = peer_at(b, 2);
	struct ep_reasm *r;
	bool same;

	cfg.prefix_v4 = v4;
	cfg.prefix_v6 = v6;
	cfg.max_src_tasks = 1;
	r = open_cfg(cfg);
	add(r, &pa, 1, 3000, 1000, 0, 1);
	add(r, &pb, 2, 3000, 1000, 0, 2);
	same = stats(r).evicted == 1;
	ep_reasm_free(r);
	return same;
}

static void test_prefixes(void)
{
	tap_begin();
	EXPECT(same_group(24, 64, "198.18.5.1", "198.18.5.200"));
	EXPECT(!same_group(24, 64, "198.18.5.1", "198.18.6.1"));
	EXPECT(same_group(24, 64, "2001:db8:0:1::1", "2001:db8:0:1:ffff::2"));
	EXPECT(!same_group(24, 64, "2001:db8:0:1::1", "2001:db8:0:2::1"));
	tap_end("default prefixes: IPv4 /24 and IPv6 /64 share their limits");

	tap_begin();
	EXPECT(!same_group(32, 128, "198.18.5.1", "198.18.5.2"));
	EXPECT(same_group(32, 128, "198.18.5.1", "198.18.5.1")); /* another port */
	EXPECT(same_group(16, 48, "198.18.5.1", "198.18.6.1"));
	EXPECT(!same_group(16, 48, "198.18.5.1", "198.19.5.1"));
	EXPECT(same_group(20, 48, "198.18.0.1", "198.18.15.1"));
	EXPECT(!same_group(20, 48, "198.18.0.1", "198.18.16.1"));
	EXPECT(same_group(16, 48, "2001:db8:1:1::1", "2001:db8:1:2::1"));
	EXPECT(!same_group(16, 48, "2001:db8:1::1", "2001:db8:2::1"));
	EXPECT(same_group(16, 63, "2001:db8:0:2::1", "2001:db8:0:3::1"));
	EXPECT(!same_group(16, 128, "2001:db8::1", "2001:db8::2"));
	tap_end("custom prefix lengths: /32, /20, /16; /128, /63, /48");

	tap_begin();
	EXPECT(same_group(0, 0, "198.18.5.1", "203.0.113.1"));
	EXPECT(same_group(0, 0, "2001:db8::1", "3fff::1"));
	EXPECT(!same_group(0, 0, "198.18.5.1", "2001:db8::1"));
	EXPECT(!same_group(32, 128, "198.18.5.1", "::ffff:198.18.5.2"));
	EXPECT(same_group(24, 128, "198.18.5.1", "::ffff:198.18.5.2")); /* v4-mapped is v4 */
	tap_end("prefix length 0: one group per family; IPv4 and IPv6 never share");
}

/* Under pressure the least complete of the least recently active tasks goes first. */
static void test_eviction_order(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm *r;

	tap_begin();
	cfg.max_tasks = 4;
	cfg.max_src_tasks = 64;
	r = open_cfg(cfg);
	/* A has 3 of 5 fragments, B 1, C 2, D 1; least recently active first: A B C D. */
	for (uint32_t i = 0; i < 3; i++)
		add(r, &p, 'A', 5000, 1000, i, 1);
	add(r, &p, 'B', 5000, 1000, 0, 2);
	add(r, &p, 'C', 5000, 1000, 0, 3);
	add(r, &p, 'C', 5000, 1000, 1, 3);
	add(r, &p, 'D', 5000, 1000, 0, 4);
	EXPECT_EQ(add(r, &p, 'E', 5000, 1000, 0, 5), 0);
	EXPECT_EQ(add(r, &p, 'F', 5000, 1000, 0, 6), 0);
	EXPECT_EQ(add(r, &p, 'G', 5000, 1000, 0, 7), 0);
	EXPECT_EQ(ended.calls, 3);
	EXPECT(ended.id[0] == 'B' && ended.id[1] == 'D' && ended.id[2] == 'E');
	EXPECT_EQ(add(r, &p, 'A', 5000, 1000, 3, 8), 0);
	EXPECT_EQ(add(r, &p, 'A', 5000, 1000, 4, 8), 1); /* the most complete survived */
	tap_end("evicted: the fewest fragments first, the least recently active on a tie");
	ep_reasm_free(r);

	tap_begin();
	/* Priorities first (issue 14): a table full of priority-5 tasks refuses a priority-1
	 * task rather than push one out; a priority-5 task pushes out priority 1 before any
	 * priority 5, however complete, then the least complete of its own priority. */
	cfg.max_tasks = 4;
	r = open_cfg(cfg);
	for (uint64_t id = 'H'; id < 'H' + 4; id++)
		EXPECT_EQ(add_prio(r, &p, id, 5, 0, 1), 0);
	EXPECT(add_prio(r, &p, 'l', 1, 0, 2) < 0);
	EXPECT_EQ(ended.calls, 0);
	EXPECT_EQ(stats(r).tasks, 4);
	ep_reasm_free(r);
	r = open_cfg(cfg);
	/* Least recently active first: H1 (p5, 1 of 5), L1 (p1, 3), H2 (p5, 1), L2 (p1, 2). */
	add_prio(r, &p, 'A', 5, 0, 1);
	for (uint32_t i = 0; i < 3; i++)
		add_prio(r, &p, 'B', 1, i, 2);
	add_prio(r, &p, 'C', 5, 0, 3);
	add_prio(r, &p, 'D', 1, 0, 4);
	add_prio(r, &p, 'D', 1, 1, 4);
	EXPECT_EQ(add_prio(r, &p, 'E', 5, 0, 5), 0);
	EXPECT_EQ(add_prio(r, &p, 'F', 5, 0, 6), 0);
	EXPECT_EQ(add_prio(r, &p, 'G', 5, 0, 7), 0);
	EXPECT_EQ(ended.calls, 3);
	EXPECT(ended.id[0] == 'D' && ended.id[1] == 'B' && ended.id[2] == 'A');
	tap_end("evicted: the lowest priority first; never a higher priority for a lower one");
	ep_reasm_free(r);

	tap_begin();
	/* Only the EP_REASM_EVICT_SCAN least recently active are looked at. */
	cfg.max_tasks = EP_REASM_EVICT_SCAN + 4;
	r = open_cfg(cfg);
	for (uint64_t id = 0; id < EP_REASM_EVICT_SCAN; id++) {
		add(r, &p, id, 5000, 1000, 0, 1 + id);
		add(r, &p, id, 5000, 1000, 1, 1 + id);
	}
	for (uint64_t id = 100; id < 104; id++)
		add(r, &p, id, 5000, 1000, 0, 100);
	EXPECT_EQ(add(r, &p, 200, 5000, 1000, 0, 200), 0);
	EXPECT_EQ(ended.calls, 1);
	EXPECT_EQ(ended.id[0], 0);
	tap_end("the scan is bounded: the oldest of the %d least recently active goes",
		EP_REASM_EVICT_SCAN);
	ep_reasm_free(r);

	tap_begin();
	/* A real task among a flood of first fragments (spoofed sources: many prefixes) in
	 * a table of 16 tasks: it completes; the flood only churns itself. */
	cfg = default_cfg;
	cfg.max_tasks = 16;
	r = open_cfg(cfg);
	{
		struct ep_peer real = peer_at("203.0.113.9", 9);
		uint32_t next = 0, count = ep_frag_count(100000, 1400);
		int done = 0;

		for (uint32_t k = 0; k < 5000 && !done; k++) {
			char ip[32];
			struct ep_peer a;

			snprintf(ip, sizeof(ip), "198.%u.%u.1", 18 + k % 2, k % 251);
			a = peer_at(ip, 1);
			add(r, &a, 1000 + k, 16u << 20, 1400, 0, k);
			if (k % 4 == 0 && next < count)
				done = add(r, &real, 7, 100000, 1400, next++, k) == 1;
		}
		EXPECT(done);
		EXPECT(stats(r).evicted > 200); /* the flood churned itself */
	}
	tap_end("a real task completes through a flood of first fragments from many prefixes");
	ep_reasm_free(r);
}

static void test_expiry(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1);
	struct ep_reasm *r;
	const uint64_t s = 1000000000ull;

	tap_begin();
	cfg.max_tasks = 2;
	cfg.max_src_tasks = 2;
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p, 1, 3000, 1000, 0, 1 * s), 0); /* fragment 2 never comes */
	EXPECT_EQ(add(r, &p, 2, 3000, 1000, 0, 1 * s), 0);
	EXPECT_EQ(add(r, &p, 2, 3000, 1000, 1, s + s / 2), 0); /* task 2 stays active */
	EXPECT_EQ(ep_reasm_expire(r, 2 * s - 1), 0);
	EXPECT_EQ(ep_reasm_expire(r, 2 * s), 1);
	EXPECT_EQ(ended.calls, 1);
	EXPECT(ended.id[0] == 1 && ended.why[0] == EP_REASM_TIMEOUT);
	EXPECT_EQ(ended.user, 1); /* its context: add() stores the task id */
	EXPECT_EQ(add(r, &p, 2, 3000, 1000, 2, 2 * s), 1);
	tap_end("an idle task expires after the timeout with its context, an active one does not");

	tap_begin();
	/* Full table: a new task first expires stale ones, then evicts. */
	EXPECT_EQ(add(r, &p, 3, 3000, 1000, 0, 10 * s), 0);
	EXPECT_EQ(add(r, &p, 4, 3000, 1000, 0, 10 * s), 0);
	EXPECT_EQ(add(r, &p, 5, 3000, 1000, 0, 12 * s), 0);
	EXPECT_EQ(stats(r).tasks, 1);
	EXPECT_EQ(stats(r).expired, 3);
	EXPECT_EQ(stats(r).evicted, 0);
	EXPECT_EQ(ended.calls, 3); /* the two expired to make room were reported too */
	tap_end("a full table makes room by expiring stale tasks before live ones");
	ep_reasm_free(r);

	tap_begin();
	/* A trickle: one new fragment every 0.9 s keeps a task from going idle (timeout 1 s),
	 * but not past its lifetime (3 s from its first fragment). */
	cfg = default_cfg;
	cfg.max_lifetime_ns = 3 * s;
	r = open_cfg(cfg);
	{
		uint64_t t = 0;
		uint32_t i;

		for (i = 0; i < 20; i++, t += 9 * s / 10) {
			ep_reasm_expire(r, t);
			if (ended.calls || add(r, &p, 1, 30000, 1000, i, t) != 0)
				break;
		}
		EXPECT_EQ(ended.calls, 1);
		EXPECT_EQ(ended.why[0], EP_REASM_LIFETIME);
		EXPECT(t >= 3 * s && t < 4 * s);
		EXPECT_EQ(ended.start_ns, 0);
		EXPECT_EQ(ended.frags, 4);
		EXPECT_EQ(ended.bytes, 4000);
		EXPECT_EQ(stats(r).expired_lifetime, 1);
	}
	tap_end("a task trickling one fragment per 0.9 s expires at its 3 s lifetime");
	ep_reasm_free(r);
}

static void test_cancel_and_info(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1), q = peer(1, 2);
	struct ep_reasm_task task;
	struct ep_reasm_info info;
	struct ep_reasm *r;
	struct frag f;
	uint8_t data[5000] = { 0 };

	tap_begin();
	r = open_cfg(cfg);
	EXPECT_EQ(add(r, &p, 1, 5000, 1000, 0, 100), 0);
	EXPECT_EQ(add(r, &p, 1, 5000, 1000, 2, 150), 0);
	EXPECT_EQ(add(r, &p, 1, 5000, 1000, 2, 160), 0);      /* a duplicate */
	EXPECT_EQ(ep_reasm_cancel(r, &q, 1, &info), -ENOENT); /* another port */
	EXPECT_EQ(ep_reasm_cancel(r, &p, 2, &info), -ENOENT);
	EXPECT_EQ(ep_reasm_cancel(r, &p, 1, &info), 0);
	EXPECT(info.msg.task_id == 1 && info.msg.task_type == 5 && info.frag_size == 1000);
	EXPECT(info.frags == 2 && info.bytes == 2000 && info.wire_bytes == 3 * (64 + 1000));
	EXPECT(info.start_ns == 100 && info.last_ns == 150 && !info.user);
	EXPECT_EQ(ep_reasm_cancel(r, &p, 1, &info), -ENOENT);
	EXPECT_EQ(stats(r).tasks, 0);
	EXPECT_EQ(stats(r).bytes, 0);
	EXPECT_EQ(stats(r).cancelled, 1);
	EXPECT_EQ(ended.calls, 0); /* no callback: the caller answers */
	tap_end("cancel removes a task in progress and says what it held, once");

	tap_begin();
	for (uint32_t i = 0; i < 5; i++) {
		make_frag(&f, 3, data, 5000, 1000, i);
		if (ep_reasm_add(r, &p, &f.m, f.payload, 1000 + i, NULL, &task) == 1) {
			EXPECT_EQ(task.start_ns, 1000);
			EXPECT_EQ(task.wire_bytes, 5 * (64 + 1000));
			free(task.data);
		}
	}
	EXPECT_EQ(stats(r).completed, 1);
	tap_end("a completed task says when its first fragment came and what it took");
	ep_reasm_free(r);
}

/* An AUTH task is its key's: a fragment under another key, or without AUTH, does not join
 * it (docs/protocol.md 3.5); ep_reasm_peek() says whose a task is. */
static void test_auth_keys(void)
{
	struct ep_msg t = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .flags = EP_F_AUTH,
			    .task_type = 5,
			    .tenant_id = 1,
			    .task_id = 9,
			    .auth_key_id = 17 };
	struct ep_reasm *r = open_cfg(default_cfg);
	struct ep_peer p = peer(1, 1);
	struct ep_reasm_task task;
	uint8_t data[3000] = { 0 }, d[2048];
	const uint8_t *payload;
	struct ep_msg m, seen;
	ssize_t n;

	tap_begin();
	EXPECT_EQ(ep_reasm_peek(r, &p, 9, &seen), -ENOENT);
	n = ep_frag_build(&t, data, 3000, 1000, 0, d, sizeof(d));
	EXPECT(n > 0 && !ep_decode(d, (size_t)n, 0, &m, &payload, NULL));
	EXPECT_EQ(ep_reasm_add(r, &p, &m, payload, 1, NULL, &task), 0);
	EXPECT_EQ(ep_reasm_peek(r, &p, 9, &seen), 0);
	EXPECT(seen.auth_key_id == 17 && (seen.flags & EP_F_AUTH));
	t.auth_key_id = 18; /* another key */
	n = ep_frag_build(&t, data, 3000, 1000, 1, d, sizeof(d));
	EXPECT(n > 0 && !ep_decode(d, (size_t)n, 0, &m, &payload, NULL));
	EXPECT_EQ(ep_reasm_add(r, &p, &m, payload, 2, NULL, &task), -EPROTO);
	t.flags = 0; /* no key */
	t.auth_key_id = 0;
	n = ep_frag_build(&t, data, 3000, 1000, 1, d, sizeof(d));
	EXPECT(n > 0 && !ep_decode(d, (size_t)n, 0, &m, &payload, NULL));
	EXPECT_EQ(ep_reasm_add(r, &p, &m, payload, 2, NULL, &task), -EPROTO);
	EXPECT_EQ(stats(r).conflicts, 2);
	t.flags = EP_F_AUTH; /* its own key again: it completes */
	t.auth_key_id = 17;
	for (uint32_t i = 1; i < 3; i++) {
		n = ep_frag_build(&t, data, 3000, 1000, i, d, sizeof(d));
		EXPECT(n > 0 && !ep_decode(d, (size_t)n, 0, &m, &payload, NULL));
		if (ep_reasm_add(r, &p, &m, payload, 3, NULL, &task) == 1) {
			EXPECT_EQ(task.msg.auth_key_id, 17);
			free(task.data);
		}
	}
	EXPECT_EQ(stats(r).completed, 1);
	tap_end("an AUTH task takes fragments of its own key only (another key's, or one "
		"without AUTH, conflict); ep_reasm_peek() gives its header");
	ep_reasm_free(r);
}

/* Acknowledgements (selective repeat): what triggers one, and what it lists. */
static struct {
	unsigned int calls;
	uint64_t id, wire_new;
	struct ep_ack a;
} acked;

static void on_ack(void *arg, const struct ep_reasm_info *t, const struct ep_ack *a)
{
	(void)arg;
	acked.calls++;
	acked.id = t->msg.task_id;
	acked.wire_new = t->wire_new;
	acked.a = *a;
}

static void test_acks(void)
{
	struct ep_reasm_cfg cfg = default_cfg;
	struct ep_peer p = peer(1, 1);
	const uint64_t ms = 1000000ull;
	struct ep_ack a;
	struct ep_reasm *r;

	cfg.on_ack = on_ack;
	cfg.ack_delay_ns = 5 * ms;
	r = open_cfg(cfg);
	memset(&acked, 0, sizeof(acked));

	tap_begin();
	/* 10 fragments of 1000 bytes; 2, 5 and 6 are lost on the first pass. */
	for (uint32_t i = 0; i < 10; i++)
		if (i != 2 && i != 5 && i != 6)
			EXPECT_EQ(add(r, &p, 7, 10000, 1000, i, i * ms / 10), 0);
	EXPECT_EQ(acked.calls, 1); /* the last index came: at once */
	EXPECT_EQ(acked.id, 7);
	EXPECT_EQ(acked.a.count, 10);
	EXPECT_EQ(acked.a.n, 3);
	EXPECT(acked.a.r[0].first == 0 && acked.a.r[0].last == 1);
	EXPECT(acked.a.r[1].first == 3 && acked.a.r[1].last == 4);
	EXPECT(acked.a.r[2].first == 7 && acked.a.r[2].last == 9);
	EXPECT_EQ(acked.wire_new, 7 * (EP_HDR_LEN + 1000));
	EXPECT_EQ(ep_reasm_next_ack_ns(r), UINT64_MAX); /* nothing new since */
	tap_end("the last fragment arriving with gaps acknowledges at once, listing ranges");

	tap_begin();
	/* The resend of 2, 5, 6: 2 and 5 arrive, 6 (the highest awaited) is lost again. */
	EXPECT_EQ(add(r, &p, 7, 10000, 1000, 2, 2 * ms), 0);
	EXPECT_EQ(add(r, &p, 7, 10000, 1000, 5, 2 * ms), 0);
	EXPECT_EQ(acked.calls, 1);
	EXPECT_EQ(ep_reasm_next_ack_ns(r), 7 * ms);
	ep_reasm_expire(r, 7 * ms - 1);
	EXPECT_EQ(acked.calls, 1);
	ep_reasm_expire(r, 7 * ms);
	EXPECT_EQ(acked.calls, 2); /* the pause: once */
	EXPECT(acked.a.n == 2 && acked.a.r[0].last == 5 && acked.a.r[1].first == 7);
	EXPECT_EQ(acked.wire_new, 2 * (EP_HDR_LEN + 1000));
	ep_reasm_expire(r, 30 * ms);
	EXPECT_EQ(acked.calls, 2);		  /* ... and not again without a new fragment */
	EXPECT_EQ(ep_reasm_ack(r, &p, 7, &a), 0); /* a query sees the same */
	EXPECT_EQ(ep_ack_held(&a), 9);
	EXPECT(!ep_ack_has(&a, 6) && ep_ack_has(&a, 5) && ep_ack_has(&a, 9));
	EXPECT_EQ(ep_reasm_ack(r, &p, 8, &a), -ENOENT);
	tap_end("a pause acknowledges once after the delay; a query reads the same ranges");

	tap_begin();
	/* 6 arrives: complete, no acknowledgement; a duplicate after is a new task's start
	 * (which the runtime never lets happen: it answers from its result cache). */
	EXPECT_EQ(add(r, &p, 7, 10000, 1000, 6, 31 * ms), 1);
	EXPECT_EQ(acked.calls, 2);
	EXPECT_EQ(stats(r).acks, 2);
	EXPECT_EQ(ep_reasm_next_ack_ns(r), UINT64_MAX);
	tap_end("the fragment that completes a task acknowledges nothing");

	tap_begin();
	/* Tail loss: 0..5 of 8 arrive, 6 and 7 never; only the pause tells. */
	for (uint32_t i = 0; i < 6; i++)
		EXPECT_EQ(add(r, &p, 9, 8000, 1000, i, 40 * ms), 0);
	EXPECT_EQ(acked.calls, 2);
	ep_reasm_expire(r, 45 * ms);
	EXPECT_EQ(acked.calls, 3);
	EXPECT(acked.a.count == 8 && acked.a.n == 1 && acked.a.r[0].first == 0 &&
	       acked.a.r[0].last == 5);
	/* The resend of 6 and 7 comes; 7 (the highest awaited) arrives, 6 is lost: at once. */
	EXPECT_EQ(add(r, &p, 9, 8000, 1000, 7, 46 * ms), 0);
	EXPECT_EQ(acked.calls, 4);
	EXPECT(acked.a.n == 2 && acked.a.r[1].first == 7);
	tap_end("a lost tail is acknowledged after the pause; the resend's end at once");

	tap_begin();
	/* A hostile sender going down the indexes: each fragment is the highest one
	 * missing, but brings far less than half of what was: no acknowledgement each time
	 * (each would walk the bitmap), only the first pass's end and a few halvings. */
	memset(&acked, 0, sizeof(acked));
	for (uint32_t i = 4000; i-- > 1;)
		EXPECT_EQ(add(r, &p, 11, 4000 * 16, 16, i, 50 * ms), 0);
	EXPECT(acked.calls <= 2);
	tap_end("fragments sent in descending order get %u acknowledgements for 3999, not one each",
		acked.calls);
	ep_reasm_free(r);

	tap_begin();
	/* Without on_ack nothing is acknowledged and nothing is due. */
	r = open_cfg(default_cfg);
	memset(&acked, 0, sizeof(acked));
	EXPECT_EQ(add(r, &p, 1, 3000, 1000, 2, 0), 0);
	ep_reasm_expire(r, 500 * ms);
	EXPECT_EQ(acked.calls, 0);
	EXPECT_EQ(ep_reasm_next_ack_ns(r), UINT64_MAX);
	tap_end("without on_ack there are no acknowledgements");
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
	test_charging();
	test_rss();
	test_prefixes();
	test_eviction_order();
	test_expiry();
	test_cancel_and_info();
	test_auth_keys();
	test_acks();
	test_bad_cfg();
	return tap_finish();
}
