/* store_int.h - shared internals of src/store (never included above it). */
#ifndef OD_STORE_INT_H
#define OD_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "iso3166.h"
#include "store.h"

struct od_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi units;
	MDB_dbi children; /* parent id ("/" for roots) -> dup: sort key (be32 order ^ sign, id) */
	MDB_dbi requests; /* request id -> packed Response of its first execution */
	MDB_dbi request_log; /* be64 sequence -> request id, to prune the oldest */
	MDB_dbi countries; /* alpha-2 -> packed Country: the fields set by hand only */
	MDB_dbi country_units; /* alpha-2 -> dup: kind byte + id of office units there */
	MDB_dbi kind_counts; /* kind byte -> u64 number of units of that kind */
	MDB_dbi tokens; /* token name -> struct od_token_rec */
	MDB_dbi token_hashes; /* SHA-256 of the secret -> token name */
	MDB_dbi changes; /* be64 revision + be32 seq -> packed Change */
	MDB_dbi changes_by_res; /* "u:<id>" / "c:<CC>" -> dup: be64 revision + be32 seq */
	MDB_dbi search; /* bucket or name hash + depth + doc (layout: search_doc.c) */
	MDB_dbi search_docs; /* doc -> depth, kind, words, whole names, exact keys */
	uint64_t retain_revisions; /* 0 = keep the whole log */
	const od_iso3166 *iso; /* not owned; NULL = country codes unchecked */
	size_t map_size;
	size_t grow_to; /* writer only: the map od_store_reserve asked for; 0 = none */
	uint32_t schema;
	/*
	 * The gate, closed while od_store_grow remaps and od_store_refresh
	 * reopens the environment (neither may have a snapshot open). No lock
	 * on the read path: a reader marks its own `held` and then checks
	 * `closed` (od_gate_enter); a closer holds gate_mu, waits for each
	 * reader inside to leave once, sets `closed`, then waits until no
	 * reader's `held` is set (gate_close). A reader that finds it closed
	 * waits on gate_mu, so new readers cannot starve a closer as they
	 * could a reader-preferring rwlock, and a long reader (a backup)
	 * holds up the closer, not the readers after it.
	 */
	atomic_bool closed;
	pthread_mutex_t gate_mu;
	/* Every od_reader, whose transactions belong to the environment:
	 * od_store_refresh ends them before it closes it, and gate_close
	 * waits for each. */
	pthread_mutex_t readers_mu;
	struct od_reader *readers;
	/* Signalled (under readers_mu) when gate_close unpins its readers:
	 * od_reader_free waits for its reader's pins to go. */
	pthread_cond_t unpinned;
	unsigned max_readers;
	/*
	 * The revision of this process's last commit, by LMDB's id of the
	 * snapshot it made, so that a reader of that snapshot (most of them)
	 * answers its revision without looking it up (od_txn_revision). A
	 * seqlock, lock-free for readers: rev_seq is odd while the pair
	 * changes or when there is none. A commit that changes something
	 * holds rev_mu around its own.
	 */
	atomic_uint_fast64_t rev_seq, rev_txnid, rev_value;
	pthread_mutex_t rev_mu;
	/* od_store_prefetch's thread, while `prefetching` (joined by
	 * prefetch_stop before the environment closes or another starts). */
	pthread_t prefetch_th;
	bool prefetching;
	atomic_bool prefetch_stop;
	int prefetch_fd; /* its own copy of LMDB's descriptor, closed by it */
	size_t prefetch_off, prefetch_len;
	bool no_sync;
	/* The log stays after the open (not --no-wal nor --no-sync). */
	bool logged;
	/* LMDB writes in its map (MDB_WRITEMAP), data.mdb having its blocks
	 * up to the map's size (env.c, data_file_blocks). */
	bool writemap;
	/* DATA/orgdird.lock, flock'ed for the store's life when it serves
	 * (od_store_opts.exclusive); -1 otherwise. */
	int lock_fd;
	/* lock.mdb, held open while the environment is (env.c, env_close). */
	int lockmdb_fd;
	/* The write-ahead log (wal.c) when it serves; NULL: LMDB syncs each
	 * commit itself. */
	struct od_wal *wal;
	char path[4096];
};

