// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A benchmark plugin: handler "work" holds its worker for the time the task asks for, as a
 * task of known service time would, without burning this small machine's CPUs: the
 * load-balancing benchmark (tests/bench/lb_policy.sh) measures queueing behind such work,
 * not CPU contention between namespaces. Payload: a big-endian u32, microseconds (at most
 * one second). The result is the same four bytes. Not for production nodes.
 */
#include <stdint.h>
#include <time.h>

#include "edgeplane/handler.h"

static uint32_t work_out_size(void *state, const struct ep_hreq *req)
{
	return 4;
}

static int work_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t us;
		struct timespec ts;

		if (req[i].len != 4) {
			res[i].status = EP_ST_INVALID_INPUT;
			res[i].len = 0;
			continue;
		}
		us = (uint32_t)req[i].data[0] << 24 | (uint32_t)req[i].data[1] << 16 |
		     (uint32_t)req[i].data[2] << 8 | req[i].data[3];
		if (us > 1000000)
			us = 1000000;
		ts.tv_sec = us / 1000000;
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		while (nanosleep(&ts, &ts))
			;
		for (int b = 0; b < 4; b++)
			res[i].data[b] = req[i].data[b];
		res[i].len = 4;
		res[i].status = EP_ST_OK;
	}
	return 0;
}

static const struct ep_handler work_handler = {
	.abi_version = EP_HANDLER_ABI_VERSION,
	.name = "work",
	.default_type = 901,
	.out_size = work_out_size,
	.run = work_run,
};

static const struct ep_handler *const handlers[] = { &work_handler, NULL };

const struct ep_handler *const *ep_plugin_handlers(uint32_t abi_version)
{
	return abi_version == EP_HANDLER_ABI_VERSION ? handlers : NULL;
}
