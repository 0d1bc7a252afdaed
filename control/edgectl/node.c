// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl node list|add|del|drain|undrain */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

static int parse_id(const char *s, json_int_t *id)
{
	long v;

	if (ep_parse_long("node id", s, 1, EP_GW_MAX_NODES - 1, &v))
		return -EINVAL;
	*id = v;
	return 0;
}

static void print_nodes(json_t *nodes)
{
	size_t i;
	json_t *n;

	printf("%-3s %-12s %-8s %-5s %-15s %-17s %5s %6s %8s %6s %6s %7s %7s %6s %10s\n", "ID",
	       "NAME", "STATE", "MODE", "IPV4", "MAC", "CAP", "CPU%", "MEM_MiB", "QUEUE", "INFL",
	       "P99_us", "AGE_ms", "SHARE", "TASKS");
	json_array_foreach(nodes, i, n)
	{
		json_t *l = json_object_get(n, "load"), *g = json_object_get(n, "gateway");
		const char *ip4 = json_string_value(json_object_get(n, "ip4"));
		double age = json_real_value(json_object_get(l, "age_ms"));
		char agebuf[16];

		if (age < 0)
			snprintf(agebuf, sizeof(agebuf), "-");
		else
			snprintf(agebuf, sizeof(agebuf), "%.0f", age);
		printf("%-3lld %-12s %-8s %-5s %-15s %-17s %5lld %6.1f %8lld %6lld %6lld %7lld %7s "
		       "%5.1f%% %10lld\n",
		       (long long)json_integer_value(json_object_get(n, "id")),
		       json_string_value(json_object_get(n, "name")),
		       json_string_value(json_object_get(n, "state")),
		       json_string_value(json_object_get(n, "mode")), ip4 && *ip4 ? ip4 : "-",
		       json_string_value(json_object_get(n, "mac")),
		       (long long)json_integer_value(json_object_get(n, "capacity")),
		       json_real_value(json_object_get(l, "cpu_pct")),
		       (long long)json_integer_value(json_object_get(l, "mem_free_kib")) / 1024,
		       (long long)json_integer_value(json_object_get(l, "queue_depth")),
		       (long long)json_integer_value(json_object_get(l, "inflight")),
		       (long long)json_integer_value(json_object_get(l, "p99_us")), agebuf,
		       100 * json_real_value(json_object_get(g, "table_share")),
		       (long long)json_integer_value(json_object_get(g, "tasks")));
	}
}

static int node_list(struct ctl_ctx *x)
{
	json_t *resp = ctl_call(x, json_pack("{s:s}", "cmd", "nodes"));

	if (!resp)
		return EXIT_FAIL;
	if (x->json)
		ctl_print_json(json_object_get(resp, "nodes"));
	else
		print_nodes(json_object_get(resp, "nodes"));
	json_decref(resp);
	return 0;
}

static int node_add(struct ctl_ctx *x, int argc, char **argv)
{
	static const char *const str_opts[] = { "--mac", "--name", "--ip4", "--ip6", "--via" };
	static const char *const keys[] = { "mac", "name", "ip4", "ip6", "interface" };
	json_t *req, *resp;
	json_int_t id;
	long v;

	if (argc < 3 || parse_id(argv[2], &id))
		goto usage;
	req = json_pack("{s:s, s:I}", "cmd", "node.add", "id", id);
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		for (k = 0; k < 5 && strcmp(a, str_opts[k]); k++)
			;
		if (k < 5 || !strcmp(a, "--port") || !strcmp(a, "--capacity")) {
			if (i + 1 >= argc) {
				pr_err("%s needs a value", a);
				json_decref(req);
				goto usage;
			}
			if (k < 5) {
				json_object_set_new(req, keys[k], json_string(argv[++i]));
				continue;
			}
			if (ep_parse_long(a, argv[i + 1], 1, !strcmp(a, "--port") ? 65535 : 1000000,
					  &v)) {
				json_decref(req);
				return EXIT_USAGE;
			}
			json_object_set_new(req, a + 2, json_integer(v));
			i++;
		} else if (!strcmp(a, "--encap")) {
			json_object_set_new(req, "mode", json_string("encap"));
		} else if (!strcmp(a, "--cloud")) {
			json_object_set_new(req, "role", json_string("cloud"));
		} else {
			pr_err("node add: unknown option '%s'", a);
			json_decref(req);
			goto usage;
		}
	}
	resp = ctl_call(x, req);
	if (!resp)
		return EXIT_FAIL;
	json_decref(resp);
	if (!x->json)
		printf("node %lld added\n", (long long)id);
	return 0;
usage:
	fprintf(stderr, "Usage: edgectl node add ID --mac MAC [--name N] [--ip4 A] [--ip6 A] "
			"[--port N] [--capacity N] [--encap] [--cloud] [--via IF]\n");
	return EXIT_USAGE;
}

int cmd_node(struct ctl_ctx *x, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	json_t *resp;
	json_int_t id;
	char cmd[16];

	if (!strcmp(sub, "list")) {
		if (argc > 2) {
			pr_err("node list: unexpected argument '%s'", argv[2]);
			return EXIT_USAGE;
		}
		return node_list(x);
	}
	if (!strcmp(sub, "add"))
		return node_add(x, argc, argv);
	if (strcmp(sub, "del") && strcmp(sub, "drain") && strcmp(sub, "undrain")) {
		pr_err("node: unknown command '%s' (list, add, del, drain, undrain)", sub);
		return EXIT_USAGE;
	}
	if (argc != 3) {
		fprintf(stderr, "Usage: edgectl node %s ID\n", sub);
		return EXIT_USAGE;
	}
	if (parse_id(argv[2], &id))
		return EXIT_USAGE;
	snprintf(cmd, sizeof(cmd), "node.%s", sub);
	resp = ctl_call(x, json_pack("{s:s, s:I}", "cmd", cmd, "id", id));
	if (!resp)
		return EXIT_FAIL;
	json_decref(resp);
	if (!x->json)
		printf("node %lld: %s\n", (long long)id,
		       !strcmp(sub, "del")     ? "deleted"
		       : !strcmp(sub, "drain") ? "drained (tasks it has still finish)"
					       : "back in service");
	return 0;
}
