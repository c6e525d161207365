/*
 * search.c - the search index, kept in the same write transactions as the
 * records it indexes.
 *
 * A doc is 'u' + unit id or 'c' + country code. Every key ends with the
 * doc's position, [depth u8][doc], so each key range lists docs in the
 * order a page is ranked in (shallower first, then by doc) and a query
 * can stop as soon as it has a page:
 *
 *   search  bucket \0 pos        -> the doc's words in that bucket, each with
 *                                   the fields and languages it came from:
 *                                   ([len u8][word][n u8] ([field u8][langlen
 *                                   u8][lang])*n)*
 *           0x01 hash pos         -> the doc's exact keys (normalised id,
 *                                   acronym, codes) and whole names (names,
 *                                   head titles and name) whose 64-bit hash
 *                                   is `hash` (big-endian): ([tier u8][field
 *                                   u8][langlen u8][lang][len u16][text])*
 *   search_docs  doc              -> what the keys above were derived from
 *                                   (layout at encode_doc), so a write puts
 *                                   and deletes only the keys that changed
 *
 * A word has two buckets: its first code point, and (for words of three
 * code points or more) its first three. A query word of three code points
 * or more reads the second kind, a shorter one the first; either way the
 * entry's word list says whether a word of the doc really starts with the
 * query word. Bucket keys start with a letter or digit, never with 0x01.
 *
 * A query finds exact and whole-name matches (tiers 0 and 1) by one range
 * read of the hash of the whole query, then word-prefix matches (tier 2)
 * by a leapfrog join of the query words' buckets, in ranking order, until
 * a page is full; with a preferred language it makes two passes (docs with
 * a match in that language, then the others). Work is capped per call
 * (PAGE_WORK_MAX cursor steps for the page, COUNT_WORK_MAX more to count
 * what follows): past the cap a page may hold fewer hits than asked (even
 * none) with a next_page_token that resumes where the scan stopped, and
 * total_size is then a lower bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "textkey.h"

#define DOC_MAX (1 + OD_ID_MAX)
#define POS_MAX (1 + DOC_MAX + 1) /* depth, doc, a NUL to step past it */
#define BUCKET_MAX 16 /* three code points and the NUL */
#define KEY_MAX (BUCKET_MAX + POS_MAX)
#define NAME_TAG 0x01
#define NAME_KEY_LEN 9 /* tag + be64 hash */
#define OCC_BYTES_MAX 240 /* fields and languages kept per word */
#define COUNT16_MAX 0xFFFF
#define QUERY_MAX 512
#define QUERY_WORDS_MAX 8
#define DOC_VERSION 2
/* Exact and whole-name hits ranked per query; beyond, a doc sharing the
 * query as a name with so many others is found as a word-prefix hit. */
#define NAME_HITS_MAX 10000
/* Cursor steps per call to fill the page, then to count what follows. */
#define PAGE_WORK_MAX 20000
#define COUNT_WORK_MAX 1000
#define PAIRS_MAX 64
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

/* --- what a doc is indexed under ------------------------------------------------------ */

struct occ {
	const char *word; /* arena */
	uint8_t len;
	uint8_t field;
	uint8_t ll;
	const char *lang; /* ll bytes; "" for ids and codes */
	uint32_t seq; /* keeps the record's order among equal words */
};

struct name {
	const char *text; /* normalised, arena */
	uint16_t len;
	uint8_t tier; /* 0 exact key, 1 whole name */
	uint8_t field;
	uint8_t ll;
	const char *lang;
	uint64_t hash;
	uint32_t seq;
};

struct doc {
	struct occ *occ;
	size_t n_occ, cap_occ;
	struct name *names;
	size_t n_names, cap_names;
	uint8_t depth;
	uint8_t kind;
};

/*
 * Collects a doc's words and names. `rank` orders what a record gives: the
 * high byte of each seq, so that equal words (and equal names) keep the
 * order a full build emits them in even when part of a doc is reused from
 * its stored record (od_search_update_unit): a unit's fields are emitted
 * in field order, a country's in emission order (rank 0).
 */
struct builder {
	od_arena *a;
	struct doc *d;
	uint8_t field;
	uint8_t rank;
	const char *lang;
	uint8_t ll;
	bool oom;
	char *joined; /* the plain words so far, space-separated (NULL: not kept) */
	size_t jlen;
};

/* One key of `search` with its value. */
struct entry {
	uint8_t *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
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

static uint64_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 1099511628211ull;
	}
	return h;
}

static int
bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c != 0 ? c : (al < bl ? -1 : (al > bl ? 1 : 0));
}

static uint32_t
seq_of(uint8_t rank, size_t n)
{
	return (uint32_t) rank << 24 | (uint32_t) (n & 0xFFFFFF);
}

