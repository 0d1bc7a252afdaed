// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * config.c - the runtime's configuration: one table of keys (conf_keys[] below) gives the
 * defaults, the reading of the file (edgeplane/confread.h), its printing
 * (edgeplane --print-config) and docs/operations.md's reference (checked by
 * tests/integration/test_config.sh). What a table cannot say (one setting against
 * another, files that must be readable) is checked by ep_conf_validate().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "core/crypt.h"
#include "core/sign.h"
#include "daemon/config.h"
#include "daemon/keysrc.h"
#include "edgeplane/addrset.h"
#include "edgeplane/confread.h"
#include "daemon/report.h"
#include "edgeplane/util.h"
#include "edgeplane/log.h"
#include "edgeplane/metrics.h"
#include "edgeplane/payload.h"
#include "edgeplane/unixsock.h"

/*
 * limits.max_work's default (docs/handlers.md, "Work"): 4e9 units, about 40 ms of one core
 * of the machine the handlers' weights were measured on (an AVX-512 Xeon, where sgemm ran
 * at 1.1e11 float operations a second; tests/bench/bench_work.c), about 80-100 ms on a
 * core with AVX2 only. Every built-in's realistic tasks fit (a 1024^3 product, Sobel of a
 * 16-megapixel frame); the 609-byte matmul (2048 x 1023 x 2047: 8.9e9) does not.
 */
#define EP_DEFAULT_MAX_WORK 4000000000ull

#define MS 1000000ll /* ns */

static const struct ep_ck_name validation_names[] = {
	{ "amplification", EP_VALIDATE_AMPLIFICATION },
	{ "always", EP_VALIDATE_ALWAYS },
	{ "off-unsafe", EP_VALIDATE_OFF },
	{ NULL, 0 },
};
static const struct ep_ck_name tristate[] = {
	{ "auto", -1 }, { "on", 1 }, { "off", 0 }, { NULL, 0 }
};
static const struct ep_ck_name signing_modes[] = { { "required", 0 },
						   { "off-unsafe", 1 },
						   { NULL, 0 } };

const char *ep_validation_name(enum ep_validation v)
{
	const char *n = NULL;

	for (const struct ep_ck_name *e = validation_names; e->name && !n; e++)
		if (e->value == (long long)v)
			n = e->name;
	return n ? n : "?";
}

/* --- lists of addresses (xdp.virtual_addresses, xdp.encap_sources) ------------------ */

/* A list of numeric IPv4/IPv6 addresses (at most EP_XDP_MAX_CFG_ADDRS), replacing the
 * key's: the array at k->off, the count at k->count_off. */
static void read_addrs(struct ep_confread *rd, const config_setting_t *l, void *base,
		       const struct ep_conf_key *k)
{
	uint8_t(*out)[16] = (uint8_t(*)[16])((char *)base + k->off);
	unsigned int *n = (unsigned int *)((char *)base + k->count_off);

	if (!config_setting_is_array(l) && !config_setting_is_list(l)) {
		ep_conf_bad(rd, l,
			    "must be a list of at most 64 addresses: [ \"198.18.0.1\", "
			    "\"2001:db8::1\" ]");
		return;
	}
	if (config_setting_length(l) > EP_XDP_MAX_CFG_ADDRS) {
		ep_conf_bad(rd, l, "must be a list of at most 64 addresses");
		return;
	}
	*n = 0;
	for (int i = 0; i < config_setting_length(l); i++) {
		const char *a = config_setting_get_string_elem(l, i);

		if (!a || ep_addr_parse(a, out[*n])) {
			ep_conf_bad(rd, l,
				    "holds something that is not a numeric IPv4 or IPv6 "
				    "address");
			return;
		}
		(*n)++;
	}
}

static void print_addrs(FILE *f, const void *base, const struct ep_conf_key *k, int indent)
{
	const uint8_t(*a)[16] = (const uint8_t(*)[16])((const char *)base + k->off);
	unsigned int n = *(const unsigned int *)((const char *)base + k->count_off);
	const char *name = strrchr(k->path, '.') + 1;
	char buf[EP_ADDR_STRLEN];

	if (!n) {
		fprintf(f, "%*s# %s: unset; %s\n", indent, "", name, k->doc);
		return;
	}
	fprintf(f, "%*s%s = [", indent, "", name);
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : " ", ep_addr_format(a[i], buf, sizeof(buf)));
	fprintf(f, " ]; # %s\n", k->doc);
}

/* --- handlers ----------------------------------------------------------------------- */

