// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* opt.c - command lines from option tables (edgeplane/opt.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/opt.h"
#include "edgeplane/util.h"

/* build/include/ep_version.h, written by the build (userspace/userspace.mk); builds of
 * single objects that run before it exists (sanitizer, fuzz) say "unknown". */
#if __has_include("ep_version.h")
#include "ep_version.h"
#endif
#ifndef EP_VERSION
#define EP_VERSION "unknown"
#endif
#ifndef EP_GIT_REV
#define EP_GIT_REV "unknown"
#endif

#define HELP_COLUMN 28	    /* where help texts start */
#define O_LONG	    0x100   /* getopt value of the first option; short ones are below */
#define O_BUILTIN   0x10000 /* getopt values of --help, --version, --dump-options */

enum { B_HELP = O_BUILTIN, B_VERSION, B_DUMP };

/* The I-th option of @p's tables, or NULL past the last. */
static const struct ep_opt *nth_opt(const struct ep_opt_prog *p, int i)
{
	for (int t = 0; t < EP_OPT_MAX_TABLES && p->tabs[t]; t++) {
		int n = 0;

		while (p->tabs[t][n].name)
			n++;
		if (i < n)
			return &p->tabs[t][i];
		i -= n;
	}
	return NULL;
}

int ep_opt_error(const struct ep_opt_prog *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s. Try '%s --help'.\n", p->name, msg, p->name);
	return -EINVAL;
}

void ep_opt_version(const char *prog)
{
	/* The program's name, not its command's ("edgectl table"). */
	printf("%.*s %s (git %s)\n", (int)strcspn(prog, " "), prog, EP_VERSION, EP_GIT_REV);
}

/* Store @v in the integer field of @o, whatever its size. */
static void store_int(const struct ep_opt *o, unsigned long long v)
{
	ep_store_uint(o->dst, o->size, v);
}

int ep_opt_number(const char *s, long long lo, long long hi, long long *out, char *err,
		  size_t errlen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi) {
		ep_seterr(err, errlen, "'%s' is not a number in %lld..%lld", s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_int(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	long long scale = o->scale ? o->scale : 1, v;

	if (ep_opt_number(arg, o->lo, o->hi, &v, err, len))
		return -EINVAL;
	store_int(o, (unsigned long long)(v * scale));
	return 0;
}

static int parse_uint(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	unsigned long long scale = o->scale ? (unsigned long long)o->scale : 1, v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || strchr(arg, '-') || v < o->ulo || v > o->uhi) {
		ep_seterr(err, len, "'%s' is not a number in %llu..%llu", arg, o->ulo, o->uhi);
		return -EINVAL;
	}
	store_int(o, v * scale);
	return 0;
}

static int parse_double(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= o->dlo && v <= o->dhi)) {
		ep_seterr(err, len, "'%s' is not a number in %g..%g", arg, o->dlo, o->dhi);
		return -EINVAL;
	}
	*(double *)o->dst = v;
	return 0;
}

/* "a, b or c" of an ENUM option's names, into @buf. */
static const char *choice_list(const struct ep_opt *o, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; o->choices[i].name && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      !i		       ? ""
				      : o->choices[i + 1].name ? ", "
							       : " or ",
				      o->choices[i].name);
	return buf;
}

static int parse_enum(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	char names[256];

	for (int i = 0; o->choices[i].name; i++)
		if (!strcmp(arg, o->choices[i].name)) {
			store_int(o, (unsigned long long)(long long)o->choices[i].value);
			return 0;
		}
	ep_seterr(err, len, "'%s' is not %s", arg, choice_list(o, names, sizeof(names)));
	return -EINVAL;
}

static int parse_flag(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	(void)arg, (void)err, (void)len;
	store_int(o, !(o->flags & EP_OPT_CLEAR));
	return 0;
}

static int parse_str(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	(void)err, (void)len;
	*(const char **)o->dst = arg;
	return 0;
}

static int parse_strdup(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	char *s = strdup(arg);

	if (!s) {
		ep_seterr(err, len, "out of memory");
		return -ENOMEM;
	}
	free(*(char **)o->dst);
	*(char **)o->dst = s;
	return 0;
}

/* The parser of each kind: every one stores @arg as @o says, or says why not in @err
 * (the signature of an EP_OPTK_FUNC option's callback, which stands in for its kind). */
static int (*const parsers[])(const struct ep_opt *o, const char *arg, char *err, size_t len) = {
	[EP_OPTK_FLAG] = parse_flag, [EP_OPTK_STR] = parse_str,	  [EP_OPTK_STRDUP] = parse_strdup,
	[EP_OPTK_INT] = parse_int,   [EP_OPTK_UINT] = parse_uint, [EP_OPTK_DOUBLE] = parse_double,
	[EP_OPTK_ENUM] = parse_enum,
};

