/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gw.h - the gateway's XDP program and its maps, as the controller and edgectl use them.
 *
 * The controller attaches bpf/ep_gateway.bpf.c through libxdp (ahead of the node's own
 * classifier in the dispatcher); libbpf pins every map by name under one bpffs directory
 * (the skeleton's pin_root_path; bpf/lib/pin.h), so bpftool,
 * `edgectl` and a restarted controller see the same state. A restarted controller finds
 * the program still attached and carries on with the pinned maps: traffic never stops.
 *
 * Publishing is double-buffered: ep_gw_nodes and ep_gw_table hold two halves and
 * ep_gw_cfg.active names the one XDP reads. ep_gw_publish() writes the other half, then
 * flips active (one 80-byte array update, atomic as XDP sees it).
 */
#ifndef EP_CONTROL_GW_H
#define EP_CONTROL_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"

/* Pinned map names under the pin directory: every map of bpf/ep_gateway.bpf.c, pinned by
 * its own name (bpf/lib/pin.h). */
#define EP_GW_PIN_CFG	     "ep_gw_cfg"
#define EP_GW_PIN_NODES	     "ep_gw_nodes"
#define EP_GW_PIN_TABLE	     "ep_gw_table"
#define EP_GW_PIN_SENT	     "ep_gw_sent"
#define EP_GW_PIN_AFFINITY   "ep_gw_affinity"
#define EP_GW_PIN_STATS	     "ep_gw_stats"
#define EP_GW_PIN_NODE_STATS "ep_gw_node_stats"
#define EP_GW_PIN_DEVS	     "ep_gw_devs"
#define EP_GW_PIN_DROPS	     "ep_stats"	    /* parse verdicts, as the classifier counts */
#define EP_GW_PIN_RL_CFG     "ep_rl_cfg"    /* rate limits (lib/ratelimit.h) */
#define EP_GW_PIN_RL_STATE   "ep_rl_state"  /* their buckets */
#define EP_GW_PIN_RELAY	     "ep_gw_relay"  /* whose replies are relayed */
#define EP_GW_PIN_AUTH	     "ep_auth_cfg"  /* the gateway's auth mode (bpf/lib/auth.h) */
#define EP_GW_PIN_KEYS	     "ep_keys"	    /* session keys: key id -> ep_key_entry */
#define EP_GW_PIN_KEY_STATE  "ep_key_state" /* their buckets */

struct ep_gw_opts {
	const char *ifname;
	const char *pin_dir;		    /* NULL: ep_gw_default_pin_dir(ifname) */
	int xdp_mode;			    /* enum ep_xdp_mode (dataplane/xdp/ep_xdp.h) */
	bool debug;			    /* bpf_printk per decision */
	const struct ep_rl_cfg *rate_limit; /* NULL: the defaults (ep_shared.h) */
	uint8_t max_priority;		    /* cpu_max and overflow by min(priority, this); 0: 3 */
	/* Tasks and session keys (ep_auth_cfg): written into a new or a reused gateway (a
	 * restarted controller's setting replaces the last one's). 0 is
	 * EP_AUTH_MODE_REQUIRED, as for the classifier's loader (ep_xdp_opts). */
	enum ep_auth_mode auth_mode;
};

struct ep_gw;

/* $LIBXDP_BPFFS (or /sys/fs/bpf)/edgeplane/gw-@ifname. Returns 0 or -ENAMETOOLONG. */
int ep_gw_default_pin_dir(const char *ifname, char *buf, size_t len);

/*
 * Attach the gateway program to o->ifname, reusing pinned maps (and an already attached
 * instance, which is kept: its maps are the pinned ones) or creating them, and write
 * o->rate_limit and o->max_priority (also into a reused instance). Returns 0 and a
 * handle, or a negative errno after logging the reason.
 */
int ep_gw_attach(const struct ep_gw_opts *o, struct ep_gw **out);

/* Open the pinned maps of a running gateway, without touching the program. */
int ep_gw_open(const char *pin_dir, struct ep_gw **out);

/* Release the handle. With @detach, unpin the maps, and take the program off the
 * interface if this handle attached or found it (ep_gw_attach()). */
void ep_gw_close(struct ep_gw *gw, bool detach);

/* True if ep_gw_attach() found the program already attached (a controller restart). */
bool ep_gw_reused(const struct ep_gw *gw);
const char *ep_gw_pin_dir(const struct ep_gw *gw);
const char *ep_gw_mode_name(const struct ep_gw *gw);

int ep_gw_read_cfg(struct ep_gw *gw, struct ep_gw_cfg *cfg);

/*
 * Write configuration and the node half that XDP does not read, then flip. @nodes holds
 * EP_GW_MAX_NODES entries by id, of which the first @cfg->nnodes are written (and any the
 * last write of that half had); @table 2^@table_bits node ids (ep_table_build()), of
 * @table_version (> 0), written only when that half holds another version or size.
 * -EINVAL for table_bits outside EP_GW_TABLE_MIN_BITS..MAX_BITS. The same half of ep_gw_relay
 * gets the present nodes' addresses and L2 MACs and this network namespace's addresses
 * (where DSR replies come from), read at most once a second. @cfg's
 * active and generation are set here. The caller must not publish again before every
 * XDP run that could have read the half now inactive has finished: XDP runs in an RCU
 * read section of microseconds, so a pause of a millisecond is ample.
 * Returns 0 or a negative errno; on error the active half is unchanged.
 */
int ep_gw_publish(struct ep_gw *gw, struct ep_gw_cfg *cfg, const struct ep_gw_node *nodes,
		  const uint32_t *table, uint32_t table_bits, uint64_t table_version);

/* Read the active half: nodes (EP_GW_MAX_NODES entries) and/or table (room for
 * EP_GW_TABLE_SIZE; its first 2^*table_bits slots read); each may be NULL. */
int ep_gw_read_active(struct ep_gw *gw, struct ep_gw_node *nodes, uint32_t *table,
		      uint32_t *table_bits);

/* Counters, summed over CPUs. */
int ep_gw_read_stats(struct ep_gw *gw, uint64_t out[EP_GW_STAT__COUNT]);
/* The name of gateway counter @i (enum ep_gw_stat); "?" out of range. Inline: the
 * controller, edgectl and the fuzzers' stand-in for this file (tests/fuzz/fake_gw.c)
 * share it. */
static inline const char *ep_gw_stat_name(unsigned int i)
{
	static const char *const names[EP_GW_STAT__COUNT] = {
#define EP_X_NAME(name, str) [EP_GW_STAT_##name] = str,
		EP_GW_STAT_LIST(EP_X_NAME)
#undef EP_X_NAME
	};

	return i < EP_GW_STAT__COUNT && names[i] ? names[i] : "?";
}
int ep_gw_read_drops(struct ep_gw *gw, struct ep_counter out[EP_STAT__COUNT]);
int ep_gw_read_node_stats(struct ep_gw *gw, struct ep_gw_node_stats out[EP_GW_MAX_NODES]);
int ep_gw_read_sent(struct ep_gw *gw, uint64_t out[EP_GW_MAX_NODES]);

/* Zero the gateway's count of tasks sent to node @id (its new report includes them). */
int ep_gw_reset_sent(struct ep_gw *gw, uint32_t id);

/*
 * Forget where the gateway placed multi-fragment tasks on node @id (the ep_gw_affinity
 * entries naming it), so that their later fragments and retries are placed afresh: for a
 * node that died, which will finish none of them. Call after publishing the node drained.
 * Returns the number of entries removed, or a negative errno.
 */
int ep_gw_forget_node(struct ep_gw *gw, uint32_t id);

/* Read or write the rate limits (ep_rl_cfg); writing checks them (ep_xdp_check_rl()), and
 * writes the defaults for a NULL @rl. */
int ep_gw_read_rl(struct ep_gw *gw, struct ep_rl_cfg *rl);
int ep_gw_write_rl(struct ep_gw *gw, const struct ep_rl_cfg *rl);

/*
 * Session keys at the gateway (bpf/lib/auth.h; the same rules as at a node, ep_xdp.h): the
 * mode, read (unwritten: off) and written, and key @key_id put (filled by
 * ep_key_entry_fill(); the buckets kept when the same key is rewritten) or deleted. Return
 * 0 or a negative errno (-EINVAL: out of range; -ENOENT: no such key to delete).
 */
int ep_gw_read_auth_mode(struct ep_gw *gw, enum ep_auth_mode *mode);
int ep_gw_set_auth_mode(struct ep_gw *gw, enum ep_auth_mode mode);
int ep_gw_put_key(struct ep_gw *gw, uint32_t key_id, const struct ep_key_entry *e);
int ep_gw_del_key(struct ep_gw *gw, uint32_t key_id);
/* Delete every key (ep_xdp_clear_keys()). Returns how many went, or a negative errno. */
int ep_gw_clear_keys(struct ep_gw *gw);

/* Make @ifindex a redirect target (a node reachable through another interface). */
int ep_gw_add_dev(struct ep_gw *gw, uint32_t ifindex);

/* The fd of a map by pinned name (EP_GW_PIN_*), for tools. -ENOENT if unknown. */
int ep_gw_map_fd(const struct ep_gw *gw, const char *name);

#endif /* EP_CONTROL_GW_H */
