/* env.c - the LMDB environment: open, schema, transactions, map growth. */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

#define DEFAULT_MAP_SIZE ((size_t) 256 << 20)
#define OPEN_GROW_MAX 10 /* doublings of the map a migration may ask for */
#define DEFAULT_MAX_READERS 512
#define GROW_ROUND ((size_t) 64 << 20)
#define META_SCHEMA "schema_version"
#define META_REVISION "revision"
/* Less free than this, after a write failed, and the disk counts as full. */
#define SPACE_LOW ((uint64_t) 1 << 20)
#define LMDB_PAGE 4096u

bool
od_space_status(int rc, const char *what, const char *dir, orgdir_status *st)
{
	if (rc != ENOSPC && rc != EDQUOT && rc != EFBIG && rc != EIO) {
		return false;
	}
	char file[sizeof(((struct od_store *) 0)->path) + 16];
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	struct rlimit rl;
	struct stat sb;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rc == EFBIG ||
	        (stat(file, &sb) == 0 && (uint64_t) sb.st_size + LMDB_PAGE > rl.rlim_cur))) {
		od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "%s: %s reached orgdird's file size limit (ulimit -f: %llu bytes)", what, file,
		    (unsigned long long) rl.rlim_cur);
		return true;
	}
	if (rc == EDQUOT) {
		od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "%s: the disk quota of orgdird's user is used up on %s", what, dir);
		return true;
	}
	struct statvfs v;
	if (statvfs(dir, &v) != 0) {
		return false;
	}
	uint64_t avail = (uint64_t) v.f_bavail * v.f_frsize;
	if (rc != ENOSPC && avail >= SPACE_LOW) {
		return false; /* an I/O error with room to spare: not a full disk */
	}
	od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
	    "%s: the disk holding %s is full (%llu KiB free)", what, dir,
	    (unsigned long long) (avail >> 10));
	return true;
}

orgdir_code
od_mdb_status(od_txn *t, int rc, const char *what, orgdir_status *st)
{
	if (t != NULL && od_space_status(rc, what, t->s->path, st)) {
		return ORGDIR_RESOURCE_EXHAUSTED;
	}
	switch (rc) {
	case 0:
		return ORGDIR_OK;
	case MDB_NOTFOUND:
		return od_status_set(st, ORGDIR_NOT_FOUND, "%s: not found", what);
	case MDB_MAP_FULL:
		if (t != NULL) {
			t->map_full = true;
		}
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "%s: the database map is full", what);
	case MDB_READERS_FULL:
		return od_status_set(
		    st, ORGDIR_UNAVAILABLE, "%s: too many concurrent readers", what);
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID:
		return od_status_set(st, ORGDIR_DATA_LOSS, "%s: %s", what, mdb_strerror(rc));
	case MDB_BAD_VALSIZE:
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "%s: key or value too large", what);
	default:
		return od_status_set(st, ORGDIR_INTERNAL, "%s: %s", what, mdb_strerror(rc));
	}
}

int
od_mdb_put(
    od_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl, unsigned flags)
{
	int rc;
	if (t->deferred != NULL && flags == 0 && od_deferred_put(t, dbi, k, kl, v, vl, &rc)) {
		return rc; /* an import: written in key order later (defer.c) */
	}
	MDB_val key = {kl, (void *) k};
	MDB_val val = {vl, (void *) v};
	return od_mdb_put_val(t, dbi, &key, &val, flags);
}

/* Marks t full when rc says the map is. */
static int
map_full(od_txn *t, int rc)
{
	if (rc == MDB_MAP_FULL) {
		od_mdb_status(t, rc, "put", NULL);
	}
	return rc;
}

int
od_mdb_put_val(od_txn *t, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags)
{
	t->writes++;
	od_wal_before(t);
	int rc = mdb_put(t->txn, dbi, k, v, flags);
	if (rc == 0) {
		od_wal_capture(t, OD_WAL_PUT, dbi, k, v, (flags & MDB_RESERVE) != 0);
	}
	return map_full(t, rc);
}

int
od_mdb_del(od_txn *t, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
	t->writes++;
	od_wal_before(t);
	int rc = mdb_del(t->txn, dbi, k, v);
	if (rc == 0) {
		od_wal_capture(t, v != NULL ? OD_WAL_DEL_DUP : OD_WAL_DEL, dbi, k, v, false);
	}
	return map_full(t, rc);
}

int
od_mdb_cursor_put(od_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, unsigned flags)
{
	t->writes++;
	od_wal_before(t);
	int rc = mdb_cursor_put(c, k, v, flags);
	if (rc == 0 && t->capture) {
		/* What the cursor is on now (MDB_CURRENT passes no key). */
		MDB_val ck, cv;
		if (mdb_cursor_get(c, &ck, &cv, MDB_GET_CURRENT) == 0) {
			od_wal_capture(
			    t, OD_WAL_PUT, mdb_cursor_dbi(c), &ck, &cv, (flags & MDB_RESERVE) != 0);
		} else {
			od_wal_giveup(t); /* cannot say what it put: not logged */
		}
	}
	return map_full(t, rc);
}

