/*
 * transfer.h - the whole directory in and out of the store: export (one
 * snapshot as an orgdir.v1.Directory), import (validate everything, then
 * apply in one write transaction) and hot backup (a compacted copy of the
 * LMDB environment).
 *
 * Part of od_store: nothing here knows about nng, and nothing above the
 * store sees an MDB_* value.
 */
#ifndef OD_STORE_TRANSFER_H
#define OD_STORE_TRANSFER_H

#include "store.h"

/* At most this many problems are reported by one import; the last one then
 * says that more were left out. */
#define OD_IMPORT_PROBLEMS_MAX 1000

/*
 * Appends the whole directory, read from the snapshot `t`, to `out` as a
 * packed orgdir.v1.Directory: every unit in depth-first display order
 * (parents before children; stored bytes copied, the `etag` field removed),
 * the revision of the snapshot, and every country record set by hand (as
 * stored, `etag` removed). Times are kept.
 * Returns OK, or RESOURCE_EXHAUSTED when `out` reaches its cap (out is then
 * left with a partial document: discard it).
 */
orgdir_code od_export(od_txn *t, od_buf *out, orgdir_status *st);

typedef struct od_import_result {
	uint32_t units_created;
	uint32_t units_updated;
	uint32_t units_deleted;
	uint32_t countries_updated;
	/* When n_problems > 0 nothing was written and the counts are 0. */
	Orgdir__V1__ImportProblem **problems;
	size_t n_problems;
	/* True when the transaction was changed (and its revision bumped once). */
	bool written;
} od_import_result;

/*
 * Imports `doc` inside the write transaction `t` (a nested child of a batch:
 * the caller commits or aborts it, so the import is all or nothing).
 *
 * First validates the whole document against the directory it would
 * produce and collects every problem (at most OD_IMPORT_PROBLEMS_MAX) with
 * its path in the document ("units[12].parentId", "countries[2].code"):
 * invalid or duplicate ids, unit field rules, ISO 3166-1 codes, unknown
 * parents, cycles, depth over OD_TREE_DEPTH_MAX, country records (code,
 * duplicates, fields, a region that is not a REGIONAL_OFFICE). With any
 * problem, or with dry_run, nothing is written; the counts then say what
 * would have happened (0 with problems).
 *
 * Otherwise applies it with the store's own write functions, so indexes and
 * the change log stay right, all at ONE new revision: replace=false (MERGE)
 * creates missing units and replaces existing ones (moved when their parent
 * differs; unchanged ones are not rewritten) and sets the document's
 * country records; replace=true (REPLACE) also deletes the units and resets
 * the country records the document does not hold. Unit create/update times
 * and country update times present in the document are kept.
 *
 * `doc` is modified (normalised in place: country codes upper-cased,
 * etags cleared, unknown fields dropped); it and the problems live in `a`,
 * which must be able to hold temporary copies too.
 * Returns OK (see res) or the status of a write that failed (the caller
 * aborts t); RESOURCE_EXHAUSTED with od_txn_map_full(t) means "grow and
 * run again".
 */
orgdir_code od_import(od_txn *t, od_arena *a, Orgdir__V1__Directory *doc, bool replace,
    bool dry_run, od_import_result *res, orgdir_status *st);

/*
 * Before an import of a document of `doc_bytes` (packed): makes sure the
 * database map has room for what importing it into an empty store writes
 * (od_store_reserve with an estimate from the size). RESOURCE_EXHAUSTED
 * with od_txn_map_full(t) means "grow and run again", as from od_import,
 * but before any work is done. On success the pages the import will write
 * are read ahead on a thread meanwhile (od_store_prefetch).
 */
orgdir_code od_import_reserve(od_txn *t, size_t doc_bytes, orgdir_status *st);

/*
 * Hot backup: copies the live environment, compacted, from a read snapshot
 * into `dir` (an absolute path; created 0700 when missing, refused when not
 * empty), while reads and writes go on. The copy is a complete data
 * directory: `orgdird --data DIR` starts from it. Blocks for as long as the
 * copy takes: call it from a thread of its own. Safe to call from any
 * thread while the store is open (it waits for a map resize in progress,
 * and a resize waits for it).
 * On OK, *bytes is the size of the copy and *revision the revision it holds.
 * Statuses: INVALID_ARGUMENT (path not absolute, too long), FAILED_PRECONDITION
 * (directory not empty, cannot be created, not a directory), INTERNAL or
 * UNAVAILABLE for I/O failures (the message names the path and the error).
 */
orgdir_code od_store_backup(
    struct od_store *s, const char *dir, uint64_t *bytes, uint64_t *revision, orgdir_status *st);

/* The checks of od_store_backup on `dir` alone (absolute, creatable,
 * empty), with the directory created: lets a caller refuse at once what
 * would fail, before starting a thread for the copy. Same statuses. */
orgdir_code od_backup_prepare(const char *dir, orgdir_status *st);

#endif
