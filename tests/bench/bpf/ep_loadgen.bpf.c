// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_loadgen - XDP program of the benchmark load generator (tests/bench/epgen.c): replies
 * from an edge node's port go to the generator's AF_XDP socket on the receiving queue;
 * everything else passes. Not part of an edge node.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ep_shared.h"
#include "bench_parse.h"

const volatile __u16 edge_port = EP_DEFAULT_PORT;

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, EP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} gen_xsks SEC(".maps");

SEC("xdp")
int ep_loadgen_rx(struct xdp_md *ctx)
{
	struct udphdr *udp = bench_udp(ctx);

	if (!udp || udp->source != bpf_htons(edge_port))
		return XDP_PASS;
	return bpf_redirect_map(&gen_xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
