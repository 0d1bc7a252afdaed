// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the controller's session keys (control/keystore.c) and of the enrollment
 * policy file (control/roles.c): ids unique among live keys and handed out in turn, so an
 * id is not reused before the key that had it expired; the generation and the deltas a
 * node syncs; revocation by key, by name and by certificate serial; node ids and node
 * keys; the cap that keeps a full sync within its line; load reports authenticated by a
 * node's own key (control/report_auth.c); and a policy file read strictly, each mistake
 * named by file, line and setting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "ep_shared.h"
#include "edgeplane/codec.h"
#include "keystore.h"
#include "registry.h"
#include "report_auth.h"
#include "roles.h"
#include "../lib/tap.h"

#define T0  1796000000000ull /* ms */
#define TTL 3600000ull

static const struct ep_key_limits cam_lim = { .types = { 0x6 },
					      .max_priority = 3,
					      .tasks_per_s = 200,
					      .burst_tasks = 50,
					      .max_task_len = 1 << 20 };

/* Where the devices enrolled from, as the enrollment server hands it over. */
static const uint8_t dev_addr[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };

static struct ep_ks_owner owner(const char *name, const char *serial)
{
	return (struct ep_ks_owner){
		.name = name, .role = "camera", .tenant = 7, .serial = serial, .addr = dev_addr
	};
}

static struct ep_keystore *new_ks(void)
{
	struct ep_keystore *ks = malloc(sizeof(*ks));

	if (!ks || ep_ks_init(ks))
		abort();
	return ks;
}

static void free_ks(struct ep_keystore *ks)
{
	ep_ks_fini(ks);
	free(ks);
}

/* A node's sync, parsed: the reply's fields, and its keys' ids (revoked ones negative). */
struct sync_view {
	int err;
	json_int_t gen, node_id, self;
	bool full;
	int nkeys;
	long ids[64];
	bool keys_ok; /* every key object parses (ep_key_info_from_json) */
};

