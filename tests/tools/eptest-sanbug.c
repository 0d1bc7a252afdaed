// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-sanbug - a bug on purpose, built with ASan+UBSan, for test_sanitizers.sh: it shows
 * that tests/run.sh fails a test whose programs (a daemon in the background among them)
 * leave a sanitizer report, and passes one whose programs leave none.
 *
 *   eptest-sanbug heap   read one byte past a heap buffer (ASan: heap-buffer-overflow)
 *   eptest-sanbug ub     overflow a signed int (UBSan: signed-integer-overflow)
 *   eptest-sanbug leak   lose the last pointer to a block (LSan: detected memory leaks)
 *   eptest-sanbug none   the same work, without the bug
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept out of the optimiser's sight, so that the bug stays in the binary. */
static volatile size_t past = 1;
static volatile int big = INT_MAX;

/* "leak": a block whose only pointer is gone when the function returns (a function of its
 * own, so that no register or stack slot of main() still holds it when LSan looks, at the
 * process's exit). */
static __attribute__((noinline)) void leak_block(size_t len)
{
	char *volatile p = malloc(len);

	if (p)
		p[0] = 1;
	/* cppcheck-suppress memleak ; the leak LeakSanitizer must report (test_sanitizers) */
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "none";
	char *buf = malloc(15 + past); /* 16 bytes, a size the compiler cannot see */
	int sum = 0;

	if (!buf)
		return 1;
	memset(buf, 1, 16);
	if (!strcmp(what, "heap"))
		sum = buf[15 + past];
	else if (!strcmp(what, "ub"))
		sum = big + (int)past;
	else
		sum = buf[15] + (int)past;
	if (!strcmp(what, "leak"))
		leak_block(16 + past);
	free(buf);
	printf("%d\n", sum);
	return 0;
}
