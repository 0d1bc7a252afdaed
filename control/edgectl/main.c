// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl - run the edgeplane controller, and inspect or steer it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "edgectl.h"
#include "edgeplane/log.h"

#define CTL_USAGE                                                                            \
	"Usage: edgectl serve [--config FILE] [--iface IF] [OPTIONS]   run the controller\n" \
	"       edgectl node list\n"                                                         \
	"       edgectl node add ID --mac MAC [--name N] [--ip4 A] [--ip6 A] [--port N]\n"   \
	"                           [--capacity N] [--encap] [--cloud] [--via IF]\n"         \
	"       edgectl node del|drain|undrain ID\n"                                         \
	"       edgectl stats [--watch [SECONDS]] [--count N]\n"                             \
	"       edgectl policy show\n"                                                       \
	"       edgectl policy set KEY=VALUE...\n"                                           \
	"       edgectl status\n"                                                            \
	"       edgectl table [--sample N] [--prio P] [--size-hint-kib K]\n"                 \
	"       edgectl detach --iface IF\n"                                                 \
	"       edgectl keys                      session keys (enrollment)\n"               \
	"       edgectl revoke --device NAME | --key ID\n"                                   \
	"       edgectl unrevoke --device NAME\n"                                            \
	"\n"                                                                                 \
	"'edgectl COMMAND --help' tells more of a command.\n"                                \
	"\n"

#define CTL_FOOTER                                                                          \
	"policy set keys: policy=p2c|seed|hash  stale_ms=N  mem_factor=N  cloud_node=ID\n"  \
	"                 cpu_max=PCT  cpu_max.P=PCT  wait_max=MS  wait_max.P=MS\n"         \
	"                 overflow=reject|cloud|local  overflow.P=..\n"                     \
	"(P is a priority, 1..5). 'edgectl serve --help' lists the controller's options.\n" \
	"Exit status: 0 success, 1 failure, 2 bad usage.\n"

/* The options every command but serve takes, into x->opts. */
static void global_opts(struct ctl_ctx *x)
{
	EP_OPT_TABLE(
		x->opts,
		EP_OPT_STR(
			"socket", 0, &x->socket, "PATH",
			"the controller's API socket ($EDGECTL_SOCKET, else\n" EP_CTL_DEFAULT_SOCKET
			")"),
		EP_OPT_STR("iface", 0, &x->iface, "IF",
			   "the gateway's interface, to read its pinned maps directly"),
		EP_OPT_STR("pin-dir", 0, &x->pin_dir, "DIR", "or the pin directory itself"),
		EP_OPT_FLAG("json", 0, &x->json, "machine-readable output"));
}

/* The prog of command @name, with the shared options. */
static struct ep_opt_prog ctl_prog(struct ctl_ctx *x, const char *name, const char *usage,
				   const struct ep_opt *tab)
{
	return (struct ep_opt_prog){
		.name = name,
		.usage = usage,
		.tabs = { tab, x->opts },
		.headings = { "Options:", "Options of every command but serve:" },
	};
}

int ctl_parse(struct ctl_ctx *x, const char *name, const char *usage, const struct ep_opt *tab,
	      int *argc, char ***argv)
{
	struct ep_opt_prog p = ctl_prog(x, name, usage, tab);
	int ret = ep_opt_parse(&p, *argc, *argv, EP_OPT_PASS_ALL);

	if (ret < 0)
		return ep_opt_exit(ret) + 1;
	*argv += ret;
	*argc -= ret;
	return 0;
}

int ctl_parse_no_args(struct ctl_ctx *x, const char *name, const char *usage,
		      const struct ep_opt *tab, int argc, char **argv)
{
	int ret = ctl_parse(x, name, usage, tab, &argc, &argv);

	if (!ret && argc > 1)
		ret = ctl_usage_error(name, "unexpected argument '%s'", argv[1]) + 1;
	return ret;
}

int ctl_usage_error(const char *name, const char *fmt, ...)
{
	const struct ep_opt_prog p = { .name = name };
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ep_opt_error(&p, "%s", msg);
	return EXIT_USAGE;
}

static const struct {
	const char *name;
	int (*fn)(struct ctl_ctx *x, int argc, char **argv);
} commands[] = {
	{ "node", cmd_node },	  { "stats", cmd_stats },   { "policy", cmd_policy },
	{ "status", cmd_status }, { "table", cmd_table },   { "detach", cmd_detach },
	{ "keys", cmd_keys },	  { "revoke", cmd_revoke }, { "unrevoke", cmd_revoke },
};

/* edgectl without a command: --help, --version, or a usage error. */
static int no_command(struct ctl_ctx *x, int argc, char **argv)
{
	static const struct ep_opt none[] = { EP_OPT_END };
	struct ep_opt_prog p = ctl_prog(x, "edgectl", CTL_USAGE, none);
	int ret;

	p.footer = CTL_FOOTER;
	ret = ep_opt_parse(&p, argc, argv, EP_OPT_PASS_ALL);
	if (ret >= 0 && ret < argc && !strcmp(argv[ret], "help")) {
		ep_opt_help(&p, stdout);
		return 0;
	}
	if (ret >= 0)
		ret = ret < argc ? ep_opt_error(&p,
						"unknown command '%s' (serve, node, stats, policy, "
						"status, table, detach, keys, revoke, unrevoke)",
						argv[ret])
				 : ep_opt_error(&p, "no command");
	return ep_opt_exit(ret);
}

int main(int argc, char **argv)
{
	struct ctl_ctx x = { .socket = getenv("EDGECTL_SOCKET") };
	const struct ep_opt *tabs[2] = { x.opts, NULL };
	int i;

	ep_log_set_ident("edgectl");
	ep_log_route_libs();
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!x.socket || !*x.socket)
		x.socket = EP_CTL_DEFAULT_SOCKET;
	global_opts(&x);
	i = ep_opt_first_word(tabs, argc, argv);
	for (size_t c = 0; i < argc && c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(&x, argc, argv);
	return no_command(&x, argc, argv);
}
