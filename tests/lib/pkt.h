/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pkt.h - build test frames: Ethernet, VLAN tags, IPv4 (with options) or IPv6 (with
 * extension headers), UDP or another L4, with correct IP and UDP checksums. Addresses are
 * from the test ranges 198.18.0.0/15 and 2001:db8::/32.
 */
#ifndef EP_TEST_PKT_H
#define EP_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt_spec {
	uint16_t ethertype; /* 0: IPv4 or IPv6 by @ipv6; else raw (ARP, ...) */
	int vlan_tags;	    /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	bool ipv6;
	int ip_opt_len;	       /* IPv4 option bytes: 0..40, multiple of 4 */
	int ipv6_ext;	       /* IPv6: hop-by-hop + destination-options headers, 0..4 */
	bool ipv6_frag;	       /* IPv6: add a fragment header */
	bool ip_mf;	       /* IPv4: set more-fragments */
	uint16_t ip_frag_off;  /* IPv4: fragment offset in 8-byte units */
	uint8_t l4proto;       /* 0: UDP */
	uint16_t sport, dport; /* sport 0: 40000 */
	const void *payload;   /* UDP (or other L4) payload */
	size_t payload_len;
	const char *src, *dst;	/* numeric IP addresses; NULL: 198.18.0.1 -> .2 (2001:db8::1
				 * -> ::2 over IPv6) */
	const uint8_t *src_mac; /* NULL: 02:00:00:00:00:01 (to 02:00:00:00:00:02) */
};

/* The Internet checksum (RFC 1071): add @len bytes of @data to @sum as big-endian 16-bit
 * words, then fold and complement. */
uint32_t pkt_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t pkt_csum_fold(uint32_t sum);

/* Build the frame into @buf. Returns its length, or 0 if it does not fit. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t len);

#endif /* EP_TEST_PKT_H */
