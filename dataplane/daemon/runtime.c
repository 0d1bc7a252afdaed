// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crypt.h"
#include "core/keys.h"
#include "core/sign.h"
#include "core/worker.h"
#include "daemon/keysrc.h"
#include "daemon/runtime.h"
#include "daemon/statsrv.h"
#include "daemon/warmup.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/metrics.h"
#include "edgeplane/unixsock.h"
#include "edgeplane/util.h"
#include "daemon/report.h"
#include "daemon/sysload.h"
#include "io/dpdk.h"
#include "xdp/ep_xdp.h"

/* Host CPU time from /proc/stat, in clock ticks over all CPUs. */
struct cpu_times {
	uint64_t busy, total;
	uint64_t at_ns;
};

struct ep_runtime {
	const struct ep_conf *conf;
	struct ep_rl_cfg rate_limit; /* the classifier's: conf's, with limits' prefixes */
	struct ep_registry reg;
	struct ep_xdp *xdp;
	struct ep_dpdk *dpdk; /* the dpdk backend's port */
	struct ep_statsrv *stats;
	unsigned int nworkers, nthreads;
	struct ep_worker *workers[EP_MAX_QUEUES];
	pthread_t threads[EP_MAX_QUEUES];
	uint64_t started_ns;
	double started_unix;
	struct ep_token_master token; /* address validation; the workers share it */
	struct ep_keytab *keys;	      /* device authentication; the workers share it */
	struct ep_keysrc *keysrc;     /* writes it */
	/* The classifier's ep_keys and ep_key_state (its owner's: rt->xdp's or rt->dpdk's),
	 * kept a mirror of the key table; -1 without a classifier of ours (the udp and
	 * io_uring backends: then the workers charge the keys' buckets). */
	int xdp_keys_fd, xdp_key_state_fd;
	uint64_t xdp_key_errors; /* mirror writes that failed (atomic) */
	struct ep_limits limits; /* what PONG says */

	/* /metrics: used only on the metrics server's thread once started. */
	struct ep_metrics *metrics;
	struct ep_reporter *reporter;
	int xdp_stats_fd;	   /* the classifier's pinned ep_stats, or -1 */
	struct cpu_times cpu_prev; /* start of the current CPU busy interval */
	double cpu_busy;	   /* busy fraction of the last complete interval */

	/* Keeps the classifier's ep_addrs current (addresses come and go). */
	pthread_t addrs_thread;
	bool addrs_running, addrs_stop;
	pthread_mutex_t addrs_lock;
	pthread_cond_t addrs_cond;
};

#define ADDRS_REFRESH_S 1 /* how often the classifier's ep_addrs is read again */

static int metrics_start(struct ep_runtime *rt);

/*
 * The handlers of the configuration, then their warm-up files: every handler's files read
 * at once, on one io_uring (warmup.c), each checked against its signature as read and
 * then, if encrypted, decrypted in memory (authenticated, so what a handler gets is what
 * was signed). A plugin entry without a handler name adds every handler the plugin
 * exports, and they share the entry's files.
 */
static int build_registry(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	uint8_t key[EP_CRYPT_KEY_LEN];
	struct ep_signing sign;
	unsigned int *first = NULL, nfiles = 0, at = 0;
	const char **paths = NULL;
	struct ep_blob *blobs = NULL;
	int ret;

	if (!c->nhandlers)
		return ep_registry_add_defaults(&rt->reg);
	if (c->file_encryption.key_file &&
	    (ret = ep_read_secret("file_encryption.key_file", c->file_encryption.key_file, key,
				  sizeof(key))))
		return ret;
	ret = ep_signing_init(&sign, c->signing.off_unsafe, c->signing.public_key);
	if (ret)
		goto out_key;
	first = calloc(c->nhandlers, sizeof(*first));
	if (!first) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < c->nhandlers; i++) {
		const struct ep_handler_conf *hc = &c->handlers[i];

		first[i] = rt->reg.n;
		ret = hc->plugin ? ep_registry_add_plugin(&rt->reg, &sign, hc->plugin, hc->name,
							  hc->type, hc->args)
				 : ep_registry_add_builtin(&rt->reg, hc->name, hc->type, hc->args);
		if (ret < 0)
			goto out;
		for (unsigned int k = first[i]; k < rt->reg.n; k++)
			rt->reg.e[k].max_error = hc->max_error;
		nfiles += hc->nfiles;
	}
	ret = 0;
	if (!nfiles)
		goto out;

	/* Cache warm-up: every file, in one go. */
	paths = calloc(nfiles, sizeof(*paths));
	blobs = calloc(nfiles, sizeof(*blobs));
	if (!paths || !blobs) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < c->nhandlers; i++)
		for (unsigned int f = 0; f < c->handlers[i].nfiles; f++)
			paths[at++] = c->handlers[i].files[f];
	ret = ep_warmup_read(paths, nfiles, blobs);
	if (ret)
		goto out;
	/* Each entry's slice to its first handler (which frees them from now on). */
	at = 0;
	for (unsigned int i = 0; i < c->nhandlers; i++) {
		struct ep_reg_entry *e = &rt->reg.e[first[i]];
		unsigned int n = c->handlers[i].nfiles;

		if (!n)
			continue;
		e->files = calloc(n, sizeof(*e->files));
		if (!e->files) {
			for (unsigned int f = at; f < nfiles; f++) {
				free((void *)blobs[f].path);
				free((void *)blobs[f].data);
			}
			ret = -ENOMEM;
			goto out;
		}
		memcpy(e->files, blobs + at, n * sizeof(*blobs));
		e->nfiles = n;
		at += n;
	}
	for (unsigned int i = 0; i < c->nhandlers && !ret; i++) {
		struct ep_reg_entry *e = &rt->reg.e[first[i]];
		unsigned int end = i + 1 < c->nhandlers ? first[i + 1] : rt->reg.n;

		for (unsigned int f = 0; f < e->nfiles && !ret; f++) {
			ret = ep_signing_check(&sign, "handler file", e->files[f].path,
					       e->files[f].data, e->files[f].len);
			if (!ret)
				ret = ep_crypt_blob(c->file_encryption.key_file ? key : NULL,
						    c->file_encryption.key_file, &e->files[f]);
		}
		for (unsigned int k = first[i] + 1; k < end; k++) {
			rt->reg.e[k].files = e->files;
			rt->reg.e[k].nfiles = e->nfiles;
			rt->reg.e[k].files_shared = true;
		}
	}
out:
	free(blobs);
	free(paths);
	free(first);
	ep_signing_fini(&sign);
out_key:
	explicit_bzero(key, sizeof(key));
	return ret;
}

static int open_queue(struct ep_runtime *rt, unsigned int i, struct ep_io_q **q)
{
	const struct ep_conf *c = rt->conf;
	struct ep_io_cfg io = {
		.ifname = c->interface,
		.bind_addr = c->bind,
		.share_port = c->share_port,
		.port = c->port,
		.frames = c->frames,
		.frame_size = c->frame_size,
		.zerocopy = c->zerocopy,
		.verify_csum = c->verify_csum,
		.busy_poll = c->busy_poll,
		.xsks_map_fd = rt->xdp ? ep_xdp_xsks_fd(rt->xdp) : -1,
		.high_priority = c->w.high_priority,
		.uring = c->uring,
		.dpdk = rt->dpdk,
	};

	if (!strcmp(c->backend, "afxdp"))
		return ep_io_afxdp_open(&io, c->queues[i], q);
	if (!strcmp(c->backend, "uring"))
		return ep_io_uring_open(&io, i, q);
	if (!strcmp(c->backend, "dpdk"))
		return ep_io_dpdk_open(&io, i, q);
	return ep_io_udp_open(&io, i, q);
}

/* The dpdk backend: the EAL and the port, from this (the main) thread, before the
 * queues open and the workers start. */
