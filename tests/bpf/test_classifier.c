// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN tests of the XDP classifier, table-driven: each case builds a frame,
 * runs the program once, and checks the verdict, that the output bytes equal the input
 * (the classifier never rewrites), and that exactly the expected counter moved.
 *
 * The XSKMAP cases bind a real AF_XDP socket on a veth in a private network namespace
 * created by this process (unshare), which vanishes with it.
 *
 * Every case runs twice: against the classifier and against its build for DPDK's
 * net_af_xdp PMD (ep_classifier_dpdk.bpf.c: the same code, its XSKMAP named xsks_map and
 * keyed by queue), which must behave the same.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "ep_classifier.skel.h"
#include "ep_classifier_dpdk.skel.h"
#include "edgeplane/addrset.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "xdp/ep_xdp.h"
#include "../lib/pkt.h"
#include "../lib/pins.h"
#include "../lib/tap.h"
#include "xdp_test.h"

static struct ep_classifier *skel;
static int prog_fd;

/* The classifier's maps the cases use: the descriptor of each, and its name in the
 * skeleton (the same in the XDP and the DPDK build). */
#define CLS_MAPS(X, s)                \
	X(stats_fd, ep_stats, s)      \
	X(cfg_fd, ep_cfg, s)          \
	X(tenants_fd, ep_tenants, s)  \
	X(addrs_fd, ep_addrs, s)      \
	X(rl_fd, ep_rl_cfg, s)        \
	X(rlstate_fd, ep_rl_state, s) \
	X(auth_fd, ep_auth_cfg, s)    \
	X(keys_fd, ep_keys, s)        \
	X(kstate_fd, ep_key_state, s)
#define CLS_FD_DECL(fd, map, s) static int fd;
#define CLS_FD_SET(fd, map, s)	fd = bpf_map__fd((s)->maps.map);
CLS_MAPS(CLS_FD_DECL, )

/* Point the cases at the program and maps of loaded skeleton @s. */
#define USE_SKEL(s)                                                \
	do {                                                       \
		prog_fd = bpf_program__fd((s)->progs.ep_classify); \
		CLS_MAPS(CLS_FD_SET, s)                            \
	} while (0)

static const char *variant = ""; /* prefixes the cases' names: which build runs */
static int ifindex;		 /* veth in our private netns, 0 if unavailable */

#define PORT EP_DEFAULT_PORT

/* A valid single-fragment request header + payload, as the UDP payload. */
static size_t task_dgram(uint8_t *buf, size_t len, uint8_t kind, uint8_t prio, size_t plen)
{
	struct ep_msg m = {
		.kind = kind,
		.priority = prio,
		.task_type = 1,
		.tenant_id = 42,
		.task_id = 0x1122334455667788ULL,
		.size_hint_kib = 64,
		.deadline_ms = 100,
	};
	uint8_t data[2048];
	ssize_t n;

	for (size_t i = 0; i < plen; i++)
		data[i] = (uint8_t)i;
	n = ep_frag_build(&m, data, (uint32_t)plen, 1400, 0, buf, len);
	return n < 0 ? 0 : (size_t)n;
}

static int run_frame(const uint8_t *frame, size_t len, bool with_ctx, int *act,
		     struct ep_counter delta[EP_STAT__COUNT], bool *same_bytes)
{
	struct ep_counter before[EP_STAT__COUNT], after[EP_STAT__COUNT];
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	uint8_t out[4096] = { 0 }; /* BPF_PROG_TEST_RUN writes it */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	int err;

	if (with_ctx) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	if (ep_xdp_read_stats(stats_fd, before))
		return -1;
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	if (ep_xdp_read_stats(stats_fd, after))
		return -1;
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		delta[i].packets = after[i].packets - before[i].packets;
		delta[i].bytes = after[i].bytes - before[i].bytes;
	}
	*act = (int)opts.retval;
	*same_bytes = opts.data_size_out == len && !memcmp(out, frame, len);
	return 0;
}

/* Run one frame and check verdict, bytes and counters; report as one TAP case. */
static void check_frame(const char *name, const uint8_t *frame, size_t len, int want_act,
			int want_stat, bool with_ctx)
{
	struct ep_counter d[EP_STAT__COUNT];
	bool same = false;
	int act = -1, err;

	tap_begin();
	err = run_frame(frame, len, with_ctx, &act, d, &same);
	EXPECT_EQ(err, 0);
	if (!err) {
		if (act != want_act)
			tap_diag("verdict %s, want %s", act_name(act), act_name(want_act));
		EXPECT_EQ(act, want_act);
		EXPECT(same);
		for (int i = 0; i < EP_STAT__COUNT; i++) {
			uint64_t want = i == want_stat;

			if (d[i].packets != want)
				tap_diag("counter %s moved by %llu, want %llu", ep_stat_name(i),
					 (unsigned long long)d[i].packets,
					 (unsigned long long)want);
			EXPECT_EQ(d[i].packets, want);
			EXPECT_EQ(d[i].bytes, want ? len : 0);
		}
	}
	tap_end("%s%s -> %s/%s", variant, name, act_name(want_act), ep_stat_name(want_stat));
}

static void check(const char *name, const struct pkt_spec *s, int want_act, int want_stat)
{
	uint8_t frame[4096];
	size_t len = pkt_build(s, frame, sizeof(frame));

	check_frame(name, frame, len, want_act, want_stat, false);
}

#define PASS(s) XDP_PASS, EP_STAT_##s
#define DROP(s) XDP_DROP, EP_STAT_##s

/* A byte patch on the offload header (docs/protocol.md 3.1): d[off] op= val. Up to three
 * make most of the malformations below; op 0 ends the list. */
enum { B_END, B_SET, B_OR, B_XOR, B_ADD };
struct patch {
	uint8_t op, off, val;
};

/* One line a macro: */
// clang-format off
#define SETB(o, v) { B_SET, o, v }
#define ORB(o, v) { B_OR, o, v }
#define XORB(o, v) { B_XOR, o, v }
#define ADDB(o, v) { B_ADD, o, (uint8_t)(v) }
// clang-format on

/* Header offsets the patches touch (the low byte where a field is wider). */
enum {
	H_VERSION = 2,
	H_KIND = 3,
	H_PRIO = 4,
	H_FLAGS = 5,
	H_TYPE_HI = 6,
	H_TYPE = 7,
	H_TENANT = 11,
	H_PLEN_HI = 12,
	H_PLEN = 13,
	H_STATUS = 15,
	H_FRAG_INDEX = 17,
	H_FRAG_COUNT_HI = 18,
	H_FRAG_COUNT = 19,
	H_TOTAL_B1 = 20,
	H_TOTAL = 23,
	H_FRAG_OFF = 35,
	H_LOAD = 44,
	H_REPLY_MTU = 45,
	H_KEY_HI = 46,
	H_KEY = 47,
};

/* A change to a datagram: @fn first (if set), then the byte patches @p. */
struct mut {
	void (*fn)(uint8_t *d, size_t *len);
	struct patch p[3];
};

// clang-format off
#define FN(f) { .fn = f }
#define PATCH(...) { .p = { __VA_ARGS__ } }
#define FN_PATCH(f, ...) { .fn = f, .p = { __VA_ARGS__ } }
// clang-format on

static void mut_apply(const struct mut *m, uint8_t *d, size_t *len)
{
	if (m->fn)
		m->fn(d, len);
	for (size_t i = 0; i < sizeof(m->p) / sizeof(m->p[0]) && m->p[i].op != B_END; i++) {
		const struct patch *p = &m->p[i];

		if (p->op == B_SET)
			d[p->off] = p->val;
		else if (p->op == B_OR)
			d[p->off] |= p->val;
		else if (p->op == B_XOR)
			d[p->off] ^= p->val;
		else
			d[p->off] += p->val;
	}
}

/* An offload datagram to PORT over IPv4 (or v6), with @mut applied to its header. */
struct variant {
	const char *name;
	bool ipv6;
	struct mut mut;
	int act, stat;
};

static void m_extra_byte(uint8_t *d, size_t *len)
{
	d[*len] = 0;
	(*len)++;
}
static void m_short63(uint8_t *d, size_t *len)
{
	*len = 63;
}
static void m_short0(uint8_t *d, size_t *len)
{
	*len = 0;
}

/* An AUTH datagram (docs/protocol.md 3.5) from a plain one: the 12-byte nonce goes in after
 * the header, payload_len counts it, key id 0x0011 and a tag are set. (The "ciphertext" is
 * the plaintext: XDP cannot tell.) */
static void m_auth(uint8_t *d, size_t *len)
{
	uint16_t plen = (uint16_t)(d[12] << 8 | d[13]) + EP_AUTH_NONCE_LEN;

	memmove(d + EP_HDR_LEN + EP_AUTH_NONCE_LEN, d + EP_HDR_LEN, *len - EP_HDR_LEN);
	for (int i = 0; i < EP_AUTH_NONCE_LEN; i++)
		d[EP_HDR_LEN + i] = (uint8_t)(0xa0 + i);
	d[5] |= EP_F_AUTH;
	d[46] = 0x00, d[47] = 0x11;
	for (int i = 0; i < EP_AUTH_TAG_LEN; i++)
		d[48 + i] = (uint8_t)(0x5a ^ i);
	d[12] = (uint8_t)(plen >> 8), d[13] = (uint8_t)plen;
	*len += EP_AUTH_NONCE_LEN;
}
static void m_auth_short(uint8_t *d, size_t *len) /* 11 bytes: not even the nonce */
{
	m_auth(d, len);
	d[12] = 0, d[13] = 11;
	*len = EP_HDR_LEN + 11;
}
static void m_auth_ping(uint8_t *d, size_t *len) /* empty plaintext: payload_len 12 */
{
	d[3] = EP_KIND_PING;
	d[12] = d[13] = 0;
	d[20] = d[21] = d[22] = d[23] = 0;
	*len = EP_HDR_LEN;
	m_auth(d, len);
}

/* Middle fragment 1 of 3 with L = 100: offset 100, total 250. */
static void m_frag_mid(uint8_t *d, size_t *len)
{
	d[17] = 1, d[19] = 3, d[22] = 0, d[23] = 250, d[34] = 0, d[35] = 100;
}
/* The middle fragment with AUTH: its slice is still L = 100, its payload_len 108. */
static void m_auth_frag_mid(uint8_t *d, size_t *len)
{
	m_frag_mid(d, len);
	m_auth(d, len);
}
/* Last fragment 2 of 3: offset 200, 50 bytes, total 250. */
static void m_frag_last(uint8_t *d, size_t *len)
{
	d[13] = 50, d[17] = 2, d[19] = 3, d[23] = 250, d[35] = 200;
	*len = EP_HDR_LEN + 50;
}

