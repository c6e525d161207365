/* test_store.c - the LMDB store: units, children index order and paging,
 * subtree walk, moves and cycles, deletes, etags, idempotency records, map
 * growth and persistence across reopen, the gate between readers and a
 * remap or reopen. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

struct fx {
	char *dir;
	struct od_store *s;
	od_arena arena;
};

static void
open_store(struct fx *f, size_t map)
{
	orgdir_status st;
	od_store_opts o = {.path = f->dir, .map_size = map, .no_sync = true};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_mkdtemp("store");
	open_store(f, 0);
	od_arena_init(&f->arena, 64u << 20);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	od_store_close(f->s);
	od_arena_destroy(&f->arena);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static Orgdir__V1__Unit *
mkunit(od_arena *a, const char *id, const char *parent, int32_t order, const char *en)
{
	Orgdir__V1__Unit *u = od_arena_alloc(a, sizeof(*u));
	orgdir__v1__unit__init(u);
	u->id = od_arena_strndup(a, id, strlen(id));
	u->parent_id = od_arena_strndup(a, parent, strlen(parent));
	u->kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	u->sort_order = order;
	Orgdir__V1__LocalizedString *n = od_arena_alloc(a, sizeof(*n));
	orgdir__v1__localized_string__init(n);
	n->lang = "en";
	n->text = od_arena_strndup(a, en, strlen(en));
	u->name = od_arena_alloc(a, sizeof(*u->name));
	u->name[0] = n;
	u->n_name = 1;
	return u;
}

/* Runs one write in its own batch; returns the code. */
static orgdir_code
create(struct fx *f, const char *id, const char *parent, int32_t order, orgdir_status *st)
{
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, st), ORGDIR_OK);
	orgdir_code c =
	    od_unit_create(t, &f->arena, mkunit(&f->arena, id, parent, order, id), NULL, st);
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, st);
}

static Orgdir__V1__Unit *
fetch(struct fx *f, const char *id)
{
	od_reader *r;
	od_txn *t;
	od_val v;
	orgdir_status st;
	Orgdir__V1__Unit *u = NULL;
	assert_int_equal(od_reader_new(f->s, &r, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r, &t, &st), ORGDIR_OK);
	if (od_unit_get(t, id, &v, &st) == ORGDIR_OK) {
		u = orgdir__v1__unit__unpack(&f->arena.pb, v.len, v.data);
	}
	od_reader_end(r);
	od_reader_free(r);
	return u;
}

/*
 * The writer runs a batch's requests in one transaction and leaves a failed
 * one out by itself only when od_txn_writes did not move (writer.c): every
 * change counts, and the failures a request meets in its checks (a missing
 * parent or unit, an existing id, a stale etag, a cycle) change nothing.
 */
