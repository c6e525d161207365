/*
 * orgdir.h - the public client API of orgdir (liborgdir).
 *
 * A client talks to one orgdird server over nng (tcp://, ipc://, ...).
 * Requests and replies are the protobuf-c messages generated from
 * proto/orgdir/v1/ (*.proto), whose headers are installed beside this one.
 *
 * Conventions
 *  - Every call returns an orgdir_code (the gRPC canonical status codes).
 *    When `status` is not NULL it receives the code and a message a person
 *    can act on (the server's, or the client's own for transport failures).
 *  - Replies: a call that returns a message stores in `*reply` an
 *    orgdir_reply that owns all memory of the message (decoded into one
 *    arena), and in `*out` a pointer into it. The caller frees everything
 *    with one orgdir_reply_free(*reply). On failure `*reply` and `*out` are
 *    set to NULL and there is nothing to free. A client keeps the memory
 *    of the largest large reply freed so far (64 KiB of bytes or more; at
 *    most 64 MiB) to decode the next one into: fresh memory would cost a
 *    page fault per 4 KiB. It goes with the client and its last reply.
 *  - Arguments (ids, request messages) are borrowed for the duration of the
 *    call only.
 *  - Thread-safety: one orgdir_client may be shared by any number of
 *    threads; each call uses its own nng context. Replies are independent
 *    of the client and of each other and may outlive the client.
 *  - Transport failures are statuses too: UNAVAILABLE when no connection
 *    to the server is up ("is orgdird running?") for reconnect_ms of the
 *    call (orgdir_options), DEADLINE_EXCEEDED when
 *    connected but no answer came within the timeout, INTERNAL for a reply
 *    that cannot be decoded (or is not valid UTF-8), RESOURCE_EXHAUSTED for
 *    one over the size caps. No nng error value is ever returned.
 *  - nng keeps worker threads for the life of the process. A program that
 *    wants a clean valgrind report may call nng_fini() (from <nng/nng.h>)
 *    once at exit, after closing every client; the library never does.
 */
#ifndef ORGDIR_ORGDIR_H
#define ORGDIR_ORGDIR_H

#include <stddef.h>
#include <stdint.h>

#include "orgdir/v1/resources.pb-c.h"
#include "orgdir/v1/rpc.pb-c.h"
#include "orgdir/v1/service.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The status codes: X(NAME, value, CLI exit code, default message).
 * This table is the single definition of statuses in orgdir: the enum, the
 * names, the messages and orgctl's exit codes are all derived from it.
 */
#define ORGDIR_CODE_TABLE(X) \
	X(OK, 0, 0, "success") \
	X(CANCELLED, 1, 11, "the call was cancelled") \
	X(UNKNOWN, 2, 12, "unknown error") \
	X(INVALID_ARGUMENT, 3, 13, "invalid argument") \
	X(DEADLINE_EXCEEDED, 4, 14, "deadline exceeded before the call completed") \
	X(NOT_FOUND, 5, 15, "not found") \
	X(ALREADY_EXISTS, 6, 16, "already exists") \
	X(PERMISSION_DENIED, 7, 17, "permission denied") \
	X(RESOURCE_EXHAUSTED, 8, 18, "resource exhausted (a size or rate cap)") \
	X(FAILED_PRECONDITION, 9, 19, "the system is not in a state for this") \
	X(ABORTED, 10, 20, "aborted: concurrent change, re-read and retry") \
	X(OUT_OF_RANGE, 11, 21, "out of range") \
	X(UNIMPLEMENTED, 12, 22, "not implemented by this server") \
	X(INTERNAL, 13, 23, "internal error") \
	X(UNAVAILABLE, 14, 24, "service unavailable: is orgdird running?") \
	X(DATA_LOSS, 15, 25, "unrecoverable data loss or corruption") \
	X(UNAUTHENTICATED, 16, 26, "no valid credentials for this call")

typedef enum orgdir_code {
#define ORGDIR_X_ENUM(name, val, exitc, msg) ORGDIR_##name = val,
	ORGDIR_CODE_TABLE(ORGDIR_X_ENUM)
#undef ORGDIR_X_ENUM
} orgdir_code;

