// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Logging: one line per event to stderr, "level=... msg" with key=value
 * fields in the message; libbpf's own output only at debug level. */
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "mailgate.h"

enum log_level log_level = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	fprintf(stderr, "level=%s ", level_names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (log_level < LOG_LVL_DEBUG)
		return 0;
	fputs("level=debug libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
