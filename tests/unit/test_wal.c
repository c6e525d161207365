/*
 * test_wal.c - the write-ahead log (src/store/wal.c), through the store as
 * orgdird opens it (exclusive: logged). A crash is a child process that
 * writes and then _exits without closing the store (no last checkpoint);
 * a system crash that lost LMDB's newest pages is, at worst, both meta
 * pages of data.mdb gone (zeroed): LMDB alone cannot open the file then.
 * After each, the store opens at the checkpoint, applies the log again,
 * and holds every committed write (the torn record excepted), consistent.
 */
#define _GNU_SOURCE /* mincore, usleep */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "testutil.h"

#define REC_START 32768
#define REC_ALIGN 4096
#define REC_MAGIC 0x5244574fu

struct fx {
	char *dir;
	char path[512];
	od_arena arena;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_mkdtemp("wal");
	snprintf(f->path, sizeof(f->path), "%s/d", f->dir);
	od_arena_init(&f->arena, 64u << 20);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	od_arena_destroy(&f->arena);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct od_store *
open_at(const char *path, bool no_wal, size_t map, orgdir_code want, orgdir_status *st)
{
	od_store_opts o = {.path = path, .exclusive = true, .no_wal = no_wal, .map_size = map};
	struct od_store *s = NULL;
	assert_int_equal(od_store_open(&o, &s, st), want);
	return s;
}

static Orgdir__V1__Unit *
mkunit(od_arena *a, const char *id, const char *parent)
{
	Orgdir__V1__Unit *u = od_arena_alloc(a, sizeof(*u));
	orgdir__v1__unit__init(u);
	u->id = od_arena_strndup(a, id, strlen(id));
	u->parent_id = od_arena_strndup(a, parent, strlen(parent));
	u->kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	Orgdir__V1__LocalizedString *n = od_arena_alloc(a, sizeof(*n));
	orgdir__v1__localized_string__init(n);
	n->lang = "fr";
	n->text = od_arena_strndup(a, id, strlen(id));
	u->name = od_arena_alloc(a, sizeof(*u->name));
	u->name[0] = n;
	u->n_name = 1;
	return u;
}

/* One create in a batch of its own, growing the map when it fills. */
static void
create(struct od_store *s, od_arena *a, const char *id, const char *parent)
{
	orgdir_status st;
	for (int tries = 0; tries < 10; tries++) {
		od_txn *t;
		assert_int_equal(od_store_write_begin(s, &t, &st), ORGDIR_OK);
		orgdir_code c = od_unit_create(t, a, mkunit(a, id, parent), NULL, &st);
		bool full = od_txn_map_full(t);
		if (c != ORGDIR_OK) {
			od_txn_abort(t);
		} else {
			c = od_txn_commit(t, &full, &st);
		}
		if (c == ORGDIR_OK) {
			return;
		}
		assert_true(full);
		assert_int_equal(od_store_grow(s, &st), ORGDIR_OK);
	}
	fail_msg("create %s: the map never had room", id);
}

static void delete (struct od_store *s, od_arena *a, const char *id)
{
	orgdir_status st;
	od_txn *t;
	uint32_t n = 0;
	assert_int_equal(od_store_write_begin(s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_unit_delete(t, a, id, false, NULL, &n, &st), ORGDIR_OK);
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
}

/*
 * A crash: in a child process, opens the store as orgdird does (map: its
 * initial map size, 0 = the default), runs `writes` on it and dies without
 * closing it (no last checkpoint). The child exits 2 when the store does
 * not open, 3 when `writes` says a write failed.
 */
static void
crash_after(struct fx *f, size_t map, bool (*writes)(struct fx *, struct od_store *, int), int n)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		orgdir_status st;
		od_store_opts o = {.path = f->path, .exclusive = true, .map_size = map};
		struct od_store *s;
		if (od_store_open(&o, &s, &st) != ORGDIR_OK) {
			_exit(2);
		}
		_exit(writes(f, s, n) ? 0 : 3); /* no od_store_close */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Creates root and u0..u(n-1), deletes u1. */
static bool
units_then_a_delete(struct fx *f, struct od_store *s, int n)
{
	create(s, &f->arena, "root", "");
	char id[32];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		create(s, &f->arena, id, "root");
	}
	delete (s, &f->arena, "u1");
	return true;
}

static void
crash_after_writes(struct fx *f, int n, size_t map)
{
	crash_after(f, map, units_then_a_delete, n);
}

static bool
has_unit(struct od_store *s, const char *id)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	assert_int_equal(od_reader_new(s, &r, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r, &t, &st), ORGDIR_OK);
	bool yes = od_unit_exists(t, id);
	od_reader_end(r);
	od_reader_free(r);
	return yes;
}

