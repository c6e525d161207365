/*
 * search_query.c - the Search query: its words and filters checked, a page
 * of hits (search_scan.c) turned into a response, and page tokens.
 * The index layout (keys of `search` and `search_docs`) is described at
 * the top of search_doc.c.
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
#include <string.h>

#include "search_int.h"

#define QUERY_MAX 512
#define QUERY_WORDS_MAX 8
/* Cursor steps per call to fill the page, then to count what follows. */
#define PAGE_WORK_MAX 20000
#define COUNT_WORK_MAX 1000

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
	size_t bl = od_search_cp_prefix(word, len, BUCKET_CPS, &got);
	if (got < BUCKET_CPS) {
		/* Shorter than a bucket: every doc's words entry is read. */
		w->bkey[0] = WORDS_TAG;
		w->blen = 1;
		return;
	}
	memcpy(w->bkey, word, bl);
	w->bkey[bl] = 0;
	w->blen = bl + 1;
}

/* Whether qword x is joined before y: a bucket before the words entries
 * (every doc has one), then the longest words first (usually the fewest
 * docs, the fewest steps). */
static bool
joined_before(const struct qword *x, const struct qword *y)
{
	bool xb = x->bkey[0] != WORDS_TAG, yb = y->bkey[0] != WORDS_TAG;
	return xb != yb ? xb : x->len > y->len;
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
		int d = od_unit_id_depth(t, r->under_unit_id);
		f.under_depth = d < 0 ? 0 : (d > 255 ? 255 : (uint8_t) d);
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
	int rc = od_search_name_hits(&f, a, qkey, qkl, &names, &n_names, &set);
	if (rc != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the search index");
	}
	if (resume) {
		while (ni < n_names && od_search_hit_cmp(&names[ni], &probe) <= 0) {
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
	for (size_t i = 1; i < q.n; i++) {
		for (size_t j = i; j > 0 && joined_before(&q.words[j], &q.words[j - 1]); j--) {
			struct qword tmp = q.words[j];
			q.words[j] = q.words[j - 1];
			q.words[j - 1] = tmp;
		}
	}
	od_search_scan_restart(&s);
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
		state = od_search_scan_next(&s, &page[take]);
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
		while ((state = od_search_scan_next(&s, &tmp)) == SCAN_HIT) {
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
			sh->unit = OD_PB_UNPACK(orgdir__v1__unit, &a->pb, uv.len, uv.data);
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
