/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * batch.h - queues of tasks by handler and priority, released in batches.
 *
 * A queue is ready when it holds a full batch or its oldest task has waited max_wait.
 * ep_batch_next() picks from the highest priority that has a ready queue, and among
 * those the queue whose head waited longest; higher priorities always run first. With
 * max_wait 0 every non-empty queue is ready, so a batch is whatever arrived together.
 */
#ifndef EP_BATCH_H
#define EP_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/task.h"

struct ep_batch;

/* @nhandlers queues per priority; @max_batch[h] caps handler h's batches (0 = no cap). */
struct ep_batch *ep_batch_new(unsigned int nhandlers, const uint16_t *max_batch,
			      uint32_t batch_size, uint64_t max_wait_ns);
void ep_batch_free(struct ep_batch *b);

void ep_batch_push(struct ep_batch *b, struct ep_task *t, uint64_t now_ns);
/* Put tasks taken by ep_batch_next() back at the front of their queue, in order. */
void ep_batch_unget(struct ep_batch *b, struct ep_task **t, unsigned int n);
/* Take the next batch (up to @max tasks, one handler, one priority) into @out. With
 * @drain, every non-empty queue is ready. Returns how many; 0 if nothing is ready. */
unsigned int ep_batch_next(struct ep_batch *b, uint64_t now_ns, bool drain, struct ep_task **out,
			   unsigned int max);
/* Remove and return the newest task of the lowest non-empty priority below @prio, to
 * make room for a task of priority @prio; NULL if there is none. */
struct ep_task *ep_batch_shed(struct ep_batch *b, uint8_t prio);
/* When the next queue becomes ready (UINT64_MAX if all are empty; <= now if one is). */
uint64_t ep_batch_next_ready(const struct ep_batch *b);
uint32_t ep_batch_count(const struct ep_batch *b);

#endif /* EP_BATCH_H */