/* A name's rank: whole names before exact keys, as a full build adds them. */
static uint8_t
name_rank(uint8_t rank, uint8_t tier)
{
	return (uint8_t) (tier == 0 ? 16 + rank : rank);
}

static void
emit_word(void *arg, const char *word, size_t len, unsigned flags)
{
	struct builder *b = arg;
	struct doc *d = b->d;
	if (b->oom || !grow(b->a, (void **) &d->occ, &d->cap_occ, d->n_occ, sizeof(*d->occ))) {
		b->oom = true;
		return;
	}
	char *w = od_arena_strndup(b->a, word, len);
	if (w == NULL) {
		b->oom = true;
		return;
	}
	d->occ[d->n_occ] =
	    (struct occ){w, (uint8_t) len, b->field, b->ll, b->lang, seq_of(b->rank, d->n_occ)};
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
	if (!grow(b->a, (void **) &d->names, &d->cap_names, d->n_names, sizeof(*d->names))) {
		b->oom = true;
		return;
	}
	d->names[d->n_names] = (struct name){text, (uint16_t) len, tier, field, b->ll, b->lang,
	    hash_bytes(text, len), seq_of(name_rank(b->rank, tier), d->n_names)};
	d->n_names++;
}

enum { WORDS_ONLY, WHOLE_NAME, EXACT_KEY };

/*
 * The words of text; with WHOLE_NAME also the text as one normalised key
 * (tier 1), with EXACT_KEY as an exact key (tier 0, no language). The key
 * is built from the words as they are emitted: od_textkey_normalize's
 * result without a second pass over the text.
 */
static void
add_text(struct builder *b, const char *text, uint8_t field, const char *lang, int name)
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

static int
occ_cmp(const void *pa, const void *pb)
{
	const struct occ *x = pa, *y = pb;
	int c = bytes_cmp(x->word, x->len, y->word, y->len);
	return c != 0 ? c : (x->seq < y->seq ? -1 : 1);
}

static int
name_cmp(const void *pa, const void *pb)
{
	const struct name *x = pa, *y = pb;
	if (x->hash != y->hash) {
		return x->hash < y->hash ? -1 : 1;
	}
	int c = bytes_cmp(x->text, x->len, y->text, y->len);
	return c != 0 ? c : (x->seq < y->seq ? -1 : 1);
}

static bool
same_lang(uint8_t al, const char *a, uint8_t bl, const char *b)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* A stable sort (the seq fields already break ties): insertion for the
 * few dozen elements of a record, qsort beyond. */
static void
sort_small(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
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

/* Sorts and de-duplicates: equal input gives equal bytes (encode_doc). */
static void
canonicalize(struct doc *d)
{
	sort_small(d->occ, d->n_occ, sizeof(*d->occ), occ_cmp);
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
				    same_lang(d->occ[q].ll, d->occ[q].lang, o->ll, o->lang);
			}
			if (!dup && bytes + 2u + o->ll <= OCC_BYTES_MAX && out - first < 255) {
				bytes += 2u + o->ll;
				d->occ[out] = *o;
				d->occ[out].seq = (uint32_t) out;
				out++;
			}
		}
		i = j;
	}
	d->n_occ = out < COUNT16_MAX ? out : COUNT16_MAX;
	sort_small(d->names, d->n_names, sizeof(*d->names), name_cmp);
	out = 0;
	for (size_t i = 0; i < d->n_names; i++) {
		const struct name *n = &d->names[i];
		bool dup = false;
		for (size_t q = out; q > 0 && !dup && d->names[q - 1].hash == n->hash; q--) {
			const struct name *m = &d->names[q - 1];
			dup = m->len == n->len && memcmp(m->text, n->text, n->len) == 0 &&
			    m->tier == n->tier && m->field == n->field &&
			    same_lang(m->ll, m->lang, n->ll, n->lang);
		}
		if (!dup) {
			d->names[out] = *n;
			d->names[out].seq = (uint32_t) out;
			out++;
		}
	}
	d->n_names = out < COUNT16_MAX ? out : COUNT16_MAX;
}

/*
 * The search_docs record: [ver=2][depth][kind][0][n_occ u16][n_names u16]
 * ([len u8][word][field u8][langlen u8][lang])*n_occ
 * ([tier u8][field u8][langlen u8][lang][len u16][text])*n_names
 */
static uint8_t *
encode_doc(od_arena *a, const struct doc *d, size_t *len)
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

/* Reads a record of encode_doc; its strings point into p. */
static bool
decode_doc(od_arena *a, const uint8_t *p, size_t n, struct doc *d)
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
		m->hash = hash_bytes(m->text, m->len);
		m->seq = (uint32_t) i;
	}
	d->n_occ = no;
	d->n_names = nn;
	return off == n;
}

