/*
 * search_int.h - what the files of the search index share, and nothing
 * else includes: search_doc.c (what a doc is indexed under, the
 * search_docs record), search_keys.c (the keys of `search` a doc derives),
 * search_write.c (upkeep in write transactions, check.c's look-ups),
 * search_scan.c (hits in ranking order), search_query.c (od_search). The
 * index layout is described at the top of search_doc.c.
 *
 * Memory: every pointer these functions return or fill in points into the
 * arena passed in (or, where said, into bytes the caller passed), freed
 * with it; nothing here is freed on its own.
 */
#ifndef OD_STORE_SEARCH_INT_H
#define OD_STORE_SEARCH_INT_H

#include "store_int.h"
#include "textkey.h"

#define DOC_MAX (1 + OD_ID_MAX)
#define POS_MAX (1 + DOC_MAX + 1) /* depth, doc, a NUL to step past it */
#define BUCKET_MAX 16 /* three code points and the NUL */
#define KEY_MAX (BUCKET_MAX + POS_MAX)
#define NAME_TAG 0x01
#define NAME_KEY_LEN 9 /* tag + be64 hash */
#define WORDS_TAG 0x02 /* the key of a doc's words entry: tag + pos */
#define BUCKET_CPS 3 /* code points of a word's bucket */
#define OCC_BYTES_MAX 240 /* fields and languages kept per word */
#define COUNT16_MAX 0xFFFF

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

/* --- what a doc is indexed under (search_doc.c) --------------------------------------- */

struct occ {
	uint64_t pfx; /* word_prefix(word) (search_doc.c): sorts before the bytes */
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

/*
 * The words and names an update changed: od_search_derive() then makes
 * only the keys they are in (the buckets of the words, the hashes of the
 * names).
 */
struct only {
	const struct occ **words;
	size_t n_words;
	uint64_t *hashes;
	size_t n_hashes;
};

/* How od_search_add_text indexes a text. */
enum { WORDS_ONLY, WHOLE_NAME, EXACT_KEY };

/* Makes room in *arr (n used of *cap elements of elem bytes) for one more,
 * doubling into a new arena block (the old one stays in the arena). False
 * when the arena is exhausted; *arr and *cap are then unchanged. */
bool od_search_grow(od_arena *a, void **arr, size_t *cap, size_t n, size_t elem);
/* FNV-1a 64 of n bytes: the hash of a name key, of a position. */
uint64_t od_search_hash(const void *p, size_t n);
/* memcmp order, a prefix first: < 0, 0 or > 0. */
int od_search_bytes_cmp(const void *a, size_t al, const void *b, size_t bl);
/* The seq of the n-th word or name a builder adds at `rank`. */
uint32_t od_search_seq_of(uint8_t rank, size_t n);
/* A name's rank: whole names before exact keys, as a full build adds them. */
uint8_t od_search_name_rank(uint8_t rank, uint8_t tier);
/* Adds the words of text (field, lang: NULL or "" for none) to b->d, and
 * with `name` WHOLE_NAME or EXACT_KEY the text as one key (a name of tier
 * 1 or 0). Copies into b->a; on exhaustion sets b->oom. */
void od_search_add_text(
    struct builder *b, const char *text, uint8_t field, const char *lang, int name);
/* The words and names of the unit's fields in `fields` (bits 1 << F_*),
 * added to b as od_search_add_text does; f is only read. */
void od_search_add_unit_fields(
    struct builder *b, const struct od_search_fields *f, unsigned fields);
/* Whether two languages (al / bl bytes, 0 for none) are the same bytes. */
bool od_search_same_lang(uint8_t al, const char *a, uint8_t bl, const char *b);
/* A stable sort in place (the seq fields break ties). */
void od_search_sort_small(
    void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
/* Sorts and de-duplicates d in place, keeping what a record holds (at most
 * OCC_BYTES_MAX bytes and 255 pairs a word, COUNT16_MAX words and names):
 * equal input gives equal bytes (od_search_encode_doc). */
void od_search_canonicalize(struct doc *d);
/* The search_docs record of d (canonical), in a; *len its size. NULL when
 * the arena is exhausted. */
uint8_t *od_search_encode_doc(od_arena *a, const struct doc *d, size_t *len);
/* Reads a record of od_search_encode_doc into d: its strings point into p
 * (which must outlive d), its arrays into a. False for bytes that are not
 * such a record (or an exhausted arena). */
bool od_search_decode_doc(od_arena *a, const uint8_t *p, size_t n, struct doc *d);
/* Bytes of the first k code points of w (fewer if w is shorter: *got). */
size_t od_search_cp_prefix(const char *w, size_t len, size_t k, size_t *got);
/* The doc key `type` + id into out (DOC_MAX bytes, not NUL-terminated);
 * returns its length. */
size_t od_search_doc_key(char type, const char *id, char *out);

/* --- the keys a doc derives (search_keys.c) ------------------------------------------- */

/* Key order of two struct entry (for qsort, bsearch). */
int od_search_entry_cmp(const void *pa, const void *pb);
/* The keys and values of `search` for doc d (canonical) at doc (dl bytes),
 * sorted by key: all of them, or (only != NULL) those of the buckets and
 * hashes `only` names. *out (n_out entries) and the bytes it points to are
 * in a. 0, or ENOMEM when the arena is exhausted. */
int od_search_derive(od_arena *a, const struct doc *d, const char *doc, size_t dl,
    const struct only *only, struct entry **out, size_t *n_out);

/* --- a query's hits (search_scan.c, for search_query.c) ------------------------------- */

struct qword {
	char w[OD_TEXTKEY_WORD_MAX + 1];
	size_t len;
	uint8_t bkey[BUCKET_MAX]; /* the bucket it reads, NUL-terminated */
	size_t blen; /* with the NUL */
	MDB_cursor *c;
	bool on; /* c is on the first entry at or after the last position asked */
	MDB_val k, v;
};

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

/* A small open-addressing set of positions (the exact and whole-name hits). */
struct posset {
	uint64_t *keys;
	uint32_t *idx;
	size_t cap, n;
};

/* What a query is asked to keep. */
struct filter {
	od_txn *t;
	bool want_units, want_countries;
	const char *under; /* "" = anywhere */
	uint8_t under_depth;
	const char *pref; /* NULL = none */
};

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

/* Ranking order of two struct hit: tier, then language, then position. */
int od_search_hit_cmp(const void *pa, const void *pb);
/* The exact and whole-name hits of the normalised query qkey (qkl bytes)
 * that f keeps, ranked: at most NAME_HITS_MAX, the first in key order.
 * *out (in a; its languages borrowed from the snapshot) and `set` (in a)
 * hold them. 0, ENOMEM, or an LMDB error. */
int od_search_name_hits(const struct filter *f, od_arena *a, const char *qkey, size_t qkl,
    struct hit **out, size_t *n_out, struct posset *set);
/* Puts s back at the first position of its phase (its words' cursors
 * forgotten, not closed). */
void od_search_scan_restart(struct scan *s);
/* The next word-prefix hit into *h (its language borrowed from the
 * snapshot): SCAN_HIT, SCAN_END, SCAN_BUDGET (s->work reached s->cap) or
 * < 0 on an LMDB error. The cursors of s->ws are the caller's. */
int od_search_scan_next(struct scan *s, struct hit *h);

#endif
