// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * PNG <-> 8-bit gray frames with libpng's low-level API: its transforms do the conversions
 * (palette, bit depth, colour, alpha). libpng reports errors by longjmp() to the setjmp()
 * in the one function below that drives it; everything it allocated is reachable from
 * struct png_ctx, so the caller frees it on either path.
 */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeplane/payload.h"
#include "edgeplane/png.h"

struct png_mem {
	const uint8_t *p;
	size_t len, off;
};

struct png_ctx {
	png_structp png;
	png_infop info;
	uint8_t *px;
	png_bytep *rows;
	uint32_t w, h;
};

static void on_error(png_structp png, png_const_charp msg)
{
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
}

static void read_mem(png_structp png, png_bytep out, size_t n)
{
	struct png_mem *m = png_get_io_ptr(png);

	if (m->len - m->off < n)
		png_error(png, "truncated");
	memcpy(out, m->p + m->off, n);
	m->off += n;
}

/* Set the transforms to 8-bit gray and read the image into c->px. */
static int decode(struct png_ctx *c)
{
	int type, depth;

	if (setjmp(png_jmpbuf(c->png)))
		return -EINVAL;
	png_read_info(c->png, c->info);
	c->w = png_get_image_width(c->png, c->info);
	c->h = png_get_image_height(c->png, c->info);
	if (c->w > EP_IMG_MAX_DIM || c->h > EP_IMG_MAX_DIM)
		return -EFBIG;
	type = png_get_color_type(c->png, c->info);
	depth = png_get_bit_depth(c->png, c->info);
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(c->png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(c->png);
	if (depth == 16)
		png_set_scale_16(c->png);
	/* palette expansion turns tRNS into an alpha channel too */
	if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(c->png, c->info, PNG_INFO_tRNS))
		png_set_strip_alpha(c->png);
	if (type & PNG_COLOR_MASK_COLOR)
		png_set_rgb_to_gray_fixed(c->png, PNG_ERROR_ACTION_NONE, -1, -1);
	png_set_interlace_handling(c->png);
	png_read_update_info(c->png, c->info);
	if (png_get_channels(c->png, c->info) != 1 || png_get_bit_depth(c->png, c->info) != 8 ||
	    png_get_rowbytes(c->png, c->info) != c->w)
		return -EINVAL;

	c->px = malloc((size_t)c->w * c->h);
	c->rows = malloc(c->h * sizeof(*c->rows));
	if (!c->px || !c->rows)
		return -ENOMEM;
	for (uint32_t y = 0; y < c->h; y++)
		c->rows[y] = c->px + (size_t)y * c->w;
	png_read_image(c->png, c->rows);
	png_read_end(c->png, NULL);
	return 0;
}

/* Read from @fp, or from @mem when @fp is NULL. */
static int read_gray(FILE *fp, struct png_mem *mem, uint8_t **pixels, uint32_t *w, uint32_t *h)
{
	struct png_ctx c = { 0 };
	int err = -ENOMEM;

	c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
	if (!c.png)
		return -ENOMEM;
	c.info = png_create_info_struct(c.png);
	if (!c.info)
		goto out;
	if (fp)
		png_init_io(c.png, fp);
	else
		png_set_read_fn(c.png, mem, read_mem);
	err = decode(&c);
	if (!err) {
		*pixels = c.px;
		*w = c.w;
		*h = c.h;
		c.px = NULL;
	}
out:
	png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
	free(c.rows);
	free(c.px);
	return err;
}

int ep_png_decode_gray(const void *buf, size_t len, uint8_t **pixels, uint32_t *w, uint32_t *h)
{
	struct png_mem mem = { .p = buf, .len = len };

	return read_gray(NULL, &mem, pixels, w, h);
}

int ep_png_read_gray(const char *path, uint8_t **pixels, uint32_t *w, uint32_t *h)
{
	FILE *fp = fopen(path, "rb");
	int err;

	if (!fp)
		return -errno;
	err = read_gray(fp, NULL, pixels, w, h);
	fclose(fp);
	return err;
}

static int encode(png_structp png, png_infop info, FILE *fp, const uint8_t *px, uint32_t w,
		  uint32_t h)
{
	if (setjmp(png_jmpbuf(png)))
		return -EIO;
	png_init_io(png, fp);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (const uint8_t *row = px; row < px + (size_t)w * h; row += w)
		png_write_row(png, row);
	png_write_end(png, NULL);
	return 0;
}

int ep_png_write_gray(const char *path, const uint8_t *pixels, uint32_t w, uint32_t h)
{
	png_structp png;
	png_infop info;
	FILE *fp;
	int err = -ENOMEM;

	if (w < 1 || w > EP_IMG_MAX_DIM || h < 1 || h > EP_IMG_MAX_DIM)
		return -EINVAL;
	fp = fopen(path, "wb");
	if (!fp)
		return -errno;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (info)
		err = encode(png, info, fp, pixels, w, h);
	png_destroy_write_struct(&png, &info);
	if (fclose(fp) && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}
