// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/confread.h"
#include "edgeplane/log.h"
#include "config.h"
#include "xdp/ep_xdp.h"

void ep_ctl_conf_defaults(struct ep_ctl_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->xdp_mode = strdup("auto");
	c->port = EP_DEFAULT_PORT;
	c->keep_attached = true;
	c->relay_replies = true;
	c->listen = strdup(EP_CTL_DEFAULT_LISTEN);
	c->socket = strdup(EP_CTL_DEFAULT_SOCKET);
	c->log_level = strdup("info");
	c->reg = (struct ep_reg_opts){
		.allow_register = false,
		.wait_for_report = true,
		.dead_after_ns = 500ull * 1000000,
		.capacity_min = EP_REG_CAPACITY_MIN,
		.capacity_max = EP_REG_CAPACITY_MAX,
	};
	c->publish_ms = 10;
	ep_policy_defaults(&c->policy);
	c->max_priority = EP_PRIO_DEFAULT;
	ep_xdp_rl_defaults(&c->rate_limit);
	c->enroll.key_ttl_s = EP_ENROLL_DEFAULT_TTL_S;
}

void ep_ctl_conf_free(struct ep_ctl_conf *c)
{
	free(c->interface);
	free(c->xdp_mode);
	free(c->pin_dir);
	free(c->encap_source);
	free(c->listen);
	free(c->socket);
	free(c->socket_group);
	free(c->metrics);
	free(c->log_level);
	free(c->enroll.listen);
	free(c->enroll.cert);
	free(c->enroll.key);
	free(c->enroll.ca);
	free(c->enroll.crl);
	free(c->enroll.policy);
	ep_roles_free(&c->enroll.roles);
	for (unsigned int i = 0; i < EP_GW_MAX_NODES; i++)
		free(c->node_ifnames[i]);
	memset(c, 0, sizeof(*c));
}

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

static void read_node(struct ep_confread *rd, struct ep_ctl_conf *c, const config_setting_t *g)
{
	static const char *const names[] = { "id",	 "name", "mac",	 "ip4",	      "ip6", "port",
					     "capacity", "mode", "role", "interface", NULL };
	struct ep_reg_node n = { .origin = EP_ORIGIN_CONFIG };
	char *name = NULL, *mac = NULL, *ip4 = NULL, *ip6 = NULL, *mode = NULL, *role = NULL;
	char *ifname = NULL;
	long long v;

	ep_conf_known(rd, g, names);
	if (ep_conf_num(rd, g, "id", 1, EP_GW_MAX_NODES - 1, &v))
		n.id = (uint32_t)v;
	else
		ep_conf_bad(rd, g, "a node needs an id in 1..63");
	if (ep_conf_num(rd, g, "port", 1, 65535, &v))
		n.port = (uint16_t)v;
	EP_CONF_U32(rd, g, "capacity", 1, 1000000, n.capacity_cfg);
	ep_conf_str(rd, g, "name", &name);
	ep_conf_str(rd, g, "mac", &mac);
	ep_conf_str(rd, g, "ip4", &ip4);
	ep_conf_str(rd, g, "ip6", &ip6);
	ep_conf_str(rd, g, "mode", &mode);
	ep_conf_str(rd, g, "role", &role);
	ep_conf_str(rd, g, "interface", &ifname);
	if (name)
		snprintf(n.name, sizeof(n.name), "%s", name);
	if (mac) {
		if (ep_parse_mac(mac, n.mac))
			ep_conf_bad(rd, config_setting_get_member(g, "mac"),
				    "must be a MAC address like 02:00:00:00:00:01");
		n.mac_set = true;
	}
	if (ip4 && inet_pton(AF_INET, ip4, &n.ip4) != 1)
		ep_conf_bad(rd, config_setting_get_member(g, "ip4"), "must be an IPv4 address");
	if (ip6 && inet_pton(AF_INET6, ip6, n.ip6) != 1)
		ep_conf_bad(rd, config_setting_get_member(g, "ip6"), "must be an IPv6 address");
	if (mode && strcmp(mode, "dsr") && strcmp(mode, "encap"))
		ep_conf_bad(rd, config_setting_get_member(g, "mode"),
			    "must be \"dsr\" or \"encap\"");
	n.encap = mode && !strcmp(mode, "encap");
	if (role && strcmp(role, "worker") && strcmp(role, "cloud"))
		ep_conf_bad(rd, config_setting_get_member(g, "role"),
			    "must be \"worker\" or \"cloud\"");
	n.role = role && !strcmp(role, "cloud") ? EP_ROLE_CLOUD : EP_ROLE_WORKER;
	if (n.encap && !n.ip4)
		ep_conf_bad(rd, g, "an encap node needs ip4 (the outer destination)");
	if (n.encap && !n.mac_set)
		ep_conf_bad(rd, g, "an encap node needs mac (its next hop's MAC address)");
	if (n.role == EP_ROLE_CLOUD && !n.mac_set)
		ep_conf_bad(rd, g, "a cloud node needs mac (it sends no reports to learn it from)");
	if (n.id) {
		for (unsigned int i = 0; i < c->nnodes; i++)
			if (c->nodes[i].id == n.id)
				ep_conf_bad(rd, g, "two nodes have this id");
		if (c->nnodes < EP_GW_MAX_NODES) {
			c->node_ifnames[c->nnodes] = ifname;
			ifname = NULL;
			c->nodes[c->nnodes++] = n;
		}
	}
	free(name);
	free(mac);
	free(ip4);
	free(ip6);
	free(mode);
	free(role);
	free(ifname);
}

