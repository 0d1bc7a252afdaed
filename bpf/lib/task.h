/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * task.h - find and validate an offload task in a frame: the walk the classifier and the
 * gateway share. Fills struct ep_task_pkt with where the headers are, so the caller can
 * steer, forward or rewrite the frame.
 */
#ifndef EP_BPF_TASK_H
#define EP_BPF_TASK_H

#include <bpf/bpf_helpers.h>

#include "../ep_check.h"
#include "parse.h"

struct ep_task_pkt {
	struct ep_l3 l3;
	__u32 l3_off;		/* IP header, from data */
	__u32 udp_off;		/* UDP header */
	__u32 hdr_off;		/* struct ep_hdr */
	__u32 dgram_len;	/* UDP payload */
};

#define EP_MAX_HDR_OFF	256	/* a bound for the verifier: 14 + 8 + 60 + 6 ext headers... */

/*
 * Mask an offset already checked to be at most @m (a power of two minus one) in a way the
 * compiler cannot drop or move: the verifier then knows the bound of the very register
 * that is added to a packet pointer.
 */
#define ep_bound(v, m) asm volatile("%0 &= %1" : "+r"(v) : "i"(m))

/*
 * Walk Ethernet, VLANs, IP and UDP to @port (@encap_port, if non-zero, is noted in
 * p->l3.sport's place as -EP_STAT_DECAP so the caller can strip it), then validate the
 * v1 header of a server-bound message. Returns 0 or -EP_STAT_*.
 */
static __always_inline int ep_task_parse(struct xdp_md *ctx, __u16 port, __u16 encap_port,
					 __u32 max_len, struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	struct ep_cursor c = { .pos = data, .end = (void *)(long)ctx->data_end };
	struct ep_hdr *h;
	__be16 proto;
	int err;

	err = ep_parse_eth(&c, &proto);
	if (err)
		return err;
	p->l3_off = (__u32)(c.pos - data);
	err = ep_parse_ip(&c, proto, &p->l3);
	if (err)
		return err;
	p->udp_off = (__u32)(c.pos - data);
	if (encap_port) {
		struct udphdr *udp = c.pos;

		if ((void *)(udp + 1) <= c.end && udp->dest == bpf_htons(encap_port))
			return -EP_STAT_DECAP;
	}
	err = ep_parse_udp(&c, &p->l3, port, &p->dgram_len);
	if (err)
		return err;
	/* Answers go to one host from one of ours: broadcast and multicast are not tasks. */
	if ((((struct ethhdr *)data)->h_dest[0] & 1) || p->l3.mcast)
		return -EP_STAT_PASS_NOT_UNICAST;
	if (!p->l3.sport)
		return -EP_STAT_DROP_BAD_SOURCE;

	h = c.pos;
	p->hdr_off = (__u32)(c.pos - data);
	if (p->dgram_len < sizeof(*h))
		return -EP_STAT_DROP_HDR_SHORT;
	/* Implied by the UDP length check; repeated for the verifier. */
	if ((void *)(h + 1) > c.end)
		return -EP_STAT_DROP_HDR_SHORT;
	if (max_len > EP_MAX_TASK_LEN)
		max_len = EP_MAX_TASK_LEN;
	err = ep_hdr_check(h, p->dgram_len, max_len);
	if (err)
		return err;
	if (!EP_KIND_IS_SERVER_BOUND(h->kind))
		return -EP_STAT_DROP_BAD_KIND;
	return 0;
}

/* The task header found by ep_task_parse(), re-derived from the context for the
 * verifier; NULL if it is no longer in bounds. */
static __always_inline struct ep_hdr *ep_task_hdr(struct xdp_md *ctx, const struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 off = p->hdr_off;
	struct ep_hdr *h;

	barrier_var(off);	/* keep the bound check on the register the verifier sees */
	if (off > EP_MAX_HDR_OFF)
		return NULL;
	h = data + off;
	return (void *)(h + 1) <= end ? h : NULL;
}

#endif /* EP_BPF_TASK_H */
