/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * offload.h - libedgeplane's offload decision: run a task on this device or at the edge.
 *
 * Two levels, both pure and deterministic (no I/O, no global state, no allocation):
 *
 *  - ep_offload_decide(): the cost model for one task. It estimates the task's completion time
 *    locally and at the edge (round trip + upload + download + edge queueing + edge
 *    compute) and picks a side, with hysteresis against flapping and deadlines respected.
 *  - ep_offload_partition(): a batch. Tasks are clustered with k-means (k-means++ seeded by the
 *    caller), and whole clusters go to the edge in order of decreasing benefit until the
 *    edge's available capacity is used; the first cluster that does not fit is split task
 *    by task. The caller provides every array, including a scratch buffer.
 *
 * The model, its defaults and a worked example are in docs/offload.md.
 *
 * Units: times in microseconds, sizes in bytes, bandwidths in bytes per second, loads in
 * percent (0..100). All double inputs must be finite and >= 0; 0 means "unknown" where a
 * field says so. Return convention: 0 or a negative errno (-EINVAL for a bad input).
 */
#ifndef EDGEPLANE_OFFLOAD_H
#define EDGEPLANE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ep_offload_where {
	EP_OFFLOAD_LOCAL = 0,
	EP_OFFLOAD_EDGE = 1,
};

/* Why a task runs where it runs. ep_offload_reason_str() names them for people. */
enum ep_offload_reason {
	/* Local is faster, or the edge wins by less than the margin after a local run. */
	EP_OFFLOAD_R_LOCAL_FASTER = 0,
	/* The edge is faster by the margin, or faster at all after an edge run. */
	EP_OFFLOAD_R_EDGE_FASTER,
	/* The other side is faster, but not by the margin: stay where the last task ran. */
	EP_OFFLOAD_R_HYSTERESIS,
	/* Only the local estimate meets the deadline. */
	EP_OFFLOAD_R_DEADLINE_LOCAL,
	/* Only the edge estimate meets the deadline. */
	EP_OFFLOAD_R_DEADLINE_EDGE,
	/* Neither meets it: the faster side, late. */
	EP_OFFLOAD_R_DEADLINE_MISSED,
	/* The edge is known unreachable or overloaded. */
	EP_OFFLOAD_R_EDGE_DOWN,
	/* The RTT or a needed bandwidth is unknown and the params give no default. */
	EP_OFFLOAD_R_NO_ESTIMATE,
	/* Batch: the edge would be faster, but more beneficial tasks use its capacity. */
	EP_OFFLOAD_R_CAPACITY,
	EP_OFFLOAD_R_COUNT
};

/*
 * The path to the edge and the edge's state, shared by every task of a decision. The
 * client library fills it from struct ep_client_estimates (client.h): RTT and bandwidths
 * from its measurements, queueing and load from the edge's replies.
 */
struct ep_offload_env {
	double srtt_us;	       /* smoothed network round trip; 0: unknown (params default) */
	double rttvar_us;      /* its mean deviation; 0 with srtt_us 0: default_rtt_us / 2 */
	double up_bps;	       /* device -> edge payload goodput, bytes/s; 0: unknown */
	double down_bps;       /* edge -> device, bytes/s; 0: unknown */
	double edge_queue_us;  /* recent time tasks waited at the edge before running */
	double edge_load_pct;  /* load the edge advertises in its replies, 0..100 */
	double edge_speedup;   /* edge compute speed / this device's, for tasks whose own
				* speedup is 0; 0: unknown (params default) */
	double local_load_pct; /* this device's load, 0..100; 0 if unknown or idle */
	bool edge_down;	       /* known unreachable or overloaded: everything stays local */
};

