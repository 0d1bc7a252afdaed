// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The offload decision: a per-task cost model and a k-means batch partition (offload.h,
 * docs/offload.md). Pure functions of their arguments: no I/O, no globals, no allocation.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/offload.h"
#include "edgeplane/util.h"

static bool bad(double v)
{
	return !isfinite(v) || v < 0;
}

static bool bad_pct(double v)
{
	return bad(v) || v > 100;
}

static int check_params(const struct ep_offload_params *p)
{
	if (bad(p->margin) || p->margin >= 1 || bad(p->min_headroom) || p->min_headroom == 0 ||
	    p->min_headroom > 1 || bad(p->rttvar_k) || bad(p->default_rtt_us) ||
	    bad(p->default_bps) || bad(p->default_speedup) || p->default_speedup == 0)
		return -EINVAL;
	return 0;
}

static int check_env(const struct ep_offload_env *e)
{
	if (bad(e->srtt_us) || bad(e->rttvar_us) || bad(e->up_bps) || bad(e->down_bps) ||
	    bad(e->edge_queue_us) || bad_pct(e->edge_load_pct) || bad(e->edge_speedup) ||
	    bad_pct(e->local_load_pct))
		return -EINVAL;
	return 0;
}

static int check_task(const struct ep_offload_task *t)
{
	if (bad(t->compress_ratio) || bad(t->local_us) || bad(t->speedup) || bad(t->deadline_us) ||
	    t->priority > 5 || t->last > EP_OFFLOAD_EDGE)
		return -EINVAL;
	return 0;
}

/*
 * Time stretched by a load: a processor-sharing server at utilisation rho serves a job of
 * size S in S / (1 - rho) on average. The headroom floor keeps a saturated node finite
 * (at the default 0.05, at most 20x): the load is a coarse, sampled figure near 100 %, and
 * an edge that is really full says so (OVERLOADED), which the caller reports as edge_down.
 */
static double inflate(double us, double load_pct, double min_headroom)
{
	return us / fmax(1.0 - load_pct / 100.0, min_headroom);
}

/* Bytes over a bandwidth, in µs; false when the bandwidth is needed but unknown. */
static bool xfer_us(double bytes, double bps, double dflt, double *us)
{
	if (bytes == 0) {
		*us = 0;
		return true;
	}
	if (bps == 0)
		bps = dflt;
	if (bps == 0)
		return false;
	*us = bytes / bps * 1e6;
	return true;
}

static double wire_bytes(const struct ep_offload_task *t)
{
	double raw = (double)t->raw_bytes;

	if (t->wire_bytes)
		return fmin((double)t->wire_bytes, raw);
	if (t->compress_ratio > 0)
		return fmin(raw * t->compress_ratio, raw);
	return raw;
}

/* The edge's side of the model; false when it cannot be estimated. */
static bool edge_estimate(const struct ep_offload_env *e, const struct ep_offload_task *t,
			  const struct ep_offload_params *p, struct ep_offload_decision *d)
{
	double srtt = e->srtt_us, rttvar = e->rttvar_us;
	double speedup = t->speedup > 0	       ? t->speedup
			 : e->edge_speedup > 0 ? e->edge_speedup
					       : p->default_speedup;

	if (srtt == 0) {
		if (p->default_rtt_us == 0)
			return false;
		srtt = p->default_rtt_us;
		if (rttvar == 0)
			rttvar = srtt / 2; /* as RFC 6298 initialises RTTVAR */
	}
	if (!xfer_us(wire_bytes(t), e->up_bps, p->default_bps, &d->upload_us) ||
	    !xfer_us((double)t->result_bytes, e->down_bps, p->default_bps, &d->download_us))
		return false;
	d->rtt_us = srtt + p->rttvar_k * rttvar;
	d->queue_us = e->edge_queue_us;
	d->compute_us = inflate(t->local_us / speedup, e->edge_load_pct, p->min_headroom);
	d->edge_us = d->rtt_us + d->upload_us + d->download_us + d->queue_us + d->compute_us;
	return true;
}

