// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the client's retry policy: the backoff schedule, the retry budget (in
 * datagrams, with each task's allowance), the path classifier (loss vs overload vs
 * silence) and the pacer, all with deterministic inputs. */
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
	EXPECT_EQ(ep_backoff_ms(&b, 1000000, &rng), 1000); /* no overflow far out */
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

/* Deposit @tasks new tasks into @bud, then try @tries retries at time 0: how many were
 * allowed. */
static int deposit_then_take(struct ep_retry_budget *bud, int tasks, int tries)
{
	int allowed = 0;

	for (int i = 0; i < tasks; i++)
		ep_retry_budget_deposit(bud, 1);
	for (int i = 0; i < tries; i++)
		allowed += ep_retry_budget_take(bud, 0);
	return allowed;
}

static void test_budget(void)
{
	struct ep_retry_budget bud;
	int allowed;

	tap_begin();
	ep_retry_budget_init(&bud, 0.2, 0, 100, 0);
	EXPECT_EQ(deposit_then_take(&bud, 0, 10), 10); /* the initial allowance */
	EXPECT(!ep_retry_budget_take(&bud, 0));
	/* 100 new tasks earn 20 retries at a ratio of 0.2; no more. */
	EXPECT_EQ(deposit_then_take(&bud, 100, 50), 20);
	tap_end("retries stay within ratio x tasks");

	tap_begin();
	ep_retry_budget_init(&bud, 0, 10, 100, 0);
	for (int i = 0; i < 10; i++)
		ep_retry_budget_take(&bud, 0);
	EXPECT(!ep_retry_budget_take(&bud, 0));
	EXPECT(!ep_retry_budget_take(&bud, S / 20)); /* half a token after 50 ms */
	EXPECT(ep_retry_budget_take(&bud, S / 10));  /* one after 100 ms */
	allowed = 0;
	for (uint64_t t = S / 10; t <= 10 * S + S / 10; t += S / 100) /* 10 s, tries each 10 ms */
		allowed += ep_retry_budget_take(&bud, t);
	EXPECT(allowed >= 99 && allowed <= 101); /* 10/s for 10 s */
	tap_end("with no tasks, retries are limited to per_s per second (%d in 10 s)", allowed);

	tap_begin();
	ep_retry_budget_init(&bud, 1, 0, 5, 0);
	EXPECT_EQ(deposit_then_take(&bud, 1000, 100), 5);
	tap_end("the bucket never holds more than its burst");

	tap_begin();
	ep_retry_budget_init(&bud, 0, 10, 100, 5 * S);
	for (int i = 0; i < 10; i++) /* spend the initial allowance at 5 s */
		ep_retry_budget_take(&bud, 5 * S);
	EXPECT(!ep_retry_budget_take(&bud, 4 * S)); /* the clock goes back: nothing earned */
	EXPECT(!ep_retry_budget_take(&bud, 5 * S)); /* and back to where it was: still not */
	EXPECT(ep_retry_budget_take(&bud, 5 * S + S / 10)); /* 100 ms later: one token */
	EXPECT(!ep_retry_budget_take(&bud, 5 * S + S / 10));
	tap_end("a non-monotonic clock does not mint tokens or crash");
}

#define MS 1000000ull

