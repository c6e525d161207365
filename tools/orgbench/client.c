/* client.c - one measured run of one workload at one concurrency level:
 * sets up the contexts, keeps the measuring window, tallies each call. The
 * drivers (client_async.c, client_thread.c) only move messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orgbench.h"

#define CTX_ARENA_KEEP (1u << 20)

bool
ob_ctx_prepare(ob_ctx *c)
{
	ob_wl_next(c);
	if (c->req_len == 0) {
		snprintf(c->first_error, sizeof(c->first_error), "cannot encode the request");
		return false;
	}
	/* Reuse the last reply's message: no allocation per call. */
	if (c->msg == NULL && nng_msg_alloc(&c->msg, 0) != 0) {
		c->msg = NULL;
		snprintf(c->first_error, sizeof(c->first_error), "out of memory");
		return false;
	}
	nng_msg_clear(c->msg);
	if (nng_msg_append(c->msg, c->req, c->req_len) != 0) {
		snprintf(c->first_error, sizeof(c->first_error), "out of memory");
		return false;
	}
	c->t_send = ob_now_ns();
	return true;
}

static void
note_error(ob_ctx *c, const char *why)
{
	c->errors++;
	if (c->first_error[0] == '\0') {
		snprintf(c->first_error, sizeof(c->first_error), "%s", why);
	}
}

bool
ob_ctx_finish(ob_ctx *c, int rv, nng_msg *reply)
{
	struct ob_run *run = c->run;
	uint64_t t_recv = ob_now_ns();
	uint64_t decode_ns = 0;
	orgdir_code code = ORGDIR_OK;
	char why[OB_ERR_MAX] = "";

	if (rv != 0) {
		code = rv == NNG_ETIMEDOUT ? ORGDIR_DEADLINE_EXCEEDED : ORGDIR_UNAVAILABLE;
		snprintf(why, sizeof(why), "%s call: %s",
		    rv == NNG_ECANCELED ? "cancelled" : "no answer", nng_strerror(rv));
	} else {
		code = ob_wl_check(
		    c, nng_msg_body(reply), nng_msg_len(reply), &decode_ns, why, sizeof(why));
		c->msg = reply; /* becomes the next request */
	}
	uint64_t t = ob_now_ns();
	bool conflict = code == ORGDIR_ABORTED && c->op == OB_OP_UPD_WRITE;
	bool measured = !(c->op == OB_OP_UPD_READ && run->o.workload == OB_W_UPDATE);
	bool in_window =
	    t >= run->t_warm_end && (t < run->t_end || atomic_load(&run->in_window) == 0);

	if (code != ORGDIR_OK && !conflict) {
		note_error(c, why); /* counted inside and outside the window */
	}
	if (in_window && rv != NNG_ECANCELED) {
		if (measured) {
			c->calls++;
			c->conflicts += conflict;
			c->writes += c->op == OB_OP_UPD_WRITE && code == ORGDIR_OK;
			ob_samples_add(&c->lat, t - c->t_send);
			ob_samples_add(&c->rtt, t_recv - c->t_send);
			if (c->op == OB_OP_SUBTREE) {
				ob_samples_add(&c->decode, decode_ns);
			}
			atomic_fetch_add(&run->in_window, 1);
		} else {
			c->prep_reads++;
		}
		c->last_t = t;
	} else if (t < run->t_warm_end) {
		c->warm_calls++;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&run->abort)) {
		return false;
	}
	return !(t >= run->t_end && atomic_load(&run->in_window) > 0);
}

void
ob_ctx_retire(ob_ctx *c)
{
	struct ob_run *run = c->run;
	if (c->msg != NULL) {
		nng_msg_free(c->msg);
		c->msg = NULL;
	}
	c->done = true;
	pthread_mutex_lock(&run->mu);
	if (atomic_fetch_sub(&run->active, 1) == 1) {
		pthread_cond_broadcast(&run->cv);
	}
	pthread_mutex_unlock(&run->mu);
}

/* Waits until every context retired; after `limit` cancels what is left. */
static void
wait_all(struct ob_run *run, uint64_t limit)
{
	bool cancelled = false;
	pthread_mutex_lock(&run->mu);
	while (atomic_load(&run->active) > 0) {
		uint64_t now = ob_now_ns();
		if (now >= limit && !cancelled) {
			pthread_mutex_unlock(&run->mu);
			atomic_store(&run->abort, true);
			for (unsigned i = 0; i < run->o.concurrency; i++) {
				nng_aio_cancel(run->ctxs[i].aio);
			}
			cancelled = true;
			pthread_mutex_lock(&run->mu);
			continue;
		}
		struct timespec ts;
		od_mono_deadline(50, &ts); /* re-check the limit every 50 ms */
		pthread_cond_timedwait(&run->cv, &run->mu, &ts);
	}
	pthread_mutex_unlock(&run->mu);
}

