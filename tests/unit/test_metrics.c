// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the metrics module: the text format (numbers, label and help escaping,
 * histograms against hand-computed buckets), listen addresses, and the HTTP server on
 * 198.18.0.1 and 2001:db8::1 inside a network namespace of the test's own (unshare), so
 * that no test traffic touches the host's network.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "edgeplane/metrics.h"
#include "../lib/rnd.h"
#include "../lib/tap.h"

/* Run a writer into a string; the caller frees it. */
#define CAPTURE(buf, f, stmts)                           \
	do {                                             \
		size_t _len;                             \
		FILE *f = open_memstream(&(buf), &_len); \
		stmts;                                   \
		fclose(f);                               \
	} while (0)

static int expect_str(const char *got, const char *want, const char *file, int line)
{
	if (got && !strcmp(got, want))
		return 1;
	tap_diag("%s:%d: got:\n%s\n# want:\n%s", file, line, got ? got : "(null)", want);
	tap_case_failed = 1;
	return 0;
}
#define EXPECT_STR(got, want) expect_str(got, want, __FILE__, __LINE__)

static void test_numbers(void)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ 200, "200" },
		{ -3, "-3" },
		{ 1795797931, "1795797931" },
		{ 5e-05, "5e-05" },
		{ 0.25, "0.25" },
		{ 1e-3, "0.001" },
		{ 2.5e-3, "0.0025" },
		{ 0.1, "0.1" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 1e300, "1e+300" },
		{ -2.5, "-2.5" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
		{ NAN, "NaN" },
	};
	char buf[32];
	char *out = NULL;

	tap_begin();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_STR(ep_metrics_fmt_double(cases[i].v, buf, sizeof(buf)), cases[i].s);
	tap_end("numbers: integers as integers, shortest round-trip, NaN and +-Inf spelled out");

	tap_begin();
	CAPTURE(out, f, {
		ep_metrics_sample_u64(f, "c_total", NULL, UINT64_MAX);
		ep_metrics_sample_u64(f, "c_total", EP_LABELS({ "queue", "0" }),
				      9007199254740993ull);
		ep_metrics_sample(f, "g", EP_LABELS({ "a", "1" }, { "b", "2" }), 0.5);
	});
	EXPECT_STR(out, "c_total 18446744073709551615\n"
			"c_total{queue=\"0\"} 9007199254740993\n"
			"g{a=\"1\",b=\"2\"} 0.5\n");
	free(out);
	tap_end("samples: 64-bit counts exact (beyond 2^53), labels in order");
}

static void test_escaping(void)
{
	char *out = NULL;

	tap_begin();
	CAPTURE(out, f, {
		ep_metrics_sample_u64(f, "m",
				      EP_LABELS({ "path", "C:\\dir\\\"x\"\nnext" }, { "empty", "" },
						{ "null", NULL }, { "utf8", "\xc2\xb5s" }),
				      1);
	});
	EXPECT_STR(out, "m{path=\"C:\\\\dir\\\\\\\"x\\\"\\nnext\",empty=\"\",null=\"\","
			"utf8=\"\xc2\xb5s\"} 1\n");
	free(out);
	tap_end("label values: backslash, double quote and newline escaped; UTF-8 kept");

	/* A label value from a config file or a name cut to its buffer may not be UTF-8;
	 * Prometheus refuses the whole scrape then. Found by tests/fuzz/fuzz_ctl_config.c. */
	tap_begin();
	CAPTURE(out, f, {
		ep_metrics_sample_u64(f, "m",
				      EP_LABELS({ "latin1", "caf\xe9" }, { "cut", "ab\xc3" },
						{ "surrogate", "\xed\xa0\x80" },
						{ "overlong", "\xc0\xaf" },
						{ "four", "\xf0\x9f\x98\x80\xf4\x90\x80\x80" }),
				      1);
	});
	EXPECT_STR(out, "m{latin1=\"caf?\",cut=\"ab?\",surrogate=\"???\",overlong=\"??\","
			"four=\"\xf0\x9f\x98\x80????\"} 1\n");
	free(out);
	tap_end("label values: bytes that are not UTF-8 become '?', valid sequences are kept");

	tap_begin();
	CAPTURE(out, f, {
		ep_metrics_help_type(f, "m_total", "Tasks \"done\" in C:\\x,\nper type.",
				     "counter");
	});
	/* In HELP only backslash and newline are escaped. */
	EXPECT_STR(out, "# HELP m_total Tasks \"done\" in C:\\\\x,\\nper type.\n"
			"# TYPE m_total counter\n");
	free(out);
	tap_end("help text: backslash and newline escaped, quotes kept");
}

