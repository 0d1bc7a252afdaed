/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cluster.h - the cluster's administrative state in etcd (issue 16; docs/cluster.md):
 * node registrations, manual drains, the policy (overflow targets included) and the live
 * controllers, under a prefix (default /edgeplane/v1/):
 *
 *   <prefix>nodes/<id>          {"name": .., "mac": .., "ip4": .., ...} (as node.add takes)
 *   <prefix>drains/<id>         {"by": "<controller>"}: node <id> is drained by hand
 *   <prefix>policy              {"set": ["policy=p2c", "stale_ms=1000", ...]} (every key)
 *   <prefix>controllers/<name>  {"interface": .., "pid": ..}, on the controller's lease
 *
 * A thread of its own reads everything, applies it to the registry and policy (under the
 * controller's lock) and watches from the next revision; when the watch breaks (a member
 * died, quorum lost, the revision compacted) it re-reads and watches again. Until then
 * the gateway keeps its last state (fail static). Changes from edgectl go to etcd first
 * (ep_cluster_api()) and are applied from the watch, by every controller alike. A second
 * thread keeps the controller's lease alive. Load reports stay out of etcd.
 */
#ifndef EP_CONTROL_CLUSTER_H
#define EP_CONTROL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "policy.h"
#include "registry.h"

struct ep_ctl;
struct ep_cluster;

/* Connect controller @c to etcd as c->conf->etcd says and start the threads (the first
 * read may still be under way on return: a controller starts even while etcd is down,
 * on its pinned state). 0 or -errno, said. */
int ep_cluster_start(struct ep_ctl *c, struct ep_cluster **out);
/* Stop the threads, revoke the lease, free. NULL: nothing. */
void ep_cluster_stop(struct ep_cluster *cl);
/*
 * An edgectl change (node.add, node.del, node.drain, node.undrain, policy.set) written to
 * etcd, then waited for until this controller's watch has applied it (bounded). Returns
 * the reply; called without the lock held.
 */
json_t *ep_cluster_api(struct ep_ctl *c, json_t *req, const char *cmd);
/* True if @cmd is one of those. */
bool ep_cluster_cmd(const char *cmd);
/* The connection's state for edgectl status. Lock held. */
json_t *ep_cluster_status(struct ep_cluster *cl);
/* Drains in etcd for nodes that appeared since (by their first report). Lock held;
 * returns true if something changed. */
bool ep_cluster_tick(struct ep_ctl *c);

/* The policy as every "key=value" of ep_policy_set() in @out (a new array). */
json_t *ep_cluster_policy_kv(const struct ep_policy *p);
/* A node as node.add takes it ({"id": .., "name": .., ...}; "interface": @ifname). */
json_t *ep_cluster_node_json(const struct ep_reg_node *n, const char *ifname);
/*
 * A node from node.add's object @o into @n (origin EP_ORIGIN_CLI) and its interface
 * name, if any, in *@ifname (points into @o). Returns 0 or -EINVAL with the problem in
 * @err (api.c's node.add uses it too).
 */
int ep_cluster_node_parse(json_t *o, struct ep_reg_node *n, const char **ifname, char *err,
			  size_t len);

#endif /* EP_CONTROL_CLUSTER_H */
