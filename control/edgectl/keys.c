// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl keys | revoke --device NAME | revoke --key ID | unrevoke --device NAME */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "edgeplane/enroll.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

static void print_keys(json_t *resp)
{
	json_t *keys = json_object_get(resp, "keys"),
	       *names = json_object_get(resp, "revoked_names");
	uint64_t now = ep_unix_ms();
	size_t i;
	json_t *k;

	printf("%-6s %-24s %-12s %10s %6s %10s %-7s %s\n", "ID", "NAME", "ROLE", "TENANT", "NODE",
	       "EXPIRES_IN", "REVOKED", "ADDR");
	json_array_foreach(keys, i, k)
	{
		uint64_t exp = (uint64_t)json_integer_value(json_object_get(k, "expires_unix_ms"));
		json_int_t node = json_integer_value(json_object_get(k, "node_id"));
		char nodes[12] = "-", left[32];
		uint64_t s = exp > now ? (exp - now) / 1000 : 0;

		if (node)
			snprintf(nodes, sizeof(nodes), "%lld", (long long)node);
		snprintf(left, sizeof(left), "%lluh%02llum%02llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
		printf("%-6lld %-24s %-12s %10lld %6s %10s %-7s %s\n",
		       (long long)json_integer_value(json_object_get(k, "key_id")),
		       json_string_value(json_object_get(k, "name")),
		       json_string_value(json_object_get(k, "role")),
		       (long long)json_integer_value(json_object_get(k, "tenant")), nodes, left,
		       json_is_true(json_object_get(k, "revoked")) ? "yes" : "no",
		       json_string_value(json_object_get(k, "addr")) ?: "-");
	}
	if (json_array_size(names)) {
		printf("refused until 'edgectl unrevoke --device NAME':");
		json_array_foreach(names, i, k) printf(" %s", json_string_value(k));
		printf("\n");
	}
}

int cmd_keys(struct ctl_ctx *x, int argc, char **argv)
{
	json_t *resp;

	if (argc > 1) {
		pr_err("keys: unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	resp = ctl_call(x, json_pack("{s:s}", "cmd", "keys"));
	if (!resp)
		return EXIT_FAIL;
	if (x->json) {
		json_object_del(resp, "ok");
		ctl_print_json(resp);
	} else {
		print_keys(resp);
	}
	json_decref(resp);
	return 0;
}

/* revoke --device NAME | --key ID; unrevoke --device NAME */
int cmd_revoke(struct ctl_ctx *x, int argc, char **argv)
{
	bool un = !strcmp(argv[0], "unrevoke");
	json_t *req, *resp;
	long id = 0;

	if (argc != 3 || (strcmp(argv[1], "--device") && (un || strcmp(argv[1], "--key"))))
		goto usage;
	if (!strcmp(argv[1], "--key")) {
		if (ep_parse_long("--key", argv[2], 1, 65535, &id))
			return EXIT_USAGE;
		req = json_pack("{s:s, s:I}", "cmd", "key.revoke", "id", (json_int_t)id);
	} else {
		if (!ep_enroll_name_ok(argv[2], EP_KEY_NAME_MAX)) {
			pr_err("%s: '%s' is not a name (1..63 characters of [A-Za-z0-9_.@:-])",
			       argv[0], argv[2]);
			return EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s}", "cmd", un ? "name.unrevoke" : "name.revoke", "name",
				argv[2]);
	}
	resp = ctl_call(x, req);
	if (!resp)
		return EXIT_FAIL;
	if (x->json)
		ctl_print_json(resp);
	else if (!strcmp(argv[1], "--key"))
		printf("key %ld revoked\n", id);
	else if (un)
		printf("%s may enroll again (its revoked keys stay revoked)\n", argv[2]);
	else
		printf("%s revoked: %lld live keys, and its enrollments and syncs are refused\n",
		       argv[2],
		       (long long)json_integer_value(json_object_get(resp, "revoked_keys")));
	json_decref(resp);
	return 0;
usage:
	fprintf(stderr, un ? "Usage: edgectl unrevoke --device NAME\n"
			   : "Usage: edgectl revoke --device NAME | --key ID\n");
	return EXIT_USAGE;
}
