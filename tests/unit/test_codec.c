// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the wire codec: layout, round trips, every rejection rule, hostile input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/codec.h"
#include "edgeplane/fcodec.h"
#include "../lib/rnd.h"
#include "../lib/doc.h"
#include "../lib/tap.h"
#include "../lib/msg.h"

static struct ep_msg sample_request(void)
{
	return (struct ep_msg){
		.kind = EP_KIND_REQUEST,
		.priority = 4,
		.flags = EP_F_ZSTD,
		.task_type = 0x0102,
		.tenant_id = 0x0a0b0c0d,
		.task_id = 0x0011223344556677ULL,
		.size_hint_kib = 0x400,
		.deadline_ms = 250,
	};
}

/* The request example of docs/protocol.md, for the mutation tests below. */
static const uint8_t example_request[] = {
	0x45, 0x50, 0x01, 0x01, 0x03, 0x00, 0x00, 0x01, /* magic, v1, request, prio 3, type 1 */
	0x00, 0x00, 0x00, 0x07, 0x00, 0x05, 0x00, 0x00, /* tenant 7, payload_len 5, status 0 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* frag 0 of 1, total_len 5 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* task_id 42 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, /* offset 0, size hint 4 KiB */
	0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, /* deadline 100 ms, load 0, reply_mtu 0, key
							   0 */
	0,    0,    0,	  0,	0,    0,    0,	  0,	0, 0, 0, 0, 0, 0, 0, 0, /* auth tag */
	'h',  'e',  'l',  'l',	'o',
};

static void expect_doc(const char *name, const uint8_t *bytes, size_t len)
{
	uint8_t doc[256];
	ssize_t n = doc_example(name, doc, sizeof(doc));

	tap_begin();
	EXPECT_EQ(n, len);
	EXPECT(n == (ssize_t)len && !memcmp(doc, bytes, len));
	tap_end("docs/protocol.md example '%s' matches the codec byte for byte", name);
}

