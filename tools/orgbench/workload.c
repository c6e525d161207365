/* workload.c - what each workload sends, and how each reply is checked.
 * Every read reply is decoded with protobuf-c, as an application would;
 * the envelope is read in place so a large body is not copied before
 * being decoded. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orgbench.h"

static const ob_workload_info infos[OB_W_COUNT] = {
    [OB_W_GET] = {"get", "GetUnit", "GetUnit of a random unit"},
    [OB_W_CHILDREN] = {"children", "ListUnits", "ListUnits of a random parent, page_size 100"},
    [OB_W_SUBTREE] = {"subtree", "GetSubtree", "GetSubtree of everything, decoded client-side"},
    [OB_W_PATH] = {"path", "GetAncestors", "GetAncestors of a random leaf"},
    [OB_W_SEARCH] = {"search", "Search",
        "Search of two word prefixes of a random unit's name, page_size 20"},
    [OB_W_UPDATE] = {"update", "UpdateUnit",
        "GetUnit, then UpdateUnit of its acronym with the etag"},
    [OB_W_WRITE] = {"write", "UpdateUnit",
        "UpdateUnit of a random unit's acronym without an etag: one call, one synced commit"},
    [OB_W_MIXED] = {"mixed", "UpdateUnit", "95% get/children/path, 5% update"},
    [OB_W_PING] = {"ping", "Health", "Health: the transport plus the envelope"},
    [OB_W_ECHO] = {"echo", NULL, "get's request bytes to the bare echo server"},
};

const ob_workload_info *
ob_workload_info_of(enum ob_workload w)
{
	return &infos[w];
}

int
ob_workload_by_name(const char *name)
{
	for (int i = 0; i < OB_W_COUNT; i++) {
		if (strcmp(infos[i].name, name) == 0) {
			return i;
		}
	}
	return -1;
}

/* --- requests ------------------------------------------------------------- */

static const char *
method_of(enum ob_op op)
{
	switch (op) {
	case OB_OP_GET:
	case OB_OP_UPD_READ:
	case OB_OP_ECHO:
		return "GetUnit";
	case OB_OP_CHILDREN:
		return "ListUnits";
	case OB_OP_SUBTREE:
		return "GetSubtree";
	case OB_OP_PATH:
		return "GetAncestors";
	case OB_OP_UPD_WRITE:
		return "UpdateUnit";
	case OB_OP_PING:
		return "Health";
	case OB_OP_SEARCH:
		return "Search";
	}
	return "?";
}

static void
choose(ob_ctx *c)
{
	const ob_org *org = c->run->o.org;
	enum ob_workload w = c->run->o.workload;
	bool write_due = c->op == OB_OP_UPD_READ && c->etag[0] != '\0';

	if ((w == OB_W_UPDATE || w == OB_W_MIXED) && write_due) {
		c->op = OB_OP_UPD_WRITE; /* same target as the read */
		return;
	}
	enum ob_op op;
	switch (w) {
	case OB_W_GET:
		op = OB_OP_GET;
		break;
	case OB_W_ECHO:
		op = OB_OP_ECHO;
		break;
	case OB_W_CHILDREN:
		op = OB_OP_CHILDREN;
		break;
	case OB_W_PATH:
		op = OB_OP_PATH;
		break;
	case OB_W_SUBTREE:
		op = OB_OP_SUBTREE;
		break;
	case OB_W_UPDATE:
		op = OB_OP_UPD_READ;
		break;
	case OB_W_WRITE:
		op = OB_OP_UPD_WRITE; /* with no etag (cleared below): a blind write */
		break;
	case OB_W_SEARCH:
		op = OB_OP_SEARCH;
		break;
	case OB_W_MIXED: {
		uint64_t r = ob_rand_below(&c->rng, 100);
		static const enum ob_op reads[3] = {OB_OP_GET, OB_OP_CHILDREN, OB_OP_PATH};
		op = r < 5 ? OB_OP_UPD_READ : reads[r % 3];
		break;
	}
	default:
		op = OB_OP_PING;
		break;
	}
	c->op = op;
	c->etag[0] = '\0';
	if (op == OB_OP_CHILDREN && org->n_parents > 0) {
		c->target = org->parents[ob_rand_below(&c->rng, org->n_parents)];
	} else if (op == OB_OP_PATH && org->n_leaves > 0) {
		c->target = org->leaves[ob_rand_below(&c->rng, org->n_leaves)];
	} else if (op == OB_OP_SEARCH) {
		c->target = (uint32_t) ob_rand_below(&c->rng, org->n_queries); /* a query */
	} else {
		c->target = (uint32_t) ob_rand_below(&c->rng, org->n);
	}
}

