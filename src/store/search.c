/*
 * search.c - the search index, kept in the same write transactions as the
 * records it indexes.
 *
 *   search       word \0 doc          -> the fields (and languages) the word
 *                                        came from: [field u8][len u8][lang]...
 *   search_docs  doc                  -> what a query needs of the record:
 *                                        depth, kind, its words, whole names,
 *                                        exact keys (layout below)
 *
 * A doc is 'u' + unit id or 'c' + country code. A query's words must each
 * prefix some word of the doc: the rarest query word drives a range scan of
 * `search`; every candidate is then checked against its own word list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "textkey.h"

#define DOC_MAX (1 + OD_ID_MAX)
#define KEY_MAX (OD_TEXTKEY_WORD_MAX + 1 + DOC_MAX)
#define POSTING_MAX 240
#define QUERY_MAX 512
#define QUERY_WORDS_MAX 8
#define DRIVER_SAMPLE 512
#define META_SEARCH_COUNTRIES "search_countries"

enum {
	F_ID = 1,
	F_ACRONYM,
	F_NAME,
	F_DESCRIPTION,
	F_HEAD_TITLE,
	F_HEAD_NAME,
	F_COUNTRY_NAME,
	F_COUNTRY_CODE
};

/* --- building a doc --------------------------------------------------------------- */

struct occ {
	const char *word; /* arena */
	uint8_t len;
	uint8_t field;
	const char *lang;
};

struct whole {
	const char *text; /* normalised, arena */
	uint16_t len;
	uint8_t field;
	const char *lang;
};

struct builder {
	od_arena *a;
	struct occ *occ;
	size_t n_occ, cap_occ;
	struct whole *whole;
	size_t n_whole, cap_whole;
	uint8_t field;
	const char *lang;
	bool oom;
};

static bool
grow(od_arena *a, void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap) {
		return true;
	}
	size_t nc = *cap ? *cap * 2 : 64;
	void *na = od_arena_alloc(a, nc * elem);
	if (na == NULL) {
		return false;
	}
	if (n > 0) {
		memcpy(na, *arr, n * elem);
	}
	*arr = na;
	*cap = nc;
	return true;
}

static void
emit_word(void *arg, const char *word, size_t len, unsigned flags)
{
	struct builder *b = arg;
	(void) flags;
	if (b->oom || !grow(b->a, (void **) &b->occ, &b->cap_occ, b->n_occ, sizeof(*b->occ))) {
		b->oom = true;
		return;
	}
	char *w = od_arena_strndup(b->a, word, len);
	if (w == NULL) {
		b->oom = true;
		return;
	}
	b->occ[b->n_occ++] = (struct occ){w, (uint8_t) len, b->field, b->lang};
}

static void
add_text(struct builder *b, const char *text, uint8_t field, const char *lang, bool whole)
{
	size_t n = strlen(text);
	if (n == 0 || b->oom) {
		return;
	}
	b->field = field;
	b->lang = lang;
	if (od_textkey_words(text, n, emit_word, b, NULL) != ORGDIR_OK || !whole) {
		return;
	}
	size_t cap = OD_TEXTKEY_NORMALIZE_SIZE(n);
	char *norm = od_arena_alloc(b->a, cap);
	size_t len = 0;
	if (norm == NULL ||
	    !grow(b->a, (void **) &b->whole, &b->cap_whole, b->n_whole, sizeof(*b->whole))) {
		b->oom = true;
		return;
	}
	if (od_textkey_normalize(text, n, norm, cap, &len, NULL) == ORGDIR_OK && len > 0 &&
	    len < 0xFFFF) {
		b->whole[b->n_whole++] = (struct whole){norm, (uint16_t) len, field, lang};
	}
}

static int
occ_cmp(const void *pa, const void *pb)
{
	const struct occ *x = pa, *y = pb;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->word, y->word, n);
	return c != 0 ? c : (int) x->len - (int) y->len;
}

static size_t
doc_key(char type, const char *id, char *out)
{
	size_t n = strlen(id);
	out[0] = type;
	memcpy(out + 1, id, n);
	return n + 1;
}

