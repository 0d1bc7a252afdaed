// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_reflect - the machine's limit for `make bench-runtime` (tests/bench/bench_runtime.sh):
 * on the edge node's veth in place of the classifier and the runtime, it turns every IPv4
 * task datagram into its own RESPONSE in XDP (addresses and ports swapped, kind set, UDP
 * checksum left out as IPv4 allows) and sends it back with XDP_TX. epgen's closed loop
 * against it measures what the generator, the veth and XDP can do with no runtime at all:
 * the ceiling a runtime's tasks/s is read against. Everything else passes. Not part of an
 * edge node.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ep_shared.h"
#include "lib/parse.h"

const volatile __u16 reflect_port = EP_DEFAULT_PORT;

SEC("xdp")
int bench_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct ep_cursor c = { .pos = data, .end = (void *)(long)ctx->data_end };
	struct ethhdr *eth = data;
	struct ep_l3 l3 = {};
	struct iphdr *ip;
	struct udphdr *udp;
	struct ep_hdr *h;
	__u8 mac[ETH_ALEN];
	__be32 a;
	__be16 proto, p;
	__u32 dlen;

	if (ep_parse_eth(&c, &proto) || proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = c.pos;
	if (ep_parse_ipv4(&c, &l3) || ep_parse_udp(&c, &l3, reflect_port, &dlen))
		return XDP_PASS;
	udp = (struct udphdr *)c.pos - 1;
	h = c.pos;
	if ((void *)(h + 1) > c.end || (void *)(ip + 1) > c.end || (void *)(eth + 1) > c.end ||
	    h->magic != bpf_htons(EP_MAGIC) || h->kind != EP_KIND_REQUEST)
		return XDP_PASS;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	a = ip->saddr; /* the header checksum is a sum: the swap keeps it */
	ip->saddr = ip->daddr;
	ip->daddr = a;
	p = udp->source;
	udp->source = udp->dest;
	udp->dest = p;
	udp->check = 0;
	h->kind = EP_KIND_RESPONSE;
	h->req.size_hint_kib = 0; /* queue_us, exec_us: nothing waited, nothing ran */
	h->req.deadline_ms = 0;
	h->flags &= EP_F_ZSTD;
	h->auth_key_id = 0;
	h->reply_mtu = 0;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
