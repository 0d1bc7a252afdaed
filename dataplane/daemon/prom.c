// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * prom.c - the runtime's /metrics, in the Prometheus text format (userspace/common/
 * metrics.c serves it and writes the samples): the workers' and task types' values from
 * the statistics table (stats.h), then the node's own (settings, keys, CPU, memory, the
 * classifier's counters).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/keys.h"
#include "daemon/keysrc.h"
#include "daemon/runtime_int.h"
#include "daemon/stats.h"
#include "daemon/sysload.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/metrics.h"
#include "edgeplane/util.h"
#include "io/dpdk.h"
#include "xdp/ep_xdp.h"

#define CPU_INTERVAL_NS (1000 * 1000 * 1000ull) /* shortest CPU busy interval */

static const char *const kind_names[] = {
	[EP_SK_COUNTER] = "counter",
	[EP_SK_GAUGE] = "gauge",
	[EP_SK_HIST] = "histogram",
};

static int read_cpu_times(struct cpu_times *t)
{
	struct ep_cpu_times ct;
	int err = ep_sys_cpu_times(&ct);

	if (err)
		return err;
	t->busy = ct.busy;
	t->total = ct.total;
	t->at_ns = ep_now_ns();
	return 0;
}

/* The busy fraction of the host's CPUs over the last interval between scrapes. An
 * interval lasts at least CPU_INTERVAL_NS: a scrape sooner gets the previous interval's
 * value, except before the first interval (since the start of the metrics server) has
 * ended, when it gets the fraction so far. NaN when /proc/stat has not moved yet. */
static double cpu_busy(struct ep_runtime *rt)
{
	struct cpu_times now;
	double busy;

	if (read_cpu_times(&now))
		return NAN;
	if (now.total <= rt->cpu_prev.total || now.busy < rt->cpu_prev.busy)
		return rt->cpu_busy;
	busy = (double)(now.busy - rt->cpu_prev.busy) / (double)(now.total - rt->cpu_prev.total);
	if (now.at_ns - rt->cpu_prev.at_ns >= CPU_INTERVAL_NS) {
		rt->cpu_busy = busy;
		rt->cpu_prev = now;
	}
	return isnan(rt->cpu_busy) ? busy : rt->cpu_busy;
}

/* --- from the table ----------------------------------------------------------------- */

/* The samples of entry @d over @base, with @labels (the last two slots free for the
 * array's label and the terminator). */
static void write_samples(FILE *f, const struct ep_stat_desc *d, const void *base,
			  struct ep_label *labels, unsigned int nlabels)
{
	if (d->kind == EP_SK_HIST) {
		ep_metrics_histogram(f, d->metric, labels, ep_stat_hist(d, base), d->scale,
				     d->bounds, d->nbounds);
		return;
	}
	if (!d->n) {
		ep_metrics_sample_u64(f, d->metric, labels, ep_stat_value(d, base, 0));
		return;
	}
	labels[nlabels + 1] = (struct ep_label){ 0 };
	for (unsigned int i = d->first; i < d->n; i++) {
		uint64_t v = ep_stat_value(d, base, i);

		if ((d->flags & EP_SF_PROM_DROPS) && !ep_stat_is_drop(i) && !v)
			continue;
		labels[nlabels] = (struct ep_label){ d->label, d->key(i) };
		ep_metrics_sample_u64(f, d->metric, labels, v);
	}
}

/* The next entry of the table @descs (@n entries) from *@k on that is a metric, with its
 * HELP and TYPE lines written; *@k moves past it. NULL after the last. */
static const struct ep_stat_desc *next_metric(FILE *f, const struct ep_stat_desc *descs,
					      unsigned int n, unsigned int *k)
{
	for (; *k < n; ++*k) {
		const struct ep_stat_desc *d = &descs[*k];

		if (d->metric) {
			ep_metrics_help_type(f, d->metric, d->help, kind_names[d->kind]);
			++*k;
			return d;
		}
	}
	return NULL;
}

