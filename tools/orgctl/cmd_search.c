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

/* search: the hits of every page, at most --limit (100). */
#define SEARCH_PAGES_MAX 16
struct hit_list {
	Orgdir__V1__SearchRequest *rq;
	Orgdir__V1__SearchResponse *last; /* the page just fetched */
	Orgdir__V1__SearchHit *hits[100];
	size_t n;
};

static orgdir_code
fetch_hits(struct od_ctl *c, void *arg, int32_t page_size, const char *token,
    struct od_ctl_page *pg, orgdir_status *st)
{
	struct hit_list *l = arg;
	l->rq->page_size = page_size;
	l->rq->page_token = (char *) token;
	orgdir_code code = orgdir_search(c->client, l->rq, &pg->reply, &l->last, st);
	if (code == ORGDIR_OK) {
		pg->n = l->last->n_hits;
		pg->next_page_token = l->last->next_page_token;
		pg->total_size = l->last->total_size;
	}
	return code;
}

static int
keep_hits(struct od_ctl *c, void *arg, size_t take)
{
	struct hit_list *l = arg;
	(void) c;
	for (size_t i = 0; i < take && l->n < OD_ARRAY_LEN(l->hits); i++) {
		l->hits[l->n++] = l->last->hits[i];
	}
	return 0;
}

static int
run_search(struct od_ctl *c, const struct od_ctl_args *a)
{
	char query[1024];
	size_t n = 0;
	for (int i = 0; i < a->n_pos; i++) {
		size_t len = strlen(a->pos[i]);
		if (n + len + 2 > sizeof(query)) {
			return od_ctl_usage(c, "the query is too long");
		}
		if (n > 0) {
			query[n++] = ' ';
		}
		memcpy(query + n, a->pos[i], len);
		n += len;
	}
	query[n] = '\0';
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
	struct hit_list l = {.rq = &req};
	struct od_ctl_list how = {
	    .fetch = fetch_hits, .keep = keep_hits, .arg = &l, .max_pages = SEARCH_PAGES_MAX};
	struct od_ctl_pages p;
	rc = od_ctl_pages_run(c, &how, limit, 0, &p);
	if (rc != 0) {
		od_ctl_pages_free(&p);
		return rc;
	}
	/* The hits of every page as one answer (the last page's token and
	 * total, which count the earlier pages). */
	Orgdir__V1__SearchResponse all = ORGDIR__V1__SEARCH_RESPONSE__INIT;
	all.hits = l.hits;
	all.n_hits = l.n;
	all.next_page_token = (char *) p.token;
	all.total_size = p.total;
	Orgdir__V1__SearchResponse *r = &all;
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
		od_ctl_pages_free(&p);
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
	od_ctl_pages_free(&p);
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
