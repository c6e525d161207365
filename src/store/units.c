/* units.c - units and the children index: reads, the subtree walk, and the
 * structural rules of writes (parents exist, no cycles, bounded depth). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* --- keys ------------------------------------------------------------------------ */

static size_t
sort_key(int32_t order, const char *id, size_t idlen, uint8_t *out)
{
	uint32_t o = (uint32_t) order ^ 0x80000000u; /* signed order as unsigned bytes */
	out[0] = (uint8_t) (o >> 24);
	out[1] = (uint8_t) (o >> 16);
	out[2] = (uint8_t) (o >> 8);
	out[3] = (uint8_t) o;
	memcpy(out + 4, id, idlen);
	return 4 + idlen;
}

static MDB_val
parent_key(const char *parent)
{
	MDB_val k;
	if (parent == NULL || parent[0] == '\0') {
		k.mv_data = OD_ROOT_KEY;
		k.mv_size = 1;
	} else {
		k.mv_data = (void *) parent;
		k.mv_size = strlen(parent);
	}
	return k;
}

static int
children_put(od_txn *t, const char *parent, int32_t order, const char *id)
{
	uint8_t sk[OD_SORTKEY_MAX];
	MDB_val k = parent_key(parent);
	return od_mdb_put(
	    t, t->s->children, k.mv_data, k.mv_size, sk, sort_key(order, id, strlen(id), sk), 0);
}

static int
children_del(od_txn *t, const char *parent, int32_t order, const char *id)
{
	uint8_t sk[OD_SORTKEY_MAX];
	MDB_val k = parent_key(parent);
	MDB_val v = {sort_key(order, id, strlen(id), sk), sk};
	return od_mdb_del(t, t->s->children, &k, &v);
}

/* --- reads ------------------------------------------------------------------------- */

static int
get_raw(od_txn *t, const void *id, size_t idlen, MDB_val *out)
{
	MDB_val k = {idlen, (void *) id};
	return mdb_get(t->txn, t->s->units, &k, out);
}

/*
 * The same through a cursor on `units` kept by a walk: opened on first use
 * (*c NULL), repositioned after. LMDB searches only the cursor's page when
 * the key falls within it, and the units a walk reads one after another
 * (siblings, in their order) often share a page: the descent from the root
 * is skipped for them.
 */
static int
get_raw_at(od_txn *t, MDB_cursor **c, const void *id, size_t idlen, MDB_val *out)
{
	if (*c == NULL) {
		int rc = mdb_cursor_open(t->txn, t->s->units, c);
		if (rc != 0) {
			*c = NULL;
			return rc;
		}
	}
	MDB_val k = {idlen, (void *) id};
	return mdb_cursor_get(*c, &k, out, MDB_SET);
}

