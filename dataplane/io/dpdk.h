/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dpdk.h - the DPDK backend's port: the EAL, one ethdev (DPDK's net_af_xdp PMD on the
 * interface, behind the classifier built for it) and a mempool per queue. Set up once by
 * the main thread before the queues open (ep_io_dpdk_open() in io.h) and the workers
 * start; torn down by it after the queues closed.
 */
#ifndef EP_IO_DPDK_H
#define EP_IO_DPDK_H

#include <stdbool.h>
#include <stdint.h>

#include "xdp/ep_xdp.h" /* struct ep_xdp_opts */

/* The object file of the classifier for DPDK, looked for next to the program. */
#define EP_DPDK_XDP_PROG "ep_classifier_dpdk.bpf.o"

struct ep_dpdk_cfg {
	const char *ifname;
	unsigned int first_queue; /* RX queues first_queue .. first_queue + nqueues - 1 */
	unsigned int nqueues;
	/* The classifier's settings, as the afxdp backend's (ifname, mode, pin_dir and debug
	 * unused): port and addresses synced into its maps, auth_mode into ep_auth_cfg. */
	struct ep_xdp_opts cls;
	uint32_t mtu; /* limits.mtu: must fit the port's frames */
	/* EAL */
	bool no_huge;		     /* --no-huge (else hugepages, which must be reserved) */
	uint32_t memory_mb;	     /* -m */
	const char *file_prefix;     /* NULL: --in-memory */
	const char *lcores;	     /* NULL: 0@(the CPUs this process may use) */
	const char *vdev;	     /* NULL: net_af_xdp0 on ifname, the queues, xdp_prog */
	const char *xdp_prog;	     /* NULL: EP_DPDK_XDP_PROG next to the program */
	int busy_budget;	     /* net_af_xdp busy_budget; -1: the PMD's default */
	bool force_copy;	     /* net_af_xdp force_copy: no zero-copy (xdp.zerocopy off) */
	uint32_t mbufs;		     /* per queue */
	const char *const *eal_args; /* appended to the EAL's arguments */
	unsigned int neal_args;
};

struct ep_dpdk;

/*
 * Initialise the EAL (once per process, from the main thread), probe the port, set up its
 * queues (the PMD attaches the classifier then) and configure the classifier. DPDK's log
 * goes through ep_log. Returns 0 and *out, or a negative errno after logging why.
 */
int ep_dpdk_start(const struct ep_dpdk_cfg *cfg, struct ep_dpdk **out);

/* Stop and close the port (the PMD detaches the XDP program; checked), free the mempools
 * and clean the EAL up. Every queue must be closed already. NULL is a no-op. */
void ep_dpdk_stop(struct ep_dpdk *d);

/* The classifier's ep_stats map (owned by @d), or -1 if the attached program is not ours. */
int ep_dpdk_stats_fd(const struct ep_dpdk *d);
/* Its ep_addrs map (owned by @d), or -1: for the runtime to keep the addresses current. */
int ep_dpdk_addrs_fd(const struct ep_dpdk *d);
/* Its map of pinned name @name (EP_PIN_*: ep_keys and ep_key_state for the runtime's key
 * table, ...; owned by @d), or -1 if the program is not ours or has no such map. */
int ep_dpdk_map_fd(const struct ep_dpdk *d, const char *name);

/* "native" or "skb": how the PMD attached the program. */
const char *ep_dpdk_xdp_mode(const struct ep_dpdk *d);

#endif /* EP_IO_DPDK_H */
