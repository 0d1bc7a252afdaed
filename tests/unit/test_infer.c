// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the infer handler (dataplane/handlers/infer.c).
 *
 * Models are built in memory here (edgeplane/model.h) and handed to init() as the warm-up
 * file. Results are checked against a naive double-precision forward pass; batches of
 * every size against the same tasks run one at a time; then hostile model files, hostile
 * payloads, batches mixing both kinds of task, and a fuzz loop. As in test_handlers.c,
 * payloads are copied to buffers of exactly their length and result buffers are exactly
 * out_size() bytes, so AddressSanitizer catches any access outside them.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ep_shared.h"
#include "edgeplane/model.h"
#include "edgeplane/payload.h"
#include "handlers/builtin.h"
#include "../lib/hrun.h"
#include "../lib/mfile.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

#define MAX_BATCH 256 /* ep_infer_handler.max_batch, checked in test_table() */

/* ---- fixtures ------------------------------------------------------------------- */

/* A model: its file bytes, and host-order weights for the reference. */
struct model {
	unsigned int nlayers;
	uint32_t dims[EP_MODEL_MAX_LAYERS + 1];
	float *params; /* per layer W then b, as in the file */
	const float *w[EP_MODEL_MAX_LAYERS], *b[EP_MODEL_MAX_LAYERS];
	uint8_t *file;
	size_t len;
};

/* A random model (weights uniform in +-1/sqrt(in), as mkmodel makes them). */
static void model_make(struct model *m, unsigned int nlayers, const uint32_t *dims, uint64_t seed)
{
	size_t off = sizeof(struct ep_model_hdr) + 4 * (nlayers + 1), count;
	struct ep_model_hdr hdr = { .version = htole16(EP_MODEL_VERSION),
				    .nlayers = htole16((uint16_t)nlayers) };
	float *f;

	rnd_seed(seed);
	m->nlayers = nlayers;
	memcpy(m->dims, dims, 4 * (nlayers + 1));
	m->len = ep_model_file_len(nlayers, dims);
	count = (m->len - off) / 4;
	m->file = malloc(m->len);
	m->params = malloc(count * sizeof(float));
	memcpy(hdr.magic, EP_MODEL_MAGIC, 4);
	memcpy(m->file, &hdr, sizeof(hdr));
	for (unsigned int l = 0; l <= nlayers; l++)
		put_le32(m->file + sizeof(hdr) + 4 * l, dims[l]);
	f = m->params;
	for (unsigned int l = 0; l < nlayers; l++) {
		float scale = 1.0f / sqrtf((float)dims[l]);

		m->w[l] = f;
		m->b[l] = f + (size_t)dims[l + 1] * dims[l];
		for (size_t i = 0; i < (size_t)dims[l + 1] * (dims[l] + 1); i++)
			*f++ = scale * rnd_float();
	}
	for (size_t i = 0; i < count; i++)
		put_lef(m->file + off + 4 * i, m->params[i]);
}

static void model_free(struct model *m)
{
	free(m->params);
	free(m->file);
}

static uint32_t n_out(const struct model *m)
{
	return m->dims[m->nlayers];
}

/* The reference: a naive forward pass in double precision. */
static void reference(const struct model *m, const float *x, double *out)
{
	double a[EP_MODEL_MAX_DIM], y[EP_MODEL_MAX_DIM];

	for (uint32_t j = 0; j < m->dims[0]; j++)
		a[j] = x[j];
	for (unsigned int l = 0; l < m->nlayers; l++) {
		uint32_t in = m->dims[l], on = m->dims[l + 1];

		for (uint32_t j = 0; j < on; j++) {
			double s = m->b[l][j];

			for (uint32_t k = 0; k < in; k++)
				s += (double)m->w[l][(size_t)j * in + k] * a[k];
			y[j] = l + 1 < m->nlayers && s < 0 ? 0 : s;
		}
		memcpy(a, y, on * sizeof(double));
	}
	memcpy(out, a, n_out(m) * sizeof(double));
}

static char last_log[512];

__attribute__((format(printf, 2, 3))) static void test_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
}

/* One handler instance, as one worker holds it, and the file it may use in place. */
struct inst {
	void *state;
	uint8_t *file;
};

