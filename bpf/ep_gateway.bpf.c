// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_gateway - the edgeplane gateway: tasks sent to the gateway's address are spread over
 * worker nodes inside XDP, by the load the workers report (kept in maps by the
 * controller, control/), and forwarded with L2 direct server return or in UDP
 * encapsulation. Workers answer clients directly.
 *
 * Per valid task: a later fragment follows its task (affinity map); otherwise the policy
 * picks a node: P2C (default: the less loaded of two capacity-weighted choices, load
 * counting the tasks sent since the node's last report), SEED (the founding article's
 * rule) or HASH (load-blind). Loads older than stale_ns are not trusted: capacity weights
 * decide. With no eligible node, the task's priority decides: reject with an OVERLOADED
 * reply built here, send to the cloud node, or run locally (XDP_PASS to the next program,
 * the gateway's own classifier and runtime).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "ep_shared.h"
#include "lib/pin.h"
/* Every map of the gateway is pinned, the rate limit's buckets too (lib/ratelimit.h). */
#define EP_RL_STATE_PINNING EP_PINNING
#include "lib/auth.h"
#include "lib/csum.h"
#include "lib/fib.h"
#include "lib/hash.h"
#include "lib/ratelimit.h"
#include "lib/stats.h"
#include "lib/task.h"

const volatile __u8 ep_gw_debug = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_gw_cfg);
	__uint(pinning, EP_PINNING);
} ep_gw_cfg SEC(".maps");

/* Two halves; ep_gw_cfg.active says which one XDP reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * EP_GW_MAX_NODES);
	__type(key, __u32);
	__type(value, struct ep_gw_node);
	__uint(pinning, EP_PINNING);
} ep_gw_nodes SEC(".maps");

/* Capacity-weighted consistent hash table of node ids, two halves likewise. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * EP_GW_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, EP_PINNING);
} ep_gw_table SEC(".maps");

/* Tasks sent to each node since its last report (the controller zeroes on a report). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EP_GW_MAX_NODES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, EP_PINNING);
} ep_gw_sent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ep_gw_flow_key);
	__type(value, __u32);
	__uint(pinning, EP_PINNING);
} ep_gw_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EP_GW_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, EP_PINNING);
} ep_gw_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EP_GW_MAX_NODES);
	__type(key, __u32);
	__type(value, struct ep_gw_node_stats);
	__uint(pinning, EP_PINNING);
} ep_gw_node_stats SEC(".maps");

/* Whose replies are relayed: struct ep_gw_relay_key -> struct ep_gw_relay, per half.
 * Room for every node (some 50 000 entries) but allocated as written: a few per node. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EP_GW_RELAY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ep_gw_relay_key);
	__type(value, struct ep_gw_relay);
	__uint(pinning, EP_PINNING);
} ep_gw_relay SEC(".maps");

/* Egress interfaces other than the ingress one, for nodes with an ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, EP_PINNING);
} ep_gw_devs SEC(".maps");

/* ep_csum_xdp()'s scratch buffer (lib/csum.h): per packet, so not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_csum_buf);
} ep_gw_csum_buf SEC(".maps");

#define ep_gw_dbg(fmt, ...)                                       \
	do {                                                      \
		if (ep_gw_debug)                                  \
			bpf_printk("ep-gw: " fmt, ##__VA_ARGS__); \
	} while (0)

static __always_inline void gw_count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&ep_gw_stats, &stat);

	if (c)
		(*c)++;
}

/* What the gateway needs of a task, beyond where its headers are. */
struct task {
	struct ep_task_pkt p;
	__u32 active; /* the half of the maps this frame uses, read once */
	__u8 prio, multi, first;
	__u8 authed; /* its key admitted it (lib/auth.h): known by key */
	__u32 size_hint_kib;
	__u32 l3_len; /* the IP datagram's length */
	struct ep_gw_flow_key key;
	__u64 hash;
};

static __always_inline const struct ep_gw_node *node_at(__u32 active, __u32 id)
{
	__u32 k = active * EP_GW_MAX_NODES + (id & (EP_GW_MAX_NODES - 1));

	return bpf_map_lookup_elem(&ep_gw_nodes, &k);
}

/* The slot mask of the active half's table: 2^bits - 1, bits as the controller wrote
 * them for that half (an unwritten 0, or anything out of range: the smallest size). */
static __always_inline __u32 table_mask(const struct ep_gw_cfg *cfg, __u32 active)
{
	__u32 bits = cfg->table_bits[active & 1];

	if (bits < EP_GW_TABLE_MIN_BITS || bits > EP_GW_TABLE_MAX_BITS)
		bits = EP_GW_TABLE_MIN_BITS;
	return (1u << bits) - 1;
}

static __always_inline __u32 table_at(__u32 active, __u32 mask, __u64 h)
{
	__u32 k = active * EP_GW_TABLE_SIZE + ((__u32)h & mask);
	__u32 *id = bpf_map_lookup_elem(&ep_gw_table, &k);

	return id ? *id : 0;
}

static __always_inline bool usable(const struct ep_gw_node *n)
{
	return n &&
	       (n->flags & (EP_NODE_F_PRESENT | EP_NODE_F_DRAINED | EP_NODE_F_OVERFLOW)) ==
		       EP_NODE_F_PRESENT &&
	       n->capacity;
}

