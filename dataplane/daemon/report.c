// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "daemon/report.h"
#include "daemon/sleeper.h"
#include "daemon/sysload.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

/* A controller the reports go to, and the node's address and MAC facing it (the controller
 * accepts a report only from the address it claims). */
struct report_dest {
	const char *name; /* "ADDR:PORT", the configuration's */
	int fd;		  /* connected to it */
	__be32 ip4;
	uint8_t ip6[16];
	uint8_t mac[6];
	bool failing; /* its last send failed (said once until one succeeds) */
};

struct ep_reporter {
	struct ep_report_cfg cfg;
	struct ep_worker *const *workers;
	unsigned int n;
	struct report_dest dst[EP_REPORT_MAX_DEST];
	unsigned int ndst;
	struct ep_sleeper sleeper;

	struct ep_load_report tmpl; /* what every report says alike, filled once */
	uint32_t seq;
	uint64_t errors;

	/* The node's own key, while it has one: the context is made again when it changes. */
	struct ep_key_info self;
	struct ep_aead *aead;
	uint64_t unsealed;  /* reports not sent for want of the node's key */
	uint32_t said_node; /* the node id a "reporting as" message was for */

	/* Previous samples, for rates. */
	uint64_t cpu_busy, cpu_total; /* system: jiffies; process: ns of CPU, wall */
	struct ep_hist *prev_lat;
	uint64_t last_ns; /* when the last periodic report was measured */

	/* Event reports: the significant queue the last report of either kind said
	 * (ep_queue_significant()), and when it went. */
	uint32_t sent_queue;
	uint64_t sent_ns;
	uint64_t events;	    /* event reports sent (atomic: read by the stats) */
	uint64_t sent;		    /* reports sent (atomic) */
	struct ep_load_report last; /* the last periodic report's measurements */
};

int ep_cpu_source_parse(const char *s, enum ep_cpu_source *out)
{
	if (!strcmp(s, "system"))
		*out = EP_CPU_SYSTEM;
	else if (!strcmp(s, "process"))
		*out = EP_CPU_PROCESS;
	else
		return -EINVAL;
	return 0;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- measurements ------------------------------------------------------------------------ */

static uint64_t mem_available_kib(void)
{
	uint64_t total, avail;

	return ep_sys_meminfo(&total, &avail) ? 0 : avail;
}

/* A cgroup CPU quota in CPUs (v2 cpu.max, or v1 cfs_quota_us/cfs_period_us), or 0. */
static double cgroup_cpus(void)
{
	char line[512], path[768];
	double cpus = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return 0;
	while (!cpus && fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *cg;
		long long quota = -1, period = 0;
		char max[32];
		FILE *q;

		if (!ctrl || !(cg = strchr(ctrl + 1, ':')))
			continue;
		*cg++ = '\0';
		cg[strcspn(cg, "\n")] = '\0';
		ctrl++;
		if (!*ctrl) { /* v2 */
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max", cg);
			if ((q = fopen(path, "re"))) {
				if (fscanf(q, "%31s %lld", max, &period) == 2 && strcmp(max, "max"))
					quota = atoll(max);
				fclose(q);
			}
		} else if (strstr(ctrl, "cpu") && !strstr(ctrl, "cpuset")) { /* v1 */
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/cpu.cfs_quota_us", ctrl,
				 cg);
			if ((q = fopen(path, "re"))) {
				if (fscanf(q, "%lld", &quota) != 1)
					quota = -1;
				fclose(q);
			}
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/cpu.cfs_period_us", ctrl,
				 cg);
			if ((q = fopen(path, "re"))) {
				if (fscanf(q, "%lld", &period) != 1)
					period = 0;
				fclose(q);
			}
		}
		if (quota > 0 && period > 0)
			cpus = (double)quota / (double)period;
	}
	fclose(f);
	return cpus;
}

static double allowed_cpus(void)
{
	cpu_set_t set;
	double n = 1, q = cgroup_cpus();

	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	return q > 0 && q < n ? q : n;
}

/* CPU busy over the last interval, in hundredths of a percent. */
static uint32_t cpu_x100(struct ep_reporter *r)
{
	uint64_t busy = 0, total = 0;
	double frac;

	if (r->cfg.cpu == EP_CPU_PROCESS) {
		busy = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		total = ep_now_ns();
	} else {
		struct ep_cpu_times t;

		if (ep_sys_cpu_times(&t))
			return 0;
		busy = t.busy;
		total = t.total;
	}
	if (!r->cpu_total || total <= r->cpu_total) {
		r->cpu_busy = busy;
		r->cpu_total = total;
		return 0;
	}
	frac = (double)(busy - r->cpu_busy) / (double)(total - r->cpu_total);
	if (r->cfg.cpu == EP_CPU_PROCESS)
		frac /= allowed_cpus(); /* again each time: quotas and affinity change */
	r->cpu_busy = busy;
	r->cpu_total = total;
	if (frac < 0)
		frac = 0;
	return frac >= 1 ? 10000 : (uint32_t)(frac * 10000 + 0.5);
}

