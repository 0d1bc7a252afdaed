/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * registry.h - which handler serves which task_type: the built-ins and plugins loaded with
 * dlopen, with the warm-up files each was given. Built once at start, read-only after, so
 * workers share it without locks; each worker keeps its own handler states.
 */
#ifndef EP_REGISTRY_H
#define EP_REGISTRY_H

#include <stdint.h>
#include <sys/types.h>

#include "core/sign.h"
#include "edgeplane/handler.h"

#define EP_MAX_HANDLERS 64

struct ep_reg_entry {
	const struct ep_handler *h;
	uint16_t type;
	char *args;
	uint8_t max_error;     /* frame-coded tasks (EP_F_FRAME): the largest error k
				* accepted (handler option max_error); 0: lossless */
	struct ep_blob *files; /* filled in by warm-up */
	unsigned int nfiles;
	bool files_shared; /* the files are an earlier entry's (the handlers of one
			    * plugin entry in the configuration share them) */
	void *dl;	   /* dlopen handle of its plugin, or NULL */
	int dl_fd;	   /* the checked copy of the plugin it was loaded from, kept
			    * open while the handle lives (its /proc/self/fd
			    * name must not be reused: the loader would take a
			    * later plugin for this one); -1 if none */
	dev_t dl_dev;	   /* with dl_fd: the file it was copied from */
	ino_t dl_ino;
};

struct ep_registry {
	unsigned int n;
	struct ep_reg_entry e[EP_MAX_HANDLERS];
	uint8_t by_type[65536]; /* entry index + 1; 0 = no handler */
};

/* Add built-in handler @name for @type (0: its default type). Returns the entry index or
 * a negative errno: -ENOENT (no such handler), -EEXIST (type taken), -ENOSPC. */
int ep_registry_add_builtin(struct ep_registry *r, const char *name, uint16_t type,
			    const char *args);
/* Load plugin @path and add its handler @name (NULL: every handler it exports). The file
 * is copied into a sealed memory file, whose signature is checked as @sign says
 * (core/sign.h), and that copy is what gets loaded. Returns the index of the last entry
 * added, or a negative errno (the reason is logged). */
int ep_registry_add_plugin(struct ep_registry *r, const struct ep_signing *sign, const char *path,
			   const char *name, uint16_t type, const char *args);
/* Entry index serving @type, or -1. */
static inline int ep_registry_find(const struct ep_registry *r, uint16_t type)
{
	return (int)r->by_type[type] - 1;
}
/* The work @req asks of handler @h (its work(), or the payload's length for a handler
 * without one or of ABI version 1, whose struct has no work member to read). */
static inline uint64_t ep_handler_work(const struct ep_handler *h, void *state,
				       const struct ep_hreq *req)
{
	if (h->abi_version >= 2 && h->work)
		return h->work(state, req);
	return req->len;
}
/* Per-worker states: init every handler for @worker. Returns 0 or the first error. */
int ep_registry_init_worker(const struct ep_registry *r, unsigned int worker, uint32_t max_task_len,
			    void **states);
void ep_registry_fini_worker(const struct ep_registry *r, void **states);
/* Free args, warm-up files and plugin handles. */
void ep_registry_release(struct ep_registry *r);
/* Add every built-in that runs without settings, at its default type (a node whose
 * config lists no handlers). Returns 0 or a negative errno. */
int ep_registry_add_defaults(struct ep_registry *r);

#endif /* EP_REGISTRY_H */
