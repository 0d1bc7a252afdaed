// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats.c - the runtime's statistics: the table of what a worker and a task type count
 * (stats.h), the snapshot of every worker, and the report on the statistics socket
 * (`edgeplane stats`): JSON built with jansson, so that every string (a plugin's handler
 * name included) is escaped, or a table of text.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/keys.h"
#include "daemon/keysrc.h"
#include "daemon/report.h"
#include "daemon/runtime.h"
#include "daemon/runtime_int.h"
#include "daemon/stats.h"
#include "edgeplane/codec.h"
#include "edgeplane/util.h"
#include "xdp/ep_xdp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Cumulative bounds of the exported histograms: latency in seconds, batch sizes in tasks. */
static const double latency_bounds[] = { 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,	2.5e-3, 5e-3,
					 10e-3, 25e-3,	50e-3,	100e-3, 250e-3, 1.0 };
static const double batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* A worker's value: W(JSON group, JSON key, metric, kind, field, help). */
#define W(grp, js, met, kd, field, hlp)                                                   \
	{                                                                                 \
		.group = grp, .json = js, .metric = met, .kind = EP_SK_##kd, .help = hlp, \
		.off = offsetof(struct ep_worker_stats, field),                           \
		.size = FIELD_SIZE(struct ep_worker_stats, field)                         \
	}
/* A worker's array, its elements from @first named by @keyfn in label @lbl. */
#define WA(grp, js, met, field, fst, lbl, keyfn, fl, hlp)                                         \
	{                                                                                         \
		.group = grp, .json = js, .metric = met, .kind = EP_SK_COUNTER, .help = hlp,      \
		.off = offsetof(struct ep_worker_stats, field),                                   \
		.size = FIELD_SIZE(struct ep_worker_stats, field[0]), .first = fst,               \
		.n = ARRAY_LEN(((struct ep_worker_stats *)0)->field), .label = lbl, .key = keyfn, \
		.flags = fl                                                                       \
	}

