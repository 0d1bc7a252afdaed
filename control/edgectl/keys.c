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
	static const struct ep_opt none[] = { EP_OPT_END };
	json_t *resp;
	int ret;

	ret = ctl_parse_no_args(x, "edgectl keys",
				"Usage: edgectl keys\n\nThe session keys of enrollment.\n\n", none,
				argc, argv);
	if (ret)
		return ret - 1;
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

#define REVOKE_USAGE                                                           \
	"Usage: edgectl revoke --device NAME | --key ID\n"                     \
	"       edgectl unrevoke --device NAME\n\n"                            \
	"revoke: refuse a device's keys, enrollments and syncs, or one key;\n" \
	"unrevoke: let a device enroll again (its revoked keys stay revoked).\n\n"

/* revoke --device NAME | --key ID; unrevoke --device NAME */
int cmd_revoke(struct ctl_ctx *x, int argc, char **argv)
{
	const struct ep_opt *shared[2] = { x->opts, NULL };
	bool un = !strcmp(argv[ep_opt_first_word(shared, argc, argv)], "unrevoke");
	const char *name = un ? "edgectl unrevoke" : "edgectl revoke", *device = NULL;
	long id = 0;
	struct ep_opt tab[] = {
		EP_OPT_STR("device", 0, &device, "NAME", "the device's name"),
		EP_OPT_INT("key", 0, &id, 1, 65535, "ID", "revoke: one key"),
		EP_OPT_END,
	};
	json_t *req, *resp;
	int ret;

	if (un)
		tab[1] = (struct ep_opt)EP_OPT_END;
	ret = ctl_parse_no_args(x, name, REVOKE_USAGE, tab, argc, argv);
	if (ret)
		return ret - 1;
	if (!device == !id)
		return ctl_usage_error(name, un ? "--device NAME is needed"
						: "--device NAME or --key ID, one, is needed");
	if (id) {
		req = json_pack("{s:s, s:I}", "cmd", "key.revoke", "id", (json_int_t)id);
	} else {
		if (!ep_enroll_name_ok(device, EP_KEY_NAME_MAX))
			return ctl_usage_error(name,
					       "'%s' is not a name (1..63 characters of "
					       "[A-Za-z0-9_.@:-])",
					       device);
		req = json_pack("{s:s, s:s}", "cmd", un ? "name.unrevoke" : "name.revoke", "name",
				device);
	}
	resp = ctl_call(x, req);
	if (!resp)
		return EXIT_FAIL;
	if (x->json)
		ctl_print_json(resp);
	else if (id)
		printf("key %ld revoked\n", id);
	else if (un)
		printf("%s may enroll again (its revoked keys stay revoked)\n", device);
	else
		printf("%s revoked: %lld live keys, and its enrollments and syncs are refused\n",
		       device,
		       (long long)json_integer_value(json_object_get(resp, "revoked_keys")));
	json_decref(resp);
	return 0;
}