/* p99 of the tasks answered since the last call, in microseconds (0: none), and how
 * many they were in *answered. The period's histogram is worked out in r->prev_lat, which
 * then takes @now_lat for the next call. */
static uint32_t p99_us(struct ep_reporter *r, const struct ep_hist *now_lat, uint64_t *answered)
{
	struct ep_hist *d = r->prev_lat;
	uint64_t p;

	d->count = now_lat->count - d->count;
	*answered = d->count;
	d->sum = now_lat->sum - d->sum;
	d->max = now_lat->max; /* caps the top bucket's edge; >= anything in the period */
	for (unsigned int i = 0; i < EP_HIST_BUCKETS; i++)
		d->bucket[i] = now_lat->bucket[i] - d->bucket[i];
	p = d->count ? ep_hist_percentile(d, 99) : 0;
	*r->prev_lat = *now_lat;
	p /= 1000;
	return p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
}

/* --- the thread -------------------------------------------------------------------------- */

/* The context of the node's own key, or NULL: no key (yet), or no context. */
static struct ep_aead *self_key(struct ep_reporter *r)
{
	struct ep_key_info k;

	if (!r->cfg.keysrc || ep_keysrc_self(r->cfg.keysrc, &k)) {
		ep_aead_free(r->aead);
		r->aead = NULL;
		return NULL;
	}
	if (!r->aead || k.key_id != r->self.key_id ||
	    CRYPTO_memcmp(k.key, r->self.key, EP_AUTH_KEY_LEN)) {
		ep_aead_free(r->aead);
		r->aead = ep_aead_new(k.key);
		r->self = k;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return r->aead;
}

/* The workers' queues: tasks waiting (in the batch queue, and datagrams the worker has not
 * read yet) into *queued, and everything not yet answered into the return value. With
 * @lat, their latency histograms merged into it. */
static uint32_t queues(struct ep_reporter *r, struct ep_worker_load *wl, struct ep_hist *lat,
		       uint32_t *queued)
{
	uint32_t q = 0, inflight = 0;

	if (lat)
		memset(lat, 0, sizeof(*lat));
	for (unsigned int i = 0; i < r->n; i++) {
		ep_worker_load(r->workers[i], wl);
		q += wl->queued + wl->received;
		inflight += wl->queued + wl->received + wl->running + wl->reassembling;
		if (lat)
			ep_hist_merge(lat, &wl->latency_ns);
	}
	*queued = q;
	return inflight;
}

/* Send @rep to controller @d, with the node's address and MAC facing it, sealed with @a
 * as @node if there is a key. Counts and says (once) a failure. */
static void send_to(struct ep_reporter *r, struct report_dest *d, struct ep_msg *m,
		    struct ep_load_report rep, struct ep_aead *a, uint32_t node)
{
	uint8_t dgram[EP_HDR_LEN + EP_AUTH_NONCE_LEN + sizeof(rep)];
	ssize_t len;

	rep.ip4 = d->ip4;
	memcpy(rep.ip6, d->ip6, sizeof(rep.ip6));
	memcpy(rep.mac, d->mac, sizeof(rep.mac));
	len = ep_frag_build(m, &rep, sizeof(rep), sizeof(rep), 0, dgram, sizeof(dgram));
	if (len >= 0 && (m->flags & EP_F_AUTH) &&
	    ep_aead_seal(a, node, ep_keytab_next_pn(r->cfg.keys), dgram, (size_t)len))
		len = -EIO;
	if (len < 0 || send(d->fd, dgram, (size_t)len, MSG_DONTWAIT) < 0) {
		/* The controller may be restarting: keep going, count it, say it once. */
		__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		if (!d->failing)
			pr_warn("load report to %s: %s (continuing; counted from now on)", d->name,
				len < 0 ? "cannot encode" : strerror(errno));
		d->failing = true;
		return;
	}
	d->failing = false;
	__atomic_fetch_add(&r->sent, 1, __ATOMIC_RELAXED);
}

/* Seal (with the node's key, if it has one) and send @rep to every controller. */
static void send_report(struct ep_reporter *r, struct ep_load_report *rep)
{
	struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT, .priority = EP_PRIO_MAX };
	struct ep_aead *a = self_key(r);
	uint32_t node = r->cfg.keys ? ep_keytab_node_id(r->cfg.keys) : 0;

