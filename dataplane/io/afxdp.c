// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * AF_XDP backend: one socket per RX queue through libxdp's xsk API, behind the edgeplane
 * classifier (libxdp's default program is not loaded). Each queue owns its UMEM: the first
 * half of the frames feed the fill ring, the second half form the TX pool. need_wakeup is
 * always on; zero-copy is used where the driver has it (auto) or as configured.
 *
 * Replies are written straight into TX frames: the core writes the UDP payload at a fixed
 * headroom and tx_commit() prepends the L2-L4 headers, so nothing is copied twice.
 *
 * Priority socket (cfg->high_priority): a second socket on the same queue, bound with the
 * first one's UMEM (XDP_SHARED_UMEM: one fill and one completion ring for both, since the
 * kernel gives a queue one buffer pool), at XSKMAP slot cfg->slot + 1, where the
 * classifier steers the high priorities (ep_config.prio_slot). It has an RX ring and no
 * TX ring: replies all leave through the first socket. rx() reads its ring first. The
 * shared fill ring is what a flood of the default socket could exhaust (frames waiting in
 * its RX ring, and frames of queued tasks, which keep their payload in the frame until
 * they run): so a priority socket brings as many receive frames again as the default
 * one has (nfill), the default socket's RX ring holds nfill at most, and rx() stops
 * taking its frames while the worker holds nfill / 2 of them. nfill / 2 frames always
 * stay for the priority socket, and a flood of low priorities overflows its own ring
 * (counted in rx_dropped), not the priority socket's.
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
#define TX_HEADROOM 128
_Static_assert(TX_HEADROOM >= EP_FRAME_HDR_MAX, "headroom holds the largest header");

/* A handle of a frame from the priority socket's ring (UMEM addresses are far below). */
#define HANDLE_HIGH   (1ull << 63)
/* Frames of the default ring taken at most in a burst that has high-priority ones. */
#define LOW_WITH_HIGH 8

struct afxdp_q {
	struct ep_io_q q; /* first: the generic part */
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_socket *hxsk;  /* the priority socket, or NULL */
	struct xsk_ring_cons hrx; /* its RX ring */
	int hfd;
	__u32 hxsk_key;
	uint32_t low_out, low_cap; /* default-ring frames the worker holds, and its share */
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
	uint32_t tx_pending; /* descriptors written, not yet kicked */

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

	if (!(handle & HANDLE_HIGH))
		a->low_out--;
	/* The stash holds every RX frame at most once, so it cannot overflow. */
	a->fill_stash[a->fill_nstash++] = xsk_umem__extract_addr(handle);
	if (a->fill_nstash >= 32)
		fill_flush(a);
}

/* Take up to @max frames of RX ring @ring into @d; @tag marks their handles. */
static unsigned int rx_ring(struct afxdp_q *a, struct xsk_ring_cons *ring, uint64_t tag,
			    struct ep_dgram *d, unsigned int max)
{
	unsigned int n, got = 0;
	uint32_t idx;

	n = xsk_ring_cons__peek(ring, max, &idx);
	if (!tag)
		a->low_out += n; /* afxdp_release() counts them back */
	for (unsigned int i = 0; i < n; i++) {
		const struct xdp_desc *desc = xsk_ring_cons__rx_desc(ring, idx + i);
		const uint8_t *frame = xsk_umem__get_data(a->area, desc->addr);

		a->st.rx_packets++;
		a->st.rx_bytes += desc->len;
		if (tag)
			a->st.rx_prio_packets++;
		if (ep_frame_parse(frame, desc->len, a->port, &d[got])) {
			/* The classifier only lets valid datagrams through; count and recycle. */
			a->st.rx_invalid++;
			afxdp_release(&a->q, desc->addr | tag);
			continue;
		}
		/* The kernel checks nothing on this path: a corrupted payload would run. */
		if (a->verify_csum && !ep_frame_udp_csum_ok(&d[got])) {
			a->st.rx_bad_csum++;
			afxdp_release(&a->q, desc->addr | tag);
			continue;
		}
		d[got++].handle = desc->addr | tag;
	}
	if (n)
		xsk_ring_cons__release(ring, n);
	return got;
}

static unsigned int afxdp_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	struct afxdp_q *a = to_aq(q);
	unsigned int got = 0;

	fill_flush(a);
	if (xsk_ring_prod__needs_wakeup(&a->fq) && !a->rx_stopped) {
		a->st.wakeups++;
		/* cppcheck-suppress nullPointer ; an AF_XDP wake-up: no buffer */
		recvfrom(a->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	}
	if (a->hxsk)
		got = rx_ring(a, &a->hrx, HANDLE_HIGH, d, max);
	/* With high-priority datagrams in this burst, few of the others: each is decoded
	 * (and its task queued) before the high-priority tasks run. */
	if (got && max > got + LOW_WITH_HIGH)
		max = got + LOW_WITH_HIGH;
	if (got < max && a->low_out < a->low_cap) {
		if (max - got > a->low_cap - a->low_out)
			max = got + a->low_cap - a->low_out;
		got += rx_ring(a, &a->rx, 0, d + got, max - got);
	} else if (got < max) {
		a->st.rx_low_deferred++;
	}
	return got;
}

