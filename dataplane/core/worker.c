// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <zstd.h>

#include "core/batch.h"
#include "core/keys.h"
#include "core/task.h"
#include "core/token.h"
#include "core/worker.h"
#include "edgeplane/fcodec.h"
#include "edgeplane/log.h"
#include "lib/gcra.h"

#define RX_BURST	64
#define EXPIRE_EVERY_NS (50 * 1000 * 1000ull)
#define IDLE_WAIT_MS	100
#define TX_RETRY_NS	(20 * 1000 * 1000ull)
#define DRAIN_TX_NS	(2000 * 1000 * 1000ull)
#define DRAIN_RX_NS	(500 * 1000 * 1000ull)
/* High-priority work counts as under way this long after its last datagram: meanwhile
 * low-priority batches run one task at a time. */
#define HIGH_ACTIVE_NS	(100 * 1000 * 1000ull)

struct ep_worker {
	struct ep_worker_cfg cfg;
	const struct ep_registry *reg;
	struct ep_io_q *io;
	const struct ep_io_ops *ops;
	unsigned int id;
	volatile int stop;

	void *states[EP_MAX_HANDLERS];
	bool states_ready;
	struct ep_reasm *reasm;
	uint32_t running; /* tasks in the handler call under way */
	struct ep_cache *cache;
	struct ep_batch *batch;
	ZSTD_DCtx *dctx;
	ZSTD_CCtx *cctx;
	struct ep_fc_dec *fdec; /* frame-coded tasks (EP_F_FRAME) */

	struct ep_task *pool, *free_tasks;
	uint32_t nfree;
	uint64_t held; /* bytes of heap payloads queued or running */

	/* Handler outputs for one batch, and the compressed form of one reply. */
	uint8_t *arena;
	uint8_t *zbuf;
	size_t zcap;
	int task_wlog, result_wlog; /* zstd window limits: tasks, our cached results */

	struct ep_task **run; /* batch being run */
	struct ep_hreq *req;
	struct ep_hres *res;

	uint64_t next_expire_ns;
	uint64_t high_until_ns;	       /* high-priority work under way until then */
	struct ep_token *tok;	       /* address validation; NULL with validation off */
	struct ep_keytab_reader *keys; /* device authentication; NULL with auth.mode off */
	struct ep_worker_stats st;
};

static struct ep_type_stats *type_stats(struct ep_worker *w, int hidx)
{
	return &w->st.type[hidx >= 0 ? hidx : EP_MAX_HANDLERS];
}

static uint8_t load_pct(const struct ep_worker *w)
{
	return (uint8_t)(100u * (w->cfg.queue_depth - w->nfree) / w->cfg.queue_depth);
}

/* A reply of @kind with @flags to @req: the request's identity (priority, type, tenant,
 * task id) echoed, and this worker's load. */
static struct ep_msg reply_to(const struct ep_worker *w, const struct ep_msg *req, uint8_t kind,
			      uint8_t flags)
{
	return (struct ep_msg){
		.kind = kind,
		.priority = req->priority,
		.flags = flags,
		.task_type = req->task_type,
		.tenant_id = req->tenant_id,
		.task_id = req->task_id,
		.load_pct = load_pct(w),
	};
}

/* What a handler sees of task @m: its @len bytes at @data and its identity. */
static struct ep_hreq hreq_of(const struct ep_msg *m, const uint8_t *data, uint32_t len)
{
	return (struct ep_hreq){
		.data = data,
		.len = len,
		.type = m->task_type,
		.priority = m->priority,
		.tenant_id = m->tenant_id,
		.task_id = m->task_id,
	};
}

