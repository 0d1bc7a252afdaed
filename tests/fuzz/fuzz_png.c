// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The PNG reader (userspace/common/png.c, libpng underneath): the input is a PNG file.
 * A frame that decodes has its dimensions within EP_IMG_MAX_DIM and all its pixels
 * readable; it must encode again and decode to the same pixels.
 */
#include <errno.h>

#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "fuzz.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(path, sizeof(path), "/tmp/ep-fuzz-png-%d.png", (int)getpid());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *px = NULL, *px2 = NULL;
	uint32_t w = 0, h = 0, w2, h2;
	unsigned int sum = 0;
	int err;

	err = ep_png_decode_gray(data, size, &px, &w, &h);
	if (err) {
		FZ_CHECK(err == -EINVAL || err == -EFBIG || err == -ENOMEM);
		FZ_CHECK(!px);
		return 0;
	}
	FZ_CHECK(w >= 1 && h >= 1 && w <= EP_IMG_MAX_DIM && h <= EP_IMG_MAX_DIM);
	for (size_t i = 0; i < (size_t)w * h; i++)
		sum += px[i];
	/* Small frames only: the round trip costs a file. */
	if ((size_t)w * h <= 4096) {
		FZ_CHECK(!ep_png_write_gray(path, px, w, h));
		FZ_CHECK(!ep_png_read_gray(path, &px2, &w2, &h2));
		FZ_CHECK(w2 == w && h2 == h && !memcmp(px, px2, (size_t)w * h));
		unlink(path);
		free(px2);
	}
	free(px);
	return (int)(sum & 0);
}
