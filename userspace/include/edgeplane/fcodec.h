/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fcodec.h - the frame codec: image payloads (struct ep_img_hdr + 8-bit gray pixels,
 * edgeplane/payload.h) coded by a per-pixel predictor and context-split residual streams,
 * entropy-coded by zstd. Lossless, or bounded-error: every decoded pixel within +-k of the
 * original. The format is struct ep_fc_hdr's comment and docs/protocol.md 3.9.
 *
 * A coder (encoder or decoder) keeps its zstd context and scratch memory between frames;
 * it belongs to one thread. Functions returning int give 0 or a negative errno, those
 * returning pointers NULL with errno set.
 */
#ifndef EDGEPLANE_FCODEC_H
#define EDGEPLANE_FCODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* zstd level of the streams by default: its fast mode at acceleration 100, with the
 * literals Huffman-coded. Residuals are nearly all literals; a longer search for matches
 * finds little in them and costs time (levels -1 to -1000 measured, docs/benchmarks.md,
 * "Frame codec"). Levels are zstd's, -131072..22. */
#define EP_FC_LEVEL_DEFAULT (-100)

#define EP_FC_KEEP_NONE (-1)
#define EP_FC_KEEP_OTSU 0xffff /* as EP_IMG_OTSU */

struct ep_fc_params {
	unsigned int max_error; /* k: every pixel within +-k; 0: lossless */
	int level;		/* zstd level of the streams; 0: EP_FC_LEVEL_DEFAULT */
	/* With k > 0, for frames a threshold will cut (threshold, blobs): EP_FC_KEEP_NONE,
	 * or a level 0..255: every pixel stays on its side of it (pixel > level), those near
	 * it exact; or EP_FC_KEEP_OTSU: the level is the frame's Otsu level, and the decoded
	 * frame's Otsu level is the same (else the frame is coded lossless). */
	int keep;
};

struct ep_fc_enc;
struct ep_fc_dec;

struct ep_fc_enc *ep_fc_enc_new(void);
void ep_fc_enc_free(struct ep_fc_enc *e);
struct ep_fc_dec *ep_fc_dec_new(void);
void ep_fc_dec_free(struct ep_fc_dec *d);

/*
 * Encode the image payload @in (@len bytes: an ep_img_hdr, then exactly width x height
 * pixels) as @prm says into @out (@cap bytes). Returns the bytes written, -EINVAL (not an
 * image payload, a parameter out of range), -ENOSPC (@cap too small: the frame does not
 * shrink to @cap), -ENOMEM.
 */
ssize_t ep_fc_encode(struct ep_fc_enc *e, const void *in, size_t len,
		     const struct ep_fc_params *prm, void *out, size_t cap);

/*
 * Read the headers of the coded payload @in (@len bytes) without decoding: *out_len = the
 * decoded payload's length (16 + width x height), *max_error = its k. Returns 0 or
 * -EBADMSG (not a well-formed frame-codec payload).
 */
int ep_fc_peek(const void *in, size_t len, uint32_t *out_len, unsigned int *max_error);

/*
 * Decode @in (@len bytes) into @out, which holds exactly @out_len bytes as ep_fc_peek()
 * said. Every stream is checked (lengths, zstd checksums, each context's pixels used up
 * exactly). Returns 0, -EBADMSG (malformed or corrupted), -ENOMEM.
 */
int ep_fc_decode(struct ep_fc_dec *d, const void *in, size_t len, void *out, size_t out_len);

#endif /* EDGEPLANE_FCODEC_H */
