// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "ep_shared.h"
#include "edgeplane/confread.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

int ep_conf_open(config_t *cf, const char *path)
{
	config_init(cf);
	if (config_read_file(cf, path))
		return 0;
	if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
		pr_err("%s: cannot read: %s", path, strerror(errno));
	else
		pr_err("%s:%d: %s", path, config_error_line(cf), config_error_text(cf));
	config_destroy(cf);
	return -EINVAL;
}

void ep_conf_bad(struct ep_confread *rd, const config_setting_t *s, const char *what)
{
	const config_setting_t *up = config_setting_parent(s);
	char name[80] = "(list item)";

	if (config_setting_name(s))
		snprintf(name, sizeof(name), "%s", config_setting_name(s));
	else if (up && config_setting_name(up)) /* an element: "queues[2]" */
		snprintf(name, sizeof(name), "%s[%d]", config_setting_name(up),
			 config_setting_index(s));
	pr_err("%s:%d: %s: %s", rd->path, config_setting_source_line(s), name, what);
	rd->err = -EINVAL;
}

void ep_conf_known(struct ep_confread *rd, const config_setting_t *group, const char *const *names)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned int)i);
		const char *const *n;

		if (!config_setting_name(s))
			continue;
		for (n = names; *n && strcmp(*n, config_setting_name(s)); n++)
			;
		if (!*n)
			ep_conf_bad(rd, s, "unknown setting");
	}
}

/* The integer @s holds, in lo..hi, into *out; false (and an error) if it is not one. */
static bool setting_num(struct ep_confread *rd, const config_setting_t *s, long long lo,
			long long hi, long long *out)
{
	long long v;
	char msg[96];

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		ep_conf_bad(rd, s, "must be an integer");
		return false;
	}
	if (v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%lld is outside %lld..%lld", v, lo, hi);
		ep_conf_bad(rd, s, msg);
		return false;
	}
	*out = v;
	return true;
}

bool ep_conf_num(struct ep_confread *rd, const config_setting_t *g, const char *name, long long lo,
		 long long hi, long long *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	return s && setting_num(rd, s, lo, hi, out);
}

/* --- descriptor tables -------------------------------------------------------------- */

const struct ep_ck_name ep_ck_auth_modes[] = {
#define EP_X_NAME(name, str) { str, EP_AUTH_MODE_##name },
	EP_AUTH_MODE_LIST(EP_X_NAME)
#undef EP_X_NAME
		{ NULL, 0 }
};
const struct ep_ck_name ep_ck_rl_modes[] = { { "on", 0 },
					     { "off-unsafe", EP_RL_F_OFF },
					     { NULL, 0 } };
const struct ep_ck_name ep_ck_unsafe[] = { { "on", 0 }, { "off-unsafe", 1 }, { NULL, 0 } };

/* The integer of @size bytes at @p. */
static long long get_int(const void *p, unsigned int size, bool sgn)
{
	switch (size) {
	case 1:
		return sgn ? (long long)*(const int8_t *)p : (long long)*(const uint8_t *)p;
	case 2:
		return sgn ? (long long)*(const int16_t *)p : (long long)*(const uint16_t *)p;
	case 4:
		return sgn ? (long long)*(const int32_t *)p : (long long)*(const uint32_t *)p;
	default:
		return *(const int64_t *)p;
	}
}

/* Store @v, two's complement, in the integer of @size bytes at @p. */
static void set_int(void *p, unsigned int size, long long v)
{
	ep_store_uint(p, size, (uint64_t)v);
}

static long long scale_of(const struct ep_conf_key *k)
{
	return k->scale ? k->scale : 1;
}

/* The name of @v in @names, or NULL. */
static const char *name_of(const struct ep_ck_name *names, long long v)
{
	for (; names->name; names++)
		if (names->value == v)
			return names->name;
	return NULL;
}

