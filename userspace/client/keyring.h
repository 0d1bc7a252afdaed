/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * keyring.h - a session's session keys (docs/protocol.md 3.5): the newest, which seals
 * everything the session sends, and older ones still valid, which open replies to what
 * they sealed; each with its AEAD contexts, its packet-number counter and its role.
 *
 * Clock-free like retry.h: every function takes the time (CLOCK_MONOTONIC ns, and the
 * realtime clock in ms where a key's wall-clock dates matter), so the tests drive renewal
 * and expiry exactly. Not locked: the session's lock covers it.
 */
#ifndef EP_CLIENT_KEYRING_H
#define EP_CLIENT_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeplane/auth.h"
#include "edgeplane/enroll.h"

#define EP_KEYRING_MAX		4     /* the newest key and three older ones still valid */
#define EP_KEYRING_RETRY_MS	1000  /* first wait after a failed enrollment, doubling ... */
#define EP_KEYRING_RETRY_MAX_MS 30000 /* ... up to this */
/* A fresh key seals only this long after it arrived (or half the older key's remaining
 * life, if shorter): the nodes learn it at their next sync with the controller (every
 * 250 ms by default, within 1 s), and until then would drop what it seals. */
#define EP_KEYRING_SWITCH_MS	2000

struct ep_ckey {
	struct ep_aead *aead;
	uint16_t key_id;
	uint32_t tenant;
	uint64_t got_ns;       /* when the session received the key */
	int64_t base_ms;       /* the pn's clock at got_ns: 0 for an enrolled key (its
				* seconds count from receipt), the key's age by the
				* wall clock for a static one (nodes count from issue) */
	uint64_t seal_from_ns; /* seals from here (EP_KEYRING_SWITCH_MS) */
	uint64_t renew_ns;     /* enroll again from here; UINT64_MAX: never */
	uint64_t expire_ns;    /* unusable from here */
	uint64_t expires_unix_ms;
	uint64_t ctr; /* the counter of the next pn */
	struct ep_key_limits lim;
	char name[EP_KEY_NAME_MAX], role[EP_KEY_ROLE_MAX];
};

struct ep_keyring {
	struct ep_ckey keys[EP_KEYRING_MAX]; /* [0] the newest */
	unsigned int n;
	uint64_t retry_ns; /* no enrollment before this (after failures) */
	uint32_t retry_ms; /* the next wait after a failure */
	bool now;	   /* enroll as soon as may be (ep_keyring_renew_now) */
};

/*
 * Add @k, received at @now_ns (CLOCK_MONOTONIC) and @now_real_ns (CLOCK_REALTIME), as the
 * newest key. @renew_after_ms: from the enrollment reply; 0 for a static key.
 *
 * An enrolled key is fresh: its counter starts at 0 and its seconds at its receipt, on the
 * monotonic clock (the device's wall clock does not matter). A static key (a file) is used
 * by one process after another: its seconds count from its issue by the wall clock (as the
 * nodes count them), and its counter starts at the microseconds since its issue, so each
 * process starts above where the one before stopped (the nodes' replay window, and GCM's
 * nonces, need that) as long as each sends fewer than one datagram per microsecond on
 * average and the wall clock does not step back; it is never renewed.
 *
 * The oldest key goes if the ring is full. Returns 0, -EKEYREVOKED, -EKEYEXPIRED (expired
 * already, or a static key too old for its counter: 2^40 us, 12.7 days), -EKEYREJECTED (a
 * static key issued later than @now_real_ns: its counter would start at 0) or -ENOMEM.
 */
int ep_keyring_add(struct ep_keyring *r, const struct ep_key_info *k, uint64_t renew_after_ms,
		   uint64_t now_ns, uint64_t now_real_ns);
/* Forget the keys that expired by @now_ns. */
void ep_keyring_expire(struct ep_keyring *r, uint64_t now_ns);
/* Wipe and free every key. */
void ep_keyring_clear(struct ep_keyring *r);

/* The key to seal with at @now_ns: the newest that has not expired nor run out of counters
 * and is past its seal_from_ns (an older one, for the first seconds of a fresh key); NULL
 * when there is none (the session must enroll again before it sends). */
struct ep_ckey *ep_keyring_current(struct ep_keyring *r, uint64_t now_ns);
/* The key with @key_id, the newest or an older one not yet expired (a reply to what it
 * sealed may still be on its way); NULL if the session does not hold it. */
struct ep_ckey *ep_keyring_find(struct ep_keyring *r, uint16_t key_id);

/* The pn of the next datagram sealed with @k at @now_ns: seconds since it was received
 * (docs/protocol.md 3.5) and its counter, which this advances. */
uint64_t ep_keyring_next_pn(struct ep_ckey *k, uint64_t now_ns);

/* Whether the session should enroll now: no key to seal with, or the newest past its
 * renew time; and not within the wait after a failure. */
bool ep_keyring_renew_due(const struct ep_keyring *r, uint64_t now_ns);
/* When it will be (UINT64_MAX: never, a static key). */
uint64_t ep_keyring_renew_at(const struct ep_keyring *r, uint64_t now_ns);
/* An enrollment failed at @now_ns: wait before the next, longer each time. */
void ep_keyring_renew_failed(struct ep_keyring *r, uint64_t now_ns);
/* Enroll again now (or once the wait after a failure is over), whatever the newest key's
 * renew time: a node refused a large reply at the session's address, which the newest key
 * was not enrolled from (docs/protocol.md 3.5). The next ep_keyring_add() ends it. */
void ep_keyring_renew_now(struct ep_keyring *r);

/*
 * Whether @k's role lets the session send a task of @type at @prio with @len bytes on the
 * wire: 0, -EPERM (the type, or a role of max_priority 0, which allows no task: a node's
 * own key), -ERANGE (the priority is above the role's ceiling) or -EMSGSIZE (larger than
 * the role's largest task).
 */
int ep_keyring_check_task(const struct ep_ckey *k, uint16_t type, uint8_t prio, uint32_t len);

/*
 * Read a static key: one key object (docs/protocol.md 7.5) in the file @path, which must be
 * a regular file of this user's (or root's) that neither group nor others may read. The
 * file stays open in *@fd with an exclusive lock (flock) for as long as the key is used:
 * two processes sealing with one static key would repeat each other's nonces. Returns 0,
 * or -EACCES (permissions), -EBUSY (another session holds it), -EBADMSG (not a key
 * object), -EKEYREVOKED, -errno; @err says why.
 */
int ep_key_file_open(const char *path, struct ep_key_info *k, int *fd, char *err, size_t errlen);

#endif /* EP_CLIENT_KEYRING_H */
