// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Routes libbpf and libxdp output through ep_log; linked only into BPF-using programs.
 *
 * libxdp probes the kernel while attaching (loading test programs that may be refused) and
 * libbpf reports each refusal as a warning. Around such calls, ep_log_libs_hold() keeps
 * library warnings back; ep_log_libs_release() prints them as warnings if the operation
 * failed and as debug output if it succeeded, so operators see them only when they matter.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "edgeplane/log.h"

#define HELD_MAX 32

static bool holding;
static unsigned int held_n;
static char held[HELD_MAX][256];

/* libbpf and libxdp pass printf formats: checked as such (-Wformat-nonliteral) */
__attribute__((format(printf, 2, 0))) static void lib_log(bool warn, const char *fmt, va_list ap)
{
	if (warn && holding) {
		if (held_n < HELD_MAX)
			vsnprintf(held[held_n++], sizeof(held[0]), fmt, ap);
		return;
	}
	ep_vlog(warn ? EP_LOG_WARN : EP_LOG_DEBUG, fmt, ap);
}

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	lib_log(level == LIBBPF_WARN, fmt, ap);
	return 0;
}

__attribute__((format(printf, 2, 0))) static int libxdp_print(enum libxdp_print_level level,
							      const char *fmt, va_list ap)
{
	lib_log(level == LIBXDP_WARN, fmt, ap);
	return 0;
}

void ep_log_route_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

void ep_log_libs_hold(void)
{
	holding = true;
	held_n = 0;
}

void ep_log_libs_release(bool failed)
{
	holding = false;
	for (unsigned int i = 0; i < held_n; i++)
		ep_log(failed ? EP_LOG_WARN : EP_LOG_DEBUG, "%s", held[i]);
	held_n = 0;
}
