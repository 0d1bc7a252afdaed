// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-loss - exactly-once over a lossy link, through libedgeplane.so (this program
 * uses only the installed API: edgeplane/client.h). tests/integration/test_client_loss.sh
 * makes the link drop and duplicate packets both ways and runs the edge with the count
 * plugin, which answers each task with how many tasks it has run and the CRC-32 of the
 * payload it got.
 *
 * Checks: every task's callback runs exactly once, with a result or a definite error;
 * results are intact and belong to their task; and the edge ran no task twice.
 *
 * --echo uses the plugin's count_echo handler instead, whose result carries the payload
 * back (multi-fragment results, every byte checked); payloads are random, so nothing
 * compresses. --strict (test_lossy.sh) asks every task to complete: no timeout allowed.
 * The last line before the plan, "# stats ...", gives the session's datagram counts for
 * the caller's per-task arithmetic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "edgeplane/client.h"
#include "../lib/tap.h"
#include "../tools/opts.h"
#include "../tools/session.h"

#define COUNT_TYPE 900
#define ECHO_TYPE  901

struct task {
	uint8_t *payload;
	unsigned int callbacks;
	int error;
	uint64_t run; /* the edge's run number for it */
	const char *why;
	bool intact;
};

static struct task *tasks;
static unsigned int ntasks, next_task, outstanding, size = 64;
static bool echo, strict;
static struct ep_client *cli;
static struct task probe; /* a 1-byte task that tells the edge's run count */
static uint8_t probe_byte;

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void done(void *arg, struct ep_result *r)
{
	struct task *t = arg;

	t->callbacks++;
	t->error = r->error;
	t->why = ep_result_strerror(r);
	unsigned int len = t == &probe ? 1 : size;

	if (!r->error && r->len == 12 + (echo ? len : 0)) {
		uint32_t crc = (uint32_t)r->data[8] << 24 | r->data[9] << 16 | r->data[10] << 8 |
			       r->data[11];

		t->run = be64(r->data);
		t->intact = crc == (uint32_t)crc32(0, t->payload, len) &&
			    (!echo || !memcmp(r->data + 12, t->payload, len));
	}
	ep_result_free(r);
	outstanding--;
}

static int submit(struct task *t)
{
	struct ep_task_opts o = { .type = echo ? ECHO_TYPE : COUNT_TYPE };
	int err = ep_client_submit(cli, &o, t->payload, t == &probe ? 1 : size, done, t, NULL);

	if (!err)
		outstanding++;
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-loss --to ADDR --count N [--concurrency C] [--size B] [--echo] "
		   "[--strict] [--timeout-ms N] [--attempts N]\n"
		   "  --timeout-ms 0: the library's adaptive first timeout\n");
}

