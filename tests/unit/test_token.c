// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the address-validation token (dataplane/core/token.c): fixed vectors
 * (the worked example of docs/protocol.md 3.7, computed independently with Python's
 * hmac module), the epoch window, the verified-token cache, and the secret file checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/token.h"
#include "../lib/scratch.h"
#include "../lib/tap.h"

/* The worked example: master 00 01 .. 1f, period 600 s, t = 1700000000 (epoch 2833333,
 * key id 0x3bb5), client 198.18.0.1 port 40000. */
#define T0 1700000000ull
static const uint8_t v4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1 };
static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t tag_v4[16] = { 0xc3, 0x9d, 0x2a, 0x22, 0xa9, 0x67, 0x7a, 0x48,
				    0x30, 0x4f, 0x77, 0xa4, 0x81, 0x8b, 0x83, 0x81 };
static const uint8_t tag_v6[16] = { 0xe4, 0xe6, 0xd6, 0xf5, 0x96, 0x1a, 0xde, 0xb3,
				    0x93, 0x71, 0x6a, 0x5b, 0xd5, 0xe3, 0x7c, 0xf9 };
static const uint8_t tag_v4_next[16] = { 0x01, 0x2f, 0x04, 0x2e, 0x5b, 0x00, 0x22, 0x0a,
					 0x45, 0xee, 0x6a, 0x29, 0xec, 0x12, 0x5a, 0xc1 };

static struct ep_token_master master(void)
{
	struct ep_token_master m = { .period_s = 600 };

	for (int i = 0; i < EP_TOKEN_MASTER_LEN; i++)
		m.key[i] = (uint8_t)i;
	return m;
}

static void test_vectors(void)
{
	struct ep_token_master m = master();
	struct ep_token *t = ep_token_new(&m);
	uint8_t tag[16];
	uint16_t kid = 0;

	tap_begin();
	EXPECT(t);
	EXPECT_EQ(ep_token_epoch(&m, T0), 2833333);
	EXPECT_EQ(ep_token_compute(&m, 2833333, v4, 40000, &kid, tag), 0);
	EXPECT_EQ(kid, 0x3bb5);
	EXPECT(!memcmp(tag, tag_v4, 16));
	EXPECT_EQ(ep_token_compute(&m, 2833333, v6, 7878, &kid, tag), 0);
	EXPECT(!memcmp(tag, tag_v6, 16));
	EXPECT_EQ(ep_token_compute(&m, 2833334, v4, 40000, &kid, tag), 0);
	EXPECT_EQ(kid, 0x3bb6);
	EXPECT(!memcmp(tag, tag_v4_next, 16));
	tap_end("fixed vectors: master 00..1f, t=1700000000, 198.18.0.1:40000 -> key id 0x3bb5, "
		"tag c39d2a22...; IPv6 and the next epoch too");

	/* The worker's context (keyed EVP_MAC contexts, reused) gives the same bytes, again
	 * and again, and across an epoch change. */
	tap_begin();
	for (int i = 0; i < 3; i++) {
		memset(tag, 0, sizeof(tag));
		EXPECT_EQ(ep_token_issue(t, v4, 40000, T0 + (uint64_t)i, &kid, tag), 0);
		EXPECT_EQ(kid, 0x3bb5);
		EXPECT(!memcmp(tag, tag_v4, 16));
	}
	EXPECT_EQ(ep_token_issue(t, v6, 7878, T0, &kid, tag), 0);
	EXPECT(!memcmp(tag, tag_v6, 16));
	EXPECT_EQ(ep_token_issue(t, v4, 40000, T0 + 600, &kid, tag), 0);
	EXPECT_EQ(kid, 0x3bb6);
	EXPECT(!memcmp(tag, tag_v4_next, 16));
	EXPECT_EQ(ep_token_issue(t, v4, 40000, T0, &kid, tag), 0);
	EXPECT(!memcmp(tag, tag_v4, 16));
	tap_end("issue: the same tokens from a worker's context, repeatedly and across epochs");
	ep_token_free(t);
}

