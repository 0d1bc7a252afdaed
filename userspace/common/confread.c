// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "ep_shared.h"
#include "edgeplane/confread.h"
#include "edgeplane/log.h"

int ep_conf_open(config_t *cf, const char *path)
{
	config_init(cf);
	if (config_read_file(cf, path))
		return 0;
	if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
		pr_err("%s: cannot read: %s", path, strerror(errno));
	else
		pr_err("%s:%d: %s", path, config_error_line(cf), config_error_text(cf));
	config_destroy(cf);
	return -EINVAL;
}

void ep_conf_bad(struct ep_confread *rd, const config_setting_t *s, const char *what)
{
	pr_err("%s:%d: %s: %s", rd->path, config_setting_source_line(s),
	       config_setting_name(s) ? config_setting_name(s) : "(list item)", what);
	rd->err = -EINVAL;
}

void ep_conf_known(struct ep_confread *rd, const config_setting_t *group, const char *const *names)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned int)i);
		const char *const *n;

		if (!config_setting_name(s))
			continue;
		for (n = names; *n && strcmp(*n, config_setting_name(s)); n++)
			;
		if (!*n)
			ep_conf_bad(rd, s, "unknown setting");
	}
}

void ep_conf_str(struct ep_confread *rd, const config_setting_t *g, const char *name, char **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		ep_conf_bad(rd, s, "must be a string");
		return;
	}
	free(*out);
	*out = strdup(config_setting_get_string(s));
}

bool ep_conf_num(struct ep_confread *rd, const config_setting_t *g, const char *name, long long lo,
		 long long hi, long long *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;
	char msg[96];

	if (!s)
		return false;
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		ep_conf_bad(rd, s, "must be an integer");
		return false;
	}
	if (v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%lld is outside %lld..%lld", v, lo, hi);
		ep_conf_bad(rd, s, msg);
		return false;
	}
	*out = v;
	return true;
}

void ep_conf_bool(struct ep_confread *rd, const config_setting_t *g, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		ep_conf_bad(rd, s, "must be true or false");
		return;
	}
	*out = config_setting_get_bool(s);
}

void ep_conf_unsafe(struct ep_confread *rd, const config_setting_t *g, const char *name,
		    const char *safe, bool *unsafe)
{
	char *v = NULL, what[64];

	ep_conf_str(rd, g, name, &v);
	if (!v)
		return;
	if (!strcmp(v, safe) || !strcmp(v, "off-unsafe")) {
		*unsafe = !strcmp(v, "off-unsafe");
	} else {
		snprintf(what, sizeof(what), "must be \"%s\" or \"off-unsafe\"", safe);
		ep_conf_bad(rd, config_setting_get_member(g, name), what);
	}
	free(v);
}

int ep_conf_int_list(struct ep_confread *rd, const config_setting_t *g, const char *name, int *out,
		     unsigned int max, int lo, int hi)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	int n;

	if (!s)
		return 0;
	if (!config_setting_is_array(s) || !(n = config_setting_length(s)) || n > (int)max) {
		ep_conf_bad(rd, s, "must be a non-empty list of integers, like [0, 1]");
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		int v = config_setting_get_int(e);

		if (config_setting_type(e) != CONFIG_TYPE_INT || v < lo || v > hi) {
			ep_conf_bad(rd, s, "has an entry that is not an integer in range");
			return 0;
		}
		out[i] = v;
	}
	return n;
}

void ep_conf_rate_limit(struct ep_confread *rd, const config_setting_t *g, struct ep_rl_cfg *rl,
			bool gateway)
{
	static const char *const node[] = { "mode",	   "packets_per_s", "packets_burst",
					    "bytes_per_s", "bytes_burst",   NULL };
	static const char *const gw[] = { "mode",	 "packets_per_s",    "packets_burst",
					  "bytes_per_s", "bytes_burst",	     "tasks_per_s",
					  "tasks_burst", "source_prefix_v4", "source_prefix_v6",
					  NULL };
	bool off = rl->flags & EP_RL_F_OFF;
	long long v;

	ep_conf_known(rd, g, gateway ? gw : node);
	ep_conf_unsafe(rd, g, "mode", "on", &off);
	rl->flags = off ? rl->flags | EP_RL_F_OFF : rl->flags & ~EP_RL_F_OFF;
	EP_CONF_U32(rd, g, "packets_per_s", 0, 4000000000u, rl->packets_per_s);
	EP_CONF_U32(rd, g, "packets_burst", 1, 4000000000u, rl->packets_burst);
	EP_CONF_U32(rd, g, "bytes_per_s", 0, 4000000000u, rl->bytes_per_s);
	EP_CONF_U32(rd, g, "bytes_burst", 1500, 4000000000u, rl->bytes_burst);
	if (!gateway)
		return;
	EP_CONF_U32(rd, g, "tasks_per_s", 0, 4000000000u, rl->tasks_per_s);
	EP_CONF_U32(rd, g, "tasks_burst", 1, 4000000000u, rl->tasks_burst);
	if (ep_conf_num(rd, g, "source_prefix_v4", 0, 32, &v))
		rl->prefix_v4 = (uint8_t)v;
	if (ep_conf_num(rd, g, "source_prefix_v6", 0, 128, &v))
		rl->prefix_v6 = (uint8_t)v;
}
