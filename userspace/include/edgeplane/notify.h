/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * notify.h - the daemons' word to systemd for units of Type=notify (edgeplane@.service,
 * edgectl.service): READY=1 once serving, STOPPING=1 on the way out.
 */
#ifndef EDGEPLANE_NOTIFY_H
#define EDGEPLANE_NOTIFY_H

/*
 * Tell systemd @state ("READY=1", "STOPPING=1") through libsystemd's sd_notify(); nothing
 * when not started by systemd (no NOTIFY_SOCKET). A failure is only worth a warning
 * (logged): systemd then times the unit out, which says more than we could.
 */
void ep_notify_systemd(const char *state);

#endif
