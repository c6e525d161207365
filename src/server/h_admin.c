/* h_admin.c - tokens, the change log and the long-polled watch. */
#include <string.h>

#include "server.h"

static orgdir_code
reply(od_call *c, const ProtobufCMessage *m, orgdir_status *st)
{
	return od_pb_put_message(c->out, 0, m)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply exceeds the message size limit");
}

orgdir_code
od_h_create_token(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__CreateTokenRequest *r = (const void *) req;
	Orgdir__V1__CreateTokenResponse resp = ORGDIR__V1__CREATE_TOKEN_RESPONSE__INIT;
	orgdir_code code = od_token_create(
	    c->txn, c->arena, r->name, r->role, r->ttl_seconds, &resp.token, &resp.secret, st);
	return code != ORGDIR_OK ? code : reply(c, &resp.base, st);
}

orgdir_code
od_h_list_tokens(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__ListTokensResponse *out;
	(void) req;
	orgdir_code code = od_token_list(c->txn, c->arena, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}

orgdir_code
od_h_delete_token(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__DeleteTokenRequest *r = (const void *) req;
	Orgdir__V1__DeleteTokenResponse resp = ORGDIR__V1__DELETE_TOKEN_RESPONSE__INIT;
	orgdir_code code = od_token_delete(c->txn, r->name, st);
	return code != ORGDIR_OK ? code : reply(c, &resp.base, st);
}

orgdir_code
od_h_list_changes(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__ListChangesResponse *out;
	orgdir_code code = od_changes_list(c->txn, c->arena, (const void *) req, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}

orgdir_code
od_h_watch_changes(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__WatchChangesRequest *r = (const void *) req;
	Orgdir__V1__ListChangesRequest lr = ORGDIR__V1__LIST_CHANGES_REQUEST__INIT;
	Orgdir__V1__ListChangesResponse *found;
	Orgdir__V1__WatchChangesResponse resp = ORGDIR__V1__WATCH_CHANGES_RESPONSE__INIT;
	uint64_t now = od_txn_revision(c->txn);

	if (r->max_changes < 0) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "max_changes must not be negative");
	}
	if (r->since_revision > now) {
		return od_status_set(st, ORGDIR_OUT_OF_RANGE,
		    "revision %llu is ahead of this server's %llu: was the server restored from an "
		    "older backup? Read the directory again",
		    (unsigned long long) r->since_revision, (unsigned long long) now);
	}
	lr.since_revision = r->since_revision;
	lr.page_size = r->max_changes;
	lr.page_token = r->page_token; /* checked by od_changes_list */
	orgdir_code code = od_changes_list(c->txn, c->arena, &lr, &found, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	if (found->n_changes == 0 && r->wait_ms > 0 && !c->ctx->expired) {
		if ((code = od_call_park(c, r->wait_ms, st)) != ORGDIR_OK) {
			return code;
		}
		if (c->parked) {
			return ORGDIR_OK;
		}
	}
	resp.changes = found->changes;
	resp.n_changes = found->n_changes;
	resp.next_since_revision =
	    found->n_changes > 0 ? found->changes[found->n_changes - 1]->revision : now;
	if (found->next_page_token[0] != '\0' && found->n_changes > 0) {
		/* The page ended inside a revision: answer up to the revision
		 * before, so that next_since_revision alone resumes exactly... */
		uint64_t last = resp.next_since_revision;
		size_t i = found->n_changes;
		while (i > 0 && found->changes[i - 1]->revision == last) {
			i--;
		}
		if (i > 0) {
			resp.n_changes = i;
			resp.next_since_revision = found->changes[i - 1]->revision;
		} else {
			/* ...unless the whole page is that one revision (a large
			 * force delete or an import): then the token resumes it. */
			resp.next_since_revision = last - 1;
			resp.next_page_token = found->next_page_token;
		}
	}
	return reply(c, &resp.base, st);
}
