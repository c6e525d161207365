/* test_countries.c - country records over the real ISO 3166-1 data: lookups,
 * updates with etags, presence derived from units and kept in step with
 * them, regions, listing with filters, order and pages, statistics, and the
 * migration of a schema-1 data directory. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso3166.h"
#include "store.h"
#include "testutil.h"

struct fx {
	char *dir;
	od_iso3166 *iso;
	struct od_store *s;
	od_arena a;
};

static void
open_store(struct fx *f)
{
	orgdir_status st;
	od_store_opts o = {.path = f->dir, .no_sync = true, .iso = f->iso};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
}

static int
setup(void **state)
{
	orgdir_status st;
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_mkdtemp("countries");
	assert_int_equal(od_iso3166_load(NULL, NULL, &f->iso, &st), ORGDIR_OK);
	open_store(f);
	od_arena_init(&f->a, 256u << 20);
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

/* Runs fn in one write transaction; commits when it succeeds. */
typedef orgdir_code (*write_fn)(od_txn *t, struct fx *f, void *arg, orgdir_status *st);

static orgdir_code
write(struct fx *f, write_fn fn, void *arg, orgdir_status *st)
{
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, st), ORGDIR_OK);
	orgdir_code c = fn(t, f, arg, st);
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, st);
}

struct unit_arg {
	const char *id, *parent, *cc;
	int kind;
};

static orgdir_code
do_create(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	struct unit_arg *u = arg;
	Orgdir__V1__Unit m = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	Orgdir__V1__Location loc = ORGDIR__V1__LOCATION__INIT;
	char cc[8] = "";
	n.lang = "en";
	n.text = (char *) u->id;
	m.id = (char *) u->id;
	m.parent_id = (char *) u->parent;
	m.kind = u->kind;
	m.name = names;
	m.n_name = 1;
	if (u->cc != NULL) {
		od_strlcpy(cc, u->cc, sizeof(cc));
		loc.country_code = cc;
		m.location = &loc;
	}
	return od_unit_create(t, &f->a, &m, NULL, st);
}

static orgdir_code
create(
    struct fx *f, const char *id, const char *parent, int kind, const char *cc, orgdir_status *st)
{
	struct unit_arg u = {id, parent, cc, kind};
	return write(f, do_create, &u, st);
}

static orgdir_code
do_delete(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	uint32_t n;
	return od_unit_delete(t, &f->a, arg, true, NULL, &n, st);
}

struct country_arg {
	Orgdir__V1__Country *c;
	const char *path;
	Orgdir__V1__Country *out;
};

static orgdir_code
do_update(od_txn *t, struct fx *f, void *arg, orgdir_status *st)
{
	struct country_arg *ca = arg;
	char *paths[] = {(char *) ca->path};
	Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	m.paths = paths;
	m.n_paths = ca->path ? 1 : 0;
	return od_country_update(t, &f->a, ca->c, &m, &ca->out, st);
}

static Orgdir__V1__Country *
get(struct fx *f, const char *code, orgdir_code want)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	Orgdir__V1__Country *c = NULL;
	od_reader_new(f->s, &r, &st);
	assert_int_equal(od_reader_begin(r, &t, &st), ORGDIR_OK);
	assert_int_equal(od_country_get(t, &f->a, code, &c, &st), want);
	if (want == ORGDIR_OK) {
		/* Copy out of the snapshot: repack and unpack in the arena. */
		size_t n = orgdir__v1__country__get_packed_size(c);
		uint8_t *buf = od_arena_alloc(&f->a, n + 1);
		orgdir__v1__country__pack(c, buf);
		c = orgdir__v1__country__unpack(&f->a.pb, n, buf);
	}
	od_reader_end(r);
	od_reader_free(r);
	return c;
}

static Orgdir__V1__GetStatsResponse *
stats(struct fx *f)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	Orgdir__V1__GetStatsResponse *s;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	assert_int_equal(od_store_stats(t, &f->a, &s, &st), ORGDIR_OK);
	od_reader_end(r);
	od_reader_free(r);
	return s;
}

