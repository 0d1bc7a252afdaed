// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgeload load: closed-loop load with N tasks outstanding, and a summary. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgeload.h"
#include "edgeplane/codec.h"
#include "edgeplane/hist.h"
#include "edgeplane/log.h"

struct load {
	struct ep_client *c;
	const struct opts *o;
	const uint8_t *payload;
	uint32_t len;
	uint64_t sent, ok, failed, local_errors[8], status[EP_ST__COUNT];
	uint64_t wire, wire_once, raw, attempts;
	struct ep_hist lat;
	bool stop;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int local_index(int err)
{
	switch (err) {
	case -ETIMEDOUT: return 0;
	case -ECANCELED: return 1;
	case -EMSGSIZE: return 2;
	case -EPROTO: return 3;
	default: return 4;
	}
}

static const char *const local_names[] = { "timeout", "cancelled", "result_too_large",
					    "protocol", "other" };

static void submit(struct load *l);

static void done(void *arg, struct ep_result *r)
{
	struct load *l = arg;

	if (!r->error) {
		l->ok++;
		ep_hist_record(&l->lat, r->latency_ns);
	} else if (r->error == -EREMOTEIO) {
		l->failed++;
		l->status[r->status < EP_ST__COUNT ? r->status : EP_ST_INTERNAL]++;
	} else {
		l->failed++;
		l->local_errors[local_index(r->error)]++;
	}
	l->wire += r->wire_bytes;
	l->wire_once += r->attempts ? r->wire_bytes / r->attempts : 0;
	l->raw += r->raw_bytes;
	l->attempts += r->attempts;
	ep_result_free(r);
	submit(l);
}

static void submit(struct load *l)
{
	if (l->stop || (l->o->count && l->sent >= l->o->count))
		return;
	if (ep_client_submit(l->c, &l->o->task, l->payload, l->len, done, l, NULL) == 0)
		l->sent++;
}

static void summary(const struct load *l, double secs)
{
	const struct ep_hist *h = &l->lat;
	uint64_t retries = l->attempts > l->sent ? l->attempts - l->sent : 0;
	bool first = true;

	if (l->o->json) {
		printf("{\"type\":\"%s\",\"sent\":%llu,\"completed\":%llu,\"failed\":%llu,"
		       "\"retries\":%llu,\"seconds\":%.3f,\"tasks_per_s\":%.1f,"
		       "\"bytes_raw\":%llu,\"bytes_compressed\":%llu,\"bytes_wire\":%llu,"
		       "\"latency_us\":{\"p50\":%.1f,"
		       "\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},\"errors\":{",
		       l->o->kind->name, (unsigned long long)l->sent, (unsigned long long)l->ok,
		       (unsigned long long)l->failed, (unsigned long long)retries, secs,
		       (double)l->ok / secs, (unsigned long long)l->raw,
		       (unsigned long long)l->wire_once, (unsigned long long)l->wire,
		       ep_hist_percentile(h, 50) / 1e3,
		       ep_hist_percentile(h, 90) / 1e3, ep_hist_percentile(h, 99) / 1e3,
		       ep_hist_percentile(h, 99.9) / 1e3, (double)h->max / 1e3);
		for (int s = 1; s < EP_ST__COUNT; s++)
			if (l->status[s]) {
				printf("%s\"%s\":%llu", first ? "" : ",", ep_status_name(s),
				       (unsigned long long)l->status[s]);
				first = false;
			}
		for (int e = 0; e < 5; e++)
			if (l->local_errors[e]) {
				printf("%s\"%s\":%llu", first ? "" : ",", local_names[e],
				       (unsigned long long)l->local_errors[e]);
				first = false;
			}
		printf("}}\n");
		return;
	}
	printf("type %s: %llu sent, %llu completed, %llu failed, %llu retries in %.2f s\n",
	       l->o->kind->name, (unsigned long long)l->sent, (unsigned long long)l->ok,
	       (unsigned long long)l->failed, (unsigned long long)retries, secs);
	printf("throughput %.0f tasks/s; payload bytes %llu raw, %llu compressed (%.1f%% saved), "
	       "%llu sent with retries\n",
	       (double)l->ok / secs, (unsigned long long)l->raw, (unsigned long long)l->wire_once,
	       l->raw ? 100.0 * (1.0 - (double)l->wire_once / (double)l->raw) : 0.0,
	       (unsigned long long)l->wire);
	printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	       ep_hist_percentile(h, 50) / 1e3, ep_hist_percentile(h, 90) / 1e3,
	       ep_hist_percentile(h, 99) / 1e3, ep_hist_percentile(h, 99.9) / 1e3,
	       (double)h->max / 1e3);
	for (int s = 1; s < EP_ST__COUNT; s++)
		if (l->status[s])
			printf("errors %s: %llu\n", ep_status_name(s), (unsigned long long)l->status[s]);
	for (int e = 0; e < 5; e++)
		if (l->local_errors[e])
			printf("errors %s: %llu\n", local_names[e],
			       (unsigned long long)l->local_errors[e]);
}

int cmd_load(int argc, char **argv)
{
	struct load *l = calloc(1, sizeof(*l));
	uint8_t *payload;
	double t0, end;
	struct opts o;
	int err;

	parse_opts(argc, argv, &o, "load");
	if (!o.count && !o.duration_s)
		o.duration_s = 10;
	if (!l || task_payload(&o, &payload, &l->len))
		return 1;
	o.client.max_inflight = o.concurrency;
	o.client.cork = true;	/* one sendmmsg for the tasks submitted together */
	err = ep_client_open(&o.client, &l->c);
	if (err) {
		pr_err("session to %s: %s", o.client.host, strerror(-err));
		return 1;
	}
	l->o = &o;
	l->payload = payload;
	signal(SIGINT, on_sigint);
	t0 = now_s();
	end = o.duration_s ? t0 + o.duration_s : 0;
	for (uint32_t i = 0; i < o.concurrency; i++)
		submit(l);
	ep_client_flush(l->c);
	while (ep_client_inflight(l->c) && !interrupted) {
		ep_client_poll(l->c, 100);
		if (end && now_s() >= end)
			l->stop = true;	/* let the outstanding tasks finish */
	}
	summary(l, now_s() - t0);
	ep_client_close(l->c);
	free(payload);
	err = l->failed ? 1 : 0;
	free(l);
	return err;
}
