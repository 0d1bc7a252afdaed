// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the client's retry policy: the backoff schedule and the retry budget. */
#include "retry.h"
#include "../lib/tap.h"

#define S 1000000000ull

static void test_schedule(void)
{
	struct ep_backoff b = { .base_ms = 100, .max_ms = 1000, .jitter_pct = 0 };
	static const uint32_t want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	uint64_t rng = 1;

	tap_begin();
	for (uint32_t a = 1; a <= 7; a++)
		EXPECT_EQ(ep_backoff_ms(&b, a, &rng), want[a - 1]);
	EXPECT_EQ(ep_backoff_ms(&b, 1000000, &rng), 1000);	/* no overflow far out */
	tap_end("backoff doubles from the base and stops at the cap");

	tap_begin();
	b.jitter_pct = 25;
	for (uint32_t a = 1; a <= 7; a++) {
		uint32_t lo = UINT32_MAX, hi = 0;

		for (int i = 0; i < 2000; i++) {
			uint32_t t = ep_backoff_ms(&b, a, &rng);

			lo = t < lo ? t : lo;
			hi = t > hi ? t : hi;
		}
		/* Within +-25 %, and actually spread over most of that range. */
		EXPECT(lo >= want[a - 1] * 3 / 4 && hi <= want[a - 1] * 5 / 4);
		EXPECT(hi - lo >= want[a - 1] * 4 / 10);
	}
	tap_end("jitter stays within +-25 %% and spreads over it");

	tap_begin();
	{
		uint64_t r1 = 42, r2 = 42;

		for (uint32_t a = 1; a <= 5; a++)
			EXPECT_EQ(ep_backoff_ms(&b, a, &r1), ep_backoff_ms(&b, a, &r2));
	}
	tap_end("the same seed gives the same schedule");
}

static void test_budget(void)
{
	struct ep_retry_budget bud;
	int allowed = 0;

	tap_begin();
	ep_retry_budget_init(&bud, 0.2, 0, 100, 0);
	for (int i = 0; i < 10; i++)	/* the initial allowance */
		allowed += ep_retry_budget_take(&bud, 0);
	EXPECT_EQ(allowed, 10);
	EXPECT(!ep_retry_budget_take(&bud, 0));
	/* 100 new tasks earn 20 retries at a ratio of 0.2; no more. */
	for (int i = 0; i < 100; i++)
		ep_retry_budget_deposit(&bud);
	allowed = 0;
	for (int i = 0; i < 50; i++)
		allowed += ep_retry_budget_take(&bud, 0);
	EXPECT_EQ(allowed, 20);
	tap_end("retries stay within ratio x tasks");

	tap_begin();
	ep_retry_budget_init(&bud, 0, 10, 100, 0);
	for (int i = 0; i < 10; i++)
		ep_retry_budget_take(&bud, 0);
	EXPECT(!ep_retry_budget_take(&bud, 0));
	EXPECT(!ep_retry_budget_take(&bud, S / 20));	/* half a token after 50 ms */
	EXPECT(ep_retry_budget_take(&bud, S / 10));	/* one after 100 ms */
	allowed = 0;
	for (uint64_t t = S / 10; t <= 10 * S + S / 10; t += S / 100)	/* 10 s, tries each 10 ms */
		allowed += ep_retry_budget_take(&bud, t);
	EXPECT(allowed >= 99 && allowed <= 101);	/* 10/s for 10 s */
	tap_end("with no tasks, retries are limited to per_s per second (%d in 10 s)", allowed);

	tap_begin();
	ep_retry_budget_init(&bud, 1, 0, 5, 0);
	for (int i = 0; i < 1000; i++)
		ep_retry_budget_deposit(&bud);
	allowed = 0;
	for (int i = 0; i < 100; i++)
		allowed += ep_retry_budget_take(&bud, 0);
	EXPECT_EQ(allowed, 5);
	tap_end("the bucket never holds more than its burst");

	tap_begin();
	ep_retry_budget_init(&bud, 0, 10, 100, 5 * S);
	for (int i = 0; i < 10; i++)	/* spend the initial allowance at 5 s */
		ep_retry_budget_take(&bud, 5 * S);
	EXPECT(!ep_retry_budget_take(&bud, 4 * S));	/* the clock goes back: nothing earned */
	EXPECT(!ep_retry_budget_take(&bud, 5 * S));	/* and back to where it was: still not */
	EXPECT(ep_retry_budget_take(&bud, 5 * S + S / 10));	/* 100 ms later: one token */
	EXPECT(!ep_retry_budget_take(&bud, 5 * S + S / 10));
	tap_end("a non-monotonic clock does not mint tokens or crash");
}

int main(void)
{
	test_schedule();
	test_budget();
	return tap_finish();
}
