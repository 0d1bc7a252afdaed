// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the configuration tables (userspace/common/confread.c), on a table of
 * every kind of key over a struct of its own: the defaults it sets (and those it leaves
 * to the struct's owner), what it reads (scaled, 64-bit, names, a flag under a mask,
 * lists with and without a count, exact lists, strings), what it refuses (an unknown key,
 * a key where a group belongs, a value out of range, a wrong type, a list too long)
 * without touching the field, and what it prints: read back, the same text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeplane/confread.h"
#include "../lib/tap.h"

struct t {
	bool on;
	uint16_t port;
	int sig;
	uint64_t ns;
	uint64_t big;
	char *name;
	int tri;
	uint16_t flags;
	unsigned int q[4], nq;
	int cpus[4];
	uint8_t five[3];
	char *strs[3];
	unsigned int nstrs;
	uint32_t ext;
	bool gate;
};

static const struct ep_ck_name tri[] = { { "auto", -1 }, { "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const struct ep_ck_name lvl[] = { { "low", 0 }, { "high", 7 }, { NULL, 0 } };
static const long long five_def[] = { 1, 2, 3 };

#define T struct t
static const struct ep_conf_key keys[] = {
	EP_CK_BOOLF("on", T, on, true, "a switch"),
	EP_CK_STRF("name", T, name, "dflt", "a string"),
	EP_CK_INTF("g.port", T, port, 1, 65535, 7878, "a port"),
	EP_CK_INTF("g.sig", T, sig, -5, 5, -1, "a signed one"),
	EP_CK_SCALED("g.ms", T, ns, 0, 1000, 1000000, 5, "ms kept in ns"),
	EP_CK_INTF("g.big", T, big, 0, 1ll << 40, 0, "64 bits"),
	EP_CK_ENUMF("g.tri", T, tri, tri, -1, "a tri-state"),
	{ .path = "flag",
	  .type = EP_CK_ENUM,
	  .size = 2,
	  .off = offsetof(T, flags),
	  .mask = 0x2,
	  .names = ep_ck_rl_modes,
	  .def = 0,
	  .doc = "bit 1 of flags" },
	{ .path = "q",
	  .type = EP_CK_INTS,
	  .size = sizeof(unsigned int),
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(T, q),
	  .lo = 0,
	  .hi = 9,
	  .count_off = offsetof(T, nq),
	  .max = 4,
	  .doc = "counted" },
	{ .path = "cpus",
	  .type = EP_CK_INTS,
	  .size = sizeof(int),
	  .sgn = true,
	  .off = offsetof(T, cpus),
	  .lo = 0,
	  .hi = 99,
	  .def = -1,
	  .max = 4,
	  .doc = "filled" },
	{ .path = "five",
	  .type = EP_CK_INTS,
	  .size = 1,
	  .flags = EP_CK_F_EXACT,
	  .off = offsetof(T, five),
	  .names = lvl,
	  .def_list = five_def,
	  .max = 3,
	  .doc = "exactly three names" },
	{ .path = "strs",
	  .type = EP_CK_STRS,
	  .flags = EP_CK_F_COUNT,
	  .off = offsetof(T, strs),
	  .count_off = offsetof(T, nstrs),
	  .max = 3,
	  .doc = "strings" },
	{ .path = "ext",
	  .type = EP_CK_INT,
	  .size = 4,
	  .flags = EP_CK_F_EXTDEF,
	  .off = offsetof(T, ext),
	  .lo = 0,
	  .hi = 100,
	  .doc = "the owner's default" },
	{ .path = "sw.gate", .type = EP_CK_BOOL, .off = offsetof(T, gate), .doc = "plain" },
	{ 0 }
};
#undef T

static char path[] = "/tmp/test_confread-XXXXXX";

/* Write @text to the test's file; its path. */
static const char *file(const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

/* @c printed. */
static char *print(const struct t *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ep_conf_table_print(f, keys, c, 0);
	fclose(f);
	return buf;
}

static void fresh(struct t *c)
{
	memset(c, 0, sizeof(*c));
	c->ext = 77; /* the owner's */
	c->five[0] = 9;
	ep_conf_table_defaults(keys, c);
}

static void test_defaults(void)
{
	struct t c;

	tap_begin();
	fresh(&c);
	EXPECT(c.on);
	EXPECT(c.name && !strcmp(c.name, "dflt"));
	EXPECT_EQ(c.port, 7878);
	EXPECT_EQ(c.sig, -1);
	EXPECT_EQ(c.ns, 5000000);
	EXPECT_EQ(c.tri, -1);
	EXPECT_EQ(c.nq, 0);
	EXPECT_EQ(c.cpus[0], -1);
	EXPECT_EQ(c.cpus[3], -1);
	EXPECT_EQ(c.five[0], 1);
	EXPECT_EQ(c.five[2], 3);
	EXPECT_EQ(c.ext, 77);
	ep_conf_table_free(keys, &c);
	EXPECT(!c.name);
	tap_end("defaults from the table; an EP_CK_F_EXTDEF key keeps the owner's");
}

static void test_read(void)
{
	struct t c;

	fresh(&c);
	c.flags = 0x8001;
	tap_begin();
	EXPECT_EQ(ep_conf_table_load(
			  keys, &c,
			  file("on = false; name = \"a\\\"b\";\n"
			       "g: { port = 9; sig = -5; ms = 7; big = 1099511627776L;"
			       " tri = \"on\"; };\n"
			       "flag = \"off-unsafe\"; q = [3, 1]; cpus = [4];\n"
			       "five = [\"high\", \"low\", \"high\"]; strs = [\"x\", \"y\"];\n"
			       "ext = 5;\n")),
		  0);
	EXPECT(!c.on);
	EXPECT(!strcmp(c.name, "a\"b"));
	EXPECT_EQ(c.port, 9);
	EXPECT_EQ(c.sig, -5);
	EXPECT_EQ(c.ns, 7000000);
	EXPECT_EQ(c.big, 1ull << 40);
	EXPECT_EQ(c.tri, 1);
	EXPECT_EQ(c.flags, 0x8003);
	EXPECT_EQ(c.nq, 2);
	EXPECT_EQ(c.q[0], 3);
	EXPECT_EQ(c.q[1], 1);
	EXPECT_EQ(c.cpus[0], 4);
	EXPECT_EQ(c.cpus[1], -1);
	EXPECT_EQ(c.five[0], 7);
	EXPECT_EQ(c.five[1], 0);
	EXPECT_EQ(c.nstrs, 2);
	EXPECT(!strcmp(c.strs[1], "y"));
	EXPECT_EQ(c.ext, 5);
	EXPECT_EQ(ep_conf_table_load(keys, &c, file("strs = [\"z\"]; flag = \"on\";\n")), 0);
	EXPECT_EQ(c.nstrs, 1);
	EXPECT(!strcmp(c.strs[0], "z"));
	EXPECT_EQ(c.flags, 0x8001);
	ep_conf_table_free(keys, &c);
	tap_end("every kind of key read; a flag keeps the other bits; a list replaces the last");
}

/* @text is refused, and leaves the struct as the defaults made it. */
static bool refused(const char *text)
{
	struct t c, d;
	bool same;
	int err;

	fresh(&c);
	fresh(&d);
	err = ep_conf_table_load(keys, &c, file(text));
	same = c.on == d.on && !strcmp(c.name, d.name) && c.port == d.port && c.sig == d.sig &&
	       c.ns == d.ns && c.tri == d.tri && c.flags == d.flags && c.nq == d.nq &&
	       c.cpus[0] == d.cpus[0] && !memcmp(c.five, d.five, 3) && c.nstrs == d.nstrs;
	ep_conf_table_free(keys, &c);
	ep_conf_table_free(keys, &d);
	return err == -EINVAL && same;
}

static void test_refused(void)
{
	tap_begin();
	EXPECT(refused("bogus = 1;\n"));
	EXPECT(refused("g: { prot = 1; };\n"));
	EXPECT(refused("g = 1;\n"));
	EXPECT(refused("on: { x = 1; };\n"));
	EXPECT(refused("g: { port = 0; };\n"));
	EXPECT(refused("g: { port = 65536; };\n"));
	EXPECT(refused("g: { sig = -6; };\n"));
	EXPECT(refused("g: { ms = 1001; };\n"));
	EXPECT(refused("g: { port = \"7\"; };\n"));
	EXPECT(refused("on = 1;\n"));
	EXPECT(refused("name = 1;\n"));
	EXPECT(refused("g: { tri = \"maybe\"; };\n"));
	EXPECT(refused("flag = \"off\";\n"));
	EXPECT(refused("q = [1, 2, 3, 4, 5];\n"));
	EXPECT(refused("q = [];\n"));
	EXPECT(refused("q = [10];\n"));
	EXPECT(refused("five = [\"low\", \"low\"];\n"));
	EXPECT(refused("five = [\"low\", \"low\", \"mid\"];\n"));
	EXPECT(refused("strs = [\"a\", \"b\", \"c\", \"d\"];\n"));
	EXPECT(refused("strs = [1];\n"));
	EXPECT(refused("g: { port = 8; }; bogus = 1;\n") == false); /* g.port is read */
	tap_end("unknown keys, groups, ranges, types, names and list lengths refused, fields kept");
}

static void test_print(void)
{
	char *p1, *p2;
	struct t c;

	fresh(&c);
	tap_begin();
	EXPECT_EQ(ep_conf_table_load(keys, &c,
				     file("name = \"q\\\"\\\\\\n\"; g: { ms = 7; big = 3000000000L;"
					  " sig = 3; tri = \"off\"; };\n flag = \"off-unsafe\";"
					  " q = [2]; five = [\"high\", \"high\", \"low\"];"
					  " strs = [\"s\"];\n")),
		  0);
	p1 = print(&c);
	EXPECT(p1 && strstr(p1, "g: {\n"));
	EXPECT(p1 && strstr(p1, "  ms = 7;"));
	EXPECT(p1 && strstr(p1, "  big = 3000000000L;"));
	EXPECT(p1 && strstr(p1, "name = \"q\\\"\\\\\\x0a\";"));
	EXPECT(p1 && strstr(p1, "five = [\"high\", \"high\", \"low\"];"));
	EXPECT(p1 && strstr(p1, "# 0..9; counted"));
	EXPECT(p1 && strstr(p1, "# cpus: unset; 0..99; filled"));
	EXPECT(p1 && strstr(p1, "sw: {\n  gate = false;"));
	ep_conf_table_free(keys, &c);
	fresh(&c);
	EXPECT_EQ(ep_conf_table_load(keys, &c, file(p1 ? p1 : "")), 0);
	p2 = print(&c);
	EXPECT(p1 && p2 && !strcmp(p1, p2));
	if (p1 && p2 && strcmp(p1, p2))
		tap_diag("printed:\n%s\nread back and printed:\n%s", p1, p2);
	ep_conf_table_free(keys, &c);
	free(p1);
	free(p2);
	tap_end("printed in the file's syntax, with ranges and docs; read back, the same text");
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return 1;
	close(fd);
	test_defaults();
	test_read();
	test_refused();
	test_print();
	unlink(path);
	return tap_finish();
}