static void test_histogram(void)
{
	/* Nanoseconds, with the ep_hist buckets they fall in: 50000 and 50100 share
	 * [49152, 50175], 51000 is in [50176, 51199]; 1000000 and 1010000 share
	 * [999424, 1015807], 1020000 is in [1015808, 1032191]. */
	static const struct {
		uint64_t v;
		unsigned int n;
	} rec[] = {
		{ 10000, 3 },	{ 50000, 1 },	{ 50100, 1 },	{ 51000, 1 },	   { 1000000, 2 },
		{ 1010000, 1 }, { 1020000, 1 }, { 2000000, 1 }, { 2000000000, 1 },
	};
	static const double bounds[] = { 50e-6, 100e-6, 1e-3, 1.0, INFINITY };
	static const double bbounds[] = { 1, 2, 4, 32, 64 };
	struct ep_hist *h = calloc(1, sizeof(*h)), *b = calloc(1, sizeof(*b));
	char *out = NULL;

	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
		for (unsigned int k = 0; k < rec[i].n; k++)
			ep_hist_record(h, rec[i].v);

	tap_begin();
	EXPECT_EQ(ep_hist_bucket_low(ep_hist_bucket_of(50100)), 49152);
	EXPECT_EQ(ep_hist_bucket_low(ep_hist_bucket_of(51000)), 50176);
	EXPECT_EQ(ep_hist_bucket_low(ep_hist_bucket_of(1010000)), 999424);
	EXPECT_EQ(ep_hist_bucket_low(ep_hist_bucket_of(1020000)), 1015808);
	CAPTURE(out, f, {
		ep_metrics_histogram(f, "lat_seconds", EP_LABELS({ "type", "1" }), h, 1e-9, bounds,
				     5);
	});
	/* Under 50us: 3 x 10000, 50000, and 50100 (its bucket starts below 50000). Under
	 * 100us: + 51000. Under 1ms: + 2 x 1000000 and 1010000. Under 1s: + 1020000 and
	 * 2000000. Sum: 2006211100 ns. */
	EXPECT_STR(out, "lat_seconds_bucket{type=\"1\",le=\"5e-05\"} 5\n"
			"lat_seconds_bucket{type=\"1\",le=\"0.0001\"} 6\n"
			"lat_seconds_bucket{type=\"1\",le=\"0.001\"} 9\n"
			"lat_seconds_bucket{type=\"1\",le=\"1\"} 11\n"
			"lat_seconds_bucket{type=\"1\",le=\"+Inf\"} 12\n"
			"lat_seconds_sum{type=\"1\"} 2.0062111\n"
			"lat_seconds_count{type=\"1\"} 12\n");
	free(out);
	tap_end("latency histogram in seconds: cumulative buckets, +Inf once, sum, count");

	tap_begin();
	for (uint64_t v = 1; v <= 64; v *= 2)
		ep_hist_record(b, v); /* 1 2 4 8 16 32 64 */
	ep_hist_record(b, 3);
	ep_hist_record(b, 66); /* 65 would share 64's bucket [64, 65] */
	CAPTURE(out, f, { ep_metrics_histogram(f, "batch", NULL, b, 1.0, bbounds, 5); });
	/* Values below 64 are exact, and 64 is counted under 64, 66 is not. */
	EXPECT_STR(out, "batch_bucket{le=\"1\"} 1\n"
			"batch_bucket{le=\"2\"} 2\n"
			"batch_bucket{le=\"4\"} 4\n"
			"batch_bucket{le=\"32\"} 7\n"
			"batch_bucket{le=\"64\"} 8\n"
			"batch_bucket{le=\"+Inf\"} 9\n"
			"batch_sum 196\n"
			"batch_count 9\n");
	free(out);
	tap_end("count histogram: exact below 64 and at powers of two, no labels");

	tap_begin();
	memset(b, 0, sizeof(*b));
	CAPTURE(out, f, {
		ep_metrics_histogram(f, "empty", EP_LABELS({ "q", "0" }), b, 1e-9, bounds, 2);
	});
	EXPECT_STR(out, "empty_bucket{q=\"0\",le=\"5e-05\"} 0\n"
			"empty_bucket{q=\"0\",le=\"0.0001\"} 0\n"
			"empty_bucket{q=\"0\",le=\"+Inf\"} 0\n"
			"empty_sum{q=\"0\"} 0\n"
			"empty_count{q=\"0\"} 0\n");
	free(out);
	tap_end("an empty histogram still has every bucket");

	/* The rounding rule on many values: every value <= a bound is counted under it, and
	 * a value counted under a bound is less than 1/32 above it. */
	tap_begin();
	{
		int bad = 0, straddled = 0;

		rnd_seed(88172645463325252ull);
		for (int i = 0; i < 2000; i++) {
			uint64_t x = rnd(), v, bound;

			v = x >> (x % 60 + 4);
			bound = (x >> 3) % (v + v / 16 + 2);
			memset(b, 0, sizeof(*b));
			ep_hist_record(b, v);
			if (v <= bound)
				bad += ep_metrics_hist_count_le(b, bound) != 1;
			else if (ep_metrics_hist_count_le(b, bound) && ++straddled)
				bad += (double)v >= (double)bound * (1.0 + 1.0 / 32);
		}
		EXPECT_EQ(bad, 0);
		EXPECT(straddled > 0);
	}
	tap_end("2000 random values: always under a bound >= them, under a lower one only "
		"when less than 1/32 above it");
	free(h);
	free(b);
}

