/*
 * test_soak.c - a short soak: one orgdird, 8 reader threads and 3 writer
 * threads through liborgdir for ORGDIR_SOAK_SECONDS (default 5) on a
 * 500-unit tree. Fails on any status but the expected ones, on memory
 * growth of the server past a bound, and when the store is not consistent
 * afterwards (od_store_check on the data directory).
 *
 * Readers: GetUnit, ListUnits (two pages), GetSubtree, GetAncestors of the
 * fixed tree (must be OK), and now and then of a unit the writers create
 * and delete (OK or NOT_FOUND: a racing delete).
 * Writers: UpdateUnit with the etag just read on a hot set of 8 units,
 * changing name and sort order (OK or ABORTED: another writer got there
 * first); CreateUnit, UpdateUnit with etag (kind and country: the derived
 * indexes change), MoveUnit with etag and DeleteUnit with etag of their
 * own office units (always OK: nobody else writes them).
 * Longer soaks: ORGDIR_SOAK_SECONDS=600 ctest -R test_soak, or orgbench.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "harness.h"
#include "iso3166.h"
#include "od.h"
#include "testutil.h"

#define N_UNITS 500
#define FANOUT 8
#define N_HOT 8
#define HOT_FIRST 100 /* u100 ... u107 */
#define N_READERS 8
#define N_WRITERS 3
#define OWN_MAX 64 /* live units per writer at most */
#define FAILS_KEPT 8

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SOAK_SANITIZED 1
#endif
#endif
#ifndef SOAK_SANITIZED
#define SOAK_SANITIZED 0
#endif

enum op {
	OP_GET,
	OP_LIST,
	OP_SUBTREE,
	OP_ANCESTORS,
	OP_HOT_UPDATE,
	OP_CREATE,
	OP_OWN_UPDATE,
	OP_MOVE,
	OP_DELETE,
	OP_N
};
static const char *const op_name[OP_N] = {"GetUnit", "ListUnits", "GetSubtree", "GetAncestors",
    "UpdateUnit(hot)", "CreateUnit", "UpdateUnit(own)", "MoveUnit", "DeleteUnit"};

static od_test_server srv;

static struct {
	atomic_bool stop;
	atomic_uint_fast64_t calls[OP_N];
	atomic_uint_fast64_t aborted;
	atomic_uint_fast64_t not_found;
	atomic_uint_fast64_t failures;
	pthread_mutex_t lock;
	char fail[FAILS_KEPT][ORGDIR_STATUS_MESSAGE_MAX + 64];
	size_t n_fail;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
failure(enum op op, const char *what, const orgdir_status *st)
{
	atomic_fetch_add(&g.failures, 1);
	pthread_mutex_lock(&g.lock);
	if (g.n_fail < FAILS_KEPT) {
		snprintf(g.fail[g.n_fail++], sizeof(g.fail[0]), "%s %s: %s: %s", op_name[op], what,
		    orgdir_code_name(st->code), st->message);
	}
	pthread_mutex_unlock(&g.lock);
}

/* Counts a call and judges its status: OK always; ABORTED and NOT_FOUND
 * only where the caller says a race explains them. */
static void
judge(enum op op, const char *what, orgdir_code c, const orgdir_status *st, bool may_abort,
    bool may_vanish)
{
	atomic_fetch_add(&g.calls[op], 1);
	if (c == ORGDIR_OK) {
		return;
	}
	if (c == ORGDIR_ABORTED && may_abort) {
		atomic_fetch_add(&g.aborted, 1);
		return;
	}
	if (c == ORGDIR_NOT_FOUND && may_vanish) {
		atomic_fetch_add(&g.not_found, 1);
		return;
	}
	failure(op, what, st);
}

static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t) (*s >> 11);
}

static void
unit_id(char *out, size_t cap, unsigned i)
{
	snprintf(out, cap, "u%03u", i);
}

static Orgdir__V1__Unit
make_unit(const char *id, const char *parent, const char *name, int32_t order,
    Orgdir__V1__LocalizedString *ls, Orgdir__V1__LocalizedString **lsp)
{
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	orgdir__v1__localized_string__init(ls);
	ls->lang = "en";
	ls->text = (char *) name;
	lsp[0] = ls;
	u.id = (char *) id;
	u.parent_id = (char *) parent;
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	u.name = lsp;
	u.n_name = 1;
	u.sort_order = order;
	return u;
}

