/*
 * test_crash.c - crash safety: orgdird is killed with SIGKILL at random
 * moments while 4 clients write, many times over on the same data
 * directory. After each kill, `orgdird --check` must find the store
 * consistent, and every write a client saw acknowledged must be there.
 * (ORGDIR_CRASH_ROUNDS, default 12.) Every other round the kill is
 * followed by the loss of data.mdb's meta pages, as a system crash could
 * leave them: the write-ahead log brings it all back. And a call waiting on a server that
 * is killed fails once the client has had no connection for reconnect_ms,
 * not after its whole timeout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <nng/nng.h>

#include "harness.h"
#include "od.h"
#include "testutil.h"

#define WRITERS 4
#define ACKED_MAX 200000

static od_test_server srv;
static char (*acked)[40];
static size_t n_acked;
static pthread_mutex_t acked_mu = PTHREAD_MUTEX_INITIALIZER;

struct writer {
	int round, index;
	int ok;
};

/* Creates a root unit named `name` (English) on s, through its own client. */
static void
create_root(od_test_server *s, const char *id, const char *name)
{
	orgdir_client *c = od_test_client(s, NULL);
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	n.lang = "en";
	n.text = (char *) name;
	u.id = (char *) id;
	u.kind = ORGDIR__V1__UNIT__KIND__ORGANIZATION;
	u.name = names;
	u.n_name = 1;
	orgdir_reply *r;
	Orgdir__V1__Unit *out;
	orgdir_status st;
	assert_int_equal(orgdir_unit_create(c, &u, &r, &out, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

/* The server's log so far, NUL-terminated (the caller frees it). */
static char *
server_log(const od_test_server *s)
{
	char *log = NULL;
	size_t len = 0;
	FILE *lf = fopen(s->log, "rb");
	assert_non_null(lf);
	assert_int_equal(od_read_all(lf, (size_t) 64 << 20, &log, &len), 0);
	fclose(lf);
	char *z = realloc(log, len + 1); /* od_read_all's bytes end at len */
	assert_non_null(z);
	z[len] = '\0';
	return z;
}

static void *
writer_main(void *p)
{
	struct writer *w = p;
	orgdir_options o = {.timeout_ms = 1500};
	orgdir_client *c = od_test_client(&srv, &o);
	char id[40];
	for (int i = 0;; i++) {
		Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
		Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
		Orgdir__V1__LocalizedString *names[] = {&n};
		snprintf(id, sizeof(id), "k%d-w%d-%d", w->round, w->index, i);
		n.lang = "en";
		n.text = id;
		u.id = id;
		u.parent_id = "crash-root";
		u.kind = ORGDIR__V1__UNIT__KIND__UNIT;
		u.name = names;
		u.n_name = 1;
		orgdir_reply *r;
		Orgdir__V1__Unit *out;
		orgdir_status st;
		if (orgdir_unit_create(c, &u, &r, &out, &st) != ORGDIR_OK) {
			break; /* the server is gone */
		}
		orgdir_reply_free(r);
		pthread_mutex_lock(&acked_mu);
		if (n_acked < ACKED_MAX) {
			od_strlcpy(acked[n_acked++], id, sizeof(acked[0]));
		}
		pthread_mutex_unlock(&acked_mu);
		w->ok++;
	}
	orgdir_client_close(c);
	return NULL;
}

static int
run_check(void)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "'%s' --check --data '%s' >>'%s' 2>&1", getenv("ORGDIRD"),
	    srv.data, srv.log);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Zeroes data.mdb's first two pages, LMDB's meta pages. */
static void
lose_meta_pages(void)
{
	char file[1100];
	snprintf(file, sizeof(file), "%s/data.mdb", srv.data);
	FILE *f = fopen(file, "r+b");
	assert_non_null(f);
	static const char zero[8192];
	assert_int_equal(fwrite(zero, 1, sizeof(zero), f), sizeof(zero));
	assert_int_equal(fclose(f), 0);
}

static void
test_sigkill_during_writes(void **state)
{
	(void) state;
	const char *env = getenv("ORGDIR_CRASH_ROUNDS");
	int rounds = env != NULL ? (int) strtol(env, NULL, 10) : 12;
	acked = calloc(ACKED_MAX, sizeof(*acked));
	srand((unsigned) time(NULL));
	od_test_server_start(&srv, NULL);
	create_root(&srv, "crash-root", "Crash root");
	int total_ok = 0;
	for (int round = 0; round < rounds; round++) {
		pthread_t th[WRITERS];
		struct writer w[WRITERS];
		for (int i = 0; i < WRITERS; i++) {
			w[i] = (struct writer){.round = round, .index = i};
			pthread_create(&th[i], NULL, writer_main, &w[i]);
		}
		struct timespec ts = {0, (50 + rand() % 400) * 1000000L};
		nanosleep(&ts, NULL);
		od_test_server_kill(&srv); /* SIGKILL, mid-write */
		for (int i = 0; i < WRITERS; i++) {
			pthread_join(th[i], NULL);
			total_ok += w[i].ok;
		}
		if (round % 2 == 0) {
			assert_int_equal(run_check(), 0);
			od_test_server_start(&srv, NULL);
		} else {
			/* As if the system had gone down too, and the disk had
			 * lost LMDB's meta pages (its commits are not synced: the
			 * log is): orgdird sets data.mdb back to the log's
			 * checkpoint and applies the log again. */
			lose_meta_pages();
			od_test_server_start(&srv, NULL);
			assert_int_equal(run_check(), 0); /* beside the server */
		}
		/* Every acknowledged write survived. */
		orgdir_client *c = od_test_client(&srv, NULL);
		for (size_t i = 0; i < n_acked; i++) {
			orgdir_reply *r;
			Orgdir__V1__Unit *u;
			orgdir_status st;
			orgdir_code code = orgdir_unit_get(c, acked[i], &r, &u, &st);
			if (code != ORGDIR_OK) {
				fprintf(stderr,
				    "acknowledged unit %s is missing after round %d: %s\n",
				    acked[i], round, st.message);
			}
			assert_int_equal(code, ORGDIR_OK);
			orgdir_reply_free(r);
		}
		orgdir_client_close(c);
	}
	fprintf(stderr, "crash test: %d rounds, %d acknowledged writes, all present\n", rounds,
	    total_ok);
	assert_true(total_ok > rounds); /* the kills did land among real writes */
	/* A restart sets data.mdb back to the checkpoint and applies the log
	 * whenever a write came after the checkpoint (nearly always), and
	 * always after the meta pages were lost: the server says so. */
	char *log = server_log(&srv);
	int restarts = 0;
	for (const char *p = log; (p = strstr(p, "did not stop cleanly")) != NULL; p++) {
		restarts++;
	}
	free(log);
	fprintf(stderr, "crash test: %d restarts from the log's checkpoint\n", restarts);
	assert_true(restarts >= rounds / 2);
	assert_int_equal(od_test_server_stop(&srv), 0);
	od_test_server_cleanup(&srv);
	free(acked);
}

static void *
kill_later(void *arg)
{
	od_test_server *s = arg;
	struct timespec ts = {0, 500 * 1000000L}; /* the long poll is parked by then */
	nanosleep(&ts, NULL);
	kill(s->pid, SIGKILL);
	return NULL;
}

static void
test_call_in_flight_when_the_server_dies(void **state)
{
	(void) state;
	od_test_server k = {0};
	od_test_server_start(&k, NULL);
	/* Without the reconnect rule this long poll would wait 60 s (its
	 * wait), then the timeout: returning within 30 s proves the rule. */
	orgdir_options o = {.timeout_ms = 120000, .reconnect_ms = 500};
	orgdir_client *c = od_test_client(&k, &o);
	orgdir_reply *r = NULL;
	Orgdir__V1__WatchChangesResponse *w = NULL;
	orgdir_status st;
	assert_int_equal(orgdir_changes_watch(c, 0, NULL, 0, 0, &r, &w, &st), ORGDIR_OK);
	uint64_t head = w->next_since_revision;
	orgdir_reply_free(r);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, kill_later, &k), 0);
	uint64_t t0 = od_mono_ms();
	orgdir_code code = orgdir_changes_watch(c, head, NULL, 60000, 0, &r, &w, &st);
	uint64_t took = od_mono_ms() - t0;
	pthread_join(t, NULL);
	fprintf(stderr, "watch after the kill: %s in %llu ms: %s\n", orgdir_code_name(code),
	    (unsigned long long) took, st.message);
	assert_int_equal(code, ORGDIR_UNAVAILABLE);
	assert_non_null(strstr(st.message, "lost the connection"));
	assert_non_null(strstr(st.message, "within 500 ms"));
	assert_true(took < 30000);
	orgdir_client_close(c);
	od_test_server_kill(&k); /* reaps it */
	od_test_server_cleanup(&k);
}

