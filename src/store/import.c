/* import.c - loads a whole orgdir.v1.Directory in one write transaction.
 *
 * The whole document is first checked against the directory it would
 * produce, every problem collected with its path; only a clean document is
 * applied, with the store's own write functions (so the derived indexes and
 * the change log stay right), all at one revision. The puts of the derived
 * indexes of new units are held back and written in key order at the end
 * (defer.c): random puts into a large transaction are what an import of
 * 100,000 units spends its time on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "transfer.h"

/* As countries.c checks them. */
#define YEAR_MIN 1900
#define YEAR_MAX 2100
#define CYCLE_IDS_SHOWN 8
/* The map an import of a packed document writes, per byte of it: a
 * 100,000-unit document of 26.8 MB took 468 MB (units, change log, search
 * index), with a margin. */
#define IMPORT_MAP_FACTOR 24u
/* What it writes, per byte of it: 8.5 (a fresh import of that document:
 * 229 MB of pages), for od_store_prefetch. */
#define IMPORT_PAGES_FACTOR 9u

/* A short printable form of a string that failed validation. */
static const char *
shown(const char *s)
{
	size_t n = strlen(s);
	return n <= 80 && od_utf8_valid(s, n) ? s : "(not printable)";
}

/* --- import: the graph of the resulting directory ------------------------------------ */

enum { P_UNRESOLVED = -1, P_ROOT = -2, P_MISSING = -3 };
enum { S_NEW, S_STACK, S_DONE };

struct node {
	const char *id;
	const char *parent_id; /* parent in the resulting directory; "" = root */
	int32_t parent; /* node index, or P_* */
	int32_t doc; /* index in doc->units; -1 for a unit of the store outside the document */
	int32_t depth; /* in the resulting directory; -1 on or under a cycle */
	int32_t pos; /* index on the walk's stack while S_STACK */
	uint8_t state;
	bool exists; /* document units: already in the store */
	bool moves; /* exists under another parent */
	bool differs; /* exists with other content (parent aside) */
};

struct imp {
	od_txn *t;
	od_arena *a;
	od_arena scratch; /* reset after each step */
	Orgdir__V1__Directory *doc;
	bool replace;
	orgdir_status *st;
	bool oom;
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	int32_t *hash; /* node index + 1; 0 = empty slot */
	size_t hash_cap; /* a power of two */
	int32_t *stack;
	Orgdir__V1__ImportProblem **problems;
	size_t n_problems;
	/* Planned changes. */
	uint32_t created, updated, deleted, countries;
	char **tops; /* REPLACE: roots of the subtrees of units not in the document */
	size_t n_tops, cap_tops;
	bool *country_changes; /* per doc->countries[i] */
	char (*resets)[3]; /* REPLACE: records to reset to the default */
	size_t n_resets;
};

static uint32_t
hash_id(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ (uint8_t) s[i]) * 16777619u;
	}
	return h;
}

static int32_t
find_n(const struct imp *im, const char *id, size_t n)
{
	if (im->hash_cap == 0) {
		return -1;
	}
	size_t mask = im->hash_cap - 1;
	for (size_t i = hash_id(id, n) & mask;; i = (i + 1) & mask) {
		int32_t v = im->hash[i];
		if (v == 0) {
			return -1;
		}
		const char *k = im->nodes[v - 1].id;
		if (strncmp(k, id, n) == 0 && k[n] == '\0') {
			return v - 1;
		}
	}
}

static int32_t
find(const struct imp *im, const char *id)
{
	return find_n(im, id, strlen(id));
}

static bool
hash_grow(struct imp *im)
{
	size_t cap = im->hash_cap ? im->hash_cap * 2 : 1024;
	int32_t *h = calloc(cap, sizeof(*h));
	if (h == NULL) {
		return false;
	}
	for (size_t k = 0; k < im->n_nodes; k++) {
		const char *id = im->nodes[k].id;
		size_t i = hash_id(id, strlen(id)) & (cap - 1);
		while (h[i] != 0) {
			i = (i + 1) & (cap - 1);
		}
		h[i] = (int32_t) k + 1;
	}
	free(im->hash);
	im->hash = h;
	im->hash_cap = cap;
	return true;
}

