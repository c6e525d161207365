/* check.c - the store's consistency check. Each database is read once in
 * key order; cross-references are looked up with mdb_get (the map is in
 * memory), so the check needs no memory proportional to the store. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_int.h"

#define META_SCHEMA "schema_version"
#define META_REVISION "revision"
#define META_LOG_FLOOR "log_floor"
#define ARENA_CAP ((size_t) 64 << 20) /* one decoded record at a time */
#define SHOW_MAX 96 /* bytes of a key shown in a problem */
#define REQUEST_KEY_MIN 8
#define REQUEST_KEY_MAX 64

struct ck {
	od_txn *t;
	MDB_txn *txn;
	struct od_store *s;
	od_check_report *rep;
	od_arena a;
	uint64_t kinds[256]; /* units per kind byte */
};

static void __attribute__((format(printf, 2, 3))) problem(struct ck *c, const char *fmt, ...)
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
static const char *
show(const void *p, size_t n, char *out, size_t cap)
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

#define SHOWBUF (SHOW_MAX * 4 + 8) /* room for show() */

/* A NUL-terminated copy of a key that may be a unit id; false if it is not
 * one. */
static bool
id_of(const MDB_val *k, char out[OD_ID_MAX + 1])
{
	if (k->mv_size == 0 || k->mv_size > OD_ID_MAX || memchr(k->mv_data, 0, k->mv_size)) {
		out[0] = '\0';
		return false;
	}
	memcpy(out, k->mv_data, k->mv_size);
	out[k->mv_size] = '\0';
	return od_id_valid(out);
}

static const char *
kind_name(int kind, char *buf, size_t cap)
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
static bool
parse_rev(const char *s, uint64_t *out)
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

static size_t
sort_key(int32_t order, const char *id, uint8_t *out)
{
	uint32_t o = (uint32_t) order ^ 0x80000000u;
	size_t n = strlen(id);
	out[0] = (uint8_t) (o >> 24);
	out[1] = (uint8_t) (o >> 16);
	out[2] = (uint8_t) (o >> 8);
	out[3] = (uint8_t) o;
	memcpy(out + 4, id, n);
	return 4 + n;
}

static int32_t
sort_order_of(const uint8_t *k)
{
	uint32_t o = (uint32_t) k[0] << 24 | (uint32_t) k[1] << 16 | (uint32_t) k[2] << 8 | k[3];
	return (int32_t) (o ^ 0x80000000u);
}

static bool
has_dup(struct ck *c, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
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

static const char *
cc_of(const Orgdir__V1__Unit *u)
{
	return u->location != NULL ? u->location->country_code : "";
}

static bool
expects_office_entry(const Orgdir__V1__Unit *u)
{
	return od_kind_is_office(u->kind) && strlen(cc_of(u)) == 2;
}

/* --- meta ----------------------------------------------------------------------- */

static void
check_meta(struct ck *c)
{
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val v;
	uint32_t ver = 0;
	if (mdb_get(c->txn, c->s->meta, &k, &v) != 0 || v.mv_size != sizeof(ver)) {
		problem(c, "meta: the schema version is missing or malformed");
	} else {
		memcpy(&ver, v.mv_data, sizeof(ver));
		if (ver != OD_SCHEMA_VERSION) {
			problem(c, "meta: schema version %" PRIu32 ", expected %d", ver,
			    OD_SCHEMA_VERSION);
		}
	}
	k.mv_data = META_REVISION;
	k.mv_size = strlen(META_REVISION);
	if (mdb_get(c->txn, c->s->meta, &k, &v) == 0 && v.mv_size != sizeof(uint64_t)) {
		problem(c, "meta: the revision record is %zu bytes, not 8", v.mv_size);
	}
	c->rep->revision = od_txn_revision(c->t);
}

/* --- the tree --------------------------------------------------------------------- */

/* Walks up from `start` (a valid id) reading only parent_id (field 2) of
 * the stored bytes. A cycle is reported once, by its smallest member; a
 * tree too deep once per unit at the first level past the limit. A chain
 * ending at a missing parent is reported by that parent's child. */
static void
check_ancestors(struct ck *c, const char *start)
{
	enum { CAP = OD_TREE_DEPTH_MAX + 2 }; /* the unit and 65 ancestors */
	char chain[CAP][OD_ID_MAX + 1];
	size_t n = 0;
	od_strlcpy(chain[n++], start, sizeof(chain[0]));
	for (;;) {
		const char *cur = chain[n - 1];
		MDB_val k = {strlen(cur), (void *) cur};
		MDB_val raw;
		const uint8_t *p;
		size_t len;
		if (mdb_get(c->txn, c->s->units, &k, &raw) != 0) {
			return; /* dangling: reported by the unit pass */
		}
		if (!od_pb_scan_field(raw.mv_data, raw.mv_size, 2, &p, &len) || len == 0) {
			size_t depth = n - 1;
			if (depth == OD_TREE_DEPTH_MAX + 1) {
				problem(c,
				    "unit '%s' is %zu levels below its root; the limit is %d",
				    start, depth, OD_TREE_DEPTH_MAX);
			}
			return;
		}
		if (len > OD_ID_MAX) {
			return; /* an invalid parent id: reported by the unit pass */
		}
		char parent[OD_ID_MAX + 1];
		memcpy(parent, p, len);
		parent[len] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (strcmp(chain[i], parent) != 0) {
				continue;
			}
			if (i != 0) {
				return; /* start is below a cycle, not in it */
			}
			for (size_t j = 1; j < n; j++) {
				if (strcmp(chain[j], start) < 0) {
					return; /* reported by its smallest member */
				}
			}
			char path[CAP * 8 + 64] = "";
			size_t o = 0;
			for (size_t j = 0; j <= n && o + 8 < sizeof(path); j++) {
				int w = snprintf(path + o, sizeof(path) - o, "%s%s",
				    j ? " -> " : "", j < n ? chain[j] : start);
				o += w > 0 ? (size_t) w : 0;
			}
			problem(c, "unit '%s': its ancestors form a cycle (%s)", start, path);
			return;
		}
		if (n == CAP) {
			/* No root, no cycle within the bound: a cycle longer than the
			 * bound or a tree far too deep. Reported by the smallest id of
			 * the window, which bounds the repeats. */
			for (size_t j = 1; j < n; j++) {
				if (strcmp(chain[j], start) < 0) {
					return;
				}
			}
			problem(c,
			    "unit '%s': no root within %d levels up (a long cycle or a tree too "
			    "deep)",
			    start, CAP - 1);
			return;
		}
		od_strlcpy(chain[n++], parent, sizeof(chain[0]));
	}
}

