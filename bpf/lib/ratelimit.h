/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ratelimit.h - token buckets per source prefix, for the classifier and the gateway.
 *
 * A source address (16-byte form) is masked to its prefix (ep_rl_cfg.prefix_v4/v6) and
 * looked up in ep_rl_state, an LRU hash: a prefix nobody has heard from in a while makes
 * room for a new one. Each entry holds one bucket per count (datagrams, bytes, and at the
 * gateway new tasks). A datagram over a bucket is dropped by the caller with the reason
 * returned here, so the one exit counts it (stats.h).
 *
 * Buckets are GCRA (lib/gcra.h, which says how they work and how CPUs share one): a
 * bucket is one 64-bit "theoretical arrival time", updated with compare-and-swap.
 * Times are ns of CLOCK_MONOTONIC: the caller passes `now`.
 *
 * Why compare-and-swap here: bpf_spin_lock is not an option for this map: a spin lock in
 * an LRU hash value is refused at map creation (the probe: EOPNOTSUPP on this 6.18
 * kernel, and 6.1's map_check_btf admits locks only in hash, array and storage maps), and
 * a plain hash would let a flood of new prefixes fill it for good.
 */
#ifndef EP_BPF_RATELIMIT_H
#define EP_BPF_RATELIMIT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../ep_shared.h"
#include "gcra.h"
#include "parse.h"
#include "pin.h"

/* Rate limit settings; key 0. See struct ep_rl_cfg. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_rl_cfg);
	__uint(pinning, EP_PINNING);
} ep_rl_cfg SEC(".maps");

/* The prefixes' buckets. A node's classifier starts them afresh at each load; the
 * gateway, whose controller restarts under live traffic, pins them (it defines
 * EP_RL_STATE_PINNING as EP_PINNING before including this). */
#ifndef EP_RL_STATE_PINNING
#define EP_RL_STATE_PINNING LIBBPF_PIN_NONE
#endif
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EP_RL_STATE_MAX);
	__type(key, struct ep_rl_key);
	__type(value, struct ep_rl_state);
	__uint(pinning, EP_RL_STATE_PINNING);
} ep_rl_state SEC(".maps");

/* The settings for this frame, into @c: the map entry, or the defaults if nothing was
 * written to it. Returns false when there is no limit (EP_RL_F_OFF). (A copy, not a
 * pointer to a constant: a constant struct would be a .rodata variable whose BTF the
 * compiler leaves behind when it folds the fields, which the kernel refuses.) */
static __always_inline bool ep_rl_settings(struct ep_rl_cfg *c)
{
	__u32 zero = 0;
	const struct ep_rl_cfg *m = bpf_map_lookup_elem(&ep_rl_cfg, &zero);

	if (m && (m->flags & EP_RL_F_SET)) { /* !m: only for the verifier (an array) */
		*c = *m;
		return !(c->flags & EP_RL_F_OFF);
	}
	ep_rl_defaults(c);
	ep_rl_derive(c); /* constants: the compiler works them out */
	return true;
}

/* Keep the first @plen bits of the 16-byte address in @w (network order words). */
static __always_inline void ep_rl_mask(__u32 w[4], __u32 plen)
{
	EP_UNROLL
	for (int i = 0; i < 4; i++) {
		__u32 lo = (__u32)i * 32;

		if (plen <= lo)
			w[i] = 0;
		else if (plen < lo + 32)
			w[i] &= bpf_htonl(~0u << (32 - (plen - lo)));
	}
}

/*
 * The bucket entry of the prefix of @addr (16-byte form; IPv4 as ::ffff:a.b.c.d), created
 * full if there is none. NULL only if the map refuses both the insert and the lookup.
 */
static __always_inline struct ep_rl_state *ep_rl_entry(const struct ep_rl_cfg *c,
						       const __u8 addr[16], bool ipv6)
{
	struct ep_rl_state fresh = {}, *st;
	__u32 w[4];

	__builtin_memcpy(w, addr, 16);
	ep_rl_mask(w, ipv6 ? (c->prefix_v6 > 128 ? 128 : c->prefix_v6)
			   : 96 + (c->prefix_v4 > 32 ? 32 : c->prefix_v4));
	st = bpf_map_lookup_elem(&ep_rl_state, w);
	if (st)
		return st;
	/* Another CPU may create it at the same time: then its entry stands. */
	bpf_map_update_elem(&ep_rl_state, w, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&ep_rl_state, w);
}

/*
 * Admit a datagram of @bytes from @addr. Returns 0, or -EP_STAT_DROP_RATE_PACKETS /
 * -EP_STAT_DROP_RATE_BYTES; *stp is its prefix's entry (NULL without limits), for
 * ep_rl_task(). The datagram bucket is taken first: a datagram it admits and the byte
 * bucket refuses has used its datagram token.
 */
static __always_inline int ep_rl_admit(const __u8 addr[16], bool ipv6, __u64 bytes, __u64 now,
				       struct ep_rl_state **stp)
{
	struct ep_rl_cfg c;
	struct ep_rl_state *st;

	*stp = NULL;
	if (!ep_rl_settings(&c))
		return 0;
	st = ep_rl_entry(&c, addr, ipv6);
	if (!st)
		return 0; /* the map is unusable: fail open, as without it */
	*stp = st;
	if (!ep_rl_bucket(&st->tat_packets, now, c.packet_cost_ns, c.packet_tau_ns,
			  c.packets_per_s))
		return -EP_STAT_DROP_RATE_PACKETS;
	if (!ep_rl_bucket(&st->tat_bytes, now, (bytes * c.byte_cost) >> EP_RL_BYTE_SHIFT,
			  c.byte_tau_ns, c.bytes_per_s))
		return -EP_STAT_DROP_RATE_BYTES;
	return 0;
}

/* A new task from the prefix of @st (from ep_rl_admit()). Returns 0 or
 * -EP_STAT_DROP_RATE_TASKS. */
static __always_inline int ep_rl_task(struct ep_rl_state *st, __u64 now)
{
	struct ep_rl_cfg c;

	if (!st || !ep_rl_settings(&c) ||
	    ep_rl_bucket(&st->tat_tasks, now, c.task_cost_ns, c.task_tau_ns, c.tasks_per_s))
		return 0;
	return -EP_STAT_DROP_RATE_TASKS;
}

#endif /* EP_BPF_RATELIMIT_H */
