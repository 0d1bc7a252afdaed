// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the frame codec (userspace/codec/fcodec.c) and of the client's choice of
 * mode (userspace/client/frame.c): lossless round trips are exact and bounded-error ones
 * within +-k, on the real photographs and on random and edge shapes (1 x N, N x 1, the
 * largest width and height, flat and noisy frames); a kept level is never crossed and
 * Otsu's level stays; malformed payloads (truncated, extended, flipped bits, wrong
 * headers and lengths) are refused, never read or written out of bounds (ASan); the mode
 * follows the link as docs/client.md says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/fcodec.h"
#include "edgeplane/imgstat.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "frame.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

#define HDR sizeof(struct ep_img_hdr)

static struct ep_fc_enc *enc;
static struct ep_fc_dec *dec;

/* An image payload of @w x @h: kind 0 random, 1 flat, 2 gradient with noise, 3 extremes
 * (0 and 255 in blocks, which push predictions to the clamps). */
static uint8_t *frame(uint32_t w, uint32_t h, int kind, uint32_t *len)
{
	struct ep_img_hdr hdr = { .width = htons((uint16_t)w),
				  .height = htons((uint16_t)h),
				  .arg0 = htons(EP_IMG_OTSU),
				  .arg1 = htons(20) };
	uint8_t *p;

	*len = (uint32_t)HDR + w * h;
	p = malloc(*len);
	memcpy(p, &hdr, HDR);
	for (uint32_t i = 0; i < w * h; i++) {
		uint32_t x = i % w, y = i / w;

		p[HDR + i] = kind == 0	 ? (uint8_t)rnd()
			     : kind == 1 ? 77
			     : kind == 2 ? (uint8_t)(x / 3 + y / 2 + (rnd() & 7))
					 : (((x / 5) ^ (y / 3)) & 1 ? 255 : 0);
	}
	return p;
}

/* Encode @in with @prm, decode, and return the largest pixel error (-1: did not round
 * trip, with a diagnostic); *coded = the coded size. */
static int round_trip(const uint8_t *in, uint32_t len, const struct ep_fc_params *prm,
		      size_t *coded)
{
	size_t cap = 2 * (size_t)len + 4096;
	uint8_t *out = malloc(cap), *back = malloc(len);
	unsigned int k;
	uint32_t n;
	ssize_t c;
	int maxd = 0;

	c = ep_fc_encode(enc, in, len, prm, out, cap);
	if (c <= 0) {
		tap_diag("encode: %zd", c);
		maxd = -1;
		goto out;
	}
	*coded = (size_t)c;
	if (ep_fc_peek(out, (size_t)c, &n, &k) || n != len || k > prm->max_error ||
	    ep_fc_decode(dec, out, (size_t)c, back, len) || memcmp(back, in, HDR)) {
		tap_diag("decode failed");
		maxd = -1;
		goto out;
	}
	for (uint32_t i = HDR; i < len; i++) {
		int d = abs((int)back[i] - (int)in[i]);

		maxd = d > maxd ? d : maxd;
	}
out:
	free(out);
	free(back);
	return maxd;
}

