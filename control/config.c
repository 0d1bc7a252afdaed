// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * config.c - the controller's configuration: one table of keys (conf_keys[] below) gives
 * the defaults, the reading of the file (edgeplane/confread.h), its printing
 * (edgectl serve --print-config) and docs/operations.md's reference (checked by
 * tests/integration/test_config.sh). ep_ctl_conf_validate() checks what a table cannot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/confread.h"
#include "edgeplane/log.h"
#include "config.h"
#include "xdp/ep_xdp.h"

static const struct ep_ck_name policy_names[] = { { "p2c", EP_GW_POLICY_P2C },
						  { "seed", EP_GW_POLICY_SEED },
						  { "hash", EP_GW_POLICY_HASH },
						  { NULL, 0 } };
static const struct ep_ck_name overflow_names[] = { { "reject", EP_GW_OVF_REJECT },
						    { "cloud", EP_GW_OVF_CLOUD },
						    { "local", EP_GW_OVF_LOCAL },
						    { NULL, 0 } };
static const struct ep_ck_name node_modes[] = { { "dsr", 0 }, { "encap", 1 }, { NULL, 0 } };
static const struct ep_ck_name node_roles[] = { { "worker", EP_ROLE_WORKER },
						{ "cloud", EP_ROLE_CLOUD },
						{ NULL, 0 } };

int ep_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* --- nodes -------------------------------------------------------------------------- */

/* A node as the file spells it: the addresses as text, the interface beside it (and,
 * when printing, room for that text). */
struct node_in {
	struct ep_reg_node n;
	char *name, *mac, *ip4, *ip6, *ifname;
	char name_buf[sizeof(((struct ep_reg_node *)0)->name)], mac_buf[18];
	char ip4_buf[INET_ADDRSTRLEN], ip6_buf[INET6_ADDRSTRLEN];
};

#define NI struct node_in
static const struct ep_conf_key node_keys[] = {
	EP_CK_INTF("id", NI, n.id, 1, EP_GW_MAX_NODES - 1, 0, "required"),
	EP_CK_STRF("name", NI, name, NULL, "default: node<id>"),
	EP_CK_STRF("mac", NI, mac, NULL, "its (or its next hop's) MAC address"),
	EP_CK_STRF("ip4", NI, ip4, NULL, "its IPv4 address"),
	EP_CK_STRF("ip6", NI, ip6, NULL, "its IPv6 address"),
	EP_CK_INTF("port", NI, n.port, 1, 65535, 0, "information only"),
	EP_CK_INTF("capacity", NI, n.capacity_cfg, 1, 1000000, 0, "default: as reported"),
	EP_CK_ENUMF("mode", NI, n.encap, node_modes, 0, "dsr or encap"),
	EP_CK_ENUMF("role", NI, n.role, node_roles, EP_ROLE_WORKER, "worker or cloud"),
	EP_CK_STRF("interface", NI, ifname, NULL, "the gateway's interface towards it"),
	{ 0 }
};
#undef NI

/* The addresses of @in as text into @n; errors against group @g. */
static void node_addrs(struct ep_confread *rd, const config_setting_t *g, struct node_in *in)
{
	struct ep_reg_node *n = &in->n;

	if (in->name)
		snprintf(n->name, sizeof(n->name), "%s", in->name);
	if (in->mac) {
		if (ep_parse_mac(in->mac, n->mac))
			ep_conf_bad(rd, config_setting_get_member(g, "mac"),
				    "must be a MAC address like 02:00:00:00:00:01");
		n->mac_set = true;
	}
	if (in->ip4 && inet_pton(AF_INET, in->ip4, &n->ip4) != 1)
		ep_conf_bad(rd, config_setting_get_member(g, "ip4"), "must be an IPv4 address");
	if (in->ip6 && inet_pton(AF_INET6, in->ip6, n->ip6) != 1)
		ep_conf_bad(rd, config_setting_get_member(g, "ip6"), "must be an IPv6 address");
	if (n->encap && !n->ip4 && !in->ip6)
		ep_conf_bad(rd, g, "an encap node needs ip4 or ip6 (the outer destination)");
	if (n->encap && !n->mac_set)
		ep_conf_bad(rd, g, "an encap node needs mac (its next hop's MAC address)");
	if (n->role == EP_ROLE_CLOUD && !n->mac_set)
		ep_conf_bad(rd, g, "a cloud node needs mac (it sends no reports to learn it from)");
}

