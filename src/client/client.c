/*
 * client.c - the client handle and the transport: one nng REQ socket per
 * client, one REQ context per call, so any number of threads can call
 * through one client at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "client_int.h"

/* orgdir_client_close: how long a dial may go on finishing its handshake. */
#define CLOSE_DIAL_WAIT_MS 500

struct orgdir_client {
	nng_socket sock;
	int timeout_ms; /* per call, > 0 */
	int reconnect_ms; /* how long a call waits without a connection, > 0 */
	size_t max_message_bytes; /* largest reply body (and request body) */
	char *token; /* owned; NULL when none */
	char *tls_ca; /* owned; NULL when none */
	bool tls; /* tls+tcp:// */
	/* First half of every request_id: random per client, so keys from two
	 * clients (or two runs) never collide in the server's memory of them. */
	uint8_t id_prefix[8];
	/* Both the call id and the second half of the request id: 1, 2, ... */
	atomic_uint_fast64_t next_seq;
	/* Pipes currently connected, kept by nng's pipe callbacks. */
	atomic_int pipes;
	atomic_bool ever_connected;
	/* od_mono_ms() when the client was opened or last lost its connection:
	 * meaningful while pipes is 0. */
	_Atomic uint64_t down_since;
	/* Only quoted in messages: truncated copies are fine there. */
	char url[256];
	od_reply_pool *pool; /* one count of it; replies hold the others */
};

/* --- opening ----------------------------------------------------------------- */

/* nng runs these on its own threads; they only touch atomics. A REQ dialer
 * holds one pipe at a time, so the count is 0 or 1 in practice. */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	orgdir_client *c = arg;
	(void) p;

	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&c->pipes, 1);
		atomic_store(&c->ever_connected, true);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		/* nng also reports the removal of a pipe it refused before
		 * ADD_POST (a peer of the wrong protocol): never count below 0. */
		int n = atomic_load(&c->pipes);
		while (n > 0 && !atomic_compare_exchange_weak(&c->pipes, &n, n - 1)) {
		}
		if (n == 1) {
			atomic_store(&c->down_since, od_mono_ms());
		}
	}
}

static bool
fill_random(uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		got += (size_t) r;
	}
	if (got == n) {
		return true;
	}
	/* Kernels before 3.17, or seccomp profiles without getrandom. */
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t) r;
	}
	close(fd);
	return got == n;
}

/* A duration option: 0 keeps *ms (its default), a positive value replaces
 * it, a negative one is refused. */
static orgdir_code
option_ms(const char *name, int value, int *ms, orgdir_status *st)
{
	if (value < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s is %d: use a positive number of milliseconds, or 0 for the default (%d)",
		    name, value, *ms);
	}
	if (value > 0) {
		*ms = value;
	}
	return ORGDIR_OK;
}

/* Checks options and copies them into c. */
static orgdir_code
apply_options(orgdir_client *c, const orgdir_options *opts, orgdir_status *st)
{
	c->timeout_ms = OD_CLIENT_TIMEOUT_DEFAULT_MS;
	c->reconnect_ms = OD_CLIENT_RECONNECT_DEFAULT_MS;
	c->max_message_bytes = OD_MESSAGE_MAX_DEFAULT;
	if (opts == NULL) {
		return ORGDIR_OK;
	}
	orgdir_code code;
	if ((code = option_ms("reconnect_ms", opts->reconnect_ms, &c->reconnect_ms, st)) !=
	        ORGDIR_OK ||
	    (code = option_ms("timeout_ms", opts->timeout_ms, &c->timeout_ms, st)) != ORGDIR_OK) {
		return code;
	}
	if (opts->max_message_bytes > OD_CLIENT_MESSAGE_MAX) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "max_message_bytes is %zu: at most %u is allowed", opts->max_message_bytes,
		    OD_CLIENT_MESSAGE_MAX);
	}
	if (opts->max_message_bytes > 0) {
		c->max_message_bytes = opts->max_message_bytes;
	}
	if (opts->tls_ca_file != NULL && opts->tls_ca_file[0] != '\0') {
		c->tls_ca = strdup(opts->tls_ca_file);
		if (c->tls_ca == NULL) {
			return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
		}
	}
	if (opts->token != NULL && opts->token[0] != '\0') {
		size_t n = strnlen(opts->token, OD_CLIENT_TOKEN_MAX + 1);
		if (n > OD_CLIENT_TOKEN_MAX) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "token is longer than %u bytes", OD_CLIENT_TOKEN_MAX);
		}
		/* It travels as a proto3 string, which must be UTF-8. */
		if (!od_utf8_valid(opts->token, n)) {
			return od_status_set(
			    st, ORGDIR_INVALID_ARGUMENT, "token is not valid UTF-8");
		}
		c->token = malloc(n + 1);
		if (c->token == NULL) {
			return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
		}
		memcpy(c->token, opts->token, n + 1);
	}
	return ORGDIR_OK;
}

