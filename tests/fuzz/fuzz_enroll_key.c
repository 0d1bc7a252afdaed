// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The key object of enrollment (docs/protocol.md 7.5), as a device or a node reads it from
 * the controller: the input is JSON text (json_loadb() with the flags the client uses) to
 * ep_key_info_parse(). A key it accepts is in range everywhere and writes back
 * (ep_key_info_to_json()) to an object that parses to the same key; a refusal says why and
 * leaves the struct zeroed.
 */
#include <jansson.h>

#include "ep_shared.h"
#include "edgeplane/enroll.h"
#include "fuzz.h"

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_key_info k, back;
	json_error_t jerr;
	json_t *o, *again;
	char err[160];
	const char *hex;

	o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!o)
		return 0;
	err[0] = '\0';
	memset(&k, 0xa5, sizeof(k));
	if (ep_key_info_parse(o, &k, err, sizeof(err))) {
		FZ_CHECK(err[0]);
		FZ_CHECK(zeroed(&k, sizeof(k)));
		json_decref(o);
		return 0;
	}
	FZ_CHECK(k.key_id >= 1);
	FZ_CHECK(k.expires_unix_ms > k.issued_unix_ms);
	FZ_CHECK(ep_enroll_name_ok(k.name, sizeof(k.name)));
	FZ_CHECK(ep_enroll_name_ok(k.role, sizeof(k.role)));
	FZ_CHECK(k.lim.max_priority <= EP_PRIO_MAX);
	FZ_CHECK(k.revoked == json_is_true(json_object_get(o, "revoked")));
	FZ_CHECK(k.has_addr == !!json_object_get(o, "addr"));
	again = ep_key_info_to_json(&k);
	FZ_CHECK(again);
	hex = json_string_value(json_object_get(again, "key"));
	FZ_CHECK(hex && strlen(hex) == 2 * EP_AUTH_KEY_LEN);
	for (const char *c = hex; *c; c++)
		FZ_CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
	FZ_CHECK(!ep_key_info_from_json(again, &back));
	FZ_CHECK(!memcmp(&k, &back, sizeof(k)));
	json_decref(again);
	json_decref(o);
	return 0;
}
