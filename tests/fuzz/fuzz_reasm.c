// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reassembly (userspace/codec/reasm.c) as the runtime and the client drive it: decoded
 * fragments from a few sources, in any order, duplicated, conflicting, with the clock
 * advancing and tasks expiring, under limits the input picks.
 *
 * Input: 9 bytes of limits (tasks, bytes, per source, prefixes, timeout, lifetime, context
 * size),
 * then operations until the input ends:
 *   0  a fragment the input describes (source, task id, total length, fragment size,
 *      index), built with ep_frag_build() from the task's reference bytes and decoded;
 *   1  a raw datagram, decoded (only what decodes reaches reassembly, as in the runtime);
 *   2  the clock advances by up to 65 s;
 *   3  ep_reasm_expire();
 *   4  ep_reasm_cancel() of a task id (0..7) from the source;
 * A task that completes must have exactly its reference bytes (unless a raw datagram
 * took part), and the table must stay within its limits. The expiry callback must get
 * back the context the task's first fragment stored (zeros when it stored none); every
 * acknowledgement (at a pass's end and after a pause, a quarter of the timeout) must list
 * exactly the fragments held of a task still incomplete. When the
 * input's last byte is odd the table is freed with its tasks, else they all expire.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "edgeplane/reasm.h"
#include "fuzz.h"
#include "peers.h"
#include "../lib/msg.h"

#define NSRC	4
#define MAX_OPS 512

static struct ep_reasm_cfg cfg;
static uint64_t expired, acks;

/* Sources: peers.h's four. */
static void peer_of(unsigned int i, uint16_t port, struct ep_peer *p)
{
	fz_peer(i, port, p);
}

/* The bytes of task @id of @total bytes: a function of both. */
static uint8_t ref_byte(uint64_t id, uint32_t total, uint32_t k)
{
	return (uint8_t)(k * 31u + (uint32_t)id * 7u + total);
}

/* The context a task's first fragment stores: its id, repeated; none (zeros) for odd ids. */
static const void *user_of(uint64_t id, uint8_t *user)
{
	for (uint32_t i = 0; i < cfg.user_size; i++)
		user[i] = id & 1 ? 0 : (uint8_t)(id >> (8 * (i % 8)));
	return id & 1 ? NULL : user;
}

static void on_expire(void *arg, const struct ep_reasm_info *t, enum ep_reasm_end why)
{
	uint8_t want[256];

	FZ_CHECK(t->msg.frag_count > 1 && t->msg.total_len <= cfg.max_task_len);
	FZ_CHECK(t->peer.family == AF_INET || t->peer.family == AF_INET6);
	FZ_CHECK(why == EP_REASM_TIMEOUT || why == EP_REASM_LIFETIME || why == EP_REASM_EVICTED);
	FZ_CHECK(t->frags >= 1 && t->frags < t->msg.frag_count);
	FZ_CHECK(t->bytes <= t->msg.total_len && t->wire_bytes >= t->bytes);
	FZ_CHECK(t->start_ns <= t->last_ns);
	user_of(t->msg.task_id, want);
	FZ_CHECK(!memcmp(t->user, want, cfg.user_size));
	expired++;
}

/* An acknowledgement lists exactly the fragments held, of an incomplete task. */
static void on_ack(void *arg, const struct ep_reasm_info *t, const struct ep_ack *a)
{
	static uint8_t buf[4 + 4 * EP_ACK_MAX_RANGES];
	static struct ep_ack b;
	ssize_t n = ep_ack_encode(a, EP_ACK_MAX_RANGES, buf, sizeof(buf));

	FZ_CHECK(t->frags >= 1 && t->frags < t->msg.frag_count);
	FZ_CHECK(a->count == t->msg.frag_count && a->n >= 1);
	FZ_CHECK(ep_ack_held(a) <= t->frags); /* fewer only past 256 ranges */
	FZ_CHECK(a->n == EP_ACK_MAX_RANGES || ep_ack_held(a) == t->frags);
	FZ_CHECK(t->wire_new <= t->wire_bytes);
	FZ_CHECK(n > 0 && ep_ack_decode(buf, (size_t)n, &b) == 0 && b.n == a->n);
	acks++;
}

static void add(struct ep_reasm *r, const struct ep_peer *peer, const uint8_t *dgram, size_t len,
		uint64_t now, bool raw_seen)
{
	uint8_t user[256];
	struct ep_reasm_task out;
	const uint8_t *payload;
	struct ep_reasm_stats st;
	struct ep_msg m;
	int ret;

	/* At the protocol's limit, as the runtime decodes: reassembly applies its own. */
	if (ep_decode(dgram, len, EP_MAX_TASK_LEN, &m, &payload, NULL))
		return;
	ret = ep_reasm_add(r, peer, &m, payload, now, user_of(m.task_id, user), &out);
	FZ_CHECK(ret == 0 || ret == 1 || ret == -EINVAL || ret == -EMSGSIZE || ret == -ENOBUFS ||
		 ret == -EPROTO || ret == -ENOMEM);
	if (ret == -EINVAL)
		FZ_CHECK(m.frag_count == 1);
	if (ret == -EMSGSIZE)
		FZ_CHECK(m.total_len > cfg.max_task_len);
	if (ret == 1) {
		FZ_CHECK(out.len == out.msg.total_len);
		FZ_CHECK(out.msg.task_id == m.task_id);
		FZ_CHECK(!memcmp(out.peer.addr, peer->addr, 16) && out.peer.port == peer->port);
		for (uint32_t k = 0; !raw_seen && k < out.len; k++)
			FZ_CHECK(out.data[k] == ref_byte(m.task_id, out.len, k));
		free(out.data);
	}
	ep_reasm_get_stats(r, &st);
	FZ_CHECK(st.tasks <= cfg.max_tasks);
	FZ_CHECK(st.bytes <= cfg.max_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t task[1 << 20], dgram[EP_HDR_LEN + 0x10000];
	struct fz f = { data, size };
	uint64_t now = 1000ull * 1000000000ull;
	bool raw_seen = false;
	struct ep_reasm *r;
	unsigned int ops = 0;

	cfg = (struct ep_reasm_cfg){
		.max_tasks = fz_u8(&f) % 16 + 1,
		.max_bytes = ((uint64_t)fz_u8(&f) + 1) << 12,
		.max_src_tasks = fz_u8(&f) % 8 + 1,
		.max_src_bytes = ((uint64_t)fz_u8(&f) + 1) << 11,
		.prefix_v4 = fz_u8(&f) % 33,
		.prefix_v6 = fz_u8(&f) % 129,
		.max_task_len = sizeof(task) / 2, /* the input can go above it */
		.timeout_ns = ((uint64_t)fz_u8(&f) + 1) * 10000000ull,
		.max_lifetime_ns = (uint64_t)fz_u8(&f) * 40000000ull, /* 0: none */
		.user_size = fz_u8(&f) % 65,
		.on_expire = on_expire,
		.on_ack = on_ack,
	};
	cfg.ack_delay_ns = cfg.timeout_ns / 4 + 1;
	expired = 0;
	r = ep_reasm_new(&cfg);
	FZ_CHECK(r);

	while (fz_left(&f) && ops++ < MAX_OPS) {
		uint8_t op = fz_u8(&f);
		struct ep_peer peer;

		peer_of(op >> 4 & 3, 40000 + (op >> 6), &peer);
		switch (op % 5) {
		case 0: {
			struct ep_msg tmpl = EP_TEST_MSG(EP_KIND_REQUEST);
			uint32_t total, fs, count, index;
			ssize_t n;

			tmpl.task_id = fz_u8(&f) % 8;
			total = fz_u16(&f) << (fz_u8(&f) % 5);
			fs = fz_u16(&f) % 4096 + 1;
			count = ep_frag_count(total, fs);
			if (!count)
				break;
			index = fz_u16(&f) % count;
			/* Only the fragment's slice of the reference bytes is read. */
			for (uint32_t k = index * fs; k < total && k < (index + 1) * fs; k++)
				task[k] = ref_byte(tmpl.task_id, total, k);
			n = ep_frag_build(&tmpl, task, total, fs, index, dgram, sizeof(dgram));
			FZ_CHECK(n >= EP_HDR_LEN);
			add(r, &peer, dgram, (size_t)n, now, raw_seen);
			break;
		}
		case 1: {
			size_t len;
			const uint8_t *p = fz_bytes(&f, fz_u16(&f) % 2048, &len);

			raw_seen = true;
			add(r, &peer, p, len, now, raw_seen);
			break;
		}
		case 2:
			now += (uint64_t)fz_u16(&f) * 1000000;
			break;
		case 3:
			FZ_CHECK(ep_reasm_expire(r, now) >= 0);
			break;
		case 4: {
			struct ep_reasm_info info;

			if (!ep_reasm_cancel(r, &peer, fz_u8(&f) % 8, &info))
				FZ_CHECK(info.msg.frag_count > 1 && !info.user);
			break;
		}
		}
	}
	/* Everything left expires, each once; or the table is freed with it (last byte odd). */
	now += 3600ull * 1000000000;
	if (size && data[size - 1] & 1) {
		ep_reasm_free(r);
		return 0;
	}
	{
		struct ep_reasm_stats before, after;

		ep_reasm_get_stats(r, &before);
		ep_reasm_expire(r, now);
		ep_reasm_get_stats(r, &after);
		FZ_CHECK(after.tasks == 0 && after.bytes == 0);
		FZ_CHECK(after.expired == before.expired + before.tasks);
		FZ_CHECK(expired == after.expired + after.evicted);
	}
	ep_reasm_free(r);
	return 0;
}