/* In the order /metrics writes them. */
const struct ep_stat_desc ep_worker_stat_descs[] = {
	W(NULL, "datagrams", "edgeplane_datagrams_total", COUNTER, dgrams,
	  "Datagrams the worker received."),
	W(NULL, "duplicates", "edgeplane_duplicates_total", COUNTER, duplicates,
	  "Retries of tasks still queued or running, ignored."),
	W(NULL, "shed", "edgeplane_tasks_shed_total", COUNTER, shed,
	  "Queued low-priority tasks dropped for higher-priority ones."),
	W(NULL, "pings", "edgeplane_pings_total", COUNTER, pings, "PINGs answered."),
	W(NULL, "cancels", "edgeplane_cancels_total", COUNTER, cancels, "CANCELs received."),
	W(NULL, "reply_dropped", "edgeplane_reply_dropped_total", COUNTER, reply_dropped,
	  "Reply fragments dropped for want of a transmit buffer."),
	W(NULL, "replies_compressed", "edgeplane_replies_compressed_total", COUNTER,
	  replies_compressed, "Replies sent zstd-compressed."),
	W(NULL, "retries_sent", "edgeplane_retries_sent_total", COUNTER, retries_sent,
	  "RETRYs sent (with an address-validation token) instead of a reply larger than "
	  "an unvalidated source's budget."),
	W(NULL, "tokens_accepted", "edgeplane_tokens_accepted_total", COUNTER, tokens_accepted,
	  "Datagrams carrying a valid address-validation token."),
	W(NULL, "tokens_refused", "edgeplane_tokens_refused_total", COUNTER, tokens_refused,
	  "Datagrams carrying an invalid address-validation token (forged, expired, another "
	  "address or port, another node's secret)."),
	W(NULL, "replies_cut", "edgeplane_replies_cut_total", COUNTER, replies_cut,
	  "ERROR texts shortened to fit an unvalidated source's budget."),
	W(NULL, "priority_lowered", "edgeplane_priority_lowered_total", COUNTER, priority_lowered,
	  "Tasks whose priority was above limits.max_priority, lowered to it."),
	W(NULL, "low_sliced", "edgeplane_low_sliced_total", COUNTER, low_sliced,
	  "Low-priority batches cut to one task while high-priority work was under way."),
	W(NULL, "task_acks_sent", "edgeplane_task_acks_sent_total", COUNTER, task_acks_sent,
	  "TASK_ACKs sent: the fragments of a request held (selective repeat)."),
	W(NULL, "result_acks", "edgeplane_result_acks_total", COUNTER, result_acks,
	  "Valid RESULT_ACKs received."),
	W(NULL, "bad_acks", "edgeplane_bad_acks_total", COUNTER, bad_acks,
	  "RESULT_ACKs with an invalid payload, dropped."),
	W(NULL, "result_frags_resent", "edgeplane_result_frags_resent_total", COUNTER,
	  result_frags_resent,
	  "Result fragments resent for RESULT_ACKs (those the client lacked)."),
	W("auth", "ok", "edgeplane_auth_ok_total", COUNTER, auth_ok,
	  "AUTH datagrams that passed every check: key, role, tenant, freshness, tag, replay."),
	W("auth", "replies_dropped", "edgeplane_auth_replies_dropped_total", COUNTER,
	  auth_replies_dropped,
	  "Reply datagrams to authenticated tasks not sent: their key was revoked, expired or "
	  "removed by then."),
	W(NULL, "decompress_in_bytes", "edgeplane_decompress_in_bytes_total", COUNTER,
	  bytes_decompressed_in, "Compressed task payload bytes decompressed."),
	W(NULL, "decompress_out_bytes", "edgeplane_decompress_out_bytes_total", COUNTER,
	  bytes_decompressed_out, "Task payload bytes after decompression."),
	W(NULL, "queued", "edgeplane_tasks_queued", GAUGE, queued,
	  "Tasks accepted and waiting for their handler."),
	W("reassembly", "started", "edgeplane_reassembly_started_total", COUNTER, reasm.started,
	  "Multi-fragment tasks whose reassembly began."),
	W("reassembly", "completed", "edgeplane_reassembly_completed_total", COUNTER,
	  reasm.completed, "Multi-fragment tasks reassembled completely."),
	W("reassembly", "expired", "edgeplane_reassembly_expired_total", COUNTER, reasm.expired,
	  "Incomplete tasks expired (answered TIMEOUT)."),
	W("reassembly", "expired_lifetime", "edgeplane_reassembly_expired_lifetime_total", COUNTER,
	  reasm.expired_lifetime,
	  "Incomplete tasks expired at reassembly.max_lifetime_ms (counted in expired too)."),
	W("reassembly", "evicted", "edgeplane_reassembly_evicted_total", COUNTER, reasm.evicted,
	  "Incomplete tasks evicted under memory pressure (answered OVERLOADED)."),
	W("reassembly", "cancelled", "edgeplane_reassembly_cancelled_total", COUNTER,
	  reasm.cancelled, "Incomplete tasks removed by a CANCEL (answered CANCELLED)."),
	W("reassembly", "refused", "edgeplane_reassembly_refused_total", COUNTER, reasm.refused,
	  "New multi-fragment tasks refused by a reassembly memory limit."),
	W("reassembly", "dropped", "edgeplane_reassembly_dropped_fragments_total", COUNTER,
	  reasm.dropped, "Fragments of tasks in progress dropped for want of reassembly memory."),
	W("reassembly", "duplicates", "edgeplane_reassembly_duplicate_fragments_total", COUNTER,
	  reasm.duplicates, "Fragments received twice, ignored."),
	W("reassembly", "conflicts", "edgeplane_reassembly_conflicting_fragments_total", COUNTER,
	  reasm.conflicts, "Fragments contradicting their task, refused."),
	W("reassembly", "tasks", "edgeplane_reassembly_tasks", GAUGE, reasm.tasks,
	  "Tasks being reassembled now."),
	W("reassembly", "bytes", "edgeplane_reassembly_bytes", GAUGE, reasm.bytes,
	  "Bytes charged to tasks being reassembled now (pages written)."),
	W("cache", "hits", "edgeplane_cache_hits_total", COUNTER, cache.hits_done,
	  "Retries answered from the result cache."),
	W("cache", "inflight_hits", "edgeplane_cache_pending_hits_total", COUNTER,
	  cache.hits_pending, "Retries of tasks not yet answered, found in the result cache."),
	W("cache", "gap_hits", "edgeplane_cache_gap_hits_total", COUNTER, cache.hits_gap,
	  "Retries inside the resend gap of a cached reply, ignored."),
	W("cache", "replays_refused", "edgeplane_cache_replays_refused_total", COUNTER,
	  cache.replays_refused,
	  "Retries past a task's replay budget (cache.max_replays), ignored."),
	W("cache", "ack_hits", "edgeplane_cache_ack_hits_total", COUNTER, cache.acks_done,
	  "RESULT_ACKs answered with the missing fragments of a cached result."),
	W("cache", "ack_duplicates", "edgeplane_cache_ack_duplicates_total", COUNTER,
	  cache.acks_dup, "RESULT_ACKs repeating the previous one's count within 2 ms, ignored."),
	W("cache", "acks_refused", "edgeplane_cache_acks_refused_total", COUNTER,
	  cache.acks_refused,
	  "RESULT_ACKs past a result's resend budget (cache.max_replays x its fragments), "
	  "ignored."),
	W("cache", "conflicts", "edgeplane_cache_conflicts_total", COUNTER, cache.conflicts,
	  "Requests reusing a cached task id for another request, answered CONFLICT."),
	W("cache", "refused", "edgeplane_cache_refused_total", COUNTER, cache.refused,
	  "New tasks refused OVERLOADED because every cache entry was pending."),
	W("cache", "evicted", "edgeplane_cache_evicted_total", COUNTER, cache.evicted,
	  "Result cache entries evicted by its memory bounds."),
	W("cache", "expired", "edgeplane_cache_expired_total", COUNTER, cache.expired,
	  "Result cache entries that left after their window."),
	W("cache", "entries", "edgeplane_cache_entries", GAUGE, cache.entries,
	  "Result cache entries now."),
	W("cache", "pending", "edgeplane_cache_pending", GAUGE, cache.pending,
	  "Result cache entries of tasks queued or running now."),
	W("cache", "bytes", "edgeplane_cache_bytes", GAUGE, cache.bytes, "Result cache bytes now."),
	W("io", "rx_packets", "edgeplane_io_rx_packets_total", COUNTER, io.rx_packets,
	  "Packets the I/O backend received."),
	W("io", "rx_bytes", "edgeplane_io_rx_bytes_total", COUNTER, io.rx_bytes,
	  "Bytes the I/O backend received."),
	W("io", "tx_packets", "edgeplane_io_tx_packets_total", COUNTER, io.tx_packets,
	  "Packets the I/O backend sent."),
	W("io", "tx_bytes", "edgeplane_io_tx_bytes_total", COUNTER, io.tx_bytes,
	  "Bytes the I/O backend sent."),
	W("io", "rx_invalid", "edgeplane_io_rx_invalid_total", COUNTER, io.rx_invalid,
	  "Frames the I/O backend could not parse."),
	W("io", "rx_bad_csum", "edgeplane_io_rx_bad_csum_total", COUNTER, io.rx_bad_csum,
	  "Datagrams dropped for a wrong UDP checksum."),
	W("io", "tx_full", "edgeplane_io_tx_ring_full_total", COUNTER, io.tx_ring_full,
	  "Replies dropped: no transmit buffer after a flush."),
	W("io", "wakeups", "edgeplane_io_wakeups_total", COUNTER, io.wakeups,
	  "need_wakeup system calls made by the I/O backend."),
	W("io", "rx_dropped", "edgeplane_io_rx_dropped_total", COUNTER, io.rx_dropped,
	  "Frames the kernel dropped before the AF_XDP RX ring (ring full, no fill buffer), "
	  "or datagrams the socket's receive queue dropped."),
	W("io", "rx_rearms", "edgeplane_io_rx_rearms_total", COUNTER, io.rx_rearms,
	  "io_uring: multishot receives armed again after the kernel ended them."),
	W("io", "rx_no_buf", "edgeplane_io_rx_no_buf_total", COUNTER, io.rx_no_buf,
	  "io_uring: times the provided buffer ring ran dry (datagrams wait in the socket)."),
	W("io", "tx_zc", "edgeplane_io_tx_zc_total", COUNTER, io.tx_zc,
	  "io_uring: sends with send_zc (zero copy)."),
	W("io", "tx_zc_copied", "edgeplane_io_tx_zc_copied_total", COUNTER, io.tx_zc_copied,
	  "io_uring: send_zc sends the kernel copied after all."),
	W("io", "rx_prio_packets", "edgeplane_io_rx_prio_packets_total", COUNTER,
	  io.rx_prio_packets,
	  "AF_XDP: frames received on the queue's priority socket (limits.high_priority)."),
	W("io", "rx_prio_dropped", "edgeplane_io_rx_prio_dropped_total", COUNTER,
	  io.rx_prio_dropped,
	  "AF_XDP: frames the kernel dropped before the priority socket's RX ring."),
	W("io", "rx_low_deferred", "edgeplane_io_rx_low_deferred_total", COUNTER,
	  io.rx_low_deferred,
	  "AF_XDP: receive passes that left the default ring unread, its share of frames "
	  "being held by queued tasks."),
	WA(NULL, "priorities", NULL, prio_tasks, 1, NULL, NULL, 0,
	   "Tasks queued to run, by priority (1..5)."),
	WA(NULL, "invalid", "edgeplane_datagrams_invalid_total", invalid, 0, "reason", ep_stat_name,
	   EP_SF_JSON_NONZERO | EP_SF_PROM_DROPS,
	   "Datagrams the codec refused, by the protocol rule they broke."),
	WA("auth", "dropped", "edgeplane_auth_dropped_total", auth_dropped, 0, "reason",
	   ep_auth_drop_name, 0,
	   "Datagrams dropped by device authentication, unanswered, by reason "
	   "(missing: no AUTH in mode required)."),
};
const unsigned int ep_worker_stat_ndescs = ARRAY_LEN(ep_worker_stat_descs);

