/*
 * test_client.c - liborgdir against a small REP server run inside the test
 * (real nng over ipc:// in a temporary directory, no mocks): envelopes,
 * decoding, error mapping, timeouts, re-sends and sharing one client
 * between threads.
 *
 * cmocka's assertions jump out of the test, so they run on the main thread
 * only: server and client threads count what went wrong instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "orgdir/orgdir.h"

#define SERVER_WORKERS 4
#define SEEN_MAX 2048
#define THREADS 8
#define CALLS_PER_THREAD 200

static char tmp_dir[128];
static int url_seq;

/* --- the test server ------------------------------------------------------- */

enum mode {
	M_DISPATCH, /* answer each method with a recognisable reply */
	M_WRONG_CALL_ID,
	M_GARBAGE, /* bytes that are not a Response */
	M_GARBAGE_BODY, /* a good envelope around a body that is not a Unit */
	M_NOT_FOUND, /* code 5 with a message and revision 7 */
	M_EMPTY_ERROR, /* code 7 with no message */
	M_UNKNOWN_CODE, /* code 99 */
	M_BAD_UTF8, /* a Unit whose id is not UTF-8 */
	M_BAD_UTF8_NESTED, /* a Unit whose name's text is not UTF-8 */
	M_NUL_IN_STRING, /* a Unit whose id has a NUL inside */
	M_BIG_BODY, /* a 3000-byte body */
	M_EXPLODE, /* a small body that decodes into a lot of memory */
	M_SILENT, /* receive and never answer */
	M_LARGE_TREE, /* GetSubtree: max_depth nodes of ~340 bytes, named after root_id */
};

struct seen {
	char method[32];
	uint64_t call_id;
	uint8_t rid[16];
	size_t rid_len;
	char token[32];
	uint32_t deadline_ms;
	uint32_t max_reply;
};

struct server;
struct worker {
	struct server *s;
	/* Both made before the thread starts and released after it is joined,
	 * so server_stop never races the worker for them. */
	nng_ctx ctx;
	nng_aio *aio;
};

struct server {
	nng_socket sock;
	pthread_t workers[SERVER_WORKERS];
	struct worker w[SERVER_WORKERS];
	int n_workers;
	atomic_bool stop;
	atomic_int mode;
	atomic_int handled;
	atomic_int errors; /* requests the server could not read or answer */
	pthread_mutex_t mu;
	struct seen seen[SEEN_MAX]; /* in arrival order, under mu */
	size_t n_seen;
	char url[192];
};

