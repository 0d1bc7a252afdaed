/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* frame.h - the image payload (struct ep_img_hdr + pixels) as the handlers see it. */
#ifndef EP_HANDLERS_FRAME_H
#define EP_HANDLERS_FRAME_H

#include <string.h>

#include "edgeplane/payload.h"
#include "hutil.h"

struct ep_frame {
	const uint8_t *px;
	uint32_t w, h;
	uint32_t arg0, arg1, arg2;
};

static inline int ep_dim_ok(uint32_t d)
{
	return d >= 1 && d <= EP_IMG_MAX_DIM;
}

/* Pixels of the largest frame a task of env->max_task_len bytes can carry (>= 1). */
static inline uint32_t ep_frame_max_px(const struct ep_handler_env *env)
{
	uint32_t hdr = sizeof(struct ep_img_hdr);

	return env->max_task_len > hdr ? env->max_task_len - hdr : 1;
}

/* Largest width or height such a frame can have. */
static inline uint32_t ep_frame_max_dim(const struct ep_handler_env *env)
{
	uint32_t px = ep_frame_max_px(env);

	return px < EP_IMG_MAX_DIM ? px : EP_IMG_MAX_DIM;
}

/* Parse the header: 1 if the dimensions are valid (nothing else is checked). */
static inline int ep_frame_peek(const struct ep_hreq *req, struct ep_frame *f)
{
	struct ep_img_hdr hdr;

	if (req->len < sizeof(hdr))
		return 0;
	memcpy(&hdr, req->data, sizeof(hdr));
	f->px = req->data + sizeof(hdr);
	f->w = ep_be16(hdr.width);
	f->h = ep_be16(hdr.height);
	f->arg0 = ep_be16(hdr.arg0);
	f->arg1 = ep_be16(hdr.arg1);
	f->arg2 = ep_be32(hdr.arg2);
	return ep_dim_ok(f->w) && ep_dim_ok(f->h) && !hdr.rsvd;
}

/* Validate header and length; returns 1, or 0 with @res failed. Args are the caller's. */
static inline int ep_frame_parse(const struct ep_hreq *req, struct ep_frame *f, struct ep_hres *res)
{
	if (req->len < sizeof(struct ep_img_hdr)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "truncated image header");
		return 0;
	}
	if (!ep_frame_peek(req, f)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT,
			     ep_dim_ok(f->w) && ep_dim_ok(f->h) ? "rsvd must be zero"
								: "bad image dimensions");
		return 0;
	}
	if (req->len - sizeof(struct ep_img_hdr) != f->w * f->h) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "payload length != width * height");
		return 0;
	}
	return 1;
}

/* Header of an image result: the dimensions, args and rsvd zero. */
static inline void ep_frame_put_hdr(uint8_t *out, uint32_t w, uint32_t h)
{
	struct ep_img_hdr hdr = {
		.width = ep_be16(w),
		.height = ep_be16(h),
	};

	memcpy(out, &hdr, sizeof(hdr));
}

#endif /* EP_HANDLERS_FRAME_H */
