/* transfer.c - export, import (in parts through an import session when the
 * document is larger than a request) and backup. */
#include <stdlib.h>
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

/* An import given piece by piece. Items wait in `units` and `countries`
 * (borrowed pointers) until one more would make the part larger than
 * PART_BYTES_MAX; then they go as a part of a session, opened for the
 * first. One part is in flight while the caller reads on: it is waited
 * for before the next is sent, and before the commit. A document that
 * fits in one part is never given a session: the commit carries it. */
struct orgdir_import {
	orgdir_client *client;
	Orgdir__V1__ImportDirectoryRequest__Mode mode;
	bool dry_run;
	Orgdir__V1__Unit **units;
	size_t n_units, cap_units;
	Orgdir__V1__Country **countries;
	size_t n_countries, cap_countries;
	size_t bytes; /* what units and countries add to a part */
	size_t all_units; /* given so far: the commit's time grows with them */
	bool in_session;
	bool committed;
	char session[80];
	od_call_pending flight; /* flight.aio != NULL: a part awaits its answer */
	orgdir_code failed; /* ORGDIR_OK, or the first failure, which sticks */
	orgdir_status failure;
};

/* Records the first failure, and answers it. */
static orgdir_code
import_fail(orgdir_import *im, orgdir_code code, orgdir_status *status)
{
	if (im->failed == ORGDIR_OK) {
		im->failed = code;
		if (status != NULL) {
			im->failure = *status;
		}
	}
	return code;
}

/* The first failure again, for the calls after it. */
static orgdir_code
import_failed(const orgdir_import *im, orgdir_status *status)
{
	if (status != NULL) {
		*status = im->failure;
	}
	return im->failed;
}

/* Waits for the part in flight, if any. */
static orgdir_code
import_land(orgdir_import *im, orgdir_status *status)
{
	if (im->flight.aio == NULL) {
		return ORGDIR_OK;
	}
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;
	orgdir_code code = od_client_call_finish(&im->flight, &reply, &m, status);
	orgdir_reply_free(reply);
	return code != ORGDIR_OK ? import_fail(im, code, status) : ORGDIR_OK;
}

static void
import_request(
    const orgdir_import *im, Orgdir__V1__ImportDirectoryRequest *r, Orgdir__V1__Directory *part)
{
	*r = (Orgdir__V1__ImportDirectoryRequest) ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
	*part = (Orgdir__V1__Directory) ORGDIR__V1__DIRECTORY__INIT;
	part->units = im->units;
	part->n_units = im->n_units;
	part->countries = im->countries;
	part->n_countries = im->n_countries;
	r->mode = im->mode;
	r->dry_run = im->dry_run;
	r->part = part;
	if (im->in_session) {
		r->session = (char *) im->session;
	}
}

/* Sends the items waiting as a part (opening the session first), once the
 * part before it has landed. */
static orgdir_code
import_send(orgdir_import *im, orgdir_status *status)
{
	orgdir_code code;
	if (!im->in_session) {
		Orgdir__V1__ImportDirectoryRequest begin =
		    ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
		orgdir_reply *br = NULL;
		ProtobufCMessage *bo = NULL;
		begin.mode = im->mode;
		begin.begin_session = true;
		code = od_client_call_ex(im->client, "ImportDirectory", &begin.base,
		    &orgdir__v1__import_directory_response__descriptor, 0, &br, &bo, status);
		if (code != ORGDIR_OK) {
			return import_fail(im, code, status);
		}
		od_strlcpy(im->session, ((Orgdir__V1__ImportDirectoryResponse *) bo)->session,
		    sizeof(im->session));
		orgdir_reply_free(br);
		im->in_session = true;
	}
	if ((code = import_land(im, status)) != ORGDIR_OK) {
		return code;
	}
	Orgdir__V1__ImportDirectoryRequest r;
	Orgdir__V1__Directory part;
	import_request(im, &r, &part);
	orgdir_reply *reply = NULL;
	ProtobufCMessage *m = NULL;
	code = od_client_call_start(im->client, "ImportDirectory", &r.base,
	    &orgdir__v1__import_directory_response__descriptor, 0, &reply, &m, &im->flight, status);
	if (code != ORGDIR_OK) {
		return import_fail(im, code, status);
	}
	/* Packed into the request: the arrays are free again. */
	im->n_units = 0;
	im->n_countries = 0;
	im->bytes = 0;
	return ORGDIR_OK;
}

