/*
 * gen_dispatch_corpus.c - writes the seed corpus of fuzz_dispatch: one
 * valid request per file, for every method of the service, each body
 * written here as proto3 JSON and packed through the project's own JSON
 * mapping, so the seeds stay valid as the messages evolve.
 *
 *   gen_dispatch_corpus DIR     # writes DIR/<name>.bin
 *
 * A file is [selector][packed orgdir.v1.Request] (fuzz_dispatch.c says
 * what the selector means). Unit ids are those of examples/iom/org.json,
 * which fuzz_dispatch seeds its store with. The output is deterministic:
 * the ctest fuzz_dispatch_seeds_current regenerates it and compares it
 * with tests/fuzz/corpus/dispatch/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od.h"
#include "pbjson.h"

enum { NONE = 0, READER = 1, EDITOR = 2, ADMIN = 3, PARK = 4 };

static const struct seed {
	const char *file;
	unsigned selector;
	const char *method;
	const char *body; /* the request message as proto3 JSON */
} seeds[] = {
    {"health", NONE, "Health", "{}"},
    {"server_info", READER, "ServerInfo", "{}"},
    {"get_unit", READER, "GetUnit", "{\"id\": \"dg\"}"},
    {"get_unit_missing", NONE, "GetUnit", "{\"id\": \"no-such-unit\"}"},
    {"list_units", NONE, "ListUnits", "{\"parentId\": \"dg\", \"pageSize\": 3}"},
    {"list_roots", READER, "ListUnits", "{}"},
    {"get_subtree", READER, "GetSubtree", "{\"rootId\": \"iom\", \"maxDepth\": 2}"},
    {"get_ancestors", READER, "GetAncestors", "{\"id\": \"fam\"}"},
    {"create_unit", EDITOR, "CreateUnit",
        "{\"unit\": {\"id\": \"fuzz-unit\", \"parentId\": \"dg\", \"kind\": \"OFFICE\","
        " \"acronym\": \"FZU\", \"sortOrder\": 4,"
        " \"name\": [{\"lang\": \"en\", \"text\": \"Fuzzing Office\"},"
        " {\"lang\": \"fr\", \"text\": \"Bureau du fuzzing\"}],"
        " \"location\": {\"countryCode\": \"CH\"}}}"},
    {"update_unit", EDITOR, "UpdateUnit",
        "{\"unit\": {\"id\": \"ocos\", \"name\": [{\"lang\": \"en\", \"text\": \"Chief of "
        "Staff\"}]}, \"updateMask\": \"name\"}"},
    {"move_unit", EDITOR, "MoveUnit", "{\"id\": \"opac\", \"newParentId\": \"ddg-management\"}"},
    {"delete_unit", EDITOR, "DeleteUnit", "{\"id\": \"ethics-pseah\", \"force\": true}"},
    {"get_country", NONE, "GetCountry", "{\"code\": \"ke\"}"},
    {"list_countries", READER, "ListCountries",
        "{\"orderBy\": \"BY_NAME\", \"lang\": \"fr\", \"presence\": \"PRESENT\", \"pageSize\": 5}"},
    {"update_country", EDITOR, "UpdateCountry",
        "{\"country\": {\"code\": \"KE\", \"notes\": \"fuzz\"}, \"updateMask\": \"notes\"}"},
    {"get_stats", READER, "GetStats", "{}"},
    {"create_token", ADMIN, "CreateToken",
        "{\"name\": \"fuzz-new\", \"role\": \"EDITOR\", \"ttlSeconds\": \"60\"}"},
    {"list_tokens", ADMIN, "ListTokens", "{}"},
    {"delete_token", ADMIN, "DeleteToken", "{\"name\": \"fuzz-new\"}"},
    {"list_changes", READER, "ListChanges", "{\"sinceRevision\": \"3\", \"pageSize\": 4}"},
    {"watch_changes", READER | PARK, "WatchChanges", "{\"sinceRevision\": \"1\", \"waitMs\": 40}"},
    {"search", NONE, "Search", "{\"query\": \"migration health\", \"lang\": \"en\"}"},
    {"search_under", READER, "Search",
        "{\"query\": \"off\", \"underUnitId\": \"dg\", \"kinds\": [\"UNITS\"], \"pageSize\": 2}"},
    {"search_short", NONE, "Search", "{\"query\": \"of d mi\", \"pageSize\": 3}"},
    {"export", READER, "ExportDirectory", "{}"},
    {"import_dry_run", ADMIN, "ImportDirectory",
        "{\"dryRun\": true, \"commit\": true, \"part\": {\"units\": [{\"id\": \"imp-root\","
        " \"kind\": \"ORGANIZATION\", \"name\": [{\"lang\": \"en\", \"text\": \"Imported\"}]}]}}"},
    {"import_session", ADMIN, "ImportDirectory", "{\"beginSession\": true}"},
    {"backup", ADMIN, "Backup", "{\"directory\": \"/nonexistent/fuzz-backup\"}"},
};

static int
write_seed(const char *dir, const struct seed *s)
{
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(
	    &orgdir__v1__org_directory__descriptor, s->method);
	if (md == NULL) {
		fprintf(stderr, "%s: no method %s in the service\n", s->file, s->method);
		return 1;
	}
	char err[256];
	ProtobufCMessage *body =
	    od_pbjson_parse(md->input, s->body, strlen(s->body), NULL, err, sizeof(err));
	if (body == NULL) {
		fprintf(stderr, "%s: %s\n", s->file, err);
		return 1;
	}
	size_t bn = protobuf_c_message_get_packed_size(body);
	uint8_t *bb = malloc(bn + 1);
	protobuf_c_message_pack(body, bb);
	protobuf_c_message_free_unpacked(body, NULL);

	/* Each seed its own idempotency key: a write seed must not be taken
	 * for a re-send of another. */
	char request_id[64];
	snprintf(request_id, sizeof(request_id), "fuzz-seed-%s", s->file);
	Orgdir__V1__Request req = ORGDIR__V1__REQUEST__INIT;
	req.method = (char *) s->method;
	req.call_id = 7;
	req.body.data = bb;
	req.body.len = bn;
	req.request_id.data = (uint8_t *) request_id;
	req.request_id.len = strlen(request_id);
	size_t n = orgdir__v1__request__get_packed_size(&req);
	uint8_t *out = malloc(n + 1);
	out[0] = (uint8_t) s->selector;
	orgdir__v1__request__pack(&req, out + 1);
	free(bb);

	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.bin", dir, s->file);
	FILE *f = fopen(path, "wb");
	int rc = f != NULL && fwrite(out, 1, n + 1, f) == n + 1 ? 0 : 1;
	if (f == NULL || fclose(f) != 0) {
		rc = 1;
	}
	if (rc != 0) {
		perror(path);
	}
	free(out);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_dispatch_corpus DIR\n");
		return 2;
	}
	int rc = 0;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		rc |= write_seed(argv[1], &seeds[i]);
	}
	return rc;
}
