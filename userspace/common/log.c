// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgeplane/log.h"

static enum ep_log_level cur_level = EP_LOG_INFO;
static const char *cur_ident = "edgeplane";

static const char *const level_names[] = {
	[EP_LOG_ERROR] = "error",
	[EP_LOG_WARN] = "warn",
	[EP_LOG_INFO] = "info",
	[EP_LOG_DEBUG] = "debug",
};

void ep_log_set_level(enum ep_log_level level)
{
	cur_level = level;
}

enum ep_log_level ep_log_get_level(void)
{
	return cur_level;
}

void ep_log_set_ident(const char *ident)
{
	cur_ident = ident;
}

int ep_log_parse_level(const char *s, enum ep_log_level *out)
{
	for (unsigned int i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum ep_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void ep_vlog(enum ep_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level > cur_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* One fprintf per line so that concurrent threads do not interleave mid-line. */
	fprintf(stderr, "%s: %s: %s\n", cur_ident, level_names[level], line);
}

void ep_log(enum ep_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ep_vlog(level, fmt, ap);
	va_end(ap);
}
