// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeplane - the edge node runtime. Parses options over the config file, starts the
 * runtime (daemon/runtime.c), reports ready, and drains on SIGTERM or SIGINT.
 *
 *   edgeplane [OPTIONS]                 run
 *   edgeplane stats [--socket PATH] [--json]
 *   edgeplane encrypt --key FILE IN OUT  encrypt a handler file (a model) for the node
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypt.h"
#include "daemon/config.h"
#include "daemon/runtime.h"
#include "daemon/statsrv.h"
#include "edgeplane/log.h"
#include "edgeplane/notify.h"
#include "edgeplane/opt.h"
#include "edgeplane/reasm.h"
#include "edgeplane/util.h"

/* In a private directory of its own (edgeplane/unixsock.h): /run/edgeplane holds locks. */
#define DEFAULT_STATS_SOCKET "/run/edgeplane/runtime/stats.sock"

static const struct ep_opt_choice auth_modes[] = {
#define AUTH_CHOICE(name, str) { str, EP_AUTH_MODE_##name },
	EP_AUTH_MODE_LIST(AUTH_CHOICE)
#undef AUTH_CHOICE
		{ NULL, 0 }
};

static const struct ep_opt_choice zerocopy_modes[] = {
	{ "auto", -1 }, { "on", 1 }, { "off", 0 }, { NULL, 0 }
};

/* --queues LIST: RX queues, one worker each. */
static int opt_queues(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	struct ep_conf *conf = o->ctx;
	int list[EP_MAX_QUEUES], n;

	n = ep_conf_parse_list(arg, list, EP_MAX_QUEUES, 0, EP_MAX_QUEUES - 1);
	if (n < 0) {
		ep_seterr(err, len, "'%s' is not a list like 0,1", arg);
		return -EINVAL;
	}
	conf->nqueues = (unsigned int)n;
	for (int i = 0; i < n; i++)
		conf->queues[i] = (unsigned int)list[i];
	return 0;
}

/* --cpus LIST: worker i on the i-th CPU. */
static int opt_cpus(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	struct ep_conf *conf = o->ctx;

	if (ep_conf_parse_list(arg, conf->cpus, EP_MAX_QUEUES, 0, 4095) < 0) {
		ep_seterr(err, len, "'%s' is not a list like 0,1", arg);
		return -EINVAL;
	}
	return 0;
}

#define RUN_OPTS 32 /* room for run_table()'s entries, with the end */

/* What the command line of `edgeplane` (run) sets, besides the config. */
struct run_opts {
	const char *cfg_file;
	bool check, print;
};

#define RUN_USAGE                                                                          \
	"Usage: edgeplane [OPTIONS]\n"                                                     \
	"       edgeplane stats [--socket PATH] [--json]\n"                                \
	"       edgeplane encrypt --key FILE IN OUT\n"                                     \
	"\n"                                                                               \
	"Runs the edgeplane task runtime: receives offload tasks (docs/protocol.md),\n"    \
	"runs them in batches through its handlers, and replies. Settings come from the\n" \
	"config file (docs/operations.md), then from these options.\n"                     \
	"\n"

#define RUN_FOOTER                                                                         \
	"encrypt: write OUT, handler file IN (a model) encrypted with AES-256-GCM under\n" \
	"the key in FILE (32 bytes, raw or hex, mode 0600), for a node whose config has\n" \
	"file_encryption.key_file; sign OUT afterwards (scripts/ep-sign.sh sign).\n"       \
	"\n"                                                                               \
	"Signals: SIGTERM or SIGINT stop intake, drain the queued tasks, and exit.\n"

