/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * nodeset.h - a set of node ids (1..EP_GW_MAX_NODES-1) as a bitmap of EP_GW_MAX_NODES
 * bits (1 KiB): what a 64-bit mask of ids was before ids went past 63.
 */
#ifndef EP_CONTROL_NODESET_H
#define EP_CONTROL_NODESET_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"

struct ep_nodeset {
	uint64_t w[EP_GW_MAX_NODES / 64];
};

/* Add @id (ignored outside 0..EP_GW_MAX_NODES-1). */
static inline void ep_nodeset_add(struct ep_nodeset *s, uint32_t id)
{
	if (id < EP_GW_MAX_NODES)
		s->w[id / 64] |= 1ull << (id % 64);
}

/* Whether @id is in @s (false for NULL, or an id out of range). */
static inline bool ep_nodeset_has(const struct ep_nodeset *s, uint32_t id)
{
	return s && id < EP_GW_MAX_NODES && (s->w[id / 64] >> (id % 64) & 1);
}

/* Whether @s holds no id. */
static inline bool ep_nodeset_empty(const struct ep_nodeset *s)
{
	for (unsigned int i = 0; i < EP_GW_MAX_NODES / 64; i++)
		if (s->w[i])
			return false;
	return true;
}

#endif /* EP_CONTROL_NODESET_H */
