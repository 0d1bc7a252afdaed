// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-threads - one libedgeplane session shared by several threads: some run tasks
 * synchronously, others submit asynchronously and drive the session from their own
 * poll loops. Every result must come back to the thread that asked, intact, once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/client.h"
#include "edgeplane/payload.h"
#include "../lib/tap.h"

#define THREADS 4
#define TASKS	400

struct worker {
	int id;
	unsigned int ok, bad, callbacks;
	unsigned int outstanding;
	pthread_t thread;
};

static struct ep_client *cli;

struct ctx {
	struct worker *w;
	uint8_t payload[48];
};

static void fill(uint8_t *p, int thread, int i)
{
	for (int k = 0; k < 48; k++)
		p[k] = (uint8_t)(thread * 31 + i * 7 + k);
}

static void on_result(void *arg, struct ep_result *r)
{
	struct ctx *c = arg;

	/* Another thread's poll may deliver this: count with atomics. */
	__atomic_add_fetch(&c->w->callbacks, 1, __ATOMIC_RELAXED);
	if (!r->error && r->len == 48 && !memcmp(r->data, c->payload, 48))
		__atomic_add_fetch(&c->w->ok, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&c->w->bad, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&c->w->outstanding, 1, __ATOMIC_RELAXED);
	ep_result_free(r);
	free(c);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct ep_task_opts t = { .type = EP_TT_ECHO };

	for (int i = 0; i < TASKS; i++) {
		if (w->id % 2) { /* synchronous */
			struct ep_result r;
			uint8_t p[48];

			fill(p, w->id, i);
			__atomic_add_fetch(&w->callbacks, 1, __ATOMIC_RELAXED);
			if (!ep_client_run(cli, &t, p, 48, &r) && r.len == 48 &&
			    !memcmp(r.data, p, 48))
				__atomic_add_fetch(&w->ok, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&w->bad, 1, __ATOMIC_RELAXED);
			ep_result_free(&r);
		} else { /* asynchronous, up to 16 outstanding */
			struct ctx *c = malloc(sizeof(*c));

			c->w = w;
			fill(c->payload, w->id, i);
			__atomic_add_fetch(&w->outstanding, 1, __ATOMIC_RELAXED);
			while (ep_client_submit(cli, &t, c->payload, 48, on_result, c, NULL))
				ep_client_poll(cli, 10);
			ep_client_flush(cli);
			while (__atomic_load_n(&w->outstanding, __ATOMIC_RELAXED) >= 16)
				ep_client_poll(cli, 10);
		}
	}
	while (__atomic_load_n(&w->outstanding, __ATOMIC_RELAXED))
		ep_client_poll(cli, 10);
	return NULL;
}

int main(int argc, char **argv)
{
	struct ep_client_opts o = { .cork = true };
	struct worker w[THREADS] = { 0 };
	unsigned int ok = 0, bad = 0, calls = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: eptest-threads ADDR\n");
		return 2;
	}
	o.host = argv[1];
	if (ep_client_open(&o, &cli)) {
		printf("Bail out! no session\n");
		return 1;
	}
	for (int i = 0; i < THREADS; i++) {
		w[i].id = i;
		pthread_create(&w[i].thread, NULL, run, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i].thread, NULL);
	/* A thread's callbacks may have run on another thread: read them atomically. */
	for (int i = 0; i < THREADS; i++) {
		ok += __atomic_load_n(&w[i].ok, __ATOMIC_ACQUIRE);
		bad += __atomic_load_n(&w[i].bad, __ATOMIC_ACQUIRE);
		calls += __atomic_load_n(&w[i].callbacks, __ATOMIC_ACQUIRE);
	}
	tap_begin();
	EXPECT_EQ(ok, THREADS * TASKS);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(calls, THREADS * TASKS);
	EXPECT_EQ(ep_client_inflight(cli), 0);
	tap_end("%d threads share one session (sync and async): %u of %u results intact, once",
		THREADS, ok, THREADS * TASKS);
	ep_client_close(cli);
	return tap_finish();
}
