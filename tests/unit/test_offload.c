// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the offload decision (offload.h): hand-computed cost-model cases, hysteresis,
 * deadlines, unknown and invalid inputs, and the k-means batch partition (exact recovery of
 * separated clusters, determinism, input-order independence, capacity rules, monotonicity,
 * degenerate batches).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/offload.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Equal within a relative 1e-9; says what it got when not. */
static bool near_(double got, double want, const char *what, int line)
{
	if (fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)))
		return true;
	tap_diag("line %d: %s: got %.9g, want %.9g", line, what, got, want);
	return false;
}
#define EXPECT_NEAR(a, b) EXPECT(near_((a), (b), #a, __LINE__))

/* A 100 Mbit/s LAN to an edge 8x faster than the device, a quarter loaded. */
static struct ep_offload_env lan(void)
{
	return (struct ep_offload_env){ .srtt_us = 500,
					.rttvar_us = 100,
					.up_bps = 12.5e6,
					.down_bps = 12.5e6,
					.edge_queue_us = 2000,
					.edge_load_pct = 25,
					.edge_speedup = 8 };
}

static void test_heavy_task_on_lan(void)
{
	struct ep_offload_env env = lan();
	struct ep_offload_task t = { .raw_bytes = 200000,
				     .compress_ratio = 0.4,
				     .result_bytes = 1000,
				     .local_us = 500000,
				     .priority = 3 };
	struct ep_offload_decision d;

	tap_begin();
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.rtt_us, 600);	/* 500 + 1 * 100 */
	EXPECT_NEAR(d.upload_us, 6400); /* 80 000 B at 12.5 MB/s */
	EXPECT_NEAR(d.download_us, 80); /* 1 000 B */
	EXPECT_NEAR(d.queue_us, 2000);
	EXPECT_NEAR(d.compute_us, 500000.0 / 8 / 0.75); /* 83 333.3 */
	EXPECT_NEAR(d.edge_us, 600 + 6400 + 80 + 2000 + 500000.0 / 8 / 0.75);
	EXPECT_NEAR(d.local_us, 500000);
	EXPECT_NEAR(d.benefit_us, d.local_us - d.edge_us);
	EXPECT_EQ(d.where, EP_OFFLOAD_EDGE);
	EXPECT_EQ(d.reason, EP_OFFLOAD_R_EDGE_FASTER);
	tap_end("a heavy task on a fast LAN goes to the edge (92.4 ms vs 500 ms)");

	tap_begin();
	t.compress_ratio = 0;
	t.wire_bytes = 80000; /* the same, given as a size */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.upload_us, 6400);
	t.wire_bytes = 300000; /* "compressed" larger: sent raw */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.upload_us, 16000);
	t.wire_bytes = 0;
	t.compress_ratio = 1.5;
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.upload_us, 16000);
	t.compress_ratio = 0; /* no compression */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.upload_us, 16000);
	tap_end("wire bytes: the compressed size, else raw * ratio, never more than raw");
}

static void test_big_image_slow_link(void)
{
	/* 1 Mbit/s uplink, 20 ms RTT: a 4 MB frame compressed to 1.6 MB takes 12.8 s to send. */
	struct ep_offload_env env = { .srtt_us = 20000,
				      .rttvar_us = 5000,
				      .up_bps = 125000,
				      .down_bps = 125000,
				      .edge_speedup = 8 };
	struct ep_offload_task t = {
		.raw_bytes = 4000000, .wire_bytes = 1600000, .result_bytes = 200, .local_us = 200000
	};
	struct ep_offload_decision d;

	tap_begin();
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.upload_us, 12.8e6);
	EXPECT_NEAR(d.download_us, 1600);
	EXPECT_NEAR(d.edge_us, 25000 + 12.8e6 + 1600 + 0 + 25000);
	EXPECT_EQ(d.where, EP_OFFLOAD_LOCAL);
	EXPECT_EQ(d.reason, EP_OFFLOAD_R_LOCAL_FASTER);
	EXPECT(d.benefit_us < 0);
	tap_end("a big image over a slow link stays local (12.85 s vs 200 ms)");
}

static void test_edge_load(void)
{
	/* A marginal task: 40 ms locally, 22.5 ms on an idle edge only 2x faster. */
	struct ep_offload_env env = { .srtt_us = 1000,
				      .rttvar_us = 200,
				      .up_bps = 12.5e6,
				      .down_bps = 12.5e6,
				      .edge_queue_us = 500,
				      .edge_speedup = 2 };
	struct ep_offload_task t = { .raw_bytes = 10000, .result_bytes = 100, .local_us = 40000 };
	struct ep_offload_decision d;

	tap_begin();
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.edge_us, 1200 + 800 + 8 + 500 + 20000);
	EXPECT_EQ(d.where, EP_OFFLOAD_EDGE);
	env.edge_load_pct = 40; /* 20 ms / 0.6: 35.8 ms, still 10 % under 40 */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.compute_us, 20000 / 0.6);
	EXPECT_EQ(d.where, EP_OFFLOAD_EDGE);
	env.edge_load_pct = 45; /* 38.9 ms: faster, but not by the margin */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_EQ(d.where, EP_OFFLOAD_LOCAL);
	EXPECT_EQ(d.reason, EP_OFFLOAD_R_HYSTERESIS);
	env.edge_load_pct = 95; /* 20 ms / 0.05 */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.compute_us, 400000);
	EXPECT_EQ(d.where, EP_OFFLOAD_LOCAL);
	EXPECT_EQ(d.reason, EP_OFFLOAD_R_LOCAL_FASTER);
	env.edge_load_pct = 100; /* the headroom floor keeps it finite */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.compute_us, 400000);
	tap_end("a loaded edge (95 %%) flips a marginal task back to local");

	tap_begin();
	env.edge_load_pct = 0;
	env.local_load_pct = 50;
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.local_us, 80000);
	EXPECT_NEAR(d.compute_us, 20000); /* the edge's speedup is against the idle device */
	tap_end("the device's own load inflates the local estimate");
}

