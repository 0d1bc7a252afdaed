// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * io_uring backend: the udp backend's socket (sock.c: one per worker, SO_REUSEPORT,
 * pktinfo for the reply's source address), driven through one io_uring per worker.
 *
 * Receive: one multishot recvmsg stays armed on the socket and picks its buffers from a
 * provided buffer ring, so datagrams land in our buffers without a system call each. A
 * buffer holds the kernel's struct io_uring_recvmsg_out, the source address, the control
 * data (IP_PKTINFO / IPV6_PKTINFO: the address the request came to) and the payload; the
 * core gets a pointer to the payload and hands the buffer back with release(), which puts
 * it back into the ring. When the ring runs dry the kernel ends the multishot request
 * with ENOBUFS (the datagrams wait in the socket's queue); it also may end it for other
 * reasons (no IORING_CQE_F_MORE). It is armed again once the ring has buffers.
 *
 * Transmit: tx_commit() queues a sendmsg SQE (IPV6_PKTINFO for the source address) on a
 * buffer of the TX pool, and flush() submits everything queued with one io_uring_submit()
 * and reaps the completions. Payloads of at least uring.zc_min bytes go out with send_zc
 * (IORING_OP_SENDMSG_ZC): the kernel sends from our buffer instead of copying it, and the
 * buffer returns to the pool only with the notification CQE (IORING_CQE_F_NOTIF) that
 * says the kernel let go of it. Zero copy costs page pinning and a second completion, so
 * it pays only for large payloads: by default (4096) only replies of jumbo frames
 * (limits.mtu of 4124 and more) use it; tx_zc and tx_zc_copied count it.
 *
 * With uring.sqpoll a kernel thread polls the submission queue, so submitting needs no
 * system call while the thread is awake (it sleeps after 100 ms without work). Without,
 * the ring is SINGLE_ISSUER with DEFER_TASKRUN (Linux 6.1+; else COOP_TASKRUN): the work
 * behind completions (the receive's copy into our buffers, above all) waits until the
 * worker asks for completions, and then runs in one go, never interrupting it. flush()
 * submits and collects in one system call. Such a ring belongs to the one thread that
 * enables it: it is created disabled and the worker enables it on its first rx(); the
 * kernel's features are probed on a ring of their own.
 *
 * Receive CQEs met while reaping send completions (flush) are kept in a small queue of
 * ready buffers for the next rx(): there is at most one per buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "edgeplane/log.h"
#include "io/io.h"
#include "io/sock.h"

/* Newer than the uapi header of liburing 2.3 (Linux 6.2). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define BGID	       0 /* our buffer group: one ring per io_uring */
#define SQPOLL_IDLE_MS 100
#define REFILL_BATCH   32 /* released buffers published together */

/* Receive buffer layout (the kernel's, for multishot recvmsg): the header, the source
 * address in NAME_SPACE bytes (a sockaddr_in6, rounded up so the control data that follows
 * is aligned for struct cmsghdr), the control data, then the payload. */
#define NAME_SPACE  ((sizeof(struct sockaddr_in6) + 7) & ~(size_t)7)
#define RX_HDR	    (sizeof(struct io_uring_recvmsg_out) + NAME_SPACE + EP_SOCK_CMSG_SPACE)
#define RX_BUF_SIZE ((RX_HDR + EP_SOCK_MAX_DGRAM + 63) & ~(size_t)63)
#define TX_BUF_SIZE EP_SOCK_MAX_DGRAM
_Static_assert(RX_BUF_SIZE < 65536, "a buffer's length fits struct rx_ready");

/* user_data: the kind in the high 32 bits, a TX slot index in the low ones. */
#define UD_RECV	    (1ull << 32)
#define UD_SEND	    (2ull << 32)
#define UD_PROBE    (3ull << 32)
#define UD_CANCEL   (4ull << 32)
#define UD_KIND(ud) ((ud) & ~0xffffffffull)

struct tx_slot {
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_in6 name;
	_Alignas(struct cmsghdr) uint8_t ctl[EP_SOCK_TX_CMSG_SPACE]; /* CMSG_FIRSTHDR() of it */
};

/* A received datagram not yet handed to the core: its buffer, and the bytes written. */
struct rx_ready {
	uint16_t bid;
	uint16_t len;
};

struct uring_q {
	struct ep_io_q q; /* first: the generic part */
	struct io_uring ring;
	bool ring_ok, sqpoll, busy_poll;
	bool single_issuer; /* DEFER_TASKRUN: only the worker's thread may enter */
	bool disabled;	    /* created R_DISABLED, not yet enabled by the worker */
	bool fixed;	    /* the socket is registered: fixed file 0 */
	bool rx_armed, rx_armed_once;
	bool zc_report; /* the kernel reports copied zero-copy sends (6.2+) */
	int fd;
	uint32_t zc_min;

	/* RX: nbufs buffers of RX_BUF_SIZE in the provided buffer ring. */
	struct io_uring_buf_ring *br;
	size_t br_size;
	uint32_t nbufs, br_mask;
	uint32_t br_avail;	/* buffers the kernel may fill */
	uint32_t br_pending;	/* released, added to the ring, not yet published */
	struct msghdr rx_msg;	/* the layout of each buffer (name and control sizes) */
	struct rx_ready *ready; /* [nbufs]: received, not yet returned by rx() */
	uint32_t ready_head, ready_tail;

	/* TX: ntx slots and buffers; a stack of the free ones. */
	struct tx_slot *tx;
	uint32_t *tx_free, tx_nfree, ntx;
	uint32_t tx_cur;      /* the slot of the last tx_buf() */
	uint32_t tx_inflight; /* committed, buffer not yet back */

	uint8_t *area; /* RX buffers, then TX buffers */
	size_t area_size;

	struct ep_io_stats st;
};

static struct uring_q *to_uq(struct ep_io_q *q)
{
	return (struct uring_q *)q;
}

static uint8_t *rx_buf(struct uring_q *u, uint32_t bid)
{
	return u->area + (size_t)bid * RX_BUF_SIZE;
}

static uint8_t *tx_buf(struct uring_q *u, uint32_t i)
{
	return u->area + (size_t)u->nbufs * RX_BUF_SIZE + (size_t)i * TX_BUF_SIZE;
}

static void tx_slot_free(struct uring_q *u, uint32_t i)
{
	u->tx_free[u->tx_nfree++] = i;
	u->tx_inflight--;
}

static void on_recv(struct uring_q *u, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->rx_armed = false; /* the kernel ended it: armed again by arm() */
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			u->st.rx_no_buf++;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	u->br_avail--;
	u->ready[u->ready_tail++ & u->br_mask] = (struct rx_ready){
		.bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT),
		.len = (uint16_t)cqe->res,
	};
}

static void on_send(struct uring_q *u, const struct io_uring_cqe *cqe)
{
	uint32_t i = (uint32_t)cqe->user_data;

	if (cqe->flags & IORING_CQE_F_NOTIF) { /* send_zc: the kernel let go of the buffer */
		if (u->zc_report && (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED))
			u->st.tx_zc_copied++;
		tx_slot_free(u, i);
		return;
	}
	if (cqe->res >= 0) {
		u->st.tx_packets++;
		u->st.tx_bytes += (uint64_t)cqe->res;
	} else {
		u->st.tx_ring_full++; /* refused by the kernel: the reply is lost */
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) /* else a notification follows */
		tx_slot_free(u, i);
}

/* Take every completion there is, without waiting. */
static void reap(struct uring_q *u)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	/* COOP_TASKRUN: completions wait as task work until we enter the kernel, and this
	 * flag says that some do; an overflowed CQ is flushed the same way. */
	if (IO_URING_READ_ONCE(*u->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) {
		u->st.wakeups++;
		io_uring_get_events(&u->ring);
	}
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		switch (UD_KIND(cqe->user_data)) {
		case UD_RECV:
			on_recv(u, cqe);
			break;
		case UD_SEND:
			on_send(u, cqe);
			break;
		default:
			break;
		}
		n++;
	}
	if (n)
		io_uring_cq_advance(&u->ring, n);
}