/* Deletes a doc and its postings. */
static int
unindex(od_txn *t, const char *doc, size_t doclen)
{
	MDB_val k = {doclen, (void *) doc};
	MDB_val v;
	int rc = mdb_get(t->txn, t->s->search_docs, &k, &v);
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc != 0 || v.mv_size < 6) {
		return rc;
	}
	/* Copy the word list: deleting postings may move this page. */
	uint8_t buf[8192];
	uint8_t *val = v.mv_size <= sizeof(buf) ? buf : malloc(v.mv_size);
	if (val == NULL) {
		return ENOMEM;
	}
	memcpy(val, v.mv_data, v.mv_size);
	size_t n = v.mv_size;
	size_t nw = (size_t) val[4] << 8 | val[5];
	size_t off = 6;
	uint8_t key[KEY_MAX];
	for (size_t i = 0; i < nw && rc == 0 && off < n; i++) {
		size_t wl = val[off++];
		if (off + wl > n) {
			break;
		}
		memcpy(key, val + off, wl);
		key[wl] = 0;
		memcpy(key + wl + 1, doc, doclen);
		MDB_val pk = {wl + 1 + doclen, key};
		rc = mdb_del(t->txn, t->s->search, &pk, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
		off += wl;
	}
	if (val != buf) {
		free(val);
	}
	return rc == 0 ? mdb_del(t->txn, t->s->search_docs, &k, NULL) : rc;
}

/*
 * Doc value: [ver=1][depth][kind][0][n_words u16] (len u8, word)...
 *            [n_whole u16] (field u8, langlen u8, lang, len u16, text)...
 *            [n_exact u8] (len u8, key)...
 *
 * Written as a difference against what is stored: postings of words the
 * record lost are deleted, postings that did not change are not written
 * again, so renaming one field rewrites a few entries, not all of them.
 */
static int
word_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	return c != 0 ? c : (int) al - (int) bl;
}

