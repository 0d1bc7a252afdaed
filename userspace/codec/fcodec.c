// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The frame codec (edgeplane/fcodec.h): LOCO-I's median edge detector predicts each pixel
 * from its decoded neighbours, the residual goes to one of four streams by the local
 * activity (a coarse form of JPEG-LS's context modelling: each stream gets its own
 * entropy code), and zstd codes each stream. With max_error k > 0 the residual is
 * quantised with step 2k + 1 in a closed loop (the encoder predicts from the pixels the
 * decoder will see), as JPEG-LS's near-lossless mode does, so every pixel is within +-k.
 *
 * Why not CharLS (JPEG-LS) itself: measured on the scikit-image frames it codes at 15..60
 * MB/s on this project's machine, far below the 300 MB/s goal, and its lossless files are
 * larger than PNG's on moon; docs/benchmarks.md ("Frame codec") has the numbers. zstd,
 * which the project already uses, does the entropy coding here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
/* ZSTD_c_literalCompressionMode: an experimental parameter; refused by a libzstd without
 * it, and then only the speed of the fastest levels suffers. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "edgeplane/fcodec.h"
#include "edgeplane/imgstat.h"
#include "edgeplane/payload.h"

#define IMG_HDR sizeof(struct ep_img_hdr)
#define FC_HDR	sizeof(struct ep_fc_hdr)

struct ep_fc_enc {
	ZSTD_CCtx *cctx;
	uint8_t *streams; /* EP_FC_NCTX x 2 npix: untouched pages are not committed */
	uint8_t *rec;	  /* bounded-error mode: the decoder's pixels */
	size_t cap;	  /* pixels the buffers hold */
	uint8_t row_res[EP_IMG_MAX_DIM], row_ctx[EP_IMG_MAX_DIM];
};

struct ep_fc_dec {
	ZSTD_DCtx *dctx;
	uint8_t *res; /* the decoded streams, one after another */
	size_t cap;
};

static inline uint32_t get_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The median edge detector: min(a, b) above an edge, max(a, b) below one, else the
 * plane through a, b, c. */
static inline int med(int a, int b, int c)
{
	int mx = a > b ? a : b, mn = a < b ? a : b;

	return c >= mx ? mn : c <= mn ? mx : a + b - c;
}

static inline int iabs(int v)
{
	return v < 0 ? -v : v;
}

/* The context of a pixel: its neighbourhood's activity, bucketed; masked to 0 with one
 * stream. */
static inline unsigned int ctx_of(int a, int b, int c, int d, unsigned int mask)
{
	int g = iabs(d - b) + iabs(b - c) + iabs(c - a);

	return ((g >= EP_FC_CTX_T1) + (g >= EP_FC_CTX_T2) + (g >= EP_FC_CTX_T3)) & mask;
}

/*
 * The neighbours of pixel x of a row (@r the row so far, @u the row above or NULL for the
 * first row), the same in encoder and decoder: above the first row and left of the first
 * column they repeat what is there (the first pixel has 0 for all).
 */
static inline void neighbours(const uint8_t *r, const uint8_t *u, uint32_t x, uint32_t w, int *a,
			      int *b, int *c, int *d)
{
	if (!u) {
		*a = *b = *c = *d = x ? r[x - 1] : 0;
	} else if (!x) {
		*a = *b = *c = u[0];
		*d = w > 1 ? u[1] : u[0];
	} else {
		*a = r[x - 1];
		*b = u[x];
		*c = u[x - 1];
		*d = x + 1 < w ? u[x + 1] : u[x];
	}
}

struct ep_fc_enc *ep_fc_enc_new(void)
{
	struct ep_fc_enc *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->cctx = ZSTD_createCCtx();
	if (!e->cctx) {
		free(e);
		errno = ENOMEM;
		return NULL;
	}
	return e;
}

void ep_fc_enc_free(struct ep_fc_enc *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->cctx);
	free(e->streams);
	free(e->rec);
	free(e);
}

struct ep_fc_dec *ep_fc_dec_new(void)
{
	struct ep_fc_dec *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

void ep_fc_dec_free(struct ep_fc_dec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d->res);
	free(d);
}

