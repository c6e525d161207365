/* test_check.c - the store's consistency check (src/store/check.c): a store
 * built through the store API is clean, and each kind of damage written
 * straight into LMDB behind the store's back is reported. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "iso3166.h"
#include "store.h"
#include "store_int.h" /* struct od_token_rec, to damage a token record */
#include "testutil.h"

struct fx {
	char *dir;
	od_iso3166 *iso;
	struct od_store *s;
	od_arena a;
	od_check_report rep;
	uint64_t retain; /* the store's retain_revisions */
};

static void
open_store(struct fx *f)
{
	orgdir_status st;
	od_store_opts o = {
	    .path = f->dir, .no_sync = true, .iso = f->iso, .retain_revisions = f->retain};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
}

/* --- writes through the store ------------------------------------------------------ */

typedef orgdir_code (*write_fn)(od_txn *t, struct fx *f, void *arg, orgdir_status *st);

static orgdir_code
write(struct fx *f, write_fn fn, void *arg)
{
	od_txn *t;
	orgdir_status st;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	orgdir_code c = fn(t, f, arg, &st);
	if (c != ORGDIR_OK) {
		fprintf(stderr, "write failed: %s\n", st.message);
		od_txn_abort(t);
		return c;
	}
	c = od_txn_commit(t, NULL, &st);
	od_arena_reset(&f->a);
	return c;
}

struct unit_arg {
	const char *id, *parent;
	int kind;
	const char *cc;
	int order;
};

static orgdir_code
do_create(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	struct unit_arg *u = arg;
	Orgdir__V1__Unit m = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	Orgdir__V1__Location loc = ORGDIR__V1__LOCATION__INIT;
	char cc[3] = "";
	n.lang = "en";
	n.text = (char *) u->id;
	m.id = (char *) u->id;
	m.parent_id = (char *) u->parent;
	m.kind = u->kind;
	m.name = names;
	m.n_name = 1;
	m.sort_order = u->order;
	if (u->cc != NULL) {
		od_strlcpy(cc, u->cc, sizeof(cc));
		loc.country_code = cc;
		m.location = &loc;
	}
	return od_unit_create(t, &f->a, &m, NULL, st);
}

static void
create(struct fx *f, const char *id, const char *parent, int kind, const char *cc, int order)
{
	struct unit_arg u = {id, parent, kind, cc, order};
	assert_int_equal(write(f, do_create, &u), ORGDIR_OK);
}

/* Sets the sort order and the kind (a re-index of both indexes). */
static orgdir_code
do_update(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	struct unit_arg *u = arg;
	Orgdir__V1__Unit m = ORGDIR__V1__UNIT__INIT;
	char *paths[] = {"sort_order", "kind"};
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	mask.paths = paths;
	mask.n_paths = 2;
	m.id = (char *) u->id;
	m.kind = u->kind;
	m.sort_order = u->order;
	return od_unit_update(t, &f->a, &m, &mask, NULL, st);
}

static orgdir_code
do_move(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	struct unit_arg *u = arg;
	return od_unit_move(t, &f->a, u->id, u->parent, "", NULL, st);
}

static orgdir_code
do_delete(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	uint32_t n;
	return od_unit_delete(t, &f->a, arg, true, NULL, &n, st);
}

static orgdir_code
do_region(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	Orgdir__V1__Country in = ORGDIR__V1__COUNTRY__INIT;
	char *paths[] = {"region_unit_id"};
	Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	Orgdir__V1__Country *out;
	m.paths = paths;
	m.n_paths = 1;
	in.code = "KE";
	in.region_unit_id = arg;
	return od_country_update(t, &f->a, &in, &m, &out, st);
}

static orgdir_code
do_record(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	(void) f;
	od_val key = {arg, strlen(arg)};
	static const uint8_t reply[] = {0x08, 0x01}; /* Response{call_id: 1} */
	od_val resp = {reply, sizeof(reply)};
	return od_request_record(t, &key, &resp, st);
}

static orgdir_code
do_token(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	const char *name = arg;
	Orgdir__V1__TokenInfo *info;
	char *secret;
	int role =
	    strncmp(name, "editor", 6) == 0 ? ORGDIR__V1__ROLE__EDITOR : ORGDIR__V1__ROLE__READER;
	return od_token_create(t, &f->a, name, role, 3600, &info, &secret, st);
}

/*
 * org (ORGANIZATION)
 *   ro-africa (REGIONAL_OFFICE, KE)     region of KE
 *     co-kenya (COUNTRY_OFFICE, KE)
 *       so-mombasa (SUB_OFFICE, KE)
 *   dept-ops (DEPARTMENT, order -5)
 *   div-hr (DIVISION, order 3; made an OFFICE of order 2 under dept-ops)
 *   cyc-a, cyc-b (UNIT)                 the cycle test's subjects
 * Then an update (order and kind), a move and a forced delete, so the
 * indexes have been maintained, not only appended to. Revisions 1-10 are
 * the creates, 11 the update, 12 the move, 13 the delete (seq 0 tmp, seq 1
 * tmp-child), 14 KE's region; two request records and two tokens (reader-1,
 * editor-1) change no revision.
 */
