/*
 * search_write.c - the search index kept up to date in the write
 * transactions of the records it indexes (index, partial update on a unit
 * update, delete, move, countries, full rebuild), and the two look-ups
 * check_search.c makes of it.
 * The index layout (keys of `search` and `search_docs`) is described at
 * the top of search_doc.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

#define META_SEARCH_COUNTRIES "search_countries"

/* Deletes the keys only in old, puts those new or changed. */
static int
apply_diff(od_txn *t, const struct entry *o, size_t no, const struct entry *e, size_t ne)
{
	size_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < no || j < ne)) {
		int c = i == no ? 1 : (j == ne ? -1 : od_search_entry_cmp(&o[i], &e[j]));
		if (c < 0) {
			MDB_val k = {o[i].klen, o[i].key};
			rc = od_mdb_del(t, t->s->search, &k, NULL);
			rc = rc == MDB_NOTFOUND ? 0 : rc;
			i++;
		} else if (c > 0 || o[i].vlen != e[j].vlen ||
		    memcmp(o[i].val, e[j].val, e[j].vlen) != 0) {
			rc = od_mdb_put(
			    t, t->s->search, e[j].key, e[j].klen, e[j].val, e[j].vlen, 0);
			i += c == 0;
			j++;
		} else {
			i++;
			j++;
		}
	}
	return rc;
}

/* The stored record of doc, copied and decoded; false when there is none. */
static int
load_doc(od_txn *t, od_arena *a, const char *doc, size_t dl, struct doc *d, uint8_t **raw,
    size_t *raw_len)
{
	MDB_val k = {dl, (void *) doc};
	MDB_val v;
	int rc = mdb_get(t->txn, t->s->search_docs, &k, &v);
	if (rc != 0) {
		return rc;
	}
	/* Copied: the writes that follow may move the page it is on. */
	uint8_t *copy = od_arena_alloc(a, v.mv_size + 1);
	if (copy == NULL) {
		return ENOMEM;
	}
	memcpy(copy, v.mv_data, v.mv_size);
	*raw = copy;
	*raw_len = v.mv_size;
	/* A record this code cannot read is replaced as if new. */
	return od_search_decode_doc(a, copy, v.mv_size, d) ? 0 : MDB_NOTFOUND;
}

/* Writes doc d (canonical) over old (NULL: none), decoded from old_raw:
 * the keys that differ and the record. */
static int
write_over(od_txn *t, od_arena *a, const char *doc, size_t dl, const struct doc *old,
    const uint8_t *old_raw, size_t old_len, const struct doc *d)
{
	size_t len;
	uint8_t *val = od_search_encode_doc(a, d, &len);
	if (val == NULL) {
		return ENOMEM;
	}
	if (old != NULL && old_len == len && memcmp(old_raw, val, len) == 0) {
		return 0; /* nothing searchable changed */
	}
	struct entry *oe = NULL, *ne;
	size_t no = 0, nn;
	int rc;
	if (old != NULL && (rc = od_search_derive(a, old, doc, dl, NULL, &oe, &no)) != 0) {
		return rc;
	}
	if ((rc = od_search_derive(a, d, doc, dl, NULL, &ne, &nn)) != 0) {
		return rc;
	}
	if ((rc = apply_diff(t, oe, no, ne, nn)) != 0) {
		return rc;
	}
	return od_mdb_put(t, t->s->search_docs, doc, dl, val, len, 0);
}

/* Writes doc d, changing only what differs from the record. */
static int
write_doc(od_txn *t, od_arena *a, const char *doc, size_t dl, struct doc *d)
{
	od_search_canonicalize(d);
	struct doc old;
	uint8_t *old_raw = NULL;
	size_t old_len = 0;
	int rc = load_doc(t, a, doc, dl, &old, &old_raw, &old_len);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	return write_over(t, a, doc, dl, rc == 0 ? &old : NULL, old_raw, old_len, d);
}

