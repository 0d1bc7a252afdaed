// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_gwpath - the gateway's per-packet cost (bpf/ep_gateway.bpf.c) by node count, with
 * BPF_PROG_TEST_RUN: does the packet path grow with the cluster (issue 16)?
 *
 *	bench_gwpath [--rounds 5] [--frames 8192]
 *
 * For 3, 64, 1024 and 4096 nodes (ids 1..n, capacities 100..250, all fresh, idle and
 * eligible; the P2C policy; the controller's Maglev table for them, ep_table_build(), of
 * 2^bits slots as the controller sizes it; rate limits off), the same set of
 * single-fragment IPv4 tasks, each its own flow (client port and task id), runs through
 * the program, one run per call (the kernel's duration of it). Cold: each task once, so
 * its table slots and node entries are wherever the other flows left the caches; warm:
 * each task WARM_TIMES times in a row, the last one timed, so only the instructions
 * count. A set-up's figure in a round is the median over its tasks, which a preemption or
 * an interrupt on a busy machine does not move. Rounds interleave the set-ups (3, 64,
 * 1024, 4096, then again), and each round's figure is divided by the 3-node one of the
 * same round: per-round ratios, then min / median / max. Every run must end in XDP_TX
 * (DSR to a node), or the benchmark fails. Prints two markdown tables.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ep_gateway.skel.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "table.h"
#include "xdp/ep_xdp.h"
#include "../lib/pkt.h"

#define MAX_ROUNDS 31
#define MAX_FRAMES 65536
#define NSIZES	   4
#define WARM_TIMES 4 /* runs of a frame in a row, the last one timed */

static const unsigned int sizes[NSIZES] = { 3, 64, 1024, 4096 };
static const uint8_t gw_mac[6] = { 0x02, 0x67, 0x77, 0x00, 0x00, 0x01 };

struct frame {
	uint8_t b[256];
	uint32_t len;
};

static struct ep_gateway *gw;
static int prog_fd, cfg_fd, nodes_fd, table_fd, sent_fd;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t); /* bpf_ktime_get_ns()'s clock */
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Write @n entries of array map @fd from key 0: @vals. 0 or a negative errno. */
static int array_put(int fd, const void *vals, uint32_t n)
{
	static __u32 keys[EP_GW_TABLE_SIZE];
	__u32 count = n;

	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	return bpf_map_update_batch(fd, keys, vals, &count, NULL) ? -errno : 0;
}

/*
 * The world of @n nodes in half 0 (the active one), as the controller would publish it:
 * configuration, node entries (every other entry of the half cleared), the Maglev table
 * and zero sent counts. *@bits: the table's size. 0 or a negative errno.
 */
static int world(unsigned int n, uint32_t *bits)
{
	static struct ep_gw_node nodes[EP_GW_MAX_NODES];
	static struct ep_table_member m[EP_GW_MAX_NODES];
	static uint32_t table[EP_GW_TABLE_SIZE];
	static const uint64_t sent[EP_GW_MAX_NODES];
	uint64_t now = now_ns();
	struct ep_gw_cfg c = { .encap_port = EP_ENCAP_PORT,
			       .policy = EP_GW_POLICY_P2C,
			       .nnodes = (uint16_t)(n + 1),
			       .stale_ns = 3600ull * 1000000000,
			       .mem_factor = 2,
			       .max_priority = EP_PRIO_MAX };
	int err;

	memset(nodes, 0, sizeof(nodes));
	for (uint32_t id = 1; id <= n; id++) {
		uint32_t cap = 100 + 50 * (id % 4);
		const uint8_t mac[6] = { 0x02, 0x42, 0, 0, (uint8_t)(id >> 8), (uint8_t)id };

		nodes[id] = (struct ep_gw_node){ .flags = EP_NODE_F_PRESENT,
						 .capacity = cap,
						 .cpu_pct_x100 = 1000,
						 .mem_free_kib = 1u << 20,
						 .updated_ns = now };
		memcpy(nodes[id].mac, mac, 6);
		m[id - 1] = (struct ep_table_member){ id, cap };
	}
	err = ep_table_build(m, n, table, bits);
	if (!err)
		err = array_put(nodes_fd, nodes, EP_GW_MAX_NODES);
	if (!err)
		err = array_put(table_fd, table, 1u << *bits);
	if (!err)
		err = array_put(sent_fd, sent, EP_GW_MAX_NODES);
	if (err)
		return err;
	for (int p = 0; p < 8; p++)
		c.cpu_max_x100[p] = 8000;
	memcpy(c.gw_mac, gw_mac, 6);
	c.table_bits[0] = (uint8_t)*bits;
	return bpf_map_update_elem(cfg_fd, &(__u32){ 0 }, &c, BPF_ANY) ? -errno : 0;
}

