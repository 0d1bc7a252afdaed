// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Listening Unix sockets in private directories (unixsock.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "edgeplane/log.h"
#include "edgeplane/unixsock.h"
#include "edgeplane/util.h"

int ep_group_gid(const char *what, const char *name, gid_t *gid)
{
	struct group gr, *grp = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &grp) || !grp) {
		pr_err("%s: no group named '%s'", what, name);
		return -ENOENT;
	}
	*gid = grp->gr_gid;
	return 0;
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *grp = NULL;
	char tmp[4096];

	if (!getgrgid_r(gid, &gr, tmp, sizeof(tmp), &grp) && grp)
		snprintf(buf, len, "%s", grp->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned int)gid);
	return buf;
}

/* The directory part of @path ("." if none, "/" for "/x") into @dir; the last part in
 * *@base. Returns 0 or -ENAMETOOLONG. */
static int split_path(const char *path, char *dir, size_t len, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, len, ".");
		*base = path;
		return 0;
	}
	if ((size_t)(slash - path) + 2 > len)
		return -ENAMETOOLONG;
	if (slash == path) {
		snprintf(dir, len, "/");
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	*base = slash + 1;
	return 0;
}

/* The directory's parent (opened through it, so no path games): owned by root or us, and
 * not writable by group or others unless sticky, so nobody else can rename @dir away. */
static int check_parent(const char *what, const char *dir, int dfd)
{
	struct stat st;
	int pfd, err = 0;

	pfd = openat(dfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st)) {
		err = -errno;
		pr_err("%s: the parent of %s: %s", what, dir, strerror(errno));
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		pr_err("%s: the parent of %s is owned by uid %u: it could replace the directory; "
		       "choose a directory under one owned by root or by uid %u",
		       what, dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
		err = -EPERM;
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		pr_err("%s: the parent of %s is writable by others (mode %04o) and not sticky: "
		       "they could replace the directory; choose another place, or "
		       "'chmod go-w' the parent",
		       what, dir, (unsigned int)(st.st_mode & 07777));
		err = -EPERM;
	}
out:
	if (pfd >= 0)
		close(pfd);
	return err;
}

static int check_dir(const char *what, const char *dir, int dfd, gid_t gid)
{
	unsigned int mode;
	struct stat st;
	char g[64];

	if (fstat(dfd, &st)) {
		pr_err("%s: directory %s: %s", what, dir, strerror(errno));
		return -errno;
	}
	mode = st.st_mode & 07777;
	if (st.st_uid != geteuid()) {
		pr_err("%s: directory %s is owned by uid %u, not by this process's (%u): "
		       "'chown %u %s', or choose a directory of its own",
		       what, dir, (unsigned int)st.st_uid, (unsigned int)geteuid(),
		       (unsigned int)geteuid(), dir);
		return -EPERM;
	}
	if (gid == EP_NO_GROUP && (mode & 07077)) {
		pr_err("%s: directory %s has mode %04o; it must be private, 0700: "
		       "'chmod 0700 %s' (or give the socket a group)",
		       what, dir, mode, dir);
		return -EPERM;
	}
	if (gid != EP_NO_GROUP &&
	    (st.st_gid != gid || (mode & 07) || (mode & S_IWGRP) || !(mode & S_ISGID))) {
		group_name(gid, g, sizeof(g));
		pr_err("%s: directory %s has group %u and mode %04o; with the socket's group "
		       "it must be group %s, mode 2750: 'chgrp %s %s && chmod 2750 %s'",
		       what, dir, (unsigned int)st.st_gid, mode, g, g, dir, dir);
		return -EPERM;
	}
	return 0;
}

