// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "keystore.h"

int ep_ks_init(struct ep_keystore *ks)
{
	memset(ks, 0, sizeof(*ks));
	ks->next_id = 1;
	return -pthread_mutex_init(&ks->lock, NULL);
}

static void free_key(struct ep_ks_key *e)
{
	if (e->json) {
		OPENSSL_cleanse(e->json, e->json_len);
		free(e->json);
	}
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

void ep_ks_fini(struct ep_keystore *ks)
{
	for (uint32_t id = 1; id < EP_KS_IDS; id++)
		if (ks->keys[id])
			free_key(ks->keys[id]);
	free(ks->denied);
	free(ks->nodes);
	pthread_mutex_destroy(&ks->lock);
	memset(ks, 0, sizeof(*ks));
}

/* --- the generation order -------------------------------------------------------------------- */

static void unlink_key(struct ep_keystore *ks, struct ep_ks_key *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		ks->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		ks->last = e->prev;
	e->prev = e->next = NULL;
}

/* @e changed (new, revoked): it takes the next generation and goes to the end. */
static void touch(struct ep_keystore *ks, struct ep_ks_key *e, bool linked)
{
	if (linked)
		unlink_key(ks, e);
	e->gen = ++ks->gen;
	e->prev = ks->last;
	if (ks->last)
		ks->last->next = e;
	else
		ks->first = e;
	ks->last = e;
}

/* Write @e's key object (the form a sync reply carries). */
static int render(struct ep_ks_key *e)
{
	json_t *o = ep_key_info_to_json(&e->k);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!s)
		return -ENOMEM;
	if (e->json) {
		OPENSSL_cleanse(e->json, e->json_len);
		free(e->json);
	}
	e->json = s;
	e->json_len = strlen(s);
	return 0;
}

static void remove_key(struct ep_keystore *ks, struct ep_ks_key *e)
{
	unlink_key(ks, e);
	ks->keys[e->k.key_id] = NULL;
	ks->live--;
	if (!e->node_id) {
		ks->live_devices--;
		ks->device_bytes -= e->json_len;
	}
	free_key(e);
}

static int revoke(struct ep_keystore *ks, struct ep_ks_key *e)
{
	size_t old = e->json_len;
	int err;

	e->k.revoked = true;
	err = render(e);
	if (err)
		return err;
	if (!e->node_id)
		ks->device_bytes += e->json_len - old;
	touch(ks, e, true);
	ks->revoked++;
	return 0;
}

/* --- issuing -----------------------------------------------------------------------------------
 */

static uint16_t free_id(struct ep_keystore *ks)
{
	for (uint32_t i = 1; i < EP_KS_IDS; i++) {
		uint32_t id = ks->next_id;

		ks->next_id = id % (EP_KS_IDS - 1) + 1;
		if (!ks->keys[id])
			return (uint16_t)id;
	}
	return 0;
}

static bool denied(struct ep_keystore *ks, const char *name)
{
	for (unsigned int i = 0; i < ks->ndenied; i++)
		if (!strcmp(ks->denied[i], name))
			return true;
	return false;
}

static int issue(struct ep_keystore *ks, const struct ep_ks_owner *who,
		 const struct ep_key_limits *lim, uint64_t ttl_ms, uint64_t now_ms,
		 uint32_t node_id, struct ep_ks_key **out)
{
	struct ep_ks_key *e;
	uint16_t id;

	if (denied(ks, who->name))
		return -EPERM;
	id = free_id(ks);
	if (!id)
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (RAND_bytes(e->k.key, EP_AUTH_KEY_LEN) != 1) {
		free_key(e);
		return -EIO;
	}
	e->k.key_id = id;
	e->k.issued_unix_ms = now_ms;
	e->k.expires_unix_ms = now_ms + ttl_ms;
	e->k.tenant = who->tenant;
	snprintf(e->k.name, sizeof(e->k.name), "%s", who->name);
	snprintf(e->k.role, sizeof(e->k.role), "%s", who->role);
	if (lim)
		e->k.lim = *lim;
	if (who->addr) {
		memcpy(e->k.addr, who->addr, sizeof(e->k.addr));
		e->k.has_addr = true;
	}
	e->node_id = node_id;
	snprintf(e->serial, sizeof(e->serial), "%s", who->serial ? who->serial : "");
	if (render(e)) {
		free_key(e);
		return -ENOMEM;
	}
	if (!node_id && ks->device_bytes + e->json_len > EP_KS_MAX_BYTES) {
		free_key(e);
		return -ENOSPC;
	}
	ks->keys[id] = e;
	touch(ks, e, false);
	ks->live++;
	if (!node_id) {
		ks->live_devices++;
		ks->device_bytes += e->json_len;
	}
	ks->issued++;
	*out = e;
	return 0;
}

