// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>

#include "edgeplane/log.h"
#include "edgeplane/util.h"

int ep_parse_long(const char *what, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi) {
		pr_err("%s: '%s' is not a number in %ld..%ld", what, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
