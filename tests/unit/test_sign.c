// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Signatures of plugins and handler files (dataplane/core/sign.c): a file loads only with
 * FILE.sig, 64 bytes of Ed25519 by the key of signing.public_key, over exactly its bytes.
 * Keys are made here, in a scratch directory removed at the end; the RFC 8032 vectors show
 * that a signature from any Ed25519 signer verifies.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/sign.h"
#include "edgeplane/log.h"
#include "../lib/scratch.h"
#include "../lib/tap.h"
#include "helpers.h"

/* @path.sig: @len bytes of @sig. */
static int write_sig(const char *path, const uint8_t *sig, size_t len)
{
	char p[300];

	snprintf(p, sizeof(p), "%s.sig", path);
	return write_file(p, sig, len, 0644);
}

static int write_pub(const char *path, EVP_PKEY *k, mode_t mode)
{
	BIO *b = BIO_new_file(path, "w");
	int ok = b && PEM_write_bio_PUBKEY(b, k);

	BIO_free(b);
	return ok && !chmod(path, mode) ? 0 : -EIO;
}

static int sign(EVP_PKEY *k, const void *data, size_t len, uint8_t sig[EP_SIGN_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = EP_SIGN_LEN;
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestSign(ctx, sig, &n, data, len) == 1 && n == EP_SIGN_LEN;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/*
 * What ep_signing_check() says of @file (its bytes read as @data, @len) under the public key
 * in @pub_path, named @what in its messages. Setting up the check must succeed (a failure
 * fails the case, and is returned).
 */
static int check_signed(const char *pub_path, const char *what, const char *file, const void *data,
			size_t len)
{
	struct ep_signing s;
	int err = ep_signing_init(&s, false, pub_path);

	EXPECT_EQ(err, 0);
	if (err)
		return err;
	err = ep_signing_check(&s, what, file, data, len);
	ep_signing_fini(&s);
	return err;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

/* RFC 8032 7.1, TEST 1 (the empty message) and TEST 2 (one byte, 0x72). */
static const struct {
	const char *pub, *msg, *sig;
} rfc8032[] = {
	{ "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
};

int main(void)
{
	static uint8_t model[1 << 20];
	uint8_t sig[EP_SIGN_LEN], bad[EP_SIGN_LEN], got[EP_SIGN_LEN];
	struct ep_sign_key *pub = NULL, *other_pub = NULL;
	EVP_PKEY *key = NULL, *other = NULL;
	struct ep_signing s;
	const struct passwd *nobody;

	ep_log_set_level(EP_LOG_WARN);
	if (scratch_make_or_skip("sign", "signatures"))
		return tap_finish();
	fill_pattern(model, sizeof(model), 13);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EXPECT(key && other);
	EXPECT(write_pub(at("operator.pub"), key, 0644) == 0);
	EXPECT(write_pub(at("other.pub"), other, 0644) == 0);
	EXPECT(write_file(at("model.epm"), model, sizeof(model), 0644) == 0);
	EXPECT(sign(key, model, sizeof(model), sig) == 0);
	EXPECT(write_sig(at("model.epm"), sig, sizeof(sig)) == 0);
	pub = ep_sign_key_load(at("operator.pub"));
	other_pub = ep_sign_key_load(at("other.pub"));
	EXPECT(pub && other_pub);
	if (!pub || !other_pub)
		goto out;

	tap_begin();
	EXPECT_EQ(ep_sign_verify(pub, model, sizeof(model), sig), 0);
	EXPECT_EQ(ep_sign_read(at("model.epm"), got), 0);
	EXPECT(!memcmp(got, sig, sizeof(sig)));
	EXPECT_EQ(check_signed(at("operator.pub"), "handler file", at("model.epm"), model,
			       sizeof(model)),
		  0);
	tap_end("a good signature verifies");

	tap_begin();
	for (size_t i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
		uint8_t raw[32], msg[1];
		size_t mlen = strlen(rfc8032[i].msg) / 2;
		EVP_PKEY *k;
		struct ep_sign_key *vk;

		unhex(rfc8032[i].pub, raw, sizeof(raw));
		unhex(rfc8032[i].msg, msg, mlen);
		unhex(rfc8032[i].sig, got, sizeof(got));
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof(raw));
		EXPECT(k && write_pub(at("rfc.pub"), k, 0644) == 0);
		EVP_PKEY_free(k);
		vk = ep_sign_key_load(at("rfc.pub"));
		EXPECT(vk);
		if (!vk)
			continue;
		EXPECT_EQ(ep_sign_verify(vk, mlen ? msg : NULL, mlen, got), 0);
		got[63] ^= 0x01;
		EXPECT_EQ(ep_sign_verify(vk, mlen ? msg : NULL, mlen, got), -EBADMSG);
		ep_sign_key_free(vk);
	}
	tap_end("RFC 8032's Ed25519 vectors verify (any Ed25519 signer will do)");

	tap_begin();
	for (size_t bit = 0; bit < 8 * sizeof(model); bit += 8 * sizeof(model) / 7 + 5) {
		model[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		EXPECT_EQ(ep_sign_verify(pub, model, sizeof(model), sig), -EBADMSG);
		model[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	EXPECT_EQ(ep_sign_verify(pub, model, sizeof(model) - 1, sig), -EBADMSG);
	model[12345] ^= 0x10;
	EXPECT_EQ(check_signed(at("operator.pub"), "handler file", at("model.epm"), model,
			       sizeof(model)),
		  -EBADMSG);
	model[12345] ^= 0x10;
	tap_end("a flipped bit in the file, or a byte less: bad signature");

	tap_begin();
	for (unsigned int bit = 0; bit < 8 * EP_SIGN_LEN; bit += 37) {
		memcpy(bad, sig, sizeof(sig));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		EXPECT_EQ(ep_sign_verify(pub, model, sizeof(model), bad), -EBADMSG);
	}
	EXPECT(write_file(at("flipped.epm"), model, sizeof(model), 0644) == 0);
	EXPECT(write_sig(at("flipped.epm"), bad, sizeof(bad)) == 0);
	EXPECT_EQ(check_signed(at("operator.pub"), "handler file", at("flipped.epm"), model,
			       sizeof(model)),
		  -EBADMSG);
	tap_end("a flipped bit in the signature: bad signature");

	tap_begin();
	EXPECT_EQ(ep_sign_verify(other_pub, model, sizeof(model), sig), -EBADMSG);
	EXPECT_EQ(check_signed(at("other.pub"), "handler file", at("model.epm"), model,
			       sizeof(model)),
		  -EBADMSG);
	EXPECT(sign(other, model, sizeof(model), bad) == 0);
	EXPECT_EQ(ep_sign_verify(pub, model, sizeof(model), bad), -EBADMSG);
	tap_end("another key's signature, or the wrong public key: bad signature");

	tap_begin();
	EXPECT(write_file(at("short.epm"), model, sizeof(model), 0644) == 0);
	EXPECT(write_sig(at("short.epm"), sig, EP_SIGN_LEN - 1) == 0);
	EXPECT_EQ(ep_sign_read(at("short.epm"), got), -EBADMSG);
	EXPECT(write_file(at("empty.epm"), model, sizeof(model), 0644) == 0);
	EXPECT(write_sig(at("empty.epm"), sig, 0) == 0);
	EXPECT_EQ(ep_sign_read(at("empty.epm"), got), -EBADMSG);
	EXPECT(write_file(at("long.epm"), model, sizeof(model), 0644) == 0);
	{
		uint8_t longer[EP_SIGN_LEN + 1] = { 0 };

		memcpy(longer, sig, sizeof(sig));
		EXPECT(write_sig(at("long.epm"), longer, sizeof(longer)) == 0);
	}
	EXPECT_EQ(ep_sign_read(at("long.epm"), got), -EBADMSG);
	EXPECT(mkdir(at("dir.epm.sig"), 0755) == 0);
	EXPECT_EQ(ep_sign_read(at("dir.epm"), got), -EBADMSG);
	EXPECT_EQ(check_signed(at("operator.pub"), "handler file", at("short.epm"), model,
			       sizeof(model)),
		  -EBADMSG);
	EXPECT_EQ(check_signed(at("operator.pub"), "handler file", at("long.epm"), model,
			       sizeof(model)),
		  -EBADMSG);
	tap_end("a truncated, empty or longer .sig, or a directory: bad signature");

	tap_begin();
	EXPECT(write_file(at("unsigned.epm"), model, sizeof(model), 0644) == 0);
	EXPECT_EQ(ep_sign_read(at("unsigned.epm"), got), -ENOENT);
	EXPECT_EQ(check_signed(at("operator.pub"), "plugin", at("unsigned.epm"), model,
			       sizeof(model)),
		  -ENOENT);
	tap_end("a missing .sig: missing signature");

	tap_begin();
	EXPECT_EQ(ep_signing_init(&s, false, NULL), 0);
	EXPECT(!s.key);
	EXPECT_EQ(ep_signing_check(&s, "plugin", at("model.epm"), model, sizeof(model)), -ENOKEY);
	EXPECT_EQ(ep_signing_check(&s, "plugin", at("model.epm"), NULL, 0), -ENOKEY);
	ep_signing_fini(&s);
	tap_end("no public key configured: nothing passes");

	tap_begin();
	ep_log_set_level(EP_LOG_ERROR); /* its warning */
	EXPECT_EQ(ep_signing_init(&s, true, NULL), 0);
	EXPECT_EQ(ep_signing_check(&s, "plugin", at("unsigned.epm"), model, sizeof(model)), 0);
	EXPECT_EQ(ep_signing_check(&s, "plugin", at("flipped.epm"), model, sizeof(model)), 0);
	ep_signing_fini(&s);
	ep_log_set_level(EP_LOG_WARN);
	tap_end("signing.mode = \"off-unsafe\": nothing is checked");

	tap_begin();
	EXPECT(write_pub(at("gw.pub"), key, 0664) == 0);
	errno = 0;
	EXPECT(!ep_sign_key_load(at("gw.pub")) && errno == EPERM);
	EXPECT(write_pub(at("ww.pub"), key, 0646) == 0);
	errno = 0;
	EXPECT(!ep_sign_key_load(at("ww.pub")) && errno == EPERM);
	EXPECT_EQ(ep_signing_init(&s, false, at("ww.pub")), -EPERM);
	EXPECT(write_pub(at("ro.pub"), key, 0400) == 0);
	{
		struct ep_sign_key *ro = ep_sign_key_load(at("ro.pub"));

		EXPECT(ro);
		ep_sign_key_free(ro);
	}
	tap_end("a public key file others may write is refused (0644 or 0400 loads)");

	tap_begin();
	{
		EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		BIO *b;

		EXPECT(ec && write_pub(at("ec.pub"), ec, 0644) == 0);
		errno = 0;
		EXPECT(!ep_sign_key_load(at("ec.pub")) && errno == EINVAL);
		/* The private key where the public one belongs. */
		b = BIO_new_file(at("private.pem"), "w");
		EXPECT(b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
		BIO_free(b);
		errno = 0;
		EXPECT(!ep_sign_key_load(at("private.pem")) && errno == EINVAL);
		EXPECT(write_file(at("junk.pub"), model, 200, 0644) == 0);
		errno = 0;
		EXPECT(!ep_sign_key_load(at("junk.pub")) && errno == EINVAL);
		errno = 0;
		EXPECT(!ep_sign_key_load(at("missing.pub")) && errno == ENOENT);
		errno = 0;
		EXPECT(!ep_sign_key_load(scratch) && errno == EINVAL);
		EVP_PKEY_free(ec);
	}
	tap_end("not an Ed25519 public key (an EC key, a private key, junk, a directory, "
		"missing): refused");

	nobody = other_user_or_skip("a public key file owned by another user is refused");
	if (nobody) {
		tap_begin();
		EXPECT(write_pub(at("theirs.pub"), key, 0644) == 0 &&
		       chown(at("theirs.pub"), nobody->pw_uid, (gid_t)-1) == 0);
		errno = 0;
		EXPECT(!ep_sign_key_load(at("theirs.pub")) && errno == EPERM);
		tap_end("a public key file owned by another user is refused");
	}

out:
	ep_sign_key_free(pub);
	ep_sign_key_free(other_pub);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	if (scratch_remove())
		tap_diag("could not remove %s", scratch);
	return tap_finish();
}