/* Pick a side from two estimates: deadline first, then the hysteresis rule. */
static void choose(struct ep_offload_decision *d, const struct ep_offload_task *t, double margin)
{
	double local = d->local_us, edge = d->edge_us;
	bool was_edge, on_edge;

	if (t->deadline_us > 0) {
		bool local_ok = local <= t->deadline_us, edge_ok = edge <= t->deadline_us;

		if (local_ok != edge_ok) {
			d->where = edge_ok ? EP_OFFLOAD_EDGE : EP_OFFLOAD_LOCAL;
			d->reason =
				edge_ok ? EP_OFFLOAD_R_DEADLINE_EDGE : EP_OFFLOAD_R_DEADLINE_LOCAL;
			return;
		}
		if (!local_ok) {
			d->where = edge < local ? EP_OFFLOAD_EDGE : EP_OFFLOAD_LOCAL;
			d->reason = EP_OFFLOAD_R_DEADLINE_MISSED;
			return;
		}
	}
	/* Stay on the side the last task ran on unless the other beats it by the margin. */
	was_edge = t->last == EP_OFFLOAD_EDGE;
	on_edge =
		was_edge != ((was_edge ? local : edge) < (was_edge ? edge : local) * (1 - margin));
	d->where = on_edge ? EP_OFFLOAD_EDGE : EP_OFFLOAD_LOCAL;
	if (on_edge)
		d->reason = edge <= local ? EP_OFFLOAD_R_EDGE_FASTER : EP_OFFLOAD_R_HYSTERESIS;
	else
		d->reason = local <= edge ? EP_OFFLOAD_R_LOCAL_FASTER : EP_OFFLOAD_R_HYSTERESIS;
}

static int decide(const struct ep_offload_env *e, const struct ep_offload_task *t,
		  const struct ep_offload_params *p, struct ep_offload_decision *out)
{
	struct ep_offload_decision d = { .where = EP_OFFLOAD_LOCAL };
	int err = check_task(t);

	if (err)
		return err;
	d.local_us = inflate(t->local_us, e->local_load_pct, p->min_headroom);
	if (e->edge_down || !edge_estimate(e, t, p, &d)) {
		d = (struct ep_offload_decision){
			.where = EP_OFFLOAD_LOCAL,
			.reason = e->edge_down ? EP_OFFLOAD_R_EDGE_DOWN : EP_OFFLOAD_R_NO_ESTIMATE,
			.local_us = d.local_us,
			.edge_us = INFINITY,
		};
	} else {
		choose(&d, t, p->margin);
	}
	d.benefit_us = d.local_us - d.edge_us;
	*out = d;
	return 0;
}

int ep_offload_decide(const struct ep_offload_env *env, const struct ep_offload_task *task,
		      const struct ep_offload_params *params, struct ep_offload_decision *out)
{
	struct ep_offload_params p = params ? *params : EP_OFFLOAD_PARAMS_DEFAULT;

	if (!env || !task || !out || check_params(&p) || check_env(env))
		return -EINVAL;
	return decide(env, task, &p, out);
}

const char *ep_offload_reason_str(enum ep_offload_reason r)
{
	static const char *const names[EP_OFFLOAD_R_COUNT] = {
		[EP_OFFLOAD_R_LOCAL_FASTER] = "local faster",
		[EP_OFFLOAD_R_EDGE_FASTER] = "edge faster",
		[EP_OFFLOAD_R_HYSTERESIS] = "within hysteresis margin",
		[EP_OFFLOAD_R_DEADLINE_LOCAL] = "only local meets deadline",
		[EP_OFFLOAD_R_DEADLINE_EDGE] = "only edge meets deadline",
		[EP_OFFLOAD_R_DEADLINE_MISSED] = "deadline missed either way",
		[EP_OFFLOAD_R_EDGE_DOWN] = "edge down",
		[EP_OFFLOAD_R_NO_ESTIMATE] = "no path estimate",
		[EP_OFFLOAD_R_CAPACITY] = "edge capacity used",
	};

	return (unsigned int)r < EP_OFFLOAD_R_COUNT ? names[r] : "unknown";
}

const char *ep_offload_where_str(enum ep_offload_where w)
{
	return w == EP_OFFLOAD_EDGE ? "edge" : w == EP_OFFLOAD_LOCAL ? "local" : "unknown";
}

/* Batch partition. */

unsigned int ep_offload_k(size_t n, unsigned int k)
{
	if (!k)
		k = (unsigned int)fmax(2.0, round(sqrt((double)n / 2)));
	return n < k ? (unsigned int)n : k;
}

