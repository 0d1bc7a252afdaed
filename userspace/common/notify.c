// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "edgeplane/log.h"
#include "edgeplane/notify.h"

void ep_notify_systemd(const char *state)
{
	int err;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	err = sd_notify(0, state);
	if (err < 0)
		pr_warn("sd_notify(%s): %s", state, strerror(-err));
}
