/*
 * fuzz_dispatch.c - libFuzzer target: the request path of orgdird, whole.
 *
 * A real server (od_server_start, the same code orgdird runs) serves a real
 * store in a temporary directory, seeded with examples/iom/org.json, on an
 * inproc:// listener. Each input is sent as one request over a REQ socket
 * and the harness waits for the reply: envelope decode, method lookup, body
 * decode and string checks, authorisation on a snapshot, then a read
 * handler on the context's snapshot or a write through the writer thread's
 * group commit, reply encoding. Every method is reachable, with any body.
 *
 * Input: [selector][envelope bytes...]. The selector adds to the envelope
 * (later fields win in protobuf, and in the server's decoder):
 *   bits 0-1  the auth_token of a token the harness made: 0 none (the
 *             envelope's own, if any), 1 reader, 2 editor, 3 admin;
 *   bit 2     a deadline that lets WatchChanges park for up to ~50 ms
 *             (otherwise 1 ms: a long poll answers at once).
 * Backup never gets a token: it copies the store to any path it is given.
 *
 * The reply must come (within 10 s) and decode as orgdir.v1.Response. Every
 * RESET_EVERY inputs (or ORGDIR_FUZZ_RESET_EVERY) the server stops, the
 * store must pass od_store_check whatever the inputs wrote, and a fresh
 * store replaces it, so that what earlier inputs wrote does not grow
 * without bound. State carries
 * over between inputs otherwise: to reproduce a crash, run its input alone
 * (tests/fuzz/corpus/dispatch/regress-* are replayed that way by ctest).
 * ORGDIR_FUZZ_VERBOSE=1 prints the status each input got (stdout).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "check.h"
#include "iso3166.h"
#include "server.h"

#define URL "inproc://orgdir-fuzz-dispatch"
#define RESET_EVERY 20000
#define REPLY_WAIT_MS 10000
#define SECRET_MAX 128

static struct {
	char dir[256];
	od_iso3166 *iso;
	struct od_store *store;
	struct od_server srv;
	bool running;
	nng_socket req;
	char secret[4][SECRET_MAX]; /* [role]: "" for none */
	od_arena arena;
	unsigned long inputs;
	bool verbose;
	unsigned long reset_every;
} g;

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_dispatch: %s: %s\n", what, why);
	abort();
}

static void
rmtree(const char *path)
{
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char p[512];
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
				rmtree(p);
			}
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void
make_token(const char *name, int role)
{
	orgdir_status st;
	od_txn *t;
	Orgdir__V1__TokenInfo *info;
	char *secret;
	if (od_store_write_begin(g.store, &t, &st) != ORGDIR_OK ||
	    od_token_create(t, &g.arena, name, role, 0, &info, &secret, &st) != ORGDIR_OK) {
		die("create a token", st.message);
	}
	od_strlcpy(g.secret[role], secret, SECRET_MAX);
	if (od_txn_commit(t, NULL, &st) != ORGDIR_OK) {
		die("commit a token", st.message);
	}
	od_arena_reset(&g.arena);
}

/* A fresh store and a server on it; the client socket dialled to it. */
static void
start(void)
{
	orgdir_status st = {ORGDIR_OK, "", 0};
	const char *tmp = getenv("TMPDIR");
	snprintf(g.dir, sizeof(g.dir), "%s/orgdir-fuzz-dispatch.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(g.dir) == NULL) {
		die("mkdtemp", strerror(errno));
	}
	od_store_opts so = {.path = g.dir, .no_sync = true, .iso = g.iso, .max_readers = 64};
	if (od_store_open(&so, &g.store, &st) != ORGDIR_OK) {
		die("open the store", st.message);
	}
	if (od_seed_load(g.store, ORGDIR_FUZZ_SEED, &st) != ORGDIR_OK) {
		die("seed the store", st.message);
	}
	make_token("fuzz-reader", ORGDIR__V1__ROLE__READER);
	make_token("fuzz-editor", ORGDIR__V1__ROLE__EDITOR);
	make_token("fuzz-admin", ORGDIR__V1__ROLE__ADMIN);
	const char *listen[] = {URL};
	od_server_opts o = {.listen = listen,
	    .n_listen = 1,
	    .max_message_bytes = 1u << 20,
	    .max_reply_bytes = 64u << 20,
	    .contexts = 8};
	if (od_server_start(&g.srv, g.store, &o, &st) != ORGDIR_OK) {
		die("start the server", st.message);
	}
	g.running = true;
	int rv = nng_req0_open(&g.req);
	if (rv == 0) {
		rv = nng_socket_set_ms(g.req, NNG_OPT_RECVTIMEO, REPLY_WAIT_MS);
	}
	if (rv == 0) {
		rv = nng_dial(g.req, URL, NULL, 0);
	}
	if (rv != 0) {
		die("dial the server", nng_strerror(rv));
	}
}