static int inst_init(struct inst *in, const struct ep_blob *files, unsigned int nfiles)
{
	struct ep_handler_env env = {
		.abi_version = EP_HANDLER_ABI_VERSION,
		.type = EP_TT_INFER,
		.files = files,
		.nfiles = nfiles,
		.max_task_len = 1u << 20,
		.log = test_log,
	};

	in->state = NULL;
	in->file = NULL;
	last_log[0] = '\0';
	return ep_infer_handler.init(&env, &in->state);
}

/* init() with @len bytes of @file at @misalign bytes past an aligned address. */
static int inst_init_file(struct inst *in, const uint8_t *file, size_t len, size_t misalign)
{
	uint8_t *buf = malloc(len + misalign + 1);
	struct ep_blob blob = { .path = "test.epm", .data = buf + misalign, .len = len };
	int err;

	memcpy(buf + misalign, file, len);
	err = inst_init(in, &blob, 1);
	if (err)
		free(buf);
	else
		in->file = buf; /* like the runtime, keep it until fini() */
	return err;
}

static int inst_init_model(struct inst *in, const struct model *m, size_t misalign)
{
	return inst_init_file(in, m->file, m->len, misalign);
}

static void inst_fini(struct inst *in)
{
	ep_infer_handler.fini(in->state);
	free(in->file);
}

/* A task: the header says @hdr_dim, @nfeat features of @x follow. Free with free(). */
static uint8_t *task_make(uint32_t hdr_dim, const float *x, uint32_t nfeat, uint32_t *len)
{
	struct ep_infer_req hdr = { .dim = ep_be32(hdr_dim) };
	uint8_t *p;

	*len = sizeof(hdr) + 4 * nfeat;
	p = malloc(*len);
	memcpy(p, &hdr, sizeof(hdr));
	for (uint32_t j = 0; j < nfeat; j++)
		put_lef(p + sizeof(hdr) + 4 * j, x[j]);
	return p;
}

/* @n tasks of random features for @m: x[n][dims[0]] and their payloads. */
struct tasks {
	unsigned int n;
	float *x;
	uint8_t **data;
	uint32_t *len;
};

static void tasks_make(struct tasks *t, const struct model *m, unsigned int n, uint64_t seed)
{
	uint32_t in = m->dims[0];

	rnd_seed(seed);
	t->n = n;
	t->x = malloc((size_t)n * in * sizeof(float));
	t->data = calloc(n, sizeof(*t->data));
	t->len = calloc(n, sizeof(*t->len));
	for (size_t i = 0; i < (size_t)n * in; i++)
		t->x[i] = rnd_float();
	for (unsigned int i = 0; i < n; i++)
		t->data[i] = task_make(in, t->x + (size_t)i * in, in, &t->len[i]);
}

static void tasks_free(struct tasks *t)
{
	for (unsigned int i = 0; i < t->n; i++)
		free(t->data[i]);
	free(t->data);
	free(t->len);
	free(t->x);
}

/* Run @n tasks as one batch (hrun.h). Free with results_free(). */
static int run_batch(struct inst *in, uint8_t *const *data, const uint32_t *len, unsigned int n,
		     struct hrun_result *out)
{
	return hrun_batch(&ep_infer_handler, in->state, (const uint8_t *const *)data, len, n, out);
}

static void results_free(struct hrun_result *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		free(r[i].res.data);
		r[i].res.data = NULL;
	}
}

/* The tasks of @t in batches of @bs (the last one shorter); one result per task. */
static struct hrun_result *run_all(struct inst *in, const struct tasks *t, unsigned int bs)
{
	struct hrun_result *r = calloc(t->n, sizeof(*r));

	for (unsigned int i = 0; i < t->n; i += bs)
		EXPECT_EQ(run_batch(in, t->data + i, t->len + i, t->n - i < bs ? t->n - i : bs,
				    r + i),
			  0);
	return r;
}

/* A successful result for @m: status OK, length exactly the bound, header consistent
 * (argmax the first largest logit). Returns 1 and the logits in @y if so. */
