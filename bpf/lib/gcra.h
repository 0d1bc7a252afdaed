/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gcra.h - the one bucket arithmetic of edgeplane: GCRA (the generic cell rate algorithm,
 * as in ATM and in Cilium's and Katran's limiters), for the classifier's and the gateway's
 * buckets (lib/ratelimit.h per source prefix, lib/auth.h per session key) and for the
 * runtime's workers, which charge a key's buckets themselves where no classifier does
 * (the udp and io_uring backends). It calls no BPF helper, so userspace includes it too:
 * one formula, never a second one kept in step by hand.
 *
 * A bucket is one number, its "theoretical arrival time" (TAT). A datagram of cost c
 * (c / rate seconds) is admitted when max(TAT, now) + c lies at most the burst's worth of
 * time (burst / rate) after now, and then becomes the new TAT; a refused datagram leaves
 * it alone. So exactly `burst` datagrams pass at once from a full bucket, then one per
 * 1/rate, and a bucket refills by itself as time passes: no timer, no second field to keep
 * consistent with the first. Costs and tolerances are worked out once by whoever writes
 * the settings (ep_rl_derive(), ep_key_derive() in ep_shared.h), so this divides nothing.
 *
 * Times are ns of CLOCK_MONOTONIC (bpf_ktime_get_ns(), or its coarse variant, which lags
 * it by at most a tick; ep_now_ns() in userspace): the caller passes `now`.
 *
 * Concurrency: every CPU (every worker thread) may take from the same bucket. Because the
 * whole state of a bucket is the one 64-bit TAT, a compare-and-swap (BPF_CMPXCHG, since
 * 5.12; a locked cmpxchg in userspace) updates it atomically: read TAT, work out the new
 * one, swap it in if no other CPU moved it meanwhile, else read again. A CPU that loses
 * EP_RL_CAS_TRIES races in a row admits the datagram: each lost race is another CPU's
 * admission, so contention can let through at most (tries x CPUs) datagrams beyond the
 * bucket at one instant, never a sustained excess. Refused datagrams write nothing, so a
 * flood costs no cache-line ping-pong once its bucket is empty.
 */
#ifndef EP_BPF_GCRA_H
#define EP_BPF_GCRA_H

#include <stdbool.h>
#include <linux/types.h>

#include "../ep_shared.h"
#include "compiler.h"

#define EP_RL_CAS_TRIES 4

/*
 * Take @cost (in ns of the bucket's rate) from the bucket whose TAT is *tat, with a burst
 * of @tau ns. Returns true if admitted.
 */
static __always_inline bool ep_rl_take(__u64 *tat, __u64 now, __u64 cost, __u64 tau)
{
	EP_UNROLL
	for (int i = 0; i < EP_RL_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 next = (old > now ? old : now) + cost;

		if (next - now > tau)
			return false;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return true;
	}
	return true; /* every race lost: the others' admissions, see above */
}

/* One datagram (or task) of a bucket of @rate per second: @cost and @tau are its cost and
 * tolerance in ns (ep_rl_derive()). A rate of 0 is no limit. */
static __always_inline bool ep_rl_bucket(__u64 *tat, __u64 now, __u64 cost, __u64 tau, __u32 rate)
{
	return !rate || ep_rl_take(tat, now, cost, tau);
}

/*
 * A session key's buckets (struct ep_key_entry's rates, struct ep_key_state's TATs): the
 * same two steps wherever a key is charged (lib/auth.h in XDP; the worker without one).
 * ep_key_take_bytes(): a datagram of @bytes, counted as XDP sees it (the whole frame, so a
 * datagram costs at least its headers). ep_key_take_task(): a new task (fragment 0).
 * Each returns true if admitted.
 */
static __always_inline bool ep_key_take_bytes(struct ep_key_state *st, const struct ep_key_entry *e,
					      __u64 bytes, __u64 now)
{
	return ep_rl_bucket(&st->tat_bytes, now, (bytes * e->byte_cost) >> EP_RL_BYTE_SHIFT,
			    e->byte_tau_ns, e->kib_per_s);
}

static __always_inline bool ep_key_take_task(struct ep_key_state *st, const struct ep_key_entry *e,
					     __u64 now)
{
	return ep_rl_bucket(&st->tat_tasks, now, e->task_cost_ns, e->task_tau_ns, e->tasks_per_s);
}

#endif /* EP_BPF_GCRA_H */
