/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * runtime_int.h - the runtime's state, shared by the files that make it up: runtime.c
 * (start and stop), stats.c (the statistics socket's report) and prom.c (/metrics).
 * Not for use outside dataplane/daemon/.
 */
#ifndef EP_RUNTIME_INT_H
#define EP_RUNTIME_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/registry.h"
#include "core/token.h"
#include "core/worker.h"
#include "daemon/config.h"
#include "daemon/sleeper.h"

/* Host CPU time from /proc/stat, in clock ticks over all CPUs. */
struct cpu_times {
	uint64_t busy, total;
	uint64_t at_ns;
};

struct ep_runtime {
	const struct ep_conf *conf;
	struct ep_rl_cfg rate_limit; /* the classifier's: conf's, with limits' prefixes */
	struct ep_registry reg;
	struct ep_xdp *xdp;
	struct ep_dpdk *dpdk; /* the dpdk backend's port */
	struct ep_statsrv *stats;
	unsigned int nworkers, nthreads;
	struct ep_worker *workers[EP_MAX_QUEUES];
	pthread_t threads[EP_MAX_QUEUES];
	uint64_t started_ns;
	double started_unix;
	struct ep_token_master token; /* address validation; the workers share it */
	struct ep_keytab *keys;	      /* device authentication; the workers share it */
	struct ep_keysrc *keysrc;     /* writes it */
	/* The classifier's ep_keys and ep_key_state (its owner's: rt->xdp's or rt->dpdk's),
	 * kept a mirror of the key table; -1 without a classifier of ours (the udp and
	 * io_uring backends: then the workers charge the keys' buckets). */
	int xdp_keys_fd, xdp_key_state_fd;
	uint64_t xdp_key_errors; /* mirror writes that failed (atomic) */
	struct ep_limits limits; /* what PONG says */

	/* /metrics: used only on the metrics server's thread once started. */
	struct ep_metrics *metrics;
	struct ep_reporter *reporter;
	int xdp_stats_fd;	   /* the classifier's pinned ep_stats, or -1 */
	struct cpu_times cpu_prev; /* start of the current CPU busy interval */
	double cpu_busy;	   /* busy fraction of the last complete interval */

	/* Keeps the classifier's ep_addrs current (addresses come and go). */
	struct ep_sleeper addrs;
};

/* Start the /metrics server on rt->conf->metrics (prom.c). Returns 0 or a negative errno
 * (said). */
int ep_rt_metrics_start(struct ep_runtime *rt);

#endif /* EP_RUNTIME_INT_H */