static void
record(struct server *s, const Orgdir__V1__Request *req)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_seen < SEEN_MAX) {
		struct seen *e = &s->seen[s->n_seen++];
		snprintf(e->method, sizeof(e->method), "%s", req->method);
		e->call_id = req->call_id;
		e->rid_len = req->request_id.len;
		if (e->rid_len <= sizeof(e->rid)) {
			memcpy(e->rid, req->request_id.data, e->rid_len);
		}
		snprintf(e->token, sizeof(e->token), "%s", req->auth_token);
		e->deadline_ms = req->deadline_ms;
		e->max_reply = req->max_reply_bytes;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Packs m into *out (malloc'd, freed by the caller). */
static void
pack_into(const ProtobufCMessage *m, ProtobufCBinaryData *out)
{
	out->len = protobuf_c_message_get_packed_size(m);
	out->data = malloc(out->len > 0 ? out->len : 1);
	protobuf_c_message_pack(m, out->data);
}

static Orgdir__V1__Unit *
unit_init(Orgdir__V1__Unit *u, const char *id)
{
	orgdir__v1__unit__init(u);
	u->id = (char *) id;
	return u;
}

/* Node i of a large tree rooted at root: its id and acronym. */
static void
large_node_text(const char *root, size_t i, char *id, size_t id_size, char *acr, size_t acr_size)
{
	snprintf(id, id_size, "u%zu-%s", i, root);
	memset(acr, root[0], acr_size - 1);
	acr[acr_size - 1] = '\0';
}

#define LARGE_ACRONYM 320
/* M_LARGE_TREE answers a GetSubtree of this root with invalid UTF-8. */
#define LARGE_BROKEN "broken"

/* M_LARGE_TREE's GetSubtree reply: false for a request it cannot read. */
static bool
large_tree(const Orgdir__V1__Request *req, ProtobufCBinaryData *body)
{
	Orgdir__V1__GetSubtreeRequest *r =
	    orgdir__v1__get_subtree_request__unpack(NULL, req->body.len, req->body.data);
	if (r == NULL || r->root_id[0] == '\0' || r->max_depth <= 0) {
		orgdir__v1__get_subtree_request__free_unpacked(r, NULL);
		return false;
	}
	size_t n = (size_t) r->max_depth;
	Orgdir__V1__GetSubtreeResponse resp = ORGDIR__V1__GET_SUBTREE_RESPONSE__INIT;
	Orgdir__V1__SubtreeNode *nodes = calloc(n, sizeof(*nodes));
	Orgdir__V1__SubtreeNode **ptrs = calloc(n, sizeof(*ptrs));
	Orgdir__V1__Unit *units = calloc(n, sizeof(*units));
	char(*ids)[32] = calloc(n, sizeof(*ids));
	char(*acrs)[LARGE_ACRONYM] = calloc(n, sizeof(*acrs));
	assert_true(nodes != NULL && ptrs != NULL && units != NULL && ids != NULL && acrs != NULL);
	for (size_t i = 0; i < n; i++) {
		large_node_text(r->root_id, i, ids[i], sizeof(ids[i]), acrs[i], sizeof(acrs[i]));
		orgdir__v1__subtree_node__init(&nodes[i]);
		nodes[i].unit = unit_init(&units[i], ids[i]);
		units[i].acronym = acrs[i];
		ptrs[i] = &nodes[i];
	}
	if (strcmp(r->root_id, LARGE_BROKEN) == 0) {
		/* The last node's acronym ends in a lone lead byte: the client
		 * finds it only after decoding everything before it. */
		acrs[n - 1][LARGE_ACRONYM - 2] = (char) 0xC3;
	}
	resp.n_nodes = n;
	resp.nodes = ptrs;
	pack_into(&resp.base, body);
	free(nodes);
	free(ptrs);
	free(units);
	free(ids);
	free(acrs);
	orgdir__v1__get_subtree_request__free_unpacked(r, NULL);
	return true;
}

/* Builds the body for method and req_body; returns the status code. */
static int
dispatch(struct server *s, const Orgdir__V1__Request *req, ProtobufCBinaryData *body, char *msg,
    size_t msg_size)
{
	const uint8_t *in = req->body.data;
	size_t in_len = req->body.len;
	Orgdir__V1__Unit u, u2;
	char buf[256];
	(void) s;

	if (strcmp(req->method, "GetUnit") == 0) {
		Orgdir__V1__GetUnitRequest *r =
		    orgdir__v1__get_unit_request__unpack(NULL, in_len, in);
		if (r == NULL) {
			return 3;
		}
		unit_init(&u, r->id);
		u.acronym = "GetUnit";
		u.etag = req->auth_token; /* lets the test see the token came through */
		pack_into(&u.base, body);
		orgdir__v1__get_unit_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "ListUnits") == 0) {
		Orgdir__V1__ListUnitsRequest *r =
		    orgdir__v1__list_units_request__unpack(NULL, in_len, in);
		Orgdir__V1__ListUnitsResponse resp = ORGDIR__V1__LIST_UNITS_RESPONSE__INIT;
		Orgdir__V1__Unit *units[2] = {unit_init(&u, "child-a"), unit_init(&u2, "child-b")};
		if (r == NULL) {
			return 3;
		}
		u.parent_id = u2.parent_id = r->parent_id;
		resp.n_units = 2;
		resp.units = units;
		snprintf(buf, sizeof(buf), "after:%s", r->page_token);
		resp.next_page_token = buf;
		resp.total_size = r->page_size;
		pack_into(&resp.base, body);
		orgdir__v1__list_units_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "GetSubtree") == 0) {
		Orgdir__V1__GetSubtreeRequest *r =
		    orgdir__v1__get_subtree_request__unpack(NULL, in_len, in);
		Orgdir__V1__GetSubtreeResponse resp = ORGDIR__V1__GET_SUBTREE_RESPONSE__INIT;
		Orgdir__V1__SubtreeNode n0 = ORGDIR__V1__SUBTREE_NODE__INIT;
		Orgdir__V1__SubtreeNode n1 = ORGDIR__V1__SUBTREE_NODE__INIT;
		Orgdir__V1__SubtreeNode *nodes[2] = {&n0, &n1};
		if (r == NULL) {
			return 3;
		}
		n0.unit = unit_init(&u, r->root_id[0] != '\0' ? r->root_id : "(all)");
		n1.depth = (uint32_t) r->max_depth;
		n1.unit = unit_init(&u2, "leaf");
		resp.n_nodes = 2;
		resp.nodes = nodes;
		pack_into(&resp.base, body);
		orgdir__v1__get_subtree_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "GetAncestors") == 0) {
		Orgdir__V1__GetAncestorsRequest *r =
		    orgdir__v1__get_ancestors_request__unpack(NULL, in_len, in);
		Orgdir__V1__GetAncestorsResponse resp = ORGDIR__V1__GET_ANCESTORS_RESPONSE__INIT;
		Orgdir__V1__Unit *units[2] = {unit_init(&u, "root"), unit_init(&u2, "")};
		if (r == NULL) {
			return 3;
		}
		u2.id = r->id;
		u2.parent_id = "root";
		resp.n_units = 2;
		resp.units = units;
		pack_into(&resp.base, body);
		orgdir__v1__get_ancestors_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "CreateUnit") == 0) {
		Orgdir__V1__CreateUnitRequest *r =
		    orgdir__v1__create_unit_request__unpack(NULL, in_len, in);
		if (r == NULL || r->unit == NULL) {
			orgdir__v1__create_unit_request__free_unpacked(r, NULL);
			return 3;
		}
		char *sent_etag = r->unit->etag; /* owned by r: put back before freeing */
		r->unit->etag = "etag-1";
		pack_into(&r->unit->base, body);
		r->unit->etag = sent_etag;
		orgdir__v1__create_unit_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "UpdateUnit") == 0) {
		Orgdir__V1__UpdateUnitRequest *r =
		    orgdir__v1__update_unit_request__unpack(NULL, in_len, in);
		if (r == NULL || r->unit == NULL) {
			orgdir__v1__update_unit_request__free_unpacked(r, NULL);
			return 3;
		}
		unit_init(&u, r->unit->id);
		buf[0] = '\0';
		if (r->update_mask == NULL) {
			snprintf(buf, sizeof(buf), "(no mask)");
		} else {
			for (size_t i = 0; i < r->update_mask->n_paths; i++) {
				size_t used = strlen(buf);
				snprintf(buf + used, sizeof(buf) - used, "%s%s", i > 0 ? "," : "",
				    r->update_mask->paths[i]);
			}
		}
		u.acronym = buf;
		pack_into(&u.base, body);
		orgdir__v1__update_unit_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "MoveUnit") == 0) {
		Orgdir__V1__MoveUnitRequest *r =
		    orgdir__v1__move_unit_request__unpack(NULL, in_len, in);
		if (r == NULL) {
			return 3;
		}
		unit_init(&u, r->id);
		u.parent_id = r->new_parent_id;
		snprintf(buf, sizeof(buf), "moved:%s", r->etag);
		u.etag = buf;
		pack_into(&u.base, body);
		orgdir__v1__move_unit_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "DeleteUnit") == 0) {
		Orgdir__V1__DeleteUnitRequest *r =
		    orgdir__v1__delete_unit_request__unpack(NULL, in_len, in);
		Orgdir__V1__DeleteUnitResponse resp = ORGDIR__V1__DELETE_UNIT_RESPONSE__INIT;
		if (r == NULL) {
			return 3;
		}
		if (strcmp(r->id, "missing") == 0) {
			snprintf(msg, msg_size, "unit 'missing' does not exist");
			orgdir__v1__delete_unit_request__free_unpacked(r, NULL);
			return 5;
		}
		/* Encodes what arrived: force adds 6, an etag adds 100. */
		resp.deleted_count = 1u + (r->force ? 6u : 0u) + (r->etag[0] != '\0' ? 100u : 0u);
		pack_into(&resp.base, body);
		orgdir__v1__delete_unit_request__free_unpacked(r, NULL);
		return 0;
	}
	if (strcmp(req->method, "Health") == 0) {
		Orgdir__V1__HealthCheckResponse resp = ORGDIR__V1__HEALTH_CHECK_RESPONSE__INIT;
		resp.status = ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		pack_into(&resp.base, body);
		return 0;
	}
	if (strcmp(req->method, "ServerInfo") == 0) {
		Orgdir__V1__ServerInfoResponse resp = ORGDIR__V1__SERVER_INFO_RESPONSE__INIT;
		char *methods[2] = {"GetUnit", "Health"};
		resp.version = "test-1.0";
		resp.n_methods = 2;
		resp.methods = methods;
		resp.max_message_bytes = req->max_reply_bytes;
		pack_into(&resp.base, body);
		return 0;
	}
	snprintf(msg, msg_size, "method '%s' is not implemented", req->method);
	return 12;
}

