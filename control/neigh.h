/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * neigh.h - the kernel's neighbour table (ARP, NDP) through rtnetlink (libmnl): the
 * controller checks that a load report's claimed MAC is the one its source address has
 * on the interface the report came in on.
 */
#ifndef EP_CONTROL_NEIGH_H
#define EP_CONTROL_NEIGH_H

#include <stdint.h>

struct ep_neigh;

/* Open a NETLINK_ROUTE socket. Returns 0 and *@out, or a negative errno. */
int ep_neigh_open(struct ep_neigh **out);
void ep_neigh_close(struct ep_neigh *nb);

/*
 * The link-layer address of @addr (AF_INET: 4 bytes, AF_INET6: 16, network order) on
 * @ifindex: RTM_GETNEIGH for that one entry. Returns 0 and @mac when the entry is usable
 * (NUD_VALID: reachable, stale, delay, probe, permanent, noarp) and has a 6-byte address;
 * -ENOENT when there is no such entry or it holds no address (incomplete, failed); else
 * a negative errno.
 */
int ep_neigh_lookup(struct ep_neigh *nb, int family, const void *addr, uint32_t ifindex,
		    uint8_t mac[6]);

/*
 * Ask the kernel to resolve @addr on @ifindex (RTM_NEWNEIGH with NTF_USE, as `ip neigh
 * replace ADDR dev IF use nud none`): an entry is created if there is none and ARP or ND
 * starts, so a later lookup finds it. An existing entry is left as it is. Returns 0 or a
 * negative errno.
 */
int ep_neigh_resolve(struct ep_neigh *nb, int family, const void *addr, uint32_t ifindex);

#endif /* EP_CONTROL_NEIGH_H */
