/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * report_auth.h - authenticated load reports (docs/protocol.md 3.5 and 7.1): with
 * enrollment on, a LOAD_REPORT must be an AUTH datagram sealed with the node's own key
 * (the "self" key of its sync), sender = its node id, reporting for that node id, with a pn
 * above the last accepted one from that key (a replay window of EP_REPLAY_WINDOW allows a
 * little reordering). Checked before the registry sees the report; each refusal counted
 * by reason beside the registry's outcomes.
 */
#ifndef EP_CONTROL_REPORT_AUTH_H
#define EP_CONTROL_REPORT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keystore.h"

#define EP_RAUTH_LIST(X)                                                               \
	X(OK, "authenticated")		     /* passed: on to the registry */          \
	X(PLAIN, "plain")		     /* not AUTH, enrollment off: as before */ \
	X(MISSING, "auth_missing")	     /* not AUTH, and enrollment is on */      \
	X(UNKNOWN_KEY, "auth_unknown_key")   /* no such key (or enrollment off) */     \
	X(NOT_NODE_KEY, "auth_not_node_key") /* a device's key */                      \
	X(REVOKED, "auth_revoked")                                                     \
	X(EXPIRED, "auth_expired")                                                     \
	X(BAD_TAG, "auth_bad_tag")	     /* the tag does not verify */             \
	X(WRONG_SENDER, "auth_wrong_sender") /* the nonce's sender or the report's     \
					      * node id is not the key's node */       \
	X(REPLAY, "auth_replay")	     /* a pn seen, or older than the window */

enum ep_rauth {
#define EP_X_ENUM(name, str) EP_RAUTH_##name,
	EP_RAUTH_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_RAUTH__COUNT
};

const char *ep_rauth_name(unsigned int r);
/* The outcomes that refuse the report. */
static inline bool ep_rauth_refused(enum ep_rauth r)
{
	return r >= EP_RAUTH_MISSING;
}

/*
 * Authenticate the LOAD_REPORT @buf (@len bytes, already accepted by
 * ep_reg_decode_report()) against @ks (NULL: enrollment is off) at @now_ms (Unix ms). An
 * AUTH report is decrypted in place: decode it again for its plaintext. *key_id gets the
 * key id it carried (0 if none).
 */
enum ep_rauth ep_report_auth(struct ep_keystore *ks, uint8_t *buf, size_t len, uint64_t now_ms,
			     uint16_t *key_id);

#endif /* EP_CONTROL_REPORT_AUTH_H */
