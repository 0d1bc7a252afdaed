// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runtime's configuration file (dataplane/daemon/config.c: ep_conf_load() over the
 * defaults, then ep_conf_validate()), read by libconfig from a file whose bytes are the
 * input; then what the runtime does next with a valid file: its queue list, and the
 * built-in handlers it names, added to a handler registry (plugins are not opened: that
 * would run any library the input names). The same input, as a string, goes through
 * ep_conf_parse_list(), the reader of the -q and --cpus options. A file that loads is
 * printed (--print-config), and what is printed must load and print the same.
 */
#include <errno.h>

#include "core/registry.h"
#include "daemon/config.h"
#include "fuzz.h"

FZ_DEFINE_CONF_CHECKS(ep_conf)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ep_registry reg;
	const char *path = fz_file(data, size);
	int list[EP_MAX_QUEUES], n;
	struct ep_conf c;
	char *s;
	int err;

	if (!path)
		return 0;
	err = fz_load_ep_conf(&c, path);
	FZ_CHECK(c.nqueues <= EP_MAX_QUEUES && c.nhandlers <= EP_MAX_HANDLERS);
	if (!err && !ep_conf_validate(&c)) {
		(void)ep_conf_all_queues(&c);
		FZ_CHECK(c.nqueues <= EP_MAX_QUEUES);
		for (unsigned int i = 0; i < c.nhandlers; i++) {
			const struct ep_handler_conf *h = &c.handlers[i];

			FZ_CHECK(h->nfiles <= EP_MAX_FILES);
			if (!h->plugin)
				(void)ep_registry_add_builtin(&reg, h->name, h->type, h->args);
		}
		ep_registry_release(&reg);
	}
	ep_conf_free(&c);

	s = strndup((const char *)data, size);
	FZ_CHECK(s);
	n = ep_conf_parse_list(s, list, EP_MAX_QUEUES, 0, EP_MAX_QUEUES - 1);
	FZ_CHECK(n == -EINVAL || (n >= 1 && n <= EP_MAX_QUEUES));
	for (int i = 0; i < n; i++)
		FZ_CHECK(list[i] >= 0 && list[i] < EP_MAX_QUEUES);
	free(s);
	return 0;
}