static int result_ok(const struct model *m, const struct hrun_result *r, float *y)
{
	uint32_t on = n_out(m), best = 0;
	struct ep_infer_result hdr;

	EXPECT_EQ(r->res.status, EP_ST_OK);
	EXPECT_EQ(r->bound, sizeof(hdr) + 4 * on);
	EXPECT_EQ(r->res.len, r->bound);
	if (r->res.status != EP_ST_OK || r->res.len != sizeof(hdr) + 4 * on)
		return 0;
	memcpy(&hdr, r->res.data, sizeof(hdr));
	for (uint32_t j = 0; j < on; j++) {
		y[j] = get_lef(r->res.data + sizeof(hdr) + 4 * j);
		best = y[j] > y[best] ? j : best;
	}
	EXPECT_EQ(ep_be32(hdr.dim), on);
	EXPECT_EQ(ep_be32(hdr.argmax), best);
	return ep_be32(hdr.dim) == on && ep_be32(hdr.argmax) == best;
}

/* The results @r of the tasks @t against the reference: the largest error of a logit,
 * relative to 1 + |reference|. */
static double max_error(const struct model *m, const struct tasks *t, const struct hrun_result *r)
{
	double ref[EP_MODEL_MAX_DIM], worst = 0;
	float y[EP_MODEL_MAX_DIM];

	for (unsigned int i = 0; i < t->n; i++) {
		if (!result_ok(m, &r[i], y))
			return INFINITY;
		reference(m, t->x + (size_t)i * m->dims[0], ref);
		for (uint32_t j = 0; j < n_out(m); j++) {
			double e = fabs(y[j] - ref[j]) / (1 + fabs(ref[j]));

			worst = e > worst ? e : worst;
		}
	}
	return worst;
}

/* ---- the handler and its model file ----------------------------------------------- */

static void test_table(void)
{
	unsigned int seen = 0;

	tap_begin();
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++)
		seen += *h == &ep_infer_handler;
	EXPECT_EQ(seen, 1);
	EXPECT(!strcmp(ep_infer_handler.name, "infer"));
	EXPECT_EQ(ep_infer_handler.default_type, EP_TT_INFER);
	EXPECT_EQ(ep_infer_handler.default_type, 50);
	EXPECT_EQ(ep_infer_handler.max_batch, MAX_BATCH);
	EXPECT(ep_infer_handler.init && ep_infer_handler.fini);
	tap_end("infer is a built-in handler: type 50, max_batch %u", MAX_BATCH);
}

static void test_no_model(void)
{
	static const uint32_t dims[] = { 3, 2 };
	struct model m;
	struct inst in;

	tap_begin();
	EXPECT_EQ(inst_init(&in, NULL, 0), -EINVAL);
	EXPECT(strstr(last_log, "no model file"));
	model_make(&m, 1, dims, 1);
	{
		struct ep_blob two[2] = { { "a.epm", m.file, m.len }, { "b.epm", m.file, m.len } };

		EXPECT_EQ(inst_init(&in, two, 2), -EINVAL);
		EXPECT(strstr(last_log, "more than one"));
	}
	model_free(&m);
	tap_end("init without a model file, or with two, fails with -EINVAL and says why");
}

/* @m's file with the 32-bit little-endian field at @off set to @v. */
static int init_patched(const struct model *m, size_t off, uint32_t v, const char *why)
{
	uint8_t *f = malloc(m->len);
	struct inst in;
	int err;

	memcpy(f, m->file, m->len);
	put_le32(f + off, v);
	err = inst_init_file(&in, f, m->len, 0);
	if (!err)
		inst_fini(&in);
	else if (!strstr(last_log, why))
		tap_diag("log \"%s\" does not mention \"%s\"", last_log, why);
	free(f);
	return err == -EINVAL && strstr(last_log, why);
}