static int
ctxs_open(struct ob_run *run, char *err, size_t errlen)
{
	for (unsigned i = 0; i < run->o.concurrency; i++) {
		ob_ctx *c = &run->ctxs[i];
		c->run = run;
		c->idx = i;
		/* A mixed start per context: splitmix64 states that differ by a
		 * multiple of its increment would replay each other's sequence
		 * (and make every context update the same units). */
		uint64_t mix = run->o.seed ^ ((uint64_t) i << 32) ^ 0x5851f42d4c957f2du;
		c->rng = ob_rand(&mix);
		ob_arena_init(&c->arena, CTX_ARENA_KEEP);
		int rv = nng_ctx_open(&c->ctx, run->o.sock);
		if (rv == 0) {
			rv = run->o.threaded ? nng_aio_alloc(&c->aio, NULL, NULL)
			                     : nng_aio_alloc(&c->aio, ob_async_callback, c);
		}
		if (rv != 0) {
			snprintf(
			    err, errlen, "cannot open client context %u: %s", i, nng_strerror(rv));
			return -1;
		}
		nng_aio_set_timeout(c->aio, run->o.timeout_ms);
	}
	return 0;
}

static void
ctxs_close(struct ob_run *run)
{
	for (unsigned i = 0; i < run->o.concurrency; i++) {
		ob_ctx *c = &run->ctxs[i];
		if (c->aio != NULL) {
			nng_aio_free(c->aio); /* stops it first */
		}
		if (c->run != NULL && nng_ctx_id(c->ctx) > 0) {
			nng_ctx_close(c->ctx);
		}
		if (c->msg != NULL) {
			nng_msg_free(c->msg);
		}
		ob_arena_destroy(&c->arena);
		ob_samples_free(&c->lat);
		ob_samples_free(&c->rtt);
		ob_samples_free(&c->decode);
	}
	free(run->ctxs);
	run->ctxs = NULL;
}

/* Merges the contexts' tallies into r. */
static void
collect(struct ob_run *run, ob_round *r)
{
	ob_samples lat = {0}, rtt = {0}, dec = {0};
	uint64_t last = run->t_end;
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < run->o.concurrency; i++) {
		ob_ctx *c = &run->ctxs[i];
		r->calls += c->calls;
		r->errors += c->errors;
		r->conflicts += c->conflicts;
		r->writes += c->writes;
		r->prep_reads += c->prep_reads;
		if (c->last_t > last) {
			last = c->last_t;
		}
		if (r->first_error[0] == '\0' && c->first_error[0] != '\0') {
			snprintf(r->first_error, sizeof(r->first_error), "%s", c->first_error);
		}
		ob_samples_merge(&lat, &c->lat);
		ob_samples_merge(&rtt, &c->rtt);
		ob_samples_merge(&dec, &c->decode);
	}
	r->elapsed_s = (double) (last - run->t_warm_end) / 1e9;
	r->calls_per_s = r->elapsed_s > 0 ? (double) r->calls / r->elapsed_s : 0;
	ob_samples_summarise(&lat, &r->lat);
	ob_samples_summarise(&rtt, &r->rtt);
	ob_samples_summarise(&dec, &r->decode);
	ob_samples_free(&lat);
	ob_samples_free(&rtt);
	ob_samples_free(&dec);
	r->rss_kib = r->anon_kib = -1;
}

int
ob_run_one(const ob_run_opts *o, ob_round *r, char *err, size_t errlen)
{
	static atomic_uint_fast64_t runs;
	struct ob_run run;
	pthread_t *threads = NULL;
	int ret = -1;

	memset(&run, 0, sizeof(run));
	run.o = *o;
	run.nonce = ob_now_ns() ^ ((uint64_t) getpid() << 32) ^ (atomic_fetch_add(&runs, 1) << 56);
	pthread_mutex_init(&run.mu, NULL);
	od_mono_cond_init(&run.cv);
	run.ctxs = calloc(o->concurrency, sizeof(*run.ctxs));
	if (o->threaded) {
		threads = calloc(o->concurrency, sizeof(*threads));
	}
	if (run.ctxs == NULL || (o->threaded && threads == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (ctxs_open(&run, err, errlen) != 0) {
		goto out;
	}
	run.t_start = ob_now_ns();
	run.t_warm_end = run.t_start + (uint64_t) (o->warmup_s * 1e9);
	run.t_end = run.t_warm_end + (uint64_t) (o->duration_s * 1e9);
	atomic_store(&run.active, o->concurrency);
	unsigned started = o->concurrency;
	if (o->threaded) {
		started = ob_thread_start(&run, threads, err, errlen);
	} else {
		ob_async_start(&run);
	}
	/* A run may overrun its window by the slowest call, then give up. */
	wait_all(&run, run.t_end + (uint64_t) o->timeout_ms * 1000000u + 2000000000u);
	if (o->threaded) {
		for (unsigned i = 0; i < started; i++) {
			pthread_join(threads[i], NULL);
		}
	}
	collect(&run, r);
	ret = started == o->concurrency ? 0 : -1;
out:
	if (run.ctxs != NULL) {
		ctxs_close(&run);
	}
	free(threads);
	pthread_cond_destroy(&run.cv);
	pthread_mutex_destroy(&run.mu);
	return ret;
}
