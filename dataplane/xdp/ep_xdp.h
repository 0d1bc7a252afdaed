/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ep_xdp.h - load, attach, configure and read the edgeplane XDP classifier.
 *
 * Attaching goes through libxdp, so the classifier runs behind libxdp's dispatcher next to
 * other XDP programs; native mode is tried first and generic (skb) mode is the fallback.
 * The classifier's maps are pinned by name under a bpffs directory so that bpftool, the
 * runtime and a restarted loader all see the same state.
 */
#ifndef EP_XDP_H
#define EP_XDP_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"

enum ep_xdp_mode {
	EP_XDP_MODE_AUTO = 0, /* native, else skb */
	EP_XDP_MODE_NATIVE,
	EP_XDP_MODE_SKB,
};

/* The classifier's pinned maps, by file name under the pin directory: the maps its
 * object marks to pin (bpf/lib/pin.h), under their own names. */
#define EP_PIN_STATS	 "ep_stats"
#define EP_PIN_CFG	 "ep_cfg"
#define EP_PIN_XSKS	 "ep_xsks"
#define EP_PIN_TENANTS	 "ep_tenants"
#define EP_PIN_ADDRS	 "ep_addrs"
#define EP_PIN_RL_CFG	 "ep_rl_cfg"
#define EP_PIN_AUTH_CFG	 "ep_auth_cfg"	/* the node's auth mode (struct ep_auth_cfg) */
#define EP_PIN_KEYS	 "ep_keys"	/* key id -> struct ep_key_entry */
#define EP_PIN_KEY_STATE "ep_key_state" /* key id -> struct ep_key_state (buckets) */

/* Addresses a loader is configured with, besides the network namespace's own. */
#define EP_XDP_MAX_CFG_ADDRS 64
struct ep_xdp_addr_cfg {
	unsigned int nvirtual, ngateways;
	uint8_t virtual_addrs[EP_XDP_MAX_CFG_ADDRS][16]; /* tasks to these are ours too
							  * (a gateway's VIP, DSR) */
	uint8_t gateways[EP_XDP_MAX_CFG_ADDRS][16];	 /* may send encapsulated tasks */
};

struct ep_xdp_opts {
	const char *ifname;
	enum ep_xdp_mode mode;
	uint16_t port;	       /* 0: EP_DEFAULT_PORT */
	uint32_t max_task_len; /* 0: leave as configured (EP_MAX_TASK_LEN if new) */
	const char *pin_dir;   /* NULL: ep_xdp_default_pin_dir(ifname) */
	bool debug;	       /* bpf_printk on every verdict; for debugging only */
	uint16_t encap_port;   /* decapsulate tasks a gateway sent in UDP to this port;
				* 0: none (then addrs->ngateways is unused) */
	bool reply_route;      /* EP_CFG_F_REPLY_ROUTE: write each task's way back into the
				* frame (tasks forwarded by a gateway) */
	uint8_t max_priority;  /* steer by min(priority, this); 0: EP_PRIO_DEFAULT */
	bool any_dest_unsafe;  /* EP_CFG_F_ANY_DEST: take tasks to any address */
	const struct ep_xdp_addr_cfg *addrs; /* NULL: none configured */
	const struct ep_rl_cfg *rate_limit;  /* NULL: the defaults (ep_shared.h) */
	enum ep_auth_mode auth_mode;	     /* written at attach; 0 is EP_AUTH_MODE_REQUIRED */
};

struct ep_xdp;

/* Parse "auto|native|skb". Returns 0 or -EINVAL. */
int ep_xdp_parse_mode(const char *s, enum ep_xdp_mode *mode);

/* Default pin directory for @ifname: $LIBXDP_BPFFS (or /sys/fs/bpf)/edgeplane/@ifname.
 * Writes into @buf; returns 0 or -ENAMETOOLONG. */
int ep_xdp_default_pin_dir(const char *ifname, char *buf, size_t len);

/* libxdp's program for the XDP section of @obj (a skeleton's object; @what names it in the
 * log): 0 and *out, or libxdp's negative errno (logged) and *out NULL. */
struct bpf_object;
struct xdp_program;
int ep_xdp_prog_from_obj(struct bpf_object *obj, const char *what, struct xdp_program **out);

/* Attach @prog to @ifname (@ifindex) in mode @want; with EP_XDP_MODE_AUTO natively, else
 * (said at info level) in skb mode. libxdp's expected refusals while probing stay out of
 * the log. Returns 0 and the mode it runs in in *got, or libxdp's negative errno. */
