/*
 * h_transfer.c - ExportDirectory, ImportDirectory and Backup.
 *
 * Import sessions: a document larger than a request travels in parts.
 * begin_session opens a session (a random id); each request with that
 * session adds a part; the one with commit imports the parts together. The
 * sessions live in this process, owned by struct od_import_sessions, and
 * only the writer thread (which runs every ImportDirectory) touches them,
 * so they need no lock. A part is kept as the request's decode left it:
 * the session takes the request's arena (od_arena_move) from its context,
 * and the commit imports the parts' units and countries side by side, with
 * no second decode of the document.
 *
 * The writer may run a batch again after growing the map, handlers
 * included. What a request did to the sessions is kept in its job's
 * od_once, so a second run neither opens a second session nor adds its
 * part twice; and a committed session stays (answering a commit again)
 * for a minute before it is dropped.
 *
 * Backup copies the environment on a detached thread of its own: neither an
 * nng callback nor the writer waits for it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"
#include "transfer.h"

#define SESSIONS_MAX 4
/* All sessions' parts together, decoded: about 4 times their packed size
 * (client_int.h), so a packed document of ~1 GiB. */
#define SESSION_BYTES_MAX ((size_t) 4 << 30)
#define SESSION_IDLE_MS (10u * 60u * 1000u)
#define SESSION_DONE_MS (60u * 1000u)
#define SESSION_ID_BYTES 16
/* The cap of the import's own bookkeeping, per packed byte of the
 * document (whose decode, in the parts' arenas, it does not count), and
 * beside it. */
#define DOC_ARENA_FACTOR 10u
#define DOC_ARENA_EXTRA ((size_t) 64 << 20)
#define BACKUPS_MAX 2

struct session {
	bool used;
	bool done; /* committed (or abandoned): kept only to answer a re-run */
	bool abandoned; /* ended without a commit: its parts are gone */
	bool released; /* its commit is durable: its parts are gone too */
	char id[2 * SESSION_ID_BYTES + 1];
	struct part **parts; /* in the order they came */
	size_t n_parts, cap_parts;
	size_t bytes; /* the parts' arenas: what they take of SESSION_BYTES_MAX */
	size_t packed; /* the parts' packed Directory bytes */
	size_t units;
	uint64_t touched_ms;
};

/* A part: a request's decode, its Directory `dir` in `arena`. */
struct part {
	od_arena arena;
	const Orgdir__V1__Directory *dir;
};

struct od_import_sessions {
	struct session s[SESSIONS_MAX];
	size_t bytes; /* held by all sessions */
	/* SESSION_IDLE_MS, or ORGDIRD_TEST_IMPORT_IDLE_MS for tests. */
	uint64_t idle_ms;
};

static orgdir_code
reply(od_call *c, const ProtobufCMessage *m, orgdir_status *st)
{
	return od_pb_put_message(c->out, 0, m)
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "reply exceeds the message size limit");
}

/* --- export ----------------------------------------------------------------------- */

orgdir_code
od_h_export_directory(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	(void) req;
	/* Stop at the client's cap, not the server's: no point building more. */
	size_t cap = c->out->cap;
	size_t want = c->ctx != NULL && c->ctx->max_reply < cap ? c->ctx->max_reply : cap;
	c->out->cap = want;
	orgdir_code code = od_export(c->txn, c->out, st);
	c->out->cap = cap;
	if (code == ORGDIR_RESOURCE_EXHAUSTED) {
		od_status_set(st, code,
		    "ExportDirectory: the directory is larger than %zu bytes, the reply limit of "
		    "this "
		    "call: open the client with a larger max_message_bytes (up to 256 MiB), or "
		    "raise "
		    "orgdird --max-reply-bytes",
		    want);
	}
	return code;
}

/* --- import sessions -------------------------------------------------------------------- */

/* Frees s's parts (the session itself stays). */
static void
parts_free(struct od_import_sessions *is, struct session *s)
{
	for (size_t i = 0; i < s->n_parts; i++) {
		od_arena_destroy(&s->parts[i]->arena);
		free(s->parts[i]);
	}
	free(s->parts);
	s->parts = NULL;
	s->n_parts = s->cap_parts = 0;
	is->bytes -= s->bytes;
	s->bytes = 0;
}

static void
session_free(struct od_import_sessions *is, struct session *s)
{
	parts_free(is, s);
	memset(s, 0, sizeof(*s));
}

