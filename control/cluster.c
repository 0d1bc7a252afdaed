// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cluster.c - the cluster's administrative state in etcd (cluster.h has the layout):
 * a mirror of the keys under the prefix, kept by a watch thread and applied as a whole to
 * the registry and policy after each change; edgectl's changes written to etcd; the
 * controller's lease kept alive by a second thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "cluster.h"
#include "config.h"
#include "etcd.h"
#include "server.h"

#define RETRY_MS 300 /* between attempts while etcd cannot serve */

struct mkey {
	char *key; /* after the prefix */
	char *value;
	int64_t mod;
};

struct ep_cluster {
	struct ep_ctl *c;
	const struct ep_etcd_conf *conf;
	struct ep_etcd *api, *watch, *live; /* one handle per thread */
	pthread_t watch_thr, live_thr;
	bool watch_started, live_started;
	volatile int stop;
	char name[128]; /* controllers/<name> */

	/* The rest under c->lock. */
	struct mkey *keys;
	size_t nkeys, cap;
	int64_t rev;	    /* of the mirror */
	bool synced;	    /* the mirror is current (the watch runs) */
	char last_err[512]; /* why not */
	int64_t policy_rev; /* mod_revision of <prefix>policy; 0: absent */
	int64_t node_rev[EP_GW_MAX_NODES];
	bool drained[EP_GW_MAX_NODES];
	bool config_written;
	pthread_cond_t applied; /* rev moved */
	int64_t lease;
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* --- encoding of the values ----------------------------------------------------------- */

json_t *ep_cluster_policy_kv(const struct ep_policy *p)
{
	json_t *a = json_array();
	char kv[64];

	snprintf(kv, sizeof(kv), "policy=%s", ep_policy_name(p->policy));
	json_array_append_new(a, json_string(kv));
	snprintf(kv, sizeof(kv), "stale_ms=%u", p->stale_ms);
	json_array_append_new(a, json_string(kv));
	snprintf(kv, sizeof(kv), "mem_factor=%u", p->mem_factor);
	json_array_append_new(a, json_string(kv));
	for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++) {
		snprintf(kv, sizeof(kv), "cpu_max.%d=%u", i, p->cpu_max_pct[i]);
		json_array_append_new(a, json_string(kv));
		snprintf(kv, sizeof(kv), "wait_max.%d=%u", i, p->wait_max_ms[i]);
		json_array_append_new(a, json_string(kv));
		snprintf(kv, sizeof(kv), "overflow.%d=%s", i, ep_overflow_name(p->overflow[i]));
		json_array_append_new(a, json_string(kv));
	}
	snprintf(kv, sizeof(kv), "cloud_node=%u", p->cloud_node);
	json_array_append_new(a, json_string(kv));
	return a;
}

/* Settings @set over @p. 0 or -EINVAL with @err said. */
static int policy_apply_kv(struct ep_policy *p, const json_t *set, char *err, size_t len)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(set)) {
		snprintf(err, len, "no \"set\" list");
		return -EINVAL;
	}
	json_array_foreach(set, i, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, len, "a setting that is not a string");
			return -EINVAL;
		}
		if (ep_policy_set(p, json_string_value(v), err, len))
			return -EINVAL;
	}
	return 0;
}

json_t *ep_cluster_node_json(const struct ep_reg_node *n, const char *ifname)
{
	char mac[18], ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	static const uint8_t zero6[16];
	json_t *o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)n->id, "mode",
			      n->encap ? "encap" : "dsr", "role",
			      n->role == EP_ROLE_CLOUD ? "cloud" : "worker");

	if (!o)
		return NULL;
	if (n->name[0])
		json_object_set_new(o, "name", json_string(n->name));
	if (n->mac_set) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_object_set_new(o, "mac", json_string(mac));
	}
	if (n->ip4 && inet_ntop(AF_INET, &n->ip4, ip4, sizeof(ip4)))
		json_object_set_new(o, "ip4", json_string(ip4));
	if (memcmp(n->ip6, zero6, 16) && inet_ntop(AF_INET6, n->ip6, ip6, sizeof(ip6)))
		json_object_set_new(o, "ip6", json_string(ip6));
	if (n->port)
		json_object_set_new(o, "port", json_integer(n->port));
	if (n->capacity_cfg)
		json_object_set_new(o, "capacity", json_integer(n->capacity_cfg));
	if (ifname)
		json_object_set_new(o, "interface", json_string(ifname));
	return o;
}

