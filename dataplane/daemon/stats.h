/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.h - the runtime's statistics as one table: each entry names a value of a worker
 * (struct ep_worker_stats) or of a task type (struct ep_type_stats) once, with its JSON
 * key for `edgeplane stats --json`, its Prometheus metric for /metrics, its kind and help
 * text. stats.c writes the JSON report from it, prom.c the metrics.
 */
#ifndef EP_STATS_H
#define EP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/worker.h"

struct ep_runtime;

enum ep_stat_kind {
	EP_SK_COUNTER,
	EP_SK_GAUGE,
	EP_SK_HIST, /* struct ep_hist */
};

/* Entry flags. */
enum {
	/* An array's JSON object lists only the elements that moved. */
	EP_SF_JSON_NONZERO = 1u,
	/* An array's metric writes the classifier's drop reasons, and any other that moved. */
	EP_SF_PROM_DROPS = 2u,
	/* (Task types) no metric for tasks of unknown types. */
	EP_SF_PROM_KNOWN = 4u,
	/* Another JSON name for an earlier entry's value (not merged twice). */
	EP_SF_ALIAS = 8u,
};

struct ep_stat_desc {
	const char *group;  /* JSON object the key goes in ("io"), or NULL: the top */
	const char *json;   /* JSON key; NULL: not in the JSON report */
	const char *metric; /* Prometheus name; NULL: not in /metrics */
	enum ep_stat_kind kind;
	const char *help;
	size_t off;	   /* of the value in its struct */
	unsigned int size; /* of one value: 4 or 8 (a histogram: 0) */
	/* An array of values (n > 0): element i from @first, named by key(i) in a JSON object
	 * and in the metric's @label; without @key, a JSON array and no metric. */
	unsigned int first, n;
	const char *label;
	const char *(*key)(unsigned int i);
	unsigned int flags;
	/* A histogram: its raw values times @scale are the metric's unit (1e-9: ns to s);
	 * JSON gives them divided by @json_div (1000: ns to us); @bounds for the metric. */
	double scale, json_div;
	const double *bounds;
	unsigned int nbounds;
};

/* Per worker, labelled queue="Q" in /metrics; and per task type, labelled type and
 * handler. */
extern const struct ep_stat_desc ep_worker_stat_descs[];
extern const unsigned int ep_worker_stat_ndescs;
extern const struct ep_stat_desc ep_type_stat_descs[];
extern const unsigned int ep_type_stat_ndescs;

/* Value of element @i of scalar or array entry @d in @base (the struct it describes). */
uint64_t ep_stat_value(const struct ep_stat_desc *d, const void *base, unsigned int i);
/* The histogram of entry @d (kind EP_SK_HIST) in @base. */
const struct ep_hist *ep_stat_hist(const struct ep_stat_desc *d, const void *base);

/* Every worker's statistics, and per task type merged over the workers: what both the
 * statistics socket and /metrics report. */
struct ep_rt_snapshot {
	struct ep_worker_stats *st; /* [nworkers] */
	struct ep_type_stats *all;  /* [EP_MAX_HANDLERS + 1], by registry entry */
};

/* Take one (two allocations, freed by ep_rt_snapshot_free()). Returns 0 or -ENOMEM. */
int ep_rt_snapshot_take(struct ep_runtime *rt, struct ep_rt_snapshot *s);
void ep_rt_snapshot_free(struct ep_rt_snapshot *s);

/* Registry entry @t's task type number (-1: the slot of unknown types) and handler name
 * ("unknown"). */
int ep_rt_type_number(const struct ep_runtime *rt, unsigned int t);
const char *ep_rt_type_handler(const struct ep_runtime *rt, unsigned int t);

#endif /* EP_STATS_H */