/* Bytes of the first k code points of w (fewer if w is shorter: *got). */
static size_t
cp_prefix(const char *w, size_t len, size_t k, size_t *got)
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

static uint8_t *
put_pos(uint8_t *p, uint8_t depth, const char *doc, size_t dl)
{
	*p++ = depth;
	memcpy(p, doc, dl);
	return p + dl;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct entry *x = pa, *y = pb;
	return bytes_cmp(x->key, x->klen, y->key, y->klen);
}

/*
 * The words and names an update changed: derive() then makes only the
 * keys they are in (the buckets of the words, the hashes of the names).
 */
struct only {
	const struct occ **words;
	size_t n_words;
	uint64_t *hashes;
	size_t n_hashes;
};

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

/* The entry of bucket key (bl bytes) holding the words d->occ[i..j). */
static int
bucket_entry(od_arena *a, const struct doc *d, size_t i, size_t j, size_t bl, const char *doc,
    size_t dl, struct entry *out)
{
	size_t vcap = 0;
	for (size_t x = i; x < j; x++) {
		vcap += 4u + d->occ[x].len + d->occ[x].ll;
	}
	uint8_t *key = od_arena_alloc(a, bl + 1 + 1 + dl + vcap);
	if (key == NULL) {
		return ENOMEM;
	}
	memcpy(key, d->occ[i].word, bl);
	key[bl] = 0;
	uint8_t *val = put_pos(key + bl + 1, d->depth, doc, dl);
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
		if (bytes_cmp(d->occ[mid].word, d->occ[mid].len, p, bl) < 0) {
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
 * The keys of the buckets of only's words (those of them d has), sorted:
 * a few binary searches instead of a pass over every word of the doc.
 */
static int
derive_only(od_arena *a, const struct doc *d, const char *doc, size_t dl, const struct only *only,
    struct entry **out, size_t *n_out)
{
	size_t cap = 2 * only->n_words + only->n_hashes + 1, n = 0;
	struct entry *e = od_arena_alloc(a, cap * sizeof(*e));
	if (e == NULL) {
		return ENOMEM;
	}
	int rc = name_entries(a, d, doc, dl, only, e, &n);
	size_t names = n;
	static const size_t levels[2] = {1, 3};
	for (size_t w = 0; rc == 0 && w < only->n_words; w++) {
		const struct occ *o = only->words[w];
		for (size_t l = 0; l < 2 && rc == 0; l++) {
			size_t got, bl = cp_prefix(o->word, o->len, levels[l], &got);
			bool seen = got < levels[l];
			for (size_t v = 0; v < w && !seen; v++) {
				const struct occ *p = only->words[v];
				size_t pg;
				seen = p->len >= bl && memcmp(p->word, o->word, bl) == 0 &&
				    cp_prefix(p->word, p->len, levels[l], &pg) == bl;
			}
			size_t i = seen ? d->n_occ : bucket_start(d, o->word, bl);
			size_t j = bucket_end(d, i, o->word, bl);
			if (i < j) {
				rc = bucket_entry(a, d, i, j, bl, doc, dl, &e[n++]);
			}
		}
	}
	/* Name keys (0x01 + hash) sort before every bucket key. */
	sort_small(e + names, n - names, sizeof(*e), entry_cmp);
	*out = e;
	*n_out = n;
	return rc;
}

/* The keys and values of `search` for doc d, sorted by key: all of them,
 * or (only != NULL) those of the buckets and hashes `only` names. */
static int
derive(od_arena *a, const struct doc *d, const char *doc, size_t dl, const struct only *only,
    struct entry **out, size_t *n_out)
{
	if (only != NULL) {
		return derive_only(a, d, doc, dl, only, out, n_out);
	}
	size_t cap = 2 * d->n_occ + d->n_names + 1, n = 0;
	struct entry *e = od_arena_alloc(a, cap * sizeof(*e));
	struct entry *lv[2];
	size_t nl[2] = {0, 0};
	lv[0] = od_arena_alloc(a, (d->n_occ + 1) * sizeof(*e));
	lv[1] = od_arena_alloc(a, (d->n_occ + 1) * sizeof(*e));
	if (e == NULL || lv[0] == NULL || lv[1] == NULL) {
		return ENOMEM;
	}
	static const size_t levels[2] = {1, 3};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < d->n_occ;) {
			size_t got;
			size_t bl = cp_prefix(d->occ[i].word, d->occ[i].len, levels[l], &got);
			if (got < levels[l]) {
				i++;
				continue;
			}
			/* The words of this bucket follow each other (sorted). */
			size_t j = bucket_end(d, i + 1, d->occ[i].word, bl);
			int rc = bucket_entry(a, d, i, j, bl, doc, dl, &lv[l][nl[l]++]);
			if (rc != 0) {
				return rc;
			}
			i = j;
		}
	}
	/* Name keys (0x01 + hash, in hash order) sort before every bucket key;
	 * each level's keys come out in order (the words are sorted): merge. */
	int rc = name_entries(a, d, doc, dl, NULL, e, &n);
	if (rc != 0) {
		return rc;
	}
	for (size_t x = 0, y = 0; x < nl[0] || y < nl[1];) {
		bool first = y == nl[1] || (x < nl[0] && entry_cmp(&lv[0][x], &lv[1][y]) < 0);
		e[n++] = first ? lv[0][x++] : lv[1][y++];
	}
	*out = e;
	*n_out = n;
	return 0;
}

