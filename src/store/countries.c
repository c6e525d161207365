/* countries.c - the country records: ISO 3166-1 data merged with what admins
 * set (membership, declared presence, region, notes, name overrides) and the
 * presence derived from the office units located in each country. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "textkey.h"

#define YEAR_MIN 1900
#define YEAR_MAX 2100

static orgdir_code
oom(orgdir_status *st)
{
	return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
}

static orgdir_code
find_iso(od_txn *t, const char *code, const od_iso_country **out, orgdir_status *st)
{
	if (t->s->iso == NULL) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "this server has no ISO 3166-1 data (install the iso-codes package)");
	}
	size_t n = strlen(code);
	*out = n <= 3 ? od_iso3166_find(t->s->iso, code) : NULL;
	if (*out == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "'%.16s' is not an ISO 3166-1 country code (two letters like FR, or three like "
		    "FRA)",
		    od_utf8_valid(code, n) ? code : "?");
	}
	return ORGDIR_OK;
}

/* The record set by hand, or NULL when the country has none. */
static Orgdir__V1__Country *
load_record(od_txn *t, od_arena *a, const char *alpha2, bool *corrupt)
{
	MDB_val k = {2, (void *) alpha2};
	MDB_val v;
	*corrupt = false;
	if (mdb_get(t->txn, t->s->countries, &k, &v) != 0) {
		return NULL;
	}
	Orgdir__V1__Country *c = OD_PB_UNPACK(orgdir__v1__country, &a->pb, v.mv_size, v.mv_data);
	*corrupt = c == NULL;
	return c;
}

static int
declared_of(const Orgdir__V1__Country *rec)
{
	return rec != NULL && rec->presence != NULL ? rec->presence->declared : 0;
}

/* Presence derived from the office units: COUNTRY_OFFICE when one of them
 * is a country office, SUB_OFFICES when there are only others, ABSENT. */
static int
derived_level(od_txn *t, const char *alpha2)
{
	MDB_cursor *c;
	MDB_val k = {2, (void *) alpha2};
	uint8_t co = ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE;
	MDB_val v = {1, &co};
	int level = ORGDIR__V1__PRESENCE__LEVEL__ABSENT;
	if (mdb_cursor_open(t->txn, t->s->country_units, &c) != 0) {
		return level;
	}
	if (mdb_cursor_get(c, &k, &v, MDB_SET_KEY) == 0) {
		level = ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES;
		MDB_val k2 = {2, (void *) alpha2};
		MDB_val v2 = {1, &co};
		if (mdb_cursor_get(c, &k2, &v2, MDB_GET_BOTH_RANGE) == 0 && v2.mv_size > 0 &&
		    ((const uint8_t *) v2.mv_data)[0] == co) {
			level = ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE;
		}
	}
	mdb_cursor_close(c);
	return level;
}

static bool
level_present(int level)
{
	return level == ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE ||
	    level == ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES;
}

/* What list filters and statistics need, without building a Country. */
struct summary {
	int status;
	int level;
	const char *region;
	Orgdir__V1__Country *rec;
};

static orgdir_code
summarize(od_txn *t, od_arena *a, const od_iso_country *ic, struct summary *out, orgdir_status *st)
{
	bool corrupt;
	out->rec = load_record(t, a, ic->alpha2, &corrupt);
	if (corrupt) {
		return a->exhausted ? oom(st)
		                    : od_status_set(st, ORGDIR_DATA_LOSS,
		                          "country record %s is corrupt", ic->alpha2);
	}
	out->status =
	    out->rec != NULL && out->rec->membership != NULL ? out->rec->membership->status : 0;
	out->region = out->rec != NULL ? out->rec->region_unit_id : "";
	int declared = declared_of(out->rec);
	out->level = declared != 0 ? declared : derived_level(t, ic->alpha2);
	return ORGDIR_OK;
}

static Orgdir__V1__LocalizedString *
lstr(od_arena *a, const char *lang, const char *text)
{
	Orgdir__V1__LocalizedString *s = od_arena_alloc(a, sizeof(*s));
	if (s != NULL) {
		orgdir__v1__localized_string__init(s);
		s->lang = (char *) lang;
		s->text = (char *) text;
	}
	return s;
}