/* --- readers ------------------------------------------------------------------------ */

struct reader {
	int n;
	orgdir_client *c;
};

/* A unit a writer may have created or deleted by now. */
static void
writer_id(char *out, size_t cap, uint64_t *seed)
{
	snprintf(out, cap, "w%u-%u", rnd(seed) % N_WRITERS, rnd(seed) % 1000);
}

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t) (r->n + 1);
	char id[32];
	while (!atomic_load(&g.stop)) {
		orgdir_status st;
		orgdir_reply *rep = NULL;
		bool racing = rnd(&seed) % 8 == 0;
		if (racing) {
			writer_id(id, sizeof(id), &seed);
		} else {
			unit_id(id, sizeof(id), rnd(&seed) % N_UNITS);
		}
		switch (rnd(&seed) % 4) {
		case 0: {
			Orgdir__V1__Unit *u;
			orgdir_code c = orgdir_unit_get(r->c, id, &rep, &u, &st);
			judge(OP_GET, id, c, &st, false, racing);
			if (c == ORGDIR_OK && strcmp(u->id, id) != 0) {
				failure(
				    OP_GET, id, &(orgdir_status){ORGDIR_INTERNAL, "wrong unit", 0});
			}
			break;
		}
		case 1: {
			Orgdir__V1__ListUnitsResponse *l;
			int size = (int) (rnd(&seed) % 6);
			orgdir_code c = orgdir_unit_list(r->c, id, size, "", &rep, &l, &st);
			judge(OP_LIST, id, c, &st, false, racing);
			if (c == ORGDIR_OK && l->next_page_token[0] != '\0') {
				orgdir_reply *rep2 = NULL;
				Orgdir__V1__ListUnitsResponse *l2;
				c = orgdir_unit_list(
				    r->c, id, size, l->next_page_token, &rep2, &l2, &st);
				judge(OP_LIST, id, c, &st, false, racing);
				orgdir_reply_free(rep2);
			}
			break;
		}
		case 2: {
			Orgdir__V1__GetSubtreeResponse *t;
			bool whole = rnd(&seed) % 16 == 0;
			int depth = whole ? 0 : (int) (rnd(&seed) % 4);
			orgdir_code c =
			    orgdir_unit_subtree(r->c, whole ? "" : id, depth, &rep, &t, &st);
			judge(OP_SUBTREE, whole ? "(all)" : id, c, &st, false, racing && !whole);
			if (c == ORGDIR_OK && whole && t->n_nodes < N_UNITS) {
				failure(OP_SUBTREE, "(all)",
				    &(orgdir_status){ORGDIR_INTERNAL, "fewer nodes than units", 0});
			}
			break;
		}
		default: {
			Orgdir__V1__GetAncestorsResponse *a;
			orgdir_code c = orgdir_unit_ancestors(r->c, id, &rep, &a, &st);
			judge(OP_ANCESTORS, id, c, &st, false, racing);
			break;
		}
		}
		orgdir_reply_free(rep);
	}
	return NULL;
}

/* --- writers ---------------------------------------------------------------------- */

/* Own units are offices in a country, re-placed by updates, so the kind
 * counts and the country office index change under load too. */
static void
place_office(Orgdir__V1__Unit *u, Orgdir__V1__Location *loc, uint64_t *seed)
{
	static const char *const cc[] = {"KE", "FR", "CH", "TH", "PE"};
	static const int kinds[] = {ORGDIR__V1__UNIT__KIND__COUNTRY_OFFICE,
	    ORGDIR__V1__UNIT__KIND__SUB_OFFICE, ORGDIR__V1__UNIT__KIND__LIAISON_OFFICE,
	    ORGDIR__V1__UNIT__KIND__OFFICE};
	orgdir__v1__location__init(loc);
	loc->country_code = (char *) cc[rnd(seed) % OD_ARRAY_LEN(cc)];
	u->location = loc;
	u->kind = kinds[rnd(seed) % OD_ARRAY_LEN(kinds)];
}

struct own {
	char id[32];
	char etag[32];
};

struct writer {
	int n;
	orgdir_client *c;
	struct own live[OWN_MAX];
	size_t n_live;
	unsigned next;
};

