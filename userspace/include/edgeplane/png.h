/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * png.h - 8-bit grayscale frames to and from PNG files, with libpng.
 *
 * Reading accepts any PNG: gray, RGB, palette, 1..16 bits, with or without alpha, and
 * interlaced. Colour becomes gray through libpng's rgb_to_gray: Rec. 709 luminance, in
 * linear light when the file declares its colour space (gAMA, sRGB, iCCP), else of the
 * stored values. 16-bit samples are scaled to 8 bits and alpha is dropped (the colour
 * values are kept). Frames are row-major, stride = width, as in the image payloads of
 * edgeplane/payload.h.
 *
 * Every function returns 0 or a negative errno: -EINVAL for a file that is not a valid PNG
 * (corrupt, truncated, bad CRC of a critical chunk), -EFBIG for a width or height above
 * EP_IMG_MAX_DIM, -ENOMEM, or the errno of the failed file operation. libpng's errors and
 * warnings are not printed. Reentrant.
 */
#ifndef EDGEPLANE_PNG_H
#define EDGEPLANE_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Decode the PNG in @buf (@len bytes). On success *pixels is a malloc'd frame of
 * *w x *h bytes that the caller frees; on failure nothing is allocated. */
int ep_png_decode_gray(const void *buf, size_t len, uint8_t **pixels, uint32_t *w, uint32_t *h);

/* As ep_png_decode_gray(), from the file at @path. */
int ep_png_read_gray(const char *path, uint8_t **pixels, uint32_t *w, uint32_t *h);

/* Write @w x @h (1..EP_IMG_MAX_DIM each) gray pixels to @path as an 8-bit gray PNG,
 * replacing the file. On failure the file is removed. */
int ep_png_write_gray(const char *path, const uint8_t *pixels, uint32_t w, uint32_t h);

#endif /* EDGEPLANE_PNG_H */
