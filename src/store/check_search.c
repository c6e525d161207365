/* check_search.c - the consistency check of the search index: its docs
 * and its keys against the units and countries they index.
 * What is checked is listed in check.h; the shared state is in check_int.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"

/*
 * What a record's entries must be is what the search index's own indexer
 * (search_write.c) makes of it: od_search_index_unit/_country write a doc
 * as a difference against what is stored. Run on this read-only snapshot
 * they only read when the stored entries already match; when anything
 * differs the first write is refused by LMDB with EACCES (nothing is
 * written). So the check compares without a second copy of the key
 * generation. It covers the doc (words, whole names, exact keys, kind,
 * depth). Whether each key of `search` is in place is for search_*.c to
 * say (the layout of those keys is theirs): od_search_check_doc says
 * whether a doc's keys are all stored, and when the index holds more keys
 * than the docs derive, od_search_check_key finds the stale ones.
 */
#define SEARCH_DIFFERS EACCES

/* A search_docs key: 'u' + unit id or 'c' + alpha-2. Names it in `label`
 * ("unit 'x'", "country FR") and says whether the record exists; false for
 * a key that is neither. */
static bool
doc_record(struct ck *c, const uint8_t *d, size_t n, char *label, size_t cap, bool *exists)
{
	char sh[SHOWBUF];
	if (n >= 2 && d[0] == 'u') {
		char id[OD_ID_MAX + 1];
		MDB_val k = {n - 1, (void *) (d + 1)};
		if (od_check_id_of(&k, id)) {
			snprintf(label, cap, "unit '%s'", id);
			*exists = od_unit_exists(c->t, id);
			return true;
		}
	}
	if (n == 3 && d[0] == 'c' && od_check_country_code_valid((const char *) d + 1, 2)) {
		char cc[3] = {(char) d[1], (char) d[2], '\0'};
		snprintf(label, cap, "country %s", cc);
		*exists = c->s->iso == NULL || od_iso3166_find(c->s->iso, cc) != NULL;
		return true;
	}
	snprintf(label, cap, "'%s'", od_check_show(d, n, sh, sizeof(sh)));
	return false;
}

