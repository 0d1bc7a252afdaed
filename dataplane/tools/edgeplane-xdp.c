// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeplane-xdp - attach, inspect and configure the edgeplane XDP classifier by hand.
 * The runtime does the same through dataplane/xdp/ep_xdp.h; this tool is for operators
 * and tests.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "xdp/ep_xdp.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: edgeplane-xdp COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  attach DEV      load the classifier and attach it to DEV (through libxdp)\n"
		"  detach DEV      detach the classifier from DEV and remove its pins\n"
		"  stats           print the verdict counters\n"
		"  config          show or change runtime settings\n"
		"  tenant add|del ID   allow or forbid a tenant id\n"
		"  reasons         list counter indexes and names (for reading bpftool dumps)\n"
		"\n"
		"Options:\n"
		"  -d, --pin-dir DIR     bpffs directory of the maps\n"
		"                        (default $LIBXDP_BPFFS or /sys/fs/bpf, then edgeplane/DEV)\n"
		"  -i, --dev DEV         interface whose default pin directory to use\n"
		"  -m, --mode MODE       attach: auto (native, else skb), native or skb\n"
		"  -p, --port N          attach, config: UDP port of offload traffic (default %u)\n"
		"      --max-task-len N  attach, config: largest total_len accepted, bytes\n"
		"      --tenant-check on|off   config: drop tenants not added with `tenant add`\n"
		"      --prio-slot P=S   config: give priority P (1-5) the XSK slot S (0-%u)\n"
		"  -j, --json            stats, config: print JSON\n"
		"      --debug           attach: bpf_printk every verdict (slow)\n"
		"  -v, --verbose         log libbpf/libxdp detail\n"
		"  -h, --help            show this help\n",
		EP_DEFAULT_PORT, EP_XSK_SLOTS - 1);
}

struct opts {
	const char *pin_dir, *dev;
	enum ep_xdp_mode mode;
	long port, max_task_len;
	int tenant_check;	/* -1 unchanged */
	int prio_slot[8];	/* -1 unchanged */
	bool json, debug, cfg_changed;
};

static int resolve_pin_dir(const struct opts *o, char *buf, size_t len)
{
	if (o->pin_dir) {
		snprintf(buf, len, "%s", o->pin_dir);
		return 0;
	}
	if (!o->dev) {
		pr_err("say which maps: --pin-dir DIR or --dev DEV");
		return -EINVAL;
	}
	return ep_xdp_default_pin_dir(o->dev, buf, len);
}

/* Open one of the classifier's pinned maps, as chosen by --pin-dir or --dev. */
static int open_map(const struct opts *o, const char *name)
{
	char dir[4096];
	int fd, err;

	err = resolve_pin_dir(o, dir, sizeof(dir));
	if (err)
		return err;
	fd = ep_xdp_open_pinned(dir, name);
	if (fd < 0)
		pr_err("open %s/%s: %s (is the classifier attached?)", dir, name, strerror(-fd));
	return fd;
}

static int cmd_attach(struct opts *o, const char *dev)
{
	struct ep_xdp_opts xo = {
		.ifname = dev,
		.mode = o->mode,
		.port = (uint16_t)o->port,
		.max_task_len = (uint32_t)o->max_task_len,
		.pin_dir = o->pin_dir,
		.debug = o->debug,
	};
	struct ep_xdp *x;
	int err;

	err = ep_xdp_attach(&xo, &x);
	if (err)
		return err;
	printf("attached ep_classify to %s in %s mode, maps pinned in %s\n", dev,
	       ep_xdp_mode_name(x), ep_xdp_pin_dir(x));
	ep_xdp_close(x, false);
	return 0;
}

static int cmd_detach(struct opts *o, const char *dev)
{
	char dir[4096];
	int err;

	if (o->pin_dir)
		snprintf(dir, sizeof(dir), "%s", o->pin_dir);
	else if ((err = ep_xdp_default_pin_dir(dev, dir, sizeof(dir))))
		return err;
	err = ep_xdp_detach_ifname(dev, dir);
	if (err == -ENOENT)
		pr_err("%s: no edgeplane classifier attached", dev);
	else if (err)
		pr_err("detach from %s: %s", dev, strerror(-err));
	return err;
}