static uint32_t sat_us(uint64_t ns)
{
	uint64_t us = ns / 1000;

	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* --- device authentication (docs/protocol.md 3.5) ------------------------------------ */

static const char *const auth_drop_names[] = {
#define EP_X_NAME(name, str) str,
	EP_AUTH_DROP_LIST(EP_X_NAME)
#undef EP_X_NAME
};

const char *ep_auth_drop_name(unsigned int r)
{
	return r < EP_AUTH_DROP__COUNT ? auth_drop_names[r] : "?";
}

/* Whether the replies to @req are sealed: it came with AUTH, and passed auth_check(). */
static bool sealed(const struct ep_worker *w, const struct ep_msg *req)
{
	return w->keys && (req->flags & EP_F_AUTH);
}

/* Whose task @m is, beside its source and task id, for the result cache and reassembly:
 * its key's id if it came with AUTH, 0 if not. A task id of key A is never answered to
 * key B, nor to a source without a key, nor the other way. */
static uint16_t key_of(const struct ep_msg *m)
{
	return m->flags & EP_F_AUTH ? m->auth_key_id : 0;
}

/*
 * The key's buckets, as the classifier charges them (bpf/lib/auth.h) where there is none
 * (cfg.key_rates): the datagram's bytes as XDP would count its frame (Ethernet, IP without
 * options, UDP), then a task for a request's fragment 0. Returns EP_AUTH_DROP__COUNT if
 * admitted.
 */
static enum ep_auth_drop key_rates(const struct ep_key *k, const struct ep_dgram *d,
				   const struct ep_msg *m, uint64_t now)
{
	uint64_t frame = d->len + 14 + (d->peer.family == AF_INET6 ? 40 : 20) + 8;

	if (!ep_key_take_bytes(ep_key_buckets(k), &k->xdp, frame, now))
		return EP_AUTH_DROP_RATE_BYTES;
	if (m->kind == EP_KIND_REQUEST && !m->frag_index &&
	    !ep_key_take_task(ep_key_buckets(k), &k->xdp, now))
		return EP_AUTH_DROP_RATE_TASKS;
	return EP_AUTH_DROP__COUNT;
}

/*
 * The checks of docs/protocol.md 3.5 on an AUTH datagram @d, decoded into @m, before
 * anything else is done with it: the key (known, not revoked, not expired), the tenant,
 * the role's limits on a request (type, priority, size), the key's buckets (only with
 * cfg.key_rates: else the classifier charged them), the freshness of the pn, the sender (a
 * device's), the tag, and last the key's replay window, marked only once the tag
 * verified. So a forged datagram under a good key id costs one tag check at most, and the
 * key's rate bounds how many of those there are. The payload is decrypted in place: the receive
 * buffer is the worker's until it releases it (io/io.h). A PING's or CANCEL's priority is lowered
 * to the role's. Returns true, or false with the reason in *why.
 */
static bool auth_check(struct ep_worker *w, const struct ep_dgram *d, struct ep_msg *m,
		       uint64_t now, enum ep_auth_drop *why)
{
	const struct ep_key *k = ep_keytab_get(w->cfg.keys, m->auth_key_id);
	const struct ep_key_limits *l;
	uint8_t max_prio;
	struct ep_aead *a;
	uint32_t sender;
	uint64_t pn;

	if (!k)
		*why = EP_AUTH_DROP_UNKNOWN_KEY;
	else if (k->info.revoked)
		*why = EP_AUTH_DROP_REVOKED;
	else if (ep_key_expired(k, now))
		*why = EP_AUTH_DROP_EXPIRED;
	else if (m->tenant_id != k->info.tenant)
		*why = EP_AUTH_DROP_TENANT;
	else
		*why = EP_AUTH_DROP__COUNT;
	if (*why != EP_AUTH_DROP__COUNT)
		return false;
	/* The role's priority ceiling holds for every kind, as in the classifier (a PING or
	 * CANCEL is steered and queued by its priority too); a max_priority of 0 (a node's own
	 * key) allows nothing. Its max_task_len of 0 sets no limit of its own. */
	l = &k->info.lim;
	max_prio = l->max_priority;
	if (!max_prio || m->priority > max_prio)
		*why = EP_AUTH_DROP_PRIORITY;
	else if (m->kind == EP_KIND_REQUEST) {
		if (!ep_key_type_allowed(l, m->task_type))
			*why = EP_AUTH_DROP_TYPE;
		else if (l->max_task_len && m->total_len > l->max_task_len)
			*why = EP_AUTH_DROP_TOO_LARGE;
	}
	if (*why == EP_AUTH_DROP__COUNT && w->cfg.key_rates)
		*why = key_rates(k, d, m, now);
	if (*why != EP_AUTH_DROP__COUNT)
		return false;
	if (!ep_key_fresh(k, m->auth_pn, now, w->cfg.clock_skew_s))
		*why = EP_AUTH_DROP_STALE;
	else if (m->auth_sender != EP_AUTH_SENDER_DEVICE)
		*why = EP_AUTH_DROP_SENDER;
	else if (!(a = ep_keytab_aead(w->keys, k)))
		*why = EP_AUTH_DROP_NO_MEMORY;
	else if (ep_aead_open(a, (uint8_t *)d->data, d->len, &sender, &pn))
		*why = EP_AUTH_DROP_BAD_TAG;
	else if (ep_key_replay(k, pn))
		*why = EP_AUTH_DROP_REPLAY;
	return *why == EP_AUTH_DROP__COUNT;
}

/* The context that seals replies under key @id, and the node's id in *node: NULL when the
 * key was revoked, expired or removed since the task came (then the reply is not sent),
 * or no context can be made. */
static struct ep_aead *reply_key(struct ep_worker *w, uint16_t id, uint32_t *node)
{
	const struct ep_key *k = ep_keytab_get(w->cfg.keys, id);

	*node = ep_keytab_node_id(w->cfg.keys);
	if (!k || k->info.revoked || ep_key_expired(k, ep_now_ns()) || !*node)
		return NULL;
	return ep_keytab_aead(w->keys, k);
}

/* --- address validation ------------------------------------------------------------ */

static uint64_t unix_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Whether @m (from @peer) carries a valid address-validation token; with validation off
 * every source counts as validated. */
static bool validated(struct ep_worker *w, const struct ep_peer *peer, const struct ep_msg *m)
{
	if (w->cfg.validation == EP_VALIDATE_OFF)
		return true;
	if (!(m->flags & EP_F_TOKEN) || !w->tok)
		return false;
	if (ep_token_verify(w->tok, peer->addr, peer->port, m->auth_key_id, m->auth_tag,
			    unix_s())) {
		w->st.tokens_accepted++;
		return true;
	}
	w->st.tokens_refused++;
	return false;
}

/* Whether the AUTH datagram @m (its key checked) comes from the address its key was
 * enrolled from: the controller wrote there the peer of the device's TLS connection, which
 * the TCP handshake proved receives at it. Any port (a NAT may change it). A key without an
 * address (a keys file's) has no such address. */
static bool from_key_addr(const struct ep_worker *w, const struct ep_peer *peer,
			  const struct ep_msg *m)
{
	const struct ep_key *k = ep_keytab_get(w->cfg.keys, m->auth_key_id);

	return k && k->info.has_addr && !memcmp(k->info.addr, peer->addr, sizeof(peer->addr));
}

/* Whether @m's source counts as validated (docs/protocol.md 3.5, 3.7): an authenticated
 * datagram from its key's enrolled address, or a valid token (with validation off, every
 * source). An authenticated datagram from elsewhere is as unvalidated as any: its source
 * may be forged (the key's holder can seal fresh requests with another address on them),
 * and an AUTH datagram carries no token. */
static bool source_valid(struct ep_worker *w, const struct ep_peer *peer, const struct ep_msg *m)
{
	if (sealed(w, m) && from_key_addr(w, peer, m))
		return true;
	return validated(w, peer, m);
}

/* UDP payload bytes before the payload of each datagram of @m: the header, and an AUTH
 * datagram's nonce. */
static uint32_t dgram_overhead(const struct ep_msg *m)
{
	return EP_HDR_LEN + (m->flags & EP_F_AUTH ? EP_AUTH_NONCE_LEN : 0);
}

/* What a source that sent @bytes (UDP payload) may get back: EP_AMP_FACTOR times as much
 * until it is validated. */
static uint64_t budget_of(const struct ep_worker *w, bool valid, uint64_t bytes)
{
	if (valid || w->cfg.validation == EP_VALIDATE_OFF)
		return EP_BUDGET_NONE;
	return EP_AMP_FACTOR * bytes;
}

/* The fragment size of a reply to @req: the node's MTU, or the smaller one the client asked
 * for in reply_mtu (in 64-byte units; below 9 counts as 9). */
static uint32_t reply_frag_size(const struct ep_worker *w, const struct ep_msg *req,
				const struct ep_route *r)
{
	uint32_t mtu = w->cfg.mtu;

	if (req->reply_mtu) {
		uint32_t want =
			(req->reply_mtu < EP_REPLY_MTU_MIN ? EP_REPLY_MTU_MIN : req->reply_mtu) *
			EP_REPLY_MTU_UNIT;

		if (want < mtu)
			mtu = want;
	}
	return ep_frag_size_for(mtu, r->ipv6, sealed(w, req) ? EP_F_AUTH : 0);
}

/* UDP payload bytes of a reply to @req of @len payload bytes in fragments of @fs (a sealed
 * one's nonces included). */
static uint64_t reply_bytes(const struct ep_worker *w, const struct ep_msg *req, uint32_t len,
			    uint32_t fs)
{
	uint32_t count = ep_frag_count(len, fs);
	uint64_t hdr = EP_HDR_LEN + (sealed(w, req) ? EP_AUTH_NONCE_LEN : 0);

	return count ? (uint64_t)len + hdr * count : UINT64_MAX;
}

/* --- replies ------------------------------------------------------------------------ */

/* Send @m with @len bytes of @data in fragments of @fs, each sealed if @m has AUTH (with
 * its key, as this node: the node's id and its next pn), except the fragments @skip lists
 * (NULL: none; a RESULT_ACK's, docs/protocol.md 5.1). Returns 0, or -ENOBUFS if a
 * fragment found no TX buffer even after flushing (the client will retry). */
static int transmit_acked(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
			  const struct ep_msg *m, const uint8_t *data, uint32_t len, uint32_t fs,
			  const struct ep_ack *skip)
{
	uint32_t count = ep_frag_count(len, fs), node = 0;
	struct ep_aead *a = NULL;

	if ((m->flags & EP_F_AUTH) && !(a = reply_key(w, m->auth_key_id, &node))) {
		w->st.auth_replies_dropped += count - (skip ? ep_ack_held(skip) : 0);
		return 0;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint64_t give_up = 0;
		uint32_t cap;
		uint8_t *buf;
		ssize_t n;

		if (skip && ep_ack_has(skip, (uint16_t)i))
			continue;

		while (!(buf = w->ops->tx_buf(w->io, &cap))) {
			uint64_t now = ep_now_ns();

			w->ops->flush(w->io);
			if (!give_up)
				give_up = now + TX_RETRY_NS;
			else if (now > give_up) {
				w->st.reply_dropped += count - i;
				return -ENOBUFS;
			}
		}
		n = ep_frag_build(m, data, len, fs, i, buf, cap);
		if (n < 0) { /* cannot happen with a validated MTU; never leak */
			w->ops->tx_abort(w->io);
			w->st.reply_dropped++;
			continue;
		}
		if (a && ep_aead_seal(a, node, ep_keytab_next_pn(w->cfg.keys), buf, (size_t)n)) {
			w->ops->tx_abort(w->io);
			w->st.auth_replies_dropped++;
			continue;
		}
		if (w->ops->tx_commit(w->io, r, peer, (uint32_t)n))
			w->st.reply_dropped++;
	}
	return 0;
}

static int transmit(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
		    const struct ep_msg *m, const uint8_t *data, uint32_t len, uint32_t fs)
{
	return transmit_acked(w, peer, r, m, data, len, fs, NULL);
}

static int send_reply(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
		      const struct ep_msg *req, uint8_t kind, uint16_t status, uint8_t flags,
		      const uint8_t *data, uint32_t len, uint32_t queue_us, uint32_t exec_us,
		      uint64_t budget);

#define EP_UNBOUND_TEXT                                                   \
	"reply larger than 3x the request to an address the key was not " \
	"enrolled from; enroll from this address"

/*
 * RETRY: "validate your address". Echoes the request's identity and carries a fresh token
 * for @peer; 64 bytes, so within any budget (every datagram that triggers one has at least
 * 64). The client sends the task again with the token.
 *
 * An AUTH request gets no RETRY (its client takes no unsealed reply, and a token is no use
 * to it): it gets a sealed UNAUTHORIZED instead, within @budget (its text cut to fit), which
 * says that the reply is refused to this address, not the key's enrolled one; the client
 * enrolls again from here (docs/protocol.md 3.5).
 */
static void send_retry(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
		       const struct ep_msg *req, uint64_t budget)
{
	struct ep_msg m = reply_to(w, req, EP_KIND_RETRY, EP_F_TOKEN);

	if (sealed(w, req)) {
		type_stats(w, ep_registry_find(w->reg, req->task_type))
			->errors[EP_ST_UNAUTHORIZED]++;
		send_reply(w, peer, r, req, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, 0,
			   (const uint8_t *)EP_UNBOUND_TEXT, sizeof(EP_UNBOUND_TEXT) - 1, 0, 0,
			   budget);
		return;
	}
	if (!w->tok ||
	    ep_token_issue(w->tok, peer->addr, peer->port, unix_s(), &m.auth_key_id, m.auth_tag)) {
		w->st.reply_dropped++;
		return;
	}
	if (!transmit(w, peer, r, &m, NULL, 0, reply_frag_size(w, req, r)))
		w->st.retries_sent++;
}

#define EP_REPLY_RETRIED 1 /* send_reply(): a RETRY went instead (over budget) */

/*
 * Send one reply (RESPONSE if @status is 0, else ERROR, or PONG) to @req, fragmented to
 * the MTU (or the client's reply_mtu). @flags are the payload's (ZSTD if @data is
 * compressed). @budget: the reply bytes (UDP payload, headers and nonces included) an
 * unvalidated source may get; a RESPONSE over it is replaced by a RETRY (for an AUTH
 * request, a sealed UNAUTHORIZED: send_retry()) and returns EP_REPLY_RETRIED, an ERROR's
 * text is cut to fit. Returns 0, -EMSGSIZE (too many fragments), or -ENOBUFS if a fragment
 * found no TX buffer even after flushing (the client will retry).
 */
static int send_reply(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
		      const struct ep_msg *req, uint8_t kind, uint16_t status, uint8_t flags,
		      const uint8_t *data, uint32_t len, uint32_t queue_us, uint32_t exec_us,
		      uint64_t budget)
{
	struct ep_msg m = reply_to(w, req, kind, flags);
	uint32_t fs = reply_frag_size(w, req, r);
	uint64_t bytes = reply_bytes(w, req, len, fs);
	uint32_t hdr = EP_HDR_LEN + (sealed(w, req) ? EP_AUTH_NONCE_LEN : 0);

	m.status = status;
	m.queue_us = queue_us;
	m.exec_us = exec_us;

	if (sealed(w, req)) { /* with the request's key, within the same budget */
		m.flags |= EP_F_AUTH;
		m.auth_key_id = req->auth_key_id;
	}
	if (!ep_frag_count(len, fs))
		return -EMSGSIZE;
	if (bytes > budget) {
		if (kind == EP_KIND_RESPONSE) {
			send_retry(w, peer, r, req, budget);
			return EP_REPLY_RETRIED;
		}
		if (budget < hdr) { /* cannot happen: a trigger has at least as many bytes */
			w->st.reply_dropped++;
			return 0;
		}
		/* An ERROR (one fragment: its text is short) keeps what fits of its text. */
		len = len < budget - hdr ? len : (uint32_t)(budget - hdr);
		w->st.replies_cut++;
	}
	return transmit(w, peer, r, &m, data, len, fs);
}

/* An ERROR reply. @cache is the task's result cache handle (EP_CACHE_NONE if it was
 * refused before it had one): final answers are remembered for retries, retriable ones
 * are not. @budget as for send_reply(). */
static void send_error_text(struct ep_worker *w, const struct ep_peer *peer,
			    const struct ep_route *r, const struct ep_msg *req, int hidx,
			    uint16_t status, const char *text, size_t text_max, uint64_t cache,
			    uint64_t budget)
{
	uint32_t len = text ? (uint32_t)strnlen(text, text_max) : 0;

	type_stats(w, hidx)->errors[status < EP_ST__COUNT ? status : EP_ST_INTERNAL]++;
	send_reply(w, peer, r, req, EP_KIND_ERROR, status, 0, (const uint8_t *)text, len, 0, 0,
		   budget);
	if (ep_status_retriable(status))
		ep_cache_forget(w->cache, cache);
	else
		ep_cache_complete(w->cache, cache,
				  &(struct ep_cached){ .status = status,
						       .data = (const uint8_t *)text,
						       .len = len,
						       .frag_size = reply_frag_size(w, req, r) },
				  ep_now_ns());
}

static void send_error(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
		       const struct ep_msg *req, int hidx, uint16_t status, const char *text,
		       uint64_t cache, uint64_t budget)
{
	send_error_text(w, peer, r, req, hidx, status, text, 256, cache, budget);
}

/* Compress @len bytes of result if that makes them smaller, unless the request said
 * PLAIN_REPLY; returns the bytes to send. */
static const uint8_t *maybe_compress(struct ep_worker *w, const struct ep_msg *req,
				     const uint8_t *data, uint32_t *len, uint8_t *flags)
{
	size_t n;

	*flags = 0;
	if (!w->cfg.reply_zstd_level || (req->flags & EP_F_PLAIN_REPLY) ||
	    *len < w->cfg.reply_zstd_min || *len > w->zcap)
		return data;
	/* Level and content checksum were set on the context at its creation (compress2
	 * keeps them; ZSTD_compressCCtx() would reset them). */
	n = ZSTD_compress2(w->cctx, w->zbuf, w->zcap, data, *len);
	if (ZSTD_isError(n) || n >= *len)
		return data;
	w->st.replies_compressed++;
	*len = (uint32_t)n;
	*flags = EP_F_ZSTD;
	return w->zbuf;
}

/* --- tasks -------------------------------------------------------------------------- */

static void task_release(struct ep_worker *w, struct ep_task *t)
{
	if (t->io_handle != EP_NO_HANDLE)
		w->ops->release(w->io, t->io_handle);
	if (t->owned)
		w->held -= t->len;
	free(t->owned);
	t->io_handle = EP_NO_HANDLE;
	t->owned = NULL;
	t->next = w->free_tasks;
	w->free_tasks = t;
	w->nfree++;
}

/*
 * Decompress a ZSTD payload into a heap buffer, never beyond @limit (max_task_len, or an
 * AUTH task's role's if smaller): a frame that declares or produces more is refused (a
 * decompression bomb gets TOO_LARGE, not memory). Returns 0 or an EP_ST_* status.
 */
static uint16_t decompress(struct ep_worker *w, const uint8_t *in, uint32_t len, uint32_t limit,
			   uint8_t **out, uint32_t *out_len)
{
	unsigned long long size = ZSTD_getFrameContentSize(in, len);
	size_t cap, n;
	uint8_t *buf;

	if (size == ZSTD_CONTENTSIZE_ERROR)
		return EP_ST_DECOMPRESS_FAILED;
	if (size != ZSTD_CONTENTSIZE_UNKNOWN && size > limit)
		return EP_ST_TOO_LARGE;
	/* All payloads this worker holds stay within held_bytes: a burst of small frames
	 * that each inflate to max_task_len must not take the host's memory. */
	if (w->held + (size != ZSTD_CONTENTSIZE_UNKNOWN ? size : 64 * 1024) > w->cfg.held_bytes)
		return EP_ST_OVERLOADED;
	cap = size != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)size : 64 * 1024;
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return EP_ST_OVERLOADED;
	if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
		n = ZSTD_decompressDCtx(w->dctx, buf, cap, in, len);
		if (ZSTD_isError(n) || n != size) {
			free(buf);
			return EP_ST_DECOMPRESS_FAILED;
		}
	} else {
		ZSTD_inBuffer ib = { in, len, 0 };
		ZSTD_outBuffer ob = { buf, cap, 0 };

		ZSTD_DCtx_reset(w->dctx, ZSTD_reset_session_only);
		for (;;) {
			n = ZSTD_decompressStream(w->dctx, &ob, &ib);
			if (ZSTD_isError(n)) {
				free(buf);
				return EP_ST_DECOMPRESS_FAILED;
			}
			if (n == 0)
				break;
			if (ib.pos == ib.size && ob.pos < ob.size) { /* truncated frame */
				free(buf);
				return EP_ST_DECOMPRESS_FAILED;
			}
			if (ob.pos == ob.size) {
				uint8_t *nb;

				if (ob.size >= limit) {
					free(buf);
					return EP_ST_TOO_LARGE;
				}
				if (w->held + ob.size * 2 > w->cfg.held_bytes) {
					free(buf);
					return EP_ST_OVERLOADED;
				}
				ob.size = ob.size * 2 > limit ? limit : ob.size * 2;
				nb = realloc(buf, ob.size);
				if (!nb) {
					free(buf);
					return EP_ST_OVERLOADED;
				}
				ob.dst = buf = nb;
			}
		}
		size = ob.pos;
	}
	w->st.bytes_decompressed_in += len;
	w->st.bytes_decompressed_out += size;
	*out = buf;
	*out_len = (uint32_t)size;
	return 0;
}

