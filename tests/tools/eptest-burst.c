// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-burst - send a burst of single-datagram tasks (PINGs, or echo requests) from one
 * or more sockets as fast as the kernel takes them, collect the replies, and print one
 * JSON line:
 *
 *   {"sent":N,"replies":N,"duplicates":N,"wrong_source":N,"flows":N,"flows_answered":N}
 *
 * replies counts distinct task ids answered; wrong_source counts replies that did not
 * come from the address and port the tasks went to (a socket backend must answer from
 * the address a request came to, also when it listens on every address); flows_answered
 * counts the sending sockets (source ports) that got at least one reply. Bounded: it
 * stops when every task is answered or --wait-ms passes without a reply.
 *
 * --window N keeps at most N tasks unanswered: a check that every task is answered then
 * does not depend on how fast the receiver drains its rings (a veth ring or an AF_XDP
 * ring overflows in a burst when a neighbour steals the CPU); a lost reply still shows,
 * as a window that stops moving for --wait-ms.
 */
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/payload.h"
#include "opts.h"

#define MAX_FLOWS 64

static const struct tool_choice kinds[] = {
	{ "ping", EP_KIND_PING },
	{ "echo", EP_KIND_REQUEST },
	{ NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-burst --to ADDR [--port N] [--count N] [--flows N]\n"
		   "       [--kind ping|echo] [--size BYTES] [--wait-ms N] [--send-ms N]\n"
		   "       [--window N]\n"
		   "  --send-ms  stop sending after this long (10000)\n"
		   "  --window   at most N tasks unanswered (0: no limit, the default)\n");
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	{
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
}

struct burst {
	int fds[MAX_FLOWS];
	long flows, count, replies, dups, wrong;
	bool flow_seen[MAX_FLOWS];
	struct sockaddr_storage to;
	uint8_t *seen;
	uint64_t base;
};

/* collect: poll the sockets for up to ms and count what came back; true if anything did. */
static bool collect(struct burst *b, int ms)
{
	static uint8_t dgram[65536];
	struct pollfd p[MAX_FLOWS];
	bool got = false;

	for (long f = 0; f < b->flows; f++)
		p[f] = (struct pollfd){ .fd = b->fds[f], .events = POLLIN };
	if (poll(p, (nfds_t)b->flows, ms) <= 0)
		return false;
	for (long f = 0; f < b->flows; f++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		const uint8_t *pl;
		struct ep_msg r;
		ssize_t n;

		while ((n = recvfrom(b->fds[f], dgram, sizeof(dgram), 0, (struct sockaddr *)&from,
				     &fl)) >= 0) {
			uint64_t i;

			fl = sizeof(from);
			if (ep_decode(dgram, (size_t)n, EP_MAX_TASK_LEN, &r, &pl, NULL))
				continue;
			i = r.task_id - b->base;
			if (r.task_id < b->base || i >= (uint64_t)b->count)
				continue;
			got = true;
			b->flow_seen[f] = true;
			if (!same_addr(&from, &b->to))
				b->wrong++;
			if (b->seen[i]) {
				b->dups++;
			} else {
				b->seen[i] = 1;
				b->replies++;
			}
		}
	}
	return got;
}

int main(int argc, char **argv)
{
	struct ep_msg m = { .kind = EP_KIND_PING,
			    .priority = EP_PRIO_DEFAULT,
			    .task_type = EP_TT_ECHO,
			    .tenant_id = 1 };
	long port = EP_DEFAULT_PORT, size = 0, wait_ms = 1000, window = 0;
	long send_ms = 10000, sent = 0, answered = 0;
	static uint8_t payload[9000], dgram[65536];
	struct burst b = { .count = 1000, .flows = 1 };
	int rcv = 16 << 20;
	const char *to = NULL;
	double send_end, last;
	socklen_t sl;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("count", b.count, 1, 1000000),
		OPT_NUM("flows", b.flows, 1, MAX_FLOWS),
		OPT_CHOICE("kind", m.kind, kinds),
		OPT_NUM("size", size, 0, sizeof(payload)),
		OPT_NUM("wait-ms", wait_ms, 10, 60000),
		OPT_NUM("send-ms", send_ms, 1, 60000),
		OPT_NUM("window", window, 0, 1000000),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc || !to) {
		usage(stderr);
		return 2;
	}
	if (tool_addr(to, (unsigned int)port, &b.to, &sl))
		return 2;
	/* Noise: replies do not shrink when compressed, so they go out as large as sent. */
	for (uint32_t i = 0, x = 2463534242u; i < (uint32_t)size; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		payload[i] = (uint8_t)x;
	}
	for (long f = 0; f < b.flows; f++) {
		b.fds[f] = socket(b.to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (b.fds[f] < 0) {
			perror("socket");
			return 1;
		}
		if (setsockopt(b.fds[f], SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
			setsockopt(b.fds[f], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	b.seen = calloc((size_t)b.count, 1);
	b.base = (uint64_t)getpid() << 32;

	send_end = tool_now() + send_ms / 1e3;
	last = tool_now();
	for (long t = 0; t < b.count && tool_now() < send_end; t++) {
		int fd = b.fds[t % b.flows];
		ssize_t n;

		/* A full window waits for replies; one that stops moving ends the run. */
		while (window && sent - b.replies >= window && tool_now() - last < wait_ms / 1e3)
			if (collect(&b, 10))
				last = tool_now();
		if (window && sent - b.replies >= window)
			break;
		m.task_id = b.base + (uint64_t)t;
		n = ep_frag_build(&m, payload, (uint32_t)size, 65000, 0, dgram, sizeof(dgram));
		if (n < 0) {
			fprintf(stderr, "encode: %s\n", strerror((int)-n));
			return 1;
		}
		while (sendto(fd, dgram, (size_t)n, 0, (struct sockaddr *)&b.to, sl) < 0) {
			if (errno != EAGAIN && errno != ENOBUFS) {
				perror("sendto");
				return 1;
			}
			usleep(50);
		}
		sent++;
	}

	for (last = tool_now(); b.replies < sent && tool_now() - last < wait_ms / 1e3;)
		if (collect(&b, 10))
			last = tool_now();
	for (long f = 0; f < b.flows; f++)
		answered += b.flow_seen[f];
	printf("{\"sent\":%ld,\"replies\":%ld,\"duplicates\":%ld,\"wrong_source\":%ld,"
	       "\"flows\":%ld,\"flows_answered\":%ld}\n",
	       sent, b.replies, b.dups, b.wrong, b.flows, answered);
	free(b.seen);
	return 0;
}
