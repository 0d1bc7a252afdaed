/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * retry.h - the client's retry policy, pure and clock-free so it can be tested exactly:
 *
 * - a path classifier that tells random loss (the edge answers; some datagrams do not
 *   arrive) from overload (the edge says OVERLOADED, or reports itself nearly full) and
 *   from silence (nothing from the edge for long while tasks are out). Only overload and
 *   silence slow the client down: loss is repaired at the pace of the round trip;
 * - exponential backoff with jitter, whose doubling applies only when the path is
 *   overloaded or silent (otherwise the timeout grows to twice its base at most);
 * - a retry budget counted in datagrams, which keeps retransmissions a bounded share of
 *   traffic when the path is overloaded or silent (no retry storms), with a per-task
 *   allowance so that a one-datagram task is never starved by large frames;
 * - a pacer (token bucket in bytes) for the fragments of large tasks.
 */
#ifndef EP_CLIENT_RETRY_H
#define EP_CLIENT_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* --- the path's state ---------------------------------------------------------------- */

enum ep_path_state {
	EP_PATH_OK = 0,	    /* the edge answers, nothing lost lately */
	EP_PATH_LOSSY,	    /* the edge answers, but datagrams are lost: random loss */
	EP_PATH_OVERLOADED, /* the edge said OVERLOADED lately, or reports load >= 95 % */
	EP_PATH_SILENT,	    /* nothing from the edge for max(3 x RTO, 1 s), tasks out */
};

#define EP_PATH_LOAD_HIGH     95    /* load_pct from which the edge counts as full */
#define EP_PATH_SILENT_MIN_MS 1000  /* silence is at least this long */
#define EP_PATH_LOSSY_MS      10000 /* a loss keeps the path LOSSY this long */

struct ep_path {
	uint64_t quiet_from_ns; /* last datagram from the edge, or when tasks went out
				 * after none were (silence counts from there) */
	uint64_t overload_ns;	/* the latest OVERLOADED; 0: none */
	uint64_t load_ns;	/* when the latest load_pct came */
	uint64_t loss_ns;	/* the latest loss seen; 0: none */
	uint8_t load_pct;
	bool outstanding; /* tasks are out */
};

void ep_path_init(struct ep_path *p, uint64_t now_ns);
/* A datagram from the edge (a reply, an acknowledgement) carrying @load_pct. */
void ep_path_rx(struct ep_path *p, uint64_t now_ns, uint8_t load_pct);
/* The edge answered OVERLOADED (or evicted a task from its reassembly). */
void ep_path_overloaded(struct ep_path *p, uint64_t now_ns);
/* A loss: a timer expired, or an acknowledgement listed gaps. */
void ep_path_loss(struct ep_path *p, uint64_t now_ns);
/* Whether tasks are out; silence is measured only while they are. */
void ep_path_outstanding(struct ep_path *p, uint64_t now_ns, bool outstanding);
/* The state at @now_ns for a retransmission timeout of @rto_ms. */
enum ep_path_state ep_path_state(const struct ep_path *p, uint64_t now_ns, uint32_t rto_ms);
/* Whether something came from the edge within max(3 x @rto_ms, 1 s): it answers. */
bool ep_path_answering(const struct ep_path *p, uint64_t now_ns, uint32_t rto_ms);
/* Whether the client should slow down in state @s (OVERLOADED, SILENT). */
static inline bool ep_path_slow(enum ep_path_state s)
{
	return s == EP_PATH_OVERLOADED || s == EP_PATH_SILENT;
}
const char *ep_path_name(enum ep_path_state s);

/* --- backoff ------------------------------------------------------------------------- */

struct ep_backoff {
	uint32_t base_ms;    /* timeout of the first attempt */
	uint32_t max_ms;     /* cap of the doubling */
	uint32_t jitter_pct; /* +-percentage applied to each timeout (0..100) */
};

/* The timeout to wait after sending attempt @attempt (1 = the first send): base * 2^(n-1),
 * capped at max, then moved by up to +-jitter_pct using *@rng (xorshift64 state). */
uint32_t ep_backoff_ms(const struct ep_backoff *b, uint32_t attempt, uint64_t *rng);
/* The same in path state @s: the doubling runs to max only when the path is overloaded
 * or silent; otherwise the timeout stays at its base (loss is no reason to wait longer:
 * at 5 % loss each way one task in a hundred loses two attempts in a row). */