static void
test_get_and_codes(void **state)
{
	struct fx *f = *state;
	Orgdir__V1__Country *c = get(f, "FR", ORGDIR_OK);
	assert_string_equal(c->code, "FR");
	assert_string_equal(c->alpha3, "FRA");
	assert_string_equal(c->numeric, "250");
	assert_string_equal(orgdir_text_pick(c->name, c->n_name, "es"), "Francia");
	assert_string_equal(c->etag, "0");
	assert_int_equal(c->presence->level, ORGDIR__V1__PRESENCE__LEVEL__ABSENT);
	assert_string_equal(get(f, "fra", ORGDIR_OK)->code, "FR");
	assert_string_equal(get(f, "ci", ORGDIR_OK)->code, "CI");
	assert_string_equal(orgdir_text_pick(get(f, "DE", ORGDIR_OK)->name, 6, "fr"), "Allemagne");
	get(f, "XX", ORGDIR_INVALID_ARGUMENT);
	get(f, "", ORGDIR_INVALID_ARGUMENT);
	get(f, "FRANCE", ORGDIR_INVALID_ARGUMENT);
}

static void
test_update_membership_etag_and_names(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	Orgdir__V1__Membership m = ORGDIR__V1__MEMBERSHIP__INIT;
	Orgdir__V1__Country in = ORGDIR__V1__COUNTRY__INIT;
	m.status = ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	m.since_year = 1951;
	in.code = "fr";
	in.membership = &m;
	struct country_arg a = {&in, "membership", NULL};
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	Orgdir__V1__Country *c = get(f, "FR", ORGDIR_OK);
	assert_int_equal(c->membership->status, ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE);
	assert_int_equal(c->membership->since_year, 1951);
	assert_string_not_equal(c->etag, "0");
	assert_non_null(c->update_time);
	/* Stale etag. */
	in.etag = "0";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_ABORTED);
	in.etag = c->etag;
	m.since_year = 1800;
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_INVALID_ARGUMENT);
	/* A name override replaces its language only. */
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	n.lang = "fr";
	n.text = "République française";
	in.etag = "";
	in.name = names;
	in.n_name = 1;
	a.path = "name";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	c = get(f, "FR", ORGDIR_OK);
	assert_string_equal(orgdir_text_pick(c->name, c->n_name, "fr"), "République française");
	assert_string_equal(orgdir_text_pick(c->name, c->n_name, "en"), "France");
	assert_int_equal(c->membership->since_year, 1951); /* untouched by the name update */
	a.path = "alpha3";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_INVALID_ARGUMENT);
	a.path = "presence.level";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_INVALID_ARGUMENT);
	Orgdir__V1__GetStatsResponse *s = stats(f);
	assert_int_equal(s->member_states, 1);
	assert_int_equal(s->observers, 0);
	assert_int_equal(s->countries_known, 249);
}

static void
test_presence_follows_units(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(
	    create(f, "org", "", ORGDIR__V1__UNIT__KIND__ORGANIZATION, "CH", &st), ORGDIR_OK);
	assert_int_equal(
	    create(f, "co-fr", "org", ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, "fr", &st),
	    ORGDIR_OK);
	assert_int_equal(
	    create(f, "so-lyon", "co-fr", ORGDIR__V1__UNIT__KIND__SUB_OFFICE, "FR", &st),
	    ORGDIR_OK);
	assert_int_equal(
	    create(f, "so-berlin", "org", ORGDIR__V1__UNIT__KIND__SUB_OFFICE, "DE", &st),
	    ORGDIR_OK);
	assert_int_equal(create(f, "bad", "org", ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, "ZZ", &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "ZZ"));
	assert_int_equal(create(f, "bad", "org", ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, NULL, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "COUNTRY_OFFICE"));

	Orgdir__V1__Country *fr = get(f, "FR", ORGDIR_OK);
	assert_int_equal(fr->presence->level, ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE);
	assert_int_equal(fr->presence->n_office_unit_ids, 2);
	assert_string_equal(fr->presence->office_unit_ids[0], "co-fr"); /* kind order */
	assert_string_equal(fr->presence->office_unit_ids[1], "so-lyon");
	assert_int_equal(
	    get(f, "DE", ORGDIR_OK)->presence->level, ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES);
	assert_int_equal(
	    get(f, "CH", ORGDIR_OK)->presence->level, ORGDIR__V1__PRESENCE__LEVEL__ABSENT);
	Orgdir__V1__GetStatsResponse *s = stats(f);
	assert_int_equal(s->countries_with_presence, 2);
	assert_int_equal(s->countries_with_country_office, 1);
	assert_int_equal(s->total_units, 4);
	assert_int_equal(s->units_by_kind[ORGDIR__V1__UNIT__KIND__SUB_OFFICE - 1]->count, 2);
	assert_int_equal(s->units_by_kind[ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE - 1]->count, 1);

	/* Deleting the country office (and its sub-office): FR is absent again. */
	assert_int_equal(write(f, do_delete, "co-fr", &st), ORGDIR_OK);
	fr = get(f, "FR", ORGDIR_OK);
	assert_int_equal(fr->presence->level, ORGDIR__V1__PRESENCE__LEVEL__ABSENT);
	assert_int_equal(fr->presence->n_office_unit_ids, 0);
	s = stats(f);
	assert_int_equal(s->countries_with_presence, 1);
	assert_int_equal(s->total_units, 2);
	assert_int_equal(s->units_by_kind[ORGDIR__V1__UNIT__KIND__SUB_OFFICE - 1]->count, 1);

	/* Presence declared by hand holds without a unit. */
	Orgdir__V1__Presence p = ORGDIR__V1__PRESENCE__INIT;
	Orgdir__V1__Country in = ORGDIR__V1__COUNTRY__INIT;
	p.declared = ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE;
	in.code = "FR";
	in.presence = &p;
	struct country_arg a = {&in, "presence.declared", NULL};
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	assert_int_equal(
	    get(f, "FR", ORGDIR_OK)->presence->level, ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE);
	assert_int_equal(stats(f)->countries_with_presence, 2);
}

