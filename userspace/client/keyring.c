// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A session's keys: which seals, which opens, when to enroll again (keyring.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "edgeplane/util.h"
#include "keyring.h"

#define KEY_FILE_MAX (64u << 10)

/* @now_ns + @ms, saturating. */
static uint64_t after_ms(uint64_t now_ns, uint64_t ms)
{
	return ms >= (UINT64_MAX - now_ns) / 1000000 ? UINT64_MAX : now_ns + ms * 1000000;
}

static void key_free(struct ep_ckey *k)
{
	ep_aead_free(k->aead);
	OPENSSL_cleanse(k, sizeof(*k));
}

int ep_keyring_add(struct ep_keyring *r, const struct ep_key_info *k, uint64_t renew_after_ms,
		   uint64_t now_ns, uint64_t now_real_ns)
{
	uint64_t now_ms = now_real_ns / 1000000;
	struct ep_ckey nk = {
		.key_id = k->key_id,
		.tenant = k->tenant,
		.got_ns = now_ns,
		.expires_unix_ms = k->expires_unix_ms,
		.lim = k->lim,
	};

	if (k->revoked)
		return -EKEYREVOKED;
	if (renew_after_ms) {
		/* Enrolled: fresh, its life counted on this host's monotonic clock. */
		nk.expire_ns = after_ms(now_ns, k->expires_unix_ms - k->issued_unix_ms);
		nk.renew_ns = after_ms(now_ns, renew_after_ms);
	} else {
		/* Static: its dates are the wall clock's. */
		uint64_t now_us = now_real_ns / 1000, issued_us = k->issued_unix_ms * 1000;

		if (now_ms >= k->expires_unix_ms)
			return -EKEYEXPIRED;
		/* The counter comes from the clock: behind the issue, it would start at 0 in
		 * every process, and nonces would repeat under the key. */
		if (now_us <= issued_us)
			return -EKEYREJECTED;
		nk.base_ms = (int64_t)(now_ms - k->issued_unix_ms);
		nk.expire_ns = after_ms(now_ns, k->expires_unix_ms - now_ms);
		nk.renew_ns = UINT64_MAX;
		nk.ctr = now_us > issued_us ? now_us - issued_us : 0;
		if (nk.ctr > EP_AUTH_CTR_MASK)
			return -EKEYEXPIRED;
	}
	/* The older key goes on sealing while the nodes learn the fresh one. */
	nk.seal_from_ns = now_ns;
	if (r->n && now_ns < r->keys[0].expire_ns && r->keys[0].ctr <= EP_AUTH_CTR_MASK) {
		uint64_t half = (r->keys[0].expire_ns - now_ns) / 2;

		nk.seal_from_ns += half < EP_KEYRING_SWITCH_MS * 1000000ull
					   ? half
					   : EP_KEYRING_SWITCH_MS * 1000000ull;
	}
	memcpy(nk.name, k->name, sizeof(nk.name));
	memcpy(nk.role, k->role, sizeof(nk.role));
	nk.name[sizeof(nk.name) - 1] = nk.role[sizeof(nk.role) - 1] = '\0';
	nk.aead = ep_aead_new(k->key);
	if (!nk.aead)
		return -ENOMEM;
	if (r->n == EP_KEYRING_MAX)
		key_free(&r->keys[--r->n]);
	memmove(&r->keys[1], &r->keys[0], r->n * sizeof(r->keys[0]));
	r->keys[0] = nk;
	r->n++;
	r->retry_ns = 0;
	r->retry_ms = 0;
	r->now = false;
	return 0;
}

void ep_keyring_expire(struct ep_keyring *r, uint64_t now_ns)
{
	for (unsigned int i = r->n; i-- > 0;) {
		if (now_ns < r->keys[i].expire_ns)
			continue;
		key_free(&r->keys[i]);
		memmove(&r->keys[i], &r->keys[i + 1], (r->n - i - 1) * sizeof(r->keys[0]));
		memset(&r->keys[--r->n], 0, sizeof(r->keys[0]));
	}
}

void ep_keyring_clear(struct ep_keyring *r)
{
	while (r->n)
		key_free(&r->keys[--r->n]);
}

static bool usable(const struct ep_ckey *k, uint64_t now_ns)
{
	return now_ns < k->expire_ns && k->ctr <= EP_AUTH_CTR_MASK;
}

struct ep_ckey *ep_keyring_current(struct ep_keyring *r, uint64_t now_ns)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (usable(&r->keys[i], now_ns) && now_ns >= r->keys[i].seal_from_ns)
			return &r->keys[i];
	return NULL;
}

