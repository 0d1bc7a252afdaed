// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epblast - the open-loop sender and the counting sink of `make bench-lb`
 * (tests/bench/bench_lb.sh).
 *
 *   epblast --dev IF --from ADDR --to ADDR --dst-mac MAC [--port N] [--flows N]
 *           [--sources N] [--size BYTES] [--rate PPS] [--at T] [--warmup S]
 *           [--duration S] [--max-frames N]
 *       Precompute --flows single-fragment IPv4 task frames (one client port and task id
 *       each, so flows hash over the gateway's table; IP and UDP checksums set; with
 *       --sources N, flow i comes from ADDR + 256 * (i % N), N /24 prefixes) in an
 *       AF_XDP UMEM and send them round-robin through a TX-only socket on --dev as fast
 *       as the kernel takes them (or paced to --rate frames/s), from T until T + warm-up
 *       + duration + 0.25 s. No replies are awaited. Frames never change, so a frame
 *       may be queued again while an earlier copy is still in flight; completions are
 *       only counted.
 *
 *   epblast --sink IF [--port N] [--at T] [--warmup S] [--duration S]
 *       Attach bench_sink (tests/bench/bpf/bench_sink.bpf.c) natively to IF: UDP datagrams to the
 *       port are counted and dropped. Count over the same window, print, detach.
 *
 * T is a CLOCK_REALTIME instant in seconds (default: now), so a sender and a sink in
 * different namespaces measure the same window, [T + warm-up, T + warm-up + duration].
 * Both print one JSON line. Every run is bounded by --duration (<= 600 s) and the sender
 * also by --max-frames.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
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

#include "bench_sink.skel.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "io/frame.h"
#include "bench_clock.h"
#include "../tools/opts.h"

#define FRAME	  2048
#define RING	  2048
#define BURST	  64
#define MAX_FLOWS 16384
#define TAIL_NS	  250000000ull /* the sender outlasts the window by this much */

/* The monotonic instant of CLOCK_REALTIME @at seconds (0: now). */
static uint64_t mono_at(double at)
{
	struct timespec rt;
	double d;

	if (at <= 0)
		return mono_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	d = at - ((double)rt.tv_sec + rt.tv_nsec / 1e9);
	if (d < 0)
		d = 0;
	return mono_ns() + (uint64_t)(d * 1e9);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };

	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

struct opts {
	const char *dev, *from, *to, *mac, *sink;
	uint16_t port;
	uint32_t flows, size, sources;
	double at, warmup, duration;
	uint64_t max_frames;
	uint64_t rate; /* frames/s; 0: as fast as the kernel takes them */
};

/* --- the sink ------------------------------------------------------------------------ */

static int sink_read(int fd, uint64_t *dropped, uint64_t *passed)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[2][512];

	if (ncpu < 0 || ncpu > 512)
		return -EINVAL;
	*dropped = *passed = 0;
	for (uint32_t k = 0; k < 2; k++)
		if (bpf_map_lookup_elem(fd, &k, v[k]))
			return -errno;
	for (int c = 0; c < ncpu; c++) {
		*dropped += v[0][c];
		*passed += v[1][c];
	}
	return 0;
}

static int run_sink(const struct opts *o)
{
	struct bench_sink *skel;
	uint64_t t0, start, end, d0, d1, p0, p1, m0, m1;
	int ifindex = (int)if_nametoindex(o->sink), fd, err;

	if (!ifindex) {
		fprintf(stderr, "epblast: --sink %s: %s\n", o->sink, strerror(errno));
		return 1;
	}
	t0 = mono_at(o->at);
	skel = bench_sink__open();
	if (!skel)
		return 1;
	skel->rodata->sink_port = o->port;
	err = bench_sink__load(skel);
	if (!err)
		err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.bench_sink),
				     XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "epblast: attach bench_sink to %s (native): %s\n", o->sink,
			strerror(-err));
		bench_sink__destroy(skel);
		return 1;
	}
	fd = bpf_map__fd(skel->maps.sink_count);
	start = t0 + (uint64_t)(o->warmup * 1e9);
	end = start + (uint64_t)(o->duration * 1e9);
	printf("{\"ready\":true}\n");
	fflush(stdout);
	sleep_until(start);
	m0 = mono_ns();
	err = sink_read(fd, &d0, &p0);
	sleep_until(end);
	m1 = mono_ns();
	if (!err)
		err = sink_read(fd, &d1, &p1);
	/* Stay until the sender (which outlasts the window by TAIL_NS) has stopped, so what
	 * it still sends never reaches the kernel here (to be answered, or not). */
	sleep_until(end + 2 * TAIL_NS);
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	bench_sink__destroy(skel);
	if (err || stop) {
		fprintf(stderr, "epblast: sink: %s\n", stop ? "interrupted" : strerror(-err));
		return 1;
	}
	printf("{\"mode\":\"sink\",\"counted\":%llu,\"passed\":%llu,\"seconds\":%.4f,"
	       "\"per_s\":%.0f}\n",
	       (unsigned long long)(d1 - d0), (unsigned long long)(p1 - p0), (m1 - m0) / 1e9,
	       (double)(d1 - d0) / ((m1 - m0) / 1e9));
	return 0;
}

