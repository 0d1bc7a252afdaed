// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's API: one JSON object per SOCK_SEQPACKET message each way.
 *   {"cmd": "status"}                      -> the controller and gateway
 *   {"cmd": "nodes"}                       -> every node, its state and load
 *   {"cmd": "node.add", "id": 4, ...}      -> see node_from_json()
 *   {"cmd": "node.del"|"node.drain"|"node.undrain", "id": 4}
 *   {"cmd": "policy"}                      -> the policy in force
 *   {"cmd": "policy.set", "set": ["policy=seed", "overflow.1=reject"]}
 *   {"cmd": "keys"}                        -> the live session keys (never their material)
 *   {"cmd": "key.revoke", "id": 17}
 *   {"cmd": "name.revoke"|"name.unrevoke", "name": "cam-001"}
 * Replies: {"ok": true, ...} or {"ok": false, "error": "what went wrong"}.
 * Commands that change state need an admin peer (see serve_peer()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeplane/enroll.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "cluster.h"
#include "policy.h"
#include "server.h"
#include "xdp/ep_xdp.h"

/*
 * A JSON string of @s, which need not be UTF-8: a setting from a config file is any bytes,
 * and a message or a name cut to its buffer may end inside a character. jansson refuses
 * such a string (json_pack() then fails and the peer gets no answer at all), so if @s is
 * not UTF-8 its bytes above 0x7f become '?'. NULL gives null.
 */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j || !(copy = strdup(s)))
		return j;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p > 0x7f)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *ep_ctl_api_fail(const char *fmt, ...)
{
	char msg[1200]; /* an etcd failure names every endpoint it tried */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:o}", "ok", 0, "error", jstr(msg));
}

static json_t *ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static const char *mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const char *origin_name(enum ep_node_origin o)
{
	switch (o) {
	case EP_ORIGIN_CONFIG:
		return "config";
	case EP_ORIGIN_REPORT:
		return "report";
	case EP_ORIGIN_CLI:
		return "edgectl";
	case EP_ORIGIN_PINNED:
		return "restored";
	}
	return "?";
}

static json_t *policy_json(const struct ep_policy *p)
{
	json_t *cpu = json_object(), *wait = json_object(), *ovf = json_object();
	char k[4];

	for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++) {
		snprintf(k, sizeof(k), "%d", i);
		json_object_set_new(cpu, k, json_integer(p->cpu_max_pct[i]));
		json_object_set_new(wait, k, json_integer(p->wait_max_ms[i]));
		json_object_set_new(ovf, k, json_string(ep_overflow_name(p->overflow[i])));
	}
	return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:I}", "policy", ep_policy_name(p->policy),
			 "stale_ms", (json_int_t)p->stale_ms, "mem_factor",
			 (json_int_t)p->mem_factor, "cpu_max", cpu, "wait_max_ms", wait, "overflow",
			 ovf, "cloud_node", (json_int_t)p->cloud_node);
}

/* Enrollment: connections, keys, and what became of handshakes and requests. Lock order:
 * c->lock (held here), then the key store's. */
static json_t *enroll_status(struct ep_ctl *c)
{
	uint64_t n[EP_ENR__COUNT];
	unsigned int conns;
	json_t *by = json_object(), *o;

	ep_enroll_counts(c->enroll, n, &conns);
	for (int i = 0; i < EP_ENR__COUNT; i++)
		json_object_set_new(by, ep_enroll_outcome_name(i), json_integer((json_int_t)n[i]));
	pthread_mutex_lock(&c->keys->lock);
	o = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "listen",
		      jstr(c->conf->enroll.listen), "connections", (json_int_t)conns, "keys",
		      (json_int_t)c->keys->live, "device_keys", (json_int_t)c->keys->live_devices,
		      "gen", (json_int_t)c->keys->gen, "issued", (json_int_t)c->keys->issued,
		      "revoked", (json_int_t)c->keys->revoked, "expired",
		      (json_int_t)c->keys->expired, "by_outcome", by);
	pthread_mutex_unlock(&c->keys->lock);
	return o;
}

