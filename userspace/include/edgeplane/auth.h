/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * auth.h - authenticated, encrypted datagrams (docs/protocol.md 3.5).
 *
 * An AUTH datagram (EP_F_AUTH) is sealed with AES-128-GCM under the sender's session key:
 *
 *	[ ep_hdr: 64 bytes ][ nonce: 12 bytes ][ ciphertext: payload_len - 12 bytes ]
 *
 *	nonce = be32(sender) || be64(pn), in the clear
 *	AAD   = the 64-byte header with auth_tag zeroed
 *	tag   -> auth_tag
 *
 * sender is 0 for a device and the node's id (>= 1) for a node, so the two directions of a
 * key never share a nonce. A device's pn is (seconds since it got the key) << 40 | a
 * per-key counter (EP_AUTH_CTR_BITS); a node's is a per-process counter started at the
 * realtime clock in ns. The receiver of a device's datagrams keeps a replay window over the
 * counter part (struct ep_replay).
 *
 * struct ep_aead holds one key's OpenSSL contexts, for one thread at a time: the key
 * schedule is done once, so sealing or opening a datagram costs the cipher and no
 * allocation. Functions return 0 or a negative errno.
 */
#ifndef EDGEPLANE_AUTH_H
#define EDGEPLANE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ep_shared.h"

#define EP_AUTH_KEY_LEN	      16
#define EP_AUTH_CTR_BITS      40
#define EP_AUTH_CTR_MASK      ((1ull << EP_AUTH_CTR_BITS) - 1)
#define EP_AUTH_SECS_MAX      ((1u << (64 - EP_AUTH_CTR_BITS)) - 1)
#define EP_AUTH_SENDER_DEVICE 0u

/* A device's pn: @secs since it received the key (capped), and its counter. */
static inline uint64_t ep_auth_pn(uint64_t secs, uint64_t ctr)
{
	if (secs > EP_AUTH_SECS_MAX)
		secs = EP_AUTH_SECS_MAX;
	return secs << EP_AUTH_CTR_BITS | (ctr & EP_AUTH_CTR_MASK);
}

static inline uint64_t ep_auth_pn_secs(uint64_t pn)
{
	return pn >> EP_AUTH_CTR_BITS;
}

static inline uint64_t ep_auth_pn_ctr(uint64_t pn)
{
	return pn & EP_AUTH_CTR_MASK;
}

/* The nonce of (@sender, @pn), as it is on the wire. */
void ep_auth_nonce(uint32_t sender, uint64_t pn, uint8_t nonce[EP_AUTH_NONCE_LEN]);

struct ep_aead;

/* Contexts keyed with @key (copied; the caller may wipe its copy). NULL with errno set. */
struct ep_aead *ep_aead_new(const uint8_t key[EP_AUTH_KEY_LEN]);
/* Wipes and frees; NULL is fine. */
void ep_aead_free(struct ep_aead *a);

/*
 * Seal the datagram @dgram of @dlen bytes in place. On entry: a header with EP_F_AUTH in
 * flags, auth_key_id set and payload_len == dlen - EP_HDR_LEN (ep_frag_build() writes one),
 * EP_AUTH_NONCE_LEN bytes of room for the nonce, then the plaintext. Writes the nonce of
 * (@sender, @pn), encrypts, writes the tag into auth_tag. Returns 0, -EINVAL (@dlen below header +
 * nonce, or no AUTH flag) or -EIO.
 */
int ep_aead_seal(struct ep_aead *a, uint32_t sender, uint64_t pn, uint8_t *dgram, size_t dlen);

/*
 * Verify and decrypt @dgram in place (the ciphertext after the nonce becomes the
 * plaintext; the header and the nonce are left as they came). *sender and *pn get the
 * nonce's, once the tag verified: the caller checks the sender is who it expects (0 for a
 * node receiving from a device, not 0 for a device receiving from a node). Returns 0,
 * -EINVAL (too short or no AUTH flag), -EBADMSG (the tag does not verify: the payload is
 * then garbage) or -EIO.
 */
int ep_aead_open(struct ep_aead *a, uint8_t *dgram, size_t dlen, uint32_t *sender, uint64_t *pn);

/*
 * Replay window over a key's counters (RFC 6479's bitmap, 1024 wide): a counter more than
 * EP_REPLAY_WINDOW below the highest seen is too old, one inside the window is accepted
 * once. 136 bytes per key. Check before, mark after the tag verified, under the caller's
 * lock if threads share it.
 */
#define EP_REPLAY_WINDOW 1024
struct ep_replay {
	uint64_t top; /* highest counter marked + 1; 0: none yet */
	uint64_t bits[EP_REPLAY_WINDOW / 64];
};

/* 0: new; -EALREADY: seen; -ESTALE: older than the window. */
int ep_replay_check(const struct ep_replay *r, uint64_t ctr);
void ep_replay_mark(struct ep_replay *r, uint64_t ctr);

#endif /* EDGEPLANE_AUTH_H */