/* Maps a failure of nng_req0_open / option setting at open. */
static orgdir_code
open_failed(orgdir_status *st, const char *what, int rv)
{
	return od_status_set(st, rv == NNG_ENOMEM ? ORGDIR_RESOURCE_EXHAUSTED : ORGDIR_INTERNAL,
	    "cannot %s: %s", what, nng_strerror(rv));
}

/* The host part of a URL like tls+tcp://host:port, for certificate checks. */
static void
url_host(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	size_t n = 0;
	if (*p == '[') { /* [v6]:port */
		p++;
		while (p[n] != '\0' && p[n] != ']') {
			n++;
		}
	} else {
		while (p[n] != '\0' && p[n] != ':' && p[n] != '/') {
			n++;
		}
	}
	if (n >= cap) {
		n = cap - 1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * TLS: the server's certificate must chain to the given CA and match the
 * URL's host; there is no fallback to plaintext. The first connection is
 * tried at once so a certificate problem is reported as such, not as a
 * timeout later; a server that is merely not up yet is retried in the
 * background like any other.
 */
static orgdir_code
dial_tls(orgdir_client *c, const char *url, orgdir_status *st)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	char host[256];
	int rv;
	c->tls = true;
	if (c->tls_ca == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s is a TLS URL: give the CA file that signed the server's certificate "
		    "(tls_ca_file, orgctl --tls-ca)",
		    c->url);
	}
	url_host(url, host, sizeof(host));
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0) {
		return open_failed(st, "set up TLS", rv);
	}
	if ((rv = nng_tls_config_ca_file(cfg, c->tls_ca)) != 0) {
		nng_tls_config_free(cfg);
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "cannot use CA file '%s': %s (a PEM file of CA certificates)", c->tls_ca,
		    nng_strerror(rv));
	}
	nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	nng_tls_config_server_name(cfg, host);
	if ((rv = nng_dialer_create(&d, c->sock, url)) != 0) {
		nng_tls_config_free(cfg);
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "cannot use server URL '%s': %s",
		    c->url, nng_strerror(rv));
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the dialer holds its own reference */
	if (rv != 0) {
		return open_failed(st, "set up TLS", rv);
	}
	rv = nng_dialer_start(d, 0);
	if (rv == NNG_EPEERAUTH || rv == NNG_ECRYPTO) {
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "TLS handshake with %s failed: %s (is its certificate signed by the CA in "
		    "'%s', "
		    "and issued for '%s'?)",
		    c->url, nng_strerror(rv), c->tls_ca, host);
	}
	if (rv != 0 && (rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0 && rv != NNG_ESTATE) {
		return od_status_set(
		    st, ORGDIR_UNAVAILABLE, "cannot connect to %s: %s", c->url, nng_strerror(rv));
	}
	return ORGDIR_OK;
}

