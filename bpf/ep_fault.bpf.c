// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_fault - a lossy link for tests and the rig: a tc program that drops, duplicates or
 * corrupts a configured fraction of the packets leaving (egress) or entering (ingress) an
 * interface. Ingress matters for traffic sent with AF_XDP, which skips the qdisc layer. The kernel
 * here has no netem, so faults are injected in BPF. Not part of an edge node.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "ep_shared.h"
#include "lib/parse.h"
#include "lib/pin.h"

/* Set at load: 1 when attached to tc ingress (copies are then re-injected on ingress). */
const volatile __u8 ingress = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_fault_cfg);
	__uint(pinning, EP_PINNING); /* edgeplane-fault set writes it */
} fault_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EP_FAULT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, EP_PINNING); /* edgeplane-fault stats reads it */
} fault_stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&fault_stats, &what);

	if (c)
		(*c)++;
}

/* Whether the packet is UDP to or from @port, and where its payload starts. */
static __always_inline int udp_payload(struct __sk_buff *skb, __u16 port, __u32 *off)
{
	struct ep_cursor c = { .pos = (void *)(long)skb->data, .end = (void *)(long)skb->data_end };
	struct ep_l3 l3 = {};
	struct udphdr *udp;
	__be16 proto;

	if (ep_parse_eth(&c, &proto))
		return 0;
	if (ep_parse_ip(&c, proto, &l3))
		return 0;
	udp = c.pos;
	if ((void *)(udp + 1) > c.end)
		return 0;
	if (port && udp->dest != bpf_htons(port) && udp->source != bpf_htons(port))
		return 0;
	*off = (__u32)((void *)(udp + 1) - (void *)(long)skb->data);
	return 1;
}

SEC("tc")
int ep_fault(struct __sk_buff *skb)
{
	struct ep_fault_cfg *cfg;
	__u32 zero = 0, off = 0, r;

	if (skb->mark == EP_FAULT_CLONE_MARK) { /* our own copy: let it go */
		skb->mark = 0;
		return TC_ACT_OK;
	}
	cfg = bpf_map_lookup_elem(&fault_cfg, &zero);
	if (!cfg)
		return TC_ACT_OK;
	/* Headers must be in the linear part for direct access; pull what we need. */
	bpf_skb_pull_data(skb, 128);
	if (!udp_payload(skb, cfg->udp_port, &off))
		return TC_ACT_OK;
	count(EP_FAULT_SEEN);

	r = bpf_get_prandom_u32() % 1000000;
	if (r < cfg->drop_ppm) {
		count(EP_FAULT_DROPPED);
		return TC_ACT_SHOT;
	}
	r = bpf_get_prandom_u32() % 1000000;
	if (r < cfg->corrupt_ppm && off < skb->len) {
		__u32 at = off + bpf_get_prandom_u32() % (skb->len - off); /* any payload byte */
		__u8 b;

		if (!bpf_skb_load_bytes(skb, at, &b, 1)) {
			b ^= 0x5a;
			bpf_skb_store_bytes(skb, at, &b, 1, 0);
			count(EP_FAULT_CORRUPTED);
		}
	}
	r = bpf_get_prandom_u32() % 1000000;
	if (r < cfg->dup_ppm) {
		__u32 mark = skb->mark;

		skb->mark = EP_FAULT_CLONE_MARK;
		/* A copy through the same hook, just before this one carries on. */
		if (!bpf_clone_redirect(skb, skb->ifindex, ingress ? BPF_F_INGRESS : 0))
			count(EP_FAULT_DUPLICATED);
		skb->mark = mark;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