/* Hand the queued SQEs to the kernel: one system call, or none while SQPOLL's thread is
 * awake. With @events, the same call also runs the deferred completion work. */
static void submit_ev(struct uring_q *u, bool events)
{
	int ret;

	if (!io_uring_sq_ready(&u->ring))
		return;
	if (!u->sqpoll || (IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_NEED_WAKEUP))
		u->st.wakeups++;
	ret = events ? io_uring_submit_and_get_events(&u->ring) : io_uring_submit(&u->ring);
	if (ret == -EBUSY || ret == -EAGAIN) { /* completions must be reaped first */
		reap(u);
		io_uring_submit(&u->ring);
	}
}

static void submit(struct uring_q *u)
{
	submit_ev(u, false);
}

/* The worker's thread takes the ring: from now on only it may submit and wait. (liburing
 * 2.3 declares io_uring_enable_rings() but does not export it.) */
static void enable(struct uring_q *u)
{
	u->disabled = false;
	if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		pr_err("uring: queue %u: enabling the ring: %s", u->q.queue_id, strerror(errno));
}

static struct io_uring_sqe *get_sqe(struct uring_q *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) { /* the SQ is full: push it out first */
		submit(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (!sqe && u->sqpoll) { /* the kernel thread has not taken them yet */
		io_uring_sqring_wait(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* Publish the buffers released since the last time. */
static void refill(struct uring_q *u)
{
	if (!u->br_pending)
		return;
	io_uring_buf_ring_advance(u->br, (int)u->br_pending);
	u->br_avail += u->br_pending;
	u->br_pending = 0;
}

static void prep_recv(struct uring_q *u, struct io_uring_sqe *sqe, int fd, uint64_t ud)
{
	io_uring_prep_recvmsg_multishot(sqe, fd, &u->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, ud);
}

/* Arm the multishot receive if the kernel ended it, once there are buffers for it: armed
 * on an empty ring it would end again at once. */
static void arm(struct uring_q *u)
{
	struct io_uring_sqe *sqe;

	if (u->rx_armed || !u->br_avail)
		return;
	sqe = get_sqe(u);
	if (!sqe)
		return; /* next time */
	prep_recv(u, sqe, u->fixed ? 0 : u->fd, UD_RECV);
	if (u->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	u->rx_armed = true;
	if (u->rx_armed_once)
		u->st.rx_rearms++;
	u->rx_armed_once = true;
	submit(u);
}

/* One received buffer -> a datagram for the core. Returns 0, or -EINVAL (counted) for one
 * to drop; its buffer is then still to be released. */
static int parse(struct uring_q *u, const struct rx_ready *r, struct ep_dgram *g)
{
	struct io_uring_recvmsg_out *o;
	struct sockaddr_in6 src;
	struct msghdr mh = { 0 };

	u->st.rx_packets++;
	o = io_uring_recvmsg_validate(rx_buf(u, r->bid), r->len, &u->rx_msg);
	if (!o) {
		u->st.rx_invalid++;
		return -EINVAL;
	}
	u->st.rx_bytes += o->payloadlen;
	if ((o->flags & (MSG_TRUNC | MSG_CTRUNC)) || o->namelen > sizeof(src)) {
		u->st.rx_invalid++;
		return -EINVAL;
	}
	memset(&src, 0, sizeof(src));
	memcpy(&src, io_uring_recvmsg_name(o), o->namelen);
	mh.msg_control = (uint8_t *)io_uring_recvmsg_name(o) + u->rx_msg.msg_namelen;
	mh.msg_controllen = o->controllen;
	if (ep_sock_rx_route(g, &src, &mh)) {
		u->st.rx_invalid++;
		return -EINVAL;
	}
	g->data = io_uring_recvmsg_payload(o, &u->rx_msg);
	g->len = io_uring_recvmsg_payload_length(o, r->len, &u->rx_msg);
	g->handle = r->bid;
	return 0;
}

static void uring_release(struct ep_io_q *q, uint64_t handle)
{
	struct uring_q *u = to_uq(q);

	io_uring_buf_ring_add(u->br, rx_buf(u, (uint32_t)handle), RX_BUF_SIZE,
			      (unsigned short)handle, u->br_mask, (int)u->br_pending++);
	if (u->br_pending >= REFILL_BATCH)
		refill(u);
}

static unsigned int uring_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	struct uring_q *u = to_uq(q);
	unsigned int got = 0;

	if (u->disabled)
		enable(u);
	reap(u);
	refill(u);
	arm(u);
	while (got < max && u->ready_head != u->ready_tail) {
		const struct rx_ready *r = &u->ready[u->ready_head++ & u->br_mask];

		if (parse(u, r, &d[got])) {
			uring_release(q, r->bid);
			continue;
		}
		got++;
	}
	return got;
}

static uint8_t *uring_tx_buf(struct ep_io_q *q, uint32_t *cap)
{
	struct uring_q *u = to_uq(q);

	if (!u->tx_nfree)
		reap(u);
	/* All in flight: the queued sends go now and a completion is awaited, briefly (a
	 * send_zc buffer comes back with the kernel's notification, moments later), rather
	 * than a reply dropped for want of a buffer: at most 10 ms. */
	for (int i = 0; !u->tx_nfree && i < 10; i++) {
		struct __kernel_timespec ts = { .tv_nsec = 1000000 };
		struct io_uring_cqe *cqe;

		submit_ev(u, true);
		reap(u);
		if (u->tx_nfree)
			break;
		if (!io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts))
			reap(u);
	}
	if (!u->tx_nfree)
		return NULL;
	u->tx_cur = u->tx_free[--u->tx_nfree];
	u->tx_inflight++;
	*cap = TX_BUF_SIZE;
	return tx_buf(u, u->tx_cur);
}

static void uring_tx_abort(struct ep_io_q *q)
{
	struct uring_q *u = to_uq(q);

	tx_slot_free(u, u->tx_cur);
}

static int uring_tx_commit(struct ep_io_q *q, const struct ep_route *r, const struct ep_peer *peer,
			   uint32_t len)
{
	struct uring_q *u = to_uq(q);
	struct tx_slot *s = &u->tx[u->tx_cur];
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe) {
		tx_slot_free(u, u->tx_cur);
		u->st.tx_ring_full++;
		return -ENOBUFS;
	}
	ep_sock_tx_msg(&s->mh, &s->iov, &s->name, s->ctl, r, peer, tx_buf(u, u->tx_cur), len);
	if (u->zc_min && len >= u->zc_min) {
		io_uring_prep_sendmsg_zc(sqe, u->fixed ? 0 : u->fd, &s->mh, 0);
		if (u->zc_report)
			sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
		u->st.tx_zc++;
	} else {
		io_uring_prep_sendmsg(sqe, u->fixed ? 0 : u->fd, &s->mh, 0);
	}
	if (u->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UD_SEND | u->tx_cur);
	return 0;
}

static unsigned int uring_flush(struct ep_io_q *q)
{
	struct uring_q *u = to_uq(q);

	submit_ev(u, true);
	reap(u);
	refill(u);
	return u->tx_inflight;
}

static void uring_wait(struct ep_io_q *q, int timeout_ms)
{
	struct uring_q *u = to_uq(q);
	struct io_uring_cqe *cqe;

	if (u->busy_poll)
		return;
	refill(u);
	arm(u);
	submit(u);
	if (u->ready_head != u->ready_tail)
		return;
	if (timeout_ms < 0) {
		io_uring_wait_cqe(&u->ring, &cqe);
	} else {
		struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
						.tv_nsec = (timeout_ms % 1000) * 1000000LL };

		io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
	}
}

static void uring_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	struct uring_q *u = to_uq(q);