static json_t *cmd_status(struct ep_ctl *c)
{
	enum ep_auth_mode mode;
	struct ep_gw_cfg cfg;
	unsigned int nodes = 0, usable = 0;
	uint64_t now = ep_now_ns();

	for (uint32_t id = 1; id < c->reg.top; id++) {
		nodes += !!c->reg.nodes[id].id;
		usable += ep_reg_usable(&c->reg.nodes[id]);
	}
	json_t *o, *by;

	if (ep_gw_read_cfg(c->gw, &cfg))
		memset(&cfg, 0, sizeof(cfg));
	by = json_pack("{s:I}", "bad_message", (json_int_t)c->rx_bad);
	for (int i = 0; i < EP_REG__COUNT; i++)
		json_object_set_new(by, ep_reg_report_name(i), json_integer((json_int_t)c->rx[i]));
	for (int i = EP_RAUTH_OK; i < EP_RAUTH__COUNT; i++)
		if (i != EP_RAUTH_PLAIN)
			json_object_set_new(by, ep_rauth_name(i),
					    json_integer((json_int_t)c->rx_auth[i]));
	o = json_pack("{s:b, s:I, s:o, s:s, s:o, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I, s:f, s:o, s:o, s:o}",
		      "ok", 1, "pid", (json_int_t)getpid(), "interface", jstr(c->conf->interface),
		      "xdp_mode", ep_gw_mode_name(c->gw), "pin_dir", jstr(ep_gw_pin_dir(c->gw)),
		      "port", (json_int_t)c->conf->port, "policy", ep_policy_name(c->policy.policy),
		      "generation", (json_int_t)cfg.generation, "active_half",
		      (json_int_t)cfg.active, "nodes", (json_int_t)nodes, "usable",
		      (json_int_t)usable, "publishes", (json_int_t)c->publishes, "publish_errors",
		      (json_int_t)c->publish_errors, "reports", (json_int_t)c->reg.reports,
		      "reports_rejected", (json_int_t)c->reg.reports_rejected, "uptime_s",
		      (double)(now - c->start_ns) / 1e9, "reports_on", jstr(c->conf->listen),
		      "metrics", jstr(c->conf->metrics), "socket", jstr(c->conf->socket));
	if (o) {
		json_object_set_new(o, "urgent_publishes",
				    json_integer((json_int_t)c->urgent_publishes));
		json_object_set_new(o, "reports_by_outcome", by);
	} else {
		json_decref(by);
	}
	/* As the gateway's XDP reads its mode (a hand may have changed it since the start). */
	if (o && !ep_gw_read_auth_mode(c->gw, &mode))
		json_object_set_new(o, "auth_mode", json_string(ep_xdp_auth_mode_name(mode)));
	if (o && c->enroll)
		json_object_set_new(o, "enroll", enroll_status(c));
	if (o && c->cluster)
		json_object_set_new(o, "etcd", ep_cluster_status(c->cluster));
	return o;
}