struct od_txn {
	struct od_store *s;
	MDB_txn *txn;
	bool write;
	bool map_full;
	/* Changes made so far (od_mdb_put and its kin count them). */
	uint64_t writes;
	/* The search index's scratch for one record at a time (search_write.c),
	 * kept for the transaction's next record; set up on first use. */
	od_arena scratch;
	bool has_scratch;
	/* Writes: who and what, for the change log; seq numbers the changes
	 * of the current revision. */
	const char *actor;
	const char *method;
	uint64_t seq_rev;
	uint32_t seq;
	/* Set by an import (transfer.c) for its duration: every write shares
	 * the one revision it began with, and the unit and country times the
	 * document carries are stored as they are. */
	bool one_revision;
	bool keep_times;
	/* Set by an import while it creates units: puts to the databases it
	 * names are held back and written in key order (defer.c). */
	struct od_deferred *deferred;
	/* Committed through the write-ahead log (wal.c), and its changes are
	 * still being captured for its record (false once they no longer fit:
	 * then committed and made durable by a checkpoint). */
	bool logged;
	bool capture;
};

struct od_reader {
	struct od_store *s;
	struct od_txn t;
	bool active;
	atomic_bool held; /* inside the gate (od_reader_begin .. od_reader_end) */
	atomic_uint entries; /* times it went in: gate_close's "left once" */
	struct od_reader *prev, *next; /* s->readers, under s->readers_mu */
	/* Closers waiting for it without the list's lock (gate_close), under
	 * s->readers_mu: od_reader_free waits until none is. */
	unsigned pins;
};

/* Stored value of `tokens` (fixed layout, host byte order); tokens.c
 * writes it, check.c reads it. */
struct od_token_rec {
	uint8_t hash[32]; /* SHA-256 of the secret, the key of token_hashes */
	int64_t create_sec;
	int64_t expire_sec; /* 0 = never */
	uint32_t role; /* Orgdir__V1__Role: READER, EDITOR or ADMIN */
};

/* Big-endian integers in keys (they sort as numbers). */
static inline void
od_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t) (v >> (56 - 8 * i));
	}
}

static inline uint64_t
od_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

static inline uint32_t
od_get_be32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* The key under which the roots are listed in the children index. */
#define OD_ROOT_KEY "/"
#define OD_SORTKEY_MAX (4 + OD_ID_MAX)

/* After a failed od_store_refresh the store has no environment (s->env is
 * NULL, checked inside the gate): UNAVAILABLE, saying so. */
orgdir_code od_store_no_env(orgdir_status *st);
/* Into and out of the gate with r's mark, no snapshot begun: what
 * od_reader_begin and od_reader_end do around theirs, for a caller that
 * reads through a snapshot LMDB opens itself (the backup). */
void od_gate_enter(od_reader *r);
void od_gate_leave(od_reader *r);

/*
 * A write into DIR/data.mdb that failed for want of space: ENOSPC, EDQUOT,
 * EFBIG (past the file size limit; orgdird ignores SIGXFSZ), or the EIO
 * LMDB makes of a short write, which is what a disk filling up mid-write
 * gives (then only when DIR's disk has less than 1 MiB free or the file
 * is at the limit). Sets st to RESOURCE_EXHAUSTED saying what is full,
 * "WHAT: the disk holding DIR is full (N KiB free)"; false otherwise.
 */
bool od_space_status(int rc, const char *what, const char *dir, orgdir_status *st);
/* Maps an LMDB error to a status (and notes MAP_FULL on t); with t, an
 * error for want of space as od_space_status says it. */
