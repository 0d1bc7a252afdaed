// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/notify.h"
#include "edgeplane/metrics.h"
#include "edgeplane/unixsock.h"
#include "edgeplane/util.h"
#include "cluster.h"
#include "server.h"
#include "table.h"
#include "xdp/ep_xdp.h"

#define API_MAX_MSG	65536
#define API_MAX_PEERS	64
#define RX_BATCH	32
#define MIN_FLIP_GAP_NS 1000000ull /* XDP readers of the old half are long gone */

/* --- the gateway's own addresses -------------------------------------------------------- */

static int iface_addrs(const char *ifname, const struct ep_ctl_conf *conf, struct ep_gw_cfg *cfg)
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(cfg->gw_mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	if (err)
		return err;

	cfg->gw_ip4 = 0;
	memset(cfg->gw_ip6, 0, sizeof(cfg->gw_ip6));
	if (conf->encap_source && inet_pton(AF_INET, conf->encap_source, &cfg->gw_ip4) != 1)
		return -EINVAL;
	if (conf->encap_source6 && inet_pton(AF_INET6, conf->encap_source6, cfg->gw_ip6) != 1)
		return -EINVAL;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET && !cfg->gw_ip4)
			cfg->gw_ip4 = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (!IN6_IS_ADDR_LINKLOCAL(a) && !memcmp(cfg->gw_ip6, &in6addr_any, 16))
				memcpy(cfg->gw_ip6, a, 16);
		}
	}
	freeifaddrs(ifa);
	return 0;
}

/*
 * The FIB helper XDP uses to relay replies answers only where forwarding is on for the
 * interface (net.ipv4.conf.IF.forwarding, net.ipv6.conf.IF.forwarding), and the kernel
 * forwards what XDP cannot route yet only then. A sysctl is the operator's: written only
 * with relay_set_forwarding; otherwise read, and a warning names the ones to set.
 */
static const char *const fwd_family[2] = { "ipv4", "ipv6" };
#define FWD_PATH "/proc/sys/net/%s/conf/%s/forwarding"
#define FWD_NAME "net.%s.conf.%s.forwarding"

static int set_forwarding(const char *ifname)
{
	char path[128], name[96];
	int err = 0;

	for (int i = 0; i < 2; i++) {
		FILE *f;
		int werr;

		snprintf(path, sizeof(path), FWD_PATH, fwd_family[i], ifname);
		snprintf(name, sizeof(name), FWD_NAME, fwd_family[i], ifname);
		f = fopen(path, "we");
		werr = f ? 0 : errno;
		if (f) {
			/* closed even when the write fails */
			if (fputs("1\n", f) < 0)
				werr = errno;
			if (fclose(f) && !werr)
				werr = errno;
		}
		if (werr) {
			err = -werr;
			pr_warn("%s=1 (relay_set_forwarding): %s", name, strerror(werr));
			continue;
		}
		pr_info("%s=1 (relay_set_forwarding)", name);
	}
	return err;
}

static void check_forwarding(const char *ifname)
{
	char path[128], off[2][96];
	int noff = 0;

	for (int i = 0; i < 2; i++) {
		FILE *f;
		int v = -1;

		snprintf(path, sizeof(path), FWD_PATH, fwd_family[i], ifname);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = -1;
			fclose(f);
		}
		if (v != 1)
			snprintf(off[noff++], sizeof(off[0]), FWD_NAME, fwd_family[i], ifname);
	}
	if (noff == 2)
		pr_warn("forwarding is off on %s: the gateway cannot relay workers' replies that "
			"come back to it; set it with 'sysctl -w %s=1 %s=1' (or "
			"relay_set_forwarding = true), or turn the relay off (relay_replies = "
			"false)",
			ifname, off[0], off[1]);
	else if (noff == 1)
		pr_warn("%s is off: the gateway cannot relay those workers' replies; set it with "
			"'sysctl -w %s=1' (or relay_set_forwarding = true)",
			off[0], off[0]);
}

/* --- publishing -------------------------------------------------------------------------- */

