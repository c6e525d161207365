/*
 * orgbench.h - internals of orgbench, the load generator and benchmark of
 * orgdird (issue 6). One header for the tool's modules:
 *
 *   main.c          sub-command dispatch, `gen`'s options, help
 *   options.c       `run`'s options and help
 *   setup.c         spawned or dialled servers, token, ids; tear-down
 *   run.c           `run`: the loop of levels, rounds and workloads; report
 *   report.c        the human table, the JSON lines, the ratio lines
 *   gen.c           the organisation generator (`gen`): names, JSON
 *   gen_shape.c     where each generated unit goes (gen.h is theirs)
 *   names.c         the generator's vocabulary (topics, countries, regions)
 *   rpc.c           request encoding and synchronous calls (set-up only)
 *   discover.c      learns the ids of a running server's organisation
 *   workload.c      what each workload sends and how each reply is checked
 *   client.c        one measured run: contexts, timing window, tallies
 *   client_async.c  the asynchronous driver (aio callbacks, one socket)
 *   client_thread.c the threaded driver (a thread per context)
 *   arena.c         bump allocators that keep their memory between replies
 *   stats.c         latency samples, percentiles, medians
 *   spawn.c         child processes, temporary directory, RSS, free ports
 *   echo.c          the bare nng REP echo server (`echo`)
 *   util.c          clock and pseudo-random numbers
 */
#ifndef ORGBENCH_H
#define ORGBENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "od.h"
#include "orgdir/v1/resources.pb-c.h"
#include "orgdir/v1/rpc.pb-c.h"
#include "orgdir/v1/service.pb-c.h"

#define OB_RID_LEN 16 /* request_id bytes: unique per call */
#define OB_REQ_MAX 1024 /* largest request a workload builds */
#define OB_ERR_MAX 256

/* --- time --------------------------------------------------------------- */
uint64_t ob_now_ns(void); /* CLOCK_MONOTONIC */
void ob_sleep_ns(uint64_t ns);

/* --- random: splitmix64, one state per user (no sharing between threads) -- */
uint64_t ob_rand(uint64_t *state);
/* Uniform in [0, n); n > 0. */
uint64_t ob_rand_below(uint64_t *state, uint64_t n);

/* --- arena.c: a bump ProtobufCAllocator that keeps its memory ----------- */
/*
 * An od_arena, the allocator liborgdir decodes replies into (od_pb_unpack
 * allocates from it inline), reset keeping its largest chunk up to
 * keep_max: its chunks double, so after a reply or two of a kind one chunk
 * holds a whole reply and decoding the same kind again allocates nothing.
 * Not thread-safe: one user at a time.
 */
typedef struct ob_arena {
	od_arena a; /* decode with &a.pb */
	size_t keep_max;
} ob_arena;

void ob_arena_init(ob_arena *a, size_t keep_max);
void ob_arena_reset(ob_arena *a);
void ob_arena_destroy(ob_arena *a);

/* A pool of large arenas shared by contexts (whole-subtree decodes): at
 * most as many arenas exist as decodes ran at the same time. */
typedef struct ob_arena_pool {
	pthread_mutex_t mu;
	ob_arena **free;
	size_t n_free;
	size_t cap;
	size_t created;
} ob_arena_pool;

int ob_arena_pool_init(ob_arena_pool *p, size_t cap);
/* NULL when the pool is at its cap and empty (the caller then decodes
 * into its own arena) or on allocation failure. */
ob_arena *ob_arena_pool_take(ob_arena_pool *p);
void ob_arena_pool_give(ob_arena_pool *p, ob_arena *a);
void ob_arena_pool_destroy(ob_arena_pool *p);

/* --- stats.c -------------------------------------------------------------- */
/* Latencies in nanoseconds, every sample kept (saturated at ~4.29 s). */
typedef struct ob_samples {
	uint32_t *v;
	size_t n;
	size_t cap;
	uint64_t dropped; /* samples lost to allocation failure */
} ob_samples;

void ob_samples_add(ob_samples *s, uint64_t ns);
bool ob_samples_merge(ob_samples *dst, const ob_samples *src);
void ob_samples_free(ob_samples *s);

/* Percentiles in microseconds; sorts s in place. Zeroes when empty. */
typedef struct ob_summary {
	uint64_t n;
	double p50, p90, p99, max;
} ob_summary;

void ob_samples_summarise(ob_samples *s, ob_summary *out);
/* Median of v[0..n) (reorders v). 0 when n == 0. */
double ob_median(double *v, size_t n);

