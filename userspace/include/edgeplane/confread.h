/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * confread.h - reading libconfig files strictly: an unknown setting, a wrong type or a
 * value out of range is an error that names the file, the line and the setting. Errors
 * are logged as they are found and remembered in rd->err, so one run reports them all.
 * Used by the runtime's and the controller's configuration readers.
 */
#ifndef EDGEPLANE_CONFREAD_H
#define EDGEPLANE_CONFREAD_H

#include <stdbool.h>

#include <libconfig.h>

struct ep_confread {
	const char *path;
	int err; /* 0, or -EINVAL after the first error */
};

/* config_read_file() with an error message. Returns 0 or -EINVAL (@cf is destroyed). */
int ep_conf_open(config_t *cf, const char *path);

/* Log "path:line: setting: @what" and remember the error. */
void ep_conf_bad(struct ep_confread *rd, const config_setting_t *s, const char *what);

/* Refuse any member of @group not in the NULL-terminated @names: a typo is not ignored. */
void ep_conf_known(struct ep_confread *rd, const config_setting_t *group, const char *const *names);

/* Each reads member @name of @g if it is there (and leaves *out alone if not). */
void ep_conf_str(struct ep_confread *rd, const config_setting_t *g, const char *name,
		 char **out); /* *out is freed and replaced with a copy */
bool ep_conf_num(struct ep_confread *rd, const config_setting_t *g, const char *name, long long lo,
		 long long hi, long long *out); /* true if read */
void ep_conf_bool(struct ep_confread *rd, const config_setting_t *g, const char *name, bool *out);
/* A safety switch: "@safe" (*unsafe = false) or "off-unsafe" (true), the name an operator
 * must write out to turn a protection off; anything else is an error. */
void ep_conf_unsafe(struct ep_confread *rd, const config_setting_t *g, const char *name,
		    const char *safe, bool *unsafe);
/* A non-empty array of at most @max integers in lo..hi. Returns their count, or 0. */
int ep_conf_int_list(struct ep_confread *rd, const config_setting_t *g, const char *name, int *out,
		     unsigned int max, int lo, int hi);

struct ep_rl_cfg;
/*
 * Group rate_limit (docs/operations.md): the XDP limits per source prefix. mode "on" or
 * "off-unsafe"; packets_per_s, packets_burst, bytes_per_s, bytes_burst; with @gateway also
 * tasks_per_s, tasks_burst and the source prefixes (a node reads those from limits).
 */
void ep_conf_rate_limit(struct ep_confread *rd, const config_setting_t *g, struct ep_rl_cfg *rl,
			bool gateway);

#define EP_CONF_U32(rd, g, name, lo, hi, dst)              \
	do {                                               \
		long long _v;                              \
		if (ep_conf_num(rd, g, name, lo, hi, &_v)) \
			(dst) = (uint32_t)_v;              \
	} while (0)

#endif /* EDGEPLANE_CONFREAD_H */
