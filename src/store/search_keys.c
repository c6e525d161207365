/*
 * search_keys.c - the keys and values of `search` a doc derives: its name
 * hashes, its words entry and its word buckets, all of them or those an
 * update changed.
 * The index layout (keys of `search` and `search_docs`) is described at
 * the top of search_doc.c.
 */
#include <errno.h>
#include <string.h>

#include "search_int.h"

static uint8_t *
put_pos(uint8_t *p, uint8_t depth, const char *doc, size_t dl)
{
	*p++ = depth;
	memcpy(p, doc, dl);
	return p + dl;
}

int
od_search_entry_cmp(const void *pa, const void *pb)
{
	const struct entry *x = pa, *y = pb;
	return od_search_bytes_cmp(x->key, x->klen, y->key, y->klen);
}

static bool
only_hash(const struct only *o, uint64_t h)
{
	for (size_t i = 0; i < o->n_hashes; i++) {
		if (o->hashes[i] == h) {
			return true;
		}
	}
	return false;
}

/* The entry whose key starts with the bk bytes of bk (a bucket and its
 * NUL, or the words entry's tag) holding the words d->occ[i..j). */
static int
words_entry(od_arena *a, const struct doc *d, size_t i, size_t j, const void *bk, size_t bkl,
    const char *doc, size_t dl, struct entry *out)
{
	size_t vcap = 0;
	for (size_t x = i; x < j; x++) {
		vcap += 4u + d->occ[x].len + d->occ[x].ll;
	}
	uint8_t *key = od_arena_alloc(a, bkl + 1 + dl + vcap);
	if (key == NULL) {
		return ENOMEM;
	}
	memcpy(key, bk, bkl);
	uint8_t *val = put_pos(key + bkl, d->depth, doc, dl);
	size_t off = 0;
	for (size_t w = i; w < j;) {
		size_t x = w;
		val[off++] = d->occ[w].len;
		memcpy(val + off, d->occ[w].word, d->occ[w].len);
		off += d->occ[w].len;
		size_t np_at = off++;
		for (; x < j && d->occ[x].len == d->occ[w].len &&
		     memcmp(d->occ[x].word, d->occ[w].word, d->occ[w].len) == 0;
		     x++) {
			val[off++] = d->occ[x].field;
			val[off++] = d->occ[x].ll;
			memcpy(val + off, d->occ[x].lang, d->occ[x].ll);
			off += d->occ[x].ll;
		}
		val[np_at] = (uint8_t) (x - w);
		w = x;
	}
	*out = (struct entry){key, (size_t) (val - key), val, off};
	return 0;
}

/* The entry of the bucket of word d->occ[i] (its first bl bytes) holding
 * the words d->occ[i..j). */
static int
bucket_entry(od_arena *a, const struct doc *d, size_t i, size_t j, size_t bl, const char *doc,
    size_t dl, struct entry *out)
{
	uint8_t bk[BUCKET_MAX];
	memcpy(bk, d->occ[i].word, bl);
	bk[bl] = 0;
	return words_entry(a, d, i, j, bk, bl + 1, doc, dl, out);
}

/* The doc's words entry (none without words); *n counts it. */
static int
all_words_entry(
    od_arena *a, const struct doc *d, const char *doc, size_t dl, struct entry *e, size_t *n)
{
	static const uint8_t tag = WORDS_TAG;
	if (d->n_occ == 0) {
		return 0;
	}
	return words_entry(a, d, 0, d->n_occ, &tag, 1, doc, dl, &e[(*n)++]);
}

/* The end of the words from i on that start with the bl bytes of p. */
static size_t
bucket_end(const struct doc *d, size_t i, const char *p, size_t bl)
{
	while (i < d->n_occ && d->occ[i].len >= bl && memcmp(d->occ[i].word, p, bl) == 0) {
		i++;
	}
	return i;
}

