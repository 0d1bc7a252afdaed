/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * edgeplane/status.h - the wire protocol's status codes (docs/protocol.md), carried in
 * ERROR messages, reported by clients, and set by handlers in struct ep_hres.status
 * (handler.h): installed, so that a plugin writes EP_ST_INVALID_INPUT, not 10. The BPF
 * programs include it through bpf/ep_shared.h: nothing here but constants.
 */
#ifndef EDGEPLANE_STATUS_H
#define EDGEPLANE_STATUS_H

/* The numbers and the printable names in one place: X(NAME, value, "name", retriable). */
#define EP_STATUS_LIST(X)                               \
	X(OK, 0, "ok", 0)                               \
	X(MALFORMED, 1, "malformed", 0)                 \
	X(UNKNOWN_TYPE, 2, "unknown_type", 0)           \
	X(TOO_LARGE, 3, "too_large", 0)                 \
	X(TIMEOUT, 4, "timeout", 1)                     \
	X(OVERLOADED, 5, "overloaded", 1)               \
	X(HANDLER_FAILED, 6, "handler_failed", 0)       \
	X(DEADLINE_EXCEEDED, 7, "deadline_exceeded", 0) \
	X(DECOMPRESS_FAILED, 8, "decompress_failed", 1) \
	X(UNAUTHORIZED, 9, "unauthorized", 0)           \
	X(INVALID_INPUT, 10, "invalid_input", 0)        \
	X(CANCELLED, 11, "cancelled", 0)                \
	X(UNSUPPORTED, 12, "unsupported", 0)            \
	X(INTERNAL, 13, "internal", 1)                  \
	X(CONFLICT, 14, "conflict", 0)

enum ep_status {
#define EP_X_ENUM(name, val, str, retry) EP_ST_##name = val,
	EP_STATUS_LIST(EP_X_ENUM)
#undef EP_X_ENUM
		EP_ST__COUNT
};

#endif /* EDGEPLANE_STATUS_H */
