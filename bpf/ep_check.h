/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ep_check.h - validation of a v1 header against the datagram that carries it.
 *
 * One rule set, used by the XDP classifier at the NIC and by the userspace codec, so that a
 * packet the kernel lets through is one the codec accepts, and the reverse.
 */
#ifndef EP_CHECK_H
#define EP_CHECK_H

#include "ep_shared.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * ep_frag_size - the fragment size L implied by one fragment's (host-order) index, count,
 * offset and slice length (payload_len, less EP_AUTH_NONCE_LEN with AUTH); 0 for a
 * single-fragment task. Meaningful for a header that passed ep_hdr_check().
 */
static __always_inline __u32 ep_frag_size(__u32 index, __u32 count, __u32 off, __u32 plen)
{
	if (count <= 1)
		return 0;
	if (index == count - 1)
		return off / (count - 1);
	return plen;
}

/*
 * ep_hdr_check - validate @h, the start of a UDP payload of @dgram_len bytes.
 * @max_task_len: the receiver's limit on total_len (<= EP_MAX_TASK_LEN).
 *
 * The caller guarantees that sizeof(*h) bytes are readable if dgram_len >= sizeof(*h).
 * Returns 0 if the header is valid for any direction, or -EP_STAT_DROP_* naming the first
 * rule it breaks. Direction (server- or client-bound) is checked by the caller.
 */
static __always_inline int ep_hdr_check(const struct ep_hdr *h, __u32 dgram_len, __u32 max_task_len)
{
	__u32 plen, total, off, index, count;
	__u8 kind;

	if (dgram_len < sizeof(*h))
		return -EP_STAT_DROP_HDR_SHORT;
	if (h->magic != ep_be16(EP_MAGIC))
		return -EP_STAT_DROP_BAD_MAGIC;
	if (h->version != EP_VERSION)
		return -EP_STAT_DROP_BAD_VERSION;

	kind = h->kind;
	if (!EP_KIND_IS_SERVER_BOUND(kind) && !EP_KIND_IS_CLIENT_BOUND(kind) &&
	    !EP_KIND_IS_CONTROL(kind))
		return -EP_STAT_DROP_BAD_KIND;
	if (h->priority < EP_PRIO_MIN || h->priority > EP_PRIO_MAX)
		return -EP_STAT_DROP_BAD_PRIORITY;
	if (h->flags & ~EP_F_KNOWN)
		return -EP_STAT_DROP_BAD_FLAGS;
	/* reply_mtu, PLAIN_REPLY and FRAME are a request's; load_pct is a reply's. */
	if (EP_KIND_IS_SERVER_BOUND(kind)
		    ? h->load_pct != 0
		    : h->reply_mtu || (h->flags & (EP_F_PLAIN_REPLY | EP_F_FRAME)))
		return -EP_STAT_DROP_BAD_FLAGS;
	/* A frame-coded payload is compressed already: never zstd as well. */
	if ((h->flags & (EP_F_FRAME | EP_F_ZSTD)) == (EP_F_FRAME | EP_F_ZSTD))
		return -EP_STAT_DROP_BAD_FLAGS;
	if (h->load_pct > 100)
		return -EP_STAT_DROP_BAD_FLAGS;
	/* The key id and tag carry either an authentication tag or an address-validation
	 * token, never both; a RETRY always carries a token. */
	if ((h->flags & (EP_F_AUTH | EP_F_TOKEN)) == (EP_F_AUTH | EP_F_TOKEN))
		return -EP_STAT_DROP_AUTH_TOKEN;
	if (!(h->flags & (EP_F_AUTH | EP_F_TOKEN)) && h->auth_key_id)
		return -EP_STAT_DROP_BAD_FLAGS;
	if (kind == EP_KIND_RETRY && !(h->flags & EP_F_TOKEN))
		return -EP_STAT_DROP_BAD_FLAGS;

	plen = ep_be16(h->payload_len);
	if (plen != dgram_len - sizeof(*h))
		return -EP_STAT_DROP_BAD_LENGTH;
	/* An AUTH payload is the nonce, then the slice (encrypted): the fragment
	 * rules below are about the slice. */
	if (h->flags & EP_F_AUTH) {
		if (plen < EP_AUTH_NONCE_LEN)
			return -EP_STAT_DROP_AUTH_SHORT;
		plen -= EP_AUTH_NONCE_LEN;
	}

	total = ep_be32(h->total_len);
	if (total > max_task_len)
		return -EP_STAT_DROP_TOO_LARGE;

	/*
	 * Fragments tile [0, total_len): every fragment but the last carries the same number
	 * of bytes L > 0 at offset index * L, the last one carries 1..L bytes and ends exactly
	 * at total_len, so frag_count == ceil(total_len / L). A one-fragment task carries it
	 * all at offset 0 (total_len may be 0). count * L fits in 32 bits: both are < 2^16.
	 */
	index = ep_be16(h->frag_index);
	count = ep_be16(h->frag_count);
	off = ep_be32(h->frag_offset);
	if (count == 0 || index >= count)
		return -EP_STAT_DROP_BAD_FRAGMENT;
	/* An acknowledgement is one datagram. */
	if (EP_KIND_IS_ACK(kind) && count != 1)
		return -EP_STAT_DROP_BAD_FRAGMENT;
	if (count == 1) {
		if (off != 0 || plen != total)
			return -EP_STAT_DROP_BAD_FRAGMENT;
	} else if (index == count - 1) {
		__u32 l = ep_frag_size(index, count, off, plen);

		/* L fits 16 bits like every other fragment's length; the last fragment ends
		 * at total_len exactly (written without a sum that could wrap). */
		if (l == 0 || l > 0xffff || off % (count - 1) || plen == 0 || plen > l ||
		    plen > total || off != total - plen)
			return -EP_STAT_DROP_BAD_FRAGMENT;
	} else {
		if (plen == 0 || off != index * plen || total <= (count - 1) * plen ||
		    total > count * plen)
			return -EP_STAT_DROP_BAD_FRAGMENT;
	}
	if (kind == EP_KIND_ERROR) {
		if (h->status == 0)
			return -EP_STAT_DROP_BAD_FLAGS;
	} else if (h->status) {
		return -EP_STAT_DROP_BAD_FLAGS;
	}
	return 0;
}

#endif /* EP_CHECK_H */