/*
 * One row's interior (pixels 1 .. w-2 of a row below the first) of the lossless coder,
 * written for the vectoriser: the median edge detector as median(a, b, a + b - c), the
 * residual and the context of every pixel into @res and @ctx. Built twice, for AVX2 and
 * for the baseline, and chosen per call (not with target_clones: an ifunc resolver runs
 * before a sanitizer's runtime is up, and ThreadSanitizer builds crash in it).
 */
#define ROW_INTERIOR(name, attr)                                                            \
	attr static void name(const uint8_t *r, const uint8_t *u, uint32_t w, uint8_t *res, \
			      uint8_t *ctx)                                                 \
	{                                                                                   \
		for (uint32_t x = 1; x + 1 < w; x++) {                                      \
			int16_t a = r[x - 1], b = u[x], c = u[x - 1], d = u[x + 1];         \
			int16_t mx = a > b ? a : b, mn = a < b ? a : b;                     \
			int16_t p = (int16_t)(a + b - c);                                   \
			int16_t db = (int16_t)(d - b), bc = (int16_t)(b - c);               \
			int16_t ca = (int16_t)(c - a), g;                                   \
                                                                                            \
			p = p < mn ? mn : p > mx ? mx : p;                                  \
			g = (int16_t)((db < 0 ? -db : db) + (bc < 0 ? -bc : bc) +           \
				      (ca < 0 ? -ca : ca));                                 \
			res[x] = (uint8_t)(r[x] - p);                                       \
			ctx[x] = (uint8_t)((g >= EP_FC_CTX_T1) + (g >= EP_FC_CTX_T2) +      \
					   (g >= EP_FC_CTX_T3));                            \
		}                                                                           \
	}
ROW_INTERIOR(row_interior_base, )
#if defined(__x86_64__)
ROW_INTERIOR(row_interior_avx2, __attribute__((target("avx2"))))
#endif

static void row_interior(const uint8_t *r, const uint8_t *u, uint32_t w, uint8_t *res, uint8_t *ctx)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) {
		row_interior_avx2(r, u, w, res, ctx);
		return;
	}
#endif
	row_interior_base(r, u, w, res, ctx);
}

/* Lossless: the prediction uses the original pixels, so each row is independent; @res
 * and @ctx hold a row. */
static void split_lossless(const uint8_t *px, uint32_t w, uint32_t h, uint8_t **s,
			   unsigned int mask, uint8_t *res, uint8_t *ctx)
{
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *r = px + (size_t)y * w, *u = y ? r - w : NULL;
		int a, b, c, d;

		if (u && w > 2) {
			row_interior(r, u, w, res, ctx);
			for (uint32_t x = 0; x < w; x += w - 1) { /* the two edge pixels */
				neighbours(r, u, x, w, &a, &b, &c, &d);
				res[x] = (uint8_t)(r[x] - med(a, b, c));
				ctx[x] = (uint8_t)ctx_of(a, b, c, d, EP_FC_NCTX - 1);
			}
		} else {
			for (uint32_t x = 0; x < w; x++) {
				neighbours(r, u, x, w, &a, &b, &c, &d);
				res[x] = (uint8_t)(r[x] - med(a, b, c));
				ctx[x] = (uint8_t)ctx_of(a, b, c, d, EP_FC_NCTX - 1);
			}
		}
		if (!mask) {
			memcpy(s[0], res, w);
			s[0] += w;
			continue;
		}
		/* Every residual stored to all four streams, and only its own stream's end
		 * moves: no loop-carried dependency through memory, no branch. */
		{
			uint8_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];

			for (uint32_t x = 0; x < w; x++) {
				uint8_t v = res[x], k = ctx[x];

				*s0 = v;
				*s1 = v;
				*s2 = v;
				*s3 = v;
				s0 += k == 0;
				s1 += k == 1;
				s2 += k == 2;
				s3 += k == 3;
			}
			s[0] = s0;
			s[1] = s1;
			s[2] = s2;
			s[3] = s3;
		}
	}
}

/* A byte no quantised residual takes (|q| <= 85 for k >= 1): the pixel that follows is
 * coded exactly, its residual mod 256 in the next byte of the same stream. */
