/*
 * cmd_search.c - `orgctl search QUERY`: units and countries by a few letters
 * of their names, in any language, with their place in the tree.
 */
#include <stdlib.h>
#include <string.h>

#include "orgctl.h"

#define PATH_MAX_BYTES 1024

static const char *
field_name(int f)
{
	static const char *const names[] = {"", "id", "acronym", "name", "description",
	    "head title", "head name", "country name", "country code"};
	return f >= 0 && (size_t) f < OD_ARRAY_LEN(names) ? names[f] : "";
}

/* "Root › ... › Parent" for a unit, names in lang (empty for a root). */
static void
unit_path(struct od_ctl *c, const char *id, char *out, size_t cap)
{
	orgdir_reply *r = NULL;
	Orgdir__V1__GetAncestorsResponse *anc = NULL;
	orgdir_status st = {0};
	out[0] = '\0';
	if (orgdir_unit_ancestors(c->client, id, &r, &anc, &st) != ORGDIR_OK) {
		return;
	}
	for (size_t i = 0; i + 1 < anc->n_units; i++) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s%s", i ? " › " : "",
		    od_ctl_unit_name(anc->units[i], c->lang));
	}
	orgdir_reply_free(r);
}

static int
run_search(struct od_ctl *c, const struct od_ctl_args *a)
{
	char query[1024] = "";
	for (int i = 0; i < a->n_pos; i++) {
		size_t n = strlen(query);
		if (n + strlen(a->pos[i]) + 2 > sizeof(query)) {
			return od_ctl_usage(c, "the query is too long");
		}
		snprintf(query + n, sizeof(query) - n, "%s%s", n ? " " : "", a->pos[i]);
	}
	Orgdir__V1__SearchRequest req = ORGDIR__V1__SEARCH_REQUEST__INIT;
	Orgdir__V1__SearchRequest__Kind kind[1];
	const char *s;
	req.query = query;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_KIND)) != NULL) {
		if (strcmp(s, "unit") == 0 || strcmp(s, "units") == 0) {
			kind[0] = ORGDIR__V1__SEARCH_REQUEST__KIND__UNITS;
		} else if (strcmp(s, "country") == 0 || strcmp(s, "countries") == 0) {
			kind[0] = ORGDIR__V1__SEARCH_REQUEST__KIND__COUNTRIES;
		} else {
			return od_ctl_usage(c, "--kind: '%s' is not unit or country", s);
		}
		req.kinds = kind;
		req.n_kinds = 1;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_UNDER)) != NULL) {
		req.under_unit_id = (char *) s;
	}
	if (od_ctl_args_last(a, OD_CTL_OPT_LANG) != NULL || getenv("ORGDIR_LANG") != NULL) {
		req.lang = (char *) c->lang;
	}
	long limit = 20;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_LIMIT)) != NULL &&
	    !od_ctl_parse_long(s, 1, 100, &limit)) {
		return od_ctl_usage(c, "--limit: '%s' is not a number from 1 to 100", s);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	/* A page may come back short when the server's work cap per call ran
	 * out first: follow the tokens until `limit` hits (a few calls). */
	enum { PAGES_MAX = 16 };
	orgdir_reply *replies[PAGES_MAX] = {NULL};
	const Orgdir__V1__SearchHit *hits[100];
	size_t n_pages = 0, n_hits = 0;
	Orgdir__V1__SearchResponse *r = NULL;
	orgdir_status st = {0};
	char token[256] = "";
	do {
		req.page_token = token;
		req.page_size = (int32_t) (limit - (long) n_hits);
		if (orgdir_search(c->client, &req, &replies[n_pages], &r, &st) != ORGDIR_OK) {
			for (size_t i = 0; i < n_pages; i++) {
				orgdir_reply_free(replies[i]);
			}
			return od_ctl_fail(&st);
		}
		n_pages++;
		for (size_t i = 0; i < r->n_hits && n_hits < (size_t) limit; i++) {
			hits[n_hits++] = r->hits[i];
		}
		snprintf(token, sizeof(token), "%s", r->next_page_token);
	} while (token[0] != '\0' && n_hits < (size_t) limit && n_pages < PAGES_MAX);
	/* The hits of every page as one answer (the last page's token and
	 * total, which count the earlier pages). */
	Orgdir__V1__SearchResponse all = *r;
	all.hits = (Orgdir__V1__SearchHit **) hits;
	all.n_hits = n_hits;
	r = &all;
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
		for (size_t i = 0; i < n_pages; i++) {
			orgdir_reply_free(replies[i]);
		}
		return rc;
	}
	static const char *const headers[] = {"KIND", "ID", "NAME", "MATCHED", "PATH"};
	struct od_ctl_table t;
	/* The table keeps pointers: the texts it shows live in this arena. */
	od_arena texts;
	od_arena_init(&texts, 4u << 20);
	od_ctl_table_init(&t, 5, headers);
	for (size_t i = 0; i < r->n_hits; i++) {
		const Orgdir__V1__SearchHit *h = r->hits[i];
		char matched[64], path[PATH_MAX_BYTES];
		snprintf(matched, sizeof(matched), h->lang[0] ? "%s [%s]" : "%s%s",
		    field_name(h->field), h->lang);
		const char *cells[5];
		if (h->unit != NULL) {
			unit_path(c, h->unit->id, path, sizeof(path));
			cells[0] = od_ctl_kind_name(h->unit->kind);
			cells[1] = h->unit->id;
			cells[2] = od_ctl_unit_name(h->unit, c->lang);
		} else {
			path[0] = '\0';
			cells[0] = "country";
			cells[1] = h->country->code;
			cells[2] = od_ctl_pick(h->country->name, h->country->n_name, c->lang);
		}
		cells[3] = od_arena_strndup(&texts, matched, strlen(matched));
		cells[4] = od_arena_strndup(&texts, path, strlen(path));
		od_ctl_table_row(&t, cells);
	}
	rc = od_ctl_table_print(&t);
	od_arena_destroy(&texts);
	if (r->total_size > (int32_t) r->n_hits) {
		fprintf(stderr, "(%zu of %d hits shown; --limit up to 100)\n", r->n_hits,
		    r->total_size);
	} else if (r->next_page_token[0] != '\0') {
		fprintf(stderr, "(%zu hits shown, more match; --limit up to 100)\n", r->n_hits);
	}
	for (size_t i = 0; i < n_pages; i++) {
		orgdir_reply_free(replies[i]);
	}
	return rc;
}

