/* cmd_server.c - `orgctl health` and `orgctl info`: the server itself. */
#include <inttypes.h>
#include <string.h>

#include "orgctl.h"

static const int no_opts[] = {OD_CTL_OPT_END};

static int
run_health(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	int serving = 0;
	orgdir_status st = {0};
	if (orgdir_server_health(c->client, &serving, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		Orgdir__V1__HealthCheckResponse r = ORGDIR__V1__HEALTH_CHECK_RESPONSE__INIT;
		r.status = (Orgdir__V1__HealthCheckResponse__ServingStatus) serving;
		rc = od_ctl_print_json(&r.base);
		if (rc != 0) {
			return rc;
		}
	} else {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		    &orgdir__v1__health_check_response__serving_status__descriptor, serving);
		if (v != NULL) {
			printf("%s\n", v->name);
		} else {
			printf("%d\n", serving);
		}
	}
	return serving == ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
	    ? OD_CTL_EXIT_OK
	    : OD_CTL_EXIT_NOT_SERVING;
}

static int
run_info(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__ServerInfoResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_server_info(c->client, &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		char started[64];
		od_ctl_format_time(r->start_time, started, sizeof(started));
		fputs("server:       ", stdout);
		od_ctl_put(stdout, c->server);
		fputs("\nversion:      ", stdout);
		od_ctl_put(stdout, r->version);
		printf("\nschema:       %" PRIu32 "\n", r->schema_version);
		printf("revision:     %" PRIu64 "\n", r->revision);
		printf("units:        %" PRIu64 "\n", r->unit_count);
		if (started[0] != '\0') {
			printf("started:      %s\n", started);
		}
		if (r->max_message_bytes != 0) {
			printf("max message:  %" PRIu32 " bytes\n", r->max_message_bytes);
		}
		fputs("methods:     ", stdout);
		for (size_t i = 0; i < r->n_methods; i++) {
			fputc(' ', stdout);
			od_ctl_put(stdout, r->methods[i]);
		}
		fputc('\n', stdout);
	}
	orgdir_reply_free(reply);
	return rc;
}

static const struct od_ctl_verb health_verbs[] = {
    {NULL, run_health, "", "ask whether the server is serving",
        "Prints SERVING or NOT_SERVING. Exits 0 only when SERVING, 1 when the\n"
        "server answered but is not serving, and the status's code (24 for\n"
        "UNAVAILABLE) when it could not be asked.",
        no_opts, 0, 0, NULL},
};

const struct od_ctl_noun od_ctl_noun_health = {
    "health", "ask whether the server is serving", health_verbs, OD_ARRAY_LEN(health_verbs)};

static const struct od_ctl_verb info_verbs[] = {
    {NULL, run_info, "", "show the server's version, schema, revision, unit count, methods", NULL,
        no_opts, 0, 0, NULL},
};

const struct od_ctl_noun od_ctl_noun_info = {"info",
    "show the server's version, revision and methods", info_verbs, OD_ARRAY_LEN(info_verbs)};
