/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * roles.h - the enrollment policy file (enroll.policy; docs/operations.md, "Enrollment and
 * PKI"): which device roles may enroll, and what their keys may do.
 *
 *   roles = {
 *     camera = { types = [1, 2]; max_priority = 3; tasks_per_s = 200; burst_tasks = 50;
 *                kib_per_s = 20000; burst_kib = 4096; max_task_len = 1048576;
 *                key_ttl_s = 3600; };
 *     robot  = { types = "*"; };
 *   };
 *
 * A device's certificate OU is looked up here; "node" and "controller" are not device
 * roles and cannot be defined. Task types by number (0..255): the names of the built-in
 * handlers are a node's choice (its config may renumber them), so the controller cannot
 * know them.
 */
#ifndef EP_CONTROL_ROLES_H
#define EP_CONTROL_ROLES_H

#include <stdint.h>

#include "edgeplane/enroll.h"

#define EP_ROLE_TTL_MAX 2592000 /* 30 days, in seconds */

struct ep_role {
	char name[EP_KEY_ROLE_MAX];
	struct ep_key_limits lim;
	uint32_t key_ttl_s; /* 0: enroll.key_ttl_s */
};

struct ep_roles {
	unsigned int n;
	struct ep_role *r;
};

/*
 * Read @path (libconfig, strict: an unknown setting, a wrong type or a value out of range
 * names the file, the line and the setting). Returns 0, or -EINVAL after logging every
 * problem (@rs is then empty).
 */
int ep_roles_load(struct ep_roles *rs, const char *path);
const struct ep_role *ep_roles_find(const struct ep_roles *rs, const char *name);
void ep_roles_free(struct ep_roles *rs);

#endif /* EP_CONTROL_ROLES_H */
