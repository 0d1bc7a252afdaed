// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's configuration file (control/config.c: ep_ctl_conf_load() over the
 * defaults, then ep_ctl_conf_validate()), read by libconfig from a file whose bytes are the
 * input. A file that loads and validates then starts a controller as `edgectl serve` does
 * (over tests/fuzz/fake_gw.c): the registry takes its nodes, the first publish succeeds,
 * and the views an operator reads (`edgectl nodes`, status, policy, /metrics) render every
 * node, whatever bytes the file put in names and addresses. A file that loads is printed
 * (--print-config), and what is printed must load and print the same.
 */
#include <errno.h>

#include "edgeplane/log.h"
#include "fuzz_ctl.h"

FZ_DEFINE_CONF_CHECKS(ep_ctl_conf)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);
	static struct ep_ctl ctl;
	static struct ep_ctl_conf c;
	int err;

	if (!path)
		return 0;
	err = fz_load_ep_ctl_conf(&c, path);
	FZ_CHECK(c.nnodes <= EP_GW_MAX_NODES);
	if (!err && !ep_ctl_conf_validate(&c)) {
		enum ep_log_level lvl;

		FZ_CHECK(!ep_log_parse_level(c.log_level, &lvl));
		fz_ctl_init(&ctl, &c.reg);
		ctl.conf = &c;
		ctl.policy = c.policy;
		for (unsigned int i = 0; i < c.nnodes; i++) {
			/* A node the file describes fully is one the registry takes. */
			err = ep_reg_add(&ctl.reg, &c.nodes[i], FZ_T0);
			FZ_CHECK(err == 0 || err == -EINVAL);
		}
		fz_ctl_check(&ctl);
		fz_ctl_publish(&ctl, FZ_T0);
		fz_ctl_views(&ctl);
		fz_ctl_fini(&ctl);
	}
	ep_ctl_conf_free(&c);
	return 0;
}
