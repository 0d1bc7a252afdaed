// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The option tables (userspace/common/opt.c): every kind of value, both spellings
 * (--opt=value, --opt value), ranges and their one-line refusals, the two passes of a
 * program that reads its config file first, required and optional arguments, and the
 * command word of a program whose shared options may stand before it. The refusals print
 * their line on stderr; the log keeps them.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "edgeplane/opt.h"
#include "../lib/tap.h"

struct vals {
	uint16_t port;
	uint64_t wait_ns;
	uint32_t tenant;
	double rate;
	int zc;
	bool flag, keep;
	const char *name;
	long watch;
	bool port_seen;
	const char *config;
};

static const struct ep_opt_choice zc_names[] = {
	{ "auto", -1 }, { "on", 1 }, { "off", 0 }, { NULL, 0 }
};

/* --watch [N]: 1 when left out. */
static int opt_watch(const struct ep_opt *o, const char *arg, char *err, size_t len)
{
	long long v = 1;

	if (arg && ep_opt_number(arg, 1, 3600, &v, err, len))
		return -EINVAL;
	*(long *)o->ctx = (long)v;
	return 0;
}

static struct ep_opt tab[16];

/* A program of every kind of option over @v (defaults first). */
static struct ep_opt_prog prog(struct vals *v)
{
	*v = (struct vals){ .port = 7878, .keep = true, .zc = -1 };
	EP_OPT_TABLE(tab, EP_OPT_STR("config", 'c', &v->config, "FILE", "config"),
		     EP_OPT_INT("port", 'p', &v->port, 1, 65535, "N", "port"),
		     { .name = "wait-us",
		       .kind = EP_OPTK_INT,
		       .dst = &v->wait_ns,
		       .size = sizeof(v->wait_ns),
		       .lo = 0,
		       .hi = 1000000,
		       .scale = 1000,
		       .arg_name = "N",
		       .help = "wait" },
		     EP_OPT_UINT("tenant", 0, &v->tenant, 0, 0xffffffffULL, "ID", "tenant"),
		     EP_OPT_DOUBLE("rate", 0, &v->rate, 1, 1e7, "N", "rate"),
		     EP_OPT_ENUM("zerocopy", 0, &v->zc, zc_names, "auto|on|off", "zc"),
		     EP_OPT_FLAG("flag", 'f', &v->flag, "flag"),
		     { .name = "no-keep",
		       .kind = EP_OPTK_FLAG,
		       .dst = &v->keep,
		       .size = sizeof(v->keep),
		       .flags = EP_OPT_CLEAR,
		       .help = "keep off" },
		     EP_OPT_STR("name", 0, &v->name, "N", "name"),
		     EP_OPT_FUNC("watch", 0, opt_watch, &v->watch, "N", "watch"));
	tab[0].flags = EP_OPT_EARLY;
	tab[1].seen = &v->port_seen;
	tab[9].flags = EP_OPT_OPTARG;
	return (struct ep_opt_prog){ .name = "prog", .tabs = { tab } };
}

#define ARGV(...)                         \
	(char *[])                        \
	{                                 \
		"prog", __VA_ARGS__, NULL \
	}
#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])) - 1)

static int parse(struct vals *v, int argc, char **argv, unsigned int pass)
{
	struct ep_opt_prog p = prog(v);

	return ep_opt_parse(&p, argc, argv, pass);
}

static void test_spellings(void)
{
	char **a = ARGV("--port=80", "word", "--name", "x", "-f", "--tenant", "4294967295",
			"--rate=2.5", "--zerocopy", "off", "--no-keep", "--wait-us=7");
	char **b = ARGV("-p", "81", "--port", "82", "-p83");
	struct vals v;
	int ret;

	tap_begin();
	ret = parse(&v, ARGC(ARGV("", "", "", "", "", "", "", "", "", "", "", "")), a,
		    EP_OPT_PASS_ALL);
	EXPECT_EQ(ret, 12); /* the one word, moved to the end */
	EXPECT(!strcmp(a[12], "word"));
	EXPECT_EQ(v.port, 80);
	EXPECT(v.port_seen);
	EXPECT(v.name && !strcmp(v.name, "x"));
	EXPECT(v.flag);
	EXPECT(!v.keep);
	EXPECT_EQ(v.tenant, 4294967295u);
	EXPECT(v.rate == 2.5);
	EXPECT_EQ(v.zc, 0);
	EXPECT_EQ(v.wait_ns, 7000);
	ret = parse(&v, ARGC(ARGV("", "", "", "", "")), b, EP_OPT_PASS_ALL);
	EXPECT_EQ(ret, 6);
	EXPECT_EQ(v.port, 83); /* the last one given */
	tap_end("--opt=value, --opt value, -o value and -ovalue alike; words after the options; "
		"every kind stored at its size, scaled, a name's value");
}

/* @arg alone is refused (-EINVAL) and leaves the defaults. */
static bool refused(const char *arg1, const char *arg2)
{
	char *argv[] = { "prog", (char *)arg1, (char *)arg2, NULL };
	struct vals v;
	int ret = parse(&v, arg2 ? 3 : 2, argv, EP_OPT_PASS_ALL);

	return ret == -EINVAL && v.port == 7878 && v.tenant == 0 && v.zc == -1;
}

