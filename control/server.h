/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * server.h - the controller (`edgectl serve`): one thread runs an epoll loop over the
 * load-report socket, the edgectl API socket, a publish timer and a signalfd; the
 * metrics server (libmicrohttpd) reads a consistent view under the lock.
 *
 *   load reports (UDP) --> registry --> publish (double-buffered maps) --> XDP
 *   edgectl (Unix socket) ----^
 */
#ifndef EP_CONTROL_SERVER_H
#define EP_CONTROL_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "enroll_server.h"
#include "gw.h"
#include "keystore.h"
#include "report_auth.h"
#include "neigh.h"
#include "registry.h"

struct ep_cluster;

struct ep_ctl {
	struct ep_ctl_conf *conf;
	struct ep_gw *gw;
	pthread_mutex_t lock; /* registry, policy, counters */
	struct ep_registry reg;
	struct ep_policy policy;
	struct ep_gw_cfg cfg; /* what the next publish writes */
	/* EP_GW_TABLE_SIZE slots (4 MiB: allocated by ep_ctl_init(), freed by ep_ctl_fini()),
	 * the first 2^table_bits of them in use. */
	uint32_t *table;
	uint32_t table_bits;
	uint64_t table_built; /* registry table_version of @table */
	/* ep_ctl_publish()'s map image, allocated at its first call, freed by ep_ctl_fini(). */
	struct ep_gw_node *scratch_nodes;
	struct ep_table_member *scratch_members;

	int report_fd, api_fd, timer_fd, sig_fd, epfd;
	struct ep_neigh *neigh; /* the kernel's neighbour table, for reports' MACs */
	struct ep_metrics *metrics;
	gid_t admin_gid; /* socket_group's gid, or (gid_t)-1 */

	uint64_t start_ns, last_publish_ns;
	uint64_t publishes, publish_errors;
	uint64_t urgent_publishes;	   /* of publishes: at once, for a burst (or its end) */
	uint64_t rx_bad;		   /* report datagrams that are not a v1 LOAD_REPORT */
	uint64_t rx[EP_REG__COUNT];	   /* report datagrams by outcome (registry.h) */
	uint64_t rx_auth[EP_RAUTH__COUNT]; /* ... and before that, by key (report_auth.h) */
	uint64_t api_requests, api_denied;

	/* Enrollment (group enroll): the session keys and the TLS server; NULL when off. */
	struct ep_keystore *keys;
	struct ep_enroll_srv *enroll;
	uint64_t keys_mirrored; /* key generation the gateway's ep_keys has */
	uint64_t key_mirror_errors;
	volatile int stop;
	struct ep_cluster *cluster; /* the shared state in etcd (cluster.h); NULL: off */
};

/* Set up everything (attach XDP, sockets, metrics). Returns 0 or a negative errno. */
int ep_ctl_init(struct ep_ctl *c, struct ep_ctl_conf *conf);
/* Run until SIGINT/SIGTERM. Returns 0 or a negative errno. */
int ep_ctl_run(struct ep_ctl *c);
void ep_ctl_fini(struct ep_ctl *c);
/* Free the arrays ep_ctl_publish() builds in: its scratch node and member arrays (made on
 * first use) and the Maglev table (made by ep_ctl_init()). ep_ctl_fini() calls it. */
void ep_ctl_free_tables(struct ep_ctl *c);

/* Monotonic nanoseconds: the clock of bpf_ktime_get_ns(). */

/* The API (api.c): handle one request from a peer that may (@admin) or may not change
 * state. Returns a new response object; called with the lock not held. */
json_t *ep_ctl_api(struct ep_ctl *c, json_t *req, bool admin);
/* An API error reply, {"ok": false, "error": the message} (api.c; also cluster.c's). */
json_t *ep_ctl_api_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Apply a node/policy change and publish at once. Lock held. */
int ep_ctl_publish(struct ep_ctl *c, uint64_t now);
/* Prometheus text (metrics.c of control). */
int ep_ctl_write_metrics(void *arg, FILE *f);

#endif /* EP_CONTROL_SERVER_H */
