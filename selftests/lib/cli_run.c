// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/cli_run.h: running the built binary (the test library) */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "test.h"
#include "cli_run.h"

char bin[256];
char out[1 << 20], err[1 << 16];
char out_path[64], err_path[64];

int cli_find_bin(char *buf, size_t len)
{
	ssize_t n = len > 32 ? readlink("/proc/self/exe", buf, len - 32) : -1;

	if (n <= 0 || n >= (ssize_t)len - 32)
		return 1;
	buf[n] = 0;
	*strrchr(buf, '/') = 0;                 /* .output/selftests */
	strcpy(strrchr(buf, '/'), "/mailgate"); /* .output/mailgate */
	if (access(buf, X_OK)) {
		printf("  %s not built\n", buf);
		return 1;
	}
	return 0;
}

int cli_setup(const char *tag)
{
	if (geteuid() != 0) {
		printf("  needs root (loads BPF programs)\n");
		return 1;
	}
	if (cli_find_bin(bin, sizeof(bin)))
		return 1;
	snprintf(out_path, sizeof(out_path), "/tmp/mgt-%s-%d.out", tag, getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/mgt-%s-%d.err", tag, getpid());
	return 0;
}

void cli_teardown(void)
{
	unlink(out_path);
	unlink(err_path);
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

int run_in(const char *dir, const char *fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s %s >%s 2>%s", bin, dir, args, out_path, err_path);
	st = system(cmd);
	slurp(out_path, out, sizeof(out));
	slurp(err_path, err, sizeof(err));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool cli_check_rc(const char *file, int line, int rc, int want, const char *what)
{
	if (rc == want)
		return true;
	test_fail(file, line, "%s: exit %d, expected %d\n  stdout: %.300s\n  stderr: %.300s", what, rc, want, out, err);
	return false;
}

bool exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

struct json_object *cli_parse_out(const char *file, int line)
{
	struct json_object *o = json_tokener_parse(out);

	if (!o)
		test_fail(file, line, "stdout is not JSON: %.300s", out);
	return o;
}

struct json_object *jget(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, atoi(k));
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	}
	return o;
}

const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v ? json_object_get_string(v) : "(missing)";
}
