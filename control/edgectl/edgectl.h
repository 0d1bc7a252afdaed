/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* edgectl - the controller (serve) and the commands that talk to it or read its maps. */
#ifndef EDGECTL_H
#define EDGECTL_H

#include <stdbool.h>

#include <jansson.h>

#include "edgeplane/opt.h"
#include "gw.h"

/* Exit statuses. */
#define EXIT_FAIL  1 /* the command failed */
#define EXIT_USAGE 2 /* bad command line */

/* Options every command takes (before or after the command words). */
struct ctl_ctx {
	const char *socket;    /* --socket, $EDGECTL_SOCKET, or the default */
	const char *pin_dir;   /* --pin-dir */
	const char *iface;     /* --iface: the gateway interface (its default pin dir) */
	bool json;	       /* --json */
	struct ep_opt opts[5]; /* the table of these options */
};

/*
 * Parse the command line of command @name (@usage, its own options @tab, and the shared
 * ones): *argc and *argv become its words, the command's name first. Returns 0, or the
 * exit status plus one after --help (0) or a usage error (2): `if ((r = ...)) return r - 1`.
 */
int ctl_parse(struct ctl_ctx *x, const char *name, const char *usage, const struct ep_opt *tab,
	      int *argc, char ***argv);

/* ctl_parse() for a command that takes options only: a word after the command's name is
 * a usage error. Returns 0, or the exit status plus one, as ctl_parse(). */
int ctl_parse_no_args(struct ctl_ctx *x, const char *name, const char *usage,
		      const struct ep_opt *tab, int argc, char **argv);

/* Print the one-line usage error of command @name; returns EXIT_USAGE. */
int ctl_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Send @req (consumed) to the controller and wait for the reply. Returns 0 and the
 * reply in *resp (an object with "ok"), or -ECONNREFUSED / -ENOENT when no controller
 * listens on the socket, or another negative errno.
 */
int ctl_request(const struct ctl_ctx *x, json_t *req, json_t **resp);

/* Like ctl_request(), but print the reply's error (or the connection problem) and return
 * NULL when it is not {"ok": true}. */
json_t *ctl_call(const struct ctl_ctx *x, json_t *req);

/* Open the gateway's pinned maps: --pin-dir, else --iface's default, else the directory
 * the running controller reports. Prints why not and returns a negative errno. */
int ctl_open_gw(const struct ctl_ctx *x, struct ep_gw **gw);

/* Print a JSON value on stdout, indented, with a newline. */
void ctl_print_json(json_t *v);

int cmd_serve(int argc, char **argv);
int cmd_node(struct ctl_ctx *x, int argc, char **argv);
int cmd_stats(struct ctl_ctx *x, int argc, char **argv);
int cmd_policy(struct ctl_ctx *x, int argc, char **argv);
int cmd_status(struct ctl_ctx *x, int argc, char **argv);
int cmd_table(struct ctl_ctx *x, int argc, char **argv);
int cmd_detach(struct ctl_ctx *x, int argc, char **argv);
int cmd_keys(struct ctl_ctx *x, int argc, char **argv);
int cmd_revoke(struct ctl_ctx *x, int argc, char **argv); /* and unrevoke */

#endif /* EDGECTL_H */
