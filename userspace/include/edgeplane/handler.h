/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * handler.h - the edgeplane task handler ABI, version 2.
 *
 * A handler turns task payloads into results. The runtime has built-in handlers and loads
 * more from plugins: shared objects named in the config and opened with dlopen(). A plugin
 * exports one function,
 *
 *	const struct ep_handler *const *ep_plugin_handlers(uint32_t abi_version);
 *
 * which returns a NULL-terminated array of handlers, or NULL if it cannot serve the ABI
 * version the runtime asks for. Everything a plugin needs is in this header; it links
 * against nothing of edgeplane's.
 *
 * Life cycle, per handler and per runtime worker thread:
 *   init(env, &state)   once, before the runtime reports ready (cache warm-up: load
 *                       tables, reference data; env->files were read by the runtime)
 *   out_size(), run()   many times, from that worker thread only
 *   fini(state)         once, at shutdown
 * state is private to one worker, so a handler needs no locks. run() must not block or
 * sleep: it runs on the packet path.
 *
 * Batching: run() receives n >= 1 tasks of the same task type, up to max_batch, and must
 * fill in every result. Tasks in one batch are independent; a handler may process them
 * together (shared setup, vectorised loops) or one by one.
 *
 * Versions: 2 added work() (the runtime's cap on the work one task may ask for). The
 * runtime asks a plugin for version 2 first and then for version 1, and loads handlers of
 * either version: a version-1 handler (whose struct ends before work) counts its payload
 * bytes as its work.
 */
#ifndef EDGEPLANE_HANDLER_H
#define EDGEPLANE_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "edgeplane/status.h"

#define EP_HANDLER_ABI_VERSION 2
#define EP_HANDLER_ABI_MIN     1 /* the oldest version the runtime still loads */
#define EP_PLUGIN_SYMBOL       "ep_plugin_handlers"

/* One task, as the handler sees it. Read-only; valid for the duration of run(). */
struct ep_hreq {
	const uint8_t *data; /* the task payload, decompressed */
	uint32_t len;
	uint16_t type;	  /* task_type */
	uint8_t priority; /* 1..5 */
	uint8_t rsvd;
	uint32_t tenant_id;
	uint64_t task_id;
};

/* One result. The runtime provides data/cap; the handler sets len, status and msg. */
struct ep_hres {
	uint8_t *data;	 /* output buffer */
	uint32_t cap;	 /* its size: at least out_size() for this task */
	uint32_t len;	 /* bytes written (0 on error) */
	uint16_t status; /* 0 (EP_ST_OK) or an enum ep_status code, usually
			  * EP_ST_INVALID_INPUT or EP_ST_HANDLER_FAILED */
	char msg[94];	 /* optional detail for an error, NUL-terminated */
};

/* A file the runtime read for the handler during warm-up (config: files = [...]). */
struct ep_blob {
	const char *path;
	const uint8_t *data; /* owned by the runtime; valid until fini() */
	size_t len;
};

/* What init() gets. */
struct ep_handler_env {
	uint32_t abi_version;	     /* the version the runtime speaks with this handler:
				      * the handler's own (1 or 2) */
	unsigned int worker;	     /* index of the worker thread calling */
	uint16_t type;		     /* task_type this instance serves */
	const char *args;	     /* config "args" string, or NULL */
	const struct ep_blob *files; /* config "files", read before init */
	unsigned int nfiles;
	uint32_t max_task_len; /* largest payload run() will see */
	/* Log through the runtime (level: 0 error, 1 warn, 2 info, 3 debug). Setup only. */
	void (*log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct ep_handler {
	uint32_t abi_version;  /* EP_HANDLER_ABI_VERSION (1 is still loaded) */
	const char *name;      /* unique, e.g. "sobel" */
	uint16_t default_type; /* task_type served unless the config says otherwise */
	uint16_t max_batch;    /* largest n for run(); 0 = any */

	/* Optional. 0 or a negative errno; a failure stops the runtime from starting. */
	int (*init)(const struct ep_handler_env *env, void **state);
	/* Optional. */
	void (*fini)(void *state);
	/* Upper bound of the result length for @req; must be cheap and must not fail: for
	 * input it cannot size, return a small number (run() then reports the error). The
	 * runtime answers TOO_LARGE when the bound is above its result limit. */
	uint32_t (*out_size)(void *state, const struct ep_hreq *req);
	/* Run @n tasks: fill res[i].len and res[i].status for each i. Returns 0, or a
	 * negative errno if the batch as a whole failed (every task then gets
	 * EP_ST_HANDLER_FAILED). */
	int (*run)(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n);

	/* ABI version 2 and later. */

	/* Optional. An estimate of the operations @req asks for, cheap to compute (from its
	 * header, not by doing the work), in units comparable across handlers: about one
	 * float multiply-add of a matrix product each (docs/handlers.md gives every built-in's
	 * formula). The runtime answers TOO_LARGE, without running the task, when it exceeds
	 * limits.max_work. NULL: the payload's length in bytes. Must not fail: for input it
	 * cannot read, return a small number (run() then reports the error). */
	uint64_t (*work)(void *state, const struct ep_hreq *req);
};

typedef const struct ep_handler *const *(*ep_plugin_handlers_fn)(uint32_t abi_version);
/* What a plugin defines and exports (above); the runtime finds it with dlsym(). */
const struct ep_handler *const *ep_plugin_handlers(uint32_t abi_version);

#endif /* EDGEPLANE_HANDLER_H */
