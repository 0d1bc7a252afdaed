// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgectl table: what XDP will choose. For each node, its state and load as XDP sees
 * them (the active half of the maps), its capacity and consistent-hash table share, and
 * where the next N tasks would go if they arrived now: the gateway program itself runs
 * them (BPF_PROG_TEST_RUN), with the live maps and a copy of the sent counts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "policy.h"
#include "probe.h"
#include "table.h"

static const char *flags_state(uint32_t f)
{
	if (f & EP_NODE_F_MANUAL)
		return "drained";
	if (f & EP_NODE_F_OVERFLOW)
		return "cloud";
	if (f & EP_NODE_F_DRAINED)
		return "out";
	return "in";
}

/* The active table's size and a digest of its slots (FNV-1a, 64 bits): gateways with the
 * same membership show the same two (issue 16). */
struct table_view {
	uint32_t size;
	uint64_t digest;
};

static struct table_view table_view(const uint32_t *table, uint32_t bits)
{
	struct table_view v = { .size = ep_table_size(bits), .digest = 0xcbf29ce484222325ULL };

	for (uint32_t i = 0; i < v.size; i++)
		for (int b = 0; b < 4; b++)
			v.digest = (v.digest ^ ((table[i] >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
	return v;
}

/* The table as JSON. */
static void print_json(const struct ep_gw_node *nodes, const uint32_t *slots,
		       const struct ep_gw_cfg *cfg, const struct ep_probe_opts *po,
		       const struct ep_probe_result *pr, uint64_t now, struct table_view tv)
{
	char digest[17];

	json_t *arr = json_array(), *dec = json_object(), *o;

	for (int id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node *n = &nodes[id];

		if (!(n->flags & EP_NODE_F_PRESENT))
			continue;
		json_array_append_new(
			arr, json_pack("{s:i, s:s, s:I, s:f, s:I, s:I, s:b, s:I, s:I, s:f, s:f}",
				       "id", id, "state", flags_state(n->flags), "capacity",
				       (json_int_t)n->capacity, "load_age_ms",
				       n->updated_ns ? (now - n->updated_ns) / 1e6 : -1.0,
				       "inflight", (json_int_t)n->inflight, "queue_depth",
				       (json_int_t)n->queue_depth, "trusted",
				       n->updated_ns && now - n->updated_ns <= cfg->stale_ns,
				       "table_slots", (json_int_t)slots[id], "next_tasks",
				       (json_int_t)(po->samples ? pr->tasks[id] : 0), "table_share",
				       (double)slots[id] / tv.size, "next_share",
				       po->samples ? (double)pr->tasks[id] / po->samples : 0.0));
	}
	for (int i = 0; po->samples && i < EP_GW_STAT__COUNT; i++)
		if (pr->dec[i])
			json_object_set_new(dec, ep_gw_stat_name(i),
					    json_integer((json_int_t)pr->dec[i]));
	snprintf(digest, sizeof(digest), "%016llx", (unsigned long long)tv.digest);
	o = json_pack("{s:s, s:I, s:i, s:I, s:I, s:s, s:o, s:o}", "policy",
		      ep_policy_name(cfg->policy) ?: "?", "generation", (json_int_t)cfg->generation,
		      "priority", po->prio, "samples", (json_int_t)po->samples, "table_size",
		      (json_int_t)tv.size, "table_digest", digest, "nodes", arr, "decisions", dec);
	ctl_print_json(o);
	json_decref(o);
}

/* The table as text, with the nodes' names from the controller (@names, or NULL). */
static void print_text(const struct ep_gw_node *nodes, const uint32_t *slots,
		       const struct ep_gw_cfg *cfg, const struct ep_probe_opts *po,
		       const struct ep_probe_result *pr, uint64_t now, json_t *names,
		       struct table_view tv)
{
	static const char *name_of[EP_GW_MAX_NODES]; /* by id, from @names: one pass, not one
						      * per node (thousands of them) */
	uint64_t capsum = 0;
	json_t *jn;
	size_t k;

	json_array_foreach(names, k, jn)
	{
		json_int_t id = json_integer_value(json_object_get(jn, "id"));

		if (id > 0 && id < EP_GW_MAX_NODES)
			name_of[id] = json_string_value(json_object_get(jn, "name"));
	}

	for (int id = 1; id < EP_GW_MAX_NODES; id++)
		if ((nodes[id].flags & (EP_NODE_F_PRESENT | EP_NODE_F_DRAINED |
					EP_NODE_F_OVERFLOW)) == EP_NODE_F_PRESENT)
			capsum += nodes[id].capacity;
	printf("policy %s, generation %u, active half %u; next %u tasks of priority %u%s\n",
	       ep_policy_name(cfg->policy) ?: "?", cfg->generation, cfg->active, po->samples,
	       po->prio, po->size_hint_kib ? " with a size hint" : "");
	printf("table %u slots, digest %016llx\n", tv.size, (unsigned long long)tv.digest);
	printf("%-4s %-12s %-8s %6s %9s %9s %9s %7s %10s\n", "ID", "NAME", "STATE", "CAP",
	       "CAP_SHARE", "TABLE", "LOAD_AGE", "CPU%", "NEXT_TASKS");
	for (int id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node *n = &nodes[id];
		const char *name = name_of[id] ? name_of[id] : "";
		char age[16];

		if (!(n->flags & EP_NODE_F_PRESENT))
			continue;
		if (!n->updated_ns)
			snprintf(age, sizeof(age), "never");
		else
			snprintf(age, sizeof(age), "%.0fms%s", (now - n->updated_ns) / 1e6,
				 now - n->updated_ns > cfg->stale_ns ? "!" : "");
		printf("%-4d %-12s %-8s %6u %8.1f%% %8.1f%% %9s %7.1f %9.1f%%\n", id, name,
		       flags_state(n->flags), n->capacity,
		       capsum && !(n->flags & (EP_NODE_F_DRAINED | EP_NODE_F_OVERFLOW))
			       ? 100.0 * n->capacity / capsum
			       : 0.0,
		       100.0 * slots[id] / tv.size, age, n->cpu_pct_x100 / 100.0,
		       po->samples ? 100.0 * pr->tasks[id] / po->samples : 0.0);
	}
	if (po->samples) {
		printf("decisions for those tasks:");
		for (int i = 0; i < EP_GW_STAT__COUNT; i++)
			if (pr->dec[i])
				printf(" %s=%llu", ep_gw_stat_name(i),
				       (unsigned long long)pr->dec[i]);
		printf("\n('!' marks loads older than %llu ms: XDP falls back to capacity "
		       "weights)\n",
		       (unsigned long long)(cfg->stale_ns / 1000000));
	}
}

#define TABLE_USAGE                                                                         \
	"Usage: edgectl table [--sample N] [--prio P] [--size-hint-kib K]\n\n"              \
	"What XDP will choose: each node's state and load as XDP sees them, its capacity\n" \
	"and table share, and where the next N tasks would go (the gateway program runs\n"  \
	"them, BPF_PROG_TEST_RUN, on the live maps).\n\n"

int cmd_table(struct ctl_ctx *x, int argc, char **argv)
{
	struct ep_probe_opts po = { .samples = 1000, .prio = 3 };
	static struct ep_gw_node nodes[EP_GW_MAX_NODES];
	static uint32_t table[EP_GW_TABLE_SIZE];
	const struct ep_opt tab[] = {
		EP_OPT_INT("sample", 0, &po.samples, 0, 1000000, "N",
			   "tasks to send through the program (1000; 0: none)"),
		EP_OPT_INT("prio", 0, &po.prio, 1, 5, "P", "their priority (3)"),
		EP_OPT_INT("size-hint-kib", 0, &po.size_hint_kib, 0, 1 << 30, "K",
			   "their size hint (none)"),
		EP_OPT_END,
	};
	static uint32_t slots[EP_GW_MAX_NODES];
	static struct ep_probe_result pr;
	struct table_view tv;
	uint32_t bits;
	struct ep_gw_cfg cfg;
	json_t *resp = NULL;
	struct ep_gw *gw;
	uint64_t now;
	int err;

	err = ctl_parse_no_args(x, "edgectl table", TABLE_USAGE, tab, argc, argv);
	if (err)
		return err - 1;
	if (ctl_open_gw(x, &gw))
		return EXIT_FAIL;
	err = ep_gw_read_cfg(gw, &cfg);
	if (!err)
		err = ep_gw_read_active(gw, nodes, table, &bits);
	if (err) {
		pr_err("read the gateway's maps: %s", strerror(-err));
		goto out;
	}
	now = ep_now_ns();
	po.seed = now;
	if (po.samples && (err = ep_probe(gw, &po, &pr)))
		goto out;
	ep_table_shares(table, bits, slots);
	tv = table_view(table, bits);
	if (x->json) {
		print_json(nodes, slots, &cfg, &po, &pr, now, tv);
		goto out;
	}
	/* Names from the controller, if one runs. */
	ctl_request(x, json_pack("{s:s}", "cmd", "nodes"), &resp);
	print_text(nodes, slots, &cfg, &po, &pr, now, json_object_get(resp, "nodes"), tv);
out:
	json_decref(resp);
	ep_gw_close(gw, false);
	return err ? EXIT_FAIL : 0;
}
