/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* rnd.h - a seeded xorshift64 generator, so that "random" tests repeat exactly. */
#ifndef EP_TEST_RND_H
#define EP_TEST_RND_H

#include <stdint.h>

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static inline void rnd_seed(uint64_t seed)
{
	rnd_state = seed ? seed : 1;
}

static inline uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Uniform in [-1, 1). */
static inline float rnd_float(void)
{
	return (float)((double)(rnd() >> 11) / (double)(1ull << 52) - 1.0);
}

#endif
