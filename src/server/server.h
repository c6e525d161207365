/*
 * server.h - internals of orgdird: the server, its call contexts, the
 * method table and the group-commit writer.
 *
 * A request flows: nng ctx receive -> decode envelope -> look up method ->
 * decode + check body -> (read) handler on a reused read snapshot, or
 * (write) queue to the writer thread, which runs it in a nested transaction
 * of a group commit -> encode reply -> nng ctx send.
 */
#ifndef OD_SERVER_H
#define OD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>

#include "od.h"
#include "store.h"

struct od_server;
struct od_writer;

/*
 * What a write job did outside LMDB (h_transfer.c's import sessions),
 * kept across the runs of its batch: the writer runs a batch again after
 * growing a full map (writer.c), and a second run must not open a second
 * session or add a part twice. Zeroed for each request.
 */
struct od_once {
	char session[40]; /* the import session its begin_session opened, or "" */
	bool part_added; /* its part is in its session */
	/* Set by a handler that holds something only a run again of the batch
	 * would need (an import session's parts): the writer calls it once the
	 * batch is committed, with the job still its own. */
	void (*committed)(struct od_server *srv, struct od_once *once);
	char committed_session[40]; /* for committed: the session it ran */
};

/* One call being answered; lives in its context, reused call after call. */
typedef struct od_call {
	struct od_server *srv;
	od_txn *txn; /* read snapshot, or nested write transaction */
	od_arena *arena; /* request-lifetime memory */
	od_buf *out; /* the packed reply body */
	uint64_t revision; /* set by write handlers: revision committed */
	struct od_ctx *ctx; /* reads: the context, for od_call_park */
	bool parked; /* set by od_call_park: the reply comes later */
	bool deferred; /* set by od_call_defer: another thread answers */
	struct od_once *once; /* writes: the job's, across runs of its batch */
	/* The request's packed body, in the request message (valid for the
	 * call): for a handler that keeps part of it as it came
	 * (ImportDirectory's parts) rather than packing it again. */
	od_val body;
} od_call;

typedef orgdir_code (*od_handler)(od_call *call, const ProtobufCMessage *req, orgdir_status *st);

enum {
	OD_M_READ = 1, /* runs on a read snapshot in the context's callback */
	OD_M_WRITE = 2, /* runs in the writer's group commit; idempotent by request id */
	OD_M_NOSTORE = 4, /* needs no snapshot (Health) */
	OD_M_OPEN = 8, /* never needs a token, even with --require-auth (Health) */
};

typedef struct od_method {
	const char *name;
	od_handler handler;
	unsigned flags;
	/* Lowest role allowed (Orgdir__V1__Role); reads are checked only when
	 * the server runs with --require-auth. */
	int role;
	/* Filled from the service descriptor at start-up. */
	const ProtobufCMethodDescriptor *desc;
} od_method;

/* methods.c: the table, checked one-to-one against the service descriptor. */
orgdir_code od_methods_init(orgdir_status *st);
const od_method *od_method_find(const char *name);
size_t od_method_count(void);
const od_method *od_method_at(size_t i); /* sorted by name */

