// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_classifier - the edgeplane XDP program at an edge node's NIC.
 *
 * Recognises offload tasks (UDP to the edgeplane port), drops invalid ones with a counted
 * reason, holds valid ones to their session key (lib/auth.h) or their source prefix's rate
 * limit (lib/ratelimit.h), hands those it admits to the AF_XDP socket of the receiving
 * queue, and passes everything else to the kernel untouched. See docs/protocol.md for the
 * rules.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "ep_shared.h"
#include "lib/auth.h"
#include "lib/fib.h"
#include "lib/pin.h"
#include "lib/ratelimit.h"
#include "lib/stats.h"
#include "lib/task.h"

/* Load-time settings (set through the skeleton; ip/bpftool loads get these defaults). */
const volatile __u16 ep_default_port = EP_DEFAULT_PORT;
const volatile __u8 ep_debug = 0;

/* Runtime settings; key 0. See struct ep_config. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_config);
	__uint(pinning, EP_PINNING);
} ep_cfg SEC(".maps");

/*
 * The XSKMAP's name and key. The runtime's own AF_XDP backend fills ep_xsks at
 * EP_XSK_KEY(rx queue, slot). DPDK's net_af_xdp PMD loads a program from an ELF file and
 * fills the map named xsks_map with one socket per queue, keyed by queue:
 * ep_classifier_dpdk.bpf.c builds this same program that way, with EP_XSKMAP_DPDK.
 */
#ifdef EP_XSKMAP_DPDK
#define EP_XSKMAP		   xsks_map
#define EP_XSKMAP_KEY(queue, slot) (queue)
#else
#define EP_XSKMAP		   ep_xsks
#define EP_XSKMAP_KEY(queue, slot) EP_XSK_KEY(queue, slot)
#endif

/* AF_XDP sockets, keyed EP_XSKMAP_KEY(rx queue, slot). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, EP_XSKMAP_SIZE);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, EP_PINNING);
} EP_XSKMAP SEC(".maps");

/* The node's own and virtual addresses, and the gateways that may encapsulate: struct
 * ep_addr_key -> struct ep_addr_val, filled by the loader and the runtime. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EP_ADDRS_MAX);
	__type(key, struct ep_addr_key);
	__type(value, struct ep_addr_val);
	__uint(pinning, EP_PINNING);
} ep_addrs SEC(".maps");

/* Tenants allowed on this node, consulted when EP_CFG_F_TENANT_CHECK is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ep_tenant);
	__uint(pinning, EP_PINNING);
} ep_tenants SEC(".maps");

#define ep_dbg(fmt, ...)                                       \
	do {                                                   \
		if (ep_debug)                                  \
			bpf_printk("ep: " fmt, ##__VA_ARGS__); \
	} while (0)

/*
 * Strip a gateway's UDP encapsulation: the inner IP packet follows the outer UDP header;
 * keep the Ethernet addresses, drop the outer IP/UDP (and any VLAN tags). Returns 0.
 */
static __always_inline int ep_decap(struct xdp_md *ctx, const struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	/* Where the new Ethernet header goes: right before the inner IP header. A single
	 * upper bound (an underflow wraps above it), on the register used below. */
	__u32 noff = p->udp_off + 8 - sizeof(struct ethhdr);
	struct ethhdr *eth = data, *neth;
	__u8 *ip;

	if ((void *)(eth + 1) > end)
		return -1;
	barrier_var(noff);
	if (noff > EP_MAX_HDR_OFF)
		return -1;
	neth = data + noff;
	if ((void *)neth + sizeof(*neth) + 1 > end) /* the new header and the IP byte */
		return -1;
	ip = (__u8 *)neth + sizeof(*neth);
	neth->h_proto = (*ip >> 4) == 6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	__builtin_memmove(neth->h_source, eth->h_source, ETH_ALEN);
	__builtin_memmove(neth->h_dest, eth->h_dest, ETH_ALEN);
	return bpf_xdp_adjust_head(ctx, (int)noff);
}

/* Whether @addr (16-byte form) has one of the roles in @flags in ep_addrs. */
static __always_inline bool ep_addr_is(const __u8 *addr, __u32 flags)
{
	const struct ep_addr_val *v = bpf_map_lookup_elem(&ep_addrs, addr);

	return v && (v->flags & flags);
}

/* Whether @a (16-byte form) is an IPv4-mapped address, the key of an IPv4 one. */
static __always_inline bool ep_addr_v4mapped(const __u8 *a)
{
	return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9]) &&
	       a[10] == 0xff && a[11] == 0xff;
}

/*
 * A task must be addressed to this node: one of its addresses, or a virtual address it
 * serves (DSR behind a gateway). Anything else to the port is someone else's (routed
 * through this host, say): the kernel decides, as for any packet not ours. Returns 0 or
 * -@why.
 */
