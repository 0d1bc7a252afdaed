// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeplane-fault - make a link lossy: attach bpf/ep_fault.bpf.c to an interface's tc
 * egress hook, set its drop/duplicate/corrupt rates, read what it did, and detach it.
 * The kernel here has no netem; tests and the rig use this instead.
 *
 *   edgeplane-fault attach DEV [--ingress] [--drop R] [--dup R] [--corrupt R] [--port N]
 *   edgeplane-fault set DEV [--ingress] [--drop R] [--dup R] [--corrupt R] [--port N]
 *   edgeplane-fault stats DEV [--ingress] [--json]
 *   edgeplane-fault detach DEV
 *
 * R is a fraction (0.05) or a percentage (5%). The program sits on tc egress, or with
 * --ingress on tc ingress (needed for packets sent with AF_XDP, which skip the qdisc
 * layer: make the receiving side lossy instead). State is pinned under
 * $LIBXDP_BPFFS (or /sys/fs/bpf)/edgeplane-fault/DEV-egress (or -ingress); set and stats
 * take --ingress too; detach removes both.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "edgeplane/log.h"
#include "edgeplane/opt.h"
#include "edgeplane/util.h"
#include "ep_fault.skel.h"
#include "ep_shared.h"
#include "xdp/ep_xdp.h"

static const char *const stat_names[EP_FAULT__COUNT] = { "seen", "dropped", "duplicated",
							 "corrupted" };

