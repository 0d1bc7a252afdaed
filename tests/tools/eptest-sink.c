// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-sink - count datagrams that reach a kernel UDP socket, for tests that check what
 * the classifier leaves to the stack. Stops after --count datagrams or --timeout-ms.
 */
#include <limits.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "opts.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-sink --bind ADDR --port N [--count N] [--timeout-ms T]\n"
		   "       [--show-from]   print each datagram's source and kind\n");
}

int main(int argc, char **argv)
{
	long port = 0, count = 1, timeout_ms = 3000, got = 0, valid = 0;
	const char *bind_s = NULL;
	struct sockaddr_storage ss;
	static uint8_t buf[65536];
	socklen_t sl;
	double deadline;
	int fd, one = 1;
	bool show_from = false;
	const struct tool_opt opts[] = {
		OPT_STR("bind", bind_s),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("count", count, 1, 1000000),
		OPT_NUM("timeout-ms", timeout_ms, 1, 600000),
		OPT_FLAG("show-from", show_from),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc)
		return 2;
	if (!bind_s || !port || tool_addr(bind_s, (unsigned int)port, &ss, &sl))
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl)) {
		perror("bind");
		return 1;
	}
	tool_ready();
	deadline = tool_now() + (double)timeout_ms / 1000;
	while (got < count && tool_wait_in(fd, deadline, INT_MAX)) {
		struct sockaddr_storage from = { 0 };
		socklen_t fl = sizeof(from);
		struct ep_msg m;
		ssize_t n;
		bool ok;

		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		got++;
		ok = !ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, &m, NULL, NULL);
		valid += ok;
		if (show_from) {
			char a[INET6_ADDRSTRLEN] = "?";
			unsigned int from_port = 0;

			if (from.ss_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, a,
					  sizeof(a));
				from_port = ntohs(((struct sockaddr_in *)&from)->sin_port);
			} else {
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, a,
					  sizeof(a));
				from_port = ntohs(((struct sockaddr_in6 *)&from)->sin6_port);
			}
			printf("from %s port %u kind %s\n", a, from_port,
			       ok ? ep_kind_name(m.kind) : "-");
			fflush(stdout);
		}
	}
	printf("received %ld valid %ld\n", got, valid);
	close(fd);
	return 0;
}
