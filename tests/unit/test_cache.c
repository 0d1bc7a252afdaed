// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the runtime's result cache: states, window, bounds, handles, cancel, the
 * resend gap and replay budget, identity binding (CONFLICT), and no eviction of pending
 * tasks. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/cache.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

#define MS 1000000ull

static struct ep_peer peer(int host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ep_peer p;
	char ip[32];

	snprintf(ip, sizeof(ip), "198.18.2.%d", host);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	ep_peer_from_sockaddr(&p, (struct sockaddr *)&sa);
	return p;
}

/* A single-fragment request of @type with @len bytes of @payload. */
static struct ep_cache_ident single(uint16_t type, const void *payload, uint32_t len)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = type,
			    .tenant_id = 1,
			    .total_len = len,
			    .frag_count = 1,
			    .payload_len = (uint16_t)len };
	struct ep_cache_ident k;

	ep_cache_ident_msg(&k, &m, payload);
	return k;
}

/* Fragment @i of a request of @total bytes in fragments of @fs, payload @data. */
static struct ep_cache_ident frag(uint16_t type, const uint8_t *data, uint32_t total, uint32_t fs,
				  uint32_t i)
{
	uint32_t count = (total + fs - 1) / fs, off = i * fs;
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = type,
			    .tenant_id = 1,
			    .total_len = total,
			    .frag_count = (uint16_t)count,
			    .frag_index = (uint16_t)i,
			    .frag_offset = off,
			    .payload_len = (uint16_t)(total - off < fs ? total - off : fs) };
	struct ep_cache_ident k;

	ep_cache_ident_msg(&k, &m, data + off);
	return k;
}

static const struct ep_cached result = {
	.data = (const uint8_t *)"result", .len = 6, .queue_us = 5, .exec_us = 7
};

/* Finish pending entry @h of @c with a reply of @len bytes of @data at @now. */
static void complete_with(struct ep_cache *c, uint64_t h, const char *data, size_t len,
			  uint64_t now)
{
	ep_cache_complete(c, h, &(struct ep_cached){ .data = (const uint8_t *)data, .len = len },
			  now);
}

static void test_states(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 1000 * MS, .entries = 16, .bytes = 4096, .max_replays = 100 });
	struct ep_peer a = peer(1, 100), a2 = peer(1, 101), b = peer(2, 100);
	struct ep_cache_ident k = single(1, "abc", 3);
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t h;

	tap_begin();
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 0, &out), EP_CACHE_MISS);
	h = ep_cache_begin(c, &a, 0, 7, &k, 0);
	EXPECT(h != EP_CACHE_NONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 1, &out), EP_CACHE_PENDING);
	EXPECT_EQ(ep_cache_lookup(c, &a2, 0, 7, &k, 1, &out), EP_CACHE_MISS); /* other port */
	EXPECT_EQ(ep_cache_lookup(c, &b, 0, 7, &k, 1, &out), EP_CACHE_MISS);  /* other host */
	ep_cache_complete(c, h, &result, 2);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 3, &out), EP_CACHE_DONE);
	EXPECT(out.len == 6 && !memcmp(out.data, "result", 6));
	EXPECT_EQ(out.exec_us, 7);
	EXPECT_EQ(out.replays, 1);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 4, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.replays, 2);
	tap_end("miss -> pending -> done, keyed by address, port and task id; replays counted");

	tap_begin();
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 1002 * MS, &out), EP_CACHE_MISS);
	tap_end("an entry leaves a window after its reply");

	tap_begin();
	h = ep_cache_begin(c, &b, 0, 9, &k, 2000 * MS);
	EXPECT_EQ(ep_cache_cancel(c, &b, 0, 9), 0);
	EXPECT(ep_cache_cancelled(c, h));
	EXPECT_EQ(ep_cache_cancel(c, &b, 0, 10), -ENOENT);
	ep_cache_forget(c, h);
	EXPECT(!ep_cache_cancelled(c, h));
	EXPECT_EQ(ep_cache_lookup(c, &b, 0, 9, &k, 2001 * MS, &out), EP_CACHE_MISS);
	ep_cache_complete(c, h, &(struct ep_cached){ .len = 0 }, 2002 * MS); /* stale: no-op */
	EXPECT_EQ(ep_cache_lookup(c, &b, 0, 9, &k, 2003 * MS, &out), EP_CACHE_MISS);
	ep_cache_complete(c, EP_CACHE_NONE, &result, 2004 * MS); /* no entry: no-op */
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.entries, 0);
	EXPECT_EQ(st.pending, 0);
	tap_end("cancel by key, forget by handle, a stale handle does nothing");
	ep_cache_free(c);
}