/* One group of nodes = ( ... ). */
static void read_node(struct ep_confread *rd, const config_setting_t *g, void *base)
{
	struct node_in in = { .n = { .origin = EP_ORIGIN_CONFIG } };
	struct ep_ctl_conf *c = base;

	ep_conf_table_defaults(node_keys, &in);
	ep_conf_table_read(rd, g, node_keys, &in);
	_Static_assert(EP_GW_MAX_NODES - 1 == 8191, "the message below names the range");
	if (!in.n.id)
		ep_conf_bad(rd, g, "a node needs an id in 1..8191");
	node_addrs(rd, g, &in);
	if (in.n.id) {
		for (unsigned int i = 0; i < c->nnodes; i++)
			if (c->nodes[i].id == in.n.id)
				ep_conf_bad(rd, g, "two nodes have this id");
		if (c->nnodes < EP_GW_MAX_NODES) {
			c->node_ifnames[c->nnodes] = in.ifname;
			in.ifname = NULL;
			c->nodes[c->nnodes++] = in.n;
		}
	}
	ep_conf_table_free(node_keys, &in);
}

/* nodes = ( { id = 1; ... }, ... ) */
static void read_nodes(struct ep_confread *rd, const config_setting_t *g, void *base,
		       const struct ep_conf_key *k)
{
	(void)k;
	ep_conf_read_groups(rd, g, base, read_node);
}

