// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-send - send offload tasks (or plain datagrams) over a UDP socket, for tests.
 * Every run is bounded: at most --count tasks and --timeout seconds, and --wait-ms for
 * replies.
 *
 * --encap-port wraps each datagram as a gateway does (docs/protocol.md 7.2): the UDP
 * payload sent to ADDR:PORT is a whole inner IPv4 or IPv6 datagram, --inner-src:40000 ->
 * --inner-dst:--port, with its UDP checksum.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "edgeplane/codec.h"
#include "opts.h"

/* A UDP datagram whose header we write, through a raw IPv4 socket (the kernel adds the IP
 * header and leaves the UDP checksum as given). */
struct raw_udp {
	int fd;
	struct sockaddr_in dst;
	struct in_addr src;
	uint16_t sport, dport;
	uint8_t buf[65536];
};

static int raw_udp_open(struct raw_udp *r, const struct sockaddr_in *dst)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	int probe = socket(AF_INET, SOCK_DGRAM, 0);

	/* The source address the kernel would use, for the pseudo-header. */
	if (probe < 0 || connect(probe, (const struct sockaddr *)dst, sizeof(*dst)) ||
	    getsockname(probe, (struct sockaddr *)&local, &len)) {
		perror("local address");
		return -1;
	}
	close(probe);
	r->dst = *dst;
	r->dport = ntohs(dst->sin_port);
	r->dst.sin_port = 0;
	r->src = local.sin_addr;
	r->sport = (uint16_t)(40000 + getpid() % 20000);
	r->fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (r->fd < 0) {
		perror("raw socket");
		return -1;
	}
	return 0;
}

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (; len > 1; b += 2, len -= 2)
		sum += (uint32_t)(b[0] << 8 | b[1]);
	if (len)
		sum += (uint32_t)(b[0] << 8);
	return sum;
}

/* Send @payload to the destination's port @port, with a correct checksum or (@good 0) a
 * wrong one that is not 0 (0 would mean "no checksum"). */
static ssize_t raw_udp_send(struct raw_udp *r, const void *payload, size_t len, int good)
{
	uint16_t ulen = (uint16_t)(8 + len), port = r->dport, c;
	uint32_t s = 0;
	uint8_t *u = r->buf;

	if (len + 8 > sizeof(r->buf))
		return -1;
	u[0] = (uint8_t)(r->sport >> 8);
	u[1] = (uint8_t)r->sport;
	u[2] = (uint8_t)(port >> 8);
	u[3] = (uint8_t)port;
	u[4] = (uint8_t)(ulen >> 8);
	u[5] = (uint8_t)ulen;
	u[6] = u[7] = 0;
	memcpy(u + 8, payload, len);
	s = sum16(&r->src, 4, s);
	s = sum16(&r->dst.sin_addr, 4, s);
	s += IPPROTO_UDP + ulen;
	s = sum16(u, ulen, s);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	if (!c)
		c = 0xffff;
	if (!good)
		c = c == 0x1234 ? 0x4321 : 0x1234;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return sendto(r->fd, u, ulen, 0, (const struct sockaddr *)&r->dst, sizeof(r->dst));
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-send --to ADDR [--port N] [--count N] [--size BYTES]\n"
		   "       [--mtu N] [--prio 1-5] [--kind request|ping|cancel|response]\n"
		   "       [--corrupt] [--raw] [--id-base N] [--sport N] [--timeout SECONDS]\n"
		   "       [--frags N] [--wait-ms N] [--udp-csum good|bad] [--frame] [--type N]\n"
		   "       [--encap-port N --inner-src ADDR --inner-dst ADDR]\n"
		   "  --corrupt  flip the magic of every datagram (the classifier drops them)\n"
		   "  --raw      send plain payload bytes, not the offload protocol\n"
		   "  --frame    flag the payload as frame-coded (EP_F_FRAME): it is not\n"
		   "  --type     the task type (1)\n"
		   "  --sport    send from this UDP port\n"
		   "  --frags    send only the first N fragments of each task\n"
		   "  --wait-ms  then wait this long for replies, and print what came back\n"
		   "  --udp-csum write the UDP header ourselves (raw IPv4 socket) with a correct\n"
		   "             or a wrong checksum, as a corrupted datagram would arrive\n"
		   "  --encap-port  wrap each datagram in UDP to this port, as a gateway does\n");
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

/*
 * An inner IP datagram src:40000 -> dst:@port carrying @pl: into @out. Returns its length,
 * or 0 if the addresses are not of one family or it does not fit.
 */
