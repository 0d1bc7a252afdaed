// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
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

void ep_conf_defaults(struct ep_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = strdup("afxdp");
	c->port = EP_DEFAULT_PORT;
	c->nqueues = 0; /* afxdp: every RX queue of the interface (ep_conf_all_queues) */
	c->workers = 1;
	for (unsigned int i = 0; i < EP_MAX_QUEUES; i++)
		c->cpus[i] = -1;
	c->xdp_mode = strdup("auto");
	c->encap_port = 0; /* encapsulation only when asked for, from named gateways */
	c->reply_route = true;
	ep_xdp_rl_defaults(&c->rate_limit);
	c->report.interval_ms = 100;
	c->report.event_ms = 2;
	c->report.cpu = strdup("system");
	c->zerocopy = -1;
	c->verify_csum = 1; /* docs/protocol.md 1: a bad UDP checksum is dropped */
	c->frames = 4096;
	c->frame_size = 4096;
	c->uring = (struct ep_io_uring_cfg){
		.sqpoll_cpu = -1, .entries = 256, .buffers = 256, .zc_min = 4096
	};
	c->dpdk.no_huge = true;
	c->dpdk.memory_mb = 256;
	c->dpdk.busy_budget = -1;
	c->dpdk.mbufs = 8192;
	c->log_level = strdup("info");
	c->w = (struct ep_worker_cfg){
		.batch_size = 32,
		.batch_wait_ns = 0,	/* opportunistic: a batch is what arrived together */
		.queue_depth = 1024,
		.max_task_len = EP_DEFAULT_MAX_TASK_LEN,
		.max_result_len = EP_DEFAULT_MAX_TASK_LEN,
		.mtu = 1500,
		.max_priority = EP_PRIO_DEFAULT,
		.high_priority = 4,	/* priorities 4 and 5 isolated from the rest */
		.reply_zstd_level = 1,
		.reply_zstd_min = 512,
		.arena_bytes = 64u << 20,
		.held_bytes = 256u << 20,
		.reasm = {
			.max_tasks = 1024,
			.max_bytes = 256u << 20,
			.max_src_tasks = 64,
			.max_src_bytes = 64u << 20,
			.prefix_v4 = 24,
			.prefix_v6 = 64,
			.timeout_ns = 2000ull * 1000 * 1000,
			.max_lifetime_ns = 10000ull * 1000 * 1000,
			.ack_delay_ns = 5ull * 1000 * 1000,
		},
		.cache = {
			.window_ns = 30ull * 1000 * 1000 * 1000,
			.entries = 65536,
			.bytes = 64u << 20,
			.max_replays = 8,
			.resend_gap_ns = 10ull * 1000 * 1000,
			.resend_gap_single_ns = 1000ull * 1000,
		},
		.cpu = -1,
		.validation = EP_VALIDATE_AMPLIFICATION,
		.max_work = EP_DEFAULT_MAX_WORK,
		.auth_mode = EP_AUTH_MODE_REQUIRED,
		.clock_skew_s = 5,
	};
	c->validation.token_period_s = EP_TOKEN_DEFAULT_PERIOD_S;
	c->auth.sync_ms = 250;
}

static const char *const validation_names[] = {
	[EP_VALIDATE_AMPLIFICATION] = "amplification",
	[EP_VALIDATE_ALWAYS] = "always",
	[EP_VALIDATE_OFF] = "off-unsafe",
};

const char *ep_validation_name(enum ep_validation v)
{
	return (unsigned int)v < sizeof(validation_names) / sizeof(validation_names[0])
		       ? validation_names[v]
		       : "?";
}

static void free_handler(struct ep_handler_conf *h)
{
	free(h->name);
	free(h->plugin);
	free(h->args);
	for (unsigned int i = 0; i < h->nfiles; i++)
		free(h->files[i]);
	memset(h, 0, sizeof(*h));
}

