// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/crypt.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

#define CHUNK	 (1u << 30)   /* EVP takes an int length */
#define MAX_FILE (1ull << 30) /* as the warm-up reads */

bool ep_crypt_is_encrypted(const void *data, size_t len)
{
	return len >= EP_CRYPT_MAGIC_LEN && !memcmp(data, EP_CRYPT_MAGIC, EP_CRYPT_MAGIC_LEN);
}

/* AES-256-GCM over @len bytes, the magic as additional data. Encrypting writes @tag;
 * decrypting checks it (-EBADMSG). */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *in, size_t len,
	       uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok, err = 0;

	if (!ctx)
		return -ENOMEM;
	/* GCM's default nonce length is 12 bytes. */
	ok = EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, enc, NULL) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)EP_CRYPT_MAGIC, EP_CRYPT_MAGIC_LEN) ==
		     1;
	for (size_t off = 0; ok && off < len; off += CHUNK) {
		int c = (int)(len - off < CHUNK ? len - off : CHUNK);

		ok = EVP_CipherUpdate(ctx, out + off, &n, in + off, c) == 1 && n == c;
	}
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, EP_CRYPT_TAG_LEN, tag) == 1;
	if (ok && EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		err = enc ? -EIO : -EBADMSG;
	else if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, EP_CRYPT_TAG_LEN, tag) == 1;
	if (!ok)
		err = -EIO;
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

int ep_crypt_seal(const uint8_t key[EP_CRYPT_KEY_LEN], const void *in, size_t len, uint8_t **out,
		  size_t *out_len)
{
	uint8_t *o = malloc(len + EP_CRYPT_OVERHEAD), *nonce, *tag;
	int err;

	if (!o)
		return -ENOMEM;
	memcpy(o, EP_CRYPT_MAGIC, EP_CRYPT_MAGIC_LEN);
	nonce = o + EP_CRYPT_MAGIC_LEN;
	tag = nonce + EP_CRYPT_NONCE_LEN + len;
	if (getrandom(nonce, EP_CRYPT_NONCE_LEN, 0) != EP_CRYPT_NONCE_LEN) {
		free(o);
		return -EIO;
	}
	err = gcm(1, key, nonce, in, len, nonce + EP_CRYPT_NONCE_LEN, tag);
	if (err) {
		free(o);
		return err;
	}
	*out = o;
	*out_len = len + EP_CRYPT_OVERHEAD;
	return 0;
}

int ep_crypt_open(const uint8_t key[EP_CRYPT_KEY_LEN], const void *in, size_t len, uint8_t **out,
		  size_t *out_len)
{
	const uint8_t *nonce = (const uint8_t *)in + EP_CRYPT_MAGIC_LEN;
	uint8_t tag[EP_CRYPT_TAG_LEN], *o;
	size_t n;
	int err;

	if (len < EP_CRYPT_OVERHEAD || !ep_crypt_is_encrypted(in, len))
		return -EINVAL;
	n = len - EP_CRYPT_OVERHEAD;
	memcpy(tag, nonce + EP_CRYPT_NONCE_LEN + n, sizeof(tag));
	o = malloc(n ? n : 1);
	if (!o)
		return -ENOMEM;
	err = gcm(0, key, nonce, nonce + EP_CRYPT_NONCE_LEN, n, o, tag);
	if (err) {
		OPENSSL_cleanse(o, n); /* plaintext of a file that did not authenticate */
		free(o);
		return err;
	}
	*out = o;
	*out_len = n;
	return 0;
}

int ep_crypt_blob(const uint8_t *key, const char *key_path, struct ep_blob *b)
{
	uint8_t *plain;
	size_t len;
	int err;

	if (!ep_crypt_is_encrypted(b->data, b->len))
		return 0;
	if (!key) {
		pr_err("handler file %s: encrypted, and no file_encryption.key_file is "
		       "configured: set it to the key the file was encrypted with "
		       "('edgeplane encrypt --key KEY FILE FILE.enc')",
		       b->path);
		return -ENOKEY;
	}
	err = ep_crypt_open(key, b->data, b->len, &plain, &len);
	if (err == -EBADMSG || err == -EINVAL)
		pr_err("handler file %s: does not decrypt with file_encryption.key_file %s: it "
		       "was encrypted with another key",
		       b->path, key_path);
	else if (err)
		pr_err("handler file %s: decrypting: %s", b->path, strerror(-err));
	if (err)
		return err == -EINVAL ? -EBADMSG : err;
	free((void *)b->data);
	b->data = plain;
	b->len = len;
	return 0;
}

/* The whole of regular file @path (up to MAX_FILE), malloc'd. 0 or a negative errno. */
static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t done = 0;
	uint8_t *b;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE) {
		err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto out_close;
	}
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b) {
		err = -ENOMEM;
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, b + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO; /* 0: it shrank */
			OPENSSL_cleanse(b, (size_t)st.st_size);
			free(b);
			goto out_close;
		}
		done += (size_t)n;
	}
	*buf = b;
	*len = done;
out_close:
	close(fd);
	return err;
}

int ep_crypt_file(const char *key_path, const char *in, const char *out)
{
	uint8_t key[EP_CRYPT_KEY_LEN], *plain = NULL, *sealed = NULL;
	size_t plen = 0, slen = 0;
	char *tmp = NULL;
	int fd, err;

	err = ep_read_secret("key", key_path, key, sizeof(key)); /* logs */
	if (err)
		return err;
	err = read_all(in, &plain, &plen);
	if (err) {
		pr_err("%s: %s", in, strerror(-err));
		goto out;
	}
	if (ep_crypt_is_encrypted(plain, plen)) {
		pr_err("%s: encrypted already", in);
		err = -EINVAL;
		goto out;
	}
	err = ep_crypt_seal(key, plain, plen, &sealed, &slen);
	if (err) {
		pr_err("%s: encrypting: %s", in, strerror(-err));
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp", out) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto out;
	}
	/* Beside, then renamed: a runtime starting meanwhile reads the old file or the new. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err = -errno;
		pr_err("%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, sealed, slen) != (ssize_t)slen)
		err = -EIO;
	else if (fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, out))
		err = -errno;
	if (err) {
		pr_err("%s: %s", out, strerror(-err));
		unlink(tmp);
	}

out:
	OPENSSL_cleanse(key, sizeof(key));
	if (plain)
		OPENSSL_cleanse(plain, plen);
	free(plain);
	free(sealed);
	free(tmp);
	return err;
}
