// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The baseline of `make bench-classify`: the cheapest possible XDP program. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int ep_bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