static void
test_writes_count_changes_and_not_refusals(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	assert_int_equal(create(f, "kid", "root", 0, &st), ORGDIR_OK);
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_txn_writes(t), 0);
	uint64_t w = od_txn_writes(t);
	assert_int_equal(
	    od_unit_create(t, &f->arena, mkunit(&f->arena, "x", "nope", 0, "x"), NULL, &st),
	    ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(od_txn_writes(t), w);
	assert_int_equal(
	    od_unit_create(t, &f->arena, mkunit(&f->arena, "kid", "root", 0, "k"), NULL, &st),
	    ORGDIR_ALREADY_EXISTS);
	assert_int_equal(od_txn_writes(t), w);
	Orgdir__V1__Unit *patch = mkunit(&f->arena, "kid", "root", 0, "renamed");
	patch->etag = "999";
	assert_int_equal(od_unit_update(t, &f->arena, patch, NULL, NULL, &st), ORGDIR_ABORTED);
	assert_int_equal(od_txn_writes(t), w);
	patch->id = "ghost";
	patch->etag = "";
	assert_int_equal(od_unit_update(t, &f->arena, patch, NULL, NULL, &st), ORGDIR_NOT_FOUND);
	assert_int_equal(od_txn_writes(t), w);
	assert_int_equal(
	    od_unit_move(t, &f->arena, "root", "kid", "", NULL, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(od_txn_writes(t), w);
	assert_int_equal(
	    od_unit_delete(t, &f->arena, "root", false, "", NULL, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(od_txn_writes(t), w);
	assert_int_equal(
	    od_unit_delete(t, &f->arena, "ghost", false, "", NULL, &st), ORGDIR_NOT_FOUND);
	assert_int_equal(od_txn_writes(t), w);
	/* A change moves it. */
	patch->id = "kid";
	assert_int_equal(od_unit_update(t, &f->arena, patch, NULL, NULL, &st), ORGDIR_OK);
	assert_true(od_txn_writes(t) > w);
	w = od_txn_writes(t);
	assert_int_equal(od_unit_delete(t, &f->arena, "kid", false, "", NULL, &st), ORGDIR_OK);
	assert_true(od_txn_writes(t) > w);
	od_txn_abort(t);
}

/*
 * A reader of the last commit's snapshot gets its revision from that
 * commit's record (env.c, revision_publish), any other from the store:
 * both must say what the store holds for the reader's snapshot.
 */
static void
test_revision_of_each_snapshot(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_reader *r[4];
	od_txn *t[4];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(od_reader_new(f->s, &r[i], &st), ORGDIR_OK);
	}
	assert_int_equal(od_reader_begin(r[0], &t[0], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[0]), 0);
	od_reader_end(r[0]);
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[0], &t[0], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[0]), 1);
	assert_int_equal(od_txn_revision_stored(t[0]), 1);
	/* r[0] stays on revision 1 while another commit is published. */
	assert_int_equal(create(f, "kid", "root", 0, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[1], &t[1], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[1]), 2);
	assert_int_equal(od_txn_revision(t[0]), 1);
	/* A transaction that changes nothing makes no snapshot: its id is the
	 * next real one's. */
	od_txn *w;
	assert_int_equal(od_store_write_begin(f->s, &w, &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(w), 2);
	assert_int_equal(od_txn_commit(w, NULL, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[2], &t[2], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[2]), 2);
	od_reader_end(r[2]);
	/* A write sees its own revision before it commits. */
	assert_int_equal(od_store_write_begin(f->s, &w, &st), ORGDIR_OK);
	assert_int_equal(
	    od_unit_create(w, &f->arena, mkunit(&f->arena, "k2", "root", 1, "k2"), NULL, &st),
	    ORGDIR_OK);
	assert_int_equal(od_txn_revision(w), 3);
	assert_int_equal(od_txn_commit(w, NULL, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[2], &t[2], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[2]), 3);
	assert_int_equal(od_txn_revision(t[1]), 2);
	assert_int_equal(od_txn_revision(t[0]), 1);
	/* An aborted write publishes nothing. */
	assert_int_equal(od_store_write_begin(f->s, &w, &st), ORGDIR_OK);
	assert_int_equal(
	    od_unit_create(w, &f->arena, mkunit(&f->arena, "k3", "root", 2, "k3"), NULL, &st),
	    ORGDIR_OK);
	od_txn_abort(w);
	assert_int_equal(od_reader_begin(r[3], &t[3], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[3]), 3);
	/* After a reopen (od_store_refresh) the ids go on from the file. */
	for (int i = 0; i < 4; i++) {
		od_reader_end(r[i]);
	}
	assert_int_equal(od_store_refresh(f->s, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[0], &t[0], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[0]), 3);
	od_reader_end(r[0]);
	assert_int_equal(create(f, "k4", "root", 3, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r[0], &t[0], &st), ORGDIR_OK);
	assert_int_equal(od_txn_revision(t[0]), 4);
	assert_int_equal(od_txn_revision_stored(t[0]), 4);
	od_reader_end(r[0]);
	for (int i = 0; i < 4; i++) {
		od_reader_free(r[i]);
	}
}

static void
test_create_get(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	Orgdir__V1__Unit *u = fetch(f, "root");
	assert_non_null(u);
	assert_string_equal(u->id, "root");
	assert_string_equal(u->etag, "1");
	assert_non_null(u->create_time);
	assert_true(u->create_time->seconds > 1700000000);
	assert_string_equal(u->name[0]->text, "root");
	assert_null(fetch(f, "nope"));
}

static void
test_create_errors(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_ALREADY_EXISTS);
	assert_non_null(strstr(st.message, "already exists"));
	assert_int_equal(create(f, "orphan", "missing", 0, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "missing"));
	assert_int_equal(create(f, "Bad_Id", "", 0, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(create(f, "-x", "", 0, &st), ORGDIR_INVALID_ARGUMENT);
	/* Unchanged by the failures: still one unit, revision 1. */
	od_reader *r;
	od_txn *t;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	assert_int_equal(od_store_unit_count(t), 1);
	assert_int_equal(od_txn_revision(t), 1);
	od_reader_end(r);
	od_reader_free(r);
}

static void
test_children_order_and_paging(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(create(f, "p", "", 0, &st), ORGDIR_OK);
	/* Inserted out of order; listed by (sort_order, id), negative first. */
	assert_int_equal(create(f, "c", "p", 20, &st), ORGDIR_OK);
	assert_int_equal(create(f, "a", "p", 20, &st), ORGDIR_OK);
	assert_int_equal(create(f, "z", "p", -5, &st), ORGDIR_OK);
	assert_int_equal(create(f, "m", "p", 10, &st), ORGDIR_OK);
	const char *want[] = {"z", "m", "a", "c"};
	od_reader *r;
	od_txn *t;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	od_child_iter *it;
	assert_int_equal(od_children_open(t, "p", &it, &st), ORGDIR_OK);
	assert_int_equal(od_children_count(it), 4);
	od_val id, unit;
	uint8_t key[80];
	size_t keylen = 0;
	for (size_t i = 0; i < 4; i++) {
		assert_true(od_children_next(it, &id, &unit));
		assert_int_equal(id.len, strlen(want[i]));
		assert_memory_equal(id.data, want[i], id.len);
		if (i == 1) {
			od_val k = od_children_key(it);
			memcpy(key, k.data, k.len);
			keylen = k.len;
		}
	}
	assert_false(od_children_next(it, &id, &unit));
	od_children_close(it);
	/* Resume after the second: the third and fourth follow. */
	assert_int_equal(od_children_open(t, "p", &it, &st), ORGDIR_OK);
	od_val after = {key, keylen};
	od_children_seek(it, &after);
	assert_true(od_children_next(it, &id, &unit));
	assert_memory_equal(id.data, "a", 1);
	assert_true(od_children_next(it, &id, &unit));
	assert_memory_equal(id.data, "c", 1);
	assert_false(od_children_next(it, &id, &unit));
	od_children_close(it);
	/* Roots list. */
	assert_int_equal(od_children_open(t, "", &it, &st), ORGDIR_OK);
	assert_int_equal(od_children_count(it), 1);
	od_children_close(it);
	od_reader_end(r);
	od_reader_free(r);
}

struct seen {
	char ids[32][16];
	uint32_t depth[32];
	size_t n;
};

static bool
record_visit(void *arg, uint32_t depth, const od_val *unit)
{
	struct seen *s = arg;
	const uint8_t *p;
	size_t n;
	assert_true(od_pb_scan_field(unit->data, unit->len, 1, &p, &n));
	assert_true(s->n < 32);
	memcpy(s->ids[s->n], p, n);
	s->ids[s->n][n] = 0;
	s->depth[s->n++] = depth;
	return true;
}

static void
walk(struct fx *f, const char *root, uint32_t max, struct seen *s)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	memset(s, 0, sizeof(*s));
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	assert_int_equal(od_subtree_walk(t, root, max, record_visit, s, &st), ORGDIR_OK);
	od_reader_end(r);
	od_reader_free(r);
}

static void
build_tree(struct fx *f)
{
	orgdir_status st;
	/* r ─ a ─ a1, a2 ; r ─ b ─ b1 ─ b11 */
	assert_int_equal(create(f, "r", "", 0, &st), ORGDIR_OK);
	assert_int_equal(create(f, "b", "r", 2, &st), ORGDIR_OK);
	assert_int_equal(create(f, "a", "r", 1, &st), ORGDIR_OK);
	assert_int_equal(create(f, "a2", "a", 2, &st), ORGDIR_OK);
	assert_int_equal(create(f, "a1", "a", 1, &st), ORGDIR_OK);
	assert_int_equal(create(f, "b1", "b", 0, &st), ORGDIR_OK);
	assert_int_equal(create(f, "b11", "b1", 0, &st), ORGDIR_OK);
}

static void
test_subtree_walk(void **state)
{
	struct fx *f = *state;
	struct seen s;
	build_tree(f);
	walk(f, "", 0, &s);
	const char *order[] = {"r", "a", "a1", "a2", "b", "b1", "b11"};
	const uint32_t depth[] = {0, 1, 2, 2, 1, 2, 3};
	assert_int_equal(s.n, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(s.ids[i], order[i]);
		assert_int_equal(s.depth[i], depth[i]);
	}
	walk(f, "b", 0, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "b");
	assert_int_equal(s.depth[0], 0);
	assert_int_equal(s.depth[2], 2);
	walk(f, "r", 1, &s);
	assert_int_equal(s.n, 3); /* r, a, b */
	assert_string_equal(s.ids[2], "b");
}

static orgdir_code
move(struct fx *f, const char *id, const char *np, const char *etag, orgdir_status *st)
{
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, st), ORGDIR_OK);
	orgdir_code c = od_unit_move(t, &f->arena, id, np, etag, NULL, st);
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, st);
}

