// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <assert.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "edgeplane/addrset.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "ep_gateway.skel.h"
#include "xdp/ep_xdp.h"
#include "gw.h"

#define EP_GW_PROG_NAME "ep_gateway"

/* The fd of the gateway's map @map (a member of struct ep_gateway's maps). */
#define FD(gw, map) bpf_map__fd((gw)->skel->maps.map)

#define VIP_MAX	       EP_GW_RELAY_VIPS /* the gateway's own addresses in ep_gw_relay */
#define VIP_REFRESH_NS 1000000000ull	/* read them at most once a second */

struct ep_gw {
	int lock_fd; /* ep_iface_lock("gw") while we serve the interface */
	/* Opened with pin_dir as its pin root: loaded by us (its maps reused from the pins
	 * or pinned), or not loaded, each map given its pin's fd (open_pins()). */
	struct ep_gateway *skel;
	struct xdp_program *prog; /* ours, when this handle attached it */
	char ifname[IF_NAMESIZE];
	enum ep_xdp_mode mode;
	bool reused;
	uint64_t table_version[2]; /* of each half, as last written by us */
	/* Entries of each node half that may be non-zero: the nnodes we last wrote there,
	 * EP_GW_MAX_NODES until we wrote it (a reused half may hold anything). */
	uint32_t nodes_written[2];
	char pin_dir[PATH_MAX];
	/* This network namespace's addresses, for the relay's VIP entries. */
	uint8_t vips[VIP_MAX][16];
	unsigned int nvips;
	uint64_t vips_read_ns;
};

int ep_gw_default_pin_dir(const char *ifname, char *buf, size_t len)
{
	char name[IF_NAMESIZE + 3];

	snprintf(name, sizeof(name), "gw-%s", ifname);
	return ep_xdp_default_pin_dir(name, buf, len);
}

/* A handle for the gateway whose maps are pinned in @pin_dir: its skeleton opened (not
 * loaded) with @pin_dir as the pin root, so every map the program marks (bpf/lib/pin.h)
 * has its pin path. Returns 0 or a negative errno (logged). */
static int gw_new(const char *pin_dir, struct ep_gw **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct ep_gw *gw = calloc(1, sizeof(*gw));

	if (gw)
		gw->nodes_written[0] = gw->nodes_written[1] = EP_GW_MAX_NODES;
	int err;

	if (!gw)
		return -ENOMEM;
	gw->lock_fd = -1;
	snprintf(gw->pin_dir, sizeof(gw->pin_dir), "%s", pin_dir);
	opts.pin_root_path = gw->pin_dir;
	gw->skel = ep_gateway__open_opts(&opts);
	if (!gw->skel) {
		int e = errno;

		err = e > 0 ? -e : -ENOMEM;
		assert(err < 0); /* never 0: the caller would take *out (for the analyzer) */
		pr_err("open the gateway program: %s", strerror(-err));
		free(gw);
		return err;
	}
	*out = gw;
	return 0;
}

/* Release what the handle holds; nothing is detached or unpinned. */
static void gw_free(struct ep_gw *gw)
{
	if (gw->prog)
		xdp_program__close(gw->prog);
	ep_gateway__destroy(gw->skel);
	if (gw->lock_fd >= 0)
		close(gw->lock_fd);
	free(gw);
}

/* A running gateway's maps: each pinned map of the (unloaded) skeleton takes the fd of its
 * pin, so the handle reads and writes them as if it had loaded them. */
