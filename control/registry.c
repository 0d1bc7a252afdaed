// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgeplane/log.h"
#include "edgeplane/codec.h"
#include "registry.h"
#include "xlist.h"

int ep_reg_decode_report(const void *buf, size_t len, struct ep_load_report *out)
{
	const uint8_t *payload;
	struct ep_msg m;

	if (ep_decode(buf, len, sizeof(*out), &m, &payload, NULL) ||
	    m.kind != EP_KIND_LOAD_REPORT || m.payload_len != sizeof(*out) || m.frag_count != 1)
		return -EBADMSG;
	memcpy(out, payload, sizeof(*out));
	return 0;
}

void ep_reg_init(struct ep_registry *r, const struct ep_reg_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->opts = *o;
	r->table_version = 1;
	r->dirty = true;
}

static const uint8_t zero6[16];

static bool has_ip6(const uint8_t *a)
{
	return memcmp(a, zero6, 16) != 0;
}

static bool valid_id(uint32_t id)
{
	return id >= 1 && id < EP_GW_MAX_NODES;
}

struct ep_reg_node *ep_reg_get(struct ep_registry *r, uint32_t id)
{
	if (!valid_id(id) || !r->nodes[id].id)
		return NULL;
	return &r->nodes[id];
}

uint32_t ep_reg_capacity(const struct ep_reg_node *n)
{
	return n->capacity_cfg ? n->capacity_cfg : n->load.capacity;
}

bool ep_reg_usable(const struct ep_reg_node *n)
{
	return n->id && n->role == EP_ROLE_WORKER && !n->manual_drain && !n->dead &&
	       !n->awaiting_report && ep_reg_capacity(n) && (n->mac_set || n->encap);
}

const char *ep_reg_state(const struct ep_reg_node *n)
{
	if (n->manual_drain)
		return "drained";
	if (n->role == EP_ROLE_CLOUD)
		return "cloud";
	if (n->dead)
		return "dead";
	if (n->awaiting_report)
		return "waiting";
	return "up";
}

/* Something the table depends on changed. */
static void changed(struct ep_registry *r)
{
	r->table_version++;
	r->dirty = true;
}

int ep_reg_add(struct ep_registry *r, const struct ep_reg_node *n, uint64_t now)
{
	struct ep_reg_node *slot;

	/* An encap node's outer destination: ip4, else ip6 (ep_reg_build()). */
	if (!valid_id(n->id) || (n->encap && !n->ip4 && !has_ip6(n->ip6)) ||
	    (!n->encap && !n->mac_set && n->origin != EP_ORIGIN_CONFIG))
		return -EINVAL;
	/* A configured worker on the segment is recognised by its address or its MAC. */
	if (n->role == EP_ROLE_WORKER && !n->encap && !n->mac_set && !n->ip4 && !has_ip6(n->ip6))
		return -EINVAL;
	slot = &r->nodes[n->id];
	if (slot->id)
		return -EEXIST;
	*slot = *n;
	if (n->id >= r->top)
		r->top = n->id + 1;
	if (!slot->name[0])
		snprintf(slot->name, sizeof(slot->name), "node%u", n->id);
	if (!slot->port)
		slot->port = EP_DEFAULT_PORT;
	slot->awaiting_report =
		r->opts.wait_for_report && n->role == EP_ROLE_WORKER && !n->last_report_ns;
	slot->since_ns = now;
	changed(r);
	return 0;
}

int ep_reg_del(struct ep_registry *r, uint32_t id)
{
	if (!ep_reg_get(r, id))
		return -ENOENT;
	memset(&r->nodes[id], 0, sizeof(r->nodes[id]));
	changed(r);
	return 0;
}

int ep_reg_drain(struct ep_registry *r, uint32_t id, bool drain)
{
	struct ep_reg_node *n = ep_reg_get(r, id);

	if (!n)
		return -ENOENT;
	if (n->manual_drain != drain) {
		n->manual_drain = drain;
		changed(r);
	}
	return 0;
}

const char *ep_reg_report_name(enum ep_reg_report res)
{
	return EP_XLIST_NAME(EP_REG_REPORT_LIST, EP_REG__COUNT, (unsigned int)res);
}

/* The report claims the address it comes from: a node cannot point the gateway at a
 * third party. (Its address of the other family, if any, is taken as claimed.) */
