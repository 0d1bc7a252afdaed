/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * helpers.h - fixtures that several unit tests build alike: another user to own a file,
 * and file contents that do not repeat.
 */
#ifndef EP_TEST_UNIT_HELPERS_H
#define EP_TEST_UNIT_HELPERS_H

#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "../lib/tap.h"

/*
 * A user other than root, to own a file that must then be refused: "nobody", when this
 * test runs as root (only root may give a file away). Otherwise the case @name is
 * reported as skipped, and NULL returned.
 */
static inline const struct passwd *other_user_or_skip(const char *name)
{
	const struct passwd *nobody = getpwnam("nobody");

	if (geteuid() || !nobody) {
		tap_skip(name, "needs root and a user 'nobody'");
		return NULL;
	}
	return nobody;
}

/* Fill @buf (@len bytes) with a multiplicative hash of each offset, shifted right by
 * @shift: contents without long repeats, different for each @shift. */
static inline void fill_pattern(uint8_t *buf, size_t len, unsigned int shift)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> shift);
}

#endif /* EP_TEST_UNIT_HELPERS_H */
