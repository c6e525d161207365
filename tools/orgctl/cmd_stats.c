/*
 * cmd_stats.c - `orgctl stats`: the organisation's headline figures, as a
 * person reads them:
 *
 *   175 member states, 8 observers, present in 171 countries (168 with a country office)
 *   10,126 units: 1 organization, 3 executive offices, ... (wrapped)
 *   revision 4,211
 */
#include <inttypes.h>
#include <string.h>

#include "orgctl.h"

/* The list of units by kind is wrapped at this width. */
#define WRAP_WIDTH 78

/* Each kind's words, in enum order: the order the figures are read in. */
static const struct {
	Orgdir__V1__Unit__Kind kind;
	const char *one;
	const char *many;
} kind_words[] = {
    {ORGDIR__V1__UNIT__KIND__ORGANIZATION, "organization", "organizations"},
    {ORGDIR__V1__UNIT__KIND__EXECUTIVE_OFFICE, "executive office", "executive offices"},
    {ORGDIR__V1__UNIT__KIND__DEPUTY_OFFICE, "deputy office", "deputy offices"},
    {ORGDIR__V1__UNIT__KIND__OFFICE, "office", "offices"},
    {ORGDIR__V1__UNIT__KIND__DEPARTMENT, "department", "departments"},
    {ORGDIR__V1__UNIT__KIND__DIVISION, "division", "divisions"},
    {ORGDIR__V1__UNIT__KIND__UNIT, "unit", "units"},
    {ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE, "regional office", "regional offices"},
    {ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE, "country office", "country offices"},
    {ORGDIR__V1__UNIT__KIND__SUB_OFFICE, "sub-office", "sub-offices"},
    {ORGDIR__V1__UNIT__KIND__LIAISON_OFFICE, "liaison office", "liaison offices"},
    {ORGDIR__V1__UNIT__KIND__OTHER, "other unit", "other units"},
};

/* Prints pieces separated by ", " on lines of at most WRAP_WIDTH columns;
 * a piece is never split, and continuation lines are indented by two. */
struct wrap {
	size_t col;
	bool first;
};

static void
wrap_piece(struct wrap *w, const char *piece)
{
	size_t n = strlen(piece);
	if (!w->first) {
		fputc(',', stdout);
		w->col++;
		if (w->col + 1 + n > WRAP_WIDTH) {
			fputs("\n ", stdout);
			w->col = 1;
		}
		fputc(' ', stdout);
		w->col++;
	}
	fputs(piece, stdout);
	w->col += n;
	w->first = false;
}

/* "1 member state", "10,126 units". */
static void
counted(char *buf, size_t n, uint64_t v, const char *one, const char *many)
{
	char num[32];
	od_ctl_format_count(v, num, sizeof(num));
	snprintf(buf, n, "%s %s", num, v == 1 ? one : many);
}

static void
print_stats(const Orgdir__V1__GetStatsResponse *r)
{
	char buf[256];
	char num[32];
	char members[64];
	char observers[64];
	char countries[64];
	counted(members, sizeof(members), r->member_states, "member state", "member states");
	counted(observers, sizeof(observers), r->observers, "observer", "observers");
	counted(countries, sizeof(countries), r->countries_with_presence, "country", "countries");
	od_ctl_format_count(r->countries_with_country_office, num, sizeof(num));
	/* One line, however long: it is the sentence people quote. */
	printf("%s, %s, present in %s (%s with a country office)\n", members, observers, countries,
	    num);

	counted(buf, sizeof(buf), r->total_units, "unit", "units");
	fputs(buf, stdout);
	struct wrap w = {strlen(buf) + 2, true}; /* and ": " */
	bool colon = false;
	for (size_t i = 0; i < OD_ARRAY_LEN(kind_words); i++) {
		for (size_t k = 0; k < r->n_units_by_kind; k++) {
			const Orgdir__V1__KindCount *kc = r->units_by_kind[k];
			if (kc->kind != kind_words[i].kind || kc->count == 0) {
				continue;
			}
			if (!colon) {
				fputs(": ", stdout);
				colon = true;
			}
			counted(buf, sizeof(buf), kc->count, kind_words[i].one, kind_words[i].many);
			wrap_piece(&w, buf);
		}
	}
	fputc('\n', stdout);

	od_ctl_format_count(r->revision, num, sizeof(num));
	printf("revision %s\n", num);
}

static int
run_stats(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__GetStatsResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_server_stats(c->client, &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		print_stats(r);
	}
	orgdir_reply_free(reply);
	return rc;
}

static const int no_opts[] = {OD_CTL_OPT_END};

static const struct od_ctl_verb stats_verbs[] = {
    {NULL, run_stats, "", "show the headline figures: members, presence, units by kind",
        "Prints the member states, observers and the countries where the\n"
        "organisation is present (and how many of them have a country office),\n"
        "then the units by kind and the store's revision. --json prints the\n"
        "GetStatsResponse, with every kind (even those with no unit).",
        no_opts, 0, 0, NULL},
};

const struct od_ctl_noun od_ctl_noun_stats = {"stats",
    "show the headline figures: members, presence, units by kind", stats_verbs,
    OD_ARRAY_LEN(stats_verbs)};