void
ob_wl_next(ob_ctx *c)
{
	const ob_org *org = c->run->o.org;
	uint8_t rid[OB_RID_LEN];
	char acronym[24];

	choose(c);
	c->seq++;
	c->call_id = (uint64_t) (c->idx + 1) << 40 | (c->seq & 0xffffffffffu);
	/* As liborgdir makes them: a prefix per client (here per run), then a
	 * big-endian sequence, so a client's ids sort in the order it sends
	 * them and the server's idempotency records are appended, not
	 * scattered over its B-tree. */
	uint64_t n = atomic_fetch_add(&c->run->rid_seq, 1);
	for (unsigned i = 0; i < 8; i++) {
		rid[i] = (uint8_t) (c->run->nonce >> (56 - 8 * i));
		rid[8 + i] = (uint8_t) (n >> (56 - 8 * i));
	}

	const char *id = org->ids[c->target];
	Orgdir__V1__GetUnitRequest get = ORGDIR__V1__GET_UNIT_REQUEST__INIT;
	Orgdir__V1__ListUnitsRequest list = ORGDIR__V1__LIST_UNITS_REQUEST__INIT;
	Orgdir__V1__GetSubtreeRequest sub = ORGDIR__V1__GET_SUBTREE_REQUEST__INIT;
	Orgdir__V1__GetAncestorsRequest anc = ORGDIR__V1__GET_ANCESTORS_REQUEST__INIT;
	Orgdir__V1__HealthCheckRequest health = ORGDIR__V1__HEALTH_CHECK_REQUEST__INIT;
	Orgdir__V1__UpdateUnitRequest upd = ORGDIR__V1__UPDATE_UNIT_REQUEST__INIT;
	Orgdir__V1__SearchRequest search = ORGDIR__V1__SEARCH_REQUEST__INIT;
	Orgdir__V1__Unit unit = ORGDIR__V1__UNIT__INIT;
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	char *paths[1] = {"acronym"};
	const ProtobufCMessage *body;

	switch (c->op) {
	case OB_OP_CHILDREN:
		list.parent_id = (char *) id;
		list.page_size = 100;
		body = &list.base;
		break;
	case OB_OP_SUBTREE:
		body = &sub.base;
		break;
	case OB_OP_PATH:
		anc.id = (char *) id;
		body = &anc.base;
		break;
	case OB_OP_PING:
		body = &health.base;
		break;
	case OB_OP_SEARCH:
		/* Units and countries (no kinds), the whole tree, in the language
		 * the words came from, as a person typing in a search box. */
		search.query = org->queries[c->target];
		search.lang = org->query_langs[c->target];
		search.page_size = 20;
		body = &search.base;
		break;
	case OB_OP_UPD_WRITE:
		snprintf(acronym, sizeof(acronym), "B%" PRIu64, c->seq % 1000000u);
		unit.id = (char *) id;
		unit.acronym = acronym;
		unit.etag = c->etag;
		mask.n_paths = 1;
		mask.paths = paths;
		upd.unit = &unit;
		upd.update_mask = &mask;
		body = &upd.base;
		break;
	default:
		get.id = (char *) id;
		body = &get.base;
		break;
	}
	const ob_run_opts *o = &c->run->o;
	const char *token = c->op == OB_OP_UPD_WRITE || o->auth_reads ? o->token : NULL;
	c->req_len =
	    ob_pack_request(c->req, sizeof(c->req), method_of(c->op), c->call_id, body, rid, token);
	if (c->op == OB_OP_UPD_WRITE) {
		c->etag[0] = '\0'; /* used: the next call is a new choice */
	}
}