static size_t inner_dgram(const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
			  uint16_t port, const uint8_t *pl, size_t plen, uint8_t *out,
			  size_t outlen)
{
	bool v6 = dst->ss_family == AF_INET6;
	size_t hl = v6 ? 40 : 20, ulen = 8 + plen;
	uint8_t *ip = out, *udp = out + hl;
	uint32_t sum;

	if (src->ss_family != dst->ss_family || hl + ulen > outlen || ulen > 65535)
		return 0;
	memset(out, 0, hl + 8);
	if (!v6) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;

		ip[0] = 0x45, ip[2] = (uint8_t)((hl + ulen) >> 8), ip[3] = (uint8_t)(hl + ulen);
		ip[8] = 64, ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &s->sin_addr, 4);
		memcpy(ip + 16, &d->sin_addr, 4);
		sum = csum_fold(csum_add(0, ip, 20));
		ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
		sum = csum_add(0, ip + 12, 8);
	} else {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;

		ip[0] = 0x60, ip[4] = (uint8_t)(ulen >> 8), ip[5] = (uint8_t)ulen;
		ip[6] = IPPROTO_UDP, ip[7] = 64;
		memcpy(ip + 8, &s->sin6_addr, 16);
		memcpy(ip + 24, &d->sin6_addr, 16);
		sum = csum_add(0, ip + 8, 32);
	}
	udp[0] = 40000 >> 8, udp[1] = 40000 & 0xff, udp[2] = (uint8_t)(port >> 8);
	udp[3] = (uint8_t)port, udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
	memcpy(udp + 8, pl, plen);
	sum = csum_fold(csum_add(sum + IPPROTO_UDP + (uint32_t)ulen, udp, ulen));
	sum = sum ? sum : 0xffff;
	udp[6] = (uint8_t)(sum >> 8), udp[7] = (uint8_t)sum;
	return hl + ulen;
}

/* Collect replies on @fd for @wait_ms after the last one; print a summary. */
static void wait_replies(int fd, long wait_ms)
{
	static uint8_t buf[65536];
	long replies = 0, errors = 0;
	unsigned int last_status = 0, last_kind = 0;
	char from[INET6_ADDRSTRLEN] = "-";

	for (double last = tool_now(); tool_now() - last < wait_ms / 1e3;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_storage ss = { 0 };
		socklen_t sl = sizeof(ss);
		struct ep_msg m;
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
		if (n < 0 || ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, &m, NULL, NULL))
			continue;
		last = tool_now();
		replies++;
		errors += m.kind == EP_KIND_ERROR;
		last_status = m.status;
		last_kind = m.kind;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, from,
				  sizeof(from));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, from,
				  sizeof(from));
	}
	printf("replies %ld errors %ld kind %s status %s from %s\n", replies, errors,
	       replies ? ep_kind_name(last_kind) : "-", replies ? ep_status_name(last_status) : "-",
	       from);
}

static const struct tool_choice kinds[] = {
	{ "request", EP_KIND_REQUEST },
	{ "ping", EP_KIND_PING },
	{ "cancel", EP_KIND_CANCEL },
	{ "response", EP_KIND_RESPONSE },
	{ NULL },
};

static const struct tool_choice csums[] = {
	{ "good", 1 },
	{ "bad", 0 },
	{ NULL },
};

