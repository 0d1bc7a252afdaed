// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * AF_XDP backend: one socket per RX queue through libxdp's xsk API, behind the edgeplane
 * classifier (libxdp's default program is not loaded). Each queue owns its UMEM: the first
 * half of the frames feed the fill ring, the second half form the TX pool. need_wakeup is
 * always on; zero-copy is used where the driver has it (auto) or as configured.
 *
 * Replies are written straight into TX frames: the core writes the UDP payload at a fixed
 * headroom and tx_commit() prepends the L2-L4 headers, so nothing is copied twice.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include "edgeplane/log.h"
#include "ep_shared.h"
#include "io/frame.h"
#include "io/io.h"

/* Skipped UDP checksum checks are logged once, not per queue. */
static bool csum_warned;

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

/* Room before a reply's UDP payload for its L2-L4 headers. */
#define TX_HEADROOM	128
_Static_assert(TX_HEADROOM >= EP_FRAME_HDR_MAX, "headroom holds the largest header");

struct afxdp_q {
	struct ep_io_q q;		/* first: the generic part */
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	void *area;
	uint64_t area_size;
	uint32_t frame_size;
	uint16_t port;
	bool busy_poll, rx_stopped, verify_csum;
	int fd, xsks_fd;
	__u32 xsk_key;

	/* TX frame pool (a stack of UMEM addresses), and the frame tx_buf() handed out. */
	uint64_t *tx_free;
	uint32_t tx_nfree, tx_total;
	uint64_t tx_cur;
	uint32_t tx_pending;		/* descriptors written, not yet kicked */

	/* Fill-ring refills waiting for room (released frames), a small stack. */
	uint64_t *fill_stash;
	uint32_t fill_nstash;

	struct ep_io_stats st;
};

static struct afxdp_q *to_aq(struct ep_io_q *q)
{
	return (struct afxdp_q *)q;
}

static void fill_flush(struct afxdp_q *a)
{
	uint32_t idx, n = a->fill_nstash;

	if (!n)
		return;
	n = xsk_ring_prod__reserve(&a->fq, n, &idx);
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&a->fq, idx + i) = a->fill_stash[--a->fill_nstash];
	if (n)
		xsk_ring_prod__submit(&a->fq, n);
}

static void afxdp_release(struct ep_io_q *q, uint64_t handle)
{
	struct afxdp_q *a = to_aq(q);

	/* The stash holds every RX frame at most once, so it cannot overflow. */
	a->fill_stash[a->fill_nstash++] = xsk_umem__extract_addr(handle);
	if (a->fill_nstash >= 32)
		fill_flush(a);
}

static unsigned int afxdp_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	struct afxdp_q *a = to_aq(q);
	unsigned int n, got = 0;
	uint32_t idx;

	fill_flush(a);
	if (xsk_ring_prod__needs_wakeup(&a->fq) && !a->rx_stopped) {
		a->st.wakeups++;
		recvfrom(a->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
	n = xsk_ring_cons__peek(&a->rx, max, &idx);
	for (unsigned int i = 0; i < n; i++) {
		const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&a->rx, idx + i);
		const uint8_t *frame = xsk_umem__get_data(a->area, desc->addr);

		a->st.rx_packets++;
		a->st.rx_bytes += desc->len;
		if (ep_frame_parse(frame, desc->len, a->port, &d[got])) {
			/* The classifier only lets valid datagrams through; count and recycle. */
			a->st.rx_invalid++;
			afxdp_release(q, desc->addr);
			continue;
		}
		/* The kernel checks nothing on this path: a corrupted payload would run. */
		if (a->verify_csum && !ep_frame_udp_csum_ok(&d[got])) {
			a->st.rx_bad_csum++;
			afxdp_release(q, desc->addr);
			continue;
		}
		d[got++].handle = desc->addr;
	}
	if (n)
		xsk_ring_cons__release(&a->rx, n);
	return got;
}

static void reap_completions(struct afxdp_q *a)
{
	uint32_t idx, n = xsk_ring_cons__peek(&a->cq, 256, &idx);

	/* A descriptor starts inside its frame (after the headroom it did not use). */
	for (uint32_t i = 0; i < n; i++)
		a->tx_free[a->tx_nfree++] =
			*xsk_ring_cons__comp_addr(&a->cq, idx + i) & ~(uint64_t)(a->frame_size - 1);
	if (n)
		xsk_ring_cons__release(&a->cq, n);
}

/* TX descriptors the kernel has not taken yet. */
static uint32_t tx_unconsumed(struct xsk_ring_prod *r)
{
	return r->size - xsk_prod_nb_free(r, r->size);
}