/* ISO names, each replaced by an override in the same language; overrides
 * in other languages follow. */
static bool
merge_names(
    od_arena *a, const od_iso_country *ic, const Orgdir__V1__Country *rec, Orgdir__V1__Country *c)
{
	size_t no = rec != NULL ? rec->n_name : 0;
	c->name = od_arena_alloc(a, (ic->n_names + no) * sizeof(*c->name) + 1);
	if (c->name == NULL) {
		return false;
	}
	size_t n = 0;
	for (size_t i = 0; i < ic->n_names; i++) {
		const char *text = ic->names[i].text;
		for (size_t j = 0; j < no; j++) {
			if (strcasecmp(rec->name[j]->lang, ic->names[i].lang) == 0) {
				text = rec->name[j]->text;
			}
		}
		if ((c->name[n++] = lstr(a, ic->names[i].lang, text)) == NULL) {
			return false;
		}
	}
	for (size_t j = 0; j < no; j++) {
		bool seen = false;
		for (size_t i = 0; i < ic->n_names && !seen; i++) {
			seen = strcasecmp(rec->name[j]->lang, ic->names[i].lang) == 0;
		}
		if (!seen) {
			c->name[n++] = rec->name[j];
		}
	}
	c->n_name = n;
	return true;
}

static orgdir_code
office_ids(od_txn *t, od_arena *a, const char *alpha2, Orgdir__V1__Presence *p, orgdir_status *st)
{
	MDB_cursor *c;
	MDB_val k = {2, (void *) alpha2};
	MDB_val v;
	size_t n = 0;
	if (mdb_cursor_open(t->txn, t->s->country_units, &c) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the country index");
	}
	if (mdb_cursor_get(c, &k, &v, MDB_SET_KEY) == 0) {
		size_t count = 0;
		mdb_cursor_count(c, &count);
		p->office_unit_ids = od_arena_alloc(a, count * sizeof(char *) + 1);
		if (p->office_unit_ids == NULL) {
			mdb_cursor_close(c);
			return oom(st);
		}
		do {
			if (v.mv_size > 1 && n < count) {
				p->office_unit_ids[n] = od_arena_strndup(
				    a, (const char *) v.mv_data + 1, v.mv_size - 1);
				if (p->office_unit_ids[n++] == NULL) {
					mdb_cursor_close(c);
					return oom(st);
				}
			}
		} while (mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP) == 0);
	}
	mdb_cursor_close(c);
	p->n_office_unit_ids = n;
	return ORGDIR_OK;
}

static orgdir_code
build(od_txn *t, od_arena *a, const od_iso_country *ic, const struct summary *sm,
    Orgdir__V1__Country **out, orgdir_status *st)
{
	const Orgdir__V1__Country *rec = sm->rec;
	Orgdir__V1__Country *c = od_arena_alloc(a, sizeof(*c));
	Orgdir__V1__Presence *p = od_arena_alloc(a, sizeof(*p));
	if (c == NULL || p == NULL) {
		return oom(st);
	}
	orgdir__v1__country__init(c);
	orgdir__v1__presence__init(p);
	c->code = (char *) ic->alpha2;
	c->alpha3 = (char *) ic->alpha3;
	c->numeric = (char *) ic->numeric;
	if (!merge_names(a, ic, rec, c)) {
		return oom(st);
	}
	p->declared = declared_of(rec);
	p->level = sm->level;
	orgdir_code code = office_ids(t, a, ic->alpha2, p, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	c->presence = p;
	if (rec != NULL) {
		c->membership = rec->membership;
		c->region_unit_id = rec->region_unit_id;
		c->notes = rec->notes;
		c->etag = rec->etag;
		c->update_time = rec->update_time;
	} else {
		c->etag = "0"; /* never changed */
	}
	*out = c;
	return ORGDIR_OK;
}

orgdir_code
od_country_get(
    od_txn *t, od_arena *a, const char *code, Orgdir__V1__Country **out, orgdir_status *st)
{
	const od_iso_country *ic;
	struct summary sm;
	orgdir_code c = find_iso(t, code, &ic, st);
	if (c != ORGDIR_OK || (c = summarize(t, a, ic, &sm, st)) != ORGDIR_OK) {
		return c;
	}
	return build(t, a, ic, &sm, out, st);
}

/* --- listing ------------------------------------------------------------------------ */

struct entry {
	const od_iso_country *ic;
	struct summary sm;
	const char *key;
};

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct entry *x = pa;
	const struct entry *y = pb;
	int c = strcmp(x->key, y->key);
	return c != 0 ? c : strcmp(x->ic->alpha2, y->ic->alpha2);
}