static void test_doc_examples(void)
{
	struct ep_msg req =
		EP_TEST_MSG(EP_KIND_REQUEST, .task_id = 42, .size_hint_kib = 4, .deadline_ms = 100);
	struct ep_msg rsp = EP_TEST_MSG(EP_KIND_RESPONSE, .task_id = 42, .queue_us = 120,
					.exec_us = 35, .load_pct = 40);
	struct ep_msg err = EP_TEST_MSG(EP_KIND_ERROR, .task_id = 42, .status = EP_ST_OVERLOADED,
					.load_pct = 97);
	struct ep_msg frag = EP_TEST_FRAG_MSG;
	static uint8_t big[2500], buf[1200];
	const char *names[] = { "frag0", "frag1", "frag2" };
	ssize_t n;

	n = ep_frag_build(&req, "hello", 5, 1400, 0, buf, sizeof(buf));
	expect_doc("request", buf, (size_t)n);
	tap_begin();
	EXPECT(n == sizeof(example_request) && !memcmp(buf, example_request, (size_t)n));
	tap_end("the tests' copy of the request example is the documented one");
	n = ep_frag_build(&rsp, "HELLO", 5, 1400, 0, buf, sizeof(buf));
	expect_doc("response", buf, (size_t)n);
	n = ep_frag_build(&err, NULL, 0, 1400, 0, buf, sizeof(buf));
	expect_doc("error", buf, (size_t)n);
	for (uint32_t i = 0; i < 3; i++) {
		n = ep_frag_build(&frag, big, sizeof(big), 1000, i, buf, sizeof(buf));
		EXPECT(n > 0);
		expect_doc(names[i], buf, EP_HDR_LEN);
	}

	/* Address validation (3.7): the token of the worked example (test_token derives it
	 * from the master secret, the time and the address), in a RETRY and in the request
	 * sent again with it; and a request asking for a plain reply of small fragments (3.8). */
	{
		static const uint8_t tag[16] = { 0xc3, 0x9d, 0x2a, 0x22, 0xa9, 0x67, 0x7a, 0x48,
						 0x30, 0x4f, 0x77, 0xa4, 0x81, 0x8b, 0x83, 0x81 };
		struct ep_msg retry = EP_TEST_MSG(EP_KIND_RETRY, .flags = EP_F_TOKEN, .task_id = 42,
						  .auth_key_id = 0x3bb5);
		struct ep_msg again = req;
		struct ep_msg plain = EP_TEST_MSG(EP_KIND_REQUEST, .flags = EP_F_PLAIN_REPLY,
						  .task_id = 43, .reply_mtu = 20);

		memcpy(retry.auth_tag, tag, sizeof(tag));
		n = ep_frag_build(&retry, NULL, 0, 1400, 0, buf, sizeof(buf));
		expect_doc("retry", buf, (size_t)n);
		again.flags = EP_F_TOKEN | EP_F_RETRY;
		again.auth_key_id = 0x3bb5;
		memcpy(again.auth_tag, tag, sizeof(tag));
		n = ep_frag_build(&again, "hello", 5, 1400, 0, buf, sizeof(buf));
		expect_doc("request-token", buf, (size_t)n);
		n = ep_frag_build(&plain, NULL, 0, 1400, 0, buf, sizeof(buf));
		expect_doc("plain-mtu", buf, (size_t)n);
	}

	/* The frame codec (3.9): the documented datagram decodes to the documented frame,
	 * and the codec writes that datagram (its zstd frame is a raw block, the same from
	 * every zstd). */
	{
		static const uint8_t want[] = { 0, 4, 0, 2, 0xff, 0xff, 0,  20, 0,  0,	0,  0,
						0, 0, 0, 0, 10,	  12,	14, 16, 11, 13, 15, 17 };
		struct ep_msg fm = { .kind = EP_KIND_REQUEST,
				     .priority = 3,
				     .flags = EP_F_FRAME,
				     .task_type = 20,
				     .tenant_id = 7,
				     .task_id = 44 };
		struct ep_fc_params prm = { .keep = EP_FC_KEEP_NONE };
		struct ep_fc_enc *e = ep_fc_enc_new();
		struct ep_fc_dec *d = ep_fc_dec_new();
		uint8_t doc[256], coded[128], px[sizeof(want)];
		ssize_t dn = doc_example("frame", doc, sizeof(doc)), c;
		struct ep_msg m = { 0 };
		const uint8_t *payload = NULL;

		c = ep_fc_encode(e, want, sizeof(want), &prm, coded, sizeof(coded));
		n = c > 0 ? ep_frag_build(&fm, coded, (uint32_t)c, 1400, 0, buf, sizeof(buf)) : -1;
		expect_doc("frame", buf, (size_t)n);
		tap_begin();
		EXPECT(dn > EP_HDR_LEN && !ep_decode(doc, (size_t)dn, 0, &m, &payload, NULL));
		EXPECT(m.flags == EP_F_FRAME && payload);
		EXPECT(payload && !ep_fc_decode(d, payload, m.payload_len, px, sizeof(px)) &&
		       !memcmp(px, want, sizeof(want)));
		tap_end("docs/protocol.md example 'frame' decodes to the documented 4 x 2 frame");
		ep_fc_enc_free(e);
		ep_fc_dec_free(d);
	}
}