	rep->seq = htonl(++r->seq);
	m.task_id = r->seq;
	if (a && node) { /* sealed with the node's own key, as the node */
		m.flags = EP_F_AUTH;
		m.auth_key_id = r->self.key_id;
		m.tenant_id = r->self.tenant;
		/* The controller takes a sealed report only for the key's node. */
		rep->node_id = htonl(node);
		if (node != r->said_node) {
			if (r->cfg.node_id && node != r->cfg.node_id)
				pr_warn("load reports: report.node_id is %u, the node's key is "
					"node "
					"%u's: reporting as node %u",
					r->cfg.node_id, node, node);
			else
				pr_info("load reports: sealed with the node's key, as node %u",
					node);
			r->said_node = node;
		}
	} else if (r->cfg.sealed_only) {
		if (!r->unsealed++)
			pr_info("load reports to %s wait for the node's own key from the "
				"controller's sync",
				r->dst[0].name);
		return;
	}
	for (unsigned int i = 0; i < r->ndst; i++)
		send_to(r, &r->dst[i], &m, *rep, a, node);
}

void ep_reporter_get_stats(const struct ep_reporter *r, struct ep_reporter_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	out->sent = __atomic_load_n(&r->sent, __ATOMIC_RELAXED);
	out->events = __atomic_load_n(&r->events, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&r->errors, __ATOMIC_RELAXED);
}

/* The periodic report: every measurement, over the period since the last one. */
static void send_one(struct ep_reporter *r, struct ep_worker_load *wl, struct ep_hist *lat)
{
	struct ep_load_report rep = r->tmpl;
	uint32_t queued, inflight;
	uint64_t answered = 0, now;

	inflight = queues(r, wl, lat, &queued);
	rep.cpu_pct_x100 = htonl(cpu_x100(r));
	rep.mem_free_kib = htobe64(mem_available_kib());
	rep.queue_depth = htonl(queued);
	rep.inflight = htonl(inflight);
	rep.p99_us = htonl(p99_us(r, lat, &answered));
	now = ep_now_ns();
	if (r->last_ns && now > r->last_ns)
		rep.rate = htonl((uint32_t)(answered * 1000000000ull / (now - r->last_ns)));
	r->last_ns = now;
	r->last = rep;
	r->sent_queue = ep_queue_significant(queued, ntohl(rep.rate));
	r->sent_ns = now;
	send_report(r, &rep);
}

/* Between periodic reports: when the tasks waiting moved sharply, a report at once with
 * the fresh queues and the last period's other measurements (CPU, memory, p99 and rate
 * are over a period; a few ms would make them noise). */
static void maybe_event(struct ep_reporter *r, struct ep_worker_load *wl)
{
	struct ep_load_report rep;
	uint32_t queued, inflight, sig;
	uint64_t now;

	if (!r->sent_ns)
		return;
	inflight = queues(r, wl, NULL, &queued);
	now = ep_now_ns();
	sig = ep_queue_significant(queued, ntohl(r->last.rate));
	if (!ep_report_event_due(r->sent_queue, r->sent_ns, sig, now))
		return;
	rep = r->last;
	rep.queue_depth = htonl(queued);
	rep.inflight = htonl(inflight);
	r->sent_queue = sig;
	r->sent_ns = now;
	__atomic_fetch_add(&r->events, 1, __ATOMIC_RELAXED);
	send_report(r, &rep);
}

static void *run(void *arg)
{
	struct ep_reporter *r = arg;
	struct ep_worker_load *wl = calloc(1, sizeof(*wl));
	struct ep_hist *lat = calloc(1, sizeof(*lat));
	uint64_t next = ep_now_ns(), at;
	uint64_t step = (uint64_t)r->cfg.event_ms * 1000000;

	if (!wl || !lat)
		goto out;
	for (;;) {
		send_one(r, wl, lat);
		next += (uint64_t)r->cfg.interval_ms * 1000000;
		/* Until the next period, look at the queues every event_ms (if on). */
		for (at = step ? ep_now_ns() + step : next;; at += step) {
			if (at > next)
				at = next;
			if (!ep_sleeper_until(&r->sleeper, at))
				goto out;
			if (at >= next)
				break;
			maybe_event(r, wl);
		}
	}
out:
	free(wl);
	free(lat);
	return NULL;
}