static struct sync_view sync_as(struct ep_keystore *ks, const char *node, uint64_t since, bool full,
				uint32_t hint, const struct ep_nodeset *used, uint64_t now)
{
	struct ep_ks_sync_req req = { .who = { .name = node, .role = "node", .tenant = 0 },
				      .since = since,
				      .full = full,
				      .ttl_ms = TTL,
				      .id_hint = hint,
				      .ids_used = used ? *used : (struct ep_nodeset){ { 0 } } };
	struct sync_view v = { .keys_ok = true };
	struct ep_key_info k;
	json_error_t jerr;
	bool was_full;
	json_t *r, *e;
	size_t len, i;
	char *line;

	v.err = ep_ks_sync(ks, &req, now, &line, &len, &was_full);
	if (v.err)
		return v;
	if (len < 2 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		v.keys_ok = false;
	r = json_loadb(line, len - 1, 0, &jerr);
	ep_ks_free_reply(line, len);
	v.gen = json_integer_value(json_object_get(r, "gen"));
	v.full = json_is_true(json_object_get(r, "full"));
	v.node_id = json_integer_value(json_object_get(r, "node_id"));
	if (was_full != v.full || !json_is_true(json_object_get(r, "ok")) ||
	    ep_key_info_from_json(json_object_get(r, "self"), &k) || strcmp(k.role, "node"))
		v.keys_ok = false;
	v.self = k.key_id;
	json_array_foreach(json_object_get(r, "keys"), i, e)
	{
		if (ep_key_info_from_json(e, &k))
			v.keys_ok = false;
		if (v.nkeys < 64)
			v.ids[v.nkeys] = k.revoked ? -(long)k.key_id : (long)k.key_id;
		v.nkeys++;
	}
	json_decref(r);
	return v;
}

static void test_ids(void)
{
	struct ep_keystore *ks = new_ks();
	struct ep_ks_owner cam = owner("cam-001", "1001");
	struct ep_key_info a, b, c;

	tap_begin();
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &a), 0);
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &b), 0);
	EXPECT_EQ(a.key_id, 1);
	EXPECT_EQ(b.key_id, 2);
	EXPECT(memcmp(a.key, b.key, EP_AUTH_KEY_LEN));
	EXPECT_EQ(a.expires_unix_ms, T0 + TTL);
	EXPECT(!strcmp(a.name, "cam-001") && !strcmp(a.role, "camera") && a.tenant == 7);
	EXPECT(a.has_addr && !memcmp(a.addr, dev_addr, sizeof(dev_addr)));
	EXPECT(strstr(ks->keys[a.key_id]->json, "\"addr\":\"198.18.0.1\""));
	EXPECT_EQ(a.lim.types[0], 0x6);
	/* Key 1 expires; the next key is 3, not 1: ids go round. */
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, 1000, T0, &c), 0); /* id 3, 1 s */
	EXPECT_EQ(ep_ks_expire(ks, T0 + 1000), 1);
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c), 0);
	EXPECT_EQ(c.key_id, 4);
	/* At the end of the range, the first free id after the cursor: 3 (1, 2 live). */
	ks->next_id = 65535;
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c), 0);
	EXPECT_EQ(c.key_id, 65535);
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c), 0);
	EXPECT_EQ(c.key_id, 3);
	EXPECT_EQ(ks->live, 5);
	free_ks(ks);
	tap_end("key ids: 1, 2, ... in turn; an expired key's id comes back only after the "
		"cursor went round, and a live (or revoked) id never; a device's key carries "
		"the address it enrolled from");

	tap_begin();
	ks = new_ks();
	{
		int err = 0;
		unsigned int n = 0;

		while (!(err = ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c)))
			n++;
		EXPECT_EQ(err, -ENOSPC);
		EXPECT(ks->device_bytes <= EP_KS_MAX_BYTES);
		EXPECT(n > 50000 && n < 65535);
		EXPECT_EQ(ks->live_devices, n);
		/* One expires: room for one. */
		EXPECT_EQ(ep_ks_revoke_key(ks, 17), 0);
		ks->keys[17]->k.expires_unix_ms = T0 + 1;
		EXPECT_EQ(ep_ks_expire(ks, T0 + 1), 1);
		EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c), 0);
		EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &c), -ENOSPC);
		tap_end("the device keys stop at what a full sync reply holds (%u keys, %zu bytes "
			"of %u); an expired key makes room for one",
			n, ks->device_bytes, EP_KS_MAX_BYTES);
	}
	free_ks(ks);
}

static void test_sync(void)
{
	struct ep_keystore *ks = new_ks();
	struct ep_ks_owner cam = owner("cam-001", "1001"), cam2 = owner("cam-002", "1002");
	struct ep_key_info k1, k2;
	struct sync_view v, w;

	tap_begin();
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k1);
	v = sync_as(ks, "node1", 0, false, 0, NULL, T0);
	EXPECT_EQ(v.err, 0);
	EXPECT(v.keys_ok && v.full);
	EXPECT_EQ(v.nkeys, 1);
	EXPECT_EQ(v.ids[0], k1.key_id);
	EXPECT_EQ(v.node_id, 1);
	EXPECT_EQ(v.self, 2); /* the node's own key, not in the list */
	w = sync_as(ks, "node1", (uint64_t)v.gen, false, 0, NULL, T0 + 250);
	EXPECT(w.keys_ok && !w.full);
	EXPECT_EQ(w.nkeys, 0);
	EXPECT_EQ(w.gen, v.gen);
	EXPECT_EQ(w.self, v.self);
	ep_ks_issue(ks, &cam2, &cam_lim, TTL, T0 + 300, &k2);
	w = sync_as(ks, "node1", (uint64_t)v.gen, false, 0, NULL, T0 + 500);
	EXPECT_EQ(w.nkeys, 1);
	EXPECT_EQ(w.ids[0], k2.key_id);
	EXPECT(w.gen > v.gen);
	v = w;
	EXPECT_EQ(ep_ks_revoke_key(ks, k1.key_id), 0);
	EXPECT_EQ(ep_ks_revoke_key(ks, k1.key_id), -EALREADY);
	EXPECT_EQ(ep_ks_revoke_key(ks, 999), -ENOENT);
	w = sync_as(ks, "node1", (uint64_t)v.gen, false, 0, NULL, T0 + 750);
	EXPECT_EQ(w.nkeys, 1);
	EXPECT_EQ(w.ids[0], -(long)k1.key_id);
	v = w;
	/* An expiry bumps the generation and sends nothing: nodes expire keys themselves. */
	EXPECT_EQ(ep_ks_expire(ks, T0 + TTL), 2); /* k1 and node1's own; k2 lives on */
	w = sync_as(ks, "node1", (uint64_t)v.gen, false, 0, NULL, T0 + TTL);
	EXPECT(w.gen > v.gen);
	EXPECT_EQ(w.nkeys, 0);
	EXPECT(w.self != v.self); /* its own key expired too: a new one */
	tap_end("sync: gen 0 gets every device key (not the node keys); then only what changed: "
		"a new key, a revocation (revoked: true); an expiry bumps the generation");

	tap_begin();
	v = sync_as(ks, "node1", 0, false, 0, NULL, T0 + TTL);
	EXPECT(v.full);
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0 + TTL, &k1);
	EXPECT(v.full && v.nkeys == 1);
	w = sync_as(ks, "node1", (uint64_t)v.gen + 1000, false, 0, NULL, T0 + TTL);
	EXPECT(w.full && w.nkeys == 2);
	w = sync_as(ks, "node1", (uint64_t)v.gen, true, 0, NULL, T0 + TTL);
	EXPECT(w.full && w.nkeys == 2);
	tap_end("a generation from the future (another controller's) or a new connection gets "
		"the full set");
	free_ks(ks);
}