/* Room for one more item in the array `unit` chooses (no casts between
 * pointer-to-pointer types: each array keeps its own type). */
static bool
import_room(orgdir_import *im, bool unit)
{
	size_t n = unit ? im->n_units : im->n_countries;
	size_t cap = unit ? im->cap_units : im->cap_countries;
	if (n < cap) {
		return true;
	}
	size_t ncap = cap == 0 ? 1024 : cap * 2;
	if (unit) {
		Orgdir__V1__Unit **na = realloc(im->units, ncap * sizeof(*na));
		if (na == NULL) {
			return false;
		}
		im->units = na;
		im->cap_units = ncap;
	} else {
		Orgdir__V1__Country **na = realloc(im->countries, ncap * sizeof(*na));
		if (na == NULL) {
			return false;
		}
		im->countries = na;
		im->cap_countries = ncap;
	}
	return true;
}

/* Adds a unit (or a country, u NULL), sending what waits first when the
 * part would pass PART_BYTES_MAX. */
static orgdir_code
import_push(orgdir_import *im, Orgdir__V1__Unit *u, Orgdir__V1__Country *c, orgdir_status *status)
{
	size_t size = field_size(u != NULL ? &u->base : &c->base);
	if (im->n_units + im->n_countries > 0 && im->bytes + size > PART_BYTES_MAX) {
		orgdir_code code = import_send(im, status);
		if (code != ORGDIR_OK) {
			return code;
		}
	}
	if (!import_room(im, u != NULL)) {
		return import_fail(im,
		    od_status_set(status, ORGDIR_RESOURCE_EXHAUSTED, "import: out of memory"),
		    status);
	}
	if (u != NULL) {
		im->units[im->n_units++] = u;
	} else {
		im->countries[im->n_countries++] = c;
	}
	im->bytes += size;
	return ORGDIR_OK;
}

orgdir_code
orgdir_import_begin(
    orgdir_client *client, int mode, int dry_run, orgdir_import **out, orgdir_status *status)
{
	if (out == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "orgdir_import_begin: out must not be NULL");
	}
	*out = NULL;
	if (client == NULL) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT,
		    "orgdir_import_begin: client must not be NULL");
	}
	orgdir_import *im = calloc(1, sizeof(*im));
	if (im == NULL) {
		return od_status_set(status, ORGDIR_RESOURCE_EXHAUSTED, "import: out of memory");
	}
	im->client = client;
	im->mode = (Orgdir__V1__ImportDirectoryRequest__Mode) mode;
	im->dry_run = dry_run != 0;
	*out = im;
	return ORGDIR_OK;
}

orgdir_code
orgdir_import_add(orgdir_import *im, Orgdir__V1__Unit *const *units, size_t n_units,
    Orgdir__V1__Country *const *countries, size_t n_countries, orgdir_status *status)
{
	if (im == NULL || (units == NULL && n_units > 0) ||
	    (countries == NULL && n_countries > 0)) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT,
		    "orgdir_import_add: no import, or NULL items with a count");
	}
	if (im->failed != ORGDIR_OK) {
		return import_failed(im, status);
	}
	if (im->committed) {
		return od_status_set(
		    status, ORGDIR_FAILED_PRECONDITION, "orgdir_import_add: already committed");
	}
	orgdir_code code = ORGDIR_OK;
	for (size_t i = 0; i < n_units && code == ORGDIR_OK; i++, im->all_units++) {
		code = import_push(im, units[i], NULL, status);
	}
	for (size_t i = 0; i < n_countries && code == ORGDIR_OK; i++) {
		code = import_push(im, NULL, countries[i], status);
	}
	return code;
}

