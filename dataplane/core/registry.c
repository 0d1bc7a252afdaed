// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "edgeplane/log.h"
#include "handlers/builtin.h"

static int add(struct ep_registry *r, const struct ep_handler *h, uint16_t type,
	       const char *args, void *dl)
{
	struct ep_reg_entry *e;

	if (!type)
		type = h->default_type;
	if (r->by_type[type]) {
		pr_err("task type %u is served twice (%s and %s)", type,
		       r->e[r->by_type[type] - 1].h->name, h->name);
		return -EEXIST;
	}
	if (r->n == EP_MAX_HANDLERS) {
		pr_err("more than %d handlers", EP_MAX_HANDLERS);
		return -ENOSPC;
	}
	e = &r->e[r->n];
	*e = (struct ep_reg_entry){ .h = h, .type = type, .dl = dl };
	if (args && !(e->args = strdup(args)))
		return -ENOMEM;
	r->by_type[type] = (uint8_t)(++r->n);
	return (int)r->n - 1;
}

int ep_registry_add_builtin(struct ep_registry *r, const char *name, uint16_t type,
			    const char *args)
{
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++)
		if (!strcmp((*h)->name, name))
			return add(r, *h, type, args, NULL);
	pr_err("no built-in handler named '%s'", name);
	return -ENOENT;
}

int ep_registry_add_defaults(struct ep_registry *r)
{
	for (const struct ep_handler *const *h = ep_builtin_handlers; *h; h++) {
		int ret;

		if (ep_builtin_needs_config(*h))
			continue;
		ret = add(r, *h, 0, NULL, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ep_registry_add_plugin(struct ep_registry *r, const char *path, const char *name,
			   uint16_t type, const char *args)
{
	const struct ep_handler *const *hs;
	ep_plugin_handlers_fn fn;
	uint32_t abi;
	int ret = -ENOENT;
	void *dl;

	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		pr_err("plugin %s: %s", path, dlerror());
		return -ENOENT;
	}
	*(void **)&fn = dlsym(dl, EP_PLUGIN_SYMBOL);
	if (!fn) {
		pr_err("plugin %s: no symbol %s", path, EP_PLUGIN_SYMBOL);
		goto err_close;
	}
	/* The newest version the plugin serves: a version-1 plugin answers only 1. */
	for (abi = EP_HANDLER_ABI_VERSION; abi >= EP_HANDLER_ABI_MIN; abi--)
		if ((hs = fn(abi)))
			break;
	if (!hs) {
		pr_err("plugin %s: serves no handler ABI version this runtime speaks (%d..%d)",
		       path, EP_HANDLER_ABI_MIN, EP_HANDLER_ABI_VERSION);
		ret = -EPROTO;
		goto err_close;
	}
	for (; *hs; hs++) {
		if (name && strcmp((*hs)->name, name))
			continue;
		if ((*hs)->abi_version < EP_HANDLER_ABI_MIN || (*hs)->abi_version > abi ||
		    !(*hs)->run || !(*hs)->out_size) {
			pr_err("plugin %s: handler %s: ABI version %u (the plugin was asked for %u) "
			       "or no run/out_size", path, (*hs)->name, (*hs)->abi_version, abi);
			ret = -EPROTO;
			goto err_close;
		}
		ret = add(r, *hs, name ? type : 0, args, dl);
		if (ret < 0)
			goto err_close;
		dl = NULL;	/* the first entry owns the handle */
		if (name)
			break;
	}
	if (ret == -ENOENT) {
		pr_err("plugin %s: no handler named '%s'", path, name);
		goto err_close;
	}
	return ret;

err_close:
	if (dl)
		dlclose(dl);
	return ret;
}

static void handler_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ep_vlog(level <= 0 ? EP_LOG_ERROR : level >= 3 ? EP_LOG_DEBUG : (enum ep_log_level)level,
		fmt, ap);
	va_end(ap);
}

int ep_registry_init_worker(const struct ep_registry *r, unsigned int worker,
			    uint32_t max_task_len, void **states)
{
	for (unsigned int i = 0; i < r->n; i++) {
		const struct ep_reg_entry *e = &r->e[i];
		struct ep_handler_env env = {
			.abi_version = e->h->abi_version < EP_HANDLER_ABI_VERSION ?
					       e->h->abi_version : EP_HANDLER_ABI_VERSION,
			.worker = worker,
			.type = e->type,
			.args = e->args,
			.files = e->files,
			.nfiles = e->nfiles,
			.max_task_len = max_task_len,
			.log = handler_log,
		};
		int err;

		states[i] = NULL;
		if (!e->h->init)
			continue;
		err = e->h->init(&env, &states[i]);
		if (err) {
			pr_err("handler %s (type %u): init on worker %u: %s", e->h->name, e->type,
			       worker, strerror(err < 0 ? -err : err));
			while (i--)
				if (r->e[i].h->fini)
					r->e[i].h->fini(states[i]);
			return err < 0 ? err : -err;
		}
	}
	return 0;
}

void ep_registry_fini_worker(const struct ep_registry *r, void **states)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (r->e[i].h->fini)
			r->e[i].h->fini(states[i]);
}

void ep_registry_release(struct ep_registry *r)
{
	for (unsigned int i = 0; i < r->n; i++) {
		struct ep_reg_entry *e = &r->e[i];

		for (unsigned int f = 0; f < e->nfiles; f++) {
			free((void *)e->files[f].path);
			free((void *)e->files[f].data);
		}
		free(e->files);
		free(e->args);
	}
	/* Plugins last: handler tables live in them. */
	for (unsigned int i = 0; i < r->n; i++)
		if (r->e[i].dl)
			dlclose(r->e[i].dl);
	r->n = 0;
	memset(r->by_type, 0, sizeof(r->by_type));
}