static json_t *node_json(struct ep_ctl *c, const struct ep_reg_node *n, uint32_t slots,
			 const struct ep_gw_node_stats *st, uint64_t sent, uint64_t now)
{
	char mac[18], ip4[INET_ADDRSTRLEN] = "", ip6[INET6_ADDRSTRLEN] = "", ifname[IF_NAMESIZE];
	static const uint8_t zero6[16];
	json_t *o;

	if (n->ip4)
		inet_ntop(AF_INET, &n->ip4, ip4, sizeof(ip4));
	if (memcmp(n->ip6, zero6, 16))
		inet_ntop(AF_INET6, n->ip6, ip6, sizeof(ip6));
	o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "id",
		      (json_int_t)n->id, "name", jstr(n->name), "state", ep_reg_state(n), "role",
		      n->role == EP_ROLE_CLOUD ? "cloud" : "worker", "mode",
		      n->encap ? "encap" : "dsr", "origin", origin_name(n->origin), "mac",
		      n->mac_set ? mac_str(n->mac, mac) : "", "ip4", ip4, "ip6", ip6, "port",
		      (json_int_t)n->port, "capacity", (json_int_t)ep_reg_capacity(n), "usable",
		      ep_reg_usable(n));
	if (n->ifindex && if_indextoname(n->ifindex, ifname))
		json_object_set_new(o, "interface", json_string(ifname));
	json_object_set_new(
		o, "load",
		json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "cpu_pct",
			  n->load.cpu_pct_x100 / 100.0, "mem_free_kib",
			  (json_int_t)n->load.mem_free_kib, "queue_depth",
			  (json_int_t)n->load.queue_depth, "inflight", (json_int_t)n->load.inflight,
			  "p99_us", (json_int_t)n->load.p99_us, "rate", (json_int_t)n->load.rate,
			  "seq", (json_int_t)n->load.seq, "age_ms",
			  n->last_report_ns ? (double)(now - n->last_report_ns) / 1e6 : -1.0));
	json_object_set_new(o, "reports",
			    json_pack("{s:I, s:I, s:I, s:I}", "received", (json_int_t)n->reports,
				      "lost", (json_int_t)n->lost, "old", (json_int_t)n->stale,
				      "rejected", (json_int_t)n->rejected));
	json_object_set_new(
		o, "gateway",
		json_pack("{s:I, s:f, s:I, s:I, s:I, s:I}", "table_slots", (json_int_t)slots,
			  "table_share", (double)slots / ep_table_size(c->table_bits),
			  "sent_since_report", (json_int_t)sent, "tasks", (json_int_t)st->tasks,
			  "packets", (json_int_t)st->packets, "bytes", (json_int_t)st->bytes));
	return o;
}

static json_t *cmd_nodes(struct ep_ctl *c)
{
	struct ep_gw_node_stats st[EP_GW_MAX_NODES] = { 0 };
	uint64_t sent[EP_GW_MAX_NODES] = { 0 }, now = ep_now_ns();
	uint32_t slots[EP_GW_MAX_NODES];
	json_t *arr = json_array();

	ep_gw_read_node_stats(c->gw, st);
	ep_gw_read_sent(c->gw, sent);
	ep_table_shares(c->table, c->table_bits, slots);
	for (uint32_t id = 1; id < c->reg.top; id++)
		if (c->reg.nodes[id].id)
			json_array_append_new(arr, node_json(c, &c->reg.nodes[id], slots[id],
							     &st[id], sent[id], now));
	return json_pack("{s:b, s:o}", "ok", 1, "nodes", arr);
}

static int get_id(json_t *req, uint32_t *id)
{
	json_t *v = json_object_get(req, "id");

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) >= EP_GW_MAX_NODES)
		return -EINVAL;
	*id = (uint32_t)json_integer_value(v);
	return 0;
}

/* {"id": 4, "name": "w4", "mac": "..", "ip4": "..", "ip6": "..", "port": 7878,
 *  "capacity": 100, "mode": "dsr"|"encap", "role": "worker"|"cloud", "interface": ".."}
 * (parsed as etcd's node values are: ep_cluster_node_parse()) */
static json_t *cmd_node_add(struct ep_ctl *c, json_t *req)
{
	struct ep_reg_node n;
	const char *ifname;
	char why[160];
	int err;

	if (ep_cluster_node_parse(req, &n, &ifname, why, sizeof(why)))
		return ep_ctl_api_fail("node add: %s", why);
	if (ifname) {
		n.ifindex = if_nametoindex(ifname);
		if (!n.ifindex)
			return ep_ctl_api_fail("node add: interface %s: %s", ifname,
					       strerror(errno));
		err = ep_gw_add_dev(c->gw, n.ifindex);
		if (err)
			return ep_ctl_api_fail("node add: redirect to %s: %s", ifname,
					       strerror(-err));
	}
	pthread_mutex_lock(&c->lock);
	err = ep_reg_add(&c->reg, &n, ep_now_ns());
	if (!err)
		err = ep_ctl_publish(c, ep_now_ns());
	pthread_mutex_unlock(&c->lock);
	if (err == -EEXIST)
		return ep_ctl_api_fail("node %u already exists (edgectl node del %u first)", n.id,
				       n.id);
	if (err)
		return ep_ctl_api_fail("node add: %s", strerror(-err));
	pr_info("node %u (%s) added by edgectl", n.id, n.name[0] ? n.name : "unnamed");
	return ok();
}