orgdir_code
orgdir_import_commit(orgdir_import *im, orgdir_reply **reply,
    Orgdir__V1__ImportDirectoryResponse **out, orgdir_status *status)
{
	orgdir_reply *tmp_reply = NULL;
	Orgdir__V1__ImportDirectoryResponse *tmp_out = NULL;
	if (reply == NULL || out == NULL) {
		reply = &tmp_reply;
		out = &tmp_out;
	}
	*reply = NULL;
	*out = NULL;
	if (im == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "orgdir_import_commit: no import");
	}
	if (im->failed != ORGDIR_OK) {
		return import_failed(im, status);
	}
	if (im->committed) {
		return od_status_set(
		    status, ORGDIR_FAILED_PRECONDITION, "orgdir_import_commit: already committed");
	}
	orgdir_code code = import_land(im, status);
	if (code != ORGDIR_OK) {
		return code;
	}
	Orgdir__V1__ImportDirectoryRequest r;
	Orgdir__V1__Directory part;
	import_request(im, &r, &part);
	r.commit = true;
	r.end_session = im->in_session && im->dry_run; /* no real commit of these parts follows */
	uint32_t commit_ms = COMMIT_EXTRA_MS + (uint32_t) (im->all_units / COMMIT_UNITS_PER_MS);
	ProtobufCMessage *m = NULL;
	code = od_client_call_ex(im->client, "ImportDirectory", &r.base,
	    &orgdir__v1__import_directory_response__descriptor, commit_ms, reply, &m, status);
	*out = (Orgdir__V1__ImportDirectoryResponse *) m;
	orgdir_reply_free(tmp_reply);
	if (code != ORGDIR_OK) {
		return import_fail(im, code, status);
	}
	im->committed = true;
	return code;
}

void
orgdir_import_free(orgdir_import *im)
{
	if (im == NULL) {
		return;
	}
	orgdir_status ignored;
	(void) import_land(im, &ignored);
	/* Ends a session whose import will not go on: best effort (the server
	 * drops an idle session after 10 minutes anyway). A session the commit
	 * did end is left as it is, and so is one whose server is out of
	 * reach: the call would only wait reconnect_ms again. */
	if (im->in_session && !im->committed && im->failed != ORGDIR_UNAVAILABLE &&
	    od_client_connected(im->client)) {
		Orgdir__V1__ImportDirectoryRequest q = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
		orgdir_reply *reply = NULL;
		ProtobufCMessage *m = NULL;
		q.session = im->session;
		q.end_session = true;
		(void) od_client_call_ex(im->client, "ImportDirectory", &q.base,
		    &orgdir__v1__import_directory_response__descriptor, 0, &reply, &m, &ignored);
		orgdir_reply_free(reply);
	}
	free(im->units);
	free(im->countries);
	free(im);
}

orgdir_code
orgdir_directory_import(orgdir_client *client, const Orgdir__V1__Directory *doc, int mode,
    int dry_run, orgdir_reply **reply, Orgdir__V1__ImportDirectoryResponse **out,
    orgdir_status *status)
{
	if (reply != NULL && out != NULL) {
		*reply = NULL;
		*out = NULL;
	}
	if (doc == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "import: doc must not be NULL");
	}
	orgdir_import *im = NULL;
	orgdir_code code = orgdir_import_begin(client, mode, dry_run, &im, status);
	if (code == ORGDIR_OK) {
		code = orgdir_import_add(
		    im, doc->units, doc->n_units, doc->countries, doc->n_countries, status);
	}
	if (code == ORGDIR_OK) {
		code = orgdir_import_commit(im, reply, out, status);
	}
	orgdir_import_free(im);
	return code;
}