	*st = u->st;
	st->rx_dropped = ep_sock_drops(u->fd);
}

/* As with the udp backend: the socket cannot refuse new datagrams and still hand out the
 * queued ones; the worker's drain reads for a bounded time instead. */
static void uring_stop_rx(struct ep_io_q *q)
{
	(void)q;
}

/* Register a provided buffer ring of @n entries as group BGID of @ring, empty:
 * io_uring_setup_buf_ring() where liburing has it (2.4+), else the same by hand
 * (page-aligned memory, *@size bytes, which the caller unmaps after the ring is gone). */
static struct io_uring_buf_ring *br_register(struct io_uring *ring, uint32_t n, size_t *size,
					     int *err)
{
	struct io_uring_buf_ring *br;

	*size = 0;
#ifdef IO_URING_VERSION_MAJOR
	br = io_uring_setup_buf_ring(ring, n, BGID, 0, err);
#else
	struct io_uring_buf_reg reg = { .ring_entries = n, .bgid = BGID };
	void *mem;

	*size = (size_t)n * sizeof(struct io_uring_buf);
	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
	mem = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	*err = io_uring_register_buf_ring(ring, &reg, 0);
	if (*err) {
		munmap(mem, *size);
		return NULL;
	}
	br = mem;
	io_uring_buf_ring_init(br);
#endif
	return br;
}

