// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * etcd.c - the etcd v3 client of etcd.h over the JSON gateway (libcurl + jansson; why not
 * gRPC is in etcd.h). Each call is one POST to /v3/<service>/<method> with a JSON body;
 * the watch is one streaming POST whose answer is a sequence of JSON objects.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "etcd.h"

#define SPLIT_MAX (4u << 20) /* the largest object a stream may carry */
#define RESP_MAX  (16u << 20)

struct ep_etcd {
	char **ep;
	unsigned int n, cur; /* cur: the endpoint that answered last */
	unsigned int timeout_ms;
	CURL *curl;
	volatile int *stop;
	char err[1024];
};

/* --- encoding ------------------------------------------------------------------------- */

char *ep_etcd_b64(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (!out) {
		errno = ENOMEM;
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

int ep_etcd_unb64(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *buf;
	int got;

	if (n % 4)
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	got = n ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : 0;
	if (got < 0) {
		free(buf);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the padding's zero bytes too. */
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	got -= (int)pad;
	buf[got] = '\0';
	*out = (char *)buf;
	*len = (size_t)got;
	return 0;
}

char *ep_etcd_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);

	if (!end)
		return NULL;
	/* The last byte that can grow: "a\xff" ends at "b". All 0xff: to the end ("\0"). */
	while (n && (unsigned char)end[n - 1] == 0xff)
		end[--n] = '\0';
	if (n)
		end[n - 1]++;
	return end;
}

int64_t ep_etcd_int(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

bool ep_etcd_resp_error(const json_t *resp, char *buf, size_t len, int *code)
{
	const json_t *e = json_object_get(resp, "error");
	const char *msg;

	if (!e)
		return false;
	msg = json_string_value(json_object_get(resp, "message"));
	if (!msg && json_is_object(e))
		msg = json_string_value(json_object_get(e, "message"));
	if (!msg)
		msg = json_string_value(e);
	*code = (int)ep_etcd_int(json_object_get(resp, "code"));
	if (json_is_object(e) && !*code)
		*code = (int)ep_etcd_int(json_object_get(e, "grpc_code"));
	snprintf(buf, len, "%s", msg ? msg : "an error without a message");
	return true;
}

void ep_etcd_kv_free(struct ep_etcd_kv *kv)
{
	free((char *)kv->key);
	free((char *)kv->value);
	memset(kv, 0, sizeof(*kv));
}

int ep_etcd_kv_decode(const json_t *o, struct ep_etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const char *v = json_string_value(json_object_get(o, "value"));
	char *key = NULL, *val = NULL;
	size_t klen, vlen;
	int err;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(o) || !k)
		return -EINVAL;
	err = ep_etcd_unb64(k, &key, &klen);
	if (!err)
		err = ep_etcd_unb64(v ? v : "", &val, &vlen);
	if (!err && strlen(key) != klen)
		err = -EINVAL; /* a key with a NUL in it is none of ours */
	if (err) {
		free(key);
		free(val);
		return err;
	}
	kv->key = key;
	kv->value = val;
	kv->value_len = vlen;
	kv->mod_revision = ep_etcd_int(json_object_get(o, "mod_revision"));
	kv->create_revision = ep_etcd_int(json_object_get(o, "create_revision"));
	kv->lease = ep_etcd_int(json_object_get(o, "lease"));
	return 0;
}

int ep_etcd_parse_range(const json_t *resp, ep_etcd_kv_fn *fn, void *arg, int64_t *rev)
{
	const json_t *kvs = json_object_get(resp, "kvs"), *o;
	size_t i;
	int err;

	if (!json_is_object(json_object_get(resp, "header")))
		return -EBADMSG;
	if (rev)
		*rev = ep_etcd_int(json_object_get(json_object_get(resp, "header"), "revision"));
	if (kvs && !json_is_array(kvs))
		return -EBADMSG;
	json_array_foreach(kvs, i, o)
	{
		struct ep_etcd_kv kv;

		err = ep_etcd_kv_decode(o, &kv);
		if (err)
			return err == -ENOMEM ? err : -EBADMSG;
		err = fn(arg, &kv);
		ep_etcd_kv_free(&kv);
		if (err)
			return err;
	}
	return 0;
}

/* The events of a watch result (at most 64 per call of @fn). */
static int watch_events(const json_t *res, ep_etcd_watch_fn *fn, void *arg)
{
	const json_t *evs = json_object_get(res, "events"), *o;
	int64_t rev = ep_etcd_int(json_object_get(json_object_get(res, "header"), "revision"));
	struct ep_etcd_event ev[64];
	unsigned int n = 0;
	size_t i;
	int err = 0;

	if (!json_is_array(evs) || !json_array_size(evs))
		return 0;
	json_array_foreach(evs, i, o)
	{
		const char *type = json_string_value(json_object_get(o, "type"));

		ev[n].del = type && !strcmp(type, "DELETE");
		err = ep_etcd_kv_decode(json_object_get(o, "kv"), &ev[n].kv);
		if (err)
			break;
		if (++n == 64 || i + 1 == json_array_size(evs)) {
			err = fn(arg, rev, ev, n);
			while (n)
				ep_etcd_kv_free(&ev[--n].kv);
			if (err)
				break;
		}
	}
	while (n)
		ep_etcd_kv_free(&ev[--n].kv);
	return err == -EINVAL ? -EBADMSG : err;
}

int ep_etcd_parse_watch(const json_t *msg, ep_etcd_watch_fn *fn, void *arg, int64_t *compact)
{
	const json_t *res = json_object_get(msg, "result");
	char text[256];
	int code;

	if (ep_etcd_resp_error(msg, text, sizeof(text), &code))
		return -EIO;
	if (!json_is_object(res))
		return -EBADMSG;
	*compact = ep_etcd_int(json_object_get(res, "compact_revision"));
	if (*compact)
		return -ESTALE;
	if (json_is_true(json_object_get(res, "canceled")))
		return -EPIPE;
	return watch_events(res, fn, arg);
}

/* --- a stream of JSON objects --------------------------------------------------------- */

/* Scan from s->scan; each time a top-level object closes, hand it over. */
static int split_scan(struct ep_etcd_split *s, ep_etcd_obj_fn *fn, void *arg)
{
	size_t start = 0;
	int err;

	for (size_t i = s->scan; i < s->len; i++) {
		char ch = s->buf[i];

		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (ch == '\\')
				s->esc = true;
			else if (ch == '"')
				s->in_str = false;
			continue;
		}
		if (ch == '"' && s->depth) {
			s->in_str = true;
		} else if (ch == '{') {
			if (!s->depth++)
				start = i;
		} else if (ch == '}' && s->depth && !--s->depth) {
			err = fn(arg, s->buf + start, i + 1 - start);
			if (err)
				return err;
			memmove(s->buf, s->buf + i + 1, s->len - i - 1);
			s->len -= i + 1;
			i = (size_t)-1; /* the loop's i++ makes it 0 */
			start = 0;
		} else if (!s->depth) {
			/* Whitespace between objects: drop it as it comes. */
			memmove(s->buf, s->buf + 1, s->len - 1);
			s->len--;
			i--;
		}
	}
	s->scan = s->len;
	return 0;
}

