// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of AUTH datagrams (userspace/common/auth.c, docs/protocol.md 3.5): the worked
 * examples byte for byte (computed independently with Python's `cryptography` AESGCM),
 * round trips through the codec, tampering anywhere, nonce uniqueness, the replay window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/auth.h"
#include "edgeplane/codec.h"
#include "../lib/doc.h"
#include "../lib/tap.h"
#include "../lib/msg.h"

static const uint8_t key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* docs/protocol.md 3.5, "Worked example": the request's pn ... */
#define REQ_PN ((5ull << 40) | 42)
/* ... and its response from node 1. */
#define RSP_PN 1796000000000000001ull
#define PLAIN  "hello, edge"

static struct ep_msg tmpl(uint8_t kind)
{
	struct ep_msg m = EP_TEST_MSG(kind, .flags = EP_F_AUTH, .task_id = 0x0102030405060708ull,
				      .auth_key_id = 0x11);

	if (kind == EP_KIND_RESPONSE) {
		m.queue_us = 12;
		m.exec_us = 3;
		m.load_pct = 10;
	}
	return m;
}

static void test_worked_example(void)
{
	uint8_t want[256], d[256];
	struct ep_aead *a = ep_aead_new(key);
	struct ep_msg m = tmpl(EP_KIND_REQUEST), got;
	const uint8_t *payload;
	ssize_t wn = doc_example("auth-request", want, sizeof(want)), n;
	uint8_t doc_key[16], aad[64];
	uint64_t pn = 0;
	uint32_t sender = 9;

	EXPECT_EQ(doc_example("auth-key", doc_key, sizeof(doc_key)), 16);
	EXPECT(!memcmp(doc_key, key, 16));
	EXPECT(a);
	n = ep_frag_build(&m, PLAIN, strlen(PLAIN), 1400, 0, d, sizeof(d));
	EXPECT_EQ(n, wn);
	EXPECT_EQ(ep_aead_seal(a, EP_AUTH_SENDER_DEVICE, REQ_PN, d, n), 0);
	EXPECT(!memcmp(d, want, wn));
	EXPECT_EQ(doc_example("auth-request-aad", aad, sizeof(aad)), 64);
	EXPECT(!memcmp(aad, d, 48) && !memcmp(aad + 48, (uint8_t[16]){ 0 }, 16));
	/* The node's side: decode, open, the plaintext is back. */
	EXPECT_EQ(ep_decode(d, n, 0, &got, &payload, NULL), 0);
	EXPECT_EQ(got.payload_len, strlen(PLAIN));
	EXPECT_EQ(got.auth_pn, REQ_PN);
	EXPECT_EQ(payload - d, EP_HDR_LEN + EP_AUTH_NONCE_LEN);
	EXPECT_EQ(ep_aead_open(a, d, n, &sender, &pn), 0);
	EXPECT_EQ(sender, EP_AUTH_SENDER_DEVICE);
	EXPECT_EQ(pn, REQ_PN);
	EXPECT(!memcmp(payload, PLAIN, strlen(PLAIN)));
	tap_end("worked example: the request, sealed by the device, byte for byte");

	m = tmpl(EP_KIND_RESPONSE);
	wn = doc_example("auth-response", want, sizeof(want));
	n = ep_frag_build(&m, PLAIN, strlen(PLAIN), 1400, 0, d, sizeof(d));
	EXPECT_EQ(n, wn);
	EXPECT_EQ(ep_aead_seal(a, 1, RSP_PN, d, n), 0);
	EXPECT(!memcmp(d, want, wn));
	EXPECT_EQ(doc_example("auth-response-aad", aad, sizeof(aad)), 64);
	EXPECT(!memcmp(aad, d, 48) && !memcmp(aad + 48, (uint8_t[16]){ 0 }, 16));
	EXPECT_EQ(ep_aead_open(a, d, n, &sender, &pn), 0);
	EXPECT_EQ(sender, 1);
	EXPECT_EQ(pn, RSP_PN);
	EXPECT(!memcmp(d + EP_HDR_LEN + EP_AUTH_NONCE_LEN, PLAIN, strlen(PLAIN)));
	tap_end("worked example: its response, sealed by node 1, byte for byte");
	ep_aead_free(a);
}

/* Every bit of the header, the pn, the ciphertext and the tag is covered. */
static void test_tamper(void)
{
	uint8_t good[256], d[256];
	struct ep_aead *a = ep_aead_new(key);
	size_t n = (size_t)doc_example("auth-request", good, sizeof(good));
	unsigned int rejected = 0;
	uint64_t pn;
	uint32_t sender;

	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(d, good, n);
		d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* Flipping EP_F_AUTH itself is refused before the cipher (-EINVAL). */
		if (ep_aead_open(a, d, n, &sender, &pn) != 0)
			rejected++;
		else
			tap_diag("bit %zu flipped and still opened", bit);
	}
	EXPECT_EQ(rejected, n * 8);
	/* The device's datagram presented as a node's: the sender is in the nonce. */
	memcpy(d, good, n);
	d[EP_HDR_LEN + 3] = 1;
	EXPECT_EQ(ep_aead_open(a, d, n, &sender, &pn), -EBADMSG);
	memcpy(d, good, n);
	EXPECT_EQ(ep_aead_open(a, d, n - 1, &sender, &pn), -EBADMSG);
	EXPECT_EQ(ep_aead_open(a, d, EP_HDR_LEN + 11, &sender, &pn), -EINVAL);
	ep_aead_free(a);

	uint8_t other[16];

	memcpy(other, key, 16);
	other[15] ^= 1;
	a = ep_aead_new(other);
	memcpy(d, good, n);
	EXPECT_EQ(ep_aead_open(a, d, n, &sender, &pn), -EBADMSG);
	ep_aead_free(a);
	tap_end("a flipped bit anywhere (%zu bits, the nonce's sender too), a truncated datagram "
		"or another key: refused",
		n * 8);
}

