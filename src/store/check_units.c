/* check_units.c - the consistency check of the units: each record, and
 * the tree they form (parents exist, no cycle, no tree too deep).
 * What is checked is listed in check.h; the shared state is in check_int.h. */
#include <inttypes.h>
#include <string.h>

#include "check_int.h"

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
				od_check_problem(c,
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
			od_check_problem(
			    c, "unit '%s': its ancestors form a cycle (%s)", start, path);
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
			od_check_problem(c,
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
	bool key_ok = od_check_id_of(k, kid);
	const char *name = od_check_show(k->mv_data, k->mv_size, sh, sizeof(sh));
	if (!key_ok) {
		od_check_problem(c, "units: key '%s' is not a valid unit id", name);
	}
	Orgdir__V1__Unit *u = orgdir__v1__unit__unpack(&c->a.pb, v->mv_size, v->mv_data);
	if (u == NULL) {
		od_check_problem(c,
		    "unit '%s': the stored %zu bytes do not decode as orgdir.v1.Unit%s", name,
		    v->mv_size, c->a.exhausted ? " (larger than the check's memory)" : "");
		return;
	}
	if (strlen(u->id) != k->mv_size || memcmp(u->id, k->mv_data, k->mv_size) != 0) {
		od_check_problem(c, "unit '%s': stored under a key that is not its id ('%s')", name,
		    od_check_show(u->id, strlen(u->id), sh2, sizeof(sh2)));
	}
	c->kinds[(uint8_t) u->kind]++;
	uint64_t etag;
	if (!od_check_parse_rev(u->etag, &etag)) {
		od_check_problem(c, "unit '%s': etag '%s' is not a revision", name,
		    od_check_show(u->etag, strlen(u->etag), sh2, sizeof(sh2)));
	} else if (etag > c->rep->revision) {
		od_check_problem(c,
		    "unit '%s': etag %" PRIu64 " is later than the store's revision %" PRIu64, name,
		    etag, c->rep->revision);
	}
	/* Facts for the indexes, before od_unit_check normalises its copy. */
	int kind = u->kind;
	bool office = od_check_expects_office_entry(u);
	char cc[3] = "";
	od_strlcpy(cc, od_check_cc_of(u), sizeof(cc));
	int32_t order = u->sort_order;
	char parent[OD_ID_MAX + 1] = "";
	bool parent_ok = u->parent_id[0] == '\0' ||
	    (strlen(u->parent_id) <= OD_ID_MAX && od_id_valid(u->parent_id));
	if (parent_ok) {
		od_strlcpy(parent, u->parent_id, sizeof(parent));
	}
	orgdir_status st;
	if (od_unit_check(u, &st) != ORGDIR_OK) {
		od_check_problem(c, "unit '%s': %s", name, st.message);
	}
	if (cc[0] != '\0' && c->s->iso != NULL && od_iso3166_find(c->s->iso, cc) == NULL) {
		od_check_problem(c, "unit '%s': country '%s' is not an ISO 3166-1 code", name,
		    od_check_show(cc, strlen(cc), sh2, sizeof(sh2)));
	}
	if (!key_ok || !parent_ok) {
		return; /* no index entry can be computed for it */
	}
	if (parent[0] != '\0' && !od_unit_exists(c->t, parent)) {
		od_check_problem(c, "unit '%s': parent '%s' does not exist", kid, parent);
	}
	uint8_t skey[OD_SORTKEY_MAX];
	const char *pk = parent[0] != '\0' ? parent : OD_ROOT_KEY;
	if (!od_check_has_dup(
	        c, c->s->children, pk, strlen(pk), skey, sort_key(order, kid, skey))) {
		od_check_problem(c,
		    "unit '%s': missing from the children index under '%s' (sort order %d)", kid,
		    pk, (int) order);
	}
	if (office) {
		uint8_t ov[1 + OD_ID_MAX];
		ov[0] = (uint8_t) kind;
		memcpy(ov + 1, kid, strlen(kid));
		if (!od_check_has_dup(c, c->s->country_units, cc, 2, ov, 1 + strlen(kid))) {
			od_check_problem(c,
			    "unit '%s': %s in %s, missing from the country_units index", kid,
			    od_check_kind_name(kind, kb, sizeof(kb)), cc);
		}
	}
	check_ancestors(c, kid);
}

int
od_check_units(struct ck *c)
{
	return od_check_each(c, c->s->units, &c->rep->units, check_unit);
}
