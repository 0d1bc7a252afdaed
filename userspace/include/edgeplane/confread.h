/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * confread.h - reading libconfig files strictly: an unknown setting, a wrong type or a
 * value out of range is an error that names the file, the line and the setting. Errors
 * are logged as they are found and remembered in rd->err, so one run reports them all.
 *
 * A configuration is described once, as a table of keys (struct ep_conf_key): each has
 * its path ("limits.mtu"), its type and range, the field it sets, its default and a line
 * of documentation. From the table come the defaults (ep_conf_table_defaults()), the
 * reading (ep_conf_table_read(): unknown keys refused, ranges checked), the printing in
 * the file's own syntax (ep_conf_table_print(): what it prints reads back the same) and
 * the freeing of the strings it set (ep_conf_table_free()). Used by the runtime's and the
 * controller's configuration readers (dataplane/daemon/config.c, control/config.c).
 */
#ifndef EDGEPLANE_CONFREAD_H
#define EDGEPLANE_CONFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libconfig.h>

struct ep_confread {
	const char *path;
	int err; /* 0, or -EINVAL after the first error */
};

/* config_read_file() with an error message. Returns 0 or -EINVAL (@cf is destroyed). */
int ep_conf_open(config_t *cf, const char *path);

/* Log "path:line: setting: @what" (an element of a list: "list[i]") and remember the error. */
void ep_conf_bad(struct ep_confread *rd, const config_setting_t *s, const char *what);

/* Refuse any member of @group not in the NULL-terminated @names: a typo is not ignored. */
void ep_conf_known(struct ep_confread *rd, const config_setting_t *group, const char *const *names);

/* Reads integer member @name of @g, in lo..hi, if it is there; true if read. */
bool ep_conf_num(struct ep_confread *rd, const config_setting_t *g, const char *name, long long lo,
		 long long hi, long long *out);

#define EP_CONF_U32(rd, g, name, lo, hi, dst)              \
	do {                                               \
		long long _v;                              \
		if (ep_conf_num(rd, g, name, lo, hi, &_v)) \
			(dst) = (uint32_t)_v;              \
	} while (0)

/* --- descriptor tables -------------------------------------------------------------- */

enum ep_ck_type {
	EP_CK_BOOL,   /* bool: true or false */
	EP_CK_INT,    /* an integer field of .size bytes (.sgn: signed): value * .scale */
	EP_CK_STR,    /* char *, owned; NULL: unset */
	EP_CK_ENUM,   /* one of .names; its value is stored in the field under .mask */
	EP_CK_INTS,   /* [ ... ] of integers in lo..hi (or of .names) into an array */
	EP_CK_STRS,   /* [ ... ] of strings into an array of char *, owned */
	EP_CK_CUSTOM, /* .read and .print do the work (lists of groups, addresses) */
};

#define EP_CK_F_EXTDEF 0x1 /* the default comes from the struct's owner, not .def */
#define EP_CK_F_COUNT  0x2 /* INTS, STRS: an unsigned int at .count_off holds the count */
#define EP_CK_F_EXACT  0x4 /* INTS: exactly .max entries */
/* The group is there only if this key is set (its presence turns it on): while the key
 * is unset, the group is printed as comments. */
#define EP_CK_F_SWITCH 0x8

struct ep_ck_name {
	const char *name;
	long long value;
};

struct ep_conf_key;
/* Read setting @s (present) of key @k into the struct at @base. */
typedef void ep_ck_read_fn(struct ep_confread *rd, const config_setting_t *s, void *base,
			   const struct ep_conf_key *k);
/* Print key @k of @base as "name = value;" (or a comment if unset) at @indent. */
typedef void ep_ck_print_fn(FILE *f, const void *base, const struct ep_conf_key *k, int indent);
/* Free what .read allocated. */
typedef void ep_ck_free_fn(void *base, const struct ep_conf_key *k);

