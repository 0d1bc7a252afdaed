// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's configuration file (control/config.c: ep_ctl_conf_load() over the
 * defaults, then ep_ctl_conf_validate()), read by libconfig from a file whose bytes are the
 * input. What loads and validates must then give a registry that accepts every configured
 * node, as `edgectl serve` adds them at start.
 */
#include <errno.h>

#include "edgeplane/log.h"
#include "fuzz_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	struct ep_ctl_conf c;
	struct ep_registry *reg;
	int err;

	if (!path)
		return 0;
	ep_ctl_conf_defaults(&c);
	err = ep_ctl_conf_load(&c, path);
	FZ_CHECK(err == 0 || err == -EINVAL);
	FZ_CHECK(c.nnodes <= EP_GW_MAX_NODES);
	if (!err && !ep_ctl_conf_validate(&c)) {
		enum ep_log_level lvl;
		struct ep_policy p = c.policy;
		struct ep_gw_cfg cfg = { 0 };

		FZ_CHECK(!ep_log_parse_level(c.log_level, &lvl));
		ep_policy_to_cfg(&p, &cfg);
		ep_policy_from_cfg(&p, &cfg);
		reg = calloc(1, sizeof(*reg));
		FZ_CHECK(reg);
		ep_reg_init(reg, &c.reg);
		for (unsigned int i = 0; i < c.nnodes; i++) {
			/* A node the file describes fully is one the registry takes. */
			err = ep_reg_add(reg, &c.nodes[i], FZ_T0);
			FZ_CHECK(err == 0 || err == -EINVAL);
		}
		free(reg);
	}
	ep_ctl_conf_free(&c);
	return 0;
}
