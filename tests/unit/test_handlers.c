// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the built-in task handlers and of the PNG helper.
 *
 * Every handler is checked against a straightforward reference written here (naive 2D
 * convolution, per-pixel Sobel and bilinear, flood-fill labelling, triple-loop matmul,
 * zlib/xxhash/zstd calls) on the real photographs of build/data/images (scripts/fetch-
 * images.sh), then with batches mixing valid and invalid tasks, hostile inputs and a fuzz
 * loop. Result buffers are exactly out_size() bytes and payloads exactly their length, so
 * AddressSanitizer catches any access outside them.
 */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "ep_shared.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "handlers/builtin.h"
#include "../lib/hrun.h"
#include "../lib/mfile.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

#define MAX_TASK (16u << 20)
#define HDR	 sizeof(struct ep_img_hdr)

/* ---- fixtures ------------------------------------------------------------------- */

struct image {
	uint8_t *px;
	uint32_t w, h;
};

static const char *image_path(const char *name)
{
	static char path[512];
	const char *build = getenv("BUILD");

	snprintf(path, sizeof(path), "%s/data/images/%s", build && *build ? build : "build", name);
	return path;
}

/* Load a test photograph and return 1. A missing file skips the case; any other error is
 * the PNG reader's and fails it. Either way 0. */
static int load(const char *name, struct image *im, const char *case_name)
{
	char why[600];
	int err = ep_png_read_gray(image_path(name), &im->px, &im->w, &im->h);

	if (!err)
		return 1;
	snprintf(why, sizeof(why), "%s: %s%s", image_path(name), strerror(-err),
		 err == -ENOENT ? " (run scripts/fetch-images.sh)" : "");
	if (err == -ENOENT) {
		tap_skip(case_name, why);
	} else {
		tap_begin();
		tap_fail(__FILE__, __LINE__, why);
		tap_end("%s", case_name);
	}
	return 0;
}

__attribute__((format(printf, 2, 3))) static void test_log(int level, const char *fmt, ...)
{
	va_list ap;

	printf("# handler log %d: ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* One handler instance, as one worker of the runtime holds it. */
struct inst {
	const struct ep_handler *h;
	void *state;
};

static int inst_init(struct inst *in, const struct ep_handler *h, const struct ep_blob *files,
		     unsigned int nfiles)
{
	struct ep_handler_env env = {
		.abi_version = EP_HANDLER_ABI_VERSION,
		.type = h->default_type,
		.files = files,
		.nfiles = nfiles,
		.max_task_len = MAX_TASK,
		.log = test_log,
	};

	in->h = h;
	in->state = NULL;
	return h->init ? h->init(&env, &in->state) : 0;
}

static void inst_fini(struct inst *in)
{
	if (in->h->fini)
		in->h->fini(in->state);
}

/* Run @n tasks of @in's handler as one batch (hrun.h). Free with results_free(). */
static int run_batch(struct inst *in, const uint8_t *const *data, const uint32_t *len,
		     unsigned int n, struct hrun_result *out)
{
	return hrun_batch(in->h, in->state, data, len, n, out);
}

static struct hrun_result run1(struct inst *in, const void *data, uint32_t len)
{
	const uint8_t *d = data;
	struct hrun_result r;

	if (run_batch(in, &d, &len, 1, &r))
		r.res.status = ST_UNSET;
	return r;
}

static void result_free(struct hrun_result *r)
{
	free(r->res.data);
	r->res.data = NULL;
}

/* A successful task: status OK, and the length within out_size(). */
#define EXPECT_OK(r)                                 \
	do {                                         \
		EXPECT_EQ((r).res.status, EP_ST_OK); \
		EXPECT((r).res.len <= (r).bound);    \
	} while (0)

static uint8_t *img_task(const uint8_t *px, uint32_t w, uint32_t h, uint32_t a0, uint32_t a1,
			 uint32_t a2, uint32_t *len)
{
	struct ep_img_hdr hdr = {
		.width = ep_be16(w),
		.height = ep_be16(h),
		.arg0 = ep_be16(a0),
		.arg1 = ep_be16(a1),
		.arg2 = ep_be32(a2),
	};
	uint8_t *p;

	*len = HDR + w * h;
	p = malloc(*len);
	memcpy(p, &hdr, HDR);
	memcpy(p + HDR, px, (size_t)w * h);
	return p;
}

/* Run an image -> image task of @im; returns the output pixels (malloc'd) or NULL. */
static uint8_t *run_image(const struct ep_handler *h, const struct image *im, uint32_t a0,
			  uint32_t a1, uint32_t ow, uint32_t oh)
{
	struct ep_img_hdr hdr;
	struct hrun_result r;
	struct inst in;
	uint8_t *task, *px = NULL;
	uint32_t len;

	EXPECT_EQ(inst_init(&in, h, NULL, 0), 0);
	task = img_task(im->px, im->w, im->h, a0, a1, 0, &len);
	r = run1(&in, task, len);
	EXPECT_OK(r);
	EXPECT_EQ(r.res.len, HDR + ow * oh);
	if (r.res.status == EP_ST_OK && r.res.len == HDR + ow * oh) {
		memcpy(&hdr, r.res.data, HDR);
		EXPECT_EQ(ep_be16(hdr.width), ow);
		EXPECT_EQ(ep_be16(hdr.height), oh);
		EXPECT(!hdr.arg0 && !hdr.arg1 && !hdr.arg2 && !hdr.rsvd);
		px = malloc((size_t)ow * oh);
		memcpy(px, r.res.data + HDR, (size_t)ow * oh);
	}
	result_free(&r);
	free(task);
	inst_fini(&in);
	return px;
}

/* Largest |a - b| over @n pixels; counts the pixels that differ. */
static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *ndiff)
{
	int m = 0;

	*ndiff = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs(a[i] - b[i]);

		*ndiff += d != 0;
		m = d > m ? d : m;
	}
	return m;
}

static uint32_t clampi(long v, uint32_t n)
{
	return v < 0 ? 0 : v >= (long)n ? n - 1 : (uint32_t)v;
}

static struct image crop(const struct image *im, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct image c = { malloc((size_t)w * h), w, h };

	for (uint32_t r = 0; r < h; r++)
		memcpy(c.px + (size_t)r * w, im->px + (size_t)(y + r) * im->w + x, w);
	return c;
}

static uint8_t *file_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
		p = malloc(n);
		*len = fread(p, 1, n, f);
	}
	fclose(f);
	return p;
}

/* @px as the bytes of a PNG file, as the runtime hands warm-up files to init(). */
static uint8_t *png_bytes(const uint8_t *px, uint32_t w, uint32_t h, size_t *len)
{
	char path[] = "/tmp/ep-test-XXXXXX";
	uint8_t *p = NULL;
	int fd = mkstemp(path);

	if (fd < 0)
		return NULL;
	close(fd);
	if (!ep_png_write_gray(path, px, w, h))
		p = file_bytes(path, len);
	unlink(path);
	return p;
}

/* ---- reference implementations --------------------------------------------------- */

static void ref_box(const struct image *im, unsigned int r, uint8_t *out)
{
	uint32_t d = (2 * r + 1) * (2 * r + 1);

	for (uint32_t y = 0; y < im->h; y++)
		for (uint32_t x = 0; x < im->w; x++) {
			uint32_t s = 0;

			for (long j = -(long)r; j <= (long)r; j++)
				for (long i = -(long)r; i <= (long)r; i++)
					s += im->px[clampi(y + j, im->h) * im->w +
						    clampi(x + i, im->w)];
			out[y * im->w + x] = (uint8_t)((s + d / 2) / d);
		}
}

/* Direct 2D convolution with the sampled Gaussian of radius ceil(3 sigma). */
static void ref_gauss(const struct image *im, unsigned int sigma_centi, uint8_t *out)
{
	double sigma = sigma_centi / 100.0, g[61] = { 0 }, sum = 0;
	long r = (3 * sigma_centi + 99) / 100;

	for (long i = -r; i <= r; i++)
		sum += g[labs(i)] = exp(-(double)(i * i) / (2 * sigma * sigma));
	for (uint32_t y = 0; y < im->h; y++)
		for (uint32_t x = 0; x < im->w; x++) {
			double v = 0;

			for (long j = -r; j <= r; j++)
				for (long i = -r; i <= r; i++)
					v += g[labs(i)] * g[labs(j)] *
					     im->px[clampi(y + j, im->h) * im->w +
						    clampi(x + i, im->w)];
			out[y * im->w + x] = (uint8_t)floor(v / (sum * sum) + 0.5);
		}
}

static void ref_sobel(const struct image *im, uint8_t *out)
{
	static const int kx[3][3] = { { -1, 0, 1 }, { -2, 0, 2 }, { -1, 0, 1 } };

	for (uint32_t y = 0; y < im->h; y++)
		for (uint32_t x = 0; x < im->w; x++) {
			double gx = 0, gy = 0, m;

			for (int j = -1; j <= 1; j++)
				for (int i = -1; i <= 1; i++) {
					int p = im->px[clampi((long)y + j, im->h) * im->w +
						       clampi((long)x + i, im->w)];

					gx += kx[j + 1][i + 1] * p;
					gy += kx[i + 1][j + 1] * p;
				}
			m = floor(sqrt(gx * gx + gy * gy) + 0.5);
			out[y * im->w + x] = (uint8_t)(m > 255 ? 255 : m);
		}
}