static void
sessions_reap(struct od_import_sessions *is, uint64_t now)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &is->s[i];
		uint64_t ttl = s->done ? SESSION_DONE_MS : is->idle_ms;
		if (s->used && now - s->touched_ms > ttl) {
			od_log("info", "import session %s %s", s->id,
			    s->done ? "dropped after its commit" : "expired (idle too long)");
			session_free(is, s);
		}
	}
}

static struct session *
session_find(struct od_import_sessions *is, const char *id)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		if (is->s[i].used && strcmp(is->s[i].id, id) == 0) {
			return &is->s[i];
		}
	}
	return NULL;
}

/* The writer, once the batch that committed (or ended) a session is
 * durable: its parts, as large as the document, are needed no more. */
static void
session_committed(struct od_server *srv, struct od_once *once)
{
	struct od_import_sessions *is = srv->imports;
	struct session *s = session_find(is, once->committed_session);
	if (s != NULL && s->done && !s->released) {
		parts_free(is, s);
		s->released = true;
	}
}

static orgdir_code
session_new(struct od_import_sessions *is, uint64_t now, struct session **out, orgdir_status *st)
{
	uint8_t raw[SESSION_ID_BYTES];
	struct session *s = NULL, *over = NULL;
	for (size_t i = 0; i < SESSIONS_MAX && s == NULL; i++) {
		struct session *x = &is->s[i];
		if (!x->used) {
			s = x;
		} else if (x->done && (x->released || x->abandoned) &&
		    (over == NULL || x->touched_ms < over->touched_ms)) {
			/* Not one whose commit is not durable yet: its batch may run
			 * again, with requests in its parts' arenas. */
			over = x;
		}
	}
	if (s == NULL && over != NULL) {
		/* A committed session is kept only to answer its batch run again:
		 * the oldest gives way to a new one. */
		od_log("info", "import session %s dropped after its commit", over->id);
		session_free(is, over);
		s = over;
	}
	if (s == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "ImportDirectory: %d import sessions are open already; commit one (or end it "
		    "with a dry run and end_session), or wait for them to expire (10 minutes idle)",
		    SESSIONS_MAX);
	}
	if (!od_random(raw, sizeof(raw))) {
		return od_status_set(st, ORGDIR_INTERNAL, "ImportDirectory: no random bytes");
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->touched_ms = now;
	od_hex_encode(raw, sizeof(raw), s->id);
	*out = s;
	return ORGDIR_OK;
}

/*
 * What the `part` field of a request holds (every occurrence, merged as
 * protobuf merges them), counted on the packed body: units, countries,
 * and the bytes of the Directory but for its revision field.
 */
struct parts {
	size_t units, countries, bytes;
};

static bool
parts_of(od_val body, struct parts *p)
{
	static const ProtobufCMessageDescriptor *const rd =
	    &orgdir__v1__import_directory_request__descriptor;
	static const ProtobufCMessageDescriptor *const dd = &orgdir__v1__directory__descriptor;
	uint32_t part = protobuf_c_message_descriptor_get_field_by_name(rd, "part")->id;
	uint32_t units = protobuf_c_message_descriptor_get_field_by_name(dd, "units")->id;
	uint32_t countries = protobuf_c_message_descriptor_get_field_by_name(dd, "countries")->id;
	uint32_t revision = protobuf_c_message_descriptor_get_field_by_name(dd, "revision")->id;
	const uint8_t *b = body.data;
	od_pb_wire f, g;
	*p = (struct parts){0, 0, 0};
	for (size_t i = 0; i < body.len;) {
		if (!od_pb_wire_next(b, body.len, &i, &f)) {
			return false;
		}
		if (f.number != part || f.type != 2) {
			continue;
		}
		for (size_t j = 0; j < f.len;) {
			size_t at = j;
			if (!od_pb_wire_next(f.data, f.len, &j, &g)) {
				return false;
			}
			if (g.number == revision) {
				continue;
			}
			p->units += g.number == units;
			p->countries += g.number == countries;
			p->bytes += j - at;
		}
	}
	return true;
}

static orgdir_code
too_many_units(unsigned units_max, orgdir_status *st)
{
	return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
	    "ImportDirectory: a document may hold at most %u units (orgdird "
	    "--max-import-units); nothing was imported",
	    units_max);
}

/* Adds the request's part (dir, decoded in c->arena) to s: s takes the
 * arena, c goes on with an empty one. What else the request's decode put
 * there (its envelope, the request) lives as long as the part, which is
 * past the request's answer. */