/* The value of string setting @s among @names into *out; false (and an error) if none. */
static bool setting_name(struct ep_confread *rd, const config_setting_t *s,
			 const struct ep_ck_name *names, long long *out)
{
	const char *v = config_setting_get_string(s);
	char msg[160];
	size_t len = 0;

	for (const struct ep_ck_name *n = names; v && n->name; n++)
		if (!strcmp(v, n->name)) {
			*out = n->value;
			return true;
		}
	len += (size_t)snprintf(msg, sizeof(msg), "must be");
	for (const struct ep_ck_name *n = names; n->name && len < sizeof(msg); n++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s \"%s\"",
					n == names  ? ""
					: n[1].name ? ","
						    : " or",
					n->name);
	ep_conf_bad(rd, s, msg);
	return false;
}

int ep_conf_table_defaults(const struct ep_conf_key *t, void *base)
{
	for (const struct ep_conf_key *k = t; k->path; k++) {
		char *p = (char *)base + k->off;

		if (k->flags & EP_CK_F_EXTDEF)
			continue;
		switch (k->type) {
		case EP_CK_BOOL:
			*(bool *)p = k->def;
			break;
		case EP_CK_INT:
			set_int(p, k->size, k->def * scale_of(k));
			break;
		case EP_CK_STR:
			*(char **)p = k->def_str ? strdup(k->def_str) : NULL;
			if (k->def_str && !*(char **)p)
				return -ENOMEM;
			break;
		case EP_CK_ENUM:
			set_int(p, k->size,
				k->mask ? (get_int(p, k->size, false) & ~(long long)k->mask) |
						  k->def
					: k->def);
			break;
		case EP_CK_INTS:
			for (unsigned int i = 0; !(k->flags & EP_CK_F_COUNT) && i < k->max; i++)
				set_int(p + i * k->size, k->size,
					k->def_list ? k->def_list[i] : k->def);
			/* fall through */
		case EP_CK_STRS:
			if (k->flags & EP_CK_F_COUNT)
				*(unsigned int *)((char *)base + k->count_off) = 0;
			break;
		case EP_CK_CUSTOM:
			break;
		}
	}
	return 0;
}

static bool is_list(const config_setting_t *s)
{
	return config_setting_is_array(s) || config_setting_is_list(s);
}

/* INTS: a list of integers in lo..hi, or of names. */
static void read_ints(struct ep_confread *rd, const config_setting_t *s, char *p,
		      const struct ep_conf_key *k, void *base)
{
	int n = is_list(s) ? config_setting_length(s) : -1;
	long long v[64];
	char msg[96];

	if (n <= 0 || n > (int)k->max || ((k->flags & EP_CK_F_EXACT) && n != (int)k->max) ||
	    k->max > 64) {
		if (k->flags & EP_CK_F_EXACT)
			snprintf(msg, sizeof(msg), "must be a list of %u %s", k->max,
				 k->names ? "names" : "integers");
		else
			snprintf(msg, sizeof(msg), "must be a list of 1..%u integers, like [0, 1]",
				 k->max);
		ep_conf_bad(rd, s, msg);
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		if (k->names ? !setting_name(rd, e, k->names, &v[i])
			     : !setting_num(rd, e, k->lo, k->hi, &v[i]))
			return;
	}
	for (int i = 0; i < n; i++)
		set_int(p + (size_t)i * k->size, k->size, v[i]);
	if (k->flags & EP_CK_F_COUNT)
		*(unsigned int *)((char *)base + k->count_off) = (unsigned int)n;
}

