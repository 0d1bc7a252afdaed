/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * payload.h - task types and payload formats of edgeplane's built-in handlers.
 *
 * Clients build payloads with these definitions; the handlers in dataplane/handlers/
 * parse them. docs/handlers.md describes each format in prose. All multi-byte integers
 * are big-endian unless a field says otherwise.
 */
#ifndef EDGEPLANE_PAYLOAD_H
#define EDGEPLANE_PAYLOAD_H

#include <linux/types.h>

/* Default task_type of each built-in handler (a node's config may renumber them). */
enum ep_task_type {
	EP_TT_ECHO = 1,	       /* result = payload */
	EP_TT_CHECKSUM = 2,    /* result = struct ep_checksum_result */
	EP_TT_RESIZE = 10,     /* image -> image */
	EP_TT_BOX_BLUR = 11,   /* image -> image */
	EP_TT_GAUSS_BLUR = 12, /* image -> image */
	EP_TT_SOBEL = 13,      /* image -> image */
	EP_TT_THRESHOLD = 14,  /* image -> image */
	EP_TT_BLOBS = 20,      /* image -> struct ep_blobs_result + boxes */
	EP_TT_ZSTD = 30,       /* struct ep_zstd_req + data -> zstd frame */
	EP_TT_MATMUL = 40,     /* struct ep_matmul_req + A + B -> ep_matmul_result + C */
	EP_TT_INFER = 50,      /* struct ep_infer_req + x -> ep_infer_result + logits */
};

/*
 * Images: an 8-bit grayscale frame, row-major, width * height bytes after this header.
 * The result of an image -> image task has the same header, with the output's width and
 * height (RESIZE changes them) and args zero, and the output pixels. Args a type does not
 * use must be zero. The args per type:
 *   RESIZE     arg0 = output width, arg1 = output height (1..EP_IMG_MAX_DIM), bilinear
 *   BOX_BLUR   arg0 = radius 1..64 (window 2r+1), edges replicated
 *   GAUSS_BLUR arg0 = sigma in hundredths, 10..2000 (0.1..20.0), edges replicated
 *   SOBEL      gradient magnitude sqrt(gx^2 + gy^2), clamped to 255, edges replicated
 *   THRESHOLD  arg0 = level 0..255 (pixel > level -> 255, else 0), or EP_IMG_OTSU;
 *              arg1 bit 0 = invert
 *   BLOBS      arg0 = level as THRESHOLD (or EP_IMG_OTSU), arg1 = minimum area in pixels,
 *              arg2 = EP_BLOBS_F_* flags
 */
struct ep_img_hdr {
	__be16 width;  /* 1..EP_IMG_MAX_DIM */
	__be16 height; /* 1..EP_IMG_MAX_DIM */
	__be16 arg0;
	__be16 arg1;
	__be32 arg2;
	__be32 rsvd; /* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_img_hdr) == 16, "ep_img_hdr layout");

#define EP_IMG_MAX_DIM 16384
#define EP_IMG_OTSU    0xffff /* threshold level chosen by Otsu's method */

/* BLOBS: detect objects (defects) as connected components of the thresholded frame. */
#define EP_BLOBS_F_DARK	      0x1  /* objects are darker than the background */
#define EP_BLOBS_F_REFERENCE  0x2  /* threshold |frame - reference| (warm-up file) */
#define EP_BLOBS_F_CONN8      0x4  /* 8-connectivity (default 4) */
#define EP_BLOBS_F_BLUR	      0x8  /* Gaussian blur, sigma 1.0, before thresholding */
#define EP_BLOBS_F_NO_BORDER  0x10 /* ignore blobs touching the frame's edge (cut off) */
#define EP_BLOBS_MAX_REPORTED 1024 /* boxes listed; count is exact */

struct ep_blobs_result {
	__be32 count;	 /* blobs found: area >= minimum (and off the edge) */
	__be32 reported; /* boxes that follow: min(count, EP_BLOBS_MAX_REPORTED) */
	__be16 level;	 /* threshold level used (Otsu's when asked) */
	__be16 rsvd;
	__be32 rsvd2;
} __attribute__((packed));
_Static_assert(sizeof(struct ep_blobs_result) == 16, "ep_blobs_result layout");

/* One blob, largest first. Coordinates are inclusive pixel positions. */
struct ep_blob_box {
	__be32 area;	       /* pixels */
	__be16 x0, y0, x1, y1; /* bounding box */
	__be16 cx, cy;	       /* centroid, rounded */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_blob_box) == 16, "ep_blob_box layout");

