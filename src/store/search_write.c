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

/*
 * Writes doc d (canonical) over old (NULL: none), decoded from old_raw:
 * the keys that differ and the record. With `only`, the keys outside it
 * are known to be equal and are not compared.
 */
static int
write_over(od_txn *t, od_arena *a, const char *doc, size_t dl, const struct doc *old,
    const uint8_t *old_raw, size_t old_len, const struct doc *d, const struct only *only)
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
	if (old != NULL && (rc = od_search_derive(a, old, doc, dl, only, &oe, &no)) != 0) {
		return rc;
	}
	if ((rc = od_search_derive(a, d, doc, dl, only, &ne, &nn)) != 0) {
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
	return write_over(t, a, doc, dl, rc == 0 ? &old : NULL, old_raw, old_len, d, NULL);
}

/*
 * One record's upkeep works in the transaction's scratch arena, emptied
 * after each record but keeping its largest chunk: an import indexes
 * 100,000 units in one transaction without allocating for each.
 */
#define SCRATCH_CAP ((size_t) 64 << 20)
#define SCRATCH_KEEP ((size_t) 4 << 20)

static od_arena *
scratch_begin(od_txn *t)
{
	if (!t->has_scratch) {
		od_arena_init(&t->scratch, SCRATCH_CAP);
		t->has_scratch = true;
	}
	return &t->scratch;
}

static void
scratch_end(od_txn *t)
{
	od_arena_reset_keep(&t->scratch, SCRATCH_KEEP);
}

/* Indexes unit u at depth in a (emptied by the caller). */
static int
index_unit(od_txn *t, od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', u->id, doc);
	struct doc d = {.depth = depth > 255 ? 255 : (uint8_t) depth, .kind = (uint8_t) u->kind};
	struct builder b = {.a = a, .d = &d};
	od_search_add_unit_fields(&b, u, ~0u);
	return b.oom ? ENOMEM : write_doc(t, a, doc, dl, &d);
}

int
od_search_index_unit(od_txn *t, const Orgdir__V1__Unit *u, uint32_t depth)
{
	int rc = index_unit(t, scratch_begin(t), u, depth);
	scratch_end(t);
	return rc;
}