static bool from_claimed(const struct ep_load_report *rep, const struct ep_reg_sender *from)
{
	if (from->ip6)
		return !memcmp(rep->ip6, from->ip6, 16);
	return rep->ip4 == from->ip4;
}

/* The report comes from the known node's address, and claims no other. A node configured
 * with a MAC only has no address yet: its first accepted report gives it one. */
static bool from_node(const struct ep_reg_node *n, const struct ep_load_report *rep,
		      const struct ep_reg_sender *from)
{
	bool any = n->ip4 || has_ip6(n->ip6);

	if (any && (from->ip6 ? memcmp(n->ip6, from->ip6, 16) : n->ip4 != from->ip4))
		return false;
	if (n->ip4 && rep->ip4 && rep->ip4 != n->ip4)
		return false;
	if (has_ip6(n->ip6) && has_ip6(rep->ip6) && memcmp(rep->ip6, n->ip6, 16))
		return false;
	/* A node the controller did not configure keeps the port it registered with. */
	if (n->origin != EP_ORIGIN_CONFIG && n->origin != EP_ORIGIN_CLI &&
	    n->port != ntohs(rep->port))
		return false;
	return true;
}

/* @seq follows @last (sent at @last_ns) plausibly at @now: newer, and at most two
 * reports per interval (of at least 10 ms) and one event report per EP_REPORT_MIN_GAP_MS
 * since, plus EP_REG_RESTART_SEQ of slack. */
static bool seq_follows(uint32_t last, uint64_t last_ns, uint32_t seq, uint32_t interval_ms,
			uint64_t now)
{
	int32_t d = (int32_t)(seq - last);
	uint64_t period = (uint64_t)(interval_ms > 10 ? interval_ms : 10) * 1000000;
	uint64_t since = now > last_ns ? now - last_ns : 0;
	uint64_t steps = EP_REG_RESTART_SEQ + 2 * (since / period) +
			 since / ((uint64_t)EP_REPORT_MIN_GAP_MS * 1000000);

	return d > 0 && (uint64_t)d <= steps;
}

/*
 * The checks, cheapest first; the first that fails decides the outcome:
 *   1. the report itself: id 1..8191, port, interval and CPU in range (INVALID); capacity
 *      in capacity_min..capacity_max (CAPACITY);
 *   2. [auth] with enrollment on, server.c has checked before (report_auth.c) that the
 *      report was sealed with a node's own key, for that key's node id; 3. and 4. still
 *      apply, the key proving the sender and the address and MAC where to send tasks;
 *   3. the sender: the report comes from the address it claims (CONFLICT); a known node's
 *      reports come from the node's address and claim no other address or port
 *      (CONFLICT); an unknown id registers only with allow_register (UNKNOWN);
 *   4. on the segment (DSR: every node but an encapsulated one): the kernel's neighbour
 *      entry for the source address on the receiving interface exists (NO_NEIGHBOUR) and
 *      is the MAC the report claims, which is the known node's MAC (MAC_MISMATCH);
 *   5. the sequence: newer than the last, and not too far ahead for the time since
 *      (OLD, SEQ_JUMP); a small seq not newer than the last is a restart (RESTARTED).
 */
/* Check 1.: EP_REG_ACCEPTED, or EP_REG_INVALID or EP_REG_CAPACITY. */
static enum ep_reg_report report_in_range(const struct ep_registry *r,
					  const struct ep_load_report *rep)
{
	uint32_t interval = ntohl(rep->interval_ms), cap = ntohl(rep->capacity);

	if (!valid_id(ntohl(rep->node_id)) || !rep->port || !interval || interval > 3600000 ||
	    ntohl(rep->cpu_pct_x100) > 10000)
		return EP_REG_INVALID;
	if (cap < r->opts.capacity_min || cap > r->opts.capacity_max)
		return EP_REG_CAPACITY;
	return EP_REG_ACCEPTED;
}

/* Checks 3. and 4. for the known node @n (NULL: none): EP_REG_ACCEPTED, or EP_REG_CONFLICT,
 * EP_REG_UNKNOWN, EP_REG_NO_NEIGHBOUR or EP_REG_MAC_MISMATCH. */
