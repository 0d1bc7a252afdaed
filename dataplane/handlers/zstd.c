// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zstd: compress the data after struct ep_zstd_req into one zstd frame (content size
 * included). Each worker keeps one ZSTD_CCtx, whose workspace is reused between tasks and
 * only grows when a task needs more (a higher level or a larger input) than any before.
 */
#include <errno.h>
#include <string.h>
#include <zstd.h>

#include "builtin.h"
#include "hutil.h"

#define ZSTD_TASK_MAX_LEVEL 19

static int zstd_init(const struct ep_handler_env *env, void **state)
{
	*state = ZSTD_createCCtx();
	return *state ? 0 : -ENOMEM;
}

static void zstd_fini(void *state)
{
	ZSTD_freeCCtx(state);
}

static uint32_t zstd_out_size(void *state, const struct ep_hreq *req)
{
	size_t bound;

	if (req->len < sizeof(struct ep_zstd_req))
		return 0;
	bound = ZSTD_compressBound(req->len - sizeof(struct ep_zstd_req));
	return bound > UINT32_MAX ? UINT32_MAX : (uint32_t)bound;
}

/*
 * Units per input byte at each level (index 1..19): the cost per byte of zstd 1.5's
 * compressor on data that compresses badly (the slow case: long searches that find
 * little), rounded up and never falling with the level. The high levels search a window
 * that grows with the input, so a byte costs less in a small input: one table for inputs
 * up to ZSTD_SMALL_INPUT (the worst of text-like, random and repetitive data of 1 to 100
 * KB), one for larger ones (4 MiB of text-like data).
 */
#define ZSTD_SMALL_INPUT (128u << 10)

static const uint32_t zstd_units_small[ZSTD_TASK_MAX_LEVEL + 1] = {
	0,    160,  320,   800,	  1900,	 1900,	3200,  3200,  3600,  3600,
	6200, 6200, 15000, 15000, 15000, 20000, 25000, 35000, 40000, 50000,
};

static const uint32_t zstd_units_large[ZSTD_TASK_MAX_LEVEL + 1] = {
	0,    160,  320,   800,	  1900,	 1900,	3200,	3200,	3600,	3600,
	6200, 6200, 15000, 89000, 89000, 89000, 156000, 156000, 156000, 256000,
};

static uint64_t zstd_work(void *state, const struct ep_hreq *req)
{
	struct ep_zstd_req hdr;
	uint32_t n;

	if (req->len < sizeof(hdr))
		return req->len;
	memcpy(&hdr, req->data, sizeof(hdr));
	if (hdr.level < 1 || hdr.level > ZSTD_TASK_MAX_LEVEL)
		return req->len; /* run() refuses it */
	n = req->len - (uint32_t)sizeof(hdr);
	return ep_work_mul(n, n <= ZSTD_SMALL_INPUT ? zstd_units_small[hdr.level]
						    : zstd_units_large[hdr.level]);
}

static void zstd_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct ep_zstd_req hdr;
	size_t n;

	if (req->len < sizeof(hdr)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "truncated zstd header");
		return;
	}
	memcpy(&hdr, req->data, sizeof(hdr));
	if (hdr.level < 1 || hdr.level > ZSTD_TASK_MAX_LEVEL) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "level must be 1..19");
		return;
	}
	if (hdr.rsvd[0] || hdr.rsvd[1] || hdr.rsvd[2]) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "rsvd must be zero");
		return;
	}
	n = ZSTD_compressCCtx(state, res->data, res->cap, req->data + sizeof(hdr),
			      req->len - sizeof(hdr), hdr.level);
	if (ZSTD_isError(n)) {
		ep_hres_fail(res, EP_ST_HANDLER_FAILED, ZSTD_getErrorName(n));
		return;
	}
	ep_hres_ok(res, (uint32_t)n);
}

EP_DEFINE_HANDLER_EACH(ep_zstd_handler, "zstd", EP_TT_ZSTD, zstd_one, .init = zstd_init,
		       .fini = zstd_fini, .out_size = zstd_out_size, .work = zstd_work);