static const int search_opts[] = {
    OD_CTL_OPT_KIND, OD_CTL_OPT_UNDER, OD_CTL_OPT_LIMIT, OD_CTL_OPT_END};
static const struct od_ctl_opthelp search_help[] = {
    {OD_CTL_OPT_KIND, "unit|country", "search only units or only countries"},
    {OD_CTL_OPT_LIMIT, NULL, "hits shown (1-100; default 20)"},
    {OD_CTL_OPT_END, NULL, NULL},
};

static const struct od_ctl_verb search_verbs[] = {
    {NULL, run_search, "QUERY...", "find units and countries by a few letters of their names",
        "Every word of QUERY must start a word of the unit's id, acronym, names,\n"
        "descriptions or head titles (any language), or of a country's names or\n"
        "codes; accents, case and apostrophes do not matter: 'cote divoire',\n"
        "'generale adj', 'DDG'. Hits are ranked: exact id or acronym, then whole\n"
        "names, then word prefixes; matches in --lang first; shallower units\n"
        "first. Each shows where it matched and its path in the tree.",
        search_opts, 1, 16, search_help},
};

const struct od_ctl_noun od_ctl_noun_search = {"search",
    "find units and countries by a few letters of their names", search_verbs,
    OD_ARRAY_LEN(search_verbs)};