/*
 * One record's upkeep works in the transaction's scratch arena, emptied
 * after each record but keeping its largest chunk: an import indexes
 * 100,000 units in one transaction without allocating for each.
 */
#define SCRATCH_KEEP ((size_t) 4 << 20)

static od_arena *
scratch_begin(od_txn *t)
{
	if (!t->has_scratch) {
		od_arena_init(&t->scratch, OD_SEARCH_UNIT_SCRATCH_MAX);
		t->has_scratch = true;
	}
	return &t->scratch;
}

static void
scratch_end(od_txn *t)
{
	od_arena_reset_keep(&t->scratch, SCRATCH_KEEP);
}

/* The doc of a unit (its fields f) at depth, canonical, in a. */
static int
unit_doc(od_arena *a, const struct od_search_fields *f, uint32_t depth, struct doc *d)
{
	*d = (struct doc){.depth = depth > 255 ? 255 : (uint8_t) depth};
	struct builder b = {.a = a, .d = d};
	od_search_add_unit_fields(&b, f, ~0u);
	if (b.oom) {
		return ENOMEM;
	}
	od_search_canonicalize(d);
	return 0;
}

/*
 * The doc of a unit (its fields f) at the depth of `other`, the canonical
 * doc of the same unit with other texts in the fields `changed`, nothing
 * of it cut (doc_complete): the words and names of the other fields are
 * taken from it, in order, the changed ones made from f. The same as
 * unit_doc's: a word's (or name's) seq orders it by field first, then in
 * the order its field gave it, which both ways keep; and the sort only
 * has the changed fields' few to move.
 */
static int
unit_doc_from(od_arena *a, const struct doc *other, const struct od_search_fields *f,
    unsigned changed, struct doc *d)
{
	*d = (struct doc){.depth = other->depth};
	d->cap_occ = other->n_occ + 16;
	d->cap_names = other->n_names + 4;
	d->occ = od_arena_alloc(a, d->cap_occ * sizeof(*d->occ));
	d->names = od_arena_alloc(a, d->cap_names * sizeof(*d->names));
	if (d->occ == NULL || d->names == NULL) {
		return ENOMEM;
	}
	for (size_t i = 0; i < other->n_occ; i++) {
		if (!(changed & 1u << other->occ[i].field)) {
			d->occ[d->n_occ++] = other->occ[i];
		}
	}
	for (size_t i = 0; i < other->n_names; i++) {
		if (!(changed & 1u << other->names[i].field)) {
			d->names[d->n_names++] = other->names[i];
		}
	}
	struct builder b = {.a = a, .d = d};
	od_search_add_unit_fields(&b, f, changed);
	if (b.oom) {
		return ENOMEM;
	}
	od_search_canonicalize(d);
	return 0;
}

/* Adds to o the words and name hashes of d that came from the fields in
 * `changed` (bits 1 << F_*). o's arrays have room for them. */
static void
only_add(struct only *o, const struct doc *d, unsigned changed)
{
	for (size_t i = 0; i < d->n_occ; i++) {
		if (changed & 1u << d->occ[i].field) {
			o->words[o->n_words++] = &d->occ[i];
		}
	}
	for (size_t i = 0; i < d->n_names; i++) {
		if (changed & 1u << d->names[i].field) {
			o->hashes[o->n_hashes++] = d->names[i].hash;
		}
	}
}

/*
 * Whether a doc holds every pair its fields gave: od_search_canonicalize
 * drops the pairs of a word past OCC_BYTES_MAX bytes or 255 pairs, and
 * the words and names past COUNT16_MAX. A pair of an unchanged field that
 * was dropped can come back when another field changes (and the other way
 * round), so such a doc's keys are all compared.
 */
