/* h_search.c - the Search method. */
#include "server.h"

orgdir_code
od_h_search(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__SearchResponse *out;
	orgdir_code code = od_search(c->txn, c->arena, (const void *) req, &out, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	return od_pb_put_message(c->out, 0, &out->base)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply exceeds the message size limit");
}