static int cmd_stats(struct opts *o)
{
	struct ep_counter c[EP_STAT__COUNT];
	int fd, err;

	fd = open_map(o, EP_PIN_STATS);
	if (fd < 0)
		return fd;
	err = ep_xdp_read_stats(fd, c);
	close(fd);
	if (err) {
		pr_err("read counters: %s", strerror(-err));
		return err;
	}
	if (o->json) {
		printf("{");
		for (int i = 0; i < EP_STAT__COUNT; i++)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", i ? "," : "",
			       ep_stat_name(i), (unsigned long long)c[i].packets,
			       (unsigned long long)c[i].bytes);
		printf("}\n");
		return 0;
	}
	printf("%-22s %14s %16s\n", "outcome", "packets", "bytes");
	for (int i = 0; i < EP_STAT__COUNT; i++)
		printf("%-22s %14llu %16llu\n", ep_stat_name(i), (unsigned long long)c[i].packets,
		       (unsigned long long)c[i].bytes);
	return 0;
}

static int cmd_config(struct opts *o)
{
	struct ep_config cfg;
	int fd, err;

	fd = open_map(o, EP_PIN_CFG);
	if (fd < 0)
		return fd;
	err = ep_xdp_read_config(fd, &cfg);
	if (!err && o->cfg_changed) {
		if (o->port)
			cfg.udp_port = (uint16_t)o->port;
		if (o->max_task_len)
			cfg.max_task_len = (uint32_t)o->max_task_len;
		if (o->tenant_check >= 0)
			cfg.flags = o->tenant_check ? cfg.flags | EP_CFG_F_TENANT_CHECK
						    : cfg.flags & ~EP_CFG_F_TENANT_CHECK;
		for (int p = EP_PRIO_MIN; p <= EP_PRIO_MAX; p++)
			if (o->prio_slot[p] >= 0)
				cfg.prio_slot[p] = (uint8_t)o->prio_slot[p];
		err = ep_xdp_write_config(fd, &cfg);
	}
	close(fd);
	if (err) {
		pr_err("config: %s", strerror(-err));
		return err;
	}
	if (o->json)
		printf("{\"udp_port\":%u,\"max_task_len\":%u,\"tenant_check\":%s,"
		       "\"prio_slot\":[%u,%u,%u,%u,%u]}\n",
		       cfg.udp_port ? cfg.udp_port : EP_DEFAULT_PORT,
		       cfg.max_task_len ? cfg.max_task_len : EP_DEFAULT_MAX_TASK_LEN,
		       cfg.flags & EP_CFG_F_TENANT_CHECK ? "true" : "false", cfg.prio_slot[1],
		       cfg.prio_slot[2], cfg.prio_slot[3], cfg.prio_slot[4], cfg.prio_slot[5]);
	else
		printf("udp_port %u\nmax_task_len %u\ntenant_check %s\n"
		       "prio_slot 1=%u 2=%u 3=%u 4=%u 5=%u\n",
		       cfg.udp_port ? cfg.udp_port : EP_DEFAULT_PORT,
		       cfg.max_task_len ? cfg.max_task_len : EP_DEFAULT_MAX_TASK_LEN,
		       cfg.flags & EP_CFG_F_TENANT_CHECK ? "on" : "off", cfg.prio_slot[1],
		       cfg.prio_slot[2], cfg.prio_slot[3], cfg.prio_slot[4], cfg.prio_slot[5]);
	return 0;
}