static const struct variant variants[] = {
	{ "valid request", false, {}, PASS(PASS_NO_SOCKET) },
	{ "valid request ipv6", true, {}, PASS(PASS_NO_SOCKET) },
	{ "valid ping", false, PATCH(SETB(H_KIND, EP_KIND_PING)), PASS(PASS_NO_SOCKET) },
	{ "valid cancel", true, PATCH(SETB(H_KIND, EP_KIND_CANCEL)), PASS(PASS_NO_SOCKET) },
	{ "valid result_ack: to the runtime like a cancel", true,
	  PATCH(SETB(H_KIND, EP_KIND_RESULT_ACK)), PASS(PASS_NO_SOCKET) },
	{ "valid priority 5", false, PATCH(SETB(H_PRIO, 5)), PASS(PASS_NO_SOCKET) },
	{ "valid middle fragment", false, FN(m_frag_mid), PASS(PASS_NO_SOCKET) },
	{ "valid last fragment", true, FN(m_frag_last), PASS(PASS_NO_SOCKET) },
	{ "retry and zstd flags", false, PATCH(ORB(H_FLAGS, EP_F_RETRY | EP_F_ZSTD)),
	  PASS(PASS_NO_SOCKET) },
	{ "reply_mtu on a request", false, PATCH(SETB(H_REPLY_MTU, 9)), PASS(PASS_NO_SOCKET) },
	{ "token and plain-reply flags", true,
	  PATCH(ORB(H_FLAGS, EP_F_PLAIN_REPLY | EP_F_TOKEN), SETB(H_KEY, 1)),
	  PASS(PASS_NO_SOCKET) },
	{ "unknown flag 0x40", false, PATCH(ORB(H_FLAGS, 0x40)), DROP(DROP_BAD_FLAGS) },
	{ "frame-coded request", true, PATCH(ORB(H_FLAGS, EP_F_FRAME)), PASS(PASS_NO_SOCKET) },
	{ "frame-coded and zstd together", false, PATCH(ORB(H_FLAGS, EP_F_FRAME | EP_F_ZSTD)),
	  DROP(DROP_BAD_FLAGS) },
	{ "AUTH and TOKEN together", false, FN_PATCH(m_auth, ORB(H_FLAGS, EP_F_TOKEN)),
	  DROP(DROP_AUTH_TOKEN) },
	{ "AUTH request, nonce + ciphertext (auth off: not judged)", false, FN(m_auth),
	  PASS(PASS_NO_SOCKET) },
	{ "AUTH middle fragment, slice = payload_len - 12", true, FN(m_auth_frag_mid),
	  PASS(PASS_NO_SOCKET) },
	{ "AUTH ping, empty plaintext (payload_len 8)", false, FN(m_auth_ping),
	  PASS(PASS_NO_SOCKET) },
	/* AUTH set, but payload_len counts only the task bytes (no nonce): the slice is 12
	 * short. */
	{ "AUTH request whose payload_len leaves out the nonce", false,
	  PATCH(ORB(H_FLAGS, EP_F_AUTH), SETB(H_KEY, 0x11)), DROP(DROP_BAD_FRAGMENT) },
	{ "AUTH with 11 bytes of payload: no nonce", true, FN(m_auth_short),
	  DROP(DROP_AUTH_SHORT) },
	{ "bad magic", false, PATCH(XORB(0, 0xff)), DROP(DROP_BAD_MAGIC) },
	{ "bad magic ipv6", true, PATCH(XORB(0, 0xff)), DROP(DROP_BAD_MAGIC) },
	{ "version 0", false, PATCH(SETB(H_VERSION, 0)), DROP(DROP_BAD_VERSION) },
	{ "version 2", true, PATCH(SETB(H_VERSION, 2)), DROP(DROP_BAD_VERSION) },
	{ "kind 0", false, PATCH(SETB(H_KIND, 0)), DROP(DROP_BAD_KIND) },
	{ "kind response at server", false, PATCH(SETB(H_KIND, EP_KIND_RESPONSE)),
	  DROP(DROP_BAD_KIND) },
	{ "kind error at server", true, PATCH(SETB(H_KIND, EP_KIND_ERROR), SETB(H_STATUS, 1)),
	  DROP(DROP_BAD_KIND) },
	{ "kind pong at server", false, PATCH(SETB(H_KIND, EP_KIND_PONG)), DROP(DROP_BAD_KIND) },
	{ "kind retry at server", true,
	  PATCH(SETB(H_KIND, EP_KIND_RETRY), SETB(H_FLAGS, EP_F_TOKEN)), DROP(DROP_BAD_KIND) },
	{ "kind task_ack at server: client-bound", true,
	  PATCH(SETB(H_KIND, EP_KIND_TASK_ACK), SETB(H_LOAD, 10)), DROP(DROP_BAD_KIND) },
	{ "kind 0x13 reserved", false, PATCH(SETB(H_KIND, 0x13)), DROP(DROP_BAD_KIND) },
	{ "kind 0xff", false, PATCH(SETB(H_KIND, 0xff)), DROP(DROP_BAD_KIND) },
	{ "priority 0", false, PATCH(SETB(H_PRIO, 0)), DROP(DROP_BAD_PRIORITY) },
	{ "priority 6", true, PATCH(SETB(H_PRIO, 6)), DROP(DROP_BAD_PRIORITY) },
	{ "unknown flag 0x80", false, PATCH(ORB(H_FLAGS, 0x80)), DROP(DROP_BAD_FLAGS) },
	{ "load_pct on a request", false, PATCH(SETB(H_LOAD, 7)), DROP(DROP_BAD_FLAGS) },
	{ "auth key id without AUTH", false, PATCH(SETB(H_KEY, 1)), DROP(DROP_BAD_FLAGS) },
	{ "status on a request", true, PATCH(SETB(H_STATUS, 1)), DROP(DROP_BAD_FLAGS) },
	{ "payload_len too big", false, PATCH(ADDB(H_PLEN, 1)), DROP(DROP_BAD_LENGTH) },
	{ "payload_len too small", true, PATCH(ADDB(H_PLEN, -1)), DROP(DROP_BAD_LENGTH) },
	{ "trailing byte", false, FN(m_extra_byte), DROP(DROP_BAD_LENGTH) },
	{ "frag_count 0", false, PATCH(SETB(H_FRAG_COUNT_HI, 0), SETB(H_FRAG_COUNT, 0)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "frag_index == frag_count", false, PATCH(SETB(H_FRAG_INDEX, 1)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "single fragment at offset 4", true, PATCH(SETB(H_FRAG_OFF, 4)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "single fragment short of total", false, PATCH(ADDB(H_TOTAL, 1)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "middle fragment misaligned", false, FN_PATCH(m_frag_mid, SETB(H_FRAG_OFF, 99)),
	  DROP(DROP_BAD_FRAGMENT) },
	/* 4 fragments cannot hold 250 */
	{ "frag_count disagrees with total", false, FN_PATCH(m_frag_mid, SETB(H_FRAG_COUNT, 4)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "last fragment overshoots", true, FN_PATCH(m_frag_last, SETB(H_TOTAL, 249)),
	  DROP(DROP_BAD_FRAGMENT) },
	{ "total_len above limit", false, PATCH(SETB(H_TOTAL_B1, 0x10)), /* 256 MiB */
	  DROP(DROP_TOO_LARGE) },
	{ "datagram of 63 bytes", false, FN(m_short63), DROP(DROP_HDR_SHORT) },
	{ "empty datagram", true, FN(m_short0), DROP(DROP_HDR_SHORT) },
};

static size_t variant_dgram(const struct variant *v, uint8_t *d, size_t len)
{
	size_t n = task_dgram(d, len, EP_KIND_REQUEST, 3, 100);

	mut_apply(&v->mut, d, &n);
	return n;
}

static void test_variants(int vlan_tags, bool opts_and_ext)
{
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		uint8_t d[2048];
		size_t n = variant_dgram(v, d, sizeof(d));
		struct pkt_spec s = {
			.ipv6 = v->ipv6,
			.vlan_tags = vlan_tags,
			.sport = 40000,
			.dport = PORT,
			.payload = d,
			.payload_len = n,
			.ip_opt_len = opts_and_ext && !v->ipv6 ? 12 : 0,
			.ipv6_ext = opts_and_ext && v->ipv6 ? 2 : 0,
		};
		char name[160];

		snprintf(name, sizeof(name), "%s%s%s", v->name,
			 vlan_tags == 2 ? " [802.1ad+802.1Q]"
			 : vlan_tags	? " [802.1Q]"
					: "",
			 opts_and_ext ? (v->ipv6 ? " [ipv6 ext hdrs]" : " [ipv4 options]") : "");
		check(name, &s, v->act, v->stat);
	}
}

static void test_pass_cases(void)
{
	uint8_t d[256], arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100);

	check("ARP",
	      &(struct pkt_spec){ .ethertype = 0x0806, .payload = arp, .payload_len = sizeof(arp) },
	      PASS(PASS_NOT_IP));
	check("LLDP-like ethertype",
	      &(struct pkt_spec){ .ethertype = 0x88cc, .payload = arp, .payload_len = 20 },
	      PASS(PASS_NOT_IP));
	check("ARP in VLAN",
	      &(struct pkt_spec){ .ethertype = 0x0806,
				  .vlan_tags = 1,
				  .payload = arp,
				  .payload_len = sizeof(arp) },
	      PASS(PASS_NOT_IP));
	check("ICMP echo",
	      &(struct pkt_spec){ .l4proto = IPPROTO_ICMP, .payload = d, .payload_len = 64 },
	      PASS(PASS_NOT_UDP));
	check("TCP", &(struct pkt_spec){ .l4proto = IPPROTO_TCP, .payload = d, .payload_len = 40 },
	      PASS(PASS_NOT_UDP));
	check("ICMPv6",
	      &(struct pkt_spec){
		      .ipv6 = true, .l4proto = IPPROTO_ICMPV6, .payload = d, .payload_len = 64 },
	      PASS(PASS_NOT_UDP));
	check("IPv6 ESP",
	      &(struct pkt_spec){
		      .ipv6 = true, .l4proto = IPPROTO_ESP, .payload = d, .payload_len = 64 },
	      PASS(PASS_NOT_UDP));
	check("IPv4 first fragment to the port",
	      &(struct pkt_spec){ .ip_mf = true, .dport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_IP_FRAGMENT));
	check("IPv4 later fragment",
	      &(struct pkt_spec){
		      .ip_frag_off = 185, .dport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_IP_FRAGMENT));
	check("IPv6 fragment header",
	      &(struct pkt_spec){ .ipv6 = true,
				  .ipv6_frag = true,
				  .dport = PORT,
				  .payload = d,
				  .payload_len = n },
	      PASS(PASS_IP_FRAGMENT));
	check("UDP to another port",
	      &(struct pkt_spec){
		      .dport = PORT + 1, .sport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_OTHER_PORT));
	check("UDP6 to another port",
	      &(struct pkt_spec){ .ipv6 = true, .dport = 53, .payload = d, .payload_len = 30 },
	      PASS(PASS_OTHER_PORT));
}

/* Frames whose headers lie, built by patching a valid one. */
static void test_malformed_l3_l4(void)
{
	uint8_t d[256], f[512];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100), len;
	struct pkt_spec v4 = { .dport = PORT, .payload = d, .payload_len = n };
	struct pkt_spec v6 = { .ipv6 = true, .dport = PORT, .payload = d, .payload_len = n };

	len = pkt_build(&v4, f, sizeof(f));
	f[14] = 0x44; /* ihl 4 */
	check_frame("IPv4 ihl < 5", f, len, PASS(PASS_UNPARSED), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14] = 0x65; /* version 6 in an IPv4 ethertype */
	check_frame("IPv4 ethertype, version 6", f, len, PASS(PASS_UNPARSED), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[17] += 8; /* tot_len beyond the frame */
	check_frame("IPv4 total length beyond frame", f, len, PASS(PASS_UNPARSED), false);

	len = pkt_build(&v6, f, sizeof(f));
	f[18] = f[19] = 0; /* payload_len 0: jumbogram */
	check_frame("IPv6 payload length 0", f, len, PASS(PASS_UNPARSED), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 20 + 4] = 0x7f; /* UDP length far beyond the IP datagram */
	check_frame("UDP length beyond IP length", f, len, DROP(DROP_UDP_LENGTH), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 20 + 4] = 0, f[14 + 20 + 5] = 7; /* UDP length 7 */
	check_frame("UDP length below 8", f, len, DROP(DROP_UDP_LENGTH), false);

	len = pkt_build(&v6, f, sizeof(f));
	f[14 + 40 + 6] = f[14 + 40 + 7] = 0;
	check_frame("IPv6 UDP with zero checksum", f, len, DROP(DROP_UDP_ZERO_CSUM), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 20] = f[14 + 20 + 1] = 0; /* source port 0 */
	check_frame("UDP from source port 0", f, len, DROP(DROP_BAD_SOURCE), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[0] = 0xff, f[1] = 0xff, f[2] = 0xff, f[3] = 0xff, f[4] = 0xff, f[5] = 0xff;
	check_frame("task to the Ethernet broadcast address", f, len, PASS(PASS_NOT_UNICAST),
		    false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 16] = 239; /* 239.18.0.2 */
	check_frame("task to an IPv4 multicast group", f, len, PASS(PASS_NOT_UNICAST), false);

	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 16] = f[14 + 17] = f[14 + 18] = f[14 + 19] = 0xff;
	check_frame("task to 255.255.255.255", f, len, PASS(PASS_NOT_UNICAST), false);

	len = pkt_build(&v6, f, sizeof(f));
	f[14 + 24] = 0xff, f[14 + 25] = 0x02; /* ff02::2 */
	check_frame("task to an IPv6 multicast group", f, len, PASS(PASS_NOT_UNICAST), false);

	/* IPv4 UDP with a zero checksum is legal. */
	len = pkt_build(&v4, f, sizeof(f));
	f[14 + 20 + 6] = f[14 + 20 + 7] = 0;
	check_frame("IPv4 UDP with zero checksum", f, len, PASS(PASS_NO_SOCKET), false);
}

/* A frame cut at every byte from the end of Ethernet to one short of complete. */
static void test_truncation(const char *what, const struct pkt_spec *s)
{
	uint8_t f[2048];
	size_t len = pkt_build(s, f, sizeof(f));
	int bad = 0;

	for (size_t cut = 14; cut < len; cut++) {
		struct ep_counter d[EP_STAT__COUNT];
		bool same;
		int act;

		if (run_frame(f, cut, false, &act, d, &same) || act != XDP_PASS || !same ||
		    d[EP_STAT_PASS_UNPARSED].packets != 1) {
			if (bad++ < 5)
				tap_diag("cut at %zu: act %s", cut, act_name(act));
		}
	}
	tap_begin();
	EXPECT(len > 14); /* else nothing above was checked */
	EXPECT_EQ(bad, 0);
	tap_end("%s%s truncated at each of %zu lengths -> XDP_PASS/pass_unparsed", variant, what,
		len > 14 ? len - 14 : 0);
}

static int write_cfg(const struct ep_config *c)
{
	return ep_xdp_write_config(cfg_fd, c);
}

static void test_config_map(void)
{
	uint8_t d[256];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100);
	struct ep_config c = { .udp_port = 9000 };
	struct ep_tenant t = { 0 };
	__u32 tenant = 42;

	write_cfg(&c);
	check("port moved to 9000: task to 7878",
	      &(struct pkt_spec){ .dport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_OTHER_PORT));
	check("port moved to 9000: task to 9000",
	      &(struct pkt_spec){ .dport = 9000, .payload = d, .payload_len = n },
	      PASS(PASS_NO_SOCKET));

	c = (struct ep_config){ .max_task_len = 99 };
	write_cfg(&c);
	check("max_task_len 99: 100-byte task",
	      &(struct pkt_spec){ .dport = PORT, .payload = d, .payload_len = n },
	      DROP(DROP_TOO_LARGE));

	c = (struct ep_config){ .flags = EP_CFG_F_TENANT_CHECK };
	write_cfg(&c);
	check("tenant check on, tenant 42 unknown",
	      &(struct pkt_spec){ .ipv6 = true, .dport = PORT, .payload = d, .payload_len = n },
	      DROP(DROP_TENANT));
	bpf_map_update_elem(tenants_fd, &tenant, &t, BPF_ANY);
	check("tenant check on, tenant 42 allowed",
	      &(struct pkt_spec){ .ipv6 = true, .dport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_NO_SOCKET));
	bpf_map_delete_elem(tenants_fd, &tenant);

	c = (struct ep_config){ 0 };
	write_cfg(&c);

	tap_begin();
	c.prio_slot[3] = EP_XSK_SLOTS;
	EXPECT_EQ(write_cfg(&c), -EINVAL);
	c = (struct ep_config){ .max_task_len = EP_MAX_TASK_LEN + 1 };
	EXPECT_EQ(write_cfg(&c), -EINVAL);
	tap_end("%sconfig writes with an out-of-range slot or limit are refused", variant);
}

/* --- hardening (issue 11): each attack below was a case that failed before its fix ---- */

static int addr_put(const char *a, uint32_t flags)
{
	struct ep_addr_key k;
	struct ep_addr_val v = { .flags = flags };

	if (ep_addr_parse(a, k.addr))
		return -EINVAL;
	if (!flags)
		return bpf_map_delete_elem(addrs_fd, &k) ? -errno : 0;
	return bpf_map_update_elem(addrs_fd, &k, &v, BPF_ANY) ? -errno : 0;
}

/* The addresses the table's frames go to (pkt.c's) are the node's. */
static void addrs_default(void)
{
	struct ep_addr_key k;

	map_clear(addrs_fd, &k);
	EXPECT_EQ(addr_put("198.18.0.2", EP_ADDR_F_LOCAL), 0);
	EXPECT_EQ(addr_put("2001:db8::2", EP_ADDR_F_LOCAL), 0);
}

static int rl_put(const struct ep_rl_cfg *c)
{
	return ep_xdp_write_rl(rl_fd, c);
}

/* Run @frame @n times in one BPF_PROG_TEST_RUN (the program, its maps and its clock live
 * on in between, as for a burst on the wire). Returns the packets each counter moved by
 * in @d, and the run's duration in *ns. */
static int run_burst(const uint8_t *frame, size_t len, uint32_t n, uint64_t d[EP_STAT__COUNT],
		     uint64_t *ns)
{
	struct ep_counter before[EP_STAT__COUNT], after[EP_STAT__COUNT];
	uint8_t out[4096] = { 0 }; /* BPF_PROG_TEST_RUN writes it */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = n);
	uint64_t t0;
	int err;

	if (ep_xdp_read_stats(stats_fd, before))
		return -1;
	t0 = mono_ns();
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	*ns = mono_ns() - t0;
	if (err || ep_xdp_read_stats(stats_fd, after))
		return -1;
	for (int i = 0; i < EP_STAT__COUNT; i++)
		d[i] = after[i].packets - before[i].packets;
	return 0;
}

/* A burst of @n datagrams from @src: exactly @pass reach the stack (no socket) and the
 * rest are dropped as @drop, no other counter moving. */
static void check_burst(const char *name, const struct pkt_spec *s, uint32_t n, uint64_t pass,
			int drop)
{
	uint8_t f[2048];
	size_t len = pkt_build(s, f, sizeof(f));
	uint64_t d[EP_STAT__COUNT], ns;

	tap_begin();
	EXPECT_EQ(run_burst(f, len, n, d, &ns), 0);
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t w = i == EP_STAT_PASS_NO_SOCKET ? pass : i == drop ? n - pass : 0;

		if (d[i] != w)
			tap_diag("counter %s moved by %llu, want %llu", ep_stat_name(i),
				 (unsigned long long)d[i], (unsigned long long)w);
		EXPECT_EQ(d[i], w);
	}
	tap_end("%s%s", variant, name);
}