static unsigned int afxdp_flush(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	if (a->tx_pending) {
		xsk_ring_prod__submit(&a->tx, a->tx_pending);
		a->tx_pending = 0;
	}
	/* In copy mode each kick sends a bounded batch (32 frames here): kick until the
	 * kernel has taken the whole ring, or replies would wait for the next wake-up. */
	for (int i = 0; i < 128 && xsk_ring_prod__needs_wakeup(&a->tx) && tx_unconsumed(&a->tx);
	     i++) {
		a->st.wakeups++;
		if (sendto(a->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
		    errno != ENOBUFS && errno != EBUSY)
			break;
	}
	reap_completions(a);
	fill_flush(a);
	return a->tx_total - a->tx_nfree;
}

static uint8_t *afxdp_tx_buf(struct ep_io_q *q, uint32_t *cap)
{
	struct afxdp_q *a = to_aq(q);

	if (!a->tx_nfree)
		reap_completions(a);
	if (!a->tx_nfree)
		return NULL;
	a->tx_cur = a->tx_free[--a->tx_nfree];
	*cap = a->frame_size - TX_HEADROOM;
	return (uint8_t *)xsk_umem__get_data(a->area, a->tx_cur) + TX_HEADROOM;
}

static void afxdp_tx_abort(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	a->tx_free[a->tx_nfree++] = a->tx_cur;
}

static int afxdp_tx_commit(struct ep_io_q *q, const struct ep_route *r,
			   const struct ep_peer *peer, uint32_t len)
{
	struct afxdp_q *a = to_aq(q);
	uint32_t hlen = ep_frame_hdr_len(r), idx;
	uint64_t addr = a->tx_cur + TX_HEADROOM - hlen;
	struct xdp_desc *desc;

	if (xsk_ring_prod__reserve(&a->tx, 1, &idx) != 1) {
		a->tx_free[a->tx_nfree++] = a->tx_cur;	/* give the frame back */
		a->st.tx_ring_full++;
		return -ENOBUFS;
	}
	ep_frame_write_hdrs(xsk_umem__get_data(a->area, addr), r, peer, len);
	desc = xsk_ring_prod__tx_desc(&a->tx, idx);
	desc->addr = addr;
	desc->len = hlen + len;
	desc->options = 0;
	a->tx_pending++;
	a->st.tx_packets++;
	a->st.tx_bytes += desc->len;
	if (a->tx_pending >= 64)
		afxdp_flush(q);
	return 0;
}

static void afxdp_wait(struct ep_io_q *q, int timeout_ms)
{
	struct afxdp_q *a = to_aq(q);
	struct pollfd p = { .fd = a->fd, .events = POLLIN };

	if (a->busy_poll)
		return;
	poll(&p, 1, timeout_ms);
}

static void afxdp_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	struct afxdp_q *a = to_aq(q);
	struct xdp_statistics xs = { 0 };
	socklen_t len = sizeof(xs);

	*st = a->st;
	if (!getsockopt(xsk_socket__fd(a->xsk), SOL_XDP, XDP_STATISTICS, &xs, &len))
		st->rx_dropped = xs.rx_dropped + xs.rx_ring_full + xs.rx_fill_ring_empty_descs;
}

static void afxdp_stop_rx(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	/* Out of the XSKMAP: new tasks fall back to the kernel stack; what is in the RX ring
	 * already is still read. */
	if (a->xsks_fd >= 0 && !a->rx_stopped)
		bpf_map_delete_elem(a->xsks_fd, &a->xsk_key);
	a->rx_stopped = true;
}

static void afxdp_close(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	if (!a)
		return;
	if (a->xsk)
		afxdp_stop_rx(q);
	if (a->xsk)
		xsk_socket__delete(a->xsk);
	if (a->umem)
		xsk_umem__delete(a->umem);
	if (a->area)
		munmap(a->area, a->area_size);
	free(a->tx_free);
	free(a->fill_stash);
	free(a);
}

/* The RX ring's fill: what the kernel produced less what afxdp_rx() released. Both
 * indices are in the ring's shared memory; read from the reporter's thread while the
 * queue's thread moves the consumer, so it is an estimate (never above the ring's size). */
static unsigned int afxdp_rx_pending(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);
	uint32_t prod = __atomic_load_n(a->rx.producer, __ATOMIC_ACQUIRE);
	uint32_t cons = __atomic_load_n(a->rx.consumer, __ATOMIC_RELAXED);
	uint32_t n = prod - cons;

	return n > a->rx.size ? 0 : n;
}

static const struct ep_io_ops afxdp_ops = {
	.name = "afxdp",
	.rx = afxdp_rx,
	.release = afxdp_release,
	.tx_buf = afxdp_tx_buf,
	.tx_abort = afxdp_tx_abort,
	.tx_commit = afxdp_tx_commit,
	.flush = afxdp_flush,
	.wait = afxdp_wait,
	.get_stats = afxdp_get_stats,
	.rx_pending = afxdp_rx_pending,
	.stop_rx = afxdp_stop_rx,
	.close = afxdp_close,
};

static int create_socket(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
			 __u16 bind_flags)
{
	struct xsk_socket_config scfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags | XDP_USE_NEED_WAKEUP,
	};

	return xsk_socket__create(&a->xsk, cfg->ifname, queue_id, a->umem, &a->rx, &a->tx, &scfg);
}

