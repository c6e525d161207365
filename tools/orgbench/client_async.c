/* client_async.c - the asynchronous driver: every context is a small state
 * machine on one REQ socket, and its aio callback sends the next request as
 * soon as a reply is in (nng's demo/async shape; no thread per call). */
#include "orgbench.h"

static void
issue(ob_ctx *c)
{
	if (!ob_ctx_prepare(c)) {
		c->errors++;
		ob_ctx_retire(c);
		return;
	}
	nng_aio_set_msg(c->aio, c->msg);
	c->msg = NULL; /* the send owns it now */
	c->sending = true;
	nng_ctx_send(c->ctx, c->aio);
}

void
ob_async_callback(void *arg)
{
	ob_ctx *c = arg;
	int rv = nng_aio_result(c->aio);

	if (c->sending) {
		if (rv == 0) {
			c->sending = false;
			nng_ctx_recv(c->ctx, c->aio);
			return;
		}
		c->msg = nng_aio_get_msg(c->aio); /* a failed send gives it back */
		if (!ob_ctx_finish(c, rv, NULL)) {
			ob_ctx_retire(c);
			return;
		}
		issue(c);
		return;
	}
	if (!ob_ctx_finish(c, rv, rv == 0 ? nng_aio_get_msg(c->aio) : NULL)) {
		ob_ctx_retire(c);
		return;
	}
	issue(c);
}

void
ob_async_start(struct ob_run *run)
{
	for (unsigned i = 0; i < run->o.concurrency; i++) {
		issue(&run->ctxs[i]);
	}
}
