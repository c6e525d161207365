/* h_units.c - handlers of the unit methods. Reads copy stored bytes into the
 * reply without decoding them; writes go through the store's rules. */
#include <stdio.h>
#include <string.h>

#include "server.h"

#define PAGE_TOKEN_MAX (2 * (OD_ID_MAX + 4 + OD_ID_MAX + 1) + 8)

static orgdir_code
reply_oom(orgdir_status *st)
{
	return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply exceeds the message size limit");
}

orgdir_code
od_h_get_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__GetUnitRequest *r = (const void *) req;
	od_val v;
	orgdir_code code = od_check_id("id", r->id, st);
	if (code != ORGDIR_OK || (code = od_unit_get(c->txn, r->id, &v, st)) != ORGDIR_OK) {
		return code;
	}
	/* GetUnit returns the Unit itself: the stored bytes are the reply. */
	return od_buf_append(c->out, v.data, v.len) ? ORGDIR_OK : reply_oom(st);
}

/*
 * Page tokens are hex of "parent\0sortkey": opaque to clients, bound to the
 * parent they were made for, and stable under concurrent inserts (the next
 * page starts after the last key returned, wherever it now is).
 */
static void
make_token(const char *parent, od_val key, char *out)
{
	uint8_t raw[OD_ID_MAX + 1 + 4 + OD_ID_MAX];
	size_t pl = strlen(parent);
	memcpy(raw, parent, pl);
	raw[pl] = 0;
	memcpy(raw + pl + 1, key.data, key.len);
	od_hex_encode(raw, pl + 1 + key.len, out);
}

static orgdir_code
parse_token(const char *tok, const char *parent, uint8_t *key, od_val *out, orgdir_status *st)
{
	uint8_t raw[OD_ID_MAX + 1 + 4 + OD_ID_MAX];
	long n = od_hex_decode(tok, raw, sizeof(raw));
	size_t pl = strlen(parent);
	if (n < 0 || (size_t) n < pl + 1 + 5 || memcmp(raw, parent, pl) != 0 || raw[pl] != 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "page_token is not a token from a previous page of this listing");
	}
	memcpy(key, raw + pl + 1, (size_t) n - pl - 1);
	out->data = key;
	out->len = (size_t) n - pl - 1;
	return ORGDIR_OK;
}

orgdir_code
od_h_list_units(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__ListUnitsRequest *r = (const void *) req;
	orgdir_code code;
	uint8_t keybuf[4 + OD_ID_MAX];
	od_val after;
	bool has_after = false;

	if (r->parent_id[0] != '\0') {
		if ((code = od_check_id("parent_id", r->parent_id, st)) != ORGDIR_OK) {
			return code;
		}
		if (!od_unit_exists(c->txn, r->parent_id)) {
			return od_status_set(
			    st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", r->parent_id);
		}
	}
	if (r->page_size < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "page_size must not be negative");
	}
	size_t want = r->page_size == 0
	    ? OD_PAGE_DEFAULT
	    : (r->page_size > OD_PAGE_MAX ? OD_PAGE_MAX : (size_t) r->page_size);
	if (r->page_token[0] != '\0') {
		if ((code = parse_token(r->page_token, r->parent_id, keybuf, &after, st)) !=
		    ORGDIR_OK) {
			return code;
		}
		has_after = true;
	}
	od_child_iter *it;
	if ((code = od_children_open(c->txn, r->parent_id, &it, st)) != ORGDIR_OK) {
		return code;
	}
	size_t total = od_children_count(it);
	od_children_seek(it, has_after ? &after : NULL);
	od_val id, unit;
	size_t n = 0;
	bool more = false;
	bool ok = true;
	uint8_t lastkey[4 + OD_ID_MAX];
	size_t lastlen = 0;
	while (ok && od_children_next(it, &id, &unit)) {
		if (n == want) {
			more = true;
			break;
		}
		ok = od_pb_put_len_field(c->out, 1, unit.data, unit.len);
		od_val k = od_children_key(it);
		lastlen = k.len <= sizeof(lastkey) ? k.len : 0;
		memcpy(lastkey, k.data, lastlen);
		n++;
	}
	od_children_close(it);
	if (ok && more) {
		char tok[PAGE_TOKEN_MAX];
		od_val k = {lastkey, lastlen};
		make_token(r->parent_id, k, tok);
		ok = od_pb_put_len_field(c->out, 2, tok, strlen(tok));
	}
	if (ok && total > 0) {
		ok = od_pb_put_varint_field(c->out, 3, total);
	}
	return ok ? ORGDIR_OK : reply_oom(st);
}

struct subtree_out {
	od_buf *out;
	bool overflow;
};

static bool
subtree_visit(void *arg, uint32_t depth, const od_val *unit)
{
	struct subtree_out *so = arg;
	/* SubtreeNode { uint32 depth = 1; Unit unit = 2; } as field 1 of the reply. */
	size_t inner = (depth ? 1 + od_pb_varint_size(depth) : 0) + 1 +
	    od_pb_varint_size(unit->len) + unit->len;
	bool ok = od_pb_put_varint(so->out, 1 << 3 | 2) && od_pb_put_varint(so->out, inner) &&
	    (depth == 0 || od_pb_put_varint_field(so->out, 1, depth)) &&
	    od_pb_put_len_field(so->out, 2, unit->data, unit->len);
	so->overflow = !ok;
	return ok;
}

