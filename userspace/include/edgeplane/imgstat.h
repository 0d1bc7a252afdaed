/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * imgstat.h - statistics of 8-bit gray frames shared by the image handlers and the frame
 * codec (libepcore).
 */
#ifndef EDGEPLANE_IMGSTAT_H
#define EDGEPLANE_IMGSTAT_H

#include <stddef.h>
#include <stdint.h>

void ep_histogram(const uint8_t *px, size_t n, uint32_t hist[256]);
/* Otsu's level t (foreground = pixel > t): the first t that maximises the between-class
 * variance. A frame of one gray value gets that value (no foreground). */
unsigned int ep_otsu_level(const uint32_t hist[256]);

#endif /* EDGEPLANE_IMGSTAT_H */