/* A datagram of fragment 0 of a task of @total bytes (1400-byte fragments); above the
 * protocol's limit, the header of a 64 MiB one with total_len patched. */
static size_t first_fragment(uint8_t *buf, size_t len, uint32_t total)
{
	static uint8_t data[1400];
	struct ep_msg m = { .kind = EP_KIND_REQUEST,
			    .priority = 3,
			    .task_type = 1,
			    .tenant_id = 42,
			    .task_id = 0x5151 };
	ssize_t n = ep_frag_build(&m, data, total > EP_MAX_TASK_LEN ? EP_MAX_TASK_LEN : total,
				  sizeof(data), 0, buf, len);

	if (n < 0)
		return 0;
	if (total > EP_MAX_TASK_LEN) { /* still 47935 fragments of 1400 bytes */
		buf[20] = (uint8_t)(total >> 24), buf[21] = (uint8_t)(total >> 16);
		buf[22] = (uint8_t)(total >> 8), buf[23] = (uint8_t)total;
	}
	return (size_t)n;
}

/* 5. The classifier's limit when its config says 0 is the protocol's 64 MiB: a task
 * between the runtime's 16 MiB and 64 MiB reaches the runtime, which answers TOO_LARGE,
 * instead of vanishing here while the client waits out its retries. */
static void test_size_limit(void)
{
	uint8_t ff[1600];
	size_t len;

	write_cfg(&(struct ep_config){ 0 });
	len = first_fragment(ff, sizeof(ff), 20u << 20);
	check("max_task_len 0: fragment 0 of a 20 MiB task reaches the runtime",
	      &(struct pkt_spec){ .dport = PORT, .payload = ff, .payload_len = len },
	      PASS(PASS_NO_SOCKET));
	len = first_fragment(ff, sizeof(ff), EP_MAX_TASK_LEN);
	check("max_task_len 0: fragment 0 of a 64 MiB task reaches the runtime",
	      &(struct pkt_spec){ .ipv6 = true, .dport = PORT, .payload = ff, .payload_len = len },
	      PASS(PASS_NO_SOCKET));
	len = first_fragment(ff, sizeof(ff), EP_MAX_TASK_LEN + 1);
	check("max_task_len 0: fragment 0 of a task of 64 MiB + 1",
	      &(struct pkt_spec){ .ipv6 = true, .dport = PORT, .payload = ff, .payload_len = len },
	      DROP(DROP_TOO_LARGE));
}

/* 3. A task must be addressed to the node (or a virtual address it serves): anything else
 * to the port is someone else's, and the kernel decides, unjudged. */
