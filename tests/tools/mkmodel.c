// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mkmodel - deterministic random inputs for the infer handler (docs/handlers.md):
 *
 *	mkmodel --dims 256,512,512,10 [--seed N] --out model.epm
 *		a model file (edgeplane/model.h); weights and biases of a layer with @in
 *		inputs are uniform in +-1/sqrt(in), like PyTorch's nn.Linear initialisation
 *	mkmodel --features 256 [--seed N] --out x.bin
 *		one task payload (struct ep_infer_req and 256 features uniform in -1..1),
 *		for `edgeload run --type 50 --in x.bin`
 *
 * The same arguments always give the same bytes.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/model.h"
#include "edgeplane/payload.h"
#include "../lib/mfile.h"
#include "../lib/rnd.h"
#include "opts.h"

static int put_u32(FILE *f, uint32_t v)
{
	return fwrite(&v, sizeof(v), 1, f) == 1 ? 0 : -EIO;
}

static int put_float(FILE *f, float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return put_u32(f, htole32(u));
}

static int write_model(FILE *f, unsigned int nlayers, const uint32_t *dims)
{
	struct ep_model_hdr hdr = { .version = htole16(EP_MODEL_VERSION),
				    .nlayers = htole16((uint16_t)nlayers) };
	int err = 0;

	memcpy(hdr.magic, EP_MODEL_MAGIC, sizeof(hdr.magic));
	if (fwrite(&hdr, sizeof(hdr), 1, f) != 1)
		return -EIO;
	for (unsigned int l = 0; l <= nlayers && !err; l++)
		err = put_u32(f, htole32(dims[l]));
	for (unsigned int l = 0; l < nlayers && !err; l++) {
		float scale = 1.0f / sqrtf((float)dims[l]);

		/* W (out x in), then b (out): out * (in + 1) values in file order */
		for (uint64_t i = 0; i < (uint64_t)dims[l + 1] * (dims[l] + 1) && !err; i++)
			err = put_float(f, scale * rnd_float());
	}
	return err;
}

static int write_features(FILE *f, uint32_t dim)
{
	struct ep_infer_req hdr = { .dim = htobe32(dim) };
	int err = 0;

	if (fwrite(&hdr, sizeof(hdr), 1, f) != 1)
		return -EIO;
	for (uint32_t j = 0; j < dim && !err; j++)
		err = put_float(f, rnd_float());
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mkmodel --dims IN,OUT1[,OUT2...] [--seed N] --out FILE\n"
		"       mkmodel --features DIM [--seed N] --out FILE\n"
		"\n"
		"  --dims LIST     write a model file: the input dim, then each layer's output\n"
		"                  dim (1..%d layers, dims 1..%d); ReLU between layers\n"
		"  --features DIM  write one infer task payload of DIM features in -1..1\n"
		"  --seed N        random seed (default 1); equal arguments give equal bytes\n"
		"  --out FILE      where to write\n"
		"  --help          this text\n",
		EP_MODEL_MAX_LAYERS, EP_MODEL_MAX_DIM);
}

/* The --dims argument: the input dim and each layer's output dim. */
struct dims_opt {
	const char *arg; /* NULL: no --dims */
	uint32_t dims[EP_MODEL_MAX_LAYERS + 2];
	int nlayers;
};

/* OPT_FN of --dims: @arg parsed into the struct dims_opt at @dst; -EINVAL (having said
 * what it wants) when it is not a list of dims. */
static int dims_opt(const char *arg, void *dst)
{
	struct dims_opt *d = dst;

	d->arg = arg;
	d->nlayers = parse_dims(arg, d->dims);
	if (d->nlayers >= 0)
		return 0;
	fprintf(stderr, "mkmodel: --dims %s: want 2..%d dims of 1..%d, comma-separated\n", arg,
		EP_MODEL_MAX_LAYERS + 1, EP_MODEL_MAX_DIM);
	return -EINVAL;
}

/* OPT_FN of --seed: any 64-bit number at @dst; -EINVAL when @arg is none. */
static int seed_opt(const char *arg, void *dst)
{
	char *end;

	*(uint64_t *)dst = strtoull(arg, &end, 0);
	if (*arg && !*end)
		return 0;
	fprintf(stderr, "mkmodel: --seed %s: not a number\n", arg);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct dims_opt d = { 0 };
	const char *out = NULL;
	long features = 0;
	uint64_t seed = 1;
	int err;
	FILE *f;
	const struct tool_opt opts[] = {
		OPT_FN("dims", dims_opt, &d),
		OPT_NUM("features", features, 1, EP_MODEL_MAX_DIM),
		OPT_FN("seed", seed_opt, &seed),
		OPT_STR("out", out),
		{ 0 },
	};

	if (tool_opts(argc, argv, opts, usage) != argc || !out || !d.arg == !features) {
		usage(stderr);
		return 2;
	}
	/* spread small seeds over the state; xorshift must not start at 0 */
	rnd_seed((seed + 1) * 0x9e3779b97f4a7c15ull);
	f = fopen(out, "wb");
	if (!f) {
		fprintf(stderr, "mkmodel: %s: %s\n", out, strerror(errno));
		return 1;
	}
	err = d.arg ? write_model(f, (unsigned int)d.nlayers, d.dims)
		    : write_features(f, (uint32_t)features);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		fprintf(stderr, "mkmodel: %s: %s\n", out, strerror(-err));
		remove(out);
		return 1;
	}
	return 0;
}