/* --- replies -------------------------------------------------------------- */

typedef struct envelope {
	uint64_t call_id;
	int32_t code;
	const char *message; /* in the context's arena */
	const uint8_t *body; /* in the reply */
	size_t body_len;
} envelope;

/* Reads an orgdir.v1.Response as liborgdir does (od_pb_unpack_in_place:
 * the body stays in the reply, not copied). */
static bool
parse_envelope(ob_arena *a, const uint8_t *p, size_t n, envelope *e)
{
	Orgdir__V1__Response *r = (Orgdir__V1__Response *) od_pb_unpack_in_place(
	    &orgdir__v1__response__descriptor, &a->a, n, p);
	if (r == NULL) {
		return false;
	}
	*e = (envelope){r->call_id, r->code, r->message, r->body.data, r->body.len};
	return true;
}

static orgdir_code __attribute__((format(printf, 4, 5)))
fail(orgdir_code code, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return code;
}

static orgdir_code
check_unit(ob_ctx *c, const envelope *e, const char *id, char *why, size_t whylen)
{
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) od_pb_unpack(
	    &orgdir__v1__unit__descriptor, &c->arena.a.pb, e->body_len, e->body);
	if (u == NULL || strcmp(u->id, id) != 0) {
		return fail(ORGDIR_INTERNAL, why, whylen, "%s: the reply is not unit '%s'",
		    method_of(c->op), id);
	}
	if (c->op == OB_OP_UPD_READ) {
		if (u->etag[0] == '\0' || strlen(u->etag) >= sizeof(c->etag)) {
			return fail(ORGDIR_INTERNAL, why, whylen,
			    "GetUnit: unit '%s' has no usable etag", id);
		}
		memcpy(c->etag, u->etag, strlen(u->etag) + 1);
	}
	return ORGDIR_OK;
}

static orgdir_code
check_subtree(ob_ctx *c, const envelope *e, uint64_t *decode_ns, char *why, size_t whylen)
{
	ob_arena *a = ob_arena_pool_take(c->run->o.pool);
	ob_arena *use = a != NULL ? a : &c->arena;
	uint64_t t0 = ob_now_ns();
	Orgdir__V1__GetSubtreeResponse *t = (Orgdir__V1__GetSubtreeResponse *) od_pb_unpack(
	    &orgdir__v1__get_subtree_response__descriptor, &use->a.pb, e->body_len, e->body);
	*decode_ns = ob_now_ns() - t0;
	bool ok = t != NULL && t->n_nodes > 0 && t->nodes[0]->unit != NULL;
	size_t n = ok ? t->n_nodes : 0;
	if (a != NULL) {
		ob_arena_pool_give(c->run->o.pool, a);
	}
	if (!ok) {
		return fail(ORGDIR_INTERNAL, why, whylen, "GetSubtree: malformed or empty reply");
	}
	if (n < c->run->o.org->n / 2) {
		return fail(ORGDIR_INTERNAL, why, whylen,
		    "GetSubtree: %zu units, expected about %zu", n, c->run->o.org->n);
	}
	return ORGDIR_OK;
}

