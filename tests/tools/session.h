/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * session.h - the client session a TAP test tool needs for every check it makes: opened, or
 * the run bailed out. For the tools built against libedgeplane's public header only
 * (tests/integration/loss.c) as much as for the others.
 */
#ifndef EP_TEST_TOOLS_SESSION_H
#define EP_TEST_TOOLS_SESSION_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/client.h"

/*
 * A session to @host (a numeric IPv4 or IPv6 address) with the options @co, whose host it
 * sets. Returns the session, which the caller closes; when it cannot be opened, prints
 * "Bail out!" with the reason and exits 1.
 */
static inline struct ep_client *tool_session(struct ep_client_opts *co, const char *host)
{
	struct ep_client *cli;
	int err;

	co->host = host;
	err = ep_client_open(co, &cli);
	if (err) {
		printf("Bail out! session to %s: %s\n", host, strerror(-err));
		exit(1);
	}
	return cli;
}

#endif