static int cmd_tenant(struct opts *o, const char *op, const char *id_s)
{
	struct ep_tenant val = { 0 };
	long id;
	__u32 key;
	int fd, err;

	if (strcmp(op, "add") && strcmp(op, "del")) {
		pr_err("tenant: unknown operation '%s' (add or del)", op);
		return -EINVAL;
	}
	err = ep_parse_long("tenant id", id_s, 0, 0xffffffffL, &id);
	if (err)
		return err;
	fd = open_map(o, EP_PIN_TENANTS);
	if (fd < 0)
		return fd;
	key = (__u32)id;
	err = !strcmp(op, "add") ? bpf_map_update_elem(fd, &key, &val, BPF_ANY)
				 : bpf_map_delete_elem(fd, &key);
	err = err ? -errno : 0;
	close(fd);
	if (err)
		pr_err("tenant %s %lu: %s", op, id, strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	enum { OPT_MAX_TASK = 256, OPT_TENANT_CHECK, OPT_PRIO_SLOT, OPT_DEBUG };
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "dev", required_argument, NULL, 'i' },
		{ "mode", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-task-len", required_argument, NULL, OPT_MAX_TASK },
		{ "tenant-check", required_argument, NULL, OPT_TENANT_CHECK },
		{ "prio-slot", required_argument, NULL, OPT_PRIO_SLOT },
		{ "json", no_argument, NULL, 'j' },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { .tenant_check = -1 };
	const char *cmd;
	long p, s;
	int c, err = 0;

	ep_log_set_ident("edgeplane-xdp");
	ep_log_route_libs();
	for (int i = 0; i < 8; i++)
		o.prio_slot[i] = -1;

	while ((c = getopt_long(argc, argv, "d:i:m:p:jvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.pin_dir = optarg;
			break;
		case 'i':
			o.dev = optarg;
			break;
		case 'm':
			if (ep_xdp_parse_mode(optarg, &o.mode)) {
				pr_err("--mode: '%s' is not auto, native or skb", optarg);
				return 2;
			}
			break;
		case 'p':
			if (ep_parse_long("--port", optarg, 1, 65535, &o.port))
				return 2;
			o.cfg_changed = true;
			break;
		case OPT_MAX_TASK:
			if (ep_parse_long("--max-task-len", optarg, 1, EP_MAX_TASK_LEN, &o.max_task_len))
				return 2;
			o.cfg_changed = true;
			break;
		case OPT_TENANT_CHECK:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				pr_err("--tenant-check: '%s' is not on or off", optarg);
				return 2;
			}
			o.tenant_check = !strcmp(optarg, "on");
			o.cfg_changed = true;
			break;
		case OPT_PRIO_SLOT: {
			char *eq = strchr(optarg, '=');

			if (!eq) {
				pr_err("--prio-slot: '%s' is not PRIORITY=SLOT", optarg);
				return 2;
			}
			*eq = '\0';
			if (ep_parse_long("--prio-slot priority", optarg, EP_PRIO_MIN, EP_PRIO_MAX, &p) ||
			    ep_parse_long("--prio-slot slot", eq + 1, 0, EP_XSK_SLOTS - 1, &s))
				return 2;
			o.prio_slot[p] = (int)s;
			o.cfg_changed = true;
			break;
		}
		case 'j':
			o.json = true;
			break;
		case OPT_DEBUG:
			o.debug = true;
			break;
		case 'v':
			ep_log_set_level(EP_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (!strcmp(cmd, "attach") || !strcmp(cmd, "detach")) {
		if (optind != argc - 1) {
			pr_err("%s needs exactly one interface name", cmd);
			return 2;
		}
		err = cmd[0] == 'a' ? cmd_attach(&o, argv[optind]) : cmd_detach(&o, argv[optind]);
	} else if (!strcmp(cmd, "reasons")) {
		for (int i = 0; i < EP_STAT__COUNT; i++)
			printf("%d %s %s\n", i, ep_stat_name(i),
			       ep_stat_is_drop(i) ? "drop" : ep_stat_is_pass(i) ? "pass" : "redirect");
	} else if (!strcmp(cmd, "stats")) {
		err = cmd_stats(&o);
	} else if (!strcmp(cmd, "config")) {
		err = cmd_config(&o);
	} else if (!strcmp(cmd, "tenant")) {
		if (optind != argc - 2) {
			pr_err("usage: tenant add|del ID");
			return 2;
		}
		err = cmd_tenant(&o, argv[optind], argv[optind + 1]);
	} else {
		pr_err("unknown command '%s' (try --help)", cmd);
		return 2;
	}
	return err ? 1 : 0;
}