#define ESCAPE 0x80

/*
 * Bounded error: quantise each residual to the nearest multiple of 2k + 1 and predict
 * from the reconstruction @rec, which is what the decoder will have. Originals within
 * [@lo, @hi] are coded exactly. @qt maps a residual e (-255..255, at qt + 255) to its
 * quantised q: no division per pixel.
 */
static inline void near_px(const uint8_t *o, uint8_t *r, uint32_t x, int a, int b, int c, int d,
			   int lo, int hi, int step, const int8_t *qt, uint8_t **s,
			   unsigned int mask)
{
	int p = med(a, b, c), q, v;
	unsigned int i = ctx_of(a, b, c, d, mask);

	if (o[x] >= lo && o[x] <= hi) {
		*s[i]++ = ESCAPE;
		*s[i]++ = (uint8_t)(o[x] - p);
		r[x] = o[x];
		return;
	}
	q = qt[o[x] - p];
	v = p + q * step;
	r[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
	*s[i]++ = (uint8_t)(int8_t)q;
}

static void split_near(const uint8_t *px, uint8_t *rec, uint32_t w, uint32_t h, unsigned int k,
		       int lo, int hi, uint8_t **s, unsigned int mask)
{
	int step = 2 * (int)k + 1;
	int8_t qtab[511], *qt = qtab + 255;

	for (int e = -255; e <= 255; e++)
		qt[e] = (int8_t)(e >= 0 ? (e + (int)k) / step : -((-e + (int)k) / step));
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *o = px + (size_t)y * w;
		uint8_t *r = rec + (size_t)y * w;
		const uint8_t *u = y ? r - w : NULL;
		uint32_t x = 0;
		int a, b, c, d;

		if (u && w > 2) {
			neighbours(r, u, 0, w, &a, &b, &c, &d);
			near_px(o, r, 0, a, b, c, d, lo, hi, step, qt, s, mask);
			for (x = 1; x + 1 < w; x++)
				near_px(o, r, x, r[x - 1], u[x], u[x - 1], u[x + 1], lo, hi, step,
					qt, s, mask);
		}
		for (; x < w; x++) {
			neighbours(r, u, x, w, &a, &b, &c, &d);
			near_px(o, r, x, a, b, c, d, lo, hi, step, qt, s, mask);
		}
	}
}

static int enc_reserve(struct ep_fc_enc *e, size_t npix)
{
	uint8_t *s, *r;

	if (npix <= e->cap)
		return 0;
	/* Each stream may hold two bytes a pixel (escapes); pages never written are not
	 * committed. */
	s = malloc(npix * 2 * EP_FC_NCTX);
	r = malloc(npix);
	if (!s || !r) {
		free(s);
		free(r);
		return -ENOMEM;
	}
	free(e->streams);
	free(e->rec);
	e->streams = s;
	e->rec = r;
	e->cap = npix;
	return 0;
}

/* zstd the streams @s (each from its base in e->streams) after the headers at @o. */
static ssize_t pack(struct ep_fc_enc *e, const void *in, uint8_t *o, size_t cap, size_t npix,
		    unsigned int k, unsigned int nctx, uint8_t *const *s)
{
	size_t off = IMG_HDR + FC_HDR + 4 * nctx;

	memcpy(o, in, IMG_HDR);
	o[IMG_HDR] = EP_FC_VERSION;
	o[IMG_HDR + 1] = (uint8_t)k;
	o[IMG_HDR + 2] = (uint8_t)nctx;
	o[IMG_HDR + 3] = 0;
	for (unsigned int i = 0; i < nctx; i++) {
		uint8_t *base = e->streams + i * 2 * npix;
		size_t n = (size_t)(s[i] - base);

		if (n) {
			n = ZSTD_compress2(e->cctx, o + off, cap - off, base, n);
			if (ZSTD_isError(n))
				return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
					       ? -ENOSPC
					       : -ENOMEM;
		}
		put_be32(o + IMG_HDR + FC_HDR + 4 * i, (uint32_t)n);
		off += n;
	}
	return (ssize_t)off;
}

