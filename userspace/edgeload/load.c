// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeload load: a load generator over libedgeplane.
 *
 *   closed loop (default): keep --concurrency tasks outstanding;
 *   open loop (--rate N):  start N tasks a second on a fixed schedule, whatever the edge
 *                          does; latency counts from the scheduled start, so a slow edge
 *                          cannot hide its delay (no coordinated omission).
 *
 * --mix 'SPEC;SPEC...' runs several task kinds at once, each SPEC being
 * "TYPE[,size=N][,in=FILE][,prio=P][,weight=W]". The summary reports each kind and the
 * total: sent, completed, errors by code, retries, bytes raw and on the wire, latency
 * percentiles from an HDR histogram, throughput; --json for machines (with, for blobs
 * tasks, the blobs the results counted).
 *
 * --timeline FILE writes one line per second (and one for the last, partial second):
 * tasks started, answered and failed in that second, and the p50/p99 latency of the tasks
 * answered in it; for the total, and for each kind when there are several.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "edgeload.h"
#include "edgeplane/codec.h"
#include "edgeplane/hist.h"
#include "edgeplane/log.h"
#include "edgeplane/payload.h"
#include "edgeplane/util.h"

#define MAX_KINDS    16
#define LOCAL_ERRORS 7

/*
 * Errors the client library decided (struct ep_result's error other than -EREMOTEIO).
 * They share the "errors" object with the edge's statuses (ep_status_name()), so each has
 * a "client_" name: "timeout" is the edge's TIMEOUT (reassembly stalled), "client_timeout"
 * this side giving up. check_error_names() keeps the two sets apart.
 */
static const char *const local_names[LOCAL_ERRORS] = {
	"client_timeout",  "client_cancelled",	   "client_result_too_large",
	"client_protocol", "client_not_validated", "client_key_expired",
	"client_other",
};

struct kind_load {
	char label[64];
	struct ep_task_opts task;
	uint8_t *payload;
	uint32_t len, weight;
	uint64_t sent, ok, failed, attempts, wire, wire_once, raw;
	uint64_t ok_bytes; /* goodput: request payloads and results of completed
			    * tasks */
	/* Datagrams of a first send: every task of a kind carries the same payload, so it
	 * compresses to the same size; first_wire is that size (from a task sent once), and
	 * tried counts the tasks that were sent at all. */
	uint64_t first_wire, tried;
	bool first_wire_exact;
	uint64_t first_dgrams; /* reporting: datagrams of the tasks' first sends */
	uint64_t status[EP_ST__COUNT], local[LOCAL_ERRORS];
	struct ep_hist lat;
	/* blobs tasks: what the answers found */
	bool blobs;
	uint64_t blob_results, blobs_found, blobs_min, blobs_max, blobs_bad;
	/* --timeline: the current second */
	uint64_t sec_sent, sec_ok, sec_failed;
	struct ep_hist sec_lat;
};

/* One outstanding task: which kind, and when it was meant to start. */
struct slot {
	struct load *l;
	struct kind_load *k;
	uint64_t intended_ns;
	uint64_t task_id;
	bool busy;
};

struct load {
	struct ep_client *c;
	const struct opts *o;
	struct kind_load kinds[MAX_KINDS];
	unsigned int nkinds;
	uint32_t total_weight;
	uint64_t rng;
	struct slot *slots;
	uint32_t nslots;
	uint64_t sent, skipped; /* skipped: open loop found no free slot */
	uint64_t unexpected;	/* results for no outstanding task (must stay 0) */
	uint32_t frag_size;	/* payload bytes per request datagram */
	int refused;		/* a kind the key's role refuses: the run stops */
	bool stop;
	FILE *timeline;
	uint64_t t0_ns, tick_ns; /* start; end of the current timeline second */
	double t0_unix;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

static int local_index(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return 0;
	case -ECANCELED:
		return 1;
	case -EMSGSIZE:
		return 2;
	case -EPROTO:
		return 3;
	case -EADDRNOTAVAIL:
		return 4;
	case -EKEYEXPIRED:
		return 5;
	default:
		return 6;
	}
}

/* A duplicate key would make --json output that parsers read differently (or refuse). */
static void check_error_names(void)
{
	for (int e = 0; e < LOCAL_ERRORS; e++)
		for (int st = 0; st < EP_ST__COUNT; st++)
			if (!strcmp(local_names[e], ep_status_name(st)))
				pr_warn("error name '%s' is also a status name", local_names[e]);
}

static struct kind_load *pick(struct load *l)
{
	uint32_t r;

