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
	__u32 l3_off;	 /* IP header, from data */
	__u32 udp_off;	 /* UDP header */
	__u32 hdr_off;	 /* struct ep_hdr */
	__u32 dgram_len; /* UDP payload */
};

#define EP_MAX_HDR_OFF 256 /* a bound for the verifier: 14 + 8 + 60 + 6 ext headers... */

/*
 * Mask an offset already checked to be at most @m (a power of two minus one) in a way the
 * compiler cannot drop or move: the verifier then knows the bound of the very register
 * that is added to a packet pointer.
 */
#define ep_bound(v, m) asm volatile("%0 &= %1" : "+r"(v) : "i"(m))

/*
 * Walk Ethernet, VLANs, IP and UDP to @port (@encap_port, if non-zero, ends the walk at
 * its UDP header with -EP_STAT_DECAP so the caller can check and strip it), and leave only
 * unicast datagrams: what is "to our port" before anything of it is judged. Returns 0 or
 * -EP_STAT_*; on 0, p->hdr_off and p->dgram_len say where the payload is.
 */
static __always_inline int ep_task_parse_l4(struct xdp_md *ctx, __u16 port, __u16 encap_port,
					    struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	struct ep_cursor c = { .pos = data, .end = (void *)(long)ctx->data_end };
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
	p->hdr_off = (__u32)(c.pos - data);
	return 0;
}

/* The task header at p->hdr_off, re-derived from the context for the verifier; NULL if it
 * is no longer in bounds. */
static __always_inline struct ep_hdr *ep_task_hdr(struct xdp_md *ctx, const struct ep_task_pkt *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 off = p->hdr_off;
	struct ep_hdr *h;

	barrier_var(off); /* keep the bound check on the register the verifier sees */
	if (off > EP_MAX_HDR_OFF)
		return NULL;
	h = data + off;
	return (void *)(h + 1) <= end ? h : NULL;
}

/* Packet pointers to the headers ep_task_parse_l4() found. */
struct ep_task_view {
	struct ethhdr *eth;
	void *l3; /* struct iphdr or struct ipv6hdr (p->l3.ipv6): its size is the user's to
		   * check against end */
	struct udphdr *udp;
	struct ep_hdr *h; /* right after the UDP header (where p->hdr_off points for a task) */
	void *end;
};

/*
 * Derive @v from @ctx again: the verifier forgets packet pointers across a head or tail
 * adjustment, and needs each offset bounded on the register added to data (ep_bound()).
 * The Ethernet, UDP and v1 headers are in bounds on 0; the IP header's start only.
 * Returns 0, or -1 if an offset is out of range or a header out of bounds.
 */
static __always_inline int ep_task_view(struct xdp_md *ctx, const struct ep_task_pkt *p,
					struct ep_task_view *v)
{
	void *data = (void *)(long)ctx->data;
	__u32 l3 = p->l3_off, udp_off = p->udp_off;

	v->end = (void *)(long)ctx->data_end;
	if (l3 > 64 || udp_off > EP_MAX_HDR_OFF)
		return -1;
	ep_bound(l3, 127);
	ep_bound(udp_off, 511);
	v->eth = data;
	v->l3 = data + l3;
	v->udp = data + udp_off;
	v->h = (void *)(v->udp + 1);
	if ((void *)(v->eth + 1) > v->end || (void *)(v->h + 1) > v->end)
		return -1;
	return 0;
}

/*
 * The datagram ep_task_parse_l4() found: a reply must be possible (a source port), and
 * the v1 header of a server-bound message valid (ep_check.h, total_len up to @max_len).
 * Returns 0 or -EP_STAT_*.
 */
static __always_inline int ep_task_parse_hdr(struct xdp_md *ctx, __u32 max_len,
					     const struct ep_task_pkt *p)
{
	struct ep_hdr *h;
	int err;

	if (!p->l3.sport)
		return -EP_STAT_DROP_BAD_SOURCE;
	if (p->dgram_len < sizeof(*h))
		return -EP_STAT_DROP_HDR_SHORT;
	/* Implied by the UDP length check; repeated for the verifier. */
	h = ep_task_hdr(ctx, p);
	if (!h)
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

/*
 * The outer UDP header of an encapsulated task (ep_task_parse_l4() returned
 * -EP_STAT_DECAP): its length must be exactly the rest of the outer IP datagram, and over
 * IPv6 its checksum not zero (RFC 8200 8.1; a gateway computes it). Returns 0 or
 * -EP_STAT_DROP_UDP_LENGTH, -EP_STAT_DROP_UDP_ZERO_CSUM.
 */
static __always_inline int ep_task_encap_check(struct xdp_md *ctx, const struct ep_task_pkt *p)
{
	struct ep_task_view v;
	struct udphdr *udp;
	long rest;

	if (ep_task_view(ctx, p, &v)) /* shorter than UDP and a v1 header: no task inside */
		return -EP_STAT_DROP_UDP_LENGTH;
	udp = v.udp;
	rest = (long)((void *)p->l3.end - (void *)udp);
	if (rest < (long)sizeof(*udp) || bpf_ntohs(udp->len) != rest)
		return -EP_STAT_DROP_UDP_LENGTH;
	if (p->l3.ipv6 && !udp->check)
		return -EP_STAT_DROP_UDP_ZERO_CSUM;
	return 0;
}

/* Both of the above: a valid server-bound message to @port. Returns 0 or -EP_STAT_*. */
static __always_inline int ep_task_parse(struct xdp_md *ctx, __u16 port, __u16 encap_port,
					 __u32 max_len, struct ep_task_pkt *p)
{
	int err = ep_task_parse_l4(ctx, port, encap_port, p);

	return err ?: ep_task_parse_hdr(ctx, max_len, p);
}

/*
 * The source and destination addresses of the task ep_task_parse_l4() found, in the
 * 16-byte form of the maps (IPv4 as ::ffff:a.b.c.d). Either may be NULL. Returns 0, or -1
 * if the IP header is no longer in bounds.
 */
static __always_inline int ep_task_addrs(struct xdp_md *ctx, const struct ep_task_pkt *p, __u8 *src,
					 __u8 *dst)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 l3 = p->l3_off;

	if (l3 > 64)
		return -1;
	ep_bound(l3, 127); /* the bound again, on the register added below */
	if (p->l3.ipv6) {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > end)
			return -1;
		if (src)
			__builtin_memcpy(src, &ip6->saddr, 16);
		if (dst)
			__builtin_memcpy(dst, &ip6->daddr, 16);
	} else {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > end)
			return -1;
		if (src) {
			__builtin_memset(src, 0, 10);
			src[10] = src[11] = 0xff;
			__builtin_memcpy(src + 12, &ip->saddr, 4);
		}
		if (dst) {
			__builtin_memset(dst, 0, 10);
			dst[10] = dst[11] = 0xff;
			__builtin_memcpy(dst + 12, &ip->daddr, 4);
		}
	}
	return 0;
}

#endif /* EP_BPF_TASK_H */