static void ref_resize(const struct image *im, uint32_t dw, uint32_t dh, uint8_t *out)
{
	for (uint32_t y = 0; y < dh; y++)
		for (uint32_t x = 0; x < dw; x++) {
			double sx = (x + 0.5) * im->w / dw - 0.5, sy = (y + 0.5) * im->h / dh - 0.5;
			uint32_t x0, y0, x1, y1;
			double fx, fy, v;

			sx = sx < 0 ? 0 : sx;
			sy = sy < 0 ? 0 : sy;
			x0 = (uint32_t)sx;
			y0 = (uint32_t)sy;
			fx = sx - x0;
			fy = sy - y0;
			if (x0 >= im->w - 1) {
				x0 = im->w - 1;
				fx = 0;
			}
			if (y0 >= im->h - 1) {
				y0 = im->h - 1;
				fy = 0;
			}
			x1 = x0 + 1 < im->w ? x0 + 1 : x0;
			y1 = y0 + 1 < im->h ? y0 + 1 : y0;
			v = (1 - fy) * ((1 - fx) * im->px[y0 * im->w + x0] +
					fx * im->px[y0 * im->w + x1]) +
			    fy * ((1 - fx) * im->px[y1 * im->w + x0] +
				  fx * im->px[y1 * im->w + x1]);
			out[y * dw + x] = (uint8_t)floor(v + 0.5);
		}
}

/* Otsu from the textbook: maximise w0 w1 (mu0 - mu1)^2 over t, first maximum. */
static unsigned int ref_otsu(const uint8_t *px, size_t n)
{
	double hist[256] = { 0 }, best = -1;
	unsigned int level = 0;

	for (size_t i = 0; i < n; i++)
		hist[px[i]] += 1.0 / n;
	for (unsigned int t = 0; t < 255; t++) {
		double w0 = 0, m0 = 0, w1 = 0, m1 = 0, v;

		for (unsigned int i = 0; i < 256; i++) {
			if (i <= t) {
				w0 += hist[i];
				m0 += i * hist[i];
			} else {
				w1 += hist[i];
				m1 += i * hist[i];
			}
		}
		if (w0 <= 0 || w1 <= 0)
			continue;
		v = w0 * w1 * (m0 / w0 - m1 / w1) * (m0 / w0 - m1 / w1);
		if (v > best + 1e-12) {
			best = v;
			level = t;
		}
	}
	return level;
}

struct ref_blob {
	uint32_t area, first;
	uint16_t x0, y0, x1, y1, cx, cy;
};

static int ref_blob_cmp(const void *pa, const void *pb)
{
	const struct ref_blob *a = pa, *b = pb;

	if (a->area != b->area)
		return a->area > b->area ? -1 : 1;
	return a->first < b->first ? -1 : a->first > b->first;
}

/* Breadth-first flood fill of the foreground; blobs sorted largest first. */
static uint32_t ref_blobs(const uint8_t *plane, uint32_t w, uint32_t h, unsigned int level,
			  uint32_t flags, uint32_t min_area, struct ref_blob **out)
{
	static const int nb[8][2] = { { 1, 0 }, { -1, 0 }, { 0, 1 },  { 0, -1 },
				      { 1, 1 }, { 1, -1 }, { -1, 1 }, { -1, -1 } };
	int nn = flags & EP_BLOBS_F_CONN8 ? 8 : 4, dark = !!(flags & EP_BLOBS_F_DARK);
	size_t npx = (size_t)w * h;
	uint8_t *seen = calloc(npx, 1);
	uint32_t *queue = malloc(npx * sizeof(*queue)), n = 0, cap = 64;
	struct ref_blob *list = malloc(cap * sizeof(*list));

	for (uint32_t s = 0; s < npx; s++) {
		uint64_t sx = 0, sy = 0;
		struct ref_blob b = { .first = s, .x0 = UINT16_MAX, .y0 = UINT16_MAX };
		uint32_t head = 0, tail = 0;

		if (seen[s] || (plane[s] > level) == dark)
			continue;
		seen[s] = 1;
		queue[tail++] = s;
		while (head < tail) {
			uint32_t p = queue[head++], x = p % w, y = p / w;

			b.area++;
			sx += x;
			sy += y;
			b.x0 = x < b.x0 ? x : b.x0;
			b.x1 = x > b.x1 ? x : b.x1;
			b.y0 = y < b.y0 ? y : b.y0;
			b.y1 = y > b.y1 ? y : b.y1;
			for (int k = 0; k < nn; k++) {
				long nx = (long)x + nb[k][0], ny = (long)y + nb[k][1];
				uint32_t q;

				if (nx < 0 || ny < 0 || nx >= w || ny >= h)
					continue;
				q = (uint32_t)(ny * w + nx);
				if (!seen[q] && (plane[q] > level) != dark) {
					seen[q] = 1;
					queue[tail++] = q;
				}
			}
		}
		if (b.area < min_area)
			continue;
		if ((flags & EP_BLOBS_F_NO_BORDER) &&
		    (!b.x0 || !b.y0 || b.x1 == w - 1 || b.y1 == h - 1))
			continue;
		b.cx = (uint16_t)((2 * sx + b.area) / (2 * (uint64_t)b.area));
		b.cy = (uint16_t)((2 * sy + b.area) / (2 * (uint64_t)b.area));
		if (n == cap) {
			struct ref_blob *more = realloc(list, (cap *= 2) * sizeof(*list));

			if (!more)
				abort(); /* the reference cannot go on without memory */
			list = more;
		}
		list[n++] = b;
	}
	qsort(list, n, sizeof(*list), ref_blob_cmp);
	free(seen);
	free(queue);
	*out = list;
	return n;
}

/* Compare a blobs result with the reference list. */
static void expect_blobs(const struct hrun_result *r, const struct ref_blob *ref, uint32_t nref,
			 unsigned int level)
{
	struct ep_blobs_result hdr;
	uint32_t reported = nref < EP_BLOBS_MAX_REPORTED ? nref : EP_BLOBS_MAX_REPORTED;

	EXPECT_OK(*r);
	if (r->res.status != EP_ST_OK)
		return;
	memcpy(&hdr, r->res.data, sizeof(hdr));
	EXPECT_EQ(ep_be32(hdr.count), nref);
	EXPECT_EQ(ep_be32(hdr.reported), reported);
	EXPECT_EQ(ep_be16(hdr.level), level);
	EXPECT(!hdr.rsvd && !hdr.rsvd2);
	EXPECT_EQ(r->res.len, sizeof(hdr) + reported * sizeof(struct ep_blob_box));
	for (uint32_t i = 0; i < reported && ep_be32(hdr.reported) == reported; i++) {
		struct ep_blob_box b;
		const struct ref_blob *e = &ref[i];

		memcpy(&b, r->res.data + sizeof(hdr) + i * sizeof(b), sizeof(b));
		if (ep_be32(b.area) != e->area || ep_be16(b.x0) != e->x0 ||
		    ep_be16(b.y0) != e->y0 || ep_be16(b.x1) != e->x1 || ep_be16(b.y1) != e->y1 ||
		    ep_be16(b.cx) != e->cx || ep_be16(b.cy) != e->cy) {
			tap_diag("blob %u: got area %u box %u,%u-%u,%u c %u,%u; want area %u "
				 "box %u,%u-%u,%u c %u,%u",
				 i, ep_be32(b.area), ep_be16(b.x0), ep_be16(b.y0), ep_be16(b.x1),
				 ep_be16(b.y1), ep_be16(b.cx), ep_be16(b.cy), e->area, e->x0, e->y0,
				 e->x1, e->y1, e->cx, e->cy);
			tap_case_failed = 1;
			break;
		}
	}
}

/* Run blobs on @plane-derived task @task and compare with flood fill of @plane. */
static void check_blobs(struct inst *in, const uint8_t *task, uint32_t len, const uint8_t *plane,
			uint32_t w, uint32_t h, unsigned int level, uint32_t flags,
			uint32_t min_area)
{
	struct ref_blob *ref;
	uint32_t n = ref_blobs(plane, w, h, level, flags, min_area, &ref);
	struct hrun_result r = run1(in, task, len);

	expect_blobs(&r, ref, n, level);
	result_free(&r);
	free(ref);
}

/* ---- the handler table ----------------------------------------------------------- */

static void test_table(void)
{
	static const uint16_t types[] = { EP_TT_ECHO,	   EP_TT_CHECKSUM,   EP_TT_RESIZE,
					  EP_TT_BOX_BLUR,  EP_TT_GAUSS_BLUR, EP_TT_SOBEL,
					  EP_TT_THRESHOLD, EP_TT_BLOBS,	     EP_TT_ZSTD,
					  EP_TT_MATMUL,	   EP_TT_INFER };
	unsigned int n = 0;

	tap_begin();
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++, n++) {
		EXPECT_EQ((*h)->abi_version, EP_HANDLER_ABI_VERSION);
		EXPECT((*h)->name && (*h)->out_size && (*h)->run);
		EXPECT(!(*h)->init == !(*h)->fini);
		for (const struct ep_handler *const *o = ep_builtin_handlers; *o != *h; o++) {
			EXPECT(strcmp((*o)->name, (*h)->name));
			EXPECT((*o)->default_type != (*h)->default_type);
		}
		EXPECT(n < sizeof(types) / sizeof(types[0]) && (*h)->default_type == types[n]);
	}
	EXPECT_EQ(n, sizeof(types) / sizeof(types[0]));
	tap_end("builtin table: %u handlers, unique names and task types", n);
}

/* ---- work ------------------------------------------------------------------------- */

