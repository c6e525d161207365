/* client_thread.c - the threaded driver: one thread per context, each
 * sending and waiting in turn (the shape of a blocking client library). */
#include <stdio.h>

#include "orgbench.h"

static void *
caller(void *arg)
{
	ob_ctx *c = arg;
	for (;;) {
		if (!ob_ctx_prepare(c)) {
			c->errors++;
			break;
		}
		nng_aio_set_msg(c->aio, c->msg);
		c->msg = NULL;
		nng_ctx_send(c->ctx, c->aio);
		nng_aio_wait(c->aio);
		int rv = nng_aio_result(c->aio);
		if (rv != 0) {
			c->msg = nng_aio_get_msg(c->aio);
			if (!ob_ctx_finish(c, rv, NULL)) {
				break;
			}
			continue;
		}
		nng_ctx_recv(c->ctx, c->aio);
		nng_aio_wait(c->aio);
		rv = nng_aio_result(c->aio);
		if (!ob_ctx_finish(c, rv, rv == 0 ? nng_aio_get_msg(c->aio) : NULL)) {
			break;
		}
	}
	ob_ctx_retire(c);
	return NULL;
}

unsigned
ob_thread_start(struct ob_run *run, pthread_t *threads, char *err, size_t errlen)
{
	unsigned i;
	for (i = 0; i < run->o.concurrency; i++) {
		if (pthread_create(&threads[i], NULL, caller, &run->ctxs[i]) != 0) {
			snprintf(err, errlen, "cannot start client thread %u of %u", i + 1,
			    run->o.concurrency);
			break;
		}
	}
	if (i < run->o.concurrency) {
		atomic_store(&run->abort, true);
		for (unsigned k = i; k < run->o.concurrency; k++) {
			ob_ctx_retire(&run->ctxs[k]);
		}
	}
	return i;
}
