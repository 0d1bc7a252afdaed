/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_util.h - the C benchmarks' side of tests/bench/lib_bench.sh: whether a window
 * just measured was disturbed by other work, with the same limits and environment
 * (BENCH_MAX_STEAL, 5, and BENCH_MAX_FOREIGN, 10, % of one CPU; BENCH_REPEATS, 2), so that
 * a neighbour's burst is measured again rather than taken for a result; and the median
 * and spread of per-round ratios.
 *
 *	struct bench_mark m;
 *	for (int try = 0; try <= bench_repeats(); try++) {
 *		bench_mark(&m);
 *		... measure ...
 *		if (!bench_disturbed(&m, "batch 8"))
 *			break;
 *	}
 */
#ifndef EP_BENCH_UTIL_H
#define EP_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench_mark {
	unsigned long long busy, steal, self; /* ticks */
	struct timespec t;
};

/* All CPUs' process ticks (user, nice, system) and steal ticks, from /proc/stat. */
static inline int bench_stat_(unsigned long long *busy, unsigned long long *steal)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	*busy = v[0] + v[1] + v[2];
	*steal = v[7];
	return 0;
}

/* This process's user + system ticks, from /proc/self/stat (fields 14 and 15). */
static inline unsigned long long bench_self_(void)
{
	unsigned long long ut = 0, st = 0;
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the name may hold spaces */
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		ut = st = 0;
	return ut + st;
}

static inline void bench_mark(struct bench_mark *m)
{
	if (bench_stat_(&m->busy, &m->steal))
		m->busy = m->steal = 0;
	m->self = bench_self_();
	clock_gettime(CLOCK_MONOTONIC, &m->t);
}

static inline double bench_env_(const char *name, double def)
{
	const char *v = getenv(name);

	return v && *v ? atof(v) : def;
}

static inline int bench_repeats(void)
{
	return (int)bench_env_("BENCH_REPEATS", 2);
}

/* Since bench_mark(): whether steal or other processes' CPU time went over the limits
 * (% of one CPU); says which on stderr, naming @what. A window too short for a tick to
 * tell (under 50 ms) is never called disturbed. */
static inline int bench_disturbed(const struct bench_mark *m, const char *what)
{
	struct bench_mark now;
	double secs, hz = (double)sysconf(_SC_CLK_TCK), steal, foreign;

	bench_mark(&now);
	secs = (double)(now.t.tv_sec - m->t.tv_sec) + (now.t.tv_nsec - m->t.tv_nsec) / 1e9;
	if (secs < 0.05 || !m->busy)
		return 0;
	steal = 100.0 * (double)(now.steal - m->steal) / (secs * hz);
	foreign =
		100.0 * ((double)(now.busy - m->busy) - (double)(now.self - m->self)) / (secs * hz);
	if (steal > bench_env_("BENCH_MAX_STEAL", 5)) {
		fprintf(stderr, "bench: %s: window disturbed (steal %.1f %% of one CPU)\n", what,
			steal);
		return 1;
	}
	if (foreign > bench_env_("BENCH_MAX_FOREIGN", 10)) {
		fprintf(stderr,
			"bench: %s: window disturbed (other processes %.1f %% of one CPU)\n", what,
			foreign);
		return 1;
	}
	return 0;
}

static inline int bench_cmp_double_(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort @v (n values) and return its median; v[0] and v[n - 1] are then min and max. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double_);
	return v[n / 2];
}

#endif