int ep_ctl_publish(struct ep_ctl *c, uint64_t now)
{
	struct ep_gw_node *nodes = c->scratch_nodes;
	struct ep_table_member *members = c->scratch_members;
	unsigned int nm;
	uint32_t top = 0;
	int err;

	if (!nodes) { /* once: room for every id (hundreds of KiB: not the stack) */
		nodes = calloc(EP_GW_MAX_NODES, sizeof(*nodes));
		members = calloc(EP_GW_MAX_NODES, sizeof(*members));
		if (!nodes || !members) {
			free(nodes);
			free(members);
			return -ENOMEM;
		}
		c->scratch_nodes = nodes;
		c->scratch_members = members;
	}

	/* The half we are about to write was XDP's until the last flip. */
	if (c->last_publish_ns && now - c->last_publish_ns < MIN_FLIP_GAP_NS) {
		struct timespec ts = { 0, (long)(MIN_FLIP_GAP_NS - (now - c->last_publish_ns)) };

		nanosleep(&ts, NULL);
		now = ep_now_ns();
	}
	nm = ep_reg_build(&c->reg, nodes, members);
	if (c->table_built != c->reg.table_version) {
		err = ep_table_build(members, nm, c->table, &c->table_bits);
		if (err)
			return err;
		c->table_built = c->reg.table_version;
	}
	for (uint32_t id = 1; id < c->reg.top; id++)
		if (nodes[id].flags & EP_NODE_F_PRESENT)
			top = id;
	c->cfg.nnodes = (uint16_t)(top + 1);
	ep_policy_to_cfg(&c->policy, &c->cfg);
	err = ep_gw_publish(c->gw, &c->cfg, nodes, c->table, c->table_bits, c->table_built);
	if (err) {
		c->publish_errors++;
		return err;
	}
	/* The loads just published count every task sent before the node's report. */
	for (uint32_t id = 1; id < c->reg.top; id++) {
		struct ep_reg_node *n = &c->reg.nodes[id];

		if (n->id && n->reported_since_publish) {
			ep_gw_reset_sent(c->gw, id);
			n->reported_since_publish = false;
		}
	}
	c->reg.dirty = false;
	c->reg.urgent = false;
	c->last_publish_ns = now;
	c->publishes++;
	return 0;
}

/* --- load reports ------------------------------------------------------------------------ */

static void log_report(const struct ep_reg_node *n, uint32_t id, enum ep_reg_report res,
		       const char *from)
{
	switch (res) {
	case EP_REG_REGISTERED:
		pr_info("node %u registered from %s", id, from);
		return;
	case EP_REG_REVIVED:
		pr_info("node %u (%s) reports again: back in service", id, n->name);
		return;
	case EP_REG_RESTARTED:
		pr_info("node %u (%s) restarted (its reports begin again at seq 1)", id, n->name);
		return;
	case EP_REG_UNKNOWN:
		pr_debug("report for unknown node %u from %s: registration is off", id, from);
		return;
	default:
		break;
	}
	if (!ep_reg_refused(res))
		return;
	/* For a known node, rate-limited: the 1st, 2nd, 4th, 8th... refusal. */
	if (n && (n->rejected & (n->rejected - 1)))
		return;
	pr_warn("report for node %u from %s refused: %s", id, from, ep_reg_report_name(res));
}

/* Where a report came from: its source address and the interface it came in on. */
struct report_src {
	struct ep_reg_sender s;
	struct ep_ctl *c;
	int family;
	uint8_t addr[16];
	uint32_t ifindex;
};

/* ep_reg_sender.neigh: the neighbour entry of the source on the receiving interface. */
static int report_neigh(const struct ep_reg_sender *from, bool resolve, uint8_t mac[6])
{
	const struct report_src *src = from->ctx;
	int err;

	if (!src->ifindex || !src->c->neigh)
		return -ENOENT;
	err = ep_neigh_lookup(src->c->neigh, src->family, src->addr, src->ifindex, mac);
	if (err == -ENOENT && resolve) {
		/* A known node's address only: strangers' sources fill no table. */
		int e = ep_neigh_resolve(src->c->neigh, src->family, src->addr, src->ifindex);

		if (e)
			pr_debug("resolve the neighbour of a report's source: %s", strerror(-e));
	} else if (err && err != -ENOENT) {
		pr_debug("neighbour lookup for a report's source: %s", strerror(-err));
	}
	return err;
}