static int dpdk_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	struct ep_dpdk_cfg dc = {
		.ifname = c->interface,
		.first_queue = c->queues[0],
		.nqueues = c->nqueues,
		.port = c->port,
		.encap_port = c->encap_port,
		.reply_route = c->reply_route,
		.max_priority = c->w.max_priority,
		.any_dest_unsafe = c->any_dest_unsafe,
		.addrs = &c->addrs,
		.rate_limit = &rt->rate_limit,
		.auth_mode = c->w.auth_mode,
		.mtu = c->w.mtu,
		.no_huge = c->dpdk.no_huge,
		.memory_mb = c->dpdk.memory_mb,
		.file_prefix =
			c->dpdk.file_prefix && *c->dpdk.file_prefix ? c->dpdk.file_prefix : NULL,
		.lcores = c->dpdk.lcores && *c->dpdk.lcores ? c->dpdk.lcores : NULL,
		.vdev = c->dpdk.vdev && *c->dpdk.vdev ? c->dpdk.vdev : NULL,
		.xdp_prog = c->dpdk.xdp_prog && *c->dpdk.xdp_prog ? c->dpdk.xdp_prog : NULL,
		.busy_budget = c->dpdk.busy_budget,
		.force_copy = c->zerocopy == 0,
		.mbufs = c->dpdk.mbufs,
		.eal_args = (const char *const *)c->dpdk.eal_args,
		.neal_args = c->dpdk.neal_args,
	};

	/* The PMD attaches the program itself, and detaches it when the port closes. */
	if (strcmp(c->xdp_mode, "auto") || c->keep_attached)
		pr_warn("dpdk: xdp.mode and xdp.keep_attached do not apply: DPDK's net_af_xdp "
			"attaches natively where the driver can, else generically, and detaches "
			"at exit");
	return ep_dpdk_start(&dc, &rt->dpdk);
}

/*
 * The classifier's steering by priority (ep_config.prio_slot): priorities from
 * limits.high_priority up to the queue's priority socket (slot 1, which afxdp.c opens),
 * the others to slot 0; all to slot 0 when it is 0. Written at every start, so a setting
 * left by an earlier run does not stay.
 */
static int write_prio_slots(struct ep_runtime *rt)
{
	struct ep_config cfg;
	uint8_t high = rt->conf->w.high_priority;
	int err;

	err = ep_xdp_read_config(ep_xdp_cfg_fd(rt->xdp), &cfg);
	if (err)
		return err;
	for (unsigned int p = 0; p < sizeof(cfg.prio_slot); p++)
		cfg.prio_slot[p] = high && p >= high && p <= EP_PRIO_MAX;
	return ep_xdp_write_config(ep_xdp_cfg_fd(rt->xdp), &cfg);
}

static void *worker_thread(void *arg)
{
	ep_worker_run(arg);
	return NULL;
}

/* The classifier's ep_addrs, or -1 without a classifier of ours. */
static int addrs_fd(const struct ep_runtime *rt)
{
	if (rt->xdp)
		return ep_xdp_addrs_fd(rt->xdp);
	return rt->dpdk ? ep_dpdk_addrs_fd(rt->dpdk) : -1;
}

/*
 * Once a second, this network namespace's addresses into the classifier's ep_addrs, so
 * an address added after the start takes tasks, and one removed stops. Off the workers'
 * threads: getifaddrs() is a netlink dump.
 */
static void *addrs_refresher(void *arg)
{
	struct ep_runtime *rt = arg;
	struct timespec ts;
	int fd = addrs_fd(rt), n;

	pthread_mutex_lock(&rt->addrs_lock);
	while (!rt->addrs_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ADDRS_REFRESH_S;
		pthread_cond_timedwait(&rt->addrs_cond, &rt->addrs_lock, &ts);
		if (rt->addrs_stop)
			break;
		pthread_mutex_unlock(&rt->addrs_lock);
		n = ep_xdp_sync_addrs(fd, &rt->conf->addrs);
		if (n < 0)
			pr_warn("classifier addresses: %s", strerror(-n));
		else if (n)
			pr_info("classifier addresses: %d changed", n);
		pthread_mutex_lock(&rt->addrs_lock);
	}
	pthread_mutex_unlock(&rt->addrs_lock);
	return NULL;
}

static int addrs_start(struct ep_runtime *rt)
{
	pthread_condattr_t ca;
	int err;

	if (addrs_fd(rt) < 0)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rt->addrs_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&rt->addrs_lock, NULL);
	err = -pthread_create(&rt->addrs_thread, NULL, addrs_refresher, rt);
	if (err) {
		pthread_cond_destroy(&rt->addrs_cond);
		pthread_mutex_destroy(&rt->addrs_lock);
		return err;
	}
	rt->addrs_running = true;
	return 0;
}

static void addrs_stop(struct ep_runtime *rt)
{
	if (!rt->addrs_running)
		return;
	pthread_mutex_lock(&rt->addrs_lock);
	rt->addrs_stop = true;
	pthread_cond_signal(&rt->addrs_cond);
	pthread_mutex_unlock(&rt->addrs_lock);
	pthread_join(rt->addrs_thread, NULL);
	pthread_cond_destroy(&rt->addrs_cond);
	pthread_mutex_destroy(&rt->addrs_lock);
	rt->addrs_running = false;
}

/* The classifier's counters, for the statistics socket and /metrics. */
static void classifier_stats_open(struct ep_runtime *rt)
{
	int fd = -1;

	if (rt->xdp) {
		fd = ep_xdp_open_pinned(ep_xdp_pin_dir(rt->xdp), EP_PIN_STATS);
		if (fd < 0)
			pr_warn("no classifier counters: %s/%s: %s", ep_xdp_pin_dir(rt->xdp),
				EP_PIN_STATS, strerror(-fd));
	} else if (ep_dpdk_stats_fd(rt->dpdk) >= 0) { /* the classifier the PMD attached */
		fd = dup(ep_dpdk_stats_fd(rt->dpdk));
	}
	rt->xdp_stats_fd = fd < 0 ? -1 : fd;
}

/* The classifier's settings that are the operator's risk, said once at the start. */
static void classifier_warnings(const struct ep_conf *c)
{
	const struct ep_rl_cfg *rl = &c->rate_limit;
	/* A task of limits.max_task_len in datagrams of about 1400 bytes, with headers. */
	uint64_t dgrams = c->w.max_task_len / 1400 + 1, bytes = c->w.max_task_len + dgrams * 100;

	if (c->any_dest_unsafe)
		pr_warn("xdp.destination_check = \"off-unsafe\": tasks to any destination address "
			"are taken, and answered from that address");
	if (rl->flags & EP_RL_F_OFF) {
		pr_warn("rate_limit.mode = \"off-unsafe\": no limit per source prefix");
		return;
	}
	if ((rl->packets_per_s && rl->packets_burst < dgrams) ||
	    (rl->bytes_per_s && rl->bytes_burst < bytes))
		pr_warn("rate_limit: a task of limits.max_task_len (%u bytes) sent at once is "
			"about %llu datagrams and %llu bytes, more than packets_burst (%u) or "
			"bytes_burst (%u): such tasks arrive whole only when their client paces "
			"them",
			c->w.max_task_len, (unsigned long long)dgrams, (unsigned long long)bytes,
			rl->packets_burst, rl->bytes_burst);
}

/* Device authentication: the key table, before the classifier. */
static int auth_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;

	if (c->w.auth_mode == EP_AUTH_MODE_OFF) {
		pr_info("auth.mode = \"off\": AUTH datagrams are answered UNSUPPORTED");
		return 0;
	}
	rt->keys = ep_keytab_new();
	if (!rt->keys)
		return -ENOMEM;
	pr_info("auth.mode = \"%s\": %s; device pn seconds within %u s",
		ep_xdp_auth_mode_name(c->w.auth_mode),
		c->w.auth_mode == EP_AUTH_MODE_REQUIRED ? "only authenticated devices are served"
							: "authenticated devices, and others "
							  "as without authentication",
		c->w.clock_skew_s);
	return 0;
}

/*
 * The key table's mirror (keys.h): every change, in the key source's round that makes it,
 * into the classifier's ep_keys, so that XDP drops what the workers would (unknown,
 * revoked, expired keys, roles overstepped) and charges the keys' buckets before any tag
 * is checked. A failure is counted, said now and then, and retried by the next round; the
 * workers check every key themselves meanwhile.
 */
static int mirror_key(void *arg, uint16_t id, const struct ep_key *k)
{
	struct ep_runtime *rt = arg;
	int err = k ? ep_xdp_write_key(rt->xdp_keys_fd, rt->xdp_key_state_fd, id, &k->xdp)
		    : ep_xdp_delete_key(rt->xdp_keys_fd, rt->xdp_key_state_fd, id);

	if (!k && err == -ENOENT)
		err = 0;
	if (err && !(__atomic_fetch_add(&rt->xdp_key_errors, 1, __ATOMIC_RELAXED) & 1023))
		pr_warn("the classifier's key %u: %s (the workers check it meanwhile)", id,
			strerror(-err));
	return err;
}

/*
 * The classifier's keys (afxdp: its pinned maps; dpdk: the PMD's program's, by name), kept
 * a mirror of the key table. The key source starts first (its first load or sync fills
 * the table); setting the mirror then writes every key of the table (a key an earlier run
 * left there keeps its buckets: a device's budget outlives a restart) and removes what
 * the table does not hold. Without a table (mode off), the classifier keeps no key.
 */
