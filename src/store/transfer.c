/* transfer.c - export and hot backup of the whole directory (import.c
 * loads one).
 *
 * Export copies stored bytes (minus etags) straight into the reply, from one
 * snapshot. Backup is mdb_env_copy2 from a read snapshot of its own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "transfer.h"

/* --- the wire: copying a message without some of its fields -------------------------- */

static bool
read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*i >= n) {
			return false;
		}
		uint8_t b = p[(*i)++];
		r |= (uint64_t) (b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* Steps over the field starting at *i; its number goes to *field. */
static bool
next_field(const uint8_t *p, size_t n, size_t *i, uint32_t *field)
{
	uint64_t key, len;
	if (!read_varint(p, n, i, &key)) {
		return false;
	}
	*field = (uint32_t) (key >> 3);
	switch (key & 7) {
	case 0:
		return read_varint(p, n, i, &len);
	case 1:
		len = 8;
		break;
	case 5:
		len = 4;
		break;
	case 2:
		if (!read_varint(p, n, i, &len)) {
			return false;
		}
		break;
	default:
		return false; /* groups are not used by proto3 */
	}
	if (len > n - *i) {
		return false;
	}
	*i += (size_t) len;
	return true;
}

/*
 * Appends the packed message (p, n) to out as length-delimited field
 * `field`, leaving out its top-level field `drop` (an etag): the bytes are
 * copied, never decoded. false when out is full; *bad when p is malformed.
 */
static bool
put_without(od_buf *out, uint32_t field, const uint8_t *p, size_t n, uint32_t drop, bool *bad)
{
	size_t gone = 0;
	size_t i = 0;
	uint32_t f;
	while (i < n) {
		size_t start = i;
		if (!next_field(p, n, &i, &f)) {
			*bad = true;
			return true;
		}
		if (f == drop) {
			gone += i - start;
		}
	}
	if (!od_pb_put_varint(out, ((uint64_t) field << 3) | 2) ||
	    !od_pb_put_varint(out, n - gone) || !od_buf_reserve(out, n - gone)) {
		return false;
	}
	if (gone == 0) {
		return od_buf_append(out, p, n);
	}
	i = 0;
	while (i < n) {
		size_t start = i;
		next_field(p, n, &i, &f);
		if (f != drop && !od_buf_append(out, p + start, i - start)) {
			return false;
		}
	}
	return true;
}

/* --- export ------------------------------------------------------------------------- */

struct export
{
	od_buf *out;
	bool full;
	bool bad;
};

static bool
export_unit(void *arg, uint32_t depth, const od_val *unit)
{
	struct export *x = arg;
	(void) depth;
	if (!put_without(x->out, 1, unit->data, unit->len, 11, &x->bad)) {
		x->full = true;
	}
	return !x->full && !x->bad;
}

orgdir_code
od_export(od_txn *t, od_buf *out, orgdir_status *st)
{
	struct export x = {.out = out};
	/* Root "" and no depth limit: every unit, parents before children. */
	orgdir_code c = od_subtree_walk(t, "", 0, export_unit, &x, st);
	if (!x.full && !x.bad && c != ORGDIR_OK) {
		return c;
	}
	uint64_t rev = od_txn_revision(t);
	if (!x.full && !x.bad && rev != 0 && !od_pb_put_varint_field(out, 2, rev)) {
		x.full = true;
	}
	MDB_cursor *cur;
	MDB_val k, v;
	if (!x.full && !x.bad) {
		int rc = mdb_cursor_open(t->txn, t->s->countries, &cur);
		if (rc != 0) {
			return od_mdb_status(t, rc, "read countries", st);
		}
		for (int op = MDB_FIRST; !x.full && !x.bad && mdb_cursor_get(cur, &k, &v, op) == 0;
		     op = MDB_NEXT) {
			if (!put_without(out, 3, v.mv_data, v.mv_size, 9, &x.bad)) {
				x.full = true;
			}
		}
		mdb_cursor_close(cur);
	}
	if (x.bad) {
		return od_status_set(st, ORGDIR_DATA_LOSS, "export: a stored record is corrupt");
	}
	if (x.full) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "export: the directory is larger than the %zu-byte reply limit (orgdird "
		    "--max-reply-bytes)",
		    out->cap);
	}
	return ORGDIR_OK;
}

