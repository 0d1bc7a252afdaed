/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parse.h - bounded L2/L3/L4 header walking for XDP programs.
 *
 * Each helper advances a cursor over one header. It returns 0 (or a parsed value) on
 * success and -EP_STAT_* when the packet leaves the offload path, so the caller has a
 * single exit that turns the reason into a verdict and a counter (see stats.h).
 *
 * The helpers use no BPF helper calls, so userspace (the runtime, test tools) includes this
 * file too and walks frames with exactly the rules the classifier applied.
 */
#ifndef EP_BPF_PARSE_H
#define EP_BPF_PARSE_H

#ifndef __bpf__
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#endif
#include <linux/bpf.h>
#include <linux/if_ether.h>
#ifdef __bpf__
#include <linux/in.h>
#endif
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

#include "../ep_shared.h"
#include "compiler.h"

/*
 * A 16-bit field in host order, with its bound visible to the verifier: older verifiers
 * (Debian 12's 6.1) do not bound the result of a byte swap, and reject adding it to a
 * packet pointer. The mask is a no-op the compiler cannot drop.
 */
#ifdef __bpf__
#define ep_ntohs_bounded(x)                              \
	({                                               \
		__u32 _v = bpf_ntohs(x);                 \
		asm volatile("%0 &= 0xffff" : "+r"(_v)); \
		_v;                                      \
	})
#else
#define ep_ntohs_bounded(x) ((__u32)bpf_ntohs(x))
#endif

#define EP_MAX_VLAN_TAGS 2 /* 802.1ad outer + 802.1Q inner */
#define EP_MAX_IPV6_EXT	 6 /* extension headers walked before giving up */

#ifndef IP_MF
#define IP_MF	  0x2000
#define IP_OFFSET 0x1fff
#endif

struct ep_cursor {
	void *pos;
	void *end;
};

/* An 802.1Q or 802.1ad tag, after the MAC addresses (the kernel's struct vlan_hdr is not
 * in its UAPI headers). */
struct ep_vlan_hdr {
	__be16 tci;
	__be16 proto; /* the next ethertype */
};

struct ep_l3 {
	void *end; /* end of the IP datagram (per its length field) */
	__u8 ipv6;
	__u8 mcast;  /* destination is multicast or the IPv4 limited broadcast */
	__u16 sport; /* UDP source port, host order (after ep_parse_udp) */
};

/* Ethernet plus up to two VLAN tags. Returns the inner ethertype in network order. */
static __always_inline int ep_parse_eth(struct ep_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	__be16 type;

	if ((void *)(eth + 1) > c->end)
		return -EP_STAT_PASS_UNPARSED;
	type = eth->h_proto;
	c->pos = eth + 1;

	EP_UNROLL
	for (int i = 0; i < EP_MAX_VLAN_TAGS; i++) {
		struct ep_vlan_hdr *vlan = c->pos;

		if (type != bpf_htons(ETH_P_8021Q) && type != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > c->end)
			return -EP_STAT_PASS_UNPARSED;
		type = vlan->proto;
		c->pos = vlan + 1;
	}
	*proto = type;
	return 0;
}

/* IPv4 with options. Leaves the cursor at the L4 header. */
static __always_inline int ep_parse_ipv4(struct ep_cursor *c, struct ep_l3 *l3)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > c->end)
		return -EP_STAT_PASS_UNPARSED;
	hlen = iph->ihl * 4;
	tot = ep_ntohs_bounded(iph->tot_len);
	if (iph->version != 4 || hlen < sizeof(*iph) || tot < hlen)
		return -EP_STAT_PASS_UNPARSED;
	/* Options: hlen is at most 60, so the cursor moves a bounded distance. */
	if (c->pos + hlen > c->end || c->pos + tot > c->end)
		return -EP_STAT_PASS_UNPARSED;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -EP_STAT_PASS_IP_FRAGMENT;
	if (iph->protocol != IPPROTO_UDP)
		return -EP_STAT_PASS_NOT_UDP;
	l3->end = c->pos + tot;
	l3->ipv6 = 0;
	l3->mcast = (bpf_ntohl(iph->daddr) >> 28) == 0xe || iph->daddr == 0xffffffff;
	c->pos += hlen;
	return 0;
}