static void test_destination(void)
{
	uint8_t d[256];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100);
	struct pkt_spec v4 = {
		.dport = PORT, .payload = d, .payload_len = n, .dst = "198.18.0.99"
	};
	struct pkt_spec v6 = {
		.ipv6 = true, .dport = PORT, .payload = d, .payload_len = n, .dst = "2001:db8::99"
	};

	check("a task to 198.18.0.99, not an address of the node", &v4, PASS(PASS_NOT_LOCAL));
	check("a task to 2001:db8::99, not an address of the node", &v6, PASS(PASS_NOT_LOCAL));
	d[0] ^= 0xff;
	check("bad magic to 198.18.0.99: not ours to judge", &v4, PASS(PASS_NOT_LOCAL));
	d[0] ^= 0xff;
	check("a task to an IPv4-mapped IPv6 destination is not an IPv4 one",
	      &(struct pkt_spec){ .ipv6 = true,
				  .dport = PORT,
				  .payload = d,
				  .payload_len = n,
				  .dst = "::ffff:198.18.0.2" },
	      PASS(PASS_NOT_LOCAL));

	tap_begin();
	EXPECT_EQ(addr_put("198.18.0.99", EP_ADDR_F_VIRTUAL), 0);
	EXPECT_EQ(addr_put("2001:db8::99", EP_ADDR_F_VIRTUAL), 0);
	tap_end("%sep_addrs takes virtual addresses", variant);
	check("a task to the virtual address 198.18.0.99", &v4, PASS(PASS_NO_SOCKET));
	check("a task to the virtual address 2001:db8::99", &v6, PASS(PASS_NO_SOCKET));
	addr_put("198.18.0.99", EP_ADDR_F_GATEWAY); /* a gateway is not a destination */
	check("a task to 198.18.0.99, a gateway's address, not ours", &v4, PASS(PASS_NOT_LOCAL));
	addr_put("198.18.0.99", 0);
	addr_put("2001:db8::99", 0);

	write_cfg(&(struct ep_config){ .flags = EP_CFG_F_ANY_DEST });
	check("EP_CFG_F_ANY_DEST (unsafe): a task to any address", &v4, PASS(PASS_NO_SOCKET));
	write_cfg(&(struct ep_config){ 0 });
	addrs_default();
	tap_begin();
	{
		struct ep_addr_key k;

		EXPECT_EQ(ep_addr_parse("198.18.0.2", k.addr), 0);
		EXPECT_EQ(bpf_map_delete_elem(addrs_fd, &k), 0);
	}
	tap_end("%sthe node's address leaves ep_addrs", variant);
	check("a task to 198.18.0.2 once it is no longer the node's",
	      &(struct pkt_spec){ .dport = PORT, .payload = d, .payload_len = n },
	      PASS(PASS_NOT_LOCAL));
	addrs_default();
}

/* Run a frame that the classifier decapsulates: verdict, exactly the counters in @stats
 * (one packet each), and the output frame @want (NULL: untouched). */
static void check_encap(const char *name, const uint8_t *frame, size_t len, int want_act,
			const int *stats, int nstats, const uint8_t *want, size_t want_len)
{
	struct ep_counter before[EP_STAT__COUNT], after[EP_STAT__COUNT];
	uint8_t out[4096] = { 0 }; /* BPF_PROG_TEST_RUN writes it */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	tap_begin();
	EXPECT_EQ(ep_xdp_read_stats(stats_fd, before), 0);
	EXPECT_EQ(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	EXPECT_EQ(ep_xdp_read_stats(stats_fd, after), 0);
	if ((int)opts.retval != want_act)
		tap_diag("verdict %s, want %s", act_name((int)opts.retval), act_name(want_act));
	EXPECT_EQ(opts.retval, want_act);
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t w = 0, dp = after[i].packets - before[i].packets;

		for (int k = 0; k < nstats; k++)
			w += stats[k] == i;
		if (dp != w)
			tap_diag("counter %s moved by %llu, want %llu", ep_stat_name(i),
				 (unsigned long long)dp, (unsigned long long)w);
		EXPECT_EQ(dp, w);
	}
	if (!want) {
		want = frame;
		want_len = len;
	}
	EXPECT_EQ(opts.data_size_out, want_len);
	EXPECT(opts.data_size_out == want_len && !memcmp(out, want, want_len));
	tap_end("%s%s -> %s", variant, name, act_name(want_act));
}

#define ENCAP_MAX 1800 /* an encapsulated frame, at most */

/*
 * An encapsulated task into @f (ENCAP_MAX bytes; returns its length): outer @outer_src
 * (NULL: pkt.c's default, 198.18.0.1) -> @outer_dst (IPv6 when @o6) to EP_ENCAP_PORT, and
 * inside the task datagram @d (@n bytes) from a client to @inner_dst (IPv6 when @v6).
 * Into @dec (*@dlen bytes) what the classifier must leave of it: the outer Ethernet
 * header and the inner IP datagram.
 */
static size_t encap_frame(uint8_t *f, uint8_t *dec, size_t *dlen, bool o6, const char *outer_src,
			  const char *outer_dst, const char *inner_dst, bool v6, const uint8_t *d,
			  size_t n)
{
	uint8_t in[1600];
	size_t ilen, flen;

	ilen = pkt_build(&(struct pkt_spec){ .ipv6 = v6,
					     .dport = PORT,
					     .payload = d,
					     .payload_len = n,
					     .src = v6 ? "2001:db8:7::7" : "198.18.7.7",
					     .dst = inner_dst },
			 in, sizeof(in));
	flen = pkt_build(&(struct pkt_spec){ .ipv6 = o6,
					     .dport = EP_ENCAP_PORT,
					     .payload = in + 14,
					     .payload_len = ilen - 14,
					     .src = outer_src,
					     .dst = outer_dst },
			 f, ENCAP_MAX);
	memcpy(dec, f, 12);
	memcpy(dec + 12, in + 12, ilen - 12);
	*dlen = ilen;
	return flen;
}

/* 4. Encapsulation: off unless a port is set; then only from a configured gateway, and
 * only for a task to the node or a virtual address. */
static void test_encap(void)
{
	uint8_t d[256], f[ENCAP_MAX], dec[ENCAP_MAX];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100), flen, ilen;
	const int decap_task[] = { EP_STAT_DECAP, EP_STAT_PASS_NO_SOCKET };
	const int decap_dest[] = { EP_STAT_DECAP, EP_STAT_DROP_ENCAP_DEST };
	const int src_drop[] = { EP_STAT_DROP_ENCAP_SOURCE };
	const int not_local[] = { EP_STAT_PASS_NOT_LOCAL };
	const int other_port[] = { EP_STAT_PASS_OTHER_PORT };

	write_cfg(&(struct ep_config){ 0 });
	flen = encap_frame(f, dec, &ilen, false, NULL, "198.18.0.2", "198.18.0.2", false, d, n);
	check_encap("encapsulation off (no port): a datagram to 7880 is not ours", f, flen,
		    XDP_PASS, other_port, 1, NULL, 0);

	write_cfg(&(struct ep_config){ .encap_port = EP_ENCAP_PORT });
	check_encap("encapsulated task from 198.18.0.1, not a gateway", f, flen, XDP_DROP, src_drop,
		    1, NULL, 0);
	addr_put("198.18.0.1", EP_ADDR_F_GATEWAY);
	check_encap("encapsulated task from the gateway 198.18.0.1: taken off, the task "
		    "passes",
		    f, flen, XDP_PASS, decap_task, 2, dec, ilen);
	flen = encap_frame(f, dec, &ilen, false, NULL, "198.18.0.2", "2001:db8::2", true, d, n);
	check_encap("encapsulated IPv6 task from the gateway", f, flen, XDP_PASS, decap_task, 2,
		    dec, ilen);
	flen = encap_frame(f, dec, &ilen, false, NULL, "198.18.0.2", "198.18.0.99", false, d, n);
	check_encap("encapsulated task for 198.18.0.99, not ours: dropped", f, flen, XDP_DROP,
		    decap_dest, 2, dec, ilen);
	flen = encap_frame(f, dec, &ilen, false, NULL, "198.18.0.2", "2001:db8::99", true, d, n);
	check_encap("encapsulated task for 2001:db8::99, not ours: dropped", f, flen, XDP_DROP,
		    decap_dest, 2, dec, ilen);
	addr_put("2001:db8::99", EP_ADDR_F_VIRTUAL);
	check_encap("encapsulated task for the virtual address 2001:db8::99", f, flen, XDP_PASS,
		    decap_task, 2, dec, ilen);
	addr_put("2001:db8::99", 0);
	flen = encap_frame(f, dec, &ilen, false, NULL, "198.18.0.98", "198.18.0.2", false, d, n);
	check_encap("encapsulated task to 198.18.0.98, not our address: the kernel's", f, flen,
		    XDP_PASS, not_local, 1, NULL, 0);
	addr_put("198.18.0.1", 0);
	write_cfg(&(struct ep_config){ 0 });
}

/*
 * 4b. The same over an IPv6 underlay (issue 16): an outer IPv6/UDP header from a
 * configured IPv6 gateway, with the same checks, and the outer UDP header's length and
 * checksum checked (for IPv4 outer headers too).
 */
static void test_encap6(void)
{
	uint8_t d[256], f[ENCAP_MAX], dec[ENCAP_MAX], bad[ENCAP_MAX];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100), flen, ilen;
	const int decap_task[] = { EP_STAT_DECAP, EP_STAT_PASS_NO_SOCKET };
	const int decap_dest[] = { EP_STAT_DECAP, EP_STAT_DROP_ENCAP_DEST };
	const int src_drop[] = { EP_STAT_DROP_ENCAP_SOURCE };
	const int not_local[] = { EP_STAT_PASS_NOT_LOCAL };
	const int len_drop[] = { EP_STAT_DROP_UDP_LENGTH };
	const int zero_drop[] = { EP_STAT_DROP_UDP_ZERO_CSUM };
	const int unparsed[] = { EP_STAT_PASS_UNPARSED };
	size_t udp6 = 14 + 40, udp4 = 14 + 20; /* the outer UDP header */
