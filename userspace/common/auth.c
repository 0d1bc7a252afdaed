// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * auth.c - AES-128-GCM sealing of AUTH datagrams and the replay window (auth.h,
 * docs/protocol.md 3.5), through OpenSSL 3's EVP interface.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "edgeplane/auth.h"
#include "ep_check.h"

struct ep_aead {
	EVP_CIPHER_CTX *enc; /* keyed once; each datagram only sets the nonce */
	EVP_CIPHER_CTX *dec;
};

void ep_auth_nonce(uint32_t sender, uint64_t pn, uint8_t nonce[EP_AUTH_NONCE_LEN])
{
	for (int i = 0; i < 4; i++)
		nonce[i] = (uint8_t)(sender >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(pn >> (56 - 8 * i));
}

struct ep_aead *ep_aead_new(const uint8_t key[EP_AUTH_KEY_LEN])
{
	struct ep_aead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (!a->enc || !a->dec ||
	    EVP_EncryptInit_ex(a->enc, EVP_aes_128_gcm(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, EVP_aes_128_gcm(), NULL, key, NULL) != 1)
		goto err_free;
	/* 12 bytes is GCM's default IV length; set it anyway, the nonce layout depends on it. */
	if (EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_SET_IVLEN, EP_AUTH_NONCE_LEN, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_IVLEN, EP_AUTH_NONCE_LEN, NULL) != 1)
		goto err_free;
	return a;

err_free:
	ep_aead_free(a);
	errno = EIO;
	return NULL;
}

void ep_aead_free(struct ep_aead *a)
{
	if (!a)
		return;
	/* EVP_CIPHER_CTX_free() cleanses the key schedule. */
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	free(a);
}

/* The header as associated data: as sent, with the tag's bytes zero. */
static void aad_of(const uint8_t *dgram, uint8_t aad[EP_HDR_LEN])
{
	memcpy(aad, dgram, EP_HDR_LEN);
	memset(aad + offsetof(struct ep_hdr, auth_tag), 0, EP_AUTH_TAG_LEN);
}

static bool has_auth(const uint8_t *dgram)
{
	return ((const struct ep_hdr *)dgram)->flags & EP_F_AUTH;
}

int ep_aead_seal(struct ep_aead *a, uint32_t sender, uint64_t pn, uint8_t *dgram, size_t dlen)
{
	uint8_t aad[EP_HDR_LEN], *nonce = dgram + EP_HDR_LEN, *p = nonce + EP_AUTH_NONCE_LEN;
	int n, len = (int)(dlen - EP_HDR_LEN - EP_AUTH_NONCE_LEN);

	if (dlen < EP_HDR_LEN + EP_AUTH_NONCE_LEN || dlen > EP_HDR_LEN + 0xffffu ||
	    !has_auth(dgram))
		return -EINVAL;
	ep_auth_nonce(sender, pn, nonce);
	aad_of(dgram, aad);
	if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(a->enc, NULL, &n, aad, sizeof(aad)) != 1 ||
	    (len && EVP_EncryptUpdate(a->enc, p, &n, p, len) != 1) ||
	    EVP_EncryptFinal_ex(a->enc, p + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, EP_AUTH_TAG_LEN,
				dgram + offsetof(struct ep_hdr, auth_tag)) != 1)
		return -EIO;
	return 0;
}

int ep_aead_open(struct ep_aead *a, uint8_t *dgram, size_t dlen, uint32_t *sender, uint64_t *pn)
{
	uint8_t aad[EP_HDR_LEN], tag[EP_AUTH_TAG_LEN];
	const uint8_t *nonce = dgram + EP_HDR_LEN;
	uint8_t *p = dgram + EP_HDR_LEN + EP_AUTH_NONCE_LEN;
	int n, len = (int)(dlen - EP_HDR_LEN - EP_AUTH_NONCE_LEN);
	uint64_t v = 0;
	uint32_t s = 0;

	if (dlen < EP_HDR_LEN + EP_AUTH_NONCE_LEN || dlen > EP_HDR_LEN + 0xffffu ||
	    !has_auth(dgram))
		return -EINVAL;
	aad_of(dgram, aad);
	memcpy(tag, dgram + offsetof(struct ep_hdr, auth_tag), sizeof(tag));
	if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(a->dec, NULL, &n, aad, sizeof(aad)) != 1 ||
	    (len && EVP_DecryptUpdate(a->dec, p, &n, p, len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(a->dec, p + len, &n) != 1)
		return -EBADMSG;
	for (int i = 0; i < 4; i++)
		s = s << 8 | nonce[i];
	for (int i = 4; i < EP_AUTH_NONCE_LEN; i++)
		v = v << 8 | nonce[i];
	*sender = s;
	*pn = v;
	return 0;
}

int ep_replay_check(const struct ep_replay *r, uint64_t ctr)
{
	if (ctr >= r->top)
		return 0;
	/* Words of 64 counters in a ring of EP_REPLAY_WINDOW / 64: a counter whose word has
	 * left the ring is too old (so the window holds 961 to 1024 counters). */
	if ((r->top - 1) / 64 - ctr / 64 >= EP_REPLAY_WINDOW / 64)
		return -ESTALE;
	return r->bits[(ctr / 64) % (EP_REPLAY_WINDOW / 64)] >> (ctr % 64) & 1 ? -EALREADY : 0;
}

void ep_replay_mark(struct ep_replay *r, uint64_t ctr)
{
	const unsigned int words = EP_REPLAY_WINDOW / 64;

	if (ctr >= r->top) {
		/* The words after the highest counter's, up to ctr's, enter the ring: clear
		 * the slots they take over. */
		uint64_t from = (r->top - 1) / 64, to = ctr / 64;

		if (r->top == 0 || to - from >= words) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t w = from + 1; w <= to; w++)
				r->bits[w % words] = 0;
		}
		r->top = ctr + 1;
	}
	r->bits[(ctr / 64) % words] |= 1ull << (ctr % 64);
}
