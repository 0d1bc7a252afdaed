/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reasm.h - reassembly of multi-fragment tasks in bounded memory.
 *
 * Edge nodes reassemble requests and clients reassemble results with it.
 * Fragments of one task (same source, same task_id) may arrive in any order and more than
 * once; the task completes when every index has arrived. Memory is bounded three ways:
 * the number of tasks in progress, the bytes they hold in total, and the bytes and tasks
 * held for any one source address. Tasks whose fragments stop arriving are expired after
 * an idle timeout. Single-fragment messages need no reassembly and are refused here.
 *
 * A fragment that arrives after its task completed starts a new task, which expires unless
 * the client resends it whole; the runtime answers retried task ids from its result cache
 * before reassembly, so only stray late duplicates take this path.
 *
 * Not thread-safe: use one instance per thread (the runtime has one per queue).
 */
#ifndef EDGEPLANE_REASM_H
#define EDGEPLANE_REASM_H

#include <stdint.h>

#include "edgeplane/codec.h"

/* Where a fragment came from. Sources are accounted by address (port ignored), since a
 * client can pick ports at will. */
struct ep_peer {
	uint8_t addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	uint16_t port;		/* host order */
	uint16_t family;	/* AF_INET or AF_INET6 */
};

/* Called for each expired task with its first fragment's header and the caller context
 * stored with it, before it is freed. */
typedef void (*ep_reasm_expire_fn)(void *arg, const struct ep_peer *peer,
				   const struct ep_msg *m, const void *user);

struct ep_reasm_cfg {
	uint32_t max_tasks;	/* tasks in progress, all sources */
	uint64_t max_bytes;	/* bytes held, all sources */
	uint32_t max_src_tasks;	/* tasks in progress per source prefix */
	uint64_t max_src_bytes;	/* bytes held per source prefix */
	uint8_t prefix_v4;	/* sources are grouped by this IPv4 prefix length (0..32) */
	uint8_t prefix_v6;	/* ... and this IPv6 prefix length (0..128) */
	uint32_t max_task_len;	/* largest total_len accepted */
	uint64_t timeout_ns;	/* a task idle this long is expired */
	uint32_t user_size;	/* bytes of caller context kept per task (0..256) */
	ep_reasm_expire_fn on_expire;	/* called for every task that expires, also when a
					 * full table expires idle tasks to make room; or NULL */
	void *expire_arg;
};

/* A completed task. @data (malloc'd, @len bytes) belongs to the caller: free() it. */
struct ep_reasm_task {
	struct ep_peer peer;
	struct ep_msg msg;	/* header of the task's first-seen fragment */
	uint8_t *data;
	uint32_t len;
};

struct ep_reasm_stats {
	uint64_t started;	/* tasks opened */
	uint64_t completed;
	uint64_t expired;
	uint64_t duplicates;	/* fragments seen before, ignored */
	uint64_t conflicts;	/* fragments contradicting their task, refused */
	uint64_t refused;	/* new tasks refused by a memory limit */
	uint32_t tasks;		/* in progress now */
	uint64_t bytes;		/* held now */
};

struct ep_reasm;

/* Returns a new instance, or NULL with errno set (EINVAL for a zero limit, ENOMEM). */
struct ep_reasm *ep_reasm_new(const struct ep_reasm_cfg *cfg);
/* Frees every task in progress and the instance. NULL is a no-op. */
void ep_reasm_free(struct ep_reasm *r);

/*
 * Add one decoded fragment (@m from ep_decode, @payload its m->payload_len bytes) received
 * at @now_ns. The first fragment of a task stores cfg.user_size bytes from @user (zeros if
 * @user is NULL), which the expiry callback gets back. Returns
 *   1        the task is complete: *out is filled and the caller owns out->data;
 *   0        accepted, or a duplicate that was ignored;
 *   -EINVAL  a single-fragment message;
 *   -EMSGSIZE total_len is above max_task_len;
 *   -ENOBUFS a limit refuses a new task (answer "overloaded");
 *   -EPROTO  the fragment contradicts the task's earlier fragments (it is ignored).
 */
int ep_reasm_add(struct ep_reasm *r, const struct ep_peer *peer, const struct ep_msg *m,
		 const void *payload, uint64_t now_ns, const void *user, struct ep_reasm_task *out);


/* Expire the tasks idle since before @now_ns - timeout, telling cfg.on_expire. Returns
 * how many. */
int ep_reasm_expire(struct ep_reasm *r, uint64_t now_ns);

void ep_reasm_get_stats(const struct ep_reasm *r, struct ep_reasm_stats *st);

/* Fill @peer from a sockaddr_in or sockaddr_in6. Returns 0 or -EAFNOSUPPORT. */
struct sockaddr;
int ep_peer_from_sockaddr(struct ep_peer *peer, const struct sockaddr *sa);

#endif /* EDGEPLANE_REASM_H */