static void test_hostile_models(void)
{
	static const uint32_t dims[] = { 3, 5, 2 };
	const size_t hdr = sizeof(struct ep_model_hdr), w0 = hdr + 12;
	unsigned int refused = 0;
	struct model m;
	struct inst in;
	uint8_t *f;

	model_make(&m, 2, dims, 7);

	tap_begin();
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	inst_fini(&in);
	for (size_t len = 0; len < m.len; len++) {
		int err = inst_init_file(&in, m.file, len, 0);

		refused += err == -EINVAL;
		if (!err)
			inst_fini(&in);
	}
	EXPECT_EQ(refused, m.len);
	f = calloc(1, m.len + 1);
	memcpy(f, m.file, m.len);
	EXPECT_EQ(inst_init_file(&in, f, m.len + 1, 0), -EINVAL);
	EXPECT(strstr(last_log, "bytes"));
	free(f);
	tap_end("model: the %zu-byte file loads; each of its %zu truncations and one byte more "
		"are refused",
		m.len, m.len);

	tap_begin();
	/* header: magic "EPMD", version 1 (le16), nlayers 2 (le16) */
	EXPECT(init_patched(&m, 0, 0x444d5046, "magic"));   /* "FPMD" */
	EXPECT(init_patched(&m, 4, 0x00020002, "version")); /* version 2 */
	EXPECT(init_patched(&m, 4, 0x00000001, "0 layers"));
	EXPECT(init_patched(&m, 4, 0x00090001, "9 layers"));
	EXPECT(init_patched(&m, 4, 0xffff0001, "65535 layers"));
	EXPECT(init_patched(&m, 4, 0x00030001, "dims[3]")); /* 3 layers: a weight as dim */
	EXPECT(init_patched(&m, 4, 0x00010001, "bytes"));   /* 1 layer: 3 -> 5 */
	EXPECT(init_patched(&m, hdr, 0, "dims[0] is 0"));
	EXPECT(init_patched(&m, hdr + 4, 0, "dims[1] is 0"));
	EXPECT(init_patched(&m, hdr + 8, 4097, "dims[2] is 4097"));
	EXPECT(init_patched(&m, hdr + 4, 0xffffffff, "dims[1] is 4294967295"));
	EXPECT(init_patched(&m, hdr + 4, 0x40000001, "dims[1]")); /* 4 x wraps 32 bits */
	EXPECT(init_patched(&m, hdr + 4, 0x80000000, "dims[1]"));
	EXPECT(init_patched(&m, hdr, 4096, "bytes")); /* in range, wrong size */
	EXPECT(init_patched(&m, w0, 0x7fc00000, "layer 0: weight 0 is not finite")); /* NaN */
	EXPECT(init_patched(&m, w0 + 4 * 15, 0x7f800000, "layer 0: bias 0"));	     /* +Inf */
	EXPECT(init_patched(&m, m.len - 4, 0xff800000, "layer 1: bias 1"));	     /* -Inf */
	tap_end("model: bad magic, version, 0 / 9 / 65535 layers, dims 0, 4097, 2^32-1 and "
		"2^30+1, sizes that do not match, NaN and Inf weights are refused, naming the "
		"problem");

	tap_begin();
	f = calloc(1, 4096);
	EXPECT_EQ(inst_init_file(&in, f, 4096, 0), -EINVAL);
	for (unsigned int i = 0; i < 4096; i++)
		f[i] = (uint8_t)rnd();
	memcpy(f, EP_MODEL_MAGIC, 4);
	EXPECT_EQ(inst_init_file(&in, f, 4096, 0), -EINVAL);
	free(f);
	tap_end("model: 4 KiB of zeros and 4 KiB of noise behind the magic are refused");
	model_free(&m);
}

/* ---- results ------------------------------------------------------------------------ */

#define TOL 1e-4 /* float32 against double, relative to 1 + |logit| */

static void check_reference(const struct model *m, const char *shape, unsigned int n,
			    size_t misalign)
{
	struct tasks t;
	struct hrun_result *r;
	struct inst in;
	double err;

	tap_begin();
	EXPECT_EQ(inst_init_model(&in, m, misalign), 0);
	tasks_make(&t, m, n, 11);
	r = run_all(&in, &t, n);
	err = max_error(m, &t, r);
	EXPECT(err <= TOL);
	results_free(r, n);
	free(r);
	tasks_free(&t);
	inst_fini(&in);
	tap_end("%s: %u tasks in one batch match the double-precision forward pass "
		"(max error %.1e)%s",
		shape, n, err, misalign ? ", model file misaligned" : "");
}

static void test_reference(void)
{
	static const uint32_t mlp[] = { 256, 512, 512, 10 }, linear[] = { 7, 3 },
			      odd[] = { 33, 17, 1, 9, 4, 65, 2 }, wide[] = { 1, 4096, 1 };
	struct model m;

	model_make(&m, 3, mlp, 1);
	check_reference(&m, "256-512-512-10", 64, 0);
	model_free(&m);
	model_make(&m, 1, linear, 2);
	check_reference(&m, "7-3 (one layer, no ReLU)", 9, 0);
	check_reference(&m, "7-3", 9, 1); /* weights converted into the handler's copy */
	model_free(&m);
	model_make(&m, 6, odd, 3);
	check_reference(&m, "33-17-1-9-4-65-2", 50, 2);
	model_free(&m);
	model_make(&m, 2, wide, 4);
	check_reference(&m, "1-4096-1", 256, 0);
	model_free(&m);
}