static enum ep_reg_report report_sender_ok(const struct ep_registry *r, const struct ep_reg_node *n,
					   const struct ep_load_report *rep,
					   const struct ep_reg_sender *from)
{
	uint8_t mac[6];

	if (!from_claimed(rep, from) || (n && !from_node(n, rep, from)))
		return EP_REG_CONFLICT;
	if (!n && !r->opts.allow_register)
		return EP_REG_UNKNOWN;
	if (n && n->encap)
		return EP_REG_ACCEPTED;
	if (!from->neigh || from->neigh(from, n != NULL, mac))
		return EP_REG_NO_NEIGHBOUR;
	if (memcmp(mac, rep->mac, 6) || (n && n->mac_set && memcmp(n->mac, rep->mac, 6)))
		return EP_REG_MAC_MISMATCH;
	return EP_REG_ACCEPTED;
}

/* A node that registers by its first report (allow_register), or NULL where the report
 * makes no node ep_reg_add() takes. */
static struct ep_reg_node *report_register(struct ep_registry *r, uint32_t id,
					   const struct ep_load_report *rep, uint64_t now)
{
	struct ep_reg_node fresh = {
		.id = id,
		.origin = EP_ORIGIN_REPORT,
		.mac_set = true,
		.ip4 = rep->ip4,
		.port = ntohs(rep->port),
		.last_report_ns = now,
	};

	memcpy(fresh.mac, rep->mac, 6);
	memcpy(fresh.ip6, rep->ip6, 16);
	if (ep_reg_add(r, &fresh, now))
		return NULL;
	return &r->nodes[id];
}

/*
 * Check 5. on @n's sequence, counting lost reports and following its restarts:
 * EP_REG_ACCEPTED, EP_REG_RESTARTED (a small seq not newer than the last), EP_REG_OLD
 * (counted as stale) or EP_REG_SEQ_JUMP.
 */
static enum ep_reg_report report_seq(struct ep_reg_node *n, uint32_t seq, uint64_t now)
{
	if (!n->reports)
		return EP_REG_ACCEPTED;
	if (seq_follows(n->load.seq, n->last_report_ns, seq, n->load.interval_ms, now)) {
		n->lost += (uint32_t)(seq - n->load.seq - 1);
		if (seq > EP_REG_RESTART_SEQ)
			n->pre_restart = false;
		return EP_REG_ACCEPTED;
	}
	if (n->pre_restart &&
	    seq_follows(n->pre_restart_seq, n->pre_restart_ns, seq, n->load.interval_ms, now)) {
		/* The node's sequence goes on: that restart was not its own. */
		n->pre_restart = false;
		return EP_REG_ACCEPTED;
	}
	if (seq <= EP_REG_RESTART_SEQ && (int32_t)(seq - n->load.seq) <= 0) {
		if (!n->pre_restart) {
			n->pre_restart = true;
			n->pre_restart_seq = n->load.seq;
			n->pre_restart_ns = n->last_report_ns;
		}
		return EP_REG_RESTARTED;
	}
	if ((int32_t)(seq - n->load.seq) <= 0) {
		n->stale++;
		return EP_REG_OLD;
	}
	return EP_REG_SEQ_JUMP;
}

/* An accepted report teaches what the node's configuration left open: its MAC (unless
 * encapsulated) and its addresses. A pinned node becomes a reporting one. */
static void report_learn(struct ep_registry *r, struct ep_reg_node *n,
			 const struct ep_load_report *rep)
{
	if (!n->mac_set && !n->encap) {
		memcpy(n->mac, rep->mac, 6);
		n->mac_set = true;
		changed(r);
	}
	if (!n->ip4 && !has_ip6(n->ip6)) {
		n->ip4 = rep->ip4;
		memcpy(n->ip6, rep->ip6, 16);
		changed(r);
	}
	if (n->origin == EP_ORIGIN_PINNED)
		n->origin = EP_ORIGIN_REPORT;
}

/* An accepted report's load becomes @n's; a burst starting or ending marks the
 * registry urgent, a new capacity changes the table. */
