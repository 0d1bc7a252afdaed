// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reassembly table: preallocated entries on index-linked free lists, a chained hash table
 * keyed by (source, port, task_id), an LRU list for idle expiry, and a second small table
 * that accounts tasks and bytes per source address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "edgeplane/reasm.h"
#include "edgeplane/util.h"
#include "ep_check.h"

#define NIL (-1)

struct task_ent {
	int32_t hnext;		/* hash chain, or free list */
	int32_t prev, next;	/* LRU list, oldest first */
	int32_t src;		/* index in srcs */
	uint64_t last_ns;	/* last new fragment */
	uint64_t cost;		/* bytes accounted */
	struct ep_peer peer;
	struct ep_msg msg;
	uint32_t frag_size;
	uint32_t received;
	uint8_t *buf;		/* total_len bytes of data, the received bitmap, user context */
};

struct src_ent {
	int32_t hnext;
	uint32_t tasks;
	uint64_t bytes;
	uint8_t addr[16];
};

struct ep_reasm {
	struct ep_reasm_cfg cfg;
	struct ep_reasm_stats st;
	uint64_t seed;

	struct task_ent *tasks;
	int32_t *task_heads;
	uint32_t task_mask;
	int32_t task_free;
	int32_t lru_head, lru_tail;

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

static uint32_t src_bucket(const struct ep_reasm *r, const uint8_t addr[16])
{
	return (uint32_t)(hash_addr(r, addr) & r->src_mask);
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

	if (!cfg->max_tasks || !cfg->max_bytes || !cfg->max_src_tasks || !cfg->max_src_bytes ||
	    !cfg->max_task_len || !cfg->timeout_ns || cfg->max_tasks > (1u << 24) ||
	    cfg->user_size > 256) {
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
	r->lru_head = r->lru_tail = NIL;
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

static int32_t src_find(struct ep_reasm *r, const uint8_t addr[16])
{
	for (int32_t i = r->src_heads[src_bucket(r, addr)]; i != NIL; i = r->srcs[i].hnext)
		if (!memcmp(r->srcs[i].addr, addr, 16))
			return i;
	return NIL;
}

/* A new source entry; cannot fail while a task slot is free (both lists are as long). */
static int32_t src_new(struct ep_reasm *r, const uint8_t addr[16])
{
	int32_t i = r->src_free;
	uint32_t b = src_bucket(r, addr);

	r->src_free = r->srcs[i].hnext;
	memset(&r->srcs[i], 0, sizeof(r->srcs[i]));
	memcpy(r->srcs[i].addr, addr, 16);
	r->srcs[i].hnext = r->src_heads[b];
	r->src_heads[b] = i;
	return i;
}

static void src_put(struct ep_reasm *r, int32_t i, uint64_t cost)
{
	struct src_ent *s = &r->srcs[i];
	int32_t *pp;

	s->tasks--;
	s->bytes -= cost;
	if (s->tasks)
		return;
	for (pp = &r->src_heads[src_bucket(r, s->addr)]; *pp != i; pp = &r->srcs[*pp].hnext)
		;
	*pp = s->hnext;
	s->hnext = r->src_free;
	r->src_free = i;
}

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

static void lru_unlink(struct ep_reasm *r, int32_t i)
{
	struct task_ent *t = &r->tasks[i];

	if (t->prev != NIL)
		r->tasks[t->prev].next = t->next;
	else
		r->lru_head = t->next;
	if (t->next != NIL)
		r->tasks[t->next].prev = t->prev;
	else
		r->lru_tail = t->prev;
}

static void lru_append(struct ep_reasm *r, int32_t i)
{
	struct task_ent *t = &r->tasks[i];

	t->next = NIL;
	t->prev = r->lru_tail;
	if (r->lru_tail != NIL)
		r->tasks[r->lru_tail].next = i;
	else
		r->lru_head = i;
	r->lru_tail = i;
}

/* Unlink task @i everywhere and release its accounting; the caller handles t->buf. */
static void task_remove(struct ep_reasm *r, int32_t i)
{
	struct task_ent *t = &r->tasks[i];
	int32_t *pp = &r->task_heads[task_bucket(r, &t->peer, t->msg.task_id)];

	while (*pp != i)
		pp = &r->tasks[*pp].hnext;
	*pp = t->hnext;
	lru_unlink(r, i);
	src_put(r, t->src, t->cost);
	r->st.tasks--;
	r->st.bytes -= t->cost;
	t->buf = NULL;
	t->hnext = r->task_free;
	r->task_free = i;
}

static uint32_t msg_frag_size(const struct ep_msg *m)
{
	return ep_frag_size(m->frag_index, m->frag_count, m->frag_offset, m->payload_len);
}

static int32_t task_open(struct ep_reasm *r, const struct ep_peer *p, const struct ep_msg *m,
			 uint64_t now_ns, const void *user)
{
	uint32_t bitmap = (m->frag_count + 7u) / 8u;
	uint64_t cost = (uint64_t)m->total_len + bitmap + r->cfg.user_size +
			sizeof(struct task_ent);
	struct task_ent *t;
	int32_t i, s;
	uint32_t b;

	if (r->task_free == NIL || r->st.bytes + cost > r->cfg.max_bytes) {
		ep_reasm_expire(r, now_ns);
		if (r->task_free == NIL || r->st.bytes + cost > r->cfg.max_bytes)
			return -ENOBUFS;
	}
	s = src_find(r, p->addr);
	if (s != NIL ? r->srcs[s].tasks >= r->cfg.max_src_tasks ||
			       r->srcs[s].bytes + cost > r->cfg.max_src_bytes
		     : cost > r->cfg.max_src_bytes)
		return -ENOBUFS;

	i = r->task_free;
	t = &r->tasks[i];
	t->buf = malloc((size_t)m->total_len + bitmap + r->cfg.user_size);
	if (!t->buf)
		return -ENOMEM;
	if (s == NIL)
		s = src_new(r, p->addr);
	r->task_free = t->hnext;
	memset(t->buf + m->total_len, 0, bitmap);
	if (user)
		memcpy(t->buf + m->total_len + bitmap, user, r->cfg.user_size);
	else
		memset(t->buf + m->total_len + bitmap, 0, r->cfg.user_size);
	t->peer = *p;
	t->msg = *m;
	t->frag_size = msg_frag_size(m);
	t->received = 0;
	t->cost = cost;
	t->src = s;
	t->last_ns = now_ns;
	r->srcs[s].tasks++;
	r->srcs[s].bytes += cost;
	r->st.tasks++;
	r->st.bytes += cost;
	r->st.started++;

	b = task_bucket(r, p, m->task_id);
	t->hnext = r->task_heads[b];
	r->task_heads[b] = i;
	lru_append(r, i);
	return i;
}

static bool conflicts(const struct task_ent *t, const struct ep_msg *m, uint32_t frag_size)
{
	const struct ep_msg *f = &t->msg;

	/* RETRY marks an attempt, not the task: fragments of several attempts combine. */
	return f->kind != m->kind || f->priority != m->priority ||
	       ((f->flags ^ m->flags) & ~EP_F_RETRY) ||
	       f->task_type != m->task_type || f->tenant_id != m->tenant_id ||
	       f->total_len != m->total_len || f->frag_count != m->frag_count ||
	       t->frag_size != frag_size;
}

int ep_reasm_add(struct ep_reasm *r, const struct ep_peer *peer, const struct ep_msg *m,
		 const void *payload, uint64_t now_ns, const void *user, struct ep_reasm_task *out)
{
	uint32_t frag_size, idx = m->frag_index;
	struct task_ent *t;
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
		return 0;
	}
	bitmap[idx / 8] |= (uint8_t)(1u << (idx % 8));
	memcpy(t->buf + m->frag_offset, payload, m->payload_len);
	t->last_ns = now_ns;
	lru_unlink(r, i);
	lru_append(r, i);
	if (++t->received < t->msg.frag_count)
		return 0;

	out->peer = t->peer;
	out->msg = t->msg;
	out->data = t->buf;
	out->len = t->msg.total_len;
	r->st.completed++;
	task_remove(r, i);
	return 1;
}

int ep_reasm_expire(struct ep_reasm *r, uint64_t now_ns)
{
	int n = 0;

	while (r->lru_head != NIL) {
		int32_t i = r->lru_head;
		struct task_ent *t = &r->tasks[i];
		uint8_t *buf = t->buf;

		if (now_ns < t->last_ns + r->cfg.timeout_ns)
			break;
		if (r->cfg.on_expire)
			r->cfg.on_expire(r->cfg.expire_arg, &t->peer, &t->msg,
					 buf + t->msg.total_len + (t->msg.frag_count + 7u) / 8u);
		task_remove(r, i);
		free(buf);
		r->st.expired++;
		n++;
	}
	return n;
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