/* Sizes from empty (PING) to the largest datagram, fragmented, through the codec. */
static void test_round_trip(void)
{
	static uint8_t task[200000], d[EP_HDR_LEN + 0xffff];
	static const uint32_t sizes[] = { 0, 1, 15, 16, 17, 1400, 1401, EP_DGRAM_MAX - 76, 200000 };
	struct ep_aead *dev = ep_aead_new(key), *node = ep_aead_new(key);
	uint64_t ctr = 0;

	for (size_t i = 0; i < sizeof(task); i++)
		task[i] = (uint8_t)(i * 7 + 3);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t fs = sizes[s] > 1400 ? 1400 : (sizes[s] ? sizes[s] : 1);
		uint32_t count = ep_frag_count(sizes[s], fs);
		struct ep_msg m = tmpl(EP_KIND_REQUEST);

		if (sizes[s] == EP_DGRAM_MAX - 76)
			fs = sizes[s], count = 1;
		for (uint32_t f = 0; f < count; f++) {
			struct ep_msg got;
			const uint8_t *p;
			ssize_t n = ep_frag_build(&m, task, sizes[s], fs, f, d, sizeof(d));
			uint64_t pn;
			uint32_t snd;

			EXPECT(n > 0);
			EXPECT_EQ(ep_aead_seal(dev, 0, ep_auth_pn(1, ctr++), d, n), 0);
			EXPECT_EQ(ep_decode(d, n, EP_MAX_TASK_LEN, &got, &p, NULL), 0);
			/* The ciphertext is not the plaintext (for a slice of any length). */
			if (got.payload_len >= 8)
				EXPECT(memcmp(p, task + got.frag_offset, got.payload_len));
			EXPECT_EQ(ep_aead_open(node, d, n, &snd, &pn), 0);
			EXPECT_EQ(snd, 0);
			EXPECT_EQ(pn, ep_auth_pn(1, ctr - 1));
			EXPECT(!memcmp(p, task + got.frag_offset, got.payload_len));
		}
	}
	ep_aead_free(dev);
	ep_aead_free(node);
	tap_end("round trips through ep_frag_build/ep_decode: 0 B to 200 KB, 1 B to 65527 B "
		"per datagram");
}

/* A pn never repeats for a key and a sender: the device's counter and the nonce layout. */
static void test_nonce(void)
{
	uint8_t a[12], b[12];

	EXPECT_EQ(ep_auth_pn(3, 7), (3ull << 40) | 7);
	EXPECT_EQ(ep_auth_pn_secs(ep_auth_pn(3, 7)), 3);
	EXPECT_EQ(ep_auth_pn_ctr(ep_auth_pn(3, 7)), 7);
	EXPECT_EQ(ep_auth_pn_secs(ep_auth_pn(1ull << 30, 1)), EP_AUTH_SECS_MAX);
	/* Device and node never share a nonce, whatever their pns. */
	ep_auth_nonce(0, 42, a);
	ep_auth_nonce(1, 42, b);
	EXPECT(memcmp(a, b, 12));
	/* Same key, same pn, different sender: different ciphertexts of the same bytes. */
	uint8_t d1[128], d2[128];
	struct ep_msg m = tmpl(EP_KIND_REQUEST);
	struct ep_aead *k = ep_aead_new(key);
	ssize_t n = ep_frag_build(&m, PLAIN, strlen(PLAIN), 1400, 0, d1, sizeof(d1));

	memcpy(d2, d1, n);
	ep_aead_seal(k, 0, 9, d1, n);
	ep_aead_seal(k, 1, 9, d2, n);
	EXPECT(memcmp(d1 + 76, d2 + 76, n - 76));
	ep_aead_free(k);
	tap_end("nonce: sender separates directions, the pn splits into seconds and counter");
}

