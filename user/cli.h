/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The CLI plumbing: global options (main.c), exit codes, errors and the
 * one writer for --json and human output (output.c), the subcommands, and
 * the option tables (cli.c, below). */
#ifndef MAILGATE_CLI_H
#define MAILGATE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* ---- cli.c: one option table per command ---- */
/* cli.c: one option table per command (the xdp-tools model). The table is
 * the command line's one definition: parsing, `--help` (stdout, exit 0),
 * the usage lines of `mailgate help` and `mailgate --list-options` are all
 * made from it. A command:
 *
 *	struct top_opts { uint32_t max; uint64_t interval_ns; };
 *	static const struct cli_opt top_opts[] = {
 *		CLI_U32("count", 'n', "N", struct top_opts, max, 1, 100000,
 *			"sources shown (default 10)", "top: bad count '%s' for -n (expected 1..100000)"),
 *		CLI_END
 *	};
 *	const struct cli_cmd cli_top = { "top", NULL, "the busiest sources", top_opts };
 *
 *	int do_top(int argc, char **argv)
 *	{
 *		struct top_opts o = { .max = 10 };
 *		int npos, rc = cli_parse(&cli_top, argc, argv, &o, &npos);
 *
 *		if (rc != CLI_GO)
 *			return rc;      // EXIT_OK after --help, EXIT_USAGE after a message
 *		...                     // argv[1 .. npos] are the positional arguments
 */
enum cli_type {
	CLI_T_FLAG,     /* bool = true; no value */
	CLI_T_STRING,   /* const char * = the value */
	CLI_T_U32,      /* uint32_t, min .. max (parse_u32) */
	CLI_T_DURATION, /* uint64_t ns (parse_duration: 30s 10m 1h), min .. max ns (max 0: no limit) */
	CLI_T_ENUM,     /* int = the index of the value in names[] */
	CLI_T_FUNC,     /* parse(value, the options struct, or with CLI_FUNC_AT its field): the command's own */
};

#define CLI_REQUIRED 1u /* the usage line shows it without brackets (the command checks) */
#define CLI_REPEAT   2u /* may be given more than once: "..." in the usage line */

struct cli_opt {
	const char *name;   /* long name, without "--"; NULL ends a table */
	char short_name;    /* 0: none */
	const char *arg;    /* the value's name ("DUR"); NULL for a flag (CLI_T_ENUM: the names joined by |) */
	enum cli_type type;
	size_t off;         /* where the value goes: offsetof(the command's options struct, field) */
	const char *help;   /* one line for --help */
	const char *bad;    /* a bad value's message: a format with one %s, the value */
	uint64_t min, max;  /* CLI_T_U32, CLI_T_DURATION */
	const char *const *names; /* CLI_T_ENUM: NULL-terminated */
	/* CLI_T_FUNC: 0; -EINVAL for a bad value (the engine says bad); or an
	 * exit code after a message of its own (fail()) */
	int (*parse)(const char *value, void *dst);
	unsigned flags;     /* CLI_REQUIRED, CLI_REPEAT */
};

#define CLI_OPT_(n, s, a, t, S, f, h, b, ...) \
	{ .name = n, .short_name = s, .arg = a, .type = t, .off = offsetof(S, f), .help = h, .bad = b, __VA_ARGS__ }
#define CLI_FLAG(n, s, S, f, h) CLI_OPT_(n, s, NULL, CLI_T_FLAG, S, f, h, NULL)
#define CLI_STRING(n, s, a, S, f, h, ...) CLI_OPT_(n, s, a, CLI_T_STRING, S, f, h, NULL, __VA_ARGS__)
#define CLI_U32(n, s, a, S, f, lo, hi, h, b, ...) \
	CLI_OPT_(n, s, a, CLI_T_U32, S, f, h, b, .min = lo, .max = hi, __VA_ARGS__)
#define CLI_DURATION(n, s, a, S, f, lo, hi, h, b, ...) \
	CLI_OPT_(n, s, a, CLI_T_DURATION, S, f, h, b, .min = lo, .max = hi, __VA_ARGS__)