/*
 * Decode a frame-coded payload (EP_F_FRAME, edgeplane/fcodec.h) into a heap buffer, never
 * beyond @limit, and only within the error its task type accepts (@max_error, the
 * handler's option). Returns 0 or an EP_ST_* status, with *text for the client.
 */
static uint16_t frame_decode(struct ep_worker *w, const uint8_t *in, uint32_t len, uint32_t limit,
			     unsigned int max_error, uint8_t **out, uint32_t *out_len,
			     const char **text)
{
	unsigned int k;
	uint32_t size;
	uint8_t *buf;

	if (ep_fc_peek(in, len, &size, &k)) {
		*text = "not a frame-codec payload";
		return EP_ST_DECOMPRESS_FAILED;
	}
	if (k > max_error) {
		*text = "frame coded with a larger error than this task type accepts (max_error)";
		return EP_ST_INVALID_INPUT;
	}
	if (size > limit)
		return EP_ST_TOO_LARGE;
	if (w->held + size > w->cfg.held_bytes)
		return EP_ST_OVERLOADED;
	buf = malloc(size);
	if (!buf)
		return EP_ST_OVERLOADED;
	if (ep_fc_decode(w->fdec, in, len, buf, size)) {
		free(buf);
		*text = "the frame-coded payload does not decode";
		return EP_ST_DECOMPRESS_FAILED;
	}
	w->st.bytes_decompressed_in += len;
	w->st.bytes_decompressed_out += size;
	*out = buf;
	*out_len = size;
	return 0;
}

