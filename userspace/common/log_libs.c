// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Routes libbpf and libxdp output through ep_log; linked only into BPF-using programs. */
#include <stdarg.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "edgeplane/log.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	ep_vlog(level == LIBBPF_WARN ? EP_LOG_WARN : EP_LOG_DEBUG, fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	ep_vlog(level == LIBXDP_WARN ? EP_LOG_WARN : EP_LOG_DEBUG, fmt, ap);
	return 0;
}

void ep_log_route_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