/* A task type's counter: T(JSON key, metric, field, help). */
#define T(js, met, field, hlp)                                                 \
	{                                                                      \
		.json = js, .metric = met, .kind = EP_SK_COUNTER, .help = hlp, \
		.off = offsetof(struct ep_type_stats, field),                  \
		.size = FIELD_SIZE(struct ep_type_stats, field)                \
	}
/* A task type's histogram, in the metric's unit (raw x @sc) and JSON's (raw / @div). */
#define TH(js, met, field, sc, div, bnds, fl, hlp)                                      \
	{                                                                               \
		.json = js, .metric = met, .kind = EP_SK_HIST, .help = hlp,             \
		.off = offsetof(struct ep_type_stats, field), .flags = fl, .scale = sc, \
		.json_div = div, .bounds = bnds, .nbounds = ARRAY_LEN(bnds)             \
	}

const struct ep_stat_desc ep_type_stat_descs[] = {
	T("received", "edgeplane_tasks_received_total", received,
	  "Tasks received complete, accepted or refused."),
	T("completed", "edgeplane_tasks_completed_total", completed,
	  "Tasks answered with a RESPONSE."),
	T("cache_hits", "edgeplane_task_cache_hits_total", cache_hits,
	  "Retries answered from the result cache."),
	{ .json = "errors",
	  .metric = "edgeplane_task_errors_total",
	  .kind = EP_SK_COUNTER,
	  .help = "Tasks answered with an ERROR, by status.",
	  .off = offsetof(struct ep_type_stats, errors),
	  .size = FIELD_SIZE(struct ep_type_stats, errors[0]),
	  .first = 1,
	  .n = EP_ST__COUNT,
	  .label = "status",
	  .key = ep_status_name,
	  .flags = EP_SF_JSON_NONZERO },
	TH("in_node_us", "edgeplane_task_latency_seconds", latency_ns, 1e-9, 1000.0, latency_bounds,
	   0,
	   "Time in the node: from a task's acceptance (complete, queued) to the end of "
	   "its handler's call."),
	/* The name in_node_us had before: tests, the demo and scripts read it. */
	TH("latency_us", NULL, latency_ns, 1e-9, 1000.0, latency_bounds, EP_SF_ALIAS, NULL),
	TH("handler_us", "edgeplane_task_handler_seconds", handler_ns, 1e-9, 1000.0, latency_bounds,
	   EP_SF_PROM_KNOWN,
	   "Time in the handler: its call's time over the tasks of the batch, per task run."),
	/* Tasks of unknown types never reach a handler: no batch sizes for them. */
	TH("batch_size", "edgeplane_handler_batch_size", batch_size, 1.0, 1.0, batch_bounds,
	   EP_SF_PROM_KNOWN, "Tasks per handler call."),
};
const unsigned int ep_type_stat_ndescs = ARRAY_LEN(ep_type_stat_descs);
/* merge_type() adds the type table's counters as uint64_t. */
_Static_assert(FIELD_SIZE(struct ep_type_stats, received) == 8 &&
		       FIELD_SIZE(struct ep_type_stats, completed) == 8 &&
		       FIELD_SIZE(struct ep_type_stats, cache_hits) == 8 &&
		       FIELD_SIZE(struct ep_type_stats, errors[0]) == 8,
	       "task type counters are uint64_t");