/* Adds a node (its id must not be known yet); -1 when out of memory. */
static int32_t
add_node(struct imp *im, const char *id, const char *parent_id, int32_t doc)
{
	if (im->n_nodes == im->cap_nodes) {
		size_t cap = im->cap_nodes ? im->cap_nodes * 2 : 1024;
		struct node *nn = realloc(im->nodes, cap * sizeof(*nn));
		int32_t *ns = realloc(im->stack, cap * sizeof(*ns));
		if (nn != NULL) {
			im->nodes = nn;
		}
		if (ns != NULL) {
			im->stack = ns;
		}
		if (nn == NULL || ns == NULL) {
			im->oom = true;
			return -1;
		}
		im->cap_nodes = cap;
	}
	if ((im->n_nodes + 1) * 2 > im->hash_cap && !hash_grow(im)) {
		im->oom = true;
		return -1;
	}
	int32_t k = (int32_t) im->n_nodes++;
	struct node *nd = &im->nodes[k];
	memset(nd, 0, sizeof(*nd));
	nd->id = id;
	nd->parent_id = parent_id;
	nd->parent = P_UNRESOLVED;
	nd->doc = doc;
	nd->depth = -1;
	size_t i = hash_id(id, strlen(id)) & (im->hash_cap - 1);
	while (im->hash[i] != 0) {
		i = (i + 1) & (im->hash_cap - 1);
	}
	im->hash[i] = k + 1;
	return k;
}