/*
 * Checks before a task is queued: the work it asks for (limits.max_work), and, for a
 * source that has not validated its address, whether its answer could exceed its budget
 * (or, in "always" mode, any answer at all): then it gets RETRY and neither runs nor is
 * remembered. Returns 0, an EP_ST_* status (with *text), or -EAGAIN for RETRY.
 */
static int pre_run_check(struct ep_worker *w, const struct ep_msg *m, const struct ep_route *r,
			 int hidx, const uint8_t *data, uint32_t len, bool valid, uint64_t budget,
			 const char **text)
{
	const struct ep_handler *h = w->reg->e[hidx].h;
	void *state = w->states[hidx];
	struct ep_hreq rq = hreq_of(m, data, len);
	uint32_t need;

	if (w->cfg.max_work && ep_handler_work(h, state, &rq) > w->cfg.max_work) {
		*text = "the task asks for more work than this node's limit (limits.max_work)";
		return EP_ST_TOO_LARGE;
	}
	if (valid || w->cfg.validation == EP_VALIDATE_OFF)
		return 0;
	/* Above the result limit it gets a (small) TOO_LARGE when its batch runs. */
	need = h->out_size(state, &rq);
	if (need <= w->cfg.max_result_len &&
	    reply_bytes(w, m, need, reply_frag_size(w, m, r)) > budget)
		return -EAGAIN;
	return 0;
}

/* Whether the zstd (or frame-coded) payload of task @m (@len bytes) declares what it
 * inflates to, and at most EP_AMP_FACTOR times the bytes the task's datagrams brought. A
 * payload that is no zstd frame at all fits: decompress() refuses it at once. */
static bool inflate_fits(const uint8_t *data, uint32_t len, const struct ep_msg *m)
{
	unsigned long long size = ZSTD_getFrameContentSize(data, len);

	if (m->flags & EP_F_FRAME) { /* a frame-coded payload says its size in its header */
		uint32_t n;
		unsigned int k;

		if (ep_fc_peek(data, len, &n, &k))
			return true;
		size = n;
	}
	if (size == ZSTD_CONTENTSIZE_ERROR)
		return true;
	return size != ZSTD_CONTENTSIZE_UNKNOWN &&
	       size <= EP_AMP_FACTOR * ((uint64_t)m->total_len +
					(uint64_t)dgram_overhead(m) * m->frag_count);
}

/* A complete task's payload: in a receive buffer (@handle) or a heap buffer (@owned). */
struct task_payload {
	const uint8_t *data;
	uint32_t len;
	uint64_t handle;
	void *owned;
};

/* Give @p's buffer back: the receive buffer to the backend, or the heap buffer. */
static void payload_release(struct ep_worker *w, struct task_payload *p)
{
	if (p->handle != EP_NO_HANDLE)
		w->ops->release(w->io, p->handle);
	free(p->owned);
	p->handle = EP_NO_HANDLE;
	p->owned = NULL;
}

/*
 * Whether task @m must get RETRY before anything is done for it. Nothing is done for a
 * source that has not validated its address before it could cost more than it brought: in
 * "always" mode every such task gets RETRY first, and a zstd payload that does not say
 * what it inflates to, or says more than EP_AMP_FACTOR times what came, is not
 * decompressed for it (the node's own frames always carry their size; so do
 * libedgeplane's). Not for an authenticated task from an address its key was not enrolled
 * from: its work is its key's, within the role's rates and largest task; only its replies
 * are held to the budget.
 */
static bool retry_first(struct ep_worker *w, const struct ep_msg *m, const struct task_payload *p,
			bool valid)
{
	return !valid && w->cfg.validation != EP_VALIDATE_OFF && !sealed(w, m) &&
	       (w->cfg.validation == EP_VALIDATE_ALWAYS ||
		((m->flags & (EP_F_ZSTD | EP_F_FRAME)) && !inflate_fits(p->data, p->len, m)));
}

/*
 * A compressed or frame-coded payload, decoded into a heap buffer that replaces @p's.
 * Returns 0 or the status to answer with (*@text: its message, if any).
 */
static uint16_t payload_decode(struct ep_worker *w, const struct ep_msg *m, int hidx,
			       struct task_payload *p, const char **text)
{
	uint32_t plain_len, limit = w->cfg.max_task_len;
	uint8_t *plain;
	uint16_t status;

	/* An AUTH task is at most its role's largest once decompressed too: the classifier
	 * and auth_check() could only check total_len, its compressed size. */
	if (sealed(w, m)) {
		const struct ep_key *k = ep_keytab_get(w->cfg.keys, m->auth_key_id);

		if (k && k->info.lim.max_task_len && k->info.lim.max_task_len < limit)
			limit = k->info.lim.max_task_len;
	}
	if (m->flags & EP_F_FRAME)
		status = frame_decode(w, p->data, p->len, limit, w->reg->e[hidx].max_error, &plain,
				      &plain_len, text);
	else
		status = decompress(w, p->data, p->len, limit, &plain, &plain_len);
	if (status == EP_ST_TOO_LARGE && limit < w->cfg.max_task_len)
		*text = "decompressed, the task is larger than its key's role allows "
			"(max_task_len)";
	if (status)
		return status;
	payload_release(w, p);
	p->data = p->owned = plain;
	p->len = plain_len;
	return 0;
}

/* A free task slot for a task of @priority: when there is none, a queued task of a lower
 * priority is shed to make one. Returns 0, or EP_ST_OVERLOADED. */
static uint16_t make_room(struct ep_worker *w, uint8_t priority)
{
	struct ep_task *t;

	if (w->free_tasks)
		return 0;
	t = ep_batch_shed(w->batch, priority);
	if (!t)
		return EP_ST_OVERLOADED;
	w->st.shed++;
	send_error(w, &t->peer, &t->route, &t->msg, t->hidx, EP_ST_OVERLOADED,
		   "shed for a higher priority", t->cache, t->budget);
	task_release(w, t);
	return 0;
}

/* Task @m into a free slot (make_room() made sure of one) and onto its queue. */
static void queue_task(struct ep_worker *w, const struct ep_msg *m, const struct ep_peer *peer,
		       const struct ep_route *r, int hidx, const struct task_payload *p,
		       uint64_t budget, uint64_t cache, uint64_t start_ns, uint64_t now)
{
	struct ep_task *t = w->free_tasks;

	w->free_tasks = t->next;
	w->nfree--;
	t->msg = *m;
	t->peer = *peer;
	t->route = *r;
	t->data = p->data;
	t->len = p->len;
	t->hidx = (uint16_t)hidx;
	t->io_handle = p->handle;
	t->owned = p->owned;
	t->budget = budget;
	if (p->owned)
		w->held += p->len;
	t->cache = cache;
	t->start_ns = start_ns;
	w->st.prio_tasks[m->priority <= EP_PRIO_MAX ? m->priority : 0]++;
	ep_batch_push(w->batch, t, now);
}

/*
 * The checks of a complete task of handler @hidx, before it may queue: its type, its
 * payload decoded (which may replace @p's buffer), its limits, the memory held for
 * reassembled tasks, a free slot. Returns 0, -EAGAIN (RETRY first), or the status to
 * answer with.
 */
static int admit_task(struct ep_worker *w, const struct ep_msg *m, const struct ep_route *r,
		      int hidx, struct task_payload *p, bool valid, uint64_t budget,
		      const char **text)
{
	int ret;

	if (hidx < 0)
		return EP_ST_UNKNOWN_TYPE;
	if ((m->flags & EP_F_AUTH) && !w->keys)
		return EP_ST_UNSUPPORTED; /* auth.mode off: no keys here */
	if (m->flags & (EP_F_ZSTD | EP_F_FRAME)) {
		ret = payload_decode(w, m, hidx, p, text);
		if (ret)
			return ret;
	}
	ret = pre_run_check(w, m, r, hidx, p->data, p->len, valid, budget, text);
	if (ret)
		return ret;
	if (p->owned && w->held + p->len > w->cfg.held_bytes)
		return EP_ST_OVERLOADED; /* a reassembled task over the budget */
	return make_room(w, m->priority);
}

/*
 * A complete task: find its handler, decompress, check, and queue it. @data is either in a
 * receive buffer (@handle) or a heap buffer (@owned); both are released here on refusal.
 * @valid: a datagram of the task carried a valid address-validation token. @start_ns: the
 * arrival of its first fragment, from which its deadline counts.
 */
