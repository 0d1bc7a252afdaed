/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cache.h - the result cache that makes retries idempotent.
 *
 * Keyed by (client address, port, session key id, task_id) (the key id is 0 for a task that
 * came without AUTH: a task id of one key is never answered to another key, nor to a
 * source without a key, and the other way round), and bound to what identifies the request
 * (struct ep_cache_ident): a datagram with the key whose request differs (another type,
 * tenant, length, fragment layout, compression or payload digest) is a CONFLICT, never
 * answered with this entry's reply. A task is entered as PENDING when accepted, so a retry
 * that arrives while it waits or runs is ignored, and becomes DONE with its encoded reply
 * when it finishes, so a later retry is answered from here and never runs twice.
 *
 * Replays are bounded: at most one per resend gap (10 ms; 1 ms for a single-fragment
 * request, which comes as one datagram, not a burst; the fragments of one retry get one
 * answer; a burst of copies gets one) and at most max_replays per task; beyond, a retry is
 * ignored and counted. PENDING entries are never evicted or expired (their task's end
 * completes or forgets them); when no entry is free and every entry is PENDING, a new task
 * gets no entry (EP_CACHE_NONE: the caller refuses it with OVERLOADED). DONE entries live
 * for window_ns after their reply and are evicted oldest first by the entry count and the
 * byte ring that holds the replies. Per worker, not thread-safe, no allocation after
 * creation.
 */
#ifndef EP_CACHE_H
#define EP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "edgeplane/reasm.h"

struct ep_cache_cfg {
	uint64_t window_ns;	       /* how long a result answers retries, from its reply */
	uint32_t entries;	       /* tasks remembered (pending and done) */
	uint64_t bytes;		       /* reply bytes held */
	uint32_t max_replays;	       /* cached replies per task; 0: a retry is never answered */
	uint64_t resend_gap_ns;	       /* at most one cached reply per task this often */
	uint64_t resend_gap_single_ns; /* ... for a single-fragment request (at most
					* resend_gap_ns; 0: resend_gap_ns) */
};

enum ep_cache_state {
	EP_CACHE_MISS = 0, /* no entry: a new task */
	EP_CACHE_PENDING,  /* the task is queued or running: ignore the retry */
	EP_CACHE_DONE,	   /* *out holds the reply to send again */
	EP_CACHE_QUIET,	   /* done, but inside the resend gap or past the replay budget:
			    * ignore the retry */
	EP_CACHE_CONFLICT, /* the key is taken by a different request: answer CONFLICT */
};

/* What a request is, beyond its key. Fill it with ep_cache_ident_msg() or
 * ep_cache_ident_task(). @data (if not NULL) are the bytes whose digest binds the entry:
 * a single-fragment request's payload, or fragment 0's payload of a multi-fragment one;
 * NULL for the other fragments, which are compared on the header fields alone. */
struct ep_cache_ident {
	uint16_t task_type;
	uint16_t frag_count;
	uint32_t tenant_id;
	uint32_t total_len;
	uint32_t frag_size; /* 0 for a single-fragment request */
	uint8_t zstd;	    /* the request's EP_F_ZSTD */
	bool has_digest;    /* @digest is set (ep_cache_ident_hash) */
	uint64_t digest;    /* XXH3-64 of @data, seeded with the cache's seed */
	const void *data;
	uint32_t data_len;
};

/* A cached reply: what was sent, ready to be sent again. */
struct ep_cached {
	uint16_t status; /* 0: RESPONSE, else ERROR with this status */
	uint8_t flags;	 /* the reply's EP_F_* (ZSTD) */
	uint32_t len;
	const uint8_t *data; /* valid until the next begin/complete */
	uint32_t queue_us, exec_us;
	uint32_t replays;   /* lookup: replies sent from the cache for this task, this
			     * one included (1..max_replays) */
	uint32_t frag_size; /* the fragment size the reply went out in (complete: set
			     * it; 0: unknown), so that a RESULT_ACK's indexes mean the
			     * same fragments when they are resent */
	uint16_t req_frags; /* lookup_ack: the request's frag_count */
	uint16_t resend;    /* lookup_ack, DONE: the fragments to resend (charged) */
};

/* A RESULT_ACK that repeats the previous one's count of fragments held within this is a
 * duplicate on the way (docs/protocol.md 5.1): ignored. */
#define EP_CACHE_ACK_DUP_NS (2ull * 1000 * 1000)

struct ep_cache_stats {
	uint64_t hits_done;	  /* replies sent from the cache */
	uint64_t hits_pending;	  /* retries of pending tasks, ignored */
	uint64_t hits_gap;	  /* retries inside the resend gap, ignored */
	uint64_t replays_refused; /* retries past the replay budget, ignored */
	uint64_t acks_done;	  /* RESULT_ACKs answered with fragments of a result */
	uint64_t acks_dup;	  /* RESULT_ACKs repeating the previous one, ignored */
	uint64_t acks_refused;	  /* RESULT_ACKs past the fragment budget, ignored */
	uint64_t conflicts;	  /* requests that reused a key for another request */
	uint64_t refused;	  /* new tasks without an entry: every entry pending */
	uint64_t inserted, completed, expired, evicted;
	uint32_t entries;
	uint32_t pending;
	uint64_t bytes;
};

