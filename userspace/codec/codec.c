// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "edgeplane/codec.h"
#include "ep_check.h"

/*
 * The header's fields and the message's members they carry, with their width in bits:
 * one list for both directions, so that encoding and decoding cannot disagree. HDR_COMMON
 * stands in every header, HDR_RSP in client-bound ones (results, acks), HDR_REQ in the
 * others; payload_len (which counts the nonce of an AUTH datagram), magic, version and the
 * tag are done by hand.
 */
#define HDR_COMMON(X)                   \
	X(kind, kind, 8)                \
	X(priority, priority, 8)        \
	X(flags, flags, 8)              \
	X(task_type, task_type, 16)     \
	X(tenant_id, tenant_id, 32)     \
	X(status, status, 16)           \
	X(frag_index, frag_index, 16)   \
	X(frag_count, frag_count, 16)   \
	X(total_len, total_len, 32)     \
	X(task_id, task_id, 64)         \
	X(frag_offset, frag_offset, 32) \
	X(auth_key_id, auth_key_id, 16)
#define HDR_RSP(X)                    \
	X(rsp.queue_us, queue_us, 32) \
	X(rsp.exec_us, exec_us, 32)   \
	X(load_pct, load_pct, 8)
#define HDR_REQ(X)                              \
	X(req.size_hint_kib, size_hint_kib, 32) \
	X(req.deadline_ms, deadline_ms, 32)     \
	X(reply_mtu, reply_mtu, 8)

#define ep_be8(x)	       (x) /* one byte: no byte order */
#define TO_HDR(hf, mf, bits)   h->hf = ep_be##bits(m->mf);
#define FROM_HDR(hf, mf, bits) m->mf = ep_be##bits(h->hf);

static void hdr_from_msg(const struct ep_msg *m, struct ep_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = ep_be16(EP_MAGIC);
	h->version = EP_VERSION;
	HDR_COMMON(TO_HDR)
	h->payload_len = ep_be16(m->payload_len + (m->flags & EP_F_AUTH ? EP_AUTH_NONCE_LEN : 0));
	if (EP_KIND_IS_CLIENT_BOUND(m->kind)) {
		HDR_RSP(TO_HDR)
	} else {
		HDR_REQ(TO_HDR)
	}
	memcpy(h->auth_tag, m->auth_tag, sizeof(h->auth_tag));
}

static void msg_from_hdr(const struct ep_hdr *h, struct ep_msg *m)
{
	memset(m, 0, sizeof(*m));
	HDR_COMMON(FROM_HDR)
	m->payload_len = ep_be16(h->payload_len);
	if ((m->flags & EP_F_AUTH) && m->payload_len >= EP_AUTH_NONCE_LEN)
		m->payload_len -= EP_AUTH_NONCE_LEN; /* the slice, after the nonce */
	if (EP_KIND_IS_CLIENT_BOUND(h->kind)) {
		HDR_RSP(FROM_HDR)
	} else {
		HDR_REQ(FROM_HDR)
	}
	memcpy(m->auth_tag, h->auth_tag, sizeof(m->auth_tag));
}