/* --- units -------------------------------------------------------------------------- */

static void
check_unit(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char kid[OD_ID_MAX + 1];
	char sh[SHOWBUF], sh2[SHOWBUF], kb[32];
	bool key_ok = id_of(k, kid);
	const char *name = show(k->mv_data, k->mv_size, sh, sizeof(sh));
	if (!key_ok) {
		problem(c, "units: key '%s' is not a valid unit id", name);
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (u == NULL) {
		problem(c, "unit '%s': the stored %zu bytes do not decode as orgdir.v1.Unit%s",
		    name, v->mv_size, c->a.exhausted ? " (larger than the check's memory)" : "");
		return;
	}
	if (strlen(u->id) != k->mv_size || memcmp(u->id, k->mv_data, k->mv_size) != 0) {
		problem(c, "unit '%s': stored under a key that is not its id ('%s')", name,
		    show(u->id, strlen(u->id), sh2, sizeof(sh2)));
	}
	c->kinds[(uint8_t) u->kind]++;
	uint64_t etag;
	if (!parse_rev(u->etag, &etag)) {
		problem(c, "unit '%s': etag '%s' is not a revision", name,
		    show(u->etag, strlen(u->etag), sh2, sizeof(sh2)));
	} else if (etag > c->rep->revision) {
		problem(c,
		    "unit '%s': etag %" PRIu64 " is later than the store's revision %" PRIu64, name,
		    etag, c->rep->revision);
	}
	/* Facts for the indexes, before od_unit_check normalises its copy. */
	int kind = u->kind;
	bool office = expects_office_entry(u);
	char cc[3] = "";
	od_strlcpy(cc, cc_of(u), sizeof(cc));
	int32_t order = u->sort_order;
	char parent[OD_ID_MAX + 1] = "";
	bool parent_ok = u->parent_id[0] == '\0' ||
	    (strlen(u->parent_id) <= OD_ID_MAX && od_id_valid(u->parent_id));
	if (parent_ok) {
		od_strlcpy(parent, u->parent_id, sizeof(parent));
	}
	orgdir_status st;
	if (od_unit_check(u, &st) != ORGDIR_OK) {
		problem(c, "unit '%s': %s", name, st.message);
	}
	if (cc[0] != '\0' && c->s->iso != NULL && od_iso3166_find(c->s->iso, cc) == NULL) {
		problem(c, "unit '%s': country '%s' is not an ISO 3166-1 code", name,
		    show(cc, strlen(cc), sh2, sizeof(sh2)));
	}
	if (!key_ok || !parent_ok) {
		return; /* no index entry can be computed for it */
	}
	if (parent[0] != '\0' && !od_unit_exists(c->t, parent)) {
		problem(c, "unit '%s': parent '%s' does not exist", kid, parent);
	}
	uint8_t skey[OD_SORTKEY_MAX];
	const char *pk = parent[0] != '\0' ? parent : OD_ROOT_KEY;
	if (!has_dup(c, c->s->children, pk, strlen(pk), skey, sort_key(order, kid, skey))) {
		problem(c, "unit '%s': missing from the children index under '%s' (sort order %d)",
		    kid, pk, (int) order);
	}
	if (office) {
		uint8_t ov[1 + OD_ID_MAX];
		ov[0] = (uint8_t) kind;
		memcpy(ov + 1, kid, strlen(kid));
		if (!has_dup(c, c->s->country_units, cc, 2, ov, 1 + strlen(kid))) {
			problem(c, "unit '%s': %s in %s, missing from the country_units index", kid,
			    kind_name(kind, kb, sizeof(kb)), cc);
		}
	}
	check_ancestors(c, kid);
}

static int
check_units(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->units, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		c->rep->units++;
		check_unit(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- the children index --------------------------------------------------------------- */

static void
check_child_entry(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF];
	char pid[OD_ID_MAX + 1];
	const char *under = show(k->mv_data, k->mv_size, sh, sizeof(sh));
	bool root = k->mv_size == 1 && memcmp(k->mv_data, OD_ROOT_KEY, 1) == 0;
	if (!root && !id_of(k, pid)) {
		problem(c, "children index: key '%s' is neither a unit id nor '/'", under);
	}
	if (v->mv_size <= 4 || v->mv_size > OD_SORTKEY_MAX) {
		problem(c, "children index: an entry under '%s' is %zu bytes (not a sort key)",
		    under, v->mv_size);
		return;
	}
	const char *idp = (const char *) v->mv_data + 4;
	size_t idn = v->mv_size - 4;
	const char *id = show(idp, idn, sh2, sizeof(sh2));
	MDB_val uk = {idn, (void *) idp};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		problem(c, "children index: entry under '%s' names unit '%s', which does not exist",
		    under, id);
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
		problem(c, "children index: unit '%s' is listed under '%s', but its parent is '%s'",
		    id, under, show(want, strlen(want), sh3, sizeof(sh3)));
	} else if (order != u->sort_order) {
		problem(c,
		    "children index: unit '%s' is listed under '%s' with sort order %d, but its "
		    "sort order is %d",
		    id, under, (int) order, (int) u->sort_order);
	}
}

static int
check_children(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->children, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		c->rep->children++;
		check_child_entry(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- derived indexes: kind counts, country offices ---------------------------------- */

static int
check_kind_counts(struct ck *c)
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
			problem(c, "kind_counts: a record with a %zu-byte key and %zu-byte value",
			    k.mv_size, v.mv_size);
			continue;
		}
		uint8_t kind = *(const uint8_t *) k.mv_data;
		memcpy(&n, v.mv_data, sizeof(n));
		seen[kind] = true;
		if (n != c->kinds[kind]) {
			problem(c,
			    "kind_counts: %s counts %" PRIu64 " unit(s), but there are %" PRIu64,
			    kind_name(kind, kb, sizeof(kb)), n, c->kinds[kind]);
		}
	}
	mdb_cursor_close(cur);
	for (int kind = 0; kind < 256; kind++) {
		if (!seen[kind] && c->kinds[kind] != 0) {
			problem(c,
			    "kind_counts: no count for %s, but there are %" PRIu64 " unit(s)",
			    kind_name(kind, kb, sizeof(kb)), c->kinds[kind]);
		}
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
check_office_entry(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF], kb[32], kb2[32];
	const char *cc = show(k->mv_data, k->mv_size, sh, sizeof(sh));
	if (k->mv_size != 2) {
		problem(c, "country_units: key '%s' is not a two-letter country code", cc);
	}
	if (v->mv_size < 2 || v->mv_size > 1 + OD_ID_MAX) {
		problem(c, "country_units: an entry under '%s' is %zu bytes (not kind + id)", cc,
		    v->mv_size);
		return;
	}
	int kind = *(const uint8_t *) v->mv_data;
	const char *idp = (const char *) v->mv_data + 1;
	const char *id = show(idp, v->mv_size - 1, sh2, sizeof(sh2));
	MDB_val uk = {v->mv_size - 1, (void *) idp};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		problem(c, "country_units: entry under %s names unit '%s', which does not exist",
		    cc, id);
		return;
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, raw.mv_size, raw.mv_data);
	if (u == NULL) {
		return; /* reported by the unit pass */
	}
	const char *ucc = cc_of(u);
	if (!expects_office_entry(u) || strlen(ucc) != k->mv_size ||
	    memcmp(ucc, k->mv_data, k->mv_size) != 0 || kind != (int) u->kind) {
		char sh3[SHOWBUF];
		problem(c,
		    "country_units: unit '%s' is listed under %s as %s, but it is %s in '%s'%s", id,
		    cc, kind_name(kind, kb, sizeof(kb)), kind_name(u->kind, kb2, sizeof(kb2)),
		    show(ucc, strlen(ucc), sh3, sizeof(sh3)),
		    od_kind_is_office(u->kind) ? "" : " (not an office kind)");
	}
}