static int open_pins(struct ep_gw *gw)
{
	struct bpf_map *m;
	int fd, err;

	for (m = bpf_object__next_map(gw->skel->obj, NULL); m;
	     m = bpf_object__next_map(gw->skel->obj, m)) {
		const char *path = bpf_map__pin_path(m);

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			pr_err("gateway map %s: %s", path, strerror(errno));
			return err;
		}
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			pr_err("gateway map %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

int ep_gw_open(const char *pin_dir, struct ep_gw **out)
{
	struct ep_gw *gw;
	int err = gw_new(pin_dir, &gw);

	if (err)
		return err;
	err = open_pins(gw);
	if (err) {
		gw_free(gw);
		return err;
	}
	*out = gw;
	return 0;
}

/* A fresh gateway: defaults that forward nothing until nodes are published. */
static int init_cfg(struct ep_gw *gw)
{
	struct ep_gw_cfg cfg;
	int err = ep_gw_read_cfg(gw, &cfg);

	if (err || cfg.port)
		return err; /* already configured: a pinned, live state */
	cfg = (struct ep_gw_cfg){
		.port = EP_DEFAULT_PORT,
		.encap_port = EP_ENCAP_PORT,
		.mem_factor = 2,
		.stale_ns = 1000000000ULL,
	};
	for (int p = 0; p < 8; p++)
		cfg.cpu_max_x100[p] = 8000;
	return bpf_map_update_elem(FD(gw, ep_gw_cfg), &(__u32){ 0 }, &cfg, 0) ? -errno : 0;
}

/* What the operator set, into a fresh or a reused gateway: rate limits, the ceiling, the
 * auth mode. */
static int configure(struct ep_gw *gw, const struct ep_gw_opts *o)
{
	struct ep_gw_cfg cfg;
	int err;

	err = ep_gw_write_rl(gw, o->rate_limit); /* NULL: the defaults */
	if (!err)
		err = ep_gw_set_auth_mode(gw, o->auth_mode);
	if (!err)
		err = ep_gw_read_cfg(gw, &cfg);
	if (err)
		return err;
	cfg.max_priority = o->max_priority;
	return bpf_map_update_elem(FD(gw, ep_gw_cfg), &(__u32){ 0 }, &cfg, 0) ? -errno : 0;
}

/* One controller per gateway interface (@ifindex). Returns 0 or a negative errno (logged). */
static int lock_iface(struct ep_gw *gw, int ifindex)
{
	int fd = ep_iface_lock("gw", ifindex);

	if (fd == -EBUSY)
		pr_err("%s: another controller serves this gateway", gw->ifname);
	else if (fd < 0)
		pr_err("%s: lock: %s", gw->ifname, strerror(-fd));
	if (fd < 0)
		return fd;
	gw->lock_fd = fd;
	return 0;
}

/* The gateway is attached already (the controller restarted): keep it, and take its
 * pinned maps. */
static int reuse(struct ep_gw *gw)
{
	int err = open_pins(gw);

	if (err) {
		pr_err("%s: the gateway is attached but its maps are not pinned in %s; "
		       "detach it with 'edgectl detach --iface %s'",
		       gw->ifname, gw->pin_dir, gw->ifname);
		return err;
	}
	gw->reused = true;
	pr_info("gateway already attached to %s (%s mode): reusing its maps in %s", gw->ifname,
		ep_gw_mode_name(gw), gw->pin_dir);
	return 0;
}

/* Load the gateway (its maps reused from their pins, or created and pinned: libbpf, with
 * the skeleton's pin root) and attach it to @ifindex. Returns 0 or a negative errno
 * (logged). */
static int load_attach(struct ep_gw *gw, const struct ep_gw_opts *o, int ifindex)
{
	int err;

	gw->skel->rodata->ep_gw_debug = o->debug;
	err = ep_bpf_pin_dir_prepare(gw->pin_dir); /* logs what to do about it */
	if (err)
		return err;
	err = ep_xdp_prog_from_obj(gw->skel->obj, "gateway", &gw->prog);
	if (err)
		return err;
	err = ep_xdp_attach_prog(gw->prog, ifindex, o->ifname, o->xdp_mode, &gw->mode);
	if (err) {
		pr_err("attach the gateway to %s: %s", o->ifname, strerror(-err));
		return err;
	}
	pr_info("gateway attached to %s (%s mode), maps in %s", o->ifname, ep_gw_mode_name(gw),
		gw->pin_dir);
	return 0;
}

int ep_gw_attach(const struct ep_gw_opts *o, struct ep_gw **out)
{
	char dir[PATH_MAX];
	struct ep_gw *gw;
	int ifindex, err;

	ifindex = if_nametoindex(o->ifname);
	if (!ifindex) {
		err = -errno;
		pr_err("interface %s: %s", o->ifname, strerror(errno));
		return err;
	}
	if (o->pin_dir)
		snprintf(dir, sizeof(dir), "%s", o->pin_dir);
	else if ((err = ep_gw_default_pin_dir(o->ifname, dir, sizeof(dir))))
		return err;
	err = gw_new(dir, &gw);
	if (err)
		return err;
	snprintf(gw->ifname, sizeof(gw->ifname), "%s", o->ifname);
	err = lock_iface(gw, ifindex);
	if (err)
		goto err_free;
	err = ep_xdp_find_prog(o->ifname, EP_GW_PROG_NAME, &gw->mode);
	if (err < 0) {
		pr_err("%s: cannot list XDP programs: %s", o->ifname, strerror(-err));
		goto err_free;
	}
	err = err == 1 ? reuse(gw) : load_attach(gw, o, ifindex);
	if (err)
		goto err_free;

	err = init_cfg(gw);
	if (!err)
		err = configure(gw, o);
	if (err) {
		pr_err("gateway configuration: %s", strerror(-err));
		ep_gw_close(gw, !gw->reused);
		return err;
	}
	*out = gw;
	return 0;

err_free:
	gw_free(gw);
	return err;
}

void ep_gw_close(struct ep_gw *gw, bool detach)
{
	int err;

	if (!gw)
		return;
	if (detach) {
		if (gw->ifname[0]) {
			err = ep_xdp_detach_prog(gw->ifname, EP_GW_PROG_NAME);
			if (err && err != -ENOENT)
				pr_warn("detach the gateway from %s: %s", gw->ifname,
					strerror(-err));
		}
		ep_bpf_unpin(gw->skel->obj, gw->pin_dir);
	}
	gw_free(gw);
}

bool ep_gw_reused(const struct ep_gw *gw)
{
	return gw->reused;
}

const char *ep_gw_pin_dir(const struct ep_gw *gw)
{
	return gw->pin_dir;
}

const char *ep_gw_mode_name(const struct ep_gw *gw)
{
	return gw->mode == EP_XDP_MODE_SKB ? "skb" : "native";
}

int ep_gw_map_fd(const struct ep_gw *gw, const char *name)
{
	const struct bpf_map *m = bpf_object__find_map_by_name(gw->skel->obj, name);

	return m && bpf_map__pin_path(m) && bpf_map__fd(m) >= 0 ? bpf_map__fd(m) : -ENOENT;
}

int ep_gw_read_cfg(struct ep_gw *gw, struct ep_gw_cfg *cfg)
{
	return bpf_map_lookup_elem(FD(gw, ep_gw_cfg), &(__u32){ 0 }, cfg) ? -errno : 0;
}

/* Write @n consecutive array entries from key @first, in one syscall where the kernel
 * has batch updates. 0 or a negative errno. */
static int write_range(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	__u32 *keys = malloc((n ? n : 1) * sizeof(*keys)), count = n;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	if (!bpf_map_update_batch(fd, keys, vals, &count, NULL))
		goto out_free_keys;
	if (errno != EINVAL && errno != 524 /* ENOTSUPP */ && errno != EOPNOTSUPP) {
		err = -errno;
		goto out_free_keys;
	}
	for (__u32 i = 0; !err && i < n; i++)
		if (bpf_map_update_elem(fd, &keys[i], (const char *)vals + i * vsize, 0))
			err = -errno;
out_free_keys:
	free(keys);
	return err;
}

/* This network namespace's addresses (a DSR worker answers from the one its task went
 * to), at most once a second. */
static void read_vips(struct ep_gw *gw, const struct ep_gw_cfg *cfg)
{
	struct ifaddrs *ifa, *i;
	uint64_t now = ep_now_ns();

	if (gw->vips_read_ns && now - gw->vips_read_ns < VIP_REFRESH_NS)
		return;
	gw->vips_read_ns = now;
	if (getifaddrs(&ifa)) {
		pr_warn("gateway: own addresses for the reply relay: %s", strerror(errno));
		return;
	}
	gw->nvips = 0;
	for (i = ifa; i && gw->nvips < VIP_MAX; i = i->ifa_next)
		if (i->ifa_addr && !ep_addr_from_sockaddr(i->ifa_addr, gw->vips[gw->nvips]))
			gw->nvips++;
	freeifaddrs(ifa);
	/* The configured outer sources too (encap_source, encap_source6), if not among them. */
	if (cfg->gw_ip4 && gw->nvips < VIP_MAX)
		ep_addr_from_ip4(cfg->gw_ip4, gw->vips[gw->nvips++]);
	if (memcmp(cfg->gw_ip6, (const uint8_t[16]){ 0 }, 16) && gw->nvips < VIP_MAX)
		memcpy(gw->vips[gw->nvips++], cfg->gw_ip6, 16);
}

static int relay_put(int fd, __u8 half, __u8 kind, const uint8_t *addr, size_t len,
		     const struct ep_gw_relay *v)
{
	struct ep_gw_relay_key k = { .kind = kind, .half = half };

	memcpy(k.addr, addr, len);
	return bpf_map_update_elem(fd, &k, v, 0) ? -errno : 0;
}

/*
 * Half @half of ep_gw_relay: whose replies XDP relays once that half is active. Every
 * present node's addresses (with its MAC for an L2 node), the MACs of the present L2
 * nodes, and our own addresses.
 */
static int write_relay(struct ep_gw *gw, __u32 half, const struct ep_gw_cfg *cfg,
		       const struct ep_gw_node *nodes)
{
	static const uint8_t zero[16];
	struct ep_gw_relay_key key, next, *stale = malloc(EP_GW_RELAY_MAX * sizeof(*stale));
	int fd = FD(gw, ep_gw_relay), err = 0;
	unsigned int nstale = 0;

	if (!stale)
		return -ENOMEM;
	for (int r = bpf_map_get_next_key(fd, NULL, &next); !r && nstale < EP_GW_RELAY_MAX;
	     r = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (key.half == half)
			stale[nstale++] = key;
	}
	for (unsigned int i = 0; !err && i < nstale; i++)
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
			err = -errno;
	free(stale);
	if (err)
		return err;
	for (__u32 id = 1; !err && id < EP_GW_MAX_NODES; id++) {
		const struct ep_gw_node *n = &nodes[id];
		struct ep_gw_relay v = { .node = id, .check_mac = !(n->flags & EP_NODE_F_ENCAP) };
		uint8_t a[16];

		if (!(n->flags & EP_NODE_F_PRESENT))
			continue;
		memcpy(v.mac, n->mac, 6);
		if (n->ip4) {
			ep_addr_from_ip4(n->ip4, a);
			err = relay_put(fd, (__u8)half, EP_GW_RELAY_NODE, a, 16, &v);
		}
		if (!err && memcmp(n->ip6, zero, 16))
			err = relay_put(fd, (__u8)half, EP_GW_RELAY_NODE, n->ip6, 16, &v);
		if (!err && v.check_mac && memcmp(n->mac, zero, 6))
			err = relay_put(fd, (__u8)half, EP_GW_RELAY_MAC, n->mac, 6, &v);
	}
	read_vips(gw, cfg);
	for (unsigned int i = 0; !err && i < gw->nvips; i++)
		err = relay_put(fd, (__u8)half, EP_GW_RELAY_VIP, gw->vips[i], 16,
				&(struct ep_gw_relay){ 0 });
	return err;
}

/*
 * Half @next of the table: its 2^@bits slots, if it holds another version than
 * @table_version, and its size in the active configuration (@cur, written back if that
 * changes: XDP reads only the active half's size, so this write cannot tear a lookup).
 */
static int write_table(struct ep_gw *gw, struct ep_gw_cfg *cur, __u32 next, const uint32_t *table,
		       uint32_t bits, uint64_t table_version)
{
	int err;

	if (gw->table_version[next] == table_version && cur->table_bits[next] == bits)
		return 0;
	gw->table_version[next] = 0;
	err = write_range(FD(gw, ep_gw_table), next * EP_GW_TABLE_SIZE, table, 1u << bits,
			  sizeof(*table));
	if (err)
		return err;
	if (cur->table_bits[next] != bits) {
		cur->table_bits[next] = (__u8)bits;
		if (bpf_map_update_elem(FD(gw, ep_gw_cfg), &(__u32){ 0 }, cur, 0))
			return -errno;
	}
	gw->table_version[next] = table_version;
	return 0;
}

int ep_gw_publish(struct ep_gw *gw, struct ep_gw_cfg *cfg, const struct ep_gw_node *nodes,
		  const uint32_t *table, uint32_t table_bits, uint64_t table_version)
{
	struct ep_gw_cfg cur;
	__u32 next, n;
	int err;

	if (table_bits < EP_GW_TABLE_MIN_BITS || table_bits > EP_GW_TABLE_MAX_BITS ||
	    cfg->nnodes > EP_GW_MAX_NODES)
		return -EINVAL;
	err = ep_gw_read_cfg(gw, &cur);
	if (err)
		return err;
	next = !(cur.active & 1);
	/* Ids up to the larger of this nnodes and the last one written to this half: the
	 * rest of the half is zero already. */
	n = cfg->nnodes > gw->nodes_written[next] ? cfg->nnodes : gw->nodes_written[next];
	err = write_relay(gw, next, cfg, nodes);
	if (!err)
		err = write_range(FD(gw, ep_gw_nodes), next * EP_GW_MAX_NODES, nodes, n,
				  sizeof(*nodes));
	if (err)
		return err;
	gw->nodes_written[next] = cfg->nnodes;
	err = write_table(gw, &cur, next, table, table_bits, table_version);
	if (err)
		return err;
	cfg->active = (__u8)next;
	cfg->generation = cur.generation + 1;
	memcpy(cfg->table_bits, cur.table_bits, sizeof(cfg->table_bits));
	return bpf_map_update_elem(FD(gw, ep_gw_cfg), &(__u32){ 0 }, cfg, 0) ? -errno : 0;
}

/*
 * Read @n consecutive entries of array map @fd from key @first into @vals (@vsize bytes
 * each; per-CPU maps: every CPU's), in one syscall where the kernel has batch lookups
 * (thousands of node ids: one lookup each made `edgectl table` slow). 0 or -errno.
 */
static int read_range(int fd, __u32 first, __u32 n, void *vals, size_t vsize)
{
	__u32 *keys = malloc((n ? n : 1) * sizeof(*keys)), out = 0, count = n;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	if (first) { /* the batch starts after in_batch: key first - 1 */
		__u32 in = first - 1;

		err = bpf_map_lookup_batch(fd, &in, &out, keys, vals, &count, NULL);
	} else {
		err = bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, NULL);
	}
	if ((!err || errno == ENOENT) && count == n)
		goto out_free_keys;
	err = 0;
	for (__u32 i = 0; !err && i < n; i++) {
		__u32 k = first + i;

		if (bpf_map_lookup_elem(fd, &k, (char *)vals + i * vsize))
			err = -errno;
	}
out_free_keys:
	free(keys);
	return err;
}

int ep_gw_read_active(struct ep_gw *gw, struct ep_gw_node *nodes, uint32_t *table,
		      uint32_t *table_bits)
{
	struct ep_gw_cfg cfg;
	int err = ep_gw_read_cfg(gw, &cfg);
	__u32 half, bits, size;

	if (err)
		return err;
	half = cfg.active & 1;
	bits = cfg.table_bits[half];
	if (bits < EP_GW_TABLE_MIN_BITS || bits > EP_GW_TABLE_MAX_BITS)
		bits = EP_GW_TABLE_MIN_BITS; /* as XDP reads it */
	size = 1u << bits;
	if (table_bits)
		*table_bits = bits;
	err = nodes ? read_range(FD(gw, ep_gw_nodes), half * EP_GW_MAX_NODES, EP_GW_MAX_NODES,
				 nodes, sizeof(*nodes))
		    : 0;
	if (!err && table)
		err = read_range(FD(gw, ep_gw_table), half * EP_GW_TABLE_SIZE, size, table,
				 sizeof(*table));
	return err;
}

/* Sum a per-CPU array of @n entries of @words u64 counters each into @out. */
static int sum_percpu(int fd, __u32 n, size_t words, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	int err;

	if (ncpu < 0)
		return ncpu;
	v = calloc((size_t)n * ncpu * words, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, n * words * sizeof(*out));
	err = read_range(fd, 0, n, v, (size_t)ncpu * words * sizeof(*v));
	for (__u32 k = 0; !err && k < n; k++)
		for (int c = 0; c < ncpu; c++)
			for (size_t w = 0; w < words; w++)
				out[k * words + w] += v[((size_t)k * ncpu + c) * words + w];
	free(v);
	return err;
}

int ep_gw_read_stats(struct ep_gw *gw, uint64_t out[EP_GW_STAT__COUNT])
{
	return sum_percpu(FD(gw, ep_gw_stats), EP_GW_STAT__COUNT, 1, out);
}

int ep_gw_read_drops(struct ep_gw *gw, struct ep_counter out[EP_STAT__COUNT])
{
	return ep_xdp_read_stats(FD(gw, ep_stats), out);
}

int ep_gw_read_node_stats(struct ep_gw *gw, struct ep_gw_node_stats out[EP_GW_MAX_NODES])
{
	_Static_assert(sizeof(struct ep_gw_node_stats) == 3 * sizeof(uint64_t), "layout");
	return sum_percpu(FD(gw, ep_gw_node_stats), EP_GW_MAX_NODES, 3, (uint64_t *)out);
}

int ep_gw_read_sent(struct ep_gw *gw, uint64_t out[EP_GW_MAX_NODES])
{
	return read_range(FD(gw, ep_gw_sent), 0, EP_GW_MAX_NODES, out, sizeof(*out));
}

int ep_gw_reset_sent(struct ep_gw *gw, uint32_t id)
{
	__u64 zero = 0;

	return bpf_map_update_elem(FD(gw, ep_gw_sent), &id, &zero, 0) ? -errno : 0;
}

int ep_gw_forget_node(struct ep_gw *gw, uint32_t id)
{
	struct ep_gw_flow_key key, next;
	int fd = FD(gw, ep_gw_affinity), removed = 0, err;
	struct bpf_map_info info = {};
	__u32 v, len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	/* XDP keeps adding entries meanwhile: bound the walk by twice the map's size. */
	err = bpf_map_get_next_key(fd, NULL, &key) ? -errno : 0;
	for (__u64 i = 0; !err && i < 2ull * info.max_entries; i++) {
		/* The next key first: deleting this one would restart the walk. */
		err = bpf_map_get_next_key(fd, &key, &next) ? -errno : 0;
		if (!bpf_map_lookup_elem(fd, &key, &v) && v == id && !bpf_map_delete_elem(fd, &key))
			removed++;
		key = next;
	}
	return err && err != -ENOENT ? err : removed;
}

int ep_gw_add_dev(struct ep_gw *gw, uint32_t ifindex)
{
	return bpf_map_update_elem(FD(gw, ep_gw_devs), &ifindex, &ifindex, 0) ? -errno : 0;
}

int ep_gw_read_rl(struct ep_gw *gw, struct ep_rl_cfg *rl)
{
	return ep_xdp_read_rl(FD(gw, ep_rl_cfg), rl);
}

int ep_gw_write_rl(struct ep_gw *gw, const struct ep_rl_cfg *rl)
{
	return ep_xdp_write_rl(FD(gw, ep_rl_cfg), rl);
}

int ep_gw_read_auth_mode(struct ep_gw *gw, enum ep_auth_mode *mode)
{
	return ep_xdp_read_auth_mode(FD(gw, ep_auth_cfg), mode);
}

int ep_gw_set_auth_mode(struct ep_gw *gw, enum ep_auth_mode mode)
{
	return ep_xdp_write_auth_mode(FD(gw, ep_auth_cfg), mode);
}

int ep_gw_put_key(struct ep_gw *gw, uint32_t key_id, const struct ep_key_entry *e)
{
	return ep_xdp_write_key(FD(gw, ep_keys), FD(gw, ep_key_state), key_id, e);
}

int ep_gw_del_key(struct ep_gw *gw, uint32_t key_id)
{
	return ep_xdp_delete_key(FD(gw, ep_keys), FD(gw, ep_key_state), key_id);
}

int ep_gw_clear_keys(struct ep_gw *gw)
{
	return ep_xdp_clear_keys(FD(gw, ep_keys), FD(gw, ep_key_state));
}
