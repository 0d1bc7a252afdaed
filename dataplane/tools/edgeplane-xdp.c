// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * edgeplane-xdp - attach, inspect and configure the edgeplane XDP classifier by hand.
 * The runtime does the same through dataplane/xdp/ep_xdp.h; this tool is for operators
 * and tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "edgeplane/addrset.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/opt.h"
#include "edgeplane/util.h"
#include "xdp/ep_xdp.h"

#define XDP_USAGE                                                                             \
	"Usage: edgeplane-xdp COMMAND [OPTIONS]\n"                                            \
	"\n"                                                                                  \
	"Commands:\n"                                                                         \
	"  attach DEV      load the classifier and attach it to DEV (through libxdp)\n"       \
	"  detach DEV      detach the classifier from DEV and remove its pins\n"              \
	"  stats           print the verdict counters\n"                                      \
	"  config          show or change runtime settings\n"                                 \
	"  tenant add|del ID   allow or forbid a tenant id\n"                                 \
	"  addrs [sync]    list the addresses tasks may go to (and gateways), or read this\n" \
	"                  network namespace's addresses into them again\n"                   \
	"  addrs add|del ADDR [virtual|gateway]   a virtual address or a gateway\n"           \
	"  auth mode [required|optional|off]   show or set what tasks need a session key\n"   \
	"  keys list       list the session keys XDP checks (ep_keys)\n"                      \
	"  keys add ID [tenant=N] [expires=SECONDS] [types=T,T..|*] [priority=P]\n"           \
	"       [max-task-len=N] [tasks=N[,BURST]] [kib=N[,BURST]] [issued=UNIX_MS]\n"        \
	"       [revoked]  put a key (an existing one's buckets are kept unless issued\n"     \
	"                  changes); defaults: tenant 0, never expires, every type,\n"        \
	"                  priority 3, no size or rate limit\n"                               \
	"  keys del ID     remove a key\n"                                                    \
	"  reasons         list counter indexes and names (for reading bpftool dumps)\n"      \
	"\n"                                                                                  \
	"Options:\n"

#define STR_(x) #x
#define STR(x)	STR_(x)

struct opts {
	const char *pin_dir, *dev;
	enum ep_xdp_mode mode;
	long port, max_task_len, max_priority, encap_port; /* -1 unchanged */
	int tenant_check;				   /* -1 unchanged */
	int prio_slot[8];				   /* -1 unchanged */
	int dest_check;					   /* -1 unchanged, 1 on, 0 off-unsafe */
	int rate_on;					   /* -1 unchanged, 1 on, 0 off-unsafe */
	long rate[4];	       /* packets, burst, bytes, burst; -1 unchanged */
	long prefix4, prefix6; /* -1 unchanged */
	struct ep_xdp_addr_cfg addrs;
	enum ep_auth_mode auth_mode; /* attach */
	bool json, debug, cfg_changed;
	const struct ep_opt_prog *prog; /* for usage errors */
};

/* --rate-packets, --rate-bytes: "N" or "N,BURST" into o->rate[ctx], o->rate[ctx + 1]. */
static int opt_rate(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	long long min_burst = !strcmp(opt->name, "rate-bytes") ? 1500 : 1, r, b = -1;
	long *rate = opt->ctx;
	char buf[64], *comma;

	snprintf(buf, sizeof(buf), "%s", arg);
	comma = strchr(buf, ',');
	if (comma)
		*comma = '\0';
	if (ep_opt_number(buf, 0, 4000000000LL, &r, err, len) ||
	    (comma && ep_opt_number(comma + 1, min_burst, 4000000000LL, &b, err, len)))
		return -EINVAL;
	rate[0] = (long)r;
	if (comma)
		rate[1] = (long)b;
	return 0;
}

/* --prio-slot P=S: priority P's XSK slot. */
static int opt_prio_slot(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	int *slots = opt->ctx;
	const char *eq = strchr(arg, '=');
	char prio[32], why[128];
	long long p, s;

	if (!eq || eq - arg >= (long)sizeof(prio)) {
		ep_seterr(err, len, "'%s' is not PRIORITY=SLOT", arg);
		return -EINVAL;
	}
	snprintf(prio, sizeof(prio), "%.*s", (int)(eq - arg), arg);
	if (ep_opt_number(prio, EP_PRIO_MIN, EP_PRIO_MAX, &p, why, sizeof(why))) {
		ep_seterr(err, len, "priority %s", why);
		return -EINVAL;
	}
	if (ep_opt_number(eq + 1, 0, EP_XSK_SLOTS - 1, &s, why, sizeof(why))) {
		ep_seterr(err, len, "slot %s", why);
		return -EINVAL;
	}
	slots[p] = (int)s;
	return 0;
}