static void test_shapes(void)
{
	static const uint32_t dims[][2] = {
		{ 1, 1 },
		{ 1, 2 },
		{ 2, 1 },
		{ 1, 300 },
		{ 300, 1 },
		{ 2, 2 },
		{ 3, 3 },
		{ 64, 64 },
		{ 65, 63 },
		{ 100, 41 },
		{ EP_IMG_MAX_DIM, 2 },
		{ 2, EP_IMG_MAX_DIM },
		{ EP_IMG_MAX_DIM, 1 },
		{ 1, EP_IMG_MAX_DIM },
	};

	tap_begin();
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (int kind = 0; kind < 4; kind++) {
			uint32_t len;
			uint8_t *f = frame(dims[d][0], dims[d][1], kind, &len);
			struct ep_fc_params prm = { .keep = EP_FC_KEEP_NONE };
			size_t c;

			EXPECT_EQ(round_trip(f, len, &prm, &c), 0);
			for (unsigned int k = 1; k <= EP_FC_MAX_ERROR; k += k < 3 ? 1 : 12) {
				int e;

				prm.max_error = k;
				e = round_trip(f, len, &prm, &c);
				EXPECT(e >= 0 && e <= (int)k);
			}
			free(f);
		}
	tap_end("1x1 to 16384x2 and 1x16384, random, flat, gradient, extremes: lossless "
		"exact, k = 1, 2, 3, 15 within +-k");

	tap_begin();
	{
		uint32_t len;
		uint8_t *f = frame(640, 480, 2, &len);
		struct ep_fc_params prm = { .max_error = 2, .keep = EP_FC_KEEP_NONE };
		size_t ll, k2, lv;

		prm.max_error = 0;
		EXPECT_EQ(round_trip(f, len, &prm, &ll), 0);
		prm.max_error = 2;
		EXPECT(round_trip(f, len, &prm, &k2) <= 2);
		prm.level = 9;
		EXPECT(round_trip(f, len, &prm, &lv) <= 2);
		EXPECT(k2 < ll && ll < len / 2);
		tap_diag("640x480 gradient + noise: raw %u, lossless %zu, k=2 %zu, k=2 level 9 %zu",
			 len, ll, k2, lv);
		prm.level = 100;
		EXPECT_EQ(ep_fc_encode(enc, f, len, &prm, f, len), -EINVAL);
		prm.level = 0;
		prm.max_error = EP_FC_MAX_ERROR + 1;
		EXPECT_EQ(ep_fc_encode(enc, f, len, &prm, f, len), -EINVAL);
		prm.max_error = 0;
		prm.keep = 256;
		EXPECT_EQ(ep_fc_encode(enc, f, len, &prm, f, len), -EINVAL);
		prm.keep = EP_FC_KEEP_NONE;
		EXPECT_EQ(ep_fc_encode(enc, f, len - 1, &prm, f, len), -EINVAL);
		EXPECT_EQ(ep_fc_encode(enc, f, 10, &prm, f, len), -EINVAL);
		{
			uint8_t small[64];
			uint32_t rl;
			uint8_t *r = frame(64, 64, 0, &rl);

			/* Random pixels do not shrink: refused for want of room. */
			EXPECT_EQ(ep_fc_encode(enc, r, rl, &prm, small, sizeof(small)), -ENOSPC);
			free(r);
		}
		free(f);
	}
	tap_end("bounded error codes smaller than lossless; bad parameters and non-frames are "
		"-EINVAL, no room -ENOSPC");
}

/* Keep a level: thresholding the decoded frame at it gives the original's mask. */
static void test_keep(void)
{
	static const char *const names[] = { "camera.png", "coins.png", "text.png", "moon.png" };
	const char *build = getenv("BUILD");
	int tried = 0;

	tap_begin();
	for (int kind = 0; kind < 4; kind++) {
		uint32_t len;
		uint8_t *f = frame(200, 150, kind, &len);
		size_t cap = 2 * (size_t)len + 4096;
		uint8_t *out = malloc(cap), *back = calloc(1, len); /* zeros where decoding fails */

		for (int level = 0; level < 256; level += 51) {
			struct ep_fc_params prm = { .max_error = 3, .keep = level };
			ssize_t c = ep_fc_encode(enc, f, len, &prm, out, cap);

			EXPECT(c > 0 && !ep_fc_decode(dec, out, (size_t)c, back, len));
			for (uint32_t i = HDR; i < len; i++)
				if ((back[i] > level) != (f[i] > level) ||
				    abs((int)back[i] - (int)f[i]) > 3) {
					EXPECT(!"a pixel crossed the kept level or is off by more "
						"than k");
					break;
				}
		}
		free(f);
		free(out);
		free(back);
	}
	tap_end("a kept level 0..255 is never crossed, k = 3, four kinds of frame");

	tap_begin();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512];
		uint8_t *px, *f, *out, *back;
		uint32_t w, h, len, h0[256], h1[256];
		struct ep_fc_params prm = { .max_error = 2, .keep = EP_FC_KEEP_OTSU };
		struct ep_img_hdr hdr = { 0 };
		ssize_t c;

		snprintf(path, sizeof(path), "%s/data/images/%s", build && *build ? build : "build",
			 names[i]);
		if (ep_png_read_gray(path, &px, &w, &h))
			continue;
		tried++;
		hdr.width = htons((uint16_t)w);
		hdr.height = htons((uint16_t)h);
		len = (uint32_t)HDR + w * h;
		f = malloc(len);
		out = malloc(2 * (size_t)len + 4096);
		back = malloc(len);
		memcpy(f, &hdr, HDR);
		memcpy(f + HDR, px, (size_t)w * h);
		c = ep_fc_encode(enc, f, len, &prm, out, 2 * (size_t)len + 4096);
		EXPECT(c > 0 && !ep_fc_decode(dec, out, (size_t)c, back, len));
		ep_histogram(f + HDR, (size_t)w * h, h0);
		ep_histogram(back + HDR, (size_t)w * h, h1);
		EXPECT_EQ(ep_otsu_level(h0), ep_otsu_level(h1));
		for (uint32_t p = HDR; p < len; p++)
			if ((back[p] > ep_otsu_level(h0)) != (f[p] > ep_otsu_level(h0))) {
				EXPECT(!"a pixel crossed Otsu's level");
				break;
			}
		{
			struct ep_fc_params ll = { .keep = EP_FC_KEEP_NONE };
			size_t cl;

			EXPECT_EQ(round_trip(f, len, &ll, &cl), 0);
			ll.max_error = 2;
			EXPECT(round_trip(f, len, &ll, &cl) <= 2);
		}
		free(px);
		free(f);
		free(out);
		free(back);
	}
	if (tried)
		tap_end("real frames: lossless exact, k=2 within +-2, and with Otsu kept the "
			"decoded frame's Otsu level and mask are the original's");
	else
		tap_skip("real frames round trip", "no test images (make fetches them)");
}