orgdir_code od_mdb_status(od_txn *t, int rc, const char *what, orgdir_status *st);
/* units.c, for countries.c and the migration */
bool od_kind_is_office(int kind);
int od_unit_index_add(od_txn *t, const Orgdir__V1__Unit *u);
int od_unit_index_del(od_txn *t, const Orgdir__V1__Unit *u);
/* countries.c: a regional office unit is gone; forget it as a region. */
int od_countries_forget_region(od_txn *t, od_arena *a, const char *unit_id);
/* units.c: rebuilds the derived indexes (kind counts, country offices). */
int od_store_reindex(od_txn *t, od_arena *a);

/* changes.c: appends one change at the transaction's current revision.
 * before/after are packed resources (NULL = none). */
orgdir_code od_change_append(od_txn *t, od_arena *a, int type, const char *id, const od_val *before,
    const od_val *after, orgdir_status *st);

/*
 * search_*.c: the index, maintained in the records' own transactions. A
 * unit's keys are derived from its record and its depth, and a change
 * passes what the unit was: there is no stored copy of what a unit was
 * indexed under. Countries keep one (search_docs). All return 0 or an
 * LMDB/errno status.
 */
/* Indexes a new unit `depth` levels deep. */
int od_search_index_unit(od_txn *t, const Orgdir__V1__Unit *u, uint32_t depth);
/* The same in two steps, so that an import derives its new units' keys on
 * a thread of its own (derive.c): od_search_unit_keys derives them into a
 * (no transaction; any thread), od_search_put_keys writes them. */
struct entry;
/* The most memory one unit's keys may take to derive. */
#define OD_SEARCH_UNIT_SCRATCH_MAX ((size_t) 64 << 20)
typedef struct od_search_keys {
	struct entry *e;
	size_t n;
} od_search_keys;
int od_search_unit_keys(od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth, od_search_keys *k);
int od_search_put_keys(od_txn *t, const od_search_keys *k);
/* derive.c: the keys of units[0..n) at depths[0..n), derived on a thread of
 * its own, a few blocks ahead of the writer, which takes them in order with
 * od_keys_pipe_next (*out valid until the call for the unit BLOCK_UNITS
 * later). units and depths must outlive the pipe. unit_cap is the memory a
 * unit may take on average over its block (0: OD_SEARCH_UNIT_SCRATCH_MAX;
 * tests pass less). A unit whose keys fail to derive (ENOMEM past the cap)
 * fails od_keys_pipe_next at that unit, after every unit before it. NULL
 * when no thread could be started: derive in place then. */
struct od_keys_pipe;
struct od_keys_pipe *od_keys_pipe_start(
    const Orgdir__V1__Unit *const *units, const uint32_t *depths, size_t n, size_t unit_cap);
int od_keys_pipe_next(struct od_keys_pipe *p, const od_search_keys **out);
void od_keys_pipe_free(struct od_keys_pipe *p);
/* What of a unit its keys are made from, kept before an update changes
 * it (the pointers are the unit's: they must outlive the update). */
struct od_search_fields {
	const char *id;
	const char *acronym;
	size_t n_name, n_description, n_head_title;
	Orgdir__V1__LocalizedString *const *name;
	Orgdir__V1__LocalizedString *const *description;
	Orgdir__V1__LocalizedString *const *head_title;
	const char *head_name;
	bool has_head;
};
void od_search_fields_of(const Orgdir__V1__Unit *u, struct od_search_fields *f);
/* Re-indexes unit u after an update (same id and depth) from `before`,
 * its fields as they were: nothing when no indexed field changed, else
 * only the keys of the changed fields' words and names are rewritten. */
int od_search_update_unit(
    od_txn *t, const struct od_search_fields *before, const Orgdir__V1__Unit *u);
/* Removes the keys of unit u, indexed `depth` levels deep. */
int od_search_unindex_unit(od_txn *t, const Orgdir__V1__Unit *u, uint32_t depth);
/* Moves the keys of the stored unit `id` from depth `from` to `to` (its
 * record holds the same words at both). MDB_NOTFOUND: no such unit. */