int
od_mdb_cursor_del(od_txn *t, MDB_cursor *c, unsigned flags)
{
	t->writes++;
	od_wal_before(t);
	/* Captured first: the key and value point into a page the delete
	 * changes. Taken back if it fails. */
	size_t mark = od_wal_mark(t);
	MDB_val k, v;
	if (t->capture && mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT) == 0) {
		bool all = (flags & MDB_NODUPDATA) != 0;
		od_wal_capture(t, all ? OD_WAL_DEL : OD_WAL_DEL_DUP, mdb_cursor_dbi(c), &k,
		    all ? NULL : &v, false);
	} else {
		od_wal_giveup(t); /* cannot say what it deletes: not logged */
	}
	int rc = mdb_cursor_del(c, flags);
	if (rc != 0) {
		od_wal_unmark(t, mark);
	}
	return map_full(t, rc);
}

int
od_mdb_drop(od_txn *t, MDB_dbi dbi)
{
	t->writes++;
	od_wal_before(t);
	int rc = mdb_drop(t->txn, dbi, 0);
	if (rc == 0) {
		od_wal_capture(t, OD_WAL_DROP, dbi, NULL, NULL, false);
	}
	return rc;
}

/* The databases. The write-ahead log names one by its place here: add new
 * ones at the end. */
static const struct {
	const char *name;
	unsigned flags;
	size_t off; /* of its MDB_dbi in struct od_store */
} db_defs[] = {
    {"meta", 0, offsetof(struct od_store, meta)},
    {"units", 0, offsetof(struct od_store, units)},
    {"children", MDB_DUPSORT, offsetof(struct od_store, children)},
    {"requests", 0, offsetof(struct od_store, requests)},
    {"request_log", 0, offsetof(struct od_store, request_log)},
    {"countries", 0, offsetof(struct od_store, countries)},
    {"country_units", MDB_DUPSORT, offsetof(struct od_store, country_units)},
    {"kind_counts", 0, offsetof(struct od_store, kind_counts)},
    {"tokens", 0, offsetof(struct od_store, tokens)},
    {"token_hashes", 0, offsetof(struct od_store, token_hashes)},
    {"changes", 0, offsetof(struct od_store, changes)},
    {"changes_by_res", MDB_DUPSORT, offsetof(struct od_store, changes_by_res)},
    {"search", 0, offsetof(struct od_store, search)},
    {"search_docs", 0, offsetof(struct od_store, search_docs)},
};

size_t
od_db_count(void)
{
	return OD_ARRAY_LEN(db_defs);
}

const char *
od_db_def(size_t i, unsigned *flags)
{
	if (flags != NULL) {
		*flags = db_defs[i].flags;
	}
	return db_defs[i].name;
}

MDB_dbi *
od_db_handle(struct od_store *s, size_t i)
{
	return (MDB_dbi *) (void *) ((char *) s + db_defs[i].off);
}

static int
migrate_1_to_2(struct od_store *s, MDB_txn *txn)
{
	od_txn t = {.s = s, .txn = txn, .write = true};
	od_arena a;
	od_arena_init(&a, (size_t) 1 << 34);
	int rc = od_store_reindex(&t, &a);
	od_arena_destroy(&a);
	od_txn_scratch_free(&t);
	return rc;
}

/* Opens the databases and migrates the schema, in one transaction. *full:
 * it failed for want of room in the map (a migration rebuilding an index
 * needs the old pages and the new ones at once). */
static orgdir_code
open_dbs(struct od_store *s, bool *full, orgdir_status *st)
{
	*full = false;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		return od_mdb_status(NULL, rc, "open databases", st);
	}
	for (size_t i = 0; i < OD_ARRAY_LEN(db_defs); i++) {
		rc = mdb_dbi_open(
		    txn, db_defs[i].name, db_defs[i].flags | MDB_CREATE, od_db_handle(s, i));
		if (rc != 0) {
			mdb_txn_abort(txn);
			return od_mdb_status(NULL, rc, db_defs[i].name, st);
		}
	}
	od_wal_set_dbs(s);
	/* Schema: recorded on first start, checked on every later one. */
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val v;
	uint32_t ver_before = 0;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		uint32_t ver = OD_SCHEMA_VERSION;
		MDB_val nv = {sizeof(ver), &ver};
		rc = mdb_put(txn, s->meta, &k, &nv, 0);
		s->schema = ver;
	} else if (rc == 0) {
		if (v.mv_size != sizeof(uint32_t)) {
			mdb_txn_abort(txn);
			return od_status_set(
			    st, ORGDIR_DATA_LOSS, "schema version record is corrupt");
		}
		memcpy(&s->schema, v.mv_data, sizeof(uint32_t));
		ver_before = s->schema;
		if (s->schema > OD_SCHEMA_VERSION) {
			mdb_txn_abort(txn);
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "data directory has schema version %u, newer than this server's %u: "
			    "upgrade orgdird",
			    s->schema, OD_SCHEMA_VERSION);
		}
		if (s->schema == 1) {
			/* 1 -> 2: derived indexes for countries and statistics. */
			if ((rc = migrate_1_to_2(s, txn)) == 0) {
				s->schema = 2;
			}
		}
		if (rc == 0 && s->schema == 2) {
			/* 2 -> 3: tokens and the change log (new, empty databases);
			 * the log covers only the revisions after this one. */
			od_txn t = {.s = s, .txn = txn, .write = true};
			if ((rc = od_changes_set_floor(&t, od_txn_revision(&t))) == 0) {
				s->schema = 3;
			}
		}
		if (rc == 0 && s->schema >= 3 && s->schema < 7) {
			/* 3 -> 7: the search index, built afresh (4 added it, 5 keyed
			 * it by depth, 6 derives units' keys from their records and
			 * keeps search_docs for countries only: search_write.c; 7
			 * replaced the first-letter buckets with one words entry per
			 * doc: search_doc.c). */
			od_txn t = {.s = s, .txn = txn, .write = true};
			od_arena a;
			od_arena_init(&a, (size_t) 1 << 34);
			if ((rc = od_search_reindex_all(&t, &a)) == 0) {
				s->schema = 7;
			}
			od_arena_destroy(&a);
			od_txn_scratch_free(&t);
		}
		if (rc == 0 && s->schema != ver_before) {
			uint32_t ver = s->schema;
			MDB_val nv = {sizeof(ver), &ver};
			rc = mdb_put(txn, s->meta, &k, &nv, 0);
			od_log("info", "data directory migrated from schema %u to %u", ver_before,
			    ver);
		}
	}
	if (rc == 0) {
		/* Countries come from iso-codes: (re)index them when it changed. */
		od_txn t = {.s = s, .txn = txn, .write = true};
		od_arena a;
		od_arena_init(&a, (size_t) 1 << 30);
		rc = od_search_index_countries(&t, &a);
		od_arena_destroy(&a);
		od_txn_scratch_free(&t);
	}
	const char *what = "schema version";
	if (rc != 0) {
		mdb_txn_abort(txn);
	} else {
		rc = mdb_txn_commit(txn);
		what = "open databases";
	}
	*full = rc == MDB_MAP_FULL;
	od_txn t = {.s = s};
	return od_mdb_status(&t, rc, what, st); /* t for the data directory's path */
}