/* Undo br_register() along with @ring. */
static void ring_exit(struct io_uring *ring, struct io_uring_buf_ring *br, uint32_t n, size_t size)
{
#ifdef IO_URING_VERSION_MAJOR
	if (br)
		io_uring_free_buf_ring(ring, br, n, BGID);
	br = NULL;
#endif
	io_uring_queue_exit(ring);
	if (br)
		munmap(br, size);
}

static void uring_close(struct ep_io_q *q)
{
	struct uring_q *u = to_uq(q);

	/* The multishot receive may still write into the buffers (SQPOLL: its requests are
	 * not the exited worker's): cancel it and see it end, briefly, before unmapping. A
	 * single-issuer ring cannot be entered from here, but then its deferred work, which
	 * writes the buffers, runs only in the worker's thread, which is gone. */
	for (int i = 0; u->ring_ok && u->rx_armed && !u->single_issuer && i < 10; i++) {
		struct __kernel_timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;

		if (!i && (sqe = get_sqe(u))) {
			io_uring_prep_cancel64(sqe, UD_RECV, 0);
			io_uring_sqe_set_data64(sqe, UD_CANCEL);
			submit(u);
		}
		io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		reap(u);
	}
	if (u->ring_ok)
		ring_exit(&u->ring, u->br, u->nbufs, u->br_size);
	if (u->fd >= 0)
		close(u->fd);
	if (u->area)
		munmap(u->area, u->area_size);
	free(u->ready);
	free(u->tx);
	free(u->tx_free);
	free(u);
}