/* The options of the runtime: into @c (over its config file) and @r. */
static void run_table(struct ep_opt *t, struct ep_conf *c, struct run_opts *r)
{
	struct ep_opt tab[] = {
		EP_OPT_STR("config", 'c', &r->cfg_file, "FILE",
			   "read settings from FILE (libconfig syntax)"),
		EP_OPT_STRDUP("backend", 'b', &c->backend, "afxdp|udp|uring|dpdk",
			      "afxdp (default: AF_XDP behind the XDP classifier),\n"
			      "udp (kernel UDP sockets, recvmmsg/sendmmsg),\n"
			      "uring (kernel UDP sockets through io_uring; settings\n"
			      "in the uring group of the config file) or dpdk (DPDK's\n"
			      "net_af_xdp PMD behind the classifier; EAL settings in\n"
			      "the dpdk group)"),
		EP_OPT_STRDUP("interface", 'i', &c->interface, "IF",
			      "interface for the afxdp and dpdk backends"),
		EP_OPT_STRDUP("bind", 0, &c->bind, "ADDR",
			      "address for the udp and uring backends (default: all)"),
		EP_OPT_INT("port", 'p', &c->port, 1, 65535, "N", "UDP port (default 7878)"),
		EP_OPT_FUNC("queues", 'q', opt_queues, c, "LIST",
			    "afxdp, dpdk: RX queues, one worker each (default: all\n"
			    "the interface has; dpdk: consecutive ones)"),
		EP_OPT_INT("workers", 'w', &c->workers, 1, EP_MAX_QUEUES, "N",
			   "udp, uring: sockets sharing the port, a worker each (1)"),
		EP_OPT_FUNC("cpus", 0, opt_cpus, c, "LIST",
			    "pin worker i to the i-th CPU of LIST (default: CPU i)"),
		EP_OPT_STRDUP("xdp-mode", 0, &c->xdp_mode, "auto|native|skb",
			      "auto (native, else skb), native or skb"),
		EP_OPT_ENUM("zerocopy", 0, &c->zerocopy, zerocopy_modes, "auto|on|off",
			    "auto, on or off (AF_XDP zero-copy)"),
		EP_OPT_FLAG("busy-poll", 0, &c->busy_poll,
			    "poll without sleeping (and SO_BUSY_POLL)"),
		EP_OPT_INT("batch-size", 0, &c->w.batch_size, 1, 1024, "N",
			   "tasks per handler call, 1 = no batching (default 32)"),
		EP_OPT_INT_SCALED("batch-wait-us", 0, &c->w.batch_wait_ns, 0, 1000000, 1000, "N",
				  "longest a task waits for its batch to fill (default 0:\n"
				  "a batch is what arrived together)"),
		EP_OPT_INT("max-task-len", 0, &c->w.max_task_len, 1, EP_MAX_TASK_LEN, "N",
			   "largest task payload in bytes (default 16 MiB)"),
		EP_OPT_STRDUP("stats-socket", 0, &c->stats_socket, "PATH",
			      "serve statistics here (default " DEFAULT_STATS_SOCKET "),\n"
			      "in a private directory (made 0700 if missing)"),
		EP_OPT_STRDUP("metrics", 0, &c->metrics, "ADDR:PORT",
			      "serve Prometheus metrics at http://ADDR:PORT/metrics;\n"
			      "ADDR is IPv4 or [IPv6]; a port alone (9100) means\n"
			      "127.0.0.1; every address only as 0.0.0.0 or [::]"),
		EP_OPT_STRDUP("controller", 0, &c->report.controller, "ADDR:PORT",
			      "report load to this controller (edgectl serve)"),
		EP_OPT_INT("node-id", 0, &c->report.node_id, 1, EP_GW_MAX_NODES - 1, "N",
			   "this node's id at the gateway, 1..8191"),
		EP_OPT_INT("capacity", 0, &c->report.capacity, 1, 1000000, "N",
			   "relative capacity reported (default 100 per worker)"),
		EP_OPT_ENUM("auth-mode", 0, &c->w.auth_mode, auth_modes, "MODE",
			    "required (default: only authenticated devices),\n"
			    "optional (both) or off (no keys; AUTH unsupported)"),
		EP_OPT_STRDUP("auth-keys", 0, &c->auth.keys_file, "FILE",
			      "read the session keys from FILE (auth.keys_file)"),
		EP_OPT_INT("auth-node-id", 0, &c->auth.node_id, 1, UINT32_MAX, "N",
			   "this node's id, the sender of what it seals, with\n"
			   "--auth-keys (auth.node_id)"),
		EP_OPT_STRDUP("ready-file", 0, &c->ready_file, "PATH",
			      "write the pid here once ready; removed at exit"),
		EP_OPT_FLAG("check-config", 0, &r->check, "validate the settings and exit"),
		EP_OPT_FLAG("print-config", 0, &r->print,
			    "print the settings in the file's syntax and exit"),
		EP_OPT_STRDUP("log-level", 'l', &c->log_level, "LEVEL",
			      "error, warn, info (default) or debug"),
		EP_OPT_END,
	};

	_Static_assert(sizeof(tab) <= RUN_OPTS * sizeof(*t), "RUN_OPTS is too small");
	tab[0].flags = EP_OPT_EARLY;
	memcpy(t, tab, sizeof(tab));
}

