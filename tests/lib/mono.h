/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mono.h - CLOCK_MONOTONIC in nanoseconds, the clock of bpf_ktime_get_ns(). */
#ifndef EP_TEST_MONO_H
#define EP_TEST_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
