/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * scratch.h - a scratch directory for the unit tests that need files (keys, signatures,
 * secrets): made with mkdtemp(), paths in it, files of a given mode, removed at the end.
 */
#ifndef EP_TEST_SCRATCH_H
#define EP_TEST_SCRATCH_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char scratch[64];

/* Make /tmp/ep-@name-test.XXXXXX. Returns 0 or -1 (then skip: no scratch directory). */
static inline int scratch_make(const char *name)
{
	snprintf(scratch, sizeof(scratch), "/tmp/ep-%s-test.XXXXXX", name);
	return mkdtemp(scratch) ? 0 : -1;
}

/*
 * Make the scratch directory of the test program @name, or report its cases (@what) as
 * skipped. Returns 0, or -1: then the program has nothing to run and ends.
 */
static inline int scratch_make_or_skip(const char *name, const char *what)
{
	if (!scratch_make(name))
		return 0;
	tap_skip(what, "cannot make a scratch directory under /tmp");
	return -1;
}

/* @rel inside the scratch directory; the last four results stay valid. */
static inline char *at(const char *rel)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", scratch, rel);
	return p[i];
}

/* Write @len bytes of @data to @path, then give it @mode. Returns 0 or a negative errno. */
static inline int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		err = -EIO;
	if (!err && fchmod(fd, mode))
		err = -errno;
	close(fd);
	return err;
}

/* Remove the scratch directory and everything in it. Returns 0 or -1. */
static inline int scratch_remove(void)
{
	char cmd[128];

	if (!scratch[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) ? -1 : 0;
}

#endif /* EP_TEST_SCRATCH_H */