	r = (uint32_t)(ep_xorshift64(&l->rng) % l->total_weight);
	for (unsigned int i = 0; i < l->nkinds; i++) {
		if (r < l->kinds[i].weight)
			return &l->kinds[i];
		r -= l->kinds[i].weight;
	}
	return &l->kinds[0];
}

static void submit(struct load *l, uint64_t intended);

/* A blobs result: its header's count, checked against the boxes that follow. */
static void count_blobs(struct kind_load *k, const struct ep_result *r)
{
	struct ep_blobs_result h;
	uint32_t n;

	if (r->len < sizeof(h)) {
		k->blobs_bad++;
		return;
	}
	memcpy(&h, r->data, sizeof(h));
	n = ntohl(h.count);
	if (r->len != sizeof(h) + (size_t)ntohl(h.reported) * sizeof(struct ep_blob_box)) {
		k->blobs_bad++;
		return;
	}
	if (!k->blob_results || n < k->blobs_min)
		k->blobs_min = n;
	if (n > k->blobs_max)
		k->blobs_max = n;
	k->blob_results++;
	k->blobs_found += n;
}

static void done(void *arg, struct ep_result *r)
{
	struct slot *s = arg;
	struct load *l = s->l;
	struct kind_load *k = s->k;

	if (!s->busy || r->task_id != s->task_id) {
		/* The library delivers each task once; count anything else, never use it. */
		l->unexpected++;
		ep_result_free(r);
		return;
	}
	if (!r->error) {
		/* From the scheduled start: a late start is part of the delay. */
		uint64_t lat = ep_now_ns() - s->intended_ns;

		k->ok++;
		k->sec_ok++;
		k->ok_bytes += k->len + r->len;
		ep_hist_record(&k->lat, lat);
		if (l->timeline)
			ep_hist_record(&k->sec_lat, lat);
		if (k->blobs)
			count_blobs(k, r);
	} else {
		k->failed++;
		k->sec_failed++;
		if (r->error == -EREMOTEIO)
			k->status[r->status < EP_ST__COUNT ? r->status : EP_ST_INTERNAL]++;
		else
			k->local[local_index(r->error)]++;
	}
	k->wire += r->wire_bytes;
	k->wire_once += r->wire_len; /* what one whole send of it takes */
	k->raw += r->raw_bytes;
	k->attempts += r->attempts;
	if (r->attempts) {
		uint64_t once = r->wire_bytes / r->attempts;

		/* A task sent once tells the size exactly; until one is, the mean per send of
		 * the others stands in (exact while every send carries the whole payload). */
		if (r->attempts == 1
			    ? !k->first_wire_exact || r->wire_bytes < k->first_wire
			    : !k->first_wire_exact && (!k->first_wire || once < k->first_wire))
			k->first_wire = r->attempts == 1 ? r->wire_bytes : once;
		k->first_wire_exact |= r->attempts == 1;
		k->tried++;
	}
	ep_result_free(r);
	s->busy = false;
	if (!l->o->rate) /* closed loop: one ends, one starts */
		submit(l, ep_now_ns());
}

static void submit(struct load *l, uint64_t intended)
{
	struct kind_load *k;
	struct slot *s = NULL;
	int err;

	if (l->stop || (l->o->count && l->sent >= l->o->count))
		return;
	for (uint32_t i = 0; i < l->nslots; i++)
		if (!l->slots[(l->sent + i) % l->nslots].busy) {
			s = &l->slots[(l->sent + i) % l->nslots];
			break;
		}
	if (!s) {
		l->skipped++;
		return;
	}
	k = pick(l);
	*s = (struct slot){ .l = l, .k = k, .intended_ns = intended, .busy = true };
	err = ep_client_submit(l->c, &k->task, k->payload, k->len, done, s, &s->task_id);
	if (err) {
		s->busy = false;
		if (err == -EAGAIN) {
			l->skipped++;
			return;
		}
		/* Refused (the key's role, a payload too large): every such task would be. */
		if (!l->refused)
			pr_err("%s tasks not sent: %s", k->label, submit_strerror(err));
		l->refused = err;
		l->stop = true;
		return;
	}
	k->sent++;
	k->sec_sent++;
	l->sent++;
}

/* --- the mix ------------------------------------------------------------------------ */