int ep_etcd_split_feed(struct ep_etcd_split *s, const char *data, size_t len, ep_etcd_obj_fn *fn,
		       void *arg)
{
	if (!len)
		return 0;
	if (s->len + len > SPLIT_MAX)
		return -EMSGSIZE;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + len)
			cap *= 2;
		b = realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return split_scan(s, fn, arg);
}

void ep_etcd_split_free(struct ep_etcd_split *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* --- the client ------------------------------------------------------------------------ */

int ep_etcd_open(struct ep_etcd **out, char *const *endpoints, unsigned int n,
		 unsigned int timeout_ms)
{
	struct ep_etcd *e;

	if (!n)
		return -EINVAL;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* once; later calls only count */
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->ep = calloc(n, sizeof(*e->ep));
	e->curl = curl_easy_init();
	e->n = n;
	e->timeout_ms = timeout_ms ? timeout_ms : 1000;
	for (unsigned int i = 0; e->ep && i < n; i++) {
		size_t l = strlen(endpoints[i]);

		e->ep[i] = strdup(endpoints[i]);
		if (e->ep[i] && l && e->ep[i][l - 1] == '/') /* "http://h:2379/" */
			e->ep[i][l - 1] = '\0';
		if (!e->ep[i])
			break;
	}
	if (!e->ep || !e->curl || !e->ep[n - 1]) {
		ep_etcd_close(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void ep_etcd_close(struct ep_etcd *e)
{
	if (!e)
		return;
	for (unsigned int i = 0; e->ep && i < e->n; i++)
		free(e->ep[i]);
	free(e->ep);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	free(e);
}

const char *ep_etcd_error(const struct ep_etcd *e)
{
	return e->err;
}

void ep_etcd_set_stop(struct ep_etcd *e, volatile int *stop)
{
	e->stop = stop;
}

/* Append to the error message. */
static void err_add(struct ep_etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_add(struct ep_etcd *e, const char *fmt, ...)
{
	size_t l = strlen(e->err);
	va_list ap;

	if (l + 1 >= sizeof(e->err))
		return;
	va_start(ap, fmt);
	vsnprintf(e->err + l, sizeof(e->err) - l, fmt, ap);
	va_end(ap);
}

struct body {
	char *p;
	size_t len;
};

/* curl's write callback of a call: the answer into a growing buffer (at most RESP_MAX). */
static size_t body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > RESP_MAX || !(p = realloc(b->p, b->len + n + 1)))
		return 0; /* curl: write error */
	memcpy(p + b->len, data, n);
	b->len += n;
	p[b->len] = '\0';
	b->p = p;
	return n;
}

/* curl's progress callback: a non-zero *e->stop aborts the transfer. */
static int xfer_stop(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct ep_etcd *e = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return e->stop && *e->stop; /* non-zero aborts the transfer */
}

/* Set up e->curl for a POST of @text to @url. */
static void curl_setup(struct ep_etcd *e, const char *url, const char *text, struct curl_slist *hdr)
{
	curl_easy_reset(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, xfer_stop);
	curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
	curl_easy_setopt(e->curl, CURLOPT_PROXY, ""); /* never through an http_proxy */
}

/* gRPC codes that mean "this member cannot serve it now: ask another". */
static bool code_unavailable(int code)
{
	return code == 14 /* UNAVAILABLE */ || code == 4 /* DEADLINE_EXCEEDED */ ||
	       code == 2 /* UNKNOWN: "etcdserver: request timed out" in 3.4 */;
}

/* One POST to endpoint @i: 0 and the answer in *@resp, -EAGAIN (try another) or -errno. */
static int call_one(struct ep_etcd *e, unsigned int i, const char *path, const char *text,
		    struct curl_slist *hdr, json_t **resp)
{
	struct body b = { 0 };
	char url[512], msg[256];
	json_error_t jerr;
	CURLcode rc;
	int code;

	snprintf(url, sizeof(url), "%s%s", e->ep[i], path);
	curl_setup(e, url, text, hdr);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(e->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		free(b.p);
		return -EINTR;
	}
	if (rc != CURLE_OK) {
		err_add(e, "%s%s: %s%s", strlen(e->err) ? "; " : "", e->ep[i],
			curl_easy_strerror(rc),
			rc == CURLE_OPERATION_TIMEDOUT ? " (no answer in time)" : "");
		free(b.p);
		return -EAGAIN;
	}
	*resp = b.p ? json_loadb(b.p, b.len, 0, &jerr) : NULL;
	free(b.p);
	if (!*resp) {
		err_add(e, "%s%s: an answer that is not JSON", strlen(e->err) ? "; " : "",
			e->ep[i]);
		return -EAGAIN;
	}
	if (ep_etcd_resp_error(*resp, msg, sizeof(msg), &code)) {
		err_add(e, "%s%s: %s", strlen(e->err) ? "; " : "", e->ep[i], msg);
		json_decref(*resp);
		*resp = NULL;
		return code_unavailable(code) ? -EAGAIN : -EIO;
	}
	return 0;
}

/* POST @req (consumed) to @path at each endpoint in turn from the last good one until one
 * answers. 0 and the answer in *@resp, or -errno with e->err said. */
static int call(struct ep_etcd *e, const char *path, json_t *req, json_t **resp)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int err = -ENOMEM;

	json_decref(req);
	e->err[0] = '\0';
	for (unsigned int k = 0; text && hdr && k < e->n; k++) {
		unsigned int i = (e->cur + k) % e->n;

		err = call_one(e, i, path, text, hdr, resp);
		if (err != -EAGAIN) {
			if (!err)
				e->cur = i;
			break;
		}
	}
	if (err == -EAGAIN) {
		char tried[sizeof(e->err)];

		snprintf(tried, sizeof(tried), "%s", e->err);
		snprintf(e->err, sizeof(e->err),
			 "etcd: no endpoint could serve %s (%.900s): is its quorum lost?", path,
			 tried);
		err = -ETIMEDOUT;
	} else if (err == -ENOMEM) {
		snprintf(e->err, sizeof(e->err), "etcd: out of memory");
	}
	free(text);
	curl_slist_free_all(hdr);
	return err;
}

/* A JSON string of base64 @s. */
static json_t *jb64(const char *s)
{
	char *b = ep_etcd_b64(s, strlen(s));
	json_t *j = b ? json_string(b) : NULL;

	free(b);
	return j;
}

/* A JSON string of decimal @v, as the gateway takes int64s. */
static json_t *jint(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_string(buf);
}

int ep_etcd_range(struct ep_etcd *e, const char *prefix, ep_etcd_kv_fn *fn, void *arg, int64_t *rev)
{
	char *end = ep_etcd_prefix_end(prefix);
	json_t *resp = NULL;
	int err;

	if (!end)
		return -ENOMEM;
	err = call(e, "/v3/kv/range",
		   json_pack("{s:o, s:o}", "key", jb64(prefix), "range_end", jb64(end)), &resp);
	free(end);
	if (err)
		return err;
	err = ep_etcd_parse_range(resp, fn, arg, rev);
	if (err == -EBADMSG)
		snprintf(e->err, sizeof(e->err), "etcd: a range answer that makes no sense");
	json_decref(resp);
	return err;
}

/* A put request's object. */
static json_t *put_req(const char *key, const char *value, int64_t lease)
{
	json_t *o = json_pack("{s:o, s:o}", "key", jb64(key), "value", jb64(value));

	if (o && lease)
		json_object_set_new(o, "lease", jint(lease));
	return o;
}

int ep_etcd_put(struct ep_etcd *e, const char *key, const char *value, int64_t lease, int64_t *rev)
{
	json_t *resp = NULL;
	int err = call(e, "/v3/kv/put", put_req(key, value, lease), &resp);

	if (!err && rev)
		*rev = ep_etcd_int(json_object_get(json_object_get(resp, "header"), "revision"));
	json_decref(resp);
	return err;
}

/* POST a txn; 0 if it succeeded, -ECANCELED if its compare failed. */
static int txn(struct ep_etcd *e, json_t *req, int64_t *rev)
{
	json_t *resp = NULL;
	int err = call(e, "/v3/kv/txn", req, &resp);

	if (err)
		return err;
	if (rev)
		*rev = ep_etcd_int(json_object_get(json_object_get(resp, "header"), "revision"));
	if (!json_is_true(json_object_get(resp, "succeeded")))
		err = -ECANCELED;
	json_decref(resp);
	return err;
}

int ep_etcd_put_if(struct ep_etcd *e, const char *key, const char *value, int64_t mod_rev,
		   int64_t *rev)
{
	json_t *op = value ? json_pack("{s:o}", "request_put", put_req(key, value, 0))
			   : json_pack("{s:{s:o}}", "request_delete_range", "key", jb64(key));

	return txn(e,
		   json_pack("{s:[{s:o, s:s, s:s, s:o}], s:[o]}", "compare", "key", jb64(key),
			     "target", "MOD", "result", "EQUAL", "mod_revision", jint(mod_rev),
			     "success", op),
		   rev);
}

int ep_etcd_delete(struct ep_etcd *e, const char *const *keys, unsigned int n, int64_t *rev)
{
	json_t *ops = json_array();

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(
			ops, json_pack("{s:{s:o}}", "request_delete_range", "key", jb64(keys[i])));
	return txn(e, json_pack("{s:o}", "success", ops), rev);
}

int ep_etcd_lease_grant(struct ep_etcd *e, unsigned int ttl_s, int64_t *id)
{
	json_t *resp = NULL;
	int err = call(e, "/v3/lease/grant", json_pack("{s:o}", "TTL", jint(ttl_s)), &resp);

	if (!err) {
		*id = ep_etcd_int(json_object_get(resp, "ID"));
		if (!*id)
			err = -EBADMSG;
	}
	json_decref(resp);
	return err;
}

int ep_etcd_lease_keepalive(struct ep_etcd *e, int64_t id)
{
	json_t *resp = NULL, *res;
	int err = call(e, "/v3/lease/keepalive", json_pack("{s:o}", "ID", jint(id)), &resp);

	if (err)
		return err;
	/* One message of the stream: {"result": {"ID": .., "TTL": ..}}; TTL 0 (left out):
	 * the lease is gone. */
	res = json_object_get(resp, "result");
	if (!ep_etcd_int(json_object_get(res ? res : resp, "TTL")))
		err = -ENOENT;
	json_decref(resp);
	return err;
}

int ep_etcd_lease_revoke(struct ep_etcd *e, int64_t id)
{
	json_t *resp = NULL;
	int err = call(e, "/v3/lease/revoke", json_pack("{s:o}", "ID", jint(id)), &resp);

	json_decref(resp);
	return err;
}

/* --- the watch ------------------------------------------------------------------------- */

struct watch_ctx {
	struct ep_etcd *e;
	struct ep_etcd_split split;
	ep_etcd_watch_fn *fn;
	void *arg;
	int err; /* what ended the stream from our side */
};

/* One JSON object of the watch stream: parsed, its events to the caller's callback. */
static int watch_obj(void *arg, const char *text, size_t len)
{
	struct watch_ctx *w = arg;
	json_error_t jerr;
	json_t *msg = json_loadb(text, len, 0, &jerr);
	int64_t compact = 0;
	char m[256];
	int code, err;

	if (!msg)
		return -EBADMSG;
	err = ep_etcd_parse_watch(msg, w->fn, w->arg, &compact);
	if (err == -EIO && ep_etcd_resp_error(msg, m, sizeof(m), &code))
		snprintf(w->e->err, sizeof(w->e->err), "etcd: watch: %s", m);
	else if (err == -ESTALE)
		snprintf(w->e->err, sizeof(w->e->err),
			 "etcd: watch: compacted (oldest revision %lld)", (long long)compact);
	json_decref(msg);
	return err;
}

/* curl's write callback of the watch: bytes into the splitter, as they come. */
static size_t watch_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct watch_ctx *w = arg;

	w->err = ep_etcd_split_feed(&w->split, data, size * nmemb, watch_obj, w);
	return w->err ? 0 : size * nmemb;
}

int ep_etcd_watch(struct ep_etcd *e, const char *prefix, int64_t start, ep_etcd_watch_fn *fn,
		  void *arg)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	struct watch_ctx w = { .e = e, .fn = fn, .arg = arg };
	char *end = ep_etcd_prefix_end(prefix), *text, url[512];
	CURLcode rc;

	json_t *req = end ? json_pack("{s:{s:o, s:o, s:o}}", "create_request", "key", jb64(prefix),
				      "range_end", jb64(end), "start_revision", jint(start))
			  : NULL;

	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	free(end);
	if (!text || !hdr) {
		free(text);
		curl_slist_free_all(hdr);
		return -ENOMEM;
	}
	e->err[0] = '\0';
	snprintf(url, sizeof(url), "%s/v3/watch", e->ep[e->cur]);
	curl_setup(e, url, text, hdr);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &w);
	/* No total timeout (a watch is idle for as long as nothing changes); a dead peer is
	 * found by TCP keepalive. */
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPINTVL, 1L);
	rc = curl_easy_perform(e->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		w.err = -EINTR;
	else if (rc != CURLE_OK && !w.err)
		snprintf(e->err, sizeof(e->err), "etcd: watch on %s: %s", e->ep[e->cur],
			 curl_easy_strerror(rc));
	if (!w.err) {
		w.err = -ECONNRESET; /* the stream ended: the member went away */
		if (rc == CURLE_OK)
			snprintf(e->err, sizeof(e->err), "etcd: watch on %s: the stream ended",
				 e->ep[e->cur]);
	}
	if (w.err == -ECONNRESET || w.err == -EBADMSG || w.err == -EMSGSIZE)
		e->cur = (e->cur + 1) % e->n; /* the next watch: another member */
	ep_etcd_split_free(&w.split);
	free(text);
	curl_slist_free_all(hdr);
	return w.err;
}
