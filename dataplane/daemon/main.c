// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeplane - the edge node runtime. Parses options over the config file, starts the
 * runtime (daemon/runtime.c), reports ready, and drains on SIGTERM or SIGINT.
 *
 *   edgeplane [OPTIONS]                 run
 *   edgeplane stats [--socket PATH] [--json]
 *   edgeplane encrypt --key FILE IN OUT  encrypt a handler file (a model) for the node
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
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
#include "edgeplane/reasm.h"
#include "edgeplane/util.h"

/* In a private directory of its own (edgeplane/unixsock.h): /run/edgeplane holds locks. */
#define DEFAULT_STATS_SOCKET "/run/edgeplane/runtime/stats.sock"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: edgeplane [OPTIONS]\n"
		"       edgeplane stats [--socket PATH] [--json]\n"
		"       edgeplane encrypt --key FILE IN OUT\n"
		"\n"
		"Runs the edgeplane task runtime: receives offload tasks (docs/protocol.md),\n"
		"runs them in batches through its handlers, and replies. Settings come from the\n"
		"config file (docs/operations.md), then from these options.\n"
		"\n"
		"  -c, --config FILE        read settings from FILE (libconfig syntax)\n"
		"  -b, --backend NAME       afxdp (default: AF_XDP behind the XDP classifier),\n"
		"                           udp (kernel UDP sockets, recvmmsg/sendmmsg),\n"
		"                           uring (kernel UDP sockets through io_uring; settings\n"
		"                           in the uring group of the config file) or dpdk "
		"(DPDK's\n"
		"                           net_af_xdp PMD behind the classifier; EAL settings in\n"
		"                           the dpdk group)\n"
		"  -i, --interface IF       interface for the afxdp and dpdk backends\n"
		"      --bind ADDR          address for the udp and uring backends (default: all)\n"
		"  -p, --port N             UDP port (default 7878)\n"
		"  -q, --queues LIST        afxdp, dpdk: RX queues, one worker each (default: all\n"
		"                           the interface has; dpdk: consecutive ones)\n"
		"  -w, --workers N          udp, uring: sockets sharing the port, a worker each "
		"(1)\n"
		"      --cpus LIST          pin worker i to the i-th CPU of LIST (default: CPU i)\n"
		"      --xdp-mode MODE      auto (native, else skb), native or skb\n"
		"      --zerocopy MODE      auto, on or off (AF_XDP zero-copy)\n"
		"      --busy-poll          poll without sleeping (and SO_BUSY_POLL)\n"
		"      --batch-size N       tasks per handler call, 1 = no batching (default 32)\n"
		"      --batch-wait-us N    longest a task waits for its batch to fill (default "
		"0:\n"
		"                           a batch is what arrived together)\n"
		"      --max-task-len N     largest task payload in bytes (default 16 MiB)\n"
		"      --stats-socket PATH  serve statistics here (default %s), in a\n"
		"                           private directory (made 0700 if missing)\n"
		"      --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics;\n"
		"                           ADDR is IPv4 or [IPv6]; a port alone (9100) means\n"
		"                           127.0.0.1; every address only as 0.0.0.0 or [::]\n"
		"      --controller ADDR:PORT  report load to this controller (edgectl serve)\n"
		"      --node-id N          this node's id at the gateway, 1..63\n"
		"      --capacity N         relative capacity reported (default 100 per worker)\n"
		"      --auth-mode MODE     required (default: only authenticated devices),\n"
		"                           optional (both) or off (no keys; AUTH unsupported)\n"
		"      --auth-keys FILE     read the session keys from FILE (auth.keys_file)\n"
		"      --auth-node-id N     this node's id, the sender of what it seals, with\n"
		"                           --auth-keys (auth.node_id)\n"
		"      --ready-file PATH    write the pid here once ready; removed at exit\n"
		"      --check-config       validate the settings and exit\n"
		"  -l, --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help               show this help\n"
		"\n"
		"encrypt: write OUT, handler file IN (a model) encrypted with AES-256-GCM under\n"
		"the key in FILE (32 bytes, raw or hex, mode 0600), for a node whose config has\n"
		"file_encryption.key_file; sign OUT afterwards (scripts/ep-sign.sh sign).\n"
		"\n"
		"Signals: SIGTERM or SIGINT stop intake, drain the queued tasks, and exit.\n",
		DEFAULT_STATS_SOCKET);
}

static int stats_main(int argc, char **argv)
{
	static const struct option lo[] = { { "socket", required_argument, NULL, 's' },
					    { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	const char *path = DEFAULT_STATS_SOCKET;
	bool json = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "s:jh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("Usage: edgeplane stats [--socket PATH] [--json]\n");
			return 0;
		default:
			return 2;
		}
	}
	err = ep_statsrv_query(path, json);
	if (err) {
		pr_err("statistics from %s: %s (is edgeplane running?)", path, strerror(-err));
		return 1;
	}
	return 0;
}

