/*
 * search_scan.c - the hits of a query in ranking order: the exact and
 * whole-name hits (tiers 0 and 1) by one range read of the hash of the
 * whole query, then the word-prefix hits (tier 2) by a leapfrog join of
 * the query words' buckets, resumable at any position, within a work cap.
 * The index layout (keys of `search` and `search_docs`) is described at
 * the top of search_doc.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

/* Exact and whole-name hits ranked per query; beyond, a doc sharing the
 * query as a name with so many others is found as a word-prefix hit. */
#define NAME_HITS_MAX 10000
#define PAIRS_MAX 64

int
od_search_hit_cmp(const void *pa, const void *pb)
{
	const struct hit *x = pa, *y = pb;
	if (x->tier != y->tier) {
		return (int) x->tier - (int) y->tier;
	}
	if (x->pref != y->pref) {
		return (int) x->pref - (int) y->pref;
	}
	return od_search_bytes_cmp(x->pos, x->plen, y->pos, y->plen);
}

static bool
lang_is(const char *lang, size_t ll, const char *pref)
{
	char l[OD_LANG_MAX + 1];
	if (pref == NULL || ll == 0 || ll > OD_LANG_MAX) {
		return false;
	}
	memcpy(l, lang, ll);
	l[ll] = 0;
	return od_lang_same_primary(l, pref);
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

static bool
posset_add(struct posset *s, od_arena *a, uint64_t h, uint32_t idx)
{
	if (s->n * 2 >= s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		uint64_t *nk = od_arena_alloc(a, nc * sizeof(*nk));
		uint32_t *ni = od_arena_alloc(a, nc * sizeof(*ni));
		if (nk == NULL || ni == NULL) {
			return false;
		}
		memset(nk, 0, nc * sizeof(*nk));
		for (size_t i = 0; i < s->cap; i++) {
			if (s->keys[i] != 0) {
				size_t j = s->keys[i] & (nc - 1);
				while (nk[j] != 0) {
					j = (j + 1) & (nc - 1);
				}
				nk[j] = s->keys[i];
				ni[j] = s->idx[i];
			}
		}
		s->keys = nk;
		s->idx = ni;
		s->cap = nc;
	}
	size_t j = h & (s->cap - 1);
	while (s->keys[j] != 0) {
		j = (j + 1) & (s->cap - 1);
	}
	s->keys[j] = h;
	s->idx[j] = idx;
	s->n++;
	return true;
}

static bool
posset_has(const struct posset *s, const struct hit *hits, const uint8_t *pos, size_t plen)
{
	if (s->n == 0) {
		return false;
	}
	uint64_t h = od_search_hash(pos, plen) | 1;
	for (size_t j = h & (s->cap - 1); s->keys[j] != 0; j = (j + 1) & (s->cap - 1)) {
		const struct hit *x = &hits[s->idx[j]];
		if (s->keys[j] == h && x->plen == plen && memcmp(x->pos, pos, plen) == 0) {
			return true;
		}
	}
	return false;
}

static bool
filter_pass(const struct filter *f, const uint8_t *pos, size_t plen)
{
	const uint8_t *doc = pos + 1;
	size_t dl = plen - 1;
	if (plen < 3 || (doc[0] == 'u' && !f->want_units) ||
	    (doc[0] == 'c' && !f->want_countries)) {
		return false;
	}
	return doc[0] != 'u' || f->under[0] == '\0' ||
	    (pos[0] >= f->under_depth &&
	        under(f->t, (const char *) doc + 1, dl - 1, f->under, pos[0]));
}

/*
 * The exact and whole-name hits of the normalised query, ranked; at most
 * NAME_HITS_MAX, the first in key order, and `set` holds them.
 */
int
od_search_name_hits(const struct filter *f, od_arena *a, const char *qkey, size_t qkl,
    struct hit **out, size_t *n_out, struct posset *set)
{
	MDB_cursor *c;
	uint8_t key[NAME_KEY_LEN];
	uint64_t h = od_search_hash(qkey, qkl);
	key[0] = NAME_TAG;
	for (int b = 0; b < 8; b++) {
		key[1 + b] = (uint8_t) (h >> (56 - 8 * b));
	}
	int rc = mdb_cursor_open(f->t->txn, f->t->s->search, &c);
	if (rc != 0) {
		return rc;
	}
	struct hit *hits = NULL;
	size_t n = 0, cap = 0;
	MDB_val k = {sizeof(key), key};
	MDB_val v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < NAME_HITS_MAX;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < sizeof(key) + 3 || memcmp(k.mv_data, key, sizeof(key)) != 0) {
			break;
		}
		const uint8_t *pos = (const uint8_t *) k.mv_data + sizeof(key);
		size_t plen = k.mv_size - sizeof(key);
		if (plen >= POS_MAX || !filter_pass(f, pos, plen)) {
			continue;
		}
		struct hit best = {.tier = 3};
		const uint8_t *p = v.mv_data;
		for (size_t off = 0; off + 5 <= v.mv_size;) {
			uint8_t tier = p[off], field = p[off + 1], ll = p[off + 2];
			const char *lang = (const char *) p + off + 3;
			if (off + 5u + ll > v.mv_size) {
				break;
			}
			size_t tl = (size_t) p[off + 3 + ll] << 8 | p[off + 4 + ll];
			const uint8_t *text = p + off + 5 + ll;
			off += 5u + ll + tl;
			if (off > v.mv_size || tl != qkl || memcmp(text, qkey, qkl) != 0) {
				continue;
			}
			bool better = tier < best.tier ||
			    (tier == best.tier && tier == 1 && best.pref == 1 &&
			        lang_is(lang, ll, f->pref));
			if (better) {
				best.tier = tier;
				best.field = field;
				best.lang = lang;
				best.ll = tier == 0 ? 0 : ll;
				best.pref =
				    f->pref == NULL || lang_is(best.lang, best.ll, f->pref) ? 0 : 1;
			}
		}
		if (best.tier > 1) {
			continue;
		}
		if (!od_search_grow(a, (void **) &hits, &cap, n, sizeof(*hits))) {
			rc = ENOMEM;
			break;
		}
		memcpy(best.pos, pos, plen);
		best.plen = (uint8_t) plen;
		hits[n] = best;
		if (!posset_add(set, a, od_search_hash(pos, plen) | 1, (uint32_t) n)) {
			rc = ENOMEM;
			break;
		}
		n++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	if (n > 1) {
		qsort(hits, n, sizeof(*hits), od_search_hit_cmp);
	}
	*out = hits;
	*n_out = n;
	return 0;
}