/* CHECKSUM: the result for any payload. */
struct ep_checksum_result {
	__be32 crc32; /* zlib CRC-32 (IEEE 802.3) */
	__be32 rsvd;
	__be64 xxh3; /* XXH3-64, seed 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_checksum_result) == 16, "ep_checksum_result layout");

/* ZSTD: compress the data that follows this header. */
struct ep_zstd_req {
	__u8 level; /* 1..19 */
	__u8 rsvd[3];
} __attribute__((packed));
_Static_assert(sizeof(struct ep_zstd_req) == 4, "ep_zstd_req layout");

/* MATMUL: C = A x B, with A n x k and B k x m, float32 little-endian, row-major. */
struct ep_matmul_req {
	__be32 n, k, m; /* 1..EP_MATMUL_MAX_DIM */
	__be32 rsvd;
} __attribute__((packed));
_Static_assert(sizeof(struct ep_matmul_req) == 16, "ep_matmul_req layout");

struct ep_matmul_result {
	__be32 n, m; /* C follows: n * m float32 little-endian, row-major */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_matmul_result) == 8, "ep_matmul_result layout");

#define EP_MATMUL_MAX_DIM 2048

/*
 * INFER: one feature vector through the node's model, a multi-layer perceptron loaded at
 * warm-up from the handler's one file (format: edgeplane/model.h). The header is followed
 * by dim float32 little-endian features, all finite; dim must be the model's input dim.
 * The result is this header's counterpart followed by the logits (the last layer's
 * outputs, no activation), float32 little-endian; argmax is the index of the first
 * largest logit.
 */
struct ep_infer_req {
	__be32 dim;  /* number of features: the model's input dim */
	__be32 rsvd; /* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_infer_req) == 8, "ep_infer_req layout");

struct ep_infer_result {
	__be32 dim;    /* number of logits that follow: the model's output dim */
	__be32 argmax; /* the class: index of the largest logit */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_infer_result) == 8, "ep_infer_result layout");

/*
 * The frame codec (EP_F_FRAME in the task header, docs/protocol.md 3.2 and 3.9): an image
 * payload (struct ep_img_hdr + pixels) carried as its ep_img_hdr unchanged, this header,
 * nctx big-endian stream lengths, then the streams. Each pixel is predicted from its
 * decoded neighbours (left a, up b, up-left c, up-right d) by LOCO-I's median edge
 * detector; the residual (lossless: (x - pred) mod 256; max_error k > 0: the residual
 * quantised with step 2k + 1, so every decoded pixel is within +-k) goes to the stream of
 * the pixel's context, the activity |d - b| + |b - c| + |c - a| bucketed at
 * EP_FC_CTX_T1..T3. Each stream is one zstd frame with its content size and checksum, or
 * empty (length 0) when its context has no pixel. userspace/codec/fcodec.c is the
 * reference.
 */
struct ep_fc_hdr {
	__u8 version;	/* EP_FC_VERSION */
	__u8 max_error; /* k: 0 lossless, 1..EP_FC_MAX_ERROR */
	__u8 nctx;	/* streams: 1 (one context) or EP_FC_NCTX */
	__u8 rsvd;	/* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct ep_fc_hdr) == 4, "ep_fc_hdr layout");

#define EP_FC_VERSION	1
#define EP_FC_MAX_ERROR 15
#define EP_FC_NCTX	4
#define EP_FC_CTX_T1	5 /* activity < T1: context 0, < T2: 1, < T3: 2, else 3 */
#define EP_FC_CTX_T2	20
#define EP_FC_CTX_T3	80

#endif /* EDGEPLANE_PAYLOAD_H */