static int
write_doc(od_txn *t, od_arena *a, const char *doc, size_t doclen, struct builder *b, uint8_t depth,
    uint8_t kind, const char *const *exact, size_t n_exact)
{
	if (b->n_occ > 1) {
		qsort(b->occ, b->n_occ, sizeof(*b->occ), occ_cmp);
	}
	size_t cap = 16;
	for (size_t i = 0; i < b->n_occ; i++) {
		cap += 1 + b->occ[i].len;
	}
	for (size_t i = 0; i < b->n_whole; i++) {
		cap += 4 + OD_LANG_MAX + b->whole[i].len;
	}
	for (size_t i = 0; i < n_exact; i++) {
		cap += 1 + strlen(exact[i]);
	}
	uint8_t *val = od_arena_alloc(a, cap);
	if (val == NULL) {
		return ENOMEM;
	}
	/* The stored doc, copied: its words are what may have to go. */
	const uint8_t *old = NULL;
	size_t old_len = 0, old_off = 6, old_nw = 0, old_i = 0;
	MDB_val dk = {doclen, (void *) doc};
	MDB_val dv;
	if (mdb_get(t->txn, t->s->search_docs, &dk, &dv) == 0 && dv.mv_size >= 6) {
		uint8_t *copy = od_arena_alloc(a, dv.mv_size);
		if (copy == NULL) {
			return ENOMEM;
		}
		memcpy(copy, dv.mv_data, dv.mv_size);
		old = copy;
		old_len = dv.mv_size;
		old_nw = (size_t) old[4] << 8 | old[5];
	}
	size_t off = 6, nw = 0;
	val[0] = 1;
	val[1] = depth;
	val[2] = kind;
	val[3] = 0;
	uint8_t key[KEY_MAX];
	uint8_t post[POSTING_MAX];
	int rc = 0;
	for (size_t i = 0; i <= b->n_occ && rc == 0;) {
		const struct occ *o = i < b->n_occ ? &b->occ[i] : NULL;
		/* Old words sorted before this one are gone from the record. */
		while (old != NULL && old_i < old_nw && old_off < old_len && rc == 0) {
			size_t wl = old[old_off];
			const uint8_t *w = old + old_off + 1;
			if (old_off + 1 + wl > old_len ||
			    (o != NULL &&
			        word_cmp(w, wl, (const uint8_t *) o->word, o->len) >= 0)) {
				break;
			}
			memcpy(key, w, wl);
			key[wl] = 0;
			memcpy(key + wl + 1, doc, doclen);
			MDB_val pk = {wl + 1 + doclen, key};
			rc = mdb_del(t->txn, t->s->search, &pk, NULL);
			rc = rc == MDB_NOTFOUND ? 0 : rc;
			old_off += 1 + wl;
			old_i++;
		}
		if (o == NULL) {
			break;
		}
		/* One posting per distinct word: every field/language it is in. */
		size_t j = i, plen = 0;
		for (; j < b->n_occ && occ_cmp(&b->occ[i], &b->occ[j]) == 0; j++) {
			size_t ll = b->occ[j].lang ? strlen(b->occ[j].lang) : 0;
			bool dup = false;
			for (size_t q = 0; q < plen && !dup;) {
				dup = post[q] == b->occ[j].field && post[q + 1] == ll &&
				    (ll == 0 || memcmp(post + q + 2, b->occ[j].lang, ll) == 0);
				q += 2 + post[q + 1];
			}
			if (!dup && plen + 2 + ll <= sizeof(post)) {
				post[plen] = b->occ[j].field;
				post[plen + 1] = (uint8_t) ll;
				if (ll > 0) { /* lang is NULL for ids and codes */
					memcpy(post + plen + 2, b->occ[j].lang, ll);
				}
				plen += 2 + ll;
			}
		}
		/* The same word in the old doc: skip it there. */
		if (old != NULL && old_i < old_nw && old_off < old_len &&
		    word_cmp(old + old_off + 1, old[old_off], (const uint8_t *) o->word, o->len) ==
		        0) {
			old_off += 1 + old[old_off];
			old_i++;
		}
		memcpy(key, o->word, o->len);
		key[o->len] = 0;
		memcpy(key + o->len + 1, doc, doclen);
		MDB_val pk = {o->len + 1 + doclen, key};
		MDB_val pv;
		bool same = mdb_get(t->txn, t->s->search, &pk, &pv) == 0 && pv.mv_size == plen &&
		    memcmp(pv.mv_data, post, plen) == 0;
		if (!same) {
			rc = od_mdb_put(t, t->s->search, key, o->len + 1 + doclen, post, plen, 0);
		}
		val[off++] = o->len;
		memcpy(val + off, o->word, o->len);
		off += o->len;
		nw++;
		i = j;
	}
	if (rc != 0) {
		return rc;
	}
	val[4] = (uint8_t) (nw >> 8);
	val[5] = (uint8_t) nw;
	size_t nwh = b->n_whole < 0xFFFF ? b->n_whole : 0xFFFF;
	val[off++] = (uint8_t) (nwh >> 8);
	val[off++] = (uint8_t) nwh;
	for (size_t i = 0; i < nwh; i++) {
		const struct whole *w = &b->whole[i];
		size_t ll = w->lang ? strlen(w->lang) : 0;
		val[off++] = w->field;
		val[off++] = (uint8_t) ll;
		if (ll > 0) {
			memcpy(val + off, w->lang, ll);
		}
		off += ll;
		val[off++] = (uint8_t) (w->len >> 8);
		val[off++] = (uint8_t) w->len;
		memcpy(val + off, w->text, w->len);
		off += w->len;
	}
	val[off++] = (uint8_t) n_exact;
	for (size_t i = 0; i < n_exact; i++) {
		size_t el = strlen(exact[i]);
		el = el > 255 ? 255 : el;
		val[off++] = (uint8_t) el;
		memcpy(val + off, exact[i], el);
		off += el;
	}
	if (old != NULL && old_len == off && memcmp(old, val, off) == 0) {
		return 0; /* nothing searchable changed */
	}
	return od_mdb_put(t, t->s->search_docs, doc, doclen, val, off, 0);
}

static const char *
normalized(od_arena *a, const char *s)
{
	size_t n = strlen(s);
	size_t cap = OD_TEXTKEY_NORMALIZE_SIZE(n);
	char *out = od_arena_alloc(a, cap);
	if (out == NULL || od_textkey_normalize(s, n, out, cap, NULL, NULL) != ORGDIR_OK) {
		return "";
	}
	return out;
}

int
od_search_index_unit(od_txn *t, od_arena *caller, const Orgdir__V1__Unit *u, uint32_t depth)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('u', u->id, doc);
	/* A scratch arena per call: imports index many units in one request. */
	od_arena a;
	(void) caller;
	od_arena_init(&a, (size_t) 64 << 20);
	struct builder b = {.a = &a};
	add_text(&b, u->id, F_ID, NULL, false);
	add_text(&b, u->acronym, F_ACRONYM, NULL, false);
	for (size_t i = 0; i < u->n_name; i++) {
		add_text(&b, u->name[i]->text, F_NAME, u->name[i]->lang, true);
	}
	for (size_t i = 0; i < u->n_description; i++) {
		add_text(
		    &b, u->description[i]->text, F_DESCRIPTION, u->description[i]->lang, false);
	}
	if (u->head != NULL) {
		for (size_t i = 0; i < u->head->n_title; i++) {
			add_text(&b, u->head->title[i]->text, F_HEAD_TITLE, u->head->title[i]->lang,
			    true);
		}
		add_text(&b, u->head->name, F_HEAD_NAME, NULL, true);
	}
	int rc = ENOMEM;
	if (!b.oom) {
		const char *exact[2] = {normalized(&a, u->id), normalized(&a, u->acronym)};
		rc = write_doc(t, &a, doc, dl, &b, depth > 255 ? 255 : (uint8_t) depth,
		    (uint8_t) u->kind, exact, u->acronym[0] ? 2 : 1);
	}
	od_arena_destroy(&a);
	return rc;
}