/* Batches of every size give the results of the same tasks run one at a time: the same
 * class, logits equal to float32 rounding. Not always bit for bit: BLIS may take another
 * kernel, with another order of summation, for a product of one row. */
static void test_batches(void)
{
	static const uint32_t mlp[] = { 256, 512, 512, 10 };
	static const unsigned int sizes[] = { 1, 7, 64, 256, 300 };
	float y1[16], yb[16];
	struct hrun_result *one;
	struct tasks t;
	struct inst in;
	struct model m;

	model_make(&m, 3, mlp, 1);
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	tasks_make(&t, &m, 300, 5);
	one = run_all(&in, &t, 1);
	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct hrun_result *r = run_all(&in, &t, sizes[s]);
		unsigned int same_bytes = 0, same_class = 0;
		double worst = 0;

		tap_begin();
		for (unsigned int i = 0; i < t.n; i++) {
			if (!result_ok(&m, &one[i], y1) || !result_ok(&m, &r[i], yb))
				continue;
			same_bytes += !memcmp(one[i].res.data, r[i].res.data, r[i].res.len);
			same_class += !memcmp(one[i].res.data, r[i].res.data, 8);
			for (uint32_t j = 0; j < n_out(&m); j++) {
				double e = fabs(y1[j] - yb[j]) / (1 + fabs(y1[j]));

				worst = e > worst ? e : worst;
			}
		}
		EXPECT_EQ(same_class, t.n);
		EXPECT(worst <= 1e-5);
		tap_end("256-512-512-10: %u tasks in batches of %u give the classes and logits of "
			"one at a time (%u of %u bit for bit, max difference %.1e)%s",
			t.n, sizes[s], same_bytes, t.n, worst,
			sizes[s] > MAX_BATCH ? " (above max_batch)" : "");
		results_free(r, t.n);
		free(r);
	}
	results_free(one, t.n);
	free(one);
	tasks_free(&t);
	inst_fini(&in);
	model_free(&m);
}

/* ---- hostile payloads --------------------------------------------------------------- */