/* Its load is too old to trust (or it never reported). */
static __always_inline bool stale(const struct ep_gw_node *n, __u64 stale_ns, __u64 now)
{
	return !n->updated_ns || now - n->updated_ns > stale_ns;
}

/* What a task of some priority and size asks of a node's (trusted) load. */
struct need {
	__u32 cpu_max;	   /* cfg->cpu_max_x100[prio] */
	__u32 wait_max_ms; /* cfg->wait_max_ms[prio]; 0: any wait */
	__u32 size_hint_kib;
	__u8 mem_factor;
};

static __always_inline struct need need_of(const struct ep_gw_cfg *cfg, const struct task *t)
{
	return (struct need){ .cpu_max = cfg->cpu_max_x100[t->prio & 7],
			      .wait_max_ms = cfg->wait_max_ms[t->prio & 7],
			      .size_hint_kib = t->size_hint_kib,
			      .mem_factor = cfg->mem_factor };
}

/*
 * Eligible by its (trusted) load: CPU below the priority's cpu_max, the wait its reported
 * queue means (n->wait_ms, the controller's ep_queue_wait_ms()) below the priority's
 * wait_max, so that under a backlog the low priorities go elsewhere first, then are
 * refused, while the high ones still get through; and free memory for the task's size
 * hint. The arithmetic is the controller's, once per report: here, compares only (the
 * program is verified anew by every `edgectl table` probe).
 */
static __always_inline bool fits(const struct ep_gw_node *n, const struct need *d)
{
	if (n->cpu_pct_x100 >= d->cpu_max)
		return false;
	if (d->wait_max_ms && n->wait_ms >= d->wait_max_ms)
		return false;
	return !d->size_hint_kib || n->mem_free_kib > (__u64)d->mem_factor * d->size_hint_kib;
}

/*
 * Expected queueing delay, in arbitrary units: the backlog a node has per unit of
 * capacity. What this gateway has sent it since its last report (so the tasks between two
 * reports spread out: herding is what a rule blind to them does) and what it reported
 * running (or being reassembled), less what it has answered since at its reported rate (a
 * node that keeps up works them off; a stalled node's stay); plus what it reported
 * waiting (queued, or in its RX ring) if that is a queue (ep_queue_significant(): two
 * tasks or more, and more than the node answers in 5 ms; less is noise, worked off like
 * running tasks), which is not worked off: a node reports again within a few ms when its
 * queue forms, doubles or halves (an event report), and a queue that
 * others keep feeding (clients that reach the node without this gateway) does not shrink
 * at the node's rate. Untrusted (stale) loads count only the sent tasks. Lower is better;
 * nodes without a backlog tie, and the tie goes to the first choice, so idle nodes share
 * by capacity.
 */
static __always_inline __u64 score(const struct ep_gw_node *n, __u32 id, bool trust, __u64 now)
{
	__u64 *sent = bpf_map_lookup_elem(&ep_gw_sent, &id);
	__u64 load = sent ? *sent : 0, done, waiting;

	if (trust) {
		waiting = n->queue_depth < n->inflight ? n->queue_depth : n->inflight;
		/* A queue, or 0: noise, worked off below with the running tasks. */
		waiting = ep_queue_significant(waiting, n->rate);
		load += n->inflight - waiting;
		done = now > n->updated_ns ? (__u64)n->rate * (now - n->updated_ns) / 1000000000
					   : 0;
		load = (load > done ? load - done : 0) + waiting;
	}
	return load * 1000000 / n->capacity;
}

/*
 * The state of a scan over node ids, run with bpf_loop (verified once, not per node):
 * ids start, start + 1, ... for count ids, wrapping from nnodes - 1 back to 1.
 */
struct scan {
	__u64 now, stale_ns, best_score, best_mem;
	__u32 active, nnodes, best, start, count;
	struct need need;
	__u8 seed;
};

static long scan_one(__u32 i, void *arg)
{
	struct scan *s = arg;
	__u32 id = s->start + i;
	const struct ep_gw_node *n;
	bool trust;

	if (i >= s->count || s->nnodes < 2)
		return 1; /* stop */
	if (id >= s->nnodes)
		id -= s->nnodes - 1;
	n = node_at(s->active, id);
	if (!usable(n))
		return 0;
	trust = !stale(n, s->stale_ns, s->now);
	if (trust && !fits(n, &s->need))
		return 0;
	if (s->seed) { /* the article: most free memory (untrusted loads come last) */
		__u64 mem = trust ? n->mem_free_kib + 1 : 0;

		if (!s->best || mem > s->best_mem) {
			s->best = id;
			s->best_mem = mem;
		}
	} else {
		__u64 sc = score(n, id, trust, s->now);

		if (sc < s->best_score) {
			s->best = id;
			s->best_score = sc;
		}
	}
	return 0;
}

/*
 * Best of the usable nodes. SEED: of all of them, a scan that grows with the node count
 * (up to EP_GW_MAX_NODES - 1 ids). P2C and HASH's fallback: of at most EP_GW_SCAN_MAX ids,
 * all of them in a cluster that small, else a window of that many from an id the task's
 * hash picks, so that the per-packet cost does not grow with the node count. Returns a
 * node id or 0.
 */