static int stats_main(int argc, char **argv)
{
	const char *path = DEFAULT_STATS_SOCKET;
	bool json = false;
	const struct ep_opt tab[] = {
		EP_OPT_STR("socket", 's', &path, "PATH",
			   "the runtime's statistics socket (default " DEFAULT_STATS_SOCKET ")"),
		EP_OPT_FLAG("json", 'j', &json, "print JSON"),
		EP_OPT_END,
	};
	const struct ep_opt_prog prog = {
		.name = "edgeplane stats",
		.usage = "Usage: edgeplane stats [--socket PATH] [--json]\n\n"
			 "Print a running edgeplane's statistics.\n\n",
		.tabs = { tab },
	};
	int ret = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_ALL);

	if (ret < 0)
		return ep_opt_exit(ret);
	if (ret < argc)
		return ep_opt_exit(ep_opt_error(&prog, "unexpected argument '%s'", argv[ret]));
	ret = ep_statsrv_query(path, json);
	if (ret) {
		pr_err("statistics from %s: %s (is edgeplane running?)", path, strerror(-ret));
		return 1;
	}
	return 0;
}

static int encrypt_main(int argc, char **argv)
{
	const char *key = NULL;
	struct ep_opt tab[] = {
		EP_OPT_STR("key", 'k', &key, "FILE",
			   "the key: 32 bytes, raw or hex, in a file of mode 0600"),
		EP_OPT_END,
	};
	const struct ep_opt_prog prog = {
		.name = "edgeplane encrypt",
		.usage = "Usage: edgeplane encrypt --key FILE IN OUT\n\n"
			 "Write OUT, handler file IN (a model) encrypted with AES-256-GCM.\n\n",
		.tabs = { tab },
	};
	int ret;

	tab[0].flags = EP_OPT_REQUIRED;
	ret = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_ALL);
	if (ret < 0)
		return ep_opt_exit(ret);
	if (argc - ret != 2)
		return ep_opt_exit(ep_opt_error(&prog, "IN and OUT, two files, are needed"));
	return ep_crypt_file(key, argv[ret], argv[ret + 1]) ? 1 : 0;
}

static void write_ready_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		pr_warn("ready file %s: %s", path, strerror(errno));
}

/* Options over the config file: @conf from it and the command line. Returns 0, or the
 * exit status (0 after --help, 2 after a usage error) plus one. */
static int parse_command_line(int argc, char **argv, struct ep_conf *conf, struct run_opts *r)
{
	struct ep_opt tab[RUN_OPTS];
	const struct ep_opt_prog prog = {
		.name = "edgeplane",
		.usage = RUN_USAGE,
		.footer = RUN_FOOTER,
		.tabs = { tab },
	};
	int ret;

	run_table(tab, conf, r);
	/* The config file first, whatever its place among the options; then overrides. */
	ret = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_EARLY);
	if (ret >= 0 && ret < argc)
		ret = ep_opt_error(&prog, "unexpected argument '%s'", argv[ret]);
	if (ret < 0)
		return ep_opt_exit(ret) + 1;
	if (r->cfg_file && ep_conf_load(conf, r->cfg_file))
		return 3;
	ret = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_LATE);
	if (ret < 0)
		return ep_opt_exit(ret) + 1;
	return 0;
}