/* SIGHUP (the terminal of a server run by hand closing) stops it as
 * SIGTERM does: exit status 0 and the last checkpoint made, so the next
 * start has no log to apply, and the write is there. */
static void
test_sighup_stops_cleanly(void **state)
{
	(void) state;
	od_test_server h = {0};
	od_test_server_start(&h, NULL);
	create_root(&h, "hup", "Hung up");
	assert_int_equal(od_test_server_stop_on(&h, SIGHUP), 0);
	od_test_server_start(&h, NULL);
	orgdir_client *c = od_test_client(&h, NULL);
	orgdir_reply *r;
	Orgdir__V1__Unit *out;
	orgdir_status st;
	assert_int_equal(orgdir_unit_get(c, "hup", &r, &out, &st), ORGDIR_OK);
	assert_string_equal(out->name[0]->text, "Hung up");
	orgdir_reply_free(r);
	orgdir_client_close(c);
	char *log = server_log(&h);
	assert_non_null(strstr(log, "stopping on SIGHUP"));
	assert_null(strstr(log, "did not stop cleanly"));
	free(log);
	assert_int_equal(od_test_server_stop(&h), 0);
	od_test_server_cleanup(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_call_in_flight_when_the_server_dies),
	    cmocka_unit_test(test_sigkill_during_writes),
	    cmocka_unit_test(test_sighup_stops_cleanly),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc;
}
