// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One built-in handler's payload decoding (dataplane/handlers/), built once per handler
 * with -DFUZZ_HANDLER="name": the handler is taken from the handler registry by name and
 * initialised as a runtime worker does (ep_registry_init_worker(), at the runtime's
 * default task limit); infer gets a small model and blobs a reference frame, as warm-up
 * files.
 *
 * Input: byte 0 = the number of tasks in the batch, less one (bits 0-1), and whether the
 * payloads start misaligned (bit 7); then each task but the last as a big-endian 16-bit
 * length and its bytes, and the last task's bytes. Each payload is copied to a buffer of
 * its exact size, so that ASan sees any read past it. As the runtime does, out_size()
 * sizes each result (a bound above the runtime's result limit is TOO_LARGE and the task
 * does not run), run() gets the batch, and the results must stay within their buffers and
 * carry a valid status. Then each task runs again alone: a handler's answer must not
 * depend on the batch it was in.
 */
#include <errno.h>
#include <math.h>

#include "core/registry.h"
#include "edgeplane/model.h"
#include "edgeplane/png.h"
#include "ep_shared.h"
#include "fuzz.h"

#ifndef FUZZ_HANDLER
#error "build with -DFUZZ_HANDLER=\"name\""
#endif

#define MAX_TASKS      4
#define MAX_TASK_LEN   EP_DEFAULT_MAX_TASK_LEN /* the runtime's default */
#define MAX_RESULT_LEN EP_DEFAULT_MAX_TASK_LEN

static struct ep_registry reg;
static void *states[EP_MAX_HANDLERS];
static const struct ep_handler *h;
static void *state;

/* A 2-layer model 8 -> 16 -> 4 with weights from a fixed sequence. */
static struct ep_blob model_file(void)
{
	const uint32_t dims[] = { 8, 16, 4 };
	uint64_t len = ep_model_file_len(2, dims), x = 0x9e3779b97f4a7c15ULL;
	uint8_t *p = calloc(1, len), *q = p;
	struct ep_model_hdr hdr = { .magic = "EPMD", .version = 1, .nlayers = 2 };

	FZ_CHECK(p);
	memcpy(q, &hdr, sizeof(hdr));
	q += sizeof(hdr);
	memcpy(q, dims, sizeof(dims)); /* little-endian host */
	q += sizeof(dims);
	while (q < p + len) {
		float v;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v = (float)((int64_t)(x % 2001) - 1000) / 1000.0f;
		memcpy(q, &v, 4);
		q += 4;
	}
	return (struct ep_blob){ .path = strdup("fuzz-model.epm"), .data = p, .len = len };
}

/* An 8 x 8 PNG reference frame (a gradient), read back as the warm-up would. */
static struct ep_blob reference_file(void)
{
	char path[] = "/tmp/ep-fuzz-ref-XXXXXX";
	uint8_t px[64], *data;
	FILE *fp;
	long len;
	int fd = mkstemp(path);

	FZ_CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < 64; i++)
		px[i] = (uint8_t)(i * 4);
	FZ_CHECK(!ep_png_write_gray(path, px, 8, 8));
	fp = fopen(path, "rb");
	FZ_CHECK(fp && !fseek(fp, 0, SEEK_END) && (len = ftell(fp)) > 0);
	rewind(fp);
	data = malloc((size_t)len);
	FZ_CHECK(data && fread(data, 1, (size_t)len, fp) == (size_t)len);
	fclose(fp);
	unlink(path);
	return (struct ep_blob){ .path = strdup("fuzz-ref.png"), .data = data, .len = (size_t)len };
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int idx = ep_registry_add_builtin(&reg, FUZZ_HANDLER, 0, NULL);
	struct ep_reg_entry *e;

	FZ_CHECK(idx == 0);
	e = &reg.e[idx];
	if (!strcmp(FUZZ_HANDLER, "infer") || !strcmp(FUZZ_HANDLER, "blobs")) {
		e->files = calloc(1, sizeof(*e->files));
		FZ_CHECK(e->files);
		e->files[0] = !strcmp(FUZZ_HANDLER, "infer") ? model_file() : reference_file();
		e->nfiles = 1;
	}
	FZ_CHECK(!ep_registry_init_worker(&reg, 0, MAX_TASK_LEN, states));
	h = e->h;
	state = states[idx];
	return 0;
}

struct task {
	uint8_t *buf;
	struct ep_hreq req;
	struct ep_hres res;
	bool runs;
};

/* Size the result as the runtime does; false if the task would get TOO_LARGE. */
static bool prepare(struct task *t)
{
	uint32_t need = h->out_size(state, &t->req);

	t->res = (struct ep_hres){ .status = 0xffff };
	if (need > MAX_RESULT_LEN)
		return false;
	t->res.cap = need;
	t->res.data = malloc(need ? need : 1);
	FZ_CHECK(t->res.data);
	return true;
}

static void check_result(const struct ep_hres *res)
{
	FZ_CHECK(res->status < EP_ST__COUNT);
	FZ_CHECK(memchr(res->msg, '\0', sizeof(res->msg)));
	if (!res->status)
		FZ_CHECK(res->len <= res->cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct task t[MAX_TASKS] = { 0 };
	struct ep_hreq req[MAX_TASKS];
	struct ep_hres res[MAX_TASKS];
	unsigned int n, k = 0, max = h->max_batch ? h->max_batch : MAX_TASKS;
	uint8_t ctl = fz_u8(&f);
	size_t off = (ctl >> 7) ? 1 + (ctl >> 5 & 1) * 2 : 0;

	n = (ctl & 3) + 1;
	if (n > max)
		n = max;
	for (unsigned int i = 0; i < n; i++) {
		size_t len = i + 1 < n ? fz_u16(&f) : fz_left(&f), got;
		const uint8_t *p = fz_bytes(&f, len, &got);

		t[i].buf = malloc(off + got ? off + got : 1);
		FZ_CHECK(t[i].buf);
		memcpy(t[i].buf + off, p, got);
		t[i].req = (struct ep_hreq){ .data = t[i].buf + off,
					     .len = (uint32_t)got,
					     .type = h->default_type,
					     .priority = 3,
					     .tenant_id = 7,
					     .task_id = 100 + i };
	}

	/* The batch, as run_batch() builds it: tasks whose bound is too large drop out. */
	for (unsigned int i = 0; i < n; i++) {
		t[i].runs = prepare(&t[i]);
		if (t[i].runs) {
			req[k] = t[i].req;
			res[k++] = t[i].res;
		}
	}
	if (k && !h->run(state, req, res, k)) {
		k = 0;
		for (unsigned int i = 0; i < n; i++) {
			if (!t[i].runs)
				continue;
			check_result(&res[k]);
			t[i].res = res[k++];
		}
		/* Alone, each task gets the same answer. */
		for (unsigned int i = 0; n > 1 && i < n; i++) {
			struct ep_hres alone = { .cap = t[i].res.cap };

			if (!t[i].runs)
				continue;
			alone.data = malloc(alone.cap ? alone.cap : 1);
			FZ_CHECK(alone.data);
			if (!h->run(state, &t[i].req, &alone, 1)) {
				check_result(&alone);
				FZ_CHECK(alone.status == t[i].res.status);
				FZ_CHECK(alone.len == t[i].res.len);
				/* infer's sgemm over a batch may round differently */
				if (!alone.status && strcmp(FUZZ_HANDLER, "infer"))
					FZ_CHECK(!memcmp(alone.data, t[i].res.data, alone.len));
			}
			free(alone.data);
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		free(t[i].res.data);
		free(t[i].buf);
	}
	return 0;
}