/* Fill @k from one SPEC: "TYPE[,size=N][,in=FILE][,prio=P][,weight=W]". */
static int parse_spec(const struct opts *base, char *spec, struct kind_load *k)
{
	struct opts o = *base;
	char *save = NULL, *tok = strtok_r(spec, ",", &save);
	bool sized = false;
	long v;

	if (!tok || !(o.kind = task_kind_find(tok))) {
		pr_err("--mix: unknown task type '%s'", tok ? tok : "");
		return -EINVAL;
	}
	o.task.type = o.kind->type;
	k->weight = 1;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			pr_err("--mix: '%s' is not KEY=VALUE", tok);
			return -EINVAL;
		}
		*eq++ = '\0';
		if (!strcmp(tok, "in")) {
			o.in = eq;
		} else if (!strcmp(tok, "size")) {
			if (ep_parse_long("--mix size", eq, 0, 64 << 20, &v))
				return -EINVAL;
			o.size = (uint32_t)v;
			sized = true;
		} else if (!strcmp(tok, "prio")) {
			if (ep_parse_long("--mix prio", eq, 1, 5, &v))
				return -EINVAL;
			o.task.priority = (uint8_t)v;
		} else if (!strcmp(tok, "weight")) {
			if (ep_parse_long("--mix weight", eq, 1, 1000, &v))
				return -EINVAL;
			k->weight = (uint32_t)v;
		} else {
			pr_err("--mix: unknown key '%s' (in, size, prio, weight)", tok);
			return -EINVAL;
		}
	}
	if (o.kind->image && !o.in) {
		pr_err("--mix: %s needs in=FILE.png", o.kind->name);
		return -EINVAL;
	}
	/* Kinds that differ only in their input are told apart by its file name or size. */
	if (o.in && o.in != base->in) {
		const char *file = strrchr(o.in, '/');

		snprintf(k->label, sizeof(k->label), "%s/p%d/%.40s", o.kind->name,
			 o.task.priority ? o.task.priority : EP_PRIO_DEFAULT,
			 file ? file + 1 : o.in);
	} else if (sized && !o.kind->image) {
		snprintf(k->label, sizeof(k->label), "%s/p%d/%uB", o.kind->name,
			 o.task.priority ? o.task.priority : EP_PRIO_DEFAULT, o.size);
	} else {
		snprintf(k->label, sizeof(k->label), "%s/p%d", o.kind->name,
			 o.task.priority ? o.task.priority : EP_PRIO_DEFAULT);
	}
	k->task = o.task;
	k->blobs = o.kind->type == EP_TT_BLOBS;
	return task_payload(&o, &k->payload, &k->len);
}

static int build_kinds(struct load *l, const struct opts *o)
{
	char *mix, *save = NULL, *spec;
	int err = 0;

	if (!o->mix) {
		struct kind_load *k = &l->kinds[l->nkinds++];

		snprintf(k->label, sizeof(k->label), "%s/p%d", o->kind->name,
			 o->task.priority ? o->task.priority : EP_PRIO_DEFAULT);
		k->task = o->task;
		k->blobs = o->kind->type == EP_TT_BLOBS;
		k->weight = 1;
		l->total_weight = 1;
		return task_payload(o, &k->payload, &k->len);
	}
	mix = strdup(o->mix);
	for (spec = strtok_r(mix, ";", &save); spec && !err; spec = strtok_r(NULL, ";", &save)) {
		if (l->nkinds == MAX_KINDS) {
			pr_err("--mix: more than %d kinds", MAX_KINDS);
			err = -EINVAL;
			break;
		}
		err = parse_spec(o, spec, &l->kinds[l->nkinds]);
		if (!err)
			l->total_weight += l->kinds[l->nkinds++].weight;
	}
	free(mix);
	if (!err && !l->nkinds) {
		pr_err("--mix: no task kinds");
		err = -EINVAL;
	}
	return err;
}

/* --- reporting ---------------------------------------------------------------------- */

/* Request datagrams in one first send of a task of kind @k (an empty payload takes one). */
static uint64_t frags_per_task(const struct load *l, const struct kind_load *k)
{
	if (!k->first_wire || !l->frag_size)
		return 1;
	return (k->first_wire + l->frag_size - 1) / l->frag_size;
}