/* For must_exist: a directory holding an LMDB data file. Checked before
 * mdb_env_open, which would create both the data and the lock file. */
static orgdir_code
existing_store(const char *path, orgdir_status *st)
{
	struct stat sb;
	char file[sizeof(((struct od_store *) 0)->path) + 16];
	if (stat(path, &sb) != 0) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "no data directory %s: %s (nothing was created)", path, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode)) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION, "%s is not a directory", path);
	}
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "%s holds no orgdir store (no LMDB data.mdb; nothing was created)", path);
	}
	return ORGDIR_OK;
}

/*
 * LMDB writes lock.mdb through a shared map, and a page of it that the disk
 * cannot back (a hole, on a full disk) kills the process with SIGBUS where
 * it is first touched: in mdb_env_open, or at a reader's first use of a
 * slot. So the file's first page (LMDB's header) gets its block before
 * mdb_env_open maps it (size LMDB_PAGE), and the whole file its blocks
 * after (size 0: the file's size), each an error here instead. Never
 * shrinks or moves anything another process may have mapped.
 */
static int
lock_file_blocks(struct od_store *s, off_t size)
{
	if (s->lockmdb_fd < 0) {
		char file[sizeof(s->path) + 16];
		snprintf(file, sizeof(file), "%s/lock.mdb", s->path);
		s->lockmdb_fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->lockmdb_fd < 0) {
			return 0; /* LMDB opens it, or says why it cannot */
		}
	}
	struct stat sb;
	int rc = fstat(s->lockmdb_fd, &sb) == 0 ? 0 : errno;
	if (rc == 0 && (size == 0 || size < sb.st_size)) {
		size = sb.st_size;
	}
	if (rc == 0 && size > 0 && fallocate(s->lockmdb_fd, 0, 0, size) != 0) {
		rc = errno; /* not posix_fallocate: its fallback writes into the file */
	}
	return rc == EOPNOTSUPP || rc == ENOSYS ? 0 : rc;
}

/* The bytes of the map the last commit uses (its pages up to the last);
 * false when LMDB cannot tell. What this transaction added is not counted. */
static bool
map_used(struct od_store *s, size_t *used)
{
	MDB_envinfo info;
	MDB_stat ms;
	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0) {
		return false;
	}
	*used = ((size_t) info.me_last_pgno + 1) * ms.ms_psize;
	return true;
}

/* --- the map read ahead of a large write (od_store_prefetch) --------------------- */

#define PREFETCH_STEP ((size_t) 4 << 20)

static void *
prefetch_main(void *arg)
{
	struct od_store *s = arg;
	for (size_t o = 0; o < s->prefetch_len && !atomic_load(&s->prefetch_stop);
	     o += PREFETCH_STEP) {
		size_t n =
		    s->prefetch_len - o < PREFETCH_STEP ? s->prefetch_len - o : PREFETCH_STEP;
		/* Blocks not written yet read as zeros: no disk read, the page
		 * cache filled on this thread instead of at the writer's fault. */
		(void) posix_fadvise(
		    s->prefetch_fd, (off_t) (s->prefetch_off + o), (off_t) n, POSIX_FADV_WILLNEED);
	}
	close(s->prefetch_fd);
	return NULL;
}

static void
prefetch_stop(struct od_store *s)
{
	if (s->prefetching) {
		atomic_store(&s->prefetch_stop, true);
		pthread_join(s->prefetch_th, NULL);
		s->prefetching = false;
	}
}

void
od_store_prefetch(od_txn *t, size_t bytes)
{
	struct od_store *s = t->s;
	size_t off;
	int fd;
	/* Through the file LMDB's pages are its own memory, not the map's. */
	if (!s->writemap || !map_used(s, &off) || mdb_env_get_fd(s->env, &fd) != 0) {
		return;
	}
	prefetch_stop(s);
	if (off >= s->map_size) {
		return;
	}
	s->prefetch_off = off;
	s->prefetch_len = bytes < s->map_size - off ? bytes : s->map_size - off;
	s->prefetch_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	atomic_store(&s->prefetch_stop, false);
	if (s->prefetch_fd >= 0) {
		s->prefetching = pthread_create(&s->prefetch_th, NULL, prefetch_main, s) == 0;
		if (!s->prefetching) {
			close(s->prefetch_fd);
		}
	}
}