/* The @i-th task: a single-fragment REQUEST of 64 payload bytes from its own client port
 * with its own task id. 0 or -EINVAL. */
static int frame_build(struct frame *f, uint32_t i)
{
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = 0x21,
			    .tenant_id = 77,
			    .task_id = 0x7a5c000000000000ull + ep_mix64(i),
			    .deadline_ms = 250 };
	uint8_t payload[64] = { 0 }, d[256];
	ssize_t n = ep_frag_build(&m, payload, sizeof(payload), sizeof(payload), 0, d, sizeof(d));

	if (n < 0)
		return -EINVAL;
	f->len = (uint32_t)pkt_build(&(struct pkt_spec){ .sport = (uint16_t)(1024 + i % 60000),
							 .dport = EP_DEFAULT_PORT,
							 .payload = d,
							 .payload_len = (size_t)n },
				     f->b, sizeof(f->b));
	return f->len ? 0 : -EINVAL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Run every frame @times times in a row, one run per call, and keep the last run's time
 * (the kernel's), so that with @times above 1 the frame's table slots and node entries
 * are in cache (repeat above 1 in one call would make the kernel swap its XDP dispatcher
 * and wait for an RCU grace period per call). *@median_ns: the median of those times
 * over the frames. 0 or a negative errno (-EPROTO: a run that did not forward with XDP_TX).
 */
static int run_all(const struct frame *fr, uint32_t nframes, uint32_t times, uint32_t *d,
		   uint32_t *median_ns)
{
	uint8_t out[256];

	for (uint32_t i = 0; i < nframes; i++)
		for (uint32_t k = 0; k < times; k++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr[i].b,
				    .data_size_in = fr[i].len, .data_out = out,
				    .data_size_out = sizeof(out), .repeat = 1);

			if (bpf_prog_test_run_opts(prog_fd, &o))
				return -errno;
			if (o.retval != XDP_TX) {
				fprintf(stderr, "bench_gwpath: task %u: verdict %u, not XDP_TX\n",
					i, o.retval);
				return -EPROTO;
			}
			d[i] = o.duration;
		}
	qsort(d, nframes, sizeof(*d), cmp_u32);
	*median_ns = d[nframes / 2];
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Print @v's @n values with @dec decimals, then " | min median max" (sorting a copy). */
static void print_spread(const double *v, int n, int dec)
{
	double s[MAX_ROUNDS] = { 0 };

	for (int i = 0; i < n; i++) {
		printf("%s%.*f", i ? " " : "", dec, v[i]);
		s[i] = v[i];
	}
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	printf(" | %.*f %.*f %.*f", dec, s[0], dec, s[n / 2], dec, s[n - 1]);
}

/* Load the gateway with maps of its own (pinned nowhere). 0 or a negative errno. */
static int load(void)
{
	int err;

	gw = ep_gateway__open();
	if (!gw)
		return -errno;
	ep_bpf_no_pins(gw->obj);
	err = ep_gateway__load(gw);
	if (err)
		return err;
	prog_fd = bpf_program__fd(gw->progs.ep_gateway);
	cfg_fd = bpf_map__fd(gw->maps.ep_gw_cfg);
	nodes_fd = bpf_map__fd(gw->maps.ep_gw_nodes);
	table_fd = bpf_map__fd(gw->maps.ep_gw_table);
	sent_fd = bpf_map__fd(gw->maps.ep_gw_sent);
	/* Rate limits per source prefix off (set, every rate 0: no limit), as bench_lb.sh's
	 * gateway has them: every task here comes from one client address. */
	return bpf_map_update_elem(bpf_map__fd(gw->maps.ep_rl_cfg), &(__u32){ 0 },
				   &(struct ep_rl_cfg){ .flags = EP_RL_F_SET }, BPF_ANY)
		       ? -errno
		       : 0;
}

/* The rounds: ns[w][s][r], the median per-run time of set-up s in round r, cold (w 0:
 * each frame once) and warm (w 1: each frame WARM_TIMES times in a row, the last timed). */
static int measure(const struct frame *fr, uint32_t nframes, int rounds,
		   double ns[2][NSIZES][MAX_ROUNDS], uint32_t bits[NSIZES])
{
	static uint32_t d[MAX_FRAMES];
	uint32_t med = 0;
	int err;

	for (int r = 0; r < rounds; r++)
		for (int s = 0; s < NSIZES; s++)
			for (int w = 0; w < 2; w++) {
				err = world(sizes[s], &bits[s]);
				if (!err)
					err = run_all(fr, nframes, w ? WARM_TIMES : 1, d, &med);
				if (err)
					return err;
				ns[w][s][r] = med;
			}
	return 0;
}

/* One table: ns[s][r] by set-up and round, with the ratios to the 3-node set-up. */
static void report_table(const char *what, int rounds, double ns[NSIZES][MAX_ROUNDS],
			 const uint32_t bits[])
{
	double ratio[MAX_ROUNDS];

	printf("| nodes | table slots | %s: ns per task, per round | min median max | ratio to 3 "
	       "nodes, per round | min median max |\n|---:|---:|---|---|---|---|\n",
	       what);
	for (int s = 0; s < NSIZES; s++) {
		printf("| %u | 2^%u | ", sizes[s], bits[s]);
		print_spread(ns[s], rounds, 0);
		printf(" | ");
		for (int r = 0; r < rounds; r++)
			ratio[r] = ns[0][r] > 0 ? ns[s][r] / ns[0][r] : 0;
		print_spread(ratio, rounds, 2);
		printf(" |\n");
	}
}

static void report(int rounds, uint32_t nframes, double ns[2][NSIZES][MAX_ROUNDS],
		   const uint32_t bits[])
{
	printf("The gateway's per-packet cost by node count (BPF_PROG_TEST_RUN, P2C, fresh idle\n"
	       "nodes, the controller's table, written as the controller publishes it): %u\n"
	       "single-fragment IPv4 tasks, each its own flow. Cold: each task run once, so its\n"
	       "table slots and node entries are wherever the other flows left the caches (the\n"
	       "memory the node count spreads over); warm: each task %u times in a row, the last\n"
	       "timed, its slots and entries in cache (the instructions). A set-up's\n"
	       "figure is the median over the tasks of the kernel's time per run; %d rounds, the\n"
	       "set-ups in turn within each; ratios to the 3-node figure of the same round.\n\n",
	       nframes, (unsigned int)WARM_TIMES, rounds);
	report_table("cold", rounds, ns[0], bits);
	printf("\n");
	report_table("warm", rounds, ns[1], bits);
}

int main(int argc, char **argv)
{
	static struct frame fr[MAX_FRAMES];
	static double ns[2][NSIZES][MAX_ROUNDS];
	uint32_t bits[NSIZES] = { 0 };
	long rounds = 5, nframes = 8192;
	int opt, err = 0;
	static const struct option lo[] = { { "rounds", required_argument, NULL, 'r' },
					    { "frames", required_argument, NULL, 'f' },
					    { 0 } };

	while ((opt = getopt_long(argc, argv, "r:f:", lo, NULL)) != -1) {
		if (opt == 'r' && !ep_parse_long("--rounds", optarg, 1, MAX_ROUNDS, &rounds))
			continue;
		if (opt == 'f' && !ep_parse_long("--frames", optarg, 1, MAX_FRAMES, &nframes))
			continue;
		fprintf(stderr, "usage: bench_gwpath [--rounds 1..%d] [--frames 1..%d]\n",
			MAX_ROUNDS, MAX_FRAMES);
		return 2;
	}
	ep_log_set_ident("bench_gwpath");
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();
	for (uint32_t i = 0; !err && i < (uint32_t)nframes; i++)
		err = frame_build(&fr[i], i);
	if (!err)
		err = load();
	if (!err)
		err = measure(fr, (uint32_t)nframes, (int)rounds, ns, bits);
	if (!err)
		report((int)rounds, (uint32_t)nframes, ns, bits);
	else if (err == -EPROTO)
		fprintf(stderr, "bench_gwpath: a task was not forwarded (not XDP_TX)\n");
	else
		fprintf(stderr, "bench_gwpath: %s\n", strerror(-err));
	ep_gateway__destroy(gw);
	return err ? 1 : 0;
}