static int
check_country_units(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->country_units, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		c->rep->country_units++;
		check_office_entry(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- country records ---------------------------------------------------------------------- */

static void
check_country(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char sh[SHOWBUF], sh2[SHOWBUF], kb[32];
	const char *code = show(k->mv_data, k->mv_size, sh, sizeof(sh));
	const uint8_t *kp = k->mv_data;
	bool key_ok =
	    k->mv_size == 2 && kp[0] >= 'A' && kp[0] <= 'Z' && kp[1] >= 'A' && kp[1] <= 'Z';
	char alpha2[3] = "";
	if (!key_ok) {
		problem(c, "countries: key '%s' is not an upper-case two-letter code", code);
	} else {
		memcpy(alpha2, kp, 2);
		if (c->s->iso != NULL && od_iso3166_find(c->s->iso, alpha2) == NULL) {
			problem(c, "country %s: not an ISO 3166-1 code", alpha2);
		}
	}
	Orgdir__V1__Country *r = orgdir__v1__country__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (r == NULL) {
		problem(c, "country %s: the stored %zu bytes do not decode as orgdir.v1.Country",
		    code, v->mv_size);
		return;
	}
	if (r->code[0] != '\0' && (!key_ok || strcmp(r->code, alpha2) != 0)) {
		problem(c, "country %s: the record holds code '%s'", code,
		    show(r->code, strlen(r->code), sh2, sizeof(sh2)));
	}
	uint64_t etag;
	if (r->etag[0] != '\0' && !parse_rev(r->etag, &etag)) {
		problem(c, "country %s: etag '%s' is not a revision", code,
		    show(r->etag, strlen(r->etag), sh2, sizeof(sh2)));
	} else if (r->etag[0] != '\0' && etag > c->rep->revision) {
		problem(c,
		    "country %s: etag %" PRIu64 " is later than the store's revision %" PRIu64,
		    code, etag, c->rep->revision);
	}
	const char *reg = r->region_unit_id;
	if (reg[0] == '\0') {
		return;
	}
	const char *regs = show(reg, strlen(reg), sh2, sizeof(sh2));
	if (strlen(reg) > OD_ID_MAX || !od_id_valid(reg)) {
		problem(c, "country %s: region '%s' is not a unit id", code, regs);
		return;
	}
	MDB_val uk = {strlen(reg), (void *) reg};
	MDB_val raw;
	if (mdb_get(c->txn, c->s->units, &uk, &raw) != 0) {
		problem(c, "country %s: region unit '%s' does not exist", code, regs);
		return;
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, raw.mv_size, raw.mv_data);
	if (u != NULL && u->kind != ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE) {
		problem(c, "country %s: region unit '%s' is %s, not a REGIONAL_OFFICE", code, regs,
		    kind_name(u->kind, kb, sizeof(kb)));
	}
}

static int
check_countries(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->countries, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		c->rep->countries++;
		check_country(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
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

static int
check_requests(struct ck *c)
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
			problem(c, "requests: request id %s is %zu bytes (not 8 to 64)",
			    hex_key(&k, hex), k.mv_size);
		}
		Orgdir__V1__Response *r =
		    orgdir__v1__response__unpack(&c->a.pb, v.mv_size, v.mv_data);
		if (r == NULL) {
			problem(c, "requests: the reply recorded for request %s does not decode",
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
			problem(
			    c, "request_log: a %zu-byte key (sequence numbers are 8)", k.mv_size);
			continue;
		}
		last = 0;
		for (int i = 0; i < 8; i++) {
			last = last << 8 | ((const uint8_t *) k.mv_data)[i];
		}
		MDB_val rv;
		if (mdb_get(c->txn, c->s->requests, &v, &rv) != 0) {
			problem(c, "request_log: entry %" PRIu64 " names request %s, not recorded",
			    last, hex_key(&v, hex));
		}
	}
	mdb_cursor_close(cur);
	c->rep->requests = n_req;
	if (n_req != n_log) {
		problem(c,
		    "requests: %" PRIu64 " recorded replies, but the log has %" PRIu64 " entries",
		    n_req, n_log);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- the change log ----------------------------------------------------------------------- */

/* The changes_by_res key of a resource: "u:<id>" or "c:<CC>". */
static size_t
res_key(int type, const char *id, char *out /* 2 + OD_ID_MAX + 1 */)
{
	size_t n = strnlen(id, OD_ID_MAX);
	out[0] = type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY ? 'c' : 'u';
	out[1] = ':';
	memcpy(out + 2, id, n);
	return n + 2;
}

static bool
country_code_valid(const char *s, size_t n)
{
	return n == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

/* One decoded change: what it names agrees with its key and its kind. */
static void
check_change_record(struct ck *c, uint64_t rev, uint32_t seq, const Orgdir__V1__Change *ch)
{
	char sh[SHOWBUF];
	const char *id = show(ch->resource_id, strlen(ch->resource_id), sh, sizeof(sh));
	if (ch->revision != rev || ch->seq != seq) {
		problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32 " holds the change of revision "
		    "%" PRIu64 " seq %" PRIu32,
		    rev, seq, ch->revision, ch->seq);
	}
	const char *before, *after;
	bool has_before, has_after;
	if (ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT) {
		if (strlen(ch->resource_id) > OD_ID_MAX || !od_id_valid(ch->resource_id)) {
			problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " names unit '%s', not a unit id",
			    rev, seq, id);
			return;
		}
		has_before = ch->unit_before != NULL;
		has_after = ch->unit_after != NULL;
		before = has_before ? ch->unit_before->id : "";
		after = has_after ? ch->unit_after->id : "";
	} else if (ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY) {
		if (!country_code_valid(ch->resource_id, strlen(ch->resource_id))) {
			problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " names country '%s', not an alpha-2 code",
			    rev, seq, id);
			return;
		}
		has_before = ch->country_before != NULL;
		has_after = ch->country_after != NULL;
		/* A country record may leave its code out (it is the key). */
		before = has_before && ch->country_before->code[0] ? ch->country_before->code
		                                                   : ch->resource_id;
		after = has_after && ch->country_after->code[0] ? ch->country_after->code
		                                                : ch->resource_id;
	} else {
		problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " changes '%s' of unknown resource type %d",
		    rev, seq, id, (int) ch->resource_type);
		return;
	}
	const char *what =
	    ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT ? "unit" : "country";
	if (!has_before && !has_after) {
		problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') has neither a before nor an after",
		    rev, seq, what, id);
	} else if ((has_before && strcmp(before, ch->resource_id) != 0) ||
	    (has_after && strcmp(after, ch->resource_id) != 0)) {
		problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') holds another %s's record",
		    rev, seq, what, id, what);
	}
	char rk[2 + OD_ID_MAX + 1];
	uint8_t key[12];
	od_put_be64(key, rev);
	key[8] = (uint8_t) (seq >> 24);
	key[9] = (uint8_t) (seq >> 16);
	key[10] = (uint8_t) (seq >> 8);
	key[11] = (uint8_t) seq;
	if (!has_dup(c, c->s->changes_by_res, rk, res_key(ch->resource_type, ch->resource_id, rk),
	        key, sizeof(key))) {
		problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') is missing from the changes_by_res index",
		    rev, seq, what, id);
	}
}