/* No transfer; edge time = srtt + local / 10. */
static struct ep_offload_env bare(double srtt)
{
	return (struct ep_offload_env){
		.srtt_us = srtt, .up_bps = 1e6, .down_bps = 1e6, .edge_speedup = 10
	};
}

static void expect_decision(const struct ep_offload_env *env, const struct ep_offload_task *t,
			    const struct ep_offload_params *p, int where, int reason, int line)
{
	struct ep_offload_decision d;
	int err = ep_offload_decide(env, t, p, &d);

	if (err || (int)d.where != where || (int)d.reason != reason) {
		tap_diag("line %d: err %d, %s (%s), want %s (%s)", line, err,
			 ep_offload_where_str(d.where), ep_offload_reason_str(d.reason),
			 ep_offload_where_str(where), ep_offload_reason_str(reason));
		tap_case_failed = 1;
	}
}
#define EXPECT_DECISION(env, t, p, where, reason) \
	expect_decision(&(env), &(t), (p), EP_OFFLOAD_##where, EP_OFFLOAD_R_##reason, __LINE__)

static void test_hysteresis(void)
{
	struct ep_offload_task t = { .local_us = 10000 };
	struct ep_offload_params p0 = EP_OFFLOAD_PARAMS_DEFAULT;
	struct ep_offload_env e95 = bare(8500), e105 = bare(9500), e80 = bare(7000),
			      e130 = bare(12000);

	tap_begin();
	/* Edge 9.5 ms vs local 10 ms: 5 % better, under the 10 % margin. */
	EXPECT_DECISION(e95, t, NULL, LOCAL, HYSTERESIS);
	t.last = EP_OFFLOAD_EDGE;
	EXPECT_DECISION(e95, t, NULL, EDGE, EDGE_FASTER);
	/* Edge 10.5 ms: local is 4.8 % better, under the margin, so an edge run stays. */
	EXPECT_DECISION(e105, t, NULL, EDGE, HYSTERESIS);
	t.last = EP_OFFLOAD_LOCAL;
	EXPECT_DECISION(e105, t, NULL, LOCAL, LOCAL_FASTER);
	/* Clear wins switch from either side. */
	EXPECT_DECISION(e80, t, NULL, EDGE, EDGE_FASTER);
	t.last = EP_OFFLOAD_EDGE;
	EXPECT_DECISION(e130, t, NULL, LOCAL, LOCAL_FASTER);
	EXPECT_DECISION(e80, t, NULL, EDGE, EDGE_FASTER);
	t.last = EP_OFFLOAD_LOCAL;
	EXPECT_DECISION(e130, t, NULL, LOCAL, LOCAL_FASTER);
	/* No margin: the faster side, from either side. */
	p0.margin = 0;
	EXPECT_DECISION(e95, t, &p0, EDGE, EDGE_FASTER);
	t.last = EP_OFFLOAD_EDGE;
	EXPECT_DECISION(e105, t, &p0, LOCAL, LOCAL_FASTER);
	tap_end("hysteresis: switching sides takes a 10 %% win; margin 0 picks the faster");

	tap_begin();
	/* Exactly at the margin's edge: 9 000 is not < 10 000 * 0.9. */
	t.last = EP_OFFLOAD_LOCAL;
	{
		struct ep_offload_env e90 = bare(8000);

		EXPECT_DECISION(e90, t, NULL, LOCAL, HYSTERESIS);
		e90.srtt_us = 7999;
		EXPECT_DECISION(e90, t, NULL, EDGE, EDGE_FASTER);
	}
	tap_end("the margin is strict");
}

static void test_deadline(void)
{
	struct ep_offload_task t = { .local_us = 10000 };
	struct ep_offload_env e95 = bare(8500), e105 = bare(9500);

	tap_begin();
	t.last = EP_OFFLOAD_EDGE;
	t.deadline_us = 10200; /* local 10 ms meets it, edge 10.5 ms does not */
	EXPECT_DECISION(e105, t, NULL, LOCAL, DEADLINE_LOCAL);
	t.last = EP_OFFLOAD_LOCAL;
	t.deadline_us = 9800; /* edge 9.5 ms meets it, local does not */
	EXPECT_DECISION(e95, t, NULL, EDGE, DEADLINE_EDGE);
	t.deadline_us = 10000; /* both meet (<=): hysteresis decides */
	EXPECT_DECISION(e95, t, NULL, LOCAL, HYSTERESIS);
	t.deadline_us = 5000; /* neither: the faster, late */
	EXPECT_DECISION(e95, t, NULL, EDGE, DEADLINE_MISSED);
	EXPECT_DECISION(e105, t, NULL, LOCAL, DEADLINE_MISSED);
	t.last = EP_OFFLOAD_EDGE;
	EXPECT_DECISION(e105, t, NULL, LOCAL, DEADLINE_MISSED);
	tap_end("deadlines: the only side that meets it, else the faster one, said so");

	tap_begin();
	e95.edge_down = true;
	t.deadline_us = 9800;
	EXPECT_DECISION(e95, t, NULL, LOCAL, EDGE_DOWN);
	{
		struct ep_offload_decision d;

		EXPECT_EQ(ep_offload_decide(&e95, &t, NULL, &d), 0);
		EXPECT(isinf(d.edge_us) && d.benefit_us < 0 && d.compute_us == 0);
		EXPECT_NEAR(d.local_us, 10000);
	}
	tap_end("an edge known down or overloaded keeps everything local, deadline or not");
}

static void test_unknowns(void)
{
	struct ep_offload_env env = bare(0);
	struct ep_offload_task t = { .raw_bytes = 10000, .local_us = 100000 };
	struct ep_offload_params p = EP_OFFLOAD_PARAMS_DEFAULT;
	struct ep_offload_decision d;

	tap_begin();
	env.up_bps = 0;
	env.edge_speedup = 0;
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.rtt_us, 5000 + 2500);		/* default srtt, rttvar = srtt / 2 */
	EXPECT_NEAR(d.upload_us, 10000 / 1.25e6 * 1e6); /* default bandwidth: 8 ms */
	EXPECT_NEAR(d.compute_us, 100000);		/* default speedup 1 */
	EXPECT_EQ(d.where, EP_OFFLOAD_LOCAL);
	env.rttvar_us = 1000; /* a known rttvar is kept */
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.rtt_us, 6000);
	tap_end("unknown RTT, bandwidth and speedup fall back to the documented defaults");

	tap_begin();
	t.speedup = 20; /* the task's own speedup wins */
	env.edge_speedup = 4;
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.compute_us, 5000);
	t.speedup = 0;
	EXPECT_EQ(ep_offload_decide(&env, &t, NULL, &d), 0);
	EXPECT_NEAR(d.compute_us, 25000);
	tap_end("a task's speedup overrides the environment's");

	tap_begin();
	p.default_rtt_us = 0;
	EXPECT_DECISION(env, t, &p, LOCAL, NO_ESTIMATE);
	EXPECT_EQ(ep_offload_decide(&env, &t, &p, &d), 0);
	EXPECT(isinf(d.edge_us));
	env.srtt_us = 1000;
	p.default_bps = 0; /* upload unknown, no default */
	EXPECT_DECISION(env, t, &p, LOCAL, NO_ESTIMATE);
	t.raw_bytes = 0; /* nothing to send: no bandwidth needed */
	env.edge_speedup = 100;
	EXPECT_DECISION(env, t, &p, EDGE, EDGE_FASTER);
	t.result_bytes = 1; /* but a result to fetch: down_bps is needed */
	env.down_bps = 0;
	EXPECT_DECISION(env, t, &p, LOCAL, NO_ESTIMATE);
	tap_end("with no default, an unknown RTT or bandwidth keeps the task local");
}