int ep_xdp_attach_prog(struct xdp_program *prog, int ifindex, const char *ifname,
		       enum ep_xdp_mode want, enum ep_xdp_mode *got);

/* Write @o's settings into a classifier's ep_cfg (@cfg_fd, read first: the tenant check
 * and priority slots are kept) and ep_rl_cfg (@rl_fd): what every loader writes. Returns 0
 * or a negative errno. */
int ep_xdp_configure(int cfg_fd, int rl_fd, const struct ep_xdp_opts *o);

/* Load the classifier, reuse or create its pinned maps, and attach it to o->ifname.
 * Returns 0 and a handle in *out, or a negative errno (the reason is logged). */
int ep_xdp_attach(const struct ep_xdp_opts *o, struct ep_xdp **out);

/* Release the handle. With @detach, take the program off the interface and unpin the
 * maps; otherwise the program stays attached and the pinned maps keep their state. */
void ep_xdp_close(struct ep_xdp *x, bool detach);

/* "native" or "skb": the mode the program actually runs in. */
const char *ep_xdp_mode_name(const struct ep_xdp *x);
const char *ep_xdp_pin_dir(const struct ep_xdp *x);
int ep_xdp_xsks_fd(const struct ep_xdp *x);
int ep_xdp_cfg_fd(const struct ep_xdp *x);

/* Detach every ep_classify program from @ifname (loaded by any of the three methods) and
 * remove @pin_dir's pins if @pin_dir is not NULL. Returns 0, or -ENOENT if none was
 * attached, or a negative errno. */
int ep_xdp_detach_ifname(const char *ifname, const char *pin_dir);

/* Detach the program named @prog_name from @ifname, through libxdp's dispatcher or
 * directly. Returns 0, -ENOENT if it is not attached, or a negative errno. */
int ep_xdp_detach_prog(const char *ifname, const char *prog_name);

/* 1 if a program named @prog_name is attached to @ifname (its mode in *mode if not
 * NULL), 0 if not, or a negative errno. */
int ep_xdp_find_prog(const char *ifname, const char *prog_name, enum ep_xdp_mode *mode);

/*
 * Take the lock of @kind ("xdp", "gw") on interface @ifindex of this network namespace:
 * /run/edgeplane/KIND-<netns inode>-<ifindex>.lock, held with flock() until the returned
 * fd is closed or the process dies, however it dies. Returns the fd, -EBUSY if another
 * process holds it, or a negative errno.
 */
int ep_iface_lock(const char *kind, int ifindex);

/*
 * Pins by name (bpf/lib/pin.h). A loader opens its skeleton with pin_root_path (struct
 * bpf_object_open_opts) set to its pin directory; libbpf then reuses or creates and pins
 * each map the object marks, at <pin_root_path>/<map name>.
 *
 * ep_bpf_unpin(): unlink the pin of every map of @obj (opened, loaded or not) that has a
 * pin path, then rmdir(@dir) if @dir is not NULL and empty. A pin that is missing is
 * skipped, so whatever is there goes.
 * ep_bpf_no_pins(): make every map of @obj (opened, not loaded) the load's own, neither
 * reused from nor left in any pin: for tests and probes.
 */
struct bpf_object;
void ep_bpf_unpin(struct bpf_object *obj, const char *dir);
void ep_bpf_no_pins(struct bpf_object *obj);

/* Open pinned map @name under @pin_dir. Returns an fd or a negative errno. */
int ep_xdp_open_pinned(const char *pin_dir, const char *name);

/* Sum the per-CPU counters of an ep_stats map. Returns 0 or a negative errno. */
int ep_xdp_read_stats(int stats_fd, struct ep_counter out[EP_STAT__COUNT]);

/* Read or write entry 0 of an ep_cfg map. Writing validates it: -EINVAL on a bad slot. */
int ep_xdp_read_config(int cfg_fd, struct ep_config *cfg);
int ep_xdp_write_config(int cfg_fd, const struct ep_config *cfg);

/* The classifier's ep_addrs and ep_rl_cfg maps (owned by @x). */
int ep_xdp_addrs_fd(const struct ep_xdp *x);
int ep_xdp_rl_fd(const struct ep_xdp *x);

/*
 * Make the ep_addrs map @fd hold exactly @want: entries not in it are deleted, the others
 * written where missing or different (each update is atomic as XDP sees it; an address
 * that stays is never absent). Returns the number of entries added, changed or removed,
 * or a negative errno.
 */
struct ep_addrset;
int ep_xdp_apply_addrs(int fd, const struct ep_addrset *want);