static int set_level(ZSTD_CCtx *cctx, int level)
{
	if (!level)
		level = EP_FC_LEVEL_DEFAULT;
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	if (ZSTD_isError(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)))
		return -EINVAL;
	/* zstd's negative levels store literals raw; residuals are nearly all literals, and
	 * their Huffman code is the compression. */
	if (level < 0)
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
	return 0;
}

ssize_t ep_fc_encode(struct ep_fc_enc *e, const void *in, size_t len,
		     const struct ep_fc_params *prm, void *out, size_t cap)
{
	const struct ep_img_hdr *ih = in;
	const uint8_t *px = (const uint8_t *)in + IMG_HDR;
	unsigned int nctx, mask, k = prm->max_error;
	uint8_t *s[EP_FC_NCTX];
	uint32_t w, h, hist[256];
	int err, keep = prm->keep;
	size_t npix;

	if (len < IMG_HDR || k > EP_FC_MAX_ERROR ||
	    (keep != EP_FC_KEEP_NONE && keep != EP_FC_KEEP_OTSU && (keep < 0 || keep > 255)))
		return -EINVAL;
	w = get_be16((const uint8_t *)&ih->width);
	h = get_be16((const uint8_t *)&ih->height);
	npix = (size_t)w * h;
	if (!w || !h || w > EP_IMG_MAX_DIM || h > EP_IMG_MAX_DIM || len != IMG_HDR + npix)
		return -EINVAL;
	/* Four streams cost some 40 bytes of zstd headers more than one. */
	nctx = npix >= 4096 ? EP_FC_NCTX : 1;
	mask = nctx - 1;
	if (cap < IMG_HDR + FC_HDR + 4 * nctx)
		return -ENOSPC;
	err = enc_reserve(e, npix);
	if (!err)
		err = set_level(e->cctx, prm->level);
	if (err)
		return err;
	if (keep == EP_FC_KEEP_OTSU) {
		ep_histogram(px, npix, hist);
		keep = (int)ep_otsu_level(hist);
	}
	/* With a level to keep, originals within [level - k + 1, level + k] are exact, so
	 * no pixel crosses it; Otsu's level is kept with a margin of d more, which widens
	 * until the decoded frame's Otsu level is the original's (else: lossless). */
	for (int d = prm->keep == EP_FC_KEEP_OTSU ? 1 : 0; k; d = d ? d * 4 : 1) {
		int lo = keep == EP_FC_KEEP_NONE ? 256 : keep - (int)k + 1 - d;
		int hi = keep == EP_FC_KEEP_NONE ? -1 : keep + (int)k + d;

		if (d > 64) {
			k = 0;
			break;
		}
		for (unsigned int i = 0; i < EP_FC_NCTX; i++)
			s[i] = e->streams + i * 2 * npix;
		split_near(px, e->rec, w, h, k, lo, hi, s, mask);
		if (prm->keep != EP_FC_KEEP_OTSU)
			break;
		ep_histogram(e->rec, npix, hist);
		if ((int)ep_otsu_level(hist) == keep)
			break;
	}
	if (!k) {
		for (unsigned int i = 0; i < EP_FC_NCTX; i++)
			s[i] = e->streams + i * 2 * npix;
		split_lossless(px, w, h, s, mask, e->row_res, e->row_ctx);
	}
	return pack(e, in, out, cap, npix, k, nctx, s);
}

int ep_fc_peek(const void *in, size_t len, uint32_t *out_len, unsigned int *max_error)
{
	const uint8_t *p = in;
	uint32_t w, h, nctx;
	uint64_t sum;

	if (len < IMG_HDR + FC_HDR)
		return -EBADMSG;
	w = get_be16(p);
	h = get_be16(p + 2);
	nctx = p[IMG_HDR + 2];
	if (!w || !h || w > EP_IMG_MAX_DIM || h > EP_IMG_MAX_DIM || p[IMG_HDR] != EP_FC_VERSION ||
	    p[IMG_HDR + 1] > EP_FC_MAX_ERROR || (nctx != 1 && nctx != EP_FC_NCTX) ||
	    p[IMG_HDR + 3] || len < IMG_HDR + FC_HDR + 4 * nctx)
		return -EBADMSG;
	sum = IMG_HDR + FC_HDR + 4 * nctx;
	for (uint32_t i = 0; i < nctx; i++)
		sum += get_be32(p + IMG_HDR + FC_HDR + 4 * i);
	if (sum != len)
		return -EBADMSG;
	*out_len = (uint32_t)(IMG_HDR + (size_t)w * h);
	*max_error = p[IMG_HDR + 1];
	return 0;
}

