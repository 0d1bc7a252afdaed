/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_clock.h - what the load generators and forwarders of the benchmarks (epblast,
 * epproxy) share: a stop flag their signal handler sets and their loops check, and the
 * monotonic clock in nanoseconds (bpf_ktime_get_ns()'s clock).
 */
#ifndef EP_BENCH_CLOCK_H
#define EP_BENCH_CLOCK_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

static volatile sig_atomic_t stop;

/* The handler of SIGINT and SIGTERM: the loop stops at its next check. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