#define ORGDIR_CODE_COUNT 17

/* "NOT_FOUND" for ORGDIR_NOT_FOUND; "UNKNOWN" for values out of range. */
const char *orgdir_code_name(orgdir_code code);
/* The default one-line description of a code. */
const char *orgdir_code_message(orgdir_code code);
/* orgctl's process exit code for a failed call with this status (0 for OK). */
int orgdir_code_exit(orgdir_code code);
/* Parses a code name ("NOT_FOUND", case-insensitive); -1 if unknown. */
int orgdir_code_parse(const char *name);

#define ORGDIR_STATUS_MESSAGE_MAX 512

/* The outcome of one call; caller-allocated (a plain value, nothing to free). */
typedef struct orgdir_status {
	orgdir_code code;
	/* NUL-terminated; truncated to fit. Empty when code is ORGDIR_OK. */
	char message[ORGDIR_STATUS_MESSAGE_MAX];
	/* Store revision the answer reflects (0 when unknown). */
	uint64_t revision;
} orgdir_status;

/* --- the client ------------------------------------------------------------ */

typedef struct orgdir_client orgdir_client;

typedef struct orgdir_options {
	/* Per-call timeout in milliseconds, for the whole call (waiting for a
	 * connection, sending, the server's work, the answer); 0 = default
	 * (10,000); negative is INVALID_ARGUMENT. Sent as deadline_ms. */
	int timeout_ms;
	/* Bearer token sent with every call; NULL or "" = none. Copied; at most
	 * 4096 bytes of UTF-8. */
	const char *token;
	/* Largest reply body accepted, in bytes; 0 = default (4 MiB); at most
	 * 256 MiB. Larger replies fail with RESOURCE_EXHAUSTED (the server is
	 * told the cap and answers so itself), and so do requests larger than
	 * it (without being sent). A reply also fails with RESOURCE_EXHAUSTED
	 * when decoding it would take more than ~8 times this in memory. */
	size_t max_message_bytes;
	/* For tls+tcp:// URLs: a PEM file of the CA(s) that signed the server's
	 * certificate (required; there is no plaintext fallback). The server's
	 * name is checked against the URL's host. Ignored for other URLs. */
	const char *tls_ca_file;
	/* How long a call waits while the client has no connection to its
	 * server (not made yet, or lost during the call) before it fails with
	 * UNAVAILABLE, counted from the later of the call's start and the
	 * connection's loss; 0 = default (5,000); negative is INVALID_ARGUMENT.
	 * A server back within it gets the request again (writes apply once:
	 * they carry a request id). The call's timeout still bounds the whole. */
	int reconnect_ms;
} orgdir_options;

/*
 * Opens a client for the server at `url` ("tcp://127.0.0.1:7470",
 * "ipc:///run/orgdir.sock"). `opts` may be NULL for defaults. The
 * connection is made in the background: open succeeds even if the server
 * is not up yet, and calls fail with UNAVAILABLE until it is.
 * On success *client owns a handle to be closed with orgdir_client_close;
 * on failure *client is NULL.
 * Returns INVALID_ARGUMENT for a NULL or malformed URL or bad options,
 * RESOURCE_EXHAUSTED or INTERNAL on resource failure.
 */
orgdir_code orgdir_client_open(
    const char *url, const orgdir_options *opts, orgdir_client **client, orgdir_status *status);

/* Closes the client; NULL is a no-op. No call may be in progress (nng may
 * abort the process if a socket is closed under a running call). Replies
 * already returned stay valid. With nng 1.5 (Debian 12), a close that races
 * a connection still being set up can, rarely, never return (seen under
 * valgrind; docs/OPERATIONS.md): a program about to exit may bound it on a
 * thread of its own, as orgctl does. */
void orgdir_client_close(orgdir_client *client);

/* --- replies ------------------------------------------------------------------ */

typedef struct orgdir_reply orgdir_reply;

/* Frees a reply and every message pointer taken from it; NULL is a no-op. */
void orgdir_reply_free(orgdir_reply *reply);

/* --- generic call ------------------------------------------------------------ */

