/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reasm.h - reassembly of multi-fragment tasks in bounded memory.
 *
 * Edge nodes reassemble requests and clients reassemble results with it.
 * Fragments of one task (same source, same task_id) may arrive in any order and more than
 * once; the task completes when every index has arrived. Memory is bounded three ways:
 * the number of tasks in progress, the bytes they hold in total, and the bytes and tasks
 * held for any one source prefix (addresses grouped by cfg.prefix_v4 / prefix_v6).
 *
 * Memory is charged as it is taken, not as a task declares it: an entry, its bitmaps and
 * context, and its data as fragments arrive. A buffer of EP_REASM_LAZY_MIN bytes or more
 * is allocated at its full length but only the pages fragments were written to are
 * charged (the pages malloc's lazily backed mmap() gives it take memory only once
 * touched; the runtime keeps glibc's mmap threshold at EP_REASM_LAZY_MIN so that it is
 * so); a smaller buffer is charged whole when the task opens.
 *
 * Under pressure (a new task finds no task slot, or a fragment no bytes, in total or in
 * its source prefix) the lowest priorities, then the least complete tasks, go first:
 * among the EP_REASM_EVICT_SCAN least recently active tasks (of the prefix, if the prefix
 * is over its limit), of those no higher in priority than the task that needs room, the
 * one of the lowest priority, and of those the one with the fewest fragments received
 * (ties: the least recently active). A flood of low-priority fragments so never pushes a
 * higher priority's task out; it is refused when only such tasks are in the way. Evicted tasks are
 * reported through cfg.on_expire (EP_REASM_EVICTED). Tasks also end when no fragment came
 * for cfg.timeout_ns, or cfg.max_lifetime_ns after their first fragment, however they
 * trickle (EP_REASM_TIMEOUT, EP_REASM_LIFETIME). Single-fragment messages need no
 * reassembly and are refused here.
 *
 * Acknowledgements (selective repeat, docs/protocol.md 5.1): with cfg.on_ack set, a task
 * is acknowledged (the callback gets the ranges it holds) when a pass of its sender ends
 * with gaps left (a new fragment arrives at the last index, or at the highest index that
 * was missing at the previous acknowledgement) and when no new fragment came for
 * cfg.ack_delay_ns (checked by ep_reasm_expire()): once per such pause.
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

/* Buffers this large or larger are charged by the pages written, smaller ones whole. */
#define EP_REASM_LAZY_MIN   (128u * 1024)
/* Tasks looked at, least recently active first, to pick one to evict. */
#define EP_REASM_EVICT_SCAN 8

/* Where a fragment came from. Sources are accounted by address prefix (port ignored),
 * since a client can pick ports, and often addresses within its prefix, at will. */
struct ep_peer {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	uint16_t port;	  /* host order */
	uint16_t family;  /* AF_INET or AF_INET6 */
};

/* Why a task ended without completing. */
enum ep_reasm_end {
	EP_REASM_TIMEOUT = 0, /* no new fragment for cfg.timeout_ns */
	EP_REASM_LIFETIME,    /* cfg.max_lifetime_ns since its first fragment */
	EP_REASM_EVICTED,     /* made room for others under memory pressure */
};

/* A task in progress, as reported when it ends or is cancelled. */
struct ep_reasm_info {
	struct ep_peer peer;
	struct ep_msg msg;   /* header of the task's first-seen fragment */
	uint32_t frag_size;  /* its fragment size L */
	uint32_t frags;	     /* distinct fragments received */
	uint64_t bytes;	     /* payload bytes of those fragments */
	uint64_t wire_bytes; /* UDP payload bytes (headers included) of every datagram
			      * taken for the task, duplicates too */
	uint64_t wire_new;   /* ... of those, since its last acknowledgement */
	uint64_t start_ns;   /* arrival of its first fragment */
	uint64_t last_ns;    /* arrival of its last new fragment */
	const void *user;    /* the caller context (cfg.user_size bytes): valid during the
			      * callback only; NULL from ep_reasm_cancel() */
};

/* Called for each task that ends without completing, with the reason, before it is freed.
 * It must not call back into the instance. */
typedef void (*ep_reasm_expire_fn)(void *arg, const struct ep_reasm_info *t, enum ep_reasm_end why);

/* Called to acknowledge a task in progress: @a lists the fragments it holds. It must not
 * call back into the instance. */
typedef void (*ep_reasm_ack_fn)(void *arg, const struct ep_reasm_info *t, const struct ep_ack *a);

struct ep_reasm_cfg {
	uint32_t max_tasks;	      /* tasks in progress, all sources */
	uint64_t max_bytes;	      /* bytes held, all sources */
	uint32_t max_src_tasks;	      /* tasks in progress per source prefix */
	uint64_t max_src_bytes;	      /* bytes held per source prefix */
	uint8_t prefix_v4;	      /* sources are grouped by this IPv4 prefix length (0..32; 0:
				       * every IPv4 source is one group) */
	uint8_t prefix_v6;	      /* ... and this IPv6 prefix length (0..128) */
	uint32_t max_task_len;	      /* largest total_len accepted */
	uint64_t timeout_ns;	      /* a task idle this long is expired */
	uint64_t max_lifetime_ns;     /* a task this old (from its first fragment) is expired
				       * however it trickles; 0: no limit */
	uint32_t user_size;	      /* bytes of caller context kept per task (0..256) */
	ep_reasm_expire_fn on_expire; /* called for every task that expires or is evicted;
				       * or NULL */
	ep_reasm_ack_fn on_ack;	      /* acknowledges tasks in progress; or NULL: no
				       * acknowledgements */
	uint64_t ack_delay_ns;	      /* a task whose fragments paused this long is
				       * acknowledged */
	void *expire_arg;	      /* the argument of on_expire and on_ack */
};

