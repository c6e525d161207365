/* check.c - the store's consistency check. Each database is read once in
 * key order; cross-references are looked up with mdb_get (the map is in
 * memory), so the check needs no memory proportional to the store.
 *
 * This file: the driver (od_store_check), the report, the helpers every
 * pass uses (check_int.h) and the meta records. The passes: check_units.c
 * (units, the tree), check_index.c (children, kind counts, country offices,
 * countries, requests), check_log.c (change log, its index, tokens),
 * check_search.c (the search index). Records are decoded with protobuf-c's
 * own unpack, not the od_pb_unpack the server reads them with: the check
 * does not share the decoder it may have to find fault with. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"

#define META_SCHEMA "schema_version"
#define META_REVISION "revision"
#define ARENA_CAP ((size_t) 64 << 20) /* one decoded record at a time */

void
od_check_problem(struct ck *c, const char *fmt, ...)
{
	od_check_report *r = c->rep;
	r->problems++;
	if (r->n_kept < OD_CHECK_PROBLEMS_KEPT) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->problem[r->n_kept], OD_CHECK_PROBLEM_MAX, fmt, ap);
		va_end(ap);
		r->n_kept++;
	}
}

/* Bytes from the store as printable text: ASCII as is, the rest as \xNN,
 * cut at SHOW_MAX. Corrupt keys must not corrupt the report. */
const char *
od_check_show(const void *p, size_t n, char *out, size_t cap)
{
	const uint8_t *b = p;
	size_t o = 0;
	size_t i = 0;
	for (; i < n && i < SHOW_MAX && o + 4 + 4 < cap; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '\'') {
			out[o++] = (char) b[i];
		} else {
			snprintf(out + o, cap - o, "\\x%02x", b[i]);
			o += 4;
		}
	}
	memcpy(out + o, i < n ? "..." : "", i < n ? 4 : 1);
	return out;
}

/* A NUL-terminated copy of a key that may be a unit id; false if it is not
 * one. */
bool
od_check_id_of(const MDB_val *k, char out[OD_ID_MAX + 1])
{
	if (k->mv_size == 0 || k->mv_size > OD_ID_MAX || memchr(k->mv_data, 0, k->mv_size)) {
		out[0] = '\0';
		return false;
	}
	memcpy(out, k->mv_data, k->mv_size);
	out[k->mv_size] = '\0';
	return od_id_valid(out);
}

const char *
od_check_kind_name(int kind, char *buf, size_t cap)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&orgdir__v1__unit__kind__descriptor, kind);
	if (v != NULL) {
		return v->name;
	}
	snprintf(buf, cap, "kind %d", kind);
	return buf;
}

/* A decimal revision; false for anything else. */
bool
od_check_parse_rev(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (s[0] == '\0' || strlen(s) > 20) {
		return false;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
			return false;
		}
		v = v * 10 + (uint64_t) (*p - '0');
	}
	*out = v;
	return true;
}

bool
od_check_has_dup(struct ck *c, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_cursor *cur;
	if (mdb_cursor_open(c->txn, dbi, &cur) != 0) {
		return false;
	}
	MDB_val key = {kl, (void *) k};
	MDB_val val = {vl, (void *) v};
	bool found = mdb_cursor_get(cur, &key, &val, MDB_GET_BOTH) == 0;
	mdb_cursor_close(cur);
	return found;
}

const char *
od_check_cc_of(const Orgdir__V1__Unit *u)
{
	return u->location != NULL ? u->location->country_code : "";
}

bool
od_check_expects_office_entry(const Orgdir__V1__Unit *u)
{
	return od_kind_is_office(u->kind) && strlen(od_check_cc_of(u)) == 2;
}

