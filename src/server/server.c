/* server.c - the listening socket and its fixed pool of REP contexts, each
 * a small state machine driven by one aio callback (never blocking). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#define ARENA_FACTOR 8 /* a request may decode into this many times its size */
#define ENVELOPE_MARGIN (64u << 10)
#define STRING_FIELD_MAX (16u << 10) /* any string in any request */
#define OUT_KEEP_MAX (256u << 10) /* reply buffer kept by an idle context */
#define FAIL_LOG_PER_SEC 20u /* "call failed" lines a second (log_failure) */
/* The server's one spare large reply buffer (od_call_reserve_reply): at most
 * this much stays mapped between calls. Enough for a whole subtree of
 * ~23,000 units (od_buf allocates powers of two; 10,000 units take 4 MiB). */
#define SPARE_KEEP_MAX (8u << 20)

static void ctx_cb(void *arg);

/* After the reply is framed: a buffer that a large reply grew goes to the
 * server's spare slot when the slot is empty and it is not too large, and
 * is freed otherwise. */
static void
spare_give(struct od_server *srv, od_buf *out)
{
	pthread_mutex_lock(&srv->spare_mu);
	if (srv->spare == NULL && out->alloc <= SPARE_KEEP_MAX) {
		srv->spare = out->data;
		srv->spare_size = out->alloc;
		out->data = NULL;
		out->alloc = 0;
	}
	pthread_mutex_unlock(&srv->spare_mu);
	od_buf_free(out);
}

bool
od_call_reserve_reply(od_call *call, size_t n)
{
	od_buf *out = call->out;
	struct od_server *srv = call->srv;
	if (n > OUT_KEEP_MAX && out->len == 0 && out->alloc < n) {
		pthread_mutex_lock(&srv->spare_mu);
		if (srv->spare_size > out->alloc) {
			od_buf_free(out); /* small: send_reply gives larger ones away */
			out->data = srv->spare;
			out->alloc = srv->spare_size;
			srv->spare = NULL;
			srv->spare_size = 0;
		}
		pthread_mutex_unlock(&srv->spare_mu);
	}
	return od_buf_reserve(out, n);
}

static void
recv_next(struct od_ctx *c)
{
	c->state = ST_RECV;
	nng_ctx_recv(c->ctx, c->aio);
}

static orgdir_code ctx_new(struct od_server *srv, struct od_ctx **out, orgdir_status *st);

void
od_ctx_top_up(struct od_server *srv)
{
	struct od_ctx *start = NULL;
	pthread_mutex_lock(&srv->ctx_mu);
	if (!srv->ctx_closed && atomic_load(&srv->circ_extra) < atomic_load(&srv->parked)) {
		if (srv->n_idle > 0) {
			start = srv->idle[--srv->n_idle];
		} else if (srv->n_extra < srv->max_extra) {
			orgdir_status st;
			if (ctx_new(srv, &start, &st) == ORGDIR_OK) {
				srv->ctxs[srv->n_ctx + srv->n_extra++] = start;
			} else {
				od_log("warn", "no context for the calls beside a long poll: %s",
				    st.message);
			}
		}
		if (start != NULL) {
			atomic_fetch_add(&srv->circ_extra, 1);
		}
	}
	pthread_mutex_unlock(&srv->ctx_mu);
	if (start != NULL) {
		recv_next(start);
	}
}

/* After an answer went out: true when the context goes idle instead of
 * receiving, because more contexts are in use beyond n_ctx than calls are
 * parked. No lock unless some are. */
static bool
ctx_retire(struct od_ctx *c)
{
	struct od_server *srv = c->srv;
	if (atomic_load(&srv->circ_extra) <= atomic_load(&srv->parked)) {
		return false;
	}
	bool retire = false;
	pthread_mutex_lock(&srv->ctx_mu);
	if (atomic_load(&srv->circ_extra) > atomic_load(&srv->parked)) {
		atomic_fetch_sub(&srv->circ_extra, 1);
		srv->idle[srv->n_idle++] = c;
		retire = true;
	}
	pthread_mutex_unlock(&srv->ctx_mu);
	return retire;
}