orgdir_code
od_unit_get(od_txn *t, const char *id, od_val *out, orgdir_status *st)
{
	MDB_val v;
	int rc = get_raw(t, id, strlen(id), &v);
	if (rc == MDB_NOTFOUND) {
		return od_status_set(st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", id);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "read unit", st);
	}
	out->data = v.mv_data;
	out->len = v.mv_size;
	return ORGDIR_OK;
}

bool
od_unit_exists(od_txn *t, const char *id)
{
	MDB_val v;
	return get_raw(t, id, strlen(id), &v) == 0;
}

struct od_child_iter {
	od_txn *t;
	MDB_cursor *cur;
	MDB_cursor *units; /* get_raw_at's, NULL until used */
	bool started;
	bool done;
	MDB_val key;
	MDB_val last; /* sort key of the child last returned */
};

orgdir_code
od_children_open(od_txn *t, const char *parent, od_child_iter **out, orgdir_status *st)
{
	od_child_iter *it = calloc(1, sizeof(*it));
	if (it == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	int rc = mdb_cursor_open(t->txn, t->s->children, &it->cur);
	if (rc != 0) {
		free(it);
		return od_mdb_status(t, rc, "open children", st);
	}
	it->t = t;
	it->key = parent_key(parent);
	MDB_val v;
	rc = mdb_cursor_get(it->cur, &it->key, &v, MDB_SET_KEY);
	it->done = rc != 0;
	*out = it;
	return ORGDIR_OK;
}

bool
od_children_seek(od_child_iter *it, const od_val *after)
{
	if (it->done || after == NULL) {
		return !it->done;
	}
	MDB_val k = it->key;
	MDB_val v = {after->len, (void *) after->data};
	int rc = mdb_cursor_get(it->cur, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc != 0) {
		it->done = true;
		return false;
	}
	it->started = true;
	if (v.mv_size == after->len && memcmp(v.mv_data, after->data, after->len) == 0) {
		/* Positioned on `after` itself: the next call moves past it. */
		return true;
	}
	/* Positioned on the first key greater than `after`: return it next. */
	it->started = false;
	return true;
}

bool
od_children_next(od_child_iter *it, od_val *id, od_val *unit)
{
	MDB_val k = it->key;
	MDB_val v;
	for (;;) {
		if (it->done) {
			return false;
		}
		int rc =
		    mdb_cursor_get(it->cur, &k, &v, it->started ? MDB_NEXT_DUP : MDB_GET_CURRENT);
		it->started = true;
		if (rc != 0 || v.mv_size <= 4) {
			it->done = true;
			return false;
		}
		MDB_val u;
		if (get_raw_at(
		        it->t, &it->units, (const char *) v.mv_data + 4, v.mv_size - 4, &u) != 0) {
			continue; /* index entry without a unit: never written so; skip */
		}
		it->last = v;
		id->data = (const char *) v.mv_data + 4;
		id->len = v.mv_size - 4;
		unit->data = u.mv_data;
		unit->len = u.mv_size;
		return true;
	}
}

od_val
od_children_key(od_child_iter *it)
{
	od_val v = {it->last.mv_data, it->last.mv_size};
	return v;
}

size_t
od_children_count(od_child_iter *it)
{
	MDB_val k = it->key;
	MDB_val v;
	size_t n = 0;
	MDB_cursor *c;
	/* Count on a second cursor so the iteration position is untouched. */
	if (mdb_cursor_open(it->t->txn, it->t->s->children, &c) != 0) {
		return 0;
	}
	if (mdb_cursor_get(c, &k, &v, MDB_SET_KEY) == 0) {
		mdb_cursor_count(c, &n);
	}
	mdb_cursor_close(c);
	return (size_t) n;
}

void
od_children_close(od_child_iter *it)
{
	if (it != NULL) {
		mdb_cursor_close(it->cur);
		if (it->units != NULL) {
			mdb_cursor_close(it->units);
		}
		free(it);
	}
}

/* The walk keeps one cursor on `children` and one on `units` per level,
 * repositioned rather than reopened: a level's units cursor stays on the
 * page of that level's siblings while the walk goes down and back up. */
struct walk {
	od_txn *t;
	MDB_cursor *cur[OD_TREE_DEPTH_MAX + 2];
	MDB_cursor *units[OD_TREE_DEPTH_MAX + 2];
};

static void
walk_close(struct walk *w)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(w->cur); i++) {
		if (w->cur[i] != NULL) {
			mdb_cursor_close(w->cur[i]);
		}
		if (w->units[i] != NULL) {
			mdb_cursor_close(w->units[i]);
		}
	}
}

/* Positions level `lvl` on the first child of `parent`; false if none. */
static bool
walk_first(struct walk *w, uint32_t lvl, const void *parent, size_t plen, MDB_val *v)
{
	if (w->cur[lvl] == NULL &&
	    mdb_cursor_open(w->t->txn, w->t->s->children, &w->cur[lvl]) != 0) {
		return false;
	}
	MDB_val k = {plen, (void *) parent};
	return mdb_cursor_get(w->cur[lvl], &k, v, MDB_SET_KEY) == 0;
}

