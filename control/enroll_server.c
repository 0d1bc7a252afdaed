// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The enrollment server (enroll_server.h): one thread, one epoll loop, non-blocking TLS.
 * Each connection is a small state machine (handshake, read a request, write the reply,
 * close) with a deadline; edge-triggered events, so each step runs until OpenSSL wants
 * the socket, with a budget of requests per turn so that one peer cannot hold the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "enroll_server.h"
#include "xlist.h"

#define MAX_CONNS	     256
#define MAX_PENDING_PER_ADDR 16 /* connections not yet authenticated, per address */
#define HANDSHAKE_MS	     5000
#define DEVICE_IDLE_MS	     10000
#define NODE_IDLE_MS	     30000
#define WRITE_MS	     30000
#define REQUESTS_PER_TURN    4
#define TICK_MS		     1000 /* key expiry, the CRL's file */

enum conn_state { C_HANDSHAKE, C_READ, C_WRITE, C_CLOSE };

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state st;
	uint64_t deadline; /* ns, CLOCK_MONOTONIC */
	struct sockaddr_storage addr;
	char peer[INET6_ADDRSTRLEN + 8];
	bool authed, node, synced, again;
	char name[EP_KEY_NAME_MAX], role[EP_KEY_ROLE_MAX], serial[EP_KS_SERIAL_MAX];
	uint32_t tenant;
	char *in; /* request bytes: [0, in_len) of in_cap */
	size_t in_len, in_cap;
	char *out; /* the reply being written: [out_off, out_len) */
	size_t out_len, out_off;
	bool close_after;
};

struct ep_enroll_srv {
	const struct ep_enroll_conf *conf;
	struct ep_keystore *ks;
	struct ep_enroll_hooks hooks;
	SSL_CTX *ctx;
	X509 *ca;		   /* to check a new CRL's signature */
	struct stat crl_st;	   /* of the CRL file loaded */
	STACK_OF(X509_CRL) * crls; /* its CRLs */
	bool crl_expired_warned;
	int lfd, wfd, epfd;
	pthread_t thread;
	bool running;
	struct conn *conns[MAX_CONNS];
	unsigned int nconns;
	uint64_t count[EP_ENR__COUNT]; /* written by the thread, read by others: atomics */
	uint64_t failures_logged;
};

const char *ep_enroll_outcome_name(unsigned int o)
{
	return EP_XLIST_NAME(EP_ENROLL_OUTCOME_LIST, EP_ENR__COUNT, o);
}

static void count(struct ep_enroll_srv *s, enum ep_enroll_outcome o)
{
	__atomic_fetch_add(&s->count[o], 1, __ATOMIC_RELAXED);
}

void ep_enroll_counts(const struct ep_enroll_srv *s, uint64_t out[EP_ENR__COUNT],
		      unsigned int *conns)
{
	for (int i = 0; i < EP_ENR__COUNT; i++)
		out[i] = s ? __atomic_load_n(&s->count[i], __ATOMIC_RELAXED) : 0;
	if (conns)
		*conns = s ? __atomic_load_n(&s->nconns, __ATOMIC_RELAXED) : 0;
}

/* The OpenSSL error queue's last entry (and the verification result), for a log line. */
static void ssl_why(SSL *ssl, char *buf, size_t n)
{
	unsigned long code = ERR_peek_last_error();
	char e[160] = "";
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (code)
		ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	if (v != X509_V_OK)
		snprintf(buf, n, "%s (%s)", X509_verify_cert_error_string(v), e);
	else
		snprintf(buf, n, "%s", e[0] ? e : "connection closed");
}

/* --- requests ------------------------------------------------------------------------------ */

