/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp_test.h - what the BPF_PROG_TEST_RUN tests of the classifier and the gateway share:
 * an XDP action's name for their messages, and the clock their programs read.
 */
#ifndef EP_TEST_XDP_TEST_H
#define EP_TEST_XDP_TEST_H

#include <linux/bpf.h>

#include "../lib/mono.h"

static inline const char *act_name(int act)
{
	switch (act) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	default:
		return "?";
	}
}

#endif