static void accept_task(struct ep_worker *w, const struct ep_msg *m, const struct ep_peer *peer,
			const struct ep_route *r, const uint8_t *data, uint32_t len,
			uint64_t handle, void *owned, bool valid, uint64_t start_ns, uint64_t now)
{
	struct task_payload p = { .data = data, .len = len, .handle = handle, .owned = owned };
	int hidx = ep_registry_find(w->reg, m->task_type);
	uint64_t cache = EP_CACHE_NONE;
	struct ep_cache_ident ident;
	/* What the task sent: every fragment with its header (and nonce). */
	uint64_t budget = budget_of(
		w, valid, (uint64_t)m->total_len + (uint64_t)dgram_overhead(m) * m->frag_count);
	const char *text = NULL;
	int status;

	if (retry_first(w, m, &p, valid))
		goto retry;
	/* The result cache binds the task to its payload as received (before decompression). */
	ep_cache_ident_task(&ident, m, data);
	ep_cache_ident_hash(w->cache, &ident);
	type_stats(w, hidx)->received++;
	status = admit_task(w, m, r, hidx, &p, valid, budget, &text);
	if (status == -EAGAIN)
		goto retry;
	if (!status) {
		/* No entry when every one is pending: refused rather than forgetting one. */
		cache = ep_cache_begin(w->cache, peer, key_of(m), m->task_id, &ident, now);
		if (cache == EP_CACHE_NONE)
			status = EP_ST_OVERLOADED;
	}
	if (status) {
		send_error(w, peer, r, m, hidx, (uint16_t)status, text, EP_CACHE_NONE, budget);
		payload_release(w, &p);
		return;
	}
	queue_task(w, m, peer, r, hidx, &p, budget, cache, start_ns, now);
	return;

retry:
	send_retry(w, peer, r, m, budget);
	payload_release(w, &p);
}

/*
 * A cached reply sent again, to @m's source. A reply the client asked uncompressed
 * (PLAIN_REPLY) that is cached compressed is decompressed first.
 */
static int send_cached(struct ep_worker *w, const struct ep_dgram *d, const struct ep_msg *m,
		       const struct ep_cached *c, uint64_t budget)
{
	const uint8_t *data = c->data;
	uint32_t len = c->len;
	uint8_t flags = c->flags;

	if ((flags & EP_F_ZSTD) && (m->flags & EP_F_PLAIN_REPLY)) {
		unsigned long long plain = ZSTD_getFrameContentSize(c->data, c->len);
		size_t n;

		/* Decompressed only for a reply that will go: our frames say their size. */
		if (plain == ZSTD_CONTENTSIZE_UNKNOWN || plain == ZSTD_CONTENTSIZE_ERROR ||
		    plain > UINT32_MAX ||
		    reply_bytes(w, m, (uint32_t)plain, reply_frag_size(w, m, &d->route)) > budget) {
			send_retry(w, &d->peer, &d->route, m, budget);
			return EP_REPLY_RETRIED;
		}
		/* Our own frame, up to max_result_len: the window limit set for tasks (which
		 * may be smaller) is lifted for it. */
		ZSTD_DCtx_setParameter(w->dctx, ZSTD_d_windowLogMax, w->result_wlog);
		n = ZSTD_decompressDCtx(w->dctx, w->zbuf, w->zcap, c->data, c->len);
		ZSTD_DCtx_setParameter(w->dctx, ZSTD_d_windowLogMax, w->task_wlog);

		if (ZSTD_isError(n)) { /* our own frame: cannot happen */
			return send_reply(w, &d->peer, &d->route, m, EP_KIND_ERROR, EP_ST_INTERNAL,
					  0, NULL, 0, 0, 0, budget);
		}
		data = w->zbuf;
		len = (uint32_t)n;
		flags &= (uint8_t)~EP_F_ZSTD;
	}
	return send_reply(w, &d->peer, &d->route, m, c->status ? EP_KIND_ERROR : EP_KIND_RESPONSE,
			  c->status, flags, data, len, c->queue_us, c->exec_us, budget);
}

/* --- selective repeat (docs/protocol.md 5.1) ---------------------------------------- */

/*
 * TASK_ACK for task @req (any datagram of its exchange: a fragment, or a RESULT_ACK): the
 * fragments of the request held, @a. Its header echoes the task's; sealed with the task's
 * key if @req came with AUTH. The ranges are cut (the lowest kept) so that the datagram
 * fits @budget, three times what triggered it for a source that has not validated its
 * address, and one fragment of the reply MTU; an unlisted fragment costs the client a
 * duplicate, never a loss.
 */
static void send_task_ack(struct ep_worker *w, const struct ep_peer *peer, const struct ep_route *r,
			  const struct ep_msg *req, const struct ep_ack *a, uint64_t budget)
{
	struct ep_msg m = reply_to(w, req, EP_KIND_TASK_ACK, 0);
	uint32_t fs = reply_frag_size(w, req, r);
	uint64_t hdr = EP_HDR_LEN + (sealed(w, req) ? EP_AUTH_NONCE_LEN : 0);
	uint8_t buf[4 + 4 * EP_ACK_MAX_RANGES];
	size_t cap = sizeof(buf);
	ssize_t n;

	if (sealed(w, req)) {
		m.flags |= EP_F_AUTH;
		m.auth_key_id = req->auth_key_id;
	}
	if (budget < hdr + ep_ack_len(0)) { /* cannot happen: a trigger has >= 64 bytes */
		w->st.reply_dropped++;
		return;
	}
	if (budget - hdr < cap)
		cap = (size_t)(budget - hdr);
	if (fs < cap)
		cap = fs;
	n = ep_ack_encode(a, EP_ACK_MAX_RANGES, buf, cap);
	if (n < 0) {
		w->st.reply_dropped++;
		return;
	}
	if (!transmit(w, peer, r, &m, buf, (uint32_t)n, fs))
		w->st.task_acks_sent++;
}

/* The reassembly's acknowledgement of a task in progress (cfg.on_ack): within three times
 * the bytes of its datagrams since the last one, along the route of its first fragment
 * (the task's context, as in on_reasm_end()). */
static void on_reasm_ack(void *arg, const struct ep_reasm_info *t, const struct ep_ack *a)
{
	struct ep_worker *w = arg;
	struct ep_route r;

	memcpy(&r, t->user, sizeof(r));
	send_task_ack(w, &t->peer, &r, &t->msg, a,
		      budget_of(w, source_valid(w, &t->peer, &t->msg), t->wire_new));
}

/* UDP payload bytes of the fragments of a reply of @len bytes in fragments of @fs to @req
 * that @skip does not list (NULL: all). */
static uint64_t resend_bytes(const struct ep_worker *w, const struct ep_msg *req, uint32_t len,
			     uint32_t fs, const struct ep_ack *skip)
{
	uint32_t count = ep_frag_count(len, fs), missing = count;
	uint64_t hdr = EP_HDR_LEN + (sealed(w, req) ? EP_AUTH_NONCE_LEN : 0);
	uint64_t last = len - (uint64_t)fs * (count - 1); /* the last fragment's bytes */
	bool last_missing = true;

	/* From the ranges, not fragment by fragment: what an unvalidated RESULT_ACK costs the
	 * node must not grow with the result's size. */
	if (!count)
		return 0;
	if (skip && skip->count == count) {
		missing = count - ep_ack_held(skip);
		last_missing = !(skip->n && skip->r[skip->n - 1].last == count - 1);
	}
	if (!missing)
		return 0;
	return (uint64_t)missing * hdr + (uint64_t)(missing - last_missing) * fs +
	       (last_missing ? last : 0);
}

/*
 * A RESULT_ACK (@m, @payload) from @d: resend what the client lacks of a cached result, or
 * say with TASK_ACK what the node holds of the task. Every answer is within @budget (three
 * times the RESULT_ACK for a source that has not validated its address): resent fragments
 * over it get RETRY instead (for an AUTH task, a sealed UNAUTHORIZED), a TASK_ACK lists
 * fewer ranges. An invalid acknowledgement is dropped unanswered.
 */
static void on_result_ack(struct ep_worker *w, const struct ep_dgram *d, const struct ep_msg *m,
			  const uint8_t *payload, uint64_t budget, uint64_t now)
{
	struct ep_reasm_info t;
	struct ep_cached c;
	struct ep_ack a, held = { 0 };
	struct ep_msg rm;
	uint32_t fs;

	if (ep_ack_decode(payload, m->payload_len, &a)) {
		w->st.bad_acks++;
		return;
	}
	w->st.result_acks++;
	switch (ep_cache_lookup_ack(w->cache, &d->peer, key_of(m), m->task_id, &a, now, &c)) {
	case EP_CACHE_DONE:
		break;
	case EP_CACHE_PENDING: /* queued or running: it has every fragment */
		held.count = c.req_frags ? c.req_frags : 1;
		held.n = 1;
		held.r[0] = (struct ep_ack_range){ 0, (uint16_t)(held.count - 1) };
		send_task_ack(w, &d->peer, &d->route, m, &held, budget);
		return;
	case EP_CACHE_QUIET: /* a duplicate, nothing missing, or over its budget */
		return;
	default:
		/* Reassembling (by the task's own key, as CANCEL), or unknown: count 0. */
		if (ep_reasm_peek(w->reasm, &d->peer, m->task_id, &t.msg) ||
		    key_of(&t.msg) != key_of(m) ||
		    ep_reasm_ack(w->reasm, &d->peer, m->task_id, &held))
			held = (struct ep_ack){ 0 };
		send_task_ack(w, &d->peer, &d->route, m, &held, budget);
		return;
	}
	/* The fragments as the reply first went out (its fragment size), so that the
	 * client's indexes name the same bytes. */
	fs = c.frag_size ? c.frag_size : reply_frag_size(w, m, &d->route);
	rm = reply_to(w, m, c.status ? EP_KIND_ERROR : EP_KIND_RESPONSE, c.flags);
	rm.status = c.status;
	rm.queue_us = c.queue_us;
	rm.exec_us = c.exec_us;
	if (sealed(w, m)) {
		rm.flags |= EP_F_AUTH;
		rm.auth_key_id = m->auth_key_id;
	}
	if (a.count != ep_frag_count(c.len, fs))
		a.n = 0; /* not this reply's fragments: all of it */
	if (resend_bytes(w, m, c.len, fs, a.n ? &a : NULL) > budget) {
		ep_cache_ack_unsent(w->cache, &d->peer, key_of(m), m->task_id, c.resend);
		send_retry(w, &d->peer, &d->route, m, budget);
		return;
	}
	if (!transmit_acked(w, &d->peer, &d->route, &rm, c.data, c.len, fs, a.n ? &a : NULL))
		w->st.result_frags_resent += c.resend;
}