/* --- the last commit's revision, for its readers (store_int.h) ------------------ */

/* Before a commit: no pair while the snapshot's id may change hands. */
static void
revision_unpublish(struct od_store *s)
{
	uint_fast64_t q = atomic_load_explicit(&s->rev_seq, memory_order_relaxed);
	if ((q & 1) == 0) {
		atomic_store_explicit(&s->rev_seq, q + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
	}
}

/* After it: snapshot `id` holds `rev`. */
static void
revision_publish(struct od_store *s, uint64_t id, uint64_t rev)
{
	uint_fast64_t q = atomic_load_explicit(&s->rev_seq, memory_order_relaxed);
	atomic_store_explicit(&s->rev_txnid, id, memory_order_relaxed);
	atomic_store_explicit(&s->rev_value, rev, memory_order_relaxed);
	atomic_store_explicit(&s->rev_seq, (q | 1) + 1, memory_order_release);
}

/* The snapshot the environment opened at: until the first commit, the one
 * every reader reads (a server started from a seed or after an import's
 * reopen would otherwise look its revision up for every read). */
static void
revision_publish_current(struct od_store *s)
{
	MDB_txn *txn;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		return; /* the readers look it up */
	}
	od_txn t = {.s = s, .txn = txn};
	uint64_t rev = od_txn_revision_stored(&t);
	pthread_mutex_lock(&s->rev_mu);
	revision_unpublish(s);
	revision_publish(s, mdb_txn_id(txn), rev);
	pthread_mutex_unlock(&s->rev_mu);
	mdb_txn_abort(txn);
}

/* The published revision when it is of snapshot `id`. */
static bool
revision_published(struct od_store *s, uint64_t id, uint64_t *rev)
{
	uint_fast64_t q = atomic_load_explicit(&s->rev_seq, memory_order_acquire);
	if (q & 1) {
		return false;
	}
	uint64_t pid = atomic_load_explicit(&s->rev_txnid, memory_order_relaxed);
	uint64_t pv = atomic_load_explicit(&s->rev_value, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->rev_seq, memory_order_relaxed) != q || pid != id) {
		return false;
	}
	*rev = pv;
	return true;
}

/*
 * Closes the environment, then lock.mdb's descriptor of lock_file_blocks:
 * in that order, because closing any descriptor of a file drops every
 * fcntl lock the process holds on it, LMDB's too (its shared lock on
 * lock.mdb says the environment is in use: without it, the next process
 * to open the environment, an orgdird --check or mdb_stat, would take it
 * for unused and reset the reader table under the server).
 */
static void
env_close(struct od_store *s)
{
	prefetch_stop(s);
	revision_unpublish(s); /* ids are the environment's */
	if (s->env != NULL) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
	if (s->lockmdb_fd >= 0) {
		close(s->lockmdb_fd);
		s->lockmdb_fd = -1;
	}
}

/* With opts.exclusive: DATA/orgdird.lock, flock'ed, holding our pid. */
static orgdir_code
lock_directory(struct od_store *s, orgdir_status *st)
{
	char file[sizeof(s->path) + 16];
	snprintf(file, sizeof(file), "%s/orgdird.lock", s->path);
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return od_status_set(
		    st, ORGDIR_FAILED_PRECONDITION, "cannot open %s: %s", file, strerror(errno));
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		char pid[24] = "";
		ssize_t n = err == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : -1;
		pid[n > 0 ? (size_t) n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (err != EWOULDBLOCK) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION, "cannot lock %s: %s",
			    file, strerror(err));
		}
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "data directory %s is in use by another orgdird (pid %s): stop it first, or "
		    "give another --data",
		    s->path, pid[0] != '\0' ? pid : "unknown");
	}
	char pid[24];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t) len, 0) != len) {
		/* A full disk, say: the lock holds all the same, the pid is unknown. */
	}
	s->lock_fd = fd;
	return ORGDIR_OK;
}

/*
 * With the log, LMDB writes its pages straight into its map
 * (MDB_WRITEMAP) instead of copying each page it changes and writing each
 * with a pwrite at commit (~56 pages a commit at 64 writers, most of them
 * the search index's scattered leaves); the checkpoint's msync writes
 * them (wal.c). LMDB then sizes data.mdb to the map, and a page of the map
 * the disk cannot back (a hole, on a full disk) would kill the process
 * with SIGBUS where it is written: so the file gets its blocks
 * (fallocate) up to the map's size before the map covers them, at open
 * and before each growth, where a full disk is then an error. Without the
 * log (--no-wal, --no-sync, a tool's read-only open) LMDB writes through
 * the file as before.
 */
static int
data_file_blocks(struct od_store *s, size_t size)
{
	int fd;
	int rc = mdb_env_get_fd(s->env, &fd);
	if (rc == 0 && fallocate(fd, 0, 0, (off_t) size) != 0) {
		rc = errno;
	}
	return rc;
}

int
od_env_set_mapsize(struct od_store *s, size_t size, bool *remapped)
{
	int rc = s->writemap ? data_file_blocks(s, size) : 0;
	if (remapped != NULL) {
		*remapped = rc == 0;
	}
	return rc != 0 ? rc : mdb_env_set_mapsize(s->env, size);
}

