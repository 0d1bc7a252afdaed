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
#include <stddef.h>
#include <stdint.h>

#include "ep_shared.h"
#include "table.h"

enum ep_node_role {
	EP_ROLE_WORKER = 0,
	EP_ROLE_CLOUD, /* only an overflow target, never chosen by a policy */
};

enum ep_node_origin {
	EP_ORIGIN_CONFIG = 0, /* the controller's config file */
	EP_ORIGIN_REPORT,     /* registered by its first load report */
	EP_ORIGIN_CLI,	      /* edgectl node add */
	EP_ORIGIN_PINNED,     /* found in the pinned maps at a restart */
};

struct ep_reg_node {
	uint32_t id; /* 0: free slot */
	char name[32];
	enum ep_node_role role;
	enum ep_node_origin origin;
	bool encap;	       /* routed: UDP encapsulation, not L2 DSR */
	bool manual_drain;     /* drained by an operator */
	bool dead;	       /* reports stopped for dead_after_ns */
	bool awaiting_report;  /* never reported since it was added */
	uint32_t capacity_cfg; /* configured capacity; 0: as reported */
	uint8_t mac[6];
	bool mac_set;
	uint32_t ifindex;
	uint32_t ip4; /* network order */
	uint8_t ip6[16];
	uint16_t port; /* host order */

	/* The latest report, host order. */
	struct {
		uint32_t seq, interval_ms, cpu_pct_x100, queue_depth, inflight, p99_us, capacity,
			rate;
		uint64_t mem_free_kib;
	} load;
	uint64_t last_report_ns; /* 0: none */
	uint64_t since_ns;	 /* added, or declared dead/alive */
	uint64_t reports, lost, stale, rejected;
	/* Where the sequence was before the last restart (a report with a small seq): if
	 * reports go on from there, the "restart" was not the node's, and they are
	 * accepted. Forgotten once the new sequence passes EP_REG_RESTART_SEQ. */
	bool pre_restart;
	uint32_t pre_restart_seq;
	uint64_t pre_restart_ns;
	bool reported_since_publish;
};

struct ep_reg_opts {
	bool allow_register;		     /* a report from an unknown id registers it */
	bool wait_for_report;		     /* configured nodes take tasks only once they report */
	uint64_t dead_after_ns;		     /* no report for this long: drained */
	uint32_t capacity_min, capacity_max; /* a report's capacity must be in this range */
};

/* Defaults of the options above (docs/operations.md). */
#define EP_REG_CAPACITY_MIN 1
#define EP_REG_CAPACITY_MAX 10000 /* 100 reference cores */

/* A report with a seq up to this, not newer than the last, is a restarted runtime's. */
#define EP_REG_RESTART_SEQ 16

struct ep_registry {
	struct ep_reg_opts opts;
	struct ep_reg_node nodes[EP_GW_MAX_NODES]; /* by id; [0] unused */
	/* Every id in use is below this (the highest ever added + 1, never lowered): what
	 * the per-node loops walk, so a cluster of 3 is not 8191 ids' work. */
	uint32_t top;
	uint64_t table_version; /* +1 whenever the table's members change */
	bool dirty;		/* something to publish */
	bool urgent;		/* a node's queue moved as ep_queue_moved() says (an
				 * event report): publish now, not at the next
				 * publish_ms tick */
	uint64_t reports, reports_rejected;
};

/*
 * The outcomes of a report, with their names in metrics and `edgectl status`. The first
 * four accept it, OLD ignores it, the others refuse it (and count it as rejected).
 */
