/*
 * search_doc.c - the search index, kept in the same write transactions as the
 * records it indexes.
 *
 * A doc is 'u' + unit id or 'c' + country code. Every key ends with the
 * doc's position, [depth u8][doc], so each key range lists docs in the
 * order a page is ranked in (shallower first, then by doc) and a query
 * can stop as soon as it has a page:
 *
 *   search  0x01 hash pos         -> the doc's exact keys (normalised id,
 *                                   acronym, codes) and whole names (names,
 *                                   head titles and name) whose 64-bit hash
 *                                   is `hash` (big-endian): ([tier u8][field
 *                                   u8][langlen u8][lang][len u16][text])*
 *           0x02 pos              -> the doc's words entry: all its words,
 *                                   each with the fields and languages it
 *                                   came from: ([len u8][word][n u8]
 *                                   ([field u8][langlen u8][lang])*n)*
 *           bucket \0 pos         -> the doc's words in that bucket (its
 *                                   words of three code points or more
 *                                   that start with those three), laid
 *                                   out as in the words entry
 *   search_docs  'c' code         -> what a country's keys were derived
 *                                   from (layout at od_search_encode_doc),
 *                                   so a write puts and deletes only the
 *                                   keys that changed
 *
 * A unit has no search_docs record (schema 6): its keys are derived from
 * its record and depth, and each change passes what the unit was
 * (search_write.c), so an update writes only the keys that changed and
 * no record beside them. Anything that changes what a record derives
 * (the words a text gives, the key layout) must rebuild the index with a
 * schema migration (env.c).
 *
 * A query word of three code points or more reads its bucket; a shorter
 * one reads the words entries (schema 7; before, every word also had a
 * first-letter bucket, a third of all the keys). Either way the entry's
 * word list says whether a word of the doc really starts with the query
 * word. A query's bucket words lead the join; a short word then seeks
 * the words entry of the doc they agree on, and steps on through the next
 * docs' while they lack the word (within the query's work cap, as every
 * step). A query of short words only walks the words entries.
 * Bucket keys start with a letter or digit, never with 0x01 or 0x02.
 *
 * This file: what a doc is indexed under (its words, exact keys and whole
 * names, collected, sorted and de-duplicated) and the search_docs record
 * that stores them. search_keys.c derives the keys of `search` from a doc,
 * search_write.c keeps them up to date, search_scan.c and search_query.c
 * answer a query.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

#define DOC_VERSION 2

bool
od_search_grow(od_arena *a, void **arr, size_t *cap, size_t n, size_t elem)
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

/* The first 8 bytes of a word, big-endian, zero-padded: for words (no
 * NUL in them), their order is the words' order on those bytes. */
static uint64_t
word_prefix(const char *w, size_t len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++) {
		v = v << 8 | (i < len ? (uint8_t) w[i] : 0u);
	}
	return v;
}

uint64_t
od_search_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 1099511628211ull;
	}
	return h;
}

int
od_search_bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c != 0 ? c : (al < bl ? -1 : (al > bl ? 1 : 0));
}

uint32_t
od_search_seq_of(uint8_t rank, size_t n)
{
	return (uint32_t) rank << 24 | (uint32_t) (n & 0xFFFFFF);
}

/* A name's rank: whole names before exact keys, as a full build adds them. */
uint8_t
od_search_name_rank(uint8_t rank, uint8_t tier)
{
	return (uint8_t) (tier == 0 ? 16 + rank : rank);
}

static void
emit_word(void *arg, const char *word, size_t len, unsigned flags)
{
	struct builder *b = arg;
	struct doc *d = b->d;
	if (b->oom ||
	    !od_search_grow(b->a, (void **) &d->occ, &d->cap_occ, d->n_occ, sizeof(*d->occ))) {
		b->oom = true;
		return;
	}
	char *w = od_arena_strndup(b->a, word, len);
	if (w == NULL) {
		b->oom = true;
		return;
	}
	d->occ[d->n_occ] = (struct occ){word_prefix(w, len), w, (uint8_t) len, b->field, b->ll,
	    b->lang, od_search_seq_of(b->rank, d->n_occ)};
	d->n_occ++;
	/* od_textkey_normalize's key: the plain words, one space between. */
	if (b->joined != NULL && !(flags & OD_TEXTKEY_JOINED)) {
		if (b->jlen > 0) {
			b->joined[b->jlen++] = ' ';
		}
		memcpy(b->joined + b->jlen, word, len);
		b->jlen += len;
	}
}

