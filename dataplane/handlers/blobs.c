// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * blobs: the defect detector. Optionally |frame - reference| (EP_BLOBS_F_REFERENCE, the
 * reference being the warm-up PNG in env->files), optionally a Gaussian blur of sigma 1.0
 * (EP_BLOBS_F_BLUR), then a threshold (level or Otsu's), then the connected components of
 * the foreground (4- or 8-connected). Those of at least the minimum area (and, with
 * EP_BLOBS_F_NO_BORDER, not touching the frame's edge) are counted, and the largest
 * EP_BLOBS_MAX_REPORTED listed, largest first (equal areas in raster order of their first
 * pixel).
 *
 * Labelling is one streaming pass over runs of foreground pixels: the runs of each row are
 * joined to the overlapping runs of the row above through a union-find of components whose
 * statistics merge with them. A component that no run of the current row continues is
 * complete: it is counted and offered to a bounded heap of the largest, and its slot is
 * reused. Memory is O(width), independent of height and of the number of blobs; there is no
 * label image and no recursion.
 */
#include <errno.h>
#include <stdlib.h>

#include "builtin.h"
#include "edgeplane/png.h"
#include "frame.h"
#include "imgops.h"

#define BLOBS_FLAGS                                                                    \
	(EP_BLOBS_F_DARK | EP_BLOBS_F_REFERENCE | EP_BLOBS_F_CONN8 | EP_BLOBS_F_BLUR | \
	 EP_BLOBS_F_NO_BORDER)
#define BLOBS_BLUR_SIGMA 100 /* hundredths */

struct run {
	uint16_t x0, x1;
	uint32_t id; /* component */
};

/* A bounding box, corners inclusive. */
struct bbox {
	uint16_t x0, y0, x1, y1;
};

struct comp {
	uint32_t parent; /* union-find; == own id for a root */
	uint32_t area;
	uint32_t first; /* raster index of its first pixel */
	uint32_t seen;	/* last row + 1 that continued it */
	uint32_t done;	/* row + 1 in which it was retired */
	struct bbox box;
	uint64_t sx, sy; /* sums of coordinates, for the centroid */
};

struct blob {
	uint32_t area, first;
	struct bbox box;
	uint16_t cx, cy;
};

/* Grow @a to cover @b too. */
static void bbox_grow(struct bbox *a, const struct bbox *b)
{
	if (b->x0 < a->x0)
		a->x0 = b->x0;
	if (b->y0 < a->y0)
		a->y0 = b->y0;
	if (b->x1 > a->x1)
		a->x1 = b->x1;
	if (b->y1 > a->y1)
		a->y1 = b->y1;
}

/* Working set of one labelling, carved out of the per-worker scratch. */
struct labeler {
	struct run *prev, *cur;
	uint32_t nprev, ncur;
	struct comp *comp;
	uint32_t *free_ids, nfree;
	uint32_t *created, ncreated; /* components created in the current row */
	uint32_t w, h, min_area, count;
	int conn8, no_border;
	struct blob *heap; /* the worst of the largest at heap[0] */
	uint32_t nheap;
};

struct blobs_state {
	uint8_t *ref; /* reference frame, or NULL */
	uint32_t ref_w, ref_h;
	struct ep_gauss_kernel blur_k;
	struct ep_scratch plane; /* the preprocessed frame */
	struct ep_scratch blur;
	struct ep_scratch cc;
	struct blob heap[EP_BLOBS_MAX_REPORTED];
};

/* ---- the largest blobs: a min-heap on (area, then earlier first pixel) ------------ */

static inline int better(const struct blob *a, const struct blob *b)
{
	return a->area > b->area || (a->area == b->area && a->first < b->first);
}

static void heap_down(struct blob *h, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t c = 2 * i + 1, worst = i;
		struct blob t;

		if (c < n && better(&h[worst], &h[c]))
			worst = c;
		if (c + 1 < n && better(&h[worst], &h[c + 1]))
			worst = c + 1;
		if (worst == i)
			return;
		t = h[i];
		h[i] = h[worst];
		h[worst] = t;
		i = worst;
	}
}

static void heap_offer(struct labeler *l, const struct blob *b)
{
	struct blob *h = l->heap;
	uint32_t i;

	if (l->nheap == EP_BLOBS_MAX_REPORTED) {
		if (better(b, &h[0])) {
			h[0] = *b;
			heap_down(h, l->nheap, 0);
		}
		return;
	}
	for (i = l->nheap++; i && better(&h[(i - 1) / 2], b); i = (i - 1) / 2)
		h[i] = h[(i - 1) / 2];
	h[i] = *b;
}

/* Heapsort: the worst moves to the end, leaving h[] best first. */
static void heap_sort(struct blob *h, uint32_t n)
{
	for (uint32_t end = n; end > 1; end--) {
		struct blob t = h[0];

		h[0] = h[end - 1];
		h[end - 1] = t;
		heap_down(h, end - 1, 0);
	}
}

/* ---- components ------------------------------------------------------------------- */

static inline uint32_t find(struct comp *c, uint32_t id)
{
	while (c[id].parent != id) {
		c[id].parent = c[c[id].parent].parent;
		id = c[id].parent;
	}
	return id;
}

static uint32_t comp_new(struct labeler *l, uint32_t y, uint32_t x)
{
	uint32_t id = l->free_ids[--l->nfree];
	struct comp *c = &l->comp[id];

	*c = (struct comp){
		.parent = id,
		.first = y * l->w + x,
		.box = { .x0 = UINT16_MAX, .y0 = (uint16_t)y },
	};
	l->created[l->ncreated++] = id;
	return id;
}

/* Merge the components of roots @a and @b; returns the surviving root. */
static uint32_t comp_merge(struct comp *c, uint32_t a, uint32_t b)
{
	if (a == b)
		return a;
	c[b].parent = a;
	c[a].area += c[b].area;
	c[a].sx += c[b].sx;
	c[a].sy += c[b].sy;
	if (c[b].first < c[a].first)
		c[a].first = c[b].first;
	bbox_grow(&c[a].box, &c[b].box);
	return a;
}

static void comp_add_run(struct comp *c, uint32_t y, const struct run *r)
{
	uint32_t len = r->x1 - r->x0 + 1u;

	c->area += len;
	c->sx += (uint64_t)(r->x0 + r->x1) * len / 2;
	c->sy += (uint64_t)y * len;
	if (r->x0 < c->box.x0)
		c->box.x0 = r->x0;
	if (r->x1 > c->box.x1)
		c->box.x1 = r->x1;
	c->box.y1 = (uint16_t)y;
}

static void comp_retire(struct labeler *l, uint32_t id, uint32_t stamp)
{
	const struct comp *c = &l->comp[id];
	int edge = !c->box.x0 || !c->box.y0 || c->box.x1 == l->w - 1 || c->box.y1 == l->h - 1;

	if (c->parent == id && c->area >= l->min_area && !(l->no_border && edge)) {
		struct blob b = {
			.area = c->area,
			.first = c->first,
			.box = c->box,
			.cx = (uint16_t)((2 * c->sx + c->area) / (2 * (uint64_t)c->area)),
			.cy = (uint16_t)((2 * c->sy + c->area) / (2 * (uint64_t)c->area)),
		};

		l->count++;
		heap_offer(l, &b);
	}
	l->comp[id].done = stamp;
	l->free_ids[l->nfree++] = id;
}

/* Join the runs of row @y to those of the row above. */
static void join_row(struct labeler *l, uint32_t y)
{
	uint32_t j = 0, reach = l->conn8 ? 1 : 0;

	l->ncreated = 0;
	for (uint32_t i = 0; i < l->ncur; i++) {
		struct run *r = &l->cur[i];
		uint32_t id = UINT32_MAX;

		while (j < l->nprev && l->prev[j].x1 + reach < r->x0)
			j++;
		for (uint32_t k = j; k < l->nprev && l->prev[k].x0 <= r->x1 + reach; k++) {
			uint32_t root = find(l->comp, l->prev[k].id);

			id = id == UINT32_MAX ? root : comp_merge(l->comp, id, root);
		}
		if (id == UINT32_MAX)
			id = comp_new(l, y, r->x0);
		comp_add_run(&l->comp[id], y, r);
		r->id = id;
	}
}

/* After row @y: point the runs at their roots, retire what the row did not continue, and
 * free the slots of components merged into others. Every live component is a root that a
 * run of the row above references or one created in this row. */
static void end_row(struct labeler *l, uint32_t y)
{
	uint32_t stamp = y + 1;

	for (uint32_t i = 0; i < l->ncur; i++) {
		l->cur[i].id = find(l->comp, l->cur[i].id);
		l->comp[l->cur[i].id].seen = stamp;
	}
	for (uint32_t i = 0; i < l->nprev + l->ncreated; i++) {
		uint32_t id = i < l->nprev ? l->prev[i].id : l->created[i - l->nprev];
		const struct comp *c = &l->comp[id];

		if (c->done != stamp && (c->parent != id || c->seen != stamp))
			comp_retire(l, id, stamp);
	}
}

static uint32_t row_runs(const uint8_t *row, uint32_t w, const uint8_t *fg, struct run *runs)
{
	uint32_t n = 0, x = 0;

	for (;;) {
		while (x < w && !fg[row[x]])
			x++;
		if (x == w)
			return n;
		runs[n].x0 = (uint16_t)x;
		while (x < w && fg[row[x]])
			x++;
		runs[n++].x1 = (uint16_t)(x - 1);
	}
}

/* Scratch for labelling rows of width @w. */
static size_t cc_scratch_size(uint32_t w)
{
	size_t runs = w / 2 + 1, comps = 2 * runs;

	return 2 * runs * sizeof(struct run) + comps * sizeof(struct comp) +
	       comps * sizeof(uint32_t) + runs * sizeof(uint32_t);
}

static void label(struct labeler *l, const uint8_t *px, const uint8_t *fg, void *scratch)
{
	uint32_t runs = l->w / 2 + 1, comps = 2 * runs;
	struct run *t;

	l->comp = scratch;
	l->prev = (struct run *)(l->comp + comps);
	l->cur = l->prev + runs;
	l->free_ids = (uint32_t *)(l->cur + runs);
	l->created = l->free_ids + comps;
	for (l->nfree = 0; l->nfree < comps; l->nfree++)
		l->free_ids[l->nfree] = comps - 1 - l->nfree;
	l->nprev = 0;
	/* Row h is empty: it retires whatever reaches the bottom. */
	for (uint32_t y = 0; y <= l->h; y++) {
		l->ncur = y < l->h ? row_runs(px + (size_t)y * l->w, l->w, fg, l->cur) : 0;
		join_row(l, y);
		end_row(l, y);
		t = l->prev;
		l->prev = l->cur;
		l->cur = t;
		l->nprev = l->ncur;
	}
}

/* ---- the handler ------------------------------------------------------------------ */

static void blobs_fini(void *state)
{
	struct blobs_state *st = state;

	ep_scratch_free(&st->plane);
	ep_scratch_free(&st->blur);
	ep_scratch_free(&st->cc);
	free(st->ref);
	free(st);
}

static int blobs_init(const struct ep_handler_env *env, void **state)
{
	uint32_t d = ep_frame_max_dim(env);
	struct blobs_state *st;
	int err = -ENOMEM;

	if (env->nfiles > 1) {
		if (env->log)
			env->log(0, "blobs: at most one file (the reference frame), got %u",
				 env->nfiles);
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (env->nfiles) {
		err = ep_png_decode_gray(env->files[0].data, env->files[0].len, &st->ref,
					 &st->ref_w, &st->ref_h);
		if (err) {
			if (env->log)
				env->log(0, "blobs: reference %s: not a usable PNG",
					 env->files[0].path);
			goto err_free;
		}
		err = -ENOMEM;
	}
	ep_gauss_kernel_init(&st->blur_k, BLOBS_BLUR_SIGMA);
	if (!ep_scratch_get(&st->plane, ep_frame_max_px(env)) ||
	    !ep_scratch_get(&st->blur, ep_gauss_scratch_size(d, d, st->blur_k.radius)) ||
	    !ep_scratch_get(&st->cc, cc_scratch_size(d)))
		goto err_free;
	*state = st;
	return 0;

err_free:
	blobs_fini(st);
	return err;
}

static uint32_t blobs_out_size(void *state, const struct ep_hreq *req)
{
	struct ep_frame f;
	uint32_t max;

	if (!ep_frame_peek(req, &f))
		return 0;
	max = f.w * f.h < EP_BLOBS_MAX_REPORTED ? f.w * f.h : EP_BLOBS_MAX_REPORTED;
	return sizeof(struct ep_blobs_result) + max * sizeof(struct ep_blob_box);
}

/* Per pixel: threshold and labelling 3.2 ns (a frame that is all small blobs, the worst
 * case; a photograph costs half), the reference difference 0.1 ns, the blur as
 * gauss_blur's (0.4 ns, and 0.12 ns a tap). */
static uint64_t blobs_work(void *state, const struct ep_hreq *req)
{
	const struct blobs_state *st = state;
	struct ep_frame f;
	uint64_t per_px = 320;

	if (!ep_frame_peek(req, &f))
		return req->len;
	if (f.arg2 & EP_BLOBS_F_REFERENCE)
		per_px += 10;
	if (f.arg2 & EP_BLOBS_F_BLUR)
		per_px += 40 + 12 * 2 * (2 * (uint64_t)(st ? st->blur_k.radius : 3) + 1);
	return (uint64_t)f.w * f.h * per_px;
}

/* The frame to threshold: the payload itself, or its preprocessed copy. */
static const uint8_t *preprocess(struct blobs_state *st, const struct ep_frame *f,
				 struct ep_hres *res)
{
	size_t npx = (size_t)f->w * f->h;
	const uint8_t *src = f->px;
	uint8_t *plane;
	void *scratch;

	if (!(f->arg2 & (EP_BLOBS_F_REFERENCE | EP_BLOBS_F_BLUR)))
		return src;
	plane = ep_task_scratch(&st->plane, npx, res);
	if (!plane)
		return NULL;
	if (f->arg2 & EP_BLOBS_F_REFERENCE) {
		for (size_t i = 0; i < npx; i++)
			plane[i] = (uint8_t)abs(src[i] - st->ref[i]);
		src = plane;
	}
	if (f->arg2 & EP_BLOBS_F_BLUR) {
		scratch = ep_task_scratch(
			&st->blur, ep_gauss_scratch_size(f->w, f->h, st->blur_k.radius), res);
		if (!scratch)
			return NULL;
		ep_gauss_blur(src, plane, f->w, f->h, &st->blur_k, scratch);
	}
	return plane;
}

static void blobs_put(const struct labeler *l, unsigned int level, uint8_t *out)
{
	struct ep_blobs_result r = {
		.count = ep_be32(l->count),
		.reported = ep_be32(l->nheap),
		.level = ep_be16(level),
	};

	memcpy(out, &r, sizeof(r));
	out += sizeof(r);
	for (uint32_t i = 0; i < l->nheap; i++, out += sizeof(struct ep_blob_box)) {
		const struct blob *b = &l->heap[i];
		struct ep_blob_box box = {
			.area = ep_be32(b->area),
			.x0 = ep_be16(b->box.x0),
			.y0 = ep_be16(b->box.y0),
			.x1 = ep_be16(b->box.x1),
			.y1 = ep_be16(b->box.y1),
			.cx = ep_be16(b->cx),
			.cy = ep_be16(b->cy),
		};

		memcpy(out, &box, sizeof(box));
	}
}

static int blobs_args_ok(const struct blobs_state *st, const struct ep_frame *f,
			 struct ep_hres *res)
{
	const char *why = NULL;

	if ((f->arg0 > 255 && f->arg0 != EP_IMG_OTSU) || (f->arg2 & ~BLOBS_FLAGS))
		why = "bad level or flags";
	else if ((f->arg2 & EP_BLOBS_F_REFERENCE) && !st->ref)
		why = "no reference frame configured";
	else if ((f->arg2 & EP_BLOBS_F_REFERENCE) && (f->w != st->ref_w || f->h != st->ref_h))
		why = "frame size differs from the reference";
	if (why)
		ep_hres_fail(res, EP_ST_INVALID_INPUT, why);
	return !why;
}

static void blobs_one(void *state, const struct ep_hreq *req, struct ep_hres *res)
{
	struct blobs_state *st = state;
	struct labeler l = { 0 };
	const uint8_t *plane;
	uint32_t hist[256], len;
	unsigned int level;
	struct ep_frame f;
	uint8_t fg[256];
	void *scratch;

	if (!ep_frame_parse(req, &f, res) || !blobs_args_ok(st, &f, res))
		return;
	plane = preprocess(st, &f, res);
	if (!plane)
		return;
	scratch = ep_task_scratch(&st->cc, cc_scratch_size(f.w), res);
	if (!scratch)
		return;
	level = f.arg0;
	if (level == EP_IMG_OTSU) {
		ep_histogram(plane, (size_t)f.w * f.h, hist);
		level = ep_otsu_level(hist);
	}
	for (unsigned int v = 0; v < 256; v++)
		fg[v] = (v > level) != !!(f.arg2 & EP_BLOBS_F_DARK);

	l.w = f.w;
	l.h = f.h;
	l.min_area = f.arg1;
	l.conn8 = !!(f.arg2 & EP_BLOBS_F_CONN8);
	l.no_border = !!(f.arg2 & EP_BLOBS_F_NO_BORDER);
	l.heap = st->heap;
	label(&l, plane, fg, scratch);
	heap_sort(l.heap, l.nheap);

	len = sizeof(struct ep_blobs_result) + l.nheap * sizeof(struct ep_blob_box);
	if (!ep_hres_room(res, len))
		return;
	blobs_put(&l, level, res->data);
	ep_hres_ok(res, len);
}

EP_DEFINE_HANDLER_EACH(ep_blobs_handler, "blobs", EP_TT_BLOBS, blobs_one, .init = blobs_init,
		       .fini = blobs_fini, .out_size = blobs_out_size, .work = blobs_work);
