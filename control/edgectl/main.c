// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl - run the edgeplane controller, and inspect or steer it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "edgectl.h"
#include "edgeplane/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: edgectl serve [--config FILE] [--iface IF] [OPTIONS]   run the controller\n"
		"       edgectl node list\n"
		"       edgectl node add ID --mac MAC [--name N] [--ip4 A] [--ip6 A] [--port N]\n"
		"                           [--capacity N] [--encap] [--cloud] [--via IF]\n"
		"       edgectl node del|drain|undrain ID\n"
		"       edgectl stats [--watch [SECONDS]] [--count N]\n"
		"       edgectl policy show\n"
		"       edgectl policy set KEY=VALUE...\n"
		"       edgectl status\n"
		"       edgectl table [--sample N] [--prio P] [--size-hint-kib K]\n"
		"       edgectl detach --iface IF\n"
		"       edgectl keys                      session keys (enrollment)\n"
		"       edgectl revoke --device NAME | --key ID\n"
		"       edgectl unrevoke --device NAME\n"
		"\n"
		"Every command but serve takes:\n"
		"  --socket PATH   the controller's API socket ($EDGECTL_SOCKET, else %s)\n"
		"  --iface IF      the gateway's interface, to read its pinned maps directly\n"
		"  --pin-dir DIR   or the pin directory itself\n"
		"  --json          machine-readable output\n"
		"\n"
		"policy set keys: policy=p2c|seed|hash  stale_ms=N  mem_factor=N  cloud_node=ID\n"
		"                 cpu_max=PCT  cpu_max.P=PCT  wait_max=MS  wait_max.P=MS\n"
		"                 overflow=reject|cloud|local  overflow.P=..\n"
		"(P is a priority, 1..5). 'edgectl serve --help' lists the controller's options.\n"
		"Exit status: 0 success, 1 failure, 2 bad usage.\n",
		EP_CTL_DEFAULT_SOCKET);
}

/* Take the shared options out of argv, wherever they are. Returns the new argc, or -1. */
static int global_opts(struct ctl_ctx *x, int argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = !strcmp(a, "--socket")    ? &x->socket
				   : !strcmp(a, "--pin-dir") ? &x->pin_dir
				   : !strcmp(a, "--iface")   ? &x->iface
							     : NULL;

		if (dst) {
			if (i + 1 >= argc) {
				pr_err("%s needs a value", a);
				return -1;
			}
			*dst = argv[++i];
		} else if (!strcmp(a, "--json")) {
			x->json = true;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	struct ctl_ctx x = { .socket = getenv("EDGECTL_SOCKET") };
	const char *cmd;

	ep_log_set_ident("edgectl");
	ep_log_route_libs();
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!x.socket || !*x.socket)
		x.socket = EP_CTL_DEFAULT_SOCKET;
	argc = global_opts(&x, argc - 1, argv + 1);
	if (argc < 1)
		return EXIT_USAGE;
	argv++;
	cmd = argv[0];
	if (!strcmp(cmd, "node"))
		return cmd_node(&x, argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(&x, argc, argv);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(&x, argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(&x, argc, argv);
	if (!strcmp(cmd, "table"))
		return cmd_table(&x, argc, argv);
	if (!strcmp(cmd, "detach"))
		return cmd_detach(&x, argc, argv);
	if (!strcmp(cmd, "keys"))
		return cmd_keys(&x, argc, argv);
	if (!strcmp(cmd, "revoke") || !strcmp(cmd, "unrevoke"))
		return cmd_revoke(&x, argc, argv);
	pr_err("unknown command '%s' (serve, node, stats, policy, status, table, detach, keys, "
	       "revoke, unrevoke; try --help)",
	       cmd);
	return EXIT_USAGE;
}