static __always_inline int ep_check_dest(struct xdp_md *ctx, const struct ep_config *cfg,
					 const struct ep_task_pkt *p, __u32 why)
{
	__u8 dst[16];

	if (cfg->flags & EP_CFG_F_ANY_DEST)
		return 0;
	if (ep_task_addrs(ctx, p, NULL, dst))
		return -EP_STAT_PASS_UNPARSED;
	/* IPv6 to an IPv4-mapped address (which no router forwards) is not to our IPv4
	 * address, whose key it would share. */
	if (p->l3.ipv6 && ep_addr_v4mapped(dst))
		return -(int)why;
	return ep_addr_is(dst, EP_ADDR_F_DEST) ? 0 : -(int)why;
}

/*
 * Walk the packet and validate the offload header. A gateway's encapsulation (only when
 * encap_port is set) is accepted from a configured gateway only, and taken off; the task
 * inside must then be for this node too. Returns 0 (EP_STAT_REDIRECT_XSK) for a valid
 * server-bound message, with *prio its priority and p describing the task, or -EP_STAT_*
 * for every other outcome.
 */
static __always_inline int ep_classify_pkt(struct xdp_md *ctx, const struct ep_config *cfg,
					   struct ep_task_pkt *p, __u8 *prio)
{
	__u32 max_len = cfg->max_task_len ?: EP_MAX_TASK_LEN;
	__u16 port = cfg->udp_port ?: ep_default_port;
	struct ep_hdr *h;
	__u8 src[16];
	int err;

	err = ep_task_parse_l4(ctx, port, cfg->encap_port, p);
	if (err == -EP_STAT_DECAP) {
		/* The outer packet: to us, from a gateway we were told of. Without that
		 * check, anyone could have us answer anyone from any address. */
		err = ep_check_dest(ctx, cfg, p, EP_STAT_PASS_NOT_LOCAL);
		if (err)
			return err;
		if (ep_task_addrs(ctx, p, src, NULL))
			return -EP_STAT_PASS_UNPARSED;
		/* An IPv6 outer source must be an IPv6 gateway: an IPv4-mapped one would
		 * pass for the IPv4 gateway whose key it shares. */
		if (!ep_addr_is(src, EP_ADDR_F_GATEWAY) || (p->l3.ipv6 && ep_addr_v4mapped(src)))
			return -EP_STAT_DROP_ENCAP_SOURCE;
		err = ep_task_encap_check(ctx, p);
		if (err)
			return err;
		ep_count(ctx, EP_STAT_DECAP);
		if (ep_decap(ctx, p))
			return -EP_STAT_PASS_UNPARSED;
		*p = (struct ep_task_pkt){};
		err = ep_task_parse_l4(ctx, port, 0, p); /* no encapsulation twice */
		if (!err)
			err = ep_check_dest(ctx, cfg, p, EP_STAT_DROP_ENCAP_DEST);
	} else if (!err) {
		err = ep_check_dest(ctx, cfg, p, EP_STAT_PASS_NOT_LOCAL);
	}
	if (!err)
		err = ep_task_parse_hdr(ctx, max_len, p);
	if (err)
		return err;
	h = ep_task_hdr(ctx, p);
	if (!h)
		return -EP_STAT_DROP_HDR_SHORT;
	if (cfg->flags & EP_CFG_F_TENANT_CHECK) {
		__u32 tenant = bpf_ntohl(h->tenant_id);

		if (!bpf_map_lookup_elem(&ep_tenants, &tenant))
			return -EP_STAT_DROP_TENANT;
	}
	*prio = h->priority;
	return 0;
}

/*
 * What a valid task must get past before it reaches a socket, by the node's auth mode
 * (lib/auth.h): in modes required and optional, an AUTH datagram its key (existing, not
 * revoked nor expired, the header's tenant, the role's type, priority and size, the key's
 * bytes/s and, for fragment 0, its tasks/s), and in mode required, nothing without AUTH;
 * everything else, its source prefix's rate limit (lib/ratelimit.h). A datagram its key
 * admitted is not charged to its prefix too: lib/auth.h says why. Returns 0, with *authed
 * set if a key admitted it, or -EP_STAT_*. The clock is the coarse one (the last tick's
 * time, 1 to 10 ms old): buckets hold a second's worth of datagrams and keys live for
 * minutes, and the fine clock costs some 20 ns a packet under a hypervisor, as much as
 * the rest of the limit.
 */
