// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/worker.h"
#include "daemon/runtime.h"
#include "daemon/statsrv.h"
#include "daemon/warmup.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/metrics.h"
#include "xdp/ep_xdp.h"

/* Host CPU time from /proc/stat, in clock ticks over all CPUs. */
struct cpu_times {
	uint64_t busy, total;
	uint64_t at_ns;
};

struct ep_runtime {
	const struct ep_conf *conf;
	struct ep_registry reg;
	struct ep_xdp *xdp;
	struct ep_statsrv *stats;
	unsigned int nworkers, nthreads;
	struct ep_worker *workers[EP_MAX_QUEUES];
	pthread_t threads[EP_MAX_QUEUES];
	uint64_t started_ns;
	double started_unix;

	/* /metrics: used only on the metrics server's thread once started. */
	struct ep_metrics *metrics;
	int xdp_stats_fd;		/* the classifier's pinned ep_stats, or -1 */
	struct cpu_times cpu_prev;	/* start of the current CPU busy interval */
	double cpu_busy;		/* busy fraction of the last complete interval */
};

static int metrics_start(struct ep_runtime *rt);

static int build_registry(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	int ret = 0;

	if (!c->nhandlers)
		return ep_registry_add_defaults(&rt->reg);
	for (unsigned int i = 0; i < c->nhandlers; i++) {
		const struct ep_handler_conf *hc = &c->handlers[i];
		struct ep_reg_entry *e;

		ret = hc->plugin ? ep_registry_add_plugin(&rt->reg, hc->plugin, hc->name, hc->type,
							  hc->args)
				 : ep_registry_add_builtin(&rt->reg, hc->name, hc->type, hc->args);
		if (ret < 0)
			return ret;
		if (!hc->nfiles)
			continue;
		/* Cache warm-up: the handler's files, read with io_uring, before its init. */
		e = &rt->reg.e[ret];
		e->files = calloc(hc->nfiles, sizeof(*e->files));
		if (!e->files)
			return -ENOMEM;
		ret = ep_warmup_read((const char *const *)hc->files, hc->nfiles, e->files);
		if (ret)
			return ret;
		e->nfiles = hc->nfiles;
	}
	return 0;
}

static int open_queue(struct ep_runtime *rt, unsigned int i, struct ep_io_q **q)
{
	const struct ep_conf *c = rt->conf;
	struct ep_io_cfg io = {
		.ifname = c->interface,
		.bind_addr = c->bind,
		.port = c->port,
		.frames = c->frames,
		.frame_size = c->frame_size,
		.zerocopy = c->zerocopy,
		.verify_csum = c->verify_csum,
		.busy_poll = c->busy_poll,
		.xsks_map_fd = rt->xdp ? ep_xdp_xsks_fd(rt->xdp) : -1,
	};

	if (!strcmp(c->backend, "afxdp"))
		return ep_io_afxdp_open(&io, c->queues[i], q);
	return ep_io_udp_open(&io, i, q);
}

static void *worker_thread(void *arg)
{
	ep_worker_run(arg);
	return NULL;
}

static void report(void *arg, FILE *f, bool json)
{
	ep_runtime_report(arg, f, json);
}