/* Node @i of @base as the file spells it, in @buf (a struct node_in). */
static const void *node_at(const void *base, unsigned int i, void *buf)
{
	const struct ep_ctl_conf *c = base;
	const struct ep_reg_node *n = &c->nodes[i];
	static const uint8_t zero6[16];
	struct node_in *in = buf;

	memset(in, 0, sizeof(*in));
	in->n = *n;
	in->ifname = c->node_ifnames[i];
	snprintf(in->name_buf, sizeof(in->name_buf), "%s", n->name);
	snprintf(in->mac_buf, sizeof(in->mac_buf), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
		 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	in->name = in->name_buf[0] ? in->name_buf : NULL;
	in->mac = n->mac_set ? in->mac_buf : NULL;
	if (n->ip4)
		in->ip4 = (char *)inet_ntop(AF_INET, &n->ip4, in->ip4_buf, sizeof(in->ip4_buf));
	if (memcmp(n->ip6, zero6, sizeof(zero6)))
		in->ip6 = (char *)inet_ntop(AF_INET6, n->ip6, in->ip6_buf, sizeof(in->ip6_buf));
	return in;
}

static void print_nodes(FILE *f, const void *base, const struct ep_conf_key *k, int indent)
{
	struct node_in buf;

	ep_conf_print_groups(f, k, node_keys, base, ((const struct ep_ctl_conf *)base)->nnodes,
			     node_at, &buf, indent);
}

static void free_nodes(void *base, const struct ep_conf_key *k)
{
	struct ep_ctl_conf *c = base;

	(void)k;
	for (unsigned int i = 0; i < EP_GW_MAX_NODES; i++) {
		free(c->node_ifnames[i]);
		c->node_ifnames[i] = NULL;
	}
}

/* --- the table ---------------------------------------------------------------------- */

#define C			  struct ep_ctl_conf
#define K(p, f, lo, hi, def, doc) EP_CK_INTF(p, C, f, lo, hi, def, doc)
#define B(p, f, def, doc)	  EP_CK_BOOLF(p, C, f, def, doc)
#define S(p, f, def, doc)	  EP_CK_STRF(p, C, f, def, doc)
/* Group policy: its defaults are ep_policy_defaults()'s, which edgectl uses too. */
#define P(p, f, lo_, hi_, doc_)                                                              \
	{                                                                                    \
		.path = "policy." p, .type = EP_CK_INT, .size = sizeof(((C *)0)->policy.f),  \
		.flags = EP_CK_F_EXTDEF, .off = offsetof(C, policy.f), .lo = lo_, .hi = hi_, \
		.doc = doc_                                                                  \
	}
#define PL(p, f, lo_, hi_, names_, doc_)                                                          \
	{                                                                                         \
		.path = "policy." p, .type = EP_CK_INTS, .size = sizeof(((C *)0)->policy.f[0]),   \
		.flags = EP_CK_F_EXTDEF | EP_CK_F_EXACT,                                          \
		.off = offsetof(C, policy.f[EP_PRIO_MIN]), .lo = lo_, .hi = hi_, .names = names_, \
		.max = EP_PRIO_MAX, .doc = doc_                                                   \
	}

static const struct ep_conf_key conf_keys[] = {
	S("gateway.interface", interface, NULL, "required: clients send tasks to its address"),
	S("gateway.xdp_mode", xdp_mode, "auto", "auto (native, else skb), native, skb"),
	K("gateway.port", port, 1, 65535, EP_DEFAULT_PORT, "task port of the virtual address"),
	S("gateway.pin_dir", pin_dir, NULL, "default: under $LIBXDP_BPFFS or /sys/fs/bpf"),
	S("gateway.encap_source", encap_source, NULL, "outer IPv4 source of encapsulated tasks"),
	S("gateway.encap_source6", encap_source6, NULL, "outer IPv6 source of encapsulated tasks"),
	B("gateway.keep_attached", keep_attached, true, "at exit, leave the program running"),
	B("gateway.relay_replies", relay_replies, true, "relay replies that come back, in XDP"),
	B("gateway.relay_set_forwarding", relay_set_forwarding, false,
	  "write the interface's forwarding sysctls"),
	K("gateway.max_priority", max_priority, EP_PRIO_MIN, EP_PRIO_MAX, EP_PRIO_DEFAULT,
	  "cpu_max and overflow by min(priority, this)"),
	B("gateway.debug", debug, false, "bpf_printk per decision"),

	EP_CK_RATE_LIMIT_GW(struct ep_ctl_conf, rate_limit),

	S("control.listen", listen, EP_CTL_DEFAULT_LISTEN, "load reports (UDP)"),
	S("control.socket", socket, EP_CTL_DEFAULT_SOCKET, "the edgectl API"),
	S("control.socket_group", socket_group, NULL, "the group that may change state"),
	S("control.metrics", metrics, NULL, "ADDR:PORT: Prometheus /metrics"),
	S("control.log_level", log_level, "info", "error, warn, info, debug"),
	B("control.allow_register", reg.allow_register, false,
	  "a report from an unknown id registers the node"),
	K("control.capacity_min", reg.capacity_min, 1, 1000000, EP_REG_CAPACITY_MIN,
	  "a report's capacity must be at least this"),
	K("control.capacity_max", reg.capacity_max, 1, 1000000, EP_REG_CAPACITY_MAX,
	  "and at most this"),
	B("control.wait_for_report", reg.wait_for_report, true,
	  "configured workers take tasks after their first report"),
	EP_CK_SCALED("control.dead_after_ms", C, reg.dead_after_ns, 10, 3600000, 1000000, 500,
		     "no report this long: drained (dead)"),
	K("control.publish_ms", publish_ms, 1, 10000, 10, "map updates at most this often"),

	{ .path = "policy.name",
	  .type = EP_CK_ENUM,
	  .size = 1,
	  .flags = EP_CK_F_EXTDEF,
	  .off = offsetof(C, policy.policy),
	  .names = policy_names,
	  .doc = "p2c, seed, hash" },
	P("stale_ms", stale_ms, 1, 3600000, "older loads are not trusted"),
	P("mem_factor", mem_factor, 0, 255, "eligible while free memory > factor x size hint"),
	PL("cpu_max", cpu_max_pct, 0, 100, NULL, "priorities 1..5: eligible below this CPU %"),
	PL("wait_max", wait_max_ms, 0, 60000, NULL, "priorities 1..5: eligible below this wait"),
	PL("overflow", overflow, 0, 0, overflow_names, "priorities 1..5: reject, cloud or local"),
	P("cloud_node", cloud_node, 0, EP_GW_MAX_NODES - 1, "the overflow node; 0: none"),

	EP_CK_CUSTOMF("nodes", read_nodes, print_nodes, free_nodes,
		      "default: none; workers register by their reports"),

	{ .path = "enroll.listen",
	  .type = EP_CK_STR,
	  .flags = EP_CK_F_SWITCH,
	  .off = offsetof(C, enroll.listen),
	  .doc = "ADDR:PORT (TCP); enrollment is off without" },
	S("enroll.cert", enroll.cert, NULL, "the controller's certificate"),
	S("enroll.key", enroll.key, NULL, "its private key"),
	S("enroll.ca", enroll.ca, NULL, "the CA of devices and nodes"),
	S("enroll.crl", enroll.crl, NULL, "its CRL"),
	S("enroll.policy", enroll.policy, NULL, "the device roles"),
	K("enroll.key_ttl_s", enroll.key_ttl_s, 1, EP_ROLE_TTL_MAX, EP_ENROLL_DEFAULT_TTL_S,
	  "keys' lifetime unless a role says"),

	{ .path = "etcd.endpoints",
	  .type = EP_CK_STRS,
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(C, etcd.endpoints),
	  .count_off = offsetof(C, etcd.nendpoints),
	  .max = EP_ETCD_MAX_ENDPOINTS,
	  .doc = "[\"http://ADDR:2379\", ...]: the cluster state in etcd; off without" },
	S("etcd.prefix", etcd.prefix, EP_ETCD_DEFAULT_PREFIX, "every key of this cluster under it"),
	K("etcd.timeout_ms", etcd.timeout_ms, 50, 60000, 1000, "each call, per endpoint tried"),
	K("etcd.lease_ttl_s", etcd.lease_ttl_s, 2, 3600, 10, "the controller's liveness lease"),

	EP_CK_ENUMF("auth.mode", C, auth_mode, ep_ck_auth_modes, EP_AUTH_MODE_REQUIRED,
		    "required, optional or off"),
	{ 0 }
};

void ep_ctl_conf_defaults(struct ep_ctl_conf *c)
{
	memset(c, 0, sizeof(*c));
	ep_conf_table_defaults(conf_keys, c);
	ep_policy_defaults(&c->policy);	    /* group policy's keys */
	ep_xdp_rl_defaults(&c->rate_limit); /* group rate_limit's */
}

void ep_ctl_conf_free(struct ep_ctl_conf *c)
{
	ep_conf_table_free(conf_keys, c);
	ep_roles_free(&c->enroll.roles);
	memset(c, 0, sizeof(*c));
}

void ep_ctl_conf_print(FILE *f, const struct ep_ctl_conf *c)
{
	ep_conf_table_print(f, conf_keys, c, 0);
}

/* Group enroll: what it needs; the role policy file it names is read here too, so that a
 * bad one stops the controller before it attaches anything. */
static void read_enroll(struct ep_confread *rd, struct ep_enroll_conf *e, const config_setting_t *g)
{
	static const char *const need[] = { "listen", "cert", "key", "ca", "policy" };

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!config_setting_get_member(g, need[i])) {
			char msg[96];

			snprintf(msg, sizeof(msg), "enrollment needs %s (docs/operations.md)",
				 need[i]);
			ep_conf_bad(rd, g, msg);
		}
	}
	ep_roles_free(&e->roles);
	if (e->policy && ep_roles_load(&e->roles, e->policy))
		rd->err = -EINVAL;
}

