/* cmd_unit.c - `orgctl unit ...`: read and change the organisation chart. */
#include <stdlib.h>
#include <string.h>

#include "orgctl.h"

/* Bytes a command may allocate to build one request (names and texts
 * come from argv, so this is generous). */
#define EDIT_ARENA_CAP (16u << 20)

static int
show_unit(struct od_ctl *c, const Orgdir__V1__Unit *u)
{
	if (c->json) {
		return od_ctl_print_json(&u->base);
	}
	od_ctl_print_unit(c, u);
	return 0;
}

/* "-" and "" both mean "no unit" (a root) where a parent is expected. */
static const char *
parent_arg(const char *s)
{
	return s == NULL || strcmp(s, "-") == 0 ? "" : s;
}

/* --- get ---------------------------------------------------------------------- */

static int
run_get(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *u = NULL;
	orgdir_status st = {0};
	if (orgdir_unit_get(c->client, a->pos[0], &reply, &u, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	rc = show_unit(c, u);
	orgdir_reply_free(reply);
	return rc;
}

/* --- ls ------------------------------------------------------------------------- */

/* unit ls: the units of every page. */
struct unit_list {
	const char *parent;
	Orgdir__V1__ListUnitsResponse *last; /* the page just fetched */
	Orgdir__V1__Unit **units;
	size_t n, cap;
};

static orgdir_code
fetch_units(struct od_ctl *c, void *arg, int32_t page_size, const char *token,
    struct od_ctl_page *pg, orgdir_status *st)
{
	struct unit_list *l = arg;
	orgdir_code code =
	    orgdir_unit_list(c->client, l->parent, page_size, token, &pg->reply, &l->last, st);
	if (code == ORGDIR_OK) {
		pg->n = l->last->n_units;
		pg->next_page_token = l->last->next_page_token;
		pg->total_size = l->last->total_size;
	}
	return code;
}

static int
keep_units(struct od_ctl *c, void *arg, size_t take)
{
	struct unit_list *l = arg;
	(void) c;
	Orgdir__V1__Unit **u =
	    od_ctl_append(l->units, &l->cap, &l->n, l->last->units, take, sizeof(*u));
	if (u == NULL) {
		return od_ctl_fail_local("out of memory");
	}
	l->units = u;
	return 0;
}

static int
print_units_table(struct od_ctl *c, Orgdir__V1__Unit *const *units, size_t n)
{
	if (n == 0) {
		return 0;
	}
	static const char *const headers[] = {"ID", "KIND", "ACRONYM", "NAME"};
	struct od_ctl_table t;
	od_ctl_table_init(&t, OD_ARRAY_LEN(headers), headers);
	for (size_t i = 0; i < n; i++) {
		const Orgdir__V1__Unit *u = units[i];
		const char *name = od_ctl_pick(u->name, u->n_name, c->lang);
		const char *row[] = {u->id, od_ctl_kind_name(u->kind), u->acronym, name};
		od_ctl_table_row(&t, row);
	}
	return od_ctl_table_print(&t);
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
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	struct unit_list l = {.parent = parent_arg(a->n_pos > 0 ? a->pos[0] : NULL)};
	struct od_ctl_list how = {.fetch = fetch_units, .keep = keep_units, .arg = &l};
	struct od_ctl_pages p;
	rc = od_ctl_pages_run(c, &how, limit, page_size, &p);
	if (rc == 0 && c->json) {
		/* One ListUnitsResponse for all pages; nextPageToken only when
		 * --limit stopped before the end. */
		Orgdir__V1__ListUnitsResponse all = ORGDIR__V1__LIST_UNITS_RESPONSE__INIT;
		all.n_units = l.n;
		all.units = l.units;
		all.total_size = p.total;
		all.next_page_token = (char *) p.token;
		rc = od_ctl_print_json(&all.base);
	} else if (rc == 0) {
		rc = print_units_table(c, l.units, l.n);
	}
	free(l.units);
	od_ctl_pages_free(&p);
	return rc;
}

/* --- tree and path --------------------------------------------------------------- */

static int
run_tree(struct od_ctl *c, const struct od_ctl_args *a)
{
	long depth = 0;
	const char *s = od_ctl_args_last(a, OD_CTL_OPT_DEPTH);
	if (s != NULL && !od_ctl_parse_long(s, 0, OD_TREE_DEPTH_MAX, &depth)) {
		return od_ctl_usage(
		    c, "--depth: '%s' is not a number from 0 to %d", s, OD_TREE_DEPTH_MAX);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	const char *root = parent_arg(a->n_pos > 0 ? a->pos[0] : NULL);
	orgdir_reply *reply = NULL;
	Orgdir__V1__GetSubtreeResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_unit_subtree(c->client, root, (int) depth, &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		rc = od_ctl_print_tree(c, r, od_ctl_args_has(a, OD_CTL_OPT_IDS));
	}
	orgdir_reply_free(reply);
	return rc;
}

static int
run_path(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__GetAncestorsResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_unit_ancestors(c->client, a->pos[0], &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		bool ids = od_ctl_args_has(a, OD_CTL_OPT_IDS);
		for (size_t i = 0; i < r->n_units; i++) {
			const Orgdir__V1__Unit *u = r->units[i];
			if (i > 0) {
				fputs(" › ", stdout);
			}
			od_ctl_put(stdout, ids ? u->id : od_ctl_unit_name(u, c->lang));
		}
		fputc('\n', stdout);
	}
	orgdir_reply_free(reply);
	return rc;
}

/* --- add and set: a unit from options ------------------------------------------- */

/* The options that set one field, and the update-mask path each one means. */
static const struct {
	int opt;
	const char *path;
} field_paths[] = {
    {OD_CTL_OPT_KIND, "kind"},
    {OD_CTL_OPT_NAME, "name"},
    {OD_CTL_OPT_DESCRIPTION, "description"},
    {OD_CTL_OPT_ACRONYM, "acronym"},
    {OD_CTL_OPT_HEAD_TITLE, "head.title"},
    {OD_CTL_OPT_HEAD_NAME, "head.name"},
    {OD_CTL_OPT_HEAD_EMAIL, "head.email"},
    {OD_CTL_OPT_HEAD_PHONE, "head.phone"},
    {OD_CTL_OPT_COUNTRY, "location.country_code"},
    {OD_CTL_OPT_CITY, "location.city"},
    {OD_CTL_OPT_EMAIL, "contact.email"},
    {OD_CTL_OPT_PHONE, "contact.phone"},
    {OD_CTL_OPT_URL, "contact.url"},
    {OD_CTL_OPT_SORT, "sort_order"},
};

static bool
is_localized(int opt)
{
	return opt == OD_CTL_OPT_NAME || opt == OD_CTL_OPT_DESCRIPTION ||
	    opt == OD_CTL_OPT_HEAD_TITLE;
}

/* Checks every field option before anything is sent: a usage error must
 * not depend on the server. `adding`: empty localized text is an error
 * (nothing to remove). */
static int
check_fields(struct od_ctl *c, const struct od_ctl_args *a, bool adding)
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
		if (is_localized(opt)) {
			size_t ll;
			const char *text;
			if (!od_ctl_parse_lang_text(v, &ll, &text)) {
				return od_ctl_usage(c,
				    "--%s: '%s' is not LANG=TEXT with a language tag such as fr, "
				    "en, pt-BR",
				    name, v);
			}
			if (adding && *text == '\0') {
				return od_ctl_usage(c, "--%s: '%s' has an empty text", name, v);
			}
		} else if (opt == OD_CTL_OPT_KIND) {
			if (od_ctl_parse_kind(v) < 0) {
				char kinds[512];
				od_ctl_kind_list(kinds, sizeof(kinds));
				return od_ctl_usage(
				    c, "--kind: unknown kind '%s' (one of: %s)", v, kinds);
			}
		} else if (opt == OD_CTL_OPT_SORT) {
			long n;
			if (!od_ctl_parse_long(v, INT32_MIN, INT32_MAX, &n)) {
				return od_ctl_usage(c, "--sort: '%s' is not a 32-bit integer", v);
			}
		}
	}
	return 0;
}

struct edit {
	od_arena ar;
	Orgdir__V1__Unit unit;
	Orgdir__V1__Head head;
	Orgdir__V1__Location location;
	Orgdir__V1__Contact contact;
	const char *paths[OD_ARRAY_LEN(field_paths)];
	size_t n_paths;
};

static void
edit_init(struct edit *e, const char *id)
{
	od_arena_init(&e->ar, EDIT_ARENA_CAP);
	orgdir__v1__unit__init(&e->unit);
	orgdir__v1__head__init(&e->head);
	orgdir__v1__location__init(&e->location);
	orgdir__v1__contact__init(&e->contact);
	e->unit.id = (char *) id;
	e->n_paths = 0;
}

/*
 * Fills e->unit from the field options and e->paths with the mask path
 * of each field given. Localized lists merge into `cur`'s (NULL when
 * creating). Strings are borrowed from argv or allocated in e->ar.
 */
static bool
edit_fill(struct edit *e, const struct od_ctl_args *a, const Orgdir__V1__Unit *cur)
{
	Orgdir__V1__Unit *u = &e->unit;
	const Orgdir__V1__Head *ch = cur != NULL ? cur->head : NULL;
	for (size_t f = 0; f < OD_ARRAY_LEN(field_paths); f++) {
		int opt = field_paths[f].opt;
		const char *v = od_ctl_args_last(a, opt);
		if (v == NULL) {
			continue;
		}
		e->paths[e->n_paths++] = field_paths[f].path;
		bool ok = true;
		switch (opt) {
		case OD_CTL_OPT_KIND:
			u->kind = (Orgdir__V1__Unit__Kind) od_ctl_parse_kind(v);
			break;
		case OD_CTL_OPT_NAME:
			ok = od_ctl_merge_localized(&e->ar, a, opt, cur != NULL ? cur->name : NULL,
			    cur != NULL ? cur->n_name : 0, &u->name, &u->n_name);
			break;
		case OD_CTL_OPT_DESCRIPTION:
			ok = od_ctl_merge_localized(&e->ar, a, opt,
			    cur != NULL ? cur->description : NULL,
			    cur != NULL ? cur->n_description : 0, &u->description,
			    &u->n_description);
			break;
		case OD_CTL_OPT_HEAD_TITLE:
			ok = od_ctl_merge_localized(&e->ar, a, opt, ch != NULL ? ch->title : NULL,
			    ch != NULL ? ch->n_title : 0, &e->head.title, &e->head.n_title);
			u->head = &e->head;
			break;
		case OD_CTL_OPT_ACRONYM:
			u->acronym = (char *) v;
			break;
		case OD_CTL_OPT_HEAD_NAME:
			e->head.name = (char *) v;
			u->head = &e->head;
			break;
		case OD_CTL_OPT_HEAD_EMAIL:
			e->head.email = (char *) v;
			u->head = &e->head;
			break;
		case OD_CTL_OPT_HEAD_PHONE:
			e->head.phone = (char *) v;
			u->head = &e->head;
			break;
		case OD_CTL_OPT_COUNTRY:
			/* Sent as given: the server knows ISO 3166-1, stores the
			 * code upper case and names an unknown one in its error. */
			e->location.country_code = (char *) v;
			u->location = &e->location;
			break;
		case OD_CTL_OPT_CITY:
			e->location.city = (char *) v;
			u->location = &e->location;
			break;
		case OD_CTL_OPT_EMAIL:
			e->contact.email = (char *) v;
			u->contact = &e->contact;
			break;
		case OD_CTL_OPT_PHONE:
			e->contact.phone = (char *) v;
			u->contact = &e->contact;
			break;
		case OD_CTL_OPT_URL:
			e->contact.url = (char *) v;
			u->contact = &e->contact;
			break;
		case OD_CTL_OPT_SORT: {
			long n = 0;
			ok = od_ctl_parse_long(v, INT32_MIN, INT32_MAX, &n);
			u->sort_order = (int32_t) n;
			break;
		}
		default:
			break;
		}
		if (!ok) {
			return false;
		}
	}
	return true;
}

static int
run_add(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = check_fields(c, a, true);
	if (rc != 0) {
		return rc;
	}
	if (!od_ctl_args_has(a, OD_CTL_OPT_KIND)) {
		return od_ctl_usage(c, "missing --kind KIND");
	}
	if (!od_ctl_args_has(a, OD_CTL_OPT_NAME)) {
		return od_ctl_usage(c, "missing --name LANG=TEXT");
	}
	if ((rc = od_ctl_client(c)) != 0) {
		return rc;
	}
	struct edit e;
	edit_init(&e, a->pos[0]);
	e.unit.parent_id = (char *) parent_arg(od_ctl_args_last(a, OD_CTL_OPT_PARENT));
	if (!edit_fill(&e, a, NULL)) {
		od_arena_destroy(&e.ar);
		return od_ctl_fail_local("out of memory");
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *u = NULL;
	orgdir_status st = {0};
	if (orgdir_unit_create(c->client, &e.unit, &reply, &u, &st) != ORGDIR_OK) {
		rc = od_ctl_fail(&st);
	} else {
		rc = show_unit(c, u);
		orgdir_reply_free(reply);
	}
	od_arena_destroy(&e.ar);
	return rc;
}

static int
run_set(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = check_fields(c, a, false);
	if (rc != 0) {
		return rc;
	}
	bool any = false;
	bool merge = false;
	for (int i = 0; i < a->n_opts; i++) {
		for (size_t f = 0; f < OD_ARRAY_LEN(field_paths); f++) {
			if (a->opts[i].opt == field_paths[f].opt) {
				any = true;
				merge = merge || is_localized(a->opts[i].opt);
			}
		}
	}
	if (!any) {
		return od_ctl_usage(c, "nothing to change: give at least one field option");
	}
	if ((rc = od_ctl_client(c)) != 0) {
		return rc;
	}
	const char *if_match = od_ctl_args_last(a, OD_CTL_OPT_IF_MATCH);
	orgdir_status st = {0};
	/* A localized list is sent whole: read it, change only the languages
	 * given, and make the write conditional on what was read so that a
	 * concurrent change is ABORTED instead of losing its languages. */
	orgdir_reply *cur_reply = NULL;
	Orgdir__V1__Unit *cur = NULL;
	if (merge && orgdir_unit_get(c->client, a->pos[0], &cur_reply, &cur, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	struct edit e;
	edit_init(&e, a->pos[0]);
	if (if_match != NULL && *if_match != '\0') {
		e.unit.etag = (char *) if_match;
	} else if (cur != NULL) {
		e.unit.etag = cur->etag;
	}
	if (!edit_fill(&e, a, cur)) {
		od_arena_destroy(&e.ar);
		orgdir_reply_free(cur_reply);
		return od_ctl_fail_local("out of memory");
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *u = NULL;
	if (orgdir_unit_update(c->client, &e.unit, e.paths, e.n_paths, &reply, &u, &st) !=
	    ORGDIR_OK) {
		rc = od_ctl_fail(&st);
	} else {
		rc = show_unit(c, u);
		orgdir_reply_free(reply);
	}
	od_arena_destroy(&e.ar);
	orgdir_reply_free(cur_reply);
	return rc;
}

/* --- mv and rm ------------------------------------------------------------------ */

static const char *
if_match_arg(const struct od_ctl_args *a)
{
	const char *s = od_ctl_args_last(a, OD_CTL_OPT_IF_MATCH);
	return s != NULL && *s != '\0' ? s : NULL;
}

static int
run_mv(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *u = NULL;
	orgdir_status st = {0};
	if (orgdir_unit_move(c->client, a->pos[0], parent_arg(a->pos[1]), if_match_arg(a), &reply,
	        &u, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	rc = show_unit(c, u);
	orgdir_reply_free(reply);
	return rc;
}

static int
run_rm(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	uint32_t deleted = 0;
	orgdir_status st = {0};
	if (orgdir_unit_delete(c->client, a->pos[0], od_ctl_args_has(a, OD_CTL_OPT_FORCE),
	        if_match_arg(a), &deleted, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		Orgdir__V1__DeleteUnitResponse r = ORGDIR__V1__DELETE_UNIT_RESPONSE__INIT;
		r.deleted_count = deleted;
		return od_ctl_print_json(&r.base);
	}
	printf("deleted %u unit(s)\n", (unsigned) deleted);
	return 0;
}

/* --- the table ------------------------------------------------------------------ */

#define FIELD_OPTS \
	OD_CTL_OPT_KIND, OD_CTL_OPT_NAME, OD_CTL_OPT_DESCRIPTION, OD_CTL_OPT_ACRONYM, \
	    OD_CTL_OPT_HEAD_TITLE, OD_CTL_OPT_HEAD_NAME, OD_CTL_OPT_HEAD_EMAIL, \
	    OD_CTL_OPT_HEAD_PHONE, OD_CTL_OPT_COUNTRY, OD_CTL_OPT_CITY, OD_CTL_OPT_EMAIL, \
	    OD_CTL_OPT_PHONE, OD_CTL_OPT_URL, OD_CTL_OPT_SORT

static const int get_opts[] = {OD_CTL_OPT_END};
static const int ls_opts[] = {OD_CTL_OPT_LIMIT, OD_CTL_OPT_PAGE_SIZE, OD_CTL_OPT_END};
static const int tree_opts[] = {OD_CTL_OPT_DEPTH, OD_CTL_OPT_IDS, OD_CTL_OPT_END};
static const int path_opts[] = {OD_CTL_OPT_IDS, OD_CTL_OPT_END};
static const int add_opts[] = {OD_CTL_OPT_PARENT, FIELD_OPTS, OD_CTL_OPT_END};
static const int set_opts[] = {FIELD_OPTS, OD_CTL_OPT_IF_MATCH, OD_CTL_OPT_END};
static const int mv_opts[] = {OD_CTL_OPT_IF_MATCH, OD_CTL_OPT_END};
static const int rm_opts[] = {OD_CTL_OPT_FORCE, OD_CTL_OPT_IF_MATCH, OD_CTL_OPT_END};

static const struct od_ctl_verb unit_verbs[] = {
    {"get", run_get, "ID", "show one unit",
        "Prints the unit's fields; names, descriptions and titles in --lang first\n"
        "(falling back to the same language, then English, then the first),\n"
        "then the other languages labelled with their tag.",
        get_opts, 1, 1, NULL},
    {"ls", run_ls, "[PARENT] [--limit N] [--page-size N]",
        "list the children of PARENT (the roots without it)",
        "Lists in display order (sort order, then id), fetching every page\n"
        "unless --limit stops earlier. With --json, all pages are merged into\n"
        "one ListUnitsResponse.",
        ls_opts, 0, 1, NULL},
    {"tree", run_tree, "[ROOT] [--depth N] [--ids]",
        "draw the organisation chart below ROOT (everything without it)", NULL, tree_opts, 0, 1,
        NULL},
    {"path", run_path, "ID [--ids]", "show the path from the root to a unit", NULL, path_opts, 1, 1,
        NULL},
    {"add", run_add,
        "ID --kind KIND --name LANG=TEXT [--name LANG=TEXT...] [--parent ID] [field options]",
        "create a unit",
        "Creates the unit and prints it as stored. Without --parent it is a root.\n"
        "LANG is a language tag: fr, en, es, pt-BR. --country takes an ISO 3166-1\n"
        "alpha-2 code in any case (stored upper case); a code ISO 3166-1 does not\n"
        "know fails with INVALID_ARGUMENT (exit 13). An office located in a country\n"
        "(country, sub-, liaison or regional office) counts towards its presence\n"
        "('orgctl country get CC').",
        add_opts, 1, 1, NULL},
    {"set", run_set, "ID [field options] [--if-match ETAG]", "change some fields of a unit",
        "Changes only the fields given. --name, --description and --head-title\n"
        "change only the languages given (LANG= with no text removes one) and\n"
        "keep the others; the unit is read first and the write is made\n"
        "conditional on it, so a concurrent change fails with ABORTED (exit 20)\n"
        "instead of being lost. An empty value clears a field (--city '').\n"
        "The parent changes with 'orgctl unit mv'.",
        set_opts, 1, 1, NULL},
    {"mv", run_mv, "ID NEW_PARENT [--if-match ETAG]",
        "move a unit under NEW_PARENT ('-' or '' makes it a root)",
        "Moving a unit under itself or one of its descendants fails with\n"
        "FAILED_PRECONDITION (exit 19).",
        mv_opts, 2, 2, NULL},
    {"rm", run_rm, "ID [--force] [--if-match ETAG]", "delete a unit",
        "A unit that has children is deleted only with --force, which deletes\n"
        "its whole subtree in one transaction. Prints \"deleted N unit(s)\".",
        rm_opts, 1, 1, NULL},
};

const struct od_ctl_noun od_ctl_noun_unit = {"unit",
    "read and change the units of the organisation chart", unit_verbs, OD_ARRAY_LEN(unit_verbs)};
