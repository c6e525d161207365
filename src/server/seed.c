/* seed.c - loads an orgdir.v1.Directory JSON document into an empty store
 * at start-up (orgdird --seed), in one transaction: all of it or nothing. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "server.h"
#include "transfer.h"

/* The document is read whole (at most SEED_FILE_MAX bytes: 1,000,000
 * units of `orgbench gen` are 473 MB) and parsed into one arena, which the
 * import's own copies share: it may grow to SEED_ARENA_FACTOR times the
 * text plus SEED_ARENA_EXTRA (a parsed unit takes about as much memory as
 * its JSON; the import adds its own per unit). */
#define SEED_FILE_MAX ((size_t) 1 << 30)
#define SEED_ARENA_FACTOR 4u
#define SEED_ARENA_EXTRA ((size_t) 256 << 20)
/* Problems quoted in the start-up error; the rest are counted. */
#define SEED_PROBLEMS_SHOWN 3

/* The status of an import that found problems: how many, the first few. */
static orgdir_code
problems_status(const char *path, const od_import_result *res, orgdir_status *st)
{
	char list[ORGDIR_STATUS_MESSAGE_MAX];
	size_t used = 0;
	list[0] = '\0';
	for (size_t i = 0; i < res->n_problems && i < SEED_PROBLEMS_SHOWN && used < sizeof(list);
	     i++) {
		int n = snprintf(list + used, sizeof(list) - used, "; %s: %s",
		    res->problems[i]->path, res->problems[i]->message);
		used += n > 0 ? (size_t) n : 0;
	}
	return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s: %zu problem(s), nothing loaded%s",
	    path, res->n_problems, list);
}

/* One try at the import in a transaction of its own: *again when the map
 * was full and has grown, *loaded once the document is committed. */
static orgdir_code
seed_once(struct od_store *store, const char *path, size_t text_len, od_arena *arena,
    Orgdir__V1__Directory *dir, bool *again, bool *loaded, orgdir_status *st)
{
	od_txn *t;
	orgdir_code c;
	od_import_result res;
	*again = false;
	*loaded = false;
	if ((c = od_store_write_begin(store, &t, st)) != ORGDIR_OK) {
		return c;
	}
	od_txn_set_actor(t, "seed", "Seed");
	if (od_store_unit_count(t) != 0) {
		od_txn_abort(t);
		od_log("info", "--seed %s ignored: the store already holds units", path);
		return ORGDIR_OK;
	}
	/* The text is larger than the packed document the estimate is for:
	 * a generous reservation, of address space only. */
	c = od_import_reserve(t, text_len, st);
	if (c == ORGDIR_OK) {
		c = od_import(t, arena, dir, false, false, &res, st);
	}
	if (c == ORGDIR_OK && res.n_problems > 0) {
		od_txn_abort(t);
		return problems_status(path, &res, st);
	}
	if (c == ORGDIR_OK) {
		bool map_full = false;
		c = od_txn_commit(t, &map_full, st);
		if (map_full) {
			*again = od_store_grow(store, st) == ORGDIR_OK;
		}
		*loaded = c == ORGDIR_OK;
		return c;
	}
	bool full = od_txn_map_full(t);
	od_txn_abort(t);
	*again = full && od_store_grow(store, st) == ORGDIR_OK;
	return c;
}

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
	uint64_t t0 = od_mono_ms();
	od_arena arena;
	od_arena_init(&arena, len * SEED_ARENA_FACTOR + SEED_ARENA_EXTRA);
	char err[256];
	Orgdir__V1__Directory *dir = (Orgdir__V1__Directory *) od_pbjson_parse(
	    &orgdir__v1__directory__descriptor, text, len, &arena.pb, err, sizeof(err));
	free(text);
	if (dir == NULL) {
		od_arena_destroy(&arena);
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s: %s", path, err);
	}
	/* The same checks and writes as ImportDirectory (od_import): every
	 * problem found before anything is written, the document's times
	 * kept, all at one revision. */
	orgdir_code c = ORGDIR_OK;
	bool again = true, loaded = false;
	for (int attempt = 0; again && attempt < 8; attempt++) {
		c = seed_once(store, path, len, &arena, dir, &again, &loaded, st);
	}
	if (loaded) {
		od_log("info", "seeded %zu units and %zu countries from %s in %llu ms",
		    dir->n_units, dir->n_countries, path, (unsigned long long) (od_mono_ms() - t0));
	}
	od_arena_destroy(&arena);
	/* The document's memory goes back to the system, not to glibc's heap. */
	malloc_trim(0);
	return c;
}