int ep_ctl_conf_load(struct ep_ctl_conf *c, const char *path)
{
	struct ep_confread rd = { .path = path };
	const config_setting_t *g;
	config_t cf;

	if (ep_conf_open(&cf, path))
		return -EINVAL;
	ep_conf_table_read(&rd, config_root_setting(&cf), conf_keys, c);
	g = config_setting_get_member(config_root_setting(&cf), "enroll");
	if (g && config_setting_is_group(g))
		read_enroll(&rd, &c->enroll, g);
	config_destroy(&cf);
	return rd.err;
}

/* Group etcd: plain http:// endpoints (the client has no TLS settings yet) and a prefix
 * that is a directory of its own. 0 or -EINVAL, said. */
static int validate_etcd(const struct ep_etcd_conf *e)
{
	size_t n = e->prefix ? strlen(e->prefix) : 0;

	for (unsigned int i = 0; i < e->nendpoints; i++) {
		if (strncmp(e->endpoints[i], "http://", 7)) {
			pr_err("etcd endpoint '%s': must be http://ADDR:PORT", e->endpoints[i]);
			return -EINVAL;
		}
	}
	if (e->nendpoints && (n < 2 || e->prefix[0] != '/' || e->prefix[n - 1] != '/')) {
		pr_err("etcd prefix '%s': must begin and end with '/'", e->prefix ? e->prefix : "");
		return -EINVAL;
	}
	if (e->nendpoints && e->nendpoints * e->timeout_ms >= 5000)
		pr_warn("etcd: %u endpoints x timeout_ms %u: edgectl stops waiting after 5 s, "
			"before a change has tried them all",
			e->nendpoints, e->timeout_ms);
	return 0;
}