/* The resend gap holds for every request, single-fragment ones included, and the replay
 * budget caps what one task can get from the cache. */
static void test_replays(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 100000 * MS,
								  .entries = 16,
								  .bytes = 4096,
								  .max_replays = 3,
								  .resend_gap_ns = 10 * MS });
	struct ep_peer a = peer(1, 100);
	struct ep_cache_ident k = single(1, "abc", 3);
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t h = ep_cache_begin(c, &a, 0, 7, &k, 0);
	int done = 0;

	ep_cache_complete(c, h, &result, 100 * MS); /* the reply went out at 100 ms */
	tap_begin();
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 105 * MS, &out), EP_CACHE_QUIET);
	/* A datagram stamped before the reply went out is inside the gap too. */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 99 * MS, &out), EP_CACHE_QUIET);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 110 * MS, &out), EP_CACHE_DONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 111 * MS, &out), EP_CACHE_QUIET);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 119 * MS, &out), EP_CACHE_QUIET);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 120 * MS, &out), EP_CACHE_DONE);
	tap_end("a single-fragment retry within 10 ms of the last reply is not answered");

	tap_begin();
	for (uint64_t t = 130; t < 1000; t += 10)
		done += ep_cache_lookup(c, &a, 0, 7, &k, t * MS, &out) == EP_CACHE_DONE;
	EXPECT_EQ(done, 1); /* the third and last */
	EXPECT_EQ(out.replays, 3);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.hits_done, 3);
	EXPECT_EQ(st.hits_gap, 4);
	EXPECT_EQ(st.replays_refused, 86);
	tap_end("at most max_replays (3) replies from the cache per task; the rest counted");
	ep_cache_free(c);

	tap_begin();
	/* A shorter gap for single-fragment requests (one datagram is no burst): a lost reply
	 * is replayed at a client's first retry, a few milliseconds later. Multi-fragment
	 * retries keep the long gap, their fragments being one burst. */
	c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 100000 * MS,
						 .entries = 16,
						 .bytes = 8192,
						 .max_replays = 8,
						 .resend_gap_ns = 10 * MS,
						 .resend_gap_single_ns = 1 * MS });
	{
		static uint8_t data[3000];
		struct ep_cache_ident f0 = frag(2, data, sizeof(data), 1000, 0);

		h = ep_cache_begin(c, &a, 0, 9, &k, 0);
		ep_cache_complete(c, h, &result, 100 * MS);
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &k, 100 * MS + MS / 2, &out),
			  EP_CACHE_QUIET); /* a copy of the datagram that was answered */
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &k, 101 * MS, &out), EP_CACHE_DONE);
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &k, 103 * MS, &out), EP_CACHE_DONE);
		h = ep_cache_begin(c, &a, 0, 10, &f0, 0);
		ep_cache_complete(c, h, &result, 100 * MS);
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 10, &f0, 103 * MS, &out), EP_CACHE_QUIET);
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 10, &f0, 110 * MS, &out), EP_CACHE_DONE);
	}
	tap_end("single-fragment retries have the short gap (1 ms), fragmented ones the long one");
	ep_cache_free(c);

	tap_begin();
	c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 100000 * MS, .entries = 16, .bytes = 4096, .max_replays = 0 });
	h = ep_cache_begin(c, &a, 0, 8, &k, 0);
	ep_cache_complete(c, h, &result, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &k, 1000 * MS, &out), EP_CACHE_QUIET);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &(struct ep_cache_ident){ 0 }, 1000 * MS, &out),
		  EP_CACHE_CONFLICT);
	tap_end("max_replays 0: a finished task is never replayed, still holds its id");
	ep_cache_free(c);
}

