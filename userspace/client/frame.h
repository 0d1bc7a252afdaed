/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * frame.h - the client's use of the frame codec (edgeplane/fcodec.h): which task types
 * carry image frames and the error each accepts, and the choice per frame between sending
 * it as it is, lossless, or within +-k, from the uplink the session measured and the
 * coder's own measured speed and savings (docs/client.md, "Frame codec").
 */
#ifndef EP_CLIENT_FRAME_H
#define EP_CLIENT_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "edgeplane/client.h"
#include "edgeplane/fcodec.h"

#define EP_FRAME_MAX_TYPES 16

enum ep_frame_mode { EP_FRAME_OFF, EP_FRAME_LOSSLESS, EP_FRAME_BOUNDED, EP_FRAME__MODES };

struct ep_frame_type {
	uint16_t type;
	uint8_t max_error;
	uint8_t flags; /* EP_FRAME_F_* */
	bool used;
};

/* What a mode costs and saves, measured on this device (exponentially weighted). */
struct ep_frame_est {
	double enc_bps; /* raw bytes coded per second of this thread's CPU */
	double saved;	/* fraction of the raw bytes saved */
	uint32_t n;
};

struct ep_frame_state {
	struct ep_frame_type t[EP_FRAME_MAX_TYPES];
	struct ep_frame_est est[EP_FRAME__MODES];
	struct ep_fc_enc *enc; /* created with the first frame */
	uint64_t frames[EP_FRAME__MODES];
};

int ep_frame_set(struct ep_frame_state *s, uint16_t type, unsigned int max_error,
		 unsigned int flags);
/* The settings of @type, or NULL if its payloads are not frames. */
const struct ep_frame_type *ep_frame_find(const struct ep_frame_state *s, uint16_t type);
/* The mode for the next frame of @ft over an uplink of @up_bps bytes/s (0: not measured). */
enum ep_frame_mode ep_frame_choose(const struct ep_frame_state *s, const struct ep_frame_type *ft,
				   double up_bps);
/*
 * Code @payload (@len bytes) of type @ft in @mode into @out (@len bytes: it must shrink).
 * Returns the coded length, or 0 when it is to go as it is (not an image payload, no
 * gain, no memory), and learns the mode's speed and savings.
 */
uint32_t ep_frame_encode(struct ep_frame_state *s, const struct ep_frame_type *ft,
			 enum ep_frame_mode mode, const void *payload, uint32_t len, void *out);
void ep_frame_free(struct ep_frame_state *s);

#endif /* EP_CLIENT_FRAME_H */