static void
test_move_and_cycles(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	struct seen s;
	build_tree(f);
	assert_int_equal(move(f, "b", "b11", NULL, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "descendants"));
	assert_int_equal(move(f, "b", "b", NULL, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(move(f, "b", "ghost", NULL, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(move(f, "b", "a", "999", &st), ORGDIR_ABORTED);
	assert_int_equal(move(f, "b1", "a", NULL, &st), ORGDIR_OK);
	walk(f, "a", 0, &s);
	/* a, b1 (order 0), b11, a1, a2 */
	assert_int_equal(s.n, 5);
	assert_string_equal(s.ids[1], "b1");
	assert_string_equal(s.ids[2], "b11");
	assert_int_equal(s.depth[2], 2);
	assert_string_equal(fetch(f, "b1")->parent_id, "a");
	walk(f, "b", 0, &s);
	assert_int_equal(s.n, 1);
	/* To the top level. */
	assert_int_equal(move(f, "a", "", NULL, &st), ORGDIR_OK);
	walk(f, "", 1, &s);
	/* roots by sort order: r (0) with b, then a (1) with b1, a1, a2 */
	assert_int_equal(s.n, 6);
	assert_string_equal(s.ids[0], "r");
	assert_string_equal(s.ids[2], "a");
	assert_int_equal(s.depth[2], 0);
	assert_string_equal(fetch(f, "a")->parent_id, "");
}

static orgdir_code
del(struct fx *f, const char *id, bool force, uint32_t *n, orgdir_status *st)
{
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, st), ORGDIR_OK);
	orgdir_code c = od_unit_delete(t, &f->arena, id, force, NULL, n, st);
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, st);
}

static void
test_delete(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	struct seen s;
	uint32_t n = 0;
	build_tree(f);
	assert_int_equal(del(f, "b", false, &n, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "2 descendant"));
	assert_non_null(fetch(f, "b11"));
	assert_int_equal(del(f, "b", true, &n, &st), ORGDIR_OK);
	assert_int_equal(n, 3);
	assert_null(fetch(f, "b"));
	assert_null(fetch(f, "b1"));
	assert_null(fetch(f, "b11"));
	walk(f, "", 0, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(del(f, "a1", false, &n, &st), ORGDIR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(del(f, "a1", false, &n, &st), ORGDIR_NOT_FOUND);
	/* An id reused after delete starts clean, with no stale children. */
	assert_int_equal(create(f, "b", "r", 0, &st), ORGDIR_OK);
	walk(f, "b", 0, &s);
	assert_int_equal(s.n, 1);
}

static void
test_update_mask_and_etag(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	build_tree(f);
	Orgdir__V1__Unit *cur = fetch(f, "a");
	Orgdir__V1__Unit *patch = mkunit(&f->arena, "a", "", 5, "Renamed");
	patch->acronym = "ACR";
	char *paths[] = {"name", "sortOrder"};
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	mask.paths = paths;
	mask.n_paths = 2;
	patch->etag = "12345";
	od_txn *t;
	Orgdir__V1__Unit *out;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_unit_update(t, &f->arena, patch, &mask, &out, &st), ORGDIR_ABORTED);
	od_txn_abort(t);
	patch->etag = cur->etag;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_unit_update(t, &f->arena, patch, &mask, &out, &st), ORGDIR_OK);
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
	Orgdir__V1__Unit *now = fetch(f, "a");
	assert_string_equal(now->name[0]->text, "Renamed");
	assert_int_equal(now->sort_order, 5);
	assert_string_equal(now->acronym, ""); /* not in the mask */
	assert_string_equal(now->parent_id, "r");
	assert_string_not_equal(now->etag, cur->etag);
	assert_int_equal(now->create_time->seconds, cur->create_time->seconds);
	/* sort_order change re-keys the index: a (5) now after b (2). */
	struct seen s;
	walk(f, "r", 1, &s);
	assert_string_equal(s.ids[1], "b");
	assert_string_equal(s.ids[2], "a");
	/* parent_id and unknown paths are refused. */
	char *bad[] = {"parent_id"};
	mask.paths = bad;
	mask.n_paths = 1;
	patch->etag = "";
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(
	    od_unit_update(t, &f->arena, patch, &mask, &out, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "MoveUnit"));
	char *unknown[] = {"colour"};
	mask.paths = unknown;
	assert_int_equal(
	    od_unit_update(t, &f->arena, patch, &mask, &out, &st), ORGDIR_INVALID_ARGUMENT);
	char *sub[] = {"head.name"};
	patch->head = od_arena_alloc(&f->arena, sizeof(*patch->head));
	orgdir__v1__head__init(patch->head);
	patch->head->name = "Jane Doe";
	mask.paths = sub;
	assert_int_equal(od_unit_update(t, &f->arena, patch, &mask, &out, &st), ORGDIR_OK);
	assert_string_equal(out->head->name, "Jane Doe");
	od_txn_abort(t);
}

static void
test_idempotency_record(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_txn *t;
	uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	od_val k = {key, sizeof(key)};
	od_val resp = {"reply-bytes", 11};
	od_val got;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_false(od_request_lookup(t, &k, &got));
	assert_int_equal(od_request_record(t, &k, &resp, &st), ORGDIR_OK);
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_true(od_request_lookup(t, &k, &got));
	assert_int_equal(got.len, 11);
	assert_memory_equal(got.data, "reply-bytes", 11);
	od_val shortk = {key, 4};
	assert_false(od_request_lookup(t, &shortk, &got));
	od_txn_abort(t);
}

/* The record keeps the last OD_REQUESTS_KEPT outcomes: each write past the
 * window forgets the oldest one, from both databases, and only it. */
static void
test_idempotency_window(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_txn *t;
	uint8_t key[16] = {0};
	od_val k = {key, sizeof(key)};
	od_val resp = {"r", 1};
	od_val got;
	const uint32_t extra = 10;
	const uint32_t n = OD_REQUESTS_KEPT + extra;
	/* In a few transactions, as writes come: the window spans them. */
	for (uint32_t i = 0; i < n;) {
		assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
		for (uint32_t end = i + 25000; i < n && i < end; i++) {
			memcpy(key, &i, sizeof(i));
			assert_int_equal(od_request_record(t, &k, &resp, &st), ORGDIR_OK);
		}
		assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
	}
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(key, &i, sizeof(i));
		if (i < extra) {
			assert_false(od_request_lookup(t, &k, &got));
		} else if (!od_request_lookup(t, &k, &got)) {
			fail_msg(
			    "request %u was forgotten, only the %u oldest should be", i, extra);
		}
	}
	/* One more write forgets exactly one more. */
	uint32_t i = n;
	memcpy(key, &i, sizeof(i));
	assert_int_equal(od_request_record(t, &k, &resp, &st), ORGDIR_OK);
	i = extra;
	memcpy(key, &i, sizeof(i));
	assert_false(od_request_lookup(t, &k, &got));
	i = extra + 1;
	memcpy(key, &i, sizeof(i));
	assert_true(od_request_lookup(t, &k, &got));
	od_txn_abort(t);
}

