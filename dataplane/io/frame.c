// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "io/frame.h"
#include "lib/parse.h"

/*
 * Frames a veth passes on from the local stack carry a partial checksum (the sender's
 * offload never ran), so checking them would refuse every packet; on a real NIC the
 * sender's checksum is complete.
 */
bool ep_frame_csum_auto(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (void *)&info };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool veth;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	veth = fd >= 0 && !ioctl(fd, SIOCETHTOOL, &ifr) && !strcmp(info.driver, "veth");
	if (fd >= 0)
		close(fd);
	return !veth;
}

/* One's-complement sum, 32 bits at a time into a 64-bit accumulator. */
uint32_t ep_csum_partial(const void *buf, uint32_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;
	uint32_t w;

	for (; len >= 4; len -= 4, p += 4) {
		memcpy(&w, p, 4);
		acc += w;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len)
		acc += *p; /* little-endian: the odd byte is the low byte of its word */
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t ep_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void addr_from_v4(uint8_t out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int ep_frame_parse(const uint8_t *frame, uint32_t len, uint16_t port, struct ep_dgram *d)
{
	struct ep_cursor c = { .pos = (void *)frame, .end = (void *)(frame + len) };
	const struct ethhdr *eth = (const void *)frame;
	struct ep_route *r = &d->route;
	struct ep_l3 l3 = { 0 };
	const struct udphdr *udp;
	const uint8_t *l3hdr;
	__u32 dlen;
	__be16 proto;
	int err;

	err = ep_parse_eth(&c, &proto);
	if (err)
		return err;
	memcpy(r->local_mac, eth->h_dest, 6);
	memcpy(r->peer_mac, eth->h_source, 6);
	r->nvlan = (uint8_t)(((const uint8_t *)c.pos - frame - 14) / 4);
	for (unsigned int i = 0; i < r->nvlan; i++) {
		const uint8_t *tag = frame + 12 + 4 * i;

		r->vlan_proto[i] = (uint16_t)(tag[0] << 8 | tag[1]);
		r->vlan_tci[i] = (uint16_t)(tag[2] << 8 | tag[3]);
	}
	l3hdr = c.pos;
	err = ep_parse_ip(&c, proto, &l3);
	if (err)
		return err;
	udp = c.pos;
	err = ep_parse_udp(&c, &l3, port, &dlen);
	if (err)
		return err;

	d->data = c.pos;
	d->len = dlen;
	r->ipv6 = l3.ipv6;
	if (l3.ipv6) {
		const struct ipv6hdr *ip6 = (const void *)l3hdr;

		memcpy(d->peer.addr, &ip6->saddr, 16);
		memcpy(r->local_addr, &ip6->daddr, 16);
		r->tos = (uint8_t)((ip6->priority << 4) | (ip6->flow_lbl[0] >> 4));
		d->peer.family = AF_INET6;
	} else {
		const struct iphdr *ip = (const void *)l3hdr;

		addr_from_v4(d->peer.addr, &ip->saddr);
		addr_from_v4(r->local_addr, &ip->daddr);
		r->tos = ip->tos;
		d->peer.family = AF_INET;
	}
	d->peer.port = ntohs(udp->source);
	r->local_port = ntohs(udp->dest);
	return 0;
}

void ep_frame_write_hdrs(uint8_t *hdr, const struct ep_route *r, const struct ep_peer *peer,
			 uint32_t payload_len)
{
	uint8_t *p = hdr;
	uint32_t l4len = 8 + payload_len, sum;
	struct udphdr *udp;

	memcpy(p, r->peer_mac, 6);
	memcpy(p + 6, r->local_mac, 6);
	p += 12;
	for (unsigned int i = 0; i < r->nvlan; i++, p += 4) {
		p[0] = (uint8_t)(r->vlan_proto[i] >> 8), p[1] = (uint8_t)r->vlan_proto[i];
		p[2] = (uint8_t)(r->vlan_tci[i] >> 8), p[3] = (uint8_t)r->vlan_tci[i];
	}
	*(__be16 *)p = htons(r->ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	p += 2;
	if (r->ipv6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)p;

		memset(ip6, 0, sizeof(*ip6));
		ip6->version = 6;
		ip6->priority = r->tos >> 4;
		ip6->flow_lbl[0] = (uint8_t)(r->tos << 4);
		ip6->payload_len = htons((uint16_t)l4len);
		ip6->nexthdr = IPPROTO_UDP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, r->local_addr, 16);
		memcpy(&ip6->daddr, peer->addr, 16);
		p += sizeof(*ip6);
		/* Pseudo-header: addresses, length, next header. */
		sum = ep_csum_partial(&ip6->saddr, 32, 0);
	} else {
		struct iphdr *ip = (struct iphdr *)p;

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = r->tos;
		ip->tot_len = htons((uint16_t)(20 + l4len));
		ip->frag_off = htons(0x4000); /* DF: edgeplane fragments, IP must not */
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		memcpy(&ip->saddr, r->local_addr + 12, 4);
		memcpy(&ip->daddr, peer->addr + 12, 4);
		ip->check = ep_csum_fold(ep_csum_partial(ip, 20, 0));
		p += sizeof(*ip);
		sum = ep_csum_partial(&ip->saddr, 8, 0);
	}
	udp = (struct udphdr *)p;
	udp->source = htons(r->local_port);
	udp->dest = htons(peer->port);
	udp->len = htons((uint16_t)l4len);
	udp->check = 0;
	sum += htons(IPPROTO_UDP) + htons((uint16_t)l4len);
	sum = ep_csum_partial(udp, l4len, sum);
	udp->check = ep_csum_fold(sum);
	if (!udp->check)
		udp->check = 0xffff;
}

bool ep_frame_udp_csum_ok(const struct ep_dgram *d)
{
	const uint8_t *udp = d->data - 8;
	uint32_t l4len = d->len + 8, sum;
	uint16_t check;

	memcpy(&check, udp + 6, 2);
	if (!check)
		return !d->route.ipv6; /* IPv4 may omit it; IPv6 may not */
	if (d->route.ipv6)
		sum = ep_csum_partial(d->peer.addr, 16,
				      ep_csum_partial(d->route.local_addr, 16, 0));
	else
		sum = ep_csum_partial(d->peer.addr + 12, 4,
				      ep_csum_partial(d->route.local_addr + 12, 4, 0));
	sum += htons(IPPROTO_UDP) + htons((uint16_t)l4len);
	return ep_csum_fold(ep_csum_partial(udp, l4len, sum)) == 0;
}