/* IPv6 and the common extension headers. Leaves the cursor at the L4 header. */
static __always_inline int ep_parse_ipv6(struct ep_cursor *c, struct ep_l3 *l3)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 plen;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return -EP_STAT_PASS_UNPARSED;
	plen = ep_ntohs_bounded(ip6->payload_len);
	if (ip6->version != 6 || plen == 0) /* 0: jumbogram; leave it to the kernel */
		return -EP_STAT_PASS_UNPARSED;
	c->pos = ip6 + 1;
	if (c->pos + plen > c->end)
		return -EP_STAT_PASS_UNPARSED;
	l3->end = c->pos + plen;
	l3->ipv6 = 1;
	l3->mcast = ip6->daddr.s6_addr[0] == 0xff;
	next = ip6->nexthdr;

	EP_UNROLL
	for (int i = 0; i < EP_MAX_IPV6_EXT; i++) {
		/* AH starts with the same two bytes (next header, length in its own unit). */
		struct ipv6_opt_hdr *ext = c->pos;
		__u32 elen;

		switch (next) {
		case IPPROTO_UDP:
			return 0;
		case IPPROTO_FRAGMENT:
			return -EP_STAT_PASS_IP_FRAGMENT;
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			if ((void *)(ext + 1) > c->end)
				return -EP_STAT_PASS_UNPARSED;
			elen = next == IPPROTO_AH ? (ext->hdrlen + 2) * 4 : (ext->hdrlen + 1) * 8;
			next = ext->nexthdr;
			if (c->pos + elen > l3->end)
				return -EP_STAT_PASS_UNPARSED;
			c->pos += elen;
			break;
		default: /* ESP, no-next-header, ICMPv6, TCP, ... */
			return -EP_STAT_PASS_NOT_UDP;
		}
	}
	return next == IPPROTO_UDP ? 0 : -EP_STAT_PASS_UNPARSED;
}

/* The IPv4 or IPv6 header that ethertype @proto announces; -EP_STAT_PASS_NOT_IP for
 * anything else. */
static __always_inline int ep_parse_ip(struct ep_cursor *c, __be16 proto, struct ep_l3 *l3)
{
	if (proto == bpf_htons(ETH_P_IP))
		return ep_parse_ipv4(c, l3);
	if (proto == bpf_htons(ETH_P_IPV6))
		return ep_parse_ipv6(c, l3);
	return -EP_STAT_PASS_NOT_IP;
}

/* UDP header; returns the datagram payload length, checked against the IP length, and
 * notes the source port in @l3. */
static __always_inline int ep_parse_udp(struct ep_cursor *c, struct ep_l3 *l3, __u16 port,
					__u32 *dgram_len)
{
	struct udphdr *udp = c->pos;
	__u32 ulen;

	if ((void *)(udp + 1) > c->end || (void *)(udp + 1) > l3->end)
		return -EP_STAT_PASS_UNPARSED;
	if (udp->dest != bpf_htons(port))
		return -EP_STAT_PASS_OTHER_PORT;
	ulen = ep_ntohs_bounded(udp->len);
	if (ulen < sizeof(*udp) || c->pos + ulen > l3->end)
		return -EP_STAT_DROP_UDP_LENGTH;
	/* IPv6 forbids a zero UDP checksum (RFC 8200 8.1). */
	if (l3->ipv6 && udp->check == 0)
		return -EP_STAT_DROP_UDP_ZERO_CSUM;
	*dgram_len = ulen - sizeof(*udp);
	l3->sport = bpf_ntohs(udp->source);
	c->pos = udp + 1;
	return 0;
}

#endif /* EP_BPF_PARSE_H */
