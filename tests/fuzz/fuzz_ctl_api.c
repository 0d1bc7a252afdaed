// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's JSON API (control/api.c), which edgectl speaks over the controller's
 * Unix socket: each message is parsed by jansson (json_loadb, as serve_peer() does) and
 * handed to ep_ctl_api(). The input is up to 16 requests, one per line, run in order
 * against one controller (so that node.add, policy.set and the rest meet each other's
 * state), each by an admin peer; the first also by a peer that may only read. At the
 * end the views (`edgectl nodes`, status, policy, /metrics) are built from what is left.
 */
#include "fuzz_ctl.h"

#define MAX_REQUESTS	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_reg_opts opts = { .allow_register = true, .wait_for_report = true,
				    .dead_after_ns = 500ull * 1000000 };
	static struct ep_ctl ctl;
	const char *p = (const char *)data, *end = p + size;

	fz_ctl_init(&ctl, &opts);
	fz_ctl_publish(&ctl, FZ_T0);
	for (unsigned int i = 0; i < MAX_REQUESTS && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!i)
			fz_ctl_api(&ctl, p, len, false);
		fz_ctl_api(&ctl, p, len, true);
		fz_ctl_check(&ctl);
		p += len + 1;
	}
	fz_ctl_views(&ctl);
	fz_ctl_fini(&ctl);
	return 0;
}
