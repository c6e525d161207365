/* discover.c - learns the ids of the organisation a server holds, so the
 * workloads can pick random units, parents and leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

typedef struct growing {
	ob_org *o;
	size_t cap;
	bool *has_children; /* by index */
	size_t query_cap;
	uint64_t rng; /* for the search queries: the same org gives the same ones */
} growing;

/* --- search queries --------------------------------------------------------- */

#define WORDS_MAX 32

typedef struct word {
	const char *p;
	size_t len; /* bytes */
	size_t letters; /* code points */
} word;

/* Letters: ASCII letters and every non-ASCII code point (accented letters);
 * anything else (spaces, digits, apostrophes, hyphens) separates words. */
static bool
is_letter(unsigned char ch)
{
	return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The words of 3+ letters of text. */
static size_t
split_words(const char *text, word *w, size_t max)
{
	size_t n = 0;
	const char *p = text;
	while (*p != '\0' && n < max) {
		while (*p != '\0' && !is_letter((unsigned char) *p)) {
			p++;
		}
		const char *start = p;
		size_t letters = 0;
		while (*p != '\0' && is_letter((unsigned char) *p)) {
			letters += ((unsigned char) *p & 0xc0) != 0x80; /* not a continuation */
			p++;
		}
		if (letters >= 3) {
			w[n++] = (word){start, (size_t) (p - start), letters};
		}
	}
	return n;
}

/* Appends the first k code points of w to out (pos: its length so far). */
static size_t
put_prefix(char *out, size_t pos, const word *w, size_t k)
{
	size_t i = 0;
	for (size_t seen = 0; i < w->len; i++) {
		if (((unsigned char) w->p[i] & 0xc0) != 0x80 && seen++ == k) {
			break;
		}
	}
	memcpy(out + pos, w->p, i);
	return pos + i;
}

/*
 * One query for unit u, as a person would type it: a language among
 * en/fr/es at random (the others if that name has fewer than two words of
 * 3+ letters), two distinct words of its name in their order, each cut to
 * a prefix of 3 to 6 letters ("Division de la santé des migrants 12" ->
 * "divi sant"). None when no name has two such words.
 */
static int
add_query(growing *g, const Orgdir__V1__Unit *u)
{
	static const char *const langs[3] = {"en", "fr", "es"};
	ob_org *o = g->o;
	unsigned first = (unsigned) ob_rand_below(&g->rng, 3);
	for (unsigned t = 0; t < 3; t++) {
		const char *lang = langs[(first + t) % 3];
		const char *text = NULL;
		for (size_t i = 0; i < u->n_name && text == NULL; i++) {
			if (strcmp(u->name[i]->lang, lang) == 0) {
				text = u->name[i]->text;
			}
		}
		word w[WORDS_MAX];
		size_t n = text != NULL ? split_words(text, w, WORDS_MAX) : 0;
		if (n < 2) {
			continue;
		}
		size_t a = (size_t) ob_rand_below(&g->rng, n);
		size_t b = (size_t) ob_rand_below(&g->rng, n - 1);
		b += b >= a; /* distinct from a */
		if (a > b) {
			size_t x = a;
			a = b;
			b = x;
		}
		char q[2 * 6 * 4 + 2];
		size_t ka = 3 + (size_t) ob_rand_below(&g->rng, 4);
		size_t kb = 3 + (size_t) ob_rand_below(&g->rng, 4);
		size_t len = put_prefix(q, 0, &w[a], ka);
		q[len++] = ' ';
		len = put_prefix(q, len, &w[b], kb);
		q[len] = '\0';
		if (o->n_queries == g->query_cap) {
			size_t cap = g->query_cap ? g->query_cap * 2 : 1024;
			char **qs = realloc(o->queries, cap * sizeof(*qs));
			if (qs == NULL) {
				return -1;
			}
			o->queries = qs;
			char(*ls)[4] = realloc(o->query_langs, cap * sizeof(*ls));
			if (ls == NULL) {
				return -1;
			}
			o->query_langs = ls;
			g->query_cap = cap;
		}
		if ((o->queries[o->n_queries] = strdup(q)) == NULL) {
			return -1;
		}
		memcpy(o->query_langs[o->n_queries], lang, 3);
		o->n_queries++;
		return 0;
	}
	return 0;
}

static int
add_id(growing *g, const char *id)
{
	ob_org *o = g->o;
	if (o->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1024;
		char **ids = realloc(o->ids, cap * sizeof(*ids));
		if (ids == NULL) {
			return -1;
		}
		o->ids = ids;
		bool *hc = realloc(g->has_children, cap * sizeof(*hc));
		if (hc == NULL) {
			return -1;
		}
		g->has_children = hc;
		g->cap = cap;
	}
	char *dup = strdup(id);
	if (dup == NULL) {
		return -1;
	}
	g->has_children[o->n] = false;
	o->ids[o->n++] = dup;
	return 0;
}

/* Splits the ids into parents and leaves. */
static int
classify(growing *g)
{
	ob_org *o = g->o;
	o->parents = malloc((o->n ? o->n : 1) * sizeof(*o->parents));
	o->leaves = malloc((o->n ? o->n : 1) * sizeof(*o->leaves));
	if (o->parents == NULL || o->leaves == NULL) {
		return -1;
	}
	for (size_t i = 0; i < o->n; i++) {
		if (g->has_children[i]) {
			o->parents[o->n_parents++] = (uint32_t) i;
		} else {
			o->leaves[o->n_leaves++] = (uint32_t) i;
		}
	}
	return 0;
}

/* One GetSubtree of everything: nodes come depth-first with their depth. */
static orgdir_code
from_subtree(nng_socket s, const char *token, int timeout_ms, growing *g, char *err, size_t errlen)
{
	ob_arena a;
	ob_arena_init(&a, 0);
	Orgdir__V1__GetSubtreeRequest req = ORGDIR__V1__GET_SUBTREE_REQUEST__INIT;
	Orgdir__V1__Response *r;
	orgdir_code code =
	    ob_call(s, "GetSubtree", &req.base, token, timeout_ms, &a, &r, err, errlen);
	if (code == ORGDIR_OK) {
		Orgdir__V1__GetSubtreeResponse *t = (Orgdir__V1__GetSubtreeResponse *) od_pb_unpack(
		    &orgdir__v1__get_subtree_response__descriptor, &a.a.pb, r->body.len,
		    r->body.data);
		size_t stack[OD_TREE_DEPTH_MAX + 2];
		if (t == NULL) {
			snprintf(err, errlen, "GetSubtree: malformed reply");
			code = ORGDIR_INTERNAL;
		}
		for (size_t i = 0; code == ORGDIR_OK && i < t->n_nodes; i++) {
			const Orgdir__V1__SubtreeNode *nd = t->nodes[i];
			if (nd->unit == NULL || nd->depth >= OD_ARRAY_LEN(stack)) {
				snprintf(err, errlen, "GetSubtree: node %zu is malformed", i);
				code = ORGDIR_INTERNAL;
			} else if (add_id(g, nd->unit->id) != 0 || add_query(g, nd->unit) != 0) {
				snprintf(err, errlen, "out of memory");
				code = ORGDIR_RESOURCE_EXHAUSTED;
			} else {
				if (nd->depth > 0) {
					g->has_children[stack[nd->depth - 1]] = true;
				}
				stack[nd->depth] = g->o->n - 1;
			}
		}
	}
	ob_arena_destroy(&a);
	return code;
}

/* Breadth-first with ListUnits, for organisations too large for one reply. */
static orgdir_code
from_listing(nng_socket s, const char *token, int timeout_ms, growing *g, char *err, size_t errlen)
{
	ob_arena a;
	ob_arena_init(&a, 1 << 20);
	orgdir_code code = ORGDIR_OK;
	/* Index -1 lists the roots; then each unit in discovery order. */
	for (long next = -1; code == ORGDIR_OK && next < (long) g->o->n; next++) {
		char page[512] = "";
		do {
			Orgdir__V1__ListUnitsRequest req = ORGDIR__V1__LIST_UNITS_REQUEST__INIT;
			Orgdir__V1__Response *r;
			req.parent_id = next < 0 ? "" : g->o->ids[next];
			req.page_size = OD_PAGE_MAX;
			req.page_token = page;
			code = ob_call(
			    s, "ListUnits", &req.base, token, timeout_ms, &a, &r, err, errlen);
			if (code != ORGDIR_OK) {
				break;
			}
			Orgdir__V1__ListUnitsResponse *l =
			    (Orgdir__V1__ListUnitsResponse *) od_pb_unpack(
			        &orgdir__v1__list_units_response__descriptor, &a.a.pb, r->body.len,
			        r->body.data);
			if (l == NULL || strlen(l->next_page_token) >= sizeof(page)) {
				snprintf(err, errlen, "ListUnits: malformed reply");
				code = ORGDIR_INTERNAL;
				break;
			}
			for (size_t i = 0; i < l->n_units && code == ORGDIR_OK; i++) {
				if (add_id(g, l->units[i]->id) != 0 ||
				    add_query(g, l->units[i]) != 0) {
					snprintf(err, errlen, "out of memory");
					code = ORGDIR_RESOURCE_EXHAUSTED;
				}
			}
			if (next >= 0 && l->n_units > 0) {
				g->has_children[next] = true;
			}
			snprintf(page, sizeof(page), "%s", l->next_page_token);
			ob_arena_reset(&a);
		} while (code == ORGDIR_OK && page[0] != '\0');
	}
	ob_arena_destroy(&a);
	return code;
}

int
ob_discover(nng_socket s, const char *token, int timeout_ms, ob_org *o, char *err, size_t errlen)
{
	growing g = {o, 0, NULL, 0, 0x5ea4c4};
	memset(o, 0, sizeof(*o));
	orgdir_code code = from_subtree(s, token, timeout_ms, &g, err, errlen);
	if (code == ORGDIR_RESOURCE_EXHAUSTED && o->n == 0) {
		code = from_listing(s, token, timeout_ms, &g, err, errlen);
	}
	if (code == ORGDIR_OK && o->n == 0) {
		snprintf(
		    err, errlen, "the server holds no units: seed it first (orgdird --seed FILE)");
		code = ORGDIR_FAILED_PRECONDITION;
	}
	if (code == ORGDIR_OK && classify(&g) != 0) {
		snprintf(err, errlen, "out of memory");
		code = ORGDIR_RESOURCE_EXHAUSTED;
	}
	free(g.has_children);
	if (code != ORGDIR_OK) {
		ob_org_free(o);
		return -1;
	}
	return 0;
}

void
ob_org_free(ob_org *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->ids[i]);
	}
	free(o->ids);
	for (size_t i = 0; i < o->n_queries; i++) {
		free(o->queries[i]);
	}
	free(o->queries);
	free(o->query_langs);
	free(o->parents);
	free(o->leaves);
	memset(o, 0, sizeof(*o));
}
