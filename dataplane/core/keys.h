/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * keys.h - the session keys a node knows (docs/protocol.md 3.5), read by every worker on
 * every AUTH datagram, changed by one writer (the key source: a keys file or the
 * controller's sync) a few times a second at most.
 *
 * Readers take no lock. The table is an array of 65536 pointers, one per key id, to
 * immutable entries (struct ep_key). The writer builds a new entry, publishes it with one
 * atomic store and retires the old one; an entry is freed only after a grace period
 * (quiescent-state-based reclamation, as RCU's QSBR flavour): every reader (a worker,
 * struct ep_keytab_reader) declares a quiescent state once per loop iteration, between
 * bursts, where it holds no entry pointer: ep_keytab_quiesce() copies the table's epoch
 * into the reader's slot. The writer bumps the epoch after each change and frees a retired
 * entry once every registered reader has reached the epoch of its retirement. Readers never
 * wait; a reader stuck in a long handler call only delays the frees. Chosen over per-slot
 * seqlocks because an entry is about 300 bytes (copying it per datagram, and retrying, would
 * cost more than the pointer load) and because each worker keeps OpenSSL contexts keyed
 * with an entry's key, which must be recognised as stale by something cheaper than a key
 * compare: the entry's generation.
 *
 * One thing in an entry is mutable: the key's replay window (struct ep_replay), shared by
 * every worker of the node behind a spinlock held for the check and the mark only. It lives
 * in its own object, which a new entry for the same key (same id, same bytes, same issue
 * time: a change of limits or a revocation) takes over, so republishing a key never opens
 * its window again.
 *
 * Each reader keeps its own struct ep_aead per key (OpenSSL contexts are one thread's):
 * made at the first datagram of a key, and dropped by ep_keytab_quiesce() when the key's
 * entry changes or goes. Nothing is allocated per datagram.
 *
 * Times: a key's issue and expiry (unix ms from the controller) are mapped onto this
 * node's CLOCK_MONOTONIC when the entry is made, so the freshness check (the device counts
 * seconds since it got the key on its own monotonic clock) and the expiry do not move when
 * the wall clock steps.
 */
#ifndef EP_KEYS_H
#define EP_KEYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "edgeplane/auth.h"
#include "edgeplane/enroll.h" /* struct ep_key_info */
#include "ep_shared.h"	      /* struct ep_key_entry, struct ep_key_state */

#define EP_KEY_IDS 65536 /* key ids 1..65535; 0 is never a key */

/* Whether the role of @l allows task type @type. Types above 255 never are, not even with
 * "types": "*" (auth-design section 2), which enroll.h's ep_key_allows_type() lets by. */
static inline bool ep_key_type_allowed(const struct ep_key_limits *l, uint16_t type)
{
	return type < 256 && (l->all_types || (l->types[type / 64] >> (type % 64) & 1));
}

struct ep_key_win;

/* A published key: immutable, except through ep_key_replay() and its buckets. */
struct ep_key {
	struct ep_key_info info;
	int64_t issued_ns;  /* CLOCK_MONOTONIC ns of its issue, as this node counts
			     * (before the boot: negative) */
	int64_t expires_ns; /* ... of its expiry */
	uint64_t gen;	    /* unique among all entries of the table */
	struct ep_key_win *win;
	/* What XDP gets of the key (ep_key_entry_fill(), on the table's clock mapping: its
	 * expires_ns is this entry's, to the ns), and the rates the workers charge with it
	 * where no classifier does (ep_key_buckets()). */
	struct ep_key_entry xdp;
};

static inline bool ep_key_expired(const struct ep_key *k, uint64_t now_ns)
{
	return (int64_t)now_ns >= k->expires_ns;
}

/*
 * Freshness: the seconds of the device's @pn against the seconds since the key's issue on
 * this node's clock at @now_ns, within @skew_s either way. A pn whose seconds are at their
 * cap (EP_AUTH_SECS_MAX) is fresh when the node's count is at least the cap less the skew.
 */
bool ep_key_fresh(const struct ep_key *k, uint64_t pn, uint64_t now_ns, uint32_t skew_s);

/*
 * The replay window of @k, for the counter of @pn: 0 if the counter is new, and then it is
 * marked (call it only after the tag verified); -EALREADY (seen) or -ESTALE (older than
 * the window). Thread-safe: every worker shares the window.
 */
int ep_key_replay(const struct ep_key *k, uint64_t pn);

/*
 * The key's buckets (GCRA, bpf/lib/gcra.h's ep_key_take_bytes() and ep_key_take_task()
 * with @k->xdp's rates), shared by every worker of the node and, like the replay window,
 * kept when the same key is published again (a sync must not refill them): for a worker
 * that has no classifier in front of it to charge the key before the tag is checked.
 */
struct ep_key_state *ep_key_buckets(const struct ep_key *k);

struct ep_keytab;
struct ep_keytab_reader;

/* An empty table; its node pn starts at CLOCK_REALTIME in ns. NULL with errno set. */
struct ep_keytab *ep_keytab_new(void);
/* Frees every entry, retired ones too. Every reader must have been freed. */
void ep_keytab_free(struct ep_keytab *t);

/* The entry of key @id, or NULL: valid until the caller's next ep_keytab_quiesce(). A
 * reader's thread only (an acquire load, no lock). */
const struct ep_key *ep_keytab_get(const struct ep_keytab *t, uint16_t id);

/* --- the writer (any thread; writers are serialised by the table's mutex) ---------------- */

/*
 * Publish @k (copied) as the entry of its key id, replacing the one there. @now_unix_ms
 * and @now_ns are the wall and monotonic clocks now (ep_keytab_set_now() reads them): the
 * issue and expiry times are mapped from the first onto the second, except that an entry
 * for the same key (same bytes and issue time) keeps its predecessor's times and replay
 * window. Returns 0, -EINVAL (key id 0) or -ENOMEM.
 */
int ep_keytab_set(struct ep_keytab *t, const struct ep_key_info *k, uint64_t now_unix_ms,
		  uint64_t now_ns);
int ep_keytab_set_now(struct ep_keytab *t, const struct ep_key_info *k);
/* Remove the entry of key @id (nothing if there is none). */
void ep_keytab_del(struct ep_keytab *t, uint16_t id);
/* Remove every entry whose id is not set in @keep (a bitmap of EP_KEY_IDS bits): what a
 * full reload does after setting the keys it read. Returns how many went. */
unsigned int ep_keytab_del_others(struct ep_keytab *t, const uint64_t *keep);
/*
 * A mirror of the table (the classifier's ep_keys): @fn is called for every change, by the
 * writer that makes it, under the table's mutex, right after the change is published:
 * @k the new entry of key @id, or NULL when the key went. A key published again unchanged
 * (the same struct ep_key_entry, a keys file read again) is not passed again. @fn returns
 * 0 or a negative errno; a key id it failed on is passed again (as the table has it then)
 * by ep_keytab_reclaim(), which the key source calls every round. Setting the mirror
 * passes every key the table holds now, and passes as gone every id set in @held (a
 * bitmap of EP_KEY_IDS bits, or NULL: the ids the mirror holds already, such as a pinned
 * map an earlier run wrote) that the table does not hold: all under the table's mutex, so
 * a writer running meanwhile loses nothing. One mirror; NULL @fn removes it. Returns 0 or
 * the first error of @fn.
 */
typedef int (*ep_keytab_mirror_fn)(void *arg, uint16_t id, const struct ep_key *k);
int ep_keytab_set_mirror(struct ep_keytab *t, ep_keytab_mirror_fn fn, void *arg,
			 const uint64_t *held);

/* Free the retired entries every reader has passed. Returns how many remain retired. */
unsigned int ep_keytab_reclaim(struct ep_keytab *t);
/* Keys published now. */
unsigned int ep_keytab_count(const struct ep_keytab *t);

/* The node's id, the sender of everything it seals (0: not known yet). */
void ep_keytab_set_node_id(struct ep_keytab *t, uint32_t node_id);
uint32_t ep_keytab_node_id(const struct ep_keytab *t);
/* The node's next pn: one per sealed datagram, whatever the key (thread-safe). */
uint64_t ep_keytab_next_pn(struct ep_keytab *t);

/* --- a reader (one per worker thread) ---------------------------------------------------- */

/* Register a reader. From now on, entries retired wait for its quiescent states. NULL with
 * errno set. */
struct ep_keytab_reader *ep_keytab_reader_new(struct ep_keytab *t);
/* Unregister and free the reader's contexts. NULL is fine. */
void ep_keytab_reader_free(struct ep_keytab_reader *r);
/*
 * A quiescent state: the reader holds no entry pointer from before. Drops the contexts of
 * keys that changed or went since the last one. Cheap when nothing changed (two loads).
 */
void ep_keytab_quiesce(struct ep_keytab_reader *r);
/* The reader's AEAD context for @k (an entry it got from ep_keytab_get()), made on the
 * first use. NULL with errno set (ENOMEM, EIO). */
struct ep_aead *ep_keytab_aead(struct ep_keytab_reader *r, const struct ep_key *k);

#endif /* EP_KEYS_H */
