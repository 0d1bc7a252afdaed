/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * opt.h - one option table per command line. A table of struct ep_opt says, for each
 * option, its names, what its argument is (a flag, a string, an integer in a range, a
 * double, one of a list of names, or anything a callback parses), where the value goes,
 * and the argument's name and help text. The same table drives parsing (getopt_long, so
 * --opt=value and --opt value alike), --help, --version and the hidden --dump-options
 * that the man-page test reads.
 *
 * Usage errors are one line on stderr, "PROG: what is wrong. Try 'PROG --help'.", and
 * the program exits 2; --help prints the usage to stdout and the program exits 0.
 */
#ifndef EDGEPLANE_OPT_H
#define EDGEPLANE_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum ep_opt_kind {
	EP_OPTK_FLAG, /* no argument: the bool (or integer of size bytes) = !(flags & EP_OPT_CLEAR)
		       */
	EP_OPTK_STR,  /* *(const char **)dst = the argument (argv's string) */
	EP_OPTK_STRDUP, /* *(char **)dst: freed, then a copy of the argument */
	EP_OPTK_INT,	/* an integer in lo..hi, times scale, into an integer of size bytes */
	EP_OPTK_UINT,	/* the same, unsigned: no sign, ulo..uhi */
	EP_OPTK_DOUBLE, /* a number in dlo..dhi into *(double *)dst */
	EP_OPTK_ENUM,	/* one of choices' names; its value into an integer of size bytes */
	EP_OPTK_FUNC,	/* cb(opt, arg) parses and stores; arg NULL when arg_name is NULL */
};

/* Option flags. */
#define EP_OPT_EARLY	0x1 /* applied in the first pass (a config file to read first) */
#define EP_OPT_CLEAR	0x2 /* FLAG: sets false */
#define EP_OPT_OPTARG	0x4 /* the argument may be left out (--watch [SECONDS]) */
#define EP_OPT_REQUIRED 0x8 /* must be given */

/* One of the names an EP_OPTK_ENUM option takes; a NULL name ends the list. */
struct ep_opt_choice {
	const char *name;
	int value;
};

struct ep_opt {
	const char *name; /* the long name, without "--"; NULL ends a table */
	char short_name;  /* 0: none */
	enum ep_opt_kind kind;
	void *dst;		     /* where the value goes (see the kinds) */
	unsigned int size;	     /* INT, UINT, ENUM: sizeof the field (1, 2, 4 or 8) */
	long long lo, hi;	     /* INT: the range */
	unsigned long long ulo, uhi; /* UINT: the range */
	double dlo, dhi;	     /* DOUBLE: the range */
	long long scale; /* INT, UINT: the value stored is the argument times this (0: 1) */
	const struct ep_opt_choice *choices; /* ENUM */
	/* FUNC: parse @arg (NULL for a flag, or a left-out EP_OPT_OPTARG argument) and store
	 * it. Returns 0, or -EINVAL and what is wrong in @err (ep_seterr(); the parser
	 * prints it after the option's name). */
	int (*cb)(const struct ep_opt *o, const char *arg, char *err, size_t errlen);
	void *ctx;	      /* FUNC: for the callback */
	const char *arg_name; /* the argument in help ("N", "FILE"); NULL: takes none */
	const char *help;     /* '\n' starts a continuation line */
	unsigned int flags;   /* EP_OPT_* */
	bool *seen;	      /* if set: made true when the option is given */
};

/* Table entries; a table ends with EP_OPT_END. */
/* clang-format off */
#define EP_OPT_FLAG(n, s, p, h)                                                          \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_FLAG, .dst = (p),              \
	  .size = sizeof(*(p)), .help = (h) }
/* A flag that makes its field false: the "no-" side of a setting that defaults to on. */
#define EP_OPT_FLAG_OFF(n, s, p, h)                                                      \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_FLAG, .dst = (p),              \
	  .size = sizeof(*(p)), .flags = EP_OPT_CLEAR, .help = (h) }
#define EP_OPT_STR(n, s, p, a, h)                                                        \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_STR, .dst = (p),               \
	  .arg_name = (a), .help = (h) }
#define EP_OPT_STRDUP(n, s, p, a, h)                                                     \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_STRDUP, .dst = (p),            \
	  .arg_name = (a), .help = (h) }
#define EP_OPT_INT(n, s, p, l, u, a, h)                                                  \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_INT, .dst = (p),               \
	  .size = sizeof(*(p)), .lo = (l), .hi = (u), .arg_name = (a), .help = (h) }
/* An integer given in one unit and stored in a finer one: the field gets value x @sc (a
 * duration in ms kept in ns: 1000000); the range is in the unit given. */
#define EP_OPT_INT_SCALED(n, s, p, l, u, sc, a, h)                                       \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_INT, .dst = (p),               \
	  .size = sizeof(*(p)), .lo = (l), .hi = (u), .scale = (sc), .arg_name = (a),    \
	  .help = (h) }