/* --encap-source, --virtual-address A: one more gateway or virtual address. */
static int opt_addr(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	struct ep_xdp_addr_cfg *a = opt->ctx;
	bool gw = !strcmp(opt->name, "encap-source");
	unsigned int *n = gw ? &a->ngateways : &a->nvirtual;

	if (*n == EP_XDP_MAX_CFG_ADDRS ||
	    ep_addr_parse(arg, gw ? a->gateways[*n] : a->virtual_addrs[*n])) {
		ep_seterr(err, len, "'%s' is not a numeric IPv4 or IPv6 address (at most %d)", arg,
			  EP_XDP_MAX_CFG_ADDRS);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

/* --verbose: libbpf and libxdp detail. */
static int opt_verbose(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	ep_log_set_level(EP_LOG_DEBUG);
	return 0;
}

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

/* Open the pinned maps @a and @b into *@fa and *@fb: both, or neither. Returns 0 or a
 * negative errno (said). */
static int open_map_pair(const struct opts *o, const char *a, const char *b, int *fa, int *fb)
{
	*fa = open_map(o, a);
	if (*fa < 0)
		return *fa;
	*fb = open_map(o, b);
	if (*fb < 0) {
		close(*fa);
		return *fb;
	}
	return 0;
}

/* @rl with what the options change. */
static void rl_apply_opts(const struct opts *o, struct ep_rl_cfg *rl)
{
	if (o->rate_on >= 0)
		rl->flags = o->rate_on ? rl->flags & ~EP_RL_F_OFF : rl->flags | EP_RL_F_OFF;
	if (o->rate[0] >= 0)
		rl->packets_per_s = (uint32_t)o->rate[0];
	if (o->rate[1] >= 0)
		rl->packets_burst = (uint32_t)o->rate[1];
	if (o->rate[2] >= 0)
		rl->bytes_per_s = (uint32_t)o->rate[2];
	if (o->rate[3] >= 0)
		rl->bytes_burst = (uint32_t)o->rate[3];
	if (o->prefix4 >= 0)
		rl->prefix_v4 = (uint8_t)o->prefix4;
	if (o->prefix6 >= 0)
		rl->prefix_v6 = (uint8_t)o->prefix6;
}

static int cmd_attach(struct opts *o, const char *dev)
{
	struct ep_rl_cfg rl;
	struct ep_xdp_opts xo = {
		.ifname = dev,
		.mode = o->mode,
		.port = o->port > 0 ? (uint16_t)o->port : 0,
		.max_task_len = o->max_task_len > 0 ? (uint32_t)o->max_task_len : 0,
		.pin_dir = o->pin_dir,
		.debug = o->debug,
		.encap_port = o->encap_port > 0 ? (uint16_t)o->encap_port : 0,
		.max_priority = o->max_priority > 0 ? (uint8_t)o->max_priority : 0,
		.any_dest_unsafe = o->dest_check == 0,
		.addrs = &o->addrs,
		.rate_limit = &rl,
		.auth_mode = o->auth_mode,
	};
	struct ep_xdp *x;
	int err;

	if (xo.encap_port && !o->addrs.ngateways) {
		pr_err("--encap-port %u needs --encap-source: the gateways that may send "
		       "encapsulated tasks (from anyone else they are dropped)",
		       xo.encap_port);
		return -EINVAL;
	}
	ep_xdp_rl_defaults(&rl);
	rl_apply_opts(o, &rl);
	if (ep_xdp_check_rl("rate limit", &rl))
		return -EINVAL;
	if (xo.any_dest_unsafe)
		pr_warn("--destination-check off-unsafe: tasks to any address are taken");
	if (rl.flags & EP_RL_F_OFF)
		pr_warn("--rate-limit off-unsafe: no limit per source prefix");
	err = ep_xdp_attach(&xo, &x);
	if (err)
		return err;
	printf("attached ep_classify to %s in %s mode, maps pinned in %s, auth %s\n", dev,
	       ep_xdp_mode_name(x), ep_xdp_pin_dir(x), ep_xdp_auth_mode_name(o->auth_mode));
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

/* The settings of ep_cfg and ep_rl_cfg, as text or JSON: one list of values for both. */
static void print_config(const struct ep_config *cfg, const struct ep_rl_cfg *rl, bool json)
{
	bool tc = cfg->flags & EP_CFG_F_TENANT_CHECK;

	printf(json ? "{\"udp_port\":%u,\"max_task_len\":%u,\"tenant_check\":%s,"
		      "\"prio_slot\":[%u,%u,%u,%u,%u],\"max_priority\":%u,\"encap_port\":%u,"
		      "\"destination_check\":\"%s\",\"rate_limit\":{\"mode\":\"%s\","
		      "\"packets_per_s\":%u,\"packets_burst\":%u,\"bytes_per_s\":%u,"
		      "\"bytes_burst\":%u,\"source_prefix_v4\":%u,\"source_prefix_v6\":%u}}\n"
		    : "udp_port %u\nmax_task_len %u\ntenant_check %s\n"
		      "prio_slot 1=%u 2=%u 3=%u 4=%u 5=%u\nmax_priority %u\nencap_port %u\n"
		      "destination_check %s\nrate_limit %s\npackets_per_s %u burst %u\n"
		      "bytes_per_s %u burst %u\nsource_prefix /%u /%u\n",
	       cfg->udp_port ? cfg->udp_port : EP_DEFAULT_PORT,
	       cfg->max_task_len ? cfg->max_task_len : EP_MAX_TASK_LEN,
	       json ? (tc ? "true" : "false") : (tc ? "on" : "off"), cfg->prio_slot[1],
	       cfg->prio_slot[2], cfg->prio_slot[3], cfg->prio_slot[4], cfg->prio_slot[5],
	       cfg->max_priority ? cfg->max_priority : EP_PRIO_DEFAULT, cfg->encap_port,
	       cfg->flags & EP_CFG_F_ANY_DEST ? "off-unsafe" : "on",
	       rl->flags & EP_RL_F_OFF ? "off-unsafe" : "on", rl->packets_per_s, rl->packets_burst,
	       rl->bytes_per_s, rl->bytes_burst, rl->prefix_v4, rl->prefix_v6);
}

static int cmd_config(struct opts *o)
{
	struct ep_config cfg;
	struct ep_rl_cfg rl;
	int fd, rl_fd, err;

	err = open_map_pair(o, EP_PIN_CFG, EP_PIN_RL_CFG, &fd, &rl_fd);
	if (err)
		return err;
	err = ep_xdp_read_config(fd, &cfg);
	if (!err)
		err = ep_xdp_read_rl(rl_fd, &rl);
	if (!err && !(rl.flags & EP_RL_F_SET))
		ep_xdp_rl_defaults(&rl);
	if (!err && o->cfg_changed) {
		if (o->port > 0)
			cfg.udp_port = (uint16_t)o->port;
		if (o->max_task_len > 0)
			cfg.max_task_len = (uint32_t)o->max_task_len;
		if (o->max_priority > 0)
			cfg.max_priority = (uint8_t)o->max_priority;
		if (o->encap_port >= 0)
			cfg.encap_port = (uint16_t)o->encap_port;
		if (o->tenant_check >= 0)
			cfg.flags = o->tenant_check ? cfg.flags | EP_CFG_F_TENANT_CHECK
						    : cfg.flags & ~EP_CFG_F_TENANT_CHECK;
		if (o->dest_check >= 0)
			cfg.flags = o->dest_check ? cfg.flags & ~EP_CFG_F_ANY_DEST
						  : cfg.flags | EP_CFG_F_ANY_DEST;
		for (int p = EP_PRIO_MIN; p <= EP_PRIO_MAX; p++)
			if (o->prio_slot[p] >= 0)
				cfg.prio_slot[p] = (uint8_t)o->prio_slot[p];
		rl_apply_opts(o, &rl);
		err = ep_xdp_write_config(fd, &cfg);
		if (!err)
			err = ep_xdp_write_rl(rl_fd, &rl);
	}
	close(fd);
	close(rl_fd);
	if (err) {
		pr_err("config: %s", strerror(-err));
		return err;
	}
	print_config(&cfg, &rl, o->json);
	return 0;
}

static const char *addr_roles(uint32_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", flags & EP_ADDR_F_LOCAL ? "local," : "",
		 flags & EP_ADDR_F_VIRTUAL ? "virtual," : "",
		 flags & EP_ADDR_F_GATEWAY ? "gateway," : "");
	if (*buf)
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* The entries of ep_addrs, into @set. Returns 0 or a negative errno. */
static int addrs_read(int fd, struct ep_addrset *set)
{
	struct ep_addr_key k, next;
	struct ep_addr_val v;

	set->n = 0;
	for (int r = bpf_map_get_next_key(fd, NULL, &next); !r;
	     r = bpf_map_get_next_key(fd, &k, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(fd, &k, &v) && ep_addrset_add(set, k.addr, v.flags))
			return -ENOSPC;
	}
	return 0;
}

/* addrs [sync | add ADDR ROLE | del ADDR]: what the destination check and the gateway
 * check read. */
static int cmd_addrs(struct opts *o, int argc, char **argv)
{
	struct ep_addrset *set = calloc(1, sizeof(*set));
	struct ep_xdp_addr_cfg cfg = { 0 };
	char a[EP_ADDR_STRLEN], roles[32];
	uint8_t addr[16];
	int fd, err = 0;

	if (!set)
		return -ENOMEM;
	fd = open_map(o, EP_PIN_ADDRS);
	if (fd < 0) {
		free(set);
		return fd;
	}
	if (argc >= 1 && !strcmp(argv[0], "sync")) {
		/* This namespace's addresses again; the configured ones stay. */
		err = addrs_read(fd, set);
		for (unsigned int i = 0; !err && i < set->n; i++) {
			if ((set->e[i].flags & EP_ADDR_F_VIRTUAL) &&
			    cfg.nvirtual < EP_XDP_MAX_CFG_ADDRS)
				memcpy(cfg.virtual_addrs[cfg.nvirtual++], set->e[i].addr, 16);
			if ((set->e[i].flags & EP_ADDR_F_GATEWAY) &&
			    cfg.ngateways < EP_XDP_MAX_CFG_ADDRS)
				memcpy(cfg.gateways[cfg.ngateways++], set->e[i].addr, 16);
		}
		if (!err)
			err = ep_xdp_sync_addrs(fd, &cfg);
		err = err > 0 ? 0 : err;
	} else if (argc >= 2 && (!strcmp(argv[0], "add") || !strcmp(argv[0], "del"))) {
		uint32_t role = argc < 3		      ? EP_ADDR_F_VIRTUAL
				: !strcmp(argv[2], "virtual") ? EP_ADDR_F_VIRTUAL
				: !strcmp(argv[2], "gateway") ? EP_ADDR_F_GATEWAY
							      : 0;
		struct ep_addr_key k;
		struct ep_addr_val v = { 0 };

		if (ep_addr_parse(argv[1], addr) || !role || argc > 3) {
			pr_err("addrs %s: '%s%s%s' is not ADDR [virtual|gateway]", argv[0], argv[1],
			       argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
			err = -EINVAL;
			goto out;
		}
		memcpy(k.addr, addr, 16);
		bpf_map_lookup_elem(fd, &k, &v);
		v.flags = argv[0][0] == 'a' ? v.flags | role : v.flags & ~role;
		err = v.flags ? bpf_map_update_elem(fd, &k, &v, BPF_ANY)
			      : bpf_map_delete_elem(fd, &k);
		err = err && errno != ENOENT ? -errno : 0;
	} else if (argc) {
		pr_err("addrs: '%s' is not sync, add or del", argv[0]);
		err = -EINVAL;
		goto out;
	}
	if (!err)
		err = addrs_read(fd, set);
	if (err) {
		pr_err("addrs: %s", strerror(-err));
		goto out;
	}
	if (o->json)
		printf("[");
	for (unsigned int i = 0; i < set->n; i++) {
		ep_addr_format(set->e[i].addr, a, sizeof(a));
		addr_roles(set->e[i].flags, roles, sizeof(roles));
		if (o->json)
			printf("%s{\"address\":\"%s\",\"roles\":\"%s\"}", i ? "," : "", a, roles);
		else
			printf("%-40s %s\n", a, roles);
	}
	if (o->json)
		printf("]\n");
out:
	close(fd);
	free(set);
	return err;
}

static int cmd_tenant(struct opts *o, const char *op, const char *id_s)
{
	struct ep_tenant val = { 0 };
	char msg[128];
	long long id;
	__u32 key;
	int fd, err;

	if (strcmp(op, "add") && strcmp(op, "del"))
		return ep_opt_error(o->prog, "tenant: unknown operation '%s' (add or del)", op);
	if (ep_opt_number(id_s, 0, 0xffffffffLL, &id, msg, sizeof(msg)))
		return ep_opt_error(o->prog, "tenant id %s", msg);
	fd = open_map(o, EP_PIN_TENANTS);
	if (fd < 0)
		return fd;
	key = (__u32)id;
	err = !strcmp(op, "add") ? bpf_map_update_elem(fd, &key, &val, BPF_ANY)
				 : bpf_map_delete_elem(fd, &key);
	err = err ? -errno : 0;
	close(fd);
	if (err)
		pr_err("tenant %s %lld: %s", op, id, strerror(-err));
	return err;
}

/* auth mode [MODE]: what tasks need a session key (ep_auth_cfg). */
static int cmd_auth(struct opts *o, int argc, char **argv)
{
	enum ep_auth_mode mode;
	int fd, err = 0;

	if (argc < 1 || argc > 2 || strcmp(argv[0], "mode")) {
		return ep_opt_error(o->prog, "usage: auth mode [required|optional|off]");
	}
	if (argc == 2 && ep_xdp_parse_auth_mode(argv[1], &mode)) {
		pr_err("auth mode: '%s' is not required, optional or off", argv[1]);
		return -EINVAL;
	}
	fd = open_map(o, EP_PIN_AUTH_CFG);
	if (fd < 0)
		return fd;
	if (argc == 2)
		err = ep_xdp_write_auth_mode(fd, mode);
	if (!err)
		err = ep_xdp_read_auth_mode(fd, &mode);
	close(fd);
	if (err) {
		pr_err("auth mode: %s", strerror(-err));
		return err;
	}
	if (o->json)
		printf("{\"mode\":\"%s\"}\n", ep_xdp_auth_mode_name(mode));
	else
		printf("auth mode %s\n", ep_xdp_auth_mode_name(mode));
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* "1,2,5" or "*" into a bitmap of types 0..255. Returns 0, or -EINVAL after saying so. */
static int parse_types(const char *s, uint64_t types[4], bool *all)
{
	char buf[1024], *tok, *save;
	long t;

	memset(types, 0, 4 * sizeof(*types));
	*all = !strcmp(s, "*");
	if (*all)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (ep_parse_long("keys add types", tok, 0, EP_KEY_TYPES - 1, &t))
			return -EINVAL;
		types[t / 64] |= 1ull << (t % 64);
	}
	return 0;
}

/* "N" or "N,BURST" of a key's rate. */
static int parse_key_rate(const char *what, const char *v, uint32_t *rate, uint32_t *burst)
{
	char buf[64];
	long r, b = 0;
	char *comma;

	snprintf(buf, sizeof(buf), "%s", v);
	comma = strchr(buf, ',');
	if (comma)
		*comma = '\0';
	if (ep_parse_long(what, buf, 0, 0xffffffffL, &r) ||
	    (comma && ep_parse_long(what, comma + 1, 0, 0xffffffffL, &b)))
		return -EINVAL;
	*rate = (uint32_t)r;
	*burst = comma ? (uint32_t)b : (uint32_t)r; /* a second's worth by default */
	return 0;
}

/* keys add ID WORD...: the key from key=value words, over the defaults (or the existing
 * entry's issued time, so its buckets are kept). */
static int keys_add(int keys_fd, int state_fd, uint32_t id, int argc, char **argv)
{
	uint64_t types[4], issued = 0, now_ms = clock_ns(CLOCK_REALTIME) / 1000000;
	uint32_t tenant = 0, max_len = 0, tps = 0, tburst = 0, kib = 0, kburst = 0;
	long v, prio = EP_PRIO_DEFAULT, expires = 0;
	bool all = true, revoked = false;
	struct ep_key_entry e, old;
	int err;

	memset(types, 0, sizeof(types));
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '='), *val = eq ? eq + 1 : NULL;
		size_t klen = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

#define KEY_IS(name) (klen == strlen(name) && !strncmp(argv[i], name, klen))
		if (!val && KEY_IS("revoked")) {
			revoked = true;
			continue;
		}
		if (!val) {
			pr_err("keys add: '%s' is not KEY=VALUE (or revoked)", argv[i]);
			return -EINVAL;
		}
		if (KEY_IS("tenant")) {
			err = ep_parse_long("keys add tenant", val, 0, 0xffffffffL, &v);
			tenant = (uint32_t)v;
		} else if (KEY_IS("expires")) {
			err = ep_parse_long("keys add expires (seconds from now, 0: never)", val, 0,
					    100L * 365 * 86400, &expires);
		} else if (KEY_IS("types")) {
			err = parse_types(val, types, &all);
		} else if (KEY_IS("priority")) {
			err = ep_parse_long("keys add priority", val, EP_PRIO_MIN, EP_PRIO_MAX,
					    &prio);
		} else if (KEY_IS("max-task-len")) {
			err = ep_parse_long("keys add max-task-len", val, 0, EP_MAX_TASK_LEN, &v);
			max_len = (uint32_t)v;
		} else if (KEY_IS("tasks")) {
			err = parse_key_rate("keys add tasks", val, &tps, &tburst);
		} else if (KEY_IS("kib")) {
			err = parse_key_rate("keys add kib", val, &kib, &kburst);
		} else if (KEY_IS("issued")) {
			err = ep_parse_long("keys add issued (unix ms)", val, 1,
					    0x7fffffffffffffffL, &v);
			issued = (uint64_t)v;
		} else {
			pr_err("keys add: unknown setting '%.*s'", (int)klen, argv[i]);
			err = -EINVAL;
		}
#undef KEY_IS
		if (err)
			return -EINVAL;
	}
	if (!issued)
		issued = bpf_map_lookup_elem(keys_fd, &id, &old) ? now_ms : old.issued_unix_ms;
	ep_key_entry_fill(&e, now_ms, clock_ns(CLOCK_MONOTONIC), issued,
			  expires ? now_ms + (uint64_t)expires * 1000 : 0, tenant, revoked, types,
			  all, (uint8_t)prio, max_len, tps, tburst, kib, kburst);
	err = ep_xdp_write_key(keys_fd, state_fd, id, &e);
	if (err == -EINVAL)
		pr_err("keys add %u: a setting out of range", id);
	return err;
}

/* "1,2,5", "*" or "-" of a key's types, into @buf. */
static const char *types_str(const struct ep_key_entry *e, char *buf, size_t len)
{
	size_t n = 0;

	if (e->flags & EP_KEY_F_ALL_TYPES)
		return "*";
	buf[0] = '\0';
	for (unsigned int t = 0; t < EP_KEY_TYPES && n + 5 < len; t++)
		if ((e->types[t / 64] >> (t % 64)) & 1)
			n += (size_t)snprintf(buf + n, len - n, "%s%u", n ? "," : "", t);
	return n ? buf : "-";
}

static void keys_print(int fd, bool json)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	struct ep_key_entry e;
	__u32 k, next;
	char tbuf[1100], exp[32];
	int n = 0;

	if (json)
		printf("[");
	else
		printf("%-6s %-10s %-10s %-8s %-16s %-4s %-10s %-14s %-14s\n", "id", "tenant",
		       "expires_s", "state", "types", "prio", "max_len", "tasks/s,burst",
		       "KiB/s,burst");
	for (int r = bpf_map_get_next_key(fd, NULL, &next); !r;
	     r = bpf_map_get_next_key(fd, &k, &next)) {
		const char *state, *types;

		k = next;
		if (bpf_map_lookup_elem(fd, &k, &e))
			continue;
		state = e.flags & EP_KEY_F_REVOKED	      ? "revoked"
			: e.expires_ns && now >= e.expires_ns ? "expired"
							      : "valid";
		if (!e.expires_ns)
			snprintf(exp, sizeof(exp), "never");
		else
			snprintf(exp, sizeof(exp), "%lld",
				 (long long)((int64_t)(e.expires_ns - now) / 1000000000));
		types = types_str(&e, tbuf, sizeof(tbuf));
		if (json)
			printf("%s{\"key_id\":%u,\"tenant\":%u,\"expires_in_s\":%s,\"state\":\"%"
			       "s\","
			       "\"issued_unix_ms\":%llu,\"types\":\"%s\",\"max_priority\":%u,"
			       "\"max_task_len\":%u,\"tasks_per_s\":%u,\"burst_tasks\":%u,"
			       "\"kib_per_s\":%u,\"burst_kib\":%u}",
			       n ? "," : "", k, e.tenant, e.expires_ns ? exp : "null", state,
			       (unsigned long long)e.issued_unix_ms, types, e.max_priority,
			       e.max_task_len, e.tasks_per_s, e.tasks_burst, e.kib_per_s,
			       e.burst_kib);
		else
			printf("%-6u %-10u %-10s %-8s %-16s %-4u %-10u %6u,%-7u %6u,%-7u\n", k,
			       e.tenant, exp, state, types, e.max_priority, e.max_task_len,
			       e.tasks_per_s, e.tasks_burst, e.kib_per_s, e.burst_kib);
		n++;
	}
	if (json)
		printf("]\n");
}

/* keys list | add ID ... | del ID: the session keys XDP checks (ep_keys). */
static int cmd_keys(struct opts *o, int argc, char **argv)
{
	int keys_fd, state_fd, err = 0;
	long id = 0;

	if (argc < 1 || (strcmp(argv[0], "list") && argc < 2) ||
	    (!strcmp(argv[0], "list") && argc != 1) ||
	    (strcmp(argv[0], "list") && strcmp(argv[0], "add") && strcmp(argv[0], "del"))) {
		return ep_opt_error(
			o->prog, "usage: keys list | keys add ID [SETTING=VALUE...] | keys del ID");
	}
	if (argc >= 2 && ep_parse_long("key id", argv[1], 1, 65535, &id))
		return -EINVAL;
	err = open_map_pair(o, EP_PIN_KEYS, EP_PIN_KEY_STATE, &keys_fd, &state_fd);
	if (err)
		return err;
	if (!strcmp(argv[0], "add"))
		err = keys_add(keys_fd, state_fd, (uint32_t)id, argc - 2, argv + 2);
	else if (!strcmp(argv[0], "del"))
		err = ep_xdp_delete_key(keys_fd, state_fd, (uint32_t)id);
	else
		keys_print(keys_fd, o->json);
	if (err && err != -EINVAL) /* -EINVAL: said already */
		pr_err("keys %s %ld: %s", argv[0], id,
		       err == -ENOENT ? "no such key" : strerror(-err));
	close(keys_fd);
	close(state_fd);
	return err;
}

static const struct ep_opt_choice auth_modes[] = {
#define AUTH_CHOICE(name, str) { str, EP_AUTH_MODE_##name },
	EP_AUTH_MODE_LIST(AUTH_CHOICE)
#undef AUTH_CHOICE
		{ NULL, 0 }
};
static const struct ep_opt_choice xdp_modes[] = { { "auto", EP_XDP_MODE_AUTO },
						  { "native", EP_XDP_MODE_NATIVE },
						  { "skb", EP_XDP_MODE_SKB },
						  { "generic", EP_XDP_MODE_SKB },
						  { NULL, 0 } };
static const struct ep_opt_choice on_off[] = { { "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const struct ep_opt_choice on_unsafe[] = { { "on", 1 }, { "off-unsafe", 0 }, { NULL, 0 } };

#define CFG_FIRST 3 /* the options from here to CFG_LAST change the config */
#define CFG_LAST  14
#define XDP_OPTS  28

/* The options, into @o: @t has room for XDP_OPTS. */
static void xdp_table(struct ep_opt *t, struct opts *o)
{
	const struct ep_opt tab[] = {
		EP_OPT_STR("pin-dir", 'd', &o->pin_dir, "DIR",
			   "bpffs directory of the maps\n"
			   "(default $LIBXDP_BPFFS or /sys/fs/bpf, then edgeplane/DEV)"),
		EP_OPT_STR("dev", 'i', &o->dev, "DEV",
			   "interface whose default pin directory to use"),
		EP_OPT_ENUM("mode", 'm', &o->mode, xdp_modes, "auto|native|skb",
			    "attach: auto (native, else skb), native or skb"),
		/* CFG_FIRST */
		EP_OPT_INT("port", 'p', &o->port, 1, 65535, "N",
			   "attach, config: UDP port of offload traffic (default " STR(
				   EP_DEFAULT_PORT) ")"),
		EP_OPT_INT("max-task-len", 0, &o->max_task_len, 1, EP_MAX_TASK_LEN, "N",
			   "attach, config: largest total_len accepted, bytes\n"
			   "(default 64 MiB, the protocol's)"),
		EP_OPT_ENUM("tenant-check", 0, &o->tenant_check, on_off, "on|off",
			    "config: drop tenants not added with `tenant add`"),
		EP_OPT_FUNC("prio-slot", 0, opt_prio_slot, o->prio_slot, "P=S",
			    "config: give priority P (1-5) the XSK slot S (0-3)"),
		EP_OPT_INT("max-priority", 0, &o->max_priority, EP_PRIO_MIN, EP_PRIO_MAX, "P",
			   "attach, config: steer priorities above P as P (default " STR(
				   EP_PRIO_DEFAULT) ")"),
		EP_OPT_INT("encap-port", 0, &o->encap_port, 0, 65535, "N",
			   "attach, config: take a gateway's encapsulation off tasks\n"
			   "to UDP port N (0: off, the default); needs --encap-source"),
		EP_OPT_ENUM("destination-check", 0, &o->dest_check, on_unsafe, "on|off-unsafe",
			    "attach, config: take only tasks to\n"
			    "this node's addresses (on, the default)"),
		EP_OPT_ENUM("rate-limit", 0, &o->rate_on, on_unsafe, "on|off-unsafe",
			    "attach, config: limits per source prefix (on)"),
		EP_OPT_FUNC("rate-packets", 0, opt_rate, &o->rate[0], "N[,BURST]",
			    "attach, config: datagrams/s per prefix (" STR(
				    EP_RL_DEF_PACKETS) "," STR(EP_RL_DEF_PACKETS_BURST) ")"),
		EP_OPT_FUNC("rate-bytes", 0, opt_rate, &o->rate[2], "N[,BURST]",
			    "attach, config: bytes/s per prefix (64 MiB/s, bursts\nof 32 MiB)"),
		EP_OPT_INT("source-prefix-v4", 0, &o->prefix4, 0, 32, "N",
			   "attach, config: the prefix that groups IPv4 sources (" STR(
				   EP_RL_DEF_PREFIX_V4) ")"),
		EP_OPT_INT("source-prefix-v6", 0, &o->prefix6, 0, 128, "N",
			   "attach, config: the prefix that groups IPv6 sources (" STR(
				   EP_RL_DEF_PREFIX_V6) ")"),
		/* CFG_LAST */
		EP_OPT_FUNC("encap-source", 0, opt_addr, &o->addrs, "ADDR",
			    "attach: a gateway that may send encapsulated tasks\n"
			    "(repeat for more)"),
		EP_OPT_FUNC("virtual-address", 0, opt_addr, &o->addrs, "ADDR",
			    "attach: tasks to ADDR are this node's too (a gateway's\n"
			    "virtual address, DSR; repeat for more)"),
		EP_OPT_ENUM("auth-mode", 0, &o->auth_mode, auth_modes, "required|optional|off",
			    "attach: required (default: tasks without a session key\n"
			    "are dropped), optional (checked by source) or off (keys\n"
			    "are not checked at all)"),
		EP_OPT_FLAG("json", 'j', &o->json, "stats, config, addrs, auth, keys: print JSON"),
		EP_OPT_FLAG("debug", 0, &o->debug, "attach: bpf_printk every verdict (slow)"),
		EP_OPT_FUNC("verbose", 'v', opt_verbose, NULL, NULL, "log libbpf/libxdp detail"),
		EP_OPT_END,
	};

	_Static_assert(EP_XSK_SLOTS == 4, "--prio-slot's help says 0-3");
	_Static_assert(sizeof(tab) <= XDP_OPTS * sizeof(*t), "XDP_OPTS is too small");
	memcpy(t, tab, sizeof(tab));
	for (int i = CFG_FIRST; i <= CFG_LAST; i++)
		t[i].seen = &o->cfg_changed;
}

/* Run COMMAND ARGS... (@argv, @argc of them). Returns the exit status. */
static int run_command(const struct ep_opt_prog *prog, struct opts *o, int argc, char **argv)
{
	const char *cmd = argv[0];
	int err = 0;

	if (!strcmp(cmd, "attach") || !strcmp(cmd, "detach")) {
		if (argc != 2)
			return ep_opt_exit(
				ep_opt_error(prog, "%s needs exactly one interface name", cmd));
		err = cmd[0] == 'a' ? cmd_attach(o, argv[1]) : cmd_detach(o, argv[1]);
	} else if (!strcmp(cmd, "reasons")) {
		for (int i = 0; i < EP_STAT__COUNT; i++)
			printf("%d %s %s\n", i, ep_stat_name(i),
			       ep_stat_is_drop(i)   ? "drop"
			       : ep_stat_is_pass(i) ? "pass"
						    : "redirect");
	} else if (!strcmp(cmd, "stats")) {
		err = cmd_stats(o);
	} else if (!strcmp(cmd, "addrs")) {
		err = cmd_addrs(o, argc - 1, argv + 1);
	} else if (!strcmp(cmd, "config")) {
		err = cmd_config(o);
	} else if (!strcmp(cmd, "auth") || !strcmp(cmd, "keys")) {
		err = cmd[0] == 'a' ? cmd_auth(o, argc - 1, argv + 1)
				    : cmd_keys(o, argc - 1, argv + 1);
		if (err == -EINVAL)
			return 2;
	} else if (!strcmp(cmd, "tenant")) {
		if (argc != 3)
			return ep_opt_exit(ep_opt_error(prog, "usage: tenant add|del ID"));
		err = cmd_tenant(o, argv[1], argv[2]);
		if (err == -EINVAL)
			return 2;
	} else {
		return ep_opt_exit(ep_opt_error(prog, "unknown command '%s'", cmd));
	}
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .tenant_check = -1,
			  .port = -1,
			  .max_task_len = -1,
			  .max_priority = -1,
			  .encap_port = -1,
			  .dest_check = -1,
			  .rate_on = -1,
			  .rate = { -1, -1, -1, -1 },
			  .prefix4 = -1,
			  .prefix6 = -1 };
	struct ep_opt tab[XDP_OPTS];
	const struct ep_opt_prog prog = {
		.name = "edgeplane-xdp",
		.usage = XDP_USAGE,
		.tabs = { tab },
	};
	int ret;

	ep_log_set_ident("edgeplane-xdp");
	ep_log_route_libs();
	for (int i = 0; i < 8; i++)
		o.prio_slot[i] = -1;
	xdp_table(tab, &o);
	o.prog = &prog;
	ret = ep_opt_parse(&prog, argc, argv, EP_OPT_PASS_ALL);
	if (ret < 0)
		return ep_opt_exit(ret);
	if (ret >= argc)
		return ep_opt_exit(ep_opt_error(&prog, "no command (attach, detach, stats, config, "
						       "tenant, addrs, auth, keys, reasons)"));
	return run_command(&prog, &o, argc - ret, argv + ret);
}
