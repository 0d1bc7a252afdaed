// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_sink - the sink of `make bench-lb` (tests/bench/bench_lb.sh): UDP datagrams to
 * sink_port are counted (per-CPU) and dropped, so what arrives is measured without a
 * kernel stack or a socket behind it; everything else (ARP, ICMP, other ports) is counted
 * apart and passes. Loaded by `epblast --sink` (tests/bench/epblast.c). Not part of an
 * edge node.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ep_shared.h"
#include "bench_parse.h"

const volatile __u16 sink_port = EP_DEFAULT_PORT;

enum { SINK_DROPPED, SINK_PASSED, SINK__COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

static __always_inline int verdict(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&sink_count, &what);

	if (c)
		(*c)++;
	return what == SINK_DROPPED ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	struct udphdr *udp = bench_udp(ctx);

	if (!udp || udp->dest != bpf_htons(sink_port))
		return verdict(SINK_PASSED);
	return verdict(SINK_DROPPED);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