int ep_runtime_start(const struct ep_conf *c, struct ep_runtime **out)
{
	struct ep_runtime *rt = calloc(1, sizeof(*rt));
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	if (ncpus < 1)
		ncpus = 1;

	if (!rt)
		return -ENOMEM;
	rt->conf = c;
	rt->started_ns = ep_now_ns();
	rt->started_unix = (double)time(NULL);
	rt->xdp_stats_fd = -1;
	err = build_registry(rt);
	if (err)
		goto err_stop;

	if (!strcmp(c->backend, "afxdp")) {
		enum ep_xdp_mode mode = EP_XDP_MODE_AUTO;
		/* The classifier drops what breaks the protocol, up to its 64 MiB limit; a
		 * task above this node's own limit comes through and gets TOO_LARGE. */
		struct ep_xdp_opts xo = {
			.ifname = c->interface,
			.port = c->port,
			.max_task_len = EP_MAX_TASK_LEN,
			.pin_dir = c->pin_dir,
		};

		ep_xdp_parse_mode(c->xdp_mode, &mode);
		xo.mode = mode;
		err = ep_xdp_attach(&xo, &rt->xdp);
		if (err)
			goto err_stop;
		pr_info("classifier on %s in %s mode", c->interface, ep_xdp_mode_name(rt->xdp));
	}

	for (unsigned int i = 0; i < c->nqueues; i++) {
		struct ep_worker_cfg wc = c->w;
		struct ep_io_q *q;

		/* Pinned as configured, else worker i on CPU i (modulo the CPUs online). */
		wc.cpu = c->cpus[i] >= 0 ? c->cpus[i] : (int)(i % (unsigned int)ncpus);
		err = open_queue(rt, i, &q);
		if (err)
			goto err_stop;
		rt->workers[i] = ep_worker_new(&wc, &rt->reg, q, i);
		if (!rt->workers[i]) {
			err = -errno;
			pr_err("worker %u: %s", i, strerror(errno));
			goto err_stop;
		}
		rt->nworkers++;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		err = -pthread_create(&rt->threads[i], NULL, worker_thread, rt->workers[i]);
		if (err)
			goto err_stop;
		rt->nthreads++;
	}
	if (c->stats_socket) {
		err = ep_statsrv_start(c->stats_socket, report, rt, &rt->stats);
		if (err)
			goto err_stop;
	}
	if (c->metrics) {
		err = metrics_start(rt);
		if (err)
			goto err_stop;
	}
	*out = rt;
	return 0;

err_stop:
	ep_runtime_stop(rt);
	return err;
}

void ep_runtime_stop(struct ep_runtime *rt)
{
	if (!rt)
		return;
	ep_metrics_stop(rt->metrics);
	if (rt->xdp_stats_fd >= 0)
		close(rt->xdp_stats_fd);
	ep_statsrv_stop(rt->stats);
	for (unsigned int i = 0; i < rt->nthreads; i++)
		ep_worker_stop(rt->workers[i]);
	for (unsigned int i = 0; i < rt->nthreads; i++)
		pthread_join(rt->threads[i], NULL);
	for (unsigned int i = 0; i < rt->nworkers; i++)
		ep_worker_free(rt->workers[i]);
	if (rt->xdp)
		ep_xdp_close(rt->xdp, !rt->conf->keep_attached);
	ep_registry_release(&rt->reg);
	free(rt);
}

/* --- statistics --------------------------------------------------------------------- */

static void json_hist(FILE *f, const char *name, const struct ep_hist *h, double div)
{
	fprintf(f, "\"%s\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
		   "\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
		name, (unsigned long long)h->count,
		h->count ? (double)h->sum / (double)h->count / div : 0.0,
		(double)ep_hist_percentile(h, 50) / div, (double)ep_hist_percentile(h, 90) / div,
		(double)ep_hist_percentile(h, 99) / div, (double)ep_hist_percentile(h, 99.9) / div,
		(double)h->max / div);
}

static void json_type(FILE *f, const struct ep_type_stats *t, int type, const char *name)
{
	bool first = true;

	fprintf(f, "{\"type\":%d,\"handler\":\"%s\",\"received\":%llu,\"completed\":%llu,"
		   "\"cache_hits\":%llu,\"errors\":{",
		type, name, (unsigned long long)t->received, (unsigned long long)t->completed,
		(unsigned long long)t->cache_hits);
	for (int s = 1; s < EP_ST__COUNT; s++) {
		if (!t->errors[s])
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", ep_status_name(s),
			(unsigned long long)t->errors[s]);
		first = false;
	}
	fprintf(f, "},");
	json_hist(f, "latency_us", &t->latency_ns, 1000.0);
	fprintf(f, ",");
	json_hist(f, "batch_size", &t->batch_size, 1.0);
	fprintf(f, "}");
}

static bool type_used(const struct ep_type_stats *t)
{
	return t->received || t->cache_hits || t->latency_ns.count;
}

