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
#include "daemon/runtime_int.h"
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

#define ADDRS_REFRESH_NS 1000000000ull /* how often the classifier's ep_addrs is read again */

/* The configuration's handlers into the registry, entry i's first at @first[i]; the
 * number of warm-up files of them all in *@nfiles. */
static int add_handlers(struct ep_runtime *rt, const struct ep_signing *sign, unsigned int *first,
			unsigned int *nfiles)
{
	const struct ep_conf *c = rt->conf;
	int ret;

	for (unsigned int i = 0; i < c->nhandlers; i++) {
		const struct ep_handler_conf *hc = &c->handlers[i];

		first[i] = rt->reg.n;
		ret = hc->plugin ? ep_registry_add_plugin(&rt->reg, sign, hc->plugin, hc->name,
							  hc->type, hc->args)
				 : ep_registry_add_builtin(&rt->reg, hc->name, hc->type, hc->args);
		if (ret < 0)
			return ret;
		for (unsigned int k = first[i]; k < rt->reg.n; k++)
			rt->reg.e[k].max_error = hc->max_error;
		*nfiles += hc->nfiles;
	}
	return 0;
}

/* Each entry's slice of @blobs[0..@nfiles) to its first handler, which frees them from
 * now on (on failure, those not given are freed here). */
static int give_files(struct ep_runtime *rt, const unsigned int *first, struct ep_blob *blobs,
		      unsigned int nfiles)
{
	const struct ep_conf *c = rt->conf;
	unsigned int at = 0;

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
			return -ENOMEM;
		}
		memcpy(e->files, blobs + at, n * sizeof(*blobs));
		e->nfiles = n;
		at += n;
	}
	return 0;
}

/* Cache warm-up: every file of every entry read in one go, then given to its entry. */
static int read_files(struct ep_runtime *rt, const unsigned int *first, unsigned int nfiles)
{
	const struct ep_conf *c = rt->conf;
	const char **paths = calloc(nfiles, sizeof(*paths));
	struct ep_blob *blobs = calloc(nfiles, sizeof(*blobs));
	unsigned int at = 0;
	int ret = -ENOMEM;

	if (!paths || !blobs)
		goto out;
	for (unsigned int i = 0; i < c->nhandlers; i++)
		for (unsigned int f = 0; f < c->handlers[i].nfiles; f++)
			paths[at++] = c->handlers[i].files[f];
	ret = ep_warmup_read(paths, nfiles, blobs);
	if (!ret)
		ret = give_files(rt, first, blobs, nfiles);
out:
	free(blobs);
	free(paths);
	return ret;
}

/* Each entry's files checked against their signatures and decrypted (with @key, if
 * file_encryption.key_file is set), and shared by the entry's other handlers. */