static bool
wanted(const Orgdir__V1__ListCountriesRequest *r, const struct summary *sm)
{
	if (r->n_membership > 0) {
		bool ok = false;
		for (size_t i = 0; i < r->n_membership && !ok; i++) {
			ok = (int) r->membership[i] == sm->status;
		}
		if (!ok) {
			return false;
		}
	}
	if (r->presence == ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__PRESENT &&
	    !level_present(sm->level)) {
		return false;
	}
	if (r->presence == ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__NOT_PRESENT &&
	    level_present(sm->level)) {
		return false;
	}
	return r->region_unit_id[0] == '\0' || strcmp(r->region_unit_id, sm->region) == 0;
}

/* A fingerprint of the query, so a token is refused by another listing. */
static uint32_t
query_hash(const Orgdir__V1__ListCountriesRequest *r, const char *lang)
{
	uint32_t h = 2166136261u;
#define MIX(x) (h = (h ^ (uint32_t) (x)) * 16777619u)
	for (size_t i = 0; i < r->n_membership; i++) {
		MIX(r->membership[i] + 1);
	}
	MIX(r->presence + 7);
	MIX(r->order_by + 13);
	for (const char *p = r->region_unit_id; *p; p++) {
		MIX(*p);
	}
	MIX('|');
	for (const char *p = lang; *p; p++) {
		MIX(*p);
	}
#undef MIX
	return h;
}

static const char *
sort_key(od_arena *a, const od_iso_country *ic, const Orgdir__V1__Country *rec, const char *lang,
    bool by_name)
{
	if (!by_name) {
		return ic->alpha2;
	}
	const char *name = od_iso3166_name(ic, lang);
	for (size_t j = 0; rec != NULL && j < rec->n_name; j++) {
		if (strcasecmp(rec->name[j]->lang, lang) == 0) {
			name = rec->name[j]->text;
		}
	}
	size_t n = strlen(name);
	size_t cap = OD_TEXTKEY_NORMALIZE_SIZE(n);
	char *key = od_arena_alloc(a, cap);
	size_t len;
	if (key == NULL || od_textkey_normalize(name, n, key, cap, &len, NULL) != ORGDIR_OK) {
		return name; /* never expected: names are checked UTF-8 */
	}
	return key;
}