static void test_verify(void)
{
	struct ep_token_master m = master(), other = master();
	struct ep_token *t = ep_token_new(&m), *t2;
	struct ep_token_stats st;
	uint8_t tag[16], bad[16], v4b[16];

	other.key[0] ^= 1;
	t2 = ep_token_new(&other);
	tap_begin();
	EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0));
	/* The window: the epoch before and after (clock skew between nodes) */
	EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0 + 600));
	EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0 - 600));
	/* ... and not beyond */
	EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0 + 1200));
	EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0 - 1200));
	tap_end("verify: valid in its epoch and the ones either side, not two epochs away");

	tap_begin();
	EXPECT(!ep_token_verify(t, v4, 40001, 0x3bb5, tag_v4, T0)); /* another port */
	memcpy(v4b, v4, 16);
	v4b[15] = 2;
	EXPECT(!ep_token_verify(t, v4b, 40000, 0x3bb5, tag_v4, T0)); /* another address */
	EXPECT(!ep_token_verify(t, v6, 40000, 0x3bb5, tag_v4, T0));
	for (int i = 0; i < 16; i++) { /* any bit of the tag */
		memcpy(bad, tag_v4, 16);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb5, bad, T0));
	}
	EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb6, tag_v4, T0));  /* wrong key id */
	EXPECT(!ep_token_verify(t2, v4, 40000, 0x3bb5, tag_v4, T0)); /* another secret */
	EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0));   /* still good */
	tap_end("verify: refused for another port, address, a flipped tag bit, key id, secret");

	/* The cache: a validated client costs one HMAC, then compares. */
	tap_begin();
	ep_token_get_stats(t, &st);
	{
		uint64_t macs = st.macs;

		for (int i = 0; i < 1000; i++)
			EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0));
		ep_token_get_stats(t, &st);
		EXPECT(st.macs == macs);
		EXPECT(st.cache_hits >= 1000);
	}
	/* a cached token is still tied to its epoch window */
	EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0 + 1200));
	/* and a tag that differs from the cached one is checked, not taken */
	memcpy(bad, tag_v4, 16);
	bad[15] ^= 0x80;
	EXPECT(!ep_token_verify(t, v4, 40000, 0x3bb5, bad, T0));
	EXPECT(ep_token_verify(t, v4, 40000, 0x3bb5, tag_v4, T0));
	tap_end("verify: 1000 datagrams of a validated client cost no HMAC (cache hits)");

	/* Issue then verify, for many clients. */
	tap_begin();
	for (uint32_t i = 0; i < 300; i++) {
		uint8_t a[16] = { 0,	     0,	   0,	0,  0,
				  0,	     0,	   0,	0,  0,
				  0xff,	     0xff, 198, 19, (uint8_t)(i >> 8),
				  (uint8_t)i };
		uint16_t kid;

		EXPECT_EQ(ep_token_issue(t, a, (uint16_t)(1000 + i), T0 + i, &kid, tag), 0);
		EXPECT(ep_token_verify(t, a, (uint16_t)(1000 + i), kid, tag, T0 + i + 1));
		EXPECT(ep_token_verify(t2, a, (uint16_t)(1000 + i), kid, tag, T0 + i) == false);
	}
	tap_end("issue then verify: 300 clients, tokens bound to their node's secret");
	ep_token_free(t);
	ep_token_free(t2);
}

/* Write @len bytes of @data to @path with @mode (a failure fails the case), then load the
 * secret from it with a period of @period_s. Returns ep_token_master_load()'s answer. */
static int load_written(struct ep_token_master *m, const char *path, const void *data, size_t len,
			mode_t mode, uint32_t period_s)
{
	EXPECT_EQ(write_file(path, data, len, mode), 0);
	return ep_token_master_load(m, path, period_s);
}

static void test_secret_file(void)
{
	const char *path;
	struct ep_token_master m, want = master();
	uint8_t raw[33] = { 0 };
	char hex[66];

	if (scratch_make("token")) {
		tap_skip("secret file", "no temporary directory");
		return;
	}
	path = at("secret");
	for (int i = 0; i < 32; i++) {
		raw[i] = (uint8_t)i;
		snprintf(hex + 2 * i, 3, "%02x", i);
	}
	hex[64] = '\n';

	tap_begin();
	EXPECT_EQ(load_written(&m, path, raw, 32, 0600, 600), 0);
	EXPECT(!memcmp(m.key, want.key, 32) && m.period_s == 600);
	memset(&m, 0, sizeof(m));
	EXPECT_EQ(load_written(&m, path, hex, 65, 0400, 600), 0);
	EXPECT(!memcmp(m.key, want.key, 32));
	EXPECT_EQ(load_written(&m, path, hex, 64, 0600, 60), 0);
	EXPECT(!memcmp(m.key, want.key, 32) && m.period_s == 60);
	tap_end("secret file: 32 raw bytes or 64 hex digits, mode 0600 or 0400");

	tap_begin();
	EXPECT_EQ(load_written(&m, path, raw, 32, 0640, 600), -EPERM);
	EXPECT_EQ(load_written(&m, path, raw, 32, 0604, 600), -EPERM);
	EXPECT_EQ(load_written(&m, path, raw, 32, 0620, 600), -EPERM);
	if (geteuid() == 0) { /* another owner */
		EXPECT_EQ(write_file(path, raw, 32, 0600), 0);
		EXPECT_EQ(chown(path, 65534, 65534), 0);
		EXPECT_EQ(ep_token_master_load(&m, path, 600), -EPERM);
		unlink(path);
	}
	tap_end("secret file: group- or world-readable/-writable or foreign-owned is refused");

	tap_begin();
	EXPECT_EQ(load_written(&m, path, raw, 31, 0600, 600), -EINVAL);
	EXPECT_EQ(load_written(&m, path, raw, 33, 0600, 600), -EINVAL);
	hex[10] = 'g';
	EXPECT_EQ(load_written(&m, path, hex, 64, 0600, 600), -EINVAL);
	EXPECT_EQ(ep_token_master_load(&m, scratch, 600), -EINVAL); /* a directory */
	unlink(path);
	EXPECT_EQ(ep_token_master_load(&m, path, 600), -ENOENT);
	tap_end("secret file: wrong length, bad hex, not a file, missing: refused");

	tap_begin();
	{
		struct ep_token_master a, b;

		EXPECT_EQ(ep_token_master_random(&a, 600), 0);
		EXPECT_EQ(ep_token_master_random(&b, 600), 0);
		EXPECT(memcmp(a.key, b.key, 32));
	}
	tap_end("random secret: two starts, two secrets");
	scratch_remove();
}

int main(void)
{
	/* The refusals log why on stderr; the log keeps them. */
	test_vectors();
	test_verify();
	test_secret_file();
	return tap_finish();
}