static void
add_name(struct builder *b, const char *text, size_t len, uint8_t tier, uint8_t field)
{
	struct doc *d = b->d;
	if (len == 0 || len >= COUNT16_MAX) {
		return;
	}
	if (!od_search_grow(
	        b->a, (void **) &d->names, &d->cap_names, d->n_names, sizeof(*d->names))) {
		b->oom = true;
		return;
	}
	d->names[d->n_names] = (struct name){text, (uint16_t) len, tier, field, b->ll, b->lang,
	    od_search_hash(text, len),
	    od_search_seq_of(od_search_name_rank(b->rank, tier), d->n_names)};
	d->n_names++;
}

/*
 * The words of text; with WHOLE_NAME also the text as one normalised key
 * (tier 1), with EXACT_KEY as an exact key (tier 0, no language). The key
 * is built from the words as they are emitted: od_textkey_normalize's
 * result without a second pass over the text.
 */
void
od_search_add_text(struct builder *b, const char *text, uint8_t field, const char *lang, int name)
{
	size_t n = strlen(text);
	if (n == 0 || b->oom) {
		return;
	}
	size_t ll = lang != NULL && name != EXACT_KEY ? strlen(lang) : 0;
	b->field = field;
	b->lang = ll > 0 ? lang : "";
	b->ll = (uint8_t) (ll > OD_LANG_MAX ? OD_LANG_MAX : ll);
	b->joined = NULL;
	b->jlen = 0;
	if (name != WORDS_ONLY &&
	    (b->joined = od_arena_alloc(b->a, OD_TEXTKEY_NORMALIZE_SIZE(n))) == NULL) {
		b->oom = true;
		return;
	}
	orgdir_code rc = od_textkey_words(text, n, emit_word, b, NULL);
	if (rc == ORGDIR_OK && name != WORDS_ONLY && !b->oom) {
		add_name(b, b->joined, b->jlen, name == EXACT_KEY ? 0 : 1, field);
	}
	b->joined = NULL;
}

/* Word order, then seq: the prefixes decide unless they are equal, when
 * both words are the same or longer than 8 bytes. */
static inline int
occ_cmp(const struct occ *x, const struct occ *y)
{
	if (x->pfx != y->pfx) {
		return x->pfx < y->pfx ? -1 : 1;
	}
	int c = x->len > 8 || y->len > 8
	    ? od_search_bytes_cmp(x->word + 8, x->len - 8u, y->word + 8, y->len - 8u)
	    : 0;
	return c != 0 ? c : (x->seq < y->seq ? -1 : 1);
}

static int
occ_qsort_cmp(const void *pa, const void *pb)
{
	return occ_cmp(pa, pb);
}