/* Reports revisions from..to (inclusive) as missing. */
static void
missing_revisions(struct ck *c, uint64_t from, uint64_t to, uint64_t floor)
{
	if (from == to) {
		problem(c,
		    "change log: revision %" PRIu64 " is missing (the log holds every change after "
		    "revision %" PRIu64 ")",
		    from, floor);
	} else {
		problem(c,
		    "change log: revisions %" PRIu64 " to %" PRIu64
		    " are missing (the log holds every change after revision %" PRIu64 ")",
		    from, to, floor);
	}
}

/*
 * Every change after the floor is kept: revisions floor+1 .. the store's
 * revision each have changes numbered from seq 0 without a gap. Changes at
 * or below the floor are left-overs pruning has not reached yet (it takes
 * a few per write) and are only checked for form.
 */
static int
check_changes(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t floor = 0;
	MDB_val fk = {strlen(META_LOG_FLOOR), META_LOG_FLOOR};
	if (mdb_get(c->txn, c->s->meta, &fk, &v) == 0) {
		if (v.mv_size != sizeof(floor)) {
			problem(c, "meta: the change log floor is %zu bytes, not 8", v.mv_size);
		} else {
			memcpy(&floor, v.mv_data, sizeof(floor));
		}
	}
	uint64_t top = c->rep->revision;
	if (floor > top) {
		problem(c,
		    "meta: the change log starts after revision %" PRIu64
		    ", later than the store's revision %" PRIu64,
		    floor, top);
	}
	uint64_t last_rev = floor; /* the last revision above the floor seen */
	uint64_t prev_rev = 0;
	uint32_t prev_seq = 0;
	bool any = false;
	int rc = mdb_cursor_open(c->txn, c->s->changes, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF];
		c->rep->changes++;
		if (k.mv_size != 12) {
			problem(c, "change log: key '%s' is %zu bytes, not revision + seq (12)",
			    show(k.mv_data, k.mv_size, sh, sizeof(sh)), k.mv_size);
			continue;
		}
		uint64_t rev = od_get_be64(k.mv_data);
		uint32_t seq = od_get_be32((const uint8_t *) k.mv_data + 8);
		Orgdir__V1__Change *ch = orgdir__v1__change__unpack(&c->a.pb, v.mv_size, v.mv_data);
		if (ch == NULL) {
			problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    ": the stored %zu bytes do not decode as orgdir.v1.Change%s",
			    rev, seq, v.mv_size,
			    c->a.exhausted ? " (larger than the check's memory)" : "");
		} else {
			check_change_record(c, rev, seq, ch);
		}
		od_arena_reset(&c->a);
		if (rev > top) {
			problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " is later than the store's revision %" PRIu64,
			    rev, seq, top);
		}
		bool same = any && rev == prev_rev;
		any = true;
		prev_rev = rev;
		uint32_t want_seq = same ? prev_seq + 1 : 0;
		prev_seq = seq;
		if (rev <= floor) {
			continue; /* a left-over below the retention start */
		}
		if (!same && rev > last_rev + 1) {
			missing_revisions(c, last_rev + 1, rev - 1, floor);
		}
		last_rev = rev;
		if (seq != want_seq) {
			problem(c,
			    "change log: revision %" PRIu64 " has seq %" PRIu32
			    " where seq %" PRIu32 " should be (changes are missing)",
			    rev, seq, want_seq);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if (last_rev < top) {
		missing_revisions(c, last_rev + 1, top, floor);
	}
	return 0;
}