/* The scratch buffer, carved up: doubles first, then indices. */
struct scratch {
	double *feat;	     /* n * dim: built-in features */
	double *val;	     /* n: k-means++ distances, then task densities */
	double *cent;	     /* k * dim: centroids */
	double *sum;	     /* k * dim: their accumulators */
	unsigned int *cnt;   /* k: members; new numbers; candidates' offsets in idx */
	unsigned int *order; /* k: clusters by rank */
	unsigned int *idx;   /* n: candidate tasks grouped by cluster */
	uint8_t *state;	     /* n: NOT_CAND, CAND or TAKEN */
};

static size_t scratch_bytes(size_t n, unsigned int dim, unsigned int k)
{
	return sizeof(double) * (n * dim + n + 2 * (size_t)k * dim) +
	       sizeof(unsigned int) * (2 * (size_t)k + n) + sizeof(uint8_t) * n;
}

static void carve(struct scratch *s, void *base, size_t n, unsigned int dim, unsigned int k)
{
	s->feat = base;
	s->val = s->feat + n * dim;
	s->cent = s->val + n;
	s->sum = s->cent + (size_t)k * dim;
	s->cnt = (unsigned int *)(s->sum + (size_t)k * dim);
	s->order = s->cnt + k;
	s->idx = s->order + k;
	s->state = (uint8_t *)(s->idx + n);
}

size_t ep_offload_scratch_size(size_t n, unsigned int dim, unsigned int k)
{
	if (!dim)
		dim = EP_OFFLOAD_NFEAT;
	if (n > EP_OFFLOAD_MAX_TASKS || dim > EP_OFFLOAD_MAX_DIM || k > EP_OFFLOAD_MAX_TASKS)
		return 0;
	return scratch_bytes(n, dim, ep_offload_k(n, k));
}

/* splitmix64: a small, well-mixed generator for the seeded k-means++ draws. */
static double uniform(uint64_t *state)
{
	uint64_t z = ep_mix64(*state += 0x9e3779b97f4a7c15ULL);

	return (double)(z >> 11) * 0x1.0p-53; /* [0, 1) */
}

static double dist2(const double *a, const double *b, unsigned int dim)
{
	double s = 0;

	for (unsigned int j = 0; j < dim; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return s;
}

/*
 * k-means++ (Arthur and Vassilvitskii, 2007): the first centre uniformly at random, each
 * next one with probability proportional to its squared distance to the nearest centre
 * chosen. Stops early when every point sits on a centre. Returns the centres chosen.
 */
static unsigned int kmeanspp(const double *x, size_t n, unsigned int dim, unsigned int k,
			     uint64_t seed, double *cent, double *d2)
{
	uint64_t rng = seed;
	size_t pick = (size_t)(uniform(&rng) * (double)n);
	unsigned int c;

	memcpy(cent, x + pick * dim, dim * sizeof(*cent));
	for (size_t i = 0; i < n; i++)
		d2[i] = dist2(x + i * dim, cent, dim);
	for (c = 1; c < k; c++) {
		double total = 0, r, acc = 0;
		double *cc = cent + (size_t)c * dim;

		for (size_t i = 0; i < n; i++)
			total += d2[i];
		if (total == 0)
			break;
		r = uniform(&rng) * total;
		pick = n;
		for (size_t i = 0; i < n; i++) {
			if (d2[i] == 0)
				continue;
			pick = i; /* the last candidate, should rounding leave acc <= r */
			acc += d2[i];
			if (acc > r)
				break;
		}
		memcpy(cc, x + pick * dim, dim * sizeof(*cc));
		for (size_t i = 0; i < n; i++)
			d2[i] = fmin(d2[i], dist2(x + i * dim, cc, dim));
	}
	return c;
}

/* Lloyd's iterations; assignments in @lab. Returns the iterations run. */
static unsigned int lloyd(const double *x, size_t n, unsigned int dim, unsigned int k,
			  unsigned int max_iter, double *cent, double *sum, unsigned int *cnt,
			  unsigned int *lab, bool *converged)
{
	unsigned int it;

	for (size_t i = 0; i < n; i++)
		lab[i] = k;
	*converged = false;
	for (it = 0; it < max_iter; it++) {
		size_t changed = 0;

		for (size_t i = 0; i < n; i++) {
			unsigned int best = 0;
			double bd = dist2(x + i * dim, cent, dim);

			for (unsigned int c = 1; c < k; c++) {
				double dd = dist2(x + i * dim, cent + (size_t)c * dim, dim);

				if (dd < bd) { /* ties go to the lower cluster */
					bd = dd;
					best = c;
				}
			}
			changed += lab[i] != best;
			lab[i] = best;
		}
		if (!changed) {
			*converged = true;
			break;
		}
		memset(sum, 0, (size_t)k * dim * sizeof(*sum));
		memset(cnt, 0, k * sizeof(*cnt));
		for (size_t i = 0; i < n; i++) {
			cnt[lab[i]]++;
			for (unsigned int j = 0; j < dim; j++)
				sum[(size_t)lab[i] * dim + j] += x[i * dim + j];
		}
		for (unsigned int c = 0; c < k; c++) /* an empty cluster keeps its centre */
			for (unsigned int j = 0; cnt[c] && j < dim; j++)
				cent[(size_t)c * dim + j] = sum[(size_t)c * dim + j] / cnt[c];
	}
	return it;
}

/* Renumber clusters by first appearance, dropping empty ones. Returns the clusters left. */
static unsigned int renumber(unsigned int *lab, size_t n, unsigned int k, unsigned int *map)
{
	unsigned int next = 0;

	for (unsigned int c = 0; c < k; c++)
		map[c] = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if (map[lab[i]] == UINT32_MAX)
			map[lab[i]] = next++;
		lab[i] = map[lab[i]];
	}
	return next;
}

