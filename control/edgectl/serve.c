// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl serve: the controller. Options override the config file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "server.h"
#include "xdp/ep_xdp.h"

#define SERVE_USAGE                                                                        \
	"Usage: edgectl serve [--config FILE] [OPTIONS]\n"                                 \
	"\n"                                                                               \
	"Attach the gateway's XDP load balancer to an interface, keep its node registry\n" \
	"and maps current from the workers' load reports, and answer edgectl.\n"           \
	"\n"

static const struct ep_opt_choice auth_modes[] = {
#define AUTH_CHOICE(name, str) { str, EP_AUTH_MODE_##name },
	EP_AUTH_MODE_LIST(AUTH_CHOICE)
#undef AUTH_CHOICE
		{ NULL, 0 }
};

/* --policy P */
static int opt_policy(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	if (ep_policy_parse(arg, o->ctx)) {
		ep_seterr(err, len, "'%s' is not p2c, seed or hash", arg);
		return -EINVAL;
	}
	return 0;
}

/* The options of serve, over @c (the config file's @config first). */
static void serve_table(struct ep_opt (*t)[32], struct ep_ctl_conf *c, const char **config,
			bool *print)
{
	EP_OPT_TABLE(*t,
		     EP_OPT_STR("config", 0, config, "FILE",
				"libconfig file (docs/operations.md); options override it"),
		     EP_OPT_STRDUP("iface", 0, &c->interface, "IF",
				   "the gateway interface (the virtual address lives here)"),
		     EP_OPT_INT("port", 0, &c->port, 1, 65535, "N",
				"task port of the virtual address (7878)"),
		     EP_OPT_STRDUP("xdp-mode", 0, &c->xdp_mode, "auto|native|skb",
				   "auto, native or skb (auto)"),
		     EP_OPT_ENUM("auth-mode", 0, &c->auth_mode, auth_modes, "required|optional|off",
				 "required (default: tasks without a session key are\n"
				 "dropped in XDP; needs the group enroll), optional, off"),
		     EP_OPT_STRDUP("pin-dir", 0, &c->pin_dir, "DIR",
				   "map pins ($LIBXDP_BPFFS or /sys/fs/bpf/edgeplane/gw-IF)"),
		     EP_OPT_STRDUP("listen", 0, &c->listen, "ADDR:PORT",
				   "load reports (127.0.0.1:7879: this host only; give the\n"
				   "management address the workers report to)"),
		     EP_OPT_STRDUP("socket", 0, &c->socket, "PATH",
				   "edgectl API socket (" EP_CTL_DEFAULT_SOCKET ")"),
		     EP_OPT_STRDUP("socket-group", 0, &c->socket_group, "G",
				   "members of G may change state (default: root only)"),
		     EP_OPT_STRDUP("metrics", 0, &c->metrics, "ADDR:PORT",
				   "serve Prometheus /metrics (PORT alone: on 127.0.0.1)"),
		     EP_OPT_FUNC("policy", 0, opt_policy, &c->policy.policy, "p2c|seed|hash",
				 "p2c (default), seed or hash"),
		     EP_OPT_INT("stale-ms", 0, &c->policy.stale_ms, 1, 3600000, "N",
				"loads older than N ms are not trusted by XDP (1000)"),
		     EP_OPT_INT_SCALED("dead-after-ms", 0, &c->reg.dead_after_ns, 10, 3600000,
				       1000000, "N",
				       "drain a node after N ms without a report (500)"),
		     EP_OPT_INT("publish-ms", 0, &c->publish_ms, 1, 10000, "N",
				"map update interval (10)"),
		     EP_OPT_FLAG("allow-register", 0, &c->reg.allow_register,
				 "a report from a node not in the config registers it\n"
				 "(default: off; only configured and added nodes)"),
		     EP_OPT_FLAG_OFF("no-register", 0, &c->reg.allow_register,
				     "registration off (the default)"),
		     EP_OPT_FLAG_OFF("no-wait-for-report", 0, &c->reg.wait_for_report,
				     "configured nodes take tasks before their first report"),
		     EP_OPT_FLAG_OFF("detach-on-exit", 0, &c->keep_attached,
				     "take XDP off the interface when stopping (default: keep\n"
				     "it running on the last state; a dead controller is not an\n"
				     "outage)"),
		     EP_OPT_FLAG_OFF("no-relay", 0, &c->relay_replies,
				     "do not relay workers' replies that come back to the\n"
				     "gateway (by default XDP routes them on to the client,\n"
				     "which needs forwarding on for the interface)"),
		     EP_OPT_FLAG("set-forwarding", 0, &c->relay_set_forwarding,
				 "set net.ipv4.conf.IF.forwarding and\n"
				 "net.ipv6.conf.IF.forwarding to 1 for the relay (default:\n"
				 "no sysctl is changed; a warning names those to set)"),
		     EP_OPT_FLAG("debug", 0, &c->debug, "bpf_printk per decision (trace_pipe)"),
		     EP_OPT_STRDUP("log-level", 0, &c->log_level, "L",
				   "error, warn, info or debug (info)"),
		     EP_OPT_FLAG("print-config", 0, print,
				 "print the settings in the file's syntax and exit"));
	(*t)[0].flags = EP_OPT_EARLY;
}

/* The configuration from the file and the command line. Returns 0 to run, or the exit
 * status plus one (1 after --help or --print-config). */
static int serve_conf(struct ep_ctl_conf *conf, int argc, char **argv)
{
	const char *config = NULL;
	bool print = false;
	struct ep_opt tab[32];
	const struct ep_opt_prog p = {
		.name = "edgectl serve",
		.usage = SERVE_USAGE,
		.tabs = { tab },
	};
	int ret;

	serve_table(&tab, conf, &config, &print);
	/* The config file first, whatever its place and spelling; options override it. */
	ret = ep_opt_parse(&p, argc, argv, EP_OPT_PASS_EARLY);
	if (ret >= 0 && ret < argc)
		ret = ep_opt_error(&p, "unexpected argument '%s'", argv[ret]);
	if (ret < 0)
		return ep_opt_exit(ret) + 1;
	if (config && ep_ctl_conf_load(conf, config))
		return EXIT_USAGE + 1;
	ret = ep_opt_parse(&p, argc, argv, EP_OPT_PASS_LATE);
	if (ret < 0)
		return ep_opt_exit(ret) + 1;
	if (print) {
		ep_ctl_conf_print(stdout, conf);
		return 0 + 1; /* done: exit 0 */
	}
	return ep_ctl_conf_validate(conf) ? EXIT_USAGE + 1 : 0;
}

int cmd_serve(int argc, char **argv)
{
	static struct ep_ctl_conf conf; /* 1.7 MB with 8192 node ids: not the stack */
	struct ep_ctl *ctl;
	enum ep_log_level lvl;
	int err;

	ep_ctl_conf_defaults(&conf);
	err = serve_conf(&conf, argc, argv);
	if (err) {
		ep_ctl_conf_free(&conf);
		return err - 1;
	}
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
}