orgdir_code
od_country_list(od_txn *t, od_arena *a, const Orgdir__V1__ListCountriesRequest *r,
    Orgdir__V1__ListCountriesResponse **out, orgdir_status *st)
{
	const char *lang = r->lang[0] != '\0' ? r->lang : "en";
	bool by_name = r->order_by == ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_NAME;
	orgdir_code c;

	if (t->s->iso == NULL) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "this server has no ISO 3166-1 data (install the iso-codes package)");
	}
	if (r->page_size < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "page_size must not be negative");
	}
	if (!od_lang_valid(lang)) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "lang '%.40s' is not a BCP 47 tag", lang);
	}
	if (r->order_by > ORGDIR__V1__LIST_COUNTRIES_REQUEST__ORDER__BY_NAME ||
	    r->presence > ORGDIR__V1__LIST_COUNTRIES_REQUEST__PRESENCE_FILTER__NOT_PRESENT) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "unknown order_by or presence filter");
	}
	for (size_t i = 0; i < r->n_membership; i++) {
		if (r->membership[i] > ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "unknown membership status %d", r->membership[i]);
		}
	}
	if (r->region_unit_id[0] != '\0' &&
	    (c = od_check_id("region_unit_id", r->region_unit_id, st)) != ORGDIR_OK) {
		return c;
	}
	size_t want = r->page_size == 0
	    ? OD_PAGE_DEFAULT
	    : (r->page_size > OD_PAGE_MAX ? OD_PAGE_MAX : (size_t) r->page_size);
	size_t n_iso = od_iso3166_count(t->s->iso);
	struct entry *e = od_arena_alloc(a, n_iso * sizeof(*e) + 1);
	if (e == NULL) {
		return oom(st);
	}
	size_t n = 0;
	for (size_t i = 0; i < n_iso; i++) {
		const od_iso_country *ic = od_iso3166_at(t->s->iso, i);
		if ((c = summarize(t, a, ic, &e[n].sm, st)) != ORGDIR_OK) {
			return c;
		}
		if (wanted(r, &e[n].sm)) {
			e[n].ic = ic;
			e[n].key = sort_key(a, ic, e[n].sm.rec, lang, by_name);
			n++;
		}
	}
	if (n > 1) {
		qsort(e, n, sizeof(*e), entry_cmp);
	}

	/* Token: hex of query hash (4 bytes), key, NUL, code. */
	uint32_t qh = query_hash(r, lang);
	size_t start = 0;
	if (r->page_token[0] != '\0') {
		uint8_t raw[4 + 1024];
		long len = od_hex_decode(r->page_token, raw, sizeof(raw) - 1);
		uint32_t th = 0;
		if (len >= 4) {
			th = (uint32_t) raw[0] << 24 | (uint32_t) raw[1] << 16 |
			    (uint32_t) raw[2] << 8 | raw[3];
		}
		const uint8_t *nul = len > 4 ? memchr(raw + 4, 0, (size_t) len - 4) : NULL;
		if (len < 4 || th != qh || nul == NULL) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "page_token is not a token from a previous page of this listing");
		}
		raw[len] = 0;
		struct entry probe = {.key = (const char *) raw + 4};
		od_iso_country pc;
		memset(&pc, 0, sizeof(pc));
		od_strlcpy(pc.alpha2, (const char *) nul + 1, sizeof(pc.alpha2));
		probe.ic = &pc;
		while (start < n && entry_cmp(&e[start], &probe) <= 0) {
			start++;
		}
	}
	Orgdir__V1__ListCountriesResponse *resp = od_arena_alloc(a, sizeof(*resp));
	if (resp == NULL) {
		return oom(st);
	}
	orgdir__v1__list_countries_response__init(resp);
	size_t take = n - start < want ? n - start : want;
	resp->countries = od_arena_alloc(a, take * sizeof(*resp->countries) + 1);
	if (resp->countries == NULL) {
		return oom(st);
	}
	for (size_t i = 0; i < take; i++) {
		const struct entry *x = &e[start + i];
		if ((c = build(t, a, x->ic, &x->sm, &resp->countries[i], st)) != ORGDIR_OK) {
			return c;
		}
	}
	resp->n_countries = take;
	resp->total_size = (int32_t) n;
	if (start + take < n) {
		const struct entry *last = &e[start + take - 1];
		size_t kl = strlen(last->key);
		size_t rl = 4 + kl + 1 + 2;
		uint8_t *raw = od_arena_alloc(a, rl);
		char *tok = od_arena_alloc(a, 2 * rl + 1);
		if (raw == NULL || tok == NULL) {
			return oom(st);
		}
		raw[0] = (uint8_t) (qh >> 24);
		raw[1] = (uint8_t) (qh >> 16);
		raw[2] = (uint8_t) (qh >> 8);
		raw[3] = (uint8_t) qh;
		memcpy(raw + 4, last->key, kl);
		raw[4 + kl] = 0;
		memcpy(raw + 5 + kl, last->ic->alpha2, 2);
		od_hex_encode(raw, rl, tok);
		resp->next_page_token = tok;
	}
	*out = resp;
	return ORGDIR_OK;
}

/* --- updates ------------------------------------------------------------------------- */

