// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * UDP socket backend: a kernel socket per worker (SO_REUSEPORT spreads flows over them),
 * bursts in with recvmmsg and out with sendmmsg. For hosts without XDP, and the baseline
 * that the AF_XDP path is measured against. The local address of each request comes from
 * IP_PKTINFO / IPV6_PKTINFO and is used as the reply's source.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgeplane/log.h"
#include "io/io.h"

#define BURST		64
#define CMSG_SPACE_PI	128	/* IPV6_PKTINFO, and IP_PKTINFO for v4-mapped peers */

struct udp_q {
	struct ep_io_q q;
	int fd;
	bool busy_poll, rx_stopped;
	uint32_t buf_size, nbufs;
	uint8_t *bufs;			/* nbufs * buf_size: RX buffers, then TX buffers */
	uint32_t *rx_free, rx_nfree;	/* stack of free RX buffer indices */
	uint32_t tx_used;		/* TX buffers of the current burst */
	uint32_t tx_cur_len;

	struct mmsghdr rmsg[BURST];
	struct iovec riov[BURST];
	struct sockaddr_in6 rname[BURST];
	uint8_t rctl[BURST][CMSG_SPACE_PI];
	uint32_t rbuf[BURST];		/* buffer index posted in each slot */

	struct mmsghdr tmsg[BURST];
	struct iovec tiov[BURST];
	struct sockaddr_in6 tname[BURST];
	uint8_t tctl[BURST][CMSG_SPACE_PI];

	struct ep_io_stats st;
};

static struct udp_q *to_uq(struct ep_io_q *q)
{
	return (struct udp_q *)q;
}

static uint8_t *rx_buf(struct udp_q *u, uint32_t i)
{
	return u->bufs + (size_t)i * u->buf_size;
}

static uint8_t *tx_slot(struct udp_q *u, uint32_t i)
{
	return u->bufs + (size_t)(u->nbufs + i) * u->buf_size;
}

/* sockaddr_in6 (v4-mapped for IPv4 peers on the dual-stack socket) <-> struct ep_peer. */
static void peer_from_sin6(struct ep_peer *p, const struct sockaddr_in6 *s)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(p->addr, &s->sin6_addr, 16);
	p->port = ntohs(s->sin6_port);
	p->family = memcmp(p->addr, v4mapped, 12) ? AF_INET6 : AF_INET;
}

static unsigned int udp_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	struct udp_q *u = to_uq(q);
	unsigned int want = max < BURST ? max : BURST, got = 0;
	int n;

	if (want > u->rx_nfree)
		want = u->rx_nfree;
	if (!want)
		return 0;
	for (unsigned int i = 0; i < want; i++) {
		u->rbuf[i] = u->rx_free[--u->rx_nfree];
		u->riov[i] = (struct iovec){ rx_buf(u, u->rbuf[i]), u->buf_size };
		u->rmsg[i].msg_hdr = (struct msghdr){
			.msg_name = &u->rname[i], .msg_namelen = sizeof(u->rname[i]),
			.msg_iov = &u->riov[i], .msg_iovlen = 1,
			.msg_control = u->rctl[i], .msg_controllen = CMSG_SPACE_PI,
		};
	}
	n = recvmmsg(u->fd, u->rmsg, want, MSG_DONTWAIT, NULL);
	if (n < 0)
		n = 0;
	for (unsigned int i = (unsigned int)n; i < want; i++)	/* unused buffers back */
		u->rx_free[u->rx_nfree++] = u->rbuf[i];
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &u->rmsg[i].msg_hdr;
		struct ep_dgram *g = &d[got];
		struct cmsghdr *c;
		bool mcast = false;

		u->st.rx_packets++;
		u->st.rx_bytes += u->rmsg[i].msg_len;
		if (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			u->st.rx_invalid++;
			u->rx_free[u->rx_nfree++] = u->rbuf[i];
			continue;
		}
		memset(&g->route, 0, sizeof(g->route));
		for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
			if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				if (!g->route.local_addr[10])	/* IP_PKTINFO's wins for IPv4 */
					memcpy(g->route.local_addr, &pi.ipi6_addr, 16);
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
		peer_from_sin6(&g->peer, &u->rname[i]);
		/* Tasks come from one host to one of ours: nothing to broadcast or multicast
		 * addresses, nothing from port 0 (a reply could not be sent). */
		if (mcast || !g->peer.port) {
			u->st.rx_invalid++;
			u->rx_free[u->rx_nfree++] = u->rbuf[i];
			continue;
		}
		g->route.ipv6 = g->peer.family == AF_INET6;
		g->data = rx_buf(u, u->rbuf[i]);
		g->len = u->rmsg[i].msg_len;
		g->handle = u->rbuf[i];
		got++;
	}
	return got;
}

static void udp_release(struct ep_io_q *q, uint64_t handle)
{
	struct udp_q *u = to_uq(q);

	u->rx_free[u->rx_nfree++] = (uint32_t)handle;
}