/* Rate-limited: the 1st, 2nd, 4th, 8th... refusal of each reason. */
static void log_auth(struct ep_ctl *c, enum ep_rauth res, uint16_t key_id, const char *from)
{
	uint64_t n = c->rx_auth[res];

	if (n & (n - 1))
		return;
	pr_warn("report from %s refused: %s (key %u; %llu so far)", from, ep_rauth_name(res),
		key_id, (unsigned long long)n);
}

static void handle_report(struct ep_ctl *c, uint8_t *buf, size_t len,
			  const struct sockaddr_storage *from, uint32_t ifindex, uint64_t now)
{
	struct report_src src = { .s = { .neigh = report_neigh }, .c = c, .ifindex = ifindex };
	struct ep_load_report rep;
	enum ep_reg_report res;
	enum ep_rauth ares;
	uint16_t key_id;
	uint32_t id;
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ep_reg_decode_report(buf, len, &rep)) {
		c->rx_bad++;
		return;
	}
	if (from->ss_family == AF_INET) {
		src.s.ip4 = ((const struct sockaddr_in *)from)->sin_addr.s_addr;
	} else {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)from)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(&src.s.ip4, &a->s6_addr[12], 4);
		} else {
			memcpy(src.addr, a->s6_addr, 16);
			src.s.ip6 = src.addr;
		}
	}
	if (src.s.ip6) {
		src.family = AF_INET6;
	} else {
		src.family = AF_INET;
		memcpy(src.addr, &src.s.ip4, 4);
	}
	inet_ntop(src.family, src.addr, addr, sizeof(addr));
	/* [auth] With enrollment on, only a node's own key, sealing a report for its own
	 * node id, gets a report to the registry (report_auth.h): the key binds the node id
	 * as its address and MAC do below. An AUTH report is decrypted in place. */
	ares = ep_report_auth(c->keys, buf, len, ep_unix_ms(), &key_id);
	c->rx_auth[ares]++;
	if (ep_rauth_refused(ares)) {
		log_auth(c, ares, key_id, addr);
		return;
	}
	if (ares == EP_RAUTH_OK && ep_reg_decode_report(buf, len, &rep)) {
		c->rx_bad++;
		return;
	}
	id = ntohl(rep.node_id);
	src.s.ctx = &src;
	res = ep_reg_report(&c->reg, &rep, &src.s, now);
	c->rx[res]++;
	log_report(ep_reg_get(&c->reg, id), id, res, addr);
}

/* The receiving interface, from IP_PKTINFO / IPV6_PKTINFO; 0 if none came. */
static uint32_t pktinfo_ifindex(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return (uint32_t)pi.ipi_ifindex;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return pi.ipi6_ifindex;
		}
	}
	return 0;
}

static void read_reports(struct ep_ctl *c)
{
	uint8_t bufs[RX_BATCH][256];
	struct sockaddr_storage from[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	int n;

	for (int round = 0; round < 16; round++) { /* bounded: timers must run too */
		for (int i = 0; i < RX_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
								 .msg_namelen = sizeof(from[i]),
								 .msg_iov = &iov[i],
								 .msg_iovlen = 1,
								 .msg_control = &ctl[i],
								 .msg_controllen =
									 sizeof(ctl[i].buf) } };
		}
		n = recvmmsg(c->report_fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				c->rx_bad++;
			else
				handle_report(c, bufs[i], msgs[i].msg_len, &from[i],
					      pktinfo_ifindex(&msgs[i].msg_hdr), ep_now_ns());
		}
		/* A burst (or its end) on a node is published at once, not at the next tick,
		 * when the last flip is at least MIN_FLIP_GAP_NS old (no sleeping here): at
		 * most one publication per ms, whatever the nodes send. */
		if (c->reg.urgent && c->reg.dirty &&
		    ep_now_ns() - c->last_publish_ns >= MIN_FLIP_GAP_NS) {
			int err = ep_ctl_publish(c, ep_now_ns());

			if (err)
				pr_warn("publish to the gateway maps: %s", strerror(-err));
			else
				c->urgent_publishes++;
		}
		pthread_mutex_unlock(&c->lock);
		if (n < RX_BATCH)
			return;
	}
}