/* Logs a failed call: FAIL_LOG_PER_SEC a second at most (server.h) of
 * those a client causes (`turned_away`: a long poll refused for the
 * clients' numbers, UNAVAILABLE as it is); the server's own failures
 * (INTERNAL, DATA_LOSS, UNAVAILABLE, UNKNOWN) always, so a flood never
 * hides one. */
static void
log_failure(struct od_server *srv, const char *method, const orgdir_status *st, bool turned_away)
{
	bool always = !turned_away &&
	    (st->code == ORGDIR_INTERNAL || st->code == ORGDIR_DATA_LOSS ||
	        st->code == ORGDIR_UNAVAILABLE || st->code == ORGDIR_UNKNOWN);
	uint64_t dropped = 0;
	bool write = always;
	if (!always) {
		uint64_t sec = od_mono_ms() / 1000u;
		pthread_mutex_lock(&srv->fail_log_mu);
		if (sec != srv->fail_log_sec) {
			srv->fail_log_sec = sec;
			srv->fail_log_lines = 0;
		}
		if (srv->fail_log_lines < FAIL_LOG_PER_SEC) {
			srv->fail_log_lines++;
			dropped = srv->fail_log_dropped;
			srv->fail_log_dropped = 0;
			write = true;
		} else {
			srv->fail_log_dropped++;
		}
		pthread_mutex_unlock(&srv->fail_log_mu);
	}
	if (dropped > 0) {
		od_log("warn", "%llu more failed calls were not logged (at most %u lines a second)",
		    (unsigned long long) dropped, FAIL_LOG_PER_SEC);
	}
	if (write) {
		od_log("warn", "call failed: %s %s: %s", method, orgdir_code_name(st->code),
		    st->message);
	}
}

static void
send_reply(struct od_ctx *c, orgdir_status *st, uint64_t revision)
{
	if (st->code == ORGDIR_OK && (c->out.overflow || c->out.len > c->max_reply)) {
		od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "%s: the reply is larger than the %zu-byte limit; ask for less (page_size, "
		    "max_depth) or raise the limit",
		    c->m ? c->m->name : "call", c->max_reply);
	}
	if (st->code != ORGDIR_OK) {
		log_failure(c->srv, c->m ? c->m->name : "?", st, c->turned_away);
	}
	if (!od_frame_reply(c->msg, c->call_id, st, &c->out, revision)) {
		/* Only allocation can fail here: answer with the status alone. */
		od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "server out of memory building the reply");
		od_frame_reply(c->msg, c->call_id, st, NULL, 0);
	}
	nng_aio_set_msg(c->aio, c->msg);
	c->msg = NULL;
	/* A context keeps its reply buffer between calls, but not one a large
	 * reply (a whole subtree) grew: 128 of those would pin gigabytes. The
	 * server keeps one of them. */
	if (c->out.alloc > OUT_KEEP_MAX) {
		spare_give(c->srv, &c->out);
	}
	/* Nor the chunks a large request (an import's part) decoded into:
	 * the reply is in the message now, and nothing else reads the arena. */
	od_arena_reset_keep(&c->arena, OUT_KEEP_MAX);
	c->state = ST_SEND;
	nng_ctx_send(c->ctx, c->aio);
}

