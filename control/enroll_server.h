/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * enroll_server.h - the controller's enrollment server (docs/protocol.md 7.5): TLS 1.3 with
 * mutual authentication on enroll.listen, in a thread of its own with its own epoll loop,
 * so that a slow, silent or hostile peer costs the controller's load reports, publishing
 * and API nothing. Each connection is bounded: a handshake has 5 s, a device 10 s to ask,
 * a node 30 s between syncs; a request is one line of at most 64 KiB, read only once the
 * previous reply has been written; at most 256 connections, 16 of them not yet
 * authenticated from one address.
 *
 * The CRL (enroll.crl) is read again when its file changes (checked every second): the keys
 * issued to certificates it revokes are revoked, and nodes connected with such a
 * certificate are disconnected. Keys that expire are forgotten (every second).
 */
#ifndef EP_CONTROL_ENROLL_SERVER_H
#define EP_CONTROL_ENROLL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keystore.h"
#include "roles.h"

#define EP_ENROLL_DEFAULT_TTL_S 3600

/* The config group enroll (docs/operations.md). Enrollment is on when @listen is set. */
struct ep_enroll_conf {
	char *listen;	       /* "ADDR:PORT" */
	char *cert, *key, *ca; /* the controller's certificate (OU=controller), its key,
				* the CA that signs devices and nodes */
	char *crl;	       /* PEM; NULL: none */
	char *policy;	       /* the roles (roles.h) */
	uint32_t key_ttl_s;    /* keys' lifetime unless the role says (3600) */
	struct ep_roles roles; /* read from @policy */
};

/* What became of connections and requests: counters, in `edgectl status` and /metrics. */
#define EP_ENROLL_OUTCOME_LIST(X)                                                     \
	X(HANDSHAKE_OK, "handshake_ok")                                               \
	X(HANDSHAKE_FAILED, "handshake_failed") /* no certificate, another CA's,      \
						 * expired, revoked, not TLS 1.3 */   \
	X(HANDSHAKE_TIMEOUT, "handshake_timeout")                                     \
	X(IDLE_TIMEOUT, "idle_timeout")	  /* no request, or a reply not taken */      \
	X(CONN_LIMIT, "connection_limit") /* refused: too many connections */         \
	X(BAD_SUBJECT, "bad_subject")	  /* CN, OU or O missing or malformed */      \
	X(BAD_REQUEST, "bad_request")	  /* not a request of 7.5 */                  \
	X(ROLE_REFUSED, "role_refused")	  /* role not in the policy, or the op        \
					   * not for its role */                      \
	X(REVOKED, "revoked")		  /* name revoked by edgectl */               \
	X(KEYS_FULL, "keys_full")	  /* no key id (or sync room) left */         \
	X(CERT_GONE, "certificate_gone")  /* a node's certificate expired, or         \
					   * a new CRL revoked it, while connected */ \
	X(ERROR, "error")		  /* out of memory, RAND_bytes failed */      \
	X(ENROLLED, "enrolled")                                                       \
	X(SYNCED, "synced")                                                           \
	X(SYNCED_FULL, "synced_full") /* of those, answered with every key */

enum ep_enroll_outcome {
#define EP_X_ENUM(name, str) EP_ENR_##name,
	EP_ENROLL_OUTCOME_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_ENR__COUNT
};
const char *ep_enroll_outcome_name(unsigned int o);

/* How the server learns node ids the registry holds (keystore.h, struct ep_ks_sync_req):
 * @hint the id of a node the registry knows by @name (0: none), @used a bit per id taken. */
struct ep_enroll_hooks {
	void (*node_ids)(void *arg, const char *name, uint32_t *hint, struct ep_nodeset *used);
	void *arg;
};

struct ep_enroll_srv;

/* Load the certificate, key, CA and CRL, bind, and start the thread. Returns 0, or a
 * negative errno after logging why. @conf, @ks and @hooks must outlive the server. */
int ep_enroll_start(const struct ep_enroll_conf *conf, struct ep_keystore *ks,
		    const struct ep_enroll_hooks *hooks, struct ep_enroll_srv **out);
/* Stop the thread, close every connection. NULL is fine. */
void ep_enroll_stop(struct ep_enroll_srv *s);
/* A snapshot of the counters, and the connections open now. */
void ep_enroll_counts(const struct ep_enroll_srv *s, uint64_t out[EP_ENR__COUNT],
		      unsigned int *conns);

/* A request line (docs/protocol.md 7.5): {"op":"enroll"} or {"op":"sync","gen":G}. */
struct ep_enroll_req {
	enum { EP_ENROLL_OP_ENROLL, EP_ENROLL_OP_SYNC } op;
	uint64_t gen;
};
/* Returns 0 or -EINVAL with a message in @err (a JSON-safe text for the peer). */
int ep_enroll_parse_request(const char *line, size_t len, struct ep_enroll_req *req, char *err,
			    size_t errlen);

#endif /* EP_CONTROL_ENROLL_SERVER_H */
