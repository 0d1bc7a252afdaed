/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * statsrv.h - statistics over a Unix socket. A client connects, sends "json\n" or
 * "text\n", and reads the report until the server closes. `edgeplane stats` is the client.
 */
#ifndef EP_STATSRV_H
#define EP_STATSRV_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

typedef void (*ep_report_fn)(void *arg, FILE *f, bool json);

struct ep_statsrv;

/* Listen on @path, in a private directory (edgeplane/unixsock.h): mode 0600, or 0660 and
 * group @gid (EP_NO_GROUP: none); a stale socket there is replaced. Returns 0 or a
 * negative errno after logging why. */
int ep_statsrv_start(const char *path, gid_t gid, ep_report_fn fn, void *arg,
		     struct ep_statsrv **out);
void ep_statsrv_stop(struct ep_statsrv *s);
/* The client side: print the report of the runtime at @path to stdout. */
int ep_statsrv_query(const char *path, bool json);

#endif /* EP_STATSRV_H */
