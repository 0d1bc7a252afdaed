// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev (Eisenbud et al., NSDI 2016, with weights as in Katran): node i's
 * preference list is offset_i, offset_i + skip_i, ... modulo the table size. The table
 * size is a power of two, so an odd skip makes the list visit every slot. Nodes take turns
 * claiming their next free preferred slot; a node's turns come in proportion to its
 * capacity (it earns capacity credits per round and spends max-capacity per slot).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/util.h"
#include "table.h"

struct walker {
	uint32_t id, weight, offset, skip, next;
	uint64_t credit;
};

static int by_id(const void *a, const void *b)
{
	const struct walker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int ep_table_build(const struct ep_table_member *m, unsigned int n, uint32_t *table)
{
	struct walker w[EP_GW_MAX_NODES];
	uint32_t wmax = 0, filled = 0;
	uint64_t seen = 0;

	memset(table, 0, EP_GW_TABLE_SIZE * sizeof(*table));
	if (n >= EP_GW_MAX_NODES)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t h1 = ep_mix64(0x6570676174657761ULL ^ m[i].id); /* "epgatewa" */
		uint64_t h2 = ep_mix64(h1 ^ 0x9e3779b97f4a7c15ULL);

		if (!m[i].id || m[i].id >= EP_GW_MAX_NODES || !m[i].capacity ||
		    (seen & (1ULL << m[i].id)))
			return -EINVAL;
		seen |= 1ULL << m[i].id;
		w[i] = (struct walker){
			.id = m[i].id,
			.weight = m[i].capacity,
			.offset = (uint32_t)(h1 % EP_GW_TABLE_SIZE),
			.skip = (uint32_t)(h2 % (EP_GW_TABLE_SIZE / 2)) * 2 + 1,
		};
		if (m[i].capacity > wmax)
			wmax = m[i].capacity;
	}
	if (!n)
		return 0;
	/* Turn order must not depend on the order the caller listed the nodes in. */
	qsort(w, n, sizeof(w[0]), by_id);

	while (filled < EP_GW_TABLE_SIZE) {
		for (unsigned int i = 0; i < n && filled < EP_GW_TABLE_SIZE; i++) {
			w[i].credit += w[i].weight;
			if (w[i].credit < wmax)
				continue;
			w[i].credit -= wmax;
			/* The next free slot in this node's preference list. */
			for (;;) {
				uint32_t slot = (w[i].offset + (uint64_t)w[i].skip * w[i].next) %
						EP_GW_TABLE_SIZE;

				w[i].next++;
				if (!table[slot]) {
					table[slot] = w[i].id;
					filled++;
					break;
				}
			}
		}
	}
	return 0;
}

void ep_table_shares(const uint32_t *table, uint32_t counts[EP_GW_MAX_NODES])
{
	memset(counts, 0, EP_GW_MAX_NODES * sizeof(*counts));
	for (uint32_t i = 0; i < EP_GW_TABLE_SIZE; i++)
		if (table[i] < EP_GW_MAX_NODES)
			counts[table[i]]++;
}