static uint8_t *work_img(uint32_t w, uint32_t h, uint16_t a0, uint32_t a2, struct ep_hreq *rq)
{
	struct ep_img_hdr hdr = { ep_be16(w), ep_be16(h), ep_be16(a0), 0, ep_be32(a2), 0 };
	uint8_t *p = calloc(1, sizeof(hdr) + (size_t)w * h);

	memcpy(p, &hdr, sizeof(hdr));
	*rq = (struct ep_hreq){ .data = p, .len = (uint32_t)(sizeof(hdr) + (size_t)w * h) };
	return p;
}

/* Every built-in declares its work; the formulas docs/handlers.md gives; hostile headers
 * do not make it fail or overflow. */
static void test_work(void)
{
	struct ep_matmul_req mm = { ep_be32(2048), ep_be32(1023), ep_be32(2047), 0 };
	uint8_t z19[4 + 1000] = { 19 }, z1[4 + 1000] = { 1 }, zbad[8] = { 42 };
	struct ep_hreq rq = { .data = (const uint8_t *)&mm, .len = sizeof(mm) };
	struct inst in;
	uint8_t *p;

	tap_begin();
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++)
		EXPECT((*h)->work);
	EXPECT_EQ(ep_matmul_handler.work(NULL, &rq),
		  2ull * 2048 * 1023 * 2047 + 40ull * (2048 * 1023 + 1023 * 2047 + 2048 * 2047));
	EXPECT(ep_matmul_handler.work(NULL, &rq) > 4000000000ull); /* the case */
	mm.n = ep_be32(9999);					   /* invalid: its bytes */
	EXPECT_EQ(ep_matmul_handler.work(NULL, &rq), sizeof(mm));
	rq = (struct ep_hreq){ .data = z19, .len = sizeof(z19) };
	EXPECT_EQ(ep_zstd_handler.work(NULL, &rq), 1000ull * 50000); /* a small input */
	{
		uint8_t *big = calloc(1, 4 + (200u << 10));

		big[0] = 19;
		rq = (struct ep_hreq){ .data = big, .len = 4 + (200u << 10) };
		EXPECT_EQ(ep_zstd_handler.work(NULL, &rq), (200ull << 10) * 256000);
		free(big);
	}
	rq = (struct ep_hreq){ .data = z1, .len = sizeof(z1) };
	EXPECT_EQ(ep_zstd_handler.work(NULL, &rq), 1000ull * 160);
	rq = (struct ep_hreq){ .data = zbad, .len = sizeof(zbad) };
	EXPECT_EQ(ep_zstd_handler.work(NULL, &rq), sizeof(zbad));
	rq.len = 2;
	EXPECT_EQ(ep_zstd_handler.work(NULL, &rq), 2);
	rq = (struct ep_hreq){ .data = z1, .len = 1000 };
	EXPECT_EQ(ep_echo_handler.work(NULL, &rq), 7000);
	EXPECT_EQ(ep_checksum_handler.work(NULL, &rq), 40000);
	tap_end("work: every built-in declares it; matmul 2nkm + 40 (nk + km + nm), the issue's "
		"2048x1023x2047 above the default cap; zstd by level; bad headers count bytes");

	tap_begin();
	p = work_img(100, 50, 0, 0, &rq);
	EXPECT_EQ(ep_sobel_handler.work(NULL, &rq), 5000ull * 210);
	EXPECT_EQ(ep_threshold_handler.work(NULL, &rq), 5000ull * 80);
	EXPECT_EQ(ep_box_blur_handler.work(NULL, &rq), 5000ull * 100);
	EXPECT_EQ(ep_gauss_blur_handler.work(NULL, &rq), rq.len); /* sigma 0: refused */
	free(p);
	p = work_img(100, 50, 2000, 0, &rq); /* sigma 20: radius 60, 242 taps */
	EXPECT_EQ(ep_gauss_blur_handler.work(NULL, &rq), 5000ull * (40 + 12 * 242));
	free(p);
	p = work_img(16, 16, 4096, 0, &rq); /* resize 16x16 -> 4096 x 0: refused anyway */
	((uint8_t *)p)[6] = 0x0f, ((uint8_t *)p)[7] = 0xa0; /* arg1 = 4000 */
	EXPECT_EQ(ep_resize_handler.work(NULL, &rq), 150ull * 4096 * 4000 + 10 * 256);
	free(p);
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	p = work_img(100, 50, 0, EP_BLOBS_F_BLUR, &rq);
	EXPECT(ep_blobs_handler.work(in.state, &rq) > 5000ull * 320);
	free(p);
	p = work_img(100, 50, 0, 0, &rq);
	EXPECT_EQ(ep_blobs_handler.work(in.state, &rq), 5000ull * 320);
	free(p);
	inst_fini(&in);
	rq = (struct ep_hreq){ .data = z1, .len = 3 }; /* no image header */
	EXPECT_EQ(ep_sobel_handler.work(NULL, &rq), 3);
	EXPECT_EQ(ep_blobs_handler.work(NULL, &rq), 3);
	tap_end("work: image handlers count pixels times taps (gauss by its radius, resize by "
		"its output, blobs with its blur)");
}

/* ---- echo and checksum ----------------------------------------------------------- */

static void test_echo(const struct image *im)
{
	struct inst in;
	struct hrun_result r;

	tap_begin();
	EXPECT_EQ(inst_init(&in, &ep_echo_handler, NULL, 0), 0);
	r = run1(&in, im->px, im->w * im->h);
	EXPECT_OK(r);
	EXPECT(r.res.len == im->w * im->h && !memcmp(r.res.data, im->px, r.res.len));
	result_free(&r);
	r = run1(&in, "", 0);
	EXPECT_OK(r);
	EXPECT_EQ(r.res.len, 0);
	result_free(&r);
	inst_fini(&in);
	tap_end("echo: camera.png and an empty payload come back unchanged");
}

static void expect_checksum(struct inst *in, const void *data, uint32_t len, uint32_t crc,
			    uint64_t xxh)
{
	struct ep_checksum_result c;
	struct hrun_result r = run1(in, data, len);

	EXPECT_OK(r);
	EXPECT_EQ(r.res.len, sizeof(c));
	memcpy(&c, r.res.data, sizeof(c));
	EXPECT_EQ(ep_be32(c.crc32), crc);
	EXPECT_EQ(ep_be64(c.xxh3), xxh);
	EXPECT_EQ(c.rsvd, 0);
	result_free(&r);
}

static void test_checksum(const struct image *im)
{
	static const uint8_t kat[] = { 0xcb, 0xf4, 0x39, 0x26 }; /* CRC-32 "123456789" */
	uint32_t n = im->w * im->h;
	struct hrun_result r;
	struct inst in;

	tap_begin();
	EXPECT_EQ(inst_init(&in, &ep_checksum_handler, NULL, 0), 0);
	/* Known answers: the CRC-32 check value, XXH3-64 of nothing. */
	expect_checksum(&in, "123456789", 9, 0xcbf43926, XXH3_64bits("123456789", 9));
	expect_checksum(&in, "", 0, 0, 0x2d06800538d394c2ull);
	expect_checksum(&in, im->px, n, (uint32_t)crc32(0, im->px, n), XXH3_64bits(im->px, n));
	r = run1(&in, "123456789", 9);
	EXPECT(r.res.len >= 4 && !memcmp(r.res.data, kat, 4)); /* big-endian on the wire */
	result_free(&r);
	inst_fini(&in);
	tap_end("checksum: CRC-32 and XXH3-64 known answers, coins.png against zlib/libxxhash");
}

/* ---- image -> image ---------------------------------------------------------------- */

static void test_box(const struct image *im, unsigned int r, const char *name)
{
	size_t n = (size_t)im->w * im->h, nd;
	uint8_t *want = malloc(n), *got;

	tap_begin();
	ref_box(im, r, want);
	got = run_image(&ep_box_blur_handler, im, r, 0, im->w, im->h);
	EXPECT(got && max_diff(got, want, n, &nd) == 0);
	free(got);
	free(want);
	tap_end("box blur r=%u of %s (%ux%u) equals the naive mean", r, name, im->w, im->h);
}

static void test_gauss(const struct image *im, unsigned int sigma_centi, const char *name)
{
	size_t n = (size_t)im->w * im->h, nd = 0;
	uint8_t *want = malloc(n), *got;
	int md = -1;

	tap_begin();
	ref_gauss(im, sigma_centi, want);
	got = run_image(&ep_gauss_blur_handler, im, sigma_centi, 0, im->w, im->h);
	if (got)
		md = max_diff(got, want, n, &nd);
	EXPECT(md >= 0 && md <= 1);
	EXPECT(nd <= n / 20);
	free(got);
	free(want);
	tap_end("gauss blur sigma %u.%02u of %s within 1 of 2D convolution (%zu of %zu differ)",
		sigma_centi / 100, sigma_centi % 100, name, nd, n);
}

static void test_sobel(const struct image *im, const char *name)
{
	size_t n = (size_t)im->w * im->h, nd;
	uint8_t *want = malloc(n), *got;

	tap_begin();
	ref_sobel(im, want);
	got = run_image(&ep_sobel_handler, im, 0, 0, im->w, im->h);
	EXPECT(got && max_diff(got, want, n, &nd) == 0);
	free(got);
	free(want);
	tap_end("sobel of %s equals the per-pixel reference", name);
}

static void test_resize(const struct image *im, uint32_t dw, uint32_t dh, const char *name)
{
	size_t n = (size_t)dw * dh, nd = 0;
	uint8_t *want = malloc(n), *got;
	int md = -1;

	tap_begin();
	ref_resize(im, dw, dh, want);
	got = run_image(&ep_resize_handler, im, dw, dh, dw, dh);
	if (got)
		md = max_diff(got, want, n, &nd);
	EXPECT(md >= 0 && md <= 1);
	free(got);
	free(want);
	tap_end("resize %s %ux%u -> %ux%u within 1 of bilinear in double (%zu differ)", name, im->w,
		im->h, dw, dh, nd);
}

