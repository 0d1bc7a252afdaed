// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * matmul: C = A x B in float32 with BLIS's sgemm (through its CBLAS interface).
 *
 * BLIS rather than OpenBLAS: Debian's serial OpenBLAS (0.3.21) is built without
 * USE_LOCKING, so concurrent calls from several workers race on its buffer pool and return
 * wrong products; BLIS is thread-safe in every variant, and its serial variant never
 * starts threads (init() also pins any other variant to one thread).
 *
 * Matrices travel little-endian. On a little-endian host with 4-byte aligned buffers the
 * payload and the result are used in place; otherwise they go through per-worker scratch.
 */
#include <blis.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "builtin.h"
#include "hutil.h"

struct matmul_state {
	struct ep_scratch a, b, c;
};

struct matmul_dims {
	uint32_t n, k, m;
};

static int dim_ok(uint32_t d)
{
	return d >= 1 && d <= EP_MATMUL_MAX_DIM;
}

/* 1 if the header is readable, every dimension in range and rsvd zero. */
static int matmul_peek(const struct ep_hreq *req, struct matmul_dims *d)
{
	struct ep_matmul_req hdr;

	if (req->len < sizeof(hdr))
		return 0;
	memcpy(&hdr, req->data, sizeof(hdr));
	d->n = ep_be32(hdr.n);
	d->k = ep_be32(hdr.k);
	d->m = ep_be32(hdr.m);
	return dim_ok(d->n) && dim_ok(d->k) && dim_ok(d->m) && !hdr.rsvd;
}

static uint64_t result_len(const struct matmul_dims *d)
{
	return sizeof(struct ep_matmul_result) + 4ull * d->n * d->m;
}

static int matmul_init(const struct ep_handler_env *env, void **state)
{
	struct matmul_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	bli_init();
	bli_thread_set_num_threads(1);
	*state = st;
	return 0;
}

static void matmul_fini(void *state)
{
	struct matmul_state *st = state;

	ep_scratch_free(&st->a);
	ep_scratch_free(&st->b);
	ep_scratch_free(&st->c);
	free(st);
}

static uint32_t matmul_out_size(void *state, const struct ep_hreq *req)
{
	struct matmul_dims d;

	return matmul_peek(req, &d) ? (uint32_t)result_len(&d) : 0;
}

/* 2 n k m float operations (sgemm ran at about 1e11 a second there), and the memory
 * traffic of the three matrices, which dominates a thin product (n x 1 x m): 0.4 ns an
 * element. */
static uint64_t matmul_work(void *state, const struct ep_hreq *req)
{
	struct matmul_dims d;

	if (!matmul_peek(req, &d))
		return req->len;
	return 2ull * d.n * d.k * d.m +
	       40ull * ((uint64_t)d.n * d.k + (uint64_t)d.k * d.m + (uint64_t)d.n * d.m);
}

/* @count floats from the wire at @p, as host floats; NULL if scratch cannot grow. */
static const float *wire_floats(const uint8_t *p, size_t count, struct ep_scratch *s)
{
	float *f;

	if (ep_lef_in_place(p))
		return (const float *)p;
	f = ep_scratch_get(s, count * sizeof(float));
	if (f)
		ep_get_lefs(f, p, count);
	return f;
}

static void matmul_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct matmul_state *st = state;
	const uint8_t *pa, *pb;
	struct ep_matmul_result hdr;
	struct matmul_dims d;
	const float *a, *b;
	uint8_t *out;
	float *c;

	if (req->len < sizeof(struct ep_matmul_req)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "truncated matmul header");
		return;
	}
	if (!matmul_peek(req, &d)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "dimensions must be 1..2048, rsvd 0");
		return;
	}
	if (req->len !=
	    sizeof(struct ep_matmul_req) + 4ull * ((uint64_t)d.n * d.k + (uint64_t)d.k * d.m)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "payload length != 16 + 4 (n k + k m)");
		return;
	}
	if (!ep_hres_room(res, result_len(&d)))
		return;
	pa = req->data + sizeof(struct ep_matmul_req);
	pb = pa + 4 * (size_t)d.n * d.k;
	out = res->data + sizeof(hdr);
	a = wire_floats(pa, (size_t)d.n * d.k, &st->a);
	b = wire_floats(pb, (size_t)d.k * d.m, &st->b);
	c = ep_lef_in_place(out) ? (float *)out : ep_scratch_get(&st->c, 4 * (size_t)d.n * d.m);
	if (!a || !b || !c) {
		ep_hres_fail(res, EP_ST_HANDLER_FAILED, "out of memory for scratch");
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d.n, d.m, d.k, 1.0f, a, d.k, b, d.m,
		    0.0f, c, d.m);
	if ((uint8_t *)c != out)
		ep_put_lefs(out, c, (size_t)d.n * d.m);
	hdr.n = ep_be32(d.n);
	hdr.m = ep_be32(d.m);
	memcpy(res->data, &hdr, sizeof(hdr));
	ep_hres_ok(res, (uint32_t)result_len(&d));
}

EP_DEFINE_HANDLER_EACH(ep_matmul_handler, "matmul", EP_TT_MATMUL, matmul_one, .init = matmul_init,
		       .fini = matmul_fini, .out_size = matmul_out_size, .work = matmul_work);
