// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stddef.h>

#include "edgeplane/util.h"
#include "retry.h"

#define MS_NS 1000000ull

/* --- the path's state ---------------------------------------------------------------- */

void ep_path_init(struct ep_path *p, uint64_t now_ns)
{
	*p = (struct ep_path){ .quiet_from_ns = now_ns };
}

void ep_path_rx(struct ep_path *p, uint64_t now_ns, uint8_t load_pct)
{
	if (now_ns > p->quiet_from_ns)
		p->quiet_from_ns = now_ns;
	p->load_pct = load_pct;
	p->load_ns = now_ns;
}

void ep_path_overloaded(struct ep_path *p, uint64_t now_ns)
{
	p->overload_ns = now_ns ? now_ns : 1;
}

void ep_path_loss(struct ep_path *p, uint64_t now_ns)
{
	p->loss_ns = now_ns ? now_ns : 1;
}

void ep_path_outstanding(struct ep_path *p, uint64_t now_ns, bool outstanding)
{
	/* Silence counts from when there was something to answer, not from an idle hour. */
	if (outstanding && !p->outstanding && now_ns > p->quiet_from_ns)
		p->quiet_from_ns = now_ns;
	p->outstanding = outstanding;
}

static bool within(uint64_t t, uint64_t now, uint64_t span)
{
	return t && now >= t ? now - t < span : t != 0;
}

/* How long silence must last to count: max(3 x RTO, EP_PATH_SILENT_MIN_MS). */
static uint64_t silence_span(uint32_t rto_ms)
{
	uint64_t span = 3ull * rto_ms * MS_NS;

	return span < EP_PATH_SILENT_MIN_MS * MS_NS ? EP_PATH_SILENT_MIN_MS * MS_NS : span;
}

bool ep_path_answering(const struct ep_path *p, uint64_t now_ns, uint32_t rto_ms)
{
	return p->load_ns && within(p->load_ns, now_ns, silence_span(rto_ms));
}

enum ep_path_state ep_path_state(const struct ep_path *p, uint64_t now_ns, uint32_t rto_ms)
{
	uint64_t span = silence_span(rto_ms);

	if (p->outstanding && now_ns > p->quiet_from_ns && now_ns - p->quiet_from_ns >= span)
		return EP_PATH_SILENT;
	if (within(p->overload_ns, now_ns, span) ||
	    (p->load_pct >= EP_PATH_LOAD_HIGH && within(p->load_ns, now_ns, span)))
		return EP_PATH_OVERLOADED;
	if (within(p->loss_ns, now_ns, EP_PATH_LOSSY_MS * MS_NS))
		return EP_PATH_LOSSY;
	return EP_PATH_OK;
}

const char *ep_path_name(enum ep_path_state s)
{
	static const char *const names[] = { "ok", "lossy", "overloaded", "silent" };

	return (unsigned int)s < 4 ? names[s] : "?";
}

/* --- backoff ------------------------------------------------------------------------- */

uint32_t ep_backoff_ms(const struct ep_backoff *b, uint32_t attempt, uint64_t *rng)
{
	uint64_t t = b->base_ms, span;

	for (uint32_t i = 1; i < attempt && t < b->max_ms; i++)
		t *= 2;
	if (t > b->max_ms)
		t = b->max_ms;
	if (!b->jitter_pct || !t)
		return (uint32_t)t;
	/* Uniform in [t - t*j, t + t*j]. */
	span = t * (b->jitter_pct > 100 ? 100 : b->jitter_pct) / 100;
	return (uint32_t)(t - span + ep_xorshift64(rng) % (2 * span + 1));
}

uint32_t ep_retry_timeout_ms(const struct ep_backoff *b, uint32_t attempt, enum ep_path_state s,
			     uint64_t *rng)
{
	struct ep_backoff c = *b;

	if (!ep_path_slow(s) && c.base_ms < c.max_ms)
		c.max_ms = c.base_ms;
	return ep_backoff_ms(&c, attempt, rng);
}

/* --- the retry budget ---------------------------------------------------------------- */

void ep_retry_budget_init(struct ep_retry_budget *b, double ratio, double per_s, double cap,
			  uint64_t now_ns)
{
	b->ratio = ratio;
	b->per_s = per_s;
	b->cap = cap;
	b->tokens = cap < 10 ? cap : 10; /* a few retries are allowed from the start */
	b->last_ns = now_ns;
}

static void refill(struct ep_retry_budget *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		b->tokens += b->per_s * (double)(now_ns - b->last_ns) / 1e9;
		b->last_ns = now_ns;
	}
	if (b->tokens > b->cap)
		b->tokens = b->cap;
}

void ep_retry_budget_deposit(struct ep_retry_budget *b, uint32_t frags)
{
	b->tokens += b->ratio * frags;
	if (b->tokens > b->cap)
		b->tokens = b->cap;
}

