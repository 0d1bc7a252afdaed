/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * client_hooks.h - what the unit tests replace in an authenticated session: the clocks its
 * keys go by, and the enrollment (a controller of the test's). Not part of the API: the
 * shared library does not export these.
 */
#ifndef EP_CLIENT_HOOKS_H
#define EP_CLIENT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeplane/enroll.h"

struct ep_client;

struct ep_client_hooks {
	uint64_t (*now_ns)(void *arg);	    /* CLOCK_MONOTONIC, ns */
	uint64_t (*now_real_ns)(void *arg); /* CLOCK_REALTIME, ns */
	int (*enroll)(void *arg, const struct ep_enroll_cfg *cfg, struct ep_key_info *k,
		      uint64_t *renew_after_ms, char *err, size_t errlen);
	void *arg;
	bool no_thread; /* no renewal thread: the test calls ep_session_auth_step() */
};

/* Taken by each ep_client_open_auth() while set; NULL: the real clocks and enrollment. */
extern const struct ep_client_hooks *ep_session_test_hooks;

/* What the renewal thread does each time it wakes: enroll if it is due (with the session
 * lock released during the enrollment). Returns 1 (a new key), 0 (not due) or the
 * enrollment's negative errno. */
int ep_session_auth_step(struct ep_client *c);

#endif /* EP_CLIENT_HOOKS_H */