/* A short printable form of a path that failed validation. */
static const char *
shown(const char *s)
{
	size_t n = strlen(s);
	return n <= 80 && od_utf8_valid(s, n) ? s : "(not printable)";
}

/* --- backup -------------------------------------------------------------------------------- */

static orgdir_code
prepare_dir(const char *dir, orgdir_status *st)
{
	struct stat sb;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION, "backup: cannot create %s: %s",
		    dir, strerror(errno));
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		return od_status_set(
		    st, ORGDIR_FAILED_PRECONDITION, "backup: %s is not a directory", dir);
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION, "backup: cannot read %s: %s",
		    dir, strerror(errno));
	}
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)) != NULL) {
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	}
	closedir(d);
	if (!empty) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "backup: %s is not empty: give a new or empty directory", dir);
	}
	return ORGDIR_OK;
}

/* Makes the copy durable: the file, then the directory entry. */
static bool
sync_path(const char *path, bool is_dir)
{
	int fd = open(path, (is_dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* The revision recorded in the copy, read back from it (which also checks
 * that it opens). */
static orgdir_code
copy_revision(const char *dir, uint64_t *revision, orgdir_status *st)
{
	MDB_env *env;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val k = {8, "revision"};
	MDB_val v;
	int rc = mdb_env_create(&env);
	if (rc == 0) {
		rc = mdb_env_set_maxdbs(env, 32);
	}
	if (rc == 0) {
		rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600);
	}
	if (rc == 0) {
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	}
	if (rc == 0) {
		rc = mdb_dbi_open(txn, "meta", 0, &meta);
	}
	*revision = 0;
	if (rc == 0 && mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == sizeof(*revision)) {
		memcpy(revision, v.mv_data, sizeof(*revision));
	}
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	if (rc != 0) {
		return od_status_set(st, ORGDIR_INTERNAL,
		    "backup: the copy in %s does not open: %s", dir, mdb_strerror(rc));
	}
	return ORGDIR_OK;
}

orgdir_code
od_backup_prepare(const char *dir, orgdir_status *st)
{
	size_t n = strlen(dir);
	if (n == 0 || dir[0] != '/') {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "backup: '%s' is not an absolute path (a directory on the server's machine)",
		    shown(dir));
	}
	if (n > 4000) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "backup: the path is too long");
	}
	return prepare_dir(dir, st);
}

orgdir_code
od_store_backup(
    struct od_store *s, const char *dir, uint64_t *bytes, uint64_t *revision, orgdir_status *st)
{
	char file[4200];
	*bytes = 0;
	*revision = 0;
	orgdir_code c = od_backup_prepare(dir, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	/* The copy reads from a snapshot of its own; inside the gate, with a
	 * reader's mark, it keeps a map resize (which needs no transaction
	 * open) out meanwhile. */
	od_reader *r;
	if ((c = od_reader_new(s, &r, st)) != ORGDIR_OK) {
		return c;
	}
	od_gate_enter(r);
	bool no_env = s->env == NULL;
	int rc = no_env ? 0 : mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
	od_gate_leave(r);
	od_reader_free(r);
	if (no_env) {
		return od_store_no_env(st);
	}
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (rc == EEXIST) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION, "backup to %s failed: %s", dir,
		    mdb_strerror(rc));
	}
	struct stat sb;
	if (rc == 0 && (!sync_path(file, false) || !sync_path(dir, true) || stat(file, &sb) != 0)) {
		rc = errno;
	}
	if (rc != 0) {
		c = od_space_status(rc, "backup", dir, st)
		    ? ORGDIR_RESOURCE_EXHAUSTED
		    : od_status_set(
		          st, ORGDIR_INTERNAL, "backup to %s failed: %s", dir, mdb_strerror(rc));
		unlink(file); /* part of a copy is no backup, and would block the next */
		return c;
	}
	*bytes = (uint64_t) sb.st_size;
	return copy_revision(dir, revision, st);
}