/* Creates s->env and opens it with flags (lock.mdb's blocks first, see
 * lock_file_blocks); on failure s->env is left for env_close. */
static int
env_create_open(struct od_store *s, unsigned flags)
{
	int rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		return rc;
	}
	rc = mdb_env_set_maxdbs(s->env, 32);
	if (rc == 0) {
		rc = mdb_env_set_maxreaders(
		    s->env, s->max_readers + 2); /* + the log's pins, old and new */
	}
	if (rc == 0) {
		rc = mdb_env_set_mapsize(s->env, s->map_size);
	}
	if (rc == 0) {
		rc = lock_file_blocks(s, LMDB_PAGE);
	}
	if (rc == 0) {
		rc = mdb_env_open(s->env, s->path, flags, 0600);
	}
	if (rc == 0) {
		rc = lock_file_blocks(s, 0);
	}
	return rc;
}

/* Creates and opens s->env, the map at s->map_size (or the file's, when
 * larger), and its databases (migrating them). On failure s->env is NULL. */
static orgdir_code
env_open(struct od_store *s, orgdir_status *st)
{
	/* MDB_NOTLS: read transactions belong to contexts, not threads. */
	/* MDB_NOSYNC with the log too: it syncs instead (wal.c). */
	unsigned flags = MDB_NOTLS | (s->no_sync || s->wal != NULL ? MDB_NOSYNC : 0);
	s->writemap = OD_STORE_WRITEMAP && s->wal != NULL && s->logged;
	if (s->writemap) {
		/* LMDB cuts data.mdb to the map's size at open: never below what
		 * it is (the log's header knows the file by its size too). */
		char file[sizeof(s->path) + 16];
		struct stat sb;
		snprintf(file, sizeof(file), "%s/data.mdb", s->path);
		if (stat(file, &sb) == 0 && (size_t) sb.st_size > s->map_size) {
			s->map_size = (size_t) sb.st_size;
		}
	}
	int rc = env_create_open(s, flags | (s->writemap ? MDB_WRITEMAP : 0));
	if (s->writemap) {
		MDB_envinfo info;
		size_t map = s->map_size;
		int why = rc;
		if (why == 0 && (why = mdb_env_info(s->env, &info)) == 0) {
			map = info.me_mapsize;
			why = data_file_blocks(s, map);
		}
		/* No room for the map (a full disk, ulimit -f) or no fallocate
		 * here: the file's own writes, which fail cleanly where a map
		 * page would not. */
		if (why == ENOSPC || why == EDQUOT || why == EFBIG || why == EOPNOTSUPP) {
			od_log("warn",
			    "%s/data.mdb cannot have its blocks for the map's %zu MiB (%s): "
			    "LMDB writes its pages through the file instead",
			    s->path, map >> 20, strerror(why));
			env_close(s);
			s->writemap = false;
			rc = env_create_open(s, flags);
		} else if (rc == 0 && why != 0) {
			rc = why;
		}
	}
	if (rc == 0 && s->wal != NULL) {
		/* The log's records, before any migration changes the schema. */
		orgdir_code c = od_wal_recover(s, st);
		if (c != ORGDIR_OK) {
			env_close(s);
			return c;
		}
	}
	if (rc != 0) {
		od_txn t = {.s = s}; /* for the data directory's path */
		orgdir_code c = od_mdb_status(&t, rc, "open LMDB environment", st);
		if (rc == EACCES || rc == ENOENT || rc == EINVAL) {
			c = od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "cannot open data directory %s: %s", s->path, mdb_strerror(rc));
		}
		env_close(s);
		return c;
	}
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize; /* an existing environment may be larger */
	/* A migration that finds the map full: the map grows (nothing was
	 * written) and the migration runs again. */
	bool full = true;
	orgdir_code c = ORGDIR_OK;
	for (int grown = 0; full; grown++) {
		c = open_dbs(s, &full, st);
		if (!full || grown == OPEN_GROW_MAX ||
		    od_env_set_mapsize(s, s->map_size * 2, NULL) != 0) {
			break;
		}
		s->map_size *= 2;
		od_log("info", "map size grown to %zu MiB to open the data directory",
		    s->map_size >> 20);
	}
	if (c != ORGDIR_OK) {
		env_close(s); /* s->env is NULL exactly when this failed */
	} else {
		revision_publish_current(s);
	}
	return c;
}

