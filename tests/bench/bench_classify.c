// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_classify - ns per packet of the XDP classifier against a trivial XDP_PASS program,
 * measured in the same run with BPF_PROG_TEST_RUN (repeat) over a fixed mix of packets.
 *
 * Valid tasks take the full path including a successful XSKMAP redirect: an AF_XDP socket
 * is bound on a veth in a private network namespace (if that is impossible, the run says
 * so and valid tasks end in the no-socket fallback instead).
 *
 * Then two comparisons on one frame, their set-ups in turn round by round: the guards of
 * issue 11 on against off, and the session keys of issue 12 (an AUTH task under a valid
 * key, auth required) against the same frame with auth off, beside the trivial program on
 * that frame (the machine's limit).
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "bench_util.h"
#include "bench_pass.skel.h"
#include "ep_classifier.skel.h"
#include "edgeplane/addrset.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "xdp/ep_xdp.h"
#include "../lib/pkt.h"

#define REPEAT 1000000
#define ROUNDS 5

struct kind {
	const char *name;
	unsigned int weight; /* percent of the mix */
	uint8_t frame[512];
	size_t len;
	double ns[2][ROUNDS]; /* [classifier, baseline] */
};

#define median bench_median

static int repeated; /* rounds measured again, disturbed by other work */

/* Run the statements of one round of a comparison, again while bench_util.h says other
 * work disturbed them (BENCH_REPEATS times at most). */
#define ROUND(what, ...)                                              \
	do {                                                          \
		for (int try_ = 0; try_ <= bench_repeats(); try_++) { \
			struct bench_mark m_;                         \
                                                                      \
			repeated += try_ > 0;                         \
			bench_mark(&m_);                              \
			__VA_ARGS__;                                  \
			if (!bench_disturbed(&m_, what))              \
				break;                                \
		}                                                     \
	} while (0)

static int run(int prog_fd, const struct kind *k, int ifindex, double *ns)
{
	struct xdp_md ctx = { .data_end = (__u32)k->len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = k->frame, .data_size_in = (__u32)k->len,
		    .repeat = REPEAT);
	int err;

	if (ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	/* The kernel's own average (whole ns), which leaves out time spent rescheduled;
	 * wall time on a busy 2-core VM mostly measures the neighbours. */
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	*ns = opts.duration;
	return 0;
}

/* Make the datagram (@len bytes in a buffer of at least len + 8) an AUTH one under key
 * @key: the pn after the header, counted in payload_len (docs/protocol.md 3.5). */
static size_t make_auth(uint8_t *d, size_t len, uint16_t key)
{
	uint16_t plen = (uint16_t)(len - EP_HDR_LEN + EP_AUTH_NONCE_LEN);

	memmove(d + EP_HDR_LEN + EP_AUTH_NONCE_LEN, d + EP_HDR_LEN, len - EP_HDR_LEN);
	memset(d + EP_HDR_LEN, 1, EP_AUTH_NONCE_LEN);
	d[5] |= EP_F_AUTH;
	d[46] = (uint8_t)(key >> 8), d[47] = (uint8_t)key;
	memset(d + 48, 0x5a, EP_AUTH_TAG_LEN);
	d[12] = (uint8_t)(plen >> 8), d[13] = (uint8_t)plen;
	return len + EP_AUTH_NONCE_LEN;
}

/* Print the set-ups of one comparison: ns per round, their median, and each one's ratio to
 * the first per round, with the spread. */
static void print_rounds(const char *const names[], double ns[][ROUNDS], int n)
{
	double r[ROUNDS], v[ROUNDS];

	printf("| set-up | ns per round | median | ratio per round | min | median | max |\n");
	printf("|---|---|---:|---|---:|---:|---:|\n");
	for (int i = 0; i < n; i++) {
		printf("| %s%s | ", names[i], i ? " / off" : "");
		for (int k = 0; k < ROUNDS; k++) {
			printf("%s%.0f", k ? " " : "", ns[i][k]);
			r[k] = ns[0][k] > 0 ? ns[i][k] / ns[0][k] : 0;
			v[k] = ns[i][k];
		}
		printf(" | %.0f | ", median(v, ROUNDS));
		if (!i) {
			printf("(baseline) | | | |\n");
			continue;
		}
		for (int k = 0; k < ROUNDS; k++)
			printf("%s%.2f", k ? " " : "", r[k]);
		bench_median(r, ROUNDS);
		printf(" | %.2f | %.2f | %.2f |\n", r[0], r[ROUNDS / 2], r[ROUNDS - 1]);
	}
}

static size_t task(uint8_t *buf, size_t len, bool corrupt)
{
	struct ep_msg m = {
		.kind = EP_KIND_REQUEST, .priority = 3, .task_type = 1, .tenant_id = 1, .task_id = 7
	};
	uint8_t payload[64] = { 0 };
	ssize_t n = ep_frag_build(&m, payload, sizeof(payload), 1400, 0, buf, len);

	if (corrupt && n > 0)
		buf[0] ^= 0xff;
	return n < 0 ? 0 : (size_t)n;
}

/* A veth in a private netns with an AF_XDP socket in the classifier's XSKMAP slot 0. */
static int bind_xsk(struct ep_classifier *skel)
{
	static struct xsk_ring_prod fq, tx;
	static struct xsk_ring_cons cq, rx;
	struct xsk_socket_config cfg = { .rx_size = 64,
					 .tx_size = 64,
					 .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD };
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	void *area;
	__u32 key = EP_XSK_KEY(0, 0);
	int fd;

	if (unshare(CLONE_NEWNET) ||
	    system("ip link add ep0 type veth peer name ep1 && ip link set ep0 up && "
		   "ip link set ep1 up"))
		return 0;
	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
	area = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || xsk_umem__create(&umem, area, 64 * 4096, &fq, &cq, NULL) ||
	    xsk_socket__create(&xsk, "ep0", 0, umem, &rx, &tx, &cfg))
		return 0;
	fd = xsk_socket__fd(xsk);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ep_xsks), &key, &fd, BPF_ANY))
		return 0;
	return (int)if_nametoindex("ep0"); /* the socket lives until the process exits */
}