int
od_search_unindex_unit(od_txn *t, const char *id)
{
	char doc[DOC_MAX];
	return unindex(t, doc, doc_key('u', id, doc));
}

int
od_search_set_depth(od_txn *t, const char *id, uint32_t depth)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('u', id, doc);
	MDB_val k = {dl, doc};
	MDB_val v;
	int rc = mdb_get(t->txn, t->s->search_docs, &k, &v);
	if (rc != 0 || v.mv_size < 2) {
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	uint8_t d = depth > 255 ? 255 : (uint8_t) depth;
	if (((const uint8_t *) v.mv_data)[1] == d) {
		return 0;
	}
	/* Rewrite in place through MDB_RESERVE of the same size. */
	uint8_t stackbuf[4096];
	uint8_t *copy = v.mv_size <= sizeof(stackbuf) ? stackbuf : malloc(v.mv_size);
	if (copy == NULL) {
		return ENOMEM;
	}
	memcpy(copy, v.mv_data, v.mv_size);
	copy[1] = d;
	rc = od_mdb_put(t, t->s->search_docs, doc, dl, copy, v.mv_size, 0);
	if (copy != stackbuf) {
		free(copy);
	}
	return rc;
}

int
od_search_index_country(od_txn *t, od_arena *caller, const Orgdir__V1__Country *c)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('c', c->code, doc);
	od_arena a;
	(void) caller;
	od_arena_init(&a, (size_t) 16 << 20);
	struct builder b = {.a = &a};
	add_text(&b, c->code, F_COUNTRY_CODE, NULL, false);
	add_text(&b, c->alpha3, F_COUNTRY_CODE, NULL, false);
	for (size_t i = 0; i < c->n_name; i++) {
		add_text(&b, c->name[i]->text, F_COUNTRY_NAME, c->name[i]->lang, true);
	}
	int rc = ENOMEM;
	if (!b.oom) {
		const char *exact[2] = {normalized(&a, c->code), normalized(&a, c->alpha3)};
		rc = write_doc(t, &a, doc, dl, &b, 0, 0, exact, 2);
	}
	od_arena_destroy(&a);
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
		int rc = od_search_index_country(t, a, c);
		od_arena_reset(a);
		if (rc != 0) {
			return rc;
		}
	}
	return od_mdb_put(t, t->s->meta, k.mv_data, k.mv_size, &stamp, sizeof(stamp), 0);
}

/* --- querying ------------------------------------------------------------------------- */

struct qword {
	char w[OD_TEXTKEY_WORD_MAX + 1];
	size_t len;
};

struct query {
	struct qword words[QUERY_WORDS_MAX];
	size_t n;
	bool too_many;
};

static void
query_word(void *arg, const char *word, size_t len, unsigned flags)
{
	struct query *q = arg;
	if (flags & OD_TEXTKEY_JOINED) {
		return; /* the plain parts are required; the joined form adds nothing */
	}
	for (size_t i = 0; i < q->n; i++) {
		if (q->words[i].len == len && memcmp(q->words[i].w, word, len) == 0) {
			return;
		}
	}
	if (q->n == QUERY_WORDS_MAX) {
		q->too_many = true;
		return;
	}
	memcpy(q->words[q->n].w, word, len);
	q->words[q->n].w[len] = 0;
	q->words[q->n].len = len;
	q->n++;
}

struct hit {
	const char *doc; /* arena copy */
	uint8_t doclen;
	uint8_t tier; /* 0 exact, 1 whole name, 2 word prefix */
	uint8_t pref; /* 0 = in the preferred language */
	uint8_t depth;
	uint8_t field;
	const char *lang;
};

