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

#endif