/* handlers */
orgdir_code od_h_get_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_list_units(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_get_subtree(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_get_ancestors(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_create_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_update_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_move_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_delete_unit(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_get_country(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_list_countries(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_update_country(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_get_stats(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_create_token(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_list_tokens(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_delete_token(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_list_changes(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_watch_changes(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_search(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_health(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_server_info(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_export_directory(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_import_directory(od_call *c, const ProtobufCMessage *req, orgdir_status *st);
orgdir_code od_h_backup(od_call *c, const ProtobufCMessage *req, orgdir_status *st);

#define OD_IMPORT_UNITS_MAX_DEFAULT 1000000u

typedef struct od_server_opts {
	const char *const *listen; /* URLs */
	size_t n_listen;
	size_t max_message_bytes; /* largest request */
	size_t max_reply_bytes; /* largest reply (a client may ask for less) */
	unsigned contexts;
	bool require_auth; /* reads need a token too */
	unsigned max_import_units; /* units in one ImportDirectory (0 = 1,000,000) */
	const char *tls_cert_file; /* PEM certificate (chain) for tls+tcp:// listeners */
	const char *tls_key_file; /* PEM private key */
} od_server_opts;

/* Long polls a server keeps parked, per context (--contexts): each holds a
 * context of its own beside the n_ctx that receive (server.c). */
#define OD_PARKED_PER_CONTEXT 8

struct od_server {
	struct od_store *store;
	nng_socket sock;
	struct od_ctx **ctxs;
	unsigned n_ctx;
	struct od_writer *writer;
	struct od_ipc_guard *ipc_guard; /* owned; NULL until the listeners are made */
	size_t max_message;
	size_t max_reply;
	bool require_auth;
	unsigned max_import_units;
	int64_t start_sec;
	atomic_bool stopping;
	/* Long polls parked until a commit or their timer (watch.c). */
	pthread_mutex_t watch_mu;
	pthread_cond_t watch_cv;
	pthread_t watch_thread;
	bool watch_inited;
	bool watch_running;
	bool watch_stop;
	struct od_ctx *watchers;
	uint64_t committed; /* revision of the last commit, under watch_mu */
	/* The watch thread's: when it next counts the open files, and whether
	 * it has warned that they near the limit (od_files_check). */
	uint64_t files_next_ms;
	bool files_warned;
	/* h_transfer.c: import sessions (touched by the writer thread only)
	 * and the backups running on threads of their own. */
	struct od_import_sessions *imports;
	atomic_int backups;
	/* One large reply buffer (up to SPARE_KEEP_MAX, server.c) kept with
	 * its pages mapped between calls, so that a whole-tree reply is not
	 * built in fresh memory the kernel must fault in every call. Server-
	 * wide, not per context: nng hands requests to the contexts in turn,
	 * so a context's own buffer would be cold and 128 of them would pin
	 * 128 of these. A buffer is in the slot or owned by one context's
	 * reply, never both: it moves only under spare_mu. */
	/* "call failed" lines: at most FAIL_LOG_PER_SEC a second, then one
	 * line saying how many were left out (server.c, log_failure), so a
	 * client sending garbage cannot flood the log or, through a slow log
	 * reader, stall the callbacks that write it. Under fail_log_mu. */
	pthread_mutex_t fail_log_mu;
	bool fail_log_inited;
	uint64_t fail_log_sec; /* the second being counted (monotonic) */
	unsigned fail_log_lines; /* lines written in it */
	uint64_t fail_log_dropped; /* left out since the last line */
	pthread_mutex_t spare_mu;
	bool spare_inited;
	uint8_t *spare; /* malloc'd; owned by the server; NULL when empty */
	size_t spare_size;
	/*
	 * A parked long poll keeps its context, so each one puts another
	 * context to receiving (server.c, od_ctx_top_up): calls always find
	 * n_ctx contexts, however many watchers wait. ctxs has room for
	 * n_ctx + max_extra; extras are made on demand (n_extra so far, under
	 * ctx_mu) and, once fewer calls are parked, go idle (the idle stack,
	 * under ctx_mu) when their answer is sent. circ_extra: contexts in
	 * use beyond n_ctx (changed under ctx_mu); parked: calls parked now
	 * (watch.c), at most max_extra.
	 */
	pthread_mutex_t ctx_mu;
	bool ctx_mu_inited;
	bool ctx_closed; /* under ctx_mu: od_server_stop began; no more extras */
	unsigned n_extra, max_extra;
	struct od_ctx **idle;
	unsigned n_idle;
	atomic_uint circ_extra;
	atomic_uint parked;
};

/* ipcguard.c: ipc:// listeners made again when nng 1.5.2's IPC bug stops
 * them accepting. od_ipc_guard_new, then od_ipc_guard_listen for each
 * address od_ipc_guarded_url accepts, then od_ipc_guard_start (a thread
 * that probes them, when there are any). od_ipc_guard_stop ends the thread
 * (before the socket is closed); od_ipc_guard_free releases the rest
 * (after it is closed: nng's pipe callback reads it until then). */
struct od_ipc_guard;
bool od_ipc_guarded_url(const char *url);
orgdir_code od_ipc_guard_new(struct od_ipc_guard **out, nng_socket sock, orgdir_status *st);
orgdir_code od_ipc_guard_listen(struct od_ipc_guard *x, const char *url, orgdir_status *st);
orgdir_code od_ipc_guard_start(struct od_ipc_guard *x, orgdir_status *st);
void od_ipc_guard_stop(struct od_ipc_guard *x);
void od_ipc_guard_free(struct od_ipc_guard *x);

/* Whether nng knows each URL's transport and can parse it, before
 * anything is created (no listener is started). */
orgdir_code od_server_check_urls(const char *const *urls, size_t n, orgdir_status *st);
orgdir_code od_server_start(
    struct od_server *srv, struct od_store *store, const od_server_opts *o, orgdir_status *st);
void od_server_stop(struct od_server *srv);

/* writer.c: group commit of writes on one thread. */
struct od_write_job {
	struct od_write_job *next;
	struct od_ctx *ctx;
	const od_method *m;
	const ProtobufCMessage *req;
	od_val body; /* the packed request body (od_call.body) */
	od_val request_id;
	char actor[OD_ID_MAX + 1]; /* token name ("" without auth) */
	/* Results, filled by the writer. */
	orgdir_status status;
	uint64_t revision;
	od_val recorded; /* packed Response of an earlier execution, or empty */
	bool skip; /* failed after changing something: left out of the batch */
	struct od_once once;
};

/* One call context: a small state machine driven by one aio callback. */
enum ctx_state { ST_RECV, ST_SEND, ST_WRITE, ST_PARKED };

struct od_ctx {
	struct od_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state;
	nng_msg *msg; /* the request, reused for the reply */
	od_arena arena; /* reset per request */
	od_buf out; /* reply body, reused */
	od_reader *reader; /* read snapshot, reset/renewed per request */
	uint64_t call_id;
	size_t max_reply;
	const od_method *m;
	struct od_write_job job;
	/* Kept for a parked call's re-runs. */
	const ProtobufCMessage *body;
	od_val packed; /* the body as it came, in msg */
	uint32_t deadline_ms;
	/* Long poll (watch.c, under the server's watch_mu). */
	struct od_ctx *next_watcher;
	uint64_t wake_at_ms;
	uint64_t parked_at_rev;
	bool expired;
	bool wake_now; /* a commit came: run again, not expired */
	bool turned_away; /* od_call_park refused: no more long polls kept */
	/* A deferred call (od_call_defer): the handler's thread and the
	 * finisher each count down once; the second one sends the answer. */
	atomic_int handoff;
	orgdir_status finished;
	uint64_t finished_rev;
};

orgdir_code od_writer_start(struct od_server *srv, struct od_writer **out, orgdir_status *st);
void od_writer_submit(struct od_writer *w, struct od_write_job *job);
/* Drains the queue and joins the thread; later submits are answered
 * UNAVAILABLE at once. od_writer_free once no context can submit. */
void od_writer_stop(struct od_writer *w);
void od_writer_free(struct od_writer *w);

/* server.c: called by the writer when a job is done (any thread). */
void od_ctx_write_done(struct od_ctx *ctx);
/* server.c: a read handler that finishes its work on another thread calls
 * od_call_defer before it starts that thread (od_call_undefer if it could
 * not), returns, and later (from that thread) writes the reply body into
 * ctx->out and calls od_ctx_finish exactly once. The context's arena stays
 * valid until then; the answer goes out once both have happened. */
void od_call_defer(od_call *call);
void od_call_undefer(od_call *call);
void od_ctx_finish(struct od_ctx *ctx, orgdir_status *st, uint64_t revision);
/* server.c: reserves n bytes of reply body for a handler that knows its
 * reply will be large (a whole subtree): an empty reply buffer first takes
 * the server's spare one, whose pages are already mapped. The buffer goes
 * back to the slot (or is freed) once the reply is framed. False when the
 * reply's cap or malloc refuses n (call->out->overflow is then set). */
bool od_call_reserve_reply(od_call *call, size_t n);
/* server.c: runs the context's method again on a fresh snapshot (a parked
 * long poll woken by a commit); it may park again. */
void od_ctx_rerun(struct od_ctx *ctx);

/* watch.c: long polls. od_call_park keeps the call until the next commit
 * or until wait_ms pass, then runs the handler again with `expired` set.
 * The context joins the waiting list in od_watch_enqueue, which server.c
 * calls once the handler's thread is done with it; false when the watch
 * has stopped (answer at once). UNAVAILABLE when max_extra calls are
 * parked already: the caller retries. */
orgdir_code od_call_park(od_call *c, uint32_t wait_ms, orgdir_status *st);
bool od_watch_enqueue(struct od_ctx *c);
/* server.c: after a call parked, one more context receives (see ctx_mu). */
void od_ctx_top_up(struct od_server *srv);
/* The writer calls this after each commit. */
void od_watch_notify(struct od_server *srv, uint64_t revision);
/* Wakes every parked call (shutdown). */
void od_watch_stop(struct od_server *srv);
orgdir_code od_watch_init(struct od_server *srv, orgdir_status *st);
/* At most once a second (the watch thread, without watch_mu): counts the
 * open files and logs a warning when they reach 90% of the limit, and a
 * line when they are back under 80%. Past the limit nng turns new clients
 * away, and says nothing of it. */
void od_files_check(struct od_server *srv);

/* h_transfer.c: waits for the backups in progress (they answer first) and
 * frees the import sessions. Called by od_server_stop once the writer has
 * stopped and before the contexts are. */
void od_transfer_stop(struct od_server *srv);
/* The context's reply buffer and arena, for the writer. */
od_buf *od_ctx_out(struct od_ctx *ctx);
od_arena *od_ctx_arena(struct od_ctx *ctx);

/* frame.c: the reply envelope. Both replace m's body; false only when
 * allocation fails. */
bool od_frame_reply(
    nng_msg *m, uint64_t call_id, const orgdir_status *st, const od_buf *body, uint64_t revision);
bool od_frame_recorded(nng_msg *m, uint64_t call_id, const od_val *recorded);
/* Decodes a packed orgdir.v1.Request by hand (no allocation but the two
 * strings, copied into the arena): body and request_id point into p, which
 * must outlive req. Unknown fields are skipped, as protobuf does. False for
 * bytes that are not a Request (truncated, bad wire type). */
bool od_frame_decode_request(const uint8_t *p, size_t n, od_arena *a, Orgdir__V1__Request *req);

/* auth_boot.c */
orgdir_code od_auth_bootstrap(struct od_store *store, const char *data_dir, orgdir_status *st);

/* seed.c */
orgdir_code od_seed_load(struct od_store *store, const char *path, orgdir_status *st);

#endif