static void builtin_features(const struct ep_offload_task *t, size_t n, double *f)
{
	for (size_t i = 0; i < n; i++, f += EP_OFFLOAD_NFEAT) {
		f[0] = log2(1 + wire_bytes(&t[i]));
		f[1] = log2(1 + t[i].local_us);
		f[2] = t[i].priority ? t[i].priority : 3;
	}
}

/* qsort_r comparators: higher first, then lower index. */
static int by_cluster_density(const void *a, const void *b, void *arg)
{
	const struct ep_offload_cluster *cl = arg;
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	if (cl[x].density != cl[y].density)
		return cl[x].density > cl[y].density ? -1 : 1;
	return x < y ? -1 : x > y;
}

struct task_cmp {
	const double *density;
	const struct ep_offload_task *tasks;
};

static int by_task_density(const void *a, const void *b, void *arg)
{
	const struct task_cmp *tc = arg;
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;
	unsigned int px = tc->tasks[x].priority ? tc->tasks[x].priority : 3;
	unsigned int py = tc->tasks[y].priority ? tc->tasks[y].priority : 3;

	if (tc->density[x] != tc->density[y])
		return tc->density[x] > tc->density[y] ? -1 : 1;
	if (px != py)
		return px > py ? -1 : 1;
	return x < y ? -1 : x > y;
}

enum { NOT_CAND, CAND, TAKEN }; /* scratch->state of a task */

static void take(struct ep_offload_plan *plan, struct scratch *s, size_t i, double *rem)
{
	s->state[i] = TAKEN;
	plan->clusters[plan->cluster[i]].n_edge++;
	plan->n_edge++;
	plan->used_us += plan->task[i].local_us;
	*rem -= plan->task[i].local_us;
}

/* Sum up the clusters, rank them, and offer them to the edge; split the first that does
 * not fit. Candidates are the tasks the cost model alone sends to the edge. */
static void assign(const struct ep_offload_batch *b, struct ep_offload_plan *plan,
		   struct scratch *s)
{
	struct ep_offload_decision *d = plan->task;
	struct task_cmp tc = { .density = s->val, .tasks = b->tasks };
	double total = 0, rem, eps;

	memset(plan->clusters, 0, plan->nclusters * sizeof(*plan->clusters));
	for (size_t i = 0; i < b->n; i++) {
		struct ep_offload_cluster *cl = &plan->clusters[plan->cluster[i]];

		cl->n++;
		cl->local_us += d[i].local_us;
		cl->wire_bytes += wire_bytes(&b->tasks[i]);
		total += d[i].local_us;
		s->state[i] = d[i].where == EP_OFFLOAD_EDGE ? CAND : NOT_CAND;
		s->val[i] = 0;
		if (s->state[i] == CAND) {
			/* local_us > 0: an edge choice needs local >= edge * (1 - margin) > 0 */
			cl->need_us += d[i].local_us;
			cl->benefit_us += d[i].benefit_us;
			s->val[i] = d[i].benefit_us / d[i].local_us;
		}
	}
	for (unsigned int c = 0; c < plan->nclusters; c++) {
		struct ep_offload_cluster *cl = &plan->clusters[c];

		cl->density = cl->need_us > 0 ? cl->benefit_us / cl->need_us : 0;
		s->order[c] = c;
	}
	qsort_r(s->order, plan->nclusters, sizeof(*s->order), by_cluster_density, plan->clusters);