static void test_threshold(const struct image *im, const char *name)
{
	static const unsigned int levels[] = { 0, 100, 254, 255, EP_IMG_OTSU };
	size_t n = (size_t)im->w * im->h;

	for (unsigned int i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		unsigned int level = levels[i] == EP_IMG_OTSU ? ref_otsu(im->px, n) : levels[i];

		tap_begin();
		for (unsigned int inv = 0; inv <= 1; inv++) {
			uint8_t *got =
				run_image(&ep_threshold_handler, im, levels[i], inv, im->w, im->h);
			size_t bad = 0;

			for (size_t p = 0; got && p < n; p++)
				bad += got[p] != (((im->px[p] > level) ^ inv) ? 255 : 0);
			EXPECT(got && !bad);
			free(got);
		}
		tap_end("threshold %s at %s%u, plain and inverted", name,
			levels[i] == EP_IMG_OTSU ? "Otsu's level " : "", level);
	}
}

/* ---- blobs ------------------------------------------------------------------------- */

/* The known fact: coins.png shows 24 coins. */
#define COINS_LEVEL    120
#define COINS_MIN_AREA 300
#define COINS_FLAGS    (EP_BLOBS_F_BLUR | EP_BLOBS_F_CONN8 | EP_BLOBS_F_NO_BORDER)

static uint32_t coins_count(struct inst *in, const struct image *im, unsigned int level,
			    unsigned int min_area, struct hrun_result *keep)
{
	uint32_t len, count = 0;
	uint8_t *task = img_task(im->px, im->w, im->h, level, min_area, COINS_FLAGS, &len);
	struct hrun_result r = run1(in, task, len);
	struct ep_blobs_result hdr;

	EXPECT_OK(r);
	if (r.res.status == EP_ST_OK) {
		memcpy(&hdr, r.res.data, sizeof(hdr));
		count = ep_be32(hdr.count);
	}
	if (keep)
		*keep = r;
	else
		result_free(&r);
	free(task);
	return count;
}

static void test_coins(const struct image *im)
{
	static const unsigned int levels[] = { 110, 115, 125, 130 }, areas[] = { 150, 1000 };
	struct ep_blobs_result hdr;
	struct hrun_result r;
	struct inst in;
	uint32_t count;

	tap_begin();
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	count = coins_count(&in, im, COINS_LEVEL, COINS_MIN_AREA, &r);
	EXPECT_EQ(count, 24);
	memcpy(&hdr, r.res.data, sizeof(hdr));
	EXPECT_EQ(ep_be32(hdr.reported), count);
	/* Each blob is one coin: 1000..3500 pixels, a roughly square box. */
	for (uint32_t i = 0; i < count && r.res.len >= sizeof(hdr) + 16 * (i + 1); i++) {
		struct ep_blob_box b;
		double bw, bh;

		memcpy(&b, r.res.data + sizeof(hdr) + 16 * i, sizeof(b));
		bw = ep_be16(b.x1) - ep_be16(b.x0) + 1;
		bh = ep_be16(b.y1) - ep_be16(b.y0) + 1;
		EXPECT(ep_be32(b.area) >= 1000 && ep_be32(b.area) <= 3500);
		EXPECT(bw / bh > 0.8 && bw / bh < 1.25);
	}
	result_free(&r);
	tap_end("blobs: 24 coins in coins.png (blur, 8-conn, no border, level %u, min area %u)",
		COINS_LEVEL, COINS_MIN_AREA);

	tap_begin();
	for (unsigned int i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		EXPECT_EQ(coins_count(&in, im, levels[i], COINS_MIN_AREA, NULL), 24);
	for (unsigned int i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
		EXPECT_EQ(coins_count(&in, im, COINS_LEVEL, areas[i], NULL), 24);
	inst_fini(&in);
	tap_end("blobs: the coin count holds for levels 110..130 and min areas 150..1000");
}

static void test_blobs_vs_flood(const struct image *im, const char *name, unsigned int level,
				uint32_t flags, uint32_t min_area)
{
	size_t n = (size_t)im->w * im->h;
	unsigned int lv = level == EP_IMG_OTSU ? ref_otsu(im->px, n) : level;
	uint32_t len;
	uint8_t *task = img_task(im->px, im->w, im->h, level, min_area, flags, &len);
	struct inst in;

	tap_begin();
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	check_blobs(&in, task, len, im->px, im->w, im->h, lv, flags, min_area);
	inst_fini(&in);
	free(task);
	tap_end("blobs of %s (level %u, flags %#x, min area %u) match flood fill", name, lv, flags,
		min_area);
}

/* With EP_BLOBS_F_BLUR: flood fill of the gauss_blur handler's sigma 1.0 output. */
static void test_blobs_blur(const struct image *im, const char *name)
{
	uint32_t flags = EP_BLOBS_F_BLUR | EP_BLOBS_F_CONN8, len;
	uint8_t *blurred, *task;
	struct inst in;

	tap_begin();
	blurred = run_image(&ep_gauss_blur_handler, im, 100, 0, im->w, im->h);
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	task = img_task(im->px, im->w, im->h, EP_IMG_OTSU, 20, flags, &len);
	if (blurred)
		check_blobs(&in, task, len, blurred, im->w, im->h,
			    ref_otsu(blurred, (size_t)im->w * im->h), flags, 20);
	inst_fini(&in);
	free(task);
	free(blurred);
	tap_end("blobs of %s with blur and Otsu match flood fill of the blurred frame", name);
}

/* Noise: thousands of blobs, so only the largest 1024 are listed (ties by raster order). */
static void test_blobs_many(void)
{
	struct image im = { malloc(300 * 200), 300, 200 };
	uint32_t len, n;
	struct ref_blob *ref;
	struct hrun_result r;
	struct inst in;
	uint8_t *task;

	rnd_seed(7);
	for (size_t i = 0; i < 300 * 200; i++)
		im.px[i] = (uint8_t)rnd();
	tap_begin();
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	for (uint32_t flags = 0; flags <= EP_BLOBS_F_CONN8; flags += EP_BLOBS_F_CONN8) {
		/* about half the pixels on with 4-connectivity, a fifth with 8 */
		unsigned int level = flags ? 200 : 127;

		task = img_task(im.px, im.w, im.h, level, 0, flags, &len);
		n = ref_blobs(im.px, im.w, im.h, level, flags, 0, &ref);
		EXPECT(n > EP_BLOBS_MAX_REPORTED);
		r = run1(&in, task, len);
		expect_blobs(&r, ref, n, level);
		result_free(&r);
		free(ref);
		free(task);
	}
	inst_fini(&in);
	free(im.px);
	tap_end("blobs of random noise: exact count, the largest 1024 listed in order");
}

/* Two gray levels: every threshold between them separates the classes equally well, and
 * Otsu's method takes the first, 10. */
static void test_blobs_otsu_tie(void)
{
	static const uint8_t px[8] = { 10, 10, 200, 200, 10, 10, 200, 200 };
	struct ref_blob *ref;
	struct inst in;
	uint32_t len, n;
	uint8_t *task = img_task(px, 4, 2, EP_IMG_OTSU, 0, 0, &len);
	struct hrun_result r;

	tap_begin();
	EXPECT_EQ(ref_otsu(px, 8), 10);
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, NULL, 0), 0);
	n = ref_blobs(px, 4, 2, 10, 0, 0, &ref);
	r = run1(&in, task, len);
	expect_blobs(&r, ref, n, 10);
	result_free(&r);
	inst_fini(&in);
	free(ref);
	free(task);
	tap_end("blobs: Otsu's level of a two-level frame is the first of the equal optima");
}

/* Paint @n disks into a copy of @im, each pixel moved by 100 gray levels. */
static uint8_t *paint_defects(const struct image *im, const uint32_t (*disk)[3], unsigned int n,
			      uint32_t *area)
{
	uint8_t *px = malloc((size_t)im->w * im->h);

	memcpy(px, im->px, (size_t)im->w * im->h);
	for (unsigned int k = 0; k < n; k++) {
		long cx = disk[k][0], cy = disk[k][1], r = disk[k][2];

		area[k] = 0;
		for (long y = cy - r; y <= cy + r; y++)
			for (long x = cx - r; x <= cx + r; x++) {
				uint8_t *p = &px[y * im->w + x];

				if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > r * r)
					continue;
				*p = *p < 128 ? *p + 100 : *p - 100;
				area[k]++;
			}
	}
	return px;
}