int main(int argc, char **argv)
{
	struct ep_msg m = {
		.kind = EP_KIND_REQUEST, .priority = EP_PRIO_DEFAULT, .task_type = 1, .tenant_id = 1
	};
	long port = EP_DEFAULT_PORT, count = 1, size = 64, mtu = 1500, timeout = 10;
	long sport = 0, max_frags = 0, wait_ms = 0, encap_port = 0;
	const char *to = NULL, *inner_src = NULL, *inner_dst = NULL;
	bool corrupt = false, raw = false;
	int csum = -1; /* --udp-csum: 1 good, 0 bad */
	struct raw_udp ru;
	uint64_t id_base = 1;
	struct sockaddr_storage ss, isrc, idst;
	static uint8_t payload[1 << 20], dgram[65536], wrapped[65536];
	socklen_t sl;
	uint32_t fs, frags;
	double deadline;
	long sent = 0, dgrams = 0;
	int fd;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("count", count, 0, 1000000),
		OPT_NUM("size", size, 0, EP_MAX_TASK_LEN),
		OPT_NUM("mtu", mtu, 200, 65535),
		OPT_NUM("prio", m.priority, 1, 5),
		OPT_CHOICE("kind", m.kind, kinds),
		OPT_FLAG("corrupt", corrupt),
		OPT_FLAG("raw", raw),
		OPT_NUM("id-base", id_base, 0, 1L << 62),
		OPT_NUM("timeout", timeout, 1, 600),
		OPT_CHOICE("udp-csum", csum, csums),
		OPT_NUM("sport", sport, 1, 65535),
		OPT_NUM("frags", max_frags, 1, EP_MAX_FRAGS),
		OPT_NUM("wait-ms", wait_ms, 1, 60000),
		OPT_BIT("frame", m.flags, EP_F_FRAME),
		OPT_NUM("type", m.task_type, 1, 65535),
		OPT_NUM("encap-port", encap_port, 1, 65535),
		OPT_STR("inner-src", inner_src),
		OPT_STR("inner-dst", inner_dst),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc || !to) {
		usage(stderr);
		return 2;
	}
	if (encap_port && (!inner_src || !inner_dst)) {
		fprintf(stderr, "--encap-port needs --inner-src and --inner-dst\n");
		return 2;
	}
	if (tool_addr(to, (unsigned int)(encap_port ? encap_port : port), &ss, &sl))
		return 2;
	if (encap_port && (tool_addr(inner_src, 40000, &isrc, &(socklen_t){ 0 }) ||
			   tool_addr(inner_dst, (unsigned int)port, &idst, &(socklen_t){ 0 })))
		return 2;
	if (csum >= 0) {
		if (ss.ss_family != AF_INET) {
			fprintf(stderr, "--udp-csum: IPv4 only\n");
			return 2;
		}
		if (raw_udp_open(&ru, (const struct sockaddr_in *)&ss))
			return 1;
		fd = ru.fd;
	} else {
		fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	}
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (sport) {
		struct sockaddr_storage b = { .ss_family = ss.ss_family };
		int one = 1;

		((struct sockaddr_in *)&b)->sin_port =
			htons((uint16_t)sport); /* same place in v6 */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&b,
			 ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in))) {
			perror("bind --sport");
			return 1;
		}
	}
	for (long i = 0; i < size && i < (long)sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	fs = ep_frag_size_for_mtu((uint32_t)mtu, ss.ss_family == AF_INET6);
	if (encap_port) /* room for the inner headers within the MTU */
		fs -= idst.ss_family == AF_INET6 ? 48 : 28;
	frags = ep_frag_count((uint32_t)size, fs);
	if (!frags) {
		fprintf(stderr, "--size %ld does not fit in %u fragments of %u bytes\n", size,
			EP_MAX_FRAGS, fs);
		return 2;
	}
	if (max_frags && (uint32_t)max_frags < frags)
		frags = (uint32_t)max_frags;
	if ((uint64_t)frags * fs > sizeof(payload) && !raw && (uint64_t)size > sizeof(payload)) {
		fprintf(stderr, "--size %ld: send at most %zu bytes of it (--frags)\n", size,
			sizeof(payload) / fs);
		return 2;
	}
	deadline = tool_now() + (double)timeout;
	for (long t = 0; t < count && tool_now() < deadline; t++) {
		m.task_id = id_base + (uint64_t)t;
		for (uint32_t i = 0; i < (raw ? 1 : frags); i++) {
			ssize_t n;

			if (raw) {
				n = size;
				memcpy(dgram, payload, (size_t)size);
			} else {
				n = ep_frag_build(&m, payload, (uint32_t)size, fs, i, dgram,
						  sizeof(dgram));
				if (n < 0) {
					fprintf(stderr, "encode: %s\n", strerror((int)-n));
					return 1;
				}
				if (corrupt)
					dgram[0] ^= 0xff;
			}
			if (encap_port) {
				n = (ssize_t)inner_dgram(&isrc, &idst, (uint16_t)port, dgram,
							 (size_t)n, wrapped, sizeof(wrapped));
				if (!n) {
					fprintf(stderr,
						"--inner-src and --inner-dst: one family\n");
					return 2;
				}
				memcpy(dgram, wrapped, (size_t)n);
			}
			if (csum >= 0 ? raw_udp_send(&ru, dgram, (size_t)n, csum) < 0
				      : sendto(fd, dgram, (size_t)n, 0, (struct sockaddr *)&ss,
					       sl) < 0) {
				perror("sendto");
				return 1;
			}
			dgrams++;
		}
		sent++;
	}
	printf("sent %ld tasks in %ld datagrams\n", sent, dgrams);
	fflush(stdout);
	if (wait_ms)
		wait_replies(fd, wait_ms);
	close(fd);
	return sent == count ? 0 : 1;
}
