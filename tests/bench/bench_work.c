// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_work - what a unit of work (handler.h's work(), limits.max_work) costs: each
 * built-in handler run on tasks of several sizes, its CPU time per task (this thread's,
 * median of the rounds) against the work its work() declares. The work units are meant
 * to cost about the same for every handler (docs/handlers.md, "Work"); this is how the
 * per-handler weights and limits.max_work's default (about 100 ms of CPU) were chosen.
 *
 *	bench_work [--rounds 5] [--max-work N]
 *
 * Prints a markdown table on stdout, and for each handler the largest task under the cap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ep_shared.h"
#include "core/registry.h"
#include "edgeplane/model.h"
#include "edgeplane/payload.h"
#include "handlers/builtin.h"
#include "../lib/rnd.h"

#define MAX_ROUNDS 15

static uint32_t rnd32(void)
{
	return (uint32_t)(rnd() >> 16);
}

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void no_log(int level, const char *fmt, ...)
{
}

static uint8_t *image(uint32_t w, uint32_t h, uint16_t a0, uint16_t a1, uint32_t a2, uint32_t *len)
{
	struct ep_img_hdr hdr = { htons((uint16_t)w), htons((uint16_t)h), htons(a0),
				  htons(a1),	      htonl(a2),	  0 };
	uint8_t *p;

	*len = (uint32_t)sizeof(hdr) + w * h;
	p = malloc(*len);
	memcpy(p, &hdr, sizeof(hdr));
	for (uint32_t i = 0; i < w * h; i++) /* smooth with noise: blobs find some */
		p[sizeof(hdr) + i] = (uint8_t)((i % w) * 200 / w + (rnd32() & 31));
	return p;
}

/* Dots 2 px apart: the most blobs a frame can hold. */
static void grid(uint8_t *p, uint32_t w, uint32_t h)
{
	for (uint32_t i = 0; i < w * h; i++)
		p[sizeof(struct ep_img_hdr) + i] = (i % w) % 2 == 0 && (i / w) % 2 == 0 ? 255 : 0;
}

static uint8_t *matmul(uint32_t n, uint32_t k, uint32_t m, uint32_t *len)
{
	uint8_t *p;

	*len = 16 + 4 * (n * k + k * m);
	p = malloc(*len);
	((uint32_t *)p)[0] = htonl(n);
	((uint32_t *)p)[1] = htonl(k);
	((uint32_t *)p)[2] = htonl(m);
	((uint32_t *)p)[3] = 0;
	for (uint32_t i = 0; i < n * k + k * m; i++) {
		float v = (float)(rnd32() % 20001) / 10000.0f - 1.0f;

		memcpy(p + 16 + 4 * i, &v, 4); /* little-endian host */
	}
	return p;
}

static uint8_t *bytes(uint32_t len, int level)
{
	uint32_t off = level ? 4 : 0;
	uint8_t *p = calloc(1, len + off);

	if (level)
		p[0] = (uint8_t)level;
	for (uint32_t i = 0; i < len; i++) /* text-like: compresses about 3:1 */
		p[off + i] = (uint8_t) "the edge plane offloads tasks "[rnd32() % 30];
	return p;
}

/* A model file: dims[0] inputs ... dims[n] outputs, small random weights. */
static uint8_t *model(const uint32_t *dims, unsigned int nlayers, size_t *len)
{
	struct ep_model_hdr hdr = { .version = htole16(EP_MODEL_VERSION),
				    .nlayers = htole16((uint16_t)nlayers) };
	size_t off;
	uint8_t *p;

	memcpy(hdr.magic, EP_MODEL_MAGIC, sizeof(hdr.magic));
	*len = ep_model_file_len(nlayers, dims);
	p = calloc(1, *len);
	memcpy(p, &hdr, sizeof(hdr));
	for (unsigned int l = 0; l <= nlayers; l++) {
		uint32_t v = htole32(dims[l]);

		memcpy(p + sizeof(hdr) + 4 * l, &v, 4);
	}
	off = sizeof(hdr) + 4 * (nlayers + 1);
	for (; off + 4 <= *len; off += 4) {
		float f = (float)(rnd32() % 2001) / 20000.0f - 0.05f;

		memcpy(p + off, &f, 4);
	}
	return p;
}