static orgdir_code
decode(
    struct od_ctx *c, const ProtobufCMessage **body, Orgdir__V1__Request **env, orgdir_status *st)
{
	/* Decoded by hand, in place: the body stays in the message until the
	 * method's own decoder has copied what it needs. */
	Orgdir__V1__Request *req = od_arena_alloc(&c->arena, sizeof(*req));
	if (req != NULL &&
	    !od_frame_decode_request(nng_msg_body(c->msg), nng_msg_len(c->msg), &c->arena, req)) {
		req = NULL;
	}
	if (req == NULL) {
		return c->arena.exhausted
		    ? od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "request too large to decode")
		    : od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		          "malformed request: not an orgdir.v1.Request envelope");
	}
	*env = req;
	c->call_id = req->call_id;
	if (req->max_reply_bytes != 0 && req->max_reply_bytes < c->max_reply) {
		c->max_reply = req->max_reply_bytes;
	}
	if (!od_utf8_valid(req->method, strlen(req->method)) || strlen(req->method) > 64) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "malformed request: method name");
	}
	c->m = od_method_find(req->method);
	if (c->m == NULL) {
		return od_status_set(st, ORGDIR_UNIMPLEMENTED,
		    "method '%s' is not implemented by this server (ServerInfo lists the methods)",
		    req->method);
	}
	const ProtobufCMessageDescriptor *in = c->m->desc->input;
	/* Every string checked (UTF-8, no NUL, at most STRING_FIELD_MAX) as it
	 * is decoded. */
	od_pb_bad_string bad = {0};
	ProtobufCMessage *b = od_pb_unpack_checked(
	    in, &c->arena.pb, req->body.len, req->body.data, STRING_FIELD_MAX, &bad);
	if (b == NULL) {
		if (bad.msg != NULL) {
			return od_pb_bad_string_status(&bad, STRING_FIELD_MAX, st);
		}
		return c->arena.exhausted ? od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		                                "%s: request too large to decode", c->m->name)
		                          : od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		                                "%s: malformed %s body", c->m->name, in->name);
	}
	*body = b;
	c->packed.data = req->body.data;
	c->packed.len = req->body.len;
	return ORGDIR_OK;
}

static const char *
role_name(int role)
{
	switch (role) {
	case ORGDIR__V1__ROLE__READER:
		return "reader";
	case ORGDIR__V1__ROLE__EDITOR:
		return "editor";
	case ORGDIR__V1__ROLE__ADMIN:
		return "admin";
	default:
		return "none";
	}
}

/*
 * Authentication and authorisation, on the snapshot `txn`. A token, when
 * given, must be valid; a call needs one when it writes, when its role is
 * above reader, or when the server requires auth for reads. Never logs the
 * token.
 */
static orgdir_code
authorize(
    struct od_ctx *c, const Orgdir__V1__Request *env, od_txn *txn, char *actor, orgdir_status *st)
{
	const od_method *m = c->m;
	od_token_auth who = {"", 0};
	actor[0] = '\0';
	if (m->flags & OD_M_OPEN) {
		return ORGDIR_OK;
	}
	bool needs =
	    (m->flags & OD_M_WRITE) || m->role > ORGDIR__V1__ROLE__READER || c->srv->require_auth;
	if (env->auth_token[0] != '\0') {
		orgdir_code code = od_token_check(txn, env->auth_token, &who, st);
		if (code != ORGDIR_OK) {
			return code;
		}
		od_strlcpy(actor, who.name, OD_ID_MAX + 1);
	} else if (needs) {
		return od_status_set(st, ORGDIR_UNAUTHENTICATED,
		    "%s needs a token with role %s or higher: pass one with --token, ORGDIR_TOKEN "
		    "or "
		    "--token-file",
		    m->name, role_name(m->role));
	}
	if (needs && who.role < m->role) {
		return od_status_set(st, ORGDIR_PERMISSION_DENIED,
		    "token '%s' has role %s; %s needs %s", who.name, role_name(who.role), m->name,
		    role_name(m->role));
	}
	return ORGDIR_OK;
}

/*
 * Runs a read method on a fresh snapshot; false when the answer comes later
 * from another thread. A parked or deferred call is handed over only here,
 * once this thread has ended its snapshot: from then on another thread may
 * answer, and the context (reader, arena, reply buffer) is theirs.
 */