/* The first word of d (sorted) not below the bl bytes of p. */
static size_t
bucket_start(const struct doc *d, const char *p, size_t bl)
{
	size_t lo = 0, hi = d->n_occ;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (od_search_bytes_cmp(d->occ[mid].word, d->occ[mid].len, p, bl) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* The name keys of d (all, or those of the hashes in only), in key order. */
static int
name_entries(od_arena *a, const struct doc *d, const char *doc, size_t dl, const struct only *only,
    struct entry *e, size_t *n)
{
	for (size_t i = 0; i < d->n_names;) {
		size_t j = i, vcap = 0;
		for (; j < d->n_names && d->names[j].hash == d->names[i].hash; j++) {
			vcap += 5u + d->names[j].ll + d->names[j].len;
		}
		if (only != NULL && !only_hash(only, d->names[i].hash)) {
			i = j;
			continue;
		}
		uint8_t *key = od_arena_alloc(a, NAME_KEY_LEN + 1 + dl + vcap);
		if (key == NULL) {
			return ENOMEM;
		}
		key[0] = NAME_TAG;
		for (int b = 0; b < 8; b++) {
			key[1 + b] = (uint8_t) (d->names[i].hash >> (56 - 8 * b));
		}
		uint8_t *val = put_pos(key + NAME_KEY_LEN, d->depth, doc, dl);
		size_t off = 0;
		for (size_t x = i; x < j; x++) {
			const struct name *m = &d->names[x];
			val[off++] = m->tier;
			val[off++] = m->field;
			val[off++] = m->ll;
			memcpy(val + off, m->lang, m->ll);
			off += m->ll;
			val[off++] = (uint8_t) (m->len >> 8);
			val[off++] = (uint8_t) m->len;
			memcpy(val + off, m->text, m->len);
			off += m->len;
		}
		e[(*n)++] = (struct entry){key, (size_t) (val - key), val, off};
		i = j;
	}
	return 0;
}

/*
 * The words entry, and the keys of the buckets of only's words (those of
 * them d has), sorted: a few binary searches instead of a pass over every
 * word of the doc.
 */
static int
derive_only(od_arena *a, const struct doc *d, const char *doc, size_t dl, const struct only *only,
    struct entry **out, size_t *n_out)
{
	size_t cap = only->n_words + only->n_hashes + 2, n = 0;
	struct entry *e = od_arena_alloc(a, cap * sizeof(*e));
	if (e == NULL) {
		return ENOMEM;
	}
	int rc = name_entries(a, d, doc, dl, only, e, &n);
	size_t names = n;
	if (rc == 0 && only->n_words > 0) {
		rc = all_words_entry(a, d, doc, dl, e, &n);
	}
	for (size_t w = 0; rc == 0 && w < only->n_words; w++) {
		const struct occ *o = only->words[w];
		size_t got, bl = od_search_cp_prefix(o->word, o->len, BUCKET_CPS, &got);
		bool seen = got < BUCKET_CPS;
		for (size_t v = 0; v < w && !seen; v++) {
			const struct occ *p = only->words[v];
			size_t pg;
			seen = p->len >= bl && memcmp(p->word, o->word, bl) == 0 &&
			    od_search_cp_prefix(p->word, p->len, BUCKET_CPS, &pg) == bl;
		}
		size_t i = seen ? d->n_occ : bucket_start(d, o->word, bl);
		size_t j = bucket_end(d, i, o->word, bl);
		if (i < j) {
			rc = bucket_entry(a, d, i, j, bl, doc, dl, &e[n++]);
		}
	}
	/* Name keys (0x01 + hash) sort before the words entry (0x02 + pos),
	 * which sorts before every bucket key. */
	od_search_sort_small(e + names, n - names, sizeof(*e), od_search_entry_cmp);
	*out = e;
	*n_out = n;
	return rc;
}

/* The keys and values of `search` for doc d, sorted by key: all of them,
 * or (only != NULL) the words entry and the buckets and hashes `only`
 * names. */
int
od_search_derive(od_arena *a, const struct doc *d, const char *doc, size_t dl,
    const struct only *only, struct entry **out, size_t *n_out)
{
	if (only != NULL) {
		return derive_only(a, d, doc, dl, only, out, n_out);
	}
	size_t n = 0;
	struct entry *e = od_arena_alloc(a, (d->n_occ + d->n_names + 2) * sizeof(*e));
	if (e == NULL) {
		return ENOMEM;
	}
	/* In key order: the name keys (0x01 + hash, in hash order), the words
	 * entry (0x02), the buckets (the words are sorted, so are they). */
	int rc = name_entries(a, d, doc, dl, NULL, e, &n);
	if (rc == 0) {
		rc = all_words_entry(a, d, doc, dl, e, &n);
	}
	for (size_t i = 0; rc == 0 && i < d->n_occ;) {
		size_t got;
		size_t bl = od_search_cp_prefix(d->occ[i].word, d->occ[i].len, BUCKET_CPS, &got);
		if (got < BUCKET_CPS) {
			i++;
			continue;
		}
		/* The words of this bucket follow each other (sorted). */
		size_t j = bucket_end(d, i + 1, d->occ[i].word, bl);
		rc = bucket_entry(a, d, i, j, bl, doc, dl, &e[n++]);
		i = j;
	}
	*out = e;
	*n_out = n;
	return rc;
}