static void test_invalid(void)
{
	const struct ep_offload_env good_env = lan();
	const struct ep_offload_task good = { .raw_bytes = 1000, .local_us = 1000, .priority = 5 };
	struct ep_offload_params p;
	struct ep_offload_env env;
	struct ep_offload_task t;
	struct ep_offload_decision d, sentinel;
	int bad = 0;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	tap_begin();
	EXPECT_EQ(ep_offload_decide(&good_env, &good, NULL, &d), 0);
#define TRY_ENV(field, v)                                                             \
	do {                                                                          \
		env = good_env;                                                       \
		env.field = (v);                                                      \
		d = sentinel;                                                         \
		if (ep_offload_decide(&env, &good, NULL, &d) != -EINVAL ||            \
		    memcmp(&d, &sentinel, sizeof(d))) {                               \
			tap_diag("env." #field " = " #v " accepted or *out written"); \
			bad++;                                                        \
		}                                                                     \
	} while (0)
#define TRY_TASK(field, v)                                                   \
	do {                                                                 \
		t = good;                                                    \
		t.field = (v);                                               \
		if (ep_offload_decide(&good_env, &t, NULL, &d) != -EINVAL) { \
			tap_diag("task." #field " = " #v " accepted");       \
			bad++;                                               \
		}                                                            \
	} while (0)
#define TRY_PARAM(field, v)                                                   \
	do {                                                                  \
		p = EP_OFFLOAD_PARAMS_DEFAULT;                                \
		p.field = (v);                                                \
		if (ep_offload_decide(&good_env, &good, &p, &d) != -EINVAL) { \
			tap_diag("params." #field " = " #v " accepted");      \
			bad++;                                                \
		}                                                             \
	} while (0)
	TRY_ENV(srtt_us, NAN);
	TRY_ENV(srtt_us, -1);
	TRY_ENV(rttvar_us, INFINITY);
	TRY_ENV(up_bps, -1e6);
	TRY_ENV(down_bps, NAN);
	TRY_ENV(edge_queue_us, -0.5);
	TRY_ENV(edge_load_pct, 100.5);
	TRY_ENV(edge_load_pct, NAN);
	TRY_ENV(edge_speedup, -2);
	TRY_ENV(local_load_pct, 101);
	TRY_TASK(local_us, -1);
	TRY_TASK(local_us, NAN);
	TRY_TASK(local_us, INFINITY);
	TRY_TASK(deadline_us, -5);
	TRY_TASK(deadline_us, INFINITY);
	TRY_TASK(compress_ratio, -0.4);
	TRY_TASK(speedup, NAN);
	TRY_TASK(priority, 6);
	TRY_TASK(last, 2);
	TRY_PARAM(margin, 1);
	TRY_PARAM(margin, -0.1);
	TRY_PARAM(min_headroom, 0);
	TRY_PARAM(min_headroom, 1.5);
	TRY_PARAM(rttvar_k, NAN);
	TRY_PARAM(default_rtt_us, -1);
	TRY_PARAM(default_bps, INFINITY);
	TRY_PARAM(default_speedup, 0);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(ep_offload_decide(NULL, &good, NULL, &d), -EINVAL);
	EXPECT_EQ(ep_offload_decide(&good_env, NULL, NULL, &d), -EINVAL);
	EXPECT_EQ(ep_offload_decide(&good_env, &good, NULL, NULL), -EINVAL);
	tap_end("NaN, infinite, negative or out-of-range inputs give -EINVAL, *out untouched");

	tap_begin();
	{
		const char *seen[EP_OFFLOAD_R_COUNT];

		for (int r = 0; r < EP_OFFLOAD_R_COUNT; r++) {
			seen[r] = ep_offload_reason_str((enum ep_offload_reason)r);
			EXPECT(seen[r] && strcmp(seen[r], "unknown"));
			for (int q = 0; q < r; q++)
				EXPECT(strcmp(seen[q], seen[r]));
		}
		EXPECT(!strcmp(ep_offload_reason_str(EP_OFFLOAD_R_COUNT), "unknown"));
		EXPECT(!strcmp(ep_offload_where_str(EP_OFFLOAD_EDGE), "edge"));
		EXPECT(!strcmp(ep_offload_where_str(EP_OFFLOAD_LOCAL), "local"));
	}
	tap_end("every reason has its own name");
#undef TRY_ENV
#undef TRY_TASK
#undef TRY_PARAM
}

/* Batch partition. */

#define MAXN 256

struct run {
	struct ep_offload_decision task[MAXN];
	unsigned int cluster[MAXN];
	struct ep_offload_cluster clusters[MAXN];
	struct ep_offload_plan plan;
};

static int partition(const struct ep_offload_env *env, const struct ep_offload_params *p,
		     const struct ep_offload_batch *b, struct run *r)
{
	size_t len = ep_offload_scratch_size(b->n, b->features ? b->dim : 0, b->k);
	void *scratch = malloc(len ? len : 1);
	int err;

	memset(r, 0, sizeof(*r));
	r->plan.task = r->task;
	r->plan.cluster = r->cluster;
	r->plan.clusters = r->clusters;
	err = ep_offload_partition(env, p, b, &r->plan, scratch, len);
	free(scratch);
	return err;
}

/* Same grouping up to a renaming of the clusters: a[i] = a[j] iff b[i] = b[j]. */
static bool same_partition(const unsigned int *a, const unsigned int *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if ((a[i] == a[j]) != (b[i] == b[j]))
				return false;
	return true;
}

/* Clusters are numbered in order of first appearance. */
static bool canonical(const unsigned int *c, size_t n)
{
	unsigned int next = 0;

	for (size_t i = 0; i < n; i++) {
		if (c[i] > next)
			return false;
		next += c[i] == next;
	}
	return true;
}

/*
 * Three groups of four, interleaved: heavy (1 s, edge 102 ms), light (10..13 ms, edge
 * 2 ms + 1/10) and tiny (1 ms, edge 2.1 ms: stays local). Total local: 4 050 000 µs.
 */
static const struct ep_offload_env sep_env = {
	.srtt_us = 1000, .up_bps = 1e7, .down_bps = 1e7, .edge_speedup = 10
};
static const double sep_local[12] = { 1e6, 10000, 1000, 1e6, 11000, 1000,
				      1e6, 12000, 1000, 1e6, 13000, 1000 };

static void sep_tasks(struct ep_offload_task *t)
{
	for (int i = 0; i < 12; i++)
		t[i] = (struct ep_offload_task){ .raw_bytes = 10000,
						 .local_us = sep_local[i],
						 .priority = 3 };
}

static void test_partition_hand(void)
{
	struct ep_offload_task t[12];
	struct ep_offload_batch b = {
		.tasks = t, .n = 12, .k = 3, .seed = 1, .capacity = 4030000.0 / 4050000.0
	};
	static struct run r;
	const struct ep_offload_cluster *h, *l, *s;

	sep_tasks(t);
	tap_begin();
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 3);
	EXPECT(r.plan.converged);
	EXPECT(canonical(r.cluster, 12));
	for (int i = 0; i < 12; i++)
		EXPECT_EQ(r.cluster[i], r.cluster[i % 3]); /* the groups, exactly */
	h = &r.clusters[r.cluster[0]];
	l = &r.clusters[r.cluster[1]];
	s = &r.clusters[r.cluster[2]];
	EXPECT(h != l && l != s && h != s);
	EXPECT_EQ(h->rank, 0);
	EXPECT_EQ(l->rank, 1);
	EXPECT_EQ(s->rank, 2);
	EXPECT_EQ(h->n, 4);
	EXPECT_NEAR(h->need_us, 4e6);
	EXPECT_NEAR(h->benefit_us, 4 * (1e6 - 102000));
	EXPECT_NEAR(h->density, 0.898);
	EXPECT_NEAR(h->wire_bytes, 40000);
	EXPECT_NEAR(l->need_us, 46000);
	EXPECT_NEAR(l->benefit_us, 0.9 * 46000 - 4 * 2000);
	EXPECT_NEAR(s->local_us, 4000);
	EXPECT_NEAR(s->need_us, 0);
	EXPECT_NEAR(s->density, 0);
	tap_end("k-means finds three separated groups; clusters ranked by benefit per µs");

	tap_begin();
	/* Budget 4.03 s: heavy (4 s) fits whole; light is split by density (13 then 12 ms
	 * fit the 30 ms left, 11 ms does not); tiny ones gain nothing. */
	EXPECT_NEAR(r.plan.budget_us, 4030000);
	EXPECT_NEAR(r.plan.used_us, 4025000);
	EXPECT_EQ(r.plan.n_edge, 6);
	EXPECT_EQ(h->n_edge, 4);
	EXPECT_EQ(l->n_edge, 2);
	EXPECT_EQ(s->n_edge, 0);
	for (int i = 0; i < 12; i += 3)
		EXPECT_EQ(r.task[i].where, EP_OFFLOAD_EDGE);
	EXPECT_EQ(r.task[10].where, EP_OFFLOAD_EDGE); /* 13 ms */
	EXPECT_EQ(r.task[7].where, EP_OFFLOAD_EDGE);  /* 12 ms */
	EXPECT_EQ(r.task[4].where, EP_OFFLOAD_LOCAL); /* 11 ms */
	EXPECT_EQ(r.task[4].reason, EP_OFFLOAD_R_CAPACITY);
	EXPECT_EQ(r.task[1].reason, EP_OFFLOAD_R_CAPACITY);
	EXPECT_EQ(r.task[0].reason, EP_OFFLOAD_R_EDGE_FASTER);
	for (int i = 2; i < 12; i += 3) {
		EXPECT_EQ(r.task[i].where, EP_OFFLOAD_LOCAL);
		EXPECT_EQ(r.task[i].reason, EP_OFFLOAD_R_LOCAL_FASTER);
	}
	EXPECT_NEAR(r.task[0].edge_us, 102000);
	tap_end("whole clusters while they fit, then the next one split by task benefit");

	tap_begin();
	b.capacity = 3.9e6 / 4050000.0; /* heavy does not fit whole: split, then stop */
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.n_edge, 3);
	EXPECT_EQ(r.clusters[r.cluster[0]].n_edge, 3);
	EXPECT_EQ(r.clusters[r.cluster[1]].n_edge, 0); /* even though 13 ms would fit */
	EXPECT_EQ(r.task[0].where, EP_OFFLOAD_EDGE);   /* equal benefit: lower index first */
	EXPECT_EQ(r.task[9].where, EP_OFFLOAD_LOCAL);
	tap_end("the first cluster that does not fit is the last one considered");
}

static void test_partition_deterministic(void)
{
	struct ep_offload_task t[12], p[12];
	struct ep_offload_batch b = { .tasks = t, .n = 12, .k = 3, .capacity = 0.995 };
	static struct run r1, r2;
	/* a permutation of 0..11 */
	static const int perm[12] = { 7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 4, 6 };
	bool ok = true;

	sep_tasks(t);
	tap_begin();
	for (uint64_t seed = 0; seed < 32; seed++) {
		b.seed = seed;
		b.tasks = t;
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r1), 0);
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r2), 0);
		ok &= !memcmp(r1.cluster, r2.cluster, sizeof(r1.cluster)) &&
		      !memcmp(r1.task, r2.task, sizeof(r1.task));
		for (int i = 0; i < 12; i++)
			ok &= r1.cluster[i] == r1.cluster[i % 3];
		/* Reversed and permuted input: the same groups and placements. */
		for (int i = 0; i < 12; i++)
			p[i] = t[11 - i];
		b.tasks = p;
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r2), 0);
		for (int i = 0; i < 12; i++)
			ok &= r2.cluster[11 - i] == r2.cluster[11 - i % 3] &&
			      r2.task[11 - i].where == r1.task[i].where &&
			      r2.task[11 - i].reason == r1.task[i].reason;
		for (int i = 0; i < 12; i++)
			p[i] = t[perm[i]];
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r2), 0);
		for (int i = 0; i < 12; i++)
			for (int j = 0; j < 12; j++)
				ok &= (r2.cluster[i] == r2.cluster[j]) ==
				      (r1.cluster[perm[i]] == r1.cluster[perm[j]]);
		for (int i = 0; i < 12; i++)
			ok &= r2.task[i].where == r1.task[perm[i]].where;
	}
	EXPECT(ok);
	tap_end("same seed, same plan; any seed and any input order, the same groups");
}