static bool
run_read(struct od_ctx *c, orgdir_status *st, uint64_t *revision)
{
	for (;;) {
		od_call call = {
		    .srv = c->srv, .arena = &c->arena, .out = &c->out, .ctx = c, .body = c->packed};
		od_buf_reset(&c->out);
		if (!(c->m->flags & OD_M_NOSTORE)) {
			if (od_reader_begin(c->reader, &call.txn, st) != ORGDIR_OK) {
				return true;
			}
			*revision = od_txn_revision(call.txn);
		}
		c->parked_at_rev = *revision;
		c->m->handler(&call, c->body, st);
		if (call.txn != NULL) {
			od_reader_end(c->reader);
		}
		if (call.deferred) {
			/* Whoever of this thread and the finisher comes second answers. */
			if (atomic_fetch_sub(&c->handoff, 1) != 1) {
				return false;
			}
			*st = c->finished;
			*revision = c->finished_rev;
			return true;
		}
		if (!call.parked || od_watch_enqueue(c)) {
			return !call.parked;
		}
		/* The watch thread stopped between the park and now: answer at
		 * once with what there is. */
		c->expired = true;
		*st = (orgdir_status){ORGDIR_OK, "", 0};
	}
}

static void
handle(struct od_ctx *c)
{
	orgdir_status st = {ORGDIR_OK, "", 0};
	const ProtobufCMessage *body = NULL;
	Orgdir__V1__Request *env = NULL;
	uint64_t revision = 0;
	char actor[OD_ID_MAX + 1];

	od_arena_reset(&c->arena);
	od_buf_reset(&c->out);
	c->call_id = 0;
	c->m = NULL;
	c->packed = (od_val){NULL, 0};
	c->expired = false;
	c->wake_now = false;
	c->turned_away = false;
	c->max_reply = c->srv->max_reply;
	if (decode(c, &body, &env, &st) != ORGDIR_OK) {
		send_reply(c, &st, 0);
		return;
	}
	c->body = body;
	c->deadline_ms = env->deadline_ms;
	if (!(c->m->flags & OD_M_OPEN)) {
		od_txn *txn;
		if (od_reader_begin(c->reader, &txn, &st) != ORGDIR_OK) {
			send_reply(c, &st, 0);
			return;
		}
		orgdir_code code = authorize(c, env, txn, actor, &st);
		od_reader_end(c->reader);
		if (code != ORGDIR_OK) {
			send_reply(c, &st, 0);
			return;
		}
	}
	if (c->m->flags & OD_M_WRITE) {
		struct od_write_job *j = &c->job;
		memset(j, 0, sizeof(*j));
		j->ctx = c;
		j->m = c->m;
		j->req = body;
		j->body = c->packed;
		j->request_id.data = env->request_id.data;
		j->request_id.len = env->request_id.len;
		od_strlcpy(j->actor, actor, sizeof(j->actor));
		c->state = ST_WRITE;
		od_writer_submit(c->srv->writer, j);
		return;
	}
	c->state = ST_PARKED; /* until run_read says otherwise */
	if (run_read(c, &st, &revision)) {
		send_reply(c, &st, revision);
	}
}

void
od_call_defer(od_call *call)
{
	call->deferred = true;
	atomic_store(&call->ctx->handoff, 2);
}

void
od_call_undefer(od_call *call)
{
	call->deferred = false;
}

void
od_ctx_finish(struct od_ctx *c, orgdir_status *st, uint64_t revision)
{
	c->finished = *st;
	c->finished_rev = revision;
	if (atomic_fetch_sub(&c->handoff, 1) == 1) {
		send_reply(c, &c->finished, c->finished_rev);
	}
}

void
od_ctx_rerun(struct od_ctx *c)
{
	orgdir_status st = {ORGDIR_OK, "", 0};
	uint64_t revision = 0;
	if (run_read(c, &st, &revision)) {
		send_reply(c, &st, revision);
	}
}

void
od_ctx_write_done(struct od_ctx *c)
{
	struct od_write_job *j = &c->job;
	if (j->recorded.len > 0) {
		/* A re-sent write: answer with what the first execution answered. */
		if (od_frame_recorded(c->msg, c->call_id, &j->recorded)) {
			nng_aio_set_msg(c->aio, c->msg);
			c->msg = NULL;
			c->state = ST_SEND;
			nng_ctx_send(c->ctx, c->aio);
			return;
		}
		od_status_set(&j->status, ORGDIR_RESOURCE_EXHAUSTED, "server out of memory");
	}
	send_reply(c, &j->status, j->revision);
}

od_buf *
od_ctx_out(struct od_ctx *c)
{
	return &c->out;
}

