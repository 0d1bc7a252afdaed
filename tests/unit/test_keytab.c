// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the node's key table (dataplane/core/keys.c): entries and their times,
 * expiry and freshness, the replay window shared by two threads (and kept when the key is
 * republished), the grace period before a retired entry is freed, the readers' AEAD
 * contexts following key changes, and readers running against a writer that swaps keys
 * all the while. Built with ASan (a use after free shows there) and, as test_keytab-tsan,
 * with ThreadSanitizer (a data race shows there).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys.h"
#include "edgeplane/codec.h"
#include "lib/gcra.h"
#include "edgeplane/util.h"
#include "../lib/tap.h"
#include "../lib/msg.h"

#define MS	    1000000ull
#define S	    1000000000ull
#define NOW_UNIX_MS 1796000000000ull

static struct ep_key_info info(uint16_t id, uint8_t fill, uint32_t tenant)
{
	struct ep_key_info k = {
		.key_id = id,
		.issued_unix_ms = NOW_UNIX_MS - 10000,	  /* 10 s ago */
		.expires_unix_ms = NOW_UNIX_MS + 3600000, /* in an hour */
		.tenant = tenant,
		.lim = { .max_priority = 3, .max_task_len = 1 << 20 },
	};

	memset(k.key, fill, sizeof(k.key));
	k.lim.types[0] = 1u << 1 | 1u << 2;
	snprintf(k.name, sizeof(k.name), "cam-%u", id);
	snprintf(k.role, sizeof(k.role), "camera");
	return k;
}

/* An echo REQUEST of @len bytes sealed by the device with @key, counter @ctr. */
static size_t sealed(struct ep_aead *a, uint16_t key_id, uint64_t pn, uint8_t *buf, size_t cap,
		     uint32_t len)
{
	static const uint8_t payload[64] = "a payload for the key table's tests";
	struct ep_msg m = EP_TEST_MSG(EP_KIND_REQUEST, .flags = EP_F_AUTH, .task_id = pn,
				      .auth_key_id = key_id);
	ssize_t n = ep_frag_build(&m, payload, len, len, 0, buf, cap);

	if (n < 0 || ep_aead_seal(a, EP_AUTH_SENDER_DEVICE, pn, buf, (size_t)n))
		return 0;
	return (size_t)n;
}

static void test_entries(void)
{
	struct ep_keytab *t = ep_keytab_new();
	/* A reader that never passes a quiescent state: nothing retired is freed, so the
	 * entries below may be looked at after they were replaced. */
	struct ep_keytab_reader *r = ep_keytab_reader_new(t);
	struct ep_key_info k = info(17, 0xaa, 7);
	uint64_t now = 100 * S, keep[EP_KEY_IDS / 64] = { 0 };
	const struct ep_key *e, *e2;

	tap_begin();
	EXPECT(t && r);
	EXPECT(!ep_keytab_get(t, 17));
	EXPECT_EQ(ep_keytab_set(t, &(struct ep_key_info){ .key_id = 0 }, NOW_UNIX_MS, now),
		  -EINVAL);
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 17);
	EXPECT(e && e->info.tenant == 7 && e->info.key[0] == 0xaa &&
	       !strcmp(e->info.name, "cam-17"));
	EXPECT_EQ(ep_keytab_count(t), 1);
	/* Issued 10 s before now, by the node's clock; an hour of life from then. */
	EXPECT_EQ(e->issued_ns, (int64_t)(now - 10 * S));
	EXPECT_EQ(e->expires_ns, (int64_t)(now + 3600 * S));
	EXPECT(ep_key_type_allowed(&e->info.lim, 1) && ep_key_type_allowed(&e->info.lim, 2));
	EXPECT(!ep_key_type_allowed(&e->info.lim, 3) && !ep_key_type_allowed(&e->info.lim, 300));
	k.lim.all_types = true;
	EXPECT(ep_key_type_allowed(&k.lim, 255) && !ep_key_type_allowed(&k.lim, 256));

	/* Republished (revoked), an hour later by the wall clock: same key, same times. */
	k.revoked = true;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS + 3600000, now + S), 0);
	e2 = ep_keytab_get(t, 17);
	EXPECT(e2 && e2 != e && e2->info.revoked && e2->gen != e->gen && e2->win == e->win);
	EXPECT_EQ(e2 ? e2->issued_ns : 0, e->issued_ns);
	EXPECT_EQ(ep_keytab_count(t), 1);
	EXPECT_EQ(ep_keytab_reclaim(t), 1);

	/* Other bytes under the same id: a new key, a new window. */
	k = info(17, 0xbb, 7);
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 17);
	EXPECT(e && e->win != e2->win && !e->info.revoked);

	/* A key issued later than the node's clock says counts from now. */
	k = info(18, 0xcc, 7);
	k.issued_unix_ms = NOW_UNIX_MS + 5000;
	k.expires_unix_ms = NOW_UNIX_MS + 6000;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 18);
	EXPECT(e && e->issued_ns == (int64_t)now && e->expires_ns == (int64_t)(now + S));

	ep_keytab_del(t, 18);
	EXPECT(!ep_keytab_get(t, 18));
	ep_keytab_del(t, 18); /* nothing there: nothing happens */
	k = info(19, 0xdd, 8);
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	keep[19 / 64] |= 1ull << (19 % 64);
	EXPECT_EQ(ep_keytab_del_others(t, keep), 1);
	EXPECT(!ep_keytab_get(t, 17) && ep_keytab_get(t, 19));
	EXPECT_EQ(ep_keytab_count(t), 1);

	ep_keytab_set_node_id(t, 42);
	EXPECT_EQ(ep_keytab_node_id(t), 42);
	{
		uint64_t a = ep_keytab_next_pn(t), b = ep_keytab_next_pn(t);

		/* Started at the realtime clock in ns: after 2026, and one per datagram. */
		EXPECT(a > 1767225600ull * S && b == a + 1);
	}
	ep_keytab_reader_free(r); /* the last reader: everything retired goes */
	EXPECT_EQ(ep_keytab_reclaim(t), 0);
	ep_keytab_free(t);
	tap_end("entries: set, republish keeps the window and the issue time, a new key under "
		"an id gets a new window, times mapped onto the monotonic clock, delete, "
		"delete the others, node id and pn");
}