static void collect(void *arg, const struct ep_ks_key *e)
{
	long *ids = arg;

	ids[++ids[0]] = e->k.revoked ? -(long)e->k.key_id : (long)e->k.key_id;
}

static void test_changed(void)
{
	struct ep_keystore *ks = new_ks();
	struct ep_ks_owner cam = owner("cam-001", "1001");
	struct ep_key_info k;
	long ids[8] = { 0 };
	uint64_t g;

	tap_begin();
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k); /* 1 */
	sync_as(ks, "node1", 0, true, 0, NULL, T0);   /* 2, a node's */
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k); /* 3 */
	ep_ks_revoke_key(ks, 1);
	g = ep_ks_changed(ks, 0, 1, collect, ids);
	EXPECT_EQ(ids[0], 1);
	EXPECT_EQ(ids[1], 3); /* 1 moved to the end when revoked */
	g = ep_ks_changed(ks, g, 1, collect, ids);
	EXPECT_EQ(ids[0], 2);
	EXPECT_EQ(ids[2], -1);
	EXPECT_EQ(g, ks->gen);
	EXPECT_EQ(ep_ks_changed(ks, g, 8, collect, ids), ks->gen);
	EXPECT_EQ(ids[0], 2); /* nothing since */
	free_ks(ks);
	tap_end("changes since a generation, a few at a time, device keys only (what the "
		"gateway's ep_keys is written from)");
}