static int keys_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	struct ep_keysrc_cfg kc = {
		.keys_file = c->auth.keys_file,
		.controller = c->auth.controller,
		.cert = c->auth.cert,
		.key = c->auth.key,
		.ca = c->auth.ca,
		.sync_ms = c->auth.sync_ms,
		.node_id = c->auth.node_id,
		.report_key_id = (uint16_t)c->auth.report_key_id,
	};
	uint64_t *held;
	int err;

	if (rt->xdp) {
		rt->xdp_keys_fd = ep_xdp_keys_fd(rt->xdp);
		rt->xdp_key_state_fd = ep_xdp_key_state_fd(rt->xdp);
	} else if (rt->dpdk) {
		rt->xdp_keys_fd = ep_dpdk_map_fd(rt->dpdk, EP_PIN_KEYS);
		rt->xdp_key_state_fd = ep_dpdk_map_fd(rt->dpdk, EP_PIN_KEY_STATE);
	}
	if (rt->xdp_keys_fd < 0 || rt->xdp_key_state_fd < 0)
		rt->xdp_keys_fd = rt->xdp_key_state_fd = -1;
	if (!rt->keys) {
		err = rt->xdp_keys_fd < 0
			      ? 0
			      : ep_xdp_clear_keys(rt->xdp_keys_fd, rt->xdp_key_state_fd);
		return err < 0 ? err : 0;
	}
	if (rt->xdp_keys_fd < 0)
		pr_info("auth: no classifier in front of the workers (backend %s): they charge "
			"each key's buckets before its tag is checked",
			c->backend);
	err = kc.keys_file || kc.controller ? ep_keysrc_start(&kc, rt->keys, &rt->keysrc) : 0;
	if (err || rt->xdp_keys_fd < 0)
		return err;
	held = calloc(EP_KEYS_MAX / 64, sizeof(*held));
	if (!held)
		return -ENOMEM;
	err = ep_xdp_key_ids(rt->xdp_keys_fd, held);
	if (err >= 0)
		err = ep_keytab_set_mirror(rt->keys, mirror_key, rt, held);
	free(held);
	if (err) /* said by mirror_key(); retried by the key source's rounds */
		pr_warn("the classifier's keys: %s", strerror(-err));
	return 0;
}

static void report(void *arg, FILE *f, bool json)
{
	ep_runtime_report(arg, f, json);
}

int ep_runtime_start(struct ep_conf *c, struct ep_runtime **out)
{
	struct ep_runtime *rt = calloc(1, sizeof(*rt));
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	if (ncpus < 1)
		ncpus = 1;

	if (!rt)
		return -ENOMEM;
	rt->conf = c;
	rt->started_ns = ep_now_ns();
	rt->started_unix = (double)time(NULL);
	rt->xdp_stats_fd = rt->xdp_keys_fd = rt->xdp_key_state_fd = -1;
	/* The classifier groups sources as the runtime's per-source limits do. */
	rt->rate_limit = c->rate_limit;
	rt->rate_limit.prefix_v4 = c->w.reasm.prefix_v4;
	rt->rate_limit.prefix_v6 = c->w.reasm.prefix_v6;
	err = build_registry(rt);
	if (err)
		goto err_stop;
	if (c->w.validation != EP_VALIDATE_OFF) {
		err = c->validation.secret_file
			      ? ep_token_master_load(&rt->token, c->validation.secret_file,
						     c->validation.token_period_s)
			      : ep_token_master_random(&rt->token, c->validation.token_period_s);
		if (err)
			goto err_stop;
		pr_info("address validation: %s, tokens from %s, period %u s",
			ep_validation_name(c->w.validation),
			c->validation.secret_file ? c->validation.secret_file
						  : "a random secret (this node only)",
			c->validation.token_period_s);
	} else {
		pr_warn("validation.mode = \"off-unsafe\": replies to any source, of any size "
			"(a spoofed request can aim them at a third party)");
	}
	ep_conf_limits(c, &rt->limits);
	err = auth_start(rt);
	if (err)
		goto err_stop;

	if (!strcmp(c->backend, "afxdp")) {
		enum ep_xdp_mode mode = EP_XDP_MODE_AUTO;
		/* The classifier drops what breaks the protocol, up to its 64 MiB limit; a
		 * task above this node's own limit comes through and gets TOO_LARGE. */
		struct ep_xdp_opts xo = {
			.ifname = c->interface,
			.port = c->port,
			.max_task_len = EP_MAX_TASK_LEN,
			.pin_dir = c->pin_dir,
			.encap_port = c->encap_port,
			.reply_route = c->reply_route,
			.max_priority = c->w.max_priority,
			.any_dest_unsafe = c->any_dest_unsafe,
			.addrs = &c->addrs,
			.rate_limit = &rt->rate_limit,
			.auth_mode = c->w.auth_mode,
		};

		ep_xdp_parse_mode(c->xdp_mode, &mode);
		xo.mode = mode;
		err = ep_xdp_attach(&xo, &rt->xdp);
		if (err)
			goto err_stop;
		pr_info("classifier on %s in %s mode", c->interface, ep_xdp_mode_name(rt->xdp));
		err = write_prio_slots(rt);
		if (err) {
			pr_err("classifier priority slots: %s", strerror(-err));
			goto err_stop;
		}
		if (c->w.high_priority)
			pr_info("priorities %u-%u: a socket of their own on each queue",
				c->w.high_priority, EP_PRIO_MAX);
		if (c->queues_auto) {
			unsigned int before = c->nqueues;

			c->nqueues = 0;
			err = ep_conf_all_queues(c);
			if (err)
				goto err_stop;
			if (c->nqueues != before)
				pr_info("%s: %u RX queues once XDP is attached (%u before)",
					c->interface, c->nqueues, before);
		}
	}
	if (!strcmp(c->backend, "dpdk")) {
		err = dpdk_start(rt);
		if (err)
			goto err_stop;
	}
	if (rt->xdp || rt->dpdk) {
		classifier_warnings(c);
		classifier_stats_open(rt);
		err = addrs_start(rt);
		if (err)
			goto err_stop;
	}
	err = keys_start(rt);
	if (err)
		goto err_stop;

	for (unsigned int i = 0; i < c->nqueues; i++) {
		struct ep_worker_cfg wc = c->w;
		struct ep_io_q *q;

		wc.token = c->w.validation != EP_VALIDATE_OFF ? &rt->token : NULL;
		wc.keys = rt->keys;
		wc.key_rates = rt->keys && rt->xdp_keys_fd < 0;
		wc.limits = rt->limits;

		/* Pinned as configured, else worker i on CPU i (modulo the CPUs online). */
		wc.cpu = c->cpus[i] >= 0 ? c->cpus[i] : (int)(i % (unsigned int)ncpus);
		err = open_queue(rt, i, &q);
		if (err)
			goto err_stop;
		rt->workers[i] = ep_worker_new(&wc, &rt->reg, q, i);
		if (!rt->workers[i]) {
			err = -errno;
			pr_err("worker %u: %s", i, strerror(errno));
			goto err_stop;
		}
		rt->nworkers++;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		err = -pthread_create(&rt->threads[i], NULL, worker_thread, rt->workers[i]);
		if (err)
			goto err_stop;
		rt->nthreads++;
	}
	if (c->stats_socket) {
		gid_t gid = EP_NO_GROUP;

		err = 0;
		if (c->stats_socket_group)
			err = ep_group_gid("stats_socket_group", c->stats_socket_group, &gid);
		if (!err)
			err = ep_statsrv_start(c->stats_socket, gid, report, rt, &rt->stats);
		if (err)
			goto err_stop;
	}
	if (c->metrics) {
		err = metrics_start(rt);
		if (err)
			goto err_stop;
	}
	if (c->report.controller) {
		struct ep_report_cfg rc = {
			.controller = c->report.controller,
			/* 0 with auth.controller (the sync says); with a keys file's report
			 * key, auth.node_id (config.c checked it is a gateway node id). */
			.node_id = c->report.node_id
					   ?: c->auth.report_key_id && rt->keysrc ? c->auth.node_id
										  : 0,
			.interval_ms = c->report.interval_ms,
			.event_ms = c->report.event_ms,
			.capacity = c->report.capacity ?: 100 * rt->nworkers,
			.port = c->port,
			.keysrc = rt->keysrc,
			.keys = rt->keys,
			/* With the controller's keys, it takes only reports sealed with the
			 * node's own key, for the node id the sync gives. */
			.sealed_only = rt->keysrc && c->auth.controller,
		};

		ep_cpu_source_parse(c->report.cpu, &rc.cpu);
		err = ep_reporter_start(&rc, rt->workers, rt->nworkers, &rt->reporter);
		if (err)
			goto err_stop;
	}
	*out = rt;
	return 0;

err_stop:
	ep_runtime_stop(rt);
	return err;
}

