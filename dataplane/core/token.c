// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/token.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

#define SLOTS 4 /* epoch keys held: the window of 3, and one being replaced */
#define CACHE_SLOTS                                                          \
	1024	   /* verified tokens remembered, direct-mapped by client: a \
		    * camera fleet behind one worker mostly hits (48 KiB) */
#define MSG_LEN 20 /* addr[16] || be16(port) || be16(key id) */

/* What a verified token is remembered by: compared as a whole. */
struct token_key {
	uint8_t addr[16];
	uint16_t port;
	uint16_t key_id;
	uint8_t tag[EP_AUTH_TAG_LEN];
};

struct cache_entry {
	struct token_key k;
	uint64_t epoch;
	bool used;
};

struct slot {
	uint64_t epoch;
	bool ready;
	EVP_MAC_CTX *ctx; /* keyed with K_epoch */
};

struct ep_token {
	const struct ep_token_master *m;
	EVP_MAC *mac;
	EVP_MAC_CTX *master; /* keyed with the master secret: derives the epoch keys */
	struct slot slot[SLOTS];
	struct cache_entry cache[CACHE_SLOTS];
	struct ep_token_stats st;
};

static OSSL_PARAM sha256_params[] = {
	OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", sizeof("SHA256") - 1),
	OSSL_PARAM_END,
};

/* --- the master secret -------------------------------------------------------------- */

int ep_token_master_load(struct ep_token_master *m, const char *path, uint32_t period_s)
{
	int err;

	if (!period_s)
		return -EINVAL;
	err = ep_read_secret("validation.secret_file", path, m->key, sizeof(m->key));
	if (err)
		return err;
	m->period_s = period_s;
	return 0;
}

int ep_token_master_random(struct ep_token_master *m, uint32_t period_s)
{
	if (!period_s)
		return -EINVAL;
	if (getrandom(m->key, sizeof(m->key), 0) != (ssize_t)sizeof(m->key))
		return -errno ?: -EIO;
	m->period_s = period_s;
	return 0;
}

/* --- computing tokens --------------------------------------------------------------- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void epoch_label(uint64_t epoch, uint8_t out[sizeof(EP_TOKEN_LABEL) - 1 + 4])
{
	uint32_t e = (uint32_t)epoch;

	memcpy(out, EP_TOKEN_LABEL, sizeof(EP_TOKEN_LABEL) - 1);
	out += sizeof(EP_TOKEN_LABEL) - 1;
	out[0] = (uint8_t)(e >> 24);
	out[1] = (uint8_t)(e >> 16);
	out[2] = (uint8_t)(e >> 8);
	out[3] = (uint8_t)e;
}

static void token_msg(const uint8_t addr[16], uint16_t port, uint16_t key_id, uint8_t msg[MSG_LEN])
{
	memcpy(msg, addr, 16);
	put_be16(msg + 16, port);
	put_be16(msg + 18, key_id);
}

int ep_token_compute(const struct ep_token_master *m, uint64_t epoch, const uint8_t addr[16],
		     uint16_t port, uint16_t *key_id, uint8_t tag[EP_AUTH_TAG_LEN])
{
	uint8_t label[sizeof(EP_TOKEN_LABEL) - 1 + 4], k[32], msg[MSG_LEN], mac[32];
	size_t n;
	int err = 0;

	epoch_label(epoch, label);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, m->key, sizeof(m->key), label,
		       sizeof(label), k, sizeof(k), &n) ||
	    n != sizeof(k)) {
		err = -EIO;
		goto out;
	}
	*key_id = (uint16_t)epoch;
	token_msg(addr, port, *key_id, msg);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k, sizeof(k), msg, sizeof(msg), mac,
		       sizeof(mac), &n) ||
	    n != sizeof(mac)) {
		err = -EIO;
		goto out;
	}
	memcpy(tag, mac, EP_AUTH_TAG_LEN);
out:
	OPENSSL_cleanse(k, sizeof(k));
	return err;
}

/* HMAC of @len bytes with the key @ctx already holds. */
static bool mac_once(EVP_MAC_CTX *ctx, const uint8_t *data, size_t len, uint8_t out[32])
{
	size_t n;

	return EVP_MAC_init(ctx, NULL, 0, NULL) && EVP_MAC_update(ctx, data, len) &&
	       EVP_MAC_final(ctx, out, &n, 32) && n == 32;
}