static void
assert_consistent(struct od_store *s)
{
	od_check_report rep;
	orgdir_status st;
	assert_int_equal(od_store_check(s, &rep, &st), ORGDIR_OK);
	assert_int_equal(rep.problems, 0);
}

/* u0..u(n-1) but u1, and root: there, and nothing else. */
static void
assert_all_writes(struct od_store *s, int n)
{
	char id[32];
	assert_true(has_unit(s, "root"));
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		if (has_unit(s, id) != (i != 1)) {
			fail_msg("unit %s is %s", id, i == 1 ? "back" : "missing");
		}
	}
	assert_consistent(s);
}

static void
file_path(char *out, size_t n, const struct fx *f, const char *name)
{
	snprintf(out, n, "%s/%s", f->path, name);
}

/* Overwrites len bytes at off of f's file `name` with `byte`. */
static void
scribble(const struct fx *f, const char *name, off_t off, size_t len, int byte)
{
	char p[600];
	file_path(p, sizeof(p), f, name);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	char *b = malloc(len);
	memset(b, byte, len);
	assert_int_equal(pwrite(fd, b, len, off), (ssize_t) len);
	free(b);
	close(fd);
}

/* The offset of the log's last record (records are 4 KiB aligned, each
 * one lsn after the one before). */
static off_t
last_record(const struct fx *f)
{
	char p[600];
	file_path(p, sizeof(p), f, "orgdird.wal");
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	off_t last = -1;
	uint64_t prev = 0;
	for (off_t pos = REC_START;; pos += REC_ALIGN) {
		struct {
			uint32_t magic, crc;
			uint64_t lsn;
		} h;
		if (pread(fd, &h, sizeof(h), pos) != (ssize_t) sizeof(h)) {
			break;
		}
		if (h.magic == REC_MAGIC && (last < 0 || h.lsn == prev + 1)) {
			last = pos;
			prev = h.lsn;
		}
	}
	close(fd);
	return last;
}

/* Creates `id` under `parent` in s, closes s, and finds it after a reopen
 * (a clean close: nothing to apply). */
static void
write_survives_reopen(struct fx *f, struct od_store *s, const char *id, const char *parent)
{
	orgdir_status st;
	create(s, &f->arena, id, parent);
	od_store_close(s);
	s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_true(has_unit(s, id));
	od_store_close(s);
}

/* orgdird killed: the page cache kept everything; the store opens at the
 * checkpoint all the same and the log brings it back to the last write. */
static void
test_crash_replays_the_log(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	crash_after_writes(f, 40, 0);
	struct od_store *s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_all_writes(s, 40);
	od_store_close(s);
	/* A clean close leaves nothing to apply: as it was. */
	s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_all_writes(s, 40);
	write_survives_reopen(f, s, "after", "root");
}

/* The system went down and data.mdb lost its meta pages (the worst LMDB
 * can meet with its commits unsynced): the checkpoint's are put back. */
static void
test_lost_meta_pages_come_back_from_the_checkpoint(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	crash_after_writes(f, 40, 0);
	scribble(f, "data.mdb", 0, 8192, 0);
	/* Without the log, LMDB alone cannot open it. */
	od_store_opts plain = {.path = f->path, .must_exist = true};
	struct od_store *s = NULL;
	assert_int_not_equal(od_store_open(&plain, &s, &st), ORGDIR_OK);
	s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_all_writes(s, 40);
	od_store_close(s);
}

/* A record torn by the crash (its write never finished, so it was never
 * acknowledged): everything before it is applied, it is not. */
static void
test_torn_last_record_is_left_out(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	crash_after_writes(f, 10, 0);
	off_t last = last_record(f);
	assert_true(last > REC_START);
	scribble(f, "orgdird.wal", last + 100, 1, 0x5a); /* the delete of u1 */
	scribble(f, "data.mdb", 0, 8192, 0);
	struct od_store *s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_true(has_unit(s, "u1")); /* its delete was torn */
	assert_true(has_unit(s, "u9"));
	assert_consistent(s);
	od_store_close(s);
}