orgdir_code
od_subtree_walk(od_txn *t, const char *root, uint32_t max_depth, od_subtree_visit visit, void *arg,
    orgdir_status *st)
{
	struct walk w = {.t = t};
	uint32_t base = 0; /* depth of level-0 entries */
	MDB_val v;
	orgdir_code c = ORGDIR_OK;

	if (max_depth == 0 || max_depth > OD_TREE_DEPTH_MAX) {
		max_depth = OD_TREE_DEPTH_MAX;
	}
	bool have;
	if (root != NULL && root[0] != '\0') {
		MDB_val r;
		if (get_raw(t, root, strlen(root), &r) != 0) {
			return od_status_set(
			    st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", root);
		}
		od_val ru = {r.mv_data, r.mv_size};
		if (!visit(arg, 0, &ru)) {
			return od_status_set(st, ORGDIR_CANCELLED, "walk stopped");
		}
		base = 1;
		have = max_depth >= 1 && walk_first(&w, 0, root, strlen(root), &v);
	} else {
		have = walk_first(&w, 0, OD_ROOT_KEY, 1, &v);
	}
	/* Iterative depth-first walk: lvl is the cursor level in use. */
	uint32_t lvl = 0;
	while (have || lvl > 0) {
		if (!have) {
			lvl--;
			MDB_val k;
			have = mdb_cursor_get(w.cur[lvl], &k, &v, MDB_NEXT_DUP) == 0;
			continue;
		}
		MDB_val u;
		const char *id = (const char *) v.mv_data + 4;
		size_t idlen = v.mv_size - 4;
		if (v.mv_size > 4 && get_raw_at(t, &w.units[lvl], id, idlen, &u) == 0) {
			od_val uv = {u.mv_data, u.mv_size};
			if (!visit(arg, base + lvl, &uv)) {
				c = od_status_set(st, ORGDIR_CANCELLED, "walk stopped");
				break;
			}
			if (base + lvl < max_depth && lvl + 1 < OD_ARRAY_LEN(w.cur) &&
			    walk_first(&w, lvl + 1, id, idlen, &v)) {
				lvl++;
				continue;
			}
		}
		MDB_val k;
		have = mdb_cursor_get(w.cur[lvl], &k, &v, MDB_NEXT_DUP) == 0;
	}
	walk_close(&w);
	return c;
}

static Orgdir__V1__Unit *unpack(od_arena *a, const MDB_val *v);

/* --- derived indexes: units per kind, office units per country ------------------- */

bool
od_kind_is_office(int kind)
{
	return kind == ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE ||
	    kind == ORGDIR__V1__UNIT__KIND__SUB_OFFICE ||
	    kind == ORGDIR__V1__UNIT__KIND__LIAISON_OFFICE ||
	    kind == ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE;
}

static int
kind_count_add(od_txn *t, int kind, int64_t delta)
{
	uint8_t k = (uint8_t) kind;
	MDB_val key = {1, &k};
	MDB_val v;
	uint64_t n = 0;
	if (mdb_get(t->txn, t->s->kind_counts, &key, &v) == 0 && v.mv_size == sizeof(n)) {
		memcpy(&n, v.mv_data, sizeof(n));
	}
	n = (delta < 0 && n < (uint64_t) -delta) ? 0 : n + (uint64_t) delta;
	return od_mdb_put(t, t->s->kind_counts, &k, 1, &n, sizeof(n), 0);
}

/* Office units are indexed under their country as kind byte + id. */
static int
office_index(od_txn *t, int kind, const char *cc, const char *id, bool add)
{
	uint8_t v[1 + OD_ID_MAX];
	size_t n = strlen(id);
	if (!od_kind_is_office(kind) || cc == NULL || strlen(cc) != 2 || n > OD_ID_MAX) {
		return 0;
	}
	v[0] = (uint8_t) kind;
	memcpy(v + 1, id, n);
	if (add) {
		return od_mdb_put(t, t->s->country_units, cc, 2, v, n + 1, 0);
	}
	MDB_val key = {2, (void *) cc};
	MDB_val val = {n + 1, v};
	int rc = od_mdb_del(t, t->s->country_units, &key, &val);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static const char *
unit_cc(const Orgdir__V1__Unit *u)
{
	return u->location != NULL ? u->location->country_code : "";
}

int
od_unit_index_add(od_txn *t, const Orgdir__V1__Unit *u)
{
	int rc = kind_count_add(t, u->kind, 1);
	return rc != 0 ? rc : office_index(t, u->kind, unit_cc(u), u->id, true);
}

int
od_unit_index_del(od_txn *t, const Orgdir__V1__Unit *u)
{
	int rc = kind_count_add(t, u->kind, -1);
	return rc != 0 ? rc : office_index(t, u->kind, unit_cc(u), u->id, false);
}

int
od_store_reindex(od_txn *t, od_arena *a)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = od_mdb_drop(t, t->s->kind_counts);
	if (rc == 0) {
		rc = od_mdb_drop(t, t->s->country_units);
	}
	if (rc == 0) {
		rc = mdb_cursor_open(t->txn, t->s->units, &c);
	}
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; rc == 0 && mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		Orgdir__V1__Unit *u = unpack(a, &v);
		rc = u != NULL ? od_unit_index_add(t, u) : MDB_CORRUPTED;
		od_arena_reset(a);
	}
	mdb_cursor_close(c);
	return rc;
}