static int
hit_cmp(const void *pa, const void *pb)
{
	const struct hit *x = pa, *y = pb;
	if (x->tier != y->tier) {
		return (int) x->tier - (int) y->tier;
	}
	if (x->pref != y->pref) {
		return (int) x->pref - (int) y->pref;
	}
	if (x->depth != y->depth) {
		return (int) x->depth - (int) y->depth;
	}
	size_t n = x->doclen < y->doclen ? x->doclen : y->doclen;
	int c = memcmp(x->doc, y->doc, n);
	return c != 0 ? c : (int) x->doclen - (int) y->doclen;
}

/* Counts postings starting with w, up to limit. */
static size_t
count_prefix(MDB_cursor *c, const struct qword *w, size_t limit)
{
	MDB_val k = {w->len, (void *) w->w};
	MDB_val v;
	size_t n = 0;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (
	    rc == 0 && n < limit && k.mv_size >= w->len && memcmp(k.mv_data, w->w, w->len) == 0) {
		n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	return n;
}

/* Does some word of the doc start with w? Words are sorted. */
static bool
doc_has_prefix(const uint8_t *val, size_t n, const struct qword *w)
{
	size_t nw = (size_t) val[4] << 8 | val[5];
	size_t off = 6;
	for (size_t i = 0; i < nw && off < n; i++) {
		size_t wl = val[off++];
		if (off + wl > n) {
			return false;
		}
		if (wl >= w->len && memcmp(val + off, w->w, w->len) == 0) {
			return true;
		}
		off += wl;
	}
	return false;
}

/* Tier of a doc for the whole query key; field/lang of that match. */
static uint8_t
doc_tier(const uint8_t *val, size_t n, const char *qkey, size_t qlen, const char *pref,
    uint8_t *field, const char **lang, od_arena *a)
{
	size_t nw = (size_t) val[4] << 8 | val[5];
	size_t off = 6;
	for (size_t i = 0; i < nw && off < n; i++) {
		off += 1 + val[off];
	}
	if (off + 2 > n) {
		return 2;
	}
	size_t nwh = (size_t) val[off] << 8 | val[off + 1];
	off += 2;
	uint8_t tier = 2;
	for (size_t i = 0; i < nwh && off + 2 <= n; i++) {
		uint8_t f = val[off];
		size_t ll = val[off + 1];
		const uint8_t *lp = val + off + 2;
		off += 2 + ll;
		if (off + 2 > n) {
			return tier;
		}
		size_t tl = (size_t) val[off] << 8 | val[off + 1];
		off += 2;
		if (off + tl > n) {
			return tier;
		}
		if (tl == qlen && memcmp(val + off, qkey, qlen) == 0) {
			bool better = tier == 2 ||
			    (pref != NULL && ll == strlen(pref) &&
			        strncasecmp((const char *) lp, pref, ll) == 0);
			if (better) {
				tier = 1;
				*field = f;
				*lang = od_arena_strndup(a, (const char *) lp, ll);
			}
		}
		off += tl;
	}
	if (off < n) {
		size_t ne = val[off++];
		for (size_t i = 0; i < ne && off < n; i++) {
			size_t el = val[off++];
			if (off + el <= n && el == qlen && memcmp(val + off, qkey, qlen) == 0) {
				*field = i == 0 ? (val[2] ? F_ID : F_COUNTRY_CODE)
				                : (val[2] ? F_ACRONYM : F_COUNTRY_CODE);
				*lang = "";
				return 0;
			}
			off += el;
		}
	}
	return tier;
}

/* The field/language to report from a posting, preferring `pref`. */
static void
posting_pick(
    const uint8_t *p, size_t n, const char *pref, uint8_t *field, const char **lang, od_arena *a)
{
	size_t best = SIZE_MAX;
	for (size_t off = 0; off + 2 <= n;) {
		size_t ll = p[off + 1];
		if (off + 2 + ll > n) {
			break;
		}
		bool is_pref = pref != NULL && ll > 0 && ll == strlen(pref) &&
		    strncasecmp((const char *) p + off + 2, pref, ll) == 0;
		if (best == SIZE_MAX || is_pref) {
			best = off;
			if (is_pref) {
				break;
			}
		}
		off += 2 + ll;
	}
	if (best == SIZE_MAX) {
		return;
	}
	*field = p[best];
	*lang = od_arena_strndup(a, (const char *) p + best + 2, p[best + 1]);
}

static bool
under(od_txn *t, const char *unit_id, size_t idlen, const char *ancestor, uint8_t depth)
{
	char cur[OD_ID_MAX + 1];
	memcpy(cur, unit_id, idlen);
	cur[idlen] = 0;
	for (int i = 0; i <= depth && i <= OD_TREE_DEPTH_MAX; i++) {
		if (strcmp(cur, ancestor) == 0) {
			return true;
		}
		od_val v;
		const uint8_t *p;
		size_t n;
		if (od_unit_get(t, cur, &v, NULL) != ORGDIR_OK ||
		    !od_pb_scan_field(v.data, v.len, 2, &p, &n) || n == 0 || n > OD_ID_MAX) {
			return false;
		}
		memcpy(cur, p, n);
		cur[n] = 0;
	}
	return false;
}

/* A small open-addressing map: doc hash -> index of its hit (or NONE). */
#define NONE SIZE_MAX

struct seen {
	uint64_t *keys;
	size_t *vals;
	size_t cap, n;
};

static uint64_t
hash_doc(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ p[i]) * 1099511628211ull;
	}
	return h | 1; /* 0 marks an empty slot */
}