static void
test_regions(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(
	    create(f, "org", "", ORGDIR__V1__UNIT__KIND__ORGANIZATION, NULL, &st), ORGDIR_OK);
	assert_int_equal(
	    create(f, "ro-dakar", "org", ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE, "SN", &st),
	    ORGDIR_OK);
	Orgdir__V1__Country in = ORGDIR__V1__COUNTRY__INIT;
	in.code = "ML";
	in.region_unit_id = "org";
	struct country_arg a = {&in, "region_unit_id", NULL};
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "REGIONAL_OFFICE"));
	in.region_unit_id = "nowhere";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_FAILED_PRECONDITION);
	in.region_unit_id = "ro-dakar";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	in.code = "SN";
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	assert_string_equal(get(f, "ML", ORGDIR_OK)->region_unit_id, "ro-dakar");
	/* The region goes: the countries forget it. */
	assert_int_equal(write(f, do_delete, "ro-dakar", &st), ORGDIR_OK);
	assert_string_equal(get(f, "ML", ORGDIR_OK)->region_unit_id, "");
	assert_string_equal(get(f, "SN", ORGDIR_OK)->region_unit_id, "");
}

static Orgdir__V1__ListCountriesResponse *
list(struct fx *f, Orgdir__V1__ListCountriesRequest *req, orgdir_code want)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	Orgdir__V1__ListCountriesResponse *out = NULL;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	assert_int_equal(od_country_list(t, &f->a, req, &out, &st), want);
	if (out != NULL) {
		size_t n = orgdir__v1__list_countries_response__get_packed_size(out);
		uint8_t *buf = od_arena_alloc(&f->a, n + 1);
		orgdir__v1__list_countries_response__pack(out, buf);
		out = orgdir__v1__list_countries_response__unpack(&f->a.pb, n, buf);
	}
	od_reader_end(r);
	od_reader_free(r);
	return out;
}