static __always_inline int ep_admit(struct xdp_md *ctx, const struct ep_task_pkt *p, bool *authed)
{
	__u64 now = bpf_ktime_get_coarse_ns(), bytes = ctx->data_end - ctx->data;
	__u8 mode = ep_auth_mode();
	struct ep_rl_state *st;
	__u8 src[16];

	if (mode != EP_AUTH_MODE_OFF) {
		struct ep_hdr *h = ep_task_hdr(ctx, p);
		struct ep_auth a;
		int err;

		if (!h)
			return -EP_STAT_DROP_HDR_SHORT;
		if (h->flags & EP_F_AUTH) {
			err = ep_auth_check(h, bytes, now, &a);
			/* A task starts with its fragment 0; PING, CANCEL and RESULT_ACK
			 * are none (a lossy link brings many RESULT_ACKs). */
			if (!err && h->kind == EP_KIND_REQUEST && !h->frag_index)
				err = ep_auth_task(&a, now);
			*authed = !err;
			if (err || !ep_auth_unmetered(&a))
				return err;
			/* a key without a rate: its prefix's limits, below */
		} else if (mode == EP_AUTH_MODE_REQUIRED) {
			return -EP_STAT_DROP_AUTH_MISSING;
		}
	}
	if (ep_task_addrs(ctx, p, src, NULL))
		return -EP_STAT_PASS_UNPARSED;
	return ep_rl_admit(src, p->l3.ipv6, bytes, now, &st);
}

/*
 * The way back. The runtime answers a task by swapping its Ethernet addresses, which is
 * right when the task came from the client (or the client's router), but not when a
 * gateway forwarded it (DSR or encapsulation): its source MAC is then the gateway's. Ask
 * the FIB and neighbour table for the reply's next hop and write it into the frame, so
 * the swap gives the right one. Without an answer (no neighbour entry for the client,
 * forwarding off on the interface) the frame is left as it is and counted: the reply
 * then goes to the gateway, whose XDP relays it (docs/loadbalancing.md). Untagged frames
 * only: a VLAN's FIB is another device's.
 */
static __always_inline void ep_reply_route(struct xdp_md *ctx, const struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	long rc;

	if (p->l3_off != sizeof(*eth) ||
	    ep_fib_init(ctx, &fib, eth, end, p->l3.ipv6, true /* the way back */) < 0)
		return;
	/* OUTPUT: the lookup a local sender makes. (The helper still answers only where
	 * forwarding is on for the interface: FWD_DISABLED otherwise.) */
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	ep_dbg("reply route: fib %ld, ifindex %u", rc, fib.ifindex);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && fib.ifindex == ctx->ingress_ifindex) {
		__builtin_memcpy(eth->h_source, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, fib.smac, ETH_ALEN);
	} else {
		/* No neighbour entry yet, or forwarding is off on this interface (the FIB
		 * helper needs it): the reply goes back through the gateway. */
		ep_count(ctx, EP_STAT_REPLY_NO_ROUTE);
	}
}

/*
 * The queue's socket for this priority, falling back to slot 0, then to the stack. A
 * priority above the ceiling (max_priority) is steered as the ceiling: a client cannot
 * claim a high priority's socket (the runtime lowers it the same way). A task its key
 * admitted (@authed) has had its priority checked against its role's cap instead.
 */
static __always_inline int ep_xsk_redirect(struct xdp_md *ctx, const struct ep_config *cfg,
					   __u8 prio, bool authed, __u32 *stat)
{
	__u32 queue = ctx->rx_queue_index, slot, key;
	__u8 ceiling = authed ? EP_PRIO_MAX : cfg->max_priority ?: EP_PRIO_DEFAULT;
	int act;

	*stat = EP_STAT_PASS_NO_SOCKET;
	if (queue >= EP_MAX_QUEUES)
		return XDP_PASS;
	if (prio > ceiling)
		prio = ceiling;
	slot = cfg->prio_slot[prio & 7] & (EP_XSK_SLOTS - 1);
	key = EP_XSKMAP_KEY(queue, slot);
	if (slot && !bpf_map_lookup_elem(&EP_XSKMAP, &key))
		key = EP_XSKMAP_KEY(queue, 0);
	act = bpf_redirect_map(&EP_XSKMAP, key, XDP_PASS);
	if (act == XDP_REDIRECT)
		*stat = EP_STAT_REDIRECT_XSK;
	return act;
}

SEC("xdp")
int ep_classify(struct xdp_md *ctx)
{
	struct ep_task_pkt p = {};
	struct ep_config *cfg;
	__u32 zero = 0, stat;
	bool authed = false;
	__u8 prio = 0;
	int r, act;

	cfg = bpf_map_lookup_elem(&ep_cfg, &zero);
	if (!cfg) /* an array map always has key 0; for the verifier */
		return XDP_PASS;

	r = ep_classify_pkt(ctx, cfg, &p, &prio);
	if (!r)
		r = ep_admit(ctx, &p, &authed);
	if (r) {
		ep_dbg("verdict %d", -r);
		return ep_verdict(ctx, -r, XDP_PASS);
	}
	if (cfg->flags & EP_CFG_F_REPLY_ROUTE)
		ep_reply_route(ctx, &p);
	act = ep_xsk_redirect(ctx, cfg, prio, authed, &stat);
	return ep_verdict(ctx, stat, act);
}

/* libxdp multi-program dispatcher: run early, and let the next program see what we pass. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(ep_classify);

char LICENSE[] SEC("license") = "Dual BSD/GPL";