/* The addresses of node.add's object. */
static int node_parse_addrs(struct ep_reg_node *n, const char *mac, const char *ip4,
			    const char *ip6, char *err, size_t len)
{
	if (mac) {
		if (ep_parse_mac(mac, n->mac)) {
			snprintf(err, len, "mac '%s' is not like 02:00:00:00:00:01", mac);
			return -EINVAL;
		}
		n->mac_set = true;
	}
	if (ip4 && inet_pton(AF_INET, ip4, &n->ip4) != 1) {
		snprintf(err, len, "ip4 '%s' is not an IPv4 address", ip4);
		return -EINVAL;
	}
	if (ip6 && inet_pton(AF_INET6, ip6, n->ip6) != 1) {
		snprintf(err, len, "ip6 '%s' is not an IPv6 address", ip6);
		return -EINVAL;
	}
	return 0;
}

int ep_cluster_node_parse(json_t *o, struct ep_reg_node *n, const char **ifname, char *err,
			  size_t len)
{
	const char *name = NULL, *mac = NULL, *ip4 = NULL, *ip6 = NULL, *mode = NULL, *role = NULL;
	json_t *id = json_object_get(o, "id");
	json_int_t port = 0, cap = 0;
	json_error_t jerr;

	memset(n, 0, sizeof(*n));
	n->origin = EP_ORIGIN_CLI;
	*ifname = NULL;
	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) >= EP_GW_MAX_NODES) {
		snprintf(err, len, "needs an id in 1..%d", EP_GW_MAX_NODES - 1);
		return -EINVAL;
	}
	n->id = (uint32_t)json_integer_value(id);
	if (json_unpack_ex(o, &jerr, 0, "{s?s, s?s, s?s, s?s, s?I, s?I, s?s, s?s, s?s}", "name",
			   &name, "mac", &mac, "ip4", &ip4, "ip6", &ip6, "port", &port, "capacity",
			   &cap, "mode", &mode, "role", &role, "interface", ifname)) {
		snprintf(err, len, "%s", jerr.text);
		return -EINVAL;
	}
	if (name)
		snprintf(n->name, sizeof(n->name), "%s", name);
	if (node_parse_addrs(n, mac, ip4, ip6, err, len))
		return -EINVAL;
	if (port < 0 || port > 65535 || cap < 0 || cap > 1000000) {
		snprintf(err, len, "port %lld or capacity %lld out of range (1..65535, 1..1000000)",
			 (long long)port, (long long)cap);
		return -EINVAL;
	}
	n->port = (uint16_t)port;
	n->capacity_cfg = (uint32_t)cap;
	if ((mode && strcmp(mode, "dsr") && strcmp(mode, "encap")) ||
	    (role && strcmp(role, "worker") && strcmp(role, "cloud"))) {
		snprintf(err, len, "mode '%s' or role '%s' is not dsr|encap, worker|cloud",
			 mode ? mode : "", role ? role : "");
		return -EINVAL;
	}
	n->encap = mode && !strcmp(mode, "encap");
	n->role = role && !strcmp(role, "cloud") ? EP_ROLE_CLOUD : EP_ROLE_WORKER;
	if (!n->mac_set) {
		snprintf(err, len, "needs mac (the node's, or for encap its next hop's)");
		return -EINVAL;
	}
	if (n->encap && !n->ip4 && !ip6) {
		snprintf(err, len, "an encap node needs ip4 or ip6");
		return -EINVAL;
	}
	return 0;
}

/* --- the mirror ------------------------------------------------------------------------ */

static struct mkey *mirror_find(struct ep_cluster *cl, const char *key)
{
	for (size_t i = 0; i < cl->nkeys; i++)
		if (!strcmp(cl->keys[i].key, key))
			return &cl->keys[i];
	return NULL;
}

static void mirror_clear(struct ep_cluster *cl)
{
	for (size_t i = 0; i < cl->nkeys; i++) {
		free(cl->keys[i].key);
		free(cl->keys[i].value);
	}
	cl->nkeys = 0;
}