static void
test_list_pages_filters_and_order(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	Orgdir__V1__ListCountriesRequest req = ORGDIR__V1__LIST_COUNTRIES_REQUEST__INIT;
	char seen[249][3];
	size_t n = 0;
	char token[1024] = "";
	req.page_size = 50;
	for (int page = 0; page < 10; page++) {
		req.page_token = token;
		Orgdir__V1__ListCountriesResponse *r = list(f, &req, ORGDIR_OK);
		assert_int_equal(r->total_size, 249);
		for (size_t i = 0; i < r->n_countries; i++) {
			assert_true(n < 249);
			memcpy(seen[n], r->countries[i]->code, 3);
			if (n > 0) {
				assert_true(strcmp(seen[n - 1], seen[n]) <
				    0); /* no duplicate, no gap order */
			}
			n++;
		}
		od_strlcpy(token, r->next_page_token, sizeof(token));
		if (token[0] == '\0') {
			break;
		}
	}
	assert_int_equal(n, 249);
	assert_string_equal(seen[0], "AD");
	assert_string_equal(seen[248], "ZW");

	/* By French name, accents ignored: "Afrique du Sud" < "Albanie",
	 * "Égypte" among the E's. */
	req.order_by = ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_NAME;
	req.lang = "fr";
	req.page_size = 300;
	req.page_token = "";
	Orgdir__V1__ListCountriesResponse *r = list(f, &req, ORGDIR_OK);
	assert_int_equal(r->n_countries, 249);
	int za = -1, al = -1, eg = -1, er = -1, zw = -1;
	for (size_t i = 0; i < r->n_countries; i++) {
		const char *c = r->countries[i]->code;
		za = strcmp(c, "ZA") == 0 ? (int) i : za;
		al = strcmp(c, "AL") == 0 ? (int) i : al;
		eg = strcmp(c, "EG") == 0 ? (int) i : eg;
		er = strcmp(c, "ER") == 0 ? (int) i : er;
		zw = strcmp(c, "ZW") == 0 ? (int) i : zw;
	}
	assert_true(za < al);
	assert_true(eg < er);
	assert_true(er < zw);
	assert_true(eg < 100);

	/* A token from the code order is refused by the name order. */
	req.order_by = ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_CODE;
	req.page_size = 10;
	r = list(f, &req, ORGDIR_OK);
	od_strlcpy(token, r->next_page_token, sizeof(token));
	req.order_by = ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_NAME;
	req.page_token = token;
	list(f, &req, ORGDIR_INVALID_ARGUMENT);
	req.page_token = "zz";
	list(f, &req, ORGDIR_INVALID_ARGUMENT);
	req.page_token = "";
	req.page_size = -1;
	list(f, &req, ORGDIR_INVALID_ARGUMENT);

	/* Filters. */
	Orgdir__V1__Membership m = ORGDIR__V1__MEMBERSHIP__INIT;
	Orgdir__V1__Country in = ORGDIR__V1__COUNTRY__INIT;
	m.status = ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER;
	in.code = "VA";
	in.membership = &m;
	struct country_arg a = {&in, "membership.status", NULL};
	assert_int_equal(write(f, do_update, &a, &st), ORGDIR_OK);
	Orgdir__V1__Membership__Status obs[] = {ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER};
	req.page_size = 0;
	req.membership = obs;
	req.n_membership = 1;
	r = list(f, &req, ORGDIR_OK);
	assert_int_equal(r->total_size, 1);
	assert_string_equal(r->countries[0]->code, "VA");
	req.n_membership = 0;
	req.presence = ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__PRESENT;
	assert_int_equal(list(f, &req, ORGDIR_OK)->total_size, 0);
	req.presence = ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__NOT_PRESENT;
	assert_int_equal(list(f, &req, ORGDIR_OK)->total_size, 249);
}

/* A schema-1 directory (no derived indexes) is migrated on open. */
static void
test_migration_from_schema_1(void **state)
{
	struct fx *f = *state;
	orgdir_status st;
	assert_int_equal(
	    create(f, "org", "", ORGDIR__V1__UNIT__KIND__ORGANIZATION, NULL, &st), ORGDIR_OK);
	assert_int_equal(
	    create(f, "co-ke", "org", ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, "KE", &st),
	    ORGDIR_OK);
	od_store_close(f->s);
	/* Make it look like schema 1: version 1, no derived indexes. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, kc, cu;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "kind_counts", 0, &kc), 0);
	assert_int_equal(mdb_dbi_open(txn, "country_units", MDB_DUPSORT, &cu), 0);
	uint32_t one = 1;
	MDB_val k = {strlen("schema_version"), "schema_version"};
	MDB_val v = {sizeof(one), &one};
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_drop(txn, kc, 0), 0);
	assert_int_equal(mdb_drop(txn, cu, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	open_store(f);
	assert_int_equal(od_store_schema_version(f->s), OD_SCHEMA_VERSION);
	Orgdir__V1__GetStatsResponse *s = stats(f);
	assert_int_equal(s->units_by_kind[ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE - 1]->count, 1);
	assert_int_equal(s->countries_with_presence, 1);
	assert_string_equal(get(f, "KE", ORGDIR_OK)->presence->office_unit_ids[0], "co-ke");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_and_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_membership_etag_and_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_presence_follows_units, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_pages_filters_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_from_schema_1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