static bool
record_is_default(const Orgdir__V1__Country *r)
{
	return r->membership == NULL && r->presence == NULL && r->region_unit_id[0] == '\0' &&
	    r->notes[0] == '\0' && r->n_name == 0;
}

static orgdir_code
check_record(od_txn *t, od_arena *a, Orgdir__V1__Country *r, orgdir_status *st)
{
	orgdir_code c;
	if (r->membership != NULL) {
		Orgdir__V1__Membership *m = r->membership;
		if (m->status > ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER) {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "unknown membership status %d", m->status);
		}
		if (m->since_year != 0 && (m->since_year < YEAR_MIN || m->since_year > YEAR_MAX)) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "membership.since_year %d is not a year from %d to %d (0 = not "
			    "recorded)",
			    m->since_year, YEAR_MIN, YEAR_MAX);
		}
		m->base.n_unknown_fields = 0;
		if (m->status == 0 && m->since_year == 0) {
			r->membership = NULL;
		}
	}
	if (r->presence != NULL) {
		int d = r->presence->declared;
		if (d < 0 || d > ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES) {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "unknown presence level %d", d);
		}
		/* Only the declared level is stored; the rest is derived. */
		Orgdir__V1__Presence *p = od_arena_alloc(a, sizeof(*p));
		if (p == NULL) {
			return oom(st);
		}
		orgdir__v1__presence__init(p);
		p->declared = d;
		r->presence = d != 0 ? p : NULL;
	}
	if (r->region_unit_id[0] != '\0') {
		if ((c = od_check_id("region_unit_id", r->region_unit_id, st)) != ORGDIR_OK) {
			return c;
		}
		od_val v;
		if (od_unit_get(t, r->region_unit_id, &v, NULL) != ORGDIR_OK) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "region unit '%s' does not exist", r->region_unit_id);
		}
		Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, &a->pb, v.len, v.data);
		if (u == NULL || u->kind != ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "unit '%s' is not a REGIONAL_OFFICE, so it cannot be a country's "
			    "region",
			    r->region_unit_id);
		}
	}
	orgdir_code nc = od_check_text("notes", r->notes, OD_NOTES_MAX, true, st);
	if (nc != ORGDIR_OK) {
		return nc;
	}
	for (size_t i = 0; i < r->n_name; i++) {
		r->name[i]->base.n_unknown_fields = 0;
	}
	r->base.n_unknown_fields = 0;
	return od_check_localized(
	    "country name", r->name, r->n_name, OD_NAME_MAX, false, false, st);
}

static orgdir_code
put_record(od_txn *t, od_arena *a, Orgdir__V1__Country *r, od_val *packed, orgdir_status *st)
{
	MDB_val k = {2, r->code};
	size_t n = orgdir__v1__country__get_packed_size(r);
	uint8_t *buf = od_arena_alloc(a, n + 1);
	if (buf == NULL) {
		return oom(st);
	}
	orgdir__v1__country__pack(r, buf);
	packed->data = buf;
	packed->len = n;
	if (record_is_default(r)) {
		int rc = od_mdb_del(t, t->s->countries, &k, NULL);
		return rc == 0 || rc == MDB_NOTFOUND ? ORGDIR_OK
		                                     : od_mdb_status(t, rc, "country", st);
	}
	int rc = od_mdb_put(t, t->s->countries, r->code, 2, buf, n, 0);
	return od_mdb_status(t, rc, "write country", st);
}

/* The packed record as stored now, copied (NULL when there is none). */
static bool
record_bytes(od_txn *t, od_arena *a, const char *alpha2, od_val *out)
{
	MDB_val k = {2, (void *) alpha2};
	MDB_val v;
	if (mdb_get(t->txn, t->s->countries, &k, &v) != 0) {
		return false;
	}
	void *p = od_arena_alloc(a, v.mv_size + 1);
	if (p == NULL) {
		return false;
	}
	memcpy(p, v.mv_data, v.mv_size);
	out->data = p;
	out->len = v.mv_size;
	return true;
}

