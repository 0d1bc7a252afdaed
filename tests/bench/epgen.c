// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epgen - the benchmarks' closed-loop load generator: keeps N tasks outstanding against an
 * edge node and reports tasks/s and latency percentiles. A task larger than one datagram
 * goes out as fragments (1500-byte MTU); a fragmented reply counts when its last fragment
 * is in.
 *
 *   --mode udp     a kernel UDP socket, sendmmsg/recvmmsg
 *   --mode afxdp   raw frames through an AF_XDP socket on --dev, with the ep_loadgen XDP
 *                  program steering the replies back into it (no kernel stack on this
 *                  side, so one core drives far more load)
 *
 * Lighter than edgeload: no retries (a task unanswered for --timeout-ms is counted lost
 * and replaced), no compression, and replies are counted, not reassembled. A RETRY (the
 * node's "validate your address", for a reply over 3 times the request) ends its task,
 * counted as "validations", and every later task carries its token. Every run is bounded
 * by --duration.
 *
 * --auth KEY_ID:KEY_HEX32:TENANT seals every request with that session key (the device's
 * side of docs/protocol.md 3.5). A node keeps a replay window over the key's counter and
 * checks the pn's seconds against the key's age, so runs after the first need
 * --auth-issued (the key's issued_unix_ms: pn seconds count from it, not from this start)
 * and --auth-ctr-file (the first counter is read from it, the next one written back).
 * --idle-wait: wait in poll() for replies when every task is out (up to 1 ms) instead of
 * spinning, so a generator that shares its CPU with another sender yields it meanwhile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/xsk.h>

#include "edgeplane/auth.h"
#include "edgeplane/codec.h"
#include "edgeplane/hist.h"
#include "edgeplane/log.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"
#include "ep_loadgen.skel.h"
#include "io/frame.h"

#define BURST	    64
#define NFRAMES	    8192
#define FRAME	    2048
#define TX_RING	    2048
#define MAX_CONC    4096
#define MAX_PAYLOAD (1u << 20)
#define MTU	    1500

struct gen {
	bool afxdp;
	uint32_t conc, size, timeout_ms;
	uint32_t frag_size, nfrags; /* per task */
	uint16_t type;
	double duration;
	uint64_t id_base;

	/* outstanding tasks: slot = id % MAX_CONC */
	uint64_t sent_ns[MAX_CONC];
	uint64_t ids[MAX_CONC];
	bool busy[MAX_CONC];
	uint16_t frags_in[MAX_CONC]; /* reply fragments received */
	uint32_t inflight;
	uint64_t next_id;

	uint8_t *payload;
	uint64_t validations; /* RETRYs: the token is kept for later tasks */
	bool have_token;
	uint16_t token_key_id;
	uint8_t token_tag[EP_AUTH_TAG_LEN];
	struct ep_peer edge;
	struct ep_route route; /* afxdp: our side as "local" */

	/* --auth: every request sealed with this session key (docs/protocol.md 3.5) */
	struct ep_aead *aead;
	uint16_t key_id;
	uint32_t tenant;
	uint64_t key_t0, pn_ctr, bad_tags;
	bool idle_wait;

	/* udp */
	int fd;
	/* afxdp */
	struct ep_loadgen *skel;
	int ifindex;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	uint8_t *area;
	uint64_t tx_free[NFRAMES / 2];
	uint32_t tx_nfree;

	uint64_t completed, lost, errors, stray;
	struct ep_hist lat;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Fragment @index of task @id into @out. */
static size_t build_dgram(struct gen *g, uint64_t id, uint32_t index, uint8_t *out, size_t cap)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = g->type,
			    .tenant_id = 1,
			    .task_id = id };
	ssize_t n;

	if (g->aead) {
		m.flags = EP_F_AUTH;
		m.auth_key_id = g->key_id;
		m.tenant_id = g->tenant;
		n = ep_frag_build(&m, g->payload, g->size, g->frag_size, index, out, cap);
		if (n < 0 ||
		    ep_aead_seal(g->aead, EP_AUTH_SENDER_DEVICE,
				 ep_auth_pn((now_ns() - g->key_t0) / 1000000000ull, g->pn_ctr++),
				 out, (size_t)n))
			return 0;
		return (size_t)n;
	}
	if (g->have_token) {
		m.flags = EP_F_TOKEN;
		m.auth_key_id = g->token_key_id;
		memcpy(m.auth_tag, g->token_tag, EP_AUTH_TAG_LEN);
	}
	n = ep_frag_build(&m, g->payload, g->size, g->frag_size, index, out, cap);

	return n < 0 ? 0 : (size_t)n;
}

static void on_reply(struct gen *g, uint8_t *d, uint32_t len, uint64_t now)
{
	struct ep_msg m;
	uint32_t slot, sender;
	uint64_t pn;

	if (ep_decode(d, len, 0, &m, NULL, NULL)) {
		g->stray++;
		return;
	}
	/* With a key, only what opens with it answers a task (and from a node: sender > 0). */
	if (g->aead && (!(m.flags & EP_F_AUTH) || m.auth_key_id != g->key_id ||
			ep_aead_open(g->aead, d, len, &sender, &pn) || !sender)) {
		g->bad_tags++;
		return;
	}
	slot = (uint32_t)(m.task_id % MAX_CONC);
	if (!g->busy[slot] || g->ids[slot] != m.task_id) {
		g->stray++;
		return;
	}
	if (m.kind == EP_KIND_RETRY) { /* the task ends; later ones carry the token */
		g->have_token = true;
		g->token_key_id = m.auth_key_id;
		memcpy(g->token_tag, m.auth_tag, EP_AUTH_TAG_LEN);
		g->validations++;
		g->busy[slot] = false;
		g->inflight--;
		return;
	}
	if (m.kind != EP_KIND_ERROR && ++g->frags_in[slot] < m.frag_count)
		return;
	g->busy[slot] = false;
	g->inflight--;
	if (m.kind == EP_KIND_ERROR)
		g->errors++;
	else
		g->completed++;
	ep_hist_record(&g->lat, now - g->sent_ns[slot]);
}

/* Claim a slot for a new task id; 0 if none is free. */
static uint64_t claim(struct gen *g, uint64_t now)
{
	for (int tries = 0; tries < MAX_CONC; tries++) {
		uint64_t id = g->next_id++;
		uint32_t slot = (uint32_t)(id % MAX_CONC);

		if (!g->busy[slot]) {
			g->busy[slot] = true;
			g->frags_in[slot] = 0;
			g->ids[slot] = id;
			g->sent_ns[slot] = now;
			g->inflight++;
			return id;
		}
	}
	return 0;
}

static void expire(struct gen *g, uint64_t now)
{
	uint64_t limit = (uint64_t)g->timeout_ms * 1000000;

	for (uint32_t i = 0; i < MAX_CONC; i++)
		if (g->busy[i] && now - g->sent_ns[i] > limit) {
			g->busy[i] = false;
			g->inflight--;
			g->lost++;
		}
}

/* --- udp ---------------------------------------------------------------------------- */

static void udp_round(struct gen *g, uint64_t now)
{
	static uint8_t sbuf[BURST][2048], rbuf[BURST][9216];
	struct mmsghdr msg[BURST];
	struct iovec iov[BURST];
	unsigned int n = 0;
	int r;

	/* Start tasks while a whole task's fragments fit in this burst (at least one task). */
	while (g->inflight < g->conc && (!n || n + g->nfrags <= BURST)) {
		uint64_t id = claim(g, now);

		if (!id)
			break;
		for (uint32_t f = 0; f < g->nfrags; f++) {
			if (n == BURST) { /* a task of more than BURST fragments */
				for (unsigned int i = 0; i < n; i += (unsigned int)r)
					if ((r = sendmmsg(g->fd, msg + i, n - i, 0)) <= 0)
						break;
				n = 0;
			}
			iov[n] = (struct iovec){ sbuf[n],
						 build_dgram(g, id, f, sbuf[n], sizeof(sbuf[n])) };
			msg[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n],
								.msg_iovlen = 1 } };
			n++;
		}
	}
	for (unsigned int i = 0; i < n; i += (unsigned int)r)
		if ((r = sendmmsg(g->fd, msg + i, n - i, 0)) <= 0)
			break;
	for (unsigned int i = 0; i < BURST; i++) {
		iov[i] = (struct iovec){ rbuf[i], sizeof(rbuf[i]) };
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	r = recvmmsg(g->fd, msg, BURST, MSG_DONTWAIT, NULL);
	if (r <= 0) {
		struct pollfd p = { .fd = g->fd, .events = POLLIN };

		poll(&p, 1, 1);
		return;
	}
	now = now_ns();
	for (int i = 0; i < r; i++)
		on_reply(g, rbuf[i], msg[i].msg_len, now);
}