static void test_blobs_reference(const struct image *im)
{
	/* x, y, radius; largest first, as the result lists them */
	static const uint32_t disk[][3] = {
		{ 250, 300, 20 }, { 100, 100, 12 }, { 60, 450, 7 }, { 400, 90, 3 }, { 470, 470, 1 }
	};
	const unsigned int nd = sizeof(disk) / sizeof(disk[0]);
	uint32_t area[5], len, flags = EP_BLOBS_F_REFERENCE | EP_BLOBS_F_CONN8;
	uint8_t *frame, *diff, *task, *file;
	struct ep_blob ref = { .path = "camera.png" };
	struct ref_blob *want;
	struct inst in;

	tap_begin();
	file = png_bytes(im->px, im->w, im->h, &ref.len);
	ref.data = file;
	EXPECT(file != NULL);
	EXPECT_EQ(inst_init(&in, &ep_blobs_handler, &ref, 1), 0);

	frame = paint_defects(im, disk, nd, area);
	diff = malloc((size_t)im->w * im->h);
	for (size_t i = 0; i < (size_t)im->w * im->h; i++)
		diff[i] = (uint8_t)abs(frame[i] - im->px[i]);
	task = img_task(frame, im->w, im->h, 50, 1, flags, &len);
	check_blobs(&in, task, len, diff, im->w, im->h, 50, flags, 1);
	EXPECT_EQ(ref_blobs(diff, im->w, im->h, 50, flags, 1, &want), nd);
	for (unsigned int k = 0; k < nd; k++)
		EXPECT_EQ(want[k].area, area[k]); /* the disks are listed largest first */
	free(want);
	free(task);

	/* A frame of another size cannot be compared with the reference. */
	task = img_task(frame, im->w - 1, im->h, 50, 1, flags, &len);
	{
		struct hrun_result r = run1(&in, task, len);

		EXPECT_INVALID(r);
		result_free(&r);
	}
	free(task);
	inst_fini(&in);
	free(frame);
	free(diff);
	free(file);
	tap_end("blobs against a reference frame find the %u painted defects exactly", nd);

	tap_begin();
	{
		struct ep_blob two[2] = { ref, ref };
		struct ep_blob bad = { .path = "junk", .data = (const uint8_t *)"x", .len = 1 };
		struct inst none;
		struct hrun_result r;

		EXPECT_EQ(inst_init(&in, &ep_blobs_handler, two, 2), -EINVAL);
		EXPECT_EQ(inst_init(&in, &ep_blobs_handler, &bad, 1), -EINVAL);
		EXPECT_EQ(inst_init(&none, &ep_blobs_handler, NULL, 0), 0);
		task = img_task(im->px, im->w, im->h, 50, 1, flags, &len);
		r = run1(&none, task, len);
		EXPECT_INVALID(r);
		result_free(&r);
		free(task);
		inst_fini(&none);
	}
	tap_end("blobs: two files or a corrupt reference fail init; REFERENCE without one fails");
}

/* ---- zstd and matmul --------------------------------------------------------------- */

static uint8_t *zstd_task(uint8_t level, const void *data, uint32_t n, uint32_t *len)
{
	uint8_t *p = malloc(4 + n);

	p[0] = level;
	p[1] = p[2] = p[3] = 0;
	memcpy(p + 4, data, n);
	*len = 4 + n;
	return p;
}

static void test_zstd(const struct image *im)
{
	static const uint8_t levels[] = { 1, 3, 19 };
	uint32_t n = im->w * im->h, len;
	uint8_t *back = malloc(n + 1), *task;
	struct inst in;

	EXPECT_EQ(inst_init(&in, &ep_zstd_handler, NULL, 0), 0);
	for (unsigned int i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct hrun_result r;
		size_t got;

		tap_begin();
		task = zstd_task(levels[i], im->px, n, &len);
		r = run1(&in, task, len);
		EXPECT_OK(r);
		EXPECT(r.bound >= ZSTD_compressBound(n));
		EXPECT(r.res.len > 0 && r.res.len < n);
		EXPECT_EQ(ZSTD_getFrameContentSize(r.res.data, r.res.len), n);
		got = ZSTD_decompress(back, n + 1, r.res.data, r.res.len);
		EXPECT(got == n && !memcmp(back, im->px, n));
		tap_end("zstd level %u of camera.png: %u -> %u bytes, decompresses to the input",
			levels[i], n, r.res.len);
		result_free(&r);
		free(task);
	}
	tap_begin();
	{
		struct hrun_result r = run1(&in, "\x03\0\0\0", 4);

		EXPECT_OK(r);
		EXPECT_EQ(ZSTD_decompress(back, 1, r.res.data, r.res.len), 0);
		result_free(&r);
	}
	tap_end("zstd of empty data is a valid empty frame");
	inst_fini(&in);
	free(back);
}

static uint8_t *matmul_task(uint32_t n, uint32_t k, uint32_t m, float *a, float *b, uint32_t *len)
{
	struct ep_matmul_req hdr = { ep_be32(n), ep_be32(k), ep_be32(m), 0 };
	size_t na = (size_t)n * k, nb = (size_t)k * m;
	uint8_t *p;

	*len = sizeof(hdr) + 4 * (na + nb);
	p = malloc(*len);
	memcpy(p, &hdr, sizeof(hdr));
	for (size_t i = 0; i < na + nb; i++) {
		float v = i < na ? a[i] : b[i - na];
		uint32_t u;

		memcpy(&u, &v, 4);
		u = htole32(u);
		memcpy(p + sizeof(hdr) + 4 * i, &u, 4);
	}
	return p;
}

/* Random A and B; C compared with a double triple loop, relative to sum |a||b|. */
static void check_matmul(struct inst *in, uint32_t n, uint32_t k, uint32_t m, int misalign)
{
	float *a = malloc(sizeof(float) * n * k), *b = malloc(sizeof(float) * k * m);
	struct ep_matmul_result hdr;
	uint8_t *task, *shifted, *out;
	struct hrun_result r;
	uint32_t len, bad = 0;

	for (size_t i = 0; i < (size_t)n * k; i++)
		a[i] = (float)((int64_t)(rnd() % 2001) - 1000) / 1000.0f;
	for (size_t i = 0; i < (size_t)k * m; i++)
		b[i] = (float)((int64_t)(rnd() % 2001) - 1000) / 1000.0f;
	task = matmul_task(n, k, m, a, b, &len);
	/* Call the handler directly: payload and result at @misalign from malloc's alignment. */
	shifted = malloc(len + misalign);
	memcpy(shifted + misalign, task, len);
	{
		struct ep_hreq req = { .data = shifted + misalign, .len = len };

		r.bound = in->h->out_size(in->state, &req);
		out = malloc(r.bound + misalign);
		r.res = (struct ep_hres){ .data = out + misalign, .cap = r.bound };
		EXPECT_EQ(in->h->run(in->state, &req, &r.res, 1), 0);
	}
	EXPECT_OK(r);
	EXPECT_EQ(r.res.len, 8 + 4ull * n * m);
	memcpy(&hdr, r.res.data, sizeof(hdr));
	EXPECT(ep_be32(hdr.n) == n && ep_be32(hdr.m) == m);
	for (uint32_t i = 0; i < n && r.res.len == 8 + 4ull * n * m; i++)
		for (uint32_t j = 0; j < m; j++) {
			double s = 0, mag = 0;

			for (uint32_t p = 0; p < k; p++) {
				s += (double)a[i * k + p] * b[p * m + j];
				mag += fabs((double)a[i * k + p] * b[p * m + j]);
			}
			bad += fabs(get_lef(r.res.data + 8 + 4 * ((size_t)i * m + j)) - s) >
			       1e-5 * mag + 1e-6;
		}
	EXPECT_EQ(bad, 0);
	free(out);
	free(shifted);
	free(task);
	free(a);
	free(b);
}

static void test_matmul(void)
{
	static const uint32_t dims[][3] = { { 1, 1, 1 },    { 3, 4, 5 },      { 17, 33, 9 },
					    { 64, 64, 64 }, { 130, 257, 71 }, { 1, 2048, 1 },
					    { 2048, 1, 3 } };
	struct inst in;

	EXPECT_EQ(inst_init(&in, &ep_matmul_handler, NULL, 0), 0);
	rnd_seed(40);
	for (unsigned int i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		tap_begin();
		check_matmul(&in, dims[i][0], dims[i][1], dims[i][2], 0);
		tap_end("matmul %ux%u x %ux%u matches the triple loop", dims[i][0], dims[i][1],
			dims[i][1], dims[i][2]);
	}
	tap_begin();
	check_matmul(&in, 5, 7, 3, 1);
	tap_end("matmul with a misaligned payload and result goes through scratch, same result");
	inst_fini(&in);
}

/* ---- batches ----------------------------------------------------------------------- */

static void check_batch(struct inst *in, uint8_t **task, uint32_t *len, const uint16_t *want,
			unsigned int n)
{
	struct hrun_result r[16], one;

	EXPECT_EQ(run_batch(in, (const uint8_t *const *)task, len, n, r), 0);
	for (unsigned int i = 0; i < n; i++) {
		EXPECT_EQ(r[i].res.status, want[i]);
		EXPECT(r[i].res.len <= r[i].bound);
		if (want[i] != EP_ST_OK) {
			EXPECT_EQ(r[i].res.len, 0);
		} else {
			/* the same as alone */
			one = run1(in, task[i], len[i]);
			EXPECT(one.res.len == r[i].res.len &&
			       !memcmp(one.res.data, r[i].res.data, one.res.len));
			result_free(&one);
		}
		result_free(&r[i]);
	}
}

/* Run the @n tasks (@task, @len) as one batch on a fresh instance of @h, and check each
 * against @want as check_batch() does; then free the tasks. */
static void expect_batch(const struct ep_handler *h, uint8_t **task, uint32_t *len,
			 const uint16_t *want, unsigned int n)
{
	struct inst in;

	EXPECT_EQ(inst_init(&in, h, NULL, 0), 0);
	check_batch(&in, task, len, want, n);
	inst_fini(&in);
	for (unsigned int i = 0; i < n; i++)
		free(task[i]);
}