struct task {
	const struct ep_handler *h;
	const char *what;
	uint8_t *data;
	uint32_t len;
	const struct ep_blob *file; /* infer's model */
};

static int rounds = 5;
static uint64_t max_work;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(const struct task *t)
{
	struct ep_handler_env env = { .abi_version = EP_HANDLER_ABI_VERSION,
				      .type = t->h->default_type,
				      .max_task_len = 16u << 20,
				      .files = t->file,
				      .nfiles = t->file ? 1 : 0,
				      .log = no_log };
	struct ep_hreq rq = {
		.data = t->data, .len = t->len, .type = t->h->default_type, .priority = 3
	};
	struct ep_hres rs = { 0 };
	double ns[MAX_ROUNDS], med;
	void *state = NULL;
	uint64_t work;
	int reps;

	if (t->h->init && t->h->init(&env, &state)) {
		printf("| %s | %s | init failed | | | |\n", t->h->name, t->what);
		return;
	}
	work = ep_handler_work(t->h, state, &rq);
	rs.cap = t->h->out_size(state, &rq);
	rs.data = malloc(rs.cap ? rs.cap : 1);
	/* Enough repetitions per round for a few ms of CPU; one warm-up run first. */
	t->h->run(state, &rq, &rs, 1);
	{
		double a = cpu_ns();

		t->h->run(state, &rq, &rs, 1);
		reps = (int)(5e6 / fmax(cpu_ns() - a, 1.0)) + 1;
		reps = reps > 1000 ? 1000 : reps;
	}
	for (int r = 0; r < rounds; r++) {
		double a = cpu_ns();

		for (int i = 0; i < reps; i++)
			t->h->run(state, &rq, &rs, 1);
		ns[r] = (cpu_ns() - a) / reps;
	}
	qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_double);
	med = ns[rounds / 2];
	printf("| %s | %s | %s | %.3f | %.3g | %.3f | %s |\n", t->h->name, t->what,
	       rs.status ? "FAILED" : "ok", med / 1e6, (double)work, med / (double)work,
	       max_work && work > max_work ? "TOO_LARGE" : "runs");
	if (t->h->fini)
		t->h->fini(state);
	free(rs.data);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "rounds", required_argument, NULL, 'r' },
					    { "max-work", required_argument, NULL, 'w' },
					    { 0 } };
	static const uint32_t dims_small[] = { 256, 512, 512, 10 };
	static const uint32_t dims_big[] = { 4096, 4096, 4096, 1000 };
	struct ep_blob small_model = { .path = "256-512-512-10" };
	struct ep_blob big_model = { .path = "4096-4096-4096-1000" };
	struct task t[64];
	unsigned int n = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'r')
			rounds = atoi(optarg);
		else if (c == 'w')
			max_work = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 5;
	small_model.data = model(dims_small, 3, &small_model.len);
	big_model.data = model(dims_big, 3, &big_model.len);

