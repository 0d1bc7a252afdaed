// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/registry.h"
#include "core/sign.h"
#include "edgeplane/log.h"
#include "handlers/builtin.h"

static int add(struct ep_registry *r, const struct ep_handler *h, uint16_t type, const char *args,
	       void *dl)
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
	*e = (struct ep_reg_entry){ .h = h, .type = type, .dl = dl, .dl_fd = -1 };
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

/* Owned by root or by us, and writable by the owner alone. */
static int check_owner_mode(const char *path, const char *kind, const struct stat *st)
{
	uid_t euid = geteuid();

	if (st->st_uid != 0 && st->st_uid != euid) {
		pr_err("plugin %s: %s is owned by uid %u, not root or the runtime's (%u): "
		       "'chown root %s'",
		       path, kind, (unsigned int)st->st_uid, (unsigned int)euid, kind);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		pr_err("plugin %s: %s is writable by %s (mode %04o): 'chmod go-w %s', or put the "
		       "plugin where only root can write",
		       path, kind, st->st_mode & S_IWOTH ? "everyone" : "its group",
		       (unsigned int)(st->st_mode & 07777), kind);
		return -EPERM;
	}
	return 0;
}

/*
 * Open plugin @path for loading, checked: an absolute path without "." or "..", every
 * directory from / down opened with O_NOFOLLOW (no symbolic link on the way) and checked
 * on its open descriptor, the file itself too, a regular file. Root or the runtime's user
 * must own each, and no one else may write any (a sticky directory such as /tmp is not
 * enough: others may put files in it). Returns the file's descriptor, from which the
 * caller copies what it loads, so what was checked is what is loaded; or a negative errno
 * after logging what is wrong and how to fix it.
 */