/* Every way a payload can be malformed is refused with -EBADMSG, and no mutation makes
 * the decoder misbehave (ASan, UBSan). */
static void test_malformed(void)
{
	uint32_t len;
	uint8_t *f = frame(97, 61, 2, &len);
	size_t cap = 2 * (size_t)len + 4096;
	uint8_t *out = malloc(cap), *mut = malloc(cap), *back = malloc(len);
	struct ep_fc_params prm = { .max_error = 0, .keep = EP_FC_KEEP_NONE };
	ssize_t c = ep_fc_encode(enc, f, len, &prm, out, cap);
	unsigned int k;
	uint32_t n;

	tap_begin();
	EXPECT(c > 0);
	EXPECT_EQ(ep_fc_decode(dec, out, (size_t)c, back, len), 0);
	EXPECT_EQ(ep_fc_decode(dec, out, (size_t)c, back, len - 1), -EBADMSG);
	for (size_t cut = 0; cut < (size_t)c; cut += cut < 64 ? 1 : 97)
		EXPECT_EQ(ep_fc_decode(dec, out, cut, back, len), -EBADMSG);
	memcpy(mut, out, (size_t)c);
	mut[c] = 0;
	EXPECT_EQ(ep_fc_decode(dec, mut, (size_t)c + 1, back, len), -EBADMSG);
	tap_end("truncated anywhere, one byte too long, or the wrong output size: -EBADMSG");

	tap_begin();
	{
		static const struct {
			size_t off;
			uint8_t v;
		} bad[] = {
			{ 0, 0 },
			{ 1, 0 }, /* width 0 */
			{ 0, 0x40 },
			{ 1, 1 }, /* width 16385 */
			{ 2, 0 },
			{ 3, 0 }, /* height 0 */
			{ HDR, 0 },
			{ HDR, 2 }, /* version */
			{ HDR + 1, EP_FC_MAX_ERROR + 1 },
			{ HDR + 2, 0 },
			{ HDR + 2, 2 },
			{ HDR + 2, 5 },	   /* nctx */
			{ HDR + 3, 1 },	   /* reserved */
			{ HDR + 4, 0xff }, /* a stream's length */
			{ HDR + 7, 0 },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memcpy(mut, out, (size_t)c);
			if (bad[i].off == 1 && bad[i].v == 1)
				mut[0] = 0x40;
			mut[bad[i].off] = bad[i].v;
			if (!memcmp(mut, out, (size_t)c))
				continue;
			EXPECT(ep_fc_peek(mut, (size_t)c, &n, &k) || n != len ||
			       ep_fc_decode(dec, mut, (size_t)c, back, len) == -EBADMSG);
		}
	}
	tap_end("bad dimensions, version, max_error, context count, reserved byte, stream "
		"lengths: refused");

	tap_begin();
	{
		/* k=2 payload relabelled lossless and back, and streams swapped: checksums and
		 * stream accounting catch what the headers cannot. */
		struct ep_fc_params p2 = { .max_error = 2, .keep = EP_FC_KEEP_NONE };
		ssize_t c2 = ep_fc_encode(enc, f, len, &p2, mut, cap);
		int bad = 0;

		EXPECT(c2 > 0);
		mut[HDR + 1] = 0; /* now claims lossless: decodes to something, or not */
		(void)ep_fc_decode(dec, mut, (size_t)c2, back, len);
		for (int i = 0; i < 3000; i++) {
			memcpy(mut, out, (size_t)c);
			mut[rnd() % (size_t)c] ^= (uint8_t)(1u << (rnd() % 8));
			if (ep_fc_peek(mut, (size_t)c, &n, &k) || n != len)
				continue;
			if (ep_fc_decode(dec, mut, (size_t)c, back, len) == 0 &&
			    memcmp(back + HDR, f + HDR, len - HDR))
				bad++; /* a flipped bit in the header's args is fine */
		}
		EXPECT_EQ(bad, 0);
	}
	tap_end("3000 single bit flips: refused, or (in the frame header's args) decoded to "
		"the same pixels; never a wrong frame");
	free(f);
	free(out);
	free(mut);
	free(back);
}

