// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The parts of the kernel-socket backends that do not depend on how datagrams move:
 * socket set-up, the reply route from pktinfo, and a reply's message (sock.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <unistd.h>

#include "edgeplane/log.h"
#include "io/sock.h"

/*
 * Whether a process other than this one holds @sa's port: a socket without SO_REUSEPORT
 * cannot bind where any other socket is bound. Asked before the first queue's socket
 * binds, so our own sockets are not there yet. For up to a second: an io_uring that
 * held a socket lets go of it in a kernel worker, a moment after its process exited.
 */
static bool port_taken(const struct sockaddr_in6 *sa)
{
	int zero = 0, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool taken = false;

	if (fd < 0)
		return false; /* the real bind will say what is wrong */
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	for (int i = 0; i < 20; i++) {
		taken = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno == EADDRINUSE;
		if (!taken)
			break;
		usleep(50000);
	}
	close(fd);
	return taken;
}

int ep_sock_open(const struct ep_io_cfg *cfg, const char *who, unsigned int queue_id, int *out)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons(cfg->port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, bufsz = 4 << 20, fd, err;

	if (cfg->bind_addr) {
		struct in_addr v4;

		if (inet_pton(AF_INET, cfg->bind_addr, &v4) == 1) {
			sa.sin6_addr.s6_addr[10] = sa.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sa.sin6_addr.s6_addr[12], &v4, 4);
		} else if (inet_pton(AF_INET6, cfg->bind_addr, &sa.sin6_addr) != 1) {
			pr_err("%s: bind address '%s' is not numeric IPv4 or IPv6", who,
			       cfg->bind_addr);
			return -EINVAL;
		}
	}
	/* SO_REUSEPORT lets the workers share the port, and would let a second runtime
	 * (or anything else) silently take half its datagrams: refused unless asked for. */
	if (!queue_id && !cfg->share_port && port_taken(&sa)) {
		pr_err("%s: port %u is held by another process in this network namespace "
		       "(another edgeplane?): stop it, choose another port, or set "
		       "share_port = true to share it",
		       who, cfg->port);
		return -EADDRINUSE;
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("%s: socket: %s", who, strerror(errno));
		return err;
	}
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) {
		err = -errno;
		pr_err("%s: socket options: %s", who, strerror(errno));
		goto err_close;
	}
	/* Past net.core.[rw]mem_max where we may (CAP_NET_ADMIN), up to it elsewhere. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (cfg->busy_poll) {
		int usecs = 20;

		setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs));
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		pr_err("%s: bind port %u: %s", who, cfg->port, strerror(errno));
		goto err_close;
	}
	*out = fd;
	return 0;

err_close:
	close(fd);
	return err;
}

/* sockaddr_in6 (v4-mapped for IPv4 peers on the dual-stack socket) -> struct ep_peer. */
static void peer_from_sin6(struct ep_peer *p, const struct sockaddr_in6 *s)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(p->addr, &s->sin6_addr, 16);
	p->port = ntohs(s->sin6_port);
	p->family = memcmp(p->addr, v4mapped, 12) ? AF_INET6 : AF_INET;
}

int ep_sock_rx_route(struct ep_dgram *g, const struct sockaddr_in6 *src, const struct msghdr *mh)
{
	struct cmsghdr *c;
	bool mcast = false;

	memset(&g->route, 0, sizeof(g->route));
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (!g->route.local_addr[10]) /* IP_PKTINFO's wins for IPv4 */
				memcpy(g->route.local_addr, &pi.ipi6_addr, 16);
			g->route.ifindex = pi.ipi6_ifindex;
			mcast |= pi.ipi6_addr.s6_addr[0] == 0xff;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			uint32_t dst;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			/* ipi_spec_dst: the address the kernel answers from, which is the
			 * interface's own even when the request went to a broadcast. */
			memset(g->route.local_addr, 0, 10);
			g->route.local_addr[10] = g->route.local_addr[11] = 0xff;
			memcpy(g->route.local_addr + 12, &pi.ipi_spec_dst, 4);
			dst = ntohl(pi.ipi_addr.s_addr);
			mcast |= (dst >> 28) == 0xe || dst == 0xffffffff ||
				 pi.ipi_addr.s_addr != pi.ipi_spec_dst.s_addr;
		}
	}
	peer_from_sin6(&g->peer, src);
	/* Tasks come from one host to one of ours: nothing to broadcast or multicast
	 * addresses, nothing from port 0 (a reply could not be sent). */
	if (mcast || !g->peer.port)
		return -EINVAL;
	g->route.ipv6 = g->peer.family == AF_INET6;
	return 0;
}

void ep_sock_tx_msg(struct msghdr *mh, struct iovec *iov, struct sockaddr_in6 *name, uint8_t *ctl,
		    const struct ep_route *r, const struct ep_peer *peer, uint8_t *buf,
		    uint32_t len)
{
	static const uint8_t any[16];
	struct in6_pktinfo pi = { 0 };
	struct cmsghdr *c;

	memset(name, 0, sizeof(*name));
	name->sin6_family = AF_INET6;
	name->sin6_port = htons(peer->port);
	memcpy(&name->sin6_addr, peer->addr, 16);
	/* A link-local peer is reached through the interface its request came in on. */
	if (IN6_IS_ADDR_LINKLOCAL(&name->sin6_addr))
		name->sin6_scope_id = r->ifindex;
	*iov = (struct iovec){ buf, len };
	*mh = (struct msghdr){
		.msg_name = name, .msg_namelen = sizeof(*name), .msg_iov = iov, .msg_iovlen = 1
	};
	/* Answer from the address the request came to (IPv6 pktinfo covers mapped v4). */
	if (memcmp(r->local_addr, any, 16)) {
		mh->msg_control = ctl;
		mh->msg_controllen = EP_SOCK_TX_CMSG_SPACE;
		c = CMSG_FIRSTHDR(mh);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(&pi.ipi6_addr, r->local_addr, 16);
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
}

uint64_t ep_sock_drops(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) ||
	    len < (SK_MEMINFO_DROPS + 1) * sizeof(mem[0]))
		return 0;
	return mem[SK_MEMINFO_DROPS];
}
