// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN tests of the gateway's XDP load balancer (bpf/ep_gateway.bpf.c).
 *
 * Each case sets up a "world" (ep_gw_cfg[0], both halves of ep_gw_nodes and ep_gw_table,
 * ep_gw_sent, an empty ep_gw_affinity), runs one frame and checks the verdict, the output
 * bytes (DSR, UDP encapsulation, or the OVERLOADED reply decoded with the codec), exactly
 * which ep_gw_stats counters moved (summed over CPUs), and the per-node counters and
 * ep_gw_sent of the node that got the task.
 *
 * The program picks its two P2C choices at table slots derived from a hash of the flow
 * (client address, port, task id). flow_hash() below is a model of that hash: the cases
 * write node ids exactly at the flow's two slots, so both choices are known. The first
 * cases check the model against the program, so a changed hash fails there first.
 *
 * Encapsulated output is then run through the classifier (ep_classifier.bpf.c), which must
 * take the encapsulation off. Redirects to other interfaces use a veth pair in a private
 * network namespace created by this process (unshare), which vanishes with it.
 */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ep_classifier.skel.h"
#include "ep_gateway.skel.h"
#include "edgeplane/addrset.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "xdp/ep_xdp.h"
#include "../../control/gw.h"	 /* EP_GW_PIN_* */
#include "../../control/table.h" /* the controller's Maglev table, for the 4096-node cases */
#include "../lib/pkt.h"
#include "lib/hash.h"
#include "../lib/pins.h"
#include "../lib/tap.h"
#include "xdp_test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PORT	      EP_DEFAULT_PORT
#define NNODES	      10 /* cfg.nnodes: ids 1..9 are scanned */
#define CLOUD	      12 /* the overflow node, outside the scan */
#define SNAP_IDS      64 /* the table cases' node ids are below this: their counters are read */
#define TEST_BITS     EP_GW_TABLE_MIN_BITS /* the table cases' size (cfg.table_bits 0) */
#define STALE_NS      (5ull * 1000000000)
#define GW_IP4	      0xc6120101u		/* 198.18.1.1 */
#define NODE_IP4(id)  (0xc6120200u | (id))	/* 198.18.2.<id> */
#define GW_IP6	      "2001:db8:1::1"		/* the IPv6 underlay's outer source */
#define NODE_IP6      "2001:db8:2::"		/* + <id>: a node's IPv6 address */
#define S(name)	      (1u << EP_GW_STAT_##name) /* a set of gateway counters */

static const uint8_t gw_mac[6] = { 0x02, 0x67, 0x77, 0x00, 0x00, 0x01 };

static const char *const gw_stat_names[] = {
#define X(name, str) str,
	EP_GW_STAT_LIST(X)
#undef X
};

static struct ep_gateway *gw;
static struct ep_classifier *cls;
static int gw_prog, cfg_fd, nodes_fd, table_fd, sent_fd, aff_fd, gstats_fd, nstats_fd, drops_fd,
	devs_fd, rlcfg_fd, rlstate_fd, relay_fd, auth_fd, keys_fd, kstate_fd;
/* Whether AUTH frames are checked (mode required or optional): the program then knows
 * them by key, not by source, and flow_hash() below models that. */
static bool auth_on;
static int cls_prog, cls_stats_fd;
static int ncpu;

/* --- the world the program sees ------------------------------------------------------- */

/* Test-only node flags, beside EP_NODE_F_*: PRESENT is implied unless ABSENT. */
#define N_ABSENT 0x100 /* the entry holds data but not EP_NODE_F_PRESENT */
#define N_NOCAP	 0x200 /* capacity 0 */

enum age { FRESH, STALE, NEVER };

struct node {
	uint32_t id, flags;
	uint32_t cpu, queue, inflight; /* the node reports queue + inflight as in flight */
	uint32_t rate;		       /* tasks answered per second */
	uint32_t age_ms;	       /* FRESH: the report's age (0: now) */
	uint32_t cap;		       /* 0: 100 */
	uint64_t mem;		       /* KiB; 0: 1 GiB */
	enum age age;
	uint32_t ifindex, ip4;
	bool ip6; /* the node has NODE_IP6 <id> */
};

struct world {
	uint8_t policy, active;
	uint8_t flags;	      /* EP_GW_F_* */
	uint8_t max_priority; /* 0: the program's default ceiling (3) */
	bool no_gw6;	      /* no IPv6 outer source (else GW_IP6) */
	bool rl_set;	      /* write rl into ep_rl_cfg (else: nothing, the defaults) */
	struct ep_rl_cfg rl;
	uint16_t port;	      /* 0: the program's default */
	uint16_t cpu_max[8];  /* all zero: 8000 for every priority */
	uint16_t wait_max[8]; /* ms; all zero: no limit */
	uint8_t overflow[8];
	uint32_t overflow_node;
	uint32_t fill[2];	 /* table contents of each half */
	struct node nodes[2][8]; /* each half; an id of 0 ends the list */
};

static void node_mac(uint32_t half, uint32_t id, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x02, 0x4e, 0x00, 0x00, (uint8_t)half, (uint8_t)id };

	memcpy(mac, m, 6);
}

static int node_put(uint32_t half, const struct node *n)
{
	uint64_t now = mono_ns();
	struct ep_gw_node v = {
		.flags = (n->flags & 0xff) | (n->flags & N_ABSENT ? 0 : EP_NODE_F_PRESENT),
		.capacity = n->flags & N_NOCAP ? 0 : n->cap ?: 100,
		.ifindex = n->ifindex,
		.ip4 = htonl(n->ip4),
		.cpu_pct_x100 = n->cpu,
		.queue_depth = n->queue,
		.inflight = n->queue + n->inflight,	/* in flight includes the queued */
		.rate = n->rate,
		/* As the controller writes it (control/registry.c). */
		.wait_ms = ep_queue_wait_ms(n->queue, n->rate),
		.mem_free_kib = n->mem ?: 1u << 20,
		.updated_ns = n->age == FRESH ? now - n->age_ms * 1000000ull :
			      n->age == STALE ? now - 60 * 1000000000ull : 0,
	};
	__u32 key = half * EP_GW_MAX_NODES + n->id;

	node_mac(half, n->id, v.mac);
	if (n->ip6) {
		inet_pton(AF_INET6, NODE_IP6, v.ip6);
		v.ip6[15] = (uint8_t)n->id;
	}
	return bpf_map_update_elem(nodes_fd, &key, &v, BPF_ANY) ? -errno : 0;
}

/* Write @n entries of array map @fd from key @first: @vals, @vsize bytes each. */
static int array_put(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	static __u32 keys[EP_GW_TABLE_SIZE];
	__u32 count = n;

	assert(n <= EP_GW_TABLE_SIZE);
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	if (!bpf_map_update_batch(fd, keys, vals, &count, NULL))
		return 0;
	for (__u32 i = 0; i < n; i++) /* no batch ops on this kernel */
		if (bpf_map_update_elem(fd, &keys[i], (const char *)vals + i * vsize, BPF_ANY))
			return -errno;
	return 0;
}

/* Every slot of half @half's table (as the cases size it: 2^TEST_BITS) names @id. */
static int table_fill(uint32_t half, uint32_t id)
{
	static __u32 vals[1u << TEST_BITS];

	for (__u32 i = 0; i < 1u << TEST_BITS; i++)
		vals[i] = id;
	return array_put(table_fd, half * EP_GW_TABLE_SIZE, vals, 1u << TEST_BITS, sizeof(*vals));
}

static int table_put(uint32_t half, uint32_t slot, uint32_t id)
{
	__u32 key = half * EP_GW_TABLE_SIZE + slot;

	return bpf_map_update_elem(table_fd, &key, &id, BPF_ANY) ? -errno : 0;
}

static int sent_put(uint32_t id, uint64_t n)
{
	return bpf_map_update_elem(sent_fd, &id, &n, BPF_ANY) ? -errno : 0;
}

static void affinity_clear(void)
{
	struct ep_gw_flow_key k;

	map_clear(aff_fd, &k);
}

/* Rate limits: @w's settings (or none written: the defaults) and every bucket full. */
static int rl_apply(const struct world *w)
{
	struct ep_rl_cfg none = { 0 };
	struct ep_rl_key k;
	__u32 zero = 0;

	map_clear(rlstate_fd, &k);
	if (w->rl_set)
		return ep_xdp_write_rl(rlcfg_fd, &w->rl);
	return bpf_map_update_elem(rlcfg_fd, &zero, &none, BPF_ANY) ? -errno : 0;
}

static void relay_clear(void)
{
	struct ep_gw_relay_key k;

	map_clear(relay_fd, &k);
}

/* An ep_gw_relay entry of half @half: @kind with the address @a (NODE, VIP) or the MAC
 * @mac (MAC); a NODE entry of an L2 node carries @mac, which replies must come from. */
static int relay_put(uint32_t half, uint8_t kind, const char *a, const uint8_t *mac, bool check_mac,
		     uint32_t node)
{
	struct ep_gw_relay_key k = { .kind = kind, .half = (uint8_t)half };
	struct ep_gw_relay v = { .check_mac = check_mac, .node = node };

	if (kind == EP_GW_RELAY_MAC)
		memcpy(k.addr, mac, 6);
	else if (ep_addr_parse(a, k.addr))
		return -EINVAL;
	if (mac)
		memcpy(v.mac, mac, 6);
	return bpf_map_update_elem(relay_fd, &k, &v, BPF_ANY) ? -errno : 0;
}

static int cfg_put(const struct world *w)
{
	struct ep_gw_cfg c = {
		.port = w->port,
		.encap_port = EP_ENCAP_PORT,
		.policy = w->policy,
		.active = w->active,
		.nnodes = NNODES,
		.overflow_node = w->overflow_node,
		.stale_ns = STALE_NS,
		.mem_factor = 2,
		.gw_ip4 = htonl(GW_IP4),
		.flags = w->flags,
		.max_priority = w->max_priority,
	};
	__u32 zero = 0;

	for (int p = 0; p < 8; p++)
		c.cpu_max_x100[p] = w->cpu_max[p] ?: 8000;
	memcpy(c.wait_max_ms, w->wait_max, sizeof(c.wait_max_ms));
	memcpy(c.overflow, w->overflow, sizeof(c.overflow));
	memcpy(c.gw_mac, gw_mac, 6);
	if (!w->no_gw6)
		inet_pton(AF_INET6, GW_IP6, c.gw_ip6);
	return bpf_map_update_elem(cfg_fd, &zero, &c, BPF_ANY) ? -errno : 0;
}

/* Replace everything: config, both halves of nodes and table, sent, affinity. */
static int world_apply(const struct world *w)
{
	static const struct ep_gw_node zero_nodes[2 * EP_GW_MAX_NODES];
	static const uint64_t zero_sent[EP_GW_MAX_NODES];
	int err = cfg_put(w);

	if (!err)
		err = array_put(nodes_fd, 0, zero_nodes, 2 * EP_GW_MAX_NODES, sizeof(*zero_nodes));
	if (!err)
		err = array_put(sent_fd, 0, zero_sent, EP_GW_MAX_NODES, sizeof(*zero_sent));
	affinity_clear();
	relay_clear();
	if (!err)
		err = rl_apply(w);
	for (uint32_t h = 0; !err && h < 2; h++)
		err = table_fill(h, w->fill[h]);
	/* Nodes last: their "fresh" timestamps are taken just before the frame runs. */
	for (uint32_t h = 0; h < 2; h++)
		for (int i = 0; !err && i < 8 && w->nodes[h][i].id; i++)
			err = node_put(h, &w->nodes[h][i]);
	return err;
}

/* --- frames ------------------------------------------------------------------------- */

struct task {
	bool ipv6;
	int vlan;	       /* 0, 1 or 2 tags */
	int opts;	       /* IPv4 option bytes, or the number of IPv6 extension headers */
	uint8_t kind;	       /* 0: REQUEST */
	uint8_t prio;	       /* 0: 3 */
	uint32_t hint;	       /* size_hint_kib */
	uint64_t id;	       /* 0: a default task id */
	uint16_t sport, dport; /* 0: 40000, PORT */
	uint32_t total;	       /* 0: 100 bytes of payload */
	bool empty;	       /* no payload at all */
	uint32_t frag, index;  /* fragment size (0: one fragment) and index */
	const char *src;       /* client address; NULL: pkt.c's */
	uint16_t key;	       /* an AUTH datagram under this key id; 0: no AUTH */
	uint32_t tenant;       /* 0: 77 */
	uint16_t type;	       /* 0: 0x21 */
	uint8_t flags;	       /* more EP_F_* */
};

struct frame {
	uint8_t b[2048];
	size_t len;
	bool ipv6;
	size_t l3, udp, hdr; /* offsets of the IP, UDP and ep headers */
	struct ep_msg m;     /* the request's header, host order */
};

static void build(struct frame *f, const struct task *t)
{
	uint32_t total = t->empty ? 0 : t->total ?: 100;
	struct ep_msg m = {
		.kind = t->kind ?: EP_KIND_REQUEST,
		.priority = t->prio ?: 3,
		.task_type = t->type ?: 0x21,
		.tenant_id = t->tenant ?: 77,
		.task_id = t->id ?: 0x0123456789abcdefULL,
		.size_hint_kib = t->hint,
		.deadline_ms = 250,
	};
	uint8_t payload[1600], d[1600];
	ssize_t n;

	for (uint32_t i = 0; i < total && i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	n = ep_frag_build(&m, payload, total, t->frag ?: (total ?: 1), t->index, d, sizeof(d));
	memset(f, 0, sizeof(*f));
	f->ipv6 = t->ipv6;
	f->l3 = 14 + 4 * (size_t)t->vlan;
	f->udp = f->l3 + (t->ipv6 ? 40 + 8 * (size_t)t->opts : 20 + (size_t)t->opts);
	f->hdr = f->udp + 8;
	f->m = m;
	if (n < 0)
		return;
	if (t->key) { /* AUTH (docs/protocol.md 3.5): pn after the header, counted */
		uint16_t plen = (uint16_t)(n - EP_HDR_LEN + EP_AUTH_NONCE_LEN);

		memmove(d + EP_HDR_LEN + EP_AUTH_NONCE_LEN, d + EP_HDR_LEN, (size_t)n - EP_HDR_LEN);
		memset(d + EP_HDR_LEN, 0x3c, EP_AUTH_NONCE_LEN);
		d[5] |= EP_F_AUTH;
		d[46] = (uint8_t)(t->key >> 8), d[47] = (uint8_t)t->key;
		memset(d + 48, 0x7e, EP_AUTH_TAG_LEN);
		d[12] = (uint8_t)(plen >> 8), d[13] = (uint8_t)plen;
		n += EP_AUTH_NONCE_LEN;
	}
	d[5] |= t->flags;
	f->len = pkt_build(&(struct pkt_spec){ .ipv6 = t->ipv6,
					       .vlan_tags = t->vlan,
					       .ip_opt_len = t->ipv6 ? 0 : t->opts,
					       .ipv6_ext = t->ipv6 ? t->opts : 0,
					       .sport = t->sport,
					       .dport = t->dport ?: PORT,
					       .payload = d,
					       .payload_len = (size_t)n,
					       .src = t->src },
			   f->b, sizeof(f->b));
}

/* The program's flow hash (flow_key() in ep_gateway.bpf.c, lib/hash.h) of (addr, port,
 * id) as they lie in the frame (port and id in wire order). */
static uint64_t flow_hash_raw(const uint8_t addr[16], uint16_t port, uint64_t id)
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return ep_gw_flow_hash(a, b, id ^ port);
}

static uint64_t flow_hash(const struct frame *f)
{
	uint8_t addr[16] = { 0 };
	uint64_t id;
	uint16_t port;

	memcpy(&id, f->b + f->hdr + 24, 8);
	if (auth_on && (f->b[f->hdr + 5] & EP_F_AUTH)) { /* by key: no address, no port */
		uint64_t key = (uint64_t)(f->b[f->hdr + 46] << 8 | f->b[f->hdr + 47]);

		return ep_gw_flow_hash(0, 0, id ^ (key << 32));
	}
	if (f->ipv6) {
		memcpy(addr, f->b + f->l3 + 8, 16);
	} else {
		addr[10] = addr[11] = 0xff; /* ::ffff:a.b.c.d */
		memcpy(addr + 12, f->b + f->l3 + 12, 4);
	}
	memcpy(&port, f->b + f->udp, 2);
	return flow_hash_raw(addr, port, id);
}

/*
 * The model against values computed once and written down: the pick cases check the
 * model against the program, and this checks the model against itself across changes,
 * so that a hash changed in both (or a model that follows the program whatever it does)
 * shows. Little-endian loads, as on every machine this runs on.
 */
