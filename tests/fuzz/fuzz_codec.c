// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The wire codec (userspace/codec/codec.c, the rules of bpf/ep_check.h): the input is one
 * UDP payload as a node or a client receives it.
 *
 *  - ep_decode() at the runtime's limit and at the protocol's; what it accepts must be
 *    self-consistent (lengths, the fragment tiling) and must encode again to the same
 *    header bytes (a field the decoder accepts but the encoder cannot express would be a
 *    silent rewrite);
 *  - ep_frag_build() of the input as a task payload, at a fragment size the input picks,
 *    with the decoded header (or a fixed one) as template: every fragment must decode,
 *    tile the payload exactly and carry its bytes;
 *  - ep_ack_decode() of the input (and of a decoded acknowledgement's payload): what it
 *    accepts is ascending, disjoint and within its count, and encodes to the same bytes;
 *  - the name and size helpers with values from the input.
 */
#include <errno.h>

#include "edgeplane/codec.h"
#include "ep_check.h"
#include "fuzz.h"

#define MAX_BUILT 64 /* fragments built per input */

static void check_decoded(const uint8_t *data, size_t size, const struct ep_msg *m,
			  const uint8_t *payload)
{
	uint8_t hdr[EP_HDR_LEN];

	/* An AUTH datagram's slice starts after its nonce, which the decoder reads. */
	FZ_CHECK(payload == data + ep_payload_off(m));
	FZ_CHECK(m->payload_len == size - ep_payload_off(m));
	if (m->flags & EP_F_AUTH)
		FZ_CHECK(m->auth_sender == ((uint32_t)data[64] << 24 | (uint32_t)data[65] << 16 |
					    (uint32_t)data[66] << 8 | data[67]));
	FZ_CHECK(m->frag_count >= 1 && m->frag_index < m->frag_count);
	FZ_CHECK((uint64_t)m->frag_offset + m->payload_len <= m->total_len);
	if (m->frag_count == 1) {
		FZ_CHECK(m->frag_offset == 0 && m->payload_len == m->total_len);
	} else {
		uint32_t l =
			ep_frag_size(m->frag_index, m->frag_count, m->frag_offset, m->payload_len);

		FZ_CHECK(l > 0 && l <= 0xffff);
		FZ_CHECK(ep_frag_count(m->total_len, l) == m->frag_count);
		FZ_CHECK(m->frag_offset == (uint32_t)m->frag_index * l);
	}
	/* What decodes encodes again, to the same bytes; but struct ep_msg has no load_pct
	 * for control messages (LOAD_REPORT), whose byte 44 the rules leave free (<= 100). */
	FZ_CHECK(ep_encode_hdr(m, hdr, sizeof(hdr)) == EP_HDR_LEN);
	if (EP_KIND_IS_CONTROL(m->kind))
		hdr[44] = data[44];
	FZ_CHECK(!memcmp(hdr, data, EP_HDR_LEN));
}

/* An acknowledgement payload (docs/protocol.md 5.1): what decodes is well formed and
 * encodes to the same bytes. */
static void check_ack(const uint8_t *p, size_t len)
{
	static uint8_t out[4 + 4 * EP_ACK_MAX_RANGES];
	static struct ep_ack a;
	uint32_t next = 0, held = 0;

	if (ep_ack_decode(p, len, &a))
		return;
	FZ_CHECK(a.n <= EP_ACK_MAX_RANGES && (a.count || !a.n));
	for (uint16_t i = 0; i < a.n; i++) {
		FZ_CHECK(a.r[i].first >= next && a.r[i].first <= a.r[i].last &&
			 a.r[i].last < a.count);
		FZ_CHECK(ep_ack_has(&a, a.r[i].first) && ep_ack_has(&a, a.r[i].last));
		if (a.r[i].first)
			FZ_CHECK(!ep_ack_has(&a, (uint16_t)(a.r[i].first - 1)));
		held += (uint32_t)a.r[i].last - a.r[i].first + 1;
		next = (uint32_t)a.r[i].last + 2;
	}
	FZ_CHECK(ep_ack_held(&a) == held);
	FZ_CHECK(ep_ack_encode(&a, EP_ACK_MAX_RANGES, out, sizeof(out)) == (ssize_t)len);
	FZ_CHECK(!memcmp(out, p, len));
}

/* Build every fragment of @payload and check that they decode and tile it. */
static void check_build(const struct ep_msg *tmpl, const uint8_t *payload, uint32_t total,
			uint32_t frag_size)
{
	static uint8_t out[EP_HDR_LEN + 0x10000];
	uint32_t count = ep_frag_count(total, frag_size);
	uint64_t covered = 0;

	if (!count)
		return;
	for (uint32_t i = 0; i < count && i < MAX_BUILT; i++) {
		const uint8_t *p;
		struct ep_msg m;
		ssize_t n;

		n = ep_frag_build(tmpl, payload, total, frag_size, i, out, sizeof(out));
		if (n == -EINVAL) /* a template the encoder refuses, for every index */
			return;
		FZ_CHECK(n >= (ssize_t)ep_payload_off(tmpl));
		FZ_CHECK(ep_decode(out, (size_t)n, EP_MAX_TASK_LEN, &m, &p, NULL) == 0);
		FZ_CHECK(m.total_len == total && m.frag_count == count && m.frag_index == i);
		FZ_CHECK(m.frag_offset == covered);
		FZ_CHECK(!memcmp(p, payload + m.frag_offset, m.payload_len));
		covered += m.payload_len;
	}
	if (count <= MAX_BUILT)
		FZ_CHECK(covered == total);
	/* Out of range indexes and short buffers are refused, not written. */
	FZ_CHECK(ep_frag_build(tmpl, payload, total, frag_size, count, out, sizeof(out)) < 0);
	FZ_CHECK(ep_frag_build(tmpl, payload, total, frag_size, 0, out, EP_HDR_LEN - 1) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_msg m, m2,
		tmpl = {
			.kind = EP_KIND_REQUEST,
			.priority = EP_PRIO_DEFAULT,
			.task_type = 1,
			.tenant_id = 7,
			.task_id = 42,
		};
	const uint8_t *payload = NULL;
	enum ep_stat reason = EP_STAT__COUNT;
	uint32_t frag_size;
	int ret;

	ret = ep_decode(data, size, 0, &m, &payload, &reason);
	if (ret) {
		FZ_CHECK(ret == -EBADMSG);
		FZ_CHECK(reason < EP_STAT__COUNT);
		FZ_CHECK(strcmp(ep_stat_name(reason), "?"));
	} else {
		check_decoded(data, size, &m, payload);
	}
	/* The protocol's limit accepts a superset of the default one. */
	if (ep_decode(data, size, EP_MAX_TASK_LEN, &m2, NULL, NULL) == 0)
		check_decoded(data, size, &m2, data + ep_payload_off(&m2));
	else
		FZ_CHECK(ret != 0);

	check_ack(data, size);
	if (!ret && EP_KIND_IS_ACK(m.kind) && !(m.flags & EP_F_AUTH))
		check_ack(payload, m.payload_len);

	/* The input as a whole task payload, fragmented at a size it picks. */
	if (size >= 2) {
		frag_size = ((uint32_t)data[0] << 8 | data[1]) % 1500 + 1;
		if (!ret && EP_KIND_IS_SERVER_BOUND(m.kind) && m.kind == EP_KIND_REQUEST) {
			tmpl = m;
			tmpl.status = 0;
		}
		check_build(&tmpl, data, (uint32_t)size, frag_size);
	}

	/* Helpers with values from the input: never NULL, never out of bounds. */
	if (size >= 4) {
		FZ_CHECK(ep_stat_name(data[2]) && ep_status_name(data[3]) && ep_kind_name(data[2]));
		(void)ep_status_retriable((unsigned int)data[3] << 8 | data[2]);
		(void)ep_frag_size_for_mtu((uint32_t)data[2] << 8 | data[3], data[0] & 1);
		(void)ep_frag_count((uint32_t)size << (data[2] & 15), data[3]);
	}
	return 0;
}