/* Run until SIGTERM or SIGINT, then drain. Returns the exit status. */
static int run(struct ep_conf *conf)
{
	struct ep_runtime *rt;
	sigset_t sigs;
	int err, sig;

	/* Workers inherit this mask: only the main thread takes the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	err = ep_runtime_start(conf, &rt);
	if (err) {
		pr_err("not started: %s", strerror(-err));
		return 1;
	}
	pr_info("ready: %s backend, port %u, %u worker%s, statistics on %s", conf->backend,
		conf->port, conf->nqueues, conf->nqueues == 1 ? "" : "s", conf->stats_socket);
	if (conf->ready_file)
		write_ready_file(conf->ready_file);
	ep_notify_systemd("READY=1");

	sigwait(&sigs, &sig);
	pr_info("%s: draining", strsignal(sig));
	ep_notify_systemd("STOPPING=1");
	ep_runtime_stop(rt);
	if (conf->ready_file)
		unlink(conf->ready_file);
	pr_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	struct ep_conf conf;
	enum ep_log_level lvl;
	struct run_opts r = { 0 };
	int ret;

	/* Reassembly allocates a task's buffer at its declared length when its first fragment
	 * comes and charges only the pages fragments are written to (userspace/codec/reasm.c):
	 * that holds when large blocks are fresh anonymous mmap()s, whose pages take memory
	 * only once touched. glibc mmaps blocks above M_MMAP_THRESHOLD, but raises that
	 * threshold (up to 32 MiB) as it frees such blocks, after which large blocks come from
	 * the heap, possibly already resident. Setting it fixes it at EP_REASM_LAZY_MIN.
	 * (AddressSanitizer's allocator, of the test builds, has no mallopt().) */
#ifndef __SANITIZE_ADDRESS__
	if (!mallopt(M_MMAP_THRESHOLD, EP_REASM_LAZY_MIN))
		fprintf(stderr, "edgeplane: mallopt(M_MMAP_THRESHOLD) failed\n");
#endif
	ep_log_set_ident("edgeplane");
	ep_log_route_libs();
	if (argc > 1 && !strcmp(argv[1], "stats"))
		return stats_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "encrypt"))
		return encrypt_main(argc - 1, argv + 1);

	ep_conf_defaults(&conf);
	ret = parse_command_line(argc, argv, &conf, &r);
	if (ret) {
		ep_conf_free(&conf);
		return ret - 1;
	}
	if (!conf.stats_socket)
		conf.stats_socket = strdup(DEFAULT_STATS_SOCKET);
	if (!strcmp(conf.backend, "udp") || !strcmp(conf.backend, "uring")) {
		/* workers sockets sharing the port */
		conf.nqueues = conf.workers;
		for (unsigned int i = 0; i < conf.nqueues; i++)
			conf.queues[i] = i;
	}
	if (r.print) {
		ep_conf_print(stdout, &conf);
		ep_conf_free(&conf);
		return 0;
	}
	if (ep_conf_validate(&conf)) {
		ep_conf_free(&conf);
		return 2;
	}
	ep_log_parse_level(conf.log_level, &lvl);
	ep_log_set_level(lvl);
	if (r.check) {
		printf("configuration is valid\n");
		ep_conf_free(&conf);
		return 0;
	}
	ret = 1;
	if ((strcmp(conf.backend, "afxdp") && strcmp(conf.backend, "dpdk")) ||
	    !ep_conf_all_queues(&conf))
		ret = run(&conf);
	ep_conf_free(&conf);
	return ret;
}
