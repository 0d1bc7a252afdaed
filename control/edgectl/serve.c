// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl serve: the controller. Options override the config file. */
#include <assert.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "server.h"
#include "xdp/ep_xdp.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: edgectl serve [--config FILE] [OPTIONS]\n"
		"\n"
		"Attach the gateway's XDP load balancer to an interface, keep its node registry\n"
		"and maps current from the workers' load reports, and answer edgectl.\n"
		"\n"
		"  --config FILE        libconfig file (docs/operations.md); options override it\n"
		"  --iface IF           the gateway interface (the virtual address lives here)\n"
		"  --port N             task port of the virtual address (7878)\n"
		"  --xdp-mode M         auto, native or skb (auto)\n"
		"  --auth-mode M        required (default: tasks without a session key are\n"
		"                       dropped in XDP; needs the group enroll), optional, off\n"
		"  --pin-dir DIR        map pins ($LIBXDP_BPFFS or /sys/fs/bpf/edgeplane/gw-IF)\n"
		"  --listen ADDR:PORT   load reports (127.0.0.1:7879: this host only; give the\n"
		"                       management address the workers report to)\n"
		"  --socket PATH        edgectl API socket (%s)\n"
		"  --socket-group G     members of G may change state (default: root only)\n"
		"  --metrics ADDR:PORT  serve Prometheus /metrics (PORT alone: on 127.0.0.1)\n"
		"  --policy P           p2c (default), seed or hash\n"
		"  --stale-ms N         loads older than N ms are not trusted by XDP (1000)\n"
		"  --dead-after-ms N    drain a node after N ms without a report (500)\n"
		"  --publish-ms N       map update interval (10)\n"
		"  --allow-register     a report from a node not in the config registers it\n"
		"                       (default: off; only configured and added nodes)\n"
		"  --no-register        registration off (the default)\n"
		"  --no-wait-for-report configured nodes take tasks before their first report\n"
		"  --detach-on-exit     take XDP off the interface when stopping (default: keep\n"
		"                       it running on the last state; a dead controller is not an\n"
		"                       outage)\n"
		"  --no-relay           do not relay workers' replies that come back to the\n"
		"                       gateway (by default XDP routes them on to the client,\n"
		"                       which needs forwarding on for the interface)\n"
		"  --set-forwarding     set net.ipv4.conf.IF.forwarding and\n"
		"                       net.ipv6.conf.IF.forwarding to 1 for the relay (default:\n"
		"                       no sysctl is changed; a warning names those to set)\n"
		"  --debug              bpf_printk per decision (trace_pipe)\n"
		"  --log-level L        error, warn, info or debug (info)\n",
		EP_CTL_DEFAULT_SOCKET);
}

static void set_str(char **dst, const char *v)
{
	assert(v); /* an option's argument: getopt_long gives one to each that takes one */
	free(*dst);
	*dst = strdup(v);
}