static void test_partition_features(void)
{
	enum { N = 60 };
	static double x[N * 2], y[N * 2];
	static unsigned int truth[N], ytruth[N];
	static struct ep_offload_task t[N], yt[N];
	static struct run r;
	const double cx[3] = { 0, 10, 0 }, cy[3] = { 0, 0, 10 };
	struct ep_offload_batch b = {
		.tasks = t, .n = N, .features = x, .dim = 2, .k = 3, .capacity = 1
	};
	bool ok = true;

	rnd_seed(42);
	for (int i = 0; i < N; i++) {
		truth[i] = (unsigned int)(rnd() % 3);
		x[2 * i] = cx[truth[i]] + (double)(rnd() % 1000) / 1000.0 - 0.5;
		x[2 * i + 1] = cy[truth[i]] + (double)(rnd() % 1000) / 1000.0 - 0.5;
		t[i] = (struct ep_offload_task){ .local_us = 1000 };
	}
	tap_begin();
	for (uint64_t seed = 100; seed < 120; seed++) {
		b.seed = seed;
		b.features = x;
		b.tasks = t;
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
		ok &= r.plan.nclusters == 3 && same_partition(r.cluster, truth, N) &&
		      canonical(r.cluster, N);
		/* Rotated input, same groups. */
		for (int i = 0; i < N; i++) {
			int j = (i + 17) % N;

			y[2 * i] = x[2 * j];
			y[2 * i + 1] = x[2 * j + 1];
			ytruth[i] = truth[j];
			yt[i] = t[j];
		}
		b.features = y;
		b.tasks = yt;
		EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
		ok &= same_partition(r.cluster, ytruth, N);
	}
	EXPECT(ok);
	tap_end("caller features: 3 blobs in 2-D found exactly for 20 seeds and rotated input");
}