int ep_enroll_parse_request(const char *line, size_t len, struct ep_enroll_req *req, char *err,
			    size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *gen;
	const char *op = json_string_value(json_object_get(o, "op"));
	int ret = -EINVAL;

	memset(req, 0, sizeof(*req));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "a request is one JSON object per line");
	} else if (!op) {
		snprintf(err, errlen, "a request needs \"op\": \"enroll\" or \"sync\"");
	} else if (!strcmp(op, "enroll")) {
		req->op = EP_ENROLL_OP_ENROLL;
		ret = 0;
	} else if (!strcmp(op, "sync")) {
		gen = json_object_get(o, "gen");
		if (!json_is_integer(gen) || json_integer_value(gen) < 0) {
			snprintf(err, errlen, "sync needs \"gen\": 0 or the last generation seen");
		} else {
			req->op = EP_ENROLL_OP_SYNC;
			req->gen = (uint64_t)json_integer_value(gen);
			ret = 0;
		}
	} else {
		snprintf(err, errlen, "unknown op (\"enroll\" or \"sync\")");
	}
	json_decref(o);
	return ret;
}

static void free_out(struct conn *c)
{
	if (c->out) {
		OPENSSL_cleanse(c->out, c->out_len);
		free(c->out);
	}
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

static void queue_reply(struct conn *c, char *line, size_t len, bool close_after)
{
	free_out(c);
	c->out = line;
	c->out_len = len;
	c->close_after = close_after;
	c->st = C_WRITE;
	c->deadline = ep_now_ns() + WRITE_MS * 1000000ull;
}

/* A JSON object, as one line, to be sent (the key material in it is wiped after). */
static int reply_json(struct conn *c, json_t *r, bool close_after)
{
	char *line = r ? json_dumps(r, JSON_COMPACT) : NULL;
	size_t n;
	char *nl;

	if (!line)
		return -ENOMEM;
	n = strlen(line);
	nl = malloc(n + 2); /* json_dumps() leaves no room for the newline */
	if (nl) {
		memcpy(nl, line, n);
		nl[n] = '\n';
		nl[n + 1] = '\0';
	}
	OPENSSL_cleanse(line, n);
	free(line);
	if (!nl)
		return -ENOMEM;
	queue_reply(c, nl, n + 1, close_after);
	return 0;
}

/* {"ok":false,"error":"..."} and the connection closes once it is sent. */
static void reply_error(struct ep_enroll_srv *s, struct conn *c, enum ep_enroll_outcome o,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reply_error(struct ep_enroll_srv *s, struct conn *c, enum ep_enroll_outcome o,
			const char *fmt, ...)
{
	char msg[200];
	json_t *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	count(s, o);
	pr_info("enroll: %s%s%s from %s: refused: %s", c->name[0] ? c->name : "",
		c->name[0] ? " " : "", c->role[0] ? c->role : "", c->peer, msg);
	r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	if (reply_json(c, r, true))
		c->st = C_CLOSE;
	json_decref(r);
}

/* The address of @a in 16 bytes, IPv4 (also an IPv4-mapped IPv6 peer) as ::ffff:a.b.c.d. */
static void addr16(const struct sockaddr_storage *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (a->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	} else {
		memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	}
}

/* A device's key: bound to the address of its connection, which the TCP handshake showed
 * it receives at (docs/protocol.md 3.5: replies there are not capped). */
static void do_enroll(struct ep_enroll_srv *s, struct conn *c)
{
	const struct ep_role *role = ep_roles_find(&s->conf->roles, c->role);
	uint8_t addr[16];
	struct ep_ks_owner who = { .name = c->name,
				   .role = c->role,
				   .serial = c->serial,
				   .tenant = c->tenant,
				   .addr = addr };
	struct ep_key_info k;
	uint64_t ttl_ms;
	json_t *r;
	int err;

	if (c->node) {
		reply_error(s, c, EP_ENR_ROLE_REFUSED,
			    "a node syncs (op \"sync\"); it does not "
			    "enroll");
		return;
	}
	if (!role) {
		reply_error(s, c, EP_ENR_ROLE_REFUSED,
			    "role '%s' is not in the controller's "
			    "policy",
			    c->role);
		return;
	}
	addr16(&c->addr, addr);
	ttl_ms = (uint64_t)(role->key_ttl_s ? role->key_ttl_s : s->conf->key_ttl_s) * 1000;
	err = ep_ks_issue(s->ks, &who, &role->lim, ttl_ms, ep_unix_ms(), &k);
	if (err == -EPERM) {
		reply_error(s, c, EP_ENR_REVOKED, "'%s' is revoked", c->name);
		return;
	}
	if (err == -ENOSPC) {
		reply_error(s, c, EP_ENR_KEYS_FULL,
			    "the controller holds as many keys as it can; "
			    "try again later");
		return;
	}
	if (err) {
		reply_error(s, c, EP_ENR_ERROR, "internal error: %s", strerror(-err));
		return;
	}
	r = json_pack("{s:b, s:o, s:I, s:I}", "ok", 1, "key", ep_key_info_to_json(&k),
		      "renew_after_ms", (json_int_t)(ttl_ms * 2 / 3), "ttl_ms", (json_int_t)ttl_ms);
	err = reply_json(c, r, true);
	json_decref(r);
	if (err) {
		ep_key_info_wipe(&k);
		reply_error(s, c, EP_ENR_ERROR, "internal error: out of memory");
		return;
	}
	count(s, EP_ENR_ENROLLED);
	pr_info("enroll: %s (role %s, tenant %u) from %s: key %u for %llu s", c->name, c->role,
		c->tenant, c->peer, k.key_id, (unsigned long long)(ttl_ms / 1000));
	ep_key_info_wipe(&k);
}

static void do_sync(struct ep_enroll_srv *s, struct conn *c, uint64_t gen)
{
	struct ep_ks_sync_req req = {
		.who = { .name = c->name,
			 .role = c->role,
			 .serial = c->serial,
			 .tenant = c->tenant },
		.since = gen,
		.full = !c->synced,
		.ttl_ms = (uint64_t)s->conf->key_ttl_s * 1000,
	};
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	bool full;
	char *reply;
	size_t len;
	int err;

	if (!c->node) {
		reply_error(s, c, EP_ENR_ROLE_REFUSED, "only a node (OU=node) may sync");
		return;
	}
	if (!cert || X509_cmp_time(X509_get0_notAfter(cert), NULL) <= 0) {
		reply_error(s, c, EP_ENR_CERT_GONE, "the certificate has expired");
		return;
	}
	if (s->hooks.node_ids)
		s->hooks.node_ids(s->hooks.arg, c->name, &req.id_hint, &req.ids_used);
	err = ep_ks_sync(s->ks, &req, ep_unix_ms(), &reply, &len, &full);
	if (err == -EPERM) {
		reply_error(s, c, EP_ENR_REVOKED, "'%s' is revoked", c->name);
		return;
	}
	if (err == -ENOSPC) {
		reply_error(s, c, EP_ENR_KEYS_FULL, "no key id or node id left");
		return;
	}
	if (err) {
		reply_error(s, c, EP_ENR_ERROR, "internal error: %s", strerror(-err));
		return;
	}
	if (!c->synced)
		pr_info("enroll: node %s (tenant %u) from %s syncs", c->name, c->tenant, c->peer);
	c->synced = true;
	count(s, EP_ENR_SYNCED);
	if (full)
		count(s, EP_ENR_SYNCED_FULL);
	queue_reply(c, reply, len, false);
}

/* One request line, at c->in[0, n). */
static void handle_line(struct ep_enroll_srv *s, struct conn *c, size_t n)
{
	struct ep_enroll_req req;
	char why[120];

	if (ep_enroll_parse_request(c->in, n, &req, why, sizeof(why)))
		reply_error(s, c, EP_ENR_BAD_REQUEST, "%s", why);
	else if (req.op == EP_ENROLL_OP_ENROLL)
		do_enroll(s, c);
	else
		do_sync(s, c, req.gen);
	memmove(c->in, c->in + n + 1, c->in_len - n - 1);
	c->in_len -= n + 1;
}

/* --- identity ------------------------------------------------------------------------------ */

/*
 * The subject's field @nid (@field: "CN", "OU") into @buf (@len bytes), one @what of the
 * characters ep_enroll_name_ok() takes. 0; or -EINVAL, @buf emptied and an error reply
 * queued that says what it must be.
 */
static int subject_name(struct ep_enroll_srv *s, struct conn *c, X509 *cert, int nid,
			const char *field, const char *what, char *buf, size_t len)
{
	if (!ep_enroll_cert_field(cert, nid, buf, len) && ep_enroll_name_ok(buf, len))
		return 0;
	buf[0] = '\0';
	reply_error(s, c, EP_ENR_BAD_SUBJECT,
		    "the certificate's %s must be one %s of 1..%zu characters of [A-Za-z0-9_.@:-]",
		    field, what, len - 1);
	return -EINVAL;
}

/* The certificate's subject: CN = name, OU = role, O = tenant in decimal. 0, or an error
 * reply queued. */
static int identify(struct ep_enroll_srv *s, struct conn *c)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	char o[16];
	BIGNUM *bn;
	char *hex;
	unsigned long long t;
	char *end;

	if (!cert) {
		reply_error(s, c, EP_ENR_BAD_SUBJECT, "no certificate");
		return -EINVAL;
	}
	if (subject_name(s, c, cert, NID_commonName, "CN", "name", c->name, sizeof(c->name)) ||
	    subject_name(s, c, cert, NID_organizationalUnitName, "OU", "role", c->role,
			 sizeof(c->role)))
		return -EINVAL;
	errno = 0;
	if (ep_enroll_cert_field(cert, NID_organizationName, o, sizeof(o)) || o[0] < '0' ||
	    o[0] > '9' || (t = strtoull(o, &end, 10), *end) || errno || t > UINT32_MAX) {
		reply_error(s, c, EP_ENR_BAD_SUBJECT,
			    "the certificate's O must be the tenant id, "
			    "0..4294967295");
		return -EINVAL;
	}
	c->tenant = (uint32_t)t;
	if (!strcmp(c->role, "controller")) {
		reply_error(s, c, EP_ENR_BAD_SUBJECT,
			    "a controller's certificate neither enrolls "
			    "nor syncs");
		return -EINVAL;
	}
	c->node = !strcmp(c->role, "node");
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(c->serial, sizeof(c->serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	c->authed = true;
	return 0;
}

/* --- connections --------------------------------------------------------------------------- */

static void conn_close(struct ep_enroll_srv *s, struct conn *c)
{
	unsigned int i;

	for (i = 0; i < s->nconns && s->conns[i] != c; i++)
		;
	if (i < s->nconns) {
		s->conns[i] = s->conns[s->nconns - 1];
		__atomic_store_n(&s->nconns, s->nconns - 1, __ATOMIC_RELAXED);
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	close(c->fd);
	free_out(c);
	free(c->in);
	free(c);
	ERR_clear_error();
}

/* After an SSL call returned @r <= 0: true if it only waits for the socket. */
static bool ssl_waits(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);

	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* A log line for the 1st, 2nd, 4th, 8th ... failure: a flood of bad handshakes must not
 * flood the log. */
static void handshake_failed(struct ep_enroll_srv *s, struct conn *c)
{
	char why[240];
	uint64_t n = ++s->failures_logged;

	ssl_why(c->ssl, why, sizeof(why));
	count(s, EP_ENR_HANDSHAKE_FAILED);
	if (!(n & (n - 1)))
		pr_info("enroll: TLS handshake with %s failed: %s (%llu so far)", c->peer, why,
			(unsigned long long)n);
	else
		pr_debug("enroll: TLS handshake with %s failed: %s", c->peer, why);
}

/* Run @c until OpenSSL waits for the socket, the connection ends, or its turn is over. */
static void step(struct ep_enroll_srv *s, struct conn *c)
{
	int budget = REQUESTS_PER_TURN, r;
	char *nl;

	c->again = false;
	for (;;) {
		switch (c->st) {
		case C_HANDSHAKE:
			r = SSL_accept(c->ssl);
			if (r != 1) {
				if (ssl_waits(c->ssl, r))
					return;
				handshake_failed(s, c);
				conn_close(s, c);
				return;
			}
			count(s, EP_ENR_HANDSHAKE_OK);
			c->st = C_READ;
			c->deadline = ep_now_ns() + DEVICE_IDLE_MS * 1000000ull;
			identify(s, c);
			break;
		case C_READ:
			nl = c->in ? memchr(c->in, '\n', c->in_len) : NULL;
			if (nl) {
				if (!budget--) {
					c->again = true;
					return;
				}
				handle_line(s, c, (size_t)(nl - c->in));
				break;
			}
			if (c->in_len >= EP_ENROLL_MAX_LINE) {
				c->in_len = 0;
				reply_error(s, c, EP_ENR_BAD_REQUEST,
					    "a request is at most %u bytes", EP_ENROLL_MAX_LINE);
				break;
			}
			if (c->in_len == c->in_cap) {
				size_t cap = c->in_cap ? 2 * c->in_cap : 512;
				char *in;

				if (cap > EP_ENROLL_MAX_LINE + 1)
					cap = EP_ENROLL_MAX_LINE + 1;
				in = realloc(c->in, cap);
				if (!in) {
					conn_close(s, c);
					return;
				}
				c->in = in;
				c->in_cap = cap;
			}
			r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
			if (r > 0) {
				c->in_len += (size_t)r;
				break;
			}
			if (ssl_waits(c->ssl, r))
				return;
			conn_close(s, c); /* closed by the peer, or broken */
			return;
		case C_WRITE:
			r = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
			if (r > 0) {
				c->out_off += (size_t)r;
				if (c->out_off < c->out_len)
					break;
				free_out(c);
				if (c->close_after) {
					c->st = C_CLOSE;
					break;
				}
				c->st = C_READ;
				c->deadline =
					ep_now_ns() +
					(c->node ? NODE_IDLE_MS : DEVICE_IDLE_MS) * 1000000ull;
				break;
			}
			if (ssl_waits(c->ssl, r))
				return;
			conn_close(s, c);
			return;
		case C_CLOSE:
			SSL_shutdown(c->ssl); /* our close_notify; theirs is not awaited */
			conn_close(s, c);
			return;
		}
	}
}

/* Connections not yet authenticated from @a's IPv4 address or IPv6 /64 (a host has a
 * whole /64 to pick addresses from). */
static unsigned int pending_from(struct ep_enroll_srv *s, const struct sockaddr_storage *a)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->nconns; i++) {
		const struct conn *c = s->conns[i];

		if (c->authed || c->addr.ss_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET
			    ? ((const struct sockaddr_in *)&c->addr)->sin_addr.s_addr ==
				      ((const struct sockaddr_in *)a)->sin_addr.s_addr
			    : !memcmp(&((const struct sockaddr_in6 *)&c->addr)->sin6_addr,
				      &((const struct sockaddr_in6 *)a)->sin6_addr, 8))
			n++;
	}
	return n;
}

static void peer_name(const struct sockaddr_storage *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, ntohs(in->sin_port));
	} else {
		struct sockaddr_in6 in;

		memcpy(&in, a, sizeof(in));
		inet_ntop(AF_INET6, &in.sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, ntohs(in.sin6_port));
	}
}

