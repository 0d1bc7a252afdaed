// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "edgeplane/addrset.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "ep_classifier.skel.h"
#include "xdp/ep_xdp.h"

#define EP_PROG_NAME "ep_classify"

struct ep_xdp {
	int lock_fd; /* flock()ed while we own the interface */
	struct ep_classifier *skel;
	struct xdp_program *prog;
	int ifindex;
	enum xdp_attach_mode mode;
	char pin_dir[PATH_MAX];
};

int ep_xdp_parse_mode(const char *s, enum ep_xdp_mode *mode)
{
	if (!strcmp(s, "auto"))
		*mode = EP_XDP_MODE_AUTO;
	else if (!strcmp(s, "native"))
		*mode = EP_XDP_MODE_NATIVE;
	else if (!strcmp(s, "skb") || !strcmp(s, "generic"))
		*mode = EP_XDP_MODE_SKB;
	else
		return -EINVAL;
	return 0;
}

int ep_xdp_default_pin_dir(const char *ifname, char *buf, size_t len)
{
	const char *root = getenv("LIBXDP_BPFFS");
	int n;

	n = snprintf(buf, len, "%s/edgeplane/%s", root && *root ? root : "/sys/fs/bpf", ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void ep_bpf_unpin(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *m;

	for (m = bpf_object__next_map(obj, NULL); m; m = bpf_object__next_map(obj, m)) {
		const char *path = bpf_map__pin_path(m);

		if (path)
			unlink(path);
	}
	if (dir)
		rmdir(dir);
}

void ep_bpf_no_pins(struct bpf_object *obj)
{
	struct bpf_map *m;

	for (m = bpf_object__next_map(obj, NULL); m; m = bpf_object__next_map(obj, m))
		bpf_map__set_pin_path(m, NULL);
}

/* libxdp probes the kernel while attaching; keep its expected refusals out of sight. */
static int attach_mode(struct xdp_program *prog, int ifindex, enum xdp_attach_mode mode)
{
	int err;

	ep_log_libs_hold();
	err = xdp_program__attach(prog, ifindex, mode, 0);
	ep_log_libs_release(err != 0);
	return err;
}

int ep_xdp_prog_from_obj(struct bpf_object *obj, const char *what, struct xdp_program **out)
{
	struct xdp_program *prog = xdp_program__from_bpf_obj(obj, "xdp");
	int err = libxdp_get_error(prog);

	*out = err ? NULL : prog;
	if (err)
		pr_err("libxdp: cannot use the %s object: %s", what, strerror(-err));
	return err;
}

int ep_xdp_attach_prog(struct xdp_program *prog, int ifindex, const char *ifname,
		       enum ep_xdp_mode want, enum ep_xdp_mode *got)
{
	int err;

	*got = want == EP_XDP_MODE_SKB ? EP_XDP_MODE_SKB : EP_XDP_MODE_NATIVE;
	err = attach_mode(prog, ifindex, *got == EP_XDP_MODE_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE);
	if (err && want == EP_XDP_MODE_AUTO) {
		pr_info("%s: native XDP failed (%s), falling back to generic mode", ifname,
			strerror(-err));
		*got = EP_XDP_MODE_SKB;
		err = attach_mode(prog, ifindex, XDP_MODE_SKB);
	}
	return err;
}

int ep_iface_lock(const char *kind, int ifindex)
{
	char path[PATH_MAX];
	struct stat ns;
	int fd, err;

	if (stat("/proc/self/ns/net", &ns))
		return -errno;
	err = ep_mkdir_p("/run/edgeplane", 0755);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/run/edgeplane/%s-%llu-%d.lock", kind,
		 (unsigned long long)ns.st_ino, ifindex);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* One owner of the classifier per interface at a time. */
static int lock_iface(struct ep_xdp *x)
{
	x->lock_fd = ep_iface_lock("xdp", x->ifindex);
	if (x->lock_fd == -EBUSY)
		pr_err("another edgeplane process owns the classifier on this interface");
	if (x->lock_fd < 0) {
		int err = x->lock_fd;

		x->lock_fd = -1;
		return err;
	}
	return 0;
}

int ep_xdp_configure(int cfg_fd, int rl_fd, const struct ep_xdp_opts *o)
{
	struct ep_config cfg;
	int err;

	err = ep_xdp_write_rl(rl_fd, o->rate_limit); /* NULL: the defaults */
	if (err)
		return err;
	err = ep_xdp_read_config(cfg_fd, &cfg);
	if (err)
		return err;
	cfg.udp_port = o->port ? o->port : EP_DEFAULT_PORT;
	if (o->max_task_len)
		cfg.max_task_len = o->max_task_len;
	cfg.encap_port = o->encap_port;
	cfg.max_priority = o->max_priority;
	cfg.flags = (__u16)((cfg.flags & ~(EP_CFG_F_REPLY_ROUTE | EP_CFG_F_ANY_DEST)) |
			    (o->reply_route ? EP_CFG_F_REPLY_ROUTE : 0) |
			    (o->any_dest_unsafe ? EP_CFG_F_ANY_DEST : 0));
	return ep_xdp_write_config(cfg_fd, &cfg);
}

/* A runtime that died (SIGKILL, a crash) leaves its classifier attached, and without
 * libxdp's dispatcher nothing can be attached next to it: take it off @ifname. Its pinned
 * maps stay, and are reused. (Call with the lock held: its owner is gone.) */
static void take_off_leftover(const char *ifname)
{
	int err;

	if (ep_xdp_find_prog(ifname, EP_PROG_NAME, NULL) != 1)
		return;
	pr_info("%s: replacing the classifier an earlier run left attached", ifname);
	err = ep_xdp_detach_prog(ifname, EP_PROG_NAME);
	if (err && err != -ENOENT)
		pr_warn("%s: detach the old classifier: %s", ifname, strerror(-err));
}

int ep_xdp_attach(const struct ep_xdp_opts *o, struct ep_xdp **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	struct ep_xdp *x;
	enum ep_xdp_mode got;
	int err;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->lock_fd = -1;
	x->ifindex = if_nametoindex(o->ifname);
	if (!x->ifindex) {
		err = -errno;
		pr_err("interface %s: %s", o->ifname, strerror(errno));
		goto err_free;
	}
	if (o->pin_dir)
		snprintf(x->pin_dir, sizeof(x->pin_dir), "%s", o->pin_dir);
	else if ((err = ep_xdp_default_pin_dir(o->ifname, x->pin_dir, sizeof(x->pin_dir))))
		goto err_free;

	/* The maps bpf/ marks (lib/pin.h) are pinned in, or reused from, x->pin_dir. */
	open_opts.pin_root_path = x->pin_dir;
	x->skel = ep_classifier__open_opts(&open_opts);
	if (!x->skel) {
		err = -errno;
		pr_err("open classifier: %s", strerror(errno));
		goto err_free;
	}
	x->skel->rodata->ep_default_port = o->port ? o->port : EP_DEFAULT_PORT;
	x->skel->rodata->ep_debug = o->debug;

	err = ep_bpf_pin_dir_prepare(x->pin_dir); /* logs what to do about it */
	if (err)
		goto err_destroy;

	/* One owner per interface (in this network namespace) at a time. */
	err = lock_iface(x);
	if (err)
		goto err_destroy;
	take_off_leftover(o->ifname);

	err = ep_xdp_prog_from_obj(x->skel->obj, "classifier", &x->prog);
	if (err)
		goto err_destroy;

	err = ep_xdp_attach_prog(x->prog, x->ifindex, o->ifname, o->mode, &got);
	x->mode = got == EP_XDP_MODE_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	if (err) {
		pr_err("attach to %s: %s", o->ifname, strerror(-err));
		goto err_close_prog;
	}

	/* The port lives in the map too, so it stays right if pinned state is reused. The
	 * addresses first: a task to us must not meet an empty ep_addrs. */
	err = ep_xdp_sync_addrs(ep_xdp_addrs_fd(x), o->addrs);
	if (err >= 0)
		err = ep_xdp_configure(ep_xdp_cfg_fd(x), ep_xdp_rl_fd(x), o);
	if (err >= 0)
		err = ep_xdp_write_auth_mode(ep_xdp_auth_fd(x), o->auth_mode);
	if (err < 0) {
		pr_err("configure classifier: %s", strerror(-err));
		goto err_detach;
	}
	pr_debug("classifier on %s (%s mode), maps in %s", o->ifname, ep_xdp_mode_name(x),
		 x->pin_dir);
	*out = x;
	return 0;

err_detach:
	xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
err_close_prog:
	xdp_program__close(x->prog);
	x->prog = NULL;
err_destroy:
	ep_classifier__destroy(x->skel);
	if (x->lock_fd >= 0)
		close(x->lock_fd);
err_free:
	free(x);
	return err;
}

void ep_xdp_close(struct ep_xdp *x, bool detach)
{
	if (!x)
		return;
	if (detach) {
		int err = xdp_program__detach(x->prog, x->ifindex, x->mode, 0);

		if (err)
			pr_warn("detach: %s", strerror(-err));
		ep_bpf_unpin(x->skel->obj, x->pin_dir);
	}
	xdp_program__close(x->prog);
	ep_classifier__destroy(x->skel);
	if (x->lock_fd >= 0)
		close(x->lock_fd);
	free(x);
}

const char *ep_xdp_mode_name(const struct ep_xdp *x)
{
	return x->mode == XDP_MODE_SKB ? "skb" : "native";
}

const char *ep_xdp_pin_dir(const struct ep_xdp *x)
{
	return x->pin_dir;
}

/* The fd of each map the runtime and the tools write through the handle. */
#define EP_XDP_MAP_FD(fn, map)                         \
	int fn(const struct ep_xdp *x)                 \
	{                                              \
		return bpf_map__fd(x->skel->maps.map); \
	}
EP_XDP_MAP_FD(ep_xdp_xsks_fd, ep_xsks)
EP_XDP_MAP_FD(ep_xdp_cfg_fd, ep_cfg)
EP_XDP_MAP_FD(ep_xdp_addrs_fd, ep_addrs)
EP_XDP_MAP_FD(ep_xdp_rl_fd, ep_rl_cfg)
EP_XDP_MAP_FD(ep_xdp_auth_fd, ep_auth_cfg)
EP_XDP_MAP_FD(ep_xdp_keys_fd, ep_keys)
EP_XDP_MAP_FD(ep_xdp_key_state_fd, ep_key_state)
#undef EP_XDP_MAP_FD

/* Remove the classifier's pins under @pin_dir, and the directory: the maps its object
 * marks as pinned (the skeleton is opened for their names, not loaded). */
static void unpin_dir(const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct ep_classifier *skel = ep_classifier__open_opts(&opts);

	if (!skel) {
		pr_warn("unpin %s: open the classifier: %s", pin_dir, strerror(errno));
		return;
	}
	ep_bpf_unpin(skel->obj, pin_dir);
	ep_classifier__destroy(skel);
}

/*
 * The program named @name on @ifname (@ifindex set): behind libxdp's dispatcher, or
 * attached directly (`ip link`, `bpftool net attach`: a "legacy" multiprog). Returns it,
 * with *mp for the caller to close, or NULL with *err 0 if it is not attached, else a
 * negative errno (-ENOENT: no XDP program at all).
 */
static struct xdp_program *find_attached(const char *ifname, const char *name, int *ifindex,
					 struct xdp_multiprog **mp, int *err)
{
	struct xdp_program *p;

	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex) {
		*err = -errno;
		return NULL;
	}
	*mp = xdp_multiprog__get_from_ifindex(*ifindex);
	*err = libxdp_get_error(*mp);
	if (*err)
		return NULL;
	if (xdp_multiprog__is_legacy(*mp)) {
		p = xdp_multiprog__main_prog(*mp);
		if (p && !strcmp(xdp_program__name(p), name))
			return p;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, *mp); p;
		     p = xdp_multiprog__next_prog(p, *mp))
			if (!strcmp(xdp_program__name(p), name))
				return p;
	}
	xdp_multiprog__close(*mp);
	return NULL;
}

