/*
 * test_subtree.c - whole-tree GetSubtree replies large enough (over 256 KiB)
 * to be built in the server's one spare reply buffer (server.c,
 * od_call_reserve_reply), which moves between contexts: again and again,
 * between small calls and calls refused for size, and from several clients
 * at once. Every reply must be exactly the tree, and the server must stop
 * cleanly (under the sanitizers: no leak of the spare buffer).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

#define N_UNITS 1500 /* ~540 KB reserved for the whole tree (360 bytes a unit) */
#define FANOUT 8
#define ROUNDS 12
#define N_THREADS 6

static od_test_server srv;
static char *seed_dir;
/* The tree as the first call returned it; read-only once set. */
static orgdir_reply *ref_reply;
static Orgdir__V1__GetSubtreeResponse *ref;

static void
unit_id(char *out, size_t cap, unsigned i)
{
	snprintf(out, cap, "s%u", i);
}

/* A Directory document: s0, and below it every unit i under (i - 1) / FANOUT. */
static char *
write_seed(void)
{
	seed_dir = test_mkdtemp("subtree");
	size_t len = strlen(seed_dir) + sizeof("/org.json");
	char *path = malloc(len);
	assert_non_null(path);
	snprintf(path, len, "%s/org.json", seed_dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"units\": [\n", f);
	for (unsigned i = 0; i < N_UNITS; i++) {
		char id[16], parent[16];
		unit_id(id, sizeof(id), i);
		unit_id(parent, sizeof(parent), i == 0 ? 0 : (i - 1) / FANOUT);
		fprintf(f,
		    "%s{\"id\": \"%s\", \"kind\": \"%s\", %s%s%s\"sortOrder\": %u, "
		    "\"name\": [{\"lang\": \"en\", \"text\": \"Unit %s of the subtree test\"}, "
		    "{\"lang\": \"fr\", \"text\": \"Unité %s de l'essai\"}]}\n",
		    i > 0 ? "," : "", id, i == 0 ? "ORGANIZATION" : "DEPARTMENT",
		    i > 0 ? "\"parentId\": \"" : "", i > 0 ? parent : "", i > 0 ? "\", " : "",
		    i % 7, id, id);
	}
	fputs("]}\n", f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int
group_setup(void **state)
{
	(void) state;
	char *seed = write_seed();
	const char *args[] = {"--seed", seed, NULL};
	od_test_server_start(&srv, args);
	free(seed);
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	assert_int_equal(orgdir_unit_subtree(c, NULL, 0, &ref_reply, &ref, &st), ORGDIR_OK);
	assert_int_equal(ref->n_nodes, N_UNITS);
	orgdir_client_close(c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void) state;
	orgdir_reply_free(ref_reply);
	od_test_server_kill(&srv); /* when a test failed before the stop */
	od_test_server_cleanup(&srv);
	test_rmtree(seed_dir);
	free(seed_dir);
	return 0;
}

/* True when t is the reference tree: same nodes, depths and etags, in order. */
static bool
same_tree(const Orgdir__V1__GetSubtreeResponse *t)
{
	if (t->n_nodes != ref->n_nodes) {
		return false;
	}
	for (size_t i = 0; i < t->n_nodes; i++) {
		const Orgdir__V1__SubtreeNode *a = t->nodes[i], *b = ref->nodes[i];
		if (a->unit == NULL || a->depth != b->depth ||
		    strcmp(a->unit->id, b->unit->id) != 0 ||
		    strcmp(a->unit->etag, b->unit->etag) != 0) {
			return false;
		}
	}
	return true;
}

/* One round: the whole tree, a small call, a small subtree. False on any
 * unexpected answer. */
static bool
round_trip(orgdir_client *c, unsigned n)
{
	orgdir_status st;
	orgdir_reply *r = NULL;
	Orgdir__V1__GetSubtreeResponse *t;
	bool ok = orgdir_unit_subtree(c, NULL, 0, &r, &t, &st) == ORGDIR_OK && same_tree(t);
	orgdir_reply_free(r);
	char id[16];
	unit_id(id, sizeof(id), n % N_UNITS);
	Orgdir__V1__Unit *u;
	ok = ok && orgdir_unit_get(c, id, &r, &u, &st) == ORGDIR_OK && strcmp(u->id, id) == 0;
	orgdir_reply_free(r);
	r = NULL;
	ok = ok && orgdir_unit_subtree(c, "s1", 1, &r, &t, &st) == ORGDIR_OK &&
	    t->n_nodes == FANOUT + 1;
	orgdir_reply_free(r);
	return ok;
}

static void
test_whole_tree_again_and_again(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_options small = {.timeout_ms = 5000, .max_message_bytes = 64 << 10};
	orgdir_client *tiny = od_test_client(&srv, &small);
	for (unsigned i = 0; i < ROUNDS; i++) {
		assert_true(round_trip(c, i));
		/* Refused for size after the spare buffer was taken: it still goes
		 * back, and the next whole tree is still exact. */
		orgdir_status st;
		orgdir_reply *r;
		Orgdir__V1__GetSubtreeResponse *t;
		assert_int_equal(
		    orgdir_unit_subtree(tiny, NULL, 0, &r, &t, &st), ORGDIR_RESOURCE_EXHAUSTED);
	}
	orgdir_client_close(tiny);
	orgdir_client_close(c);
}

struct reader {
	unsigned n;
	atomic_int *bad;
};

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	orgdir_client *c = od_test_client(&srv, NULL);
	for (unsigned i = 0; i < ROUNDS; i++) {
		if (!round_trip(c, rd->n * ROUNDS + i)) {
			atomic_fetch_add(rd->bad, 1);
		}
	}
	orgdir_client_close(c);
	return NULL;
}

/* Several whole trees in flight at once: one is built in the spare buffer,
 * the others in buffers of their own; no reply may show another's bytes. */
static void
test_whole_tree_concurrent(void **state)
{
	(void) state;
	atomic_int bad = 0;
	struct reader rd[N_THREADS];
	pthread_t th[N_THREADS];
	for (unsigned i = 0; i < N_THREADS; i++) {
		rd[i] = (struct reader){i, &bad};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	for (unsigned i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(atomic_load(&bad), 0);
}

/* Last: the server frees the spare buffer on the way out. Here, not in the
 * group teardown, so that a failure names what broke. */
static void
test_stops_cleanly(void **state)
{
	(void) state;
	/* 0: a clean exit, which under ASan includes no leak report. */
	assert_int_equal(od_test_server_stop(&srv), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_tree_again_and_again),
	    cmocka_unit_test(test_whole_tree_concurrent),
	    cmocka_unit_test(test_stops_cleanly),
	};
	return test_run_group(tests, group_setup, group_teardown);
}
