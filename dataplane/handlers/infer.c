// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * infer: a multi-layer perceptron (edgeplane/model.h) on one feature vector per task.
 *
 * Warm-up: init() checks the model file the runtime preloaded (env->files[0]) and reserves
 * the activations for a full batch, so run() neither reads files nor allocates. On a
 * little-endian host the weights are used in place in the runtime's copy of the file;
 * otherwise init() converts them once into its own buffer.
 *
 * Batching: run() packs the features of every valid task of the batch into one matrix X
 * (rows x in) and evaluates each layer as ONE sgemm over the whole batch, Y = X W^T + b,
 * rather than one matrix-vector product per task: the weights stream through the cache
 * once per batch instead of once per task. Invalid tasks get their own status and take no
 * row. BLIS as in matmul.c, pinned to one thread.
 */
#include <blis.h>
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "builtin.h"
#include "hutil.h"
#include "edgeplane/model.h"

#define INFER_MAX_BATCH 256

struct infer_state {
	unsigned int nlayers;
	uint32_t dims[EP_MODEL_MAX_LAYERS + 1];
	const float *w[EP_MODEL_MAX_LAYERS]; /* dims[l + 1] x dims[l], row-major */
	const float *b[EP_MODEL_MAX_LAYERS]; /* dims[l + 1] */
	float *copy;			     /* host-order weights, if not in place */
	float *act[2];			     /* INFER_MAX_BATCH x largest dim, each */
	uint16_t row_task[INFER_MAX_BATCH];  /* task (index in the batch) of each row */
};

/* Check the header and dims of the model file at @p; fills st->nlayers and st->dims.
 * Returns 0, or -EINVAL with the problem in @why. */
static int model_check(struct infer_state *st, const uint8_t *p, size_t len, char *why,
		       size_t whylen)
{
	struct ep_model_hdr hdr;
	unsigned int n;
	uint64_t want;

	if (len < sizeof(hdr)) {
		snprintf(why, whylen, "truncated header (%zu bytes)", len);
		return -EINVAL;
	}
	memcpy(&hdr, p, sizeof(hdr));
	if (memcmp(hdr.magic, EP_MODEL_MAGIC, sizeof(hdr.magic))) {
		snprintf(why, whylen, "bad magic (not an edgeplane model file)");
		return -EINVAL;
	}
	if (le16toh(hdr.version) != EP_MODEL_VERSION) {
		snprintf(why, whylen, "version %u, want %d", le16toh(hdr.version),
			 EP_MODEL_VERSION);
		return -EINVAL;
	}
	n = le16toh(hdr.nlayers);
	if (n < 1 || n > EP_MODEL_MAX_LAYERS) {
		snprintf(why, whylen, "%u layers, want 1..%d", n, EP_MODEL_MAX_LAYERS);
		return -EINVAL;
	}
	if (len < sizeof(hdr) + 4 * (n + 1)) {
		snprintf(why, whylen, "truncated dims (%zu bytes)", len);
		return -EINVAL;
	}
	for (unsigned int l = 0; l <= n; l++) {
		st->dims[l] = ep_get_le32(p + sizeof(hdr) + 4 * l);
		if (st->dims[l] < 1 || st->dims[l] > EP_MODEL_MAX_DIM) {
			snprintf(why, whylen, "dims[%u] is %u, want 1..%d", l, st->dims[l],
				 EP_MODEL_MAX_DIM);
			return -EINVAL;
		}
	}
	want = ep_model_file_len(n, st->dims);
	if (len != want) {
		snprintf(why, whylen, "%zu bytes, but these dims make %llu", len,
			 (unsigned long long)want);
		return -EINVAL;
	}
	st->nlayers = n;
	return 0;
}