void ep_conf_free(struct ep_conf *c)
{
	free(c->backend);
	free(c->interface);
	free(c->bind);
	free(c->xdp_mode);
	free(c->pin_dir);
	free(c->report.controller);
	free(c->report.cpu);
	free(c->stats_socket);
	free(c->stats_socket_group);
	free(c->metrics);
	free(c->ready_file);
	free(c->log_level);
	free(c->validation.secret_file);
	free(c->auth.keys_file);
	free(c->auth.controller);
	free(c->auth.cert);
	free(c->auth.key);
	free(c->auth.ca);
	free(c->signing.public_key);
	free(c->file_encryption.key_file);
	for (unsigned int i = 0; i < c->dpdk.neal_args; i++)
		free(c->dpdk.eal_args[i]);
	free(c->dpdk.file_prefix);
	free(c->dpdk.lcores);
	free(c->dpdk.vdev);
	free(c->dpdk.xdp_prog);
	for (unsigned int i = 0; i < c->nhandlers; i++)
		free_handler(&c->handlers[i]);
	memset(c, 0, sizeof(*c));
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

/* --- reading ------------------------------------------------------------------------ */

/* A list of numeric IPv4/IPv6 addresses (at most EP_XDP_MAX_CFG_ADDRS), replacing @out. */
static void get_addrs(struct ep_confread *rd, const config_setting_t *g, const char *name,
		      uint8_t (*out)[16], unsigned int *n)
{
	const config_setting_t *l = config_setting_get_member(g, name);

	if (!l)
		return;
	if ((!config_setting_is_array(l) && !config_setting_is_list(l)) ||
	    config_setting_length(l) > EP_XDP_MAX_CFG_ADDRS) {
		ep_conf_bad(rd, l,
			    "must be a list of at most 64 addresses: [ \"198.18.0.1\", "
			    "\"2001:db8::1\" ]");
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

/* "auto" (-1), "on" (1) or "off" (0). */
static void get_tristate(struct ep_confread *rd, const config_setting_t *g, const char *name,
			 int *out)
{
	char *v = NULL;

	ep_conf_str(rd, g, name, &v);
	if (!v)
		return;
	if (!strcmp(v, "auto") || !strcmp(v, "on") || !strcmp(v, "off"))
		*out = !strcmp(v, "on") ? 1 : !strcmp(v, "off") ? 0 : -1;
	else
		ep_conf_bad(rd, config_setting_get_member(g, name),
			    "must be \"auto\", \"on\" or \"off\"");
	free(v);
}

static void read_handlers(struct ep_confread *rd, struct ep_conf *c, const config_setting_t *list)
{
	static const char *const names[] = { "name",  "plugin",	   "type", "args",
					     "files", "max_error", NULL };

	if (!config_setting_is_list(list)) {
		ep_conf_bad(rd, list, "must be a list of groups: ( { name = \"echo\"; }, ... )");
		return;
	}
	for (unsigned int i = 0; i < c->nhandlers; i++)
		free_handler(&c->handlers[i]);
	c->nhandlers = 0;
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned int)i);
		struct ep_handler_conf *h;
		const config_setting_t *files;
		long long type;

		if (c->nhandlers == EP_MAX_HANDLERS || !config_setting_is_group(g)) {
			ep_conf_bad(rd, g, "must be a group, at most 64 of them");
			return;
		}
		h = &c->handlers[c->nhandlers++];
		ep_conf_known(rd, g, names);
		ep_conf_str(rd, g, "name", &h->name);
		ep_conf_str(rd, g, "plugin", &h->plugin);
		ep_conf_str(rd, g, "args", &h->args);
		if (ep_conf_num(rd, g, "type", 1, 65535, &type))
			h->type = (uint16_t)type;
		/* Frame-coded tasks of this type may be within +-max_error (fcodec.h). */
		if (ep_conf_num(rd, g, "max_error", 0, EP_FC_MAX_ERROR, &type))
			h->max_error = (uint8_t)type;
		if (!h->name && !h->plugin)
			ep_conf_bad(rd, g, "needs a name (built-in) or a plugin path");
		files = config_setting_get_member(g, "files");
		if (files) {
			if (!config_setting_is_array(files) ||
			    config_setting_length(files) > EP_MAX_FILES) {
				ep_conf_bad(rd, files, "must be a list of at most 16 paths");
				continue;
			}
			for (int f = 0; f < config_setting_length(files); f++) {
				const char *p = config_setting_get_string_elem(files, f);

				if (!p) {
					ep_conf_bad(rd, files, "must hold strings");
					break;
				}
				h->files[h->nfiles++] = strdup(p);
			}
		}
	}
}

