/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Running the built binary as an operator would, for the end-to-end CLI
 * tests (test_cli, test_ops): .output/mailgate (found next to the test
 * binary) with --pin-dir DIR, stdout and stderr captured whole; its --json
 * output parsed. The fixture's data path and its config are the test's. */
#ifndef MAILGATE_CLI_RUN_H
#define MAILGATE_CLI_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <json-c/json.h>

extern char bin[256];                    /* .output/mailgate */
extern char out[1 << 20], err[1 << 16];  /* stdout and stderr of the last run */
extern char out_path[64], err_path[64];  /* the files they were captured in */

/* .output/mailgate next to this test binary into buf (len > 32); non-zero
 * (said why) when it is not built. For tests that run it their own way. */
int cli_find_bin(char *buf, size_t len);
/* Find the binary (into bin) and name the capture files (/tmp/mgt-TAG-PID.out, .err);
 * non-zero (said why) when not root or the binary is not built. */
int cli_setup(const char *tag);
/* remove the capture files */
void cli_teardown(void);
/* `mailgate --pin-dir DIR ARGS`; the exit code (128 + signal when killed) */
int run_in(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the same on the test's own pin_dir */
#define run(...) run_in(pin_dir, __VA_ARGS__)
/* rc == want, else a failure at the caller's line showing both outputs */
bool cli_check_rc(const char *file, int line, int rc, int want, const char *what);
#define check_rc(rc, want, what) cli_check_rc(__FILE__, __LINE__, rc, want, what)
#define RUN_OK(...) cli_check_rc(__FILE__, __LINE__, run(__VA_ARGS__), 0, #__VA_ARGS__)
/* dir/name exists */
bool exists(const char *dir, const char *name);
/* stdout as JSON (NULL and a failure when it is not); the caller puts it */
#define parse_out() cli_parse_out(__FILE__, __LINE__)
struct json_object *cli_parse_out(const char *file, int line);
/* o's member at a dotted path ("maps.3.name"; numbers index arrays), NULL if none */
struct json_object *jget(struct json_object *o, const char *path);
/* ... as a string, "(missing)" if none */
const char *jstr(struct json_object *o, const char *path);

#endif /* MAILGATE_CLI_RUN_H */
