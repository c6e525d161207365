/*
 * writer.c - group commit. One thread owns every write transaction (LMDB
 * wants a write transaction begun and committed on one thread). It takes
 * all queued writes, runs each in a nested transaction of one batch, commits
 * the batch with one sync, and only then answers each request: a write is
 * acknowledged only once it is durable, yet 64 writers share one fsync.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define BATCH_MAX 256

struct od_writer {
	struct od_server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct od_write_job *head;
	struct od_write_job *tail;
	bool stop;
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

/* Runs one job: in a child of the batch, so that a failed request rolls
 * back alone, or, when the batch holds this job only, in the batch itself
 * (a nested transaction costs LMDB a dirty-page list and a merge, a large
 * part of a single write). Sets *abort_batch when the job ran in the batch
 * and failed: the batch must then be aborted rather than committed. */
static void
run_job(od_txn *batch, struct od_write_job *j, bool alone, bool *abort_batch)
{
	orgdir_status *st = &j->status;
	od_txn *t = batch;
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
			return;
		}
	}
	if (!alone && od_txn_child(batch, &t, st) != ORGDIR_OK) {
		return;
	}
	od_txn_set_actor(t, j->actor, j->m->name);
	od_call call = {
	    .srv = j->ctx->srv, .txn = t, .arena = od_ctx_arena(j->ctx), .out = od_ctx_out(j->ctx)};
	bool ok = j->m->handler(&call, j->req, st) == ORGDIR_OK;
	od_val rec;
	if (ok) {
		j->revision = od_txn_revision(t);
		if (!record_reply(j, &rec)) {
			od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
			ok = false;
		}
	}
	ok = ok && od_request_record(t, &j->request_id, &rec, st) == ORGDIR_OK;
	if (alone) {
		*abort_batch = !ok;
	} else if (!ok) {
		od_txn_abort(t);
	} else {
		od_txn_commit(t, st);
	}
}

static void
run_batch(struct od_writer *w, struct od_write_job *jobs)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		orgdir_status st = {ORGDIR_OK, "", 0};
		od_txn *batch;
		if (od_store_write_begin(w->srv->store, &batch, &st) != ORGDIR_OK) {
			for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
				j->status = st;
			}
			return;
		}
		bool full = false, abort_batch = false;
		for (struct od_write_job *j = jobs; j != NULL && !full; j = j->next) {
			run_job(batch, j, jobs->next == NULL, &abort_batch);
			full = od_txn_map_full(batch);
		}
		if (full) {
			od_txn_abort(batch);
		} else if (abort_batch) {
			od_txn_abort(batch); /* its one job failed and says why */
			return;
		} else if (od_txn_commit(batch, &st) == ORGDIR_OK) {
			return;
		} else if (st.code != ORGDIR_RESOURCE_EXHAUSTED) {
			/* Nothing of the batch is durable: no job may report success. */
			for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
				if (j->status.code == ORGDIR_OK) {
					j->status = st;
					j->recorded.len = 0;
				}
			}
			return;
		}
		if (od_store_grow(w->srv->store, &st) != ORGDIR_OK) {
			for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
				j->status = st;
				j->recorded.len = 0;
			}
			return;
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
			pthread_cond_wait(&w->cv, &w->mu);
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

		run_batch(w, jobs);
		uint64_t top = 0;
		for (struct od_write_job *j = jobs; j != NULL; j = j->next) {
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
