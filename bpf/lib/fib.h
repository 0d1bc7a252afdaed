/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fib.h - routing a UDP datagram from XDP: the FIB lookup's set-up, and the TTL or hop
 * limit a router takes down by one. Untagged frames only (the IP header right after the
 * Ethernet header): a VLAN's FIB is another device's.
 */
#ifndef EP_BPF_FIB_H
#define EP_BPF_FIB_H

#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#include "parse.h" /* the network headers, in the order BPF and userspace both take */

#define EP_AF_INET  2 /* for bpf_fib_lookup(); the libc header is not for BPF */
#define EP_AF_INET6 10

/*
 * Set @fib up for the UDP datagram in the frame at @eth (up to @end) that came in on
 * @ctx's interface: the way from its source to its destination (forwarding it), or with
 * @reverse the way back to its source (a reply from here). Returns the datagram's TTL or
 * hop limit, or -1 if the frame is too short for its IP header.
 */
static __always_inline int ep_fib_init(struct xdp_md *ctx, struct bpf_fib_lookup *fib,
				       struct ethhdr *eth, void *end, bool ipv6, bool reverse)
{
	if ((void *)(eth + 1) > end)
		return -1;
	if (!ipv6) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return -1;
		fib->family = EP_AF_INET;
		fib->tos = ip->tos;
		fib->tot_len = bpf_ntohs(ip->tot_len);
		fib->ipv4_src = reverse ? ip->daddr : ip->saddr;
		fib->ipv4_dst = reverse ? ip->saddr : ip->daddr;
		fib->l4_protocol = IPPROTO_UDP;
		fib->ifindex = ctx->ingress_ifindex;
		return ip->ttl;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return -1;
		fib->family = EP_AF_INET6;
		fib->tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib->ipv6_src, reverse ? &ip6->daddr : &ip6->saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, reverse ? &ip6->saddr : &ip6->daddr, 16);
		fib->l4_protocol = IPPROTO_UDP;
		fib->ifindex = ctx->ingress_ifindex;
		return ip6->hop_limit;
	}
}

/*
 * Take the TTL (with an incremental checksum update, as a router does: the TTL is the
 * high byte of its 16-bit word) or hop limit of the datagram at @eth down by one. The
 * caller has checked it is above 1. Returns 0, or -1 if the frame is too short.
 */
static __always_inline int ep_ip_decrease_ttl(struct ethhdr *eth, void *end, bool ipv6)
{
	if ((void *)(eth + 1) > end)
		return -1;
	if (!ipv6) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 check;

		if ((void *)(ip + 1) > end)
			return -1;
		check = ip->check;
		check += bpf_htons(0x0100);
		ip->check = (__u16)(check + (check >= 0xffff));
		ip->ttl--;
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return -1;
		ip6->hop_limit--;
	}
	return 0;
}

#endif /* EP_BPF_FIB_H */