void
od_search_fields_of(const Orgdir__V1__Unit *u, struct od_search_fields *f)
{
	f->kind = u->kind;
	f->acronym = u->acronym;
	f->n_name = u->n_name;
	f->name = u->name;
	f->n_description = u->n_description;
	f->description = u->description;
	f->n_head_title = u->head != NULL ? u->head->n_title : 0;
	f->head_title = u->head != NULL ? u->head->title : NULL;
	f->head_name = u->head != NULL ? u->head->name : "";
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

/*
 * Whether a stored doc holds every pair its fields gave: od_search_canonicalize
 * drops the pairs of a word past OCC_BYTES_MAX bytes or 255 pairs, and
 * the words and names past COUNT16_MAX. A dropped pair could come back
 * when another field changes, so such a doc is rebuilt whole.
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
 * The doc of unit u from its stored record `old`: the words and names of
 * the fields not in `changed` are taken from the record (each with the
 * rank a full build gives it, so od_search_canonicalize orders them the same), the
 * others made afresh. Only the keys of the changed fields' words and names,
 * before and after, can differ.
 */
static int
reuse_doc(od_txn *t, od_arena *a, const char *doc, size_t dl, const struct doc *old,
    const uint8_t *raw, size_t raw_len, const Orgdir__V1__Unit *u, unsigned changed)
{
	struct doc d = {.depth = old->depth, .kind = (uint8_t) u->kind};
	d.cap_occ = old->n_occ + 16;
	d.cap_names = old->n_names + 4;
	d.occ = od_arena_alloc(a, d.cap_occ * sizeof(*d.occ));
	d.names = od_arena_alloc(a, d.cap_names * sizeof(*d.names));
	if (d.occ == NULL || d.names == NULL) {
		return ENOMEM;
	}
	for (size_t i = 0; i < old->n_occ; i++) {
		const struct occ *o = &old->occ[i];
		if (!(changed & 1u << o->field)) {
			d.occ[d.n_occ] = *o;
			d.occ[d.n_occ++].seq = od_search_seq_of(o->field, i);
		}
	}
	for (size_t i = 0; i < old->n_names; i++) {
		const struct name *m = &old->names[i];
		if (!(changed & 1u << m->field)) {
			d.names[d.n_names] = *m;
			d.names[d.n_names++].seq =
			    od_search_seq_of(od_search_name_rank(m->field, m->tier), i);
		}
	}
	struct builder b = {.a = a, .d = &d};
	od_search_add_unit_fields(&b, u, changed);
	if (b.oom) {
		return ENOMEM;
	}
	od_search_canonicalize(&d);
	struct only o = {.n_words = 0};
	o.words = od_arena_alloc(a, (old->n_occ + d.n_occ + 1) * sizeof(*o.words));
	o.hashes = od_arena_alloc(a, (old->n_names + d.n_names + 1) * sizeof(*o.hashes));
	if (o.words == NULL || o.hashes == NULL) {
		return ENOMEM;
	}
	for (size_t i = 0; i < old->n_occ; i++) {
		if (changed & 1u << old->occ[i].field) {
			o.words[o.n_words++] = &old->occ[i];
		}
	}
	for (size_t i = 0; i < d.n_occ; i++) {
		if (changed & 1u << d.occ[i].field) {
			o.words[o.n_words++] = &d.occ[i];
		}
	}
	for (size_t i = 0; i < old->n_names; i++) {
		if (changed & 1u << old->names[i].field) {
			o.hashes[o.n_hashes++] = old->names[i].hash;
		}
	}
	for (size_t i = 0; i < d.n_names; i++) {
		if (changed & 1u << d.names[i].field) {
			o.hashes[o.n_hashes++] = d.names[i].hash;
		}
	}
	return write_over(t, a, doc, dl, old, raw, raw_len, &d, &o);
}

int
od_search_update_unit(od_txn *t, const struct od_search_fields *before, const Orgdir__V1__Unit *u)
{
	struct od_search_fields now;
	od_search_fields_of(u, &now);
	unsigned changed = changed_fields(before, &now);
	if (changed == 0 && before->kind == u->kind) {
		return 0; /* the same doc: its keys and record stay as they are */
	}
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', u->id, doc);
	od_arena *a = scratch_begin(t);
	struct doc old;
	uint8_t *raw;
	size_t raw_len;
	int rc = load_doc(t, a, doc, dl, &old, &raw, &raw_len);
	if (rc == 0 && doc_complete(&old)) {
		rc = reuse_doc(t, a, doc, dl, &old, raw, raw_len, u, changed);
	} else if (rc == 0 || rc == MDB_NOTFOUND) {
		rc = index_unit(t, a, u, od_unit_depth(t, u));
	}
	scratch_end(t);
	return rc;
}

int
od_search_unindex_unit(od_txn *t, const char *id)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', id, doc);
	od_arena *a = scratch_begin(t);
	struct doc old;
	struct entry *oe;
	uint8_t *raw;
	size_t raw_len, no;
	int rc = load_doc(t, a, doc, dl, &old, &raw, &raw_len);
	if (rc == 0 && (rc = od_search_derive(a, &old, doc, dl, NULL, &oe, &no)) == 0) {
		rc = apply_diff(t, oe, no, NULL, 0);
	}
	if (rc == 0 || rc == MDB_NOTFOUND) {
		MDB_val k = {dl, doc};
		rc = od_mdb_del(t, t->s->search_docs, &k, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	scratch_end(t);
	return rc;
}

/* The depth is part of every key: a move rewrites the doc's keys. */
int
od_search_set_depth(od_txn *t, const char *id, uint32_t depth)
{
	char doc[DOC_MAX];
	size_t dl = od_search_doc_key('u', id, doc);
	uint8_t dd = depth > 255 ? 255 : (uint8_t) depth;
	od_arena *a = scratch_begin(t);
	struct doc d;
	uint8_t *raw;
	size_t raw_len;
	int rc = load_doc(t, a, doc, dl, &d, &raw, &raw_len);
	if (rc == 0 && d.depth != dd) {
		d.depth = dd;
		d.cap_occ = d.n_occ;
		d.cap_names = d.n_names;
		rc = write_doc(t, a, doc, dl, &d);
	}
	scratch_end(t);
	return rc == MDB_NOTFOUND ? 0 : rc;
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
		Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&a->pb, uv.len, uv.data);
		if (u == NULL) {
			rc = MDB_CORRUPTED;
			break;
		}
		rc = od_search_index_unit(t, u, od_unit_depth(t, u));
	}
	return rc == 0 ? od_search_index_countries(t, a) : rc;
}

/* --- consistency (check_search.c) ----------------------------------------------------- */

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
	for (size_t i = 0; i < n; i++) {
		MDB_val k = {e[i].klen, e[i].key};
		MDB_val v;
		rc = mdb_get(t->txn, t->s->search, &k, &v);
		if (rc != 0) {
			return rc == MDB_NOTFOUND ? ENOENT : rc;
		}
		if (v.mv_size != e[i].vlen || memcmp(v.mv_data, e[i].val, e[i].vlen) != 0) {
			return EACCES;
		}
	}
	return 0;
}

int
od_search_check_key(
    od_txn *t, od_arena *a, const void *key, size_t klen, const uint8_t **doc, size_t *dl)
{
	const uint8_t *k = key;
	const uint8_t *pos;
	if (klen > NAME_KEY_LEN && k[0] == NAME_TAG) {
		pos = k + NAME_KEY_LEN;
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
	struct doc d;
	struct entry *e;
	uint8_t *raw;
	size_t raw_len, n;
	int rc = load_doc(t, a, (const char *) pos + 1, plen - 1, &d, &raw, &raw_len);
	if (rc == 0) {
		rc = od_search_derive(a, &d, (const char *) pos + 1, plen - 1, NULL, &e, &n);
	}
	if (rc != 0) {
		return rc == MDB_NOTFOUND ? ENOENT : rc;
	}
	struct entry probe = {(uint8_t *) k, klen, NULL, 0};
	return bsearch(&probe, e, n, sizeof(*e), od_search_entry_cmp) != NULL ? 0 : ENOENT;
}
