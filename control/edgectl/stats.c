// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl stats [--watch [SECONDS]] [--count N]: the gateway's counters, read from its
 * pinned maps (the controller need not run). Watching prints rates per second. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edgectl.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

struct snap {
	uint64_t dec[EP_GW_STAT__COUNT];
	struct ep_counter pkt[EP_STAT__COUNT];
	struct ep_gw_node_stats node[EP_GW_MAX_NODES];
	uint64_t sent[EP_GW_MAX_NODES];
	double t;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int take(struct ep_gw *gw, struct snap *s)
{
	int err;

	s->t = (double)ep_now_ns() / 1e9;
	if ((err = ep_gw_read_stats(gw, s->dec)) || (err = ep_gw_read_drops(gw, s->pkt)) ||
	    (err = ep_gw_read_node_stats(gw, s->node)) || (err = ep_gw_read_sent(gw, s->sent)))
		pr_err("read the gateway's counters: %s", strerror(-err));
	return err;
}

/* @prev: NULL for totals, else print rates over the interval since it. */
static void print_text(const struct snap *s, const struct snap *prev)
{
	double dt = prev ? s->t - prev->t : 1;
	const char *unit = prev ? "/s" : "";

	printf("decisions%s\n", unit);
	for (int i = 0; i < EP_GW_STAT__COUNT; i++) {
		uint64_t v = s->dec[i] - (prev ? prev->dec[i] : 0);

		if (v || !prev)
			printf("  %-26s %14.0f\n", ep_gw_stat_name(i), v / dt);
	}
	printf("packets by verdict or reason%s\n", unit);
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t v = s->pkt[i].packets - (prev ? prev->pkt[i].packets : 0);

		if (v)
			printf("  %-26s %14.0f\n", ep_stat_name(i), v / dt);
	}
	printf("nodes%s\n  %-4s %12s %12s %14s %10s\n", unit, "ID", "TASKS", "PACKETS", "BYTES",
	       "SENT*");
	for (int id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node_stats *n = &s->node[id], *p = prev ? &prev->node[id] : NULL;

		if (!n->packets && !s->sent[id])
			continue;
		printf("  %-4d %12.0f %12.0f %14.0f %10llu\n", id,
		       (n->tasks - (p ? p->tasks : 0)) / dt,
		       (n->packets - (p ? p->packets : 0)) / dt,
		       (n->bytes - (p ? p->bytes : 0)) / dt, (unsigned long long)s->sent[id]);
	}
	printf("  * tasks sent since the node's last load report\n");
	fflush(stdout);
}

static json_t *to_json(const struct snap *s, const struct snap *prev)
{
	double dt = prev ? s->t - prev->t : 1;
	json_t *dec = json_object(), *pkt = json_object(), *nodes = json_array();

	for (int i = 0; i < EP_GW_STAT__COUNT; i++) {
		uint64_t v = s->dec[i] - (prev ? prev->dec[i] : 0);

		json_object_set_new(dec, ep_gw_stat_name(i),
				    prev ? json_real(v / dt) : json_integer((json_int_t)v));
	}
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t v = s->pkt[i].packets - (prev ? prev->pkt[i].packets : 0);

		if (v || !prev)
			json_object_set_new(pkt, ep_stat_name(i),
					    prev ? json_real(v / dt) : json_integer((json_int_t)v));
	}
	for (int id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node_stats *n = &s->node[id], *p = prev ? &prev->node[id] : NULL;

		if (!n->packets && !s->sent[id])
			continue;
		json_array_append_new(nodes,
				      json_pack("{s:i, s:f, s:f, s:f, s:I}", "id", id, "tasks",
						(n->tasks - (p ? p->tasks : 0)) / dt, "packets",
						(n->packets - (p ? p->packets : 0)) / dt, "bytes",
						(n->bytes - (p ? p->bytes : 0)) / dt,
						"sent_since_report", (json_int_t)s->sent[id]));
	}
	return json_pack("{s:s, s:f, s:o, s:o, s:o}", "kind", prev ? "rates" : "totals",
			 "interval_s", prev ? dt : 0.0, "decisions", dec, "packets", pkt, "nodes",
			 nodes);
}

/* --watch [SECONDS]: 1 when left out. */
static int opt_watch(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	long long v = 1;

	if (arg && ep_opt_number(arg, 1, 3600, &v, err, len))
		return -EINVAL;
	*(long *)o->ctx = (long)v;
	return 0;
}

#define STATS_USAGE                                                                          \
	"Usage: edgectl stats [--watch [SECONDS]] [--count N]\n\n"                           \
	"The gateway's counters, read from its pinned maps (the controller need not run);\n" \
	"watching prints rates per second.\n\n"

int cmd_stats(struct ctl_ctx *x, int argc, char **argv)
{
	struct snap a, b, *cur = &a, *prev = &b;
	long interval = 0, count = 0;
	struct ep_opt tab[] = {
		EP_OPT_FUNC("watch", 0, opt_watch, &interval, "SECONDS",
			    "print rates every SECONDS (1) until stopped"),
		EP_OPT_INT("count", 0, &count, 1, 1000000, "N", "with --watch: N times"),
		EP_OPT_END,
	};
	struct ep_gw *gw;
	int err;

	tab[0].flags = EP_OPT_OPTARG;
	err = ctl_parse_no_args(x, "edgectl stats", STATS_USAGE, tab, argc, argv);
	if (err)
		return err - 1;
	if (ctl_open_gw(x, &gw))
		return EXIT_FAIL;
	err = take(gw, prev);
	if (err)
		goto out;
	if (!interval) {
		if (x->json) {
			json_t *j = to_json(prev, NULL);

			ctl_print_json(j);
			json_decref(j);
		} else {
			print_text(prev, NULL);
		}
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (long n = 0; !stop && (!count || n < count); n++) {
		struct snap *t;

		sleep((unsigned int)interval);
		if (stop || (err = take(gw, cur)))
			break;
		if (x->json) {
			json_t *j = to_json(cur, prev);

			json_dumpf(j, stdout, JSON_COMPACT);
			putchar('\n');
			fflush(stdout);
			json_decref(j);
		} else {
			if (isatty(STDOUT_FILENO))
				printf("\033[H\033[2J");
			print_text(cur, prev);
		}
		t = prev;
		prev = cur;
		cur = t;
	}
out:
	ep_gw_close(gw, false);
	return err ? EXIT_FAIL : 0;
}
