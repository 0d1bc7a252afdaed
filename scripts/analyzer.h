/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * analyzer.h - what clang's static analyzer (make check) is told of libraries whose code it
 * does not see; included ahead of every file it analyzes, never by the build.
 */
#ifndef EP_ANALYZER_H
#define EP_ANALYZER_H

#include <bpf/libbpf.h>

/* bpftool's skeletons (build/include/NAME.skel.h) hand the blocks they calloc() to this on
 * their error paths: it frees them (libbpf.c). Without being told, the analyzer reports each
 * skeleton's open function as a leak. Honoured with unix.DynamicMemoryModeling:Optimistic. */
void bpf_object__destroy_skeleton(struct bpf_object_skeleton *s)
	__attribute__((ownership_takes(malloc, 1)));

#endif /* EP_ANALYZER_H */
