/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * enroll.h - enrollment with the controller over mutual TLS 1.3 (docs/protocol.md 7.5).
 *
 * A device (a certificate whose OU is a role of the controller's policy) asks for a session
 * key with ep_enroll_device(): one connection, one {"op":"enroll"}, one key. A node (OU
 * "node") keeps a connection (ep_enroll_connect()) and calls ep_enroll_sync() every
 * auth.sync_ms to learn the keys issued and revoked since its last round, its node id and
 * its own key for load reports.
 *
 * The server is verified against the CA file; its certificate must carry OU "controller"
 * and, if it names addresses or hosts (subjectAltName), the address connected to. TLS 1.3
 * only; no session resumption (every connection is checked against the CRL afresh).
 *
 * Everything the controller sends is treated as hostile input: a reply that is not exactly
 * what docs/protocol.md 7.5 allows is refused with a message, and nothing of it is used.
 * Key material is wiped (OPENSSL_cleanse) from this module's buffers and from jansson's:
 * the first call of ep_enroll_device() or ep_enroll_connect() makes jansson wipe every
 * block it frees, if the application has not set jansson allocators of its own.
 *
 * Return convention: 0 or a negative errno; functions returning a pointer give NULL and
 * set errno. @err (when given) gets a message for a person:
 *   -EINVAL       a bad argument (address, file)
 *   -ETIMEDOUT    the controller did not answer within timeout_ms
 *   -ECONNREFUSED, -EHOSTUNREACH, ...  from connect()
 *   -EPROTO       TLS failed: handshake, verification of either side, an alert
 *   -EACCES       the controller refused the request ({"ok":false,"error":...}; its words
 *                 are in the message)
 *   -EBADMSG      a reply that breaks the protocol (too long, not JSON, a bad field)
 *   -ECONNRESET   the controller closed the connection
 */
#ifndef EDGEPLANE_ENROLL_H
#define EDGEPLANE_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef EP_AUTH_KEY_LEN
#define EP_AUTH_KEY_LEN 16 /* AES-128-GCM (edgeplane/auth.h) */
#endif

#define EP_ENROLL_PORT	     7881
#define EP_ENROLL_MAX_LINE   (64u << 10) /* a request, an enroll reply, an error */
#define EP_ENROLL_MAX_SYNC   (16u << 20) /* a node's sync reply */
#define EP_ENROLL_TIMEOUT_MS 5000	 /* when ep_enroll_cfg.timeout_ms is 0 */
#define EP_KEY_NAME_MAX	     64		 /* with the NUL */
#define EP_KEY_ROLE_MAX	     32
#define EP_KEY_TYPE_MAX	     255 /* highest task type a role can allow */

/* What a key may do (a role of the policy file); 0 in a rate = no limit. */
struct ep_key_limits {
	uint64_t types[4]; /* bitmap of task type ids 0..255 */
	bool all_types;	   /* "types": "*" */
	uint8_t max_priority;
	uint32_t tasks_per_s, burst_tasks, kib_per_s, burst_kib, max_task_len;
};

/* One session key, host order (the JSON key object of docs/protocol.md 7.5). */
struct ep_key_info {
	uint16_t key_id; /* 1..65535 */
	uint8_t key[EP_AUTH_KEY_LEN];
	uint64_t issued_unix_ms, expires_unix_ms;
	uint32_t tenant;
	bool revoked;
	bool has_addr;	  /* "addr": the key is bound to @addr */
	uint8_t addr[16]; /* where the device enrolled from (IPv4 as ::ffff:a.b.c.d):
			   * replies there are not capped (docs/protocol.md 3.5) */
	char name[EP_KEY_NAME_MAX], role[EP_KEY_ROLE_MAX];
	struct ep_key_limits lim;
};

static inline bool ep_key_allows_type(const struct ep_key_limits *l, unsigned int type)
{
	return l->all_types ||
	       (type <= EP_KEY_TYPE_MAX && (l->types[type / 64] >> (type % 64) & 1));
}

struct ep_enroll_cfg {
	const char *server;	     /* "ADDR:PORT", IPv4 or [IPv6] */
	const char *cert, *key, *ca; /* PEM files: our certificate (chain), its key, the CA */
	int timeout_ms;		     /* connect + handshake, and each request; 0: 5000 */
	/* Connect from this local address (its port is ignored), if of the server's family
	 * and still ours; else from the kernel's choice. A device's key is bound to the
	 * address it enrolls from (docs/protocol.md 3.5): libedgeplane passes the address its
	 * session sends tasks from. NULL: the kernel's choice. */
	const struct sockaddr *local;
	socklen_t local_len;
};

/*
 * Enroll this device: returns 0 with a fresh key in @out and, in @renew_after_ms (may be
 * NULL), when to enroll again (2/3 of the key's lifetime; older keys stay valid until they
 * expire). On failure @out is zeroed.
 */
int ep_enroll_device(const struct ep_enroll_cfg *c, struct ep_key_info *out,
		     uint64_t *renew_after_ms, char *err, size_t errlen);

/* A node's connection to the controller; one thread at a time. */
struct ep_enroll_conn;
struct ep_enroll_conn *ep_enroll_connect(const struct ep_enroll_cfg *c, char *err, size_t errlen);
/*
 * One sync round. Sends *gen (0: everything), and on success sets *gen to the controller's
 * generation, *full (true: the keys given are the whole set, and any key not among them is
 * no longer valid), *node_id and *self (the node's own key, for its load reports), and
 * calls @on_key for each key object (revoked ones have revoked set) after the whole reply
 * has been checked. A non-zero return of @on_key stops the round and is returned. On any
 * other failure the connection is unusable: close it and connect again (the first round of
 * a new connection is always a full one). ep_enroll_error() says why.
 */
int ep_enroll_sync(struct ep_enroll_conn *e, uint64_t *gen, bool *full, uint32_t *node_id,
		   struct ep_key_info *self, int (*on_key)(void *arg, const struct ep_key_info *k),
		   void *arg);
/* Why the last call on @e failed ("" if it did not). */
const char *ep_enroll_error(const struct ep_enroll_conn *e);
void ep_enroll_close(struct ep_enroll_conn *e);

/*
 * A key object (docs/protocol.md 7.5) into @k: every field required but "addr", strictly
 * typed and in range (key: 32 lowercase hex digits; name and role: ep_enroll_name_ok();
 * types: "*" or a list of ids 0..255; addr, if there, a numeric IPv4 or IPv6 address
 * that is not unspecified); members it does not know are ignored. Returns 0 or -EINVAL
 * (@k is then zeroed); ep_key_info_parse() also says which field is wrong, in @err.
 */
int ep_key_info_from_json(const json_t *o, struct ep_key_info *k);
int ep_key_info_parse(const json_t *o, struct ep_key_info *k, char *err, size_t errlen);
/* The key object of @k (a new reference, NULL on allocation failure), with "addr" if
 * @k has one (an IPv4-mapped address as IPv4); the key material is in it: json_decref()
 * it through jansson's wiping free (see above). */
json_t *ep_key_info_to_json(const struct ep_key_info *k);
/* Wipe @k (OPENSSL_cleanse). */
void ep_key_info_wipe(struct ep_key_info *k);

/* Whether @s (a certificate's CN or OU) is a name this protocol carries: 1..@max-1 bytes
 * of [A-Za-z0-9_.@:-]: nothing a log line, a JSON string, a shell or an OpenSSL subject
 * string ("/CN=a+OU=controller" is two attributes) would take specially. */
bool ep_enroll_name_ok(const char *s, size_t max);

/*
 * Field @nid (NID_commonName, NID_organizationalUnitName, NID_organizationName) of @cert's
 * subject, as UTF-8, into @out (@n bytes with the NUL). Returns 0, -ENOENT (none), or
 * -EINVAL (two of them, an embedded NUL, longer than @n - 1 bytes).
 */
struct x509_st;
int ep_enroll_cert_field(const struct x509_st *cert, int nid, char *out, size_t n);

/* Make jansson wipe what it frees (json_set_alloc_funcs), unless the application set
 * allocators of its own. Idempotent; the calls above do it. */
void ep_enroll_wiping_json(void);

#ifdef __cplusplus
}
#endif

#endif /* EDGEPLANE_ENROLL_H */