static void accept_conns(struct ep_enroll_srv *s)
{
	for (;;) {
		struct sockaddr_storage a = { 0 }; /* accept4() fills it */
		socklen_t alen = sizeof(a);
		struct epoll_event ev;
		struct conn *c;
		int fd =
			accept4(s->lfd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (s->nconns >= MAX_CONNS || pending_from(s, &a) >= MAX_PENDING_PER_ADDR) {
			count(s, EP_ENR_CONN_LIMIT);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || !(c->ssl = SSL_new(s->ctx)) || !SSL_set_fd(c->ssl, fd)) {
			if (c)
				SSL_free(c->ssl);
			free(c);
			close(fd);
			count(s, EP_ENR_ERROR);
			continue;
		}
		c->fd = fd;
		c->addr = a;
		peer_name(&a, c->peer, sizeof(c->peer));
		SSL_set_accept_state(c->ssl);
		c->st = C_HANDSHAKE;
		c->deadline = ep_now_ns() + HANDSHAKE_MS * 1000000ull;
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					   .data.ptr = c };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			SSL_free(c->ssl);
			free(c);
			close(fd);
			count(s, EP_ENR_ERROR);
			continue;
		}
		s->conns[s->nconns] = c;
		__atomic_store_n(&s->nconns, s->nconns + 1, __ATOMIC_RELAXED);
	}
}

