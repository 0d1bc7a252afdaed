// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>

#include "daemon/sysload.h"

int ep_sys_cpu_times(struct ep_cpu_times *t)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -EIO;
	t->total = 0;
	for (int i = 0; i < 8; i++)
		t->total += v[i];
	t->busy = t->total - v[3] - v[4];
	return 0;
}

int ep_sys_meminfo(uint64_t *total_kib, uint64_t *avail_kib)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	int found = 0;

	if (!f)
		return -errno;
	while (found != 3 && fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*total_kib = kb;
			found |= 1;
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail_kib = kb;
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -ENOENT;
}
