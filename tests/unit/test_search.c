/* test_search.c - the search index over real ISO 3166-1 data and a small
 * fixed organisation: accents, case, apostrophes, ligatures, French and
 * Spanish, ranking, filters, pages, and the index following renames, moves
 * and deletes in the same transactions; the import's second thread that
 * derives new units' keys (derive.c), in order and when one fails. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "iso3166.h"
#include "search_int.h"
#include "store.h"
#include "testutil.h"

struct fx {
	char *dir;
	od_iso3166 *iso;
	struct od_store *s;
	od_arena a;
};

static Orgdir__V1__LocalizedString *
ls(od_arena *a, const char *lang, const char *text)
{
	Orgdir__V1__LocalizedString *s = od_arena_alloc(a, sizeof(*s));
	orgdir__v1__localized_string__init(s);
	s->lang = (char *) lang;
	s->text = (char *) text;
	return s;
}

static orgdir_code
add(struct fx *f, const char *id, const char *parent, int kind, const char *acronym, const char *en,
    const char *fr, const char *es)
{
	orgdir_status st;
	od_txn *t;
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString *names[3];
	size_t n = 0;
	names[n++] = ls(&f->a, "en", en);
	if (fr) {
		names[n++] = ls(&f->a, "fr", fr);
	}
	if (es) {
		names[n++] = ls(&f->a, "es", es);
	}
	u.id = (char *) id;
	u.parent_id = (char *) parent;
	u.kind = kind;
	u.acronym = (char *) (acronym ? acronym : "");
	u.name = names;
	u.n_name = n;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	orgdir_code c = od_unit_create(t, &f->a, &u, NULL, &st);
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, &st);
}

static int
setup(void **state)
{
	orgdir_status st;
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = test_mkdtemp("search");
	assert_int_equal(od_iso3166_load(NULL, NULL, &f->iso, &st), ORGDIR_OK);
	od_store_opts o = {.path = f->dir, .no_sync = true, .iso = f->iso};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
	od_arena_init(&f->a, 256u << 20);
	/* iom ─ dg ─ ddg-ops, ddg-mgmt ─ oeuvres ; ocos ; dg has head title */
	assert_int_equal(add(f, "iom", "", ORGDIR__V1__UNIT__KIND__ORGANIZATION, "IOM",
	                     "International Organization for Migration",
	                     "Organisation internationale pour les migrations",
	                     "Organización Internacional para las Migraciones"),
	    ORGDIR_OK);
	assert_int_equal(add(f, "dg", "iom", ORGDIR__V1__UNIT__KIND__EXECUTIVE_OFFICE, "DG",
	                     "Director General", "Directrice générale", "Directora General"),
	    ORGDIR_OK);
	assert_int_equal(add(f, "ddg-ops", "dg", ORGDIR__V1__UNIT__KIND__DEPUTY_OFFICE, "DDG",
	                     "Deputy Director General for Operations",
	                     "Directrice Générale Adjointe chargée des opérations", NULL),
	    ORGDIR_OK);
	assert_int_equal(
	    add(f, "ddg-mgmt", "dg", ORGDIR__V1__UNIT__KIND__DEPUTY_OFFICE, NULL,
	        "Deputy Director General for Management and Reform",
	        "Directrice générale adjointe chargée de la gestion et des réformes", NULL),
	    ORGDIR_OK);
	assert_int_equal(add(f, "ocos", "dg", ORGDIR__V1__UNIT__KIND__OFFICE, "OCOS",
	                     "Office of the Chief of Staff", "Bureau du Chef de Cabinet",
	                     "Oficina del Jefe de Gabinete"),
	    ORGDIR_OK);
	assert_int_equal(add(f, "oeuvres", "ddg-mgmt", ORGDIR__V1__UNIT__KIND__UNIT, NULL,
	                     "Welfare works", "Œuvres sociales", "Obras sociales"),
	    ORGDIR_OK);
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

/* Runs a search; returns the hit ids ("u:id" / "c:CC") joined by spaces. */
static orgdir_code
search(struct fx *f, const char *query, int kind, const char *under, const char *lang, char *ids,
    size_t cap, Orgdir__V1__SearchResponse **out)
{
	od_reader *r;
	od_txn *t;
	orgdir_status st;
	Orgdir__V1__SearchRequest req = ORGDIR__V1__SEARCH_REQUEST__INIT;
	Orgdir__V1__SearchRequest__Kind kinds[1] = {(Orgdir__V1__SearchRequest__Kind) kind};
	Orgdir__V1__SearchResponse *resp = NULL;
	req.query = (char *) query;
	if (kind != 0) {
		req.kinds = kinds;
		req.n_kinds = 1;
	}
	req.under_unit_id = (char *) (under ? under : "");
	req.lang = (char *) (lang ? lang : "");
	req.page_size = 100;
	od_reader_new(f->s, &r, &st);
	od_reader_begin(r, &t, &st);
	orgdir_code c = od_search(t, &f->a, &req, &resp, &st);
	ids[0] = 0;
	if (c == ORGDIR_OK) {
		for (size_t i = 0; i < resp->n_hits; i++) {
			size_t n = strlen(ids);
			snprintf(ids + n, cap - n, "%s%s:%s", n ? " " : "",
			    resp->hits[i]->unit ? "u" : "c",
			    resp->hits[i]->unit ? resp->hits[i]->unit->id
			                        : resp->hits[i]->country->code);
		}
		if (out != NULL) {
			/* Copy out of the snapshot. */
			size_t n = orgdir__v1__search_response__get_packed_size(resp);
			uint8_t *buf = od_arena_alloc(&f->a, n + 1);
			orgdir__v1__search_response__pack(resp, buf);
			*out = orgdir__v1__search_response__unpack(&f->a.pb, n, buf);
		}
	}
	od_reader_end(r);
	od_reader_free(r);
	return c;
}