int ep_ks_issue(struct ep_keystore *ks, const struct ep_ks_owner *who,
		const struct ep_key_limits *lim, uint64_t ttl_ms, uint64_t now_ms,
		struct ep_key_info *out)
{
	struct ep_ks_key *e;
	int err;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&ks->lock);
	err = issue(ks, who, lim, ttl_ms, now_ms, 0, &e);
	if (!err)
		*out = e->k;
	pthread_mutex_unlock(&ks->lock);
	return err;
}

/* --- nodes ------------------------------------------------------------------------------------ */

static struct ep_ks_node *node_by_name(struct ep_keystore *ks, const char *name)
{
	for (unsigned int i = 0; i < ks->nnodes; i++)
		if (!strcmp(ks->nodes[i].name, name))
			return &ks->nodes[i];
	return NULL;
}

static bool node_id_taken(struct ep_keystore *ks, uint32_t id)
{
	for (unsigned int i = 0; i < ks->nnodes; i++)
		if (ks->nodes[i].id == id)
			return true;
	return false;
}

/* The node of @req's name, with an id that stays its own while the controller runs. */
static struct ep_ks_node *get_node(struct ep_keystore *ks, const struct ep_ks_sync_req *req,
				   int *err)
{
	struct ep_ks_node *n = node_by_name(ks, req->who.name);
	uint32_t id = 0;

	if (n)
		return n;
	if (req->id_hint && !node_id_taken(ks, req->id_hint)) {
		id = req->id_hint;
	} else {
		for (uint32_t i = 1; i && !id; i++)
			if (!ep_nodeset_has(&req->ids_used, i) && !node_id_taken(ks, i))
				id = i;
	}
	if (!id) {
		*err = -ENOSPC;
		return NULL;
	}
	if (ks->nnodes == ks->nodes_cap) {
		unsigned int cap = ks->nodes_cap ? 2 * ks->nodes_cap : 16;
		struct ep_ks_node *nn = realloc(ks->nodes, cap * sizeof(*nn));

		if (!nn) {
			*err = -ENOMEM;
			return NULL;
		}
		ks->nodes = nn;
		ks->nodes_cap = cap;
	}
	n = &ks->nodes[ks->nnodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", req->who.name);
	n->id = id;
	return n;
}

/* The node's own key: its newest, unless that one is gone, revoked, or in the last third
 * of its life (then a new one; the old one stays valid until it expires). */
static int node_key(struct ep_keystore *ks, struct ep_ks_node *n, const struct ep_ks_sync_req *req,
		    uint64_t now_ms, struct ep_ks_key **out)
{
	static const struct ep_key_limits none = { 0 };
	struct ep_ks_key *e = n->self ? ks->keys[n->self] : NULL;
	int err;

	if (e && e->node_id == n->id && !e->k.revoked &&
	    e->k.expires_unix_ms > now_ms + req->ttl_ms / 3) {
		*out = e;
		return 0;
	}
	err = issue(ks, &req->who, &none, req->ttl_ms, now_ms, n->id, &e);
	if (err)
		return err;
	n->self = e->k.key_id;
	*out = e;
	return 0;
}

/* The first key changed after generation @since, or NULL. */
static struct ep_ks_key *first_since(struct ep_keystore *ks, uint64_t since)
{
	struct ep_ks_key *e = ks->last;

	while (e && e->prev && e->prev->gen > since)
		e = e->prev;
	return e && e->gen > since ? e : NULL;
}

/* Append @n bytes to the reply being built. */
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

int ep_ks_sync(struct ep_keystore *ks, const struct ep_ks_sync_req *req, uint64_t now_ms,
	       char **out, size_t *len, bool *was_full)
{
	struct ep_ks_key *self, *from, *e;
	struct ep_ks_node *n;
	char head[160];
	size_t total, hn;
	bool full;
	char *p;
	int err = 0;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&ks->lock);
	if (denied(ks, req->who.name)) {
		err = -EPERM;
		goto out;
	}
	n = get_node(ks, req, &err);
	if (!n)
		goto out;
	err = node_key(ks, n, req, now_ms, &self);
	if (err)
		goto out;

	full = req->full || !req->since || req->since > ks->gen;
	from = full ? ks->first : first_since(ks, req->since);
	hn = (size_t)snprintf(head, sizeof(head),
			      "{\"ok\":true,\"gen\":%llu,\"full\":%s,\"node_id\":%u,\"self\":",
			      (unsigned long long)ks->gen, full ? "true" : "false", n->id);
	total = hn + self->json_len + sizeof(",\"keys\":[]}\n");
	for (e = from; e; e = e->next)
		if (!e->node_id)
			total += e->json_len + 1;
	p = malloc(total);
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	*out = p;
	p = put(p, head, hn);
	p = put(p, self->json, self->json_len);
	p = put(p, ",\"keys\":[", 9);
	for (e = from; e; e = e->next) {
		if (e->node_id)
			continue;
		if (p[-1] != '[')
			*p++ = ',';
		p = put(p, e->json, e->json_len);
	}
	p = put(p, "]}\n", 3);
	*len = (size_t)(p - *out);
	*was_full = full;
out:
	pthread_mutex_unlock(&ks->lock);
	return err;
}

