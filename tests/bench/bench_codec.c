// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_codec - the frame codec (edgeplane/fcodec.h) on real frames: per PNG file the raw
 * frame, the PNG file itself and the gray frame as libpng writes it, zstd (level 3, what the client
 *sent before: the baseline of this run), the codec lossless and with max_error k; the blob
 *detector's count on the raw and the k frame; encoding and decoding speed on this thread's CPU
 *time, the median of the rounds and their spread, and zstd -3's encoding speed measured alongside
 *(the baseline). Every coded frame is decoded and checked (lossless: equal; k: every pixel within
 *+-k); a failed check exits 1.
 *
 *	bench_codec [--rounds 7] [--k 2] FILE.png...
 *
 * Prints a markdown table and the totals over frames of at least 4096 pixels on stdout.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "edgeplane/fcodec.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "handlers/builtin.h"

#define MAX_ROUNDS 31

static int rounds = 7;

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void no_log(int level, const char *fmt, ...)
{
}

/* The blob detector as edgeload asks it by default: Otsu's level, 20 px minimum. */
static long blobs(const uint8_t *frame, uint32_t len)
{
	const struct ep_handler *h = &ep_blobs_handler;
	struct ep_handler_env env = { .abi_version = EP_HANDLER_ABI_VERSION,
				      .type = EP_TT_BLOBS,
				      .max_task_len = len,
				      .log = no_log };
	struct ep_hreq rq = { .data = frame, .len = len, .type = EP_TT_BLOBS, .priority = 3 };
	struct ep_hres rs = { 0 };
	void *state = NULL;
	long n = -1;

	if (h->init && h->init(&env, &state))
		return -1;
	rs.cap = h->out_size(state, &rq);
	rs.data = malloc(rs.cap ? rs.cap : 1);
	h->run(state, &rq, &rs, 1);
	if (!rs.status && rs.len >= sizeof(struct ep_blobs_result))
		n = (long)ntohl(((const struct ep_blobs_result *)rs.data)->count);
	if (h->fini)
		h->fini(state);
	free(rs.data);
	return n;
}

/* MB/s of raw frame bytes for @fn over the rounds: median, min, max. */
struct speed {
	double med, lo, hi;
};

struct job {
	ZSTD_CCtx *z;
	struct ep_fc_enc *enc;
	struct ep_fc_dec *dec;
	const uint8_t *frame;
	uint32_t len;
	unsigned int k;
	uint8_t *out, *back;
	size_t cap;
	ssize_t n;
};

static void run_enc(struct job *j)
{
	struct ep_fc_params prm = { .max_error = j->k,
				    .keep = j->k ? EP_FC_KEEP_OTSU : EP_FC_KEEP_NONE };

	j->n = ep_fc_encode(j->enc, j->frame, j->len, &prm, j->out, j->cap);
}

/* The baseline: zstd at level 3, what the client sent before (its default). */
static void run_zstd(struct job *j)
{
	j->n = (ssize_t)ZSTD_compressCCtx(j->z, j->out, j->cap, j->frame, j->len, 3);
}

static void run_dec(struct job *j)
{
	if (ep_fc_decode(j->dec, j->out, (size_t)j->n, j->back, j->len))
		j->n = -1;
}

static struct speed measure(void (*fn)(struct job *), struct job *j)
{
	double mbs[MAX_ROUNDS] = { 0 }, a;
	struct speed s;
	int reps;

	fn(j);
	a = cpu_ns();
	fn(j);
	reps = (int)(2e7 / (cpu_ns() - a + 1)) + 1; /* about 20 ms a round */
	for (int r = 0; r < rounds; r++) {
		a = cpu_ns();
		for (int i = 0; i < reps; i++)
			fn(j);
		mbs[r] = (double)j->len * reps / ((cpu_ns() - a) / 1e9) / 1e6;
	}
	qsort(mbs, (size_t)rounds, sizeof(mbs[0]), cmp_double);
	s.med = mbs[rounds / 2];
	s.lo = mbs[0];
	s.hi = mbs[rounds - 1];
	return s;
}