void ep_runtime_stop(struct ep_runtime *rt)
{
	if (!rt)
		return;
	addrs_stop(rt);
	ep_reporter_stop(rt->reporter);
	ep_metrics_stop(rt->metrics);
	if (rt->xdp_stats_fd >= 0)
		close(rt->xdp_stats_fd);
	ep_statsrv_stop(rt->stats);
	for (unsigned int i = 0; i < rt->nthreads; i++)
		ep_worker_stop(rt->workers[i]);
	for (unsigned int i = 0; i < rt->nthreads; i++)
		pthread_join(rt->threads[i], NULL);
	for (unsigned int i = 0; i < rt->nworkers; i++)
		ep_worker_free(rt->workers[i]);
	/* After the workers, the table's readers. */
	ep_keysrc_stop(rt->keysrc);
	ep_keytab_free(rt->keys);
	if (rt->xdp)
		ep_xdp_close(rt->xdp, !rt->conf->keep_attached);
	ep_dpdk_stop(rt->dpdk);
	ep_registry_release(&rt->reg);
	memset(&rt->token, 0, sizeof(rt->token));
	free(rt);
}

/* --- statistics --------------------------------------------------------------------- */

static void json_hist(FILE *f, const char *name, const struct ep_hist *h, double div)
{
	fprintf(f,
		"\"%s\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
		"\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
		name, (unsigned long long)h->count,
		h->count ? (double)h->sum / (double)h->count / div : 0.0,
		(double)ep_hist_percentile(h, 50) / div, (double)ep_hist_percentile(h, 90) / div,
		(double)ep_hist_percentile(h, 99) / div, (double)ep_hist_percentile(h, 99.9) / div,
		(double)h->max / div);
}

static void json_type_stats(FILE *f, const struct ep_type_stats *t, int type, const char *name)
{
	bool first = true;

	fprintf(f,
		"{\"type\":%d,\"handler\":\"%s\",\"received\":%llu,\"completed\":%llu,"
		"\"cache_hits\":%llu,\"errors\":{",
		type, name, (unsigned long long)t->received, (unsigned long long)t->completed,
		(unsigned long long)t->cache_hits);
	for (int s = 1; s < EP_ST__COUNT; s++) {
		if (!t->errors[s])
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", ep_status_name(s),
			(unsigned long long)t->errors[s]);
		first = false;
	}
	fprintf(f, "},");
	json_hist(f, "latency_us", &t->latency_ns, 1000.0);
	fprintf(f, ",");
	json_hist(f, "batch_size", &t->batch_size, 1.0);
	fprintf(f, "}");
}

static bool type_used(const struct ep_type_stats *t)
{
	return t->received || t->cache_hits || t->latency_ns.count;
}

static void merge_type(struct ep_type_stats *dst, const struct ep_type_stats *src)
{
	dst->received += src->received;
	dst->completed += src->completed;
	dst->cache_hits += src->cache_hits;
	for (int s = 0; s < EP_ST__COUNT; s++)
		dst->errors[s] += src->errors[s];
	ep_hist_merge(&dst->latency_ns, &src->latency_ns);
	ep_hist_merge(&dst->batch_size, &src->batch_size);
}

/* The node's side of device authentication: its mode, id, keys and their source, and who
 * charges the keys' buckets (the classifier, its keys mirrored from the table, or the
 * workers). */
static void report_auth_json(struct ep_runtime *rt, FILE *f)
{
	struct ep_keysrc_stats ks = { 0 };

	if (rt->keysrc)
		ep_keysrc_get_stats(rt->keysrc, &ks);
	fprintf(f,
		"\"auth\":{\"mode\":\"%s\",\"node_id\":%u,\"keys\":%u,\"source\":\"%s\","
		"\"loads\":%llu,\"load_errors\":%llu,\"syncs\":%llu,\"sync_errors\":%llu,"
		"\"connected\":%s,\"key_checks\":\"%s\",\"classifier_key_errors\":%llu},",
		ep_xdp_auth_mode_name(rt->conf->w.auth_mode),
		rt->keys ? ep_keytab_node_id(rt->keys) : 0,
		rt->keys ? ep_keytab_count(rt->keys) : 0,
		rt->conf->auth.controller  ? "controller"
		: rt->conf->auth.keys_file ? "keys_file"
					   : "none",
		(unsigned long long)ks.loads, (unsigned long long)ks.load_errors,
		(unsigned long long)ks.syncs, (unsigned long long)ks.sync_errors,
		ks.connected ? "true" : "false",
		!rt->keys	       ? "none"
		: rt->xdp_keys_fd >= 0 ? "classifier"
				       : "workers",
		(unsigned long long)__atomic_load_n(&rt->xdp_key_errors, __ATOMIC_RELAXED));
}

/* The classifier's counters that moved, by name (packets): what XDP dropped before any
 * worker saw it. Nothing without a classifier of ours. */
static void report_classifier_json(struct ep_runtime *rt, FILE *f)
{
	struct ep_counter cnt[EP_STAT__COUNT];

	if (rt->xdp_stats_fd < 0 || ep_xdp_read_stats(rt->xdp_stats_fd, cnt))
		return;
	fprintf(f, "\"classifier\":{");
	for (unsigned int o = 0, n = 0; o < EP_STAT__COUNT; o++)
		if (cnt[o].packets)
			fprintf(f, "%s\"%s\":%llu", n++ ? "," : "", ep_stat_name(o),
				(unsigned long long)cnt[o].packets);
	fprintf(f, "},");
}

static void report_json(struct ep_runtime *rt, FILE *f, struct ep_worker_stats *st,
			struct ep_type_stats *all)
{
	const struct ep_conf *c = rt->conf;

	fprintf(f, "{\"backend\":\"%s\",\"interface\":\"%s\",\"port\":%u,\"uptime_s\":%.1f,",
		c->backend, c->interface ? c->interface : "", c->port,
		(double)(ep_now_ns() - rt->started_ns) / 1e9);
	report_auth_json(rt, f);
	report_classifier_json(rt, f);
	if (rt->reporter) {
		struct ep_reporter_stats rs;

		ep_reporter_get_stats(rt->reporter, &rs);
		fprintf(f, "\"load_reports\":{\"sent\":%llu,\"events\":%llu,\"errors\":%llu},",
			(unsigned long long)rs.sent, (unsigned long long)rs.events,
			(unsigned long long)rs.errors);
	}
	fprintf(f, "\"workers\":[");
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		const struct ep_worker_stats *s = &st[i];
		bool first = true;