/* Sets up c's socket; on failure the caller closes it (if opened) and frees c. */
static orgdir_code
open_socket(orgdir_client *c, const char *url, bool *opened, orgdir_status *st)
{
	int rv;

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		return open_failed(st, "open an nng REQ socket", rv);
	}
	*opened = true;
	if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	         c->max_message_bytes + OD_CLIENT_ENVELOPE_MARGIN)) != 0) {
		return open_failed(st, "set the reply size limit", rv);
	}
	/*
	 * nng re-sends a request that has no answer after RESENDTIME (60 s by
	 * default), and at once when the connection it went out on is lost.
	 * Equal to the call timeout, the timer never fires before the caller
	 * has given up, while a server restart within the deadline is still
	 * ridden through. A re-send reuses the request_id, which the server
	 * remembers for writes, so it is never applied twice.
	 */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, c->timeout_ms)) != 0) {
		return open_failed(st, "set the re-send time", rv);
	}
	/* A lost server is dialed again after a random wait below 50 ms at
	 * first, doubling to below 1 s: a restarted server is found within
	 * a call's reconnect_ms, and a dead one is not hammered. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, OD_CLIENT_REDIAL_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, OD_CLIENT_REDIAL_MAX_MS)) != 0) {
		return open_failed(st, "set the reconnection times", rv);
	}
	/* Registered before dialing so that no pipe goes uncounted. */
	if ((rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c)) != 0) {
		return open_failed(st, "watch connections", rv);
	}
	if (strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss://", 6) == 0) {
		return dial_tls(c, url, st);
	}
	/* Non-blocking: the dialer keeps retrying in the background, so a
	 * client may be opened before its server starts. */
	if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		if (rv == NNG_ENOMEM) {
			return open_failed(st, "dial", rv);
		}
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "cannot use server URL '%s': %s (expected e.g. tcp://host:7470 or "
		    "ipc:///path/to/socket)",
		    c->url, nng_strerror(rv));
	}
	return ORGDIR_OK;
}