#define HC struct ep_handler_conf
static const struct ep_conf_key handler_keys[] = {
	EP_CK_STRF("name", HC, name, NULL, "a built-in handler, or one of the plugin's"),
	EP_CK_STRF("plugin", HC, plugin, NULL, "a plugin: the shared object's absolute path"),
	EP_CK_INTF("type", HC, type, 1, 65535, 0, "the task type it serves; default: its own"),
	EP_CK_STRF("args", HC, args, NULL, "arguments for the handler's init"),
	{ .path = "files",
	  .type = EP_CK_STRS,
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(struct ep_handler_conf, files),
	  .count_off = offsetof(struct ep_handler_conf, nfiles),
	  .max = EP_MAX_FILES,
	  .doc = "warm-up files, read before init" },
	EP_CK_INTF("max_error", HC, max_error, 0, EP_FC_MAX_ERROR, 0,
		   "frame-coded tasks may be within +-this of the frame; 0: lossless"),
	{ 0 }
};
#undef HC

static void free_handlers(void *base, const struct ep_conf_key *k)
{
	struct ep_conf *c = base;

	(void)k;
	for (unsigned int i = 0; i < c->nhandlers; i++)
		ep_conf_table_free(handler_keys, &c->handlers[i]);
	c->nhandlers = 0;
}

/* One group of handlers = ( ... ). */
static void read_handler(struct ep_confread *rd, const config_setting_t *g, void *base)
{
	struct ep_conf *c = base;
	struct ep_handler_conf *h;

	if (c->nhandlers == EP_MAX_HANDLERS) {
		ep_conf_bad(rd, g, "must be a group, at most 64 of them");
		return;
	}
	h = &c->handlers[c->nhandlers++];
	ep_conf_table_defaults(handler_keys, h);
	ep_conf_table_read(rd, g, handler_keys, h);
	if (!h->name && !h->plugin)
		ep_conf_bad(rd, g, "needs a name (built-in) or a plugin path");
}

/* handlers = ( { name = "echo"; }, ... ): replaces the handlers before. */
static void read_handlers(struct ep_confread *rd, const config_setting_t *list, void *base,
			  const struct ep_conf_key *k)
{
	free_handlers(base, k);
	ep_conf_read_groups(rd, list, base, read_handler);
}

static const void *handler_at(const void *base, unsigned int i, void *buf)
{
	(void)buf;
	return &((const struct ep_conf *)base)->handlers[i];
}

static void print_handlers(FILE *f, const void *base, const struct ep_conf_key *k, int indent)
{
	ep_conf_print_groups(f, k, handler_keys, base, ((const struct ep_conf *)base)->nhandlers,
			     handler_at, NULL, indent);
}

/* --- the table ---------------------------------------------------------------------- */

#define C				struct ep_conf
/* An unsigned int (or other integer) key of struct ep_conf. */
#define K(p, f, lo, hi, def, doc)	EP_CK_INTF(p, C, f, lo, hi, def, doc)
/* A duration in the file's unit (ms or us) kept in ns. */
#define T(p, f, lo, hi, unit, def, doc) EP_CK_SCALED(p, C, f, lo, hi, unit, def, doc)
#define B(p, f, def, doc)		EP_CK_BOOLF(p, C, f, def, doc)
#define S(p, f, def, doc)		EP_CK_STRF(p, C, f, def, doc)
#define E(p, f, names, def, doc)	EP_CK_ENUMF(p, C, f, names, def, doc)
/* A list of addresses: the array f, its count n. */
#define ADDRS(p, f, n, doc_)                                                                       \
	{                                                                                          \
		.path = p, .type = EP_CK_CUSTOM, .off = offsetof(C, f),                            \
		.count_off = offsetof(C, n), .read = read_addrs, .print = print_addrs, .doc = doc_ \
	}

