/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * worker.h - one runtime worker: a thread that owns one I/O queue and carries each
 * datagram along packet -> task -> handler -> reply:
 *
 *   io rx -> decode -> result cache (retries) -> reassembly -> decompress -> batch queues
 *         -> handler run() -> reply (compress, fragment) -> io tx -> result cache
 *
 * Everything here is per worker: no locks, no logging, and no allocation on the path of
 * single-fragment tasks (reassembled and decompressed payloads are heap buffers).
 *
 * Device authentication (docs/protocol.md 3.5) comes first, right after decoding: an AUTH
 * datagram's key (core/keys.h, shared by the workers without locks), the role's limits,
 * the tenant, the pn's freshness, the tag (decrypted in place, in the receive buffer) and
 * the key's replay window; any failure drops it, counted by reason, with no reply. What
 * passes goes on as before with its plaintext, as a validated source. Replies to it are
 * sealed with the same key, if the key is still good when they leave.
 */
#ifndef EP_WORKER_H
#define EP_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cache.h"
#include "core/registry.h"
#include "core/token.h"
#include "edgeplane/hist.h"
#include "edgeplane/reasm.h"
#include "edgeplane/util.h"
#include "io/io.h"

/* validation.mode: how replies to sources that have not proven their address are limited
 * (docs/protocol.md 3.7). */
enum ep_validation {
	EP_VALIDATE_AMPLIFICATION = 0, /* replies <= EP_AMP_FACTOR x bytes received, else RETRY */
	EP_VALIDATE_ALWAYS,	       /* every unvalidated task gets RETRY before it runs */
	EP_VALIDATE_OFF,	       /* "off-unsafe": no limit, no tokens */
};

struct ep_keytab;

struct ep_worker_cfg {
	uint32_t batch_size;	   /* tasks per handler call; 1 = batching off */
	uint64_t batch_wait_ns;	   /* longest a queued task waits for its batch to fill */
	uint32_t queue_depth;	   /* tasks accepted and not yet run; more -> OVERLOADED */
	uint32_t max_task_len;	   /* payload bytes after decompression (and on the wire) */
	uint32_t max_result_len;   /* result bytes a handler may produce */
	uint32_t mtu;		   /* replies are fragmented to fit it */
	uint8_t max_priority;	   /* requests above this priority are lowered to it */
	uint8_t high_priority;	   /* limits.high_priority: tasks of this priority and
				    * above are high; for 100 ms after one came, lower
				    * priorities' batches are one task, and the worker
				    * stops running batches when the backend says high-
				    * priority datagrams wait (io rx_high_pending).
				    * 0: off */
	int reply_zstd_level;	   /* 0: never compress replies */
	uint32_t reply_zstd_min;   /* try compressing results of at least this size */
	uint64_t arena_bytes;	   /* handler output memory per batch */
	uint64_t held_bytes;	   /* reassembled and decompressed payloads waiting or
				    * running, all together; beyond: OVERLOADED */
	struct ep_reasm_cfg reasm; /* max_task_len, user_size, on_expire, on_ack: the
				    * worker sets; ack_delay_ns 0: no TASK_ACK while
				    * reassembling (RESULT_ACKs are still answered) */
	struct ep_cache_cfg cache;
	int cpu; /* pin the thread here; -1: no pinning */
	enum ep_validation validation;
	const struct ep_token_master *token; /* the node's secret, shared read-only by the
					      * workers; NULL only with EP_VALIDATE_OFF */
	uint64_t max_work;		     /* work (handler units) a task may ask for; beyond it
					      * TOO_LARGE before it runs; 0: no limit */
	struct ep_limits limits;	     /* PONG's payload, big-endian (the runtime fills it) */
	enum ep_auth_mode auth_mode;	     /* auth.mode (bpf/ep_shared.h: the classifier's too):
					      * required, only AUTH datagrams, the others get
					      * nothing; optional, both; off, no keys, AUTH is
					      * answered UNSUPPORTED */
	uint32_t clock_skew_s;		     /* a device's pn seconds within this of the node's */
	struct ep_keytab *keys;		     /* the node's keys, shared (the runtime sets it); NULL
					      * only with EP_AUTH_MODE_OFF */
	bool key_rates;			     /* charge each AUTH datagram to its key's buckets (the
					      * role's rates) before its tag is checked: for a
					      * backend with no classifier in front (udp, uring) */
};

/* Per task type, indexed by registry entry; the last slot counts unknown types. */
struct ep_type_stats {
	uint64_t received;	       /* tasks complete and accepted or refused */
	uint64_t completed;	       /* RESPONSE sent */
	uint64_t errors[EP_ST__COUNT]; /* ERROR sent, by status */
	uint64_t cache_hits;	       /* retries answered from the result cache */
	struct ep_hist latency_ns;     /* in the node: queued (complete) -> handler done */
	struct ep_hist handler_ns;     /* in the handler: its run() call's time over the
					* tasks of the batch, per task that ran */
	struct ep_hist batch_size;     /* tasks per run() */
};

/* Why a datagram was dropped by device authentication, in the order of the checks:
 * X(NAME, "name"). Those up to RATE_TASKS are the classifier's too (drop_auth_*). */
