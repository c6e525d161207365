/*
 * cmd_country.c - `orgctl country ...`: the ISO 3166-1 countries and the
 * organisation's relation to each (membership, presence, regional office).
 *
 * Codes are sent as typed: the server knows ISO 3166-1, accepts any case
 * and alpha-3, and names a code it does not know in its error.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "orgctl.h"

/* Bytes `country set` may allocate to build its request. */
#define EDIT_ARENA_CAP (1u << 20)
/* Years are four digits; 0 = not recorded. */
#define YEAR_MAX 9999

/* --- words for the enums ------------------------------------------------------ */

static const struct {
	const char *arg; /* --membership value */
	Orgdir__V1__Membership__Status status;
	const char *record; /* `country get` */
	const char *column; /* `country ls` */
} memberships[] = {
    {"member", ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE, "member state", "member"},
    {"observer", ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER, "observer", "observer"},
    {"none", ORGDIR__V1__MEMBERSHIP__STATUS__NONE, "none", "-"},
};

static const struct {
	const char *arg; /* --presence value */
	Orgdir__V1__Presence__Level level;
	const char *text; /* record and table */
} presences[] = {
    {"auto", ORGDIR__V1__PRESENCE__LEVEL__LEVEL_UNSPECIFIED, "-"},
    {"absent", ORGDIR__V1__PRESENCE__LEVEL__ABSENT, "absent"},
    {"country-office", ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE, "country office"},
    {"sub-offices", ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES, "sub-offices"},
};

/* "member-state" and "member_state" too, any case; -1 when unknown. */
static int
parse_membership(const char *s)
{
	if (strcasecmp(s, "member-state") == 0 || strcasecmp(s, "member_state") == 0) {
		return ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	}
	for (size_t i = 0; i < OD_ARRAY_LEN(memberships); i++) {
		if (strcasecmp(s, memberships[i].arg) == 0) {
			return (int) memberships[i].status;
		}
	}
	return -1;
}

/* '_' for '-' too ("country_office"), any case; -1 when unknown. */
static int
parse_presence(const char *s)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(presences); i++) {
		const char *a = presences[i].arg;
		size_t n = strlen(a);
		bool same = strlen(s) == n;
		for (size_t k = 0; same && k < n; k++) {
			char x = s[k] == '_' ? '-' : s[k];
			same = (x | 0x20) == (a[k] | 0x20);
		}
		if (same) {
			return (int) presences[i].level;
		}
	}
	return -1;
}

static size_t
membership_at(int status)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(memberships); i++) {
		if ((int) memberships[i].status == status) {
			return i;
		}
	}
	return OD_ARRAY_LEN(memberships) - 1; /* a status from a newer server: "none" */
}

/* The effective level as a person says it; absent when the server left it
 * unset (no office, nothing declared). */
static const char *
presence_text(int level)
{
	for (size_t i = 1; i < OD_ARRAY_LEN(presences); i++) {
		if ((int) presences[i].level == level) {
			return presences[i].text;
		}
	}
	return "absent";
}

static bool
is_present(int level)
{
	return level == ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE ||
	    level == ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES;
}

static const char *
country_name(const Orgdir__V1__Country *k, const char *lang)
{
	const char *s = od_ctl_pick(k->name, k->n_name, lang);
	return s != NULL && *s != '\0' ? s : k->code;
}

/* --- the record ------------------------------------------------------------------ */

/* "co-fr, so-lyon" into b (NUL-terminated); false when out of memory. */
static bool
join_ids(od_buf *b, char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && !od_buf_append(b, ", ", 2)) ||
		    !od_buf_append(b, ids[i], strlen(ids[i]))) {
			return false;
		}
	}
	return od_buf_append(b, "", 1);
}

/* "ro-europe (Regional Office for Europe)" when the unit exists. Any
 * failure to read it leaves the bare id: the record is still worth
 * printing. */