/* Which mode the kernel chose for the socket. */
static bool zerocopy(int fd)
{
	struct xdp_options opts = { 0 };
	socklen_t len = sizeof(opts);

	return !getsockopt(fd, SOL_XDP, XDP_OPTIONS, &opts, &len) &&
	       (opts.flags & XDP_OPTIONS_ZEROCOPY);
}

static int set_busy_poll(int fd)
{
	int one = 1, usecs = 20, budget = 64;

	if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget)))
		return -errno;
	return 0;
}

int ep_io_afxdp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out)
{
	uint32_t nframes = cfg->frames ? cfg->frames : 4096;
	uint32_t fsize = cfg->frame_size ? cfg->frame_size : XSK_UMEM__DEFAULT_FRAME_SIZE;
	uint32_t nfill = nframes / 2, idx;
	struct xsk_umem_config ucfg = {
		.fill_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.frame_size = fsize,
		.frame_headroom = 0,
	};
	struct afxdp_q *a;
	int err;

	if (nframes < 64 || (fsize != 2048 && fsize != 4096) || nfill > ucfg.fill_size) {
		pr_err("afxdp: frames must be 64..%u and frame_size 2048 or 4096",
		       2 * ucfg.fill_size);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->q.ops = &afxdp_ops;
	a->q.queue_id = queue_id;
	a->frame_size = fsize;
	a->port = cfg->port;
	a->busy_poll = cfg->busy_poll;
	a->verify_csum = cfg->verify_csum < 0 ? ep_frame_csum_auto(cfg->ifname)
					    : cfg->verify_csum;
	a->xsks_fd = -1;
	a->area_size = (uint64_t)nframes * fsize;
	a->tx_free = calloc(nframes - nfill, sizeof(*a->tx_free));
	a->fill_stash = calloc(nfill, sizeof(*a->fill_stash));
	a->area = mmap(NULL, a->area_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (a->area == MAP_FAILED) {
		a->area = NULL;
		err = -errno;
		goto err_close;
	}
	if (!a->tx_free || !a->fill_stash) {
		err = -ENOMEM;
		goto err_close;
	}
	err = xsk_umem__create(&a->umem, a->area, a->area_size, &a->fq, &a->cq, &ucfg);
	if (err) {
		pr_err("afxdp: UMEM for queue %u: %s", queue_id, strerror(-err));
		goto err_close;
	}

	if (cfg->zerocopy == 1) {
		err = create_socket(a, cfg, queue_id, XDP_ZEROCOPY);
	} else if (cfg->zerocopy == 0) {
		err = create_socket(a, cfg, queue_id, XDP_COPY);
	} else {
		err = create_socket(a, cfg, queue_id, XDP_ZEROCOPY);
		if (err)
			err = create_socket(a, cfg, queue_id, XDP_COPY);
	}
	if (err) {
		pr_err("afxdp: socket on %s queue %u: %s", cfg->ifname, queue_id, strerror(-err));
		goto err_close;
	}
	a->fd = xsk_socket__fd(a->xsk);
	if (cfg->busy_poll && (err = set_busy_poll(a->fd)))
		pr_warn("afxdp: busy polling on queue %u: %s (continuing without)", queue_id,
			strerror(-err));

	/* Fill ring: the first half of the frames. TX pool: the second half. */
	if (xsk_ring_prod__reserve(&a->fq, nfill, &idx) != nfill) {
		err = -ENOSPC;
		goto err_close;
	}
	for (uint32_t i = 0; i < nfill; i++)
		*xsk_ring_prod__fill_addr(&a->fq, idx + i) = (uint64_t)i * fsize;
	xsk_ring_prod__submit(&a->fq, nfill);
	for (uint32_t i = nfill; i < nframes; i++)
		a->tx_free[a->tx_nfree++] = (uint64_t)i * fsize;
	a->tx_total = a->tx_nfree;

	a->xsk_key = EP_XSK_KEY(queue_id, cfg->slot);
	if (bpf_map_update_elem(cfg->xsks_map_fd, &a->xsk_key, &a->fd, BPF_ANY)) {
		err = -errno;
		pr_err("afxdp: register queue %u in the XSKMAP: %s", queue_id, strerror(errno));
		goto err_close;
	}
	a->xsks_fd = cfg->xsks_map_fd;
	if (!a->verify_csum && !csum_warned)
		pr_warn("afxdp: %s: UDP checksums are not checked (verify_checksum = \"%s\"): a "
			"corrupted task datagram is answered", cfg->ifname,
			cfg->verify_csum < 0 ? "auto" : "off");
	csum_warned = csum_warned || !a->verify_csum;
	pr_info("afxdp: %s queue %u ready (%s, %u frames of %u bytes, UDP checksums %s%s)",
		cfg->ifname, queue_id, zerocopy(a->fd) ? "zero-copy" : "copy mode", nframes, fsize,
		a->verify_csum ? "checked" : "not checked", cfg->busy_poll ? ", busy polling" : "");
	*out = &a->q;
	return 0;

err_close:
	a->rx_stopped = true;	/* nothing registered yet */
	afxdp_close(&a->q);
	return err;
}
