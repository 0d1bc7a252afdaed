// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Plugin paths (dataplane/core/registry.c): a plugin is loaded only by an absolute path
 * to a regular file owned by root or the runtime's user, not group- or world-writable,
 * every directory above it owned by root or that user and not group- or world-writable,
 * with no symbolic link on the way; what was checked (the open file, copied into a sealed
 * memory file) is what is loaded.
 * The test plugin is build/tests/plugins/libepcount.so; copies of it go into a scratch
 * directory beside this program, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/registry.h"
#include "../lib/tap.h"
#include "helpers.h"

static struct ep_registry reg;
static char plugin[PATH_MAX], scratch[PATH_MAX];
static uint16_t next_type = 900;
/* Signatures are not what this test is about: the path checks come first, whatever the
 * signing mode (test_sign.c tests the signatures, test_signing.sh both together). */
static const struct ep_signing unsigned_ok = { .off = true };

static int load(const char *path)
{
	return ep_registry_add_plugin(&reg, &unsigned_ok, path, "count", next_type++, NULL);
}

/* @dst: a copy of @src with @mode. */
static int copy_from(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out, err = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		err = -errno;
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			err = -EIO;
	if (!err && fchmod(out, mode))
		err = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return err;
}

/* @dst: a copy of the test plugin with @mode. */
static int copy(const char *dst, mode_t mode)
{
	return copy_from(plugin, dst, mode);
}

static char *at(const char *rel)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	if (snprintf(p[i], sizeof(p[i]), "%s/%s", scratch, rel) >= (int)sizeof(p[i]))
		p[i][0] = '\0';
	return p[i];
}

/* Is any directory from / down to @dir group- or world-writable? Then the build tree
 * itself is no place for a plugin (a umask of 002), and the test cannot run here. */
static const char *unsafe_parent(const char *dir)
{
	static char d[PATH_MAX];
	struct stat st;

	snprintf(d, sizeof(d), "%s", dir);
	for (;;) {
		char *slash;

		if (stat(d, &st) || (st.st_mode & (S_IWGRP | S_IWOTH)))
			return d;
		if (!strcmp(d, "/"))
			return NULL;
		slash = strrchr(d, '/');
		if (!slash)
			return d;
		slash[slash == d] = '\0'; /* "/a/b" -> "/a", "/a" -> "/" */
	}
}

