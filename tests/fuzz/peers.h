/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * peers.h - the sources of the harnesses that feed the reassembler or the runtime from
 * several peers: two IPv4 addresses in one /24, one in another, and one IPv6 address.
 */
#ifndef EP_FUZZ_PEERS_H
#define EP_FUZZ_PEERS_H

#include <string.h>
#include <sys/socket.h>

#include "edgeplane/reasm.h"

#define FZ_NPEERS 4

/* Peer @i (0..3) with UDP port @port into @p (as the reassembler keys it: IPv4 mapped). */
static inline void fz_peer(unsigned int i, uint16_t port, struct ep_peer *p)
{
	static const uint8_t v4[3][4] = { { 198, 18, 0, 1 }, { 198, 18, 0, 2 }, { 198, 19, 7, 1 } };

	memset(p, 0, sizeof(*p));
	if (i < 3) {
		p->addr[10] = p->addr[11] = 0xff;
		memcpy(p->addr + 12, v4[i], 4);
		p->family = AF_INET;
	} else {
		p->addr[0] = 0x20, p->addr[1] = 0x01, p->addr[2] = 0x0d, p->addr[3] = 0xb8;
		p->addr[15] = 1;
		p->family = AF_INET6;
	}
	p->port = port;
}

#endif