static json_t *cmd_node_change(struct ep_ctl *c, json_t *req, const char *cmd)
{
	uint32_t id;
	int err;

	if (get_id(req, &id))
		return ep_ctl_api_fail("%s: needs an id in 1..%d", cmd, EP_GW_MAX_NODES - 1);
	pthread_mutex_lock(&c->lock);
	if (!strcmp(cmd, "node.del"))
		err = ep_reg_del(&c->reg, id);
	else
		err = ep_reg_drain(&c->reg, id, !strcmp(cmd, "node.drain"));
	if (!err)
		err = ep_ctl_publish(c, ep_now_ns());
	pthread_mutex_unlock(&c->lock);
	if (err == -ENOENT)
		return ep_ctl_api_fail("no node %u", id);
	if (err)
		return ep_ctl_api_fail("%s %u: %s", cmd, id, strerror(-err));
	pr_info("%s %u by edgectl", cmd, id);
	return ok();
}

static json_t *cmd_policy_set(struct ep_ctl *c, json_t *req)
{
	json_t *set = json_object_get(req, "set"), *v;
	struct ep_policy p;
	char err[160];
	size_t i;
	int rc;

	if (!json_is_array(set) || !json_array_size(set))
		return ep_ctl_api_fail("policy set: needs at least one key=value");
	pthread_mutex_lock(&c->lock);
	p = c->policy;
	json_array_foreach(set, i, v)
	{
		if (!json_is_string(v) ||
		    ep_policy_set(&p, json_string_value(v), err, sizeof(err))) {
			pthread_mutex_unlock(&c->lock);
			return ep_ctl_api_fail("policy set: %s",
					       json_is_string(v) ? err : "not a string");
		}
	}
	if (p.cloud_node && (!ep_reg_get(&c->reg, p.cloud_node) ||
			     c->reg.nodes[p.cloud_node].role != EP_ROLE_CLOUD)) {
		pthread_mutex_unlock(&c->lock);
		return ep_ctl_api_fail("policy set: cloud_node %u is not a node with role cloud",
				       p.cloud_node);
	}
	c->policy = p;
	rc = ep_ctl_publish(c, ep_now_ns());
	pthread_mutex_unlock(&c->lock);
	if (rc)
		return ep_ctl_api_fail("policy set: publish: %s", strerror(-rc));
	pr_info("policy changed by edgectl: %s", ep_policy_name(p.policy));
	return ok();
}

/* --- session keys (enrollment) ----------------------------------------------------------- */

static void key_row(void *arg, const struct ep_ks_key *e)
{
	json_t *o =
		json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b}", "key_id", (json_int_t)e->k.key_id,
			  "name", e->k.name, "role", e->k.role, "tenant", (json_int_t)e->k.tenant,
			  "issued_unix_ms", (json_int_t)e->k.issued_unix_ms, "expires_unix_ms",
			  (json_int_t)e->k.expires_unix_ms, "revoked", e->k.revoked);

	if (o && e->node_id)
		json_object_set_new(o, "node_id", json_integer(e->node_id));
	if (o && e->k.has_addr) { /* where the device enrolled from */
		static const uint8_t v4[12] = { [10] = 0xff, [11] = 0xff };
		bool is4 = !memcmp(e->k.addr, v4, sizeof(v4));
		char text[INET6_ADDRSTRLEN];

		if (inet_ntop(is4 ? AF_INET : AF_INET6, is4 ? e->k.addr + 12 : e->k.addr, text,
			      sizeof(text)))
			json_object_set_new(o, "addr", json_string(text));
	}
	json_array_append_new(arg, o);
}

static void denied_row(void *arg, const char *name)
{
	json_array_append_new(arg, json_string(name));
}

/* Names, ids and times only: the material never leaves the key store this way. */
static json_t *cmd_keys(struct ep_ctl *c)
{
	json_t *keys = json_array(), *names = json_array();
	uint64_t gen;

	ep_ks_foreach(c->keys, key_row, keys);
	ep_ks_foreach_denied(c->keys, denied_row, names);
	pthread_mutex_lock(&c->keys->lock);
	gen = c->keys->gen;
	pthread_mutex_unlock(&c->keys->lock);
	return json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "gen", (json_int_t)gen, "keys", keys,
			 "revoked_names", names);
}