/* <bpffs>/edgeplane-fault/DEV-egress or -ingress */
static int pin_dir(const char *dev, bool ingress, char *buf, size_t len)
{
	const char *root = getenv("LIBXDP_BPFFS");

	if (snprintf(buf, len, "%s/edgeplane-fault/%s-%s", root && *root ? root : "/sys/fs/bpf",
		     dev, ingress ? "ingress" : "egress") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int open_map(const char *dev, bool ingress, const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int fd;

	if (pin_dir(dev, ingress, dir, sizeof(dir)))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		pr_err("%s: no fault injection on %s (%s: %s)", dev, ingress ? "ingress" : "egress",
		       path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* EP_OPT_FUNC of --drop, --dup and --corrupt: a fraction ("0.05") or a percentage ("5%")
 * of the packets, into the __u32 parts per million at @opt's ctx. */
static int opt_rate(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	char *end;
	double v = strtod(arg, &end);

	if (end != arg && *end == '%' && !end[1])
		v /= 100;
	else if (end == arg || *end)
		v = -1;
	if (!(v >= 0 && v <= 1)) {
		ep_seterr(err, len, "'%s' is not a rate in 0..1 or 0%%..100%%", arg);
		return -EINVAL;
	}
	*(__u32 *)opt->ctx = (__u32)(v * 1e6 + 0.5);
	return 0;
}

/* Remove @dir (<bpffs>/edgeplane-fault/DEV-DIRECTION) and edgeplane-fault/ once empty. */
static void remove_pin_dir(char *dir)
{
	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static int cmd_attach(const char *dev, const struct ep_fault_cfg *cfg, bool ingress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0xe9, .priority = 1);
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	char dir[PATH_MAX];
	struct ep_fault *skel;
	bool fresh;
	__u32 zero = 0;
	int err;

	hook.ifindex = (int)if_nametoindex(dev);
	if (!hook.ifindex) {
		pr_err("%s: %s", dev, strerror(errno));
		return -errno;
	}
	err = pin_dir(dev, ingress, dir, sizeof(dir));
	if (err)
		return err;
	/* libbpf pins the two maps the program marks (fault_cfg, fault_stats; not its
	 * .rodata) in <bpffs>/edgeplane-fault/DEV-DIRECTION, or reuses them from there. */
	fresh = access(dir, F_OK) != 0;
	{
		char parent[PATH_MAX];

		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = '\0';
		mkdir(parent, 0700);
		mkdir(dir, 0700);
	}
	open_opts.pin_root_path = dir;
	skel = ep_fault__open_opts(&open_opts);
	if (!skel) {
		pr_err("open the fault program: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->ingress = ingress;
	err = ep_fault__load(skel);
	if (err) {
		pr_err("load the fault program: %s", strerror(-err));
		goto out;
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.fault_cfg), &zero, cfg, BPF_ANY);
	if (err)
		goto out;
	ep_log_libs_hold(); /* an existing clsact qdisc is fine, and libbpf says so loudly */
	err = bpf_tc_hook_create(&hook);
	ep_log_libs_release(err && err != -EEXIST);
	if (err && err != -EEXIST) {
		pr_err("%s: clsact qdisc: %s", dev, strerror(-err));
		goto out;
	}
	opts.prog_fd = bpf_program__fd(skel->progs.ep_fault);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_err("%s: attach to tc %s: %s", dev, ingress ? "ingress" : "egress",
		       strerror(-err));
		goto out;
	}
out:
	/* Pins this attach made, and nothing runs with them: none left behind. (Reused
	 * ones, of a program attached already, stay.) */
	if (err && fresh) {
		ep_bpf_unpin(skel->obj, NULL);
		remove_pin_dir(dir);
	}
	ep_fault__destroy(skel); /* the tc filter keeps the program alive */
	return err;
}

static int cmd_set(const char *dev, const struct ep_fault_cfg *cfg, bool ingress)
{
	int fd = open_map(dev, ingress, "fault_cfg"), err;
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &zero, cfg, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

static int cmd_stats(const char *dev, bool ingress, bool json)
{
	int ncpu = libbpf_num_possible_cpus(), fd = open_map(dev, ingress, "fault_stats");
	__u64 *v, sum[EP_FAULT__COUNT] = { 0 };

	if (fd < 0)
		return fd;
	v = calloc((size_t)ncpu, sizeof(*v));
	for (__u32 k = 0; v && k < EP_FAULT__COUNT; k++)
		if (!bpf_map_lookup_elem(fd, &k, v))
			for (int c = 0; c < ncpu; c++)
				sum[k] += v[c];
	free(v);
	close(fd);
	for (int k = 0; k < EP_FAULT__COUNT; k++)
		printf(json ? "%s\"%s\":%llu" : "%s%s %llu",
		       k ? (json ? "," : "\n") : (json ? "{" : ""), stat_names[k],
		       (unsigned long long)sum[k]);
	printf(json ? "}\n" : "\n");
	return 0;
}

/* Take the program off both hooks and remove its pins. */
static int cmd_detach(const char *dev)
{
	char dir[PATH_MAX];
	int ifindex = (int)if_nametoindex(dev), found = 0;

	if (!ifindex) {
		pr_err("%s: %s", dev, strerror(errno));
		return -errno;
	}
	for (int in = 0; in < 2; in++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = in ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0xe9, .priority = 1);
		LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
		struct ep_fault *skel;

		found += !bpf_tc_detach(&hook, &opts);
		if (pin_dir(dev, in, dir, sizeof(dir)))
			continue;
		/* The maps the program pins, by their names (opened, not loaded). */
		skel = ep_fault__open_opts(&open_opts);
		if (skel)
			ep_bpf_unpin(skel->obj, NULL);
		ep_fault__destroy(skel);
		remove_pin_dir(dir); /* and edgeplane-fault/, once no device has pins */
	}
	if (!found) {
		pr_err("%s: no fault injection attached", dev);
		return -ENOENT;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ep_fault_cfg cfg = { 0 };
	bool json = false, ingress = false;
	const char *cmd, *dev;
	const struct ep_opt opts[] = {
		EP_OPT_FLAG("ingress", 0, &ingress,
			    "on DEV's tc ingress hook, not egress (for traffic sent with AF_XDP)"),
		EP_OPT_FUNC("drop", 0, opt_rate, &cfg.drop_ppm, "R", "drop this rate of packets"),
		EP_OPT_FUNC("dup", 0, opt_rate, &cfg.dup_ppm, "R", "duplicate this rate"),
		EP_OPT_FUNC("corrupt", 0, opt_rate, &cfg.corrupt_ppm, "R", "corrupt this rate"),
		EP_OPT_INT("port", 0, &cfg.udp_port, 0, 65535, "N",
			   "only UDP to or from port N (0, the default: any port)"),
		EP_OPT_FLAG("json", 0, &json, "stats: print JSON"),
		EP_OPT_END,
	};
	const struct ep_opt_prog prog = {
		.name = "edgeplane-fault",
		.usage = "Usage: edgeplane-fault attach|set|stats|detach DEV [options]\n",
		.footer = "R: a fraction (0.05) or a percentage (5%) of the UDP packets\n"
			  "leaving DEV (entering it with --ingress).\n",
		.tabs = { opts },
	};
	int first, err;

	ep_log_set_ident("edgeplane-fault");
	ep_log_route_libs();
	first = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_ALL);
	if (first < 0)
		return ep_opt_exit(first);
	if (first != argc - 2)
		return ep_opt_exit(ep_opt_error(&prog, "want a command and a device"));
	cmd = argv[first];
	dev = argv[first + 1];
	if (!strcmp(cmd, "attach"))
		err = cmd_attach(dev, &cfg, ingress);
	else if (!strcmp(cmd, "set"))
		err = cmd_set(dev, &cfg, ingress);
	else if (!strcmp(cmd, "stats"))
		err = cmd_stats(dev, ingress, json);
	else if (!strcmp(cmd, "detach"))
		err = cmd_detach(dev);
	else
		return ep_opt_exit(ep_opt_error(&prog, "unknown command '%s'", cmd));
	return err ? 1 : 0;
}