/* --- the organisation as the benchmark needs it --------------------------- */
typedef struct ob_org {
	char **ids; /* every unit id */
	size_t n;
	uint32_t *parents; /* indexes (into ids) of units that have children */
	size_t n_parents;
	uint32_t *leaves; /* indexes of units without children */
	size_t n_leaves;
	/* search: one two-word prefix query per unit that has two name words
	 * of 3+ letters in some language (en/fr/es), e.g. "migr heal" */
	char **queries;
	char (*query_langs)[4]; /* the language each query was taken from */
	size_t n_queries;
} ob_org;

void ob_org_free(ob_org *o);

/* --- rpc.c: encoding and synchronous calls (set-up, not measured) --------- */
/* Packs an orgdir.v1.Request into out (cap bytes); returns its length or 0
 * when it does not fit. rid and token may be NULL (none sent). */
size_t ob_pack_request(uint8_t *out, size_t cap, const char *method, uint64_t call_id,
    const ProtobufCMessage *body, const uint8_t *rid, const char *token);

/* Opens a REQ socket with the benchmark's options (no re-send, receive
 * cap recv_max) dialled to url in the background. */
int ob_socket_open(nng_socket *s, const char *url, size_t recv_max, char *err, size_t errlen);

/*
 * One synchronous call on its own context. On return *resp (unpacked into
 * arena a; valid until a is reset) holds the server's Response; the
 * returned code is the server's (resp->code) or, when no answer came,
 * UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL with err saying why.
 */
orgdir_code ob_call(nng_socket s, const char *method, const ProtobufCMessage *body,
    const char *token, int timeout_ms, ob_arena *a, Orgdir__V1__Response **resp, char *err,
    size_t errlen);

/* Polls Health until SERVING or timeout_ms passes; returns 0 when SERVING. */
int ob_wait_serving(nng_socket s, int timeout_ms, char *err, size_t errlen);
/* Polls the echo server until it echoes; 0 when it does. */
int ob_wait_echo(nng_socket s, int timeout_ms, char *err, size_t errlen);

/* --- discover.c ----------------------------------------------------------- */
/* Fills o with the server's unit ids, from one GetSubtree (or, when that
 * reply is too large, a walk with ListUnits). 0 on success. */
int ob_discover(
    nng_socket s, const char *token, int timeout_ms, ob_org *o, char *err, size_t errlen);

/* --- workloads ------------------------------------------------------------ */
enum ob_workload {
	OB_W_GET,
	OB_W_CHILDREN,
	OB_W_SUBTREE,
	OB_W_PATH,
	OB_W_SEARCH,
	OB_W_UPDATE,
	OB_W_WRITE,
	OB_W_MIXED,
	OB_W_PING,
	OB_W_ECHO,
	OB_W_COUNT
};

/* The RPC a context has in flight. */
enum ob_op {
	OB_OP_GET,
	OB_OP_CHILDREN,
	OB_OP_SUBTREE,
	OB_OP_PATH,
	OB_OP_UPD_READ, /* GetUnit for the etag of an update */
	OB_OP_UPD_WRITE, /* UpdateUnit with that etag */
	OB_OP_PING,
	OB_OP_ECHO,
	OB_OP_SEARCH,
};

typedef struct ob_workload_info {
	const char *name;
	const char *method; /* the server method it needs (NULL: none) */
	const char *what;
} ob_workload_info;

const ob_workload_info *ob_workload_info_of(enum ob_workload w);
int ob_workload_by_name(const char *name); /* -1 if unknown */

/* --- client.c: one measured run --------------------------------------------- */
struct ob_run;

/* One concurrent caller: a context on the shared socket and its state. */
typedef struct ob_ctx {
	struct ob_run *run;
	unsigned idx;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending; /* async driver: the aio is a send (else a receive) */
	bool done;
	nng_msg *msg; /* kept between calls: the reply becomes the next request */
	uint64_t rng;
	uint64_t seq;
	/* the call in flight */
	enum ob_op op;
	uint64_t call_id;
	uint32_t target; /* index into the org's ids */
	uint8_t req[OB_REQ_MAX];
	size_t req_len;
	uint64_t t_send;
	char etag[32]; /* from OB_OP_UPD_READ, for OB_OP_UPD_WRITE */
	ob_arena arena; /* small replies */
	/* tallies inside the measuring window */
	ob_samples lat; /* measured calls, end to end */
	ob_samples rtt; /* reply received, before checking or decoding */
	ob_samples decode; /* subtree: client decode alone */
	uint64_t calls, errors, conflicts, writes, prep_reads, warm_calls;
	uint64_t last_t; /* completion time of the last counted call */
	char first_error[OB_ERR_MAX];
} ob_ctx;

