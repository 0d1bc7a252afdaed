// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * metrics.c - a /metrics endpoint on libmicrohttpd, and the Prometheus text format.
 *
 * We bind and listen ourselves and hand the socket to MHD (MHD_OPTION_LISTEN_SOCKET), so
 * that a failure to bind comes back as its errno rather than as a NULL daemon.
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "edgeplane/log.h"
#include "edgeplane/metrics.h"
#include "edgeplane/util.h"

#define METRICS_PATH	     "/metrics"
#define MAX_CONNECTIONS	     16
#define CONNECTION_TIMEOUT_S 10

struct ep_metrics {
	struct MHD_Daemon *d;
	ep_metrics_fn fn;
	void *arg;
	uint16_t port;
};

/* --- the listen address ------------------------------------------------------------ */

int ep_metrics_parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	return ep_parse_sockaddr("metrics listen address", addr, EP_ADDR_PASSIVE, ss, len);
}

static int listen_on(const char *addr, const struct sockaddr_storage *ss, socklen_t len,
		     uint16_t *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, zero = 0, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("metrics on %s: socket: %s", addr, strerror(errno));
		return err;
	}
	/* A restarted runtime must not wait for the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto err_close_socket;
	/* "[::]:PORT" serves IPv4 as well, whatever bindv6only says. */
	if (ss->ss_family == AF_INET6 && ep_sockaddr_is_any(ss) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		goto err_close_socket;
	memset(&bound, 0, sizeof(bound)); /* getsockname() fills it */
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen))
		goto err_close_socket;
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;

err_close_socket:
	err = -errno;
	pr_err("metrics on %s: %s", addr, strerror(errno));
	close(fd);
	return err;
}

/* --- the server --------------------------------------------------------------------- */

/* libmicrohttpd passes a printf format (MHD_OPTION_EXTERNAL_LOGGER) */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	pr_warn("metrics server: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, void *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body,
					    body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_NO ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_NO)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return reply(conn, status, body, strlen(body), "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	static int seen;
	struct ep_metrics *m = cls;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	/* The first call comes with the headers only; answer once the request is complete
	 * (a request body, which nothing here wants, is read and discarded). */
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, METRICS_PATH))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");

	f = open_memstream(&buf, &len);
	if (!f)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	err = m->fn(m->arg, f);
	if (!err && ferror(f))
		err = -ENOMEM;
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		pr_warn("metrics: writing the response failed: %s", strerror(-err));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
	}
	return reply(conn, MHD_HTTP_OK, buf, len, EP_METRICS_CONTENT_TYPE);
}

int ep_metrics_start(const char *addr, ep_metrics_fn fn, void *arg, struct ep_metrics **out)
{
	struct sockaddr_storage ss;
	struct ep_metrics *m;
	socklen_t len;
	int fd, err;

	err = ep_metrics_parse_listen(addr, &ss, &len);
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	fd = listen_on(addr, &ss, len, &m->port);
	if (fd < 0) {
		err = fd;
		goto err_free;
	}
	/* One thread of MHD's own, with epoll (MHD_USE_AUTO): select() would fail on a
	 * descriptor above 1023, and a runtime holds many. */
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
				NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned int)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
	if (!m->d) {
		err = -EIO;
		pr_err("metrics on %s: libmicrohttpd did not start", addr);
		goto err_close_socket;
	}
	if (ep_sockaddr_is_any(&ss))
		pr_warn("metrics on every address (%s): anyone who reaches this host may read "
			"them; give the address to serve them on",
			addr);
	*out = m;
	return 0;

err_close_socket:
	close(fd);
err_free:
	free(m);
	return err;
}

uint16_t ep_metrics_port(const struct ep_metrics *m)
{
	return m->port;
}

void ep_metrics_stop(struct ep_metrics *m)
{
	if (!m)
		return;
	/* Joins the server's thread and closes the listen socket we gave it. */
	MHD_stop_daemon(m->d);
	free(m);
}

/* --- the text format ---------------------------------------------------------------- */

void ep_metrics_help_type(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s ", name);
	for (const char *c = help; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", f);
		else if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

/* Length of the UTF-8 sequence at @p (RFC 3629: no overlongs, surrogates or code points
 * above U+10FFFF), or 0 if it is not one. */
static int utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi) /* a NUL ends the string here too */
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A label value must be UTF-8, or Prometheus refuses the whole scrape; a name from a
 * config file need not be, nor one cut to its buffer: each byte that does not belong to
 * a UTF-8 sequence is written as '?'. */
static void label_value(FILE *f, const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		int n = utf8_len(c);

		if (n > 1) {
			fwrite(c, 1, (size_t)n, f);
			c += n - 1;
			continue;
		}
		if (*c == '\\')
			fputs("\\\\", f);
		else if (*c == '"')
			fputs("\\\"", f);
		else if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(n ? *c : '?', f);
	}
}