static void test_hash_golden(void)
{
	static const struct {
		uint8_t addr[16];
		uint16_t port;
		uint64_t id, want;
	} g[] = {
		{ { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 },
		  0x409c,
		  0x0807060504030201ull,
		  0x444a052d3c718809ull },
		{ { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		  0x3a98,
		  0x2a00000000000000ull,
		  0x933a2f8295a1d69cull },
		{ { 0 }, 0, 1, 0x5ab63ad545355d6aull },
	};

	tap_begin();
	for (size_t i = 0; i < ARRAY_SIZE(g); i++)
		EXPECT_EQ(flow_hash_raw(g[i].addr, g[i].port, g[i].id), g[i].want);
	tap_end("flow hash model: fixed inputs give the values written down");
}

/* The slot of the flow's first (0), second (1) or fallback second (2) choice in a table
 * of 2^@bits slots. */
static uint32_t slot_in(const struct frame *f, int which, uint32_t bits)
{
	return (uint32_t)(flow_hash(f) >> (EP_GW_CHOICE_SHIFT * which)) & ((1u << bits) - 1);
}

/* ... in the table cases' table (2^TEST_BITS slots). */
static uint32_t slot(const struct frame *f, int which)
{
	return slot_in(f, which, TEST_BITS);
}

/* Build @t, moving its task id on until its two choices fall on different slots. */
static void build_distinct(struct frame *f, struct task *t)
{
	if (!t->id)
		t->id = 0x0123456789abcdefULL;
	for (;; t->id++) {
		build(f, t);
		if (slot(f, 0) != slot(f, 1))
			return;
	}
}

/* Write the flow's first and second choice into the table (0: leave the slot). */
static int choices_put(const struct frame *f, uint32_t half, uint32_t a, uint32_t b)
{
	int err = 0;

	if (a)
		err = table_put(half, slot(f, 0), a);
	if (b && !err)
		err = table_put(half, slot(f, 1), b);
	return err;
}

/* --- running and reading ------------------------------------------------------------ */

struct snap {
	uint64_t gw[EP_GW_STAT__COUNT];
	struct ep_counter drops[EP_STAT__COUNT];
	struct ep_gw_node_stats node[SNAP_IDS];
	uint64_t sent[SNAP_IDS];
};

/* The result of one run: verdict, output frame, and what every counter moved by. */
struct outcome {
	int err, act;
	uint8_t out[4096];
	uint32_t out_len;
	struct snap d;
};

static int snap_read(struct snap *s)
{
	assert(ncpu > 0); /* main() set it, or bailed out: no VLA of size 0 or less */
	uint64_t v[ncpu];
	struct ep_gw_node_stats ns[ncpu];
	int err = ep_xdp_read_stats(drops_fd, s->drops);

	for (__u32 k = 0; !err && k < EP_GW_STAT__COUNT; k++) {
		if (bpf_map_lookup_elem(gstats_fd, &k, v))
			return -errno;
		s->gw[k] = 0;
		for (int c = 0; c < ncpu; c++)
			s->gw[k] += v[c];
	}
	for (__u32 id = 0; !err && id < SNAP_IDS; id++) {
		if (bpf_map_lookup_elem(nstats_fd, &id, ns) ||
		    bpf_map_lookup_elem(sent_fd, &id, &s->sent[id]))
			return -errno;
		s->node[id] = (struct ep_gw_node_stats){ 0 };
		for (int c = 0; c < ncpu; c++) {
			s->node[id].tasks += ns[c].tasks;
			s->node[id].packets += ns[c].packets;
			s->node[id].bytes += ns[c].bytes;
		}
	}
	return err;
}

static void run_gw(const uint8_t *frame, size_t len, struct outcome *o)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = o->out, .data_size_out = sizeof(o->out), .repeat = 1);
	struct snap a, b;

	memset(o, 0, sizeof(*o));
	o->act = -1;
	o->err = snap_read(&b);
	if (o->err)
		return;
	if (bpf_prog_test_run_opts(gw_prog, &opts)) {
		o->err = -errno;
		return;
	}
	o->act = (int)opts.retval;
	o->out_len = opts.data_size_out;
	o->err = snap_read(&a);
	for (int i = 0; i < EP_GW_STAT__COUNT; i++)
		o->d.gw[i] = a.gw[i] - b.gw[i];
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		o->d.drops[i].packets = a.drops[i].packets - b.drops[i].packets;
		o->d.drops[i].bytes = a.drops[i].bytes - b.drops[i].bytes;
	}
	for (int i = 0; i < SNAP_IDS; i++) {
		o->d.node[i].tasks = a.node[i].tasks - b.node[i].tasks;
		o->d.node[i].packets = a.node[i].packets - b.node[i].packets;
		o->d.node[i].bytes = a.node[i].bytes - b.node[i].bytes;
		o->d.sent[i] = a.sent[i] - b.sent[i];
	}
}

/* --- checks (each marks the current TAP case failed and says why) ---------------------- */

static void expect_act(const struct outcome *o, int want)
{
	EXPECT_EQ(o->err, 0);
	if (o->act != want)
		tap_diag("verdict %s, want %s", act_name(o->act), act_name(want));
	EXPECT_EQ(o->act, want);
}

/* Exactly the gateway counters in @want moved, each by one. */
static void expect_stats(const struct outcome *o, uint32_t want)
{
	for (int i = 0; i < EP_GW_STAT__COUNT; i++) {
		uint64_t w = (want >> i) & 1;

		if (o->d.gw[i] != w) {
			tap_diag("counter %s moved by %llu, want %llu", gw_stat_names[i],
				 (unsigned long long)o->d.gw[i], (unsigned long long)w);
			tap_case_failed = 1;
		}
	}
}

/* Exactly parse outcome @stat moved by one packet of @len bytes (-1: none moved). */
static void expect_drops(const struct outcome *o, int stat, size_t len)
{
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t w = i == stat;

		if (o->d.drops[i].packets != w || o->d.drops[i].bytes != (w ? len : 0)) {
			tap_diag("ep_stats %s moved by %llu packets, want %llu", ep_stat_name(i),
				 (unsigned long long)o->d.drops[i].packets, (unsigned long long)w);
			tap_case_failed = 1;
		}
	}
}

/* Node @id got one packet of @len bytes (a new task if @task); no other node moved. */
static void expect_node(const struct outcome *o, uint32_t id, bool task, size_t len)
{
	for (uint32_t i = 0; i < SNAP_IDS; i++) {
		const struct ep_gw_node_stats *n = &o->d.node[i];
		bool me = id && i == id;

		if (n->packets != me || n->bytes != (me ? len : 0) || n->tasks != (me && task) ||
		    o->d.sent[i] != (me && task)) {
			tap_diag("node %u: tasks %llu packets %llu bytes %llu sent %llu; "
				 "want %u %u %zu %u",
				 i, (unsigned long long)n->tasks, (unsigned long long)n->packets,
				 (unsigned long long)n->bytes, (unsigned long long)o->d.sent[i],
				 me && task, me, me ? len : 0, me && task);
			tap_case_failed = 1;
		}
	}
}

static void expect_untouched(const struct outcome *o, const uint8_t *frame, size_t len)
{
	EXPECT_EQ(o->out_len, len);
	EXPECT(o->out_len == len && !memcmp(o->out, frame, len));
}