int ep_xdp_detach_prog(const char *ifname, const char *prog_name)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int ifindex, err;

	p = find_attached(ifname, prog_name, &ifindex, &mp, &err);
	if (!p)
		return err ?: -ENOENT;
	/* One instance: the multiprog changes under us (ep_xdp_detach_ifname() repeats). */
	if (xdp_multiprog__is_legacy(mp))
		err = xdp_multiprog__detach(mp);
	else
		err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
	xdp_multiprog__close(mp);
	return err;
}

int ep_xdp_find_prog(const char *ifname, const char *prog_name, enum ep_xdp_mode *mode)
{
	struct xdp_multiprog *mp;
	int ifindex, err;

	if (!find_attached(ifname, prog_name, &ifindex, &mp, &err))
		return err == -ENOENT ? 0 : err;
	if (mode)
		*mode = xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ? EP_XDP_MODE_SKB
								       : EP_XDP_MODE_NATIVE;
	xdp_multiprog__close(mp);
	return 1;
}

int ep_xdp_detach_ifname(const char *ifname, const char *pin_dir)
{
	int n = 0, err;

	/* Every instance: ep_xdp_detach_prog takes one off at a time (a dispatcher's list
	 * changes under it), so again until none is left; bounded by the dispatcher's
	 * slots (10) with room to spare. */
	while (!(err = ep_xdp_detach_prog(ifname, EP_PROG_NAME)) && ++n < 64)
		;
	if (err == -ENOENT && n)
		err = 0;

	if (pin_dir && err != -ENODEV)
		unpin_dir(pin_dir);
	return err;
}