static bool afxdp_rx_high_pending(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	return a->hxsk && xsk_cons_nb_avail(&a->hrx, 1);
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
		/* cppcheck-suppress nullPointer ; an AF_XDP wake-up: no buffer */
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

static int afxdp_tx_commit(struct ep_io_q *q, const struct ep_route *r, const struct ep_peer *peer,
			   uint32_t len)
{
	struct afxdp_q *a = to_aq(q);
	uint32_t hlen = ep_frame_hdr_len(r), idx;
	uint64_t addr = a->tx_cur + TX_HEADROOM - hlen;
	struct xdp_desc *desc;

	if (xsk_ring_prod__reserve(&a->tx, 1, &idx) != 1) {
		a->tx_free[a->tx_nfree++] = a->tx_cur; /* give the frame back */
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
	struct pollfd p[2] = { { .fd = a->fd, .events = POLLIN },
			       { .fd = a->hfd, .events = POLLIN } };

	if (a->busy_poll)
		return;
	/* While its share of frames is held, the default ring's frames are not taken. */
	if (a->low_out >= a->low_cap)
		p[0].fd = -1;
	poll(p, a->hxsk ? 2 : 1, timeout_ms);
}

/*
 * rx_dropped: the frames the kernel dropped for a socket, its RX ring full
 * (rx_ring_full) or no fill-ring buffer to copy them into (rx_dropped). Not
 * rx_fill_ring_empty_descs: the kernel bumps it with rx_dropped for the same drop, and
 * it is the UMEM's fill ring's, which both sockets of a queue share (and report).
 */
static void afxdp_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	struct afxdp_q *a = to_aq(q);
	struct xdp_statistics xs = { 0 };
	socklen_t len = sizeof(xs);

	*st = a->st;
	if (!getsockopt(xsk_socket__fd(a->xsk), SOL_XDP, XDP_STATISTICS, &xs, &len))
		st->rx_dropped = xs.rx_dropped + xs.rx_ring_full;
	memset(&xs, 0, sizeof(xs));
	len = sizeof(xs);
	if (a->hxsk && !getsockopt(a->hfd, SOL_XDP, XDP_STATISTICS, &xs, &len)) {
		st->rx_prio_dropped = xs.rx_dropped + xs.rx_ring_full;
		st->rx_dropped += st->rx_prio_dropped;
	}
}

static void afxdp_stop_rx(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	/* Out of the XSKMAP: new tasks fall back to the kernel stack; what is in the RX ring
	 * already is still read. */
	if (a->xsks_fd >= 0 && !a->rx_stopped) {
		bpf_map_delete_elem(a->xsks_fd, &a->xsk_key);
		if (a->hxsk)
			bpf_map_delete_elem(a->xsks_fd, &a->hxsk_key);
	}
	a->rx_stopped = true;
}

static void afxdp_close(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	if (!a)
		return;
	if (a->xsk)
		afxdp_stop_rx(q);
	if (a->hxsk)
		xsk_socket__delete(a->hxsk);
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
/* Entries waiting in one RX ring, read from another thread (an estimate). */
static unsigned int ring_fill(const struct xsk_ring_cons *r)
{
	uint32_t prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	uint32_t cons = __atomic_load_n(r->consumer, __ATOMIC_RELAXED);
	uint32_t n = prod - cons;

	return n > r->size ? 0 : n;
}

/* Both rings: the default socket's and, with one, the priority socket's. */
static unsigned int afxdp_rx_pending(struct ep_io_q *q)
{
	struct afxdp_q *a = to_aq(q);

	return ring_fill(&a->rx) + (a->hxsk ? ring_fill(&a->hrx) : 0);
}

EP_DEFINE_IO_OPS(afxdp, "afxdp", .rx_high_pending = afxdp_rx_high_pending,
		 .rx_pending = afxdp_rx_pending);

static int create_socket(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
			 __u16 bind_flags, __u32 rx_size)
{
	struct xsk_socket_config scfg = {
		.rx_size = rx_size,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags | XDP_USE_NEED_WAKEUP,
	};

	return xsk_socket__create(&a->xsk, cfg->ifname, queue_id, a->umem, &a->rx, &a->tx, &scfg);
}

/* The largest power of two <= @n, at least 8. */
static __u32 ring_size(__u32 n)
{
	__u32 r = 8;

	while (r * 2 <= n)
		r *= 2;
	return r;
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

/* The priority socket: RX only, on the first socket's UMEM and queue (so on its fill and
 * completion rings), registered at slot cfg->slot + 1. */
static int create_high_socket(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
			      __u32 rx_size)
{
	struct xsk_socket_config scfg = {
		.rx_size = rx_size,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_USE_NEED_WAKEUP,
	};
	int err;

	err = xsk_socket__create_shared(&a->hxsk, cfg->ifname, queue_id, a->umem, &a->hrx, NULL,
					&a->fq, &a->cq, &scfg);
	if (err) {
		a->hxsk = NULL;
		return err;
	}
	a->hfd = xsk_socket__fd(a->hxsk);
	if (cfg->busy_poll && set_busy_poll(a->hfd))
		pr_warn("afxdp: busy polling on queue %u's priority socket: %s", queue_id,
			strerror(errno));
	a->hxsk_key = EP_XSK_KEY(queue_id, cfg->slot + 1);
	if (bpf_map_update_elem(cfg->xsks_map_fd, &a->hxsk_key, &a->hfd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * The queue's UMEM: @nrx receive frames then the TX pool's (@ntx), of @fsize bytes each, in
 * one anonymous mapping, with the fill and completion rings (@fill_size). Returns 0 or a
 * negative errno; what was made is undone by afxdp_close().
 */
static int umem_create(struct afxdp_q *a, unsigned int queue_id, uint32_t nrx, uint32_t ntx,
		       uint32_t fsize, uint32_t fill_size)
{
	struct xsk_umem_config ucfg = {
		.fill_size = fill_size,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.frame_size = fsize,
		.frame_headroom = 0,
	};
	int err;

	a->area_size = (uint64_t)(nrx + ntx) * fsize;
	a->tx_free = calloc(ntx, sizeof(*a->tx_free));
	a->fill_stash = calloc(nrx, sizeof(*a->fill_stash));
	a->area = mmap(NULL, a->area_size, PROT_READ | PROT_WRITE,
		       /* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (a->area == MAP_FAILED) {
		a->area = NULL;
		return -errno;
	}
	if (!a->tx_free || !a->fill_stash)
		return -ENOMEM;
	err = xsk_umem__create(&a->umem, a->area, a->area_size, &a->fq, &a->cq, &ucfg);
	if (err)
		pr_err("afxdp: UMEM for queue %u: %s", queue_id, strerror(-err));
	return err;
}

/* The default socket, in the copy mode cfg->zerocopy asks (-1: zero-copy if the driver
 * can, else copy), with busy polling if asked (a failure there only warned of). */
static int socket_open(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
		       uint32_t rx_size)
{
	int err;

	if (cfg->zerocopy == 0) {
		err = create_socket(a, cfg, queue_id, XDP_COPY, rx_size);
	} else {
		err = create_socket(a, cfg, queue_id, XDP_ZEROCOPY, rx_size);
		if (err && cfg->zerocopy != 1) /* -1: zero-copy where the driver can */
			err = create_socket(a, cfg, queue_id, XDP_COPY, rx_size);
	}
	if (err) {
		pr_err("afxdp: socket on %s queue %u: %s", cfg->ifname, queue_id, strerror(-err));
		return err;
	}
	a->fd = xsk_socket__fd(a->xsk);
	if (cfg->busy_poll && (err = set_busy_poll(a->fd)))
		pr_warn("afxdp: busy polling on queue %u: %s (continuing without)", queue_id,
			strerror(-err));
	return 0;
}

/* Fill ring: the first @nrx frames. TX pool: the @ntx after them. */
static int frames_give(struct afxdp_q *a, uint32_t nrx, uint32_t ntx)
{
	uint32_t idx;

	if (xsk_ring_prod__reserve(&a->fq, nrx, &idx) != nrx)
		return -ENOSPC;
	for (uint32_t i = 0; i < nrx; i++)
		*xsk_ring_prod__fill_addr(&a->fq, idx + i) = (uint64_t)i * a->frame_size;
	xsk_ring_prod__submit(&a->fq, nrx);
	for (uint32_t i = nrx; i < nrx + ntx; i++)
		a->tx_free[a->tx_nfree++] = (uint64_t)i * a->frame_size;
	a->tx_total = a->tx_nfree;
	return 0;
}

/* The default socket into the classifier's XSKMAP, at its queue's slot. */
static int xskmap_register(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id)
{
	int err;

	a->xsk_key = EP_XSK_KEY(queue_id, cfg->slot);
	if (bpf_map_update_elem(cfg->xsks_map_fd, &a->xsk_key, &a->fd, BPF_ANY)) {
		err = -errno;
		pr_err("afxdp: register queue %u in the XSKMAP: %s", queue_id, strerror(errno));
		return err;
	}
	a->xsks_fd = cfg->xsks_map_fd;
	return 0;
}

/* The priority socket, with an RX ring for @nframes more frames. Without it the queue
 * works as with limits.high_priority = 0: the classifier falls back to slot 0 for a slot
 * with no socket. Returns whether the queue has one. */
static bool high_socket_try(struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
			    uint32_t nframes)
{
	int err = create_high_socket(a, cfg, queue_id, ring_size(nframes));

	if (!err)
		return true;
	pr_warn("afxdp: no priority socket on %s queue %u: %s (one socket for every priority)",
		cfg->ifname, queue_id, strerror(-err));
	if (a->hxsk)
		xsk_socket__delete(a->hxsk);
	a->hxsk = NULL;
	a->hfd = -1;
	a->low_cap = UINT32_MAX;
	return false;
}

/* Said once the queue is ready; an unchecked UDP checksum once per process. */
static void say_ready(const struct afxdp_q *a, const struct ep_io_cfg *cfg, unsigned int queue_id,
		      uint32_t nframes, uint32_t nhigh, uint32_t rx_size, bool high)
{
	if (!a->verify_csum && !csum_warned)
		pr_warn("afxdp: %s: UDP checksums are not checked (verify_checksum = \"%s\"): a "
			"corrupted task datagram is answered",
			cfg->ifname, cfg->verify_csum < 0 ? "auto" : "off");
	csum_warned = csum_warned || !a->verify_csum;
	pr_info("afxdp: %s queue %u ready (%s, %u frames of %u bytes, UDP checksums %s%s%s)",
		cfg->ifname, queue_id, zerocopy(a->fd) ? "zero-copy" : "copy mode", nframes,
		a->frame_size, a->verify_csum ? "checked" : "not checked",
		cfg->busy_poll ? ", busy polling" : "", high ? ", a priority socket" : "");
	if (high)
		pr_debug("afxdp: queue %u: priorities >= %u on slot %u (%u more frames, default "
			 "ring %u, its share held %u)",
			 queue_id, cfg->high_priority, cfg->slot + 1, nhigh, rx_size, a->low_cap);
}

int ep_io_afxdp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out)
{
	uint32_t nframes = cfg->frames ? cfg->frames : 4096;
	uint32_t fsize = cfg->frame_size ? cfg->frame_size : XSK_UMEM__DEFAULT_FRAME_SIZE;
	uint32_t nfill = nframes / 2, rx_size, nrx;
	bool high = cfg->high_priority && cfg->slot + 1 < EP_XSK_SLOTS;
	struct afxdp_q *a;
	int err;

	if (nframes < 64 || (fsize != 2048 && fsize != 4096) ||
	    nfill > XSK_RING_PROD__DEFAULT_NUM_DESCS) {
		pr_err("afxdp: frames must be 64..%u and frame_size 2048 or 4096",
		       2 * XSK_RING_PROD__DEFAULT_NUM_DESCS);
		return -EINVAL;
	}
	/* With a priority socket, as many receive frames again, for it: the fill ring is
	 * shared, and the default socket takes at most its ring (nfill frames at most) and
	 * half of nfill held by the worker, so at least nfill / 2 stay for the priority
	 * socket whatever floods the default one. */
	nrx = high ? 2 * nfill : nfill;
	a = ep_io_q_alloc(sizeof(*a), &afxdp_ops, queue_id);
	if (!a)
		return -ENOMEM;
	a->frame_size = fsize;
	a->port = cfg->port;
	a->busy_poll = cfg->busy_poll;
	a->verify_csum = cfg->verify_csum < 0 ? ep_frame_csum_auto(cfg->ifname) : cfg->verify_csum;
	a->xsks_fd = -1;
	a->hfd = -1;
	rx_size = high ? ring_size(nfill) : XSK_RING_CONS__DEFAULT_NUM_DESCS;
	a->low_cap = high ? nfill / 2 : UINT32_MAX;
	/* Receive frames: half of `frames`, and as many again with a priority socket; the
	 * TX pool: the other half of `frames`. */
	err = umem_create(a, queue_id, nrx, nframes - nfill, fsize,
			  XSK_RING_PROD__DEFAULT_NUM_DESCS * (high ? 2 : 1));
	if (!err)
		err = socket_open(a, cfg, queue_id, rx_size);
	if (!err)
		err = frames_give(a, nrx, nframes - nfill);
	if (!err)
		err = xskmap_register(a, cfg, queue_id);
	if (err)
		goto err_close;
	high = high && high_socket_try(a, cfg, queue_id, nrx - nfill);
	say_ready(a, cfg, queue_id, nrx + nframes - nfill, nrx - nfill, rx_size, high);
	*out = &a->q;
	return 0;

err_close:
	a->rx_stopped = true; /* nothing registered yet */
	afxdp_close(&a->q);
	return err;
}