/* A write that knows it is large asks for room first: refused at once with
 * a full map, then one grow makes all the room it asked for. */
static void
test_reserve_grows_once(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_txn *t;
	od_store_close(f->s);
	test_rmtree(f->dir);
	open_store(f, 1u << 20);
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_store_reserve(t, 256u << 10, &st), ORGDIR_OK);
	assert_false(od_txn_map_full(t));
	assert_int_equal(od_store_reserve(t, 100u << 20, &st), ORGDIR_RESOURCE_EXHAUSTED);
	assert_true(od_txn_map_full(t));
	assert_non_null(strstr(st.message, "no room for 100 MiB"));
	od_txn_abort(t);
	assert_int_equal(od_store_grow(f->s, &st), ORGDIR_OK); /* not merely doubled */
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_store_reserve(t, 100u << 20, &st), ORGDIR_OK);
	assert_false(od_txn_map_full(t));
	od_txn_abort(t);
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
}

static void
test_map_grows_and_data_persists(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_store_close(f->s);
	test_rmtree(f->dir);
	open_store(f, 1u << 20); /* 1 MiB: full after a few thousand units */
	char id[32];
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	for (int batch = 0; batch < 20; batch++) {
		for (int attempt = 0;; attempt++) {
			od_txn *t;
			orgdir_code c = ORGDIR_OK;
			assert_true(attempt < 10);
			assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
			for (int i = 0; i < 250 && c == ORGDIR_OK; i++) {
				snprintf(id, sizeof(id), "u-%d-%d", batch, i);
				c = od_unit_create(
				    t, &f->arena, mkunit(&f->arena, id, "root", i, id), NULL, &st);
			}
			if (c == ORGDIR_OK) {
				bool full = false;
				c = od_txn_commit(t, &full, &st);
				if (c == ORGDIR_OK) {
					break;
				}
				assert_true(full);
			} else {
				assert_true(od_txn_map_full(t));
				od_txn_abort(t);
			}
			assert_int_equal(c, ORGDIR_RESOURCE_EXHAUSTED);
			assert_int_equal(od_store_grow(f->s, &st), ORGDIR_OK);
		}
		od_arena_reset(&f->arena);
	}
	od_store_close(f->s);
	open_store(f, 1u << 20); /* reopen: the grown environment is kept */
	Orgdir__V1__Unit *u = fetch(f, "u-19-249");
	assert_non_null(u);
	assert_string_equal(u->parent_id, "root");
	od_reader *r;
	od_txn *t;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	assert_int_equal(od_store_unit_count(t), 5001);
	od_reader_end(r);
	od_reader_free(r);
	assert_int_equal(od_store_schema_version(f->s), OD_SCHEMA_VERSION);
}