static bool
doc_complete(const struct doc *d)
{
	if (d->n_occ >= COUNT16_MAX || d->n_names >= COUNT16_MAX) {
		return false;
	}
	for (size_t i = 0; i < d->n_occ;) {
		size_t j = i, bytes = 0;
		for (; j < d->n_occ && d->occ[j].len == d->occ[i].len &&
		     memcmp(d->occ[j].word, d->occ[i].word, d->occ[i].len) == 0;
		     j++) {
			bytes += 2u + d->occ[j].ll;
		}
		if (j - i >= 255 || bytes + 2u + OD_LANG_MAX > OCC_BYTES_MAX) {
			return false;
		}
		i = j;
	}
	return true;
}

/*
 * Rewrites the keys of a unit from what it was (was, at depth `from`;
 * NULL: none) to what it is (now, at depth `to`; NULL: none). With
 * `changed` other than ~0u (an update: same depth, and the texts of the
 * fields not in `changed` the same in both), only the keys of the
 * changed fields' words and names, before and after, are derived and
 * compared: the others are the same in both (unless a doc was cut short).
 */
static int
rewrite_unit(od_txn *t, od_arena *a, const struct od_search_fields *was, uint32_t from,
    const struct od_search_fields *now, uint32_t to, unsigned changed)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', (now != NULL ? now : was)->id, doc);
	struct doc od, nd;
	struct entry *oe = NULL, *ne = NULL;
	size_t no = 0, nn = 0;
	struct only o = {.n_words = 0}, *op = NULL;
	int rc = 0;
	if (now != NULL && (rc = unit_doc(a, now, to, &nd)) != 0) {
		return rc;
	}
	bool part = was != NULL && now != NULL && changed != ~0u && doc_complete(&nd);
	if (was != NULL) {
		rc = part ? unit_doc_from(a, &nd, was, changed, &od) : unit_doc(a, was, from, &od);
		if (rc != 0) {
			return rc;
		}
	}
	if (part && doc_complete(&od)) {
		o.words = od_arena_alloc(a, (od.n_occ + nd.n_occ + 1) * sizeof(*o.words));
		o.hashes = od_arena_alloc(a, (od.n_names + nd.n_names + 1) * sizeof(*o.hashes));
		if (o.words == NULL || o.hashes == NULL) {
			return ENOMEM;
		}
		only_add(&o, &od, changed);
		only_add(&o, &nd, changed);
		op = &o;
	}
	if (was != NULL && (rc = od_search_derive(a, &od, doc, dl, op, &oe, &no)) != 0) {
		return rc;
	}
	if (now != NULL && (rc = od_search_derive(a, &nd, doc, dl, op, &ne, &nn)) != 0) {
		return rc;
	}
	return apply_diff(t, oe, no, ne, nn);
}

int
od_search_unit_keys(od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth, od_search_keys *k)
{
	struct od_search_fields f;
	struct doc d;
	char doc[DOC_MAX];
	od_search_fields_of(u, &f);
	size_t dl = od_search_doc_key('u', f.id, doc);
	int rc = unit_doc(a, &f, depth, &d);
	return rc != 0 ? rc : od_search_derive(a, &d, doc, dl, NULL, &k->e, &k->n);
}

int
od_search_put_keys(od_txn *t, const od_search_keys *k)
{
	return apply_diff(t, NULL, 0, k->e, k->n);
}

int
od_search_index_unit(od_txn *t, const Orgdir__V1__Unit *u, uint32_t depth)
{
	od_search_keys k;
	int rc = od_search_unit_keys(scratch_begin(t), u, depth, &k);
	if (rc == 0) {
		rc = od_search_put_keys(t, &k);
	}
	scratch_end(t);
	return rc;
}

void
od_search_fields_of(const Orgdir__V1__Unit *u, struct od_search_fields *f)
{
	f->id = u->id;
	f->acronym = u->acronym;
	f->n_name = u->n_name;
	f->name = u->name;
	f->n_description = u->n_description;
	f->description = u->description;
	f->n_head_title = u->head != NULL ? u->head->n_title : 0;
	f->head_title = u->head != NULL ? u->head->title : NULL;
	f->head_name = u->head != NULL ? u->head->name : "";
	f->has_head = u->head != NULL;
}