/* STRS: a list of strings, replacing the list before. */
static void read_strs(struct ep_confread *rd, const config_setting_t *s, char **p,
		      const struct ep_conf_key *k, void *base)
{
	unsigned int *count = (unsigned int *)((char *)base + k->count_off);
	int n = is_list(s) ? config_setting_length(s) : -1;
	char msg[96];

	for (int i = 0; i < n; i++)
		if (!config_setting_get_string_elem(s, i))
			n = -1;
	if (n < 0 || n > (int)k->max) {
		snprintf(msg, sizeof(msg), "must be a list of at most %u strings", k->max);
		ep_conf_bad(rd, s, msg);
		return;
	}
	for (unsigned int i = 0; i < *count; i++) {
		free(p[i]);
		p[i] = NULL;
	}
	for (*count = 0; *count < (unsigned int)n; (*count)++)
		p[*count] = strdup(config_setting_get_string_elem(s, (int)*count));
}

/* One key, present as @s. */
static void read_key(struct ep_confread *rd, const config_setting_t *s, void *base,
		     const struct ep_conf_key *k)
{
	char *p = (char *)base + k->off;
	long long v;

	switch (k->type) {
	case EP_CK_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			ep_conf_bad(rd, s, "must be true or false");
		else
			*(bool *)p = config_setting_get_bool(s);
		break;
	case EP_CK_INT:
		if (setting_num(rd, s, k->lo, k->hi, &v))
			set_int(p, k->size, v * scale_of(k));
		break;
	case EP_CK_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			ep_conf_bad(rd, s, "must be a string");
			break;
		}
		free(*(char **)p);
		*(char **)p = strdup(config_setting_get_string(s));
		break;
	case EP_CK_ENUM:
		if (!setting_name(rd, s, k->names, &v))
			break;
		if (k->mask)
			v |= get_int(p, k->size, false) & ~(long long)k->mask;
		set_int(p, k->size, v);
		break;
	case EP_CK_INTS:
		read_ints(rd, s, p, k, base);
		break;
	case EP_CK_STRS:
		read_strs(rd, s, (char **)p, k, base);
		break;
	case EP_CK_CUSTOM:
		k->read(rd, s, base, k);
		break;
	}
}

/* Whether a key of @t is @path (len bytes) exactly, or lies under it ("path."). */
static bool table_has(const struct ep_conf_key *t, const char *path, size_t len, bool under)
{
	for (const struct ep_conf_key *k = t; k->path; k++)
		if (!strncmp(k->path, path, len) && k->path[len] == (under ? '.' : '\0'))
			return true;
	return false;
}

/* Refuse the members of @g (at @prefix, "" or "group.") that are no key of @t. */
static void check_known(struct ep_confread *rd, const config_setting_t *g,
			const struct ep_conf_key *t, const char *prefix)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		char path[128];
		int len;

		if (!config_setting_name(s))
			continue;
		len = snprintf(path, sizeof(path), "%s%s", prefix, config_setting_name(s));
		if (len >= (int)sizeof(path) - 1 || table_has(t, path, (size_t)len, false))
			continue;
		if (!table_has(t, path, (size_t)len, true)) {
			ep_conf_bad(rd, s, "unknown setting");
		} else if (!config_setting_is_group(s)) {
			ep_conf_bad(rd, s, "must be a group: { ... }");
		} else {
			strcat(path, ".");
			check_known(rd, s, t, path);
		}
	}
}

void ep_conf_table_read(struct ep_confread *rd, const config_setting_t *root,
			const struct ep_conf_key *t, void *base)
{
	check_known(rd, root, t, "");
	for (const struct ep_conf_key *k = t; k->path; k++) {
		const config_setting_t *s =
			config_setting_lookup((config_setting_t *)root, k->path);

		if (s)
			read_key(rd, s, base, k);
	}
}

int ep_conf_table_load(const struct ep_conf_key *t, void *base, const char *path)
{
	struct ep_confread rd = { .path = path };
	config_t cf;

	if (ep_conf_open(&cf, path))
		return -EINVAL;
	ep_conf_table_read(&rd, config_root_setting(&cf), t, base);
	config_destroy(&cf);
	return rd.err;
}

