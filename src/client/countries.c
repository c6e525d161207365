/*
 * countries.c - typed wrappers for the country methods (GetCountry,
 * ListCountries, UpdateCountry) and GetStats. Like units.c, each builds its
 * request on the stack, borrowing the caller's strings and messages (the
 * generated structs want non-const pointers; nothing is written through
 * them), and calls orgdir_client_call.
 */

#include "client_int.h"

orgdir_code
orgdir_country_get(orgdir_client *client, const char *code, orgdir_reply **reply,
    Orgdir__V1__Country **out, orgdir_status *status)
{
	Orgdir__V1__GetCountryRequest r = ORGDIR__V1__GET_COUNTRY_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (code == NULL) {
		return od_client_null_arg(reply, status, "orgdir_country_get", "code");
	}
	/* Sent as given: the server knows ISO 3166-1 and the case rules. */
	r.code = (char *) code;
	orgdir_code c = orgdir_client_call(client, "GetCountry", &r.base,
	    &orgdir__v1__country__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Country *) m;
	}
	return c;
}

orgdir_code
orgdir_country_list(orgdir_client *client, const Orgdir__V1__ListCountriesRequest *request,
    orgdir_reply **reply, Orgdir__V1__ListCountriesResponse **out, orgdir_status *status)
{
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (request == NULL) {
		return od_client_null_arg(reply, status, "orgdir_country_list", "request");
	}
	orgdir_code c = orgdir_client_call(client, "ListCountries", &request->base,
	    &orgdir__v1__list_countries_response__descriptor, reply, out != NULL ? &m : NULL,
	    status);
	if (out != NULL) {
		*out = (Orgdir__V1__ListCountriesResponse *) m;
	}
	return c;
}

orgdir_code
orgdir_country_update(orgdir_client *client, const Orgdir__V1__Country *country,
    const char *const *mask_paths, size_t n_paths, orgdir_reply **reply, Orgdir__V1__Country **out,
    orgdir_status *status)
{
	Orgdir__V1__UpdateCountryRequest r = ORGDIR__V1__UPDATE_COUNTRY_REQUEST__INIT;
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	if (country == NULL) {
		return od_client_null_arg(reply, status, "orgdir_country_update", "country");
	}
	orgdir_code mc = od_client_mask(
	    "orgdir_country_update", mask_paths, n_paths, &mask, &r.update_mask, reply, status);
	if (mc != ORGDIR_OK) {
		return mc;
	}
	r.country = (Orgdir__V1__Country *) country;
	orgdir_code c = orgdir_client_call(client, "UpdateCountry", &r.base,
	    &orgdir__v1__country__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__Country *) m;
	}
	return c;
}

orgdir_code
orgdir_server_stats(orgdir_client *client, orgdir_reply **reply, Orgdir__V1__GetStatsResponse **out,
    orgdir_status *status)
{
	Orgdir__V1__GetStatsRequest r = ORGDIR__V1__GET_STATS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	if (out != NULL) {
		*out = NULL;
	}
	orgdir_code c = orgdir_client_call(client, "GetStats", &r.base,
	    &orgdir__v1__get_stats_response__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__GetStatsResponse *) m;
	}
	return c;
}