EP_DEFINE_IO_OPS(uring, "uring");

/* --- set-up and feature probes ----------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int ring_init(struct uring_q *u, const struct ep_io_uring_cfg *c, unsigned int queue_id)
{
	struct io_uring_params p = { 0 };
	int err;

	p.flags = IORING_SETUP_CQSIZE;
	/* Room for a completion per receive buffer and two per send (send_zc). */
	p.cq_entries = pow2_at_least(u->nbufs + 2 * u->ntx + 16);
	if (c->sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = SQPOLL_IDLE_MS;
		if (c->sqpoll_cpu >= 0) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = (uint32_t)c->sqpoll_cpu;
		}
	} else {
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			   IORING_SETUP_R_DISABLED | IORING_SETUP_TASKRUN_FLAG;
	}
	err = io_uring_queue_init_params(c->entries, &u->ring, &p);
	if (err == -EINVAL && !c->sqpoll) { /* before 6.1: no DEFER_TASKRUN */
		p.flags &= ~(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			     IORING_SETUP_R_DISABLED);
		p.flags |= IORING_SETUP_COOP_TASKRUN;
		err = io_uring_queue_init_params(c->entries, &u->ring, &p);
	}
	if (err == -EINVAL && !c->sqpoll) { /* before 5.19: no COOP_TASKRUN */
		p.flags &= ~(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
		err = io_uring_queue_init_params(c->entries, &u->ring, &p);
	}
	u->single_issuer = u->disabled = !err && (p.flags & IORING_SETUP_DEFER_TASKRUN);
	if (err) {
		if (err == -EPERM || err == -ENOSYS)
			pr_err("uring: io_uring is not available: %s (kernel.io_uring_disabled, or "
			       "a "
			       "seccomp filter?)",
			       strerror(-err));
		else if (c->sqpoll)
			pr_err("uring: io_uring with SQPOLL%s (queue %u): %s",
			       c->sqpoll_cpu >= 0 ? " on the CPU of uring.sqpoll_cpu" : "",
			       queue_id, strerror(-err));
		else
			pr_err("uring: io_uring of %u entries (queue %u): %s", c->entries, queue_id,
			       strerror(-err));
		return err;
	}
	u->ring_ok = true;
	return 0;
}

