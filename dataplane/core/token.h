/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * token.h - address-validation tokens (docs/protocol.md 3.7; QUIC Retry in spirit).
 *
 * A node proves that a client can receive at the address and port it sends from by
 * handing it a token in a RETRY; the client sends the task again with the token
 * (EP_F_TOKEN, in auth_key_id and auth_tag). The token is stateless: a MAC over the
 * client's address, port and a time epoch under a key derived from the node's secret, so
 * every node that shares the secret (behind one gateway) accepts every other's tokens.
 *
 *   epoch  e   = floor(unix_time_s / period_s)
 *   key    K_e = HMAC-SHA256(master, "edgeplane token v1" || be32(e))
 *   token      = auth_key_id: be16(e & 0xffff)
 *                auth_tag:    HMAC-SHA256(K_e, addr[16] || be16(port) || be16(e & 0xffff))[0..16)
 *
 * A token is valid while its key id is one of e_now - 1, e_now, e_now + 1 (mod 2^16) and
 * its tag matches. HMAC through OpenSSL 3's EVP_MAC.
 *
 * The master secret (struct ep_token_master) is loaded once and then only read, so every
 * worker thread shares it. Each worker has its own struct ep_token: OpenSSL contexts
 * keyed with the epoch keys of the window, and a small cache of the tokens it verified,
 * so a validated client costs a memcmp per datagram, not an HMAC. Nothing is allocated
 * after ep_token_new().
 */
#ifndef EP_TOKEN_H
#define EP_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"

#define EP_TOKEN_MASTER_LEN	  32
#define EP_TOKEN_DEFAULT_PERIOD_S 600
#define EP_TOKEN_LABEL		  "edgeplane token v1"

struct ep_token_master {
	uint8_t key[EP_TOKEN_MASTER_LEN];
	uint32_t period_s; /* epoch length, >= 1 */
};

/*
 * Read the master secret from @path: 32 bytes, either raw or as 64 hex digits (a trailing
 * newline allowed). The open file must be a regular file owned by root or by the
 * effective user, and neither group- nor world-readable or -writable; anything else is
 * refused with a message that says what is wrong. Returns 0, or a negative errno after
 * logging (-EPERM for the owner or the mode, -EINVAL for the contents).
 */
int ep_token_master_load(struct ep_token_master *m, const char *path, uint32_t period_s);
/* A random master secret (getrandom), for a node that shares its tokens with no other.
 * Returns 0 or a negative errno. */
int ep_token_master_random(struct ep_token_master *m, uint32_t period_s);

/* The epoch of unix time @unix_s. */
static inline uint64_t ep_token_epoch(const struct ep_token_master *m, uint64_t unix_s)
{
	return unix_s / m->period_s;
}

/*
 * The token of (@addr, @port) in epoch @epoch, computed from scratch (no context, no
 * cache): the reference the tests and the worked example in docs/protocol.md use.
 * Returns 0 or -EIO (OpenSSL failed).
 */
int ep_token_compute(const struct ep_token_master *m, uint64_t epoch, const uint8_t addr[16],
		     uint16_t port, uint16_t *key_id, uint8_t tag[EP_AUTH_TAG_LEN]);

struct ep_token;

/* A worker's context over @m (which must outlive it). Returns NULL with errno set. */
struct ep_token *ep_token_new(const struct ep_token_master *m);
void ep_token_free(struct ep_token *t);

/* Issue the token of (@addr, @port) at unix time @unix_s. Returns 0 or -EIO. */
int ep_token_issue(struct ep_token *t, const uint8_t addr[16], uint16_t port, uint64_t unix_s,
		   uint16_t *key_id, uint8_t tag[EP_AUTH_TAG_LEN]);
/* Whether (@key_id, @tag) is a valid token of (@addr, @port) at unix time @unix_s. */
bool ep_token_verify(struct ep_token *t, const uint8_t addr[16], uint16_t port, uint16_t key_id,
		     const uint8_t tag[EP_AUTH_TAG_LEN], uint64_t unix_s);

struct ep_token_stats {
	uint64_t macs;	     /* HMACs computed to verify or issue (cache misses) */
	uint64_t cache_hits; /* tokens found verified already */
};
void ep_token_get_stats(const struct ep_token *t, struct ep_token_stats *st);

#endif /* EP_TOKEN_H */