#define EP_OPT_UINT(n, s, p, l, u, a, h)                                                 \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_UINT, .dst = (p),              \
	  .size = sizeof(*(p)), .ulo = (l), .uhi = (u), .arg_name = (a), .help = (h) }
#define EP_OPT_DOUBLE(n, s, p, l, u, a, h)                                               \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_DOUBLE, .dst = (p),            \
	  .dlo = (l), .dhi = (u), .arg_name = (a), .help = (h) }
#define EP_OPT_ENUM(n, s, p, c, a, h)                                                    \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_ENUM, .dst = (p),              \
	  .size = sizeof(*(p)), .choices = (c), .arg_name = (a), .help = (h) }
#define EP_OPT_FUNC(n, s, f, x, a, h)                                                    \
	{ .name = (n), .short_name = (s), .kind = EP_OPTK_FUNC, .cb = (f), .ctx = (x),   \
	  .arg_name = (a), .help = (h) }
#define EP_OPT_END { .name = NULL }

/* Fill the array @dst with the entries given and an EP_OPT_END; the entries may point
 * into the caller's variables (a table built at run time). */
#define EP_OPT_TABLE(dst, ...)                                                           \
	do {                                                                             \
		const struct ep_opt ep_opt_t_[] = { __VA_ARGS__, EP_OPT_END };           \
		_Static_assert(sizeof(ep_opt_t_) <= sizeof(dst), #dst " is too small");  \
		memcpy((dst), ep_opt_t_, sizeof(ep_opt_t_));                             \
	} while (0)
/* clang-format on */

#define EP_OPT_MAX_TABLES 6

/* A command line: a program, or one command of it. */
struct ep_opt_prog {
	const char *name;   /* in messages and "Try 'NAME --help'": "edgectl table" */
	const char *usage;  /* printed by --help before the options ("Usage: ...\n...") */
	const char *footer; /* after the options, or NULL */
	/* The option tables, the command's own first; NULL after the last. */
	const struct ep_opt *tabs[EP_OPT_MAX_TABLES + 1];
	/* A heading line --help prints before each table's options, or NULL. */
	const char *headings[EP_OPT_MAX_TABLES];
	/* Called by --help after the footer (for lists built at run time), or NULL. */
	void (*help_extra)(FILE *f);
};

/* The passes of ep_opt_parse(): options flagged EP_OPT_EARLY, the others, or both. */
#define EP_OPT_PASS_EARLY 0x1
#define EP_OPT_PASS_LATE  0x2
#define EP_OPT_PASS_ALL	  (EP_OPT_PASS_EARLY | EP_OPT_PASS_LATE)

/*
 * Parse argv[1..argc-1] by @p's tables, applying the options of @pass (every pass checks
 * every option's spelling; values are checked when applied). Options and arguments may
 * be in any order; the arguments are moved to the end of argv. --help, --version and
 * --dump-options (hidden: every option with its argument's name, a line each) are
 * answered on stdout. Returns the index in argv of the first argument that is not an
 * option (argc if none), -ECANCELED after --help, --version or --dump-options (exit 0),
 * or -EINVAL after a usage error was printed (exit 2).
 */
int ep_opt_parse(const struct ep_opt_prog *p, int argc, char **argv, unsigned int pass);

/* The exit status after ep_opt_parse() returned @err < 0: 0 or 2. */
static inline int ep_opt_exit(int err)
{
	return err == -125 /* -ECANCELED */ ? 0 : 2;
}

/* Print @p's full usage: its text, the options of every table, the footer. */
void ep_opt_help(const struct ep_opt_prog *p, FILE *f);
/* Print every option of @p, "--name ARG" or "--name" (and "-s" first if it has one), a
 * line each: what the man-page test compares with the page. */
void ep_opt_dump(const struct ep_opt_prog *p, FILE *f);
/* Print "PROG VERSION (git REV)" to stdout: PROG the first word of @prog. */
void ep_opt_version(const char *prog);

/* Print the one-line usage error "PROG: MESSAGE. Try 'PROG --help'." to stderr, PROG
 * being @p's name. Returns -EINVAL, for `return ep_opt_error(...)`. */
int ep_opt_error(const struct ep_opt_prog *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The entry of table @t named @name (to set what a macro does not, as .seen), or NULL. */
struct ep_opt *ep_opt_lookup(struct ep_opt *t, const char *name);

/*
 * Parse the whole of @s as an integer (decimal, or 0x hex) in @lo..@hi: the one number
 * parser of the option tables, for callbacks too. Returns 0 and *out, or -EINVAL with
 * "'S' is not a number in LO..HI" in @err.
 */
int ep_opt_number(const char *s, long long lo, long long hi, long long *out, char *err,
		  size_t errlen);

/*
 * The index of the first word of argv[1..] that is neither an option of @tabs (a
 * NULL-terminated list) nor the argument of one, or argc if there is none. Options not
 * in the tables are skipped as if they took no argument. For finding the command word
 * of a program whose shared options may stand before it.
 */
int ep_opt_first_word(const struct ep_opt *const *tabs, int argc, char **argv);

#endif /* EDGEPLANE_OPT_H */
