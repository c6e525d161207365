/*
 * writer.c - group commit. One thread owns every write transaction (LMDB
 * wants a write transaction begun and committed on one thread). It takes
 * all queued writes, runs them one after another in one transaction (see
 * run_batch for a request that fails), commits it with one sync, and only
 * then answers each request: a write is acknowledged only once it is
 * durable, yet 64 writers share one fsync.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

#define BATCH_MAX 256
/* A committed batch with at least this many changes (an import of ~1,000
 * units or more) leaves LMDB holding as many dirty pages, for good: the
 * writer then reopens the store to give them back (od_store_refresh). */
#define REFRESH_WRITES 10000

struct od_writer {
	struct od_server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct od_write_job *head;
	struct od_write_job *tail;
	bool stop;
	/* Tests (ORGDIRD_TEST_REPEAT_BATCHES=1): every batch runs twice, the
	 * first run aborted as after a full map, so that the tests exercise
	 * what a run again must not do twice. */
	bool repeat;
	/* Changes in a committed batch that make the writer refresh the store
	 * (REFRESH_WRITES; ORGDIRD_TEST_REFRESH_WRITES=N for tests). */
	uint64_t refresh_writes;
};

void
od_writer_submit(struct od_writer *w, struct od_write_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		/* Shutting down: answer now rather than queue to nobody. */
		pthread_mutex_unlock(&w->mu);
		od_status_set(
		    &job->status, ORGDIR_UNAVAILABLE, "the server is shutting down; retry");
		job->recorded.len = 0;
		job->revision = 0;
		od_ctx_write_done(job->ctx);
		return;
	}
	if (w->tail != NULL) {
		w->tail->next = job;
	} else {
		w->head = job;
	}
	w->tail = job;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Packs the Response to remember for this request id (call_id left out:
 * each re-send gets its own). */
static bool
record_reply(struct od_write_job *j, od_val *out)
{
	od_buf *body = od_ctx_out(j->ctx);
	Orgdir__V1__Response r = ORGDIR__V1__RESPONSE__INIT;
	r.body.data = body->data;
	r.body.len = body->len;
	r.revision = j->revision;
	size_t n = orgdir__v1__response__get_packed_size(&r);
	uint8_t *p = od_arena_alloc(od_ctx_arena(j->ctx), n);
	if (p == NULL) {
		return false;
	}
	out->data = p;
	out->len = orgdir__v1__response__pack(&r, p);
	return true;
}

/* Runs one job in the batch. False when it failed after changing
 * something: the batch must then be aborted and run again without it. */
static bool
run_job(od_txn *batch, struct od_write_job *j)
{
	orgdir_status *st = &j->status;
	od_val prev;

	od_status_ok(st);
	j->recorded.len = 0;
	j->revision = 0;
	od_buf_reset(od_ctx_out(j->ctx));
	if (j->request_id.len > 0 && od_request_lookup(batch, &j->request_id, &prev)) {
		/* Copy: the batch's pages are gone once it commits. */
		uint8_t *p = od_arena_alloc(od_ctx_arena(j->ctx), prev.len);
		if (p != NULL) {
			memcpy(p, prev.data, prev.len);
			j->recorded.data = p;
			j->recorded.len = prev.len;
			return true;
		}
	}
	uint64_t writes = od_txn_writes(batch);
	od_txn_set_actor(batch, j->actor, j->m->name);
	od_call call = {.srv = j->ctx->srv,
	    .txn = batch,
	    .arena = od_ctx_arena(j->ctx),
	    .out = od_ctx_out(j->ctx),
	    .once = &j->once,
	    .body = j->body};
	bool ok = j->m->handler(&call, j->req, st) == ORGDIR_OK;
	od_val rec;
	if (ok) {
		j->revision = od_txn_revision(batch);
		if (!record_reply(j, &rec)) {
			od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
			ok = false;
		}
	}
	ok = ok && od_request_record(batch, &j->request_id, &rec, st) == ORGDIR_OK;
	return ok || od_txn_writes(batch) == writes;
}

/* Sets every job's status (and forgets its recorded reply). */
static void
fail_all(struct od_write_job *jobs, const orgdir_status *st, bool only_ok)
{
	for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
		if (!only_ok || j->status.code == ORGDIR_OK) {
			j->status = *st;
			j->recorded.len = 0;
		}
	}
}

/*
 * Runs the jobs in one transaction, one after another, and commits them with
 * one sync. A job that fails without changing anything simply fails (most
 * failures are checks made before any write). A job that fails after
 * changing something cannot be undone alone (LMDB's nested transactions
 * would allow it, at the cost of a page copy and a merge for every job):
 * the batch is aborted and run again without it, the job keeping the
 * status it failed with, which the jobs before it led to and will lead to
 * again. A full map aborts the batch, grows the map and runs it again
 * (and so does every batch, once, under ORGDIRD_TEST_REPEAT_BATCHES).
 * Returns the number of changes committed, 0 when nothing was.
 */