/* --- TLS context and the CRL --------------------------------------------------------------- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* The CRLs of @path, each signed by @ca and current. NULL after logging why not. */
static STACK_OF(X509_CRL) * read_crls(const char *path, X509 *ca)
{
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	X509_CRL *crl;
	BIO *b = BIO_new_file(path, "r");

	if (!b || !sk) {
		pr_err("enroll.crl %s: cannot read it", path);
		goto err;
	}
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL))) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) ||
		    X509_CRL_verify(crl, pub) != 1) {
			pr_err("enroll.crl %s: a CRL not signed by the CA of enroll.ca", path);
			X509_CRL_free(crl);
			goto err;
		}
		if (next && X509_cmp_time(next, NULL) <= 0) {
			pr_err("enroll.crl %s: the CRL expired (its nextUpdate has passed): every "
			       "handshake would fail; issue a new one (ep-pki.sh crl DIR)",
			       path);
			X509_CRL_free(crl);
			goto err;
		}
		sk_X509_CRL_push(sk, crl);
	}
	ERR_clear_error();
	if (!sk_X509_CRL_num(sk)) {
		pr_err("enroll.crl %s: no CRL in it", path);
		goto err;
	}
	BIO_free(b);
	return sk;
err:
	ERR_clear_error();
	BIO_free(b);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return NULL;
}

