/* auth_boot.c - the first admin token, created on the first start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#define ADMIN_TOKEN_FILE "admin.token"

/* When the store has no token at all, creates token "admin" (role ADMIN)
 * and writes its secret to DATA/admin.token, readable by its owner only.
 * The secret is never logged. */
orgdir_code
od_auth_bootstrap(struct od_store *store, const char *data_dir, orgdir_status *st)
{
	od_txn *t;
	od_arena a;
	orgdir_code c = od_store_write_begin(store, &t, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	if (od_token_count(t) > 0) {
		od_txn_abort(t);
		return ORGDIR_OK;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", data_dir, ADMIN_TOKEN_FILE);
	od_arena_init(&a, 1u << 20);
	Orgdir__V1__TokenInfo *info;
	char *secret;
	c = od_token_create(t, &a, "admin", ORGDIR__V1__ROLE__ADMIN, 0, &info, &secret, st);
	if (c == ORGDIR_OK) {
		/* The file first: a token nobody can read would lock everyone out. */
		unlink(path);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		size_t n = strlen(secret);
		bool ok = fd >= 0 && write(fd, secret, n) == (ssize_t) n &&
		    write(fd, "\n", 1) == 1 && fsync(fd) == 0;
		if (fd >= 0) {
			close(fd);
		}
		if (!ok) {
			c = od_status_set(st, ORGDIR_FAILED_PRECONDITION, "cannot write %s: %s",
			    path, strerror(errno));
		}
	}
	if (c == ORGDIR_OK) {
		c = od_txn_commit(t, NULL, st);
	} else {
		od_txn_abort(t);
	}
	od_arena_destroy(&a);
	if (c == ORGDIR_OK) {
		od_log("info", "created the admin token 'admin': its secret is in %s (mode 0600)",
		    path);
	} else {
		unlink(path);
	}
	return c;
}