/* An entry answers only the request it was made for. */
static void test_identity(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 100000 * MS, .entries = 16, .bytes = 65536, .max_replays = 1000 });
	struct ep_peer a = peer(1, 100);
	struct ep_cache_ident k = single(1, "hello", 5), x;
	static uint8_t big[5000], other[5000];
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t h, now = 0;

	tap_begin();
	h = ep_cache_begin(c, &a, 0, 7, &k, now);
	x = single(2, "hello", 5); /* another type: issue 11's "checksum" retry */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, ++now, &out), EP_CACHE_PENDING);
	ep_cache_complete(c, h, &result, ++now);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, "hellp", 5); /* another payload */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, NULL, 0); /* header only */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, "hello", 5);
	x.tenant_id = 2;
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, "hello", 5);
	x.zstd = 1;
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, "hello", 5);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_DONE);
	ep_cache_ident_hash(c, &x); /* a precomputed digest compares the same */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &x, ++now, &out), EP_CACHE_DONE);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.conflicts, 6);
	tap_end("single fragment: type, tenant, length, compression and payload bind the entry");

	tap_begin();
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = other[i] = (uint8_t)(i * 7);
	other[10] ^= 1;			 /* fragment 0 differs */
	other[3000] ^= 1;		 /* and fragment 2 */
	k = frag(1, big, 5000, 1400, 2); /* the task as reassembled: any fragment's header */
	ep_cache_ident_task(&k,
			    &(struct ep_msg){ .task_type = 1,
					      .tenant_id = 1,
					      .total_len = 5000,
					      .frag_count = 4,
					      .frag_index = 1,
					      .frag_offset = 1400,
					      .payload_len = 1400 },
			    big);
	ep_cache_ident_hash(c, &k);
	h = ep_cache_begin(c, &a, 0, 8, &k, ++now);
	ep_cache_complete(c, h, &result, ++now);
	now += 100 * MS;
	x = frag(1, big, 5000, 1400, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_DONE);
	x = frag(1, big, 5000, 1400, 3);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_DONE);
	x = frag(1, other, 5000, 1400, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = frag(1, other, 5000, 1400, 2); /* compared on the header alone */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_DONE);
	x = frag(1, big, 5000, 1000, 0); /* another fragment size */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = frag(1, big, 4900, 1400, 3); /* another length */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = frag(3, big, 5000, 1400, 1); /* another type */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_CONFLICT);
	x = single(1, big, 1400); /* one fragment, not four */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 8, &x, ++now, &out), EP_CACHE_CONFLICT);
	tap_end("multi-fragment: fragment 0's digest, the other fragments by their header");

	tap_begin();
	/* An entry without a digest (a task cancelled while its fragments were arriving)
	 * binds the header fields only. */
	k = frag(1, big, 5000, 1400, 2);
	ep_cache_ident_task(&k,
			    &(struct ep_msg){ .task_type = 1,
					      .tenant_id = 1,
					      .total_len = 5000,
					      .frag_count = 4,
					      .frag_index = 2,
					      .frag_offset = 2800,
					      .payload_len = 1400 },
			    NULL);
	h = ep_cache_begin(c, &a, 0, 9, &k, ++now);
	ep_cache_complete(c, h, &(struct ep_cached){ .status = 11 }, ++now);
	now += 100 * MS;
	x = frag(1, other, 5000, 1400, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &x, ++now, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.status, 11);
	x = frag(2, other, 5000, 1400, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &x, ++now, &out), EP_CACHE_CONFLICT);
	tap_end("an entry without a digest is bound by the header fields");
	ep_cache_free(c);
}

