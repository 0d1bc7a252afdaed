// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

#include "pkt.h"

uint32_t pkt_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t len)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 },
			     smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	const uint8_t *src_mac = s->src_mac ? s->src_mac : smac;
	uint8_t proto = s->l4proto ? s->l4proto : IPPROTO_UDP;
	size_t need = 14 + 4 * (size_t)s->vlan_tags + 40 + 40 + 8 * (size_t)s->ipv6_ext + 8 +
		      s->payload_len;
	uint8_t *p = buf, *l3, *l4;
	uint16_t type = s->ethertype ? s->ethertype : s->ipv6 ? ETH_P_IPV6 : ETH_P_IP;
	size_t l4len;
	uint32_t sum;

	if (need > len)
		return 0;
	memcpy(p, dmac, 6);
	memcpy(p + 6, src_mac, 6);
	p += 12;
	if (s->vlan_tags == 2) {
		*(uint16_t *)p = htons(ETH_P_8021AD);
		*(uint16_t *)(p + 2) = htons(100);
		p += 4;
	}
	if (s->vlan_tags >= 1) {
		*(uint16_t *)p = htons(ETH_P_8021Q);
		*(uint16_t *)(p + 2) = htons(200);
		p += 4;
	}
	*(uint16_t *)p = htons(type);
	p += 2;
	if (s->ethertype) { /* raw L3, e.g. an ARP request body */
		memcpy(p, s->payload, s->payload_len);
		return (size_t)(p - buf) + s->payload_len;
	}

	l3 = p;
	l4len = (proto == IPPROTO_UDP ? 8 : 0) + s->payload_len;
	if (!s->ipv6) {
		struct iphdr *ip = (struct iphdr *)p;
		size_t hlen = 20 + (size_t)s->ip_opt_len;

		memset(ip, 0, hlen);
		ip->version = 4;
		ip->ihl = (uint8_t)(hlen / 4);
		ip->tot_len = htons((uint16_t)(hlen + l4len));
		ip->id = htons(1);
		ip->frag_off = htons((uint16_t)((s->ip_mf ? 0x2000 : 0) | s->ip_frag_off));
		ip->ttl = 64;
		ip->protocol = proto;
		inet_pton(AF_INET, s->src ? s->src : "198.18.0.1", &ip->saddr);
		inet_pton(AF_INET, s->dst ? s->dst : "198.18.0.2", &ip->daddr);
		for (int i = 0; i < s->ip_opt_len; i++) /* NOP options, then EOL */
			p[20 + i] = i == s->ip_opt_len - 1 ? 0 : 1;
		ip->check = htons(pkt_csum_fold(pkt_csum_add(0, ip, hlen)));
		p += hlen;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)p;
		uint8_t *next = &ip6->nexthdr;
		size_t ext = 0;

		memset(ip6, 0, sizeof(*ip6));
		ip6->version = 6;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, s->src ? s->src : "2001:db8::1", &ip6->saddr);
		inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8::2", &ip6->daddr);
		p += sizeof(*ip6);
		for (int i = 0; i < s->ipv6_ext; i++) { /* 8-byte headers with PadN */
			*next = i == 0 ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS;
			memset(p, 0, 8);
			p[2] = 1; /* PadN */
			p[3] = 4;
			next = &p[0];
			p += 8;
			ext += 8;
		}
		if (s->ipv6_frag) {
			*next = IPPROTO_FRAGMENT;
			memset(p, 0, 8);
			p[3] = 1; /* M flag */
			next = &p[0];
			p += 8;
			ext += 8;
		}
		*next = proto;
		ip6->payload_len = htons((uint16_t)(ext + l4len));
	}

	l4 = p;
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = (struct udphdr *)p;

		udp->source = htons(s->sport ? s->sport : 40000); /* 0 is invalid */
		udp->dest = htons(s->dport);
		udp->len = htons((uint16_t)l4len);
		udp->check = 0;
		memcpy(p + 8, s->payload, s->payload_len);
		/* Pseudo-header: addresses, protocol, length. */
		if (s->ipv6)
			sum = pkt_csum_add(0, l3 + 8, 32);
		else
			sum = pkt_csum_add(0, l3 + 12, 8);
		sum += proto + (uint32_t)l4len;
		sum = pkt_csum_add(sum, l4, l4len);
		udp->check = htons(pkt_csum_fold(sum));
		if (!udp->check)
			udp->check = 0xffff;
	} else {
		memcpy(p, s->payload, s->payload_len);
	}
	return (size_t)(l4 - buf) + l4len;
}