/* L2 direct server return: the node's MAC, ours as the source, nothing else changed. */
static void expect_dsr(const struct outcome *o, const struct frame *f, uint32_t half, uint32_t id)
{
	uint8_t mac[6];

	node_mac(half, id, mac);
	EXPECT_EQ(o->out_len, f->len);
	if (o->out_len != f->len)
		return;
	if (memcmp(o->out, mac, 6))
		tap_diag("destination %02x:..:%02x:%02x, want node %u's", o->out[0], o->out[4],
			 o->out[5], id);
	EXPECT(!memcmp(o->out, mac, 6));
	EXPECT(!memcmp(o->out + 6, gw_mac, 6));
	EXPECT(!memcmp(o->out + 12, f->b + 12, f->len - 12));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Whether the UDP checksum of the segment at @udp (@ulen bytes) is right; IPv4 may omit it. */
static bool udp_csum_ok(const uint8_t *l3, bool ipv6, const uint8_t *udp, size_t ulen)
{
	uint32_t sum;

	if (!get16(udp + 6))
		return !ipv6;
	sum = ipv6 ? pkt_csum_add(0, l3 + 8, 32) : pkt_csum_add(0, l3 + 12, 8);
	sum += IPPROTO_UDP + (uint32_t)ulen;
	return pkt_csum_fold(pkt_csum_add(sum, udp, ulen)) == 0;
}

/* UDP encapsulation: Ethernet + IPv4 + UDP to the encap port, then the IP datagram. */
static void expect_encap(const struct outcome *o, const struct frame *f, uint32_t half, uint32_t id)
{
	size_t inner = f->len - f->l3;
	const uint8_t *ip = o->out + 14, *udp = ip + 20;
	uint8_t mac[6];

	node_mac(half, id, mac);
	EXPECT_EQ(o->out_len, 14 + 20 + 8 + inner);
	if (o->out_len != 14 + 20 + 8 + inner)
		return;
	EXPECT(!memcmp(o->out, mac, 6));
	EXPECT(!memcmp(o->out + 6, gw_mac, 6));
	EXPECT_EQ(get16(o->out + 12), 0x0800);
	EXPECT_EQ(ip[0], 0x45);
	EXPECT_EQ(get16(ip + 2), 28 + inner);
	EXPECT_EQ(get16(ip + 6), 0x4000); /* DF, not a fragment */
	EXPECT_EQ(ip[8], 64);
	EXPECT_EQ(ip[9], IPPROTO_UDP);
	EXPECT_EQ(pkt_csum_fold(pkt_csum_add(0, ip, 20)), 0); /* header checksum valid */
	EXPECT_EQ(get32(ip + 12), GW_IP4);
	EXPECT_EQ(get32(ip + 16), NODE_IP4(id));
	/* Source port: 0xc000 | 14 bits of the flow hash, for the worker's RSS. */
	EXPECT_EQ(get16(udp), 0xc000 | (flow_hash(f) & 0x3fff));
	EXPECT_EQ(get16(udp + 2), EP_ENCAP_PORT);
	EXPECT_EQ(get16(udp + 4), 8 + inner);
	EXPECT(udp_csum_ok(ip, false, udp, 8 + inner));
	EXPECT(!memcmp(udp + 8, f->b + f->l3, inner)); /* the datagram, byte for byte */
}

/*
 * UDP encapsulation over IPv6 (EP_NODE_F_ENCAP6): Ethernet + IPv6 (GW_IP6 -> the node's
 * NODE_IP6, hop limit 64, flow label from the flow hash) + UDP to the encap port, its
 * checksum computed here over the whole segment, then the IP datagram.
 */
static void expect_encap6(const struct outcome *o, const struct frame *f, uint32_t half,
			  uint32_t id)
{
	size_t inner = f->len - f->l3;
	const uint8_t *ip6 = o->out + 14, *udp = ip6 + 40;
	uint32_t label = (uint32_t)(flow_hash(f) >> 14) & 0xfffff;
	uint8_t mac[6], a[16];

	node_mac(half, id, mac);
	EXPECT_EQ(o->out_len, 14 + 40 + 8 + inner);
	if (o->out_len != 14 + 40 + 8 + inner)
		return;
	EXPECT(!memcmp(o->out, mac, 6));
	EXPECT(!memcmp(o->out + 6, gw_mac, 6));
	EXPECT_EQ(get16(o->out + 12), 0x86dd);
	EXPECT_EQ(get32(ip6) >> 20, 0x600);	     /* version 6, traffic class 0 */
	EXPECT_EQ(get32(ip6) & 0xfffff, label ?: 1); /* the flow label: the task's hash */
	EXPECT_EQ(get16(ip6 + 4), 8 + inner);	     /* payload length */
	EXPECT_EQ(ip6[6], IPPROTO_UDP);		     /* next header */
	EXPECT_EQ(ip6[7], 64);			     /* hop limit */
	inet_pton(AF_INET6, GW_IP6, a);
	EXPECT(!memcmp(ip6 + 8, a, 16));
	inet_pton(AF_INET6, NODE_IP6, a);
	a[15] = (uint8_t)id;
	EXPECT(!memcmp(ip6 + 24, a, 16));
	EXPECT_EQ(get16(udp), 0xc000 | (flow_hash(f) & 0x3fff));
	EXPECT_EQ(get16(udp + 2), EP_ENCAP_PORT);
	EXPECT_EQ(get16(udp + 4), 8 + inner);
	EXPECT(get16(udp + 6) != 0);			/* IPv6: a checksum, always */
	EXPECT(udp_csum_ok(ip6, true, udp, 8 + inner)); /* and the right one */
	EXPECT(!memcmp(udp + 8, f->b + f->l3, inner));	/* the datagram, byte for byte */
}

/* The ERROR OVERLOADED reply the gateway builds from the request in place. */
static void expect_reject(const struct outcome *o, const struct frame *f)
{
	size_t keep = f->hdr + EP_HDR_LEN;
	const uint8_t *q = f->b, *r = o->out, *ip = r + f->l3, *udp = r + f->udp;
	const uint8_t *payload;
	enum ep_stat why = 0;
	struct ep_msg m;

	EXPECT_EQ(o->out_len, keep); /* the payload is cut */
	if (o->out_len != keep)
		return;
	EXPECT(!memcmp(r, q + 6, 6) && !memcmp(r + 6, q, 6)); /* MACs swapped */
	EXPECT(!memcmp(r + 12, q + 12, f->l3 - 12));	      /* VLAN tags kept */
	if (!f->ipv6) {
		size_t hlen = (size_t)(ip[0] & 15) * 4;

		EXPECT_EQ(ip[0], q[f->l3]);
		EXPECT_EQ(get16(ip + 2), keep - f->l3);
		EXPECT_EQ(ip[8], 64);
		EXPECT_EQ(ip[9], IPPROTO_UDP);
		EXPECT(!memcmp(ip + 12, q + f->l3 + 16, 4) && !memcmp(ip + 16, q + f->l3 + 12, 4));
		EXPECT(!memcmp(ip + 20, q + f->l3 + 20, hlen - 20)); /* options kept */
		EXPECT_EQ(pkt_csum_fold(pkt_csum_add(0, ip, hlen)), 0);
	} else {
		EXPECT_EQ(get16(ip + 4), keep - f->l3 - 40);
		EXPECT_EQ(ip[6], q[f->l3 + 6]);
		EXPECT_EQ(ip[7], 64);
		EXPECT(!memcmp(ip + 8, q + f->l3 + 24, 16) && !memcmp(ip + 24, q + f->l3 + 8, 16));
		EXPECT(!memcmp(ip + 40, q + f->l3 + 40, f->udp - f->l3 - 40)); /* ext hdrs */
		EXPECT(get16(udp + 6) != 0); /* required over IPv6 */
	}
	EXPECT_EQ(get16(udp), get16(q + f->udp + 2)); /* ports swapped */
	EXPECT_EQ(get16(udp + 2), get16(q + f->udp));
	EXPECT_EQ(get16(udp + 4), 8 + EP_HDR_LEN);
	EXPECT(udp_csum_ok(ip, f->ipv6, udp, 8 + EP_HDR_LEN));

	/* The client's codec must accept it, and it must echo the request. */
	EXPECT_EQ(ep_decode(r + f->hdr, EP_HDR_LEN, 0, &m, &payload, &why), 0);
	if (why)
		tap_diag("the reply's header breaks %s", ep_stat_name(why));
	EXPECT_EQ(m.kind, EP_KIND_ERROR);
	EXPECT_EQ(m.status, EP_ST_OVERLOADED);
	EXPECT_EQ(m.task_id, f->m.task_id);
	EXPECT_EQ(m.task_type, f->m.task_type);
	EXPECT_EQ(m.tenant_id, f->m.tenant_id);
	EXPECT_EQ(m.priority, f->m.priority);
	EXPECT_EQ(m.flags, 0);
	EXPECT_EQ(m.payload_len, 0);
	EXPECT_EQ(m.total_len, 0);
	EXPECT_EQ(m.frag_index, 0);
	EXPECT_EQ(m.frag_count, 1);
	EXPECT_EQ(m.load_pct, 100);
}

/* World @w written to the maps, then frame @f run through the gateway into @o. */
static void apply_run(const struct world *w, const struct frame *f, struct outcome *o)
{
	EXPECT_EQ(world_apply(w), 0);
	run_gw(f->b, f->len, o);
}

/* A frame the gateway forwarded by DSR to node @id of half @half, as a new task or not. */
static void expect_forwarded(const struct outcome *o, const struct frame *f, uint32_t half,
			     uint32_t id, uint32_t stats, bool task)
{
	expect_act(o, XDP_TX);
	expect_stats(o, stats | S(FWD_DSR));
	expect_node(o, id, task, f->len);
	expect_drops(o, -1, 0);
	expect_dsr(o, f, half, id);
}

static void expect_rejected(const struct outcome *o, const struct frame *f, uint32_t stats)
{
	expect_act(o, XDP_TX);
	expect_stats(o, stats | S(OVF_REJECT));
	expect_node(o, 0, false, 0);
	expect_drops(o, -1, 0);
	expect_reject(o, f);
}

static const char *fam(const struct frame *f)
{
	return f->ipv6 ? "IPv6" : "IPv4";
}

/* --- 1-5: choosing a node, table-driven ------------------------------------------------ */

struct pick_case {
	const char *name;
	uint8_t policy, prio;
	uint32_t hint;
	uint16_t cpu_max[8];
	uint16_t wait_max[8];
	uint32_t a, b, fill; /* the flow's first and second table choice; the rest */
	struct node nodes[8];
	struct {
		uint32_t id;
		uint64_t n;
	} sent[2];
	uint32_t want;	/* the node; 0: none is eligible (rejected) */
	uint32_t stats; /* the decision counter(s) */
};

#define HINT 64 /* KiB: eligible needs more than 128 KiB free */

static const struct pick_case picks[] = {
	/* The hash model: only the flow's slot holds node 1, every other slot node 2. */
	{ "hash model: HASH takes the flow's slot", .policy = EP_GW_POLICY_HASH, .a = 1, .fill = 2,
	  .nodes = { { .id = 1 }, { .id = 2 } }, .want = 1, .stats = S(PICK_HASH) },
	{ "hash model: P2C's two slots", .a = 1, .b = 2, .fill = 3,
	  .nodes = { { .id = 1, .queue = 9 }, { .id = 2, .queue = 8 }, { .id = 3 } }, .want = 2,
	  .stats = S(PICK_P2C) },

	/* 1. P2C: load = max(0, running + sent - answered since the report) + waiting, per
	 * capacity (waiting: what the node reported queued, in its RX ring included). */
	{ "P2C: second choice less loaded", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 10 }, { .id = 2, .queue = 3 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "P2C: first choice less loaded", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 3 }, { .id = 2, .queue = 10 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "P2C: inflight counts as load", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 1, .inflight = 8 }, { .id = 2, .queue = 5 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "P2C: equal load, the first choice", .a = 2, .b = 1,
	  .nodes = { { .id = 1, .queue = 4 }, { .id = 2, .queue = 4 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "P2C: sent 0, node 1 less loaded", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 3 }, { .id = 2, .queue = 5 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "P2C: 4 tasks sent to node 1 since its report flip the choice", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 3 }, { .id = 2, .queue = 5 } }, .sent = { { 1, 4 } },
	  .want = 2, .stats = S(PICK_P2C) },
	{ "P2C: a node answering 1000/s has worked off 10 running in 200 ms", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .inflight = 10, .rate = 1000, .age_ms = 200 },
		     { .id = 2, .queue = 3 } },
	  .want = 1, .stats = S(PICK_P2C) },
	{ "P2C: a node answering 1000/s has worked off 10 sent in 200 ms", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .rate = 1000, .age_ms = 200 }, { .id = 2, .queue = 3 } },
	  .sent = { { 1, 10 } }, .want = 1, .stats = S(PICK_P2C) },
	{ "P2C: what a node reported waiting is not worked off (others may feed it)", .a = 1,
	  .b = 2,
	  .nodes = { { .id = 1, .queue = 10, .rate = 1000, .age_ms = 200 },
		     { .id = 2, .queue = 3 } },
	  .want = 2, .stats = S(PICK_P2C) },
	{ "P2C: one task waiting is noise, worked off like a running one", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 1, .rate = 1000, .age_ms = 200 },
		     { .id = 2, .inflight = 1 } },
	  .want = 1, .stats = S(PICK_P2C) },
	{ "P2C: worked off down to what it reported waiting, not below", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 4, .inflight = 20, .rate = 100, .age_ms = 800 },
		     { .id = 2, .queue = 3 } },
	  .sent = { { 1, 50 } }, .want = 2, .stats = S(PICK_P2C) },
	{ "P2C: a queue the node answers within 5 ms is noise, worked off", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 40, .rate = 10000, .age_ms = 200 },
		     { .id = 2, .inflight = 1 } },
	  .want = 1, .stats = S(PICK_P2C) },
	/* Every slot is node 1, so all three draws name it: its rival is the scan's best. */
	{ "P2C: one node drawn three times meets the best of all", .a = 1, .b = 1, .fill = 1,
	  .nodes = { { .id = 1, .queue = 4 }, { .id = 2 }, { .id = 3, .queue = 1 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "P2C: one node drawn three times keeps the task when it is the best", .a = 1, .b = 1,
	  .fill = 1, .nodes = { { .id = 1 }, { .id = 2, .queue = 1 }, { .id = 3, .queue = 2 } },
	  .want = 1, .stats = S(PICK_P2C) },
	{ "P2C: a stalled node (rate 0) keeps what it was sent", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .age_ms = 200 },
		     { .id = 2, .queue = 3, .rate = 10, .age_ms = 50 } },
	  .sent = { { 1, 5 } }, .want = 2, .stats = S(PICK_P2C) },
	{ "P2C: capacity weights (11/100 vs 16/200)", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 10 }, { .id = 2, .queue = 15, .cap = 200 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "P2C: capacity weights (11/300 vs 6/100)", .a = 2, .b = 1,
	  .nodes = { { .id = 1, .queue = 10, .cap = 300 }, { .id = 2, .queue = 5 } }, .want = 1,
	  .stats = S(PICK_P2C) },

	/* 2. Eligibility: cpu below the priority's limit, free memory above 2 x hint. */
	{ "eligible: CPU at the limit is skipped", .hint = HINT, .a = 1, .b = 2,
	  .nodes = { { .id = 1, .cpu = 8000 }, { .id = 2, .cpu = 7999, .queue = 50 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "eligible: memory at 2 x hint is skipped", .hint = 1000, .a = 1, .b = 2,
	  .nodes = { { .id = 1, .mem = 2000 }, { .id = 2, .mem = 2001, .queue = 50 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "eligible: no size hint, memory not checked", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .mem = 1 }, { .id = 2, .queue = 50 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "eligible: both choices out, the scan finds the least loaded", .hint = HINT, .a = 1,
	  .b = 2,
	  .nodes = { { .id = 1, .cpu = 9000 },
		     { .id = 2, .mem = 100 },
		     { .id = 3, .queue = 20 },
		     { .id = 4, .queue = 5 },
		     { .id = 5, .queue = 7 } },
	  .want = 4, .stats = S(PICK_SCAN) },
	{ "eligible: the scan skips drained, absent, no capacity, busy", .hint = HINT, .a = 1,
	  .b = 2,
	  .nodes = { { .id = 1, .cpu = 9900 },
		     { .id = 2, .cpu = 9900 },
		     { .id = 3, .flags = EP_NODE_F_DRAINED },
		     { .id = 4, .flags = N_ABSENT },
		     { .id = 5, .flags = N_NOCAP },
		     { .id = 6, .cpu = 9000 },
		     { .id = 7, .queue = 40 } },
	  .want = 7, .stats = S(PICK_SCAN) },
	{ "eligible: the scan stops below nnodes", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .cpu = 9900 }, { .id = 2, .cpu = 9900 }, { .id = NNODES } },
	  .want = 0, .stats = S(PICK_SCAN) },
	{ "eligible: priority 5 (limit 90 %) takes a node at 60 %", .prio = 5, .a = 1, .b = 2,
	  .cpu_max = { [1] = 5000, [5] = 9000 },
	  .nodes = { { .id = 1, .cpu = 6000 }, { .id = 2, .cpu = 9500 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "eligible: priority 3 (limit 80 %) too", .prio = 3, .a = 1, .b = 2,
	  .cpu_max = { [1] = 5000, [5] = 9000 },
	  .nodes = { { .id = 1, .cpu = 6000 }, { .id = 2, .cpu = 9500 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "eligible: priority 1 (limit 50 %) is shed first", .prio = 1, .a = 1, .b = 2,
	  .cpu_max = { [1] = 5000, [5] = 9000 },
	  .nodes = { { .id = 1, .cpu = 6000 }, { .id = 2, .cpu = 9500 } }, .want = 0,
	  .stats = S(PICK_SCAN) },
	/* The wait a node's queue means (waiting / its rate) against the priority's
	 * wait_max: 50 waiting at 100/s is 500 ms, 60 at 1000/s 60 ms. */
	{ "wait_max: 500 ms of queue is too long for priority 1 (250 ms): the other node",
	  .prio = 1, .a = 1, .b = 2, .wait_max = { [1] = 250, [2] = 500, [3] = 1000 },
	  .nodes = { { .id = 1, .queue = 50, .rate = 100 },
		     { .id = 2, .queue = 60, .rate = 1000 } },
	  .want = 2, .stats = S(PICK_P2C) },
	{ "wait_max: the less loaded node once its wait is allowed (priority 3, 1 s)", .prio = 3,
	  .a = 1, .b = 2, .wait_max = { [1] = 250, [2] = 500, [3] = 1000 },
	  .nodes = { { .id = 1, .queue = 50, .rate = 100 },
		     { .id = 2, .queue = 60, .rate = 1000 } },
	  .want = 1, .stats = S(PICK_P2C) },
	{ "wait_max: every queue too long for priority 1: rejected", .prio = 1, .a = 1, .b = 2,
	  .wait_max = { [1] = 250, [2] = 500, [3] = 1000 },
	  .nodes = { { .id = 1, .queue = 50, .rate = 100 }, { .id = 2, .queue = 60, .rate = 100 } },
	  .want = 0, .stats = S(PICK_SCAN) },
	{ "wait_max: the same queues still take priority 3 (wait_max 0: any)", .prio = 3, .a = 1,
	  .b = 2, .wait_max = { [1] = 250, [2] = 500 },
	  .nodes = { { .id = 1, .queue = 50, .rate = 100 }, { .id = 2, .queue = 60, .rate = 100 } },
	  .want = 1, .stats = S(PICK_P2C) },
	{ "wait_max: a node with no rate reported yet gives no estimate, is not shed", .prio = 1,
	  .a = 1, .b = 2, .wait_max = { [1] = 250 },
	  .nodes = { { .id = 1, .queue = 5 }, { .id = 2, .queue = 60, .rate = 1000 } }, .want = 1,
	  .stats = S(PICK_P2C) },
	{ "wait_max: a node's 1 waiting task is no queue", .prio = 1, .a = 1, .b = 2,
	  .wait_max = { [1] = 1 },
	  .nodes = { { .id = 1, .queue = 1, .rate = 1 }, { .id = 2, .queue = 60, .rate = 1000 } },
	  .want = 1, .stats = S(PICK_P2C) },

	/* 6. Drained and absent nodes get no new task. */
	{ "drained first choice passed over", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .flags = EP_NODE_F_DRAINED }, { .id = 2, .queue = 30 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "absent first choice passed over", .a = 5, .b = 2,
	  .nodes = { { .id = 5, .flags = N_ABSENT }, { .id = 2, .queue = 30 } }, .want = 2,
	  .stats = S(PICK_P2C) },
	{ "every node drained or absent: rejected", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .flags = EP_NODE_F_DRAINED },
		     { .id = 2, .flags = N_ABSENT },
		     { .id = 3, .flags = EP_NODE_F_DRAINED } },
	  .want = 0, .stats = S(PICK_SCAN) },

	/* 5. Stale loads: not trusted, the table (capacity weights) decides. */
	{ "stale: both choices, the table's first", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .queue = 100, .age = STALE }, { .id = 2, .age = STALE } },
	  .want = 1, .stats = S(PICK_STALE) },
	{ "stale: both choices, the table's first (swapped)", .a = 2, .b = 1,
	  .nodes = { { .id = 1, .age = STALE }, { .id = 2, .queue = 100, .age = STALE } },
	  .want = 2, .stats = S(PICK_STALE) },
	{ "stale: never reported counts as stale", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .age = NEVER }, { .id = 2, .age = NEVER } }, .want = 1,
	  .stats = S(PICK_STALE) },
	{ "stale: a stale load is not checked", .hint = HINT, .a = 1, .b = 2,
	  .nodes = { { .id = 1, .cpu = 9900, .mem = 1, .age = STALE }, { .id = 2, .age = STALE } },
	  .want = 1, .stats = S(PICK_STALE) },
	{ "stale: one choice stale, the fresh one", .a = 1, .b = 2,
	  .nodes = { { .id = 1, .age = STALE }, { .id = 2, .queue = 50 } }, .want = 2,
	  .stats = S(PICK_P2C) },

	/* 3. SEED: most free memory among nodes below 80 % CPU with more than 2 x hint. */
	{ "SEED: most free memory among the eligible", .policy = EP_GW_POLICY_SEED, .hint = HINT,
	  .nodes = { { .id = 1, .mem = 1000 },
		     { .id = 2, .mem = 5000, .cpu = 5000 },
		     { .id = 3, .mem = 9000, .cpu = 8000 },
		     { .id = 4, .mem = 20000, .flags = EP_NODE_F_DRAINED },
		     { .id = 5, .mem = 6000, .cpu = 7999 },
		     { .id = 6, .mem = 50000, .flags = N_ABSENT } },
	  .want = 5, .stats = S(PICK_SEED) },
	{ "SEED: 80 % is fixed, the priority's limit does not apply", .policy = EP_GW_POLICY_SEED,
	  .cpu_max = { [3] = 1000 },
	  .nodes = { { .id = 1, .mem = 1000, .cpu = 5000 }, { .id = 2, .mem = 2000, .cpu = 7000 } },
	  .want = 2, .stats = S(PICK_SEED) },
	{ "SEED: queues do not matter", .policy = EP_GW_POLICY_SEED,
	  .nodes = { { .id = 1, .mem = 9000, .queue = 1000 }, { .id = 2, .mem = 8000 } }, .want = 1,
	  .stats = S(PICK_SEED) },
	{ "SEED: a stale node comes last", .policy = EP_GW_POLICY_SEED,
	  .nodes = { { .id = 1, .mem = 90000, .age = STALE }, { .id = 2, .mem = 1000 } }, .want = 2,
	  .stats = S(PICK_SEED) },
	{ "SEED: memory must exceed 2 x hint", .policy = EP_GW_POLICY_SEED, .hint = 1000,
	  .nodes = { { .id = 1, .mem = 2000 }, { .id = 2, .mem = 1500 } }, .want = 0,
	  .stats = S(PICK_SEED) },

	/* 4. HASH: load-blind. */
	{ "HASH: the table's node, however loaded", .policy = EP_GW_POLICY_HASH, .hint = HINT,
	  .a = 1, .b = 2,
	  .nodes = { { .id = 1, .cpu = 9900, .queue = 1000, .mem = 1 }, { .id = 2 } }, .want = 1,
	  .stats = S(PICK_HASH) },
	{ "HASH: drained table node, the scan's best", .policy = EP_GW_POLICY_HASH, .a = 1, .b = 2,
	  .nodes = { { .id = 1, .flags = EP_NODE_F_DRAINED },
		     { .id = 2, .queue = 9 },
		     { .id = 3, .queue = 2 } },
	  .want = 3, .stats = S(PICK_HASH) },
	{ "HASH: absent table node, the scan's best", .policy = EP_GW_POLICY_HASH, .a = 5, .b = 2,
	  .nodes = { { .id = 5, .flags = N_ABSENT },
		     { .id = 2, .queue = 9 },
		     { .id = 3, .queue = 2 } },
	  .want = 3, .stats = S(PICK_HASH) },
};

/* No priority ceiling (tests of priorities 4 and 5 set their own limits); the rate limits'
 * defaults. */
static void base_world(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->max_priority = EP_PRIO_MAX;
}

/* base_world() with node 1 in every table slot of half 0. */
static void one_node_world(struct world *w)
{
	base_world(w);
	w->fill[0] = 1;
	w->nodes[0][0] = (struct node){ .id = 1 };
}

/* --- 4096 nodes (issue 16) ----------------------------------------------------------- */

#define BIG_NODES 4096
#define BIG_TASKS 16384

/* A node of the big worlds: capacity 100, 150, 200 or 250 by id (four classes of 1024),
 * its MAC naming its whole id. */
static uint32_t big_cap(uint32_t id)
{
	return 100 + 50 * (id % 4);
}

static void big_mac(uint32_t id, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x02, 0x42, 0x00, 0x00, (uint8_t)(id >> 8), (uint8_t)id };

	memcpy(mac, m, 6);
}

static uint32_t big_id_of(const uint8_t *mac)
{
	return mac[0] == 0x02 && mac[1] == 0x42 ? (uint32_t)mac[4] << 8 | mac[5] : 0;
}

