// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the key object (userspace/common/enroll.c, docs/protocol.md 7.5): the
 * design's example parses into the struct and writes back the same object; every field
 * broken in each way a hostile controller (or a man in the middle of a bug) could break
 * it is refused, with a message naming the field, and leaves nothing behind ("addr", the
 * one optional member, too: anything but a numeric address); names are
 * checked for what logs and shells would take specially; jansson wipes what it frees.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/enroll.h"
#include "../lib/tap.h"

static const char *const example =
	"{\"key_id\": 17, \"key\": \"000102030405060708090a0b0c0d0e0f\","
	" \"issued_unix_ms\": 1796000000000, \"expires_unix_ms\": 1796003600000,"
	" \"name\": \"cam-001\", \"role\": \"camera\", \"tenant\": 7, \"revoked\": false,"
	" \"limits\": {\"types\": [1, 2, 5], \"max_priority\": 3, \"tasks_per_s\": 200,"
	" \"burst_tasks\": 50, \"kib_per_s\": 20000, \"burst_kib\": 4096,"
	" \"max_task_len\": 1048576}}";

static json_t *load(const char *s)
{
	json_error_t jerr;
	json_t *o = json_loads(s, JSON_DECODE_ANY, &jerr);

	if (!o)
		tap_diag("bad test JSON '%s': %s", s, jerr.text);
	return o;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_example(void)
{
	struct ep_key_info k, k2;
	json_t *o = load(example), *back;
	char err[160] = "";

	tap_begin();
	EXPECT_EQ(ep_key_info_parse(o, &k, err, sizeof(err)), 0);
	EXPECT_EQ(k.key_id, 17);
	for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
		EXPECT_EQ(k.key[i], i);
	EXPECT_EQ(k.issued_unix_ms, 1796000000000ull);
	EXPECT_EQ(k.expires_unix_ms, 1796003600000ull);
	EXPECT(!strcmp(k.name, "cam-001"));
	EXPECT(!strcmp(k.role, "camera"));
	EXPECT_EQ(k.tenant, 7);
	EXPECT(!k.revoked);
	EXPECT(!k.lim.all_types);
	EXPECT_EQ(k.lim.types[0], (1ull << 1) | (1ull << 2) | (1ull << 5));
	EXPECT(ep_key_allows_type(&k.lim, 5) && !ep_key_allows_type(&k.lim, 3) &&
	       !ep_key_allows_type(&k.lim, 256) && !ep_key_allows_type(&k.lim, 65535));
	EXPECT_EQ(k.lim.max_priority, 3);
	EXPECT_EQ(k.lim.tasks_per_s, 200);
	EXPECT_EQ(k.lim.burst_tasks, 50);
	EXPECT_EQ(k.lim.kib_per_s, 20000);
	EXPECT_EQ(k.lim.burst_kib, 4096);
	EXPECT_EQ(k.lim.max_task_len, 1048576);
	back = ep_key_info_to_json(&k);
	EXPECT(json_equal(back, o));
	EXPECT_EQ(ep_key_info_from_json(back, &k2), 0);
	EXPECT(!memcmp(&k, &k2, sizeof(k)));
	json_decref(back);
	json_decref(o);
	tap_end("the design's key object parses field by field and writes back equal");

	tap_begin();
	o = load(example);
	json_object_set_new(json_object_get(o, "limits"), "types", json_string("*"));
	json_object_set_new(o, "revoked", json_true());
	json_object_set_new(o, "future_field", json_pack("{s:[i]}", "x", 1));
	json_object_set_new(json_object_get(o, "limits"), "future_limit", json_integer(9));
	EXPECT_EQ(ep_key_info_from_json(o, &k), 0);
	EXPECT(k.lim.all_types && k.revoked);
	EXPECT(ep_key_allows_type(&k.lim, 0) && ep_key_allows_type(&k.lim, 255));
	back = ep_key_info_to_json(&k);
	EXPECT(json_is_string(json_object_get(json_object_get(back, "limits"), "types")));
	json_decref(back);
	json_object_set_new(json_object_get(o, "limits"), "types", json_array());
	json_object_set_new(o, "key_id", json_integer(65535));
	json_object_set_new(o, "tenant", json_integer(4294967295ll));
	json_object_set_new(json_object_get(o, "limits"), "max_priority", json_integer(0));
	json_object_set_new(json_object_get(o, "limits"), "kib_per_s", json_integer(4294967295ll));
	EXPECT_EQ(ep_key_info_from_json(o, &k), 0);
	EXPECT(!k.lim.all_types && all_zero(k.lim.types, sizeof(k.lim.types)));
	EXPECT_EQ(k.key_id, 65535);
	EXPECT_EQ(k.tenant, 4294967295u);
	EXPECT_EQ(k.lim.kib_per_s, 4294967295u);
	json_decref(o);
	tap_end("\"*\", an empty type list, revoked, the largest ids and rates, and members "
		"it does not know (ignored)");

	tap_begin();
	{
		static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };
		static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
		static const struct {
			const char *in, *out;
			const uint8_t *bytes;
		} ok[] = {
			{ "198.18.0.1", "198.18.0.1", v4 },
			{ "::ffff:198.18.0.1", "198.18.0.1", v4 },
			{ "2001:db8::1", "2001:db8::1", v6 },
			{ "2001:0DB8:0:0:0:0:0:0001", "2001:db8::1", v6 },
		};

		o = load(example);
		EXPECT_EQ(ep_key_info_from_json(o, &k), 0);
		EXPECT(!k.has_addr && all_zero(k.addr, sizeof(k.addr)));
		back = ep_key_info_to_json(&k);
		EXPECT(back && !json_object_get(back, "addr"));
		json_decref(back);
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			json_object_set_new(o, "addr", json_string(ok[i].in));
			EXPECT_EQ(ep_key_info_from_json(o, &k), 0);
			EXPECT(k.has_addr && !memcmp(k.addr, ok[i].bytes, 16));
			back = ep_key_info_to_json(&k);
			EXPECT(!strcmp(json_string_value(json_object_get(back, "addr")) ?: "",
				       ok[i].out));
			EXPECT_EQ(ep_key_info_from_json(back, &k2), 0);
			EXPECT(!memcmp(&k, &k2, sizeof(k)));
			json_decref(back);
		}
		json_decref(o);
	}
	tap_end("\"addr\" is optional (none: no address, and none written back); IPv4 is "
		"kept as ::ffff:a.b.c.d and written as IPv4, IPv6 in its short form; both "
		"read back equal");
}