static void test_expiry_freshness(void)
{
	struct ep_keytab *t = ep_keytab_new();
	struct ep_key_info k = info(5, 0x11, 7);
	uint64_t now = 1000 * S;
	const struct ep_key *e;

	tap_begin();
	k.issued_unix_ms = NOW_UNIX_MS - 100000; /* 100 s ago */
	k.expires_unix_ms = NOW_UNIX_MS + 2000;	 /* in 2 s */
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 5);
	EXPECT(e && !ep_key_expired(e, now) && !ep_key_expired(e, now + 2 * S - 1));
	EXPECT(e && ep_key_expired(e, now + 2 * S) && ep_key_expired(e, now + 3600 * S));

	/* The device counts 100 s since it got the key: fresh within 5 s either way. */
	EXPECT(ep_key_fresh(e, ep_auth_pn(100, 7), now, 5));
	EXPECT(ep_key_fresh(e, ep_auth_pn(95, 7), now, 5));
	EXPECT(ep_key_fresh(e, ep_auth_pn(105, 7), now, 5));
	EXPECT(!ep_key_fresh(e, ep_auth_pn(94, 7), now, 5));
	EXPECT(!ep_key_fresh(e, ep_auth_pn(106, 7), now, 5));
	EXPECT(!ep_key_fresh(e, ep_auth_pn(0, 7), now, 5));
	EXPECT(ep_key_fresh(e, ep_auth_pn(0, 7), now - 98 * S, 5));
	/* At the cap, the device's seconds stop: fresh from (cap - skew) on. */
	EXPECT(!ep_key_fresh(e, ep_auth_pn(EP_AUTH_SECS_MAX, 7), now, 5));
	EXPECT(ep_key_fresh(e, ep_auth_pn(EP_AUTH_SECS_MAX, 7), now + (EP_AUTH_SECS_MAX - 100) * S,
			    5));
	EXPECT(ep_key_fresh(e, ep_auth_pn(EP_AUTH_SECS_MAX, 7), now + (EP_AUTH_SECS_MAX + 900) * S,
			    5));

	/* Expired before it came: expired at once. */
	k = info(6, 0x12, 7);
	k.expires_unix_ms = NOW_UNIX_MS - 1;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	EXPECT(ep_key_expired(ep_keytab_get(t, 6), now));
	ep_keytab_free(t);
	tap_end("expiry on the node's clock, and freshness: the pn's seconds within "
		"clock_skew_s of the seconds since the key's issue, the capped seconds too");
}

/* --- the classifier's copy, and the buckets --------------------------------------------- */

