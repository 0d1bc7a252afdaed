// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The frame codec (userspace/codec/fcodec.c), both ways:
 *
 *  - the input as a frame-coded payload, as the runtime gets it (EP_F_FRAME): ep_fc_peek()
 *    and ep_fc_decode() must refuse it or decode exactly the size peek said, never read or
 *    write outside their buffers; what decodes must decode the same again (no state
 *    carried between frames);
 *  - the input as pixels: the first byte picks k (0..3) and the kept level, the next two
 *    the width; what encodes must decode, exactly (k = 0) or within +-k.
 */
#include <errno.h>

#include "edgeplane/fcodec.h"
#include "edgeplane/payload.h"
#include "fuzz.h"

#define MAX_OUT (1u << 22) /* 4 MiB: what a fuzz input may ask to decode */

static struct ep_fc_enc *enc;
static struct ep_fc_dec *dec;

static void decode_input(const uint8_t *data, size_t size)
{
	unsigned int k;
	uint32_t n;
	uint8_t *a, *b;
	int ret;

	if (ep_fc_peek(data, size, &n, &k)) {
		FZ_CHECK(ep_fc_decode(dec, data, size, NULL, 0) == -EBADMSG);
		return;
	}
	FZ_CHECK(k <= EP_FC_MAX_ERROR && n > sizeof(struct ep_img_hdr));
	if (n > MAX_OUT)
		return;
	a = malloc(n);
	b = malloc(n);
	FZ_CHECK(a && b);
	FZ_CHECK(ep_fc_decode(dec, data, size, a, n - 1) == -EBADMSG);
	ret = ep_fc_decode(dec, data, size, a, n);
	FZ_CHECK(ret == 0 || ret == -EBADMSG);
	if (!ret) {
		FZ_CHECK(!memcmp(a, data, sizeof(struct ep_img_hdr)));
		FZ_CHECK(ep_fc_decode(dec, data, size, b, n) == 0 && !memcmp(a, b, n));
	}
	free(a);
	free(b);
}

static void encode_input(const uint8_t *data, size_t size)
{
	struct ep_fc_params prm = { .keep = EP_FC_KEEP_NONE };
	struct ep_img_hdr hdr = { 0 };
	uint32_t w, h, len;
	uint8_t *frame, *out, *back;
	size_t cap;
	ssize_t n;

	if (size < 4)
		return;
	prm.max_error = data[0] & 3;
	if (data[0] & 4)
		prm.keep = data[0] & 8 ? EP_FC_KEEP_OTSU : data[3];
	w = ((uint32_t)data[1] << 8 | data[2]) % 512 + 1;
	data += 3;
	size -= 3;
	h = (uint32_t)(size / w);
	if (!h)
		return;
	hdr.width = htobe16((uint16_t)w);
	hdr.height = htobe16((uint16_t)h);
	len = (uint32_t)sizeof(hdr) + w * h;
	cap = 2 * (size_t)len + 1024;
	frame = malloc(len);
	out = malloc(cap);
	back = malloc(len);
	FZ_CHECK(frame && out && back);
	memcpy(frame, &hdr, sizeof(hdr));
	memcpy(frame + sizeof(hdr), data, (size_t)w * h);
	n = ep_fc_encode(enc, frame, len, &prm, out, cap);
	FZ_CHECK(n > 0);
	FZ_CHECK(ep_fc_decode(dec, out, (size_t)n, back, len) == 0);
	FZ_CHECK(!memcmp(back, frame, sizeof(hdr)));
	for (uint32_t i = sizeof(hdr); i < len; i++)
		FZ_CHECK(abs((int)back[i] - (int)frame[i]) <= (int)prm.max_error);
	free(frame);
	free(out);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!enc) {
		enc = ep_fc_enc_new();
		dec = ep_fc_dec_new();
		FZ_CHECK(enc && dec);
	}
	decode_input(data, size);
	encode_input(data, size);
	return 0;
}
