/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mfile.h - the little-endian fields of a model file and an infer task (u32 and float,
 * docs/protocol.md), and a model's shape as a list of dims ("256,512,10"), for the tools,
 * tests and benchmarks that write or read them.
 */
#ifndef EP_TEST_MFILE_H
#define EP_TEST_MFILE_H

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/model.h"

static inline void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void put_lef(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_le32(p, u);
}

static inline float get_lef(const uint8_t *p)
{
	uint32_t u;
	float f;

	memcpy(&u, p, 4);
	u = le32toh(u);
	memcpy(&f, &u, 4);
	return f;
}

/*
 * "256,512,10" -> @dims (the input dim, then each layer's output dim; room for
 * EP_MODEL_MAX_LAYERS + 1). Returns the number of layers, or -EINVAL.
 */
static inline int parse_dims(const char *s, uint32_t *dims)
{
	unsigned int n = 0;
	char *end;

	for (;;) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v < 1 || v > EP_MODEL_MAX_DIM || n > EP_MODEL_MAX_LAYERS)
			return -EINVAL;
		dims[n++] = (uint32_t)v;
		if (!*end)
			break;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
	return n >= 2 ? (int)n - 1 : -EINVAL;
}

#endif
