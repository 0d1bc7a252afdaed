/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * codec.h - encode, decode and fragment edgeplane v1 messages.
 *
 * The wire layout is struct ep_hdr in bpf/ep_shared.h; struct ep_msg is its host-order
 * view. Decoding applies the same rules as the XDP classifier (bpf/ep_check.h).
 * All functions are reentrant and allocate nothing.
 */
#ifndef EDGEPLANE_CODEC_H
#define EDGEPLANE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ep_shared.h"

/* Host-order view of struct ep_hdr. Fields follow docs/protocol.md. */
struct ep_msg {
	uint8_t kind;	   /* enum ep_kind */
	uint8_t priority;  /* 1..5 */
	uint8_t flags;	   /* EP_F_* */
	uint8_t load_pct;  /* replies only */
	uint8_t reply_mtu; /* server-bound only: the client's path MTU / 64; 0 = node's */
	uint16_t task_type;
	uint16_t status; /* enum ep_status; ERROR only */
	uint32_t tenant_id;
	uint64_t task_id;
	uint32_t total_len;
	uint32_t frag_offset;
	uint16_t frag_index;
	uint16_t frag_count;
	uint16_t payload_len;
	uint16_t auth_key_id;
	uint32_t size_hint_kib; /* server-bound only */
	uint32_t deadline_ms;	/* server-bound only */
	uint32_t queue_us;	/* replies only */
	uint32_t exec_us;	/* replies only */
	uint8_t auth_tag[EP_AUTH_TAG_LEN];
	uint32_t auth_sender; /* AUTH: the nonce before the slice: sender ... (decode only) */
	uint64_t auth_pn;     /* ... and packet number */
};

/*
 * Where a datagram's slice starts: after the header, and after the nonce of an AUTH
 * datagram. With EP_F_AUTH, payload_len in struct ep_msg is the slice's length (the
 * wire's payload_len less EP_AUTH_NONCE_LEN): encoding adds it, decoding takes it off.
 */
static inline size_t ep_payload_off(const struct ep_msg *m)
{
	return EP_HDR_LEN + (m->flags & EP_F_AUTH ? EP_AUTH_NONCE_LEN : 0);
}

/* Smallest and largest datagram payload (UDP payload) a v1 message can occupy. */
#define EP_DGRAM_MIN EP_HDR_LEN
#define EP_DGRAM_MAX 65507u /* IPv4 UDP limit */

/* Encode @m's header into @buf (>= EP_HDR_LEN bytes). Returns EP_HDR_LEN or -EINVAL
 * when @m breaks a rule that decoding would reject (priority, kind, flags, lengths). */
int ep_encode_hdr(const struct ep_msg *m, void *buf, size_t len);

/*
 * Decode and validate the UDP payload @buf of @len bytes. On success fills @m, sets
 * *payload to the fragment payload inside @buf and returns 0. On failure returns -EBADMSG
 * and, if @reason is not NULL, sets it to the EP_STAT_DROP_* rule that failed.
 * @max_task_len bounds total_len (0 means EP_DEFAULT_MAX_TASK_LEN).
 */
int ep_decode(const void *buf, size_t len, uint32_t max_task_len, struct ep_msg *m,
	      const uint8_t **payload, enum ep_stat *reason);

/* Fragment payload size for a path MTU: mtu - IP header - UDP header - EP_HDR_LEN.
 * Returns 0 if the MTU cannot carry a header. */
uint32_t ep_frag_size_for_mtu(uint32_t mtu, bool ipv6);
/* The same for datagrams with @flags: an AUTH datagram's nonce takes EP_AUTH_NONCE_LEN more. */
uint32_t ep_frag_size_for(uint32_t mtu, bool ipv6, uint8_t flags);

/* Number of fragments for @total bytes in @frag_size pieces (a 0-byte task is 1). Returns
 * 0 when that exceeds EP_MAX_FRAGS or @frag_size is 0. */
uint32_t ep_frag_count(uint32_t total, uint32_t frag_size);

/*
 * Build fragment @index of a task into @out: the header from @tmpl (its frag_*, total_len
 * and payload_len are filled in here) followed by the slice of @payload (after 12 zero
 * bytes for the nonce if @tmpl has EP_F_AUTH: ep_aead_seal() then seals it). Returns the
 * datagram length, or -EINVAL (bad index or template), -EMSGSIZE (@outlen too small).
 */
ssize_t ep_frag_build(const struct ep_msg *tmpl, const void *payload, uint32_t total,
		      uint32_t frag_size, uint32_t index, void *out, size_t outlen);

/*
 * Acknowledgements (TASK_ACK, RESULT_ACK; docs/protocol.md 5.1): which fragments of a
 * multi-fragment message the receiver holds, as ranges of indexes. Host-order view of
 * struct ep_ack_wire.
 */
struct ep_ack_range {
	uint16_t first, last; /* inclusive */
};

struct ep_ack {
	uint16_t count; /* frag_count of the message; 0: none of it is held */
	uint16_t n;	/* ranges */
	struct ep_ack_range r[EP_ACK_MAX_RANGES];
};

/* Payload bytes of an acknowledgement of @n ranges. */
static inline size_t ep_ack_len(uint16_t n)
{
	return 4 + 4 * (size_t)n;
}

/* Fill @a from the bitmap @bm of @count fragments (bit i of byte i/8: fragment i held).
 * Ranges past EP_ACK_MAX_RANGES are left out (the sender resends those fragments). */
void ep_ack_from_bitmap(struct ep_ack *a, const uint8_t *bm, uint16_t count);
/* Encode @a into @buf, listing at most @max_ranges ranges (the lowest). Returns the bytes
 * written, or -EMSGSIZE when @cap is too small for the header. */
ssize_t ep_ack_encode(const struct ep_ack *a, uint16_t max_ranges, void *buf, size_t cap);
/* Decode and validate @len bytes at @p (the whole payload). Returns 0, or -EBADMSG: a
 * short or long payload, more than EP_ACK_MAX_RANGES ranges, ranges with no count (or a
 * count with none), or
 * ranges not ascending, overlapping, touching, or past the count. */
int ep_ack_decode(const void *p, size_t len, struct ep_ack *a);
/* Whether fragment @idx is listed as held. */
bool ep_ack_has(const struct ep_ack *a, uint16_t idx);
/* Fragments listed as held. */
uint32_t ep_ack_held(const struct ep_ack *a);

/* Printable names; never NULL ("?" for out-of-range values). */
const char *ep_stat_name(unsigned int stat);
const char *ep_status_name(unsigned int status);
const char *ep_kind_name(unsigned int kind);
/* Whether a client may retry after this status. */
bool ep_status_retriable(unsigned int status);

#endif /* EDGEPLANE_CODEC_H */
