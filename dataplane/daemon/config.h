/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.h - the runtime's settings: defaults, then the config file (libconfig syntax,
 * see docs/operations.md), then command-line overrides.
 */
#ifndef EP_CONFIG_H
#define EP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/registry.h"
#include "core/worker.h"
#include "ep_shared.h"
#include "xdp/ep_xdp.h"

#define EP_MAX_FILES		  16
#define EP_DPDK_MAX_EAL_ARGS	  32
/* Controllers a runtime reports its load to (report.controllers): one per gateway. */
#define EP_REPORT_MAX_CONTROLLERS 8

struct ep_handler_conf {
	char *name;    /* built-in or plugin handler name (plugin: optional) */
	char *plugin;  /* shared object, or NULL for a built-in */
	uint16_t type; /* 0: the handler's default */
	char *args;
	uint8_t max_error;	   /* frame codec: largest error k accepted; 0 lossless */
	char *files[EP_MAX_FILES]; /* warm-up files, read with io_uring before init */
	unsigned int nfiles;
};

struct ep_conf {
	char *backend; /* "afxdp", "udp" or "uring" */
	char *interface;
	char *bind;	 /* udp, uring backends: address to bind */
	bool share_port; /* udp, uring: another process may hold the port too */
	uint16_t port;
	unsigned int nqueues;
	unsigned int queues[EP_MAX_QUEUES]; /* afxdp; none set: all of the interface's */
	bool queues_auto;		    /* queues[] was filled by ep_conf_all_queues() */
	unsigned int workers;		    /* udp, uring: sockets sharing the port */
	int cpus[EP_MAX_QUEUES];	    /* -1: not pinned */

	char *xdp_mode;	 /* auto, native, skb */
	int zerocopy;	 /* -1 auto, 0 off, 1 on */
	int verify_csum; /* 1 on (default), -1 auto (off on veth: unsafe), 0 off */
	bool busy_poll;
	uint32_t frames, frame_size;
	bool keep_attached; /* leave the classifier attached at exit */
	char *pin_dir;
	uint16_t encap_port; /* decapsulate a gateway's UDP-encapsulated tasks; 0 off
			      * (the default) */
	bool reply_route;    /* tasks forwarded by a gateway: reply to the client's
			      * next hop (FIB lookup), not to the gateway */
	/* xdp.virtual_addresses (tasks to them are ours too: a gateway's VIP, DSR) and
	 * xdp.encap_sources (the gateways that may send encapsulated tasks). */
	struct ep_xdp_addr_cfg addrs;
	bool any_dest_unsafe;	      /* xdp.destination_check = "off-unsafe" */
	struct ep_rl_cfg rate_limit;  /* group rate_limit; prefixes from limits */
	struct ep_io_uring_cfg uring; /* the uring backend (group uring) */
	/* The dpdk backend (group dpdk; io/dpdk.h says what each is for). */
	struct {
		char *eal_args[EP_DPDK_MAX_EAL_ARGS]; /* appended to the EAL's arguments */
		unsigned int neal_args;
		bool no_huge;
		uint32_t memory_mb;
		char *file_prefix; /* NULL: --in-memory */
		char *lcores;	   /* NULL: 0@(the CPUs the process may use) */
		char *vdev;	   /* NULL: net_af_xdp on the interface */
		char *xdp_prog;	   /* NULL: the classifier for DPDK, found */
		int busy_budget;   /* -1: the PMD's default */
		uint32_t mbufs;	   /* per queue */
	} dpdk;

	/* Load reports to the controller (docs/loadbalancing.md); off without a controller. */
	struct {
		char *controller; /* "ADDR:PORT" */
		/* or several: every gateway's controller behind ECMP (docs/cluster.md) */
		char *controllers[EP_REPORT_MAX_CONTROLLERS];
		unsigned int ncontrollers;
		uint32_t node_id; /* 1..8191 */
		uint32_t interval_ms;
		uint32_t event_ms; /* 2; 0: no event reports */
		uint32_t capacity; /* 0: 100 per worker */
		char *cpu;	   /* "system" or "process" */
	} report;

	struct ep_worker_cfg w; /* w.validation, w.max_work: validation.mode and
				 * limits.max_work; w.auth_mode, w.clock_skew_s: auth's
				 * mode and clock_skew_s; w.token, w.keys: the runtime
				 * sets them */

	/* Device authentication (docs/protocol.md 3.5): where the keys come from. */
	struct {
		char *keys_file;       /* a JSON array of key objects, reread when it changes */
		char *controller;      /* "ADDR:PORT": synced over mutual TLS */
		char *cert, *key, *ca; /* the node's certificate (OU=node), key, the CA */
		uint32_t sync_ms;
		uint32_t node_id;	/* keys_file: the sender of what the node seals */
		uint32_t report_key_id; /* keys_file: the key that seals load reports; 0 none */
	} auth;

	/* Address validation (docs/protocol.md 3.7). */
	struct {
		char *secret_file;	 /* the master secret; NULL: random per start */
		uint32_t token_period_s; /* epoch length */
	} validation;

	/* Signatures of plugins and handler files (core/sign.h, docs/operations.md). */
	struct {
		char *public_key; /* the operator's Ed25519 public key, PEM; NULL: none */
		bool off_unsafe;  /* mode = "off-unsafe": nothing is checked */
	} signing;
	/* Handler files stored encrypted (core/crypt.h): the key, 32 bytes, owner-only. */
	struct {
		char *key_file; /* NULL: none (an encrypted file is refused) */
	} file_encryption;

	struct ep_handler_conf handlers[EP_MAX_HANDLERS];
	unsigned int nhandlers; /* 0: every built-in at its default type */

	char *stats_socket;
	char *stats_socket_group; /* its directory 2750 and socket 0660 of this group;
				   * NULL: 0700 and 0600 */
	char *metrics;		  /* "ADDR:PORT": serve Prometheus /metrics; NULL: off */
	char *ready_file;
	char *log_level;
};

void ep_conf_defaults(struct ep_conf *c);
/* Read @path over the current settings. Returns 0, or -EINVAL after logging the file,
 * line and setting at fault. */
int ep_conf_load(struct ep_conf *c, const char *path);
/* Print every setting of @c in the file's syntax (edgeplane --print-config): each key
 * with its value, or as a comment if unset, and its range and doc. Read back over the
 * defaults, the output gives @c again. */
void ep_conf_print(FILE *f, const struct ep_conf *c);
/* afxdp with no queues configured: every RX queue of the interface (from sysfs). Returns 0
 * or -ENODEV after logging. */
int ep_conf_all_queues(struct ep_conf *c);
/* Check the combined settings. Returns 0 or -EINVAL with a message. */
int ep_conf_validate(const struct ep_conf *c);
/* The node's limits as a PONG carries them (struct ep_limits, big-endian). */
void ep_conf_limits(const struct ep_conf *c, struct ep_limits *out);
/* validation.mode's name for @v ("amplification", "always", "off-unsafe"). */
const char *ep_validation_name(enum ep_validation v);

void ep_conf_free(struct ep_conf *c);

/* "0,2,3" -> list. Returns the count or -EINVAL. */
int ep_conf_parse_list(const char *s, int *out, unsigned int max, int lo, int hi);

#endif /* EP_CONFIG_H */