		fprintf(f,
			"%s{\"worker\":%u,\"queue\":%u,\"datagrams\":%llu,\"queued\":%u,"
			"\"duplicates\":%llu,\"shed\":%llu,\"pings\":%llu,\"cancels\":%llu,"
			"\"reply_dropped\":%llu,\"replies_compressed\":%llu,"
			"\"retries_sent\":%llu,\"tokens_accepted\":%llu,"
			"\"tokens_refused\":%llu,\"replies_cut\":%llu,"
			"\"priority_lowered\":%llu,\"task_acks_sent\":%llu,"
			"\"result_acks\":%llu,\"bad_acks\":%llu,"
			"\"result_frags_resent\":%llu,\"low_sliced\":%llu,"
			"\"priorities\":[%llu,%llu,%llu,%llu,%llu],\"invalid\":{",
			i ? "," : "", i, c->queues[i], (unsigned long long)s->dgrams, s->queued,
			(unsigned long long)s->duplicates, (unsigned long long)s->shed,
			(unsigned long long)s->pings, (unsigned long long)s->cancels,
			(unsigned long long)s->reply_dropped,
			(unsigned long long)s->replies_compressed,
			(unsigned long long)s->retries_sent, (unsigned long long)s->tokens_accepted,
			(unsigned long long)s->tokens_refused, (unsigned long long)s->replies_cut,
			(unsigned long long)s->priority_lowered,
			(unsigned long long)s->task_acks_sent, (unsigned long long)s->result_acks,
			(unsigned long long)s->bad_acks, (unsigned long long)s->result_frags_resent,
			(unsigned long long)s->low_sliced, (unsigned long long)s->prio_tasks[1],
			(unsigned long long)s->prio_tasks[2], (unsigned long long)s->prio_tasks[3],
			(unsigned long long)s->prio_tasks[4], (unsigned long long)s->prio_tasks[5]);
		for (int r = 0; r < EP_STAT__COUNT; r++) {
			if (!s->invalid[r])
				continue;
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",", ep_stat_name(r),
				(unsigned long long)s->invalid[r]);
			first = false;
		}
		fprintf(f, "},\"auth\":{\"ok\":%llu,\"replies_dropped\":%llu,\"dropped\":{",
			(unsigned long long)s->auth_ok,
			(unsigned long long)s->auth_replies_dropped);
		for (unsigned int r = 0; r < EP_AUTH_DROP__COUNT; r++)
			fprintf(f, "%s\"%s\":%llu", r ? "," : "", ep_auth_drop_name(r),
				(unsigned long long)s->auth_dropped[r]);
		fprintf(f,
			"}},\"reassembly\":{\"started\":%llu,\"completed\":%llu,\"expired\":%llu,"
			"\"expired_lifetime\":%llu,\"evicted\":%llu,\"cancelled\":%llu,"
			"\"duplicates\":%llu,\"conflicts\":%llu,\"refused\":%llu,"
			"\"dropped\":%llu,\"tasks\":%u,\"bytes\":%llu},",
			(unsigned long long)s->reasm.started,
			(unsigned long long)s->reasm.completed,
			(unsigned long long)s->reasm.expired,
			(unsigned long long)s->reasm.expired_lifetime,
			(unsigned long long)s->reasm.evicted,
			(unsigned long long)s->reasm.cancelled,
			(unsigned long long)s->reasm.duplicates,
			(unsigned long long)s->reasm.conflicts,
			(unsigned long long)s->reasm.refused, (unsigned long long)s->reasm.dropped,
			s->reasm.tasks, (unsigned long long)s->reasm.bytes);
		fprintf(f,
			"\"cache\":{\"hits\":%llu,\"inflight_hits\":%llu,\"gap_hits\":%llu,"
			"\"replays_refused\":%llu,\"ack_hits\":%llu,\"ack_duplicates\":%llu,"
			"\"acks_refused\":%llu,\"conflicts\":%llu,\"refused\":%llu,"
			"\"entries\":%u,\"pending\":%u,\"bytes\":%llu,\"evicted\":%llu,"
			"\"expired\":%llu},",
			(unsigned long long)s->cache.hits_done,
			(unsigned long long)s->cache.hits_pending,
			(unsigned long long)s->cache.hits_gap,
			(unsigned long long)s->cache.replays_refused,
			(unsigned long long)s->cache.acks_done,
			(unsigned long long)s->cache.acks_dup,
			(unsigned long long)s->cache.acks_refused,
			(unsigned long long)s->cache.conflicts,
			(unsigned long long)s->cache.refused, s->cache.entries, s->cache.pending,
			(unsigned long long)s->cache.bytes, (unsigned long long)s->cache.evicted,
			(unsigned long long)s->cache.expired);
		fprintf(f,
			"\"io\":{\"rx_packets\":%llu,\"rx_bytes\":%llu,\"tx_packets\":%llu,"
			"\"tx_bytes\":%llu,\"rx_invalid\":%llu,\"rx_bad_csum\":%llu,"
			"\"tx_full\":%llu,\"wakeups\":%llu,\"rx_dropped\":%llu,"
			"\"rx_rearms\":%llu,\"rx_no_buf\":%llu,\"tx_zc\":%llu,"
			"\"tx_zc_copied\":%llu,\"rx_prio_packets\":%llu,"
			"\"rx_prio_dropped\":%llu,\"rx_low_deferred\":%llu},\"types\":[",
			(unsigned long long)s->io.rx_packets, (unsigned long long)s->io.rx_bytes,
			(unsigned long long)s->io.tx_packets, (unsigned long long)s->io.tx_bytes,
			(unsigned long long)s->io.rx_invalid, (unsigned long long)s->io.rx_bad_csum,
			(unsigned long long)s->io.tx_ring_full, (unsigned long long)s->io.wakeups,
			(unsigned long long)s->io.rx_dropped, (unsigned long long)s->io.rx_rearms,
			(unsigned long long)s->io.rx_no_buf, (unsigned long long)s->io.tx_zc,
			(unsigned long long)s->io.tx_zc_copied,
			(unsigned long long)s->io.rx_prio_packets,
			(unsigned long long)s->io.rx_prio_dropped,
			(unsigned long long)s->io.rx_low_deferred);
		first = true;
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
			if (!type_used(&s->type[t]))
				continue;
			fprintf(f, "%s", first ? "" : ",");
			json_type_stats(f, &s->type[t], t < rt->reg.n ? rt->reg.e[t].type : -1,
					t < rt->reg.n ? rt->reg.e[t].h->name : "unknown");
			first = false;
		}
		fprintf(f, "]}");
	}
	fprintf(f, "],\"types\":[");
	for (unsigned int t = 0, first = 1; t <= EP_MAX_HANDLERS; t++) {
		if (t < rt->reg.n || type_used(&all[t])) {
			fprintf(f, "%s", first ? "" : ",");
			json_type_stats(f, &all[t], t < rt->reg.n ? rt->reg.e[t].type : -1,
					t < rt->reg.n ? rt->reg.e[t].h->name : "unknown");
			first = 0;
		}
	}
	fprintf(f, "]}\n");
}

static void report_text(struct ep_runtime *rt, FILE *f, struct ep_worker_stats *st,
			struct ep_type_stats *all)
{
	fprintf(f, "%-6s %-6s %12s %8s %10s %8s %12s %12s\n", "worker", "queue", "datagrams",
		"queued", "duplicates", "shed", "reasm_done", "cache_hits");
	for (unsigned int i = 0; i < rt->nworkers; i++)
		fprintf(f, "%-6u %-6u %12llu %8u %10llu %8llu %12llu %12llu\n", i,
			rt->conf->queues[i], (unsigned long long)st[i].dgrams, st[i].queued,
			(unsigned long long)st[i].duplicates, (unsigned long long)st[i].shed,
			(unsigned long long)st[i].reasm.completed,
			(unsigned long long)st[i].cache.hits_done);
	if (rt->keys) { /* device authentication: the node, then drops by reason */
		uint64_t ok = 0, drop[EP_AUTH_DROP__COUNT] = { 0 };

		for (unsigned int i = 0; i < rt->nworkers; i++) {
			ok += st[i].auth_ok;
			for (unsigned int r = 0; r < EP_AUTH_DROP__COUNT; r++)
				drop[r] += st[i].auth_dropped[r];
		}
		fprintf(f, "\nauth: mode %s, node %u, %u keys, %llu datagrams verified",
			ep_xdp_auth_mode_name(rt->conf->w.auth_mode), ep_keytab_node_id(rt->keys),
			ep_keytab_count(rt->keys), (unsigned long long)ok);
		for (unsigned int r = 0, n = 0; r < EP_AUTH_DROP__COUNT; r++)
			if (drop[r])
				fprintf(f, "%s %s %llu",
					n++ ? "," : "; dropped:", ep_auth_drop_name(r),
					(unsigned long long)drop[r]);
		fprintf(f, "\n");
	}
	fprintf(f, "\n%-5s %-12s %10s %10s %8s %9s %9s %9s %7s\n", "type", "handler", "received",
		"completed", "errors", "p50_us", "p99_us", "max_us", "batch");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		const struct ep_type_stats *s = &all[t];
		uint64_t errors = 0;

		if (t >= rt->reg.n && !type_used(s))
			continue;
		for (int e = 1; e < EP_ST__COUNT; e++)
			errors += s->errors[e];
		fprintf(f, "%-5d %-12s %10llu %10llu %8llu %9.1f %9.1f %9.1f %7.1f\n",
			t < rt->reg.n ? rt->reg.e[t].type : -1,
			t < rt->reg.n ? rt->reg.e[t].h->name : "unknown",
			(unsigned long long)s->received, (unsigned long long)s->completed,
			(unsigned long long)errors,
			(double)ep_hist_percentile(&s->latency_ns, 50) / 1000.0,
			(double)ep_hist_percentile(&s->latency_ns, 99) / 1000.0,
			(double)s->latency_ns.max / 1000.0,
			s->batch_size.count
				? (double)s->batch_size.sum / (double)s->batch_size.count
				: 0.0);
	}
}

/* Every worker's statistics, and per task type merged over the workers: what both the
 * statistics socket and /metrics report. */
struct snapshot {
	struct ep_worker_stats *st; /* [nworkers] */
	struct ep_type_stats *all;  /* [EP_MAX_HANDLERS + 1], by registry entry */
};