/* Acknowledgement payloads (5.1): the worked examples, round trips, and every rejection. */
static void test_acks(void)
{
	struct ep_msg tack = EP_TEST_MSG(EP_KIND_TASK_ACK, .task_id = 42, .load_pct = 40);
	struct ep_msg rack = EP_TEST_MSG(EP_KIND_RESULT_ACK, .task_id = 42);
	uint8_t bm[2] = { 0x9b, 0x03 }; /* 0 1 3 4 7 8 9 of 10: 2, 5, 6 missing */
	uint8_t buf[1200], pl[64];
	struct ep_ack a, b;
	struct ep_msg m;
	const uint8_t *payload;
	ssize_t n, plen;

	ep_ack_from_bitmap(&a, bm, 10);
	plen = ep_ack_encode(&a, EP_ACK_MAX_RANGES, pl, sizeof(pl));
	n = ep_frag_build(&tack, pl, (uint32_t)plen, 1400, 0, buf, sizeof(buf));
	expect_doc("task-ack", buf, (size_t)n);
	tap_begin();
	EXPECT_EQ(ep_decode(buf, (size_t)n, 0, &m, &payload, NULL), 0);
	EXPECT_EQ(ep_ack_decode(payload, m.payload_len, &b), 0);
	EXPECT(b.count == 10 && b.n == 3 && ep_ack_held(&b) == 7);
	EXPECT(!ep_ack_has(&b, 2) && !ep_ack_has(&b, 5) && !ep_ack_has(&b, 6));
	EXPECT(ep_ack_has(&b, 0) && ep_ack_has(&b, 4) && ep_ack_has(&b, 9));
	tap_end("a TASK_ACK decodes to the ranges it was made from");

	a = (struct ep_ack){ .count = 8, .n = 2, .r = { { 0, 3 }, { 5, 7 } } };
	plen = ep_ack_encode(&a, EP_ACK_MAX_RANGES, pl, sizeof(pl));
	n = ep_frag_build(&rack, pl, (uint32_t)plen, 1400, 0, buf, sizeof(buf));
	expect_doc("result-ack", buf, (size_t)n);

	tap_begin();
	/* A multi-fragment acknowledgement is no acknowledgement. */
	n = ep_frag_build(&rack, buf + 600, 500, 300, 0, buf, sizeof(buf));
	EXPECT(n < 0 || ep_decode(buf, (size_t)n, 0, &m, &payload, NULL) == -EBADMSG);
	tap_end("an acknowledgement of two fragments is refused");

	tap_begin();
	{
		static const struct {
			uint8_t p[16];
			size_t len;
		} bad[] = {
			{ { 0 }, 3 },					/* short */
			{ { 0, 0, 0, 1, 0, 0, 0, 0 }, 8 },		/* ranges, no count */
			{ { 0, 9, 0, 0 }, 4 },				/* a count, no range */
			{ { 0, 4, 0, 1, 0, 0, 0, 4 }, 8 },		/* last >= count */
			{ { 0, 4, 0, 1, 0, 2, 0, 1 }, 8 },		/* last < first */
			{ { 0, 9, 0, 2, 0, 0, 0, 3, 0, 4, 0, 5 }, 12 }, /* touching */
			{ { 0, 9, 0, 2, 0, 4, 0, 5, 0, 0, 0, 1 }, 12 }, /* descending */
			{ { 0, 9, 0, 2, 0, 0, 0, 3 }, 8 },		/* fewer than n */
			{ { 0, 9, 0, 1, 0, 0, 0, 3, 0 }, 9 },		/* trailing byte */
			{ { 0, 9, 0x01, 0x01 }, 4 + 4 * 257 },		/* n > 256 */
		};
		static uint8_t big[4 + 4 * 257];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(big, 0, sizeof(big));
			memcpy(big, bad[i].p, sizeof(bad[i].p));
			EXPECT_EQ(ep_ack_decode(big, bad[i].len, &b), -EBADMSG);
		}
		EXPECT_EQ(ep_ack_decode((const uint8_t[]){ 0, 0, 0, 0 }, 4, &b), 0);
		EXPECT_EQ(b.count, 0);
	}
	tap_end("every acknowledgement rule is checked; 'nothing held' is valid");

	tap_begin();
	/* Alternating holes: 300 ranges are cut to 256 (the lowest), and to what fits. */
	{
		static uint8_t alt[600 / 8];

		memset(alt, 0x55, sizeof(alt)); /* 0, 2, 4, ... of 600 */
		ep_ack_from_bitmap(&a, alt, 600);
		EXPECT_EQ(a.n, EP_ACK_MAX_RANGES);
		EXPECT_EQ(a.r[255].first, 510);
		plen = ep_ack_encode(&a, 10, buf, sizeof(buf));
		EXPECT_EQ(plen, (ssize_t)ep_ack_len(10));
		plen = ep_ack_encode(&a, EP_ACK_MAX_RANGES, buf, 4 + 4 * 3 + 2);
		EXPECT_EQ(plen, (ssize_t)ep_ack_len(3));
		EXPECT_EQ(ep_ack_decode(buf, (size_t)plen, &b), 0);
		EXPECT(b.count == 600 && b.n == 3 && b.r[2].last == 4);
		memset(alt, 0, sizeof(alt));
		ep_ack_from_bitmap(&a, alt, 600);
		EXPECT(a.count == 0 && a.n == 0);
	}
	tap_end("acknowledgements are cut to 256 ranges, or to the room given, lowest first");
}