static void totals(struct load *l, struct kind_load *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->label, sizeof(t->label), "total");
	for (unsigned int i = 0; i < l->nkinds; i++) {
		struct kind_load *k = &l->kinds[i];

		k->first_dgrams = frags_per_task(l, k) * k->tried;
		t->sent += k->sent, t->ok += k->ok, t->failed += k->failed;
		t->attempts += k->attempts, t->wire += k->wire, t->wire_once += k->wire_once;
		t->raw += k->raw, t->ok_bytes += k->ok_bytes;
		t->tried += k->tried, t->first_dgrams += k->first_dgrams;
		if (k->blob_results) {
			if (!t->blob_results || k->blobs_min < t->blobs_min)
				t->blobs_min = k->blobs_min;
			if (k->blobs_max > t->blobs_max)
				t->blobs_max = k->blobs_max;
		}
		t->blobs |= k->blobs;
		t->blob_results += k->blob_results, t->blobs_found += k->blobs_found;
		t->blobs_bad += k->blobs_bad;
		for (int s = 0; s < EP_ST__COUNT; s++)
			t->status[s] += k->status[s];
		for (int e = 0; e < LOCAL_ERRORS; e++)
			t->local[e] += k->local[e];
		ep_hist_merge(&t->lat, &k->lat);
	}
}

static uint64_t retries(const struct kind_load *k)
{
	uint64_t ended = k->ok + k->failed;

	return k->attempts > ended ? k->attempts - ended : 0;
}

/*
 * One kind's (or the total's) JSON object. rtt_us: the round trip at this client, from
 * the task's (scheduled) start to its result, retries included; latency_us is the same,
 * under its former name, for the scripts that read it.
 */
static void json_kind(const struct kind_load *k, double secs)
{
	const struct ep_hist *h = &k->lat;
	bool first = true;
	char rtt[160];

	snprintf(rtt, sizeof(rtt),
		 "{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
		 ep_hist_percentile(h, 50) / 1e3, ep_hist_percentile(h, 90) / 1e3,
		 ep_hist_percentile(h, 99) / 1e3, ep_hist_percentile(h, 99.9) / 1e3,
		 (double)h->max / 1e3);
	printf("{\"kind\":\"%s\",\"sent\":%llu,\"completed\":%llu,\"failed\":%llu,"
	       "\"retries\":%llu,\"tasks_per_s\":%.1f,\"bytes_raw\":%llu,"
	       "\"bytes_compressed\":%llu,\"bytes_wire\":%llu,\"rtt_us\":%s,\"latency_us\":%s,"
	       "\"errors\":{",
	       k->label, (unsigned long long)k->sent, (unsigned long long)k->ok,
	       (unsigned long long)k->failed, (unsigned long long)retries(k), (double)k->ok / secs,
	       (unsigned long long)k->raw, (unsigned long long)k->wire_once,
	       (unsigned long long)k->wire, rtt, rtt);
	for (int s = 1; s < EP_ST__COUNT; s++)
		if (k->status[s]) {
			printf("%s\"%s\":%llu", first ? "" : ",", ep_status_name(s),
			       (unsigned long long)k->status[s]);
			first = false;
		}
	for (int e = 0; e < LOCAL_ERRORS; e++)
		if (k->local[e]) {
			printf("%s\"%s\":%llu", first ? "" : ",", local_names[e],
			       (unsigned long long)k->local[e]);
			first = false;
		}
	printf("},\"goodput_bytes_per_s\":%.0f,\"frags_per_task\":%.2f,\"bytes_resent\":%llu",
	       (double)k->ok_bytes / secs,
	       k->tried ? (double)k->first_dgrams / (double)k->tried : 0.0,
	       (unsigned long long)(k->wire > k->wire_once ? k->wire - k->wire_once : 0));
	if (k->blobs)
		printf(",\"blobs\":{\"results\":%llu,\"found\":%llu,\"min\":%llu,\"max\":%llu,"
		       "\"malformed\":%llu}",
		       (unsigned long long)k->blob_results, (unsigned long long)k->blobs_found,
		       (unsigned long long)k->blobs_min, (unsigned long long)k->blobs_max,
		       (unsigned long long)k->blobs_bad);
	printf("}");
}

static void text_kind(const struct kind_load *k, double secs)
{
	const struct ep_hist *h = &k->lat;

	printf("%-16s %9llu %9llu %7llu %7llu %9.0f %9.1f %9.1f %9.1f %9.1f\n", k->label,
	       (unsigned long long)k->sent, (unsigned long long)k->ok,
	       (unsigned long long)k->failed, (unsigned long long)retries(k), (double)k->ok / secs,
	       ep_hist_percentile(h, 50) / 1e3, ep_hist_percentile(h, 90) / 1e3,
	       ep_hist_percentile(h, 99) / 1e3, ep_hist_percentile(h, 99.9) / 1e3);
}

