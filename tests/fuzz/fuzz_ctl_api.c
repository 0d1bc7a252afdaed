// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's JSON API (control/api.c), which edgectl speaks over the controller's
 * Unix socket: each message is parsed by jansson (json_loadb, as serve_peer() does) and
 * handed to ep_ctl_api(). The input is up to 16 requests, one per line, run in order
 * against one controller (so that node.add, policy.set and the rest meet each other's
 * state), each by an admin peer; the first also by a peer that may only read. At the
 * end the views (`edgectl nodes`, status, policy, /metrics) are built from what is left.
 * The controller has session keys (enrollment): a device's, a node's, and a name refused,
 * for keys, key.revoke, name.revoke and name.unrevoke; no answer ever holds a key's
 * material.
 */
#include "fuzz_ctl.h"
#include "keystore.h"

#define MAX_REQUESTS 16

/* Two keys and a revoked name; @hex gets each key's material as hex. */
static void fz_keys(struct ep_keystore *ks, char hex[2][2 * EP_AUTH_KEY_LEN + 1])
{
	struct ep_ks_owner cam = { .name = "cam-001", .role = "camera", .tenant = 7 };
	struct ep_ks_sync_req node = { .who = { .name = "node1", .role = "node" },
				       .ttl_ms = 3600000 };
	struct ep_key_limits lim = { .all_types = true, .max_priority = 3 };
	struct ep_key_info k;
	uint32_t node_id;
	char *reply;
	size_t len;
	bool full;

	FZ_CHECK(!ep_ks_init(ks));
	FZ_CHECK(!ep_ks_issue(ks, &cam, &lim, 3600000, 1796000000000ull, &k));
	FZ_CHECK(!ep_ks_sync(ks, &node, 1796000000000ull, &reply, &len, &full));
	ep_ks_free_reply(reply, len);
	FZ_CHECK(ep_ks_revoke_name(ks, "cam-666") == 0);
	for (uint16_t id = 1; id <= 2; id++) {
		FZ_CHECK(!ep_ks_lookup(ks, id, &k, &node_id));
		for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
			snprintf(&hex[id - 1][2 * i], 3, "%02x", k.key[i]);
	}
}

/* No answer carries a key's material. */
static void no_material(struct ep_ctl *c, const char *text, size_t len,
			char hex[2][2 * EP_AUTH_KEY_LEN + 1])
{
	json_t *resp = fz_ctl_call(c, text, len, true);
	char *s;

	if (!resp) /* not an object: serve_peer() answers that itself */
		return;
	s = json_dumps(resp, JSON_COMPACT);
	FZ_CHECK(s);
	FZ_CHECK(!strstr(s, hex[0]) && !strstr(s, hex[1]));
	free(s);
	json_decref(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_reg_opts opts = { .allow_register = true,
				    .wait_for_report = true,
				    .dead_after_ns = 500ull * 1000000 };
	static struct ep_ctl ctl;
	static struct ep_keystore ks;
	char hex[2][2 * EP_AUTH_KEY_LEN + 1];
	const char *p = (const char *)data, *end = p + size;

	fz_ctl_init(&ctl, &opts);
	fz_keys(&ks, hex);
	ctl.keys = &ks;
	fz_ctl_publish(&ctl, FZ_T0);
	for (unsigned int i = 0; i < MAX_REQUESTS && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!i)
			fz_ctl_api(&ctl, p, len, false);
		no_material(&ctl, p, len, hex);
		fz_ctl_check(&ctl);
		p += len + 1;
	}
	fz_ctl_views(&ctl);
	no_material(&ctl, "{\"cmd\":\"keys\"}", 14, hex);
	fz_ctl_fini(&ctl);
	ep_ks_fini(&ks);
	return 0;
}
