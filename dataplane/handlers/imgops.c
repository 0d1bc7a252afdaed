// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pixel kernels of the image handlers. The separable filters keep only the rows the
 * vertical pass needs: a ring of filtered rows, so scratch is O(kernel height * width) and
 * the output may overwrite the input (row y is written after every read of rows <= y).
 * Inner loops run over a whole row with no branches, so the compiler can vectorise them.
 */
#include <math.h>
#include <string.h>

#include "imgops.h"

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* Copy a row into @pad with @r replicated pixels on each side; returns the row start. */
static const uint8_t *pad_row(const uint8_t *in, uint8_t *pad, uint32_t w, unsigned int r)
{
	memset(pad, in[0], r);
	memcpy(pad + r, in, w);
	memset(pad + r + w, in[w - 1], r);
	return pad + r;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ---- Gaussian blur ---------------------------------------------------------------- */

void ep_gauss_kernel_init(struct ep_gauss_kernel *k, unsigned int sigma_centi)
{
	unsigned int r = (3 * sigma_centi + 99) / 100;
	double sigma = sigma_centi / 100.0, g[EP_GAUSS_MAX_RADIUS + 1], sum;
	uint32_t side = 0;

	if (r > EP_GAUSS_MAX_RADIUS)
		r = EP_GAUSS_MAX_RADIUS;
	sum = g[0] = 1.0;
	for (unsigned int i = 1; i <= r; i++) {
		g[i] = exp(-(double)(i * i) / (2 * sigma * sigma));
		sum += 2 * g[i];
	}
	k->radius = 0;
	for (unsigned int i = 1; i <= r; i++) {
		k->w[i] = (uint32_t)lround(g[i] / sum * (1 << 14));
		side += k->w[i];
		if (k->w[i])
			k->radius = i;
	}
	k->w[0] = (1 << 14) - 2 * side;
}

size_t ep_gauss_scratch_size(uint32_t w, uint32_t h, unsigned int radius)
{
	size_t rows = min_u32(h, 2 * radius + 1);

	return ALIGN64(w + 2 * radius) + ALIGN64(4 * (size_t)w) + 2 * rows * w;
}

/* Horizontal pass of one row: Q8 result, at most 255 << 8. */
static void gauss_row(const uint8_t *in, uint16_t *out, uint8_t *pad, uint32_t *acc, uint32_t w,
		      const struct ep_gauss_kernel *k)
{
	const uint8_t *c = pad_row(in, pad, w, k->radius);

	for (uint32_t x = 0; x < w; x++)
		acc[x] = k->w[0] * c[x];
	for (unsigned int i = 1; i <= k->radius; i++) {
		const uint8_t *l = c - i, *r = c + i;
		uint32_t q = k->w[i];

		for (uint32_t x = 0; x < w; x++)
			acc[x] += q * (uint32_t)(l[x] + r[x]);
	}
	for (uint32_t x = 0; x < w; x++)
		out[x] = (uint16_t)((acc[x] + (1 << 5)) >> 6);
}

void ep_gauss_blur(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h,
		   const struct ep_gauss_kernel *k, void *scratch)
{
	unsigned int r = k->radius;
	uint32_t nrows = min_u32(h, 2 * r + 1), next = 0;
	uint8_t *pad = scratch;
	uint32_t *acc = (uint32_t *)(pad + ALIGN64(w + 2 * r));
	uint16_t *ring = (uint16_t *)((uint8_t *)acc + ALIGN64(4 * (size_t)w));

#define RING_ROW(j) (ring + (size_t)((j) % nrows) * w)
	for (uint32_t y = 0; y < h; y++) {
		const uint16_t *mid;

		for (; next <= min_u32(y + r, h - 1); next++)
			gauss_row(src + (size_t)next * w, RING_ROW(next), pad, acc, w, k);
		mid = RING_ROW(y);
		for (uint32_t x = 0; x < w; x++)
			acc[x] = k->w[0] * mid[x];
		for (unsigned int i = 1; i <= r; i++) {
			const uint16_t *up = RING_ROW(y >= i ? y - i : 0);
			const uint16_t *dn = RING_ROW(min_u32(y + i, h - 1));
			uint32_t q = k->w[i];

			for (uint32_t x = 0; x < w; x++)
				acc[x] += q * (uint32_t)(up[x] + dn[x]);
		}
		for (uint32_t x = 0; x < w; x++)
			dst[(size_t)y * w + x] = (uint8_t)((acc[x] + (1u << 21)) >> 22);
	}
#undef RING_ROW
}

/* ---- Box blur --------------------------------------------------------------------- */

size_t ep_box_scratch_size(uint32_t w, uint32_t h, unsigned int r)
{
	size_t rows = min_u32(h, 2 * r + 2);

	return ALIGN64(w + 2 * r) + ALIGN64(4 * (size_t)w) + 2 * rows * w;
}

/* Horizontal window sums of one row (at most 255 * 129). */
static void box_row(const uint8_t *in, uint16_t *out, uint8_t *pad, uint32_t w, unsigned int r)
{
	const uint8_t *c = pad_row(in, pad, w, r);
	const uint8_t *enter = c + r, *leave = c - r - 1;
	uint32_t s = 0;

	for (int i = -(int)r; i <= (int)r; i++)
		s += c[i];
	out[0] = (uint16_t)s;
	for (uint32_t x = 1; x < w; x++) {
		s += enter[x] - leave[x];
		out[x] = (uint16_t)s;
	}
}

void ep_box_blur(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h, unsigned int r,
		 void *scratch)
{
	uint32_t nrows = min_u32(h, 2 * r + 2), next = 0, d = (2 * r + 1) * (2 * r + 1);
	/* floor(x / d) == (x * m) >> 40 for every x < 2^23 (the sums stay below 2^22.1). */
	uint64_t m = (1ull << 40) / d + 1;
	uint8_t *pad = scratch;
	uint32_t *col = (uint32_t *)(pad + ALIGN64(w + 2 * r));
	uint16_t *ring = (uint16_t *)((uint8_t *)col + ALIGN64(4 * (size_t)w));

#define RING_ROW(j) (ring + (size_t)((j) % nrows) * w)
#define FILL_TO(j)                  \
	for (; next <= (j); next++) \
	box_row(src + (size_t)next * w, RING_ROW(next), pad, w, r)

	FILL_TO(min_u32(r, h - 1));
	for (uint32_t x = 0; x < w; x++)
		col[x] = (r + 1) * RING_ROW(0)[x];
	for (uint32_t j = 1; j <= r; j++) {
		const uint16_t *row = RING_ROW(min_u32(j, h - 1));

		for (uint32_t x = 0; x < w; x++)
			col[x] += row[x];
	}
	for (uint32_t y = 0; y < h; y++) {
		const uint16_t *add, *sub;

		for (uint32_t x = 0; x < w; x++)
			dst[(size_t)y * w + x] = (uint8_t)(((col[x] + d / 2) * m) >> 40);
		if (y + 1 == h)
			break;
		FILL_TO(min_u32(y + r + 1, h - 1));
		add = RING_ROW(min_u32(y + r + 1, h - 1));
		sub = RING_ROW(y >= r ? y - r : 0);
		for (uint32_t x = 0; x < w; x++)
			col[x] += (uint32_t)add[x] - sub[x];
	}
#undef FILL_TO
#undef RING_ROW
}

/* ---- Sobel ------------------------------------------------------------------------ */

static inline uint8_t sobel_px(const uint8_t *a, const uint8_t *b, const uint8_t *c, uint32_t l,
			       uint32_t x, uint32_t r)
{
	int gx = (a[r] + 2 * b[r] + c[r]) - (a[l] + 2 * b[l] + c[l]);
	int gy = (c[l] + 2 * c[x] + c[r]) - (a[l] + 2 * a[x] + a[r]);
	int m = gx * gx + gy * gy;

	/* sqrt(m) is never within 1e-3 of k + 0.5 for integer m, so float rounds exactly. */
	return m >= 255 * 255 ? 255 : (uint8_t)(sqrtf((float)m) + 0.5f);
}

void ep_sobel(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h)
{
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *a = src + (size_t)(y ? y - 1 : 0) * w;
		const uint8_t *b = src + (size_t)y * w;
		const uint8_t *c = src + (size_t)min_u32(y + 1, h - 1) * w;
		uint8_t *o = dst + (size_t)y * w;

		if (w == 1) {
			o[0] = sobel_px(a, b, c, 0, 0, 0);
			continue;
		}
		o[0] = sobel_px(a, b, c, 0, 0, 1);
		for (uint32_t x = 1; x + 1 < w; x++)
			o[x] = sobel_px(a, b, c, x - 1, x, x + 1);
		o[w - 1] = sobel_px(a, b, c, w - 2, w - 1, w - 1);
	}
}