struct ep_ckey *ep_keyring_find(struct ep_keyring *r, uint16_t key_id)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (r->keys[i].key_id == key_id)
			return &r->keys[i];
	return NULL;
}

uint64_t ep_keyring_next_pn(struct ep_ckey *k, uint64_t now_ns)
{
	int64_t ms = (int64_t)((now_ns - k->got_ns) / 1000000) + k->base_ms;

	return ep_auth_pn(ms > 0 ? (uint64_t)ms / 1000 : 0, k->ctr++);
}

uint64_t ep_keyring_renew_at(const struct ep_keyring *r, uint64_t now_ns)
{
	uint64_t at;

	if (!r->n || !usable(&r->keys[0], now_ns) || r->now)
		at = now_ns; /* nothing to seal with, or asked to */
	else if (r->keys[0].renew_ns == UINT64_MAX)
		return UINT64_MAX; /* a static key */
	else
		at = r->keys[0].renew_ns;
	return at > r->retry_ns ? at : r->retry_ns;
}

bool ep_keyring_renew_due(const struct ep_keyring *r, uint64_t now_ns)
{
	return ep_keyring_renew_at(r, now_ns) <= now_ns;
}

void ep_keyring_renew_failed(struct ep_keyring *r, uint64_t now_ns)
{
	r->retry_ms = !r->retry_ms				   ? EP_KEYRING_RETRY_MS
		      : r->retry_ms >= EP_KEYRING_RETRY_MAX_MS / 2 ? EP_KEYRING_RETRY_MAX_MS
								   : 2 * r->retry_ms;
	r->retry_ns = after_ms(now_ns, r->retry_ms);
}

void ep_keyring_renew_now(struct ep_keyring *r)
{
	r->now = true;
}

int ep_keyring_check_task(const struct ep_ckey *k, uint16_t type, uint8_t prio, uint32_t len)
{
	if (!k->lim.max_priority || !ep_key_allows_type(&k->lim, type))
		return -EPERM; /* max_priority 0: a key for no task (a node's own) */
	if (prio > k->lim.max_priority)
		return -ERANGE;
	if (k->lim.max_task_len && len > k->lim.max_task_len)
		return -EMSGSIZE;
	return 0;
}

int ep_key_file_open(const char *path, struct ep_key_info *k, int *fdp, char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX], why[160];
	json_error_t jerr;
	struct stat st;
	json_t *o = NULL;
	ssize_t n;
	int fd, ret;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		ep_seterr(err, errlen, "key file %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		ep_seterr(err, errlen, "key file %s: %s", path, strerror(errno));
		goto err_close;
	}
	ret = -EACCES;
	if (!S_ISREG(st.st_mode)) {
		ep_seterr(err, errlen, "key file %s: not a regular file", path);
		goto err_close;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ep_seterr(err, errlen,
			  "key file %s: mode %04o lets others than its owner at the key "
			  "(chmod 600)",
			  path, (unsigned int)(st.st_mode & 07777));
		goto err_close;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		ep_seterr(err, errlen, "key file %s: owned by uid %u, neither this user nor root",
			  path, (unsigned int)st.st_uid);
		goto err_close;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		ep_seterr(err, errlen, "key file %s: %s", path,
			  ret == -EBUSY ? "in use by another session (a static key seals for one "
					  "process at a time)"
					: strerror(-ret));
		goto err_close;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 || (size_t)n == sizeof(buf)) {
		ret = n < 0 ? -errno : -EFBIG;
		ep_seterr(err, errlen, "key file %s: %s", path,
			  n < 0 ? strerror(errno) : "larger than 64 KiB");
		goto err_wipe;
	}
	ep_enroll_wiping_json(); /* jansson's copies of the key are wiped too */
	o = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	ret = -EBADMSG;
	if (!o) {
		ep_seterr(err, errlen, "key file %s: line %d: %s", path, jerr.line, jerr.text);
		goto err_wipe;
	}
	if (ep_key_info_parse(o, k, why, sizeof(why))) {
		ep_seterr(err, errlen, "key file %s: %s", path, why);
		goto err_wipe;
	}
	if (k->revoked) {
		ret = -EKEYREVOKED;
		ep_seterr(err, errlen, "key file %s: key %u is revoked", path, k->key_id);
		ep_key_info_wipe(k);
		goto err_wipe;
	}
	json_decref(o);
	OPENSSL_cleanse(buf, sizeof(buf));
	*fdp = fd;
	return 0;

err_wipe:
	json_decref(o);
	OPENSSL_cleanse(buf, sizeof(buf));
err_close:
	close(fd);
	return ret;
}