/*
 * Calls `method` (as named in service OrgDirectory) with `request`, and
 * decodes the reply body as `reply_desc`. The typed functions below are
 * thin wrappers around this one. Every call carries a fresh idempotency
 * key (request_id); when the connection drops mid-call the request is sent
 * again on reconnection (within the timeout) with the same key, so a write
 * is never applied twice. Any NULL argument is INVALID_ARGUMENT, without a
 * call. `request` and `reply_desc` are borrowed for the call.
 */
orgdir_code orgdir_client_call(orgdir_client *client, const char *method,
    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
    orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *status);

/* --- units ------------------------------------------------------------------------ */

/* GetUnit. NOT_FOUND if there is no such unit; INVALID_ARGUMENT for a
 * malformed id. */
orgdir_code orgdir_unit_get(orgdir_client *client, const char *id, orgdir_reply **reply,
    Orgdir__V1__Unit **out, orgdir_status *status);

/* ListUnits: one page of the children of `parent_id` ("" or NULL = the
 * roots). Pass the previous page's next_page_token to continue. */
orgdir_code orgdir_unit_list(orgdir_client *client, const char *parent_id, int page_size,
    const char *page_token, orgdir_reply **reply, Orgdir__V1__ListUnitsResponse **out,
    orgdir_status *status);

/* GetSubtree: `root_id` ("" or NULL = whole organisation) and its
 * descendants to `max_depth` levels (0 = all), depth-first in display
 * order. */
orgdir_code orgdir_unit_subtree(orgdir_client *client, const char *root_id, int max_depth,
    orgdir_reply **reply, Orgdir__V1__GetSubtreeResponse **out, orgdir_status *status);

/* GetAncestors: the path root ... unit. */
orgdir_code orgdir_unit_ancestors(orgdir_client *client, const char *id, orgdir_reply **reply,
    Orgdir__V1__GetAncestorsResponse **out, orgdir_status *status);

/* CreateUnit. ALREADY_EXISTS for a taken id; FAILED_PRECONDITION when the
 * parent does not exist; INVALID_ARGUMENT for invalid fields. *out is the
 * unit as stored (with etag and times). */
orgdir_code orgdir_unit_create(orgdir_client *client, const Orgdir__V1__Unit *unit,
    orgdir_reply **reply, Orgdir__V1__Unit **out, orgdir_status *status);

/* UpdateUnit: changes the fields named in `mask_paths` (n_paths entries;
 * 0 = every mutable field) of unit->id. When unit->etag is non-empty the
 * update happens only if it is current (else ABORTED). */
orgdir_code orgdir_unit_update(orgdir_client *client, const Orgdir__V1__Unit *unit,
    const char *const *mask_paths, size_t n_paths, orgdir_reply **reply, Orgdir__V1__Unit **out,
    orgdir_status *status);

/* MoveUnit under `new_parent_id` ("" = make it a root; NULL is
 * INVALID_ARGUMENT, so that a forgotten argument never makes a root).
 * FAILED_PRECONDITION for a move under itself or a descendant. `etag` may
 * be NULL. */
orgdir_code orgdir_unit_move(orgdir_client *client, const char *id, const char *new_parent_id,
    const char *etag, orgdir_reply **reply, Orgdir__V1__Unit **out, orgdir_status *status);

/* DeleteUnit. Without `force`, a unit with children is FAILED_PRECONDITION;
 * with it, the whole subtree goes in one transaction. `deleted` (may be
 * NULL) receives the number of units deleted (0 when the call fails).
 * `etag` may be NULL. */
orgdir_code orgdir_unit_delete(orgdir_client *client, const char *id, int force, const char *etag,
    uint32_t *deleted, orgdir_status *status);

/* --- countries ------------------------------------------------------------- */

/* GetCountry: `code` is ISO 3166-1 alpha-2 or alpha-3, any case.
 * INVALID_ARGUMENT (naming the code) when ISO 3166-1 does not know it. */
orgdir_code orgdir_country_get(orgdir_client *client, const char *code, orgdir_reply **reply,
    Orgdir__V1__Country **out, orgdir_status *status);

/* ListCountries: one page; `request` carries the filters, order, page size
 * and token (borrowed). */
