/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * doc.h - the worked examples of docs/protocol.md, for the unit tests that check them byte
 * for byte: a block of hex bytes under a "<!-- example:NAME -->" line.
 */
#ifndef EP_TEST_DOC_H
#define EP_TEST_DOC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* The bytes of a "<!-- example:NAME -->" block of docs/protocol.md; -1 if absent. */
static inline ssize_t doc_example(const char *name, uint8_t *out, size_t max)
{
	char line[512], tag[64];
	bool in_tag = false, in_block = false;
	ssize_t n = -1;
	FILE *f = fopen("docs/protocol.md", "r");

	if (!f)
		return -1;
	snprintf(tag, sizeof(tag), "<!-- example:%s -->", name);
	while (fgets(line, sizeof(line), f)) {
		if (!in_tag) {
			in_tag = !strncmp(line, tag, strlen(tag));
			continue;
		}
		if (!strncmp(line, "```", 3)) {
			if (in_block)
				break;
			in_block = true;
			n = 0;
			continue;
		}
		for (char *p = line, *end; in_block; p = end) {
			unsigned long b = strtoul(p, &end, 16);

			if (end == p)
				break;
			if ((size_t)n < max)
				out[n++] = (uint8_t)b;
		}
	}
	fclose(f);
	return n;
}

#endif /* EP_TEST_DOC_H */
