/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hutil.h - small helpers shared by the built-in handlers: result status, running a batch
 * task by task, little-endian floats, scratch memory.
 *
 * Scratch policy: each handler instance (one per worker) reserves its scratch in init(),
 * sized for the largest task env->max_task_len allows, so run() does not allocate in
 * steady state. Large reservations are mostly untouched virtual memory until a frame
 * that big arrives. If a task ever needs more than was reserved (max_task_len 0, or a
 * runtime that lets a bigger task through), run() grows the buffer once; a failed
 * allocation fails that task with EP_ST_HANDLER_FAILED, not the batch.
 */
#ifndef EP_HANDLERS_HUTIL_H
#define EP_HANDLERS_HUTIL_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ep_shared.h"
#include "edgeplane/handler.h"

/* Fail one task: no output, a status and a short reason. */
static inline void ep_hres_fail(struct ep_hres *res, uint16_t status, const char *msg)
{
	res->len = 0;
	res->status = status;
	snprintf(res->msg, sizeof(res->msg), "%s", msg);
}

static inline void ep_hres_ok(struct ep_hres *res, uint32_t len)
{
	res->len = len;
	res->status = EP_ST_OK;
	res->msg[0] = '\0';
}

/* The runtime sizes res->cap from out_size(); check anyway before writing. */
static inline int ep_hres_room(struct ep_hres *res, uint64_t len)
{
	if (len <= res->cap)
		return 1;
	ep_hres_fail(res, EP_ST_HANDLER_FAILED, "result buffer smaller than out_size()");
	return 0;
}

/*
 * Work (handler.h's work(), the runtime's limits.max_work): units of about one float
 * operation of a large matrix product, 0.01 ns of one core of the machine the built-ins
 * were measured on (tests/bench/bench_work.c; docs/handlers.md, "Work"). Each handler
 * counts its natural operations (bytes, pixels, taps, multiply-adds) times a weight
 * measured there, so that a unit costs about the same whatever the handler.
 */
#define EP_WORK_UNITS_PER_NS 100

/* @a * @b, saturating. */
static inline uint64_t ep_work_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Run a batch task by task. */
typedef void (*ep_task_fn)(void *state, const struct ep_hreq *req, struct ep_hres *res);

static inline int ep_run_each(void *state, const struct ep_hreq *req, struct ep_hres *res,
			      unsigned int n, ep_task_fn fn)
{
	for (unsigned int i = 0; i < n; i++)
		fn(state, &req[i], &res[i]);
	return 0;
}

/* Define @name, a handler's run() that runs its batch task by task with @one (an
 * ep_task_fn of the same file, which the compiler can inline into it). */
#define EP_DEFINE_RUN_EACH(name, one)                                                \
	static int name(void *state, const struct ep_hreq *req, struct ep_hres *res, \
			unsigned int n)                                              \
	{                                                                            \
		return ep_run_each(state, req, res, n, one);                         \
	}

/* Define the built-in handler @sym, named @nm, for task type @type; its callbacks (.run,
 * .init, ...) and limits (.max_batch) follow as designated initialisers. */
#define EP_DEFINE_HANDLER(sym, nm, type, ...)                                  \
	const struct ep_handler sym = { .abi_version = EP_HANDLER_ABI_VERSION, \
					.name = nm,                            \
					.default_type = type,                  \
					__VA_ARGS__ }

/*
 * Define the built-in handler @sym, named @nm, for task type @type, whose run() runs its
 * batch task by task with @one (EP_DEFINE_RUN_EACH, as sym##_run); the other callbacks
 * (.init, .fini, .out_size, .work) follow as designated initialisers.
 */
#define EP_DEFINE_HANDLER_EACH(sym, nm, type, one, ...) \
	EP_DEFINE_RUN_EACH(sym##_run, one)              \
	EP_DEFINE_HANDLER(sym, nm, type, .run = sym##_run, __VA_ARGS__)

/* Whether a task's arguments are @bad; if so, fails it INVALID_INPUT saying @why. */
static inline bool ep_hres_bad_args(struct ep_hres *res, bool bad, const char *why)
{
	if (bad)
		ep_hres_fail(res, EP_ST_INVALID_INPUT, why);
	return bad;
}

/* --- little-endian float32 on the wire (matmul's matrices, infer's model and results) --- */

/* Whether little-endian float32s at @p can be read as host floats where they are. */
static inline int ep_lef_in_place(const void *p)
{
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !((uintptr_t)p % sizeof(float));
}

/* The little-endian uint32 at @p (any alignment). */
static inline uint32_t ep_get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

/* @count little-endian float32s at @p into @f. */
static inline void ep_get_lefs(float *f, const uint8_t *p, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t u = ep_get_le32(p + 4 * i);

		memcpy(&f[i], &u, sizeof(u));
	}
}

/* @count host floats from @f to @p, as little-endian float32s. */
static inline void ep_put_lefs(uint8_t *p, const float *f, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t u;

		memcpy(&u, &f[i], sizeof(u));
		u = htole32(u);
		memcpy(p + 4 * i, &u, sizeof(u));
	}
}

struct ep_scratch {
	void *p;
	size_t cap;
};

/* Scratch of at least @len bytes (64-byte aligned), or NULL if it cannot grow. */
static inline void *ep_scratch_get(struct ep_scratch *s, size_t len)
{
	void *p;

	if (len <= s->cap)
		return s->p;
	len = (len + 63) & ~(size_t)63;
	p = aligned_alloc(64, len);
	if (!p)
		return NULL;
	free(s->p);
	s->p = p;
	s->cap = len;
	return p;
}

/* Scratch for one task, or NULL with @res failed. */
static inline void *ep_task_scratch(struct ep_scratch *s, size_t len, struct ep_hres *res)
{
	void *p = ep_scratch_get(s, len);

	if (!p)
		ep_hres_fail(res, EP_ST_HANDLER_FAILED, "out of memory for scratch");
	return p;
}

static inline void ep_scratch_free(struct ep_scratch *s)
{
	free(s->p);
	s->p = NULL;
	s->cap = 0;
}

#endif /* EP_HANDLERS_HUTIL_H */
