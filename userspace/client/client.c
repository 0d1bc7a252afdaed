// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libedgeplane session engine: a connected UDP socket, a table of pending tasks indexed by
 * task id, reassembly of fragmented results, and per-task retransmission timers with
 * exponential backoff and jitter, bounded by the task's deadline and attempt count.
 *
 * Completions are gathered under the session lock and delivered after it is released.
 *
 * An authenticated session (ep_client_open_auth()) seals every datagram under its newest
 * key and opens every reply under the key it names (keyring.h holds the keys); a thread of
 * its own enrolls again when the key is due, with the lock released during the handshake.
 */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/enroll.h"
#include "edgeplane/reasm.h"
#include "edgeplane/util.h"
#include "client_hooks.h"
#include "frame.h"
#include "keyring.h"
#include "retry.h"

#define SEND_BURST	  64
#define TYPE_SLOTS	  64	/* per-task-type exec time estimates */
#define EWMA		  0.125 /* weight of a new sample (TCP's alpha) */
#define BUDGET_RECHECK_NS (10 * 1000 * 1000ull)
#define RECV_BURST	  32
#define RECV_SLOT	  65536			/* any datagram */
#define PARK_POLL_NS	  (20 * 1000 * 1000ull) /* a parked task looks for its new key */
/* How long a task waits for the key it is to be sent again with, beyond the enrollment's
 * own timeout: the switch to a fresh key, and a margin. */
#define PARK_EXTRA_MS	  (EP_KEYRING_SWITCH_MS + 1000)
/* Fragments a task may have resent answering TASK_ACKs (repairs, which are no attempts),
 * per fragment of the task: at 20 % loss a task needs about a quarter of its fragments
 * again; four times all of them means the edge keeps losing what it gets, or lies. */
#define REPAIR_FACTOR	  4
#define QUIET_ATTEMPTS	  2 /* unanswered attempts in a row: the task backs off */
/* While the edge answers (random loss), a task may go unanswered twice max_attempts times:
 * at 20 % loss each way one attempt of a one-datagram task fails with p = 0.36, so 8 in a
 * row with 3e-4 (one task in 3000 lost to chance), 16 with 8e-8. */
#define LOSSY_ATTEMPTS	  2
/* Attempts in all, answered or not, per max_attempts: a task that gets something back each
 * time but never ends (its result keeps being lost, or the edge holds it for ever). */
#define ATTEMPTS_HARD	  4
/* The first timeout's floor when adaptive: a few scheduler ticks. */
#define RTO_MIN_MS	  2
#define ACK_DUP_NS	  (2 * 1000 * 1000ull)	  /* the same TASK_ACK again within: a duplicate */
#define ACK_DELAY_MS	  5			  /* docs/protocol.md 5.1 rule 2 */
#define PACE_HALVE_NS	  (1000 * 1000 * 1000ull) /* halve at most once a second while slow */

struct pending {
	bool used;
	uint32_t live;	    /* its place in ep_client.live */
	uint64_t id;	    /* on the wire; a CONFLICT gives the task another */
	uint64_t app_id;    /* what submit returned: results and cancel use it */
	struct ep_msg tmpl; /* request header; frag fields filled per fragment */
	uint8_t *wire;	    /* the payload as sent (maybe compressed) */
	uint32_t wire_len, raw_len;
	uint32_t attempts;
	uint32_t resends;	  /* sends that were no attempt: after RETRY or CONFLICT */
	uint8_t validations;	  /* RETRYs this task got */
	uint8_t conflicts;	  /* CONFLICTs this task got */
	bool held;		  /* its last send waited for a key */
	bool rebound;		  /* it was refused at this address once (UNAUTHORIZED) */
	bool parked;		  /* ... and waits for a key enrolled from here */
	uint16_t park_key;	  /* the key it was refused under */
	uint64_t park_until_ns;	  /* fails if no such key seals by then */
	uint16_t unsealed_status; /* an ERROR without AUTH said this (ignored) */
	/* Selective repeat (docs/protocol.md 5.1). */
	uint32_t frags;		/* fragments of the request */
	uint8_t *tosend;	/* bitmap: fragments waiting for the pacer */
	uint8_t *sent;		/* bitmap: fragments sent at least once */
	uint32_t cursor;	/* the pacer's next index: a pass goes up */
	bool queued;		/* in the pacer's queue */
	bool at_edge;		/* the edge holds every fragment: stop resending */
	bool receiving;		/* fragments of its result are arriving */
	uint32_t held_asks;	/* questions since the edge said it holds it */
	bool repaired;		/* fragments went again answering a TASK_ACK */
	uint32_t acked;		/* fragments the edge listed last */
	uint32_t repair_frags;	/* fragments resent answering TASK_ACKs */
	uint32_t last_ack_held; /* the previous TASK_ACK: held count and time */
	uint64_t last_ack_ns;
	double allow;	    /* its own retry allowance, datagrams */
	uint8_t quiet;	    /* attempts in a row that got nothing back */
	bool heard;	    /* something came back since the last attempt */
	uint32_t strikes;   /* timers that expired with nothing back */
	uint64_t wire_sent; /* payload bytes sent, all sends */
	uint64_t tx_ns;	    /* when a fragment of it last went out */
	uint32_t base_ms;   /* first timeout; doubles per attempt */
	uint64_t submit_ns, sent_ns, next_ns, deadline_ns;
	ep_client_cb cb;
	void *arg;
};

struct done {
	ep_client_cb cb;
	void *arg;
	struct ep_result res;
};

struct ep_client {
	pthread_mutex_t lock;
	struct ep_client_opts o;
	int fd;
	struct ep_peer edge;
	uint32_t frag_size;
	uint8_t reply_mtu; /* in EP_REPLY_MTU_UNIT, for every request; 0: none */

	/* The edge's latest address-validation token (docs/protocol.md 3.7); a session has
	 * one destination (address and port), so one token. */
	bool have_token;
	uint16_t token_key_id;
	uint8_t token_tag[EP_AUTH_TAG_LEN];

	/* ep_client_limits(): the PING in flight and its answer. */
	uint64_t ping_id;
	bool ping_busy, ping_done;
	int ping_err;
	struct ep_node_limits limits;

	struct pending *p;
	uint32_t cap, inflight;
	/* The slots in use, in no order: the timers walk these, not all cap slots (with
	 * thousands of slots and a few tasks in flight, scanning them all at every turn of
	 * the loop took a third of a client's CPU). */
	uint32_t *live, nlive;
	uint64_t next_id, rng;

	struct ep_reasm *reasm;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	uint8_t *rbuf, *sbuf;
	size_t sbuf_slot;
	struct mmsghdr smsg[SEND_BURST], rmsg[RECV_BURST];
	struct iovec siov[SEND_BURST], riov[RECV_BURST];
	unsigned int nsend;

	struct done *done; /* a ring of completions to deliver */
	unsigned int done_head, ndone, done_cap;
	struct ep_client_stats st;

	/* Authentication (docs/protocol.md 3.5); all zero in a session without it. */
	bool auth;
	struct ep_keyring keys;
	struct ep_key_limits role; /* of the newest key received (it may have expired) */
	uint32_t tenant;	   /* ... and its tenant */
	struct ep_client_auth_stats ast;
	int key_fd;		   /* a static key's file, locked; -1 */
	struct ep_enroll_cfg ecfg; /* enrollment: server NULL for a static key */
	uint16_t rebind_key;	   /* the key enrolled after a refusal at this address */
	char *ecfg_str;		   /* the strings ecfg points into */
	const struct ep_client_hooks *hooks;
	bool renewer, stopping; /* the renewal thread runs; it is asked to end */
	pthread_t renew_thread;
	pthread_cond_t renew_cv; /* on CLOCK_MONOTONIC */

	struct ep_retry_budget budget;
	/* Selective repeat, loss vs overload, pacing. */
	bool edge_acks;		     /* the edge acknowledges: TASK_ACK or PONG ACKS seen */
	bool edge_no_frames;	     /* its PONG did not say EP_LIM_F_FRAME */
	struct ep_frame_state frame; /* frame codec: types, estimates, the coder */
	struct ep_path path;
	enum ep_path_state pstate;
	uint64_t halved_ns; /* the pacer's latest halving */
	struct ep_pacer pacer;
	bool no_pacing;
	uint64_t *pq; /* the pacer's queue of task ids (a ring of cap) */
	uint32_t pq_head, pq_n;
	struct ep_reasm_cfg rc; /* to make the reassembly again (ep_client_set_link) */
	struct ep_client_link_opts lo;
	struct ep_client_link_stats lst;
	struct ep_client_estimates est;
	struct {
		uint16_t type;
		uint32_t n;
		double exec_us;
	} types[TYPE_SLOTS];
};

static void live_add(struct ep_client *c, struct pending *p)
{
	p->live = c->nlive;
	c->live[c->nlive++] = (uint32_t)(p - c->p);
}

static void live_del(struct ep_client *c, struct pending *p)
{
	uint32_t last = c->live[--c->nlive];

	c->live[p->live] = last;
	c->p[last].live = p->live;
}

static struct pending *slot_of(struct ep_client *c, uint64_t id)
{
	struct pending *p = &c->p[id % c->cap];

	return p->used && p->id == id ? p : NULL;
}

/* --- sending ------------------------------------------------------------------------ */

/* Push the queued datagrams out with sendmmsg. */
static int flush_locked(struct ep_client *c)
{
	unsigned int done = 0;
	int err = 0;

	while (done < c->nsend) {
		int n = sendmmsg(c->fd, c->smsg + done, c->nsend - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ECONNREFUSED (ICMP from a dead edge) and the like: the retry timers
			 * handle it; no task is lost. */
			err = -errno;
			break;
		}
		c->st.dgrams_sent += (uint64_t)n;
		done += (unsigned int)n;
	}
	c->nsend = 0;
	return err;
}

/* --- authentication: the clocks, sealing ------------------------------------------- */

const struct ep_client_hooks *ep_session_test_hooks;

static uint64_t auth_now(const struct ep_client *c)
{
	return c->hooks && c->hooks->now_ns ? c->hooks->now_ns(c->hooks->arg) : ep_now_ns();
}