static void test_nodes(void)
{
	static struct ep_nodeset used, many;
	struct ep_keystore *ks = new_ks();
	struct sync_view v;
	json_int_t self;

	tap_begin();
	/* The registry holds ids 1..3 and knows "w5" as 5. */
	for (uint32_t id = 1; id <= 3; id++)
		ep_nodeset_add(&used, id);
	ep_nodeset_add(&used, 5);
	EXPECT_EQ(sync_as(ks, "w5", 0, true, 5, &used, T0).node_id, 5);
	EXPECT_EQ(sync_as(ks, "new", 0, true, 0, &used, T0).node_id, 4);
	EXPECT_EQ(sync_as(ks, "new2", 0, true, 0, &used, T0).node_id, 6);
	/* Stable per name, whatever the registry says later. */
	EXPECT_EQ(sync_as(ks, "new", 0, true, 9, NULL, T0).node_id, 4);
	/* A hint another node holds already is not taken twice. */
	EXPECT_EQ(sync_as(ks, "other", 0, true, 5, NULL, T0).node_id, 1);
	tap_end("node ids: the registry's id for the name, else the lowest free; stable per name");

	tap_begin();
	/* Ids past 64 (issue 16): a registry holding 1..4099 leaves 4100 the lowest free
	 * (the keystore's own 4, 5, 6 and 1 are among those). */
	for (uint32_t id = 1; id <= 4099; id++)
		ep_nodeset_add(&many, id);
	EXPECT_EQ(sync_as(ks, "big", 0, true, 0, &many, T0).node_id, 4100);
	tap_end("node ids: the registry's ids past 64 are taken too (4100 after 1..4099)");

	tap_begin();
	v = sync_as(ks, "w5", 0, true, 5, NULL, T0);
	self = v.self;
	EXPECT_EQ(sync_as(ks, "w5", 0, true, 5, NULL, T0 + TTL / 2).self, self);
	v = sync_as(ks, "w5", 0, true, 5, NULL, T0 + TTL * 7 / 10);
	EXPECT(v.self != self);
	EXPECT(ks->keys[self] && !ks->keys[self]->k.revoked); /* valid until it expires */
	EXPECT_EQ(ks->keys[v.self]->node_id, 5);
	EXPECT_EQ(ep_ks_revoke_key(ks, (uint16_t)v.self), 0);
	EXPECT(sync_as(ks, "w5", 0, true, 5, NULL, T0 + TTL * 7 / 10).self != v.self);
	tap_end("a node's own key: the same until its last third, then a new one (the old one "
		"stays valid); a revoked one is replaced at the next sync");
	free_ks(ks);
}

static bool serial_1002(void *arg, const char *serial)
{
	return !strcmp(serial, "1002");
}

static void test_revoke(void)
{
	struct ep_keystore *ks = new_ks();
	struct ep_ks_owner cam = owner("cam-001", "1001"), cam2 = owner("cam-002", "1002");
	struct ep_key_info k;
	uint32_t node_id;

	tap_begin();
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k);
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k);
	ep_ks_issue(ks, &cam2, &cam_lim, TTL, T0, &k);
	EXPECT_EQ(ep_ks_revoke_name(ks, "cam-001"), 2);
	EXPECT(ep_ks_name_revoked(ks, "cam-001"));
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k), -EPERM);
	EXPECT_EQ(ep_ks_lookup(ks, 1, &k, &node_id), 0);
	EXPECT(k.revoked);
	EXPECT_EQ(ep_ks_lookup(ks, 3, &k, &node_id), 0);
	EXPECT(!k.revoked);
	EXPECT_EQ(ep_ks_revoke_name(ks, "cam-001"), 0); /* again: nothing left */
	EXPECT_EQ(ep_ks_revoke_name(ks, "node7"), 0);
	EXPECT_EQ(sync_as(ks, "node7", 0, true, 0, NULL, T0).err, -EPERM);
	EXPECT_EQ(ep_ks_unrevoke_name(ks, "cam-001"), 0);
	EXPECT_EQ(ep_ks_unrevoke_name(ks, "cam-001"), -ENOENT);
	EXPECT_EQ(ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &k), 0);
	EXPECT_EQ(ep_ks_lookup(ks, 1, &k, &node_id), 0);
	EXPECT(k.revoked); /* unrevoking a name gives no key back */
	tap_end("revoke a name: its keys revoked, its enrollments and syncs refused until "
		"unrevoked; its old keys stay revoked");

	tap_begin();
	EXPECT_EQ(ep_ks_revoke_serials(ks, serial_1002, NULL), 1);
	EXPECT_EQ(ep_ks_lookup(ks, 3, &k, &node_id), 0);
	EXPECT(k.revoked);
	EXPECT_EQ(ep_ks_revoke_serials(ks, serial_1002, NULL), 0);
	EXPECT_EQ(ep_ks_lookup(ks, 4, &k, &node_id), 0);
	EXPECT(!k.revoked);
	tap_end("a new CRL revokes the keys issued to the certificates it lists");
	free_ks(ks);
}

