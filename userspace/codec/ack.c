// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Acknowledgement ranges (docs/protocol.md 5.1): encode, decode and query the payload of
 * TASK_ACK and RESULT_ACK. Like the rest of the codec, reentrant and allocation-free.
 */
#include <errno.h>
#include <string.h>

#include "edgeplane/codec.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void ep_ack_from_bitmap(struct ep_ack *a, const uint8_t *bm, uint16_t count)
{
	uint32_t i = 0;

	a->count = count;
	a->n = 0;
	/* Whole bytes of nothing or of everything are skipped at once: a hostile sender
	 * can make a receiver acknowledge often, and a walk bit by bit of 65535 fragments
	 * would cost far more than its datagram. */
	while (i < count && a->n < EP_ACK_MAX_RANGES) {
		uint32_t first;

		while (i < count && !(bm[i / 8] & (1u << (i % 8))))
			i = !(i % 8) && !bm[i / 8] ? i + 8 : i + 1;
		if (i >= count)
			break;
		first = i;
		while (i < count && (bm[i / 8] & (1u << (i % 8))))
			i = !(i % 8) && bm[i / 8] == 0xff ? i + 8 : i + 1;
		if (i > count)
			i = count;
		a->r[a->n++] = (struct ep_ack_range){ (uint16_t)first, (uint16_t)(i - 1) };
	}
	if (!a->n) /* nothing held: the message is unknown to the receiver */
		a->count = 0;
}

ssize_t ep_ack_encode(const struct ep_ack *a, uint16_t max_ranges, void *buf, size_t cap)
{
	uint16_t n = a->n < max_ranges ? a->n : max_ranges;
	uint8_t *p = buf;

	if (cap < ep_ack_len(0))
		return -EMSGSIZE;
	if (cap < ep_ack_len(n))
		n = (uint16_t)((cap - ep_ack_len(0)) / 4);
	wr16(p, n ? a->count : 0);
	wr16(p + 2, n);
	for (uint16_t i = 0; i < n; i++) {
		wr16(p + 4 + 4 * i, a->r[i].first);
		wr16(p + 6 + 4 * i, a->r[i].last);
	}
	return (ssize_t)ep_ack_len(n);
}

int ep_ack_decode(const void *buf, size_t len, struct ep_ack *a)
{
	const uint8_t *p = buf;
	uint32_t next = 0; /* the lowest index the next range may start at */

	if (len < ep_ack_len(0))
		return -EBADMSG;
	a->count = rd16(p);
	a->n = rd16(p + 2);
	if (a->n > EP_ACK_MAX_RANGES || len != ep_ack_len(a->n) || !a->count != !a->n)
		return -EBADMSG;
	for (uint16_t i = 0; i < a->n; i++) {
		struct ep_ack_range r = { rd16(p + 4 + 4 * i), rd16(p + 6 + 4 * i) };

		if (r.first < next || r.last < r.first || r.last >= a->count)
			return -EBADMSG;
		a->r[i] = r;
		next = (uint32_t)r.last + 2;
	}
	return 0;
}

bool ep_ack_has(const struct ep_ack *a, uint16_t idx)
{
	uint32_t lo = 0, hi = a->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (idx < a->r[mid].first)
			hi = mid;
		else if (idx > a->r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint32_t ep_ack_held(const struct ep_ack *a)
{
	uint32_t n = 0;

	for (uint16_t i = 0; i < a->n; i++)
		n += (uint32_t)a->r[i].last - a->r[i].first + 1;
	return n;
}
