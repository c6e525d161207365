/*
 * check_int.h - what the files of the consistency check share, and nothing
 * else includes: check.c (driver, report, these helpers, meta),
 * check_units.c, check_index.c, check_log.c, check_search.c (the passes).
 */
#ifndef OD_STORE_CHECK_INT_H
#define OD_STORE_CHECK_INT_H

#include "check.h"
#include "store_int.h"

#define SHOW_MAX 96 /* bytes of a key shown in a problem */
#define SHOWBUF (SHOW_MAX * 4 + 8) /* room for od_check_show() */

/* One run of the check: the snapshot it reads, the report it fills (the
 * caller's), an arena reset after each record. */
struct ck {
	od_txn *t;
	MDB_txn *txn;
	struct od_store *s;
	od_check_report *rep;
	od_arena a;
	uint64_t kinds[256]; /* units per kind byte */
	uint64_t search_derived; /* keys of `search` the search passes derived */
	bool search_incomplete; /* some were missing, differed or not derived */
};

/* Counts a problem in c->rep and keeps its text while there is room. */
void __attribute__((format(printf, 2, 3))) od_check_problem(struct ck *c, const char *fmt, ...);
/* Bytes from the store as printable text into out (cap bytes, SHOWBUF is
 * enough): ASCII as is, the rest as \xNN, cut at SHOW_MAX. Returns out. */
const char *od_check_show(const void *p, size_t n, char *out, size_t cap);
/* A NUL-terminated copy of a key that may be a unit id into out; false
 * (out then "" or the invalid id) if it is not one. */
bool od_check_id_of(const MDB_val *k, char out[OD_ID_MAX + 1]);
/* The name of a unit kind: static text, or "kind N" written into buf. */
const char *od_check_kind_name(int kind, char *buf, size_t cap);
/* A decimal revision into *out; false for anything else. */
bool od_check_parse_rev(const char *s, uint64_t *out);
/* Whether the DUPSORT database dbi holds exactly the pair k, v (false
 * too when it cannot be read). */
bool od_check_has_dup(
    struct ck *c, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl);
/* The unit's country code, "" for none (borrowed from u). */
const char *od_check_cc_of(const Orgdir__V1__Unit *u);
/* Whether the unit belongs in country_units: an office kind with a country. */
bool od_check_expects_office_entry(const Orgdir__V1__Unit *u);
/* Whether s (n bytes) is an upper-case two-letter code. */
bool od_check_country_code_valid(const char *s, size_t n);

/*
 * The passes, in the order od_store_check runs them. Each reads one
 * database in key order and reports what it finds with od_check_problem;
 * it returns 0, or an LMDB error (or ENOMEM) when it could not read on.
 */
int od_check_units(struct ck *c); /* check_units.c: units and the tree */
int od_check_children(struct ck *c); /* check_index.c */
int od_check_kind_counts(struct ck *c); /* check_index.c, after od_check_units */
int od_check_country_units(struct ck *c); /* check_index.c */
int od_check_countries(struct ck *c); /* check_index.c */
int od_check_requests(struct ck *c); /* check_index.c */
int od_check_changes(struct ck *c); /* check_log.c */
int od_check_changes_by_res(struct ck *c); /* check_log.c */
int od_check_tokens(struct ck *c); /* check_log.c */
/* check.c: calls visit on every entry of dbi, the arena reset after each;
 * *counter (when not NULL) counts them. 0 or an LMDB status. */
int od_check_each(struct ck *c, MDB_dbi dbi, uint64_t *counter,
    void (*visit)(struct ck *c, const MDB_val *k, const MDB_val *v));
int od_check_search_docs(struct ck *c); /* check_search.c */
int od_check_search_units(struct ck *c); /* check_search.c */
/* check_search.c: every ISO country's doc; reads the ISO table, not a
 * database, and cannot fail. */
void od_check_search_countries(struct ck *c);
int od_check_search_keys(struct ck *c); /* check_search.c, after the three above */

#endif
