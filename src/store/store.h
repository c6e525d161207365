/*
 * store.h - the LMDB-backed store: units, their children index, metadata
 * and the idempotency record of writes. Nothing above this layer sees an
 * MDB_* value; nothing in here knows about nng.
 *
 * Transactions
 *  - Readers: an od_reader is a reusable read transaction (reset/renewed,
 *    never begun afresh). One reader serves one thread at a time; it may
 *    move between threads between uses (MDB_NOTLS).
 *  - Writers: a write batch (od_store_write_begin) is one LMDB write
 *    transaction that the writer runs requests in one after another; a
 *    request that fails after changing something (od_txn_writes moved)
 *    makes the writer abort the batch and run it again without that
 *    request (src/server/writer.c). A batch must begin and commit on the
 *    same thread.
 *  - Values read are borrowed until the transaction ends.
 */
#ifndef OD_STORE_H
#define OD_STORE_H

#include "od.h"

struct od_iso3166;

#define OD_SCHEMA_VERSION 7

/* Whether LMDB writes in its map while the log is kept (env.c,
 * data_file_blocks): not in a ThreadSanitizer build. TSan cannot see how
 * LMDB hands pages from its writer to its readers (the reader table and
 * the meta pages are plain loads and stores): with the writer's pages
 * written in the map, it reports each page a reader reads after a commit
 * as a race with the writer that wrote it. A TSan build writes through
 * the file (what --no-wal does too); the other builds, ASan and valgrind
 * included, test the map. */
#if defined(__SANITIZE_THREAD__)
#define OD_STORE_WRITEMAP false
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OD_STORE_WRITEMAP false
#endif
#endif
#ifndef OD_STORE_WRITEMAP
#define OD_STORE_WRITEMAP true
#endif

struct od_store;
typedef struct od_txn od_txn;
typedef struct od_reader od_reader;

typedef struct od_val {
	const void *data;
	size_t len;
} od_val;

typedef struct od_store_opts {
	const char *path; /* data directory; created if missing (unless must_exist) */
	size_t map_size; /* initial map size in bytes; 0 = 256 MiB */
	unsigned max_readers; /* 0 = 512 */
	bool no_sync; /* tests only: MDB_NOSYNC */
	/* ISO 3166-1 table (not owned, must outlive the store); NULL = country
	 * codes are checked for form only and countries are not served. */
	const struct od_iso3166 *iso;
	/* Revisions of change log kept; 0 = all (the default). */
	uint64_t retain_revisions;
	/* Open an existing store only (orgdird --check): the directory and its
	 * LMDB data file must be there already; nothing is created. */
	bool must_exist;
	/* Serve: the one orgdird of the directory. A second one (whose writer,
	 * watchers and import sessions would not know of the first's) is
	 * refused, naming the first's pid, for as long as the store is open
	 * (a flock on DATA/orgdird.lock, which a crash releases too). */
	bool exclusive;
	/* With exclusive: no write-ahead log (DATA/orgdird.wal); LMDB syncs
	 * each commit itself (orgdird --no-wal). */
	bool no_wal;
} od_store_opts;

/* Opens (creating when needed) the store in opts->path. *out is the
 * caller's to od_store_close; NULL on failure. FAILED_PRECONDITION when the
 * directory cannot be used, or with must_exist when it holds no store, or
 * with exclusive when another process serves it;
 * DATA_LOSS when the store is corrupt. */
orgdir_code od_store_open(const od_store_opts *opts, struct od_store **out, orgdir_status *st);
void od_store_close(struct od_store *s);
/* Closes and reopens the LMDB environment, to give back the memory LMDB
 * keeps: every page a write transaction dirtied stays allocated, for the
 * next one, for the life of the environment (~4 KiB a page: 36 MiB after
 * an import of 10,000 units, 380 MiB after 100,000). Waits for every open
 * snapshot to end and keeps new ones out meanwhile; readers begin afresh
 * on their next use. Call it from the thread that writes, between
 * transactions. On failure the store serves nothing (UNAVAILABLE from
 * every read and write) and the error is logged. */
orgdir_code od_store_refresh(struct od_store *s, orgdir_status *st);

/* Readers */
orgdir_code od_reader_new(struct od_store *s, od_reader **out, orgdir_status *st);
/* Starts a snapshot; returns the transaction to read through. */
orgdir_code od_reader_begin(od_reader *r, od_txn **txn, orgdir_status *st);
/* Ends the snapshot (reset: the reader slot is kept for the next begin). */
void od_reader_end(od_reader *r);
void od_reader_free(od_reader *r);