static void test_listen(void)
{
	static const char *const bad[] = {
		"",
		"198.18.0.2",
		"198.18.0.2:",
		"198.18.0.2:65536",
		"198.18.0.2:-1",
		"91a",
		"65536",
		"-9100",
		"9100 ",
		":",
		"198.18.0.2:91a",
		"198.18.0.2:123456",
		"edge.example:9100",
		"::1:9100",
		"[::1]9100",
		"[::1]",
		"[]:9100",
		"[198.18.0.2]:9100",
		"198.18.0.256:9100",
		"[2001:db8::1:9100",
		" 198.18.0.2:9100",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct ep_metrics *m = (struct ep_metrics *)&ss;
	socklen_t len;
	char ip[INET6_ADDRSTRLEN];

	tap_begin();
	EXPECT_EQ(ep_metrics_parse_listen("198.18.0.2:9100", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET && len == sizeof(*s4) && ntohs(s4->sin_port) == 9100);
	EXPECT_STR(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)), "198.18.0.2");
	EXPECT_EQ(ep_metrics_parse_listen("[2001:db8::2]:0", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET6 && len == sizeof(*s6) && !s6->sin6_port);
	EXPECT_STR(inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)), "2001:db8::2");
	EXPECT_EQ(ep_metrics_parse_listen("[::]:65535", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET6 && ntohs(s6->sin6_port) == 65535);
	EXPECT_EQ(ep_metrics_parse_listen("0.0.0.0:9100", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET && s4->sin_addr.s_addr == htonl(INADDR_ANY));
	tap_end("listen addresses: IPv4:PORT, [IPv6]:PORT, and every address written out");

	/* Without an address: this host only, not every address. */
	tap_begin();
	EXPECT_EQ(ep_metrics_parse_listen("9100", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET && len == sizeof(*s4) && ntohs(s4->sin_port) == 9100);
	EXPECT_STR(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)), "127.0.0.1");
	memset(&ss, 0, sizeof(ss));
	EXPECT_EQ(ep_metrics_parse_listen(":9101", &ss, &len), 0);
	EXPECT(ss.ss_family == AF_INET && len == sizeof(*s4) && ntohs(s4->sin_port) == 9101);
	EXPECT_STR(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)), "127.0.0.1");
	tap_end("a bare port (9100) and :PORT listen on 127.0.0.1 only");

	tap_begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = ep_metrics_parse_listen(bad[i], &ss, &len);

		if (err != -EINVAL) {
			tap_diag("'%s': got %d, want -EINVAL", bad[i], err);
			tap_case_failed = 1;
		}
	}
	EXPECT_EQ(ep_metrics_parse_listen(NULL, &ss, &len), -EINVAL);
	EXPECT_EQ(ep_metrics_start("198.18.0.2", NULL, NULL, &m), -EINVAL);
	EXPECT(m == (struct ep_metrics *)&ss); /* untouched */
	tap_end("%zu bad listen addresses are -EINVAL, and so is starting on one",
		sizeof(bad) / sizeof(bad[0]));
}

/* --- HTTP ----------------------------------------------------------------------------- */

static unsigned int scrapes;

static int write_test_metrics(void *arg, FILE *f)
{
	int fail = *(int *)arg;

	if (fail)
		return -EIO;
	scrapes++;
	ep_metrics_help_type(f, "test_scrapes_total", "Scrapes served.", "counter");
	ep_metrics_sample_u64(f, "test_scrapes_total", NULL, scrapes);
	return 0;
}

struct http_reply {
	int status;
	char *head; /* status line and headers */
	char *body;
};