/* Deletes the keys only in old, puts those new or changed. */
static int
apply_diff(od_txn *t, const struct entry *o, size_t no, const struct entry *e, size_t ne)
{
	size_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < no || j < ne)) {
		int c = i == no ? 1 : (j == ne ? -1 : entry_cmp(&o[i], &e[j]));
		if (c < 0) {
			MDB_val k = {o[i].klen, o[i].key};
			rc = mdb_del(t->txn, t->s->search, &k, NULL);
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
	return decode_doc(a, copy, v.mv_size, d) ? 0 : MDB_NOTFOUND;
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
	uint8_t *val = encode_doc(a, d, &len);
	if (val == NULL) {
		return ENOMEM;
	}
	if (old != NULL && old_len == len && memcmp(old_raw, val, len) == 0) {
		return 0; /* nothing searchable changed */
	}
	struct entry *oe = NULL, *ne;
	size_t no = 0, nn;
	int rc;
	if (old != NULL && (rc = derive(a, old, doc, dl, only, &oe, &no)) != 0) {
		return rc;
	}
	if ((rc = derive(a, d, doc, dl, only, &ne, &nn)) != 0) {
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
	canonicalize(d);
	struct doc old;
	uint8_t *old_raw = NULL;
	size_t old_len = 0;
	int rc = load_doc(t, a, doc, dl, &old, &old_raw, &old_len);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	return write_over(t, a, doc, dl, rc == 0 ? &old : NULL, old_raw, old_len, d, NULL);
}

static size_t
doc_key(char type, const char *id, char *out)
{
	size_t n = strlen(id);
	out[0] = type;
	memcpy(out + 1, id, n);
	return n + 1;
}

/* The words and names of the unit's fields in `fields` (bits 1 << F_*),
 * in field order (each field's rank). */
static void
add_unit_fields(struct builder *b, const Orgdir__V1__Unit *u, unsigned fields)
{
	const Orgdir__V1__Head *h = u->head;
	if (fields & 1u << F_ID) {
		b->rank = F_ID;
		add_text(b, u->id, F_ID, NULL, EXACT_KEY);
	}
	if (fields & 1u << F_ACRONYM) {
		b->rank = F_ACRONYM;
		add_text(b, u->acronym, F_ACRONYM, NULL, EXACT_KEY);
	}
	b->rank = F_NAME;
	for (size_t i = 0; (fields & 1u << F_NAME) && i < u->n_name; i++) {
		add_text(b, u->name[i]->text, F_NAME, u->name[i]->lang, WHOLE_NAME);
	}
	b->rank = F_DESCRIPTION;
	for (size_t i = 0; (fields & 1u << F_DESCRIPTION) && i < u->n_description; i++) {
		add_text(
		    b, u->description[i]->text, F_DESCRIPTION, u->description[i]->lang, WORDS_ONLY);
	}
	b->rank = F_HEAD_TITLE;
	for (size_t i = 0; h != NULL && (fields & 1u << F_HEAD_TITLE) && i < h->n_title; i++) {
		add_text(b, h->title[i]->text, F_HEAD_TITLE, h->title[i]->lang, WHOLE_NAME);
	}
	if (h != NULL && (fields & 1u << F_HEAD_NAME)) {
		b->rank = F_HEAD_NAME;
		add_text(b, h->name, F_HEAD_NAME, NULL, WHOLE_NAME);
	}
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
	struct doc d = {.depth = depth > 255 ? 255 : (uint8_t) depth, .kind = (uint8_t) u->kind};
	struct builder b = {.a = &a, .d = &d};
	add_unit_fields(&b, u, ~0u);
	int rc = b.oom ? ENOMEM : write_doc(t, &a, doc, dl, &d);
	od_arena_destroy(&a);
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
 * Whether a stored doc holds every pair its fields gave: canonicalize
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
 * rank a full build gives it, so canonicalize orders them the same), the
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
			d.occ[d.n_occ++].seq = seq_of(o->field, i);
		}
	}
	for (size_t i = 0; i < old->n_names; i++) {
		const struct name *m = &old->names[i];
		if (!(changed & 1u << m->field)) {
			d.names[d.n_names] = *m;
			d.names[d.n_names++].seq = seq_of(name_rank(m->field, m->tier), i);
		}
	}
	struct builder b = {.a = a, .d = &d};
	add_unit_fields(&b, u, changed);
	if (b.oom) {
		return ENOMEM;
	}
	canonicalize(&d);
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
	size_t dl = doc_key('u', u->id, doc);
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	struct doc old;
	uint8_t *raw;
	size_t raw_len;
	int rc = load_doc(t, &a, doc, dl, &old, &raw, &raw_len);
	if (rc == 0 && doc_complete(&old)) {
		rc = reuse_doc(t, &a, doc, dl, &old, raw, raw_len, u, changed);
	} else if (rc == 0 || rc == MDB_NOTFOUND) {
		rc = od_search_index_unit(t, &a, u, od_unit_depth(t, u));
	}
	od_arena_destroy(&a);
	return rc;
}

