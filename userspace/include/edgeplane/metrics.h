/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metrics.h - Prometheus metrics over HTTP (libmicrohttpd), and helpers that write the
 * text exposition format (version 0.0.4) correctly.
 *
 *   static int write(void *arg, FILE *f)
 *   {
 *           ep_metrics_help_type(f, "edgeplane_tasks_completed_total",
 *                                "Tasks answered with a RESPONSE.", "counter");
 *           ep_metrics_sample_u64(f, "edgeplane_tasks_completed_total",
 *                                 EP_LABELS({ "type", "1" }, { "handler", "echo" }), 42);
 *           return 0;
 *   }
 *   ep_metrics_start("198.18.0.2:9100", write, NULL, &m);  ...  ep_metrics_stop(m);
 *
 * The server answers GET (and HEAD) /metrics with what the callback wrote, 404 for any
 * other path and 405 for any other method. It runs on one thread of its own: the callback
 * is called there, one request at a time, and must not block for long.
 *
 * Lives in the runtime library (libeprt.a), not in libepcore.a: clients do not link
 * libmicrohttpd. Link with `pkg-config --libs libmicrohttpd`.
 */
#ifndef EDGEPLANE_METRICS_H
#define EDGEPLANE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "edgeplane/hist.h"

#define EP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One label: name (a Prometheus label name, not escaped) and value (any UTF-8 string,
 * escaped on output). */
struct ep_label {
	const char *name;
	const char *value;
};

/* A label list for the writers below: EP_LABELS({ "queue", "0" }, { "reason", r }).
 * The list ends at the first entry whose name is NULL; a NULL list means no labels. */
#define EP_LABELS(...) ((const struct ep_label[]){ __VA_ARGS__, { NULL, NULL } })

/* Write the exposition text to @out. Returns 0, or a negative errno to answer 500. */
typedef int (*ep_metrics_fn)(void *arg, FILE *out);

struct ep_metrics;

/*
 * Parse a listen address: "IPv4:PORT", "[IPv6]:PORT" (a scope as in "[fe80::1%eth0]:PORT"
 * is allowed), or "PORT" / ":PORT", which mean 127.0.0.1:PORT: without an address, only
 * this host. Every address is "0.0.0.0:PORT" (IPv4) or "[::]:PORT" (IPv6 and IPv4).
 * PORT is 0..65535; 0 picks a free port. Host names are not accepted. Fills @ss and
 * @len. Returns 0, or -EINVAL after logging a message that names @addr.
 */
int ep_metrics_parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *len);

/*
 * Serve GET /metrics on @addr (see ep_metrics_parse_listen) from a thread of
 * libmicrohttpd's. @fn(@arg, f) writes each response into a memory stream. On success
 * returns 0 and the server in *out, which the caller owns and releases with
 * ep_metrics_stop(). On every address (0.0.0.0, [::]) it logs a warning: metrics tell
 * anyone who can connect about the host's load. Returns -EINVAL for a bad address, the negative
 * errno of socket(), bind() or listen() (-EADDRINUSE, -EADDRNOTAVAIL, ...), -ENOMEM, or -EIO if
 * libmicrohttpd does not start; the reason is logged. *out is untouched on failure.
 */
int ep_metrics_start(const char *addr, ep_metrics_fn fn, void *arg, struct ep_metrics **out);

/* The port the server listens on (useful after asking for port 0). */
uint16_t ep_metrics_port(const struct ep_metrics *m);

/* Stop serving: waits for a request in progress, closes the socket and frees @m. After it
 * returns, @fn is not called again. NULL is a no-op. */
void ep_metrics_stop(struct ep_metrics *m);

/* --- writing the text format -------------------------------------------------------- */

/* "# HELP name help" (help escaped: backslash, newline) and "# TYPE name type", where
 * @type is counter, gauge, histogram, summary or untyped. Once per metric, before its
 * samples. */
void ep_metrics_help_type(FILE *f, const char *name, const char *help, const char *type);

/* Write {name="value",...} for @labels (nothing for NULL or an empty list), escaping each
 * value: backslash as \\, double quote as \", newline as \n. */
void ep_metrics_labels(FILE *f, const struct ep_label *labels);

/* One sample: name{labels} value. The _u64 form is exact for every 64-bit count; the
 * double form writes NaN, +Inf and -Inf as Prometheus spells them, whole numbers below
 * 1e15 as integers, and other values with the fewest digits that read back to the same
 * double (5e-05, 0.25). */
void ep_metrics_sample_u64(FILE *f, const char *name, const struct ep_label *labels, uint64_t v);
void ep_metrics_sample(FILE *f, const char *name, const struct ep_label *labels, double v);

/* Format @v as ep_metrics_sample() does, into @buf. Returns @buf. */
char *ep_metrics_fmt_double(double v, char *buf, size_t len);

/*
 * Write @h as a Prometheus histogram @name: cumulative name_bucket{labels,le="b"} for
 * each of the @n increasing @bounds and le="+Inf" (a bound of +Inf in @bounds is skipped;
 * +Inf is always written), then name_sum and name_count. @scale converts the recorded
 * values to the exported unit (1e-9 for nanoseconds as seconds; 1 for counts); @bounds are
 * in the exported unit.
 *
 * Rounding: an ep_hist bucket holds a range of values [low, high] and only its count is
 * known, so a bucket is counted under a bound b when its low edge is <= b. Every value
 * <= b is therefore counted under b; a value above b is counted under b only when it
 * shares its bucket with b, and then it is less than 1/32 (3.1 %) above b. Below 64 each
 * bucket holds one value, so small counts (batch sizes) are exact. _sum and _count are
 * exact.
 */
void ep_metrics_histogram(FILE *f, const char *name, const struct ep_label *labels,
			  const struct ep_hist *h, double scale, const double *bounds,
			  unsigned int n);

/* The cumulative count of @h under @bound (raw, unscaled units), by the rule above. */
uint64_t ep_metrics_hist_count_le(const struct ep_hist *h, uint64_t bound);

#endif /* EDGEPLANE_METRICS_H */