/* A varied batch: sizes 100 B..10 MB, local 100 µs..10 s, priorities 1..5. */
static void random_tasks(struct ep_offload_task *t, size_t n, uint64_t seed)
{
	rnd_seed(seed);
	for (size_t i = 0; i < n; i++) {
		t[i] = (struct ep_offload_task){
			.raw_bytes = (uint64_t)(100 * pow(10, (double)(rnd() % 5000) / 1000)),
			.compress_ratio = 0.3 + (double)(rnd() % 700) / 1000,
			.result_bytes = rnd() % 20000,
			.local_us = 100 * pow(10, (double)(rnd() % 5000) / 1000),
			.priority = (uint8_t)(1 + rnd() % 5),
		};
	}
}

static void test_partition_capacity(void)
{
	enum { N = 200 };
	static struct ep_offload_task t[N];
	static struct run r, prev;
	struct ep_offload_env env = lan();
	struct ep_offload_params p = EP_OFFLOAD_PARAMS_DEFAULT;
	struct ep_offload_batch b = { .tasks = t, .n = N, .seed = 7 };
	struct ep_offload_decision d;
	size_t positive = 0;
	bool ok = true;

	p.margin = 0;
	random_tasks(t, N, 99);

	tap_begin();
	b.capacity = 0;
	EXPECT_EQ(partition(&env, &p, &b, &r), 0);
	EXPECT_EQ(r.plan.n_edge, 0);
	EXPECT_NEAR(r.plan.used_us, 0);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(r.task[i].where, EP_OFFLOAD_LOCAL);
		if (r.task[i].benefit_us > 0)
			EXPECT_EQ(r.task[i].reason, EP_OFFLOAD_R_CAPACITY);
	}
	tap_end("capacity 0: everything local; would-be edge tasks say 'capacity'");

	tap_begin();
	b.capacity = 1;
	EXPECT_EQ(partition(&env, &p, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 10); /* round(sqrt(200 / 2)) */
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(ep_offload_decide(&env, &t[i], &p, &d), 0);
		positive += d.benefit_us > 0;
		EXPECT_EQ(r.task[i].where, d.benefit_us > 0 ? EP_OFFLOAD_EDGE : EP_OFFLOAD_LOCAL);
		EXPECT_EQ(r.task[i].reason, d.reason);
		EXPECT_NEAR(r.task[i].edge_us, d.edge_us);
	}
	EXPECT_EQ(r.plan.n_edge, positive);
	EXPECT(positive > N / 5 && positive < N * 4 / 5); /* the batch is mixed */
	tap_end("capacity 1: every task with a positive benefit is offloaded (%zu of %d)", positive,
		N);

	tap_begin();
	for (unsigned int k = 0; k < 12; k += 3) {
		b.k = k;
		b.capacity = 0;
		EXPECT_EQ(partition(&env, &p, &b, &prev), 0);
		for (int step = 1; step <= 100; step++) {
			b.capacity = step / 100.0;
			EXPECT_EQ(partition(&env, &p, &b, &r), 0);
			ok &= r.plan.used_us <= r.plan.budget_us * (1 + 1e-9);
			ok &= r.plan.n_edge >= prev.plan.n_edge;
			ok &= r.plan.used_us >= prev.plan.used_us;
			for (int i = 0; i < N; i++)
				ok &= prev.task[i].where != EP_OFFLOAD_EDGE ||
				      r.task[i].where == EP_OFFLOAD_EDGE;
			prev = r;
		}
		ok &= r.plan.n_edge == positive;
	}
	EXPECT(ok);
	tap_end("more capacity never offloads less: the offloaded set only grows, within budget");

	tap_begin();
	env.edge_down = true;
	b.capacity = 1;
	EXPECT_EQ(partition(&env, &p, &b, &r), 0);
	EXPECT_EQ(r.plan.n_edge, 0);
	for (int i = 0; i < N; i++)
		EXPECT_EQ(r.task[i].reason, EP_OFFLOAD_R_EDGE_DOWN);
	tap_end("an edge that is down takes nothing, whatever its capacity");
}

