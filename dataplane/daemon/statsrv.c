// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/statsrv.h"
#include "edgeplane/log.h"
#include "edgeplane/unixsock.h"

struct ep_statsrv {
	int lfd, stop_pipe[2];
	char *path;
	dev_t dev; /* the socket file made, removed at stop only if still there */
	ino_t ino;
	ep_report_fn fn;
	void *arg;
	pthread_t thread;
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void serve(struct ep_statsrv *s, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char req[16] = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* A client that says nothing within a second gets nothing. */
	if (poll(&p, 1, 1000) != 1 || recv(fd, req, sizeof(req) - 1, 0) <= 0)
		return;
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	s->fn(s->arg, f, !strncmp(req, "json", 4));
	fclose(f);
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(buf);
}

static void *loop(void *arg)
{
	struct ep_statsrv *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN },
				       { .fd = s->stop_pipe[0], .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(s, fd);
		close(fd);
	}
	return NULL;
}

int ep_statsrv_start(const char *path, gid_t gid, ep_report_fn fn, void *arg,
		     struct ep_statsrv **out)
{
	struct ep_statsrv *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->fn = fn;
	s->arg = arg;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->path = strdup(path);
	if (!s->path || pipe2(s->stop_pipe, O_CLOEXEC)) {
		err = s->path ? -errno : -ENOMEM;
		pr_err("statistics socket %s: %s", path, strerror(-err));
		goto err_free;
	}
	/* Logs its own errors. A socket another runtime answers on is its own (a second
	 * runtime, in another namespace say, must not take it over): refused. */
	s->lfd = ep_unix_listen("statistics socket (--stats-socket)", path,
				SOCK_STREAM | SOCK_CLOEXEC, gid, true);
	if (s->lfd < 0) {
		err = s->lfd;
		goto err_close_pipe;
	}
	{
		struct stat st;

		if (!stat(path, &st)) {
			s->dev = st.st_dev;
			s->ino = st.st_ino;
		}
	}
	err = -pthread_create(&s->thread, NULL, loop, s);
	if (err) {
		pr_err("statistics socket %s: thread: %s", path, strerror(-err));
		goto err_unlink;
	}
	*out = s;
	return 0;

err_unlink:
	unlink(path);
	close(s->lfd);
err_close_pipe:
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
err_free:
	free(s->path);
	free(s);
	return err;
}

void ep_statsrv_stop(struct ep_statsrv *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) == 1)
		pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	/* Only the file this runtime made (another may have replaced a stale one since). */
	{
		struct stat st;

		if (!stat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
			unlink(s->path);
	}
	free(s->path);
	free(s);
}

int ep_statsrv_query(const char *path, bool json)
{
	struct sockaddr_un sa;
	char buf[65536];
	ssize_t n;
	int fd, err;

	err = make_addr(path, &sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, json ? "json\n" : "text\n", 5, MSG_NOSIGNAL) != 5) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return n < 0 ? -errno : 0;
}
