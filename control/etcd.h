/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * etcd.h - a small etcd v3 client over etcd's JSON gateway (/v3/...), with libcurl for
 * HTTP and jansson for JSON: range (by prefix), put, delete, a transaction that writes
 * only if a key's mod_revision is unchanged, leases, and a watch from a revision.
 *
 * Why the JSON gateway and not gRPC: Debian 12 packages libcurl and jansson (the
 * controller already links jansson), while a C gRPC client means grpc + protobuf-c and
 * generated code from etcd's .proto files, none of it packaged for C as a stable API.
 * The gateway is part of every etcd 3.4+ member, speaks the same v3 API (keys and values
 * base64 in JSON, 64-bit numbers as strings), and what the controller needs is a few
 * calls a second at most, where JSON costs nothing that matters.
 *
 * One handle per thread: a handle is not thread-safe (it keeps its curl handle and the
 * last error). Every call has a timeout (timeout_ms per endpoint tried); endpoints are
 * tried in turn from the last one that answered, and a call that no endpoint could
 * serve leaves in ep_etcd_error() a message naming every endpoint and what it said.
 */
#ifndef EP_CONTROL_ETCD_H
#define EP_CONTROL_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ep_etcd;

/* One key as etcd holds it. @key and @value are NUL-terminated (value: @value_len bytes
 * before the NUL); both belong to the caller of the callback only during the call. */
struct ep_etcd_kv {
	const char *key;
	const char *value;
	size_t value_len;
	int64_t mod_revision, create_revision, lease;
};

struct ep_etcd_event {
	bool del; /* a DELETE; else a PUT */
	struct ep_etcd_kv kv;
};

/* Open a client of @n endpoints ("http://198.18.0.1:2379"; copied). Returns 0 or -errno
 * (-EINVAL: no endpoint). Close with ep_etcd_close(). */
int ep_etcd_open(struct ep_etcd **out, char *const *endpoints, unsigned int n,
		 unsigned int timeout_ms);
void ep_etcd_close(struct ep_etcd *e);
/* The last call's error, for a person: which endpoints were tried and what each said. */
const char *ep_etcd_error(const struct ep_etcd *e);
/* While *@stop is non-zero, calls in progress end with -EINTR (checked about every
 * 100 ms; the watch uses it to stop). NULL: never. */
void ep_etcd_set_stop(struct ep_etcd *e, volatile int *stop);

/* Called per key; a non-zero return stops and is returned. */
typedef int ep_etcd_kv_fn(void *arg, const struct ep_etcd_kv *kv);
/* Every key under @prefix, in key order, and the store's revision in @rev. 0 or -errno. */
int ep_etcd_range(struct ep_etcd *e, const char *prefix, ep_etcd_kv_fn *fn, void *arg,
		  int64_t *rev);
/* Put @key = @value (attached to @lease unless 0); the new revision in @rev (may be NULL). */
int ep_etcd_put(struct ep_etcd *e, const char *key, const char *value, int64_t lease, int64_t *rev);
/*
 * Write-if-unchanged: put @key = @value (or, with @value NULL, delete @key) only if the
 * key's mod_revision is still @mod_rev (0: the key must not exist). Returns 0, or
 * -ECANCELED if the key changed (nothing written), or another -errno.
 */
int ep_etcd_put_if(struct ep_etcd *e, const char *key, const char *value, int64_t mod_rev,
		   int64_t *rev);
/* Delete each of @keys (exact keys) in one transaction. 0 or -errno. */
int ep_etcd_delete(struct ep_etcd *e, const char *const *keys, unsigned int n, int64_t *rev);

/* A lease of @ttl_s seconds: its id in @id. 0 or -errno. */
int ep_etcd_lease_grant(struct ep_etcd *e, unsigned int ttl_s, int64_t *id);
/* Renew lease @id once. 0, -ENOENT if it has expired, or -errno. */
int ep_etcd_lease_keepalive(struct ep_etcd *e, int64_t id);
int ep_etcd_lease_revoke(struct ep_etcd *e, int64_t id);

/* Events of one watch response, all of revision @rev. A non-zero return ends the watch. */
typedef int ep_etcd_watch_fn(void *arg, int64_t rev, const struct ep_etcd_event *ev,
			     unsigned int n);
/*
 * Watch every key under @prefix from revision @start (a streaming request to one
 * endpoint, parsed as it arrives) and give each response's events to @fn. Returns when
 * the stream ends: -ESTALE if @start was compacted away (re-read everything), -EINTR if
 * stopped (ep_etcd_set_stop()), @fn's non-zero return, or another -errno (the member
 * went away: the caller re-reads and watches again).
 */
int ep_etcd_watch(struct ep_etcd *e, const char *prefix, int64_t start, ep_etcd_watch_fn *fn,
		  void *arg);

/* --- the encoding, for the tests ------------------------------------------------------ */

/* Base64 of @n bytes: a new string, or NULL (errno ENOMEM). */
char *ep_etcd_b64(const void *p, size_t n);
/* Decode base64 @s into a new NUL-terminated buffer (@len: its bytes before the NUL).
 * Returns 0, -EINVAL (not base64) or -ENOMEM. */
int ep_etcd_unb64(const char *s, char **out, size_t *len);
/* The end of the range of keys that begin with @prefix (the prefix with its last byte
 * + 1): a new string or NULL. */
char *ep_etcd_prefix_end(const char *prefix);
/* An int64 as the gateway writes it: a JSON string of digits, or a number; absent: 0. */
int64_t ep_etcd_int(const json_t *v);
/*
 * The message of an error answer ({"error": "...", "code": N, "message": "..."}) into
 * @buf and its gRPC code in *@code; returns true if @resp is one.
 */
bool ep_etcd_resp_error(const json_t *resp, char *buf, size_t len, int *code);
/* Decode one kv object of an answer; the strings are new (free them with
 * ep_etcd_kv_free()). 0, -EINVAL or -ENOMEM. */
int ep_etcd_kv_decode(const json_t *o, struct ep_etcd_kv *kv);
void ep_etcd_kv_free(struct ep_etcd_kv *kv);
/* A range answer's keys to @fn and its header's revision to @rev. 0 or -errno. */
int ep_etcd_parse_range(const json_t *resp, ep_etcd_kv_fn *fn, void *arg, int64_t *rev);
/*
 * One message of a watch stream ({"result": {...}} or {"error": ...}): its events to
 * @fn. Returns 0, -ESTALE (compacted: *@compact holds the oldest revision left), -EPIPE
 * (the watch was canceled), -EIO (an error message) or @fn's return.
 */
int ep_etcd_parse_watch(const json_t *msg, ep_etcd_watch_fn *fn, void *arg, int64_t *compact);

/* Splits a byte stream into the JSON objects it carries, whatever the chunks: feed it
 * bytes, and it calls back with each complete top-level object's text. */
struct ep_etcd_split {
	char *buf;
	size_t len, cap;
	size_t scan; /* bytes of buf already scanned */
	int depth;   /* of braces, outside strings */
	bool in_str, esc;
};
typedef int ep_etcd_obj_fn(void *arg, const char *text, size_t len);
/* 0, -ENOMEM, -EMSGSIZE (an object over 4 MiB), or @fn's non-zero return. */
int ep_etcd_split_feed(struct ep_etcd_split *s, const char *data, size_t len, ep_etcd_obj_fn *fn,
		       void *arg);
void ep_etcd_split_free(struct ep_etcd_split *s);

#endif /* EP_CONTROL_ETCD_H */
