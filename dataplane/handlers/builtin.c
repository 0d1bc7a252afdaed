// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stddef.h>

#include "builtin.h"

const struct ep_handler *const ep_builtin_handlers[] = {
	&ep_echo_handler,	&ep_checksum_handler, &ep_resize_handler,    &ep_box_blur_handler,
	&ep_gauss_blur_handler, &ep_sobel_handler,    &ep_threshold_handler, &ep_blobs_handler,
	&ep_zstd_handler,	&ep_matmul_handler,   &ep_infer_handler,     NULL,
};

bool ep_builtin_needs_config(const struct ep_handler *h)
{
	return h == &ep_infer_handler;
}