/* od_search_sort_small for words, its comparison inline. */
static void
sort_occ(struct occ *o, size_t n)
{
	if (n > 64) {
		qsort(o, n, sizeof(*o), occ_qsort_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct occ tmp = o[i];
		size_t j = i;
		while (j > 0 && occ_cmp(&o[j - 1], &tmp) > 0) {
			o[j] = o[j - 1];
			j--;
		}
		o[j] = tmp;
	}
}

static int
name_cmp(const void *pa, const void *pb)
{
	const struct name *x = pa, *y = pb;
	if (x->hash != y->hash) {
		return x->hash < y->hash ? -1 : 1;
	}
	int c = od_search_bytes_cmp(x->text, x->len, y->text, y->len);
	return c != 0 ? c : (x->seq < y->seq ? -1 : 1);
}

bool
od_search_same_lang(uint8_t al, const char *a, uint8_t bl, const char *b)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* A stable sort (the seq fields already break ties): insertion for the
 * few dozen elements of a record, qsort beyond. */
void
od_search_sort_small(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 64) {
		qsort(base, n, size, cmp);
		return;
	}
	uint8_t tmp[64];
	uint8_t *b = base;
	if (size > sizeof(tmp)) {
		qsort(base, n, size, cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		size_t j = i;
		memcpy(tmp, b + i * size, size);
		while (j > 0 && cmp(b + (j - 1) * size, tmp) > 0) {
			j--;
		}
		if (j < i) {
			memmove(b + (j + 1) * size, b + j * size, (i - j) * size);
			memcpy(b + j * size, tmp, size);
		}
	}
}

/* Sorts and de-duplicates: equal input gives equal bytes (od_search_encode_doc). */
void
od_search_canonicalize(struct doc *d)
{
	sort_occ(d->occ, d->n_occ);
	size_t out = 0;
	for (size_t i = 0; i < d->n_occ;) {
		size_t j = i, first = out, bytes = 0;
		for (; j < d->n_occ && d->occ[j].len == d->occ[i].len &&
		     memcmp(d->occ[j].word, d->occ[i].word, d->occ[i].len) == 0;
		     j++) {
			const struct occ *o = &d->occ[j];
			bool dup = false;
			for (size_t q = first; q < out && !dup; q++) {
				dup = d->occ[q].field == o->field &&
				    od_search_same_lang(
				        d->occ[q].ll, d->occ[q].lang, o->ll, o->lang);
			}
			if (!dup && bytes + 2u + o->ll <= OCC_BYTES_MAX && out - first < 255) {
				bytes += 2u + o->ll;
				d->occ[out++] = *o; /* its seq kept: see unit_doc_from */
			}
		}
		i = j;
	}
	d->n_occ = out < COUNT16_MAX ? out : COUNT16_MAX;
	od_search_sort_small(d->names, d->n_names, sizeof(*d->names), name_cmp);
	out = 0;
	for (size_t i = 0; i < d->n_names; i++) {
		const struct name *n = &d->names[i];
		bool dup = false;
		for (size_t q = out; q > 0 && !dup && d->names[q - 1].hash == n->hash; q--) {
			const struct name *m = &d->names[q - 1];
			dup = m->len == n->len && memcmp(m->text, n->text, n->len) == 0 &&
			    m->tier == n->tier && m->field == n->field &&
			    od_search_same_lang(m->ll, m->lang, n->ll, n->lang);
		}
		if (!dup) {
			d->names[out++] = *n;
		}
	}
	d->n_names = out < COUNT16_MAX ? out : COUNT16_MAX;
}

/*
 * The search_docs record: [ver=2][depth][kind][0][n_occ u16][n_names u16]
 * ([len u8][word][field u8][langlen u8][lang])*n_occ
 * ([tier u8][field u8][langlen u8][lang][len u16][text])*n_names
 */
uint8_t *
od_search_encode_doc(od_arena *a, const struct doc *d, size_t *len)
{
	size_t cap = 8;
	for (size_t i = 0; i < d->n_occ; i++) {
		cap += 3u + d->occ[i].len + d->occ[i].ll;
	}
	for (size_t i = 0; i < d->n_names; i++) {
		cap += 5u + d->names[i].ll + d->names[i].len;
	}
	uint8_t *p = od_arena_alloc(a, cap);
	if (p == NULL) {
		return NULL;
	}
	size_t off = 0;
	p[off++] = DOC_VERSION;
	p[off++] = d->depth;
	p[off++] = d->kind;
	p[off++] = 0;
	p[off++] = (uint8_t) (d->n_occ >> 8);
	p[off++] = (uint8_t) d->n_occ;
	p[off++] = (uint8_t) (d->n_names >> 8);
	p[off++] = (uint8_t) d->n_names;
	for (size_t i = 0; i < d->n_occ; i++) {
		const struct occ *o = &d->occ[i];
		p[off++] = o->len;
		memcpy(p + off, o->word, o->len);
		off += o->len;
		p[off++] = o->field;
		p[off++] = o->ll;
		memcpy(p + off, o->lang, o->ll);
		off += o->ll;
	}
	for (size_t i = 0; i < d->n_names; i++) {
		const struct name *n = &d->names[i];
		p[off++] = n->tier;
		p[off++] = n->field;
		p[off++] = n->ll;
		memcpy(p + off, n->lang, n->ll);
		off += n->ll;
		p[off++] = (uint8_t) (n->len >> 8);
		p[off++] = (uint8_t) n->len;
		memcpy(p + off, n->text, n->len);
		off += n->len;
	}
	*len = off;
	return p;
}

/* Reads a record of od_search_encode_doc; its strings point into p. */
bool
od_search_decode_doc(od_arena *a, const uint8_t *p, size_t n, struct doc *d)
{
	memset(d, 0, sizeof(*d));
	if (n < 8 || p[0] != DOC_VERSION) {
		return false;
	}
	d->depth = p[1];
	d->kind = p[2];
	size_t no = (size_t) p[4] << 8 | p[5];
	size_t nn = (size_t) p[6] << 8 | p[7];
	d->occ = od_arena_alloc(a, (no + 1) * sizeof(*d->occ));
	d->names = od_arena_alloc(a, (nn + 1) * sizeof(*d->names));
	if (d->occ == NULL || d->names == NULL) {
		return false;
	}
	size_t off = 8;
	for (size_t i = 0; i < no; i++) {
		struct occ *o = &d->occ[i];
		if (off + 1 > n || off + 1u + p[off] + 2u > n) {
			return false;
		}
		o->len = p[off++];
		o->word = (const char *) p + off;
		o->pfx = word_prefix(o->word, o->len);
		off += o->len;
		o->field = p[off++];
		o->ll = p[off++];
		if (off + o->ll > n) {
			return false;
		}
		o->lang = (const char *) p + off;
		off += o->ll;
		o->seq = (uint32_t) i;
	}
	for (size_t i = 0; i < nn; i++) {
		struct name *m = &d->names[i];
		if (off + 3 > n || off + 3u + p[off + 2] + 2u > n) {
			return false;
		}
		m->tier = p[off++];
		m->field = p[off++];
		m->ll = p[off++];
		m->lang = (const char *) p + off;
		off += m->ll;
		m->len = (uint16_t) (p[off] << 8 | p[off + 1]);
		off += 2;
		if (off + m->len > n) {
			return false;
		}
		m->text = (const char *) p + off;
		off += m->len;
		m->hash = od_search_hash(m->text, m->len);
		m->seq = (uint32_t) i;
	}
	d->n_occ = no;
	d->n_names = nn;
	return off == n;
}

/* Bytes of the first k code points of w (fewer if w is shorter: *got). */
size_t
od_search_cp_prefix(const char *w, size_t len, size_t k, size_t *got)
{
	size_t i = 0, n = 0;
	for (; i < len; i++) {
		if (((uint8_t) w[i] & 0xC0) != 0x80) {
			if (n == k) {
				break;
			}
			n++;
		}
	}
	*got = n;
	return i;
}

size_t
od_search_doc_key(char type, const char *id, char *out)
{
	size_t n = strlen(id);
	out[0] = type;
	memcpy(out + 1, id, n);
	return n + 1;
}

/* The words and names of the unit's fields in `fields` (bits 1 << F_*),
 * in field order (each field's rank). */
void
od_search_add_unit_fields(struct builder *b, const struct od_search_fields *f, unsigned fields)
{
	if (fields & 1u << F_ID) {
		b->rank = F_ID;
		od_search_add_text(b, f->id, F_ID, NULL, EXACT_KEY);
	}
	if (fields & 1u << F_ACRONYM) {
		b->rank = F_ACRONYM;
		od_search_add_text(b, f->acronym, F_ACRONYM, NULL, EXACT_KEY);
	}
	b->rank = F_NAME;
	for (size_t i = 0; (fields & 1u << F_NAME) && i < f->n_name; i++) {
		od_search_add_text(b, f->name[i]->text, F_NAME, f->name[i]->lang, WHOLE_NAME);
	}
	b->rank = F_DESCRIPTION;
	for (size_t i = 0; (fields & 1u << F_DESCRIPTION) && i < f->n_description; i++) {
		od_search_add_text(
		    b, f->description[i]->text, F_DESCRIPTION, f->description[i]->lang, WORDS_ONLY);
	}
	b->rank = F_HEAD_TITLE;
	for (size_t i = 0; (fields & 1u << F_HEAD_TITLE) && i < f->n_head_title; i++) {
		od_search_add_text(
		    b, f->head_title[i]->text, F_HEAD_TITLE, f->head_title[i]->lang, WHOLE_NAME);
	}
	if (f->has_head && (fields & 1u << F_HEAD_NAME)) {
		b->rank = F_HEAD_NAME;
		od_search_add_text(b, f->head_name, F_HEAD_NAME, NULL, WHOLE_NAME);
	}
}