static void
hot_update(struct writer *w, uint64_t *seed)
{
	char id[16];
	char name[64];
	orgdir_status st;
	orgdir_reply *rep = NULL, *rep2 = NULL;
	Orgdir__V1__Unit *cur, *out;
	unit_id(id, sizeof(id), HOT_FIRST + rnd(seed) % N_HOT);
	orgdir_code c = orgdir_unit_get(w->c, id, &rep, &cur, &st);
	judge(OP_GET, id, c, &st, false, false);
	if (c != ORGDIR_OK) {
		return;
	}
	Orgdir__V1__LocalizedString ls, *lsp[1];
	snprintf(name, sizeof(name), "hot %s by w%d #%u", id, w->n, rnd(seed) % 1000);
	Orgdir__V1__Unit u = make_unit(id, "", name, (int32_t) (rnd(seed) % 64) - 32, &ls, lsp);
	u.etag = cur->etag;
	static const char *const mask[] = {"name", "sort_order"};
	c = orgdir_unit_update(w->c, &u, mask, 2, &rep2, &out, &st);
	judge(OP_HOT_UPDATE, id, c, &st, true, false);
	orgdir_reply_free(rep);
	orgdir_reply_free(rep2);
}

static void
own_create(struct writer *w, uint64_t *seed)
{
	char parent[16];
	orgdir_status st;
	orgdir_reply *rep = NULL;
	Orgdir__V1__Unit *out;
	struct own *o = &w->live[w->n_live];
	snprintf(o->id, sizeof(o->id), "w%d-%u", w->n, w->next++); /* never reused */
	unit_id(parent, sizeof(parent), rnd(seed) % N_UNITS);
	Orgdir__V1__LocalizedString ls, *lsp[1];
	Orgdir__V1__Unit u = make_unit(o->id, parent, o->id, (int32_t) (rnd(seed) % 10), &ls, lsp);
	Orgdir__V1__Location loc;
	place_office(&u, &loc, seed);
	orgdir_code c = orgdir_unit_create(w->c, &u, &rep, &out, &st);
	judge(OP_CREATE, o->id, c, &st, false, false);
	if (c == ORGDIR_OK) {
		od_strlcpy(o->etag, out->etag, sizeof(o->etag));
		w->n_live++;
	}
	orgdir_reply_free(rep);
}

static void
own_update(struct writer *w, struct own *o, uint64_t *seed)
{
	orgdir_status st;
	orgdir_reply *rep = NULL;
	Orgdir__V1__Unit *out;
	Orgdir__V1__LocalizedString ls, *lsp[1];
	Orgdir__V1__Unit u = make_unit(o->id, "", "renamed", 0, &ls, lsp);
	Orgdir__V1__Location loc;
	place_office(&u, &loc, seed);
	u.etag = o->etag;
	static const char *const mask[] = {"name", "kind", "location"};
	orgdir_code c = orgdir_unit_update(w->c, &u, mask, 3, &rep, &out, &st);
	judge(OP_OWN_UPDATE, o->id, c, &st, false, false);
	if (c == ORGDIR_OK) {
		od_strlcpy(o->etag, out->etag, sizeof(o->etag));
	}
	orgdir_reply_free(rep);
}

static void
own_move(struct writer *w, struct own *o, uint64_t *seed)
{
	char parent[16];
	orgdir_status st;
	orgdir_reply *rep = NULL;
	Orgdir__V1__Unit *out;
	unit_id(parent, sizeof(parent), rnd(seed) % N_UNITS);
	orgdir_code c = orgdir_unit_move(w->c, o->id, parent, o->etag, &rep, &out, &st);
	judge(OP_MOVE, o->id, c, &st, false, false);
	if (c == ORGDIR_OK) {
		od_strlcpy(o->etag, out->etag, sizeof(o->etag));
	}
	orgdir_reply_free(rep);
}