/* Writes */
orgdir_code od_store_write_begin(struct od_store *s, od_txn **batch, orgdir_status *st);
/* Commits a batch to disk, synced. The transaction is gone afterwards,
 * committed or not. *map_full (map_full may be NULL) says whether it
 * failed because the map is full: grow and run it again. One that failed
 * for want of disk space is RESOURCE_EXHAUSTED too, saying what is full
 * (od_space_status), and is not to be run again. */
orgdir_code od_txn_commit(od_txn *t, bool *map_full, orgdir_status *st);
void od_txn_abort(od_txn *t);
/* True when the transaction hit the map size limit: abort the batch, call
 * od_store_grow, and run it again. */
bool od_txn_map_full(const od_txn *t);
/* Changes made in the transaction so far (puts, deletes, drops): equal
 * before and after a request when it changed nothing. */
uint64_t od_txn_writes(const od_txn *t);
/* Doubles the map, or grows it to what od_store_reserve asked for when that
 * is more. Waits for readers in progress; no write may be open. */
orgdir_code od_store_grow(struct od_store *s, orgdir_status *st);
/* The write-ahead log's checkpoint (src/store/wal.c), when one is due:
 * the writer calls it between batches, after their answers, with idle
 * when nothing is queued (then any logged write makes one due). True
 * when one was made; a failure is logged (once a minute) and tried again
 * next time. Does nothing without the log. */
bool od_store_checkpoint(struct od_store *s, bool idle);
/* For a write that knows it is large (an import): when the map has less
 * than `bytes` free beyond the last commit, fails at once with
 * RESOURCE_EXHAUSTED and od_txn_map_full(t) set, as a write that filled
 * the map would, and the next od_store_grow makes room for `bytes` (rather
 * than doubling). Otherwise OK. Writer thread only. */
orgdir_code od_store_reserve(od_txn *t, size_t bytes, orgdir_status *st);
/* The transaction is about to write about `bytes` of new pages (an
 * import): while LMDB writes in its map, a thread of the store reads that
 * much of the map's unwritten end into the page cache ahead of it, so that
 * the writer's first touch of each page does not fill it (on this kind of
 * VM, fresh memory is slow to touch). Only a hint: nothing else changes.
 * Writer thread only; the thread ends by itself, or when the environment
 * closes. */
void od_store_prefetch(od_txn *t, size_t bytes);

/* Metadata */
uint64_t od_txn_revision(od_txn *t);
/* The same, always read from the store (what od_txn_revision answers
 * from the last commit's record when t reads that snapshot). */
uint64_t od_txn_revision_stored(od_txn *t);
/* Increments the revision inside a write transaction; returns the new one. */
uint64_t od_txn_next_revision(od_txn *t);
uint64_t od_store_unit_count(od_txn *t);
uint32_t od_store_schema_version(struct od_store *s);

/* --- units (units.c) ------------------------------------------------------------ */

/* Stored packed orgdir.v1.Unit of `id`, borrowed. NOT_FOUND if absent. */
orgdir_code od_unit_get(od_txn *t, const char *id, od_val *out, orgdir_status *st);
bool od_unit_exists(od_txn *t, const char *id);

/* Iterates the children of a parent ("" = roots) in display order. */
typedef struct od_child_iter od_child_iter;
orgdir_code od_children_open(od_txn *t, const char *parent, od_child_iter **it, orgdir_status *st);
/* Positions after the child whose sort key is `after` (from
 * od_children_key); NULL = at the first child. */
bool od_children_seek(od_child_iter *it, const od_val *after);
/* Next child: its id and stored bytes (borrowed). false at the end. */
bool od_children_next(od_child_iter *it, od_val *id, od_val *unit);
/* The sort key of the child last returned (for page tokens), borrowed. */
od_val od_children_key(od_child_iter *it);
size_t od_children_count(od_child_iter *it);
void od_children_close(od_child_iter *it);

/* Depth-first walk of a subtree (display order). visit returns false to
 * stop the walk early; the walk then returns CANCELLED. */
typedef bool (*od_subtree_visit)(void *arg, uint32_t depth, const od_val *unit);
orgdir_code od_subtree_walk(od_txn *t, const char *root, uint32_t max_depth, od_subtree_visit visit,
    void *arg, orgdir_status *st);

