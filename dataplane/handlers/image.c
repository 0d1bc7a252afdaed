// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Image -> image handlers: resize, box blur, Gaussian blur, Sobel, threshold. Each task is
 * struct ep_img_hdr + pixels; the result is a header with the output size (args zero) and
 * the output pixels. Arguments a type does not use must be zero.
 */
#include <errno.h>

#include "builtin.h"
#include "frame.h"
#include "imgops.h"

#define BOX_MAX_RADIUS	 64
#define GAUSS_MIN_SIGMA	 10
#define GAUSS_MAX_SIGMA	 2000
#define THRESHOLD_INVERT 0x1

/* Output bound of a same-size operation; 0 for a header it cannot read. */
static uint32_t same_out_size(void *state, const struct ep_hreq *req)
{
	struct ep_frame f;

	return ep_frame_peek(req, &f) ? sizeof(struct ep_img_hdr) + f.w * f.h : 0;
}

/* The work of a same-size operation costing @units a pixel; a header it cannot read
 * counts its bytes. */
static uint64_t per_pixel_work(const struct ep_hreq *req, uint64_t units)
{
	struct ep_frame f;

	return ep_frame_peek(req, &f) ? (uint64_t)f.w * f.h * units : req->len;
}

/* Room check and header of a same-size result; returns where the pixels go, or NULL. */
static uint8_t *same_out(const struct ep_hreq *req, struct ep_hres *res, const struct ep_frame *f)
{
	if (!ep_hres_room(res, req->len))
		return NULL;
	ep_frame_put_hdr(res->data, f->w, f->h);
	return res->data + sizeof(struct ep_img_hdr);
}

static int scratch_init(void **state, size_t len)
{
	struct ep_scratch *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (!ep_scratch_get(s, len)) {
		free(s);
		return -ENOMEM;
	}
	*state = s;
	return 0;
}

static void scratch_fini(void *state)
{
	ep_scratch_free(state);
	free(state);
}

/* ---- resize ----------------------------------------------------------------------- */

static int resize_init(const struct ep_handler_env *env, void **state)
{
	return scratch_init(state, ep_resize_scratch_size(EP_IMG_MAX_DIM));
}

static uint32_t resize_out_size(void *state, const struct ep_hreq *req)
{
	struct ep_frame f;

	if (!ep_frame_peek(req, &f) || !ep_dim_ok(f.arg0) || !ep_dim_ok(f.arg1))
		return 0;
	return sizeof(struct ep_img_hdr) + f.arg0 * f.arg1;
}

/* Bilinear: 1.5 ns an output pixel (four taps), 0.1 ns an input pixel. */
static uint64_t resize_work(void *state, const struct ep_hreq *req)
{
	struct ep_frame f;

	if (!ep_frame_peek(req, &f))
		return req->len;
	return 150ull * f.arg0 * f.arg1 + 10ull * f.w * f.h;
}

static void resize_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	uint32_t len;
	struct ep_frame f;
	void *scratch;

	if (!ep_frame_parse(req, &f, res) ||
	    ep_hres_bad_args(res, !ep_dim_ok(f.arg0) || !ep_dim_ok(f.arg1) || f.arg2,
			     "bad output dimensions"))
		return;
	len = sizeof(struct ep_img_hdr) + f.arg0 * f.arg1;
	scratch = ep_task_scratch(state, ep_resize_scratch_size(f.arg0), res);
	if (!scratch || !ep_hres_room(res, len))
		return;
	ep_frame_put_hdr(res->data, f.arg0, f.arg1);
	ep_resize_bilinear(f.px, f.w, f.h, res->data + sizeof(struct ep_img_hdr), f.arg0, f.arg1,
			   scratch);
	ep_hres_ok(res, len);
}

EP_DEFINE_HANDLER_EACH(ep_resize_handler, "resize", EP_TT_RESIZE, resize_one, .init = resize_init,
		       .fini = scratch_fini, .out_size = resize_out_size, .work = resize_work);

/* ---- box blur --------------------------------------------------------------------- */

static int box_init(const struct ep_handler_env *env, void **state)
{
	uint32_t d = ep_frame_max_dim(env);

	return scratch_init(state, ep_box_scratch_size(d, d, BOX_MAX_RADIUS));
}

/* Sliding sums: about 1 ns a pixel whatever the radius. */
static uint64_t box_work(void *state, const struct ep_hreq *req)
{
	return per_pixel_work(req, 100);
}

static void box_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct ep_frame f;
	uint8_t *out;
	void *scratch;

	if (!ep_frame_parse(req, &f, res) ||
	    ep_hres_bad_args(res, f.arg0 < 1 || f.arg0 > BOX_MAX_RADIUS || f.arg1 || f.arg2,
			     "radius must be 1..64"))
		return;
	out = same_out(req, res, &f);
	if (!out)
		return;
	scratch = ep_task_scratch(state, ep_box_scratch_size(f.w, f.h, f.arg0), res);
	if (!scratch)
		return;
	ep_box_blur(f.px, out, f.w, f.h, f.arg0, scratch);
	ep_hres_ok(res, req->len);
}