static uint32_t big_table[EP_GW_TABLE_SIZE];

/*
 * A world of nodes 1..4096 in half 0, each fresh, idle and eligible, but those @hot says
 * are at 90 % CPU (over the 80 % every priority allows here), and the controller's table
 * for them (ep_table_build(), 2^*bits slots) in half 0. 0 or a negative errno.
 */
static int big_world(uint8_t policy, bool (*hot)(uint32_t id), uint32_t *bits)
{
	static struct ep_gw_node nodes[EP_GW_MAX_NODES];
	static struct ep_table_member m[BIG_NODES];
	uint64_t now = mono_ns();
	struct ep_gw_cfg cfg;
	struct world w;
	int err;

	base_world(&w);
	w.policy = policy;
	err = world_apply(&w);
	for (uint32_t id = 1; id <= BIG_NODES; id++) {
		nodes[id] = (struct ep_gw_node){ .flags = EP_NODE_F_PRESENT,
						 .capacity = big_cap(id),
						 .cpu_pct_x100 = hot && hot(id) ? 9000 : 1000,
						 .mem_free_kib = 1u << 20,
						 .updated_ns = now };
		big_mac(id, nodes[id].mac);
		m[id - 1] = (struct ep_table_member){ id, big_cap(id) };
	}
	if (!err)
		err = ep_table_build(m, BIG_NODES, big_table, bits);
	if (!err)
		err = array_put(nodes_fd, 0, nodes, EP_GW_MAX_NODES, sizeof(*nodes));
	if (!err)
		err = array_put(table_fd, 0, big_table, 1u << *bits, sizeof(*big_table));
	if (!err && bpf_map_lookup_elem(cfg_fd, &(__u32){ 0 }, &cfg))
		err = -errno;
	if (err)
		return err;
	cfg.nnodes = BIG_NODES + 1;
	cfg.table_bits[0] = (__u8)*bits;
	return bpf_map_update_elem(cfg_fd, &(__u32){ 0 }, &cfg, BPF_ANY) ? -errno : 0;
}

/* Run @f through the gateway; the node id its DSR output goes to, 0 if none. */
static uint32_t big_run(const struct frame *f)
{
	uint8_t out[2048] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(gw_prog, &opts) || opts.retval != XDP_TX ||
	    opts.data_size_out < 14)
		return 0;
	return big_id_of(out);
}

/* The @i-th task of the big runs: its own client port and task id. */
static void big_task(struct frame *f, uint32_t i)
{
	build(f, &(struct task){ .ipv6 = i & 1,
				 .sport = (uint16_t)(20000 + i % 40000),
				 .id = 0x7a5c000000000000ULL + ep_mix64(i) });
}

/*
 * Each capacity class's share of @tasks (by node id) against its share of capacity: the
 * worst relative error, in percent.
 */
static double class_error(const uint32_t *per_class, uint32_t tasks, double shares[4])
{
	double worst = 0, capsum = 0;

	for (uint32_t c = 0; c < 4; c++)
		capsum += big_cap(c) * (BIG_NODES / 4);
	for (uint32_t c = 0; c < 4; c++) {
		double want = big_cap(c) * (BIG_NODES / 4) / capsum;
		double err;

		shares[c] = (double)per_class[c] / tasks;
		err = 100.0 * (shares[c] > want ? shares[c] - want : want - shares[c]) / want;
		worst = err > worst ? err : worst;
	}
	return worst;
}

/*
 * 4096 nodes, the controller's table of 2^19 slots. HASH: every task goes to the node at
 * its slot. P2C: to one of its two choices. Both: the tasks of each capacity class
 * (1024 nodes of 100, 150, 200, 250) follow capacity within 4 % (of 16384 tasks, about 2
 * standard deviations of the smallest class is 4 %; the task ids are fixed, so the
 * numbers are the same every run).
 */
static void test_big_table(void)
{
	static const uint8_t pol[2] = { EP_GW_POLICY_HASH, EP_GW_POLICY_P2C };
	static const char *const name[2] = { "HASH", "P2C" };

	for (int p = 0; p < 2; p++) {
		uint32_t bits = 0, per_class[4] = { 0 }, wrong = 0, lost = 0;
		double shares[4], worst;
		struct frame f;

		tap_begin();
		EXPECT_EQ(big_world(pol[p], NULL, &bits), 0);
		EXPECT_EQ(bits, 19);
		for (uint32_t i = 0; i < BIG_TASKS && !tap_case_failed; i++) {
			uint32_t id, a, b, c;

			big_task(&f, i);
			id = big_run(&f);
			a = big_table[slot_in(&f, 0, bits)];
			b = big_table[slot_in(&f, 1, bits)];
			c = big_table[slot_in(&f, 2, bits)];
			if (!id) {
				lost++;
				continue;
			}
			wrong += pol[p] == EP_GW_POLICY_HASH ? id != a
							     : id != a && id != b && id != c;
			per_class[id % 4]++;
		}
		EXPECT_EQ(lost, 0);
		EXPECT_EQ(wrong, 0);
		worst = class_error(per_class, BIG_TASKS - lost, shares);
		EXPECT(worst < 4.0);
		tap_end("%s, 4096 nodes, table 2^%u: %u tasks on the table's node%s; by capacity "
			"100/150/200/250: %.1f/%.1f/%.1f/%.1f %% (want 14.3/21.4/28.6/35.7), worst "
			"%.1f %% off (bound 4 %%)",
			name[p], bits, BIG_TASKS - wrong - lost, p ? " (one of its two)" : "",
			100 * shares[0], 100 * shares[1], 100 * shares[2], 100 * shares[3], worst);
	}
}

static uint32_t big_cool_id;

/* Every node but big_cool_id is over its CPU limit. */
static bool all_but_cool(uint32_t id)
{
	return id != big_cool_id;
}

/* The first id P2C's bounded fallback scan looks at for @f (as the program picks it). */
static uint32_t scan_start(const struct frame *f)
{
	return 1 + (uint32_t)((flow_hash(f) >> 8) % BIG_NODES);
}

/*
 * The per-packet cost of P2C does not grow with the node count: with both choices
 * ineligible, its scan looks at EP_GW_SCAN_MAX ids from one the task's hash picks, not at
 * all 4096. One eligible node inside that window gets the task; outside it, the task is
 * refused (OVERLOADED) though a node is free: the price of the bound. SEED scans them all.
 */
static void test_big_scan(void)
{
	uint32_t bits, got_in, got_out, got_seed;
	struct frame f, g;

	big_task(&f, 1);
	big_cool_id = (scan_start(&f) + EP_GW_SCAN_MAX / 2 - 1) % BIG_NODES + 1;

	tap_begin();
	EXPECT_EQ(big_world(EP_GW_POLICY_P2C, all_but_cool, &bits), 0);
	/* A task whose window misses the cool node, and whose choices are not it. */
	for (uint32_t i = 2;; i++) {
		big_task(&g, i);
		if ((big_cool_id + BIG_NODES - scan_start(&g)) % BIG_NODES >= EP_GW_SCAN_MAX &&
		    big_table[slot_in(&g, 0, bits)] != big_cool_id &&
		    big_table[slot_in(&g, 1, bits)] != big_cool_id &&
		    big_table[slot_in(&g, 2, bits)] != big_cool_id)
			break;
	}
	got_in = big_run(&f);
	got_out = big_run(&g);
	EXPECT_EQ(got_in, big_cool_id);
	EXPECT_EQ(got_out, 0);
	EXPECT_EQ(big_world(EP_GW_POLICY_SEED, all_but_cool, &bits), 0);
	got_seed = big_run(&g);
	EXPECT_EQ(got_seed, big_cool_id);
	tap_end("4096 nodes, one eligible (%u): P2C's fallback scan of %u ids finds it from its "
		"window (-> %u), not from another (-> %u, refused); SEED scans all (-> %u)",
		big_cool_id, EP_GW_SCAN_MAX, got_in, got_out, got_seed);
	EXPECT_EQ(world_apply(&(struct world){ .max_priority = EP_PRIO_MAX }), 0);
}

static void test_pick(const struct pick_case *c, bool ipv6)
{
	struct task t = { .ipv6 = ipv6, .prio = c->prio, .hint = c->hint };
	struct world w;
	struct frame f;
	struct outcome o;
	int err;

	base_world(&w);
	w.policy = c->policy;
	memcpy(w.cpu_max, c->cpu_max, sizeof(w.cpu_max));
	memcpy(w.wait_max, c->wait_max, sizeof(w.wait_max));
	w.fill[0] = c->fill;
	memcpy(w.nodes[0], c->nodes, sizeof(c->nodes));
	build_distinct(&f, &t);

	tap_begin();
	err = world_apply(&w);
	if (!err)
		err = choices_put(&f, 0, c->a, c->b);
	for (size_t i = 0; !err && i < ARRAY_SIZE(c->sent); i++)
		if (c->sent[i].id)
			err = sent_put(c->sent[i].id, c->sent[i].n);
	EXPECT_EQ(err, 0);
	run_gw(f.b, f.len, &o);
	if (c->want)
		expect_forwarded(&o, &f, 0, c->want, c->stats, true);
	else
		expect_rejected(&o, &f, c->stats);
	if (c->want)
		tap_end("%s [%s] -> node %u", c->name, fam(&f), c->want);
	else
		tap_end("%s [%s] -> rejected", c->name, fam(&f));
}

/* The program's own count of tasks sent moves the next choice: equal nodes alternate. */
static void test_sent_sequence(bool ipv6)
{
	const uint32_t want[] = { 1, 2, 1, 2 };
	struct world w;
	struct frame f[4];
	struct outcome o;
	uint64_t sent[3] = { 0 };

	base_world(&w);
	w.nodes[0][0] = (struct node){ .id = 1, .queue = 2 };
	w.nodes[0][1] = (struct node){ .id = 2, .queue = 2 };
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	for (int i = 0; i < 4; i++) {
		struct task t = { .ipv6 = ipv6, .id = 0x5e000000ull + (uint64_t)i * 0x10000 };

		build_distinct(&f[i], &t);
		EXPECT_EQ(choices_put(&f[i], 0, 1, 2), 0);
	}
	for (int i = 0; i < 4; i++) {
		run_gw(f[i].b, f[i].len, &o);
		expect_forwarded(&o, &f[i], 0, want[i], S(PICK_P2C), true);
		sent[want[i]]++;
	}
	for (__u32 id = 1; id <= 2; id++) {
		__u64 v = 0;

		bpf_map_lookup_elem(sent_fd, &id, &v);
		EXPECT_EQ(v, sent[id]);
	}
	tap_end("P2C: each task sent counts, equal nodes alternate 1 2 1 2 [%s]",
		ipv6 ? "IPv6" : "IPv4");
}

/* --- 6: fragments follow their task ---------------------------------------------------- */

static int aff_lookup(const struct frame *f, uint32_t *id)
{
	struct ep_gw_flow_key k = { 0 };

	if (f->ipv6) {
		memcpy(k.addr, f->b + f->l3 + 8, 16);
	} else {
		k.addr[10] = k.addr[11] = 0xff;
		memcpy(k.addr + 12, f->b + f->l3 + 12, 4);
	}
	memcpy(&k.port, f->b + f->udp, 2);
	memcpy(&k.task_id, f->b + f->hdr + 24, 8);
	return bpf_map_lookup_elem(aff_fd, &k, id) ? -errno : 0;
}

/* A task of three fragments (250 bytes, L = 100). */
static void build_frag(struct frame *f, bool ipv6, uint64_t id, uint32_t index)
{
	struct task t = { .ipv6 = ipv6, .id = id, .total = 250, .frag = 100, .index = index };

	build(f, &t);
}

static void test_affinity(bool ipv6)
{
	struct node n1 = { .id = 1 }, n2 = { .id = 2, .queue = 5 };
	struct frame f[3], g, h0, h2;
	struct task t = { .ipv6 = ipv6, .id = 0xf4a900000000ull, .total = 250, .frag = 100 };
	struct world w;
	struct outcome o;
	uint32_t id = 0;
	const char *v = ipv6 ? "IPv6" : "IPv4";

	base_world(&w);
	w.nodes[0][0] = n1;
	w.nodes[0][1] = n2;
	build_distinct(&f[0], &t); /* fixes the task id; fragments share the flow */
	for (uint32_t i = 1; i < 3; i++)
		build_frag(&f[i], ipv6, t.id, i);

	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(choices_put(&f[0], 0, 1, 2), 0);
	EXPECT_EQ(slot(&f[1], 0), slot(&f[0], 0));
	run_gw(f[0].b, f[0].len, &o);
	expect_forwarded(&o, &f[0], 0, 1, S(PICK_P2C), true);
	EXPECT_EQ(aff_lookup(&f[0], &id), 0);
	EXPECT_EQ(id, 1);
	tap_end("fragment 0 of 3: P2C to node 1, affinity noted [%s]", v);

	/* Node 1 is now busier than node 2 and drained: the task's fragments still go there. */
	n1.queue = 100;
	n1.flags = EP_NODE_F_DRAINED;
	tap_begin();
	EXPECT_EQ(node_put(0, &n1), 0);
	for (int i = 1; i < 3; i++) {
		run_gw(f[i].b, f[i].len, &o);
		expect_forwarded(&o, &f[i], 0, 1, S(PICK_AFFINITY), false);
	}
	tap_end("fragments 1, 2: node 1, drained and busier, by affinity [%s]", v);

	/* A RESULT_ACK for the task (one datagram, same flow): where the task is. */
	tap_begin();
	{
		struct frame ra;

		build(&ra,
		      &(struct task){
			      .ipv6 = ipv6, .id = t.id, .total = 4, .kind = EP_KIND_RESULT_ACK });
		run_gw(ra.b, ra.len, &o);
		expect_forwarded(&o, &ra, 0, 1, S(PICK_AFFINITY), false);
	}
	tap_end("a RESULT_ACK for the task: node 1, by affinity [%s]", v);

	/* A CANCEL for it too: only node 1 holds it. */
	tap_begin();
	{
		struct frame cn;

		build(&cn,
		      &(struct task){
			      .ipv6 = ipv6, .id = t.id, .kind = EP_KIND_CANCEL, .empty = true });
		run_gw(cn.b, cn.len, &o);
		expect_forwarded(&o, &cn, 0, 1, S(PICK_AFFINITY), false);
	}
	tap_end("a CANCEL for the task: node 1, by affinity [%s]", v);

	/* A RESULT_ACK for a task the gateway never placed (or whose node died): to a node
	 * by the policy, which will say it holds nothing; but it is no task: no task or
	 * sent count, no record. */
	tap_begin();
	{
		struct frame ra;

		build(&ra, &(struct task){ .ipv6 = ipv6,
					   .id = t.id + 0x200,
					   .total = 4,
					   .kind = EP_KIND_RESULT_ACK });
		EXPECT_EQ(choices_put(&ra, 0, 1, 2), 0);
		run_gw(ra.b, ra.len, &o);
		expect_forwarded(&o, &ra, 0, 2, S(PICK_P2C), false);
		EXPECT_EQ(aff_lookup(&ra, &id), -ENOENT);
	}
	tap_end("a RESULT_ACK for no task placed: to a node, not a task, nothing remembered [%s]",
		v);

	tap_begin();
	build_distinct(&g, &(struct task){ .ipv6 = ipv6, .id = t.id + 0x100 });
	EXPECT_EQ(choices_put(&g, 0, 1, 2), 0);
	run_gw(g.b, g.len, &o);
	expect_forwarded(&o, &g, 0, 2, S(PICK_P2C), true);
	tap_end("a new task meanwhile: not the drained node 1 [%s]", v);

	/* Gone altogether: a retried fragment is placed anew, as a new task. */
	n1.flags = N_ABSENT;
	tap_begin();
	EXPECT_EQ(node_put(0, &n1), 0);
	run_gw(f[1].b, f[1].len, &o);
	expect_forwarded(&o, &f[1], 0, 2, S(PICK_P2C), true);
	EXPECT_EQ(aff_lookup(&f[1], &id), 0);
	EXPECT_EQ(id, 2);
	run_gw(f[2].b, f[2].len, &o);
	expect_forwarded(&o, &f[2], 0, 2, S(PICK_AFFINITY), false);
	tap_end("node 1 absent: the task's next fragment placed anew on node 2, "
		"the rest follow [%s]",
		v);

	/* The last fragment first: it places the task (counted once), fragment 0 follows. */
	n1.flags = 0;
	n1.queue = 0;
	tap_begin();
	EXPECT_EQ(node_put(0, &n1), 0);
	t.id += 0x200;
	build_distinct(
		&h2,
		&(struct task){ .ipv6 = ipv6, .id = t.id, .total = 250, .frag = 100, .index = 2 });
	build_frag(&h0, ipv6, h2.m.task_id, 0);
	EXPECT_EQ(choices_put(&h2, 0, 2, 1), 0);
	run_gw(h2.b, h2.len, &o);
	expect_forwarded(&o, &h2, 0, 1, S(PICK_P2C), true);
	run_gw(h0.b, h0.len, &o);
	expect_forwarded(&o, &h0, 0, 1, S(PICK_AFFINITY), false);
	tap_end("last fragment first: it places the task, fragment 0 follows [%s]", v);

	/* A one-fragment task leaves no affinity entry. */
	tap_begin();
	EXPECT_EQ(aff_lookup(&g, &id), -ENOENT);
	tap_end("a one-fragment task leaves no affinity entry [%s]", v);
}

