/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.h - the controller's configuration (libconfig; docs/operations.md shows a full
 * file), with command-line overrides applied by edgectl serve.
 */
#ifndef EP_CONTROL_CONFIG_H
#define EP_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enroll_server.h"
#include "policy.h"
#include "registry.h"

/* In a private directory of its own (edgeplane/unixsock.h): /run/edgeplane holds locks. */
#define EP_CTL_DEFAULT_SOCKET "/run/edgeplane/edgectl/edgectl.sock"
#define EP_CTL_DEFAULT_LISTEN                                  \
	"127.0.0.1:7879" /* this host only: set the management \
			  * address the workers report to */

#define EP_ETCD_MAX_ENDPOINTS  16
#define EP_ETCD_DEFAULT_PREFIX "/edgeplane/v1/"

/* Group etcd: the cluster's shared state (cluster.h); off without endpoints. */
struct ep_etcd_conf {
	char *endpoints[EP_ETCD_MAX_ENDPOINTS]; /* "http://ADDR:PORT" of each member */
	unsigned int nendpoints;
	char *prefix;	      /* every key under it (default EP_ETCD_DEFAULT_PREFIX) */
	uint32_t timeout_ms;  /* per call and endpoint */
	uint32_t lease_ttl_s; /* the controller's liveness key */
};

struct ep_ctl_conf {
	char *interface;	   /* the gateway's interface (required) */
	char *xdp_mode;		   /* auto, native, skb */
	char *pin_dir;		   /* NULL: the default for the interface */
	uint16_t port;		   /* task port of the virtual address */
	char *encap_source;	   /* outer IPv4 source of encapsulated tasks; NULL: the
				    * interface's first IPv4 address */
	char *encap_source6;	   /* outer IPv6 source (IPv6 underlay); NULL: the
				    * interface's first global IPv6 address */
	bool keep_attached;	   /* on exit, leave XDP running (default; see --detach) */
	bool relay_replies;	   /* route workers' replies that come back to us on to the
				    * client, in XDP (needs forwarding on for the interface) */
	bool relay_set_forwarding; /* write the interface's forwarding sysctls (else only
				    * read them, and warn) */
	bool debug;
	uint8_t max_priority;	     /* gateway.max_priority: cpu_max and overflow by
				      * min(priority, this) (3) */
	struct ep_rl_cfg rate_limit; /* group rate_limit: per source prefix, in XDP */

	char *listen;	    /* load reports: "ADDR:PORT", default EP_CTL_DEFAULT_LISTEN */
	char *socket;	    /* the edgectl API */
	char *socket_group; /* group allowed to change state; NULL: root only */
	char *metrics;	    /* "ADDR:PORT" for /metrics; NULL: off */
	char *log_level;

	struct ep_reg_opts reg;
	uint32_t publish_ms; /* coalesce map updates; also the minimum flip interval */
	struct ep_policy policy;

	struct ep_enroll_conf enroll; /* group enroll: on when enroll.listen is set */
	struct ep_etcd_conf etcd;     /* group etcd */
	enum ep_auth_mode auth_mode;  /* auth.mode: what the gateway's XDP asks of tasks
				       * (required, as the runtime's auth.mode) */

	unsigned int nnodes;
	struct ep_reg_node nodes[EP_GW_MAX_NODES];
	char *node_ifnames[EP_GW_MAX_NODES]; /* egress interface per node, or NULL */
};

void ep_ctl_conf_defaults(struct ep_ctl_conf *c);
void ep_ctl_conf_free(struct ep_ctl_conf *c);
/* Read @path over the defaults. Returns 0 or -EINVAL after logging every problem. */
int ep_ctl_conf_load(struct ep_ctl_conf *c, const char *path);
/* Print every setting of @c in the file's syntax (edgectl serve --print-config), each
 * with its range and doc, an unset one as a comment. Read back, it gives @c again. */
void ep_ctl_conf_print(FILE *f, const struct ep_ctl_conf *c);
/* Check the whole (after overrides). Returns 0 or -EINVAL after logging the problem. */
int ep_ctl_conf_validate(const struct ep_ctl_conf *c);

/* "aa:bb:cc:dd:ee:ff" -> 6 bytes. Returns 0 or -EINVAL. */
int ep_parse_mac(const char *s, uint8_t mac[6]);

#endif /* EP_CONTROL_CONFIG_H */
