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

/* the harness's state (selftests/lib/test.c): the cases in order, and how
 * the one running now went (test_gate's table rows set test_failed_now) */
extern struct test_case *test_list, **test_tail;
extern int test_failed_now, test_skipped_now;

#define TEST(n)                                                                 \
	static void test_##n(void);                                             \
	static struct test_case test_case_##n = { #n, test_##n, NULL };        \
	__attribute__((constructor)) static void test_register_##n(void)       \
	{                                                                       \
		*test_tail = &test_case_##n;                                    \
		test_tail = &test_case_##n.next;                                \
	}                                                                       \
	static void test_##n(void)

/* fail the current case, saying where and why (the ASSERT_* use it) */
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the cases (those whose name contains argv[1], if given) between the
 * optional setup and teardown; the exit code. file names the test in the
 * PASS/FAIL/SKIP lines: test_main() passes the test's own source file. */
int test_run(const char *file, int argc, char **argv, int (*setup)(void), void (*teardown)(void));
#define test_main(argc, argv, setup, teardown) test_run(__BASE_FILE__, argc, argv, setup, teardown)

#endif /* MAILGATE_TEST_H */
