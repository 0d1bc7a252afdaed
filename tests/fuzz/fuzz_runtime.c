// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runtime's datagram path (dataplane/core/worker.c and what it drives: the codec, the
 * result cache, reassembly, zstd decompression, batching, every default built-in handler,
 * replies, fragmentation and compression), through its public API: a worker
 * (ep_worker_new(), ep_worker_run()) over an in-memory I/O backend (struct ep_io_ops).
 * The backend hands the input's datagrams to the worker in bursts, each in a buffer of its
 * exact size that is freed when the worker releases it (so a read after release is a
 * use-after-free ASan sees), stops the worker when they run out, and checks every reply.
 *
 * Input: byte 0 = batch size (bits 0-2), burst size (bits 3-5), address validation (bit 6:
 * "off-unsafe" instead of the default), reassembly timeout (bit 7: 1 µs instead of 2 s);
 * then operations until the input ends:
 *   0  a raw datagram: source (one of four), 16-bit length, bytes;
 *   1  a task the input describes: flags (priority, zstd with or without the size in the
 *      frame, damage, lost or repeated fragments, a deadline: see push_task()), task id
 *      (bit 4: sealed with the node's one session key, bit 5: and one byte of each
 *      datagram then flipped, bit 6: frame-coded (EP_F_FRAME; the payload as pixels of a
 *      frame 16 wide, or as it is if that fails), bit 7: with k = 2), type (one of the built-in
 * handlers'), fragment size, 16-bit payload length and the payload, sent as the fragments of a
 * REQUEST; 2  a PING or a CANCEL of a task id. Checks: every buffer released exactly once; every
 * reply fits its buffer, decodes, is client-bound, goes to a source that sent something, and
 * answers a task id that source sent; every sealed reply opens with the key, as the node; and, with
 * address validation on (no source here has a token), no source has been sent more than
 * EP_AMP_FACTOR times the bytes it sent, sealed replies included, except the sealed ones to source
 * 0, whose address the key was enrolled from (docs/protocol.md 3.5, 3.7: an AUTH datagram from
 * elsewhere may carry a forged source). The worker runs with auth.mode "optional".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <zstd.h>

#include "core/keys.h"
#include "core/registry.h"
#include "core/worker.h"
#include "edgeplane/codec.h"
#include "edgeplane/fcodec.h"
#include "edgeplane/payload.h"
#include "fuzz.h"
#include "peers.h"

#define NSRC	   4
#define MAX_DGRAMS 1024
#define TX_CAP	   2048
#define MAX_TASK   (256u << 10)
#define MAX_IDS	   256

struct dgram {
	uint8_t *buf; /* NULL once released */
	uint32_t len;
	uint8_t src;
};

struct fake_io {
	struct ep_io_q q;
	struct dgram d[MAX_DGRAMS];
	unsigned int n, next, burst;
	uint8_t *tx; /* the buffer of the last tx_buf() */
	uint32_t tx_cap;
	bool stopped;
	/* What each source sent: the task ids of its decoded server-bound datagrams. */
	uint64_t ids[NSRC][MAX_IDS];
	unsigned int nids[NSRC];
	/* UDP payload bytes each source has handed the worker, and has been sent. */
	uint64_t bytes_in[NSRC], bytes_out[NSRC];
	bool amp_limit; /* address validation on: bytes_out <= 3 x bytes_in */
};

static struct ep_registry reg;
static struct ep_worker *worker;
static struct fake_io io;

/* The node's one session key (id 1, tenant 7, every type, priorities up to 5, enrolled
 * from source 0's address) and the device's context. */
#define NODE_ID 9
static struct ep_keytab *keys;
static struct ep_aead *dev;
static uint64_t dev_ctr;

/* Source @i of peers.h's four, from port 40000 + @i. */
static void peer_of(unsigned int i, struct ep_peer *p)
{
	fz_peer(i, (uint16_t)(40000 + i), p);
}

static int src_of(const struct ep_peer *p)
{
	for (unsigned int i = 0; i < NSRC; i++) {
		struct ep_peer q;

		peer_of(i, &q);
		if (!memcmp(q.addr, p->addr, 16) && q.port == p->port)
			return (int)i;
	}
	return -1;
}

static unsigned int fio_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	unsigned int n = 0;

	if (io.stopped || io.next == io.n) {
		ep_worker_stop(worker);
		return 0;
	}
	while (n < max && n < io.burst && io.next < io.n) {
		struct dgram *g = &io.d[io.next];

		memset(&d[n], 0, sizeof(d[n]));
		d[n].data = g->buf;
		d[n].len = g->len;
		d[n].handle = io.next++;
		io.bytes_in[g->src] += g->len;
		peer_of(g->src, &d[n].peer);
		d[n].route.ipv6 = g->src == 3;
		d[n].route.local_port = EP_DEFAULT_PORT;
		n++;
	}
	return n;
}

