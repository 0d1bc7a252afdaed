// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A test plugin (built as a shared object, loaded with dlopen by the runtime). Handler
 * "count" answers each task with how many tasks this worker's instance has run so far and
 * the CRC-32 of the payload, so a test can tell whether a task ran once, and intact.
 * Handler "count_echo" (type 901) answers the same followed by the payload itself: a result
 * as large as its task, so that results span as many fragments as requests
 * (test_lossy.sh), and the client can check every byte. Handler 'count"odd\name<TAB>'
 * (type 902) is "count" under a name that needs escaping in JSON and in metrics.
 * With args "files=N", init fails unless the handler has N warm-up files.
 * It uses nothing of edgeplane's but the ABI header.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "edgeplane/handler.h"

struct count_state {
	uint64_t runs;
};

/* args "files=N": init fails unless the handler was given N warm-up files (a test that
 * every handler of a plugin gets its entry's files). */
static int count_init(const struct ep_handler_env *env, void **state)
{
	if (env->args && !strncmp(env->args, "files=", 6) &&
	    env->nfiles != (unsigned int)atoi(env->args + 6)) {
		env->log(0, "count plugin: %u warm-up files, not %s", env->nfiles, env->args + 6);
		return -22; /* -EINVAL */
	}
	*state = calloc(1, sizeof(struct count_state));
	return *state ? 0 : -12; /* -ENOMEM */
}

static void count_fini(void *state)
{
	free(state);
}

static uint32_t count_out_size(void *state, const struct ep_hreq *req)
{
	return 12;
}

static uint32_t echo_out_size(void *state, const struct ep_hreq *req)
{
	return 12 + req->len;
}

static int run(struct count_state *s, const struct ep_hreq *req, struct ep_hres *res,
	       unsigned int n, bool echo)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t runs = ++s->runs;
		uint32_t crc = (uint32_t)crc32(0, req[i].data, req[i].len);

		for (int b = 0; b < 8; b++)
			res[i].data[b] = (uint8_t)(runs >> (56 - 8 * b));
		for (int b = 0; b < 4; b++)
			res[i].data[8 + b] = (uint8_t)(crc >> (24 - 8 * b));
		res[i].len = 12;
		if (echo) {
			memcpy(res[i].data + 12, req[i].data, req[i].len);
			res[i].len += req[i].len;
		}
		res[i].status = EP_ST_OK;
	}
	return 0;
}

static int count_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	return run(state, req, res, n, false);
}

static int echo_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	return run(state, req, res, n, true);
}

/*
 * A handler ABI version 1 plugin, as plugins were built before work() (ABI 2): it serves
 * only version 1, so the runtime, asking for 2 first, must fall back to 1 and must not read
 * the handler past run (count_handler's struct is the newer header's, but a real version 1
 * plugin's ends there). Its work is its payload's bytes.
 */
#define COUNT_ABI_VERSION 1

/* A handler of this plugin: its own name, type and run; the ABI version and the per-worker
 * state (init, fini) shared. */
#define COUNT_HANDLER(hname, type, out_size_fn, run_fn)                                    \
	{                                                                                  \
		.abi_version = COUNT_ABI_VERSION, .name = (hname), .default_type = (type), \
		.init = count_init, .fini = count_fini, .out_size = (out_size_fn),         \
		.run = (run_fn),                                                           \
	}

static const struct ep_handler count_handler =
	COUNT_HANDLER("count", 900, count_out_size, count_run);
static const struct ep_handler echo_handler =
	COUNT_HANDLER("count_echo", 901, echo_out_size, echo_run);
/* "count" under a name that JSON and Prometheus labels must escape (a quote, a backslash,
 * a tab): the runtime's statistics must stay valid JSON and its metrics parseable
 * (test_runtime.sh, test_metrics.sh). */
static const struct ep_handler odd_name_handler =
	COUNT_HANDLER("count\"odd\\name\t", 902, count_out_size, count_run);

static const struct ep_handler *const handlers[] = { &count_handler, &echo_handler,
						     &odd_name_handler, NULL };

const struct ep_handler *const *ep_plugin_handlers(uint32_t abi_version)
{
	return abi_version == COUNT_ABI_VERSION ? handlers : NULL;
}
