// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the load reporter's event reports (dataplane/daemon/report.c): when a node
 * reports between its periodic reports because its queue moved sharply, and how often at
 * most. The whole path (a worker's burst reaching the gateway's map) is in
 * tests/integration/test_lb.sh.
 */
#include <stdbool.h>
#include <stdint.h>

#include "daemon/report.h"
#include "../lib/tap.h"

#define MS 1000000ull

struct due_case {
	const char *name;
	uint32_t last_inflight;
	uint64_t since_ms;	/* since the last report */
	uint32_t inflight, event_tasks;
	bool want;
};

static const struct due_case cases[] = {
	{ "no change", 3, 50, 3, 2, false },
	{ "one more in flight: below the threshold", 0, 50, 1, 2, false },
	{ "a burst: two more in flight", 0, 50, 2, 2, true },
	{ "a burst of four (one running, three in the RX ring)", 1, 10, 5, 2, true },
	{ "drained: two fewer in flight", 4, 50, 2, 2, true },
	{ "drained to zero", 5, 50, 0, 2, true },
	{ "one fewer: below the threshold", 4, 50, 3, 2, false },
	{ "a burst within the minimum gap waits", 0, EP_REPORT_MIN_GAP_MS - 1, 10, 2, false },
	{ "a burst at the minimum gap goes", 0, EP_REPORT_MIN_GAP_MS, 10, 2, true },
	{ "event_tasks 0: never", 0, 50, 100, 0, false },
	{ "event_tasks 1: any change", 7, 50, 6, 1, true },
	{ "a large threshold", 0, 50, 9, 10, false },
	{ "no overflow at the top", UINT32_MAX, 50, 0, 2, true },
};

static void test_due(void)
{
	const uint64_t t0 = 1000 * MS;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct due_case *c = &cases[i];

		tap_begin();
		EXPECT_EQ(ep_report_event_due(c->last_inflight, t0, c->inflight,
					      t0 + c->since_ms * MS, c->event_tasks), c->want);
		tap_end("event report: %s (%u -> %u in flight after %llu ms, threshold %u): %s",
			c->name, c->last_inflight, c->inflight, (unsigned long long)c->since_ms,
			c->event_tasks, c->want ? "sent" : "not sent");
	}
}

/* A queue that swings every ms sends at most one report per EP_REPORT_MIN_GAP_MS. */
static void test_rate(void)
{
	uint64_t last_ns = 0, now;
	uint32_t last = 0, sent = 0;

	tap_begin();
	for (uint32_t ms = 1; ms <= 1000; ms++) {
		uint32_t inflight = ms % 2 ? 10 : 0;

		now = ms * MS;
		if (ep_report_event_due(last, last_ns, inflight, now, 2)) {
			EXPECT(now - last_ns >= EP_REPORT_MIN_GAP_MS * MS);
			last = inflight;
			last_ns = now;
			sent++;
		}
	}
	EXPECT(sent <= 1000 / EP_REPORT_MIN_GAP_MS);
	EXPECT(sent >= 1000 / EP_REPORT_MIN_GAP_MS / 2);
	tap_end("event reports: a queue swinging every ms sends %u in a second (at most %u)",
		sent, 1000 / EP_REPORT_MIN_GAP_MS);
}

int main(void)
{
	test_due();
	test_rate();
	return tap_finish();
}