int od_search_move_unit(od_txn *t, const char *id, uint32_t from, uint32_t to);
int od_search_index_country(od_txn *t, const Orgdir__V1__Country *c);
int od_search_index_countries(od_txn *t, od_arena *a);
int od_search_reindex_all(od_txn *t, od_arena *a);
/* search_write.c, for check_search.c. What unit u derives at depth, and
 * what the search_docs record `rec` of a country's doc (dl bytes)
 * derives: are those keys of `search` all stored, with their values?
 * 0, EINVAL (rec is malformed), ENOENT (a key is missing), EACCES (a key
 * holds other bytes) or an LMDB status; *n_keys = how many keys it
 * derives. */
int od_search_check_unit(
    od_txn *t, od_arena *a, const Orgdir__V1__Unit *u, uint32_t depth, size_t *n_keys);
int od_search_check_doc(od_txn *t, od_arena *a, const void *doc, size_t dl, const void *rec,
    size_t rec_len, size_t *n_keys);
/* Is this `search` key derived by its doc (the unit's record at its depth,
 * a country's search_docs record)? 0, ENOENT (no such unit or record, or
 * it does not derive the key: a stale key), EINVAL (not a key of the
 * index), EDOM (a unit whose ancestry is broken: no depth to derive at)
 * or an LMDB status; *doc / *dl (into key) name the doc unless EINVAL. */
int od_search_check_key(
    od_txn *t, od_arena *a, const void *key, size_t klen, const uint8_t **doc, size_t *dl);
/* units.c, for an import (import.c) that has checked `u` as od_unit_create
 * would (od_unit_check, its country code, a new id, its parent there
 * before it) and knows how deep it goes: creates it exactly as
 * od_unit_create would, without checking it or walking its ancestry again.
 * keys: its search keys, derived already (od_search_unit_keys), or NULL. */
orgdir_code od_unit_create_checked(od_txn *t, od_arena *a, const Orgdir__V1__Unit *u,
    uint32_t depth, const od_search_keys *keys, orgdir_status *st);
/* units.c: levels above a unit (0 for a root). */
uint32_t od_unit_depth(od_txn *t, const Orgdir__V1__Unit *u);
/* units.c: ancestors of the unit `id` (0 for a root); -1 when it does not
 * exist or its chain is broken. */
int od_unit_id_depth(od_txn *t, const char *id);
/* units.c: levels below a unit (0 for a leaf, or when it does not exist). */
uint32_t od_unit_height(od_txn *t, const char *id);

/* changes.c: the log holds every change after revision f. */
int od_changes_set_floor(od_txn *t, uint64_t f);

/*
 * env.c: every change to the store goes through these (tools/check-format.sh
 * refuses a direct mdb_put, mdb_del, mdb_cursor_put, mdb_cursor_del or
 * mdb_drop elsewhere): each counts in t->writes, which tells the writer
 * whether a failed request left changes behind (writer.c). They return an
 * LMDB status; a put that fills the map marks t.
 */
/* env.c: frees t's scratch arena, if it has one. */
void od_txn_scratch_free(od_txn *t);
int od_mdb_put(
    od_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl, unsigned flags);
/* mdb_put with MDB_vals: v->mv_data is where to write with MDB_RESERVE. */
int od_mdb_put_val(od_txn *t, MDB_dbi dbi, MDB_val *k, MDB_val *v, unsigned flags);
/* mdb_del (v NULL: every value of the key). */
int od_mdb_del(od_txn *t, MDB_dbi dbi, MDB_val *k, MDB_val *v);
int od_mdb_cursor_put(od_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, unsigned flags);
int od_mdb_cursor_del(od_txn *t, MDB_cursor *c, unsigned flags);
/* Empties dbi (mdb_drop(..., 0)). */
int od_mdb_drop(od_txn *t, MDB_dbi dbi);
/* Sets the map's size, the data file's blocks first when LMDB writes in
 * its map (env.c): 0 or an errno / LMDB error. *remapped (may be NULL):
 * whether LMDB was asked to remap; when not, the map is as it was. */
int od_env_set_mapsize(struct od_store *s, size_t size, bool *remapped);