/* --- the sender ---------------------------------------------------------------------- */

struct blast {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq;
	uint8_t *area;
	uint32_t len[MAX_FLOWS];
};

/* Frame i: client port 20000 + i % 4096, task id 1 + i, source address --from +
 * 256 * (i % --sources), the same payload. */
static int build_frames(struct blast *b, const struct opts *o)
{
	struct ep_route r = { 0 };
	struct ep_peer edge = { .port = o->port, .family = AF_INET };
	struct ifreq ifr = { 0 };
	uint8_t payload[1400];
	uint32_t from;
	int fd;

	if (inet_pton(AF_INET, o->from, r.local_addr + 12) != 1 ||
	    inet_pton(AF_INET, o->to, edge.addr + 12) != 1 ||
	    sscanf(o->mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &r.peer_mac[0], &r.peer_mac[1],
		   &r.peer_mac[2], &r.peer_mac[3], &r.peer_mac[4], &r.peer_mac[5]) != 6)
		return -EINVAL;
	memcpy(&from, r.local_addr + 12, 4);
	r.local_addr[10] = r.local_addr[11] = edge.addr[10] = edge.addr[11] = 0xff;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->dev);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	close(fd);
	memcpy(r.local_mac, ifr.ifr_hwaddr.sa_data, 6);
	for (uint32_t i = 0; i < o->size; i++)
		payload[i] = (uint8_t)(i * 13);
	for (uint32_t i = 0; i < o->flows; i++) {
		struct ep_msg m = { .kind = EP_KIND_REQUEST,
				    .priority = 3,
				    .task_type = 1,
				    .tenant_id = 1,
				    .task_id = 1 + i };
		uint8_t *f = b->area + (uint64_t)i * FRAME;
		uint32_t hl = ep_frame_hdr_len(&r);
		ssize_t n = ep_frag_build(&m, payload, o->size, 65000, 0, f + hl, FRAME - hl);

		if (n < 0)
			return (int)n;
		uint32_t src = htonl(ntohl(from) + 256 * (i % o->sources));

		r.local_port = (uint16_t)(20000 + i % 4096);
		memcpy(r.local_addr + 12, &src, 4);
		ep_frame_write_hdrs(f, &r, &edge, (uint32_t)n);
		b->len[i] = hl + (uint32_t)n;
	}
	return 0;
}

