// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the runtime's result cache: states, window, bounds, handles, cancel. */
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

static void test_states(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 1000 * MS,
								   .entries = 16, .bytes = 4096 });
	struct ep_peer a = peer(1, 100), a2 = peer(1, 101), b = peer(2, 100);
	struct ep_cached out;
	uint64_t h;

	tap_begin();
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 0, 0, &out), EP_CACHE_MISS);
	h = ep_cache_begin(c, &a, 7, 0);
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 1, 0, &out), EP_CACHE_PENDING);
	EXPECT_EQ(ep_cache_lookup(c, &a2, 7, 1, 0, &out), EP_CACHE_MISS);	/* other port */
	EXPECT_EQ(ep_cache_lookup(c, &b, 7, 1, 0, &out), EP_CACHE_MISS);	/* other host */
	ep_cache_complete(c, h, &(struct ep_cached){ .data = (const uint8_t *)"result", .len = 6,
						     .queue_us = 5, .exec_us = 7 }, 2);
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 3, 0, &out), EP_CACHE_DONE);
	EXPECT(out.len == 6 && !memcmp(out.data, "result", 6));
	EXPECT_EQ(out.exec_us, 7);
	tap_end("miss -> pending -> done, keyed by address, port and task id");

	tap_begin();
	/* A burst of fragments of one retry gets one answer. */
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 100 * MS, 10 * MS, &out), EP_CACHE_DONE);
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 101 * MS, 10 * MS, &out), EP_CACHE_PENDING);
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 111 * MS, 10 * MS, &out), EP_CACHE_DONE);
	/* Without a gap every lookup answers (single-fragment retries). */
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 111 * MS, 0, &out), EP_CACHE_DONE);
	tap_end("one answer per burst of fragments, every answer for single datagrams");

	tap_begin();
	EXPECT_EQ(ep_cache_lookup(c, &a, 7, 1000 * MS, 0, &out), EP_CACHE_MISS);
	tap_end("an entry leaves after the window");

	tap_begin();
	h = ep_cache_begin(c, &b, 9, 2000 * MS);
	EXPECT_EQ(ep_cache_cancel(c, &b, 9), 0);
	EXPECT(ep_cache_cancelled(c, h));
	EXPECT_EQ(ep_cache_cancel(c, &b, 10), -ENOENT);
	ep_cache_forget(c, h);
	EXPECT(!ep_cache_cancelled(c, h));
	EXPECT_EQ(ep_cache_lookup(c, &b, 9, 2001 * MS, 0, &out), EP_CACHE_MISS);
	ep_cache_complete(c, h, &(struct ep_cached){ .len = 0 }, 2002 * MS);	/* stale: no-op */
	EXPECT_EQ(ep_cache_lookup(c, &b, 9, 2003 * MS, 0, &out), EP_CACHE_MISS);
	tap_end("cancel by key, forget by handle, a stale handle does nothing");
	ep_cache_free(c);
}