/* The path states of struct ep_client_link_stats. */
static const char *path_name(uint8_t s)
{
	static const char *const names[] = { "ok", "lossy", "overloaded", "silent" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The session's statistics, read before it was closed, for the summary. */
struct session_stats {
	struct ep_client_estimates est;
	struct ep_client_stats cs;
	struct ep_client_link_stats ls;
	struct ep_client_auth_stats as;
};

/* What the link cost, per task sent (see summary()). */
struct link_cost {
	double n, per_task, beyond, resent;
};

/*
 * What the link cost, per task sent: datagrams (all the session sent: requests, resends,
 * and its PINGs, CANCELs and acknowledgements), those beyond each task's first send, and
 * payload bytes sent again.
 */
static struct link_cost link_cost(const struct kind_load *t, const struct ep_client_stats *cs)
{
	struct link_cost c;

	c.n = t->tried ? (double)t->tried : 1.0;
	c.per_task = (double)cs->dgrams_sent / c.n;
	c.beyond = cs->dgrams_sent > t->first_dgrams
			   ? (double)(cs->dgrams_sent - t->first_dgrams) / c.n
			   : 0.0;
	c.resent = (double)(t->wire > t->wire_once ? t->wire - t->wire_once : 0) / c.n;
	return c;
}

/* "@key":"@val", as a JSON member followed by a comma (@val escaped). */
static void json_str(const char *key, const char *val)
{
	json_t *v = json_string(val);
	char *d = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	printf("\"%s\":%s,", key, d ? d : "null");
	free(d);
	json_decref(v);
}

/* The summary as one JSON object on stdout (the members docs/man/edgeload.1 lists). */
static void summary_json(struct load *l, double secs, struct kind_load *t,
			 const struct session_stats *s)
{
	struct link_cost c = link_cost(t, &s->cs);

	printf("{\"seconds\":%.3f,\"mode\":\"%s\",\"skipped\":%llu,"
	       "\"unexpected_results\":%llu,"
	       "\"retries_throttled\":%llu,\"validations\":%llu,\"conflicts\":%llu,"
	       "\"edge\":{\"rtt_us\":%.1f,\"queue_us\":%.1f,"
	       "\"exec_us\":%.1f,\"load_pct\":%u},",
	       secs, l->o->rate ? "open" : "closed", (unsigned long long)l->skipped,
	       (unsigned long long)l->unexpected, (unsigned long long)s->cs.retries_throttled,
	       (unsigned long long)s->cs.validations, (unsigned long long)s->cs.conflicts,
	       s->est.srtt_us, s->est.edge_queue_us, s->est.edge_exec_us, s->est.edge_load_pct);
	if (l->timeline)
		json_str("timeline", l->o->timeline);
	printf("\"total\":");
	json_kind(t, secs);
	printf(",\"kinds\":[");
	for (unsigned int i = 0; i < l->nkinds; i++) {
		printf("%s", i ? "," : "");
		json_kind(&l->kinds[i], secs);
	}
	printf("],\"datagrams\":{\"sent\":%llu,\"received\":%llu,\"first_sends\":%llu,"
	       "\"per_task\":%.3f,\"beyond_first_per_task\":%.3f,"
	       "\"bytes_resent_per_task\":%.1f,\"frag_size\":%u}",
	       (unsigned long long)s->cs.dgrams_sent, (unsigned long long)s->cs.dgrams_received,
	       (unsigned long long)t->first_dgrams, c.per_task, c.beyond, c.resent, l->frag_size);
	printf(",\"link\":{\"frags_sent_first\":%llu,\"frags_resent\":%llu,"
	       "\"whole_resends\":%llu,\"repairs\":%llu,\"task_acks\":%llu,"
	       "\"result_acks_sent\":%llu,\"results_undecodable\":%llu,"
	       "\"repairs_exhausted\":%llu,\"pace_waits\":%llu,\"slowdowns\":%llu,"
	       "\"path\":\"%s\",\"edge_acks\":%s,\"pace_mbps\":%.1f}",
	       (unsigned long long)s->ls.frags_sent_first, (unsigned long long)s->ls.frags_resent,
	       (unsigned long long)s->ls.whole_resends, (unsigned long long)s->ls.repairs,
	       (unsigned long long)s->ls.task_acks, (unsigned long long)s->ls.result_acks_sent,
	       (unsigned long long)s->ls.results_undecodable,
	       (unsigned long long)s->ls.repairs_exhausted, (unsigned long long)s->ls.pace_waits,
	       (unsigned long long)s->ls.slowdowns, path_name(s->ls.path_state),
	       s->ls.edge_acks ? "true" : "false", s->ls.pace_bps / 1e6);
	print_auth_stats(&s->as, stdout, true);
	printf("}\n");
}

/* One line of the summary's notes, "@what@name: @n", only if @n is not 0. */
static void note(const char *what, const char *name, uint64_t n)
{
	if (n)
		printf("%s%s: %llu\n", what, name, (unsigned long long)n);
}

/* The summary's lines on what went wrong or was unusual, each only when it happened. */
static void text_notes(const struct load *l, const struct kind_load *t,
		       const struct ep_client_stats *cs)
{
	for (int s = 1; s < EP_ST__COUNT; s++)
		note("errors ", ep_status_name(s), t->status[s]);
	for (int e = 0; e < LOCAL_ERRORS; e++)
		note("errors ", local_names[e], t->local[e]);
	if (t->blob_results)
		printf("blobs found: %llu in %llu results (%llu..%llu per frame)\n",
		       (unsigned long long)t->blobs_found, (unsigned long long)t->blob_results,
		       (unsigned long long)t->blobs_min, (unsigned long long)t->blobs_max);
	note("blobs results not in the blobs format", "", t->blobs_bad);
	note("retries held back by the retry budget", "", cs->retries_throttled);
	note("tasks sent again with an address-validation token (RETRY)", "", cs->validations);
	note("tasks sent again under a new id (CONFLICT)", "", cs->conflicts);
	note("results for no outstanding task", "", l->unexpected);
}

/* The summary for people, on stdout. */
static void summary_text(struct load *l, double secs, struct kind_load *t,
			 const struct session_stats *s)
{
	struct link_cost c = link_cost(t, &s->cs);

	printf("%s loop, %.2f s; rtt in us: the round trip here, from each task's %s to its "
	       "result, retries included (the time in the node: edgeplane stats)\n",
	       l->o->rate ? "open" : "closed", secs, l->o->rate ? "scheduled start" : "start");
	printf("%-16s %9s %9s %7s %7s %9s %9s %9s %9s %9s\n", "kind", "sent", "done", "failed",
	       "retries", "tasks/s", "rtt p50", "rtt p90", "rtt p99", "rtt p99.9");
	for (unsigned int i = 0; l->nkinds > 1 && i < l->nkinds; i++)
		text_kind(&l->kinds[i], secs);
	text_kind(t, secs);
	/* Skipped starts are load the edge never saw: never only a footnote. */
	if (l->skipped)
		printf("skipped: %llu scheduled tasks not started (%u outstanding, the "
		       "--concurrency cap, or the library's queue full)\n",
		       (unsigned long long)l->skipped, l->nslots);
	printf("goodput: %.1f KB/s of completed tasks (payloads and results)",
	       (double)t->ok_bytes / secs / 1e3);
	for (unsigned int i = 0; l->nkinds > 1 && i < l->nkinds; i++)
		printf("%s %s %.1f", i ? "," : ";", l->kinds[i].label,
		       (double)l->kinds[i].ok_bytes / secs / 1e3);
	printf("\n");
	printf("datagrams sent: %llu, %.2f per task (first sends: %.2f; beyond them: %.2f); "
	       "%.0f payload bytes resent per task\n",
	       (unsigned long long)s->cs.dgrams_sent, c.per_task, (double)t->first_dgrams / c.n,
	       c.beyond, c.resent);
	printf("selective repeat: %llu fragments resent (%llu first sends), %llu repairs after "
	       "%llu TASK_ACKs, %llu RESULT_ACKs sent, %llu whole resends, %llu results "
	       "undecodable; path %s, pacing %.0f Mbit/s\n",
	       (unsigned long long)s->ls.frags_resent, (unsigned long long)s->ls.frags_sent_first,
	       (unsigned long long)s->ls.repairs, (unsigned long long)s->ls.task_acks,
	       (unsigned long long)s->ls.result_acks_sent, (unsigned long long)s->ls.whole_resends,
	       (unsigned long long)s->ls.results_undecodable, path_name(s->ls.path_state),
	       s->ls.pace_bps / 1e6);
	printf("payload bytes: %llu raw, %llu compressed (%.1f%% saved), %llu sent with retries\n",
	       (unsigned long long)t->raw, (unsigned long long)t->wire_once,
	       t->raw ? 100.0 * (1.0 - (double)t->wire_once / (double)t->raw) : 0.0,
	       (unsigned long long)t->wire);
	printf("where the time went (means): network %.0f us, edge queue %.0f us, "
	       "edge exec %.0f us; edge load %u%%\n",
	       s->est.srtt_us, s->est.edge_queue_us, s->est.edge_exec_us, s->est.edge_load_pct);
	text_notes(l, t, &s->cs);
	if (l->timeline)
		printf("timeline: %s\n", l->o->timeline);
	print_auth_stats(&s->as, stdout, false);
}

/* The run's summary on stdout, text or (--json) JSON. */
static void summary(struct load *l, double secs, const struct session_stats *s)
{
	struct kind_load t;

	totals(l, &t);
	if (l->o->json)
		summary_json(l, secs, &t, s);
	else
		summary_text(l, secs, &t, s);
}

/* --- the timeline ------------------------------------------------------------------- */

static void timeline_kind(struct load *l, const struct kind_load *k, double t, double unix_s)
{
	const struct ep_hist *h = &k->sec_lat;

	fprintf(l->timeline, "%.3f %.3f %s %llu %llu %llu ", t, unix_s, k->label,
		(unsigned long long)k->sec_sent, (unsigned long long)k->sec_ok,
		(unsigned long long)k->sec_failed);
	if (h->count) /* "nan": no task answered in this second (gnuplot skips it) */
		fprintf(l->timeline, "%.1f %.1f\n", ep_hist_percentile(h, 50) / 1e3,
			ep_hist_percentile(h, 99) / 1e3);
	else
		fprintf(l->timeline, "nan nan\n");
}

/* Write the second that ends at @now (the last one may be shorter) and start the next. */
static void timeline_tick(struct load *l, uint64_t now)
{
	double t = (double)(now - l->t0_ns) / 1e9, unix_s = l->t0_unix + t;
	struct kind_load total = { .label = "total" };

	for (unsigned int i = 0; i < l->nkinds; i++) {
		struct kind_load *k = &l->kinds[i];

		total.sec_sent += k->sec_sent, total.sec_ok += k->sec_ok;
		total.sec_failed += k->sec_failed;
		ep_hist_merge(&total.sec_lat, &k->sec_lat);
	}
	timeline_kind(l, &total, t, unix_s);
	for (unsigned int i = 0; l->nkinds > 1 && i < l->nkinds; i++)
		timeline_kind(l, &l->kinds[i], t, unix_s);
	fflush(l->timeline); /* readable while the run goes on */
	for (unsigned int i = 0; i < l->nkinds; i++) {
		struct kind_load *k = &l->kinds[i];

		k->sec_sent = k->sec_ok = k->sec_failed = 0;
		memset(&k->sec_lat, 0, sizeof(k->sec_lat));
	}
}

static int timeline_open(struct load *l, const char *path)
{
	struct timespec ts;

	l->timeline = fopen(path, "w");
	if (!l->timeline) {
		int err = -errno;

		pr_err("--timeline %s: %s", path, strerror(-err));
		return err;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	l->t0_unix = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	fprintf(l->timeline,
		"# edgeload timeline: one line per second and kind (\"total\": all "
		"kinds), started at unix time %.3f\n"
		"# t_s unix_s kind sent completed failed rtt_p50_us rtt_p99_us\n",
		l->t0_unix);
	return 0;
}

static void progress(struct load *l, double secs)
{
	struct kind_load t;

	totals(l, &t);
	fprintf(stderr,
		"\r%6.1f s  sent %llu  done %llu  failed %llu  %.0f tasks/s  rtt p99 %.1f us  "
		"outstanding %u   ",
		secs, (unsigned long long)t.sent, (unsigned long long)t.ok,
		(unsigned long long)t.failed, secs > 0 ? (double)t.ok / secs : 0.0,
		ep_hist_percentile(&t.lat, 99) / 1e3, ep_client_inflight(l->c));
}

/*
 * Everything before the first task: the kinds, the session, the slots, the timeline.
 * Returns 0, or the exit status (2: a bad --mix; 1: anything else, said on stderr).
 */
static int load_setup(struct load *l, struct opts *o)
{
	int err = build_kinds(l, o);

	if (err)
		return err == -EINVAL ? 2 : 1; /* a bad --mix is a usage error */
	o->client.max_inflight = o->concurrency;
	o->client.cork = true; /* one sendmmsg for the tasks submitted together */
	if (open_session(o, &l->c))
		return 1;
	l->o = o;
	l->frag_size =
		ep_frag_size_for(o->client.mtu ? o->client.mtu : 1500,
				 strchr(o->client.host, ':') != NULL, o->auth.sz ? EP_F_AUTH : 0);
	l->rng = o->args.seed ? o->args.seed : 1;
	l->nslots = o->concurrency;
	l->slots = calloc(l->nslots, sizeof(*l->slots));
	if (!l->slots)
		return 1;
	signal(SIGINT, on_sigint);
	if (o->timeline && timeline_open(l, o->timeline))
		return 1;
	return 0;
}

/* The run: tasks started (closed or open loop) until its end, its count or Ctrl-C, and
 * every one outstanding answered or given up. */
static void load_loop(struct load *l, uint64_t t0)
{
	const struct opts *o = l->o;
	uint64_t end, next = t0, period = 0, last_progress = t0;
	bool tty = isatty(STDERR_FILENO);

	l->t0_ns = t0;
	l->tick_ns = t0 + 1000000000ull;
	end = o->duration_s ? t0 + (uint64_t)(o->duration_s * 1e9) : 0;
	if (o->rate)
		period = (uint64_t)(1e9 / o->rate);
	else
		for (uint32_t i = 0; i < o->concurrency; i++)
			submit(l, t0);
	ep_client_flush(l->c);
	while (!interrupted) {
		uint64_t now = ep_now_ns();
		int wait_ms = 100;

		if (end && now >= end)
			l->stop = true;
		while (l->timeline && now >= l->tick_ns) {
			timeline_tick(l, l->tick_ns);
			l->tick_ns += 1000000000ull;
		}
		if (o->rate && !l->stop) {
			/* Open loop: every start that is due, on schedule. */
			while (next <= now && !(o->count && l->sent >= o->count)) {
				submit(l, next);
				next += period;
			}
			ep_client_flush(l->c);
			wait_ms = (int)((next - now) / 1000000);
		}
		if (l->timeline && wait_ms > (int)((l->tick_ns - now) / 1000000))
			wait_ms = (int)((l->tick_ns - now + 999999) / 1000000);
		if ((l->stop || (o->count && l->sent >= o->count)) && !ep_client_inflight(l->c))
			break;
		ep_client_poll(l->c, wait_ms);
		if (tty && !o->json && now - last_progress >= 1000000000ull) {
			progress(l, (double)(now - t0) / 1e9);
			last_progress = now;
		}
	}
	if (tty && !o->json)
		fprintf(stderr, "\n");
}

/* The timeline's seconds the loop slept through, then the last, partial one if anything
 * happened in it. */
static void timeline_finish(struct load *l)
{
	uint64_t now = ep_now_ns();

	while (now >= l->tick_ns) {
		timeline_tick(l, l->tick_ns);
		l->tick_ns += 1000000000ull;
	}
	for (unsigned int i = 0; i < l->nkinds; i++)
		if (l->kinds[i].sec_sent || l->kinds[i].sec_ok || l->kinds[i].sec_failed) {
			timeline_tick(l, now);
			break;
		}
}

/* edgeload load: exit status 0 every task answered, 1 a failure (or a refused kind), 2 a
 * usage error. */
int cmd_load(int argc, char **argv)
{
	struct load *l = calloc(1, sizeof(*l));
	struct session_stats ss = { .ls.sz = sizeof(ss.ls) };
	struct kind_load t;
	uint64_t t0;
	double secs;
	struct opts o;
	int err;

	parse_opts(argc, argv, &o, "load");
	check_error_names();
	if (!o.count && !o.duration_s)
		o.duration_s = 10;
	if (!l)
		return 1;
	err = load_setup(l, &o);
	if (err) {
		free(l);
		return err;
	}
	t0 = ep_now_ns();
	load_loop(l, t0);
	secs = (double)(ep_now_ns() - t0) / 1e9;
	ep_client_get_estimates(l->c, &ss.est);
	ep_client_get_stats(l->c, &ss.cs);
	ep_client_get_link_stats(l->c, &ss.ls);
	/* Tasks still pending (interrupted) end now, as cancelled, and are counted; none
	 * starts in their place. The session stays open for its statistics. */
	l->stop = true;
	auth_stats(l->c, &ss.as);
	ep_client_close(l->c);
	if (l->timeline)
		timeline_finish(l);
	summary(l, secs, &ss);
	if (l->timeline && fclose(l->timeline))
		pr_warn("--timeline %s: %s", o.timeline, strerror(errno));
	totals(l, &t);
	err = t.failed || l->refused ? 1 : 0;
	for (unsigned int i = 0; i < l->nkinds; i++)
		free(l->kinds[i].payload);
	free(l->slots);
	free(l);
	return err;
}