#define T(handler, desc, expr)                                           \
	do {                                                             \
		t[n] = (struct task){ .h = &(handler), .what = (desc) }; \
		t[n].data = (expr);                                      \
		n++;                                                     \
	} while (0)
	T(ep_echo_handler, "64 KiB", bytes(64 << 10, 0));
	t[n - 1].len = 64 << 10;
	T(ep_echo_handler, "16 MiB", bytes(16 << 20, 0));
	t[n - 1].len = 16 << 20;
	T(ep_checksum_handler, "64 KiB", bytes(64 << 10, 0));
	t[n - 1].len = 64 << 10;
	T(ep_checksum_handler, "16 MiB", bytes(16 << 20, 0));
	t[n - 1].len = 16 << 20;
	for (int lv = 1; lv <= 19; lv += lv < 3 ? 2 : lv < 9 ? 3 : 5) {
		static char what[32][24];

		snprintf(what[lv], sizeof(what[lv]), "1 MiB, level %d", lv);
		T(ep_zstd_handler, what[lv], bytes(1 << 20, lv));
		t[n - 1].len = (1 << 20) + 4;
	}
	T(ep_zstd_handler, "20 KB, level 19", bytes(20000, 19));
	t[n - 1].len = 20000 + 4;
	T(ep_zstd_handler, "100 KB, level 19", bytes(100000, 19));
	t[n - 1].len = 100000 + 4;
	T(ep_zstd_handler, "16 MiB, level 1", bytes(16 << 20, 1));
	t[n - 1].len = (16 << 20) + 4;
	T(ep_zstd_handler, "16 MiB, level 3", bytes(16 << 20, 3));
	t[n - 1].len = (16 << 20) + 4;
	T(ep_matmul_handler, "64 x 64 x 64", matmul(64, 64, 64, &t[n].len));
	T(ep_matmul_handler, "256 x 256 x 256", matmul(256, 256, 256, &t[n].len));
	T(ep_matmul_handler, "1024 x 1024 x 1024", matmul(1024, 1024, 1024, &t[n].len));
	T(ep_matmul_handler, "2048 x 1023 x 2047 (the issue's)",
	  matmul(2048, 1023, 2047, &t[n].len));
	T(ep_matmul_handler, "2048 x 1 x 2048", matmul(2048, 1, 2048, &t[n].len));
	T(ep_resize_handler, "512x512 -> 256x256", image(512, 512, 256, 256, 0, &t[n].len));
	T(ep_resize_handler, "64x64 -> 4096x4000", image(64, 64, 4096, 4000, 0, &t[n].len));
	T(ep_box_blur_handler, "512x512 r=3", image(512, 512, 3, 0, 0, &t[n].len));
	T(ep_box_blur_handler, "4096x4000 r=64", image(4096, 4000, 64, 0, 0, &t[n].len));
	T(ep_gauss_blur_handler, "512x512 sigma 1.5", image(512, 512, 150, 0, 0, &t[n].len));
	T(ep_gauss_blur_handler, "512x512 sigma 20", image(512, 512, 2000, 0, 0, &t[n].len));
	T(ep_gauss_blur_handler, "4096x4000 sigma 20", image(4096, 4000, 2000, 0, 0, &t[n].len));
	T(ep_sobel_handler, "512x512", image(512, 512, 0, 0, 0, &t[n].len));
	T(ep_sobel_handler, "4096x4000", image(4096, 4000, 0, 0, 0, &t[n].len));
	T(ep_threshold_handler, "512x512 Otsu", image(512, 512, EP_IMG_OTSU, 0, 0, &t[n].len));
	T(ep_threshold_handler, "4096x4000 Otsu", image(4096, 4000, EP_IMG_OTSU, 0, 0, &t[n].len));
	T(ep_blobs_handler, "512x512", image(512, 512, 150, 10, 0, &t[n].len));
	T(ep_blobs_handler, "512x512 blur conn8",
	  image(512, 512, 150, 10, EP_BLOBS_F_BLUR | EP_BLOBS_F_CONN8, &t[n].len));
	T(ep_blobs_handler, "1024x1024 dot grid conn8",
	  image(1024, 1024, 100, 0, EP_BLOBS_F_CONN8, &t[n].len));
	grid(t[n - 1].data, 1024, 1024);
	T(ep_blobs_handler, "4096x4000 blur conn8",
	  image(4096, 4000, 150, 10, EP_BLOBS_F_BLUR | EP_BLOBS_F_CONN8, &t[n].len));
	{
		static uint8_t x[8 + 4 * 4096];

		((uint32_t *)x)[0] = htonl(256);
		T(ep_infer_handler, "256-512-512-10", x);
		t[n - 1].len = 8 + 4 * 256;
		t[n - 1].file = &small_model;
		((uint32_t *)x)[0] = htonl(256);
	}
	{
		static uint8_t x[8 + 4 * 4096];

		((uint32_t *)x)[0] = htonl(4096);
		T(ep_infer_handler, "4096-4096-4096-1000", x);
		t[n - 1].len = 8 + 4 * 4096;
		t[n - 1].file = &big_model;
	}
#undef T

	printf("| handler | task | result | CPU ms | work | ns / unit | at max_work %llu |\n",
	       (unsigned long long)max_work);
	printf("|---|---|---|---:|---:|---:|---|\n");
	for (unsigned int i = 0; i < n; i++)
		measure(&t[i]);
	return 0;
}