static json_t *cmd_key_revoke(struct ep_ctl *c, json_t *req)
{
	json_t *v = json_object_get(req, "id");
	int err;

	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return ep_ctl_api_fail("key revoke: needs a key id in 1..65535");
	err = ep_ks_revoke_key(c->keys, (uint16_t)json_integer_value(v));
	if (err == -ENOENT)
		return ep_ctl_api_fail("no live key %lld", (long long)json_integer_value(v));
	if (err == -EALREADY)
		return ep_ctl_api_fail("key %lld is already revoked",
				       (long long)json_integer_value(v));
	if (err)
		return ep_ctl_api_fail("key revoke: %s", strerror(-err));
	pr_info("key %lld revoked by edgectl", (long long)json_integer_value(v));
	return ok();
}

static json_t *cmd_name_revoke(struct ep_ctl *c, json_t *req, bool revoke)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	int n;

	if (!name || !ep_enroll_name_ok(name, EP_KEY_NAME_MAX))
		return ep_ctl_api_fail("%s: needs a device or node name (a certificate's CN)",
				       revoke ? "revoke" : "unrevoke");
	if (!revoke) {
		if (ep_ks_unrevoke_name(c->keys, name))
			return ep_ctl_api_fail("'%s' is not revoked", name);
		pr_info("'%s' may enroll again (edgectl unrevoke)", name);
		return ok();
	}
	n = ep_ks_revoke_name(c->keys, name);
	if (n < 0)
		return ep_ctl_api_fail("revoke: %s", strerror(-n));
	pr_info("'%s' revoked by edgectl: %d keys, and its enrollments refused", name, n);
	return json_pack("{s:b, s:i}", "ok", 1, "revoked_keys", n);
}

json_t *ep_ctl_api(struct ep_ctl *c, json_t *req, bool admin)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	bool key_cmd;
	json_t *r;

	if (!cmd)
		return ep_ctl_api_fail("request has no \"cmd\"");
	if (!strcmp(cmd, "status") || !strcmp(cmd, "nodes") || !strcmp(cmd, "policy")) {
		pthread_mutex_lock(&c->lock);
		if (!strcmp(cmd, "status"))
			r = cmd_status(c);
		else if (!strcmp(cmd, "nodes"))
			r = cmd_nodes(c);
		else
			r = json_pack("{s:b, s:o}", "ok", 1, "policy", policy_json(&c->policy));
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	key_cmd = !strcmp(cmd, "keys") || !strcmp(cmd, "key.revoke") ||
		  !strcmp(cmd, "name.revoke") || !strcmp(cmd, "name.unrevoke");
	if (key_cmd && !c->keys)
		return ep_ctl_api_fail(
			"%s: enrollment is off (no group enroll in the configuration)", cmd);
	if (!strcmp(cmd, "keys"))
		return cmd_keys(c);
	if (!key_cmd && strcmp(cmd, "node.add") && strcmp(cmd, "node.del") &&
	    strcmp(cmd, "node.drain") && strcmp(cmd, "node.undrain") && strcmp(cmd, "policy.set"))
		return ep_ctl_api_fail("unknown command '%s'", cmd);
	if (!admin) {
		c->api_denied++;
		return ep_ctl_api_fail("%s: permission denied (root, the controller's user or the "
				       "socket_group may change state)",
				       cmd);
	}
	if (!strcmp(cmd, "key.revoke"))
		return cmd_key_revoke(c, req);
	if (!strcmp(cmd, "name.revoke") || !strcmp(cmd, "name.unrevoke"))
		return cmd_name_revoke(c, req, !strcmp(cmd, "name.revoke"));
	if (c->cluster && ep_cluster_cmd(cmd)) /* to etcd; applied from its watch */
		return ep_cluster_api(c, req, cmd);
	if (!strcmp(cmd, "node.add"))
		return cmd_node_add(c, req);
	if (!strcmp(cmd, "policy.set"))
		return cmd_policy_set(c, req);
	return cmd_node_change(c, req, cmd);
}
