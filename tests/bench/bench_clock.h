/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bench_clock.h - what the load generators and forwarders of the benchmarks (epblast,
 * epproxy) share: a stop flag their signal handler sets and their loops check, and the
 * monotonic clock in nanoseconds (../lib/mono.h).
 */
#ifndef EP_BENCH_CLOCK_H
#define EP_BENCH_CLOCK_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "../lib/mono.h"

static volatile sig_atomic_t stop;

/* The handler of SIGINT and SIGTERM: the loop stops at its next check. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

#endif
