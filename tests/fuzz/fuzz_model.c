// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The inference model loader (edgeplane/model.h, read by the infer handler's init() from
 * the warm-up file the config names): the input is the model file. It is handed over as
 * the runtime's warm-up does (a heap buffer of the file's exact size) and again one byte
 * off alignment (the loader's converting path). A model that loads must then answer a
 * task of its input dimension with a result of its output dimension, and refuse one of
 * another dimension.
 */
#include "core/registry.h"
#include "edgeplane/payload.h"
#include "ep_shared.h"
#include "fuzz.h"

static struct ep_registry reg;

static void run_one(void *state, const struct ep_handler *h, const uint8_t *model, size_t len)
{
	uint32_t in, out;
	struct ep_infer_req hdr;
	struct ep_hreq req = { .type = EP_TT_INFER, .priority = 3 };
	struct ep_hres res = { 0 };
	uint8_t *task;

	/* The model's dims, little-endian after the 8-byte header. */
	memcpy(&in, model + 8, 4);
	memcpy(&out, model + 8 + 4 * (model[6] | model[7] << 8), 4);
	task = calloc(1, sizeof(hdr) + 4ull * in);
	FZ_CHECK(task);
	hdr = (struct ep_infer_req){ .dim = ep_be32(in) };
	memcpy(task, &hdr, sizeof(hdr));
	req.data = task;
	req.len = (uint32_t)(sizeof(hdr) + 4ull * in);
	res.cap = h->out_size(state, &req);
	FZ_CHECK(res.cap == sizeof(struct ep_infer_result) + 4ull * out);
	res.data = malloc(res.cap);
	FZ_CHECK(res.data);
	FZ_CHECK(!h->run(state, &req, &res, 1));
	FZ_CHECK(res.status == EP_ST_OK && res.len == res.cap);
	/* One feature short: refused. */
	req.len -= 4;
	if (in > 1) {
		hdr.dim = ep_be32(in - 1);
		memcpy(task, &hdr, sizeof(hdr));
	}
	FZ_CHECK(!h->run(state, &req, &res, 1));
	FZ_CHECK(res.status == EP_ST_INVALID_INPUT);
	free(res.data);
	free(task);
	(void)len;
}

static void load(const uint8_t *data, size_t size, size_t misalign)
{
	struct ep_reg_entry *e = &reg.e[0];
	void *states[EP_MAX_HANDLERS] = { 0 };
	uint8_t *buf = malloc(size + misalign ? size + misalign : 1);
	struct ep_blob file;

	FZ_CHECK(buf);
	memcpy(buf + misalign, data, size);
	file = (struct ep_blob){ .path = "fuzz.epm", .data = buf + misalign, .len = size };
	e->files = &file;
	e->nfiles = 1;
	if (!ep_registry_init_worker(&reg, 0, EP_DEFAULT_MAX_TASK_LEN, states)) {
		FZ_CHECK(size >= 12);
		run_one(states[0], e->h, buf + misalign, size);
		ep_registry_fini_worker(&reg, states);
	}
	e->files = NULL;
	e->nfiles = 0;
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FZ_CHECK(ep_registry_add_builtin(&reg, "infer", 0, NULL) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size, 0);
	load(data, size, 1);
	return 0;
}