/* Put or delete @kv (its key under the prefix) in the mirror. 0 or -ENOMEM. */
static int mirror_set(struct ep_cluster *cl, const struct ep_etcd_kv *kv, bool del)
{
	const char *key = kv->key + strlen(cl->conf->prefix);
	struct mkey *m = mirror_find(cl, key);
	char *v;

	if (del) {
		if (m) {
			free(m->key);
			free(m->value);
			*m = cl->keys[--cl->nkeys];
		}
		return 0;
	}
	if (!(v = strdup(kv->value)))
		return -ENOMEM;
	if (!m) {
		if (cl->nkeys == cl->cap) {
			size_t cap = cl->cap ? 2 * cl->cap : 64;
			struct mkey *k = realloc(cl->keys, cap * sizeof(*k));

			if (!k) {
				free(v);
				return -ENOMEM;
			}
			cl->keys = k;
			cl->cap = cap;
		}
		m = &cl->keys[cl->nkeys];
		if (!(m->key = strdup(key))) {
			free(v);
			return -ENOMEM;
		}
		m->value = NULL;
		cl->nkeys++;
	}
	free(m->value);
	m->value = v;
	m->mod = kv->mod_revision;
	return 0;
}

/* --- applying the mirror ---------------------------------------------------------------- */

/* The policy: the key's, or without one the configuration's. True if it changed. */
static bool apply_policy(struct ep_cluster *cl)
{
	struct ep_ctl *c = cl->c;
	struct mkey *m = mirror_find(cl, "policy");
	struct ep_policy p = c->conf->policy;
	char err[160];
	json_t *v;

	cl->policy_rev = m ? m->mod : 0;
	if (m) {
		v = json_loads(m->value, 0, NULL);
		if (policy_apply_kv(&p, json_object_get(v, "set"), err, sizeof(err))) {
			pr_warn("etcd: %spolicy (revision %lld): %s: the policy stays as it is",
				cl->conf->prefix, (long long)m->mod, err);
			p = c->policy;
		}
		json_decref(v);
	}
	if (!memcmp(&p, &c->policy, sizeof(p)))
		return false;
	c->policy = p;
	pr_info("etcd: policy %s in force", ep_policy_name(p.policy));
	return true;
}

/* Node @id from etcd's value @m: added (again, if it changed). True if it changed. */
static bool apply_node(struct ep_cluster *cl, uint32_t id, const struct mkey *m)
{
	struct ep_ctl *c = cl->c;
	struct ep_reg_node n;
	const char *ifname;
	char err[160];
	json_t *v;
	int rc;

	if (cl->node_rev[id] == m->mod)
		return false;
	if (ep_reg_get(&c->reg, id) && !cl->node_rev[id]) { /* from config or a report */
		cl->node_rev[id] = m->mod;
		return false;
	}
	v = json_loads(m->value, 0, NULL);
	rc = v ? ep_cluster_node_parse(v, &n, &ifname, err, sizeof(err)) : -EINVAL;
	if (!v)
		snprintf(err, sizeof(err), "not JSON");
	if (!rc && (uint32_t)strtoul(m->key + strlen("nodes/"), NULL, 10) != n.id)
		rc = -EINVAL, snprintf(err, sizeof(err), "its id is not its key's");
	if (!rc && ifname) {
		n.ifindex = if_nametoindex(ifname);
		if (!n.ifindex || ep_gw_add_dev(c->gw, n.ifindex))
			pr_warn("etcd: node %u: no redirect to interface %s here", id, ifname);
	}
	json_decref(v);
	cl->node_rev[id] = m->mod;
	if (rc) {
		pr_warn("etcd: %s: %s: ignored", m->key, err);
		return false;
	}
	ep_reg_del(&c->reg, id);
	rc = ep_reg_add(&c->reg, &n, ep_now_ns());
	if (rc)
		pr_warn("etcd: node %u: %s", id, strerror(-rc));
	else
		pr_info("etcd: node %u (%s) registered", id, n.name[0] ? n.name : "unnamed");
	return true;
}

/* Nodes and drains as the mirror has them. True if something changed. */
static bool apply_nodes(struct ep_cluster *cl)
{
	struct ep_ctl *c = cl->c;
	const struct mkey **want = calloc(EP_GW_MAX_NODES, sizeof(*want));
	bool changed = false;

	if (!want)
		return false;
	memset(cl->drained, 0, sizeof(cl->drained));
	for (size_t i = 0; i < cl->nkeys; i++) {
		const char *k = cl->keys[i].key;
		unsigned long id;

		if (!strncmp(k, "nodes/", 6) && (id = strtoul(k + 6, NULL, 10)) &&
		    id < EP_GW_MAX_NODES)
			want[id] = &cl->keys[i];
		else if (!strncmp(k, "drains/", 7) && (id = strtoul(k + 7, NULL, 10)) &&
			 id < EP_GW_MAX_NODES)
			cl->drained[id] = true;
	}
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
		if (want[id]) {
			changed |= apply_node(cl, id, want[id]);
		} else if (cl->node_rev[id]) {
			cl->node_rev[id] = 0;
			if (!ep_reg_del(&c->reg, id)) {
				pr_info("etcd: node %u deleted", id);
				changed = true;
			}
		}
	}
	free(want);
	return ep_cluster_tick(c) || changed;
}