int main(void)
{
	char exe[PATH_MAX], dir[PATH_MAX], link[PATH_MAX];
	const char *why = NULL, *bad;
	const struct passwd *nobody;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(dir, sizeof(dir), "%s", dirname(exe));
		if (snprintf(plugin, sizeof(plugin), "%s/../plugins/libepcount.so", dir) >=
		    (int)sizeof(plugin))
			n = 0;
	}
	if (n <= 0 || !realpath(plugin, link))
		why = "build/tests/plugins/libepcount.so is not built";
	if (why) {
		tap_skip("plugins: path checks", why);
		return tap_finish();
	}
	snprintf(plugin, sizeof(plugin), "%s", link);
	/* The scratch directory is under /run (root's, 0755), not in the build tree: a clone
	 * may live where the checks refuse every plugin (under /tmp, say). */
	snprintf(scratch, sizeof(scratch), "/run/ep-plugin-test.XXXXXX");
	if (!mkdtemp(scratch) || chmod(scratch, 0755) || (bad = unsafe_parent(scratch))) {
		tap_skip("plugins: path checks", "cannot make a scratch directory only root "
						 "may write in /run");
		return tap_finish();
	}

	tap_begin();
	if (!unsafe_parent(dir)) /* the build tree's own copy, where it may load */
		EXPECT(load(plugin) >= 0);
	EXPECT(mkdir(at("good"), 0755) == 0 && copy(at("good/x.so"), 0755) == 0);
	EXPECT(load(at("good/x.so")) >= 0);
	EXPECT(copy(at("good/ro.so"), 0444) == 0 && load(at("good/ro.so")) >= 0);
	tap_end("a plugin owned by root, mode 0755 or 0444, under directories only root "
		"may write, loads");

	/* Another plugin after those: loaded from its own descriptor, it is itself, not the
	 * one an earlier descriptor of the same number held (the loader knows objects by
	 * name, and /proc/self/fd/N names a number). */
	tap_begin();
	{
		char work[PATH_MAX];

		EXPECT(snprintf(work, sizeof(work), "%s/../plugins/libepwork.so", dir) <
		       (int)sizeof(work));
		EXPECT(copy_from(work, at("good/work.so"), 0755) == 0);
		EXPECT(ep_registry_add_plugin(&reg, &unsigned_ok, at("good/work.so"), "work",
					      next_type++, NULL) >= 0);
	}
	tap_end("a second plugin file loads as itself, not as the first one");

	/* The same file named twice (for two of its handlers, say): one loaded object, as
	 * the loader would make of the file itself, not two copies with globals apart. */
	tap_begin();
	{
		int a = load(at("good/x.so")), b = load(at("good/x.so"));

		EXPECT(a >= 0 && b >= 0);
		if (a >= 0 && b >= 0) {
			EXPECT(reg.e[a].h == reg.e[b].h);
			EXPECT(reg.e[a].dl == reg.e[b].dl);
		}
	}
	tap_end("the same plugin file named twice is loaded once");

	tap_begin();
	EXPECT_EQ(load("libepcount.so"), -EINVAL);
	EXPECT_EQ(load("tests/plugins/libepcount.so"), -EINVAL);
	EXPECT_EQ(load(""), -EINVAL);
	tap_end("a relative path is refused (the loader's search path is never used)");

	tap_begin();
	EXPECT(copy(at("good/ww.so"), 0666) == 0);
	EXPECT_EQ(load(at("good/ww.so")), -EPERM);
	EXPECT(copy(at("good/gw.so"), 0775) == 0);
	EXPECT_EQ(load(at("good/gw.so")), -EPERM);
	tap_end("a group- or world-writable plugin file is refused");

	tap_begin();
	EXPECT(mkdir(at("open"), 0755) == 0 && chmod(at("open"), 0777) == 0);
	EXPECT(copy(at("open/x.so"), 0755) == 0);
	EXPECT_EQ(load(at("open/x.so")), -EPERM);
	EXPECT(mkdir(at("sticky"), 0755) == 0 && chmod(at("sticky"), 01777) == 0);
	EXPECT(copy(at("sticky/x.so"), 0755) == 0);
	EXPECT_EQ(load(at("sticky/x.so")), -EPERM);
	EXPECT(mkdir(at("grp"), 0755) == 0 && chmod(at("grp"), 0775) == 0);
	EXPECT(mkdir(at("grp/sub"), 0755) == 0 && copy(at("grp/sub/x.so"), 0755) == 0);
	EXPECT_EQ(load(at("grp/sub/x.so")), -EPERM);
	tap_end("a plugin below a group- or world-writable directory (sticky /tmp too) is "
		"refused");

	tap_begin();
	EXPECT(symlink(plugin, at("link.so")) == 0);
	EXPECT_EQ(load(at("link.so")), -ELOOP);
	EXPECT(symlink(at("good"), at("dirlink")) == 0);
	EXPECT_EQ(load(at("dirlink/x.so")), -ELOOP);
	EXPECT_EQ(load(at("good/../good/x.so")), -EINVAL);
	EXPECT_EQ(load(at("good/./x.so")), -EINVAL);
	tap_end("symbolic links (to the file, or a directory on the way) and . or .. are "
		"refused");

	tap_begin();
	EXPECT_EQ(load(at("good")), -EINVAL);
	EXPECT_EQ(load(at("good/missing.so")), -ENOENT);
	tap_end("a directory, a missing file: refused");

	nobody = other_user_or_skip("a plugin or a directory owned by another user is refused");
	if (nobody) {
		tap_begin();
		EXPECT(copy(at("good/theirs.so"), 0755) == 0 &&
		       chown(at("good/theirs.so"), nobody->pw_uid, (gid_t)-1) == 0);
		EXPECT_EQ(load(at("good/theirs.so")), -EPERM);
		EXPECT(mkdir(at("their"), 0755) == 0 &&
		       chown(at("their"), nobody->pw_uid, (gid_t)-1) == 0);
		EXPECT(copy(at("their/x.so"), 0755) == 0);
		EXPECT_EQ(load(at("their/x.so")), -EPERM);
		tap_end("a plugin or a directory owned by another user is refused");
	}

	ep_registry_release(&reg);
	if (snprintf(link, sizeof(link), "rm -rf '%s'", scratch) >= (int)sizeof(link) ||
	    system(link))
		tap_diag("could not remove %s", scratch);
	return tap_finish();
}