static void report_load(struct ep_registry *r, struct ep_reg_node *n,
			const struct ep_load_report *rep)
{
	uint32_t cap = ntohl(rep->capacity);

	n->load.seq = ntohl(rep->seq);
	n->load.interval_ms = ntohl(rep->interval_ms);
	n->load.cpu_pct_x100 = ntohl(rep->cpu_pct_x100);
	n->load.mem_free_kib = be64toh(rep->mem_free_kib);
	if (ep_queue_moved(ep_queue_significant(n->load.queue_depth, n->load.rate),
			   ep_queue_significant(ntohl(rep->queue_depth), ntohl(rep->rate))))
		r->urgent = true; /* a burst, or its end: publish at once */
	n->load.queue_depth = ntohl(rep->queue_depth);
	n->load.inflight = ntohl(rep->inflight);
	n->load.p99_us = ntohl(rep->p99_us);
	n->load.rate = ntohl(rep->rate);
	if (n->load.capacity != cap && !n->capacity_cfg) {
		n->load.capacity = cap;
		changed(r);
	}
}

/* A report refused with @res, counted for the registry and the known node @n, if any. */
static enum ep_reg_report report_reject(struct ep_registry *r, struct ep_reg_node *n,
					enum ep_reg_report res)
{
	if (n)
		n->rejected++;
	r->reports_rejected++;
	return res;
}

/*
 * The checks, cheapest first; the first that fails decides the outcome:
 *   1. the report itself: id 1..8191, port, interval and CPU in range (INVALID); capacity
 *      in capacity_min..capacity_max (CAPACITY);
 *   2. [auth] with enrollment on, server.c has checked before (report_auth.c) that the
 *      report was sealed with a node's own key, for that key's node id; 3. and 4. still
 *      apply, the key proving the sender and the address and MAC where to send tasks;
 *   3. the sender: the report comes from the address it claims (CONFLICT); a known node's
 *      reports come from the node's address and claim no other address or port
 *      (CONFLICT); an unknown id registers only with allow_register (UNKNOWN);
 *   4. on the segment (DSR: every node but an encapsulated one): the kernel's neighbour
 *      entry for the source address on the receiving interface exists (NO_NEIGHBOUR) and
 *      is the MAC the report claims, which is the known node's MAC (MAC_MISMATCH);
 *   5. the sequence: newer than the last, and not too far ahead for the time since
 *      (OLD, SEQ_JUMP); a small seq not newer than the last is a restart (RESTARTED).
 */
enum ep_reg_report ep_reg_report(struct ep_registry *r, const struct ep_load_report *rep,
				 const struct ep_reg_sender *from, uint64_t now)
{
	uint32_t id = ntohl(rep->node_id);
	enum ep_reg_report res, step;
	struct ep_reg_node *n;
	bool was_usable;

	r->reports++;
	/* 1. */
	res = report_in_range(r, rep);
	if (res != EP_REG_ACCEPTED)
		return report_reject(r, NULL, res);
	/* 2. [auth]: done by the caller (report_auth.c). */
	/* 3. and 4. */
	n = ep_reg_get(r, id);
	res = report_sender_ok(r, n, rep, from);
	if (res != EP_REG_ACCEPTED)
		return report_reject(r, n, res);
	if (!n) {
		n = report_register(r, id, rep, now);
		if (!n)
			return report_reject(r, NULL, EP_REG_INVALID);
		res = EP_REG_REGISTERED;
	}
	/* 5. */
	step = report_seq(n, ntohl(rep->seq), now);
	if (step == EP_REG_OLD)
		return step;
	if (step == EP_REG_SEQ_JUMP)
		return report_reject(r, n, step);
	if (step == EP_REG_RESTARTED)
		res = step;

	/* Accepted. */
	report_learn(r, n, rep);
	was_usable = ep_reg_usable(n);
	report_load(r, n, rep);
	n->last_report_ns = now;
	n->reports++;
	n->reported_since_publish = true;
	n->awaiting_report = false;
	if (n->dead) {
		n->dead = false;
		n->since_ns = now;
		if (res == EP_REG_ACCEPTED || res == EP_REG_RESTARTED)
			res = EP_REG_REVIVED;
	}
	if (ep_reg_usable(n) != was_usable)
		changed(r);
	r->dirty = true;
	return res;
}

int ep_reg_tick(struct ep_registry *r, uint64_t now)
{
	int n_changed = 0;

	for (uint32_t id = 1; id < r->top; id++) {
		struct ep_reg_node *n = &r->nodes[id];
		uint64_t last;

		if (!n->id || n->dead || n->role == EP_ROLE_CLOUD)
			continue;
		/* From its last report, or from when it was added, restored or revived. */
		last = n->last_report_ns > n->since_ns ? n->last_report_ns : n->since_ns;
		if (n->awaiting_report || now - last <= r->opts.dead_after_ns)
			continue;
		n->dead = true;
		n->since_ns = now;
		n_changed++;
	}
	if (n_changed)
		changed(r);
	return n_changed;
}