void ep_ks_free_reply(char *reply, size_t len)
{
	if (!reply)
		return;
	OPENSSL_cleanse(reply, len);
	free(reply);
}

/* --- revocation and expiry ---------------------------------------------------------------------
 */

int ep_ks_revoke_key(struct ep_keystore *ks, uint16_t id)
{
	struct ep_ks_key *e;
	int err;

	pthread_mutex_lock(&ks->lock);
	e = ks->keys[id];
	err = !e ? -ENOENT : e->k.revoked ? -EALREADY : revoke(ks, e);
	pthread_mutex_unlock(&ks->lock);
	return err;
}

int ep_ks_revoke_name(struct ep_keystore *ks, const char *name)
{
	struct ep_ks_key *e, *next, *stop;
	int n = 0, err = 0;

	pthread_mutex_lock(&ks->lock);
	if (!denied(ks, name)) {
		if (ks->ndenied == ks->denied_cap) {
			unsigned int cap = ks->denied_cap ? 2 * ks->denied_cap : 16;
			char(*nd)[EP_KEY_NAME_MAX] = realloc(ks->denied, cap * sizeof(*nd));

			if (!nd) {
				err = -ENOMEM;
				goto out;
			}
			ks->denied = nd;
			ks->denied_cap = cap;
		}
		snprintf(ks->denied[ks->ndenied++], EP_KEY_NAME_MAX, "%s", name);
	}
	/* revoke() moves a key to the end: walk up to the last one there was before. */
	stop = ks->last;
	for (e = ks->first; e; e = next) {
		bool at_stop = e == stop;

		next = e->next;
		if (!e->k.revoked && !strcmp(e->k.name, name)) {
			err = revoke(ks, e);
			if (err)
				goto out;
			n++;
		}
		if (at_stop)
			break;
	}
out:
	pthread_mutex_unlock(&ks->lock);
	return err ? err : n;
}

int ep_ks_unrevoke_name(struct ep_keystore *ks, const char *name)
{
	int err = -ENOENT;

	pthread_mutex_lock(&ks->lock);
	for (unsigned int i = 0; i < ks->ndenied; i++) {
		if (strcmp(ks->denied[i], name))
			continue;
		memmove(ks->denied[i], ks->denied[i + 1],
			(ks->ndenied - i - 1) * sizeof(ks->denied[0]));
		ks->ndenied--;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&ks->lock);
	return err;
}