int ep_xdp_open_pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int ep_xdp_read_stats(int stats_fd, struct ep_counter out[EP_STAT__COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	struct ep_counter *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k < EP_STAT__COUNT; k++) {
		out[k] = (struct ep_counter){ 0 };
		if (bpf_map_lookup_elem(stats_fd, &k, v)) {
			int err = -errno;

			free(v);
			return err;
		}
		for (int c = 0; c < ncpu; c++) {
			out[k].packets += v[c].packets;
			out[k].bytes += v[c].bytes;
		}
	}
	free(v);
	return 0;
}

int ep_xdp_read_config(int cfg_fd, struct ep_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(cfg_fd, &zero, cfg) ? -errno : 0;
}

int ep_xdp_write_config(int cfg_fd, const struct ep_config *cfg)
{
	__u32 zero = 0;

	for (int p = EP_PRIO_MIN; p <= EP_PRIO_MAX; p++)
		if (cfg->prio_slot[p] >= EP_XSK_SLOTS)
			return -EINVAL;
	if (cfg->max_task_len > EP_MAX_TASK_LEN)
		return -EINVAL;
	return bpf_map_update_elem(cfg_fd, &zero, cfg, BPF_ANY) ? -errno : 0;
}

int ep_xdp_apply_addrs(int fd, const struct ep_addrset *want)
{
	struct ep_addr_key key, next, *stale;
	struct ep_addr_val val;
	unsigned int nstale = 0;
	int changed = 0, err = 0;

	/* What is there and must go, first (deleting while walking restarts the walk). */
	stale = calloc(EP_ADDRS_MAX, sizeof(*stale));
	if (!stale)
		return -ENOMEM;
	for (int r = bpf_map_get_next_key(fd, NULL, &next); !r && nstale < EP_ADDRS_MAX;
	     r = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!ep_addrset_flags(want, key.addr))
			stale[nstale++] = key;
	}
	for (unsigned int i = 0; i < nstale; i++) {
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT) {
			err = -errno;
			goto out;
		}
		changed++;
	}
	for (unsigned int i = 0; i < want->n; i++) {
		memcpy(key.addr, want->e[i].addr, 16);
		if (!bpf_map_lookup_elem(fd, &key, &val) && val.flags == want->e[i].flags)
			continue;
		val = (struct ep_addr_val){ .flags = want->e[i].flags };
		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
			err = -errno;
			goto out;
		}
		changed++;
	}