#define GW6   "2001:db8:1::1"
#define NODE6 "2001:db8::2" /* the node's, addrs_default() */

	write_cfg(&(struct ep_config){ .encap_port = EP_ENCAP_PORT });
	addr_put("198.18.0.1", EP_ADDR_F_GATEWAY); /* an IPv4 gateway only, first */
	flen = encap_frame(f, dec, &ilen, true, GW6, NODE6, "198.18.0.2", false, d, n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer from " GW6 ", not a configured gateway", f, flen, XDP_DROP,
		    src_drop, 1, NULL, 0);
	flen = encap_frame(f, dec, &ilen, true, "::ffff:198.18.0.1", NODE6, "198.18.0.2", false, d,
			   n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer from ::ffff:198.18.0.1, mapped to the IPv4 gateway's key", f, flen,
		    XDP_DROP, src_drop, 1, NULL, 0);

	addr_put(GW6, EP_ADDR_F_GATEWAY);
	flen = encap_frame(f, dec, &ilen, true, GW6, NODE6, "198.18.0.2", false, d, n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer from the gateway " GW6 ", IPv4 task inside: taken off, passes", f,
		    flen, XDP_PASS, decap_task, 2, dec, ilen);
	/* Bad outer lengths, each against the frame just built. */
	bad[udp6 + 4] = (uint8_t)((flen - udp6 - 1) >> 8),
		   bad[udp6 + 5] = (uint8_t)(flen - udp6 - 1);
	check_encap("IPv6 outer, UDP length one short of the IPv6 payload: drop_udp_length", bad,
		    flen, XDP_DROP, len_drop, 1, NULL, 0);
	bad[udp6 + 4] = (uint8_t)((flen - udp6 + 1) >> 8),
		   bad[udp6 + 5] = (uint8_t)(flen - udp6 + 1);
	check_encap("IPv6 outer, UDP length one past the IPv6 payload: drop_udp_length", bad, flen,
		    XDP_DROP, len_drop, 1, NULL, 0);
	memcpy(bad, f, flen);
	bad[udp6 + 4] = 0, bad[udp6 + 5] = 4;
	check_encap("IPv6 outer, UDP length 4, less than its header: drop_udp_length", bad, flen,
		    XDP_DROP, len_drop, 1, NULL, 0);
	memcpy(bad, f, flen);
	bad[udp6 + 6] = bad[udp6 + 7] = 0;
	check_encap("IPv6 outer, UDP checksum zero: drop_udp_zero_csum", bad, flen, XDP_DROP,
		    zero_drop, 1, NULL, 0);
	memcpy(bad, f, flen);
	bad[14 + 4] = (uint8_t)((flen - udp6 + 1) >> 8), bad[14 + 5] = (uint8_t)(flen - udp6 + 1);
	check_encap("IPv6 outer, payload length past the frame: not parsed, the kernel's", bad,
		    flen, XDP_PASS, unparsed, 1, NULL, 0);

	flen = encap_frame(f, dec, &ilen, true, GW6, NODE6, "2001:db8::2", true, d, n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer from the gateway, IPv6 task inside: taken off, passes", f, flen,
		    XDP_PASS, decap_task, 2, dec, ilen);
	flen = encap_frame(f, dec, &ilen, true, GW6, NODE6, "2001:db8::99", true, d, n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer from the gateway, task for 2001:db8::99, not ours: dropped", f,
		    flen, XDP_DROP, decap_dest, 2, dec, ilen);
	flen = encap_frame(f, dec, &ilen, true, GW6, "2001:db8::98", "2001:db8::2", true, d, n);
	memcpy(bad, f, flen);
	check_encap("IPv6 outer to 2001:db8::98, not our address: the kernel's", f, flen, XDP_PASS,
		    not_local, 1, NULL, 0);

	/* The outer UDP length is checked over IPv4 too. */
	flen = encap_frame(f, dec, &ilen, false, "198.18.0.1", "198.18.0.2", "198.18.0.2", false, d,
			   n);
	memcpy(bad, f, flen);
	check_encap("IPv4 outer from the gateway, well formed: taken off, passes", f, flen,
		    XDP_PASS, decap_task, 2, dec, ilen);
	bad[udp4 + 4] = (uint8_t)((flen - udp4 - 2) >> 8),
		   bad[udp4 + 5] = (uint8_t)(flen - udp4 - 2);
	check_encap("IPv4 outer, UDP length two short of the IPv4 datagram: drop_udp_length", bad,
		    flen, XDP_DROP, len_drop, 1, NULL, 0);
	addr_put(GW6, 0);
	addr_put("198.18.0.1", 0);
	write_cfg(&(struct ep_config){ 0 });
#undef GW6
#undef NODE6
}

/* Rate limits back to the defaults, every bucket gone. */
static void rl_reset(void)
{
	struct ep_rl_cfg def;
	struct ep_rl_key key;

	ep_xdp_rl_defaults(&def);
	rl_put(&def);
	map_clear(rlstate_fd, &key);
}

/* One burst of a rate-limit sequence: @n datagrams from @src, of which @pass pass and the
 * rest are drop_rate_packets. */
struct burst {
	const char *src, *name;
	uint32_t n, pass;
};

/* Each burst of @b in turn, from @s with its source set to the burst's. */
static void check_bursts(struct pkt_spec *s, const struct burst *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++) {
		s->src = b[i].src;
		check_burst(b[i].name, s, b[i].n, b[i].pass, EP_STAT_DROP_RATE_PACKETS);
	}
}

/* check_bursts() over the bursts listed. */
#define BURSTS(s, ...)                                            \
	do {                                                      \
		static const struct burst b_[] = { __VA_ARGS__ }; \
		check_bursts(s, b_, sizeof(b_) / sizeof(b_[0]));  \
	} while (0)

/* 1. Rate limits per source prefix. */
static void test_rate_limit(void)
{
	uint8_t d[256];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100), flen;
	const struct ep_rl_cfg slow = {
		.packets_per_s = 1, .packets_burst = 10, .prefix_v4 = 24, .prefix_v6 = 64
	};
	struct pkt_spec s = { .dport = PORT, .payload = d, .payload_len = n };
	struct ep_rl_state st;
	struct ep_rl_key k;
	uint64_t dd[EP_STAT__COUNT] = { 0 }, ns = 0, max; /* zeros where run_burst() fails */
	uint8_t f[2048];

	/* The defaults apply to a classifier nobody configured: a burst over them from one
	 * prefix loses its excess (less what refilled while the burst ran). */
	s.src = "198.19.1.1";
	flen = pkt_build(&s, f, sizeof(f));
	tap_begin();
	EXPECT_EQ(run_burst(f, flen, EP_RL_DEF_PACKETS_BURST + 10000, dd, &ns), 0);
	max = EP_RL_DEF_PACKETS_BURST + ns * EP_RL_DEF_PACKETS / 1000000000 + 1;
	if (dd[EP_STAT_PASS_NO_SOCKET] < EP_RL_DEF_PACKETS_BURST ||
	    dd[EP_STAT_PASS_NO_SOCKET] > max)
		tap_diag("passed %llu in %llu us, want %u..%llu",
			 (unsigned long long)dd[EP_STAT_PASS_NO_SOCKET],
			 (unsigned long long)ns / 1000, EP_RL_DEF_PACKETS_BURST,
			 (unsigned long long)max);
	EXPECT(dd[EP_STAT_PASS_NO_SOCKET] >= EP_RL_DEF_PACKETS_BURST);
	EXPECT(dd[EP_STAT_PASS_NO_SOCKET] <= max);
	EXPECT_EQ(dd[EP_STAT_DROP_RATE_PACKETS],
		  EP_RL_DEF_PACKETS_BURST + 10000 - dd[EP_STAT_PASS_NO_SOCKET]);
	tap_end("%sdefault limit (%u/s, burst %u): a burst of %u from 198.19.1.0/24 loses its "
		"excess as drop_rate_packets",
		variant, EP_RL_DEF_PACKETS, EP_RL_DEF_PACKETS_BURST,
		EP_RL_DEF_PACKETS_BURST + 10000);

	/* Configured slow (1/s, burst 10): exact, since a token takes a second to come, far
	 * longer than from one case to the next on a busy machine. */
	tap_begin();
	EXPECT_EQ(rl_put(&slow), 0);
	tap_end("%srate limit written: 1 datagram/s, burst 10, /24 and /64", variant);
	BURSTS(&s,
	       { "198.19.3.1", "12 at once from 198.19.3.1: 10 pass, 2 drop_rate_packets", 12, 10 },
	       { "198.19.3.200", "then 198.19.3.200, the same /24: dropped", 1, 0 },
	       { "198.19.4.1", "then 198.19.4.1, another /24: its own 10 pass", 11, 10 });

	/* Refill: put the /24's (empty) bucket where 3.5 s have passed: 3 tokens, and half
	 * of one. (Its time: the burst's 10 s ahead of now, less 3.5 s.) */
	tap_begin();
	EXPECT_EQ(ep_addr_parse("198.19.3.0", k.addr), 0);
	EXPECT_EQ(bpf_map_lookup_elem(rlstate_fd, &k, &st), 0);
	st.tat_packets = mono_ns() + 10000000000ull - 3500000000ull;
	EXPECT_EQ(bpf_map_update_elem(rlstate_fd, &k, &st, BPF_EXIST), 0);
	tap_end("%sthe bucket of 198.19.3.0/24 is found under its prefix, and set back 3.5 s",
		variant);
	BURSTS(&s, { "198.19.3.9", "3.5 s later: 3 of 5 from 198.19.3.0/24 pass", 5, 3 });

	s.ipv6 = true;
	BURSTS(&s, { "2001:db8:5::1", "IPv6: 12 at once from 2001:db8:5::1: 10 pass", 12, 10 },
	       { "2001:db8:5::ffff:1", "IPv6: then 2001:db8:5::ffff:1, the same /64: dropped", 1,
		 0 },
	       { "2001:db8:5:1::1", "IPv6: then 2001:db8:5:1::1, another /64: passes", 1, 1 });

	/* Bytes: 100 bytes/s, burst 1500, no datagram limit. */
	s = (struct pkt_spec){ .dport = PORT, .payload = d, .payload_len = n, .src = "198.19.5.1" };
	flen = pkt_build(&s, f, sizeof(f));
	tap_begin();
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .bytes_per_s = 100,
					      .bytes_burst = 1500,
					      .prefix_v4 = 24,
					      .prefix_v6 = 64 }),
		  0);
	tap_end("%srate limit written: 100 bytes/s, burst 1500", variant);
	check_burst("bytes: a burst of 10 frames passes 1500 bytes' worth", &s, 10, 1500 / flen,
		    EP_STAT_DROP_RATE_BYTES);

	/* A /16 groups what /24 kept apart; /0 every IPv6 source. */
	tap_begin();
	EXPECT_EQ(
		rl_put(&(struct ep_rl_cfg){
			.packets_per_s = 1, .packets_burst = 3, .prefix_v4 = 16, .prefix_v6 = 0 }),
		0);
	tap_end("%srate limit written: burst 3, /16 and /0", variant);
	s.ipv6 = false;
	BURSTS(&s, { "198.20.1.1", "/16: 2 from 198.20.1.1", 2, 2 },
	       { "198.20.200.1", "/16: then 2 from 198.20.200.1 share its bucket: 1 passes", 2,
		 1 });
	s.ipv6 = true;
	BURSTS(&s, { "2001:db8:a::1", "IPv6 /0: 2 from 2001:db8:a::1", 2, 2 },
	       { "2001:db8:ffff::1", "IPv6 /0: then 2 from 2001:db8:ffff::1 share it: 1 passes", 2,
		 1 });

	/* Off, by name. */
	tap_begin();
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .flags = EP_RL_F_OFF }), 0);
	tap_end("%srate limit off (EP_RL_F_OFF)", variant);
	BURSTS(&s,
	       { "2001:db8:ffff::1", "off: 20 more from the exhausted prefix all pass", 20, 20 });

	tap_begin();
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .packets_per_s = 10 }), -EINVAL);
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .bytes_per_s = 10, .bytes_burst = 100 }), -EINVAL);
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .prefix_v4 = 33 }), -EINVAL);
	EXPECT_EQ(rl_put(&(struct ep_rl_cfg){ .prefix_v6 = 129 }), -EINVAL);
	tap_end("%srate limits with a burst of 0, a byte burst below a datagram or a prefix out "
		"of range are refused",
		variant);

	rl_reset();
}