/*
 * A CANCEL for a task that is not queued: if it is still being reassembled, drop it and
 * answer CANCELLED now, and leave that answer in the result cache so that its late
 * fragments and retries get it too instead of starting the task again.
 */
static void cancel_reassembly(struct ep_worker *w, const struct ep_dgram *d,
			      const struct ep_msg *cancel, uint64_t budget, uint64_t now)
{
	struct ep_cache_ident ident;
	struct ep_reasm_info t;

	/* Only the task's own key (or, without AUTH, a source without a key) cancels it. */
	if (ep_reasm_peek(w->reasm, &d->peer, cancel->task_id, &t.msg) ||
	    key_of(&t.msg) != key_of(cancel) ||
	    ep_reasm_cancel(w->reasm, &d->peer, cancel->task_id, &t))
		return;
	ep_cache_ident_task(&ident, &t.msg, NULL); /* fragment 0 may not have come */
	send_error(w, &d->peer, &d->route, &t.msg, ep_registry_find(w->reg, t.msg.task_type),
		   EP_ST_CANCELLED, NULL,
		   ep_cache_begin(w->cache, &d->peer, key_of(cancel), cancel->task_id, &ident, now),
		   budget);
}

/*
 * Decode @d into @m and apply device authentication and the priority ceiling. Returns
 * false for a datagram to drop unanswered (counted here).
 */
static bool datagram_admit(struct ep_worker *w, const struct ep_dgram *d, struct ep_msg *m,
			   const uint8_t **payload, uint64_t now)
{
	enum ep_auth_drop why;
	enum ep_stat reason;
	bool authed = false;

	w->st.dgrams++;
	/* The protocol's limit here; the node's own (smaller) one gets TOO_LARGE later. */
	if (ep_decode(d->data, d->len, EP_MAX_TASK_LEN, m, payload, &reason)) {
		w->st.invalid[reason]++;
		return false;
	}
	if (!EP_KIND_IS_SERVER_BOUND(m->kind)) {
		w->st.invalid[EP_STAT_DROP_BAD_KIND]++;
		return false;
	}
	/* Device authentication, before anything else: a datagram that fails gets no reply
	 * at all. In mode off there are no keys: AUTH is answered UNSUPPORTED, as before. */
	if ((m->flags & EP_F_AUTH) && w->keys) {
		if (!auth_check(w, d, m, now, &why)) {
			w->st.auth_dropped[why]++;
			return false;
		}
		w->st.auth_ok++;
		authed = true;
	} else if (!(m->flags & EP_F_AUTH) && w->cfg.auth_mode == EP_AUTH_MODE_REQUIRED) {
		w->st.auth_dropped[EP_AUTH_DROP_MISSING]++;
		return false;
	}
	/* The priority ceiling of a source that did not authenticate: none may claim more
	 * than limits.max_priority, to jump the queue or to shed others' tasks (an
	 * authenticated one has its role's, checked above). Every fragment, the task and
	 * every reply to it (PONG, CANCELLED, errors) carry the lowered priority; a task
	 * counts once per attempt. */
	if (!authed && m->priority > w->cfg.max_priority) {
		m->priority = w->cfg.max_priority;
		w->st.priority_lowered += m->kind == EP_KIND_REQUEST && m->frag_index == 0;
	}
	if (w->cfg.high_priority && m->priority >= w->cfg.high_priority)
		w->high_until_ns = now + HIGH_ACTIVE_NS;
	return true;
}

/* PING, RESULT_ACK and CANCEL, answered here. Returns false for any other kind. */
static bool on_control(struct ep_worker *w, const struct ep_dgram *d, const struct ep_msg *m,
		       const uint8_t *payload, uint64_t budget, uint64_t now)
{
	switch (m->kind) {
	case EP_KIND_PING:
		/* PONG: the node's limits, 112 bytes for the PING's 64. */
		w->st.pings++;
		send_reply(w, &d->peer, &d->route, m, EP_KIND_PONG, 0, 0,
			   (const uint8_t *)&w->cfg.limits, sizeof(w->cfg.limits), 0, 0, budget);
		return true;
	case EP_KIND_RESULT_ACK:
		on_result_ack(w, d, m, payload, budget, now);
		return true;
	case EP_KIND_CANCEL:
		w->st.cancels++;
		if (ep_cache_cancel(w->cache, &d->peer, key_of(m), m->task_id))
			cancel_reassembly(w, d, m, budget, now);
		return true;
	default:
		return false;
	}
}

/*
 * A retry is answered from the cache: once per resend gap (a retry of a multi-fragment
 * task resends every fragment: the first one that comes is answered, not the rest of the
 * burst), at most cache.max_replays times, and only if it is the request the entry was
 * made for. A replay goes to a source that has not validated its address only if it is
 * within the budget of the datagram that asked for it; else that source gets RETRY, and
 * the result stays cached, its gap and budget untouched, for the retry that carries the
 * token. Returns true when the cache dealt with the datagram (answered or ignored it).
 */
static bool answered_from_cache(struct ep_worker *w, const struct ep_dgram *d,
				const struct ep_msg *m, const uint8_t *payload, bool valid,
				uint64_t budget, uint64_t now)
{
	struct ep_cache_ident ident;
	struct ep_cached cached;

	ep_cache_ident_msg(&ident, m, payload);
	if (!valid && ep_cache_retry_recent(w->cache, &d->peer, key_of(m), m->task_id, now)) {
		w->st.duplicates++; /* the burst this RETRY answered */
		return true;
	}
	switch (ep_cache_lookup(w->cache, &d->peer, key_of(m), m->task_id, &ident, now, &cached)) {
	case EP_CACHE_DONE:
		if (send_cached(w, d, m, &cached, budget) == EP_REPLY_RETRIED)
			ep_cache_unsent(w->cache, &d->peer, key_of(m), m->task_id, now);
		else
			type_stats(w, ep_registry_find(w->reg, m->task_type))->cache_hits++;
		return true;
	case EP_CACHE_PENDING:
		w->st.duplicates++;
		return true;
	case EP_CACHE_QUIET: /* counted by the cache */
		return true;
	case EP_CACHE_CONFLICT:
		send_error(w, &d->peer, &d->route, m, ep_registry_find(w->reg, m->task_type),
			   EP_ST_CONFLICT, "task id in use for another request", EP_CACHE_NONE,
			   budget);
		return true;
	case EP_CACHE_MISS:
		break;
	}
	return false;
}

/*
 * A REQUEST datagram the cache did not answer: a task of one fragment is accepted at once,
 * in its receive buffer; a fragment goes to reassembly, which may complete its task.
 * Releases @d's buffer (or hands it to the task).
 */
static void on_request(struct ep_worker *w, const struct ep_dgram *d, const struct ep_msg *m,
		       const uint8_t *payload, bool valid, uint64_t budget, uint64_t now)
{
	struct ep_reasm_task done;
	int ret;

	if (m->frag_count == 1 && m->total_len > w->cfg.max_task_len) {
		send_error(w, &d->peer, &d->route, m, ep_registry_find(w->reg, m->task_type),
			   EP_ST_TOO_LARGE, NULL, EP_CACHE_NONE, budget);
		w->ops->release(w->io, d->handle);
		return;
	}
	if (m->frag_count == 1) { /* zero-copy: the buffer is held until the task ran */
		accept_task(w, m, &d->peer, &d->route, payload, m->payload_len, d->handle, NULL,
			    valid, now, now);
		return;
	}
	ret = ep_reasm_add(w->reasm, &d->peer, m, payload, now, &d->route, &done);
	w->ops->release(w->io, d->handle);
	/* Validated if the completing or the first fragment had a token; its deadline counts
	 * from its first fragment. */
	if (ret == 1)
		accept_task(w, &done.msg, &d->peer, &d->route, done.data, done.len, EP_NO_HANDLE,
			    done.data, valid || validated(w, &d->peer, &done.msg), done.start_ns,
			    now);
	else if (ret < 0 && ret != -ENOSPC && m->frag_index == 0) /* a refused task, once */
		send_error(w, &d->peer, &d->route, m, ep_registry_find(w->reg, m->task_type),
			   ret == -EMSGSIZE ? EP_ST_TOO_LARGE
			   : ret == -EPROTO ? EP_ST_MALFORMED
					    : EP_ST_OVERLOADED,
			   NULL, EP_CACHE_NONE, budget);
}