struct ep_conf_key {
	const char *path;		/* "key" or "group.key" (one level); NULL ends */
	enum ep_ck_type type;		/* EP_CK_* */
	uint8_t size;			/* INT, ENUM, INTS: bytes of the field (of an element) */
	bool sgn;			/* INT, INTS: the field is signed */
	uint8_t flags;			/* EP_CK_F_* */
	size_t off;			/* offsetof(the struct, the field) */
	long long lo, hi;		/* INT, INTS: the range in the file; outside it: unset */
	long long scale;		/* INT: the field holds value * scale (0: 1); ms -> ns */
	long long def;			/* BOOL, INT, ENUM: the default; INTS: each element's */
	const char *def_str;		/* STR: the default; NULL: unset */
	const long long *def_list;	/* INTS with EP_CK_F_EXACT: the .max defaults */
	unsigned long long mask;	/* ENUM: the bits of the field it owns (0: all) */
	const struct ep_ck_name *names; /* ENUM, INTS: { NULL } ends them */
	size_t count_off;		/* INTS, STRS with EP_CK_F_COUNT */
	unsigned int max;		/* INTS, STRS: at most this many */
	ep_ck_read_fn *read;		/* CUSTOM */
	ep_ck_print_fn *print;		/* CUSTOM */
	ep_ck_free_fn *free;		/* CUSTOM, optional */
	const char *doc;		/* one line */
};

/* Set every key of @t in @base to its default (strings are copied). Returns 0 or
 * -ENOMEM. */
int ep_conf_table_defaults(const struct ep_conf_key *t, void *base);
/* Read the keys of @t present under @root (the file's root, or a group of a list) into
 * @base; a member that is no key of @t is refused as an unknown setting. Errors are
 * logged and left in rd->err. */
void ep_conf_table_read(struct ep_confread *rd, const config_setting_t *root,
			const struct ep_conf_key *t, void *base);
/* Read file @path over @base through @t. Returns 0 or -EINVAL after logging every
 * problem. */
int ep_conf_table_load(const struct ep_conf_key *t, void *base, const char *path);
/* Print every key of @t in @base in the file's syntax, groups as groups, each with its
 * range and doc as a comment; an unset key as a comment. Read back, it gives @base. */
void ep_conf_table_print(FILE *f, const struct ep_conf_key *t, const void *base, int indent);
/* Free the strings and lists @t's keys own in @base. */
void ep_conf_table_free(const struct ep_conf_key *t, void *base);
/* Element @i of a list of groups in @base, as the struct @sub describes (@buf: room the
 * callee may build it in). */
typedef const void *ep_ck_elem_fn(const void *base, unsigned int i, void *buf);
/* Print key @k, a list of @n groups, "name = ( { ... }, ... );", each element printed
 * through @sub; none: an unset comment. */
void ep_conf_print_groups(FILE *f, const struct ep_conf_key *k, const struct ep_conf_key *sub,
			  const void *base, unsigned int n, ep_ck_elem_fn *elem, void *buf,
			  int indent);
/* Read list of groups @s: each group goes to @read_elem; anything else is refused. */
void ep_conf_read_groups(struct ep_confread *rd, const config_setting_t *s, void *base,
			 void (*read_elem)(struct ep_confread *rd, const config_setting_t *g,
					   void *base));
/* A string in the file's syntax: quoted, with escapes. */
void ep_conf_print_string(FILE *f, const char *s);

/* Key constructors. T: the struct, F: the field (an expression after "T."). */
#define EP_CK_INTF(p, T, F, lo_, hi_, def_, doc_)                                            \
	{                                                                                    \
		.path = p, .type = EP_CK_INT, .size = sizeof(((T *)0)->F),                   \
		.sgn = (lo_) < 0 || (def_) < 0, .off = offsetof(T, F), .lo = lo_, .hi = hi_, \
		.def = def_, .doc = doc_                                                     \
	}
#define EP_CK_SCALED(p, T, F, lo_, hi_, scale_, def_, doc_)                                       \
	{                                                                                         \
		.path = p, .type = EP_CK_INT, .size = sizeof(((T *)0)->F), .off = offsetof(T, F), \
		.lo = lo_, .hi = hi_, .scale = scale_, .def = def_, .doc = doc_                   \
	}
#define EP_CK_BOOLF(p, T, F, def_, doc_)                                                       \
	{                                                                                      \
		.path = p, .type = EP_CK_BOOL, .off = offsetof(T, F), .def = def_, .doc = doc_ \
	}