/* --- session keys and roles (issue 12): each attack below was a case that failed before
 * the classifier checked keys ---------------------------------------------------------- */

#define KEY 0x11 /* the key id m_auth() sets */
#define R   EP_AUTH_MODE_REQUIRED
#define O   EP_AUTH_MODE_OPTIONAL
#define OFF EP_AUTH_MODE_OFF

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A key as the controller would send it; zero fields take the defaults named. */
struct key_spec {
	uint32_t tenant;      /* 0: 42, task_dgram()'s */
	int64_t expires_in_s; /* 0: an hour from now; < 0: that long ago */
	bool never_expires, revoked, all_types;
	uint64_t types[4];		   /* all zero: types 1, 2 and 5 */
	uint8_t prio;			   /* 0: 3 */
	bool no_tasks;			   /* max_priority 0, whatever prio says: a node's own */
	uint32_t max_len;		   /* 0: 1 MiB */
	uint32_t tps, tburst, kib, kburst; /* rates: 0 none */
	uint64_t issued;		   /* 0: 1796000000000 */
};

static int key_put(uint32_t id, const struct key_spec *k)
{
	static const uint64_t def_types[4] = { (1u << 1) | (1u << 2) | (1u << 5) };
	const uint64_t *types =
		k->types[0] | k->types[1] | k->types[2] | k->types[3] ? k->types : def_types;
	uint64_t now_ms = real_ms();
	int64_t exp = (int64_t)now_ms + (k->expires_in_s ? k->expires_in_s : 3600) * 1000;
	struct ep_key_entry e;

	ep_key_entry_fill(&e, now_ms, mono_ns(), k->issued ? k->issued : 1796000000000ull,
			  k->never_expires ? 0 : (uint64_t)exp, k->tenant ? k->tenant : 42,
			  k->revoked, types, k->all_types,
			  k->no_tasks ? 0
			  : k->prio   ? k->prio
				      : 3,
			  k->max_len ? k->max_len : 1u << 20, k->tps, k->tburst, k->kib, k->kburst);
	return ep_xdp_write_key(keys_fd, kstate_fd, id, &e);
}

/* After m_auth(): */
static void m_cut7(uint8_t *d, size_t *len)
{
	d[12] = 0, d[13] = 7;
	*len = EP_HDR_LEN + 7;
}

/* A 100-byte request (task_dgram()), @mut applied, made AUTH if @auth, then @post. */
static size_t auth_dgram(uint8_t *d, size_t len, bool auth, const struct mut *mut,
			 const struct mut *post)
{
	size_t n = task_dgram(d, len, EP_KIND_REQUEST, 3, 100);

	mut_apply(mut, d, &n);
	if (auth)
		m_auth(d, &n);
	mut_apply(post, d, &n);
	return n;
}

struct auth_case {
	const char *name;
	enum ep_auth_mode mode;
	bool ipv6, auth;
	int act, stat;
	struct key_spec key; /* put under KEY before the frame runs */
	struct mut mut;	     /* before m_auth() */
	struct mut post;     /* after it */
};

static const struct auth_case auth_cases[] = {
	{ "required: a valid AUTH request", R, false, true, PASS(PASS_NO_SOCKET), .key = {} },
	{ "required: a valid AUTH request over IPv6", R, true, true, PASS(PASS_NO_SOCKET),
	  .key = {} },
	{ "required: a request without AUTH", R, false, false, DROP(DROP_AUTH_MISSING), .key = {} },
	{ "required: a PING without AUTH", R, true, false, DROP(DROP_AUTH_MISSING),
	  .mut = PATCH(SETB(H_KIND, EP_KIND_PING)) },
	{ "required: a request with an address token, no AUTH", R, false, false,
	  DROP(DROP_AUTH_MISSING), .mut = PATCH(ORB(H_FLAGS, EP_F_TOKEN), SETB(H_KEY, 1)) },
	{ "optional: a request without AUTH", O, false, false, PASS(PASS_NO_SOCKET), .key = {} },
	{ "off: a request without AUTH", OFF, true, false, PASS(PASS_NO_SOCKET), .key = {} },
	{ "off: AUTH under an unknown key is the runtime's to answer", OFF, false, true,
	  PASS(PASS_NO_SOCKET), .post = PATCH(SETB(H_KEY, 0x99)) },
	{ "optional: AUTH under an unknown key", O, false, true, DROP(DROP_AUTH_UNKNOWN_KEY),
	  .post = PATCH(SETB(H_KEY, 0x99)) },
	{ "required: AUTH under an unknown key", R, true, true, DROP(DROP_AUTH_UNKNOWN_KEY),
	  .post = PATCH(SETB(H_KEY, 0x99)) },
	{ "required: AUTH under key id 0", R, false, true, DROP(DROP_AUTH_UNKNOWN_KEY),
	  .post = PATCH(SETB(H_KEY_HI, 0), SETB(H_KEY, 0)) },
	{ "required: the key expired a second ago", R, false, true, DROP(DROP_AUTH_EXPIRED),
	  .key = { .expires_in_s = -1 } },
	{ "required: a key without expiry", R, false, true, PASS(PASS_NO_SOCKET),
	  .key = { .never_expires = true } },
	{ "required: the key is revoked", R, true, true, DROP(DROP_AUTH_REVOKED),
	  .key = { .revoked = true } },
	{ "required: tenant 43 under a key of tenant 42", R, false, true, DROP(DROP_AUTH_TENANT),
	  .mut = PATCH(SETB(H_TENANT, 43)) },
	{ "required: type 3, the role allows 1, 2 and 5", R, false, true, DROP(DROP_AUTH_TYPE),
	  .mut = PATCH(SETB(H_TYPE_HI, 0), SETB(H_TYPE, 3)) },
	{ "required: type 5, allowed", R, true, true, PASS(PASS_NO_SOCKET),
	  .mut = PATCH(SETB(H_TYPE_HI, 0), SETB(H_TYPE, 5)) },
	{ "required: type 200 under a role of every type", R, false, true, PASS(PASS_NO_SOCKET),
	  .key = { .all_types = true }, .mut = PATCH(SETB(H_TYPE_HI, 0), SETB(H_TYPE, 200)) },
	{ "required: type 300, above what a role can allow", R, false, true, DROP(DROP_AUTH_TYPE),
	  .key = { .all_types = true }, .mut = PATCH(SETB(H_TYPE_HI, 1), SETB(H_TYPE, 300 - 256)) },
	{ "required: priority 4 above the role's 3", R, false, true, DROP(DROP_AUTH_PRIORITY),
	  .mut = PATCH(SETB(H_PRIO, 4)) },
	{ "required: priority 5 under a role capped at 5", R, false, true, PASS(PASS_NO_SOCKET),
	  .key = { .prio = 5 }, .mut = PATCH(SETB(H_PRIO, 5)) },
	{ "required: priority 1 under a key of max_priority 0 (a node's own: no task)", R, false,
	  true, DROP(DROP_AUTH_PRIORITY), .key = { .no_tasks = true },
	  .mut = PATCH(SETB(H_PRIO, 1)) },
	{ "required: a request under a key of max_priority 0, over IPv6", R, true, true,
	  DROP(DROP_AUTH_PRIORITY), .key = { .no_tasks = true } },
	{ "required: a PING under a key of max_priority 0 (every kind has the ceiling)", R, false,
	  true, DROP(DROP_AUTH_PRIORITY), .key = { .no_tasks = true },
	  .mut = PATCH(SETB(H_KIND, EP_KIND_PING), SETB(H_TYPE_HI, 0), SETB(H_TYPE, 0)) },
	{ "required: total_len 100 above the role's 99", R, true, true, DROP(DROP_AUTH_TOO_LARGE),
	  .key = { .max_len = 99 } },
	{ "required: total_len 100, the role's max", R, false, true, PASS(PASS_NO_SOCKET),
	  .key = { .max_len = 100 } },
	{ "required: an AUTH PING of type 0 (role limits are a request's)", R, false, true,
	  PASS(PASS_NO_SOCKET),
	  .mut = PATCH(SETB(H_KIND, EP_KIND_PING), SETB(H_TYPE_HI, 0), SETB(H_TYPE, 0)) },
	/* Review of issue 12: a PING or CANCEL is steered by its priority as a request is, so
	 * it may not claim more than the role allows (it took priority 5's socket). */
	{ "required: an AUTH CANCEL at priority 5, above the role's 3", R, true, true,
	  DROP(DROP_AUTH_PRIORITY), .mut = PATCH(SETB(H_KIND, EP_KIND_CANCEL), SETB(H_PRIO, 5)) },
	{ "required: an AUTH CANCEL at priority 5 under a role capped at 5", R, false, true,
	  PASS(PASS_NO_SOCKET), .key = { .prio = 5 },
	  .mut = PATCH(SETB(H_KIND, EP_KIND_CANCEL), SETB(H_PRIO, 5)) },
	{ "required: an AUTH middle fragment", R, false, true, PASS(PASS_NO_SOCKET),
	  .mut = FN(m_frag_mid) },
	{ "required: AUTH and TOKEN", R, false, true, DROP(DROP_AUTH_TOKEN),
	  .post = PATCH(ORB(H_FLAGS, EP_F_TOKEN)) },
	{ "required: AUTH with 7 bytes of payload", R, true, true, DROP(DROP_AUTH_SHORT),
	  .post = FN(m_cut7) },
};

static void test_auth_cases(void)
{
	enum ep_auth_mode mode = R;

	tap_begin();
	EXPECT_EQ(ep_xdp_read_auth_mode(auth_fd, &mode), 0);
	EXPECT_EQ(mode, OFF);
	tap_end("%sep_auth_cfg nobody wrote reads as off", variant);

	/* A mode out of range, written by hand: the strictest, as the tools read it. */
	{
		struct ep_auth_cfg bad = { .mode = 7, .flags = EP_AUTH_F_SET };
		uint8_t d[256];
		size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 100);
		__u32 zero = 0;

		tap_begin();
		EXPECT_EQ(bpf_map_update_elem(auth_fd, &zero, &bad, BPF_ANY), 0);
		EXPECT_EQ(ep_xdp_read_auth_mode(auth_fd, &mode), 0);
		EXPECT_EQ(mode, R);
		tap_end("%sep_auth_cfg with mode 7 (by hand) reads as required", variant);
		check("mode 7 (by hand): a request without AUTH, as in required",
		      &(struct pkt_spec){ .dport = PORT, .payload = d, .payload_len = n },
		      DROP(DROP_AUTH_MISSING));
	}

	for (size_t i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		const struct auth_case *c = &auth_cases[i];
		uint8_t d[2048];
		size_t n = auth_dgram(d, sizeof(d), c->auth, &c->mut, &c->post);
		struct pkt_spec sp = {
			.ipv6 = c->ipv6, .dport = PORT, .payload = d, .payload_len = n
		};
		int err = ep_xdp_write_auth_mode(auth_fd, c->mode);

		if (!err)
			err = key_put(KEY, &c->key);
		if (err) {
			tap_begin();
			tap_fail(__FILE__, __LINE__, "cannot write the mode or the key");
			tap_end("%s%s", variant, c->name);
			continue;
		}
		check(c->name, &sp, c->act, c->stat);
	}
	ep_xdp_delete_key(keys_fd, kstate_fd, KEY);
}