#define CLI_ENUM(n, s, S, f, nm, h, b, ...) CLI_OPT_(n, s, NULL, CLI_T_ENUM, S, f, h, b, .names = nm, __VA_ARGS__)
#define CLI_FUNC(n, s, a, fn, h, b, ...) \
	{ .name = n, .short_name = s, .arg = a, .type = CLI_T_FUNC, .help = h, .bad = b, .parse = fn, __VA_ARGS__ }
/* the same with the field's address instead of the whole struct's */
#define CLI_FUNC_AT(n, s, a, S, f, fn, h, b, ...) \
	{ .name = n, .short_name = s, .arg = a, .type = CLI_T_FUNC, .off = offsetof(S, f), .help = h, .bad = b, \
	  .parse = fn, __VA_ARGS__ }
#define CLI_END { 0 }

struct cli_cmd {
	const char *name;  /* as messages and usage name it: "zone load" */
	const char *args;  /* the positional arguments in the usage line ("FILE", "ADDR..."); NULL: none
			    * (cli_parse refuses one: "CMD: unexpected argument 'x'") */
	const char *about; /* what it does, one line */
	const struct cli_opt *opts;
};

/* cli_parse(): go on; any other value is the exit code to return */
#define CLI_GO (-1)

/* Parse argv[1 .. argc) (argv[0] is the command's word) into opts by c's
 * table. Options and positional arguments may be mixed; "--" ends the
 * options; "--name=value" and "-xVALUE" work too. The positional arguments
 * are moved to argv[1 ..] in their order, *npos says how many. -h/--help
 * prints c's help on stdout: EXIT_OK. An unknown option, a missing or
 * unwanted value, a bad value: EXIT_USAGE after one message naming it. */
int cli_parse(const struct cli_cmd *c, int argc, char **argv, void *opts, int *npos);

/* The global options: take the options of t out of argv[1 ..] wherever
 * they stand (up to "--"), argv keeps the rest in order (argv[*argc] =
 * NULL). CLI_GO or EXIT_USAGE after a message. */
int cli_take(const struct cli_opt *t, int *argc, char **argv, void *opts);

/* A command with subcommands (zone load|export ...): argv[1] names one of
 * subs[0 .. n) by the last word of its name. CLI_GO with *which set; for
 * -h/--help every subcommand's help (EXIT_OK); else EXIT_USAGE after
 * "CMD: missing subcommand" / "CMD: unknown subcommand 'x'". */
int cli_sub(const char *cmd, const struct cli_cmd *const *subs, int n, int argc, char **argv, int *which);

/* "mailgate zone load FILE [--ttl DUR] ...", wrapped at 100 columns; the
 * lines after the first are indented by indent + 2 */
void cli_usage(const struct cli_cmd *c, FILE *f, const char *prefix, int indent);
void cli_help(const struct cli_cmd *c, FILE *f);
/* the aligned option lines of --help ("  -t, --ttl DUR  expire after DUR") */
void cli_options(const struct cli_cmd *c, FILE *f, bool with_help);
/* one line per option: "zone load\t--ttl\t-t\tDUR" ("-" for no short name or value) */
void cli_list_options(const struct cli_cmd *c, FILE *f, bool with_help);

/* the tables, one per command and subcommand (main.c lists them) */
extern const struct cli_cmd cli_run, cli_detach;                /* daemon.c */
extern const struct cli_cmd cli_status;                         /* status.c */
extern const struct cli_cmd cli_stats, cli_top;                 /* stats.c */
extern const struct cli_cmd *const cli_allow[3], *const cli_deny[3], *const cli_ban[3]; /* lists.c: add, del, list */
extern const struct cli_cmd cli_lookup;                         /* lookup.c */
extern const struct cli_cmd cli_dnsbl_check;                    /* dnsbl_check.c */
extern const struct cli_cmd cli_zone_load, cli_zone_export;     /* zone.c */
extern const struct cli_cmd cli_synflood;                       /* synflood.c */
extern const struct cli_cmd cli_config_check;                   /* config.c */

#endif /* MAILGATE_CLI_H */