static void test_replay(void)
{
	struct ep_replay r = { 0 };
	unsigned int ok = 0;

	EXPECT_EQ(ep_replay_check(&r, 0), 0);
	ep_replay_mark(&r, 0);
	EXPECT_EQ(ep_replay_check(&r, 0), -EALREADY);
	/* In order, each once. */
	for (uint64_t c = 1; c < 5000; c++) {
		if (!ep_replay_check(&r, c)) {
			ep_replay_mark(&r, c);
			ok++;
		}
		EXPECT_EQ(ep_replay_check(&r, c), -EALREADY);
	}
	EXPECT_EQ(ok, 4999);
	/* Reordered inside the window: a gap filled later is accepted once. */
	ep_replay_mark(&r, 6000);
	EXPECT_EQ(ep_replay_check(&r, 5500), 0);
	ep_replay_mark(&r, 5500);
	EXPECT_EQ(ep_replay_check(&r, 5500), -EALREADY);
	EXPECT_EQ(ep_replay_check(&r, 5999), 0);
	/* Too old: out of the window, whatever it was. */
	EXPECT_EQ(ep_replay_check(&r, 6000 - 1100), -ESTALE);
	EXPECT_EQ(ep_replay_check(&r, 0), -ESTALE);
	/* The ring's slot aliasing: a counter 1024 below the top shares a slot with the top's
	 * word; it must be stale, not "new". */
	struct ep_replay q = { 0 };

	ep_replay_mark(&q, 1);
	ep_replay_mark(&q, 1025);
	EXPECT(ep_replay_check(&q, 1) != 0);
	/* A jump far ahead forgets everything below the new window. */
	ep_replay_mark(&q, 1000000);
	EXPECT_EQ(ep_replay_check(&q, 1025), -ESTALE);
	EXPECT_EQ(ep_replay_check(&q, 999999), 0);
	EXPECT_EQ(ep_replay_check(&q, 1000000), -EALREADY);
	/* A word boundary: top at a multiple of 64. */
	struct ep_replay w = { 0 };

	for (uint64_t c = 0; c < 64; c++)
		ep_replay_mark(&w, c);
	EXPECT_EQ(ep_replay_check(&w, 64), 0);
	ep_replay_mark(&w, 64 + 1024);
	EXPECT_EQ(ep_replay_check(&w, 64 + 1024 - 64), 0);
	EXPECT_EQ(ep_replay_check(&w, 63), -ESTALE);
	tap_end("replay window: once each, reorder within 960-1024, stale below, no aliasing");
}

/* A short AUTH datagram is refused by the codec (and by XDP, with the same rules). */
static void test_short(void)
{
	uint8_t d[128];
	struct ep_msg m = tmpl(EP_KIND_PING), got;
	enum ep_stat why = 0;
	ssize_t n;

	m.kind = EP_KIND_PING;
	n = ep_frag_build(&m, NULL, 0, 1, 0, d, sizeof(d));
	EXPECT_EQ(n, EP_HDR_LEN + EP_AUTH_NONCE_LEN);
	EXPECT_EQ(ep_decode(d, n, 0, &got, NULL, &why), 0);
	d[13] = 11; /* payload_len 11: no room for the nonce */
	EXPECT_EQ(ep_decode(d, EP_HDR_LEN + 11, 0, &got, NULL, &why), -EBADMSG);
	EXPECT_EQ(why, EP_STAT_DROP_AUTH_SHORT);
	EXPECT_EQ(ep_frag_size_for(1500, false, EP_F_AUTH) + 12, ep_frag_size_for_mtu(1500, false));
	tap_end("an AUTH datagram without its nonce is drop_auth_short; fragments leave room for "
		"it");
}

int main(void)
{
	test_worked_example();
	test_tamper();
	test_round_trip();
	test_nonce();
	test_replay();
	test_short();
	return tap_finish();
}
