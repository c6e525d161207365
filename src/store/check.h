/*
 * check.h - the store's consistency check (orgdird --check, the soak and
 * crash tests): every record decodes, the tree is a forest of valid units,
 * and every derived index matches the units it is derived from.
 *
 * What is checked, on one read snapshot:
 *  - meta: the schema version is this build's, the revision is a u64;
 *  - units: each decodes, its key is its id, it obeys the rules of a stored
 *    unit (od_unit_check), its etag is a decimal revision no later than the
 *    store's revision, its country code is ISO 3166-1 (when the store has
 *    the ISO table);
 *  - the tree: every non-empty parent_id names a unit; no unit is its own
 *    ancestor (walks up at most OD_TREE_DEPTH_MAX + 2 levels); no unit is
 *    deeper than OD_TREE_DEPTH_MAX;
 *  - children: exactly one entry per unit, under its parent ("/" for a
 *    root), with its (sort_order, id) key; no entry for a missing unit;
 *  - kind_counts: equal to the number of units of each kind;
 *  - country_units: exactly the office units (COUNTRY_OFFICE, SUB_OFFICE,
 *    LIAISON_OFFICE, REGIONAL_OFFICE) with a country, under that country,
 *    as kind byte + id;
 *  - countries: each record decodes under a two-letter key (ISO when known),
 *    its etag is no later than the revision, its region (if any) is an
 *    existing REGIONAL_OFFICE unit;
 *  - requests: each log entry names a recorded reply, every reply decodes,
 *    and there are as many replies as log entries;
 *  - the change log: every change decodes under its (revision, seq) key and
 *    names a valid unit or country; no revision is later than the store's;
 *    every revision after the log's floor (the retention start) up to the
 *    store's revision is there, its changes numbered from seq 0 without a
 *    gap (changes at or below the floor are left-overs of pruning);
 *    changes_by_res lists exactly the changes of each resource;
 *  - tokens: each name is valid, each record has the stored size, a known
 *    role and an expiry after its creation; token_hashes maps each hash to
 *    its token and nothing else;
 *  - the search index: every doc names an existing unit or ISO country;
 *    every unit and every ISO country has its doc, and it is exactly what
 *    the index's own indexer (search_write.c) makes of the record at the
 *    unit's depth (run as a dry run on the read snapshot: see
 *    check_search.c); every key of `search` is one a doc derives
 *    (od_search_check_doc / od_search_check_key).
 */
#ifndef OD_STORE_CHECK_H
#define OD_STORE_CHECK_H

#include <stdio.h>

#include "store.h"

/* Problems kept as text (all are counted). */
#define OD_CHECK_PROBLEMS_KEPT 32
#define OD_CHECK_PROBLEM_MAX 256

typedef struct od_check_report {
	uint64_t revision; /* the snapshot's */
	uint64_t units;
	uint64_t children; /* entries of the children index */
	uint64_t country_units; /* entries of the country office index */
	uint64_t countries; /* country records set by hand */
	uint64_t requests; /* recorded write replies */
	uint64_t changes; /* entries of the change log */
	uint64_t tokens;
	uint64_t search_docs; /* records in the search index */
	uint64_t search_keys; /* keys of the search index */
	uint64_t problems; /* found; the first OD_CHECK_PROBLEMS_KEPT are in `problem` */
	size_t n_kept;
	/* NUL-terminated, e.g. "unit 'x': parent 'y' does not exist". */
	char problem[OD_CHECK_PROBLEMS_KEPT][OD_CHECK_PROBLEM_MAX];
} od_check_report;

/*
 * Checks the store on one read snapshot (it may run while a server writes
 * to the same directory, in this process or another). `rep` is the
 * caller's; it is filled whenever the return is OK or DATA_LOSS.
 * Returns OK when no problem was found; DATA_LOSS when some were (st says
 * how many, rep lists them); another status (INTERNAL, UNAVAILABLE,
 * RESOURCE_EXHAUSTED) when the check could not run. Reads only; allocates
 * a bounded arena (one unit at a time) freed before it returns.
 */
orgdir_code od_store_check(struct od_store *s, od_check_report *rep, orgdir_status *st);

/* Writes a summary line, then one line per kept problem and a line for
 * those not kept, to f. */
void od_check_report_print(const od_check_report *rep, FILE *f);

#endif
