/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * warmup.h - cache warm-up: read every file the handlers asked for (reference frames,
 * tables, models) with io_uring before the runtime reports ready, all files in flight at
 * once instead of one blocking read after another.
 */
#ifndef EP_WARMUP_H
#define EP_WARMUP_H

#include <stddef.h>

#include "edgeplane/handler.h"

/* Read @n files into @out (path and data malloc'd; free both). Returns 0, or a negative
 * errno after logging which file failed (nothing is left allocated then). */
int ep_warmup_read(const char *const *paths, unsigned int n, struct ep_blob *out);

#endif /* EP_WARMUP_H */