/* ISO 3166-1 membership of a unit's country, and the country-office rule. */
static orgdir_code
check_country(od_txn *t, const Orgdir__V1__Unit *u, orgdir_status *st)
{
	const char *cc = unit_cc(u);
	if (cc[0] != '\0' && t->s->iso != NULL && od_iso3166_find(t->s->iso, cc) == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "unit '%s': location.country_code '%s' is not an ISO 3166-1 country code",
		    u->id, cc);
	}
	if (u->kind == ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE && cc[0] == '\0') {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "unit '%s' is a COUNTRY_OFFICE: it must name its country "
		    "(location.country_code)",
		    u->id);
	}
	return ORGDIR_OK;
}

/* --- writes: helpers ----------------------------------------------------------------- */

static Orgdir__V1__Unit *
unpack(od_arena *a, const MDB_val *v)
{
	return OD_PB_UNPACK(orgdir__v1__unit, &a->pb, v->mv_size, v->mv_data);
}

static orgdir_code
load(
    od_txn *t, od_arena *a, const char *id, MDB_val *raw, Orgdir__V1__Unit **out, orgdir_status *st)
{
	int rc = get_raw(t, id, strlen(id), raw);
	if (rc == MDB_NOTFOUND) {
		return od_status_set(st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", id);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "read unit", st);
	}
	/* Keep a copy: the write about to happen may rewrite this page, and the
	 * change log needs the unit as it was. */
	void *copy = od_arena_alloc(a, raw->mv_size + 1);
	if (copy == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	memcpy(copy, raw->mv_data, raw->mv_size);
	raw->mv_data = copy;
	*out = unpack(a, raw);
	if (*out == NULL) {
		return a->exhausted
		    ? od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory")
		    : od_status_set(st, ORGDIR_DATA_LOSS, "stored unit '%s' is corrupt", id);
	}
	return ORGDIR_OK;
}

static orgdir_code
check_etag(const Orgdir__V1__Unit *cur, const char *etag, orgdir_status *st)
{
	if (etag != NULL && etag[0] != '\0' && strcmp(etag, cur->etag) != 0) {
		return od_status_set(st, ORGDIR_ABORTED,
		    "unit '%s' has changed since etag '%.32s' (now '%s'): read it again and retry",
		    cur->id, od_utf8_valid(etag, strlen(etag)) ? etag : "?", cur->etag);
	}
	return ORGDIR_OK;
}

/* Number of ancestors of `id` (0 for a root); -1 if the chain is broken. */
static int
depth_of(od_txn *t, const char *id, const char *stop_at, bool *hit_stop)
{
	char cur[OD_ID_MAX + 1];
	od_strlcpy(cur, id, sizeof(cur));
	for (int d = 0; d <= OD_TREE_DEPTH_MAX + 1; d++) {
		if (stop_at != NULL && strcmp(cur, stop_at) == 0) {
			*hit_stop = true;
			return d;
		}
		MDB_val raw;
		if (get_raw(t, cur, strlen(cur), &raw) != 0) {
			return -1;
		}
		const uint8_t *p;
		size_t n;
		if (!od_pb_scan_field(raw.mv_data, raw.mv_size, 2, &p, &n) || n == 0) {
			return d;
		}
		if (n > OD_ID_MAX) {
			return -1;
		}
		memcpy(cur, p, n);
		cur[n] = '\0';
	}
	return -1;
}

struct height {
	uint32_t max;
};

static bool
height_visit(void *arg, uint32_t depth, const od_val *unit)
{
	struct height *h = arg;
	(void) unit;
	if (depth > h->max) {
		h->max = depth;
	}
	return true;
}

uint32_t
od_unit_height(od_txn *t, const char *id)
{
	struct height h = {0};
	od_subtree_walk(t, id, 0, height_visit, &h, NULL);
	return h.max;
}

int
od_unit_id_depth(od_txn *t, const char *id)
{
	bool hit = false;
	return depth_of(t, id, NULL, &hit);
}

uint32_t
od_unit_depth(od_txn *t, const Orgdir__V1__Unit *u)
{
	bool hit = false;
	int d = u->parent_id[0] != '\0' ? depth_of(t, u->parent_id, NULL, &hit) : -1;
	return d < 0 ? 0 : (uint32_t) d + 1;
}

static Google__Protobuf__Timestamp *
now_ts(od_arena *a)
{
	Google__Protobuf__Timestamp *ts = od_arena_alloc(a, sizeof(*ts));
	if (ts != NULL) {
		google__protobuf__timestamp__init(ts);
		od_now(&ts->seconds, &ts->nanos);
	}
	return ts;
}

/* Stamps the revision, packs and stores u. */
static orgdir_code
store_unit(od_txn *t, od_arena *a, Orgdir__V1__Unit *u, unsigned flags, const MDB_val *before,
    orgdir_status *st)
{
	uint64_t rev = od_txn_next_revision(t);
	char *etag = od_arena_alloc(a, 24);
	Google__Protobuf__Timestamp *ts = now_ts(a);
	if (etag == NULL || ts == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	snprintf(etag, 24, "%" PRIu64, rev);
	u->etag = etag;
	if (!t->keep_times || u->update_time == NULL) {
		u->update_time = ts;
	}
	if (u->create_time == NULL) {
		u->create_time = ts;
	}
	size_t n = orgdir__v1__unit__get_packed_size(u);
	MDB_val k = {strlen(u->id), u->id};
	MDB_val v = {n, NULL};
	/* MDB_RESERVE: pack straight into the page, no intermediate copy. */
	int rc = od_mdb_put_val(t, t->s->units, &k, &v, flags | MDB_RESERVE);
	if (rc == MDB_KEYEXIST) {
		return od_status_set(st, ORGDIR_ALREADY_EXISTS, "unit '%s' already exists", u->id);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "write unit", st);
	}
	orgdir__v1__unit__pack(u, v.mv_data);
	od_val after = {v.mv_data, n};
	od_val prev = {before ? before->mv_data : NULL, before ? before->mv_size : 0};
	return od_change_append(t, a, ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT, u->id,
	    before ? &prev : NULL, &after, st);
}

static Orgdir__V1__Unit *
copy_unit(od_arena *a, const Orgdir__V1__Unit *u)
{
	Orgdir__V1__Unit *c = od_arena_alloc(a, sizeof(*c));
	if (c != NULL) {
		*c = *u;
	}
	return c;
}

/* --- writes ---------------------------------------------------------------------------- */

/* Writes a checked new unit `depth` levels deep and its derived indexes. */
static orgdir_code
insert_unit(od_txn *t, od_arena *a, Orgdir__V1__Unit *u, uint32_t depth, const od_search_keys *keys,
    orgdir_status *st)
{
	orgdir_code c;
	if (!t->keep_times) {
		u->create_time = NULL; /* output only, except for an import */
	}
	if ((c = store_unit(t, a, u, MDB_NOOVERWRITE, NULL, st)) != ORGDIR_OK) {
		return c;
	}
	int rc = children_put(t, u->parent_id, u->sort_order, u->id);
	if (rc == 0) {
		rc = od_unit_index_add(t, u);
	}
	if (rc == 0) {
		rc = keys != NULL ? od_search_put_keys(t, keys) : od_search_index_unit(t, u, depth);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "index unit", st);
	}
	return ORGDIR_OK;
}

orgdir_code
od_unit_create(
    od_txn *t, od_arena *a, const Orgdir__V1__Unit *in, Orgdir__V1__Unit **out, orgdir_status *st)
{
	Orgdir__V1__Unit *u = copy_unit(a, in);
	if (u == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	orgdir_code c = od_unit_check(u, st);
	if (c != ORGDIR_OK || (c = check_country(t, u, st)) != ORGDIR_OK) {
		return c;
	}
	if (od_unit_exists(t, u->id)) {
		return od_status_set(st, ORGDIR_ALREADY_EXISTS, "unit '%s' already exists", u->id);
	}
	uint32_t depth = 0;
	if (u->parent_id[0] != '\0') {
		bool hit = false;
		int d = depth_of(t, u->parent_id, NULL, &hit);
		if (d < 0) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "parent unit '%s' does not exist: create it first", u->parent_id);
		}
		if (d + 1 > OD_TREE_DEPTH_MAX) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "unit '%s' would be %d levels deep; the limit is %d", u->id, d + 1,
			    OD_TREE_DEPTH_MAX);
		}
		depth = (uint32_t) d + 1;
	}
	if ((c = insert_unit(t, a, u, depth, NULL, st)) != ORGDIR_OK) {
		return c;
	}
	if (out != NULL) {
		*out = u;
	}
	return ORGDIR_OK;
}