static void test_bounds(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 1000000 * MS,
								   .entries = 8, .bytes = 4096 });
	struct ep_peer a = peer(1, 100);
	struct ep_cache_stats st;
	struct ep_cached out;
	static char big[900], huge[2000];
	int done = 0;

	memset(big, 'b', sizeof(big) - 1);
	memset(huge, 'h', sizeof(huge) - 1);
	tap_begin();
	for (uint64_t id = 1; id <= 20; id++) {
		uint64_t h = ep_cache_begin(c, &a, id, id);

		ep_cache_complete(c, h, &(struct ep_cached){ .data = (const uint8_t *)big,
							     .len = sizeof(big) }, id);
	}
	ep_cache_get_stats(c, &st);
	EXPECT(st.entries <= 8);
	EXPECT(st.bytes <= 4096);
	for (uint64_t id = 1; id <= 20; id++) {
		enum ep_cache_state s = ep_cache_lookup(c, &a, id, 100, 0, &out);

		if (s == EP_CACHE_DONE) {
			done++;
			EXPECT(out.len == sizeof(big) && out.data[0] == 'b' &&
			       out.data[sizeof(big) - 1] == 0);
		}
	}
	EXPECT(done >= 3 && done <= 4);	/* four 900-byte replies fit 4096 bytes with headers */
	EXPECT_EQ(ep_cache_lookup(c, &a, 20, 100, 0, &out), EP_CACHE_DONE);	/* newest kept */
	EXPECT_EQ(ep_cache_lookup(c, &a, 1, 100, 0, &out), EP_CACHE_MISS);	/* oldest gone */
	tap_end("entries and reply bytes stay within bounds; the oldest replies go first");

	tap_begin();
	{
		uint64_t h = ep_cache_begin(c, &a, 99, 200);

		ep_cache_complete(c, h, &(struct ep_cached){ .data = (const uint8_t *)huge,
							     .len = sizeof(huge) }, 200);
		EXPECT_EQ(ep_cache_lookup(c, &a, 99, 201, 0, &out), EP_CACHE_MISS);
	}
	tap_end("a reply larger than a quarter of the ring is not kept");
	ep_cache_free(c);

	tap_begin();
	errno = 0;
	EXPECT(!ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 1, .entries = 0, .bytes = 4096 }));
	EXPECT_EQ(errno, EINVAL);
	tap_end("a cache of no entries is refused");
}

/* Many random operations: the ring never hands out overlapping or stale data. */
static void test_churn(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 50 * MS,
								   .entries = 64, .bytes = 16384 });
	struct ep_peer a = peer(3, 3);
	struct ep_cached out;
	uint64_t x, now = 0;
	uint8_t buf[600];
	int bad = 0, hits = 0;

	rnd_seed(88172645463325252ull);
	for (int i = 0; i < 200000; i++) {
		uint64_t id, h;
		uint32_t len;

		x = rnd();
		id = x % 512;
		now += x % (200 * 1000);
		if (ep_cache_lookup(c, &a, id, now, 0, &out) == EP_CACHE_DONE) {
			hits++;
			/* Replies carry their id in every byte and their length in exec_us. */
			if (out.len != out.exec_us)
				bad++;
			for (uint32_t k = 0; k < out.len; k++)
				bad += out.data[k] != (uint8_t)id;
			continue;
		}
		h = ep_cache_begin(c, &a, id, now);
		len = (uint32_t)(x >> 20) % sizeof(buf);
		memset(buf, (int)(uint8_t)id, len);
		if (x & 1)
			ep_cache_complete(c, h, &(struct ep_cached){ .data = buf, .len = len,
								     .exec_us = len }, now);
	}
	tap_begin();
	EXPECT_EQ(bad, 0);
	EXPECT(hits > 1000);	/* the checks above ran */
	tap_end("200000 random operations: every cached reply comes back intact (%d hits)",
		hits);
	ep_cache_free(c);
}

/* An ERROR without text (a handler's failure with no message, TOO_LARGE) is remembered
 * with no data at all. Found by tests/fuzz/fuzz_runtime.c: memcpy() from NULL. */
static void test_empty_reply(void)
{
	struct ep_cache *c = ep_cache_new(&(struct ep_cache_cfg){ .window_ns = 1000 * MS,
								   .entries = 16, .bytes = 4096 });
	struct ep_peer a = peer(1, 100);
	struct ep_cached out;
	uint64_t h;

	tap_begin();
	h = ep_cache_begin(c, &a, 9, 0);
	ep_cache_complete(c, h, &(struct ep_cached){ .status = EP_ST_TOO_LARGE, .data = NULL,
						     .len = 0 }, 1);
	EXPECT_EQ(ep_cache_lookup(c, &a, 9, 2, 0, &out), EP_CACHE_DONE);
	EXPECT_EQ(out.status, EP_ST_TOO_LARGE);
	EXPECT_EQ(out.len, 0);
	tap_end("a reply with no data (data NULL, len 0) is cached and comes back empty");
	ep_cache_free(c);
}

int main(void)
{
	test_states();
	test_bounds();
	test_churn();
	test_empty_reply();
	return tap_finish();
}
