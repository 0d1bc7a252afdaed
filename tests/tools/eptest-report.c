// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-report - send LOAD_REPORT messages as a runtime would, with chosen values, for
 * tests and benchmarks of the controller (a node whose load the test controls).
 *
 *   eptest-report --to ADDR:PORT --id N [--count N] [--interval-ms N] [--seq N]
 *                 [--cpu PCT] [--mem-kib N] [--queue N] [--inflight N] [--p99-us N]
 *                 [--capacity N] [--ip4 A] [--ip6 A] [--mac M] [--port N] [--raw HEX]
 *
 * --count 0 sends until killed (bounded by --max-seconds, 600 by default).
 * --raw sends the given bytes instead (hostile-input tests).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

static int parse_dst(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (ep_parse_long("port", colon + 1, 1, 65535, &port))
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a = (void *)ss;

		host[strlen(host) - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in *a = (void *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] && s[1] && n < max) {
		unsigned int b;

		if (sscanf(s, "%2x", &b) != 1)
			return -1;
		out[n++] = (uint8_t)b;
		s += 2;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", 1, 0, 't' },	      { "id", 1, 0, 'i' },
		{ "count", 1, 0, 'n' },	      { "interval-ms", 1, 0, 'I' },
		{ "seq", 1, 0, 's' },	      { "cpu", 1, 0, 'c' },
		{ "mem-kib", 1, 0, 'm' },     { "queue", 1, 0, 'q' },
		{ "inflight", 1, 0, 'f' },    { "p99-us", 1, 0, 'p' },
		{ "capacity", 1, 0, 'C' },    { "ip4", 1, 0, '4' },
		{ "ip6", 1, 0, '6' },	      { "mac", 1, 0, 'M' },
		{ "port", 1, 0, 'P' },	      { "raw", 1, 0, 'r' },
		{ "max-seconds", 1, 0, 'x' }, { 0 }
	};
	struct ep_load_report rep = { .capacity = htonl(100),
				      .port = htons(EP_DEFAULT_PORT),
				      .interval_ms = htonl(100),
				      .mem_free_kib = htobe64(1 << 22) };
	long count = 1, interval = 100, seq = 1, max_s = 600, v;
	uint8_t dgram[EP_HDR_LEN + sizeof(rep)], raw[2048];
	struct sockaddr_storage dst;
	socklen_t dlen = 0;
	int c, fd, nraw = -1, failed = 0;
	time_t start = time(NULL);

	ep_log_set_ident("eptest-report");
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_dst(optarg, &dst, &dlen)) {
				pr_err("--to %s: expected ADDR:PORT", optarg);
				return 2;
			}
			break;
		case 'i':
			if (ep_parse_long("--id", optarg, 0, 1000, &v))
				return 2;
			rep.node_id = htonl((uint32_t)v);
			break;
		case 'n':
			if (ep_parse_long("--count", optarg, 0, 100000000, &count))
				return 2;
			break;
		case 'I':
			if (ep_parse_long("--interval-ms", optarg, 1, 60000, &interval))
				return 2;
			rep.interval_ms = htonl((uint32_t)interval);
			break;
		case 's':
			if (ep_parse_long("--seq", optarg, 0, 0xffffffffL, &seq))
				return 2;
			break;
		case 'c':
			if (ep_parse_long("--cpu", optarg, 0, 200, &v))
				return 2;
			rep.cpu_pct_x100 = htonl((uint32_t)v * 100);
			break;
		case 'm':
			if (ep_parse_long("--mem-kib", optarg, 0, 1L << 40, &v))
				return 2;
			rep.mem_free_kib = htobe64((uint64_t)v);
			break;
		case 'q':
			if (ep_parse_long("--queue", optarg, 0, 1 << 30, &v))
				return 2;
			rep.queue_depth = htonl((uint32_t)v);
			break;
		case 'f':
			if (ep_parse_long("--inflight", optarg, 0, 1 << 30, &v))
				return 2;
			rep.inflight = htonl((uint32_t)v);
			break;
		case 'p':
			if (ep_parse_long("--p99-us", optarg, 0, 1L << 31, &v))
				return 2;
			rep.p99_us = htonl((uint32_t)v);
			break;
		case 'C':
			if (ep_parse_long("--capacity", optarg, 0, 0xffffffffL, &v))
				return 2;
			rep.capacity = htonl((uint32_t)v);
			break;
		case 'P':
			if (ep_parse_long("--port", optarg, 0, 65535, &v))
				return 2;
			rep.port = htons((uint16_t)v);
			break;
		case '4':
			if (inet_pton(AF_INET, optarg, &rep.ip4) != 1) {
				pr_err("--ip4 %s: not an IPv4 address", optarg);
				return 2;
			}
			break;
		case '6':
			if (inet_pton(AF_INET6, optarg, rep.ip6) != 1) {
				pr_err("--ip6 %s: not an IPv6 address", optarg);
				return 2;
			}
			break;
		case 'M': {
			unsigned int b[6];

			if (sscanf(optarg, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
				   &b[5]) != 6) {
				pr_err("--mac %s: not a MAC address", optarg);
				return 2;
			}
			for (int i = 0; i < 6; i++)
				rep.mac[i] = (uint8_t)b[i];
			break;
		}
		case 'r':
			nraw = hex(optarg, raw, sizeof(raw));
			if (nraw < 0) {
				pr_err("--raw: not hex");
				return 2;
			}
			break;
		case 'x':
			if (ep_parse_long("--max-seconds", optarg, 1, 3600, &max_s))
				return 2;
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top of "
					"tests/tools/eptest-report.c\n");
			return 2;
		}
	}
	if (!dlen) {
		pr_err("--to ADDR:PORT is required");
		return 2;
	}
	fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, dlen)) {
		pr_err("socket: %s", strerror(errno));
		return 1;
	}
	for (long i = 0; (!count || i < count) && time(NULL) - start < max_s; i++) {
		struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT, .priority = EP_PRIO_MAX };
		ssize_t len;

		rep.seq = htonl((uint32_t)(seq + i));
		m.task_id = (uint64_t)(seq + i);
		len = nraw >= 0 ? nraw
				: ep_frag_build(&m, &rep, sizeof(rep), sizeof(rep), 0, dgram,
						sizeof(dgram));
		if (len < 0 || send(fd, nraw >= 0 ? raw : dgram, (size_t)len, 0) < 0) {
			pr_warn("send: %s", len < 0 ? "encode" : strerror(errno));
			failed++;
		}
		if (!count || i + 1 < count)
			usleep((useconds_t)interval * 1000);
	}
	close(fd);
	/* A report that did not go out is a failure, except for --raw, whose datagrams
	 * may be meant to be refused. */
	return failed && nraw < 0 ? 1 : 0;
}