/* Point st->w and st->b at the weights, in place or converted; all must be finite. */
static int model_load(struct infer_state *st, const uint8_t *p, size_t len, char *why,
		      size_t whylen)
{
	size_t off, count;
	const float *f;
	int err;

	err = model_check(st, p, len, why, whylen);
	if (err)
		return err;
	off = sizeof(struct ep_model_hdr) + 4 * (st->nlayers + 1);
	count = (len - off) / 4;
	if (ep_lef_in_place(p + off)) {
		f = (const float *)(p + off);
	} else {
		st->copy = aligned_alloc(64, (count * 4 + 63) & ~(size_t)63);
		if (!st->copy) {
			snprintf(why, whylen, "out of memory for the weights");
			return -ENOMEM;
		}
		ep_get_lefs(st->copy, p + off, count);
		f = st->copy;
	}
	for (unsigned int l = 0; l < st->nlayers; l++) {
		size_t nw = (size_t)st->dims[l + 1] * st->dims[l];

		for (size_t i = 0; i < nw + st->dims[l + 1]; i++) {
			if (!isfinite(f[i])) {
				snprintf(why, whylen, "layer %u: %s %zu is not finite", l,
					 i < nw ? "weight" : "bias", i < nw ? i : i - nw);
				return -EINVAL;
			}
		}
		st->w[l] = f;
		st->b[l] = f + nw;
		f += nw + st->dims[l + 1];
	}
	return 0;
}

static uint32_t result_len(const struct infer_state *st)
{
	return sizeof(struct ep_infer_result) + 4 * st->dims[st->nlayers];
}

/* Validate a task and unpack its features into @row; 0 (with @res failed) if invalid. */
static int task_pack(const struct infer_state *st, const struct ep_hreq *req, struct ep_hres *res,
		     float *row)
{
	const uint8_t *p = req->data + sizeof(struct ep_infer_req);
	struct ep_infer_req hdr;
	uint32_t in = st->dims[0];

	if (req->len < sizeof(hdr)) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "truncated infer header");
		return 0;
	}
	memcpy(&hdr, req->data, sizeof(hdr));
	if (hdr.rsvd) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "rsvd must be zero");
		return 0;
	}
	if (ep_be32(hdr.dim) != in) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "");
		snprintf(res->msg, sizeof(res->msg), "dim %u != the model's input dim %u",
			 ep_be32(hdr.dim), in);
		return 0;
	}
	if (req->len != sizeof(hdr) + 4ull * in) {
		ep_hres_fail(res, EP_ST_INVALID_INPUT, "payload length != 8 + 4 dim");
		return 0;
	}
	if (!ep_hres_room(res, result_len(st)))
		return 0;
	ep_get_lefs(row, p, in);
	for (uint32_t j = 0; j < in; j++) {
		if (!isfinite(row[j])) {
			ep_hres_fail(res, EP_ST_INVALID_INPUT, "");
			snprintf(res->msg, sizeof(res->msg), "feature %u is not finite", j);
			return 0;
		}
	}
	return 1;
}

static void put_result(const struct infer_state *st, const float *y, struct ep_hres *res)
{
	uint32_t m = st->dims[st->nlayers], best = 0;
	struct ep_infer_result hdr;

	for (uint32_t j = 1; j < m; j++)
		best = y[j] > y[best] ? j : best;
	hdr.dim = ep_be32(m);
	hdr.argmax = ep_be32(best);
	memcpy(res->data, &hdr, sizeof(hdr));
	ep_put_lefs(res->data + sizeof(hdr), y, m);
	ep_hres_ok(res, result_len(st));
}

/* The network on the first @rows rows of st->act[0]: one sgemm per layer. Returns the
 * logits, @rows x the output dim. */
static const float *forward(struct infer_state *st, unsigned int rows)
{
	float *x = st->act[0], *y = st->act[1], *t;

	for (unsigned int l = 0; l < st->nlayers; l++) {
		uint32_t k = st->dims[l], m = st->dims[l + 1];

		for (unsigned int r = 0; r < rows; r++)
			memcpy(y + (size_t)r * m, st->b[l], m * sizeof(float));
		/* Y (rows x m) = X (rows x k) W^T (W: m x k) + Y, Y holding b in every row */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, m, k, 1.0f, x, k,
			    st->w[l], k, 1.0f, y, m);
		if (l + 1 < st->nlayers)
			for (size_t i = 0; i < (size_t)rows * m; i++)
				y[i] = y[i] > 0.0f ? y[i] : 0.0f;
		t = x;
		x = y;
		y = t;
	}
	return x;
}