static void merge_type(struct ep_type_stats *dst, const struct ep_type_stats *src)
{
	dst->received += src->received;
	dst->completed += src->completed;
	dst->cache_hits += src->cache_hits;
	for (int s = 0; s < EP_ST__COUNT; s++)
		dst->errors[s] += src->errors[s];
	ep_hist_merge(&dst->latency_ns, &src->latency_ns);
	ep_hist_merge(&dst->batch_size, &src->batch_size);
}

static void report_json(struct ep_runtime *rt, FILE *f, struct ep_worker_stats *st,
			struct ep_type_stats *all)
{
	const struct ep_conf *c = rt->conf;

	fprintf(f, "{\"backend\":\"%s\",\"interface\":\"%s\",\"port\":%u,\"uptime_s\":%.1f,"
		   "\"workers\":[",
		c->backend, c->interface ? c->interface : "", c->port,
		(double)(ep_now_ns() - rt->started_ns) / 1e9);
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		const struct ep_worker_stats *s = &st[i];
		bool first = true;

		fprintf(f, "%s{\"worker\":%u,\"queue\":%u,\"datagrams\":%llu,\"queued\":%u,"
			   "\"duplicates\":%llu,\"shed\":%llu,\"pings\":%llu,\"cancels\":%llu,"
			   "\"reply_dropped\":%llu,\"replies_compressed\":%llu,\"invalid\":{",
			i ? "," : "", i, c->queues[i], (unsigned long long)s->dgrams, s->queued,
			(unsigned long long)s->duplicates, (unsigned long long)s->shed,
			(unsigned long long)s->pings, (unsigned long long)s->cancels,
			(unsigned long long)s->reply_dropped,
			(unsigned long long)s->replies_compressed);
		for (int r = 0; r < EP_STAT__COUNT; r++) {
			if (!s->invalid[r])
				continue;
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",", ep_stat_name(r),
				(unsigned long long)s->invalid[r]);
			first = false;
		}
		fprintf(f, "},\"reassembly\":{\"started\":%llu,\"completed\":%llu,\"expired\":%llu,"
			   "\"duplicates\":%llu,\"conflicts\":%llu,\"refused\":%llu,\"tasks\":%u,"
			   "\"bytes\":%llu},",
			(unsigned long long)s->reasm.started, (unsigned long long)s->reasm.completed,
			(unsigned long long)s->reasm.expired,
			(unsigned long long)s->reasm.duplicates,
			(unsigned long long)s->reasm.conflicts, (unsigned long long)s->reasm.refused,
			s->reasm.tasks, (unsigned long long)s->reasm.bytes);
		fprintf(f, "\"cache\":{\"hits\":%llu,\"inflight_hits\":%llu,\"entries\":%u,"
			   "\"bytes\":%llu,\"evicted\":%llu,\"expired\":%llu},",
			(unsigned long long)s->cache.hits_done,
			(unsigned long long)s->cache.hits_pending, s->cache.entries,
			(unsigned long long)s->cache.bytes, (unsigned long long)s->cache.evicted,
			(unsigned long long)s->cache.expired);
		fprintf(f, "\"io\":{\"rx_packets\":%llu,\"rx_bytes\":%llu,\"tx_packets\":%llu,"
			   "\"tx_bytes\":%llu,\"rx_invalid\":%llu,\"rx_bad_csum\":%llu,"
			   "\"tx_full\":%llu,\"wakeups\":%llu},\"types\":[",
			(unsigned long long)s->io.rx_packets, (unsigned long long)s->io.rx_bytes,
			(unsigned long long)s->io.tx_packets, (unsigned long long)s->io.tx_bytes,
			(unsigned long long)s->io.rx_invalid, (unsigned long long)s->io.rx_bad_csum,
			(unsigned long long)s->io.tx_ring_full, (unsigned long long)s->io.wakeups);
		first = true;
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
			if (!type_used(&s->type[t]))
				continue;
			fprintf(f, "%s", first ? "" : ",");
			json_type(f, &s->type[t], t < rt->reg.n ? rt->reg.e[t].type : -1,
				  t < rt->reg.n ? rt->reg.e[t].h->name : "unknown");
			first = false;
		}
		fprintf(f, "]}");
	}
	fprintf(f, "],\"types\":[");
	for (unsigned int t = 0, first = 1; t <= EP_MAX_HANDLERS; t++) {
		if (t < rt->reg.n || type_used(&all[t])) {
			fprintf(f, "%s", first ? "" : ",");
			json_type(f, &all[t], t < rt->reg.n ? rt->reg.e[t].type : -1,
				  t < rt->reg.n ? rt->reg.e[t].h->name : "unknown");
			first = 0;
		}
	}
	fprintf(f, "]}\n");
}