/* The receive buffers, all given to the kernel. */
static int buf_ring_setup(struct uring_q *u)
{
	int err;

	u->br = br_register(&u->ring, u->nbufs, &u->br_size, &err);
	if (!u->br)
		return err;
	for (uint32_t i = 0; i < u->nbufs; i++)
		io_uring_buf_ring_add(u->br, rx_buf(u, i), RX_BUF_SIZE, (unsigned short)i,
				      u->br_mask, (int)i);
	io_uring_buf_ring_advance(u->br, (int)u->nbufs);
	u->br_avail = u->nbufs;
	return 0;
}

/* Submit what is queued and collect the next @n completions (1 s at most each). */
static int probe_reap(struct io_uring *ring, struct io_uring_cqe *out, unsigned int n)
{
	int err = io_uring_submit(ring);

	if (err < 0)
		return err;
	for (unsigned int i = 0; i < n; i++) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct io_uring_cqe *cqe;

		err = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (err)
			return err;
		out[i] = *cqe;
		io_uring_cqe_seen(ring, cqe);
	}
	return 0;
}

/*
 * What opcodes and flags cannot tell: whether the kernel takes a multishot recvmsg
 * (6.0), and whether it reports zero-copy sends it had to copy (6.2). Both are tried on a
 * socket of their own, which no datagram reaches, on a ring of their own (the queue's may
 * belong to the worker's thread): the receive is cancelled, and the send, with no
 * destination, fails after its flags were accepted.
 */
