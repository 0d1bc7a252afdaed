/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * imgops.h - pixel kernels of the image handlers, on 8-bit gray frames (row-major,
 * stride = width). Pure functions: the caller validates sizes and provides scratch of the
 * size the matching *_scratch_size() returns. Edges are replicated.
 */
#ifndef EP_HANDLERS_IMGOPS_H
#define EP_HANDLERS_IMGOPS_H

#include <stddef.h>
#include <stdint.h>

#include "edgeplane/imgstat.h" /* ep_histogram(), ep_otsu_level() */

/* Gaussian kernel: radius ceil(3 sigma), weights in Q14 summing to exactly 1 << 14, trimmed
 * to the last non-zero weight. */
#define EP_GAUSS_MAX_RADIUS 60 /* sigma 20.0 */

struct ep_gauss_kernel {
	unsigned int radius;
	uint32_t w[EP_GAUSS_MAX_RADIUS + 1]; /* weight of offsets 0..radius (symmetric) */
};

/* @sigma_centi: sigma in hundredths, 1..2000. */
void ep_gauss_kernel_init(struct ep_gauss_kernel *k, unsigned int sigma_centi);
size_t ep_gauss_scratch_size(uint32_t w, uint32_t h, unsigned int radius);
/* Separable, fixed point (Q8 intermediate); within 1 of the exact convolution. @dst may
 * be @src. */
void ep_gauss_blur(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h,
		   const struct ep_gauss_kernel *k, void *scratch);

/* Mean over a (2r+1)^2 window, rounded half up; exact. Sliding sums, O(1) per pixel. */
size_t ep_box_scratch_size(uint32_t w, uint32_t h, unsigned int r);
void ep_box_blur(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h, unsigned int r,
		 void *scratch);

/* min(255, round(sqrt(gx^2 + gy^2))) of the 3x3 Sobel kernels. */
void ep_sobel(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h);

/* Bilinear, pixel centres aligned (src x = (x + 0.5) * sw / dw - 0.5), Q11 weights;
 * within 1 of the exact interpolation. */
size_t ep_resize_scratch_size(uint32_t dw);
void ep_resize_bilinear(const uint8_t *src, uint32_t sw, uint32_t sh, uint8_t *dst, uint32_t dw,
			uint32_t dh, void *scratch);

#endif /* EP_HANDLERS_IMGOPS_H */