od_arena *
od_ctx_arena(struct od_ctx *c)
{
	return &c->arena;
}

static void
ctx_cb(void *arg)
{
	struct od_ctx *c = arg;
	int rv = nng_aio_result(c->aio);

	switch (c->state) {
	case ST_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
		}
		if (rv != NNG_ECLOSED && !atomic_load(&c->srv->stopping) && !ctx_retire(c)) {
			recv_next(c);
		}
		break;
	case ST_RECV:
		if (rv != 0) {
			if (rv != NNG_ECLOSED && !atomic_load(&c->srv->stopping)) {
				recv_next(c);
			}
			break;
		}
		c->msg = nng_aio_get_msg(c->aio);
		handle(c);
		break;
	case ST_WRITE:
	case ST_PARKED:
		break; /* completed by the writer or watch.c, never by the aio */
	}
}

static void
ctx_free(struct od_ctx *c)
{
	if (c == NULL) {
		return;
	}
	if (c->aio != NULL) {
		nng_aio_stop(c->aio);
		nng_aio_free(c->aio);
	}
	nng_ctx_close(c->ctx);
	if (c->msg != NULL) {
		nng_msg_free(c->msg);
	}
	od_reader_free(c->reader);
	od_arena_destroy(&c->arena);
	od_buf_free(&c->out);
	free(c);
}

static orgdir_code
ctx_new(struct od_server *srv, struct od_ctx **out, orgdir_status *st)
{
	struct od_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	c->srv = srv;
	od_arena_init(&c->arena, srv->max_message * ARENA_FACTOR + (1u << 20));
	od_buf_init(&c->out, srv->max_reply);
	int rv = nng_ctx_open(&c->ctx, srv->sock);
	if (rv == 0) {
		rv = nng_aio_alloc(&c->aio, ctx_cb, c);
	}
	if (rv != 0) {
		ctx_free(c);
		return od_status_set(
		    st, ORGDIR_INTERNAL, "cannot create a server context: %s", nng_strerror(rv));
	}
	orgdir_code code = od_reader_new(srv->store, &c->reader, st);
	if (code != ORGDIR_OK) {
		ctx_free(c);
		return code;
	}
	*out = c;
	return ORGDIR_OK;
}

/* Reads a small PEM file into a NUL-terminated heap string (caller frees). */
static char *
read_pem(const char *path, orgdir_status *st)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		od_status_set(
		    st, ORGDIR_FAILED_PRECONDITION, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1u << 20, n = 0;
	char *buf = malloc(cap + 1);
	if (buf != NULL) {
		n = fread(buf, 1, cap, f);
		buf[n] = '\0';
	}
	fclose(f);
	if (buf == NULL || n == 0 || n == cap) {
		free(buf);
		od_status_set(
		    st, ORGDIR_FAILED_PRECONDITION, "%s is empty or larger than 1 MiB", path);
		return NULL;
	}
	return buf;
}

/* A TLS listener: our certificate and key; clients are not asked for one
 * (they authenticate with tokens). */
static orgdir_code
listen_tls(struct od_server *srv, const od_server_opts *o, const char *url, orgdir_status *st)
{
	if (o->tls_cert_file == NULL || o->tls_key_file == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s needs --tls-cert FILE and --tls-key FILE", url);
	}
	char *cert = read_pem(o->tls_cert_file, st);
	char *key = cert != NULL ? read_pem(o->tls_key_file, st) : NULL;
	nng_tls_config *cfg = NULL;
	nng_listener l;
	int rv = cert != NULL && key != NULL ? nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER) : -1;
	if (rv == 0) {
		rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
		if (rv != 0) {
			od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "cannot use certificate %s with key %s: %s", o->tls_cert_file,
			    o->tls_key_file, nng_strerror(rv));
		}
	}
	if (key != NULL) {
		/* The key leaves our memory once mbed TLS has parsed it:
		 * explicit_bzero, since a memset just before free is a dead store
		 * that gcc -O2 drops (it did, in the Release build). */
		explicit_bzero(key, strlen(key));
	}
	free(cert);
	free(key);
	if (rv != 0) {
		if (cfg != NULL) {
			nng_tls_config_free(cfg);
		}
		return st->code != ORGDIR_OK
		    ? st->code
		    : od_status_set(st, ORGDIR_INTERNAL, "cannot set up TLS");
	}
	rv = nng_listener_create(&l, srv->sock, url);
	if (rv == 0) {
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
	}
	nng_tls_config_free(cfg); /* the listener holds its own reference */
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	if (rv != 0) {
		return od_status_set(
		    st, ORGDIR_UNAVAILABLE, "cannot listen on %s: %s", url, nng_strerror(rv));
	}
	return ORGDIR_OK;
}