static const struct ep_conf_key conf_keys[] = {
	S("interface", interface, NULL, "afxdp, dpdk backends: the interface"),
	S("backend", backend, "afxdp", "afxdp, udp, uring or dpdk"),
	S("bind", bind, NULL, "udp, uring: the address to bind; default: all"),
	B("share_port", share_port, false, "udp, uring: another process may hold the port too"),
	K("port", port, 1, 65535, EP_DEFAULT_PORT, "the task port"),
	{ .path = "queues",
	  .type = EP_CK_INTS,
	  .size = sizeof(unsigned int),
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(struct ep_conf, queues),
	  .lo = 0,
	  .hi = EP_MAX_QUEUES - 1,
	  .count_off = offsetof(struct ep_conf, nqueues),
	  .max = EP_MAX_QUEUES,
	  .doc = "afxdp, dpdk: RX queues, a worker each; default: all" },
	K("workers", workers, 1, EP_MAX_QUEUES, 1, "udp, uring: sockets sharing the port"),
	{ .path = "cpus",
	  .type = EP_CK_INTS,
	  .size = sizeof(int),
	  .sgn = true,
	  .off = offsetof(struct ep_conf, cpus),
	  .lo = 0,
	  .hi = 4095,
	  .def = -1,
	  .max = EP_MAX_QUEUES,
	  .doc = "pin worker i to cpus[i]; default: CPU i" },

	S("xdp.mode", xdp_mode, "auto", "auto (native, else generic), native, skb"),
	E("xdp.zerocopy", zerocopy, tristate, -1, "auto, on, off"),
	B("xdp.busy_poll", busy_poll, false, "spin instead of sleeping; SO_BUSY_POLL"),
	K("xdp.frames", frames, 64, 4096, 4096, "UMEM frames per queue"),
	K("xdp.frame_size", frame_size, 2048, 4096, 4096, "at least limits.mtu + 100"),
	E("xdp.verify_checksum", verify_csum, tristate, 1, "check UDP checksums in userspace"),
	B("xdp.keep_attached", keep_attached, false, "leave the classifier attached at exit"),
	S("xdp.pin_dir", pin_dir, NULL, "where the maps are pinned"),
	K("xdp.encap_port", encap_port, 0, 65535, 0, "decapsulate a gateway's tasks; 0: none"),
	ADDRS("xdp.encap_sources", addrs.gateways, addrs.ngateways,
	      "the gateways that may send encapsulated tasks"),
	ADDRS("xdp.virtual_addresses", addrs.virtual_addrs, addrs.nvirtual,
	      "tasks to these addresses are this node's too"),
	E("xdp.destination_check", any_dest_unsafe, ep_ck_unsafe, 0,
	  "\"off-unsafe\": take tasks to any address"),
	B("xdp.reply_route", reply_route, true, "replies to the client's next hop (FIB)"),

	B("uring.sqpoll", uring.sqpoll, false, "a kernel thread polls the submission queue"),
	K("uring.sqpoll_cpu", uring.sqpoll_cpu, -1, 4095, -1, "its CPU; -1: not pinned"),
	K("uring.entries", uring.entries, 8, 4096, 256, "submission queue entries per worker"),
	K("uring.buffers", uring.buffers, 8, 32768, 256, "receive buffers: a power of two"),
	K("uring.zc_min", uring.zc_min, 0, 65535, 4096, "send_zc from this many bytes; 0: never"),

	B("dpdk.no_huge", dpdk.no_huge, true, "--no-huge; false: hugepages"),
	K("dpdk.memory_mb", dpdk.memory_mb, 64, 1 << 20, 256, "-m, DPDK's memory"),
	K("dpdk.mbufs", dpdk.mbufs, 2048, 1 << 20, 8192, "per queue"),
	S("dpdk.file_prefix", dpdk.file_prefix, NULL, "--file-prefix"),
	S("dpdk.lcores", dpdk.lcores, NULL, "--lcores"),
	K("dpdk.busy_budget", dpdk.busy_budget, 0, 65535, -1, "net_af_xdp's busy poll budget"),
	S("dpdk.xdp_prog", dpdk.xdp_prog, NULL, "the classifier object for DPDK"),
	S("dpdk.vdev", dpdk.vdev, NULL, "replaces the --vdev argument"),
	{ .path = "dpdk.eal_args",
	  .type = EP_CK_STRS,
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(struct ep_conf, dpdk.eal_args),
	  .count_off = offsetof(struct ep_conf, dpdk.neal_args),
	  .max = EP_DPDK_MAX_EAL_ARGS,
	  .doc = "more EAL arguments" },

	S("report.controller", report.controller, NULL, "edgectl serve's listen address"),
	{ .path = "report.controllers",
	  .type = EP_CK_STRS,
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(struct ep_conf, report.controllers),
	  .count_off = offsetof(struct ep_conf, report.ncontrollers),
	  .max = EP_REPORT_MAX_CONTROLLERS,
	  .doc = "or several: each gateway's controller (ECMP), the same reports to each" },
	K("report.node_id", report.node_id, 1, EP_GW_MAX_NODES - 1, 0, "this node's id"),
	K("report.capacity", report.capacity, 1, 1000000, 0, "default: 100 per worker"),
	S("report.cpu", report.cpu, "system", "\"system\" or \"process\""),
	K("report.interval_ms", report.interval_ms, 10, 10000, 100, "between reports"),
	K("report.event_ms", report.event_ms, 0, 1000, 2, "look for queues this often; 0: never"),

	K("batch.size", w.batch_size, 1, 1024, 32, "tasks per handler call"),
	T("batch.max_wait_us", w.batch_wait_ns, 0, 1000000, 1000, 0, "wait for a batch to fill"),

	K("limits.max_task_len", w.max_task_len, 1, EP_MAX_TASK_LEN, EP_DEFAULT_MAX_TASK_LEN,
	  "payload bytes after decompression"),
	K("limits.max_result_len", w.max_result_len, 1, EP_MAX_TASK_LEN, EP_DEFAULT_MAX_TASK_LEN,
	  "result bytes"),
	K("limits.queue_depth", w.queue_depth, 1, 1 << 20, 1024, "tasks queued per worker"),
	K("limits.mtu", w.mtu, 576, 9000, 1500, "replies are fragmented to fit"),
	K("limits.max_priority", w.max_priority, EP_PRIO_MIN, EP_PRIO_MAX, EP_PRIO_DEFAULT,
	  "the highest priority a device without a key gets"),
	K("limits.high_priority", w.high_priority, 0, EP_PRIO_MAX, 4,
	  "priorities from this up are isolated; 0: off"),
	K("limits.source_prefix_v4", w.reasm.prefix_v4, 0, 32, 24, "per-source limits' prefix"),
	K("limits.source_prefix_v6", w.reasm.prefix_v6, 0, 128, 64, "per-source limits' prefix"),
	K("limits.arena_bytes", w.arena_bytes, 1 << 20, 4ll << 30, 64 << 20,
	  "handler output memory per batch"),
	K("limits.held_bytes", w.held_bytes, 1 << 20, 64ll << 30, 256 << 20,
	  "payloads waiting, in total"),
	K("limits.max_work", w.max_work, 0, 1ll << 62, EP_DEFAULT_MAX_WORK,
	  "the work one task may ask for; 0: no cap"),

	E("validation.mode", w.validation, validation_names, EP_VALIDATE_AMPLIFICATION,
	  "amplification, always or off-unsafe"),
	S("validation.secret_file", validation.secret_file, NULL, "the tokens' master secret"),
	K("validation.token_period_s", validation.token_period_s, 10, 86400,
	  EP_TOKEN_DEFAULT_PERIOD_S, "a token lasts 2 to 3 periods"),

	E("auth.mode", w.auth_mode, ep_ck_auth_modes, EP_AUTH_MODE_REQUIRED,
	  "required, optional or off"),
	S("auth.keys_file", auth.keys_file, NULL, "the keys, a JSON array"),
	K("auth.node_id", auth.node_id, 1, UINT32_MAX, 0, "with keys_file: this node's id"),
	K("auth.report_key_id", auth.report_key_id, 1, 65535, 0, "the key sealing reports"),
	S("auth.controller", auth.controller, NULL, "the keys from the controller's sync"),
	S("auth.cert", auth.cert, NULL, "the node's certificate"),
	S("auth.key", auth.key, NULL, "its key"),
	S("auth.ca", auth.ca, NULL, "the controller's CA"),
	K("auth.sync_ms", auth.sync_ms, 50, 60000, 250, "a sync this often"),
	K("auth.clock_skew_s", w.clock_skew_s, 1, 3600, 5, "a pn's seconds may be this far off"),

	EP_CK_RATE_LIMIT(struct ep_conf, rate_limit),

	K("reassembly.max_tasks", w.reasm.max_tasks, 1, 1 << 20, 1024, "per worker"),
	K("reassembly.max_bytes", w.reasm.max_bytes, 4096, 64ll << 30, 256 << 20, "per worker"),
	K("reassembly.per_source_tasks", w.reasm.max_src_tasks, 1, 1 << 20, 64, "per prefix"),
	K("reassembly.per_source_bytes", w.reasm.max_src_bytes, 4096, 64ll << 30, 64 << 20,
	  "per prefix"),
	T("reassembly.timeout_ms", w.reasm.timeout_ns, 1, 600000, MS, 2000,
	  "no new fragment this long: TIMEOUT"),
	T("reassembly.max_lifetime_ms", w.reasm.max_lifetime_ns, 1, 3600000, MS, 10000,
	  "this long after the first fragment: TIMEOUT"),
	T("reassembly.ack_delay_ms", w.reasm.ack_delay_ns, 0, 1000, MS, 5,
	  "TASK_ACK after a pause this long; 0: none"),

	T("cache.window_ms", w.cache.window_ns, 1, 86400000, MS, 30000,
	  "a result answers retries this long"),
	K("cache.entries", w.cache.entries, 1, 1 << 24, 65536, "tasks remembered per worker"),
	K("cache.bytes", w.cache.bytes, 4096, 64ll << 30, 64 << 20, "reply bytes held per worker"),
	K("cache.max_replays", w.cache.max_replays, 0, 65535, 8, "cached replies per task"),

	K("replies.zstd_level", w.reply_zstd_level, 0, 19, 1, "compress results; 0: never"),
	K("replies.zstd_min", w.reply_zstd_min, 0, EP_MAX_TASK_LEN, 512, "from this many bytes"),

	EP_CK_CUSTOMF("handlers", read_handlers, print_handlers, free_handlers,
		      "default: every built-in at its default type"),

	S("signing.public_key", signing.public_key, NULL, "the operator's Ed25519 key, PEM"),
	E("signing.mode", signing.off_unsafe, signing_modes, 0, "required or off-unsafe"),
	S("file_encryption.key_file", file_encryption.key_file, NULL, "32 bytes, mode 0600"),

	S("stats_socket", stats_socket, NULL, "the statistics socket"),
	S("stats_socket_group", stats_socket_group, NULL, "the group that may read it"),
	S("metrics", metrics, NULL, "ADDR:PORT: serve Prometheus /metrics"),
	S("ready_file", ready_file, NULL, "the pid, written once ready"),
	S("log_level", log_level, "info", "error, warn, info, debug"),
	{ 0 }
};