orgdir_code
orgdir_client_open(
    const char *url, const orgdir_options *opts, orgdir_client **client, orgdir_status *status)
{
	if (status != NULL) {
		status->revision = 0;
	}
	if (client == NULL) {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "orgdir_client_open: client must not be NULL");
	}
	*client = NULL;
	if (url == NULL || url[0] == '\0') {
		return od_status_set(
		    status, ORGDIR_INVALID_ARGUMENT, "orgdir_client_open: no server URL given");
	}

	orgdir_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return od_status_set(status, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	od_strlcpy(c->url, url, sizeof(c->url));
	atomic_init(&c->next_seq, 1);
	atomic_init(&c->pipes, 0);
	atomic_init(&c->ever_connected, false);
	atomic_init(&c->down_since, od_mono_ms());

	bool opened = false;
	orgdir_code code = apply_options(c, opts, status);
	if (code == ORGDIR_OK && (c->pool = od_reply_pool_new()) == NULL) {
		code = od_status_set(status, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (code == ORGDIR_OK && !fill_random(c->id_prefix, sizeof(c->id_prefix))) {
		code = od_status_set(status, ORGDIR_INTERNAL,
		    "cannot read random bytes for request ids (getrandom and /dev/urandom failed)");
	}
	if (code == ORGDIR_OK) {
		code = open_socket(c, url, &opened, status);
	}
	if (code != ORGDIR_OK) {
		if (opened) {
			nng_close(c->sock);
		}
		od_reply_pool_unref(c->pool);
		free(c->token);
		free(c->tls_ca);
		free(c);
		return code;
	}
	od_status_ok(status);
	*client = c;
	return ORGDIR_OK;
}

void
orgdir_client_close(orgdir_client *client)
{
	if (client == NULL) {
		return;
	}
	/* A connection still in its handshake when it closes stops a server's
	 * IPC listener for good on nng 1.5.2 (orgdird makes it again after a
	 * few seconds: src/server/ipcguard.c). A client closed right after it
	 * opened (orgctl import of a file it cannot parse) lets its dial
	 * finish first, for at most CLOSE_DIAL_WAIT_MS. */
	if (od_ipc_path(client->url) != NULL) {
		uint64_t until = od_mono_ms() + CLOSE_DIAL_WAIT_MS;
		while (!atomic_load(&client->ever_connected) && od_mono_ms() < until) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
		}
	}
	/* nng_close returns after every pipe callback has run, so the pipe
	 * counters in *client are no longer touched once it returns. */
	nng_close(client->sock);
	od_reply_pool_unref(client->pool);
	free(client->token);
	free(client->tls_ca);
	free(client);
}

bool
od_client_connected(const orgdir_client *client)
{
	return atomic_load(&client->pipes) > 0;
}

/* --- one call ---------------------------------------------------------------- */

/* Turns an nng failure of the send or receive step into a status that says
 * what to do. `lost`: the call gave up after reconnect_ms without a
 * connection (call_wait). NNG_* values stop here. */
static orgdir_code
transport_error(const orgdir_client *c, int rv, bool lost, int timeout_ms, orgdir_status *st)
{
	bool connected = !lost && atomic_load(&c->pipes) > 0;

	if (lost) {
		rv = NNG_ETIMEDOUT;
		timeout_ms = c->reconnect_ms;
	}
	switch (rv) {
	case NNG_ETIMEDOUT:
		if (connected) {
			return od_status_set(st, ORGDIR_DEADLINE_EXCEEDED,
			    "no answer from %s within %d ms", c->url, timeout_ms);
		}
		if (atomic_load(&c->ever_connected)) {
			return od_status_set(st, ORGDIR_UNAVAILABLE,
			    "lost the connection to %s and could not reconnect within %d ms: "
			    "is orgdird running?",
			    c->url, timeout_ms);
		}
		if (c->tls) {
			return od_status_set(st, ORGDIR_UNAVAILABLE,
			    "cannot connect to %s over TLS: is orgdird running there, with a "
			    "certificate signed by the CA in '%s'?",
			    c->url, c->tls_ca);
		}
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "cannot connect to %s within %d ms: is orgdird running?", c->url, timeout_ms);
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNREFUSED:
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "connection to %s lost during the call (%s): is orgdird running?", c->url,
		    nng_strerror(rv));
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return od_status_set(
		    st, ORGDIR_CANCELLED, "call to %s cancelled: %s", c->url, nng_strerror(rv));
	case NNG_ENOMEM:
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory calling %s", c->url);
	default:
		if (!connected) {
			return od_status_set(st, ORGDIR_UNAVAILABLE,
			    "cannot connect to %s (%s): is orgdird running?", c->url,
			    nng_strerror(rv));
		}
		return od_status_set(st, ORGDIR_UNAVAILABLE, "transport error with %s: %s", c->url,
		    nng_strerror(rv));
	}
}

/* Packs the envelope for one call into a new nng message (*msg owned by the
 * caller on OK). */
static orgdir_code
build_request(const orgdir_client *c, const char *method, const ProtobufCMessage *request,
    uint64_t seq, int timeout_ms, nng_msg **msg, orgdir_status *st)
{
	size_t body_len = protobuf_c_message_get_packed_size(request);
	if (body_len > c->max_message_bytes) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "%s request of %zu bytes exceeds max_message_bytes (%zu)", method, body_len,
		    c->max_message_bytes);
	}
	uint8_t *body = malloc(body_len > 0 ? body_len : 1);
	if (body == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	protobuf_c_message_pack(request, body);

	uint8_t rid[OD_CLIENT_REQUEST_ID_LEN];
	memcpy(rid, c->id_prefix, sizeof(c->id_prefix));
	for (unsigned i = 0; i < 8; i++) {
		rid[8 + i] = (uint8_t) (seq >> (56 - 8 * i)); /* big-endian: sorts by seq */
	}

	Orgdir__V1__Request env = ORGDIR__V1__REQUEST__INIT;
	env.method = (char *) method;
	env.call_id = seq;
	env.body.len = body_len;
	env.body.data = body;
	if (c->token != NULL) {
		env.auth_token = c->token;
	}
	env.deadline_ms = (uint32_t) timeout_ms;
	env.request_id.len = sizeof(rid);
	env.request_id.data = rid;
	env.max_reply_bytes = (uint32_t) c->max_message_bytes;

	size_t env_len = orgdir__v1__request__get_packed_size(&env);
	int rv = nng_msg_alloc(msg, env_len);
	if (rv != 0) {
		free(body);
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory: %s", nng_strerror(rv));
	}
	orgdir__v1__request__pack(&env, nng_msg_body(*msg));
	free(body);
	return ORGDIR_OK;
}