static int check_files(struct ep_runtime *rt, const unsigned int *first,
		       const struct ep_signing *sign, const uint8_t *key)
{
	const struct ep_conf *c = rt->conf;
	int ret = 0;

	for (unsigned int i = 0; i < c->nhandlers && !ret; i++) {
		struct ep_reg_entry *e = &rt->reg.e[first[i]];
		unsigned int end = i + 1 < c->nhandlers ? first[i + 1] : rt->reg.n;

		for (unsigned int f = 0; f < e->nfiles && !ret; f++) {
			ret = ep_signing_check(sign, "handler file", e->files[f].path,
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
	return ret;
}

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
	unsigned int *first = NULL, nfiles = 0;
	struct ep_signing sign;
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
	ret = first ? add_handlers(rt, &sign, first, &nfiles) : -ENOMEM;
	if (!ret && nfiles)
		ret = read_files(rt, first, nfiles);
	if (!ret && nfiles)
		ret = check_files(rt, first, &sign, key);
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

/* The classifier's settings from the configuration, the same for the afxdp and the
 * dpdk backends. */
static struct ep_xdp_opts classifier_opts(const struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;

	return (struct ep_xdp_opts){
		.ifname = c->interface,
		.port = c->port,
		.encap_port = c->encap_port,
		.reply_route = c->reply_route,
		.max_priority = c->w.max_priority,
		.any_dest_unsafe = c->any_dest_unsafe,
		.addrs = &c->addrs,
		.rate_limit = &rt->rate_limit,
		.auth_mode = c->w.auth_mode,
	};
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
		.cls = classifier_opts(rt),
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
	int fd = addrs_fd(rt), n;

	while (ep_sleeper_until(&rt->addrs, ep_now_ns() + ADDRS_REFRESH_NS)) {
		n = ep_xdp_sync_addrs(fd, &rt->conf->addrs);
		if (n < 0)
			pr_warn("classifier addresses: %s", strerror(-n));
		else if (n)
			pr_info("classifier addresses: %d changed", n);
	}
	return NULL;
}

static int addrs_start(struct ep_runtime *rt)
{
	return addrs_fd(rt) < 0 ? 0 : ep_sleeper_start(&rt->addrs, addrs_refresher, rt);
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

/* Address validation: the node's token secret, from validation.secret_file or random. */
static int validation_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	int err;

	if (c->w.validation == EP_VALIDATE_OFF) {
		pr_warn("validation.mode = \"off-unsafe\": replies to any source, of any size "
			"(a spoofed request can aim them at a third party)");
		return 0;
	}
	err = c->validation.secret_file
		      ? ep_token_master_load(&rt->token, c->validation.secret_file,
					     c->validation.token_period_s)
		      : ep_token_master_random(&rt->token, c->validation.token_period_s);
	if (err)
		return err;
	pr_info("address validation: %s, tokens from %s, period %u s",
		ep_validation_name(c->w.validation),
		c->validation.secret_file ? c->validation.secret_file
					  : "a random secret (this node only)",
		c->validation.token_period_s);
	return 0;
}

/*
 * The afxdp backend's classifier: attached, its priority slots written, and the queues
 * taken automatically counted again (some drivers, virtio_net, enable more once XDP is
 * attached).
 */
static int xdp_start(struct ep_runtime *rt, struct ep_conf *c)
{
	enum ep_xdp_mode mode = EP_XDP_MODE_AUTO;
	/* The classifier drops what breaks the protocol, up to its 64 MiB limit; a task
	 * above this node's own limit comes through and gets TOO_LARGE. */
	struct ep_xdp_opts xo = classifier_opts(rt);
	unsigned int before = c->nqueues;
	int err;

	xo.max_task_len = EP_MAX_TASK_LEN;
	xo.pin_dir = c->pin_dir;

	ep_xdp_parse_mode(c->xdp_mode, &mode);
	xo.mode = mode;
	err = ep_xdp_attach(&xo, &rt->xdp);
	if (err)
		return err;
	pr_info("classifier on %s in %s mode", c->interface, ep_xdp_mode_name(rt->xdp));
	err = write_prio_slots(rt);
	if (err) {
		pr_err("classifier priority slots: %s", strerror(-err));
		return err;
	}
	if (c->w.high_priority)
		pr_info("priorities %u-%u: a socket of their own on each queue", c->w.high_priority,
			EP_PRIO_MAX);
	if (!c->queues_auto)
		return 0;
	c->nqueues = 0;
	err = ep_conf_all_queues(c);
	if (err)
		return err;
	if (c->nqueues != before)
		pr_info("%s: %u RX queues once XDP is attached (%u before)", c->interface,
			c->nqueues, before);
	return 0;
}

/* The backend's classifier (afxdp: ours; dpdk: the PMD's), its counters and addresses. */
static int classifier_start(struct ep_runtime *rt, struct ep_conf *c)
{
	int err = 0;

	if (!strcmp(c->backend, "afxdp"))
		err = xdp_start(rt, c);
	else if (!strcmp(c->backend, "dpdk"))
		err = dpdk_start(rt);
	if (err || (!rt->xdp && !rt->dpdk))
		return err;
	classifier_warnings(c);
	classifier_stats_open(rt);
	return addrs_start(rt);
}

/* One worker per queue, each on its queue, then their threads. */
static int workers_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	if (ncpus < 1)
		ncpus = 1;
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
			return err;
		rt->workers[i] = ep_worker_new(&wc, &rt->reg, q, i);
		if (!rt->workers[i]) {
			err = -errno;
			pr_err("worker %u: %s", i, strerror(errno));
			return err;
		}
		rt->nworkers++;
	}
	for (unsigned int i = 0; i < rt->nworkers; i++) {
		err = -pthread_create(&rt->threads[i], NULL, worker_thread, rt->workers[i]);
		if (err)
			return err;
		rt->nthreads++;
	}
	return 0;
}

static void report(void *arg, FILE *f, bool json)
{
	ep_runtime_report(arg, f, json);
}

/* The statistics socket, if configured. */
static int statsrv_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	gid_t gid = EP_NO_GROUP;
	int err = 0;

	if (!c->stats_socket)
		return 0;
	if (c->stats_socket_group)
		err = ep_group_gid("stats_socket_group", c->stats_socket_group, &gid);
	return err ?: ep_statsrv_start(c->stats_socket, gid, report, rt, &rt->stats);
}

/* Load reports to report.controller (or each of report.controllers), if configured. */
static int reporter_start(struct ep_runtime *rt)
{
	const struct ep_conf *c = rt->conf;
	struct ep_report_cfg rc = {
		.controllers = c->report.controller ? (const char *const *)&c->report.controller
						    : (const char *const *)c->report.controllers,
		.ncontrollers = c->report.controller ? 1 : c->report.ncontrollers,
		/* 0 with auth.controller (the sync says); with a keys file's report key,
		 * auth.node_id (config.c checked it is a gateway node id). */
		.node_id = c->report.node_id
				   ?: c->auth.report_key_id && rt->keysrc ? c->auth.node_id
									  : 0,
		.interval_ms = c->report.interval_ms,
		.event_ms = c->report.event_ms,
		.capacity = c->report.capacity ?: 100 * rt->nworkers,
		.port = c->port,
		.keysrc = rt->keysrc,
		.keys = rt->keys,
		/* With the controller's keys, it takes only reports sealed with the node's
		 * own key, for the node id the sync gives. */
		.sealed_only = rt->keysrc && c->auth.controller,
	};

	if (!rc.ncontrollers)
		return 0;
	ep_cpu_source_parse(c->report.cpu, &rc.cpu);
	return ep_reporter_start(&rc, rt->workers, rt->nworkers, &rt->reporter);
}

int ep_runtime_start(struct ep_conf *c, struct ep_runtime **out)
{
	struct ep_runtime *rt = calloc(1, sizeof(*rt));
	int err;

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
	ep_conf_limits(c, &rt->limits);
	err = build_registry(rt);
	if (!err)
		err = validation_start(rt);
	if (!err)
		err = auth_start(rt);
	if (!err)
		err = classifier_start(rt, c);
	if (!err)
		err = keys_start(rt);
	if (!err)
		err = workers_start(rt);
	if (!err)
		err = statsrv_start(rt);
	if (!err && c->metrics)
		err = ep_rt_metrics_start(rt);
	if (!err)
		err = reporter_start(rt);
	if (err) {
		ep_runtime_stop(rt);
		return err;
	}
	*out = rt;
	return 0;
}

void ep_runtime_stop(struct ep_runtime *rt)
{
	if (!rt)
		return;
	ep_sleeper_stop(&rt->addrs);
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