/* Builds the answer to one request (in is freed); NULL = no answer. */
static nng_msg *
handle(struct server *s, nng_msg *in)
{
	Orgdir__V1__Request *req =
	    orgdir__v1__request__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
	Orgdir__V1__Response resp = ORGDIR__V1__RESPONSE__INIT;
	ProtobufCBinaryData body = {0, NULL};
	char message[256] = "";
	Orgdir__V1__Unit u;
	nng_msg *out = NULL;
	int mode = atomic_load(&s->mode);

	nng_msg_free(in);
	if (req == NULL) {
		atomic_fetch_add(&s->errors, 1);
		return NULL;
	}
	record(s, req);
	atomic_fetch_add(&s->handled, 1);
	resp.call_id = req->call_id;
	resp.revision = 42;
	switch (mode) {
	case M_DISPATCH:
		resp.code = dispatch(s, req, &body, message, sizeof(message));
		break;
	case M_WRONG_CALL_ID:
		resp.call_id = req->call_id + 1000;
		resp.code = dispatch(s, req, &body, message, sizeof(message));
		break;
	case M_GARBAGE:
		/* Field 3, length 16, then 1 byte: truncated, never a Response. */
		if (nng_msg_alloc(&out, 0) == 0) {
			nng_msg_append(out, "\x1a\x10x", 3);
		}
		orgdir__v1__request__free_unpacked(req, NULL);
		return out;
	case M_GARBAGE_BODY:
		body.len = 3;
		body.data = malloc(3);
		memcpy(body.data, "\x0a\x20x", 3);
		break;
	case M_NOT_FOUND:
		resp.code = 5;
		resp.revision = 7;
		snprintf(message, sizeof(message), "unit 'x' does not exist");
		break;
	case M_EMPTY_ERROR:
		resp.code = 7;
		break;
	case M_UNKNOWN_CODE:
		resp.code = 99;
		snprintf(message, sizeof(message), "from the future");
		break;
	case M_BAD_UTF8:
		unit_init(&u, "bad\xff\xfeid");
		pack_into(&u.base, &body);
		break;
	case M_BAD_UTF8_NESTED: {
		Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
		Orgdir__V1__LocalizedString *names[] = {&n};
		n.lang = "fr";
		n.text = "Direction g\xe9n\xe9rale"; /* Latin-1, not UTF-8 */
		unit_init(&u, "u");
		u.name = names;
		u.n_name = 1;
		pack_into(&u.base, &body);
		break;
	}
	case M_NUL_IN_STRING:
		/* Unit { id = 1: "u\0x" }: protobuf-c would hand over "u". */
		body.len = 5;
		body.data = malloc(5);
		memcpy(body.data, "\x0a\x03u\0x", 5);
		break;
	case M_BIG_BODY: {
		char big[3001];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		unit_init(&u, "big");
		u.acronym = big;
		pack_into(&u.base, &body);
		break;
	}
	case M_EXPLODE: {
		/* 1000 empty units: 2 bytes each on the wire, ~170 decoded. */
		Orgdir__V1__ListUnitsResponse lr = ORGDIR__V1__LIST_UNITS_RESPONSE__INIT;
		Orgdir__V1__Unit *units[1000];
		orgdir__v1__unit__init(&u);
		for (size_t i = 0; i < 1000; i++) {
			units[i] = &u;
		}
		lr.n_units = 1000;
		lr.units = units;
		pack_into(&lr.base, &body);
		break;
	}
	case M_LARGE_TREE:
		if (!large_tree(req, &body)) {
			resp.code = 3;
		}
		break;
	case M_SILENT:
	default:
		orgdir__v1__request__free_unpacked(req, NULL);
		return NULL;
	}
	resp.message = message;
	resp.body = body;
	size_t n = orgdir__v1__response__get_packed_size(&resp);
	if (nng_msg_alloc(&out, n) == 0) {
		orgdir__v1__response__pack(&resp, nng_msg_body(out));
	} else {
		atomic_fetch_add(&s->errors, 1);
	}
	free(body.data);
	orgdir__v1__request__free_unpacked(req, NULL);
	return out;
}

static void *
server_worker(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->s;
	nng_ctx ctx = w->ctx;
	nng_aio *aio = w->aio;

	/*
	 * nng 1.5 can panic when nng_close runs while another thread is inside
	 * nng_ctx_send on that socket (faabric/faabric#290 shows the same
	 * trace), so workers are never woken by closing the socket: server_stop
	 * sets `stop` and nng_aio_stop()s their aio (which also fails every
	 * later operation on it), joins them, and only then closes. The
	 * timeout is a fallback only: short ones expire before the wait under
	 * valgrind on a busy machine and turn the loop into a spin.
	 */
	while (!atomic_load(&s->stop)) {
		nng_aio_set_timeout(aio, 500);
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		int rv = nng_aio_result(aio);
		if (rv == NNG_ETIMEDOUT) {
			continue;
		}
		if (rv != 0) {
			if (!atomic_load(&s->stop)) {
				atomic_fetch_add(&s->errors, 1);
			}
			break;
		}
		nng_msg *out = handle(s, nng_aio_get_msg(aio));
		if (out == NULL) {
			continue;
		}
		nng_aio_set_timeout(aio, 5000);
		nng_aio_set_msg(aio, out);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(nng_aio_get_msg(aio));
			if (!atomic_load(&s->stop)) {
				atomic_fetch_add(&s->errors, 1);
			}
		}
	}
	return NULL;
}

static void
server_start(struct server *s, const char *url, enum mode mode)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->url, sizeof(s->url), "%s", url);
	atomic_init(&s->stop, false);
	atomic_init(&s->mode, mode);
	atomic_init(&s->handled, 0);
	atomic_init(&s->errors, 0);
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(nng_rep0_open(&s->sock), 0);
	assert_int_equal(nng_listen(s->sock, url, NULL, 0), 0);
	for (int i = 0; i < SERVER_WORKERS; i++) {
		s->w[i].s = s;
		assert_int_equal(nng_ctx_open(&s->w[i].ctx, s->sock), 0);
		assert_int_equal(nng_aio_alloc(&s->w[i].aio, NULL, NULL), 0);
		assert_int_equal(pthread_create(&s->workers[i], NULL, server_worker, &s->w[i]), 0);
		s->n_workers++;
	}
}

static void
server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	for (int i = 0; i < s->n_workers; i++) {
		nng_aio_stop(s->w[i].aio);
	}
	for (int i = 0; i < s->n_workers; i++) {
		pthread_join(s->workers[i], NULL);
		nng_aio_free(s->w[i].aio);
		nng_ctx_close(s->w[i].ctx);
	}
	s->n_workers = 0;
	nng_close(s->sock);
	pthread_mutex_destroy(&s->mu);
}

/* --- helpers ------------------------------------------------------------------ */

static void
next_url(char *url, size_t size)
{
	snprintf(url, size, "ipc://%s/s%d.sock", tmp_dir, ++url_seq);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static orgdir_client *
client_open(const char *url, int timeout_ms, size_t max_bytes, const char *token)
{
	orgdir_options o = {
	    .timeout_ms = timeout_ms, .token = token, .max_message_bytes = max_bytes};
	orgdir_client *c = NULL;
	orgdir_status st;
	orgdir_code code = orgdir_client_open(url, &o, &c, &st);
	if (code != ORGDIR_OK) {
		fail_msg("open %s: %s: %s", url, orgdir_code_name(code), st.message);
	}
	assert_non_null(c);
	return c;
}

#define assert_contains(hay, needle) \
	do { \
		if (strstr((hay), (needle)) == NULL) { \
			fail_msg("'%s' does not contain '%s'", (hay), (needle)); \
		} \
	} while (0)

/* A server in `mode` and a client of it, per test. */
struct fixture {
	struct server srv;
	orgdir_client *c;
	char url[192];
};

static struct fixture *
fixture_new(enum mode mode, int timeout_ms, size_t max_bytes, const char *token)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	next_url(f->url, sizeof(f->url));
	server_start(&f->srv, f->url, mode);
	f->c = client_open(f->url, timeout_ms, max_bytes, token);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	orgdir_client_close(f->c);
	server_stop(&f->srv);
	assert_int_equal(atomic_load(&f->srv.errors), 0);
	free(f);
}

