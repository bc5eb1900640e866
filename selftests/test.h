/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A tiny test harness: TEST(name) { ... } defines a test case that is found
 * by its definition (no list to keep), ASSERT_* print what was expected and
 * what came, and every case ends with one line:
 *   PASS <file>:<name>   FAIL <file>:<name>: why   SKIP <file>:<name>: why
 * selftests/run.sh counts those lines. Run one binary with a name filter as
 * its first argument to run only the cases whose name contains it. */
#ifndef MAILGATE_TEST_H
#define MAILGATE_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	struct test_case *next;
};

static struct test_case *test_list, **test_tail = &test_list;
static int test_failed_now, test_skipped_now;
static char test_skip_why[256];
static const char *test_file = __BASE_FILE__;

#define TEST(n)                                                                 \
	static void test_##n(void);                                             \
	static struct test_case test_case_##n = { #n, test_##n, NULL };        \
	__attribute__((constructor)) static void test_register_##n(void)       \
	{                                                                       \
		*test_tail = &test_case_##n;                                    \
		test_tail = &test_case_##n.next;                                \
	}                                                                       \
	static void test_##n(void)

static inline void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	test_failed_now = 1;
}

/* each returns true when the check holds, so tests can "if (!ASSERT..) return;" */
#define ASSERT_TRUE(c, what) \
	((c) ? true : (test_fail(__FILE__, __LINE__, "%s: expected true", what), false))
#define ASSERT_EQ(a, b, what) ({                                                       \
	long long _a = (long long)(a), _b = (long long)(b);                           \
	_a == _b ? true : (test_fail(__FILE__, __LINE__, "%s: expected %lld, got %lld", \
				     what, _b, _a), false); })
#define ASSERT_OK(err, what) ({                                                         \
	long long _e = (long long)(err);                                               \
	_e == 0 ? true : (test_fail(__FILE__, __LINE__, "%s: error %lld (%s)", what, _e, \
				    strerror(_e < 0 ? -_e : _e)), false); })
/* strings: both sides printed (NULL shows as "(null)" and never matches) */
#define ASSERT_STREQ(got, want, what) ({                                                  \
	const char *_g = (got), *_w = (want);                                             \
	(_g && _w && !strcmp(_g, _w)) ? true : (test_fail(__FILE__, __LINE__,             \
		"%s: expected \"%s\", got \"%.500s\"", what, _w ? _w : "(null)",          \
		_g ? _g : "(null)"), false); })
#define ASSERT_HAS_SUBSTR(str, sub, what) ({                                              \
	const char *_s = (str), *_n = (sub);                                              \
	(_s && _n && strstr(_s, _n)) ? true : (test_fail(__FILE__, __LINE__,              \
		"%s: expected \"%s\" in \"%.500s\"", what, _n ? _n : "(null)",            \
		_s ? _s : "(null)"), false); })
#define ASSERT_NO_SUBSTR(str, sub, what) ({                                               \
	const char *_s = (str), *_n = (sub);                                              \
	(_s && _n && !strstr(_s, _n)) ? true : (test_fail(__FILE__, __LINE__,             \
		"%s: expected no \"%s\" in \"%.500s\"", what, _n ? _n : "(null)",         \
		_s ? _s : "(null)"), false); })
#define ASSERT_RANGE(v, lo, hi, what) ({                                                   \
	long long _v = (long long)(v), _l = (long long)(lo), _h = (long long)(hi);        \
	(_v >= _l && _v <= _h) ? true : (test_fail(__FILE__, __LINE__,                      \
		"%s: expected %lld..%lld, got %lld", what, _l, _h, _v), false); })

/* mark the current case skipped (the machine cannot do it) */
static inline void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(test_skip_why, sizeof(test_skip_why), fmt, ap);
	va_end(ap);
	test_skipped_now = 1;
}

/* optional per-binary setup/teardown: define TEST_SETUP / TEST_TEARDOWN
 * functions before including this file's main (TEST_MAIN). */
static inline int test_main(int argc, char **argv, int (*setup)(void), void (*teardown)(void))
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

#endif /* MAILGATE_TEST_H */