/* The callback of a call's aio, on an nng thread: wakes call_wait. Once
 * it unlocks, p may be gone. */
static void
aio_done(void *arg)
{
	od_call_pending *p = arg;
	pthread_mutex_lock(&p->mu);
	p->done = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Starts one step (send or receive) of p on its aio. */
static void
step_start(od_call_pending *p, void (*step)(nng_ctx, nng_aio *))
{
	p->done = false;
	p->lost = false;
	step(p->ctx, p->aio);
}

/* Waits for the step in flight on p's aio. While the client has no
 * connection, it looks every OD_CLIENT_CHECK_MS: once there has been none
 * for reconnect_ms of this call, it aborts the step and marks the call lost
 * (nng's own reconnection goes on, for the calls after it). */
static void
call_wait(const orgdir_client *c, od_call_pending *p)
{
	pthread_mutex_lock(&p->mu);
	while (!p->done) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += OD_CLIENT_CHECK_MS * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &at);
		if (p->done || p->lost || atomic_load(&c->pipes) > 0) {
			continue;
		}
		uint64_t since = atomic_load(&c->down_since);
		if (since < p->start) {
			since = p->start;
		}
		uint64_t now = od_mono_ms();
		if (now >= since && now - since >= (uint64_t) c->reconnect_ms) {
			p->lost = true;
			pthread_mutex_unlock(&p->mu);
			nng_aio_abort(p->aio, NNG_ECONNSHUT); /* aio_done follows */
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/* Releases what exchange_start set up in p. */
static void
call_release(od_call_pending *p)
{
	nng_aio_free(p->aio);
	p->aio = NULL;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

/* Sends msg (always consumed) on a fresh context, without waiting for the
 * send to complete: exchange_finish does. On OK, p holds the context. */
static orgdir_code
exchange_start(
    orgdir_client *c, nng_msg *msg, int timeout_ms, od_call_pending *p, orgdir_status *st)
{
	int rv;

	p->aio = NULL;
	p->start = od_mono_ms();
	p->timeout_ms = timeout_ms;
	p->done = false;
	p->lost = false;
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0) {
		nng_msg_free(msg);
		return transport_error(c, NNG_ENOMEM, false, timeout_ms, st);
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		nng_msg_free(msg);
		return transport_error(c, NNG_ENOMEM, false, timeout_ms, st);
	}
	pthread_mutex_init(&p->mu, NULL);
	if ((rv = nng_aio_alloc(&p->aio, aio_done, p)) != 0) {
		call_release(p);
		nng_msg_free(msg);
		return transport_error(c, rv, false, timeout_ms, st);
	}
	if ((rv = nng_ctx_open(&p->ctx, c->sock)) != 0) {
		call_release(p);
		nng_msg_free(msg);
		return transport_error(c, rv, false, timeout_ms, st);
	}
	/* A long poll outlives the socket's re-send time: re-send only when the
	 * whole call's time has passed. */
	if (timeout_ms != c->timeout_ms) {
		nng_ctx_set_ms(p->ctx, NNG_OPT_REQ_RESENDTIME, timeout_ms);
	}
	/* The send completes once a connected pipe takes the request; with no
	 * server it waits until the timeout. */
	nng_aio_set_timeout(p->aio, timeout_ms);
	nng_aio_set_msg(p->aio, msg);
	step_start(p, nng_ctx_send);
	return ORGDIR_OK;
}

/* Waits for exchange_start's send, then for the answer, and closes the
 * context. On OK *answer is the reply message, owned by the caller. */
static orgdir_code
exchange_finish(orgdir_client *c, od_call_pending *p, nng_msg **answer, orgdir_status *st)
{
	*answer = NULL;
	call_wait(c, p);
	int rv = nng_aio_result(p->aio);
	if (rv != 0) {
		/* A failed send hands the message back to us. */
		nng_msg *back = nng_aio_get_msg(p->aio);
		if (back != NULL) {
			nng_msg_free(back);
		}
	} else {
		/* One deadline for the whole call, not one per step. */
		uint64_t spent = od_mono_ms() - p->start;
		nng_duration left = spent >= (uint64_t) p->timeout_ms
		    ? 1
		    : (nng_duration) ((uint64_t) p->timeout_ms - spent);
		nng_aio_set_timeout(p->aio, left);
		step_start(p, nng_ctx_recv);
		call_wait(c, p);
		rv = nng_aio_result(p->aio);
		if (rv == 0) {
			*answer = nng_aio_get_msg(p->aio);
		}
	}
	nng_ctx_close(p->ctx);
	bool lost = p->lost;
	call_release(p);
	if (rv != 0) {
		return transport_error(c, rv, lost, p->timeout_ms, st);
	}
	return ORGDIR_OK;
}

orgdir_code
orgdir_client_call(orgdir_client *client, const char *method, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, orgdir_reply **reply, ProtobufCMessage **out,
    orgdir_status *status)
{
	return od_client_call_ex(client, method, request, reply_desc, 0, reply, out, status);
}

orgdir_code
od_client_call_start(orgdir_client *client, const char *method, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, uint32_t extra_ms, orgdir_reply **reply,
    ProtobufCMessage **out, od_call_pending *p, orgdir_status *status)
{
	p->aio = NULL;
	if (status != NULL) {
		status->revision = 0;
	}
	if (reply != NULL) {
		*reply = NULL;
	}
	if (out != NULL) {
		*out = NULL;
	}
	if (client == NULL || method == NULL || request == NULL || reply_desc == NULL ||
	    reply == NULL || out == NULL) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT,
		    "orgdir_client_call: client, method, request, reply_desc, reply and out must "
		    "not be NULL");
	}
	size_t method_len = strnlen(method, OD_CLIENT_METHOD_MAX + 1);
	if (method_len == 0 || method_len > OD_CLIENT_METHOD_MAX) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT,
		    "method name must be 1 to %u bytes", OD_CLIENT_METHOD_MAX);
	}
	/* Cheap guards against a wrong pointer cast to a message. */
	if (request->descriptor == NULL ||
	    request->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
	    reply_desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		return od_status_set(status, ORGDIR_INVALID_ARGUMENT,
		    "orgdir_client_call: request or reply_desc is not a protobuf-c message");
	}

	p->client = client;
	p->reply_desc = reply_desc;
	p->seq = atomic_fetch_add(&client->next_seq, 1);
	nng_msg *msg = NULL;
	int timeout_ms = client->timeout_ms + (int) extra_ms;
	orgdir_code code = build_request(client, method, request, p->seq, timeout_ms, &msg, status);
	if (code != ORGDIR_OK) {
		return code;
	}
	return exchange_start(client, msg, timeout_ms, p, status);
}

orgdir_code
od_client_call_finish(
    od_call_pending *p, orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *status)
{
	orgdir_client *client = p->client;
	nng_msg *answer = NULL;
	orgdir_code code = exchange_finish(client, p, &answer, status);
	if (code != ORGDIR_OK) {
		return code;
	}
	code = od_client_decode_reply(nng_msg_body(answer), nng_msg_len(answer), p->seq,
	    client->max_message_bytes, client->url, client->pool, p->reply_desc, reply, out,
	    status);
	nng_msg_free(answer);
	return code;
}

orgdir_code
od_client_call_ex(orgdir_client *client, const char *method, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *reply_desc, uint32_t extra_ms, orgdir_reply **reply,
    ProtobufCMessage **out, orgdir_status *status)
{
	od_call_pending p;
	orgdir_code code = od_client_call_start(
	    client, method, request, reply_desc, extra_ms, reply, out, &p, status);
	if (code != ORGDIR_OK) {
		return code;
	}
	return od_client_call_finish(&p, reply, out, status);
}