#define UNITS ORGDIR__V1__SEARCH_REQUEST__KIND__UNITS
#define COUNTRIES ORGDIR__V1__SEARCH_REQUEST__KIND__COUNTRIES

static void
test_accents_case_and_prefixes(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	Orgdir__V1__SearchResponse *r;
	assert_int_equal(
	    search(f, "generale", UNITS, NULL, NULL, ids, sizeof(ids), NULL), ORGDIR_OK);
	assert_string_equal(ids, "u:dg u:ddg-mgmt u:ddg-ops");
	char a[2048], b[2048], c[2048];
	search(f, "Directrice Générale Adjointe", UNITS, NULL, NULL, a, sizeof(a), NULL);
	search(f, "DIRECTRICE GENERALE ADJOINTE", UNITS, NULL, NULL, b, sizeof(b), NULL);
	search(f, "directrice generale adjointe", UNITS, NULL, NULL, c, sizeof(c), NULL);
	assert_string_equal(a, b);
	assert_string_equal(b, c);
	/* Both prefix-match, at the same depth: by id. */
	assert_string_equal(a, "u:ddg-mgmt u:ddg-ops");
	assert_int_equal(
	    search(f, "chef de cabinet", UNITS, NULL, NULL, ids, sizeof(ids), &r), ORGDIR_OK);
	assert_string_equal(ids, "u:ocos");
	assert_int_equal(r->hits[0]->field, ORGDIR__V1__SEARCH_HIT__FIELD__NAME);
	assert_string_equal(r->hits[0]->lang, "fr");
	search(f, "strat", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	search(f, "organizacion migr", UNITS, NULL, NULL, ids, sizeof(ids), &r); /* Spanish */
	assert_string_equal(ids, "u:iom");
	assert_string_equal(r->hits[0]->lang, "es");
	search(f, "oeuvres", UNITS, NULL, NULL, ids, sizeof(ids), NULL); /* Œ ligature */
	assert_string_equal(ids, "u:oeuvres");
	search(f, "l'organisation", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:iom");
}

static void
test_ranking_exact_whole_prefix_depth(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	Orgdir__V1__SearchResponse *r;
	/* "DDG" is ddg-ops's acronym (exact), and prefixes ddg-mgmt's id words. */
	search(f, "DDG", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:ddg-ops u:ddg-mgmt");
	assert_int_equal(r->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__EXACT);
	assert_int_equal(r->hits[0]->field, ORGDIR__V1__SEARCH_HIT__FIELD__ACRONYM);
	assert_int_equal(r->hits[1]->match, ORGDIR__V1__SEARCH_HIT__MATCH__WORD_PREFIX);
	/* Exact id beats whole name beats prefix; then depth. */
	search(f, "director general", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:dg u:ddg-mgmt u:ddg-ops");
	assert_int_equal(r->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__WHOLE_NAME);
	assert_int_equal(r->hits[0]->depth, 1);
	assert_int_equal(r->hits[1]->depth, 2);
	search(f, "dg", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:dg");
	assert_int_equal(r->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__EXACT);
	/* A preferred language decides among equals. */
	search(f, "gen", UNITS, NULL, "fr", ids, sizeof(ids), &r);
	assert_string_equal(r->hits[0]->lang, "fr");
}

static void
test_countries_and_kinds(void **state)
{
	struct fx *f = *state;
	char ids[4096];
	search(f, "cote divoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	search(f, "cote d ivoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	search(f, "ivoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	search(f, "Côte d'Ivoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	Orgdir__V1__SearchResponse *r;
	search(f, "fra", COUNTRIES, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(r->hits[0]->country->code, "FR"); /* alpha-3, exact */
	assert_int_equal(r->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__EXACT);
	search(f, "allemagne", 0, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "c:DE");
	assert_string_equal(r->hits[0]->lang, "fr");
	/* Kinds: units only, countries only, both. */
	search(f, "migr", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:iom");
	search(f, "iom", 0, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:iom");
}

static void
test_under_and_bad_queries(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	search(f, "dir", UNITS, "ddg-mgmt", NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:ddg-mgmt");
	search(f, "sociales", UNITS, "dg", NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:oeuvres");
	search(f, "sociales", UNITS, "ocos", NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	assert_int_equal(
	    search(f, "x", UNITS, "nope", NULL, ids, sizeof(ids), NULL), ORGDIR_NOT_FOUND);
	assert_int_equal(
	    search(f, "", 0, NULL, NULL, ids, sizeof(ids), NULL), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    search(f, " '-!? ", 0, NULL, NULL, ids, sizeof(ids), NULL), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    search(f, "caf\xc3", 0, NULL, NULL, ids, sizeof(ids), NULL), ORGDIR_INVALID_ARGUMENT);
	char *big = malloc(10001);
	memset(big, 'a', 10000);
	big[10000] = 0;
	assert_int_equal(
	    search(f, big, 0, NULL, NULL, ids, sizeof(ids), NULL), ORGDIR_INVALID_ARGUMENT);
	free(big);
	assert_int_equal(search(f, "a b c d e f g h i", 0, NULL, NULL, ids, sizeof(ids), NULL),
	    ORGDIR_INVALID_ARGUMENT);
}

static orgdir_code
write_op(struct fx *f, int op, const char *id, const char *arg)
{
	orgdir_status st;
	od_txn *t;
	orgdir_code c;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	if (op == 0) { /* rename (en) */
		Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
		Orgdir__V1__LocalizedString *names[] = {ls(&f->a, "en", arg)};
		char *paths[] = {"name"};
		Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
		u.id = (char *) id;
		u.name = names;
		u.n_name = 1;
		m.paths = paths;
		m.n_paths = 1;
		c = od_unit_update(t, &f->a, &u, &m, NULL, &st);
	} else if (op == 1) {
		c = od_unit_move(t, &f->a, id, arg, NULL, NULL, &st);
	} else {
		uint32_t n;
		c = od_unit_delete(t, &f->a, id, true, NULL, &n, &st);
	}
	if (c != ORGDIR_OK) {
		od_txn_abort(t);
		return c;
	}
	return od_txn_commit(t, NULL, &st);
}

static void assert_check_clean(struct fx *f);

static void
test_index_follows_writes(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	Orgdir__V1__SearchResponse *r;
	assert_int_equal(write_op(f, 0, "ocos", "Cabinet Office"), ORGDIR_OK);
	search(f, "chief staff", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, ""); /* the old English name is gone */
	search(f, "cabinet office", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:ocos");
	/* Moving oeuvres under ocos: the subtree filter and depth follow. */
	search(f, "oeuvres", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_int_equal(r->hits[0]->depth, 3);
	assert_int_equal(write_op(f, 1, "oeuvres", "ocos"), ORGDIR_OK);
	search(f, "oeuvres", UNITS, "ocos", NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:oeuvres");
	assert_int_equal(r->hits[0]->depth, 3);
	/* The check derives every unit's keys from its record at its depth
	 * and finds no key it did not derive: none left at the old depth. */
	assert_check_clean(f);
	assert_int_equal(write_op(f, 1, "ocos", ""), ORGDIR_OK); /* ocos becomes a root */
	search(f, "oeuvres", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_int_equal(r->hits[0]->depth, 1);
	assert_check_clean(f);
	/* A force delete takes the subtree out of the index. */
	assert_int_equal(write_op(f, 2, "ocos", NULL), ORGDIR_OK);
	search(f, "oeuvres", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	search(f, "cabinet", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	assert_check_clean(f);
}

/* A schema-5 directory (units had search_docs records) is migrated on
 * open: the index is built afresh, no unit record is left in search_docs. */
/* Writes schema version `ver` into the closed store's directory, with a
 * stale search_docs record of a unit, and either no index at all (drop)
 * or an extra key in the layout of schema 6, a first-letter bucket. */
static void
make_old_schema(struct fx *f, uint32_t ver, bool drop)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, docs, idx;
	MDB_val k, v;
	od_store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "search_docs", 0, &docs), 0);
	assert_int_equal(mdb_dbi_open(txn, "search", 0, &idx), 0);
	k = (MDB_val){strlen("schema_version"), "schema_version"};
	v = (MDB_val){sizeof(ver), &ver};
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	k = (MDB_val){3, "udg"};
	v = (MDB_val){5, "stale"};
	assert_int_equal(mdb_put(txn, docs, &k, &v, 0), 0);
	if (drop) {
		assert_int_equal(mdb_drop(txn, idx, 0), 0); /* an index to rebuild */
	} else {
		static const uint8_t bucket[] = {'d', 0, 0, 'u', 'd', 'g'};
		static const uint8_t words[] = {2, 'd', 'g', 1, F_ACRONYM, 0};
		k = (MDB_val){sizeof(bucket), (void *) bucket};
		v = (MDB_val){sizeof(words), (void *) words};
		assert_int_equal(mdb_put(txn, idx, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
expect_migrated(struct fx *f)
{
	char ids[2048];
	orgdir_status st;
	/* With the smallest map (LMDB makes it the data's size): the rebuild
	 * needs the old index's pages and the new ones at once, so the map
	 * must grow for the migration to land. */
	od_store_opts o = {.path = f->dir, .no_sync = true, .iso = f->iso, .map_size = 4096};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
	assert_int_equal(od_store_schema_version(f->s), OD_SCHEMA_VERSION);
	search(f, "dg", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	search(f, "cote divoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	search(f, "cote d ivoire", COUNTRIES, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "c:CI");
	/* No search_docs record of a unit, no key of the old layout. */
	assert_check_clean(f);
}

static void
test_migration_from_schema_5(void **state)
{
	struct fx *f = *state;
	make_old_schema(f, 5, true);
	expect_migrated(f);
}

/* Schema 7 has no first-letter buckets: the rebuild drops them. */
static void
test_migration_from_schema_6(void **state)
{
	struct fx *f = *state;
	make_old_schema(f, 6, false);
	expect_migrated(f);
}

static void
test_pages_without_gaps(void **state)
{
	struct fx *f = *state;
	char id[32], name[64];
	for (int i = 0; i < 45; i++) {
		snprintf(id, sizeof(id), "pg-%02d", i);
		snprintf(name, sizeof(name), "Paging Office %d", i);
		assert_int_equal(add(f, id, i % 3 ? "dg" : "iom", ORGDIR__V1__UNIT__KIND__OFFICE,
		                     NULL, name, NULL, NULL),
		    ORGDIR_OK);
	}
	char token[256] = "";
	int seen[45] = {0};
	int total = 0;
	for (int page = 0; page < 20; page++) {
		od_reader *rd;
		od_txn *t;
		orgdir_status st;
		Orgdir__V1__SearchRequest req = ORGDIR__V1__SEARCH_REQUEST__INIT;
		Orgdir__V1__SearchResponse *resp;
		req.query = "paging off";
		req.page_size = 7;
		req.page_token = token;
		od_reader_new(f->s, &rd, &st);
		od_reader_begin(rd, &t, &st);
		assert_int_equal(od_search(t, &f->a, &req, &resp, &st), ORGDIR_OK);
		assert_int_equal(resp->total_size, 45);
		for (size_t i = 0; i < resp->n_hits; i++) {
			int k = atoi(resp->hits[i]->unit->id + 3);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			total++;
		}
		od_strlcpy(token, resp->next_page_token, sizeof(token));
		od_reader_end(rd);
		od_reader_free(rd);
		if (token[0] == 0) {
			break;
		}
	}
	assert_int_equal(total, 45);
}

/* Creates n units named "<name> <i>" (and "<fr> <i>" in French when fr is
 * set and i % 3 == 0) under parent, ids "<prefix>-<i>", in one write. */
static void
add_many(
    struct fx *f, const char *prefix, const char *parent, int n, const char *name, const char *fr)
{
	orgdir_status st;
	od_txn *t;
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	for (int i = 0; i < n; i++) {
		char id[64], en[128], frn[128];
		Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
		Orgdir__V1__LocalizedString *names[2];
		snprintf(id, sizeof(id), "%s-%05d", prefix, i);
		snprintf(en, sizeof(en), "%s %d", name, i);
		names[0] = ls(&f->a, "en", od_arena_strndup(&f->a, en, strlen(en)));
		u.n_name = 1;
		if (fr != NULL && i % 3 == 0) {
			snprintf(frn, sizeof(frn), "%s %d", fr, i);
			names[1] = ls(&f->a, "fr", od_arena_strndup(&f->a, frn, strlen(frn)));
			u.n_name = 2;
		}
		u.id = od_arena_strndup(&f->a, id, strlen(id));
		u.parent_id = (char *) parent;
		u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
		u.acronym = "";
		u.name = names;
		assert_int_equal(od_unit_create(t, &f->a, &u, NULL, &st), ORGDIR_OK);
	}
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
}

/* One page of a search; *token in and out. */
static Orgdir__V1__SearchResponse *
page(struct fx *f, const char *query, const char *under, const char *lang, int size, char *token,
    size_t cap)
{
	od_reader *rd;
	od_txn *t;
	orgdir_status st;
	Orgdir__V1__SearchRequest req = ORGDIR__V1__SEARCH_REQUEST__INIT;
	Orgdir__V1__SearchResponse *resp, *copy;
	req.query = (char *) query;
	req.under_unit_id = (char *) (under ? under : "");
	req.lang = (char *) (lang ? lang : "");
	req.page_size = size;
	req.page_token = token;
	od_reader_new(f->s, &rd, &st);
	od_reader_begin(rd, &t, &st);
	assert_int_equal(od_search(t, &f->a, &req, &resp, &st), ORGDIR_OK);
	size_t n = orgdir__v1__search_response__get_packed_size(resp);
	uint8_t *buf = od_arena_alloc(&f->a, n + 1);
	orgdir__v1__search_response__pack(resp, buf);
	copy = orgdir__v1__search_response__unpack(&f->a.pb, n, buf);
	od_reader_end(rd);
	od_reader_free(rd);
	od_strlcpy(token, copy->next_page_token, cap);
	return copy;
}

/* Pages stop as soon as they are full: the next page must go on exactly
 * where the last one stopped, across depths and the preferred-language
 * pass, and total_size must still count every hit. */
static void
test_pages_across_early_stop(void **state)
{
	struct fx *f = *state;
	const char *parents[3] = {"iom", "dg", "ddg-mgmt"}; /* depths 1, 2, 3 */
	for (int p = 0; p < 3; p++) {
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "es%d", p);
		add_many(f, prefix, parents[p], 20, "Early Stop Office", "Bureau Early Stop");
	}
	char token[512] = "";
	char last[80] = "";
	int last_rank = -1, total = 0, seen[3][20] = {{0}};
	for (int n = 0; n < 40; n++) {
		Orgdir__V1__SearchResponse *r =
		    page(f, "early sto", NULL, "fr", 7, token, sizeof(token));
		assert_int_equal(r->total_size, 60);
		for (size_t i = 0; i < r->n_hits; i++) {
			const Orgdir__V1__Unit *u = r->hits[i]->unit;
			int p = u->id[2] - '0', k = atoi(u->id + 4);
			assert_int_equal(seen[p][k], 0);
			seen[p][k] = 1;
			total++;
			/* (French first, depth, id) never goes back. */
			int rank = (k % 3 == 0 ? 0 : 1) * 100 + (int) r->hits[i]->depth;
			assert_string_equal(r->hits[i]->lang, k % 3 == 0 ? "fr" : "en");
			assert_int_equal(r->hits[i]->depth, p + 1);
			assert_true(
			    rank > last_rank || (rank == last_rank && strcmp(u->id, last) > 0));
			last_rank = rank;
			od_strlcpy(last, u->id, sizeof(last));
		}
		if (token[0] == '\0') {
			break;
		}
	}
	assert_int_equal(total, 60);
	/* A page as large as everything: the same hits, and no token. */
	Orgdir__V1__SearchResponse *r = page(f, "early sto", NULL, "fr", 100, token, sizeof(token));
	assert_int_equal(r->n_hits, 60);
	assert_string_equal(token, "");
}

/* More whole-name hits than the set of already-ranked docs starts with
 * (32: it grows): every one once, all before the word-prefix hits, in one
 * page or seven at a time. */
static void
test_many_whole_name_hits(void **state)
{
	struct fx *f = *state;
	char id[32], name[64];
	for (int i = 0; i < 70; i++) {
		snprintf(id, sizeof(id), "ss-%02d", i);
		if (i < 60) {
			snprintf(name, sizeof(name), "Shared Services");
		} else {
			snprintf(name, sizeof(name), "Shared Services Annex %d", i);
		}
		assert_int_equal(add(f, id, i % 2 ? "dg" : "iom", ORGDIR__V1__UNIT__KIND__OFFICE,
		                     NULL, name, NULL, NULL),
		    ORGDIR_OK);
	}
	char token[512] = "";
	Orgdir__V1__SearchResponse *r =
	    page(f, "shared services", NULL, NULL, 100, token, sizeof(token));
	assert_int_equal(r->total_size, 70);
	assert_int_equal(r->n_hits, 70);
	int seen[70] = {0};
	for (size_t i = 0; i < r->n_hits; i++) {
		int k = atoi(r->hits[i]->unit->id + 3);
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		assert_int_equal(r->hits[i]->match,
		    i < 60 ? ORGDIR__V1__SEARCH_HIT__MATCH__WHOLE_NAME
		           : ORGDIR__V1__SEARCH_HIT__MATCH__WORD_PREFIX);
	}
	memset(seen, 0, sizeof(seen));
	int total = 0;
	token[0] = '\0';
	for (int n = 0; n < 20; n++) {
		r = page(f, "shared services", NULL, NULL, 7, token, sizeof(token));
		for (size_t i = 0; i < r->n_hits; i++) {
			int k = atoi(r->hits[i]->unit->id + 3);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			total++;
		}
		if (token[0] == '\0') {
			break;
		}
	}
	assert_int_equal(total, 70);
}

/* Ties: equal tier, language and depth go by id; a whole name in two
 * languages is one hit. */
static void
test_ranking_ties(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	Orgdir__V1__SearchResponse *r;
	assert_int_equal(add(f, "tie-b", "dg", ORGDIR__V1__UNIT__KIND__OFFICE, NULL, "Tie Office",
	                     "Tie Office", NULL),
	    ORGDIR_OK);
	assert_int_equal(add(f, "tie-a", "dg", ORGDIR__V1__UNIT__KIND__OFFICE, NULL,
	                     "Tie Office Annex", NULL, NULL),
	    ORGDIR_OK);
	assert_int_equal(add(f, "tie-c", "dg", ORGDIR__V1__UNIT__KIND__OFFICE, NULL,
	                     "Tie Office Annex", NULL, NULL),
	    ORGDIR_OK);
	search(f, "tie office", UNITS, NULL, "fr", ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:tie-b u:tie-a u:tie-c");
	assert_int_equal(r->total_size, 3);
	assert_int_equal(r->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__WHOLE_NAME);
	assert_string_equal(r->hits[0]->lang, "fr");
	assert_int_equal(r->hits[1]->match, ORGDIR__V1__SEARCH_HIT__MATCH__WORD_PREFIX);
	/* A rename keeps exactly one entry per doc. */
	assert_int_equal(write_op(f, 0, "tie-c", "Tie Office"), ORGDIR_OK);
	search(f, "tie office", UNITS, NULL, NULL, ids, sizeof(ids), &r);
	assert_string_equal(ids, "u:tie-b u:tie-c u:tie-a");
}

/* What paging through a query (3 hits a page, at most 100 pages) found. */
struct paged {
	char ids[8][32]; /* the hits' unit ids, in order (the first 8) */
	int hits, pages, short_pages, first_hit_page;
};

static void
page_all(struct fx *f, const char *query, const char *under, struct paged *out)
{
	char token[512] = "";
	*out = (struct paged){.first_hit_page = -1};
	for (; out->pages < 100; out->pages++) {
		Orgdir__V1__SearchResponse *r =
		    page(f, query, under, NULL, 3, token, sizeof(token));
		out->short_pages += r->n_hits < 3 && token[0] != '\0';
		for (size_t i = 0; i < r->n_hits; i++) {
			if (out->hits < 8) {
				od_strlcpy(out->ids[out->hits], r->hits[i]->unit->id, 32);
			}
			if (out->first_hit_page < 0) {
				out->first_hit_page = out->pages;
			}
			out->hits++;
		}
		assert_true(r->total_size >= out->hits);
		if (token[0] == '\0') {
			break;
		}
	}
	assert_true(out->pages < 100);
}

/* A query whose candidates are more than one call may examine: pages come
 * back short (even empty) with a token, and going on finds every hit once. */
static void
test_query_beyond_the_work_cap(void **state)
{
	struct fx *f = *state;
	/* 10,000 units at depth 3 that match but are outside the subtree, then
	 * the subtree's 5 at the same depth, sorted after them. */
	add_many(f, "cap", "ddg-mgmt", 10000, "Capped Unit", NULL);
	assert_int_equal(add(f, "zz-root", "ocos", ORGDIR__V1__UNIT__KIND__OFFICE, NULL,
	                     "Capped Unit Root", NULL, NULL),
	    ORGDIR_OK);
	add_many(f, "zz", "zz-root", 5, "Capped Unit", NULL);
	struct paged p;
	page_all(f, "capped unit", "zz-root", &p);
	assert_int_equal(p.hits, 6);
	/* The root (depth 3), then its 5 (depth 4), each once. */
	assert_string_equal(p.ids[0], "zz-root");
	for (int k = 0; k < 5; k++) {
		char want[16];
		snprintf(want, sizeof(want), "zz-%05d", k);
		assert_string_equal(p.ids[1 + k], want);
	}
	assert_true(p.short_pages > 0); /* the cap was reached */
}

/* Query words shorter than a bucket (three code points) are read from
 * each doc's words entry: alone, beside a longer word, several of them. */
static void
test_short_query_words(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *query;
		int kind;
		const char *ids, *lang; /* lang: of the first hit, NULL unchecked */
	} cases[] = {
	    /* "DG", "Director", "Directrice", "de", "del"; none in iom or
	     * oeuvres. */
	    {"d", UNITS, "u:dg u:ddg-mgmt u:ddg-ops u:ocos", NULL},
	    {"du chef", UNITS, "u:ocos", "fr"},
	    {"of st", UNITS, "u:ocos", "en"},
	    {"de la ge", UNITS, "u:ddg-mgmt", NULL},
	    {"cote d iv", COUNTRIES, "c:CI", NULL},
	    {"xq", UNITS, "", NULL},
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		char ids[2048];
		Orgdir__V1__SearchResponse *r = NULL;
		assert_int_equal(
		    search(f, cases[i].query, cases[i].kind, NULL, NULL, ids, sizeof(ids), &r),
		    ORGDIR_OK);
		assert_string_equal(ids, cases[i].ids);
		if (cases[i].lang != NULL) {
			assert_string_equal(r->hits[0]->lang, cases[i].lang);
		}
	}
}

/* A short word that no doc but the last has: the walk of the words
 * entries stops at the work cap and the next page goes on from there,
 * alone and beside a word every doc has. */
static void
test_short_word_beyond_the_work_cap(void **state)
{
	struct fx *f = *state;
	add_many(f, "cap", "ddg-mgmt", 30000, "Capped Unit", NULL);
	assert_int_equal(add(f, "zz-last", "ddg-mgmt", ORGDIR__V1__UNIT__KIND__UNIT, NULL,
	                     "Zq Unit", NULL, NULL),
	    ORGDIR_OK);
	static const char *const queries[] = {"zq", "unit zq"};
	for (size_t q = 0; q < 2; q++) {
		struct paged p;
		page_all(f, queries[q], NULL, &p);
		assert_int_equal(p.hits, 1);
		assert_string_equal(p.ids[0], "zz-last");
		/* 30,000 docs before it: past the cap of one call, so the first
		 * page stopped short, empty, within its cap. */
		assert_true(p.first_hit_page > 0);
	}
}

/* A hash of every key and value of the search index (search, search_docs),
 * read with the store closed; the store is opened again. */
static uint64_t
index_digest(struct fx *f)
{
	orgdir_status st;
	MDB_env *env;
	MDB_txn *txn;
	uint64_t h = 1469598103934665603ull;
	od_store_close(f->s);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	assert_int_equal(mdb_env_open(env, f->dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	static const char *const dbs[] = {"search", "search_docs"};
	for (size_t d = 0; d < 2; d++) {
		MDB_dbi dbi;
		MDB_cursor *c;
		MDB_val k, v;
		assert_int_equal(mdb_dbi_open(txn, dbs[d], 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
		for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
			const MDB_val *kv[2] = {&k, &v};
			for (size_t x = 0; x < 2; x++) {
				const uint8_t *p = kv[x]->mv_data;
				for (size_t i = 0; i < kv[x]->mv_size; i++) {
					h = (h ^ p[i]) * 1099511628211ull;
				}
				h = (h ^ kv[x]->mv_size) * 1099511628211ull;
			}
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	od_store_opts o = {.path = f->dir, .no_sync = true, .iso = f->iso};
	assert_int_equal(od_store_open(&o, &f->s, &st), ORGDIR_OK);
	return h;
}

/* UpdateUnit of dg with one mask path; the fields are set from u. */
static void
update_dg(struct fx *f, Orgdir__V1__Unit *u, const char *path)
{
	orgdir_status st;
	od_txn *t;
	char *paths[] = {(char *) path};
	Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	m.paths = paths;
	m.n_paths = 1;
	u->id = "dg";
	assert_int_equal(od_store_write_begin(f->s, &t, &st), ORGDIR_OK);
	assert_int_equal(od_unit_update(t, &f->a, u, &m, NULL, &st), ORGDIR_OK);
	assert_int_equal(od_txn_commit(t, NULL, &st), ORGDIR_OK);
}

static void
assert_check_clean(struct fx *f)
{
	orgdir_status st;
	od_check_report rep;
	assert_int_equal(od_store_check(f->s, &rep, &st), ORGDIR_OK);
	if (rep.problems != 0) {
		od_check_report_print(&rep, stderr);
	}
	assert_int_equal(rep.problems, 0);
}

/* An update that changes no indexed field leaves the index as it was (not
 * one key or record rewritten); one that does re-indexes just that field,
 * and the result is what a whole re-index makes (the consistency check
 * re-derives every doc from its unit). */
static void
test_update_reindexes_only_what_changed(void **state)
{
	struct fx *f = *state;
	char ids[2048];
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__Contact contact = ORGDIR__V1__CONTACT__INIT;
	uint64_t before = index_digest(f);
	contact.email = "dg@example.org";
	u.contact = &contact;
	update_dg(f, &u, "contact.email");
	u.sort_order = 7;
	update_dg(f, &u, "sort_order");
	assert_true(index_digest(f) == before);
	search(f, "directrice generale", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg u:ddg-mgmt u:ddg-ops");
	search(f, "dg", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");

	/* The acronym: the old one no longer finds dg, the new one does. */
	u.acronym = "QZX";
	update_dg(f, &u, "acronym");
	assert_true(index_digest(f) != before);
	search(f, "qzx", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	search(f, "iom", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:iom");
	assert_check_clean(f);

	/* Each other indexed field, alone, and a word shared between fields. */
	Orgdir__V1__Head head = ORGDIR__V1__HEAD__INIT;
	Orgdir__V1__LocalizedString *titles[] = {
	    ls(&f->a, "en", "Director General"), ls(&f->a, "fr", "Directrice générale de l'Œuvre")};
	head.title = titles;
	head.n_title = 2;
	head.name = "Amy Pope";
	u.head = &head;
	update_dg(f, &u, "head");
	search(f, "pope", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	head.name = "Zoë Quartz";
	update_dg(f, &u, "head.name");
	search(f, "pope", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	search(f, "zoe quartz", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	Orgdir__V1__LocalizedString *desc[] = {ls(&f->a, "es", "Dirección general y obras")};
	u.description = desc;
	u.n_description = 1;
	update_dg(f, &u, "description");
	search(f, "direccion", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	Orgdir__V1__LocalizedString *names[] = {
	    ls(&f->a, "en", "Director General"), ls(&f->a, "fr", "Direction générale")};
	u.name = names;
	u.n_name = 2;
	update_dg(f, &u, "name");
	search(f, "directora", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, ""); /* the Spanish name is gone */
	search(f, "direction generale", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "u:dg");
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	update_dg(f, &u, "kind");
	assert_check_clean(f);
	/* Back to no head and no description: their words go. */
	u.head = NULL;
	u.n_description = 0;
	update_dg(f, &u, "head");
	update_dg(f, &u, "description");
	search(f, "quartz", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	search(f, "direccion", UNITS, NULL, NULL, ids, sizeof(ids), NULL);
	assert_string_equal(ids, "");
	assert_check_clean(f);
}

/* --- the import's key pipe (derive.c) -------------------------------------------- */

#define PIPE_UNITS 700 /* three blocks of 256 and part of a fourth */

struct pipe_units {
	const Orgdir__V1__Unit *u[PIPE_UNITS];
	uint32_t depth[PIPE_UNITS];
};

/* Units with names in two languages and an acronym; unit `giant` (if
 * below PIPE_UNITS) also has 600 descriptions, 210,000 different words. */
static void
pipe_units(od_arena *a, struct pipe_units *p, size_t giant)
{
	for (size_t i = 0; i < PIPE_UNITS; i++) {
		Orgdir__V1__Unit *u = od_arena_alloc(a, sizeof(*u));
		orgdir__v1__unit__init(u);
		char buf[96];
		snprintf(buf, sizeof(buf), "u-%zu", i);
		u->id = od_arena_strndup(a, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "D%zu", i);
		u->acronym = od_arena_strndup(a, buf, strlen(buf));
		u->name = od_arena_alloc(a, 2 * sizeof(*u->name));
		snprintf(buf, sizeof(buf), "Division %zu of Strategy and Planning", i);
		u->name[0] = ls(a, "en", od_arena_strndup(a, buf, strlen(buf)));
		snprintf(buf, sizeof(buf), "Division %zu de la Stratégie", i);
		u->name[1] = ls(a, "fr", od_arena_strndup(a, buf, strlen(buf)));
		u->n_name = 2;
		if (i == giant) {
			/* Texts are indexed up to 4,096 bytes each: 600 of them,
			 * 350 words of at most 10 bytes each. */
			u->description = od_arena_alloc(a, 600 * sizeof(*u->description));
			for (int d = 0; d < 600; d++) {
				char *text = od_arena_alloc(a, 4096);
				size_t len = 0;
				for (int w = d * 350; w < (d + 1) * 350; w++) {
					len += (size_t) snprintf(text + len, 4096 - len, "%c%cw%d ",
					    'a' + w % 26, 'a' + (w / 26) % 26, w);
				}
				snprintf(buf, sizeof(buf), "l%d", d);
				u->description[d] =
				    ls(a, od_arena_strndup(a, buf, strlen(buf)), text);
			}
			u->n_description = 600;
		}
		p->u[i] = u;
		p->depth[i] = (uint32_t) (i % 7);
	}
}

/* Unit i's keys from the pipe are the ones it derives in place. */
static void
assert_same_keys(od_arena *a, const struct pipe_units *p, size_t i, const od_search_keys *got)
{
	od_search_keys want;
	assert_int_equal(od_search_unit_keys(a, p->u[i], p->depth[i], &want), 0);
	assert_true(want.n > 5);
	assert_int_equal(got->n, want.n);
	for (size_t e = 0; e < want.n; e++) {
		assert_int_equal(got->e[e].klen, want.e[e].klen);
		assert_memory_equal(got->e[e].key, want.e[e].key, want.e[e].klen);
		assert_int_equal(got->e[e].vlen, want.e[e].vlen);
		assert_memory_equal(got->e[e].val, want.e[e].val, want.e[e].vlen);
	}
}

static void
test_key_pipe_in_order(void **state)
{
	struct fx *f = *state;
	struct pipe_units *p = od_arena_alloc(&f->a, sizeof(*p));
	pipe_units(&f->a, p, PIPE_UNITS);
	struct od_keys_pipe *pipe = od_keys_pipe_start(p->u, p->depth, PIPE_UNITS, 0);
	assert_non_null(pipe);
	for (size_t i = 0; i < PIPE_UNITS; i++) {
		const od_search_keys *k = NULL;
		assert_int_equal(od_keys_pipe_next(pipe, &k), 0);
		assert_same_keys(&f->a, p, i, k);
	}
	const od_search_keys *k = NULL;
	assert_int_equal(od_keys_pipe_next(pipe, &k), EINVAL); /* no unit 700 */
	od_keys_pipe_free(pipe);
}

/* A unit whose keys do not fit (here a 16 KiB cap a unit, 4 MiB a block,
 * against a unit of 210,000 words) fails at that unit, after every unit
 * before it came out right, and the pipe shuts down with the thread
 * ahead (valgrind and ASan: nothing leaks). */
static void
test_key_pipe_failure_in_order(void **state)
{
	struct fx *f = *state;
	struct pipe_units *p = od_arena_alloc(&f->a, sizeof(*p));
	pipe_units(&f->a, p, 600);
	struct od_keys_pipe *pipe = od_keys_pipe_start(p->u, p->depth, PIPE_UNITS, 16384);
	assert_non_null(pipe);
	const od_search_keys *k = NULL;
	for (size_t i = 0; i < 600; i++) {
		assert_int_equal(od_keys_pipe_next(pipe, &k), 0);
		assert_same_keys(&f->a, p, i, k);
	}
	assert_int_equal(od_keys_pipe_next(pipe, &k), ENOMEM);
	assert_int_equal(od_keys_pipe_next(pipe, &k), ENOMEM); /* and stays so */
	od_keys_pipe_free(pipe);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_accents_case_and_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ranking_exact_whole_prefix_depth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_countries_and_kinds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_under_and_bad_queries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_follows_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_from_schema_5, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_from_schema_6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_without_gaps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_across_early_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ranking_ties, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_whole_name_hits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_beyond_the_work_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_query_words, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_word_beyond_the_work_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_update_reindexes_only_what_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_pipe_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_pipe_failure_in_order, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