bool ep_ks_name_revoked(struct ep_keystore *ks, const char *name)
{
	bool r;

	pthread_mutex_lock(&ks->lock);
	r = denied(ks, name);
	pthread_mutex_unlock(&ks->lock);
	return r;
}

int ep_ks_revoke_serials(struct ep_keystore *ks, bool (*is_revoked)(void *arg, const char *serial),
			 void *arg)
{
	int n = 0;

	pthread_mutex_lock(&ks->lock);
	for (uint32_t id = 1; id < EP_KS_IDS; id++) {
		struct ep_ks_key *e = ks->keys[id];

		if (e && !e->k.revoked && e->serial[0] && is_revoked(arg, e->serial) &&
		    !revoke(ks, e))
			n++;
	}
	pthread_mutex_unlock(&ks->lock);
	return n;
}

int ep_ks_expire(struct ep_keystore *ks, uint64_t now_ms)
{
	struct ep_ks_key *e, *next;
	int n = 0;

	pthread_mutex_lock(&ks->lock);
	for (e = ks->first; e; e = next) {
		next = e->next;
		if (e->k.expires_unix_ms <= now_ms) {
			remove_key(ks, e);
			n++;
		}
	}
	if (n) {
		ks->gen++;
		ks->expired += (uint64_t)n;
	}
	pthread_mutex_unlock(&ks->lock);
	return n;
}

int ep_ks_lookup(struct ep_keystore *ks, uint16_t id, struct ep_key_info *k, uint32_t *node_id)
{
	int err = -ENOENT;

	pthread_mutex_lock(&ks->lock);
	if (ks->keys[id]) {
		*k = ks->keys[id]->k;
		*node_id = ks->keys[id]->node_id;
		err = 0;
	}
	pthread_mutex_unlock(&ks->lock);
	return err;
}

int ep_ks_replay(struct ep_keystore *ks, uint16_t id, uint64_t issued_ms, uint64_t pn)
{
	struct ep_ks_key *e;
	int err = -ENOENT;

	if (pn == UINT64_MAX) /* ep_replay's top is pn + 1 */
		return -ESTALE;
	pthread_mutex_lock(&ks->lock);
	e = ks->keys[id];
	if (e && e->k.issued_unix_ms == issued_ms) {
		err = ep_replay_check(&e->replay, pn);
		if (!err)
			ep_replay_mark(&e->replay, pn);
	}
	pthread_mutex_unlock(&ks->lock);
	return err;
}

uint64_t ep_ks_changed(struct ep_keystore *ks, uint64_t since, unsigned int max,
		       void (*fn)(void *arg, const struct ep_ks_key *key), void *arg)
{
	struct ep_ks_key *e;
	unsigned int n = 0;
	uint64_t next;

	pthread_mutex_lock(&ks->lock);
	for (e = first_since(ks, since); e && n < max; e = e->next) {
		if (e->node_id)
			continue;
		fn(arg, e);
		n++;
	}
	next = e && e->prev ? e->prev->gen : ks->gen;
	pthread_mutex_unlock(&ks->lock);
	return next;
}

void ep_ks_foreach(struct ep_keystore *ks, void (*fn)(void *arg, const struct ep_ks_key *key),
		   void *arg)
{
	pthread_mutex_lock(&ks->lock);
	for (uint32_t id = 1; id < EP_KS_IDS; id++)
		if (ks->keys[id])
			fn(arg, ks->keys[id]);
	pthread_mutex_unlock(&ks->lock);
}

void ep_ks_foreach_denied(struct ep_keystore *ks, void (*fn)(void *arg, const char *name),
			  void *arg)
{
	pthread_mutex_lock(&ks->lock);
	for (unsigned int i = 0; i < ks->ndenied; i++)
		fn(arg, ks->denied[i]);
	pthread_mutex_unlock(&ks->lock);
}