/*
 * The gateway checks session keys as the nodes do (bpf/lib/auth.h), from its own ep_keys:
 * the controller writes there every device key issued or revoked, a bounded number per
 * timer tick, in the order they changed. Expired keys are not deleted: XDP refuses them
 * by their expiry, and an id comes back only as a new key, written over the old.
 */
#define KEYS_PER_TICK 1024

struct mirror {
	struct ep_gw *gw;
	uint64_t now_ms, now_ns;
	int err;
};

static void mirror_key(void *arg, const struct ep_ks_key *e)
{
	struct mirror *m = arg;
	const struct ep_key_info *k = &e->k;
	struct ep_key_entry ent;
	int err;

	ep_key_entry_fill(&ent, m->now_ms, m->now_ns, k->issued_unix_ms, k->expires_unix_ms,
			  k->tenant, k->revoked, k->lim.types, k->lim.all_types,
			  k->lim.max_priority, k->lim.max_task_len, k->lim.tasks_per_s,
			  k->lim.burst_tasks, k->lim.kib_per_s, k->lim.burst_kib);
	err = ep_gw_put_key(m->gw, k->key_id, &ent);
	if (err)
		m->err = err;
}

static void mirror_keys(struct ep_ctl *c)
{
	struct mirror m = { .gw = c->gw, .now_ms = ep_unix_ms(), .now_ns = ep_now_ns() };

	if (!c->keys)
		return;
	c->keys_mirrored = ep_ks_changed(c->keys, c->keys_mirrored, KEYS_PER_TICK, mirror_key, &m);
	if (m.err && !(c->key_mirror_errors++ & 1023))
		pr_warn("the gateway's session keys: %s", strerror(-m.err));
}

static void on_timer(struct ep_ctl *c)
{
	struct ep_nodeset died = { 0 };
	uint64_t ticks, now = ep_now_ns();
	int err;

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		pr_debug("timer: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	if (ep_reg_tick(&c->reg, now)) {
		for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
			struct ep_reg_node *n = &c->reg.nodes[id];

			if (n->id && n->dead && n->since_ns == now) {
				pr_warn("node %u (%s): no report for %llu ms: drained", id, n->name,
					(unsigned long long)(c->reg.opts.dead_after_ns / 1000000));
				ep_nodeset_add(&died, id);
			}
		}
	}
	ep_cluster_tick(c); /* etcd's drains for nodes new since */
	if (c->reg.dirty) {
		err = ep_ctl_publish(c, now);
		if (err)
			pr_warn("publish to the gateway maps: %s", strerror(-err));
	}
	mirror_keys(c);
	pthread_mutex_unlock(&c->lock);
	/* A dead node finishes none of its tasks: their later fragments and retries would
	 * follow it there by affinity for ever. Now that XDP sees it drained (after the
	 * publish: else the policy could place them there again), forget them. */
	for (uint32_t id = 1; id < EP_GW_MAX_NODES && !ep_nodeset_empty(&died); id++) {
		if (!ep_nodeset_has(&died, id))
			continue;
		err = ep_gw_forget_node(c->gw, id);
		if (err < 0)
			pr_warn("node %u: forgetting its tasks' affinity: %s", id, strerror(-err));
		else if (err)
			pr_info("node %u: %d tasks placed there will be placed afresh", id, err);
	}
}

/* --- the edgectl API --------------------------------------------------------------------- */

/* Root, the controller's own user, or a member of socket_group (primary or
 * supplementary) may change state. */
static bool peer_admin(struct ep_ctl *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *pwp = NULL;
	gid_t groups[256];
	int ngroups = 256;
	char buf[4096];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (c->admin_gid == (gid_t)-1)
		return false;
	if (cred.gid == c->admin_gid)
		return true;
	if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &pwp) || !pwp ||
	    getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0)
		return false;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == c->admin_gid)
			return true;
	return false;
}