/* Squared distance of row i of x to the mean of cluster c. */
static double to_mean(const double *x, const unsigned int *lab, size_t n, unsigned int dim,
		      size_t i, unsigned int c)
{
	double mean[EP_OFFLOAD_MAX_DIM] = { 0 }, d = 0;
	size_t m = 0;

	for (size_t j = 0; j < n; j++) {
		if (lab[j] != c)
			continue;
		m++;
		for (unsigned int q = 0; q < dim; q++)
			mean[q] += x[j * dim + q];
	}
	for (unsigned int q = 0; q < dim; q++)
		d += (x[i * dim + q] - mean[q] / (double)m) *
		     (x[i * dim + q] - mean[q] / (double)m);
	return d;
}

static void test_partition_lloyd(void)
{
	enum { N = 200 };
	static struct ep_offload_task t[N];
	static double x[N * 2], f[N * EP_OFFLOAD_NFEAT];
	static struct run r, r2;
	struct ep_offload_env env = lan();
	struct ep_offload_batch b = {
		.tasks = t, .n = N, .features = x, .dim = 2, .k = 6, .capacity = 0.5, .seed = 3
	};
	bool ok = true;

	random_tasks(t, N, 5);
	rnd_seed(11);
	for (int i = 0; i < 2 * N; i++) /* no structure: Lloyd has work to do */
		x[i] = (double)(rnd() % 100000) / 1000.0;
	tap_begin();
	EXPECT_EQ(partition(&env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 6);
	EXPECT(r.plan.converged);
	EXPECT(r.plan.iterations > 2);
	for (size_t i = 0; i < N; i++)
		for (unsigned int c = 0; c < r.plan.nclusters; c++)
			ok &= to_mean(x, r.cluster, N, 2, i, r.cluster[i]) <=
			      to_mean(x, r.cluster, N, 2, i, c) + 1e-9;
	EXPECT(ok);
	b.max_iter = 1;
	EXPECT_EQ(partition(&env, NULL, &b, &r), 0);
	EXPECT(!r.plan.converged);
	EXPECT_EQ(r.plan.iterations, 1);
	tap_end("Lloyd runs to a fixed point: every point is nearest its own cluster's mean");

	tap_begin();
	for (int i = 0; i < N; i++) {
		double wire =
			fmin((double)t[i].raw_bytes * t[i].compress_ratio, (double)t[i].raw_bytes);

		f[3 * i] = log2(1 + wire);
		f[3 * i + 1] = log2(1 + t[i].local_us);
		f[3 * i + 2] = t[i].priority;
	}
	b = (struct ep_offload_batch){ .tasks = t, .n = N, .capacity = 0.5, .seed = 3 };
	EXPECT_EQ(partition(&env, NULL, &b, &r), 0);
	b.features = f;
	b.dim = EP_OFFLOAD_NFEAT;
	EXPECT_EQ(partition(&env, NULL, &b, &r2), 0);
	EXPECT(!memcmp(r.cluster, r2.cluster, sizeof(r.cluster)));
	EXPECT(!memcmp(r.task, r2.task, sizeof(r.task)));
	EXPECT(r.plan.nclusters > 1);
	tap_end("the built-in features are the documented log2 sizes, log2 times and priority");
}

static void test_partition_rounding(void)
{
	/* 1 058.2 + 51 885.4 - 51 885.4 < 1 058.2 in doubles: capacity 1 must still take both. */
	struct ep_offload_task t[2] = { { .local_us = 1058.2 }, { .local_us = 51885.4 } };
	struct ep_offload_env env = bare(100);
	struct ep_offload_batch b = { .tasks = t, .n = 2, .k = 2, .capacity = 1 };
	static struct run r;

	tap_begin();
	EXPECT_EQ(partition(&env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 2);
	EXPECT_EQ(r.clusters[1].rank, 0);
	EXPECT_EQ(r.plan.n_edge, 2);
	tap_end("capacity 1 is not lost to rounding between sums");
}

static void test_partition_small(void)
{
	/* k = min(n, max(2, round(sqrt(n / 2)))), 0 for no tasks; round: 13 tasks give
	 * sqrt(6.5) = 2.55, 3 clusters, and 25 give sqrt(12.5) = 3.54, 4. */
	static const struct {
		size_t n;
		unsigned int k;
	} k_rule[] = { { 1, 1 },    { 2, 2 },  { 8, 2 },  { 18, 3 }, { 50, 5 },
		       { 200, 10 }, { 13, 3 }, { 25, 4 }, { 0, 0 } };
	struct ep_offload_task t[12];
	struct ep_offload_batch b = { .tasks = t, .n = 1, .capacity = 1 };
	static struct run r;

	sep_tasks(t);
	tap_begin();
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 1);
	EXPECT_EQ(r.cluster[0], 0);
	EXPECT_EQ(r.task[0].where, EP_OFFLOAD_EDGE);
	b.capacity = 0.99; /* the one task needs all of it */
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.task[0].where, EP_OFFLOAD_LOCAL);
	EXPECT_EQ(r.task[0].reason, EP_OFFLOAD_R_CAPACITY);
	tap_end("one task: one cluster, offloaded only if the edge can take all of it");

	tap_begin();
	b.n = 3;
	b.k = 10;
	b.capacity = 1;
	EXPECT_EQ(ep_offload_k(3, 10), 3);
	EXPECT_EQ(ep_offload_scratch_size(3, 0, 10), ep_offload_scratch_size(3, 0, 3));
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 3);
	EXPECT(r.cluster[0] == 0 && r.cluster[1] == 1 && r.cluster[2] == 2);
	EXPECT_EQ(r.plan.n_edge, 2); /* heavy and light; tiny stays */
	tap_end("k > n: clamped to n, one task per cluster");

	tap_begin();
	for (int i = 0; i < 6; i++)
		t[i] = t[1];
	b.n = 6;
	b.k = 3;
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 1);
	EXPECT(r.plan.converged);
	EXPECT_EQ(r.clusters[0].n, 6);
	EXPECT_EQ(r.plan.n_edge, 6);
	for (int i = 0; i < 6; i++)
		EXPECT_EQ(r.cluster[i], 0);
	tap_end("identical points make one cluster, whatever k");

	tap_begin();
	b.n = 0;
	EXPECT_EQ(partition(&sep_env, NULL, &b, &r), 0);
	EXPECT_EQ(r.plan.nclusters, 0);
	EXPECT_EQ(r.plan.n_edge, 0);
	tap_end("an empty batch is an empty plan");

	tap_begin();
	for (size_t i = 0; i < ARRAY_SIZE(k_rule); i++)
		EXPECT_EQ(ep_offload_k(k_rule[i].n, 0), k_rule[i].k);
	EXPECT_EQ(ep_offload_scratch_size(EP_OFFLOAD_MAX_TASKS + 1, 0, 0), 0);
	EXPECT_EQ(ep_offload_scratch_size(10, EP_OFFLOAD_MAX_DIM + 1, 0), 0);
	EXPECT(ep_offload_scratch_size(10, 0, 0) > 0);
	tap_end("k rule: min(n, max(2, round(sqrt(n / 2))))");
}