static void http_free(struct http_reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Send @req to @addr:@port over a plain TCP socket and read the reply until the server
 * closes. Returns 0 or a negative errno. */
static int http(int family, const char *addr, uint16_t port, const char *req, struct http_reply *r)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { .tv_sec = 5 };
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1), *sep;
	socklen_t sl;
	int fd, err = 0;

	memset(r, 0, sizeof(*r));
	if (!buf)
		return -ENOMEM;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		sl = sizeof(*s);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf + len, cap - len, 0);

		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n || (len += (size_t)n) == cap)
			break;
	}
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		err = -EPROTO;
		goto out;
	}
	*sep = '\0';
	r->head = strdup(buf);
	r->body = strdup(sep + 4);
out:
	close(fd);
	free(buf);
	return err;
}

static bool has_header(const struct http_reply *r, const char *line)
{
	const char *p = r->head;
	size_t n = strlen(line);

	if (!p)
		return false;
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, line, n) && (p[n] == '\r' || !p[n]))
			return true;
	}
	return false;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The status of the reply to "@method @target" with no body, over IPv4 to @addr:@port;
 * -1 when no reply could be read (which fails the case). */
static int status_of(const char *addr, uint16_t port, const char *method, const char *target)
{
	struct http_reply r = { 0 };
	char req[256];
	int err, status;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
		 target);
	err = http(AF_INET, addr, port, req, &r);
	EXPECT_EQ(err, 0);
	status = err ? -1 : r.status;
	http_free(&r);
	return status;
}

/* A runtime holds many descriptors: the server's must work above FD_SETSIZE. */
static void test_high_fds(const char *name)
{
	struct rlimit rl;
	struct ep_metrics *m = NULL;
	int fill[1100], n = 0, fail = 0, null;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max < 2048) {
		tap_skip(name, "RLIMIT_NOFILE hard limit below 2048");
		return;
	}
	if (rl.rlim_cur < 2048) {
		rl.rlim_cur = 2048;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			tap_skip(name, "cannot raise RLIMIT_NOFILE");
			return;
		}
	}
	tap_begin();
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	while (n < (int)(sizeof(fill) / sizeof(fill[0])) && (fill[n] = dup(null)) >= 0 &&
	       fill[n] < 1030)
		n++;
	/* the server's descriptors come above 1023 */
	EXPECT(n < (int)(sizeof(fill) / sizeof(fill[0])) && fill[n] >= 1030);
	EXPECT_EQ(ep_metrics_start("198.18.0.1:0", write_test_metrics, &fail, &m), 0);
	if (m) {
		EXPECT_EQ(status_of("198.18.0.1", ep_metrics_port(m), "GET", "/metrics"), 200);
		ep_metrics_stop(m);
	}
	if (n < (int)(sizeof(fill) / sizeof(fill[0])) && fill[n] >= 0)
		n++;
	while (n--)
		close(fill[n]);
	close(null);
	tap_end("%s", name);
}