bool ep_cluster_tick(struct ep_ctl *c)
{
	struct ep_cluster *cl = c->cluster;
	bool changed = false;

	if (!cl || !cl->rev)
		return false; /* nothing read yet: the pinned state stands */
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
		struct ep_reg_node *n = &c->reg.nodes[id];

		if (n->id && n->manual_drain != cl->drained[id]) {
			ep_reg_drain(&c->reg, id, cl->drained[id]);
			pr_info("etcd: node %u %s", id, cl->drained[id] ? "drained" : "undrained");
			changed = true;
		}
	}
	return changed;
}

/* Everything, after a change at revision @rev. Lock held. */
static void apply_all(struct ep_cluster *cl, int64_t rev)
{
	struct ep_ctl *c = cl->c;
	bool changed;

	cl->rev = rev;
	changed = apply_policy(cl);
	changed |= apply_nodes(cl);
	if (changed) {
		int err = ep_ctl_publish(c, ep_now_ns());

		if (err)
			pr_warn("publish to the gateway maps: %s", strerror(-err));
	}
	pthread_cond_broadcast(&cl->applied);
}

/* --- the watch thread ------------------------------------------------------------------- */

/* A key of the first read, into the mirror being built. */
static int range_kv(void *arg, const struct ep_etcd_kv *kv)
{
	return mirror_set(arg, kv, false);
}

/* Events of the watch: into the mirror, then the whole applied at their revision. */
static int watch_fn(void *arg, int64_t rev, const struct ep_etcd_event *ev, unsigned int n)
{
	struct ep_cluster *cl = arg;
	int err = 0;

	pthread_mutex_lock(&cl->c->lock);
	for (unsigned int i = 0; i < n && !err; i++)
		err = mirror_set(cl, &ev[i].kv, ev[i].del);
	if (!err)
		apply_all(cl, rev);
	pthread_mutex_unlock(&cl->c->lock);
	return err;
}

/* Read everything into the mirror and apply it. 0 or -errno (the mirror as it was). */
static int resync(struct ep_cluster *cl)
{
	struct ep_cluster tmp = { .conf = cl->conf };
	int64_t rev = 0;
	int err;

	err = ep_etcd_range(cl->watch, cl->conf->prefix, range_kv, &tmp, &rev);
	pthread_mutex_lock(&cl->c->lock);
	if (!err) {
		mirror_clear(cl);
		free(cl->keys);
		cl->keys = tmp.keys;
		cl->nkeys = tmp.nkeys;
		cl->cap = tmp.cap;
		tmp.keys = NULL, tmp.nkeys = 0;
		apply_all(cl, rev);
		cl->synced = true;
		cl->last_err[0] = '\0';
	} else {
		snprintf(cl->last_err, sizeof(cl->last_err), "%s", ep_etcd_error(cl->watch));
	}
	pthread_mutex_unlock(&cl->c->lock);
	mirror_clear(&tmp);
	free(tmp.keys);
	return err;
}

/* The configured nodes that etcd does not have yet, created there (if still absent). */
static void write_config_nodes(struct ep_cluster *cl)
{
	const struct ep_ctl_conf *conf = cl->c->conf;
	bool all = true;
	char key[512];

	for (unsigned int i = 0; i < conf->nnodes; i++) {
		json_t *o = ep_cluster_node_json(&conf->nodes[i], conf->node_ifnames[i]);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		int err;

		snprintf(key, sizeof(key), "%snodes/%u", cl->conf->prefix, conf->nodes[i].id);
		err = text ? ep_etcd_put_if(cl->watch, key, text, 0, NULL) : -ENOMEM;
		if (err && err != -ECANCELED) {
			pr_warn("etcd: node %u from the configuration: %s", conf->nodes[i].id,
				ep_etcd_error(cl->watch));
			all = false; /* again after the next re-read */
		}
		free(text);
		json_decref(o);
	}
	cl->config_written = all;
}