orgdir_code
od_store_open(const od_store_opts *o, struct od_store **out, orgdir_status *st)
{
	*out = NULL;
	if (strlen(o->path) >= sizeof(((struct od_store *) 0)->path)) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "data directory path too long");
	}
	if (o->must_exist) {
		orgdir_code c = existing_store(o->path, st);
		if (c != ORGDIR_OK) {
			return c;
		}
	} else if (mkdir(o->path, 0700) != 0 && errno != EEXIST) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "cannot create data directory %s: %s", o->path, strerror(errno));
	}
	struct od_store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	od_strlcpy(s->path, o->path, sizeof(s->path));
	pthread_mutex_init(&s->gate_mu, NULL);
	pthread_mutex_init(&s->readers_mu, NULL);
	pthread_mutex_init(&s->rev_mu, NULL);
	atomic_init(&s->rev_seq, 1); /* none yet */
	pthread_cond_init(&s->unpinned, NULL);
	s->map_size = o->map_size ? o->map_size : DEFAULT_MAP_SIZE;
	s->max_readers = o->max_readers ? o->max_readers : DEFAULT_MAX_READERS;
	s->no_sync = o->no_sync;
	s->iso = o->iso;
	s->retain_revisions = o->retain_revisions;
	s->lock_fd = -1;
	s->lockmdb_fd = -1;
	orgdir_code c = o->exclusive ? lock_directory(s, st) : ORGDIR_OK;
	/* The log, or with --no-wal the one a start with it left. */
	char wal[sizeof(s->path) + 16];
	snprintf(wal, sizeof(wal), "%s/" OD_WAL_FILE, s->path);
	bool logged = !o->no_sync && !o->no_wal;
	s->logged = logged;
	if (c == ORGDIR_OK && o->exclusive && (logged || access(wal, F_OK) == 0)) {
		c = od_wal_prepare(s, st);
	}
	if (c == ORGDIR_OK) {
		c = env_open(s, st);
	}
	if (c == ORGDIR_OK) {
		c = logged ? od_wal_checkpoint(s, st) : od_wal_retire(s, st);
	}
	if (c != ORGDIR_OK) {
		od_store_close(s);
		return c;
	}
	*out = s;
	return ORGDIR_OK;
}

void
od_store_close(struct od_store *s)
{
	if (s == NULL) {
		return;
	}
	od_wal_close(s);
	env_close(s);
	if (s->lock_fd >= 0) {
		close(s->lock_fd); /* the lock goes with it */
	}
	pthread_cond_destroy(&s->unpinned);
	pthread_mutex_destroy(&s->rev_mu);
	pthread_mutex_destroy(&s->readers_mu);
	pthread_mutex_destroy(&s->gate_mu);
	free(s);
}

/* --- the gate (store_int.h) ---------------------------------------------------- */

void
od_gate_enter(od_reader *r)
{
	struct od_store *s = r->s;
	for (;;) {
		/* Both sequentially consistent: a closer that set `closed` before
		 * this load sees `held` set in its own scan, or this load sees
		 * `closed` (the two stores cannot both be missed). */
		atomic_store(&r->held, true);
		if (!atomic_load(&s->closed)) {
			atomic_fetch_add_explicit(&r->entries, 1, memory_order_relaxed);
			return;
		}
		atomic_store(&r->held, false);
		/* A closer holds gate_mu while the gate is closed: wait for it. */
		pthread_mutex_lock(&s->gate_mu);
		pthread_mutex_unlock(&s->gate_mu);
	}
}

void
od_gate_leave(od_reader *r)
{
	/* Release: the reader's work on its snapshot is done before a closer
	 * that sees the mark cleared goes on. */
	atomic_store_explicit(&r->held, false, memory_order_release);
}

/* Waits while r is inside: until it leaves, or (again false) until it
 * has gone in again since it had gone in `entries` times. Sleeps after a
 * few turns. */
static void
gate_wait(od_reader *r, bool again, unsigned entries)
{
	/* Sequentially consistent, like the reader's side: after the closer's
	 * store to `closed`, this load cannot miss a reader that saw the gate
	 * open. */
	for (unsigned spins = 0; atomic_load(&r->held) &&
	     (again || atomic_load_explicit(&r->entries, memory_order_relaxed) == entries);
	     spins++) {
		if (spins < 64) {
			sched_yield();
		} else {
			nanosleep(&(struct timespec){0, 100000}, NULL);
		}
	}
}

/* A reader inside when gate_close began, and how often it had gone in. */
struct inside {
	od_reader *r;
	unsigned entries;
};

/*
 * Closes the gate: returns once no reader is inside; readers that come
 * meanwhile wait. First, with the gate still open, it waits for each
 * reader inside to leave once: a long one (a backup, a large export) then
 * keeps only this closer waiting, not every reader after it. It waits
 * without the readers' list lock, so readers come and go meanwhile (a
 * second backup registers its own): the ones it waits for are pinned, and
 * od_reader_free waits for their pins. Then it closes the gate and waits,
 * list locked, for the readers that came in since, in for one request.
 */
static void
gate_close(struct od_store *s)
{
	pthread_mutex_lock(&s->gate_mu);
	pthread_mutex_lock(&s->readers_mu);
	size_t n = 0;
	for (od_reader *r = s->readers; r != NULL; r = r->next) {
		n++;
	}
	struct inside *in = n > 0 ? malloc(n * sizeof(*in)) : NULL;
	size_t k = 0;
	for (od_reader *r = s->readers; r != NULL; r = r->next) {
		unsigned entries = atomic_load_explicit(&r->entries, memory_order_relaxed);
		if (!atomic_load(&r->held)) {
			continue;
		}
		if (in == NULL) {
			/* No memory to note it: wait for it here, the list locked. */
			gate_wait(r, false, entries);
			continue;
		}
		in[k++] = (struct inside){r, entries};
		r->pins++;
	}
	pthread_mutex_unlock(&s->readers_mu);
	for (size_t i = 0; i < k; i++) {
		gate_wait(in[i].r, false, in[i].entries);
	}
	pthread_mutex_lock(&s->readers_mu);
	for (size_t i = 0; i < k; i++) {
		in[i].r->pins--;
	}
	if (k > 0) {
		pthread_cond_broadcast(&s->unpinned);
	}
	free(in);
	atomic_store(&s->closed, true);
	for (od_reader *r = s->readers; r != NULL; r = r->next) {
		gate_wait(r, true, 0);
	}
	pthread_mutex_unlock(&s->readers_mu);
}