static __always_inline __u32 scan_best(const struct ep_gw_cfg *cfg, const struct task *t,
				       __u32 active, __u64 now, bool seed)
{
	__u32 nnodes = cfg->nnodes > EP_GW_MAX_NODES ? EP_GW_MAX_NODES : cfg->nnodes;
	struct scan s = {
		.now = now,
		.stale_ns = cfg->stale_ns,
		.best_score = ~0ULL,
		.active = active,
		.nnodes = nnodes,
		.start = 1,
		.count = nnodes > 1 ? nnodes - 1 : 0,
		.need = need_of(cfg, t),
		.seed = seed,
	};

	if (!seed && s.count > EP_GW_SCAN_MAX) {
		s.start = 1 + (__u32)((t->hash >> 8) % s.count);
		s.count = EP_GW_SCAN_MAX;
	}

	if (seed) { /* the article's rule: 80 % CPU, whatever the priority, no queue */
		s.need.cpu_max = 8000;
		s.need.wait_max_ms = 0;
	}

	bpf_loop(s.count, scan_one, &s, 0);
	return s.best;
}

/* Choose a node for a new task. Returns a node id, or 0 if none is eligible. */
static __always_inline __u32 choose(const struct ep_gw_cfg *cfg, struct task *t, __u64 now)
{
	__u32 active = t->active, a, b, mask;
	const struct ep_gw_node *na, *nb;
	struct need need;
	bool ta, tb, ea, eb;

	if (cfg->policy == EP_GW_POLICY_SEED) {
		gw_count(EP_GW_STAT_PICK_SEED);
		return scan_best(cfg, t, active, now, true);
	}
	/* Two choices from the capacity-weighted table: slots from bits 0.., 21.. and (if
	 * the second named the first's node) 42.. of the hash, 20 bits or more each. */
	mask = table_mask(cfg, active);
	a = table_at(active, mask, t->hash);
	b = table_at(active, mask, t->hash >> EP_GW_CHOICE_SHIFT);
	if (b == a)
		b = table_at(active, mask, t->hash >> (2 * EP_GW_CHOICE_SHIFT));
	na = node_at(active, a);
	nb = node_at(active, b);
	if (cfg->policy == EP_GW_POLICY_HASH) {
		gw_count(EP_GW_STAT_PICK_HASH);
		if (a && usable(na))
			return a;
		return scan_best(cfg, t, active, now, false);
	}
	ta = usable(na) && !stale(na, cfg->stale_ns, now);
	tb = usable(nb) && !stale(nb, cfg->stale_ns, now);
	if (a && b && usable(na) && usable(nb) && !ta && !tb) {
		/* The controller has gone quiet: capacity weights (the table) decide. */
		gw_count(EP_GW_STAT_PICK_STALE);
		return a;
	}
	if (a && a == b && ta) {
		/* All three draws named one node (with few nodes, 1 in k^2 of the tasks): its
		 * rival is the best of all, or a busy node would take these tasks blindly. */
		b = scan_best(cfg, t, active, now, false);
		nb = node_at(active, b);
		tb = usable(nb) && !stale(nb, cfg->stale_ns, now);
	}
	need = need_of(cfg, t);
	ea = a && ta && fits(na, &need);
	eb = b && tb && fits(nb, &need);
	if (ea && eb) {
		gw_count(EP_GW_STAT_PICK_P2C);
		return score(na, a, true, now) <= score(nb, b, true, now) ? a : b;
	}
	if (ea || eb) {
		gw_count(EP_GW_STAT_PICK_P2C);
		return ea ? a : b;
	}
	gw_count(EP_GW_STAT_PICK_SCAN);
	return scan_best(cfg, t, active, now, false);
}

/* --- forwarding ----------------------------------------------------------------------- */

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

static __always_inline void node_count(__u32 id, bool first, __u64 bytes)
{
	struct ep_gw_node_stats *st = bpf_map_lookup_elem(&ep_gw_node_stats, &id);
	__u64 *sent;

	if (st) {
		st->packets++;
		st->bytes += bytes;
		st->tasks += first;
	}
	if (first && (sent = bpf_map_lookup_elem(&ep_gw_sent, &id)))
		__sync_fetch_and_add(sent, 1);
}

/*
 * Where a forwarded frame leaves: back out of the ingress interface, or redirected to the
 * node's. Decided before the frame is rewritten: a node whose interface is missing from
 * ep_gw_devs is a counted error (-EP_GW_STAT_TX_ERROR), not XDP_ABORTED counted as
 * forwarded, and the cloud overflow path can still answer the untouched frame.
 */
static __always_inline int egress(struct xdp_md *ctx, const struct ep_gw_node *n)
{
	if (!n->ifindex || n->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect_map(&ep_gw_devs, n->ifindex, 0) == XDP_REDIRECT ? XDP_REDIRECT
									    : -EP_GW_STAT_TX_ERROR;
}

/* L2 direct server return: the worker's MAC, ours as the source, out again. Returns an
 * XDP action or -EP_GW_STAT_TX_ERROR. */
static __always_inline int fwd_dsr(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				   const struct ep_gw_node *n)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int act;

	if ((void *)(eth + 1) > end)
		return -EP_GW_STAT_TX_ERROR;
	act = egress(ctx, n);
	if (act < 0)
		return act;
	__builtin_memcpy(eth->h_dest, n->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->gw_mac, ETH_ALEN);
	gw_count(EP_GW_STAT_FWD_DSR);
	return act;
}

