// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Payloads of the built-in task types (edgeplane/payload.h), from files or generated. */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edgeload.h"
#include "ep_shared.h"
#include "edgeplane/log.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "edgeplane/util.h"

static int read_file(const char *path, uint8_t **out, uint32_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	if (!f || fstat(fileno(f), &st)) {
		int err = errno > 0 ? -errno : -EIO; /* before pr_err() and fclose() change it */

		pr_err("%s: %s", path, strerror(-err));
		if (f)
			fclose(f);
		return err;
	}
	if (st.st_size > EP_MAX_TASK_LEN) {
		pr_err("%s: larger than a task may be (%u bytes)", path, EP_MAX_TASK_LEN);
		fclose(f);
		return -EFBIG;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		pr_err("%s: read failed", path);
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = buf;
	*len = (uint32_t)st.st_size;
	return 0;
}

static int image_payload(const struct opts *o, uint8_t **out, uint32_t *len)
{
	const struct task_args *a = &o->args;
	struct ep_img_hdr h = { 0 };
	uint32_t w, ht, arg2 = 0;
	uint16_t arg0 = 0, arg1 = 0;
	uint8_t *px, *buf;
	int err;

	err = ep_png_read_gray(o->in, &px, &w, &ht);
	if (err) {
		pr_err("%s: not a readable PNG image (%s)", o->in, strerror(-err));
		return err;
	}
	switch (o->kind->type) {
	case EP_TT_RESIZE:
		arg0 = (uint16_t)(a->width ? a->width : (int)w / 2);
		arg1 = (uint16_t)(a->height ? a->height : (int)ht / 2);
		break;
	case EP_TT_BOX_BLUR:
		arg0 = (uint16_t)a->radius;
		break;
	case EP_TT_GAUSS_BLUR:
		arg0 = (uint16_t)a->sigma100;
		break;
	case EP_TT_THRESHOLD:
		arg0 = a->level < 0 ? EP_IMG_OTSU : (uint16_t)a->level;
		arg1 = a->invert;
		break;
	case EP_TT_BLOBS:
		arg0 = a->level < 0 ? EP_IMG_OTSU : (uint16_t)a->level;
		arg1 = (uint16_t)a->min_area;
		arg2 = (a->dark ? EP_BLOBS_F_DARK : 0) | (a->blur ? EP_BLOBS_F_BLUR : 0) |
		       (a->conn8 ? EP_BLOBS_F_CONN8 : 0) |
		       (a->reference ? EP_BLOBS_F_REFERENCE : 0) |
		       (a->no_border ? EP_BLOBS_F_NO_BORDER : 0);
		break;
	}
	h.width = htons((uint16_t)w);
	h.height = htons((uint16_t)ht);
	h.arg0 = htons(arg0);
	h.arg1 = htons(arg1);
	h.arg2 = htonl(arg2);
	*len = (uint32_t)sizeof(h) + w * ht;
	buf = malloc(*len);
	if (!buf) {
		free(px);
		return -ENOMEM;
	}
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), px, (size_t)w * ht);
	free(px);
	*out = buf;
	return 0;
}

static int matmul_payload(const struct opts *o, uint8_t **out, uint32_t *len)
{
	const struct task_args *a = &o->args;
	uint64_t s = a->seed ? a->seed : 1;
	size_t nf = (size_t)a->n * a->k + (size_t)a->k * a->m;
	struct ep_matmul_req r = { htonl((uint32_t)a->n), htonl((uint32_t)a->k),
				   htonl((uint32_t)a->m), 0 };
	uint8_t *buf;

	if (sizeof(r) + nf * 4 > EP_MAX_TASK_LEN)
		return -EMSGSIZE;
	*len = (uint32_t)(sizeof(r) + nf * 4);
	buf = malloc(*len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &r, sizeof(r));
	for (size_t i = 0; i < nf; i++) { /* float32, little-endian, in [-1, 1) */
		float v = (float)((double)(ep_xorshift64(&s) >> 11) / 9007199254740992.0 * 2 - 1);
		uint32_t bits;

		memcpy(&bits, &v, 4);
		bits = htole32(bits);
		memcpy(buf + sizeof(r) + i * 4, &bits, 4);
	}
	*out = buf;
	return 0;
}

int task_payload(const struct opts *o, uint8_t **out, uint32_t *len)
{
	uint8_t *raw = NULL, *buf;
	uint32_t n = o->size;
	uint64_t s = o->args.seed ? o->args.seed : 1;
	int err;

	if (o->kind->image)
		return image_payload(o, out, len);
	if (o->kind->type == EP_TT_MATMUL)
		return matmul_payload(o, out, len);
	if (o->in) {
		err = read_file(o->in, &raw, &n);
		if (err)
			return err;
		assert(raw); /* read_file() gives a buffer where it returns 0 */
	} else {
		raw = malloc(n ? n : 1);
		if (!raw)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) /* compressible, like real data */
			raw[i] = (uint8_t)("edgeplane "[i % 10] ^ (ep_xorshift64(&s) % 4 == 0));
	}
	if (o->kind->type != EP_TT_ZSTD) {
		*out = raw;
		*len = n;
		return 0;
	}
	buf = malloc(sizeof(struct ep_zstd_req) + n);
	if (!buf) {
		free(raw);
		return -ENOMEM;
	}
	buf[0] = (uint8_t)o->args.zstd_level;
	buf[1] = buf[2] = buf[3] = 0;
	memcpy(buf + sizeof(struct ep_zstd_req), raw, n);
	free(raw);
	*out = buf;
	*len = (uint32_t)sizeof(struct ep_zstd_req) + n;
	return 0;
}
