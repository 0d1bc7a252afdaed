// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgeplane/log.h"
#include "registry.h"

void ep_reg_init(struct ep_registry *r, const struct ep_reg_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->opts = *o;
	r->table_version = 1;
	r->dirty = true;
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

	if (!valid_id(n->id) || (n->encap && !n->ip4) || (!n->encap && !n->mac_set &&
							 n->origin != EP_ORIGIN_CONFIG))
		return -EINVAL;
	slot = &r->nodes[n->id];
	if (slot->id)
		return -EEXIST;
	*slot = *n;
	if (!slot->name[0])
		snprintf(slot->name, sizeof(slot->name), "node%u", n->id);
	if (!slot->port)
		slot->port = EP_DEFAULT_PORT;
	slot->awaiting_report = r->opts.wait_for_report && n->role == EP_ROLE_WORKER &&
				!n->last_report_ns;
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

/* A report registers a node at the address it comes from, which its own claims must
 * match: a node cannot steer tasks to a third party by claiming its address. */
static bool sender_matches(const struct ep_load_report *rep, uint32_t src_ip4,
			   const uint8_t *src_ip6)
{
	static const uint8_t zero6[16];

	if (src_ip6)
		return !memcmp(rep->ip6, src_ip6, 16);
	return rep->ip4 == src_ip4 || (!rep->ip4 && memcmp(rep->ip6, zero6, 16));
}

enum ep_reg_report ep_reg_report(struct ep_registry *r, const struct ep_load_report *rep,
				 uint32_t src_ip4, const uint8_t *src_ip6, uint64_t now)
{
	uint32_t id = ntohl(rep->node_id), seq = ntohl(rep->seq), cap = ntohl(rep->capacity);
	enum ep_reg_report res = EP_REG_ACCEPTED;
	struct ep_reg_node *n;
	bool was_usable;

	r->reports++;
	if (!valid_id(id) || !cap || !rep->port || ntohl(rep->cpu_pct_x100) > 10000) {
		res = EP_REG_INVALID;
		goto rejected;
	}
	n = ep_reg_get(r, id);
	if (!n) {
		struct ep_reg_node fresh = {
			.id = id, .origin = EP_ORIGIN_REPORT, .mac_set = true,
			.ip4 = rep->ip4, .port = ntohs(rep->port), .last_report_ns = now,
		};

		if (!r->opts.allow_register) {
			res = EP_REG_UNKNOWN;
			goto rejected;
		}
		if (!sender_matches(rep, src_ip4, src_ip6)) {
			res = EP_REG_CONFLICT;
			goto rejected;
		}
		memcpy(fresh.mac, rep->mac, 6);
		memcpy(fresh.ip6, rep->ip6, 16);
		if (ep_reg_add(r, &fresh, now)) {
			res = EP_REG_INVALID;
			goto rejected;
		}
		n = &r->nodes[id];
		res = EP_REG_REGISTERED;
	} else if (n->origin == EP_ORIGIN_REPORT || n->origin == EP_ORIGIN_PINNED) {
		/* A dynamic node keeps its address; a new one needs the old to be deleted. */
		if (n->last_report_ns && !n->dead &&
		    (n->ip4 != rep->ip4 || memcmp(n->mac, rep->mac, 6) ||
		     n->port != ntohs(rep->port))) {
			n->rejected++;
			res = EP_REG_CONFLICT;
			goto rejected;
		}
		if (n->ip4 != rep->ip4 || memcmp(n->mac, rep->mac, 6) ||
		    n->port != ntohs(rep->port)) {
			if (!sender_matches(rep, src_ip4, src_ip6)) {
				n->rejected++;
				res = EP_REG_CONFLICT;
				goto rejected;
			}
			n->ip4 = rep->ip4;
			memcpy(n->ip6, rep->ip6, 16);
			memcpy(n->mac, rep->mac, 6);
			n->mac_set = true;
			n->port = ntohs(rep->port);
			changed(r);
		}
		n->origin = EP_ORIGIN_REPORT;
	} else if ((src_ip6 ? memcmp(n->ip6, (uint8_t[16]){ 0 }, 16) &&
				      memcmp(n->ip6, src_ip6, 16)
			    : n->ip4 && n->ip4 != src_ip4)) {
		/* A configured node's reports come from its configured address. */
		n->rejected++;
		res = EP_REG_CONFLICT;
		goto rejected;
	} else if (!n->mac_set && !n->encap) {
		/* A configured node without a MAC learns it from its own reports. */
		if (!sender_matches(rep, src_ip4, src_ip6) ||
		    (n->ip4 && n->ip4 != rep->ip4)) {
			n->rejected++;
			res = EP_REG_CONFLICT;
			goto rejected;
		}
		memcpy(n->mac, rep->mac, 6);
		n->mac_set = true;
		changed(r);
	}

	/* Order: a report older than the last is ignored, unless the node restarted
	 * (its sequence begins again at 1). */
	if (n->reports && (int32_t)(seq - n->load.seq) <= 0 && seq > 16) {
		n->stale++;
		return EP_REG_OLD;
	}
	if (n->reports && (int32_t)(seq - n->load.seq) > 1)
		n->lost += (uint32_t)(seq - n->load.seq - 1);

	was_usable = ep_reg_usable(n);
	n->load.seq = seq;
	n->load.cpu_pct_x100 = ntohl(rep->cpu_pct_x100);
	n->load.mem_free_kib = be64toh(rep->mem_free_kib);
	n->load.queue_depth = ntohl(rep->queue_depth);
	n->load.inflight = ntohl(rep->inflight);
	n->load.p99_us = ntohl(rep->p99_us);
	n->load.rate = ntohl(rep->rate);
	if (n->load.capacity != cap && !n->capacity_cfg) {
		n->load.capacity = cap;
		changed(r);
	}
	n->last_report_ns = now;
	n->reports++;
	n->reported_since_publish = true;
	n->awaiting_report = false;
	if (n->dead) {
		n->dead = false;
		n->since_ns = now;
		if (res == EP_REG_ACCEPTED)
			res = EP_REG_REVIVED;
	}
	if (ep_reg_usable(n) != was_usable)
		changed(r);
	r->dirty = true;
	return res;

rejected:
	r->reports_rejected++;
	return res;
}

int ep_reg_tick(struct ep_registry *r, uint64_t now)
{
	int n_changed = 0;

	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
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

	memset(nodes, 0, EP_GW_MAX_NODES * sizeof(*nodes));
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
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
		g->port = n->port;
		g->mem_free_kib = n->load.mem_free_kib;
		g->updated_ns = n->last_report_ns;
		if (ep_reg_usable(n))
			members[nm++] = (struct ep_table_member){ .id = id,
								  .capacity = g->capacity };
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
		if (n->id) {	/* configured: keep the operator's drain */
			n->manual_drain |= !!(g->flags & EP_NODE_F_MANUAL);
			continue;
		}
		*n = (struct ep_reg_node){
			.id = id, .origin = EP_ORIGIN_PINNED,
			.role = (g->flags & EP_NODE_F_OVERFLOW) ? EP_ROLE_CLOUD : EP_ROLE_WORKER,
			.encap = !!(g->flags & EP_NODE_F_ENCAP),
			.manual_drain = !!(g->flags & EP_NODE_F_MANUAL),
			.mac_set = true, .ifindex = g->ifindex, .ip4 = g->ip4,
			.port = g->port ?: EP_DEFAULT_PORT, .since_ns = now,
			/* Alive as of now (since_ns): its next report confirms it. Its load
			 * keeps its age, so XDP trusts it no longer than before. A node
			 * that was dead stays drained until it reports. */
			.dead = (g->flags & EP_NODE_F_DRAINED) && !(g->flags & EP_NODE_F_MANUAL),
			.last_report_ns = g->updated_ns,
		};
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