/* A LOAD_REPORT for @report_id sealed with key @id of @ks (its material), sender @sender. */
static size_t sealed_report(struct ep_keystore *ks, uint16_t id, uint32_t sender,
			    uint32_t report_id, uint64_t pn, uint8_t *dgram, size_t size)
{
	struct ep_load_report rep = { .node_id = htonl(report_id), .seq = htonl(1) };
	struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT,
			    .priority = EP_PRIO_MAX,
			    .flags = EP_F_AUTH,
			    .auth_key_id = id,
			    .task_id = 1 };
	struct ep_key_info k;
	struct ep_aead *a;
	uint32_t node_id;
	ssize_t len;

	if (ep_ks_lookup(ks, id, &k, &node_id))
		memset(&k, 0x55, sizeof(k)); /* a key the store does not have */
	a = ep_aead_new(k.key);
	len = ep_frag_build(&m, &rep, sizeof(rep), sizeof(rep), 0, dgram, size);
	if (!a || len < 0 || ep_aead_seal(a, sender, pn, dgram, (size_t)len))
		abort();
	ep_aead_free(a);
	return (size_t)len;
}

/* The names metrics and `edgectl status` show, side by side, for a report's outcomes in
 * the registry and in report authentication, each made from its X-macro list (xlist.h):
 * every outcome named, "?" beyond. */
static void test_outcome_names(void)
{
	tap_begin();
	EXPECT(!strcmp(ep_reg_report_name(EP_REG_ACCEPTED), "accepted"));
	EXPECT(!strcmp(ep_reg_report_name(EP_REG_UNKNOWN), "unknown_node"));
	EXPECT(!strcmp(ep_reg_report_name(EP_REG_SEQ_JUMP), "seq_jump"));
	EXPECT_EQ(EP_REG_SEQ_JUMP, EP_REG__COUNT - 1);
	EXPECT(!strcmp(ep_reg_report_name(EP_REG__COUNT), "?"));
	EXPECT(!strcmp(ep_rauth_name(EP_RAUTH_OK), "authenticated"));
	EXPECT(!strcmp(ep_rauth_name(EP_RAUTH_MISSING), "auth_missing"));
	EXPECT(!strcmp(ep_rauth_name(EP_RAUTH_REPLAY), "auth_replay"));
	EXPECT_EQ(EP_RAUTH_REPLAY, EP_RAUTH__COUNT - 1);
	EXPECT(!strcmp(ep_rauth_name(EP_RAUTH__COUNT), "?"));
	for (unsigned int i = 0; i < EP_REG__COUNT || i < EP_RAUTH__COUNT; i++) {
		if (i < EP_REG__COUNT)
			EXPECT(strcmp(ep_reg_report_name(i), "?"));
		if (i < EP_RAUTH__COUNT)
			EXPECT(strcmp(ep_rauth_name(i), "?"));
	}
	tap_end("report outcomes: each of the registry's and report-auth's named, none beyond");
}

#define P0 1796000000000000000ull /* a node's pn: realtime ns */