/*
 * Send reply @out as one message. A reply is one SOCK_SEQPACKET message, which must fit
 * the socket's send buffer (net.core.wmem_default, some 208 KiB): a node list of a
 * thousand nodes does not, so the buffer grows to the reply (SO_SNDBUFFORCE: the
 * controller has CAP_NET_ADMIN; SO_SNDBUF up to wmem_max otherwise). A reply that still
 * cannot go is replaced by an error the client can show.
 */
static void send_reply(int fd, const char *out)
{
	size_t len = strlen(out);
	int sz = len > INT_MAX / 2 - 65536 ? INT_MAX / 2 : (int)len + 65536;
	char err[160];

	if (send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
		return;
	if (errno == EMSGSIZE &&
	    (!setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) ||
	     !setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz))) &&
	    send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
		return;
	pr_debug("API reply of %zu bytes: %s", len, strerror(errno));
	snprintf(err, sizeof(err),
		 "{\"ok\":false,\"error\":\"the reply (%zu bytes) could not be sent: %s\"}", len,
		 strerror(errno));
	send(fd, err, strlen(err), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Answer one request. Returns 1 if the peer is gone (and its fd closed), else 0. */
static int serve_peer(struct ep_ctl *c, int fd)
{
	char *buf = malloc(API_MAX_MSG + 1), *out;
	json_error_t jerr;
	json_t *req, *resp;
	ssize_t n;

	if (!buf)
		return 0;
	n = recv(fd, buf, API_MAX_MSG, MSG_DONTWAIT);
	if (n <= 0) {
		free(buf);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
		return 1;
	}
	buf[n] = '\0';
	c->api_requests++;
	req = json_loadb(buf, (size_t)n, 0, &jerr);
	if (!req || !json_is_object(req))
		resp = json_pack("{s:b, s:s}", "ok", 0, "error", "request is not a JSON object");
	else
		resp = ep_ctl_api(c, req, peer_admin(c, fd));
	json_decref(req);
	out = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	if (out)
		send_reply(fd, out);
	free(out);
	json_decref(resp);
	free(buf);
	return 0;
}

/* In a private directory (edgeplane/unixsock.h): 0700 and a socket of mode 0600, or, with
 * socket_group, 2750 and 0660 of that group. Only the owner (and the group) may connect
 * at all; SO_PEERCRED decides who may change state. */
static int open_api_socket(struct ep_ctl *c)
{
	int err;

	c->admin_gid = EP_NO_GROUP;
	if (c->conf->socket_group) {
		err = ep_group_gid("socket_group", c->conf->socket_group, &c->admin_gid);
		if (err)
			return -EINVAL;
	}
	/* A socket left by a dead controller is replaced; a live one is not ours. */
	return ep_unix_listen("API socket", c->conf->socket,
			      SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, c->admin_gid, true);
}

static int open_report_socket(struct ep_ctl *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rcvbuf = 1 << 20;

	if (ep_parse_sockaddr("listen", c->conf->listen, EP_ADDR_PASSIVE, &ss, &len))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* The receiving interface, for the neighbour entry of each report's source. */
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)))) {
		int err = -errno;

		pr_err("load reports: pktinfo: %s", strerror(errno));
		close(fd);
		return err;
	}
	if (ss.ss_family == AF_INET6) {
		int zero = 0;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		pr_err("load reports on %s: %s", c->conf->listen, strerror(errno));
		close(fd);
		return err;
	}
	if (ep_sockaddr_is_any(&ss))
		pr_warn("load reports on every address (listen = \"%s\"): set control.listen to "
			"the management address the workers report to",
			c->conf->listen);
	else if (ep_sockaddr_is_loopback(&ss))
		pr_info("load reports on %s only: workers on other hosts need control.listen "
			"(--listen) set to the management address they report to",
			c->conf->listen);
	return fd;
}

/* --- enrollment ------------------------------------------------------------------------- */