/* This process's address space, bytes (0: unknown). */
static size_t
vm_size(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;
	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1) {
			break;
		}
	}
	if (fp != NULL) {
		fclose(fp);
	}
	return (size_t) kb << 10;
}

/*
 * A map that cannot grow for want of address space: the store keeps the
 * map it had, and its data, and serves reads and writes on; the grow is
 * RESOURCE_EXHAUSTED. (LMDB unmaps the old map before it maps the new
 * one: a failed remap used to leave no map, and the next transaction
 * crashed orgdird.) The address space is limited for the grow only.
 */
static void
test_map_growth_without_address_space(void **state)
{
	struct fx *f = *state;
	const char *preload = getenv("LD_PRELOAD");
	if (preload != NULL && strstr(preload, "vgpreload") != NULL) {
		skip(); /* valgrind shares the address space it would limit */
	}
	orgdir_status st;
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	od_reader *r;
	od_txn *t;
	assert_int_equal(od_reader_new(f->s, &r, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(r, &t, &st), ORGDIR_OK); /* a reset snapshot kept */
	od_reader_end(r);
	struct rlimit was;
	assert_int_equal(getrlimit(RLIMIT_AS, &was), 0);
	size_t vm = vm_size();
	assert_true(vm > 0);
	/* 256 MiB of map to 512: 256 MiB more than the limit leaves. */
	struct rlimit tight = {vm + (32u << 20), was.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_AS, &tight), 0);
	orgdir_code c = od_store_grow(f->s, &st);
	assert_int_equal(setrlimit(RLIMIT_AS, &was), 0);
	assert_int_equal(c, ORGDIR_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.message, "cannot grow the database map from 256 to 512 MiB"));
	assert_int_equal(od_reader_begin(r, &t, &st), ORGDIR_OK);
	assert_int_equal(od_store_unit_count(t), 1);
	od_reader_end(r);
	od_reader_free(r);
	assert_non_null(fetch(f, "root"));
	assert_int_equal(create(f, "after", "root", 1, &st), ORGDIR_OK);
	assert_int_equal(od_store_grow(f->s, &st), ORGDIR_OK); /* with room, it grows */
	assert_non_null(fetch(f, "after"));
}