static void
gate_open(struct od_store *s)
{
	atomic_store(&s->closed, false);
	pthread_mutex_unlock(&s->gate_mu);
}

/*
 * Closes the environment and opens it again, the gate closed: no snapshot
 * is open, so the readers' reset transactions go, and each reader begins
 * a new one on its next use. On failure s->env stays NULL (calls then get
 * od_store_no_env).
 */
static orgdir_code
reopen(struct od_store *s, orgdir_status *st)
{
	pthread_mutex_lock(&s->readers_mu);
	for (od_reader *r = s->readers; r != NULL; r = r->next) {
		if (r->t.txn != NULL) {
			mdb_txn_abort(r->t.txn);
			r->t.txn = NULL;
		}
	}
	pthread_mutex_unlock(&s->readers_mu);
	if (s->env == NULL) {
		return ORGDIR_OK;
	}
	od_wal_unpin(s);
	env_close(s);
	orgdir_code c = env_open(s, st);
	/* Nothing was written since the checkpoint: a new one pins it again. */
	return c == ORGDIR_OK ? od_wal_checkpoint(s, st) : c;
}

orgdir_code
od_store_refresh(struct od_store *s, orgdir_status *st)
{
	orgdir_status own;
	if (st == NULL) {
		st = &own;
	}
	uint64_t t0 = od_mono_ms();
	gate_close(s);
	orgdir_code c = reopen(s, st);
	gate_open(s);
	/* What LMDB held goes back to the system, not to glibc's heap. */
	malloc_trim(0);
	if (c != ORGDIR_OK) {
		od_log("error", "cannot reopen the data directory %s: %s", s->path, st->message);
	} else {
		od_log("info",
		    "data directory reopened after a large write, to give back "
		    "LMDB's cached pages (%llu ms)",
		    (unsigned long long) (od_mono_ms() - t0));
	}
	return c;
}

orgdir_code
od_store_no_env(orgdir_status *st)
{
	return od_status_set(st, ORGDIR_UNAVAILABLE,
	    "the data directory could not be reopened (see the server's log): restart orgdird");
}

uint32_t
od_store_schema_version(struct od_store *s)
{
	return s->schema;
}

orgdir_code
od_store_reserve(od_txn *t, size_t bytes, orgdir_status *st)
{
	struct od_store *s = t->s;
	if (bytes > OD_WAL_CAPTURE_MAX) {
		od_wal_giveup(t); /* too large for the log: not captured at all */
	}
	/* What this transaction added so far is not counted (the margin
	 * asked for covers it). */
	size_t used;
	if (!map_used(s, &used)) {
		return ORGDIR_OK; /* cannot tell: find out by writing */
	}
	if (used <= s->map_size && s->map_size - used >= bytes) {
		return ORGDIR_OK;
	}
	s->grow_to = used + bytes;
	od_mdb_status(t, MDB_MAP_FULL, "reserve", NULL); /* notes the full map on t */
	return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
	    "the database map (%zu MiB, %zu MiB used) has no room for %zu MiB more",
	    s->map_size >> 20, used >> 20, bytes >> 20);
}

orgdir_code
od_store_grow(struct od_store *s, orgdir_status *st)
{
	gate_close(s);
	size_t ns = s->map_size * 2;
	if (s->grow_to > ns) {
		/* What a write asked for (od_store_reserve), to the next 64 MiB:
		 * one grow instead of several, each running the write again. */
		ns = (s->grow_to + GROW_ROUND - 1) / GROW_ROUND * GROW_ROUND;
	}
	size_t was = s->map_size;
	od_wal_unpin(s); /* no transaction may be open: the next write pins again */
	/* A full disk fails before the map is touched (the file's blocks
	 * come first): the map is as it was. */
	bool remapped = false;
	int rc = od_env_set_mapsize(s, ns, &remapped);
	if (rc == 0) {
		s->map_size = ns;
		s->grow_to = 0;
	} else if (remapped) {
		/* LMDB unmapped the old map before it failed to map the new one
		 * (out of address space, say): the environment has no map until
		 * it is opened again, at the size it had. */
		orgdir_status ro;
		if (reopen(s, &ro) != ORGDIR_OK) {
			od_log("error", "cannot reopen the data directory %s: %s", s->path,
			    ro.message);
		}
	}
	gate_open(s);
	char what[64];
	snprintf(what, sizeof(what), "grow the database map to %zu MiB", ns >> 20);
	if (rc != 0 && od_space_status(rc, what, s->path, st)) {
		return ORGDIR_RESOURCE_EXHAUSTED;
	}
	if (rc != 0) {
		return od_status_set(st, rc == ENOMEM ? ORGDIR_RESOURCE_EXHAUSTED : ORGDIR_INTERNAL,
		    "cannot grow the database map from %zu to %zu MiB: %s", was >> 20, ns >> 20,
		    mdb_strerror(rc));
	}
	od_log("info", "map size grown to %zu MiB", ns >> 20);
	return ORGDIR_OK;
}

/* --- readers ------------------------------------------------------------- */

orgdir_code
od_reader_new(struct od_store *s, od_reader **out, orgdir_status *st)
{
	od_reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	r->s = s;
	r->t.s = s;
	pthread_mutex_lock(&s->readers_mu);
	r->next = s->readers;
	if (r->next != NULL) {
		r->next->prev = r;
	}
	s->readers = r;
	pthread_mutex_unlock(&s->readers_mu);
	*out = r;
	return ORGDIR_OK;
}