/* --- 7: double buffer ------------------------------------------------------------------ */

/* A task that comes from the very node it would go to (a dead worker's kernel routing it
 * back) is dropped and counted, not sent round again. */
static void test_loop(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct world w;
	struct frame f;
	struct outcome o;

	one_node_world(&w);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6 });
	node_mac(0, 1, f.b + 6); /* the source MAC: node 1's */
	run_gw(f.b, f.len, &o);
	expect_act(&o, XDP_DROP);
	expect_stats(&o, S(PICK_P2C) | S(DROP_LOOP));
	expect_node(&o, 0, false, 0);
	tap_end("a task sent back by the node it would go to: dropped, drop_loop [%s]", v);
}

static void test_double_buffer(bool ipv6)
{
	struct world w;
	struct frame f;
	struct outcome o;
	const char *v = ipv6 ? "IPv6" : "IPv4";

	base_world(&w);
	w.fill[0] = 1;
	w.fill[1] = 2;
	w.nodes[0][0] = (struct node){ .id = 1 };
	w.nodes[0][1] = (struct node){ .id = 2 };
	w.nodes[1][0] = (struct node){ .id = 1 };
	w.nodes[1][1] = (struct node){ .id = 2 };
	build(&f, &(struct task){ .ipv6 = ipv6 });

	tap_begin();
	apply_run(&w, &f, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("double buffer: active 0, table of half 0 -> node 1 [%s]", v);

	w.active = 1;
	tap_begin();
	EXPECT_EQ(cfg_put(&w), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 1, 2, S(PICK_P2C), true);
	tap_end("double buffer: flipped to 1 -> node 2, MAC from half 1 [%s]", v);

	/* Half 1 drains nodes 1 and 2 and adds node 3; half 0 has neither change. */
	tap_begin();
	EXPECT_EQ(node_put(1, &(struct node){ .id = 1, .flags = EP_NODE_F_DRAINED }), 0);
	EXPECT_EQ(node_put(1, &(struct node){ .id = 2, .flags = EP_NODE_F_DRAINED }), 0);
	EXPECT_EQ(node_put(1, &(struct node){ .id = 3 }), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 1, 3, S(PICK_SCAN), true);
	w.active = 0;
	EXPECT_EQ(cfg_put(&w), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("double buffer: nodes are read from the active half only [%s]", v);
}

/* --- 8: overflow, per priority --------------------------------------------------------- */

static void overflow_world(struct world *w, const struct node *cloud)
{
	base_world(w);
	w->overflow[1] = EP_GW_OVF_REJECT;
	w->overflow[3] = EP_GW_OVF_CLOUD;
	w->overflow[5] = EP_GW_OVF_LOCAL;
	w->overflow_node = CLOUD;
	w->fill[0] = 1;
	w->nodes[0][0] = (struct node){ .id = 1, .cpu = 9900 };
	w->nodes[0][1] = (struct node){ .id = 2, .cpu = 9900 };
	if (cloud)
		w->nodes[0][2] = *cloud;
}

/*
 * A fragmented task that overflows stays whole: after a REJECT its other fragments are
 * dropped for a moment (no node holds part of a task the client will send again), after
 * LOCAL they pass to the stack too; a later retry is placed afresh.
 */
static void test_overflow_fragments(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct task t = {
		.ipv6 = ipv6, .id = 0x0f0f00000000ull, .total = 250, .frag = 100, .prio = 1
	};
	struct frame f0, f1;
	struct world w;
	struct outcome o;

	overflow_world(&w, NULL);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build_distinct(&f0, &t);
	t.id = f0.m.task_id;
	t.index = 1;
	build(&f1, &t);
	run_gw(f0.b, f0.len, &o);
	expect_rejected(&o, &f0, S(PICK_SCAN));
	run_gw(f1.b, f1.len, &o);
	expect_act(&o, XDP_DROP);
	expect_stats(&o, S(OVF_REJECT));
	expect_node(&o, 0, false, 0);
	tap_end("REJECT of fragment 0: the task's fragment 1 is dropped, not placed [%s]", v);

	/* 60 ms on, with a node free again: a retry of the task is placed. */
	tap_begin();
	usleep(60 * 1000);
	w.nodes[0][0].cpu = 0;
	EXPECT_EQ(node_put(0, &w.nodes[0][0]), 0);
	run_gw(f1.b, f1.len, &o);
	expect_forwarded(&o, &f1, 0, 1, S(PICK_P2C), true);
	tap_end("a retry 60 ms after the REJECT is placed afresh [%s]", v);

	overflow_world(&w, NULL);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	t = (struct task){
		.ipv6 = ipv6, .id = 0x0e0e00000000ull, .total = 250, .frag = 100, .prio = 5
	};
	build_distinct(&f0, &t);
	t.id = f0.m.task_id;
	t.index = 1;
	build(&f1, &t);
	run_gw(f0.b, f0.len, &o);
	expect_act(&o, XDP_PASS);
	expect_stats(&o, S(PICK_SCAN) | S(OVF_LOCAL));
	w.nodes[0][0].cpu = 0; /* a node frees up: fragment 1 still follows its task */
	EXPECT_EQ(node_put(0, &w.nodes[0][0]), 0);
	run_gw(f1.b, f1.len, &o);
	expect_act(&o, XDP_PASS);
	expect_stats(&o, S(OVF_LOCAL));
	expect_untouched(&o, f1.b, f1.len);
	tap_end("LOCAL of fragment 0: fragment 1 passes to the stack too [%s]", v);
}

static void test_overflow(bool ipv6)
{
	const struct node cloud = { .id = CLOUD, .cpu = 9900, .queue = 1000 };
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct world w;
	struct frame f;
	struct outcome o;

	overflow_world(&w, &cloud);

	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 1 });
	run_gw(f.b, f.len, &o);
	expect_rejected(&o, &f, S(PICK_SCAN));
	tap_end("overflow, priority 1 REJECT: OVERLOADED reply [%s]", v);

	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 3 });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, CLOUD, S(PICK_SCAN) | S(OVF_CLOUD), true);
	tap_end("overflow, priority 3 CLOUD: to the overflow node, loaded as it is [%s]", v);

	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 5 });
	run_gw(f.b, f.len, &o);
	expect_act(&o, XDP_PASS);
	expect_stats(&o, S(PICK_SCAN) | S(OVF_LOCAL));
	expect_node(&o, 0, false, 0);
	expect_drops(&o, -1, 0);
	expect_untouched(&o, f.b, f.len);
	tap_end("overflow, priority 5 LOCAL: XDP_PASS, untouched [%s]", v);

	/* CLOUD without a cloud node: rejected. */
	overflow_world(&w, NULL);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 3 });
	run_gw(f.b, f.len, &o);
	expect_rejected(&o, &f, S(PICK_SCAN));
	tap_end("overflow CLOUD, overflow node absent: rejected [%s]", v);

	/* A routed cloud node: encapsulated. */
	overflow_world(&w, &(struct node){
				   .id = CLOUD, .flags = EP_NODE_F_ENCAP, .ip4 = NODE_IP4(CLOUD) });
	tap_begin();
	apply_run(&w, &f, &o);
	expect_act(&o, XDP_TX);
	expect_stats(&o, S(PICK_SCAN) | S(OVF_CLOUD) | S(FWD_ENCAP));
	expect_node(&o, CLOUD, true, f.len);
	expect_encap(&o, &f, 0, CLOUD);
	tap_end("overflow CLOUD to a routed node: encapsulated [%s]", v);

	test_overflow_fragments(ipv6);
}

/* The reply is built in place from frames of every shape. */
static void test_reject_shapes(void)
{
	static const struct {
		const char *name;
		struct task t;
	} shapes[] = {
		{ "802.1Q, IPv4 options, 1000-byte payload",
		  { .vlan = 1, .opts = 12, .total = 1000, .prio = 2 } },
		{ "802.1ad+802.1Q, IPv6 extension headers, 1000-byte payload",
		  { .ipv6 = true, .vlan = 2, .opts = 2, .total = 1000, .prio = 2 } },
		{ "IPv4, no payload to cut", { .empty = true, .prio = 2 } },
		{ "IPv6, no payload to cut", { .ipv6 = true, .empty = true, .prio = 2 } },
		{ "IPv4, middle fragment 1 of 3",
		  { .total = 250, .frag = 100, .index = 1, .prio = 2 } },
		{ "IPv6, last fragment 2 of 3, source port 7878",
		  { .ipv6 = true,
		    .total = 250,
		    .frag = 100,
		    .index = 2,
		    .sport = PORT,
		    .prio = 2 } },
	};
	struct world w;

	base_world(&w); /* no nodes at all; overflow REJECT everywhere */
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		struct frame f;
		struct outcome o;

		tap_begin();
		EXPECT_EQ(world_apply(&w), 0);
		build(&f, &shapes[i].t);
		EXPECT(f.len > 0);
		run_gw(f.b, f.len, &o);
		expect_rejected(&o, &f, S(PICK_SCAN));
		tap_end("OVERLOADED reply: %s", shapes[i].name);
	}
}

/* A fragmented task the cloud took stays with the cloud when a worker frees up. */
static void test_cloud_affinity(bool ipv6)
{
	struct frame f0, f1;
	struct world w;
	struct outcome o;

	overflow_world(&w, &(struct node){ .id = CLOUD });
	build_frag(&f0, ipv6, 0xc10d, 0);
	build_frag(&f1, ipv6, 0xc10d, 1);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	run_gw(f0.b, f0.len, &o);
	expect_forwarded(&o, &f0, 0, CLOUD, S(PICK_SCAN) | S(OVF_CLOUD), true);
	EXPECT_EQ(node_put(0, &(struct node){ .id = 1 }), 0); /* node 1 frees up */
	run_gw(f1.b, f1.len, &o);
	expect_forwarded(&o, &f1, 0, CLOUD, S(PICK_AFFINITY), false);
	tap_end("fragments of a task sent to the cloud follow it there [%s]",
		ipv6 ? "IPv6" : "IPv4");
}

/* --- 9: encapsulation, and the classifier taking it off -------------------------------- */

/* Run @frame through the classifier: it must strip the encapsulation and find the task. */
static void expect_decap(const struct outcome *enc, const struct frame *f, uint32_t id)
{
	struct ep_counter before[EP_STAT__COUNT], after[EP_STAT__COUNT];
	uint8_t out[4096] = { 0 }, mac[6]; /* BPF_PROG_TEST_RUN writes out */
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = enc->out, .data_size_in = enc->out_len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	size_t inner = f->len - f->l3;

	EXPECT_EQ(ep_xdp_read_stats(cls_stats_fd, before), 0);
	EXPECT_EQ(bpf_prog_test_run_opts(cls_prog, &opts), 0);
	EXPECT_EQ(ep_xdp_read_stats(cls_stats_fd, after), 0);
	if (opts.retval != XDP_PASS)
		tap_diag("classifier verdict %s", act_name((int)opts.retval));
	EXPECT_EQ(opts.retval, XDP_PASS); /* no AF_XDP socket here */
	for (int i = 0; i < EP_STAT__COUNT; i++) {
		uint64_t w = i == EP_STAT_DECAP || i == EP_STAT_PASS_NO_SOCKET;

		if (after[i].packets - before[i].packets != w)
			tap_diag("classifier counter %s moved by %llu, want %llu", ep_stat_name(i),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 (unsigned long long)w);
		EXPECT_EQ(after[i].packets - before[i].packets, w);
	}
	EXPECT_EQ(after[EP_STAT_DECAP].bytes - before[EP_STAT_DECAP].bytes, enc->out_len);
	/* What remains: the outer Ethernet addresses, then the original IP datagram. */
	node_mac(0, id, mac);
	EXPECT_EQ(opts.data_size_out, 14 + inner);
	if (opts.data_size_out != 14 + inner)
		return;
	EXPECT(!memcmp(out, mac, 6) && !memcmp(out + 6, gw_mac, 6));
	EXPECT_EQ(get16(out + 12), f->ipv6 ? 0x86dd : 0x0800);
	EXPECT(!memcmp(out + 14, f->b + f->l3, inner));
}

/* A task (IPv6 when @ipv6) that @w's node 1 cannot be sent to in UDP encapsulation: P2C
 * picks it, the send fails, counted tx_error and dropped. */
static void check_tx_error(const struct world *w, bool ipv6, const char *name)
{
	struct frame f;
	struct outcome o;

	build(&f, &(struct task){ .ipv6 = ipv6 });
	tap_begin();
	apply_run(w, &f, &o);
	expect_act(&o, XDP_DROP);
	expect_stats(&o, S(PICK_P2C) | S(TX_ERROR));
	expect_node(&o, 0, false, 0);
	tap_end("%s", name);
}

static void test_encap(void)
{
	static const struct {
		const char *name;
		struct task t;
	} shapes[] = {
		{ "IPv4", { .hint = HINT } },
		{ "IPv6", { .ipv6 = true, .hint = HINT } },
		{ "IPv4 in 802.1Q, options", { .vlan = 1, .opts = 8, .total = 1300 } },
		{ "IPv6 in 802.1ad+802.1Q, ext headers", { .ipv6 = true, .vlan = 2, .opts = 1 } },
	};
	struct world w;

	base_world(&w);
	w.fill[0] = 1;
	w.nodes[0][0] = (struct node){ .id = 1, .flags = EP_NODE_F_ENCAP, .ip4 = NODE_IP4(1) };
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		struct frame f;
		struct outcome o;

		build(&f, &shapes[i].t);
		tap_begin();
		apply_run(&w, &f, &o);
		expect_act(&o, XDP_TX);
		expect_stats(&o, S(PICK_P2C) | S(FWD_ENCAP));
		expect_node(&o, 1, true, f.len);
		expect_drops(&o, -1, 0);
		expect_encap(&o, &f, 0, 1);
		tap_end("encap: outer Ethernet/IPv4/UDP to %u, inner datagram intact [%s]",
			EP_ENCAP_PORT, shapes[i].name);

		tap_begin();
		if (o.act == XDP_TX)
			expect_decap(&o, &f, 1);
		else
			tap_fail(__FILE__, __LINE__, "no encapsulated frame to decapsulate");
		tap_end("encap round trip: the classifier takes it off (decap, then the task) [%s]",
			shapes[i].name);
	}

	/* A routed node without an IPv4 address, not flagged for the IPv6 underlay. */
	w.nodes[0][0].ip4 = 0;
	for (int v6 = 0; v6 < 2; v6++)
		check_tx_error(&w, v6,
			       v6 ? "encap to a node without an IPv4 address: counted tx_error, "
				    "dropped [IPv6]"
				  : "encap to a node without an IPv4 address: counted tx_error, "
				    "dropped [IPv4]");
}

/*
 * The IPv6 underlay (issue 16): a node flagged EP_NODE_F_ENCAP6 gets its tasks in IPv6/UDP,
 * inner IPv4 and IPv6 alike, of lengths on both sides of the checksum's 512-byte chunks
 * and of both parities; each round trip through the classifier. Without the node's or
 * the gateway's IPv6 address: tx_error.
 */