/* Pending entries stay, whatever the pressure: a full cache of pending tasks refuses. */
static void test_no_pending_eviction(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 1000 * MS, .entries = 4, .bytes = 4096, .max_replays = 8 });
	struct ep_peer a = peer(1, 100);
	struct ep_cache_ident k = single(1, "x", 1);
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t h[8];
	static char big[900];

	tap_begin();
	for (int i = 0; i < 4; i++)
		h[i] = ep_cache_begin(c, &a, 0, (uint64_t)i, &k, (uint64_t)i);
	EXPECT_EQ(ep_cache_begin(c, &a, 0, 4, &k, 10), EP_CACHE_NONE);
	/* Pending entries do not expire either: their task ends them. */
	EXPECT_EQ(ep_cache_begin(c, &a, 0, 5, &k, 5000 * MS), EP_CACHE_NONE);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, (uint64_t)i, &k, 5000 * MS, &out),
			  EP_CACHE_PENDING);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.refused, 2);
	EXPECT_EQ(st.evicted, 0);
	EXPECT_EQ(st.pending, 4);
	tap_end("a cache full of pending tasks refuses a new one (EP_CACHE_NONE), evicts none");

	tap_begin();
	/* One finishes: a new task takes its place, and not a pending one's. */
	ep_cache_complete(c, h[2], &result, 5001 * MS);
	h[4] = ep_cache_begin(c, &a, 0, 4, &k, 5002 * MS);
	EXPECT(h[4] != EP_CACHE_NONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 2, &k, 5003 * MS, &out), EP_CACHE_MISS);
	for (int i = 0; i < 5; i++)
		if (i != 2)
			EXPECT_EQ(ep_cache_lookup(c, &a, 0, (uint64_t)i, &k, 5003 * MS, &out),
				  EP_CACHE_PENDING);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.evicted, 1);
	tap_end("a full cache evicts its oldest DONE entry for a new task");

	tap_begin();
	/* The reply ring evicts DONE replies only: fill it with replies of the three still
	 * pending while one more comes and goes. */
	memset(big, 'b', sizeof(big));
	for (int i = 0; i < 3; i++) {
		int n = i == 2 ? 4 : i;

		complete_with(c, h[n], big, sizeof(big), 5010 * MS);
	}
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.pending, 1); /* task 3 */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 3, &k, 5011 * MS, &out), EP_CACHE_PENDING);
	for (uint64_t id = 10; id < 30; id++) {
		uint64_t hh = ep_cache_begin(c, &a, 0, id, &k, 5020 * MS);

		EXPECT(hh != EP_CACHE_NONE);
		complete_with(c, hh, big, sizeof(big), 5020 * MS);
	}
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 3, &k, 5021 * MS, &out), EP_CACHE_PENDING);
	tap_end("entry and byte pressure never push out a pending task");
	ep_cache_free(c);

	tap_begin();
	c = ep_cache_new(
		&(struct ep_cache_cfg){ .window_ns = 1000 * MS, .entries = 4, .bytes = 4096 });
	h[0] = ep_cache_begin(c, &a, 0, 1, &k, 0);
	EXPECT_EQ(ep_cache_begin(c, &a, 0, 1, &k, 1), EP_CACHE_NONE); /* pending already */
	ep_cache_complete(c, h[0], &result, 2);
	h[1] = ep_cache_begin(c, &a, 0, 1, &k, 3); /* a DONE one is replaced */
	EXPECT(h[1] != EP_CACHE_NONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 1, &k, 4, &out), EP_CACHE_PENDING);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.entries, 1);
	tap_end("begin on a key already pending refuses; on a finished one replaces it");
	ep_cache_free(c);
}