static void
own_delete(struct writer *w, size_t i)
{
	orgdir_status st;
	uint32_t n = 0;
	struct own *o = &w->live[i];
	orgdir_code c = orgdir_unit_delete(w->c, o->id, 0, o->etag, &n, &st);
	judge(OP_DELETE, o->id, c, &st, false, false);
	if (c == ORGDIR_OK) {
		if (n != 1) {
			failure(OP_DELETE, o->id,
			    &(orgdir_status){ORGDIR_INTERNAL, "deleted_count is not 1", 0});
		}
		w->live[i] = w->live[--w->n_live];
	}
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t seed = 0xD1B54A32D192ED03ull * (uint64_t) (w->n + 1);
	while (!atomic_load(&g.stop)) {
		uint32_t r = rnd(&seed) % 8;
		if (r < 4) {
			hot_update(w, &seed);
		} else if (w->n_live == 0 || (r == 4 && w->n_live < OWN_MAX)) {
			own_create(w, &seed);
		} else if (r == 5) {
			own_update(w, &w->live[rnd(&seed) % w->n_live], &seed);
		} else if (r == 6) {
			own_move(w, &w->live[rnd(&seed) % w->n_live], &seed);
		} else {
			own_delete(w, rnd(&seed) % w->n_live);
		}
	}
	return NULL;
}

/* --- the server's memory ------------------------------------------------------------- */

struct mem {
	long vm; /* VmRSS of the server, KiB */
	long anon; /* RssAnon of the server, KiB */
	long file; /* size of the data file, KiB */
};

static struct mem
server_mem(void)
{
	char path[600], line[256];
	struct mem m = {-1, -1, -1};
	struct stat sb;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long) srv.pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmRSS: %ld", &m.vm);
		sscanf(line, "RssAnon: %ld", &m.anon);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/data.mdb", srv.data);
	assert_int_equal(stat(path, &sb), 0);
	m.file = (long) (sb.st_size / 1024);
	assert_true(m.vm > 0 && m.anon > 0);
	return m;
}