/* A doc's keys of `search`: all there, with the values its record gives. */
static bool
check_doc_keys(struct ck *c, const MDB_val *k, const MDB_val *v, const char *label, uint64_t *n)
{
	size_t n_keys = 0;
	int rc = od_search_check_doc(
	    c->t, &c->a, k->mv_data, k->mv_size, v->mv_data, v->mv_size, &n_keys);
	od_arena_reset(&c->a);
	*n += n_keys;
	if (rc == EINVAL) {
		od_check_problem(c, "search_docs: the record of %s does not decode", label);
	} else if (rc == ENOENT) {
		od_check_problem(
		    c, "%s: a key of its search entries is missing from the index", label);
	} else if (rc == EACCES) {
		od_check_problem(c, "%s: a key of its search entries holds other bytes", label);
	} else if (rc != 0) {
		od_check_problem(c, "%s: its search keys could not be read (%s)", label,
		    rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	}
	return rc == 0;
}

/* Stale keys, counted per doc so that one lost doc is one problem. */
#define STALE_DOCS_MAX 64
struct stale {
	char label[SHOWBUF + 16];
	uint64_t keys;
};

/* Keys of `search` that no doc derives (left behind by a bad write). */
static int
check_stale_search_keys(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct stale *docs = calloc(STALE_DOCS_MAX, sizeof(*docs));
	size_t n_docs = 0;
	uint64_t others = 0;
	if (docs == NULL) {
		return ENOMEM;
	}
	int rc = mdb_cursor_open(c->txn, c->s->search, &cur);
	if (rc != 0) {
		free(docs);
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		const uint8_t *doc = NULL;
		size_t dl = 0, i;
		char sh[SHOWBUF], label[SHOWBUF + 16];
		bool exists = false;
		int krc = od_search_check_key(c->t, &c->a, k.mv_data, k.mv_size, &doc, &dl);
		od_arena_reset(&c->a);
		if (krc == EINVAL) {
			od_check_problem(c, "search: key '%s' is not a key of the index",
			    od_check_show(k.mv_data, k.mv_size, sh, sizeof(sh)));
			continue;
		}
		if (krc != 0 && krc != ENOENT) {
			rc = krc;
			break;
		}
		if (krc == 0) {
			continue;
		}
		doc_record(c, doc, dl, label, sizeof(label), &exists);
		for (i = 0; i < n_docs && strcmp(docs[i].label, label) != 0; i++) {
		}
		if (i == n_docs && n_docs < STALE_DOCS_MAX) {
			snprintf(docs[n_docs++].label, sizeof(docs[0].label), "%s", label);
		}
		if (i < n_docs) {
			docs[i].keys++;
		} else {
			others++;
		}
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n_docs; i++) {
		od_check_problem(c,
		    "search: %" PRIu64
		    " key(s) of %s are stale (its search doc does not give them)",
		    docs[i].keys, docs[i].label);
	}
	if (others > 0) {
		od_check_problem(c, "search: %" PRIu64 " more stale key(s) of other docs", others);
	}
	free(docs);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every doc names an existing unit or ISO country, and its keys are in
 * `search`; the index holds no other key. */
int
od_check_search_docs(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t derived = 0;
	bool all_there = true;
	int rc = mdb_cursor_open(c->txn, c->s->search_docs, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char label[SHOWBUF + 16];
		bool exists = false;
		c->rep->search_docs++;
		if (!doc_record(c, k.mv_data, k.mv_size, label, sizeof(label), &exists)) {
			od_check_problem(
			    c, "search_docs: key %s names neither a unit nor a country", label);
		} else if (!exists) {
			od_check_problem(
			    c, "search_docs: %s is in the search index but does not exist", label);
		} else if (!check_doc_keys(c, &k, &v, label, &derived)) {
			all_there = false;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	MDB_stat ms;
	if ((rc = mdb_stat(c->txn, c->s->search, &ms)) != 0) {
		return rc;
	}
	c->rep->search_keys = ms.ms_entries;
	/* When every derived key was found, the index holding more keys than
	 * that means stale ones: only then (or when some were missing) is each
	 * key looked up against its doc. */
	return ms.ms_entries != derived || !all_there ? check_stale_search_keys(c) : 0;
}

static bool
has_doc(struct ck *c, char type, const char *id)
{
	char doc[2 + OD_ID_MAX];
	size_t il = strlen(id);
	MDB_val k = {1 + il, doc};
	MDB_val v;
	doc[0] = type;
	memcpy(doc + 1, id, il);
	return mdb_get(c->txn, c->s->search_docs, &k, &v) == 0;
}

static void
search_differs(struct ck *c, const char *label, int rc, const char *what)
{
	if (rc == SEARCH_DIFFERS) {
		od_check_problem(
		    c, "%s: its search entries differ from what its %s gives", label, what);
	} else if (rc != 0) {
		od_check_problem(c, "%s: its search entries could not be computed (%s)", label,
		    rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	}
}

/* A unit's search entries are what its record gives at its depth. */
static void
check_search_unit(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char id[OD_ID_MAX + 1], label[OD_ID_MAX + 16];
	if (!od_check_id_of(k, id)) {
		return; /* reported by the unit pass */
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (u == NULL || strcmp(u->id, id) != 0) {
		return; /* reported by the unit pass */
	}
	if (!has_doc(c, 'u', id)) {
		od_check_problem(c, "unit '%s': missing from the search index (no search doc)", id);
		return;
	}
	uint32_t depth = od_unit_depth(c->t, u);
	if ((u->parent_id[0] != '\0' && depth == 0) || depth > OD_TREE_DEPTH_MAX) {
		return; /* no depth to index it at: the tree pass reports why */
	}
	snprintf(label, sizeof(label), "unit '%s'", id);
	search_differs(c, label, od_search_index_unit(c->t, u, depth),
	    "record (words, names, acronym, kind) and depth");
}

int
od_check_search_units(struct ck *c)
{
	return od_check_each(c, c->s->units, NULL, check_search_unit);
}

/* Every ISO 3166-1 country is searchable by its codes and names. */
void
od_check_search_countries(struct ck *c)
{
	if (c->s->iso == NULL) {
		return; /* countries are neither served nor indexed */
	}
	for (size_t i = 0; i < od_iso3166_count(c->s->iso); i++) {
		const char *cc = od_iso3166_at(c->s->iso, i)->alpha2;
		char label[16];
		Orgdir__V1__Country *country;
		orgdir_status st;
		snprintf(label, sizeof(label), "country %s", cc);
		if (!has_doc(c, 'c', cc)) {
			od_check_problem(
			    c, "country %s: missing from the search index (no search doc)", cc);
		} else if (od_country_get(c->t, &c->a, cc, &country, &st) != ORGDIR_OK) {
			od_check_problem(c,
			    "country %s: cannot be read to check its search entries: %s", cc,
			    st.message);
		} else {
			search_differs(
			    c, label, od_search_index_country(c->t, country), "codes and names");
		}
		od_arena_reset(&c->a);
	}
}
