/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hash.h - the gateway's flow hash: MurmurHash3's 64-bit finaliser, chained over three
 * words. One definition for the program (bpf/ep_gateway.bpf.c, flow_key()) and the
 * userspace model of its choice (tests/bpf/test_gateway.c, which checks it against values
 * written down). Changing it moves every flow to other table slots.
 */
#ifndef EP_BPF_HASH_H
#define EP_BPF_HASH_H

#include <linux/types.h>

#include "compiler.h"

static __always_inline __u64 ep_gw_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* The hash of a flow given as three words: mix(a ^ mix(b ^ mix(c))). */
static __always_inline __u64 ep_gw_flow_hash(__u64 a, __u64 b, __u64 c)
{
	return ep_gw_mix64(a ^ ep_gw_mix64(b ^ ep_gw_mix64(c)));
}

#endif /* EP_BPF_HASH_H */
