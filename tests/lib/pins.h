/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pins.h - check which maps of an opened BPF object are pinned by name (bpf/lib/pin.h),
 * and load a skeleton with none, for the BPF program tests.
 */
#ifndef EP_TEST_PINS_H
#define EP_TEST_PINS_H

#include <stdbool.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "tap.h"
#include "xdp/ep_xdp.h"

/* Load an opened skeleton (its ->skeleton) with fresh maps, pinned nowhere, whatever its
 * object marks for pinning. Returns 0 or a negative errno. */
static inline int load_unpinned(struct bpf_object_skeleton *s)
{
	ep_bpf_no_pins(*s->obj);
	return bpf_object__load_skeleton(s);
}

/* EXPECT that exactly the maps of @obj named in @want (@n names) have a pin path, and
 * that it is libbpf's default root's (a loader sets its own with pin_root_path). */
static inline void expect_pins(struct bpf_object *obj, const char *const *want, size_t n)
{
	char path[64];
	struct bpf_map *m;
	size_t pinned = 0;

	for (m = bpf_object__next_map(obj, NULL); m; m = bpf_object__next_map(obj, m)) {
		const char *pin = bpf_map__pin_path(m);
		bool listed = false;

		for (size_t i = 0; i < n; i++)
			listed |= !strcmp(bpf_map__name(m), want[i]);
		if (listed != !!pin)
			tap_diag("map %s: pin path %s", bpf_map__name(m), pin ? pin : "none");
		EXPECT(listed == !!pin);
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", bpf_map__name(m));
		EXPECT(!pin || !strcmp(pin, path));
		pinned += !!pin;
	}
	EXPECT_EQ(pinned, n);
}

#endif /* EP_TEST_PINS_H */