static void snapshot_free(struct snapshot *s)
{
	free(s->st);
	free(s->all);
}

static int snapshot_take(struct ep_runtime *rt, struct snapshot *s)
{
	s->st = calloc(rt->nworkers ? rt->nworkers : 1, sizeof(*s->st));
	s->all = calloc(EP_MAX_HANDLERS + 1, sizeof(*s->all));
	if (!s->st || !s->all) {
		snapshot_free(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		ep_worker_stats(rt->workers[i], &s->st[i]);
		for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++)
			merge_type(&s->all[t], &s->st[i].type[t]);
	}
	return 0;
}

void ep_runtime_report(struct ep_runtime *rt, FILE *f, bool json)
{
	struct snapshot s;

	if (snapshot_take(rt, &s)) {
		fprintf(f, json ? "{\"error\":\"out of memory\"}\n" : "out of memory\n");
		return;
	}
	if (json)
		report_json(rt, f, s.st, s.all);
	else
		report_text(rt, f, s.st, s.all);
	snapshot_free(&s);
}

/* --- Prometheus metrics ------------------------------------------------------------- */

/* Cumulative bounds of the exported histograms: latency in seconds, batch sizes in tasks. */
static const double latency_bounds[] = { 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,	2.5e-3, 5e-3,
					 10e-3, 25e-3,	50e-3,	100e-3, 250e-3, 1.0 };
static const double batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };

#define CPU_INTERVAL_NS (1000 * 1000 * 1000ull) /* shortest CPU busy interval */

static int read_cpu_times(struct cpu_times *t)
{
	struct ep_cpu_times ct;
	int err = ep_sys_cpu_times(&ct);

	if (err)
		return err;
	t->busy = ct.busy;
	t->total = ct.total;
	t->at_ns = ep_now_ns();
	return 0;
}

/* The busy fraction of the host's CPUs over the last interval between scrapes. An
 * interval lasts at least CPU_INTERVAL_NS: a scrape sooner gets the previous interval's
 * value, except before the first interval (since the start of the metrics server) has
 * ended, when it gets the fraction so far. NaN when /proc/stat has not moved yet. */
static double cpu_busy(struct ep_runtime *rt)
{
	struct cpu_times now;
	double busy;

	if (read_cpu_times(&now))
		return NAN;
	if (now.total <= rt->cpu_prev.total || now.busy < rt->cpu_prev.busy)
		return rt->cpu_busy;
	busy = (double)(now.busy - rt->cpu_prev.busy) / (double)(now.total - rt->cpu_prev.total);
	if (now.at_ns - rt->cpu_prev.at_ns >= CPU_INTERVAL_NS) {
		rt->cpu_busy = busy;
		rt->cpu_prev = now;
	}
	return isnan(rt->cpu_busy) ? busy : rt->cpu_busy;
}

/* MemTotal and MemAvailable, in bytes. */
static int read_meminfo(uint64_t *total, uint64_t *avail)
{
	int err = ep_sys_meminfo(total, avail);

	if (err)
		return err;
	*total *= 1024;
	*avail *= 1024;
	return 0;
}

/* Per-worker fields exported as one metric each, labelled by queue. */
struct queue_metric {
	const char *name, *type, *help;
	size_t off, size;
};

#define QM(name, type, field, help)                                        \
	{                                                                  \
		name, type, help, offsetof(struct ep_worker_stats, field), \
			sizeof(((struct ep_worker_stats *)0)->field)       \
	}

static const struct queue_metric queue_metrics[] = {
	QM("edgeplane_datagrams_total", "counter", dgrams, "Datagrams the worker received."),
	QM("edgeplane_duplicates_total", "counter", duplicates,
	   "Retries of tasks still queued or running, ignored."),
	QM("edgeplane_tasks_shed_total", "counter", shed,
	   "Queued low-priority tasks dropped for higher-priority ones."),
	QM("edgeplane_pings_total", "counter", pings, "PINGs answered."),
	QM("edgeplane_cancels_total", "counter", cancels, "CANCELs received."),
	QM("edgeplane_reply_dropped_total", "counter", reply_dropped,
	   "Reply fragments dropped for want of a transmit buffer."),
	QM("edgeplane_replies_compressed_total", "counter", replies_compressed,
	   "Replies sent zstd-compressed."),
	QM("edgeplane_retries_sent_total", "counter", retries_sent,
	   "RETRYs sent (with an address-validation token) instead of a reply larger than "
	   "an unvalidated source's budget."),
	QM("edgeplane_tokens_accepted_total", "counter", tokens_accepted,
	   "Datagrams carrying a valid address-validation token."),
	QM("edgeplane_tokens_refused_total", "counter", tokens_refused,
	   "Datagrams carrying an invalid address-validation token (forged, expired, another "
	   "address or port, another node's secret)."),
	QM("edgeplane_replies_cut_total", "counter", replies_cut,
	   "ERROR texts shortened to fit an unvalidated source's budget."),
	QM("edgeplane_priority_lowered_total", "counter", priority_lowered,
	   "Tasks whose priority was above limits.max_priority, lowered to it."),
	QM("edgeplane_low_sliced_total", "counter", low_sliced,
	   "Low-priority batches cut to one task while high-priority work was under way."),
	QM("edgeplane_task_acks_sent_total", "counter", task_acks_sent,
	   "TASK_ACKs sent: the fragments of a request held (selective repeat)."),
	QM("edgeplane_result_acks_total", "counter", result_acks, "Valid RESULT_ACKs received."),
	QM("edgeplane_bad_acks_total", "counter", bad_acks,
	   "RESULT_ACKs with an invalid payload, dropped."),
	QM("edgeplane_result_frags_resent_total", "counter", result_frags_resent,
	   "Result fragments resent for RESULT_ACKs (those the client lacked)."),
	QM("edgeplane_auth_ok_total", "counter", auth_ok,
	   "AUTH datagrams that passed every check: key, role, tenant, freshness, tag, replay."),
	QM("edgeplane_auth_replies_dropped_total", "counter", auth_replies_dropped,
	   "Reply datagrams to authenticated tasks not sent: their key was revoked, expired or "
	   "removed by then."),
	QM("edgeplane_decompress_in_bytes_total", "counter", bytes_decompressed_in,
	   "Compressed task payload bytes decompressed."),
	QM("edgeplane_decompress_out_bytes_total", "counter", bytes_decompressed_out,
	   "Task payload bytes after decompression."),
	QM("edgeplane_tasks_queued", "gauge", queued,
	   "Tasks accepted and waiting for their handler."),
	QM("edgeplane_reassembly_started_total", "counter", reasm.started,
	   "Multi-fragment tasks whose reassembly began."),
	QM("edgeplane_reassembly_completed_total", "counter", reasm.completed,
	   "Multi-fragment tasks reassembled completely."),
	QM("edgeplane_reassembly_expired_total", "counter", reasm.expired,
	   "Incomplete tasks expired (answered TIMEOUT)."),
	QM("edgeplane_reassembly_expired_lifetime_total", "counter", reasm.expired_lifetime,
	   "Incomplete tasks expired at reassembly.max_lifetime_ms (counted in expired too)."),
	QM("edgeplane_reassembly_evicted_total", "counter", reasm.evicted,
	   "Incomplete tasks evicted under memory pressure (answered OVERLOADED)."),
	QM("edgeplane_reassembly_cancelled_total", "counter", reasm.cancelled,
	   "Incomplete tasks removed by a CANCEL (answered CANCELLED)."),
	QM("edgeplane_reassembly_refused_total", "counter", reasm.refused,
	   "New multi-fragment tasks refused by a reassembly memory limit."),
	QM("edgeplane_reassembly_dropped_fragments_total", "counter", reasm.dropped,
	   "Fragments of tasks in progress dropped for want of reassembly memory."),
	QM("edgeplane_reassembly_duplicate_fragments_total", "counter", reasm.duplicates,
	   "Fragments received twice, ignored."),
	QM("edgeplane_reassembly_conflicting_fragments_total", "counter", reasm.conflicts,
	   "Fragments contradicting their task, refused."),
	QM("edgeplane_reassembly_tasks", "gauge", reasm.tasks, "Tasks being reassembled now."),
	QM("edgeplane_reassembly_bytes", "gauge", reasm.bytes,
	   "Bytes charged to tasks being reassembled now (pages written)."),
	QM("edgeplane_cache_hits_total", "counter", cache.hits_done,
	   "Retries answered from the result cache."),
	QM("edgeplane_cache_pending_hits_total", "counter", cache.hits_pending,
	   "Retries of tasks not yet answered, found in the result cache."),
	QM("edgeplane_cache_gap_hits_total", "counter", cache.hits_gap,
	   "Retries inside the resend gap of a cached reply, ignored."),
	QM("edgeplane_cache_replays_refused_total", "counter", cache.replays_refused,
	   "Retries past a task's replay budget (cache.max_replays), ignored."),
	QM("edgeplane_cache_ack_hits_total", "counter", cache.acks_done,
	   "RESULT_ACKs answered with the missing fragments of a cached result."),
	QM("edgeplane_cache_ack_duplicates_total", "counter", cache.acks_dup,
	   "RESULT_ACKs repeating the previous one's count within 2 ms, ignored."),
	QM("edgeplane_cache_acks_refused_total", "counter", cache.acks_refused,
	   "RESULT_ACKs past a result's resend budget (cache.max_replays x its fragments), "
	   "ignored."),
	QM("edgeplane_cache_conflicts_total", "counter", cache.conflicts,
	   "Requests reusing a cached task id for another request, answered CONFLICT."),
	QM("edgeplane_cache_refused_total", "counter", cache.refused,
	   "New tasks refused OVERLOADED because every cache entry was pending."),
	QM("edgeplane_cache_evicted_total", "counter", cache.evicted,
	   "Result cache entries evicted by its memory bounds."),
	QM("edgeplane_cache_expired_total", "counter", cache.expired,
	   "Result cache entries that left after their window."),
	QM("edgeplane_cache_entries", "gauge", cache.entries, "Result cache entries now."),
	QM("edgeplane_cache_pending", "gauge", cache.pending,
	   "Result cache entries of tasks queued or running now."),
	QM("edgeplane_cache_bytes", "gauge", cache.bytes, "Result cache bytes now."),
	QM("edgeplane_io_rx_packets_total", "counter", io.rx_packets,
	   "Packets the I/O backend received."),
	QM("edgeplane_io_rx_bytes_total", "counter", io.rx_bytes,
	   "Bytes the I/O backend received."),
	QM("edgeplane_io_tx_packets_total", "counter", io.tx_packets,
	   "Packets the I/O backend sent."),
	QM("edgeplane_io_tx_bytes_total", "counter", io.tx_bytes, "Bytes the I/O backend sent."),
	QM("edgeplane_io_rx_invalid_total", "counter", io.rx_invalid,
	   "Frames the I/O backend could not parse."),
	QM("edgeplane_io_rx_bad_csum_total", "counter", io.rx_bad_csum,
	   "Datagrams dropped for a wrong UDP checksum."),
	QM("edgeplane_io_tx_ring_full_total", "counter", io.tx_ring_full,
	   "Replies dropped: no transmit buffer after a flush."),
	QM("edgeplane_io_wakeups_total", "counter", io.wakeups,
	   "need_wakeup system calls made by the I/O backend."),
	QM("edgeplane_io_rx_dropped_total", "counter", io.rx_dropped,
	   "Frames the kernel dropped before the AF_XDP RX ring (ring full, no fill buffer), "
	   "or datagrams the socket's receive queue dropped."),
	QM("edgeplane_io_rx_rearms_total", "counter", io.rx_rearms,
	   "io_uring: multishot receives armed again after the kernel ended them."),
	QM("edgeplane_io_rx_no_buf_total", "counter", io.rx_no_buf,
	   "io_uring: times the provided buffer ring ran dry (datagrams wait in the socket)."),
	QM("edgeplane_io_tx_zc_total", "counter", io.tx_zc,
	   "io_uring: sends with send_zc (zero copy)."),
	QM("edgeplane_io_tx_zc_copied_total", "counter", io.tx_zc_copied,
	   "io_uring: send_zc sends the kernel copied after all."),
	QM("edgeplane_io_rx_prio_packets_total", "counter", io.rx_prio_packets,
	   "AF_XDP: frames received on the queue's priority socket (limits.high_priority)."),
	QM("edgeplane_io_rx_prio_dropped_total", "counter", io.rx_prio_dropped,
	   "AF_XDP: frames the kernel dropped before the priority socket's RX ring."),
	QM("edgeplane_io_rx_low_deferred_total", "counter", io.rx_low_deferred,
	   "AF_XDP: receive passes that left the default ring unread, its share of frames "
	   "being held by queued tasks."),
};