static void test_path(void)
{
	struct ep_path p;
	uint64_t t = 100 * S;

	tap_begin();
	ep_path_init(&p, t);
	EXPECT_EQ(ep_path_state(&p, t, 100), EP_PATH_OK);
	/* Idle for an hour: no tasks out, so no silence. */
	EXPECT_EQ(ep_path_state(&p, t + 3600 * S, 100), EP_PATH_OK);
	ep_path_outstanding(&p, t + 3600 * S, true);
	EXPECT_EQ(ep_path_state(&p, t + 3600 * S + 999 * MS, 100), EP_PATH_OK);
	/* max(3 x RTO, 1 s) with nothing from the edge: silent. */
	EXPECT_EQ(ep_path_state(&p, t + 3601 * S, 100), EP_PATH_SILENT);
	/* With an RTO of 500 ms, silence takes 1.5 s. */
	EXPECT_EQ(ep_path_state(&p, t + 3601 * S, 500), EP_PATH_OK);
	EXPECT_EQ(ep_path_state(&p, t + 3601 * S + 500 * MS, 500), EP_PATH_SILENT);
	EXPECT(ep_path_slow(EP_PATH_SILENT));
	tap_end("silence: nothing from the edge for max(3 x RTO, 1 s) while tasks are out");

	tap_begin();
	{
		struct ep_path q;

		/* "Answering" (which gives a task twice its attempts): something came within
		 * the same span; never before anything came. */
		ep_path_init(&q, t);
		EXPECT(!ep_path_answering(&q, t, 100));
		ep_path_rx(&q, t + S, 10);
		EXPECT(ep_path_answering(&q, t + S, 100));
		EXPECT(ep_path_answering(&q, t + 2 * S - 1, 100));
		EXPECT(!ep_path_answering(&q, t + 2 * S, 100));
		EXPECT(ep_path_answering(&q, t + 2 * S, 500)); /* 1.5 s with an RTO of 500 ms */
	}
	tap_end("the edge is answering while something came within max(3 x RTO, 1 s)");

	tap_begin();
	t += 3602 * S;
	ep_path_rx(&p, t, 30);
	EXPECT_EQ(ep_path_state(&p, t, 100), EP_PATH_OK);
	/* Timers expire, but the edge keeps answering: random loss, not a reason to slow. */
	ep_path_loss(&p, t + 10 * MS);
	ep_path_rx(&p, t + 20 * MS, 30);
	EXPECT_EQ(ep_path_state(&p, t + 20 * MS, 100), EP_PATH_LOSSY);
	EXPECT(!ep_path_slow(EP_PATH_LOSSY));
	for (int i = 1; i <= 100; i++) { /* 5 % loss for 10 s: still only lossy */
		ep_path_rx(&p, t + (uint64_t)i * 100 * MS, 40);
		if (i % 20 == 0)
			ep_path_loss(&p, t + (uint64_t)i * 100 * MS);
		EXPECT_EQ(ep_path_state(&p, t + (uint64_t)i * 100 * MS, 100), EP_PATH_LOSSY);
	}
	/* 10 s without a loss: OK again. */
	ep_path_rx(&p, t + 21 * S, 40);
	EXPECT_EQ(ep_path_state(&p, t + 21 * S, 100), EP_PATH_OK);
	tap_end("loss with the edge answering is LOSSY, which does not slow; it ends 10 s after "
		"the last loss");

	tap_begin();
	t += 30 * S;
	ep_path_rx(&p, t, 50);
	ep_path_overloaded(&p, t);
	EXPECT_EQ(ep_path_state(&p, t, 100), EP_PATH_OVERLOADED);
	ep_path_loss(&p, t);
	EXPECT_EQ(ep_path_state(&p, t + 999 * MS, 100), EP_PATH_OVERLOADED);
	ep_path_rx(&p, t + 999 * MS, 50);
	EXPECT_EQ(ep_path_state(&p, t + 1000 * MS, 100), EP_PATH_LOSSY);
	/* A load of 95 % or more counts as overload; 94 % does not. */
	ep_path_rx(&p, t + 2 * S, 94);
	EXPECT_EQ(ep_path_state(&p, t + 2 * S, 100), EP_PATH_LOSSY);
	ep_path_rx(&p, t + 3 * S, 97);
	EXPECT_EQ(ep_path_state(&p, t + 3 * S, 100), EP_PATH_OVERLOADED);
	/* Silence wins over everything: the edge is gone. */
	EXPECT_EQ(ep_path_state(&p, t + 5 * S, 100), EP_PATH_SILENT);
	ep_path_outstanding(&p, t + 5 * S, false);
	EXPECT(ep_path_state(&p, t + 5 * S, 100) != EP_PATH_SILENT);
	tap_end("OVERLOADED (and load >= 95 %%) makes the path overloaded for max(3 x RTO, 1 s); "
		"silence comes first");
}