/* Per worker: each entry of the table with a metric, labelled by queue. */
static void write_worker_metrics(struct ep_runtime *rt, FILE *f, const struct ep_rt_snapshot *s)
{
	struct ep_label labels[3] = { { "queue", NULL } };
	const struct ep_stat_desc *d;
	unsigned int k = 0;
	char q[16];

	while ((d = next_metric(f, ep_worker_stat_descs, ep_worker_stat_ndescs, &k))) {
		for (unsigned int i = 0; i < rt->nworkers; i++) {
			snprintf(q, sizeof(q), "%u", rt->conf->queues[i]);
			labels[0].value = q;
			labels[1] = (struct ep_label){ 0 };
			write_samples(f, d, &s->st[i], labels, 1);
		}
	}
}

/* Per task type, over all workers: every registered handler, and tasks of unknown types
 * (type="unknown",handler="unknown") unless the entry is for known types only. */
static void write_type_metrics(struct ep_runtime *rt, FILE *f, const struct ep_rt_snapshot *s)
{
	struct ep_label labels[4] = { { "type", NULL }, { "handler", NULL } };
	const struct ep_stat_desc *d;
	unsigned int k = 0;
	char type[16];

	while ((d = next_metric(f, ep_type_stat_descs, ep_type_stat_ndescs, &k))) {
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
			if (t >= rt->reg.n && (t != EP_MAX_HANDLERS || d->flags & EP_SF_PROM_KNOWN))
				continue;
			if (t < rt->reg.n)
				snprintf(type, sizeof(type), "%d", ep_rt_type_number(rt, t));
			else
				snprintf(type, sizeof(type), "unknown");
			labels[0].value = type;
			labels[1].value = ep_rt_type_handler(rt, t);
			labels[2] = (struct ep_label){ 0 };
			write_samples(f, d, &s->all[t], labels, 2);
		}
	}
}

/* --- the node's own ----------------------------------------------------------------- */

/* A metric of one sample without labels. */
static void write_one(FILE *f, const char *name, const char *type, const char *help, double v)
{
	ep_metrics_help_type(f, name, help, type);
	ep_metrics_sample(f, name, NULL, v);
}

/* A counter of the results "ok" and "error". */
static void write_results(FILE *f, const char *name, const char *help, uint64_t ok, uint64_t error)
{
	ep_metrics_help_type(f, name, help, "counter");
	ep_metrics_sample_u64(f, name, EP_LABELS({ "result", "ok" }), ok);
	ep_metrics_sample_u64(f, name, EP_LABELS({ "result", "error" }), error);
}

/* Device authentication: the node's keys, and their source's reads or syncs. */
static void write_auth_metrics(struct ep_runtime *rt, FILE *f)
{
	struct ep_keysrc_stats ks;

	if (!rt->keys)
		return;
	write_one(f, "edgeplane_auth_keys", "gauge",
		  "Session keys the node knows now (revoked ones included, until they leave).",
		  ep_keytab_count(rt->keys));
	if (!rt->keysrc)
		return;
	ep_keysrc_get_stats(rt->keysrc, &ks);
	if (rt->conf->auth.keys_file) {
		write_results(f, "edgeplane_auth_key_loads_total",
			      "Reads of auth.keys_file, by result (an error keeps the keys read "
			      "before).",
			      ks.loads, ks.load_errors);
		return;
	}
	write_results(f, "edgeplane_auth_syncs_total",
		      "Sync rounds with auth.controller, by result (an error includes a failed "
		      "connection).",
		      ks.syncs, ks.sync_errors);
	write_one(f, "edgeplane_auth_controller_connected", "gauge",
		  "1 while the connection to auth.controller is up.", ks.connected);
}