/* Next word of a bucket value at *off: its bytes, and its occurrences. */
static bool
val_word(const uint8_t *p, size_t n, size_t *off, const uint8_t **w, size_t *wl,
    const uint8_t **occ, size_t *occ_len)
{
	size_t o = *off;
	if (o + 2 > n || o + 2u + p[o] > n) {
		return false;
	}
	*wl = p[o];
	*w = p + o + 1;
	o += 1u + p[o];
	size_t np = p[o++];
	*occ = p + o;
	for (size_t i = 0; i < np; i++) {
		if (o + 2 > n || o + 2u + p[o + 1] > n) {
			return false;
		}
		o += 2u + p[o + 1];
	}
	*occ_len = (size_t) (p + o - *occ);
	*off = o;
	return true;
}

static bool
val_has_prefix(const MDB_val *v, const struct qword *q)
{
	const uint8_t *w, *occ;
	size_t wl, ol;
	for (size_t off = 0; val_word(v->mv_data, v->mv_size, &off, &w, &wl, &occ, &ol);) {
		if (wl >= q->len && memcmp(w, q->w, q->len) == 0) {
			return true;
		}
	}
	return false;
}

enum { SEEK_ERROR = -1, SEEK_NONE = 0, SEEK_FOUND = 1, SEEK_BUDGET = 2 };

/*
 * Puts q's cursor on the first entry of its bucket at or after pos whose
 * doc has a word starting with q: SEEK_FOUND, SEEK_NONE, SEEK_ERROR, or
 * SEEK_BUDGET when *work reached cap first (q->k is then the last entry
 * looked at, which does not match).
 */
static int
word_seek(struct qword *q, const uint8_t *pos, size_t plen, size_t *work, size_t cap)
{
	MDB_val k;
	MDB_cursor_op op = MDB_SET_RANGE;
	uint8_t key[KEY_MAX];
	if (q->on) {
		const uint8_t *s = (const uint8_t *) q->k.mv_data + q->blen;
		size_t sl = q->k.mv_size - q->blen;
		int c = od_search_bytes_cmp(s, sl, pos, plen);
		if (c >= 0) {
			return 1;
		}
		/* Just past the current entry: the next one. */
		if (plen == sl + 1 && pos[sl] == 0 && memcmp(s, pos, sl) == 0) {
			op = MDB_NEXT;
		}
	}
	if (op == MDB_SET_RANGE) {
		memcpy(key, q->bkey, q->blen);
		memcpy(key + q->blen, pos, plen);
		k = (MDB_val){q->blen + plen, key};
	}
	q->on = false;
	for (int rc = mdb_cursor_get(q->c, &k, &q->v, op);;
	     rc = mdb_cursor_get(q->c, &k, &q->v, MDB_NEXT)) {
		(*work)++;
		if (rc == MDB_NOTFOUND) {
			return SEEK_NONE;
		}
		if (rc != 0) {
			return SEEK_ERROR;
		}
		if (k.mv_size < q->blen + 3 || memcmp(k.mv_data, q->bkey, q->blen) != 0) {
			return SEEK_NONE;
		}
		bool valid = k.mv_size - q->blen < POS_MAX;
		q->k = k;
		if (valid && val_has_prefix(&q->v, q)) {
			q->on = true;
			return SEEK_FOUND;
		}
		if (valid && *work >= cap) {
			return SEEK_BUDGET;
		}
	}
}