static int encrypt_main(int argc, char **argv)
{
	static const struct option lo[] = { { "key", required_argument, NULL, 'k' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	const char *key = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "k:h", lo, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			printf("Usage: edgeplane encrypt --key FILE IN OUT\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!key || argc - optind != 2) {
		fprintf(stderr, "Usage: edgeplane encrypt --key FILE IN OUT\n");
		return 2;
	}
	return ep_crypt_file(key, argv[optind], argv[optind + 1]) ? 1 : 0;
}

static int set_str(char **dst, const char *v)
{
	assert(v); /* an option's argument: getopt_long gives one to each that takes one */
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* A number option, or exit 2 with the message. */
static long num(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (ep_parse_long(opt, s, lo, hi, &v))
		exit(2);
	return v;
}

static void write_ready_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		pr_warn("ready file %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	enum {
		O_BIND = 256,
		O_CPUS,
		O_XDP_MODE,
		O_ZC,
		O_BUSY,
		O_BSIZE,
		O_BWAIT,
		O_MAXLEN,
		O_STATS,
		O_METRICS,
		O_READY,
		O_CHECK,
		O_CTL,
		O_NODE,
		O_CAP,
		O_AUTH_MODE,
		O_AUTH_KEYS,
		O_AUTH_NODE
	};
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "backend", required_argument, NULL, 'b' },
		{ "interface", required_argument, NULL, 'i' },
		{ "bind", required_argument, NULL, O_BIND },
		{ "port", required_argument, NULL, 'p' },
		{ "queues", required_argument, NULL, 'q' },
		{ "workers", required_argument, NULL, 'w' },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "xdp-mode", required_argument, NULL, O_XDP_MODE },
		{ "zerocopy", required_argument, NULL, O_ZC },
		{ "busy-poll", no_argument, NULL, O_BUSY },
		{ "batch-size", required_argument, NULL, O_BSIZE },
		{ "batch-wait-us", required_argument, NULL, O_BWAIT },
		{ "max-task-len", required_argument, NULL, O_MAXLEN },
		{ "stats-socket", required_argument, NULL, O_STATS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "ready-file", required_argument, NULL, O_READY },
		{ "controller", required_argument, NULL, O_CTL },
		{ "node-id", required_argument, NULL, O_NODE },
		{ "capacity", required_argument, NULL, O_CAP },
		{ "auth-mode", required_argument, NULL, O_AUTH_MODE },
		{ "auth-keys", required_argument, NULL, O_AUTH_KEYS },
		{ "auth-node-id", required_argument, NULL, O_AUTH_NODE },
		{ "check-config", no_argument, NULL, O_CHECK },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ep_runtime *rt;
	struct ep_conf conf;
	enum ep_log_level lvl;
	const char *cfg_file = NULL;
	bool check = false;
	int c, err, list[EP_MAX_QUEUES], n;
	sigset_t sigs;

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

	/* The config file first, whatever its place among the options; then overrides. */
	ep_conf_defaults(&conf);
	while ((c = getopt_long(argc, argv, "c:b:i:p:q:w:l:h", lo, NULL)) != -1) {
		if (c == 'c')
			cfg_file = optarg;
		else if (c == 'h') {
			usage(stdout);
			ep_conf_free(&conf);
			return 0;
		} else if (c == '?') { /* getopt_long named the option */
			fprintf(stderr, "Try 'edgeplane --help'.\n");
			ep_conf_free(&conf);
			return 2;
		}
	}
	if (optind != argc) {
		pr_err("unexpected argument '%s' (try --help)", argv[optind]);
		ep_conf_free(&conf);
		return 2;
	}
	if (cfg_file && ep_conf_load(&conf, cfg_file)) {
		ep_conf_free(&conf);
		return 2;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:b:i:p:q:w:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			set_str(&conf.backend, optarg);
			break;
		case 'i':
			set_str(&conf.interface, optarg);
			break;
		case O_BIND:
			set_str(&conf.bind, optarg);
			break;
		case 'p':
			conf.port = (uint16_t)num("--port", optarg, 1, 65535);
			break;
		case 'q':
			n = ep_conf_parse_list(optarg, list, EP_MAX_QUEUES, 0, EP_MAX_QUEUES - 1);
			if (n < 0) {
				pr_err("--queues: '%s' is not a list like 0,1", optarg);
				ep_conf_free(&conf);
				return 2;
			}
			conf.nqueues = (unsigned int)n;
			for (int i = 0; i < n; i++)
				conf.queues[i] = (unsigned int)list[i];
			break;
		case 'w':
			conf.workers = (unsigned int)num("--workers", optarg, 1, EP_MAX_QUEUES);
			break;
		case O_CPUS:
			if (ep_conf_parse_list(optarg, conf.cpus, EP_MAX_QUEUES, 0, 4095) < 0) {
				pr_err("--cpus: '%s' is not a list like 0,1", optarg);
				ep_conf_free(&conf);
				return 2;
			}
			break;
		case O_XDP_MODE:
			set_str(&conf.xdp_mode, optarg);
			break;
		case O_ZC:
			assert(optarg); /* --zerocopy takes an argument */
			conf.zerocopy = !strcmp(optarg, "on")	  ? 1
					: !strcmp(optarg, "off")  ? 0
					: !strcmp(optarg, "auto") ? -1
								  : -2;
			if (conf.zerocopy == -2) {
				pr_err("--zerocopy: '%s' is not auto, on or off", optarg);
				ep_conf_free(&conf);
				return 2;
			}
			break;
		case O_BUSY:
			conf.busy_poll = true;
			break;
		case O_BSIZE:
			conf.w.batch_size = (uint32_t)num("--batch-size", optarg, 1, 1024);
			break;
		case O_BWAIT:
			conf.w.batch_wait_ns =
				(uint64_t)num("--batch-wait-us", optarg, 0, 1000000) * 1000;
			break;
		case O_MAXLEN:
			conf.w.max_task_len =
				(uint32_t)num("--max-task-len", optarg, 1, EP_MAX_TASK_LEN);
			break;
		case O_STATS:
			set_str(&conf.stats_socket, optarg);
			break;
		case O_METRICS:
			set_str(&conf.metrics, optarg);
			break;
		case O_READY:
			set_str(&conf.ready_file, optarg);
			break;
		case O_CTL:
			set_str(&conf.report.controller, optarg);
			break;
		case O_NODE:
			conf.report.node_id =
				(uint32_t)num("--node-id", optarg, 1, EP_GW_MAX_NODES - 1);
			break;
		case O_CAP:
			conf.report.capacity = (uint32_t)num("--capacity", optarg, 1, 1000000);
			break;
		case O_AUTH_MODE:
			if (ep_xdp_parse_auth_mode(optarg, &conf.w.auth_mode)) {
				pr_err("--auth-mode: '%s' is not required, optional or off",
				       optarg);
				ep_conf_free(&conf);
				return 2;
			}
			break;
		case O_AUTH_KEYS:
			set_str(&conf.auth.keys_file, optarg);
			break;
		case O_AUTH_NODE:
			conf.auth.node_id = (uint32_t)num("--auth-node-id", optarg, 1, UINT32_MAX);
			break;
		case O_CHECK:
			check = true;
			break;
		case 'l':
			set_str(&conf.log_level, optarg);
			break;
		default:
			break;
		}
	}
	if (!conf.stats_socket)
		set_str(&conf.stats_socket, DEFAULT_STATS_SOCKET);
	if (!strcmp(conf.backend, "udp") || !strcmp(conf.backend, "uring")) {
		/* workers sockets sharing the port */
		conf.nqueues = conf.workers;
		for (unsigned int i = 0; i < conf.nqueues; i++)
			conf.queues[i] = i;
	}
	if (ep_conf_validate(&conf)) {
		ep_conf_free(&conf);
		return 2;
	}
	ep_log_parse_level(conf.log_level, &lvl);
	ep_log_set_level(lvl);
	if (check) {
		printf("configuration is valid\n");
		ep_conf_free(&conf);
		return 0;
	}

	if ((!strcmp(conf.backend, "afxdp") || !strcmp(conf.backend, "dpdk")) &&
	    ep_conf_all_queues(&conf)) {
		ep_conf_free(&conf);
		return 1;
	}

	/* Workers inherit this mask: only the main thread takes the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	err = ep_runtime_start(&conf, &rt);
	if (err) {
		pr_err("not started: %s", strerror(-err));
		ep_conf_free(&conf);
		return 1;
	}
	pr_info("ready: %s backend, port %u, %u worker%s, statistics on %s", conf.backend,
		conf.port, conf.nqueues, conf.nqueues == 1 ? "" : "s", conf.stats_socket);
	if (conf.ready_file)
		write_ready_file(conf.ready_file);

	sigwait(&sigs, &c);
	pr_info("%s: draining", strsignal(c));
	ep_runtime_stop(rt);
	if (conf.ready_file)
		unlink(conf.ready_file);
	pr_info("stopped");
	ep_conf_free(&conf);
	return 0;
}
