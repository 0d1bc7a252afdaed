// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's key table (keys.h): lock-free readers, one writer at a time, entries freed
 * after every reader passed a quiescent state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/keys.h"
#include "edgeplane/util.h"

#define NSEC	  1000000000ll
#define PAGE_BITS 8 /* a reader's contexts: 256 pages of 256 key ids */
#define PAGE_SIZE (1u << PAGE_BITS)
#define NPAGES	  (EP_KEY_IDS / PAGE_SIZE)

struct ep_key_win {
	pthread_spinlock_t lock;
	struct ep_replay r;
	unsigned int refs; /* entries pointing here: the writer's count */
	/* The key's buckets (atomic compare-and-swap, lib/gcra.h): not the window's lock,
	 * and a line of their own, away from it. */
	struct ep_key_state rl __attribute__((aligned(64)));
};

struct retired {
	struct ep_key *k;
	uint64_t epoch; /* freed once every reader has seen this epoch */
};

struct actx {	      /* a reader's context for one key id */
	uint64_t gen; /* of the entry it was keyed from */
	struct ep_aead *a;
};

struct ep_keytab_reader {
	uint64_t seen;	/* the epoch of its last quiescent state (atomic) */
	uint64_t swept; /* the epoch its contexts were last checked at */
	struct ep_keytab *t;
	struct ep_keytab_reader *next; /* the table's list, under its mutex */
	struct actx *page[NPAGES];
	uint16_t *ids; /* ids that have a context, to sweep them */
	unsigned int nids, cap;
} __attribute__((aligned(64)));

struct ep_keytab {
	struct ep_key *slot[EP_KEY_IDS];	     /* atomic loads and stores */
	uint64_t pn __attribute__((aligned(64)));    /* the node's next pn (atomic) */
	uint64_t epoch __attribute__((aligned(64))); /* +1 per change (atomic) */
	uint32_t node_id;			     /* atomic */
	unsigned int nkeys;			     /* atomic */
	uint64_t next_gen;
	pthread_mutex_t mu; /* writers, the retired entries, the readers' list */
	struct retired *retired;
	unsigned int nretired, cap;
	struct ep_keytab_reader *readers;
	ep_keytab_mirror_fn mirror; /* under mu */
	void *mirror_arg;
	uint64_t unmirrored[EP_KEY_IDS / 64]; /* ids the mirror failed on, to retry */
	unsigned int nunmirrored;
};

/* --- entries ------------------------------------------------------------------------- */

bool ep_key_fresh(const struct ep_key *k, uint64_t pn, uint64_t now_ns, uint32_t skew_s)
{
	int64_t age = (int64_t)now_ns - k->issued_ns;
	uint64_t s = ep_auth_pn_secs(pn), node = age > 0 ? (uint64_t)age / NSEC : 0;

	if (s == EP_AUTH_SECS_MAX)
		return node + skew_s >= s;
	return s <= node + skew_s && node <= s + skew_s;
}

int ep_key_replay(const struct ep_key *k, uint64_t pn)
{
	uint64_t ctr = ep_auth_pn_ctr(pn);
	int ret;

	pthread_spin_lock(&k->win->lock);
	ret = ep_replay_check(&k->win->r, ctr);
	if (!ret)
		ep_replay_mark(&k->win->r, ctr);
	pthread_spin_unlock(&k->win->lock);
	return ret;
}

struct ep_key_state *ep_key_buckets(const struct ep_key *k)
{
	return &k->win->rl;
}

static void win_put(struct ep_key_win *w)
{
	if (--w->refs)
		return;
	pthread_spin_destroy(&w->lock);
	free(w);
}

