/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sysload.h - the machine's CPU time and memory, as /metrics and load reports see them. */
#ifndef EP_SYSLOAD_H
#define EP_SYSLOAD_H

#include <stdint.h>

/* The first line of /proc/stat, in clock ticks over every CPU: busy is everything but
 * idle and iowait (guest time is already in user and nice). */
struct ep_cpu_times {
	uint64_t busy, total;
};

/* Returns 0 or a negative errno. */
int ep_sys_cpu_times(struct ep_cpu_times *t);
/* MemTotal and MemAvailable of /proc/meminfo, in KiB. Returns 0 or a negative errno. */
int ep_sys_meminfo(uint64_t *total_kib, uint64_t *avail_kib);

#endif /* EP_SYSLOAD_H */