static bool
same_texts(size_t na, Orgdir__V1__LocalizedString *const *a, size_t nb,
    Orgdir__V1__LocalizedString *const *b)
{
	if (na != nb) {
		return false;
	}
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i]->text, b[i]->text) != 0 || strcmp(a[i]->lang, b[i]->lang) != 0) {
			return false;
		}
	}
	return true;
}

/* Bits 1 << F_* of the fields whose texts differ (the id never changes). */
static unsigned
changed_fields(const struct od_search_fields *o, const struct od_search_fields *n)
{
	unsigned c = 0;
	if (strcmp(o->acronym, n->acronym) != 0) {
		c |= 1u << F_ACRONYM;
	}
	if (!same_texts(o->n_name, o->name, n->n_name, n->name)) {
		c |= 1u << F_NAME;
	}
	if (!same_texts(o->n_description, o->description, n->n_description, n->description)) {
		c |= 1u << F_DESCRIPTION;
	}
	if (!same_texts(o->n_head_title, o->head_title, n->n_head_title, n->head_title)) {
		c |= 1u << F_HEAD_TITLE;
	}
	if (strcmp(o->head_name, n->head_name) != 0) {
		c |= 1u << F_HEAD_NAME;
	}
	return c;
}

int
od_search_update_unit(od_txn *t, const struct od_search_fields *before, const Orgdir__V1__Unit *u)
{
	struct od_search_fields now;
	od_search_fields_of(u, &now);
	unsigned changed = changed_fields(before, &now);
	if (changed == 0) {
		return 0; /* the same words and names: the same keys */
	}
	uint32_t depth = od_unit_depth(t, u);
	int rc = rewrite_unit(t, scratch_begin(t), before, depth, &now, depth, changed);
	scratch_end(t);
	return rc;
}

int
od_search_unindex_unit(od_txn *t, const Orgdir__V1__Unit *u, uint32_t depth)
{
	struct od_search_fields was;
	od_search_fields_of(u, &was);
	int rc = rewrite_unit(t, scratch_begin(t), &was, depth, NULL, 0, ~0u);
	scratch_end(t);
	return rc;
}

/* The depth is part of every key: a move rewrites the unit's keys. */
int
od_search_move_unit(od_txn *t, const char *id, uint32_t from, uint32_t to)
{
	od_val v;
	if (from == to) {
		return 0;
	}
	if (od_unit_get(t, id, &v, NULL) != ORGDIR_OK) {
		return MDB_NOTFOUND;
	}
	od_arena *a = scratch_begin(t);
	Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, &a->pb, v.len, v.data);
	int rc = MDB_CORRUPTED;
	if (u != NULL) {
		struct od_search_fields f;
		od_search_fields_of(u, &f);
		rc = rewrite_unit(t, a, &f, from, &f, to, ~0u);
	}
	scratch_end(t);
	return rc;
}

int
od_search_index_country(od_txn *t, const Orgdir__V1__Country *c)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('c', c->code, doc);
	od_arena *a = scratch_begin(t);
	struct doc d = {.depth = 0, .kind = 0};
	struct builder b = {.a = a, .d = &d};
	od_search_add_text(&b, c->code, F_COUNTRY_CODE, NULL, EXACT_KEY);
	od_search_add_text(&b, c->alpha3, F_COUNTRY_CODE, NULL, EXACT_KEY);
	for (size_t i = 0; i < c->n_name; i++) {
		od_search_add_text(
		    &b, c->name[i]->text, F_COUNTRY_NAME, c->name[i]->lang, WHOLE_NAME);
	}
	int rc = b.oom ? ENOMEM : write_doc(t, a, doc, dl, &d);
	scratch_end(t);
	return rc;
}