typedef struct ob_run_opts {
	nng_socket sock;
	const ob_org *org;
	enum ob_workload workload;
	unsigned concurrency;
	bool threaded;
	double warmup_s;
	double duration_s;
	int timeout_ms; /* per call */
	uint64_t seed;
	ob_arena_pool *pool; /* for subtree decodes */
	const char *token; /* sent with writes (and reads when auth_reads) */
	bool auth_reads;
	bool no_decode; /* check replies by their envelope only */
} ob_run_opts;

/* What one run measured. */
typedef struct ob_round {
	double elapsed_s;
	uint64_t calls, errors, conflicts, writes, prep_reads;
	double calls_per_s;
	ob_summary lat, rtt, decode;
	long rss_kib, anon_kib; /* server, after the run; -1 unknown */
	char first_error[OB_ERR_MAX];
} ob_round;

struct ob_run {
	ob_run_opts o;
	ob_ctx *ctxs;
	uint64_t t_start, t_warm_end, t_end;
	uint64_t nonce; /* request id prefix: unique per run */
	atomic_uint_fast64_t rid_seq;
	atomic_uint active;
	atomic_uint_fast64_t in_window; /* calls completed inside the window */
	atomic_bool abort; /* stop now (hard timeout) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Runs one workload at one concurrency level; fills r. 0, or -1 when the
 * run could not be set up (err says why). */
int ob_run_one(const ob_run_opts *o, ob_round *r, char *err, size_t errlen);

/* client.c, for the drivers */
bool ob_ctx_prepare(ob_ctx *c); /* chooses and encodes the next call into c->msg */
bool ob_ctx_finish(ob_ctx *c, int rv, nng_msg *reply); /* tallies; false = stop */
void ob_ctx_retire(ob_ctx *c); /* this context is done */

/* workload.c, for client.c */
void ob_wl_next(ob_ctx *c); /* sets c->op and target, encodes c->req */
/* Checks a reply. Returns the status code (ORGDIR_OK when all is well);
 * on failure writes the reason into why. May time the decode. */
orgdir_code ob_wl_check(
    ob_ctx *c, const uint8_t *p, size_t n, uint64_t *decode_ns, char *why, size_t whylen);

/* the drivers */
/* Both start every context; the contexts retire themselves when the run
 * ends. ob_thread_start fills threads[concurrency] (join them after). */
void ob_async_start(struct ob_run *run);
void ob_async_callback(void *arg); /* the aio callback of each context */
/* Returns how many threads started (the others' contexts are retired). */
unsigned ob_thread_start(struct ob_run *run, pthread_t *threads, char *err, size_t errlen);

/* --- spawn.c ------------------------------------------------------------ */
/* Starts argv[0] with stdout and stderr appended to log_path; 0 on success.
 * The child gets SIGKILL when the calling thread ends: call it from the
 * main thread. */
int ob_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen);
/* SIGTERM, then SIGKILL after timeout_ms; returns the exit status or -1. */
int ob_child_stop(pid_t pid, int timeout_ms);
/* The same without the SIGTERM: waits for an exit, KILL after timeout_ms. */
int ob_child_stop_after(pid_t pid, int timeout_ms);
/* True while the child has not exited; else reaps it and sets *exit_status. */
bool ob_child_alive(pid_t pid, int *exit_status);
/* VmRSS and RssAnon of a process in KiB; -1 when unknown. */
void ob_rss(pid_t pid, long *rss_kib, long *anon_kib);
int ob_free_tcp_port(void);
int ob_mkdtemp(char *out, size_t n);
void ob_rmtree(const char *path);
/* This executable, and its directory (for finding orgdird beside it). */
int ob_self_exe(char *out, size_t n);
int ob_self_dir(char *out, size_t n);

/* --- gen.c ---------------------------------------------------------------- */
typedef struct ob_gen_opts {
	size_t units;
	uint64_t seed;
} ob_gen_opts;

/* Calls emit for every unit (an Orgdir__V1__Unit), parents before children,
 * then for the record of every country given a country office (an
 * Orgdir__V1__Country: member state, covered by its regional office).
 * Returns 0, or -1 (err says why) when the options are out of range or
 * memory runs out. */
int ob_gen(const ob_gen_opts *o, void (*emit)(void *arg, const ProtobufCMessage *m), void *arg,
    char *err, size_t errlen);
/* Writes the organisation as an orgdir.v1.Directory in proto3 JSON. */
int ob_gen_write_json(const ob_gen_opts *o, const char *path, char *err, size_t errlen);