struct ep_cache;

/* Returns a new cache, or NULL with errno set (EINVAL: no entries, under 4 KiB of bytes). */
struct ep_cache *ep_cache_new(const struct ep_cache_cfg *cfg);
void ep_cache_free(struct ep_cache *c);

/* Describe a received datagram @m with its @payload: the digest bytes are the payload of a
 * single-fragment request or of fragment 0. Does not hash (a lookup hashes only when an
 * entry exists). */
void ep_cache_ident_msg(struct ep_cache_ident *k, const struct ep_msg *m, const void *payload);
/* Describe a whole task: @m is any one of its fragments' headers, @data its payload as
 * received (reassembled, still compressed if ZSTD); NULL for no digest. */
void ep_cache_ident_task(struct ep_cache_ident *k, const struct ep_msg *m, const void *data);
/* Compute @k's digest now (before its data goes away). */
void ep_cache_ident_hash(const struct ep_cache *c, struct ep_cache_ident *k);

/*
 * Look up a task's key and check @k against the entry. A DONE entry fills *out and counts
 * a replay, unless the last reply for it went out less than resend_gap_ns ago or it was
 * replayed max_replays times (then QUIET). A PENDING or DONE entry whose request differs
 * from @k gives CONFLICT (the digest is compared when both sides have one).
 */
enum ep_cache_state ep_cache_lookup(struct ep_cache *c, const struct ep_peer *p, uint16_t key,
				    uint64_t id, const struct ep_cache_ident *k, uint64_t now_ns,
				    struct ep_cached *out);
/*
 * Look up a task for a RESULT_ACK (docs/protocol.md 5.1), by its key alone (a RESULT_ACK
 * has no request to compare). @a is the decoded acknowledgement (the result's fragments the
 * client holds). Returns
 *   MISS     no entry (never seen, expired, forgotten);
 *   PENDING  queued or running: out->req_frags is the request's frag_count;
 *   DONE     out holds the reply, out->resend the fragments of it not listed in @a (all of
 *            them if @a's count is not the reply's), charged to the entry: in all at most
 *            max_replays x the reply's fragment count are resent by acknowledgements;
 *   QUIET    DONE, but @a repeats the previous RESULT_ACK's count of fragments held within
 *            EP_CACHE_ACK_DUP_NS (a duplicate), or the fragments to resend would pass that
 *            budget, or nothing is missing.
 * The resend gap of whole replays does not apply: a RESULT_ACK asks only for what is
 * missing. An answer from here also counts as the reply's latest sending for that gap.
 */
enum ep_cache_state ep_cache_lookup_ack(struct ep_cache *c, const struct ep_peer *p, uint16_t key,
					uint64_t id, const struct ep_ack *a, uint64_t now_ns,
					struct ep_cached *out);
/* The fragments the last DONE ep_cache_lookup_ack() of this key charged (@n) did not go: a
 * RETRY went instead. They are refunded, and the next RESULT_ACK is no duplicate. */
void ep_cache_ack_unsent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			 uint16_t n);

/* No entry (a task the cache could not remember). */
#define EP_CACHE_NONE UINT64_MAX

/* Enter a task as PENDING, bound to @k (hashed here if it has data and no digest yet; a
 * DONE entry of the same key is replaced). Returns a handle for the calls below, or
 * EP_CACHE_NONE when every entry is PENDING (or the key is PENDING already): the caller
 * refuses the task with OVERLOADED. A full cache makes room by evicting its oldest DONE
 * entry. */
uint64_t ep_cache_begin(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			const struct ep_cache_ident *k, uint64_t now_ns);
/* Mark a PENDING task cancelled, by key. Returns 0, or -ENOENT if it is not pending. */
int ep_cache_cancel(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id);
/* Whether the task behind @h was cancelled while pending. */
bool ep_cache_cancelled(const struct ep_cache *c, uint64_t h);
/* Store the reply of the task behind @h, which just went out at @now_ns (nothing if @h is
 * EP_CACHE_NONE or stale). Replies larger than a quarter of the ring are not kept (the
 * entry is dropped). */
void ep_cache_complete(struct ep_cache *c, uint64_t h, const struct ep_cached *reply,
		       uint64_t now_ns);
/* Forget the task behind @h (a reply a retry should not get again, e.g. OVERLOADED). */
void ep_cache_forget(struct ep_cache *c, uint64_t h);
/* The reply that the last DONE lookup of this key (or the complete() of its task) stood
 * for did not go out at @now_ns: a RETRY went instead, to a source that must first
 * validate its address. Neither the resend gap nor the replay budget counts it, so the
 * retry that carries the token is answered at once. Nothing if the key is not DONE. */
void ep_cache_unsent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
		     uint64_t now_ns);
/* Whether a RETRY went for this DONE task less than the resend gap ago: the fragments of
 * one unvalidated retry get one RETRY between them, not one each. */
bool ep_cache_retry_recent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			   uint64_t now_ns);
void ep_cache_get_stats(const struct ep_cache *c, struct ep_cache_stats *st);

#endif /* EP_CACHE_H */