/* Each changes_by_res entry names a change of that resource in the log. */
static int
check_changes_by_res(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->changes_by_res, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF], sh2[SHOWBUF];
		const char *res = show(k.mv_data, k.mv_size, sh, sizeof(sh));
		if (v.mv_size != 12) {
			problem(c, "changes_by_res: an entry of '%s' is %zu bytes, not 12", res,
			    v.mv_size);
			continue;
		}
		uint64_t rev = od_get_be64(v.mv_data);
		uint32_t seq = od_get_be32((const uint8_t *) v.mv_data + 8);
		MDB_val cv;
		if (mdb_get(c->txn, c->s->changes, &v, &cv) != 0) {
			problem(c,
			    "changes_by_res: '%s' lists revision %" PRIu64 " seq %" PRIu32
			    ", which is not in the change log",
			    res, rev, seq);
			continue;
		}
		Orgdir__V1__Change *ch =
		    orgdir__v1__change__unpack(&c->a.pb, cv.mv_size, cv.mv_data);
		char rk[2 + OD_ID_MAX + 1];
		size_t rkl;
		if (ch != NULL &&
		    ((rkl = res_key(ch->resource_type, ch->resource_id, rk)) != k.mv_size ||
		        memcmp(rk, k.mv_data, rkl) != 0)) {
			problem(c,
			    "changes_by_res: '%s' lists revision %" PRIu64 " seq %" PRIu32
			    ", a change of '%s'",
			    res, rev, seq, show(rk, rkl, sh2, sizeof(sh2)));
		}
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- tokens ------------------------------------------------------------------------------ */

