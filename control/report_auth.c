// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "edgeplane/auth.h"
#include "edgeplane/codec.h"
#include "report_auth.h"
#include "xlist.h"

const char *ep_rauth_name(unsigned int r)
{
	return EP_XLIST_NAME(EP_RAUTH_LIST, EP_RAUTH__COUNT, r);
}

enum ep_rauth ep_report_auth(struct ep_keystore *ks, uint8_t *buf, size_t len, uint64_t now_ms,
			     uint16_t *key_id)
{
	struct ep_load_report rep;
	const uint8_t *payload;
	struct ep_key_info k;
	struct ep_aead *a;
	uint32_t node_id, sender;
	struct ep_msg m;
	uint64_t pn, issued;
	int err;

	*key_id = 0;
	if (ep_decode(buf, len, sizeof(rep), &m, &payload, NULL) || m.payload_len != sizeof(rep))
		return EP_RAUTH_BAD_TAG; /* not for us to see: the caller decoded it */
	if (!(m.flags & EP_F_AUTH))
		return ks ? EP_RAUTH_MISSING : EP_RAUTH_PLAIN;
	*key_id = m.auth_key_id;
	if (!ks || ep_ks_lookup(ks, m.auth_key_id, &k, &node_id))
		return EP_RAUTH_UNKNOWN_KEY;
	if (!node_id) {
		ep_key_info_wipe(&k);
		return EP_RAUTH_NOT_NODE_KEY;
	}
	if (k.revoked || now_ms >= k.expires_unix_ms) {
		enum ep_rauth r = k.revoked ? EP_RAUTH_REVOKED : EP_RAUTH_EXPIRED;

		ep_key_info_wipe(&k);
		return r;
	}
	issued = k.issued_unix_ms;
	a = ep_aead_new(k.key);
	ep_key_info_wipe(&k);
	if (!a)
		return EP_RAUTH_BAD_TAG;
	err = ep_aead_open(a, buf, len, &sender, &pn);
	ep_aead_free(a);
	if (err)
		return EP_RAUTH_BAD_TAG;
	memcpy(&rep, payload, sizeof(rep));
	if (sender != node_id || ntohl(rep.node_id) != node_id)
		return EP_RAUTH_WRONG_SENDER;
	/* After the tag: a forged datagram moves no window. */
	err = ep_ks_replay(ks, m.auth_key_id, issued, pn);
	if (err == -ENOENT)
		return EP_RAUTH_UNKNOWN_KEY; /* gone since the lookup */
	return err ? EP_RAUTH_REPLAY : EP_RAUTH_OK;
}