/* The slot of h, added with value NONE when new (*added). NULL on OOM. */
static size_t *
seen_slot(struct seen *s, od_arena *a, uint64_t h, bool *added)
{
	if (s->n * 2 >= s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 1024;
		uint64_t *nk = od_arena_alloc(a, nc * sizeof(*nk));
		size_t *nv = od_arena_alloc(a, nc * sizeof(*nv));
		if (nk == NULL || nv == NULL) {
			return NULL;
		}
		memset(nk, 0, nc * sizeof(*nk));
		for (size_t i = 0; i < s->cap; i++) {
			if (s->keys[i] != 0) {
				size_t j = s->keys[i] & (nc - 1);
				while (nk[j] != 0) {
					j = (j + 1) & (nc - 1);
				}
				nk[j] = s->keys[i];
				nv[j] = s->vals[i];
			}
		}
		s->keys = nk;
		s->vals = nv;
		s->cap = nc;
	}
	size_t j = h & (s->cap - 1);
	while (s->keys[j] != 0) {
		if (s->keys[j] == h) {
			*added = false;
			return &s->vals[j];
		}
		j = (j + 1) & (s->cap - 1);
	}
	s->keys[j] = h;
	s->vals[j] = NONE;
	s->n++;
	*added = true;
	return &s->vals[j];
}

static uint32_t
query_fingerprint(const Orgdir__V1__SearchRequest *r)
{
	uint32_t h = 2166136261u;
	for (const char *p = r->query; *p; p++) {
		h = (h ^ (uint8_t) *p) * 16777619u;
	}
	for (size_t i = 0; i < r->n_kinds; i++) {
		h = (h ^ (uint32_t) (r->kinds[i] + 31)) * 16777619u;
	}
	for (const char *p = r->under_unit_id; *p; p++) {
		h = (h ^ (uint8_t) *p) * 16777619u;
	}
	for (const char *p = r->lang; *p; p++) {
		h = (h ^ (uint8_t) *p) * 16777619u;
	}
	return h;
}