/* A completed task. @data (malloc'd, @len bytes) belongs to the caller: free() it. */
struct ep_reasm_task {
	struct ep_peer peer;
	struct ep_msg msg; /* header of the task's first-seen fragment */
	uint8_t *data;
	uint32_t len;
	uint64_t start_ns;   /* arrival of its first fragment */
	uint64_t wire_bytes; /* UDP payload bytes of every datagram taken for it */
};

struct ep_reasm_stats {
	uint64_t started; /* tasks opened */
	uint64_t completed;
	uint64_t expired;	   /* tasks that timed out, idle or past their lifetime */
	uint64_t expired_lifetime; /* of those, past cfg.max_lifetime_ns */
	uint64_t evicted;	   /* tasks evicted under memory pressure */
	uint64_t cancelled;	   /* tasks removed by ep_reasm_cancel() */
	uint64_t duplicates;	   /* fragments seen before, ignored */
	uint64_t conflicts;	   /* fragments contradicting their task, refused */
	uint64_t refused;	   /* new tasks refused by a memory limit */
	uint64_t dropped;	   /* fragments of tasks in progress that found no memory */
	uint64_t acks;		   /* acknowledgements made through cfg.on_ack */
	uint32_t tasks;		   /* in progress now */
	uint64_t bytes;		   /* held (charged) now */
};

struct ep_reasm;

/* Returns a new instance, or NULL with errno set (EINVAL for a zero limit, ENOMEM). */
struct ep_reasm *ep_reasm_new(const struct ep_reasm_cfg *cfg);
/* Frees every task in progress and the instance. NULL is a no-op. */
void ep_reasm_free(struct ep_reasm *r);

/*
 * Add one decoded fragment (@m from ep_decode, @payload its m->payload_len bytes) received
 * at @now_ns. The first fragment of a task stores cfg.user_size bytes from @user (zeros if
 * @user is NULL), which the expiry callback gets back. Making room may evict other tasks
 * (reported through cfg.on_expire before this returns). Returns
 *   1        the task is complete: *out is filled and the caller owns out->data;
 *   0        accepted, or a duplicate that was ignored;
 *   -EINVAL  a single-fragment message;
 *   -EMSGSIZE total_len is above max_task_len;
 *   -ENOBUFS no room for a new task even after evicting (answer "overloaded");
 *   -ENOSPC  no room for this fragment of a task in progress (it is dropped; the task
 *            stays and may complete from a retry);
 *   -EPROTO  the fragment contradicts the task's earlier fragments (it is ignored): another
 *            kind, priority, type, tenant, length or fragment size, other flags (RETRY,
 *            TOKEN and PLAIN_REPLY aside), or an AUTH fragment of another key.
 */
int ep_reasm_add(struct ep_reasm *r, const struct ep_peer *peer, const struct ep_msg *m,
		 const void *payload, uint64_t now_ns, const void *user, struct ep_reasm_task *out);

/* The header of the first-seen fragment of the task (@peer's address and port, @task_id)
 * being reassembled, in *msg: 0, or -ENOENT if no such task is in progress. */
int ep_reasm_peek(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		  struct ep_msg *msg);

/* Remove the task (@peer's address and port, @task_id) still being reassembled, without a
 * callback; fill *info (if not NULL; info->user is NULL). Returns 0, or -ENOENT if no
 * such task is in progress. */
int ep_reasm_cancel(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		    struct ep_reasm_info *info);

/* Expire the tasks idle since before @now_ns - timeout, and those older than the lifetime,
 * telling cfg.on_expire; then acknowledge the tasks whose fragments paused for
 * cfg.ack_delay_ns. Returns how many expired. */
int ep_reasm_expire(struct ep_reasm *r, uint64_t now_ns);

/* The fragments held of the task (@peer's address and port, @task_id) in progress, in
 * *out: 0, or -ENOENT if no such task is in progress. */
int ep_reasm_ack(struct ep_reasm *r, const struct ep_peer *peer, uint64_t task_id,
		 struct ep_ack *out);

/* When the next acknowledgement for a pause is due (for a caller's timer), or UINT64_MAX. */
uint64_t ep_reasm_next_ack_ns(const struct ep_reasm *r);

void ep_reasm_get_stats(const struct ep_reasm *r, struct ep_reasm_stats *st);

/* Fill @peer from a sockaddr_in or sockaddr_in6. Returns 0 or -EAFNOSUPPORT. */
struct sockaddr;
int ep_peer_from_sockaddr(struct ep_peer *peer, const struct sockaddr *sa);

#endif /* EDGEPLANE_REASM_H */