static void test_encap6(void)
{
	static const uint32_t totals[] = { 1, 2, 3, 100, 401, 402, 450, 451, 900, 963, 1300, 1401 };
	struct world w;

	base_world(&w);
	w.fill[0] = 1;
	w.nodes[0][0] =
		(struct node){ .id = 1, .flags = EP_NODE_F_ENCAP | EP_NODE_F_ENCAP6, .ip6 = true };
	for (size_t i = 0; i < 2 * ARRAY_SIZE(totals) + 2; i++) {
		bool v6 = i & 1;
		struct task t = { .ipv6 = v6 };
		struct frame f;
		struct outcome o;

		if (i < 2 * ARRAY_SIZE(totals))
			t.total = totals[i / 2];
		else /* tags and options on the way in, none on the way out */
			t = (struct task){ .ipv6 = v6, .vlan = 2, .opts = v6 ? 2 : 8, .total = 77 };
		build(&f, &t);
		tap_begin();
		apply_run(&w, &f, &o);
		expect_act(&o, XDP_TX);
		expect_stats(&o, S(PICK_P2C) | S(FWD_ENCAP));
		expect_node(&o, 1, true, f.len);
		expect_drops(&o, -1, 0);
		expect_encap6(&o, &f, 0, 1);
		tap_end("encap6: outer Ethernet/IPv6/UDP (checksum right), inner %s datagram of "
			"%zu "
			"bytes intact%s",
			fam(&f), f.len - f.l3, t.vlan ? ", tags dropped" : "");

		tap_begin();
		if (o.act == XDP_TX)
			expect_decap(&o, &f, 1);
		else
			tap_fail(__FILE__, __LINE__, "no encapsulated frame to decapsulate");
		tap_end("encap6 round trip: the classifier takes it off from %s [%s, %zu bytes]",
			GW_IP6, fam(&f), f.len - f.l3);
	}

	/* No outer address: the node's, or the gateway's. */
	for (int c = 0; c < 2; c++) {
		w.nodes[0][0].ip6 = c;
		w.no_gw6 = c;
		check_tx_error(
			&w, c,
			c ? "encap6 from a gateway without an IPv6 source: counted tx_error, "
			    "dropped"
			  : "encap6 to a node without ip6: counted tx_error, dropped");
	}
}

/* --- 10: everything that is not a task ------------------------------------------------- */

/* Run @frame against a world where node 1 takes everything; expect it passed or dropped
 * as the classifier would, by parse outcome @stat, and no gateway decision. */
static void check_not_task(const char *name, const uint8_t *frame, size_t len, int act, int stat)
{
	struct outcome o;

	tap_begin();
	run_gw(frame, len, &o);
	expect_act(&o, act);
	expect_stats(&o, 0);
	expect_node(&o, 0, false, 0);
	expect_drops(&o, stat, len);
	expect_untouched(&o, frame, len);
	tap_end("%s -> %s/%s", name, act_name(act), ep_stat_name(stat));
}

static void check_spec(const char *name, const struct pkt_spec *s, int act, int stat)
{
	uint8_t f[2048];
	size_t len = pkt_build(s, f, sizeof(f));

	check_not_task(name, f, len, act, stat);
}

static void test_not_tasks(void)
{
	uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 }, f[2048];
	static struct frame t4, t6;
	const uint8_t *d4, *d6;
	size_t n4, n6;
	struct world w;
	int bad = 0;

	one_node_world(&w);
	world_apply(&w);
	build(&t4, &(struct task){ 0 });
	build(&t6, &(struct task){ .ipv6 = true });
	d4 = t4.b + t4.hdr;
	d6 = t6.b + t6.hdr;
	n4 = t4.len - t4.hdr;
	n6 = t6.len - t6.hdr;

	check_spec("ARP",
		   &(struct pkt_spec){
			   .ethertype = 0x0806, .payload = arp, .payload_len = sizeof(arp) },
		   XDP_PASS, EP_STAT_PASS_NOT_IP);
	check_spec("ARP in 802.1Q",
		   &(struct pkt_spec){ .ethertype = 0x0806,
				       .vlan_tags = 1,
				       .payload = arp,
				       .payload_len = sizeof(arp) },
		   XDP_PASS, EP_STAT_PASS_NOT_IP);
	check_spec("ICMP",
		   &(struct pkt_spec){ .l4proto = IPPROTO_ICMP, .payload = d4, .payload_len = 64 },
		   XDP_PASS, EP_STAT_PASS_NOT_UDP);
	check_spec("TCP to the task port number",
		   &(struct pkt_spec){ .l4proto = IPPROTO_TCP, .payload = d4, .payload_len = 40 },
		   XDP_PASS, EP_STAT_PASS_NOT_UDP);
	check_spec(
		"ICMPv6",
		&(struct pkt_spec){
			.ipv6 = true, .l4proto = IPPROTO_ICMPV6, .payload = d6, .payload_len = 64 },
		XDP_PASS, EP_STAT_PASS_NOT_UDP);
	check_spec("a task to another UDP port",
		   &(struct pkt_spec){ .dport = PORT + 10, .payload = d4, .payload_len = n4 },
		   XDP_PASS, EP_STAT_PASS_OTHER_PORT);
	check_spec(
		"a task to another UDP port, IPv6",
		&(struct pkt_spec){ .ipv6 = true, .dport = 53, .payload = d6, .payload_len = n6 },
		XDP_PASS, EP_STAT_PASS_OTHER_PORT);
	check_spec("a load report to the controller's port",
		   &(struct pkt_spec){ .dport = EP_CONTROL_PORT, .payload = d4, .payload_len = n4 },
		   XDP_PASS, EP_STAT_PASS_OTHER_PORT);
	check_spec("encapsulated traffic passing the gateway",
		   &(struct pkt_spec){ .dport = EP_ENCAP_PORT,
				       .payload = t4.b + t4.l3,
				       .payload_len = t4.len - t4.l3 },
		   XDP_PASS, EP_STAT_PASS_OTHER_PORT);
	check_spec("IPv4 fragment of a task",
		   &(struct pkt_spec){
			   .ip_mf = true, .dport = PORT, .payload = d4, .payload_len = n4 },
		   XDP_PASS, EP_STAT_PASS_IP_FRAGMENT);
	check_spec("IPv6 fragment of a task",
		   &(struct pkt_spec){ .ipv6 = true,
				       .ipv6_frag = true,
				       .dport = PORT,
				       .payload = d6,
				       .payload_len = n6 },
		   XDP_PASS, EP_STAT_PASS_IP_FRAGMENT);

	memcpy(f, t4.b, t4.len);
	f[14] = 0x44; /* ihl 4 */
	check_not_task("IPv4 header length 16", f, t4.len, XDP_PASS, EP_STAT_PASS_UNPARSED);
	memcpy(f, t4.b, t4.len);
	f[17] += 8; /* total length beyond the frame */
	check_not_task("IPv4 total length beyond the frame", f, t4.len, XDP_PASS,
		       EP_STAT_PASS_UNPARSED);
	memcpy(f, t6.b, t6.len);
	f[18] = f[19] = 0;
	check_not_task("IPv6 payload length 0", f, t6.len, XDP_PASS, EP_STAT_PASS_UNPARSED);
	memset(f, 0xff, 6);
	memcpy(f + 6, t4.b + 6, t4.len - 6);
	check_not_task("a task to the Ethernet broadcast", f, t4.len, XDP_PASS,
		       EP_STAT_PASS_NOT_UNICAST);
	memcpy(f, t6.b, t6.len);
	f[14 + 24] = 0xff, f[14 + 25] = 0x02;
	check_not_task("a task to an IPv6 multicast group", f, t6.len, XDP_PASS,
		       EP_STAT_PASS_NOT_UNICAST);

	/* Datagrams to the task port that break protocol section 6: dropped and counted
	 * under the classifier's reasons, never forwarded nor answered. */
	memcpy(f, t4.b, t4.len);
	f[t4.hdr] ^= 0xff;
	check_not_task("bad magic to the task port", f, t4.len, XDP_DROP, EP_STAT_DROP_BAD_MAGIC);
	memcpy(f, t6.b, t6.len);
	f[t6.hdr + 3] = EP_KIND_RESPONSE;
	check_not_task("a RESPONSE to the task port", f, t6.len, XDP_DROP, EP_STAT_DROP_BAD_KIND);
	memcpy(f, t4.b, t4.len);
	f[t4.hdr + 13]++;
	check_not_task("payload_len off by one", f, t4.len, XDP_DROP, EP_STAT_DROP_BAD_LENGTH);
	memcpy(f, t6.b, t6.len);
	f[t6.udp + 6] = f[t6.udp + 7] = 0;
	check_not_task("IPv6 task without UDP checksum", f, t6.len, XDP_DROP,
		       EP_STAT_DROP_UDP_ZERO_CSUM);
	memcpy(f, t4.b, t4.len);
	f[t4.udp] = f[t4.udp + 1] = 0;
	check_not_task("a task from source port 0", f, t4.len, XDP_DROP, EP_STAT_DROP_BAD_SOURCE);

	/* Every truncation of a task is left to the kernel, untouched. */
	for (int v6 = 0; v6 < 2; v6++) {
		const struct frame *t = v6 ? &t6 : &t4;

		bad += t->len <= 14; /* else nothing below would be checked */

		for (size_t cut = 14; cut < t->len; cut++) {
			struct outcome o;

			run_gw(t->b, cut, &o);
			if (o.err || o.act != XDP_PASS || o.out_len != cut ||
			    memcmp(o.out, t->b, cut) ||
			    o.d.drops[EP_STAT_PASS_UNPARSED].packets != 1) {
				if (bad++ < 5)
					tap_diag("%s cut at %zu: %s", fam(t), cut, act_name(o.act));
			}
			for (int i = 0; i < EP_GW_STAT__COUNT; i++)
				bad += o.d.gw[i] != 0;
		}
	}
	tap_begin();
	EXPECT_EQ(bad, 0);
	tap_end("IPv4 and IPv6 tasks truncated at every length: XDP_PASS, untouched");

	/* PING and CANCEL are server-bound: balanced like tasks. */
	tap_begin();
	{
		struct frame p;
		struct outcome o;

		build(&p, &(struct task){ .kind = EP_KIND_PING, .empty = true });
		run_gw(p.b, p.len, &o);
		expect_forwarded(&o, &p, 0, 1, S(PICK_P2C), true);
	}
	tap_end("PING to the task port: forwarded like a task");

	/* The task port is configurable; 0 is the default. */
	w.port = 9000;
	world_apply(&w);
	check_spec("task port 9000: a task to 7878",
		   &(struct pkt_spec){ .dport = PORT, .payload = d4, .payload_len = n4 }, XDP_PASS,
		   EP_STAT_PASS_OTHER_PORT);
	tap_begin();
	{
		struct frame p;
		struct outcome o;

		build(&p, &(struct task){ .dport = 9000 });
		run_gw(p.b, p.len, &o);
		expect_forwarded(&o, &p, 0, 1, S(PICK_P2C), true);
	}
	tap_end("task port 9000: a task to 9000 is forwarded");
}

/* --- 12: hardening (issue 11): each attack below was a case that failed before its fix -- */

/* A flood of first fragments from one prefix: each would be a new task (an affinity entry
 * and a count in ep_gw_sent). Over the prefix's new-task quota they are dropped and
 * counted, and leave neither. */
static void test_task_quota(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4", *src = ipv6 ? "2001:db8:1::1" : "198.19.1.1";
	const uint32_t n = EP_RL_DEF_TASKS_BURST + 5000;
	struct world w;
	struct frame f;
	struct outcome o;
	uint32_t id;
	uint64_t t0, ns, max;
	uint64_t sent0 = 0, sent1 = 0;

	one_node_world(&w);

	/* The defaults, on a gateway nobody configured: single-fragment tasks at once, in
	 * one test run; the excess (less what refilled meanwhile) dropped. */
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .src = src });
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.b, .data_size_in = (__u32)f.len,
			    .repeat = n);
		struct snap a, b;

		EXPECT_EQ(snap_read(&b), 0);
		t0 = mono_ns();
		EXPECT_EQ(bpf_prog_test_run_opts(gw_prog, &opts), 0);
		ns = mono_ns() - t0;
		EXPECT_EQ(snap_read(&a), 0);
		max = EP_RL_DEF_TASKS_BURST + ns * EP_RL_DEF_TASKS / 1000000000 + 1;
		sent1 = a.sent[1] - b.sent[1];
		if (sent1 < EP_RL_DEF_TASKS_BURST || sent1 > max)
			tap_diag("placed %llu in %llu us, want %u..%llu", (unsigned long long)sent1,
				 (unsigned long long)ns / 1000, EP_RL_DEF_TASKS_BURST,
				 (unsigned long long)max);
		EXPECT(sent1 >= EP_RL_DEF_TASKS_BURST && sent1 <= max);
		EXPECT_EQ(a.drops[EP_STAT_DROP_RATE_TASKS].packets -
				  b.drops[EP_STAT_DROP_RATE_TASKS].packets,
			  n - sent1);
	}
	tap_end("new-task quota, defaults (%u/s, burst %u): %u tasks at once from one prefix, "
		"the excess dropped as drop_rate_tasks [%s]",
		EP_RL_DEF_TASKS, EP_RL_DEF_TASKS_BURST, n, v);

	/* Configured: 1 new task/s, burst 10; no datagram or byte limit. Exact. */
	w.rl_set = true;
	w.rl = (struct ep_rl_cfg){
		.tasks_per_s = 1, .tasks_burst = 10, .prefix_v4 = 24, .prefix_v6 = 64
	};
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	bpf_map_lookup_elem(sent_fd, &(__u32){ 1 }, &sent0);
	for (uint32_t i = 0; i < 10; i++) {
		struct task t = { .ipv6 = ipv6,
				  .id = 0x9a0000000000ull + i,
				  .total = 250,
				  .frag = 100,
				  .src = src };

		build(&f, &t);
		run_gw(f.b, f.len, &o);
		expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	}
	bpf_map_lookup_elem(sent_fd, &(__u32){ 1 }, &sent1);
	EXPECT_EQ(sent1 - sent0, 10);
	tap_end("new-task quota 1/s, burst 10: 10 first fragments from one prefix placed [%s]", v);

	tap_begin();
	for (uint32_t i = 0; i < 5; i++) {
		struct task t = { .ipv6 = ipv6,
				  .id = 0x9b0000000000ull + i,
				  .total = 250,
				  .frag = 100,
				  .src = src };

		build(&f, &t);
		run_gw(f.b, f.len, &o);
		expect_act(&o, XDP_DROP);
		expect_stats(&o, 0);
		expect_node(&o, 0, false, 0);
		expect_drops(&o, EP_STAT_DROP_RATE_TASKS, f.len);
		EXPECT_EQ(aff_lookup(&f, &id), -ENOENT);
	}
	tap_end("new-task quota: 5 more first fragments dropped (drop_rate_tasks), no affinity, "
		"no sent count [%s]",
		v);

	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6,
				  .id = 0x9a0000000000ull,
				  .total = 250,
				  .frag = 100,
				  .index = 1,
				  .src = src });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_AFFINITY), false);
	tap_end("new-task quota spent: a placed task's next fragment still follows it [%s]", v);

	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6,
				  .id = 0x9c00,
				  .src = ipv6 ? "2001:db8:2::1" : "198.19.2.1" });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("new-task quota spent by one prefix: another prefix's task is placed [%s]", v);

	/* Datagrams/s at the gateway: 1/s, burst 3. */
	w.rl = (struct ep_rl_cfg){
		.packets_per_s = 1, .packets_burst = 3, .prefix_v4 = 24, .prefix_v6 = 64
	};
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	for (uint32_t i = 0; i < 4; i++) {
		build(&f, &(struct task){ .ipv6 = ipv6, .id = 0x9d00 + i, .src = src });
		run_gw(f.b, f.len, &o);
		if (i < 3) {
			expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
		} else {
			expect_act(&o, XDP_DROP);
			expect_stats(&o, 0);
			expect_node(&o, 0, false, 0);
			expect_drops(&o, EP_STAT_DROP_RATE_PACKETS, f.len);
		}
	}
	tap_end("datagram limit 1/s, burst 3: 3 tasks forwarded, the 4th dropped "
		"(drop_rate_packets) [%s]",
		v);

	/* Bytes/s: 100/s, burst 1500. */
	w.rl = (struct ep_rl_cfg){
		.bytes_per_s = 100, .bytes_burst = 1500, .prefix_v4 = 24, .prefix_v6 = 64
	};
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .id = 0x9e00, .src = src, .total = 1200 });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	build(&f, &(struct task){ .ipv6 = ipv6, .id = 0x9e01, .src = src, .total = 1200 });
	run_gw(f.b, f.len, &o);
	expect_act(&o, XDP_DROP);
	expect_drops(&o, EP_STAT_DROP_RATE_BYTES, f.len);
	expect_node(&o, 0, false, 0);
	tap_end("byte limit 100/s, burst 1500: one 1.3 kB task forwarded, the next dropped "
		"(drop_rate_bytes) [%s]",
		v);

	/* Off, by name: the same prefix again, no limit. */
	w.rl = (struct ep_rl_cfg){ .flags = EP_RL_F_OFF };
	tap_begin();
	EXPECT_EQ(ep_xdp_write_rl(rlcfg_fd, &w.rl), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("rate limits off (EP_RL_F_OFF): the dropped task is forwarded [%s]", v);
}

/* A client cannot buy a higher priority's eligibility: above the ceiling (default 3) a
 * task counts as priority 3 for cpu_max and overflow. */
