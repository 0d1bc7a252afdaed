/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared bits of the integration-test tools: number parsing and address resolution. */
#ifndef EP_TEST_TOOLS_COMMON_H
#define EP_TEST_TOOLS_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline long tool_num(const char *what, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "%s: '%s' is not a number in %ld..%ld\n", what, s, min, max);
		exit(2);
	}
	return v;
}

/* Parse a numeric IPv4 or IPv6 address (no name lookups) into @ss with @port. */
static inline int tool_addr(const char *s, unsigned int port, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	fprintf(stderr, "'%s' is not a numeric IPv4 or IPv6 address\n", s);
	return -EINVAL;
}

/* A matmul task (@n x @k times @k x @m) of zeros, its @len bytes calloc()ed; NULL if none. */
static inline uint8_t *tool_matmul_zeros(uint32_t n, uint32_t k, uint32_t m, uint32_t *len)
{
	uint8_t *p;

	*len = 16 + 4 * (n * k + k * m);
	p = calloc(1, *len);
	if (p) {
		((uint32_t *)p)[0] = htonl(n);
		((uint32_t *)p)[1] = htonl(k);
		((uint32_t *)p)[2] = htonl(m);
	}
	return p;
}

static inline double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tell the test that started this tool in the background that it is ready: a line
 * "ready", flushed at once. */
static inline void tool_ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

/* Wait until @fd is readable, for @most_ms at the most and never past @deadline (a
 * tool_now() time): true when it is, false when the time ran out. */
static inline bool tool_wait_in(int fd, double deadline, int most_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double left = (deadline - tool_now()) * 1000;

	if (left < 1)
		return false;
	return poll(&p, 1, left < most_ms ? (int)left : most_ms) > 0;
}

#endif