orgdir_code
ob_wl_check(ob_ctx *c, const uint8_t *p, size_t n, uint64_t *decode_ns, char *why, size_t whylen)
{
	const ob_org *org = c->run->o.org;
	const char *id = c->op == OB_OP_SEARCH ? org->queries[c->target] : org->ids[c->target];
	envelope e;

	*decode_ns = 0;
	if (c->op == OB_OP_ECHO) {
		return n == c->req_len && memcmp(p, c->req, n) == 0
		    ? ORGDIR_OK
		    : fail(
		          ORGDIR_INTERNAL, why, whylen, "echo: the reply differs from the request");
	}
	ob_arena_reset(&c->arena);
	if (!parse_envelope(&c->arena, p, n, &e) || e.call_id != c->call_id) {
		return fail(ORGDIR_INTERNAL, why, whylen,
		    "%s: the reply is not the Response to this call", method_of(c->op));
	}
	if (e.code != ORGDIR_OK) {
		return fail((orgdir_code) e.code, why, whylen, "%s: %s: %.200s", method_of(c->op),
		    orgdir_code_name((orgdir_code) e.code), e.message);
	}
	if (c->run->o.no_decode && c->op != OB_OP_UPD_READ) {
		return e.body_len > 0
		    ? ORGDIR_OK
		    : fail(ORGDIR_INTERNAL, why, whylen, "%s: empty reply body", method_of(c->op));
	}
	switch (c->op) {
	case OB_OP_GET:
	case OB_OP_UPD_READ:
	case OB_OP_UPD_WRITE:
		return check_unit(c, &e, id, why, whylen);
	case OB_OP_CHILDREN: {
		Orgdir__V1__ListUnitsResponse *l = (Orgdir__V1__ListUnitsResponse *) od_pb_unpack(
		    &orgdir__v1__list_units_response__descriptor, &c->arena.a.pb, e.body_len,
		    e.body);
		if (l == NULL || l->n_units == 0 || strcmp(l->units[0]->parent_id, id) != 0) {
			return fail(ORGDIR_INTERNAL, why, whylen,
			    "ListUnits: no children of '%s' in the reply", id);
		}
		return ORGDIR_OK;
	}
	case OB_OP_PATH: {
		Orgdir__V1__GetAncestorsResponse *a =
		    (Orgdir__V1__GetAncestorsResponse *) od_pb_unpack(
		        &orgdir__v1__get_ancestors_response__descriptor, &c->arena.a.pb, e.body_len,
		        e.body);
		if (a == NULL || a->n_units == 0 || strcmp(a->units[a->n_units - 1]->id, id) != 0) {
			return fail(ORGDIR_INTERNAL, why, whylen,
			    "GetAncestors: the path does not end at '%s'", id);
		}
		return ORGDIR_OK;
	}
	case OB_OP_SUBTREE:
		return check_subtree(c, &e, decode_ns, why, whylen);
	case OB_OP_SEARCH: {
		/* The words come from a unit's name: that unit at least matches. */
		Orgdir__V1__SearchResponse *h = (Orgdir__V1__SearchResponse *) od_pb_unpack(
		    &orgdir__v1__search_response__descriptor, &c->arena.a.pb, e.body_len, e.body);
		if (h == NULL || h->n_hits == 0 || h->n_hits > 20 ||
		    h->total_size < (int32_t) h->n_hits ||
		    (h->hits[0]->unit == NULL && h->hits[0]->country == NULL)) {
			return fail(ORGDIR_INTERNAL, why, whylen,
			    "Search: no hits, or a malformed page, for '%s'", id);
		}
		return ORGDIR_OK;
	}
	case OB_OP_PING: {
		Orgdir__V1__HealthCheckResponse *h =
		    (Orgdir__V1__HealthCheckResponse *) od_pb_unpack(
		        &orgdir__v1__health_check_response__descriptor, &c->arena.a.pb, e.body_len,
		        e.body);
		if (h == NULL ||
		    h->status != ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
			return fail(
			    ORGDIR_UNAVAILABLE, why, whylen, "Health: the server is not SERVING");
		}
		return ORGDIR_OK;
	}
	case OB_OP_ECHO:
		break;
	}
	return ORGDIR_OK;
}
