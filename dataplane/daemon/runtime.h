/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * runtime.h - assemble the runtime from its settings: handlers and warm-up, the XDP
 * classifier and I/O queues, one worker thread per queue, and the statistics socket.
 */
#ifndef EP_RUNTIME_H
#define EP_RUNTIME_H

#include <stdio.h>

#include "daemon/config.h"

struct ep_runtime;

/* Start everything; returns once the runtime is ready (all workers running). Queues
 * taken automatically (c->queues_auto) are counted again once XDP is attached: some
 * drivers (virtio_net) enable more queues then. Returns 0,
 * or a negative errno after logging what failed (everything started is undone). */
int ep_runtime_start(struct ep_conf *c, struct ep_runtime **out);
/* Stop taking datagrams, drain queued tasks, stop the workers and release everything. */
void ep_runtime_stop(struct ep_runtime *rt);
/* Write the statistics of every worker and task type, as JSON or as text. */
void ep_runtime_report(struct ep_runtime *rt, FILE *f, bool json);

#endif /* EP_RUNTIME_H */