static int
setup(void **state)
{
	orgdir_status st;
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_mkdtemp("check");
	assert_int_equal(od_iso3166_load(NULL, NULL, &f->iso, &st), ORGDIR_OK);
	open_store(f);
	od_arena_init(&f->a, 64u << 20);
	create(f, "org", "", ORGDIR__V1__UNIT__KIND__ORGANIZATION, NULL, 0);
	create(f, "ro-africa", "org", ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE, "KE", 1);
	create(f, "co-kenya", "ro-africa", ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, "ke", 0);
	create(f, "so-mombasa", "co-kenya", ORGDIR__V1__UNIT__KIND__SUB_OFFICE, "KE", 0);
	create(f, "dept-ops", "org", ORGDIR__V1__UNIT__KIND__DEPARTMENT, NULL, -5);
	create(f, "div-hr", "dept-ops", ORGDIR__V1__UNIT__KIND__OFFICE, NULL, 2);
	create(f, "cyc-a", "org", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 7);
	create(f, "cyc-b", "org", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 8);
	create(f, "tmp", "org", ORGDIR__V1__UNIT__KIND__LIAISON_OFFICE, "FR", 9);
	create(f, "tmp-child", "tmp", ORGDIR__V1__UNIT__KIND__SUB_OFFICE, "FR", 0);
	struct unit_arg upd = {"div-hr", NULL, ORGDIR__V1__UNIT__KIND__DIVISION, NULL, 3};
	assert_int_equal(write(f, do_update, &upd), ORGDIR_OK);
	struct unit_arg mv = {"div-hr", "org", 0, NULL, 0};
	assert_int_equal(write(f, do_move, &mv), ORGDIR_OK);
	assert_int_equal(write(f, do_delete, "tmp"), ORGDIR_OK);
	assert_int_equal(write(f, do_region, "ro-africa"), ORGDIR_OK);
	assert_int_equal(write(f, do_record, "request-0000001"), ORGDIR_OK);
	assert_int_equal(write(f, do_record, "request-0000002"), ORGDIR_OK);
	assert_int_equal(write(f, do_token, "reader-1"), ORGDIR_OK);
	assert_int_equal(write(f, do_token, "editor-1"), ORGDIR_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	od_store_close(f->s);
	od_iso3166_free(f->iso);
	od_arena_destroy(&f->a);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static orgdir_code
check(struct fx *f)
{
	orgdir_status st;
	orgdir_code c = od_store_check(f->s, &f->rep, &st);
	if (c == ORGDIR_OK) {
		assert_int_equal(f->rep.problems, 0);
	} else {
		assert_int_equal(c, ORGDIR_DATA_LOSS);
		assert_true(f->rep.problems > 0);
		assert_non_null(strstr(st.message, "consistency problem"));
	}
	return c;
}

static size_t
count_problems(struct fx *f, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < f->rep.n_kept; i++) {
		n += strstr(f->rep.problem[i], needle) != NULL;
	}
	return n;
}

/* The check fails and one of its problems contains `needle`. */
static void
expect_problem(struct fx *f, const char *needle)
{
	assert_int_equal(check(f), ORGDIR_DATA_LOSS);
	if (count_problems(f, needle) == 0) {
		od_check_report_print(&f->rep, stderr);
		fprintf(stderr, "expected a problem containing: %s\n", needle);
		fail();
	}
}

/* --- damage written straight into LMDB ------------------------------------------------ */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static void
raw_begin(struct fx *f, struct raw *r)
{
	od_store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_create(&r->env), 0);
	mdb_env_set_maxdbs(r->env, 32);
	assert_int_equal(mdb_env_open(r->env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
}

static MDB_dbi
raw_db(struct raw *r, const char *name)
{
	MDB_dbi d;
	bool dup = strcmp(name, "children") == 0 || strcmp(name, "country_units") == 0;
	assert_int_equal(mdb_dbi_open(r->txn, name, dup ? MDB_DUPSORT : 0, &d), 0);
	return d;
}

static void
raw_put(struct raw *r, const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = {kl, (void *) k};
	MDB_val val = {vl, (void *) v};
	assert_int_equal(mdb_put(r->txn, raw_db(r, db), &key, &val, 0), 0);
}

static void
raw_del(struct raw *r, const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = {kl, (void *) k};
	MDB_val val = {vl, (void *) v};
	assert_int_equal(mdb_del(r->txn, raw_db(r, db), &key, v != NULL ? &val : NULL), 0);
}

/* Commits and reopens the store. */
static void
raw_end(struct fx *f, struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	open_store(f);
}

static size_t
sort_key(int32_t order, const char *id, uint8_t *out)
{
	uint32_t o = (uint32_t) order ^ 0x80000000u;
	out[0] = (uint8_t) (o >> 24);
	out[1] = (uint8_t) (o >> 16);
	out[2] = (uint8_t) (o >> 8);
	out[3] = (uint8_t) o;
	memcpy(out + 4, id, strlen(id));
	return 4 + strlen(id);
}

static void
children_put(struct raw *r, const char *parent, int32_t order, const char *id)
{
	uint8_t sk[80];
	raw_put(r, "children", parent, strlen(parent), sk, sort_key(order, id, sk));
}

static void
children_del(struct raw *r, const char *parent, int32_t order, const char *id)
{
	uint8_t sk[80];
	raw_del(r, "children", parent, strlen(parent), sk, sort_key(order, id, sk));
}

/* Rewrites unit `id` with another parent_id and/or contact (NULL: kept),
 * indexes untouched. */
static void
raw_rewrite_unit(struct raw *r, const char *id, const char *parent, Orgdir__V1__Contact *contact)
{
	MDB_dbi units = raw_db(r, "units");
	MDB_val k = {strlen(id), (void *) id};
	MDB_val v;
	assert_int_equal(mdb_get(r->txn, units, &k, &v), 0);
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(NULL, v.mv_size, v.mv_data);
	assert_non_null(u);
	char *old_parent = u->parent_id;
	Orgdir__V1__Contact *old_contact = u->contact;
	u->parent_id = parent != NULL ? (char *) parent : old_parent;
	u->contact = contact != NULL ? contact : old_contact;
	uint8_t buf[4096];
	size_t n = orgdir__v1__unit__get_packed_size(u);
	assert_true(n <= sizeof(buf));
	orgdir__v1__unit__pack(u, buf);
	u->parent_id = old_parent;
	u->contact = old_contact;
	orgdir__v1__unit__free_unpacked(u, NULL);
	raw_put(r, "units", id, strlen(id), buf, n);
}

static void
raw_set_parent(struct raw *r, const char *id, const char *parent)
{
	raw_rewrite_unit(r, id, parent, NULL);
}

static void
kind_count_put(struct raw *r, int kind, uint64_t n)
{
	uint8_t k = (uint8_t) kind;
	raw_put(r, "kind_counts", &k, 1, &n, sizeof(n));
}

/* --- tests ----------------------------------------------------------------------------- */

static void
test_clean_store_passes(void **state)
{
	struct fx *f = *state;
	assert_int_equal(check(f), ORGDIR_OK);
	/* org, ro-africa, co-kenya, so-mombasa, dept-ops, div-hr, cyc-a, cyc-b */
	assert_int_equal(f->rep.units, 8);
	assert_int_equal(f->rep.children, 8);
	assert_int_equal(f->rep.country_units, 3);
	assert_int_equal(f->rep.countries, 1);
	assert_int_equal(f->rep.requests, 2);
	assert_int_equal(f->rep.revision, 14);
	assert_int_equal(f->rep.changes, 15);
	assert_int_equal(f->rep.tokens, 2);
	/* A doc per ISO country; units have none (their keys come from
	 * their records). */
	assert_int_equal(f->rep.search_docs, od_iso3166_count(f->iso));
	assert_int_equal(f->rep.n_kept, 0);
	/* Still clean after a reopen (nothing lives only in memory). */
	od_store_close(f->s);
	open_store(f);
	assert_int_equal(check(f), ORGDIR_OK);
	/* The summary names the counts and the problems. */
	char buf[1024] = "";
	FILE *m = fmemopen(buf, sizeof(buf), "w");
	od_check_report_print(&f->rep, m);
	fclose(m);
	assert_non_null(strstr(buf, "8 units"));
	assert_non_null(strstr(buf, "0 problem(s)"));
}

static void
test_dangling_parent(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	raw_set_parent(&r, "div-hr", "ghost");
	raw_end(f, &r);
	expect_problem(f, "unit 'div-hr': parent 'ghost' does not exist");
	/* Its children entry is now under the wrong parent, and reported so. */
	expect_problem(f, "unit 'div-hr' is listed under 'org', but its parent is 'ghost'");
}

/* A unit an older server stored, before a field rule tightened (an email
 * that is no address): the check names the unit and the field. */
static void
test_unit_breaking_a_newer_rule(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	Orgdir__V1__Contact contact = ORGDIR__V1__CONTACT__INIT;
	contact.email = "not an address";
	raw_rewrite_unit(&r, "div-hr", NULL, &contact);
	raw_end(f, &r);
	expect_problem(f,
	    "unit 'div-hr': contact email 'not an address' is not an address like "
	    "name@example.org");
}

static void
test_missing_children_entry(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	children_del(&r, "org", -5, "dept-ops");
	raw_end(f, &r);
	expect_problem(f, "unit 'dept-ops': missing from the children index under 'org'");
	assert_int_equal(f->rep.problems, 1);
}

static void
test_extra_children_entries(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	children_put(&r, "org", 4, "nobody"); /* no such unit */
	children_put(&r, "dept-ops", 0, "co-kenya"); /* a second entry, wrong parent */
	children_put(&r, "org", 99, "div-hr"); /* a second entry, wrong order */
	raw_end(f, &r);
	expect_problem(f, "entry under 'org' names unit 'nobody', which does not exist");
	expect_problem(
	    f, "unit 'co-kenya' is listed under 'dept-ops', but its parent is 'ro-africa'");
	expect_problem(f,
	    "unit 'div-hr' is listed under 'org' with sort order 99, but its sort "
	    "order is 3");
	assert_int_equal(f->rep.problems, 3);
}

static void
test_wrong_kind_counts(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t k = ORGDIR__V1__UNIT__KIND__UNIT;
	raw_begin(f, &r);
	kind_count_put(&r, ORGDIR__V1__UNIT__KIND__DEPARTMENT, 7);
	raw_del(&r, "kind_counts", &k, 1, NULL, 0);
	raw_end(f, &r);
	expect_problem(f, "kind_counts: DEPARTMENT counts 7 unit(s), but there are 1");
	expect_problem(f, "kind_counts: no count for UNIT, but there are 2 unit(s)");
	assert_int_equal(f->rep.problems, 2);
}

static void
test_cycle(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	raw_set_parent(&r, "cyc-a", "cyc-b");
	raw_set_parent(&r, "cyc-b", "cyc-a");
	/* Keep the children index in step, so the cycle is the only damage. */
	children_del(&r, "org", 7, "cyc-a");
	children_del(&r, "org", 8, "cyc-b");
	children_put(&r, "cyc-b", 7, "cyc-a");
	children_put(&r, "cyc-a", 8, "cyc-b");
	raw_end(f, &r);
	expect_problem(f, "unit 'cyc-a': its ancestors form a cycle (cyc-a -> cyc-b -> cyc-a)");
	/* Reported once, by its smallest member. */
	assert_int_equal(f->rep.problems, 1);
}

static void
test_self_parent(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	raw_set_parent(&r, "cyc-a", "cyc-a");
	children_del(&r, "org", 7, "cyc-a");
	children_put(&r, "cyc-a", 7, "cyc-a");
	raw_end(f, &r);
	expect_problem(f, "unit 'cyc-a': its ancestors form a cycle (cyc-a -> cyc-a)");
	assert_int_equal(f->rep.problems, 1);
}

static void
test_country_units(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t stale[32], gone[32], missing[32];
	stale[0] = ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE;
	memcpy(stale + 1, "co-kenya", 8);
	gone[0] = ORGDIR__V1__UNIT__KIND__SUB_OFFICE;
	memcpy(gone + 1, "tmp-child", 9);
	missing[0] = ORGDIR__V1__UNIT__KIND__SUB_OFFICE;
	memcpy(missing + 1, "so-mombasa", 10);
	uint8_t dept[32];
	dept[0] = ORGDIR__V1__UNIT__KIND__DEPARTMENT;
	memcpy(dept + 1, "dept-ops", 8);
	raw_begin(f, &r);
	raw_put(&r, "country_units", "FR", 2, stale, 9); /* in the wrong country */
	raw_put(&r, "country_units", "FR", 2, gone, 10); /* a deleted unit, left behind */
	raw_put(&r, "country_units", "KE", 2, dept, 9); /* not an office */
	raw_del(&r, "country_units", "KE", 2, missing, 11);
	raw_end(f, &r);
	expect_problem(f,
	    "country_units: unit 'co-kenya' is listed under FR as COUNTRY_OFFICE, but "
	    "it is COUNTRY_OFFICE in 'KE'");
	expect_problem(
	    f, "country_units: entry under FR names unit 'tmp-child', which does not exist");
	expect_problem(f,
	    "unit 'dept-ops' is listed under KE as DEPARTMENT, but it is DEPARTMENT in "
	    "'' (not an office kind)");
	expect_problem(
	    f, "unit 'so-mombasa': SUB_OFFICE in KE, missing from the country_units index");
	assert_int_equal(f->rep.problems, 4);
}

static void
test_undecodable_bytes(void **state)
{
	struct fx *f = *state;
	struct raw r;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	raw_begin(f, &r);
	raw_put(&r, "units", "div-hr", 6, junk, sizeof(junk));
	raw_put(&r, "countries", "KE", 2, junk, sizeof(junk));
	raw_put(&r, "requests", "request-0000001", 15, junk, sizeof(junk));
	raw_end(f, &r);
	expect_problem(f, "unit 'div-hr': the stored 5 bytes do not decode as orgdir.v1.Unit");
	expect_problem(f, "country KE: the stored 5 bytes do not decode as orgdir.v1.Country");
	expect_problem(f,
	    "requests: the reply recorded for request "
	    "726571756573742d30303030303031 does not decode");
	/* The unit's kind is unknown now, so its count no longer matches. */
	expect_problem(f, "kind_counts: DIVISION counts 1 unit(s), but there are 0");
}

static void
test_bad_keys_and_ids(void **state)
{
	struct fx *f = *state;
	struct raw r;
	MDB_val v;
	raw_begin(f, &r);
	MDB_dbi units = raw_db(&r, "units");
	MDB_val k = {5, "cyc-a"};
	assert_int_equal(mdb_get(r.txn, units, &k, &v), 0);
	uint8_t copy[1024];
	memcpy(copy, v.mv_data, v.mv_size);
	size_t n = v.mv_size;
	raw_put(&r, "units", "alias", 5, copy, n); /* cyc-a's bytes under another key */
	raw_put(&r, "units", "Bad\x01Key", 7, copy, n); /* not an id at all */
	raw_end(f, &r);
	expect_problem(f, "unit 'alias': stored under a key that is not its id ('cyc-a')");
	expect_problem(f, "units: key 'Bad\\x01Key' is not a valid unit id");
}

static void
test_etag_after_revision(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	MDB_dbi meta = raw_db(&r, "meta");
	MDB_val k = {8, "revision"};
	uint64_t rev = 3;
	MDB_val v = {sizeof(rev), &rev};
	assert_int_equal(mdb_put(r.txn, meta, &k, &v, 0), 0);
	raw_end(f, &r);
	expect_problem(f, "unit 'cyc-b': etag 8 is later than the store's revision 3");
	expect_problem(f, "country KE: etag");
}

static void
test_region_not_regional_office(void **state)
{
	struct fx *f = *state;
	struct raw r;
	/* A country record naming a unit that is not (or no longer) a
	 * regional office, as if its kind had changed without the record. */
	Orgdir__V1__Country c = ORGDIR__V1__COUNTRY__INIT;
	uint8_t buf[256];
	c.code = "FR";
	c.region_unit_id = "dept-ops";
	c.etag = "1";
	size_t n = orgdir__v1__country__pack(&c, buf);
	c.code = "DE";
	c.region_unit_id = "ro-gone";
	uint8_t buf2[256];
	size_t n2 = orgdir__v1__country__pack(&c, buf2);
	raw_begin(f, &r);
	raw_put(&r, "countries", "FR", 2, buf, n);
	raw_put(&r, "countries", "DE", 2, buf2, n2);
	raw_put(&r, "countries", "QQ", 2, buf2, n2);
	raw_end(f, &r);
	expect_problem(
	    f, "country FR: region unit 'dept-ops' is DEPARTMENT, not a REGIONAL_OFFICE");
	expect_problem(f, "country DE: region unit 'ro-gone' does not exist");
	expect_problem(f, "country QQ: not an ISO 3166-1 code");
	expect_problem(f, "country QQ: the record holds code 'DE'");
}

static void
test_request_log_mismatch(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 9};
	raw_begin(f, &r);
	raw_put(&r, "request_log", seq, 8, "request-forgotten", 17);
	raw_end(f, &r);
	expect_problem(f,
	    "request_log: entry 9 names request "
	    "726571756573742d666f72676f7474656e, not recorded");
	expect_problem(f, "requests: 2 recorded replies, but the log has 3 entries");
}

/* A chain 65 levels deep (one past the limit) is reported once, at the
 * unit past the limit, not at each unit below it. */
static void
test_tree_too_deep(void **state)
{
	struct fx *f = *state;
	struct raw r;
	char id[16], parent[16] = "org";
	for (int d = 1; d <= OD_TREE_DEPTH_MAX; d++) {
		snprintf(id, sizeof(id), "deep-%d", d);
		create(f, id, parent, ORGDIR__V1__UNIT__KIND__UNIT, NULL, 0);
		memcpy(parent, id, sizeof(id));
	}
	create(f, "deep-65", "", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 0);
	create(f, "deep-66", "deep-65", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 0);
	assert_int_equal(check(f), ORGDIR_OK);
	raw_begin(f, &r);
	raw_set_parent(&r, "deep-65", "deep-64");
	children_del(&r, "/", 0, "deep-65");
	children_put(&r, "deep-64", 0, "deep-65");
	raw_end(f, &r);
	expect_problem(f, "unit 'deep-65' is 65 levels below its root; the limit is 64");
	assert_int_equal(f->rep.problems, 1);
}

/* --- the change log ---------------------------------------------------------------------- */

static size_t
change_key(uint64_t rev, uint32_t seq, uint8_t k[12])
{
	for (int i = 0; i < 8; i++) {
		k[i] = (uint8_t) (rev >> (56 - 8 * i));
	}
	k[8] = (uint8_t) (seq >> 24);
	k[9] = (uint8_t) (seq >> 16);
	k[10] = (uint8_t) (seq >> 8);
	k[11] = (uint8_t) seq;
	return 12;
}

static void
change_del(struct raw *r, uint64_t rev, uint32_t seq)
{
	uint8_t k[12];
	raw_del(r, "changes", k, change_key(rev, seq, k), NULL, 0);
}

/* Copies the stored change (rev, seq) to (to_rev, to_seq), bytes as they are. */
static void
change_copy(struct raw *r, uint64_t rev, uint32_t seq, uint64_t to_rev, uint32_t to_seq)
{
	uint8_t k[12], k2[12], copy[4096];
	MDB_val key = {change_key(rev, seq, k), k};
	MDB_val v;
	assert_int_equal(mdb_get(r->txn, raw_db(r, "changes"), &key, &v), 0);
	assert_true(v.mv_size <= sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	raw_put(r, "changes", k2, change_key(to_rev, to_seq, k2), copy, v.mv_size);
}

static void
meta_put_u64(struct raw *r, const char *key, uint64_t v)
{
	raw_put(r, "meta", key, strlen(key), &v, sizeof(v));
}

/* Whole revisions gone from the middle of the log, and from its end. */
static void
test_change_log_gaps(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	change_del(&r, 3, 0);
	change_del(&r, 5, 0);
	change_del(&r, 6, 0);
	change_del(&r, 14, 0);
	raw_end(f, &r);
	expect_problem(
	    f, "change log: revision 3 is missing (the log holds every change after revision 0)");
	expect_problem(f, "change log: revisions 5 to 6 are missing");
	expect_problem(f, "change log: revision 14 is missing");
	/* Their index entries now name nothing. */
	expect_problem(f,
	    "changes_by_res: 'u:co-kenya' lists revision 3 seq 0, which is not in the change "
	    "log");
	expect_problem(f, "changes_by_res: 'c:KE' lists revision 14 seq 0, which is not in");
	assert_int_equal(f->rep.problems, 3 + 4);
}

/* The first change of a revision of two is gone: its numbering shows it. */
static void
test_change_log_seq_gap(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	change_del(&r, 13, 0);
	raw_end(f, &r);
	expect_problem(
	    f, "change log: revision 13 has seq 1 where seq 0 should be (changes are missing)");
	expect_problem(f, "changes_by_res: 'u:tmp' lists revision 13 seq 0, which is not in");
	assert_int_equal(f->rep.problems, 2);
}

static void
test_change_log_bad_records(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t k[12];
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	raw_begin(f, &r);
	raw_put(&r, "changes", k, change_key(7, 0, k), junk, sizeof(junk));
	change_copy(&r, 8, 0, 9, 0); /* cyc-b's creation, over tmp's */
	change_copy(&r, 8, 0, 15, 0); /* after the store's revision 14 */
	raw_put(&r, "changes", "short", 5, junk, sizeof(junk));
	raw_end(f, &r);
	expect_problem(f,
	    "change log: revision 7 seq 0: the stored 5 bytes do not decode as "
	    "orgdir.v1.Change");
	expect_problem(f, "change log: revision 9 seq 0 holds the change of revision 8 seq 0");
	expect_problem(f,
	    "change log: revision 9 seq 0 (unit 'cyc-b') is missing from the changes_by_res "
	    "index");
	expect_problem(f, "changes_by_res: 'u:tmp' lists revision 9 seq 0, a change of 'u:cyc-b'");
	expect_problem(f, "change log: revision 15 seq 0 is later than the store's revision 14");
	expect_problem(f, "change log: key 'short' is 5 bytes, not revision + seq (12)");
}

/* Pruned to a window: clean; the left-overs pruning has not reached yet
 * are allowed, a gap above the floor is not, nor a floor past the end. */
static void
test_change_log_retention(void **state)
{
	struct fx *f = *state;
	struct raw r;
	od_store_close(f->s);
	f->retain = 4;
	open_store(f);
	create(f, "keep-1", "org", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 20);
	create(f, "keep-2", "org", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 21);
	create(f, "keep-3", "org", ORGDIR__V1__UNIT__KIND__UNIT, NULL, 22);
	assert_int_equal(check(f), ORGDIR_OK);
	assert_int_equal(f->rep.revision, 17);
	/* Revisions 14-17 are kept, and 12-13 are left over. */
	assert_true(f->rep.changes < 15);
	assert_true(f->rep.changes >= 4);
	raw_begin(f, &r);
	meta_put_u64(&r, "log_floor", 15); /* 14 and 15 are left-overs now */
	raw_end(f, &r);
	assert_int_equal(check(f), ORGDIR_OK);
	raw_begin(f, &r);
	change_del(&r, 16, 0);
	raw_end(f, &r);
	expect_problem(
	    f, "change log: revision 16 is missing (the log holds every change after revision 15)");
	raw_begin(f, &r);
	meta_put_u64(&r, "log_floor", 40);
	raw_end(f, &r);
	expect_problem(f,
	    "meta: the change log starts after revision 40, later than the store's revision "
	    "17");
}

/* --- tokens ------------------------------------------------------------------------------- */

static struct od_token_rec
token_get(struct raw *r, const char *name)
{
	struct od_token_rec rec;
	MDB_val k = {strlen(name), (void *) name};
	MDB_val v;
	assert_int_equal(mdb_get(r->txn, raw_db(r, "tokens"), &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(rec));
	memcpy(&rec, v.mv_data, sizeof(rec));
	return rec;
}

static void
test_tokens(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t ghost_hash[32];
	memset(ghost_hash, 0x5a, sizeof(ghost_hash));
	raw_begin(f, &r);
	struct od_token_rec reader = token_get(&r, "reader-1");
	struct od_token_rec editor = token_get(&r, "editor-1");
	struct od_token_rec bad = reader;
	bad.role = 9;
	raw_put(&r, "tokens", "reader-1", 8, &bad, sizeof(bad));
	editor.expire_sec = editor.create_sec - 1;
	raw_put(&r, "tokens", "editor-1", 8, &editor, sizeof(editor));
	raw_del(&r, "token_hashes", editor.hash, sizeof(editor.hash), NULL, 0);
	raw_put(&r, "tokens", "Bad Name", 8, &reader, sizeof(reader)); /* reader-1's hash */
	raw_put(&r, "tokens", "short", 5, "12345", 5);
	raw_put(&r, "token_hashes", ghost_hash, sizeof(ghost_hash), "ghost", 5);
	raw_end(f, &r);
	expect_problem(f, "token 'reader-1': unknown role 9");
	expect_problem(f, "token 'editor-1': expires (");
	expect_problem(f, "token 'editor-1': missing from the token_hashes index");
	expect_problem(f, "token 'Bad Name': not a valid token name");
	expect_problem(f, "token 'Bad Name': its hash is indexed under token 'reader-1'");
	expect_problem(f, "token 'short': the stored 5 bytes are not a token record");
	expect_problem(f, "token_hashes: an entry names token 'ghost', which does not exist");
	assert_int_equal(f->rep.problems, 7);
	assert_int_equal(f->rep.tokens, 4);
}

/* A hash entry naming a token whose record holds another hash. */
static void
test_token_hash_mismatch(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	struct od_token_rec editor = token_get(&r, "editor-1");
	raw_put(&r, "token_hashes", editor.hash, sizeof(editor.hash), "reader-1", 8);
	raw_end(f, &r);
	expect_problem(f, "token 'editor-1': its hash is indexed under token 'reader-1'");
	expect_problem(
	    f, "token_hashes: an entry names token 'reader-1', whose secret has another hash");
	assert_int_equal(f->rep.problems, 2);
}

/* --- the search index ---------------------------------------------------------------------- */

static void
test_search_docs_missing(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	raw_del(&r, "search_docs", "cFR", 3, NULL, 0);
	raw_end(f, &r);
	expect_problem(f, "country FR: missing from the search index (no search doc)");
	/* Its keys are left without a doc: stale, one problem per doc. */
	expect_problem(f, "key(s) of country FR are stale");
	assert_int_equal(f->rep.problems, 2);
}

/* A copy of the first key of `search` that ends with doc (its position
 * is [depth][doc]); false when there is none. */
static bool
search_key_of(struct raw *r, const char *doc, uint8_t *out, size_t cap, size_t *len)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t dl = strlen(doc);
	bool found = false;
	assert_int_equal(mdb_cursor_open(r->txn, raw_db(r, "search"), &cur), 0);
	for (int op = MDB_FIRST; !found && mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
		if (k.mv_size > dl + 1 && k.mv_size <= cap &&
		    memcmp((const uint8_t *) k.mv_data + k.mv_size - dl, doc, dl) == 0) {
			memcpy(out, k.mv_data, k.mv_size);
			*len = k.mv_size;
			found = true;
		}
	}
	mdb_cursor_close(cur);
	return found;
}

/* Keys of the search index itself: one missing, one with other bytes, and
 * one that its doc does not give (a stale word). */
static void
test_search_keys_missing_changed_stale(void **state)
{
	struct fx *f = *state;
	struct raw r;
	uint8_t key[512], stale[512];
	size_t kl, sl;
	raw_begin(f, &r);
	assert_true(search_key_of(&r, "udept-ops", key, sizeof(key), &kl));
	raw_del(&r, "search", key, kl, NULL, 0);
	assert_true(search_key_of(&r, "cFR", key, sizeof(key), &kl));
	raw_put(&r, "search", key, kl, "other", 5);
	/* "zzqx" \0 + the position of udept-ops: no word of it starts so. */
	assert_true(search_key_of(&r, "udept-ops", key, sizeof(key), &kl));
	memcpy(stale, "zzqx", 5);
	const uint8_t *pos = key + kl - strlen("udept-ops") - 1;
	sl = 5 + (size_t) (key + kl - pos);
	memcpy(stale + 5, pos, (size_t) (key + kl - pos));
	raw_put(&r, "search", stale, sl, "", 0);
	raw_end(f, &r);
	expect_problem(f, "unit 'dept-ops': a key of its search entries is missing from the index");
	expect_problem(f, "country FR: a key of its search entries holds other bytes");
	expect_problem(f, "search: 1 key(s) of unit 'dept-ops' are stale");
	assert_int_equal(f->rep.problems, 3);
}

/* Docs for records that do not exist, or for no record at all. */
static void
test_search_docs_orphans(void **state)
{
	struct fx *f = *state;
	struct raw r;
	MDB_val k = {3, "cFR"};
	MDB_val v;
	uint8_t copy[4096];
	raw_begin(f, &r);
	assert_int_equal(mdb_get(r.txn, raw_db(&r, "search_docs"), &k, &v), 0);
	assert_true(v.mv_size <= sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	/* Units have no doc (a doc left by schema 5 would be one). */
	raw_put(&r, "search_docs", "udept-ops", 9, copy, v.mv_size);
	raw_put(&r, "search_docs", "cQQ", 3, copy, v.mv_size);
	raw_put(&r, "search_docs", "x\x01", 2, copy, v.mv_size);
	raw_end(f, &r);
	expect_problem(f, "search_docs: key unit 'dept-ops' names no country");
	expect_problem(f, "search_docs: country QQ is in the search index but does not exist");
	expect_problem(f, "search_docs: key 'x\\x01' names no country");
	assert_int_equal(f->rep.problems, 3);
}

/* A unit renamed behind the index's back: its entries are stale. */
static void
test_search_stale_after_rename(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	MDB_val k = {8, "dept-ops"};
	MDB_val v;
	assert_int_equal(mdb_get(r.txn, raw_db(&r, "units"), &k, &v), 0);
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(NULL, v.mv_size, v.mv_data);
	assert_non_null(u);
	char *old = u->name[0]->text;
	u->name[0]->text = "Operations Renamed";
	uint8_t buf[4096];
	size_t n = orgdir__v1__unit__get_packed_size(u);
	assert_true(n <= sizeof(buf));
	orgdir__v1__unit__pack(u, buf);
	u->name[0]->text = old;
	orgdir__v1__unit__free_unpacked(u, NULL);
	raw_put(&r, "units", "dept-ops", 8, buf, n);
	raw_end(f, &r);
	/* The whole name's key holds the old name (the words of the old name
	 * are all still in the new one: no key is stale). */
	expect_problem(f, "unit 'dept-ops': a key of its search entries holds other bytes");
	assert_int_equal(f->rep.problems, 1);
}

/* A move behind the index's back (the tree itself kept consistent): the
 * index ranks the unit at its old depth. */
static void
test_search_stale_depth(void **state)
{
	struct fx *f = *state;
	struct raw r;
	raw_begin(f, &r);
	raw_set_parent(&r, "div-hr", "dept-ops");
	children_del(&r, "org", 3, "div-hr");
	children_put(&r, "dept-ops", 3, "div-hr");
	raw_end(f, &r);
	expect_problem(f, "unit 'div-hr': a key of its search entries is missing from the index");
	expect_problem(f, "search: 3 key(s) of unit 'div-hr' are stale");
	assert_int_equal(f->rep.problems, 2);
}

/* A country's name override written without re-indexing it. */
static void
test_search_stale_country(void **state)
{
	struct fx *f = *state;
	struct raw r;
	Orgdir__V1__Country c = ORGDIR__V1__COUNTRY__INIT;
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	uint8_t buf[256];
	n.lang = "en";
	n.text = "Hexagonia";
	c.code = "FR";
	c.name = names;
	c.n_name = 1;
	c.etag = "1";
	size_t len = orgdir__v1__country__pack(&c, buf);
	raw_begin(f, &r);
	raw_put(&r, "countries", "FR", 2, buf, len);
	raw_end(f, &r);
	expect_problem(
	    f, "country FR: its search entries differ from what its codes and names gives");
	assert_int_equal(f->rep.problems, 1);
}

/* More problems than the report keeps: all counted, the first kept, and
 * the printout says how many were left out. */
static void
test_many_problems(void **state)
{
	struct fx *f = *state;
	struct raw r;
	char id[32];
	raw_begin(f, &r);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "ghost-%02d", i);
		children_put(&r, "org", i, id);
	}
	raw_end(f, &r);
	assert_int_equal(check(f), ORGDIR_DATA_LOSS);
	assert_int_equal(f->rep.problems, 40);
	assert_int_equal(f->rep.n_kept, OD_CHECK_PROBLEMS_KEPT);
	char buf[16384] = "";
	FILE *m = fmemopen(buf, sizeof(buf), "w");
	od_check_report_print(&f->rep, m);
	fclose(m);
	assert_non_null(strstr(buf, "40 problem(s)"));
	assert_non_null(strstr(buf, "and 8 more"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_clean_store_passes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dangling_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unit_breaking_a_newer_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_children_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_extra_children_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_kind_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_country_units, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_undecodable_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_keys_and_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_etag_after_revision, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_region_not_regional_office, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_log_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tree_too_deep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_problems, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_log_gaps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_log_seq_gap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_log_bad_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_log_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_hash_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_docs_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_docs_orphans, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_search_keys_missing_changed_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_stale_after_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_stale_depth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search_stale_country, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