static void
print_region(struct od_ctl *c, const char *id)
{
	if (id[0] == '\0') {
		return;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *u = NULL;
	orgdir_status st = {0};
	orgdir_code code = orgdir_unit_get(c->client, id, &reply, &u, &st);
	const char *name = code == ORGDIR_OK ? od_ctl_pick(u->name, u->n_name, c->lang) : NULL;
	char *text = NULL;
	if (code == ORGDIR_NOT_FOUND) {
		name = "no such unit";
	}
	if (name != NULL) {
		size_t n = strlen(id) + strlen(name) + 4;
		text = malloc(n);
		if (text != NULL) {
			snprintf(text, n, "%s (%s)", id, name);
		}
	}
	od_ctl_print_line("region", NULL, text != NULL ? text : id);
	free(text);
	orgdir_reply_free(reply);
}

static int
print_country(struct od_ctl *c, const Orgdir__V1__Country *k)
{
	char buf[64];
	od_ctl_print_line("code", NULL, k->code);
	od_ctl_print_line("alpha-3", NULL, k->alpha3);
	od_ctl_print_line("numeric", NULL, k->numeric);
	od_ctl_print_localized("name", k->name, k->n_name, c->lang);

	const Orgdir__V1__Membership *m = k->membership;
	int status = m != NULL ? (int) m->status : 0;
	const char *what = memberships[membership_at(status)].record;
	if (m != NULL && m->since_year != 0) {
		snprintf(buf, sizeof(buf), "%s since %d", what, (int) m->since_year);
		what = buf;
	}
	od_ctl_print_line("membership", NULL, what);

	const Orgdir__V1__Presence *p = k->presence;
	int level = p != NULL ? (int) p->level : 0;
	bool declared = p != NULL && p->declared != ORGDIR__V1__PRESENCE__LEVEL__LEVEL_UNSPECIFIED;
	if (declared) {
		snprintf(buf, sizeof(buf), "%s (declared)", presence_text(level));
	} else if (is_present(level)) {
		snprintf(buf, sizeof(buf), "%s (derived from the offices)", presence_text(level));
	} else {
		snprintf(buf, sizeof(buf), "absent");
	}
	od_ctl_print_line("presence", NULL, buf);
	if (p != NULL && p->n_office_unit_ids > 0) {
		od_buf b;
		od_buf_init(&b, 1u << 20);
		if (!join_ids(&b, p->office_unit_ids, p->n_office_unit_ids)) {
			od_buf_free(&b);
			return od_ctl_fail_local("out of memory");
		}
		od_ctl_print_line("offices", NULL, (const char *) b.data);
		od_buf_free(&b);
	}
	print_region(c, k->region_unit_id);
	od_ctl_print_line("notes", NULL, k->notes);
	od_ctl_print_line("etag", NULL, k->etag);
	od_ctl_format_time(k->update_time, buf, sizeof(buf));
	od_ctl_print_line("updated", NULL, buf);
	return 0;
}

static int
show_country(struct od_ctl *c, const Orgdir__V1__Country *k)
{
	if (c->json) {
		return od_ctl_print_json(&k->base);
	}
	return print_country(c, k);
}

/* --- get ---------------------------------------------------------------------------- */

static int
run_get(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Country *k = NULL;
	orgdir_status st = {0};
	if (orgdir_country_get(c->client, a->pos[0], &reply, &k, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	rc = show_country(c, k);
	orgdir_reply_free(reply);
	return rc;
}

/* --- ls ------------------------------------------------------------------------------- */

/* Every page's reply, kept until printed: the countries point into them. */
/* country ls: the countries of every page. */
struct country_list {
	Orgdir__V1__ListCountriesRequest *rq;
	Orgdir__V1__ListCountriesResponse *last; /* the page just fetched */
	Orgdir__V1__Country **items;
	size_t n, cap;
};

static orgdir_code
fetch_countries(struct od_ctl *c, void *arg, int32_t page_size, const char *token,
    struct od_ctl_page *pg, orgdir_status *st)
{
	struct country_list *l = arg;
	l->rq->page_size = page_size;
	l->rq->page_token = (char *) token;
	orgdir_code code = orgdir_country_list(c->client, l->rq, &pg->reply, &l->last, st);
	if (code == ORGDIR_OK) {
		pg->n = l->last->n_countries;
		pg->next_page_token = l->last->next_page_token;
		pg->total_size = l->last->total_size;
	}
	return code;
}

static int
keep_countries(struct od_ctl *c, void *arg, size_t take)
{
	struct country_list *l = arg;
	(void) c;
	Orgdir__V1__Country **k =
	    od_ctl_append(l->items, &l->cap, &l->n, l->last->countries, take, sizeof(*k));
	if (k == NULL) {
		return od_ctl_fail_local("out of memory");
	}
	l->items = k;
	return 0;
}

static int
print_table(struct od_ctl *c, Orgdir__V1__Country *const *items, size_t n)
{
	if (n == 0) {
		return 0;
	}
	/* The SINCE cells need storage that lives until the table is printed. */
	char(*years)[12] = calloc(n, sizeof(*years));
	if (years == NULL) {
		return od_ctl_fail_local("out of memory");
	}
	static const char *const headers[] = {
	    "CODE", "NAME", "MEMBERSHIP", "SINCE", "PRESENCE", "REGION"};
	struct od_ctl_table t;
	od_ctl_table_init(&t, OD_ARRAY_LEN(headers), headers);
	for (size_t i = 0; i < n; i++) {
		const Orgdir__V1__Country *k = items[i];
		const Orgdir__V1__Membership *m = k->membership;
		int status = m != NULL ? (int) m->status : 0;
		if (m != NULL && m->since_year != 0) {
			snprintf(years[i], sizeof(years[i]), "%d", (int) m->since_year);
		} else {
			snprintf(years[i], sizeof(years[i]), "-");
		}
		int level = k->presence != NULL ? (int) k->presence->level : 0;
		const char *row[] = {k->code, country_name(k, c->lang),
		    memberships[membership_at(status)].column, years[i],
		    is_present(level) ? presence_text(level) : "-",
		    k->region_unit_id[0] != '\0' ? k->region_unit_id : "-"};
		od_ctl_table_row(&t, row);
	}
	int rc = od_ctl_table_print(&t);
	free(years);
	return rc;
}

static int
run_ls(struct od_ctl *c, const struct od_ctl_args *a)
{
	long limit = 0;
	long page_size = 0;
	const char *s;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_LIMIT)) != NULL &&
	    !od_ctl_parse_long(s, 1, 1000000000L, &limit)) {
		return od_ctl_usage(c, "--limit: '%s' is not a number from 1 to 1000000000", s);
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_PAGE_SIZE)) != NULL &&
	    !od_ctl_parse_long(s, 1, OD_PAGE_MAX, &page_size)) {
		return od_ctl_usage(
		    c, "--page-size: '%s' is not a number from 1 to %d", s, OD_PAGE_MAX);
	}
	Orgdir__V1__ListCountriesRequest rq = ORGDIR__V1__LIST_COUNTRIES_REQUEST__INIT;
	Orgdir__V1__Membership__Status statuses[3];
	size_t n_statuses = 0;
	if (od_ctl_args_has(a, OD_CTL_OPT_MEMBER)) {
		statuses[n_statuses++] = ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	}
	if (od_ctl_args_has(a, OD_CTL_OPT_OBSERVER)) {
		statuses[n_statuses++] = ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER;
	}
	if (od_ctl_args_has(a, OD_CTL_OPT_NON_MEMBER)) {
		statuses[n_statuses++] = ORGDIR__V1__MEMBERSHIP__STATUS__NONE;
	}
	rq.membership = statuses;
	rq.n_membership = n_statuses;
	bool present = od_ctl_args_has(a, OD_CTL_OPT_PRESENT);
	bool absent = od_ctl_args_has(a, OD_CTL_OPT_ABSENT);
	if (present && absent) {
		return od_ctl_usage(c, "--present and --absent exclude each other");
	}
	rq.presence = present ? ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__PRESENT
	    : absent          ? ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__NOT_PRESENT
	                      : ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__ANY;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_REGION)) != NULL) {
		if (*s == '\0') {
			return od_ctl_usage(c, "--region: give the id of a regional office unit");
		}
		rq.region_unit_id = (char *) s;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_SORT)) != NULL) {
		if (strcasecmp(s, "name") == 0) {
			rq.order_by = ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_NAME;
			rq.lang = (char *) c->lang;
		} else if (strcasecmp(s, "code") != 0) {
			return od_ctl_usage(c, "--sort: '%s' is not 'code' or 'name'", s);
		}
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	struct country_list l = {.rq = &rq};
	struct od_ctl_list how = {.fetch = fetch_countries, .keep = keep_countries, .arg = &l};
	struct od_ctl_pages p;
	rc = od_ctl_pages_run(c, &how, limit, page_size, &p);
	if (rc == 0 && c->json) {
		/* One ListCountriesResponse for all pages; nextPageToken only
		 * when --limit stopped before the end. */
		Orgdir__V1__ListCountriesResponse all = ORGDIR__V1__LIST_COUNTRIES_RESPONSE__INIT;
		all.n_countries = l.n;
		all.countries = l.items;
		all.total_size = p.total;
		all.next_page_token = (char *) p.token;
		rc = od_ctl_print_json(&all.base);
	} else if (rc == 0) {
		rc = print_table(c, l.items, l.n);
	}
	free(l.items);
	od_ctl_pages_free(&p);
	return rc;
}

