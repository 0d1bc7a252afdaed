// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client side of enrollment (edgeplane/enroll.h, docs/protocol.md 7.5), and the key
 * object's JSON form, which the controller writes with the same code.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ep_shared.h"
#include "edgeplane/enroll.h"
#include "edgeplane/util.h"

struct ep_enroll_conn {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	int timeout_ms;
	char *buf; /* bytes received and not yet consumed: [0, len) */
	size_t cap, len;
	char err[256];
};

/*
 * OpenSSL writes with write(): to a connection the controller reset, that raises SIGPIPE,
 * whose default action ends the application. Around our calls it is blocked, and one it
 * raised is taken back (not one that was pending before), as libcurl does.
 */
struct pipe_guard {
	sigset_t old;
	bool pending;
};

static void pipe_block(struct pipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	g->pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void pipe_restore(struct pipe_guard *g)
{
	const struct timespec zero = { 0, 0 };
	sigset_t set, pending;
	int saved = errno;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	if (!g->pending && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	errno = saved;
}

/* --- jansson that wipes what it frees ------------------------------------------------------ */

static void wipe_free(void *p)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void set_wiping(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	if (m == malloc && f == free)
		json_set_alloc_funcs(malloc, wipe_free);
}

void ep_enroll_wiping_json(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, set_wiping);
}

/* --- the key object ------------------------------------------------------------------------- */

bool ep_enroll_name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char ch = s[n];

		if (n + 1 >= max)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("_.@:-", ch)))
			return false;
	}
	return n > 0;
}