static unsigned int udp_flush(struct ep_io_q *q)
{
	struct udp_q *u = to_uq(q);
	uint32_t done = 0;

	while (done < u->tx_used) {
		int n = sendmmsg(u->fd, u->tmsg + done, u->tx_used - done, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			/* sendmmsg stops at the first message the kernel refuses: count that
			 * one and carry on with the rest of the burst. */
			u->st.tx_ring_full++;
			done++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			u->st.tx_packets++;
			u->st.tx_bytes += u->tiov[done + i].iov_len;
		}
		done += (uint32_t)n;
	}
	u->tx_used = 0;
	return 0;	/* the kernel has its own copy */
}

static uint8_t *udp_tx_buf(struct ep_io_q *q, uint32_t *cap)
{
	struct udp_q *u = to_uq(q);

	if (u->tx_used == BURST)
		return NULL;
	*cap = u->buf_size;
	return tx_slot(u, u->tx_used);
}

static void udp_tx_abort(struct ep_io_q *q)
{
	/* The slot is only taken by tx_commit(): nothing to give back. */
}

static int udp_tx_commit(struct ep_io_q *q, const struct ep_route *r, const struct ep_peer *peer,
			 uint32_t len)
{
	struct udp_q *u = to_uq(q);
	uint32_t i = u->tx_used;
	struct sockaddr_in6 *sa = &u->tname[i];
	struct msghdr *mh = &u->tmsg[i].msg_hdr;
	struct cmsghdr *c;
	struct in6_pktinfo pi = { 0 };

	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(peer->port);
	memcpy(&sa->sin6_addr, peer->addr, 16);
	u->tiov[i] = (struct iovec){ tx_slot(u, i), len };
	*mh = (struct msghdr){ .msg_name = sa, .msg_namelen = sizeof(*sa),
			       .msg_iov = &u->tiov[i], .msg_iovlen = 1 };
	/* Answer from the address the request came to (IPv6 pktinfo covers mapped v4). The
	 * scope id of link-local peers is not kept: hosts with one link only, for now. */
	if (memcmp(r->local_addr, (uint8_t[16]){ 0 }, 16)) {
		mh->msg_control = u->tctl[i];
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		c = CMSG_FIRSTHDR(mh);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(&pi.ipi6_addr, r->local_addr, 16);
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	u->tx_used++;
	return 0;
}

static void udp_wait(struct ep_io_q *q, int timeout_ms)
{
	struct udp_q *u = to_uq(q);
	struct pollfd p = { .fd = u->fd, .events = POLLIN };

	if (u->busy_poll)
		return;
	poll(&p, 1, timeout_ms);
}

static void udp_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	*st = to_uq(q)->st;
}

/* A UDP socket cannot refuse new datagrams and still hand out the queued ones; the
 * worker's drain reads for a bounded time instead. */
static void udp_stop_rx(struct ep_io_q *q)
{
	to_uq(q)->rx_stopped = true;
}

static void udp_close(struct ep_io_q *q)
{
	struct udp_q *u = to_uq(q);

	if (u->fd >= 0)
		close(u->fd);
	free(u->bufs);
	free(u->rx_free);
	free(u);
}

static const struct ep_io_ops udp_ops = {
	.name = "udp",
	.rx = udp_rx,
	.release = udp_release,
	.tx_buf = udp_tx_buf,
	.tx_abort = udp_tx_abort,
	.tx_commit = udp_tx_commit,
	.flush = udp_flush,
	.wait = udp_wait,
	.get_stats = udp_get_stats,
	.stop_rx = udp_stop_rx,
	.close = udp_close,
};

int ep_io_udp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(cfg->port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, bufsz = 4 << 20, err;
	struct udp_q *u;

	if (cfg->bind_addr) {
		struct in_addr v4;

		if (inet_pton(AF_INET, cfg->bind_addr, &v4) == 1) {
			sa.sin6_addr.s6_addr[10] = sa.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sa.sin6_addr.s6_addr[12], &v4, 4);
		} else if (inet_pton(AF_INET6, cfg->bind_addr, &sa.sin6_addr) != 1) {
			pr_err("udp: bind address '%s' is not numeric IPv4 or IPv6", cfg->bind_addr);
			return -EINVAL;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->q.ops = &udp_ops;
	u->q.queue_id = queue_id;
	u->busy_poll = cfg->busy_poll;
	u->buf_size = 9216;	/* jumbo frames; larger datagrams are counted rx_invalid */
	u->nbufs = cfg->frames ? cfg->frames / 2 : 1024;
	u->bufs = malloc((size_t)(u->nbufs + BURST) * u->buf_size);
	u->rx_free = calloc(u->nbufs, sizeof(*u->rx_free));
	u->fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (!u->bufs || !u->rx_free || u->fd < 0) {
		err = u->fd < 0 ? -errno : -ENOMEM;
		goto err_close;
	}
	for (uint32_t i = 0; i < u->nbufs; i++)
		u->rx_free[u->rx_nfree++] = u->nbufs - 1 - i;
	if (setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) ||
	    setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) {
		err = -errno;
		pr_err("udp: socket options: %s", strerror(errno));
		goto err_close;
	}
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (cfg->busy_poll) {
		int usecs = 20;

		setsockopt(u->fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs));
	}
	if (bind(u->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		pr_err("udp: bind port %u: %s", cfg->port, strerror(errno));
		goto err_close;
	}
	pr_info("udp: socket %u listening on port %u", queue_id, cfg->port);
	*out = &u->q;
	return 0;

err_close:
	udp_close(&u->q);
	return err;
}