static void
test_depth_cap(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	char id[16], parent[16] = "";
	for (int i = 0; i <= OD_TREE_DEPTH_MAX; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		assert_int_equal(create(f, id, parent, 0, &st), ORGDIR_OK);
		memcpy(parent, id, sizeof(id));
	}
	assert_int_equal(create(f, "too-deep", parent, 0, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "levels deep"));
}

/* --- the gate: readers against a remap (od_store_grow) or reopen ------------------- */

struct gate_run {
	struct fx *f;
	od_reader *r; /* gate_grow: the reader it must wait for */
	od_reader *r2; /* another reader inside when the remap starts */
	atomic_bool stop, done, newcomer_done, r2_freed;
	atomic_uint reads, failures;
	orgdir_code code;
};

static void *
gate_grow(void *arg)
{
	struct gate_run *g = arg;
	orgdir_status st;
	g->code = od_store_grow(g->f->s, &st);
	atomic_store(&g->done, true);
	return NULL;
}

static void
sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static void *gate_reader(void *arg);

/* A reader that registers, reads once and goes, as a second backup would
 * while a remap waits for the first. */
static void *
gate_newcomer(void *arg)
{
	struct gate_run *g = arg;
	orgdir_status st;
	od_reader *r;
	od_txn *t;
	od_val v;
	if (od_reader_new(g->f->s, &r, &st) != ORGDIR_OK) {
		atomic_fetch_add(&g->failures, 1);
		return NULL;
	}
	if (od_reader_begin(r, &t, &st) != ORGDIR_OK) {
		atomic_fetch_add(&g->failures, 1);
	} else {
		if (od_unit_get(t, "root", &v, &st) != ORGDIR_OK) {
			atomic_fetch_add(&g->failures, 1);
		}
		od_reader_end(r);
	}
	od_reader_free(r);
	atomic_store(&g->newcomer_done, true);
	return NULL;
}

