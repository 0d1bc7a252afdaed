/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * compiler.h - what the headers shared by the BPF programs and userspace (lib/parse.h,
 * lib/gcra.h) need of the compiler, whichever compiles them: clang for BPF, gcc or clang
 * for userspace.
 */
#ifndef EP_BPF_COMPILER_H
#define EP_BPF_COMPILER_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* A loop the verifier should see unrolled (and that is cheap to unroll anywhere). */
#ifdef __clang__
#define EP_UNROLL _Pragma("unroll")
#else
#define EP_UNROLL _Pragma("GCC unroll 8")
#endif

#endif /* EP_BPF_COMPILER_H */
