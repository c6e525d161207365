/* seed.c - loads an orgdir.v1.Directory JSON document into an empty store
 * at start-up (orgdird --seed), in one transaction: all of it or nothing. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "server.h"

/* The Directory and what its units and countries become are allocated from
 * one arena of SEED_ARENA_MAX bytes; a document larger than SEED_FILE_MAX
 * could not fit it anyway. */
#define SEED_ARENA_MAX ((size_t) 1 << 30)
#define SEED_FILE_MAX ((size_t) 1 << 29)

orgdir_code
od_seed_load(struct od_store *store, const char *path, orgdir_status *st)
{
	/* Check first: a store that holds units ignores --seed, unread. */
	od_txn *probe;
	orgdir_code pc = od_store_write_begin(store, &probe, st);
	if (pc != ORGDIR_OK) {
		return pc;
	}
	uint64_t have = od_store_unit_count(probe);
	od_txn_abort(probe);
	if (have != 0) {
		od_log("info", "--seed %s ignored: the store already holds units", path);
		return ORGDIR_OK;
	}
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "unable to open %s: %s", path, strerror(errno));
	}
	char *text;
	size_t len;
	int e = od_read_all(f, SEED_FILE_MAX, &text, &len);
	fclose(f);
	if (e != 0) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "unable to read %s: %s", path, strerror(e));
	}
	od_arena arena;
	od_arena_init(&arena, SEED_ARENA_MAX);
	char err[256];
	Orgdir__V1__Directory *dir = (Orgdir__V1__Directory *) od_pbjson_parse(
	    &orgdir__v1__directory__descriptor, text, len, &arena.pb, err, sizeof(err));
	free(text);
	if (dir == NULL) {
		od_arena_destroy(&arena);
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s: %s", path, err);
	}
	orgdir_code c;
	for (int attempt = 0; attempt < 8; attempt++) {
		od_txn *t;
		if ((c = od_store_write_begin(store, &t, st)) != ORGDIR_OK) {
			break;
		}
		od_txn_set_actor(t, "seed", "Seed");
		if (od_store_unit_count(t) != 0) {
			od_txn_abort(t);
			od_log("info", "--seed %s ignored: the store already holds units", path);
			c = ORGDIR_OK;
			break;
		}
		for (size_t i = 0; i < dir->n_units; i++) {
			if ((c = od_unit_create(t, &arena, dir->units[i], NULL, st)) != ORGDIR_OK) {
				orgdir_status inner = *st;
				od_status_set(st, c, "%s: units[%zu]: %s", path, i, inner.message);
				break;
			}
		}
		for (size_t i = 0; c == ORGDIR_OK && i < dir->n_countries; i++) {
			Orgdir__V1__Country *out;
			if ((c = od_country_update(t, &arena, dir->countries[i], NULL, &out, st)) !=
			    ORGDIR_OK) {
				orgdir_status inner = *st;
				od_status_set(
				    st, c, "%s: countries[%zu]: %s", path, i, inner.message);
			}
		}
		if (c != ORGDIR_OK) {
			bool full = od_txn_map_full(t);
			od_txn_abort(t);
			if (full && od_store_grow(store, st) == ORGDIR_OK) {
				continue;
			}
			break;
		}
		c = od_txn_commit(t, st);
		if (c == ORGDIR_RESOURCE_EXHAUSTED && od_store_grow(store, st) == ORGDIR_OK) {
			continue;
		}
		if (c == ORGDIR_OK) {
			od_log("info", "seeded %zu units and %zu countries from %s", dir->n_units,
			    dir->n_countries, path);
		}
		break;
	}
	od_arena_destroy(&arena);
	/* The document's memory goes back to the system, not to glibc's heap. */
	malloc_trim(0);
	return c;
}
