// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Histogram and Otsu's level of a gray frame (edgeplane/imgstat.h): the threshold and blob
 * handlers use them, and so does the frame codec, which keeps pixels on their side of the
 * level a threshold will use.
 */
#include <stdint.h>
#include <string.h>

#include "edgeplane/imgstat.h"

void ep_histogram(const uint8_t *px, size_t n, uint32_t hist[256])
{
	memset(hist, 0, 256 * sizeof(hist[0]));
	for (size_t i = 0; i < n; i++)
		hist[px[i]]++;
}

unsigned int ep_otsu_level(const uint32_t hist[256])
{
	uint64_t n = 0, sum = 0, w0 = 0, s0 = 0;
	unsigned int level = 0;
	double best = -1.0;

	for (unsigned int i = 0; i < 256; i++) {
		n += hist[i];
		sum += (uint64_t)i * hist[i];
		if (hist[i])
			level = i;
	}
	for (unsigned int t = 0; t < 255; t++) {
		double m0, m1, v;

		w0 += hist[t];
		s0 += (uint64_t)t * hist[t];
		if (!w0)
			continue;
		if (w0 == n)
			break;
		m0 = (double)s0 / w0;
		m1 = (double)(sum - s0) / (n - w0);
		v = (double)w0 * (n - w0) * (m0 - m1) * (m0 - m1);
		if (v > best) {
			best = v;
			level = t;
		}
	}
	return level;
}