/* The second long reader leaves and is freed while the remap may still
 * be looking at it. */
static void *
gate_free_r2(void *arg)
{
	struct gate_run *g = arg;
	od_reader_end(g->r2);
	od_reader_free(g->r2);
	atomic_store(&g->r2_freed, true);
	return NULL;
}

/* A remap waits for a reader inside the gate, and goes on once it leaves;
 * meanwhile (a long reader: a backup, a large export) other readers go in
 * and out as usual, a new one registers, reads and goes (a second backup),
 * and another reader the remap was waiting for is freed. */
static void
test_gate_waits_for_a_reader(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	od_txn *t, *t2;
	od_val v;
	struct gate_run g = {.f = f};
	pthread_t th, rd, nc, fr;
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	assert_int_equal(od_reader_new(f->s, &g.r, &st), ORGDIR_OK);
	assert_int_equal(od_reader_new(f->s, &g.r2, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(g.r, &t, &st), ORGDIR_OK);
	assert_int_equal(od_reader_begin(g.r2, &t2, &st), ORGDIR_OK);
	assert_int_equal(pthread_create(&rd, NULL, gate_reader, &g), 0);
	while (atomic_load(&g.reads) == 0) {
		sleep_ms(1); /* its reader is in the store's list */
	}
	assert_int_equal(pthread_create(&th, NULL, gate_grow, &g), 0);
	sleep_ms(100);
	unsigned reads = atomic_load(&g.reads);
	sleep_ms(100);
	assert_false(atomic_load(&g.done)); /* the snapshot is still open */
	assert_true(atomic_load(&g.reads) > reads); /* the others still read */
	assert_int_equal(pthread_create(&fr, NULL, gate_free_r2, &g), 0);
	assert_int_equal(pthread_create(&nc, NULL, gate_newcomer, &g), 0);
	for (int i = 0; i < 500 && !atomic_load(&g.newcomer_done); i++) {
		sleep_ms(10);
	}
	/* Checked once everything is let go: a failed check must not leave
	 * threads waiting. */
	bool newcomer_came = atomic_load(&g.newcomer_done);
	bool still_waiting = !atomic_load(&g.done);
	assert_int_equal(od_unit_get(t, "root", &v, &st), ORGDIR_OK);
	od_reader_end(g.r);
	assert_int_equal(pthread_join(fr, NULL), 0);
	assert_int_equal(pthread_join(nc, NULL), 0);
	assert_true(newcomer_came); /* registered while the remap waited */
	assert_true(still_waiting);
	assert_true(atomic_load(&g.r2_freed));
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(atomic_load(&g.done));
	assert_int_equal(g.code, ORGDIR_OK);
	atomic_store(&g.stop, true);
	assert_int_equal(pthread_join(rd, NULL), 0);
	assert_int_equal(atomic_load(&g.failures), 0);
	assert_int_equal(od_reader_begin(g.r, &t, &st), ORGDIR_OK); /* open again */
	assert_int_equal(od_unit_get(t, "root", &v, &st), ORGDIR_OK);
	od_reader_end(g.r);
	od_reader_free(g.r);
}

/* A reader thread: begin, read, end, as fast as it can, until told to stop.
 * cmocka's asserts belong to the main thread: failures are counted. */
static void *
gate_reader(void *arg)
{
	struct gate_run *g = arg;
	orgdir_status st;
	od_reader *r;
	if (od_reader_new(g->f->s, &r, &st) != ORGDIR_OK) {
		atomic_fetch_add(&g->failures, 1);
		return NULL;
	}
	while (!atomic_load(&g->stop)) {
		od_txn *t;
		od_val v;
		if (od_reader_begin(r, &t, &st) != ORGDIR_OK) {
			atomic_fetch_add(&g->failures, 1);
			continue;
		}
		if (od_unit_get(t, "root", &v, &st) != ORGDIR_OK || v.len == 0) {
			atomic_fetch_add(&g->failures, 1);
		}
		od_reader_end(r);
		atomic_fetch_add(&g->reads, 1);
	}
	od_reader_free(r);
	return NULL;
}

/* Readers that never pause do not keep remaps and reopens out (a
 * reader-preferring lock would let them), and every read they make
 * finds the data, across 12 remaps and 4 reopens. */
static void
test_gate_readers_and_closers(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	struct gate_run g = {.f = f};
	pthread_t th[3];
	od_store_close(f->s);
	test_rmtree(f->dir);
	open_store(f, 1u << 20);
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, gate_reader, &g), 0);
	}
	for (int i = 0; i < 16; i++) {
		unsigned before = atomic_load(&g.reads);
		while (atomic_load(&g.reads) < before + 50) {
			sleep_ms(1); /* the readers are inside and out again */
		}
		if (i % 4 == 3) {
			assert_int_equal(od_store_refresh(f->s, &st), ORGDIR_OK);
		} else {
			assert_int_equal(od_store_grow(f->s, &st), ORGDIR_OK);
		}
	}
	atomic_store(&g.stop, true);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
	}
	assert_int_equal(atomic_load(&g.failures), 0);
	assert_true(atomic_load(&g.reads) >= 16 * 50);
	assert_int_equal(create(f, "after", "root", 0, &st), ORGDIR_OK);
	Orgdir__V1__Unit *u = fetch(f, "after");
	assert_non_null(u);
	assert_string_equal(u->parent_id, "root");
}