/*
 * wal.c: the write-ahead log. od_wal_prepare (before LMDB opens the data
 * file) reads the log and, after a system restart, puts the last
 * checkpoint's meta pages back; od_wal_recover (after) applies the
 * records past what the data file holds and makes a checkpoint. Without a
 * log (s->wal NULL) every other call does nothing.
 */
#define OD_WAL_FILE "orgdird.wal"
/* A transaction whose changes take more than this is not logged. */
#define OD_WAL_CAPTURE_MAX ((size_t) 16 << 20)
orgdir_code od_wal_prepare(struct od_store *s, orgdir_status *st);
/* After open_dbs: the log names a database by its place in env.c's table. */
void od_wal_set_dbs(struct od_store *s);
/* Once, right after LMDB opened the environment and before open_dbs
 * migrates anything: checks the data file is at the log's checkpoint and
 * applies the records after it (synced by the checkpoint od_store_open makes next). */
orgdir_code od_wal_recover(struct od_store *s, orgdir_status *st);
/* env.c: the store's databases, in a fixed order (the first is `meta`). */
size_t od_db_count(void);
const char *od_db_def(size_t i, unsigned *flags);
MDB_dbi *od_db_handle(struct od_store *s, size_t i);
/* A checkpoint of the last commit (writing thread only). */
orgdir_code od_wal_checkpoint(struct od_store *s, orgdir_status *st);
/* Is a checkpoint due (idle: the writer has nothing to do; then one is due
 * whenever something was logged since the last)? */
bool od_wal_checkpoint_due(struct od_store *s, bool idle);
/* Lets go of the checkpoint's pin (before the map is set or the
 * environment closed): the next write makes a checkpoint first. */
void od_wal_unpin(struct od_store *s);
/* A last checkpoint, then the log is closed; false when there was none
 * (the log is applied again at the next start). */
bool od_wal_close(struct od_store *s);
/* --no-wal on a directory that has a log: its records were applied when
 * it opened; a checkpoint, then the log is removed and LMDB syncs its own
 * commits from now on. */
orgdir_code od_wal_retire(struct od_store *s, orgdir_status *st);
/* For od_store_write_begin: t's changes are logged from now on. */
orgdir_code od_wal_write_begin(od_txn *t, orgdir_status *st);
/* For od_txn_commit of a logged t: the record written and synced, then
 * LMDB's commit (unsynced); or, for a transaction too large for the log,
 * its commit and a checkpoint that syncs it (failing: no more writes).
 * t->txn is gone after it. */
orgdir_code od_wal_commit(od_txn *t, bool *map_full, orgdir_status *st);
/* The wrappers' hooks: od_wal_before ahead of each change (the value of
 * an MDB_RESERVE put is complete by then), od_wal_capture after one that
 * succeeded (later: v is reserved, filled by the caller next). */
void od_wal_before(od_txn *t);
/* t is not logged: committed, then a checkpoint syncs it. */
void od_wal_giveup(od_txn *t);
/* For a change captured before it is made (its bytes change with it):
 * where the record ends now, and back there when the change failed. */
size_t od_wal_mark(od_txn *t);
void od_wal_unmark(od_txn *t, size_t mark);
void od_wal_capture(od_txn *t, int op, MDB_dbi dbi, const MDB_val *k, const MDB_val *v, bool later);
enum { OD_WAL_PUT = 1, OD_WAL_DEL = 2, OD_WAL_DEL_DUP = 3, OD_WAL_DROP = 4 };

/* defer.c: puts an import holds back, then writes in key order. */
struct od_deferred;
struct od_deferred *od_deferred_new(void);
void od_deferred_free(struct od_deferred *d);
/* Puts to dbi (flags 0) are held back from now on. */
bool od_deferred_add_db(struct od_deferred *d, MDB_dbi dbi, bool dupsort);
/* For od_mdb_put: true when the put was taken (*rc its status). */
bool od_deferred_put(
    od_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl, int *rc);
/* Writes what t->deferred holds; an LMDB status. */
int od_deferred_flush(od_txn *t);

#endif