/* Calls GetUnit and expects `want`; returns the status for more checks. */
static orgdir_status
get_expect(orgdir_client *c, const char *id, orgdir_code want)
{
	orgdir_reply *r = (orgdir_reply *) (uintptr_t) 1; /* must be cleared */
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) (uintptr_t) 1;
	orgdir_status st;
	orgdir_code code = orgdir_unit_get(c, id, &r, &u, &st);
	if (code != want) {
		fail_msg("GetUnit %s: got %s (%s), want %s", id, orgdir_code_name(code), st.message,
		    orgdir_code_name(want));
	}
	assert_int_equal(st.code, want);
	if (want == ORGDIR_OK) {
		assert_non_null(r);
		assert_non_null(u);
		assert_string_equal(u->id, id);
		orgdir_reply_free(r);
	} else {
		assert_null(r);
		assert_null(u);
		assert_true(st.message[0] != '\0');
	}
	return st;
}

/* --- tests --------------------------------------------------------------------- */

static void
test_open_refuses_bad_arguments(void **state)
{
	orgdir_client *c = (orgdir_client *) (uintptr_t) 1;
	orgdir_status st;
	orgdir_options neg = {.timeout_ms = -5};
	orgdir_options huge = {.max_message_bytes = (size_t) 1 << 30};
	orgdir_options neg_wait = {.reconnect_ms = -1};
	(void) state;

	assert_int_equal(orgdir_client_open(NULL, NULL, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(c);
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", NULL, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_client_open("nope://somewhere", NULL, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(c);
	assert_contains(st.message, "nope://somewhere");
	assert_int_equal(orgdir_client_open("tcp://", NULL, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(c);
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", &neg, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "timeout_ms");
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", &huge, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "max_message_bytes");
	assert_null(c);
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", &neg_wait, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "reconnect_ms");
	assert_null(c);
	/* A token travels as a proto3 string: UTF-8, and bounded. */
	orgdir_options bad_token = {.token = "odt_\xff\xfe"};
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", &bad_token, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "UTF-8");
	assert_null(c);
	enum { TOKEN_MAX = 4096 }; /* orgdir_options.token: "at most 4096 bytes" */
	char *long_token = malloc(TOKEN_MAX + 2);
	assert_non_null(long_token);
	memset(long_token, 'a', TOKEN_MAX + 1);
	long_token[TOKEN_MAX + 1] = '\0';
	orgdir_options long_opts = {.token = long_token};
	assert_int_equal(
	    orgdir_client_open("ipc:///tmp/x", &long_opts, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "longer than");
	assert_null(c);
	long_token[TOKEN_MAX] = '\0'; /* the largest allowed */
	assert_int_equal(orgdir_client_open("ipc:///tmp/x", &long_opts, &c, &st), ORGDIR_OK);
	orgdir_client_close(c);
	free(long_token);
	c = (orgdir_client *) (uintptr_t) 1;
	assert_int_equal(orgdir_client_open("", NULL, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "no server URL");
	assert_null(c);
	/* A status is optional. */
	assert_int_equal(orgdir_client_open("nope://x", NULL, &c, NULL), ORGDIR_INVALID_ARGUMENT);
}

static void
test_null_arguments_make_no_call(void **state)
{
	char url[192];
	orgdir_status st;
	orgdir_reply *r = (orgdir_reply *) (uintptr_t) 1;
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) (uintptr_t) 1;
	ProtobufCMessage *m = (ProtobufCMessage *) (uintptr_t) 1;
	Orgdir__V1__GetUnitRequest req = ORGDIR__V1__GET_UNIT_REQUEST__INIT;
	Orgdir__V1__Unit unit = ORGDIR__V1__UNIT__INIT;
	uint32_t deleted = 99;
	int serving = 99;
	(void) state;

	/* Nobody listens: a call that went out would wait for its timeout. */
	next_url(url, sizeof(url));
	orgdir_client *c = client_open(url, 5000, 0, NULL);
	uint64_t t0 = now_ms();

	assert_int_equal(orgdir_unit_get(c, NULL, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(r);
	assert_null(u);
	assert_contains(st.message, "id");
	assert_int_equal(orgdir_unit_get(NULL, "x", &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_unit_get(c, "x", NULL, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_unit_get(c, "x", &r, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(r);
	assert_int_equal(
	    orgdir_client_call(c, NULL, &req.base, &orgdir__v1__unit__descriptor, &r, &m, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_null(m);
	assert_int_equal(
	    orgdir_client_call(c, "GetUnit", NULL, &orgdir__v1__unit__descriptor, &r, &m, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_client_call(c, "GetUnit", &req.base, NULL, &r, &m, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_client_call(c, "", &req.base, &orgdir__v1__unit__descriptor, &r, &m, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_unit_create(c, NULL, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_update(c, NULL, NULL, 0, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_update(c, &unit, NULL, 2, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_move(c, "x", NULL, NULL, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_contains(st.message, "new_parent_id");
	assert_int_equal(orgdir_unit_ancestors(c, NULL, &r, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_delete(c, NULL, 0, NULL, &deleted, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(deleted, 0);
	assert_int_equal(orgdir_server_health(NULL, &serving, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(serving, 0);
	assert_int_equal(orgdir_server_info(c, NULL, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_null(r);
	assert_null(u);

	assert_true(now_ms() - t0 < 1000);
	orgdir_client_close(c);
	orgdir_client_close(NULL);
	orgdir_reply_free(NULL);
}

static void
test_reply_is_decoded_and_outlives_client(void **state)
{
	struct fixture *f = fixture_new(M_DISPATCH, 5000, 0, "tok");
	orgdir_reply *r = NULL;
	Orgdir__V1__Unit *u = NULL;
	orgdir_status st;
	(void) state;

	st.revision = 999;
	snprintf(st.message, sizeof(st.message), "stale");
	assert_int_equal(orgdir_unit_get(f->c, "dg-office", &r, &u, &st), ORGDIR_OK);
	assert_int_equal(st.code, ORGDIR_OK);
	assert_string_equal(st.message, "");
	assert_int_equal(st.revision, 42);
	assert_non_null(r);
	assert_string_equal(u->id, "dg-office");
	assert_string_equal(u->acronym, "GetUnit");
	assert_string_equal(u->etag, "tok");
	/* A status is optional, and replies are independent of the client. */
	orgdir_reply *r2 = NULL;
	Orgdir__V1__Unit *u2 = NULL;
	assert_int_equal(orgdir_unit_get(f->c, "second", &r2, &u2, NULL), ORGDIR_OK);
	orgdir_client_close(f->c);
	f->c = NULL;
	assert_string_equal(u->id, "dg-office");
	assert_string_equal(u2->id, "second");
	orgdir_reply_free(r);
	orgdir_reply_free(r2);
	fixture_free(f);
}

static void
test_envelope_fields_are_sent(void **state)
{
	struct fixture *f = fixture_new(M_DISPATCH, 3000, 123456, "secret-token");
	enum { N = 20 };
	(void) state;

	for (int i = 0; i < N; i++) {
		get_expect(f->c, "u1", ORGDIR_OK);
	}
	/* A second client must draw a different random half. */
	orgdir_client *c2 = client_open(f->url, 3000, 0, NULL);
	get_expect(c2, "u2", ORGDIR_OK);
	orgdir_client_close(c2);

	struct server *s = &f->srv;
	assert_int_equal(s->n_seen, N + 1);
	for (int i = 0; i < N; i++) {
		const struct seen *e = &s->seen[i];
		assert_string_equal(e->method, "GetUnit");
		assert_string_equal(e->token, "secret-token");
		assert_int_equal(e->deadline_ms, 3000);
		assert_int_equal(e->max_reply, 123456);
		assert_int_equal(e->rid_len, 16);
		/* Calls are sequential: ids and counters increase by one. */
		assert_int_equal(e->call_id, (uint64_t) i + 1);
		assert_memory_equal(e->rid, s->seen[0].rid, 8);
		uint64_t counter = 0;
		for (int k = 8; k < 16; k++) {
			counter = (counter << 8) | e->rid[k];
		}
		assert_int_equal(counter, e->call_id);
		for (int j = 0; j < i; j++) {
			assert_memory_not_equal(e->rid, s->seen[j].rid, 16);
		}
	}
	const struct seen *other = &s->seen[N];
	assert_string_equal(other->token, "");
	assert_int_equal(other->deadline_ms, 3000);
	assert_int_equal(other->max_reply, 4u << 20); /* the default */
	assert_int_equal(other->rid_len, 16);
	assert_memory_not_equal(other->rid, s->seen[0].rid, 8);
	fixture_free(f);
}

static void
test_reply_for_another_call_is_internal(void **state)
{
	struct fixture *f = fixture_new(M_WRONG_CALL_ID, 5000, 0, NULL);
	(void) state;
	orgdir_status st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "another call");
	fixture_free(f);
}

static void
test_garbage_reply_is_internal(void **state)
{
	struct fixture *f = fixture_new(M_GARBAGE, 5000, 0, NULL);
	(void) state;
	orgdir_status st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "malformed reply");
	assert_contains(st.message, f->url);
	atomic_store(&f->srv.mode, M_GARBAGE_BODY);
	st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "orgdir.v1.Unit");
	atomic_store(&f->srv.mode, M_BAD_UTF8);
	st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "'id'");
	assert_contains(st.message, "UTF-8");
	atomic_store(&f->srv.mode, M_BAD_UTF8_NESTED);
	st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "field 'text' of orgdir.v1.LocalizedString");
	atomic_store(&f->srv.mode, M_NUL_IN_STRING);
	st = get_expect(f->c, "u", ORGDIR_INTERNAL);
	assert_contains(st.message, "field 'id' of orgdir.v1.Unit");
	/* The client is still fine afterwards. */
	atomic_store(&f->srv.mode, M_DISPATCH);
	get_expect(f->c, "u", ORGDIR_OK);
	fixture_free(f);
}

static void
test_server_error_is_propagated(void **state)
{
	struct fixture *f = fixture_new(M_NOT_FOUND, 5000, 0, NULL);
	(void) state;
	orgdir_status st = get_expect(f->c, "x", ORGDIR_NOT_FOUND);
	assert_string_equal(st.message, "unit 'x' does not exist");
	assert_int_equal(st.revision, 7);

	atomic_store(&f->srv.mode, M_EMPTY_ERROR);
	st = get_expect(f->c, "x", ORGDIR_PERMISSION_DENIED);
	assert_string_equal(st.message, orgdir_code_message(ORGDIR_PERMISSION_DENIED));

	atomic_store(&f->srv.mode, M_UNKNOWN_CODE);
	st = get_expect(f->c, "x", ORGDIR_UNKNOWN);
	assert_contains(st.message, "99");
	assert_contains(st.message, "from the future");

	/* Through the generic call too, for a method the server lacks. */
	atomic_store(&f->srv.mode, M_DISPATCH);
	Orgdir__V1__GetUnitRequest req = ORGDIR__V1__GET_UNIT_REQUEST__INIT;
	orgdir_reply *r = NULL;
	ProtobufCMessage *m = NULL;
	assert_int_equal(
	    orgdir_client_call(f->c, "Nope", &req.base, &orgdir__v1__unit__descriptor, &r, &m, &st),
	    ORGDIR_UNIMPLEMENTED);
	assert_string_equal(st.message, "method 'Nope' is not implemented");
	assert_null(r);
	assert_null(m);
	fixture_free(f);
}

static void
test_oversize_replies_are_resource_exhausted(void **state)
{
	struct fixture *f = fixture_new(M_BIG_BODY, 5000, 2048, NULL);
	orgdir_reply *r = NULL;
	Orgdir__V1__ListUnitsResponse *lr = NULL;
	orgdir_status st;
	(void) state;

	st = get_expect(f->c, "big", ORGDIR_RESOURCE_EXHAUSTED);
	assert_contains(st.message, "2048");

	/* Under the byte limit, but it decodes into more than the arena cap. */
	atomic_store(&f->srv.mode, M_EXPLODE);
	assert_int_equal(
	    orgdir_unit_list(f->c, NULL, 0, NULL, &r, &lr, &st), ORGDIR_RESOURCE_EXHAUSTED);
	assert_null(r);
	assert_null(lr);
	assert_contains(st.message, "memory");

	/* A request larger than the limit never leaves. */
	char big[3000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	int handled = atomic_load(&f->srv.handled);
	st = get_expect(f->c, big, ORGDIR_RESOURCE_EXHAUSTED);
	assert_contains(st.message, "request");
	assert_int_equal(atomic_load(&f->srv.handled), handled);
	fixture_free(f);
}

static void
test_silent_server_is_deadline_exceeded(void **state)
{
	struct fixture *f = fixture_new(M_DISPATCH, 300, 0, NULL);
	(void) state;

	/* A first answer proves the connection is up: the timeout below is
	 * then the server's silence, not a missing connection. */
	get_expect(f->c, "warm", ORGDIR_OK);
	atomic_store(&f->srv.mode, M_SILENT);
	uint64_t t0 = now_ms();
	orgdir_status st = get_expect(f->c, "u", ORGDIR_DEADLINE_EXCEEDED);
	uint64_t took = now_ms() - t0;
	assert_true(took >= 250);
	assert_true(took < 3000);
	assert_contains(st.message, "within 300 ms");
	assert_contains(st.message, f->url);
	fixture_free(f);
}

static void
test_nobody_listening_is_unavailable(void **state)
{
	char url[192];
	(void) state;

	next_url(url, sizeof(url));
	orgdir_client *c = client_open(url, 300, 0, NULL);
	uint64_t t0 = now_ms();
	orgdir_status st = get_expect(c, "u", ORGDIR_UNAVAILABLE);
	uint64_t took = now_ms() - t0;
	assert_true(took >= 250);
	assert_true(took < 3000);
	assert_contains(st.message, "cannot connect to");
	assert_contains(st.message, url);
	assert_contains(st.message, "is orgdird running?");
	int serving = -1;
	assert_int_equal(orgdir_server_health(c, &serving, &st), ORGDIR_UNAVAILABLE);
	assert_int_equal(serving, 0);
	orgdir_client_close(c);
}

static void
test_server_started_after_open_is_reached(void **state)
{
	char url[192];
	struct server srv;
	(void) state;

	next_url(url, sizeof(url));
	orgdir_client *c = client_open(url, 5000, 0, NULL);
	server_start(&srv, url, M_DISPATCH);
	get_expect(c, "late", ORGDIR_OK);
	orgdir_client_close(c);
	server_stop(&srv);
}

struct restart {
	struct server *first;
	struct server second;
	const char *url;
};

static void *
restart_server(void *arg)
{
	struct restart *rs = arg;
	/* Wait until the silent server holds the request, then replace it. */
	for (int i = 0; i < 500 && atomic_load(&rs->first->handled) == 0; i++) {
		sleep_ms(10);
	}
	server_stop(rs->first);
	memset(&rs->second, 0, sizeof(rs->second));
	/* server_start asserts: do its work without cmocka here. */
	atomic_init(&rs->second.stop, false);
	atomic_init(&rs->second.mode, M_DISPATCH);
	pthread_mutex_init(&rs->second.mu, NULL);
	snprintf(rs->second.url, sizeof(rs->second.url), "%s", rs->url);
	if (nng_rep0_open(&rs->second.sock) != 0 ||
	    nng_listen(rs->second.sock, rs->url, NULL, 0) != 0) {
		atomic_fetch_add(&rs->second.errors, 1);
		return NULL;
	}
	for (int i = 0; i < SERVER_WORKERS; i++) {
		struct worker *w = &rs->second.w[i];
		w->s = &rs->second;
		if (nng_ctx_open(&w->ctx, rs->second.sock) != 0 ||
		    nng_aio_alloc(&w->aio, NULL, NULL) != 0 ||
		    pthread_create(&rs->second.workers[i], NULL, server_worker, w) != 0) {
			atomic_fetch_add(&rs->second.errors, 1);
			break;
		}
		rs->second.n_workers++;
	}
	return NULL;
}

static void
test_request_is_resent_to_a_restarted_server(void **state)
{
	char url[192];
	struct server first;
	struct restart rs;
	pthread_t t;
	(void) state;

	next_url(url, sizeof(url));
	server_start(&first, url, M_SILENT);
	orgdir_client *c = client_open(url, 8000, 0, NULL);
	rs.first = &first;
	rs.url = url;
	assert_int_equal(pthread_create(&t, NULL, restart_server, &rs), 0);
	get_expect(c, "survivor", ORGDIR_OK);
	pthread_join(t, NULL);
	orgdir_client_close(c);
	assert_int_equal(atomic_load(&rs.second.errors), 0);
	/* The same request, with the same idempotency key, reached both. */
	assert_int_equal(first.n_seen, 1);
	assert_true(rs.second.n_seen >= 1);
	assert_int_equal(rs.second.seen[0].rid_len, 16);
	assert_memory_equal(rs.second.seen[0].rid, first.seen[0].rid, 16);
	assert_int_equal(rs.second.seen[0].call_id, first.seen[0].call_id);
	server_stop(&rs.second);
}

static void *
stop_later(void *arg)
{
	struct server *s = arg;
	for (int i = 0; i < 500 && atomic_load(&s->handled) == 0; i++) {
		sleep_ms(10);
	}
	server_stop(s);
	return NULL;
}

/* A silent server at a new url holds a call from a client opened with o;
 * it is stopped while the call waits. Returns the call's status (it must be
 * UNAVAILABLE) and how long it took; *c stays open, the server stopped. */
static orgdir_status
call_while_server_goes(
    char *url, size_t url_size, const orgdir_options *o, orgdir_client **c, uint64_t *took)
{
	struct server srv;
	pthread_t t;
	orgdir_status st;

	next_url(url, url_size);
	server_start(&srv, url, M_SILENT);
	assert_int_equal(orgdir_client_open(url, o, c, &st), ORGDIR_OK);
	assert_int_equal(pthread_create(&t, NULL, stop_later, &srv), 0);
	uint64_t t0 = now_ms();
	st = get_expect(*c, "u", ORGDIR_UNAVAILABLE);
	*took = now_ms() - t0;
	pthread_join(t, NULL);
	assert_contains(st.message, "lost the connection");
	return st;
}

/* The timeout (1.5 s) ends the wait before reconnect_ms (5 s). */
static void
test_server_gone_mid_call_is_unavailable(void **state)
{
	char url[192];
	orgdir_options o = {.timeout_ms = 1500};
	orgdir_client *c = NULL;
	uint64_t took;
	(void) state;

	orgdir_status st = call_while_server_goes(url, sizeof(url), &o, &c, &took);
	assert_contains(st.message, "within 1500 ms");
	orgdir_client_close(c);
}

/* With a long timeout, a call gives up once the client has had no
 * connection for reconnect_ms, and says so. The 60 s timeout is what the
 * call would wait without that rule: returning within 20 s proves it. */
static void
test_server_gone_mid_call_fails_after_reconnect_wait(void **state)
{
	char url[192];
	struct server srv;
	orgdir_options o = {.timeout_ms = 60000, .reconnect_ms = 300};
	orgdir_client *c = NULL;
	uint64_t took;
	(void) state;

	orgdir_status st = call_while_server_goes(url, sizeof(url), &o, &c, &took);
	assert_true(took >= 300);
	assert_true(took < 20000);
	assert_contains(st.message, "within 300 ms");
	/* The client is still usable: it reconnects to a server back at the
	 * URL (nng's dialer retries with a back-off, so a call or two may
	 * still find no connection). */
	server_start(&srv, url, M_DISPATCH);
	orgdir_code code = ORGDIR_UNAVAILABLE;
	for (int i = 0; i < 30 && code == ORGDIR_UNAVAILABLE; i++) {
		orgdir_reply *r = NULL;
		Orgdir__V1__Unit *u = NULL;
		code = orgdir_unit_get(c, "back", &r, &u, &st);
		orgdir_reply_free(r);
	}
	assert_int_equal(code, ORGDIR_OK);
	orgdir_client_close(c);
	server_stop(&srv);
}

static void
test_nobody_listening_fails_after_reconnect_wait(void **state)
{
	char url[192];
	(void) state;

	next_url(url, sizeof(url));
	orgdir_options o = {.timeout_ms = 60000, .reconnect_ms = 300};
	orgdir_client *c = NULL;
	orgdir_status st;
	assert_int_equal(orgdir_client_open(url, &o, &c, &st), ORGDIR_OK);
	/* Twice: the second call counts its own wait from its start. */
	for (int i = 0; i < 2; i++) {
		uint64_t t0 = now_ms();
		st = get_expect(c, "u", ORGDIR_UNAVAILABLE);
		uint64_t took = now_ms() - t0;
		assert_true(took >= 300);
		assert_true(took < 20000);
		assert_contains(st.message, "cannot connect to");
		assert_contains(st.message, "within 300 ms");
	}
	orgdir_client_close(c);
}

static void
test_typed_wrappers(void **state)
{
	struct fixture *f = fixture_new(M_DISPATCH, 5000, 0, NULL);
	orgdir_reply *r = NULL;
	orgdir_status st;
	(void) state;

	Orgdir__V1__ListUnitsResponse *lr = NULL;
	assert_int_equal(orgdir_unit_list(f->c, "dept", 25, "tok1", &r, &lr, &st), ORGDIR_OK);
	assert_int_equal(lr->n_units, 2);
	assert_string_equal(lr->units[0]->id, "child-a");
	assert_string_equal(lr->units[1]->parent_id, "dept");
	assert_string_equal(lr->next_page_token, "after:tok1");
	assert_int_equal(lr->total_size, 25);
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_list(f->c, NULL, 0, NULL, &r, &lr, &st), ORGDIR_OK);
	assert_string_equal(lr->units[0]->parent_id, "");
	assert_string_equal(lr->next_page_token, "after:");
	orgdir_reply_free(r);

	Orgdir__V1__GetSubtreeResponse *sr = NULL;
	assert_int_equal(orgdir_unit_subtree(f->c, NULL, 3, &r, &sr, &st), ORGDIR_OK);
	assert_int_equal(sr->n_nodes, 2);
	assert_string_equal(sr->nodes[0]->unit->id, "(all)");
	assert_int_equal(sr->nodes[1]->depth, 3);
	orgdir_reply_free(r);

	Orgdir__V1__GetAncestorsResponse *ar = NULL;
	assert_int_equal(orgdir_unit_ancestors(f->c, "leaf-x", &r, &ar, &st), ORGDIR_OK);
	assert_int_equal(ar->n_units, 2);
	assert_string_equal(ar->units[0]->id, "root");
	assert_string_equal(ar->units[1]->id, "leaf-x");
	orgdir_reply_free(r);

	Orgdir__V1__Unit in = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString fr = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[1] = {&fr};
	Orgdir__V1__Unit *u = NULL;
	fr.lang = "fr";
	fr.text = "Direction générale";
	in.id = "dg";
	in.n_name = 1;
	in.name = names;
	assert_int_equal(orgdir_unit_create(f->c, &in, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->id, "dg");
	assert_string_equal(u->etag, "etag-1");
	assert_int_equal(u->n_name, 1);
	assert_string_equal(u->name[0]->text, "Direction générale");
	assert_string_equal(in.etag, ""); /* the caller's message is untouched */
	orgdir_reply_free(r);

	const char *paths[] = {"name", "head.name"};
	assert_int_equal(orgdir_unit_update(f->c, &in, paths, 2, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->acronym, "name,head.name");
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_update(f->c, &in, NULL, 0, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->acronym, "(no mask)");
	orgdir_reply_free(r);

	assert_int_equal(orgdir_unit_move(f->c, "div", "dept2", "e7", &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->parent_id, "dept2");
	assert_string_equal(u->etag, "moved:e7");
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_move(f->c, "div", "", NULL, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->parent_id, "");
	assert_string_equal(u->etag, "moved:");
	orgdir_reply_free(r);

	uint32_t deleted = 0;
	assert_int_equal(orgdir_unit_delete(f->c, "div", 0, NULL, &deleted, &st), ORGDIR_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(orgdir_unit_delete(f->c, "div", 1, "e9", &deleted, &st), ORGDIR_OK);
	assert_int_equal(deleted, 107);
	assert_int_equal(orgdir_unit_delete(f->c, "div", 1, NULL, NULL, &st), ORGDIR_OK);
	assert_int_equal(
	    orgdir_unit_delete(f->c, "missing", 0, NULL, &deleted, &st), ORGDIR_NOT_FOUND);
	assert_int_equal(deleted, 0);
	assert_string_equal(st.message, "unit 'missing' does not exist");

	int serving = -1;
	assert_int_equal(orgdir_server_health(f->c, &serving, &st), ORGDIR_OK);
	assert_int_equal(serving, ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	assert_int_equal(orgdir_server_health(f->c, NULL, &st), ORGDIR_OK);

	Orgdir__V1__ServerInfoResponse *info = NULL;
	assert_int_equal(orgdir_server_info(f->c, &r, &info, &st), ORGDIR_OK);
	assert_string_equal(info->version, "test-1.0");
	assert_int_equal(info->n_methods, 2);
	assert_string_equal(info->methods[1], "Health");
	assert_int_equal(info->max_message_bytes, 4u << 20);
	orgdir_reply_free(r);

	/* Each wrapper sent its own method name. */
	const char *want[] = {"ListUnits", "ListUnits", "GetSubtree", "GetAncestors", "CreateUnit",
	    "UpdateUnit", "UpdateUnit", "MoveUnit", "MoveUnit", "DeleteUnit", "DeleteUnit",
	    "DeleteUnit", "DeleteUnit", "Health", "Health", "ServerInfo"};
	assert_int_equal(f->srv.n_seen, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(f->srv.seen[i].method, want[i]);
	}
	fixture_free(f);
}

struct caller {
	orgdir_client *c;
	int idx;
	int ok;
	int wrong;
	int failed;
	char first_error[ORGDIR_STATUS_MESSAGE_MAX + 32];
};

static void *
caller_thread(void *arg)
{
	struct caller *k = arg;
	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		char id[32];
		orgdir_reply *r = NULL;
		Orgdir__V1__Unit *u = NULL;
		orgdir_status st;
		snprintf(id, sizeof(id), "t%d-c%d", k->idx, i);
		orgdir_code code = orgdir_unit_get(k->c, id, &r, &u, &st);
		if (code != ORGDIR_OK) {
			if (k->failed++ == 0) {
				snprintf(k->first_error, sizeof(k->first_error), "%s: %s",
				    orgdir_code_name(code), st.message);
			}
		} else if (strcmp(u->id, id) != 0 || strcmp(u->acronym, "GetUnit") != 0 ||
		    st.revision != 42) {
			k->wrong++;
		} else {
			k->ok++;
		}
		orgdir_reply_free(r);
	}
	return NULL;
}

static void
test_threads_share_one_client(void **state)
{
	struct fixture *f = fixture_new(M_DISPATCH, 20000, 0, NULL);
	pthread_t t[THREADS];
	struct caller k[THREADS];
	(void) state;

	for (int i = 0; i < THREADS; i++) {
		k[i] = (struct caller){.c = f->c, .idx = i};
		assert_int_equal(pthread_create(&t[i], NULL, caller_thread, &k[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	for (int i = 0; i < THREADS; i++) {
		if (k[i].failed != 0) {
			fail_msg("thread %d: %d calls failed, first: %s", i, k[i].failed,
			    k[i].first_error);
		}
		assert_int_equal(k[i].wrong, 0);
		assert_int_equal(k[i].ok, CALLS_PER_THREAD);
	}
	assert_int_equal(atomic_load(&f->srv.handled), THREADS * CALLS_PER_THREAD);
	/* Every call carried its own idempotency key. */
	struct server *s = &f->srv;
	assert_int_equal(s->n_seen, THREADS * CALLS_PER_THREAD);
	uint8_t seen_counter[THREADS * CALLS_PER_THREAD + 1] = {0};
	for (size_t i = 0; i < s->n_seen; i++) {
		uint64_t counter = 0;
		for (int b = 8; b < 16; b++) {
			counter = (counter << 8) | s->seen[i].rid[b];
		}
		assert_true(counter >= 1 && counter <= THREADS * CALLS_PER_THREAD);
		assert_int_equal(seen_counter[counter], 0);
		seen_counter[counter] = 1;
	}
	fixture_free(f);
}

/* Whether t is the large tree of root with n nodes, every byte as sent. */
static bool
large_tree_ok(const Orgdir__V1__GetSubtreeResponse *t, const char *root, size_t n)
{
	char id[32], acr[LARGE_ACRONYM];
	if (t->n_nodes != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		large_node_text(root, i, id, sizeof(id), acr, sizeof(acr));
		const Orgdir__V1__Unit *u = t->nodes[i]->unit;
		if (u == NULL || strcmp(u->id, id) != 0 || strcmp(u->acronym, acr) != 0) {
			return false;
		}
	}
	return true;
}

static Orgdir__V1__GetSubtreeResponse *
large_get(orgdir_client *c, const char *root, size_t n, orgdir_reply **r)
{
	Orgdir__V1__GetSubtreeResponse *t = NULL;
	orgdir_status st;
	orgdir_code code = orgdir_unit_subtree(c, root, (int32_t) n, r, &t, &st);
	if (code != ORGDIR_OK) {
		fail_msg("subtree %s: %s", root, st.message);
	}
	assert_true(large_tree_ok(t, root, n));
	return t;
}

/* Large replies decode into memory the client keeps between them: a reply
 * reusing it, two alive at once, and replies outliving their client must
 * each keep their own bytes (ASan and valgrind see the rest). */
static void
test_large_replies_reuse_memory(void **state)
{
	struct fixture *f = fixture_new(M_LARGE_TREE, 20000, 0, NULL);
	orgdir_reply *r1, *r2, *r3, *r4, *r5;
	(void) state;

	/* ~680 KB, then ~170 KB into the chunk the first one left. */
	large_get(f->c, "a", 2000, &r1);
	orgdir_reply_free(r1);
	Orgdir__V1__GetSubtreeResponse *t2 = large_get(f->c, "b", 500, &r2);
	/* While r2 holds that chunk, a larger reply needs one of its own. */
	Orgdir__V1__GetSubtreeResponse *t3 = large_get(f->c, "c", 3000, &r3);
	assert_true(large_tree_ok(t2, "b", 500));
	orgdir_reply_free(r2);
	/* r2's chunk went to the pool; r3's bytes are still its own. */
	assert_true(large_tree_ok(t3, "c", 3000));
	/* The pool keeps the larger chunk (r3's) whatever the order. */
	orgdir_reply_free(r3);
	large_get(f->c, "d", 2500, &r4);
	Orgdir__V1__GetSubtreeResponse *t5 = large_get(f->c, "e", 300, &r5);
	orgdir_client_close(f->c);
	f->c = NULL;
	assert_true(large_tree_ok(t5, "e", 300));
	orgdir_reply_free(r5);
	orgdir_reply_free(r4);
	fixture_free(f);
}

/* A large reply the client refuses gives its memory back like any other:
 * the call says what was wrong, and the calls after it, smaller and
 * larger, decode as before (ASan and valgrind check the chunk's owners). */
static void
test_large_malformed_reply_is_refused_cleanly(void **state)
{
	struct fixture *f = fixture_new(M_LARGE_TREE, 20000, 0, NULL);
	orgdir_reply *r = NULL, *r2 = NULL;
	Orgdir__V1__GetSubtreeResponse *t = NULL;
	orgdir_status st;
	(void) state;

	large_get(f->c, "a", 1000, &r);
	orgdir_reply_free(r);
	for (int round = 0; round < 2; round++) {
		r = NULL;
		t = NULL;
		/* ~680 KB: larger than the spare the first call left. */
		assert_int_equal(
		    orgdir_unit_subtree(f->c, LARGE_BROKEN, 2000, &r, &t, &st), ORGDIR_INTERNAL);
		assert_null(r);
		assert_null(t);
		assert_non_null(strstr(st.message, "malformed reply"));
		assert_non_null(strstr(st.message, "UTF-8"));
	}
	large_get(f->c, "b", 1500, &r);
	large_get(f->c, "c", 2500, &r2);
	orgdir_reply_free(r);
	orgdir_reply_free(r2);
	fixture_free(f);
}

struct large_caller {
	orgdir_client *c;
	char root[8];
	int ok;
};

static void *
large_caller_thread(void *arg)
{
	struct large_caller *k = arg;
	for (int i = 0; i < 20; i++) {
		orgdir_reply *r = NULL;
		Orgdir__V1__GetSubtreeResponse *t = NULL;
		size_t n = 200 + (size_t) (i % 5) * 400;
		if (orgdir_unit_subtree(k->c, k->root, (int32_t) n, &r, &t, NULL) == ORGDIR_OK &&
		    large_tree_ok(t, k->root, n)) {
			k->ok++;
		}
		orgdir_reply_free(r);
	}
	return NULL;
}

static void
test_threads_share_large_reply_memory(void **state)
{
	struct fixture *f = fixture_new(M_LARGE_TREE, 30000, 0, NULL);
	pthread_t t[4];
	struct large_caller k[4];
	(void) state;

	for (int i = 0; i < 4; i++) {
		k[i] = (struct large_caller){.c = f->c, .ok = 0};
		snprintf(k[i].root, sizeof(k[i].root), "%c", 'p' + i);
		assert_int_equal(pthread_create(&t[i], NULL, large_caller_thread, &k[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(k[i].ok, 20);
	}
	fixture_free(f);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/orgdir-client-XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmp_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_refuses_bad_arguments),
	    cmocka_unit_test(test_null_arguments_make_no_call),
	    cmocka_unit_test(test_reply_is_decoded_and_outlives_client),
	    cmocka_unit_test(test_envelope_fields_are_sent),
	    cmocka_unit_test(test_reply_for_another_call_is_internal),
	    cmocka_unit_test(test_garbage_reply_is_internal),
	    cmocka_unit_test(test_server_error_is_propagated),
	    cmocka_unit_test(test_oversize_replies_are_resource_exhausted),
	    cmocka_unit_test(test_silent_server_is_deadline_exceeded),
	    cmocka_unit_test(test_nobody_listening_is_unavailable),
	    cmocka_unit_test(test_server_started_after_open_is_reached),
	    cmocka_unit_test(test_request_is_resent_to_a_restarted_server),
	    cmocka_unit_test(test_server_gone_mid_call_is_unavailable),
	    cmocka_unit_test(test_server_gone_mid_call_fails_after_reconnect_wait),
	    cmocka_unit_test(test_nobody_listening_fails_after_reconnect_wait),
	    cmocka_unit_test(test_typed_wrappers),
	    cmocka_unit_test(test_threads_share_one_client),
	    cmocka_unit_test(test_large_replies_reuse_memory),
	    cmocka_unit_test(test_large_malformed_reply_is_refused_cleanly),
	    cmocka_unit_test(test_threads_share_large_reply_memory),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* nng removes its ipc socket files on close; anything left is a leak. */
	for (int i = 1; i <= url_seq; i++) {
		char path[192];
		snprintf(path, sizeof(path), "%s/s%d.sock", tmp_dir, i);
		unlink(path);
	}
	rmdir(tmp_dir);
	return failed;
}
