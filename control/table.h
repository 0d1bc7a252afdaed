/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * table.h - the gateway's capacity-weighted consistent-hash table (Maglev).
 *
 * Each member node owns a share of the EP_GW_TABLE_SIZE slots proportional to its
 * capacity. Every node walks its own permutation of the slots, derived from its id alone,
 * so adding, removing or draining one node moves few slots of the others: a task's two
 * P2C choices, and a load-blind HASH choice, stay where they were for most tasks.
 */
#ifndef EP_CONTROL_TABLE_H
#define EP_CONTROL_TABLE_H

#include <stdint.h>

#include "ep_shared.h"

struct ep_table_member {
	uint32_t id;	   /* 1..EP_GW_MAX_NODES-1 */
	uint32_t capacity; /* > 0 */
};

/*
 * Fill @table (EP_GW_TABLE_SIZE node ids) from @n members. With no members every slot
 * is 0 (no node). Deterministic: the same members in any order give the same table.
 * Returns 0, or -EINVAL for a bad id, a zero capacity or a duplicate id.
 */
int ep_table_build(const struct ep_table_member *m, unsigned int n, uint32_t *table);

/* Count the slots of each node id: counts[id] for id < EP_GW_MAX_NODES. */
void ep_table_shares(const uint32_t *table, uint32_t counts[EP_GW_MAX_NODES]);

#endif /* EP_CONTROL_TABLE_H */