static int blast_open(struct blast *b, const struct opts *o)
{
	struct xsk_socket_config sc = { .rx_size = 0,
					.tx_size = RING,
					.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
					.bind_flags = XDP_USE_NEED_WAKEUP };
	struct xsk_umem_config uc = { .fill_size = 64, .comp_size = RING, .frame_size = FRAME };
	size_t size = (size_t)o->flows * FRAME;
	int err;

	b->area = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       /* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b->area == MAP_FAILED) {
		b->area = NULL;
		return -errno;
	}
	err = build_frames(b, o);
	if (err)
		return err;
	err = xsk_umem__create(&b->umem, b->area, size, &b->fq, &b->cq, &uc);
	if (err)
		return err;
	return xsk_socket__create(&b->xsk, o->dev, 0, b->umem, NULL, &b->tx, &sc);
}

static void blast_close(struct blast *b, const struct opts *o)
{
	if (b->xsk)
		xsk_socket__delete(b->xsk);
	if (b->umem)
		xsk_umem__delete(b->umem);
	if (b->area)
		munmap(b->area, (size_t)o->flows * FRAME);
}

static int run_blast(const struct opts *o)
{
	static struct blast b;
	uint64_t t0, start, end, stop_at, now, m0 = 0, m1 = 0;
	uint64_t queued = 0, done = 0, w0 = 0, w1 = 0, kicks = 0, busy = 0, kick_err = 0;
	uint32_t next = 0, outstanding = 0, idx;
	bool in_window = false, past = false;
	int err;

	t0 = mono_at(o->at);
	err = blast_open(&b, o);
	if (err) {
		fprintf(stderr, "epblast: AF_XDP on %s: %s\n", o->dev, strerror(-err));
		blast_close(&b, o);
		return 1;
	}
	start = t0 + (uint64_t)(o->warmup * 1e9);
	end = start + (uint64_t)(o->duration * 1e9);
	stop_at = end + TAIL_NS;
	sleep_until(t0);
	while (!stop && (now = mono_ns()) < stop_at) {
		uint32_t got, n;

		if (!in_window && now >= start) {
			in_window = true;
			w0 = done;
			m0 = now;
		}
		if (in_window && !past && now >= end) {
			past = true;
			w1 = done;
			m1 = now;
		}
		/* Completions only when the ring runs short: each look at the completion ring
		 * pulls a cache line the receiving CPU writes. */
		got = RING - outstanding < BURST || queued >= o->max_frames
			      ? xsk_ring_cons__peek(&b.cq, RING, &idx)
			      : 0;
		if (got) {
			xsk_ring_cons__release(&b.cq, got);
			done += got;
			outstanding -= got;
		}
		n = RING - outstanding;
		if (n > BURST)
			n = BURST;
		if (n > o->max_frames - queued)
			n = (uint32_t)(o->max_frames - queued);
		if (o->rate) { /* paced: no more than rate x the time since t0 */
			uint64_t due = (now - t0) / 1000 * o->rate / 1000000;

			if (n > due - queued)
				n = due > queued ? (uint32_t)(due - queued) : 0;
		}
		n = n ? xsk_ring_prod__reserve(&b.tx, n, &idx) : 0;
		for (uint32_t i = 0; i < n; i++) {
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&b.tx, idx + i);

			d->addr = (uint64_t)next * FRAME;
			d->len = b.len[next];
			if (++next == o->flows)
				next = 0;
		}
		if (n) {
			xsk_ring_prod__submit(&b.tx, n);
			queued += n;
			outstanding += n;
		}
		if (xsk_ring_prod__needs_wakeup(&b.tx)) {
			kicks++;
			/* EAGAIN: the per-call budget was reached or the device's queue is full;
			 * the kernel keeps the rest for the next kick. */
			/* cppcheck-suppress nullPointer ; an AF_XDP wake-up: no buffer */
			if (sendto(xsk_socket__fd(b.xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
				if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS)
					busy++;
				else
					kick_err++;
			}
		}
		if (!n && !got && queued >= o->max_frames && !outstanding)
			break; /* --max-frames reached and everything completed */
	}
	if (!past) { /* stopped early (signal, --max-frames): the window ends here */
		w1 = done;
		m1 = mono_ns();
		if (!in_window)
			m0 = m1;
	}
	printf("{\"mode\":\"blast\",\"flows\":%u,\"frame_bytes\":%u,\"queued\":%llu,"
	       "\"sent\":%llu,\"window_sent\":%llu,\"seconds\":%.4f,\"per_s\":%.0f,"
	       "\"kicks\":%llu,\"kicks_busy\":%llu,\"kick_errors\":%llu}\n",
	       o->flows, b.len[0], (unsigned long long)queued, (unsigned long long)done,
	       (unsigned long long)(w1 - w0), (m1 - m0) / 1e9,
	       m1 > m0 ? (double)(w1 - w0) / ((m1 - m0) / 1e9) : 0.0, (unsigned long long)kicks,
	       (unsigned long long)busy, (unsigned long long)kick_err);
	blast_close(&b, o);
	return stop ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: epblast --dev IF --from ADDR --to ADDR --dst-mac MAC [--port N] [--flows "
		"N]\n"
		"               [--sources N] [--size BYTES] [--rate PPS] [--at T] [--warmup S]\n"
		"               [--duration S] [--max-frames N]\n"
		"       epblast --sink IF [--port N] [--at T] [--warmup S] [--duration S]\n");
}

int main(int argc, char **argv)
{
	struct opts o = { .port = EP_DEFAULT_PORT,
			  .flows = 4096,
			  .sources = 1,
			  .size = 64,
			  .warmup = 1,
			  .duration = 5,
			  .max_frames = 1ull << 32 };
	const struct tool_opt table[] = {
		OPT_STR("dev", o.dev),
		OPT_STR("from", o.from),
		OPT_STR("to", o.to),
		OPT_STR("dst-mac", o.mac),
		OPT_STR("sink", o.sink),
		OPT_NUM("port", o.port, 1, 65535),
		OPT_NUM("flows", o.flows, 1, MAX_FLOWS),
		OPT_NUM("sources", o.sources, 1, 256),
		OPT_NUM("size", o.size, 0, 1400),
		OPT_NUM("max-frames", o.max_frames, 1, 1L << 40),
		OPT_NUM("rate", o.rate, 0, 100000000),
		OPT_REAL("at", o.at),
		OPT_REAL("warmup", o.warmup),
		OPT_REAL("duration", o.duration),
		{ 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	int first;

	ep_log_set_ident("epblast");
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();
	first = tool_opts(argc, argv, table, usage);
	if (first < argc || !(o.duration > 0) || o.duration > 600 || o.warmup < 0 ||
	    o.warmup > 60 || (!o.sink && (!o.dev || !o.from || !o.to || !o.mac))) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return o.sink ? run_sink(&o) : run_blast(&o);
}