/* The labels and, when @le is not NULL, an le label after them. */
static void labels_le(FILE *f, const struct ep_label *labels, const char *le)
{
	bool first = true;

	for (const struct ep_label *l = labels; l && l->name; l++) {
		fprintf(f, "%s%s=\"", first ? "{" : ",", l->name);
		label_value(f, l->value ? l->value : "");
		fputc('"', f);
		first = false;
	}
	if (le) {
		fprintf(f, "%sle=\"%s\"", first ? "{" : ",", le);
		first = false;
	}
	if (!first)
		fputc('}', f);
}

void ep_metrics_labels(FILE *f, const struct ep_label *labels)
{
	labels_le(f, labels, NULL);
}

char *ep_metrics_fmt_double(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else if (v == trunc(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v); /* integers as integers: 200, not 2e+02 */
	} else {
		/* The shortest form that reads back to the same double. */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	return buf;
}

void ep_metrics_sample_u64(FILE *f, const char *name, const struct ep_label *labels, uint64_t v)
{
	fputs(name, f);
	labels_le(f, labels, NULL);
	fprintf(f, " %llu\n", (unsigned long long)v);
}

void ep_metrics_sample(FILE *f, const char *name, const struct ep_label *labels, double v)
{
	char buf[32];

	fputs(name, f);
	labels_le(f, labels, NULL);
	fprintf(f, " %s\n", ep_metrics_fmt_double(v, buf, sizeof(buf)));
}

/* 1/@scale when that is a whole number (1e9 for 1e-9), else 0: dividing by it is exact
 * where multiplying by @scale is not (2006211100 ns is 2.0062111 s, not 2.0062111000000003). */
static double inverse_scale(double scale)
{
	double inv = 1.0 / scale, r = nearbyint(inv);

	return r >= 1 && fabs(inv - r) <= 1e-9 * r ? r : 0;
}

static double to_unit(double raw, double scale)
{
	double inv = inverse_scale(scale);

	return inv ? raw / inv : raw * scale;
}

/* A bound in the exported unit as a raw ep_hist value: the largest integer <= it, where a
 * bound that is an integer but for floating-point error counts as that integer. */
static uint64_t raw_bound(double bound, double scale)
{
	double inv = inverse_scale(scale);
	double raw = inv ? bound * inv : bound / scale, r;

	if (!(raw >= 0))
		return 0;
	if (raw >= 18446744073709551615.0)
		return UINT64_MAX;
	r = nearbyint(raw);
	if (fabs(raw - r) <= 1e-9 * (r > 1 ? r : 1))
		return (uint64_t)r;
	return (uint64_t)floor(raw);
}

uint64_t ep_metrics_hist_count_le(const struct ep_hist *h, uint64_t bound)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < EP_HIST_BUCKETS && ep_hist_bucket_low(i) <= bound; i++)
		n += h->bucket[i];
	return n;
}

void ep_metrics_histogram(FILE *f, const char *name, const struct ep_label *labels,
			  const struct ep_hist *h, double scale, const double *bounds,
			  unsigned int n)
{
	uint64_t total = 0, cum = 0;
	unsigned int i = 0;
	char le[32];

	/* The buckets, not h->count, give _count: a copy of a histogram taken while its
	 * writer runs may have one without the other, and le="+Inf" must equal _count. */
	for (unsigned int b = 0; b < EP_HIST_BUCKETS; b++)
		total += h->bucket[b];
	for (unsigned int k = 0; k < n; k++) {
		uint64_t raw;

		if (isinf(bounds[k]) && bounds[k] > 0)
			continue;
		raw = raw_bound(bounds[k], scale);
		for (; i < EP_HIST_BUCKETS && ep_hist_bucket_low(i) <= raw; i++)
			cum += h->bucket[i];
		fprintf(f, "%s_bucket", name);
		labels_le(f, labels, ep_metrics_fmt_double(bounds[k], le, sizeof(le)));
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket", name);
	labels_le(f, labels, "+Inf");
	fprintf(f, " %llu\n", (unsigned long long)total);
	fprintf(f, "%s_sum", name);
	labels_le(f, labels, NULL);
	fprintf(f, " %s\n", ep_metrics_fmt_double(to_unit((double)h->sum, scale), le, sizeof(le)));
	fprintf(f, "%s_count", name);
	labels_le(f, labels, NULL);
	fprintf(f, " %llu\n", (unsigned long long)total);
}