/* The context keyed with K_@epoch, deriving the key if this slot held another epoch. */
static EVP_MAC_CTX *epoch_ctx(struct ep_token *t, uint64_t epoch)
{
	struct slot *s = &t->slot[epoch % SLOTS];
	uint8_t label[sizeof(EP_TOKEN_LABEL) - 1 + 4], k[32];
	bool ok;

	if (s->ready && s->epoch == epoch)
		return s->ctx;
	epoch_label(epoch, label);
	ok = mac_once(t->master, label, sizeof(label), k) &&
	     EVP_MAC_init(s->ctx, k, sizeof(k), sha256_params);
	OPENSSL_cleanse(k, sizeof(k));
	s->ready = ok;
	s->epoch = epoch;
	return ok ? s->ctx : NULL;
}

static bool tag_of(struct ep_token *t, uint64_t epoch, const uint8_t addr[16], uint16_t port,
		   uint8_t tag[EP_AUTH_TAG_LEN])
{
	EVP_MAC_CTX *ctx = epoch_ctx(t, epoch);
	uint8_t msg[MSG_LEN], mac[32];

	if (!ctx)
		return false;
	token_msg(addr, port, (uint16_t)epoch, msg);
	if (!mac_once(ctx, msg, sizeof(msg), mac))
		return false;
	t->st.macs++;
	memcpy(tag, mac, EP_AUTH_TAG_LEN);
	return true;
}

int ep_token_issue(struct ep_token *t, const uint8_t addr[16], uint16_t port, uint64_t unix_s,
		   uint16_t *key_id, uint8_t tag[EP_AUTH_TAG_LEN])
{
	uint64_t e = ep_token_epoch(t->m, unix_s);

	*key_id = (uint16_t)e;
	return tag_of(t, e, addr, port, tag) ? 0 : -EIO;
}

static struct cache_entry *cache_slot(struct ep_token *t, const uint8_t addr[16], uint16_t port)
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return &t->cache[ep_mix64(a ^ ep_mix64(b ^ port)) % CACHE_SLOTS];
}

bool ep_token_verify(struct ep_token *t, const uint8_t addr[16], uint16_t port, uint16_t key_id,
		     const uint8_t tag[EP_AUTH_TAG_LEN], uint64_t unix_s)
{
	uint64_t now = ep_token_epoch(t->m, unix_s), e;
	struct cache_entry *c;
	uint8_t want[EP_AUTH_TAG_LEN];

	/* The one epoch of the window with these low 16 bits, if any. */
	if (key_id == (uint16_t)now)
		e = now;
	else if (key_id == (uint16_t)(now + 1))
		e = now + 1;
	else if (now && key_id == (uint16_t)(now - 1))
		e = now - 1;
	else
		return false;

	c = cache_slot(t, addr, port);
	if (c->used && c->epoch == e && c->k.port == port && c->k.key_id == key_id &&
	    !memcmp(c->k.addr, addr, 16) && !CRYPTO_memcmp(c->k.tag, tag, EP_AUTH_TAG_LEN)) {
		t->st.cache_hits++;
		return true;
	}
	if (!tag_of(t, e, addr, port, want) || CRYPTO_memcmp(want, tag, EP_AUTH_TAG_LEN))
		return false;
	memcpy(c->k.addr, addr, 16);
	c->k.port = port;
	c->k.key_id = key_id;
	memcpy(c->k.tag, tag, EP_AUTH_TAG_LEN);
	c->epoch = e;
	c->used = true;
	return true;
}

void ep_token_get_stats(const struct ep_token *t, struct ep_token_stats *st)
{
	*st = t->st;
}

/* --- life cycle --------------------------------------------------------------------- */

struct ep_token *ep_token_new(const struct ep_token_master *m)
{
	struct ep_token *t = calloc(1, sizeof(*t));
	int err = -ENOMEM;

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->m = m;
	t->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!t->mac)
		goto err_free;
	t->master = EVP_MAC_CTX_new(t->mac);
	if (!t->master)
		goto err_free;
	for (int i = 0; i < SLOTS; i++)
		if (!(t->slot[i].ctx = EVP_MAC_CTX_new(t->mac)))
			goto err_free;
	if (!EVP_MAC_init(t->master, m->key, sizeof(m->key), sha256_params)) {
		err = -EIO;
		goto err_free;
	}
	return t;

err_free:
	ep_token_free(t);
	errno = -err;
	return NULL;
}

void ep_token_free(struct ep_token *t)
{
	if (!t)
		return;
	for (int i = 0; i < SLOTS; i++)
		EVP_MAC_CTX_free(t->slot[i].ctx);
	EVP_MAC_CTX_free(t->master);
	EVP_MAC_free(t->mac);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}