static const char *pct(double part, double whole)
{
	static char b[4][16];
	static int i;

	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%.1f %%", 100.0 * (1 - part / whole));
	return b[i];
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "rounds", required_argument, NULL, 'r' },
					    { "k", required_argument, NULL, 'k' },
					    { 0 } };
	unsigned int k = 2;
	double t_raw = 0, t_png = 0, t_gpng = 0, t_z = 0, t_ll = 0, t_k = 0;
	double s_enc[64], s_enck[64], s_dec[64];
	double sec_ll = 0, sec_k = 0, sec_z = 0; /* the set's coding time, per byte x bytes */
	int nsp = 0, bad = 0, blob_diff = 0, png_worse = 0, gpng_worse = 0, opt;
	ZSTD_CCtx *z = ZSTD_createCCtx();

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'k')
			k = (unsigned int)atoi(optarg);
		else
			return 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || !k || k > EP_FC_MAX_ERROR || optind >= argc) {
		fprintf(stderr, "usage: bench_codec [--rounds 1..31] [--k 1..15] FILE.png...\n");
		return 2;
	}
	printf("| frame | pixels | PNG file | gray PNG | zstd -3 | lossless | k=%u | blobs raw | "
	       "k=%u | "
	       "encode lossless MB/s | encode k=%u MB/s | decode lossless MB/s | zstd -3 MB/s "
	       "(baseline) |\n",
	       k, k, k);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int f = optind; f < argc && nsp < 64; f++) {
		struct ep_img_hdr hdr = { 0 };
		struct job j = { .k = 0 };
		struct speed se, sk, sd, sz;
		uint32_t w, h, n;
		size_t zlen, ll, kl;
		uint8_t *px, *frame;
		const char *name;
		struct stat st;
		long b_raw, b_k, gray_png;
		int maxd = 0;

		if (ep_png_read_gray(argv[f], &px, &w, &h) || stat(argv[f], &st)) {
			fprintf(stderr, "bench_codec: cannot read %s\n", argv[f]);
			return 1;
		}
		name = strrchr(argv[f], '/') ? strrchr(argv[f], '/') + 1 : argv[f];
		n = w * h;
		if (n < 4096) {
			printf("| %s | %u | left out: too small to be a camera frame ||||||||||\n",
			       name, n);
			free(px);
			continue;
		}
		hdr.width = htons((uint16_t)w);
		hdr.height = htons((uint16_t)h);
		hdr.arg0 = htons(EP_IMG_OTSU);
		hdr.arg1 = htons(20);
		j.len = (uint32_t)sizeof(hdr) + n;
		frame = malloc(j.len);
		memcpy(frame, &hdr, sizeof(hdr));
		memcpy(frame + sizeof(hdr), px, n);
		j.frame = frame;
		j.cap = ZSTD_compressBound(j.len) + 1024;
		j.out = malloc(j.cap);
		j.back = malloc(j.len);
		j.enc = ep_fc_enc_new();
		j.z = z;
		j.dec = ep_fc_dec_new();

		zlen = ZSTD_compressCCtx(z, j.out, j.cap, frame, j.len, 3);
		/* The frame as the 8-bit gray PNG libpng writes with its defaults (a colour
		 * file such as astronaut's is larger than its gray frame needs). */
		{
			char tmp[] = "/tmp/bench_codec_XXXXXX";
			int fd = mkstemp(tmp);
			struct stat gs;

			gray_png = -1;
			if (fd >= 0) {
				close(fd);
				if (!ep_png_write_gray(tmp, px, w, h) && !stat(tmp, &gs))
					gray_png = (long)gs.st_size;
				unlink(tmp);
			}
		}
		/* Lossless: exact. */
		run_enc(&j);
		ll = (size_t)j.n;
		run_dec(&j);
		if (j.n < 0 || memcmp(j.back, frame, j.len)) {
			fprintf(stderr, "bench_codec: %s: lossless round trip FAILED\n", name);
			bad = 1;
		}
		se = measure(run_enc, &j);
		sd = measure(run_dec, &j);
		sz = measure(run_zstd, &j);
		/* k: within +-k, and the blob detector's count. */
		j.k = k;
		run_enc(&j);
		kl = (size_t)j.n;
		run_dec(&j);
		if (j.n < 0 || memcmp(j.back, frame, sizeof(hdr))) {
			fprintf(stderr, "bench_codec: %s: k=%u did not decode\n", name, k);
			bad = 1;
		}
		for (uint32_t i = 0; i < n; i++) {
			int d = abs((int)j.back[sizeof(hdr) + i] - (int)px[i]);

			maxd = d > maxd ? d : maxd;
		}
		if (maxd > (int)k) {
			fprintf(stderr, "bench_codec: %s: k=%u off by %d FAILED\n", name, k, maxd);
			bad = 1;
		}
		b_raw = blobs(frame, j.len);
		b_k = blobs(j.back, j.len);
		blob_diff += b_raw != b_k;
		sk = measure(run_enc, &j);
		png_worse += ll > (size_t)st.st_size;
		gpng_worse += gray_png >= 0 && ll > (size_t)gray_png;

		printf("| %s | %u | %ld | %ld | %zu | %zu | %zu | %ld | %ld | %.0f (%.0f..%.0f) | "
		       "%.0f (%.0f..%.0f) | %.0f (%.0f..%.0f) | %.0f (%.0f..%.0f) |\n",
		       name, n, (long)st.st_size, gray_png, zlen, ll, kl, b_raw, b_k, se.med, se.lo,
		       se.hi, sk.med, sk.lo, sk.hi, sd.med, sd.lo, sd.hi, sz.med, sz.lo, sz.hi);
		sec_ll += j.len / se.med;
		sec_k += j.len / sk.med;
		sec_z += j.len / sz.med;
		t_raw += j.len;
		t_png += (double)st.st_size;
		t_gpng += (double)gray_png;
		t_z += (double)zlen;
		t_ll += (double)ll;
		t_k += (double)kl;
		s_enc[nsp] = se.med;
		s_enck[nsp] = sk.med;
		s_dec[nsp++] = sd.med;
		ep_fc_enc_free(j.enc);
		ep_fc_dec_free(j.dec);
		free(j.out);
		free(j.back);
		free(frame);
		free(px);
	}
	if (!nsp)
		return 1;
	printf("| **set** | | %.0f | %.0f | %.0f | %.0f | %.0f | | | %.0f | %.0f | | %.0f |\n",
	       t_png, t_gpng, t_z, t_ll, t_k, t_raw / sec_ll, t_raw / sec_k, t_raw / sec_z);
	printf("\nSaved over the set (raw frame bytes, headers included): zstd -3 %s, lossless "
	       "%s, k=%u %s; PNG's files %s.\n",
	       pct(t_z, t_raw), pct(t_ll, t_raw), k, pct(t_k, t_raw), pct(t_png, t_raw));
	qsort(s_enc, (size_t)nsp, sizeof(double), cmp_double);
	qsort(s_enck, (size_t)nsp, sizeof(double), cmp_double);
	qsort(s_dec, (size_t)nsp, sizeof(double), cmp_double);
	printf("Encoding, lossless: %.0f MB/s the median frame (slowest %.0f); k=%u: %.0f "
	       "(slowest %.0f); decoding lossless %.0f (slowest %.0f).\n",
	       s_enc[nsp / 2], s_enc[0], k, s_enck[nsp / 2], s_enck[0], s_dec[nsp / 2], s_dec[0]);
	printf("\nGoal: lossless at most PNG's file, every frame: %s (%d larger); over the set "
	       "%s. Against the gray frames as libpng writes them: every frame %s (%d larger), "
	       "the set %s.\n",
	       png_worse ? "NOT met" : "met", png_worse, t_ll <= t_png ? "met" : "NOT met",
	       gpng_worse ? "NOT met" : "met", gpng_worse, t_ll <= t_gpng ? "met" : "NOT met");
	printf("Goal: k=%u saves at least 60 %% of the raw bytes over the set: %s (%s).\n", k,
	       t_k <= 0.4 * t_raw ? "met" : "NOT met", pct(t_k, t_raw));
	printf("Goal: blob counts on k=%u frames identical to raw: %s (%d differ).\n", k,
	       blob_diff ? "NOT met" : "met", blob_diff);
	printf("Goal: lossless encoding (the default level) at least 300 MB/s on one core over the "
	       "set: %s (%.0f MB/s, %.2f x zstd -3 in the same run; slowest frame %.0f MB/s).\n",
	       t_raw / sec_ll >= 300 ? "met" : "NOT met", t_raw / sec_ll, sec_z / sec_ll, s_enc[0]);
	ZSTD_freeCCtx(z);
	return bad;
}
