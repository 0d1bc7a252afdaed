/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sleeper.h - a thread of the runtime that works in rounds and sleeps between them until
 * it is asked to stop: the classifier's address refresher (runtime.c), the load reporter
 * (report.c) and the key source (keysrc.c). One place for its lock, its condition on
 * ep_now_ns()'s clock (CLOCK_MONOTONIC) and its stop. Inline: the fuzz targets build
 * report.c alone.
 */
#ifndef EP_SLEEPER_H
#define EP_SLEEPER_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ep_sleeper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop, running;
};

/* Start @fn(@arg) on a thread of its own, which sleeps with ep_sleeper_until(@s). @s is
 * zeroed or stopped. Returns 0 or a negative errno (then nothing is left to release). */
static inline int ep_sleeper_start(struct ep_sleeper *s, void *(*fn)(void *), void *arg)
{
	pthread_condattr_t ca;
	int err;

	s->stop = false;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* ep_now_ns()'s clock */
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->lock, NULL);
	err = -pthread_create(&s->thread, NULL, fn, arg);
	if (err) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		return err;
	}
	s->running = true;
	return 0;
}

/* Sleep until @at_ns (ep_now_ns()'s clock) or until asked to stop. Returns false once
 * asked to stop: the thread should return then. */
static inline bool ep_sleeper_until(struct ep_sleeper *s, uint64_t at_ns)
{
	struct timespec until = {
		.tv_sec = (time_t)(at_ns / 1000000000ull),
		.tv_nsec = (long)(at_ns % 1000000000ull),
	};
	bool go_on;

	pthread_mutex_lock(&s->lock);
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
		;
	go_on = !s->stop;
	pthread_mutex_unlock(&s->lock);
	return go_on;
}

/* Ask the thread to stop, wait for it and release @s; nothing if it did not start. */
static inline void ep_sleeper_stop(struct ep_sleeper *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	s->running = false;
}

#endif /* EP_SLEEPER_H */
