// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/confread.h"
#include "edgeplane/log.h"
#include "ep_shared.h"
#include "roles.h"

/* types = [1, 2] or "*": at least one type, each once. */
static void read_types(struct ep_confread *rd, const config_setting_t *g, struct ep_role *r)
{
	const config_setting_t *s = config_setting_get_member(g, "types");
	char msg[96];
	int n;

	if (!s) {
		ep_conf_bad(rd, g, "a role needs types: a list of task type ids, or \"*\"");
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (strcmp(config_setting_get_string(s), "*"))
			ep_conf_bad(rd, s, "must be \"*\" (every type) or a list like [1, 2]");
		r->lim.all_types = true;
		return;
	}
	if (!config_setting_is_array(s) || !(n = config_setting_length(s))) {
		ep_conf_bad(rd, s, "must be \"*\" (every type) or a non-empty list like [1, 2]");
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		int v = config_setting_get_int(e);

		if (config_setting_type(e) != CONFIG_TYPE_INT || v < 0 || v > EP_KEY_TYPE_MAX) {
			snprintf(msg, sizeof(msg), "has an entry that is not a task type id 0..%d",
				 EP_KEY_TYPE_MAX);
			ep_conf_bad(rd, s, msg);
			return;
		}
		if (ep_key_allows_type(&r->lim, (unsigned int)v)) {
			snprintf(msg, sizeof(msg), "lists type %d twice", v);
			ep_conf_bad(rd, s, msg);
			return;
		}
		r->lim.types[v / 64] |= 1ull << (v % 64);
	}
}

/* A rate and its burst: the burst defaults to one second's worth, and needs a rate. */
static void read_rate(struct ep_confread *rd, const config_setting_t *g, const char *rate,
		      const char *burst, uint32_t *r, uint32_t *b)
{
	long long v;

	if (ep_conf_num(rd, g, rate, 0, 4000000000ll, &v))
		*r = (uint32_t)v;
	if (ep_conf_num(rd, g, burst, 1, 4000000000ll, &v)) {
		*b = (uint32_t)v;
		if (!*r)
			ep_conf_bad(rd, config_setting_get_member(g, burst),
				    "a burst needs its rate (0 or none: no limit)");
	} else {
		*b = *r;
	}
}

static void read_role(struct ep_confread *rd, const config_setting_t *g, struct ep_role *r)
{
	static const char *const names[] = { "types",	     "max_priority", "tasks_per_s",
					     "burst_tasks",  "kib_per_s",    "burst_kib",
					     "max_task_len", "key_ttl_s",    NULL };
	const char *name = config_setting_name(g);
	long long v;

	if (!ep_enroll_name_ok(name, sizeof(r->name)))
		ep_conf_bad(rd, g, "a role name is 1..31 characters of [A-Za-z0-9_-]");
	else if (!strcmp(name, "node") || !strcmp(name, "controller"))
		ep_conf_bad(rd, g, "\"node\" and \"controller\" are not device roles");
	else
		snprintf(r->name, sizeof(r->name), "%s", name);
	if (!config_setting_is_group(g)) {
		ep_conf_bad(rd, g, "must be a group: { types = [1, 2]; ... }");
		return;
	}
	ep_conf_known(rd, g, names);
	read_types(rd, g, r);
	r->lim.max_priority = EP_PRIO_DEFAULT;
	if (ep_conf_num(rd, g, "max_priority", EP_PRIO_MIN, EP_PRIO_MAX, &v))
		r->lim.max_priority = (uint8_t)v;
	read_rate(rd, g, "tasks_per_s", "burst_tasks", &r->lim.tasks_per_s, &r->lim.burst_tasks);
	read_rate(rd, g, "kib_per_s", "burst_kib", &r->lim.kib_per_s, &r->lim.burst_kib);
	r->lim.max_task_len = EP_DEFAULT_MAX_TASK_LEN;
	EP_CONF_U32(rd, g, "max_task_len", 1, EP_MAX_TASK_LEN, r->lim.max_task_len);
	EP_CONF_U32(rd, g, "key_ttl_s", 1, EP_ROLE_TTL_MAX, r->key_ttl_s);
}

int ep_roles_load(struct ep_roles *rs, const char *path)
{
	static const char *const top[] = { "roles", NULL };
	struct ep_confread rd = { .path = path };
	const config_setting_t *root, *g;
	config_t cf;
	int n;

	memset(rs, 0, sizeof(*rs));
	if (ep_conf_open(&cf, path))
		return -EINVAL;
	root = config_root_setting(&cf);
	ep_conf_known(&rd, root, top);
	g = config_setting_get_member(root, "roles");
	if (!g || !config_setting_is_group(g) || !(n = config_setting_length(g))) {
		if (g)
			ep_conf_bad(&rd, g, "must be a group of roles: { camera = { ... }; }");
		else
			pr_err("%s: no roles: the policy needs roles = { NAME = { types = ...; }; "
			       "}",
			       path);
		rd.err = -EINVAL;
		goto out;
	}
	rs->r = calloc((size_t)n, sizeof(*rs->r));
	if (!rs->r) {
		rd.err = -ENOMEM;
		goto out;
	}
	rs->n = (unsigned int)n;
	for (int i = 0; i < n; i++)
		read_role(&rd, config_setting_get_elem(g, (unsigned int)i), &rs->r[i]);
out:
	config_destroy(&cf);
	if (rd.err)
		ep_roles_free(rs);
	return rd.err;
}

const struct ep_role *ep_roles_find(const struct ep_roles *rs, const char *name)
{
	for (unsigned int i = 0; i < rs->n; i++)
		if (!strcmp(rs->r[i].name, name))
			return &rs->r[i];
	return NULL;
}

void ep_roles_free(struct ep_roles *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}
