/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.h - the classifier's single exit: outcome -> XDP action + per-CPU counter.
 */
#ifndef EP_BPF_STATS_H
#define EP_BPF_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../ep_shared.h"
#include "pin.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EP_STAT__COUNT);
	__type(key, __u32);
	__type(value, struct ep_counter);
	__uint(pinning, EP_PINNING);
} ep_stats SEC(".maps");

static __always_inline void ep_count(struct xdp_md *ctx, __u32 stat)
{
	struct ep_counter *c = bpf_map_lookup_elem(&ep_stats, &stat);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
}

/* Map an outcome to its action. REDIRECT_XSK is resolved by the caller before this. */
static __always_inline int ep_verdict(struct xdp_md *ctx, __u32 stat, int redirect_act)
{
	ep_count(ctx, stat);
	if (stat == EP_STAT_REDIRECT_XSK)
		return redirect_act;
	return ep_stat_is_drop(stat) ? XDP_DROP : XDP_PASS;
}

#endif /* EP_BPF_STATS_H */