#define MIRROR_LOG 16

struct mirror_log {
	unsigned int n;
	int fail; /* the next call's return, then 0 */
	struct {
		uint16_t id;
		bool gone;
		struct ep_key_entry e;
	} call[MIRROR_LOG];
};

static int mirror(void *arg, uint16_t id, const struct ep_key *k)
{
	struct mirror_log *l = arg;
	int ret = l->fail;

	if (l->n < MIRROR_LOG) {
		l->call[l->n].id = id;
		l->call[l->n].gone = !k;
		if (k)
			l->call[l->n].e = k->xdp;
		l->n++;
	}
	l->fail = 0;
	return ret;
}

static void test_mirror(void)
{
	struct ep_keytab *t = ep_keytab_new();
	struct ep_key_info k = info(21, 0x21, 7), k2 = info(22, 0x22, 9);
	uint64_t now = 50 * S, keep[EP_KEY_IDS / 64] = { 0 };
	uint64_t held[EP_KEY_IDS / 64] = { 0 };
	struct mirror_log l = { 0 };
	const struct ep_key *e;

	tap_begin();
	k.lim.tasks_per_s = 100;
	k.lim.burst_tasks = 4;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	/* Setting the mirror passes what the table holds, and what the mirror held that
	 * the table does not (ids 21 and 300) as gone. */
	held[21 / 64] |= 1ull << (21 % 64);
	held[300 / 64] |= 1ull << (300 % 64);
	EXPECT_EQ(ep_keytab_set_mirror(t, mirror, &l, held), 0);
	EXPECT(l.n == 2 && l.call[0].id == 21 && !l.call[0].gone);
	EXPECT(l.call[1].id == 300 && l.call[1].gone);
	l.n = 1;
	e = ep_keytab_get(t, 21);
	/* The entry XDP gets: ep_key_entry_fill() of the key, its expiry the table's to the
	 * ns, its rates derived. */
	EXPECT_EQ(l.call[0].e.expires_ns, (uint64_t)e->expires_ns);
	EXPECT(l.call[0].e.tenant == 7 && l.call[0].e.max_priority == 3 &&
	       l.call[0].e.types[0] == (1u << 1 | 1u << 2) &&
	       !(l.call[0].e.flags & EP_KEY_F_REVOKED));
	EXPECT(l.call[0].e.tasks_per_s == 100 && l.call[0].e.task_cost_ns == 10 * MS &&
	       l.call[0].e.task_tau_ns == 40 * MS);
	EXPECT_EQ(memcmp(&l.call[0].e, &e->xdp, sizeof(e->xdp)), 0);

	/* A new key, once; the same key again (a keys file read again, later by both
	 * clocks): nothing to pass. */
	EXPECT_EQ(ep_keytab_set(t, &k2, NOW_UNIX_MS, now), 0);
	EXPECT(l.n == 2 && l.call[1].id == 22 && l.call[1].e.tenant == 9);
	EXPECT_EQ(ep_keytab_set(t, &k2, NOW_UNIX_MS + 5000, now + 5 * S), 0);
	EXPECT_EQ(l.n, 2);
	/* Revoked: passed, in the same call. */
	k.revoked = true;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS + 6000, now + 6 * S), 0);
	EXPECT(l.n == 3 && l.call[2].id == 21 && (l.call[2].e.flags & EP_KEY_F_REVOKED));
	EXPECT_EQ(l.call[2].e.expires_ns, l.call[0].e.expires_ns);
	/* Removed, by id and by a full reload. */
	ep_keytab_del(t, 21);
	EXPECT(l.n == 4 && l.call[3].id == 21 && l.call[3].gone);
	ep_keytab_del(t, 21); /* nothing there: nothing passed */
	EXPECT_EQ(l.n, 4);
	EXPECT_EQ(ep_keytab_del_others(t, keep), 1);
	EXPECT(l.n == 5 && l.call[4].id == 22 && l.call[4].gone);

	/* The mirror fails on a key: the table has it all the same, and the key source's
	 * next round passes it again, as the table has it then. */
	l.fail = -EIO;
	EXPECT_EQ(ep_keytab_set(t, &k2, NOW_UNIX_MS, now), 0);
	EXPECT(l.n == 6 && ep_keytab_get(t, 22));
	EXPECT_EQ(ep_keytab_set(t, &k2, NOW_UNIX_MS, now), 0); /* unchanged, but not mirrored */
	EXPECT(l.n == 7 && l.call[6].id == 22 && !l.call[6].gone);
	l.fail = -EIO;
	ep_keytab_del(t, 22);
	EXPECT_EQ(l.n, 8);
	ep_keytab_reclaim(t);
	EXPECT(l.n == 9 && l.call[8].id == 22 && l.call[8].gone);
	ep_keytab_reclaim(t); /* done: nothing more */
	EXPECT_EQ(l.n, 9);
	EXPECT_EQ(ep_keytab_set_mirror(t, NULL, NULL, NULL), 0);
	EXPECT_EQ(ep_keytab_set(t, &k2, NOW_UNIX_MS, now), 0);
	EXPECT_EQ(l.n, 9);
	ep_keytab_free(t);
	tap_end("mirror: set, the table's keys passed and the mirror's others gone; every "
		"change passed once in the call that makes it (new, revoked, deleted, deleted by "
		"a reload), an unchanged key not again, a failure retried by the next round; the "
		"entry is ep_key_entry_fill()'s with the table's expiry");
}