static int
check_tokens(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->tokens, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF], sh2[SHOWBUF], name[OD_ID_MAX + 1];
		const char *shown = show(k.mv_data, k.mv_size, sh, sizeof(sh));
		struct od_token_rec rec;
		c->rep->tokens++;
		if (!id_of(&k, name)) {
			problem(c, "token '%s': not a valid token name", shown);
		}
		if (v.mv_size != sizeof(rec)) {
			problem(c, "token '%s': the stored %zu bytes are not a token record (%zu)",
			    shown, v.mv_size, sizeof(rec));
			continue;
		}
		memcpy(&rec, v.mv_data, sizeof(rec));
		if (rec.role < ORGDIR__V1__ROLE__READER || rec.role > ORGDIR__V1__ROLE__ADMIN) {
			problem(c, "token '%s': unknown role %" PRIu32, shown, rec.role);
		}
		if (rec.expire_sec != 0 && rec.expire_sec <= rec.create_sec) {
			problem(c,
			    "token '%s': expires (%" PRId64 ") before it was created (%" PRId64 ")",
			    shown, rec.expire_sec, rec.create_sec);
		}
		MDB_val hk = {sizeof(rec.hash), rec.hash};
		MDB_val hv;
		if (mdb_get(c->txn, c->s->token_hashes, &hk, &hv) != 0) {
			problem(c, "token '%s': missing from the token_hashes index", shown);
		} else if (hv.mv_size != k.mv_size ||
		    memcmp(hv.mv_data, k.mv_data, k.mv_size) != 0) {
			problem(c, "token '%s': its hash is indexed under token '%s'", shown,
			    show(hv.mv_data, hv.mv_size, sh2, sizeof(sh2)));
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if ((rc = mdb_cursor_open(c->txn, c->s->token_hashes, &cur)) != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF];
		const char *name = show(v.mv_data, v.mv_size, sh, sizeof(sh));
		MDB_val tv;
		if (k.mv_size != 32) {
			problem(c,
			    "token_hashes: an entry for token '%s' has a %zu-byte key, not 32",
			    name, k.mv_size);
		} else if (mdb_get(c->txn, c->s->tokens, &v, &tv) != 0) {
			problem(c, "token_hashes: an entry names token '%s', which does not exist",
			    name);
		} else if (tv.mv_size == sizeof(struct od_token_rec)) {
			struct od_token_rec rec; /* copied: LMDB values are not aligned */
			memcpy(&rec, tv.mv_data, sizeof(rec));
			if (memcmp(rec.hash, k.mv_data, sizeof(rec.hash)) != 0) {
				problem(c,
				    "token_hashes: an entry names token '%s', whose secret has "
				    "another hash",
				    name);
			}
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- the search index ---------------------------------------------------------------------- */

/*
 * What a record's entries must be is what search.c's own indexer makes of
 * it: od_search_index_unit/_country write a doc as a difference against
 * what is stored. Run on this read-only snapshot they only read when the
 * stored entries already match; when anything differs the first write is
 * refused by LMDB with EACCES (nothing is written). So the check compares
 * without a second copy of the key generation. It covers the doc (words,
 * whole names, exact keys, kind, depth). Whether each key of `search` is
 * in place is search.c's to say (the layout of those keys is its alone):
 * od_search_check_doc says whether a doc's keys are all stored, and when
 * the index holds more keys than the docs derive, od_search_check_key
 * finds the stale ones.
 */
#define SEARCH_DIFFERS EACCES

/* A search_docs key: 'u' + unit id or 'c' + alpha-2. Names it in `label`
 * ("unit 'x'", "country FR") and says whether the record exists; false for
 * a key that is neither. */
static bool
doc_record(struct ck *c, const uint8_t *d, size_t n, char *label, size_t cap, bool *exists)
{
	char sh[SHOWBUF];
	if (n >= 2 && d[0] == 'u') {
		char id[OD_ID_MAX + 1];
		MDB_val k = {n - 1, (void *) (d + 1)};
		if (id_of(&k, id)) {
			snprintf(label, cap, "unit '%s'", id);
			*exists = od_unit_exists(c->t, id);
			return true;
		}
	}
	if (n == 3 && d[0] == 'c' && country_code_valid((const char *) d + 1, 2)) {
		char cc[3] = {(char) d[1], (char) d[2], '\0'};
		snprintf(label, cap, "country %s", cc);
		*exists = c->s->iso == NULL || od_iso3166_find(c->s->iso, cc) != NULL;
		return true;
	}
	snprintf(label, cap, "'%s'", show(d, n, sh, sizeof(sh)));
	return false;
}

/* A doc's keys of `search`: all there, with the values its record gives. */
static bool
check_doc_keys(struct ck *c, const MDB_val *k, const MDB_val *v, const char *label, uint64_t *n)
{
	size_t n_keys = 0;
	int rc = od_search_check_doc(
	    c->t, &c->a, k->mv_data, k->mv_size, v->mv_data, v->mv_size, &n_keys);
	od_arena_reset(&c->a);
	*n += n_keys;
	if (rc == EINVAL) {
		problem(c, "search_docs: the record of %s does not decode", label);
	} else if (rc == ENOENT) {
		problem(c, "%s: a key of its search entries is missing from the index", label);
	} else if (rc == EACCES) {
		problem(c, "%s: a key of its search entries holds other bytes", label);
	} else if (rc != 0) {
		problem(c, "%s: its search keys could not be read (%s)", label,
		    rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	}
	return rc == 0;
}

/* Stale keys, counted per doc so that one lost doc is one problem. */
#define STALE_DOCS_MAX 64
struct stale {
	char label[SHOWBUF + 16];
	uint64_t keys;
};

/* Keys of `search` that no doc derives (left behind by a bad write). */
static int
check_stale_search_keys(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct stale *docs = calloc(STALE_DOCS_MAX, sizeof(*docs));
	size_t n_docs = 0;
	uint64_t others = 0;
	if (docs == NULL) {
		return ENOMEM;
	}
	int rc = mdb_cursor_open(c->txn, c->s->search, &cur);
	if (rc != 0) {
		free(docs);
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		const uint8_t *doc = NULL;
		size_t dl = 0, i;
		char sh[SHOWBUF], label[SHOWBUF + 16];
		bool exists = false;
		int krc = od_search_check_key(c->t, &c->a, k.mv_data, k.mv_size, &doc, &dl);
		od_arena_reset(&c->a);
		if (krc == EINVAL) {
			problem(c, "search: key '%s' is not a key of the index",
			    show(k.mv_data, k.mv_size, sh, sizeof(sh)));
			continue;
		}
		if (krc != 0 && krc != ENOENT) {
			rc = krc;
			break;
		}
		if (krc == 0) {
			continue;
		}
		doc_record(c, doc, dl, label, sizeof(label), &exists);
		for (i = 0; i < n_docs && strcmp(docs[i].label, label) != 0; i++) {
		}
		if (i == n_docs && n_docs < STALE_DOCS_MAX) {
			snprintf(docs[n_docs++].label, sizeof(docs[0].label), "%s", label);
		}
		if (i < n_docs) {
			docs[i].keys++;
		} else {
			others++;
		}
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n_docs; i++) {
		problem(c,
		    "search: %" PRIu64
		    " key(s) of %s are stale (its search doc does not give them)",
		    docs[i].keys, docs[i].label);
	}
	if (others > 0) {
		problem(c, "search: %" PRIu64 " more stale key(s) of other docs", others);
	}
	free(docs);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every doc names an existing unit or ISO country, and its keys are in
 * `search`; the index holds no other key. */
static int
check_search_docs(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t derived = 0;
	bool all_there = true;
	int rc = mdb_cursor_open(c->txn, c->s->search_docs, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char label[SHOWBUF + 16];
		bool exists = false;
		c->rep->search_docs++;
		if (!doc_record(c, k.mv_data, k.mv_size, label, sizeof(label), &exists)) {
			problem(c, "search_docs: key %s names neither a unit nor a country", label);
		} else if (!exists) {
			problem(
			    c, "search_docs: %s is in the search index but does not exist", label);
		} else if (!check_doc_keys(c, &k, &v, label, &derived)) {
			all_there = false;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	MDB_stat ms;
	if ((rc = mdb_stat(c->txn, c->s->search, &ms)) != 0) {
		return rc;
	}
	c->rep->search_keys = ms.ms_entries;
	/* When every derived key was found, the index holding more keys than
	 * that means stale ones: only then (or when some were missing) is each
	 * key looked up against its doc. */
	return ms.ms_entries != derived || !all_there ? check_stale_search_keys(c) : 0;
}

static bool
has_doc(struct ck *c, char type, const char *id)
{
	char doc[2 + OD_ID_MAX];
	size_t il = strlen(id);
	MDB_val k = {1 + il, doc};
	MDB_val v;
	doc[0] = type;
	memcpy(doc + 1, id, il);
	return mdb_get(c->txn, c->s->search_docs, &k, &v) == 0;
}

static void
search_differs(struct ck *c, const char *label, int rc, const char *what)
{
	if (rc == SEARCH_DIFFERS) {
		problem(c, "%s: its search entries differ from what its %s gives", label, what);
	} else if (rc != 0) {
		problem(c, "%s: its search entries could not be computed (%s)", label,
		    rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	}
}

/* A unit's search entries are what its record gives at its depth. */
static void
check_search_unit(struct ck *c, const MDB_val *k, const MDB_val *v)
{
	char id[OD_ID_MAX + 1], label[OD_ID_MAX + 16];
	if (!id_of(k, id)) {
		return; /* reported by the unit pass */
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (u == NULL || strcmp(u->id, id) != 0) {
		return; /* reported by the unit pass */
	}
	if (!has_doc(c, 'u', id)) {
		problem(c, "unit '%s': missing from the search index (no search doc)", id);
		return;
	}
	uint32_t depth = od_unit_depth(c->t, u);
	if ((u->parent_id[0] != '\0' && depth == 0) || depth > OD_TREE_DEPTH_MAX) {
		return; /* no depth to index it at: the tree pass reports why */
	}
	snprintf(label, sizeof(label), "unit '%s'", id);
	search_differs(c, label, od_search_index_unit(c->t, &c->a, u, depth),
	    "record (words, names, acronym, kind) and depth");
}

static int
check_search_units(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->units, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		check_search_unit(c, &k, &v);
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every ISO 3166-1 country is searchable by its codes and names. */
static void
check_search_countries(struct ck *c)
{
	if (c->s->iso == NULL) {
		return; /* countries are neither served nor indexed */
	}
	for (size_t i = 0; i < od_iso3166_count(c->s->iso); i++) {
		const char *cc = od_iso3166_at(c->s->iso, i)->alpha2;
		char label[16];
		Orgdir__V1__Country *country;
		orgdir_status st;
		snprintf(label, sizeof(label), "country %s", cc);
		if (!has_doc(c, 'c', cc)) {
			problem(c, "country %s: missing from the search index (no search doc)", cc);
		} else if (od_country_get(c->t, &c->a, cc, &country, &st) != ORGDIR_OK) {
			problem(c, "country %s: cannot be read to check its search entries: %s", cc,
			    st.message);
		} else {
			search_differs(c, label, od_search_index_country(c->t, &c->a, country),
			    "codes and names");
		}
		od_arena_reset(&c->a);
	}
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
	int rc = check_units(c);
	const char *what = "units";
	if (rc == 0) {
		rc = check_children(c);
		what = "children index";
	}
	if (rc == 0) {
		rc = check_kind_counts(c);
		what = "kind counts";
	}
	if (rc == 0) {
		rc = check_country_units(c);
		what = "country office index";
	}
	if (rc == 0) {
		rc = check_countries(c);
		what = "countries";
	}
	if (rc == 0) {
		rc = check_requests(c);
		what = "requests";
	}
	if (rc == 0) {
		rc = check_changes(c);
		what = "change log";
	}
	if (rc == 0) {
		rc = check_changes_by_res(c);
		what = "change log index";
	}
	if (rc == 0) {
		rc = check_tokens(c);
		what = "tokens";
	}
	if (rc == 0) {
		rc = check_search_docs(c);
		what = "search docs";
	}
	if (rc == 0) {
		rc = check_search_units(c);
		what = "search entries of units";
	}
	if (rc == 0) {
		check_search_countries(c);
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