static void test_roundtrip(void)
{
	struct ep_msg m = sample_request(), out;
	const uint8_t *payload;
	uint8_t buf[256];
	ssize_t n;

	tap_begin();
	n = ep_frag_build(&m, "abcdefgh", 8, 1400, 0, buf, sizeof(buf));
	EXPECT_EQ(n, EP_HDR_LEN + 8);
	EXPECT_EQ(ep_decode(buf, (size_t)n, 0, &out, &payload, NULL), 0);
	EXPECT_EQ(out.kind, m.kind);
	EXPECT_EQ(out.priority, m.priority);
	EXPECT_EQ(out.flags, m.flags);
	EXPECT_EQ(out.task_type, m.task_type);
	EXPECT_EQ(out.tenant_id, m.tenant_id);
	EXPECT(out.task_id == m.task_id);
	EXPECT_EQ(out.size_hint_kib, m.size_hint_kib);
	EXPECT_EQ(out.deadline_ms, m.deadline_ms);
	EXPECT_EQ(out.total_len, 8);
	EXPECT_EQ(out.payload_len, 8);
	EXPECT_EQ(out.frag_count, 1);
	EXPECT(payload == buf + EP_HDR_LEN);
	tap_end("request round trip keeps every field");

	tap_begin();
	m = (struct ep_msg){ .kind = EP_KIND_ERROR,
			     .priority = 2,
			     .task_type = 9,
			     .task_id = 7,
			     .status = EP_ST_OVERLOADED,
			     .queue_us = 1234,
			     .exec_us = 5678,
			     .load_pct = 93 };
	n = ep_frag_build(&m, NULL, 0, 1400, 0, buf, sizeof(buf));
	EXPECT_EQ(n, EP_HDR_LEN);
	EXPECT_EQ(ep_decode(buf, (size_t)n, 0, &out, &payload, NULL), 0);
	EXPECT_EQ(out.status, EP_ST_OVERLOADED);
	EXPECT_EQ(out.queue_us, 1234);
	EXPECT_EQ(out.exec_us, 5678);
	EXPECT_EQ(out.load_pct, 93);
	EXPECT_EQ(out.total_len, 0);
	tap_end("error reply round trip keeps status, timing and load");
}