static uint64_t queue_value(const struct ep_worker_stats *s, const struct queue_metric *m)
{
	const char *p = (const char *)s + m->off;

	if (m->size == sizeof(uint32_t))
		return *(const uint32_t *)p;
	return *(const uint64_t *)p;
}

/* Labels of registry entry @t (EP_MAX_HANDLERS: tasks of no known type). */
static void type_labels(const struct ep_runtime *rt, unsigned int t, char *type, size_t len,
			const char **handler)
{
	if (t < rt->reg.n) {
		snprintf(type, len, "%u", rt->reg.e[t].type);
		*handler = rt->reg.e[t].h->name;
	} else {
		snprintf(type, len, "unknown");
		*handler = "unknown";
	}
}

/* The entries exported per type: every registered handler, and unknown types. */
static bool type_exported(const struct ep_runtime *rt, unsigned int t)
{
	return t < rt->reg.n || t == EP_MAX_HANDLERS;
}

static void write_queue_metrics(struct ep_runtime *rt, FILE *f, const struct snapshot *s)
{
	const struct ep_conf *c = rt->conf;
	char q[16];

	for (size_t k = 0; k < sizeof(queue_metrics) / sizeof(queue_metrics[0]); k++) {
		const struct queue_metric *m = &queue_metrics[k];

		ep_metrics_help_type(f, m->name, m->help, m->type);
		for (unsigned int i = 0; i < rt->nworkers; i++) {
			snprintf(q, sizeof(q), "%u", c->queues[i]);
			ep_metrics_sample_u64(f, m->name, EP_LABELS({ "queue", q }),
					      queue_value(&s->st[i], m));
		}
	}
	ep_metrics_help_type(f, "edgeplane_datagrams_invalid_total",
			     "Datagrams the codec refused, by the protocol rule they broke.",
			     "counter");
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		snprintf(q, sizeof(q), "%u", c->queues[i]);
		for (unsigned int r = 0; r < EP_STAT__COUNT; r++) {
			if (!ep_stat_is_drop(r) && !s->st[i].invalid[r])
				continue;
			ep_metrics_sample_u64(
				f, "edgeplane_datagrams_invalid_total",
				EP_LABELS({ "queue", q }, { "reason", ep_stat_name(r) }),
				s->st[i].invalid[r]);
		}
	}
}

/* Device authentication: drops by reason, per queue, and the node's keys. */
static void write_auth_metrics(struct ep_runtime *rt, FILE *f, const struct snapshot *s)
{
	struct ep_keysrc_stats ks;
	char q[16];

	ep_metrics_help_type(f, "edgeplane_auth_dropped_total",
			     "Datagrams dropped by device authentication, unanswered, by reason "
			     "(missing: no AUTH in mode required).",
			     "counter");
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		snprintf(q, sizeof(q), "%u", rt->conf->queues[i]);
		for (unsigned int r = 0; r < EP_AUTH_DROP__COUNT; r++)
			ep_metrics_sample_u64(
				f, "edgeplane_auth_dropped_total",
				EP_LABELS({ "queue", q }, { "reason", ep_auth_drop_name(r) }),
				s->st[i].auth_dropped[r]);
	}
	if (!rt->keys)
		return;
	ep_metrics_help_type(f, "edgeplane_auth_keys",
			     "Session keys the node knows now "
			     "(revoked ones included, until they leave).",
			     "gauge");
	ep_metrics_sample_u64(f, "edgeplane_auth_keys", NULL, ep_keytab_count(rt->keys));
	if (!rt->keysrc)
		return;
	ep_keysrc_get_stats(rt->keysrc, &ks);
	if (!rt->conf->auth.keys_file)
		goto controller;
	ep_metrics_help_type(f, "edgeplane_auth_key_loads_total",
			     "Reads of auth.keys_file, by result (an error keeps the keys read "
			     "before).",
			     "counter");
	ep_metrics_sample_u64(f, "edgeplane_auth_key_loads_total", EP_LABELS({ "result", "ok" }),
			      ks.loads);
	ep_metrics_sample_u64(f, "edgeplane_auth_key_loads_total", EP_LABELS({ "result", "error" }),
			      ks.load_errors);
	return;
