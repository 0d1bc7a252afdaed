/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * log.h - the one logging module of every edgeplane program.
 *
 * Messages go to stderr with a level prefix. libbpf and libxdp output is routed through
 * here by ep_log_route_libs(). Never log from a hot loop; count instead.
 */
#ifndef EDGEPLANE_LOG_H
#define EDGEPLANE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum ep_log_level {
	EP_LOG_ERROR = 0,
	EP_LOG_WARN,
	EP_LOG_INFO,
	EP_LOG_DEBUG,
};

void ep_log_set_level(enum ep_log_level level);
enum ep_log_level ep_log_get_level(void);
/* Parse "error|warn|info|debug"; returns 0 or -EINVAL. */
int ep_log_parse_level(const char *s, enum ep_log_level *out);
/* Prefix every line with @ident (program name); not copied, must outlive logging. */
void ep_log_set_ident(const char *ident);
void ep_log(enum ep_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ep_vlog(enum ep_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Route libbpf's and libxdp's messages through ep_log (warnings as warn, info as debug).
 * These three live in log_libs.c, linked only into programs that use libbpf. */
void ep_log_route_libs(void);
/* Hold library warnings back during a probing call (not thread-safe; call from setup). */
void ep_log_libs_hold(void);
/* Print the held warnings: as warnings if @failed, else as debug output. */
void ep_log_libs_release(bool failed);

#define pr_err(...)   ep_log(EP_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  ep_log(EP_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  ep_log(EP_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) ep_log(EP_LOG_DEBUG, __VA_ARGS__)

#endif /* EDGEPLANE_LOG_H */
