/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_parse.h - what the benchmarks' small XDP programs (bench_sink, ep_loadgen) look at:
 * the UDP header of an IPv4 or IPv6 datagram, found with bpf/lib/parse.h's rules (VLAN
 * tags, IPv4 options, IPv6 extension headers).
 */
#ifndef EP_BENCH_PARSE_H
#define EP_BENCH_PARSE_H

#include <linux/bpf.h>
#include <linux/udp.h>

#include "lib/parse.h"

/* The UDP header of the frame in @ctx, checked to lie within it; NULL for a frame that is
 * no UDP datagram (or one parse.h leaves to the kernel, such as a fragment). */
static __always_inline struct udphdr *bench_udp(struct xdp_md *ctx)
{
	struct ep_cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct ep_l3 l3 = {};
	struct udphdr *udp;
	__be16 proto;

	if (ep_parse_eth(&c, &proto) || ep_parse_ip(&c, proto, &l3))
		return NULL;
	udp = c.pos;
	if ((void *)(udp + 1) > c.end)
		return NULL;
	return udp;
}

#endif