/* The key's GCRA state, to move its time. */
static int kstate_rw(uint32_t id, struct ep_key_state *st, bool write)
{
	if (write)
		return bpf_map_update_elem(kstate_fd, &id, st, BPF_ANY) ? -errno : 0;
	return bpf_map_lookup_elem(kstate_fd, &id, st) ? -errno : 0;
}

/* Case "@what": key KEY written as @k says. */
static void key_case(const struct key_spec *k, const char *what)
{
	tap_begin();
	EXPECT_EQ(key_put(KEY, k), 0);
	tap_end("%s%s", variant, what);
}

/* Case "@what": key KEY's task bucket (or, with @bytes, its byte bucket), emptied by a
 * burst worth @full_ns, set back @back_ns, as if that much time had passed. */
static void bucket_set_back(bool bytes, uint64_t full_ns, uint64_t back_ns, const char *what)
{
	struct ep_key_state st;

	tap_begin();
	EXPECT_EQ(kstate_rw(KEY, &st, false), 0);
	*(bytes ? &st.tat_bytes : &st.tat_tasks) = mono_ns() + full_ns - back_ns;
	EXPECT_EQ(kstate_rw(KEY, &st, true), 0);
	tap_end("%s%s", variant, what);
}

static void test_auth_rates(void)
{
	uint8_t d[2048], mid[2048];
	size_t n = auth_dgram(d, sizeof(d), true, &(struct mut){}, &(struct mut){});
	size_t nm =
		auth_dgram(mid, sizeof(mid), true, &(struct mut)FN(m_frag_mid), &(struct mut){});
	struct pkt_spec s = { .dport = PORT, .payload = d, .payload_len = n, .src = "198.19.9.1" };
	struct pkt_spec sm = {
		.dport = PORT, .payload = mid, .payload_len = nm, .src = "198.19.9.1"
	};
	struct ep_key_state st;
	uint8_t f[2048];
	size_t flen;
	uint32_t fit;

	/* Tasks: 1/s, burst 3; exact, a token takes a second. */
	tap_begin();
	EXPECT_EQ(ep_xdp_write_auth_mode(auth_fd, R), 0);
	EXPECT_EQ(key_put(KEY, &(struct key_spec){ .tps = 1, .tburst = 3 }), 0);
	tap_end("%skey with 1 task/s, burst 3", variant);
	check_burst("key tasks/s: 5 requests at once, 3 pass, 2 drop_auth_rate_tasks", &s, 5, 3,
		    EP_STAT_DROP_AUTH_RATE_TASKS);
	check_burst("key tasks/s: 10 middle fragments start no task: all pass", &sm, 10, 10,
		    EP_STAT_DROP_AUTH_RATE_TASKS);
	bucket_set_back(false, 3000000000ull, 2500000000ull,
			"the key's task bucket set back 2.5 s");
	check_burst("key tasks/s: 2.5 s later, 2 of 4 pass", &s, 4, 2,
		    EP_STAT_DROP_AUTH_RATE_TASKS);

	/* Rewriting the same key (a sync) keeps its buckets; another key under the id, or the
	 * key deleted, does not. */
	key_case(&(struct key_spec){ .tps = 1, .tburst = 3 },
		 "the same key written again (a sync)");
	check_burst("key tasks/s: its bucket is still empty", &s, 1, 0,
		    EP_STAT_DROP_AUTH_RATE_TASKS);
	key_case(&(struct key_spec){ .tps = 1, .tburst = 3, .issued = 1796000000001ull },
		 "another key under the same id");
	check_burst("key tasks/s: the new key's bucket is full", &s, 4, 3,
		    EP_STAT_DROP_AUTH_RATE_TASKS);
	tap_begin();
	EXPECT_EQ(ep_xdp_delete_key(keys_fd, kstate_fd, KEY), 0);
	EXPECT_EQ(ep_xdp_delete_key(keys_fd, kstate_fd, KEY), -ENOENT);
	EXPECT_EQ(kstate_rw(KEY, &st, false), 0);
	EXPECT(!st.tat_tasks && !st.tat_bytes);
	tap_end("%sthe key deleted, its buckets cleared", variant);
	check_burst("a deleted key is unknown", &s, 1, 0, EP_STAT_DROP_AUTH_UNKNOWN_KEY);

	/* Bytes: 1 KiB/s, burst 64 KiB; frames of flen bytes. */
	flen = pkt_build(&s, f, sizeof(f));
	fit = (uint32_t)(65536 / flen);
	key_case(&(struct key_spec){ .kib = 1, .kburst = 64 }, "key with 1 KiB/s, burst 64 KiB");
	check_burst("key bytes/s: a burst passes 64 KiB's worth of frames", &s, fit + 10, fit,
		    EP_STAT_DROP_AUTH_RATE_BYTES);
	bucket_set_back(true, 64000000000ull, 1000000000ull, "the key's byte bucket set back 1 s");
	check_burst("key bytes/s: 1 s later, 1 KiB's worth passes", &s, 6, (uint32_t)(1024 / flen),
		    EP_STAT_DROP_AUTH_RATE_BYTES);

	/* A key's datagrams are charged to the key, not to their source prefix; datagrams
	 * without AUTH keep the prefix's limit, and so does AUTH with auth off. A key with no
	 * rate of its own (review of issue 12: anyone who saw its id could send without
	 * limit) pays its prefix's. */
	tap_begin();
	EXPECT_EQ(key_put(KEY, &(struct key_spec){ 0 }), 0);
	EXPECT_EQ(
		rl_put(&(struct ep_rl_cfg){
			.packets_per_s = 1, .packets_burst = 2, .prefix_v4 = 24, .prefix_v6 = 64 }),
		0);
	tap_end("%sprefix limit 1 datagram/s, burst 2; a key without limits", variant);
	s.src = "198.19.11.1";
	check_burst("required: 5 AUTH requests under a key without a rate: its prefix's 2 pass", &s,
		    5, 2, EP_STAT_DROP_RATE_PACKETS);
	s.src = "198.19.9.1";
	key_case(&(struct key_spec){ .tps = 1000, .tburst = 100 }, "the key with 1000 tasks/s");
	check_burst("required: 5 AUTH requests from one prefix all pass", &s, 5, 5,
		    EP_STAT_DROP_RATE_PACKETS);
	tap_begin();
	EXPECT_EQ(ep_xdp_write_auth_mode(auth_fd, O), 0);
	tap_end("%smode optional", variant);
	n = task_dgram(mid, sizeof(mid), EP_KIND_REQUEST, 3, 100);
	sm = (struct pkt_spec){
		.dport = PORT, .payload = mid, .payload_len = n, .src = "198.19.9.1"
	};
	check_burst("optional: then 5 without AUTH from that prefix: its bucket is whole, 2 pass",
		    &sm, 5, 2, EP_STAT_DROP_RATE_PACKETS);
	tap_begin();
	EXPECT_EQ(ep_xdp_write_auth_mode(auth_fd, OFF), 0);
	tap_end("%smode off", variant);
	s.src = "198.19.10.1";
	check_burst("off: 5 AUTH requests from another prefix take its limit: 2 pass", &s, 5, 2,
		    EP_STAT_DROP_RATE_PACKETS);

	rl_reset();
	ep_xdp_delete_key(keys_fd, kstate_fd, KEY);
}

/* What the writers refuse. */
static void test_auth_writes(void)
{
	struct ep_key_entry e;
	uint64_t types[4] = { ~0ull, ~0ull, ~0ull, ~0ull };

	ep_key_entry_fill(&e, real_ms(), mono_ns(), 1, 0, 42, 0, types, 0, 3, 0, 0, 0, 0, 0);
	tap_begin();
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, 0, &e), -EINVAL);
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, 65536, &e), -EINVAL);
	e.max_priority = 6;
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, KEY, &e), -EINVAL);
	e.max_priority = 0; /* a node's own key: no task, but a key */
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, KEY, &e), 0);
	e.max_priority = 3;
	e.flags = 0x80;
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, KEY, &e), -EINVAL);
	e.flags = 0;
	e.kib_per_s = 10;
	e.burst_kib = 1;
	EXPECT_EQ(ep_xdp_write_key(keys_fd, kstate_fd, KEY, &e), -EINVAL);
	EXPECT_EQ(ep_xdp_write_auth_mode(auth_fd, EP_AUTH_MODE__COUNT), -EINVAL);
	tap_end("%skey ids 0 and 65536, priority cap 6, unknown flags, a byte burst below a "
		"datagram and an unknown mode are refused; priority cap 0 (no task) is taken",
		variant);

	tap_begin();
	ep_key_entry_fill(&e, 1000, 5000000000ull, 1, 61000, 42, 0, NULL, 1, 0, 0, 100, 0, 10, 2);
	EXPECT_EQ(e.expires_ns, 5000000000ull + 60000000000ull);
	EXPECT_EQ(e.max_priority, 0);
	EXPECT_EQ(e.tasks_burst, 1);
	EXPECT_EQ(e.burst_kib, EP_KEY_MIN_BURST_KIB);
	EXPECT_EQ(e.task_cost_ns, 10000000);
	EXPECT_EQ(e.byte_cost, 100000000);
	EXPECT_EQ(e.byte_tau_ns, 6400000000ull);
	EXPECT_EQ(e.flags, EP_KEY_F_ALL_TYPES);
	ep_key_entry_fill(&e, 70000, 5000000000ull, 1, 61000, 42, 1, NULL, 0, 9, 0, 0, 0, 0, 0);
	EXPECT_EQ(e.expires_ns, 1);
	EXPECT_EQ(e.max_priority, EP_PRIO_MAX);
	EXPECT_EQ(e.flags, EP_KEY_F_REVOKED);
	tap_end("%sep_key_entry_fill: unix ms expiry to monotonic ns (past: 1), priority 0 kept "
		"(no task), above 5 as 5, minimum bursts, GCRA costs",
		variant);
}

static void test_auth(void)
{
	test_auth_cases();
	test_auth_rates();
	test_auth_writes();
	ep_xdp_write_auth_mode(auth_fd, OFF); /* what the cases after these expect */
}

/* --- AF_XDP socket cases ------------------------------------------------------------- */

struct xsk {
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	void *area;
};

static int xsk_open(struct xsk *x, const char *ifname)
{
	const size_t size = 64 * 4096;
	struct xsk_socket_config cfg = {
		.rx_size = 64,
		.tx_size = 64,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	};
	int err;

	/* cppcheck-suppress invalidFunctionArg ; MAP_ANONYMOUS takes fd -1 */
	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED)
		return -errno;
	err = xsk_umem__create(&x->umem, x->area, size, &x->fq, &x->cq, NULL);
	if (err)
		return err;
	return xsk_socket__create(&x->sock, ifname, 0, x->umem, &x->rx, &x->tx, &cfg);
}

static void xsk_close(struct xsk *x)
{
	if (x->sock)
		xsk_socket__delete(x->sock);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area && x->area != MAP_FAILED)
		munmap(x->area, 64 * 4096);
}