/* Create @dir private, its missing parents 0755. Returns its descriptor or -errno. */
static int make_dir(const char *what, const char *dir, gid_t gid)
{
	char parent[PATH_MAX];
	const char *base;
	bool made = false;
	int dfd, err;

	err = split_path(dir, parent, sizeof(parent), &base);
	if (!err && strcmp(parent, ".") && strcmp(parent, "/"))
		err = ep_mkdir_p(parent, 0755);
	if (err) {
		pr_err("%s: create %s: %s", what, parent, strerror(-err));
		return err;
	}
	if (!mkdir(dir, 0700))
		made = true;
	else if (errno != EEXIST)
		goto err_log;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		goto err_log;
	/* Ours, just made: its group and mode exactly, whatever the umask. */
	if (made && ((gid != EP_NO_GROUP && fchown(dfd, (uid_t)-1, gid)) ||
		     fchmod(dfd, gid == EP_NO_GROUP ? 0700 : 02750))) {
		err = -errno;
		pr_err("%s: directory %s: %s", what, dir, strerror(errno));
		close(dfd);
		return err;
	}
	if (made)
		pr_info("%s: created directory %s (mode %s)", what, dir,
			gid == EP_NO_GROUP ? "0700" : "2750");
	return dfd;

err_log:
	err = -errno;
	pr_err("%s: directory %s: %s", what, dir, strerror(errno));
	return err;
}

int ep_private_dir(const char *what, const char *dir, gid_t gid)
{
	char real[PATH_MAX];
	int dfd, err;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		dfd = make_dir(what, dir, gid);
		if (dfd < 0)
			return dfd;
	} else if (dfd < 0) {
		struct stat st;

		err = -errno;
		if ((errno == ELOOP || errno == ENOTDIR) && !lstat(dir, &st) && S_ISLNK(st.st_mode))
			pr_err("%s: directory %s is a symbolic link%s%s%s: give a real directory",
			       what, dir, realpath(dir, real) ? " (to " : "",
			       realpath(dir, real) ? real : "", realpath(dir, real) ? ")" : "");
		else if (errno == ENOTDIR)
			pr_err("%s: %s is not a directory", what, dir);
		else
			pr_err("%s: directory %s: %s", what, dir, strerror(errno));
		return err;
	}
	err = check_dir(what, dir, dfd, gid);
	if (!err)
		err = check_parent(what, dir, dfd);
	if (err) {
		close(dfd);
		return err;
	}
	return dfd;
}

/* Does something accept connections at @sa? */
static bool answers(const struct sockaddr_un *sa, int type)
{
	int fd = socket(AF_UNIX, (type & ~SOCK_NONBLOCK) | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return live;
}

int ep_unix_listen(const char *what, const char *path, int type, gid_t gid, bool refuse_live)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX }, plain = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	const char *base;
	struct stat st;
	mode_t old;
	int dfd, fd, err;

	if (strlen(path) >= sizeof(plain.sun_path)) {
		pr_err("%s %s: path too long (at most %zu bytes)", what, path,
		       sizeof(plain.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(plain.sun_path, path);
	err = split_path(path, dir, sizeof(dir), &base);
	if (err || !*base) {
		pr_err("%s %s: not a file name", what, path);
		return -EINVAL;
	}
	dfd = ep_private_dir(what, dir, gid);
	if (dfd < 0)
		return dfd;
	/* Through the directory just checked, not by its path again; the plain path where
	 * /proc is missing or the name would not fit. */
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, base) >=
		    (int)sizeof(sa.sun_path) ||
	    access("/proc/self/fd", X_OK))
		sa = plain;

	if (!fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW)) {
		if (!S_ISSOCK(st.st_mode)) {
			pr_err("%s %s: exists and is not a socket: remove it, or choose another "
			       "path",
			       what, path);
			err = -EEXIST;
			goto err_close_dir;
		}
		if (refuse_live && answers(&sa, type)) {
			pr_err("%s %s: another process answers on it: stop it first, or choose "
			       "another path",
			       what, path);
			err = -EADDRINUSE;
			goto err_close_dir;
		}
		/* A socket left by an earlier run. */
		if (unlinkat(dfd, base, 0) && errno != ENOENT) {
			err = -errno;
			pr_err("%s %s: remove the old socket: %s", what, path, strerror(errno));
			goto err_close_dir;
		}
	}
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("%s %s: socket: %s", what, path, strerror(errno));
		goto err_close_dir;
	}
	/* The mode is right from the start: 0600, or 0660 with the directory's group. */
	old = umask(gid == EP_NO_GROUP ? 0177 : 0117);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (err || listen(fd, 16)) {
		err = err ?: -errno;
		pr_err("%s %s: %s", what, path, strerror(-err));
		goto err_close_socket;
	}
	close(dfd);
	return fd;

err_close_socket:
	close(fd);
err_close_dir:
	close(dfd);
	return err;
}
