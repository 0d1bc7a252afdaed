// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reassembly table: preallocated entries on index-linked free lists, a chained hash table
 * keyed by (source, port, task_id), four intrusive lists of the tasks in progress (by last
 * activity, for idle expiry and eviction; by start, for the lifetime; by last activity
 * within each source prefix, for eviction inside a prefix; and by last activity among the
 * tasks not acknowledged since their last new fragment, for the acknowledgement delay),
 * and a second small table that accounts tasks and bytes per source prefix.
 *
 * A task's buffer holds its data (total_len bytes), then the received-fragments bitmap,
 * the bitmap of pages written, and the caller's context. Large buffers are charged by the
 * pages written (the tail with the bitmaps is written at once), small ones whole.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgeplane/reasm.h"
#include "edgeplane/util.h"
#include "ep_check.h"

#define NIL	  (-1)
/* Tasks evicted at most to make room for one fragment. */
#define EVICT_MAX 8

struct task_ent {
	int32_t hnext;	       /* hash chain, or free list */
	int32_t prev, next;    /* all tasks, least recently active first */
	int32_t aprev, anext;  /* all tasks, oldest first */
	int32_t sprev, snext;  /* the source prefix's tasks, least recently active first */
	int32_t kprev, knext;  /* tasks to acknowledge, least recently active first */
	bool in_ack;	       /* on that list */
	uint16_t ack_at;       /* a new fragment at this index or above acknowledges at once */
	uint32_t ack_missing;  /* fragments missing at the last acknowledgement (all, before) */
	uint32_t ack_received; /* fragments received then */
	uint64_t ack_wire;     /* wire_bytes when it was last acknowledged */
	int32_t src;	       /* index in srcs */
	uint32_t frag_size;
	uint32_t received;
	uint32_t fbm_len; /* bytes of the fragment bitmap */
	uint32_t pbm_len; /* bytes of the page bitmap; 0: the buffer is charged whole */
	uint64_t start_ns, last_ns;
	uint64_t cost; /* bytes charged */
	uint64_t bytes, wire_bytes;
	struct ep_peer peer;
	struct ep_msg msg;
	uint8_t *buf;
};

struct src_ent {
	int32_t hnext;
	int32_t head, tail; /* its tasks, least recently active first */
	uint32_t tasks;
	uint64_t bytes;
	uint8_t key[16]; /* the address masked to its prefix */
};

struct ep_reasm {
	struct ep_reasm_cfg cfg;
	struct ep_reasm_stats st;
	uint64_t seed;
	uint32_t page;

	struct task_ent *tasks;
	int32_t *task_heads;
	uint32_t task_mask;
	int32_t task_free;
	int32_t lru_head, lru_tail;
	int32_t age_head, age_tail;
	int32_t ack_head, ack_tail;

	struct src_ent *srcs;
	int32_t *src_heads;
	uint32_t src_mask;
	int32_t src_free;
};

static uint64_t hash_addr(const struct ep_reasm *r, const uint8_t addr[16])
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return ep_mix64(r->seed ^ a) ^ ep_mix64(b + 0x9e3779b97f4a7c15ULL);
}

static uint32_t task_bucket(const struct ep_reasm *r, const struct ep_peer *p, uint64_t id)
{
	return (uint32_t)(ep_mix64(hash_addr(r, p->addr) ^ ep_mix64(id ^ p->port)) & r->task_mask);
}

