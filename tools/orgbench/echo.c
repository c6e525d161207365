/* echo.c - `orgbench echo`: a bare nng REP server that sends every request
 * back as its reply. Same shape as orgdird's server (a fixed pool of
 * contexts, each a state machine driven by one aio callback), so running
 * the same client against both shows what the transport alone costs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

#include <nng/protocol/reqrep0/rep.h>

#define ECHO_CTX_DEFAULT 128
#define ENVELOPE_MARGIN (64u << 10) /* as orgdird */

typedef struct echo_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	atomic_bool *stopping;
} echo_ctx;

static void
echo_cb(void *arg)
{
	echo_ctx *e = arg;
	int rv = nng_aio_result(e->aio);
	if (e->sending) {
		if (rv != 0) {
			nng_msg *m = nng_aio_get_msg(e->aio);
			if (m != NULL) {
				nng_msg_free(m);
			}
		}
		if (rv == NNG_ECLOSED) {
			return;
		}
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED && !atomic_load(e->stopping)) {
			nng_ctx_recv(e->ctx, e->aio);
		}
		return;
	}
	/* The received message goes straight back: it is the reply. */
	e->sending = true;
	nng_ctx_send(e->ctx, e->aio);
}

static const char echo_usage[] =
    "usage: orgbench echo --listen URL [--contexts N] [--max-message-bytes N]\n"
    "\n"
    "A bare nng REP server that answers every request with its own bytes:\n"
    "the transport's limit, to measure beside orgdird (see `orgbench run`).\n"
    "SIGINT or SIGTERM stop it.\n";

static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		return -1;
	}
	*out = v;
	return 0;
}

int
ob_echo_main(int argc, char **argv)
{
	const char *url = NULL;
	unsigned long n_ctx = ECHO_CTX_DEFAULT;
	unsigned long max_msg = OD_MESSAGE_MAX_DEFAULT;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(echo_usage, stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr,
			    "orgbench echo: %s needs a value\nTry 'orgbench echo --help'.\n", a);
			return 2;
		}
		const char *v = argv[++i];
		int bad = 0;
		if (strcmp(a, "--listen") == 0) {
			url = v;
		} else if (strcmp(a, "--contexts") == 0) {
			bad = parse_uint(v, 1, 4096, &n_ctx);
		} else if (strcmp(a, "--max-message-bytes") == 0) {
			bad = parse_uint(v, 4096, 1ul << 30, &max_msg);
		} else {
			fprintf(stderr,
			    "orgbench echo: unknown option '%s'\nTry 'orgbench echo --help'.\n", a);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "orgbench echo: %s: '%s' is out of range\n", a, v);
			return 2;
		}
	}
	if (url == NULL) {
		fprintf(stderr,
		    "orgbench echo: --listen URL is required\nTry 'orgbench echo --help'.\n");
		return 2;
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	atomic_bool stopping = false;
	nng_socket sock;
	echo_ctx *ctxs = calloc(n_ctx, sizeof(*ctxs));
	int rv = ctxs == NULL ? NNG_ENOMEM : nng_rep0_open(&sock);
	if (rv != 0) {
		fprintf(stderr, "orgbench echo: cannot open a REP socket: %s\n", nng_strerror(rv));
		free(ctxs);
		return 1;
	}
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, max_msg + ENVELOPE_MARGIN);
	for (unsigned long i = 0; i < n_ctx && rv == 0; i++) {
		ctxs[i].stopping = &stopping;
		rv = nng_ctx_open(&ctxs[i].ctx, sock);
		if (rv == 0) {
			rv = nng_aio_alloc(&ctxs[i].aio, echo_cb, &ctxs[i]);
		}
	}
	if (rv == 0) {
		rv = nng_listen(sock, url, NULL, 0);
	}
	if (rv != 0) {
		fprintf(stderr, "orgbench echo: cannot listen on %s: %s\n", url, nng_strerror(rv));
	} else {
		for (unsigned long i = 0; i < n_ctx; i++) {
			nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
		}
		fprintf(stderr, "orgbench echo: listening on %s with %lu contexts\n", url, n_ctx);
		int sig;
		sigwait(&sigs, &sig);
	}
	atomic_store(&stopping, true);
	nng_close(sock);
	for (unsigned long i = 0; i < n_ctx; i++) {
		if (ctxs[i].aio != NULL) {
			nng_aio_free(ctxs[i].aio);
		}
	}
	free(ctxs);
	return rv == 0 ? 0 : 1;
}