#define EP_REG_REPORT_LIST(X)                                                            \
	X(ACCEPTED, "accepted")                                                          \
	X(REGISTERED, "registered")	/* a new node */                                 \
	X(REVIVED, "revived")		/* a dead node reported again */                 \
	X(RESTARTED, "restarted")	/* its seq began again: the runtime restarted */ \
	X(OLD, "old")			/* a duplicate or reordered report: ignored */   \
	X(UNKNOWN, "unknown_node")	/* unknown id, and registration is off */        \
	X(INVALID, "invalid")		/* bad id, port, interval or CPU */              \
	X(CAPACITY, "capacity")		/* outside capacity_min..capacity_max */         \
	X(CONFLICT, "address_conflict") /* not from the address it claims, or not        \
					 * from / not claiming the node's address */     \
	X(MAC_MISMATCH, "mac_mismatch") /* claims a MAC other than the sender's          \
					 * neighbour entry, or than the node's */        \
	X(NO_NEIGHBOUR, "no_neighbour") /* no neighbour entry for the sender */          \
	X(SEQ_JUMP, "seq_jump")		/* seq too far ahead for the time since the      \
					 * node's last report */

enum ep_reg_report {
#define EP_X_ENUM(name, str) EP_REG_##name,
	EP_REG_REPORT_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_REG__COUNT
};

/* "accepted", "unknown_node", ... */
const char *ep_reg_report_name(enum ep_reg_report res);
/* True for the outcomes that refuse a report (UNKNOWN and after). */
static inline bool ep_reg_refused(enum ep_reg_report res)
{
	return res >= EP_REG_UNKNOWN;
}

/*
 * Where a report came from, as the controller saw it (server.c fills it in).
 *
 * [auth] With enrollment on, server.c lets through only reports sealed with a node's own
 * key for that key's node id (report_auth.h): the key binds the node id before the
 * registry binds it to an address and a MAC.
 */
struct ep_reg_sender {
	uint32_t ip4;	    /* source address, network order; 0 for IPv6 */
	const uint8_t *ip6; /* IPv6 source address; NULL for IPv4 */
	/*
	 * The link-layer address the kernel's neighbour table holds for the source address
	 * on the interface the report came in on: 0 and @mac, or a negative errno (-ENOENT:
	 * no usable entry). With @resolve, the address is a known node's and the kernel is
	 * asked to resolve it when it has no entry, for the node's next report. Called only
	 * for reports that pass the cheaper checks, and only for nodes on the segment.
	 */
	int (*neigh)(const struct ep_reg_sender *from, bool resolve, uint8_t mac[6]);
	void *ctx; /* for @neigh */
};

/* Decode a LOAD_REPORT datagram (docs/protocol.md 7.1) into @out. Returns 0, or -EBADMSG
 * if it is not a v1 LOAD_REPORT of one fragment carrying a struct ep_load_report. */
int ep_reg_decode_report(const void *buf, size_t len, struct ep_load_report *out);

void ep_reg_init(struct ep_registry *r, const struct ep_reg_opts *o);

/* Add a node (from config or the CLI). Returns 0, -EEXIST, or -EINVAL (bad id, a DSR
 * worker from the CLI without a MAC, a configured DSR worker with neither a MAC nor an
 * address to recognise its reports by, an encap node without an IPv4 address). */
int ep_reg_add(struct ep_registry *r, const struct ep_reg_node *n, uint64_t now);
int ep_reg_del(struct ep_registry *r, uint32_t id);		  /* 0 or -ENOENT */
int ep_reg_drain(struct ep_registry *r, uint32_t id, bool drain); /* 0 or -ENOENT */
struct ep_reg_node *ep_reg_get(struct ep_registry *r, uint32_t id);

/*
 * Check a decoded report (network order, as on the wire) from @from at @now, and apply
 * it if it passes (the order of the checks is in registry.c). Returns the outcome.
 */
enum ep_reg_report ep_reg_report(struct ep_registry *r, const struct ep_load_report *rep,
				 const struct ep_reg_sender *from, uint64_t now);

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
 * workers) in @members (returns their count). Entries from r->top on are left as they
 * are: zero them once (a buffer used only for this stays right, as top never falls).
 */
unsigned int ep_reg_build(const struct ep_registry *r, struct ep_gw_node *nodes,
			  struct ep_table_member *members);

/* Take nodes back from a pinned, live node half after a controller restart: every
 * present entry not already known becomes an EP_ORIGIN_PINNED node, alive as of @now. */
void ep_reg_restore(struct ep_registry *r, const struct ep_gw_node *nodes, uint64_t now);

#endif /* EP_CONTROL_REGISTRY_H */