/* The client's choice (docs/client.md, "Frame codec"). */
static void test_choose(void)
{
	struct ep_frame_state s = { 0 };
	const struct ep_frame_type *ft;

	tap_begin();
	EXPECT_EQ(ep_frame_set(&s, 20, 16, 0), -EINVAL);
	EXPECT_EQ(ep_frame_set(&s, 20, 2, 0x80), -EINVAL);
	EXPECT_EQ(ep_frame_set(&s, 20, 2, EP_FRAME_F_KEEP_LEVEL), 0);
	EXPECT_EQ(ep_frame_set(&s, 13, 0, 0), 0);
	ft = ep_frame_find(&s, 20);
	EXPECT(ft && ft->max_error == 2);
	EXPECT(!ep_frame_find(&s, 21));
	for (uint16_t t = 100; t < 100 + EP_FRAME_MAX_TYPES - 2; t++)
		EXPECT_EQ(ep_frame_set(&s, t, 0, 0), 0);
	EXPECT_EQ(ep_frame_set(&s, 999, 0, 0), -ENOSPC);
	EXPECT_EQ(ep_frame_set(&s, 100, 0, EP_FRAME_F_OFF), 0);
	EXPECT(!ep_frame_find(&s, 100));
	EXPECT_EQ(ep_frame_set(&s, 999, 0, 0), 0);
	tap_end("types: set, found, forgotten (EP_FRAME_F_OFF), at most 16, k <= 15");

	tap_begin();
	/* Untried modes are tried, bounded error first; then, the link unknown, the one that
	 * saves most. */
	EXPECT_EQ(ep_frame_choose(&s, ft, 0), EP_FRAME_BOUNDED);
	s.est[EP_FRAME_BOUNDED] = (struct ep_frame_est){ .enc_bps = 60e6, .saved = 0.75, .n = 1 };
	EXPECT_EQ(ep_frame_choose(&s, ft, 0), EP_FRAME_LOSSLESS);
	s.est[EP_FRAME_LOSSLESS] = (struct ep_frame_est){ .enc_bps = 300e6, .saved = 0.6, .n = 1 };
	EXPECT_EQ(ep_frame_choose(&s, ft, 0), EP_FRAME_BOUNDED);
	/* 1 MB/s: bounded error's time (1/60e6 + 0.25/1e6 a byte) is least. */
	EXPECT_EQ(ep_frame_choose(&s, ft, 1e6), EP_FRAME_BOUNDED);
	/* 100 MB/s: beyond what bounded error pays for (60e6 x 0.75 = 45e6), lossless pays
	 * (300e6 x 0.6 = 180e6): 1/300e6 + 0.4/100e6 < 1/100e6. */
	EXPECT_EQ(ep_frame_choose(&s, ft, 100e6), EP_FRAME_LOSSLESS);
	/* 1.25 GB/s (10 Gbit/s): faster than any coder: as it is. */
	EXPECT_EQ(ep_frame_choose(&s, ft, 1.25e9), EP_FRAME_OFF);
	/* A lossless-only type never gets bounded error. */
	EXPECT_EQ(ep_frame_choose(&s, ep_frame_find(&s, 13), 1e6), EP_FRAME_LOSSLESS);
	tap_end("the mode follows the link: bounded error on a slow one, lossless on a fast "
		"one, none beyond what the coder pays for; untried modes tried first");

	tap_begin();
	{
		uint32_t len;
		uint8_t *f = frame(320, 240, 2, &len), *out = malloc(len);
		struct ep_frame_state s2 = { 0 };
		uint32_t n;

		EXPECT_EQ(ep_frame_set(&s2, 20, 2, EP_FRAME_F_KEEP_LEVEL), 0);
		ft = ep_frame_find(&s2, 20);
		n = ep_frame_encode(&s2, ft, EP_FRAME_BOUNDED, f, len, out);
		EXPECT(n > 0 && n < len);
		EXPECT(s2.est[EP_FRAME_BOUNDED].n == 1 && s2.est[EP_FRAME_BOUNDED].saved > 0.3 &&
		       s2.est[EP_FRAME_BOUNDED].enc_bps > 0);
		EXPECT_EQ(ep_frame_encode(&s2, ft, EP_FRAME_LOSSLESS, f, 10, out), 0);
		EXPECT_EQ(ep_frame_encode(&s2, ft, EP_FRAME_OFF, f, len, out), 0);
		ep_frame_free(&s2);
		free(f);
		free(out);
	}
	tap_end("a coded frame teaches its mode its speed and savings; a non-frame is sent "
		"as it is");
}

int main(void)
{
	enc = ep_fc_enc_new();
	dec = ep_fc_dec_new();
	if (!enc || !dec)
		return 1;
	test_shapes();
	test_keep();
	test_malformed();
	test_choose();
	ep_fc_enc_free(enc);
	ep_fc_dec_free(dec);
	return tap_finish();
}