static uint64_t auth_real_ns(const struct ep_client *c)
{
	struct timespec ts;

	if (c->hooks && c->hooks->now_real_ns)
		return c->hooks->now_real_ns(c->hooks->arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The key to send @m under, with @m made an AUTH message of it (its tenant the key's); NULL
 * in a session without authentication. *@err: -EKEYEXPIRED when the session has no valid
 * key (the renewal thread is getting one: the send is held back).
 */
static struct ep_ckey *seal_key(struct ep_client *c, struct ep_msg *m, int *err)
{
	struct ep_ckey *k;

	*err = 0;
	if (!c->auth)
		return NULL;
	k = ep_keyring_current(&c->keys, auth_now(c));
	if (!k) {
		c->ast.held++;
		*err = -EKEYEXPIRED;
		return NULL;
	}
	m->flags = (uint8_t)((m->flags | EP_F_AUTH) & ~EP_F_TOKEN);
	m->auth_key_id = k->key_id;
	m->tenant_id = k->tenant;
	return k;
}

/* Seal the datagram @buf of @len bytes that ep_frag_build() made: sender 0, the key's next
 * pn (every datagram, retransmissions too, takes a new one). */
static int seal(struct ep_client *c, struct ep_ckey *k, uint8_t *buf, size_t len)
{
	int err = ep_aead_seal(k->aead, EP_AUTH_SENDER_DEVICE, ep_keyring_next_pn(k, auth_now(c)),
			       buf, len);

	if (!err)
		c->ast.sealed++;
	return err;
}

/* A one-datagram control message (PING, CANCEL, RESULT_ACK) with @len bytes of payload,
 * sealed in an authenticated session, with the session's token in one without when
 * @token. Sent at once: control datagrams bypass the pacer and corking. */
static int send_ctl_locked(struct ep_client *c, struct ep_msg *m, const void *payload, uint32_t len,
			   bool token)
{
	uint8_t buf[EP_HDR_LEN + EP_AUTH_NONCE_LEN + 4 + 4 * EP_ACK_MAX_RANGES];
	struct ep_ckey *k;
	ssize_t n;
	int err;

	k = seal_key(c, m, &err);
	if (err)
		return err;
	if (token && !c->auth && c->have_token) {
		m->flags |= EP_F_TOKEN;
		m->auth_key_id = c->token_key_id;
		memcpy(m->auth_tag, c->token_tag, EP_AUTH_TAG_LEN);
	}
	n = ep_frag_build(m, payload, len, len ? len : 1, 0, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (k && (err = seal(c, k, buf, (size_t)n)))
		return err;
	if (send(c->fd, buf, (size_t)n, MSG_DONTWAIT) != n)
		return -errno;
	c->st.dgrams_sent++;
	return 0;
}

/*
 * RESULT_ACK for @p (docs/protocol.md 5.1): the fragments of its result held (@a; count 0:
 * none), as many ranges as a fragment of this session fits, the lowest first (an unlisted
 * fragment costs a duplicate, never a loss).
 */
static void send_result_ack(struct ep_client *c, struct pending *p, const struct ep_ack *a)
{
	uint8_t pl[4 + 4 * EP_ACK_MAX_RANGES];
	uint32_t room = (c->frag_size - 4) / 4;
	struct ep_msg m = { .kind = EP_KIND_RESULT_ACK,
			    .priority = p->tmpl.priority,
			    .task_type = p->tmpl.task_type,
			    .tenant_id = p->tmpl.tenant_id,
			    .task_id = p->id,
			    .frag_count = 1 };
	ssize_t n = ep_ack_encode(
		a, (uint16_t)(room < EP_ACK_MAX_RANGES ? room : EP_ACK_MAX_RANGES), pl, sizeof(pl));

	if (n < 0 || send_ctl_locked(c, &m, pl, (uint32_t)n, true))
		return; /* the task's timer asks again */
	c->lst.result_acks_sent++;
}

static inline bool bit_get(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] & (1u << (i % 8));
}

static inline void bit_set(uint8_t *bm, uint32_t i)
{
	bm[i / 8] |= (uint8_t)(1u << (i % 8));
}

static inline void bit_clear(uint8_t *bm, uint32_t i)
{
	bm[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* Ready @p's header for a send: the session's key (*@k, NULL without authentication) or
 * its latest token, if the edge gave it one. */
static int prep_send(struct ep_client *c, struct pending *p, struct ep_ckey **k)
{
	int err;

	*k = seal_key(c, &p->tmpl, &err);
	p->held = err == -EKEYEXPIRED;
	if (err)
		return err;
	if (!c->auth && c->have_token) {
		p->tmpl.flags |= EP_F_TOKEN;
		p->tmpl.auth_key_id = c->token_key_id;
		memcpy(p->tmpl.auth_tag, c->token_tag, EP_AUTH_TAG_LEN);
	}
	return 0;
}

/* Queue fragment @i of @p for sendmmsg. */
static int queue_frag(struct ep_client *c, struct pending *p, struct ep_ckey *k, uint32_t i)
{
	uint8_t *buf;
	ssize_t len;
	int err;

	if (c->nsend == SEND_BURST)
		flush_locked(c);
	buf = c->sbuf + c->nsend * c->sbuf_slot;
	len = ep_frag_build(&p->tmpl, p->wire, p->wire_len, c->frag_size, i, buf, c->sbuf_slot);
	if (len < 0)
		return (int)len;
	if (k && (err = seal(c, k, buf, (size_t)len)))
		return err;
	c->siov[c->nsend] = (struct iovec){ buf, (size_t)len };
	c->smsg[c->nsend] =
		(struct mmsghdr){ .msg_hdr = { .msg_iov = &c->siov[c->nsend], .msg_iovlen = 1 } };
	c->nsend++;
	if (bit_get(p->sent, i)) {
		c->lst.frags_resent++;
	} else {
		bit_set(p->sent, i);
		c->lst.frags_sent_first++;
	}
	len = (ssize_t)(p->wire_len - i * c->frag_size < c->frag_size
				? p->wire_len - i * c->frag_size
				: c->frag_size);
	p->wire_sent += (uint64_t)len;
	p->tx_ns = ep_now_ns();
	c->st.wire_bytes += (uint64_t)len;
	return 0;
}

/* Datagram bytes of fragment @i of @p, for the pacer. */
static uint32_t frag_bytes(const struct ep_client *c, const struct pending *p, uint32_t i)
{
	uint32_t off = i * c->frag_size, rest = p->wire_len > off ? p->wire_len - off : 0;

	return EP_HDR_LEN + (c->auth ? EP_AUTH_NONCE_LEN : 0) +
	       (rest < c->frag_size ? rest : c->frag_size);
}

/* The next fragment of @p to send, ascending from its cursor, then from 0 (a new pass);
 * -1: none. */
static int64_t next_frag(const struct pending *p)
{
	for (uint32_t n = 0, i = p->cursor; n < p->frags; n++, i++) {
		if (i >= p->frags)
			i = 0;
		if (!(i % 8) && !p->tosend[i / 8] && i + 8 <= p->frags) {
			n += 7;
			i += 7;
			continue;
		}
		if (bit_get(p->tosend, i))
			return i;
	}
	return -1;
}

/* Drop the queue's entries of tasks gone or no longer queued, to make room. */
static void pq_compact(struct ep_client *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->pq_n; i++) {
		uint64_t id = c->pq[(c->pq_head + i) % c->cap];
		struct pending *p = slot_of(c, id);

		if (p && p->queued)
			c->pq[(c->pq_head + n++) % c->cap] = id;
	}
	c->pq_n = n;
}

/*
 * Send what the pacer allows of the queued tasks' fragments, task after task (the first
 * queued first), each task's in ascending order. Datagrams go now unless corked.
 */
static void pace_locked(struct ep_client *c, uint64_t now)
{
	while (c->pq_n) {
		struct pending *p = slot_of(c, c->pq[c->pq_head]);
		struct ep_ckey *k;
		int64_t i;

		if (!p || !p->queued || (i = next_frag(p)) < 0) {
			if (p)
				p->queued = false;
			c->pq_head = (c->pq_head + 1) % c->cap;
			c->pq_n--;
			continue;
		}
		if (!c->no_pacing &&
		    !ep_pacer_take(&c->pacer, frag_bytes(c, p, (uint32_t)i), now)) {
			c->lst.pace_waits++;
			break;
		}
		if (prep_send(c, p, &k)) {
			/* No key: send_held_locked() sends the task again when one comes. */
			memset(p->tosend, 0, (p->frags + 7) / 8);
			continue;
		}
		bit_clear(p->tosend, (uint32_t)i);
		p->cursor = (uint32_t)i + 1;
		queue_frag(c, p, k, (uint32_t)i);
	}
	if (!c->o.cork)
		flush_locked(c);
}

/* Send @p's fragments marked in tosend: a single-fragment task at once, the fragments of
 * a larger one through the pacer. */
static void send_marked(struct ep_client *c, struct pending *p, uint64_t now)
{
	if (p->frags == 1) {
		struct ep_ckey *k;

		bit_clear(p->tosend, 0);
		if (!prep_send(c, p, &k))
			queue_frag(c, p, k, 0);
		if (!c->o.cork)
			flush_locked(c);
		return;
	}
	if (!p->queued) {
		if (c->pq_n == c->cap)
			pq_compact(c);
		if (c->pq_n < c->cap) { /* certain: live tasks number fewer than cap */
			c->pq[(c->pq_head + c->pq_n++) % c->cap] = p->id;
			p->queued = true;
		}
	}
	pace_locked(c, now);
}

/* Send every fragment of a task (the first send, and whole resends). Each send carries the
 * session's latest token, if the edge gave it one, or is sealed with its key. */
static int send_task(struct ep_client *c, struct pending *p)
{
	memset(p->tosend, 0xff, (p->frags + 7) / 8);
	if (p->frags % 8)
		p->tosend[p->frags / 8] = (uint8_t)((1u << (p->frags % 8)) - 1);
	p->cursor = 0;
	send_marked(c, p, ep_now_ns());
	return p->held ? -EKEYEXPIRED : 0;
}

int ep_client_flush(struct ep_client *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = flush_locked(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static void ewma(double *avg, double sample, bool first)
{
	*avg = first ? sample : *avg + EWMA * (sample - *avg);
}

/* Learn from a reply to a task sent once (with retries the timing is ambiguous). */
static void learn(struct ep_client *c, const struct pending *p, const struct ep_result *res)
{
	struct ep_client_estimates *e = &c->est;
	double total = (double)res->latency_ns / 1e3;
	double edge = (double)res->queue_us + (double)res->exec_us;
	double net = total > edge ? total - edge : 0;
	uint32_t bytes = p->wire_len + res->len;
	bool first = !e->samples;
	unsigned int slot = p->tmpl.task_type % TYPE_SLOTS;

	if (!res->error)
		e->failures_in_row = 0;
	else if (res->error == -ETIMEDOUT ||
		 (res->error == -EREMOTEIO && res->status == EP_ST_OVERLOADED))
		e->failures_in_row++;
	/* Only a task sent once times the path: a RETRY or a CONFLICT added a round trip. */
	if (res->attempts != 1 || p->resends || p->repaired ||
	    (res->error && res->error != -EREMOTEIO))
		return;
	e->edge_load_pct = res->load_pct;
	ewma(&e->edge_queue_us, res->queue_us, first);
	ewma(&e->edge_exec_us, res->exec_us, first);
	if (c->types[slot].type != p->tmpl.task_type || !c->types[slot].n) {
		c->types[slot].type = p->tmpl.task_type;
		c->types[slot].n = 0;
	}
	ewma(&c->types[slot].exec_us, res->exec_us, !c->types[slot].n++);
	if (bytes <= 4 * c->frag_size) {
		/* Small: the network time is the round trip (RFC 6298's estimator). */
		double err = net - e->srtt_us;

		if (first) {
			e->srtt_us = net;
			e->rttvar_us = net / 2;
		} else {
			e->srtt_us += EWMA * err;
			e->rttvar_us += 0.25 * ((err < 0 ? -err : err) - e->rttvar_us);
		}
	} else if (e->samples && net > e->srtt_us) {
		/* Large: what the round trip does not explain is transfer time. Split it by
		 * the bytes each way (a rough estimate, good enough to choose a side). */
		double bps = (double)bytes / ((net - e->srtt_us) / 1e6);

		ewma(&e->up_bps, bps, !e->up_bps);
		ewma(&e->down_bps, bps, !e->down_bps);
	}
	e->samples++;
}

static void queue_done(struct ep_client *c, struct pending *p, struct ep_result *res)
{
	res->task_id = p->app_id;
	res->attempts = p->attempts;
	res->latency_ns = ep_now_ns() - p->submit_ns;
	res->wire_bytes = p->wire_sent;
	res->wire_len = p->wire_len;
	res->raw_bytes = p->raw_len;
	learn(c, p, res);
	if (!res->error && p->frags > 1 && p->acked < p->frags) /* delivered, all of it */
		ep_pacer_delivered(&c->pacer,
				   (uint64_t)p->wire_len * (p->frags - p->acked) / p->frags,
				   c->pq_n > 0, ep_now_ns());
	if (res->error)
		c->st.failed++;
	else
		c->st.completed++;
	/* Room is certain: at most one entry per task in flight, and done_cap = cap. */
	c->done[(c->done_head + c->ndone++) % c->done_cap] =
		(struct done){ .cb = p->cb, .arg = p->arg, .res = *res };
	free(p->wire);
	free(p->tosend); /* and sent: one allocation */
	live_del(c, p);
	memset(p, 0, sizeof(*p));
	c->inflight--;
}

static void fail(struct ep_client *c, struct pending *p, int error)
{
	struct ep_result res = { .error = error };

	queue_done(c, p, &res);
}

/* Out of attempts or time: -EKEYEXPIRED if the session had no key to send it with. An
 * ERROR without AUTH that was ignored is named in the message, not taken as the answer. */
static void time_out(struct ep_client *c, struct pending *p)
{
	struct ep_result res = { .error = p->held ? -EKEYEXPIRED : -ETIMEDOUT };

	if (p->unsealed_status)
		snprintf(res.msg, sizeof(res.msg),
			 "no authenticated answer; an unauthenticated "
			 "ERROR (%s) was ignored",
			 ep_status_name(p->unsealed_status));
	queue_done(c, p, &res);
}

/* --- receiving ---------------------------------------------------------------------- */

static uint64_t next_timer(struct ep_client *c, const struct pending *p, uint64_t now);

/* The retransmission timeout of the path, for telling silence: the measured round trip
 * with four deviations of margin (RFC 6298), or the configured first timeout. */
static uint32_t path_rto_ms(const struct ep_client *c)
{
	if (c->o.timeout_ms || !c->est.samples)
		return c->o.timeout_ms ? c->o.timeout_ms : 200;
	return (uint32_t)((c->est.srtt_us + 4 * c->est.rttvar_us) / 1000) + 1;
}

/*
 * Whether @p has used its attempts: max_attempts timers that expired with nothing back
 * (strikes) while the edge is overloaded, silent or has not answered yet, LOSSY_ATTEMPTS
 * times as many while it answers (the loss is random), and ATTEMPTS_HARD x max_attempts
 * attempts in all.
 */
static bool out_of_attempts(const struct ep_client *c, const struct pending *p, uint32_t strikes)
{
	bool lossy = !ep_path_slow(c->pstate) &&
		     ep_path_answering(&c->path, ep_now_ns(), path_rto_ms(c));
	uint32_t limit = c->o.max_attempts * (lossy ? LOSSY_ATTEMPTS : 1);

	return strikes >= limit || p->attempts >= ATTEMPTS_HARD * c->o.max_attempts;
}

/*
 * What asking the edge about @p again does (its timer, or a result that would not decode,
 * @lost): a RESULT_ACK with the fragments of the result held (*@a; count 0 if none), or a
 * whole resend, or both while the session does not know whether the edge acknowledges
 * (docs/protocol.md 5.1). A single-fragment task with nothing of its result is sent again:
 * one datagram is the cheapest question. Returns the datagrams it costs.
 */
static uint32_t plan_ask(struct ep_client *c, struct pending *p, bool lost, struct ep_ack *a,
			 bool *whole, bool *ask)
{
	bool partial = !lost && !ep_reasm_ack(c->reasm, &c->edge, p->id, a);

	if (!partial)
		*a = (struct ep_ack){ 0 };
	/* A single-fragment task goes again whole: one datagram, and a gateway keeps no
	 * record of where such a task went (without AUTH), so a RESULT_ACK alone might find
	 * no node that knows it; it asks too if part of its result is here. */
	*ask = p->frags > 1 || partial;
	/* An edge not known to acknowledge is asked first too (a node that acknowledges
	 * says so in its answer; a lossless path never shows a TASK_ACK), and the task goes
	 * whole when a question got nothing back: an older node drops RESULT_ACK. */
	*whole = p->frags == 1 || (!c->edge_acks && (p->quiet >= 1 || lost));
	return (*whole ? p->frags : 0) + (*ask ? 1 : 0);
}

/* Ask as plan_ask() said: an attempt. */
static void do_ask(struct ep_client *c, struct pending *p, uint64_t now, const struct ep_ack *a,
		   bool whole, bool ask)
{
	p->tmpl.flags |= EP_F_RETRY;
	p->attempts++;
	p->held_asks += p->at_edge;
	if (p->quiet < UINT8_MAX)
		p->quiet++;
	p->sent_ns = now;
	p->next_ns = next_timer(c, p, now);
	c->st.retries++;
	if (whole) {
		p->at_edge = false;
		c->lst.whole_resends++;
		send_task(c, p);
	}
	if (ask)
		send_result_ack(c, p, a);
}

/* Decompress a zstd result into @res: 0, -EPROTO (it does not decode: corrupted on the way
 * and lost, for the caller), -EMSGSIZE, -ENOMEM. */
static int decompress(struct ep_client *c, struct ep_result *res, const uint8_t *data, uint32_t len)
{
	unsigned long long size = ZSTD_getFrameContentSize(data, len);
	size_t n;

	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return -EPROTO;
	if (size > c->o.max_result_len)
		return -EMSGSIZE;
	if (!(res->data = malloc(size ? size : 1)))
		return -ENOMEM;
	n = ZSTD_decompressDCtx(c->dctx, res->data, size, data, len);
	if (ZSTD_isError(n) || n != size) {
		free(res->data);
		res->data = NULL;
		return -EPROTO;
	}
	res->len = (uint32_t)size;
	return 0;
}

static void complete(struct ep_client *c, struct pending *p, const struct ep_msg *m,
		     const uint8_t *data, uint32_t len, uint8_t *owned)
{
	struct ep_result res = {
		.status = m->status,
		.load_pct = m->load_pct,
		.queue_us = m->queue_us,
		.exec_us = m->exec_us,
	};

	if (m->kind == EP_KIND_ERROR) {
		size_t n = len < sizeof(res.msg) - 1 ? len : sizeof(res.msg) - 1;

		res.error = -EREMOTEIO;
		memcpy(res.msg, data, n);
	} else if (m->flags & EP_F_ZSTD) {
		res.compressed = 1;
		res.error = decompress(c, &res, data, len);
		if (res.error == -EPROTO && !out_of_attempts(c, p, p->strikes + 1)) {
			/* Corrupted on the way (its checksum, or no zstd frame at all): lost,
			 * not the task's failure. Ask for it again. */
			struct ep_ack a;
			bool whole, ask;

			c->lst.results_undecodable++;
			p->strikes++; /* an attempt that brought nothing usable */
			p->heard = false;
			plan_ask(c, p, true, &a, &whole, &ask);
			do_ask(c, p, ep_now_ns(), &a, whole, ask);
			free(owned);
			return;
		}
	} else if (owned) {
		res.data = owned;
		res.len = len;
		owned = NULL;
	} else if ((res.data = malloc(len ? len : 1))) {
		if (len) { /* data may be NULL then, not otherwise */
			assert(data);
			memcpy(res.data, data, len);
		}
		res.len = len;
	} else {
		res.error = -ENOMEM;
	}
	free(owned);
	queue_done(c, p, &res);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The answer to ep_client_limits()' PING: struct ep_limits, big-endian (a later node may
 * append fields: read the ones known). */
static void on_pong(struct ep_client *c, const struct ep_msg *m, const uint8_t *payload)
{
	struct ep_node_limits *l = &c->limits;
	const uint8_t *q = payload;

	if (!c->ping_busy || c->ping_done || m->task_id != c->ping_id) {
		c->st.stray++;
		return;
	}
	c->ping_done = true;
	if (m->payload_len < sizeof(struct ep_limits)) {
		c->ping_err = -ENODATA;
		return;
	}
	*l = (struct ep_node_limits){
		.max_task_len = get32(q + 0),
		.max_result_len = get32(q + 4),
		.reasm_timeout_ms = get32(q + 8),
		.reasm_lifetime_ms = get32(q + 12),
		.per_source_tasks = get16(q + 16),
		.mtu = get16(q + 18),
		.max_priority = q[20],
		.amp_factor = q[21],
		.source_prefix_v4 = q[22],
		.source_prefix_v6 = q[23],
		.rate_packets = get32(q + 24),
		.rate_kib = get32(q + 28),
		.max_work = (uint64_t)get32(q + 32) << 32 | get32(q + 36),
		.cache_window_ms = get32(q + 40),
		.max_replays = get16(q + 44),
		.flags = get16(q + 46),
	};
	if (l->flags & EP_LIM_F_ACKS)
		c->edge_acks = true;
	c->edge_no_frames = !(l->flags & EP_LIM_F_FRAME);
	c->ping_err = 0;
}

/* The edge wants this address validated: keep its token (the newest wins) and send the
 * task again at once with it. Not an attempt: nothing was lost. */
static void on_retry(struct ep_client *c, struct pending *p, const struct ep_msg *m)
{
	uint64_t now = ep_now_ns();

	/* The task went out with this very token already: a RETRY for an earlier send of
	 * it (one per fragment of a retry burst, or late), not a refusal of the token. */
	if ((p->tmpl.flags & EP_F_TOKEN) && p->tmpl.auth_key_id == m->auth_key_id &&
	    !memcmp(p->tmpl.auth_tag, m->auth_tag, EP_AUTH_TAG_LEN))
		return;
	c->have_token = true;
	c->token_key_id = m->auth_key_id;
	memcpy(c->token_tag, m->auth_tag, EP_AUTH_TAG_LEN);
	if (++p->validations > EP_CLIENT_MAX_VALIDATIONS) {
		/* The edge keeps refusing its own tokens: a node behind a gateway with a
		 * secret of its own, or forged RETRYs. */
		fail(c, p, -EADDRNOTAVAIL);
		return;
	}
	c->st.validations++;
	p->resends++;
	p->tmpl.flags |= EP_F_RETRY;
	p->sent_ns = now;
	p->next_ns = next_timer(c, p, now);
	if (p->at_edge && p->frags > 1) {
		/* The edge holds the request: the RETRY answers a RESULT_ACK, whose resent
		 * result would exceed 3 times it (docs/protocol.md 5.1). Ask again. */
		struct ep_ack a;

		if (ep_reasm_ack(c->reasm, &c->edge, p->id, &a))
			a = (struct ep_ack){ 0 };
		send_result_ack(c, p, &a);
		return;
	}
	send_task(c, p);
}

/* The task id is taken at the edge by another request (a stale session's, or one
 * forged with this address): send the task again under a new id. */
static bool on_conflict(struct ep_client *c, struct pending *p)
{
	uint64_t now = ep_now_ns(), skip = ep_xorshift64(&c->rng) & 0xffff;
	struct pending *q = NULL;

	c->next_id += skip;
	for (uint32_t tries = 0; tries < c->cap; tries++) {
		uint64_t cand = c->next_id++;

		if (!c->p[cand % c->cap].used) {
			q = &c->p[cand % c->cap];
			*q = *p; /* and p's place in live */
			q->id = cand;
			c->live[q->live] = (uint32_t)(q - c->p);
			break;
		}
	}
	if (!q) /* no free slot: report the conflict */
		return false;
	memset(p, 0, sizeof(*p));
	q->queued = false; /* the queue holds the old id */
	/* What the edge said of the old id says nothing of the new one. */
	q->at_edge = q->receiving = false;
	q->acked = q->repair_frags = q->last_ack_held = q->held_asks = 0;
	q->last_ack_ns = 0;
	c->st.conflicts++;
	q->conflicts++;
	q->resends++;
	q->tmpl.task_id = q->id;
	q->tmpl.flags &= (uint8_t)~EP_F_RETRY;
	q->sent_ns = now;
	q->next_ns = next_timer(c, q, now);
	send_task(c, q);
	return true;
}

/*
 * A sealed UNAUTHORIZED (docs/protocol.md 3.5): the node would not send a reply larger than
 * 3 times the task to this address, which the task's key was not enrolled from. A session
 * that enrolls enrolls again, from the address it sends from (enroll() binds there), once
 * per task, and the task waits (parked) until a key newer than the refused one seals, then
 * goes again. Returns false when the task is to fail with the node's words: a static key,
 * a second refusal, or a refusal of the key enrolled for this.
 */
static bool on_unbound(struct ep_client *c, struct pending *p, const struct ep_msg *m)
{
	uint64_t now = ep_now_ns();
	int wait_ms = c->ecfg.timeout_ms ? c->ecfg.timeout_ms : EP_ENROLL_TIMEOUT_MS;

	if (p->rebound) /* parked, or sent again: the refused key's late answers */
		return p->parked || m->auth_key_id == p->park_key;
	if (!c->ecfg.server || m->auth_key_id == c->rebind_key)
		return false;
	p->rebound = p->parked = true;
	p->park_key = m->auth_key_id;
	p->park_until_ns = now + (uint64_t)(wait_ms + PARK_EXTRA_MS) * 1000000;
	p->next_ns = now + PARK_POLL_NS;
	/* A key newer than the refused one was enrolled from here already (enroll() binds
	 * to the session's address): the task waits for it, no new enrollment. */
	if (c->keys.n && c->keys.keys[0].key_id == m->auth_key_id && !c->keys.now) {
		ep_keyring_renew_now(&c->keys);
		c->ast.rebinds++;
		pthread_cond_signal(&c->renew_cv);
	}
	return true;
}

/* A parked task's timer: sent again (not an attempt) once a key other than the refused
 * one seals; failed with the node's refusal once it waited too long. */
static void unpark(struct ep_client *c, struct pending *p, uint64_t now)
{
	struct ep_ckey *k = ep_keyring_current(&c->keys, auth_now(c));
	struct ep_result res = { .error = -EREMOTEIO, .status = EP_ST_UNAUTHORIZED };
	char text[sizeof(c->ast.last_error) + 80];

	if (k && k->key_id != p->park_key) {
		p->parked = false;
		p->resends++;
		p->sent_ns = now;
		p->next_ns = next_timer(c, p, now);
		send_task(c, p);
		return;
	}
	if (now < p->park_until_ns && (!p->deadline_ns || now < p->deadline_ns)) {
		p->next_ns = now + PARK_POLL_NS;
		return;
	}
	snprintf(text, sizeof(text),
		 "a large reply refused at this address; enrolling from "
		 "here: %s",
		 c->ast.last_error[0] ? c->ast.last_error : "no key in time");
	memcpy(res.msg, text, sizeof(res.msg) - 1); /* cut where it must */
	queue_done(c, p, &res);
}

/*
 * An authenticated session takes a reply only if it opens under one of the session's keys
 * and a node sealed it (docs/protocol.md 3.5): anyone can send an ERROR or a RETRY without
 * AUTH, and a task must not end, or be sent elsewhere, on their word. Opens @buf in place;
 * returns whether the reply goes on.
 */
static bool open_reply(struct ep_client *c, const struct ep_msg *m, uint8_t *buf, size_t len)
{
	struct ep_ckey *k;
	uint32_t sender;
	uint64_t pn;

	if (!(m->flags & EP_F_AUTH)) {
		struct pending *p = slot_of(c, m->task_id);

		/* Kept only to say, if the task times out, what was ignored. */
		if (p && m->kind == EP_KIND_ERROR)
			p->unsealed_status = m->status;
		c->ast.unsealed++;
		return false;
	}
	k = ep_keyring_find(&c->keys, m->auth_key_id);
	if (!k) {
		c->ast.unknown_key++;
		return false;
	}
	if (ep_aead_open(k->aead, buf, len, &sender, &pn) || sender == EP_AUTH_SENDER_DEVICE) {
		c->ast.bad_tag++;
		return false;
	}
	return true;
}

/*
 * TASK_ACK (docs/protocol.md 5.1): resend the fragments it does not list (every one for
 * count 0), through the pacer; one that lists them all says the edge has the task: stop
 * sending, wait for the result (the timer keeps asking). Resends here are repairs, not
 * attempts, bounded by REPAIR_FACTOR x the task's fragments.
 */
/* Whether fragments of @p may still be on their way: some wait in the pacer, or the last
 * went out less than a round trip ago (twice the smoothed one, 2 ms at least). */
static uint64_t in_flight_ns(const struct ep_client *c)
{
	uint64_t rtt = (uint64_t)(2 * c->est.srtt_us * 1000);

	return rtt < 2000000 ? 2000000 : rtt;
}

static bool in_flight(const struct ep_client *c, const struct pending *p, uint64_t now)
{
	for (uint32_t i = 0; i < (p->frags + 7) / 8; i++)
		if (p->tosend[i])
			return true;
	return now - p->tx_ns < in_flight_ns(c);
}

static void on_task_ack(struct ep_client *c, struct pending *p, const struct ep_msg *m,
			const uint8_t *payload, uint64_t now)
{
	struct ep_ack *a = &(struct ep_ack){ 0 };
	uint32_t held, fresh = 0, top = UINT32_MAX;
	bool later = false;

	if (ep_ack_decode(payload, m->payload_len, a) || (a->count && a->count != p->frags)) {
		c->lst.task_acks_bad++;
		c->st.stray++;
		return;
	}
	c->edge_acks = true;
	c->lst.task_acks++;
	held = ep_ack_held(a);
	/* The same answer again at once: a duplicate on the way, or the answer to a
	 * question asked twice; resending twice would only cost. */
	if (p->last_ack_ns && held == p->last_ack_held && now - p->last_ack_ns < ACK_DUP_NS)
		return;
	p->last_ack_held = held;
	p->last_ack_ns = now;
	if (held > p->acked)
		ep_pacer_delivered(&c->pacer, (uint64_t)p->wire_len * (held - p->acked) / p->frags,
				   c->pq_n > 0, now);
	p->acked = held;
	if (a->count && held == p->frags) {
		if (!p->at_edge) {
			p->at_edge = true;
			p->held_asks = 0;
			p->next_ns = next_timer(c, p, p->sent_ns); /* backs off now */
		}
		memset(p->tosend, 0, (p->frags + 7) / 8);
		return;
	}
	p->at_edge = false;
	if (a->count)
		ep_path_loss(&c->path, now); /* gaps: the edge answers, datagrams are lost */
	/* Fragments above the highest one the edge lists may still be on their way: the
	 * acknowledgement of a pause can cross them (the pacer, or this loop, was slow).
	 * They count as lost only once the pass is over and a round trip has passed since
	 * (RFC 9002's rule: no loss above the largest acknowledged before its time). */
	if (a->count && in_flight(c, p, now))
		top = a->r[a->n - 1].last;
	for (uint32_t i = 0; i < p->frags; i++) {
		if (i > top && !ep_ack_has(a, (uint16_t)i)) {
			later = true;
			continue;
		} else if (a->count && ep_ack_has(a, (uint16_t)i)) {
			bit_clear(p->tosend, i); /* there already */
		} else if (!bit_get(p->tosend, i)) {
			bit_set(p->tosend, i);
			fresh++;
		}
	}
	/* Ask again soon about what may have been on its way, not at the task's timeout. */
	if (later && p->next_ns > now + in_flight_ns(c))
		p->next_ns = now + in_flight_ns(c);
	if (!fresh)
		return;
	p->repair_frags += fresh;
	if (p->repair_frags > REPAIR_FACTOR * p->frags) {
		c->lst.repairs_exhausted++;
		c->st.timeouts++;
		time_out(c, p);
		return;
	}
	c->lst.repairs++;
	p->repaired = true;
	/* The repair is under way: its end of pass brings the next TASK_ACK. */
	p->sent_ns = now;
	p->next_ns = next_timer(c, p, now);
	send_marked(c, p, now);
}

static void on_dgram(struct ep_client *c, uint8_t *buf, size_t len)
{
	struct ep_reasm_task whole;
	const uint8_t *payload;
	struct pending *p;
	struct ep_msg m;
	uint64_t now;

	c->st.dgrams_received++;
	if (ep_decode(buf, len, EP_MAX_TASK_LEN, &m, &payload, NULL) ||
	    !EP_KIND_IS_CLIENT_BOUND(m.kind)) {
		c->st.stray++; /* garbage */
		return;
	}
	if (c->auth && !open_reply(c, &m, buf, len))
		return;
	now = ep_now_ns();
	ep_path_rx(&c->path, now, m.load_pct);
	if (m.kind == EP_KIND_PONG) {
		on_pong(c, &m, payload);
		return;
	}
	if (!(p = slot_of(c, m.task_id))) {
		c->st.stray++; /* a late duplicate of a finished task */
		return;
	}
	p->quiet = 0;
	p->heard = true;
	if (m.kind == EP_KIND_RETRY) {
		on_retry(c, p, &m);
		return;
	}
	if (m.kind == EP_KIND_TASK_ACK) {
		on_task_ack(c, p, &m, payload, now);
		return;
	}
	if (m.kind == EP_KIND_ERROR && m.status == EP_ST_OVERLOADED)
		ep_path_overloaded(&c->path, now);
	if (m.kind == EP_KIND_ERROR && m.status == EP_ST_CONFLICT &&
	    p->conflicts < EP_CLIENT_MAX_CONFLICTS && on_conflict(c, p))
		return;
	if (m.kind == EP_KIND_ERROR && m.status == EP_ST_UNAUTHORIZED && c->auth &&
	    on_unbound(c, p, &m))
		return;
	if (m.kind == EP_KIND_ERROR && ep_status_retriable(m.status) &&
	    !out_of_attempts(c, p, p->strikes)) {
		/* OVERLOADED, TIMEOUT (fragments lost on the way), INTERNAL,
		 * DECOMPRESS_FAILED (corrupted on the way): not an answer yet. The edge
		 * forgot the task; retry on the schedule instead of at once. */
		c->st.retriable_errors++;
		p->heard = false; /* no answer: the attempt is spent */
		p->at_edge = false;
		p->acked = 0;
		return;
	}
	if (m.kind != EP_KIND_ERROR && !p->at_edge) {
		/* The result is coming: the edge has the whole task. */
		p->at_edge = true;
		p->held_asks = 0;
		memset(p->tosend, 0, (p->frags + 7) / 8);
	}
	if (m.frag_count > 1) {
		/* The result is coming: no question before it stalls. */
		p->receiving = true;
		uint64_t t = now + (uint64_t)p->base_ms * 1000000;

		if (p->deadline_ns && t > p->deadline_ns)
			t = p->deadline_ns;
		if (p->next_ns < t)
			p->next_ns = t;
	}
	if (m.frag_count == 1) {
		complete(c, p, &m, payload, m.payload_len, NULL);
		return;
	}
	switch (ep_reasm_add(c->reasm, &c->edge, &m, payload, now, NULL, &whole)) {
	case 1:
		complete(c, p, &whole.msg, whole.data, whole.len, whole.data);
		break;
	case -EMSGSIZE: /* larger than max_result_len: no retry will change that */
		fail(c, p, -EMSGSIZE);
		break;
	}
}

static void read_socket(struct ep_client *c)
{
	for (int round = 0; round < 64; round++) { /* bounded: timers must run too */
		int n;

		for (unsigned int i = 0; i < RECV_BURST; i++) {
			c->riov[i] = (struct iovec){ c->rbuf + (size_t)i * RECV_SLOT, RECV_SLOT };
			c->rmsg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &c->riov[i],
								    .msg_iovlen = 1 } };
		}
		n = recvmmsg(c->fd, c->rmsg, RECV_BURST, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			on_dgram(c, c->rbuf + (size_t)i * RECV_SLOT, c->rmsg[i].msg_len);
		if (n < RECV_BURST)
			break;
	}
}

/* The timeout after attempt @attempt of @p: its base doubled per attempt while the path is
 * overloaded or silent (the base otherwise), with jitter, never past the
 * deadline. */
static uint64_t next_timer(struct ep_client *c, const struct pending *p, uint64_t now)
{
	struct ep_backoff b = { .base_ms = p->base_ms,
				.max_ms = c->o.max_timeout_ms,
				.jitter_pct = 25 };
	/* A task the edge holds (queued or running) is not lost: waiting longer for it is
	 * right, so its questions back off as for an overloaded edge. One that got nothing
	 * back twice in a row is cut off on its own (a node behind a gateway that died,
	 * say): it backs off as for a silent edge. Random loss rarely does that twice. */
	enum ep_path_state s = c->pstate;
	uint32_t n = p->attempts;

	/* Each counts its own doublings, not the task's attempts: a task that was repaired
	 * a few times must not wait 2^attempts for a result the edge is sending. And one
	 * whose result is arriving is repaired at the pace of loss. */
	if (!ep_path_slow(s) && !p->receiving) {
		if (p->at_edge) {
			s = EP_PATH_OVERLOADED;
			n = p->held_asks + 1;
		} else if (p->quiet >= QUIET_ATTEMPTS) {
			s = EP_PATH_SILENT;
			n = p->quiet;
		}
	}
	uint64_t next = now + (uint64_t)ep_retry_timeout_ms(&b, n, s, &c->rng) * 1000000;

	return p->deadline_ns && next > p->deadline_ns ? p->deadline_ns : next;
}

/* The path's state now; entering overload or silence (and each second in it) halves the
 * pacer's rate. Random loss never does. */
static void update_path(struct ep_client *c, uint64_t now)
{
	enum ep_path_state was = c->pstate;

	ep_path_outstanding(&c->path, now, c->inflight > 0);
	c->pstate = ep_path_state(&c->path, now, path_rto_ms(c));
	if (!ep_path_slow(c->pstate))
		return;
	if (!ep_path_slow(was))
		c->lst.slowdowns++;
	if (!ep_path_slow(was) || now - c->halved_ns >= PACE_HALVE_NS) {
		ep_pacer_halve(&c->pacer);
		c->halved_ns = now;
	}
}

/* A result's reassembly acknowledges (docs/protocol.md 5.1 rules 1 and 2): RESULT_ACK. */
static void on_result_ack(void *arg, const struct ep_reasm_info *t, const struct ep_ack *a)
{
	struct ep_client *c = arg;
	struct pending *p = slot_of(c, t->msg.task_id);

	if (!p)
		return;
	if (ep_ack_held(a) < a->count)
		ep_path_loss(&c->path, t->last_ns);
	send_result_ack(c, p, a);
}

/* Ask again about, or fail, every task whose timer is due. */
static void run_timers(struct ep_client *c, uint64_t now)
{
	update_path(c, now);
	/* Backwards: time_out() moves the last live slot into the one it frees, and the
	 * last was seen already. */
	for (uint32_t k = c->nlive; k-- > 0;) {
		struct pending *p = &c->p[c->live[k]];
		struct ep_ack a;
		bool whole, ask;
		uint32_t cost, strikes;

		if (!p->used || p->next_ns > now)
			continue;
		if (p->parked) {
			unpark(c, p, now);
			continue;
		}
		/* A strike is counted when the question goes: a retry waiting for the budget
		 * spends no attempt. */
		strikes = p->strikes + !p->heard;
		if (out_of_attempts(c, p, strikes) || (p->deadline_ns && now >= p->deadline_ns) ||
		    now - p->sent_ns > 4ull * c->o.max_timeout_ms * 1000000) {
			c->st.timeouts++;
			time_out(c, p);
			continue;
		}
		cost = plan_ask(c, p, false, &a, &whole, &ask);
		/* Only an overloaded or silent edge makes a retry wait for the budget: random
		 * loss is repaired at once. */
		if (!ep_retry_budget_take_n(&c->budget, &p->allow, cost, now,
					    ep_path_slow(c->pstate))) {
			c->st.retries_throttled++;
			p->next_ns = now + BUDGET_RECHECK_NS;
			continue;
		}
		if (c->pstate != EP_PATH_SILENT)
			ep_path_loss(&c->path, now); /* the edge answers; this went missing */
		p->strikes = strikes;
		p->heard = false;
		do_ask(c, p, now, &a, whole, ask);
	}
	ep_reasm_expire(c->reasm, now);
	ep_pacer_delivered(&c->pacer, 0, c->pq_n > 0, now);
	pace_locked(c, now);
	if (c->auth)
		ep_keyring_expire(&c->keys, auth_now(c));
}

/* Deliver gathered completions, one at a time with the lock released (a callback may
 * submit, and several threads may deliver at once). Called with the lock held; returns
 * with it released. Needs no allocation, so it cannot lose a completion. */
static int deliver(struct ep_client *c)
{
	int n = 0;

	while (c->ndone) {
		struct done d = c->done[c->done_head];

		c->done_head = (c->done_head + 1) % c->done_cap;
		c->ndone--;
		pthread_mutex_unlock(&c->lock);
		if (d.cb)
			d.cb(d.arg, &d.res);
		else
			ep_result_free(&d.res);
		n++;
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

int ep_client_process(struct ep_client *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	read_socket(c);
	run_timers(c, ep_now_ns());
	flush_locked(c);
	n = deliver(c);
	if (c->o.cork && n > 0) /* callbacks may have queued new tasks */
		ep_client_flush(c);
	return n;
}

int ep_client_poll(struct ep_client *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int t = ep_client_timeout_ms(c);

	if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
		timeout_ms = t;
	poll(&pfd, 1, timeout_ms);
	return ep_client_process(c);
}

int ep_client_timeout_ms(struct ep_client *c)
{
	uint64_t now = ep_now_ns(), next = UINT64_MAX;

	pthread_mutex_lock(&c->lock);
	for (uint32_t k = 0; k < c->nlive; k++)
		if (c->p[c->live[k]].next_ns < next)
			next = c->p[c->live[k]].next_ns;
	if (c->inflight) {
		uint64_t at = ep_reasm_next_ack_ns(c->reasm);

		if (at < next)
			next = at;
	}
	if (c->pq_n && !c->no_pacing) {
		/* The queue's head may be stale; asking for one datagram's worth is close
		 * enough (a wake-up too early only costs a loop). */
		uint64_t at = ep_pacer_when(&c->pacer, EP_HDR_LEN + c->frag_size, now);

		if (at < next)
			next = at;
	}
	pthread_mutex_unlock(&c->lock);
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

/* --- submitting --------------------------------------------------------------------- */

/* The priority of what does not say: the default, or the role's ceiling if lower (at
 * least the lowest: a role that allows none refuses it). */
static uint8_t default_prio(const struct ep_client *c)
{
	uint8_t max = c->auth ? c->role.max_priority : EP_PRIO_MAX;

	return max >= EP_PRIO_DEFAULT ? EP_PRIO_DEFAULT : max > EP_PRIO_MIN ? max : EP_PRIO_MIN;
}

/*
 * Whether the role of the session's key lets it send this task (docs/protocol.md 3.5): the
 * node would drop it without a word otherwise. 0 or -EPERM, -ERANGE, -EMSGSIZE (keyring.h).
 */
static int role_allows(struct ep_client *c, const struct ep_task_opts *t, uint32_t wire_len,
		       uint8_t *prio)
{
	struct ep_ckey role = { .lim = c->role };
	int err;

	if (!t->priority)
		*prio = default_prio(c);
	err = ep_keyring_check_task(&role, t->type, *prio, wire_len);
	if (err)
		c->ast.refused++;
	return err;
}

/* The configured first timeout, or, when adaptive, what this session has measured: the
 * round trip with four deviations of margin, plus twice the edge time of this task type
 * (RFC 6298's RTO with the task's service time on top). */
static uint32_t first_timeout_ms(struct ep_client *c, uint16_t type)
{
	const unsigned int slot = type % TYPE_SLOTS;
	double us;

	if (c->o.timeout_ms)
		return c->o.timeout_ms;
	if (!c->est.samples)
		return 200;
	us = c->est.srtt_us + 4 * c->est.rttvar_us + 2 * c->est.edge_queue_us;
	if (c->types[slot].type == type && c->types[slot].n)
		us += 2 * c->types[slot].exec_us;
	us /= 1000;
	return us < RTO_MIN_MS		  ? RTO_MIN_MS
	       : us > c->o.max_timeout_ms ? c->o.max_timeout_ms
					  : (uint32_t)us;
}

/*
 * @payload (@len bytes) as it goes on the wire, into @wire (room for @len): a frame type's
 * frame-coded as the link makes it pay, or as it is (zstd is slower than the frame codec
 * and never pays where it does not); another type's zstd-compressed where that is smaller.
 * Called without the lock, it takes it only around the session's codec state. Sets
 * *@wire_len and returns the flag that says how: EP_F_FRAME, EP_F_ZSTD or 0 (as it is).
 */
static uint8_t payload_encode(struct ep_client *c, const struct ep_task_opts *t,
			      const void *payload, uint32_t len, uint8_t *wire, uint32_t *wire_len)
{
	bool frame_type = false;
	uint8_t flags = 0;

	*wire_len = len;
	if (!t->no_compress && len) {
		const struct ep_frame_type *ft;

		pthread_mutex_lock(&c->lock);
		ft = ep_frame_find(&c->frame, t->type);
		if (ft) {
			frame_type = true;
			if (!c->edge_no_frames) {
				enum ep_frame_mode mode =
					ep_frame_choose(&c->frame, ft, c->est.up_bps);
				uint32_t n =
					ep_frame_encode(&c->frame, ft, mode, payload, len, wire);

				if (n) {
					*wire_len = n;
					flags = EP_F_FRAME;
				}
			}
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (c->o.zstd_level && !t->no_compress && !frame_type && len >= c->o.zstd_min) {
		size_t n;

		pthread_mutex_lock(&c->lock);
		/* ZSTD_compress2 keeps the parameters set at open (level, checksum). */
		n = ZSTD_compress2(c->cctx, wire, len, payload, len);
		pthread_mutex_unlock(&c->lock);
		if (!ZSTD_isError(n) && n < len) {
			*wire_len = (uint32_t)n;
			flags = EP_F_ZSTD;
		}
	}
	if (!flags && len)
		memcpy(wire, payload, len);
	return flags;
}

/* A free slot for a new task, under the next sequential id (skipping one whose slot is
 * still busy), or NULL when all are busy. Under the lock. */
static struct pending *slot_claim(struct ep_client *c)
{
	for (uint32_t tries = 0; tries < c->cap; tries++) {
		uint64_t cand = c->next_id++;

		if (!c->p[cand % c->cap].used) {
			c->p[cand % c->cap].id = cand;
			return &c->p[cand % c->cap];
		}
	}
	return NULL;
}

/* A new task's first timeout: first_timeout_ms(), plus the time its @frags fragments
 * take through the pacer, at most max_timeout_ms. Under the lock. */
static uint32_t task_base_ms(struct ep_client *c, uint16_t type, uint32_t frags)
{
	uint32_t base = first_timeout_ms(c, type);

	if (frags > 1 && !c->no_pacing) {
		uint64_t ms = (uint64_t)frags * (EP_HDR_LEN + c->frag_size) * 8000 /
			      (uint64_t)c->pacer.rate_bps;

		base = (uint32_t)(base + ms > c->o.max_timeout_ms ? c->o.max_timeout_ms
								  : base + ms);
	}
	return base;
}

int ep_client_submit(struct ep_client *c, const struct ep_task_opts *t, const void *payload,
		     uint32_t len, ep_client_cb cb, void *arg, uint64_t *id)
{
	uint8_t prio = t->priority ? t->priority : EP_PRIO_DEFAULT;
	struct pending *p;
	uint8_t *wire;
	uint32_t wire_len;
	uint8_t flags, *bits;
	uint32_t frags;
	uint64_t now;
	int err;

	if (prio > EP_PRIO_MAX || (len && !payload))
		return -EINVAL;
	if (!ep_frag_count(len, c->frag_size) || len > EP_MAX_TASK_LEN)
		return -EMSGSIZE;

	/* Compress outside the lock; keep the result only if it is smaller. */
	wire = malloc(len ? len : 1);
	if (!wire)
		return -ENOMEM;
	flags = payload_encode(c, t, payload, len, wire, &wire_len);
	frags = ep_frag_count(wire_len, c->frag_size);
	bits = calloc(2, (frags + 7) / 8); /* tosend, then sent */
	if (!bits) {
		free(wire);
		return -ENOMEM;
	}

	pthread_mutex_lock(&c->lock);
	if (c->inflight >= c->o.max_inflight) {
		err = -EAGAIN;
		goto err_unlock;
	}
	if (c->auth) {
		err = role_allows(c, t, wire_len, &prio);
		if (err)
			goto err_unlock;
	}
	p = slot_claim(c);
	if (!p) {
		err = -EAGAIN;
		goto err_unlock;
	}
	now = ep_now_ns();
	p->used = true;
	live_add(c, p);
	p->tmpl = (struct ep_msg){
		.kind = EP_KIND_REQUEST,
		.priority = prio,
		.flags = flags | (c->o.plain_reply ? EP_F_PLAIN_REPLY : 0),
		.reply_mtu = c->reply_mtu,
		.task_type = t->type,
		.tenant_id = c->auth ? c->tenant : c->o.tenant_id,
		.task_id = p->id,
		.size_hint_kib = t->size_hint_kib,
		.deadline_ms = t->deadline_ms,
	};
	p->wire = wire;
	p->wire_len = wire_len;
	p->raw_len = len;
	p->frags = frags;
	p->tosend = bits;
	p->sent = bits + (frags + 7) / 8;
	p->attempts = 1;
	p->base_ms = task_base_ms(c, t->type, frags);
	p->allow = ep_retry_allowance(&c->budget, frags);
	p->submit_ns = p->sent_ns = now;
	p->deadline_ns = t->deadline_ms ? now + (uint64_t)t->deadline_ms * 1000000 : 0;
	p->next_ns = next_timer(c, p, now);
	ep_retry_budget_deposit(&c->budget, frags);
	p->cb = cb;
	p->arg = arg;
	c->inflight++;
	ep_path_outstanding(&c->path, now, true);
	c->st.submitted++;
	c->st.raw_bytes += len;
	p->app_id = p->id;
	if (id)
		*id = p->id;
	send_task(c, p); /* a failed send is retried by the timer */
	pthread_mutex_unlock(&c->lock);
	return 0;

err_unlock:
	pthread_mutex_unlock(&c->lock);
	free(bits);
	free(wire);
	return err;
}

int ep_client_cancel(struct ep_client *c, uint64_t id)
{
	struct ep_msg m;
	struct pending *p;

	pthread_mutex_lock(&c->lock);
	p = slot_of(c, id);
	if (!p || p->app_id != id) { /* sent again under another id after a CONFLICT */
		p = NULL;
		for (uint32_t k = 0; k < c->nlive && !p; k++)
			if (c->p[c->live[k]].app_id == id)
				p = &c->p[c->live[k]];
	}
	if (!p) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	m = (struct ep_msg){ .kind = EP_KIND_CANCEL,
			     .priority = p->tmpl.priority,
			     .task_type = p->tmpl.task_type,
			     .tenant_id = p->tmpl.tenant_id,
			     .task_id = p->id,
			     .frag_count = 1 };
	flush_locked(c);
	send_ctl_locked(c, &m, NULL, 0, false); /* best effort */
	fail(c, p, -ECANCELED);
	deliver(c);
	return 0;
}

int ep_client_limits(struct ep_client *c, int timeout_ms, struct ep_node_limits *out)
{
	uint64_t start = ep_now_ns(), next_ping = 0, now;
	struct ep_msg m;
	int err = -ETIMEDOUT;

	if (timeout_ms <= 0)
		timeout_ms = 1000;
	pthread_mutex_lock(&c->lock);
	if (c->ping_busy) {
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	c->ping_busy = true;
	c->ping_done = false;
	c->ping_id = c->next_id++; /* never a task's: ids are not reused */
	m = (struct ep_msg){ .kind = EP_KIND_PING,
			     .priority = default_prio(c),
			     .tenant_id = c->o.tenant_id,
			     .task_id = c->ping_id,
			     .frag_count = 1 };
	pthread_mutex_unlock(&c->lock);

	while ((now = ep_now_ns()) - start < (uint64_t)timeout_ms * 1000000) {
		bool done;

		if (now >= next_ping) {
			pthread_mutex_lock(&c->lock);
			send_ctl_locked(c, &m, NULL, 0,
					false); /* sealed anew each time: a new pn */
			pthread_mutex_unlock(&c->lock);
			next_ping = now + 200 * 1000000ull;
		}
		ep_client_poll(c, 10);
		pthread_mutex_lock(&c->lock);
		done = c->ping_done;
		if (done) {
			err = c->ping_err;
			if (!err)
				*out = c->limits;
		}
		pthread_mutex_unlock(&c->lock);
		if (done)
			break;
	}
	pthread_mutex_lock(&c->lock);
	c->ping_busy = false;
	pthread_mutex_unlock(&c->lock);
	return err;
}

struct sync_wait {
	struct ep_result *res;
	int done; /* atomic: another thread may deliver the result */
};

static void sync_cb(void *arg, struct ep_result *res)
{
	struct sync_wait *w = arg;

	*w->res = *res;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

int ep_client_run(struct ep_client *c, const struct ep_task_opts *t, const void *payload,
		  uint32_t len, struct ep_result *res)
{
	struct sync_wait w = { .res = res };
	int err;

	memset(res, 0, sizeof(*res));
	err = ep_client_submit(c, t, payload, len, sync_cb, &w, NULL);
	if (err) {
		res->error = err;
		return err;
	}
	ep_client_flush(c);
	/* Short polls: when threads share the session, another one may read this task's
	 * reply and deliver it, and then nothing wakes this thread's poll(). */
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
		ep_client_poll(c, 10);
	return res->error;
}

/* --- life cycle --------------------------------------------------------------------- */

/* The defaults of the options a caller left at zero (ep_client_opts in edgeplane.h). */
static void opts_defaults(struct ep_client_opts *o)
{
	if (!o->port)
		o->port = 7878;
	if (!o->mtu)
		o->mtu = 1500;
	if (!o->zstd_min)
		o->zstd_min = 256;
	if (!o->max_timeout_ms)
		o->max_timeout_ms = 5000;
	if (!o->max_attempts)
		o->max_attempts = 5;
	if (!o->max_inflight)
		o->max_inflight = 1024;
	if (!o->max_result_len)
		o->max_result_len = 64u << 20;
	if (!o->retry_ratio && !o->retry_per_s && !o->retry_burst) {
		o->retry_ratio = 0.2;
		o->retry_per_s = 10;
		o->retry_burst = 100;
	}
}

/* The session's lock, and the renewer's condition on the monotonic clock. */
static void sync_init(struct ep_client *c)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->renew_cv, &ca);
	pthread_condattr_destroy(&ca);
}

/*
 * The edge's address from @host, numeric only, an IPv6 one with its scope too
 * (fe80::1%eth0), with @port. 0, or -EINVAL for anything else.
 */
static int edge_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM }, *ai;

	if (getaddrinfo(host, NULL, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}

/* Whether the options, defaults filled and the fragment size derived, make no session. */
static bool opts_invalid(const struct ep_client *c)
{
	const struct ep_client_opts *o = &c->o;

	return !c->frag_size || o->timeout_ms > o->max_timeout_ms || o->zstd_level < 0 ||
	       (o->reply_mtu && o->reply_mtu < EP_REPLY_MTU_MIN * EP_REPLY_MTU_UNIT) ||
	       o->zstd_level > ZSTD_maxCLevel() || o->retry_ratio < 0 || o->retry_per_s < 0 ||
	       o->retry_burst < 1;
}

/*
 * The session's tables, buffers, codec contexts and reassembly, sized by the options.
 * 0 or -ENOMEM; what was allocated is freed by ep_client_close() either way.
 */
static int session_alloc(struct ep_client *c)
{
	c->cap = 2 * c->o.max_inflight;
	c->p = calloc(c->cap, sizeof(*c->p));
	c->live = calloc(c->cap, sizeof(*c->live));
	c->done = calloc(c->cap, sizeof(*c->done));
	c->done_cap = c->cap;
	c->sbuf_slot = EP_HDR_LEN + (c->auth ? EP_AUTH_NONCE_LEN : 0) + c->frag_size;
	c->sbuf = malloc(SEND_BURST * c->sbuf_slot);
	c->rbuf = malloc((size_t)RECV_BURST * RECV_SLOT);
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	c->pq = calloc(c->cap, sizeof(*c->pq));
	c->rc = (struct ep_reasm_cfg){
		.max_tasks = c->o.max_inflight,
		.max_bytes = (uint64_t)c->o.max_result_len * 4,
		.max_src_tasks = c->o.max_inflight,
		.max_src_bytes = (uint64_t)c->o.max_result_len * 4,
		.max_task_len = c->o.max_result_len,
		.timeout_ns = (uint64_t)c->o.max_timeout_ms * 4 * 1000000,
		.on_ack = on_result_ack,
		.ack_delay_ns = ACK_DELAY_MS * 1000000ull,
		.expire_arg = c,
	};
	c->reasm = ep_reasm_new(&c->rc);
	if (!c->p || !c->live || !c->done || !c->sbuf || !c->rbuf || !c->cctx || !c->dctx ||
	    !c->reasm || !c->pq)
		return -ENOMEM;
	return 0;
}

/*
 * The session's starting state: zstd's parameters, path estimate, pacer, first task id
 * and retry budget. 0, or -EINVAL where zstd refuses the level.
 */
static int session_start(struct ep_client *c)
{
	/* Every frame the session compresses carries zstd's content checksum: a corrupted
	 * payload fails to decompress at the edge (DECOMPRESS_FAILED, retried) rather than
	 * giving a wrong answer (docs/protocol.md 5.1, integrity). */
	if (c->o.zstd_level &&
	    (ZSTD_isError(
		     ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, c->o.zstd_level)) ||
	     ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1))))
		return -EINVAL;
	ep_path_init(&c->path, ep_now_ns());
	ep_pacer_init(&c->pacer, EP_PACE_START_BPS,
		      (double)EP_PACE_BURST_FRAGS * (EP_HDR_LEN + c->frag_size), false,
		      ep_now_ns());
	if (getrandom(&c->next_id, sizeof(c->next_id), 0) != sizeof(c->next_id))
		c->next_id = ep_now_ns();
	c->next_id &= ~0xffffffull; /* room to count up */
	c->rng = c->next_id | 1;
	ep_retry_budget_init(&c->budget, c->o.retry_ratio, c->o.retry_per_s, c->o.retry_burst,
			     ep_now_ns());
	return 0;
}

/*
 * The session's UDP socket, with its buffers, connected to the edge @ss: only the edge's
 * datagrams reach it, and send() needs no address. 0 or -errno; the socket, once made,
 * is the session's (c->fd) either way.
 */
static int session_connect(struct ep_client *c, const struct sockaddr_storage *ss, socklen_t sl)
{
	int rcvbuf;

	c->fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	rcvbuf = c->o.rcvbuf ? (int)c->o.rcvbuf : 8 << 20;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(c->fd, (const struct sockaddr *)ss, sl))
		return -errno;
	return 0;
}

/*
 * A new session to the edge in @o, with (@auth) or without the authenticated header;
 * ep_client_open() and ep_client_open_auth() finish it. 0 and *@out, or -EINVAL for
 * options that make none, -ENOMEM, or the socket's -errno.
 */
static int session_open(const struct ep_client_opts *o, bool auth, struct ep_client **out)
{
	struct sockaddr_storage ss = { 0 };
	struct ep_client *c;
	socklen_t sl;
	int err;

	if (!o || !o->host)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = *o;
	opts_defaults(&c->o);
	c->fd = -1;
	c->key_fd = -1;
	c->auth = auth;
	sync_init(c);

	err = edge_resolve(o->host, c->o.port, &ss, &sl);
	if (err)
		goto err_close;
	ep_peer_from_sockaddr(&c->edge, (struct sockaddr *)&ss);
	c->frag_size = ep_frag_size_for(c->o.mtu, ss.ss_family == AF_INET6, auth ? EP_F_AUTH : 0);
	if (c->o.reply_mtu) {
		uint32_t units = c->o.reply_mtu / EP_REPLY_MTU_UNIT;

		c->reply_mtu = (uint8_t)(units > 255 ? 255 : units);
	}
	err = opts_invalid(c) ? -EINVAL : session_alloc(c);
	if (!err)
		err = session_start(c);
	if (!err)
		err = session_connect(c, &ss, sl);
	if (err)
		goto err_close;
	*out = c;
	return 0;

err_close:
	c->inflight = 0;
	ep_client_close(c);
	return err;
}

int ep_client_open(const struct ep_client_opts *o, struct ep_client **out)
{
	return session_open(o, false, out);
}

/* --- authentication: keys, enrollment, renewal -------------------------------------- */

/* Enroll with the controller (or the test's). Called without the session lock. */
static int enroll(struct ep_client *c, struct ep_key_info *k, uint64_t *renew_after_ms, char *err,
		  size_t errlen)
{
	struct ep_enroll_cfg cfg = c->ecfg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char why[192] = "";
	int ret;

	/* From the address the session sends its tasks from: the key is bound to the
	 * address it was enrolled from (docs/protocol.md 3.5). */
	if (!getsockname(c->fd, (struct sockaddr *)&local, &len)) {
		cfg.local = (const struct sockaddr *)&local;
		cfg.local_len = len;
	}
	if (c->hooks && c->hooks->enroll)
		ret = c->hooks->enroll(c->hooks->arg, &cfg, k, renew_after_ms, why, sizeof(why));
	else
		ret = ep_enroll_device(&cfg, k, renew_after_ms, why, sizeof(why));
	if (ret)
		ep_seterr(err, errlen, "enrollment with %s: %s", c->ecfg.server,
			  why[0] ? why : strerror(-ret));
	return ret;
}

/* Take @k as the newest key; its role and tenant are the session's from now on. A key
 * from enrollment without a renewal time is renewed at 2/3 of its life, as the
 * controller's are; @static_key is never renewed. On failure, @err says why. */
static int install_key_locked(struct ep_client *c, const struct ep_key_info *k,
			      uint64_t renew_after_ms, bool static_key, char *err, size_t errlen)
{
	uint64_t real_ms = auth_real_ns(c) / 1000000;
	int ret;

	if (!static_key && !renew_after_ms)
		renew_after_ms = (k->expires_unix_ms - k->issued_unix_ms) * 2 / 3 + 1;
	ret = ep_keyring_add(&c->keys, k, static_key ? 0 : renew_after_ms, auth_now(c),
			     auth_real_ns(c));
	if (ret == -EKEYEXPIRED && static_key && real_ms < k->expires_unix_ms)
		ep_seterr(err, errlen,
			  "key %u was issued more than 12.7 days ago: too old to "
			  "start its counter above earlier uses (docs/client.md); issue a new one",
			  k->key_id);
	else if (ret == -EKEYREJECTED)
		ep_seterr(err, errlen,
			  "key %u was issued after this host's clock says it is now: set "
			  "the clock (NTP) before using a static key, or its counter would repeat "
			  "nonces (docs/client.md)",
			  k->key_id);
	else if (ret == -EKEYEXPIRED)
		ep_seterr(err, errlen, "key %u has expired (%llu ms ago by this host's clock)",
			  k->key_id, (unsigned long long)(real_ms - k->expires_unix_ms));
	else if (ret)
		ep_seterr(err, errlen, "key %u: %s", k->key_id, strerror(-ret));
	if (ret)
		return ret;
	c->role = k->lim;
	c->tenant = k->tenant;
	c->ast.enrollments++;
	memcpy(c->ast.name, k->name, sizeof(c->ast.name));
	memcpy(c->ast.role, k->role, sizeof(c->ast.role));
	c->ast.name[sizeof(c->ast.name) - 1] = c->ast.role[sizeof(c->ast.role) - 1] = '\0';
	return 0;
}

/* A key arrived: the tasks held back for want of one go out now (not an attempt). */
static void send_held_locked(struct ep_client *c)
{
	uint64_t now = ep_now_ns();

	for (uint32_t i = 0; i < c->cap && c->inflight; i++) {
		struct pending *p = &c->p[i];

		if (!p->used || !p->held)
			continue;
		p->resends++;
		p->sent_ns = now;
		p->next_ns = next_timer(c, p, now);
		send_task(c, p);
	}
	flush_locked(c);
}

/* Enroll again, the lock released meanwhile. Returns 1 (a new key) or a negative errno
 * (the session waits longer each time before the next try). */
static int renew_locked(struct ep_client *c)
{
	struct ep_key_info k;
	uint64_t renew_ms = 0;
	char why[sizeof(c->ast.last_error)];
	bool rebind = c->keys.now;
	int err;

	pthread_mutex_unlock(&c->lock);
	err = enroll(c, &k, &renew_ms, why, sizeof(why));
	pthread_mutex_lock(&c->lock);
	if (!err)
		err = install_key_locked(c, &k, renew_ms, false, why, sizeof(why));
	if (!err && rebind)
		c->rebind_key = k.key_id; /* refused at this address too: no more tries */
	ep_key_info_wipe(&k);
	if (err) {
		c->ast.enroll_failures++;
		memcpy(c->ast.last_error, why, sizeof(why));
		ep_keyring_renew_failed(&c->keys, auth_now(c));
		return err;
	}
	c->ast.last_error[0] = '\0';
	send_held_locked(c);
	return 1;
}

int ep_session_auth_step(struct ep_client *c)
{
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (c->ecfg.server && ep_keyring_renew_due(&c->keys, auth_now(c)))
		ret = renew_locked(c);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* The renewal thread: sleeps until the key is due (or the wait after a failure is over),
 * enrolls, and again, until the session closes. */
static void *renewer(void *arg)
{
	struct ep_client *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		uint64_t now = auth_now(c), at = ep_keyring_renew_at(&c->keys, now);

		if (at > now) {
			uint64_t until = ep_now_ns() + (at - now);
			struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
					       .tv_nsec = (long)(until % 1000000000ull) };

			if (at == UINT64_MAX)
				pthread_cond_wait(&c->renew_cv, &c->lock);
			else
				pthread_cond_timedwait(&c->renew_cv, &c->lock, &ts);
			continue;
		}
		renew_locked(c);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* The credentials, checked: a static key, or all four of enrollment. */
static int auth_opts(const struct ep_client_auth *a, struct ep_client_auth *au, char *err,
		     size_t errlen)
{
	size_t n;

	memset(au, 0, sizeof(*au));
	if (!a || a->sz < offsetof(struct ep_client_auth, key_file) + sizeof(a->key_file)) {
		ep_seterr(err, errlen, "no credentials (struct ep_client_auth with sz set)");
		return -EINVAL;
	}
	/* A later header's fields that this library does not know must be unset. */
	for (n = sizeof(*au); n < a->sz; n++)
		if (((const uint8_t *)a)[n]) {
			ep_seterr(err, errlen,
				  "credentials this library does not know (a newer "
				  "header's)");
			return -EINVAL;
		}
	memcpy(au, a, a->sz < sizeof(*au) ? a->sz : sizeof(*au));
	if (au->key_file) {
		if (au->enroll || au->cert || au->key || au->ca) {
			ep_seterr(err, errlen,
				  "a static key file, or enrollment with a certificate: "
				  "not both");
			return -EINVAL;
		}
		return 0;
	}
	if (!au->enroll || !au->cert || !au->key || !au->ca) {
		ep_seterr(err, errlen,
			  "enrollment needs the controller's address, the device's "
			  "certificate and key, and the CA (missing: %s%s%s%s)",
			  au->enroll ? "" : "enroll ", au->cert ? "" : "cert ",
			  au->key ? "" : "key ", au->ca ? "" : "ca");
		return -EINVAL;
	}
	if (au->enroll_timeout_ms < 0) {
		ep_seterr(err, errlen, "enroll_timeout_ms below 0");
		return -EINVAL;
	}
	return 0;
}

/* Keep copies of the enrollment's strings: the renewals need them after the caller's are
 * gone. */
static int keep_enroll_cfg(struct ep_client *c, const struct ep_client_auth *au)
{
	const char *src[] = { au->enroll, au->cert, au->key, au->ca };
	const char **dst[] = { &c->ecfg.server, &c->ecfg.cert, &c->ecfg.key, &c->ecfg.ca };
	size_t total = 0, off = 0;

	for (size_t i = 0; i < 4; i++)
		total += strlen(src[i]) + 1;
	c->ecfg_str = malloc(total);
	if (!c->ecfg_str)
		return -ENOMEM;
	for (size_t i = 0; i < 4; i++) {
		*dst[i] = memcpy(c->ecfg_str + off, src[i], strlen(src[i]) + 1);
		off += strlen(src[i]) + 1;
	}
	c->ecfg.timeout_ms = au->enroll_timeout_ms;
	return 0;
}

int ep_client_open_auth(const struct ep_client_opts *o, const struct ep_client_auth *a,
			struct ep_client **out, char *err, size_t errlen)
{
	struct ep_client_auth au;
	struct ep_key_info k = { 0 };
	uint64_t renew_ms = 0;
	struct ep_client *c = NULL;
	int ret;

	ret = auth_opts(a, &au, err, errlen);
	if (ret)
		return ret;
	ret = session_open(o, true, &c);
	if (ret) {
		ep_seterr(err, errlen, "%s",
			  ret == -EINVAL ? "a bad address or option" : strerror(-ret));
		return ret;
	}
	assert(c); /* session_open() gives a client where it returns 0 */
	c->hooks = ep_session_test_hooks;
	if (au.key_file) {
		ret = ep_key_file_open(au.key_file, &k, &c->key_fd, err, errlen);
	} else {
		ret = keep_enroll_cfg(c, &au);
		if (!ret)
			ret = enroll(c, &k, &renew_ms, err, errlen);
	}
	if (ret)
		goto err_close;
	ret = -EINVAL;
	if (o->tenant_id && o->tenant_id != k.tenant) {
		ep_seterr(err, errlen, "the options say tenant %u, the key is tenant %u's",
			  o->tenant_id, k.tenant);
		goto err_close;
	}
	pthread_mutex_lock(&c->lock);
	ret = install_key_locked(c, &k, renew_ms, au.key_file != NULL, err, errlen);
	pthread_mutex_unlock(&c->lock);
	if (ret)
		goto err_close;
	if (c->ecfg.server && !(c->hooks && c->hooks->no_thread)) {
		ret = -pthread_create(&c->renew_thread, NULL, renewer, c);
		if (ret) {
			ep_seterr(err, errlen, "the renewal thread: %s", strerror(-ret));
			goto err_close;
		}
		c->renewer = true;
	}
	ep_key_info_wipe(&k);
	*out = c;
	return 0;

err_close:
	ep_key_info_wipe(&k);
	ep_client_close(c);
	return ret;
}

int ep_client_get_auth(struct ep_client *c, struct ep_client_auth_stats *st)
{
	struct ep_client_auth_stats a;
	size_t sz = st->sz < sizeof(a) ? st->sz : sizeof(a);
	struct ep_ckey *k;
	uint64_t now, at;

	if (sz < sizeof(st->sz))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	a = c->ast;
	now = auth_now(c);
	k = c->auth ? ep_keyring_current(&c->keys, now) : NULL;
	if (k) {
		at = ep_keyring_renew_at(&c->keys, now);
		a.key_id = k->key_id;
		a.expires_unix_ms = k->expires_unix_ms;
		a.renew_in_ms = at == UINT64_MAX ? UINT64_MAX : (at > now ? at - now : 0) / 1000000;
	}
	a.tenant = c->tenant;
	a.max_priority = c->role.max_priority;
	pthread_mutex_unlock(&c->lock);
	a.sz = st->sz;
	if (!c->auth) {
		memset((uint8_t *)st + sizeof(st->sz), 0, sz - sizeof(st->sz));
		return -ENOKEY;
	}
	memcpy(st, &a, sz);
	return 0;
}

void ep_client_close(struct ep_client *c)
{
	if (!c)
		return;
	if (c->renewer) {
		/* It may be in an enrollment: at most enroll_timeout_ms. */
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_signal(&c->renew_cv);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->renew_thread, NULL);
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->cap && c->inflight; i++)
		if (c->p[i].used)
			fail(c, &c->p[i], -ECANCELED);
	c->nsend = 0;
	deliver(c);
	ep_close_fd(&c->fd);
	ep_reasm_free(c->reasm);
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	ep_frame_free(&c->frame);
	free(c->p);
	free(c->live);
	free(c->pq);
	free(c->done);
	free(c->sbuf);
	free(c->rbuf);
	ep_keyring_clear(&c->keys);
	ep_close_fd(&c->key_fd); /* and its lock */
	free(c->ecfg_str);
	pthread_cond_destroy(&c->renew_cv);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int ep_client_fd(const struct ep_client *c)
{
	return c->fd; /* fixed for the session's life: no lock needed */
}

unsigned int ep_client_inflight(struct ep_client *c)
{
	unsigned int n;

	pthread_mutex_lock(&c->lock);
	n = c->inflight;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void ep_client_get_stats(struct ep_client *c, struct ep_client_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
}

int ep_client_get_link_stats(struct ep_client *c, struct ep_client_link_stats *st)
{
	struct ep_client_link_stats l;
	size_t sz;

	if (!st || st->sz < sizeof(st->sz))
		return -EINVAL;
	sz = st->sz < sizeof(l) ? st->sz : sizeof(l);
	pthread_mutex_lock(&c->lock);
	update_path(c, ep_now_ns());
	l = c->lst;
	l.path_state = (uint8_t)c->pstate;
	l.edge_acks = c->edge_acks;
	l.pace_bps = c->no_pacing ? 0 : c->pacer.rate_bps;
	for (uint32_t i = 0; i < c->pq_n; i++) {
		struct pending *p = slot_of(c, c->pq[(c->pq_head + i) % c->cap]);

		for (uint32_t j = 0; p && p->queued && j < (p->frags + 7) / 8; j++)
			l.frags_queued += (uint64_t)__builtin_popcount(p->tosend[j]);
	}
	pthread_mutex_unlock(&c->lock);
	l.sz = st->sz;
	memcpy(st, &l, sz);
	return 0;
}

int ep_client_set_link(struct ep_client *c, const struct ep_client_link_opts *o)
{
	struct ep_client_link_opts lo = { 0 };
	struct ep_reasm_cfg rc;
	struct ep_reasm *r;
	uint64_t now = ep_now_ns();
	uint32_t burst;

	if (!o || o->sz < offsetof(struct ep_client_link_opts, no_pacing) + sizeof(o->no_pacing))
		return -EINVAL;
	for (size_t n = sizeof(lo); n < o->sz; n++) /* a newer header's fields: unset */
		if (((const uint8_t *)o)[n])
			return -EINVAL;
	memcpy(&lo, o, o->sz < sizeof(lo) ? o->sz : sizeof(lo));
	if (lo.ack_delay_ms > 60000 || lo.pace_burst > 65535 ||
	    (lo.pace_mbps && lo.pace_mbps > EP_PACE_MAX_BPS / 1e6))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (c->inflight) {
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	rc = c->rc;
	rc.ack_delay_ns = (uint64_t)(lo.ack_delay_ms ? lo.ack_delay_ms : ACK_DELAY_MS) * 1000000;
	r = ep_reasm_new(&rc);
	if (!r) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	ep_reasm_free(c->reasm);
	c->reasm = r;
	c->rc = rc;
	c->lo = lo;
	c->no_pacing = lo.no_pacing;
	burst = lo.pace_burst ? lo.pace_burst : EP_PACE_BURST_FRAGS;
	ep_pacer_init(&c->pacer, lo.pace_mbps ? lo.pace_mbps * 1e6 : EP_PACE_START_BPS,
		      (double)burst * (EP_HDR_LEN + c->frag_size), lo.pace_mbps != 0, now);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void ep_client_get_estimates(struct ep_client *c, struct ep_client_estimates *est)
{
	pthread_mutex_lock(&c->lock);
	*est = c->est;
	pthread_mutex_unlock(&c->lock);
}

int ep_client_set_frame_codec(struct ep_client *c, uint16_t type, unsigned int max_error,
			      unsigned int flags)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = ep_frame_set(&c->frame, type, max_error, flags);
	pthread_mutex_unlock(&c->lock);
	return err;
}

double ep_client_type_exec_us(struct ep_client *c, uint16_t type)
{
	double us = 0;

	pthread_mutex_lock(&c->lock);
	if (c->types[type % TYPE_SLOTS].type == type && c->types[type % TYPE_SLOTS].n)
		us = c->types[type % TYPE_SLOTS].exec_us;
	pthread_mutex_unlock(&c->lock);
	return us;
}

void ep_client_offload_env(struct ep_client *c, double local_load_pct, struct ep_offload_env *env)
{
	pthread_mutex_lock(&c->lock);
	*env = (struct ep_offload_env){
		.srtt_us = c->est.srtt_us,
		.rttvar_us = c->est.rttvar_us,
		.up_bps = c->est.up_bps,
		.down_bps = c->est.down_bps,
		.edge_queue_us = c->est.edge_queue_us,
		.edge_load_pct = c->est.edge_load_pct,
		.local_load_pct = local_load_pct,
		.edge_down = c->est.failures_in_row >= 3,
	};
	pthread_mutex_unlock(&c->lock);
}

int ep_client_offload_decide(struct ep_client *c, uint16_t type, struct ep_offload_task *t,
			     const struct ep_offload_params *params,
			     struct ep_offload_decision *out)
{
	struct ep_offload_env env;

	if (!t->speedup && t->local_us > 0) {
		double exec = ep_client_type_exec_us(c, type);

		if (exec > 0)
			t->speedup = t->local_us / exec;
	}
	ep_client_offload_env(c, 0, &env);
	return ep_offload_decide(&env, t, params, out);
}

const char *ep_result_strerror(const struct ep_result *res)
{
	switch (res->error) {
	case 0:
		return "ok";
	case -EREMOTEIO:
		return ep_status_name(res->status);
	case -ETIMEDOUT:
		return "timed out after retries";
	case -ECANCELED:
		return "cancelled";
	case -EMSGSIZE:
		return "result too large";
	case -EPROTO:
		return "malformed result";
	case -EADDRNOTAVAIL:
		return "address validation failed (RETRY after RETRY)";
	case -EKEYEXPIRED:
		return "no valid key (enrollment failing)";
	case -EPERM:
		return "task type not allowed by the key's role";
	case -ERANGE:
		return "priority above the key's role's ceiling";
	case -ENOMEM:
		return "out of memory";
	default:
		return "failed";
	}
}

void ep_result_free(struct ep_result *res)
{
	free(res->data);
	res->data = NULL;
	res->len = 0;
}