int main(void)
{
	static struct kind kinds[] = {
		{ .name = "valid task, IPv4", .weight = 40 },
		{ .name = "valid task, IPv6 in 802.1Q", .weight = 20 },
		{ .name = "other UDP port", .weight = 15 },
		{ .name = "TCP", .weight = 10 },
		{ .name = "invalid task (bad magic)", .weight = 10 },
		{ .name = "ARP", .weight = 5 },
	};
	const int nk = sizeof(kinds) / sizeof(kinds[0]);
	struct ep_classifier *cls;
	struct bench_pass *pass;
	uint8_t d[256], arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	double mix[2] = { 0, 0 }, med[2];
	struct ep_rl_cfg rl = { .packets_per_s = 4000000000u,
				.packets_burst = 4000000000u,
				.bytes_per_s = 4000000000u,
				.bytes_burst = 4000000000u,
				.prefix_v4 = 24,
				.prefix_v6 = 64 };
	struct ep_rl_cfg rl_off = { .flags = EP_RL_F_OFF, .prefix_v4 = 24, .prefix_v6 = 64 };
	struct ep_config cfg_on = { 0 }, cfg_off;
	double guard[2][ROUNDS], keys[3][ROUNDS];
	static const char *const key_names[] = { "auth off", "required, valid key",
						 "XDP_PASS (the limit)" };
	struct kind auth = { .name = "valid AUTH task, IPv4" };
	struct ep_counter c0[EP_STAT__COUNT], c1[EP_STAT__COUNT];
	uint64_t dropped = 0;
	struct utsname u;
	int fds[2], ifindex, rl_fd, cfg_fd, auth_fd, keys_fd, kstate_fd;
	size_t n;

	ep_log_set_ident("bench_classify");
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();
	cls = ep_classifier__open();
	if (cls) { /* fresh maps, in no pin (bpf/lib/pin.h) */
		ep_bpf_no_pins(cls->obj);
		if (ep_classifier__load(cls)) {
			ep_classifier__destroy(cls);
			cls = NULL;
		}
	}
	pass = bench_pass__open_and_load();
	if (!cls || !pass) {
		fprintf(stderr, "cannot load the programs: %s\n", strerror(errno));
		return 1;
	}
	fds[0] = bpf_program__fd(cls->progs.ep_classify);
	fds[1] = bpf_program__fd(pass->progs.ep_bench_pass);
	ifindex = bind_xsk(cls);
	/* The full path of a valid task: to an address of the node (pkt.c's destinations in
	 * ep_addrs), through its prefix's rate limit, which is on but far above the 10^6
	 * repetitions of one frame, so that its cost is in the figure and nothing is
	 * dropped by it. */
	rl_fd = bpf_map__fd(cls->maps.ep_rl_cfg);
	cfg_fd = bpf_map__fd(cls->maps.ep_cfg);
	{
		const char *dst[] = { "198.18.0.2", "2001:db8::2" };

		for (int i = 0; i < 2; i++) {
			struct ep_addr_key k;
			struct ep_addr_val v = { .flags = EP_ADDR_F_LOCAL };

			if (ep_addr_parse(dst[i], k.addr) ||
			    bpf_map_update_elem(bpf_map__fd(cls->maps.ep_addrs), &k, &v, BPF_ANY)) {
				fprintf(stderr, "ep_addrs: %s\n", strerror(errno));
				return 1;
			}
		}
		if (ep_xdp_write_rl(rl_fd, &rl) || ep_xdp_read_config(cfg_fd, &cfg_on)) {
			fprintf(stderr, "ep_rl_cfg: cannot write it\n");
			return 1;
		}
	}

	n = task(d, sizeof(d), false);
	kinds[0].len = pkt_build(
		&(struct pkt_spec){ .dport = EP_DEFAULT_PORT, .payload = d, .payload_len = n },
		kinds[0].frame, 512);
	kinds[1].len = pkt_build(&(struct pkt_spec){ .ipv6 = true,
						     .vlan_tags = 1,
						     .dport = EP_DEFAULT_PORT,
						     .payload = d,
						     .payload_len = n },
				 kinds[1].frame, 512);
	kinds[2].len = pkt_build(&(struct pkt_spec){ .dport = 53, .payload = d, .payload_len = 40 },
				 kinds[2].frame, 512);
	kinds[3].len =
		pkt_build(&(struct pkt_spec){ .l4proto = 6, .payload = d, .payload_len = 60 },
			  kinds[3].frame, 512);
	n = make_auth(d, n, 0x11);
	auth.len = pkt_build(
		&(struct pkt_spec){ .dport = EP_DEFAULT_PORT, .payload = d, .payload_len = n },
		auth.frame, 512);
	n = task(d, sizeof(d), true);
	kinds[4].len = pkt_build(
		&(struct pkt_spec){ .dport = EP_DEFAULT_PORT, .payload = d, .payload_len = n },
		kinds[4].frame, 512);
	kinds[5].len = pkt_build(&(struct pkt_spec){ .ethertype = 0x0806,
						     .payload = arp,
						     .payload_len = sizeof(arp) },
				 kinds[5].frame, 512);

	/* Interleave the two programs round by round so drift hits both alike; a round
	 * disturbed by other work (bench_util.h) is measured again. */
	for (int r = 0; r < ROUNDS; r++)
		ROUND(
			"mix",
			for (int k = 0; k < nk; k++) for (int p = 0; p < 2;
							  p++) if (run(fds[p], &kinds[k], ifindex,
								       &kinds[k].ns[p][r])) {
				fprintf(stderr, "test run: %s\n", strerror(errno));
				return 1;
			});

	/* The guards' share of a valid task: the same program and frame with the rate limit
	 * and the destination check on (as above), then off (by their unsafe settings), in
	 * turn round by round. */
	cfg_off = cfg_on;
	cfg_off.flags |= EP_CFG_F_ANY_DEST;
	for (int r = 0; r < ROUNDS; r++)
		ROUND(
			"guards",
			for (int g = 0; g < 2;
			     g++) if (ep_xdp_write_rl(rl_fd, g ? &rl_off : &rl) ||
				      ep_xdp_write_config(cfg_fd, g ? &cfg_off : &cfg_on) ||
				      run(fds[0], &kinds[0], ifindex, &guard[g][r])) {
				fprintf(stderr, "guards: %s\n", strerror(errno));
				return 1;
			});

	/* The keys' share of a valid task: an AUTH frame under a valid key whose role allows it
	 * (the key lookup, the role's checks, its tasks/s and bytes/s buckets, on but far
	 * above the 10^6 repetitions), auth required; the same frame with auth off, which
	 * takes the prefix's rate limit instead (as above, on); and XDP_PASS on that frame. In
	 * turn, round by round. */
	auth_fd = bpf_map__fd(cls->maps.ep_auth_cfg);
	keys_fd = bpf_map__fd(cls->maps.ep_keys);
	kstate_fd = bpf_map__fd(cls->maps.ep_key_state);
	{
		const uint64_t types[4] = { 2 }; /* type 1, task()'s */
		struct ep_key_entry e;
		struct timespec rt, mt;

		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mt);
		ep_key_entry_fill(&e, (uint64_t)rt.tv_sec * 1000, (uint64_t)mt.tv_sec * 1000000000,
				  1, (uint64_t)rt.tv_sec * 1000 + 3600000, 1, 0, types, 0, 3,
				  1u << 20, 1000000000u, 4000000000u, 1000000u, 4000000000u);
		if (ep_xdp_write_rl(rl_fd, &rl) || ep_xdp_write_config(cfg_fd, &cfg_on) ||
		    ep_xdp_write_key(keys_fd, kstate_fd, 0x11, &e) ||
		    ep_xdp_read_stats(bpf_map__fd(cls->maps.ep_stats), c0)) {
			fprintf(stderr, "keys: cannot set them up\n");
			return 1;
		}
	}
	for (int r = 0; r < ROUNDS; r++)
		ROUND(
			"keys",
			for (int g = 0; g < 3;
			     g++) if ((g < 2 &&
				       ep_xdp_write_auth_mode(auth_fd, g ? EP_AUTH_MODE_REQUIRED
									 : EP_AUTH_MODE_OFF)) ||
				      run(fds[g < 2 ? 0 : 1], &auth, ifindex, &keys[g][r])) {
				fprintf(stderr, "keys: %s\n", strerror(errno));
				return 1;
			});
	if (ep_xdp_read_stats(bpf_map__fd(cls->maps.ep_stats), c1))
		return 1;
	for (int i = EP_STAT_FIRST_DROP; i < EP_STAT__COUNT; i++)
		dropped += c1[i].packets - c0[i].packets;

	uname(&u);
	printf("Method: BPF_PROG_TEST_RUN, %d repetitions per call (the kernel's average, whole "
	       "ns), "
	       "median of %d rounds, programs interleaved; rounds disturbed by other work measured "
	       "again: %d.\n",
	       REPEAT, ROUNDS, repeated);
	printf("Kernel %s; valid tasks %s.\n\n", u.release,
	       ifindex ? "end in a successful XSKMAP redirect (AF_XDP socket bound on a veth)"
		       : "end in the no-socket fallback (no veth/AF_XDP socket available)");
	printf("| packet | share | classifier ns | XDP_PASS ns | ratio |\n");
	printf("|---|---:|---:|---:|---:|\n");
	for (int k = 0; k < nk; k++) {
		for (int p = 0; p < 2; p++) {
			med[p] = median(kinds[k].ns[p], ROUNDS);
			mix[p] += med[p] * kinds[k].weight / 100.0;
		}
		printf("| %s | %u%% | %.1f | %.1f | %.2f |\n", kinds[k].name, kinds[k].weight,
		       med[0], med[1], med[0] / med[1]);
	}
	printf("| **mix** | 100%% | **%.1f** | **%.1f** | **%.2f** |\n", mix[0], mix[1],
	       mix[0] / mix[1]);
	/* The trivial program's few ns are mostly the harness's own cost, so this ratio is a
	 * breakdown, not the goal: the classifier's rate on a veth against XDP_DROP's is
	 * (bench_xdp_rate.sh, after this table). */
	printf("\nA per-packet breakdown, not a goal: XDP_PASS's few ns are mostly the test "
	       "harness's own cost, so the ratio\nsays more about the harness than the "
	       "classifier. The goal is the rate on a veth below.\n");
	med[0] = median(guard[0], ROUNDS);
	med[1] = median(guard[1], ROUNDS);
	printf("\nThe guards of issue 11 in a valid IPv4 task (the rate limit per source prefix, "
	       "far "
	       "above the load, and the\ndestination check), on against off, in turn: %.1f ns "
	       "against %.1f ns, %.1f ns more (ratio %.2f).\n",
	       med[0], med[1], med[0] - med[1], med[1] > 0 ? med[0] / med[1] : 0);
	printf("\nThe session keys of issue 12 in a valid IPv4 task (an AUTH datagram under a "
	       "valid "
	       "key: ep_keys lookup, the role's type,\npriority and size checks, the key's tasks/s "
	       "and bytes/s buckets far above the load), auth required, against the\nsame frame "
	       "with auth off (it then takes its prefix's rate limit, as above), in turn round by "
	       "round, beside the\ntrivial program on that frame (the machine's limit)%s:\n\n",
	       dropped ? "" : "; nothing was dropped");
	print_rounds(key_names, keys, 3);
	if (dropped)
		printf("\nWARNING: %llu datagrams were dropped during the runs: the figures are "
		       "not "
		       "the full path's.\n",
		       (unsigned long long)dropped);
	bench_pass__destroy(pass);
	ep_classifier__destroy(cls);
	return 0;
}