/* names.c: vocabulary (read-only tables) */
typedef struct ob_topic {
	const char *en; /* "Migration Health" */
	const char *fr; /* "de la santé des migrants" (with its "de") */
	const char *es; /* "de Salud de los Migrantes" */
} ob_topic;

typedef struct ob_country {
	const char *code; /* ISO 3166-1 alpha-2 */
	const char *en; /* "the Philippines" */
	const char *fr_in; /* "aux Philippines" */
	const char *es; /* "Filipinas" */
	const char *city;
	unsigned region; /* index into ob_regions */
} ob_country;

typedef struct ob_region {
	const char *slug; /* "dakar" */
	const char *code;
	const char *city_en;
	const char *fr_of; /* "de Dakar", "du Caire" */
	const char *city_es;
	const char *covers_en, *covers_fr, *covers_es;
} ob_region;

extern const ob_topic ob_topics[];
extern const size_t ob_n_topics;
extern const ob_country ob_countries[];
extern const size_t ob_n_countries;
extern const ob_region ob_regions[];
extern const size_t ob_n_regions;

/* --- echo.c --------------------------------------------------------------- */
int ob_echo_main(int argc, char **argv);

/* --- `run`: its options (options.c) and what it set up (setup.c) ---------- */
#define OB_LEVELS_MAX 16
#define OB_ROUNDS_MAX 64

typedef struct ob_cli {
	const char *server;
	const char *echo_url;
	const char *orgdird;
	const char *transport; /* tcp or ipc, for what we spawn */
	const char *json_out; /* also write the JSON lines here */
	const char *token; /* --token or ORGDIR_TOKEN */
	const char *token_file;
	bool auth_reads;
	bool no_decode;
	bool spawn, json, threaded, keep, quiet;
	long server_pid;
	size_t units;
	uint64_t seed;
	enum ob_workload workloads[OB_W_COUNT];
	size_t n_workloads;
	unsigned levels[OB_LEVELS_MAX];
	size_t n_levels;
	double duration, warmup;
	unsigned rounds;
	int timeout_ms;
} ob_cli;

typedef struct ob_env {
	char tmp[512];
	char server_url[600];
	char echo_url[600];
	pid_t server_pid, echo_pid;
	bool server_child, echo_child;
	bool server_reaped; /* exited on its own; server_exit holds its status */
	int server_exit;
	bool have_server_sock, have_echo_sock;
	nng_socket server_sock, echo_sock;
	ob_org org;
	char **methods;
	size_t n_methods;
	double ready_s; /* spawn to SERVING, seed load included */
	char token[512]; /* for writes (and reads with --auth-reads); "" = none */
} ob_env;

/* Parses `run`'s arguments into o. 0 on success; 1 after --help (printed);
 * 2 on a usage error (reported on stderr). */
int ob_cli_parse(int argc, char **argv, ob_cli *o);
/* Spawns or dials the server (and the echo server when the echo workload
 * is asked for), waits until it serves, reads the token, ServerInfo, and
 * the organisation's ids. 0, or -1 with err set; call ob_env_teardown
 * either way. */
int ob_env_setup(const ob_cli *o, ob_env *s, char *err, size_t errlen);
/* Closes sockets, stops children (printing the server's log tail when
 * failed), removes the temporary directory. -1 when orgdird exited badly. */
int ob_env_teardown(const ob_cli *o, ob_env *s, bool failed);
bool ob_env_has_method(const ob_env *s, const char *method);
/* True once the spawned server has exited (its status is kept). */
bool ob_env_server_gone(ob_env *s);
/* After calls went unanswered: 0 when the server answers a new connection
 * (which then replaces the benchmark's), -1 when it does not (its stacks are
 * printed when gdb is installed). */
int ob_env_probe(ob_env *s);

/* --- run.c / report.c ------------------------------------------------------ */
int ob_run_main(int argc, char **argv);

typedef struct ob_result {
	enum ob_workload workload;
	unsigned concurrency;
	size_t n_rounds;
	ob_round *rounds;
	const char *unavailable; /* set: the workload could not run */
} ob_result;

typedef struct ob_report_ctx {
	const char *transport; /* "tcp", "ipc", ... */
	const char *client; /* "async" or "threaded" */
	size_t units;
	double duration_s;
	bool json;
	FILE *out;
} ob_report_ctx;

void ob_report_header(const ob_report_ctx *rc);
void ob_report_result(const ob_report_ctx *rc, const ob_result *r);
/* Ratio lines (get/echo, ping/echo per level) and the subtree summary. */
void ob_report_summary(const ob_report_ctx *rc, const ob_result *res, size_t n);

#endif