static void test_bounds(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 1000000 * MS, .entries = 8, .bytes = 4096, .max_replays = 100 });
	struct ep_peer a = peer(1, 100);
	struct ep_cache_ident k = single(1, "x", 1);
	struct ep_cache_stats st;
	struct ep_cached out;
	static char big[900], huge[2000];
	int done = 0;

	memset(big, 'b', sizeof(big) - 1);
	memset(huge, 'h', sizeof(huge) - 1);
	tap_begin();
	for (uint64_t id = 1; id <= 20; id++) {
		uint64_t h = ep_cache_begin(c, &a, 0, id, &k, id);

		complete_with(c, h, big, sizeof(big), id);
	}
	ep_cache_get_stats(c, &st);
	EXPECT(st.entries <= 8);
	EXPECT(st.bytes <= 4096);
	for (uint64_t id = 1; id <= 20; id++) {
		enum ep_cache_state s = ep_cache_lookup(c, &a, 0, id, &k, 100, &out);

		if (s == EP_CACHE_DONE) {
			done++;
			EXPECT(out.len == sizeof(big) && out.data[0] == 'b' &&
			       out.data[sizeof(big) - 1] == 0);
		}
	}
	EXPECT(done >= 3 && done <= 4); /* four 900-byte replies fit 4096 bytes with headers */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 20, &k, 100, &out), EP_CACHE_DONE); /* newest kept */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 1, &k, 100, &out), EP_CACHE_MISS);	/* oldest gone */
	tap_end("entries and reply bytes stay within bounds; the oldest replies go first");

	tap_begin();
	{
		uint64_t h = ep_cache_begin(c, &a, 0, 99, &k, 200);

		complete_with(c, h, huge, sizeof(huge), 200);
		EXPECT_EQ(ep_cache_lookup(c, &a, 0, 99, &k, 201, &out), EP_CACHE_MISS);
	}
	tap_end("a reply larger than a quarter of the ring is not kept");
	ep_cache_free(c);

	tap_begin();
	errno = 0;
	EXPECT(!ep_cache_new(
		&(struct ep_cache_cfg){ .window_ns = 1, .entries = 0, .bytes = 4096 }));
	EXPECT_EQ(errno, EINVAL);
	tap_end("a cache of no entries is refused");
}

/* Many random operations: the ring never hands out overlapping or stale data, and the
 * counts of entries stay true. */
static void test_churn(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 50 * MS, .entries = 64, .bytes = 16384, .max_replays = 1000000 });
	struct ep_peer a = peer(3, 3);
	struct ep_cache_ident k = single(1, "x", 1);
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t x, now = 0, handles[64] = { 0 };
	uint8_t buf[600];
	int bad = 0, hits = 0, none = 0;

	rnd_seed(88172645463325252ull);
	for (int i = 0; i < 200000; i++) {
		uint64_t id, h;
		uint32_t len;

		x = rnd();
		id = x % 512;
		now += x % (200 * 1000);
		if (ep_cache_lookup(c, &a, 0, id, &k, now, &out) == EP_CACHE_DONE) {
			hits++;
			/* Replies carry their id in every byte and their length in exec_us. */
			if (out.len != out.exec_us)
				bad++;
			for (uint32_t j = 0; j < out.len; j++)
				bad += out.data[j] != (uint8_t)id;
			continue;
		}
		/* Finish (or forget) an older task now and then, as a worker would. */
		if (handles[x % 64] != 0) {
			if ((x >> 8) & 1)
				ep_cache_forget(c, handles[x % 64] - 1);
			else
				ep_cache_complete(c, handles[x % 64] - 1,
						  &(struct ep_cached){ .len = 0 }, now);
			handles[x % 64] = 0;
		}
		h = ep_cache_begin(c, &a, 0, id, &k, now);
		if (h == EP_CACHE_NONE) {
			none++;
			continue;
		}
		len = (uint32_t)(x >> 20) % sizeof(buf);
		memset(buf, (int)(uint8_t)id, len);
		if (x & 1)
			ep_cache_complete(
				c, h,
				&(struct ep_cached){ .data = buf, .len = len, .exec_us = len },
				now);
		else { /* still running; whatever held its slot finishes now */
			uint64_t *slot = &handles[(x >> 12) % 64];

			if (*slot)
				ep_cache_complete(c, *slot - 1, &(struct ep_cached){ .len = 0 },
						  now);
			*slot = h + 1;
		}
	}
	ep_cache_get_stats(c, &st);
	tap_begin();
	EXPECT_EQ(bad, 0);
	EXPECT(hits > 1000); /* the checks above ran */
	EXPECT(st.entries <= 64 && st.pending <= st.entries);
	tap_end("200000 random operations: every cached reply comes back intact (%d hits, "
		"%d refused)",
		hits, none);
	ep_cache_free(c);
}

