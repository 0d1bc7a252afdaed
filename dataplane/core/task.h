/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * task.h - a task inside the runtime, from acceptance to reply. Tasks live in a
 * per-worker pool sized by queue_depth; nothing is allocated per task for single-fragment
 * uncompressed payloads, which stay in the receive buffer (zero-copy) until the handler
 * has run. Reassembled or decompressed payloads are heap buffers owned by the task.
 */
#ifndef EP_TASK_H
#define EP_TASK_H

#include <stdint.h>

#include "edgeplane/codec.h"
#include "io/io.h"

#define EP_NO_HANDLE   UINT64_MAX
#define EP_BUDGET_NONE UINT64_MAX /* a validated source: replies of any size */

struct ep_task {
	struct ep_task *next; /* queue link */
	struct ep_msg msg;    /* the request header (of its first fragment) */
	struct ep_peer peer;
	struct ep_route route;
	const uint8_t *data; /* payload, decompressed */
	uint32_t len;
	uint16_t hidx; /* handler index in the registry */
	uint16_t rsvd;
	uint64_t rx_ns;	    /* when the task became complete */
	uint64_t start_ns;  /* when its first fragment came: deadlines count from
			     * here */
	uint64_t io_handle; /* receive buffer to release, or EP_NO_HANDLE */
	uint64_t cache;	    /* result cache handle */
	uint64_t budget;    /* reply bytes allowed (EP_BUDGET_NONE: validated) */
	void *owned;	    /* heap buffer to free, or NULL */
};

#endif /* EP_TASK_H */
