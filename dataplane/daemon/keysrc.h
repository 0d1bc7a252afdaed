/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * keysrc.h - where the node's session keys come from (docs/operations.md, group auth):
 * a keys file (a JSON array of key objects, docs/protocol.md 7.5), read again when it
 * changes, or the controller, synced over a kept mutual-TLS connection (edgeplane/enroll.h)
 * every auth.sync_ms. One thread does either, and writes the key table (core/keys.h) the
 * workers read; it also frees the table's retired entries.
 */
#ifndef EP_KEYSRC_H
#define EP_KEYSRC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/keys.h"

#define EP_KEYS_FILE_MAX (16u << 20) /* as a node's sync reply */
#define EP_KEYS_CHECK_MS 1000	     /* how often the keys file is looked at */

struct ep_keysrc_cfg {
	const char *keys_file;	     /* or NULL */
	const char *controller;	     /* "ADDR:PORT", or NULL */
	const char *cert, *key, *ca; /* the node's certificate (OU=node), its key, the CA */
	uint32_t sync_ms;
	uint32_t node_id;	/* keys_file: the node's id (with a controller, the sync
				 * says) */
	uint16_t report_key_id; /* keys_file: the key that seals load reports; 0: none */
};

struct ep_keysrc_stats {
	uint64_t loads, load_errors; /* keys file reads that took, that failed */
	uint64_t syncs, sync_errors; /* sync rounds that took, that failed (with a connect) */
	bool connected;		     /* to the controller now */
	uint32_t keys;		     /* in the table */
};

struct ep_keysrc;

/*
 * Read a keys file into @t: every key in it is set, every key not in it removed. The file
 * must pass ep_open_trusted() (a secret: owner root or us, no group or other bits), hold at
 * most EP_KEYS_FILE_MAX bytes of one JSON array of key objects, with no key id twice.
 * Anything wrong and nothing changes. If @report_key_id is not 0, that key (it must be in
 * the file) is copied to *@self. Returns how many keys, or a negative errno after logging.
 */
int ep_keys_file_load(const char *path, struct ep_keytab *t, uint16_t report_key_id,
		      struct ep_key_info *self);

/*
 * Start: a keys file is read now (an error stops the start); a controller is connected and
 * synced once now (an error is logged, and the thread keeps trying). Then the thread.
 * Returns 0 and *out, or a negative errno after logging.
 */
int ep_keysrc_start(const struct ep_keysrc_cfg *c, struct ep_keytab *t, struct ep_keysrc **out);
void ep_keysrc_stop(struct ep_keysrc *s);
void ep_keysrc_get_stats(struct ep_keysrc *s, struct ep_keysrc_stats *st);
/* The node's own key, for sealing its load reports: 0 and *out, or -ENOENT (none yet, or
 * none configured). */
int ep_keysrc_self(struct ep_keysrc *s, struct ep_key_info *out);

#endif /* EP_KEYSRC_H */