/* An ERROR without text (a handler's failure with no message, TOO_LARGE) is remembered
 * with no data at all. Found by tests/fuzz/fuzz_runtime.c: memcpy() from NULL. */
static void test_empty_reply(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 1000 * MS, .entries = 16, .bytes = 4096, .max_replays = 8 });
	struct ep_cache_ident k = single(3, "x", 1);
	struct ep_peer a = peer(1, 100);
	struct ep_cached out;
	uint64_t h;

	tap_begin();
	h = ep_cache_begin(c, &a, 0, 9, &k, 0);
	ep_cache_complete(
		c, h, &(struct ep_cached){ .status = EP_ST_TOO_LARGE, .data = NULL, .len = 0 }, 1);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 9, &k, 1 + 100 * MS, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.status, EP_ST_TOO_LARGE);
	EXPECT_EQ(out.len, 0);
	tap_end("a reply with no data (data NULL, len 0) is cached and comes back empty");
	ep_cache_free(c);
}

/* The session key id is part of the key: key A's task id is never key B's, nor that of a
 * source without a key (0), even from the same address and port. */
static void test_keys(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){
		.window_ns = 1000 * MS, .entries = 16, .bytes = 4096, .max_replays = 8 });
	struct ep_cache_ident k = single(3, "x", 1);
	struct ep_peer a = peer(1, 100);
	struct ep_cached out;
	uint64_t h5, h0;

	tap_begin();
	h5 = ep_cache_begin(c, &a, 5, 7, &k, 0);
	EXPECT(h5 != EP_CACHE_NONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 1, &out), EP_CACHE_MISS);
	EXPECT_EQ(ep_cache_lookup(c, &a, 6, 7, &k, 1, &out), EP_CACHE_MISS);
	EXPECT_EQ(ep_cache_lookup(c, &a, 5, 7, &k, 1, &out), EP_CACHE_PENDING);
	EXPECT_EQ(ep_cache_cancel(c, &a, 0, 7), -ENOENT); /* no key: not key 5's */
	EXPECT_EQ(ep_cache_cancel(c, &a, 6, 7), -ENOENT);
	EXPECT(!ep_cache_cancelled(c, h5));
	/* Without a key, the same task id is another task, with an entry of its own. */
	h0 = ep_cache_begin(c, &a, 0, 7, &k, 2);
	EXPECT(h0 != EP_CACHE_NONE && h0 != h5);
	ep_cache_complete(c, h5, &result, 3);
	ep_cache_complete(c, h0, &(struct ep_cached){ .data = (const uint8_t *)"other", .len = 5 },
			  3);
	EXPECT_EQ(ep_cache_lookup(c, &a, 5, 7, &k, 1 + 100 * MS, &out), EP_CACHE_DONE);
	EXPECT(out.len == 6 && !memcmp(out.data, "result", 6));
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, 1 + 100 * MS, &out), EP_CACHE_DONE);
	EXPECT(out.len == 5 && !memcmp(out.data, "other", 5));
	EXPECT_EQ(ep_cache_lookup(c, &a, 9, 7, &k, 1 + 100 * MS, &out), EP_CACHE_MISS);
	ep_cache_unsent(c, &a, 9, 7, 2 + 100 * MS); /* another key's: nothing */
	EXPECT(!ep_cache_retry_recent(c, &a, 5, 7, 3 + 100 * MS));
	tap_end("the key id is part of the entry's key: key 5's task 7 is not key 6's nor a "
		"keyless source's (lookup, cancel, unsent), each has its own reply");
	ep_cache_free(c);
}