static void
sleep_until(uint64_t deadline_ms)
{
	for (uint64_t now = od_mono_ms(); now < deadline_ms; now = od_mono_ms()) {
		uint64_t left = deadline_ms - now;
		struct timespec ts = {(time_t) (left / 1000), (long) (left % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* --- the test ---------------------------------------------------------------------------- */

static void
build_tree(orgdir_client *c)
{
	char id[16], parent[16];
	for (unsigned i = 0; i < N_UNITS; i++) {
		orgdir_status st;
		orgdir_reply *rep = NULL;
		Orgdir__V1__Unit *out;
		Orgdir__V1__LocalizedString ls, *lsp[1];
		unit_id(id, sizeof(id), i);
		if (i > 0) {
			unit_id(parent, sizeof(parent), (i - 1) / FANOUT);
		}
		Orgdir__V1__Unit u =
		    make_unit(id, i > 0 ? parent : "", id, (int32_t) (i % 5), &ls, lsp);
		orgdir_code code = orgdir_unit_create(c, &u, &rep, &out, &st);
		if (code != ORGDIR_OK) {
			fail_msg("create %s: %s", id, st.message);
		}
		orgdir_reply_free(rep);
	}
}

static void
test_soak(void **state)
{
	(void) state;
	const char *env = getenv("ORGDIR_SOAK_SECONDS");
	long secs = env != NULL ? strtol(env, NULL, 10) : 5;
	if (secs <= 0) {
		secs = 5;
	}
	od_test_server_start(&srv, NULL);
	orgdir_client *setup = od_test_client(&srv, NULL);
	build_tree(setup);
	orgdir_client_close(setup);

	struct reader readers[N_READERS];
	struct writer *writers = calloc(N_WRITERS, sizeof(*writers));
	pthread_t rt[N_READERS], wt[N_WRITERS];
	for (int i = 0; i < N_READERS; i++) {
		readers[i].n = i;
		readers[i].c = od_test_client(&srv, NULL);
		assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &readers[i]), 0);
	}
	for (int i = 0; i < N_WRITERS; i++) {
		writers[i].n = i;
		writers[i].c = od_test_client(&srv, NULL);
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &writers[i]), 0);
	}
	uint64_t t0 = od_mono_ms();
	sleep_until(t0 + (uint64_t) secs * 1000 / 3);
	struct mem m1 = server_mem();
	sleep_until(t0 + (uint64_t) secs * 1000);
	struct mem m2 = server_mem();
	atomic_store(&g.stop, true);
	for (int i = 0; i < N_READERS; i++) {
		pthread_join(rt[i], NULL);
		orgdir_client_close(readers[i].c);
	}
	size_t live = 0;
	for (int i = 0; i < N_WRITERS; i++) {
		pthread_join(wt[i], NULL);
		orgdir_client_close(writers[i].c);
		live += writers[i].n_live;
	}
	double elapsed = (double) (od_mono_ms() - t0) / 1000.0;

	uint64_t total = 0;
	for (int op = 0; op < OP_N; op++) {
		total += g.calls[op];
		print_message("soak: %-16s %8" PRIu64 "\n", op_name[op], (uint64_t) g.calls[op]);
	}
	print_message("soak: %" PRIu64 " calls in %.1f s (%.0f/s); %" PRIu64
	              " ABORTED (expected), %" PRIu64 " NOT_FOUND (racing deletes), %" PRIu64
	              " failures\n",
	    total, elapsed, (double) total / elapsed, (uint64_t) g.aborted, (uint64_t) g.not_found,
	    (uint64_t) g.failures);
	print_message("soak: server VmRSS %ld -> %ld KiB, RssAnon %ld -> %ld KiB, data file %ld -> "
	              "%ld KiB (at 1/3 and at the end)\n",
	    m1.vm, m2.vm, m1.anon, m2.anon, m1.file, m2.file);
	for (size_t i = 0; i < g.n_fail; i++) {
		print_message("soak: failure: %s\n", g.fail[i]);
	}
	assert_int_equal(g.failures, 0);
	for (int op = 0; op < OP_N; op++) {
		assert_true(g.calls[op] > 0); /* every kind of call was made */
	}
	/*
	 * Memory bound, from 1/3 of the run to its end. By the first third
	 * every context has served every kind of call thousands of times, so
	 * its arena and reply buffer are at their steady size (an arena keeps
	 * one chunk across resets and frees the rest), as are the writer's
	 * batch and LMDB's page lists. So the heap (RssAnon) may grow only by
	 * malloc's per-thread caches settling: 4 MiB. At the thousands of calls
	 * per second seen here, a leak of 100 bytes per call over the last two
	 * thirds of even the default 5 s run exceeds it (30 s runs measured
	 * +0.1 MiB). The rest of VmRSS is the data file mapped by LMDB: it
	 * grows with what is written (revisions, change and request logs), so
	 * its bound is the data file's growth plus the same 4 MiB.
	 * Under AddressSanitizer freed memory sits in a quarantine of up to
	 * 256 MiB, so the heap grows by design: LeakSanitizer judges leaks there.
	 * ThreadSanitizer's shadow and history grow the same way.
	 */
	long anon_bound = 4096;
	long vm_bound = anon_bound + (m2.file - m1.file) + 4096;
	if (SOAK_SANITIZED) {
		print_message("soak: sanitizer build: memory bound not checked\n");
	} else if (m2.anon - m1.anon > anon_bound || m2.vm - m1.vm > vm_bound) {
		fail_msg(
		    "server memory grew: RssAnon +%ld KiB (bound %ld), VmRSS +%ld KiB (bound %ld)",
		    m2.anon - m1.anon, anon_bound, m2.vm - m1.vm, vm_bound);
	}

	assert_int_equal(od_test_server_stop(&srv), 0);

	/* The store afterwards: consistent, and holding exactly the units the
	 * writers saw acknowledged. */
	od_iso3166 *iso = NULL;
	struct od_store *s;
	orgdir_status st;
	od_check_report *rep = calloc(1, sizeof(*rep));
	assert_int_equal(od_iso3166_load(NULL, NULL, &iso, &st), ORGDIR_OK);
	od_store_opts o = {.path = srv.data, .iso = iso};
	assert_int_equal(od_store_open(&o, &s, &st), ORGDIR_OK);
	orgdir_code c = od_store_check(s, rep, &st);
	od_check_report_print(rep, stdout);
	assert_int_equal(c, ORGDIR_OK);
	assert_int_equal(rep->units, N_UNITS + live);
	od_store_close(s);
	od_iso3166_free(iso);
	free(rep);
	free(writers);
	od_test_server_cleanup(&srv);
}

/* A failed assertion leaves the server running: stop it here. */
static int
teardown(void **state)
{
	(void) state;
	od_test_server_cleanup(&srv);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_soak, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
