// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "edgectl.h"
#include "edgeplane/log.h"

#define REPLY_MAX	 (1 << 20)
#define REPLY_TIMEOUT_MS 5000

int ctl_request(const struct ctl_ctx *x, json_t *req, json_t **resp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	json_error_t jerr;
	char *out = NULL, *buf = NULL;
	ssize_t n;
	int fd, err;

	*resp = NULL;
	if (strlen(x->socket) >= sizeof(sa.sun_path)) {
		json_decref(req);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, x->socket);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		json_decref(req);
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto out;
	}
	out = json_dumps(req, JSON_COMPACT);
	buf = malloc(REPLY_MAX + 1);
	if (!out || !buf) {
		err = -ENOMEM;
		goto out;
	}
	if (send(fd, out, strlen(out), MSG_NOSIGNAL) < 0) {
		err = -errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1) {
		err = -ETIMEDOUT;
		goto out;
	}
	/* One message, of any size the controller sends (a node list of thousands of nodes
	 * is megabytes): its length first. */
	n = recv(fd, buf, 1, MSG_PEEK | MSG_TRUNC); /* the whole message's length */
	if (n > REPLY_MAX) {
		char *b = realloc(buf, (size_t)n + 1);

		if (!b) {
			err = -ENOMEM;
			goto out;
		}
		buf = b;
	}
	n = recv(fd, buf, n > REPLY_MAX ? (size_t)n : REPLY_MAX, 0);
	if (n <= 0) {
		err = n < 0 ? -errno : -ECONNRESET;
		goto out;
	}
	*resp = json_loadb(buf, (size_t)n, 0, &jerr);
	err = *resp && json_is_object(*resp) ? 0 : -EPROTO;
out:
	if (err && *resp) {
		json_decref(*resp);
		*resp = NULL;
	}
	free(buf);
	free(out);
	close(fd);
	json_decref(req);
	return err;
}

json_t *ctl_call(const struct ctl_ctx *x, json_t *req)
{
	json_t *resp;
	int err = ctl_request(x, req, &resp);

	if (err == -ENOENT || err == -ECONNREFUSED) {
		pr_err("no controller answers on %s (is 'edgectl serve' running? --socket PATH)",
		       x->socket);
		return NULL;
	}
	if (err == -EACCES) {
		pr_err("%s: permission denied (run as root or as a member of the socket's group)",
		       x->socket);
		return NULL;
	}
	if (err) {
		pr_err("controller on %s: %s", x->socket, strerror(-err));
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e = json_string_value(json_object_get(resp, "error"));

		pr_err("%s", e ? e : "the controller refused the request");
		json_decref(resp);
		return NULL;
	}
	return resp;
}

int ctl_open_gw(const struct ctl_ctx *x, struct ep_gw **gw)
{
	char dir[PATH_MAX];
	json_t *resp = NULL;
	int err;

	if (x->pin_dir) {
		snprintf(dir, sizeof(dir), "%s", x->pin_dir);
	} else if (x->iface) {
		err = ep_gw_default_pin_dir(x->iface, dir, sizeof(dir));
		if (err)
			return err;
	} else {
		err = ctl_request(x, json_pack("{s:s}", "cmd", "status"), &resp);
		if (err || !json_string_value(json_object_get(resp, "pin_dir"))) {
			pr_err("cannot find the gateway's maps: no controller on %s; "
			       "give --iface IF or --pin-dir DIR",
			       x->socket);
			json_decref(resp);
			return err ? err : -ENOENT;
		}
		snprintf(dir, sizeof(dir), "%s",
			 json_string_value(json_object_get(resp, "pin_dir")));
		json_decref(resp);
	}
	err = ep_gw_open(dir, gw);
	if (err)
		pr_err("no gateway state in %s (is the gateway attached?)", dir);
	return err;
}

void ctl_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	putchar('\n');
}