static void write_node_metrics(struct ep_runtime *rt, FILE *f, const struct ep_rt_snapshot *s)
{
	uint64_t queued = 0, reassembling = 0, mem_total = 0, mem_avail = 0;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (unsigned int i = 0; i < rt->nworkers; i++) {
		queued += s->st[i].queued;
		reassembling += s->st[i].reasm.tasks;
	}
	write_one(f, "edgeplane_node_cpu_busy_ratio", "gauge",
		  "Busy fraction of all the host's CPUs (not idle, not iowait) over the last "
		  "interval of at least 1 s between scrapes.",
		  cpu_busy(rt));
	write_one(f, "edgeplane_node_cpus", "gauge", "CPUs online.", ncpus > 0 ? ncpus : 0);
	if (!ep_sys_meminfo(&mem_total, &mem_avail)) {
		write_one(f, "edgeplane_node_memory_available_bytes", "gauge",
			  "MemAvailable of /proc/meminfo.", (double)mem_avail * 1024);
		write_one(f, "edgeplane_node_memory_total_bytes", "gauge",
			  "MemTotal of /proc/meminfo.", (double)mem_total * 1024);
	}
	write_one(f, "edgeplane_node_tasks_queued", "gauge",
		  "Tasks waiting for their handler, on all workers.", (double)queued);
	write_one(f, "edgeplane_node_tasks_in_flight", "gauge",
		  "Tasks received and not yet answered, on all workers: queued, and being "
		  "reassembled.",
		  (double)(queued + reassembling));
}

static void write_classifier_metrics(struct ep_runtime *rt, FILE *f)
{
	struct ep_counter cnt[EP_STAT__COUNT];
	int err;

	if (rt->xdp_stats_fd < 0)
		return;
	err = ep_xdp_read_stats(rt->xdp_stats_fd, cnt);
	if (err) {
		pr_debug("metrics: classifier counters: %s", strerror(-err));
		return;
	}
	ep_metrics_help_type(f, "edgeplane_classifier_packets_total",
			     "Packets the XDP classifier saw, by outcome.", "counter");
	for (unsigned int o = 0; o < EP_STAT__COUNT; o++)
		ep_metrics_sample_u64(f, "edgeplane_classifier_packets_total",
				      EP_LABELS({ "outcome", ep_stat_name(o) }), cnt[o].packets);
	ep_metrics_help_type(f, "edgeplane_classifier_bytes_total",
			     "Bytes of the packets the XDP classifier saw, by outcome.", "counter");
	for (unsigned int o = 0; o < EP_STAT__COUNT; o++)
		ep_metrics_sample_u64(f, "edgeplane_classifier_bytes_total",
				      EP_LABELS({ "outcome", ep_stat_name(o) }), cnt[o].bytes);
}

/* The runtime's settings as labels, and its start time. */
static void write_info_metrics(struct ep_runtime *rt, FILE *f)
{
	const struct ep_conf *c = rt->conf;
	char port[8];

	snprintf(port, sizeof(port), "%u", c->port);
	ep_metrics_help_type(f, "edgeplane_runtime_info",
			     "The runtime's settings, as labels; the value is 1.", "gauge");
	ep_metrics_sample(f, "edgeplane_runtime_info",
			  EP_LABELS({ "backend", c->backend },
				    { "interface", c->interface ? c->interface : "" },
				    { "port", port },
				    { "xdp_mode", rt->xdp    ? ep_xdp_mode_name(rt->xdp)
						  : rt->dpdk ? ep_dpdk_xdp_mode(rt->dpdk)
							     : "" }),
			  1);
	write_one(f, "edgeplane_start_time_seconds", "gauge",
		  "When the runtime started, in seconds since the Unix epoch.", rt->started_unix);
}

/* The metrics server's callback: the whole scrape into @f. Returns 0 or -ENOMEM. */
static int write_metrics(void *arg, FILE *f)
{
	struct ep_runtime *rt = arg;
	struct ep_rt_snapshot s;
	int err;

	err = ep_rt_snapshot_take(rt, &s);
	if (err)
		return err;
	write_info_metrics(rt, f);
	write_worker_metrics(rt, f, &s);
	write_auth_metrics(rt, f);
	write_type_metrics(rt, f, &s);
	write_node_metrics(rt, f, &s);
	write_classifier_metrics(rt, f);
	ep_rt_snapshot_free(&s);
	return 0;
}

int ep_rt_metrics_start(struct ep_runtime *rt)
{
	int err;

	rt->cpu_busy = NAN;
	read_cpu_times(&rt->cpu_prev);
	err = ep_metrics_start(rt->conf->metrics, write_metrics, rt, &rt->metrics);
	if (err)
		return err;
	pr_info("metrics on http://%s/metrics", rt->conf->metrics);
	return 0;
}
