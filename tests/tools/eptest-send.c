// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-send - send offload tasks (or plain datagrams) over a UDP socket, for tests.
 * Every run is bounded: at most --count tasks and --timeout seconds.
 */
#include <getopt.h>
#include <stdint.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "edgeplane/codec.h"
#include "common.h"

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
		   "       [--mtu N] [--prio 1-5] [--kind request|ping|cancel] [--corrupt]\n"
		   "       [--raw] [--id-base N] [--timeout SECONDS] [--udp-csum good|bad]\n"
		   "  --corrupt  flip the magic of every datagram (the classifier drops them)\n"
		   "  --raw      send plain payload bytes, not the offload protocol\n"
		   "  --udp-csum write the UDP header ourselves (raw IPv4 socket) with a correct\n"
		   "             or a wrong checksum, as a corrupted datagram would arrive\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' }, { "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' }, { "size", required_argument, NULL, 's' },
		{ "mtu", required_argument, NULL, 'm' }, { "prio", required_argument, NULL, 'P' },
		{ "kind", required_argument, NULL, 'k' }, { "corrupt", no_argument, NULL, 'x' },
		{ "raw", no_argument, NULL, 'r' }, { "id-base", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' },
		{ "udp-csum", required_argument, NULL, 'u' },
		{ 0 },
	};
	struct ep_msg m = { .kind = EP_KIND_REQUEST, .priority = EP_PRIO_DEFAULT, .task_type = 1,
			    .tenant_id = 1 };
	long port = EP_DEFAULT_PORT, count = 1, size = 64, mtu = 1500, timeout = 10;
	const char *to = NULL;
	bool corrupt = false, raw = false;
	int csum = -1;	/* --udp-csum: 1 good, 0 bad */
	struct raw_udp ru;
	uint64_t id_base = 1;
	struct sockaddr_storage ss;
	static uint8_t payload[1 << 20], dgram[65536];
	socklen_t sl;
	uint32_t fs, frags;
	double deadline;
	long sent = 0, dgrams = 0;
	int c, fd;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'p': port = tool_num("--port", optarg, 1, 65535); break;
		case 'c': count = tool_num("--count", optarg, 0, 1000000); break;
		case 's': size = tool_num("--size", optarg, 0, sizeof(payload)); break;
		case 'm': mtu = tool_num("--mtu", optarg, 200, 65535); break;
		case 'P': m.priority = (uint8_t)tool_num("--prio", optarg, 1, 5); break;
		case 'i': id_base = (uint64_t)tool_num("--id-base", optarg, 0, 1L << 62); break;
		case 'T': timeout = tool_num("--timeout", optarg, 1, 600); break;
		case 'x': corrupt = true; break;
		case 'r': raw = true; break;
		case 'u':
			if (!strcmp(optarg, "good")) csum = 1;
			else if (!strcmp(optarg, "bad")) csum = 0;
			else { fprintf(stderr, "--udp-csum: '%s' is not good or bad\n", optarg); return 2; }
			break;
		case 'k':
			if (!strcmp(optarg, "request")) m.kind = EP_KIND_REQUEST;
			else if (!strcmp(optarg, "ping")) m.kind = EP_KIND_PING;
			else if (!strcmp(optarg, "cancel")) m.kind = EP_KIND_CANCEL;
			else { fprintf(stderr, "--kind: '%s' is not request, ping or cancel\n", optarg); return 2; }
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!to || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (tool_addr(to, (unsigned int)port, &ss, &sl))
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
	for (long i = 0; i < size; i++)
		payload[i] = (uint8_t)(i * 7);
	fs = ep_frag_size_for_mtu((uint32_t)mtu, ss.ss_family == AF_INET6);
	frags = ep_frag_count((uint32_t)size, fs);
	if (!frags) {
		fprintf(stderr, "--size %ld does not fit in %u fragments of %u bytes\n", size,
			EP_MAX_FRAGS, fs);
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
				n = ep_frag_build(&m, payload, (uint32_t)size, fs, i, dgram, sizeof(dgram));
				if (n < 0) {
					fprintf(stderr, "encode: %s\n", strerror((int)-n));
					return 1;
				}
				if (corrupt)
					dgram[0] ^= 0xff;
			}
			if (csum >= 0 ? raw_udp_send(&ru, dgram, (size_t)n, csum) < 0 :
			    sendto(fd, dgram, (size_t)n, 0, (struct sockaddr *)&ss, sl) < 0) {
				perror("sendto");
				return 1;
			}
			dgrams++;
		}
		sent++;
	}
	printf("sent %ld tasks in %ld datagrams\n", sent, dgrams);
	close(fd);
	return sent == count ? 0 : 1;
}
