// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The controller's /metrics: node load and state, the gateway's decisions, drops by
 * reason and per-node forwarding, and the controller's own work. */
#include <stdio.h>
#include <string.h>

#include "edgeplane/codec.h"
#include "edgeplane/metrics.h"
#include "edgeplane/util.h"
#include "policy.h"
#include "server.h"

/* The first known node after *@id (0 to start), its id as text in @ids (12 bytes) and
 * in *@id; NULL after the last. */
static const struct ep_reg_node *next_node(const struct ep_ctl *c, uint32_t *id, char *ids)
{
	while (++*id < c->reg.top) {
		const struct ep_reg_node *n = &c->reg.nodes[*id];

		if (n->id) {
			snprintf(ids, 12, "%u", *id);
			return n;
		}
	}
	return NULL;
}

/* A per-node gauge family over every known node: @expr of the caller's node n (its id
 * in id, as text in the caller's ids). */
#define NODE_GAUGE(f, c, metric, help, expr)                                               \
	do {                                                                               \
		ep_metrics_help_type(f, metric, help, "gauge");                            \
		for (uint32_t id = 0; (n = next_node(c, &id, ids));)                       \
			ep_metrics_sample(f, metric,                                       \
					  EP_LABELS({ "node", ids }, { "name", n->name }), \
					  (double)(expr));                                 \
	} while (0)

static void node_metrics(FILE *f, struct ep_ctl *c, uint64_t now)
{
	struct ep_gw_node_stats st[EP_GW_MAX_NODES] = { 0 };
	uint64_t sent[EP_GW_MAX_NODES] = { 0 };
	uint32_t slots[EP_GW_MAX_NODES];
	static const char *const states[] = { "up", "drained", "dead", "waiting", "cloud" };
	const struct ep_reg_node *n;
	char ids[12];

	ep_gw_read_node_stats(c->gw, st);
	ep_gw_read_sent(c->gw, sent);
	ep_table_shares(c->table, c->table_bits, slots);

	ep_metrics_help_type(f, "edgeplane_gw_node_state",
			     "1 for the node's state: up, drained (by hand), dead (reports "
			     "stopped), waiting (no report yet), cloud (overflow only).",
			     "gauge");
	for (uint32_t id = 0; (n = next_node(c, &id, ids));)
		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
			ep_metrics_sample(f, "edgeplane_gw_node_state",
					  EP_LABELS({ "node", ids }, { "name", n->name },
						    { "state", states[s] }),
					  !strcmp(ep_reg_state(n), states[s]));
	NODE_GAUGE(f, c, "edgeplane_gw_node_cpu_ratio", "CPU busy at the last report, 0..1.",
		   n->load.cpu_pct_x100 / 10000.0);
	NODE_GAUGE(f, c, "edgeplane_gw_node_memory_available_bytes",
		   "Available memory at the last report.", n->load.mem_free_kib * 1024.0);
	NODE_GAUGE(f, c, "edgeplane_gw_node_queue_depth",
		   "Tasks waiting for a handler at the last report.", n->load.queue_depth);
	NODE_GAUGE(f, c, "edgeplane_gw_node_inflight",
		   "Tasks accepted and not yet answered at the last report.", n->load.inflight);
	NODE_GAUGE(f, c, "edgeplane_gw_node_service_p99_seconds",
		   "Service time p99 over the node's last report period.", n->load.p99_us / 1e6);
	NODE_GAUGE(f, c, "edgeplane_gw_node_answered_per_second",
		   "Tasks the node answered per second over its last report period.", n->load.rate);
	NODE_GAUGE(f, c, "edgeplane_gw_node_capacity", "Relative capacity (100 = one core).",
		   ep_reg_capacity(n));
	NODE_GAUGE(f, c, "edgeplane_gw_node_report_age_seconds",
		   "Time since the node's last report (-1: none yet).",
		   n->last_report_ns ? (now - n->last_report_ns) / 1e9 : -1.0);
	NODE_GAUGE(f, c, "edgeplane_gw_node_table_share",
		   "The node's share of the consistent-hash table, 0..1.",
		   (double)slots[id] / ep_table_size(c->table_bits));
	NODE_GAUGE(f, c, "edgeplane_gw_node_sent_since_report",
		   "Tasks the gateway sent to the node since its last report.", sent[id]);

	ep_metrics_help_type(f, "edgeplane_gw_node_reports_total",
			     "Load reports from the node, by outcome.", "counter");
	for (uint32_t id = 0; (n = next_node(c, &id, ids));) {
		const struct {
			const char *outcome;
			uint64_t v;
		} by[] = { { "received", n->reports },
			   { "lost", n->lost },
			   { "old", n->stale },
			   { "rejected", n->rejected } };

		for (size_t k = 0; k < sizeof(by) / sizeof(by[0]); k++)
			ep_metrics_sample_u64(f, "edgeplane_gw_node_reports_total",
					      EP_LABELS({ "node", ids }, { "name", n->name },
							{ "outcome", by[k].outcome }),
					      by[k].v);
	}

	/* Forwarding counters live in the map for every id; export the known nodes'. */
	const char *fam[3][2] = {
		{ "edgeplane_gw_node_tasks_total", "New tasks the gateway sent to the node." },
		{ "edgeplane_gw_node_packets_total", "Packets the gateway sent to the node." },
		{ "edgeplane_gw_node_bytes_total", "Bytes the gateway sent to the node." },
	};
	for (int k = 0; k < 3; k++) {
		ep_metrics_help_type(f, fam[k][0], fam[k][1], "counter");
		for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
			uint64_t v = k == 0 ? st[id].tasks : k == 1 ? st[id].packets : st[id].bytes;

			n = &c->reg.nodes[id];
			if (!n->id && !v)
				continue;
			snprintf(ids, sizeof(ids), "%u", id);
			ep_metrics_sample_u64(
				f, fam[k][0],
				EP_LABELS({ "node", ids }, { "name", n->id ? n->name : "" }), v);
		}
	}
}

