// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Result cache: preallocated entries in a chained hash table, a FIFO list of the DONE
 * entries by reply time (for the window and for eviction; PENDING entries are on no list,
 * so nothing can evict them), and a byte ring for the replies. Each reply block in the ring
 * starts with a small header naming its entry, so making room at the ring's head evicts
 * exactly the entries whose replies are overwritten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xxhash.h>

#include "edgeplane/util.h"
#include "ep_check.h"

#include "core/cache.h"

#define NIL (-1)

/*
 * An entry. find() walks hash chains comparing (id, port, key, addr) and its callers then
 * read the state, so those, the chain and DONE-list links are all in the first of the
 * entry's cache lines (entries are cache-line aligned): a lookup costs one line per entry
 * it passes, not two. At 400 000 tasks/s a 65 536-entry cache turns over every 160 ms,
 * and its lookups and evictions miss the CPU caches every time.
 */
struct cent {
	int32_t hnext, prev, next;
	uint16_t key; /* session key id; 0: a task without AUTH */
	uint16_t port;
	uint64_t id;
	uint8_t addr[16];
	uint32_t gen;
	uint8_t state, cancelled, flags, zstd;
	uint8_t has_digest;
	uint16_t status;
	uint16_t task_type, frag_count;
	/* -- the first cache line ends here (56 bytes so far) -- */
	uint32_t tenant_id, total_len, frag_size;
	uint32_t replays;
	uint64_t digest;
	uint64_t done_ns, last_sent_ns;
	uint64_t prev_sent_ns;	/* last_sent_ns before the latest DONE lookup */
	uint64_t last_retry_ns; /* a RETRY went instead of the reply (ep_cache_unsent()) */
	uint64_t off;		/* ring offset of the reply data */
	uint32_t len, queue_us, exec_us;
	uint32_t reply_fs;  /* the reply's fragment size (0: unknown) */
	uint32_t ack_frags; /* fragments resent for RESULT_ACKs */
	uint32_t ack_held;  /* the last RESULT_ACK's count held ... */
	uint64_t ack_ns;    /* ... and when it came (0: none yet) */
} __attribute__((aligned(64)));
_Static_assert(__builtin_offsetof(struct cent, frag_count) + 2 <= 64,
	       "what find() and its callers read is in the entry's first cache line");

struct block {	     /* header of a reply block in the ring */
	int32_t ent; /* NIL for padding */
	uint32_t gen;
	uint32_t size; /* whole block, header included, multiple of 8 */
	uint32_t pad;
};

struct ep_cache {
	struct ep_cache_cfg cfg;
	struct ep_cache_stats st;
	uint64_t seed;
	struct cent *ents;
	int32_t *heads;
	uint32_t mask;
	int32_t free, oldest, newest; /* oldest/newest: the DONE list */
	uint8_t *ring;
	uint64_t head, tail; /* byte counters; offsets are modulo cfg.bytes */
};

static uint32_t bucket(const struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id)
{
	uint64_t a, b;

	memcpy(&a, p->addr, 8);
	memcpy(&b, p->addr + 8, 8);
	return (uint32_t)(ep_mix64(c->seed ^ id ^
				   ep_mix64(a ^ ep_mix64(b ^ p->port ^ (uint64_t)key << 16))) &
			  c->mask);
}

struct ep_cache *ep_cache_new(const struct ep_cache_cfg *cfg)
{
	struct ep_cache *c;
	uint32_t nb = 16;