/* Apply @o with @arg (NULL: none given). Returns 0 or -EINVAL after printing why. */
static int apply(const struct ep_opt_prog *p, const struct ep_opt *o, const char *arg)
{
	char err[384] = "";
	int ret;

	if (o->kind == EP_OPTK_FUNC)
		ret = o->cb(o, arg, err, sizeof(err));
	else
		ret = parsers[o->kind](o, arg, err, sizeof(err));
	if (ret)
		return ep_opt_error(p, "--%s: %s", o->name, err[0] ? err : "invalid");
	if (o->seen)
		*o->seen = true;
	return 0;
}

/* The getopt_long tables of @p: @lo (n + 4 entries) and @so (3 per option + 2). */
static void build_getopt(const struct ep_opt_prog *p, struct option *lo, char *so)
{
	const struct ep_opt *o;
	int i, k = 0;

	*so++ = ':'; /* a missing argument returns ':' */
	for (i = 0; (o = nth_opt(p, i)); i++) {
		int has = !o->arg_name		     ? no_argument
			  : o->flags & EP_OPT_OPTARG ? optional_argument
						     : required_argument;

		lo[k++] = (struct option){ o->name, has, NULL, O_LONG + i };
		if (o->short_name) {
			*so++ = o->short_name;
			if (has != no_argument)
				*so++ = ':';
			if (has == optional_argument)
				*so++ = ':';
		}
	}
	lo[k++] = (struct option){ "help", no_argument, NULL, B_HELP };
	lo[k++] = (struct option){ "version", no_argument, NULL, B_VERSION };
	lo[k++] = (struct option){ "dump-options", no_argument, NULL, B_DUMP };
	lo[k] = (struct option){ 0 };
	*so++ = 'h';
	*so = '\0';
}

/* The option index getopt_long's @c stands for: a long option's value, or a short name. */
static int opt_index(const struct ep_opt_prog *p, int c)
{
	const struct ep_opt *o;

	if (c >= O_LONG && c < O_BUILTIN)
		return c - O_LONG;
	for (int i = 0; (o = nth_opt(p, i)); i++)
		if (o->short_name && o->short_name == c)
			return i;
	return -1;
}

/* How many of @p's options start with the @n bytes of @name (an abbreviation's). */
static int prefix_count(const struct ep_opt_prog *p, const char *name, int n)
{
	const struct ep_opt *o;
	int k = 0;

	for (int i = 0; n > 0 && (o = nth_opt(p, i)); i++)
		k += !strncmp(o->name, name, (size_t)n);
	return k;
}

/* What getopt_long refused (@c '?' or ':'), as one usage line. */
static int refused(const struct ep_opt_prog *p, int c, char **argv)
{
	const char *bad = argv[optind - 1];
	int n = (int)strcspn(bad, "=");

	if (c == ':' && optopt >= O_LONG && optopt < O_BUILTIN)
		return ep_opt_error(p, "--%s needs an argument", nth_opt(p, optopt - O_LONG)->name);
	if (c == ':')
		return ep_opt_error(p, "-%c needs an argument", optopt);
	if (optopt > 0 && optopt < O_LONG && bad[1] != '-')
		return ep_opt_error(p, "unknown option '-%c'", optopt);
	if (optopt >= O_LONG && optopt < O_BUILTIN) /* --flag=value */
		return ep_opt_error(p, "--%s takes no value", nth_opt(p, optopt - O_LONG)->name);
	return ep_opt_error(p, "%s option '%.*s'",
			    prefix_count(p, bad + 2, n - 2) > 1 ? "ambiguous" : "unknown", n, bad);
}

/* Refuse the first EP_OPT_REQUIRED option that was not given (@given, by index). */
static int check_required(const struct ep_opt_prog *p, const bool *given)
{
	const struct ep_opt *o;

	for (int i = 0; (o = nth_opt(p, i)); i++)
		if ((o->flags & EP_OPT_REQUIRED) && !given[i])
			return ep_opt_error(p, "--%s %s is required", o->name,
					    o->arg_name ? o->arg_name : "");
	return 0;
}

