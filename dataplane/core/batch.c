// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Task queues per (priority, handler): intrusive singly-linked FIFOs. A task's rx_ns is
 * when it was accepted and queued, so a queue's head tells how long the queue has waited. */
#include <stdlib.h>

#include "core/batch.h"

#define NPRIO (EP_PRIO_MAX + 1)

struct queue {
	struct ep_task *head, *tail;
	uint32_t count;
	uint32_t limit; /* its batches' size: batch_size, or its handler's max_batch if lower */
};

/* One allocation: the queues follow the header. */
struct ep_batch {
	unsigned int nh;
	uint32_t total;
	uint64_t max_wait_ns;
	struct queue q[]; /* [prio * nh + handler] */
};

static struct queue *queue_of(struct ep_batch *b, unsigned int prio, unsigned int h)
{
	return &b->q[prio * b->nh + h];
}

struct ep_batch *ep_batch_new(unsigned int nhandlers, const uint16_t *max_batch,
			      uint32_t batch_size, uint64_t max_wait_ns)
{
	unsigned int nh = nhandlers ? nhandlers : 1;
	struct ep_batch *b = calloc(1, sizeof(*b) + (size_t)NPRIO * nh * sizeof(b->q[0]));

	if (!b)
		return NULL;
	b->nh = nh;
	b->max_wait_ns = max_wait_ns;
	if (!batch_size)
		batch_size = 1;
	for (unsigned int h = 0; h < nh; h++) {
		uint16_t m = h < nhandlers && max_batch ? max_batch[h] : 0;
		uint32_t lim = m && m < batch_size ? m : batch_size;

		for (unsigned int prio = 0; prio < NPRIO; prio++)
			queue_of(b, prio, h)->limit = lim;
	}
	return b;
}

void ep_batch_free(struct ep_batch *b)
{
	free(b);
}

void ep_batch_push(struct ep_batch *b, struct ep_task *t, uint64_t now_ns)
{
	struct queue *q = queue_of(b, t->msg.priority, t->hidx);

	t->rx_ns = now_ns;
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->count++;
	b->total++;
}

void ep_batch_unget(struct ep_batch *b, struct ep_task **t, unsigned int n)
{
	while (n--) {
		struct queue *q = queue_of(b, t[n]->msg.priority, t[n]->hidx);

		t[n]->next = q->head;
		q->head = t[n];
		if (!q->tail)
			q->tail = t[n];
		q->count++;
		b->total++;
	}
}

static bool ready(const struct ep_batch *b, const struct queue *q, uint64_t now_ns, bool drain)
{
	if (!q->count)
		return false;
	return drain || q->count >= q->limit || now_ns - q->head->rx_ns >= b->max_wait_ns;
}

unsigned int ep_batch_next(struct ep_batch *b, uint64_t now_ns, bool drain, struct ep_task **out,
			   unsigned int max)
{
	if (!b->total)
		return 0;
	for (int prio = EP_PRIO_MAX; prio >= EP_PRIO_MIN; prio--) {
		struct queue *best = NULL;
		unsigned int n = 0;

		for (unsigned int h = 0; h < b->nh; h++) {
			struct queue *q = queue_of(b, (unsigned int)prio, h);

			if (ready(b, q, now_ns, drain) &&
			    (!best || q->head->rx_ns < best->head->rx_ns))
				best = q;
		}
		if (!best)
			continue;
		if (max > best->limit)
			max = best->limit;
		while (n < max && best->head) {
			out[n++] = best->head;
			best->head = best->head->next;
		}
		if (!best->head)
			best->tail = NULL;
		best->count -= n;
		b->total -= n;
		return n;
	}
	return 0;
}

struct ep_task *ep_batch_shed(struct ep_batch *b, uint8_t prio)
{
	for (unsigned int p = EP_PRIO_MIN; p < prio; p++) {
		for (unsigned int h = 0; h < b->nh; h++) {
			struct queue *q = queue_of(b, p, h);
			struct ep_task *t, *prev = NULL;

			if (!q->count)
				continue;
			/* The newest (tail): the one that has waited least. */
			for (t = q->head; t->next; t = t->next)
				prev = t;
			if (prev)
				prev->next = NULL;
			else
				q->head = NULL;
			q->tail = prev;
			q->count--;
			b->total--;
			return t;
		}
	}
	return NULL;
}

uint64_t ep_batch_next_ready(const struct ep_batch *b)
{
	uint64_t when = UINT64_MAX;

	if (!b->total)
		return when;
	for (unsigned int i = 0; i < NPRIO * b->nh; i++) {
		const struct queue *q = &b->q[i];

		if (!q->count)
			continue;
		if (q->count >= q->limit)
			return 0;
		if (q->head->rx_ns + b->max_wait_ns < when)
			when = q->head->rx_ns + b->max_wait_ns;
	}
	return when;
}

uint32_t ep_batch_count(const struct ep_batch *b)
{
	return b->total;
}