static void test_priority_ceiling(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct world w;
	struct frame f;
	struct outcome o;

	base_world(&w);
	w.max_priority = 0; /* the default */
	w.cpu_max[3] = 8000;
	w.cpu_max[4] = 8500;
	w.cpu_max[5] = 9500;
	w.overflow[5] = EP_GW_OVF_LOCAL;
	w.fill[0] = 1;
	w.nodes[0][0] = (struct node){ .id = 1, .cpu = 9000 };
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 5 });
	run_gw(f.b, f.len, &o);
	expect_rejected(&o, &f, S(PICK_SCAN));
	tap_end("priority 5 above the default ceiling 3: priority 3's cpu_max and overflow "
		"(rejected) [%s]",
		v);

	w.max_priority = 5;
	tap_begin();
	apply_run(&w, &f, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("max_priority 5: priority 5's cpu_max (95 %%) takes the node at 90 %% [%s]", v);

	w.max_priority = 4;
	w.nodes[0][0].cpu = 8200;
	tap_begin();
	apply_run(&w, &f, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	w.nodes[0][0].cpu = 9000;
	apply_run(&w, &f, &o);
	expect_rejected(&o, &f, S(PICK_SCAN));
	tap_end("max_priority 4: priority 5 as 4 (85 %%): a node at 82 %% yes, at 90 %% no, and "
		"not priority 5's overflow (local) [%s]",
		v);
}

/* --- 13: session keys and roles (issue 12): each attack below was a case that failed
 * before the gateway checked keys -------------------------------------------------------- */

#define GKEY 0x0203

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define GKEY_NO_TASKS 0xff /* gkey_put()'s @prio for max_priority 0 (a node's own key) */

/* A key for the frames build() makes: tenant 77, type 0x21 (and 1), priority up to @prio
 * (0: 3; GKEY_NO_TASKS: none); expiry @exp_s from now (0: an hour; < 0: past). */
static int gkey_put(uint32_t id, uint8_t prio, int64_t exp_s, bool revoked, uint32_t max_len,
		    uint32_t tps, uint32_t tburst, uint32_t kib, uint32_t kburst, uint64_t issued)
{
	const uint64_t types[4] = { (1ull << 0x21) | 2 };
	uint64_t now = real_ms();
	struct ep_key_entry e;

	ep_key_entry_fill(&e, now, mono_ns(), issued ?: 1, (uint64_t)((int64_t)now +
			  (exp_s ?: 3600) * 1000), 77, revoked, types, 0,
			  prio == GKEY_NO_TASKS ? 0 : prio ?: 3, max_len,
			  tps, tburst, kib, kburst);
	return ep_xdp_write_key(keys_fd, kstate_fd, id, &e);
}

static int gmode(enum ep_auth_mode m)
{
	auth_on = m != EP_AUTH_MODE_OFF;
	return ep_xdp_write_auth_mode(auth_fd, m);
}

/* Dropped at the gateway as @stat: nothing decided, no node, no affinity. */
static void expect_dropped(const struct outcome *o, const struct frame *f, int stat)
{
	expect_act(o, XDP_DROP);
	expect_stats(o, 0);
	expect_node(o, 0, false, 0);
	expect_drops(o, stat, f->len);
	expect_untouched(o, f->b, f->len);
}

struct gauth_case {
	const char *name;
	enum ep_auth_mode mode;
	struct task t;
	/* the key GKEY */
	uint8_t prio;
	int64_t exp_s;
	bool revoked;
	uint32_t max_len;
	int stat; /* -1: forwarded to node 1 */
};

static const struct gauth_case gauth_cases[] = {
	{ "required: a valid AUTH task is forwarded",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY },
	  .stat = -1 },
	{ "required: a task without AUTH",
	  EP_AUTH_MODE_REQUIRED,
	  {},
	  .stat = EP_STAT_DROP_AUTH_MISSING },
	{ "optional: a task without AUTH is forwarded", EP_AUTH_MODE_OPTIONAL, {}, .stat = -1 },
	{ "off: AUTH under an unknown key is forwarded (the node's to judge)",
	  EP_AUTH_MODE_OFF,
	  { .key = 0x999 },
	  .stat = -1 },
	{ "optional: AUTH under an unknown key",
	  EP_AUTH_MODE_OPTIONAL,
	  { .key = 0x999 },
	  .stat = EP_STAT_DROP_AUTH_UNKNOWN_KEY },
	{ "required: the key expired",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY },
	  .exp_s = -10,
	  .stat = EP_STAT_DROP_AUTH_EXPIRED },
	{ "required: the key is revoked",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY },
	  .revoked = true,
	  .stat = EP_STAT_DROP_AUTH_REVOKED },
	{ "required: tenant 78 under a key of tenant 77",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY, .tenant = 78 },
	  .stat = EP_STAT_DROP_AUTH_TENANT },
	{ "required: type 0x22, not the role's",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY, .type = 0x22 },
	  .stat = EP_STAT_DROP_AUTH_TYPE },
	{ "required: priority 4 above the role's 3",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY, .prio = 4 },
	  .stat = EP_STAT_DROP_AUTH_PRIORITY },
	{ "required: priority 1 under a key of max_priority 0 (a node's own: no task)",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY, .prio = 1 },
	  .prio = GKEY_NO_TASKS,
	  .stat = EP_STAT_DROP_AUTH_PRIORITY },
	{ "required: 100 bytes above the role's 99",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY },
	  .max_len = 99,
	  .stat = EP_STAT_DROP_AUTH_TOO_LARGE },
	{ "required: AUTH and TOKEN",
	  EP_AUTH_MODE_REQUIRED,
	  { .key = GKEY, .flags = EP_F_TOKEN },
	  .stat = EP_STAT_DROP_AUTH_TOKEN },
};

static void test_auth_cases(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct world w;
	struct frame f;
	struct outcome o;

	one_node_world(&w);
	for (size_t i = 0; i < ARRAY_SIZE(gauth_cases); i++) {
		const struct gauth_case *c = &gauth_cases[i];
		struct task t = c->t;

		t.ipv6 = ipv6;
		build(&f, &t);
		tap_begin();
		EXPECT_EQ(world_apply(&w), 0);
		EXPECT_EQ(gmode(c->mode), 0);
		EXPECT_EQ(gkey_put(GKEY, c->prio, c->exp_s, c->revoked, c->max_len, 0, 0, 0, 0, 0),
			  0);
		run_gw(f.b, f.len, &o);
		if (c->stat < 0)
			expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
		else
			expect_dropped(&o, &f, c->stat);
		tap_end("%s [%s] -> %s", c->name, v,
			c->stat < 0 ? "node 1" : ep_stat_name(c->stat));
	}
	ep_xdp_delete_key(keys_fd, kstate_fd, GKEY);
	gmode(EP_AUTH_MODE_OFF);
}

static int aff_lookup_key(uint16_t key, uint64_t task_id_be, uint32_t *id)
{
	struct ep_gw_flow_key k = { .key_id = key, .task_id = task_id_be };

	return bpf_map_lookup_elem(aff_fd, &k, id) ? -errno : 0;
}

/* A key's tasks/s at the gateway counts new placements; its bytes/s every datagram; and
 * its datagrams are not charged to their source prefix. */
static void test_auth_rates(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4", *src = ipv6 ? "2001:db8:3::1" : "198.19.3.1";
	struct world w;
	struct frame f;
	struct outcome o;
	uint32_t id;

	one_node_world(&w);
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(gmode(EP_AUTH_MODE_REQUIRED), 0);
	EXPECT_EQ(gkey_put(GKEY, 0, 0, false, 0, 1, 2, 0, 0, 0), 0);
	for (uint64_t i = 0; i < 2; i++) {
		build(&f,
		      &(struct task){ .ipv6 = ipv6, .key = GKEY, .id = 0x7a00 + i, .src = src });
		run_gw(f.b, f.len, &o);
		expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	}
	tap_end("key tasks/s 1, burst 2: two new tasks placed [%s]", v);
	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6, .key = GKEY, .id = 0x7a02, .src = src });
	run_gw(f.b, f.len, &o);
	expect_dropped(&o, &f, EP_STAT_DROP_AUTH_RATE_TASKS);
	EXPECT_EQ(aff_lookup_key(GKEY, ep_be64(f.m.task_id), &id), -ENOENT);
	tap_end("key tasks/s: the third new task dropped (drop_auth_rate_tasks), nothing of it "
		"kept [%s]",
		v);
	tap_begin();
	build(&f, &(struct task){ .ipv6 = ipv6, .key = GKEY, .id = 0x7a00, .src = src });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_AFFINITY), false);
	tap_end("key tasks/s spent: a placed task's retry follows it, not a new task [%s]", v);

	/* Bytes: 1 KiB/s, burst 64 KiB, one frame again and again in one run. */
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(gkey_put(GKEY, 0, 0, false, 0, 0, 0, 1, 64, 2), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .key = GKEY, .id = 0x7b00, .src = src });
	{
		const uint32_t fit = (uint32_t)(65536 / f.len), n = fit + 20;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.b, .data_size_in = (__u32)f.len,
			    .repeat = n);
		struct snap a, b;

		EXPECT_EQ(snap_read(&b), 0);
		EXPECT_EQ(bpf_prog_test_run_opts(gw_prog, &opts), 0);
		EXPECT_EQ(snap_read(&a), 0);
		EXPECT_EQ(a.node[1].packets - b.node[1].packets, fit);
		EXPECT_EQ(a.drops[EP_STAT_DROP_AUTH_RATE_BYTES].packets -
				  b.drops[EP_STAT_DROP_AUTH_RATE_BYTES].packets,
			  n - fit);
	}
	tap_end("key bytes/s 1 KiB, burst 64 KiB: 64 KiB's worth of frames forwarded, the rest "
		"dropped (drop_auth_rate_bytes) [%s]",
		v);

	/* The source prefix's limit is not the key's datagrams': 1 datagram/s, burst 2. */
	w.rl_set = true;
	w.rl = (struct ep_rl_cfg){
		.packets_per_s = 1, .packets_burst = 2, .prefix_v4 = 24, .prefix_v6 = 64
	};
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(gkey_put(GKEY, 0, 0, false, 0, 1000, 100, 0, 0, 3), 0);
	for (uint64_t i = 0; i < 4; i++) {
		build(&f,
		      &(struct task){ .ipv6 = ipv6, .key = GKEY, .id = 0x7c00 + i, .src = src });
		run_gw(f.b, f.len, &o);
		expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	}
	tap_end("prefix limit 1/s, burst 2: 4 AUTH tasks (key of 1000 tasks/s) from the prefix "
		"all forwarded [%s]",
		v);
	tap_begin();
	EXPECT_EQ(gmode(EP_AUTH_MODE_OPTIONAL), 0);
	for (uint64_t i = 0; i < 3; i++) {
		build(&f, &(struct task){ .ipv6 = ipv6, .id = 0x7d00 + i, .src = src });
		run_gw(f.b, f.len, &o);
		if (i < 2)
			expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
		else
			expect_dropped(&o, &f, EP_STAT_DROP_RATE_PACKETS);
	}
	tap_end("optional: then 3 without AUTH from that prefix: its bucket was whole, 2 "
		"forwarded [%s]",
		v);
	ep_xdp_delete_key(keys_fd, kstate_fd, GKEY);
	gmode(EP_AUTH_MODE_OFF);
}

/* An AUTH task is known by (key id, task id): a replay from another source, or a later
 * fragment from anywhere, goes where the task went, whatever the load says now. */
static void test_auth_affinity(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	const char *s1 = ipv6 ? "2001:db8:4::1" : "198.19.4.1";
	const char *s2 = ipv6 ? "2001:db8:5::9" : "198.19.5.9";
	struct node n1 = { .id = 1 }, n2 = { .id = 2, .queue = 5 };
	struct world w;
	struct frame f, g, h1, p;
	struct outcome o;
	uint32_t id = 0;

	base_world(&w);
	w.nodes[0][0] = n1;
	w.nodes[0][1] = n2;
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(gmode(EP_AUTH_MODE_REQUIRED), 0);
	EXPECT_EQ(gkey_put(GKEY, 0, 0, false, 0, 0, 0, 0, 0, 0), 0);
	EXPECT_EQ(gkey_put(GKEY + 1, 0, 0, false, 0, 0, 0, 0, 0, 0), 0);
	build_distinct(&f, &(struct task){ .ipv6 = ipv6, .key = GKEY, .src = s1, .sport = 41000 });
	EXPECT_EQ(choices_put(&f, 0, 1, 2), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	EXPECT_EQ(aff_lookup_key(GKEY, ep_be64(f.m.task_id), &id), 0);
	EXPECT_EQ(id, 1);
	tap_end("AUTH one-fragment task: P2C to node 1, remembered by (key, task id) [%s]", v);

	/* Node 1 is now the busier one: the replay from elsewhere still goes to node 1. */
	n1.queue = 100;
	tap_begin();
	EXPECT_EQ(node_put(0, &n1), 0);
	build(&g,
	      &(struct task){
		      .ipv6 = ipv6, .key = GKEY, .id = f.m.task_id, .src = s2, .sport = 52000 });
	EXPECT_EQ(flow_hash(&g), flow_hash(&f));
	run_gw(g.b, g.len, &o);
	expect_forwarded(&o, &g, 0, 1, S(PICK_AFFINITY), false);
	tap_end("the same AUTH datagram from another address and port: node 1 by affinity, "
		"where the replay window has it [%s]",
		v);

	tap_begin();
	build(&h1, &(struct task){ .ipv6 = ipv6,
				   .key = GKEY + 1,
				   .id = f.m.task_id,
				   .src = s1,
				   .sport = 41000 });
	EXPECT_EQ(choices_put(&h1, 0, 1, 2), 0);
	run_gw(h1.b, h1.len, &o);
	expect_forwarded(&o, &h1, 0, 2, S(PICK_P2C), true);
	tap_end("the same task id under another key is another task: placed by load, node 2 "
		"[%s]",
		v);

	/* Fragments of an AUTH task follow it from any source. */
	n1.queue = 0;
	tap_begin();
	EXPECT_EQ(node_put(0, &n1), 0);
	build_distinct(&p, &(struct task){ .ipv6 = ipv6,
					   .key = GKEY,
					   .id = 0x7e0000000000ull,
					   .total = 250,
					   .frag = 100,
					   .src = s1 });
	EXPECT_EQ(choices_put(&p, 0, 1, 2), 0);
	run_gw(p.b, p.len, &o);
	expect_forwarded(&o, &p, 0, 1, S(PICK_P2C), true);
	n1.queue = 100;
	EXPECT_EQ(node_put(0, &n1), 0);
	build(&g, &(struct task){ .ipv6 = ipv6,
				  .key = GKEY,
				  .id = p.m.task_id,
				  .total = 250,
				  .frag = 100,
				  .index = 2,
				  .src = s2 });
	run_gw(g.b, g.len, &o);
	expect_forwarded(&o, &g, 0, 1, S(PICK_AFFINITY), false);
	tap_end("AUTH fragments: fragment 2 from another source follows fragment 0 to node 1 "
		"[%s]",
		v);

	/* Without AUTH, a one-fragment task keeps no affinity (as before). */
	tap_begin();
	EXPECT_EQ(gmode(EP_AUTH_MODE_OPTIONAL), 0);
	build_distinct(&f, &(struct task){ .ipv6 = ipv6, .id = 0x7f00, .src = s1 });
	EXPECT_EQ(choices_put(&f, 0, 2, 1), 0);
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 2, S(PICK_P2C), true);
	EXPECT_EQ(aff_lookup(&f, &id), -ENOENT);
	tap_end("optional: a one-fragment task without AUTH keeps no affinity entry [%s]", v);
	ep_xdp_delete_key(keys_fd, kstate_fd, GKEY);
	ep_xdp_delete_key(keys_fd, kstate_fd, GKEY + 1);
	gmode(EP_AUTH_MODE_OFF);
}

