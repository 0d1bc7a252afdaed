// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-sink - count datagrams that reach a kernel UDP socket, for tests that check what
 * the classifier leaves to the stack. Stops after --count datagrams or --timeout-ms.
 */
#include <getopt.h>
#include <poll.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "common.h"

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "bind", required_argument, NULL, 'b' }, { "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 'T' }, { 0 },
	};
	long port = 0, count = 1, timeout_ms = 3000, got = 0, valid = 0;
	const char *bind_s = NULL;
	struct sockaddr_storage ss;
	static uint8_t buf[65536];
	socklen_t sl;
	double deadline;
	int c, fd, one = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': bind_s = optarg; break;
		case 'p': port = tool_num("--port", optarg, 1, 65535); break;
		case 'c': count = tool_num("--count", optarg, 1, 1000000); break;
		case 'T': timeout_ms = tool_num("--timeout-ms", optarg, 1, 600000); break;
		default:
			fprintf(stderr, "Usage: eptest-sink --bind ADDR --port N [--count N] [--timeout-ms T]\n");
			return 2;
		}
	}
	if (!bind_s || !port || tool_addr(bind_s, (unsigned int)port, &ss, &sl))
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl)) {
		perror("bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	deadline = tool_now() + (double)timeout_ms / 1000;
	while (got < count) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((deadline - tool_now()) * 1000);
		struct ep_msg m;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			continue;
		got++;
		valid += !ep_decode(buf, (size_t)n, 0, &m, NULL, NULL);
	}
	printf("received %ld valid %ld\n", got, valid);
	close(fd);
	return 0;
}