void ep_key_info_wipe(struct ep_key_info *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static int get_int(const json_t *o, const char *what, json_int_t lo, json_int_t hi, json_int_t *out,
		   char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, what);

	if (!v) {
		ep_seterr(err, errlen, "no \"%s\"", what);
		return -EINVAL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		ep_seterr(err, errlen, "\"%s\" is not an integer in %lld..%lld", what,
			  (long long)lo, (long long)hi);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

static int get_name(const json_t *o, const char *what, char *out, size_t max, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(o, what);
	const char *s = json_string_value(v);

	if (!s || json_string_length(v) != strlen(s) || !ep_enroll_name_ok(s, max)) {
		ep_seterr(err, errlen,
			  "\"%s\" is not a string of 1..%zu characters of "
			  "[A-Za-z0-9_.@:-]",
			  what, max - 1);
		return -EINVAL;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int parse_limits(const json_t *o, struct ep_key_limits *l, char *err, size_t errlen)
{
	static const char *const rates[] = { "tasks_per_s", "burst_tasks", "kib_per_s", "burst_kib",
					     "max_task_len" };
	uint32_t *const dst[] = { &l->tasks_per_s, &l->burst_tasks, &l->kib_per_s, &l->burst_kib,
				  &l->max_task_len };
	const json_t *types = json_object_get(o, "types");
	json_int_t v;
	size_t i;
	json_t *t;

	if (!json_is_object(o)) {
		ep_seterr(err, errlen, "\"limits\" is not an object");
		return -EINVAL;
	}
	if (json_is_string(types)) {
		if (strcmp(json_string_value(types), "*") || json_string_length(types) != 1) {
			ep_seterr(err, errlen, "\"types\" is neither \"*\" nor a list of type ids");
			return -EINVAL;
		}
		l->all_types = true;
	} else if (json_is_array(types) && json_array_size(types) <= EP_KEY_TYPE_MAX + 1) {
		json_array_foreach(types, i, t)
		{
			if (!json_is_integer(t) || json_integer_value(t) < 0 ||
			    json_integer_value(t) > EP_KEY_TYPE_MAX) {
				ep_seterr(err, errlen,
					  "\"types\" has an entry that is not a type id "
					  "0..%d",
					  EP_KEY_TYPE_MAX);
				return -EINVAL;
			}
			v = json_integer_value(t);
			l->types[v / 64] |= 1ull << (v % 64);
		}
	} else {
		ep_seterr(err, errlen,
			  "\"types\" is neither \"*\" nor a list of at most %d type ids",
			  EP_KEY_TYPE_MAX + 1);
		return -EINVAL;
	}
	if (get_int(o, "max_priority", 0, EP_PRIO_MAX, &v, err, errlen))
		return -EINVAL;
	l->max_priority = (uint8_t)v;
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		if (get_int(o, rates[i], 0, UINT32_MAX, &v, err, errlen))
			return -EINVAL;
		*dst[i] = (uint32_t)v;
	}
	return 0;
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* "addr", optional: a numeric IPv4 or IPv6 address, as inet_pton() takes it (no zone, no
 * prefix, no name), neither unspecified (0.0.0.0, ::) nor longer than an address can be
 * written. */
static int parse_addr(const json_t *o, struct ep_key_info *k, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, "addr");
	const char *s = json_string_value(v);
	static const uint8_t zero[16];
	struct in_addr a4;

	if (!v)
		return 0;
	if (!s || json_string_length(v) != strlen(s) || strlen(s) >= INET6_ADDRSTRLEN)
		goto bad;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(k->addr, v4_mapped, sizeof(v4_mapped));
		memcpy(k->addr + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, s, k->addr) != 1) {
		goto bad;
	}
	if (!memcmp(k->addr, zero, 16) ||
	    (!memcmp(k->addr, v4_mapped, 12) && !memcmp(k->addr + 12, zero, 4)))
		goto bad;
	k->has_addr = true;
	return 0;
bad:
	memset(k->addr, 0, sizeof(k->addr));
	ep_seterr(err, errlen, "\"addr\" is not a numeric IPv4 or IPv6 address");
	return -EINVAL;
}

static int parse_key(const json_t *o, struct ep_key_info *k, char *err, size_t errlen)
{
	const json_t *key = json_object_get(o, "key"), *rev = json_object_get(o, "revoked");
	const char *hex = json_string_value(key);
	json_int_t v;

	if (!json_is_object(o)) {
		ep_seterr(err, errlen, "a key is not an object");
		return -EINVAL;
	}
	if (get_int(o, "key_id", 1, 65535, &v, err, errlen))
		return -EINVAL;
	k->key_id = (uint16_t)v;
	if (!hex || json_string_length(key) != 2 * EP_AUTH_KEY_LEN) {
		ep_seterr(err, errlen, "\"key\" is not %d lowercase hex digits",
			  2 * EP_AUTH_KEY_LEN);
		return -EINVAL;
	}
	for (int i = 0; i < EP_AUTH_KEY_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			ep_seterr(err, errlen, "\"key\" is not %d lowercase hex digits",
				  2 * EP_AUTH_KEY_LEN);
			return -EINVAL;
		}
		k->key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (get_int(o, "issued_unix_ms", 0, INT64_MAX, &v, err, errlen))
		return -EINVAL;
	k->issued_unix_ms = (uint64_t)v;
	if (get_int(o, "expires_unix_ms", 0, INT64_MAX, &v, err, errlen))
		return -EINVAL;
	k->expires_unix_ms = (uint64_t)v;
	if (k->expires_unix_ms <= k->issued_unix_ms) {
		ep_seterr(err, errlen, "\"expires_unix_ms\" is not after \"issued_unix_ms\"");
		return -EINVAL;
	}
	if (get_name(o, "name", k->name, sizeof(k->name), err, errlen) ||
	    get_name(o, "role", k->role, sizeof(k->role), err, errlen))
		return -EINVAL;
	if (get_int(o, "tenant", 0, UINT32_MAX, &v, err, errlen))
		return -EINVAL;
	k->tenant = (uint32_t)v;
	if (!json_is_boolean(rev)) {
		ep_seterr(err, errlen, "\"revoked\" is not true or false");
		return -EINVAL;
	}
	k->revoked = json_is_true(rev);
	if (parse_addr(o, k, err, errlen))
		return -EINVAL;
	if (!json_object_get(o, "limits")) {
		ep_seterr(err, errlen, "no \"limits\"");
		return -EINVAL;
	}
	return parse_limits(json_object_get(o, "limits"), &k->lim, err, errlen);
}

int ep_key_info_parse(const json_t *o, struct ep_key_info *k, char *err, size_t errlen)
{
	int ret;

	memset(k, 0, sizeof(*k));
	ret = parse_key(o, k, err, errlen);
	if (ret)
		ep_key_info_wipe(k);
	return ret;
}

int ep_key_info_from_json(const json_t *o, struct ep_key_info *k)
{
	return ep_key_info_parse(o, k, NULL, 0);
}

json_t *ep_key_info_to_json(const struct ep_key_info *k)
{
	char hex[2 * EP_AUTH_KEY_LEN + 1];
	json_t *types, *o;

	if (k->lim.all_types) {
		types = json_string("*");
	} else {
		types = json_array();
		for (unsigned int t = 0; types && t <= EP_KEY_TYPE_MAX; t++)
			if (ep_key_allows_type(&k->lim, t))
				json_array_append_new(types, json_integer(t));
	}
	for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", k->key[i]);
	o = json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:I, s:b, s:{s:o, s:I, s:I, s:I, s:I, s:I, "
		      "s:I}}",
		      "key_id", (json_int_t)k->key_id, "key", hex, "issued_unix_ms",
		      (json_int_t)k->issued_unix_ms, "expires_unix_ms",
		      (json_int_t)k->expires_unix_ms, "name", k->name, "role", k->role, "tenant",
		      (json_int_t)k->tenant, "revoked", k->revoked, "limits", "types", types,
		      "max_priority", (json_int_t)k->lim.max_priority, "tasks_per_s",
		      (json_int_t)k->lim.tasks_per_s, "burst_tasks", (json_int_t)k->lim.burst_tasks,
		      "kib_per_s", (json_int_t)k->lim.kib_per_s, "burst_kib",
		      (json_int_t)k->lim.burst_kib, "max_task_len",
		      (json_int_t)k->lim.max_task_len);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (o && k->has_addr) {
		char text[INET6_ADDRSTRLEN];
		bool v4 = !memcmp(k->addr, v4_mapped, sizeof(v4_mapped));

		if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? k->addr + 12 : k->addr, text,
			       sizeof(text)) ||
		    json_object_set_new(o, "addr", json_string(text))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* --- certificates --------------------------------------------------------------------------- */

int ep_enroll_cert_field(const struct x509_st *cert, int nid, char *out, size_t n)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int i, len, ret = -EINVAL;

	i = X509_NAME_get_index_by_NID(subj, nid, -1);
	if (i < 0)
		return -ENOENT;
	if (X509_NAME_get_index_by_NID(subj, nid, i) >= 0)
		return -EINVAL; /* two of them: which one is meant? */
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (len < 0)
		return -EINVAL;
	if ((size_t)len < n && memchr(utf8, '\0', (size_t)len) == NULL) {
		memcpy(out, utf8, (size_t)len);
		out[len] = '\0';
		ret = 0;
	}
	OPENSSL_free(utf8);
	return ret;
}

/* The controller's certificate: OU "controller", and our address if it names any. */
static int check_server(struct ep_enroll_conn *e, const char *host)
{
	X509 *peer = SSL_get0_peer_certificate(e->ssl);
	GENERAL_NAMES *san;
	char ou[EP_KEY_ROLE_MAX];
	bool names = false;

	if (!peer || SSL_get_verify_result(e->ssl) != X509_V_OK) {
		ep_seterr(e->err, sizeof(e->err), "the controller's certificate did not verify");
		return -EPROTO;
	}
	if (ep_enroll_cert_field(peer, NID_organizationalUnitName, ou, sizeof(ou)) ||
	    strcmp(ou, "controller")) {
		ep_seterr(e->err, sizeof(e->err),
			  "the server's certificate is not a controller's (its OU is not "
			  "\"controller\")");
		return -EPROTO;
	}
	san = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
	if (san) {
		names = sk_GENERAL_NAME_num(san) > 0;
		GENERAL_NAMES_free(san);
	}
	if (names && X509_check_ip_asc(peer, host, 0) != 1) {
		ep_seterr(e->err, sizeof(e->err),
			  "the controller's certificate names other addresses than %s", host);
		return -EPROTO;
	}
	return 0;
}

/* --- I/O with a deadline -------------------------------------------------------------------- */

static uint64_t deadline_after(int timeout_ms)
{
	return ep_now_ns() + (uint64_t)timeout_ms * 1000000;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int n;

	for (;;) {
		now = ep_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* The OpenSSL error queue's last entry, for a person; clears the queue. */
static void ssl_reason(struct ep_enroll_conn *e, const char *what)
{
	unsigned long code = ERR_peek_last_error();
	char buf[160] = "";

	if (code)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	if (e->ssl && SSL_get_verify_result(e->ssl) != X509_V_OK)
		ep_seterr(e->err, sizeof(e->err), "%s: %s (%s)", what,
			  X509_verify_cert_error_string(SSL_get_verify_result(e->ssl)), buf);
	else
		ep_seterr(e->err, sizeof(e->err), "%s: %s", what, buf[0] ? buf : "TLS error");
}

/* After an SSL call returned @ret <= 0: wait for what it wants. 0 to try again. */
static int ssl_again(struct ep_enroll_conn *e, int ret, uint64_t deadline, const char *what)
{
	int err;

	switch (SSL_get_error(e->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		err = wait_fd(e->fd, POLLIN, deadline);
		break;
	case SSL_ERROR_WANT_WRITE:
		err = wait_fd(e->fd, POLLOUT, deadline);
		break;
	case SSL_ERROR_ZERO_RETURN:
		ep_seterr(e->err, sizeof(e->err), "%s: the controller closed the connection", what);
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error()) {
			err = errno ? -errno : -ECONNRESET;
			ep_seterr(e->err, sizeof(e->err), "%s: %s", what,
				  errno ? strerror(errno) : "the controller closed the connection");
			return err;
		}
		/* fall through */
	default:
		ssl_reason(e, what);
		return -EPROTO;
	}
	if (err == -ETIMEDOUT)
		ep_seterr(e->err, sizeof(e->err), "%s: no answer within %d ms", what,
			  e->timeout_ms);
	else if (err)
		ep_seterr(e->err, sizeof(e->err), "%s: %s", what, strerror(-err));
	return err;
}

/* Bind to @c's local address (port 0), if it is of the server's family; an address that
 * is no longer ours is not an error (the connection goes from the kernel's choice). */
static void bind_local(int fd, const struct ep_enroll_cfg *c, sa_family_t family)
{
	struct sockaddr_storage a;

	if (!c->local || c->local->sa_family != family || c->local_len > sizeof(a) ||
	    c->local_len <
		    (family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
		return;
	memcpy(&a, c->local, c->local_len);
	if (family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
	bind(fd, (const struct sockaddr *)&a, c->local_len);
}

static int tcp_connect(struct ep_enroll_conn *e, const struct ep_enroll_cfg *c,
		       const struct sockaddr_storage *ss, socklen_t len, uint64_t deadline)
{
	socklen_t elen = sizeof(int);
	int one = 1, soerr = 0, err;

	e->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return -errno;
	setsockopt(e->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bind_local(e->fd, c, ss->ss_family);
	if (!connect(e->fd, (const struct sockaddr *)ss, len))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	err = wait_fd(e->fd, POLLOUT, deadline);
	if (err)
		return err;
	if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen))
		return -errno;
	return -soerr;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0; /* an encrypted key file fails to load instead of prompting */
}

static int make_ctx(struct ep_enroll_conn *e, const struct ep_enroll_cfg *c)
{
	e->ctx = SSL_CTX_new(TLS_client_method());
	if (!e->ctx) {
		ssl_reason(e, "TLS context");
		return -ENOMEM;
	}
	SSL_CTX_set_default_passwd_cb(e->ctx, no_passphrase);
	if (!SSL_CTX_set_min_proto_version(e->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(e->ctx, TLS1_3_VERSION)) {
		ssl_reason(e, "TLS 1.3");
		return -EPROTO;
	}
	SSL_CTX_set_session_cache_mode(e->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(e->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(e->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(e->ctx, c->ca, NULL) != 1) {
		ssl_reason(e, c->ca);
		return -EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(e->ctx, c->cert) != 1) {
		ssl_reason(e, c->cert);
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(e->ctx, c->key, SSL_FILETYPE_PEM) != 1) {
		ssl_reason(e, c->key);
		return -EINVAL;
	}
	if (SSL_CTX_check_private_key(e->ctx) != 1) {
		ssl_reason(e, "certificate and key do not match");
		return -EINVAL;
	}
	return 0;
}

static int do_connect(struct ep_enroll_conn *e, const struct ep_enroll_cfg *c)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	uint64_t deadline;
	socklen_t len;
	int ret, err;

	if (!c || !c->server || !c->cert || !c->key || !c->ca || c->timeout_ms < 0) {
		ep_seterr(e->err, sizeof(e->err), "enroll: server, cert, key and ca are required");
		return -EINVAL;
	}
	e->timeout_ms = c->timeout_ms ? c->timeout_ms : EP_ENROLL_TIMEOUT_MS;
	if (ep_parse_sockaddr("controller", c->server, 0, &ss, &len)) {
		ep_seterr(e->err, sizeof(e->err), "controller '%s' is not IPv4:PORT or [IPv6]:PORT",
			  c->server);
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	err = make_ctx(e, c);
	if (err)
		return err;
	deadline = deadline_after(e->timeout_ms);
	err = tcp_connect(e, c, &ss, len, deadline);
	if (err && err != -ETIMEDOUT && c->local) {
		/* Not from there (no route from that address, say): from the kernel's choice
		 * (the key is then bound to that address instead). */
		struct ep_enroll_cfg unbound = *c;

		close(e->fd);
		unbound.local = NULL;
		err = tcp_connect(e, &unbound, &ss, len, deadline);
	}
	if (err) {
		ep_seterr(e->err, sizeof(e->err), "connect to %s: %s", c->server,
			  err == -ETIMEDOUT ? "no answer" : strerror(-err));
		return err;
	}
	e->ssl = SSL_new(e->ctx);
	if (!e->ssl || !SSL_set_fd(e->ssl, e->fd)) {
		ssl_reason(e, "TLS");
		return -ENOMEM;
	}
	while ((ret = SSL_connect(e->ssl)) != 1) {
		err = ssl_again(e, ret, deadline, "TLS handshake with the controller");
		if (err)
			return err;
	}
	return check_server(e, host);
}

static int send_all(struct ep_enroll_conn *e, const char *s, size_t n, uint64_t deadline)
{
	size_t done = 0;
	int ret, err;

	while (done < n) {
		ret = SSL_write(e->ssl, s + done, (int)(n - done));
		if (ret > 0) {
			done += (size_t)ret;
			continue;
		}
		err = ssl_again(e, ret, deadline, "send to the controller");
		if (err)
			return err;
	}
	return 0;
}

/* Drop the first @n bytes of the buffer (a line that was used), wiping them. */
static void consume(struct ep_enroll_conn *e, size_t n)
{
	memmove(e->buf, e->buf + n, e->len - n);
	OPENSSL_cleanse(e->buf + e->len - n, n);
	e->len -= n;
}

/* One '\n'-terminated line of at most @max bytes (without the '\n'): *line points into the
 * buffer, NUL-terminated; consume(e, *n + 1) when done with it. */
static int read_line(struct ep_enroll_conn *e, size_t max, uint64_t deadline, char **line,
		     size_t *n)
{
	size_t scanned = 0;
	char *nl;
	int ret, err;

	for (;;) {
		/* no memchr() on the empty buffer: e->buf is NULL before the first read */
		nl = e->len > scanned ? memchr(e->buf + scanned, '\n', e->len - scanned) : NULL;
		if (nl) {
			*nl = '\0';
			*line = e->buf;
			*n = (size_t)(nl - e->buf);
			if (*n > max)
				break;
			return 0;
		}
		scanned = e->len;
		if (e->len > max)
			break;
		if (e->cap - e->len < 4096) {
			size_t cap = e->cap ? 2 * e->cap : 16384;
			char *nb;

			if (cap > max + 2)
				cap = max + 2;
			if (cap < e->len + 4096)
				cap = e->len + 4096;
			nb = malloc(cap);
			if (!nb)
				return -ENOMEM;
			if (e->buf) {
				memcpy(nb, e->buf, e->len);
				OPENSSL_cleanse(e->buf, e->cap);
			}
			free(e->buf);
			e->buf = nb;
			e->cap = cap;
		}
		ret = SSL_read(e->ssl, e->buf + e->len, (int)(e->cap - e->len));
		if (ret > 0) {
			e->len += (size_t)ret;
			continue;
		}
		err = ssl_again(e, ret, deadline, "reply from the controller");
		if (err)
			return err;
	}
	ep_seterr(e->err, sizeof(e->err), "reply from the controller: longer than %zu bytes", max);
	return -EBADMSG;
}

/* A printable copy of the controller's error text. */
static void copy_error(struct ep_enroll_conn *e, const json_t *r)
{
	const char *s = json_string_value(json_object_get(r, "error"));
	char words[200];
	size_t i;

	if (!s)
		s = "(no reason given)";
	for (i = 0; s[i] && i + 1 < sizeof(words); i++)
		words[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	words[i] = '\0';
	ep_seterr(e->err, sizeof(e->err), "the controller refused: %s", words);
}

/* Send @req (a JSON object, one line) and read the reply object, at most @max bytes. */
static int round_trip(struct ep_enroll_conn *e, const char *req, size_t max, json_t **reply)
{
	uint64_t deadline = deadline_after(e->timeout_ms);
	json_error_t jerr;
	json_t *r, *ok;
	char *line;
	size_t n;
	int err;

	*reply = NULL;
	if (!e->ssl) {
		ep_seterr(e->err, sizeof(e->err), "not connected");
		return -ENOTCONN;
	}
	err = send_all(e, req, strlen(req), deadline);
	if (err && err != -ETIMEDOUT) {
		/* In TLS 1.3 our handshake ends before the controller has checked our
		 * certificate: its refusal is an alert that may be waiting behind the reset. */
		char why[sizeof(e->err)];

		memcpy(why, e->err, sizeof(why));
		if (read_line(e, max, deadline, &line, &n) != -EPROTO) {
			memcpy(e->err, why, sizeof(why));
			return err;
		}
		return -EPROTO;
	}
	if (!err)
		err = read_line(e, max, deadline, &line, &n);
	if (err)
		return err;
	r = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
	consume(e, n + 1);
	ok = json_object_get(r, "ok");
	if (!json_is_object(r) || !json_is_boolean(ok)) {
		ep_seterr(e->err, sizeof(e->err), "reply from the controller: %s",
			  r ? "not an object with \"ok\"" : "not JSON");
		json_decref(r);
		return -EBADMSG;
	}
	if (!json_is_true(ok)) {
		copy_error(e, r);
		json_decref(r);
		return -EACCES;
	}
	*reply = r;
	return 0;
}

/* --- the API -------------------------------------------------------------------------------- */

void ep_enroll_close(struct ep_enroll_conn *e)
{
	struct pipe_guard g;

	if (!e)
		return;
	if (e->ssl) {
		pipe_block(&g);
		SSL_shutdown(e->ssl); /* our close_notify; we do not wait for theirs */
		pipe_restore(&g);
		SSL_free(e->ssl);
	}
	SSL_CTX_free(e->ctx);
	ep_close_fd(&e->fd);
	if (e->buf) {
		OPENSSL_cleanse(e->buf, e->cap);
		free(e->buf);
	}
	free(e);
	ERR_clear_error();
}

static struct ep_enroll_conn *conn_open(const struct ep_enroll_cfg *c, int *errp)
{
	struct ep_enroll_conn *e = calloc(1, sizeof(*e));
	struct pipe_guard g;

	ep_enroll_wiping_json();
	if (!e) {
		*errp = -ENOMEM;
		return NULL;
	}
	e->fd = -1;
	pipe_block(&g);
	*errp = do_connect(e, c);
	pipe_restore(&g);
	return e;
}

struct ep_enroll_conn *ep_enroll_connect(const struct ep_enroll_cfg *c, char *err, size_t errlen)
{
	struct ep_enroll_conn *e;
	int ret;

	e = conn_open(c, &ret);
	if (!ret)
		return e;
	ep_seterr(err, errlen, "%s", e ? e->err : strerror(-ret));
	ep_enroll_close(e);
	errno = -ret;
	return NULL;
}

const char *ep_enroll_error(const struct ep_enroll_conn *e)
{
	return e ? e->err : "no connection";
}

int ep_enroll_device(const struct ep_enroll_cfg *c, struct ep_key_info *out,
		     uint64_t *renew_after_ms, char *err, size_t errlen)
{
	struct ep_enroll_conn *e;
	json_int_t ttl, renew;
	json_t *r = NULL;
	char why[160];
	int ret;

	memset(out, 0, sizeof(*out));
	e = conn_open(c, &ret);
	if (!ret) {
		struct pipe_guard g;

		pipe_block(&g);
		ret = round_trip(e, "{\"op\":\"enroll\"}\n", EP_ENROLL_MAX_LINE, &r);
		pipe_restore(&g);
	}
	if (ret)
		goto out;
	ret = -EBADMSG;
	if (get_int(r, "ttl_ms", 1, INT64_MAX, &ttl, why, sizeof(why)) ||
	    get_int(r, "renew_after_ms", 1, ttl, &renew, why, sizeof(why)) ||
	    ep_key_info_parse(json_object_get(r, "key"), out, why, sizeof(why))) {
		ep_seterr(e->err, sizeof(e->err), "enroll reply: %s", why);
		goto out;
	}
	if (out->revoked) {
		ep_key_info_wipe(out);
		ep_seterr(e->err, sizeof(e->err), "enroll reply: the key is revoked");
		goto out;
	}
	if (renew_after_ms)
		*renew_after_ms = (uint64_t)renew;
	ret = 0;
out:
	json_decref(r);
	if (ret)
		ep_seterr(err, errlen, "%s", e ? e->err : strerror(-ret));
	ep_enroll_close(e);
	return ret;
}

int ep_enroll_sync(struct ep_enroll_conn *e, uint64_t *gen, bool *full, uint32_t *node_id,
		   struct ep_key_info *self, int (*on_key)(void *arg, const struct ep_key_info *k),
		   void *arg)
{
	static const size_t bitmap_words = 65536 / 64;
	struct pipe_guard pg;
	uint64_t *seen = NULL;
	struct ep_key_info k;
	json_int_t g, id;
	json_t *r = NULL, *keys, *v;
	char req[64], why[160];
	size_t i;
	int ret;

	e->err[0] = '\0';
	snprintf(req, sizeof(req), "{\"op\":\"sync\",\"gen\":%llu}\n", (unsigned long long)*gen);
	pipe_block(&pg);
	ret = round_trip(e, req, EP_ENROLL_MAX_SYNC, &r);
	pipe_restore(&pg);
	if (ret)
		return ret;
	ret = -EBADMSG;
	keys = json_object_get(r, "keys");
	if (get_int(r, "gen", 0, INT64_MAX, &g, why, sizeof(why)) ||
	    get_int(r, "node_id", 1, UINT32_MAX, &id, why, sizeof(why)))
		goto bad;
	if (!json_is_boolean(json_object_get(r, "full"))) {
		snprintf(why, sizeof(why), "\"full\" is not true or false");
		goto bad;
	}
	if (!json_is_array(keys)) {
		snprintf(why, sizeof(why), "\"keys\" is not a list");
		goto bad;
	}
	if (ep_key_info_parse(json_object_get(r, "self"), &k, why, sizeof(why)))
		goto bad;
	ep_key_info_wipe(&k);
	/* Every key is checked before any is used: a reply is taken whole or not at all. */
	seen = calloc(bitmap_words, sizeof(*seen));
	if (!seen) {
		ret = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto bad;
	}
	json_array_foreach(keys, i, v)
	{
		char kwhy[120];

		if (ep_key_info_parse(v, &k, kwhy, sizeof(kwhy))) {
			snprintf(why, sizeof(why), "key %zu: %s", i, kwhy);
			goto bad;
		}
		if (seen[k.key_id / 64] >> (k.key_id % 64) & 1) {
			snprintf(why, sizeof(why), "key id %u is there twice", k.key_id);
			ep_key_info_wipe(&k);
			goto bad;
		}
		seen[k.key_id / 64] |= 1ull << (k.key_id % 64);
		ep_key_info_wipe(&k);
	}
	free(seen);
	seen = NULL;

	ep_key_info_parse(json_object_get(r, "self"), self, NULL, 0);
	*gen = (uint64_t)g;
	*full = json_is_true(json_object_get(r, "full"));
	*node_id = (uint32_t)id;
	ret = 0;
	json_array_foreach(keys, i, v)
	{
		ep_key_info_parse(v, &k, NULL, 0);
		if (on_key)
			ret = on_key(arg, &k);
		ep_key_info_wipe(&k);
		if (ret)
			break;
	}
	json_decref(r);
	return ret;
bad:
	free(seen);
	ep_seterr(e->err, sizeof(e->err), "sync reply: %s", why);
	json_decref(r);
	return ret;
}