static void report_text(struct ep_runtime *rt, FILE *f, struct ep_worker_stats *st,
			struct ep_type_stats *all)
{
	fprintf(f, "%-6s %-6s %12s %8s %10s %8s %12s %12s\n", "worker", "queue", "datagrams",
		"queued", "duplicates", "shed", "reasm_done", "cache_hits");
	for (unsigned int i = 0; i < rt->nworkers; i++)
		fprintf(f, "%-6u %-6u %12llu %8u %10llu %8llu %12llu %12llu\n", i,
			rt->conf->queues[i], (unsigned long long)st[i].dgrams, st[i].queued,
			(unsigned long long)st[i].duplicates, (unsigned long long)st[i].shed,
			(unsigned long long)st[i].reasm.completed,
			(unsigned long long)st[i].cache.hits_done);
	fprintf(f, "\n%-5s %-12s %10s %10s %8s %9s %9s %9s %7s\n", "type", "handler",
		"received", "completed", "errors", "p50_us", "p99_us", "max_us", "batch");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		const struct ep_type_stats *s = &all[t];
		uint64_t errors = 0;

		if (t >= rt->reg.n && !type_used(s))
			continue;
		for (int e = 1; e < EP_ST__COUNT; e++)
			errors += s->errors[e];
		fprintf(f, "%-5d %-12s %10llu %10llu %8llu %9.1f %9.1f %9.1f %7.1f\n",
			t < rt->reg.n ? rt->reg.e[t].type : -1,
			t < rt->reg.n ? rt->reg.e[t].h->name : "unknown",
			(unsigned long long)s->received, (unsigned long long)s->completed,
			(unsigned long long)errors,
			(double)ep_hist_percentile(&s->latency_ns, 50) / 1000.0,
			(double)ep_hist_percentile(&s->latency_ns, 99) / 1000.0,
			(double)s->latency_ns.max / 1000.0,
			s->batch_size.count ? (double)s->batch_size.sum / (double)s->batch_size.count
					    : 0.0);
	}
}

/* Every worker's statistics, and per task type merged over the workers: what both the
 * statistics socket and /metrics report. */
struct snapshot {
	struct ep_worker_stats *st;	/* [nworkers] */
	struct ep_type_stats *all;	/* [EP_MAX_HANDLERS + 1], by registry entry */
};

static void snapshot_free(struct snapshot *s)
{
	free(s->st);
	free(s->all);
}

static int snapshot_take(struct ep_runtime *rt, struct snapshot *s)
{
	s->st = calloc(rt->nworkers ? rt->nworkers : 1, sizeof(*s->st));
	s->all = calloc(EP_MAX_HANDLERS + 1, sizeof(*s->all));
	if (!s->st || !s->all) {
		snapshot_free(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		ep_worker_stats(rt->workers[i], &s->st[i]);
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++)
			merge_type(&s->all[t], &s->st[i].type[t]);
	}
	return 0;
}

void ep_runtime_report(struct ep_runtime *rt, FILE *f, bool json)
{
	struct snapshot s;

	if (snapshot_take(rt, &s)) {
		fprintf(f, json ? "{\"error\":\"out of memory\"}\n" : "out of memory\n");
		return;
	}
	if (json)
		report_json(rt, f, s.st, s.all);
	else
		report_text(rt, f, s.st, s.all);
	snapshot_free(&s);
}
