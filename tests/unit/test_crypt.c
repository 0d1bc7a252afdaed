// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Encrypted handler files (dataplane/core/crypt.c): AES-256-GCM with the magic as
 * additional data; what does not authenticate gives nothing back. Keys and files are made
 * here, in a scratch directory removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypt.h"
#include "edgeplane/log.h"
#include "../lib/scratch.h"
#include "../lib/tap.h"
#include "helpers.h"

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, cap);

	if (fd >= 0)
		close(fd);
	return n < 0 ? 0 : (size_t)n;
}

/* Does decrypting @c (@len bytes) under @key fail with @want, and return nothing? */
static int open_fails(const uint8_t *key, const uint8_t *c, size_t len, int want)
{
	uint8_t *p = (uint8_t *)"untouched";
	size_t n = 12345;

	return ep_crypt_open(key, c, len, &p, &n) == want && n == 12345 &&
	       !strcmp((char *)p, "untouched");
}

int main(void)
{
	static uint8_t model[1 << 20], back[(1 << 20) + EP_CRYPT_OVERHEAD + 1];
	uint8_t key[EP_CRYPT_KEY_LEN], other[EP_CRYPT_KEY_LEN], *c = NULL, *c2 = NULL, *p;
	size_t clen = 0, c2len, plen;
	char hex[2 * EP_CRYPT_KEY_LEN + 2];

	ep_log_set_level(EP_LOG_WARN);
	if (scratch_make_or_skip("crypt", "encrypted files"))
		return tap_finish();
	fill_pattern(model, sizeof(model), 11);
	for (size_t i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		other[i] = (uint8_t)(i * 7 + 2);
	}

	tap_begin();
	EXPECT_EQ(ep_crypt_seal(key, model, sizeof(model), &c, &clen), 0);
	EXPECT_EQ(clen, sizeof(model) + EP_CRYPT_OVERHEAD);
	EXPECT(ep_crypt_is_encrypted(c, clen) && !ep_crypt_is_encrypted(model, sizeof(model)));
	EXPECT(!memmem(c, clen, model + 4096, 64)); /* no plaintext in it */
	EXPECT_EQ(ep_crypt_open(key, c, clen, &p, &plen), 0);
	EXPECT(plen == sizeof(model) && !memcmp(p, model, plen));
	free(p);
	EXPECT_EQ(ep_crypt_seal(key, model, sizeof(model), &c2, &c2len), 0);
	EXPECT(c2len == clen && memcmp(c2, c, clen)); /* a fresh nonce each time */
	free(c2);
	EXPECT_EQ(ep_crypt_seal(key, "", 0, &c2, &c2len), 0);
	EXPECT_EQ(c2len, EP_CRYPT_OVERHEAD);
	EXPECT_EQ(ep_crypt_open(key, c2, c2len, &p, &plen), 0);
	EXPECT_EQ(plen, 0);
	free(p);
	free(c2);
	tap_end("a file encrypts and decrypts back, with a fresh nonce each time (empty too)");

	tap_begin();
	EXPECT(open_fails(other, c, clen, -EBADMSG));
	tap_end("another key: does not authenticate, nothing returned");

	tap_begin();
	{
		/* Every region: magic (then not an encrypted file), nonce, ciphertext, tag. */
		const size_t at_[] = { 0, 7, 8, 19, 20, 20 + 4096, clen - 17, clen - 16, clen - 1 };

		for (size_t i = 0; i < sizeof(at_) / sizeof(at_[0]); i++) {
			c[at_[i]] ^= 0x04;
			EXPECT(open_fails(key, c, clen,
					  at_[i] < EP_CRYPT_MAGIC_LEN ? -EINVAL : -EBADMSG));
			c[at_[i]] ^= 0x04;
		}
	}
	tap_end("a flipped bit in the magic, nonce, ciphertext or tag: refused");

	tap_begin();
	EXPECT(open_fails(key, c, clen - 1, -EBADMSG));
	EXPECT(open_fails(key, c, EP_CRYPT_OVERHEAD, -EBADMSG));
	EXPECT(open_fails(key, c, EP_CRYPT_OVERHEAD - 1, -EINVAL));
	EXPECT(open_fails(key, c, 3, -EINVAL));
	EXPECT(open_fails(key, model, sizeof(model), -EINVAL));
	tap_end("truncated, too short or not encrypted: refused");

	tap_begin();
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	strcat(hex, "\n");
	EXPECT(write_file(at("model.key"), hex, strlen(hex), 0600) == 0);
	EXPECT(write_file(at("model.epm"), model, sizeof(model), 0644) == 0);
	EXPECT_EQ(ep_crypt_file(at("model.key"), at("model.epm"), at("model.epm.enc")), 0);
	{
		struct stat st;
		size_t n = read_file(at("model.epm.enc"), back, sizeof(back));

		EXPECT(!stat(at("model.epm.enc"), &st) && (st.st_mode & 0777) == 0644);
		EXPECT(access(at("model.epm.enc.tmp"), F_OK) && errno == ENOENT);
		EXPECT_EQ(ep_crypt_open(key, back, n, &p, &plen), 0);
		EXPECT(plen == sizeof(model) && !memcmp(p, model, plen));
		free(p);
	}
	/* A raw key (32 bytes) serves as well. */
	EXPECT(write_file(at("raw.key"), key, sizeof(key), 0400) == 0);
	EXPECT_EQ(ep_crypt_file(at("raw.key"), at("model.epm"), at("raw.enc")), 0);
	EXPECT_EQ(ep_crypt_open(key, back, read_file(at("raw.enc"), back, sizeof(back)), &p, &plen),
		  0);
	free(p);
	tap_end("edgeplane encrypt: a key file (hex or raw) and a file give what decrypts");

	tap_begin();
	EXPECT(write_file(at("open.key"), hex, strlen(hex), 0640) == 0);
	EXPECT_EQ(ep_crypt_file(at("open.key"), at("model.epm"), at("x.enc")), -EPERM);
	EXPECT(write_file(at("short.key"), hex, 40, 0600) == 0);
	EXPECT_EQ(ep_crypt_file(at("short.key"), at("model.epm"), at("x.enc")), -EINVAL);
	EXPECT_EQ(ep_crypt_file(at("model.key"), at("model.epm.enc"), at("x.enc")), -EINVAL);
	EXPECT_EQ(ep_crypt_file(at("model.key"), at("missing"), at("x.enc")), -ENOENT);
	EXPECT(access(at("x.enc"), F_OK) && errno == ENOENT);
	tap_end("edgeplane encrypt refuses a key others may read, a short key, a file "
		"encrypted already, a missing file");

	free(c);
	if (scratch_remove())
		tap_diag("could not remove %s", scratch);
	return tap_finish();
}
