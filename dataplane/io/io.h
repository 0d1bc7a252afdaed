/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * io.h - the packet I/O backend interface of the runtime.
 *
 * A backend moves datagrams and nothing else: it receives bursts of UDP payloads with
 * their source and reply route, and transmits UDP payloads along a route. Everything
 * else (decoding, reassembly, batching, handlers, replies) is shared code in core/.
 *
 * Each worker thread owns one queue (struct ep_io_q) and calls its ops from that thread
 * only. Backends: afxdp.c (AF_XDP through libxdp, behind the XDP classifier), udp.c
 * (a kernel UDP socket with recvmmsg/sendmmsg, where XDP is absent, and the benchmarks'
 * baseline) and uring.c (the same socket through io_uring: multishot recvmsg into a
 * provided buffer ring, batched sendmsg, send_zc for large payloads, SQPOLL optional);
 * sock.c holds what the two socket backends share. dpdk.c: DPDK's net_af_xdp PMD,
 * behind the classifier built for it (rte_eth_rx_burst/tx_burst on mbufs, no copies).
 */
#ifndef EP_IO_H
#define EP_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "edgeplane/reasm.h" /* struct ep_peer */

/* How to answer a datagram: everything of the request's L2-L4 headers a reply reuses.
 * Socket backends fill only the addresses. */
struct ep_route {
	uint8_t local_mac[6]; /* the request's destination MAC: the reply's source */
	uint8_t peer_mac[6];
	uint16_t vlan_tci[2];	/* outer first; host order */
	uint16_t vlan_proto[2]; /* 0x8100 / 0x88a8 */
	uint8_t nvlan;
	uint8_t ipv6;
	uint8_t tos; /* IPv4 TOS / IPv6 traffic class, echoed */
	uint8_t rsvd;
	uint8_t local_addr[16]; /* IPv4 as ::ffff:a.b.c.d, like struct ep_peer */
	uint16_t local_port;
	uint32_t ifindex; /* udp, uring: the interface it came in on (IPv6 pktinfo): a
			   * link-local peer's scope */
};

/* A received datagram. data points into the backend's buffer, valid until released; the
 * buffer is the worker's until then, which may write it (an AUTH datagram is decrypted in
 * place: every backend's receive buffers are writable memory). */
struct ep_dgram {
	const uint8_t *data; /* UDP payload */
	uint32_t len;
	uint32_t rsvd;
	uint64_t handle; /* backend's buffer handle, for release */
	struct ep_peer peer;
	struct ep_route route;
};

struct ep_io_q;

struct ep_io_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_invalid;	  /* frames the backend could not parse (should be 0 behind XDP) */
	uint64_t rx_bad_csum;	  /* datagrams with a wrong UDP checksum, dropped */
	uint64_t tx_ring_full;	  /* replies dropped: no TX buffer after a flush */
	uint64_t wakeups;	  /* need_wakeup syscalls */
	uint64_t rx_dropped;	  /* afxdp: frames the kernel dropped before our RX ring (RX ring
				   * full or no fill buffer), from XDP_STATISTICS; udp, uring:
				   * datagrams the socket's receive queue dropped (SO_MEMINFO) */
	uint64_t rx_rearms;	  /* uring: multishot receives armed again after the kernel
				   * ended them */
	uint64_t rx_no_buf;	  /* uring: times the provided buffer ring ran dry (ENOBUFS);
				   * the datagrams wait in the socket */
	uint64_t tx_zc;		  /* uring: sends with send_zc (payload >= uring.zc_min) */
	uint64_t tx_zc_copied;	  /* uring: of those, sends the kernel copied after all */
	uint64_t rx_prio_packets; /* afxdp: frames from the queue's priority socket (slot 1:
				   * priorities >= limits.high_priority), counted in
				   * rx_packets too */
	uint64_t rx_prio_dropped; /* afxdp: of rx_dropped, the priority socket's */
	uint64_t rx_low_deferred; /* afxdp: passes that left the default ring unread because
				   * its frames held by the worker reached their share */
};

struct ep_io_ops {
	const char *name;
	/* Receive up to @max datagrams. Returns how many (0 when none is ready). */
	unsigned int (*rx)(struct ep_io_q *q, struct ep_dgram *d, unsigned int max);
	/* Give one datagram's buffer back. Datagrams may be released in any order. */
	void (*release)(struct ep_io_q *q, uint64_t handle);
	/* A buffer for one outgoing UDP payload of up to *cap bytes, or NULL when none is
	 * free (call flush() and retry). */
	uint8_t *(*tx_buf)(struct ep_io_q *q, uint32_t *cap);
	/* Give back the buffer of the last tx_buf() unsent. */
	void (*tx_abort)(struct ep_io_q *q);
	/* Send the payload written into the last tx_buf(): @len bytes to @peer along
	 * @route. Returns 0 or a negative errno (the buffer is then reclaimed). */
	int (*tx_commit)(struct ep_io_q *q, const struct ep_route *route,
			 const struct ep_peer *peer, uint32_t len);
	/* Push queued transmissions to the kernel and reclaim completed buffers. Returns
	 * how many transmissions are still on their way (0: all sent). */
	unsigned int (*flush)(struct ep_io_q *q);
	/* Sleep until a datagram may be ready or @timeout_ms passes (-1: forever). */
	void (*wait)(struct ep_io_q *q, int timeout_ms);
	void (*get_stats)(struct ep_io_q *q, struct ep_io_stats *st);
	/* Whether datagrams of high priority wait to be received (afxdp with a priority
	 * socket: its RX ring is not empty), so that the worker stops running low-priority
	 * batches and receives them. NULL: the backend has one ring for all priorities. */
	bool (*rx_high_pending)(struct ep_io_q *q);
	/* Optional (NULL: not known): datagrams the kernel has handed this queue that rx()
	 * has not taken yet (afxdp: the RX ring's fill). Safe to call from another thread
	 * than the queue's, for load reports; an estimate, read without a lock. */
	unsigned int (*rx_pending)(struct ep_io_q *q);
	/* Stop new datagrams from coming to this queue; rx() still returns those already
	 * received. The queue still transmits and releases. */
	void (*stop_rx)(struct ep_io_q *q);
	void (*close)(struct ep_io_q *q);
};

