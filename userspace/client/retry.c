// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "edgeplane/util.h"
#include "retry.h"

uint32_t ep_backoff_ms(const struct ep_backoff *b, uint32_t attempt, uint64_t *rng)
{
	uint64_t t = b->base_ms, span;

	for (uint32_t i = 1; i < attempt && t < b->max_ms; i++)
		t *= 2;
	if (t > b->max_ms)
		t = b->max_ms;
	if (!b->jitter_pct || !t)
		return (uint32_t)t;
	/* Uniform in [t - t*j, t + t*j]. */
	span = t * (b->jitter_pct > 100 ? 100 : b->jitter_pct) / 100;
	return (uint32_t)(t - span + ep_xorshift64(rng) % (2 * span + 1));
}

void ep_retry_budget_init(struct ep_retry_budget *b, double ratio, double per_s, double cap,
			  uint64_t now_ns)
{
	b->ratio = ratio;
	b->per_s = per_s;
	b->cap = cap;
	b->tokens = cap < 10 ? cap : 10;	/* a few retries are allowed from the start */
	b->last_ns = now_ns;
}

static void refill(struct ep_retry_budget *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->tokens += b->per_s * (double)(now_ns - b->last_ns) / 1e9;
		b->last_ns = now_ns;
	}
	if (b->tokens > b->cap)
		b->tokens = b->cap;
}

void ep_retry_budget_deposit(struct ep_retry_budget *b)
{
	b->tokens += b->ratio;
	if (b->tokens > b->cap)
		b->tokens = b->cap;
}

bool ep_retry_budget_take(struct ep_retry_budget *b, uint64_t now_ns)
{
	refill(b, now_ns);
	if (b->tokens < 1 - 1e-9)	/* 100 x 0.2 must make 20 tokens, not 19.999... */
		return false;
	b->tokens -= 1;
	return true;
}