uint32_t ep_retry_timeout_ms(const struct ep_backoff *b, uint32_t attempt, enum ep_path_state s,
			     uint64_t *rng);

/* --- the retry budget, in datagrams -------------------------------------------------- */

/*
 * Token bucket of datagrams: every new task deposits @ratio x its fragments, time
 * deposits @per_s a second, the bucket holds at most @cap. A retransmission of n datagrams
 * spends n: first from its task's own allowance (ep_retry_allowance(), which it may always
 * spend), then from the bucket. When the path is overloaded or silent, a retransmission
 * the two cannot pay waits (it is throttled); otherwise it goes anyway, and the bucket
 * only goes down to 0. So, while slowing down, retransmitted datagrams stay below
 * ratio x datagrams sent first + per_s x seconds, plus one allowance per task.
 */
struct ep_retry_budget {
	double tokens, ratio, per_s, cap;
	uint64_t last_ns;
};

void ep_retry_budget_init(struct ep_retry_budget *b, double ratio, double per_s, double cap,
			  uint64_t now_ns);
/* A new task of @frags datagrams. */
void ep_retry_budget_deposit(struct ep_retry_budget *b, uint32_t frags);
/* A task's own allowance of retransmitted datagrams: max(1, ceil(ratio x @frags)). */
double ep_retry_allowance(const struct ep_retry_budget *b, uint32_t frags);
/* Take a token for a retry of one datagram at @now_ns. Returns whether the retry may go. */
bool ep_retry_budget_take(struct ep_retry_budget *b, uint64_t now_ns);
/*
 * Pay for @n datagrams at @now_ns from *@allow (the task's allowance; may be NULL), then
 * the bucket. With @throttle, returns false and takes nothing if they cannot be paid;
 * without, always pays (what the bucket lacks is forgiven) and returns true.
 */
bool ep_retry_budget_take_n(struct ep_retry_budget *b, double *allow, uint32_t n, uint64_t now_ns,
			    bool throttle);

/* --- pacing -------------------------------------------------------------------------- */

#define EP_PACE_START_BPS   1e9 /* bit/s until measured */
#define EP_PACE_MIN_BPS	    10e6
#define EP_PACE_MAX_BPS	    10e9
#define EP_PACE_BURST_FRAGS 32
#define EP_PACE_WINDOW_NS   (100 * 1000 * 1000ull) /* delivery rate samples */
#define EP_PACE_TICK_NS                                    \
	(1000 * 1000ull) /* the bucket holds at least this \
			  * long's worth at the rate */

/*
 * A token bucket in bytes: @rate_bps bits a second, @burst bytes at most (or
 * EP_PACE_TICK_NS of the rate, if more). Adaptive: the
 * caller reports bytes delivered (acknowledged) and whether the pacer held fragments back
 * (backlog); each EP_PACE_WINDOW_NS the rate becomes max(EP_PACE_MIN_BPS, 2 x the delivery
 * rate) capped at EP_PACE_MAX_BPS if the pacer held fragments back for 90 % of the window
 * or more; a window with less backlog (the application sent less than the pacer allows,
 * or in bursts) only raises it. ep_pacer_halve() on overload or silence, never on
 * random loss.
 */
struct ep_pacer {
	double rate_bps, tokens, burst;
	uint64_t last_ns;
	bool fixed; /* the rate was set: no adaptation */
	uint64_t win_start_ns, win_bytes;
	uint64_t win_backlog_ns; /* of the window, the time fragments were held back */
	uint64_t last_report_ns;
	bool backlog_now;
};

void ep_pacer_init(struct ep_pacer *p, double rate_bps, double burst, bool fixed, uint64_t now_ns);
/* Whether @bytes may go at @now_ns; if so they are taken. */
bool ep_pacer_take(struct ep_pacer *p, uint32_t bytes, uint64_t now_ns);
/* When @bytes will be available (now_ns or later). */
uint64_t ep_pacer_when(struct ep_pacer *p, uint32_t bytes, uint64_t now_ns);
/* @bytes were delivered; @backlog: the pacer is holding fragments back now. */
void ep_pacer_delivered(struct ep_pacer *p, uint64_t bytes, bool backlog, uint64_t now_ns);
void ep_pacer_halve(struct ep_pacer *p);

#endif /* EP_CLIENT_RETRY_H */