	plan->budget_us = b->capacity * total;
	rem = plan->budget_us;
	eps = 1e-9 * plan->budget_us; /* rounding between sums taken in different orders */
	/* Candidates grouped by cluster, in task order: cluster c's are idx[start(c)..cnt[c]). */
	memset(s->cnt, 0, plan->nclusters * sizeof(*s->cnt));
	for (size_t i = 0; i < b->n; i++)
		s->cnt[plan->cluster[i]] += s->state[i] == CAND;
	for (unsigned int c = 0, at = 0; c < plan->nclusters; c++) {
		unsigned int m = s->cnt[c];

		s->cnt[c] = at;
		at += m;
	}
	for (size_t i = 0; i < b->n; i++)
		if (s->state[i] == CAND)
			s->idx[s->cnt[plan->cluster[i]]++] = (unsigned int)i;

	for (unsigned int r = 0; r < plan->nclusters; r++)
		plan->clusters[s->order[r]].rank = r;
	for (unsigned int r = 0; r < plan->nclusters; r++) {
		unsigned int c = s->order[r];
		unsigned int *idx = s->idx + (c ? s->cnt[c - 1] : 0);
		size_t m = s->cnt[c] - (c ? s->cnt[c - 1] : 0);

		if (!m)
			continue;
		if (plan->clusters[c].need_us <= rem + eps) {
			for (size_t j = 0; j < m; j++)
				take(plan, s, idx[j], &rem);
			continue;
		}
		qsort_r(idx, m, sizeof(*idx), by_task_density, &tc);
		for (size_t j = 0; j < m && d[idx[j]].local_us <= rem + eps; j++)
			take(plan, s, idx[j], &rem);
		break;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (s->state[i] == CAND) {
			d[i].where = EP_OFFLOAD_LOCAL;
			d[i].reason = EP_OFFLOAD_R_CAPACITY;
		}
	}
}

static int check_batch(const struct ep_offload_batch *b, const struct ep_offload_plan *plan)
{
	if (!b || !plan || b->n > EP_OFFLOAD_MAX_TASKS || isnan(b->capacity) || b->capacity < 0 ||
	    b->capacity > 1 || (b->features && (!b->dim || b->dim > EP_OFFLOAD_MAX_DIM)))
		return -EINVAL;
	if (b->n && (!b->tasks || !plan->task || !plan->cluster || !plan->clusters))
		return -EINVAL;
	for (size_t i = 0; b->features && i < b->n * b->dim; i++)
		if (!isfinite(b->features[i]))
			return -EINVAL;
	return 0;
}

int ep_offload_partition(const struct ep_offload_env *env, const struct ep_offload_params *params,
			 const struct ep_offload_batch *b, struct ep_offload_plan *plan,
			 void *scratch, size_t scratch_len)
{
	struct ep_offload_params p = params ? *params : EP_OFFLOAD_PARAMS_DEFAULT;
	unsigned int dim, k;
	struct scratch s;
	const double *x;
	int err;

	if (!env || check_params(&p) || check_env(env) || check_batch(b, plan))
		return -EINVAL;
	plan->nclusters = 0;
	plan->iterations = 0;
	plan->converged = true;
	plan->n_edge = 0;
	plan->budget_us = 0;
	plan->used_us = 0;
	if (!b->n)
		return 0;

	dim = b->features ? b->dim : EP_OFFLOAD_NFEAT;
	k = ep_offload_k(b->n, b->k);
	if ((uintptr_t)scratch % _Alignof(double))
		return -EINVAL;
	if (!scratch || scratch_len < scratch_bytes(b->n, dim, k))
		return -ENOSPC;
	carve(&s, scratch, b->n, dim, k);

	for (size_t i = 0; i < b->n; i++) {
		err = decide(env, &b->tasks[i], &p, &plan->task[i]);
		if (err)
			return err;
	}
	if (!b->features)
		builtin_features(b->tasks, b->n, s.feat);
	x = b->features ? b->features : s.feat;

	k = kmeanspp(x, b->n, dim, k, b->seed, s.cent, s.val);
	plan->iterations = lloyd(x, b->n, dim, k, b->max_iter ? b->max_iter : EP_OFFLOAD_MAX_ITER,
				 s.cent, s.sum, s.cnt, plan->cluster, &plan->converged);
	plan->nclusters = renumber(plan->cluster, b->n, k, s.cnt);
	assign(b, plan, &s);
	return 0;
}