static int open_plugin(const char *path)
{
	char walked[PATH_MAX], real[PATH_MAX], comp[NAME_MAX + 1];
	const char *p = path, *next;
	struct stat st;
	size_t wl = 1;
	int dfd, fd, err;

	if (path[0] != '/') {
		pr_err("plugin '%s': not an absolute path; give the whole path (the loader's "
		       "search path is not used)",
		       path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(walked)) {
		pr_err("plugin %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(walked, "/");
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (;;) {
		size_t len;
		bool last;

		if (fstat(dfd, &st)) {
			err = -errno;
			goto err_close_dir;
		}
		err = check_owner_mode(path, walked, &st);
		if (err)
			goto err_close_dir;
		while (*p == '/')
			p++;
		next = strchr(p, '/');
		len = next ? (size_t)(next - p) : strlen(p);
		last = !next || !next[strspn(next, "/")];
		if (!len || len > NAME_MAX) {
			pr_err("plugin %s: not a file name", path);
			err = -EINVAL;
			goto err_close_dir;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
			pr_err("plugin %s: '.' and '..' are not allowed in the path: give it as "
			       "'%s'",
			       path, realpath(path, real) ? real : "the file's own path");
			err = -EINVAL;
			goto err_close_dir;
		}
		snprintf(walked + wl, sizeof(walked) - wl, "%s%s", wl > 1 ? "/" : "", comp);
		wl = strlen(walked);
		/* O_NONBLOCK: a FIFO there must not hang the start; it is refused below. */
		fd = openat(dfd, comp,
			    (last ? O_RDONLY | O_NONBLOCK : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW |
				    O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if ((errno == ELOOP || errno == ENOTDIR) &&
			    !fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode)) {
				pr_err("plugin %s: %s is a symbolic link: give the real path%s%s",
				       path, walked, realpath(path, real) ? ", " : "",
				       realpath(path, real) ? real : "");
				err = -ELOOP;
			} else {
				pr_err("plugin %s: %s: %s", path, walked, strerror(-err));
			}
			goto err_close_dir;
		}
		close(dfd);
		if (last)
			break;
		dfd = fd;
		p = next;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_close_file;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("plugin %s: not a regular file", path);
		err = -EINVAL;
		goto err_close_file;
	}
	err = check_owner_mode(path, path, &st);
	if (err)
		goto err_close_file;
	return fd;

err_close_file:
	close(fd);
	return err;
err_close_dir:
	close(dfd);
	return err;
}

#define MAX_PLUGIN_FILE (1ull << 30)

/*
 * Copy the plugin open at @fd into a sealed memfd (no write, resize or further seal can
 * change it), check the copy's signature, and return the memfd: the bytes checked are the
 * bytes the loader maps, and neither the file nor anyone writing to it can change them
 * afterwards (a mapped file's pages not yet read would come from the file as it is then).
 * Returns the memfd or a negative errno (logged).
 */
static int sealed_copy(int fd, const char *path, const struct ep_signing *sign)
{
	static const unsigned int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	char buf[65536];
	struct stat st = { 0 }; /* zeros: clang's analyzer cannot tell that fstat() filled it */
	uint64_t len = 0;
	void *map = NULL;
	int mfd, err;

	/* A name for /proc/PID/maps and debuggers: "memfd:ep-plugin:upper.so". */
	snprintf(buf, sizeof(buf), "ep-plugin:%s", strrchr(path, '/') + 1);
	mfd = memfd_create(buf, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		err = -errno;
		pr_err("plugin %s: memfd_create: %s", path, strerror(errno));
		return err;
	}
	for (;;) {
		ssize_t w, n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		len += (uint64_t)n;
		if (len > MAX_PLUGIN_FILE) {
			err = -EFBIG;
			break;
		}
		w = write(mfd, buf, (size_t)n);
		if (w != n) {
			err = w < 0 ? -errno : -ENOSPC;
			break;
		}
	}
	if (!err && (fcntl(mfd, F_ADD_SEALS, seals) || fstat(mfd, &st)))
		err = -errno;
	if (err) {
		pr_err("plugin %s: copying it: %s", path, strerror(-err));
		goto err_close;
	}
	if (st.st_size &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0)) == MAP_FAILED) {
		err = -errno;
		pr_err("plugin %s: mmap: %s", path, strerror(errno));
		goto err_close;
	}
	err = ep_signing_check(sign, "plugin", path, map, (size_t)st.st_size);
	if (map)
		munmap(map, (size_t)st.st_size);
	if (err)
		goto err_close;
	return mfd;

err_close:
	close(mfd);
	return err;
}

int ep_registry_add_plugin(struct ep_registry *r, const struct ep_signing *sign, const char *path,
			   const char *name, uint16_t type, const char *args)
{
	const struct ep_handler *const *hs;
	ep_plugin_handlers_fn fn;
	char fdpath[64];
	int ret = -ENOENT, fd = -1, file, loaded = -1;
	struct stat st;
	uint32_t abi;
	void *dl;

	file = open_plugin(path);
	if (file < 0)
		return file;
	if (fstat(file, &st)) {
		ret = -errno;
		close(file);
		return ret;
	}
	/* A file loaded already (another of its handlers): the copy checked then, which
	 * the loader knows by its name and hands back, so the handlers of one plugin
	 * share its globals as they would loaded from the file. */
	for (unsigned int i = 0; i < r->n; i++)
		if (r->e[i].dl_fd >= 0 && r->e[i].dl_dev == st.st_dev &&
		    r->e[i].dl_ino == st.st_ino)
			loaded = r->e[i].dl_fd;
	if (loaded < 0)
		fd = sealed_copy(file, path, sign);
	close(file);
	if (loaded < 0 && fd < 0)
		return fd;
	/* Loaded from the sealed copy that was checked. It stays open while the handle
	 * lives: the dynamic loader knows objects by name too, and a later plugin opened on
	 * the same descriptor number would be taken for this one. */
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", loaded >= 0 ? loaded : fd);
	dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		pr_err("plugin %s: %s", path, dlerror());
		close(fd);
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
			pr_err("plugin %s: handler %s: ABI version %u (the plugin was asked for "
			       "%u) "
			       "or no run/out_size",
			       path, (*hs)->name, (*hs)->abi_version, abi);
			ret = -EPROTO;
			goto err_close;
		}
		ret = add(r, *hs, name ? type : 0, args, dl);
		if (ret < 0)
			goto err_close;
		if (dl) { /* the first entry owns the handle and its copy */
			r->e[ret].dl_fd = fd;
			r->e[ret].dl_dev = st.st_dev;
			r->e[ret].dl_ino = st.st_ino;
			fd = -1;
		}
		dl = NULL;
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
	if (fd >= 0)
		close(fd);
	return ret;
}

__attribute__((format(printf, 2, 3))) static void handler_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ep_vlog(level <= 0   ? EP_LOG_ERROR
		: level >= 3 ? EP_LOG_DEBUG
			     : (enum ep_log_level)level,
		fmt, ap);
	va_end(ap);
}

int ep_registry_init_worker(const struct ep_registry *r, unsigned int worker, uint32_t max_task_len,
			    void **states)
{
	for (unsigned int i = 0; i < r->n; i++) {
		const struct ep_reg_entry *e = &r->e[i];
		struct ep_handler_env env = {
			.abi_version = e->h->abi_version < EP_HANDLER_ABI_VERSION
					       ? e->h->abi_version
					       : EP_HANDLER_ABI_VERSION,
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

		for (unsigned int f = 0; f < e->nfiles && !e->files_shared; f++) {
			free((void *)e->files[f].path);
			free((void *)e->files[f].data);
		}
		if (!e->files_shared)
			free(e->files);
		free(e->args);
	}
	/* Plugins last: handler tables live in them. */
	for (unsigned int i = 0; i < r->n; i++) {
		if (r->e[i].dl)
			dlclose(r->e[i].dl);
		if (r->e[i].dl_fd >= 0)
			close(r->e[i].dl_fd);
	}
	r->n = 0;
	memset(r->by_type, 0, sizeof(r->by_type));
}
