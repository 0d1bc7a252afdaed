/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * raw.h - raw protocol exchanges for the test tools: a connected UDP socket, a request's
 * fragments sent by hand (with a token if given), and the replies to one task id counted
 * (UDP payload bytes, datagrams, the largest) until the reply is complete.
 */
#ifndef EP_TEST_TOOLS_RAW_H
#define EP_TEST_TOOLS_RAW_H

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/codec.h"

#define RAW_MTU	      1500
#define RAW_LINGER_MS 100 /* after the reply: anything else that comes is counted too */

/* What one exchange moved. */
struct exch {
	uint64_t out, in; /* UDP payload bytes sent and received */
	uint64_t dgrams_in;
	uint32_t max_dgram; /* the largest datagram received */
	uint8_t kind;	    /* of the reply to the task: RESPONSE, ERROR, RETRY, 0 */
	uint16_t status;
	uint8_t flags, priority; /* the reply's */
	uint32_t result_len;	 /* RESPONSE: total_len */
	bool complete;		 /* every fragment of the reply came */
	uint64_t reply_ns;	 /* when the reply was complete (CLOCK_MONOTONIC) */
	struct ep_msg retry;	 /* the RETRY, if one came */
};

static inline uint64_t raw_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* A UDP socket connected to @ss with a large receive buffer; -1 on failure. */
static inline int raw_open(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rcv = 64 << 20;

	if (fd < 0)
		return -1;
	/* A large result must not be lost to a small receive buffer (root may force it). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (connect(fd, (const struct sockaddr *)ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The next datagram on @fd, into @buf (@size bytes), decoded into @m and @payload: its
 * length; 0 for a datagram that is no edgeplane message (skip it); -1 when recv() fails
 * (on a non-blocking socket: none is waiting).
 */
static inline ssize_t raw_recv_msg(int fd, uint8_t *buf, size_t size, struct ep_msg *m,
				   const uint8_t **payload)
{
	ssize_t n = recv(fd, buf, size, 0);

	if (n < 0)
		return -1;
	return ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, m, payload, NULL) ? 0 : n;
}

/* Put the token of RETRY @retry into request @m. */
static inline void raw_use_token(struct ep_msg *m, const struct ep_msg *retry)
{
	m->flags |= EP_F_TOKEN | EP_F_RETRY;
	m->auth_key_id = retry->auth_key_id;
	memcpy(m->auth_tag, retry->auth_tag, sizeof(m->auth_tag));
}

/* Send every fragment of @m with @len bytes of @wire (1500-byte MTU). */
static inline void raw_send(int fd, bool ipv6, const struct ep_msg *m, const uint8_t *wire,
			    uint32_t len, struct exch *x)
{
	uint32_t fs = ep_frag_size_for_mtu(RAW_MTU, ipv6);
	uint32_t count = ep_frag_count(len, fs);
	uint8_t d[RAW_MTU];

	for (uint32_t i = 0; i < count; i++) {
		ssize_t n = ep_frag_build(m, wire, len, fs, i, d, sizeof(d));

		if (n > 0 && send(fd, d, (size_t)n, 0) == n)
			x->out += (uint64_t)n;
		if (i % 128 == 127)
			usleep(300);
	}
}

/*
 * Receive for task @id until its reply is complete (or @wait_ms pass), then RAW_LINGER_MS
 * more; every datagram counts in x->in.
 */
static inline void raw_collect(int fd, uint64_t id, int wait_ms, struct exch *x)
{
	static uint8_t buf[65536];
	uint64_t t0 = raw_now_ns(), limit = (uint64_t)wait_ms * 1000000;
	uint8_t *seen = NULL;
	uint32_t nseen = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t spent = raw_now_ns() - t0;
		const uint8_t *payload;
		struct ep_msg m;
		ssize_t n;

		if (spent >= limit || poll(&p, 1, (int)((limit - spent) / 1000000) + 1) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		x->in += (uint64_t)n;
		x->dgrams_in++;
		if ((uint32_t)n > x->max_dgram)
			x->max_dgram = (uint32_t)n;
		/* A TASK_ACK (docs/protocol.md 5.1) counts in the bytes, but is no reply. */
		if (ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, &m, &payload, NULL) ||
		    m.task_id != id || x->complete || m.kind == EP_KIND_TASK_ACK)
			continue;
		x->kind = m.kind;
		x->status = m.status;
		x->flags = m.flags;
		x->priority = m.priority;
		if (m.kind == EP_KIND_RETRY)
			x->retry = m;
		if (m.kind != EP_KIND_RESPONSE) {
			x->complete = true;
		} else {
			if (!seen)
				seen = calloc(m.frag_count, 1);
			if (seen && m.frag_index < m.frag_count && !seen[m.frag_index]) {
				seen[m.frag_index] = 1;
				nseen++;
			}
			x->result_len = m.total_len;
			x->complete = nseen == m.frag_count;
		}
		if (x->complete) { /* stragglers for a little longer, then stop */
			x->reply_ns = raw_now_ns();
			limit = x->reply_ns - t0 + RAW_LINGER_MS * 1000000ull;
		}
	}
	free(seen);
}

#endif