static void test_buckets(void)
{
	struct ep_keytab *t = ep_keytab_new();
	struct ep_key_info k = info(23, 0x23, 7);
	uint64_t now = 70 * S;
	const struct ep_key *e;
	unsigned int taken = 0;

	tap_begin();
	k.lim.tasks_per_s = 10;
	k.lim.burst_tasks = 5;
	k.lim.kib_per_s = 100;
	k.lim.burst_kib = 64;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 23);
	/* A full bucket: its burst at once, then nothing until it refills. */
	for (int i = 0; i < 20; i++)
		taken += ep_key_take_task(ep_key_buckets(e), &e->xdp, now);
	EXPECT_EQ(taken, 5);
	EXPECT(!ep_key_take_task(ep_key_buckets(e), &e->xdp, now + 99 * MS));
	EXPECT(ep_key_take_task(ep_key_buckets(e), &e->xdp, now + 100 * MS));
	/* Bytes: 64 KiB at once. */
	EXPECT(ep_key_take_bytes(ep_key_buckets(e), &e->xdp, 60 << 10, now));
	EXPECT(!ep_key_take_bytes(ep_key_buckets(e), &e->xdp, 5 << 10, now));
	/* Republished (a change of limits): the same buckets, still empty. */
	k.lim.max_priority = 4;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 23);
	EXPECT(!ep_key_take_task(ep_key_buckets(e), &e->xdp, now + 100 * MS));
	/* Another key under the id: full ones. */
	k = info(23, 0x24, 7);
	k.lim.tasks_per_s = 10;
	k.lim.burst_tasks = 5;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, now), 0);
	e = ep_keytab_get(t, 23);
	EXPECT(ep_key_take_task(ep_key_buckets(e), &e->xdp, now + 100 * MS));
	ep_keytab_free(t);
	tap_end("a key's buckets for the workers (lib/gcra.h, the classifier's arithmetic): "
		"the burst, the rate, kept when the key is republished, fresh for a new key");
}

/* --- the replay window, shared ---------------------------------------------------------- */

#define REPLAY_CTRS 20000

struct replay_arg {
	struct ep_keytab *t;
	pthread_barrier_t *start;
	unsigned int accepted;
	unsigned int refused; /* seen, or older than the window */
};

static void *replay_thread(void *p)
{
	struct replay_arg *a = p;

	/* Both threads offer every counter once, in the same order, from the same moment.
	 * The first to offer a counter takes it (nobody can have moved the window past a
	 * counter nobody offered yet); the other finds it seen, or already too old. */
	pthread_barrier_wait(a->start);
	for (uint64_t c = 0; c < REPLAY_CTRS; c++) {
		const struct ep_key *k = ep_keytab_get(a->t, 9);
		int ret = ep_key_replay(k, ep_auth_pn(3, c));

		if (!ret)
			a->accepted++;
		else if (ret == -EALREADY || ret == -ESTALE)
			a->refused++;
	}
	return NULL;
}