/* RESULT_ACK lookups (docs/protocol.md 5.1): by key alone, PENDING with the request's
 * fragment count, DONE with the fragments not listed, duplicates within 2 ms ignored, and
 * at most max_replays x the reply's fragments resent in all; a refund after a RETRY. */
static void test_acks(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 1000 * MS,
								  .entries = 16,
								  .bytes = 1 << 20,
								  .max_replays = 2,
								  .resend_gap_ns = 10 * MS });
	static uint8_t data[10000];
	struct ep_peer a = peer(1, 100);
	struct ep_cache_ident k = single(1, "abc", 3);
	struct ep_cached reply = { .data = data, .len = sizeof(data), .frag_size = 1000 };
	struct ep_ack none = { 0 }, some = { .count = 10, .n = 2, .r = { { 0, 3 }, { 6, 9 } } };
	struct ep_ack other = { .count = 7, .n = 1, .r = { { 0, 5 } } };
	struct ep_cache_stats st;
	struct ep_cached out;
	uint64_t h, t = 0;

	tap_begin();
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &none, t, &out), EP_CACHE_MISS);
	k.frag_count = 4; /* as if the request came in 4 fragments */
	h = ep_cache_begin(c, &a, 0, 7, &k, t);
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &none, t, &out), EP_CACHE_PENDING);
	EXPECT_EQ(out.req_frags, 4);
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 3, 7, &none, t, &out), EP_CACHE_MISS); /* key 3 */
	ep_cache_complete(c, h, &reply, t);
	/* No resend gap for acknowledgements: at once, fragments 4 and 5. */
	t += 1 * MS;
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &some, t, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.resend, 2);
	EXPECT_EQ(out.frag_size, 1000);
	EXPECT(out.len == sizeof(data) && out.data);
	/* The same count within 2 ms: a duplicate. Past it, answered again. */
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &some, t + 1 * MS, &out), EP_CACHE_QUIET);
	t += 3 * MS;
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &some, t, &out), EP_CACHE_DONE);
	/* Another count (7 is not this reply's 10): all of it. 4 + 10 of 2 x 10 so far. */
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &other, t, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.resend, 10);
	/* A RETRY went instead: refunded, and the same ack at once is no duplicate. */
	ep_cache_ack_unsent(c, &a, 0, 7, 10);
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &other, t, &out), EP_CACHE_DONE);
	/* 14 resent: 10 more would pass 20; 2 more fit, then 6 do not. */
	t += 3 * MS;
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &none, t, &out), EP_CACHE_QUIET);
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7, &some, t, &out), EP_CACHE_DONE);
	t += 3 * MS;
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7,
				      &(struct ep_ack){ .count = 10, .n = 1, .r = { { 0, 3 } } }, t,
				      &out),
		  EP_CACHE_QUIET);
	/* Every fragment held: nothing to send. */
	EXPECT_EQ(ep_cache_lookup_ack(c, &a, 0, 7,
				      &(struct ep_ack){ .count = 10, .n = 1, .r = { { 0, 9 } } },
				      t + 5 * MS, &out),
		  EP_CACHE_QUIET);
	/* An acknowledgement's answer counts as a sending for the resend gap of retries. */
	EXPECT_EQ(ep_cache_lookup(c, &a, 0, 7, &k, t, &out), EP_CACHE_QUIET);
	ep_cache_get_stats(c, &st);
	EXPECT_EQ(st.acks_done, 4);
	EXPECT_EQ(st.acks_dup, 1);
	EXPECT_EQ(st.acks_refused, 2);
	ep_cache_free(c);
	tap_end("RESULT_ACK lookups: by key, pending with the request's fragments, only the "
		"missing ones, duplicates within 2 ms ignored, max_replays x fragments in all");
}

int main(void)
{
	test_states();
	test_replays();
	test_identity();
	test_no_pending_eviction();
	test_bounds();
	test_churn();
	test_empty_reply();
	test_keys();
	test_acks();
	return tap_finish();
}
