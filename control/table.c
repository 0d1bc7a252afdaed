// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev (Eisenbud et al., NSDI 2016, with weights as in Katran): node i's
 * preference list is offset_i, offset_i + skip_i, ... modulo the table size M. M is a
 * power of two (ep_gw_table_bits(): at least 100 slots per node, as the paper advises for
 * a small imbalance), so an odd skip makes the list visit every slot. Nodes take turns, in
 * id order, claiming their next free preferred slot; a node's turns come in proportion to
 * its capacity (it earns capacity credits per round and spends max-capacity per slot).
 * Offsets and skips come from the node id alone, and M from the member count: the table
 * is a function of the membership (ids, capacities), not of the order it was learnt in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/util.h"
#include "table.h"

struct walker {
	uint32_t id, weight, pos, skip;
	uint64_t credit;
};

static int by_id(const void *a, const void *b)
{
	const struct walker *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Each member's walker (preference list) for a table of @size slots, sorted by id. Returns
 * 0, -EINVAL (bad id, zero capacity, duplicate id); *wmax the largest capacity. */
static int walkers_init(const struct ep_table_member *m, unsigned int n, uint32_t size,
			struct walker *w, uint32_t *wmax)
{
	*wmax = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t h1 = ep_mix64(0x6570676174657761ULL ^ m[i].id); /* "epgatewa" */
		uint64_t h2 = ep_mix64(h1 ^ 0x9e3779b97f4a7c15ULL);

		if (!m[i].id || m[i].id >= EP_GW_MAX_NODES || !m[i].capacity)
			return -EINVAL;
		w[i] = (struct walker){
			.id = m[i].id,
			.weight = m[i].capacity,
			.pos = (uint32_t)(h1 % size),
			.skip = (uint32_t)(h2 % (size / 2)) * 2 + 1,
		};
		if (m[i].capacity > *wmax)
			*wmax = m[i].capacity;
	}
	/* Turn order must not depend on the order the caller listed the nodes in. */
	qsort(w, n, sizeof(w[0]), by_id);
	for (unsigned int i = 1; i < n; i++)
		if (w[i].id == w[i - 1].id)
			return -EINVAL;
	return 0;
}

/* Node @w claims its next free preferred slot of @table (@mask: size - 1). */
static void claim(struct walker *w, uint32_t *table, uint32_t mask)
{
	while (table[w->pos])
		w->pos = (w->pos + w->skip) & mask;
	table[w->pos] = w->id;
	w->pos = (w->pos + w->skip) & mask;
}

int ep_table_build(const struct ep_table_member *m, unsigned int n, uint32_t *table, uint32_t *bits)
{
	uint32_t b = ep_gw_table_bits(n), size = 1u << b, wmax, filled = 0;
	struct walker *w;
	int err;

	memset(table, 0, size * sizeof(*table));
	*bits = b;
	if (n >= EP_GW_MAX_NODES)
		return -EINVAL;
	if (!n)
		return 0;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	err = walkers_init(m, n, size, w, &wmax);
	while (!err && filled < size) {
		for (unsigned int i = 0; i < n && filled < size; i++) {
			w[i].credit += w[i].weight;
			if (w[i].credit < wmax)
				continue;
			w[i].credit -= wmax;
			claim(&w[i], table, size - 1);
			filled++;
		}
	}
	free(w);
	if (err)
		memset(table, 0, size * sizeof(*table));
	return err;
}

void ep_table_shares(const uint32_t *table, uint32_t bits, uint32_t counts[EP_GW_MAX_NODES])
{
	uint32_t size = ep_table_size(bits);

	memset(counts, 0, EP_GW_MAX_NODES * sizeof(*counts));
	for (uint32_t i = 0; i < size; i++)
		if (table[i] < EP_GW_MAX_NODES)
			counts[table[i]]++;
}
