/* h_countries.c - handlers of the country methods and GetStats. */
#include "server.h"

static orgdir_code
reply(od_call *c, const ProtobufCMessage *m, orgdir_status *st)
{
	return od_pb_put_message(c->out, 0, m)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply exceeds the message size limit");
}

orgdir_code
od_h_get_country(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__GetCountryRequest *r = (const void *) req;
	Orgdir__V1__Country *out;
	orgdir_code code = od_country_get(c->txn, c->arena, r->code, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}

orgdir_code
od_h_list_countries(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__ListCountriesResponse *out;
	orgdir_code code = od_country_list(c->txn, c->arena, (const void *) req, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}

orgdir_code
od_h_update_country(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__UpdateCountryRequest *r = (const void *) req;
	Orgdir__V1__Country *out;
	if (r->country == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "country is required");
	}
	orgdir_code code =
	    od_country_update(c->txn, c->arena, r->country, r->update_mask, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}

orgdir_code
od_h_get_stats(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__GetStatsResponse *out;
	(void) req;
	orgdir_code code = od_store_stats(c->txn, c->arena, &out, st);
	return code != ORGDIR_OK ? code : reply(c, &out->base, st);
}