/* The watch thread: read everything, watch from the next revision, and again after
 * every break, until stopped; while etcd cannot serve, retry every RETRY_MS. */
static void *watch_main(void *arg)
{
	struct ep_cluster *cl = arg;
	bool said = false;
	int err;

	while (!cl->stop) {
		if (!cl->synced) {
			err = resync(cl);
			if (err) {
				if (!said && err != -EINTR)
					pr_warn("%s; the gateway keeps its last state, retrying",
						ep_etcd_error(cl->watch));
				said = true;
				sleep_ms(RETRY_MS);
				continue;
			}
			if (said)
				pr_info("etcd: read again at revision %lld; watching",
					(long long)cl->rev);
			said = false;
		}
		if (!cl->config_written)
			write_config_nodes(cl);
		err = ep_etcd_watch(cl->watch, cl->conf->prefix, cl->rev + 1, watch_fn, cl);
		if (err == -EINTR)
			break;
		pthread_mutex_lock(&cl->c->lock);
		cl->synced = false;
		snprintf(cl->last_err, sizeof(cl->last_err), "%s", ep_etcd_error(cl->watch));
		pthread_mutex_unlock(&cl->c->lock);
		pr_info("%s: reading everything again", ep_etcd_error(cl->watch));
	}
	return NULL;
}

/* --- the lease thread ------------------------------------------------------------------- */

/* Grant a lease and put controllers/<name> on it. 0 or -errno. */
static int live_register(struct ep_cluster *cl)
{
	char key[512], val[256];
	int64_t lease;
	int err;

	err = ep_etcd_lease_grant(cl->live, cl->conf->lease_ttl_s, &lease);
	if (err)
		return err;
	snprintf(key, sizeof(key), "%scontrollers/%s", cl->conf->prefix, cl->name);
	snprintf(val, sizeof(val), "{\"interface\":\"%s\",\"pid\":%d}", cl->c->conf->interface,
		 (int)getpid());
	err = ep_etcd_put(cl->live, key, val, lease, NULL);
	if (err) {
		ep_etcd_lease_revoke(cl->live, lease);
		return err;
	}
	__atomic_store_n(&cl->lease, lease, __ATOMIC_RELAXED);
	return 0;
}

/* The lease thread: controllers/<name> on a lease renewed every third of its TTL,
 * registered again if it expired meanwhile. */
static void *live_main(void *arg)
{
	struct ep_cluster *cl = arg;
	unsigned int every_ms = cl->conf->lease_ttl_s * 1000 / 3;
	int64_t lease = 0;
	bool said = false;
	int err;

	while (!cl->stop) {
		err = lease ? ep_etcd_lease_keepalive(cl->live, lease) : live_register(cl);
		if (!lease && !err)
			lease = cl->lease;
		if (err == -ENOENT) { /* expired while we could not reach etcd */
			pr_info("etcd: the controller's lease expired: registering again");
			lease = 0;
			continue;
		}
		if (err && err != -EINTR && !said)
			pr_warn("etcd: controller lease: %s", ep_etcd_error(cl->live));
		said = err != 0;
		for (unsigned int t = 0; t < (err ? 1000 : every_ms) && !cl->stop; t += 100)
			sleep_ms(100);
	}
	return NULL;
}

/* --- life cycle -------------------------------------------------------------------------- */

