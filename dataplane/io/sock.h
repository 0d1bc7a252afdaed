/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sock.h - what the kernel-socket backends (udp.c, uring.c) share: the UDP socket a
 * worker serves (dual-stack, SO_REUSEPORT, pktinfo on), a request's peer and reply route
 * from its source address and control data, and a reply's message, sent from the address
 * the request came to.
 */
#ifndef EP_IO_SOCK_H
#define EP_IO_SOCK_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io/io.h"

#define EP_SOCK_MAX_DGRAM     9216 /* jumbo frames; larger datagrams are rx_invalid */
#define EP_SOCK_CMSG_SPACE    128  /* IPV6_PKTINFO, and IP_PKTINFO for v4-mapped peers */
/* Room for a reply's control data: one IPV6_PKTINFO (mapped addresses cover IPv4). */
#define EP_SOCK_TX_CMSG_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

/*
 * Open the socket of worker @queue_id: AF_INET6 without V6ONLY (IPv4 peers appear
 * v4-mapped), SO_REUSEPORT so the workers' sockets share the port, IP_PKTINFO and
 * IPV6_RECVPKTINFO, 4 MiB buffers, SO_BUSY_POLL with cfg->busy_poll, bound to
 * cfg->bind_addr (NULL: any) and cfg->port. Before worker 0's socket, a port another
 * process holds in the namespace is refused (-EADDRINUSE) unless cfg->share_port. @who
 * prefixes the error messages, which are logged. Returns 0 and the descriptor in *fd (the
 * caller closes it), or a negative errno.
 */
int ep_sock_open(const struct ep_io_cfg *cfg, const char *who, unsigned int queue_id, int *fd);

/*
 * Fill @g->peer and @g->route (addresses only) from a received datagram's source @src
 * and the control data that @mh describes (msg_control, msg_controllen). Returns 0, or
 * -EINVAL for a datagram not to answer: to a broadcast or multicast address, or from
 * port 0.
 */
int ep_sock_rx_route(struct ep_dgram *g, const struct sockaddr_in6 *src, const struct msghdr *mh);

/*
 * Fill @mh (with @iov, @name and @ctl, which has EP_SOCK_TX_CMSG_SPACE bytes) to send the
 * @len bytes at @buf to @peer, from @r's local address when it has one (IPV6_PKTINFO).
 * Everything stays the caller's; @mh points into it.
 */
void ep_sock_tx_msg(struct msghdr *mh, struct iovec *iov, struct sockaddr_in6 *name, uint8_t *ctl,
		    const struct ep_route *r, const struct ep_peer *peer, uint8_t *buf,
		    uint32_t len);

/* Datagrams the socket's receive queue dropped since it opened (SO_MEMINFO), or 0. */
uint64_t ep_sock_drops(int fd);

#endif /* EP_IO_SOCK_H */