static void on_datagram(struct ep_worker *w, const struct ep_dgram *d, uint64_t now)
{
	const uint8_t *payload;
	struct ep_msg m;
	uint64_t budget; /* what this datagram alone may make the node send */
	bool valid;

	if (!datagram_admit(w, d, &m, &payload, now))
		goto release;
	/* An authenticated source is validated only at the address its key was enrolled
	 * from: anywhere else its replies are held to the 3x budget like anyone's, since the
	 * key's holder can put any source on a fresh datagram. */
	valid = source_valid(w, &d->peer, &m);
	budget = budget_of(w, valid, d->len);
	if (on_control(w, d, &m, payload, budget, now) ||
	    answered_from_cache(w, d, &m, payload, valid, budget, now))
		goto release;
	on_request(w, d, &m, payload, valid, budget, now);
	return;

release:
	w->ops->release(w->io, d->handle);
}

/* --- running batches ---------------------------------------------------------------- */

static void finish(struct ep_worker *w, struct ep_task *t, const struct ep_hres *res,
		   uint64_t started, uint32_t exec_us, uint64_t now)
{
	struct ep_type_stats *ts = type_stats(w, t->hidx);
	uint32_t queue_us = sat_us(started - t->rx_ns);

	if (res->status) { /* a plugin's msg need not end in a NUL */
		send_error_text(w, &t->peer, &t->route, &t->msg, t->hidx, res->status,
				res->msg[0] ? res->msg : NULL, sizeof(res->msg), t->cache,
				t->budget);
	} else {
		uint32_t len = res->len;
		uint8_t flags;
		const uint8_t *out = maybe_compress(w, &t->msg, res->data, &len, &flags);
		int ret = send_reply(w, &t->peer, &t->route, &t->msg, EP_KIND_RESPONSE, 0, flags,
				     out, len, queue_us, exec_us, t->budget);

		if (ret == -EMSGSIZE) {
			send_error(w, &t->peer, &t->route, &t->msg, t->hidx, EP_ST_TOO_LARGE,
				   "result too large for the protocol", t->cache, t->budget);
		} else {
			/* Over its budget (out_size() said it would fit: a safety net), the
			 * source got RETRY; the result is kept, unsent (no resend gap), for
			 * the retry that carries the token. */
			if (ret != EP_REPLY_RETRIED)
				ts->completed++;
			ep_cache_complete(w->cache, t->cache,
					  &(struct ep_cached){ .flags = flags,
							       .data = out,
							       .len = len,
							       .queue_us = queue_us,
							       .exec_us = exec_us,
							       .frag_size = reply_frag_size(
								       w, &t->msg, &t->route) },
					  now);
			if (ret == EP_REPLY_RETRIED)
				ep_cache_unsent(w->cache, &t->peer, key_of(&t->msg), t->msg.task_id,
						now);
		}
	}
	ep_hist_record(&ts->latency_ns, now - t->rx_ns);
	task_release(w, t);
}

/* Run one batch. Returns the number of tasks taken from the queues. */
static unsigned int run_batch(struct ep_worker *w, uint64_t now, bool drain)
{
	unsigned int n = ep_batch_next(w->batch, now, drain, w->run, w->cfg.batch_size), k = 0;
	const struct ep_reg_entry *e;
	struct ep_type_stats *ts;
	uint64_t used = 0, t0, t1;
	uint32_t exec_us;
	bool high;
	int err;

	if (!n)
		return 0;
	high = w->cfg.high_priority && w->run[0]->msg.priority >= w->cfg.high_priority;
	/* While high-priority work is under way, a lower priority's batch is one task: the
	 * handler cannot be interrupted, but a high-priority task then waits for one task,
	 * not for a whole batch of them. */
	if (n > 1 && !high && w->cfg.high_priority && now < w->high_until_ns) {
		ep_batch_unget(w->batch, &w->run[1], n - 1);
		n = 1;
		w->st.low_sliced++;
	}
	e = &w->reg->e[w->run[0]->hidx];

	/* Weed out what must not run; size the outputs; stop where the arena is full. */
	for (unsigned int i = 0; i < n; i++) {
		struct ep_task *t = w->run[i];
		struct ep_hreq rq = hreq_of(&t->msg, t->data, t->len);
		uint16_t status = 0;
		uint32_t need;

		if (ep_cache_cancelled(w->cache, t->cache))
			status = EP_ST_CANCELLED;
		else if (t->msg.deadline_ms && now - t->start_ns > t->msg.deadline_ms * 1000000ull)
			status = EP_ST_DEADLINE_EXCEEDED;
		else if ((need = e->h->out_size(w->states[t->hidx], &rq)) > w->cfg.max_result_len)
			status = EP_ST_TOO_LARGE;
		else if (used + need > w->cfg.arena_bytes) {
			if (k) { /* the rest waits for the next batch */
				ep_batch_unget(w->batch, &w->run[i], n - i);
				n = i;
				break;
			}
			status = EP_ST_TOO_LARGE;
		}
		if (status) {
			send_error(w, &t->peer, &t->route, &t->msg, t->hidx, status, NULL, t->cache,
				   t->budget);
			ep_hist_record(&type_stats(w, t->hidx)->latency_ns, now - t->rx_ns);
			task_release(w, t);
			continue;
		}
		w->req[k] = rq;
		w->res[k] = (struct ep_hres){ .data = w->arena + used, .cap = need };
		w->run[k++] = t;
		used += (need + 63) & ~63ull;
	}
	if (!k)
		return n;

	t0 = ep_now_ns();
	__atomic_store_n(&w->running, k, __ATOMIC_RELAXED); /* for load reports */
	err = e->h->run(w->states[w->run[0]->hidx], w->req, w->res, k);
	__atomic_store_n(&w->running, 0, __ATOMIC_RELAXED);
	t1 = ep_now_ns();
	exec_us = sat_us((t1 - t0) / k);
	ts = type_stats(w, w->run[0]->hidx);
	ep_hist_record(&ts->batch_size, k);
	/* Each task of the batch had its share of the call: the exec_us its reply says. */
	for (unsigned int i = 0; i < k; i++)
		ep_hist_record(&ts->handler_ns, (t1 - t0) / k);
	for (unsigned int i = 0; i < k; i++) {
		struct ep_hres *res = &w->res[i];

		if (err) {
			res->status = EP_ST_HANDLER_FAILED;
			res->msg[0] = '\0';
		} else if (!res->status && res->len > res->cap) { /* a buggy handler */
			res->status = EP_ST_HANDLER_FAILED;
			strcpy(res->msg, "handler overran its buffer");
		}
		finish(w, w->run[i], res, t0, exec_us, t1);
	}
	/* High-priority replies leave now, not after the batches that follow. */
	if (high)
		w->ops->flush(w->io);
	return n;
}

/* A task that ended before its fragments were all in, answered once along the route of
 * its first fragment: TIMEOUT when they stopped coming (or took longer than the lifetime),
 * OVERLOADED when it made room for others. Its budget: every datagram received of it. */
static void on_reasm_end(void *arg, const struct ep_reasm_info *t, enum ep_reasm_end why)
{
	struct ep_worker *w = arg;
	struct ep_route r;

	memcpy(&r, t->user, sizeof(r));
	send_error(w, &t->peer, &r, &t->msg, ep_registry_find(w->reg, t->msg.task_type),
		   why == EP_REASM_EVICTED ? EP_ST_OVERLOADED : EP_ST_TIMEOUT,
		   why == EP_REASM_EVICTED    ? "evicted from reassembly under memory pressure"
		   : why == EP_REASM_LIFETIME ? "reassembly took longer than its lifetime"
					      : NULL,
		   EP_CACHE_NONE,
		   budget_of(w, source_valid(w, &t->peer, &t->msg),
			     t->wire_bytes + (t->msg.flags & EP_F_AUTH
						      ? (uint64_t)EP_AUTH_NONCE_LEN * t->frags
						      : 0)));
}

/* --- the loop ----------------------------------------------------------------------- */

/* Once, before the loop (logging is fine here). */
static void pin(unsigned int id, int cpu)
{
	cpu_set_t set;
	int err;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		pr_warn("worker %u: cannot pin to CPU %d: %s", id, cpu, strerror(err));
}

