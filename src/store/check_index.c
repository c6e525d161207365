/* check_index.c - the consistency check of the indexes derived from the
 * units (children, kind counts, country offices), of the country records
 * and of the idempotency record of writes (requests).
 * What is checked is listed in check.h; the shared state is in check_int.h. */
#include <inttypes.h>
#include <string.h>

#include "check_int.h"

#define REQUEST_KEY_MIN 8
#define REQUEST_KEY_MAX 64

static int32_t
sort_order_of(const uint8_t *k)
{
	uint32_t o = (uint32_t) k[0] << 24 | (uint32_t) k[1] << 16 | (uint32_t) k[2] << 8 | k[3];
	return (int32_t) (o ^ 0x80000000u);
}

/* --- the children index --------------------------------------------------------------- */

static void
check_child_entry(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF];
	char pid[OD_ID_MAX + 1];
	const char *under = od_check_show(k->mv_data, k->mv_size, sh, sizeof(sh));
	bool root = k->mv_size == 1 && memcmp(k->mv_data, OD_ROOT_KEY, 1) == 0;
	if (!root && !od_check_id_of(k, pid)) {
		od_check_problem(c, "children index: key '%s' is neither a unit id nor '/'", under);
	}
	if (v->mv_size <= 4 || v->mv_size > OD_SORTKEY_MAX) {
		od_check_problem(c,
		    "children index: an entry under '%s' is %zu bytes (not a sort key)", under,
		    v->mv_size);
		return;
	}
	const char *idp = (const char *) v->mv_data + 4;
	size_t idn = v->mv_size - 4;
	const char *id = od_check_show(idp, idn, sh2, sizeof(sh2));
	MDB_val uk = {idn, (void *) idp};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		od_check_problem(c,
		    "children index: entry under '%s' names unit '%s', which does not exist", under,
		    id);
		return;
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, raw.mv_size, raw.mv_data);
	if (u == NULL) {
		return; /* reported by the unit pass */
	}
	const char *want = u->parent_id[0] != '\0' ? u->parent_id : OD_ROOT_KEY;
	int32_t order = sort_order_of(v->mv_data);
	if (strlen(want) != k->mv_size || memcmp(want, k->mv_data, k->mv_size) != 0) {
		char sh3[SHOWBUF];
		od_check_problem(c,
		    "children index: unit '%s' is listed under '%s', but its parent is '%s'", id,
		    under, od_check_show(want, strlen(want), sh3, sizeof(sh3)));
	} else if (order != u->sort_order) {
		od_check_problem(c,
		    "children index: unit '%s' is listed under '%s' with sort order %d, but its "
		    "sort order is %d",
		    id, under, (int) order, (int) u->sort_order);
	}
}

int
od_check_children(struct ck *c)
{
	return od_check_each(c, c->s->children, &c->rep->children, check_child_entry);
}

/* --- derived indexes: kind counts, country offices ---------------------------------- */

int
od_check_kind_counts(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	bool seen[256] = {false};
	char kb[32];
	int rc = mdb_cursor_open(c->txn, c->s->kind_counts, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		uint64_t n;
		if (k.mv_size != 1 || v.mv_size != sizeof(n)) {
			od_check_problem(c,
			    "kind_counts: a record with a %zu-byte key and %zu-byte value",
			    k.mv_size, v.mv_size);
			continue;
		}
		uint8_t kind = *(const uint8_t *) k.mv_data;
		memcpy(&n, v.mv_data, sizeof(n));
		seen[kind] = true;
		if (n != c->kinds[kind]) {
			od_check_problem(c,
			    "kind_counts: %s counts %" PRIu64 " unit(s), but there are %" PRIu64,
			    od_check_kind_name(kind, kb, sizeof(kb)), n, c->kinds[kind]);
		}
	}
	mdb_cursor_close(cur);
	for (int kind = 0; kind < 256; kind++) {
		if (!seen[kind] && c->kinds[kind] != 0) {
			od_check_problem(c,
			    "kind_counts: no count for %s, but there are %" PRIu64 " unit(s)",
			    od_check_kind_name(kind, kb, sizeof(kb)), c->kinds[kind]);
		}
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
check_office_entry(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF], kb[32], kb2[32];
	const char *cc = od_check_show(k->mv_data, k->mv_size, sh, sizeof(sh));
	if (k->mv_size != 2) {
		od_check_problem(c, "country_units: key '%s' is not a two-letter country code", cc);
	}
	if (v->mv_size < 2 || v->mv_size > 1 + OD_ID_MAX) {
		od_check_problem(c,
		    "country_units: an entry under '%s' is %zu bytes (not kind + id)", cc,
		    v->mv_size);
		return;
	}
	int kind = *(const uint8_t *) v->mv_data;
	const char *idp = (const char *) v->mv_data + 1;
	const char *id = od_check_show(idp, v->mv_size - 1, sh2, sizeof(sh2));
	MDB_val uk = {v->mv_size - 1, (void *) idp};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		od_check_problem(c,
		    "country_units: entry under %s names unit '%s', which does not exist", cc, id);
		return;
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, raw.mv_size, raw.mv_data);
	if (u == NULL) {
		return; /* reported by the unit pass */
	}
	const char *ucc = od_check_cc_of(u);
	if (!od_check_expects_office_entry(u) || strlen(ucc) != k->mv_size ||
	    memcmp(ucc, k->mv_data, k->mv_size) != 0 || kind != (int) u->kind) {
		char sh3[SHOWBUF];
		od_check_problem(c,
		    "country_units: unit '%s' is listed under %s as %s, but it is %s in '%s'%s", id,
		    cc, od_check_kind_name(kind, kb, sizeof(kb)),
		    od_check_kind_name(u->kind, kb2, sizeof(kb2)),
		    od_check_show(ucc, strlen(ucc), sh3, sizeof(sh3)),
		    od_kind_is_office(u->kind) ? "" : " (not an office kind)");
	}
}