static int probe_kernel(struct uring_q *u)
{
	static uint8_t byte, rbuf[RX_HDR + 64];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct io_uring_buf_ring *br = NULL;
	struct io_uring_cqe c[2];
	struct io_uring_sqe *sqe;
	struct io_uring pr;
	int fd, err, recv_res = 0;
	size_t br_size = 0;

	err = io_uring_queue_init(4, &pr, 0);
	if (err) {
		pr_err("uring: a ring for probing: %s", strerror(-err));
		return err;
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	br = br_register(&pr, 1, &br_size, &err);
	if (!br) {
		pr_err("uring: a provided buffer ring for probing: %s", strerror(-err));
		goto out;
	}
	io_uring_buf_ring_add(br, rbuf, sizeof(rbuf), 0, io_uring_buf_ring_mask(1), 0);
	io_uring_buf_ring_advance(br, 1);
	sqe = io_uring_get_sqe(&pr);
	prep_recv(u, sqe, fd, UD_PROBE);
	sqe = io_uring_get_sqe(&pr);
	io_uring_prep_cancel64(sqe, UD_PROBE, 0);
	io_uring_sqe_set_data64(sqe, UD_CANCEL);
	err = probe_reap(&pr, c, 2);
	if (err) {
		pr_err("uring: probing multishot recvmsg: %s", strerror(-err));
		goto out;
	}
	for (int i = 0; i < 2; i++)
		if (c[i].user_data == UD_PROBE)
			recv_res = c[i].res;
	if (recv_res != -ECANCELED) {
		pr_err("uring: this kernel lacks multishot recvmsg (IORING_RECV_MULTISHOT, Linux "
		       "6.0+): %s",
		       strerror(recv_res < 0 ? -recv_res : EINVAL));
		err = -EOPNOTSUPP;
		goto out;
	}
	if (u->zc_min) {
		sqe = io_uring_get_sqe(&pr);
		io_uring_prep_sendmsg_zc(sqe, fd, &mh, 0);
		sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
		io_uring_sqe_set_data64(sqe, UD_PROBE);
		err = probe_reap(&pr, c, 1);
		if (!err && (c[0].flags & IORING_CQE_F_MORE))
			err = probe_reap(&pr, c + 1, 1); /* the notification */
		if (err) {
			pr_err("uring: probing send_zc: %s", strerror(-err));
			goto out;
		}
		if (c[0].res == -EOPNOTSUPP) {
			pr_err("uring: this kernel cannot send_zc on UDP sockets; set "
			       "uring.zc_min = 0 to send without it");
			err = -EOPNOTSUPP;
			goto out;
		}
		u->zc_report = c[0].res != -EINVAL;
	}
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	ring_exit(&pr, br, 1, br_size);
	return err;
}

int ep_io_uring_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out)
{
	const struct ep_io_uring_cfg *c = &cfg->uring;
	struct io_uring_probe *probe;
	struct uring_q *u;
	char zc[48] = "off";
	bool have_zc;
	int err;

	if (c->buffers < 1 || c->buffers > 32768 || (c->buffers & (c->buffers - 1)) ||
	    c->entries < 1 || c->entries > 4096) {
		pr_err("uring: buffers must be a power of two up to 32768, entries 1..4096");
		return -EINVAL;
	}
	u = ep_io_q_alloc(sizeof(*u), &uring_ops, queue_id);
	if (!u)
		return -ENOMEM;
	u->fd = -1;
	u->sqpoll = c->sqpoll;
	u->busy_poll = cfg->busy_poll;
	u->zc_min = c->zc_min;
	u->nbufs = c->buffers;
	u->br_mask = (uint32_t)io_uring_buf_ring_mask(u->nbufs);
	u->ntx = c->entries;
	u->rx_msg.msg_namelen = NAME_SPACE;
	u->rx_msg.msg_controllen = EP_SOCK_CMSG_SPACE;
	u->area_size = (size_t)u->nbufs * RX_BUF_SIZE + (size_t)u->ntx * TX_BUF_SIZE;
	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
	u->area = mmap(NULL, u->area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	u->ready = calloc(u->nbufs, sizeof(*u->ready));
	u->tx = calloc(u->ntx, sizeof(*u->tx));
	u->tx_free = calloc(u->ntx, sizeof(*u->tx_free));
	if (u->area == MAP_FAILED)
		u->area = NULL;
	if (!u->area || !u->ready || !u->tx || !u->tx_free) {
		err = -ENOMEM;
		goto err_close;
	}
	for (uint32_t i = 0; i < u->ntx; i++)
		u->tx_free[u->tx_nfree++] = u->ntx - 1 - i;

	err = ring_init(u, c, queue_id);
	if (err)
		goto err_close;
	probe = io_uring_get_probe_ring(&u->ring);
	have_zc = probe && io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
	if (probe)
		io_uring_free_probe(probe);
	if (u->zc_min && !have_zc) {
		pr_err("uring: this kernel lacks send_zc (IORING_OP_SENDMSG_ZC, Linux 6.1+); set "
		       "uring.zc_min = 0 to send without it");
		err = -EOPNOTSUPP;
		goto err_close;
	}
	err = buf_ring_setup(u);
	if (err) {
		if (err == -EINVAL)
			pr_err("uring: this kernel lacks provided buffer rings "
			       "(IORING_REGISTER_PBUF_RING, Linux 5.19+)");
		else
			pr_err("uring: provided buffer ring of %u buffers: %s", u->nbufs,
			       strerror(-err));
		goto err_close;
	}
	/* The kernel is the same for every queue: probe it for the first (queues are opened
	 * one after the other, from one thread). */
	{
		static bool probed, probed_zc, zc_report;

		if (!probed || probed_zc != (u->zc_min != 0)) {
			err = probe_kernel(u);
			if (err)
				goto err_close;
			probed = true;
			probed_zc = u->zc_min != 0;
			zc_report = u->zc_report;
		}
		u->zc_report = zc_report;
	}
	err = ep_sock_open(cfg, "uring", queue_id, &u->fd);
	if (err)
		goto err_close;
	/* A registered socket spares each request a file lookup. Optional. */
	u->fixed = !io_uring_register_files(&u->ring, &u->fd, 1);
	if (u->zc_min)
		snprintf(zc, sizeof(zc), "from %u bytes%s", u->zc_min,
			 u->zc_report ? "" : ", copies not reported");
	pr_info("uring: socket %u listening on port %u (%u receive buffers, %u entries, "
		"send_zc %s%s)",
		queue_id, cfg->port, u->nbufs, u->ntx, zc,
		u->sqpoll	   ? ", SQPOLL"
		: u->single_issuer ? ", deferred task work"
				   : "");
	*out = &u->q;
	return 0;

err_close:
	uring_close(&u->q);
	return err;
}