/* The map grew after the checkpoint (a full map, od_store_grow): the
 * records applied again need the larger map, and get it. */
static void
test_replay_after_the_map_grew(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	crash_after_writes(f, 600, (size_t) 1 << 20);
	scribble(f, "data.mdb", 0, 8192, 0);
	struct od_store *s = open_at(f->path, false, (size_t) 1 << 20, ORGDIR_OK, &st);
	assert_all_writes(s, 600);
	od_store_close(s);
}

/* root (logged), big1 and big2 in a transaction that reserves 32 MiB (not
 * logged), then `after` under big1 (logged). */
static bool
big_write_then_a_logged_one(struct fx *f, struct od_store *s, int n)
{
	(void) n;
	orgdir_status st;
	od_txn *t;
	create(s, &f->arena, "root", "");
	if (od_store_write_begin(s, &t, &st) != ORGDIR_OK ||
	    od_store_reserve(t, (size_t) 32 << 20, &st) != ORGDIR_OK ||
	    od_unit_create(t, &f->arena, mkunit(&f->arena, "big1", "root"), NULL, &st) !=
	        ORGDIR_OK ||
	    od_unit_create(t, &f->arena, mkunit(&f->arena, "big2", "root"), NULL, &st) !=
	        ORGDIR_OK ||
	    od_txn_commit(t, NULL, &st) != ORGDIR_OK) {
		return false;
	}
	create(s, &f->arena, "after", "big1");
	return true;
}

/* A transaction too large for the log (an import reserves more than the
 * log takes) is committed and made durable by a checkpoint before it
 * returns; logged writes go on on top of it. */
static void
test_write_too_large_for_the_log_is_checkpointed(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	crash_after(f, 0, big_write_then_a_logged_one, 0);
	scribble(f, "data.mdb", 0, 8192, 0);
	struct od_store *s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_true(has_unit(s, "big1"));
	assert_true(has_unit(s, "big2"));
	assert_true(has_unit(s, "after"));
	assert_consistent(s);
	od_store_close(s);
}

/* data.mdb replaced by another store's (a new file): the log says nothing
 * of it and is begun again; the file is used as it is. */
static void
test_log_of_another_data_file_is_not_applied(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	char other[600], from[700], to[700];
	snprintf(other, sizeof(other), "%s/other", f->dir);
	struct od_store *s = open_at(other, false, 0, ORGDIR_OK, &st);
	create(s, &f->arena, "elsewhere", "");
	od_store_close(s);
	crash_after_writes(f, 5, 0);
	snprintf(from, sizeof(from), "%s/data.mdb", other);
	snprintf(to, sizeof(to), "%s/data.mdb", f->path);
	assert_int_equal(rename(from, to), 0);
	s = open_at(f->path, false, 0, ORGDIR_OK, &st);
	assert_true(has_unit(s, "elsewhere"));
	assert_false(has_unit(s, "root"));
	assert_consistent(s);
	write_survives_reopen(f, s, "next", "");
}

/* --no-wal on a directory a crash left a log in: the log is applied
 * first, then removed; LMDB syncs its own commits from then on. */
static void
test_no_wal_applies_and_removes_the_log(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	char wal[600];
	crash_after_writes(f, 20, 0);
	file_path(wal, sizeof(wal), f, "orgdird.wal");
	assert_int_equal(access(wal, F_OK), 0);
	struct od_store *s = open_at(f->path, true, 0, ORGDIR_OK, &st);
	assert_int_not_equal(access(wal, F_OK), 0);
	assert_all_writes(s, 20);
	create(s, &f->arena, "unlogged", "root");
	od_store_close(s);
	s = open_at(f->path, false, 0, ORGDIR_OK, &st); /* with the log again */
	assert_true(has_unit(s, "unlogged"));
	assert_all_writes(s, 20);
	od_store_close(s);
}

/* The size of path and whether it has a block for each of its bytes. */
static off_t
allocated_size(const char *path, bool *full)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	*full = (off_t) sb.st_blocks * 512 >= sb.st_size;
	return sb.st_size;
}

/* With the log, LMDB writes in its map, so data.mdb has its blocks up to
 * the map's size, at open and after a growth (a map page without one is a
 * SIGBUS on a full disk), and a smaller map asked for later does not cut
 * it; with --no-wal LMDB writes through the file, which holds only its
 * pages. */
