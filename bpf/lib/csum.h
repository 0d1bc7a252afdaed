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

#ifdef __bpf__
#define EP_CSUM_CHUNK	   512 /* bpf_csum_diff()'s most bytes per call */
#define EP_CSUM_MAX_CHUNKS 9   /* up to 4608 bytes, more than an XDP frame holds */
#define EP_CSUM_PKT_MAX	   (EP_CSUM_CHUNK * EP_CSUM_MAX_CHUNKS)

/* A scratch buffer for ep_csum_xdp(): a chunk and the zeros that pad it to 4 bytes. */
struct ep_csum_buf {
	__u8 b[EP_CSUM_CHUNK + 4];
};

/*
 * Add the @len bytes of @ctx's frame at @off (an even offset from the start of what is
 * summed) to *@sum: a chunk at a time copied into @buf (a per-CPU map value: the stack has
 * no room) with bpf_xdp_load_bytes(), then summed by bpf_csum_diff(); the last chunk padded
 * with zeros to whole words, so an odd last byte is the high byte of a word (RFC 1071).
 * One path per chunk for the verifier, whatever the length. Returns 0, or -1 if @len runs
 * past the frame or beyond EP_CSUM_PKT_MAX.
 */
static __always_inline int ep_csum_xdp(struct xdp_md *ctx, __u32 off, __u32 len,
				       struct ep_csum_buf *buf, __u32 *sum)
{
	__u32 s = *sum;
	__u64 n; /* 64 bits: the bound checked is on the register passed on, no copy */
	__s64 r;

	if (len > EP_CSUM_PKT_MAX)
		return -1;
	for (int i = 0; i < EP_CSUM_MAX_CHUNKS && len; i++) {
		n = len > EP_CSUM_CHUNK ? EP_CSUM_CHUNK : len;
		/* A mask the compiler keeps, and a check after it: the verifier then knows
		 * 1 <= n <= EP_CSUM_CHUNK on the register passed on. */
		asm volatile("%0 &= 0x3ff" : "+r"(n));
		if (!n || n > EP_CSUM_CHUNK)
			return -1;
		if (bpf_xdp_load_bytes(ctx, off, buf->b, n))
			return -1;
		buf->b[n] = 0;
		buf->b[n + 1] = 0;
		buf->b[n + 2] = 0;
		r = bpf_csum_diff(NULL, 0, (__be32 *)buf->b, (__u32)((n + 3) & ~3ull), s);
		if (r < 0)
			return -1;
		s = (__u32)r;
		off += n;
		len -= n;
	}
	*sum = s;
	return len ? -1 : 0;
}
#endif /* __bpf__ */

#endif /* EP_BPF_CSUM_H */