int ep_cluster_start(struct ep_ctl *c, struct ep_cluster **out)
{
	const struct ep_etcd_conf *ec = &c->conf->etcd;
	struct ep_cluster *cl = calloc(1, sizeof(*cl));
	char host[64] = "";
	int err;

	if (!cl)
		return -ENOMEM;
	cl->c = c;
	cl->conf = ec;
	pthread_cond_init(&cl->applied, NULL);
	gethostname(host, sizeof(host) - 1);
	snprintf(cl->name, sizeof(cl->name), "%s-%s", host, c->conf->interface);
	err = ep_etcd_open(&cl->api, ec->endpoints, ec->nendpoints, ec->timeout_ms);
	if (!err)
		err = ep_etcd_open(&cl->watch, ec->endpoints, ec->nendpoints, ec->timeout_ms);
	if (!err)
		err = ep_etcd_open(&cl->live, ec->endpoints, ec->nendpoints, ec->timeout_ms);
	if (err)
		goto err_free;
	ep_etcd_set_stop(cl->watch, &cl->stop);
	ep_etcd_set_stop(cl->live, &cl->stop);
	/* The first read here, so that a controller that can reach etcd starts on its
	 * state; one that cannot starts on its pinned state and catches up later. */
	if (resync(cl))
		pr_warn("%s; starting on the pinned state, catching up when etcd answers",
			ep_etcd_error(cl->watch));
	err = -pthread_create(&cl->watch_thr, NULL, watch_main, cl);
	cl->watch_started = !err;
	if (!err)
		err = -pthread_create(&cl->live_thr, NULL, live_main, cl);
	cl->live_started = !err;
	if (err)
		goto err_free;
	pr_info("etcd: %u endpoints, prefix %s, this controller %s", ec->nendpoints, ec->prefix,
		cl->name);
	*out = cl;
	return 0;

err_free:
	pr_err("etcd: %s", strerror(-err));
	ep_cluster_stop(cl);
	return err;
}

void ep_cluster_stop(struct ep_cluster *cl)
{
	if (!cl)
		return;
	cl->stop = 1;
	if (cl->watch_started)
		pthread_join(cl->watch_thr, NULL);
	if (cl->live_started)
		pthread_join(cl->live_thr, NULL);
	if (cl->lease && cl->api && ep_etcd_lease_revoke(cl->api, cl->lease))
		pr_info("etcd: revoking the controller's lease: %s", ep_etcd_error(cl->api));
	ep_etcd_close(cl->api);
	ep_etcd_close(cl->watch);
	ep_etcd_close(cl->live);
	mirror_clear(cl);
	free(cl->keys);
	pthread_cond_destroy(&cl->applied);
	free(cl);
}

json_t *ep_cluster_status(struct ep_cluster *cl)
{
	json_t *eps = json_array(), *ctls = json_array();

	for (unsigned int i = 0; i < cl->conf->nendpoints; i++)
		json_array_append_new(eps, json_string(cl->conf->endpoints[i]));
	for (size_t i = 0; i < cl->nkeys; i++)
		if (!strncmp(cl->keys[i].key, "controllers/", 12))
			json_array_append_new(ctls, json_string(cl->keys[i].key + 12));
	return json_pack("{s:o, s:s, s:s, s:b, s:I, s:s, s:o}", "endpoints", eps, "prefix",
			 cl->conf->prefix, "controller", cl->name, "synced", cl->synced, "revision",
			 (json_int_t)cl->rev, "error", cl->last_err, "controllers", ctls);
}

/* --- edgectl's changes ------------------------------------------------------------------- */

bool ep_cluster_cmd(const char *cmd)
{
	static const char *const cmds[] = { "node.add", "node.del", "node.drain", "node.undrain",
					    "policy.set" };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i]))
			return true;
	return false;
}

/* The policy after edgectl's settings @set, as etcd's value, and the revision it must
 * replace in @mod. NULL and @err said if a setting is wrong. Lock held. */
static char *policy_value(struct ep_ctl *c, const json_t *set, int64_t *mod, char *err, size_t len)
{
	struct ep_policy p = c->policy;
	json_t *o;
	char *text;

	if (!json_is_array(set) || !json_array_size(set)) {
		snprintf(err, len, "needs at least one key=value");
		return NULL;
	}
	if (policy_apply_kv(&p, set, err, len))
		return NULL;
	if (p.cloud_node && (!ep_reg_get(&c->reg, p.cloud_node) ||
			     c->reg.nodes[p.cloud_node].role != EP_ROLE_CLOUD)) {
		snprintf(err, len, "cloud_node %u is not a node with role cloud", p.cloud_node);
		return NULL;
	}
	o = json_pack("{s:o}", "set", ep_cluster_policy_kv(&p));
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	*mod = c->cluster->policy_rev;
	return text;
}

/* Write one change; 0 and its revision in @rev, -ENOENT/-EEXIST/-ECANCELED, or -errno
 * with the etcd handle's error said. */