/* At most INFER_MAX_BATCH tasks: pack the valid ones, run the network, unpack. */
static void infer_batch(struct infer_state *st, const struct ep_hreq *req, struct ep_hres *res,
			unsigned int n)
{
	unsigned int rows = 0;
	const float *y;

	for (unsigned int i = 0; i < n; i++)
		if (task_pack(st, &req[i], &res[i], st->act[0] + (size_t)rows * st->dims[0]))
			st->row_task[rows++] = (uint16_t)i;
	if (!rows)
		return;
	y = forward(st, rows);
	for (unsigned int r = 0; r < rows; r++)
		put_result(st, y + (size_t)r * st->dims[st->nlayers], &res[st->row_task[r]]);
}

static void infer_fini(void *state)
{
	struct infer_state *st = state;

	if (!st)
		return;
	free(st->act[0]);
	free(st->act[1]);
	free(st->copy);
	free(st);
}

static int infer_init(const struct ep_handler_env *env, void **state)
{
	struct infer_state *st;
	uint32_t max_dim = 0;
	char why[160];
	size_t size;
	int err;

	if (env->nfiles != 1) {
		if (env->log)
			env->log(0,
				 "infer: %s; name the model in the config: files = [ \"model.epm\" "
				 "]",
				 env->nfiles ? "more than one file given" : "no model file given");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	err = model_load(st, env->files[0].data, env->files[0].len, why, sizeof(why));
	if (err) {
		if (env->log)
			env->log(0, "infer: model %s: %s", env->files[0].path, why);
		goto err_free_state;
	}
	for (unsigned int l = 0; l <= st->nlayers; l++)
		max_dim = st->dims[l] > max_dim ? st->dims[l] : max_dim;
	size = (size_t)INFER_MAX_BATCH * max_dim * sizeof(float);
	st->act[0] = aligned_alloc(64, size);
	st->act[1] = aligned_alloc(64, size);
	if (!st->act[0] || !st->act[1]) {
		err = -ENOMEM;
		goto err_free_state;
	}
	bli_init();
	bli_thread_set_num_threads(1);
	/* Warm-up: one full batch of zeros faults the activations in and lets BLIS set up
	 * its packing buffers, so the first tasks pay for neither. */
	memset(st->act[0], 0, size);
	forward(st, INFER_MAX_BATCH);
	*state = st;
	return 0;

err_free_state:
	infer_fini(st);
	return err;
}

static uint32_t infer_out_size(void *state, const struct ep_hreq *req)
{
	return state ? result_len(state) : 0;
}

/* Per task, the network as a matrix-vector product per layer (a batch of one, the costly
 * case: every weight read once per task), 0.24 ns a multiply-add. The model is the
 * operator's, so this is the same for every task. */
static uint64_t infer_work(void *state, const struct ep_hreq *req)
{
	const struct infer_state *st = state;
	uint64_t macs = 0;

	if (!st)
		return req->len;
	for (unsigned int l = 0; l < st->nlayers; l++)
		macs += (uint64_t)st->dims[l] * st->dims[l + 1];
	return 24 * macs;
}

static int infer_run(void *state, const struct ep_hreq *req, struct ep_hres *res, unsigned int n)
{
	if (!state)
		return -EINVAL;
	/* The runtime keeps to max_batch; a caller that does not still gets every task. */
	for (unsigned int base = 0; base < n; base += INFER_MAX_BATCH)
		infer_batch(state, req + base, res + base,
			    n - base < INFER_MAX_BATCH ? n - base : INFER_MAX_BATCH);
	return 0;
}

EP_DEFINE_HANDLER(ep_infer_handler, "infer", EP_TT_INFER, .max_batch = INFER_MAX_BATCH,
		  .init = infer_init, .fini = infer_fini, .out_size = infer_out_size,
		  .run = infer_run, .work = infer_work);
