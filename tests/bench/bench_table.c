// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_table - how long the controller takes to rebuild the gateway's Maglev table
 * (control/table.c, ep_table_build()) and to write it into a BPF array map as
 * ep_gw_publish() does (one batch update of 2^bits slots), at 64, 1024, 4096 and 8191
 * nodes (capacities 100..250). The controller rebuilds on every membership change (a
 * node added, drained, dead or back), so this is the delay such a change adds before XDP
 * sees it. Baseline, in the same run: the 64-node table, the largest cluster before issue
 * 16 (then a fixed 4096 slots).
 *
 *	bench_table [--rounds 9]
 *
 * Times are CPU time of this thread for the build, wall time for the map write (the
 * kernel's copy), the median of the rounds with the min and max. Prints a markdown table.
 * The map write is left out (with the reason) where no BPF map can be made (not root).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "table.h"

#define MAX_ROUNDS 31

static double clock_ms(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v; its median. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Write @n slots into @fd from key 0, as ep_gw_publish() does. 0 or a negative errno. */
static int map_write(int fd, const uint32_t *table, uint32_t n, uint32_t *keys)
{
	__u32 count = n;

	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	return bpf_map_update_batch(fd, keys, table, &count, NULL) ? -errno : 0;
}

/* One row: @n nodes, @rounds builds and writes; *build_ms the median build (for the ratio). */
static int row(unsigned int n, int rounds, int fd, double *build_ms)
{
	static struct ep_table_member m[EP_GW_MAX_NODES];
	static uint32_t table[EP_GW_TABLE_SIZE], keys[EP_GW_TABLE_SIZE];
	double b[MAX_ROUNDS] = { 0 }, w[MAX_ROUNDS] = { 0 }, bmin, bmax;
	uint32_t bits = 0;

	for (unsigned int i = 0; i < n; i++)
		m[i] = (struct ep_table_member){ i + 1, 100 + 50 * ((i + 1) % 4) };
	for (int r = 0; r < rounds; r++) {
		double t0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
		int err = ep_table_build(m, n, table, &bits);

		b[r] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - t0;
		if (err)
			return err;
		t0 = clock_ms(CLOCK_MONOTONIC);
		if (fd >= 0 && (err = map_write(fd, table, 1u << bits, keys)))
			return err;
		w[r] = clock_ms(CLOCK_MONOTONIC) - t0;
	}
	*build_ms = median(b, rounds);
	bmin = b[0], bmax = b[rounds - 1];
	printf("| %u | 2^%u = %u | %.0f | **%.1f** (%.1f-%.1f) |", n, bits, 1u << bits,
	       (double)(1u << bits) / n, *build_ms, bmin, bmax);
	if (fd >= 0) {
		double wm = median(w, rounds);

		printf(" %.1f (%.1f-%.1f) | %.1f |", wm, w[0], w[rounds - 1], *build_ms + wm);
	} else {
		printf(" - | - |");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = { 64, 1024, 4096, EP_GW_MAX_NODES - 1 };
	int rounds = 9, fd, opt, err = 0;
	double base = 0, ms;

	while ((opt = getopt(argc, argv, "r:-:")) != -1) {
		if (opt == 'r' || (opt == '-' && !strncmp(optarg, "rounds=", 7)))
			rounds = atoi(opt == 'r' ? optarg : optarg + 7);
		else
			return fprintf(stderr, "usage: bench_table [--rounds=N]\n"), 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS)
		return fprintf(stderr, "bench_table: rounds: 1..%d\n", MAX_ROUNDS), 2;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_table", sizeof(__u32), sizeof(__u32),
			    EP_GW_TABLE_SIZE, NULL);
	printf("Maglev table rebuild (control/table.c) and its write into a BPF array map (one\n"
	       "batch update, as ep_gw_publish() does), %d rounds each: median (min-max), ms.\n"
	       "Capacities 100/150/200/250 by id; the 64-node row is the baseline (the largest\n"
	       "cluster before issue 16).\n\n",
	       rounds);
	if (fd < 0)
		printf("(no map write: %s)\n\n", strerror(errno));
	printf("| nodes | slots | slots/node | build, CPU ms | map write, ms | total, ms | build / "
	       "baseline |\n|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; !err && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		err = row(sizes[i], rounds, fd, &ms);
		if (!i)
			base = ms;
		if (!err)
			printf(" %.1f |\n", base > 0 ? ms / base : 0.0);
	}
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "bench_table: %s\n", strerror(-err));
	return err ? 1 : 0;
}