double ep_retry_allowance(const struct ep_retry_budget *b, uint32_t frags)
{
	double want = b->ratio * frags, a = (double)(uint64_t)want;

	if (a < want - 1e-9) /* ceil, without libm */
		a += 1;
	return a < 1 ? 1 : a;
}

bool ep_retry_budget_take_n(struct ep_retry_budget *b, double *allow, uint32_t n, uint64_t now_ns,
			    bool throttle)
{
	double own = allow && *allow > 0 ? *allow : 0, rest;

	refill(b, now_ns);
	if (own > n)
		own = n;
	rest = n - own;
	/* 1e-9: 100 x 0.2 must make 20 tokens, not 19.999... */
	if (throttle && rest > 0 && b->tokens < rest - 1e-9)
		return false;
	if (allow)
		*allow -= own;
	b->tokens -= rest;
	if (b->tokens < 0)
		b->tokens = 0;
	return true;
}

bool ep_retry_budget_take(struct ep_retry_budget *b, uint64_t now_ns)
{
	return ep_retry_budget_take_n(b, NULL, 1, now_ns, true);
}

/* --- pacing -------------------------------------------------------------------------- */

void ep_pacer_init(struct ep_pacer *p, double rate_bps, double burst, bool fixed, uint64_t now_ns)
{
	*p = (struct ep_pacer){ .rate_bps = rate_bps,
				.tokens = burst,
				.burst = burst,
				.last_ns = now_ns,
				.fixed = fixed,
				.win_start_ns = now_ns };
}

/* The bucket's depth: the burst, or what the rate gives in EP_PACE_TICK_NS if more (a poll
 * loop wakes about once a millisecond at best: a shallower bucket would cap the rate at
 * burst per tick, whatever the rate says). */
static double pacer_depth(const struct ep_pacer *p)
{
	double tick = p->rate_bps / 8 * (double)EP_PACE_TICK_NS / 1e9;

	return tick > p->burst ? tick : p->burst;
}

static void pacer_refill(struct ep_pacer *p, uint64_t now_ns)
{
	if (now_ns > p->last_ns) {
		p->tokens += p->rate_bps / 8 * (double)(now_ns - p->last_ns) / 1e9;
		p->last_ns = now_ns;
	}
	if (p->tokens > pacer_depth(p))
		p->tokens = pacer_depth(p);
}

/* What must be in the bucket for @bytes to go: all of them, or a full bucket when they are
 * more than it holds (the rest goes into debt), so any datagram goes some time. */
static double pacer_need(const struct ep_pacer *p, uint32_t bytes)
{
	return bytes < pacer_depth(p) ? bytes : pacer_depth(p);
}

bool ep_pacer_take(struct ep_pacer *p, uint32_t bytes, uint64_t now_ns)
{
	pacer_refill(p, now_ns);
	if (p->tokens < pacer_need(p, bytes))
		return false;
	p->tokens -= bytes;
	return true;
}

uint64_t ep_pacer_when(struct ep_pacer *p, uint32_t bytes, uint64_t now_ns)
{
	double need;

	pacer_refill(p, now_ns);
	need = pacer_need(p, bytes) - p->tokens;
	if (need <= 0)
		return now_ns;
	return now_ns + (uint64_t)(need * 8 / p->rate_bps * 1e9) + 1;
}

void ep_pacer_delivered(struct ep_pacer *p, uint64_t bytes, bool backlog, uint64_t now_ns)
{
	double rate, target;

	uint64_t span;

	/* The time the pacer held fragments back, from one report to the next. */
	if (p->backlog_now && now_ns > p->last_report_ns)
		p->win_backlog_ns += now_ns - p->last_report_ns;
	p->backlog_now = backlog;
	p->last_report_ns = now_ns;
	p->win_bytes += bytes;
	if (now_ns < p->win_start_ns + EP_PACE_WINDOW_NS)
		return;
	span = now_ns - p->win_start_ns;
	rate = (double)p->win_bytes * 8 / ((double)span / 1e9);
	target = 2 * rate;
	target = target < EP_PACE_MIN_BPS   ? EP_PACE_MIN_BPS
		 : target > EP_PACE_MAX_BPS ? EP_PACE_MAX_BPS
					    : target;
	/* Only a window the pacer held back nearly throughout measures the path; in any
	 * other the application sent in bursts and waited (frames every few tens of ms),
	 * and its delivery rate is the application's: it may raise the rate, never lower it
	 * (BBR's application-limited samples). */
	if (!p->fixed && (p->win_backlog_ns * 10 >= span * 9 || target > p->rate_bps))
		p->rate_bps = target;
	p->win_start_ns = now_ns;
	p->win_bytes = 0;
	p->win_backlog_ns = 0;
}

void ep_pacer_halve(struct ep_pacer *p)
{
	if (p->fixed)
		return;
	p->rate_bps /= 2;
	if (p->rate_bps < EP_PACE_MIN_BPS)
		p->rate_bps = EP_PACE_MIN_BPS;
}