int ep_encode_hdr(const struct ep_msg *m, void *buf, size_t len)
{
	struct ep_hdr h;

	if (len < sizeof(h))
		return -EINVAL;
	hdr_from_msg(m, &h);
	/* Refuse to produce what a receiver would drop. */
	if (ep_hdr_check(&h, sizeof(h) + ep_be16(h.payload_len), EP_MAX_TASK_LEN))
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

int ep_decode(const void *buf, size_t len, uint32_t max_task_len, struct ep_msg *m,
	      const uint8_t **payload, enum ep_stat *reason)
{
	struct ep_hdr h;
	int err;

	if (!max_task_len)
		max_task_len = EP_DEFAULT_MAX_TASK_LEN;
	if (max_task_len > EP_MAX_TASK_LEN)
		max_task_len = EP_MAX_TASK_LEN;
	if (len < sizeof(h) || len > EP_DGRAM_MAX) {
		err = len < sizeof(h) ? -EP_STAT_DROP_HDR_SHORT : -EP_STAT_DROP_BAD_LENGTH;
		goto bad;
	}
	memcpy(&h, buf, sizeof(h)); /* the buffer may be unaligned */
	err = ep_hdr_check(&h, (uint32_t)len, max_task_len);
	if (err)
		goto bad;
	msg_from_hdr(&h, m);
	if (h.flags & EP_F_AUTH) {
		const uint8_t *p = (const uint8_t *)buf + sizeof(h);

		for (int i = 0; i < 4; i++)
			m->auth_sender = m->auth_sender << 8 | p[i];
		for (int i = 4; i < EP_AUTH_NONCE_LEN; i++)
			m->auth_pn = m->auth_pn << 8 | p[i];
	}
	if (payload)
		*payload = (const uint8_t *)buf + ep_payload_off(m);
	return 0;
bad:
	if (reason)
		*reason = (enum ep_stat) - err;
	return -EBADMSG;
}

uint32_t ep_frag_size_for_mtu(uint32_t mtu, bool ipv6)
{
	uint32_t over = (ipv6 ? 40 : 20) + 8 + EP_HDR_LEN;

	if (mtu <= over)
		return 0;
	mtu -= over;
	return mtu > EP_DGRAM_MAX - EP_HDR_LEN ? EP_DGRAM_MAX - EP_HDR_LEN : mtu;
}

uint32_t ep_frag_size_for(uint32_t mtu, bool ipv6, uint8_t flags)
{
	uint32_t fs = ep_frag_size_for_mtu(mtu, ipv6);

	if (flags & EP_F_AUTH)
		fs = fs > EP_AUTH_NONCE_LEN ? fs - EP_AUTH_NONCE_LEN : 0;
	return fs;
}

uint32_t ep_frag_count(uint32_t total, uint32_t frag_size)
{
	uint64_t n;

	if (!frag_size || frag_size > 0xffff)
		return 0;
	n = total ? ((uint64_t)total + frag_size - 1) / frag_size : 1;
	return n > EP_MAX_FRAGS ? 0 : (uint32_t)n;
}

ssize_t ep_frag_build(const struct ep_msg *tmpl, const void *payload, uint32_t total,
		      uint32_t frag_size, uint32_t index, void *out, size_t outlen)
{
	uint32_t count = ep_frag_count(total, frag_size);
	struct ep_msg m = *tmpl;
	uint32_t off, len;
	int err;

	if (!count || index >= count)
		return -EINVAL;
	off = index * frag_size;
	len = total - off < frag_size ? total - off : frag_size;
	if (outlen < ep_payload_off(tmpl) + (size_t)len)
		return -EMSGSIZE;
	m.total_len = total;
	m.frag_index = (uint16_t)index;
	m.frag_count = (uint16_t)count;
	m.frag_offset = off;
	m.payload_len = (uint16_t)len;
	err = ep_encode_hdr(&m, out, outlen);
	if (err < 0)
		return err;
	if (tmpl->flags & EP_F_AUTH)
		memset((uint8_t *)out + EP_HDR_LEN, 0, EP_AUTH_NONCE_LEN); /* sealing sets it */
	if (len)
		memcpy((uint8_t *)out + ep_payload_off(tmpl), (const uint8_t *)payload + off, len);
	return ep_payload_off(tmpl) + len;
}

const char *ep_stat_name(unsigned int stat)
{
	static const char *const names[] = {
#define EP_X_NAME(name, str) str,
		EP_STAT_LIST(EP_X_NAME)
#undef EP_X_NAME
	};

	return stat < EP_STAT__COUNT ? names[stat] : "?";
}

#define EP_X_STATUS_NAME(name, val, str, retry)	 [val] = str,
#define EP_X_STATUS_RETRY(name, val, str, retry) [val] = retry,
static const char *const status_names[EP_ST__COUNT] = { EP_STATUS_LIST(EP_X_STATUS_NAME) };
static const unsigned char status_retry[EP_ST__COUNT] = { EP_STATUS_LIST(EP_X_STATUS_RETRY) };

const char *ep_status_name(unsigned int status)
{
	return status < EP_ST__COUNT && status_names[status] ? status_names[status] : "?";
}

bool ep_status_retriable(unsigned int status)
{
	return status < EP_ST__COUNT && status_retry[status];
}

const char *ep_kind_name(unsigned int kind)
{
	switch (kind) {
	case EP_KIND_REQUEST:
		return "request";
	case EP_KIND_RESPONSE:
		return "response";
	case EP_KIND_ERROR:
		return "error";
	case EP_KIND_PING:
		return "ping";
	case EP_KIND_PONG:
		return "pong";
	case EP_KIND_CANCEL:
		return "cancel";
	case EP_KIND_LOAD_REPORT:
		return "load_report";
	case EP_KIND_RETRY:
		return "retry";
	case EP_KIND_TASK_ACK:
		return "task_ack";
	case EP_KIND_RESULT_ACK:
		return "result_ack";
	default:
		return "?";
	}
}