orgdir_code
od_reader_begin(od_reader *r, od_txn **txn, orgdir_status *st)
{
	int rc;
	od_gate_enter(r);
	if (r->s->env == NULL) {
		od_gate_leave(r);
		return od_store_no_env(st);
	}
	if (r->t.txn == NULL) {
		rc = mdb_txn_begin(r->s->env, NULL, MDB_RDONLY, &r->t.txn);
	} else {
		rc = mdb_txn_renew(r->t.txn);
	}
	if (rc != 0) {
		od_gate_leave(r);
		return od_mdb_status(NULL, rc, "begin read", st);
	}
	r->active = true;
	*txn = &r->t;
	return ORGDIR_OK;
}

void
od_reader_end(od_reader *r)
{
	od_txn_scratch_free(&r->t);
	if (r->active) {
		mdb_txn_reset(r->t.txn);
		r->active = false;
		od_gate_leave(r);
	}
}

void
od_reader_free(od_reader *r)
{
	if (r == NULL) {
		return;
	}
	od_reader_end(r);
	struct od_store *s = r->s;
	pthread_mutex_lock(&s->readers_mu);
	if (r->t.txn != NULL) {
		mdb_txn_abort(r->t.txn);
	}
	if (r->prev != NULL) {
		r->prev->next = r->next;
	} else {
		s->readers = r->next;
	}
	if (r->next != NULL) {
		r->next->prev = r->prev;
	}
	/* A closer that was waiting for it may still look at it. */
	while (r->pins > 0) {
		pthread_cond_wait(&s->unpinned, &s->readers_mu);
	}
	pthread_mutex_unlock(&s->readers_mu);
	free(r);
}

/* --- writes -------------------------------------------------------------------- */

orgdir_code
od_store_write_begin(struct od_store *s, od_txn **batch, orgdir_status *st)
{
	if (s->env == NULL) {
		return od_store_no_env(st); /* the writer is the one thread that refreshes */
	}
	od_txn *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	if (rc != 0) {
		free(t);
		return od_mdb_status(NULL, rc, "begin write", st);
	}
	t->s = s;
	t->write = true;
	orgdir_code c = od_wal_write_begin(t, st);
	if (c != ORGDIR_OK) {
		mdb_txn_abort(t->txn);
		free(t);
		return c;
	}
	*batch = t;
	return ORGDIR_OK;
}

orgdir_code
od_txn_commit(od_txn *t, bool *map_full, orgdir_status *st)
{
	orgdir_code c;
	bool full = false;
	struct od_store *s = t->s;
	/* A transaction that changed nothing makes no snapshot (its id is
	 * the next one's too): the pair published stays true. */
	bool publish = t->writes > 0;
	uint64_t id = 0, rev = 0;
	if (publish) {
		pthread_mutex_lock(&s->rev_mu);
		id = mdb_txn_id(t->txn);
		rev = od_txn_revision_stored(t);
		revision_unpublish(s);
	}
	if (t->logged) {
		c = od_wal_commit(t, &full, st);
	} else {
		int rc = mdb_txn_commit(t->txn);
		t->txn = NULL;
		full = rc == MDB_MAP_FULL;
		c = od_mdb_status(t, rc, "commit", st);
	}
	if (publish) {
		if (c == ORGDIR_OK) {
			revision_publish(s, id, rev);
		}
		pthread_mutex_unlock(&s->rev_mu);
	}
	if (map_full != NULL) {
		*map_full = full;
	}
	od_txn_scratch_free(t);
	free(t);
	return c;
}

void
od_txn_abort(od_txn *t)
{
	if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
		t->txn = NULL;
	}
	od_txn_scratch_free(t);
	free(t);
}

bool
od_txn_map_full(const od_txn *t)
{
	return t->map_full;
}

void
od_txn_scratch_free(od_txn *t)
{
	if (t->has_scratch) {
		od_arena_destroy(&t->scratch);
		t->has_scratch = false;
	}
}

uint64_t
od_txn_writes(const od_txn *t)
{
	return t->writes;
}

/* --- metadata ------------------------------------------------------------------ */

uint64_t
od_txn_revision(od_txn *t)
{
	uint64_t rev = 0;
	if (!t->write && revision_published(t->s, mdb_txn_id(t->txn), &rev)) {
		return rev;
	}
	return od_txn_revision_stored(t);
}

uint64_t
od_txn_revision_stored(od_txn *t)
{
	MDB_val k = {strlen(META_REVISION), META_REVISION};
	MDB_val v;
	uint64_t rev = 0;
	if (mdb_get(t->txn, t->s->meta, &k, &v) == 0 && v.mv_size == sizeof(rev)) {
		memcpy(&rev, v.mv_data, sizeof(rev));
	}
	return rev;
}

void
od_txn_set_actor(od_txn *t, const char *actor, const char *method)
{
	t->actor = actor;
	t->method = method;
}

uint64_t
od_txn_next_revision(od_txn *t)
{
	if (t->one_revision) {
		return od_txn_revision(t); /* an import: one revision for all its writes */
	}
	uint64_t rev = od_txn_revision(t) + 1;
	od_mdb_put(t, t->s->meta, META_REVISION, strlen(META_REVISION), &rev, sizeof(rev), 0);
	return rev;
}

uint64_t
od_store_unit_count(od_txn *t)
{
	MDB_stat ms;
	if (mdb_stat(t->txn, t->s->units, &ms) != 0) {
		return 0;
	}
	return ms.ms_entries;
}
