/* testutil.c - temporary directories for tests, and cmocka groups. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

char *
test_mkdtemp(const char *prefix)
{
	const char *base = getenv("ORGDIR_TEST_TMP");
	char path[4096];
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	mkdir(base, 0700);
	snprintf(path, sizeof(path), "%s/%s-XXXXXX", base, prefix);
	char *p = strdup(path);
	if (p == NULL || mkdtemp(p) == NULL) {
		fprintf(stderr, "mkdtemp %s failed\n", path);
		abort();
	}
	return p;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

void
test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* One group runs at a time (cmocka's own state is global too). */
static CMFixtureFunction teardown_fn;
static int group_teardown_ok;

/* A failed assertion longjmps out of teardown_fn: ok stays 0. */
static int
checked_teardown(void **state)
{
	group_teardown_ok = 0;
	int rc = teardown_fn(state);
	group_teardown_ok = rc == 0;
	return rc;
}

int
test_run_group_named(const char *name, const struct CMUnitTest *tests, size_t n,
    CMFixtureFunction setup, CMFixtureFunction teardown)
{
	teardown_fn = teardown;
	group_teardown_ok = 0;
	int failed = _cmocka_run_group_tests(
	    name, tests, n, setup, teardown != NULL ? checked_teardown : NULL);
	if (teardown != NULL && !group_teardown_ok) {
		failed++; /* failed, or never ran */
	}
	return failed;
}