bool
od_check_country_code_valid(const char *s, size_t n)
{
	return n == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

/* --- meta ----------------------------------------------------------------------- */

static void
check_meta(struct ck *c)
{
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val v;
	uint32_t ver = 0;
	if (mdb_get(c->txn, c->s->meta, &k, &v) != 0 || v.mv_size != sizeof(ver)) {
		od_check_problem(c, "meta: the schema version is missing or malformed");
	} else {
		memcpy(&ver, v.mv_data, sizeof(ver));
		if (ver != OD_SCHEMA_VERSION) {
			od_check_problem(c, "meta: schema version %" PRIu32 ", expected %d", ver,
			    OD_SCHEMA_VERSION);
		}
	}
	k.mv_data = META_REVISION;
	k.mv_size = strlen(META_REVISION);
	if (mdb_get(c->txn, c->s->meta, &k, &v) == 0 && v.mv_size != sizeof(uint64_t)) {
		od_check_problem(c, "meta: the revision record is %zu bytes, not 8", v.mv_size);
	}
	c->rep->revision = od_txn_revision(c->t);
}

/* --- entry points ------------------------------------------------------------------------ */

orgdir_code
od_store_check(struct od_store *s, od_check_report *rep, orgdir_status *st)
{
	od_reader *r;
	od_txn *t;
	memset(rep, 0, sizeof(*rep));
	orgdir_code code = od_reader_new(s, &r, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	if ((code = od_reader_begin(r, &t, st)) != ORGDIR_OK) {
		od_reader_free(r);
		return code;
	}
	struct ck *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		od_reader_free(r);
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	c->t = t;
	c->txn = t->txn;
	c->s = s;
	c->rep = rep;
	od_arena_init(&c->a, ARENA_CAP);
	check_meta(c);
	int rc = od_check_units(c);
	const char *what = "units";
	if (rc == 0) {
		rc = od_check_children(c);
		what = "children index";
	}
	if (rc == 0) {
		rc = od_check_kind_counts(c);
		what = "kind counts";
	}
	if (rc == 0) {
		rc = od_check_country_units(c);
		what = "country office index";
	}
	if (rc == 0) {
		rc = od_check_countries(c);
		what = "countries";
	}
	if (rc == 0) {
		rc = od_check_requests(c);
		what = "requests";
	}
	if (rc == 0) {
		rc = od_check_changes(c);
		what = "change log";
	}
	if (rc == 0) {
		rc = od_check_changes_by_res(c);
		what = "change log index";
	}
	if (rc == 0) {
		rc = od_check_tokens(c);
		what = "tokens";
	}
	if (rc == 0) {
		rc = od_check_search_docs(c);
		what = "search docs";
	}
	if (rc == 0) {
		rc = od_check_search_units(c);
		what = "search entries of units";
	}
	if (rc == 0) {
		od_check_search_countries(c);
		rc = od_check_search_keys(c);
		what = "search keys";
	}
	od_arena_destroy(&c->a);
	free(c);
	od_reader_free(r);
	if (rc != 0) {
		return od_mdb_status(NULL, rc, what, st);
	}
	if (rep->problems > 0) {
		return od_status_set(st, ORGDIR_DATA_LOSS,
		    "the store has %" PRIu64 " consistency problem(s)", rep->problems);
	}
	od_status_ok(st);
	return ORGDIR_OK;
}

void
od_check_report_print(const od_check_report *rep, FILE *f)
{
	fprintf(f,
	    "check: revision %" PRIu64 ", %" PRIu64 " units, %" PRIu64 " children entries, %" PRIu64
	    " country office entries, %" PRIu64 " country records, %" PRIu64
	    " recorded requests, %" PRIu64 " changes, %" PRIu64 " tokens, %" PRIu64
	    " search docs, %" PRIu64 " search keys: %" PRIu64 " problem(s)\n",
	    rep->revision, rep->units, rep->children, rep->country_units, rep->countries,
	    rep->requests, rep->changes, rep->tokens, rep->search_docs, rep->search_keys,
	    rep->problems);
	for (size_t i = 0; i < rep->n_kept; i++) {
		fprintf(f, "problem: %s\n", rep->problem[i]);
	}
	if (rep->problems > rep->n_kept) {
		fprintf(f, "problem: ... and %" PRIu64 " more\n", rep->problems - rep->n_kept);
	}
}

int
od_check_each(struct ck *c, MDB_dbi dbi, uint64_t *counter,
    void (*visit)(struct ck *c, const MDB_val *k, const MDB_val *v))
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, dbi, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (counter != NULL) {
			(*counter)++;
		}
		visit(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