/* ---- Bilinear resize -------------------------------------------------------------- */

/* Source position of destination index @i in Q11: (i + 0.5) * sn / dn - 0.5, >= 0. */
static void resize_coord(uint32_t i, uint32_t sn, uint32_t dn, uint32_t *i0, uint32_t *i1,
			 uint32_t *f)
{
	int64_t s = ((int64_t)(2 * i + 1) * sn - dn) * 1024 / dn;

	if (s < 0)
		s = 0;
	*i0 = (uint32_t)(s >> 11);
	*f = (uint32_t)(s & 2047);
	if (*i0 >= sn - 1) {
		*i0 = sn - 1;
		*f = 0;
	}
	*i1 = min_u32(*i0 + 1, sn - 1);
}

size_t ep_resize_scratch_size(uint32_t dw)
{
	return 3 * 4 * (size_t)dw;
}

void ep_resize_bilinear(const uint8_t *src, uint32_t sw, uint32_t sh, uint8_t *dst, uint32_t dw,
			uint32_t dh, void *scratch)
{
	uint32_t *x0 = scratch, *x1 = x0 + dw, *fx = x1 + dw;

	for (uint32_t x = 0; x < dw; x++)
		resize_coord(x, sw, dw, &x0[x], &x1[x], &fx[x]);
	for (uint32_t y = 0; y < dh; y++) {
		uint32_t y0, y1, fy;
		const uint8_t *r0, *r1;
		uint8_t *o = dst + (size_t)y * dw;

		resize_coord(y, sh, dh, &y0, &y1, &fy);
		r0 = src + (size_t)y0 * sw;
		r1 = src + (size_t)y1 * sw;
		for (uint32_t x = 0; x < dw; x++) {
			uint32_t t = r0[x0[x]] * (2048 - fx[x]) + r0[x1[x]] * fx[x];
			uint32_t b = r1[x0[x]] * (2048 - fx[x]) + r1[x1[x]] * fx[x];

			o[x] = (uint8_t)((t * (2048 - fy) + b * fy + (1u << 21)) >> 22);
		}
	}
}