static void fio_release(struct ep_io_q *q, uint64_t handle)
{
	FZ_CHECK(handle < io.next);
	FZ_CHECK(io.d[handle].buf); /* released once */
	free(io.d[handle].buf);
	io.d[handle].buf = NULL;
}

static uint8_t *fio_tx_buf(struct ep_io_q *q, uint32_t *cap)
{
	FZ_CHECK(!io.tx);
	io.tx = malloc(TX_CAP);
	FZ_CHECK(io.tx);
	io.tx_cap = *cap = TX_CAP;
	return io.tx;
}

static void fio_tx_abort(struct ep_io_q *q)
{
	FZ_CHECK(io.tx);
	free(io.tx);
	io.tx = NULL;
}

static int fio_tx_commit(struct ep_io_q *q, const struct ep_route *route,
			 const struct ep_peer *peer, uint32_t len)
{
	int src = src_of(peer);
	const uint8_t *payload;
	struct ep_msg m;
	bool known = false;

	FZ_CHECK(io.tx);
	FZ_CHECK(len <= io.tx_cap);
	/* Replies go to someone who spoke to us, and only about a task they sent. */
	FZ_CHECK(src >= 0);
	FZ_CHECK(ep_decode(io.tx, len, EP_MAX_TASK_LEN, &m, &payload, NULL) == 0);
	FZ_CHECK(EP_KIND_IS_CLIENT_BOUND(m.kind));
	for (unsigned int i = 0; i < io.nids[src] && !known; i++)
		known = io.ids[src][i] == m.task_id;
	FZ_CHECK(known || io.nids[src] == MAX_IDS);
	if (m.flags & EP_F_AUTH) { /* sealed with the key, by this node */
		uint32_t sender;
		uint64_t pn;

		FZ_CHECK(m.auth_key_id == 1);
		FZ_CHECK(!ep_aead_open(dev, io.tx, len, &sender, &pn) && sender == NODE_ID);
	}
	if (!(m.flags & EP_F_AUTH) || src != 0) /* the key's address: no budget */
		io.bytes_out[src] += len;
	FZ_CHECK(!io.amp_limit || io.bytes_out[src] <= EP_AMP_FACTOR * io.bytes_in[src]);
	free(io.tx);
	io.tx = NULL;
	return 0;
}

static unsigned int fio_flush(struct ep_io_q *q)
{
	return 0;
}

static void fio_wait(struct ep_io_q *q, int timeout_ms)
{
}

static void fio_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	memset(st, 0, sizeof(*st));
}

static void fio_stop_rx(struct ep_io_q *q)
{
	io.stopped = true;
}

static void fio_close(struct ep_io_q *q)
{
}

EP_DEFINE_IO_OPS(fio, "fuzz");

/* Queue one datagram from source @src; note the task id of what decodes. */
static void push(const uint8_t *p, size_t len, unsigned int src)
{
	struct dgram *g;
	struct ep_msg m;

	if (io.n == MAX_DGRAMS)
		return;
	g = &io.d[io.n++];
	g->buf = malloc(len ? len : 1);
	FZ_CHECK(g->buf);
	memcpy(g->buf, p, len);
	g->len = (uint32_t)len;
	g->src = (uint8_t)src;
	if (!ep_decode(p, len, EP_MAX_TASK_LEN, &m, NULL, NULL) &&
	    EP_KIND_IS_SERVER_BOUND(m.kind) && io.nids[src] < MAX_IDS)
		io.ids[src][io.nids[src]++] = m.task_id;
}

static const uint16_t
	types[] = { EP_TT_ECHO,	 EP_TT_CHECKSUM,  EP_TT_RESIZE, EP_TT_BOX_BLUR, EP_TT_GAUSS_BLUR,
		    EP_TT_SOBEL, EP_TT_THRESHOLD, EP_TT_BLOBS,	EP_TT_ZSTD,	EP_TT_MATMUL,
		    999 /* no such handler */ };

/* A task the input describes, as a client would send it (or a damaged copy). Flags:
 * bits 0-1 priority 1, 2, 3 or 5; 0x04 the payload loses its last byte after compression;
 * 0x08 zstd-compressed; 0x40 with 0x08: a frame that does not declare its size, without:
 * the ZSTD flag on bytes that are not zstd; 0x10 the first fragment is lost; 0x20 the
 * last comes twice; 0x80 a deadline of 1 ms. */
