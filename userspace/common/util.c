// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include "edgeplane/log.h"
#include "edgeplane/util.h"

void ep_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int ep_parse_long(const char *what, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi) {
		pr_err("%s: '%s' is not a number in %ld..%ld", what, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int ep_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether the effective set holds capability @cap (CAP_BPF is 39, newer than some
 * headers). */
static bool has_cap(const struct __user_cap_data_struct d[2], unsigned int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* ep_bpf_pin_dir_prepare()'s checks of the environment. */
static int bpf_env_check(const char *pin_dir)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	char dir[PATH_MAX], *slash;
	struct statfs fs;

	if (!syscall(SYS_capget, &h, d) && !has_cap(d, CAP_SYS_ADMIN) &&
	    !(has_cap(d, 39 /* CAP_BPF */) && has_cap(d, CAP_NET_ADMIN))) {
		pr_err("needs root, or CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN), to load "
		       "XDP programs: run it as root (sudo), or give it those capabilities");
		return -EPERM;
	}
	/* The closest part of the path that exists: where the pins would go. */
	if (snprintf(dir, sizeof(dir), "%s", pin_dir) >= (int)sizeof(dir))
		return 0; /* too long: the pinning says so */
	while (statfs(dir, &fs)) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 0;
		*slash = 0;
	}
	if ((unsigned long)fs.f_type != BPF_FS_MAGIC) {
		pr_err("%s is not on a BPF file system, where its maps are pinned: mount one "
		       "with 'mount -t bpf bpf /sys/fs/bpf' (inside 'ip netns exec' too, which "
		       "mounts a fresh /sys), or point LIBXDP_BPFFS at one",
		       pin_dir);
		return -ENOTDIR;
	}
	return 0;
}

int ep_bpf_pin_dir_prepare(const char *pin_dir)
{
	int err = bpf_env_check(pin_dir);

	if (err)
		return err;
	err = ep_mkdir_p(pin_dir, 0700);
	if (err)
		pr_err("pin directory %s: %s", pin_dir, strerror(-err));
	return err;
}

int ep_open_trusted(const char *what, const char *path, mode_t forbidden, const char *mode_why)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		pr_err("%s %s: %s", what, path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		pr_err("%s %s: %s", what, path, strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s %s: not a regular file", what, path);
		err = -EINVAL;
		goto err_close;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		pr_err("%s %s: owned by uid %u; it must belong to root or to the user the "
		       "runtime runs as (uid %u): 'chown root %s'",
		       what, path, st.st_uid, geteuid(), path);
		err = -EPERM;
		goto err_close;
	}
	if (st.st_mode & forbidden) {
		pr_err("%s %s: mode %04o %s", what, path, st.st_mode & 07777, mode_why);
		err = -EPERM;
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return err;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ep_read_secret(const char *what, const char *path, uint8_t *key, size_t len)
{
	uint8_t buf[2 * EP_SECRET_MAX + 2];
	ssize_t n;
	int fd, err = 0;

	if (!len || len > EP_SECRET_MAX)
		return -EINVAL;
	fd = ep_open_trusted(what, path, S_IRWXG | S_IRWXO,
			     "lets the group or others use it; the secret must be readable "
			     "by its owner only (chmod 600)");
	if (fd < 0)
		return fd;
	n = read(fd, buf, 2 * len + 2);
	if (n < 0) {
		err = -errno;
		pr_err("%s %s: %s", what, path, strerror(errno));
		goto out_close;
	}
	if ((size_t)n == len) {
		memcpy(key, buf, len);
	} else if ((size_t)n == 2 * len || ((size_t)n == 2 * len + 1 && buf[n - 1] == '\n')) {
		for (size_t i = 0; i < len; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				err = -EINVAL;
				break;
			}
			key[i] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		err = -EINVAL;
	}
	if (err)
		pr_err("%s %s: must hold %zu bytes, raw or as %zu hex digits (e.g. `head -c %zu "
		       "/dev/urandom >FILE`)",
		       what, path, len, 2 * len, len);
out_close:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	if (err)
		explicit_bzero(key, len);
	return err;
}

static int bad_addr(const char *what, const char *addr, unsigned int flags, const char *why)
{
	pr_err("%s '%s': %s (expected IPv4:PORT, [IPv6]:PORT%s)", what, addr, why,
	       flags & EP_ADDR_PASSIVE ? ", or PORT for 127.0.0.1:PORT" : "");
	return -EINVAL;
}

int ep_parse_sockaddr(const char *what, const char *addr, unsigned int flags,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai;
	const char *colon, *port;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	size_t hlen;
	unsigned long p = 0;
	int err;

	if (!addr || !*addr)
		return bad_addr(what, addr ? addr : "(null)", flags, "empty");
	if ((flags & EP_ADDR_PASSIVE) && strspn(addr, "0123456789") == strlen(addr)) {
		/* "PORT", as ":PORT": a listen address with a port only (the loopback's). */
		hlen = 0;
		port = addr;
	} else if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':')
			return bad_addr(what, addr, flags,
					"an IPv6 address needs brackets and a port");
		hlen = (size_t)(rb - addr - 1);
		if (!hlen)
			return bad_addr(what, addr, flags, "empty IPv6 address");
		if (hlen >= sizeof(host))
			return bad_addr(what, addr, flags, "address too long");
		memcpy(host, addr + 1, hlen);
		port = rb + 2;
		hints.ai_family = AF_INET6;
	} else {
		colon = strchr(addr, ':');
		if (!colon)
			return bad_addr(what, addr, flags, "no port");
		if (strchr(colon + 1, ':'))
			return bad_addr(what, addr, flags, "an IPv6 address needs brackets");
		hlen = (size_t)(colon - addr);
		if (hlen >= sizeof(host))
			return bad_addr(what, addr, flags, "address too long");
		memcpy(host, addr, hlen);
		port = colon + 1;
		hints.ai_family = AF_INET;
	}
	host[hlen] = '\0';
	if (!*port || strlen(port) > 5)
		return bad_addr(what, addr, flags, "the port must be a number 0..65535");
	for (const char *c = port; *c; c++) {
		if (*c < '0' || *c > '9')
			return bad_addr(what, addr, flags, "the port must be a number 0..65535");
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p > 65535)
		return bad_addr(what, addr, flags, "the port must be a number 0..65535");

	if (!(flags & EP_ADDR_PASSIVE) && (!hlen || !p))
		return bad_addr(what, addr, flags,
				!hlen ? "needs an address" : "needs a port 1..65535");
	if (!hlen) {
		/* "PORT", ":PORT": the loopback only. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		memset(ss, 0, sizeof(*ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		return bad_addr(what, addr, flags,
				hints.ai_family == AF_INET6 ? "not a numeric IPv6 address"
							    : "not a numeric IPv4 address");
	if (ai->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(ai);
		return bad_addr(what, addr, flags, "address too long");
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

bool ep_sockaddr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

bool ep_sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 &&
	       (IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127));
}

uint64_t ep_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ep_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