static void test_partition_invalid(void)
{
	struct ep_offload_task t[12];
	double feat[12 * 2] = { 0 };
	static struct run r;
	struct ep_offload_batch b = { .tasks = t, .n = 12, .capacity = 0.5 };
	struct ep_offload_plan plan = { .task = r.task,
					.cluster = r.cluster,
					.clusters = r.clusters };
	size_t len = ep_offload_scratch_size(12, 0, 0);
	double *scratch = malloc(len + sizeof(double));

	sep_tasks(t);
	tap_begin();
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), 0);
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len - 1), -ENOSPC);
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, NULL, len), -ENOSPC);
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, (char *)scratch + 1, len),
		  -EINVAL);
	b.capacity = -0.1;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.capacity = 1.01;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.capacity = NAN;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.capacity = 0.5;
	t[5].local_us = NAN;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	t[5].local_us = 1000;
	b.features = feat;
	b.dim = 0;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.dim = EP_OFFLOAD_MAX_DIM + 1;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.dim = 2;
	feat[7] = INFINITY;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	feat[7] = 0;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), 0);
	b.features = NULL;
	b.tasks = NULL;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	b.tasks = t;
	plan.clusters = NULL;
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, &b, &plan, scratch, len), -EINVAL);
	EXPECT_EQ(ep_offload_partition(&sep_env, NULL, NULL, &plan, scratch, len), -EINVAL);
	EXPECT_EQ(ep_offload_partition(NULL, NULL, &b, &plan, scratch, len), -EINVAL);
	tap_end("bad batches give -EINVAL, short scratch -ENOSPC");
	free(scratch);
}

int main(void)
{
	test_heavy_task_on_lan();
	test_big_image_slow_link();
	test_edge_load();
	test_hysteresis();
	test_deadline();
	test_unknowns();
	test_invalid();
	test_partition_hand();
	test_partition_deterministic();
	test_partition_features();
	test_partition_capacity();
	test_partition_lloyd();
	test_partition_rounding();
	test_partition_small();
	test_partition_invalid();
	return tap_finish();
}
