/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * addrset.h - IP addresses in the 16-byte form of the BPF maps (IPv6 as it is, IPv4 as
 * ::ffff:a.b.c.d, like struct ep_peer), and small sets of them with role flags: what the
 * loaders write into the classifier's ep_addrs map (the node's own addresses, its virtual
 * addresses, the gateways that may encapsulate).
 */
#ifndef EDGEPLANE_ADDRSET_H
#define EDGEPLANE_ADDRSET_H

#include <ifaddrs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ep_shared.h"

#define EP_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* Parse a numeric IPv4 or IPv6 address (no names, no scope) into @out. Returns 0 or
 * -EINVAL. */
int ep_addr_parse(const char *s, uint8_t out[16]);

/* The address of @sa (AF_INET or AF_INET6) into @out. Returns 0 or -EAFNOSUPPORT. */
int ep_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);

/* An IPv4 address in network order (as struct in_addr holds it) into @out. */
void ep_addr_from_ip4(uint32_t ip4_be, uint8_t out[16]);

/* "198.18.0.1" or "2001:db8::1" into @buf (EP_ADDR_STRLEN bytes); returns @buf. */
const char *ep_addr_format(const uint8_t a[16], char *buf, size_t len);

/* Whether @a is an IPv4 address (::ffff:a.b.c.d). */
bool ep_addr_is_v4(const uint8_t a[16]);

struct ep_addrset_entry {
	uint8_t addr[16];
	uint32_t flags; /* EP_ADDR_F_* (ep_shared.h) */
};

/* A set of at most EP_ADDRS_MAX addresses, the capacity of ep_addrs. Zero it to start. */
struct ep_addrset {
	unsigned int n;
	struct ep_addrset_entry e[EP_ADDRS_MAX];
};

/* Add @a with @flags (an address already in the set gains them). Returns 0 or -ENOSPC. */
int ep_addrset_add(struct ep_addrset *s, const uint8_t a[16], uint32_t flags);

/* Add every IPv4 and IPv6 address of the list getifaddrs() returned, with @flags.
 * Returns 0 or -ENOSPC. */
int ep_addrset_add_ifaddrs(struct ep_addrset *s, const struct ifaddrs *ifa, uint32_t flags);

/* The flags of @a in the set; 0 if it is not there. */
uint32_t ep_addrset_flags(const struct ep_addrset *s, const uint8_t a[16]);

#endif /* EDGEPLANE_ADDRSET_H */
