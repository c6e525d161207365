/* h_server.c - Health and ServerInfo. */
#include <stdatomic.h>
#include <string.h>

#include "server.h"

orgdir_code
od_h_health(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__HealthCheckRequest *r = (const void *) req;
	Orgdir__V1__HealthCheckResponse resp = ORGDIR__V1__HEALTH_CHECK_RESPONSE__INIT;
	if (r->service[0] != '\0' && strcmp(r->service, "orgdir.v1.OrgDirectory") != 0) {
		resp.status = ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
	} else if (atomic_load(&c->srv->stopping)) {
		resp.status = ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	} else {
		resp.status = ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	}
	return od_pb_put_message(c->out, 0, &resp.base)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply too large");
}

orgdir_code
od_h_server_info(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	Orgdir__V1__ServerInfoResponse resp = ORGDIR__V1__SERVER_INFO_RESPONSE__INIT;
	Google__Protobuf__Timestamp start = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	const char *names[64];
	size_t n = od_method_count();
	(void) req;
	if (n > OD_ARRAY_LEN(names)) {
		n = OD_ARRAY_LEN(names);
	}
	for (size_t i = 0; i < n; i++) {
		names[i] = od_method_at(i)->name;
	}
	resp.version = (char *) ORGDIR_VERSION;
	resp.schema_version = od_store_schema_version(c->srv->store);
	resp.methods = (char **) names;
	resp.n_methods = n;
	resp.revision = od_txn_revision(c->txn);
	resp.unit_count = od_store_unit_count(c->txn);
	start.seconds = c->srv->start_sec;
	resp.start_time = &start;
	resp.max_message_bytes = (uint32_t) c->srv->max_message;
	return od_pb_put_message(c->out, 0, &resp.base)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply too large");
}