static void test_batches(const struct image *cam, const struct image *coins)
{
	struct image small = crop(cam, 200, 200, 40, 30);
	uint8_t *task[8];
	uint32_t len[8];

	tap_begin();
	{
		static const uint16_t want[] = { EP_ST_OK,
						 EP_ST_INVALID_INPUT,
						 EP_ST_OK,
						 EP_ST_INVALID_INPUT,
						 EP_ST_INVALID_INPUT,
						 EP_ST_OK };

		task[0] = img_task(cam->px, cam->w, cam->h, 3, 0, 0, &len[0]);
		task[1] = img_task(cam->px, cam->w, cam->h, 3, 0, 0, &len[1]);
		len[1] = 10;
		task[2] = img_task(coins->px, coins->w, coins->h, 1, 0, 0, &len[2]);
		task[3] = img_task(small.px, small.w, small.h, 65, 0, 0, &len[3]);
		task[4] = img_task(small.px, small.w, small.h, 2, 0, 0, &len[4]);
		task[4][15] = 1; /* rsvd */
		task[5] = img_task(small.px, small.w, small.h, 64, 0, 0, &len[5]);
		expect_batch(&ep_box_blur_handler, task, len, want, 6);
	}
	tap_end("box blur batch of 6, valid and invalid mixed: each task its own status");

	tap_begin();
	{
		static const uint16_t want[] = { EP_ST_OK, EP_ST_INVALID_INPUT, EP_ST_OK,
						 EP_ST_INVALID_INPUT };

		task[0] = img_task(coins->px, coins->w, coins->h, COINS_LEVEL, COINS_MIN_AREA,
				   COINS_FLAGS, &len[0]);
		task[1] = img_task(coins->px, coins->w, coins->h, 100, 0, 0x40, &len[1]);
		task[2] = img_task(small.px, small.w, small.h, EP_IMG_OTSU, 0, 0, &len[2]);
		task[3] = img_task(small.px, small.w, small.h, 300, 0, 0, &len[3]);
		expect_batch(&ep_blobs_handler, task, len, want, 4);
	}
	tap_end("blobs batch of 4, valid and invalid mixed");

	tap_begin();
	{
		static const uint16_t want[] = { EP_ST_OK, EP_ST_INVALID_INPUT, EP_ST_OK,
						 EP_ST_INVALID_INPUT, EP_ST_OK };
		float a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 1, 0, 0, 1, 1, 1 };

		task[0] = matmul_task(2, 3, 2, a, b, &len[0]);
		task[1] = matmul_task(2, 3, 2, a, b, &len[1]);
		len[1] -= 1;
		task[2] = matmul_task(1, 1, 1, (float[]){ 2 }, (float[]){ 3 }, &len[2]);
		task[3] = matmul_task(2, 3, 2, a, b, &len[3]);
		task[3][3] = 0; /* n = 0 */
		task[4] = matmul_task(3, 2, 1, a, b, &len[4]);
		expect_batch(&ep_matmul_handler, task, len, want, 5);
	}
	tap_end("matmul batch of 5, valid and invalid mixed");

	tap_begin();
	{
		static const uint16_t want[] = { EP_ST_OK, EP_ST_INVALID_INPUT, EP_ST_OK,
						 EP_ST_INVALID_INPUT };

		task[0] = zstd_task(3, cam->px, 5000, &len[0]);
		task[1] = zstd_task(0, cam->px, 5000, &len[1]);
		task[2] = zstd_task(19, coins->px, 7000, &len[2]);
		task[3] = zstd_task(3, cam->px, 10, &len[3]);
		task[3][2] = 1;
		expect_batch(&ep_zstd_handler, task, len, want, 4);
	}
	tap_end("zstd batch of 4, valid and invalid mixed");
	free(small.px);
}

/* ---- hostile input ----------------------------------------------------------------- */

static void expect_invalid(struct inst *in, const void *data, uint32_t len)
{
	struct hrun_result r = run1(in, data, len);

	EXPECT_INVALID(r);
	result_free(&r);
}

struct arg_case {
	uint32_t a0, a1, a2;
};

/* Header and length rules every image handler shares, then the handler's bad args. */
static void hostile_image(const struct ep_handler *h, struct arg_case ok,
			  const struct arg_case *bad, unsigned int nbad)
{
	static const uint8_t px[6 * 5] = { 9, 200, 3, 77 };
	struct ep_img_hdr hdr;
	uint32_t len;
	uint8_t *t = img_task(px, 6, 5, ok.a0, ok.a1, ok.a2, &len), *big;
	struct inst in;
	struct hrun_result r;

	tap_begin();
	EXPECT_EQ(inst_init(&in, h, NULL, 0), 0);
	r = run1(&in, t, len);
	EXPECT_OK(r);
	result_free(&r);
	for (uint32_t l = 0; l < HDR; l++)
		expect_invalid(&in, t, l); /* truncated header */
	expect_invalid(&in, t, len - 1);   /* length - 1 */
	big = calloc(1, len + 1);
	memcpy(big, t, len);
	expect_invalid(&in, big, len + 1); /* length + 1 */
	memcpy(&hdr, t, HDR);
	for (int f = 0; f < 6; f++) {
		struct ep_img_hdr b = hdr;

		switch (f) {
		case 0:
			b.width = 0;
			break;
		case 1:
			b.height = 0;
			break;
		case 2:
			b.width = ep_be16(EP_IMG_MAX_DIM + 1);
			break;
		case 3:
			b.height = ep_be16(0xffff);
			break;
		case 4:
			b.rsvd = ep_be32(1);
			break;
		case 5:
			b.width = ep_be16(30);
			b.height = ep_be16(1);
			break; /* 30 px, 1x30 */
		}
		memcpy(big, &b, HDR);
		if (f == 5) {
			r = run1(&in, big, len); /* 30 x 1 is valid: same pixel count */
			EXPECT_OK(r);
			result_free(&r);
			continue;
		}
		expect_invalid(&in, big, len);
	}
	for (unsigned int i = 0; i < nbad; i++) {
		free(t);
		t = img_task(px, 6, 5, bad[i].a0, bad[i].a1, bad[i].a2, &len);
		expect_invalid(&in, t, len);
	}
	inst_fini(&in);
	free(big);
	free(t);
	tap_end("%s: truncated headers, bad dims, length +-1, rsvd, %u bad argument sets", h->name,
		nbad);
}

static void test_hostile(void)
{
	static const struct arg_case resize_bad[] = {
		{ 0, 4, 0 }, { 4, 0, 0 }, { 16385, 4, 0 }, { 4, 65535, 0 }, { 4, 4, 1 }
	};
	static const struct arg_case box_bad[] = {
		{ 0, 0, 0 }, { 65, 0, 0 }, { 65535, 0, 0 }, { 2, 1, 0 }, { 2, 0, 1 }
	};
	static const struct arg_case gauss_bad[] = {
		{ 0, 0, 0 }, { 9, 0, 0 }, { 2001, 0, 0 }, { 100, 1, 0 }, { 100, 0, 0x80000000u }
	};
	static const struct arg_case sobel_bad[] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
	static const struct arg_case thr_bad[] = {
		{ 256, 0, 0 }, { 0xfffe, 0, 0 }, { 5, 2, 0 }, { 5, 0, 1 }
	};
	static const struct arg_case blobs_bad[] = { { 256, 0, 0 },
						     { 0xfffe, 0, 0 },
						     { 5, 0, 0x20 },
						     { 5, 0, 0xffffffffu },
						     { 5, 0, EP_BLOBS_F_REFERENCE } };
#define HOSTILE(h, ok, bad) hostile_image(h, (struct arg_case)ok, bad, sizeof(bad) / sizeof(bad[0]))
	HOSTILE(&ep_resize_handler, ((struct arg_case){ 64, 48, 0 }), resize_bad);
	HOSTILE(&ep_box_blur_handler, ((struct arg_case){ 2, 0, 0 }), box_bad);
	HOSTILE(&ep_gauss_blur_handler, ((struct arg_case){ 150, 0, 0 }), gauss_bad);
	HOSTILE(&ep_sobel_handler, ((struct arg_case){ 0, 0, 0 }), sobel_bad);
	HOSTILE(&ep_threshold_handler, ((struct arg_case){ EP_IMG_OTSU, 1, 0 }), thr_bad);
	HOSTILE(&ep_blobs_handler, ((struct arg_case){ 100, 2, 0x1d }), blobs_bad);
#undef HOSTILE

	tap_begin();
	{
		/* n, k, m, len: out of range, products that wrap 32 bits, lengths off by 1 */
		static const uint32_t cases[][4] = {
			{ 0, 1, 1, 24 },
			{ 1, 0, 1, 16 },
			{ 1, 1, 0, 20 },
			{ 2049, 1, 1, 16 + 4 * 2050 },
			{ 65536, 65536, 65536, 16 },
			{ 1, 0x40000000u, 1, 16 },
			{ 0x40000000u, 4, 1, 32 },
			{ 0xffffffffu, 1, 1, 16 },
			{ 2, 2, 2, 16 + 32 - 1 },
			{ 2, 2, 2, 16 + 32 + 1 },
			{ 2, 2, 2, 16 + 32 - 4 },
			{ 2, 2, 2, 16 + 32 + 4 },
		};
		struct inst in;
		uint8_t *p = calloc(1, 16 + 4 * 2050 + 8);

		EXPECT_EQ(inst_init(&in, &ep_matmul_handler, NULL, 0), 0);
		for (uint32_t l = 0; l < 16; l++)
			expect_invalid(&in, p, l);
		for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct ep_matmul_req r = { ep_be32(cases[i][0]), ep_be32(cases[i][1]),
						   ep_be32(cases[i][2]), 0 };

			memcpy(p, &r, 16);
			expect_invalid(&in, p, cases[i][3]);
		}
		memcpy(p,
		       (struct ep_matmul_req[]){
			       { ep_be32(2), ep_be32(2), ep_be32(2), ep_be32(1) } },
		       16);
		expect_invalid(&in, p, 48); /* rsvd */
		inst_fini(&in);
		free(p);
	}
	tap_end("matmul: truncated header, dims 0 and > 2048, 32-bit overflowing products, "
		"length +-1 and +-4, rsvd");

	tap_begin();
	{
		static const uint8_t bad[][6] = { { 0, 0, 0, 0, 1, 2 },	  { 20, 0, 0, 0, 1, 2 },
						  { 255, 0, 0, 0, 1, 2 }, { 3, 1, 0, 0, 1, 2 },
						  { 3, 0, 1, 0, 1, 2 },	  { 3, 0, 0, 0x80, 1, 2 } };
		struct inst in;

		EXPECT_EQ(inst_init(&in, &ep_zstd_handler, NULL, 0), 0);
		for (uint32_t l = 0; l < 4; l++)
			expect_invalid(&in, "\x03\0\0\0", l);
		for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			expect_invalid(&in, bad[i], 6);
		inst_fini(&in);
	}
	tap_end("zstd: truncated header, levels 0, 20, 255, rsvd set");

	tap_begin();
	{
		uint32_t len;
		uint8_t px[64] = { 0 }, *t = img_task(px, 8, 8, 2, 0, 0, &len);
		struct ep_hreq req = { .data = t, .len = len };
		struct inst in;
		uint32_t cap;
		struct ep_hres res;

		EXPECT_EQ(inst_init(&in, &ep_box_blur_handler, NULL, 0), 0);
		cap = in.h->out_size(in.state, &req) - 1;
		res = (struct ep_hres){ .data = malloc(cap), .cap = cap };
		EXPECT_EQ(in.h->run(in.state, &req, &res, 1), 0);
		EXPECT(res.status == EP_ST_HANDLER_FAILED && res.len == 0);
		free(res.data);
		free(t);
		inst_fini(&in);
	}
	tap_end("a result buffer below out_size() fails the task instead of overflowing");
}