/* --- set-up ------------------------------------------------------------------------------ */

/* The interface that holds @local: its MAC. */
static int mac_of_addr(const struct sockaddr_storage *local, uint8_t mac[6], char *ifname)
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr = { 0 };
	int fd, err = -ENODEV;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != local->ss_family)
			continue;
		if (local->ss_family == AF_INET
			    ? ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
				      ((const struct sockaddr_in *)local)->sin_addr.s_addr
			    : !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				      &((const struct sockaddr_in6 *)local)->sin6_addr, 16)) {
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
			err = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	if (err)
		return err;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : 0;
	close(fd);
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

/* Connect to controller @name into @d: the socket, and the node's address and MAC facing
 * it, whose interface's name goes into @ifname. 0 or -errno (said). */
static int dest_open(struct report_dest *d, const char *name, char *ifname)
{
	struct sockaddr_storage dst, local = { 0 }; /* getsockname() fills local */
	socklen_t len, llen = sizeof(local);
	int err;

	d->name = name;
	d->fd = -1;
	if (ep_parse_sockaddr("controller", name, 0, &dst, &len))
		return -EINVAL;
	d->fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || connect(d->fd, (struct sockaddr *)&dst, len) ||
	    getsockname(d->fd, (struct sockaddr *)&local, &llen)) {
		err = -errno;
		pr_err("controller %s: %s", name, strerror(errno));
		return err;
	}
	err = mac_of_addr(&local, d->mac, ifname);
	if (err) {
		pr_err("controller %s: the interface facing it has no MAC: %s", name,
		       strerror(-err));
		return err;
	}
	if (local.ss_family == AF_INET)
		d->ip4 = ((struct sockaddr_in *)&local)->sin_addr.s_addr;
	else
		memcpy(d->ip6, &((struct sockaddr_in6 *)&local)->sin6_addr, 16);
	return 0;
}

/* Free @r and what it holds (its thread stopped or never started). */
static void reporter_free(struct ep_reporter *r)
{
	for (unsigned int i = 0; i < r->ndst; i++)
		ep_close_fd(&r->dst[i].fd);
	ep_aead_free(r->aead);
	OPENSSL_cleanse(&r->self, sizeof(r->self));
	free(r->prev_lat);
	free(r);
}

int ep_reporter_start(const struct ep_report_cfg *cfg, struct ep_worker *const *workers,
		      unsigned int n, struct ep_reporter **out)
{
	char ifname[IF_NAMESIZE] = "?", to[256];
	struct ep_reporter *r;
	int err;

	if (!cfg->ncontrollers || cfg->ncontrollers > EP_REPORT_MAX_DEST)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->prev_lat = calloc(1, sizeof(*r->prev_lat));
	if (!r->prev_lat) {
		free(r);
		return -ENOMEM;
	}
	r->cfg = *cfg;
	r->workers = workers;
	r->n = n;
	for (; r->ndst < cfg->ncontrollers; r->ndst++) {
		err = dest_open(&r->dst[r->ndst], cfg->controllers[r->ndst], ifname);
		if (err) {
			r->ndst++; /* its socket, if any, is closed with the others */
			goto err;
		}
	}
	r->tmpl.node_id = htonl(cfg->node_id);
	r->tmpl.interval_ms = htonl(cfg->interval_ms);
	r->tmpl.capacity = htonl(cfg->capacity);
	r->tmpl.port = htons(cfg->port);
	cpu_x100(r); /* the first sample, so the first report has a rate */
	err = ep_sleeper_start(&r->sleeper, run, r);
	if (err) {
		pr_err("load reporter thread: %s", strerror(-err));
		goto err;
	}
	snprintf(to, sizeof(to), "%s%s", cfg->controllers[0],
		 cfg->ncontrollers > 1 ? " and the other controllers" : "");
	if (cfg->node_id)
		pr_info("reporting load to %s every %u ms as node %u (via %s, capacity %u; "
			"queues looked at every %u ms for event reports)",
			to, cfg->interval_ms, cfg->node_id, ifname, cfg->capacity, cfg->event_ms);
	else
		pr_info("reporting load to %s every %u ms as the node the controller's sync "
			"names (via %s, capacity %u; queues looked at every %u ms for event "
			"reports)",
			to, cfg->interval_ms, ifname, cfg->capacity, cfg->event_ms);
	*out = r;
	return 0;
err:
	reporter_free(r);
	return err;
}

void ep_reporter_stop(struct ep_reporter *r)
{
	if (!r)
		return;
	ep_sleeper_stop(&r->sleeper);
	reporter_free(r);
}
