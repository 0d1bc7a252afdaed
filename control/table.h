/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * table.h - the gateway's capacity-weighted consistent-hash table (Maglev).
 *
 * Each member node owns a share of the table's slots proportional to its capacity. The
 * table has 2^ep_gw_table_bits(members) slots: at least 100 per node, up to
 * EP_GW_TABLE_SIZE. Every node walks its own permutation of the slots, derived from its
 * id alone, so adding, removing or draining one node moves few slots of the others: a
 * task's two P2C choices, and a load-blind HASH choice, stay where they were for most
 * tasks. Gateways with the same membership (ids and capacities) build the same table.
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
 * Fill @table (room for EP_GW_TABLE_SIZE node ids) from @n members: its first
 * 2^ep_gw_table_bits(@n) slots, *@bits set to that exponent. With no members every slot
 * is 0 (no node). Deterministic: the same members in any order give the same table, on
 * any host. Returns 0, -EINVAL for a bad id, a zero capacity or a duplicate id (the table
 * then all 0), or -ENOMEM.
 */
int ep_table_build(const struct ep_table_member *m, unsigned int n, uint32_t *table,
		   uint32_t *bits);

/* The slots of a table of 2^@bits, @bits taken into EP_GW_TABLE_MIN_BITS..MAX_BITS (as
 * XDP takes them: 0 is a table never written). */
static inline uint32_t ep_table_size(uint32_t bits)
{
	if (bits < EP_GW_TABLE_MIN_BITS || bits > EP_GW_TABLE_MAX_BITS)
		bits = EP_GW_TABLE_MIN_BITS;
	return 1u << bits;
}

/* Count the slots of each node id in a table of 2^@bits slots: counts[id] for
 * id < EP_GW_MAX_NODES. */
void ep_table_shares(const uint32_t *table, uint32_t bits, uint32_t counts[EP_GW_MAX_NODES]);

#endif /* EP_CONTROL_TABLE_H */
