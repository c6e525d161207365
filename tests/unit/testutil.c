/* testutil.c - temporary directories for tests. */
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