static void read_policy(struct ep_confread *rd, struct ep_policy *p, const config_setting_t *g)
{
	static const char *const names[] = { "name",	 "stale_ms", "mem_factor", "cpu_max",
					     "wait_max", "overflow", "cloud_node", NULL };
	const config_setting_t *ovf;
	int cpu[EP_PRIO_MAX], n;
	char *name = NULL;
	long long v;

	ep_conf_known(rd, g, names);
	ep_conf_str(rd, g, "name", &name);
	if (name && ep_policy_parse(name, &p->policy))
		ep_conf_bad(rd, config_setting_get_member(g, "name"),
			    "must be \"p2c\", \"seed\" or \"hash\"");
	free(name);
	EP_CONF_U32(rd, g, "stale_ms", 1, 3600000, p->stale_ms);
	if (ep_conf_num(rd, g, "mem_factor", 0, 255, &v))
		p->mem_factor = (uint8_t)v;
	EP_CONF_U32(rd, g, "cloud_node", 0, EP_GW_MAX_NODES - 1, p->cloud_node);
	n = ep_conf_int_list(rd, g, "cpu_max", cpu, EP_PRIO_MAX, 0, 100);
	if (n && n != EP_PRIO_MAX)
		ep_conf_bad(rd, config_setting_get_member(g, "cpu_max"),
			    "needs five percentages, for priorities 1..5");
	for (int i = 0; n == EP_PRIO_MAX && i < n; i++)
		p->cpu_max_pct[i + 1] = (uint8_t)cpu[i];
	n = ep_conf_int_list(rd, g, "wait_max", cpu, EP_PRIO_MAX, 0, 60000);
	if (n && n != EP_PRIO_MAX)
		ep_conf_bad(rd, config_setting_get_member(g, "wait_max"),
			    "needs five times in ms, for priorities 1..5 (0: no limit)");
	for (int i = 0; n == EP_PRIO_MAX && i < n; i++)
		p->wait_max_ms[i + 1] = (uint16_t)cpu[i];
	ovf = config_setting_get_member(g, "overflow");
	if (ovf) {
		if (!config_setting_is_array(ovf) || config_setting_length(ovf) != EP_PRIO_MAX) {
			ep_conf_bad(rd, ovf, "needs five actions, for priorities 1..5");
			return;
		}
		for (int i = 0; i < EP_PRIO_MAX; i++) {
			const char *s = config_setting_get_string_elem(ovf, i);

			if (!s || ep_overflow_parse(s, &p->overflow[i + 1]))
				ep_conf_bad(rd, ovf,
					    "actions are \"reject\", \"cloud\" or \"local\"");
		}
	}
}

/* Group enroll; the role policy file it names is read here too, so that a bad one stops
 * the controller before it attaches anything. */