/* ep_enroll_hooks.node_ids: the ids the registry holds, and the one it knows @name by. */
static void enroll_node_ids(void *arg, const char *name, uint32_t *hint, struct ep_nodeset *used)
{
	struct ep_ctl *c = arg;

	pthread_mutex_lock(&c->lock);
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_reg_node *n = &c->reg.nodes[id];

		if (!n->id)
			continue;
		ep_nodeset_add(used, id);
		if (!strcmp(n->name, name))
			*hint = id;
	}
	pthread_mutex_unlock(&c->lock);
}

/* With enrollment configured: the keystore and the enrollment server (on a restart, the
 * gateway's session keys from before cleared). 0 or -errno. */
static int start_enroll(struct ep_ctl *c)
{
	struct ep_enroll_hooks hooks = { .node_ids = enroll_node_ids, .arg = c };
	int err;

	if (!c->conf->enroll.listen)
		return 0;
	c->keys = malloc(sizeof(*c->keys));
	if (!c->keys)
		return -ENOMEM;
	err = ep_ks_init(c->keys);
	if (err) {
		free(c->keys);
		c->keys = NULL;
		return err;
	}
	/* A controller starting: keys an earlier one wrote to the gateway are no longer
	 * anyone's. */
	if (ep_gw_reused(c->gw) && (err = ep_gw_clear_keys(c->gw)) < 0)
		pr_warn("the gateway's session keys from before: %s", strerror(-err));
	return ep_enroll_start(&c->conf->enroll, c->keys, &hooks, &c->enroll);
}

static void stop_enroll(struct ep_ctl *c)
{
	ep_enroll_stop(c->enroll);
	c->enroll = NULL;
	if (c->keys) {
		ep_ks_fini(c->keys);
		free(c->keys);
		c->keys = NULL;
	}
}