/* A counter family with a sample per value of an enumeration: the i-th of the @n in @v
 * labelled @label="@name(i)". */
static void enum_counter(FILE *f, const char *metric, const char *help, const char *label,
			 const char *(*name)(unsigned int), const uint64_t *v, unsigned int n)
{
	ep_metrics_help_type(f, metric, help, "counter");
	for (unsigned int i = 0; i < n; i++)
		ep_metrics_sample_u64(f, metric, EP_LABELS({ label, name(i) }), v[i]);
}

/* Enrollment: connections, handshakes and requests by outcome, and the session keys. */
static void enroll_metrics(FILE *f, struct ep_ctl *c)
{
	uint64_t n[EP_ENR__COUNT], k[6];
	unsigned int conns;

	if (!c->enroll)
		return;
	ep_enroll_counts(c->enroll, n, &conns);
	enum_counter(f, "edgeplane_gw_enroll_total",
		     "Enrollment connections and requests, by outcome (docs/operations.md, "
		     "Enrollment and PKI).",
		     "outcome", ep_enroll_outcome_name, n, EP_ENR__COUNT);
	ep_metrics_help_type(f, "edgeplane_gw_enroll_connections",
			     "Enrollment connections open (nodes keep theirs).", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_gw_enroll_connections", NULL, conns);
	pthread_mutex_lock(&c->keys->lock);
	k[0] = c->keys->live_devices;
	k[1] = c->keys->live - c->keys->live_devices;
	k[2] = c->keys->gen;
	k[3] = c->keys->issued;
	k[4] = c->keys->revoked;
	k[5] = c->keys->expired;
	pthread_mutex_unlock(&c->keys->lock);
	ep_metrics_help_type(f, "edgeplane_gw_keys",
			     "Session keys not yet expired (revoked ones included), by owner.",
			     "gauge");
	ep_metrics_sample_u64(f, "edgeplane_gw_keys", EP_LABELS({ "owner", "device" }), k[0]);
	ep_metrics_sample_u64(f, "edgeplane_gw_keys", EP_LABELS({ "owner", "node" }), k[1]);
	ep_metrics_help_type(f, "edgeplane_gw_keys_generation",
			     "Key generation: +1 per issue, revocation or expiry round.", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_gw_keys_generation", NULL, k[2]);
	ep_metrics_help_type(f, "edgeplane_gw_keys_events_total",
			     "Session keys issued, revoked and expired.", "counter");
	ep_metrics_sample_u64(f, "edgeplane_gw_keys_events_total", EP_LABELS({ "event", "issued" }),
			      k[3]);
	ep_metrics_sample_u64(f, "edgeplane_gw_keys_events_total",
			      EP_LABELS({ "event", "revoked" }), k[4]);
	ep_metrics_sample_u64(f, "edgeplane_gw_keys_events_total",
			      EP_LABELS({ "event", "expired" }), k[5]);
}

int ep_ctl_write_metrics(void *arg, FILE *f)
{
	struct ep_ctl *c = arg;
	uint64_t gs[EP_GW_STAT__COUNT] = { 0 }, now;
	struct ep_counter drops[EP_STAT__COUNT];
	struct ep_gw_cfg cfg = { 0 };

	pthread_mutex_lock(&c->lock);
	now = ep_now_ns(); /* under the lock: no report or publication after it */
	node_metrics(f, c, now);

	ep_gw_read_stats(c->gw, gs);
	enum_counter(f, "edgeplane_gw_decisions_total",
		     "Gateway decisions per task packet: how the node was picked, how "
		     "the task was forwarded, and overflow outcomes.",
		     "decision", ep_gw_stat_name, gs, EP_GW_STAT__COUNT);

	if (!ep_gw_read_drops(c->gw, drops)) {
		ep_metrics_help_type(f, "edgeplane_gw_packets_total",
				     "Packets the gateway's parser saw, by verdict or drop reason "
				     "(invalid tasks are dropped, as the classifier drops them).",
				     "counter");
		for (int i = 0; i < EP_STAT__COUNT; i++)
			ep_metrics_sample_u64(f, "edgeplane_gw_packets_total",
					      EP_LABELS({ "reason", ep_stat_name(i) }),
					      drops[i].packets);
	}

	ep_gw_read_cfg(c->gw, &cfg);
	ep_metrics_help_type(f, "edgeplane_gw_policy_info", "The selection policy in force.",
			     "gauge");
	ep_metrics_sample(f, "edgeplane_gw_policy_info",
			  EP_LABELS({ "policy", ep_policy_name(c->policy.policy) }), 1);
	ep_metrics_help_type(f, "edgeplane_gw_generation",
			     "Map generation: +1 per double-buffer flip.", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_gw_generation", NULL, cfg.generation);
	ep_metrics_help_type(f, "edgeplane_gw_publishes_total",
			     "Map updates published, by outcome.", "counter");
	ep_metrics_sample_u64(f, "edgeplane_gw_publishes_total", EP_LABELS({ "outcome", "ok" }),
			      c->publishes);
	ep_metrics_sample_u64(f, "edgeplane_gw_publishes_total", EP_LABELS({ "outcome", "error" }),
			      c->publish_errors);
	ep_metrics_help_type(f, "edgeplane_gw_publish_age_seconds",
			     "Time since the last map update published (-1: none yet).", "gauge");
	ep_metrics_sample(f, "edgeplane_gw_publish_age_seconds", NULL,
			  c->last_publish_ns ? (double)(now - c->last_publish_ns) / 1e9 : -1.0);
	ep_metrics_help_type(f, "edgeplane_gw_reports_received_total",
			     "Load report datagrams received, by outcome: accepted (accepted, "
			     "registered, revived, restarted), ignored (old), or rejected by "
			     "reason; with enrollment, first authenticated or refused by key "
			     "(auth_*).",
			     "counter");
	ep_metrics_sample_u64(f, "edgeplane_gw_reports_received_total",
			      EP_LABELS({ "outcome", "bad_message" }), c->rx_bad);
	for (int i = 0; i < EP_REG__COUNT; i++)
		ep_metrics_sample_u64(f, "edgeplane_gw_reports_received_total",
				      EP_LABELS({ "outcome", ep_reg_report_name(i) }), c->rx[i]);
	for (int i = EP_RAUTH_OK; i < EP_RAUTH__COUNT; i++)
		if (i != EP_RAUTH_PLAIN)
			ep_metrics_sample_u64(f, "edgeplane_gw_reports_received_total",
					      EP_LABELS({ "outcome", ep_rauth_name(i) }),
					      c->rx_auth[i]);
	ep_metrics_help_type(f, "edgeplane_gw_api_requests_total",
			     "edgectl requests, and those refused for lack of permission.",
			     "counter");
	ep_metrics_sample_u64(f, "edgeplane_gw_api_requests_total",
			      EP_LABELS({ "outcome", "served" }), c->api_requests - c->api_denied);
	ep_metrics_sample_u64(f, "edgeplane_gw_api_requests_total",
			      EP_LABELS({ "outcome", "denied" }), c->api_denied);
	ep_metrics_help_type(f, "edgeplane_gw_controller_uptime_seconds",
			     "Time since this controller started.", "gauge");
	ep_metrics_sample(f, "edgeplane_gw_controller_uptime_seconds", NULL,
			  (double)(now - c->start_ns) / 1e9);
	enroll_metrics(f, c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}
