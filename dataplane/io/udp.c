// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * UDP socket backend: a kernel socket per worker (SO_REUSEPORT spreads flows over them),
 * bursts in with recvmmsg and out with sendmmsg. For hosts without XDP, and the baseline
 * that the AF_XDP path is measured against. The local address of each request comes from
 * IP_PKTINFO / IPV6_PKTINFO and is used as the reply's source.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeplane/log.h"
#include "io/io.h"
#include "io/sock.h"

#define BURST 64

struct udp_q {
	struct ep_io_q q; /* first: the generic part */
	int fd;
	bool busy_poll;
	uint32_t buf_size, nbufs;
	uint8_t *bufs;		     /* nbufs * buf_size: RX buffers, then TX buffers */
	uint32_t *rx_free, rx_nfree; /* stack of free RX buffer indices */
	uint32_t tx_used;	     /* TX buffers of the current burst */

	struct mmsghdr rmsg[BURST];
	struct iovec riov[BURST];
	struct sockaddr_in6 rname[BURST];
	_Alignas(struct cmsghdr) uint8_t rctl[BURST][EP_SOCK_CMSG_SPACE];
	uint32_t rbuf[BURST]; /* buffer index posted in each slot */

	struct mmsghdr tmsg[BURST];
	struct iovec tiov[BURST];
	struct sockaddr_in6 tname[BURST];
	_Alignas(struct cmsghdr) uint8_t tctl[BURST][EP_SOCK_TX_CMSG_SPACE];

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
			.msg_name = &u->rname[i],
			.msg_namelen = sizeof(u->rname[i]),
			.msg_iov = &u->riov[i],
			.msg_iovlen = 1,
			.msg_control = u->rctl[i],
			.msg_controllen = EP_SOCK_CMSG_SPACE,
		};
	}
	n = recvmmsg(u->fd, u->rmsg, want, MSG_DONTWAIT, NULL);
	if (n < 0)
		n = 0;
	for (unsigned int i = (unsigned int)n; i < want; i++) /* unused buffers back */
		u->rx_free[u->rx_nfree++] = u->rbuf[i];
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &u->rmsg[i].msg_hdr;
		struct ep_dgram *g = &d[got];

		u->st.rx_packets++;
		u->st.rx_bytes += u->rmsg[i].msg_len;
		if ((mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    ep_sock_rx_route(g, &u->rname[i], mh)) {
			u->st.rx_invalid++;
			u->rx_free[u->rx_nfree++] = u->rbuf[i];
			continue;
		}
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
	return 0; /* the kernel has its own copy */
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

	ep_sock_tx_msg(&u->tmsg[i].msg_hdr, &u->tiov[i], &u->tname[i], u->tctl[i], r, peer,
		       tx_slot(u, i), len);
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
	st->rx_dropped = ep_sock_drops(to_uq(q)->fd);
}

/* A UDP socket cannot refuse new datagrams and still hand out the queued ones; the
 * worker's drain reads for a bounded time instead. */
static void udp_stop_rx(struct ep_io_q *q)
{
	(void)q;
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

EP_DEFINE_IO_OPS(udp, "udp");

int ep_io_udp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out)
{
	struct udp_q *u;
	int err;

	u = ep_io_q_alloc(sizeof(*u), &udp_ops, queue_id);
	if (!u)
		return -ENOMEM;
	u->fd = -1;
	u->busy_poll = cfg->busy_poll;
	u->buf_size = EP_SOCK_MAX_DGRAM;
	u->nbufs = cfg->frames ? cfg->frames / 2 : 1024;
	u->bufs = malloc((size_t)(u->nbufs + BURST) * u->buf_size);
	u->rx_free = calloc(u->nbufs, sizeof(*u->rx_free));
	if (!u->bufs || !u->rx_free) {
		err = -ENOMEM;
		goto err_close;
	}
	for (uint32_t i = 0; i < u->nbufs; i++)
		u->rx_free[u->rx_nfree++] = u->nbufs - 1 - i;
	err = ep_sock_open(cfg, "udp", queue_id, &u->fd);
	if (err)
		goto err_close;
	pr_info("udp: socket %u listening on port %u", queue_id, cfg->port);
	*out = &u->q;
	return 0;

err_close:
	udp_close(&u->q);
	return err;
}
