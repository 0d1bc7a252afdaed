/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * probe.h - what would XDP choose? Runs the gateway program itself (BPF_PROG_TEST_RUN)
 * on synthetic tasks, against the live configuration, nodes and table, and a private copy
 * of the per-node "sent since report" counts, so the live counters are left alone.
 */
#ifndef EP_CONTROL_PROBE_H
#define EP_CONTROL_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"

struct ep_probe_opts {
	unsigned int samples; /* tasks to run, each from a random client and task id */
	uint8_t prio;	      /* 1..5 */
	uint32_t size_hint_kib;
	uint64_t seed;
};

struct ep_probe_result {
	uint64_t tasks[EP_GW_MAX_NODES]; /* tasks sent to each node */
	uint64_t dec[EP_GW_STAT__COUNT]; /* decisions */
	uint64_t xdp_tx, xdp_pass, xdp_drop, xdp_redirect;
};

/* Returns 0 or a negative errno (logged). Needs CAP_BPF and CAP_NET_ADMIN. */
int ep_probe(struct ep_gw *gw, const struct ep_probe_opts *o, struct ep_probe_result *r);

#endif /* EP_CONTROL_PROBE_H */