static void test_http(void)
{
	static const char *const names[] = {
		"GET /metrics: 200, the exposition content type, the callback's text",
		"GET /metrics again: the callback runs per request; a query string is ignored",
		"HEAD /metrics: 200, headers only",
		"GET /x and GET /: 404",
		"POST and DELETE /metrics: 405 with Allow: GET, HEAD",
		"a failing callback: 500",
		"IPv6: GET /metrics on [2001:db8::1]",
		("a second server on a taken port: -EADDRINUSE; an address not on the host: "
		 "-EADDRNOTAVAIL"),
		"stop closes the socket (the port binds again) and leaks no descriptor",
		"descriptors above 1023 (no select()): GET /metrics still answers",
		"a bare port (\"0\") serves on 127.0.0.1, not on the host's other addresses",
	};
	const char *why = NULL;
	struct http_reply r;
	struct ep_metrics *m = NULL, *m2 = NULL;
	uint16_t port;
	char req[256];
	int fail = 0, fds;

	if (geteuid())
		why = "needs root to unshare a network namespace";
	else if (unshare(CLONE_NEWNET))
		why = "unshare(CLONE_NEWNET) failed";
	else if (system("ip link set lo up && ip addr add 198.18.0.1/32 dev lo && "
			"ip -6 addr add 2001:db8::1/128 dev lo nodad 2>/dev/null"))
		why = "cannot set up lo in the new namespace";
	if (why) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			tap_skip(names[i], why);
		return;
	}

	fds = count_fds();
	tap_begin();
	EXPECT_EQ(ep_metrics_start("198.18.0.1:0", write_test_metrics, &fail, &m), 0);
	if (!m) {
		tap_end("%s", names[0]);
		return;
	}
	port = ep_metrics_port(m);
	EXPECT(port != 0);
	snprintf(req, sizeof(req),
		 "GET /metrics HTTP/1.1\r\nHost: 198.18.0.1\r\n"
		 "Connection: close\r\n\r\n");
	EXPECT_EQ(http(AF_INET, "198.18.0.1", port, req, &r), 0);
	EXPECT_EQ(r.status, 200);
	EXPECT(has_header(&r, "Content-Type: " EP_METRICS_CONTENT_TYPE));
	EXPECT_STR(r.body, "# HELP test_scrapes_total Scrapes served.\n"
			   "# TYPE test_scrapes_total counter\n"
			   "test_scrapes_total 1\n");
	http_free(&r);
	tap_end("%s", names[0]);

	tap_begin();
	EXPECT_EQ(http(AF_INET, "198.18.0.1", port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n", &r), 0);
	EXPECT_EQ(r.status, 200);
	EXPECT(r.body && strstr(r.body, "\ntest_scrapes_total 2\n"));
	http_free(&r);
	tap_end("%s", names[1]);

	tap_begin();
	EXPECT_EQ(http(AF_INET, "198.18.0.1", port,
		       "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r),
		  0);
	EXPECT_EQ(r.status, 200);
	EXPECT(has_header(&r, "Content-Type: " EP_METRICS_CONTENT_TYPE));
	EXPECT_STR(r.body, "");
	http_free(&r);
	tap_end("%s", names[2]);

	tap_begin();
	EXPECT_EQ(status_of("198.18.0.1", port, "GET", "/x"), 404);
	EXPECT_EQ(status_of("198.18.0.1", port, "GET", "/"), 404);
	tap_end("%s", names[3]);

	tap_begin();
	EXPECT_EQ(http(AF_INET, "198.18.0.1", port,
		       "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		       "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		       &r),
		  0);
	EXPECT_EQ(r.status, 405);
	EXPECT(has_header(&r, "Allow: GET, HEAD"));
	http_free(&r);
	EXPECT_EQ(status_of("198.18.0.1", port, "DELETE", "/metrics"), 405);
	tap_end("%s", names[4]);

	tap_begin();
	fail = 1;
	EXPECT_EQ(status_of("198.18.0.1", port, "GET", "/metrics"), 500);
	fail = 0;
	tap_end("%s", names[5]);

	tap_begin();
	EXPECT_EQ(ep_metrics_start("[2001:db8::1]:0", write_test_metrics, &fail, &m2), 0);
	if (m2) {
		EXPECT_EQ(http(AF_INET6, "2001:db8::1", ep_metrics_port(m2),
			       "GET /metrics HTTP/1.1\r\nHost: [2001:db8::1]\r\n"
			       "Connection: close\r\n\r\n",
			       &r),
			  0);
		EXPECT_EQ(r.status, 200);
		EXPECT(r.body && strstr(r.body, "\ntest_scrapes_total 4\n"));
		http_free(&r);
		ep_metrics_stop(m2);
		m2 = NULL;
	}
	tap_end("%s", names[6]);

	tap_begin();
	snprintf(req, sizeof(req), "198.18.0.1:%u", port);
	EXPECT_EQ(ep_metrics_start(req, write_test_metrics, &fail, &m2), -EADDRINUSE);
	EXPECT_EQ(ep_metrics_start("198.18.0.9:0", write_test_metrics, &fail, &m2), -EADDRNOTAVAIL);
	EXPECT(!m2);
	tap_end("%s", names[7]);

	tap_begin();
	ep_metrics_stop(m);
	ep_metrics_stop(NULL);
	EXPECT_EQ(ep_metrics_start(req, write_test_metrics, &fail, &m), 0);
	EXPECT(m && ep_metrics_port(m) == port);
	ep_metrics_stop(m);
	EXPECT_EQ(count_fds(), fds);
	tap_end("%s", names[8]);

	tap_begin();
	m = NULL;
	EXPECT_EQ(ep_metrics_start("0", write_test_metrics, &fail, &m), 0);
	if (m) {
		EXPECT_EQ(status_of("127.0.0.1", ep_metrics_port(m), "GET", "/metrics"), 200);
		EXPECT(http(AF_INET, "198.18.0.1", ep_metrics_port(m),
			    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			    &r) < 0);
		http_free(&r);
		ep_metrics_stop(m);
	}
	tap_end("%s", names[10]);

	test_high_fds(names[9]);
}

int main(void)
{
	test_numbers();
	test_escaping();
	test_histogram();
	test_listen();
	test_http();
	return tap_finish();
}