static void push_task(struct fz *f, unsigned int src)
{
	static const uint8_t prio[] = { 1, 2, 3, 5 };
	static uint8_t zbuf[1 << 17], out[EP_HDR_LEN + 0x10000];
	static ZSTD_CCtx *cctx;
	static struct ep_fc_enc *fenc;
	struct ep_msg tmpl = { .kind = EP_KIND_REQUEST, .tenant_id = 7 };
	uint8_t flags = fz_u8(f);
	uint32_t fs, count, total;
	uint64_t secs;
	const uint8_t *payload;
	size_t len;

	uint8_t id = fz_u8(f);

	tmpl.task_id = id % 16;
	if (id & 0x10) { /* a device with the node's key */
		tmpl.flags |= EP_F_AUTH;
		tmpl.auth_key_id = 1;
	}
	tmpl.task_type = types[fz_u8(f) % (sizeof(types) / sizeof(types[0]))];
	tmpl.priority = prio[flags & 3];
	tmpl.deadline_ms = flags & 0x80 ? 1 : 0;
	fs = fz_u16(f) % 1472 + 1;
	payload = fz_bytes(f, fz_u16(f), &len);
	total = (uint32_t)len;
	if (flags & 0x08) { /* zstd, as a client compresses */
		size_t n;

		if (!cctx)
			FZ_CHECK(cctx = ZSTD_createCCtx());
		ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, !(flags & 0x40));
		n = ZSTD_compress2(cctx, zbuf, sizeof(zbuf), payload, len);
		FZ_CHECK(!ZSTD_isError(n));
		payload = zbuf;
		total = (uint32_t)n;
	}
	if (flags & (0x08 | 0x40))
		tmpl.flags |= EP_F_ZSTD;
	/* Frame-coded: the bytes as a frame 16 wide, or as they are. (Never with zstd: the
	 * encoder builds no such header; raw datagrams can carry one.) */
	if ((id & 0x40) && !(tmpl.flags & EP_F_ZSTD)) {
		static uint8_t frame[sizeof(struct ep_img_hdr) + 0x10000];
		struct ep_fc_params prm = { .max_error = id & 0x80 ? 2 : 0,
					    .keep = EP_FC_KEEP_NONE };
		struct ep_img_hdr hdr = { .width = htons(16),
					  .height = htons((uint16_t)(len / 16)),
					  .arg0 = htons(EP_IMG_OTSU),
					  .arg1 = htons(20) };
		ssize_t n = -EINVAL;

		if (!fenc)
			FZ_CHECK(fenc = ep_fc_enc_new());
		if (len >= 16) {
			memcpy(frame, &hdr, sizeof(hdr));
			memcpy(frame + sizeof(hdr), payload, len / 16 * 16);
			n = ep_fc_encode(fenc, frame, sizeof(hdr) + len / 16 * 16, &prm, zbuf,
					 sizeof(zbuf));
		}
		if (n > 0) {
			payload = zbuf;
			total = (uint32_t)n;
		}
		tmpl.flags |= EP_F_FRAME;
	}
	if ((flags & 0x04) && total)
		total--;
	count = ep_frag_count(total, fs);
	if (!count)
		return;
	for (uint32_t i = 0; i < count && i < 256; i++) {
		ssize_t n;

		if ((flags & 0x10) && !i && count > 1)
			continue;
		n = ep_frag_build(&tmpl, payload, total, fs, i, out, sizeof(out));
		FZ_CHECK(n >= EP_HDR_LEN);
		if (tmpl.flags & EP_F_AUTH) {
			/* The key's age on the node's clock: a fresh pn. */
			secs = (uint64_t)(((int64_t)ep_now_ns() -
					   ep_keytab_get(keys, 1)->issued_ns) /
					  1000000000);
			FZ_CHECK(!ep_aead_seal(dev, EP_AUTH_SENDER_DEVICE,
					       ep_auth_pn(secs, dev_ctr++), out, (size_t)n));
			if (id & 0x20) /* tampered on the way */
				out[(size_t)n - 1 - i % (size_t)n] ^= 0x40;
		}
		push(out, (size_t)n, src);
		if ((flags & 0x20) && i + 1 == count)
			push(out, (size_t)n, src);
	}
}