EP_DEFINE_HANDLER_EACH(ep_box_blur_handler, "box_blur", EP_TT_BOX_BLUR, box_one, .init = box_init,
		       .fini = scratch_fini, .out_size = same_out_size, .work = box_work);

/* ---- Gaussian blur ---------------------------------------------------------------- */

static int gauss_init(const struct ep_handler_env *env, void **state)
{
	uint32_t d = ep_frame_max_dim(env);

	return scratch_init(state, ep_gauss_scratch_size(d, d, EP_GAUSS_MAX_RADIUS));
}

/* Separable: 2 (2 radius + 1) taps a pixel at 0.12 ns, and 0.4 ns a pixel besides. */
static uint64_t gauss_work(void *state, const struct ep_hreq *req)
{
	struct ep_gauss_kernel k;
	struct ep_frame f;

	if (!ep_frame_peek(req, &f))
		return req->len;
	if (f.arg0 < GAUSS_MIN_SIGMA || f.arg0 > GAUSS_MAX_SIGMA)
		return req->len; /* run() refuses it */
	ep_gauss_kernel_init(&k, f.arg0);
	return (uint64_t)f.w * f.h * (40 + 12 * 2 * (2 * (uint64_t)k.radius + 1));
}

static void gauss_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct ep_gauss_kernel k;
	struct ep_frame f;
	uint8_t *out;
	void *scratch;

	if (!ep_frame_parse(req, &f, res) ||
	    ep_hres_bad_args(
		    res, f.arg0 < GAUSS_MIN_SIGMA || f.arg0 > GAUSS_MAX_SIGMA || f.arg1 || f.arg2,
		    "sigma must be 10..2000 hundredths"))
		return;
	out = same_out(req, res, &f);
	if (!out)
		return;
	ep_gauss_kernel_init(&k, f.arg0);
	scratch = ep_task_scratch(state, ep_gauss_scratch_size(f.w, f.h, k.radius), res);
	if (!scratch)
		return;
	ep_gauss_blur(f.px, out, f.w, f.h, &k, scratch);
	ep_hres_ok(res, req->len);
}

EP_DEFINE_HANDLER_EACH(ep_gauss_blur_handler, "gauss_blur", EP_TT_GAUSS_BLUR, gauss_one,
		       .init = gauss_init, .fini = scratch_fini, .out_size = same_out_size,
		       .work = gauss_work);

/* ---- Sobel ------------------------------------------------------------------------ */

/* Two 3x3 kernels and a square root: 2.1 ns a pixel. */
static uint64_t sobel_work(void *state, const struct ep_hreq *req)
{
	return per_pixel_work(req, 210);
}

static void sobel_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct ep_frame f;
	uint8_t *out;

	if (!ep_frame_parse(req, &f, res) ||
	    ep_hres_bad_args(res, f.arg0 || f.arg1 || f.arg2, "sobel takes no arguments"))
		return;
	out = same_out(req, res, &f);
	if (!out)
		return;
	ep_sobel(f.px, out, f.w, f.h);
	ep_hres_ok(res, req->len);
}

EP_DEFINE_HANDLER_EACH(ep_sobel_handler, "sobel", EP_TT_SOBEL, sobel_one, .out_size = same_out_size,
		       .work = sobel_work);

/* ---- threshold -------------------------------------------------------------------- */

/* A histogram (for Otsu) and a table lookup: 0.8 ns a pixel. */
static uint64_t threshold_work(void *state, const struct ep_hreq *req)
{
	return per_pixel_work(req, 80);
}

static void threshold_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	uint8_t lut[256];
	uint32_t hist[256];
	unsigned int level;
	struct ep_frame f;
	size_t npx;
	uint8_t *out;

	if (!ep_frame_parse(req, &f, res) ||
	    ep_hres_bad_args(res,
			     (f.arg0 > 255 && f.arg0 != EP_IMG_OTSU) ||
				     (f.arg1 & ~THRESHOLD_INVERT) || f.arg2,
			     "level must be 0..255 or Otsu"))
		return;
	out = same_out(req, res, &f);
	if (!out)
		return;
	npx = (size_t)f.w * f.h;
	level = f.arg0;
	if (level == EP_IMG_OTSU) {
		ep_histogram(f.px, npx, hist);
		level = ep_otsu_level(hist);
	}
	for (unsigned int v = 0; v < 256; v++)
		lut[v] = ((v > level) ^ (f.arg1 & THRESHOLD_INVERT)) ? 255 : 0;
	for (size_t i = 0; i < npx; i++)
		out[i] = lut[f.px[i]];
	ep_hres_ok(res, req->len);
}

EP_DEFINE_HANDLER_EACH(ep_threshold_handler, "threshold", EP_TT_THRESHOLD, threshold_one,
		       .out_size = same_out_size, .work = threshold_work);
