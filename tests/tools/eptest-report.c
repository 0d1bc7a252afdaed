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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "opts.h"

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

static void usage(FILE *f)
{
	fprintf(f, "usage: see the comment at the top of tests/tools/eptest-report.c\n");
}

static struct sockaddr_storage dst;
static socklen_t dlen;

/* --to ADDR:PORT into dst and dlen. */
static int to_arg(const char *arg, void *unused)
{
	(void)unused;
	return ep_parse_sockaddr("--to", arg, 0, &dst, &dlen); /* says what is wrong */
}

/* --ip4 ADDR into the report at @r. */
static int ip4_arg(const char *arg, void *r)
{
	if (inet_pton(AF_INET, arg, &((struct ep_load_report *)r)->ip4) != 1) {
		pr_err("--ip4 %s: not an IPv4 address", arg);
		return -EINVAL;
	}
	return 0;
}

/* --ip6 ADDR into the report at @r. */
static int ip6_arg(const char *arg, void *r)
{
	if (inet_pton(AF_INET6, arg, ((struct ep_load_report *)r)->ip6) != 1) {
		pr_err("--ip6 %s: not an IPv6 address", arg);
		return -EINVAL;
	}
	return 0;
}

/* --mac XX:XX:XX:XX:XX:XX into the report at @r. */
static int mac_arg(const char *arg, void *r)
{
	unsigned int b[6];

	if (sscanf(arg, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
		pr_err("--mac %s: not a MAC address", arg);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		((struct ep_load_report *)r)->mac[i] = (uint8_t)b[i];
	return 0;
}

static uint8_t raw[2048];

/* --raw HEX: the datagram to send instead, its length in the int at @nraw. */
static int raw_arg(const char *arg, void *nraw)
{
	*(int *)nraw = hex(arg, raw, sizeof(raw));
	if (*(int *)nraw < 0) {
		pr_err("--raw: not hex");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ep_load_report rep = { 0 };
	long count = 1, interval = 100, seq = 1, max_s = 600, id = 0, cpu = 0, mem = 1 << 22;
	long queue = 0, inflight = 0, p99 = 0, capacity = 100, port = EP_DEFAULT_PORT;
	uint8_t dgram[EP_HDR_LEN + sizeof(rep)];
	int fd, nraw = -1, failed = 0;
	time_t start = time(NULL);
	const struct tool_opt opts[] = {
		OPT_FN("to", to_arg, NULL),
		OPT_NUM("id", id, 0, 1000),
		OPT_NUM("count", count, 0, 100000000),
		OPT_NUM("interval-ms", interval, 1, 60000),
		OPT_NUM("seq", seq, 0, 0xffffffffL),
		OPT_NUM("cpu", cpu, 0, 200),
		OPT_NUM("mem-kib", mem, 0, 1L << 40),
		OPT_NUM("queue", queue, 0, 1 << 30),
		OPT_NUM("inflight", inflight, 0, 1 << 30),
		OPT_NUM("p99-us", p99, 0, 1L << 31),
		OPT_NUM("capacity", capacity, 0, 0xffffffffL),
		OPT_FN("ip4", ip4_arg, &rep),
		OPT_FN("ip6", ip6_arg, &rep),
		OPT_FN("mac", mac_arg, &rep),
		OPT_NUM("port", port, 0, 65535),
		OPT_FN("raw", raw_arg, &nraw),
		OPT_NUM("max-seconds", max_s, 1, 3600),
		{ 0 },
	};

	ep_log_set_ident("eptest-report");
	if (tool_opts(argc, argv, opts, usage) != argc)
		return 2;
	if (!dlen) {
		pr_err("--to ADDR:PORT is required");
		return 2;
	}
	rep.node_id = htonl((uint32_t)id);
	rep.interval_ms = htonl((uint32_t)interval);
	rep.cpu_pct_x100 = htonl((uint32_t)cpu * 100);
	rep.mem_free_kib = htobe64((uint64_t)mem);
	rep.queue_depth = htonl((uint32_t)queue);
	rep.inflight = htonl((uint32_t)inflight);
	rep.p99_us = htonl((uint32_t)p99);
	rep.capacity = htonl((uint32_t)capacity);
	rep.port = htons((uint16_t)port);
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