/* An EP_OPT_OPTARG option's argument given as the next word ("--watch 5"). */
static const char *next_word_arg(int argc, char **argv)
{
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

int ep_opt_parse(const struct ep_opt_prog *p, int argc, char **argv, unsigned int pass)
{
	struct option *lo;
	bool *given;
	char *so;
	int n = 0, c, err = 0;

	while (nth_opt(p, n))
		n++;
	lo = calloc((size_t)n + 4, sizeof(*lo));
	so = calloc((size_t)n * 3 + 3, 1);
	given = calloc((size_t)n + 1, sizeof(*given));
	if (!lo || !so || !given) {
		err = ep_opt_error(p, "out of memory");
		goto out;
	}
	build_getopt(p, lo, so);
	optind = 0; /* glibc: start afresh, whatever parsed before */
	opterr = 0;
	while (!err && (c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const struct ep_opt *o;
		const char *arg = optarg;
		int i;

		if (c == '?' || c == ':') {
			err = refused(p, c, argv);
			break;
		}
		if (c == B_HELP || c == 'h') {
			ep_opt_help(p, stdout);
			err = -ECANCELED;
			break;
		}
		if (c == B_VERSION || c == B_DUMP) {
			if (c == B_VERSION)
				ep_opt_version(p->name);
			else
				ep_opt_dump(p, stdout);
			err = -ECANCELED;
			break;
		}
		i = opt_index(p, c);
		o = nth_opt(p, i);
		given[i] = true;
		if ((o->flags & EP_OPT_OPTARG) && !arg)
			arg = next_word_arg(argc, argv);
		if (pass & (o->flags & EP_OPT_EARLY ? EP_OPT_PASS_EARLY : EP_OPT_PASS_LATE))
			err = apply(p, o, arg);
	}
	if (!err && (pass & EP_OPT_PASS_LATE))
		err = check_required(p, given);
out:
	free(given);
	free(so);
	free(lo);
	return err ? err : optind;
}

/* "  -s, --name ARG" of @o into @buf. */
static void opt_label(const struct ep_opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "  %c%c%s--%s%s%s%s%s", o->short_name ? '-' : ' ',
		 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
		 o->arg_name ? (o->flags & EP_OPT_OPTARG ? "[=" : " ") : "",
		 o->arg_name ? o->arg_name : "",
		 o->arg_name && (o->flags & EP_OPT_OPTARG) ? "]" : "", "");
}

/* @help, its continuation lines indented to the help column. */
static void print_help_text(FILE *f, const char *help)
{
	for (const char *s = help; s && *s;) {
		size_t n = strcspn(s, "\n");

		fprintf(f, "%.*s\n", (int)n, s);
		s += n;
		if (*s == '\n' && s[1])
			fprintf(f, "%*s", HELP_COLUMN, "");
		if (*s)
			s++;
	}
	if (!help || !*help)
		fputc('\n', f);
}

void ep_opt_help(const struct ep_opt_prog *p, FILE *f)
{
	const struct ep_opt *o;
	bool listed = false; /* some option above: a heading's table gets a blank line */
	char label[128];

	if (p->usage)
		fputs(p->usage, f);
	for (int t = 0; t < EP_OPT_MAX_TABLES && p->tabs[t]; t++) {
		if (p->headings[t] && p->tabs[t]->name)
			fprintf(f, "%s%s\n", listed ? "\n" : "", p->headings[t]);
		for (o = p->tabs[t]; o->name; o++) {
			listed = true;
			opt_label(o, label, sizeof(label));
			if (strlen(label) + 1 > HELP_COLUMN)
				fprintf(f, "%s\n%*s", label, HELP_COLUMN, "");
			else
				fprintf(f, "%-*s", HELP_COLUMN, label);
			print_help_text(f, o->help);
		}
	}
	if (p->headings[0]) /* the built-in ones apart from the last table */
		fputc('\n', f);
	fprintf(f, "%-*s%s\n", HELP_COLUMN, "  -h, --help", "show this help");
	fprintf(f, "%-*s%s\n", HELP_COLUMN, "      --version", "show the version");
	if (p->footer)
		fprintf(f, "\n%s", p->footer);
	if (p->help_extra)
		p->help_extra(f);
}

void ep_opt_dump(const struct ep_opt_prog *p, FILE *f)
{
	const struct ep_opt *o;

	for (int i = 0; (o = nth_opt(p, i)); i++)
		fprintf(f, "--%s%s%s%s%s\n", o->name, o->arg_name ? " " : "",
			o->flags & EP_OPT_OPTARG ? "[" : "", o->arg_name ? o->arg_name : "",
			o->flags & EP_OPT_OPTARG ? "]" : "");
}

struct ep_opt *ep_opt_lookup(struct ep_opt *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

/* The option of @tabs that @arg ("--name", "--name=v", "-s") names, or NULL. */
static const struct ep_opt *find_opt(const struct ep_opt *const *tabs, const char *arg)
{
	size_t n = strcspn(arg + 2, "=");

	for (int t = 0; tabs[t]; t++)
		for (const struct ep_opt *o = tabs[t]; o->name; o++)
			if (arg[1] == '-' ? strlen(o->name) == n && !strncmp(o->name, arg + 2, n)
					  : o->short_name && o->short_name == arg[1] && !arg[2])
				return o;
	return NULL;
}

int ep_opt_first_word(const struct ep_opt *const *tabs, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const struct ep_opt *o;

		if (argv[i][0] != '-' || !argv[i][1])
			return i;
		if (!strcmp(argv[i], "--"))
			return i + 1;
		o = find_opt(tabs, argv[i]);
		if (o && o->arg_name && !(o->flags & EP_OPT_OPTARG) && !strchr(argv[i], '='))
			i++;
	}
	return argc;
}