static void test_mixed(void)
{
	static const uint32_t dims[] = { 16, 8, 4 };
	struct ep_infer_req rsvd = { .dim = ep_be32(16), .rsvd = ep_be32(1) };
	uint8_t *data[14], nan_task[8 + 64], inf_task[8 + 64], long_task[8 + 64 + 1];
	static const char *const want[14] = {
		NULL,
		"truncated",
		NULL,
		"dim 15 != the model's input dim 16",
		"payload length",
		NULL,
		"rsvd",
		"feature 3 is not finite",
		"feature 15 is not finite",
		"dim 4294967295",
		"payload length",
		NULL,
		"truncated",
		NULL,
	};
	uint32_t len[14];
	struct hrun_result r[14], single;
	struct tasks t;
	struct model m;
	struct inst in;
	float x[16];

	model_make(&m, 2, dims, 9);
	tasks_make(&t, &m, 5, 3);
	memcpy(nan_task, t.data[0], sizeof(nan_task));
	put_le32(nan_task + 8 + 4 * 3, 0x7fc00001);
	memcpy(inf_task, t.data[0], sizeof(inf_task));
	put_le32(inf_task + 8 + 4 * 15, 0xff800000);
	memcpy(long_task, t.data[0], sizeof(long_task) - 1);
	long_task[sizeof(long_task) - 1] = 0;
	for (uint32_t j = 0; j < 16; j++)
		x[j] = rnd_float();

	data[0] = t.data[0];
	len[0] = t.len[0];
	data[1] = t.data[1];
	len[1] = 5; /* short header */
	data[2] = t.data[1];
	len[2] = t.len[1];
	data[3] = task_make(15, x, 15, &len[3]); /* wrong dim, consistent */
	data[4] = long_task;
	len[4] = sizeof(long_task); /* one byte more */
	data[5] = t.data[2];
	len[5] = t.len[2];
	data[6] = (uint8_t *)&rsvd;
	len[6] = sizeof(rsvd);
	data[7] = nan_task;
	len[7] = sizeof(nan_task);
	data[8] = inf_task;
	len[8] = sizeof(inf_task);
	data[9] = task_make(0xffffffff, x, 0, &len[9]); /* huge dim, no data */
	data[10] = t.data[3];
	len[10] = t.len[3] - 4; /* one feature short */
	data[11] = t.data[3];
	len[11] = t.len[3];
	data[12] = t.data[4];
	len[12] = 0; /* empty */
	data[13] = t.data[4];
	len[13] = t.len[4];

	tap_begin();
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	EXPECT_EQ(run_batch(&in, data, len, 14, r), 0);
	for (unsigned int i = 0; i < 14; i++) {
		float y[4], ys[4];

		if (want[i]) {
			EXPECT_INVALID(r[i]);
			if (!strstr(r[i].res.msg, want[i])) {
				tap_diag("task %u: \"%s\", want \"%s\"", i, r[i].res.msg, want[i]);
				EXPECT(0);
			}
			continue;
		}
		EXPECT_EQ(run_batch(&in, &data[i], &len[i], 1, &single), 0);
		EXPECT(result_ok(&m, &r[i], y) && result_ok(&m, &single, ys));
		for (uint32_t j = 0; j < 4; j++)
			EXPECT(fabs(y[j] - ys[j]) <= 1e-5 * (1 + fabs(ys[j])));
		results_free(&single, 1);
	}
	results_free(r, 14);
	tap_end("a batch of 14 with 9 invalid tasks (short, wrong dim, wrong length, rsvd, NaN "
		"and Inf features, huge dim, empty): each gets INVALID_INPUT and its reason, the "
		"5 valid ones their single-task results");

	/* A result buffer below out_size() fails that task only. */
	tap_begin();
	{
		struct ep_hreq req[3];
		struct ep_hres res[3];
		uint32_t bound;

		for (unsigned int i = 0; i < 3; i++)
			req[i] = (struct ep_hreq){ .data = t.data[i],
						   .len = t.len[i],
						   .type = EP_TT_INFER,
						   .priority = 3 };
		bound = ep_infer_handler.out_size(in.state, &req[0]);
		for (unsigned int i = 0; i < 3; i++)
			res[i] = (struct ep_hres){ .data = malloc(bound),
						   .status = ST_UNSET,
						   .cap = i == 1 ? bound - 1 : bound };
		EXPECT_EQ(ep_infer_handler.run(in.state, req, res, 3), 0);
		EXPECT_EQ(res[0].status, EP_ST_OK);
		EXPECT_EQ(res[1].status, EP_ST_HANDLER_FAILED);
		EXPECT_EQ(res[1].len, 0);
		EXPECT_EQ(res[2].status, EP_ST_OK);
		EXPECT_EQ(res[2].len, bound);
		for (unsigned int i = 0; i < 3; i++)
			free(res[i].data);
	}
	tap_end("a result buffer smaller than out_size() fails that task alone");

	free(data[3]);
	free(data[9]);
	tasks_free(&t);
	inst_fini(&in);
	model_free(&m);
}

/* out_size() is the same bound for any task, exactly the length of a result. */
static void test_out_size(void)
{
	static const uint32_t dims[] = { 16, 8, 4 };
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct ep_hreq req[3] = {
		{ .data = junk, .len = 0 },
		{ .data = junk, .len = sizeof(junk) },
	};
	struct model m;
	struct tasks t;
	struct inst in;

	tap_begin();
	model_make(&m, 2, dims, 9);
	tasks_make(&t, &m, 1, 1);
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	req[2] = (struct ep_hreq){ .data = t.data[0], .len = t.len[0] };
	for (unsigned int i = 0; i < 3; i++)
		EXPECT_EQ(ep_infer_handler.out_size(in.state, &req[i]),
			  sizeof(struct ep_infer_result) + 4 * 4);
	inst_fini(&in);
	tasks_free(&t);
	model_free(&m);
	tap_end("out_size() is 8 + 4 x classes for empty, junk and valid tasks alike");
}