int main(int argc, char **argv)
{
	struct ep_client_opts co = { .timeout_ms = 40,
				     .max_timeout_ms = 400,
				     .max_attempts = 12,
				     .retry_ratio = 1.0,
				     .retry_per_s = 50,
				     .retry_burst = 200,
				     .zstd_level = 0,
				     .cork = true };
	unsigned int conc = 32, ok = 0, timeouts = 0, other = 0, multi = 0, never = 0, bad = 0;
	const char *to = NULL;
	struct ep_client_stats st;
	uint64_t *runs, dup_runs = 0, base;
	const struct tool_opt opts[] = {
		OPT_STR("to", to),
		OPT_NUM("count", ntasks, 1, 100000),
		OPT_NUM("concurrency", conc, 1, 65536),
		OPT_NUM("size", size, 1, 1 << 20),
		OPT_FLAG("echo", echo),
		OPT_FLAG("strict", strict),
		OPT_NUM("timeout-ms", co.timeout_ms, 0, 600000),
		OPT_NUM("attempts", co.max_attempts, 1, 1000),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc || !to || !ntasks) {
		usage(stderr);
		return 2;
	}
	co.max_inflight = conc + 1;
	cli = tool_session(&co, to);
	tasks = calloc(ntasks, sizeof(*tasks));
	runs = calloc(ntasks, sizeof(*runs));
	for (unsigned int i = 0; i < ntasks; i++) {
		uint32_t x = 2654435761u * (i + 1); /* xorshift32: incompressible, per task */

		tasks[i].payload = malloc(size);
		for (unsigned int k = 0; k < size; k++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			tasks[i].payload[k] = (uint8_t)x;
		}
	}
	probe.payload = &probe_byte;

	/* The run counter of a probe before and after tells how many tasks the edge ran. */
	submit(&probe);
	ep_client_flush(cli);
	while (outstanding)
		ep_client_poll(cli, 50);
	base = probe.run;
	if (probe.error) {
		printf("Bail out! the first probe failed: %d\n", probe.error);
		exit(1); /* bailing out: the process ends, with what it allocated */
	}
	probe = (struct task){ .payload = &probe_byte };

	/* Closed loop: keep conc tasks outstanding until every task has been sent. */
	while (next_task < ntasks || outstanding) {
		while (next_task < ntasks && outstanding < conc && !submit(&tasks[next_task]))
			next_task++;
		ep_client_flush(cli);
		ep_client_poll(cli, 50);
	}

	for (unsigned int i = 0; i < ntasks; i++) {
		const struct task *t = &tasks[i];

		multi += t->callbacks > 1;
		never += t->callbacks == 0;
		if (t->callbacks != 1)
			continue;
		if (!t->error) {
			runs[ok++] = t->run;
			bad += !t->intact;
		} else if (t->error == -ETIMEDOUT) {
			timeouts++;
		} else {
			if (other++ < 3)
				tap_diag("task %u: %s (error %d)", i, t->why, t->error);
		}
	}
	qsort(runs, ok, sizeof(*runs), cmp_u64);
	for (unsigned int i = 1; i < ok; i++)
		dup_runs += runs[i] == runs[i - 1];
	ep_client_get_stats(cli, &st);

	tap_begin();
	EXPECT_EQ(multi, 0);
	EXPECT_EQ(never, 0);
	tap_end("%u tasks of %u bytes over a lossy link: every callback ran exactly once", ntasks,
		size);
	tap_begin();
	EXPECT_EQ(other, 0);
	EXPECT_EQ(ok + timeouts, ntasks);
	tap_end("each task ended with its result (%u) or a definite timeout (%u)", ok, timeouts);
	tap_begin();
	if (strict) {
		EXPECT_EQ(ok, ntasks);
	} else {
		EXPECT(st.retries > 0);
		EXPECT(ok >= ntasks * 99 / 100);
	}
	tap_end("the losses were real and retries recovered them (%llu retries, %u of %u done)",
		(unsigned long long)st.retries, ok, ntasks);
	tap_diag("stats tasks=%u size=%u completed=%u timeouts=%u dgrams_sent=%llu "
		 "dgrams_received=%llu retries=%llu retries_throttled=%llu",
		 ntasks, size, ok, timeouts, (unsigned long long)st.dgrams_sent,
		 (unsigned long long)st.dgrams_received, (unsigned long long)st.retries,
		 (unsigned long long)st.retries_throttled);
	tap_begin();
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(dup_runs, 0);
	tap_end("every result is intact and is its own task's (no two share a run)");

	submit(&probe);
	ep_client_flush(cli);
	while (outstanding)
		ep_client_poll(cli, 50);
	tap_begin();
	EXPECT_EQ(probe.error, 0);
	probe.run -= base;
	EXPECT(probe.run >= (uint64_t)ok + 1 && probe.run <= (uint64_t)ntasks + 1);
	if (ok == ntasks)
		EXPECT_EQ(probe.run, (uint64_t)ntasks + 1);
	tap_end("the edge ran no task twice: %llu runs for %u tasks (+1 probe)",
		(unsigned long long)probe.run, ntasks);

	ep_client_close(cli);
	for (unsigned int i = 0; i < ntasks; i++)
		free(tasks[i].payload);
	free(tasks);
	free(runs);
	return tap_finish();
}