int
od_search_unindex_unit(od_txn *t, const char *id)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('u', id, doc);
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	struct doc old;
	struct entry *oe;
	uint8_t *raw;
	size_t raw_len, no;
	int rc = load_doc(t, &a, doc, dl, &old, &raw, &raw_len);
	if (rc == 0 && (rc = derive(&a, &old, doc, dl, NULL, &oe, &no)) == 0) {
		rc = apply_diff(t, oe, no, NULL, 0);
	}
	if (rc == 0 || rc == MDB_NOTFOUND) {
		MDB_val k = {dl, doc};
		rc = mdb_del(t->txn, t->s->search_docs, &k, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	od_arena_destroy(&a);
	return rc;
}

/* The depth is part of every key: a move rewrites the doc's keys. */
int
od_search_set_depth(od_txn *t, const char *id, uint32_t depth)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('u', id, doc);
	uint8_t dd = depth > 255 ? 255 : (uint8_t) depth;
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	struct doc d;
	uint8_t *raw;
	size_t raw_len;
	int rc = load_doc(t, &a, doc, dl, &d, &raw, &raw_len);
	if (rc == 0 && d.depth != dd) {
		d.depth = dd;
		d.cap_occ = d.n_occ;
		d.cap_names = d.n_names;
		rc = write_doc(t, &a, doc, dl, &d);
	}
	od_arena_destroy(&a);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
od_search_index_country(od_txn *t, od_arena *caller, const Orgdir__V1__Country *c)
{
	char doc[DOC_MAX];
	size_t dl = doc_key('c', c->code, doc);
	od_arena a;
	(void) caller;
	od_arena_init(&a, (size_t) 16 << 20);
	struct doc d = {.depth = 0, .kind = 0};
	struct builder b = {.a = &a, .d = &d};
	add_text(&b, c->code, F_COUNTRY_CODE, NULL, EXACT_KEY);
	add_text(&b, c->alpha3, F_COUNTRY_CODE, NULL, EXACT_KEY);
	for (size_t i = 0; i < c->n_name; i++) {
		add_text(&b, c->name[i]->text, F_COUNTRY_NAME, c->name[i]->lang, WHOLE_NAME);
	}
	int rc = b.oom ? ENOMEM : write_doc(t, &a, doc, dl, &d);
	od_arena_destroy(&a);
	return rc;
}

/* --- consistency (check.c) ------------------------------------------------------------ */

int
od_search_check_doc(od_txn *t, od_arena *a, const void *doc, size_t dl, const void *rec,
    size_t rec_len, size_t *n_keys)
{
	struct doc d;
	struct entry *e;
	size_t n;
	*n_keys = 0;
	if (dl < 2 || dl > DOC_MAX || !decode_doc(a, rec, rec_len, &d)) {
		return EINVAL;
	}
	int rc = derive(a, &d, doc, dl, NULL, &e, &n);
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
		rc = derive(a, &d, (const char *) pos + 1, plen - 1, NULL, &e, &n);
	}
	if (rc != 0) {
		return rc == MDB_NOTFOUND ? ENOENT : rc;
	}
	struct entry probe = {(uint8_t *) k, klen, NULL, 0};
	return bsearch(&probe, e, n, sizeof(*e), entry_cmp) != NULL ? 0 : ENOENT;
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
	uint8_t bkey[BUCKET_MAX]; /* the bucket it reads, NUL-terminated */
	size_t blen; /* with the NUL */
	MDB_cursor *c;
	bool on; /* c is on the first entry at or after the last position asked */
	MDB_val k, v;
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
	struct qword *w = &q->words[q->n++];
	memset(w, 0, sizeof(*w));
	memcpy(w->w, word, len);
	w->w[len] = 0;
	w->len = len;
	size_t got;
	size_t bl = cp_prefix(word, len, 3, &got);
	if (got < 3) {
		bl = cp_prefix(word, len, 1, &got);
	}
	memcpy(w->bkey, word, bl);
	w->bkey[bl] = 0;
	w->blen = bl + 1;
}

