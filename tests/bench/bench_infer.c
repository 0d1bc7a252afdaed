// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_infer - what batching buys the infer handler: tasks/s of run() for one model over
 * the same tasks handed over in batches of 1, 8, 32, 128 and 256, against batches of 1
 * measured in the same run. A batch of n is n feature vectors packed into one matrix and
 * one sgemm per layer; a batch of 1 is a matrix-vector product per task, which reads every
 * weight once per task.
 *
 *	bench_infer [--dims 256,512,512,10] [--tasks 4096] [--rounds 5]
 *
 * Prints a markdown table (median of the rounds) on stdout.
 */
#include <blis.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ep_shared.h"
#include "edgeplane/model.h"
#include "edgeplane/payload.h"
#include "handlers/builtin.h"
#include "bench_util.h"
#include "../lib/mfile.h"
#include "../lib/rnd.h"

static const unsigned int batch_sizes[] = { 1, 8, 32, 128, 256 };
#define NSIZES	   (sizeof(batch_sizes) / sizeof(batch_sizes[0]))
#define MAX_ROUNDS 15

/* A random model file (weights uniform in +-1/sqrt(in), as mkmodel writes). */
static uint8_t *make_model(unsigned int nlayers, const uint32_t *dims, size_t *len)
{
	struct ep_model_hdr hdr = { .version = htole16(EP_MODEL_VERSION),
				    .nlayers = htole16((uint16_t)nlayers) };
	uint8_t *f, *p;

	*len = ep_model_file_len(nlayers, dims);
	f = malloc(*len);
	if (!f)
		return NULL;
	memcpy(hdr.magic, EP_MODEL_MAGIC, 4);
	memcpy(f, &hdr, sizeof(hdr));
	p = f + sizeof(hdr);
	for (unsigned int l = 0; l <= nlayers; l++, p += 4)
		put_le32(p, dims[l]);
	for (unsigned int l = 0; l < nlayers; l++) {
		float scale = 1.0f / sqrtf((float)dims[l]);

		for (size_t i = 0; i < (size_t)dims[l + 1] * (dims[l] + 1); i++, p += 4)
			put_lef(p, scale * rnd_float());
	}
	return f;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void no_log(int level, const char *fmt, ...)
{
}

/* Seconds for every task, in batches of @bs; -1 if a task failed. */
static double pass(void *state, struct ep_hreq *req, struct ep_hres *res, unsigned int n,
		   unsigned int bs)
{
	double t0 = now();

	for (unsigned int i = 0; i < n; i += bs)
		if (ep_infer_handler.run(state, req + i, res + i, n - i < bs ? n - i : bs))
			return -1;
	t0 = now() - t0;
	for (unsigned int i = 0; i < n; i++)
		if (res[i].status != EP_ST_OK)
			return -1;
	return t0;
}

static void cpu_name(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && v) {
			snprintf(buf, len, "%s", v + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "dims", required_argument, NULL, 'd' },
						  { "tasks", required_argument, NULL, 't' },
						  { "rounds", required_argument, NULL, 'r' },
						  { "help", no_argument, NULL, 'h' },
						  {} };
	uint32_t dims[EP_MODEL_MAX_LAYERS + 2] = { 256, 512, 512, 10 };
	unsigned int ntasks = 4096, rounds = 5, in, out_len;
	double secs[NSIZES][MAX_ROUNDS], med[NSIZES], mflop = 0;
	double spread[NSIZES][MAX_ROUNDS], ratio_med[NSIZES];
	int repeated = 0;
	int nlayers = 3, opt, ret = 1;
	struct ep_blob blob = { .path = "bench model" };
	struct ep_handler_env env = {
		.abi_version = EP_HANDLER_ABI_VERSION,
		.type = EP_TT_INFER,
		.files = &blob,
		.nfiles = 1,
		.log = no_log,
	};
	struct ep_hreq *req = NULL;
	struct ep_hres *res = NULL;
	uint8_t *payloads = NULL, *results = NULL, *model;
	void *state = NULL;
	char cpu[128];

	while ((opt = getopt_long(argc, argv, "d:t:r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			nlayers = parse_dims(optarg, dims);
			break;
		case 't':
			ntasks = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"Usage: bench_infer [--dims 256,512,512,10] [--tasks 4096] "
				"[--rounds 5 (1..%d)]\n",
				MAX_ROUNDS);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (nlayers < 0 || !ntasks || ntasks > 1u << 16 || !rounds || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench_infer: bad --dims, --tasks or --rounds\n");
		return 2;
	}
	model = make_model((unsigned int)nlayers, dims, &blob.len);
	blob.data = model;
	in = dims[0];
	out_len = sizeof(struct ep_infer_result) + 4 * dims[nlayers];
	env.max_task_len = sizeof(struct ep_infer_req) + 4 * in;
	if (!model || ep_infer_handler.init(&env, &state)) {
		fprintf(stderr, "bench_infer: the handler refused the model\n");
		goto out;
	}
	req = calloc(ntasks, sizeof(*req));
	res = calloc(ntasks, sizeof(*res));
	payloads = malloc((size_t)ntasks * env.max_task_len);
	results = malloc((size_t)ntasks * out_len);
	if (!req || !res || !payloads || !results) {
		fprintf(stderr, "bench_infer: out of memory\n");
		goto out;
	}
	for (unsigned int i = 0; i < ntasks; i++) {
		uint8_t *p = payloads + (size_t)i * env.max_task_len;
		struct ep_infer_req hdr = { .dim = ep_be32(in) };

		memcpy(p, &hdr, sizeof(hdr));
		for (unsigned int j = 0; j < in; j++)
			put_lef(p + sizeof(hdr) + 4 * j, rnd_float());
		req[i] = (struct ep_hreq){
			.data = p, .len = env.max_task_len, .type = EP_TT_INFER, .priority = 3
		};
		res[i] = (struct ep_hres){ .data = results + (size_t)i * out_len, .cap = out_len };
	}
	for (int l = 0; l < nlayers; l++)
		mflop += 2e-6 * dims[l] * dims[l + 1];

	/* Rounds interleave the batch sizes, so drift (clock, other load) hits all alike; a
	 * pass disturbed by other work (bench_util.h) is measured again. */
	for (unsigned int s = 0; s < NSIZES; s++)
		if (pass(state, req, res, ntasks, batch_sizes[s]) < 0)
			goto err_run;
	for (unsigned int r = 0; r < rounds; r++)
		for (unsigned int s = 0; s < NSIZES; s++) {
			struct bench_mark m;
			char what[32];

			snprintf(what, sizeof(what), "batch %u", batch_sizes[s]);
			for (int try = 0; try <= bench_repeats(); try++) {
				repeated += try > 0;
				bench_mark(&m);
				if ((secs[s][r] = pass(state, req, res, ntasks, batch_sizes[s])) <
				    0)
					goto err_run;
				if (!bench_disturbed(&m, what))
					break;
			}
		}
	/* Per round, batch n's tasks/s over batch 1's: spread[s][] sorted. */
	for (unsigned int s = 0; s < NSIZES; s++)
		for (unsigned int r = 0; r < rounds; r++)
			spread[s][r] = secs[0][r] / secs[s][r];
	for (unsigned int s = 0; s < NSIZES; s++) {
		double v[MAX_ROUNDS];

		memcpy(v, secs[s], sizeof(v));
		med[s] = bench_median(v, (int)rounds);
		ratio_med[s] = bench_median(spread[s], (int)rounds);
	}

	cpu_name(cpu, sizeof(cpu));
	printf("infer handler, model");
	for (int l = 0; l <= nlayers; l++)
		printf("%c%u", l ? '-' : ' ', dims[l]);
	printf(" (%.2f MFLOP/task), %u tasks, median of %u rounds (the batch sizes in turn "
	       "within each); passes disturbed by other work measured again: %d; BLIS %s, one "
	       "thread, %s\n\n",
	       mflop, ntasks, rounds, repeated, bli_info_get_version_str(), cpu);
	printf("| batch | tasks/s | µs/task | GFLOP/s | vs batch 1, median of rounds | min | max "
	       "|\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned int s = 0; s < NSIZES; s++)
		printf("| %u | %.0f | %.2f | %.1f | %.2f× | %.2f | %.2f |\n", batch_sizes[s],
		       ntasks / med[s], 1e6 * med[s] / ntasks, mflop * 1e-3 * ntasks / med[s],
		       ratio_med[s], spread[s][0], spread[s][rounds - 1]);
	ret = 0;
	goto out;

err_run:
	fprintf(stderr, "bench_infer: a task failed\n");
out:
	if (state)
		ep_infer_handler.fini(state);
	free(results);
	free(payloads);
	free(res);
	free(req);
	free(model);
	return ret;
}