static int udp_open(struct gen *g, const char *to, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	int sz = 8 << 20;

	if (inet_pton(AF_INET, to, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, to, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	} else {
		return -EINVAL;
	}
	g->fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(g->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(g->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (g->fd < 0 || connect(g->fd, (struct sockaddr *)&ss,
				 ss.ss_family == AF_INET ? sizeof(*in) : sizeof(*in6)))
		return -errno;
	return 0;
}

/* --- afxdp -------------------------------------------------------------------------- */

static void xsk_round(struct gen *g, uint64_t now)
{
	uint32_t idx = 0, n = 0, got, cidx;

	/* Completions back to the pool. */
	got = xsk_ring_cons__peek(&g->cq, NFRAMES / 2, &cidx);
	for (uint32_t i = 0; i < got; i++)
		g->tx_free[g->tx_nfree++] =
			*xsk_ring_cons__comp_addr(&g->cq, cidx + i) & ~(uint64_t)(FRAME - 1);
	if (got)
		xsk_ring_cons__release(&g->cq, got);

	/* New tasks, each as all its fragments. (A slot is always free: inflight < conc <=
	 * MAX_CONC / 2.) */
	n = g->conc - g->inflight;
	if (n > BURST)
		n = BURST;
	if (n > g->tx_nfree / g->nfrags)
		n = g->tx_nfree / g->nfrags;
	if (n * g->nfrags > TX_RING)
		n = TX_RING / g->nfrags;
	n = n && xsk_ring_prod__reserve(&g->tx, n * g->nfrags, &idx) == n * g->nfrags ? n : 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t hl = ep_frame_hdr_len(&g->route);
		uint64_t id = claim(g, now);

		for (uint32_t fi = 0; fi < g->nfrags; fi++, idx++) {
			uint64_t addr = g->tx_free[--g->tx_nfree];
			uint8_t *f = g->area + addr;
			size_t len = build_dgram(g, id, fi, f + hl, FRAME - hl);

			ep_frame_write_hdrs(f, &g->route, &g->edge, (uint32_t)len);
			xsk_ring_prod__tx_desc(&g->tx, idx)->addr = addr;
			xsk_ring_prod__tx_desc(&g->tx, idx)->len = (uint32_t)(hl + len);
		}
	}
	if (n)
		xsk_ring_prod__submit(&g->tx, n * g->nfrags);
	if (n || xsk_ring_prod__needs_wakeup(&g->tx))
		/* cppcheck-suppress nullPointer ; an AF_XDP wake-up: no buffer */
		sendto(xsk_socket__fd(g->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);

	/* Replies. */
	got = xsk_ring_cons__peek(&g->rx, BURST, &idx);
	if (!got) {
		if (g->idle_wait && !n) { /* every task is out: sleep until a reply */
			struct pollfd p = { .fd = xsk_socket__fd(g->xsk), .events = POLLIN };

			poll(&p, 1, 1);
		} else if (xsk_ring_prod__needs_wakeup(&g->fq)) {
			struct pollfd p = { .fd = xsk_socket__fd(g->xsk), .events = POLLIN };

			poll(&p, 1, n ? 0 : 1);
		}
		return;
	}
	now = now_ns();
	if (xsk_ring_prod__reserve(&g->fq, got, &cidx) == got) {
		for (uint32_t i = 0; i < got; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&g->rx, idx + i);
			struct ep_dgram dg;

			if (!ep_frame_parse(g->area + d->addr, d->len, g->route.local_port, &dg))
				on_reply(g, (uint8_t *)dg.data, dg.len, now); /* our UMEM frame */
			*xsk_ring_prod__fill_addr(&g->fq, cidx + i) =
				xsk_umem__extract_addr(d->addr);
		}
		xsk_ring_prod__submit(&g->fq, got);
	}
	xsk_ring_cons__release(&g->rx, got);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6
		       ? 0
		       : -EINVAL;
}

static int xsk_open(struct gen *g, const char *dev, const char *from, const char *to,
		    const char *dst_mac, uint16_t port)
{
	struct xsk_socket_config sc = { .rx_size = 2048,
					.tx_size = TX_RING,
					.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					.bind_flags = XDP_USE_NEED_WAKEUP };
	struct xsk_umem_config uc = { .fill_size = 4096, .comp_size = 4096, .frame_size = FRAME };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct ifreq ifr = { 0 };
	uint32_t idx = 0, key = 0;
	int fd, err;

	if (inet_pton(AF_INET, to, &sa.sin_addr) != 1 || !from ||
	    inet_pton(AF_INET, from, &me.sin_addr) != 1 || !dst_mac ||
	    parse_mac(dst_mac, g->route.peer_mac))
		return -EINVAL;
	ep_peer_from_sockaddr(&g->edge, (struct sockaddr *)&sa);
	g->route.local_addr[10] = g->route.local_addr[11] = 0xff;
	memcpy(g->route.local_addr + 12, &me.sin_addr, 4);
	g->route.local_port = 40000 + (uint16_t)(getpid() % 20000);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr))
		return -errno;
	memcpy(g->route.local_mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);

	g->ifindex = (int)if_nametoindex(dev);
	g->skel = ep_loadgen__open();
	if (!g->skel)
		return -errno;
	g->skel->rodata->edge_port = port;
	err = ep_loadgen__load(g->skel);
	if (!err)
		err = bpf_xdp_attach(g->ifindex, bpf_program__fd(g->skel->progs.ep_loadgen_rx),
				     XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		return err;
	g->area = mmap(NULL, (size_t)NFRAMES * FRAME, PROT_READ | PROT_WRITE,
		       /* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (g->area == MAP_FAILED)
		return -errno;
	err = xsk_umem__create(&g->umem, g->area, (uint64_t)NFRAMES * FRAME, &g->fq, &g->cq, &uc);
	if (!err)
		err = xsk_socket__create(&g->xsk, dev, 0, g->umem, &g->rx, &g->tx, &sc);
	if (err)
		return err;
	fd = xsk_socket__fd(g->xsk);
	if (bpf_map_update_elem(bpf_map__fd(g->skel->maps.gen_xsks), &key, &fd, BPF_ANY))
		return -errno;
	xsk_ring_prod__reserve(&g->fq, NFRAMES / 2, &idx);
	for (uint32_t i = 0; i < NFRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&g->fq, idx + i) = (uint64_t)i * FRAME;
	xsk_ring_prod__submit(&g->fq, NFRAMES / 2);
	for (uint32_t i = NFRAMES / 2; i < NFRAMES; i++)
		g->tx_free[g->tx_nfree++] = (uint64_t)i * FRAME;
	return 0;
}

static void xsk_close(struct gen *g)
{
	if (g->xsk)
		xsk_socket__delete(g->xsk);
	if (g->umem)
		xsk_umem__delete(g->umem);
	if (g->ifindex)
		bpf_xdp_detach(g->ifindex, XDP_FLAGS_DRV_MODE, NULL);
	ep_loadgen__destroy(g->skel);
}

/* An image task from a PNG: its top-left 256 x 256 pixels (at most) in gray, with the
 * arguments blobs (Otsu's threshold, objects of 16 pixels and more) or threshold (Otsu's)
 * needs; the other image types take none. */
static int image_payload(struct gen *g, const char *path)
{
	struct ep_img_hdr h = { 0 };
	uint32_t w, ht, cw, ch;
	uint8_t *px;
	int err = ep_png_read_gray(path, &px, &w, &ht);

	if (err) {
		fprintf(stderr, "epgen: --image %s: %s\n", path, strerror(-err));
		return -1;
	}
	cw = w < 256 ? w : 256;
	ch = ht < 256 ? ht : 256;
	h.width = htons((uint16_t)cw);
	h.height = htons((uint16_t)ch);
	if (g->type == EP_TT_BLOBS || g->type == EP_TT_THRESHOLD)
		h.arg0 = htons(EP_IMG_OTSU);
	if (g->type == EP_TT_BLOBS)
		h.arg1 = htons(16);
	memcpy(g->payload, &h, sizeof(h));
	for (uint32_t y = 0; y < ch; y++)
		memcpy(g->payload + sizeof(h) + y * cw, px + (size_t)y * w, cw);
	g->size = (uint32_t)sizeof(h) + cw * ch;
	free(px);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'M' },
		{ "dev", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 'T' },
		{ "size", required_argument, NULL, 's' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'D' },
		{ "timeout-ms", required_argument, NULL, 'o' },
		{ "in", required_argument, NULL, 'i' },
		{ "image", required_argument, NULL, 'I' },
		{ "auth", required_argument, NULL, 'A' },
		{ "auth-issued", required_argument, NULL, 'S' },
		{ "auth-ctr-file", required_argument, NULL, 'C' },
		{ "idle-wait", no_argument, NULL, 'W' },
		{ 0 },
	};
	static struct gen g;
	const char *mode = "udp", *dev = NULL, *to = NULL, *from = NULL, *mac = NULL, *in = NULL;
	const char *image = NULL, *auth = NULL, *ctr_file = NULL;
	double issued_ms = 0;
	uint16_t port = EP_DEFAULT_PORT;
	uint64_t t0, end, now, last_expire;
	int c, err;

	g.conc = 64;
	g.size = 64;
	g.type = 1;
	g.duration = 3;
	g.timeout_ms = 500;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'M':
			mode = optarg;
			break;
		case 'd':
			dev = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		case 'p':
			port = (uint16_t)atoi(optarg);
			break;
		case 'T':
			g.type = (uint16_t)atoi(optarg);
			break;
		case 's':
			g.size = (uint32_t)atoi(optarg);
			break;
		case 'c':
			g.conc = (uint32_t)atoi(optarg);
			break;
		case 'D':
			g.duration = atof(optarg);
			break;
		case 'o':
			g.timeout_ms = (uint32_t)atoi(optarg);
			break;
		case 'i':
			in = optarg;
			break;
		case 'I':
			image = optarg;
			break;
		case 'A':
			auth = optarg;
			break;
		case 'S':
			issued_ms = atof(optarg);
			break;
		case 'C':
			ctr_file = optarg;
			break;
		case 'W':
			g.idle_wait = true;
			break;
		default:
			return 2;
		}
	}
	if (!to || g.size > MAX_PAYLOAD || !g.conc || g.conc > MAX_CONC / 2 || !(g.duration > 0) ||
	    g.duration > 600 || (in && image) || (strcmp(mode, "udp") && strcmp(mode, "afxdp"))) {
		fprintf(stderr,
			"usage: epgen --mode udp|afxdp --to ADDR [--dev IF --from ADDR "
			"--dst-mac MAC] [--type N] [--size N | --in PAYLOAD_FILE | "
			"--image FILE.png] [--concurrency N] [--duration S] "
			"[--auth KEY_ID:KEY_HEX32:TENANT [--auth-issued UNIX_MS] "
			"[--auth-ctr-file FILE]] [--idle-wait]\n"
			"  payloads up to %u bytes; --image: the PNG's top-left 256 x 256 "
			"(at most) as a gray frame for image task --type N\n",
			MAX_PAYLOAD);
		return 2;
	}
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();
	g.afxdp = !strcmp(mode, "afxdp");
	g.next_id = 1;
	g.payload = malloc(MAX_PAYLOAD + 1);
	if (!g.payload)
		return 1;
	if (in) { /* the payload of every task, from a file */
		FILE *f = fopen(in, "rb");

		g.size = f ? (uint32_t)fread(g.payload, 1, MAX_PAYLOAD + 1, f) : 0;
		if (f)
			fclose(f);
		if (!f || g.size > MAX_PAYLOAD) {
			fprintf(stderr, "epgen: --in %s: unreadable or over %u bytes\n", in,
				MAX_PAYLOAD);
			return 2;
		}
	} else if (image) {
		if (image_payload(&g, image))
			return 2;
	} else {
		for (uint32_t i = 0; i < g.size; i++)
			g.payload[i] = (uint8_t)(i * 13);
	}
	if (auth) { /* a bench tool: the session key on the command line is fine */
		unsigned int kid, tenant;
		uint8_t key[EP_AUTH_KEY_LEN];
		char hex[33];
		int used = 0;

		if (sscanf(auth, "%u:%32[0-9a-f]:%u%n", &kid, hex, &tenant, &used) != 3 ||
		    auth[used] || strlen(hex) != 32 || !kid || kid > 0xffff) {
			fprintf(stderr, "epgen: --auth %s: want KEY_ID:32 hex digits:TENANT\n",
				auth);
			return 2;
		}
		for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
			sscanf(hex + 2 * i, "%2hhx", &key[i]);
		g.aead = ep_aead_new(key);
		if (!g.aead)
			return 1;
		g.key_id = (uint16_t)kid;
		g.tenant = tenant;
		g.key_t0 = now_ns();
		if (issued_ms > 0) { /* pn seconds: the key's age, as the node counts it */
			struct timespec rt;
			double age_ms;

			clock_gettime(CLOCK_REALTIME, &rt);
			age_ms = (double)rt.tv_sec * 1e3 + rt.tv_nsec / 1e6 - issued_ms;
			if (age_ms > 0 && age_ms * 1e6 < (double)g.key_t0)
				g.key_t0 -= (uint64_t)(age_ms * 1e6);
		}
		if (ctr_file) { /* the counter goes on from the last run's */
			FILE *f = fopen(ctr_file, "r");

			if (f) {
				if (fscanf(f, "%" SCNu64, &g.pn_ctr) != 1)
					g.pn_ctr = 0;
				fclose(f);
			}
		}
	}
	g.frag_size = ep_frag_size_for(MTU, false, g.aead ? EP_F_AUTH : 0);
	g.nfrags = ep_frag_count(g.size, g.frag_size);
	if (!g.nfrags || g.nfrags > TX_RING / 2) {
		fprintf(stderr, "epgen: a task of %u bytes is too many fragments\n", g.size);
		return 2;
	}
	err = g.afxdp ? (dev ? xsk_open(&g, dev, from, to, mac, port) : -EINVAL)
		      : udp_open(&g, to, port);
	if (err) {
		fprintf(stderr, "epgen: %s mode setup: %s\n", mode, strerror(-err));
		if (g.afxdp)
			xsk_close(&g);
		return 1;
	}
	t0 = last_expire = now_ns();
	end = t0 + (uint64_t)(g.duration * 1e9);
	while ((now = now_ns()) < end) {
		if (g.afxdp)
			xsk_round(&g, now);
		else
			udp_round(&g, now);
		if (now - last_expire > 100000000ull) {
			expire(&g, now);
			last_expire = now;
		}
	}
	printf("{\"mode\":\"%s\",\"type\":%u,\"size\":%u,\"fragments\":%u,\"concurrency\":%u,"
	       "\"seconds\":%.2f,"
	       "\"completed\":%llu,\"errors\":%llu,\"lost\":%llu,\"validations\":%llu,"
	       "\"bad_tags\":%llu,"
	       "\"tasks_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
	       mode, g.type, g.size, g.nfrags, g.conc, (double)(now - t0) / 1e9,
	       (unsigned long long)g.completed, (unsigned long long)g.errors,
	       (unsigned long long)g.lost, (unsigned long long)g.validations,
	       (unsigned long long)g.bad_tags, (double)g.completed / ((double)(now - t0) / 1e9),
	       ep_hist_percentile(&g.lat, 50) / 1e3, ep_hist_percentile(&g.lat, 99) / 1e3);
	if (g.afxdp)
		xsk_close(&g);
	if (ctr_file && g.aead) {
		FILE *f = fopen(ctr_file, "w");
		int bad = !f || fprintf(f, "%" PRIu64 "\n", g.pn_ctr) < 0;

		if ((f && fclose(f)) || bad) {
			fprintf(stderr, "epgen: --auth-ctr-file %s: cannot write\n", ctr_file);
			return 1;
		}
	}
	ep_aead_free(g.aead);
	free(g.payload);
	return 0;
}