void
od_search_scan_restart(struct scan *s)
{
	s->plen = 0;
	if (s->f->under[0] != '\0' && s->f->under_depth > 0) {
		s->pos[0] = s->f->under_depth;
		s->plen = 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		s->ws[i].on = false;
	}
}

/* Leapfrog: the first position at or after s->pos in every word's bucket. */
static int
next_match(struct scan *s)
{
	size_t agreed = 0;
	for (size_t i = 0; agreed < s->n; i = (i + 1) % s->n) {
		if (s->work >= s->cap) {
			return SCAN_BUDGET;
		}
		struct qword *q = &s->ws[i];
		int r = word_seek(q, s->pos, s->plen, &s->work, s->cap);
		if (r == SEEK_NONE || r == SEEK_ERROR) {
			return r == SEEK_NONE ? SCAN_END : -1;
		}
		const uint8_t *p = (const uint8_t *) q->k.mv_data + q->blen;
		size_t pl = q->k.mv_size - q->blen;
		if (r == SEEK_BUDGET) {
			/* No doc before the entry it stopped at has this word: the
			 * next call starts there. */
			memcpy(s->pos, p, pl);
			s->plen = pl;
			return SCAN_BUDGET;
		}
		if (pl == s->plen && memcmp(p, s->pos, pl) == 0) {
			agreed++;
		} else {
			memcpy(s->pos, p, pl);
			s->plen = pl;
			agreed = 1;
		}
	}
	return SCAN_HIT;
}

/* Field and language of the hit at the words' current entries. */
static bool
describe(const struct scan *s, struct hit *h)
{
	struct pair {
		uint8_t field, ll, mask;
		const char *lang;
	} pairs[PAIRS_MAX];
	size_t np = 0;
	bool any_pref = false;
	for (size_t i = 0; i < s->n; i++) {
		const struct qword *q = &s->ws[i];
		const uint8_t *w, *occ;
		size_t wl, ol;
		for (size_t off = 0;
		     val_word(q->v.mv_data, q->v.mv_size, &off, &w, &wl, &occ, &ol);) {
			if (wl < q->len || memcmp(w, q->w, q->len) != 0) {
				continue;
			}
			for (size_t o = 0; o + 2 <= ol; o += 2u + occ[o + 1]) {
				const char *lang = (const char *) occ + o + 2;
				uint8_t ll = occ[o + 1];
				bool is_pref = lang_is(lang, ll, s->f->pref);
				any_pref = any_pref || is_pref;
				size_t j = 0;
				while (j < np &&
				    !(pairs[j].field == occ[o] &&
				        od_search_same_lang(
				            pairs[j].ll, pairs[j].lang, ll, lang))) {
					j++;
				}
				if (j == np && np < PAIRS_MAX) {
					pairs[np++] = (struct pair){occ[o], ll, 0, lang};
				}
				if (j < np) {
					pairs[j].mask |= (uint8_t) (1u << i);
				}
			}
		}
	}
	if (np == 0) {
		return false;
	}
	/* The preferred language first, then the most query words, then the
	 * record's own order. */
	size_t best = 0;
	for (size_t j = 1; j < np; j++) {
		bool pj = lang_is(pairs[j].lang, pairs[j].ll, s->f->pref);
		bool pb = lang_is(pairs[best].lang, pairs[best].ll, s->f->pref);
		int cj = __builtin_popcount(pairs[j].mask),
		    cb = __builtin_popcount(pairs[best].mask);
		if ((pj && !pb) || (pj == pb && cj > cb)) {
			best = j;
		}
	}
	h->tier = 2;
	h->pref = s->f->pref == NULL || any_pref ? 0 : 1;
	h->field = pairs[best].field;
	h->lang = pairs[best].lang;
	h->ll = pairs[best].ll;
	return true;
}

/* The next word-prefix hit: SCAN_HIT, SCAN_END, SCAN_BUDGET or < 0. */
int
od_search_scan_next(struct scan *s, struct hit *h)
{
	for (;;) {
		if (s->phase >= s->phases) {
			return SCAN_END;
		}
		int r = next_match(s);
		if (r < 0 || r == SCAN_BUDGET) {
			return r;
		}
		/* Countries are all at depth 0: past it, none is left. */
		if (r == SCAN_END || (!s->f->want_units && s->pos[0] > 0)) {
			s->phase++;
			od_search_scan_restart(s);
			continue;
		}
		s->work++;
		bool keep = filter_pass(s->f, s->pos, s->plen) &&
		    !posset_has(s->exclude, s->excluded, s->pos, s->plen) && describe(s, h) &&
		    h->pref == s->phase;
		if (keep) {
			memcpy(h->pos, s->pos, s->plen);
			h->plen = (uint8_t) s->plen;
		}
		s->pos[s->plen++] = 0; /* step past it */
		if (keep) {
			return SCAN_HIT;
		}
	}
}