static orgdir_code
stamp(od_arena *a, Orgdir__V1__Country *r, uint64_t rev, orgdir_status *st)
{
	char *etag = od_arena_alloc(a, 24);
	Google__Protobuf__Timestamp *ts = od_arena_alloc(a, sizeof(*ts));
	if (etag == NULL || ts == NULL) {
		return oom(st);
	}
	snprintf(etag, 24, "%" PRIu64, rev);
	google__protobuf__timestamp__init(ts);
	od_now(&ts->seconds, &ts->nanos);
	r->etag = etag;
	r->update_time = ts;
	return ORGDIR_OK;
}

orgdir_code
od_country_update(od_txn *t, od_arena *a, const Orgdir__V1__Country *in,
    const Google__Protobuf__FieldMask *mask, Orgdir__V1__Country **out, orgdir_status *st)
{
	static const char *const all[] = {
	    "membership", "presence.declared", "region_unit_id", "notes", "name"};
	static const char *const allowed[] = {"membership", "membership.status",
	    "membership.since_year", "membership.sinceYear", "presence.declared", "presence",
	    "region_unit_id", "regionUnitId", "notes", "name"};
	const od_iso_country *ic;
	bool corrupt;
	orgdir_code c = find_iso(t, in->code, &ic, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	Orgdir__V1__Country *rec = load_record(t, a, ic->alpha2, &corrupt);
	if (corrupt) {
		return od_status_set(
		    st, ORGDIR_DATA_LOSS, "country record %s is corrupt", ic->alpha2);
	}
	if (rec == NULL) {
		rec = od_arena_alloc(a, sizeof(*rec));
		if (rec == NULL) {
			return oom(st);
		}
		orgdir__v1__country__init(rec);
		rec->etag = "0";
	}
	rec->code = (char *) ic->alpha2;
	if (in->etag[0] != '\0' && strcmp(in->etag, rec->etag) != 0) {
		return od_status_set(st, ORGDIR_ABORTED,
		    "country %s has changed since etag '%.32s' (now '%s'): read it again and retry",
		    ic->alpha2, od_utf8_valid(in->etag, strlen(in->etag)) ? in->etag : "?",
		    rec->etag);
	}
	size_t n = mask != NULL ? mask->n_paths : 0;
	for (size_t i = 0; i < (n ? n : OD_ARRAY_LEN(all)); i++) {
		const char *p = n ? mask->paths[i] : all[i];
		bool ok = false;
		for (size_t k = 0; k < OD_ARRAY_LEN(allowed) && !ok; k++) {
			ok = strcmp(p, allowed[k]) == 0;
		}
		if (!ok) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "update_mask: '%.64s' cannot be set (settable: membership, "
			    "membership.status, "
			    "membership.since_year, presence.declared, region_unit_id, notes, "
			    "name)",
			    od_utf8_valid(p, strlen(p)) ? p : "?");
		}
		if (strcmp(p, "presence") == 0) {
			p = "presence.declared";
		}
		if ((c = od_pb_apply_path(&rec->base, &in->base, p, a, st)) != ORGDIR_OK) {
			return c;
		}
	}
	if ((c = check_record(t, a, rec, st)) != ORGDIR_OK) {
		return c;
	}
	od_val before, after;
	bool had = record_bytes(t, a, ic->alpha2, &before);
	if ((c = stamp(a, rec, od_txn_next_revision(t), st)) != ORGDIR_OK) {
		return c;
	}
	if (t->keep_times && in->update_time != NULL) {
		rec->update_time = in->update_time; /* an import keeps the document's time */
	}
	if ((c = put_record(t, a, rec, &after, st)) != ORGDIR_OK ||
	    (c = od_change_append(t, a, ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY, ic->alpha2,
	         had ? &before : NULL, &after, st)) != ORGDIR_OK) {
		return c;
	}
	struct summary sm;
	if ((c = summarize(t, a, ic, &sm, st)) != ORGDIR_OK) {
		return c;
	}
	if (sm.rec == NULL) {
		sm.rec = rec; /* a record back to default is not stored, but has changed */
	}
	if ((c = build(t, a, ic, &sm, out, st)) != ORGDIR_OK) {
		return c;
	}
	/* Name overrides are searchable: re-index the country. */
	int rc = od_search_index_country(t, *out);
	return rc == 0 ? ORGDIR_OK : od_mdb_status(t, rc, "index country for search", st);
}