static orgdir_code
session_add(struct od_import_sessions *is, struct session *s, od_call *c,
    const Orgdir__V1__Directory *dir, const struct parts *p, unsigned units_max, orgdir_status *st)
{
	size_t bytes = c->arena->used_total;
	if (s->units + p->units > units_max) {
		return too_many_units(units_max, st);
	}
	if (bytes > SESSION_BYTES_MAX - is->bytes) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "ImportDirectory: the import sessions would hold more than %zu MiB: commit or "
		    "wait for the others first",
		    SESSION_BYTES_MAX >> 20);
	}
	if (s->n_parts == s->cap_parts) {
		size_t cap = s->cap_parts ? 2 * s->cap_parts : 16;
		struct part **np = realloc(s->parts, cap * sizeof(*np));
		if (np == NULL) {
			return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
		}
		s->parts = np;
		s->cap_parts = cap;
	}
	struct part *pt = malloc(sizeof(*pt));
	if (pt == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	od_arena_move(&pt->arena, c->arena);
	pt->dir = dir;
	s->parts[s->n_parts++] = pt;
	s->bytes += bytes;
	s->packed += p->bytes;
	s->units += p->units;
	is->bytes += bytes;
	return ORGDIR_OK;
}

/* The session's parts as one Directory, its arrays in a: their units and
 * countries in the order they came, as protobuf merges the parts. */
static Orgdir__V1__Directory *
parts_join(od_arena *a, const struct session *s)
{
	Orgdir__V1__Directory *d = od_arena_alloc(a, sizeof(*d));
	size_t nu = 0, nc = 0;
	if (d == NULL) {
		return NULL;
	}
	orgdir__v1__directory__init(d);
	for (size_t i = 0; i < s->n_parts; i++) {
		nu += s->parts[i]->dir->n_units;
		nc += s->parts[i]->dir->n_countries;
	}
	d->units = od_arena_alloc(a, (nu + 1) * sizeof(*d->units));
	d->countries = od_arena_alloc(a, (nc + 1) * sizeof(*d->countries));
	if (d->units == NULL || d->countries == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < s->n_parts; i++) {
		const Orgdir__V1__Directory *p = s->parts[i]->dir;
		if (p->n_units > 0) {
			memcpy(d->units + d->n_units, p->units, p->n_units * sizeof(*p->units));
		}
		if (p->n_countries > 0) {
			memcpy(d->countries + d->n_countries, p->countries,
			    p->n_countries * sizeof(*p->countries));
		}
		d->n_units += p->n_units;
		d->n_countries += p->n_countries;
	}
	return d;
}

/* Imports the session's parts (s), or the request's own part (whole,
 * NULL for none), len packed bytes in all, and packs the response (whose
 * problems live in the import's arena) before that arena goes. */
static orgdir_code
run_import(od_call *c, const struct session *s, Orgdir__V1__Directory *whole, size_t len,
    const Orgdir__V1__ImportDirectoryRequest *r, Orgdir__V1__ImportDirectoryResponse *resp,
    orgdir_status *st)
{
	od_arena a;
	od_import_result res;
	orgdir_code code;
	uint64_t t0 = od_mono_ms();
	/* Room in the map first: a full map found at the end would mean doing
	 * the whole import again once it has grown. */
	if (!r->dry_run && (code = od_import_reserve(c->txn, len, st)) != ORGDIR_OK) {
		return code;
	}
	od_arena_init(&a, len * DOC_ARENA_FACTOR + DOC_ARENA_EXTRA);
	Orgdir__V1__Directory empty = ORGDIR__V1__DIRECTORY__INIT;
	Orgdir__V1__Directory *doc = s != NULL ? parts_join(&a, s) : whole != NULL ? whole : &empty;
	if (doc == NULL) {
		code = od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "ImportDirectory: out of memory to join the document's parts");
	} else {
		code = od_import(c->txn, &a, doc,
		    r->mode == ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__REPLACE, r->dry_run,
		    &res, st);
	}
	if (code == ORGDIR_OK) {
		resp->units_created = res.units_created;
		resp->units_updated = res.units_updated;
		resp->units_deleted = res.units_deleted;
		resp->countries_updated = res.countries_updated;
		resp->problems = res.problems;
		resp->n_problems = res.n_problems;
		resp->revision = od_txn_revision(c->txn);
		code = reply(c, &resp->base, st);
		if (res.n_problems > 0) {
			od_log("info", "import refused: %zu problem(s), first %s: %s",
			    res.n_problems, res.problems[0]->path, res.problems[0]->message);
		} else if (!r->dry_run) {
			od_log("info",
			    "import: %u unit(s) created, %u updated, %u deleted, %u country "
			    "record(s) "
			    "set, revision %llu (decoded, checked and applied in %llu ms; the "
			    "commit follows)",
			    res.units_created, res.units_updated, res.units_deleted,
			    res.countries_updated, (unsigned long long) resp->revision,
			    (unsigned long long) (od_mono_ms() - t0));
		}
	}
	od_arena_destroy(&a);
	return code;
}

