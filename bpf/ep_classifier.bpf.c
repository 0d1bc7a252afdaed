// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_classifier - the edgeplane XDP program at an edge node's NIC.
 *
 * Recognises offload tasks (UDP to the edgeplane port), drops invalid ones with a counted
 * reason, hands valid server-bound messages to the AF_XDP socket of the receiving queue,
 * and passes everything else to the kernel untouched. See docs/protocol.md for the rules.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "ep_shared.h"
#include "ep_check.h"
#include "lib/parse.h"
#include "lib/stats.h"

/* Load-time settings (set through the skeleton; ip/bpftool loads get these defaults). */
const volatile __u16 ep_default_port = EP_DEFAULT_PORT;
const volatile __u8 ep_debug = 0;

/* Runtime settings; key 0. See struct ep_config. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_config);
} ep_cfg SEC(".maps");

/* AF_XDP sockets, keyed EP_XSK_KEY(rx queue, slot). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, EP_XSKMAP_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} ep_xsks SEC(".maps");

/* Tenants allowed on this node, consulted when EP_CFG_F_TENANT_CHECK is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ep_tenant);
} ep_tenants SEC(".maps");

#define ep_dbg(fmt, ...)						\
	do {								\
		if (ep_debug)						\
			bpf_printk("ep: " fmt, ##__VA_ARGS__);		\
	} while (0)

/*
 * Walk the packet and validate the offload header. Returns 0 (EP_STAT_REDIRECT_XSK) with
 * *prio set for a valid server-bound message, or -EP_STAT_* for every other outcome.
 */
static __always_inline int ep_classify_pkt(struct xdp_md *ctx, const struct ep_config *cfg,
					   __u8 *prio)
{
	struct ep_cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u32 max_len = cfg->max_task_len ?: EP_DEFAULT_MAX_TASK_LEN;
	__u16 port = cfg->udp_port ?: ep_default_port;
	struct ep_l3 l3 = {};
	struct ep_hdr *h;
	__u32 dgram_len;
	__be16 proto;
	int err;

	err = ep_parse_eth(&c, &proto);
	if (err)
		return err;
	if (proto == bpf_htons(ETH_P_IP))
		err = ep_parse_ipv4(&c, &l3);
	else if (proto == bpf_htons(ETH_P_IPV6))
		err = ep_parse_ipv6(&c, &l3);
	else
		return -EP_STAT_PASS_NOT_IP;
	if (err)
		return err;
	err = ep_parse_udp(&c, &l3, port, &dgram_len);
	if (err)
		return err;
	/* Answers go to one host from one of ours: broadcast and multicast are not tasks. */
	if ((((struct ethhdr *)(long)ctx->data)->h_dest[0] & 1) || l3.mcast)
		return -EP_STAT_PASS_NOT_UNICAST;
	if (!l3.sport)
		return -EP_STAT_DROP_BAD_SOURCE;

	h = c.pos;
	if (dgram_len < sizeof(*h))
		return -EP_STAT_DROP_HDR_SHORT;
	/* Implied by the UDP length check; repeated for the verifier. */
	if ((void *)(h + 1) > c.end)
		return -EP_STAT_DROP_HDR_SHORT;

	if (max_len > EP_MAX_TASK_LEN)
		max_len = EP_MAX_TASK_LEN;
	err = ep_hdr_check(h, dgram_len, max_len);
	if (err)
		return err;
	if (!EP_KIND_IS_SERVER_BOUND(h->kind))
		return -EP_STAT_DROP_BAD_KIND;
	if (cfg->flags & EP_CFG_F_TENANT_CHECK) {
		__u32 tenant = bpf_ntohl(h->tenant_id);

		if (!bpf_map_lookup_elem(&ep_tenants, &tenant))
			return -EP_STAT_DROP_TENANT;
	}
	*prio = h->priority;
	return 0;
}

/* The queue's socket for this priority, falling back to slot 0, then to the stack. */
static __always_inline int ep_xsk_redirect(struct xdp_md *ctx, const struct ep_config *cfg,
					   __u8 prio, __u32 *stat)
{
	__u32 queue = ctx->rx_queue_index, slot, key;
	int act;

	*stat = EP_STAT_PASS_NO_SOCKET;
	if (queue >= EP_MAX_QUEUES)
		return XDP_PASS;
	slot = cfg->prio_slot[prio & 7] & (EP_XSK_SLOTS - 1);
	key = EP_XSK_KEY(queue, slot);
	if (slot && !bpf_map_lookup_elem(&ep_xsks, &key))
		key = EP_XSK_KEY(queue, 0);
	act = bpf_redirect_map(&ep_xsks, key, XDP_PASS);
	if (act == XDP_REDIRECT)
		*stat = EP_STAT_REDIRECT_XSK;
	return act;
}

SEC("xdp")
int ep_classify(struct xdp_md *ctx)
{
	struct ep_config *cfg;
	__u32 zero = 0, stat;
	__u8 prio = 0;
	int r, act;

	cfg = bpf_map_lookup_elem(&ep_cfg, &zero);
	if (!cfg)	/* an array map always has key 0; for the verifier */
		return XDP_PASS;

	r = ep_classify_pkt(ctx, cfg, &prio);
	if (r) {
		ep_dbg("verdict %d", -r);
		return ep_verdict(ctx, -r, XDP_PASS);
	}
	act = ep_xsk_redirect(ctx, cfg, prio, &stat);
	return ep_verdict(ctx, stat, act);
}

/* libxdp multi-program dispatcher: run early, and let the next program see what we pass. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(ep_classify);

char LICENSE[] SEC("license") = "Dual BSD/GPL";