#define EP_CK_STRF(p, T, F, def_, doc_)                                                           \
	{                                                                                         \
		.path = p, .type = EP_CK_STR, .off = offsetof(T, F), .def_str = def_, .doc = doc_ \
	}
#define EP_CK_ENUMF(p, T, F, names_, def_, doc_)                                         \
	{                                                                                \
		.path = p, .type = EP_CK_ENUM, .size = sizeof(((T *)0)->F), .sgn = true, \
		.off = offsetof(T, F), .names = names_, .def = def_, .doc = doc_         \
	}

#define EP_CK_CUSTOMF(p, read_, print_, free_, doc_)                                            \
	{                                                                                       \
		.path = p, .type = EP_CK_CUSTOM, .read = read_, .print = print_, .free = free_, \
		.doc = doc_                                                                     \
	}

/* Names shared by both programs. */
extern const struct ep_ck_name ep_ck_auth_modes[]; /* required, optional, off */
extern const struct ep_ck_name ep_ck_rl_modes[];   /* on, off-unsafe (EP_RL_F_OFF) */
extern const struct ep_ck_name ep_ck_unsafe[];	   /* on (false), off-unsafe (true) */

/*
 * Group rate_limit (docs/operations.md): the XDP limits per source prefix of a struct
 * ep_rl_cfg at field F of T. Defaults: ep_xdp_rl_defaults(), which the readers call
 * first. EP_CK_RATE_LIMIT_GW adds the gateway's keys (a node reads its prefixes from
 * limits).
 */
#define EP_CK_RL(p, T, F, lo_, doc_)                                                           \
	{                                                                                      \
		.path = "rate_limit." p, .type = EP_CK_INT, .size = sizeof(uint32_t),          \
		.flags = EP_CK_F_EXTDEF, .off = offsetof(T, F), .lo = lo_, .hi = 4000000000ll, \
		.doc = doc_                                                                    \
	}
#define EP_CK_RATE_LIMIT(T, F)                                                     \
	{ .path = "rate_limit.mode",                                               \
	  .type = EP_CK_ENUM,                                                      \
	  .size = sizeof(uint16_t),                                                \
	  .flags = EP_CK_F_EXTDEF,                                                 \
	  .off = offsetof(T, F.flags),                                             \
	  .mask = EP_RL_F_OFF,                                                     \
	  .names = ep_ck_rl_modes,                                                 \
	  .doc = "\"off-unsafe\": no limit per source prefix" },                   \
		EP_CK_RL("packets_per_s", T, F.packets_per_s, 0,                   \
			 "datagrams/s per prefix; 0: no limit on datagrams"),      \
		EP_CK_RL("packets_burst", T, F.packets_burst, 1,                   \
			 "datagrams a prefix may send at once"),                   \
		EP_CK_RL("bytes_per_s", T, F.bytes_per_s, 0,                       \
			 "bytes/s per prefix (frames as XDP sees them); 0: none"), \
		EP_CK_RL("bytes_burst", T, F.bytes_burst, 1500, "bytes a prefix may send at once")
#define EP_CK_RATE_LIMIT_GW(T, F)                                                             \
	EP_CK_RATE_LIMIT(T, F),                                                               \
		EP_CK_RL("tasks_per_s", T, F.tasks_per_s, 0,                                  \
			 "new tasks/s per prefix; 0: no limit on tasks"),                     \
		EP_CK_RL("tasks_burst", T, F.tasks_burst, 1,                                  \
			 "new tasks a prefix may send at once"),                              \
		{ .path = "rate_limit.source_prefix_v4",                                      \
		  .type = EP_CK_INT,                                                          \
		  .size = 1,                                                                  \
		  .flags = EP_CK_F_EXTDEF,                                                    \
		  .off = offsetof(T, F.prefix_v4),                                            \
		  .lo = 0,                                                                    \
		  .hi = 32,                                                                   \
		  .doc = "IPv4 sources are limited by this prefix" },                         \
	{                                                                                     \
		.path = "rate_limit.source_prefix_v6", .type = EP_CK_INT, .size = 1,          \
		.flags = EP_CK_F_EXTDEF, .off = offsetof(T, F.prefix_v6), .lo = 0, .hi = 128, \
		.doc = "IPv6 sources are limited by this prefix"                              \
	}

#endif /* EDGEPLANE_CONFREAD_H */