out:
	free(stale);
	return err ? err : changed;
}

int ep_xdp_sync_addrs(int fd, const struct ep_xdp_addr_cfg *cfg)
{
	struct ep_addrset *want;
	struct ifaddrs *ifa;
	int err;

	want = calloc(1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	if (getifaddrs(&ifa)) {
		err = -errno;
		goto out;
	}
	err = ep_addrset_add_ifaddrs(want, ifa, EP_ADDR_F_LOCAL);
	freeifaddrs(ifa);
	for (unsigned int i = 0; !err && cfg && i < cfg->nvirtual; i++)
		err = ep_addrset_add(want, cfg->virtual_addrs[i], EP_ADDR_F_VIRTUAL);
	for (unsigned int i = 0; !err && cfg && i < cfg->ngateways; i++)
		err = ep_addrset_add(want, cfg->gateways[i], EP_ADDR_F_GATEWAY);
	if (err == -ENOSPC)
		pr_warn("more than %d addresses for the classifier's ep_addrs: the rest are not "
			"taken as this node's",
			EP_ADDRS_MAX);
	err = ep_xdp_apply_addrs(fd, want);
out:
	free(want);
	return err;
}

void ep_xdp_rl_defaults(struct ep_rl_cfg *rl)
{
	ep_rl_defaults(rl);
}

int ep_xdp_check_rl(const char *what, const struct ep_rl_cfg *rl)
{
	if (rl->prefix_v4 > 32 || rl->prefix_v6 > 128) {
		pr_err("%s: source prefixes are 0..32 (IPv4) and 0..128 (IPv6), not /%u and /%u",
		       what, rl->prefix_v4, rl->prefix_v6);
		return -EINVAL;
	}
	if (rl->flags & EP_RL_F_OFF)
		return 0;
	if ((rl->packets_per_s && !rl->packets_burst) || (rl->tasks_per_s && !rl->tasks_burst)) {
		pr_err("%s: a burst of 0 with a rate would refuse everything: at least 1", what);
		return -EINVAL;
	}
	if (rl->bytes_per_s && rl->bytes_burst < 1500) {
		pr_err("%s: bytes_burst %u is smaller than one datagram: at least 1500", what,
		       rl->bytes_burst);
		return -EINVAL;
	}
	return 0;
}

int ep_xdp_read_rl(int fd, struct ep_rl_cfg *rl)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, rl) ? -errno : 0;
}