orgdir_code
od_h_get_subtree(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__GetSubtreeRequest *r = (const void *) req;
	orgdir_code code;
	if (r->root_id[0] != '\0' && (code = od_check_id("root_id", r->root_id, st)) != ORGDIR_OK) {
		return code;
	}
	if (r->max_depth < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "max_depth must not be negative");
	}
	struct subtree_out so = {c->out, false};
	/* The whole organisation: size the buffer once (units are ~330 bytes
	 * stored, plus framing) rather than doubling a dozen times, in the
	 * server's spare buffer whose pages are already mapped. */
	if (r->root_id[0] == '\0' && r->max_depth == 0) {
		uint64_t guess = od_store_unit_count(c->txn) * 360;
		od_call_reserve_reply(c, guess < c->out->cap ? (size_t) guess : c->out->cap);
	}
	code = od_subtree_walk(c->txn, r->root_id, (uint32_t) r->max_depth, subtree_visit, &so, st);
	if (so.overflow) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "the subtree is larger than the %zu-byte message limit: ask for a smaller "
		    "max_depth or a deeper root_id",
		    c->out->cap);
	}
	return code;
}

orgdir_code
od_h_get_ancestors(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__GetAncestorsRequest *r = (const void *) req;
	od_val path[OD_TREE_DEPTH_MAX + 2];
	char id[OD_ID_MAX + 1];
	size_t n = 0;
	orgdir_code code = od_check_id("id", r->id, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	od_strlcpy(id, r->id, sizeof(id));
	/* Walk up, collecting borrowed values; emit root first. */
	for (;;) {
		if (n == OD_ARRAY_LEN(path)) {
			return od_status_set(st, ORGDIR_DATA_LOSS,
			    "unit '%s': ancestry deeper than %d levels", r->id, OD_TREE_DEPTH_MAX);
		}
		if ((code = od_unit_get(c->txn, id, &path[n], st)) != ORGDIR_OK) {
			if (n > 0 && code == ORGDIR_NOT_FOUND) {
				return od_status_set(st, ORGDIR_DATA_LOSS,
				    "unit '%s' has a missing ancestor '%s'", r->id, id);
			}
			return code;
		}
		const uint8_t *p;
		size_t len;
		bool has_parent =
		    od_pb_scan_field(path[n].data, path[n].len, 2, &p, &len) && len > 0;
		n++;
		if (!has_parent) {
			break;
		}
		if (len > OD_ID_MAX) {
			return od_status_set(
			    st, ORGDIR_DATA_LOSS, "unit '%s' has a corrupt parent id", id);
		}
		memcpy(id, p, len);
		id[len] = '\0';
	}
	for (size_t i = n; i-- > 0;) {
		if (!od_pb_put_len_field(c->out, 1, path[i].data, path[i].len)) {
			return reply_oom(st);
		}
	}
	return ORGDIR_OK;
}

/* --- writes: run by the writer in a nested transaction ----------------------- */

static orgdir_code
reply_unit(od_call *c, const Orgdir__V1__Unit *u, orgdir_status *st)
{
	return od_pb_put_message(c->out, 0, &u->base) ? ORGDIR_OK : reply_oom(st);
}

orgdir_code
od_h_create_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__CreateUnitRequest *r = (const void *) req;
	Orgdir__V1__Unit *u;
	if (r->unit == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "unit is required");
	}
	orgdir_code code = od_unit_create(c->txn, c->arena, r->unit, &u, st);
	return code != ORGDIR_OK ? code : reply_unit(c, u, st);
}

orgdir_code
od_h_update_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__UpdateUnitRequest *r = (const void *) req;
	Orgdir__V1__Unit *u;
	if (r->unit == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "unit is required");
	}
	orgdir_code code = od_unit_update(c->txn, c->arena, r->unit, r->update_mask, &u, st);
	return code != ORGDIR_OK ? code : reply_unit(c, u, st);
}

orgdir_code
od_h_move_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__MoveUnitRequest *r = (const void *) req;
	Orgdir__V1__Unit *u;
	orgdir_code code = od_unit_move(c->txn, c->arena, r->id, r->new_parent_id, r->etag, &u, st);
	return code != ORGDIR_OK ? code : reply_unit(c, u, st);
}

orgdir_code
od_h_delete_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__DeleteUnitRequest *r = (const void *) req;
	Orgdir__V1__DeleteUnitResponse resp = ORGDIR__V1__DELETE_UNIT_RESPONSE__INIT;
	orgdir_code code =
	    od_unit_delete(c->txn, c->arena, r->id, r->force, r->etag, &resp.deleted_count, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	return od_pb_put_message(c->out, 0, &resp.base) ? ORGDIR_OK : reply_oom(st);
}