int
od_countries_forget_region(od_txn *t, od_arena *a, const char *unit_id)
{
	MDB_cursor *c;
	MDB_val k, v;
	char *codes[512];
	size_t n = 0;
	int rc = mdb_cursor_open(t->txn, t->s->countries, &c);
	if (rc != 0) {
		return rc;
	}
	/* Collect, then rewrite: no puts while the cursor walks. */
	for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0 && n < OD_ARRAY_LEN(codes);
	     op = MDB_NEXT) {
		Orgdir__V1__Country *r =
		    OD_PB_UNPACK(orgdir__v1__country, &a->pb, v.mv_size, v.mv_data);
		if (r != NULL && strcmp(r->region_unit_id, unit_id) == 0) {
			codes[n++] = od_arena_strndup(a, k.mv_data, k.mv_size);
		}
	}
	mdb_cursor_close(c);
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool corrupt;
		Orgdir__V1__Country *r = codes[i] ? load_record(t, a, codes[i], &corrupt) : NULL;
		if (r == NULL) {
			continue;
		}
		od_val before, after;
		bool had = record_bytes(t, a, codes[i], &before);
		r->region_unit_id = "";
		if (stamp(a, r, od_txn_revision(t), NULL) != ORGDIR_OK ||
		    put_record(t, a, r, &after, NULL) != ORGDIR_OK ||
		    od_change_append(t, a, ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY, r->code,
		        had ? &before : NULL, &after, NULL) != ORGDIR_OK) {
			rc = t->map_full ? MDB_MAP_FULL : EIO;
		}
	}
	return rc;
}

/* --- statistics ------------------------------------------------------------------------ */

orgdir_code
od_store_stats(od_txn *t, od_arena *a, Orgdir__V1__GetStatsResponse **out, orgdir_status *st)
{
	Orgdir__V1__GetStatsResponse *r = od_arena_alloc(a, sizeof(*r));
	size_t nk = ORGDIR__V1__UNIT__KIND__OTHER;
	if (r == NULL) {
		return oom(st);
	}
	orgdir__v1__get_stats_response__init(r);
	if (t->s->iso != NULL) {
		size_t n_iso = od_iso3166_count(t->s->iso);
		r->countries_known = (uint32_t) n_iso;
		for (size_t i = 0; i < n_iso; i++) {
			struct summary sm;
			orgdir_code c = summarize(t, a, od_iso3166_at(t->s->iso, i), &sm, st);
			if (c != ORGDIR_OK) {
				return c;
			}
			r->member_states +=
			    sm.status == ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
			r->observers += sm.status == ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER;
			r->countries_with_presence += level_present(sm.level);
			r->countries_with_country_office +=
			    sm.level == ORGDIR__V1__PRESENCE__LEVEL__COUNTRY_OFFICE;
		}
	}
	r->units_by_kind = od_arena_alloc(a, nk * sizeof(*r->units_by_kind));
	Orgdir__V1__KindCount *kc = od_arena_alloc(a, nk * sizeof(*kc));
	if (r->units_by_kind == NULL || kc == NULL) {
		return oom(st);
	}
	for (size_t k = 0; k < nk; k++) {
		uint8_t kb = (uint8_t) (k + 1);
		MDB_val key = {1, &kb};
		MDB_val v;
		orgdir__v1__kind_count__init(&kc[k]);
		kc[k].kind = (Orgdir__V1__Unit__Kind) (k + 1);
		if (mdb_get(t->txn, t->s->kind_counts, &key, &v) == 0 &&
		    v.mv_size == sizeof(uint64_t)) {
			memcpy(&kc[k].count, v.mv_data, sizeof(uint64_t));
		}
		r->units_by_kind[k] = &kc[k];
	}
	r->n_units_by_kind = nk;
	r->total_units = od_store_unit_count(t);
	r->revision = od_txn_revision(t);
	*out = r;
	return ORGDIR_OK;
}