int ep_xdp_write_rl(int fd, const struct ep_rl_cfg *rl)
{
	struct ep_rl_cfg v;
	__u32 zero = 0;

	if (rl)
		v = *rl;
	else
		ep_xdp_rl_defaults(&v);
	if (ep_xdp_check_rl("rate limit", &v))
		return -EINVAL;
	v.flags |= EP_RL_F_SET;
	ep_rl_derive(&v); /* what XDP takes per unit, so it divides nothing */
	return bpf_map_update_elem(fd, &zero, &v, BPF_ANY) ? -errno : 0;
}

int ep_xdp_parse_auth_mode(const char *s, enum ep_auth_mode *mode)
{
	for (unsigned int m = 0; m < EP_AUTH_MODE__COUNT; m++)
		if (!strcmp(s, ep_xdp_auth_mode_name(m))) {
			*mode = (enum ep_auth_mode)m;
			return 0;
		}
	return -EINVAL;
}

const char *ep_xdp_auth_mode_name(unsigned int mode)
{
	static const char *const names[] = {
#define EP_X_NAME(name, str) [EP_AUTH_MODE_##name] = str,
		EP_AUTH_MODE_LIST(EP_X_NAME)
#undef EP_X_NAME
	};

	return mode < EP_AUTH_MODE__COUNT ? names[mode] : "?";
}

int ep_xdp_read_auth_mode(int auth_fd, enum ep_auth_mode *mode)
{
	struct ep_auth_cfg c;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(auth_fd, &zero, &c))
		return -errno;
	/* As XDP reads it (bpf/lib/auth.h): unwritten is off, out of range required. */
	*mode = !(c.flags & EP_AUTH_F_SET)     ? EP_AUTH_MODE_OFF
		: c.mode < EP_AUTH_MODE__COUNT ? (enum ep_auth_mode)c.mode
					       : EP_AUTH_MODE_REQUIRED;
	return 0;
}

int ep_xdp_write_auth_mode(int auth_fd, enum ep_auth_mode mode)
{
	struct ep_auth_cfg c = { .mode = (__u8)mode, .flags = EP_AUTH_F_SET };
	__u32 zero = 0;

	if ((unsigned int)mode >= EP_AUTH_MODE__COUNT)
		return -EINVAL;
	return bpf_map_update_elem(auth_fd, &zero, &c, BPF_ANY) ? -errno : 0;
}

