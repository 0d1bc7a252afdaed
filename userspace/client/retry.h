/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * retry.h - the client's retry policy, pure and clock-free so it can be tested exactly:
 * exponential backoff with jitter, and a retry budget that keeps retries a bounded share
 * of traffic (no retry storms when an edge is down or overloaded).
 */
#ifndef EP_CLIENT_RETRY_H
#define EP_CLIENT_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct ep_backoff {
	uint32_t base_ms;	/* timeout of the first attempt */
	uint32_t max_ms;	/* cap of the doubling */
	uint32_t jitter_pct;	/* +-percentage applied to each timeout (0..100) */
};

/* The timeout to wait after sending attempt @attempt (1 = the first send): base * 2^(n-1),
 * capped at max, then moved by up to +-jitter_pct using *@rng (xorshift64 state). */
uint32_t ep_backoff_ms(const struct ep_backoff *b, uint32_t attempt, uint64_t *rng);

/*
 * Token bucket: every new task deposits @ratio tokens, time deposits @per_s tokens a
 * second, the bucket holds at most @cap. A retry takes one token; with none, the retry
 * waits. So retries stay below ratio x tasks + per_s x seconds over any period.
 */
struct ep_retry_budget {
	double tokens, ratio, per_s, cap;
	uint64_t last_ns;
};

void ep_retry_budget_init(struct ep_retry_budget *b, double ratio, double per_s, double cap,
			  uint64_t now_ns);
void ep_retry_budget_deposit(struct ep_retry_budget *b);
/* Take a token for a retry at @now_ns. Returns whether the retry may go. */
bool ep_retry_budget_take(struct ep_retry_budget *b, uint64_t now_ns);

#endif /* EP_CLIENT_RETRY_H */
