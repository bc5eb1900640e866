/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The CLI plumbing: global options (main.c), exit codes, errors and the
 * one writer for --json and human output (output.c), the subcommands. */
#ifndef MAILGATE_CLI_H
#define MAILGATE_CLI_H

#include "mailgate.h"

/* ---- main.c: global options (may stand anywhere on the command line) ---- */
struct mg_opts {
	const char *pin_dir;     /* --pin-dir, $MAILGATE_PIN_DIR, default MG_DEFAULT_PIN_DIR */
	const char *config;      /* -c/--config, default MG_DEFAULT_CONFIG */
	bool json;               /* --json */
	bool verbose;            /* -v */
};
extern struct mg_opts opts;
/* Every subcommand: argv[0] is the subcommand's name; returns the exit code
 * (0 ok, 1 runtime failure, 2 bad usage or input). */
typedef int (*cmd_fn)(int argc, char **argv);

/* ---- output.c: one writer for --json and human output ---- */
struct json_object;
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* Print an error (a JSON object {"error": ...} in JSON mode, else one line on
 * stderr prefixed "mailgate: ") and return code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print doc as one JSON document on stdout and release it. */
void json_out(struct json_object *doc);
/* Human units: "1.2k", "3.4M"; rates "1.2k/s" */
const char *format_count(double v, char *buf, size_t len);
/* A getopt_long() error (opt is '?' or ':', optstring starts with ':'):
 * exit 2 naming the option. */
int bad_option(int opt, char **argv);
/* gate_open_pinned(opts.pin_dir) for a command: 0, or the exit code after a
 * clear message (not root; no state under the pin dir). */
int cli_open_gate(struct gate *g);
extern const char *const mg_origin_names[MG_ORIGIN_MAX];
const char *origin_name(uint32_t origin);
/* "in 9m58s", "never", "expired 3s ago" */
const char *format_expiry(uint64_t expires_ns, uint64_t now, char *buf, size_t len);
/* an interval as a rate: "10/s", "30/m", "off" for 0 */
const char *format_rate(uint64_t interval_ns, char *buf, size_t len);
struct json_object *json_rate(uint64_t interval_ns); /* per second, 0 = off */
/* Aligned columns: table_new(3, 1u << 2) makes column 2 right-aligned;
 * table_row() takes exactly ncols strings (NULL = empty). */
struct table;
struct table *table_new(int ncols, unsigned right_cols);
void table_row(struct table *t, ...);
void table_print(struct table *t, FILE *f, int indent);
void table_free(struct table *t);

/* ---- subcommands, one file per concern ---- */
int do_run(int argc, char **argv);      /* daemon.c */
int do_detach(int argc, char **argv);   /* daemon.c */
int do_status(int argc, char **argv);   /* status.c */
int do_stats(int argc, char **argv);    /* stats.c */
int do_top(int argc, char **argv);      /* stats.c */
int do_allow(int argc, char **argv);    /* lists.c */
int do_deny(int argc, char **argv);     /* lists.c */
int do_ban(int argc, char **argv);      /* lists.c */
int do_lookup(int argc, char **argv);   /* lookup.c */
int do_dnsbl(int argc, char **argv);    /* dnsbl_check.c */
int do_zone(int argc, char **argv);     /* zone.c */
int do_synflood(int argc, char **argv); /* synflood.c */
int do_config(int argc, char **argv);   /* config.c */

#endif /* MAILGATE_CLI_H */
