// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the batch queues: sizes, waits, priorities, handler caps, shedding. */
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "../lib/tap.h"

#define US 1000ull

static struct ep_task tasks[256];

static struct ep_task *task(int i, uint16_t h, uint8_t prio)
{
	memset(&tasks[i], 0, sizeof(tasks[i]));
	tasks[i].hidx = h;
	tasks[i].msg.priority = prio;
	tasks[i].msg.task_id = (uint64_t)i;
	return &tasks[i];
}

static void test_size_and_wait(void)
{
	struct ep_batch *b = ep_batch_new(2, NULL, 4, 100 * US);
	struct ep_task *out[16];

	tap_begin();
	for (int i = 0; i < 3; i++)
		ep_batch_push(b, task(i, 0, 3), 0);
	EXPECT_EQ(ep_batch_next(b, 50 * US, false, out, 16), 0); /* 3 < 4, waited 50 us */
	EXPECT_EQ(ep_batch_next_ready(b), 100 * US);
	EXPECT_EQ(ep_batch_next(b, 100 * US, false, out, 16), 3); /* waited enough */
	EXPECT(out[0] == &tasks[0] && out[2] == &tasks[2]);
	for (int i = 0; i < 9; i++)
		ep_batch_push(b, task(i, 1, 3), 200 * US);
	EXPECT_EQ(ep_batch_next_ready(b), 0);			  /* a full batch is ready now */
	EXPECT_EQ(ep_batch_next(b, 200 * US, false, out, 16), 4); /* batch size caps */
	EXPECT_EQ(ep_batch_next(b, 200 * US, false, out, 16), 4);
	EXPECT_EQ(ep_batch_next(b, 200 * US, false, out, 16), 0); /* 1 left, waits */
	EXPECT_EQ(ep_batch_next(b, 200 * US, true, out, 16), 1);  /* drain takes it */
	EXPECT_EQ(ep_batch_count(b), 0);
	EXPECT_EQ(ep_batch_next_ready(b), UINT64_MAX);
	tap_end("a batch runs when full or when its oldest task has waited max_wait, in order");
	ep_batch_free(b);
}

static void test_priority(void)
{
	uint16_t caps[3] = { 0, 2, 0 };
	struct ep_batch *b = ep_batch_new(3, caps, 8, 0);
	struct ep_task *out[16];

	tap_begin();
	ep_batch_push(b, task(0, 0, 1), 0);
	ep_batch_push(b, task(1, 2, 3), 1);
	ep_batch_push(b, task(2, 1, 5), 2);
	ep_batch_push(b, task(3, 1, 5), 3);
	ep_batch_push(b, task(4, 1, 5), 4);
	ep_batch_push(b, task(5, 0, 3), 5);
	EXPECT_EQ(ep_batch_next(b, 10, false, out, 16), 2); /* priority 5, capped at 2 */
	EXPECT(out[0] == &tasks[2] && out[1] == &tasks[3]);
	EXPECT_EQ(ep_batch_next(b, 10, false, out, 16), 1); /* the third priority-5 task */
	EXPECT(out[0] == &tasks[4]);
	EXPECT_EQ(ep_batch_next(b, 10, false, out, 16), 1); /* priority 3: oldest queue first */
	EXPECT(out[0] == &tasks[1]);
	EXPECT_EQ(ep_batch_next(b, 10, false, out, 16), 1);
	EXPECT(out[0] == &tasks[5]);
	EXPECT_EQ(ep_batch_next(b, 10, false, out, 16), 1); /* priority 1 last */
	EXPECT(out[0] == &tasks[0]);
	tap_end("higher priorities first; a handler's max_batch caps its batches");

	tap_begin();
	ep_batch_push(b, task(10, 0, 1), 20);
	ep_batch_push(b, task(11, 0, 1), 21);
	ep_batch_push(b, task(12, 2, 2), 22);
	EXPECT(ep_batch_shed(b, 1) == NULL);	   /* nothing below priority 1 */
	EXPECT(ep_batch_shed(b, 3) == &tasks[11]); /* newest of the lowest priority */
	EXPECT(ep_batch_shed(b, 3) == &tasks[10]);
	EXPECT(ep_batch_shed(b, 3) == &tasks[12]);
	EXPECT(ep_batch_shed(b, 3) == NULL);
	EXPECT_EQ(ep_batch_count(b), 0);
	tap_end("shedding takes the newest task of the lowest priority below the newcomer");

	tap_begin();
	for (int i = 0; i < 6; i++)
		ep_batch_push(b, task(20 + i, 0, 4), 30);
	EXPECT_EQ(ep_batch_next(b, 30, false, out, 16), 6);
	ep_batch_unget(b, &out[2], 4);
	EXPECT_EQ(ep_batch_count(b), 4);
	EXPECT_EQ(ep_batch_next(b, 30, false, out, 3), 3);
	EXPECT(out[0] == &tasks[22] && out[1] == &tasks[23] && out[2] == &tasks[24]);
	EXPECT_EQ(ep_batch_next(b, 30, false, out, 16), 1);
	tap_end("tasks put back keep their place at the front, in order");
	ep_batch_free(b);
}

static void test_caps_ready(void)
{
	uint16_t caps[2] = { 2, 50 };
	struct ep_batch *b = ep_batch_new(2, caps, 4, 100 * US);
	struct ep_task *out[16];

	tap_begin();
	ep_batch_push(b, task(0, 0, 2), 0);
	EXPECT_EQ(ep_batch_next_ready(b), 100 * US); /* 1 < its cap of 2: waits */
	ep_batch_push(b, task(1, 0, 2), 0);
	EXPECT_EQ(ep_batch_next_ready(b), 0); /* its cap reached, before the wait */
	EXPECT_EQ(ep_batch_next(b, 0, false, out, 16), 2);
	for (int i = 0; i < 3; i++)
		ep_batch_push(b, task(2 + i, 1, 2), 0);
	EXPECT_EQ(ep_batch_next_ready(b), 100 * US); /* a cap of 50 leaves the size of 4 */
	ep_batch_push(b, task(5, 1, 2), 0);
	ep_batch_push(b, task(6, 1, 2), 0);
	EXPECT_EQ(ep_batch_next_ready(b), 0);
	EXPECT_EQ(ep_batch_next(b, 0, false, out, 16), 4);
	EXPECT_EQ(ep_batch_next(b, 0, true, out, 16), 1);
	tap_end("a handler's max_batch below the batch size makes its queue ready sooner; above "
		"it, the batch size holds");
	ep_batch_free(b);

	b = ep_batch_new(0, NULL, 0, 0);
	tap_begin();
	EXPECT(b != NULL);
	ep_batch_push(b, task(7, 0, 2), 0);
	ep_batch_push(b, task(8, 0, 2), 0);
	EXPECT_EQ(ep_batch_next(b, 0, false, out, 16), 1); /* batch size 0 means 1 */
	EXPECT_EQ(ep_batch_next(b, 0, false, out, 16), 1);
	tap_end("no handlers and batch size 0: one queue a priority, batches of one");
	ep_batch_free(b);
}

int main(void)
{
	test_size_and_wait();
	test_priority();
	test_caps_ready();
	return tap_finish();
}