orgdir_code
od_unit_create_checked(od_txn *t, od_arena *a, const Orgdir__V1__Unit *in, uint32_t depth,
    const od_search_keys *keys, orgdir_status *st)
{
	Orgdir__V1__Unit *u = copy_unit(a, in);
	if (u == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	return insert_unit(t, a, u, depth, keys, st);
}

orgdir_code
od_unit_update(od_txn *t, od_arena *a, const Orgdir__V1__Unit *in,
    const Google__Protobuf__FieldMask *mask, Orgdir__V1__Unit **out, orgdir_status *st)
{
	static const char *const all[] = {
	    "kind", "name", "description", "acronym", "head", "location", "contact", "sort_order"};
	static const char *const output_only[] = {
	    "etag", "create_time", "update_time", "createTime", "updateTime"};
	MDB_val raw;
	Orgdir__V1__Unit *cur;
	orgdir_code c = od_check_id("unit id", in->id, st);
	if (c != ORGDIR_OK || (c = load(t, a, in->id, &raw, &cur, st)) != ORGDIR_OK ||
	    (c = check_etag(cur, in->etag, st)) != ORGDIR_OK) {
		return c;
	}
	int32_t old_order = cur->sort_order;
	/* The old kind and country, for the derived indexes (the mask may
	 * rewrite cur's location in place). */
	Orgdir__V1__Unit old = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__Location old_loc = ORGDIR__V1__LOCATION__INIT;
	char old_cc[3] = "";
	od_strlcpy(old_cc, unit_cc(cur), sizeof(old_cc));
	old.id = cur->id;
	old.kind = cur->kind;
	old_loc.country_code = old_cc;
	old.location = &old_loc;
	/* What the search doc was made from: the mask replaces, never edits,
	 * the texts it points at. */
	struct od_search_fields before;
	od_search_fields_of(cur, &before);
	size_t n = mask != NULL ? mask->n_paths : 0;
	for (size_t i = 0; i < (n ? n : OD_ARRAY_LEN(all)); i++) {
		const char *p = n ? mask->paths[i] : all[i];
		if (strcmp(p, "id") == 0) {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "update_mask: a unit's id cannot change");
		}
		if (strcmp(p, "parent_id") == 0 || strcmp(p, "parentId") == 0) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "update_mask: parent_id is changed with MoveUnit, not UpdateUnit");
		}
		for (size_t k = 0; k < OD_ARRAY_LEN(output_only); k++) {
			if (strcmp(p, output_only[k]) == 0) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "update_mask: %s is output only", p);
			}
		}
		if ((c = od_pb_apply_path(&cur->base, &in->base, p, a, st)) != ORGDIR_OK) {
			return c;
		}
	}
	if ((c = od_unit_check(cur, st)) != ORGDIR_OK ||
	    (c = check_country(t, cur, st)) != ORGDIR_OK) {
		return c;
	}
	if (t->keep_times) {
		/* An import: the document's times (update_time unset = now). */
		if (in->create_time != NULL) {
			cur->create_time = in->create_time;
		}
		cur->update_time = in->update_time;
	}
	if ((c = store_unit(t, a, cur, 0, &raw, st)) != ORGDIR_OK) {
		return c;
	}
	int src = od_search_update_unit(t, &before, cur);
	if (src != 0) {
		return od_mdb_status(t, src, "index unit for search", st);
	}
	if (old.kind != cur->kind || strcmp(old_cc, unit_cc(cur)) != 0) {
		int rc = od_unit_index_del(t, &old);
		if (rc == 0) {
			rc = od_unit_index_add(t, cur);
		}
		if (rc != 0) {
			return od_mdb_status(t, rc, "re-index unit", st);
		}
		if (old.kind == ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE &&
		    cur->kind != ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE &&
		    (rc = od_countries_forget_region(t, a, cur->id)) != 0) {
			return od_mdb_status(t, rc, "update regions", st);
		}
	}
	if (cur->sort_order != old_order) {
		int rc = children_del(t, cur->parent_id, old_order, cur->id);
		if (rc == 0) {
			rc = children_put(t, cur->parent_id, cur->sort_order, cur->id);
		}
		if (rc != 0) {
			return od_mdb_status(t, rc, "re-index unit", st);
		}
	}
	if (out != NULL) {
		*out = cur;
	}
	return ORGDIR_OK;
}