	if (!cfg->entries || cfg->bytes < 4096 || cfg->entries > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->cfg.bytes &= ~7ull;
	while (nb < 2 * cfg->entries)
		nb <<= 1;
	c->mask = nb - 1;
	c->ents = aligned_alloc(64, (size_t)cfg->entries * sizeof(*c->ents));
	if (c->ents)
		memset(c->ents, 0, (size_t)cfg->entries * sizeof(*c->ents));
	c->heads = malloc(nb * sizeof(*c->heads));
	c->ring = malloc(c->cfg.bytes);
	if (!c->ents || !c->heads || !c->ring) {
		ep_cache_free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
		c->seed = (uint64_t)(uintptr_t)c;
	for (uint32_t i = 0; i < nb; i++)
		c->heads[i] = NIL;
	for (uint32_t i = 0; i < cfg->entries; i++)
		c->ents[i].hnext = i + 1 < cfg->entries ? (int32_t)i + 1 : NIL;
	c->free = 0;
	c->oldest = c->newest = NIL;
	return c;
}

void ep_cache_free(struct ep_cache *c)
{
	if (!c)
		return;
	free(c->ents);
	free(c->heads);
	free(c->ring);
	free(c);
}

/* --- what a request is --------------------------------------------------------------- */

void ep_cache_ident_msg(struct ep_cache_ident *k, const struct ep_msg *m, const void *payload)
{
	*k = (struct ep_cache_ident){
		.task_type = m->task_type,
		.frag_count = m->frag_count,
		.tenant_id = m->tenant_id,
		.total_len = m->total_len,
		.frag_size =
			ep_frag_size(m->frag_index, m->frag_count, m->frag_offset, m->payload_len),
		.zstd = !!(m->flags & EP_F_ZSTD),
	};
	if (m->frag_index == 0) { /* a single fragment's payload, or fragment 0's */
		k->data = payload;
		k->data_len = m->payload_len;
	}
}

void ep_cache_ident_task(struct ep_cache_ident *k, const struct ep_msg *m, const void *data)
{
	ep_cache_ident_msg(k, m, NULL);
	if (data) {
		k->data = data;
		k->data_len = m->frag_count > 1 ? k->frag_size : m->total_len;
	}
}

static uint64_t digest(const struct ep_cache *c, const void *data, uint32_t len)
{
	return XXH3_64bits_withSeed(len ? data : "", len, c->seed);
}

void ep_cache_ident_hash(const struct ep_cache *c, struct ep_cache_ident *k)
{
	if (k->has_digest || !k->data)
		return;
	k->digest = digest(c, k->data, k->data_len);
	k->has_digest = true;
}

/* Whether @k is the request entry @e was made for. */
static bool same_request(const struct ep_cache *c, const struct cent *e,
			 const struct ep_cache_ident *k)
{
	if (e->task_type != k->task_type || e->tenant_id != k->tenant_id ||
	    e->total_len != k->total_len || e->frag_count != k->frag_count ||
	    e->frag_size != k->frag_size || e->zstd != k->zstd)
		return false;
	if (!e->has_digest || (!k->has_digest && !k->data))
		return true; /* a fragment other than 0, or an entry without a digest */
	return e->digest == (k->has_digest ? k->digest : digest(c, k->data, k->data_len));
}

/* --- entries ------------------------------------------------------------------------- */

static int32_t find(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id)
{
	for (int32_t i = c->heads[bucket(c, p, key, id)]; i != NIL; i = c->ents[i].hnext) {
		const struct cent *e = &c->ents[i];

		if (e->id == id && e->port == p->port && e->key == key &&
		    !memcmp(e->addr, p->addr, 16))
			return i;
	}
	return NIL;
}

static void done_unlink(struct ep_cache *c, int32_t i)
{
	struct cent *e = &c->ents[i];

	if (e->prev != NIL)
		c->ents[e->prev].next = e->next;
	else
		c->oldest = e->next;
	if (e->next != NIL)
		c->ents[e->next].prev = e->prev;
	else
		c->newest = e->prev;
}

static void done_append(struct ep_cache *c, int32_t i)
{
	struct cent *e = &c->ents[i];

	e->next = NIL;
	e->prev = c->newest;
	if (c->newest != NIL)
		c->ents[c->newest].next = i;
	else
		c->oldest = i;
	c->newest = i;
}

static void remove_ent(struct ep_cache *c, int32_t i)
{
	struct cent *e = &c->ents[i];
	struct ep_peer p = { .port = e->port };
	int32_t *pp;

	memcpy(p.addr, e->addr, 16);
	for (pp = &c->heads[bucket(c, &p, e->key, e->id)]; *pp != i; pp = &c->ents[*pp].hnext)
		;
	*pp = e->hnext;
	if (e->state == EP_CACHE_DONE)
		done_unlink(c, i);
	else
		c->st.pending--;
	e->gen++; /* its ring block, if any, is now stale */
	e->state = EP_CACHE_MISS;
	e->hnext = c->free;
	c->free = i;
	c->st.entries--;
}

static bool done_expired(const struct ep_cache *c, const struct cent *e, uint64_t now_ns)
{
	return (int64_t)(now_ns - e->done_ns) >= (int64_t)c->cfg.window_ns;
}

/*
 * Remove the oldest DONE entry, and prefetch what removing the next ones will read: the
 * hash chain head of the next (whose entry the previous call prefetched) and the entry
 * after it. Under load every new task evicts (or expires) one, and each is cold by then.
 */
static void remove_oldest(struct ep_cache *c)
{
	const struct cent *o;
	struct ep_peer p;

	remove_ent(c, c->oldest);
	if (c->oldest == NIL)
		return;
	o = &c->ents[c->oldest];
	p.port = o->port;
	memcpy(p.addr, o->addr, 16);
	__builtin_prefetch(&c->heads[bucket(c, &p, o->key, o->id)], 1);
	if (o->next != NIL)
		__builtin_prefetch(&c->ents[o->next], 1);
}

static void expire(struct ep_cache *c, uint64_t now_ns)
{
	while (c->oldest != NIL && done_expired(c, &c->ents[c->oldest], now_ns)) {
		remove_oldest(c);
		c->st.expired++;
	}
}

/* The entry of (@p, @key, @id), NIL if none or if its result's window has passed (the
 * entry then goes). */
static int32_t find_live(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			 uint64_t now_ns)
{
	int32_t i = find(c, p, key, id);

	if (i != NIL && c->ents[i].state == EP_CACHE_DONE && done_expired(c, &c->ents[i], now_ns)) {
		remove_ent(c, i);
		c->st.expired++;
		return NIL;
	}
	return i;
}

/* The resend gap for a retry like @k: a multi-fragment one arrives as a burst of its
 * fragments, which gets one answer; a single datagram is a burst only of copies, which
 * come within microseconds, so its gap is short enough for clients whose retry timeout
 * is a few milliseconds (a lost reply is replayed at their first retry, not their third). */
static uint64_t gap_of(const struct ep_cache *c, const struct ep_cache_ident *k)
{
	uint64_t single = c->cfg.resend_gap_single_ns;

	return k->frag_count > 1 || !single || single > c->cfg.resend_gap_ns ? c->cfg.resend_gap_ns
									     : single;
}

/* The done entry of (@p, @key, @id), expired or not, or NULL. */
static struct cent *find_done(struct ep_cache *c, const struct ep_peer *p, uint16_t key,
			      uint64_t id)
{
	int32_t i = find(c, p, key, id);

	return i == NIL || c->ents[i].state != EP_CACHE_DONE ? NULL : &c->ents[i];
}

/* What a lookup gives for done entry @e: its reply and timings (the other fields zero). */
static void cached_of(const struct ep_cache *c, const struct cent *e, struct ep_cached *out)
{
	*out = (struct ep_cached){
		.status = e->status,
		.flags = e->flags,
		.len = e->len,
		.data = c->ring + e->off,
		.queue_us = e->queue_us,
		.exec_us = e->exec_us,
		.replays = e->replays,
	};
}

enum ep_cache_state ep_cache_lookup(struct ep_cache *c, const struct ep_peer *p, uint16_t key,
				    uint64_t id, const struct ep_cache_ident *k, uint64_t now_ns,
				    struct ep_cached *out)
{
	int32_t i = find_live(c, p, key, id, now_ns);
	struct cent *e;

	if (i == NIL)
		return EP_CACHE_MISS;
	e = &c->ents[i];
	if (!same_request(c, e, k)) {
		c->st.conflicts++;
		return EP_CACHE_CONFLICT;
	}
	if (e->state == EP_CACHE_PENDING) {
		c->st.hits_pending++;
		return EP_CACHE_PENDING;
	}
	/* Signed: a reply stamped a little after this datagram's receive time is recent. */
	if ((int64_t)(now_ns - e->last_sent_ns) < (int64_t)gap_of(c, k)) {
		c->st.hits_gap++;
		return EP_CACHE_QUIET;
	}
	if (e->replays >= c->cfg.max_replays) {
		c->st.replays_refused++;
		return EP_CACHE_QUIET;
	}
	e->replays++;
	e->prev_sent_ns = e->last_sent_ns;
	e->last_sent_ns = now_ns;
	c->st.hits_done++;
	cached_of(c, e, out);
	return EP_CACHE_DONE;
}

enum ep_cache_state ep_cache_lookup_ack(struct ep_cache *c, const struct ep_peer *p, uint16_t key,
					uint64_t id, const struct ep_ack *a, uint64_t now_ns,
					struct ep_cached *out)
{
	int32_t i = find_live(c, p, key, id, now_ns);
	uint32_t held = ep_ack_held(a), count, resend;
	struct cent *e;

	if (i == NIL)
		return EP_CACHE_MISS;
	e = &c->ents[i];
	if (e->state == EP_CACHE_PENDING) {
		c->st.hits_pending++;
		out->req_frags = e->frag_count;
		return EP_CACHE_PENDING;
	}
	/* Without the reply's fragment size (a reply made before it was kept) the whole of
	 * it is one "fragment" here: resent whole, once per acknowledgement. */
	count = e->reply_fs ? ep_frag_count(e->len, e->reply_fs) : 1;
	if (!count)
		count = 1;
	resend = a->count == count && held <= count ? count - held : count;
	/* Signed: an acknowledgement stamped a little before the last one is recent. */
	if (e->ack_ns && held == e->ack_held &&
	    (int64_t)(now_ns - e->ack_ns) < (int64_t)EP_CACHE_ACK_DUP_NS) {
		c->st.acks_dup++;
		return EP_CACHE_QUIET;
	}
	e->ack_held = held;
	e->ack_ns = now_ns;
	if (!resend)
		return EP_CACHE_QUIET; /* the client holds it all */
	if ((uint64_t)e->ack_frags + resend > (uint64_t)c->cfg.max_replays * count) {
		c->st.acks_refused++;
		return EP_CACHE_QUIET;
	}
	e->ack_frags += resend;
	e->last_sent_ns = now_ns;
	c->st.acks_done++;
	cached_of(c, e, out);
	out->frag_size = e->reply_fs;
	out->req_frags = e->frag_count;
	out->resend = (uint16_t)resend;
	return EP_CACHE_DONE;
}

void ep_cache_ack_unsent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			 uint16_t n)
{
	struct cent *e = find_done(c, p, key, id);

	if (!e)
		return;
	e->ack_frags = e->ack_frags > n ? e->ack_frags - n : 0;
	e->ack_ns = 0;
	c->st.acks_done--;
}

uint64_t ep_cache_begin(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			const struct ep_cache_ident *k, uint64_t now_ns)
{
	struct cent *e;
	uint32_t b;
	int32_t i;

	expire(c, now_ns);
	i = find(c, p, key, id);
	if (i != NIL) {
		if (c->ents[i].state == EP_CACHE_PENDING) {
			c->st.refused++;
			return EP_CACHE_NONE;
		}
		remove_ent(c, i); /* a DONE entry of the same key: this task replaces it */
	}
	if (c->free == NIL) { /* full: the oldest DONE entry goes, never a PENDING one */
		if (c->oldest == NIL) {
			c->st.refused++;
			return EP_CACHE_NONE;
		}
		remove_oldest(c);
		c->st.evicted++;
	}
	i = c->free;
	e = &c->ents[i];
	c->free = e->hnext;
	e->state = EP_CACHE_PENDING;
	e->cancelled = 0;
	e->id = id;
	e->key = key;
	e->port = p->port;
	memcpy(e->addr, p->addr, 16);
	e->task_type = k->task_type;
	e->frag_count = k->frag_count;
	e->tenant_id = k->tenant_id;
	e->total_len = k->total_len;
	e->frag_size = k->frag_size;
	e->zstd = k->zstd;
	e->has_digest = k->has_digest || k->data;
	e->digest = k->has_digest ? k->digest : k->data ? digest(c, k->data, k->data_len) : 0;
	e->replays = 0;
	e->done_ns = e->last_sent_ns = e->prev_sent_ns = e->last_retry_ns = 0;
	e->reply_fs = e->ack_frags = e->ack_held = 0;
	e->ack_ns = 0;
	e->prev = e->next = NIL;
	b = bucket(c, p, key, id);
	e->hnext = c->heads[b];
	c->heads[b] = i;
	c->st.entries++;
	c->st.pending++;
	c->st.inserted++;
	return (uint64_t)e->gen << 32 | (uint32_t)i;
}

/* The entry behind a handle, if it is still that task's. */
static struct cent *by_handle(const struct ep_cache *c, uint64_t h)
{
	uint32_t i = (uint32_t)h;

