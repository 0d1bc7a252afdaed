// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The frame codec in the client (frame.h). A frame costs its coding time on this device
 * and saves its bytes' time on the uplink: a mode pays when raw / enc_bps + raw * (1 -
 * saved) / up_bps < raw / up_bps, that is when up_bps < enc_bps * saved, so a link faster
 * than the coder never gets coded frames. Of the modes that pay, the one with the least
 * time per frame wins; a mode not measured yet is tried once (it has no estimate), and
 * while the uplink is not measured the smallest coding is used.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "edgeplane/payload.h"
#include "frame.h"

#define EWMA_W 0.125

int ep_frame_set(struct ep_frame_state *s, uint16_t type, unsigned int max_error,
		 unsigned int flags)
{
	struct ep_frame_type *free_slot = NULL;

	if (max_error > EP_FC_MAX_ERROR || (flags & ~(EP_FRAME_F_OFF | EP_FRAME_F_KEEP_LEVEL)))
		return -EINVAL;
	for (unsigned int i = 0; i < EP_FRAME_MAX_TYPES; i++) {
		struct ep_frame_type *t = &s->t[i];

		if (t->used && t->type == type) {
			free_slot = t;
			break;
		}
		if (!t->used && !free_slot)
			free_slot = t;
	}
	if (flags & EP_FRAME_F_OFF) {
		if (free_slot && free_slot->used && free_slot->type == type)
			free_slot->used = false;
		return 0;
	}
	if (!free_slot)
		return -ENOSPC;
	*free_slot = (struct ep_frame_type){
		.type = type, .max_error = (uint8_t)max_error, .flags = (uint8_t)flags, .used = true
	};
	return 0;
}

const struct ep_frame_type *ep_frame_find(const struct ep_frame_state *s, uint16_t type)
{
	for (unsigned int i = 0; i < EP_FRAME_MAX_TYPES; i++)
		if (s->t[i].used && s->t[i].type == type)
			return &s->t[i];
	return NULL;
}

enum ep_frame_mode ep_frame_choose(const struct ep_frame_state *s, const struct ep_frame_type *ft,
				   double up_bps)
{
	enum ep_frame_mode best = EP_FRAME_OFF,
			   last = ft->max_error ? EP_FRAME_BOUNDED : EP_FRAME_LOSSLESS;
	double best_t = up_bps > 0 ? 1 / up_bps : 0; /* seconds a raw byte takes */

	/* The bounded-error mode first: untried, it is the one tried first. */
	for (int m = (int)last; m >= EP_FRAME_LOSSLESS; m--) {
		const struct ep_frame_est *e = &s->est[m];
		double t;

		if (!e->n)
			return (enum ep_frame_mode)m; /* not measured: try it */
		if (up_bps <= 0) {
			/* The link unknown: the coding that saves most. */
			if (e->saved > 0 && (best == EP_FRAME_OFF || e->saved > s->est[best].saved))
				best = (enum ep_frame_mode)m;
			continue;
		}
		if (up_bps >= e->enc_bps * e->saved)
			continue; /* the link is faster than coding pays for */
		t = 1 / e->enc_bps + (1 - e->saved) / up_bps;
		if (t < best_t) {
			best_t = t;
			best = (enum ep_frame_mode)m;
		}
	}
	return best;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void learn(struct ep_frame_est *e, double bps, double saved)
{
	if (!e->n++) {
		e->enc_bps = bps;
		e->saved = saved;
		return;
	}
	e->enc_bps += EWMA_W * (bps - e->enc_bps);
	e->saved += EWMA_W * (saved - e->saved);
}

uint32_t ep_frame_encode(struct ep_frame_state *s, const struct ep_frame_type *ft,
			 enum ep_frame_mode mode, const void *payload, uint32_t len, void *out)
{
	struct ep_fc_params prm = { .keep = EP_FC_KEEP_NONE };
	const struct ep_img_hdr *h = payload;
	double t0, t1;
	ssize_t n;

	if (mode == EP_FRAME_OFF || len < sizeof(*h))
		return 0;
	if (!s->enc && !(s->enc = ep_fc_enc_new()))
		return 0;
	if (mode == EP_FRAME_BOUNDED) {
		prm.max_error = ft->max_error;
		if (ft->flags & EP_FRAME_F_KEEP_LEVEL) {
			unsigned int level = (unsigned int)((const uint8_t *)&h->arg0)[0] << 8 |
					     ((const uint8_t *)&h->arg0)[1];

			prm.keep = level == EP_IMG_OTSU ? EP_FC_KEEP_OTSU
				   : level <= 255	? (int)level
							: EP_FC_KEEP_NONE;
		}
	}
	t0 = cpu_s();
	n = ep_fc_encode(s->enc, payload, len, &prm, out, len);
	t1 = cpu_s();
	if (n == -EINVAL)
		return 0; /* not an image payload: nothing learnt */
	learn(&s->est[mode], (double)len / (t1 - t0 > 1e-7 ? t1 - t0 : 1e-7),
	      n > 0 ? 1 - (double)n / len : 0);
	if (n <= 0 || (uint32_t)n >= len)
		return 0;
	s->frames[mode]++;
	return (uint32_t)n;
}

void ep_frame_free(struct ep_frame_state *s)
{
	ep_fc_enc_free(s->enc);
	s->enc = NULL;
}