/* One field set to a JSON value (NULL: removed), at the top or in "limits". */
struct mutation {
	const char *field;
	const char *value;
	const char *why; /* the message names this */
};

static const struct mutation bad[] = {
	{ "key_id", "0", "key_id" },
	{ "key_id", "65536", "key_id" },
	{ "key_id", "-1", "key_id" },
	{ "key_id", "17.0", "key_id" },
	{ "key_id", "\"17\"", "key_id" },
	{ "key_id", "null", "key_id" },
	{ "key_id", NULL, "key_id" },
	{ "key", "\"000102030405060708090A0B0C0D0E0F\"", "key" },   /* uppercase */
	{ "key", "\"000102030405060708090a0b0c0d0e0\"", "key" },    /* 31 digits */
	{ "key", "\"000102030405060708090a0b0c0d0e0f0\"", "key" },  /* 33 */
	{ "key", "\"000102030405060708090a0b0c0d0e0f00\"", "key" }, /* 17 bytes */
	{ "key", "\"0001020304050607\"", "key" },		    /* 8 bytes */
	{ "key", "\"000102030405060708090a0b0c0d0e0g\"", "key" },
	{ "key", "\" 00102030405060708090a0b0c0d0e0f\"", "key" },
	{ "key", "\"0x0102030405060708090a0b0c0d0e0f\"", "key" },
	{ "key", "\"\"", "key" },
	{ "key", "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]", "key" },
	{ "key", "1234", "key" },
	{ "key", NULL, "key" },
	{ "issued_unix_ms", "-1", "issued_unix_ms" },
	{ "issued_unix_ms", "1.796e12", "issued_unix_ms" },
	{ "issued_unix_ms", NULL, "issued_unix_ms" },
	{ "expires_unix_ms", "1796000000000", "expires_unix_ms" }, /* = issued */
	{ "expires_unix_ms", "1", "expires_unix_ms" },
	{ "expires_unix_ms", "\"never\"", "expires_unix_ms" },
	{ "name", "\"\"", "name" },
	{ "name", "\"a b\"", "name" },
	{ "name", "\"cam\\n001\"", "name" },
	{ "name", "\"cam\\u001b[31m\"", "name" },
	{ "name", "\"cam\\\"x\"", "name" },
	{ "name", "\"cam/../x\"", "name" },
	{ "name", "\"cam;rm\"", "name" },
	{ "name", "\"kam\\u00e9ra\"", "name" },
	{ "name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "name" },
	{ "name", "7", "name" },
	{ "name", NULL, "name" },
	{ "role", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "role" }, /* 32 */
	{ "role", "\"\"", "role" },
	{ "role", "\"cam era\"", "role" },
	{ "role", NULL, "role" },
	{ "tenant", "-1", "tenant" },
	{ "tenant", "4294967296", "tenant" },
	{ "tenant", "\"7\"", "tenant" },
	{ "tenant", NULL, "tenant" },
	{ "revoked", "0", "revoked" },
	{ "revoked", "\"false\"", "revoked" },
	{ "revoked", "null", "revoked" },
	{ "revoked", NULL, "revoked" },
	{ "limits", "[]", "limits" },
	{ "limits", "\"*\"", "limits" },
	{ "limits", NULL, "limits" },
	{ "limits.types", "\"**\"", "types" },
	{ "limits.types", "\"\"", "types" },
	{ "limits.types", "\"all\"", "types" },
	{ "limits.types", "[256]", "types" },
	{ "limits.types", "[-1]", "types" },
	{ "limits.types", "[1.0]", "types" },
	{ "limits.types", "[\"1\"]", "types" },
	{ "limits.types", "[[1]]", "types" },
	{ "limits.types", "[null]", "types" },
	{ "limits.types", "{}", "types" },
	{ "limits.types", "7", "types" },
	{ "limits.types", NULL, "types" },
	{ "limits.max_priority", "6", "max_priority" },
	{ "limits.max_priority", "-1", "max_priority" },
	{ "limits.max_priority", NULL, "max_priority" },
	{ "limits.tasks_per_s", "4294967296", "tasks_per_s" },
	{ "limits.tasks_per_s", "-1", "tasks_per_s" },
	{ "limits.burst_tasks", "true", "burst_tasks" },
	{ "limits.kib_per_s", "1e3", "kib_per_s" },
	{ "limits.burst_kib", NULL, "burst_kib" },
	{ "limits.max_task_len", "9223372036854775807", "max_task_len" },
	{ "limits.max_task_len", NULL, "max_task_len" },
	{ "addr", "\"\"", "addr" },
	{ "addr", "\"198.18.0\"", "addr" },
	{ "addr", "\"198.18.0.256\"", "addr" },
	{ "addr", "\"198.18.0.1 \"", "addr" },
	{ "addr", "\"198.18.0.1/24\"", "addr" },
	{ "addr", "\"198.18.0.1:7878\"", "addr" },
	{ "addr", "\"fe80::1%eth0\"", "addr" },
	{ "addr", "\"[2001:db8::1]\"", "addr" },
	{ "addr", "\"cam-001.example\"", "addr" },
	{ "addr", "\"0.0.0.0\"", "addr" },
	{ "addr", "\"::\"", "addr" },
	{ "addr", "\"::ffff:0.0.0.0\"", "addr" },
	{ "addr", "\"0000:0000:0000:0000:0000:ffff:198.018.000.001\"", "addr" },
	{ "addr", "3323068417", "addr" },
	{ "addr", "[198, 18, 0, 1]", "addr" },
	{ "addr", "null", "addr" },
	{ "addr", "false", "addr" },
};

static void test_hostile(void)
{
	struct ep_key_info k;
	char err[160];
	unsigned int refused = 0, named = 0, wiped = 0;

	tap_begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct mutation *m = &bad[i];
		json_t *o = load(example), *where = o;
		const char *field = m->field;

		if (!strncmp(field, "limits.", 7)) {
			where = json_object_get(o, "limits");
			field += 7;
		}
		if (m->value)
			json_object_set_new(where, field, load(m->value));
		else
			json_object_del(where, field);
		memset(&k, 0xa5, sizeof(k));
		err[0] = '\0';
		if (ep_key_info_parse(o, &k, err, sizeof(err)) == -EINVAL)
			refused++;
		else
			tap_diag("%s = %s: accepted", m->field, m->value ? m->value : "(none)");
		if (strstr(err, m->why))
			named++;
		else
			tap_diag("%s = %s: message '%s' does not name %s", m->field,
				 m->value ? m->value : "(none)", err, m->why);
		if (all_zero(&k, sizeof(k)))
			wiped++;
		json_decref(o);
	}
	EXPECT_EQ(refused, sizeof(bad) / sizeof(bad[0]));
	EXPECT_EQ(named, sizeof(bad) / sizeof(bad[0]));
	EXPECT_EQ(wiped, sizeof(bad) / sizeof(bad[0]));
	tap_end("%zu broken key objects (bad ids, keys of the wrong length, case or alphabet, "
		"times out of order, names with spaces, escapes, quotes, non-ASCII or 64 bytes, "
		"wrong types, missing fields, addresses with a port, prefix, zone or name, "
		"unspecified ones) are refused, each with a message naming the "
		"field, and leave the struct zeroed",
		sizeof(bad) / sizeof(bad[0]));

	tap_begin();
	{
		json_t *o = load(example);
		static const char nul_key[32] = "00010203040506070809\0a0b0c0d0e0f";

		json_object_set_new(o, "key", json_stringn(nul_key, 32));
		EXPECT_EQ(ep_key_info_from_json(o, &k), -EINVAL);
		json_object_set_new(o, "key", json_string("000102030405060708090a0b0c0d0e0f"));
		json_object_set_new(o, "name", json_stringn("cam\0evil", 8));
		EXPECT_EQ(ep_key_info_from_json(o, &k), -EINVAL);
		json_object_set_new(o, "name", json_string("cam-001"));
		EXPECT_EQ(ep_key_info_from_json(o, &k), 0);
		{
			json_t *types = json_array();

			for (int t = 0; t < 257; t++)
				json_array_append_new(types, json_integer(t % 256));
			json_object_set_new(json_object_get(o, "limits"), "types", types);
		}
		EXPECT_EQ(ep_key_info_from_json(o, &k), -EINVAL);
		EXPECT_EQ(ep_key_info_from_json(NULL, &k), -EINVAL);
		json_decref(o);
		o = json_array();
		EXPECT_EQ(ep_key_info_from_json(o, &k), -EINVAL);
		json_decref(o);
		o = json_string(example);
		EXPECT_EQ(ep_key_info_from_json(o, &k), -EINVAL);
		json_decref(o);
	}
	tap_end("an embedded NUL in the key or the name, a type list of 257 entries, NULL, an "
		"array or a string instead of an object are refused");
}

