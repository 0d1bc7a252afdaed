/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hist.h - an HDR-style log-linear histogram of 64-bit values (latencies in ns, sizes).
 *
 * Values below 2^EP_HIST_SUB_BITS are counted exactly; above, each power of two is split
 * into 2^EP_HIST_SUB_BITS buckets, so a reported percentile is within 1/32 (3 %) of the
 * true value. Fixed size, no allocation: embed it in per-thread stats. Single writer;
 * readers may copy it while it is written and get a slightly stale view.
 */
#ifndef EDGEPLANE_HIST_H
#define EDGEPLANE_HIST_H

#include <stdint.h>

#define EP_HIST_SUB_BITS 5
#define EP_HIST_SUB	 (1u << EP_HIST_SUB_BITS)
#define EP_HIST_BUCKETS	 ((64 - EP_HIST_SUB_BITS + 1) * EP_HIST_SUB)

struct ep_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t bucket[EP_HIST_BUCKETS];
};

void ep_hist_record(struct ep_hist *h, uint64_t v);
/* Add @src into @dst. */
void ep_hist_merge(struct ep_hist *dst, const struct ep_hist *src);
/* The value at percentile @p (0..100): the upper edge of its bucket, capped at max.
 * 0 for an empty histogram. */
uint64_t ep_hist_percentile(const struct ep_hist *h, double p);
/* Lowest value counted in bucket @i, and the bucket of @v. */
uint64_t ep_hist_bucket_low(unsigned int i);
unsigned int ep_hist_bucket_of(uint64_t v);

#endif /* EDGEPLANE_HIST_H */