static uint32_t src_bucket(const struct ep_reasm *r, const uint8_t key[16])
{
	return (uint32_t)(hash_addr(r, key) & r->src_mask);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

struct ep_reasm *ep_reasm_new(const struct ep_reasm_cfg *cfg)
{
	struct ep_reasm *r;
	uint32_t n, i;
	long page;

	if (!cfg->max_tasks || !cfg->max_bytes || !cfg->max_src_tasks || !cfg->max_src_bytes ||
	    !cfg->max_task_len || !cfg->timeout_ns || cfg->max_tasks > (1u << 24) ||
	    cfg->user_size > 256 || cfg->prefix_v4 > 32 || cfg->prefix_v6 > 128) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	n = cfg->max_tasks;
	if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r ^ 0x5bd1e995;
	page = sysconf(_SC_PAGESIZE);
	r->page = page > 0 ? (uint32_t)page : 4096;

	r->task_mask = pow2_at_least(2 * n) - 1;
	r->src_mask = r->task_mask;
	r->tasks = calloc(n, sizeof(*r->tasks));
	r->srcs = calloc(n, sizeof(*r->srcs));
	r->task_heads = malloc((r->task_mask + 1) * sizeof(int32_t));
	r->src_heads = malloc((r->src_mask + 1) * sizeof(int32_t));
	if (!r->tasks || !r->srcs || !r->task_heads || !r->src_heads) {
		ep_reasm_free(r);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i <= r->task_mask; i++)
		r->task_heads[i] = r->src_heads[i] = NIL;
	for (i = 0; i < n; i++) {
		r->tasks[i].hnext = i + 1 < n ? (int32_t)i + 1 : NIL;
		r->srcs[i].hnext = i + 1 < n ? (int32_t)i + 1 : NIL;
	}
	r->task_free = r->src_free = 0;
	r->lru_head = r->lru_tail = r->age_head = r->age_tail = r->ack_head = r->ack_tail = NIL;
	return r;
}

void ep_reasm_free(struct ep_reasm *r)
{
	if (!r)
		return;
	if (r->tasks)
		for (int32_t i = r->lru_head; i != NIL; i = r->tasks[i].next)
			free(r->tasks[i].buf);
	free(r->tasks);
	free(r->srcs);
	free(r->task_heads);
	free(r->src_heads);
	free(r);
}

/* --- source prefixes ----------------------------------------------------------------- */

/* The group a source address belongs to: its prefix, the rest zero. IPv4 (mapped) and
 * IPv6 sources never share a group. */
static void src_key(const struct ep_reasm *r, const uint8_t addr[16], uint8_t key[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned int bits, from;

	memcpy(key, addr, 16);
	if (!memcmp(addr, mapped, sizeof(mapped))) {
		bits = r->cfg.prefix_v4;
		from = 96;
	} else {
		bits = r->cfg.prefix_v6;
		from = 0;
	}
	for (unsigned int b = from + bits; b < 128; b++)
		key[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

static int32_t src_find(struct ep_reasm *r, const uint8_t key[16])
{
	for (int32_t i = r->src_heads[src_bucket(r, key)]; i != NIL; i = r->srcs[i].hnext)
		if (!memcmp(r->srcs[i].key, key, 16))
			return i;
	return NIL;
}

/* A new source entry; cannot fail while a task slot is free (both lists are as long). */
static int32_t src_new(struct ep_reasm *r, const uint8_t key[16])
{
	int32_t i = r->src_free;
	uint32_t b = src_bucket(r, key);

	r->src_free = r->srcs[i].hnext;
	memset(&r->srcs[i], 0, sizeof(r->srcs[i]));
	memcpy(r->srcs[i].key, key, 16);
	r->srcs[i].head = r->srcs[i].tail = NIL;
	r->srcs[i].hnext = r->src_heads[b];
	r->src_heads[b] = i;
	return i;
}

static void src_release(struct ep_reasm *r, int32_t i)
{
	struct src_ent *s = &r->srcs[i];
	int32_t *pp;

	for (pp = &r->src_heads[src_bucket(r, s->key)]; *pp != i; pp = &r->srcs[*pp].hnext)
		;
	*pp = s->hnext;
	s->hnext = r->src_free;
	r->src_free = i;
}

/* --- lists --------------------------------------------------------------------------- */

/* The four lists share their code through the offsets of their links. */
enum list { LRU, AGE, SRC, ACK };

static int32_t *link_prev(struct task_ent *t, enum list l)
{
	return l == LRU ? &t->prev : l == AGE ? &t->aprev : l == SRC ? &t->sprev : &t->kprev;
}

static int32_t *link_next(struct task_ent *t, enum list l)
{
	return l == LRU ? &t->next : l == AGE ? &t->anext : l == SRC ? &t->snext : &t->knext;
}

static void list_ends(struct ep_reasm *r, const struct task_ent *t, enum list l, int32_t **head,
		      int32_t **tail)
{
	if (l == LRU) {
		*head = &r->lru_head;
		*tail = &r->lru_tail;
	} else if (l == AGE) {
		*head = &r->age_head;
		*tail = &r->age_tail;
	} else if (l == ACK) {
		*head = &r->ack_head;
		*tail = &r->ack_tail;
	} else {
		*head = &r->srcs[t->src].head;
		*tail = &r->srcs[t->src].tail;
	}
}

static void list_unlink(struct ep_reasm *r, int32_t i, enum list l)
{
	struct task_ent *t = &r->tasks[i];
	int32_t prev = *link_prev(t, l), next = *link_next(t, l), *head, *tail;

	list_ends(r, t, l, &head, &tail);
	if (prev != NIL)
		*link_next(&r->tasks[prev], l) = next;
	else
		*head = next;
	if (next != NIL)
		*link_prev(&r->tasks[next], l) = prev;
	else
		*tail = prev;
}

static void list_append(struct ep_reasm *r, int32_t i, enum list l)
{
	struct task_ent *t = &r->tasks[i];
	int32_t *head, *tail;

	list_ends(r, t, l, &head, &tail);
	*link_next(t, l) = NIL;
	*link_prev(t, l) = *tail;
	if (*tail != NIL)
		*link_next(&r->tasks[*tail], l) = i;
	else
		*head = i;
	*tail = i;
}

/* --- tasks --------------------------------------------------------------------------- */

static int32_t task_find(struct ep_reasm *r, const struct ep_peer *p, uint64_t id)
{
	for (int32_t i = r->task_heads[task_bucket(r, p, id)]; i != NIL; i = r->tasks[i].hnext) {
		const struct task_ent *t = &r->tasks[i];

		if (t->msg.task_id == id && t->peer.port == p->port &&
		    !memcmp(t->peer.addr, p->addr, 16))
			return i;
	}
	return NIL;
}

static uint8_t *task_user(const struct task_ent *t)
{
	return t->buf + t->msg.total_len + t->fbm_len + t->pbm_len;
}

static void task_info(const struct task_ent *t, struct ep_reasm_info *info)
{
	*info = (struct ep_reasm_info){
		.peer = t->peer,
		.msg = t->msg,
		.frag_size = t->frag_size,
		.frags = t->received,
		.bytes = t->bytes,
		.wire_bytes = t->wire_bytes,
		.wire_new = t->wire_bytes - t->ack_wire,
		.start_ns = t->start_ns,
		.last_ns = t->last_ns,
		.user = task_user(t),
	};
}

/* Unlink task @i everywhere and release its accounting; the caller handles t->buf. */
static void task_remove(struct ep_reasm *r, int32_t i)
{
	struct task_ent *t = &r->tasks[i];
	int32_t *pp = &r->task_heads[task_bucket(r, &t->peer, t->msg.task_id)];
	struct src_ent *s = &r->srcs[t->src];

	while (*pp != i)
		pp = &r->tasks[*pp].hnext;
	*pp = t->hnext;
	list_unlink(r, i, LRU);
	list_unlink(r, i, AGE);
	list_unlink(r, i, SRC);
	if (t->in_ack)
		list_unlink(r, i, ACK);
	t->in_ack = false;
	s->tasks--;
	s->bytes -= t->cost;
	if (!s->tasks)
		src_release(r, t->src);
	r->st.tasks--;
	r->st.bytes -= t->cost;
	t->buf = NULL;
	t->hnext = r->task_free;
	r->task_free = i;
}

/* A task that ends incomplete: tell the caller why, then free it. */
static void task_end(struct ep_reasm *r, int32_t i, enum ep_reasm_end why)
{
	struct task_ent *t = &r->tasks[i];
	uint8_t *buf = t->buf;

	if (r->cfg.on_expire) {
		struct ep_reasm_info info;

		task_info(t, &info);
		r->cfg.on_expire(r->cfg.expire_arg, &info, why);
	}
	task_remove(r, i);
	free(buf);
	if (why == EP_REASM_EVICTED) {
		r->st.evicted++;
	} else {
		r->st.expired++;
		r->st.expired_lifetime += why == EP_REASM_LIFETIME;
	}
}

static uint32_t msg_frag_size(const struct ep_msg *m)
{
	return ep_frag_size(m->frag_index, m->frag_count, m->frag_offset, m->payload_len);
}

/* Pages spanned by @len bytes at any alignment, at most. */
static uint64_t pages_upper(const struct ep_reasm *r, uint64_t len)
{
	return len ? (len + r->page - 1) / r->page + 1 : 0;
}

/*
 * Pages of [@off, @off + @len) in @t's buffer not yet written: their count, and with
 * @mark, mark them written. 0 for a buffer charged whole.
 */
static uint64_t pages_new(const struct ep_reasm *r, struct task_ent *t, uint64_t off, uint64_t len,
			  bool mark)
{
	uintptr_t base = (uintptr_t)t->buf / r->page;
	uint8_t *pbm = t->buf + t->msg.total_len + t->fbm_len;
	uint64_t n = 0;

	if (!t->pbm_len || !len)
		return 0;
	for (uintptr_t p = ((uintptr_t)t->buf + off) / r->page;
	     p <= ((uintptr_t)t->buf + off + len - 1) / r->page; p++) {
		uintptr_t k = p - base;

		if (pbm[k / 8] & (1u << (k % 8)))
			continue;
		n++;
		if (mark)
			pbm[k / 8] |= (uint8_t)(1u << (k % 8));
	}
	return n;
}

/*
 * Expire, oldest first, the tasks of list @l that are due at @now_ns (LRU: idle for the
 * timeout; AGE: older than the lifetime), but @keep. Returns how many.
 */
static int expire_list(struct ep_reasm *r, enum list l, uint64_t now_ns, int32_t keep)
{
	uint64_t limit = l == LRU ? r->cfg.timeout_ns : r->cfg.max_lifetime_ns;
	int32_t i = l == LRU ? r->lru_head : r->age_head, next;
	int n = 0;

	for (; i != NIL; i = next) {
		struct task_ent *t = &r->tasks[i];

		if (now_ns < (l == LRU ? t->last_ns : t->start_ns) + limit)
			break;
		next = *link_next(t, l);
		if (i != keep) {
			task_end(r, i, l == LRU ? EP_REASM_TIMEOUT : EP_REASM_LIFETIME);
			n++;
		}
	}
	return n;
}

/* Expire the tasks idle for the timeout or older than the lifetime, but @keep (the task
 * a fragment is being added to, whose buffer the caller holds). Returns how many. */
static int expire_except(struct ep_reasm *r, uint64_t now_ns, int32_t keep)
{
	int n = expire_list(r, LRU, now_ns, keep);

	return r->cfg.max_lifetime_ns ? n + expire_list(r, AGE, now_ns, keep) : n;
}

/* Among the EP_REASM_EVICT_SCAN first tasks of list @l from @head, other than @keep and
 * those of a priority above @prio (a lower priority never pushes a higher one out), the
 * one of the lowest priority, then with the fewest fragments received (the earlier on a
 * tie). */
static int32_t pick_victim(struct ep_reasm *r, int32_t head, enum list l, int32_t keep,
			   uint8_t prio)
{
	int32_t best = NIL;
	unsigned int seen = 0;

	for (int32_t i = head; i != NIL && seen < EP_REASM_EVICT_SCAN;
	     i = *link_next(&r->tasks[i], l)) {
		const struct task_ent *t = &r->tasks[i];

		if (i == keep)
			continue;
		seen++;
		if (t->msg.priority > prio)
			continue;
		if (best == NIL || t->msg.priority < r->tasks[best].msg.priority ||
		    (t->msg.priority == r->tasks[best].msg.priority &&
		     t->received < r->tasks[best].received))
			best = i;
	}
	return best;
}

/*
 * Make room for @add more bytes (and a task slot, if @new_task) for a task of priority
 * @prio of the source group @key, evicting the lowest priorities and the least complete
 * tasks first, none above @prio (and never @keep). Returns 0, or -ENOBUFS if EVICT_MAX
 * evictions did not make room.
 */
static int make_room(struct ep_reasm *r, const uint8_t key[16], uint64_t add, bool new_task,
		     int32_t keep, uint8_t prio, uint64_t now_ns)
{
	bool expired = false;

	for (unsigned int n = 0;; n++) {
		int32_t s = src_find(r, key), victim;
		bool src_over = s == NIL ? add > r->cfg.max_src_bytes
					 : (new_task && r->srcs[s].tasks >= r->cfg.max_src_tasks) ||
						   r->srcs[s].bytes + add > r->cfg.max_src_bytes;
		bool all_over =
			(new_task && r->task_free == NIL) || r->st.bytes + add > r->cfg.max_bytes;

		if (!src_over && !all_over)
			return 0;
		if (!expired) { /* what is stale goes before what is live */
			expired = true;
			if (expire_except(r, now_ns, keep))
				continue;
		}
		if (n >= EVICT_MAX)
			return -ENOBUFS;
		if (src_over)
			victim = s == NIL ? NIL : pick_victim(r, r->srcs[s].head, SRC, keep, prio);
		else
			victim = pick_victim(r, r->lru_head, LRU, keep, prio);
		if (victim == NIL)
			return -ENOBUFS;
		task_end(r, victim, EP_REASM_EVICTED);
	}
}

static int32_t task_open(struct ep_reasm *r, const struct ep_peer *p, const struct ep_msg *m,
			 uint64_t now_ns, const void *user)
{
	uint32_t fbm_len = (m->frag_count + 7u) / 8u, pbm_len = 0;
	uint64_t base = (uint64_t)m->total_len + fbm_len + r->cfg.user_size, est, cost;
	uint8_t key[16];
	struct task_ent *t;
	int32_t i, s;
	uint32_t b;
	int err;

	if (base >= EP_REASM_LAZY_MIN)
		pbm_len = (uint32_t)((base / r->page + 4 + 7) / 8);
	/* Charged: the entry, and a small buffer whole; a large one's tail (bitmaps and
	 * context) and the first fragment's pages, at most this many. */
	est = sizeof(struct task_ent) +
	      (pbm_len ? (pages_upper(r, fbm_len + pbm_len + r->cfg.user_size) +
			  pages_upper(r, m->payload_len)) *
				 r->page
		       : base);
	src_key(r, p->addr, key);
	err = make_room(r, key, est, true, NIL, m->priority, now_ns);
	if (err)
		return err;

	i = r->task_free;
	t = &r->tasks[i];
	t->buf = malloc(base + pbm_len);
	if (!t->buf)
		return -ENOMEM;
	s = src_find(r, key);
	if (s == NIL)
		s = src_new(r, key);
	r->task_free = t->hnext;
	t->fbm_len = fbm_len;
	t->pbm_len = pbm_len;
	t->peer = *p;
	t->msg = *m;
	t->frag_size = msg_frag_size(m);
	t->received = 0;
	t->bytes = t->wire_bytes = 0;
	t->src = s;
	t->in_ack = false;
	t->ack_at = (uint16_t)(m->frag_count - 1);
	t->ack_missing = m->frag_count;
	t->ack_received = 0;
	t->ack_wire = 0;
	t->start_ns = t->last_ns = now_ns;
	memset(t->buf + m->total_len, 0, fbm_len + pbm_len);
	if (user)
		memcpy(task_user(t), user, r->cfg.user_size);
	else
		memset(task_user(t), 0, r->cfg.user_size);
	cost = sizeof(struct task_ent) +
	       (pbm_len ? pages_new(r, t, m->total_len, fbm_len + pbm_len + r->cfg.user_size,
				    true) *
				  r->page
			: base);
	t->cost = cost;
	r->srcs[s].tasks++;
	r->srcs[s].bytes += cost;
	r->st.tasks++;
	r->st.bytes += cost;
	r->st.started++;

	b = task_bucket(r, p, m->task_id);
	t->hnext = r->task_heads[b];
	r->task_heads[b] = i;
	list_append(r, i, LRU);
	list_append(r, i, AGE);
	list_append(r, i, SRC);
	return i;
}

static bool conflicts(const struct task_ent *t, const struct ep_msg *m, uint32_t frag_size)
{
	const struct ep_msg *f = &t->msg;

	/* RETRY marks an attempt, not the task, and an attempt may carry a token (or ask
	 * for a plain reply) that an earlier one did not: fragments of several attempts
	 * combine (docs/protocol.md 5). */
	return f->kind != m->kind || f->priority != m->priority ||
	       ((f->flags ^ m->flags) & ~(EP_F_RETRY | EP_F_TOKEN | EP_F_PLAIN_REPLY)) ||
	       ((f->flags & EP_F_AUTH) && f->auth_key_id != m->auth_key_id) ||
	       f->task_type != m->task_type || f->tenant_id != m->tenant_id ||
	       f->total_len != m->total_len || f->frag_count != m->frag_count ||
	       t->frag_size != frag_size;
}

/* The fragments task @t holds, as an acknowledgement. */
static void task_ack(const struct task_ent *t, struct ep_ack *a)
{
	ep_ack_from_bitmap(a, t->buf + t->msg.total_len, t->msg.frag_count);
}

/* Acknowledge task @i now through cfg.on_ack: it leaves the list of tasks to acknowledge,
 * and the next acknowledgement at once waits for its highest missing fragment. */
static void ack_now(struct ep_reasm *r, int32_t i)
{
	struct task_ent *t = &r->tasks[i];
	uint32_t top = t->msg.frag_count - 1u;
	struct ep_reasm_info info;
	struct ep_ack a;

	task_ack(t, &a);
	task_info(t, &info);
	r->cfg.on_ack(r->cfg.expire_arg, &info, &a);
	r->st.acks++;
	/* The highest fragment missing: below the last range if it reaches the top (a task
	 * in progress misses one at least; with 256 ranges listed the top stands). */
	if (a.n && a.n < EP_ACK_MAX_RANGES && a.r[a.n - 1].last == top)
		top = a.r[a.n - 1].first - 1u;
	t->ack_at = (uint16_t)top;
	t->ack_missing = t->msg.frag_count - t->received;
	t->ack_received = t->received;
	t->ack_wire = t->wire_bytes;
	if (t->in_ack)
		list_unlink(r, i, ACK);
	t->in_ack = false;
}

int ep_reasm_add(struct ep_reasm *r, const struct ep_peer *peer, const struct ep_msg *m,
		 const void *payload, uint64_t now_ns, const void *user, struct ep_reasm_task *out)
{
	uint32_t frag_size, idx = m->frag_index;
	struct task_ent *t;
	uint64_t add;
	uint8_t *bitmap;
	int32_t i;

	if (m->frag_count <= 1 || idx >= m->frag_count)
		return -EINVAL;
	if (m->total_len > r->cfg.max_task_len)
		return -EMSGSIZE;
	frag_size = msg_frag_size(m);
	/* Callers pass decoded messages; recheck what indexing below relies on. */
	if (!frag_size || (uint64_t)m->frag_offset + m->payload_len > m->total_len)
		return -EPROTO;

	i = task_find(r, peer, m->task_id);
	if (i == NIL) {
		i = task_open(r, peer, m, now_ns, user);
		if (i < 0) {
			r->st.refused += i == -ENOBUFS;
			return i;
		}
	}
	t = &r->tasks[i];
	if (conflicts(t, m, frag_size)) {
		r->st.conflicts++;
		return -EPROTO;
	}
	bitmap = t->buf + t->msg.total_len;
	if (bitmap[idx / 8] & (1u << (idx % 8))) {
		r->st.duplicates++;
		t->wire_bytes += EP_HDR_LEN + m->payload_len;
		return 0;
	}
	add = pages_new(r, t, m->frag_offset, m->payload_len, false) * r->page;
	if (add) {
		struct src_ent *s = &r->srcs[t->src];

		if (make_room(r, s->key, add, false, i, t->msg.priority, now_ns)) {
			r->st.dropped++;
			return -ENOSPC;
		}
		pages_new(r, t, m->frag_offset, m->payload_len, true);
		t->cost += add;
		r->srcs[t->src].bytes += add;
		r->st.bytes += add;
	}
	bitmap[idx / 8] |= (uint8_t)(1u << (idx % 8));
	memcpy(t->buf + m->frag_offset, payload, m->payload_len);
	t->bytes += m->payload_len;
	t->wire_bytes += EP_HDR_LEN + m->payload_len;
	t->last_ns = now_ns;
	list_unlink(r, i, LRU);
	list_append(r, i, LRU);
	list_unlink(r, i, SRC);
	list_append(r, i, SRC);
	if (++t->received < t->msg.frag_count) {
		if (!r->cfg.on_ack)
			return 0;
		if (t->in_ack)
			list_unlink(r, i, ACK);
		list_append(r, i, ACK);
		t->in_ack = true;
		/* The end of a pass (the last fragment, or the highest one missing at the
		 * last acknowledgement) came with gaps left: say so now (RFC 9002's
		 * "acknowledge out-of-order packets immediately"). A pass brings most of
		 * what was missing; one that brought less than half of it is no pass (a
		 * sender going down the indexes would have every fragment acknowledged,
		 * each costing a walk of the bitmap): the pause acknowledges it. */
		if (idx >= t->ack_at && 2 * (t->received - t->ack_received) >= t->ack_missing)
			ack_now(r, i);
		return 0;
	}

	out->peer = t->peer;
	out->msg = t->msg;
	out->data = t->buf;
	out->len = t->msg.total_len;
	out->start_ns = t->start_ns;
	out->wire_bytes = t->wire_bytes;
	r->st.completed++;
	task_remove(r, i);
	return 1;
}

int ep_reasm_peek(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		  struct ep_msg *msg)
{
	int32_t i = task_find(r, peer, task_id);

	if (i == NIL)
		return -ENOENT;
	*msg = r->tasks[i].msg;
	return 0;
}

int ep_reasm_cancel(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		    struct ep_reasm_info *info)
{
	int32_t i = task_find(r, peer, task_id);
	uint8_t *buf;

	if (i == NIL)
		return -ENOENT;
	if (info) {
		task_info(&r->tasks[i], info);
		info->user = NULL;
	}
	buf = r->tasks[i].buf;
	task_remove(r, i);
	free(buf);
	r->st.cancelled++;
	return 0;
}

int ep_reasm_expire(struct ep_reasm *r, uint64_t now_ns)
{
	int n = expire_except(r, now_ns, NIL);

	/* Fragments stopped coming for the acknowledgement delay: the tail may be lost. */
	while (r->cfg.on_ack && r->ack_head != NIL &&
	       now_ns >= r->tasks[r->ack_head].last_ns + r->cfg.ack_delay_ns)
		ack_now(r, r->ack_head);
	return n;
}

int ep_reasm_ack(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		 struct ep_ack *out)
{
	int32_t i = task_find(r, peer, task_id);

	if (i == NIL)
		return -ENOENT;
	task_ack(&r->tasks[i], out);
	return 0;
}

uint64_t ep_reasm_next_ack_ns(const struct ep_reasm *r)
{
	if (!r->cfg.on_ack || r->ack_head == NIL)
		return UINT64_MAX;
	return r->tasks[r->ack_head].last_ns + r->cfg.ack_delay_ns;
}

void ep_reasm_get_stats(const struct ep_reasm *r, struct ep_reasm_stats *st)
{
	*st = r->st;
}

int ep_peer_from_sockaddr(struct ep_peer *peer, const struct sockaddr *sa)
{
	memset(peer, 0, sizeof(*peer));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		peer->addr[10] = peer->addr[11] = 0xff;
		memcpy(peer->addr + 12, &in->sin_addr, 4);
		peer->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(peer->addr, &in6->sin6_addr, 16);
		peer->port = ntohs(in6->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	peer->family = sa->sa_family;
	return 0;
}