/*
 * Define prefix##_ops, the ops of the backend named @nm, from the functions every backend
 * has: prefix##_rx(), prefix##_release(), ... prefix##_close() (like the kernel's
 * DEFINE_SHOW_ATTRIBUTE()). The optional members (rx_high_pending, rx_pending) follow as
 * designated initialisers.
 */
#define EP_DEFINE_IO_OPS(prefix, nm, ...)                                               \
	static const struct ep_io_ops prefix##_ops = { .name = nm,                      \
						       .rx = prefix##_rx,               \
						       .release = prefix##_release,     \
						       .tx_buf = prefix##_tx_buf,       \
						       .tx_abort = prefix##_tx_abort,   \
						       .tx_commit = prefix##_tx_commit, \
						       .flush = prefix##_flush,         \
						       .wait = prefix##_wait,           \
						       .get_stats = prefix##_get_stats, \
						       .stop_rx = prefix##_stop_rx,     \
						       .close = prefix##_close,         \
						       __VA_ARGS__ }

/* A backend queue: the ops plus the backend's own state after it. */
struct ep_io_q {
	const struct ep_io_ops *ops;
	unsigned int queue_id;
};

/*
 * A backend's queue for its open(): @size zeroed bytes (the backend's struct, whose
 * struct ep_io_q comes first) with @ops and @queue_id set. Returns it (the caller frees
 * it with free()), or NULL when out of memory.
 */
static inline void *ep_io_q_alloc(size_t size, const struct ep_io_ops *ops, unsigned int queue_id)
{
	struct ep_io_q *q = calloc(1, size);

	if (q) {
		q->ops = ops;
		q->queue_id = queue_id;
	}
	return q;
}

/* io_uring backend settings (config group uring). */
struct ep_io_uring_cfg {
	bool sqpoll;	  /* a kernel thread polls the submission queue */
	int sqpoll_cpu;	  /* that thread's CPU; -1: not pinned */
	uint32_t entries; /* submission queue entries, and TX buffers */
	uint32_t buffers; /* receive buffers in the provided buffer ring (2^n) */
	uint32_t zc_min;  /* send_zc for payloads of at least this; 0: never */
};

/* Settings shared by every backend; each reads what applies to it. */
struct ep_io_cfg {
	const char *ifname;    /* afxdp: interface */
	const char *bind_addr; /* udp, uring: address to bind, NULL = any (dual-stack) */
	bool share_port;       /* udp, uring: bind even where another process holds the
				* port (SO_REUSEPORT spreads datagrams over both) */
	uint16_t port;
	uint32_t frames;	      /* afxdp: UMEM frames per queue (half RX, half TX) */
	uint32_t frame_size;	      /* afxdp: 2048 or 4096 */
	int zerocopy;		      /* afxdp: -1 auto, 0 copy, 1 zero-copy */
	int verify_csum;	      /* afxdp, dpdk: check UDP checksums; -1 auto (not on
				       * veth) */
	bool busy_poll;		      /* poll without sleeping; SO_BUSY_POLL where it applies */
	unsigned int slot;	      /* afxdp: XSKMAP slot (0 = the queue's default socket) */
	uint8_t high_priority;	      /* afxdp: open a second socket on the queue, at slot
				       * slot + 1, for tasks the classifier steers there
				       * (priorities >= this, ep_config.prio_slot); rx()
				       * reads it first, and frames of the default socket
				       * held by the worker are capped so that the shared
				       * fill ring keeps frames for it. 0: one socket */
	int xsks_map_fd;	      /* afxdp: the classifier's ep_xsks */
	struct ep_io_uring_cfg uring; /* uring */
	struct ep_dpdk *dpdk;	      /* dpdk: the port (io/dpdk.h), set up before the queues */
};

/* Open queue @queue_id of a backend. Returns 0 and *out, or a negative errno (logged). */
int ep_io_afxdp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out);
int ep_io_udp_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out);
/* The kernel must have multishot recvmsg (6.0) and provided buffer rings (5.19), and
 * IORING_OP_SENDMSG_ZC (6.1) unless zc_min is 0: what is missing is named in the error. */
int ep_io_uring_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out);
/* DPDK (dpdk.c): queue @queue_id is the port's queue index, 0..nqueues - 1 (the
 * interface's RX queue first_queue + index), of cfg->dpdk started by ep_dpdk_start(). */
int ep_io_dpdk_open(const struct ep_io_cfg *cfg, unsigned int queue_id, struct ep_io_q **out);

#endif /* EP_IO_H */