/* Indexes every country once (and again when the iso-codes data changed). */
int
od_search_index_countries(od_txn *t, od_arena *a)
{
	if (t->s->iso == NULL) {
		return 0;
	}
	uint64_t stamp = od_iso3166_count(t->s->iso);
	MDB_val k = {strlen(META_SEARCH_COUNTRIES), META_SEARCH_COUNTRIES};
	MDB_val v;
	if (mdb_get(t->txn, t->s->meta, &k, &v) == 0 && v.mv_size == sizeof(stamp) &&
	    memcmp(v.mv_data, &stamp, sizeof(stamp)) == 0) {
		return 0;
	}
	for (size_t i = 0; i < od_iso3166_count(t->s->iso); i++) {
		Orgdir__V1__Country *c;
		if (od_country_get(t, a, od_iso3166_at(t->s->iso, i)->alpha2, &c, NULL) !=
		    ORGDIR_OK) {
			return EIO;
		}
		int rc = od_search_index_country(t, c);
		od_arena_reset(a);
		if (rc != 0) {
			return rc;
		}
	}
	return od_mdb_put(t, t->s->meta, k.mv_data, k.mv_size, &stamp, sizeof(stamp), 0);
}

/* Rebuilds the whole index (migrations to schemas 4 and 5). */
int
od_search_reindex_all(od_txn *t, od_arena *a)
{
	MDB_cursor *c;
	MDB_val k, v;
	MDB_val mk = {strlen(META_SEARCH_COUNTRIES), META_SEARCH_COUNTRIES};
	int rc = od_mdb_drop(t, t->s->search);
	if (rc == 0) {
		rc = od_mdb_drop(t, t->s->search_docs);
	}
	if (rc == 0) {
		rc = od_mdb_del(t, t->s->meta, &mk, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (rc == 0) {
		rc = mdb_cursor_open(t->txn, t->s->units, &c);
	}
	if (rc != 0) {
		return rc;
	}
	/* Collect ids first: indexing writes while this cursor walks `units`
	 * would be safe in LMDB, but a list keeps it obvious. */
	char **ids = NULL;
	size_t n = 0, cap = 0;
	for (int op = MDB_FIRST; rc == 0 && mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		if (!od_search_grow(a, (void **) &ids, &cap, n, sizeof(*ids)) ||
		    (ids[n] = od_arena_strndup(a, k.mv_data, k.mv_size)) == NULL) {
			rc = ENOMEM;
			break;
		}
		n++;
	}
	mdb_cursor_close(c);
	for (size_t i = 0; i < n && rc == 0; i++) {
		od_val uv;
		if (od_unit_get(t, ids[i], &uv, NULL) != ORGDIR_OK) {
			continue;
		}
		Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, &a->pb, uv.len, uv.data);
		if (u == NULL) {
			rc = MDB_CORRUPTED;
			break;
		}
		rc = od_search_index_unit(t, u, od_unit_depth(t, u));
	}
	return rc == 0 ? od_search_index_countries(t, a) : rc;
}

/* --- consistency (check_search.c) ----------------------------------------------------- */

/* Are the n entries e all stored in `search`, with their values? */
static int
entries_stored(od_txn *t, const struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		MDB_val k = {e[i].klen, e[i].key};
		MDB_val v;
		int rc = mdb_get(t->txn, t->s->search, &k, &v);
		if (rc != 0) {
			return rc == MDB_NOTFOUND ? ENOENT : rc;
		}
		if (v.mv_size != e[i].vlen || memcmp(v.mv_data, e[i].val, e[i].vlen) != 0) {
			return EACCES;
		}
	}
	return 0;
}

/* The entries of unit u at depth, in a. */
static int
unit_entries(od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth, struct entry **e, size_t *n)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', u->id, doc);
	struct od_search_fields f;
	struct doc d;
	od_search_fields_of(u, &f);
	int rc = unit_doc(a, &f, depth, &d);
	return rc != 0 ? rc : od_search_derive(a, &d, doc, dl, NULL, e, n);
}