/* What a loader keeps in ep_addrs: this network namespace's addresses (getifaddrs) as
 * EP_ADDR_F_LOCAL, @cfg's virtual addresses and gateways (may be NULL). Returns the number
 * of entries changed (ep_xdp_apply_addrs()) or a negative errno. */
int ep_xdp_sync_addrs(int fd, const struct ep_xdp_addr_cfg *cfg);

/*
 * Check rate-limit settings: prefixes in range, a burst of at least 1 (datagrams, tasks)
 * or 1500 bytes where a rate is set. Returns 0, or -EINVAL after logging the problem with
 * @what as the name of the settings' group.
 */
int ep_xdp_check_rl(const char *what, const struct ep_rl_cfg *rl);
/* Read or write entry 0 of an ep_rl_cfg map; writing checks it and sets EP_RL_F_SET, and
 * writes the defaults (ep_xdp_rl_defaults()) for a NULL @rl. */
int ep_xdp_read_rl(int fd, struct ep_rl_cfg *rl);
int ep_xdp_write_rl(int fd, const struct ep_rl_cfg *rl);
/* The defaults an unwritten ep_rl_cfg means (ep_shared.h's EP_RL_DEF_*). */
void ep_xdp_rl_defaults(struct ep_rl_cfg *rl);

/*
 * Session keys and the auth mode (issue 12; struct ep_auth_cfg, struct ep_key_entry in
 * ep_shared.h). The classifier and the gateway have the same three maps (ep_auth_cfg,
 * ep_keys, ep_key_state; bpf/lib/auth.h), so these work on either's fds.
 */

/* Parse "required|optional|off". Returns 0 or -EINVAL. */
int ep_xdp_parse_auth_mode(const char *s, enum ep_auth_mode *mode);
/* "required", "optional", "off"; "?" out of range. */
const char *ep_xdp_auth_mode_name(unsigned int mode);

/* Read entry 0 of an ep_auth_cfg map as XDP acts on it: an entry nobody wrote reads as
 * EP_AUTH_MODE_OFF, one out of range (by hand) as EP_AUTH_MODE_REQUIRED. Returns 0 or a
 * negative errno. */
int ep_xdp_read_auth_mode(int auth_fd, enum ep_auth_mode *mode);
/* Write it (XDP acts on it from the next packet; no reload). Returns 0, -EINVAL for a
 * mode out of range, or a negative errno. */
int ep_xdp_write_auth_mode(int auth_fd, enum ep_auth_mode mode);

/*
 * Put key @key_id (1..65535) into an ep_keys map (@keys_fd), as @e says (filled by
 * ep_key_entry_fill(); the derived GCRA fields are worked out again here). The key's
 * buckets in @state_fd are left as they are when the entry only changes (a sync rewriting
 * it must not refill them), and cleared when the id is new or now names another key
 * (another issued_unix_ms). Returns 0, -EINVAL for an id, flag, priority or burst out of
 * range, or a negative errno (-E2BIG: ep_keys is full).
 */
int ep_xdp_write_key(int keys_fd, int state_fd, uint32_t key_id, const struct ep_key_entry *e);
/* Remove key @key_id and clear its buckets. Returns 0, -ENOENT if it was not there, or a
 * negative errno. */
int ep_xdp_delete_key(int keys_fd, int state_fd, uint32_t key_id);
/* Remove every key of @keys_fd and clear their buckets: what a writer that starts afresh
 * does with keys an earlier one left (pinned maps outlive their writer). Returns how many
 * went, or a negative errno. */
int ep_xdp_clear_keys(int keys_fd, int state_fd);
/* The ids in @keys_fd, as bits of @ids (EP_KEYS_MAX bits, cleared first). Returns how
 * many, or a negative errno. */
int ep_xdp_key_ids(int keys_fd, uint64_t *ids);

/* The same on the classifier of @x (its pinned maps). */
int ep_xdp_set_auth_mode(struct ep_xdp *x, enum ep_auth_mode mode);
int ep_xdp_put_key(struct ep_xdp *x, uint32_t key_id, const struct ep_key_entry *e);
int ep_xdp_del_key(struct ep_xdp *x, uint32_t key_id);
/* The classifier's ep_auth_cfg, ep_keys and ep_key_state maps (owned by @x). */
int ep_xdp_auth_fd(const struct ep_xdp *x);
int ep_xdp_keys_fd(const struct ep_xdp *x);
int ep_xdp_key_state_fd(const struct ep_xdp *x);

#endif /* EP_XDP_H */