int ep_ctl_conf_validate(const struct ep_ctl_conf *c)
{
	enum ep_xdp_mode mode;
	enum ep_log_level lvl;
	bool cloud = false;

	if (!c->interface) {
		pr_err("no gateway interface: set gateway.interface or --iface");
		return -EINVAL;
	}
	if (ep_xdp_parse_mode(c->xdp_mode, &mode)) {
		pr_err("xdp mode '%s': must be auto, native or skb", c->xdp_mode);
		return -EINVAL;
	}
	if (ep_log_parse_level(c->log_level, &lvl)) {
		pr_err("log level '%s': must be error, warn, info or debug", c->log_level);
		return -EINVAL;
	}
	if (c->reg.capacity_min > c->reg.capacity_max) {
		pr_err("capacity_min %u is above capacity_max %u", c->reg.capacity_min,
		       c->reg.capacity_max);
		return -EINVAL;
	}
	if (c->policy.cloud_node) {
		for (unsigned int i = 0; i < c->nnodes; i++)
			cloud |= c->nodes[i].id == c->policy.cloud_node;
		if (!cloud) {
			pr_err("policy cloud_node %u: no configured node has this id",
			       c->policy.cloud_node);
			return -EINVAL;
		}
	}
	if (ep_xdp_check_rl("rate_limit", &c->rate_limit))
		return -EINVAL;
	if (validate_etcd(&c->etcd))
		return -EINVAL;
	/* The gateway's keys come from enrollment only (the controller writes the keys it
	 * issues): without it, mode required would drop every task. */
	if (c->auth_mode != EP_AUTH_MODE_OFF && !c->enroll.listen) {
		if (c->auth_mode == EP_AUTH_MODE_REQUIRED) {
			pr_err("auth.mode = \"required\" (the default) without enrollment: the "
			       "gateway would drop every task; set the group enroll (its keys are "
			       "the gateway's), or auth.mode = \"off\" (--auth-mode off) to "
			       "balance tasks without authentication");
			return -EINVAL;
		}
		pr_warn("auth.mode = \"optional\" without enrollment: the gateway knows no key, "
			"and drops every AUTH datagram (drop_auth_unknown_key)");
	}
	if (c->rate_limit.flags & EP_RL_F_OFF)
		pr_warn("rate_limit.mode = \"off-unsafe\": no limit per source prefix at the "
			"gateway");
	for (int p = EP_PRIO_MIN; p <= EP_PRIO_MAX; p++)
		if (c->policy.overflow[p] == EP_GW_OVF_CLOUD && !c->policy.cloud_node)
			pr_warn("priority %d overflows to the cloud, but no cloud_node is set: "
				"those tasks get an OVERLOADED reply",
				p);
	return 0;
}