static void __attribute__((format(printf, 3, 4)))
problem(struct imp *im, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (im->n_problems >= OD_IMPORT_PROBLEMS_MAX) {
		return;
	}
	if (im->n_problems == OD_IMPORT_PROBLEMS_MAX - 1) {
		path = "";
		snprintf(msg, sizeof(msg),
		    "more than %d problems: the others are not listed; fix these and check again",
		    OD_IMPORT_PROBLEMS_MAX - 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (im->problems == NULL) {
		im->problems =
		    od_arena_alloc(im->a, OD_IMPORT_PROBLEMS_MAX * sizeof(*im->problems));
	}
	Orgdir__V1__ImportProblem *p = od_arena_alloc(im->a, sizeof(*p));
	if (im->problems == NULL || p == NULL) {
		im->oom = true;
		return;
	}
	orgdir__v1__import_problem__init(p);
	p->path = od_arena_strndup(im->a, path, strlen(path));
	p->message = od_arena_strndup(im->a, msg, strlen(msg));
	if (p->path == NULL || p->message == NULL) {
		im->oom = true;
		return;
	}
	im->problems[im->n_problems++] = p;
}

/* The parent of a stored unit, copied into the arena ("" for a root);
 * NULL when the unit is not stored (or out of memory). */
static const char *
stored_parent(struct imp *im, const char *id, size_t idlen, bool *exists)
{
	MDB_val k = {idlen, (void *) id};
	MDB_val v;
	const uint8_t *p;
	size_t n;
	*exists = mdb_get(im->t->txn, im->t->s->units, &k, &v) == 0;
	if (!*exists) {
		return NULL;
	}
	if (!od_pb_scan_field(v.mv_data, v.mv_size, 2, &p, &n)) {
		return "";
	}
	char *s = od_arena_strndup(im->a, (const char *) p, n);
	if (s == NULL) {
		im->oom = true;
	}
	return s;
}

/* Resolves a node's parent in the resulting directory: a document unit,
 * else (MERGE) a unit of the store, added as a node on first sight. */
static int32_t
parent_of(struct imp *im, int32_t k)
{
	struct node *nd = &im->nodes[k];
	if (nd->parent != P_UNRESOLVED) {
		return nd->parent;
	}
	const char *pid = nd->parent_id;
	int32_t p = P_ROOT;
	if (pid[0] != '\0' && (p = find(im, pid)) < 0) {
		p = P_MISSING;
		bool exists = false;
		const char *grand =
		    im->replace ? NULL : stored_parent(im, pid, strlen(pid), &exists);
		if (grand != NULL) {
			p = add_node(im, pid, grand, -1);
			if (p < 0) {
				p = P_MISSING;
			}
		}
		nd = &im->nodes[k]; /* add_node may have moved the array */
		if (p == P_MISSING && nd->doc >= 0) {
			char path[48];
			snprintf(path, sizeof(path), "units[%d].parentId", nd->doc);
			problem(im, path, "unit '%s': parent '%s' is not in the document%s", nd->id,
			    pid,
			    im->replace ? " (REPLACE keeps only the document's units)"
			                : " nor in the directory");
		}
	}
	nd->parent = p;
	return p;
}

static void
report_cycle(struct imp *im, size_t from, size_t to)
{
	char ids[CYCLE_IDS_SHOWN * (OD_ID_MAX + 8) + 16];
	size_t len = 0;
	for (size_t s = from; s < to && s - from < CYCLE_IDS_SHOWN; s++) {
		len += (size_t) snprintf(
		    ids + len, sizeof(ids) - len, "%s -> ", im->nodes[im->stack[s]].id);
	}
	if (to - from > CYCLE_IDS_SHOWN) {
		len += (size_t) snprintf(ids + len, sizeof(ids) - len, "... -> ");
	}
	snprintf(ids + len, sizeof(ids) - len, "%s", im->nodes[im->stack[from]].id);
	for (size_t s = from; s < to; s++) {
		const struct node *nd = &im->nodes[im->stack[s]];
		if (nd->doc >= 0) {
			char path[48];
			snprintf(path, sizeof(path), "units[%d].parentId", nd->doc);
			problem(im, path, "unit '%s' is on a cycle of parents: %s", nd->id, ids);
		}
	}
}

/* Depth of every node in the resulting directory, finding the cycles and
 * the units too deep on the way. Iterative: a chain may be long. */
static void
resolve_depths(struct imp *im)
{
	size_t n_doc = im->n_nodes; /* store nodes are added after the document's */
	for (size_t i = 0; i < n_doc && !im->oom; i++) {
		if (im->nodes[i].state == S_DONE) {
			continue;
		}
		size_t sp = 0;
		int32_t x = (int32_t) i;
		int32_t base;
		for (;;) {
			struct node *nd = &im->nodes[x];
			if (nd->state == S_DONE) {
				base = nd->depth;
				break;
			}
			if (nd->state == S_STACK) {
				size_t from = (size_t) nd->pos;
				report_cycle(im, from, sp);
				for (size_t s = from; s < sp; s++) {
					im->nodes[im->stack[s]].state = S_DONE;
					im->nodes[im->stack[s]].depth = -1;
				}
				sp = from;
				base = -1;
				break;
			}
			nd->state = S_STACK;
			nd->pos = (int32_t) sp;
			im->stack[sp++] = x;
			int32_t p = parent_of(im, x);
			if (im->oom) {
				return;
			}
			if (p < 0) {
				/* A root (or a missing parent, already reported). */
				sp--;
				im->nodes[x].state = S_DONE;
				im->nodes[x].depth = 0;
				base = 0;
				break;
			}
			x = p;
		}
		while (sp > 0) {
			struct node *nd = &im->nodes[im->stack[--sp]];
			nd->depth = base < 0 ? -1 : base + 1;
			nd->state = S_DONE;
			base = nd->depth;
			/* The first too deep on each chain of the document's units. */
			if (nd->doc >= 0 && nd->depth > OD_TREE_DEPTH_MAX && nd->parent >= 0 &&
			    (im->nodes[nd->parent].depth <= OD_TREE_DEPTH_MAX ||
			        im->nodes[nd->parent].doc < 0)) {
				char path[48];
				snprintf(path, sizeof(path), "units[%d].parentId", nd->doc);
				problem(im, path,
				    "unit '%s' would be %d levels below its root; the limit is %d",
				    nd->id, nd->depth, OD_TREE_DEPTH_MAX);
			}
		}
	}
}

/* --- import: validation ----------------------------------------------------------------- */

/* Path of a field named by the start of od_unit_check's message. */
static const char *
unit_field(const char *message)
{
	static const char *const fields[][2] = {{"name", ".name"}, {"description", ".description"},
	    {"acronym", ".acronym"}, {"head", ".head"}, {"location", ".location"},
	    {"contact", ".contact"}};
	for (size_t i = 0; i < OD_ARRAY_LEN(fields); i++) {
		if (strncmp(message, fields[i][0], strlen(fields[i][0])) == 0) {
			return fields[i][1];
		}
	}
	return "";
}

static void
check_units(struct imp *im)
{
	Orgdir__V1__Directory *doc = im->doc;
	for (size_t i = 0; i < doc->n_units && !im->oom; i++) {
		Orgdir__V1__Unit *u = doc->units[i];
		orgdir_status tmp;
		char path[64];
		bool ok = true;
		if (od_check_id("unit id", u->id, &tmp) != ORGDIR_OK) {
			snprintf(path, sizeof(path), "units[%zu].id", i);
			problem(im, path, "%s", tmp.message);
			continue; /* not in the graph: nothing can name it */
		}
		if (u->parent_id[0] != '\0' &&
		    od_check_id("parent id", u->parent_id, &tmp) != ORGDIR_OK) {
			snprintf(path, sizeof(path), "units[%zu].parentId", i);
			problem(im, path, "unit '%s': %s", u->id, tmp.message);
			ok = false;
		}
		if (u->kind <= ORGDIR__V1__UNIT__KIND__KIND_UNSPECIFIED ||
		    u->kind > ORGDIR__V1__UNIT__KIND__OTHER) {
			snprintf(path, sizeof(path), "units[%zu].kind", i);
			problem(im, path, "unit '%s': kind is required (one of the twelve kinds)",
			    u->id);
			ok = false;
		}
		u->etag = "";
		if (ok && od_unit_check(u, &tmp) != ORGDIR_OK) {
			snprintf(path, sizeof(path), "units[%zu]%s", i, unit_field(tmp.message));
			problem(im, path, "unit '%s': %s", u->id, tmp.message);
		}
		const char *cc = u->location != NULL ? u->location->country_code : "";
		if (ok && cc[0] != '\0' && im->t->s->iso != NULL &&
		    od_iso3166_find(im->t->s->iso, cc) == NULL) {
			snprintf(path, sizeof(path), "units[%zu].location.countryCode", i);
			problem(im, path, "unit '%s': '%s' is not an ISO 3166-1 country code",
			    u->id, shown(cc));
		}
		if (ok && u->kind == ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE && cc[0] == '\0') {
			snprintf(path, sizeof(path), "units[%zu].location.countryCode", i);
			problem(im, path,
			    "unit '%s' is a COUNTRY_OFFICE: it must name its country "
			    "(location.countryCode)",
			    u->id);
		}
		int32_t dup = find(im, u->id);
		if (dup >= 0) {
			snprintf(path, sizeof(path), "units[%zu].id", i);
			problem(im, path,
			    "id '%s' is used twice in the document: also by units[%d]", u->id,
			    im->nodes[dup].doc);
			continue;
		}
		if (u->parent_id[0] != '\0' && !od_id_valid(u->parent_id)) {
			/* In the graph as a root: its other problems still show. */
			add_node(im, u->id, "", (int32_t) i);
		} else {
			add_node(im, u->id, u->parent_id, (int32_t) i);
		}
	}
}

/* MERGE: a moved unit takes its stored descendants along; none of them may
 * end up too deep. (Measured on today's subtree, which may still lose some
 * descendants to the import: a conservative check.) */
static void
check_moved_heights(struct imp *im)
{
	for (size_t k = 0; k < im->n_nodes && !im->oom; k++) {
		struct node *nd = &im->nodes[k];
		if (nd->doc < 0 || !nd->moves || nd->depth < 0 || nd->depth > OD_TREE_DEPTH_MAX) {
			continue;
		}
		uint32_t below = (uint32_t) nd->depth + od_unit_height(im->t, nd->id);
		if (below > OD_TREE_DEPTH_MAX) {
			char path[48];
			snprintf(path, sizeof(path), "units[%d].parentId", nd->doc);
			problem(im, path,
			    "moving unit '%s' under '%s' would put its descendants %u levels below "
			    "their root; the limit is %d",
			    nd->id, nd->parent_id, below, OD_TREE_DEPTH_MAX);
		}
	}
}

/* Whether doc units exist in the store, and under which parent. */
static void
find_existing(struct imp *im)
{
	for (size_t k = 0; k < im->n_nodes && !im->oom; k++) {
		struct node *nd = &im->nodes[k];
		if (nd->doc < 0) {
			continue;
		}
		const char *sp = stored_parent(im, nd->id, strlen(nd->id), &nd->exists);
		nd->moves =
		    nd->exists && sp != NULL && strcmp(sp, im->doc->units[nd->doc]->parent_id) != 0;
	}
}

/* Kind of a unit in the resulting directory; 0 when it will not exist. */
static int
final_kind(struct imp *im, const char *id)
{
	int32_t k = find(im, id);
	if (k >= 0 && im->nodes[k].doc >= 0) {
		return im->doc->units[im->nodes[k].doc]->kind;
	}
	if (im->replace) {
		return 0;
	}
	od_val v;
	if (od_unit_get(im->t, id, &v, NULL) != ORGDIR_OK) {
		return 0;
	}
	Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, &im->scratch.pb, v.len, v.data);
	int kind = u != NULL ? (int) u->kind : 0;
	od_arena_reset(&im->scratch);
	return kind;
}

static void
check_countries(struct imp *im)
{
	Orgdir__V1__Directory *doc = im->doc;
	int16_t first[26 * 26];
	memset(first, 0xff, sizeof(first));
	for (size_t i = 0; i < doc->n_countries && !im->oom; i++) {
		Orgdir__V1__Country *c = doc->countries[i];
		orgdir_status tmp;
		char path[64];
		const od_iso_country *ic = NULL;
		size_t n = strlen(c->code);
		if (im->t->s->iso == NULL) {
			snprintf(path, sizeof(path), "countries[%zu].code", i);
			problem(im, path,
			    "this server has no ISO 3166-1 data: countries cannot be set");
			return;
		}
		if (n <= 3) {
			ic = od_iso3166_find(im->t->s->iso, c->code);
		}
		if (ic == NULL) {
			snprintf(path, sizeof(path), "countries[%zu].code", i);
			problem(im, path,
			    "'%s' is not an ISO 3166-1 country code (two letters like FR)",
			    shown(c->code));
		} else {
			int slot = (ic->alpha2[0] - 'A') * 26 + (ic->alpha2[1] - 'A');
			if (slot >= 0 && slot < 26 * 26 && first[slot] >= 0) {
				snprintf(path, sizeof(path), "countries[%zu].code", i);
				problem(im, path,
				    "country %s is given twice in the document: also countries[%d]",
				    ic->alpha2, first[slot]);
			} else if (slot >= 0 && slot < 26 * 26) {
				first[slot] = (int16_t) i;
			}
		}
		if (c->membership != NULL) {
			if (c->membership->status > ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER ||
			    c->membership->status < 0) {
				snprintf(path, sizeof(path), "countries[%zu].membership.status", i);
				problem(im, path, "unknown membership status %d",
				    c->membership->status);
			}
			int y = c->membership->since_year;
			if (y != 0 && (y < YEAR_MIN || y > YEAR_MAX)) {
				snprintf(
				    path, sizeof(path), "countries[%zu].membership.sinceYear", i);
				problem(im, path,
				    "%d is not a year from %d to %d (0 = not recorded)", y,
				    YEAR_MIN, YEAR_MAX);
			}
		}
		if (c->presence != NULL &&
		    (c->presence->declared < 0 ||
		        c->presence->declared > ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES)) {
			snprintf(path, sizeof(path), "countries[%zu].presence.declared", i);
			problem(im, path, "unknown presence level %d", c->presence->declared);
		}
		if (c->region_unit_id[0] != '\0') {
			snprintf(path, sizeof(path), "countries[%zu].regionUnitId", i);
			if (od_check_id("region unit id", c->region_unit_id, &tmp) != ORGDIR_OK) {
				problem(im, path, "%s", tmp.message);
			} else {
				int kind = final_kind(im, c->region_unit_id);
				if (kind == 0) {
					problem(im, path, "region unit '%s' is not in the %s",
					    c->region_unit_id,
					    im->replace ? "document" : "directory");
				} else if (kind != ORGDIR__V1__UNIT__KIND__REGIONAL_OFFICE) {
					problem(im, path,
					    "unit '%s' is not a REGIONAL_OFFICE, so it cannot be a "
					    "country's region",
					    c->region_unit_id);
				}
			}
		}
		if (od_check_text("notes", c->notes, OD_NOTES_MAX, true, &tmp) != ORGDIR_OK) {
			snprintf(path, sizeof(path), "countries[%zu].notes", i);
			problem(im, path, "%s", tmp.message);
		}
		if (od_check_localized("country name", c->name, c->n_name, OD_NAME_MAX, false,
		        false, &tmp) != ORGDIR_OK) {
			snprintf(path, sizeof(path), "countries[%zu].name", i);
			problem(im, path, "%s", tmp.message);
		}
		c->etag = "";
	}
}

/* --- import: what will change ---------------------------------------------------------- */

static bool
same_packed(od_arena *a, const ProtobufCMessage *x, const ProtobufCMessage *y, bool *oom)
{
	size_t nx = protobuf_c_message_get_packed_size(x);
	size_t ny = protobuf_c_message_get_packed_size(y);
	if (nx != ny) {
		return false;
	}
	uint8_t *bx = od_arena_alloc(a, nx + 1);
	uint8_t *by = od_arena_alloc(a, ny + 1);
	if (bx == NULL || by == NULL) {
		*oom = true;
		return false;
	}
	protobuf_c_message_pack(x, bx);
	protobuf_c_message_pack(y, by);
	return memcmp(bx, by, nx) == 0;
}

/* Whether an existing unit's content (its parent aside) differs from the
 * document's. Times the document leaves out count as unchanged. */
static bool
unit_differs(struct imp *im, const Orgdir__V1__Unit *u)
{
	od_val v;
	bool differs = true;
	if (od_unit_get(im->t, u->id, &v, NULL) == ORGDIR_OK) {
		Orgdir__V1__Unit *cur =
		    OD_PB_UNPACK(orgdir__v1__unit, &im->scratch.pb, v.len, v.data);
		if (cur != NULL) {
			Orgdir__V1__Unit want = *u;
			cur->etag = "";
			cur->parent_id = want.parent_id;
			if (want.create_time == NULL) {
				want.create_time = cur->create_time;
			}
			if (want.update_time == NULL) {
				want.update_time = cur->update_time;
			}
			differs = !same_packed(&im->scratch, &cur->base, &want.base, &im->oom);
		}
	}
	od_arena_reset(&im->scratch);
	return differs;
}

/* The record od_country_update would store for c (normalised the same way),
 * and whether it differs from the stored one. */
static bool
country_differs(struct imp *im, const Orgdir__V1__Country *c, const char *alpha2)
{
	MDB_val k = {2, (void *) alpha2};
	MDB_val v;
	Orgdir__V1__Country *cur = NULL;
	if (mdb_get(im->t->txn, im->t->s->countries, &k, &v) == 0) {
		cur = OD_PB_UNPACK(orgdir__v1__country, &im->scratch.pb, v.mv_size, v.mv_data);
	}
	Orgdir__V1__Country want = ORGDIR__V1__COUNTRY__INIT;
	Orgdir__V1__Presence pres = ORGDIR__V1__PRESENCE__INIT;
	bool differs;
	want.code = (char *) alpha2;
	want.name = c->name;
	want.n_name = c->n_name;
	if (c->membership != NULL &&
	    (c->membership->status != 0 || c->membership->since_year != 0)) {
		want.membership = c->membership;
	}
	if (c->presence != NULL && c->presence->declared != 0) {
		pres.declared = c->presence->declared;
		want.presence = &pres;
	}
	want.region_unit_id = c->region_unit_id;
	want.notes = c->notes;
	if (cur == NULL) {
		differs = want.membership != NULL || want.presence != NULL ||
		    want.region_unit_id[0] != '\0' || want.notes[0] != '\0' || want.n_name > 0;
	} else {
		want.update_time = c->update_time != NULL ? c->update_time : cur->update_time;
		cur->etag = "";
		differs = !same_packed(&im->scratch, &cur->base, &want.base, &im->oom);
	}
	od_arena_reset(&im->scratch);
	return differs;
}

static bool
add_top(struct imp *im, const char *id, size_t n)
{
	if (im->n_tops == im->cap_tops) {
		size_t cap = im->cap_tops ? im->cap_tops * 2 : 64;
		char **nt = realloc(im->tops, cap * sizeof(*nt));
		if (nt == NULL) {
			return false;
		}
		im->tops = nt;
		im->cap_tops = cap;
	}
	char *s = od_arena_strndup(im->a, id, n);
	if (s == NULL) {
		return false;
	}
	im->tops[im->n_tops++] = s;
	return true;
}

static orgdir_code
plan(struct imp *im)
{
	Orgdir__V1__Directory *doc = im->doc;
	for (size_t k = 0; k < im->n_nodes && !im->oom; k++) {
		struct node *nd = &im->nodes[k];
		if (nd->doc < 0) {
			continue;
		}
		if (!nd->exists) {
			im->created++;
			continue;
		}
		nd->differs = unit_differs(im, doc->units[nd->doc]);
		im->updated += nd->moves || nd->differs;
	}
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;
	if (im->replace) {
		/* Units the document does not hold go, whole subtrees at a time. */
		if ((rc = mdb_cursor_open(im->t->txn, im->t->s->units, &cur)) != 0) {
			return od_mdb_status(im->t, rc, "read units", im->st);
		}
		for (int op = MDB_FIRST; !im->oom && mdb_cursor_get(cur, &k, &v, op) == 0;
		     op = MDB_NEXT) {
			if (find_n(im, k.mv_data, k.mv_size) >= 0) {
				continue;
			}
			im->deleted++;
			const uint8_t *p;
			size_t n = 0;
			if (!od_pb_scan_field(v.mv_data, v.mv_size, 2, &p, &n)) {
				n = 0;
			}
			if ((n == 0 || find_n(im, (const char *) p, n) >= 0) &&
			    !add_top(im, k.mv_data, k.mv_size)) {
				im->oom = true;
			}
		}
		mdb_cursor_close(cur);
	}
	im->country_changes = od_arena_alloc(im->a, doc->n_countries + 1);
	if (im->country_changes == NULL) {
		im->oom = true;
		return ORGDIR_OK;
	}
	bool in_doc[26 * 26] = {false};
	for (size_t i = 0; i < doc->n_countries && !im->oom; i++) {
		const od_iso_country *ic = od_iso3166_find(im->t->s->iso, doc->countries[i]->code);
		in_doc[(ic->alpha2[0] - 'A') * 26 + (ic->alpha2[1] - 'A')] = true;
		im->country_changes[i] = country_differs(im, doc->countries[i], ic->alpha2);
		im->countries += im->country_changes[i];
	}
	if (im->replace) {
		if ((rc = mdb_cursor_open(im->t->txn, im->t->s->countries, &cur)) != 0) {
			return od_mdb_status(im->t, rc, "read countries", im->st);
		}
		im->resets = od_arena_alloc(im->a, 26 * 26 * sizeof(*im->resets));
		for (int op = MDB_FIRST; im->resets != NULL && mdb_cursor_get(cur, &k, &v, op) == 0;
		     op = MDB_NEXT) {
			const char *cc = k.mv_data;
			if (k.mv_size != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' ||
			    cc[1] > 'Z' || in_doc[(cc[0] - 'A') * 26 + (cc[1] - 'A')]) {
				continue;
			}
			memcpy(im->resets[im->n_resets], cc, 2);
			im->resets[im->n_resets++][2] = '\0';
		}
		mdb_cursor_close(cur);
		if (im->resets == NULL) {
			im->oom = true;
		}
		im->countries += (uint32_t) im->n_resets;
	}
	return ORGDIR_OK;
}

/* --- import: applying it ------------------------------------------------------------------ */

static orgdir_code
failed(struct imp *im, orgdir_code c, const char *what, const char *id)
{
	orgdir_status inner = *im->st;
	return od_status_set(im->st, c, "import: %s '%s': %s", what, id, inner.message);
}

/* From this many new units on, their search keys are derived on a second
 * thread (derive.c). */
#define PIPE_MIN 64

struct step {
	int32_t depth;
	int32_t node;
	const char *id;
};

static int
by_depth_then_id(const void *pa, const void *pb)
{
	const struct step *x = pa, *y = pb;
	if (x->depth != y->depth) {
		return x->depth < y->depth ? -1 : 1;
	}
	return strcmp(x->id, y->id);
}

static orgdir_code
apply(struct imp *im)
{
	od_txn *t = im->t;
	od_arena *s = &im->scratch;
	Orgdir__V1__Directory *doc = im->doc;
	orgdir_code c;

	/* 1. Units that move are first made roots: their subtrees are then
	 * never under a unit about to go, and never deeper than they will end
	 * up while their new parents are put in place. */
	for (size_t k = 0; k < im->n_nodes; k++) {
		struct node *nd = &im->nodes[k];
		if (nd->doc >= 0 && nd->moves) {
			c = od_unit_move(t, s, nd->id, "", NULL, NULL, im->st);
			od_arena_reset(s);
			if (c != ORGDIR_OK) {
				return failed(im, c, "moving unit", nd->id);
			}
		}
	}
	/* 2. REPLACE: the units not in the document, a subtree at a time. */
	uint32_t deleted = 0;
	for (size_t i = 0; i < im->n_tops; i++) {
		uint32_t n = 0;
		c = od_unit_delete(t, s, im->tops[i], true, NULL, &n, im->st);
		od_arena_reset(s);
		if (c != ORGDIR_OK) {
			return failed(im, c, "deleting unit", im->tops[i]);
		}
		deleted += n;
	}
	im->deleted = deleted;
	/* 3. The document's units, parents before children: by depth, then id,
	 * so that neighbouring writes touch neighbouring pages. */
	size_t total = 0;
	for (size_t k = 0; k < im->n_nodes; k++) {
		total += im->nodes[k].doc >= 0;
	}
	struct step *order = malloc((total + 1) * sizeof(*order));
	if (order == NULL) {
		return od_status_set(im->st, ORGDIR_RESOURCE_EXHAUSTED, "import: out of memory");
	}
	total = 0;
	for (size_t k = 0; k < im->n_nodes; k++) {
		if (im->nodes[k].doc >= 0) {
			order[total++] =
			    (struct step){im->nodes[k].depth, (int32_t) k, im->nodes[k].id};
		}
	}
	qsort(order, total, sizeof(*order), by_depth_then_id);
	/* What a new unit adds to these indexes is read by nothing else in
	 * the import (its parent's other children, its own log entry and search
	 * words): held back and written sorted after the last one. */
	struct od_deferred *later = od_deferred_new();
	if (later != NULL) {
		od_deferred_add_db(later, t->s->children, true);
		od_deferred_add_db(later, t->s->changes_by_res, true);
		od_deferred_add_db(later, t->s->search, false);
		od_deferred_add_db(later, t->s->search_docs, false);
	}
	/* The new units' search keys come from a second thread, in the same
	 * order (derive.c). */
	struct od_keys_pipe *pipe = NULL;
	const Orgdir__V1__Unit **cu = malloc((total + 1) * sizeof(*cu));
	uint32_t *cd = malloc((total + 1) * sizeof(*cd));
	size_t n_new = 0;
	for (size_t i = 0; cu != NULL && cd != NULL && i < total; i++) {
		struct node *nd = &im->nodes[order[i].node];
		if (!nd->exists) {
			cu[n_new] = doc->units[nd->doc];
			cd[n_new++] = (uint32_t) nd->depth;
		}
	}
	if (n_new >= PIPE_MIN) {
		pipe = od_keys_pipe_start(cu, cd, n_new, 0);
	}
	c = ORGDIR_OK;
	for (size_t i = 0; i < total && c == ORGDIR_OK; i++) {
		struct node *nd = &im->nodes[order[i].node];
		Orgdir__V1__Unit *u = doc->units[nd->doc];
		if (!nd->exists) {
			/* Checked already (check_units, resolve_depths); its parent
			 * is in place, one level up. */
			const od_search_keys *keys = NULL;
			int rc = pipe != NULL ? od_keys_pipe_next(pipe, &keys) : 0;
			if (rc != 0) {
				c = od_mdb_status(t, rc, "import: derive the search keys", im->st);
				break;
			}
			t->deferred = later;
			c = od_unit_create_checked(t, s, u, (uint32_t) nd->depth, keys, im->st);
			t->deferred = NULL;
			if (c != ORGDIR_OK) {
				c = failed(im, c, "creating unit", u->id);
			}
		} else {
			if (nd->moves && u->parent_id[0] != '\0' &&
			    (c = od_unit_move(t, s, u->id, u->parent_id, NULL, NULL, im->st)) !=
			        ORGDIR_OK) {
				c = failed(im, c, "moving unit", u->id);
			}
			if (c == ORGDIR_OK && nd->differs &&
			    (c = od_unit_update(t, s, u, NULL, NULL, im->st)) != ORGDIR_OK) {
				c = failed(im, c, "updating unit", u->id);
			}
		}
		od_arena_reset(s);
	}
	od_keys_pipe_free(pipe);
	free(cu);
	free(cd);
	free(order);
	if (c == ORGDIR_OK && later != NULL) {
		t->deferred = later;
		int rc = od_deferred_flush(t);
		t->deferred = NULL;
		if (rc != 0) {
			c = od_mdb_status(t, rc, "import: write the indexes of new units", im->st);
		}
	}
	od_deferred_free(later);
	if (c != ORGDIR_OK) {
		return c;
	}
	/* 4. Country records, once their regions are in place. */
	for (size_t i = 0; i < doc->n_countries; i++) {
		Orgdir__V1__Country *out;
		if (!im->country_changes[i]) {
			continue;
		}
		c = od_country_update(t, s, doc->countries[i], NULL, &out, im->st);
		od_arena_reset(s);
		if (c != ORGDIR_OK) {
			return failed(im, c, "setting country", doc->countries[i]->code);
		}
	}
	for (size_t i = 0; i < im->n_resets; i++) {
		Orgdir__V1__Country def = ORGDIR__V1__COUNTRY__INIT;
		Orgdir__V1__Country *out;
		def.code = im->resets[i];
		c = od_country_update(t, s, &def, NULL, &out, im->st);
		od_arena_reset(s);
		if (c != ORGDIR_OK) {
			return failed(im, c, "resetting country", im->resets[i]);
		}
	}
	return ORGDIR_OK;
}

orgdir_code
od_import_reserve(od_txn *t, size_t doc_bytes, orgdir_status *st)
{
	size_t want =
	    doc_bytes > SIZE_MAX / IMPORT_MAP_FACTOR ? SIZE_MAX : doc_bytes * IMPORT_MAP_FACTOR;
	orgdir_code c = od_store_reserve(t, want, st);
	if (c == ORGDIR_OK) {
		od_store_prefetch(t, doc_bytes * IMPORT_PAGES_FACTOR); /* below SIZE_MAX: checked */
	}
	return c;
}

orgdir_code
od_import(od_txn *t, od_arena *a, Orgdir__V1__Directory *doc, bool replace, bool dry_run,
    od_import_result *res, orgdir_status *st)
{
	struct imp im = {.t = t, .a = a, .doc = doc, .replace = replace, .st = st};
	orgdir_code c = ORGDIR_OK;
	memset(res, 0, sizeof(*res));
	if (doc->n_units > INT32_MAX / 4) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "import: too many units");
	}
	od_arena_init(&im.scratch, (size_t) 1 << 30);
	check_units(&im);
	resolve_depths(&im);
	find_existing(&im);
	if (!replace) {
		check_moved_heights(&im);
	}
	check_countries(&im);
	if (im.n_problems == 0 && !im.oom) {
		c = plan(&im);
	}
	if (c == ORGDIR_OK && im.oom) {
		c = od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "import: out of memory checking the document");
	}
	if (c == ORGDIR_OK && im.n_problems > 0) {
		res->problems = im.problems;
		res->n_problems = im.n_problems;
	} else if (c == ORGDIR_OK) {
		bool changes = im.created + im.updated + im.deleted + im.countries > 0;
		if (!dry_run && changes) {
			/* One revision for the whole import; the times it carries kept. */
			od_txn_next_revision(t);
			t->one_revision = true;
			t->keep_times = true;
			c = apply(&im);
			t->one_revision = false;
			t->keep_times = false;
			res->written = true;
		}
		if (c == ORGDIR_OK) {
			res->units_created = im.created;
			res->units_updated = im.updated;
			res->units_deleted = im.deleted;
			res->countries_updated = im.countries;
		}
	}
	free(im.nodes);
	free(im.stack);
	free(im.hash);
	free(im.tops);
	od_arena_destroy(&im.scratch);
	return c;
}