static void
test_data_file_has_blocks_for_the_map(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	char file[600], other[600], other_file[700];
	bool full = false;
	if (!OD_STORE_WRITEMAP) {
		skip(); /* a TSan build writes through the file */
	}
	file_path(file, sizeof(file), f, "data.mdb");
	struct od_store *s = open_at(f->path, false, (size_t) 4 << 20, ORGDIR_OK, &st);
	assert_int_equal(allocated_size(file, &full), 4 << 20);
	assert_true(full);
	assert_int_equal(od_store_grow(s, &st), ORGDIR_OK);
	assert_int_equal(allocated_size(file, &full), 8 << 20);
	assert_true(full);
	create(s, &f->arena, "root", "");
	od_store_close(s);
	/* Opened with a smaller map: LMDB would cut the file to it (below
	 * the size the log's header knows it by); it keeps its size. */
	s = open_at(f->path, false, (size_t) 4 << 20, ORGDIR_OK, &st);
	assert_int_equal(allocated_size(file, &full), 8 << 20);
	assert_true(full);
	assert_true(has_unit(s, "root"));
	od_store_close(s);
	snprintf(other, sizeof(other), "%s/nolog", f->dir);
	snprintf(other_file, sizeof(other_file), "%s/data.mdb", other);
	s = open_at(other, true, (size_t) 8 << 20, ORGDIR_OK, &st);
	create(s, &f->arena, "root", "");
	od_store_close(s);
	assert_true(allocated_size(other_file, &full) < (off_t) 1 << 20);
}

/* Pages of [off, off + len) of the file in the page cache. */
static size_t
resident_pages(const char *path, size_t off, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t) off);
	assert_true(m != MAP_FAILED);
	size_t pg = (size_t) sysconf(_SC_PAGESIZE), n = 0;
	unsigned char *v = calloc(len / pg, 1);
	assert_int_equal(mincore(m, len, v), 0);
	for (size_t i = 0; i < len / pg; i++) {
		n += v[i] & 1;
	}
	free(v);
	munmap(m, len);
	close(fd);
	return n;
}

/* od_store_prefetch (an import's hint) brings the map's unwritten end into
 * the page cache on a thread of its own, and what the transaction writes
 * there meanwhile is kept: the pages read ahead are never written over
 * LMDB's. */
static void
test_prefetch_reads_the_map_ahead(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	char file[600];
	if (!OD_STORE_WRITEMAP) {
		skip(); /* a TSan build writes through the file: no prefetch */
	}
	file_path(file, sizeof(file), f, "data.mdb");
	struct od_store *s = open_at(f->path, false, (size_t) 32 << 20, ORGDIR_OK, &st);
	/* The open leaves the file's first MiBs in the cache (8 here): the
	 * range looked at is past them. */
	const size_t from = (size_t) 16 << 20, len = (size_t) 8 << 20;
	size_t pages = len / (size_t) sysconf(_SC_PAGESIZE);
	assert_int_equal(resident_pages(file, from, len), 0); /* never touched */
	od_txn *t;
	assert_int_equal(od_store_write_begin(s, &t, &st), ORGDIR_OK);
	od_store_prefetch(t, (size_t) 32 << 20); /* to the map's end */
	Orgdir__V1__Unit *u = mkunit(&f->arena, "root", "");
	assert_int_equal(od_unit_create(t, &f->arena, u, NULL, &st), ORGDIR_OK);
	/* A wait, not a timing: the thread reads ~32 MiB of zeros. */
	size_t got = 0;
	for (int i = 0; i < 1000 && got < pages; i++) {
		got = resident_pages(file, from, len);
		if (got < pages) {
			usleep(10000);
		}
	}
	assert_int_equal(got, pages);
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
	create(s, &f->arena, "kid", "root");
	od_store_close(s);
	s = open_at(f->path, false, (size_t) 32 << 20, ORGDIR_OK, &st);
	assert_true(has_unit(s, "root"));
	assert_true(has_unit(s, "kid"));
	od_store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_crash_replays_the_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lost_meta_pages_come_back_from_the_checkpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_last_record_is_left_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_after_the_map_grew, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_file_has_blocks_for_the_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefetch_reads_the_map_ahead, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_write_too_large_for_the_log_is_checkpointed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_log_of_another_data_file_is_not_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_no_wal_applies_and_removes_the_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
