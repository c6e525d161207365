/*
 * cmd_transfer.c - `orgctl export`, `orgctl import FILE` and
 * `orgctl backup DIR`: the whole directory as one proto3 JSON document, loaded
 * back in one transaction, and a hot copy of the server's LMDB environment.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgctl.h"
#include "pbjson.h"

/* An export can be far larger than the default 4 MiB reply cap. */
#define EXPORT_MAX_BYTES (256u << 20)
/* The largest import document read (a 100,000-unit directory is ~50 MB). */
#define IMPORT_FILE_MAX ((size_t) 1 << 31)

static int
run_export(struct od_ctl *c, const struct od_ctl_args *a)
{
	(void) a;
	orgdir_options o = {.timeout_ms = c->timeout_ms ? c->timeout_ms : 120000,
	    .max_message_bytes = EXPORT_MAX_BYTES};
	int rc = od_ctl_token_resolve(c);
	if (rc != 0) {
		return rc;
	}
	o.token = c->token;
	o.tls_ca_file = c->tls_ca;
	orgdir_client *cl = NULL;
	orgdir_status st = {0};
	if (orgdir_client_open(c->server, &o, &cl, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Directory *dir = NULL;
	if (orgdir_directory_export(cl, &reply, &dir, &st) != ORGDIR_OK) {
		od_ctl_close_client(cl);
		return od_ctl_fail(&st);
	}
	rc = od_ctl_print_json(&dir->base);
	orgdir_reply_free(reply);
	od_ctl_close_client(cl);
	return rc;
}

/* The import under way while its document is parsed: each unit goes to it
 * as the parser finishes it, so the first parts travel, and the server
 * decodes them, while the rest of the text is still being read. */
struct streamed {
	orgdir_import *im;
	orgdir_status st;
	orgdir_code code; /* the import's first failure: it stops the parse */
	/* For the tests (ORGCTL_TEST_SIGNAL_AFTER_UNITS=N[:STOP]): SIGINT, or
	 * SIGSTOP, to itself after N units. */
	size_t raise_after;
	int raise_signal;
};

static bool
add_unit(void *arg, ProtobufCMessage *m, size_t i)
{
	struct streamed *s = arg;
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) m;
	if (s->raise_after > 0 && i + 1 == s->raise_after) {
		raise(s->raise_signal);
	}
	if (od_ctl_stop_signal != 0) {
		return false; /* interrupted: parse_into says so */
	}
	s->code = orgdir_import_add(s->im, &u, 1, NULL, 0, &s->st);
	return s->code == ORGDIR_OK;
}

/*
 * Parses `text` (len bytes, freed here as soon as it is parsed) into a
 * Directory allocated from `msg`, no tree in between (pbjson.h), giving
 * its units to s->im as they are read and its countries once the text is
 * read. Returns 0, or the exit code having printed the error: line and
 * column for bad JSON, the JSON path for a document that does not map, or
 * why the import refused a part.
 */
static int
parse_into(const char *path, char *text, size_t len, od_arena *msg, struct streamed *s)
{
	char err[512];
	Orgdir__V1__Directory *dir =
	    (Orgdir__V1__Directory *) od_pbjson_parse_each(&orgdir__v1__directory__descriptor, text,
	        len, &msg->pb, "units", add_unit, s, err, sizeof(err));
	free(text);
	if (od_ctl_stop_signal != 0) {
		fprintf(stderr,
		    "orgctl: %s: import interrupted (%s) while reading it: nothing imported\n",
		    path, od_ctl_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		return 128 + od_ctl_stop_signal;
	}
	if (s->code != ORGDIR_OK) {
		return od_ctl_fail(&s->st);
	}
	if (dir == NULL) {
		fprintf(stderr, "orgctl: %s: %s\n", path, err);
		return orgdir_code_exit(ORGDIR_INVALID_ARGUMENT);
	}
	if (orgdir_import_add(s->im, NULL, 0, dir->countries, dir->n_countries, &s->st) !=
	    ORGDIR_OK) {
		return od_ctl_fail(&s->st);
	}
	return 0;
}

/* Prints a failure to open or read `path` (no line or column: there is
 * no text to point into). */
static void
print_read_error(const char *path, const char *what, int e)
{
	fprintf(stderr, "orgctl: unable to %s %s: %s\n", what, path, strerror(e));
}

static int
run_import(struct od_ctl *c, const struct od_ctl_args *a)
{
	const char *path = a->pos[0];
	bool replace = od_ctl_args_has(a, OD_CTL_OPT_REPLACE);
	bool merge = od_ctl_args_has(a, OD_CTL_OPT_MERGE);
	if (replace && merge) {
		return od_ctl_usage(c, "--replace and --merge are exclusive");
	}
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "rb");
	if (f == NULL) {
		print_read_error(path, "open", errno);
		return orgdir_code_exit(ORGDIR_INVALID_ARGUMENT);
	}
	char *text;
	size_t len;
	int e = od_read_all(f, IMPORT_FILE_MAX, &text, &len);
	if (!from_stdin) {
		fclose(f);
	}
	if (e != 0) {
		print_read_error(path, "read", e);
		return orgdir_code_exit(ORGDIR_INVALID_ARGUMENT);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		free(text);
		return rc;
	}
	int mode = replace ? ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__REPLACE
	                   : ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__MERGE;
	const char *raise_after = getenv("ORGCTL_TEST_SIGNAL_AFTER_UNITS");
	char *raise_end = NULL;
	size_t raise_n = raise_after != NULL ? strtoul(raise_after, &raise_end, 10) : 0;
	struct streamed s = {.code = ORGDIR_OK,
	    .raise_after = raise_n,
	    .raise_signal =
	        raise_end != NULL && strcmp(raise_end, ":STOP") == 0 ? SIGSTOP : SIGINT};
	if (orgdir_import_begin(c->client, mode, od_ctl_args_has(a, OD_CTL_OPT_DRY_RUN), &s.im,
	        &s.st) != ORGDIR_OK) {
		free(text);
		return od_ctl_fail(&s.st);
	}
	/* The parsed units are freed in one go, with their arena, once the
	 * import (which borrows them) is done. */
	od_arena msg;
	od_arena_init(&msg, SIZE_MAX);
	orgdir_reply *reply = NULL;
	Orgdir__V1__ImportDirectoryResponse *r = NULL;
	/* Interrupted while it reads the document, orgctl stops there and ends
	 * the session its parts went to (the server would keep it 10 minutes,
	 * one of its 4). Once the commit is sent it runs to its end. */
	struct sigaction old[2];
	od_ctl_signals_catch(old);
	rc = parse_into(path, text, len, &msg, &s);
	if (rc == 0 && orgdir_import_commit(s.im, &reply, &r, &s.st) != ORGDIR_OK) {
		rc = od_ctl_fail(&s.st);
	}
	/* After a failure this ends the session the parts went to. */
	orgdir_import_free(s.im);
	od_ctl_signals_restore(old);
	od_arena_destroy(&msg);
	if (rc != 0) {
		return rc;
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else if (r->n_problems > 0) {
		fprintf(
		    stderr, "orgctl: %s: %zu problem(s), nothing imported:\n", path, r->n_problems);
		for (size_t i = 0; i < r->n_problems; i++) {
			fprintf(
			    stderr, "  %s: %s\n", r->problems[i]->path, r->problems[i]->message);
		}
	} else {
		printf(
		    "%s%u unit(s) created, %u updated, %u deleted; %u country record(s) updated; "
		    "revision %llu\n",
		    od_ctl_args_has(a, OD_CTL_OPT_DRY_RUN) ? "dry run, nothing written: " : "",
		    r->units_created, r->units_updated, r->units_deleted, r->countries_updated,
		    (unsigned long long) r->revision);
	}
	if (r->n_problems > 0) {
		rc = orgdir_code_exit(ORGDIR_FAILED_PRECONDITION);
	}
	orgdir_reply_free(reply);
	return rc;
}

static int
run_backup(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__BackupResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_backup(c->client, a->pos[0], &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		printf("backup of revision %llu in %s (%llu bytes); start a server on it with "
		       "orgdird --data %s\n",
		    (unsigned long long) r->revision, a->pos[0], (unsigned long long) r->bytes,
		    a->pos[0]);
	}
	orgdir_reply_free(reply);
	return rc;
}

static const int no_opts[] = {OD_CTL_OPT_END};
static const int import_opts[] = {
    OD_CTL_OPT_REPLACE, OD_CTL_OPT_MERGE, OD_CTL_OPT_DRY_RUN, OD_CTL_OPT_END};

static const struct od_ctl_verb export_verbs[] = {
    {NULL, run_export, "", "write the whole directory as one JSON document on stdout",
        "Units (parents first), country records and the revision, as an\n"
        "orgdir.v1.Directory in the proto3 JSON mapping: the format of\n"
        "orgctl import and orgdird --seed.",
        no_opts, 0, 0, NULL},
};
static const struct od_ctl_verb import_verbs[] = {
    {NULL, run_import, "FILE|-", "load a Directory JSON document in one transaction (admin)",
        "Every problem (unknown parent, cycle, duplicate id, invalid country...) is\n"
        "reported with its place in the document before anything is written;\n"
        "then all of the document lands or none of it. --merge (default) adds and\n"
        "replaces units; --replace makes the directory exactly the document.",
        import_opts, 1, 1, NULL},
};
static const struct od_ctl_verb backup_verbs[] = {
    {NULL, run_backup, "DIR", "hot copy of the server's data into DIR, on the server (admin)",
        "DIR is a path on the server's machine, absent or empty. The server keeps\n"
        "serving reads and writes during the copy; orgdird --data DIR starts\n"
        "from it.",
        no_opts, 1, 1, NULL},
};

const struct od_ctl_noun od_ctl_noun_export = {"export",
    "write the whole directory as one JSON document", export_verbs, OD_ARRAY_LEN(export_verbs)};
const struct od_ctl_noun od_ctl_noun_import = {
    "import", "load a JSON document in one transaction", import_verbs, OD_ARRAY_LEN(import_verbs)};
const struct od_ctl_noun od_ctl_noun_backup = {
    "backup", "hot copy of the server's data directory", backup_verbs, OD_ARRAY_LEN(backup_verbs)};