orgdir_code
od_h_import_directory(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__ImportDirectoryRequest *r = (const void *) req;
	Orgdir__V1__ImportDirectoryResponse resp = ORGDIR__V1__IMPORT_DIRECTORY_RESPONSE__INIT;
	struct od_server *srv = c->srv;
	uint64_t now = od_mono_ms();
	struct session *s = NULL;
	orgdir_code code;

	if (r->mode != ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__MERGE &&
	    r->mode != ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__REPLACE) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "ImportDirectory: mode must be MERGE or REPLACE");
	}
	struct parts parts;
	if (!parts_of(c->body, &parts)) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "ImportDirectory: the part does not decode as a Directory");
	}
	bool has_part = parts.units > 0 || parts.countries > 0;
	if (r->end_session && (r->session[0] == '\0' || (!r->commit && has_part))) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "ImportDirectory: end_session goes with a session: on its dry-run commit, or "
		    "alone (no part) to abandon it");
	}
	if (srv->imports == NULL) {
		if ((srv->imports = calloc(1, sizeof(*srv->imports))) == NULL) {
			return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
		}
		const char *idle = getenv("ORGDIRD_TEST_IMPORT_IDLE_MS");
		srv->imports->idle_ms = idle != NULL ? strtoull(idle, NULL, 10) : SESSION_IDLE_MS;
		if (idle != NULL) {
			od_log("warn",
			    "ORGDIRD_TEST_IMPORT_IDLE_MS=%llu: import sessions expire after "
			    "that many idle milliseconds (tests)",
			    (unsigned long long) srv->imports->idle_ms);
		}
	}
	struct od_import_sessions *is = srv->imports;
	sessions_reap(is, now);
	if (r->begin_session) {
		if (r->session[0] != '\0' || r->commit) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "ImportDirectory: begin_session opens a session; send the parts with "
			    "`session` and commit in later requests");
		}
		/* Run again (writer.c): the session its first run opened. */
		s = c->once->session[0] != '\0' ? session_find(is, c->once->session) : NULL;
		if (s == NULL) {
			if ((code = session_new(is, now, &s, st)) != ORGDIR_OK) {
				return code;
			}
			od_strlcpy(c->once->session, s->id, sizeof(c->once->session));
		}
	} else if (r->session[0] != '\0') {
		s = session_find(is, r->session);
		if (s == NULL) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "ImportDirectory: import session '%.40s' is unknown or has expired "
			    "(sessions end at their commit, after 10 minutes idle, or when the "
			    "server restarts): start again with begin_session",
			    r->session);
		}
		if (r->end_session && !r->commit) {
			/* Abandoned (a client whose part failed): its parts go now,
			 * its slot to the next session; asked again, the same answer. */
			if (!s->done) {
				parts_free(is, s);
				s->done = s->abandoned = true;
				s->touched_ms = now;
			}
			resp.session = s->id;
			return reply(c, &resp.base, st);
		}
		if (s->abandoned) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "ImportDirectory: import session '%s' was abandoned (end_session): "
			    "start a new one",
			    s->id);
		}
		/* Committed: only a run again of its batch may commit it again,
		 * and once that batch is durable its parts are gone. */
		if (s->released || (s->done && !r->commit)) {
			return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
			    "ImportDirectory: import session '%s' is committed already: start a "
			    "new one",
			    s->id);
		}
		s->touched_ms = now;
	} else if (!r->commit) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "ImportDirectory: nothing to do: set begin_session, session (with a part) or "
		    "commit");
	}
	if (s != NULL && has_part && !c->once->part_added) {
		if ((code = session_add(is, s, c, r->part, &parts, srv->max_import_units, st)) !=
		    ORGDIR_OK) {
			return code;
		}
		c->once->part_added = true;
	}
	if (!r->commit) {
		resp.session = s->id;
		return reply(c, &resp.base, st);
	}
	if (s != NULL) {
		resp.session = s->id;
		code = run_import(c, s, NULL, s->packed, r, &resp, st);
		if (code == ORGDIR_OK && (!r->dry_run || r->end_session)) {
			/* A dry run leaves the session open for the real commit,
			 * unless it ends it. */
			s->done = true;
			s->touched_ms = now;
			od_strlcpy(
			    c->once->committed_session, s->id, sizeof(c->once->committed_session));
			c->once->committed = session_committed;
		}
		return code;
	}
	/* A whole document in one request. */
	if (parts.units > srv->max_import_units) {
		return too_many_units(srv->max_import_units, st);
	}
	/* Decoded with the request, in its arena for the call. */
	return run_import(c, NULL, r->part, parts.bytes, r, &resp, st);
}