/* Does another process see lock.mdb's first byte locked (LMDB's mark
 * that the environment is in use)? Asked from a child: a process never
 * conflicts with its own locks. */
static bool
in_use_for_others(const char *dir)
{
	char file[600];
	snprintf(file, sizeof(file), "%s/lock.mdb", dir);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(file, O_RDWR);
		struct flock l = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
		_exit(fd >= 0 && fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * LMDB holds a shared fcntl lock on lock.mdb while the environment is
 * open; closing any descriptor of the file would drop it (POSIX), and the
 * next process to open the environment (orgdird --check beside the server)
 * would then reset the reader table under it. The store keeps its own
 * descriptor of lock.mdb open until after the environment closes.
 */
static void
test_lmdb_lock_held_while_open(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_true(in_use_for_others(f->dir));
	assert_int_equal(create(f, "root", "", 0, &st), ORGDIR_OK);
	assert_int_equal(od_store_refresh(f->s, &st), ORGDIR_OK); /* reopened */
	assert_true(in_use_for_others(f->dir));
	od_store_close(f->s);
	f->s = NULL;
	assert_false(in_use_for_others(f->dir));
	open_store(f, 0); /* for teardown */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_revision_of_each_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_children_order_and_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_subtree_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_and_cycles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_mask_and_etag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idempotency_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idempotency_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_grows_and_data_persists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reserve_grows_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_depth_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_growth_without_address_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmdb_lock_held_while_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gate_waits_for_a_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gate_readers_and_closers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_writes_count_changes_and_not_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
