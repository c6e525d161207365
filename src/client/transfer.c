/* transfer.c - export, import (in parts through an import session when the
 * document is larger than a request) and backup. */
#include <string.h>

#include "client_int.h"

/* Packed bytes per ImportDirectory request: under the server's default
 * 4 MiB request cap with room for the envelope. */
#define PART_BYTES_MAX (3u << 20)
#define EXPORT_EXTRA_MS 60000u
#define BACKUP_EXTRA_MS (10u * 60u * 1000u)
/* The commit's time grows with the document: 100 us per unit. */
#define COMMIT_EXTRA_MS 5000u
#define COMMIT_UNITS_PER_MS 10u

orgdir_code
orgdir_directory_export(
    orgdir_client *client, orgdir_reply **reply, Orgdir__V1__Directory **out, orgdir_status *status)
{
	Orgdir__V1__ExportDirectoryRequest r = ORGDIR__V1__EXPORT_DIRECTORY_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	orgdir_code code = od_client_call_ex(client, "ExportDirectory", &r.base,
	    &orgdir__v1__directory__descriptor, EXPORT_EXTRA_MS, reply, out != NULL ? &m : NULL,
	    status);
	if (out != NULL) {
		*out = (Orgdir__V1__Directory *) m;
	}
	return code;
}

orgdir_code
orgdir_backup(orgdir_client *client, const char *dir, orgdir_reply **reply,
    Orgdir__V1__BackupResponse **out, orgdir_status *status)
{
	Orgdir__V1__BackupRequest r = ORGDIR__V1__BACKUP_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	if (dir == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "backup directory must not be NULL");
	}
	r.directory = (char *) dir;
	orgdir_code code =
	    od_client_call_ex(client, "Backup", &r.base, &orgdir__v1__backup_response__descriptor,
	        BACKUP_EXTRA_MS, reply, out != NULL ? &m : NULL, status);
	if (out != NULL) {
		*out = (Orgdir__V1__BackupResponse *) m;
	}
	return code;
}

/* Bytes a repeated message field adds to its parent. */
static size_t
field_size(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	return 1 + od_pb_varint_size(n) + n;
}

/* Whether doc packs into at most max bytes: its units' and countries'
 * sizes summed until they pass it, not the whole document's. */
static bool
doc_fits(const Orgdir__V1__Directory *doc, size_t max)
{
	Orgdir__V1__Directory rest = *doc;
	rest.n_units = 0;
	rest.n_countries = 0;
	size_t bytes = protobuf_c_message_get_packed_size(&rest.base);
	for (size_t i = 0; i < doc->n_units && bytes <= max; i++) {
		bytes += field_size(&doc->units[i]->base);
	}
	for (size_t i = 0; i < doc->n_countries && bytes <= max; i++) {
		bytes += field_size(&doc->countries[i]->base);
	}
	return bytes <= max;
}

/* One ImportDirectory call; the reply is kept only when keep is not NULL. */
static orgdir_code
call(orgdir_client *client, const Orgdir__V1__ImportDirectoryRequest *r, uint32_t extra_ms,
    orgdir_reply **keep, Orgdir__V1__ImportDirectoryResponse **out, orgdir_status *status)
{
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;
	orgdir_code code = od_client_call_ex(client, "ImportDirectory", &r->base,
	    &orgdir__v1__import_directory_response__descriptor, extra_ms, &reply, &m, status);
	if (keep != NULL) {
		*keep = reply;
		*out = (Orgdir__V1__ImportDirectoryResponse *) m;
	} else {
		orgdir_reply_free(reply);
	}
	return code;
}

/* Ends a session whose import will not go on: best effort (the server
 * drops an idle session after 10 minutes anyway), after a failed part or
 * commit. A session the commit did end is left as it is. */
static void
abandon(orgdir_client *client, const char *session)
{
	Orgdir__V1__ImportDirectoryRequest q = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
	orgdir_status ignored;
	q.session = (char *) session;
	q.end_session = true;
	(void) call(client, &q, 0, NULL, NULL, &ignored);
}

orgdir_code
orgdir_directory_import(orgdir_client *client, const Orgdir__V1__Directory *doc, int mode,
    int dry_run, orgdir_reply **reply, Orgdir__V1__ImportDirectoryResponse **out,
    orgdir_status *status)
{
	Orgdir__V1__ImportDirectoryRequest r = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
	Orgdir__V1__Directory part = ORGDIR__V1__DIRECTORY__INIT;
	orgdir_reply *tmp_reply = NULL;
	Orgdir__V1__ImportDirectoryResponse *tmp_out = NULL;
	char session[80];
	orgdir_code code;

	if (reply == NULL || out == NULL) {
		reply = &tmp_reply;
		out = &tmp_out;
	}
	*reply = NULL;
	*out = NULL;
	if (doc == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "import: doc must not be NULL");
	}
	r.mode = (Orgdir__V1__ImportDirectoryRequest__Mode) mode;
	r.dry_run = dry_run != 0;
	uint32_t commit_ms = COMMIT_EXTRA_MS + (uint32_t) (doc->n_units / COMMIT_UNITS_PER_MS);

	if (doc_fits(doc, PART_BYTES_MAX)) {
		r.commit = true;
		r.part = (Orgdir__V1__Directory *) doc;
		code = call(client, &r, commit_ms, reply, out, status);
		orgdir_reply_free(tmp_reply);
		return code;
	}

	/* In parts: open a session, send all but the last part, commit with it. */
	Orgdir__V1__ImportDirectoryRequest begin = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
	orgdir_reply *br = NULL;
	Orgdir__V1__ImportDirectoryResponse *bo = NULL;
	begin.mode = r.mode;
	begin.begin_session = true;
	if ((code = call(client, &begin, 0, &br, &bo, status)) != ORGDIR_OK) {
		return code;
	}
	od_strlcpy(session, bo->session, sizeof(session));
	orgdir_reply_free(br);
	r.session = session;
	r.part = &part;

	size_t nu = doc->n_units, nc = doc->n_countries;
	size_t u = 0, c = 0;
	while (u < nu || c < nc) {
		size_t bytes = 0;
		part.units = u < nu ? doc->units + u : NULL;
		part.n_units = 0;
		part.countries = c < nc ? doc->countries + c : NULL;
		part.n_countries = 0;
		/* At least one item per part; then as many as fit (each item's
		 * size computed once: it walks all its fields). */
		for (; u < nu; u++, part.n_units++) {
			size_t fs = field_size(&doc->units[u]->base);
			if (part.n_units > 0 && bytes + fs > PART_BYTES_MAX) {
				break;
			}
			bytes += fs;
		}
		for (; u == nu && c < nc; c++, part.n_countries++) {
			size_t fs = field_size(&doc->countries[c]->base);
			if (part.n_units + part.n_countries > 0 && bytes + fs > PART_BYTES_MAX) {
				break;
			}
			bytes += fs;
		}
		if (u == nu && c == nc) {
			break; /* the last part travels with the commit */
		}
		if ((code = call(client, &r, 0, NULL, NULL, status)) != ORGDIR_OK) {
			abandon(client, session);
			return code;
		}
	}
	r.commit = true;
	r.end_session = r.dry_run; /* no real commit of these parts follows */
	code = call(client, &r, commit_ms, reply, out, status);
	if (code != ORGDIR_OK) {
		abandon(client, session);
	}
	orgdir_reply_free(tmp_reply);
	return code;
}