int
od_search_check_unit(
    od_txn *t, od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth, size_t *n_keys)
{
	struct entry *e;
	size_t n = 0;
	int rc = unit_entries(a, u, depth, &e, &n);
	*n_keys = n;
	return rc != 0 ? rc : entries_stored(t, e, n);
}

int
od_search_check_doc(od_txn *t, od_arena *a, const void *doc, size_t dl, const void *rec,
    size_t rec_len, size_t *n_keys)
{
	struct doc d;
	struct entry *e;
	size_t n;
	*n_keys = 0;
	if (dl < 2 || dl > DOC_MAX || !od_search_decode_doc(a, rec, rec_len, &d)) {
		return EINVAL;
	}
	int rc = od_search_derive(a, &d, doc, dl, NULL, &e, &n);
	if (rc != 0) {
		return rc;
	}
	*n_keys = n;
	return entries_stored(t, e, n);
}

/* The entries the doc (dl bytes) derives: a unit's from its record at its
 * depth, a country's from its search_docs record. MDB_NOTFOUND: none;
 * EDOM: a unit whose depth is unknown (its ancestry is broken). */
static int
doc_entries(od_txn *t, od_arena *a, const char *doc, size_t dl, struct entry **e, size_t *n)
{
	if (doc[0] == 'u') {
		char id[OD_ID_MAX + 1];
		od_val v;
		if (dl - 1 > OD_ID_MAX) {
			return MDB_NOTFOUND;
		}
		memcpy(id, doc + 1, dl - 1);
		id[dl - 1] = '\0';
		if (od_unit_get(t, id, &v, NULL) != ORGDIR_OK) {
			return MDB_NOTFOUND;
		}
		Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, &a->pb, v.len, v.data);
		if (u == NULL) {
			return MDB_NOTFOUND; /* the unit pass reports it */
		}
		uint32_t depth = od_unit_depth(t, u);
		if ((u->parent_id[0] != '\0' && depth == 0) || depth > OD_TREE_DEPTH_MAX) {
			return EDOM;
		}
		return unit_entries(a, u, depth, e, n);
	}
	struct doc d;
	uint8_t *raw;
	size_t raw_len;
	int rc = load_doc(t, a, doc, dl, &d, &raw, &raw_len);
	return rc != 0 ? rc : od_search_derive(a, &d, doc, dl, NULL, e, n);
}

int
od_search_check_key(
    od_txn *t, od_arena *a, const void *key, size_t klen, const uint8_t **doc, size_t *dl)
{
	const uint8_t *k = key;
	const uint8_t *pos;
	if (klen > NAME_KEY_LEN && k[0] == NAME_TAG) {
		pos = k + NAME_KEY_LEN;
	} else if (klen > 1 && k[0] == WORDS_TAG) {
		pos = k + 1;
	} else {
		const uint8_t *nul = memchr(k, 0, klen);
		if (nul == NULL || nul == k || (size_t) (nul - k) >= BUCKET_MAX) {
			return EINVAL;
		}
		pos = nul + 1;
	}
	size_t plen = (size_t) (k + klen - pos);
	if (plen < 3 || plen >= POS_MAX) {
		return EINVAL;
	}
	*doc = pos + 1;
	*dl = plen - 1;
	struct entry *e;
	size_t n;
	int rc = doc_entries(t, a, (const char *) pos + 1, plen - 1, &e, &n);
	if (rc != 0) {
		return rc == MDB_NOTFOUND ? ENOENT : rc;
	}
	struct entry probe = {(uint8_t *) k, klen, NULL, 0};
	return bsearch(&probe, e, n, sizeof(*e), od_search_entry_cmp) != NULL ? 0 : ENOENT;
}