unsigned int ep_reg_build(const struct ep_registry *r, struct ep_gw_node *nodes,
			  struct ep_table_member *members)
{
	unsigned int nm = 0;

	memset(nodes, 0, r->top * sizeof(*nodes));
	for (uint32_t id = 1; id < r->top; id++) {
		const struct ep_reg_node *n = &r->nodes[id];
		struct ep_gw_node *g = &nodes[id];

		if (!n->id)
			continue;
		g->flags = EP_NODE_F_PRESENT;
		if (n->role == EP_ROLE_CLOUD)
			g->flags |= EP_NODE_F_OVERFLOW;
		else if (!ep_reg_usable(n))
			g->flags |= EP_NODE_F_DRAINED;
		if (n->manual_drain)
			g->flags |= EP_NODE_F_DRAINED | EP_NODE_F_MANUAL;
		if (n->encap)
			g->flags |= EP_NODE_F_ENCAP;
		/* The underlay is IPv6 for a node with an IPv6 address and no IPv4 one. */
		if (n->encap && !n->ip4 && has_ip6(n->ip6))
			g->flags |= EP_NODE_F_ENCAP6;
		g->capacity = ep_reg_capacity(n) ?: (n->role == EP_ROLE_CLOUD ? 100 : 0);
		memcpy(g->mac, n->mac, 6);
		g->ifindex = n->ifindex;
		g->ip4 = n->ip4;
		memcpy(g->ip6, n->ip6, 16);
		g->cpu_pct_x100 = n->load.cpu_pct_x100;
		g->queue_depth = n->load.queue_depth;
		g->inflight = n->load.inflight;
		g->p99_us = n->load.p99_us;
		g->rate = n->load.rate;
		g->wait_ms = ep_queue_wait_ms(n->load.queue_depth < n->load.inflight
						      ? n->load.queue_depth
						      : n->load.inflight,
					      n->load.rate);
		g->port = n->port;
		g->mem_free_kib = n->load.mem_free_kib;
		g->updated_ns = n->last_report_ns;
		if (ep_reg_usable(n))
			members[nm++] =
				(struct ep_table_member){ .id = id, .capacity = g->capacity };
	}
	return nm;
}

void ep_reg_restore(struct ep_registry *r, const struct ep_gw_node *nodes, uint64_t now)
{
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node *g = &nodes[id];
		struct ep_reg_node *n = &r->nodes[id];

		if (!(g->flags & EP_NODE_F_PRESENT))
			continue;
		if (n->id) { /* configured: keep the operator's drain */
			n->manual_drain |= !!(g->flags & EP_NODE_F_MANUAL);
			continue;
		}
		*n = (struct ep_reg_node){
			.id = id,
			.origin = EP_ORIGIN_PINNED,
			.role = (g->flags & EP_NODE_F_OVERFLOW) ? EP_ROLE_CLOUD : EP_ROLE_WORKER,
			.encap = !!(g->flags & EP_NODE_F_ENCAP),
			.manual_drain = !!(g->flags & EP_NODE_F_MANUAL),
			.mac_set = true,
			.ifindex = g->ifindex,
			.ip4 = g->ip4,
			.port = g->port ?: EP_DEFAULT_PORT,
			.since_ns = now,
			/* Alive as of now (since_ns): its next report confirms it. Its load
			 * keeps its age, so XDP trusts it no longer than before. A node
			 * that was dead stays drained until it reports. */
			.dead = (g->flags & EP_NODE_F_DRAINED) && !(g->flags & EP_NODE_F_MANUAL),
			.last_report_ns = g->updated_ns,
		};
		if (id >= r->top)
			r->top = id + 1;
		snprintf(n->name, sizeof(n->name), "node%u", id);
		memcpy(n->mac, g->mac, 6);
		memcpy(n->ip6, g->ip6, 16);
		n->load.cpu_pct_x100 = g->cpu_pct_x100;
		n->load.queue_depth = g->queue_depth;
		n->load.inflight = g->inflight;
		n->load.p99_us = g->p99_us;
		n->load.rate = g->rate;
		n->load.mem_free_kib = g->mem_free_kib;
		n->load.capacity = g->capacity;
	}
	changed(r);
}