/* --- set ------------------------------------------------------------------------------ */

/* The options that set one field, and the update-mask path of each. */
static const struct {
	int opt;
	const char *path;
} field_paths[] = {
    {OD_CTL_OPT_MEMBERSHIP, "membership.status"},
    {OD_CTL_OPT_MEMBER_SINCE, "membership.since_year"},
    {OD_CTL_OPT_REGION, "region_unit_id"},
    {OD_CTL_OPT_PRESENCE, "presence.declared"},
    {OD_CTL_OPT_NOTES, "notes"},
    {OD_CTL_OPT_NAME, "name"},
};

/* Every value is checked before anything is sent: a usage error must not
 * depend on the server. */
static int
check_fields(struct od_ctl *c, const struct od_ctl_args *a)
{
	for (int i = 0; i < a->n_opts; i++) {
		int opt = a->opts[i].opt;
		const char *v = a->opts[i].val;
		const char *name = od_ctl_opts[opt].name;
		if (v == NULL) {
			continue;
		}
		if (!od_utf8_valid(v, strlen(v))) {
			return od_ctl_usage(c, "--%s: the value is not valid UTF-8", name);
		}
		long year;
		size_t ll;
		const char *text;
		switch (opt) {
		case OD_CTL_OPT_MEMBERSHIP:
			if (parse_membership(v) < 0) {
				return od_ctl_usage(
				    c, "--membership: '%s' is not member, observer or none", v);
			}
			break;
		case OD_CTL_OPT_MEMBER_SINCE:
			if (!od_ctl_parse_long(v, 0, YEAR_MAX, &year)) {
				return od_ctl_usage(
				    c, "--member-since: '%s' is not a year (0 = not recorded)", v);
			}
			break;
		case OD_CTL_OPT_PRESENCE:
			if (parse_presence(v) < 0) {
				return od_ctl_usage(c,
				    "--presence: '%s' is not auto, absent, country-office or "
				    "sub-offices",
				    v);
			}
			break;
		case OD_CTL_OPT_NAME:
			if (!od_ctl_parse_lang_text(v, &ll, &text)) {
				return od_ctl_usage(c,
				    "--name: '%s' is not LANG=TEXT with a language tag such as fr, "
				    "en, pt-BR",
				    v);
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

struct edit {
	od_arena ar;
	Orgdir__V1__Country country;
	Orgdir__V1__Membership membership;
	Orgdir__V1__Presence presence;
	const char *paths[OD_ARRAY_LEN(field_paths)];
	size_t n_paths;
};

/*
 * Fills e->country from the field options and e->paths with the mask path
 * of each field given. Strings are borrowed from argv or allocated in
 * e->ar.
 *
 * --name: a country's names are the ISO 3166-1 ones with its overrides in
 * their languages' place, and GetCountry returns them merged, so a client
 * cannot tell an override from an ISO name. Sending what was read back
 * would freeze every ISO name as an override; so the list sent is the
 * overrides given on this command line (LANG= with no text drops that
 * language from it), and the server replaces the override list with it.
 */
static bool
edit_fill(struct edit *e, const struct od_ctl_args *a)
{
	Orgdir__V1__Country *k = &e->country;
	for (size_t f = 0; f < OD_ARRAY_LEN(field_paths); f++) {
		int opt = field_paths[f].opt;
		const char *v = od_ctl_args_last(a, opt);
		if (v == NULL) {
			continue;
		}
		e->paths[e->n_paths++] = field_paths[f].path;
		long year = 0;
		switch (opt) {
		case OD_CTL_OPT_MEMBERSHIP:
			e->membership.status = (Orgdir__V1__Membership__Status) parse_membership(v);
			k->membership = &e->membership;
			break;
		case OD_CTL_OPT_MEMBER_SINCE:
			(void) od_ctl_parse_long(v, 0, YEAR_MAX, &year);
			e->membership.since_year = (int32_t) year;
			k->membership = &e->membership;
			break;
		case OD_CTL_OPT_REGION:
			k->region_unit_id = (char *) (strcmp(v, "-") == 0 ? "" : v);
			break;
		case OD_CTL_OPT_PRESENCE:
			e->presence.declared = (Orgdir__V1__Presence__Level) parse_presence(v);
			k->presence = &e->presence;
			break;
		case OD_CTL_OPT_NOTES:
			k->notes = (char *) v;
			break;
		case OD_CTL_OPT_NAME:
			if (!od_ctl_merge_localized(
			        &e->ar, a, opt, NULL, 0, &k->name, &k->n_name)) {
				return false;
			}
			break;
		default:
			break;
		}
	}
	return true;
}

static int
run_set(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = check_fields(c, a);
	if (rc != 0) {
		return rc;
	}
	bool any = false;
	for (size_t f = 0; f < OD_ARRAY_LEN(field_paths); f++) {
		any = any || od_ctl_args_has(a, field_paths[f].opt);
	}
	if (!any) {
		return od_ctl_usage(c, "nothing to change: give at least one field option");
	}
	if ((rc = od_ctl_client(c)) != 0) {
		return rc;
	}
	struct edit e;
	od_arena_init(&e.ar, EDIT_ARENA_CAP);
	orgdir__v1__country__init(&e.country);
	orgdir__v1__membership__init(&e.membership);
	orgdir__v1__presence__init(&e.presence);
	e.n_paths = 0;
	e.country.code = a->pos[0];
	const char *if_match = od_ctl_args_last(a, OD_CTL_OPT_IF_MATCH);
	if (if_match != NULL && *if_match != '\0') {
		e.country.etag = (char *) if_match;
	}
	if (!edit_fill(&e, a)) {
		od_arena_destroy(&e.ar);
		return od_ctl_fail_local("out of memory");
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Country *k = NULL;
	orgdir_status st = {0};
	if (orgdir_country_update(c->client, &e.country, e.paths, e.n_paths, &reply, &k, &st) !=
	    ORGDIR_OK) {
		rc = od_ctl_fail(&st);
	} else {
		rc = show_country(c, k);
		orgdir_reply_free(reply);
	}
	od_arena_destroy(&e.ar);
	return rc;
}

/* --- the table ---------------------------------------------------------------------- */

static const int get_opts[] = {OD_CTL_OPT_END};
static const int ls_opts[] = {OD_CTL_OPT_MEMBER, OD_CTL_OPT_OBSERVER, OD_CTL_OPT_NON_MEMBER,
    OD_CTL_OPT_PRESENT, OD_CTL_OPT_ABSENT, OD_CTL_OPT_REGION, OD_CTL_OPT_SORT, OD_CTL_OPT_LIMIT,
    OD_CTL_OPT_PAGE_SIZE, OD_CTL_OPT_END};
static const int set_opts[] = {OD_CTL_OPT_MEMBERSHIP, OD_CTL_OPT_MEMBER_SINCE, OD_CTL_OPT_REGION,
    OD_CTL_OPT_PRESENCE, OD_CTL_OPT_NOTES, OD_CTL_OPT_NAME, OD_CTL_OPT_IF_MATCH, OD_CTL_OPT_END};

static const struct od_ctl_opthelp ls_help[] = {
    {OD_CTL_OPT_MEMBER, NULL, "only member states"},
    {OD_CTL_OPT_OBSERVER, NULL, "only observers"},
    {OD_CTL_OPT_NON_MEMBER, NULL, "only countries neither member nor observer"},
    {OD_CTL_OPT_REGION, NULL, "only countries covered by this regional office"},
    {OD_CTL_OPT_SORT, "KEY", "code (the default) or name (in --lang)"},
    {OD_CTL_OPT_LIMIT, NULL, "stop after N countries"},
    {OD_CTL_OPT_PAGE_SIZE, NULL, "countries per request (1-1000; default: the server's)"},
    {OD_CTL_OPT_END, NULL, NULL},
};

static const struct od_ctl_opthelp set_help[] = {
    {OD_CTL_OPT_REGION, "UNIT|-", "the regional office covering it ('-' for none)"},
    {OD_CTL_OPT_NAME, NULL, "name override in one language (repeat; see above)"},
    {OD_CTL_OPT_IF_MATCH, NULL, "act only if the country's etag is still ETAG (else ABORTED)"},
    {OD_CTL_OPT_END, NULL, NULL},
};

static const struct od_ctl_verb country_verbs[] = {
    {"get", run_get, "CC", "show one country",
        "CC is an ISO 3166-1 alpha-2 or alpha-3 code in any case (FR, fr, FRA).\n"
        "Prints its codes, its name in --lang first (falling back to English)\n"
        "then in the other languages, its membership, the organisation's presence\n"
        "there (declared by hand, or derived from the offices located in it, which\n"
        "are listed), its regional office and notes. A code ISO 3166-1 does not\n"
        "know fails with INVALID_ARGUMENT (exit 13).",
        get_opts, 1, 1, NULL},
    {"ls", run_ls, "[filters] [--sort code|name] [--limit N] [--page-size N]",
        "list the countries, with filters",
        "Lists the countries of ISO 3166-1 (249) that pass the filters: their name\n"
        "in --lang, membership, year joined, presence and regional office. Every\n"
        "page is fetched unless --limit stops earlier. Filters: --member,\n"
        "--observer and --non-member combine (--member --observer lists both);\n"
        "--present or --absent; --region UNIT. --sort name sorts by the name in\n"
        "--lang, ignoring accents and case. With --json, all pages are merged into\n"
        "one ListCountriesResponse.",
        ls_opts, 0, 0, ls_help},
    {"set", run_set, "CC [field options] [--if-match ETAG]",
        "change a country's membership, presence, region, notes or names",
        "Changes only the fields given and prints the country as stored.\n"
        "--presence declares a presence the directory has no office unit for;\n"
        "auto goes back to deriving it from the units located in the country.\n"
        "--name overrides the ISO 3166-1 name in a language. The overrides given\n"
        "replace all earlier ones, so repeat --name for each override to keep;\n"
        "--name LANG= with no text removes that language's override (the ISO\n"
        "name shows again). --if-match makes the change conditional: a stale\n"
        "etag fails with ABORTED (exit 20).",
        set_opts, 1, 1, set_help},
};

const struct od_ctl_noun od_ctl_noun_country = {"country",
    "read and change the countries: membership, presence, regional office", country_verbs,
    OD_ARRAY_LEN(country_verbs)};
