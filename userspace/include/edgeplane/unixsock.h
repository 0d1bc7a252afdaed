/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * unixsock.h - listening Unix sockets in a private directory: the runtime's statistics
 * socket and the controller's API socket.
 *
 * Binding a socket and then chmod'ing it leaves a window in which anyone may connect, and
 * a path another user can write to can be swapped for a symbolic link between the two
 * calls. Here the socket's directory is private (created so, or checked), the socket is
 * bound through that very directory (/proc/self/fd/N/NAME, N an O_NOFOLLOW descriptor of
 * the checked directory) under a restrictive umask, and nothing is changed after bind.
 */
#ifndef EDGEPLANE_UNIXSOCK_H
#define EDGEPLANE_UNIXSOCK_H

#include <stdbool.h>
#include <sys/types.h>

#define EP_NO_GROUP ((gid_t)-1)

/*
 * Make @dir a private directory for sockets, or check that it is one, and open it.
 * Private: a directory (not a symbolic link) owned by the effective uid, mode 0700 when
 * @gid is EP_NO_GROUP, else group @gid and mode 02750 (the setgid bit gives the sockets
 * created in it the group); its parent is owned by root or the effective uid and not
 * writable by group or others, unless sticky (/tmp). A missing @dir is created so (its
 * missing parents 0755). @what names the socket in messages ("statistics socket").
 * Returns an O_DIRECTORY descriptor of @dir, which the caller closes, or a negative errno
 * after logging what is wrong and the command that fixes it.
 */
int ep_private_dir(const char *what, const char *dir, gid_t gid);

/*
 * A listening Unix socket of @type (SOCK_STREAM or SOCK_SEQPACKET, with SOCK_CLOEXEC,
 * SOCK_NONBLOCK as wanted) at @path, in a private directory (ep_private_dir()), created
 * mode 0600, or 0660 and group @gid. A socket file already at @path is removed (one of an
 * earlier run); with @refuse_live, if something answers on it, -EADDRINUSE instead. A
 * file there that is not a socket is refused (-EEXIST). Returns the socket descriptor or
 * a negative errno after logging why.
 */
int ep_unix_listen(const char *what, const char *path, int type, gid_t gid, bool refuse_live);

/* The gid of group @name: 0 and *@gid, or -ENOENT after logging "@what: no group". */
int ep_group_gid(const char *what, const char *name, gid_t *gid);

#endif /* EDGEPLANE_UNIXSOCK_H */