controller:
	ep_metrics_help_type(f, "edgeplane_auth_syncs_total",
			     "Sync rounds with auth.controller, by result (an error includes a "
			     "failed connection).",
			     "counter");
	ep_metrics_sample_u64(f, "edgeplane_auth_syncs_total", EP_LABELS({ "result", "ok" }),
			      ks.syncs);
	ep_metrics_sample_u64(f, "edgeplane_auth_syncs_total", EP_LABELS({ "result", "error" }),
			      ks.sync_errors);
	ep_metrics_help_type(f, "edgeplane_auth_controller_connected",
			     "1 while the connection to auth.controller is up.", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_auth_controller_connected", NULL, ks.connected);
}

static void write_type_counter(struct ep_runtime *rt, FILE *f, const struct snapshot *s,
			       const char *name, const char *help, size_t off)
{
	const char *handler;
	char type[16];

	ep_metrics_help_type(f, name, help, "counter");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		if (!type_exported(rt, t))
			continue;
		type_labels(rt, t, type, sizeof(type), &handler);
		ep_metrics_sample_u64(f, name, EP_LABELS({ "type", type }, { "handler", handler }),
				      *(const uint64_t *)((const char *)&s->all[t] + off));
	}
}

static void write_type_metrics(struct ep_runtime *rt, FILE *f, const struct snapshot *s)
{
	const char *handler;
	char type[16];

	write_type_counter(rt, f, s, "edgeplane_tasks_received_total",
			   "Tasks received complete, accepted or refused.",
			   offsetof(struct ep_type_stats, received));
	write_type_counter(rt, f, s, "edgeplane_tasks_completed_total",
			   "Tasks answered with a RESPONSE.",
			   offsetof(struct ep_type_stats, completed));
	write_type_counter(rt, f, s, "edgeplane_task_cache_hits_total",
			   "Retries answered from the result cache.",
			   offsetof(struct ep_type_stats, cache_hits));

	ep_metrics_help_type(f, "edgeplane_task_errors_total",
			     "Tasks answered with an ERROR, by status.", "counter");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		if (!type_exported(rt, t))
			continue;
		type_labels(rt, t, type, sizeof(type), &handler);
		for (unsigned int st = 1; st < EP_ST__COUNT; st++)
			ep_metrics_sample_u64(f, "edgeplane_task_errors_total",
					      EP_LABELS({ "type", type }, { "handler", handler },
							{ "status", ep_status_name(st) }),
					      s->all[t].errors[st]);
	}

	ep_metrics_help_type(f, "edgeplane_task_latency_seconds",
			     "Time from a task's acceptance to its reply.", "histogram");
	for (unsigned int t = 0; t <= EP_MAX_HANDLERS; t++) {
		if (!type_exported(rt, t))
			continue;
		type_labels(rt, t, type, sizeof(type), &handler);
		ep_metrics_histogram(f, "edgeplane_task_latency_seconds",
				     EP_LABELS({ "type", type }, { "handler", handler }),
				     &s->all[t].latency_ns, 1e-9, latency_bounds,
				     sizeof(latency_bounds) / sizeof(latency_bounds[0]));
	}

	/* Tasks of unknown types never reach a handler: no batch sizes for them. */
	ep_metrics_help_type(f, "edgeplane_handler_batch_size", "Tasks per handler call.",
			     "histogram");
	for (unsigned int t = 0; t < rt->reg.n; t++) {
		type_labels(rt, t, type, sizeof(type), &handler);
		ep_metrics_histogram(f, "edgeplane_handler_batch_size",
				     EP_LABELS({ "type", type }, { "handler", handler }),
				     &s->all[t].batch_size, 1.0, batch_bounds,
				     sizeof(batch_bounds) / sizeof(batch_bounds[0]));
	}
}

static void write_node_metrics(struct ep_runtime *rt, FILE *f, const struct snapshot *s)
{
	uint64_t queued = 0, reassembling = 0, mem_total = 0, mem_avail = 0;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (unsigned int i = 0; i < rt->nworkers; i++) {
		queued += s->st[i].queued;
		reassembling += s->st[i].reasm.tasks;
	}
	ep_metrics_help_type(f, "edgeplane_node_cpu_busy_ratio",
			     "Busy fraction of all the host's CPUs (not idle, not iowait) over "
			     "the last interval of at least 1 s between scrapes.",
			     "gauge");
	ep_metrics_sample(f, "edgeplane_node_cpu_busy_ratio", NULL, cpu_busy(rt));
	ep_metrics_help_type(f, "edgeplane_node_cpus", "CPUs online.", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_node_cpus", NULL, ncpus > 0 ? (uint64_t)ncpus : 0);
	if (!read_meminfo(&mem_total, &mem_avail)) {
		ep_metrics_help_type(f, "edgeplane_node_memory_available_bytes",
				     "MemAvailable of /proc/meminfo.", "gauge");
		ep_metrics_sample_u64(f, "edgeplane_node_memory_available_bytes", NULL, mem_avail);
		ep_metrics_help_type(f, "edgeplane_node_memory_total_bytes",
				     "MemTotal of /proc/meminfo.", "gauge");
		ep_metrics_sample_u64(f, "edgeplane_node_memory_total_bytes", NULL, mem_total);
	}
	ep_metrics_help_type(f, "edgeplane_node_tasks_queued",
			     "Tasks waiting for their handler, on all workers.", "gauge");
	ep_metrics_sample_u64(f, "edgeplane_node_tasks_queued", NULL, queued);
	ep_metrics_help_type(f, "edgeplane_node_tasks_in_flight",
			     "Tasks received and not yet answered, on all workers: queued, and "
			     "being reassembled.",
			     "gauge");
	ep_metrics_sample_u64(f, "edgeplane_node_tasks_in_flight", NULL, queued + reassembling);
}

static void write_classifier_metrics(struct ep_runtime *rt, FILE *f)
{
	struct ep_counter cnt[EP_STAT__COUNT];
	int err;

	if (rt->xdp_stats_fd < 0)
		return;
	err = ep_xdp_read_stats(rt->xdp_stats_fd, cnt);
	if (err) {
		pr_debug("metrics: classifier counters: %s", strerror(-err));
		return;
	}
	ep_metrics_help_type(f, "edgeplane_classifier_packets_total",
			     "Packets the XDP classifier saw, by outcome.", "counter");
	for (unsigned int o = 0; o < EP_STAT__COUNT; o++)
		ep_metrics_sample_u64(f, "edgeplane_classifier_packets_total",
				      EP_LABELS({ "outcome", ep_stat_name(o) }), cnt[o].packets);
	ep_metrics_help_type(f, "edgeplane_classifier_bytes_total",
			     "Bytes of the packets the XDP classifier saw, by outcome.", "counter");
	for (unsigned int o = 0; o < EP_STAT__COUNT; o++)
		ep_metrics_sample_u64(f, "edgeplane_classifier_bytes_total",
				      EP_LABELS({ "outcome", ep_stat_name(o) }), cnt[o].bytes);
}

static int write_metrics(void *arg, FILE *f)
{
	struct ep_runtime *rt = arg;
	const struct ep_conf *c = rt->conf;
	char port[8];
	struct snapshot s;
	int err;

	err = snapshot_take(rt, &s);
	if (err)
		return err;
	snprintf(port, sizeof(port), "%u", c->port);
	ep_metrics_help_type(f, "edgeplane_runtime_info",
			     "The runtime's settings, as labels; the value is 1.", "gauge");
	ep_metrics_sample(f, "edgeplane_runtime_info",
			  EP_LABELS({ "backend", c->backend },
				    { "interface", c->interface ? c->interface : "" },
				    { "port", port },
				    { "xdp_mode", rt->xdp    ? ep_xdp_mode_name(rt->xdp)
						  : rt->dpdk ? ep_dpdk_xdp_mode(rt->dpdk)
							     : "" }),
			  1);
	ep_metrics_help_type(f, "edgeplane_start_time_seconds",
			     "When the runtime started, in seconds since the Unix epoch.", "gauge");
	ep_metrics_sample(f, "edgeplane_start_time_seconds", NULL, rt->started_unix);
	write_queue_metrics(rt, f, &s);
	write_auth_metrics(rt, f, &s);
	write_type_metrics(rt, f, &s);
	write_node_metrics(rt, f, &s);
	write_classifier_metrics(rt, f);
	snapshot_free(&s);
	return 0;
}

static int metrics_start(struct ep_runtime *rt)
{
	int err;

	rt->cpu_busy = NAN;
	read_cpu_times(&rt->cpu_prev);
	err = ep_metrics_start(rt->conf->metrics, write_metrics, rt, &rt->metrics);
	if (err)
		return err;
	pr_info("metrics on http://%s/metrics", rt->conf->metrics);
	return 0;
}