static uint64_t
run_batch(struct od_writer *w, struct od_write_job *jobs)
{
	for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
		j->skip = false;
	}
	int grown = 0;
	bool repeat = w->repeat;
	for (;;) {
		orgdir_status st = {ORGDIR_OK, "", 0};
		od_txn *batch;
		bool any = false;
		for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
			any = any || !j->skip;
		}
		if (!any) {
			return 0; /* every job failed on its own */
		}
		if (od_store_write_begin(w->srv->store, &batch, &st) != ORGDIR_OK) {
			fail_all(jobs, &st, false);
			return 0;
		}
		bool full = false, again = false;
		for (struct od_write_job *j = jobs; j != NULL && !full && !again; j = j->next) {
			if (!j->skip) {
				bool clean = run_job(batch, j);
				full = od_txn_map_full(batch);
				again = !clean && !full;
				j->skip = again;
			}
		}
		if (again || (repeat && !full)) {
			repeat = false;
			od_txn_abort(batch);
			continue;
		}
		if (!full) {
			uint64_t writes = od_txn_writes(batch);
			bool map_full = false;
			if (od_txn_commit(batch, &map_full, &st) == ORGDIR_OK) {
				return writes;
			}
			if (!map_full) {
				/* Nothing of the batch is durable: no job may report success. */
				fail_all(jobs, &st, true);
				return 0;
			}
		} else {
			od_txn_abort(batch);
		}
		if (++grown > 8 || od_store_grow(w->srv->store, &st) != ORGDIR_OK) {
			if (grown > 8) {
				od_status_set(&st, ORGDIR_RESOURCE_EXHAUSTED,
				    "the database map is full and cannot grow further");
			}
			fail_all(jobs, &st, false);
			return 0;
		}
	}
}

static void *
writer_main(void *arg)
{
	struct od_writer *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stop) {
			/* Idle a second: the log's last writes get their checkpoint. */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT &&
			    w->head == NULL && !w->stop) {
				pthread_mutex_unlock(&w->mu);
				od_store_checkpoint(w->srv->store, true);
				pthread_mutex_lock(&w->mu);
			}
		}
		if (w->head == NULL && w->stop) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		/* Take up to BATCH_MAX jobs. */
		struct od_write_job *jobs = w->head;
		struct od_write_job *last = jobs;
		for (int n = 1; n < BATCH_MAX && last->next != NULL; n++) {
			last = last->next;
		}
		w->head = last->next;
		if (w->head == NULL) {
			w->tail = NULL;
		}
		last->next = NULL;
		pthread_mutex_unlock(&w->mu);

		uint64_t writes = run_batch(w, jobs);
		uint64_t top = 0;
		for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
			if (j->status.code == ORGDIR_OK && j->once.committed != NULL) {
				j->once.committed(w->srv, &j->once); /* durable: no run again */
			}
			if (j->status.code == ORGDIR_OK && j->revision > top) {
				top = j->revision;
			}
		}
		if (top > 0) {
			od_watch_notify(w->srv, top); /* after the commit: durable */
		}
		for (struct od_write_job *j = jobs; j != NULL;) {
			struct od_write_job *next = j->next; /* the reply may reuse j */
			od_ctx_write_done(j->ctx);
			j = next;
		}
		if (writes >= w->refresh_writes) {
			/* After the answers: the reopen waits for open snapshots. */
			orgdir_status st;
			od_store_refresh(w->srv->store, &st); /* a failure is logged */
		}
		od_store_checkpoint(w->srv->store, false); /* after the answers too */
	}
}

orgdir_code
od_writer_start(struct od_server *srv, struct od_writer **out, orgdir_status *st)
{
	struct od_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	w->srv = srv;
	const char *rep = getenv("ORGDIRD_TEST_REPEAT_BATCHES");
	w->repeat = rep != NULL && strcmp(rep, "1") == 0;
	if (w->repeat) {
		od_log(
		    "warn", "ORGDIRD_TEST_REPEAT_BATCHES=1: every write batch runs twice (tests)");
	}
	const char *rw = getenv("ORGDIRD_TEST_REFRESH_WRITES");
	w->refresh_writes = rw != NULL ? strtoull(rw, NULL, 10) : 0;
	if (w->refresh_writes > 0) {
		od_log("warn",
		    "ORGDIRD_TEST_REFRESH_WRITES=%llu: the store is reopened after "
		    "every batch of that many changes (tests)",
		    (unsigned long long) w->refresh_writes);
	} else {
		w->refresh_writes = REFRESH_WRITES;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return od_status_set(st, ORGDIR_INTERNAL, "cannot start the writer thread");
	}
	*out = w;
	return ORGDIR_OK;
}

void
od_writer_free(struct od_writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

void
od_writer_stop(struct od_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* Contexts may still submit until they are stopped: keep the (stopped)
	 * writer's lock alive; it is freed with od_writer_free. */
}