/* Write operations. Each validates structure (parents, cycles, ids) and
 * sets etag, create/update times; `arena` holds temporary decodes; *out
 * (may be NULL) receives the unit as stored, allocated in the arena. */
orgdir_code od_unit_create(od_txn *t, od_arena *arena, const Orgdir__V1__Unit *u,
    Orgdir__V1__Unit **out, orgdir_status *st);
orgdir_code od_unit_update(od_txn *t, od_arena *arena, const Orgdir__V1__Unit *u,
    const Google__Protobuf__FieldMask *mask, Orgdir__V1__Unit **out, orgdir_status *st);
orgdir_code od_unit_move(od_txn *t, od_arena *arena, const char *id, const char *new_parent,
    const char *etag, Orgdir__V1__Unit **out, orgdir_status *st);
orgdir_code od_unit_delete(od_txn *t, od_arena *arena, const char *id, bool force, const char *etag,
    uint32_t *deleted, orgdir_status *st);

/* --- countries (countries.c) ---------------------------------------------------------- */

/* The full Country for an ISO code (alpha-2/3, any case), built in the arena:
 * ISO data, the record set by hand, presence derived from the units. */
orgdir_code od_country_get(
    od_txn *t, od_arena *a, const char *code, Orgdir__V1__Country **out, orgdir_status *st);
orgdir_code od_country_list(od_txn *t, od_arena *a, const Orgdir__V1__ListCountriesRequest *req,
    Orgdir__V1__ListCountriesResponse **out, orgdir_status *st);
orgdir_code od_country_update(od_txn *t, od_arena *a, const Orgdir__V1__Country *in,
    const Google__Protobuf__FieldMask *mask, Orgdir__V1__Country **out, orgdir_status *st);
orgdir_code od_store_stats(
    od_txn *t, od_arena *a, Orgdir__V1__GetStatsResponse **out, orgdir_status *st);

/* --- writes: who makes them (recorded in the change log) --------------------------- */

/* Strings are borrowed until the transaction ends. */
void od_txn_set_actor(od_txn *t, const char *actor, const char *method);

/* --- tokens (tokens.c) ------------------------------------------------------------------ */

typedef struct od_token_auth {
	char name[OD_ID_MAX + 1];
	int role; /* Orgdir__V1__Role */
} od_token_auth;

/* Resolves a bearer token: UNAUTHENTICATED (with the reason) when unknown
 * or expired. The secret is hashed and compared in constant time. */
orgdir_code od_token_check(od_txn *t, const char *secret, od_token_auth *out, orgdir_status *st);
/* Creates a token; *secret (arena) is the only copy of the secret. */
orgdir_code od_token_create(od_txn *t, od_arena *a, const char *name, int role,
    uint64_t ttl_seconds, Orgdir__V1__TokenInfo **info, char **secret, orgdir_status *st);
orgdir_code od_token_delete(od_txn *t, const char *name, orgdir_status *st);
orgdir_code od_token_list(
    od_txn *t, od_arena *a, Orgdir__V1__ListTokensResponse **out, orgdir_status *st);
size_t od_token_count(od_txn *t);

/* --- change log (changes.c) ------------------------------------------------------------ */

/* Changes after since_revision (all, or of one resource), oldest first, at
 * most max; OUT_OF_RANGE when the log no longer reaches back that far.
 * *next_rev is where to continue from. */
orgdir_code od_changes_list(od_txn *t, od_arena *a, const Orgdir__V1__ListChangesRequest *req,
    Orgdir__V1__ListChangesResponse **out, orgdir_status *st);
/* Number of distinct revisions in the log and the oldest one kept. */
void od_changes_span(od_txn *t, uint64_t *oldest, uint64_t *count);

/* --- search (search_*.c) ------------------------------------------------------------------ */

/* Ranked hits for a query typed by a person (see SearchRequest). */
orgdir_code od_search(od_txn *t, od_arena *a, const Orgdir__V1__SearchRequest *req,
    Orgdir__V1__SearchResponse **out, orgdir_status *st);

/* --- idempotency of writes (requests.c) ---------------------------------- */

/* How many of the most recent writes' outcomes are remembered: a re-send
 * older than that is applied again. */
#define OD_REQUESTS_KEPT 100000

/* The recorded outcome of an earlier request with this key, borrowed. */
bool od_request_lookup(od_txn *t, const od_val *key, od_val *response);
/* Records the outcome in the write transaction of the request itself. */
orgdir_code od_request_record(
    od_txn *t, const od_val *key, const od_val *response, orgdir_status *st);

#endif