/* A ranked hit: its position [depth][doc] and how it matched. */
struct hit {
	uint8_t pos[POS_MAX];
	uint8_t plen;
	uint8_t tier; /* 0 exact, 1 whole name, 2 word prefix */
	uint8_t pref; /* 0 = in the preferred language (or none asked) */
	uint8_t field;
	uint8_t ll;
	const char *lang; /* borrowed from the snapshot */
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
	return bytes_cmp(x->pos, x->plen, y->pos, y->plen);
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

/* A small open-addressing set of positions (the exact and whole-name hits). */
struct posset {
	uint64_t *keys;
	uint32_t *idx;
	size_t cap, n;
};

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
	uint64_t h = hash_bytes(pos, plen) | 1;
	for (size_t j = h & (s->cap - 1); s->keys[j] != 0; j = (j + 1) & (s->cap - 1)) {
		const struct hit *x = &hits[s->idx[j]];
		if (s->keys[j] == h && x->plen == plen && memcmp(x->pos, pos, plen) == 0) {
			return true;
		}
	}
	return false;
}

/* What a query is asked to keep. */
struct filter {
	od_txn *t;
	bool want_units, want_countries;
	const char *under; /* "" = anywhere */
	uint8_t under_depth;
	const char *pref; /* NULL = none */
};

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
static int
name_hits(const struct filter *f, od_arena *a, const char *qkey, size_t qkl, struct hit **out,
    size_t *n_out, struct posset *set)
{
	MDB_cursor *c;
	uint8_t key[NAME_KEY_LEN];
	uint64_t h = hash_bytes(qkey, qkl);
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
		if (!grow(a, (void **) &hits, &cap, n, sizeof(*hits))) {
			rc = ENOMEM;
			break;
		}
		memcpy(best.pos, pos, plen);
		best.plen = (uint8_t) plen;
		hits[n] = best;
		if (!posset_add(set, a, hash_bytes(pos, plen) | 1, (uint32_t) n)) {
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
		qsort(hits, n, sizeof(*hits), hit_cmp);
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

/*
 * Puts q's cursor on the first entry of its bucket at or after pos whose
 * doc has a word starting with q. 1 found, 0 none, -1 an LMDB error.
 */
static int
word_seek(struct qword *q, const uint8_t *pos, size_t plen, size_t *work)
{
	MDB_val k;
	MDB_cursor_op op = MDB_SET_RANGE;
	uint8_t key[KEY_MAX];
	if (q->on) {
		const uint8_t *s = (const uint8_t *) q->k.mv_data + q->blen;
		size_t sl = q->k.mv_size - q->blen;
		int c = bytes_cmp(s, sl, pos, plen);
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
			return 0;
		}
		if (rc != 0) {
			return -1;
		}
		if (k.mv_size < q->blen + 3 || memcmp(k.mv_data, q->bkey, q->blen) != 0) {
			return 0;
		}
		if (k.mv_size - q->blen < POS_MAX && val_has_prefix(&q->v, q)) {
			q->k = k;
			q->on = true;
			return 1;
		}
	}
}

/* The word-prefix hits in ranking order, resumable at any position. */
struct scan {
	const struct filter *f;
	struct qword *ws;
	size_t n;
	const struct posset *exclude;
	const struct hit *excluded;
	uint8_t pos[POS_MAX]; /* the next position to look at */
	size_t plen;
	int phase; /* 0: matches in the preferred language (or all), 1: the rest */
	int phases;
	size_t work, cap;
};

enum { SCAN_HIT = 1, SCAN_END = 0, SCAN_BUDGET = 2 };

static void
scan_restart(struct scan *s)
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
		int r = word_seek(q, s->pos, s->plen, &s->work);
		if (r <= 0) {
			return r;
		}
		const uint8_t *p = (const uint8_t *) q->k.mv_data + q->blen;
		size_t pl = q->k.mv_size - q->blen;
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
				        same_lang(pairs[j].ll, pairs[j].lang, ll, lang))) {
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
static int
scan_next(struct scan *s, struct hit *h)
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
			scan_restart(s);
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

/*
 * Page token: [fingerprint u32][tier][pref][flags][hits before u32][pos],
 * hex. The page resumes after pos in that tier and pass (at pos when flags
 * has TOKEN_AT: a scan stopped by the work cap).
 */
#define TOKEN_HEAD 11
#define TOKEN_AT 1u

static char *
token_make(od_arena *a, uint32_t fp, const struct hit *h, uint8_t flags, uint32_t before)
{
	uint8_t raw[TOKEN_HEAD + POS_MAX];
	char *tok = od_arena_alloc(a, 2 * sizeof(raw) + 1);
	if (tok == NULL) {
		return NULL;
	}
	raw[0] = (uint8_t) (fp >> 24);
	raw[1] = (uint8_t) (fp >> 16);
	raw[2] = (uint8_t) (fp >> 8);
	raw[3] = (uint8_t) fp;
	raw[4] = h->tier;
	raw[5] = h->pref;
	raw[6] = flags;
	raw[7] = (uint8_t) (before >> 24);
	raw[8] = (uint8_t) (before >> 16);
	raw[9] = (uint8_t) (before >> 8);
	raw[10] = (uint8_t) before;
	memcpy(raw + TOKEN_HEAD, h->pos, h->plen);
	od_hex_encode(raw, TOKEN_HEAD + (size_t) h->plen, tok);
	return tok;
}

orgdir_code
od_search(od_txn *t, od_arena *a, const Orgdir__V1__SearchRequest *r,
    Orgdir__V1__SearchResponse **out, orgdir_status *st)
{
	struct query q = {.n = 0};
	size_t ql = strlen(r->query);
	struct filter f = {
	    .t = t, .want_units = r->n_kinds == 0, .want_countries = r->n_kinds == 0};
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
			f.want_units = true;
		} else if (r->kinds[i] == ORGDIR__V1__SEARCH_REQUEST__KIND__COUNTRIES) {
			f.want_countries = true;
		} else {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "unknown kind %d", r->kinds[i]);
		}
	}
	f.pref = r->lang[0] != '\0' ? r->lang : NULL;
	if (f.pref != NULL && !od_lang_valid(f.pref)) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "lang '%.40s' is not a BCP 47 tag", f.pref);
	}
	f.under = r->under_unit_id;
	if (r->under_unit_id[0] != '\0') {
		if ((code = od_check_id("under_unit_id", r->under_unit_id, st)) != ORGDIR_OK) {
			return code;
		}
		if (!od_unit_exists(t, r->under_unit_id)) {
			return od_status_set(
			    st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", r->under_unit_id);
		}
		f.want_countries = false;
		/* No unit above the subtree's root can be in it. */
		char doc[DOC_MAX];
		MDB_val dk = {doc_key('u', r->under_unit_id, doc), doc};
		MDB_val dv;
		if (mdb_get(t->txn, t->s->search_docs, &dk, &dv) == 0 && dv.mv_size >= 2) {
			f.under_depth = ((const uint8_t *) dv.mv_data)[1];
		}
	}
	if (r->page_size < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "page_size must not be negative");
	}
	size_t want = r->page_size == 0 ? 20 : (r->page_size > 100 ? 100 : (size_t) r->page_size);

	/* Where the previous page stopped. */
	uint32_t fp = query_fingerprint(r);
	struct hit probe = {.tier = 0};
	bool resume = false, at = false;
	uint32_t before = 0;
	if (r->page_token[0] != '\0') {
		uint8_t raw[TOKEN_HEAD + POS_MAX + 8];
		long n = od_hex_decode(r->page_token, raw, sizeof(raw));
		uint32_t tfp = n >= TOKEN_HEAD ? (uint32_t) raw[0] << 24 | (uint32_t) raw[1] << 16 |
		        (uint32_t) raw[2] << 8 | raw[3]
		                               : 0;
		if (n < TOKEN_HEAD || n - TOKEN_HEAD >= POS_MAX || tfp != fp || raw[4] > 2 ||
		    raw[5] > 1 || raw[6] > TOKEN_AT) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "page_token is not a token from a previous page of this search");
		}
		probe.tier = raw[4];
		probe.pref = raw[5];
		at = raw[6] & TOKEN_AT;
		before = (uint32_t) raw[7] << 24 | (uint32_t) raw[8] << 16 |
		    (uint32_t) raw[9] << 8 | raw[10];
		probe.plen = (uint8_t) (n - TOKEN_HEAD);
		memcpy(probe.pos, raw + TOKEN_HEAD, probe.plen);
		resume = true;
	}

	/* Tiers 0 and 1: direct lookups of the whole query. */
	char qkey[OD_TEXTKEY_NORMALIZE_SIZE(QUERY_MAX)];
	size_t qkl = 0;
	od_textkey_normalize(r->query, ql, qkey, sizeof(qkey), &qkl, NULL);
	struct hit *names = NULL;
	size_t n_names = 0, ni = 0;
	struct posset set = {0};
	int rc = name_hits(&f, a, qkey, qkl, &names, &n_names, &set);
	if (rc != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the search index");
	}
	if (resume) {
		while (ni < n_names && hit_cmp(&names[ni], &probe) <= 0) {
			ni++;
		}
	}

	/* Tier 2: the query words' buckets, joined in ranking order. */
	struct scan s = {.f = &f, .ws = q.words, .n = q.n, .exclude = &set, .excluded = names};
	s.phases = f.pref != NULL ? 2 : 1;
	s.cap = PAGE_WORK_MAX;
	size_t opened = 0;
	for (; opened < q.n; opened++) {
		if (mdb_cursor_open(t->txn, t->s->search, &q.words[opened].c) != 0) {
			break;
		}
	}
	if (opened < q.n) {
		for (size_t i = 0; i < opened; i++) {
			mdb_cursor_close(q.words[i].c);
		}
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the search index");
	}
	/* The longest words first: usually the fewest docs, the fewest steps. */
	for (size_t i = 1; i < q.n; i++) {
		for (size_t j = i; j > 0 && q.words[j].len > q.words[j - 1].len; j--) {
			struct qword tmp = q.words[j];
			q.words[j] = q.words[j - 1];
			q.words[j - 1] = tmp;
		}
	}
	scan_restart(&s);
	if (resume && probe.tier == 2) {
		ni = n_names;
		s.phase = probe.pref;
		if (s.phase >= s.phases) {
			s.phase = s.phases;
		}
		memcpy(s.pos, probe.pos, probe.plen);
		s.plen = probe.plen;
		if (!at) {
			s.pos[s.plen++] = 0;
		}
	}
	struct hit *page = od_arena_alloc(a, (want + 1) * sizeof(*page));
	if (page == NULL) {
		rc = ENOMEM;
	}
	size_t take = 0;
	int state = SCAN_HIT;
	while (rc == 0 && take < want && ni < n_names) {
		page[take++] = names[ni++];
	}
	while (rc == 0 && take < want) {
		state = scan_next(&s, &page[take]);
		if (state != SCAN_HIT) {
			break;
		}
		take++;
	}
	/* Count what follows, within a budget of its own. */
	size_t after = n_names - ni;
	if (rc == 0 && state == SCAN_HIT) {
		struct hit tmp;
		s.cap = s.work + COUNT_WORK_MAX;
		while ((state = scan_next(&s, &tmp)) == SCAN_HIT) {
			after++;
		}
	}
	rc = rc != 0 ? rc : (state < 0 ? EIO : 0);
	for (size_t i = 0; i < q.n; i++) {
		mdb_cursor_close(q.words[i].c);
	}
	if (rc != 0) {
		return rc == ENOMEM
		    ? od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory")
		    : od_status_set(st, ORGDIR_INTERNAL, "cannot read the search index");
	}

	Orgdir__V1__SearchResponse *resp = od_arena_alloc(a, sizeof(*resp));
	Orgdir__V1__SearchHit **items = od_arena_alloc(a, (take + 1) * sizeof(*items));
	if (resp == NULL || items == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	orgdir__v1__search_response__init(resp);
	for (size_t i = 0; i < take; i++) {
		const struct hit *h = &page[i];
		Orgdir__V1__SearchHit *sh = od_arena_alloc(a, sizeof(*sh));
		char *lang = od_arena_strndup(a, h->lang != NULL ? h->lang : "", h->ll);
		if (sh == NULL || lang == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
		orgdir__v1__search_hit__init(sh);
		char id[DOC_MAX];
		memcpy(id, h->pos + 2, h->plen - 2u);
		id[h->plen - 2] = 0;
		if (h->pos[1] == 'u') {
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
		sh->lang = lang;
		sh->match = (Orgdir__V1__SearchHit__Match) (h->tier + 1);
		sh->depth = h->pos[0];
		items[i] = sh;
	}
	resp->hits = items;
	resp->n_hits = take;
	/* Exact unless the count ran out of budget: then the hits known. */
	uint64_t total = (uint64_t) before + take + after;
	resp->total_size = total > INT32_MAX ? INT32_MAX : (int32_t) total;
	if (after > 0 || state == SCAN_BUDGET) {
		uint32_t nb = before + (uint32_t) take;
		if (take == want) {
			resp->next_page_token = token_make(a, fp, &page[take - 1], 0, nb);
		} else {
			/* The work cap stopped this page short: go on from there. */
			struct hit here = {
			    .tier = 2, .pref = (uint8_t) s.phase, .plen = (uint8_t) s.plen};
			memcpy(here.pos, s.pos, s.plen);
			resp->next_page_token = token_make(a, fp, &here, TOKEN_AT, nb);
		}
		if (resp->next_page_token == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
	}
	*out = resp;
	return ORGDIR_OK;
}

/* Rebuilds the whole index (migrations to schemas 4 and 5). */
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