static X509 *read_ca(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (!x)
		pr_err("enroll.ca %s: no certificate in it", path);
	ERR_clear_error();
	return x;
}

static SSL_CTX *make_ctx(const struct ep_enroll_conf *conf, STACK_OF(X509_CRL) * crls)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) * cas;
	X509_STORE *st;
	char why[240];
	const char *what = "TLS";

	if (!ctx)
		goto err;
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto err;
	/* No resumption: every connection is a full handshake, checked against the CRL. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	what = conf->cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1)
		goto err;
	what = conf->key;
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto err;
	what = conf->ca;
	if (SSL_CTX_load_verify_locations(ctx, conf->ca, NULL) != 1)
		goto err;
	cas = SSL_load_client_CA_file(conf->ca);
	if (cas)
		SSL_CTX_set_client_CA_list(ctx, cas);
	if (crls) {
		what = conf->crl;
		st = SSL_CTX_get_cert_store(ctx);
		for (int i = 0; i < sk_X509_CRL_num(crls); i++)
			if (X509_STORE_add_crl(st, sk_X509_CRL_value(crls, i)) != 1)
				goto err;
		/* The whole chain: a revoked intermediate CA revokes what it issued. */
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	ERR_clear_error();
	return ctx;
err:
	ssl_why(NULL, why, sizeof(why));
	pr_err("enroll: %s: %s", what, why);
	SSL_CTX_free(ctx);
	return NULL;
}