/* One task. */
struct ep_offload_task {
	uint64_t raw_bytes;    /* payload before compression */
	uint64_t wire_bytes;   /* payload as sent (compressed); 0: unknown, see ratio */
	double compress_ratio; /* wire/raw estimate when wire_bytes is 0; 0: no compression.
				* The client sends a payload raw when compression does not
				* shrink it, so at most raw_bytes are sent either way. */
	uint64_t result_bytes; /* expected result size */
	double local_us;       /* compute time on this device, idle */
	double speedup;	       /* the edge's speed for this task's type relative to this
				* device (8.0: 8x faster); 0: env->edge_speedup */
	double deadline_us;    /* time budget from now; 0: none */
	uint8_t priority;      /* 1..5 as in the protocol; 0: 3 */
	uint8_t last;	       /* enum ep_offload_where of the previous task of this kind, for
				* hysteresis; EP_OFFLOAD_LOCAL when unknown */
};

/* Tuning. Pass NULL for EP_OFFLOAD_PARAMS_DEFAULT. */
struct ep_offload_params {
	double margin;		/* hysteresis: to switch sides the other side must be faster
				 * by this fraction of the current side's time; 0..<1 */
	double min_headroom;	/* floor of (1 - load/100) in the load inflation; (0..1] */
	double rttvar_k;	/* round trip = srtt + rttvar_k * rttvar */
	double default_rtt_us;	/* srtt when unknown; 0: no default, stay local */
	double default_bps;	/* bandwidth when unknown; 0: no default, stay local */
	double default_speedup; /* edge speedup when unknown; > 0 */
};

#define EP_OFFLOAD_PARAMS_DEFAULT                              \
	((struct ep_offload_params){ .margin = 0.10,           \
				     .min_headroom = 0.05,     \
				     .rttvar_k = 1.0,          \
				     .default_rtt_us = 5000.0, \
				     .default_bps = 1.25e6,    \
				     .default_speedup = 1.0 })

/* A decision and where the time goes. Estimates are completion times from now, in µs. */
struct ep_offload_decision {
	enum ep_offload_where where;
	enum ep_offload_reason reason;
	double local_us;    /* local estimate: local_us inflated by the device's load */
	double edge_us;	    /* sum of the five parts below; INFINITY when the edge is
			     * down or cannot be estimated (the parts are then 0) */
	double rtt_us;	    /* srtt + rttvar_k * rttvar */
	double upload_us;   /* wire bytes / up_bps */
	double download_us; /* result bytes / down_bps */
	double queue_us;    /* the edge's queueing time */
	double compute_us;  /* local_us / speedup, inflated by the edge's load */
	double benefit_us;  /* local_us - edge_us: what offloading saves (< 0: costs) */
};

/*
 * Decide where one task runs. @params may be NULL (defaults). Writes *out and returns 0,
 * or returns -EINVAL (NULL pointer, NaN, infinite or negative input, a load above 100, a
 * priority above 5, bad params) and leaves *out unchanged.
 */
int ep_offload_decide(const struct ep_offload_env *env, const struct ep_offload_task *task,
		      const struct ep_offload_params *params, struct ep_offload_decision *out);

/* Static names of a reason ("edge faster", ...) and a side ("local", "edge"); never NULL. */
const char *ep_offload_reason_str(enum ep_offload_reason r);
const char *ep_offload_where_str(enum ep_offload_where w);

/* Batch partition. */

#define EP_OFFLOAD_MAX_TASKS (1u << 20) /* tasks per batch */
#define EP_OFFLOAD_MAX_DIM   16		/* caller-provided feature dimensions */
#define EP_OFFLOAD_NFEAT     3		/* built-in features, see below */
#define EP_OFFLOAD_MAX_ITER  100	/* Lloyd iterations when max_iter is 0 */

/*
 * The batch. Built-in features (features NULL), in "octaves", so that a factor 2 in size
 * or compute time and one priority level weigh the same in the distance:
 *	log2(1 + wire bytes), log2(1 + local_us), priority.
 * A caller may pass its own instead: n rows of dim values, row-major, used as they are
 * (scale them yourself).
 */
