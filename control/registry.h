/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * registry.h - the controller's view of the worker nodes: who they are (static config,
 * dynamic registration by their first load report, or `edgectl node add`), how loaded
 * they were at their last report, and whether they take new tasks.
 *
 * Pure logic, no I/O: the server feeds it reports and clock ticks and turns its state
 * into map entries (ep_reg_build()). Times are CLOCK_MONOTONIC nanoseconds, the clock of
 * bpf_ktime_get_ns(), so they go into the maps unchanged.
 */
#ifndef EP_CONTROL_REGISTRY_H
#define EP_CONTROL_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"
#include "table.h"

enum ep_node_role {
	EP_ROLE_WORKER = 0,
	EP_ROLE_CLOUD,		/* only an overflow target, never chosen by a policy */
};

enum ep_node_origin {
	EP_ORIGIN_CONFIG = 0,	/* the controller's config file */
	EP_ORIGIN_REPORT,	/* registered by its first load report */
	EP_ORIGIN_CLI,		/* edgectl node add */
	EP_ORIGIN_PINNED,	/* found in the pinned maps at a restart */
};

struct ep_reg_node {
	uint32_t id;			/* 0: free slot */
	char name[32];
	enum ep_node_role role;
	enum ep_node_origin origin;
	bool encap;			/* routed: UDP encapsulation, not L2 DSR */
	bool manual_drain;		/* drained by an operator */
	bool dead;			/* reports stopped for dead_after_ns */
	bool awaiting_report;		/* never reported since it was added */
	uint32_t capacity_cfg;		/* configured capacity; 0: as reported */
	uint8_t mac[6];
	bool mac_set;
	uint32_t ifindex;
	uint32_t ip4;			/* network order */
	uint8_t ip6[16];
	uint16_t port;			/* host order */

	/* The latest report, host order. */
	struct {
		uint32_t seq, cpu_pct_x100, queue_depth, inflight, p99_us,
			capacity, rate;
		uint64_t mem_free_kib;
	} load;
	uint64_t last_report_ns;	/* 0: none */
	uint64_t since_ns;		/* added, or declared dead/alive */
	uint64_t reports, lost, stale, rejected;
	bool reported_since_publish;
};

struct ep_reg_opts {
	bool allow_register;		/* a report from an unknown id registers it */
	bool wait_for_report;		/* configured nodes take tasks only once they report */
	uint64_t dead_after_ns;		/* no report for this long: drained */
};

struct ep_registry {
	struct ep_reg_opts opts;
	struct ep_reg_node nodes[EP_GW_MAX_NODES];	/* by id; [0] unused */
	uint64_t table_version;		/* +1 whenever the table's members change */
	bool dirty;			/* something to publish */
	uint64_t reports, reports_rejected;
};

/* The result of applying a report. */
enum ep_reg_report {
	EP_REG_ACCEPTED = 0,
	EP_REG_REGISTERED,	/* a new node */
	EP_REG_REVIVED,		/* a dead node reported again */
	EP_REG_OLD,		/* a duplicate or reordered report: ignored */
	EP_REG_UNKNOWN,		/* unknown id and registration is off */
	EP_REG_CONFLICT,	/* the id belongs to a node at another address */
	EP_REG_INVALID,		/* bad id, zero capacity, bad port */
};

void ep_reg_init(struct ep_registry *r, const struct ep_reg_opts *o);

/* Add a node (from config or the CLI). Returns 0, -EEXIST, or -EINVAL (bad id, zero
 * port, a DSR worker without a MAC, an encap node without an IPv4 address). */
int ep_reg_add(struct ep_registry *r, const struct ep_reg_node *n, uint64_t now);
int ep_reg_del(struct ep_registry *r, uint32_t id);		/* 0 or -ENOENT */
int ep_reg_drain(struct ep_registry *r, uint32_t id, bool drain); /* 0 or -ENOENT */
struct ep_reg_node *ep_reg_get(struct ep_registry *r, uint32_t id);

/*
 * Apply a decoded report (network order, as on the wire) from @src_ip4 (network order;
 * 0 for an IPv6 sender) / @src_ip6 (NULL for IPv4) at @now.
 */
enum ep_reg_report ep_reg_report(struct ep_registry *r, const struct ep_load_report *rep,
				 uint32_t src_ip4, const uint8_t *src_ip6, uint64_t now);

/* Declare nodes whose reports stopped dead (drained). Returns how many changed. */
int ep_reg_tick(struct ep_registry *r, uint64_t now);

/* True if the node takes new tasks: present, not drained, not dead, reported (if it
 * must), with a capacity. */
bool ep_reg_usable(const struct ep_reg_node *n);
/* "up", "drained", "dead", "waiting" (for its first report), "cloud". */
const char *ep_reg_state(const struct ep_reg_node *n);
uint32_t ep_reg_capacity(const struct ep_reg_node *n);

/*
 * The map image: @nodes (EP_GW_MAX_NODES entries by id) and the table members (usable
 * workers) in @members (returns their count).
 */
unsigned int ep_reg_build(const struct ep_registry *r, struct ep_gw_node *nodes,
			  struct ep_table_member *members);

/* Take nodes back from a pinned, live node half after a controller restart: every
 * present entry not already known becomes an EP_ORIGIN_PINNED node, alive as of @now. */
void ep_reg_restore(struct ep_registry *r, const struct ep_gw_node *nodes, uint64_t now);

#endif /* EP_CONTROL_REGISTRY_H */
