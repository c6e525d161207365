/* testutil.h - shared helpers of the cmocka tests. */
#ifndef OD_TESTUTIL_H
#define OD_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

/* A fresh temporary directory (under $ORGDIR_TEST_TMP or /tmp); the caller
 * frees the string and removes the tree with test_rmtree. */
char *test_mkdtemp(const char *prefix);
void test_rmtree(const char *path);

/* cmocka_run_group_tests, but a group teardown that fails (an assertion,
 * or a non-zero return) counts as one more failure. cmocka 1.1.5 prints
 * "[  FAILED  ] GROUP TEARDOWN" and leaves it out of the count it returns,
 * so main() would exit 0. */
#define test_run_group(tests, setup, teardown) \
	test_run_group_named(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)
int test_run_group_named(const char *name, const struct CMUnitTest *tests, size_t n,
    CMFixtureFunction setup, CMFixtureFunction teardown);

#endif
