// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * scale_sizes - the numbers docs/scale.md computes with, from the real code rather than
 * by hand: every map of the gateway (bpf/ep_gateway.bpf.c) loaded with maps of its own,
 * pinned nowhere, with its type, key and value sizes, entries and the memory the kernel
 * charges for it (the "memlock" line of the map's /proc fdinfo); the controller's
 * registry; and a load report's size on the wire.
 *
 *	scale_sizes		(root: it loads the program)
 *
 * Prints a markdown table and a few lines. Exits 1 if the program cannot be loaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ep_gateway.skel.h"
#include "edgeplane/codec.h"
#include "registry.h"
#include "xdp/ep_xdp.h"

/* The kernel's charge for the map @fd: its fdinfo's memlock, in bytes; 0 if unknown. */
static unsigned long long memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static const char *type_name(enum bpf_map_type t)
{
	const char *s = libbpf_bpf_map_type_str(t);

	return s ? s : "?";
}

/* The table of the gateway's maps; their total in *@total, and in *@percpu what each CPU
 * adds: the per-CPU maps' values (each rounded up to 8 bytes, as the kernel stores them). */
static void maps(struct bpf_object *obj, unsigned long long *total, unsigned long long *percpu)
{
	struct bpf_map *m;

	printf("| map | type | key, B | value, B | entries | kernel memory (memlock) |\n"
	       "|---|---|---:|---:|---:|---:|\n");
	bpf_object__for_each_map(m, obj)
	{
		unsigned long long ml = memlock(bpf_map__fd(m));
		enum bpf_map_type t = bpf_map__type(m);

		if (bpf_map__fd(m) < 0) /* .rodata and the like, not created here */
			continue;
		printf("| %s | %s | %u | %u | %u | %.1f KiB |\n", bpf_map__name(m), type_name(t),
		       bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
		       (double)ml / 1024);
		*total += ml;
		if (t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
		    t == BPF_MAP_TYPE_LRU_PERCPU_HASH)
			*percpu += (unsigned long long)((bpf_map__value_size(m) + 7) & ~7u) *
				   bpf_map__max_entries(m);
	}
}

int main(void)
{
	unsigned long long total = 0, percpu = 0;
	struct ep_gateway *gw = ep_gateway__open();
	int ncpu = libbpf_num_possible_cpus();
	int err;

	if (!gw)
		return fprintf(stderr, "scale_sizes: open: %s\n", strerror(errno)), 1;
	ep_bpf_no_pins(gw->obj);
	err = ep_gateway__load(gw);
	if (err) {
		fprintf(stderr, "scale_sizes: load the gateway: %s\n", strerror(-err));
		ep_gateway__destroy(gw);
		return 1;
	}
	printf("The gateway's maps as this build sizes them (EP_GW_MAX_NODES %u, table up to "
	       "2^%u slots per half), on a machine with %d possible CPUs:\n\n",
	       (unsigned int)EP_GW_MAX_NODES, (unsigned int)EP_GW_TABLE_MAX_BITS, ncpu);
	maps(gw->obj, &total, &percpu);
	printf("\nTotal: %.2f MiB with %d CPUs; each CPU more adds %.1f KiB (the per-CPU maps' "
	       "values).\n",
	       (double)total / 1048576, ncpu, (double)percpu / 1024);
	printf("struct ep_gw_node %zu B, ep_gw_node_stats %zu B, ep_gw_cfg %zu B.\n",
	       sizeof(struct ep_gw_node), sizeof(struct ep_gw_node_stats),
	       sizeof(struct ep_gw_cfg));
	printf("The controller's registry (struct ep_registry, %u node slots): %.2f MiB; "
	       "struct ep_reg_node %zu B.\n",
	       (unsigned int)EP_GW_MAX_NODES, (double)sizeof(struct ep_registry) / 1048576,
	       sizeof(struct ep_reg_node));
	printf("A load report: %zu B of report after a %u B header: a %zu B UDP payload, %zu B "
	       "IPv4 frame on Ethernet (with the 24 B of preamble, FCS and gap: %zu B on the "
	       "wire).\n",
	       sizeof(struct ep_load_report), (unsigned int)EP_HDR_LEN,
	       EP_HDR_LEN + sizeof(struct ep_load_report),
	       14 + 20 + 8 + EP_HDR_LEN + sizeof(struct ep_load_report),
	       24 + 14 + 20 + 8 + EP_HDR_LEN + sizeof(struct ep_load_report));
	ep_gateway__destroy(gw);
	return 0;
}