/* The node's ceiling for unknown sources is not a key's: its role capped the priority. */
static void test_auth_priority(bool ipv6)
{
	const char *v = ipv6 ? "IPv6" : "IPv4";
	struct world w;
	struct frame f;
	struct outcome o;

	base_world(&w);
	w.max_priority = 0; /* the default ceiling, 3 */
	w.cpu_max[3] = 8000;
	w.cpu_max[5] = 9500;
	w.fill[0] = 1;
	w.nodes[0][0] = (struct node){ .id = 1, .cpu = 9000 };
	tap_begin();
	EXPECT_EQ(world_apply(&w), 0);
	EXPECT_EQ(gmode(EP_AUTH_MODE_REQUIRED), 0);
	EXPECT_EQ(gkey_put(GKEY, 5, 0, false, 0, 0, 0, 0, 0, 0), 0);
	build(&f, &(struct task){ .ipv6 = ipv6, .prio = 5, .key = GKEY });
	run_gw(f.b, f.len, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("required: AUTH priority 5 under a role capped at 5 counts as 5 (95 %%): the "
		"node at 90 %% takes it [%s]",
		v);
	ep_xdp_delete_key(keys_fd, kstate_fd, GKEY);
	gmode(EP_AUTH_MODE_OFF);
}

/*
 * The reply relay (EP_GW_F_RELAY): a reply that comes back to the gateway is routed on
 * only if a present node sent it. Needs a FIB answer: the veth gw0 of test_redirect()'s
 * network namespace, forwarding on, the client's neighbour entry.
 */
static int relay_setup(void)
{
	return system("ip addr add 198.18.9.1/24 dev gw0 && "
		      "ip -6 addr add 2001:db8:9::1/64 dev gw0 nodad && "
		      "ip neigh add 198.18.9.9 lladdr 02:00:00:00:09:09 dev gw0 nud permanent && "
		      "ip -6 neigh add 2001:db8:9::9 lladdr 02:00:00:00:09:09 dev gw0 "
		      "nud permanent && sysctl -qw net.ipv4.conf.all.forwarding=1 "
		      "net.ipv6.conf.all.forwarding=1")
		       ? -1
		       : 0;
}

/* A RESPONSE from @src (port 7878) to the client @dst, sent by @mac. */
static size_t reply_frame(uint8_t *b, size_t len, bool ipv6, const char *src, const char *dst,
			  const uint8_t *mac)
{
	struct ep_msg m = {
		.kind = EP_KIND_RESPONSE, .priority = 3, .task_type = 1, .task_id = 77
	};
	uint8_t d[256];
	ssize_t n = ep_frag_build(&m, "ok", 2, 2, 0, d, sizeof(d));

	if (n < 0)
		return 0;
	return pkt_build(&(struct pkt_spec){ .ipv6 = ipv6,
					     .sport = PORT,
					     .dport = 40000,
					     .payload = d,
					     .payload_len = (size_t)n,
					     .src = src,
					     .dst = dst,
					     .src_mac = mac },
			 b, len);
}

static void run_relay(const uint8_t *frame, size_t len, int ifindex, struct outcome *o)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = o->out, .data_size_out = sizeof(o->out), .repeat = 1,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	struct snap a = { 0 }, b = { 0 }; /* zeros where a read fails: o->err says so */

	memset(o, 0, sizeof(*o));
	o->err = snap_read(&b);
	if (!o->err && bpf_prog_test_run_opts(gw_prog, &opts))
		o->err = -errno;
	o->act = (int)opts.retval;
	o->out_len = opts.data_size_out;
	if (!o->err)
		o->err = snap_read(&a);
	for (int i = 0; i < EP_GW_STAT__COUNT; i++)
		o->d.gw[i] = a.gw[i] - b.gw[i];
}

static void test_relay(bool have_netns)
{
	static const uint8_t attacker[6] = { 0x02, 0xa0, 0, 0, 0, 0x66 };
	const char *names[] = {
		"a forged reply from a non-worker: not relayed (to the kernel, relay_refused)",
		"a present node's reply from its address and MAC: relayed",
		"a present node's reply from the gateway's address (DSR) and its MAC: relayed",
		"a reply from a node's address but another MAC: not relayed",
		"a reply from the gateway's address and a MAC that is no node's: not relayed",
		"a reply from a routed (ENCAP) node's address, any MAC: relayed",
		"entries of the inactive half do not count",
		"relay off (no EP_GW_F_RELAY): neither relayed nor counted",
	};
	const char *fam6[2] = { "IPv4", "IPv6" };
	uint8_t n1mac[6], n2mac[6], f[512];
	struct world w;
	struct outcome o;
	int ifindex;
	size_t len;

	if (!have_netns || relay_setup()) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			for (int v6 = 0; v6 < 2; v6++) {
				char name[160];

				snprintf(name, sizeof(name), "relay: %s [%s]", names[i], fam6[v6]);
				tap_skip(name, "no network namespace with a FIB to relay through");
			}
		return;
	}
	ifindex = (int)if_nametoindex("gw0");
	node_mac(0, 1, n1mac);
	node_mac(0, 2, n2mac);
	base_world(&w);
	w.flags = EP_GW_F_RELAY;
	w.fill[0] = 1;
	w.nodes[0][0] = (struct node){ .id = 1, .ip4 = NODE_IP4(1) };
	w.nodes[0][1] = (struct node){ .id = 2, .ip4 = NODE_IP4(2), .flags = EP_NODE_F_ENCAP };
	for (int v6 = 0; v6 < 2; v6++) {
		const char *node1 = v6 ? "2001:db8:9::21" : "198.18.9.21";
		const char *node2 = v6 ? "2001:db8:9::22" : "198.18.9.22";
		const char *vip = v6 ? "2001:db8:9::1" : "198.18.9.1";
		const char *client = v6 ? "2001:db8:9::9" : "198.18.9.9";
		const char *other = v6 ? "2001:db8:9::66" : "198.18.9.66";
		struct {
			const char *src;
			const uint8_t *mac;
			bool relayed;
		} c[] = {
			{ other, attacker, false }, { node1, n1mac, true },
			{ vip, n1mac, true },	    { node1, attacker, false },
			{ vip, attacker, false },   { node2, attacker, true },
		};

		tap_begin();
		EXPECT_EQ(world_apply(&w), 0);
		/* What the controller publishes for these nodes and the gateway's address. */
		EXPECT_EQ(relay_put(0, EP_GW_RELAY_NODE, node1, n1mac, true, 1), 0);
		EXPECT_EQ(relay_put(0, EP_GW_RELAY_MAC, NULL, n1mac, false, 1), 0);
		EXPECT_EQ(relay_put(0, EP_GW_RELAY_NODE, node2, n2mac, false, 2), 0);
		EXPECT_EQ(relay_put(0, EP_GW_RELAY_VIP, vip, NULL, false, 0), 0);
		tap_end("relay: the published entries [%s]", fam6[v6]);
		for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
			len = reply_frame(f, sizeof(f), v6, c[i].src, client, c[i].mac);
			tap_begin();
			run_relay(f, len, ifindex, &o);
			if (c[i].relayed) {
				expect_act(&o, XDP_TX);
				expect_stats(&o, S(RELAY_REPLY));
				/* To the client's MAC, from ours, hop limit down by one. */
				EXPECT(o.out_len == len && !memcmp(o.out, "\x02\0\0\0\x09\x09", 6));
				EXPECT(o.out_len == len && o.out[v6 ? 14 + 7 : 14 + 8] == 63);
			} else {
				expect_act(&o, XDP_PASS);
				expect_stats(&o, S(RELAY_REFUSED));
				expect_untouched(&o, f, len);
			}
			tap_end("relay: %s [%s]", names[i], fam6[v6]);
		}

		/* The same entries in half 1 only: XDP reads half 0. */
		tap_begin();
		relay_clear();
		EXPECT_EQ(relay_put(1, EP_GW_RELAY_NODE, node1, n1mac, true, 1), 0);
		len = reply_frame(f, sizeof(f), v6, node1, client, n1mac);
		run_relay(f, len, ifindex, &o);
		expect_act(&o, XDP_PASS);
		expect_stats(&o, S(RELAY_REFUSED));
		tap_end("relay: %s [%s]", names[6], fam6[v6]);

		w.flags = 0;
		tap_begin();
		EXPECT_EQ(world_apply(&w), 0);
		EXPECT_EQ(relay_put(0, EP_GW_RELAY_NODE, node1, n1mac, true, 1), 0);
		run_relay(f, len, ifindex, &o);
		expect_act(&o, XDP_PASS);
		expect_stats(&o, 0);
		expect_untouched(&o, f, len);
		tap_end("relay: %s [%s]", names[7], fam6[v6]);
		w.flags = EP_GW_F_RELAY;
	}
}

/* --- 11: nodes behind another interface ------------------------------------------------ */

static int setup_veth(void)
{
	if (unshare(CLONE_NEWNET))
		return -errno;
	if (system("ip link add gw0 type veth peer name gw1 && ip link set gw0 up && "
		   "ip link set gw1 up"))
		return -ENODEV;
	return 0;
}

static int test_redirect(void)
{
	const char *names[] = {
		"DSR to a node behind another interface: XDP_REDIRECT",
		"encap to a node behind another interface: XDP_REDIRECT",
		"node on the ingress interface: XDP_TX, no redirect",
		"node behind an interface missing from ep_gw_devs: counted tx_error, dropped",
	};
	struct world w;
	struct frame f;
	struct outcome o;
	__u32 out_if, other_if;
	int err = setup_veth();

	if (err) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			tap_skip(names[i], "cannot create a veth in a private network namespace");
		return -1;
	}
	out_if = if_nametoindex("gw1");
	other_if = if_nametoindex("gw0");
	/* A test run's ingress is the namespace's loopback (ifindex 1). */
	if (bpf_map_update_elem(devs_fd, &out_if, &out_if, BPF_ANY)) {
		char why[128];

		/* The veth exists: refusing it is a failure, not a missing feature. */
		snprintf(why, sizeof(why), "devmap entry for a veth: %s", strerror(errno));
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			tap_begin();
			tap_fail(__FILE__, __LINE__, why);
			tap_end("%s", names[i]);
		}
		return 0;
	}
	base_world(&w);
	w.fill[0] = 1;
	build(&f, &(struct task){ 0 });

	w.nodes[0][0] = (struct node){ .id = 1, .ifindex = out_if };
	tap_begin();
	apply_run(&w, &f, &o);
	expect_act(&o, XDP_REDIRECT);
	expect_stats(&o, S(PICK_P2C) | S(FWD_DSR));
	expect_node(&o, 1, true, f.len);
	expect_dsr(&o, &f, 0, 1);
	tap_end("%s", names[0]);

	w.nodes[0][0] = (struct node){
		.id = 1, .ifindex = out_if, .flags = EP_NODE_F_ENCAP, .ip4 = NODE_IP4(1)
	};
	tap_begin();
	apply_run(&w, &f, &o);
	expect_act(&o, XDP_REDIRECT);
	expect_stats(&o, S(PICK_P2C) | S(FWD_ENCAP));
	expect_node(&o, 1, true, f.len);
	expect_encap(&o, &f, 0, 1);
	tap_end("%s", names[1]);

	w.nodes[0][0] = (struct node){ .id = 1, .ifindex = 1 };
	tap_begin();
	apply_run(&w, &f, &o);
	expect_forwarded(&o, &f, 0, 1, S(PICK_P2C), true);
	tap_end("%s", names[2]);

	w.nodes[0][0] = (struct node){ .id = 1, .ifindex = other_if };
	tap_begin();
	apply_run(&w, &f, &o);
	expect_act(&o, XDP_DROP);
	expect_stats(&o, S(PICK_P2C) | S(TX_ERROR));
	expect_node(&o, 0, false, 0);
	tap_end("%s", names[3]);

	bpf_map_delete_elem(devs_fd, &out_if);
	return 0;
}

/* The classifier that takes the encapsulation off must know the gateway and the node. */
static int cls_addr(struct ep_classifier *c, const char *a, uint32_t flags)
{
	struct ep_addr_key k;
	struct ep_addr_val v = { .flags = flags };

	if (ep_addr_parse(a, k.addr))
		return -EINVAL;
	return bpf_map_update_elem(bpf_map__fd(c->maps.ep_addrs), &k, &v, BPF_ANY) ? -errno : 0;
}

/*
 * Every map of the gateway is pinned by name (bpf/lib/pin.h): a restarted controller, and
 * edgectl, find all of its state in the pin directory, the rate limit's buckets too.
 * Only the program's own .rodata is not.
 */
static void test_pins(struct bpf_object *obj)
{
	static const char *const want[] = {
		EP_GW_PIN_CFG,	    EP_GW_PIN_NODES,  EP_GW_PIN_TABLE,	    EP_GW_PIN_SENT,
		EP_GW_PIN_AFFINITY, EP_GW_PIN_STATS,  EP_GW_PIN_NODE_STATS, EP_GW_PIN_DEVS,
		EP_GW_PIN_DROPS,    EP_GW_PIN_RL_CFG, EP_GW_PIN_RL_STATE,   EP_GW_PIN_RELAY,
		EP_GW_PIN_AUTH,	    EP_GW_PIN_KEYS,   EP_GW_PIN_KEY_STATE,
	};
	tap_begin();
	expect_pins(obj, want, ARRAY_SIZE(want));
	tap_end("pins: the gateway's skeleton pins every map by name");
}

int main(void)
{
	struct ep_config ccfg = { .encap_port = EP_ENCAP_PORT };
	int err;

	ep_log_set_ident("test_gateway");
	ep_log_set_level(EP_LOG_WARN);
	ep_log_route_libs();

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		printf("Bail out! cannot count the possible CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	gw = ep_gateway__open();
	if (gw)
		test_pins(gw->obj);
	if (gw && load_unpinned(gw->skeleton)) {
		ep_gateway__destroy(gw);
		gw = NULL;
	}
	if (!gw) {
		printf("Bail out! cannot load the gateway: %s\n", strerror(errno));
		return 1;
	}
	cls = ep_classifier__open();
	if (cls && load_unpinned(cls->skeleton)) {
		ep_classifier__destroy(cls);
		cls = NULL;
	}
	if (!cls) {
		printf("Bail out! cannot load the classifier: %s\n", strerror(errno));
		ep_gateway__destroy(gw);
		return 1;
	}
	gw_prog = bpf_program__fd(gw->progs.ep_gateway);
	cfg_fd = bpf_map__fd(gw->maps.ep_gw_cfg);
	nodes_fd = bpf_map__fd(gw->maps.ep_gw_nodes);
	table_fd = bpf_map__fd(gw->maps.ep_gw_table);
	sent_fd = bpf_map__fd(gw->maps.ep_gw_sent);
	aff_fd = bpf_map__fd(gw->maps.ep_gw_affinity);
	gstats_fd = bpf_map__fd(gw->maps.ep_gw_stats);
	nstats_fd = bpf_map__fd(gw->maps.ep_gw_node_stats);
	drops_fd = bpf_map__fd(gw->maps.ep_stats);
	devs_fd = bpf_map__fd(gw->maps.ep_gw_devs);
	rlcfg_fd = bpf_map__fd(gw->maps.ep_rl_cfg);
	rlstate_fd = bpf_map__fd(gw->maps.ep_rl_state);
	relay_fd = bpf_map__fd(gw->maps.ep_gw_relay);
	auth_fd = bpf_map__fd(gw->maps.ep_auth_cfg);
	keys_fd = bpf_map__fd(gw->maps.ep_keys);
	kstate_fd = bpf_map__fd(gw->maps.ep_key_state);
	cls_prog = bpf_program__fd(cls->progs.ep_classify);
	cls_stats_fd = bpf_map__fd(cls->maps.ep_stats);
	if (ep_xdp_write_config(bpf_map__fd(cls->maps.ep_cfg), &ccfg) ||
	    cls_addr(cls, "198.18.1.1", EP_ADDR_F_GATEWAY) || /* GW_IP4: the outer source */
	    cls_addr(cls, "198.18.2.1", EP_ADDR_F_LOCAL) ||   /* NODE_IP4(1): the node */
	    cls_addr(cls, "198.18.0.2", EP_ADDR_F_VIRTUAL) || /* the tasks' destination */
	    cls_addr(cls, "2001:db8::2", EP_ADDR_F_VIRTUAL) ||
	    cls_addr(cls, GW_IP6, EP_ADDR_F_GATEWAY) || /* the IPv6 underlay's outer source */
	    cls_addr(cls, NODE_IP6 "1", EP_ADDR_F_LOCAL)) {
		printf("Bail out! cannot configure the classifier\n");
		ep_classifier__destroy(cls);
		ep_gateway__destroy(gw);
		return 1;
	}

	test_hash_golden();
	for (size_t i = 0; i < ARRAY_SIZE(picks); i++)
		for (int v6 = 0; v6 < 2; v6++)
			test_pick(&picks[i], v6);
	for (int v6 = 0; v6 < 2; v6++) {
		test_sent_sequence(v6);
		test_affinity(v6);
		test_double_buffer(v6);
		test_loop(v6);
		test_overflow(v6);
		test_cloud_affinity(v6);
	}
	test_reject_shapes();
	test_big_table();
	test_big_scan();
	test_encap();
	test_encap6();
	test_not_tasks();
	for (int v6 = 0; v6 < 2; v6++) {
		test_task_quota(v6);
		test_priority_ceiling(v6);
		test_auth_cases(v6);
		test_auth_rates(v6);
		test_auth_affinity(v6);
		test_auth_priority(v6);
	}
	/* last: move this process into a network namespace of its own */
	test_relay(test_redirect() == 0);
	err = tap_finish();
	ep_classifier__destroy(cls);
	ep_gateway__destroy(gw);
	return err;
}
