/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * client.h - libedgeplane: hand compute tasks to an edgeplane edge node.
 *
 * A session (struct ep_client) talks to one edge address over UDP. Tasks are submitted
 * asynchronously and complete through a callback, driven by the caller's event loop:
 *
 *	fd = ep_client_fd(c);              // poll it for POLLIN
 *	timeout = ep_client_timeout_ms(c); // ... and wake up after this long
 *	ep_client_process(c);              // then let the session work
 *
 * or synchronously with ep_client_run(), which drives that loop itself. Each task ends
 * exactly once: with a result, with the edge's error status, or with a local error (time
 * out after its retries, cancelled, closed). Retries reuse the task id, so the edge never
 * runs a task twice. An error the edge marks retriable (OVERLOADED, TIMEOUT, INTERNAL;
 * docs/protocol.md) is retried on the backoff schedule, and reported only if it is still
 * the answer when the attempts run out.
 *
 * Selective repeat (docs/protocol.md 5.1, docs/client.md): the session resends only the
 * fragments a TASK_ACK does not list, acknowledges fragmented results with RESULT_ACK, and
 * on a large task's timer asks with RESULT_ACK instead of resending it whole (until it
 * knows the edge acknowledges, it does both). Random loss is repaired at once; only an
 * overloaded or silent edge makes it back off and throttle retries. Fragments of large
 * tasks go through a pacer.
 *
 * Address validation (docs/protocol.md 3.7) is handled here: when the edge answers RETRY
 * (its reply would be more than 3 times what this address sent, before the address proved
 * it can receive), the session keeps the token the RETRY carries and sends the task again
 * at once with it, without counting an attempt; later tasks carry the token too, and a
 * newer RETRY replaces it. A task that gets more than 3 RETRYs fails with -EADDRNOTAVAIL.
 * A CONFLICT (the task id is taken at the edge by another request) sends the task again
 * under a new id, twice at most.
 *
 * Authentication (docs/protocol.md 3.5): a session opened with ep_client_open_auth() holds a
 * session key, from the controller (enrollment with the device's certificate) or from a
 * static key file. Every datagram it sends is then sealed (AES-128-GCM) and every reply
 * must open under one of its keys; a reply that does not is dropped and counted, and a
 * reply without AUTH (an ERROR, a RETRY) never answers a task. The session enrolls again by
 * itself, in a thread of its own, when its key is due for renewal (older keys keep opening
 * replies until they expire), and when it has none left it holds its tasks back until a
 * new key arrives. Tasks go out under the key's tenant; a task the key's role does not
 * allow is refused at submission, not sent to be dropped.
 *
 * Return convention: 0 or a negative errno. A session is safe to use from several threads;
 * callbacks run on the thread that called ep_client_process() or ep_client_run(), with no
 * session lock held, so they may submit new tasks.
 */
#ifndef EDGEPLANE_CLIENT_H
#define EDGEPLANE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "edgeplane/offload.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ep_client;

struct ep_client_opts {
	const char *host; /* numeric IPv4 or IPv6 address of the edge (an
			   * IPv6 one may name its scope: fe80::1%eth0) */
	uint16_t port;	  /* 0: 7878 */
	uint32_t tenant_id;
	uint32_t mtu;		 /* path MTU for fragmentation; 0: 1500 */
	int zstd_level;		 /* compress payloads at this level; 0: never */
	uint32_t zstd_min;	 /* do not try below this many bytes; 0: 256 */
	uint32_t timeout_ms;	 /* first attempt's timeout; 0: adaptive (from the
				  * measured round trip and the task type's edge time,
				  * 200 until measured) */
	uint32_t max_timeout_ms; /* backoff cap; 0: 5000 */
	uint32_t max_attempts;	 /* attempts per task, first included; 0: 5 */
	/* Retry budget, in datagrams (fragments; since 1.2): while the edge is
	 * overloaded or silent, retransmitted datagrams stay below retry_ratio x the
	 * datagrams of new tasks + retry_per_s x seconds (a token bucket of retry_burst)
	 * plus each task's own allowance of max(1, ceil(retry_ratio x its fragments));
	 * a retry over budget waits. Random loss is repaired without waiting.
	 * 0: 0.2, 10, 100. */
	double retry_ratio, retry_per_s, retry_burst;
	uint32_t max_inflight;	 /* tasks outstanding; 0: 1024 */
	uint32_t max_result_len; /* largest result accepted; 0: 64 MiB */
	uint32_t rcvbuf;	 /* socket receive buffer; 0: 8 MiB */
	bool cork;		 /* batch datagrams: send when 64 are queued or at the
				  * next ep_client_process()/poll()/flush(), not at once */
	uint32_t reply_mtu;	 /* ask the edge to fragment results to this path MTU
				  * (bytes, >= 576; it uses the smaller of this and its
				  * own); 0: the edge's own */
	bool plain_reply;	 /* ask for results uncompressed (EP_F_PLAIN_REPLY): the
				  * edge spends no CPU on compressing them */
};

/* RETRYs a task may get before it fails with -EADDRNOTAVAIL. */
#define EP_CLIENT_MAX_VALIDATIONS 3
/* CONFLICTs a task may get (each sends it under a new id) before it fails with one. */
#define EP_CLIENT_MAX_CONFLICTS	  2

/* How to run one task. */
struct ep_task_opts {
	uint16_t type;		/* task_type */
	uint8_t priority;	/* 1..5; 0: 3 */
	uint8_t no_compress;	/* send the payload as it is */
	uint32_t deadline_ms;	/* overall budget including retries; 0: none */
	uint32_t size_hint_kib; /* memory the task needs at the edge; 0: unknown */
};

/* A finished task. data is malloc'd; release with ep_result_free(). */
struct ep_result {
	int error;	    /* 0, -EREMOTEIO (edge error: see status), -ETIMEDOUT,
			     * -ECANCELED, -EMSGSIZE (result too large), -EPROTO,
			     * -EADDRNOTAVAIL (RETRY after RETRY: the edge never
			     * took this address's token), -EKEYEXPIRED (timed out
			     * while the session had no valid key) */
	uint16_t status;    /* the edge's enum ep_status (0 on success) */
	uint8_t load_pct;   /* edge load in its reply */
	uint8_t compressed; /* the result came zstd-compressed */
	uint8_t *data;
	uint32_t len;
	uint64_t task_id;	    /* what ep_client_submit returned, also when a CONFLICT
				     * had the task sent again under another id */
	uint32_t attempts;	    /* sends of the task, first included */
	uint32_t queue_us, exec_us; /* the edge's timing */
	uint64_t latency_ns;	    /* submit -> result, retries included */
	uint64_t wire_bytes;	    /* payload bytes sent, all attempts (compressed) */
	uint64_t raw_bytes;	    /* payload bytes before compression */
	char msg[128];		    /* the edge's error text, if it sent one */
	/* Since LIBEDGEPLANE_1.2 (appended: results are the library's to allocate): */
	uint32_t wire_len; /* payload bytes of one whole send (compressed);
			    * wire_bytes - wire_len were sent again */
};

typedef void (*ep_client_cb)(void *arg, struct ep_result *res);

/*
 * What the session has learned from its replies (exponentially weighted averages):
 * where a task's time goes, and the edge's state. The offload decision (offload.h)
 * takes these as its path and edge inputs.
 */
struct ep_client_estimates {
	uint64_t samples;	   /* replies to first attempts measured */
	double srtt_us, rttvar_us; /* network round trip of small tasks: latency minus
				    * the edge's queue and exec time */
	double up_bps, down_bps;   /* bytes/s, from larger tasks; 0 until measured */
	double edge_queue_us;	   /* time tasks waited at the edge */
	double edge_exec_us;	   /* time handlers ran, all types */
	uint8_t edge_load_pct;	   /* the latest load the edge reported */
	uint32_t failures_in_row;  /* tasks ended by timeout or OVERLOADED since the
				    * last success */
};

struct ep_client_stats {
	uint64_t submitted, completed, failed, retries, timeouts;
	uint64_t retries_throttled; /* times a due retry waited for the budget (only
				     * while the edge is overloaded or silent) */
	uint64_t retriable_errors;  /* OVERLOADED/TIMEOUT/INTERNAL replies that led to a
				     * retry rather than an answer */
	uint64_t dgrams_sent, dgrams_received, stray; /* stray: replies to no pending task */
	uint64_t wire_bytes, raw_bytes;
	uint64_t validations; /* RETRYs answered: tasks sent again with a token */
	uint64_t conflicts;   /* CONFLICTs answered: tasks sent again under a new id */
};

/*
 * Selective repeat, loss and pacing (docs/client.md, docs/protocol.md 5.1); new in
 * LIBEDGEPLANE_1.2. Set sz to sizeof(struct ep_client_link_stats): later versions append
 * fields and fill only what @sz covers.
 */
struct ep_client_link_stats {
	size_t sz;
	uint64_t frags_sent_first;    /* request fragments sent for the first time */
	uint64_t frags_resent;	      /* ... sent again: repairs, whole resends */
	uint64_t whole_resends;	      /* tasks sent again whole on their timer (an edge not
				       * known to acknowledge) */
	uint64_t repairs;	      /* TASK_ACKs that had fragments resent */
	uint64_t task_acks;	      /* TASK_ACKs received */
	uint64_t task_acks_bad;	      /* ... that did not decode: dropped (also in stray) */
	uint64_t result_acks_sent;    /* RESULT_ACKs sent: while a result arrives, and on
				       * timers, as questions */
	uint64_t results_undecodable; /* results that did not decompress: asked for again */
	uint64_t repairs_exhausted;   /* tasks failed after REPAIR_FACTOR x their
				       * fragments in repairs (-ETIMEDOUT) */
	uint64_t pace_waits;	      /* times the pacer held fragments back */
	uint64_t slowdowns;	      /* entries into OVERLOADED or SILENT */
	uint8_t path_state;	      /* 0 ok, 1 lossy (random loss), 2 overloaded, 3 silent */
	uint8_t edge_acks;	      /* the edge acknowledges (TASK_ACK, or PONG's ACKS) */
	double pace_bps;	      /* the pacer's rate, bits/s; 0: no pacing */
	uint64_t frags_queued;	      /* fragments waiting for the pacer now */
};

/* Fill @st (st->sz set by the caller). Returns 0 or -EINVAL (sz too small). */
int ep_client_get_link_stats(struct ep_client *c, struct ep_client_link_stats *st);

/* Options of selective repeat and pacing; all 0: the defaults. New in LIBEDGEPLANE_1.2. */
struct ep_client_link_opts {
	size_t sz;	       /* sizeof(struct ep_client_link_opts) */
	uint32_t ack_delay_ms; /* acknowledge a result whose fragments paused this
				* long (RESULT_ACK); 0: 5 */
	uint32_t pace_mbps;    /* pace large tasks' fragments at this fixed rate,
				* Mbit/s; 0: adaptive (1 Gbit/s at first, then twice
				* the measured delivery rate, 10 Mbit/s .. 10 Gbit/s) */
	uint32_t pace_burst;   /* fragments sent back to back at most; 0: 32 */
	bool no_pacing;	       /* send every fragment at once (the 1.1 behaviour) */
};

/* Set the session's link options, before any task is submitted. Returns 0, -EINVAL (a bad
 * option, or fields of a newer header set), -EBUSY (tasks are outstanding) or -ENOMEM. */
int ep_client_set_link(struct ep_client *c, const struct ep_client_link_opts *o);

/* A node's limits, from its PONG (struct ep_limits, docs/protocol.md 7.3), in host order.
 * 0 in a rate or a limit means none. */
struct ep_node_limits {
	uint32_t max_task_len; /* largest task payload, after decompression */
	uint32_t max_result_len;
	uint32_t reasm_timeout_ms;  /* a task whose fragments stop this long: TIMEOUT */
	uint32_t reasm_lifetime_ms; /* ... or not complete this long after its first */
	uint16_t per_source_tasks;  /* tasks being reassembled per source prefix */
	uint16_t mtu;		    /* the node's reply MTU */
	uint8_t max_priority;	    /* priorities above are lowered to this */
	uint8_t amp_factor;	    /* replies to an unvalidated address <= this x bytes
				     * received; 0: no limit */
	uint8_t source_prefix_v4, source_prefix_v6;
	uint32_t rate_packets;	  /* datagrams/s per source prefix */
	uint32_t rate_kib;	  /* KiB/s per source prefix */
	uint64_t max_work;	  /* largest work a task may ask for (docs/handlers.md) */
	uint32_t cache_window_ms; /* how long a result answers retries */
	uint16_t max_replays;	  /* cached replies per task */
	uint16_t flags;		  /* EP_LIM_F_* (ep_shared.h) */
};

/* Open a session. Returns 0 and *out, or -EINVAL (bad address or option), -errno. */
int ep_client_open(const struct ep_client_opts *o, struct ep_client **out);

/*
 * Credentials of an authenticated session: enrollment (enroll, cert, key and ca), or a
 * static key (key_file), not both. Set sz to sizeof(struct ep_client_auth): later versions
 * of the library append fields and read only the ones @sz covers, so a program built
 * against this header keeps working with them.
 */
struct ep_client_auth {
	size_t sz;
	const char *enroll;	/* the controller's enrollment server, "ADDR:PORT" */
	const char *cert, *key; /* PEM: this device's certificate (its subject says
				 * /O=tenant/OU=role/CN=name) and private key */
	const char *ca;		/* PEM: the CA that signed the controller's certificate */
	int enroll_timeout_ms;	/* connect, handshake and reply, each enrollment; 0: 5000 */
	const char *key_file;	/* or: one key object (JSON, docs/protocol.md 7.5), which
				 * only its owner may read; held (flock) while the
				 * session is open: one process at a time */
};

/*
 * Open an authenticated session: as ep_client_open(), after enrolling with the controller
 * (a TLS 1.3 handshake with the certificate, then one key) or reading the static key. The
 * session's tenant is the key's (o->tenant_id must be 0 or the same). Returns 0 and *out,
 * or a negative errno with a message in @err (@errlen bytes, may be NULL):
 *   -EINVAL        a bad option, or a bad combination of credentials
 *   -EPROTO        the TLS handshake failed: a certificate revoked, expired or from another
 *                  CA, on either side
 *   -EACCES        the controller refused (a role not in its policy, a device revoked with
 *                  edgectl revoke: its words are in @err), or a key file others may read
 *   -EKEYEXPIRED, -EKEYREVOKED   the static key
 *   -EBUSY         the static key file is in use by another session
 *   -ETIMEDOUT, -ECONNREFUSED, -EBADMSG (a reply or key file that is not what the protocol
 *                  says), -errno
 */
int ep_client_open_auth(const struct ep_client_opts *o, const struct ep_client_auth *a,
			struct ep_client **out, char *err, size_t errlen);

/* An authenticated session's key and counters. Set sz to sizeof(struct
 * ep_client_auth_stats); the library fills what it covers. */
struct ep_client_auth_stats {
	size_t sz;
	uint64_t sealed;	  /* datagrams sealed and sent (retransmissions too) */
	uint64_t bad_tag;	  /* AUTH replies that did not open (a wrong tag, or a
				   * sender that is no node): dropped */
	uint64_t unknown_key;	  /* AUTH replies under a key id the session does not
				   * hold (an expired one): dropped */
	uint64_t unsealed;	  /* replies without AUTH (ERROR, RETRY, RESPONSE, PONG):
				   * ignored, never an answer */
	uint64_t refused;	  /* tasks refused at submission: type, priority or size
				   * the key's role does not allow */
	uint64_t enrollments;	  /* keys received, the first included */
	uint64_t enroll_failures; /* enrollments that failed after the first (the session
				   * tries again, 1 s, 2 s, ... 30 s apart) */
	uint64_t held;		  /* sends held back: the session had no valid key */
	uint16_t key_id;	  /* the key that seals; 0: none (expired) */
	uint8_t max_priority;	  /* the role's ceiling: a higher priority is refused */
	uint32_t tenant;
	uint64_t expires_unix_ms; /* its expiry, by the controller's clock */
	uint64_t renew_in_ms;	  /* until the session enrolls again; UINT64_MAX: never
				   * (a static key) */
	char name[64], role[32];  /* the device's name and role, from its key */
	char last_error[192];	  /* why the latest enrollment failed ("" if it did not) */
	uint64_t rebinds;	  /* enrollments because a node refused a large reply at
				   * this address, which the key was not enrolled from
				   * (UNAUTHORIZED, docs/protocol.md 3.5); the task went
				   * again under the new key */
};

/* Fill @st (st->sz set by the caller). Returns 0, or -ENOKEY (not an authenticated
 * session; @st is then zeroed past sz). */
int ep_client_get_auth(struct ep_client *c, struct ep_client_auth_stats *st);
/* Close: every pending task completes with -ECANCELED first. NULL is a no-op. */
void ep_client_close(struct ep_client *c);

/*
 * Submit a task. The payload is copied (and compressed when that pays). @cb is called once
 * with the result; the result's data then belongs to the callback (ep_result_free()).
 * Returns 0 and the task id in *id (may be NULL), or -EAGAIN (max_inflight tasks are
 * outstanding), -EMSGSIZE (payload too large for the protocol, or for the key's role),
 * -EINVAL; in an authenticated session also -EPERM (the key's role does not allow this
 * task type, or any task: max_priority 0, a node's own key) or -ERANGE (the priority is above the
 * role's ceiling; a task that does not set one gets min(3, the ceiling)).
 */
int ep_client_submit(struct ep_client *c, const struct ep_task_opts *t, const void *payload,
		     uint32_t len, ep_client_cb cb, void *arg, uint64_t *id);
/* Cancel a pending task: its callback gets -ECANCELED now, and the edge is told. Returns 0
 * or -ENOENT (not pending). */
int ep_client_cancel(struct ep_client *c, uint64_t id);

/* The socket to poll for POLLIN. */
int ep_client_fd(const struct ep_client *c);
/* Milliseconds until the next retransmission or timeout is due (-1: nothing pending). */
int ep_client_timeout_ms(struct ep_client *c);
/* Read replies, complete tasks, retransmit and time out what is due. Never blocks.
 * Returns the number of tasks completed. */
int ep_client_process(struct ep_client *c);
/* Send the datagrams a corked session has queued. Returns 0 or a negative errno. */
int ep_client_flush(struct ep_client *c);
/* Wait up to @timeout_ms for the socket or a timer, then process. Returns as above. */
int ep_client_poll(struct ep_client *c, int timeout_ms);
/* Tasks outstanding. */
unsigned int ep_client_inflight(struct ep_client *c);

/*
 * Ask the edge for its limits: a PING, whose PONG carries them. Waits up to @timeout_ms
 * (0: 1000), sending the PING again every 200 ms, and processes the session meanwhile
 * (callbacks of other tasks may run). Returns 0 and *out, -ETIMEDOUT (no PONG), -ENODATA
 * (a PONG without limits: an older node), or -EBUSY (another thread is asking).
 */
int ep_client_limits(struct ep_client *c, int timeout_ms, struct ep_node_limits *out);

/* Run one task synchronously. Returns res->error; *res must be freed either way. */
int ep_client_run(struct ep_client *c, const struct ep_task_opts *t, const void *payload,
		  uint32_t len, struct ep_result *res);

void ep_result_free(struct ep_result *res);
/* A short description of how a task ended ("ok", the edge's status name such as
 * "overloaded", or "timed out after retries"); a static string, never NULL. */
const char *ep_result_strerror(const struct ep_result *res);
void ep_client_get_stats(struct ep_client *c, struct ep_client_stats *st);
void ep_client_get_estimates(struct ep_client *c, struct ep_client_estimates *est);
/* The mean time the edge spent executing tasks of @type (µs), 0 if none was seen. */
double ep_client_type_exec_us(struct ep_client *c, uint16_t type);

/*
 * Frame codec (since LIBEDGEPLANE_1.3; docs/client.md, "Frame codec"): payloads of task
 * type @type are image frames (struct ep_img_hdr + gray pixels, edgeplane/payload.h),
 * sent frame-coded (EP_F_FRAME) instead of zstd: lossless, or with every pixel within
 * +-@max_error when that is the edge's max_error for the type (0: lossless only). Per
 * frame the session sends it as it is, lossless or within +-max_error, whichever takes
 * least time over the uplink it measured; a link faster than the coder pays for gets the
 * frame as it is. Once a PONG (ep_client_limits()) shows an edge without EP_LIM_F_FRAME,
 * frames go as they are. @flags: EP_FRAME_F_KEEP_LEVEL, the frame is to be thresholded at
 * its arg0 (a level 0..255, or EP_IMG_OTSU: Otsu's level), as threshold and blobs do:
 * every pixel keeps its side of that level and Otsu's level stays the same, so the
 * thresholded frame is exactly the original's; EP_FRAME_F_OFF: forget @type. Up to 16
 * types. Returns 0, -EINVAL (max_error above 15, unknown flags) or -ENOSPC.
 */
#define EP_FRAME_F_KEEP_LEVEL 0x1
#define EP_FRAME_F_OFF	      0x2
int ep_client_set_frame_codec(struct ep_client *c, uint16_t type, unsigned int max_error,
			      unsigned int flags);

/*
 * The session's estimates as offload-decision inputs (offload.h): round trip, bandwidth,
 * the edge's queueing and load; the edge counts as down after 3 failures in a row.
 * @local_load_pct is this device's own load, 0..100.
 */
void ep_client_offload_env(struct ep_client *c, double local_load_pct, struct ep_offload_env *env);
/*
 * Decide where one task of type @type should run (offload.h), from the session's
 * estimates. When t->speedup is 0 it comes from the edge's measured execution time of
 * this type: t->local_us / exec_us. @params may be NULL (defaults). Returns 0 or -EINVAL.
 */
int ep_client_offload_decide(struct ep_client *c, uint16_t type, struct ep_offload_task *t,
			     const struct ep_offload_params *params,
			     struct ep_offload_decision *out);

#ifdef __cplusplus
}
#endif

#endif /* EDGEPLANE_CLIENT_H */