static bool crl_revokes(STACK_OF(X509_CRL) * crls, const ASN1_INTEGER *serial)
{
	X509_REVOKED *rev;

	for (int i = 0; i < sk_X509_CRL_num(crls); i++)
		if (X509_CRL_get0_by_serial(sk_X509_CRL_value(crls, i), &rev,
					    (ASN1_INTEGER *)serial) == 1)
			return true;
	return false;
}

static int crl_entries(STACK_OF(X509_CRL) * crls)
{
	int n = 0;

	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		STACK_OF(X509_REVOKED) *r = X509_CRL_get_REVOKED(sk_X509_CRL_value(crls, i));

		n += r ? sk_X509_REVOKED_num(r) : 0;
	}
	return n;
}

static bool serial_revoked(void *arg, const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai;
	bool r = false;

	if (!BN_hex2bn(&bn, hex))
		return false;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (ai)
		r = crl_revokes(arg, ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return r;
}

/* The CRL's file changed: take it if it is good, revoke the keys of the certificates it
 * revokes, and disconnect such nodes. */
static void check_crl(struct ep_enroll_srv *s)
{
	STACK_OF(X509_CRL) * crls;
	struct stat st;
	SSL_CTX *ctx;
	int n;

	if (!s->conf->crl)
		return;
	if (stat(s->conf->crl, &st)) {
		if (s->crl_st.st_ino) {
			pr_warn("enroll.crl %s: %s; the CRL read before stays in force",
				s->conf->crl, strerror(errno));
			s->crl_st.st_ino = 0;
		}
		return;
	}
	if (st.st_ino == s->crl_st.st_ino && st.st_size == s->crl_st.st_size &&
	    st.st_mtim.tv_sec == s->crl_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->crl_st.st_mtim.tv_nsec) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(sk_X509_CRL_value(s->crls, 0));

		if (next && X509_cmp_time(next, NULL) <= 0 && !s->crl_expired_warned) {
			pr_warn("enroll.crl %s has expired: every handshake fails until a new one "
				"is written (ep-pki.sh crl DIR)",
				s->conf->crl);
			s->crl_expired_warned = true;
		}
		return;
	}
	s->crl_st = st;
	crls = read_crls(s->conf->crl, s->ca);
	if (!crls) {
		pr_warn("enroll.crl %s changed but is not usable: the CRL read before stays in "
			"force",
			s->conf->crl);
		return;
	}
	ctx = make_ctx(s->conf, crls);
	if (!ctx) {
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		return;
	}
	SSL_CTX_free(s->ctx); /* connections hold their own reference */
	s->ctx = ctx;
	sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
	s->crls = crls;
	s->crl_expired_warned = false;
	n = ep_ks_revoke_serials(s->ks, serial_revoked, crls);
	pr_info("enroll.crl %s read again: %d revoked certificates; %d keys revoked with them",
		s->conf->crl, crl_entries(crls), n);
	for (unsigned int i = 0; i < s->nconns;) {
		struct conn *c = s->conns[i];
		X509 *cert = c->authed ? SSL_get0_peer_certificate(c->ssl) : NULL;

		if (cert && crl_revokes(crls, X509_get0_serialNumber(cert))) {
			count(s, EP_ENR_CERT_GONE);
			pr_info("enroll: %s (%s) from %s: its certificate is revoked: disconnected",
				c->name, c->role, c->peer);
			conn_close(s, c); /* the last one took its place */
			continue;
		}
		i++;
	}
}