void ep_conf_print_string(FILE *f, const char *s)
{
	if (!s)
		s = "";
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* An integer as libconfig reads it back: beyond 32 bits with an L. */
static void print_int(FILE *f, long long v)
{
	fprintf(f, "%lld%s", v, v > INT32_MAX || v < INT32_MIN ? "L" : "");
}

/* The value of @k in @base into @f; false if it is unset (a NULL string, an integer
 * outside its range, an empty list of integers, a value with no name). */
static bool print_value(FILE *f, const void *base, const struct ep_conf_key *k)
{
	const char *p = (const char *)base + k->off;
	unsigned int n = k->max;
	long long v;

	switch (k->type) {
	case EP_CK_BOOL:
		fputs(*(const bool *)p ? "true" : "false", f);
		return true;
	case EP_CK_INT:
		v = get_int(p, k->size, k->sgn) / scale_of(k);
		if (v < k->lo || v > k->hi)
			return false;
		print_int(f, v);
		return true;
	case EP_CK_STR:
		if (!*(char *const *)p)
			return false;
		ep_conf_print_string(f, *(char *const *)p);
		return true;
	case EP_CK_ENUM:
		v = get_int(p, k->size, k->sgn);
		if (!name_of(k->names, k->mask ? v & (long long)k->mask : v))
			return false;
		ep_conf_print_string(f, name_of(k->names, k->mask ? v & (long long)k->mask : v));
		return true;
	case EP_CK_INTS:
	case EP_CK_STRS:
		if (k->flags & EP_CK_F_COUNT)
			n = *(const unsigned int *)((const char *)base + k->count_off);
		for (unsigned int i = 0; k->type == EP_CK_INTS && i < n; i++) {
			v = get_int(p + i * k->size, k->size, k->sgn);
			if (k->names ? !name_of(k->names, v) : v < k->lo || v > k->hi)
				n = i; /* the rest is unset */
		}
		if (n < k->max && (k->flags & EP_CK_F_EXACT))
			n = 0; /* a value with no name: the list cannot be written */
		if (!n && k->type == EP_CK_INTS)
			return false;
		fputc('[', f);
		for (unsigned int i = 0; i < n; i++) {
			fputs(i ? ", " : "", f);
			if (k->type == EP_CK_STRS)
				ep_conf_print_string(f, ((char *const *)p)[i]);
			else if (k->names)
				ep_conf_print_string(
					f, name_of(k->names, get_int(p + i * k->size, k->size, 0)));
			else
				print_int(f, get_int(p + i * k->size, k->size, k->sgn));
		}
		fputc(']', f);
		return true;
	default:
		return false;
	}
}

/* "key = value;" and its comment: the range (integers) and the doc. */
static void print_key(FILE *f, const void *base, const struct ep_conf_key *k, int indent)
{
	const char *name = strrchr(k->path, '.') ? strrchr(k->path, '.') + 1 : k->path;
	char *line = NULL, range[64] = "";
	size_t len = 0;
	FILE *m;
	bool set;

	if (k->type == EP_CK_CUSTOM) {
		k->print(f, base, k, indent);
		return;
	}
	if (k->type == EP_CK_INT || (k->type == EP_CK_INTS && !k->names))
		snprintf(range, sizeof(range), "%lld..%lld; ", k->lo, k->hi);
	m = open_memstream(&line, &len);
	if (!m)
		return;
	set = print_value(m, base, k);
	fclose(m);
	if (set)
		fprintf(f, "%*s%s = %s;%*s # %s%s\n", indent, "", name, line,
			(int)(len + strlen(name) < 26 ? 26 - len - strlen(name) : 0), "", range,
			k->doc);
	else
		fprintf(f, "%*s# %s: unset; %s%s\n", indent, "", name, range, k->doc);
	free(line);
}

/* Whether group @g's switch (a key with EP_CK_F_SWITCH) is unset: then the group is off,
 * and must not be written (its presence alone turns it on). */
static bool group_off(const struct ep_conf_key *t, const void *base, const char *g, size_t glen)
{
	for (const struct ep_conf_key *k = t; k->path; k++) {
		FILE *m;
		char *buf = NULL;
		size_t len = 0;
		bool set;

		if (!(k->flags & EP_CK_F_SWITCH) || strncmp(k->path, g, glen))
			continue;
		m = open_memstream(&buf, &len);
		if (!m)
			return false;
		set = print_value(m, base, k);
		fclose(m);
		free(buf);
		return !set;
	}
	return false;
}

/* "group: { ... };" with the keys of @t under @k's group (@glen bytes, with the dot);
 * a group that is off, as comments. */
static void print_group(FILE *f, const struct ep_conf_key *t, const void *base,
			const struct ep_conf_key *k, size_t glen, int indent)
{
	bool off = group_off(t, base, k->path, glen);
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *m = off ? open_memstream(&buf, &len) : f;

	if (!m)
		return;
	fprintf(m, "%*s%.*s: {\n", indent, "", (int)glen - 1, k->path);
	for (const struct ep_conf_key *j = k; j->path; j++)
		if (!strncmp(j->path, k->path, glen))
			print_key(m, base, j, indent + 2);
	fprintf(m, "%*s};\n", indent, "");
	if (!off)
		return;
	fclose(m);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(f, "# %s\n", line);
	free(buf);
}

void ep_conf_table_print(FILE *f, const struct ep_conf_key *t, const void *base, int indent)
{
	for (const struct ep_conf_key *k = t; k->path; k++) {
		const char *dot = strchr(k->path, '.');
		size_t glen = dot ? (size_t)(dot - k->path) + 1 : 0;
		bool seen = false;

		if (!dot) {
			print_key(f, base, k, indent);
			continue;
		}
		for (const struct ep_conf_key *j = t; j < k && !seen; j++)
			seen = !strncmp(j->path, k->path, glen);
		if (seen)
			continue; /* the group is printed already */
		print_group(f, t, base, k, glen, indent);
	}
}

void ep_conf_table_free(const struct ep_conf_key *t, void *base)
{
	for (const struct ep_conf_key *k = t; k->path; k++) {
		char *p = (char *)base + k->off;

		if (k->type == EP_CK_STR) {
			free(*(char **)p);
			*(char **)p = NULL;
		} else if (k->type == EP_CK_STRS) {
			unsigned int *count = (unsigned int *)((char *)base + k->count_off);

			for (unsigned int i = 0; i < *count; i++) {
				free(((char **)p)[i]);
				((char **)p)[i] = NULL;
			}
			*count = 0;
		} else if (k->type == EP_CK_CUSTOM && k->free) {
			k->free(base, k);
		}
	}
}

void ep_conf_print_groups(FILE *f, const struct ep_conf_key *k, const struct ep_conf_key *sub,
			  const void *base, unsigned int n, ep_ck_elem_fn *elem, void *buf,
			  int indent)
{
	if (!n) {
		fprintf(f, "%*s# %s: unset; %s\n", indent, "", k->path, k->doc);
		return;
	}
	fprintf(f, "%*s%s = ( # %s\n", indent, "", k->path, k->doc);
	for (unsigned int i = 0; i < n; i++) {
		fprintf(f, "%*s{\n", indent + 2, "");
		ep_conf_table_print(f, sub, elem(base, i, buf), indent + 4);
		fprintf(f, "%*s}%s\n", indent + 2, "", i + 1 < n ? "," : "");
	}
	fprintf(f, "%*s);\n", indent, "");
}

void ep_conf_read_groups(struct ep_confread *rd, const config_setting_t *s, void *base,
			 void (*read_elem)(struct ep_confread *rd, const config_setting_t *g,
					   void *base))
{
	if (!config_setting_is_list(s)) {
		ep_conf_bad(rd, s, "must be a list of groups: ( { ... }, ... )");
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned int)i);

		if (!config_setting_is_group(g))
			ep_conf_bad(rd, g, "must be a group: { ... }");
		else
			read_elem(rd, g, base);
	}
}