/* Ties: the class is the first of the largest logits. */
static void test_argmax_ties(void)
{
	static const uint32_t dims[] = { 4, 3 };
	static const float bias[3] = { 1, 2, 2 };
	struct ep_infer_result hdr;
	struct hrun_result r;
	struct tasks t;
	struct model m;
	struct inst in;
	float y[3];

	tap_begin();
	model_make(&m, 1, dims, 1);
	memset(m.file + m.len - 4 * 15, 0, 4 * 12); /* W = 0: 3 x 4 before b */
	for (unsigned int j = 0; j < 3; j++)
		put_lef(m.file + m.len - 4 * (3 - j), bias[j]);
	tasks_make(&t, &m, 1, 1);
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	EXPECT_EQ(run_batch(&in, t.data, t.len, 1, &r), 0);
	memcpy(&hdr, r.res.data, sizeof(hdr));
	EXPECT(r.res.status == EP_ST_OK && r.res.len == r.bound);
	EXPECT_EQ(ep_be32(hdr.argmax), 1);
	for (unsigned int j = 0; j < 3 && r.res.len == r.bound; j++) {
		y[j] = get_lef(r.res.data + sizeof(hdr) + 4 * j);
		EXPECT(y[j] == bias[j]);
	}
	results_free(&r, 1);
	inst_fini(&in);
	tasks_free(&t);
	model_free(&m);
	tap_end("argmax: with W = 0 and b = (1, 2, 2) the logits are b and the class is 1");
}

/* Random tasks: half random bytes, half shaped like a task (often valid). */
static uint32_t random_task(uint8_t *buf, uint32_t max, uint32_t in)
{
	uint32_t len = (uint32_t)(rnd() % 200);

	for (uint32_t i = 0; i < max; i++)
		buf[i] = (uint8_t)rnd();
	if (rnd() % 2)
		return len < max ? len : max;
	memcpy(buf, &(struct ep_infer_req){ .dim = ep_be32(rnd() % 8 ? in : rnd() % 64) }, 8);
	if (rnd() % 8 == 0)
		buf[4 + rnd() % 4] = (uint8_t)rnd();
	/* features: random bits (some NaN or Inf), or ordinary values */
	for (uint32_t j = 0; j < in && rnd() % 2; j++)
		put_lef(buf + 8 + 4 * j, 100 * rnd_float());
	len = 8 + 4 * in;
	if (rnd() % 8 == 0)
		len += rnd() % 9 - 4;
	return len < max ? len : max;
}

static void test_fuzz(void)
{
	static const uint32_t dims[] = { 16, 8, 4 };
	unsigned int ok = 0, invalid = 0, other = 0, over = 0, iter = 0;
	static uint8_t buf[64][256];
	struct model m;
	struct inst in;

	tap_begin();
	model_make(&m, 2, dims, 13);
	EXPECT_EQ(inst_init_model(&in, &m, 0), 0);
	rnd_seed(2024);
	while (iter < 4000) {
		unsigned int n = 1 + rnd() % 64;
		uint8_t *task[64];
		uint32_t len[64];
		struct hrun_result r[64];

		n = n < 4000 - iter ? n : 4000 - iter;
		for (unsigned int i = 0; i < n; i++, iter++) {
			len[i] = random_task(buf[i], sizeof(buf[i]), m.dims[0]);
			task[i] = buf[i];
		}
		EXPECT_EQ(run_batch(&in, task, len, n, r), 0);
		for (unsigned int i = 0; i < n; i++) {
			ok += r[i].res.status == EP_ST_OK && r[i].res.len == r[i].bound;
			invalid += r[i].res.status == EP_ST_INVALID_INPUT && !r[i].res.len &&
				   r[i].res.msg[0];
			other += r[i].res.status != EP_ST_OK &&
				 r[i].res.status != EP_ST_INVALID_INPUT;
			over += r[i].res.len > r[i].bound;
		}
		results_free(r, n);
	}
	EXPECT_EQ(ok + invalid, 4000);
	EXPECT_EQ(other, 0);
	EXPECT_EQ(over, 0);
	EXPECT(ok >= 500 && invalid >= 500);
	inst_fini(&in);
	model_free(&m);
	tap_end("fuzz: 4000 random tasks in random batches of 1..64: %u ok, %u invalid with a "
		"reason, none else, none past out_size()",
		ok, invalid);
}

int main(void)
{
	test_table();
	test_no_model();
	test_hostile_models();
	test_reference();
	test_batches();
	test_mixed();
	test_out_size();
	test_argmax_ties();
	test_fuzz();
	return tap_finish();
}
