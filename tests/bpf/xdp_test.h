/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdp_test.h - what the BPF_PROG_TEST_RUN tests of the classifier and the gateway share:
 * an XDP action's name for their messages, the clock their programs read, and emptying a
 * hash map between cases.
 */
#ifndef EP_TEST_XDP_TEST_H
#define EP_TEST_XDP_TEST_H

#include <bpf/bpf.h>
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

/* Delete every entry of the hash map @fd; @key is a buffer of the map's key size. Stops at
 * the first failed delete (the map is then left as it is, and the case's checks show it). */
static inline void map_clear(int fd, void *key)
{
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			break;
}

#endif
