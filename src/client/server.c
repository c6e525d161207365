/* server.c - typed wrappers for the server methods (Health, ServerInfo). */
#include "client_int.h"

orgdir_code
orgdir_server_health(orgdir_client *client, int *serving, orgdir_status *status)
{
	Orgdir__V1__HealthCheckRequest r = ORGDIR__V1__HEALTH_CHECK_REQUEST__INIT;
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;

	if (serving != NULL) {
		*serving = ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__UNKNOWN;
	}
	/* service "" asks about the server as a whole. */
	orgdir_code code = orgdir_client_call(client, "Health", &r.base,
	    &orgdir__v1__health_check_response__descriptor, &reply, &m, status);
	if (code == ORGDIR_OK && serving != NULL) {
		*serving = (int) ((const Orgdir__V1__HealthCheckResponse *) m)->status;
	}
	orgdir_reply_free(reply);
	return code;
}

orgdir_code
orgdir_server_info(orgdir_client *client, orgdir_reply **reply,
    Orgdir__V1__ServerInfoResponse **out, orgdir_status *status)
{
	Orgdir__V1__ServerInfoRequest r = ORGDIR__V1__SERVER_INFO_REQUEST__INIT;
	ProtobufCMessage *m = NULL;

	orgdir_code code = orgdir_client_call(client, "ServerInfo", &r.base,
	    &orgdir__v1__server_info_response__descriptor, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__ServerInfoResponse *) m;
	}
	return code;
}