/* ---- fuzz -------------------------------------------------------------------------- */

/* Zero, small (below @small) or anything, a third each. */
static uint32_t random_arg(uint32_t small)
{
	switch (rnd() % 3) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)(rnd() % small);
	default:
		return (uint32_t)rnd();
	}
}

/* Arguments in range for an image task of @type. */
static void valid_args(uint16_t type, struct ep_img_hdr *hdr)
{
	uint32_t a0 = 0, a1 = 0, a2 = 0;

	switch (type) {
	case EP_TT_RESIZE:
		a0 = 1 + rnd() % 20;
		a1 = 1 + rnd() % 20;
		break;
	case EP_TT_BOX_BLUR:
		a0 = 1 + rnd() % 64;
		break;
	case EP_TT_GAUSS_BLUR:
		a0 = 10 + rnd() % 1991;
		break;
	case EP_TT_THRESHOLD:
	case EP_TT_BLOBS:
		a0 = rnd() % 5 ? rnd() % 256 : EP_IMG_OTSU;
		a1 = type == EP_TT_BLOBS ? rnd() % 10 : rnd() % 2;
		a2 = type == EP_TT_BLOBS ? rnd() % 0x20 : 0;
		break;
	}
	hdr->arg0 = ep_be16(a0);
	hdr->arg1 = ep_be16(a1);
	hdr->arg2 = ep_be32(a2);
}

/* A random task for @h: half of them shaped like its format (small, often valid). */
static uint32_t random_task(const struct ep_handler *h, uint8_t *buf, uint32_t max)
{
	uint32_t len = (uint32_t)(rnd() % 200);

	for (uint32_t i = 0; i < max; i++)
		buf[i] = (uint8_t)rnd();
	if (rnd() % 2)
		return len;
	if (h->default_type == EP_TT_MATMUL) {
		uint32_t n = 1 + rnd() % 5, k = 1 + rnd() % 5, m = 1 + rnd() % 5;
		struct ep_matmul_req r = { ep_be32(n), ep_be32(k), ep_be32(m), 0 };

		memcpy(buf, &r, 16);
		len = 16 + 4 * (n * k + k * m);
	} else if (h->default_type == EP_TT_ZSTD) {
		buf[0] = (uint8_t)(rnd() % 24);
		buf[1] = buf[2] = buf[3] = rnd() % 8 ? 0 : 1;
	} else {
		uint32_t w = 1 + rnd() % 9, ht = 1 + rnd() % 9;
		struct ep_img_hdr hdr = {
			.width = ep_be16(w),
			.height = ep_be16(ht),
			.arg0 = ep_be16(random_arg(300)),
			.arg1 = ep_be16(random_arg(300)),
			.arg2 = ep_be32(random_arg(0x20)),
		};

		if (rnd() % 2)
			valid_args(h->default_type, &hdr);
		if (h->default_type == EP_TT_BLOBS && rnd() % 2) {
			w = 5; /* the size of the fuzz instance's reference */
			ht = 4;
			hdr.width = ep_be16(w);
			hdr.height = ep_be16(ht);
		}
		memcpy(buf, &hdr, HDR);
		len = HDR + w * ht;
	}
	if (rnd() % 8 == 0)
		len += rnd() % 3 - 1;
	return len < max ? len : max;
}

static void test_fuzz(void)
{
	static const uint8_t ref_px[20] = { 0, 50, 100, 150, 200, 250, 10, 20 };
	struct ep_blob ref = { .path = "fuzz reference" };
	uint8_t *file = png_bytes(ref_px, 5, 4, &ref.len);

	ref.data = file;

	rnd_seed(2024);
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++) {
		unsigned int ok = 0, invalid = 0, other = 0, over = 0;
		uint8_t buf[8][400];
		struct inst in;

		if ((*h)->default_type == EP_TT_INFER)
			continue; /* needs a model file; test_infer.c fuzzes it */
		tap_begin();
		EXPECT_EQ(inst_init(&in, *h, (*h)->default_type == EP_TT_BLOBS ? &ref : NULL,
				    (*h)->default_type == EP_TT_BLOBS),
			  0);
		for (unsigned int iter = 0; iter < 3000;) {
			unsigned int n = 1 + rnd() % 8;
			const uint8_t *task[8];
			uint32_t len[8];
			struct hrun_result r[8];

			n = n < 3000 - iter ? n : 3000 - iter;
			for (unsigned int i = 0; i < n; i++, iter++) {
				len[i] = random_task(*h, buf[i], sizeof(buf[i]));
				task[i] = buf[i];
			}
			EXPECT_EQ(run_batch(&in, task, len, n, r), 0);
			for (unsigned int i = 0; i < n; i++) {
				ok += r[i].res.status == EP_ST_OK;
				invalid +=
					r[i].res.status == EP_ST_INVALID_INPUT && r[i].res.len == 0;
				other += r[i].res.status != EP_ST_OK &&
					 r[i].res.status != EP_ST_INVALID_INPUT;
				over += r[i].res.len > r[i].bound;
				result_free(&r[i]);
			}
		}
		EXPECT_EQ(other, 0);
		EXPECT_EQ(over, 0);
		EXPECT(ok >= 100);
		inst_fini(&in);
		tap_end("%s: 3000 random tasks in random batches: %u ok, %u invalid, none else, "
			"none past out_size()",
			(*h)->name, ok, invalid);
	}
	free(file);
}

/* ---- PNG ----------------------------------------------------------------------------- */