/* The units of a subtree, its root first, and their depths below its
 * root, in walk order. */
struct descendants {
	od_arena *a;
	char **ids;
	uint32_t *depths;
	size_t n, cap;
	bool oom;
};

static bool
descendants_visit(void *arg, uint32_t depth, const od_val *unit)
{
	struct descendants *r = arg;
	const uint8_t *p;
	size_t n;
	if (!od_pb_scan_field(unit->data, unit->len, 1, &p, &n)) {
		return true;
	}
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		char **ni = od_arena_alloc(r->a, nc * sizeof(*ni));
		uint32_t *nd = od_arena_alloc(r->a, nc * sizeof(*nd));
		if (ni == NULL || nd == NULL) {
			r->oom = true;
			return false;
		}
		if (r->n > 0) {
			memcpy(ni, r->ids, r->n * sizeof(*ni));
			memcpy(nd, r->depths, r->n * sizeof(*nd));
		}
		r->ids = ni;
		r->depths = nd;
		r->cap = nc;
	}
	r->ids[r->n] = od_arena_strndup(r->a, (const char *) p, n);
	r->depths[r->n] = depth;
	if (r->ids[r->n] == NULL) {
		r->oom = true;
		return false;
	}
	r->n++;
	return true;
}

orgdir_code
od_unit_move(od_txn *t, od_arena *a, const char *id, const char *new_parent, const char *etag,
    Orgdir__V1__Unit **out, orgdir_status *st)
{
	MDB_val raw;
	Orgdir__V1__Unit *cur;
	orgdir_code c = od_check_id("unit id", id, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	if (new_parent[0] != '\0' &&
	    (c = od_check_id("new parent id", new_parent, st)) != ORGDIR_OK) {
		return c;
	}
	if ((c = load(t, a, id, &raw, &cur, st)) != ORGDIR_OK ||
	    (c = check_etag(cur, etag, st)) != ORGDIR_OK) {
		return c;
	}
	if (strcmp(id, new_parent) == 0) {
		return od_status_set(
		    st, ORGDIR_FAILED_PRECONDITION, "cannot move unit '%s' under itself", id);
	}
	int pdepth = -1;
	if (new_parent[0] != '\0') {
		bool cycle = false;
		pdepth = depth_of(t, new_parent, id, &cycle);
		if (cycle) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "cannot move unit '%s' under '%s', which is one of its own descendants",
			    id, new_parent);
		}
		if (pdepth < 0) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "new parent unit '%s' does not exist", new_parent);
		}
	}
	if ((uint32_t) (pdepth + 1) + od_unit_height(t, id) > OD_TREE_DEPTH_MAX) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "moving '%s' under '%s' would make the tree deeper than %d levels", id,
		    new_parent, OD_TREE_DEPTH_MAX);
	}
	uint32_t old_base = od_unit_depth(t, cur); /* where its search keys are */
	int rc = children_del(t, cur->parent_id, cur->sort_order, cur->id);
	if (rc == 0 || rc == MDB_NOTFOUND) {
		rc = children_put(t, new_parent, cur->sort_order, cur->id);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "re-index unit", st);
	}
	cur->parent_id = od_arena_strndup(a, new_parent, strlen(new_parent));
	if (cur->parent_id == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	if ((c = store_unit(t, a, cur, 0, &raw, st)) != ORGDIR_OK) {
		return c;
	}
	/* The subtree's depths changed: the search index ranks by depth. */
	struct descendants rd = {.a = a};
	od_subtree_walk(t, id, 0, descendants_visit, &rd, NULL);
	uint32_t base = pdepth < 0 ? 0 : (uint32_t) pdepth + 1;
	int rc2 = rd.oom ? ENOMEM : 0;
	for (size_t i = 0; i < rd.n && rc2 == 0; i++) {
		rc2 =
		    od_search_move_unit(t, rd.ids[i], old_base + rd.depths[i], base + rd.depths[i]);
	}
	if (rc2 != 0) {
		return od_mdb_status(t, rc2, "re-index for search", st);
	}
	if (out != NULL) {
		*out = cur;
	}
	return ORGDIR_OK;
}

