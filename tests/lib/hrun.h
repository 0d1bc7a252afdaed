/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hrun.h - run a handler's batch the way one worker of the runtime does, for the unit tests
 * of the handlers: each payload in a buffer of exactly its length, each result buffer
 * exactly the handler's out_size() bound, so that a sanitizer sees any overrun.
 */
#ifndef EP_TEST_HRUN_H
#define EP_TEST_HRUN_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/handler.h"

#define ST_UNSET 0xffff /* a result status no handler set */

/* A result and the bound out_size() gave for it. */
struct hrun_result {
	struct ep_hres res;
	uint32_t bound;
};

/*
 * Run @n tasks (@data[i], @len[i] bytes, priority 3, @h's default type, task id i) as one
 * batch of @h with @state. Returns what run() returned; @out[i] holds each result, whose
 * data the caller frees.
 */
static inline int hrun_batch(const struct ep_handler *h, void *state, const uint8_t *const *data,
			     const uint32_t *len, unsigned int n, struct hrun_result *out)
{
	struct ep_hreq *req = calloc(n, sizeof(*req));
	struct ep_hres *res = calloc(n, sizeof(*res));
	int err;

	if (!req || !res) {
		free(req);
		free(res);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *copy = malloc(len[i] ? len[i] : 1);

		memcpy(copy, data[i], len[i]);
		req[i] = (struct ep_hreq){ .data = copy,
					   .len = len[i],
					   .priority = 3,
					   .type = h->default_type,
					   .task_id = i };
		out[i].bound = h->out_size(state, &req[i]);
		res[i] = (struct ep_hres){ .data = malloc(out[i].bound ? out[i].bound : 1),
					   .cap = out[i].bound,
					   .status = ST_UNSET };
	}
	err = h->run(state, req, res, n);
	for (unsigned int i = 0; i < n; i++) {
		free((void *)req[i].data);
		out[i].res = res[i];
	}
	free(req);
	free(res);
	return err;
}

/*
 * A refused task (with tap.h's EXPECT_*): status INVALID_INPUT, no bytes, and a
 * message.
 */
#define EXPECT_INVALID(r)                                       \
	do {                                                    \
		EXPECT_EQ((r).res.status, EP_ST_INVALID_INPUT); \
		EXPECT_EQ((r).res.len, 0);                      \
		EXPECT((r).res.msg[0] != '\0');                 \
	} while (0)

#endif