#define EP_AUTH_DROP_LIST(X)                                                          \
	X(MISSING, "missing")	      /* mode required: no AUTH */                    \
	X(UNKNOWN_KEY, "unknown_key") /* no such key id */                            \
	X(REVOKED, "revoked")                                                         \
	X(EXPIRED, "expired")                                                         \
	X(TENANT, "tenant")	    /* tenant_id is not the key's */                  \
	X(TYPE, "type")		    /* a task type the key's role does not allow */   \
	X(PRIORITY, "priority")	    /* above the role's max_priority */               \
	X(TOO_LARGE, "too_large")   /* total_len above the role's max_task_len */     \
	X(RATE_BYTES, "rate_bytes") /* over the role's kib_per_s (cfg.key_rates) */   \
	X(RATE_TASKS, "rate_tasks") /* over the role's tasks_per_s (cfg.key_rates) */ \
	X(STALE, "stale")	    /* the pn's seconds beyond auth.clock_skew_s */   \
	X(SENDER, "sender")	    /* the nonce's sender is not 0 (not a device) */  \
	X(BAD_TAG, "bad_tag")	    /* forged or altered */                           \
	X(REPLAY, "replay")	    /* its counter seen, or older than the window */  \
	X(NO_MEMORY, "no_memory")   /* no AEAD context could be made for the key */

enum ep_auth_drop {
#define EP_X_ENUM(name, str) EP_AUTH_DROP_##name,
	EP_AUTH_DROP_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_AUTH_DROP__COUNT
};

/* The printable name of @r ("?" out of range). */
const char *ep_auth_drop_name(unsigned int r);

struct ep_worker_stats {
	uint64_t dgrams;		  /* datagrams in */
	uint64_t invalid[EP_STAT__COUNT]; /* dropped by the codec, by reason */
	uint64_t duplicates;		  /* retries of tasks still queued or running: ignored */
	uint64_t shed;			  /* low-priority tasks dropped for higher ones */
	uint64_t pings, cancels;
	uint64_t reply_dropped; /* reply fragments that found no TX buffer */
	uint64_t bytes_decompressed_in, bytes_decompressed_out;
	uint64_t replies_compressed;
	uint64_t retries_sent;	      /* RETRY instead of a reply over an unvalidated budget */
	uint64_t tokens_accepted;     /* datagrams whose address-validation token was valid */
	uint64_t tokens_refused;      /* ... invalid (forged, expired, another address) */
	uint64_t replies_cut;	      /* ERROR texts shortened to fit a budget */
	uint64_t priority_lowered;    /* tasks whose priority was above limits.max_priority */
	uint64_t task_acks_sent;      /* TASK_ACKs sent (docs/protocol.md 5.1) */
	uint64_t result_acks;	      /* valid RESULT_ACKs received */
	uint64_t bad_acks;	      /* RESULT_ACKs with an invalid payload, dropped */
	uint64_t result_frags_resent; /* result fragments resent for RESULT_ACKs */
	uint64_t auth_ok;	      /* AUTH datagrams that passed every check */
	uint64_t auth_dropped[EP_AUTH_DROP__COUNT]; /* ... and those dropped, by reason */
	uint64_t auth_replies_dropped;	      /* reply datagrams to AUTH tasks not sent: the key was
					       * revoked, expired or gone by then (or no context) */
	uint64_t low_sliced;		      /* low-priority batches cut to one task while high-
					       * priority work was under way */
	uint64_t prio_tasks[EP_PRIO_MAX + 1]; /* tasks queued to run, by priority */
	uint32_t queued;		      /* tasks waiting now */
	uint32_t nhandlers;
	struct ep_reasm_stats reasm;
	struct ep_cache_stats cache;
	struct ep_io_stats io;
	struct ep_type_stats type[EP_MAX_HANDLERS + 1];
};

struct ep_worker;

/* Create a worker over @io (which it owns from now on). Handlers are initialised here, on
 * the calling thread. Returns NULL with errno set, or a worker ready to run. */
struct ep_worker *ep_worker_new(const struct ep_worker_cfg *cfg, const struct ep_registry *reg,
				struct ep_io_q *io, unsigned int id);
/* The loop: returns after ep_worker_stop() once queued tasks are drained. */
void ep_worker_run(struct ep_worker *w);
/* Ask the loop to stop taking new datagrams and drain. Async-signal-safe. */
void ep_worker_stop(struct ep_worker *w);
/* Copy the worker's statistics (a consistent-enough view while it runs). */
void ep_worker_stats(const struct ep_worker *w, struct ep_worker_stats *out);
void ep_worker_free(struct ep_worker *w);

/* What a load report needs, cheaper than ep_worker_stats(). */
struct ep_worker_load {
	uint32_t queued;	   /* tasks waiting for a handler */
	uint32_t running;	   /* tasks in the handler call under way */
	uint32_t reassembling;	   /* tasks whose fragments are still arriving */
	uint32_t received;	   /* datagrams the backend holds, not yet read (afxdp:
				    * the RX ring; 0 where the backend cannot tell) */
	struct ep_hist latency_ns; /* every task type's, since the start */
};
void ep_worker_load(const struct ep_worker *w, struct ep_worker_load *out);

#endif /* EP_WORKER_H */
