/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * frame.h - L2-L4 framing for backends that see whole frames (AF_XDP, DPDK): find the UDP
 * payload of a received frame with the classifier's own parser, and write the Ethernet,
 * VLAN, IP and UDP headers of a reply (addresses and ports swapped, checksums computed).
 */
#ifndef EP_FRAME_H
#define EP_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "io/io.h"

/* Largest L2-L4 header a reply can need: Ethernet, two VLAN tags, IPv6, UDP. */
#define EP_FRAME_HDR_MAX (14 + 8 + 40 + 8)

/* Fill d->data, len, peer and route from a frame to UDP @port. Returns 0, or a negative
 * EP_STAT_* reason when it is not a well-formed UDP datagram to @port. */
int ep_frame_parse(const uint8_t *frame, uint32_t len, uint16_t port, struct ep_dgram *d);

/* Bytes of L2-L4 header before the UDP payload of a reply along @r. */
static inline uint32_t ep_frame_hdr_len(const struct ep_route *r)
{
	return 14 + 4u * r->nvlan + (r->ipv6 ? 40u : 20u) + 8u;
}

/* Write the headers of a reply into hdr[0 .. ep_frame_hdr_len(r)); the @payload_len bytes
 * of UDP payload must already follow them (the UDP checksum covers them). */
void ep_frame_write_hdrs(uint8_t *hdr, const struct ep_route *r, const struct ep_peer *peer,
			 uint32_t payload_len);

/* Whether the UDP checksum of a datagram parsed by ep_frame_parse() is right. */
bool ep_frame_udp_csum_ok(const struct ep_dgram *d);

/* Whether to check UDP checksums when set to auto: yes, except on veth, whose frames from
 * the local stack carry partial checksums (the sender's offload never ran). */
bool ep_frame_csum_auto(const char *ifname);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t ep_csum_partial(const void *buf, uint32_t len, uint32_t sum);
uint16_t ep_csum_fold(uint32_t sum);

#endif /* EP_FRAME_H */