orgdir_code
od_server_check_urls(const char *const *urls, size_t n, orgdir_status *st)
{
	nng_socket sock;
	int rv = nng_rep0_open(&sock);
	if (rv != 0) {
		return od_status_set(
		    st, ORGDIR_INTERNAL, "cannot open a socket: %s", nng_strerror(rv));
	}
	orgdir_code c = ORGDIR_OK;
	for (size_t i = 0; i < n && c == ORGDIR_OK; i++) {
		nng_listener l;
		/* Created, never started: parses the URL and finds its transport. */
		rv = nng_listener_create(&l, sock, urls[i]);
		if (rv != 0) {
			c = od_status_set(st, ORGDIR_INVALID_ARGUMENT, "cannot listen on %s: %s",
			    urls[i], nng_strerror(rv));
		}
	}
	nng_close(sock);
	return c;
}

orgdir_code
od_server_start(
    struct od_server *srv, struct od_store *store, const od_server_opts *o, orgdir_status *st)
{
	int32_t ns;
	memset(srv, 0, sizeof(*srv));
	srv->store = store;
	srv->max_message = o->max_message_bytes ? o->max_message_bytes : OD_MESSAGE_MAX_DEFAULT;
	od_now(&srv->start_sec, &ns);
	srv->max_reply = o->max_reply_bytes ? o->max_reply_bytes : OD_REPLY_MAX_DEFAULT;
	srv->require_auth = o->require_auth;
	srv->max_import_units =
	    o->max_import_units ? o->max_import_units : OD_IMPORT_UNITS_MAX_DEFAULT;
	if (pthread_mutex_init(&srv->spare_mu, NULL) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot create a mutex");
	}
	srv->spare_inited = true;
	if (pthread_mutex_init(&srv->fail_log_mu, NULL) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot create a mutex");
	}
	srv->fail_log_inited = true;
	orgdir_code c = od_methods_init(st);
	if (c != ORGDIR_OK || (c = od_watch_init(srv, st)) != ORGDIR_OK) {
		return c;
	}
	int rv = nng_rep0_open(&srv->sock);
	if (rv != 0) {
		return od_status_set(
		    st, ORGDIR_INTERNAL, "cannot open socket: %s", nng_strerror(rv));
	}
	/* Refuse over-size requests at the transport, before allocating them. */
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, srv->max_message + ENVELOPE_MARGIN);
	if ((c = od_writer_start(srv, &srv->writer, st)) != ORGDIR_OK) {
		nng_close(srv->sock);
		return c;
	}
	srv->n_ctx = o->contexts ? o->contexts : 128;
	srv->max_extra = srv->n_ctx * OD_PARKED_PER_CONTEXT;
	if (pthread_mutex_init(&srv->ctx_mu, NULL) != 0) {
		od_server_stop(srv);
		return od_status_set(st, ORGDIR_INTERNAL, "cannot create a mutex");
	}
	srv->ctx_mu_inited = true;
	srv->ctxs = calloc(srv->n_ctx + srv->max_extra, sizeof(*srv->ctxs));
	srv->idle = calloc(srv->max_extra + 1, sizeof(*srv->idle));
	if (srv->ctxs == NULL || srv->idle == NULL) {
		od_server_stop(srv);
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (unsigned i = 0; i < srv->n_ctx; i++) {
		if ((c = ctx_new(srv, &srv->ctxs[i], st)) != ORGDIR_OK) {
			od_server_stop(srv);
			return c;
		}
	}
	if ((c = od_ipc_guard_new(&srv->ipc_guard, srv->sock, st)) != ORGDIR_OK) {
		od_server_stop(srv);
		return c;
	}
	for (size_t i = 0; i < o->n_listen; i++) {
		if (od_ipc_guarded_url(o->listen[i])) {
			if ((c = od_ipc_guard_listen(srv->ipc_guard, o->listen[i], st)) !=
			    ORGDIR_OK) {
				od_server_stop(srv);
				return c;
			}
			continue;
		}
		if (strncmp(o->listen[i], "tls+", 4) == 0 ||
		    strncmp(o->listen[i], "wss://", 6) == 0) {
			if ((c = listen_tls(srv, o, o->listen[i], st)) != ORGDIR_OK) {
				od_server_stop(srv);
				return c;
			}
			continue;
		}
		rv = nng_listen(srv->sock, o->listen[i], NULL, 0);
		if (rv != 0) {
			od_server_stop(srv);
			return od_status_set(st, ORGDIR_UNAVAILABLE, "cannot listen on %s: %s",
			    o->listen[i], nng_strerror(rv));
		}
	}
	if ((c = od_ipc_guard_start(srv->ipc_guard, st)) != ORGDIR_OK) {
		od_server_stop(srv);
		return c;
	}
	for (unsigned i = 0; i < srv->n_ctx; i++) {
		recv_next(srv->ctxs[i]);
	}
	return ORGDIR_OK;
}

