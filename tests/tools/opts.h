/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * opts.h - one option table per test tool (after xdp-tools' params.h): each row names a
 * long option, what it sets and how (a string, a number in a range, a flag, a bit, one of
 * a list of names, or the tool's own function), and tool_opts() parses argv with it.
 * --help prints the tool's usage to stdout and exits 0; anything else it cannot take
 * prints the usage to stderr and exits 2.
 *
 *   static const struct tool_opt opts[] = {
 *	OPT_STR("to", to),
 *	OPT_NUM("port", port, 1, 65535),
 *	OPT_FLAG("raw", raw),
 *	{ 0 },
 *   };
 *   int first = tool_opts(argc, argv, opts, usage);	// index of the first operand
 */
#ifndef EP_TEST_TOOLS_OPTS_H
#define EP_TEST_TOOLS_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

enum tool_opt_kind {
	TOOL_O_STR,    /* const char *: the argument itself */
	TOOL_O_NUM,    /* an integer of .size bytes: tool_num() in .min..max */
	TOOL_O_FLAG,   /* bool: true, no argument */
	TOOL_O_BIT,    /* an integer of .size bytes: |= .min, no argument */
	TOOL_O_CHOICE, /* an integer of .size bytes: the value of the name given */
	TOOL_O_FN,     /* .fn(argument, .dst): 0, or not 0 when it refused (and said why) */
};

/* One name of a TOOL_O_CHOICE list (which ends with a NULL name) and what it sets. */
struct tool_choice {
	const char *name;
	long value;
};

struct tool_opt {
	const char *name; /* without "--"; NULL ends the table */
	enum tool_opt_kind kind;
	void *dst;
	unsigned int size; /* of *dst, for NUM, BIT and CHOICE: 1, 2, 4 or 8 */
	long min, max;
	const struct tool_choice *choices;
	int (*fn)(const char *arg, void *dst);
};

#define OPT_STR(n, v)                                      \
	{                                                  \
		.name = n, .kind = TOOL_O_STR, .dst = &(v) \
	}
#define OPT_FLAG(n, v)                                      \
	{                                                   \
		.name = n, .kind = TOOL_O_FLAG, .dst = &(v) \
	}
#define OPT_NUM(n, v, lo, hi)                                                             \
	{                                                                                 \
		.name = n, .kind = TOOL_O_NUM, .dst = &(v), .size = sizeof(v), .min = lo, \
		.max = hi                                                                 \
	}
#define OPT_BIT(n, v, bit)                                                                \
	{                                                                                 \
		.name = n, .kind = TOOL_O_BIT, .dst = &(v), .size = sizeof(v), .min = bit \
	}
#define OPT_CHOICE(n, v, list)                                                                    \
	{                                                                                         \
		.name = n, .kind = TOOL_O_CHOICE, .dst = &(v), .size = sizeof(v), .choices = list \
	}
#define OPT_FN(n, f, d)                                         \
	{                                                       \
		.name = n, .kind = TOOL_O_FN, .dst = d, .fn = f \
	}

/* An OPT_REAL argument: the double at @dst, as strtod() reads @arg (0 if it is no number);
 * never refuses. */
static inline int tool_real_arg(const char *arg, void *dst)
{
	*(double *)dst = strtod(arg, NULL);
	return 0;
}
#define OPT_REAL(n, v) OPT_FN(n, tool_real_arg, &(v))

/* Store @v in the integer of @size bytes at @dst (its low bytes: the same value for a
 * signed or unsigned type that holds it). */
static inline void tool_opt_store(void *dst, unsigned int size, long v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;

		memcpy(dst, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;

		memcpy(dst, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;

		memcpy(dst, &x, 4);
		break;
	}
	default: {
		uint64_t x = (uint64_t)v;

		memcpy(dst, &x, 8);
		break;
	}
	}
}

/* The integer of @size bytes at @dst, as an unsigned value. */
static inline unsigned long tool_opt_load(const void *dst, unsigned int size)
{
	uint8_t x8;
	uint16_t x16;
	uint32_t x32;
	uint64_t x64;

	switch (size) {
	case 1:
		return memcpy(&x8, dst, 1), x8;
	case 2:
		return memcpy(&x16, dst, 2), x16;
	case 4:
		return memcpy(&x32, dst, 4), x32;
	default:
		return memcpy(&x64, dst, 8), (unsigned long)x64;
	}
}

/* @arg looked up in @o's choices; false (having said what it takes) when none matches. */
static inline bool tool_opt_choose(const struct tool_opt *o, const char *arg)
{
	const struct tool_choice *c;

	for (c = o->choices; c->name; c++) {
		if (!strcmp(c->name, arg)) {
			tool_opt_store(o->dst, o->size, c->value);
			return true;
		}
	}
	fprintf(stderr, "--%s: '%s' is not", o->name, arg);
	for (c = o->choices; c->name; c++)
		fprintf(stderr, "%s %s", c == o->choices ? "" : (c[1].name ? "," : " or"), c->name);
	fprintf(stderr, "\n");
	return false;
}

/* Apply row @o to its argument @arg; false when the argument is refused. */
static inline bool tool_opt_apply(const struct tool_opt *o, const char *arg)
{
	char what[64];

	switch (o->kind) {
	case TOOL_O_STR:
		*(const char **)o->dst = arg;
		return true;
	case TOOL_O_NUM:
		snprintf(what, sizeof(what), "--%s", o->name);
		tool_opt_store(o->dst, o->size, tool_num(what, arg, o->min, o->max));
		return true;
	case TOOL_O_FLAG:
		*(bool *)o->dst = true;
		return true;
	case TOOL_O_BIT:
		tool_opt_store(o->dst, o->size,
			       (long)(tool_opt_load(o->dst, o->size) | (unsigned long)o->min));
		return true;
	case TOOL_O_CHOICE:
		return tool_opt_choose(o, arg);
	case TOOL_O_FN:
		return !o->fn(arg, o->dst);
	}
	return false;
}

/*
 * Parse the options of @argv by table @t; exits 0 after --help and 2 on an option it
 * cannot take (unknown, without its argument, out of range), printing @usage. Returns the
 * index in @argv of the first operand.
 */
static inline int tool_opts(int argc, char **argv, const struct tool_opt *t, void (*usage)(FILE *f))
{
	unsigned int n = 0;
	struct option *lo;
	int c;

	while (t[n].name)
		n++;
	lo = calloc(n + 2, sizeof(*lo));
	if (!lo) {
		perror("calloc");
		exit(1);
	}
	for (unsigned int i = 0; i < n; i++) {
		bool bare = t[i].kind == TOOL_O_FLAG || t[i].kind == TOOL_O_BIT;

		lo[i] = (struct option){ t[i].name, bare ? no_argument : required_argument, NULL,
					 256 + (int)i };
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c < 256 || !tool_opt_apply(&t[c - 256], optarg)) {
			usage(stderr);
			exit(2);
		}
	}
	free(lo);
	return optind;
}

#endif
