// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-xsk - bind an AF_XDP socket behind the classifier and count the offload packets
 * that arrive in it, for integration tests. The socket goes into the pinned ep_xsks map at
 * EP_XSK_KEY(queue, slot). Frames are walked with the classifier's own parser and decoded
 * with the codec. Stops after --count valid tasks or --timeout-ms.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "lib/parse.h"
#include "xdp/ep_xdp.h"
#include "opts.h"

#define NUM_FRAMES 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define BATCH	   64

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-xsk --dev IF --pin-dir DIR [--queue Q] [--slot S]\n"
		   "       [--port N] [--count N] [--timeout-ms T]\n");
}

int main(int argc, char **argv)
{
	long queue = 0, slot = 0, port = EP_DEFAULT_PORT, count = 1, timeout_ms = 3000;
	long frames = 0, valid = 0, v4 = 0, v6 = 0;
	const char *dev = NULL, *pin_dir = NULL;
	struct xsk_socket_config scfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_USE_NEED_WAKEUP,
	};
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	int err, map_fd, xsk_fd, rc = 1;
	double deadline;
	__u32 key, idx;
	void *area;
	const struct tool_opt opts[] = {
		OPT_STR("dev", dev),
		OPT_NUM("queue", queue, 0, EP_MAX_QUEUES - 1),
		OPT_NUM("slot", slot, 0, EP_XSK_SLOTS - 1),
		OPT_STR("pin-dir", pin_dir),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("count", count, 1, 1000000),
		OPT_NUM("timeout-ms", timeout_ms, 1, 600000),
		{ 0 },
	};

	ep_log_set_ident("eptest-xsk");
	ep_log_route_libs();
	if (tool_opts(argc, argv, opts, usage) != argc) {
		usage(stderr);
		return 2;
	}
	if (!dev || !pin_dir) {
		fprintf(stderr, "--dev and --pin-dir are required\n");
		return 2;
	}

	area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		    /* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	err = xsk_umem__create(&umem, area, (size_t)NUM_FRAMES * FRAME_SIZE, &fq, &cq, NULL);
	if (!err)
		err = xsk_socket__create(&xsk, dev, (__u32)queue, umem, &rx, &tx, &scfg);
	if (err) {
		fprintf(stderr, "AF_XDP socket on %s queue %ld: %s\n", dev, queue, strerror(-err));
		goto out;
	}
	if (xsk_ring_prod__reserve(&fq, XSK_RING_PROD__DEFAULT_NUM_DESCS, &idx) !=
	    XSK_RING_PROD__DEFAULT_NUM_DESCS)
		goto out;
	for (__u32 i = 0; i < XSK_RING_PROD__DEFAULT_NUM_DESCS; i++)
		*xsk_ring_prod__fill_addr(&fq, idx++) = (__u64)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fq, XSK_RING_PROD__DEFAULT_NUM_DESCS);

	map_fd = ep_xdp_open_pinned(pin_dir, EP_PIN_XSKS);
	xsk_fd = xsk_socket__fd(xsk);
	key = (__u32)EP_XSK_KEY(queue, slot);
	if (map_fd < 0 || bpf_map_update_elem(map_fd, &key, &xsk_fd, BPF_ANY)) {
		fprintf(stderr, "register in %s/%s: %s\n", pin_dir, EP_PIN_XSKS,
			strerror(map_fd < 0 ? -map_fd : errno));
		goto out;
	}
	tool_ready();

	deadline = tool_now() + (double)timeout_ms / 1000;
	while (valid < count && tool_now() < deadline) {
		__u32 n, idx_rx, idx_fq;

		if (xsk_ring_prod__needs_wakeup(&fq))
			/* cppcheck-suppress nullPointer ; an AF_XDP wake-up: no buffer */
			recvfrom(xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		n = xsk_ring_cons__peek(&rx, BATCH, &idx_rx);
		if (!n) {
			tool_wait_in(xsk_fd, deadline, 100);
			continue;
		}
		while (xsk_ring_prod__reserve(&fq, n, &idx_fq) != n)
			;
		for (__u32 i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, idx_rx + i);
			uint8_t *pkt = xsk_umem__get_data(area, d->addr);
			struct ep_cursor cur = { .pos = pkt, .end = pkt + d->len };
			struct ep_l3 l3 = { 0 };
			struct ep_msg m;
			__u32 dlen;
			__be16 proto;

			frames++;
			if (!ep_parse_eth(&cur, &proto) && !ep_parse_ip(&cur, proto, &l3) &&
			    !ep_parse_udp(&cur, &l3, (__u16)port, &dlen) &&
			    !ep_decode(cur.pos, dlen, 0, &m, NULL, NULL)) {
				valid++;
				l3.ipv6 ? v6++ : v4++;
			}
			*xsk_ring_prod__fill_addr(&fq, idx_fq + i) =
				xsk_umem__extract_addr(d->addr);
		}
		xsk_ring_prod__submit(&fq, n);
		xsk_ring_cons__release(&rx, n);
	}
	bpf_map_delete_elem(map_fd, &key);
	printf("received %ld valid %ld ipv4 %ld ipv6 %ld\n", frames, valid, v4, v6);
	rc = 0;
out:
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem)
		xsk_umem__delete(umem);
	munmap(area, (size_t)NUM_FRAMES * FRAME_SIZE);
	return rc;
}