void ep_worker_run(struct ep_worker *w)
{
	struct ep_dgram d[RX_BURST];

	pin(w->id, w->cfg.cpu);
	while (!w->stop) {
		unsigned int n = w->ops->rx(w->io, d, RX_BURST);
		uint64_t now = ep_now_ns(), next;

		for (unsigned int i = 0; i < n; i++)
			on_datagram(w, &d[i], now);
		/* Until nothing is ready, or high-priority datagrams wait in their own ring:
		 * they are received (and their tasks run first) before the next batch. */
		while (run_batch(w, ep_now_ns(), false))
			if (w->ops->rx_high_pending && w->ops->rx_high_pending(w->io))
				break;
		if (now >= w->next_expire_ns) {
			ep_reasm_expire(w->reasm, now);
			w->next_expire_ns = now + EXPIRE_EVERY_NS;
		} else if (now >= ep_reasm_next_ack_ns(w->reasm)) {
			ep_reasm_expire(w->reasm, now); /* the acknowledgements of pauses */
		}
		w->ops->flush(w->io);
		if (w->keys) /* no key entry is held from here on */
			ep_keytab_quiesce(w->keys);
		if (n)
			continue;
		/* Idle: sleep until traffic, unless a batch is about to become ready or a
		 * paused task is to be acknowledged. */
		next = ep_batch_next_ready(w->batch);
		if (ep_reasm_next_ack_ns(w->reasm) < next)
			next = ep_reasm_next_ack_ns(w->reasm);
		if (next == UINT64_MAX)
			w->ops->wait(w->io, IDLE_WAIT_MS);
		else if (next > now + 1000000)
			w->ops->wait(w->io, (int)((next - now) / 1000000));
	}

	/* Drain: no new datagrams, but what was received is run and answered, and the
	 * replies are pushed out before the queue closes. Bounded in time: a socket backend
	 * keeps receiving while traffic lasts. */
	w->ops->stop_rx(w->io);
	for (uint64_t give_up = ep_now_ns() + DRAIN_RX_NS;;) {
		unsigned int n = w->ops->rx(w->io, d, RX_BURST);
		uint64_t now = ep_now_ns();

		for (unsigned int i = 0; i < n; i++)
			on_datagram(w, &d[i], now);
		while (run_batch(w, ep_now_ns(), true))
			;
		w->ops->flush(w->io);
		if (w->keys)
			ep_keytab_quiesce(w->keys);
		if (!n || now > give_up)
			break;
	}
	for (uint64_t give_up = ep_now_ns() + DRAIN_TX_NS; ep_now_ns() < give_up;)
		if (!w->ops->flush(w->io))
			break;
}

void ep_worker_stop(struct ep_worker *w)
{
	w->stop = 1;
}

void ep_worker_stats(const struct ep_worker *w, struct ep_worker_stats *out)
{
	*out = w->st;
	out->queued = ep_batch_count(w->batch);
	out->nhandlers = w->reg->n;
	ep_reasm_get_stats(w->reasm, &out->reasm);
	ep_cache_get_stats(w->cache, &out->cache);
	w->ops->get_stats(w->io, &out->io);
}

void ep_worker_load(const struct ep_worker *w, struct ep_worker_load *out)
{
	struct ep_reasm_stats rs;

	memset(out, 0, sizeof(*out));
	out->queued = ep_batch_count(w->batch);
	out->running = __atomic_load_n(&w->running, __ATOMIC_RELAXED);
	ep_reasm_get_stats(w->reasm, &rs);
	out->reassembling = rs.tasks;
	/* A worker held by a long task reads nothing: what waits in its RX ring is its
	 * queue too, and the first sign of a burst from clients the gateway does not see. */
	out->received = w->ops->rx_pending ? w->ops->rx_pending(w->io) : 0;
	for (unsigned int i = 0; i <= EP_MAX_HANDLERS; i++)
		if (w->st.type[i].latency_ns.count)
			ep_hist_merge(&out->latency_ns, &w->st.type[i].latency_ns);
}

void ep_worker_free(struct ep_worker *w)
{
	if (!w)
		return;
	if (w->batch) {
		struct ep_task *t[64];
		unsigned int n;

		while ((n = ep_batch_next(w->batch, 0, true, t, 64)))
			for (unsigned int i = 0; i < n; i++)
				task_release(w, t[i]);
	}
	if (w->states_ready)
		ep_registry_fini_worker(w->reg, w->states);
	if (w->io)
		w->ops->close(w->io);
	ep_batch_free(w->batch);
	ep_reasm_free(w->reasm);
	ep_cache_free(w->cache);
	ep_token_free(w->tok);
	ep_keytab_reader_free(w->keys);
	ZSTD_freeDCtx(w->dctx);
	ZSTD_freeCCtx(w->cctx);
	ep_fc_dec_free(w->fdec);
	free(w->pool);
	free(w->arena);
	free(w->zbuf);
	free(w->run);
	free(w->req);
	free(w->res);
	free(w);
}

static int window_log(uint32_t max_len)
{
	int log = 10; /* ZSTD_WINDOWLOG_ABSOLUTEMIN */

	while (log < 27 && (1u << log) < max_len)
		log++;
	return log;
}

/*
 * What the worker checks datagrams with, as its modes want: the address-token verifier
 * (validation) and its reader of the key table (authentication). Returns 0, -EINVAL for a
 * mode that is on without its token master or key table, or -ENOMEM.
 */
static int worker_checks_new(struct ep_worker *w, const struct ep_worker_cfg *cfg)
{
	bool tokens = cfg->validation != EP_VALIDATE_OFF, keys = cfg->auth_mode != EP_AUTH_MODE_OFF;

	if ((tokens && !cfg->token) || (keys && !cfg->keys))
		return -EINVAL;
	if (tokens) {
		w->tok = ep_token_new(cfg->token);
		if (!w->tok)
			return -errno;
	}
	if (keys) {
		w->keys = ep_keytab_reader_new(cfg->keys);
		if (!w->keys)
			return -ENOMEM;
	}
	return 0;
}

struct ep_worker *ep_worker_new(const struct ep_worker_cfg *cfg, const struct ep_registry *reg,
				struct ep_io_q *io, unsigned int id)
{
	uint16_t max_batch[EP_MAX_HANDLERS];
	struct ep_reasm_cfg reasm_cfg;
	struct ep_worker *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w) {
		io->ops->close(io);
		errno = ENOMEM;
		return NULL;
	}
	w->cfg = *cfg;
	w->reg = reg;
	w->io = io;
	w->ops = io->ops;
	w->id = id;
	for (unsigned int i = 0; i < reg->n; i++)
		max_batch[i] = reg->e[i].h->max_batch;

	err = ep_registry_init_worker(reg, id, cfg->max_task_len, w->states);
	if (err)
		goto err_free;
	w->states_ready = true;
	/* The settings the worker owns: its task limit, the route kept with each task, and
	 * what an expired task leaves behind. */
	reasm_cfg = cfg->reasm;
	reasm_cfg.max_task_len = cfg->max_task_len;
	reasm_cfg.user_size = sizeof(struct ep_route);
	reasm_cfg.on_expire = on_reasm_end;
	reasm_cfg.on_ack = reasm_cfg.ack_delay_ns ? on_reasm_ack : NULL;
	reasm_cfg.expire_arg = w;
	w->reasm = ep_reasm_new(&reasm_cfg);
	w->cache = ep_cache_new(&cfg->cache);
	err = worker_checks_new(w, cfg);
	if (err)
		goto err_free;
	w->batch = ep_batch_new(reg->n, max_batch, cfg->batch_size, cfg->batch_wait_ns);
	w->dctx = ZSTD_createDCtx();
	w->cctx = ZSTD_createCCtx();
	w->fdec = ep_fc_dec_new();
	w->zcap = ZSTD_compressBound(cfg->max_result_len);
	w->zbuf = malloc(w->zcap);
	w->arena = malloc(cfg->arena_bytes);
	w->pool = calloc(cfg->queue_depth, sizeof(*w->pool));
	w->run = calloc(cfg->batch_size, sizeof(*w->run));
	w->req = calloc(cfg->batch_size, sizeof(*w->req));
	w->res = calloc(cfg->batch_size, sizeof(*w->res));
	if (!w->reasm || !w->cache || !w->batch || !w->dctx || !w->cctx || !w->fdec || !w->zbuf ||
	    !w->arena || !w->pool || !w->run || !w->req || !w->res) {
		err = -ENOMEM;
		goto err_free;
	}
	/* No window larger than a task may be: a tiny frame must not make the context
	 * allocate a 128 MiB window. */
	w->task_wlog = window_log(cfg->max_task_len);
	w->result_wlog = window_log(cfg->max_result_len);
	ZSTD_DCtx_setParameter(w->dctx, ZSTD_d_windowLogMax, w->task_wlog);
	/* Every reply frame carries its content checksum, so a result corrupted on the way
	 * fails to decompress at the client and is asked for again (docs/protocol.md 5.1). */
	if (cfg->reply_zstd_level &&
	    (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel,
						 cfg->reply_zstd_level)) ||
	     ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)))) {
		err = -EINVAL;
		goto err_free;
	}
	for (uint32_t i = 0; i < cfg->queue_depth; i++) {
		w->pool[i].io_handle = EP_NO_HANDLE;
		w->pool[i].next = w->free_tasks;
		w->free_tasks = &w->pool[i];
	}
	w->nfree = cfg->queue_depth;
	return w;

err_free:
	ep_worker_free(w);
	errno = -err;
	return NULL;
}
