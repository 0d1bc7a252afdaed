/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share: a reader that takes values
 * from the front of the input (and gives zeros once it is used up), so that one input can
 * describe a sequence of operations, and a check that aborts with a message.
 *
 * Each harness is one file, fuzz_NAME.c, with LLVMFuzzerTestOneInput() (and, where it
 * needs set-up, LLVMFuzzerInitialize()). tests/fuzz/fuzz.mk builds it with clang's
 * -fsanitize=fuzzer,address,undefined against the project's sources compiled the same way.
 */
#ifndef EP_FUZZ_H
#define EP_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct fz {
	const uint8_t *p;
	size_t len;
};

static inline size_t fz_left(const struct fz *f)
{
	return f->len;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v = 0;

	if (f->len) {
		v = *f->p++;
		f->len--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t hi = fz_u8(f);

	return (uint16_t)(hi << 8 | fz_u8(f));
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t hi = fz_u16(f);

	return hi << 16 | fz_u16(f);
}

static inline bool fz_bool(struct fz *f)
{
	return fz_u8(f) & 1;
}

/* Up to @n bytes from the input, in place (*got says how many there were). */
static inline const uint8_t *fz_bytes(struct fz *f, size_t n, size_t *got)
{
	const uint8_t *p = f->p;

	if (n > f->len)
		n = f->len;
	f->p += n;
	f->len -= n;
	*got = n;
	return p;
}

/* A fatal finding that no sanitizer would see: a broken invariant. */
#define FZ_CHECK(cond)                                                                       \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/*
 * The input as a file, for readers that take a path (libconfig's config_read_file()):
 * a memfd, rewritten for each input, named by its /proc/self/fd path. Returns the path,
 * or NULL if the file could not be written.
 */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		if (fd < 0)
			return NULL;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return NULL;
	return path;
}

/*
 * Defines, for a configuration read by a descriptor table (struct @conf, read by
 * @conf_load() over @conf_defaults(), printed by @conf_print(), freed by @conf_free()):
 *
 *   fz_check_print_<conf>(c): print(load(file)) loads, and prints the same, so that the
 *     table's printer and reader agree;
 *   fz_load_<conf>(c, path): the defaults, then the file at @path over them. A file may be
 *     refused (-EINVAL) but nothing else; one that loads passes fz_check_print_<conf>().
 *     Returns the load's answer; @c is to be freed either way.
 */
#define FZ_DEFINE_CONF_CHECKS(conf)                                  \
	static void fz_check_print_##conf(const struct conf *c)      \
	{                                                            \
		char *p1 = NULL, *p2 = NULL;                         \
		size_t n1 = 0, n2 = 0;                               \
		static struct conf again; /* large: not the stack */ \
		const char *path;                                    \
		FILE *f;                                             \
                                                                     \
		f = open_memstream(&p1, &n1);                        \
		FZ_CHECK(f);                                         \
		conf##_print(f, c);                                  \
		fclose(f);                                           \
		path = fz_file((const uint8_t *)p1, n1);             \
		FZ_CHECK(path);                                      \
		conf##_defaults(&again);                             \
		FZ_CHECK(conf##_load(&again, path) == 0);            \
		f = open_memstream(&p2, &n2);                        \
		FZ_CHECK(f);                                         \
		conf##_print(f, &again);                             \
		fclose(f);                                           \
		FZ_CHECK(n1 == n2 && !memcmp(p1, p2, n1));           \
		conf##_free(&again);                                 \
		free(p1);                                            \
		free(p2);                                            \
	}                                                            \
                                                                     \
	static int fz_load_##conf(struct conf *c, const char *path)  \
	{                                                            \
		int err;                                             \
                                                                     \
		conf##_defaults(c);                                  \
		err = conf##_load(c, path);                          \
		FZ_CHECK(err == 0 || err == -EINVAL);                \
		if (!err)                                            \
			fz_check_print_##conf(c);                    \
		return err;                                          \
	}

/* Whether @s (@len bytes) is UTF-8 as RFC 3629 has it (no overlongs, no surrogates). */
static inline bool fz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned char c = *p++;
		unsigned char lo = 0x80, hi = 0xbf;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return false;
		for (int i = 0; i < more; i++, p++) {
			if (p == end || *p < (i ? 0x80 : lo) || *p > (i ? 0xbf : hi))
				return false;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif /* EP_FUZZ_H */
