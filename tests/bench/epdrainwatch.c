// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epdrainwatch - when a node's drain (or undrain) reaches gateways' maps, for bench_lb.sh's
 * "drain" section: polls the pinned ep_gw_cfg and ep_gw_nodes of each gateway named (the
 * active half's entry of node --id) every 100 us until its EP_NODE_F_DRAINED flag is
 * --drained (1) or clear (0), and prints, per gateway in the order given, the
 * CLOCK_REALTIME time (ns) it first saw it, or 0 if not within --timeout-ms.
 *
 *	epdrainwatch --id N --drained 0|1 [--timeout-ms 5000] PIN_DIR...
 *
 * It prints "ready" (and flushes) once the maps are open, before it polls: a script
 * starts it, waits for that line, takes the time and makes the change. Exits 0 when every
 * gateway saw the change, 1 on a timeout or an error, 2 on bad options.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "ep_shared.h"
#include "edgeplane/util.h"

#define MAX_GW 8

struct gw {
	int cfg_fd, nodes_fd;
	uint64_t seen_ns;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Open @dir's pinned maps into @g. 0 or a negative errno. */
static int gw_open(const char *dir, struct gw *g)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/ep_gw_cfg", dir);
	g->cfg_fd = bpf_obj_get(path);
	if (g->cfg_fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/ep_gw_nodes", dir);
	g->nodes_fd = bpf_obj_get(path);
	return g->nodes_fd < 0 ? -errno : 0;
}

/* 1 if node @id's entry in @g's active half has EP_NODE_F_DRAINED as @drained wants, 0 if
 * not, or a negative errno. */
static int gw_check(const struct gw *g, uint32_t id, int drained)
{
	struct ep_gw_node n;
	struct ep_gw_cfg c;
	__u32 k = 0;

	if (bpf_map_lookup_elem(g->cfg_fd, &k, &c))
		return -errno;
	k = (c.active & 1) * EP_GW_MAX_NODES + id;
	if (bpf_map_lookup_elem(g->nodes_fd, &k, &n))
		return -errno;
	return !!(n.flags & EP_NODE_F_DRAINED) == drained;
}

/* Poll until every gateway saw it or @timeout_ms passed. 0, -ETIMEDOUT or -errno. */
static int watch(struct gw *g, int ngw, uint32_t id, int drained, long timeout_ms)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000;
	int left = ngw, r;

	while (left) {
		for (int i = 0; i < ngw; i++) {
			if (g[i].seen_ns)
				continue;
			r = gw_check(&g[i], id, drained);
			if (r < 0)
				return r;
			if (r) {
				g[i].seen_ns = clock_ns(CLOCK_REALTIME);
				left--;
			}
		}
		if (left && clock_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		if (left)
			usleep(100);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "id", required_argument, NULL, 'i' },
					    { "drained", required_argument, NULL, 'd' },
					    { "timeout-ms", required_argument, NULL, 't' },
					    { 0 } };
	long id = 0, drained = -1, timeout_ms = 5000;
	struct gw g[MAX_GW] = { 0 };
	int opt, bad = 0, ngw, err = 0;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'i')
			bad |= ep_parse_long("--id", optarg, 1, EP_GW_MAX_NODES - 1, &id);
		else if (opt == 'd')
			bad |= ep_parse_long("--drained", optarg, 0, 1, &drained);
		else if (opt == 't')
			bad |= ep_parse_long("--timeout-ms", optarg, 1, 600000, &timeout_ms);
		else
			bad = 1;
	}
	ngw = argc - optind;
	if (bad || !id || drained < 0 || ngw < 1 || ngw > MAX_GW) {
		fprintf(stderr,
			"usage: epdrainwatch --id N --drained 0|1 [--timeout-ms N] "
			"PIN_DIR... (at most %d)\n",
			MAX_GW);
		return 2;
	}
	for (int i = 0; !err && i < ngw; i++)
		if ((err = gw_open(argv[optind + i], &g[i])))
			fprintf(stderr, "epdrainwatch: %s: %s\n", argv[optind + i], strerror(-err));
	if (err)
		return 1;
	printf("ready\n");
	fflush(stdout);
	err = watch(g, ngw, (uint32_t)id, (int)drained, timeout_ms);
	for (int i = 0; i < ngw; i++)
		printf("%s%llu", i ? " " : "", (unsigned long long)g[i].seen_ns);
	printf("\n");
	if (err && err != -ETIMEDOUT)
		fprintf(stderr, "epdrainwatch: %s\n", strerror(-err));
	return err ? 1 : 0;
}
