// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/test.h: the harness (the test library, built once) */
#include "test.h"

struct test_case *test_list, **test_tail = &test_list;
int test_failed_now, test_skipped_now;
static char test_skip_why[256];

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	test_failed_now = 1;
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(test_skip_why, sizeof(test_skip_why), fmt, ap);
	va_end(ap);
	test_skipped_now = 1;
}

int test_run(const char *test_file, int argc, char **argv, int (*setup)(void), void (*teardown)(void))
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *base = strrchr(test_file, '/') ? strrchr(test_file, '/') + 1 : test_file;
	char file[128];
	int failed = 0;

	snprintf(file, sizeof(file), "%.*s", (int)(strcspn(base, ".")), base);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup && setup()) {
		for (struct test_case *t = test_list; t; t = t->next)
			if (!filter || strstr(t->name, filter))
				printf("FAIL %s:%s: setup failed\n", file, t->name);
		return 1;
	}
	for (struct test_case *t = test_list; t; t = t->next) {
		if (filter && !strstr(t->name, filter))
			continue;
		test_failed_now = test_skipped_now = 0;
		t->fn();
		if (test_failed_now) {
			printf("FAIL %s:%s\n", file, t->name);
			failed++;
		} else if (test_skipped_now) {
			printf("SKIP %s:%s: %s\n", file, t->name, test_skip_why);
		} else {
			printf("PASS %s:%s\n", file, t->name);
		}
	}
	if (teardown)
		teardown();
	return failed ? 1 : 0;
}