orgdir_code
od_search(od_txn *t, od_arena *a, const Orgdir__V1__SearchRequest *r,
    Orgdir__V1__SearchResponse **out, orgdir_status *st)
{
	struct query q = {.n = 0};
	size_t ql = strlen(r->query);
	bool want_units = r->n_kinds == 0, want_countries = r->n_kinds == 0;
	orgdir_code code;

	if (ql > QUERY_MAX) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "the query is %zu bytes long; the limit is %d", ql, QUERY_MAX);
	}
	if ((code = od_textkey_words(r->query, ql, query_word, &q, st)) != ORGDIR_OK) {
		return code;
	}
	if (q.n == 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "the query has no letters or digits to search for");
	}
	if (q.too_many) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "the query has more than %d words", QUERY_WORDS_MAX);
	}
	for (size_t i = 0; i < r->n_kinds; i++) {
		if (r->kinds[i] == ORGDIR__V1__SEARCH_REQUEST__KIND__UNITS) {
			want_units = true;
		} else if (r->kinds[i] == ORGDIR__V1__SEARCH_REQUEST__KIND__COUNTRIES) {
			want_countries = true;
		} else {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "unknown kind %d", r->kinds[i]);
		}
	}
	const char *pref = r->lang[0] != '\0' ? r->lang : NULL;
	if (pref != NULL && !od_lang_valid(pref)) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "lang '%.40s' is not a BCP 47 tag", pref);
	}
	if (r->under_unit_id[0] != '\0') {
		if ((code = od_check_id("under_unit_id", r->under_unit_id, st)) != ORGDIR_OK) {
			return code;
		}
		if (!od_unit_exists(t, r->under_unit_id)) {
			return od_status_set(
			    st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", r->under_unit_id);
		}
		want_countries = false;
	}
	if (r->page_size < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "page_size must not be negative");
	}
	size_t want = r->page_size == 0 ? 20 : (r->page_size > 100 ? 100 : (size_t) r->page_size);
	char qkey[OD_TEXTKEY_NORMALIZE_SIZE(QUERY_MAX)];
	size_t qkl = 0;
	od_textkey_normalize(r->query, ql, qkey, sizeof(qkey), &qkl, NULL);

	MDB_cursor *c;
	if (mdb_cursor_open(t->txn, t->s->search, &c) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the search index");
	}
	/* The driver: the query word with the fewest postings (sampled). */
	size_t driver = 0, best = SIZE_MAX;
	for (size_t i = 0; i < q.n; i++) {
		size_t n = count_prefix(c, &q.words[i], DRIVER_SAMPLE);
		if (n < best || (n == best && q.words[i].len > q.words[driver].len)) {
			best = n;
			driver = i;
		}
	}
	struct hit *hits = NULL;
	size_t n_hits = 0, cap_hits = 0;
	struct seen seen = {0};
	const struct qword *dw = &q.words[driver];
	MDB_val k = {dw->len, (void *) dw->w};
	MDB_val v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < dw->len || memcmp(k.mv_data, dw->w, dw->len) != 0) {
			break;
		}
		const uint8_t *kp = k.mv_data;
		const uint8_t *nul = memchr(kp, 0, k.mv_size);
		if (nul == NULL || (size_t) (kp + k.mv_size - nul - 1) > DOC_MAX) {
			continue;
		}
		const uint8_t *doc = nul + 1;
		size_t dl = (size_t) (kp + k.mv_size - doc);
		if (dl < 2 || (doc[0] == 'u' && !want_units) ||
		    (doc[0] == 'c' && !want_countries)) {
			continue;
		}
		bool added;
		size_t *slot = seen_slot(&seen, a, hash_doc(doc, dl), &added);
		if (slot == NULL) {
			mdb_cursor_close(c);
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "too many hits to rank");
		}
		if (!added) {
			/* Seen under another word: it may match in the preferred
			 * language here. */
			struct hit *h = *slot != NONE ? &hits[*slot] : NULL;
			if (h != NULL && h->pref == 1 && h->tier == 2) {
				uint8_t f = h->field;
				const char *l = h->lang;
				posting_pick(v.mv_data, v.mv_size, pref, &f, &l, a);
				if (l != NULL && od_lang_same_primary(l, pref)) {
					h->field = f;
					h->lang = l;
					h->pref = 0;
				}
			}
			continue;
		}
		MDB_val dk = {dl, (void *) doc};
		MDB_val dv;
		if (mdb_get(t->txn, t->s->search_docs, &dk, &dv) != 0 || dv.mv_size < 6) {
			continue;
		}
		const uint8_t *val = dv.mv_data;
		bool all = true;
		for (size_t i = 0; i < q.n && all; i++) {
			all = i == driver || doc_has_prefix(val, dv.mv_size, &q.words[i]);
		}
		if (!all) {
			continue;
		}
		if (doc[0] == 'u' && r->under_unit_id[0] != '\0' &&
		    !under(t, (const char *) doc + 1, dl - 1, r->under_unit_id, val[1])) {
			continue;
		}
		if (!grow(a, (void **) &hits, &cap_hits, n_hits, sizeof(*hits))) {
			mdb_cursor_close(c);
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "too many hits to rank");
		}
		struct hit *h = &hits[n_hits];
		h->doc = od_arena_strndup(a, (const char *) doc, dl);
		h->doclen = (uint8_t) dl;
		h->depth = val[1];
		h->field = 0;
		h->lang = "";
		posting_pick(v.mv_data, v.mv_size, pref, &h->field, &h->lang, a);
		h->tier = doc_tier(val, dv.mv_size, qkey, qkl, pref, &h->field, &h->lang, a);
		h->pref = pref == NULL || (h->lang != NULL && od_lang_same_primary(h->lang, pref))
		    ? 0
		    : 1;
		if (h->doc == NULL || h->lang == NULL) {
			mdb_cursor_close(c);
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "too many hits to rank");
		}
		*slot = n_hits;
		n_hits++;
	}
	mdb_cursor_close(c);
	if (n_hits > 1) {
		qsort(hits, n_hits, sizeof(*hits), hit_cmp);
	}

	/* Pages resume after the last hit returned: [fingerprint u32][hit key]. */
	uint32_t fp = query_fingerprint(r);
	size_t start = 0;
	if (r->page_token[0] != '\0') {
		uint8_t raw[8 + DOC_MAX + 8];
		long n = od_hex_decode(r->page_token, raw, sizeof(raw));
		uint32_t tfp = n >= 8 ? (uint32_t) raw[0] << 24 | (uint32_t) raw[1] << 16 |
		        (uint32_t) raw[2] << 8 | raw[3]
		                      : 0;
		if (n < 9 || tfp != fp) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "page_token is not a token from a previous page of this search");
		}
		struct hit probe = {.doc = (const char *) raw + 7,
		    .doclen = (uint8_t) (n - 7),
		    .tier = raw[4],
		    .pref = raw[5],
		    .depth = raw[6]};
		while (start < n_hits && hit_cmp(&hits[start], &probe) <= 0) {
			start++;
		}
	}
	size_t take = n_hits - start < want ? n_hits - start : want;
	Orgdir__V1__SearchResponse *resp = od_arena_alloc(a, sizeof(*resp));
	Orgdir__V1__SearchHit **items = od_arena_alloc(a, (take + 1) * sizeof(*items));
	if (resp == NULL || items == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	orgdir__v1__search_response__init(resp);
	for (size_t i = 0; i < take; i++) {
		const struct hit *h = &hits[start + i];
		Orgdir__V1__SearchHit *sh = od_arena_alloc(a, sizeof(*sh));
		if (sh == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
		orgdir__v1__search_hit__init(sh);
		char id[DOC_MAX];
		memcpy(id, h->doc + 1, h->doclen - 1u);
		id[h->doclen - 1] = 0;
		if (h->doc[0] == 'u') {
			od_val uv;
			if ((code = od_unit_get(t, id, &uv, st)) != ORGDIR_OK) {
				return code;
			}
			sh->unit = orgdir__v1__unit__unpack(&a->pb, uv.len, uv.data);
			if (sh->unit == NULL) {
				return od_status_set(
				    st, ORGDIR_DATA_LOSS, "unit '%s' is corrupt", id);
			}
		} else if ((code = od_country_get(t, a, id, &sh->country, st)) != ORGDIR_OK) {
			return code;
		}
		sh->field = (Orgdir__V1__SearchHit__Field) h->field;
		sh->lang = (char *) h->lang;
		sh->match = (Orgdir__V1__SearchHit__Match) (h->tier + 1);
		sh->depth = h->depth;
		items[i] = sh;
	}
	resp->hits = items;
	resp->n_hits = take;
	resp->total_size = (int32_t) n_hits;
	if (start + take < n_hits) {
		const struct hit *h = &hits[start + take - 1];
		uint8_t raw[8 + DOC_MAX];
		char *tok = od_arena_alloc(a, 2 * sizeof(raw) + 1);
		if (tok == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
		raw[0] = (uint8_t) (fp >> 24);
		raw[1] = (uint8_t) (fp >> 16);
		raw[2] = (uint8_t) (fp >> 8);
		raw[3] = (uint8_t) fp;
		raw[4] = h->tier;
		raw[5] = h->pref;
		raw[6] = h->depth;
		memcpy(raw + 7, h->doc, h->doclen);
		od_hex_encode(raw, 7u + h->doclen, tok);
		resp->next_page_token = tok;
	}
	*out = resp;
	return ORGDIR_OK;
}

/* Rebuilds the whole index (migration to schema 4). */
int
od_search_reindex_all(od_txn *t, od_arena *a)
{
	MDB_cursor *c;
	MDB_val k, v;
	MDB_val mk = {strlen(META_SEARCH_COUNTRIES), META_SEARCH_COUNTRIES};
	int rc = mdb_drop(t->txn, t->s->search, 0);
	if (rc == 0) {
		rc = mdb_drop(t->txn, t->s->search_docs, 0);
	}
	if (rc == 0) {
		rc = mdb_del(t->txn, t->s->meta, &mk, NULL);
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
		if (!grow(a, (void **) &ids, &cap, n, sizeof(*ids)) ||
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
		rc = od_search_index_unit(t, a, u, od_unit_depth(t, u));
	}
	return rc == 0 ? od_search_index_countries(t, a) : rc;
}
