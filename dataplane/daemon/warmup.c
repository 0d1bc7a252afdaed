// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * io_uring file loading in three rounds, each with every file in flight at once:
 * openat + statx, then reads (resubmitted until each file is whole), then close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <liburing.h>

#include "daemon/warmup.h"
#include "edgeplane/log.h"

#define MAX_WARMUP_FILE (1ull << 30)

struct file {
	int fd;
	struct statx stx;
	size_t done;
	uint8_t *buf;
};

/* Submit what is queued and reap @n completions into res[user_data]. */
static int reap(struct io_uring *ring, unsigned int n, int *res)
{
	int err = io_uring_submit_and_wait(ring, n);

	if (err < 0)
		return err;
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;

		err = io_uring_wait_cqe(ring, &cqe);
		if (err)
			return err;
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	return 0;
}

/*
 * Round 1: open and stat every file (a statx by path, beside its openat), and a buffer
 * for each. Every opened file's fd is in f[].fd, before any may fail, so all get closed.
 * 0 or -errno, said.
 */
static int open_all(struct io_uring *ring, const char *const *paths, unsigned int n, struct file *f,
		    int *res)
{
	unsigned int i;
	int err;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		io_uring_prep_openat(sqe, AT_FDCWD, paths[i], O_RDONLY | O_CLOEXEC, 0);
		sqe->user_data = i;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_statx(sqe, AT_FDCWD, paths[i], 0, STATX_SIZE, &f[i].stx);
		sqe->user_data = n + i;
	}
	err = reap(ring, 2 * n, res);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		f[i].fd = res[i] >= 0 ? res[i] : -1;
	for (i = 0; i < n; i++) {
		err = res[i] < 0 ? res[i] : res[n + i] < 0 ? res[n + i] : 0;
		if (!err && f[i].stx.stx_size > MAX_WARMUP_FILE)
			err = -EFBIG;
		if (err) {
			pr_err("warm-up: %s: %s", paths[i], strerror(-err));
			return err;
		}
		f[i].buf = malloc(f[i].stx.stx_size ? f[i].stx.stx_size : 1);
		if (!f[i].buf)
			return -ENOMEM;
	}
	return 0;
}

/* Round 2: read until every file is whole. 0 or -errno, said (-EIO: a file shrank). */
static int read_all(struct io_uring *ring, const char *const *paths, unsigned int n, struct file *f,
		    int *res)
{
	unsigned int i, pending;
	int err;

	do {
		pending = 0;
		for (i = 0; i < n; i++) {
			struct io_uring_sqe *sqe;

			if (f[i].done == f[i].stx.stx_size)
				continue;
			sqe = io_uring_get_sqe(ring);
			io_uring_prep_read(sqe, f[i].fd, f[i].buf + f[i].done,
					   (unsigned int)(f[i].stx.stx_size - f[i].done),
					   f[i].done);
			sqe->user_data = i;
			pending++;
		}
		if (!pending)
			break;
		err = reap(ring, pending, res);
		if (err)
			return err;
		for (i = 0; i < n; i++) {
			if (f[i].done == f[i].stx.stx_size)
				continue;
			if (res[i] <= 0) {
				err = res[i] < 0 ? res[i] : -EIO; /* 0: the file shrank */
				pr_err("warm-up: read %s: %s", paths[i], strerror(-err));
				return err;
			}
			f[i].done += (size_t)res[i];
		}
	} while (pending);
	return 0;
}

/* Round 3: close what was opened (errors ignored: the files were only read). */
static void close_all(struct io_uring *ring, unsigned int n, struct file *f, int *res)
{
	unsigned int i, pending = 0;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe;

		if (f[i].fd < 0)
			continue;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_close(sqe, f[i].fd);
		sqe->user_data = i;
		pending++;
	}
	if (pending)
		reap(ring, pending, res);
}

int ep_warmup_read(const char *const *paths, unsigned int n, struct ep_blob *out)
{
	struct io_uring ring;
	struct file *f;
	int *res, err;
	unsigned int i;

	if (!n)
		return 0;
	f = calloc(n, sizeof(*f));
	res = calloc(2 * n, sizeof(*res));
	if (!f || !res) {
		err = -ENOMEM;
		goto err_free;
	}
	err = io_uring_queue_init(2 * n < 8 ? 8 : 2 * n, &ring, 0);
	if (err) {
		pr_err("warm-up: io_uring: %s", strerror(-err));
		goto err_free;
	}
	for (i = 0; i < n; i++)
		f[i].fd = -1;

	err = open_all(&ring, paths, n, f, res);
	if (!err)
		err = read_all(&ring, paths, n, f, res);
	if (!err) {
		for (i = 0; i < n; i++) {
			out[i].path = strdup(paths[i]);
			out[i].data = f[i].buf;
			out[i].len = f[i].done;
			f[i].buf = NULL;
		}
	}
	close_all(&ring, n, f, res);
	io_uring_queue_exit(&ring);
err_free:
	if (f)
		for (i = 0; i < n; i++)
			free(f[i].buf);
	free(f);
	free(res);
	return err;
}
