// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "edgeplane/hist.h"

unsigned int ep_hist_bucket_of(uint64_t v)
{
	unsigned int msb, shift;

	if (v < EP_HIST_SUB)
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v); /* >= EP_HIST_SUB_BITS */
	shift = msb - EP_HIST_SUB_BITS;
	/* Octave (shift + 1), then the next EP_HIST_SUB_BITS bits below the leading one. */
	return (shift + 1) * EP_HIST_SUB + (unsigned int)((v >> shift) & (EP_HIST_SUB - 1));
}

uint64_t ep_hist_bucket_low(unsigned int i)
{
	unsigned int octave = i / EP_HIST_SUB, sub = i % EP_HIST_SUB;

	if (!octave)
		return sub;
	return (uint64_t)(EP_HIST_SUB + sub) << (octave - 1);
}

void ep_hist_record(struct ep_hist *h, uint64_t v)
{
	h->bucket[ep_hist_bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void ep_hist_merge(struct ep_hist *dst, const struct ep_hist *src)
{
	for (unsigned int i = 0; i < EP_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t ep_hist_percentile(const struct ep_hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (p <= 0)
		p = 0;
	rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned int i = 0; i < EP_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t hi = i + 1 < EP_HIST_BUCKETS ? ep_hist_bucket_low(i + 1) - 1
							      : UINT64_MAX;

			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}