	if (h == EP_CACHE_NONE || i >= c->cfg.entries || c->ents[i].gen != (uint32_t)(h >> 32) ||
	    c->ents[i].state == EP_CACHE_MISS)
		return NULL;
	return &c->ents[i];
}

int ep_cache_cancel(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id)
{
	int32_t i = find(c, p, key, id);

	if (i == NIL || c->ents[i].state != EP_CACHE_PENDING)
		return -ENOENT;
	c->ents[i].cancelled = 1;
	return 0;
}

bool ep_cache_cancelled(const struct ep_cache *c, uint64_t h)
{
	const struct cent *e = by_handle(c, h);

	return e && e->state == EP_CACHE_PENDING && e->cancelled;
}

/* Make room for @size contiguous bytes at the ring's tail; returns the block's offset. */
static uint64_t ring_alloc(struct ep_cache *c, uint32_t size)
{
	uint64_t cap = c->cfg.bytes;

	for (;;) {
		uint64_t off = c->tail % cap, used = c->tail - c->head;

		if (off + size > cap) {
			/* Not enough before the end: pad to the end (once room for that). */
			if (cap - used >= cap - off) {
				struct block pad = { .ent = NIL, .size = (uint32_t)(cap - off) };

				if (cap - off >= sizeof(pad))
					memcpy(c->ring + off, &pad, sizeof(pad));
				c->tail += cap - off;
				continue;
			}
		} else if (cap - used >= size) {
			c->tail += size;
			return off;
		}
		/* Evict the block at the head. */
		{
			uint64_t hoff = c->head % cap;
			struct block b;

			if (cap - hoff < sizeof(b)) { /* a short pad at the very end */
				c->head += cap - hoff;
				continue;
			}
			memcpy(&b, c->ring + hoff, sizeof(b));
			if (b.ent != NIL && c->ents[b.ent].gen == b.gen &&
			    c->ents[b.ent].state == EP_CACHE_DONE) {
				remove_ent(c, b.ent);
				c->st.evicted++;
			}
			c->head += b.size;
			c->st.bytes = c->tail - c->head;
		}
	}
}

void ep_cache_complete(struct ep_cache *c, uint64_t h, const struct ep_cached *reply,
		       uint64_t now_ns)
{
	uint32_t size = (uint32_t)((sizeof(struct block) + reply->len + 7) & ~7ull);
	int32_t i = (int32_t)(uint32_t)h;
	struct block b;
	struct cent *e;
	uint64_t off;

	if (!by_handle(c, h) || c->ents[i].state != EP_CACHE_PENDING)
		return; /* forgotten meanwhile: nothing to remember */
	if (size > c->cfg.bytes / 4) {
		remove_ent(c, i);
		return;
	}
	off = ring_alloc(c, size);
	e = &c->ents[i]; /* (i survives: it is PENDING, and ring_alloc evicts DONE) */
	b = (struct block){ .ent = i, .gen = e->gen, .size = size };
	memcpy(c->ring + off, &b, sizeof(b));
	if (reply->len) /* an ERROR without text has no data at all */
		memcpy(c->ring + off + sizeof(b), reply->data, reply->len);
	e->state = EP_CACHE_DONE;
	e->status = reply->status;
	e->flags = reply->flags;
	e->len = reply->len;
	e->off = off + sizeof(b);
	e->queue_us = reply->queue_us;
	e->exec_us = reply->exec_us;
	e->reply_fs = reply->frag_size;
	e->done_ns = now_ns;
	e->last_sent_ns = now_ns; /* the reply just went out: a burst behind it is quiet */
	done_append(c, i);
	c->st.pending--;
	c->st.completed++;
	c->st.bytes = c->tail - c->head;
}

void ep_cache_unsent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
		     uint64_t now_ns)
{
	struct cent *e = find_done(c, p, key, id);

	if (!e)
		return;
	if (e->replays) { /* a lookup's replay, not a complete()'s first reply */
		e->replays--;
		e->last_sent_ns = e->prev_sent_ns;
		c->st.hits_done--;
	} else {
		e->last_sent_ns = 0;
	}
	e->last_retry_ns = now_ns;
}

bool ep_cache_retry_recent(struct ep_cache *c, const struct ep_peer *p, uint16_t key, uint64_t id,
			   uint64_t now_ns)
{
	int32_t i = find(c, p, key, id);
	const struct cent *e;

	if (i == NIL || c->ents[i].state != EP_CACHE_DONE)
		return false;
	e = &c->ents[i];
	return e->last_retry_ns &&
	       (int64_t)(now_ns - e->last_retry_ns) < (int64_t)c->cfg.resend_gap_ns;
}

void ep_cache_forget(struct ep_cache *c, uint64_t h)
{
	if (by_handle(c, h))
		remove_ent(c, (int32_t)(uint32_t)h);
}

void ep_cache_get_stats(const struct ep_cache *c, struct ep_cache_stats *st)
{
	*st = c->st;
}
