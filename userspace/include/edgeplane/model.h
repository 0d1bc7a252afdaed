/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * model.h - the model file of the infer handler (docs/handlers.md, "infer").
 *
 * A multi-layer perceptron: layer l computes y = W_l x + b_l, with ReLU between layers
 * and none after the last (logits). The file is little-endian throughout, like the
 * float32 it mostly holds:
 *
 *	struct ep_model_hdr			8 bytes
 *	__le32 dims[nlayers + 1]		input dim, then each layer's output dim
 *	per layer l = 0..nlayers-1:
 *		float32 W[dims[l + 1]][dims[l]]	row-major: row j holds output j's weights
 *		float32 b[dims[l + 1]]
 *
 * and nothing after. tests/tools/mkmodel writes such files.
 */
#ifndef EDGEPLANE_MODEL_H
#define EDGEPLANE_MODEL_H

#include <linux/types.h>

#define EP_MODEL_MAGIC	    "EPMD"
#define EP_MODEL_VERSION    1
#define EP_MODEL_MAX_LAYERS 8
#define EP_MODEL_MAX_DIM    4096

struct ep_model_hdr {
	char magic[4];	/* EP_MODEL_MAGIC, no NUL */
	__le16 version; /* EP_MODEL_VERSION */
	__le16 nlayers; /* 1..EP_MODEL_MAX_LAYERS */
};
_Static_assert(sizeof(struct ep_model_hdr) == 8, "ep_model_hdr layout");

/* Exact length of a model file with @nlayers layers and host-order @dims[nlayers + 1],
 * each at most EP_MODEL_MAX_DIM (then no 64-bit overflow is possible). */
static inline __u64 ep_model_file_len(unsigned int nlayers, const __u32 *dims)
{
	__u64 len = sizeof(struct ep_model_hdr) + 4ull * (nlayers + 1);

	for (unsigned int l = 0; l < nlayers; l++)
		len += 4ull * dims[l + 1] * (dims[l] + 1ull);
	return len;
}

#endif /* EDGEPLANE_MODEL_H */
