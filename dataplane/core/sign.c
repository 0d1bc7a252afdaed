// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/sign.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

#define MAX_KEY_FILE 4096 /* an Ed25519 public key in PEM is 113 bytes */

/* How to make a signature, for the messages: the script, or openssl itself. */
#define HOW_TO_SIGN                                                                       \
	"sign it with the operator's key: 'scripts/ep-sign.sh sign operator.key %s' (or " \
	"'openssl pkeyutl -sign -rawin -inkey operator.key -in %s -out %s.sig')"

struct ep_sign_key {
	EVP_PKEY *pkey;
};

/* Read what @fd holds, up to @cap bytes, into @buf. Returns the length or a negative
 * errno (-EFBIG: more than @cap). */
static ssize_t read_small(int fd, uint8_t *buf, size_t cap)
{
	size_t done = 0;

	for (;;) {
		ssize_t n = read(fd, buf + done, cap + 1 - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return (ssize_t)done;
		done += (size_t)n;
		if (done > cap)
			return -EFBIG;
	}
}

struct ep_sign_key *ep_sign_key_load(const char *path)
{
	uint8_t buf[MAX_KEY_FILE + 1];
	struct ep_sign_key *k = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	ssize_t n;
	int fd, err;

	/* Public, so anyone may read it; but no one else may replace it. */
	fd = ep_open_trusted("signing.public_key", path, S_IWGRP | S_IWOTH,
			     "lets its group or others replace the key that decides what the "
			     "runtime loads (chmod go-w)");
	if (fd < 0) {
		err = fd;
		goto out;
	}
	n = read_small(fd, buf, MAX_KEY_FILE);
	if (n < 0) {
		err = (int)n;
		pr_err("signing.public_key %s: %s", path,
		       n == -EFBIG ? "larger than a public key file" : strerror(-err));
		goto out_close;
	}
	if (memmem(buf, (size_t)n, "PRIVATE KEY", 11)) {
		pr_err("signing.public_key %s: holds a private key; the node needs only the "
		       "public key ('openssl pkey -in operator.key -pubout'), and the private "
		       "key belongs off the node",
		       path);
		err = -EINVAL;
		goto out_close;
	}
	bio = BIO_new_mem_buf(buf, (int)n);
	if (!bio) {
		err = -ENOMEM;
		goto out_close;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey || !EVP_PKEY_is_a(pkey, "ED25519")) {
		pr_err("signing.public_key %s: not an Ed25519 public key in PEM (make it with "
		       "'scripts/ep-sign.sh keygen operator.key', or 'openssl pkey -in "
		       "operator.key -pubout -out %s')",
		       path, path);
		err = -EINVAL;
		goto out_close;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = -ENOMEM;
		goto out_close;
	}
	k->pkey = pkey;
	pkey = NULL;
	err = 0;

out_close:
	OPENSSL_cleanse(buf, sizeof(buf)); /* in case it was a private key */
	close(fd);
out:
	EVP_PKEY_free(pkey);
	if (err)
		errno = -err;
	return k;
}

void ep_sign_key_free(struct ep_sign_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int ep_sign_verify(const struct ep_sign_key *k, const void *data, size_t len,
		   const uint8_t sig[EP_SIGN_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret;

	if (!ctx)
		return -ENOMEM;
	/* Ed25519 is one-shot: no digest is named (NULL), the whole message goes in at once. */
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	ret = EVP_DigestVerify(ctx, sig, EP_SIGN_LEN, data, len) == 1 ? 0 : -EBADMSG;
	EVP_MD_CTX_free(ctx);
	return ret;
}

int ep_sign_read(const char *path, uint8_t sig[EP_SIGN_LEN])
{
	uint8_t buf[EP_SIGN_LEN + 1];
	char *sigpath;
	struct stat st;
	ssize_t n;
	int fd, err;

	if (asprintf(&sigpath, "%s" EP_SIGN_SUFFIX, path) < 0)
		return -ENOMEM;
	fd = open(sigpath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	free(sigpath);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EBADMSG;
		goto out_close;
	}
	n = read_small(fd, buf, EP_SIGN_LEN);
	err = n == EP_SIGN_LEN ? 0 : n >= 0 || n == -EFBIG ? -EBADMSG : (int)n;
	if (!err)
		memcpy(sig, buf, EP_SIGN_LEN);
out_close:
	close(fd);
	return err;
}

int ep_signing_init(struct ep_signing *s, bool off, const char *key_path)
{
	*s = (struct ep_signing){ .off = off, .key_path = key_path };
	if (off) {
		pr_warn("signing.mode = \"off-unsafe\": plugins and handler files are loaded "
			"without checking their signatures");
		return 0;
	}
	if (!key_path)
		return 0;
	s->key = ep_sign_key_load(key_path);
	return s->key ? 0 : -errno;
}

void ep_signing_fini(struct ep_signing *s)
{
	ep_sign_key_free(s->key);
	s->key = NULL;
}

int ep_signing_check(const struct ep_signing *s, const char *what, const char *path,
		     const void *data, size_t len)
{
	uint8_t sig[EP_SIGN_LEN];
	int err;

	if (s->off)
		return 0;
	if (!s->key) {
		pr_err("%s %s: no public key configured: every plugin and handler file must be "
		       "signed by the operator (signing.mode = \"required\"); set "
		       "signing.public_key to the operator's public key (made by "
		       "'scripts/ep-sign.sh keygen operator.key'), and " HOW_TO_SIGN,
		       what, path, path, path, path);
		return -ENOKEY;
	}
	err = ep_sign_read(path, sig);
	if (err == -ENOENT) {
		pr_err("%s %s: missing signature: there is no %s" EP_SIGN_SUFFIX "; " HOW_TO_SIGN,
		       what, path, path, path, path, path);
		return err;
	}
	if (err == -EBADMSG) {
		pr_err("%s %s: bad signature: %s" EP_SIGN_SUFFIX " is not a file of %d bytes (an "
		       "Ed25519 signature); " HOW_TO_SIGN,
		       what, path, path, EP_SIGN_LEN, path, path, path);
		return err;
	}
	if (err) {
		pr_err("%s %s: its signature %s" EP_SIGN_SUFFIX ": %s", what, path, path,
		       strerror(-err));
		return err;
	}
	err = ep_sign_verify(s->key, data, len, sig);
	if (err == -EBADMSG) {
		pr_err("%s %s: bad signature: %s" EP_SIGN_SUFFIX " does not verify with "
		       "signing.public_key %s: the file changed after it was signed, or another "
		       "key signed it; if this file is the one you mean to run, " HOW_TO_SIGN,
		       what, path, path, s->key_path, path, path, path);
		return err;
	}
	if (err) {
		pr_err("%s %s: checking its signature: %s", what, path, strerror(-err));
		return err;
	}
	pr_debug("%s %s: signature good (%s)", what, path, s->key_path);
	return 0;
}