static void test_report_auth(void)
{
	struct ep_keystore *ks = new_ks();
	struct ep_ks_owner cam = owner("cam-001", "1001");
	uint8_t d[EP_HDR_LEN + EP_AUTH_NONCE_LEN + sizeof(struct ep_load_report)], copy[sizeof(d)];
	struct ep_load_report rep;
	struct ep_key_info dev;
	uint16_t self, kid;
	size_t n;

	tap_begin();
	self = (uint16_t)sync_as(ks, "w5", 0, true, 5, NULL, T0).self;
	ep_ks_issue(ks, &cam, &cam_lim, TTL, T0, &dev);
	n = sealed_report(ks, self, 5, 5, P0, d, sizeof(d));
	memcpy(copy, d, n);
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_OK);
	EXPECT_EQ(kid, self);
	EXPECT_EQ(ep_reg_decode_report(d, n, &rep), 0); /* decrypted in place */
	EXPECT_EQ(ntohl(rep.node_id), 5);
	EXPECT_EQ(ntohl(rep.seq), 1);
	EXPECT_EQ(ep_report_auth(ks, copy, n, T0 + 1, &kid), EP_RAUTH_REPLAY);
	n = sealed_report(ks, self, 5, 5, P0 - 1, d, sizeof(d)); /* reordered: in the window */
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_OK);
	n = sealed_report(ks, self, 5, 5, P0 - EP_REPLAY_WINDOW, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_REPLAY);
	n = sealed_report(ks, self, 5, 5, UINT64_MAX, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_REPLAY);
	n = sealed_report(ks, self, 6, 5, P0 + 1, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_WRONG_SENDER);
	n = sealed_report(ks, self, 5, 6, P0 + 2, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_WRONG_SENDER);
	n = sealed_report(ks, self, 5, 5, P0 + 3, d, sizeof(d));
	d[EP_HDR_LEN + EP_AUTH_NONCE_LEN] ^= 1;
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_BAD_TAG);
	n = sealed_report(ks, self, 5, 5, P0 + 4, d, sizeof(d)); /* the window did not move */
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_OK);
	n = sealed_report(ks, dev.key_id, 5, 5, P0 + 5, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_NOT_NODE_KEY);
	n = sealed_report(ks, 999, 5, 5, P0 + 6, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_UNKNOWN_KEY);
	n = sealed_report(ks, self, 5, 5, P0 + 7, d, sizeof(d));
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + TTL, &kid), EP_RAUTH_EXPIRED);
	EXPECT_EQ(ep_report_auth(NULL, d, n, T0 + 1, &kid), EP_RAUTH_UNKNOWN_KEY);
	ep_ks_revoke_key(ks, self);
	EXPECT_EQ(ep_report_auth(ks, d, n, T0 + 1, &kid), EP_RAUTH_REVOKED);
	{
		struct ep_load_report r = { .node_id = htonl(5) };
		struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT,
				    .priority = EP_PRIO_MAX,
				    .task_id = 1 };
		ssize_t len = ep_frag_build(&m, &r, sizeof(r), sizeof(r), 0, d, sizeof(d));

		EXPECT_EQ(ep_report_auth(ks, d, (size_t)len, T0 + 1, &kid), EP_RAUTH_MISSING);
		EXPECT_EQ(ep_report_auth(NULL, d, (size_t)len, T0 + 1, &kid), EP_RAUTH_PLAIN);
	}
	ep_key_info_wipe(&dev);
	free_ks(ks);
	tap_end("load reports: only the node's own key, its sender and node id, a new pn (a "
		"reordered one within the window): replayed, stale, wrong sender or id, a bad "
		"tag (which moves no window), a device's key, an unknown, expired or revoked "
		"key, or no AUTH with enrollment on are refused by reason");
}

/* --- the policy file --------------------------------------------------------------------- */

static char policy_path[64];