static void read_dpdk(struct ep_confread *rd, struct ep_conf *c, const config_setting_t *g)
{
	static const char *const names[] = { "eal_args", "no_huge", "memory_mb", "file_prefix",
					     "lcores",	 "vdev",    "xdp_prog",	 "busy_budget",
					     "mbufs",	 NULL };
	const config_setting_t *args;
	long long v;

	ep_conf_known(rd, g, names);
	ep_conf_bool(rd, g, "no_huge", &c->dpdk.no_huge);
	EP_CONF_U32(rd, g, "memory_mb", 64, 1 << 20, c->dpdk.memory_mb);
	ep_conf_str(rd, g, "file_prefix", &c->dpdk.file_prefix);
	ep_conf_str(rd, g, "lcores", &c->dpdk.lcores);
	ep_conf_str(rd, g, "vdev", &c->dpdk.vdev);
	ep_conf_str(rd, g, "xdp_prog", &c->dpdk.xdp_prog);
	if (ep_conf_num(rd, g, "busy_budget", 0, 65535, &v))
		c->dpdk.busy_budget = (int)v;
	EP_CONF_U32(rd, g, "mbufs", 2048, 1 << 20, c->dpdk.mbufs);
	args = config_setting_get_member(g, "eal_args");
	if (!args)
		return;
	if ((!config_setting_is_array(args) && !config_setting_is_list(args)) ||
	    config_setting_length(args) > EP_DPDK_MAX_EAL_ARGS) {
		ep_conf_bad(rd, args, "must be a list of at most 32 strings");
		return;
	}
	for (unsigned int i = 0; i < c->dpdk.neal_args; i++)
		free(c->dpdk.eal_args[i]);
	c->dpdk.neal_args = 0;
	for (int i = 0; i < config_setting_length(args); i++) {
		const char *a = config_setting_get_string_elem(args, i);

		if (!a) {
			ep_conf_bad(rd, args, "must hold strings");
			return;
		}
		c->dpdk.eal_args[c->dpdk.neal_args++] = strdup(a);
	}
}