void
od_server_stop(struct od_server *srv)
{
	/* Order matters: nng 1.5 can abort when nng_close races a send on
	 * another thread. So: no new receives, drain the writer (it answers
	 * what it holds while the socket is open), wait for every context's
	 * callback, and only then close the socket. */
	atomic_store(&srv->stopping, true);
	if (srv->writer != NULL) {
		od_writer_stop(srv->writer);
	}
	od_watch_stop(srv); /* parked long polls answer now */
	od_transfer_stop(srv); /* backups in progress answer now */
	od_ipc_guard_stop(srv->ipc_guard); /* no listener made again from here on */
	unsigned all = srv->n_ctx;
	if (srv->ctx_mu_inited) {
		pthread_mutex_lock(&srv->ctx_mu);
		srv->ctx_closed = true; /* no extra context made from here on */
		all += srv->n_extra;
		pthread_mutex_unlock(&srv->ctx_mu);
	}
	if (srv->ctxs != NULL) {
		for (unsigned i = 0; i < all; i++) {
			if (srv->ctxs[i] != NULL && srv->ctxs[i]->aio != NULL) {
				nng_aio_stop(srv->ctxs[i]->aio);
			}
		}
	}
	nng_close(srv->sock);
	od_ipc_guard_free(srv->ipc_guard);
	srv->ipc_guard = NULL;
	if (srv->writer != NULL) {
		od_writer_free(srv->writer);
		srv->writer = NULL;
	}
	if (srv->ctxs != NULL) {
		for (unsigned i = 0; i < all; i++) {
			ctx_free(srv->ctxs[i]);
		}
		free(srv->ctxs);
		srv->ctxs = NULL;
	}
	free(srv->idle);
	srv->idle = NULL;
	if (srv->ctx_mu_inited) {
		pthread_mutex_destroy(&srv->ctx_mu);
		srv->ctx_mu_inited = false;
	}
	if (srv->spare_inited) {
		free(srv->spare);
		srv->spare = NULL;
		srv->spare_size = 0;
		pthread_mutex_destroy(&srv->spare_mu);
		srv->spare_inited = false;
	}
	if (srv->fail_log_inited) {
		if (srv->fail_log_dropped > 0) {
			od_log("warn", "%llu more failed calls were not logged",
			    (unsigned long long) srv->fail_log_dropped);
		}
		pthread_mutex_destroy(&srv->fail_log_mu);
		srv->fail_log_inited = false;
	}
	if (srv->watch_inited) {
		pthread_mutex_destroy(&srv->watch_mu);
		pthread_cond_destroy(&srv->watch_cv);
		srv->watch_inited = false;
	}
}