static void test_replay_shared(void)
{
	struct ep_keytab *t = ep_keytab_new();
	struct ep_key_info k = info(9, 0x33, 7);
	pthread_barrier_t start;
	struct replay_arg a = { .t = t, .start = &start }, b = { .t = t, .start = &start };
	const struct ep_key *e;
	pthread_t th;

	tap_begin();
	pthread_barrier_init(&start, NULL, 2);
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, ep_now_ns()), 0);
	EXPECT_EQ(pthread_create(&th, NULL, replay_thread, &a), 0);
	replay_thread(&b);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&start);
	tap_diag("thread A accepted %u, thread B %u", a.accepted, b.accepted);
	EXPECT_EQ(a.accepted + b.accepted, REPLAY_CTRS);
	EXPECT_EQ(a.refused + b.refused, REPLAY_CTRS);

	/* Republished (a change of limits): still the same window. */
	e = ep_keytab_get(t, 9);
	EXPECT_EQ(ep_key_replay(e, ep_auth_pn(3, REPLAY_CTRS - 1)), -EALREADY);
	k.lim.max_priority = 5;
	EXPECT_EQ(ep_keytab_set(t, &k, NOW_UNIX_MS, ep_now_ns()), 0);
	e = ep_keytab_get(t, 9);
	EXPECT_EQ(ep_key_replay(e, ep_auth_pn(9, REPLAY_CTRS - 1)), -EALREADY);
	EXPECT_EQ(ep_key_replay(e, ep_auth_pn(3, 0)), -ESTALE);
	EXPECT_EQ(ep_key_replay(e, ep_auth_pn(3, REPLAY_CTRS)), 0);
	ep_keytab_free(t);
	tap_end("replay window shared by two threads: each of 20000 counters is taken once, "
		"by one of them; a republished key keeps its window (the seconds do not count)");
}

/* --- grace period and contexts ---------------------------------------------------------- */

static bool opens(struct ep_aead *a, const uint8_t key[EP_AUTH_KEY_LEN], uint16_t id)
{
	struct ep_aead *dev = ep_aead_new(key);
	uint8_t buf[256];
	uint64_t pn = 0;
	uint32_t sender = 1;
	size_t n = dev ? sealed(dev, id, ep_auth_pn(1, 2), buf, sizeof(buf), 40) : 0;
	bool ok = n && !ep_aead_open(a, buf, n, &sender, &pn) && sender == EP_AUTH_SENDER_DEVICE &&
		  pn == ep_auth_pn(1, 2);

	ep_aead_free(dev);
	return ok;
}

static void test_grace_contexts(void)
{
	struct ep_keytab *t = ep_keytab_new();
	struct ep_keytab_reader *r = ep_keytab_reader_new(t), *idle = ep_keytab_reader_new(t);
	struct ep_key_info k = info(300, 0x44, 7);
	const struct ep_key *e;
	struct ep_aead *a, *a2;

	tap_begin();
	EXPECT(r && idle);
	EXPECT_EQ(ep_keytab_set_now(t, &k), 0);
	e = ep_keytab_get(t, 300);
	a = ep_keytab_aead(r, e);
	EXPECT(a && opens(a, k.key, 300));
	EXPECT(ep_keytab_aead(r, e) == a); /* made once */

	/* The key changes: the old entry waits for both readers. */
	k = info(300, 0x55, 7);
	EXPECT_EQ(ep_keytab_set_now(t, &k), 0);
	EXPECT_EQ(ep_keytab_reclaim(t), 1);
	EXPECT(e->info.key[0] == 0x44); /* still readable: not freed */
	ep_keytab_quiesce(r);
	EXPECT_EQ(ep_keytab_reclaim(t), 1); /* @idle has not passed */
	ep_keytab_quiesce(idle);
	EXPECT_EQ(ep_keytab_reclaim(t), 0);
	/* r's context was dropped at its quiescent state; the new one has the new key. */
	e = ep_keytab_get(t, 300);
	a2 = ep_keytab_aead(r, e);
	EXPECT(a2 && opens(a2, k.key, 300) && !opens(a2, info(0, 0x44, 0).key, 300));

	/* A change between quiescent states: the context is remade on use. */
	k = info(300, 0x66, 7);
	EXPECT_EQ(ep_keytab_set_now(t, &k), 0);
	a2 = ep_keytab_aead(r, ep_keytab_get(t, 300));
	EXPECT(a2 && opens(a2, k.key, 300));

	/* The key goes: its context goes at the next quiescent state. */
	ep_keytab_del(t, 300);
	ep_keytab_quiesce(r);
	ep_keytab_quiesce(idle);
	EXPECT_EQ(ep_keytab_reclaim(t), 0);
	/* A reader that goes away no longer holds anything back. */
	k = info(301, 0x77, 7);
	EXPECT_EQ(ep_keytab_set_now(t, &k), 0);
	EXPECT_EQ(ep_keytab_set_now(t, &(struct ep_key_info){ .key_id = 301 }), 0);
	EXPECT_EQ(ep_keytab_reclaim(t), 1);
	ep_keytab_reader_free(idle);
	ep_keytab_quiesce(r);
	EXPECT_EQ(ep_keytab_reclaim(t), 0);
	ep_keytab_reader_free(r);
	ep_keytab_free(t);
	tap_end("grace period: a retired entry is freed only once every reader passed a "
		"quiescent state; readers' AEAD contexts follow key changes and removals");
}