uint64_t ep_stat_value(const struct ep_stat_desc *d, const void *base, unsigned int i)
{
	const char *p = (const char *)base + d->off + (size_t)i * d->size;
	uint32_t v32;
	uint64_t v64;

	if (d->size == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
	memcpy(&v64, p, sizeof(v64));
	return v64;
}

const struct ep_hist *ep_stat_hist(const struct ep_stat_desc *d, const void *base)
{
	return (const struct ep_hist *)((const char *)base + d->off);
}

int ep_rt_type_number(const struct ep_runtime *rt, unsigned int t)
{
	return t < rt->reg.n ? (int)rt->reg.e[t].type : -1;
}

const char *ep_rt_type_handler(const struct ep_runtime *rt, unsigned int t)
{
	return t < rt->reg.n ? rt->reg.e[t].h->name : "unknown";
}

/* --- the snapshot ------------------------------------------------------------------- */

/* Add @src's values into @dst's, entry by entry of the task type table (an alias once). */
static void merge_type(struct ep_type_stats *dst, const struct ep_type_stats *src)
{
	for (unsigned int k = 0; k < ep_type_stat_ndescs; k++) {
		const struct ep_stat_desc *d = &ep_type_stat_descs[k];

		if (d->flags & EP_SF_ALIAS)
			continue;
		if (d->kind == EP_SK_HIST) {
			ep_hist_merge((struct ep_hist *)((char *)dst + d->off),
				      ep_stat_hist(d, src));
			continue;
		}
		/* The type table's counters are all uint64_t (stats.h). */
		for (unsigned int i = 0; i < (d->n ? d->n : 1); i++)
			((uint64_t *)((char *)dst + d->off))[i] += ep_stat_value(d, src, i);
	}
}

void ep_rt_snapshot_free(struct ep_rt_snapshot *s)
{
	free(s->st);
	free(s->all);
}

int ep_rt_snapshot_take(struct ep_runtime *rt, struct ep_rt_snapshot *s)
{
	s->st = calloc(rt->nworkers ? rt->nworkers : 1, sizeof(*s->st));
	s->all = calloc(EP_MAX_HANDLERS + 1, sizeof(*s->all));
	if (!s->st || !s->all) {
		ep_rt_snapshot_free(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		ep_worker_stats(rt->workers[i], &s->st[i]);
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++)
			merge_type(&s->all[t], &s->st[i].type[t]);
	}
	return 0;
}

/* --- JSON --------------------------------------------------------------------------- */

/* Whether type slot @t counted anything. */
static bool type_used(const struct ep_type_stats *t)
{
	return t->received || t->cache_hits || t->latency_ns.count;
}

/* @v to one decimal, as the report has always given its averages and percentiles. */
static json_t *json_tenth(double v)
{
	return json_real(round(v * 10.0) / 10.0);
}

/* Sets @key of @obj to @v, which it takes: json_object_set_new() frees @v when it fails,
 * and fails on a NULL @obj or @v (an allocation that failed), which *@err remembers. */
static void jset(json_t *obj, const char *key, json_t *v, int *err)
{
	if (json_object_set_new(obj, key, v))
		*err = -ENOMEM;
}

static json_t *json_hist(const struct ep_hist *h, double div, int *err)
{
	json_t *o = json_object();

	jset(o, "count", json_integer((json_int_t)h->count), err);
	jset(o, "mean", json_tenth(h->count ? (double)h->sum / (double)h->count / div : 0.0), err);
	jset(o, "p50", json_tenth((double)ep_hist_percentile(h, 50) / div), err);
	jset(o, "p90", json_tenth((double)ep_hist_percentile(h, 90) / div), err);
	jset(o, "p99", json_tenth((double)ep_hist_percentile(h, 99) / div), err);
	jset(o, "p999", json_tenth((double)ep_hist_percentile(h, 99.9) / div), err);
	jset(o, "max", json_tenth((double)h->max / div), err);
	return o;
}

/* An array entry: a JSON object by element name, or without names a JSON array. */
static json_t *json_array_of(const struct ep_stat_desc *d, const void *base, int *err)
{
	json_t *v = d->key ? json_object() : json_array();

	for (unsigned int i = d->first; i < d->n && v; i++) {
		uint64_t x = ep_stat_value(d, base, i);

		if (!d->key) {
			if (json_array_append_new(v, json_integer((json_int_t)x)))
				*err = -ENOMEM;
		} else if (x || !(d->flags & EP_SF_JSON_NONZERO)) {
			jset(v, d->key(i), json_integer((json_int_t)x), err);
		}
	}
	return v;
}

/* Every entry of @descs that has a JSON key, from @base into @obj (and its groups). */
static void json_fill(json_t *obj, const struct ep_stat_desc *descs, unsigned int n,
		      const void *base, int *err)
{
	for (unsigned int k = 0; k < n; k++) {
		const struct ep_stat_desc *d = &descs[k];
		json_t *into = obj, *v;

		if (!d->json)
			continue;
		if (d->group) {
			into = json_object_get(obj, d->group);
			if (!into) {
				into = json_object();
				jset(obj, d->group, into, err);
			}
		}
		if (d->kind == EP_SK_HIST)
			v = json_hist(ep_stat_hist(d, base), d->json_div, err);
		else if (d->n)
			v = json_array_of(d, base, err);
		else
			v = json_integer((json_int_t)ep_stat_value(d, base, 0));
		jset(into, d->json, v, err);
	}
}

static json_t *json_task_type(const struct ep_runtime *rt, const struct ep_type_stats *ts,
			      unsigned int t, int *err)
{
	json_t *o = json_object();

	jset(o, "type", json_integer(ep_rt_type_number(rt, t)), err);
	jset(o, "handler", json_string(ep_rt_type_handler(rt, t)), err);
	json_fill(o, ep_type_stat_descs, ep_type_stat_ndescs, ts, err);
	return o;
}

/* The task types of @ts[0..EP_MAX_HANDLERS]: those that counted anything, and with
 * @registered every handler's too. */
static json_t *json_types(const struct ep_runtime *rt, const struct ep_type_stats *ts,
			  bool registered, int *err)
{
	json_t *a = json_array();

	for (unsigned int t = 0; t <= EP_MAX_HANDLERS && a; t++)
		if ((registered && t < rt->reg.n) || type_used(&ts[t]))
			if (json_array_append_new(a, json_task_type(rt, &ts[t], t, err)))
				*err = -ENOMEM;
	return a;
}

static json_t *json_worker(const struct ep_runtime *rt, unsigned int i,
			   const struct ep_worker_stats *s, int *err)
{
	json_t *o = json_object();

	jset(o, "worker", json_integer(i), err);
	jset(o, "queue", json_integer(rt->conf->queues[i]), err);
	json_fill(o, ep_worker_stat_descs, ep_worker_stat_ndescs, s, err);
	jset(o, "types", json_types(rt, s->type, false, err), err);
	return o;
}

/* The node's side of device authentication: its mode, id, keys and their source, and who
 * charges the keys' buckets (the classifier, its keys mirrored from the table, or the
 * workers). */
static json_t *json_auth(struct ep_runtime *rt, int *err)
{
	const struct ep_conf *c = rt->conf;
	struct ep_keysrc_stats ks = { 0 };
	json_t *o = json_object();

	if (rt->keysrc)
		ep_keysrc_get_stats(rt->keysrc, &ks);
	jset(o, "mode", json_string(ep_xdp_auth_mode_name(c->w.auth_mode)), err);
	jset(o, "node_id", json_integer(rt->keys ? ep_keytab_node_id(rt->keys) : 0), err);
	jset(o, "keys", json_integer(rt->keys ? ep_keytab_count(rt->keys) : 0), err);
	jset(o, "source",
	     json_string(c->auth.controller  ? "controller"
			 : c->auth.keys_file ? "keys_file"
					     : "none"),
	     err);
	jset(o, "loads", json_integer((json_int_t)ks.loads), err);
	jset(o, "load_errors", json_integer((json_int_t)ks.load_errors), err);
	jset(o, "syncs", json_integer((json_int_t)ks.syncs), err);
	jset(o, "sync_errors", json_integer((json_int_t)ks.sync_errors), err);
	jset(o, "connected", json_boolean(ks.connected), err);
	jset(o, "key_checks",
	     json_string(!rt->keys		? "none"
			 : rt->xdp_keys_fd >= 0 ? "classifier"
						: "workers"),
	     err);
	jset(o, "classifier_key_errors",
	     json_integer((json_int_t)__atomic_load_n(&rt->xdp_key_errors, __ATOMIC_RELAXED)), err);
	return o;
}

/* The classifier's counters that moved, by name (packets): what XDP dropped before any
 * worker saw it. Nothing without a classifier of ours. */
static void json_classifier(struct ep_runtime *rt, json_t *root, int *err)
{
	struct ep_counter cnt[EP_STAT__COUNT];
	json_t *o;

	if (rt->xdp_stats_fd < 0 || ep_xdp_read_stats(rt->xdp_stats_fd, cnt))
		return;
	o = json_object();
	for (unsigned int s = 0; s < EP_STAT__COUNT; s++)
		if (cnt[s].packets)
			jset(o, ep_stat_name(s), json_integer((json_int_t)cnt[s].packets), err);
	jset(root, "classifier", o, err);
}

static void json_load_reports(struct ep_runtime *rt, json_t *root, int *err)
{
	struct ep_reporter_stats rs;
	json_t *o;

	if (!rt->reporter)
		return;
	ep_reporter_get_stats(rt->reporter, &rs);
	o = json_object();
	jset(o, "sent", json_integer((json_int_t)rs.sent), err);
	jset(o, "events", json_integer((json_int_t)rs.events), err);
	jset(o, "errors", json_integer((json_int_t)rs.errors), err);
	jset(root, "load_reports", o, err);
}

/* The whole report as one JSON object, or NULL (-ENOMEM). */
static json_t *report_json(struct ep_runtime *rt, const struct ep_rt_snapshot *s)
{
	const struct ep_conf *c = rt->conf;
	json_t *root = json_object(), *workers = json_array();
	int err = 0;

	jset(root, "backend", json_string(c->backend), &err);
	jset(root, "interface", json_string(c->interface ? c->interface : ""), &err);
	jset(root, "port", json_integer(c->port), &err);
	jset(root, "uptime_s", json_tenth((double)(ep_now_ns() - rt->started_ns) / 1e9), &err);
	jset(root, "auth", json_auth(rt, &err), &err);
	json_classifier(rt, root, &err);
	json_load_reports(rt, root, &err);
	for (unsigned int i = 0; i < rt->nworkers && workers; i++)
		if (json_array_append_new(workers, json_worker(rt, i, &s->st[i], &err)))
			err = -ENOMEM;
	jset(root, "workers", workers, &err);
	jset(root, "types", json_types(rt, s->all, true, &err), &err);
	if (err) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* --- text --------------------------------------------------------------------------- */

/* Device authentication: the node, then drops by reason. */
static void report_auth_text(struct ep_runtime *rt, FILE *f, const struct ep_rt_snapshot *s)
{
	uint64_t ok = 0, drop[EP_AUTH_DROP__COUNT] = { 0 };

	for (unsigned int i = 0; i < rt->nworkers; i++) {
		ok += s->st[i].auth_ok;
		for (unsigned int r = 0; r < EP_AUTH_DROP__COUNT; r++)
			drop[r] += s->st[i].auth_dropped[r];
	}
	fprintf(f, "\nauth: mode %s, node %u, %u keys, %llu datagrams verified",
		ep_xdp_auth_mode_name(rt->conf->w.auth_mode), ep_keytab_node_id(rt->keys),
		ep_keytab_count(rt->keys), (unsigned long long)ok);
	for (unsigned int r = 0, n = 0; r < EP_AUTH_DROP__COUNT; r++)
		if (drop[r])
			fprintf(f, "%s %s %llu", n++ ? "," : "; dropped:", ep_auth_drop_name(r),
				(unsigned long long)drop[r]);
	fprintf(f, "\n");
}

/* Per task type: in_p50_us .. in_max_us are the time in the node (in_node_us),
 * handler_p99_us the handler's (handler_us). */
static void report_types_text(struct ep_runtime *rt, FILE *f, const struct ep_type_stats *all)
{
	fprintf(f, "\n%-5s %-12s %10s %10s %8s %9s %9s %9s %9s %7s\n", "type", "handler",
		"received", "completed", "errors", "in_p50_us", "in_p99_us", "in_max_us",
		"h_p99_us", "batch");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		const struct ep_type_stats *s = &all[t];
		uint64_t errors = 0;

		if (t >= rt->reg.n && !type_used(s))
			continue;
		for (int e = 1; e < EP_ST__COUNT; e++)
			errors += s->errors[e];
		fprintf(f, "%-5d %-12s %10llu %10llu %8llu %9.1f %9.1f %9.1f %9.1f %7.1f\n",
			ep_rt_type_number(rt, t), ep_rt_type_handler(rt, t),
			(unsigned long long)s->received, (unsigned long long)s->completed,
			(unsigned long long)errors,
			(double)ep_hist_percentile(&s->latency_ns, 50) / 1000.0,
			(double)ep_hist_percentile(&s->latency_ns, 99) / 1000.0,
			(double)s->latency_ns.max / 1000.0,
			(double)ep_hist_percentile(&s->handler_ns, 99) / 1000.0,
			s->batch_size.count
				? (double)s->batch_size.sum / (double)s->batch_size.count
				: 0.0);
	}
}

static void report_text(struct ep_runtime *rt, FILE *f, const struct ep_rt_snapshot *s)
{
	fprintf(f, "%-6s %-6s %12s %8s %10s %8s %12s %12s\n", "worker", "queue", "datagrams",
		"queued", "duplicates", "shed", "reasm_done", "cache_hits");
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		const struct ep_worker_stats *w = &s->st[i];

		fprintf(f, "%-6u %-6u %12llu %8u %10llu %8llu %12llu %12llu\n", i,
			rt->conf->queues[i], (unsigned long long)w->dgrams, w->queued,
			(unsigned long long)w->duplicates, (unsigned long long)w->shed,
			(unsigned long long)w->reasm.completed,
			(unsigned long long)w->cache.hits_done);
	}
	if (rt->keys)
		report_auth_text(rt, f, s);
	report_types_text(rt, f, s->all);
}

void ep_runtime_report(struct ep_runtime *rt, FILE *f, bool json)
{
	struct ep_rt_snapshot s;
	json_t *root;
	char *text;

	if (ep_rt_snapshot_take(rt, &s))
		goto err_nomem;
	if (!json) {
		report_text(rt, f, &s);
		ep_rt_snapshot_free(&s);
		return;
	}
	root = report_json(rt, &s);
	ep_rt_snapshot_free(&s);
	/* Whole or not at all: a report cut short by a failed allocation is not JSON. */
	text = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(root);
	if (!text)
		goto err_nomem;
	fprintf(f, "%s\n", text);
	free(text);
	return;

err_nomem:
	fprintf(f, json ? "{\"error\":\"out of memory\"}\n" : "out of memory\n");
}