static int api_write(struct ep_ctl *c, json_t *req, const char *cmd, int64_t *rev, char *err,
		     size_t len)
{
	struct ep_cluster *cl = c->cluster;
	const char *pfx = cl->conf->prefix;
	char key[512], key2[512], *text = NULL;
	struct ep_reg_node n;
	const char *ifname;
	int64_t mod = 0;
	uint32_t id = 0;
	bool known;
	int rc;

	if (!strcmp(cmd, "policy.set")) {
		pthread_mutex_lock(&c->lock);
		text = policy_value(c, json_object_get(req, "set"), &mod, err, len);
		pthread_mutex_unlock(&c->lock);
		if (!text)
			return -EINVAL;
		snprintf(key, sizeof(key), "%spolicy", pfx);
		rc = ep_etcd_put_if(cl->api, key, text, mod, rev);
		free(text);
		return rc;
	}
	if (!strcmp(cmd, "node.add")) {
		if (ep_cluster_node_parse(req, &n, &ifname, err, len))
			return -EINVAL;
		if (ifname && !if_nametoindex(ifname)) {
			snprintf(err, len, "interface %s: %s", ifname, strerror(errno));
			return -EINVAL;
		}
		json_object_del(req, "cmd");
		text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(key, sizeof(key), "%snodes/%u", pfx, n.id);
		rc = text ? ep_etcd_put_if(cl->api, key, text, 0, rev) : -ENOMEM;
		free(text);
		return rc == -ECANCELED ? -EEXIST : rc;
	}
	id = (uint32_t)json_integer_value(json_object_get(req, "id"));
	if (id < 1 || id >= EP_GW_MAX_NODES) {
		snprintf(err, len, "needs an id in 1..%d", EP_GW_MAX_NODES - 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	known = ep_reg_get(&c->reg, id) || cl->node_rev[id];
	pthread_mutex_unlock(&c->lock);
	if (!known)
		return -ENOENT;
	snprintf(key, sizeof(key), "%sdrains/%u", pfx, id);
	snprintf(key2, sizeof(key2), "%snodes/%u", pfx, id);
	if (!strcmp(cmd, "node.drain")) {
		snprintf(key2, sizeof(key2), "{\"by\":\"%s\"}", cl->name);
		return ep_etcd_put(cl->api, key, key2, 0, rev);
	}
	if (!strcmp(cmd, "node.undrain"))
		return ep_etcd_delete(cl->api, (const char *const[]){ key }, 1, rev);
	return ep_etcd_delete(cl->api, (const char *const[]){ key, key2 }, 2, rev);
}

/* Wait (bounded by timeout_ms) until the watch has applied revision @rev. */
static bool wait_applied(struct ep_cluster *cl, int64_t rev)
{
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += cl->conf->timeout_ms / 1000;
	until.tv_nsec += (long)(cl->conf->timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cl->c->lock);
	while (cl->rev < rev && !pthread_cond_timedwait(&cl->applied, &cl->c->lock, &until))
		;
	done = cl->rev >= rev;
	pthread_mutex_unlock(&cl->c->lock);
	return done;
}

json_t *ep_cluster_api(struct ep_ctl *c, json_t *req, const char *cmd)
{
	struct ep_cluster *cl = c->cluster;
	int64_t rev = 0;
	char err[200];
	int rc;

	rc = api_write(c, req, cmd, &rev, err, sizeof(err));
	if (rc == -EINVAL)
		return ep_ctl_api_fail("%s: %s", cmd, err);
	if (rc == -ENOENT)
		return ep_ctl_api_fail("no node %lld",
				       (long long)json_integer_value(json_object_get(req, "id")));
	if (rc == -EEXIST)
		return ep_ctl_api_fail("node %lld already exists (edgectl node del %lld first)",
				       (long long)json_integer_value(json_object_get(req, "id")),
				       (long long)json_integer_value(json_object_get(req, "id")));
	if (rc == -ECANCELED)
		return ep_ctl_api_fail(
			"%s: the policy changed meanwhile (another controller): nothing "
			"written; look at it again and retry",
			cmd);
	if (rc) {
		pr_warn("%s refused: %s", cmd, ep_etcd_error(cl->api));
		return ep_ctl_api_fail(
			"%s refused: %s; nothing changed, the gateways keep their last "
			"state",
			cmd, ep_etcd_error(cl->api));
	}
	pr_info("%s by edgectl: written to etcd at revision %lld", cmd, (long long)rev);
	if (!wait_applied(cl, rev))
		return json_pack("{s:b, s:I, s:s}", "ok", 1, "etcd_revision", (json_int_t)rev,
				 "note", "written to etcd, not yet applied here (watch behind)");
	return json_pack("{s:b, s:I}", "ok", 1, "etcd_revision", (json_int_t)rev);
}