static void push_control(struct fz *f, unsigned int src)
{
	uint8_t out[EP_HDR_LEN];
	struct ep_msg m = { .kind = fz_bool(f) ? EP_KIND_PING : EP_KIND_CANCEL,
			    .priority = 3,
			    .task_type = 1,
			    .frag_count = 1 };

	m.task_id = fz_u8(f) % 16;
	FZ_CHECK(ep_encode_hdr(&m, out, sizeof(out)) == EP_HDR_LEN);
	push(out, sizeof(out), src);
}

static struct ep_token_master master;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FZ_CHECK(!ep_registry_add_defaults(&reg));
	for (unsigned int i = 0; i < reg.n; i += 2) /* half the types take k = 2 */
		reg.e[i].max_error = 2;
	FZ_CHECK(!ep_token_master_random(&master, 600));
	{
		struct ep_key_info k = { .key_id = 1,
					 .tenant = 7,
					 .has_addr = true,
					 .lim = { .all_types = true,
						  .max_priority = EP_PRIO_MAX } };
		struct ep_peer p0;
		struct timespec ts;

		peer_of(0, &p0);
		memcpy(k.addr, p0.addr, sizeof(k.addr));
		clock_gettime(CLOCK_REALTIME, &ts);
		k.issued_unix_ms = (uint64_t)ts.tv_sec * 1000;
		k.expires_unix_ms = k.issued_unix_ms + 86400000ull * 365;
		memset(k.key, 0x5a, sizeof(k.key));
		FZ_CHECK(keys = ep_keytab_new());
		FZ_CHECK(!ep_keytab_set_now(keys, &k));
		ep_keytab_set_node_id(keys, NODE_ID);
		FZ_CHECK(dev = ep_aead_new(k.key));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t setup = fz_u8(&f);
	struct ep_worker_cfg cfg = {
		.batch_size = setup % 8 + 1,
		.queue_depth = 16,
		.max_task_len = MAX_TASK,
		.max_result_len = 1u << 20,
		.mtu = 1500,
		.max_priority = EP_PRIO_DEFAULT,
		/* bit 5 (also the burst's): priority isolation, which authenticated tasks
		 * reach (their keys allow priority 5) */
		.high_priority = setup & 0x20 ? 4 : 0,
		.reply_zstd_level = 1,
		.reply_zstd_min = 512,
		.arena_bytes = 4u << 20,
		.held_bytes = 1u << 20,
		.reasm = { .max_tasks = 16,
			   .max_bytes = 1u << 20,
			   .max_src_tasks = 8,
			   .max_src_bytes = 512u << 10,
			   .prefix_v4 = 24,
			   .prefix_v6 = 64,
			   /* bit 7: fragments expire after 1 µs, so a full table
			    * expires tasks (TIMEOUT replies) while the run lasts */
			   .timeout_ns = setup & 0x80 ? 1000 : 2000ull * 1000000,
			   .max_lifetime_ns = 10000ull * 1000000 },
		.cache = { .window_ns = 30ull * 1000000000,
			   .entries = 64,
			   .bytes = 1u << 20,
			   .max_replays = 8,
			   .resend_gap_ns = 10ull * 1000000 },
		.validation = setup & 0x40 ? EP_VALIDATE_OFF : EP_VALIDATE_AMPLIFICATION,
		.token = &master,
		.max_work = 4000000000ull,
		.cpu = -1,
		.auth_mode = EP_AUTH_MODE_OPTIONAL,
		.clock_skew_s = 5,
		.keys = keys,
	};
	unsigned int ops = 0;

	memset(&io, 0, sizeof(io));
	io.q.ops = &fio_ops;
	io.amp_limit = cfg.validation != EP_VALIDATE_OFF;
	io.burst = (setup >> 3) % 8 * 8 + 1;
	while (fz_left(&f) && ops++ < 256 && io.n < MAX_DGRAMS) {
		uint8_t op = fz_u8(&f);
		unsigned int src = (op >> 2) % NSRC;

		switch (op % 3) {
		case 0: {
			size_t len;
			const uint8_t *p = fz_bytes(&f, fz_u16(&f) % (EP_DGRAM_MAX + 1), &len);

			push(p, len, src);
			break;
		}
		case 1:
			push_task(&f, src);
			break;
		case 2:
			push_control(&f, src);
			break;
		}
	}

	worker = ep_worker_new(&cfg, &reg, &io.q, 0);
	FZ_CHECK(worker);
	ep_worker_run(worker);
	ep_worker_free(worker);
	worker = NULL;
	FZ_CHECK(!io.tx);
	for (unsigned int i = 0; i < io.n; i++)
		FZ_CHECK(!io.d[i].buf); /* every buffer released */
	return 0;
}