orgdir_code orgdir_country_list(orgdir_client *client,
    const Orgdir__V1__ListCountriesRequest *request, orgdir_reply **reply,
    Orgdir__V1__ListCountriesResponse **out, orgdir_status *status);

/* UpdateCountry: changes the fields named in `mask_paths` of
 * country->code (membership, membership.status, membership.since_year,
 * presence.declared, region_unit_id, notes, name; 0 paths = all). With a
 * non-empty country->etag the update happens only if it is current (else
 * ABORTED). */
orgdir_code orgdir_country_update(orgdir_client *client, const Orgdir__V1__Country *country,
    const char *const *mask_paths, size_t n_paths, orgdir_reply **reply, Orgdir__V1__Country **out,
    orgdir_status *status);

/* GetStats: the headline figures in one call. */
orgdir_code orgdir_server_stats(orgdir_client *client, orgdir_reply **reply,
    Orgdir__V1__GetStatsResponse **out, orgdir_status *status);

/* --- tokens (role ADMIN) --------------------------------------------------- */

/* CreateToken: `role` is an Orgdir__V1__Role; ttl_seconds 0 = never expires.
 * out->secret is the only copy of the secret anywhere. */
orgdir_code orgdir_token_create(orgdir_client *client, const char *name, int role,
    uint64_t ttl_seconds, orgdir_reply **reply, Orgdir__V1__CreateTokenResponse **out,
    orgdir_status *status);
orgdir_code orgdir_token_list(orgdir_client *client, orgdir_reply **reply,
    Orgdir__V1__ListTokensResponse **out, orgdir_status *status);
orgdir_code orgdir_token_delete(orgdir_client *client, const char *name, orgdir_status *status);

/* --- history ------------------------------------------------------------------ */

/* ListChanges: one page of the change log after `since_revision`, all of it
 * or (resource_id not NULL/empty) one unit's or country's. */
orgdir_code orgdir_changes_list(orgdir_client *client, uint64_t since_revision,
    const char *resource_id, int resource_type, int page_size, const char *page_token,
    orgdir_reply **reply, Orgdir__V1__ListChangesResponse **out, orgdir_status *status);

/* WatchChanges: the changes after `since_revision`, waiting up to wait_ms
 * (at most 60,000) for one when there are none yet. The call's timeout is
 * extended by wait_ms. OUT_OF_RANGE when the log no longer reaches back to
 * since_revision: re-read the directory, then watch from its revision.
 * Continue with out->next_since_revision and out->next_page_token (set only
 * when one revision had more than max_changes changes; NULL or "" for the
 * first call). */
orgdir_code orgdir_changes_watch(orgdir_client *client, uint64_t since_revision,
    const char *page_token, uint32_t wait_ms, int max_changes, orgdir_reply **reply,
    Orgdir__V1__WatchChangesResponse **out, orgdir_status *status);

/* --- transfer: export, import, backup ------------------------------------------------ */

/*
 * ExportDirectory: the whole directory from one snapshot: every unit,
 * parents before children, without etags (times kept), the revision, and
 * the country records set by hand. A large directory needs a large reply:
 * open the client with max_message_bytes big enough (up to 256 MiB; about
 * 400 bytes per unit) - nng fixes a connection's receive limit when it
 * connects, so it cannot be raised for one call. RESOURCE_EXHAUSTED says
 * when it is too small. Reads need no token unless the server requires one.
 */
orgdir_code orgdir_directory_export(orgdir_client *client, orgdir_reply **reply,
    Orgdir__V1__Directory **out, orgdir_status *status);

/*
 * ImportDirectory (role ADMIN): loads `doc` (borrowed) atomically: all of
 * it or none of it. `mode` is an Orgdir__V1__ImportDirectoryRequest__Mode
 * (MERGE = 0: add and replace; REPLACE = 1: the directory becomes exactly
 * doc). dry_run != 0 checks and counts without writing. A document larger
 * than one request (about 3 MiB packed) is sent in parts through an import
 * session, then committed; the commit's timeout grows with the document.
 *
 * OK with (*out)->n_problems > 0 means the document was refused and nothing
 * was written: each problem has a path in the document ("units[12].parentId")
 * and a message. Otherwise the counts say what changed (or would change,
 * dry run) and status->revision is the revision the import committed.
 * out may be NULL (then reply too): the counts and problems are dropped.
 */