/* --- the thread ---------------------------------------------------------------------------- */

static void expire(struct ep_enroll_srv *s, uint64_t now)
{
	for (unsigned int i = 0; i < s->nconns;) {
		struct conn *c = s->conns[i];

		if (c->deadline > now) {
			i++;
			continue;
		}
		count(s, c->st == C_HANDSHAKE ? EP_ENR_HANDSHAKE_TIMEOUT : EP_ENR_IDLE_TIMEOUT);
		pr_debug("enroll: %s%s%s: %s timed out", c->peer, c->name[0] ? " " : "", c->name,
			 c->st == C_HANDSHAKE ? "handshake" : "connection");
		conn_close(s, c);
	}
}

static void *srv_main(void *arg)
{
	struct ep_enroll_srv *s = arg;
	struct epoll_event evs[64];
	uint64_t next_tick = 0;
	sigset_t pipe;

	/* OpenSSL writes with write(): a peer that reset its connection would raise SIGPIPE,
	 * whose default action ends the controller. Blocked here, it stays pending on this
	 * thread; the write fails with EPIPE and the connection is closed. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);

	for (;;) {
		uint64_t now = ep_now_ns(), wake = next_tick;
		bool again = false;
		int n, timeout;

		for (unsigned int i = 0; i < s->nconns; i++) {
			again |= s->conns[i]->again;
			if (s->conns[i]->deadline < wake)
				wake = s->conns[i]->deadline;
		}
		timeout = again ? 0 : wake <= now ? 0 : (int)((wake - now) / 1000000 + 1);
		n = epoll_wait(s->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			pr_err("enroll: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &s->wfd)
				return NULL;
			if (evs[i].data.ptr == &s->lfd)
				accept_conns(s);
			else
				step(s, evs[i].data.ptr);
		}
		/* Those whose turn ended with work left (step() may close and reorder). */
		for (unsigned int i = 0; i < s->nconns;) {
			struct conn *c = s->conns[i];

			if (c->again) {
				unsigned int before = s->nconns;

				step(s, c);
				if (s->nconns < before)
					continue;
			}
			i++;
		}
		now = ep_now_ns();
		expire(s, now);
		if (now >= next_tick) {
			next_tick = now + TICK_MS * 1000000ull;
			if (ep_ks_expire(s->ks, ep_unix_ms()))
				pr_debug("enroll: expired keys forgotten");
			check_crl(s);
		}
	}
	return NULL;
}

