/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * auth.h - session keys and roles in XDP, for the classifier and the gateway (issue 12).
 *
 * XDP cannot verify an AUTH datagram's tag (no AES in BPF); the runtime does, after this.
 * What XDP can do is everything else a key says, before userspace spends anything on the
 * datagram: the key exists (ep_keys), is neither revoked nor expired, belongs to the
 * header's tenant, and its role allows the request's task type, priority and size; and the
 * key is within its tasks/s and bytes/s (GCRA buckets in ep_key_state, updated with
 * compare-and-swap, lib/gcra.h's ep_key_take_*(), which the runtime's workers use too
 * where no classifier is in front of them).
 *
 * Where AUTH is checked (mode required or optional), the datagram is charged to its key's
 * buckets and not to its source prefix's (unless the key has no rate: ep_auth_unmetered()): the key
 * bucket is the tighter, per-device bound, which a sender cannot escape by changing its source
 * address; and devices behind one NAT or one /24 are then not starved by an unauthenticated flood
 * from the same prefix, which is what keys are for. Datagrams without AUTH keep the per-prefix
 * guards.
 *
 * The trade-off (docs/security.md): the buckets are charged before the tag is verified, so
 * anyone who has seen a valid key id on the wire can spend that key's budget with forged
 * datagrams, and the device's own tasks are then dropped here until the bucket refills.
 * In exchange, the AEAD checks the runtime does for one key id are bounded by the key's
 * rate, whoever sends them; a key id that is unknown, expired or revoked costs the runtime
 * nothing at all.
 */
#ifndef EP_BPF_AUTH_H
#define EP_BPF_AUTH_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../ep_shared.h"
#include "gcra.h"
#include "pin.h"
#include "ratelimit.h"

/* The node's mode; key 0. See struct ep_auth_cfg. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ep_auth_cfg);
	__uint(pinning, EP_PINNING);
} ep_auth_cfg SEC(".maps");

/* Key id -> what the key allows. See struct ep_key_entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EP_KEYS_MAX);
	__type(key, __u32);
	__type(value, struct ep_key_entry);
	__uint(pinning, EP_PINNING);
} ep_keys SEC(".maps");

/* Key id -> its buckets. See struct ep_key_state for why a map of its own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EP_KEYS_MAX);
	__type(key, __u32);
	__type(value, struct ep_key_state);
	__uint(pinning, EP_PINNING);
} ep_key_state SEC(".maps");

/* The mode for this frame: EP_AUTH_MODE_OFF unless a loader wrote one; a value out of
 * range (written by hand) is taken as the strictest. */
static __always_inline __u8 ep_auth_mode(void)
{
	__u32 zero = 0;
	const struct ep_auth_cfg *c = bpf_map_lookup_elem(&ep_auth_cfg, &zero);

	if (!c || !(c->flags & EP_AUTH_F_SET)) /* !c: only for the verifier (an array) */
		return EP_AUTH_MODE_OFF;
	return c->mode < EP_AUTH_MODE__COUNT ? c->mode : EP_AUTH_MODE_REQUIRED;
}

/* What ep_auth_check() found, for the caller's steering and its ep_auth_task(). */
struct ep_auth {
	const struct ep_key_entry *key;
	struct ep_key_state *st;
	__u32 key_id;
};

/*
 * An AUTH datagram of @bytes (the frame as XDP sees it) against its key, at @now
 * (bpf_ktime_get_ns() clock). @h is a header that passed ep_hdr_check(). The role's limits
 * on type and size apply to requests (a PING or CANCEL carries no task of its own), its
 * priority ceiling to every kind (each is steered by its priority). The bytes bucket is charged
 * here; the tasks bucket by the caller, who knows what a new task is (ep_auth_task()). Returns 0
 * with @a filled, or -EP_STAT_DROP_AUTH_*.
 */
static __always_inline int ep_auth_check(const struct ep_hdr *h, __u64 bytes, __u64 now,
					 struct ep_auth *a)
{
	__u32 id = bpf_ntohs(h->auth_key_id);
	const struct ep_key_entry *e;
	struct ep_key_state *st;

	if (!id) /* 0 is never a key */
		return -EP_STAT_DROP_AUTH_UNKNOWN_KEY;
	e = bpf_map_lookup_elem(&ep_keys, &id);
	if (!e)
		return -EP_STAT_DROP_AUTH_UNKNOWN_KEY;
	if (e->flags & EP_KEY_F_REVOKED)
		return -EP_STAT_DROP_AUTH_REVOKED;
	if (e->expires_ns && now >= e->expires_ns)
		return -EP_STAT_DROP_AUTH_EXPIRED;
	if (bpf_ntohl(h->tenant_id) != e->tenant)
		return -EP_STAT_DROP_AUTH_TENANT;
	/* Every kind: a PING or CANCEL is steered by its priority too. A role's max_priority
	 * of 0 (a node's own key) allows nothing: every valid priority is above it. */
	if (h->priority > e->max_priority)
		return -EP_STAT_DROP_AUTH_PRIORITY;
	if (h->kind == EP_KIND_REQUEST) {
		__u32 type = bpf_ntohs(h->task_type);

		if (type >= EP_KEY_TYPES || (!(e->flags & EP_KEY_F_ALL_TYPES) &&
					     !((e->types[type / 64] >> (type % 64)) & 1)))
			return -EP_STAT_DROP_AUTH_TYPE;
		if (e->max_task_len && bpf_ntohl(h->total_len) > e->max_task_len)
			return -EP_STAT_DROP_AUTH_TOO_LARGE;
	}
	st = bpf_map_lookup_elem(&ep_key_state, &id);
	if (!st) /* an array of EP_KEYS_MAX and id < 65536: only for the verifier */
		return -EP_STAT_DROP_AUTH_UNKNOWN_KEY;
	if (!ep_key_take_bytes(st, e, bytes, now))
		return -EP_STAT_DROP_AUTH_RATE_BYTES;
	a->key = e;
	a->st = st;
	a->key_id = id;
	return 0;
}

/*
 * Whether the key ep_auth_check() admitted into @a has no rate of its own (a role without
 * tasks_per_s and kib_per_s): then its datagrams pay their source prefix's limits as well,
 * or a sender that saw the key id on the wire would have no limit at all.
 */
static __always_inline bool ep_auth_unmetered(const struct ep_auth *a)
{
	return !a->key || (!a->key->tasks_per_s && !a->key->kib_per_s);
}

/* A new task under the key ep_auth_check() admitted into @a. Returns 0 or
 * -EP_STAT_DROP_AUTH_RATE_TASKS. */
static __always_inline int ep_auth_task(const struct ep_auth *a, __u64 now)
{
	const struct ep_key_entry *e = a->key;
	struct ep_key_state *st = a->st;

	/* Set by ep_auth_check(); the verifier may not carry that across the caller's
	 * branches, so it sees the check. */
	if (!e || !st || ep_key_take_task(st, e, now))
		return 0;
	return -EP_STAT_DROP_AUTH_RATE_TASKS;
}

#endif /* EP_BPF_AUTH_H */