orgdir_code orgdir_directory_import(orgdir_client *client, const Orgdir__V1__Directory *doc,
    int mode, int dry_run, orgdir_reply **reply, Orgdir__V1__ImportDirectoryResponse **out,
    orgdir_status *status);

/*
 * The same import, for a caller that hands the document over piece by
 * piece while it is still reading it (orgctl import gives each unit as its
 * JSON parser finishes it). orgdir_import_begin makes the state (no call
 * yet); orgdir_import_add gives it units and countries in document order
 * (their index across all adds is their path in problems: units[i],
 * countries[j]); orgdir_import_commit sends the rest and commits;
 * orgdir_import_free releases the state, after the commit or in place of
 * it (then the session, if one was opened, is ended and nothing is
 * imported). Items larger together than one request go as parts of an
 * import session as soon as a part is full, one part at a time: add
 * returns once the part is handed to the transport, and the next part (or
 * the commit) first waits for the server's answer to it, so the caller
 * reads on while the server decodes. The items are borrowed until
 * orgdir_import_free. A failure (a part refused, the transport, memory)
 * sticks: every later add and the commit return it again, and nothing is
 * imported. Not for use by two threads at once.
 */
typedef struct orgdir_import orgdir_import;

orgdir_code orgdir_import_begin(
    orgdir_client *client, int mode, int dry_run, orgdir_import **out, orgdir_status *status);
orgdir_code orgdir_import_add(orgdir_import *import, Orgdir__V1__Unit *const *units, size_t n_units,
    Orgdir__V1__Country *const *countries, size_t n_countries, orgdir_status *status);
/* What orgdir_directory_import answers, for everything added. */
orgdir_code orgdir_import_commit(orgdir_import *import, orgdir_reply **reply,
    Orgdir__V1__ImportDirectoryResponse **out, orgdir_status *status);
void orgdir_import_free(orgdir_import *import);

/*
 * Backup (role ADMIN): a consistent hot copy of the server's data into
 * `dir`, a directory on the SERVER's machine (absolute; created when
 * missing; must be empty). Reads and writes go on meanwhile. `orgdird --data
 * DIR` starts from the copy. The call waits up to 10 minutes more than the
 * client's timeout. out: the revision the copy holds and its size.
 */
orgdir_code orgdir_backup(orgdir_client *client, const char *dir, orgdir_reply **reply,
    Orgdir__V1__BackupResponse **out, orgdir_status *status);

/* --- search ------------------------------------------------------------------ */

/* Search: hits for a query typed by a person, ranked (see SearchRequest in
 * service.proto for the fields: kinds, lang, under_unit_id, paging).
 * INVALID_ARGUMENT for an empty, all-punctuation, over-long (512 bytes) or
 * invalid UTF-8 query. */
orgdir_code orgdir_search(orgdir_client *client, const Orgdir__V1__SearchRequest *request,
    orgdir_reply **reply, Orgdir__V1__SearchResponse **out, orgdir_status *status);

/* --- server ------------------------------------------------------------------------ */

/* Health: *serving (may be NULL) receives the
 * HealthCheckResponse.ServingStatus value; UNKNOWN (0) when the call fails. */
orgdir_code orgdir_server_health(orgdir_client *client, int *serving, orgdir_status *status);

/* ServerInfo: version, schema version, methods, revision. */
orgdir_code orgdir_server_info(orgdir_client *client, orgdir_reply **reply,
    Orgdir__V1__ServerInfoResponse **out, orgdir_status *status);

/* --- helpers for localized text ---------------------------------------------- */

/*
 * Picks the text for `lang` from a localized list: an exact tag match, else
 * the same primary language ("fr" for "fr-CH"), else English, else the
 * first entry. Returns NULL only when the list is empty. The pointer is
 * borrowed from `values`.
 */
const char *orgdir_text_pick(
    Orgdir__V1__LocalizedString *const *values, size_t n_values, const char *lang);

#ifdef __cplusplus
}
#endif

#endif /* ORGDIR_ORGDIR_H */
