// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl node list|add|del|drain|undrain */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

/* A node id, 1..8191, of command @name. Returns 0, or -EINVAL after the usage error. */
static int parse_id(const char *name, const char *s, json_int_t *id)
{
	char err[128];
	long long v;

	if (ep_opt_number(s, 1, EP_GW_MAX_NODES - 1, &v, err, sizeof(err))) {
		ctl_usage_error(name, "node id %s", err);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

static void print_nodes(json_t *nodes)
{
	size_t i;
	json_t *n;

	printf("%-4s %-12s %-8s %-5s %-15s %-17s %5s %6s %8s %6s %6s %7s %7s %6s %10s\n", "ID",
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
		printf("%-4lld %-12s %-8s %-5s %-15s %-17s %5lld %6.1f %8lld %6lld %6lld %7lld %7s "
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

/* What `node add` is told. */
struct node_add {
	const char *str[5]; /* mac, name, ip4, ip6, via: in the order of add_keys */
	long port, capacity;
	bool encap, cloud;
};

static const char *const add_keys[] = { "mac", "name", "ip4", "ip6", "interface" };

#define NODE_USAGE                                                                         \
	"Usage: edgectl node list\n"                                                       \
	"       edgectl node add ID --mac MAC [--name N] [--ip4 A] [--ip6 A] [--port N]\n" \
	"                           [--capacity N] [--encap] [--cloud] [--via IF]\n"       \
	"       edgectl node del|drain|undrain ID\n\n"

/* The options of node add, into @a; node's other commands take none (@add false). */
static void node_table(struct ep_opt (*t)[10], struct node_add *a, bool add)
{
	if (!add) {
		(*t)[0] = (struct ep_opt)EP_OPT_END;
		return;
	}
	EP_OPT_TABLE(
		*t, EP_OPT_STR("mac", 0, &a->str[0], "MAC", "the node's MAC address"),
		EP_OPT_STR("name", 0, &a->str[1], "N", "its name"),
		EP_OPT_STR("ip4", 0, &a->str[2], "A", "its IPv4 address"),
		EP_OPT_STR("ip6", 0, &a->str[3], "A", "its IPv6 address"),
		EP_OPT_INT("port", 0, &a->port, 1, 65535, "N", "its task port"),
		EP_OPT_INT("capacity", 0, &a->capacity, 1, 1000000, "N", "its relative capacity"),
		EP_OPT_FLAG("encap", 0, &a->encap, "send it tasks encapsulated"),
		EP_OPT_FLAG("cloud", 0, &a->cloud, "a cloud node (overflow)"),
		EP_OPT_STR("via", 0, &a->str[4], "IF", "reach it through interface IF"));
}

/* node add ID [OPTIONS], parsed into @a. */
static int node_add(struct ctl_ctx *x, const struct node_add *a, int argc, char **argv)
{
	json_t *req, *resp;
	json_int_t id;

	if (argc != 3)
		return ctl_usage_error("edgectl node add", "ID (1..%d), one, is needed",
				       EP_GW_MAX_NODES - 1);
	if (parse_id("edgectl node add", argv[2], &id))
		return EXIT_USAGE;
	req = json_pack("{s:s, s:I}", "cmd", "node.add", "id", id);
	for (size_t k = 0; k < 5; k++)
		if (a->str[k])
			json_object_set_new(req, add_keys[k], json_string(a->str[k]));
	if (a->port)
		json_object_set_new(req, "port", json_integer(a->port));
	if (a->capacity)
		json_object_set_new(req, "capacity", json_integer(a->capacity));
	if (a->encap)
		json_object_set_new(req, "mode", json_string("encap"));
	if (a->cloud)
		json_object_set_new(req, "role", json_string("cloud"));
	resp = ctl_call(x, req);
	if (!resp)
		return EXIT_FAIL;
	json_decref(resp);
	if (!x->json)
		printf("node %lld added\n", (long long)id);
	return 0;
}

int cmd_node(struct ctl_ctx *x, int argc, char **argv)
{
	const struct ep_opt *tabs[2] = { x->opts, NULL };
	struct node_add a = { 0 };
	struct ep_opt tab[10];
	const char *sub;
	json_t *resp;
	json_int_t id;
	char cmd[16], name[32];
	int i, ret;

	/* The word after "node", before the options are parsed: they depend on it. */
	i = ep_opt_first_word(tabs, argc, argv);
	i += ep_opt_first_word(tabs, argc - i, argv + i);
	sub = i < argc ? argv[i] : "list";
	snprintf(name, sizeof(name), "edgectl node %s", sub);
	node_table(&tab, &a, !strcmp(sub, "add"));
	ret = ctl_parse(x, name, NODE_USAGE, tab, &argc, &argv);
	if (ret)
		return ret - 1;
	if (!strcmp(sub, "list")) {
		if (argc > 2)
			return ctl_usage_error(name, "unexpected argument '%s'", argv[2]);
		return node_list(x);
	}
	if (!strcmp(sub, "add"))
		return node_add(x, &a, argc, argv);
	if (strcmp(sub, "del") && strcmp(sub, "drain") && strcmp(sub, "undrain"))
		return ctl_usage_error("edgectl node",
				       "unknown command '%s' (list, add, del, drain, undrain)",
				       sub);
	if (argc != 3)
		return ctl_usage_error(name, "ID, one, is needed");
	if (parse_id(name, argv[2], &id))
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