static int open_listener(const struct ep_enroll_conf *conf)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, zero = 0, err;

	if (ep_parse_sockaddr("enroll.listen", conf->listen, EP_ADDR_PASSIVE, &ss, &len))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		err = -errno;
		pr_err("enroll: listen on %s: %s", conf->listen, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

int ep_enroll_start(const struct ep_enroll_conf *conf, struct ep_keystore *ks,
		    const struct ep_enroll_hooks *hooks, struct ep_enroll_srv **out)
{
	struct ep_enroll_srv *s = calloc(1, sizeof(*s));
	struct epoll_event ev;
	int err = -EINVAL;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->conf = conf;
	s->ks = ks;
	if (hooks)
		s->hooks = *hooks;
	s->lfd = s->wfd = s->epfd = -1;
	ep_enroll_wiping_json();
	s->ca = read_ca(conf->ca);
	if (!s->ca)
		goto err;
	if (conf->crl) {
		if (stat(conf->crl, &s->crl_st)) {
			pr_err("enroll.crl %s: %s", conf->crl, strerror(errno));
			goto err;
		}
		s->crls = read_crls(conf->crl, s->ca);
		if (!s->crls)
			goto err;
	}
	s->ctx = make_ctx(conf, s->crls);
	if (!s->ctx)
		goto err;
	err = open_listener(conf);
	if (err < 0)
		goto err;
	s->lfd = err;
	s->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->wfd < 0 || s->epfd < 0) {
		err = -errno;
		goto err;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->lfd };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		err = -errno;
		goto err;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->wfd };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wfd, &ev)) {
		err = -errno;
		goto err;
	}
	err = -pthread_create(&s->thread, NULL, srv_main, s);
	if (err)
		goto err;
	s->running = true;
	pr_info("enrollment on %s (TLS 1.3, mutual): %u roles, keys for %u s%s%s", conf->listen,
		conf->roles.n, conf->key_ttl_s, conf->crl ? ", CRL " : "",
		conf->crl ? conf->crl : "");
	*out = s;
	return 0;
err:
	ep_enroll_stop(s);
	return err;
}

void ep_enroll_stop(struct ep_enroll_srv *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->running) {
		if (write(s->wfd, &one, sizeof(one)) != sizeof(one))
			pr_warn("enroll: cannot wake the server thread: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	while (s->nconns)
		conn_close(s, s->conns[0]);
	ep_close_fd(&s->lfd);
	ep_close_fd(&s->wfd);
	ep_close_fd(&s->epfd);
	SSL_CTX_free(s->ctx);
	sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
	X509_free(s->ca);
	free(s);
}