static void test_encode_refuses(void)
{
	struct ep_msg m = sample_request();
	uint8_t buf[128];

	tap_begin();
	m.priority = 0;
	EXPECT_EQ(ep_encode_hdr(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_request();
	m.kind = 0x42;
	EXPECT_EQ(ep_encode_hdr(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_request();
	m.flags = 0x80;
	EXPECT_EQ(ep_encode_hdr(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_request();
	m.kind = EP_KIND_ERROR; /* error without a status */
	EXPECT_EQ(ep_encode_hdr(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_request();
	EXPECT_EQ(ep_encode_hdr(&m, buf, EP_HDR_LEN - 1), -EINVAL);
	EXPECT_EQ(ep_frag_build(&m, "x", 1, 1400, 1, buf, sizeof(buf)), -EINVAL);
	EXPECT_EQ(ep_frag_build(&m, "xy", 2, 1400, 0, buf, EP_HDR_LEN + 1), -EMSGSIZE);
	tap_end("encoder refuses what a receiver would drop");
}

struct rule {
	const char *name;
	size_t at; /* byte to change */
	uint8_t val;
	int reason;
};

static void test_rejections(void)
{
	static const struct rule rules[] = {
		{ "magic", 1, 0x51, EP_STAT_DROP_BAD_MAGIC },
		{ "version", 2, 2, EP_STAT_DROP_BAD_VERSION },
		{ "kind 0", 3, 0, EP_STAT_DROP_BAD_KIND },
		{ "kind 0x20", 3, 0x20, EP_STAT_DROP_BAD_KIND },
		{ "priority 0", 4, 0, EP_STAT_DROP_BAD_PRIORITY },
		{ "priority 6", 4, 6, EP_STAT_DROP_BAD_PRIORITY },
		{ "unknown flag", 5, 0x40, EP_STAT_DROP_BAD_FLAGS },
		{ "status on request", 15, 3, EP_STAT_DROP_BAD_FLAGS },
		{ "load on request", 44, 1, EP_STAT_DROP_BAD_FLAGS },
		{ "AUTH with TOKEN", 5, EP_F_AUTH | EP_F_TOKEN, EP_STAT_DROP_AUTH_TOKEN },
		{ "key without AUTH", 46, 1, EP_STAT_DROP_BAD_FLAGS },
		{ "payload_len", 13, 6, EP_STAT_DROP_BAD_LENGTH },
		{ "frag_count 0", 19, 0, EP_STAT_DROP_BAD_FRAGMENT },
		{ "frag_index 1 of 1", 17, 1, EP_STAT_DROP_BAD_FRAGMENT },
		{ "offset", 35, 1, EP_STAT_DROP_BAD_FRAGMENT },
		{ "total_len", 23, 6, EP_STAT_DROP_BAD_FRAGMENT },
		{ "total_len huge", 20, 0x7f, EP_STAT_DROP_TOO_LARGE },
	};
	uint8_t buf[sizeof(example_request)];
	struct ep_msg m;
	enum ep_stat why;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		memcpy(buf, example_request, sizeof(buf));
		buf[rules[i].at] = rules[i].val;
		why = EP_STAT__COUNT;
		tap_begin();
		EXPECT_EQ(ep_decode(buf, sizeof(buf), 0, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, rules[i].reason);
		tap_end("decode rejects bad %s as %s", rules[i].name,
			ep_stat_name(rules[i].reason));
	}

	tap_begin();
	{ /* reply_mtu is a request's field: decoded there, refused on a reply. */
		memcpy(buf, example_request, sizeof(buf));
		buf[45] = 22;
		EXPECT_EQ(ep_decode(buf, sizeof(buf), 0, &m, NULL, &why), 0);
		EXPECT_EQ(m.reply_mtu, 22);
		buf[3] = EP_KIND_RESPONSE;
		EXPECT_EQ(ep_decode(buf, sizeof(buf), 0, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_BAD_FLAGS);
		/* A RETRY carries a token; without the TOKEN flag it is invalid. */
		memcpy(buf, example_request, sizeof(buf));
		buf[3] = EP_KIND_RETRY;
		EXPECT_EQ(ep_decode(buf, sizeof(buf), 0, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_BAD_FLAGS);
		buf[5] = EP_F_TOKEN;
		buf[47] = 7;
		EXPECT_EQ(ep_decode(buf, sizeof(buf), 0, &m, NULL, &why), 0);
		EXPECT_EQ(m.auth_key_id, 7);
	}
	tap_end("reply_mtu decodes on requests only; a RETRY needs the TOKEN flag");

	tap_begin();
	for (size_t len = 0; len < EP_HDR_LEN; len++) {
		why = EP_STAT__COUNT;
		EXPECT_EQ(ep_decode(example_request, len, 0, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_HDR_SHORT);
	}
	for (size_t len = EP_HDR_LEN; len < sizeof(example_request); len++) {
		EXPECT_EQ(ep_decode(example_request, len, 0, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_BAD_LENGTH);
	}
	tap_end("every truncation of a datagram is rejected with the right reason");

	tap_begin();
	{ /* Last fragment 1 of 2 whose offset + length wraps 32 bits onto total_len. */
		struct ep_hdr h;

		memcpy(&h, example_request, sizeof(h));
		h.frag_index = ep_be16(1);
		h.frag_count = ep_be16(2);
		h.payload_len = ep_be16(5);
		h.total_len = ep_be32(1);
		h.frag_offset = ep_be32(0xfffffffcu); /* + 5 = 1 (mod 2^32) */
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), "hello", 5);
		EXPECT_EQ(ep_decode(buf, sizeof(h) + 5, EP_MAX_TASK_LEN, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_BAD_FRAGMENT);
		/* A last fragment implying a fragment size above 65535. */
		h.total_len = ep_be32(70005);
		h.frag_offset = ep_be32(70000);
		memcpy(buf, &h, sizeof(h));
		EXPECT_EQ(ep_decode(buf, sizeof(h) + 5, EP_MAX_TASK_LEN, &m, NULL, &why), -EBADMSG);
		EXPECT_EQ(why, EP_STAT_DROP_BAD_FRAGMENT);
	}
	tap_end("a last fragment whose offset wraps, or implies L > 65535, is rejected");

	tap_begin();
	EXPECT_EQ(ep_decode(example_request, sizeof(example_request), 4, &m, NULL, &why), -EBADMSG);
	EXPECT_EQ(why, EP_STAT_DROP_TOO_LARGE);
	EXPECT_EQ(ep_decode(example_request, sizeof(example_request), 5, &m, NULL, &why), 0);
	tap_end("max_task_len is enforced at the boundary");
}

/* Random and mutated input never crashes; what decodes re-encodes to the same bytes. */
static void test_hostile(void)
{
	uint8_t buf[512], again[512];
	int accepted = 0, mismatched = 0;
	struct ep_msg m;
	const uint8_t *payload;

	for (int i = 0; i < 200000; i++) {
		size_t len = rnd() % sizeof(buf);

		if (i & 1) { /* a valid datagram with a few random byte flips */
			memcpy(buf, example_request, sizeof(example_request));
			len = sizeof(example_request) - (rnd() % 3 == 0 ? rnd() % 8 : 0);
			for (int k = rnd() % 3 + 1; k > 0; k--)
				buf[rnd() % sizeof(example_request)] = (uint8_t)rnd();
		} else {
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rnd();
		}
		if (ep_decode(buf, len, 0, &m, &payload, NULL))
			continue;
		accepted++;
		if (ep_encode_hdr(&m, again, sizeof(again)) != EP_HDR_LEN ||
		    memcmp(again, buf, EP_HDR_LEN) || payload != buf + EP_HDR_LEN ||
		    m.payload_len != len - EP_HDR_LEN)
			mismatched++;
	}
	tap_begin();
	EXPECT(accepted > 0);
	EXPECT_EQ(mismatched, 0);
	tap_end("200000 random/mutated datagrams: no crash, %d accepted re-encode identically",
		accepted);
}

static void test_frag_math(void)
{
	/* ep_frag_count(total, frag_size): 0 for no fragment size, or more than 65535. */
	static const struct {
		uint32_t total, frag_size, want;
	} counts[] = {
		{ 0, 1000, 1 },		  { 1, 1000, 1 }, { 1000, 1000, 1 },
		{ 1001, 1000, 2 },	  { 10, 0, 0 },	  { 65535u * 2 + 1, 2, 0 },
		{ 65535u * 2, 2, 65535 },
	};
	/* ep_frag_size_for_mtu(mtu, ipv6): the MTU less IP, UDP and the 64-byte header. */
	static const struct {
		uint32_t mtu;
		bool ipv6;
		uint32_t want;
	} sizes[] = {
		{ 1500, false, 1500 - 20 - 8 - 64 },
		{ 1500, true, 1500 - 40 - 8 - 64 },
		{ 100, true, 0 },
		{ 9000, false, 9000 - 92 },
	};

	tap_begin();
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		EXPECT_EQ(ep_frag_count(counts[i].total, counts[i].frag_size), counts[i].want);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		EXPECT_EQ(ep_frag_size_for_mtu(sizes[i].mtu, sizes[i].ipv6), sizes[i].want);
	tap_end("fragment count and size arithmetic, including limits");
}

/* Every fragment of random tasks decodes, and the slices tile the payload exactly. */
static void test_frag_tiling(void)
{
	static uint8_t payload[300000], seen[300000], dgram[70000];
	int bad = 0;

	for (int t = 0; t < 300; t++) {
		uint32_t total = (uint32_t)(rnd() % sizeof(payload));
		uint32_t fs = (uint32_t)(rnd() % 9000) + 1;
		uint32_t count = ep_frag_count(total, fs);
		struct ep_msg m = sample_request(), d;
		const uint8_t *p;

		if (!count)
			continue;
		for (uint32_t i = 0; i < total; i++)
			payload[i] = (uint8_t)rnd();
		memset(seen, 0, total);
		for (uint32_t i = 0; i < count; i++) {
			ssize_t n = ep_frag_build(&m, payload, total, fs, i, dgram, sizeof(dgram));

			if (n < 0 || ep_decode(dgram, (size_t)n, EP_MAX_TASK_LEN, &d, &p, NULL) ||
			    d.frag_index != i || d.frag_count != count ||
			    memcmp(payload + d.frag_offset, p, d.payload_len)) {
				bad++;
				break;
			}
			for (uint32_t k = 0; k < d.payload_len; k++)
				seen[d.frag_offset + k]++;
		}
		for (uint32_t k = 0; k < total; k++)
			bad += seen[k] != 1;
	}
	tap_begin();
	EXPECT_EQ(bad, 0);
	tap_end("300 random tasks: fragments decode and tile the payload exactly once");
}

static void test_names(void)
{
	tap_begin();
	EXPECT(!strcmp(ep_stat_name(EP_STAT_DROP_BAD_MAGIC), "drop_bad_magic"));
	EXPECT(!strcmp(ep_stat_name(EP_STAT__COUNT), "?"));
	EXPECT(!strcmp(ep_status_name(EP_ST_OVERLOADED), "overloaded"));
	EXPECT(!strcmp(ep_status_name(999), "?"));
	EXPECT(ep_status_retriable(EP_ST_OVERLOADED));
	EXPECT(!ep_status_retriable(EP_ST_UNKNOWN_TYPE));
	EXPECT(!strcmp(ep_kind_name(EP_KIND_CANCEL), "cancel"));
	EXPECT(!strcmp(ep_kind_name(EP_KIND_TASK_ACK), "task_ack"));
	EXPECT(!strcmp(ep_kind_name(EP_KIND_RESULT_ACK), "result_ack"));
	for (unsigned int i = 0; i < EP_STAT__COUNT; i++)
		EXPECT(strcmp(ep_stat_name(i), "?"));
	for (unsigned int i = 0; i < EP_ST__COUNT; i++)
		EXPECT(strcmp(ep_status_name(i), "?"));
	tap_end("every counter and status has a name");
}

int main(void)
{
	test_doc_examples();
	test_acks();
	test_roundtrip();
	test_encode_refuses();
	test_rejections();
	test_hostile();
	test_frag_math();
	test_frag_tiling();
	test_names();
	return tap_finish();
}
