// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the load reporter's event reports (dataplane/daemon/report.h,
 * ep_queue_moved() in bpf/ep_shared.h): when a node reports between its periodic reports
 * because its queue formed, doubled or halved, and how often at most. The whole path (a worker's
 * burst reaching the gateway's map) is in tests/integration/test_lb.sh.
 */
#include <stdbool.h>
#include <stdint.h>

#include "daemon/report.h"
#include "../lib/tap.h"

#define MS 1000000ull

struct due_case {
	const char *name;
	uint32_t last;	   /* the significant queue at the last report */
	uint64_t since_ms; /* since the last report */
	uint32_t now;
	bool want;
};

/* The significant queue (ep_queue_significant()), the tasks waiting as event reports and
 * the gateway count them. */
struct sig_case {
	const char *name;
	uint32_t queued, rate;
	uint32_t want;
};

static const struct sig_case sigs[] = {
	{ "none waiting", 0, 0, 0 },
	{ "one waiting is noise", 1, 0, 0 },
	{ "two waiting at a stalled node", 2, 0, 2 },
	{ "three behind 20 ms tasks (50/s)", 3, 50, 3 },
	{ "two at 200/s: 10 ms of work", 2, 200, 2 },
	{ "two at 400/s: 5 ms of work, gone before a report could say so", 2, 400, 0 },
	{ "twenty at 30 000/s: under a ms of work", 20, 30000, 0 },
	{ "two hundred at 30 000/s: nearly 7 ms", 200, 30000, 200 },
	{ "no overflow: a huge queue stays", UINT32_MAX, UINT32_MAX, UINT32_MAX },
};

static void test_significant(void)
{
	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		const struct sig_case *c = &sigs[i];

		tap_begin();
		EXPECT_EQ(ep_queue_significant(c->queued, c->rate), c->want);
		tap_end("significant queue: %s (%u waiting, %u/s): %u", c->name, c->queued, c->rate,
			c->want);
	}
}

static const struct due_case cases[] = {
	{ "no change", 3, 50, 3, false },
	{ "a queue forms (two waiting)", 0, 50, 2, true },
	{ "a burst: three in the RX ring behind a long task", 0, 10, 3, true },
	{ "a queue doubles", 4, 50, 8, true },
	{ "a queue grows by less than double", 4, 50, 7, false },
	{ "a queue halves", 8, 50, 4, true },
	{ "a queue shrinks by less than half", 8, 50, 5, false },
	{ "a queue drains", 2, 50, 0, true },
	{ "a burst within the minimum gap waits", 0, EP_REPORT_MIN_GAP_MS - 1, 10, false },
	{ "a burst at the minimum gap goes", 0, EP_REPORT_MIN_GAP_MS, 10, true },
	{ "no overflow at the top", UINT32_MAX, 50, UINT32_MAX / 2, true },
	{ "no overflow at the top, rising", UINT32_MAX / 2, 50, UINT32_MAX, true },
};

static void test_due(void)
{
	const uint64_t t0 = 1000 * MS;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct due_case *c = &cases[i];

		tap_begin();
		EXPECT_EQ(ep_report_event_due(c->last, t0, c->now, t0 + c->since_ms * MS), c->want);
		tap_end("event report: %s (%u -> %u waiting after %llu ms): %s", c->name, c->last,
			c->now, (unsigned long long)c->since_ms, c->want ? "sent" : "not sent");
	}
}

/* A queue that swings every ms sends at most one report per EP_REPORT_MIN_GAP_MS, and
 * noise (0 and 1 waiting) none. */
static void test_rate(void)
{
	uint64_t last_ns = 0, now;
	uint32_t last = 0, sent = 0, noise = 0;

	tap_begin();
	for (uint32_t ms = 1; ms <= 1000; ms++) {
		uint32_t queued = ms % 2 ? 10 : 0;

		now = ms * MS;
		if (ep_report_event_due(last, last_ns, queued, now)) {
			EXPECT(now - last_ns >= EP_REPORT_MIN_GAP_MS * MS);
			last = queued;
			last_ns = now;
			sent++;
		}
		if (ep_report_event_due(ep_queue_significant(ms % 2, 0), 0,
					ep_queue_significant((ms + 1) % 2, 0), now) ||
		    ep_report_event_due(ep_queue_significant(ms % 20, 30000), 0,
					ep_queue_significant((ms + 7) % 20, 30000), now))
			noise++;
	}
	EXPECT(sent <= 1000 / EP_REPORT_MIN_GAP_MS);
	EXPECT(sent >= 1000 / EP_REPORT_MIN_GAP_MS / 2);
	EXPECT_EQ(noise, 0);
	tap_end("event reports: a queue swinging 0-10 every ms sends %u in a second (at most %u); "
		"one swinging 0-1, or 0-19 at 30 000/s, none",
		sent, 1000 / EP_REPORT_MIN_GAP_MS);
}

int main(void)
{
	test_significant();
	test_due();
	test_rate();
	return tap_finish();
}