orgdir_code
od_unit_delete(od_txn *t, od_arena *a, const char *id, bool force, const char *etag,
    uint32_t *deleted, orgdir_status *st)
{
	MDB_val raw;
	Orgdir__V1__Unit *cur;
	orgdir_code c = od_check_id("unit id", id, st);
	if (c != ORGDIR_OK || (c = load(t, a, id, &raw, &cur, st)) != ORGDIR_OK ||
	    (c = check_etag(cur, etag, st)) != ORGDIR_OK) {
		return c;
	}
	/* Collect first, delete after: the walk's cursors must not see deletes. */
	struct descendants col = {.a = a};
	od_subtree_walk(t, id, 0, descendants_visit, &col, NULL);
	if (col.oom) {
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "subtree too large to delete at once");
	}
	if (col.n > 1 && !force) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "unit '%s' has %zu descendant(s): delete or move them first, or delete with "
		    "force",
		    id, col.n - 1);
	}
	/* Checked: the revision before any change, so the records changed
	 * carry it. */
	od_txn_next_revision(t);
	uint32_t base = od_unit_depth(t, cur); /* before any of its ancestry goes */
	int rc = children_del(t, cur->parent_id, cur->sort_order, cur->id);
	for (size_t i = 0; (rc == 0 || rc == MDB_NOTFOUND) && i < col.n; i++) {
		MDB_val k = {strlen(col.ids[i]), col.ids[i]};
		MDB_val v;
		Orgdir__V1__Unit *gone = NULL;
		if (get_raw(t, col.ids[i], k.mv_size, &v) == 0 && (gone = unpack(a, &v)) != NULL) {
			od_val prev = {v.mv_data, v.mv_size};
			if (od_change_append(t, a, ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT,
			        gone->id, &prev, NULL, st) != ORGDIR_OK) {
				return st != NULL ? st->code : ORGDIR_INTERNAL;
			}
			rc = od_unit_index_del(t, gone);
			if (rc == 0) {
				rc = od_search_unindex_unit(t, gone, base + col.depths[i]);
			}
			if (rc == 0 && gone->kind == ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE) {
				rc = od_countries_forget_region(t, a, gone->id);
			}
			if (rc != 0) {
				break;
			}
		}
		rc = od_mdb_del(t, t->s->units, &k, NULL);
		if (rc == 0 || rc == MDB_NOTFOUND) {
			rc = od_mdb_del(t, t->s->children, &k, NULL); /* its child list, if any */
		}
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return od_mdb_status(t, rc, "delete unit", st);
	}
	if (deleted != NULL) {
		*deleted = (uint32_t) col.n;
	}
	return ORGDIR_OK;
}
