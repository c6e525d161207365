/* store_int.h - shared internals of src/store (never included above it). */
#ifndef OD_STORE_INT_H
#define OD_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>

#include "store.h"

struct od_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi units;
	MDB_dbi children; /* parent id ("/" for roots) -> dup: sort key (be32 order ^ sign, id) */
	MDB_dbi requests; /* request id -> packed Response of its first execution */
	MDB_dbi request_log; /* be64 sequence -> request id, to prune the oldest */
	size_t map_size;
	uint32_t schema;
	/* Readers hold it shared while a snapshot is open; od_store_grow holds it
	 * exclusively to remap. Uncontended except during a grow. */
	pthread_rwlock_t gate;
	char path[4096];
};

struct od_txn {
	struct od_store *s;
	MDB_txn *txn;
	struct od_txn *parent;
	struct od_txn *child; /* batch only: the one child slot */
	bool write;
	bool map_full;
};

struct od_reader {
	struct od_store *s;
	struct od_txn t;
	bool active;
};

/* The key under which the roots are listed in the children index. */
#define OD_ROOT_KEY "/"
#define OD_SORTKEY_MAX (4 + OD_ID_MAX)

/* Maps an LMDB error to a status (and notes MAP_FULL on t). */
orgdir_code od_mdb_status(od_txn *t, int rc, const char *what, orgdir_status *st);
int od_mdb_put(
    od_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl, unsigned flags);

#endif