static void key_free(struct ep_key *k)
{
	win_put(k->win);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* --- the table ----------------------------------------------------------------------- */

struct ep_keytab *ep_keytab_new(void)
{
	struct ep_keytab *t = calloc(1, sizeof(*t));
	struct timespec ts;

	if (!t)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	t->pn = (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
	t->epoch = 1;
	t->next_gen = 1;
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void ep_keytab_free(struct ep_keytab *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < EP_KEY_IDS; i++)
		if (t->slot[i])
			key_free(t->slot[i]);
	for (unsigned int i = 0; i < t->nretired; i++)
		key_free(t->retired[i].k);
	free(t->retired);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

const struct ep_key *ep_keytab_get(const struct ep_keytab *t, uint16_t id)
{
	return __atomic_load_n(&t->slot[id], __ATOMIC_ACQUIRE);
}

/* Under t->mu: pass key @id as the table has it now to the mirror, and remember a failure
 * for ep_keytab_reclaim(). Returns 0 or the mirror's error. */
static int mirror_one(struct ep_keytab *t, uint16_t id)
{
	uint64_t bit = 1ull << (id % 64), *w = &t->unmirrored[id / 64];
	int err;

	if (!t->mirror)
		return 0;
	err = t->mirror(t->mirror_arg, id, t->slot[id]);
	if (err && !(*w & bit)) {
		*w |= bit;
		t->nunmirrored++;
	} else if (!err && (*w & bit)) {
		*w &= ~bit;
		t->nunmirrored--;
	}
	return err;
}

/* Under t->mu: whether the mirror has @old's entry as @k would put it (nothing to do). */
static bool mirror_has(const struct ep_keytab *t, const struct ep_key *old, const struct ep_key *k)
{
	uint16_t id = k->info.key_id;

	return old && !(t->unmirrored[id / 64] >> (id % 64) & 1) &&
	       !memcmp(&old->xdp, &k->xdp, sizeof(k->xdp));
}

static void mirror_retry(struct ep_keytab *t)
{
	for (unsigned int i = 0; t->nunmirrored && i < EP_KEY_IDS / 64; i++)
		for (uint64_t w = t->unmirrored[i]; w; w &= w - 1)
			mirror_one(t, (uint16_t)(i * 64 + (unsigned int)__builtin_ctzll(w)));
}

int ep_keytab_set_mirror(struct ep_keytab *t, ep_keytab_mirror_fn fn, void *arg,
			 const uint64_t *held)
{
	int err = 0, e;

	pthread_mutex_lock(&t->mu);
	t->mirror = fn;
	t->mirror_arg = arg;
	memset(t->unmirrored, 0, sizeof(t->unmirrored));
	t->nunmirrored = 0;
	for (unsigned int id = 1; fn && id < EP_KEY_IDS; id++) {
		if (!t->slot[id] && !(held && (held[id / 64] >> (id % 64) & 1)))
			continue;
		e = mirror_one(t, (uint16_t)id);
		if (!err)
			err = e;
	}
	pthread_mutex_unlock(&t->mu);
	return err;
}

/* Under t->mu: the lowest epoch a reader has reached (every epoch if none). */
static uint64_t readers_seen(const struct ep_keytab *t)
{
	uint64_t min = UINT64_MAX;

	for (const struct ep_keytab_reader *r = t->readers; r; r = r->next) {
		uint64_t s = __atomic_load_n(&r->seen, __ATOMIC_SEQ_CST);

		if (s < min)
			min = s;
	}
	return min;
}

static unsigned int reclaim_locked(struct ep_keytab *t)
{
	uint64_t seen = readers_seen(t);
	unsigned int kept = 0;

	for (unsigned int i = 0; i < t->nretired; i++) {
		if (t->retired[i].epoch <= seen)
			key_free(t->retired[i].k);
		else
			t->retired[kept++] = t->retired[i];
	}
	t->nretired = kept;
	return kept;
}

unsigned int ep_keytab_reclaim(struct ep_keytab *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->mu);
	mirror_retry(t);
	n = reclaim_locked(t);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Under t->mu: put @k (NULL: none) in slot @id, and retire what was there. The room for
 * the retired entry is made first, so that this cannot fail half-way. */
static int publish(struct ep_keytab *t, uint16_t id, struct ep_key *k)
{
	struct ep_key *old = t->slot[id];
	uint64_t e;

	if (old && t->nretired == t->cap) {
		unsigned int cap = t->cap ? 2 * t->cap : 64;
		struct retired *n = realloc(t->retired, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->retired = n;
		t->cap = cap;
	}
	__atomic_store_n(&t->slot[id], k, __ATOMIC_RELEASE);
	/* Readers that see this epoch (or later) can no longer load @old. */
	e = __atomic_add_fetch(&t->epoch, 1, __ATOMIC_SEQ_CST);
	if (old)
		t->retired[t->nretired++] = (struct retired){ .k = old, .epoch = e };
	__atomic_store_n(&t->nkeys, t->nkeys + !!k - !!old, __ATOMIC_RELAXED);
	/* The classifier's copy, in the same round: a revocation reaches XDP as it reaches
	 * the workers. Its failure is the mirror's to retry, not the table's. */
	if (k ? !mirror_has(t, old, k) : !!old)
		mirror_one(t, id);
	return 0;
}

static bool same_key(const struct ep_key_info *a, const struct ep_key_info *b)
{
	return !CRYPTO_memcmp(a->key, b->key, EP_AUTH_KEY_LEN) &&
	       a->issued_unix_ms == b->issued_unix_ms;
}

/*
 * @k->xdp, from its info and times. ep_key_entry_fill() maps the expiry from the wall
 * clock onto the monotonic one through a pair of instants; the pair given is the key's
 * issue on both clocks as this table maps it (moved forward to the boot if it was before,
 * as the monotonic clock has no negative times), so XDP's expires_ns is k->expires_ns,
 * to the ns, whenever and however often the key is published.
 */
static void xdp_fill(struct ep_key *k)
{
	const struct ep_key_info *i = &k->info;
	uint64_t before_boot_ms =
		k->issued_ns < 0 ? (uint64_t)(-k->issued_ns + 999999) / 1000000 : 0;

	ep_key_entry_fill(&k->xdp, i->issued_unix_ms + before_boot_ms,
			  (uint64_t)(k->issued_ns + (int64_t)before_boot_ms * 1000000),
			  i->issued_unix_ms, i->expires_unix_ms, i->tenant, i->revoked,
			  i->lim.types, i->lim.all_types, i->lim.max_priority, i->lim.max_task_len,
			  i->lim.tasks_per_s, i->lim.burst_tasks, i->lim.kib_per_s,
			  i->lim.burst_kib);
}

int ep_keytab_set(struct ep_keytab *t, const struct ep_key_info *info, uint64_t now_unix_ms,
		  uint64_t now_ns)
{
	struct ep_key *k, *old;
	int err;

	if (!info->key_id)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->info = *info;
	pthread_mutex_lock(&t->mu);
	old = t->slot[info->key_id];
	if (old && same_key(&old->info, info)) {
		/* The same key republished (new limits, a revocation): its window and times. */
		k->win = old->win;
		k->issued_ns = old->issued_ns;
	} else {
		/* A key issued "later" than now (the controller's clock ahead) counts from now. */
		uint64_t age_ms =
			now_unix_ms > info->issued_unix_ms ? now_unix_ms - info->issued_unix_ms : 0;

		k->win = calloc(1, sizeof(*k->win));
		if (!k->win) {
			err = -ENOMEM;
			goto err_unlock;
		}
		pthread_spin_init(&k->win->lock, PTHREAD_PROCESS_PRIVATE);
		k->issued_ns = (int64_t)now_ns - (int64_t)(age_ms * 1000000);
	}
	k->expires_ns = k->issued_ns +
			(int64_t)(info->expires_unix_ms > info->issued_unix_ms
					  ? (info->expires_unix_ms - info->issued_unix_ms) * 1000000
					  : 0);
	xdp_fill(k);
	k->gen = t->next_gen++;
	k->win->refs++;
	err = publish(t, info->key_id, k);
	if (err) {
		win_put(k->win);
		goto err_unlock;
	}
	reclaim_locked(t);
	pthread_mutex_unlock(&t->mu);
	return 0;

err_unlock:
	pthread_mutex_unlock(&t->mu);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
	return err;
}

int ep_keytab_set_now(struct ep_keytab *t, const struct ep_key_info *k)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ep_keytab_set(t, k, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
			     ep_now_ns());
}

void ep_keytab_del(struct ep_keytab *t, uint16_t id)
{
	pthread_mutex_lock(&t->mu);
	/* Cannot fail for want of room: then the entry stays, and the next reload retries. */
	if (t->slot[id])
		publish(t, id, NULL);
	reclaim_locked(t);
	pthread_mutex_unlock(&t->mu);
}

unsigned int ep_keytab_del_others(struct ep_keytab *t, const uint64_t *keep)
{
	unsigned int n = 0;

	pthread_mutex_lock(&t->mu);
	for (unsigned int id = 1; id < EP_KEY_IDS; id++)
		if (t->slot[id] && !(keep[id / 64] >> (id % 64) & 1))
			n += !publish(t, (uint16_t)id, NULL);
	reclaim_locked(t);
	pthread_mutex_unlock(&t->mu);
	return n;
}

unsigned int ep_keytab_count(const struct ep_keytab *t)
{
	return __atomic_load_n(&t->nkeys, __ATOMIC_RELAXED);
}

void ep_keytab_set_node_id(struct ep_keytab *t, uint32_t node_id)
{
	__atomic_store_n(&t->node_id, node_id, __ATOMIC_RELAXED);
}

uint32_t ep_keytab_node_id(const struct ep_keytab *t)
{
	return __atomic_load_n(&t->node_id, __ATOMIC_RELAXED);
}

uint64_t ep_keytab_next_pn(struct ep_keytab *t)
{
	return __atomic_fetch_add(&t->pn, 1, __ATOMIC_RELAXED);
}

/* --- readers ------------------------------------------------------------------------- */

struct ep_keytab_reader *ep_keytab_reader_new(struct ep_keytab *t)
{
	struct ep_keytab_reader *r = aligned_alloc(64, sizeof(*r));

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->t = t;
	pthread_mutex_lock(&t->mu);
	/* It holds nothing yet: it has passed every epoch so far. */
	r->seen = r->swept = __atomic_load_n(&t->epoch, __ATOMIC_SEQ_CST);
	r->next = t->readers;
	t->readers = r;
	pthread_mutex_unlock(&t->mu);
	return r;
}

void ep_keytab_reader_free(struct ep_keytab_reader *r)
{
	struct ep_keytab_reader **pp;

	if (!r)
		return;
	pthread_mutex_lock(&r->t->mu);
	for (pp = &r->t->readers; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	reclaim_locked(r->t);
	pthread_mutex_unlock(&r->t->mu);
	for (unsigned int i = 0; i < NPAGES; i++) {
		if (!r->page[i])
			continue;
		for (unsigned int j = 0; j < PAGE_SIZE; j++)
			ep_aead_free(r->page[i][j].a);
		free(r->page[i]);
	}
	free(r->ids);
	free(r);
}

/* Drop the contexts of keys whose entry is not the one they were made from. */
static void sweep(struct ep_keytab_reader *r)
{
	for (unsigned int i = 0; i < r->nids;) {
		uint16_t id = r->ids[i];
		struct actx *c = &r->page[id >> PAGE_BITS][id & (PAGE_SIZE - 1)];
		const struct ep_key *k = ep_keytab_get(r->t, id);

		if (k && k->gen == c->gen) {
			i++;
			continue;
		}
		ep_aead_free(c->a);
		c->a = NULL;
		r->ids[i] = r->ids[--r->nids];
	}
}

void ep_keytab_quiesce(struct ep_keytab_reader *r)
{
	uint64_t e = __atomic_load_n(&r->t->epoch, __ATOMIC_SEQ_CST);

	if (e == r->swept)
		return; /* nothing changed: nothing retired waits for this reader */
	sweep(r);
	r->swept = e;
	__atomic_store_n(&r->seen, e, __ATOMIC_SEQ_CST);
}

/* Forget @id in r->ids (it has no context any more). */
static void ids_drop(struct ep_keytab_reader *r, uint16_t id)
{
	for (unsigned int i = 0; i < r->nids; i++)
		if (r->ids[i] == id) {
			r->ids[i] = r->ids[--r->nids];
			return;
		}
}

struct ep_aead *ep_keytab_aead(struct ep_keytab_reader *r, const struct ep_key *k)
{
	uint16_t id = k->info.key_id;
	struct actx **page = &r->page[id >> PAGE_BITS], *c;

	/* An id is in r->ids exactly when its context is not NULL. */
	if (!*page && !(*page = calloc(PAGE_SIZE, sizeof(**page))))
		return NULL;
	c = &(*page)[id & (PAGE_SIZE - 1)];
	if (c->a && c->gen == k->gen)
		return c->a;
	if (c->a) { /* the key changed since the last sweep: in ids already */
		ep_aead_free(c->a);
		c->a = NULL;
		ids_drop(r, id);
	}
	if (r->nids == r->cap) {
		unsigned int cap = r->cap ? 2 * r->cap : 16;
		uint16_t *ids = realloc(r->ids, cap * sizeof(*ids));

		if (!ids)
			return NULL;
		r->ids = ids;
		r->cap = cap;
	}
	c->a = ep_aead_new(k->info.key);
	if (!c->a)
		return NULL;
	c->gen = k->gen;
	r->ids[r->nids++] = id;
	return c->a;
}