/* --- life cycle -------------------------------------------------------------------------- */

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int add_config_nodes(struct ep_ctl *c, uint64_t now)
{
	for (unsigned int i = 0; i < c->conf->nnodes; i++) {
		struct ep_reg_node n = c->conf->nodes[i];
		const char *ifname = c->conf->node_ifnames[i];
		int err;

		if (ifname) {
			n.ifindex = if_nametoindex(ifname);
			if (!n.ifindex) {
				pr_err("node %u: interface %s: %s", n.id, ifname, strerror(errno));
				return -ENODEV;
			}
			err = ep_gw_add_dev(c->gw, n.ifindex);
			if (err) {
				pr_err("node %u: redirect to %s: %s", n.id, ifname, strerror(-err));
				return err;
			}
		}
		err = ep_reg_add(&c->reg, &n, now);
		if (err) {
			pr_err("node %u: %s", n.id, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Attach the gateway's XDP program to the configured interface, or reuse the one pinned
 * there. 0 or -errno. */
static int gw_open(struct ep_ctl *c)
{
	const struct ep_ctl_conf *conf = c->conf;
	struct ep_gw_opts go = { .ifname = conf->interface,
				 .pin_dir = conf->pin_dir,
				 .debug = conf->debug,
				 .rate_limit = &conf->rate_limit,
				 .max_priority = conf->max_priority,
				 .auth_mode = conf->auth_mode };
	enum ep_xdp_mode mode;

	ep_xdp_parse_mode(conf->xdp_mode, &mode);
	go.xdp_mode = mode;
	return ep_gw_attach(&go, &c->gw);
}

/* The gateway's configuration (c->cfg): its addresses, ports and flags; with relayed
 * replies, IP forwarding set or checked. 0 or -errno, said. */
static int gw_configure(struct ep_ctl *c)
{
	const struct ep_ctl_conf *conf = c->conf;
	int err;

	err = ep_gw_read_cfg(c->gw, &c->cfg);
	if (!err)
		err = iface_addrs(conf->interface, conf, &c->cfg);
	if (err) {
		pr_err("gateway %s: addresses: %s", conf->interface, strerror(-err));
		return err;
	}
	c->cfg.port = conf->port;
	c->cfg.encap_port = EP_ENCAP_PORT;
	c->cfg.flags = 0;
	if (conf->relay_replies) {
		c->cfg.flags |= EP_GW_F_RELAY;
		if (conf->relay_set_forwarding)
			set_forwarding(conf->interface);
		check_forwarding(conf->interface);
	}
	return 0;
}

/* The registry's first nodes: the configured ones, and on a restart those that
 * registered with the last controller (pinned in the gateway's maps). 0 or -errno, said. */
static int nodes_load(struct ep_ctl *c)
{
	struct ep_gw_node *pinned;
	int err;

	err = add_config_nodes(c, c->start_ns);
	if (err || !ep_gw_reused(c->gw))
		return err;
	pinned = calloc(EP_GW_MAX_NODES, sizeof(*pinned));
	if (!pinned)
		return -ENOMEM;
	err = ep_gw_read_active(c->gw, pinned, NULL, NULL);
	if (err)
		pr_err("read the pinned nodes: %s", strerror(-err));
	else
		ep_reg_restore(&c->reg, pinned, c->start_ns);
	free(pinned);
	return err;
}

/* The neighbour lookups, the report and API sockets. 0 or -errno; what is open is
 * ep_ctl_fini()'s to close either way. */
static int sockets_open(struct ep_ctl *c)
{
	int err;

	err = ep_neigh_open(&c->neigh);
	if (err) {
		pr_err("rtnetlink (neighbour lookups for load reports): %s", strerror(-err));
		return err;
	}
	err = open_report_socket(c);
	if (err < 0)
		return err;
	c->report_fd = err;
	err = open_api_socket(c);
	if (err < 0)
		return err;
	c->api_fd = err;
	return 0;
}

/* The publish timer (every publish_ms), SIGINT and SIGTERM as a signalfd (blocked
 * otherwise), and the epoll set of those and the two sockets. 0 or -errno. */
static int events_open(struct ep_ctl *c)
{
	struct itimerspec its = { 0 };
	sigset_t sigs;
	int err;

	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	its.it_interval.tv_sec = c->conf->publish_ms / 1000;
	its.it_interval.tv_nsec = (long)(c->conf->publish_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL))
		return -errno;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	c->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->sig_fd < 0 || c->epfd < 0)
		return -errno;
	if ((err = epoll_add(c->epfd, c->report_fd)) || (err = epoll_add(c->epfd, c->api_fd)) ||
	    (err = epoll_add(c->epfd, c->timer_fd)) || (err = epoll_add(c->epfd, c->sig_fd)))
		return err;
	return 0;
}

/* The metrics endpoint, if configured. 0 or -errno. */
static int metrics_open(struct ep_ctl *c)
{
	if (!c->conf->metrics)
		return 0;
	return ep_metrics_start(c->conf->metrics, ep_ctl_write_metrics, c, &c->metrics);
}

/* The first publish of the registry to the gateway's maps. 0 or -errno, said. */
static int first_publish(struct ep_ctl *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = ep_ctl_publish(c, ep_now_ns());
	pthread_mutex_unlock(&c->lock);
	if (err)
		pr_err("first publish to the gateway maps: %s", strerror(-err));
	return err;
}

/* With group etcd: the shared cluster state, read and applied over the configured and
 * pinned state, then watched. 0 or -errno, said. */
static int cluster_open(struct ep_ctl *c)
{
	if (!c->conf->etcd.nendpoints)
		return 0;
	return ep_cluster_start(c, &c->cluster);
}

/* What ep_ctl_init() does once the gateway is attached, in order; the first to fail
 * stops it. */
static int (*const init_steps[])(struct ep_ctl *c) = {
	gw_configure,  /* the gateway's addresses, ports and flags */
	nodes_load,    /* configured and pinned nodes */
	sockets_open,  /* neighbour lookups, reports, API */
	events_open,   /* timer, signals, epoll */
	start_enroll,  /* keystore and enrollment server, if configured */
	metrics_open,  /* the metrics endpoint, if configured */
	cluster_open,  /* the shared state in etcd, if configured: before the first
			* publish, so that a restart never publishes the configured policy
			* over etcd's, even for a moment */
	first_publish, /* the registry into the gateway's maps */
};

int ep_ctl_init(struct ep_ctl *c, struct ep_ctl_conf *conf)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->conf = conf;
	c->report_fd = c->api_fd = c->timer_fd = c->sig_fd = c->epfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->start_ns = ep_now_ns();
	c->policy = conf->policy;
	ep_reg_init(&c->reg, &conf->reg);
	c->table = calloc(EP_GW_TABLE_SIZE, sizeof(*c->table));
	if (!c->table)
		return -ENOMEM;

	err = gw_open(c);
	if (err) {
		free(c->table);
		c->table = NULL;
		return err;
	}
	for (size_t i = 0; i < sizeof(init_steps) / sizeof(init_steps[0]); i++) {
		err = init_steps[i](c);
		if (err)
			goto err;
	}
	pr_info("controller ready: gateway %s port %u, %s policy, auth %s, reports on %s, "
		"API %s%s%s",
		conf->interface, conf->port, ep_policy_name(c->policy.policy),
		ep_xdp_auth_mode_name(conf->auth_mode), conf->listen, conf->socket,
		conf->metrics ? ", metrics on " : "", conf->metrics ? conf->metrics : "");
	return 0;

err:
	if (c->gw && !ep_gw_reused(c->gw)) { /* we attached it: leave nothing behind */
		ep_gw_close(c->gw, true);
		c->gw = NULL;
	}
	ep_ctl_fini(c);
	return err;
}

int ep_ctl_run(struct ep_ctl *c)
{
	struct epoll_event evs[16];
	int npeers = 0;

	ep_notify_systemd("READY=1"); /* ep_ctl_init() has attached and published */
	while (!c->stop) {
		int n = epoll_wait(c->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == c->report_fd) {
				read_reports(c);
			} else if (fd == c->timer_fd) {
				on_timer(c);
			} else if (fd == c->sig_fd) {
				struct signalfd_siginfo si;

				if (read(c->sig_fd, &si, sizeof(si)) == sizeof(si))
					pr_info("signal %u: stopping", si.ssi_signo);
				c->stop = 1;
			} else if (fd == c->api_fd) {
				int pfd = accept4(c->api_fd, NULL, NULL,
						  SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (pfd < 0)
					continue;
				if (npeers >= API_MAX_PEERS || epoll_add(c->epfd, pfd)) {
					close(pfd);
					continue;
				}
				npeers++;
			} else {
				if (evs[i].events & (EPOLLHUP | EPOLLERR) &&
				    !(evs[i].events & EPOLLIN)) {
					epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
					npeers--;
					continue;
				}
				npeers -= serve_peer(c, fd);
			}
		}
	}
	ep_notify_systemd("STOPPING=1");
	return 0;
}

void ep_ctl_fini(struct ep_ctl *c)
{
	ep_cluster_stop(c->cluster); /* first: its threads take the lock and publish */
	c->cluster = NULL;
	ep_metrics_stop(c->metrics);
	c->metrics = NULL;
	stop_enroll(c);
	if (c->api_fd >= 0) {
		close(c->api_fd);
		unlink(c->conf->socket);
	}
	c->api_fd = -1;
	ep_close_fd(&c->report_fd);
	ep_neigh_close(c->neigh);
	c->neigh = NULL;
	ep_close_fd(&c->timer_fd);
	ep_close_fd(&c->sig_fd);
	ep_close_fd(&c->epfd);
	if (c->gw) {
		if (c->conf->keep_attached)
			pr_info("the gateway stays attached to %s with the last state; "
				"'edgectl detach --iface %s' removes it",
				c->conf->interface, c->conf->interface);
		ep_gw_close(c->gw, !c->conf->keep_attached);
		c->gw = NULL;
	}
	ep_ctl_free_tables(c);
	pthread_mutex_destroy(&c->lock);
}

void ep_ctl_free_tables(struct ep_ctl *c)
{
	free(c->scratch_nodes);
	free(c->scratch_members);
	free(c->table);
	c->scratch_nodes = NULL;
	c->scratch_members = NULL;
	c->table = NULL;
}
