/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * keystore.h - the controller's session keys (docs/protocol.md 7.5): issued to devices at
 * enrollment and to nodes for their load reports, revoked by `edgectl revoke`, forgotten
 * when they expire, and handed to the nodes by generation.
 *
 * Every issue, revocation and expiry bumps the generation; each key remembers the
 * generation of its last change, and the keys are kept in that order, so a node's sync
 * costs what changed since its last one. Key ids are 1..65535, unique among the keys that
 * have not expired (revoked ones included), handed out in turn so an id comes back as
 * late as it can. Keys come from RAND_bytes and are wiped when forgotten.
 *
 * Thread-safe: every function takes the store's lock. Times: @now_ms is CLOCK_REALTIME in
 * ms (keys carry Unix times); no function reads a clock itself.
 */
#ifndef EP_CONTROL_KEYSTORE_H
#define EP_CONTROL_KEYSTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeplane/auth.h"
#include "edgeplane/enroll.h"
#include "nodeset.h"

#define EP_KS_IDS	 65536
#define EP_KS_SERIAL_MAX 64 /* a certificate serial in hex, with the NUL */
/* The device keys' objects must fit a full sync reply (EP_ENROLL_MAX_SYNC) with room for
 * the rest of it: beyond this, enrollments are refused until keys expire. */
#define EP_KS_MAX_BYTES	 (EP_ENROLL_MAX_SYNC - (64u << 10))

struct ep_ks_key {
	struct ep_key_info k;
	uint32_t node_id;	       /* a node's own key: its node id; 0: a device's */
	uint64_t gen;		       /* generation of its last change */
	char serial[EP_KS_SERIAL_MAX]; /* of the certificate it was issued to */
	char *json;		       /* its key object, as sent in a sync reply */
	size_t json_len;
	struct ep_replay replay;       /* a node's key: the pns of its load reports */
	struct ep_ks_key *prev, *next; /* in order of gen */
};

struct ep_ks_node {
	char name[EP_KEY_NAME_MAX];
	uint32_t id;
	uint16_t self; /* its newest own key; 0: none */
};

struct ep_keystore {
	pthread_mutex_t lock;
	uint64_t gen;
	struct ep_ks_key *keys[EP_KS_IDS]; /* by id; [0] unused */
	struct ep_ks_key *first, *last;	   /* by gen */
	uint32_t next_id;
	uint32_t live, live_devices;
	size_t device_bytes;		 /* sum of the device keys' json_len */
	char (*denied)[EP_KEY_NAME_MAX]; /* names refused until unrevoked */
	unsigned int ndenied, denied_cap;
	struct ep_ks_node *nodes;
	unsigned int nnodes, nodes_cap;
	uint64_t issued, revoked, expired; /* keys, since start */
};

/* Returns 0 or -ENOMEM. */
int ep_ks_init(struct ep_keystore *ks);
/* Wipes and frees every key. */
void ep_ks_fini(struct ep_keystore *ks);

/* Who a key is issued to: the certificate's subject and serial, and for a device the
 * address it enrolled from (16 bytes, IPv4 as ::ffff:a.b.c.d; NULL: none), which its key
 * carries ("addr", docs/protocol.md 7.5). */
struct ep_ks_owner {
	const char *name, *role, *serial;
	uint32_t tenant;
	const uint8_t *addr;
};

/*
 * A device's key, valid for @ttl_ms from @now_ms. Returns 0 and a copy in *out (wipe it),
 * -EPERM (the name is revoked), -ENOSPC (no free id, or the full set would outgrow a sync
 * reply), -ENOMEM.
 */
int ep_ks_issue(struct ep_keystore *ks, const struct ep_ks_owner *who,
		const struct ep_key_limits *lim, uint64_t ttl_ms, uint64_t now_ms,
		struct ep_key_info *out);

/* A node's sync request, and where its node id should come from. */
struct ep_ks_sync_req {
	struct ep_ks_owner who;
	uint64_t since;		    /* the node's generation; 0: everything */
	bool full;		    /* answer with the full set whatever @since */
	uint64_t ttl_ms;	    /* of the node's own key */
	uint32_t id_hint;	    /* a node the registry knows by this name: its id */
	struct ep_nodeset ids_used; /* the registry's ids, taken */
};

/*
 * Answer a node's sync (docs/protocol.md 7.5): the node gets its id (kept for its name
 * while the controller runs: the hint, else the lowest id neither the registry nor another
 * node holds) and an own key (a new one once the newest has less than a third of its life
 * left), and the device keys changed since @since (all of them if it is 0, unknown, or
 * @full). *out gets the whole reply line, '\n' included (free it with ep_ks_free_reply()),
 * *full whether it is the full set. Returns 0, -EPERM (the name is revoked), -ENOSPC (no
 * key id or node id left), -ENOMEM.
 */
int ep_ks_sync(struct ep_keystore *ks, const struct ep_ks_sync_req *req, uint64_t now_ms,
	       char **out, size_t *len, bool *full);
void ep_ks_free_reply(char *reply, size_t len);

/* Revoke key @id: 0, -ENOENT, -EALREADY. */
int ep_ks_revoke_key(struct ep_keystore *ks, uint16_t id);
/* Revoke every key of @name and refuse its enrollments and syncs until unrevoked. Returns
 * the number of keys revoked (0 is fine: the name is refused from now on), or -ENOMEM. */
int ep_ks_revoke_name(struct ep_keystore *ks, const char *name);
/* 0, or -ENOENT if @name was not revoked. Its revoked keys stay revoked. */
int ep_ks_unrevoke_name(struct ep_keystore *ks, const char *name);
bool ep_ks_name_revoked(struct ep_keystore *ks, const char *name);
/* Revoke the keys issued to certificates @is_revoked says are (a new CRL). Returns how
 * many. */
int ep_ks_revoke_serials(struct ep_keystore *ks, bool (*is_revoked)(void *arg, const char *serial),
			 void *arg);

/* Forget the keys expired at @now_ms. Returns how many. */
int ep_ks_expire(struct ep_keystore *ks, uint64_t now_ms);

/* A key for verifying a node's load report: 0 and copies, or -ENOENT. */
int ep_ks_lookup(struct ep_keystore *ks, uint16_t id, struct ep_key_info *k, uint32_t *node_id);

/*
 * A node's load report under key @id (issued at @issued_ms, so that a key that took the
 * id since is not confused with it) carried @pn, and its tag verified: 0 if the pn is new
 * (and now seen), -EALREADY (seen), -ESTALE (older than the window), -ENOENT (no such
 * key). The window is over the whole pn, a node's counter.
 */
int ep_ks_replay(struct ep_keystore *ks, uint16_t id, uint64_t issued_ms, uint64_t pn);

/*
 * The device keys changed since generation @since, oldest change first, at most @max of
 * them: @fn for each with the lock held (it must not call back). Returns the generation
 * to pass next time (the last key's, or the store's when all were seen).
 */
uint64_t ep_ks_changed(struct ep_keystore *ks, uint64_t since, unsigned int max,
		       void (*fn)(void *arg, const struct ep_ks_key *key), void *arg);

/* Call @fn for each key (in id order) with the lock held; it must not call back. */
void ep_ks_foreach(struct ep_keystore *ks, void (*fn)(void *arg, const struct ep_ks_key *key),
		   void *arg);
/* The names refused, for `edgectl keys`: @fn per name, with the lock held. */
void ep_ks_foreach_denied(struct ep_keystore *ks, void (*fn)(void *arg, const char *name),
			  void *arg);

#endif /* EP_CONTROL_KEYSTORE_H */