void ep_conf_defaults(struct ep_conf *c)
{
	memset(c, 0, sizeof(*c));
	ep_conf_table_defaults(conf_keys, c);
	ep_xdp_rl_defaults(&c->rate_limit); /* the EP_CK_F_EXTDEF keys */
	/* Not in the file. */
	c->w.cache.resend_gap_ns = 10ull * 1000 * 1000;
	c->w.cache.resend_gap_single_ns = 1000ull * 1000;
	c->w.cpu = -1;
}

void ep_conf_free(struct ep_conf *c)
{
	ep_conf_table_free(conf_keys, c);
	memset(c, 0, sizeof(*c));
}

int ep_conf_load(struct ep_conf *c, const char *path)
{
	return ep_conf_table_load(conf_keys, c, path);
}

void ep_conf_print(FILE *f, const struct ep_conf *c)
{
	ep_conf_table_print(f, conf_keys, c, 0);
}

int ep_conf_parse_list(const char *s, int *out, unsigned int max, int lo, int hi)
{
	unsigned int n = 0;
	const char *p = s;

	while (*p) {
		char *end;
		long v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v < lo || v > hi || n == max || (*end && *end != ','))
			return -EINVAL;
		out[n++] = (int)v;
		p = *end ? end + 1 : end;
	}
	return n ? (int)n : -EINVAL;
}