/*
 * Room for @outer bytes of outer IP and UDP headers between a new Ethernet header and the
 * task's IP datagram (VLAN tags are not carried), once the frame is known to fit and its
 * way out is known (egress()). Returns the XDP action to leave with, or
 * -EP_GW_STAT_TX_ERROR before anything of the frame has changed.
 */
static __always_inline int encap_room(struct xdp_md *ctx, const struct ep_gw_node *n,
				      const struct task *t, __u32 outer)
{
	__u32 vlan = t->p.l3_off - sizeof(struct ethhdr);
	int act;

	if (vlan > 8 || t->l3_len > 0xffffu - outer)
		return -EP_GW_STAT_TX_ERROR;
	act = egress(ctx, n);
	if (act < 0)
		return act;
	ep_bound(vlan, 15);
	if (bpf_xdp_adjust_head(ctx, (int)vlan - (int)outer))
		return -EP_GW_STAT_TX_ERROR;
	return act;
}

/* The outer Ethernet header: to the node's next hop, from us. */
static __always_inline void encap_eth(struct ethhdr *eth, const struct ep_gw_cfg *cfg,
				      const struct ep_gw_node *n, __u16 proto)
{
	__builtin_memcpy(eth->h_dest, n->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->gw_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(proto);
}

/* The outer UDP header: source port from the task hash (receivers' RSS, the underlay's
 * ECMP), to encap_port; the checksum is the caller's. */
static __always_inline void encap_udp(struct udphdr *udp, const struct ep_gw_cfg *cfg,
				      const struct task *t)
{
	udp->source = bpf_htons(0xc000 | (__u16)(t->hash & 0x3fff));
	udp->dest = bpf_htons(cfg->encap_port);
	udp->len = bpf_htons((__u16)(sizeof(*udp) + t->l3_len));
	udp->check = 0;
}

/*
 * UDP encapsulation for routed workers over IPv4: Ethernet (to the next hop) + IPv4 (us
 * -> the worker) + UDP (to encap_port) + the original IP datagram. The worker's
 * classifier takes it off. Returns an XDP action or -EP_GW_STAT_TX_ERROR.
 */
static __always_inline int fwd_encap(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				     const struct ep_gw_node *n, const struct task *t)
{
	const __u32 outer = sizeof(struct iphdr) + sizeof(struct udphdr);
	void *data, *end;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	int act;

	if (!n->ip4)
		return -EP_GW_STAT_TX_ERROR;
	act = encap_room(ctx, n, t, outer);
	if (act < 0)
		return act;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return -EP_GW_STAT_TX_ERROR;
	encap_eth(eth, cfg, n, ETH_P_IP);
	*ip = (struct iphdr){
		.version = 4,
		.ihl = 5,
		.ttl = 64,
		.protocol = IPPROTO_UDP,
		.tot_len = bpf_htons((__u16)(outer + t->l3_len)),
		.frag_off = bpf_htons(0x4000),
		.saddr = cfg->gw_ip4,
		.daddr = n->ip4,
	};
	ip->check = ep_csum_fold32(ep_csum_words(ip, end, 10, 10, 0));
	encap_udp(udp, cfg, t); /* IPv4: checksum 0, optional; the inner one covers the task */
	gw_count(EP_GW_STAT_FWD_ENCAP);
	return act;
}

/*
 * The ones' complement sum of @len bytes of the frame at @off, added to @seed: a global
 * function, so the verifier checks its chunk loop once, not at every inlined forward().
 * Returns the 32-bit sum (as a non-negative long), or -1.
 */
__noinline long ep_gw_csum(struct xdp_md *ctx, __u32 off, __u32 len, __u32 seed)
{
	__u32 zero = 0, sum = seed;
	struct ep_csum_buf *buf = bpf_map_lookup_elem(&ep_gw_csum_buf, &zero);

	if (!buf || ep_csum_xdp(ctx, off, len, buf, &sum))
		return -1;
	return sum;
}

static __always_inline bool zero16(const __u8 *a)
{
	__u32 w[4];

	__builtin_memcpy(w, a, 16);
	return !(w[0] | w[1] | w[2] | w[3]);
}

/*
 * The same over IPv6 (EP_NODE_F_ENCAP6): IPv6 from gw_ip6 to the node's ip6, hop limit
 * 64, the flow label from the task hash (so the underlay's ECMP spreads tasks, and keeps
 * a task's fragments on one path), and the UDP checksum IPv6 requires (RFC 8200 8.1),
 * computed over the whole datagram. Returns an XDP action or -EP_GW_STAT_TX_ERROR.
 */
static __always_inline int fwd_encap6(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				      const struct ep_gw_node *n, const struct task *t)
{
	const __u32 outer = sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	__u32 flow = ((__u32)(t->hash >> 14) & 0xfffff) ?: 1, sum;
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	void *end;
	long r;
	int act;

	/* Checked before the frame changes: the checksum covers at most EP_CSUM_PKT_MAX. */
	if (zero16(n->ip6) || zero16(cfg->gw_ip6) || t->l3_len > EP_CSUM_PKT_MAX)
		return -EP_GW_STAT_TX_ERROR;
	act = encap_room(ctx, n, t, outer);
	if (act < 0)
		return act;
	ip6 = (void *)(long)ctx->data + sizeof(struct ethhdr);
	end = (void *)(long)ctx->data_end;
	udp = (void *)(ip6 + 1);
	if ((void *)(udp + 1) > end)
		return -EP_GW_STAT_TX_ERROR;
	encap_eth((void *)(long)ctx->data, cfg, n, ETH_P_IPV6);
	*(__be32 *)ip6 = bpf_htonl(0x60000000 | flow); /* version, class 0, flow label */
	ip6->payload_len = bpf_htons((__u16)(sizeof(*udp) + t->l3_len));
	ip6->nexthdr = IPPROTO_UDP;
	ip6->hop_limit = 64;
	__builtin_memcpy(&ip6->saddr, cfg->gw_ip6, 16);
	__builtin_memcpy(&ip6->daddr, n->ip6, 16);
	encap_udp(udp, cfg, t);
	/* Pseudo-header (addresses, length, next header), UDP header, then the datagram. */
	sum = ep_csum_words(&ip6->saddr, end, 16, 16, 0);
	sum += bpf_htons(IPPROTO_UDP) + udp->len;
	sum = ep_csum_words(udp, end, 4, 4, sum);
	r = ep_gw_csum(ctx, sizeof(struct ethhdr) + outer, t->l3_len, sum);
	/* Fresh packet pointers after the call, for the verifier. */
	udp = (void *)(long)ctx->data + sizeof(struct ethhdr) + sizeof(*ip6);
	if (r < 0 || (void *)(udp + 1) > (void *)(long)ctx->data_end)
		return -EP_GW_STAT_TX_ERROR;
	udp->check = ep_csum_fold32((__u32)r) ?: 0xffff;
	gw_count(EP_GW_STAT_FWD_ENCAP);
	return act;
}

/*
 * Send the task to node @id (DSR or encapsulated, as the node is) and count it there.
 * Returns an XDP action, or -EP_GW_STAT_* (the caller counts it and drops the frame):
 * DROP_LOOP for a task that comes from that very node, TX_ERROR where the frame could not
 * be rewritten or sent.
 */
static __always_inline int forward(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				   const struct task *t, __u32 id)
{
	const struct ep_gw_node *n = node_at(t->active, id);
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 bytes = ctx->data_end - ctx->data;
	struct ethhdr *eth = data;
	int act;

	if (!n || (void *)(eth + 1) > end)
		return -EP_GW_STAT_TX_ERROR;
	/* A task that comes from the node it would go to has been there: a worker whose
	 * runtime is gone, with forwarding on, routes the task back to our address. Sending
	 * it again would loop until the TTL ran out. */
	if (!(n->flags & EP_NODE_F_ENCAP) && mac_eq(eth->h_source, n->mac))
		return -EP_GW_STAT_DROP_LOOP;
	if (!(n->flags & EP_NODE_F_ENCAP))
		act = fwd_dsr(ctx, cfg, n);
	else if (n->flags & EP_NODE_F_ENCAP6)
		act = fwd_encap6(ctx, cfg, n, t);
	else
		act = fwd_encap(ctx, cfg, n, t);
	if (act >= 0)
		node_count(id, t->first, bytes);
	return act;
}

/*
 * Answer the task here with ERROR OVERLOADED, so the client backs off at once: the frame
 * becomes the reply (addresses and ports swapped, header rewritten, payload cut, lengths
 * and checksums fixed) and goes back out with XDP_TX. Returns XDP_TX, or
 * -EP_GW_STAT_TX_ERROR where the frame could not be rewritten.
 */
static __always_inline int reject(struct xdp_md *ctx, const struct task *t)
{
	__u32 l3 = t->p.l3_off, hoff = t->p.hdr_off;
	__u32 keep = hoff + sizeof(struct ep_hdr), len;
	struct ep_task_view v;
	struct ethhdr *eth;
	struct udphdr *udp;
	struct ep_hdr *h;
	void *end;
	__u8 mac[ETH_ALEN];
	__u16 port;
	__u32 sum;

	if (keep > EP_MAX_HDR_OFF + sizeof(struct ep_hdr))
		return -EP_GW_STAT_TX_ERROR;
	len = ctx->data_end - ctx->data;
	if (len > keep && bpf_xdp_adjust_tail(ctx, (int)keep - (int)len))
		return -EP_GW_STAT_TX_ERROR;
	if (ep_task_view(ctx, &t->p, &v))
		return -EP_GW_STAT_TX_ERROR;
	eth = v.eth;
	udp = v.udp;
	h = v.h;
	end = v.end;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(sizeof(*udp) + sizeof(*h));
	udp->check = 0;

	/* The header of an ERROR reply (docs/protocol.md): echo id, type, tenant, priority. */
	h->kind = EP_KIND_ERROR;
	h->flags = 0;
	h->payload_len = 0;
	h->status = bpf_htons(EP_ST_OVERLOADED);
	h->frag_index = 0;
	h->frag_count = bpf_htons(1);
	h->total_len = 0;
	h->frag_offset = 0;
	h->rsp.queue_us = 0;
	h->rsp.exec_us = 0;
	h->load_pct = 100;
	h->reply_mtu = 0;
	h->auth_key_id = 0;
	__builtin_memset(h->auth_tag, 0, sizeof(h->auth_tag));

	if (!t->p.l3.ipv6) {
		struct iphdr *ip = v.l3;
		__u32 a;

		if ((void *)(ip + 1) > end)
			return -EP_GW_STAT_TX_ERROR;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->ttl = 64;
		ip->tot_len = bpf_htons((__u16)(hoff + sizeof(*h) - l3));
		ip->check = 0;
		ip->check = ep_csum_fold32(ep_csum_words(ip, end, ip->ihl * 2u, 30, 0));
	} else {
		struct ipv6hdr *ip6 = v.l3;
		struct in6_addr a;

		if ((void *)(ip6 + 1) > end)
			return -EP_GW_STAT_TX_ERROR;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = 64;
		ip6->payload_len = bpf_htons((__u16)(hoff + sizeof(*h) - l3 - sizeof(*ip6)));
		/* IPv6 needs the UDP checksum: pseudo-header, then UDP header and ep header. */
		sum = ep_csum_words(&ip6->saddr, end, 16, 16, 0);
		sum += bpf_htons(IPPROTO_UDP) + bpf_htons(sizeof(*udp) + sizeof(*h));
		sum = ep_csum_words(udp, end, (sizeof(*udp) + sizeof(*h)) / 2,
				    (sizeof(*udp) + sizeof(*h)) / 2, sum);
		udp->check = ep_csum_fold32(sum) ?: 0xffff;
	}
	gw_count(EP_GW_STAT_OVF_REJECT);
	return XDP_TX;
}

/*
 * ep_gw_affinity values besides node ids: the task overflowed to the local stack (its other
 * fragments follow), or was rejected at the time in the low 24 bits (ms): its other
 * fragments, arriving within AFF_REJECT_MS, are dropped too, so no worker holds a part of a
 * task the client was told to send again. A retry, later, is placed afresh.
 */
#define AFF_LOCAL     0x40000000u
#define AFF_REJECT    0x80000000u
#define AFF_REJECT_MS 50

static __always_inline void remember(const struct task *t, __u32 v)
{
	if (t->multi || t->authed)
		bpf_map_update_elem(&ep_gw_affinity, &t->key, &v, BPF_ANY);
}

/* No node is eligible: the task's priority says where it goes (cfg->overflow). Returns an
 * XDP action or -EP_GW_STAT_TX_ERROR. */
static __always_inline int overflow(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				    const struct task *t, __u64 now)
{
	int act;

	switch (cfg->overflow[t->prio & 7]) {
	case EP_GW_OVF_CLOUD: {
		const struct ep_gw_node *n = node_at(t->active, cfg->overflow_node);

		if (cfg->overflow_node && n &&
		    (n->flags & (EP_NODE_F_PRESENT | EP_NODE_F_DRAINED)) == EP_NODE_F_PRESENT) {
			act = forward(ctx, cfg, t, cfg->overflow_node);
			if (act >= 0) {
				__u32 id = cfg->overflow_node;

				/* The task's other fragments follow it to the cloud. */
				remember(t, id);
				gw_count(EP_GW_STAT_OVF_CLOUD);
				return act;
			}
		}
		break;
	}
	case EP_GW_OVF_LOCAL:
		/* The next program behind libxdp's dispatcher (this node's classifier and
		 * runtime) takes it; without one, the kernel answers port unreachable. */
		gw_count(EP_GW_STAT_OVF_LOCAL);
		remember(t, AFF_LOCAL);
		return XDP_PASS;
	}
	remember(t, AFF_REJECT | (__u32)((now / 1000000) & 0xffffff));
	return reject(ctx, t);
}

/*
 * Whether a present node sent this reply (ep_gw_relay, the half @active): its source
 * address is a node's, and an L2 node's frame comes from that node's MAC; or it comes
 * from one of our own addresses (a DSR worker answers from the virtual address) and from
 * the MAC of a present L2 node. A routed node's MAC is its next hop's, which anyone
 * behind that router shares: only its own address counts for it.
 */
static __always_inline bool relay_allowed(const struct ethhdr *eth, const __u8 *src, __u32 active)
{
	struct ep_gw_relay_key k = { .kind = EP_GW_RELAY_NODE, .half = (__u8)active };
	const struct ep_gw_relay *r;

	__builtin_memcpy(k.addr, src, 16);
	r = bpf_map_lookup_elem(&ep_gw_relay, &k);
	if (r)
		return !r->check_mac || mac_eq(eth->h_source, r->mac);
	k.kind = EP_GW_RELAY_VIP;
	if (!bpf_map_lookup_elem(&ep_gw_relay, &k))
		return false;
	__builtin_memset(k.addr, 0, sizeof(k.addr));
	__builtin_memcpy(k.addr, eth->h_source, ETH_ALEN);
	k.kind = EP_GW_RELAY_MAC;
	return bpf_map_lookup_elem(&ep_gw_relay, &k) != NULL;
}

/*
 * A worker's reply that came back to us instead of going to the client (the worker's
 * kernel could not tell it the client's next hop: docs/loadbalancing.md): route it on to
 * the client like a router would (FIB and neighbour lookup, TTL or hop limit down by
 * one). Only datagrams from the task port that carry a client-bound v1 header, and only
 * from a present node (relay_allowed()): anyone else's is the kernel's to route or
 * filter, and counted. Returns an XDP action, or -1 to leave the frame to the kernel.
 */
static __always_inline int relay_reply(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				       const struct ep_task_pkt *p, __u32 active)
{
	struct bpf_fib_lookup fib = {};
	struct ep_task_view v;
	struct ethhdr *eth;
	void *end;
	__u8 src[16];
	long rc;

	if (!(cfg->flags & EP_GW_F_RELAY) || p->l3_off != sizeof(*eth) || ep_task_view(ctx, p, &v))
		return -1;
	if (v.udp->source != bpf_htons(cfg->port ?: EP_DEFAULT_PORT) ||
	    v.h->magic != bpf_htons(EP_MAGIC) || v.h->version != EP_VERSION ||
	    !EP_KIND_IS_CLIENT_BOUND(v.h->kind))
		return -1;
	if (ep_task_addrs(ctx, p, src, NULL) || !relay_allowed(v.eth, src, active)) {
		gw_count(EP_GW_STAT_RELAY_REFUSED);
		return -1;
	}
	/* Fresh packet pointers after the lookups, for the verifier. */
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (ep_fib_init(ctx, &fib, eth, end, p->l3.ipv6, false) <= 1) /* TTL or hop limit */
		return -1;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -1; /* the kernel decides (and resolves the neighbour) */
	/* Fresh packet pointers after the helper call, for the verifier. */
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (ep_ip_decrease_ttl(eth, end, p->l3.ipv6))
		return -1;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	gw_count(EP_GW_STAT_RELAY_REPLY);
	if (fib.ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib.ifindex, 0);
}

/*
 * The task's identity for affinity and its hash for the table: (client address, port,
 * task id), or for a task its key admitted (key id, task id), whichever source it came
 * from (struct ep_gw_flow_key says why).
 */
static __always_inline void flow_key(struct xdp_md *ctx, struct task *t, const struct ep_hdr *h)
{
	struct ep_task_view v;
	__u64 a, b;

	t->key.task_id = h->task_id;
	if (t->authed) {
		t->key.key_id = bpf_ntohs(h->auth_key_id);
		t->hash = ep_gw_flow_hash(0, 0, h->task_id ^ ((__u64)t->key.key_id << 32));
		return;
	}
	if (ep_task_view(ctx, &t->p, &v))
		return;
	if (t->p.l3.ipv6) {
		struct ipv6hdr *ip6 = v.l3;

		if ((void *)(ip6 + 1) > v.end)
			return;
		__builtin_memcpy(t->key.addr, &ip6->saddr, 16);
	} else {
		struct iphdr *ip = v.l3;

		if ((void *)(ip + 1) > v.end)
			return;
		t->key.addr[10] = t->key.addr[11] = 0xff;
		__builtin_memcpy(&t->key.addr[12], &ip->saddr, 4);
	}
	t->key.port = v.udp->source;
	__builtin_memcpy(&a, t->key.addr, 8);
	__builtin_memcpy(&b, &t->key.addr[8], 8);
	t->hash = ep_gw_flow_hash(a, b, h->task_id ^ t->key.port);
}

/*
 * Keys (lib/auth.h), as at a node: in modes required and optional an AUTH datagram is
 * judged by its key, and charged to it instead of its prefix; in mode required nothing
 * comes through without AUTH. Otherwise (or under a key with no rate of its own) the
 * client's prefix within its datagrams/s and bytes/s (lib/ratelimit.h; its state in *rl).
 * Sets t->authed. Returns 0 or -EP_STAT_*.
 */
static __always_inline int admit(struct xdp_md *ctx, struct task *t, const struct ep_hdr *h,
				 __u64 now, struct ep_auth *auth, struct ep_rl_state **rl)
{
	__u64 bytes = ctx->data_end - ctx->data;
	__u8 mode = ep_auth_mode(), src[16];
	int err;

	if (mode != EP_AUTH_MODE_OFF && (h->flags & EP_F_AUTH)) {
		err = ep_auth_check(h, bytes, now, auth);
		if (err)
			return err;
		t->authed = 1;
	} else if (mode == EP_AUTH_MODE_REQUIRED) {
		return -EP_STAT_DROP_AUTH_MISSING;
	}
	if (t->authed && !ep_auth_unmetered(auth))
		return 0;
	if (ep_task_addrs(ctx, &t->p, src, NULL))
		return -EP_STAT_PASS_UNPARSED;
	return ep_rl_admit(src, t->p.l3.ipv6, bytes, now, rl);
}

/* What the gateway needs of the task's header: its priority under the ceiling, whether it
 * has fragments, its size hint, its flow key and hash. */
static __always_inline void describe(struct xdp_md *ctx, const struct ep_gw_cfg *cfg,
				     struct task *t, const struct ep_hdr *h)
{
	/* Above the ceiling, a task counts as the ceiling's priority for cpu_max and
	 * overflow: the priority is the client's claim, not a right. A key's role has
	 * capped it already: that claim stands. */
	__u8 ceiling = t->authed ? EP_PRIO_MAX : cfg->max_priority ?: EP_PRIO_DEFAULT;

	t->prio = h->priority > ceiling ? ceiling : h->priority;
	t->multi = h->frag_count != bpf_htons(1);
	t->size_hint_kib = bpf_ntohl(h->req.size_hint_kib);
	t->l3_len = (__u32)((void *)t->p.l3.end - (void *)(long)ctx->data) - t->p.l3_off;
	flow_key(ctx, t, h);
}

/*
 * A later fragment follows its task, wherever the policy would send it now; so does every
 * datagram of an AUTH task, from whatever source (a replay lands where the replay window
 * knows it), and a RESULT_ACK or a CANCEL (@about_task): each is about the task, and only
 * the node that holds it can answer (docs/protocol.md 5.1, 7). Returns an XDP action to
 * take at once (its task went to the local stack, or was rejected moments ago), or -1 with
 * *id the task's node (0: no record, or its node is gone).
 */
static __always_inline int follow(struct task *t, bool about_task, __u64 now, __u32 *id)
{
	const struct ep_gw_node *n;
	__u32 *sticky;

	*id = 0;
	if (!t->multi && !t->authed && !about_task)
		return -1;
	sticky = bpf_map_lookup_elem(&ep_gw_affinity, &t->key);
	if (!sticky)
		return -1;
	if (*sticky & AFF_LOCAL) {
		gw_count(EP_GW_STAT_OVF_LOCAL);
		return XDP_PASS;
	}
	if (*sticky & AFF_REJECT) {
		if ((((__u32)(now / 1000000) - *sticky) & 0xffffff) < AFF_REJECT_MS) {
			gw_count(EP_GW_STAT_OVF_REJECT);
			return XDP_DROP; /* the client has its OVERLOADED reply */
		}
		return -1;
	}
	n = node_at(t->active, *sticky);
	if (n && (n->flags & EP_NODE_F_PRESENT)) { /* drained still finishes */
		*id = *sticky;
		t->first = 0;
		gw_count(EP_GW_STAT_PICK_AFFINITY);
	}
	return -1;
}

SEC("xdp")
int ep_gateway(struct xdp_md *ctx)
{
	struct ep_gw_cfg *cfg;
	struct task t = {};
	const struct ep_hdr *h;
	struct ep_rl_state *rl = NULL;
	struct ep_auth auth = {};
	__u32 zero = 0, id;
	bool about_task;
	__u64 now;
	int err, act;

	cfg = bpf_map_lookup_elem(&ep_gw_cfg, &zero);
	if (!cfg) /* an array map always has key 0; for the verifier */
		return XDP_PASS;
	/* Once: the controller may flip halves while this frame is on its way. */
	t.active = *(volatile __u8 *)&cfg->active & 1;
	err = ep_task_parse(ctx, cfg->port ?: EP_DEFAULT_PORT, 0, EP_MAX_TASK_LEN, &t.p);
	if (err == -EP_STAT_PASS_OTHER_PORT) {
		act = relay_reply(ctx, cfg, &t.p, t.active);
		if (act >= 0)
			return act;
	}
	if (err)
		return ep_verdict(ctx, -err, XDP_PASS);
	h = ep_task_hdr(ctx, &t.p);
	if (!h)
		return ep_verdict(ctx, EP_STAT_DROP_HDR_SHORT, XDP_PASS);
	now = bpf_ktime_get_ns();
	err = admit(ctx, &t, h, now, &auth, &rl);
	if (err)
		return ep_verdict(ctx, -err, XDP_PASS);
	describe(ctx, cfg, &t, h);

	about_task = h->kind == EP_KIND_RESULT_ACK || h->kind == EP_KIND_CANCEL;
	act = follow(&t, about_task, now, &id);
	if (act >= 0)
		return act;
	if (!id && about_task) {
		/* No record: its node died (the controller deleted the records pointing at
		 * it), the record left the LRU, or the task had one fragment and no AUTH.
		 * Any node answers with what it holds (a RESULT_ACK gets TASK_ACK count 0:
		 * send it all, and the client's task is then placed afresh; a CANCEL for a
		 * task a node does not hold gets nothing). Neither is a task: no task token,
		 * no sent count, no record. */
		id = choose(cfg, &t, now);
		if (!id) {
			gw_count(EP_GW_STAT_DROP_ACK_UNKNOWN);
			return XDP_DROP;
		}
	}
	if (!id) {
		/* A new task: within its prefix's (or its key's) new tasks/s, or nothing of it
		 * is kept (no affinity, no sent count), so a flood of first fragments can
		 * neither evict the affinity of real tasks nor skew the balancer's loads. */
		err = t.authed ? ep_auth_task(&auth, now) : ep_rl_task(rl, now);
		if (err)
			return ep_verdict(ctx, -err, XDP_PASS);
		id = choose(cfg, &t, now);
		t.first = 1;
		if (id)
			remember(&t, id);
	}
	act = id ? forward(ctx, cfg, &t, id) : overflow(ctx, cfg, &t, now);
	if (act < 0) { /* -EP_GW_STAT_*: counted here, the frame dropped */
		gw_count(-act);
		return XDP_DROP;
	}
	if (id)
		ep_gw_dbg("task to node %u", id);
	return act;
}

/* libxdp's dispatcher: run before the node's own classifier, which gets what we pass. */
struct {
	__uint(priority, 5);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(ep_gateway);

char LICENSE[] SEC("license") = "Dual BSD/GPL";