int
od_check_country_units(struct ck *c)
{
	return od_check_each(c, c->s->country_units, &c->rep->country_units, check_office_entry);
}

/* --- country records ---------------------------------------------------------------------- */

static void
check_country(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF], kb[32];
	const char *code = od_check_show(k->mv_data, k->mv_size, sh, sizeof(sh));
	const uint8_t *kp = k->mv_data;
	bool key_ok =
	    k->mv_size == 2 && kp[0] >= 'A' && kp[0] <= 'Z' && kp[1] >= 'A' && kp[1] <= 'Z';
	char alpha2[3] = "";
	if (!key_ok) {
		od_check_problem(
		    c, "countries: key '%s' is not an upper-case two-letter code", code);
	} else {
		memcpy(alpha2, kp, 2);
		if (c->s->iso != NULL && od_iso3166_find(c->s->iso, alpha2) == NULL) {
			od_check_problem(c, "country %s: not an ISO 3166-1 code", alpha2);
		}
	}
	Orgdir__V1__Country *r = orgdir__v1__country__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (r == NULL) {
		od_check_problem(c,
		    "country %s: the stored %zu bytes do not decode as orgdir.v1.Country", code,
		    v->mv_size);
		return;
	}
	if (r->code[0] != '\0' && (!key_ok || strcmp(r->code, alpha2) != 0)) {
		od_check_problem(c, "country %s: the record holds code '%s'", code,
		    od_check_show(r->code, strlen(r->code), sh2, sizeof(sh2)));
	}
	uint64_t etag;
	if (r->etag[0] != '\0' && !od_check_parse_rev(r->etag, &etag)) {
		od_check_problem(c, "country %s: etag '%s' is not a revision", code,
		    od_check_show(r->etag, strlen(r->etag), sh2, sizeof(sh2)));
	} else if (r->etag[0] != '\0' && etag > c->rep->revision) {
		od_check_problem(c,
		    "country %s: etag %" PRIu64 " is later than the store's revision %" PRIu64,
		    code, etag, c->rep->revision);
	}
	const char *reg = r->region_unit_id;
	if (reg[0] == '\0') {
		return;
	}
	const char *regs = od_check_show(reg, strlen(reg), sh2, sizeof(sh2));
	if (strlen(reg) > OD_ID_MAX || !od_id_valid(reg)) {
		od_check_problem(c, "country %s: region '%s' is not a unit id", code, regs);
		return;
	}
	MDB_val uk = {strlen(reg), (void *) reg};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		od_check_problem(c, "country %s: region unit '%s' does not exist", code, regs);
		return;
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, raw.mv_size, raw.mv_data);
	if (u != NULL && u->kind != ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE) {
		od_check_problem(c, "country %s: region unit '%s' is %s, not a REGIONAL_OFFICE",
		    code, regs, od_check_kind_name(u->kind, kb, sizeof(kb)));
	}
}

int
od_check_countries(struct ck *c)
{
	return od_check_each(c, c->s->countries, &c->rep->countries, check_country);
}

/* --- the idempotency record ------------------------------------------------------------ */

static const char *
hex_key(const MDB_val *k, char *out /* 2 * REQUEST_KEY_MAX + 4 */)
{
	size_t n = k->mv_size > REQUEST_KEY_MAX ? REQUEST_KEY_MAX : k->mv_size;
	od_hex_encode(k->mv_data, n, out);
	if (n < k->mv_size) {
		memcpy(out + 2 * n, "...", 4);
	}
	return out;
}

int
od_check_requests(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char hex[2 * REQUEST_KEY_MAX + 4];
	uint64_t n_req = 0, n_log = 0, last = 0;
	int rc = mdb_cursor_open(c->txn, c->s->requests, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		n_req++;
		if (k.mv_size < REQUEST_KEY_MIN || k.mv_size > REQUEST_KEY_MAX) {
			od_check_problem(c, "requests: request id %s is %zu bytes (not 8 to 64)",
			    hex_key(&k, hex), k.mv_size);
		}
		Orgdir__V1__Response *r =
		    orgdir__v1__response__unpack(&c->a.pb, v.mv_size, v.mv_data);
		if (r == NULL) {
			od_check_problem(c,
			    "requests: the reply recorded for request %s does not decode",
			    hex_key(&k, hex));
		}
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if ((rc = mdb_cursor_open(c->txn, c->s->request_log, &cur)) != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		n_log++;
		if (k.mv_size != 8) {
			od_check_problem(
			    c, "request_log: a %zu-byte key (sequence numbers are 8)", k.mv_size);
			continue;
		}
		last = 0;
		for (int i = 0; i < 8; i++) {
			last = last << 8 | ((const uint8_t *) k.mv_data)[i];
		}
		MDB_val rv;
		if (mdb_get(c->txn, c->s->requests, &v, &rv) != 0) {
			od_check_problem(c,
			    "request_log: entry %" PRIu64 " names request %s, not recorded", last,
			    hex_key(&v, hex));
		}
	}
	mdb_cursor_close(cur);
	c->rep->requests = n_req;
	if (n_req != n_log) {
		od_check_problem(c,
		    "requests: %" PRIu64 " recorded replies, but the log has %" PRIu64 " entries",
		    n_req, n_log);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}