int ep_conf_all_queues(struct ep_conf *c)
{
	char path[128];
	unsigned int n = 0;

	if (c->nqueues || !c->interface)
		return 0;
	for (; n < EP_MAX_QUEUES; n++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%u", c->interface, n);
		if (access(path, F_OK))
			break;
		c->queues[n] = n;
	}
	if (!n) {
		pr_err("interface %s: no RX queues under /sys/class/net (does it exist?)",
		       c->interface);
		return -ENODEV;
	}
	c->nqueues = n;
	c->queues_auto = true;
	return 0;
}

/* The dpdk backend's settings, and what it needs of the others. */
static int validate_dpdk(const struct ep_conf *c)
{
	/* Held by the kernel (the fill ring), by the TX ring, by the queued tasks, and in
	 * bursts and the per-lcore caches. */
	uint32_t need = c->w.queue_depth + 4608;

	if (!c->interface) {
		pr_err("the dpdk backend needs an interface (-i IFNAME or interface = \"...\")");
		return -EINVAL;
	}
	/* net_af_xdp's device arguments are separated by commas. */
	if (strchr(c->interface, ',') || (c->dpdk.xdp_prog && strchr(c->dpdk.xdp_prog, ','))) {
		pr_err("dpdk: the interface and dpdk.xdp_prog must not contain a comma");
		return -EINVAL;
	}
	for (unsigned int i = 1; i < c->nqueues; i++)
		if (c->queues[i] != c->queues[0] + i) {
			pr_err("queues: the dpdk backend serves consecutive RX queues in order "
			       "(net_af_xdp's start_queue and queue_count), like 2,3,4");
			return -EINVAL;
		}
	if (c->dpdk.mbufs < need) {
		pr_err("dpdk.mbufs (%u) must be at least limits.queue_depth + 4608 = %u (the "
		       "fill and TX rings, the queued tasks, bursts and caches)",
		       c->dpdk.mbufs, need);
		return -EINVAL;
	}
	if (c->dpdk.xdp_prog && access(c->dpdk.xdp_prog, R_OK)) {
		pr_err("dpdk.xdp_prog %s: %s", c->dpdk.xdp_prog, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* Group auth: a key source for a mode that takes AUTH, and what that source needs. */
static int validate_auth(const struct ep_conf *c)
{
	const char *mode = ep_xdp_auth_mode_name(c->w.auth_mode);

	if (c->w.auth_mode == EP_AUTH_MODE_OFF) {
		if (c->auth.keys_file || c->auth.controller)
			pr_warn("auth.mode = \"off\": auth.keys_file and auth.controller are not "
				"used (AUTH datagrams are answered UNSUPPORTED)");
		return 0;
	}
	if (!c->auth.keys_file && !c->auth.controller) {
		if (c->w.auth_mode == EP_AUTH_MODE_REQUIRED) {
			pr_err("auth.mode is \"required\" (the default): the node serves only "
			       "authenticated devices, and has no keys. Set auth.controller (with "
			       "auth.cert, auth.key and auth.ca) to sync them from the controller, "
			       "or auth.keys_file (with auth.node_id) to read them from a file; or "
			       "set auth.mode = \"off\" (or --auth-mode off) to serve without "
			       "authentication");
			return -EINVAL;
		}
		pr_warn("auth.mode = \"%s\" without auth.controller or auth.keys_file: every "
			"AUTH datagram is dropped (unknown key)",
			mode);
		return 0;
	}
	if (c->auth.keys_file && c->auth.controller) {
		pr_err("auth: set auth.controller or auth.keys_file, not both (a sync from the "
		       "controller replaces every key)");
		return -EINVAL;
	}
	if (c->auth.keys_file) {
		struct ep_keytab *t;
		int n;

		if (!c->auth.node_id) {
			pr_err("auth.keys_file is set: auth.node_id must say this node's id "
			       "(1..4294967295, unique among the nodes that share keys), the "
			       "sender "
			       "of the replies it seals");
			return -EINVAL;
		}
		/* Read it now: logs what is wrong with the file (owner, mode, contents). */
		t = ep_keytab_new();
		if (!t)
			return -ENOMEM;
		n = ep_keys_file_load(c->auth.keys_file, t, (uint16_t)c->auth.report_key_id, NULL);
		ep_keytab_free(t);
		if (n < 0)
			return -EINVAL;
	} else {
		struct sockaddr_storage ss;
		socklen_t len;

		if (ep_parse_sockaddr("auth.controller", c->auth.controller, 0, &ss, &len))
			return -EINVAL;
		if (!c->auth.cert || !c->auth.key || !c->auth.ca) {
			pr_err("auth.controller is set: auth.cert, auth.key (the node's "
			       "certificate, "
			       "OU=node, and its key) and auth.ca (the controller's CA) must be "
			       "too");
			return -EINVAL;
		}
		if (c->auth.node_id || c->auth.report_key_id)
			pr_warn("auth.node_id and auth.report_key_id are for auth.keys_file; with "
				"auth.controller, the sync gives the node's id and key");
	}
	return 0;
}

/* The public key loads, and is there if anything is to be signed (the signatures
 * themselves are checked when the runtime loads what they sign). */
static int check_signing(const struct ep_conf *c)
{
	struct ep_signing s;
	int err;

	if (c->signing.off_unsafe)
		return 0;
	err = ep_signing_init(&s, false, c->signing.public_key); /* logs */
	if (err || s.key)
		goto out;
	for (unsigned int i = 0; i < c->nhandlers && !err; i++) {
		const struct ep_handler_conf *h = &c->handlers[i];

		/* With no key: logs that one is needed, naming the file. */
		if (h->plugin)
			err = ep_signing_check(&s, "plugin", h->plugin, NULL, 0);
		else if (h->nfiles)
			err = ep_signing_check(&s, "handler file", h->files[0], NULL, 0);
	}
out:
	ep_signing_fini(&s);
	return err;
}

/* The backend, the interface and queues it serves, and what the file cannot check. */
static int validate_backend(const struct ep_conf *c)
{
	if (strcmp(c->backend, "afxdp") && strcmp(c->backend, "udp") &&
	    strcmp(c->backend, "uring") && strcmp(c->backend, "dpdk")) {
		pr_err("backend '%s': must be afxdp, udp, uring or dpdk", c->backend);
		return -EINVAL;
	}
	if (!strcmp(c->backend, "dpdk") && validate_dpdk(c))
		return -EINVAL;
	for (unsigned int i = 0; i < c->nhandlers; i++)
		if (c->handlers[i].plugin && c->handlers[i].plugin[0] != '/') {
			pr_err("handler plugin '%s': not an absolute path; give the whole path "
			       "(the loader's search path is not used)",
			       c->handlers[i].plugin);
			return -EINVAL;
		}
	if (!strcmp(c->backend, "afxdp") && !c->interface) {
		pr_err("the afxdp backend needs an interface (-i IFNAME or interface = \"...\")");
		return -EINVAL;
	}
	if (strcmp(c->xdp_mode, "auto") && strcmp(c->xdp_mode, "native") &&
	    strcmp(c->xdp_mode, "skb")) {
		pr_err("xdp mode '%s': must be auto, native or skb", c->xdp_mode);
		return -EINVAL;
	}
	if (c->uring.sqpoll_cpu >= sysconf(_SC_NPROCESSORS_CONF)) {
		pr_err("uring.sqpoll_cpu %d: this machine has CPUs 0..%ld", c->uring.sqpoll_cpu,
		       sysconf(_SC_NPROCESSORS_CONF) - 1);
		return -EINVAL;
	}
	if (c->uring.buffers & (c->uring.buffers - 1)) { /* the buffer ring's size */
		pr_err("uring.buffers %u: must be a power of two, 8..32768", c->uring.buffers);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < c->nqueues; i++)
		for (unsigned int j = 0; j < i; j++)
			if (c->queues[i] == c->queues[j]) {
				pr_err("queue %u is listed twice", c->queues[i]);
				return -EINVAL;
			}
	if (c->encap_port && !c->addrs.ngateways) {
		pr_err("xdp.encap_port %u is set, but xdp.encap_sources is empty: name the "
		       "gateways that may send encapsulated tasks (xdp.encap_sources = "
		       "[ \"ADDR\" ]); from anyone else, they are dropped",
		       c->encap_port);
		return -EINVAL;
	}
	if (c->encap_port && c->encap_port == c->port) {
		pr_err("xdp.encap_port %u is the task port", c->encap_port);
		return -EINVAL;
	}
	return 0;
}

/* The limits, the batch and the cache against one another. */
static int validate_limits(const struct ep_conf *c)
{
	if (c->w.max_result_len > c->w.arena_bytes) {
		pr_err("limits.max_result_len (%u) is larger than limits.arena_bytes (%llu)",
		       c->w.max_result_len, (unsigned long long)c->w.arena_bytes);
		return -EINVAL;
	}
	if (!strcmp(c->backend, "afxdp") && c->w.mtu + 100 > c->frame_size) {
		/* A reply fragment (mtu - 28 bytes of UDP payload) and its headers must fit a
		 * frame after the 128-byte headroom, and so must a received frame. */
		pr_err("limits.mtu %u needs xdp.frame_size of at least %u", c->w.mtu,
		       c->w.mtu + 100);
		return -EINVAL;
	}
	if (c->w.max_task_len > c->w.held_bytes) {
		pr_err("limits.max_task_len (%u) is larger than limits.held_bytes (%llu)",
		       c->w.max_task_len, (unsigned long long)c->w.held_bytes);
		return -EINVAL;
	}
	if (c->w.batch_size > c->w.queue_depth) {
		pr_err("batch.size (%u) is larger than limits.queue_depth (%u)", c->w.batch_size,
		       c->w.queue_depth);
		return -EINVAL;
	}
	/* Every queued or running task holds a pending result-cache entry, which nothing
	 * evicts: with fewer entries than the queue has tasks, the queue could never fill
	 * and the rest would be refused OVERLOADED. Below the queue plus the tasks being
	 * reassembled (which enter the cache when they complete), finished results are
	 * evicted so soon that a lost reply's retry may run its task again: a warning. */
	if (c->w.cache.entries < c->w.queue_depth) {
		pr_err("cache.entries (%u) is smaller than limits.queue_depth (%u): every "
		       "queued task holds a cache entry",
		       c->w.cache.entries, c->w.queue_depth);
		return -EINVAL;
	}
	if (c->w.cache.bytes / 4 < c->w.max_result_len)
		pr_warn("cache.bytes (%llu) keeps results of up to a quarter of it (%llu bytes) "
			"and limits.max_result_len is %u: larger results are not kept, so a "
			"retry of their task (one that lost its reply, or came back with an "
			"address-validation token) runs it again",
			(unsigned long long)c->w.cache.bytes,
			(unsigned long long)c->w.cache.bytes / 4, c->w.max_result_len);
	if ((uint64_t)c->w.cache.entries < (uint64_t)c->w.queue_depth + c->w.reasm.max_tasks)
		pr_warn("cache.entries (%u) is smaller than limits.queue_depth + "
			"reassembly.max_tasks (%llu): results may leave the cache before their "
			"retries come",
			c->w.cache.entries,
			(unsigned long long)c->w.queue_depth + c->w.reasm.max_tasks);
	return 0;
}

/* The files and addresses the settings name: readable, well-formed. Each logs. */
static int validate_files(const struct ep_conf *c)
{
	struct sockaddr_storage ss;
	enum ep_log_level lvl;
	socklen_t len;
	gid_t gid;

	if (c->stats_socket_group &&
	    ep_group_gid("stats_socket_group", c->stats_socket_group, &gid))
		return -EINVAL;
	if (ep_log_parse_level(c->log_level, &lvl)) {
		pr_err("log_level '%s': must be error, warn, info or debug", c->log_level);
		return -EINVAL;
	}
	if (c->validation.secret_file && c->w.validation != EP_VALIDATE_OFF) {
		struct ep_token_master m;

		/* Logs what is wrong with the file (its owner, its mode, its contents). */
		if (ep_token_master_load(&m, c->validation.secret_file,
					 c->validation.token_period_s))
			return -EINVAL;
		memset(&m, 0, sizeof(m));
	}
	if (check_signing(c))
		return -EINVAL;
	if (c->file_encryption.key_file) {
		uint8_t key[EP_CRYPT_KEY_LEN];

		/* Logs what is wrong with the file (its owner, its mode, its contents). */
		if (ep_read_secret("file_encryption.key_file", c->file_encryption.key_file, key,
				   sizeof(key)))
			return -EINVAL;
		explicit_bzero(key, sizeof(key));
	}
	if (c->metrics && ep_metrics_parse_listen(c->metrics, &ss, &len))
		return -EINVAL;
	return 0;
}

/* Group report: where to, and the node id the reports say. */
static int validate_report(const struct ep_conf *c)
{
	struct sockaddr_storage ss;
	enum ep_cpu_source cpu;
	socklen_t len;

	if (c->report.controller && c->report.ncontrollers) {
		pr_err("report: give report.controller or report.controllers, not both");
		return -EINVAL;
	}
	if (!c->report.controller && !c->report.ncontrollers)
		return 0;
	if (c->report.controller &&
	    ep_parse_sockaddr("report.controller", c->report.controller, 0, &ss, &len))
		return -EINVAL;
	for (unsigned int i = 0; i < c->report.ncontrollers; i++)
		if (ep_parse_sockaddr("report.controllers", c->report.controllers[i], 0, &ss, &len))
			return -EINVAL;
	/* Sealed reports speak for the node the key is: the controller takes them only for
	 * its node id (docs/protocol.md 7.1). With auth.controller that id comes with the
	 * sync; with a keys file's report key, it is auth.node_id. */
	bool sync_id = c->w.auth_mode != EP_AUTH_MODE_OFF && c->auth.controller;
	bool file_id =
		c->w.auth_mode != EP_AUTH_MODE_OFF && c->auth.keys_file && c->auth.report_key_id;

	if (file_id && c->report.node_id && c->report.node_id != c->auth.node_id) {
		pr_err("report.node_id %u is not auth.node_id %u: reports sealed with "
		       "auth.report_key_id are the node's, and must say its id",
		       c->report.node_id, c->auth.node_id);
		return -EINVAL;
	}
	if (file_id && !c->report.node_id && c->auth.node_id > EP_GW_MAX_NODES - 1) {
		pr_err("report.node_id: auth.node_id %u is beyond the gateway's node ids 1..%d: "
		       "set both to one of those",
		       c->auth.node_id, EP_GW_MAX_NODES - 1);
		return -EINVAL;
	}
	if (!c->report.node_id && !sync_id && !file_id) {
		pr_err("report.node_id: a node reporting to a controller needs an id 1..%d",
		       EP_GW_MAX_NODES - 1);
		return -EINVAL;
	}
	if (ep_cpu_source_parse(c->report.cpu, &cpu)) {
		pr_err("report.cpu '%s': must be \"system\" or \"process\"", c->report.cpu);
		return -EINVAL;
	}
	return 0;
}

int ep_conf_validate(const struct ep_conf *c)
{
	if (validate_backend(c) || validate_limits(c))
		return -EINVAL;
	if (ep_xdp_check_rl("rate_limit", &c->rate_limit))
		return -EINVAL;
	if (validate_auth(c) || validate_files(c) || validate_report(c))
		return -EINVAL;
	return 0;
}

static uint16_t sat16(uint64_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void ep_conf_limits(const struct ep_conf *c, struct ep_limits *l)
{
	/* Every node answers RESULT_ACK (docs/protocol.md 5.1), whatever its ack delay. */
	uint16_t flags = EP_LIM_F_REPLY_MTU | EP_LIM_F_PLAIN_REPLY | EP_LIM_F_ACKS | EP_LIM_F_FRAME;
	/* The per-prefix rate limits are the classifier's: none where no XDP runs. */
	bool rl = (!strcmp(c->backend, "afxdp") || !strcmp(c->backend, "dpdk")) &&
		  !(c->rate_limit.flags & EP_RL_F_OFF);

	if (c->w.validation != EP_VALIDATE_OFF)
		flags |= EP_LIM_F_TOKENS;
	if (c->w.validation == EP_VALIDATE_ALWAYS)
		flags |= EP_LIM_F_ALWAYS_RETRY;
	*l = (struct ep_limits){
		.max_task_len = ep_be32(c->w.max_task_len),
		.max_result_len = ep_be32(c->w.max_result_len),
		.reasm_timeout_ms = ep_be32(sat32(c->w.reasm.timeout_ns / 1000000)),
		.reasm_lifetime_ms = ep_be32(sat32(c->w.reasm.max_lifetime_ns / 1000000)),
		.per_source_tasks = ep_be16(sat16(c->w.reasm.max_src_tasks)),
		.mtu = ep_be16(sat16(c->w.mtu)),
		.max_priority = c->w.max_priority,
		.amp_factor = c->w.validation == EP_VALIDATE_OFF ? 0 : EP_AMP_FACTOR,
		.source_prefix_v4 = c->w.reasm.prefix_v4,
		.source_prefix_v6 = c->w.reasm.prefix_v6,
		.rate_packets = ep_be32(rl ? c->rate_limit.packets_per_s : 0),
		.rate_kib = ep_be32(rl ? c->rate_limit.bytes_per_s / 1024 : 0),
		.max_work = ep_be64(c->w.max_work),
		.cache_window_ms = ep_be32(sat32(c->w.cache.window_ns / 1000000)),
		.max_replays = ep_be16(sat16(c->w.cache.max_replays)),
		.flags = ep_be16(flags),
	};
}
