/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * crypt.h - handler files (models) stored encrypted with AES-256-GCM and decrypted only in
 * the runtime's memory, with a key file of the node's (file_encryption.key_file). The
 * operator encrypts with `edgeplane encrypt` and then signs the encrypted file as stored
 * (core/sign.h); the runtime checks the signature, then decrypts.
 *
 * An encrypted file, all of it authenticated:
 *
 *	offset 0	8	magic "EPENC01\n" (also the GCM additional data)
 *	offset 8	12	nonce, random per encryption
 *	offset 20	n	ciphertext of the n-byte file
 *	offset 20 + n	16	GCM tag
 *
 * Used at start only (one thread); nothing here is on the packet path.
 */
#ifndef EP_CRYPT_H
#define EP_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeplane/handler.h"

#define EP_CRYPT_KEY_LEN   32
#define EP_CRYPT_MAGIC	   "EPENC01\n"
#define EP_CRYPT_MAGIC_LEN 8
#define EP_CRYPT_NONCE_LEN 12
#define EP_CRYPT_TAG_LEN   16
#define EP_CRYPT_OVERHEAD  (EP_CRYPT_MAGIC_LEN + EP_CRYPT_NONCE_LEN + EP_CRYPT_TAG_LEN)

/* Does @data start like an encrypted file (the magic)? */
bool ep_crypt_is_encrypted(const void *data, size_t len);

/*
 * Encrypt the @len bytes at @in under @key with a fresh random nonce. Returns 0 and
 * *out (malloc'd, free it) of *out_len = @len + EP_CRYPT_OVERHEAD bytes, or -ENOMEM, -EIO
 * (OpenSSL or the random source failed).
 */
int ep_crypt_seal(const uint8_t key[EP_CRYPT_KEY_LEN], const void *in, size_t len, uint8_t **out,
		  size_t *out_len);

/*
 * Check and decrypt the encrypted file at @in (@len bytes) under @key. Returns 0 and *out
 * (malloc'd; wipe and free it) of *out_len bytes; -EINVAL if it is not an encrypted file
 * (no magic, or shorter than EP_CRYPT_OVERHEAD); -EBADMSG if it does not authenticate
 * (another key, or a changed byte anywhere); -ENOMEM, -EIO. Nothing is returned of a file
 * that does not authenticate.
 */
int ep_crypt_open(const uint8_t key[EP_CRYPT_KEY_LEN], const void *in, size_t len, uint8_t **out,
		  size_t *out_len);

/*
 * The runtime's step for handler file @b, after its signature was checked: if it is
 * encrypted, decrypt it in place (b->data and b->len replaced, the encrypted bytes freed)
 * with @key, read from file_encryption.key_file @key_path (@key NULL: none configured). A
 * file that is not encrypted is left as it is. Returns 0, or after logging the file, the
 * reason and the fix: -ENOKEY (encrypted, and no key configured), -EBADMSG (it does not
 * decrypt with this key), -ENOMEM, -EIO.
 */
int ep_crypt_blob(const uint8_t *key, const char *key_path, struct ep_blob *b);

/*
 * `edgeplane encrypt`: encrypt file @in into @out (written beside as @out.tmp, mode 0644,
 * then renamed) with the key in @key_path (ep_read_secret()). Returns 0 or a negative errno
 * after logging what failed.
 */
int ep_crypt_file(const char *key_path, const char *in, const char *out);

#endif /* EP_CRYPT_H */