struct ep_offload_batch {
	const struct ep_offload_task *tasks;
	size_t n;		/* 1..EP_OFFLOAD_MAX_TASKS; 0 is an empty plan */
	const double *features; /* NULL: built-in */
	unsigned int dim;	/* with features: 1..EP_OFFLOAD_MAX_DIM */
	double capacity;	/* 0..1: the fraction of the batch's total local
				 * compute time the edge can take now */
	unsigned int k;		/* clusters; 0: min(n, max(2, round(sqrt(n / 2)))).
				 * Clamped to n; fewer when points coincide. */
	unsigned int max_iter;	/* Lloyd iterations; 0: EP_OFFLOAD_MAX_ITER */
	uint64_t seed;		/* k-means++ seed: same seed, same input, same plan */
};

/* A cluster of the plan. */
struct ep_offload_cluster {
	unsigned int n;	     /* tasks (never 0) */
	unsigned int n_edge; /* of which offloaded */
	unsigned int rank;   /* 0: offered to the edge first */
	double local_us;     /* sum of the local estimates of its tasks */
	double need_us;	     /* ... of those the edge would run faster: the
			      * capacity offloading them all takes */
	double benefit_us;   /* sum of their benefit_us */
	double density;	     /* benefit_us / need_us: µs saved per µs of the
			      * edge's capacity; 0 when need_us is 0 */
	double wire_bytes;   /* sum of the wire bytes of its tasks */
};

/*
 * The plan: arrays the caller owns and sizes, and totals ep_offload_partition() fills in.
 * task[i] is the cost-model decision of tasks[i], except that a task the edge would run
 * faster but that does not fit the capacity stays local with EP_OFFLOAD_R_CAPACITY.
 */
struct ep_offload_plan {
	struct ep_offload_decision *task;    /* n entries */
	unsigned int *cluster;		     /* n entries: the cluster of each task, numbered in
					      * order of first appearance (task 0 is in cluster 0) */
	struct ep_offload_cluster *clusters; /* ep_offload_k(n, k) entries */
	unsigned int nclusters;		     /* out: clusters used */
	unsigned int iterations;	     /* out: Lloyd iterations run */
	bool converged;			     /* out: assignments stopped changing */
	size_t n_edge;			     /* out: tasks offloaded */
	double budget_us;		     /* out: capacity * total local estimate */
	double used_us;			     /* out: local estimate of the tasks offloaded */
};

/* The number of clusters a batch of @n tasks asks for with @k (0: the rule), clamped to n. */
unsigned int ep_offload_k(size_t n, unsigned int k);

/*
 * Bytes of scratch ep_offload_partition() needs for @n tasks, @dim caller features (0: the
 * built-in ones) and @k clusters (0: the rule); 0 if n, dim or k is out of range.
 */
size_t ep_offload_scratch_size(size_t n, unsigned int dim, unsigned int k);

/*
 * Partition a batch between this device and the edge. Every task is first decided alone
 * (ep_offload_decide()); tasks are clustered by their features with k-means; clusters are
 * ranked by density (then by number); whole clusters' edge-faster tasks are offloaded while
 * they fit the budget; the first cluster that does not fit is split, its tasks taken by
 * decreasing benefit per µs (then priority, then index) until one does not fit; after
 * that everything stays local. So more capacity never offloads fewer tasks: the offloaded
 * set only grows with it.
 *
 * @scratch (at least ep_offload_scratch_size() bytes, aligned for double, e.g. from malloc)
 * and every array in @plan belong to the caller; nothing is kept after the call.
 * Returns 0, -EINVAL (bad input, misaligned scratch), or -ENOSPC (scratch too small).
 * On error the plan's contents are unspecified.
 */
int ep_offload_partition(const struct ep_offload_env *env, const struct ep_offload_params *params,
			 const struct ep_offload_batch *b, struct ep_offload_plan *plan,
			 void *scratch, size_t scratch_len);

#ifdef __cplusplus
}
#endif

#endif /* EDGEPLANE_OFFLOAD_H */