/* --- backup ------------------------------------------------------------------------- */

struct backup_job {
	struct od_server *srv;
	struct od_ctx *ctx;
	const char *dir; /* in the context's arena, valid until od_ctx_finish */
};

static void *
backup_main(void *arg)
{
	struct backup_job *b = arg; /* in the context's arena too */
	struct od_server *srv = b->srv;
	struct od_ctx *ctx = b->ctx;
	orgdir_status st = {ORGDIR_OK, "", 0};
	uint64_t bytes = 0, rev = 0;
	uint64_t t0 = od_mono_ms();
	od_log("info", "backup to %s started", b->dir);
	if (od_store_backup(srv->store, b->dir, &bytes, &rev, &st) == ORGDIR_OK) {
		Orgdir__V1__BackupResponse resp = ORGDIR__V1__BACKUP_RESPONSE__INIT;
		resp.revision = rev;
		resp.bytes = bytes;
		od_buf *out = od_ctx_out(ctx);
		od_buf_reset(out);
		if (!od_pb_put_message(out, 0, &resp.base)) {
			od_status_set(&st, ORGDIR_RESOURCE_EXHAUSTED, "reply too large");
		}
		od_log("info", "backup to %s done: revision %llu, %llu bytes, %llu ms", b->dir,
		    (unsigned long long) rev, (unsigned long long) bytes,
		    (unsigned long long) (od_mono_ms() - t0));
	}
	od_ctx_finish(ctx, &st, rev); /* b is gone from here on */
	atomic_fetch_sub(&srv->backups, 1);
	return NULL;
}

orgdir_code
od_h_backup(od_call *c, const ProtobufCMessage *req, orgdir_status *st)
{
	const Orgdir__V1__BackupRequest *r = (const void *) req;
	struct od_server *srv = c->srv;
	/* Counted before looking at `stopping`: od_transfer_stop then either
	 * sees this backup and waits for it, or this call sees the stop. */
	if (atomic_fetch_add(&srv->backups, 1) >= BACKUPS_MAX) {
		atomic_fetch_sub(&srv->backups, 1);
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "Backup: %d backups are running already; retry when one is done", BACKUPS_MAX);
	}
	if (atomic_load(&srv->stopping)) {
		atomic_fetch_sub(&srv->backups, 1);
		return od_status_set(st, ORGDIR_UNAVAILABLE, "the server is shutting down");
	}
	/* What would fail at once is refused here, not on the thread. */
	orgdir_code code = od_backup_prepare(r->directory, st);
	struct backup_job *b = od_arena_alloc(c->arena, sizeof(*b));
	char *dir = od_arena_strndup(c->arena, r->directory, strlen(r->directory));
	if (code == ORGDIR_OK && (b == NULL || dir == NULL)) {
		code = od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	if (code != ORGDIR_OK) {
		atomic_fetch_sub(&srv->backups, 1);
		return code;
	}
	b->srv = srv;
	b->ctx = c->ctx;
	b->dir = dir;
	pthread_attr_t attr;
	pthread_t tid;
	od_call_defer(c); /* before the thread can finish */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&tid, &attr, backup_main, b);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		od_call_undefer(c);
		atomic_fetch_sub(&srv->backups, 1);
		return od_status_set(st, ORGDIR_UNAVAILABLE, "Backup: cannot start a thread");
	}
	return ORGDIR_OK;
}

void
od_transfer_stop(struct od_server *srv)
{
	while (atomic_load(&srv->backups) > 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (srv->imports != NULL) {
		for (size_t i = 0; i < SESSIONS_MAX; i++) {
			if (srv->imports->s[i].used) {
				session_free(srv->imports, &srv->imports->s[i]);
			}
		}
		free(srv->imports);
		srv->imports = NULL;
	}
}