int ep_conf_load(struct ep_conf *c, const char *path)
{
	static const char *const top[] = { "backend",
					   "interface",
					   "bind",
					   "share_port",
					   "port",
					   "queues",
					   "workers",
					   "cpus",
					   "xdp",
					   "batch",
					   "limits",
					   "reassembly",
					   "cache",
					   "replies",
					   "handlers",
					   "stats_socket",
					   "stats_socket_group",
					   "metrics",
					   "ready_file",
					   "log_level",
					   "report",
					   "uring",
					   "dpdk",
					   "rate_limit",
					   "validation",
					   "auth",
					   "signing",
					   "file_encryption",
					   NULL };
	static const char *const xdp[] = { "mode",
					   "zerocopy",
					   "busy_poll",
					   "frames",
					   "frame_size",
					   "keep_attached",
					   "pin_dir",
					   "verify_checksum",
					   "encap_port",
					   "reply_route",
					   "encap_sources",
					   "virtual_addresses",
					   "destination_check",
					   NULL };
	static const char *const batch[] = { "size", "max_wait_us", NULL };
	static const char *const limits[] = {
		"max_task_len",	    "max_result_len",	"queue_depth",	"mtu",
		"arena_bytes",	    "held_bytes",	"max_priority", "high_priority",
		"source_prefix_v4", "source_prefix_v6", "max_work",	NULL
	};
	static const char *const reasm[] = { "max_tasks",	 "max_bytes",  "per_source_tasks",
					     "per_source_bytes", "timeout_ms", "max_lifetime_ms",
					     "ack_delay_ms",	 NULL };
	static const char *const cache[] = { "window_ms", "entries", "bytes", "max_replays", NULL };
	static const char *const replies[] = { "zstd_level", "zstd_min", NULL };
	static const char *const validation[] = { "mode", "secret_file", "token_period_s", NULL };
	static const char *const auth[] = { "mode",	     "keys_file", "controller",
					    "cert",	     "key",	  "ca",
					    "sync_ms",	     "node_id",	  "clock_skew_s",
					    "report_key_id", NULL };
	static const char *const report[] = { "controller", "node_id", "interval_ms", "event_ms",
					      "capacity",   "cpu",     NULL };
	static const char *const signing[] = { "public_key", "mode", NULL };
	static const char *const file_encryption[] = { "key_file", NULL };
	static const char *const uring[] = { "sqpoll",	"sqpoll_cpu", "entries",
					     "buffers", "zc_min",     NULL };
	struct ep_confread rd = { .path = path };
	const config_setting_t *root, *g;
	int queues[EP_MAX_QUEUES], n;
	long long v;
	config_t cf;

	if (ep_conf_open(&cf, path))
		return -EINVAL;
	root = config_root_setting(&cf);
	ep_conf_known(&rd, root, top);

	ep_conf_str(&rd, root, "backend", &c->backend);
	ep_conf_str(&rd, root, "interface", &c->interface);
	ep_conf_str(&rd, root, "bind", &c->bind);
	ep_conf_bool(&rd, root, "share_port", &c->share_port);
	ep_conf_str(&rd, root, "stats_socket", &c->stats_socket);
	ep_conf_str(&rd, root, "stats_socket_group", &c->stats_socket_group);
	ep_conf_str(&rd, root, "metrics", &c->metrics);
	ep_conf_str(&rd, root, "ready_file", &c->ready_file);
	ep_conf_str(&rd, root, "log_level", &c->log_level);
	if (ep_conf_num(&rd, root, "port", 1, 65535, &v))
		c->port = (uint16_t)v;
	n = ep_conf_int_list(&rd, root, "queues", queues, EP_MAX_QUEUES, 0, EP_MAX_QUEUES - 1);
	if (n > 0) {
		c->nqueues = (unsigned int)n;
		for (int i = 0; i < n; i++)
			c->queues[i] = (unsigned int)queues[i];
	}
	ep_conf_int_list(&rd, root, "cpus", c->cpus, EP_MAX_QUEUES, 0, 4095);
	EP_CONF_U32(&rd, root, "workers", 1, EP_MAX_QUEUES, c->workers);

	if ((g = config_setting_get_member(root, "xdp"))) {
		ep_conf_known(&rd, g, xdp);
		ep_conf_str(&rd, g, "mode", &c->xdp_mode);
		ep_conf_str(&rd, g, "pin_dir", &c->pin_dir);
		ep_conf_bool(&rd, g, "busy_poll", &c->busy_poll);
		ep_conf_bool(&rd, g, "keep_attached", &c->keep_attached);
		EP_CONF_U32(&rd, g, "frames", 64, 4096, c->frames);
		EP_CONF_U32(&rd, g, "frame_size", 2048, 4096, c->frame_size);
		get_tristate(&rd, g, "zerocopy", &c->zerocopy);
		get_tristate(&rd, g, "verify_checksum", &c->verify_csum);
		ep_conf_bool(&rd, g, "reply_route", &c->reply_route);
		if (ep_conf_num(&rd, g, "encap_port", 0, 65535, &v))
			c->encap_port = (uint16_t)v;
		get_addrs(&rd, g, "virtual_addresses", c->addrs.virtual_addrs, &c->addrs.nvirtual);
		get_addrs(&rd, g, "encap_sources", c->addrs.gateways, &c->addrs.ngateways);
		ep_conf_unsafe(&rd, g, "destination_check", "on", &c->any_dest_unsafe);
	}
	if ((g = config_setting_get_member(root, "rate_limit")))
		ep_conf_rate_limit(&rd, g, &c->rate_limit, false);
	if ((g = config_setting_get_member(root, "uring"))) {
		ep_conf_known(&rd, g, uring);
		ep_conf_bool(&rd, g, "sqpoll", &c->uring.sqpoll);
		if (ep_conf_num(&rd, g, "sqpoll_cpu", -1, 4095, &v))
			c->uring.sqpoll_cpu = (int)v;
		EP_CONF_U32(&rd, g, "entries", 8, 4096, c->uring.entries);
		if (ep_conf_num(&rd, g, "buffers", 8, 32768, &v)) {
			if (v & (v - 1)) /* the buffer ring's size */
				ep_conf_bad(&rd, config_setting_get_member(g, "buffers"),
					    "must be a power of two, 8..32768");
			else
				c->uring.buffers = (uint32_t)v;
		}
		EP_CONF_U32(&rd, g, "zc_min", 0, 65535, c->uring.zc_min);
	}
	if ((g = config_setting_get_member(root, "dpdk")))
		read_dpdk(&rd, c, g);
	if ((g = config_setting_get_member(root, "report"))) {
		ep_conf_known(&rd, g, report);
		ep_conf_str(&rd, g, "controller", &c->report.controller);
		ep_conf_str(&rd, g, "cpu", &c->report.cpu);
		EP_CONF_U32(&rd, g, "node_id", 1, EP_GW_MAX_NODES - 1, c->report.node_id);
		EP_CONF_U32(&rd, g, "interval_ms", 10, 10000, c->report.interval_ms);
		EP_CONF_U32(&rd, g, "event_ms", 0, 1000, c->report.event_ms);
		EP_CONF_U32(&rd, g, "capacity", 1, 1000000, c->report.capacity);
	}
	if ((g = config_setting_get_member(root, "batch"))) {
		ep_conf_known(&rd, g, batch);
		EP_CONF_U32(&rd, g, "size", 1, 1024, c->w.batch_size);
		if (ep_conf_num(&rd, g, "max_wait_us", 0, 1000000, &v))
			c->w.batch_wait_ns = (uint64_t)v * 1000;
	}
	if ((g = config_setting_get_member(root, "limits"))) {
		ep_conf_known(&rd, g, limits);
		EP_CONF_U32(&rd, g, "max_task_len", 1, EP_MAX_TASK_LEN, c->w.max_task_len);
		EP_CONF_U32(&rd, g, "max_result_len", 1, EP_MAX_TASK_LEN, c->w.max_result_len);
		EP_CONF_U32(&rd, g, "queue_depth", 1, 1 << 20, c->w.queue_depth);
		EP_CONF_U32(&rd, g, "mtu", 576, 9000, c->w.mtu);
		if (ep_conf_num(&rd, g, "max_priority", EP_PRIO_MIN, EP_PRIO_MAX, &v))
			c->w.max_priority = (uint8_t)v;
		if (ep_conf_num(&rd, g, "high_priority", 0, EP_PRIO_MAX, &v))
			c->w.high_priority = (uint8_t)v;
		if (ep_conf_num(&rd, g, "source_prefix_v4", 0, 32, &v))
			c->w.reasm.prefix_v4 = (uint8_t)v;
		if (ep_conf_num(&rd, g, "source_prefix_v6", 0, 128, &v))
			c->w.reasm.prefix_v6 = (uint8_t)v;
		if (ep_conf_num(&rd, g, "arena_bytes", 1 << 20, 4ll << 30, &v))
			c->w.arena_bytes = (uint64_t)v;
		if (ep_conf_num(&rd, g, "held_bytes", 1 << 20, 64ll << 30, &v))
			c->w.held_bytes = (uint64_t)v;
		if (ep_conf_num(&rd, g, "max_work", 0, 1ll << 62, &v))
			c->w.max_work = (uint64_t)v;
	}
	if ((g = config_setting_get_member(root, "validation"))) {
		char *mode = NULL;

		ep_conf_known(&rd, g, validation);
		ep_conf_str(&rd, g, "mode", &mode);
		ep_conf_str(&rd, g, "secret_file", &c->validation.secret_file);
		EP_CONF_U32(&rd, g, "token_period_s", 10, 86400, c->validation.token_period_s);
		if (mode) {
			unsigned int i;

			for (i = 0; i < sizeof(validation_names) / sizeof(validation_names[0]); i++)
				if (!strcmp(mode, validation_names[i]))
					break;
			if (i < sizeof(validation_names) / sizeof(validation_names[0]))
				c->w.validation = (enum ep_validation)i;
			else
				ep_conf_bad(&rd, config_setting_get_member(g, "mode"),
					    "must be \"amplification\", \"always\" or "
					    "\"off-unsafe\"");
			free(mode);
		}
	}
	if ((g = config_setting_get_member(root, "auth"))) {
		char *mode = NULL;

		ep_conf_known(&rd, g, auth);
		ep_conf_str(&rd, g, "mode", &mode);
		if (mode && ep_xdp_parse_auth_mode(mode, &c->w.auth_mode))
			ep_conf_bad(&rd, config_setting_get_member(g, "mode"),
				    "must be \"required\", \"optional\" or \"off\"");
		free(mode);
		ep_conf_str(&rd, g, "keys_file", &c->auth.keys_file);
		ep_conf_str(&rd, g, "controller", &c->auth.controller);
		ep_conf_str(&rd, g, "cert", &c->auth.cert);
		ep_conf_str(&rd, g, "key", &c->auth.key);
		ep_conf_str(&rd, g, "ca", &c->auth.ca);
		EP_CONF_U32(&rd, g, "sync_ms", 50, 60000, c->auth.sync_ms);
		EP_CONF_U32(&rd, g, "node_id", 1, UINT32_MAX, c->auth.node_id);
		EP_CONF_U32(&rd, g, "clock_skew_s", 1, 3600, c->w.clock_skew_s);
		EP_CONF_U32(&rd, g, "report_key_id", 1, 65535, c->auth.report_key_id);
	}
	if ((g = config_setting_get_member(root, "reassembly"))) {
		ep_conf_known(&rd, g, reasm);
		EP_CONF_U32(&rd, g, "max_tasks", 1, 1 << 20, c->w.reasm.max_tasks);
		EP_CONF_U32(&rd, g, "per_source_tasks", 1, 1 << 20, c->w.reasm.max_src_tasks);
		if (ep_conf_num(&rd, g, "max_bytes", 4096, 64ll << 30, &v))
			c->w.reasm.max_bytes = (uint64_t)v;
		if (ep_conf_num(&rd, g, "per_source_bytes", 4096, 64ll << 30, &v))
			c->w.reasm.max_src_bytes = (uint64_t)v;
		if (ep_conf_num(&rd, g, "timeout_ms", 1, 600000, &v))
			c->w.reasm.timeout_ns = (uint64_t)v * 1000000;
		if (ep_conf_num(&rd, g, "max_lifetime_ms", 1, 3600000, &v))
			c->w.reasm.max_lifetime_ns = (uint64_t)v * 1000000;
		/* 0: no TASK_ACK while reassembling (RESULT_ACKs are answered still). */
		if (ep_conf_num(&rd, g, "ack_delay_ms", 0, 1000, &v))
			c->w.reasm.ack_delay_ns = (uint64_t)v * 1000000;
	}
	if ((g = config_setting_get_member(root, "cache"))) {
		ep_conf_known(&rd, g, cache);
		EP_CONF_U32(&rd, g, "entries", 1, 1 << 24, c->w.cache.entries);
		if (ep_conf_num(&rd, g, "window_ms", 1, 86400000, &v))
			c->w.cache.window_ns = (uint64_t)v * 1000000;
		if (ep_conf_num(&rd, g, "bytes", 4096, 64ll << 30, &v))
			c->w.cache.bytes = (uint64_t)v;
		EP_CONF_U32(&rd, g, "max_replays", 0, 65535, c->w.cache.max_replays);
	}
	if ((g = config_setting_get_member(root, "replies"))) {
		ep_conf_known(&rd, g, replies);
		if (ep_conf_num(&rd, g, "zstd_level", 0, 19, &v))
			c->w.reply_zstd_level = (int)v;
		EP_CONF_U32(&rd, g, "zstd_min", 0, EP_MAX_TASK_LEN, c->w.reply_zstd_min);
	}
	if ((g = config_setting_get_member(root, "handlers")))
		read_handlers(&rd, c, g);
	if ((g = config_setting_get_member(root, "signing"))) {
		ep_conf_known(&rd, g, signing);
		ep_conf_str(&rd, g, "public_key", &c->signing.public_key);
		ep_conf_unsafe(&rd, g, "mode", "required", &c->signing.off_unsafe);
	}
	if ((g = config_setting_get_member(root, "file_encryption"))) {
		ep_conf_known(&rd, g, file_encryption);
		ep_conf_str(&rd, g, "key_file", &c->file_encryption.key_file);
	}

	config_destroy(&cf);
	return rd.err;
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

int ep_conf_validate(const struct ep_conf *c)
{
	enum ep_log_level lvl;

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
	if (c->stats_socket_group) {
		gid_t gid;

		if (ep_group_gid("stats_socket_group", c->stats_socket_group, &gid))
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
	if (ep_log_parse_level(c->log_level, &lvl)) {
		pr_err("log_level '%s': must be error, warn, info or debug", c->log_level);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < c->nqueues; i++)
		for (unsigned int j = 0; j < i; j++)
			if (c->queues[i] == c->queues[j]) {
				pr_err("queue %u is listed twice", c->queues[i]);
				return -EINVAL;
			}
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
	if (ep_xdp_check_rl("rate_limit", &c->rate_limit))
		return -EINVAL;
	if (validate_auth(c))
		return -EINVAL;
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
	if (c->metrics) {
		struct sockaddr_storage ss;
		socklen_t len;

		/* Logs what is wrong with the address. */
		if (ep_metrics_parse_listen(c->metrics, &ss, &len))
			return -EINVAL;
	}
	if (c->report.controller) {
		struct sockaddr_storage ss;
		socklen_t len;
		enum ep_cpu_source cpu;

		if (ep_parse_sockaddr("report.controller", c->report.controller, 0, &ss, &len))
			return -EINVAL;
		/* Sealed reports speak for the node the key is: the controller takes them only
		 * for its node id (docs/protocol.md 7.1). With auth.controller that id comes
		 * with the sync; with a keys file's report key, it is auth.node_id. */
		bool sync_id = c->w.auth_mode != EP_AUTH_MODE_OFF && c->auth.controller;
		bool file_id = c->w.auth_mode != EP_AUTH_MODE_OFF && c->auth.keys_file &&
			       c->auth.report_key_id;

		if (file_id && c->report.node_id && c->report.node_id != c->auth.node_id) {
			pr_err("report.node_id %u is not auth.node_id %u: reports sealed with "
			       "auth.report_key_id are the node's, and must say its id",
			       c->report.node_id, c->auth.node_id);
			return -EINVAL;
		}
		if (file_id && !c->report.node_id && c->auth.node_id > EP_GW_MAX_NODES - 1) {
			pr_err("report.node_id: auth.node_id %u is beyond the gateway's node ids "
			       "1..%d: set both to one of those",
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
	}
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