int cmd_serve(int argc, char **argv)
{
	enum {
		O_CONFIG = 256,
		O_IFACE,
		O_PORT,
		O_MODE,
		O_PIN,
		O_LISTEN,
		O_SOCKET,
		O_GROUP,
		O_METRICS,
		O_POLICY,
		O_STALE,
		O_DEAD,
		O_PUBLISH,
		O_NOREG,
		O_NOWAIT,
		O_DETACH,
		O_DEBUG,
		O_LOG,
		O_NORELAY,
		O_REG,
		O_SETFWD,
		O_AUTH
	};
	static const struct option opts[] = { { "config", required_argument, 0, O_CONFIG },
					      { "iface", required_argument, 0, O_IFACE },
					      { "port", required_argument, 0, O_PORT },
					      { "xdp-mode", required_argument, 0, O_MODE },
					      { "auth-mode", required_argument, 0, O_AUTH },
					      { "pin-dir", required_argument, 0, O_PIN },
					      { "listen", required_argument, 0, O_LISTEN },
					      { "socket", required_argument, 0, O_SOCKET },
					      { "socket-group", required_argument, 0, O_GROUP },
					      { "metrics", required_argument, 0, O_METRICS },
					      { "policy", required_argument, 0, O_POLICY },
					      { "stale-ms", required_argument, 0, O_STALE },
					      { "dead-after-ms", required_argument, 0, O_DEAD },
					      { "publish-ms", required_argument, 0, O_PUBLISH },
					      { "no-register", no_argument, 0, O_NOREG },
					      { "allow-register", no_argument, 0, O_REG },
					      { "no-wait-for-report", no_argument, 0, O_NOWAIT },
					      { "detach-on-exit", no_argument, 0, O_DETACH },
					      { "debug", no_argument, 0, O_DEBUG },
					      { "no-relay", no_argument, 0, O_NORELAY },
					      { "set-forwarding", no_argument, 0, O_SETFWD },
					      { "log-level", required_argument, 0, O_LOG },
					      { "help", no_argument, 0, 'h' },
					      { 0 } };
	struct ep_ctl_conf conf;
	struct ep_ctl *ctl;
	enum ep_log_level lvl;
	const char *config = NULL;
	long v;
	int c, err;

	/* The config file first, whatever its place and spelling (--config FILE or
	 * --config=FILE): a quiet pass of getopt_long, then the real one from the start
	 * (optind 0 makes glibc start afresh). Options override the file. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if (c == O_CONFIG)
			config = optarg;
	opterr = 1;
	optind = 0;
	ep_ctl_conf_defaults(&conf);
	if (config && ep_ctl_conf_load(&conf, config)) {
		ep_ctl_conf_free(&conf);
		return EXIT_USAGE;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG:
			break;
		case O_IFACE:
			set_str(&conf.interface, optarg);
			break;
		case O_MODE:
			set_str(&conf.xdp_mode, optarg);
			break;
		case O_PIN:
			set_str(&conf.pin_dir, optarg);
			break;
		case O_LISTEN:
			set_str(&conf.listen, optarg);
			break;
		case O_SOCKET:
			set_str(&conf.socket, optarg);
			break;
		case O_GROUP:
			set_str(&conf.socket_group, optarg);
			break;
		case O_METRICS:
			set_str(&conf.metrics, optarg);
			break;
		case O_LOG:
			set_str(&conf.log_level, optarg);
			break;
		case O_AUTH:
			if (ep_xdp_parse_auth_mode(optarg, &conf.auth_mode)) {
				pr_err("--auth-mode: '%s' is not required, optional or off",
				       optarg);
				goto bad;
			}
			break;
		case O_PORT:
			if (ep_parse_long("--port", optarg, 1, 65535, &v))
				goto bad;
			conf.port = (uint16_t)v;
			break;
		case O_POLICY:
			if (ep_policy_parse(optarg, &conf.policy.policy)) {
				pr_err("--policy: '%s' is not p2c, seed or hash", optarg);
				goto bad;
			}
			break;
		case O_STALE:
			if (ep_parse_long("--stale-ms", optarg, 1, 3600000, &v))
				goto bad;
			conf.policy.stale_ms = (uint32_t)v;
			break;
		case O_DEAD:
			if (ep_parse_long("--dead-after-ms", optarg, 10, 3600000, &v))
				goto bad;
			conf.reg.dead_after_ns = (uint64_t)v * 1000000;
			break;
		case O_PUBLISH:
			if (ep_parse_long("--publish-ms", optarg, 1, 10000, &v))
				goto bad;
			conf.publish_ms = (uint32_t)v;
			break;
		case O_NOREG:
			conf.reg.allow_register = false;
			break;
		case O_REG:
			conf.reg.allow_register = true;
			break;
		case O_NOWAIT:
			conf.reg.wait_for_report = false;
			break;
		case O_DETACH:
			conf.keep_attached = false;
			break;
		case O_DEBUG:
			conf.debug = true;
			break;
		case O_NORELAY:
			conf.relay_replies = false;
			break;
		case O_SETFWD:
			conf.relay_set_forwarding = true;
			break;
		case 'h':
			usage(stdout);
			ep_ctl_conf_free(&conf);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		pr_err("serve: unexpected argument '%s'", argv[optind]);
		goto bad;
	}
	if (ep_ctl_conf_validate(&conf))
		goto bad;
	ep_log_parse_level(conf.log_level, &lvl);
	ep_log_set_level(lvl);
	ep_log_route_libs();

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		ep_ctl_conf_free(&conf);
		return EXIT_FAIL;
	}
	err = ep_ctl_init(ctl, &conf);
	if (!err) {
		err = ep_ctl_run(ctl);
		ep_ctl_fini(ctl);
	}
	free(ctl);
	ep_ctl_conf_free(&conf);
	if (err)
		pr_err("controller: %s", strerror(-err));
	return err ? EXIT_FAIL : 0;

bad:
	ep_ctl_conf_free(&conf);
	fprintf(stderr, "Try 'edgectl serve --help'.\n");
	return EXIT_USAGE;
}
