// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A benchmark plugin: handler "work" holds its worker for the time the task asks for, as a
 * task of known service time would, without burning this small machine's CPUs: the
 * load-balancing benchmark (tests/bench/lb_policy.sh) measures queueing behind such work,
 * not CPU contention between namespaces. Payload: a big-endian u32, microseconds (at most
 * one second). The result is the same four bytes. Not for production nodes.
 * Handler "spin" (type 902) holds the worker as long by using its CPU (a busy loop on the
 * clock): for the gateway's shedding by reported CPU (tests/bench/bench_prio.sh).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "edgeplane/handler.h"

static uint32_t work_out_size(void *state, const struct ep_hreq *req)
{
	return 4;
}

/* The request's microseconds (at most one second), or -1 for a malformed request. */
static int64_t req_us(const struct ep_hreq *req)
{
	uint32_t us;

	if (req->len != 4)
		return -1;
	us = (uint32_t)req->data[0] << 24 | (uint32_t)req->data[1] << 16 |
	     (uint32_t)req->data[2] << 8 | req->data[3];
	return us > 1000000 ? 1000000 : us;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Hold the worker for each request's microseconds, asleep or (@spin) on its CPU; echo the
 * request. */
static int hold(const struct ep_hreq *req, struct ep_hres *res, unsigned int n, bool spin)
{
	for (unsigned int i = 0; i < n; i++) {
		int64_t us = req_us(&req[i]);
		struct timespec ts;
		uint64_t end;

		res[i].len = 0;
		if (us < 0) {
			res[i].status = EP_ST_INVALID_INPUT;
			continue;
		}
		if (spin) {
			for (end = mono_ns() + (uint64_t)us * 1000; mono_ns() < end;)
				;
		} else {
			ts.tv_sec = us / 1000000;
			ts.tv_nsec = (long)(us % 1000000) * 1000;
			while (nanosleep(&ts, &ts))
				;
		}
		for (int b = 0; b < 4; b++)
			res[i].data[b] = req[i].data[b];
		res[i].len = 4;
		res[i].status = EP_ST_OK;
	}
	return 0;
}

static int work_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	return hold(req, res, n, false);
}

static int spin_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	return hold(req, res, n, true);
}

/* A handler of this plugin: its name, type and run; the result size is the same for all. */
#define WORK_HANDLER(hname, type, run_fn)                                                       \
	{                                                                                       \
		.abi_version = EP_HANDLER_ABI_VERSION, .name = (hname), .default_type = (type), \
		.out_size = work_out_size, .run = (run_fn),                                     \
	}

static const struct ep_handler spin_handler = WORK_HANDLER("spin", 902, spin_run);
static const struct ep_handler work_handler = WORK_HANDLER("work", 901, work_run);

static const struct ep_handler *const handlers[] = { &work_handler, &spin_handler, NULL };

const struct ep_handler *const *ep_plugin_handlers(uint32_t abi_version)
{
	return abi_version == EP_HANDLER_ABI_VERSION ? handlers : NULL;
}