/* Write a PNG with libpng directly (any format), for the reader to convert. */
static int write_png(const char *path, uint32_t w, uint32_t h, int depth, int type, int interlace,
		     uint8_t *const *rows, const png_color *pal, int npal, const uint8_t *trans,
		     int ntrans)
{
	FILE *fp = fopen(path, "wb");
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);

	if (!fp || setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		if (fp)
			fclose(fp);
		return -1;
	}
	png_init_io(png, fp);
	png_set_IHDR(png, info, w, h, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(png, info, pal, npal);
	if (trans)
		png_set_tRNS(png, info, trans, ntrans, NULL);
	png_write_info(png, info);
	png_write_image(png, (png_bytepp)rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return fclose(fp);
}

/* Read @path as gray and compare with @want (@w x @h), each pixel within @tol. */
static void expect_gray_file(const char *path, const uint8_t *want, uint32_t w, uint32_t h, int tol)
{
	uint8_t *px = NULL;
	uint32_t gw = 0, gh = 0;

	EXPECT_EQ(ep_png_read_gray(path, &px, &gw, &gh), 0);
	EXPECT(px && gw == w && gh == h);
	for (uint32_t i = 0; px && gw == w && gh == h && i < w * h; i++)
		EXPECT(abs(px[i] - want[i]) <= tol);
	free(px);
}

static void test_png(const struct image *cam)
{
	char path[] = "/tmp/ep-test-png-XXXXXX";
	uint8_t *px = NULL, *bytes, row[4 * 8 * 3], *rows[3];
	uint32_t w = 0, h = 0;
	size_t len = 0;
	int fd = mkstemp(path);

	tap_begin();
	EXPECT(fd >= 0);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(ep_png_write_gray(path, cam->px, cam->w, cam->h), 0);
	expect_gray_file(path, cam->px, cam->w, cam->h, 0);
	bytes = file_bytes(path, &len);
	EXPECT_EQ(ep_png_decode_gray(bytes, len, &px, &w, &h), 0);
	EXPECT(px && w == cam->w && h == cam->h && !memcmp(px, cam->px, (size_t)w * h));
	free(px);
	tap_end("png: camera.png written and read back (file and memory) unchanged");

	tap_begin();
	{
		uint32_t err = 0;

		/* truncations at some 800 lengths, then flipped bits every 997 bytes */
		for (size_t l = 0; bytes && l < len; l += 1 + l / 64) {
			if (ep_png_decode_gray(bytes, l, &px, &w, &h) != -EINVAL)
				err++;
		}
		for (size_t i = 8; bytes && i < len; i += 997) {
			bytes[i] ^= 0x01;
			if (ep_png_decode_gray(bytes, len, &px, &w, &h) != -EINVAL)
				err++;
			bytes[i] ^= 0x01;
		}
		EXPECT_EQ(err, 0);
		EXPECT_EQ(ep_png_decode_gray("not a png", 9, &px, &w, &h), -EINVAL);
		EXPECT_EQ(ep_png_decode_gray(NULL, 0, &px, &w, &h), -EINVAL);
		EXPECT_EQ(ep_png_read_gray("/nonexistent/x.png", &px, &w, &h), -ENOENT);
	}
	free(bytes);
	tap_end("png: truncated and corrupted files give -EINVAL, a missing file -ENOENT");

	tap_begin();
	{
		/* 16-bit gray, RGB (Adam7), palette with transparency, RGBA, 1-bit gray */
		static const uint8_t g16[8] = { 0x00, 0x00, 0x12, 0x34, 0x80, 0x80, 0xff, 0xff };
		static const png_color pal[3] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } };
		static const uint8_t trns[3] = { 0, 128, 255 };
		/* red, green, blue, white; Rec. 709 (libpng: 6968, 23434, 2366 / 32768) */
		static const uint8_t rgbw[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 };
		static const uint8_t rgb_gray[4] = { 54, 182, 18, 255 };
		uint8_t want[12];

		memcpy(row, g16, sizeof(g16));
		rows[0] = row;
		EXPECT_EQ(write_png(path, 4, 1, 16, PNG_COLOR_TYPE_GRAY, 0, rows, NULL, 0, NULL, 0),
			  0);
		expect_gray_file(path, (uint8_t[]){ 0x00, 0x12, 0x80, 0xff }, 4, 1, 1);

		for (int y = 0; y < 3; y++) {
			rows[y] = row + 12 * y;
			memcpy(rows[y], rgbw, 12);
		}
		EXPECT_EQ(write_png(path, 4, 3, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rows,
				    NULL, 0, NULL, 0),
			  0);
		for (int y = 0; y < 3; y++)
			memcpy(want + 4 * y, rgb_gray, 4);
		expect_gray_file(path, want, 4, 3, 1);

		memcpy(row, (uint8_t[]){ 0, 1, 2 }, 3);
		rows[0] = row;
		EXPECT_EQ(
			write_png(path, 3, 1, 8, PNG_COLOR_TYPE_PALETTE, 0, rows, pal, 3, trns, 3),
			0);
		expect_gray_file(path, rgb_gray, 3, 1, 1);

		memcpy(row, (uint8_t[]){ 0, 255, 0, 0, 255, 255, 255, 255 }, 8);
		EXPECT_EQ(write_png(path, 2, 1, 8, PNG_COLOR_TYPE_RGBA, 0, rows, NULL, 0, NULL, 0),
			  0);
		expect_gray_file(path, (uint8_t[]){ 182, 255 }, 2, 1, 1); /* alpha dropped */

		row[0] = 0xa5; /* 10100101 */
		EXPECT_EQ(write_png(path, 8, 1, 1, PNG_COLOR_TYPE_GRAY, 0, rows, NULL, 0, NULL, 0),
			  0);
		expect_gray_file(path, (uint8_t[]){ 255, 0, 255, 0, 0, 255, 0, 255 }, 8, 1, 1);
	}
	tap_end("png: 16-bit, interlaced RGB, palette+tRNS, RGBA and 1-bit files read as gray");

	tap_begin();
	{
		static uint8_t wide[EP_IMG_MAX_DIM + 1];

		rows[0] = wide;
		EXPECT_EQ(write_png(path, EP_IMG_MAX_DIM + 1, 1, 8, PNG_COLOR_TYPE_GRAY, 0, rows,
				    NULL, 0, NULL, 0),
			  0);
		EXPECT_EQ(ep_png_read_gray(path, &px, &w, &h), -EFBIG);
		EXPECT_EQ(ep_png_write_gray(path, wide, EP_IMG_MAX_DIM + 1, 1), -EINVAL);
		EXPECT_EQ(ep_png_write_gray(path, wide, 0, 1), -EINVAL);
		EXPECT_EQ(ep_png_write_gray("/nonexistent/x.png", wide, 1, 1), -ENOENT);
	}
	unlink(path);
	tap_end("png: width above EP_IMG_MAX_DIM is -EFBIG; bad sizes and paths refused on write");
}

/* astronaut.png declares its colour space (iCCP), so libpng converts in linear light:
 * compare with Rec. 709 luminance of the RGB pixels (read with libpng's simplified API)
 * under a 2.2 gamma. */
static void test_png_rgb_photo(void)
{
	png_image rgb = { .version = PNG_IMAGE_VERSION };
	struct image astro;
	double sad = 0;
	uint8_t *px = NULL;
	size_t n;

	if (!load("astronaut.png", &astro, "png: astronaut.png (RGB) reads as gray"))
		return;
	tap_begin();
	n = (size_t)astro.w * astro.h;
	EXPECT(astro.w == 512 && astro.h == 512);
	if (png_image_begin_read_from_file(&rgb, image_path("astronaut.png"))) {
		rgb.format = PNG_FORMAT_RGB;
		px = malloc(PNG_IMAGE_SIZE(rgb));
		EXPECT(png_image_finish_read(&rgb, NULL, px, 0, NULL));
		EXPECT(rgb.width == astro.w && rgb.height == astro.h);
	}
	for (size_t i = 0; px && i < n; i++) {
		double y = 0.2126 * pow(px[3 * i] / 255.0, 2.2) +
			   0.7152 * pow(px[3 * i + 1] / 255.0, 2.2) +
			   0.0722 * pow(px[3 * i + 2] / 255.0, 2.2);

		sad += fabs(astro.px[i] - 255 * pow(y, 1 / 2.2));
	}
	EXPECT(px && sad / n < 1.5);
	tap_end("png: astronaut.png (RGB) reads as gray, mean |diff| %.2f from Rec. 709 luminance",
		sad / n);
	free(px);
	free(astro.px);
}

static void test_png_photos(void)
{
	struct image pal;

	test_png_rgb_photo();
	if (load("palette_color.png", &pal, "png: palette_color.png reads as gray")) {
		tap_begin();
		EXPECT(pal.w == 10 && pal.h == 10);
		tap_end("png: palette_color.png (palette) reads as 10x10 gray");
		free(pal.px);
	}
}

static void test_on_coins(const struct image *coins)
{
	struct image corner = crop(coins, 0, 0, 60, 50);

	test_checksum(coins);
	test_coins(coins);
	test_blobs_vs_flood(coins, "coins.png", EP_IMG_OTSU, 0, 0);
	test_blobs_vs_flood(coins, "coins.png", EP_IMG_OTSU, EP_BLOBS_F_CONN8, 0);
	test_blobs_vs_flood(coins, "coins.png", 120, COINS_FLAGS & ~EP_BLOBS_F_BLUR, 300);
	test_blobs_blur(coins, "coins.png");
	test_box(coins, 1, "coins.png");
	test_box(coins, 7, "coins.png");
	test_box(&corner, 64, "a coins.png crop");
	test_sobel(coins, "coins.png");
	test_threshold(coins, "coins.png");
	free(corner.px);
}

static void test_on_camera(const struct image *cam)
{
	struct image small = crop(cam, 220, 60, 70, 50);

	test_png(cam);
	test_echo(cam);
	test_zstd(cam);
	test_blobs_reference(cam);
	test_blobs_vs_flood(cam, "camera.png", 60, EP_BLOBS_F_DARK | EP_BLOBS_F_CONN8, 5);
	test_gauss(cam, 100, "camera.png");
	test_gauss(cam, 333, "camera.png");
	test_gauss(&small, 10, "a camera.png crop");
	test_gauss(&small, 2000, "a camera.png crop");
	test_sobel(cam, "camera.png");
	test_resize(cam, 200, 150, "camera.png");
	test_resize(cam, 1000, 777, "camera.png");
	test_resize(&small, 1, 1, "a camera.png crop");
	test_resize(&small, 3, 200, "a camera.png crop");
	test_threshold(cam, "camera.png");
	free(small.px);
}

int main(void)
{
	struct image cam, coins, moon, text, page;
	int have_cam, have_coins;

	test_table();
	test_work();
	test_matmul();
	test_hostile();
	test_fuzz();
	test_blobs_many();
	test_blobs_otsu_tie();

	have_cam = load("camera.png", &cam, "handlers on camera.png");
	have_coins = load("coins.png", &coins, "handlers on coins.png");
	if (have_coins)
		test_on_coins(&coins);
	if (have_cam)
		test_on_camera(&cam);
	if (have_cam && have_coins)
		test_batches(&cam, &coins);
	if (load("moon.png", &moon, "handlers on moon.png")) {
		test_box(&moon, 2, "moon.png");
		test_sobel(&moon, "moon.png");
		free(moon.px);
	}
	if (load("text.png", &text, "blobs of text.png")) {
		test_blobs_vs_flood(&text, "text.png", EP_IMG_OTSU, EP_BLOBS_F_DARK, 0);
		free(text.px);
	}
	if (load("page.png", &page, "blobs of page.png")) {
		test_blobs_vs_flood(&page, "page.png", EP_IMG_OTSU,
				    EP_BLOBS_F_DARK | EP_BLOBS_F_CONN8 | EP_BLOBS_F_NO_BORDER, 3);
		free(page.px);
	}
	test_png_photos();
	if (have_cam)
		free(cam.px);
	if (have_coins)
		free(coins.px);
	return tap_finish();
}