/* Empty buckets for key id @id: the next datagram finds them full. */
static int key_state_clear(int state_fd, uint32_t id)
{
	struct ep_key_state st = { 0 };

	return bpf_map_update_elem(state_fd, &id, &st, BPF_ANY) ? -errno : 0;
}

int ep_xdp_write_key(int keys_fd, int state_fd, uint32_t key_id, const struct ep_key_entry *e)
{
	struct ep_key_entry v = *e, old;
	int err;

	if (!key_id || key_id > 0xffff || (v.flags & ~EP_KEY_F_KNOWN) ||
	    v.max_priority > EP_PRIO_MAX || /* 0: no request (a node's own key) */
	    (v.tasks_per_s && !v.tasks_burst) ||
	    (v.kib_per_s && v.burst_kib < EP_KEY_MIN_BURST_KIB))
		return -EINVAL;
	memset(v.pad, 0, sizeof(v.pad));
	ep_key_derive(&v); /* what XDP takes per unit, so it divides nothing */
	/* A new id, or another key under it: fresh buckets, before the entry says so. */
	if (bpf_map_lookup_elem(keys_fd, &key_id, &old)) {
		if (errno != ENOENT)
			return -errno;
		old.issued_unix_ms = ~v.issued_unix_ms;
	}
	if (old.issued_unix_ms != v.issued_unix_ms) {
		err = key_state_clear(state_fd, key_id);
		if (err)
			return err;
	}
	return bpf_map_update_elem(keys_fd, &key_id, &v, BPF_ANY) ? -errno : 0;
}

int ep_xdp_delete_key(int keys_fd, int state_fd, uint32_t key_id)
{
	if (!key_id || key_id > 0xffff)
		return -EINVAL;
	if (bpf_map_delete_elem(keys_fd, &key_id))
		return -errno;
	return key_state_clear(state_fd, key_id);
}

int ep_xdp_clear_keys(int keys_fd, int state_fd)
{
	uint32_t id;
	int n = 0, err;

	/* Always the first key: the map shrinks by one per turn, so this ends (and at most
	 * EP_KEYS_MAX turns, against a writer racing us). */
	for (int turn = 0; turn <= EP_KEYS_MAX; turn++) {
		if (bpf_map_get_next_key(keys_fd, NULL, &id))
			return errno == ENOENT ? n : -errno;
		if (bpf_map_delete_elem(keys_fd, &id)) {
			if (errno != ENOENT)
				return -errno;
			continue;
		}
		n++;
		if (id < EP_KEYS_MAX) { /* the buckets' array */
			err = key_state_clear(state_fd, id);
			if (err)
				return err;
		}
	}
	return -EBUSY;
}

int ep_xdp_key_ids(int keys_fd, uint64_t *ids)
{
	uint32_t id, next;
	int n = 0, r;

	memset(ids, 0, EP_KEYS_MAX / 8);
	for (r = bpf_map_get_next_key(keys_fd, NULL, &next); !r && n < EP_KEYS_MAX;
	     r = bpf_map_get_next_key(keys_fd, &id, &next)) {
		id = next;
		if (id < EP_KEYS_MAX) {
			ids[id / 64] |= 1ull << (id % 64);
			n++;
		}
	}
	return r && errno != ENOENT ? -errno : n;
}

int ep_xdp_set_auth_mode(struct ep_xdp *x, enum ep_auth_mode mode)
{
	return ep_xdp_write_auth_mode(ep_xdp_auth_fd(x), mode);
}

int ep_xdp_put_key(struct ep_xdp *x, uint32_t key_id, const struct ep_key_entry *e)
{
	return ep_xdp_write_key(ep_xdp_keys_fd(x), ep_xdp_key_state_fd(x), key_id, e);
}

int ep_xdp_del_key(struct ep_xdp *x, uint32_t key_id)
{
	return ep_xdp_delete_key(ep_xdp_keys_fd(x), ep_xdp_key_state_fd(x), key_id);
}
