// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's side of enrollment (docs/protocol.md 7.5) without TLS: each input line
 * is a request as a peer sends it, to ep_enroll_parse_request(), then answered as
 * control/enroll_server.c does from a key store (control/keystore.c): an enroll issues a
 * device's key, a sync answers a node (one of two names, a new connection or not) from the
 * generation it gives. Lines starting with '#' are the operator and the clock: "#r ID"
 * revokes a key, "#n NAME" / "#u NAME" revoke and unrevoke a name, "#t MS" lets time pass
 * (keys expire). Up to 32 lines.
 *
 * Checks: a request is accepted only as enroll or sync, and a refusal's text is printable;
 * the store stays consistent (ids, the generation order, counts and bytes); a sync reply is
 * one JSON line whose every key object parses, whose generation is the store's, holds only
 * device keys, and, unless full, only keys changed since the generation asked.
 */
#include <errno.h>
#include <stdio.h>

#include "enroll_server.h"
#include "fuzz.h"
#include "keystore.h"

#define MAX_LINES 32
#define T0	  1796000000000ull

static const struct ep_key_limits lim = { .types = { 0x6 }, .max_priority = 3 };

static void check_store(struct ep_keystore *ks)
{
	uint32_t n = 0, devices = 0;
	size_t bytes = 0;
	uint64_t gen = 0;

	for (const struct ep_ks_key *e = ks->first; e; e = e->next) {
		FZ_CHECK(e->gen > gen && e->gen <= ks->gen);
		gen = e->gen;
		FZ_CHECK(ks->keys[e->k.key_id] == e);
		FZ_CHECK(e->next ? e->next->prev == e : ks->last == e);
		FZ_CHECK(e->json && e->json_len == strlen(e->json));
		n++;
		if (!e->node_id) {
			devices++;
			bytes += e->json_len;
		}
	}
	FZ_CHECK(n == ks->live && devices == ks->live_devices && bytes == ks->device_bytes);
	FZ_CHECK(bytes <= EP_KS_MAX_BYTES);
	for (uint32_t id = 1, seen = 0; id < EP_KS_IDS && seen < n; id++)
		if (ks->keys[id]) {
			FZ_CHECK(ks->keys[id]->k.key_id == id);
			seen++;
		}
}

static void check_sync(struct ep_keystore *ks, const char *line, size_t len, uint64_t since,
		       bool full)
{
	struct ep_key_info k;
	json_error_t jerr;
	json_t *r, *keys, *v;
	size_t i;

	FZ_CHECK(len >= 2 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
	r = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, &jerr);
	FZ_CHECK(r && json_is_true(json_object_get(r, "ok")));
	FZ_CHECK((uint64_t)json_integer_value(json_object_get(r, "gen")) == ks->gen);
	FZ_CHECK(json_is_true(json_object_get(r, "full")) == full);
	FZ_CHECK(!ep_key_info_from_json(json_object_get(r, "self"), &k));
	FZ_CHECK(!strcmp(k.role, "node") && !k.revoked);
	keys = json_object_get(r, "keys");
	FZ_CHECK(json_is_array(keys));
	json_array_foreach(keys, i, v)
	{
		const struct ep_ks_key *e;

		FZ_CHECK(!ep_key_info_from_json(v, &k));
		e = ks->keys[k.key_id];
		FZ_CHECK(e && !e->node_id && e->k.revoked == k.revoked);
		FZ_CHECK(full || e->gen > since);
	}
	if (full)
		FZ_CHECK(json_array_size(keys) == ks->live_devices);
	json_decref(r);
}

static void op(struct ep_keystore *ks, const char *s, size_t len, uint64_t *now)
{
	char buf[80];
	unsigned long v;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "#r %lu", &v) == 1)
		ep_ks_revoke_key(ks, (uint16_t)v);
	else if (sscanf(buf, "#t %lu", &v) == 1)
		ep_ks_expire(ks, *now += v % 10000000);
	else if (!strncmp(buf, "#n ", 3) && ep_enroll_name_ok(buf + 3, EP_KEY_NAME_MAX))
		ep_ks_revoke_name(ks, buf + 3);
	else if (!strncmp(buf, "#u ", 3))
		ep_ks_unrevoke_name(ks, buf + 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ep_keystore ks;
	const char *p = (const char *)data, *end = p + size;
	uint64_t now = T0;

	if (ep_ks_init(&ks))
		return 0;
	for (unsigned int i = 0; i < MAX_LINES && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct ep_enroll_req req;
		char why[120];

		if (len && p[0] == '#') {
			op(&ks, p, len, &now);
		} else if (ep_enroll_parse_request(p, len, &req, why, sizeof(why))) {
			FZ_CHECK(why[0]);
			for (const char *c = why; *c; c++)
				FZ_CHECK(*c >= 0x20 && *c < 0x7f);
		} else if (req.op == EP_ENROLL_OP_ENROLL) {
			struct ep_ks_owner who = { .name = i & 1 ? "cam-1" : "cam-2",
						   .role = "camera",
						   .tenant = 7,
						   .serial = "1001" };
			struct ep_key_info k;
			int err = ep_ks_issue(&ks, &who, &lim, 3600000, now, &k);

			FZ_CHECK(!err || err == -EPERM || err == -ENOSPC);
			FZ_CHECK(err || (k.key_id && k.expires_unix_ms == now + 3600000));
		} else {
			struct ep_ks_sync_req r = {
				.who = { .name = i & 2 ? "node1" : "cam-1", .role = "node" },
				.since = req.gen,
				.full = i & 4,
				.ttl_ms = 600000,
				.id_hint = i % 70,
			};

			for (uint32_t b = 0; b < 64;
			     b++) /* some ids taken, as the fuzz input says */
				if (((uint64_t)i * 0x9e3779b97f4a7c15ull) >> b & 1)
					ep_nodeset_add(&r.ids_used, b * 67 % EP_GW_MAX_NODES);
			char *reply;
			size_t rlen;
			bool full;
			int err = ep_ks_sync(&ks, &r, now, &reply, &rlen, &full);

			FZ_CHECK(!err || err == -EPERM || err == -ENOSPC);
			if (!err) {
				FZ_CHECK(full == (r.full || !req.gen || req.gen > ks.gen));
				check_sync(&ks, reply, rlen, req.gen, full);
				ep_ks_free_reply(reply, rlen);
			}
		}
		check_store(&ks);
		p += len + 1;
	}
	ep_ks_fini(&ks);
	return 0;
}