static void read_enroll(struct ep_confread *rd, struct ep_enroll_conf *e, const config_setting_t *g)
{
	static const char *const names[] = { "listen", "cert",	 "key",	      "ca",
					     "crl",    "policy", "key_ttl_s", NULL };
	static const char *const need[] = { "listen", "cert", "key", "ca", "policy" };

	ep_conf_known(rd, g, names);
	ep_conf_str(rd, g, "listen", &e->listen);
	ep_conf_str(rd, g, "cert", &e->cert);
	ep_conf_str(rd, g, "key", &e->key);
	ep_conf_str(rd, g, "ca", &e->ca);
	ep_conf_str(rd, g, "crl", &e->crl);
	ep_conf_str(rd, g, "policy", &e->policy);
	EP_CONF_U32(rd, g, "key_ttl_s", 1, EP_ROLE_TTL_MAX, e->key_ttl_s);
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

/* Group auth: the gateway's, named as the runtime's group is (the same line sets both). */
static void read_auth(struct ep_confread *rd, struct ep_ctl_conf *c, const config_setting_t *g)
{
	static const char *const names[] = { "mode", NULL };
	char *mode = NULL;

	ep_conf_known(rd, g, names);
	ep_conf_str(rd, g, "mode", &mode);
	if (mode && ep_xdp_parse_auth_mode(mode, &c->auth_mode))
		ep_conf_bad(rd, config_setting_get_member(g, "mode"),
			    "must be \"required\", \"optional\" or \"off\"");
	free(mode);
}

int ep_ctl_conf_load(struct ep_ctl_conf *c, const char *path)
{
	static const char *const top[] = { "gateway",	 "control", "policy", "nodes",
					   "rate_limit", "enroll",  "auth",   NULL };
	static const char *const gw[] = { "interface",
					  "xdp_mode",
					  "port",
					  "pin_dir",
					  "encap_source",
					  "keep_attached",
					  "debug",
					  "relay_replies",
					  "relay_set_forwarding",
					  "max_priority",
					  NULL };
	static const char *const ctl[] = { "listen",	      "socket",	       "socket_group",
					   "metrics",	      "log_level",     "allow_register",
					   "wait_for_report", "dead_after_ms", "publish_ms",
					   "capacity_min",    "capacity_max",  NULL };
	struct ep_confread rd = { .path = path };
	const config_setting_t *root, *g;
	long long v;
	config_t cf;

	if (ep_conf_open(&cf, path))
		return -EINVAL;
	root = config_root_setting(&cf);
	ep_conf_known(&rd, root, top);
	if ((g = config_setting_get_member(root, "gateway"))) {
		ep_conf_known(&rd, g, gw);
		ep_conf_str(&rd, g, "interface", &c->interface);
		ep_conf_str(&rd, g, "xdp_mode", &c->xdp_mode);
		ep_conf_str(&rd, g, "pin_dir", &c->pin_dir);
		ep_conf_str(&rd, g, "encap_source", &c->encap_source);
		ep_conf_bool(&rd, g, "keep_attached", &c->keep_attached);
		ep_conf_bool(&rd, g, "debug", &c->debug);
		ep_conf_bool(&rd, g, "relay_replies", &c->relay_replies);
		ep_conf_bool(&rd, g, "relay_set_forwarding", &c->relay_set_forwarding);
		if (ep_conf_num(&rd, g, "port", 1, 65535, &v))
			c->port = (uint16_t)v;
		if (ep_conf_num(&rd, g, "max_priority", EP_PRIO_MIN, EP_PRIO_MAX, &v))
			c->max_priority = (uint8_t)v;
	}
	if ((g = config_setting_get_member(root, "rate_limit")))
		ep_conf_rate_limit(&rd, g, &c->rate_limit, true);
	if ((g = config_setting_get_member(root, "control"))) {
		ep_conf_known(&rd, g, ctl);
		ep_conf_str(&rd, g, "listen", &c->listen);
		ep_conf_str(&rd, g, "socket", &c->socket);
		ep_conf_str(&rd, g, "socket_group", &c->socket_group);
		ep_conf_str(&rd, g, "metrics", &c->metrics);
		ep_conf_str(&rd, g, "log_level", &c->log_level);
		ep_conf_bool(&rd, g, "allow_register", &c->reg.allow_register);
		ep_conf_bool(&rd, g, "wait_for_report", &c->reg.wait_for_report);
		if (ep_conf_num(&rd, g, "dead_after_ms", 10, 3600000, &v))
			c->reg.dead_after_ns = (uint64_t)v * 1000000;
		EP_CONF_U32(&rd, g, "publish_ms", 1, 10000, c->publish_ms);
		EP_CONF_U32(&rd, g, "capacity_min", 1, 1000000, c->reg.capacity_min);
		EP_CONF_U32(&rd, g, "capacity_max", 1, 1000000, c->reg.capacity_max);
	}
	if ((g = config_setting_get_member(root, "policy")))
		read_policy(&rd, &c->policy, g);
	if ((g = config_setting_get_member(root, "auth")))
		read_auth(&rd, c, g);
	if ((g = config_setting_get_member(root, "enroll"))) {
		if (config_setting_is_group(g))
			read_enroll(&rd, &c->enroll, g);
		else
			ep_conf_bad(&rd, g, "must be a group: enroll: { listen = ...; }");
	}
	if ((g = config_setting_get_member(root, "nodes"))) {
		if (!config_setting_is_list(g)) {
			ep_conf_bad(&rd, g, "must be a list of groups: ( { id = 1; ... }, ... )");
		} else {
			for (int i = 0; i < config_setting_length(g); i++) {
				const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);

				if (!config_setting_is_group(e))
					ep_conf_bad(&rd, e, "must be a group { id = 1; ... }");
				else
					read_node(&rd, c, e);
			}
		}
	}
	config_destroy(&cf);
	return rd.err;
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
