/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* util.h - small helpers shared by the libraries and the command-line tools. */
#ifndef EDGEPLANE_UTIL_H
#define EDGEPLANE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* A 64-bit finaliser (splitmix64) for hash tables keyed with a random seed. */
static inline uint64_t ep_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* xorshift64 (13, 7, 17): a fast generator for jitter and test payloads; *s != 0. */
static inline uint64_t ep_xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Store @v, cut to @size bytes (1, 2, 4, else 8), in the integer at @p: the one writer of
 * the fields that option and configuration tables name by offset and size. */
static inline void ep_store_uint(void *p, unsigned int size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)p = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)p = (uint32_t)v;
		break;
	default:
		*(uint64_t *)p = v;
		break;
	}
}

/* Close *@fd if it is open (>= 0), and mark it closed (-1): for teardown that may run on
 * a half-built object. */
static inline void ep_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ep_now_ns(void);
/* CLOCK_REALTIME in milliseconds: Unix time, as session keys carry it. */
uint64_t ep_unix_ms(void);

/*
 * Parse the whole of @s as an integer (decimal, 0x hex) in @lo..@hi. Returns 0 and *out,
 * or -EINVAL after logging "@what: 's' is not a number in lo..hi" for the person at the
 * command line.
 */
int ep_parse_long(const char *what, const char *s, long lo, long hi, long *out);

#define EP_ADDR_PASSIVE 0x1 /* a listen address: "PORT" and ":PORT" (loopback), port 0 */

/*
 * Parse "IPv4:PORT" or "[IPv6]:PORT" (a scope as in "[fe80::1%eth0]:PORT" is allowed) into
 * @ss and @len. With EP_ADDR_PASSIVE also "PORT" and ":PORT", which mean 127.0.0.1:PORT
 * (a listen address without an address is the loopback's: every address must be written
 * out, 0.0.0.0:PORT or [::]:PORT), and port 0; otherwise an address and a port 1..65535
 * are required. Host names are not accepted. Returns 0, or -EINVAL after logging
 * "@what '@addr': why".
 */
int ep_parse_sockaddr(const char *what, const char *addr, unsigned int flags,
		      struct sockaddr_storage *ss, socklen_t *len);

/* True if @ss is the wildcard address (0.0.0.0 or ::): every address of the host. */
bool ep_sockaddr_is_any(const struct sockaddr_storage *ss);
/* True if @ss is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
bool ep_sockaddr_is_loopback(const struct sockaddr_storage *ss);

/* A message for a person, printf-style, into @err of @errlen bytes (truncated); nothing
 * if @err is NULL or @errlen 0. For functions that return an errno and say why. */
void ep_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* mkdir -p @dir, each new directory with @mode. Returns 0 or a negative errno. */
int ep_mkdir_p(const char *dir, mode_t mode);

/*
 * Get ready to load BPF programs and pin their maps in @pin_dir: check what that needs
 * from the environment, each refused with the command that fixes it (logged): root, or
 * CAP_BPF with CAP_NET_ADMIN (or CAP_SYS_ADMIN), and a BPF file system under @pin_dir
 * (`ip netns exec` mounts a fresh /sys without one); then create @pin_dir (mode 0700).
 * Returns 0, -EPERM, -ENOTDIR or mkdir's negative errno (logged).
 */
int ep_bpf_pin_dir_prepare(const char *pin_dir);

/*
 * Open @path to read a small file the program trusts (a secret, a key): a regular file
 * owned by root or the effective user, with none of the mode bits @forbidden. A symbolic
 * link is followed (secret stores mount them); the checks are on the file opened, so what
 * was checked is what is read, and a FIFO is refused, not waited on. Returns the
 * descriptor (O_CLOEXEC; close it), or a negative errno after logging "@what @path: why",
 * with @mode_why after "mode NNNN" when a forbidden bit is set.
 */
int ep_open_trusted(const char *what, const char *path, mode_t forbidden, const char *mode_why);

#define EP_SECRET_MAX 64

/*
 * Read a secret key of @len bytes (at most EP_SECRET_MAX) from @path: the raw bytes, or
 * 2 * @len hex digits and an optional newline. The file must be as ep_open_trusted()
 * says, and neither its group nor others may use it (mode 0600 or less). Returns 0, or a
 * negative errno after logging "@what @path: why" (then @key is zeroed). The bytes read
 * are wiped from the stack.
 */
int ep_read_secret(const char *what, const char *path, uint8_t *key, size_t len);

#endif /* EDGEPLANE_UTIL_H */
