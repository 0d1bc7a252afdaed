/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tap.h - a minimal TAP producer for edgeplane's C tests.
 *
 *   tap_begin();  EXPECT(x == 1);  EXPECT_EQ(a, b);  tap_end("case name");
 *   tap_skip("case name", "reason");
 *   return tap_finish();
 *
 * tests/run.sh reads the "ok"/"not ok"/"# SKIP" lines and counts them. An EXPECT that
 * fails outside a case (set-up checks before the first tap_begin(), or between cases) is
 * not lost: it is reported as a failed case of its own before the next one.
 */
#ifndef EP_TEST_TAP_H
#define EP_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed, tap_case_failed;

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* A check failed outside any case: report it as a failed case of its own. */
static inline void tap_stray(void)
{
	if (!tap_case_failed)
		return;
	tap_n++;
	tap_failed++;
	tap_case_failed = 0;
	printf("not ok %d - a check outside any case failed (see above)\n", tap_n);
	fflush(stdout);
}

static inline void tap_begin(void)
{
	tap_stray();
}

static inline void tap_fail(const char *file, int line, const char *what)
{
	tap_diag("%s:%d: %s", file, line, what);
	tap_case_failed = 1;
}

#define EXPECT(cond)                                                     \
	do {                                                             \
		if (!(cond))                                             \
			tap_fail(__FILE__, __LINE__, "expected " #cond); \
	} while (0)

#define EXPECT_EQ(a, b)                                                                          \
	do {                                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);                              \
		if (_a != _b) {                                                                  \
			tap_diag("%s:%d: %s == %s: got %lld, want %lld", __FILE__, __LINE__, #a, \
				 #b, _a, _b);                                                    \
			tap_case_failed = 1;                                                     \
		}                                                                                \
	} while (0)

static inline void tap_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_end(const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", tap_case_failed ? "not ok" : "ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	tap_failed += tap_case_failed;
	tap_case_failed = 0;
}

static inline void tap_skip(const char *name, const char *reason)
{
	tap_stray();
	tap_n++;
	printf("ok %d - %s # SKIP %s\n", tap_n, name, reason);
	fflush(stdout);
}

static inline int tap_finish(void)
{
	tap_stray();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* EP_TEST_TAP_H */