/* Load @text as a policy; the log lines it wrote (stderr) in @log. */
static int load_policy(const char *text, struct ep_roles *rs, char *log, size_t loglen)
{
	char logpath[] = "/tmp/ep-test-keys-log-XXXXXX";
	int fd = mkstemp(logpath), saved = dup(2), ret;
	FILE *f = fopen(policy_path, "w");
	ssize_t n;

	fputs(text, f);
	fclose(f);
	fflush(stderr);
	dup2(fd, 2);
	ret = ep_roles_load(rs, policy_path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(logpath);
	return ret;
}

static void test_policy(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "roles = { cam = { types = [1, 300]; }; };", ":1: types: has an entry that is "
							       "not a task type id" },
		{ "roles = { cam = { types = [1, 1]; }; };", ":1: types: lists type 1 twice" },
		{ "roles = { cam = { types = []; }; };", ":1: types: must be \"*\"" },
		{ "roles = { cam = { types = \"all\"; }; };", ":1: types: must be \"*\"" },
		{ "roles = { cam = { max_priority = 3; }; };", ":1: cam: a role needs types" },
		{ "roles = { cam = { types = \"*\"; max_priority = 9; }; };",
		  ":1: max_priority: 9 is outside 1..5" },
		/* 0 is a key for no task (a node's own), never a device role's. */
		{ "roles = { cam = { types = \"*\"; max_priority = 0; }; };",
		  ":1: max_priority: 0 is outside 1..5" },
		{ "roles = { cam = { types = \"*\"; burst_tasks = 5; }; };",
		  ":1: burst_tasks: a burst needs its rate" },
		{ "roles = { cam = { types = \"*\"; key_ttl_s = 0; }; };", ":1: key_ttl_s: 0 is "
									   "outside" },
		{ "roles = { cam = { types = \"*\"; max_task_len = 0; }; };", ":1: max_task_len" },
		{ "roles = { cam = { types = \"*\"; tasks_per_s = -1; }; };", ":1: tasks_per_s" },
		{ "roles = { cam = { types = \"*\"; rate = 5; }; };", ":1: rate: unknown setting" },
		{ "roles = { node = { types = \"*\"; }; };",
		  ":1: node: \"node\" and \"controller\" "
		  "are not device roles" },
		{ "roles = { controller = { types = \"*\"; }; };", ":1: controller:" },
		{ "roles = { cam = 5; };", ":1: cam: must be a group" },
		{ "roles = { };", ":1: roles: must be a group of roles" },
		{ "role = { cam = { types = \"*\"; }; };", ":1: role: unknown setting" },
		{ "\n\nroles = { cam = { types = [1];\n  max_priority = \"high\"; }; };",
		  ":4: max_priority: must be an integer" },
		{ "roles = { cam = { types = [1] }", ":1: syntax error" },
	};
	struct ep_roles rs;
	char log[4096];
	const struct ep_role *r;
	int fd;

	strcpy(policy_path, "/tmp/ep-test-policy-XXXXXX");
	fd = mkstemp(policy_path);
	close(fd);

	tap_begin();
	EXPECT_EQ(
		load_policy("roles = {\n"
			    "  camera = { types = [1, 2]; max_priority = 3; tasks_per_s = 200;\n"
			    "             burst_tasks = 50; kib_per_s = 20000; burst_kib = 4096;\n"
			    "             max_task_len = 1048576; key_ttl_s = 600; };\n"
			    "  robot = { types = \"*\"; tasks_per_s = 10; };\n"
			    "};\n",
			    &rs, log, sizeof(log)),
		0);
	EXPECT_EQ(rs.n, 2);
	r = ep_roles_find(&rs, "camera");
	EXPECT(r && r->lim.types[0] == 0x6 && !r->lim.all_types && r->lim.max_priority == 3 &&
	       r->lim.tasks_per_s == 200 && r->lim.burst_tasks == 50 && r->lim.kib_per_s == 20000 &&
	       r->lim.burst_kib == 4096 && r->lim.max_task_len == 1048576 && r->key_ttl_s == 600);
	r = ep_roles_find(&rs, "robot");
	EXPECT(r && r->lim.all_types && r->lim.max_priority == EP_PRIO_DEFAULT &&
	       r->lim.tasks_per_s == 10 && r->lim.burst_tasks == 10 && r->lim.kib_per_s == 0 &&
	       r->lim.max_task_len == EP_DEFAULT_MAX_TASK_LEN && r->key_ttl_s == 0);
	EXPECT(!ep_roles_find(&rs, "drone"));
	ep_roles_free(&rs);
	tap_end("a policy with every setting, and one with defaults (priority 3, a burst of "
		"one second's rate, 16 MiB tasks, enroll.key_ttl_s)");

	tap_begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[160];

		snprintf(want, sizeof(want), "%s%s", policy_path, bad[i].want);
		if (load_policy(bad[i].text, &rs, log, sizeof(log)) != -EINVAL || rs.n) {
			tap_diag("accepted: %s", bad[i].text);
			tap_case_failed = 1;
		}
		if (!strstr(log, want)) {
			tap_diag("'%s': the log does not say '%s': %s", bad[i].text, want, log);
			tap_case_failed = 1;
		}
	}
	EXPECT_EQ(ep_roles_load(&rs, "/nonexistent/policy.conf"), -EINVAL);
	tap_end("%zu bad policies are refused, each naming the file, the line and the setting",
		sizeof(bad) / sizeof(bad[0]));
	unlink(policy_path);
}

int main(void)
{
	test_ids();
	test_sync();
	test_changed();
	test_nodes();
	test_revoke();
	test_report_auth();
	test_outcome_names();
	test_policy();
	return tap_finish();
}
