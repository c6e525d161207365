/*
 * units.c - typed wrappers for the unit methods. Each builds its request on
 * the stack (borrowing the caller's strings: the generated structs want
 * `char *`, nothing is written through them) and calls orgdir_client_call.
 */

#include "client_int.h"

orgdir_code
od_client_null_arg(orgdir_reply **reply, orgdir_status *st, const char *fn, const char *arg)
{
	if (reply != NULL) {
		*reply = NULL;
	}
	if (st != NULL) {
		st->revision = 0;
	}
	return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s: %s must not be NULL", fn, arg);
}

orgdir_code
od_client_mask(const char *fn, const char *const *paths, size_t n,
    Google__Protobuf__FieldMask *mask, Google__Protobuf__FieldMask **set, orgdir_reply **reply,
    orgdir_status *st)
{
	if (n > 0 && paths == NULL) {
		return od_client_null_arg(reply, st, fn, "mask_paths (with n_paths > 0)");
	}
	for (size_t i = 0; i < n; i++) {
		if (paths[i] == NULL) {
			return od_client_null_arg(reply, st, fn, "a mask path");
		}
	}
	/* No mask at all for "every field": the same meaning as an empty one,
	 * and nothing on the wire. */
	google__protobuf__field_mask__init(mask);
	*set = NULL;
	if (n > 0) {
		mask->n_paths = n;
		mask->paths = (char **) paths;
		*set = mask;
	}
	return ORGDIR_OK;
}

/* "" for NULL, for the arguments documented as "NULL = empty". */
static char *
or_empty(const char *s)
{
	return (char *) (s != NULL ? s : "");
}

orgdir_code
orgdir_unit_get(orgdir_client *client, const char *id, orgdir_reply **reply, Orgdir__V1__Unit **out,
    orgdir_status *status)
{
	Orgdir__V1__GetUnitRequest r = ORGDIR__V1__GET_UNIT_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (id == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_get", "id");
	}
	r.id = (char *) id;
	orgdir_code code = orgdir_client_call(client, "GetUnit", &r.base,
	    &orgdir__v1__unit__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Unit *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_list(orgdir_client *client, const char *parent_id, int page_size,
    const char *page_token, orgdir_reply **reply, Orgdir__V1__ListUnitsResponse **out,
    orgdir_status *status)
{
	Orgdir__V1__ListUnitsRequest r = ORGDIR__V1__LIST_UNITS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	r.parent_id = or_empty(parent_id);
	r.page_size = page_size; /* the server coerces or refuses bad sizes */
	r.page_token = or_empty(page_token);
	orgdir_code code = orgdir_client_call(client, "ListUnits", &r.base,
	    &orgdir__v1__list_units_response__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__ListUnitsResponse *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_subtree(orgdir_client *client, const char *root_id, int max_depth, orgdir_reply **reply,
    Orgdir__V1__GetSubtreeResponse **out, orgdir_status *status)
{
	Orgdir__V1__GetSubtreeRequest r = ORGDIR__V1__GET_SUBTREE_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	r.root_id = or_empty(root_id);
	r.max_depth = max_depth;
	orgdir_code code = orgdir_client_call(client, "GetSubtree", &r.base,
	    &orgdir__v1__get_subtree_response__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__GetSubtreeResponse *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_ancestors(orgdir_client *client, const char *id, orgdir_reply **reply,
    Orgdir__V1__GetAncestorsResponse **out, orgdir_status *status)
{
	Orgdir__V1__GetAncestorsRequest r = ORGDIR__V1__GET_ANCESTORS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (id == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_ancestors", "id");
	}
	r.id = (char *) id;
	orgdir_code code = orgdir_client_call(client, "GetAncestors", &r.base,
	    &orgdir__v1__get_ancestors_response__descriptor, reply, out != NULL ? &m : NULL,
	    status);
	if (out != NULL) {
		*out = (Orgdir__V1__GetAncestorsResponse *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_create(orgdir_client *client, const Orgdir__V1__Unit *unit, orgdir_reply **reply,
    Orgdir__V1__Unit **out, orgdir_status *status)
{
	Orgdir__V1__CreateUnitRequest r = ORGDIR__V1__CREATE_UNIT_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (unit == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_create", "unit");
	}
	r.unit = (Orgdir__V1__Unit *) unit;
	orgdir_code code = orgdir_client_call(client, "CreateUnit", &r.base,
	    &orgdir__v1__unit__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Unit *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_update(orgdir_client *client, const Orgdir__V1__Unit *unit,
    const char *const *mask_paths, size_t n_paths, orgdir_reply **reply, Orgdir__V1__Unit **out,
    orgdir_status *status)
{
	Orgdir__V1__UpdateUnitRequest r = ORGDIR__V1__UPDATE_UNIT_REQUEST__INIT;
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (unit == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_update", "unit");
	}
	orgdir_code mc = od_client_mask(
	    "orgdir_unit_update", mask_paths, n_paths, &mask, &r.update_mask, reply, status);
	if (mc != ORGDIR_OK) {
		return mc;
	}
	r.unit = (Orgdir__V1__Unit *) unit;
	orgdir_code code = orgdir_client_call(client, "UpdateUnit", &r.base,
	    &orgdir__v1__unit__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Unit *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_move(orgdir_client *client, const char *id, const char *new_parent_id, const char *etag,
    orgdir_reply **reply, Orgdir__V1__Unit **out, orgdir_status *status)
{
	Orgdir__V1__MoveUnitRequest r = ORGDIR__V1__MOVE_UNIT_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (id == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_move", "id");
	}
	/* NULL is refused rather than read as "make it a root": a forgotten
	 * argument must not move a unit to the top of the organisation. */
	if (new_parent_id == NULL) {
		return od_client_null_arg(reply, status, "orgdir_unit_move",
		    "new_parent_id (use \"\" to make the unit a root)");
	}
	r.id = (char *) id;
	r.new_parent_id = (char *) new_parent_id;
	r.etag = or_empty(etag);
	orgdir_code code = orgdir_client_call(client, "MoveUnit", &r.base,
	    &orgdir__v1__unit__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Unit *) m;
	}
	return code;
}

orgdir_code
orgdir_unit_delete(orgdir_client *client, const char *id, int force, const char *etag,
    uint32_t *deleted, orgdir_status *status)
{
	Orgdir__V1__DeleteUnitRequest r = ORGDIR__V1__DELETE_UNIT_REQUEST__INIT;
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;

	if (deleted != NULL) {
		*deleted = 0;
	}
	if (id == NULL) {
		return od_client_null_arg(NULL, status, "orgdir_unit_delete", "id");
	}
	r.id = (char *) id;
	r.force = force != 0;
	r.etag = or_empty(etag);
	orgdir_code code = orgdir_client_call(client, "DeleteUnit", &r.base,
	    &orgdir__v1__delete_unit_response__descriptor, &reply, &m, status);
	if (code == ORGDIR_OK && deleted != NULL) {
		*deleted = ((const Orgdir__V1__DeleteUnitResponse *) m)->deleted_count;
	}
	orgdir_reply_free(reply);
	return code;
}