static void test_names(void)
{
	char big[80];

	tap_begin();
	EXPECT(ep_enroll_name_ok("cam-001", 64));
	EXPECT(ep_enroll_name_ok("a.b_c@d:e-0", 64));
	EXPECT(!ep_enroll_name_ok("cam+OU=controller", 64));
	EXPECT(!ep_enroll_name_ok("cam+1", 64));
	EXPECT(!ep_enroll_name_ok("", 64));
	EXPECT(!ep_enroll_name_ok("a b", 64));
	EXPECT(!ep_enroll_name_ok("a\tb", 64));
	EXPECT(!ep_enroll_name_ok("a/b", 64));
	EXPECT(!ep_enroll_name_ok("a'b", 64));
	EXPECT(!ep_enroll_name_ok("a$b", 64));
	EXPECT(!ep_enroll_name_ok("\xc3\xa9", 64));
	memset(big, 'a', sizeof(big));
	big[63] = '\0';
	EXPECT(ep_enroll_name_ok(big, 64));
	big[63] = 'a';
	big[64] = '\0';
	EXPECT(!ep_enroll_name_ok(big, 64));
	tap_end("names: [A-Za-z0-9_.@:-], 1..63 bytes; spaces, tabs, slashes, quotes, '$', '+' "
		"(another attribute in an OpenSSL subject) and UTF-8 refused");
}

static void test_wiping(void)
{
	json_malloc_t m;
	json_free_t f;

	tap_begin();
	ep_enroll_wiping_json();
	json_get_alloc_funcs(&m, &f);
	EXPECT(m == malloc);
	EXPECT(f != free);
	ep_enroll_wiping_json(); /* idempotent */
	{
		json_t *o = load(example);

		EXPECT(o);
		json_decref(o);
	}
	tap_end("jansson frees through a wiping free once enrollment is used");
}

int main(void)
{
	test_example();
	test_hostile();
	test_names();
	test_wiping();
	return tap_finish();
}