static void test_timeouts(void)
{
	struct ep_backoff b = { .base_ms = 100, .max_ms = 5000, .jitter_pct = 0 };
	static const uint32_t slow[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };
	uint64_t rng = 7;

	tap_begin();
	for (uint32_t a = 1; a <= 8; a++) {
		EXPECT_EQ(ep_retry_timeout_ms(&b, a, EP_PATH_OK, &rng), 100);
		EXPECT_EQ(ep_retry_timeout_ms(&b, a, EP_PATH_LOSSY, &rng), 100);
		EXPECT_EQ(ep_retry_timeout_ms(&b, a, EP_PATH_OVERLOADED, &rng), slow[a - 1]);
		EXPECT_EQ(ep_retry_timeout_ms(&b, a, EP_PATH_SILENT, &rng), slow[a - 1]);
	}
	b.base_ms = 6000; /* a base above the cap: the cap */
	EXPECT_EQ(ep_retry_timeout_ms(&b, 3, EP_PATH_LOSSY, &rng), 5000);
	tap_end("the timeout doubles only when overloaded or silent; otherwise it stays at base");
}

static void test_budget_frags(void)
{
	struct ep_retry_budget bud;
	double big, small;
	int allowed = 0, small_ok = 0;

	tap_begin();
	ep_retry_budget_init(&bud, 0.2, 0, 100, 0);
	EXPECT_EQ(ep_retry_allowance(&bud, 1), 1);
	EXPECT_EQ(ep_retry_allowance(&bud, 190), 38);
	EXPECT_EQ(ep_retry_allowance(&bud, 10), 2);
	EXPECT_EQ(ep_retry_allowance(&bud, 11), 3);	 /* ceil(2.2) */
	ep_retry_budget_take_n(&bud, NULL, 10, 0, true); /* spend the start */
	/* A 190-fragment frame deposits 38 datagrams, not 0.2 of a task. */
	ep_retry_budget_deposit(&bud, 190);
	EXPECT(ep_retry_budget_take_n(&bud, NULL, 38, 0, true));
	EXPECT(!ep_retry_budget_take_n(&bud, NULL, 1, 0, true));
	tap_end("the budget counts datagrams: a task deposits ratio x its fragments");

	tap_begin();
	/* Overload: large frames spend the shared bucket; a one-datagram task still has its
	 * own allowance. */
	ep_retry_budget_init(&bud, 0.2, 0, 1000, 0);
	ep_retry_budget_take_n(&bud, NULL, 10, 0, true);
	for (int i = 0; i < 10; i++) {
		big = ep_retry_allowance(&bud, 190);
		ep_retry_budget_deposit(&bud, 190);
		while (ep_retry_budget_take_n(&bud, &big, 190, 0, true))
			allowed++;
		while (ep_retry_budget_take_n(&bud, &big, 1, 0, true)) /* repairs */
			;
	}
	EXPECT(bud.tokens < 1); /* the frames spent the bucket */
	small = ep_retry_allowance(&bud, 1);
	ep_retry_budget_deposit(&bud, 1);
	small_ok = ep_retry_budget_take_n(&bud, &small, 1, 0, true);
	EXPECT(small_ok);
	EXPECT(!ep_retry_budget_take_n(&bud, &small, 1, 0, true)); /* but only that */
	EXPECT(allowed <= 10 * 2); /* 10 x (38 own + 38 shared) / 190 */
	tap_end("a one-datagram task is never starved by 190-fragment frames (%d frame resends "
		"went)",
		allowed);

	tap_begin();
	/* Random loss: never throttled; the bucket only goes to 0, not below. */
	ep_retry_budget_init(&bud, 0.2, 0, 100, 0);
	big = ep_retry_allowance(&bud, 190);
	for (int i = 0; i < 100; i++)
		EXPECT(ep_retry_budget_take_n(&bud, &big, 190, 0, false));
	EXPECT(bud.tokens >= 0);
	EXPECT(!ep_retry_budget_take_n(&bud, NULL, 1, 0, true));
	tap_end("without throttling retries always go, and leave the bucket at 0");

	tap_begin();
	ep_retry_budget_init(&bud, 0.2, 0, 100, 0);
	small = 1;
	bud.tokens = 0.5;
	/* 3 datagrams: 1 from the allowance, 2 the bucket lacks: nothing is taken. */
	EXPECT(!ep_retry_budget_take_n(&bud, &small, 3, 0, true));
	EXPECT_EQ(small, 1);
	EXPECT(bud.tokens == 0.5);
	tap_end("a retry that cannot be paid takes nothing");
}

