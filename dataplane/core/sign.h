/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sign.h - Ed25519 signatures of what the runtime loads: handler plugins and handler files
 * (models, reference frames). The operator signs each file with a private key kept off the
 * node; the signature is detached, in FILE.sig beside it: the 64 raw bytes of RFC 8032
 * Ed25519 ("pure", over the whole file), as `openssl pkeyutl -sign -rawin` writes them
 * (scripts/ep-sign.sh wraps that; any Ed25519 signer making the same bytes will do). The
 * runtime holds the public key (signing.public_key, PEM) and checks the very bytes it is
 * about to use: the sealed copy of a plugin that it dlopen()s, the buffer a handler gets.
 *
 * Used at start only (one thread); nothing here is on the packet path.
 */
#ifndef EP_SIGN_H
#define EP_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_SIGN_LEN    64     /* an Ed25519 signature */
#define EP_SIGN_SUFFIX ".sig" /* FILE's signature is FILE.sig */

struct ep_sign_key;

/*
 * Load an Ed25519 public key from the PEM file @path (`openssl pkey -in KEY -pubout`). The
 * file must be a regular file owned by root or the runtime's user and writable by no one
 * else (reading it is harmless: it is public). A symbolic link is followed; the checks are
 * on the file opened. Returns the key (free it with ep_sign_key_free()), or NULL with
 * errno set (EPERM: owner or mode, EINVAL: not an Ed25519 public key, or what open() or
 * read() said) after logging what is wrong with the file and how to fix it.
 */
struct ep_sign_key *ep_sign_key_load(const char *path);
void ep_sign_key_free(struct ep_sign_key *k);

/*
 * Does @sig sign the @len bytes at @data under @k? Returns 0 if it does, -EBADMSG if not,
 * -ENOMEM if OpenSSL could not set up. Logs nothing.
 */
int ep_sign_verify(const struct ep_sign_key *k, const void *data, size_t len,
		   const uint8_t sig[EP_SIGN_LEN]);

/*
 * Read the signature of file @path, from @path.sig, into @sig. Returns 0; -ENOENT if there
 * is no @path.sig; -EBADMSG if it is not a regular file of exactly EP_SIGN_LEN bytes; or
 * another negative errno from open() or read(). Logs nothing.
 */
int ep_sign_read(const char *path, uint8_t sig[EP_SIGN_LEN]);

/* signing.mode and signing.public_key, as the runtime applies them. */
struct ep_signing {
	bool off;		 /* "off-unsafe": nothing is checked */
	const char *key_path;	 /* for messages; NULL: none configured */
	struct ep_sign_key *key; /* NULL when off or none configured */
};

/*
 * Set up @s: with @off nothing is checked (and a warning says so); otherwise the key at
 * @key_path is loaded, if one is configured (none: every check fails, saying so). Returns
 * 0 or the negative errno of ep_sign_key_load() (logged). @key_path must outlive @s.
 */
int ep_signing_init(struct ep_signing *s, bool off, const char *key_path);
void ep_signing_fini(struct ep_signing *s);

/*
 * The check before the runtime uses the @len bytes at @data, read from @path (@what says
 * what they are, "plugin" or "handler file", for the message): they must be signed by the
 * operator's key in @path.sig. Returns 0 (or when @s is off); otherwise, after logging
 * @what, @path, the reason and the command that fixes it:
 *   -ENOKEY   no public key configured (then @data is not looked at: it may be NULL);
 *   -ENOENT   missing signature (no @path.sig);
 *   -EBADMSG  bad signature (not 64 bytes, or it does not verify: the file changed after it
 *             was signed, or another key signed it);
 *   another negative errno if @path.sig could not be read.
 */
int ep_signing_check(const struct ep_signing *s, const char *what, const char *path,
		     const void *data, size_t len);

#endif /* EP_SIGN_H */