static void
stop(void)
{
	nng_close(g.req);
	od_server_stop(&g.srv);
	g.running = false;
	/* Whatever the inputs wrote, the store must still be consistent. */
	od_check_report rep;
	orgdir_status st;
	if (od_store_check(g.store, &rep, &st) != ORGDIR_OK) {
		od_check_report_print(&rep, stdout);
		fflush(stdout);
		die("the store after the inputs", st.message);
	}
	od_store_close(g.store);
	g.store = NULL;
	rmtree(g.dir);
}

static void
at_exit(void)
{
	if (g.running) {
		stop();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	orgdir_status st;
	if (od_iso3166_load(NULL, NULL, &g.iso, &st) != ORGDIR_OK) {
		die("load ISO 3166", st.message);
	}
	od_arena_init(&g.arena, 16u << 20);
	g.verbose = getenv("ORGDIR_FUZZ_VERBOSE") != NULL;
	const char *every = getenv("ORGDIR_FUZZ_RESET_EVERY");
	g.reset_every = every != NULL ? strtoul(every, NULL, 10) : 0;
	g.reset_every = g.reset_every > 0 ? g.reset_every : RESET_EVERY;
	start();
	atexit(at_exit);
	return 0;
}

static void
append_varint(uint8_t *p, size_t *n, uint64_t v)
{
	while (v >= 0x80) {
		p[(*n)++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	p[(*n)++] = (uint8_t) v;
}

/* Is the method the server will see in these bytes Backup? Decoded as
 * the server decodes them. */
static bool
is_backup(const uint8_t *p, size_t n)
{
	Orgdir__V1__Request req;
	bool backup =
	    od_frame_decode_request(p, n, &g.arena, &req) && strcmp(req.method, "Backup") == 0;
	od_arena_reset(&g.arena);
	return backup;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20)) {
		return 0;
	}
	if (++g.inputs % g.reset_every == 0) {
		stop();
		start();
	}
	uint8_t sel = data[0];
	nng_msg *m;
	uint8_t tail[16 + SECRET_MAX];
	size_t tl = 0;
	tail[tl++] = 5 << 3; /* deadline_ms */
	append_varint(tail, &tl, (sel & 4) ? 250 : 1);
	size_t without_token = tl;
	const char *secret = g.secret[sel & 3];
	if (secret[0] != '\0') {
		tail[tl++] = 4 << 3 | 2; /* auth_token */
		append_varint(tail, &tl, strlen(secret));
		memcpy(tail + tl, secret, strlen(secret));
		tl += strlen(secret);
	}
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, data + 1, size - 1) != 0 ||
	    nng_msg_append(m, tail, tl) != 0) {
		die("build the request", "out of memory");
	}
	if (tl > without_token && is_backup(nng_msg_body(m), nng_msg_len(m))) {
		nng_msg_chop(m, tl - without_token);
	}
	int rv = nng_sendmsg(g.req, m, 0);
	if (rv != 0) {
		die("send", nng_strerror(rv));
	}
	rv = nng_recvmsg(g.req, &m, 0);
	if (rv != 0) {
		die("no reply", nng_strerror(rv));
	}
	Orgdir__V1__Response *r =
	    orgdir__v1__response__unpack(&g.arena.pb, nng_msg_len(m), nng_msg_body(m));
	if (r == NULL) {
		die("the reply", "not an orgdir.v1.Response");
	}
	if (r->code < 0 || r->code >= ORGDIR_CODE_COUNT) {
		die("the reply", "a status code out of range");
	}
	if (g.verbose) { /* ORGDIR_FUZZ_VERBOSE=1: what each input got */
		printf("fuzz_dispatch: %s %s\n", orgdir_code_name(r->code), r->message);
	}
	od_arena_reset(&g.arena);
	nng_msg_free(m);
	return 0;
}