static void test_pacer(void)
{
	struct ep_pacer p;
	int sent = 0;

	tap_begin();
	ep_pacer_init(&p, 8e6, 32 * 1000, false, 0); /* 1 MB/s, a burst of 32 kB */
	while (ep_pacer_take(&p, 1000, 0))
		sent++;
	EXPECT_EQ(sent, 32);
	EXPECT_EQ(ep_pacer_when(&p, 1000, 0), 1 * MS + 1);
	EXPECT(!ep_pacer_take(&p, 1000, MS / 2));
	EXPECT(ep_pacer_take(&p, 1000, MS + 1));
	/* 1 s at 1 MB/s: 1000 datagrams of 1000 bytes, not more. */
	sent = 0;
	for (uint64_t t = 2 * MS; t <= 1002 * MS; t += MS / 10)
		while (ep_pacer_take(&p, 1000, t))
			sent++;
	EXPECT(sent >= 999 && sent <= 1001);
	tap_end("the pacer sends a burst, then its rate (%d datagrams in 1 s at 1 MB/s)", sent);

	tap_begin();
	/* 1 Gbit/s with wake-ups 1 ms apart: the bucket holds a millisecond of the rate (125 kB,
	 * more than the 45 kB burst), so a poll loop is not held to 32 fragments a tick. */
	ep_pacer_init(&p, 1e9, 32 * 1400, false, 0);
	sent = 0;
	for (uint64_t t = MS; t <= 100 * MS; t += MS)
		while (ep_pacer_take(&p, 1400, t))
			sent++;
	EXPECT(sent >= 8900 && sent <= 8960); /* 12.5 MB in 100 ms, less the first tick */
	tap_end("at 1 Gbit/s a 1 ms poll loop gets the rate, not the burst per tick (%d in 100 ms)",
		sent);

	tap_begin();
	ep_pacer_init(&p, EP_PACE_START_BPS, 32 * 1400, false, 0);
	/* The application sends 1 MB/s: windows without backlog do not lower the rate. */
	for (uint64_t t = 0; t <= S; t += 10 * MS)
		ep_pacer_delivered(&p, 10000, false, t);
	EXPECT(p.rate_bps == EP_PACE_START_BPS);
	/* Bursts: held back a tenth of the time (a frame every 100 ms going out in 10 ms),
	 * 1 MB/s delivered: the application's rate, not the path's. Not lowered. */
	for (uint64_t t = S; t <= 2 * S; t += 10 * MS)
		ep_pacer_delivered(&p, 10000, t % (100 * MS) == 0, t);
	EXPECT(p.rate_bps == EP_PACE_START_BPS);
	/* Backlogged, and the path delivers 5 MB/s: 2 x 40 Mbit/s. */
	for (uint64_t t = 2 * S; t <= 3 * S; t += 10 * MS)
		ep_pacer_delivered(&p, 50000, true, t);
	EXPECT(p.rate_bps > 75e6 && p.rate_bps < 85e6);
	/* Never below 10 Mbit/s, never above 10 Gbit/s. */
	for (uint64_t t = 3 * S; t <= 4 * S; t += 10 * MS)
		ep_pacer_delivered(&p, 10, true, t);
	EXPECT(p.rate_bps == EP_PACE_MIN_BPS);
	for (uint64_t t = 4 * S; t <= 5 * S; t += 10 * MS)
		ep_pacer_delivered(&p, 100000000, true, t);
	EXPECT(p.rate_bps == EP_PACE_MAX_BPS);
	ep_pacer_halve(&p);
	EXPECT(p.rate_bps == EP_PACE_MAX_BPS / 2);
	for (int i = 0; i < 20; i++)
		ep_pacer_halve(&p);
	EXPECT(p.rate_bps == EP_PACE_MIN_BPS);
	ep_pacer_init(&p, 100e6, 32 * 1400, true, 0);
	for (uint64_t t = 0; t <= S; t += 10 * MS)
		ep_pacer_delivered(&p, 1, true, t);
	ep_pacer_halve(&p);
	EXPECT(p.rate_bps == 100e6);
	tap_end("the rate follows 2 x the delivery rate when the pacer limits, within 10 Mbit/s "
		"and 10 Gbit/s; halving; a fixed rate stays");
}

int main(void)
{
	test_schedule();
	test_budget();
	test_path();
	test_timeouts();
	test_budget_frags();
	test_pacer();
	return tap_finish();
}
