/* admin.c - typed wrappers for tokens, the change log and the watch. */
#include "client_int.h"

#define WATCH_WAIT_MAX_MS 60000u

/* Calls method and hands back the reply message as type T*. */
#define CALL(client, method, req, desc, reply, out, status) \
	do { \
		ProtobufCMessage *m_ = NULL; \
		orgdir_code c_ = orgdir_client_call(client, method, &(req).base, &(desc), reply, \
		    out != NULL ? &m_ : NULL, status); \
		if (out != NULL) { \
			*(out) = (void *) m_; \
		} \
		return c_; \
	} while (0)

orgdir_code
orgdir_token_create(orgdir_client *client, const char *name, int role, uint64_t ttl_seconds,
    orgdir_reply **reply, Orgdir__V1__CreateTokenResponse **out, orgdir_status *status)
{
	Orgdir__V1__CreateTokenRequest r = ORGDIR__V1__CREATE_TOKEN_REQUEST__INIT;
	if (name == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "token name must not be NULL");
	}
	r.name = (char *) name;
	r.role = (Orgdir__V1__Role) role;
	r.ttl_seconds = ttl_seconds;
	CALL(client, "CreateToken", r, orgdir__v1__create_token_response__descriptor, reply, out,
	    status);
}

orgdir_code
orgdir_token_list(orgdir_client *client, orgdir_reply **reply, Orgdir__V1__ListTokensResponse **out,
    orgdir_status *status)
{
	Orgdir__V1__ListTokensRequest r = ORGDIR__V1__LIST_TOKENS_REQUEST__INIT;
	CALL(client, "ListTokens", r, orgdir__v1__list_tokens_response__descriptor, reply, out,
	    status);
}

orgdir_code
orgdir_token_delete(orgdir_client *client, const char *name, orgdir_status *status)
{
	Orgdir__V1__DeleteTokenRequest r = ORGDIR__V1__DELETE_TOKEN_REQUEST__INIT;
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;
	if (name == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "token name must not be NULL");
	}
	r.name = (char *) name;
	orgdir_code code = orgdir_client_call(client, "DeleteToken", &r.base,
	    &orgdir__v1__delete_token_response__descriptor, &reply, &m, status);
	orgdir_reply_free(reply);
	return code;
}

orgdir_code
orgdir_changes_list(orgdir_client *client, uint64_t since_revision, const char *resource_id,
    int resource_type, int page_size, const char *page_token, orgdir_reply **reply,
    Orgdir__V1__ListChangesResponse **out, orgdir_status *status)
{
	Orgdir__V1__ListChangesRequest r = ORGDIR__V1__LIST_CHANGES_REQUEST__INIT;
	r.since_revision = since_revision;
	if (resource_id != NULL) {
		r.resource_id = (char *) resource_id;
	}
	r.resource_type = (Orgdir__V1__Change__ResourceType) resource_type;
	r.page_size = page_size;
	if (page_token != NULL) {
		r.page_token = (char *) page_token;
	}
	CALL(client, "ListChanges", r, orgdir__v1__list_changes_response__descriptor, reply, out,
	    status);
}

orgdir_code
orgdir_changes_watch(orgdir_client *client, uint64_t since_revision, const char *page_token,
    uint32_t wait_ms, int max_changes, orgdir_reply **reply, Orgdir__V1__WatchChangesResponse **out,
    orgdir_status *status)
{
	Orgdir__V1__WatchChangesRequest r = ORGDIR__V1__WATCH_CHANGES_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	if (wait_ms > WATCH_WAIT_MAX_MS) {
		wait_ms = WATCH_WAIT_MAX_MS;
	}
	r.since_revision = since_revision;
	r.page_token = (char *) (page_token != NULL ? page_token : "");
	r.wait_ms = wait_ms;
	r.max_changes = max_changes;
	orgdir_code code = od_client_call_ex(client, "WatchChanges", &r.base,
	    &orgdir__v1__watch_changes_response__descriptor, wait_ms, reply,
	    out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__WatchChangesResponse *) m;
	}
	return code;
}

orgdir_code
orgdir_search(orgdir_client *client, const Orgdir__V1__SearchRequest *request, orgdir_reply **reply,
    Orgdir__V1__SearchResponse **out, orgdir_status *status)
{
	ProtobufCMessage *m = NULL;
	if (request == NULL) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT, "request must not be NULL");
	}
	orgdir_code code = orgdir_client_call(client, "Search", &request->base,
	    &orgdir__v1__search_response__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__SearchResponse *) m;
	}
	return code;
}