/* Rebuild the pixels from the residual streams. Returns 0, or -EBADMSG when a context's
 * stream runs out. */
static int rebuild(uint8_t *px, uint32_t w, uint32_t h, unsigned int k, const uint8_t **s,
		   const uint8_t *const *end, unsigned int mask)
{
	int step = 2 * (int)k + 1;

	for (uint32_t y = 0; y < h; y++) {
		uint8_t *r = px + (size_t)y * w;
		const uint8_t *u = y ? r - w : NULL;

		for (uint32_t x = 0; x < w; x++) {
			int a, b, c, d, p, v;
			unsigned int i;
			uint8_t q;

			neighbours(r, u, x, w, &a, &b, &c, &d);
			p = med(a, b, c);
			i = ctx_of(a, b, c, d, mask);
			if (s[i] == end[i])
				return -EBADMSG;
			q = *s[i]++;
			if (!k) {
				r[x] = (uint8_t)(p + q);
			} else if (q == ESCAPE) {
				if (s[i] == end[i])
					return -EBADMSG;
				r[x] = (uint8_t)(p + *s[i]++);
			} else {
				v = p + (int8_t)q * step;
				r[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
	}
	return 0;
}

int ep_fc_decode(struct ep_fc_dec *d, const void *in, size_t len, void *out, size_t out_len)
{
	const uint8_t *p = in, *s[EP_FC_NCTX], *end[EP_FC_NCTX];
	unsigned int k, nctx;
	uint32_t want, w, h;
	size_t npix, off, got = 0;
	int err;

	err = ep_fc_peek(in, len, &want, &k);
	if (err)
		return err;
	if (out_len != want)
		return -EBADMSG;
	w = get_be16(p);
	h = get_be16(p + 2);
	npix = (size_t)w * h;
	nctx = p[IMG_HDR + 2];
	/* Lossless: one byte a pixel; bounded error: up to two (escapes). */
	if (npix * (k ? 2 : 1) > d->cap) {
		uint8_t *b = malloc(npix * (k ? 2 : 1));

		if (!b)
			return -ENOMEM;
		free(d->res);
		d->res = b;
		d->cap = npix * (k ? 2 : 1);
	}
	off = IMG_HDR + FC_HDR + 4 * nctx;
	for (unsigned int i = 0; i < EP_FC_NCTX; i++)
		s[i] = end[i] = d->res;
	for (unsigned int i = 0; i < nctx; i++) {
		size_t n = get_be32(p + IMG_HDR + FC_HDR + 4 * i);
		unsigned long long size;

		s[i] = end[i] = d->res + got;
		if (!n)
			continue;
		/* Each stream says its size, within what the pixels can take. */
		size = ZSTD_getFrameContentSize(p + off, n);
		if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
		    size > (k ? 2 : 1) * npix - got)
			return -EBADMSG;
		if (ZSTD_findFrameCompressedSize(p + off, n) != n)
			return -EBADMSG; /* trailing bytes, or not one frame */
		if (ZSTD_decompressDCtx(d->dctx, d->res + got, (size_t)size, p + off, n) != size)
			return -EBADMSG;
		got += (size_t)size;
		end[i] = d->res + got;
		off += n;
	}
	if (got < npix)
		return -EBADMSG;
	memcpy(out, in, IMG_HDR);
	err = rebuild((uint8_t *)out + IMG_HDR, w, h, k, s, end, nctx - 1);
	if (err)
		return err;
	for (unsigned int i = 0; i < nctx; i++)
		if (s[i] != end[i])
			return -EBADMSG; /* bytes no pixel used */
	return 0;
}
