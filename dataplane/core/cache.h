/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cache.h - the result cache that makes retries idempotent.
 *
 * Keyed by (client address, port, task_id). A task is entered as PENDING when accepted,
 * so a retry that arrives while it waits or runs is ignored, and becomes DONE with its
 * encoded reply when it finishes, so a later retry is answered from here and never runs
 * twice. Entries live for a time window; memory is bounded by a count of entries and a
 * byte ring that holds the replies (oldest replies make room for new ones). Per worker,
 * not thread-safe, no allocation after creation.
 */
#ifndef EP_CACHE_H
#define EP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "edgeplane/reasm.h"

struct ep_cache_cfg {
	uint64_t window_ns;	/* how long a result answers retries */
	uint32_t entries;	/* tasks remembered */
	uint64_t bytes;		/* reply bytes held */
};

enum ep_cache_state {
	EP_CACHE_MISS = 0,
	EP_CACHE_PENDING,
	EP_CACHE_DONE,
};

/* A cached reply: what was sent, ready to be sent again. */
struct ep_cached {
	uint16_t status;	/* 0: RESPONSE, else ERROR with this status */
	uint8_t flags;		/* the reply's EP_F_* (ZSTD) */
	uint32_t len;
	const uint8_t *data;	/* valid until the next insert/complete */
	uint32_t queue_us, exec_us;
};

struct ep_cache_stats {
	uint64_t hits_done, hits_pending, inserted, completed, expired, evicted;
	uint32_t entries;
	uint64_t bytes;
};

struct ep_cache;

struct ep_cache *ep_cache_new(const struct ep_cache_cfg *cfg);
void ep_cache_free(struct ep_cache *c);

/* Look up a task. For DONE fills *out, unless @resend_gap_ns is non-zero and the entry
 * was answered from here less than that long ago: then it returns EP_CACHE_PENDING, so that
 * the fragments of one retry get one answer. */
enum ep_cache_state ep_cache_lookup(struct ep_cache *c, const struct ep_peer *p, uint64_t id,
				    uint64_t now_ns, uint64_t resend_gap_ns,
				    struct ep_cached *out);
/* No entry (a task the cache could not remember). */
#define EP_CACHE_NONE UINT64_MAX

/* Enter a task as PENDING. Returns a handle for the calls below (never EP_CACHE_NONE:
 * a full cache makes room by dropping its oldest entry). */
uint64_t ep_cache_begin(struct ep_cache *c, const struct ep_peer *p, uint64_t id,
			uint64_t now_ns);
/* Mark a PENDING task cancelled, by key. Returns 0, or -ENOENT if it is not pending. */
int ep_cache_cancel(struct ep_cache *c, const struct ep_peer *p, uint64_t id);
/* Whether the task behind @h was cancelled while pending. */
bool ep_cache_cancelled(const struct ep_cache *c, uint64_t h);
/* Store the reply of the task behind @h (nothing if its entry was evicted meanwhile).
 * Replies larger than a quarter of the ring are not kept (the entry is dropped). */
void ep_cache_complete(struct ep_cache *c, uint64_t h, const struct ep_cached *reply,
		       uint64_t now_ns);
/* Forget the task behind @h (a reply a retry should not get again, e.g. OVERLOADED). */
void ep_cache_forget(struct ep_cache *c, uint64_t h);
void ep_cache_get_stats(const struct ep_cache *c, struct ep_cache_stats *st);

#endif /* EP_CACHE_H */
