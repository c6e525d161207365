/* check_search.c - the consistency check of the search index: its docs
 * and its keys against the units and countries they index.
 * What is checked is listed in check.h; the shared state is in check_int.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"

/*
 * What a record's entries must be is what the search index's own code
 * (search_write.c) derives from it: a unit's keys from its record at its
 * depth (od_search_check_unit), a country's from its search_docs record
 * (od_search_check_doc), and that record from the country
 * (od_search_index_country, run on this read-only snapshot: it only reads
 * when the stored doc already matches; when anything differs its first
 * write is refused by LMDB with EACCES and nothing is written). Whether
 * each key of `search` is in place is for search_*.c to say (the layout
 * of those keys is theirs). When every derived key is stored and the
 * index holds no more keys than were derived, it holds no others; else
 * od_search_check_key finds the stale ones.
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
static void
keys_problem(struct ck *c, int rc, const char *label)
{
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
	if (rc != 0) {
		c->search_incomplete = true;
	}
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
		if (krc != 0 && krc != ENOENT && krc != EDOM) {
			rc = krc;
			break;
		}
		if (krc == 0 || krc == EDOM) {
			continue; /* EDOM: the tree pass reports its unit */
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

/* Every doc of search_docs names an ISO country, and its keys are in
 * `search`. (Units have no doc: their keys are derived from their
 * records, od_check_search_units.) */
int
od_check_search_docs(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->search_docs, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char label[SHOWBUF + 16];
		bool exists = false;
		c->rep->search_docs++;
		bool known = doc_record(c, k.mv_data, k.mv_size, label, sizeof(label), &exists);
		if (!known || ((const uint8_t *) k.mv_data)[0] != 'c') {
			od_check_problem(c, "search_docs: key %s names no country", label);
		} else if (!exists) {
			od_check_problem(
			    c, "search_docs: %s is in the search index but does not exist", label);
		} else {
			size_t n_keys = 0;
			int krc = od_search_check_doc(
			    c->t, &c->a, k.mv_data, k.mv_size, v.mv_data, v.mv_size, &n_keys);
			od_arena_reset(&c->a);
			c->search_derived += n_keys;
			keys_problem(c, krc, label);
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The index holds no key but those derived (counted by the passes before). */
int
od_check_search_keys(struct ck *c)
{
	MDB_stat ms;
	int rc = mdb_stat(c->txn, c->s->search, &ms);
	if (rc != 0) {
		return rc;
	}
	c->rep->search_keys = ms.ms_entries;
	/* When every derived key was found, the index holding more keys than
	 * that means stale ones: only then (or when some were missing) is each
	 * key looked up against its doc. */
	return ms.ms_entries != c->search_derived || c->search_incomplete
	    ? check_stale_search_keys(c)
	    : 0;
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
	uint32_t depth = od_unit_depth(c->t, u);
	if ((u->parent_id[0] != '\0' && depth == 0) || depth > OD_TREE_DEPTH_MAX) {
		/* No depth to derive its keys at: the tree pass reports why, and
		 * the key pass leaves its keys alone. */
		return;
	}
	snprintf(label, sizeof(label), "unit '%s'", id);
	size_t n_keys = 0;
	int rc = od_search_check_unit(c->t, &c->a, u, depth, &n_keys);
	c->search_derived += n_keys;
	keys_problem(c, rc, label);
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