/* --- readers against a swapping writer -------------------------------------------------- */

#define SWAP_IDS    8
#define SWAP_ROUNDS 3000

struct swap_arg {
	struct ep_keytab *t;
	int *stop;
	unsigned long lookups, opened, torn; /* this thread's */
};

/* The writer's invariant: key bytes all equal the tenant's low byte. */
static void *swap_reader(void *p)
{
	struct swap_arg *s = p;
	struct ep_keytab_reader *r = ep_keytab_reader_new(s->t);
	uint8_t buf[256];

	while (r && !__atomic_load_n(s->stop, __ATOMIC_RELAXED)) {
		for (uint16_t id = 1; id <= SWAP_IDS; id++) {
			const struct ep_key *k = ep_keytab_get(s->t, id);
			struct ep_aead *a;
			uint32_t sender;
			uint64_t pn;
			size_t n;

			s->lookups++;
			if (!k)
				continue;
			for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
				s->torn += k->info.key[i] != (uint8_t)k->info.tenant;
			a = ep_keytab_aead(r, k);
			/* Seal as the device would with the entry's key, open with the
			 * reader's context: they must agree. */
			n = a ? sealed(a, id, ep_auth_pn(0, s->lookups), buf, sizeof(buf), 16) : 0;
			if (n && !ep_aead_open(a, buf, n, &sender, &pn))
				__atomic_fetch_add(&s->opened, 1, __ATOMIC_RELAXED);
			/* The window is shared and locked; which thread takes a counter
			 * varies. */
			(void)ep_key_replay(k, ep_auth_pn(0, s->lookups));
		}
		ep_keytab_quiesce(r);
	}
	ep_keytab_reader_free(r);
	return NULL;
}

static void test_swapping(void)
{
	struct ep_keytab *t = ep_keytab_new();
	int stop = 0;
	struct swap_arg s[2] = { { .t = t, .stop = &stop }, { .t = t, .stop = &stop } };
	pthread_t th[2];
	unsigned int left;

	tap_begin();
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(pthread_create(&th[i], NULL, swap_reader, &s[i]), 0);
	/* SWAP_ROUNDS at least, and on until each reader has opened a datagram: on a busy
	 * machine the writer can be done before a reader thread first runs. */
	for (uint32_t round = 1;
	     round <= SWAP_ROUNDS || ((!__atomic_load_n(&s[0].opened, __ATOMIC_RELAXED) ||
				       !__atomic_load_n(&s[1].opened, __ATOMIC_RELAXED)) &&
				      round <= 1000 * SWAP_ROUNDS);
	     round++) {
		uint16_t id = (uint16_t)(round % SWAP_IDS + 1);
		struct ep_key_info k = info(id, (uint8_t)round, round);

		if (round % 5 == 0)
			ep_keytab_del(t, id);
		else
			EXPECT_EQ(ep_keytab_set_now(t, &k), 0);
		ep_keytab_reclaim(t);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	left = ep_keytab_reclaim(t);
	tap_diag("%lu + %lu lookups, %lu + %lu datagrams opened, %u entries retired at the end",
		 s[0].lookups, s[1].lookups, s[0].opened, s[1].opened, left);
	EXPECT_EQ(s[0].torn + s[1].torn, 0);
	EXPECT(s[0].opened > 0 && s[1].opened > 0);
	EXPECT_EQ(left, 0); /* no reader left: everything freed */
	ep_keytab_free(t);
	tap_end("two readers (lookup, AEAD context, seal and open, replay window) against a "
		"writer that replaces and removes keys 3000 times: no torn entry, nothing used "
		"after free (ASan), no race (TSan)");
}

int main(void)
{
	test_entries();
	test_expiry_freshness();
	test_mirror();
	test_buckets();
	test_replay_shared();
	test_grace_contexts();
	test_swapping();
	return tap_finish();
}