static void test_refusals(void)
{
	struct vals v;

	tap_begin();
	EXPECT(refused("--port=0", NULL));
	EXPECT(refused("--port", "65536"));
	EXPECT(refused("--port=80x", NULL));
	EXPECT(refused("--port=", NULL));
	EXPECT(refused("--port", NULL)); /* no value */
	EXPECT(refused("-p", NULL));
	EXPECT(refused("--tenant=-1", NULL));
	EXPECT(refused("--tenant=4294967296", NULL));
	EXPECT(refused("--rate=0.5", NULL));
	EXPECT(refused("--rate=nan", NULL));
	EXPECT(refused("--zerocopy=maybe", NULL));
	EXPECT(refused("--bogus", NULL));
	EXPECT(refused("--bogus=1", NULL));
	EXPECT(refused("-x", NULL));
	EXPECT(refused("--flag=1", NULL)); /* a flag takes no value */
	EXPECT(refused("--wa", "1"));	   /* --wait-us or --watch */
	EXPECT(refused("--watch=0", NULL));
	EXPECT_EQ(parse(&v, 2, ARGV("--port=0x50"), EP_OPT_PASS_ALL), 2);
	EXPECT_EQ(v.port, 0x50);
	EXPECT_EQ(ep_opt_exit(-EINVAL), 2);
	EXPECT_EQ(ep_opt_exit(-ECANCELED), 0);
	tap_end("out of range, not a number, unknown, a missing value, a flag with one: "
		"-EINVAL (exit 2), nothing stored; 0x hex taken");
}

static void test_optarg(void)
{
	struct vals v;

	tap_begin();
	EXPECT_EQ(parse(&v, 2, ARGV("--watch"), EP_OPT_PASS_ALL), 2);
	EXPECT_EQ(v.watch, 1);
	EXPECT_EQ(parse(&v, 3, ARGV("--watch", "5"), EP_OPT_PASS_ALL), 3);
	EXPECT_EQ(v.watch, 5);
	EXPECT_EQ(parse(&v, 2, ARGV("--watch=6"), EP_OPT_PASS_ALL), 2);
	EXPECT_EQ(v.watch, 6);
	EXPECT_EQ(parse(&v, 3, ARGV("--watch", "-f"), EP_OPT_PASS_ALL), 3);
	EXPECT_EQ(v.watch, 1);
	EXPECT(v.flag);
	tap_end("an optional argument: left out, as the next word, or after '='; an option "
		"next is not taken for it");
}

static void test_passes(void)
{
	char **a = ARGV("--port", "80", "--config=c.conf");
	char **b = ARGV("--config", "c.conf", "--bogus");
	struct vals v;

	tap_begin();
	EXPECT_EQ(parse(&v, 4, a, EP_OPT_PASS_EARLY), 4);
	EXPECT(v.config && !strcmp(v.config, "c.conf"));
	EXPECT_EQ(v.port, 7878); /* not yet */
	v.config = NULL;
	EXPECT_EQ(ep_opt_parse(&(struct ep_opt_prog){ .name = "prog", .tabs = { tab } }, 4, a,
			       EP_OPT_PASS_LATE),
		  4);
	EXPECT_EQ(v.port, 80);
	EXPECT(!v.config); /* early only */
	EXPECT_EQ(parse(&v, 4, b, EP_OPT_PASS_EARLY), -EINVAL);
	tap_end("two passes: the config file first, wherever it stands, then the rest; an "
		"unknown option refused in the first");
}

static void test_required_and_words(void)
{
	const struct ep_opt *tabs[] = { tab, NULL };
	struct ep_opt_prog p;
	struct vals v;

	tap_begin();
	p = prog(&v);
	tab[2].flags = EP_OPT_REQUIRED;
	EXPECT_EQ(ep_opt_parse(&p, 2, ARGV("-f"), EP_OPT_PASS_ALL), -EINVAL);
	EXPECT_EQ(ep_opt_parse(&p, 2, ARGV("--wait-us=1"), EP_OPT_PASS_ALL), 2);
	EXPECT_EQ(ep_opt_first_word(tabs, 6, ARGV("--name", "x", "-f", "cmd", "--port=1")), 4);
	EXPECT_EQ(ep_opt_first_word(tabs, 4, ARGV("--name=x", "cmd", "more")), 2);
	EXPECT_EQ(ep_opt_first_word(tabs, 3, ARGV("--other", "cmd")), 2);
	EXPECT_EQ(ep_opt_first_word(tabs, 2, ARGV("-f")), 2);
	EXPECT(ep_opt_lookup(tab, "rate") == &tab[4]);
	EXPECT(!ep_opt_lookup(tab, "rat"));
	tap_end("a required option missing is refused; the first word past the shared options "
		"and their values");
}

int main(void)
{
	test_spellings();
	test_refusals();
	test_optarg();
	test_passes();
	test_required_and_words();
	return tap_finish();
}