static int setup_veth(void)
{
	if (unshare(CLONE_NEWNET))
		return -errno;
	if (system("ip link add ep0 type veth peer name ep1 && ip link set ep0 up && "
		   "ip link set ep1 up"))
		return -ENODEV;
	return (int)if_nametoindex("ep0");
}

static void check_xsk(const char *name, uint8_t prio, int want_act, int want_stat)
{
	uint8_t d[256], f[512];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, prio, 100);
	struct pkt_spec s = { .dport = PORT, .payload = d, .payload_len = n };
	size_t len = pkt_build(&s, f, sizeof(f));

	check_frame(name, f, len, want_act, want_stat, true);
}

/* The same as an AUTH datagram under KEY. */
static void check_xsk_auth(const char *name, uint8_t prio, int want_act, int want_stat)
{
	uint8_t d[256], f[512];
	size_t n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, prio, 100), len;
	struct pkt_spec s = { .dport = PORT, .payload = d, .payload_len = n };

	m_auth(d, &n);
	s.payload_len = n;
	len = pkt_build(&s, f, sizeof(f));
	check_frame(name, f, len, want_act, want_stat, true);
}

/* Skip the cases @names[@from..@n - 1], saying @why. */
static void skip_names(const char *const *names, size_t from, size_t n, const char *why)
{
	for (size_t i = from; i < n; i++)
		tap_skip(names[i], why);
}

/* An AF_XDP socket on ep0 into @x: 0; else -errno, with the cases @names[1..@n - 1] (which
 * need it) skipped. */
static int xsk_open_or_skip(struct xsk *x, const char *const *names, size_t n)
{
	char why[128];
	int ret = xsk_open(x, "ep0");

	if (ret) {
		snprintf(why, sizeof(why), "AF_XDP socket on veth: %s", strerror(-ret));
		skip_names(names, 1, n, why);
		xsk_close(x);
	}
	return ret;
}

#define NO_VETH "cannot create a veth in a private network namespace"

static void test_xsk(void)
{
	const char *names[] = { "XSKMAP: no socket on queue 0", "XSKMAP: socket bound on queue 0",
				"XSKMAP: priority slot falls back to slot 0",
				"XSKMAP: priority with a socket of its own",
				"XSKMAP: other priority, slot 0 empty" };
	const size_t nnames = sizeof(names) / sizeof(names[0]);
	int xsks_fd = bpf_map__fd(skel->maps.ep_xsks), fd, ret;
	struct xsk x = { 0 };
	__u32 key;

	ret = setup_veth();
	if (ret <= 0) {
		skip_names(names, 0, nnames, NO_VETH);
		return;
	}
	ifindex = ret;
	check_xsk(names[0], 3, PASS(PASS_NO_SOCKET));

	if (xsk_open_or_skip(&x, names, nnames))
		return;
	fd = xsk_socket__fd(x.sock);
	key = EP_XSK_KEY(0, 0);
	bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY);
	check_xsk(names[1], 3, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);

	/* Priority 5 gets slot 1, which holds no socket yet: slot 0 takes it. */
	write_cfg(&(struct ep_config){ .prio_slot = { [5] = 1 }, .max_priority = 5 });
	check_xsk(names[2], 5, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);

	/* Move the socket to slot 1: priority 5 reaches it, priority 3 finds slot 0 empty. */
	bpf_map_delete_elem(xsks_fd, &key);
	key = EP_XSK_KEY(0, 1);
	bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY);
	check_xsk(names[3], 5, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);
	check_xsk(names[4], 3, PASS(PASS_NO_SOCKET));

	/* 2. The priority ceiling: with the default (3), a priority-5 task is steered as a
	 * priority-3 one, to slot 0, which has no socket; with 4, as priority 4. */
	write_cfg(&(struct ep_config){ .prio_slot = { [5] = 1 } });
	check_xsk("XSKMAP: priority 5 above the default ceiling goes to priority 3's slot", 5,
		  PASS(PASS_NO_SOCKET));
	write_cfg(&(struct ep_config){ .prio_slot = { [4] = 1 }, .max_priority = 4 });
	check_xsk("XSKMAP: max_priority 4: priority 5 goes to priority 4's slot", 5, XDP_REDIRECT,
		  EP_STAT_REDIRECT_XSK);
	write_cfg(&(struct ep_config){ .prio_slot = { [5] = 1 }, .max_priority = 4 });
	check_xsk("XSKMAP: max_priority 4: priority 5 does not reach priority 5's slot", 5,
		  PASS(PASS_NO_SOCKET));

	/* Keys: a valid AUTH task still reaches its socket in mode required, one without AUTH
	 * does not; the ceiling is the role's (checked above), not the node's for unknown
	 * sources. */
	write_cfg(&(struct ep_config){ .prio_slot = { [5] = 1 } });
	ep_xdp_write_auth_mode(auth_fd, EP_AUTH_MODE_REQUIRED);
	key_put(KEY, &(struct key_spec){ .prio = 5 });
	check_xsk_auth("XSKMAP: required: an AUTH task at priority 5 (the role's cap) reaches "
		       "priority 5's slot",
		       5, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);
	check_xsk("XSKMAP: required: a task without AUTH is dropped", 5, DROP(DROP_AUTH_MISSING));
	bpf_map_delete_elem(xsks_fd, &key);
	key = EP_XSK_KEY(0, 0);
	bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY);
	check_xsk_auth("XSKMAP: required: an AUTH task at priority 3 reaches slot 0", 3,
		       XDP_REDIRECT, EP_STAT_REDIRECT_XSK);
	ep_xdp_write_auth_mode(auth_fd, EP_AUTH_MODE_OFF);
	ep_xdp_delete_key(keys_fd, kstate_fd, KEY);

	bpf_map_delete_elem(xsks_fd, &key);
	write_cfg(&(struct ep_config){ 0 });
	xsk_close(&x);
}

/* The DPDK build: the PMD registers queue q's socket at key q of xsks_map, so every
 * priority reaches the queue's one socket, and an empty key passes to the stack. */
static void test_xsk_dpdk(int xsks_fd)
{
	const char *names[] = {
		"xsks_map: no socket on queue 0", "xsks_map: socket on queue 0, at key 0",
		"xsks_map: a priority with a slot of its own reaches the queue's socket",
		"xsks_map: a socket at key 1 is queue 1's, not queue 0's slot 1"
	};
	const size_t nnames = sizeof(names) / sizeof(names[0]);
	struct xsk x = { 0 };
	__u32 key = 0;
	int fd;

	if (!ifindex) {
		skip_names(names, 0, nnames, NO_VETH);
		return;
	}
	check_xsk(names[0], 3, PASS(PASS_NO_SOCKET));
	if (xsk_open_or_skip(&x, names, nnames))
		return;
	fd = xsk_socket__fd(x.sock);
	bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY);
	check_xsk(names[1], 3, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);
	write_cfg(&(struct ep_config){ .prio_slot = { [5] = 1 }, .max_priority = 5 });
	check_xsk(names[2], 5, XDP_REDIRECT, EP_STAT_REDIRECT_XSK);
	/* A build keyed by slot would look up key 1 for priority 5 here and redirect. */
	bpf_map_delete_elem(xsks_fd, &key);
	key = 1;
	if (bpf_map_update_elem(xsks_fd, &key, &fd, BPF_ANY)) {
		tap_begin();
		tap_fail(__FILE__, __LINE__, "cannot put the socket at key 1 of xsks_map");
		tap_end("%s", names[3]);
	} else {
		check_xsk(names[3], 5, PASS(PASS_NO_SOCKET));
	}
	bpf_map_delete_elem(xsks_fd, &key);
	write_cfg(&(struct ep_config){ 0 });
	xsk_close(&x);
}

/* Every case that needs no socket, against the build whose fds are set. */
static void test_table(void)
{
	uint8_t d[1600];
	size_t n;

	addrs_default();
	test_pass_cases();
	test_variants(0, false);
	test_variants(1, false);
	test_variants(2, true);
	test_malformed_l3_l4();
	test_config_map();
	test_size_limit();
	test_destination();
	test_encap();
	test_encap6();
	test_rate_limit();
	test_auth();

	n = task_dgram(d, sizeof(d), EP_KIND_REQUEST, 3, 200);
	test_truncation("IPv4+options task in QinQ", &(struct pkt_spec){ .vlan_tags = 2,
									 .ip_opt_len = 8,
									 .dport = PORT,
									 .payload = d,
									 .payload_len = n });
	test_truncation("IPv6+ext task in 802.1Q", &(struct pkt_spec){ .ipv6 = true,
								       .vlan_tags = 1,
								       .ipv6_ext = 2,
								       .dport = PORT,
								       .payload = d,
								       .payload_len = n });
}

/*
 * The maps the skeleton pins by name (bpf/lib/pin.h), which the loader reuses and
 * edgeplane-xdp, bpftool and the runtime open under the pin directory: the settings,
 * counters, sockets, tenants, addresses and keys; not the rate limit's buckets, which
 * a new load starts afresh. The DPDK build, and the object for loading by hand, pin none.
 */
static void test_pins(struct bpf_object *obj)
{
	static const char *const want[] = { EP_PIN_STATS,    EP_PIN_CFG,   EP_PIN_XSKS,
					    EP_PIN_TENANTS,  EP_PIN_ADDRS, EP_PIN_RL_CFG,
					    EP_PIN_AUTH_CFG, EP_PIN_KEYS,  EP_PIN_KEY_STATE };

	tap_begin();
	expect_pins(obj, want, sizeof(want) / sizeof(want[0]));
	tap_end("pins: the classifier's skeleton pins exactly its settings, counters, sockets "
		"and keys, by name");
}

static void test_dpdk_pins(struct bpf_object *obj)
{
	tap_begin();
	expect_pins(obj, NULL, 0);
	tap_end("pins: the DPDK build pins nothing (its PMD loads it without a pin root)");
}

int main(void)
{
	struct ep_classifier_dpdk *dskel;
	int err;

	ep_log_set_ident("test_classifier");
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();

	skel = ep_classifier__open();
	if (skel)
		test_pins(skel->obj);
	if (skel && load_unpinned(skel->skeleton)) {
		ep_classifier__destroy(skel);
		skel = NULL;
	}
	if (!skel) {
		printf("Bail out! cannot load the classifier: %s\n", strerror(errno));
		return 1;
	}
	USE_SKEL(skel);
	test_table();
	test_xsk();

	dskel = ep_classifier_dpdk__open();
	if (dskel) {
		test_dpdk_pins(dskel->obj);
		if (ep_classifier_dpdk__load(dskel)) {
			ep_classifier_dpdk__destroy(dskel);
			dskel = NULL;
		}
	}
	if (!dskel) {
		printf("Bail out! cannot load the classifier's DPDK build: %s\n", strerror(errno));
		ep_classifier__destroy(skel);
		return 1;
	}
	USE_SKEL(dskel);
	variant = "dpdk build: ";
	test_table();
	test_xsk_dpdk(bpf_map__fd(dskel->maps.xsks_map));

	err = tap_finish();
	ep_classifier_dpdk__destroy(dskel);
	ep_classifier__destroy(skel);
	return err;
}
