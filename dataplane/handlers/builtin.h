/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * builtin.h - the runtime's built-in task handlers (docs/handlers.md).
 *
 * Payload formats and default task types are in edgeplane/payload.h; the handler ABI is
 * edgeplane/handler.h. Each handler keeps its scratch per worker (see hutil.h).
 */
#ifndef EP_HANDLERS_BUILTIN_H
#define EP_HANDLERS_BUILTIN_H

#include <stdbool.h>

#include "edgeplane/handler.h"
#include "edgeplane/payload.h"

/* Every built-in handler, NULL-terminated. */
extern const struct ep_handler *const ep_builtin_handlers[];
/* Whether a built-in cannot run without settings (infer needs its model file), so that a
 * node configured with no handler list leaves it out. */
bool ep_builtin_needs_config(const struct ep_handler *h);

extern const struct ep_handler ep_echo_handler;
extern const struct ep_handler ep_checksum_handler;
extern const struct ep_handler ep_resize_handler;
extern const struct ep_handler ep_box_blur_handler;
extern const struct ep_handler ep_gauss_blur_handler;
extern const struct ep_handler ep_sobel_handler;
extern const struct ep_handler ep_threshold_handler;
extern const struct ep_handler ep_blobs_handler;
extern const struct ep_handler ep_zstd_handler;
extern const struct ep_handler ep_matmul_handler;
extern const struct ep_handler ep_infer_handler;

#endif /* EP_HANDLERS_BUILTIN_H */
