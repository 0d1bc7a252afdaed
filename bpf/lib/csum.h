/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * csum.h - Internet checksums (RFC 1071) over packet bytes, with loops the verifier can
 * bound: every word read is checked against data_end.
 */
#ifndef EP_BPF_CSUM_H
#define EP_BPF_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 ep_csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Sum @words 16-bit words at @p (bounded by @max_words for the verifier). */
static __always_inline __u32 ep_csum_words(const void *p, const void *end, __u32 words,
					   __u32 max_words, __u32 sum)
{
	const __u16 *w = p;

	for (__u32 i = 0; i < max_words; i++) {
		if (i >= words || (const void *)(w + i + 1) > end)
			break;
		sum += w[i];
	}
	return sum;
}

#endif /* EP_BPF_CSUM_H */
