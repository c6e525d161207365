/*
 * test_integration.c - a real orgdird on a temporary data dir and an ipc://
 * socket, driven through liborgdir, and through a raw nng REQ socket for
 * bytes no well-behaved client sends.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "od.h"
#include "testutil.h"

static od_test_server srv;

static int
group_setup(void **state)
{
	(void) state;
	od_test_server_start(&srv, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void) state;
	assert_int_equal(od_test_server_stop(&srv), 0);
	od_test_server_cleanup(&srv);
	return 0;
}

/* --- helpers ---------------------------------------------------------------------- */

/* Per thread: several tests build units from many threads at once. */
static _Thread_local Orgdir__V1__LocalizedString en_name, fr_name;
static _Thread_local Orgdir__V1__LocalizedString *names[2];

static Orgdir__V1__Unit
unit(const char *id, const char *parent, int32_t order, const char *en, const char *fr)
{
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	orgdir__v1__localized_string__init(&en_name);
	orgdir__v1__localized_string__init(&fr_name);
	en_name.lang = "en";
	en_name.text = (char *) en;
	fr_name.lang = "fr";
	fr_name.text = (char *) fr;
	names[0] = &en_name;
	names[1] = &fr_name;
	u.id = (char *) id;
	u.parent_id = (char *) parent;
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	u.sort_order = order;
	u.name = names;
	u.n_name = fr ? 2 : 1;
	return u;
}

static orgdir_code
add(orgdir_client *c, const char *id, const char *parent, int32_t order, orgdir_status *st)
{
	Orgdir__V1__Unit u = unit(id, parent, order, id, NULL);
	orgdir_reply *r = NULL;
	Orgdir__V1__Unit *out = NULL;
	orgdir_code code = orgdir_unit_create(c, &u, &r, &out, st);
	orgdir_reply_free(r);
	return code;
}

/* Sends raw bytes on a fresh REQ socket; returns the decoded reply or NULL
 * when nothing came back within timeout_ms. */
static Orgdir__V1__Response *
raw_call(const void *bytes, size_t n, int timeout_ms)
{
	nng_socket s;
	nng_msg *m;
	Orgdir__V1__Response *r = NULL;
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	assert_int_equal(nng_dial(s, srv.url, NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, bytes, n), 0);
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
	} else if (nng_recvmsg(s, &m, 0) == 0) {
		r = orgdir__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
		assert_non_null(r); /* whatever we sent, the reply is well-formed */
		nng_msg_free(m);
	}
	nng_close(s);
	return r;
}

/*
 * Connects to the server's ipc:// socket with a plain Unix socket, does the
 * SP handshake as a REQ peer, sends one message of n bytes and reports
 * whether the server closed the connection (within 5 s) instead of
 * answering.
 */
static bool
raw_ipc_send_closed(const uint8_t *bytes, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	od_strlcpy(sa.sun_path, srv.url + strlen("ipc://"), sizeof(sa.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0}; /* REQ v0 */
	uint8_t peer[8];
	assert_int_equal(write(fd, hello, 8), 8);
	assert_int_equal(read(fd, peer, 8), 8);
	assert_int_equal(peer[5], 0x31); /* the server is a REP */
	/* IPC framing: type 1, 64-bit big-endian length, then the REQ header
	 * (a 32-bit request id with the top bit set) and the body. */
	uint8_t head[13] = {1};
	uint64_t len = n + 4;
	for (int i = 0; i < 8; i++) {
		head[1 + i] = (uint8_t) (len >> (56 - 8 * i));
	}
	head[9] = 0x80;
	head[12] = 1;
	bool closed = false;
	if (write(fd, head, sizeof(head)) == (ssize_t) sizeof(head)) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = write(fd, bytes + off, n - off);
			if (w <= 0) {
				closed = true; /* EPIPE/ECONNRESET: hung up mid-message */
				break;
			}
			off += (size_t) w;
		}
	} else {
		closed = true;
	}
	if (!closed) {
		uint8_t b;
		closed = read(fd, &b, 1) == 0;
	}
	close(fd);
	return closed;
}

/* Packs an envelope around a body. */
/* A Request envelope around the packed body given (len bytes). */
static size_t
envelope_raw(const char *method, const uint8_t *body, size_t len, const uint8_t *rid,
    size_t rid_len, uint8_t **out)
{
	Orgdir__V1__Request req = ORGDIR__V1__REQUEST__INIT;
	req.method = (char *) method;
	req.call_id = 99;
	req.body.data = (uint8_t *) body;
	req.body.len = len;
	req.request_id.data = (uint8_t *) rid;
	req.request_id.len = rid_len;
	req.auth_token = (char *) od_test_admin_token(&srv);
	size_t n = orgdir__v1__request__get_packed_size(&req);
	*out = malloc(n);
	orgdir__v1__request__pack(&req, *out);
	return n;
}

static size_t
envelope(const char *method, const ProtobufCMessage *body, const uint8_t *rid, size_t rid_len,
    uint8_t **out)
{
	uint8_t *b = NULL;
	size_t len = 0;
	if (body != NULL) {
		len = protobuf_c_message_get_packed_size(body);
		b = malloc(len + 1);
		protobuf_c_message_pack(body, b);
	}
	size_t n = envelope_raw(method, b, len, rid, rid_len, out);
	free(b);
	return n;
}

/* Health of s, answered within timeout_ms. */
static void
expect_serving(od_test_server *s, int timeout_ms)
{
	orgdir_options o = {.timeout_ms = timeout_ms};
	orgdir_client *c = od_test_client(s, &o);
	int serving = 0;
	assert_int_equal(orgdir_server_health(c, &serving, NULL), ORGDIR_OK);
	assert_int_equal(serving, 1);
	orgdir_client_close(c);
}

static void
expect_alive(void)
{
	expect_serving(&srv, 5000); /* od_test_client's own timeout */
	assert_true(od_test_server_alive(&srv));
}

/* --- the unit methods end to end ------------------------------------------------- */

static void
test_crud_roundtrip(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__Unit *u;

	Orgdir__V1__Unit in = unit("crud-root", "", 0, "Director General", "Directrice générale");
	assert_int_equal(orgdir_unit_create(c, &in, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->id, "crud-root");
	assert_true(u->etag[0] != '\0');
	assert_true(st.revision > 0);
	orgdir_reply_free(r);

	assert_int_equal(orgdir_unit_get(c, "crud-root", &r, &u, &st), ORGDIR_OK);
	assert_string_equal(orgdir_text_pick(u->name, u->n_name, "fr"), "Directrice générale");
	assert_int_equal(u->kind, ORGDIR__V1__UNIT__KIND__OFFICE);
	char etag[32];
	od_strlcpy(etag, u->etag, sizeof(etag));
	orgdir_reply_free(r);

	assert_int_equal(orgdir_unit_create(c, &in, &r, &u, &st), ORGDIR_ALREADY_EXISTS);
	assert_null(r);
	assert_non_null(strstr(st.message, "crud-root"));

	/* Update one field with the current etag; then the old etag is stale. */
	Orgdir__V1__Unit patch = unit("crud-root", "", 0, "x", NULL);
	patch.acronym = "DG";
	patch.etag = etag;
	const char *paths[] = {"acronym"};
	assert_int_equal(orgdir_unit_update(c, &patch, paths, 1, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->acronym, "DG");
	assert_string_equal(orgdir_text_pick(u->name, u->n_name, "en"), "Director General");
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_update(c, &patch, paths, 1, &r, &u, &st), ORGDIR_ABORTED);
	assert_non_null(strstr(st.message, "changed"));

	assert_int_equal(orgdir_unit_get(c, "no-such-unit", &r, &u, &st), ORGDIR_NOT_FOUND);
	assert_int_equal(orgdir_unit_get(c, "Bad_Id", &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_unit_get(c, "caf\xc3", &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(add(c, "orphan", "no-parent", 0, &st), ORGDIR_FAILED_PRECONDITION);
	orgdir_client_close(c);
}

static void
test_tree_move_delete(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	uint32_t deleted = 0;

	assert_int_equal(add(c, "t-root", "", 5, &st), ORGDIR_OK);
	assert_int_equal(add(c, "t-b", "t-root", 2, &st), ORGDIR_OK);
	assert_int_equal(add(c, "t-a", "t-root", 1, &st), ORGDIR_OK);
	assert_int_equal(add(c, "t-a1", "t-a", 0, &st), ORGDIR_OK);
	assert_int_equal(add(c, "t-a11", "t-a1", 0, &st), ORGDIR_OK);

	Orgdir__V1__GetSubtreeResponse *sub;
	assert_int_equal(orgdir_unit_subtree(c, "t-root", 0, &r, &sub, &st), ORGDIR_OK);
	const char *order[] = {"t-root", "t-a", "t-a1", "t-a11", "t-b"};
	const uint32_t depth[] = {0, 1, 2, 3, 1};
	assert_int_equal(sub->n_nodes, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(sub->nodes[i]->unit->id, order[i]);
		assert_int_equal(sub->nodes[i]->depth, depth[i]);
	}
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_subtree(c, "t-root", 1, &r, &sub, &st), ORGDIR_OK);
	assert_int_equal(sub->n_nodes, 3);
	orgdir_reply_free(r);

	Orgdir__V1__GetAncestorsResponse *anc;
	assert_int_equal(orgdir_unit_ancestors(c, "t-a11", &r, &anc, &st), ORGDIR_OK);
	assert_int_equal(anc->n_units, 4);
	assert_string_equal(anc->units[0]->id, "t-root");
	assert_string_equal(anc->units[3]->id, "t-a11");
	orgdir_reply_free(r);

	Orgdir__V1__Unit *u;
	assert_int_equal(
	    orgdir_unit_move(c, "t-a", "t-a11", NULL, &r, &u, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "descendant"));
	assert_int_equal(
	    orgdir_unit_move(c, "t-a", "t-a", NULL, &r, &u, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(orgdir_unit_move(c, "t-a1", "t-b", NULL, &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->parent_id, "t-b");
	orgdir_reply_free(r);

	assert_int_equal(
	    orgdir_unit_delete(c, "t-b", 0, NULL, &deleted, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "force"));
	assert_int_equal(orgdir_unit_get(c, "t-a11", &r, &u, &st), ORGDIR_OK); /* nothing lost */
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_delete(c, "t-b", 1, NULL, &deleted, &st), ORGDIR_OK);
	assert_int_equal(deleted, 3);
	assert_int_equal(orgdir_unit_get(c, "t-a11", &r, &u, &st), ORGDIR_NOT_FOUND);
	assert_int_equal(
	    orgdir_unit_delete(c, "t-a", 0, "stale-etag", &deleted, &st), ORGDIR_ABORTED);
	orgdir_client_close(c);
}

static void
test_list_pagination(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	char id[32];
	assert_int_equal(add(c, "page-root", "", 0, &st), ORGDIR_OK);
	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof(id), "page-%03d", i);
		assert_int_equal(
		    add(c, id, "page-root", 249 - i, &st), ORGDIR_OK); /* reversed order */
	}
	char token[512] = "";
	int seen = 0;
	int pages = 0;
	do {
		Orgdir__V1__ListUnitsResponse *l;
		assert_int_equal(
		    orgdir_unit_list(c, "page-root", 100, token, &r, &l, &st), ORGDIR_OK);
		assert_int_equal(l->total_size, 250);
		for (size_t i = 0; i < l->n_units; i++, seen++) {
			snprintf(id, sizeof(id), "page-%03d", 249 - seen); /* by sort order */
			assert_string_equal(l->units[i]->id, id);
		}
		od_strlcpy(token, l->next_page_token, sizeof(token));
		orgdir_reply_free(r);
		pages++;
	} while (token[0] != '\0' && pages < 10);
	assert_int_equal(seen, 250);
	assert_int_equal(pages, 3);

	Orgdir__V1__ListUnitsResponse *l;
	assert_int_equal(
	    orgdir_unit_list(c, "page-root", -1, NULL, &r, &l, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_list(c, "page-root", 10, "zz", &r, &l, &st), ORGDIR_INVALID_ARGUMENT);
	/* A token from another listing is refused, not silently misapplied. */
	assert_int_equal(orgdir_unit_list(c, "page-root", 1, NULL, &r, &l, &st), ORGDIR_OK);
	od_strlcpy(token, l->next_page_token, sizeof(token));
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_list(c, "", 1, token, &r, &l, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    orgdir_unit_list(c, "missing-parent", 1, NULL, &r, &l, &st), ORGDIR_NOT_FOUND);
	/* Over the cap is coerced, never truncated silently: a token follows. */
	assert_int_equal(orgdir_unit_list(c, "page-root", 5000, NULL, &r, &l, &st), ORGDIR_OK);
	assert_int_equal(l->n_units, 250);
	assert_string_equal(l->next_page_token, "");
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

/* --- bad input straight to the socket -------------------------------------------- */

/* Lines of s's log holding `what`. */
static int
log_count_of(const od_test_server *s, const char *what)
{
	FILE *f = fopen(s->log, "r");
	char line[2048];
	int n = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		n += strstr(line, what) != NULL;
	}
	if (f != NULL) {
		fclose(f);
	}
	return n;
}

/* Lines of the test server's log holding `what`. */
static int
log_count(const char *what)
{
	return log_count_of(&srv, what);
}

/* Failed calls are logged, but at most 20 lines a second: a flood of bad
 * requests leaves a line saying how many were left out, not 400 lines. */
static void
test_failed_calls_do_not_flood_the_log(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	orgdir_status st;
	/* A second of its own: the test before failed hundreds of calls. */
	struct timespec pause = {1, 100000000};
	nanosleep(&pause, NULL);
	int before = log_count("call failed: GetUnit NOT_FOUND");
	uint64_t t0 = od_mono_ms();
	for (int i = 0; i < 400; i++) {
		assert_int_equal(
		    orgdir_unit_get(c, "no-such-unit-flood", &r, &u, &st), ORGDIR_NOT_FOUND);
	}
	uint64_t seconds = (od_mono_ms() - t0) / 1000 + 2; /* the calls touched this many */
	int logged = log_count("call failed: GetUnit NOT_FOUND") - before;
	assert_true(logged >= 1);
	assert_true((uint64_t) logged <= 20 * seconds);
	assert_true(logged < 400);
	/* The next second's first failure says how many were left out. */
	nanosleep(&pause, NULL);
	assert_int_equal(orgdir_unit_get(c, "no-such-unit-flood", &r, &u, &st), ORGDIR_NOT_FOUND);
	assert_true(log_count("more failed calls were not logged") >= 1);
	orgdir_client_close(c);
}

static void
test_garbage_and_truncation(void **state)
{
	(void) state;
	Orgdir__V1__Response *r = raw_call("\xff\xfe garbage \x01\x02", 14, 2000);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_INVALID_ARGUMENT);
	orgdir__v1__response__free_unpacked(r, NULL);

	/* An empty message is a valid empty envelope: no method. */
	r = raw_call("", 0, 2000);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_UNIMPLEMENTED);
	orgdir__v1__response__free_unpacked(r, NULL);

	/* A valid envelope cut in the middle of its body field. */
	Orgdir__V1__GetUnitRequest g = ORGDIR__V1__GET_UNIT_REQUEST__INIT;
	g.id = "crud-root";
	uint8_t *env;
	size_t n = envelope("GetUnit", &g.base, NULL, 0, &env);
	for (size_t cut = 1; cut < n; cut++) {
		r = raw_call(env, cut, 2000);
		assert_non_null(r);
		assert_int_not_equal(r->code, ORGDIR_INTERNAL);
		orgdir__v1__response__free_unpacked(r, NULL);
	}
	free(env);

	/* A whole envelope whose body is a truncated GetUnitRequest. */
	Orgdir__V1__Request req = ORGDIR__V1__REQUEST__INIT;
	uint8_t body[] = {0x0A, 0x20, 'a', 'b'}; /* string of 32 bytes, 2 present */
	req.method = "GetUnit";
	req.body.data = body;
	req.body.len = sizeof(body);
	uint8_t buf[64];
	n = orgdir__v1__request__pack(&req, buf);
	r = raw_call(buf, n, 2000);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(r->message, "malformed"));
	orgdir__v1__response__free_unpacked(r, NULL);

	/* Strings in a body, checked on the wire (server.c): nested invalid
	 * UTF-8, a NUL inside a string (a C string would be cut there), and a
	 * string past the 16 KiB every request string may have. A
	 * SearchRequest { query = 1; ... } and a CreateUnitRequest { Unit unit
	 * = 1 { LocalizedString name = 4 { lang = 1; text = 2 } } }. */
	static const struct {
		const char *method;
		uint8_t body[24];
		size_t len;
		const char *says;
	} bad_text[] = {
	    {"Search", {0x0A, 0x03, 'a', 0x00, 'b'}, 5, "SearchRequest.query is not valid UTF-8"},
	    {"Search", {0x0A, 0x02, 0xC3, 0x28}, 4, "SearchRequest.query is not valid UTF-8"},
	    {"CreateUnit", {0x0A, 0x0A, 0x22, 0x08, 0x0A, 0x02, 'e', 'n', 0x12, 0x02, 'o', 0xFF},
	        12, "LocalizedString.text is not valid UTF-8"},
	};
	for (size_t k = 0; k < OD_ARRAY_LEN(bad_text); k++) {
		req.method = (char *) bad_text[k].method;
		req.body.data = (uint8_t *) bad_text[k].body;
		req.body.len = bad_text[k].len;
		n = orgdir__v1__request__pack(&req, buf);
		r = raw_call(buf, n, 2000);
		assert_non_null(r);
		assert_int_equal(r->code, ORGDIR_INVALID_ARGUMENT);
		if (strstr(r->message, bad_text[k].says) == NULL) {
			fail_msg(
			    "case %zu: '%s' does not say '%s'", k, r->message, bad_text[k].says);
		}
		orgdir__v1__response__free_unpacked(r, NULL);
	}
	{
		Orgdir__V1__SearchRequest q = ORGDIR__V1__SEARCH_REQUEST__INIT;
		char *query = malloc((16u << 10) + 2);
		memset(query, 'q', (16u << 10) + 1);
		query[(16u << 10) + 1] = '\0';
		q.query = query;
		uint8_t *e;
		size_t en = envelope("Search", &q.base, NULL, 0, &e);
		r = raw_call(e, en, 2000);
		assert_non_null(r);
		assert_int_equal(r->code, ORGDIR_INVALID_ARGUMENT);
		assert_non_null(strstr(r->message, "SearchRequest.query is 16385 bytes long"));
		orgdir__v1__response__free_unpacked(r, NULL);
		free(e);
		free(query);
	}

	req.method = "DropAllTables";
	req.body.len = 0;
	n = orgdir__v1__request__pack(&req, buf);
	r = raw_call(buf, n, 2000);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_UNIMPLEMENTED);
	assert_non_null(strstr(r->message, "DropAllTables"));
	orgdir__v1__response__free_unpacked(r, NULL);

	/* A method name that would forge a log line of its own, or reach the
	 * terminal of whoever reads the log: masked in the log's one line. */
	struct timespec window = {1, 100000000}; /* past the failed-call log limit */
	nanosleep(&window, NULL);
	req.method = "Drop\nFAKE-LINE orgdird info forged\x1b[2J";
	n = orgdir__v1__request__pack(&req, buf);
	r = raw_call(buf, n, 2000);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_UNIMPLEMENTED);
	orgdir__v1__response__free_unpacked(r, NULL);
	assert_int_equal(log_count("FAKE-LINE"), 1);
	assert_int_equal(
	    log_count("UNIMPLEMENTED: method 'Drop?FAKE-LINE orgdird info forged?[2J'"), 1);

	/* Random bytes: always a well-formed reply, never a crash. */
	srand(7);
	for (int i = 0; i < 200; i++) {
		uint8_t rnd[128];
		size_t len = (size_t) (rand() % (int) sizeof(rnd));
		for (size_t k = 0; k < len; k++) {
			rnd[k] = (uint8_t) rand();
		}
		r = raw_call(rnd, len, 2000);
		assert_non_null(r);
		orgdir__v1__response__free_unpacked(r, NULL);
	}
	expect_alive();
}

static void
test_oversized_messages(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	size_t big = 10u << 20;
	char *name = malloc(big + 1);
	memset(name, 'n', big);
	name[big] = 0;
	Orgdir__V1__Unit in = unit("huge", "", 0, name, NULL);
	/* 10 MB: refused by the client before sending. */
	assert_int_equal(orgdir_unit_create(c, &in, &r, &u, &st), ORGDIR_RESOURCE_EXHAUSTED);
	/* 1 MB: fits the message cap, refused by the field cap. */
	name[1u << 20] = 0;
	assert_int_equal(orgdir_unit_create(c, &in, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "limit"));
	assert_int_equal(orgdir_unit_get(c, "huge", &r, &u, &st), ORGDIR_NOT_FOUND);
	/* 10 MB sent raw, past the client: the server drops it unread. */
	Orgdir__V1__CreateUnitRequest cr = ORGDIR__V1__CREATE_UNIT_REQUEST__INIT;
	name[1u << 20] = 'n'; /* the whole 10 MB again */
	in = unit("huge", "", 0, name, NULL);
	cr.unit = &in;
	uint8_t *env;
	size_t n = envelope("CreateUnit", &cr.base, NULL, 0, &env);
	/* Over a plain IPC connection speaking SP by hand (a REQ socket would
	 * re-send it forever): the server hangs up without reading it all. */
	assert_true(raw_ipc_send_closed(env, n));
	free(env);
	free(name);
	expect_alive();
	orgdir_client_close(c);
}

static struct sockaddr_un
ipc_addr(const od_test_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	od_strlcpy(sa.sun_path, s->url + strlen("ipc://"), sizeof(sa.sun_path));
	return sa;
}

static int
ipc_connect_to(const od_test_server *s)
{
	struct sockaddr_un sa = ipc_addr(s);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return fd;
}

static int
ipc_connect(void)
{
	return ipc_connect_to(&srv);
}

/* Peers that send nothing, half a handshake, half a message, or something
 * that is not SP at all tie up no context: calls keep being answered. */
static void
test_idle_half_and_non_sp_peers(void **state)
{
	(void) state;
	enum { PEERS = 300 };
	int fds[PEERS];
	const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
	for (int i = 0; i < PEERS; i++) {
		fds[i] = ipc_connect();
		switch (i % 4) {
		case 0: /* silent */
			break;
		case 1: /* half a handshake */
			assert_int_equal(write(fds[i], hello, 4), 4);
			break;
		case 2: { /* handshake, then the start of a 100-byte message */
			uint8_t head[9] = {1, 0, 0, 0, 0, 0, 0, 0, 100};
			assert_int_equal(write(fds[i], hello, 8), 8);
			assert_int_equal(write(fds[i], head, 9), 9);
			assert_int_equal(write(fds[i], "\x80\0\0\1partial", 11), 11);
			break;
		}
		default: /* not SP: an HTTP request */
			(void) !write(fds[i], "GET / HTTP/1.1\r\n\r\n", 18);
			break;
		}
	}
	/* 300 stuck peers > 128 contexts: the server must still answer. */
	for (int k = 0; k < 20; k++) {
		expect_alive();
	}
	for (int i = 0; i < PEERS; i++) {
		close(fds[i]);
	}
	expect_alive();
}

/* Whether s's log says `what` within ms milliseconds, quietly. */
static bool
log_says_within(const od_test_server *s, const char *what, uint64_t ms)
{
	uint64_t until = od_mono_ms() + ms;
	while (log_count_of(s, what) == 0 && od_mono_ms() < until) {
		struct timespec pause = {0, 50000000};
		nanosleep(&pause, NULL);
	}
	return log_count_of(s, what) > 0;
}

/* Whether s's log says `what` within 30 s (valgrind's server is slow);
 * if not, prints the log. */
static bool
wait_for_log(const od_test_server *s, const char *what)
{
	if (log_says_within(s, what, 30000)) {
		return true;
	}
	/* What the server said instead, for the failure's report. */
	fprintf(stderr, "no \"%s\" in %s:\n", what, s->log);
	FILE *f = fopen(s->log, "r");
	char line[2048];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		fputs(line, stderr);
	}
	if (f != NULL) {
		fclose(f);
	}
	return false;
}

/* A server of its own for the two tests below, with the leak check off
 * (ASan's and valgrind's): nng 1.5.2 never frees an ipc listener it has
 * stopped once orgdird closes it (ipcguard.c). */
static void
start_unchecked(od_test_server *s)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = asan != NULL ? strdup(asan) : NULL;
	char opts[1024];
	snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", asan != NULL ? asan : "",
	    asan != NULL && asan[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	setenv("OD_TEST_NO_LEAK_CHECK", "1", 1); /* tools/valgrind.sh */
	od_test_server_start(s, NULL);
	if (saved != NULL) {
		setenv("ASAN_OPTIONS", saved, 1);
	} else {
		unsetenv("ASAN_OPTIONS");
	}
	free(saved);
	unsetenv("OD_TEST_NO_LEAK_CHECK");
}

/* Whether this nng has bug 1518 (fixed in 1.5.3): Debian 12 ships 1.5.2. */
static bool
nng_stops_ipc_listeners(void)
{
	int major = 0, minor = 0, patch = 0;
	if (sscanf(nng_version(), "%d.%d.%d", &major, &minor, &patch) != 3) {
		return true;
	}
	return major < 1 || (major == 1 && (minor < 5 || (minor == 5 && patch < 3)));
}

/* Waits until every thread of process pid is stopped (SIGSTOP is
 * delivered asynchronously: a thread running on the other core goes on
 * for a moment after kill() returns). */
static void
wait_stopped(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
	uint64_t until = od_mono_ms() + 10000;
	for (;;) {
		DIR *d = opendir(path);
		assert_non_null(d);
		bool all = true;
		struct dirent *de;
		while (all && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.') {
				continue;
			}
			char stat[384], line[512];
			snprintf(stat, sizeof(stat), "%s/%s/stat", path, de->d_name);
			FILE *f = fopen(stat, "r");
			if (f == NULL) {
				continue; /* a thread that ended */
			}
			const char *p =
			    fgets(line, sizeof(line), f) != NULL ? strrchr(line, ')') : NULL;
			fclose(f);
			/* Stopped, or a thread on its way out: neither accepts. */
			all = p != NULL && p[1] != '\0' && p[2] != '\0' &&
			    strchr("TtZX", p[2]) != NULL;
		}
		closedir(d);
		if (all) {
			return;
		}
		assert_true(od_mono_ms() < until);
		struct timespec pause = {0, 1000000};
		nanosleep(&pause, NULL);
	}
}

/* Peers that hang up before the server has sent its handshake:
 * on nng 1.5.2 the first stops the IPC listener from accepting anything
 * again (nng issue 1518). The server notices within seconds and listens
 * again (ipcguard.c, which logs it), and a new client is answered. Checked
 * to fail without the guard: the call times out. A client that connects
 * while the stopped listener still finishes handshakes may be answered
 * before the guard acts (seen under valgrind), so the test waits for the
 * log line first. */
static void
test_peers_closing_before_their_handshake(void **state)
{
	(void) state;
	od_test_server g = {0};
	start_unchecked(&g);
	/* Only a peer gone before the server writes its header stops the
	 * listener. Left to the scheduler, the server may write first (200
	 * racing peers under ASan in a loaded CI once all lost), so the server
	 * is stopped while the peers connect and hang up: they wait in the
	 * backlog, and every header it writes on resuming fails. */
	struct sockaddr_un sa = ipc_addr(&g);
	/* Even so a burst does not always trip the bug (once in CI, under
	 * ASan, the server went on accepting and nothing was logged in 30 s;
	 * why is not known), so a burst is sent again until the guard has had
	 * something to mend, five at most. */
	const char *mended = "no longer accepting connections";
	bool tripped = false;
	for (int round = 0; round < 5 && !tripped; round++) {
		int queued = 0;
		assert_int_equal(kill(g.pid, SIGSTOP), 0);
		wait_stopped(g.pid);
		for (int i = 0; i < 20; i++) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				break;
			}
			queued += connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
			close(fd);
		}
		assert_int_equal(kill(g.pid, SIGCONT), 0);
		assert_true(queued > 0);
		if (!nng_stops_ipc_listeners()) {
			break;
		}
		/* The guard needs two probes a second apart: 15 s is ample even
		 * under valgrind. */
		tripped = log_says_within(&g, mended, 15000);
	}
	if (nng_stops_ipc_listeners()) {
		assert_true(tripped || wait_for_log(&g, mended));
	}
	expect_serving(&g, 15000);
	/* And it goes on accepting. */
	for (int i = 0; i < 3; i++) {
		expect_serving(&g, 5000);
	}
	/* A socket file removed under it: made again too. */
	assert_int_equal(unlink(g.url + strlen("ipc://")), 0);
	assert_true(wait_for_log(&g, "refused a connection"));
	expect_serving(&g, 15000);
	assert_int_equal(od_test_server_stop(&g), 0);
	od_test_server_cleanup(&g);
}

/* CPU seconds s's process has used (user + system). */
static double
cpu_seconds(const od_test_server *s)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) s->pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	/* Fields 14 and 15, counted after the command's closing parenthesis. */
	const char *p = strrchr(line, ')');
	assert_non_null(p);
	unsigned long ut = 0, st = 0;
	assert_int_equal(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/* Our own clients never leave a handshake half done: a client closed
 * right after it opened waits for its dial (orgdir_client_close), so the
 * listener is never made again, and a client with a 1 s timeout is
 * answered. Checked to fail without the wait. */
static void
test_clients_closed_at_once(void **state)
{
	(void) state;
	od_test_server g = {0};
	start_unchecked(&g);
	for (int i = 0; i < 5; i++) {
		orgdir_client_close(od_test_client(&g, NULL));
	}
	expect_serving(&g, 1000);
	assert_int_equal(log_count_of(&g, "no longer accepting connections"), 0);
	/* Idle, the server (its listener probed once a second) hardly uses the
	 * CPU: a probe loop that did not wait took 40% of a core. */
	double before = cpu_seconds(&g);
	struct timespec idle = {3, 0};
	nanosleep(&idle, NULL);
	assert_true(cpu_seconds(&g) - before < 1.0);
	assert_int_equal(od_test_server_stop(&g), 0);
	od_test_server_cleanup(&g);
}

static void
test_resent_write_applied_once(void **state)
{
	(void) state;
	uint8_t rid[16] = "resend-test-0001";
	Orgdir__V1__Unit in = unit("resent", "", 0, "Resent", NULL);
	Orgdir__V1__CreateUnitRequest cr = ORGDIR__V1__CREATE_UNIT_REQUEST__INIT;
	cr.unit = &in;
	uint8_t *env;
	size_t n = envelope("CreateUnit", &cr.base, rid, sizeof(rid), &env);
	Orgdir__V1__Response *a = raw_call(env, n, 3000);
	Orgdir__V1__Response *b = raw_call(env, n, 3000);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->code, ORGDIR_OK);
	assert_int_equal(b->code, ORGDIR_OK); /* not ALREADY_EXISTS: the same answer */
	assert_int_equal(a->revision, b->revision);
	assert_int_equal(b->call_id, 99);
	assert_int_equal(a->body.len, b->body.len);
	assert_memory_equal(a->body.data, b->body.data, a->body.len);
	orgdir__v1__response__free_unpacked(a, NULL);
	orgdir__v1__response__free_unpacked(b, NULL);
	/* A different key is a different request. */
	rid[15] = '2';
	free(env);
	n = envelope("CreateUnit", &cr.base, rid, sizeof(rid), &env);
	a = raw_call(env, n, 3000);
	assert_int_equal(a->code, ORGDIR_ALREADY_EXISTS);
	orgdir__v1__response__free_unpacked(a, NULL);
	free(env);
}

/*
 * The server keeps an import's parts as they came on the wire (not packed
 * again): a body with the `part` field twice imports both, as protobuf
 * merges them, and the parts' revision field is left out.
 */
static void
test_import_parts_as_sent(void **state)
{
	(void) state;
	Orgdir__V1__Directory d = ORGDIR__V1__DIRECTORY__INIT;
	Orgdir__V1__Unit *one[1];
	uint8_t pa[256], pb[256];
	Orgdir__V1__Unit a = unit("wire-part-a", "", 1, "Wire part A", NULL);
	one[0] = &a;
	d.units = one;
	d.n_units = 1;
	d.revision = 99;
	size_t la = orgdir__v1__directory__pack(&d, pa);
	Orgdir__V1__Unit b = unit("wire-part-b", "wire-part-a", 1, "Wire part B", "Partie B");
	one[0] = &b;
	d.revision = 0;
	size_t lb = orgdir__v1__directory__pack(&d, pb);
	Orgdir__V1__ImportDirectoryRequest q = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__INIT;
	q.commit = true;
	uint8_t body[1024];
	size_t n = orgdir__v1__import_directory_request__pack(&q, body);
	const uint8_t *part[2] = {pa, pb};
	size_t len[2] = {la, lb};
	for (int k = 0; k < 2; k++) {
		body[n++] = 6 << 3 | 2; /* field 6 (part), length-delimited */
		body[n++] = (uint8_t) len[k];
		memcpy(body + n, part[k], len[k]);
		n += len[k];
	}
	uint8_t *env;
	size_t en = envelope_raw("ImportDirectory", body, n, NULL, 0, &env);
	Orgdir__V1__Response *r = raw_call(env, en, 5000);
	free(env);
	assert_non_null(r);
	assert_int_equal(r->code, ORGDIR_OK);
	Orgdir__V1__ImportDirectoryResponse *out =
	    orgdir__v1__import_directory_response__unpack(NULL, r->body.len, r->body.data);
	assert_non_null(out);
	assert_int_equal(out->units_created, 2);
	assert_int_equal(out->n_problems, 0);
	assert_int_equal(r->revision, out->revision);
	orgdir__v1__import_directory_response__free_unpacked(out, NULL);
	orgdir__v1__response__free_unpacked(r, NULL);

	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_reply *rep;
	Orgdir__V1__Unit *got;
	orgdir_status st;
	assert_int_equal(orgdir_unit_get(c, "wire-part-b", &rep, &got, &st), ORGDIR_OK);
	assert_string_equal(got->parent_id, "wire-part-a");
	assert_int_equal(got->n_name, 2);
	assert_string_equal(got->name[1]->text, "Partie B");
	orgdir_reply_free(rep);
	assert_int_equal(orgdir_unit_delete(c, "wire-part-a", 1, NULL, NULL, &st), ORGDIR_OK);
	orgdir_client_close(c);
}

struct writer_arg {
	orgdir_client *c;
	int base;
	int ok;
};

static void *
writer_thread(void *p)
{
	struct writer_arg *a = p;
	char id[32];
	orgdir_status st;
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "cw-%d-%d", a->base, i);
		if (add(a->c, id, "page-root", i, &st) == ORGDIR_OK) {
			a->ok++;
		} else {
			fprintf(stderr, "writer %s: %s: %s\n", id, orgdir_code_name(st.code),
			    st.message);
		}
	}
	return NULL;
}

static void
test_concurrent_writers_share_a_client(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	pthread_t th[8];
	struct writer_arg args[8];
	orgdir_reply *r;
	Orgdir__V1__ServerInfoResponse *info;
	orgdir_status st;
	assert_int_equal(orgdir_server_info(c, &r, &info, &st), ORGDIR_OK);
	uint64_t before = info->unit_count;
	orgdir_reply_free(r);
	for (int i = 0; i < 8; i++) {
		args[i] = (struct writer_arg){c, i, 0};
		pthread_create(&th[i], NULL, writer_thread, &args[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, 50);
	}
	assert_int_equal(orgdir_server_info(c, &r, &info, &st), ORGDIR_OK);
	assert_int_equal(info->unit_count, before + 400);
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

static void
test_server_info_and_health(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__ServerInfoResponse *info;
	assert_int_equal(orgdir_server_info(c, &r, &info, &st), ORGDIR_OK);
	assert_string_equal(info->version, ORGDIR_VERSION);
	assert_int_equal(info->schema_version, 7);
	assert_int_equal(info->n_methods, orgdir__v1__org_directory__descriptor.n_methods);
	bool has_get = false, has_search = false;
	for (size_t i = 0; i < info->n_methods; i++) {
		if (i > 0) {
			assert_true(
			    strcmp(info->methods[i - 1], info->methods[i]) < 0); /* sorted */
		}
		has_get |= strcmp(info->methods[i], "GetUnit") == 0;
		has_search |= strcmp(info->methods[i], "Search") == 0;
	}
	assert_true(has_get && has_search);
	assert_int_equal(info->max_message_bytes, 4u << 20);
	assert_non_null(info->start_time);
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

static void
test_restart_keeps_data(void **state)
{
	(void) state;
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	/* Where a watcher stood before the restart. */
	orgdir_client *before = od_test_client(&srv, NULL);
	Orgdir__V1__ServerInfoResponse *info;
	assert_int_equal(orgdir_server_info(before, &r, &info, &st), ORGDIR_OK);
	uint64_t rev = info->revision;
	orgdir_reply_free(r);
	orgdir_client_close(before);
	assert_true(rev > 3);
	assert_int_equal(od_test_server_stop(&srv), 0);
	assert_int_equal(log_count("started orgdird"), 1);
	assert_int_equal(log_count(" stopped"), 1);
	od_test_server_start(&srv, NULL);
	orgdir_client *c = od_test_client(&srv, NULL);
	assert_int_equal(orgdir_unit_get(c, "crud-root", &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->acronym, "DG");
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_get(c, "page-042", &r, &u, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	/* A watcher resumes across the restart: the last three revisions come
	 * back, in order, and nothing after them. */
	Orgdir__V1__WatchChangesResponse *w;
	assert_int_equal(orgdir_changes_watch(c, rev - 3, NULL, 0, 0, &r, &w, &st), ORGDIR_OK);
	assert_true(w->n_changes >= 3);
	assert_int_equal(w->changes[0]->revision, rev - 2);
	assert_int_equal(w->changes[w->n_changes - 1]->revision, rev);
	assert_int_equal(w->next_since_revision, rev);
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

/* --- authentication, history, watch -------------------------------------------- */

static orgdir_client *
client_with(const char *token)
{
	orgdir_options o = {.timeout_ms = 5000, .token = token};
	return od_test_client(&srv, &o);
}

static void
test_roles_against_writes(void **state)
{
	(void) state;
	orgdir_client *admin = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__CreateTokenResponse *tok;
	char reader[128], editor[128];
	assert_int_equal(
	    orgdir_token_create(admin, "ana-reader", ORGDIR__V1__ROLE__READER, 0, &r, &tok, &st),
	    ORGDIR_OK);
	od_strlcpy(reader, tok->secret, sizeof(reader));
	assert_int_equal(strncmp(reader, "odt_", 4), 0);
	orgdir_reply_free(r);
	assert_int_equal(
	    orgdir_token_create(admin, "ed-editor", ORGDIR__V1__ROLE__EDITOR, 0, &r, &tok, &st),
	    ORGDIR_OK);
	od_strlcpy(editor, tok->secret, sizeof(editor));
	orgdir_reply_free(r);
	assert_int_equal(
	    orgdir_token_create(admin, "ed-editor", ORGDIR__V1__ROLE__EDITOR, 0, &r, &tok, &st),
	    ORGDIR_ALREADY_EXISTS);
	/* What orgctl would refuse before sending, the server refuses too. */
	assert_int_equal(
	    orgdir_token_create(admin, "no-role", 0, 0, &r, &tok, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "role must be"));
	assert_int_equal(
	    orgdir_token_create(admin, "odd-role", 99, 0, &r, &tok, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(orgdir_token_create(admin, "forever", ORGDIR__V1__ROLE__READER,
	                     (uint64_t) 200 * 366 * 86400, &r, &tok, &st),
	    ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "100 years"));
	assert_int_equal(
	    orgdir_token_create(admin, "bad name!", ORGDIR__V1__ROLE__READER, 0, &r, &tok, &st),
	    ORGDIR_INVALID_ARGUMENT);

	orgdir_client *anon = client_with("");
	orgdir_client *rd = client_with(reader);
	orgdir_client *ed = client_with(editor);
	orgdir_client *bad =
	    client_with("odt_0000000000000000000000000000000000000000000000000000000000000000");
	/* Reads are open; writes need a token of the right role. */
	Orgdir__V1__Unit *u;
	assert_int_equal(orgdir_unit_get(anon, "crud-root", &r, &u, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	assert_int_equal(add(anon, "by-anon", "", 0, &st), ORGDIR_UNAUTHENTICATED);
	assert_non_null(strstr(st.message, "token"));
	assert_int_equal(add(bad, "by-bad", "", 0, &st), ORGDIR_UNAUTHENTICATED);
	assert_int_equal(add(rd, "by-reader", "", 0, &st), ORGDIR_PERMISSION_DENIED);
	assert_non_null(strstr(st.message, "ana-reader"));
	assert_int_equal(add(ed, "by-editor", "", 0, &st), ORGDIR_OK);
	uint32_t n;
	assert_int_equal(
	    orgdir_unit_delete(rd, "by-editor", 0, NULL, &n, &st), ORGDIR_PERMISSION_DENIED);
	assert_int_equal(orgdir_unit_move(anon, "by-editor", "crud-root", NULL, &r, &u, &st),
	    ORGDIR_UNAUTHENTICATED);
	Orgdir__V1__Country cin = ORGDIR__V1__COUNTRY__INIT;
	cin.code = "FR";
	cin.notes = "x";
	const char *np[] = {"notes"};
	Orgdir__V1__Country *cout;
	assert_int_equal(
	    orgdir_country_update(rd, &cin, np, 1, &r, &cout, &st), ORGDIR_PERMISSION_DENIED);
	assert_int_equal(orgdir_country_update(ed, &cin, np, 1, &r, &cout, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	/* Token management is for admins only. */
	Orgdir__V1__ListTokensResponse *lt;
	assert_int_equal(orgdir_token_list(ed, &r, &lt, &st), ORGDIR_PERMISSION_DENIED);
	assert_int_equal(orgdir_token_create(ed, "x", ORGDIR__V1__ROLE__ADMIN, 0, &r, &tok, &st),
	    ORGDIR_PERMISSION_DENIED);
	assert_int_equal(orgdir_token_list(admin, &r, &lt, &st), ORGDIR_OK);
	assert_int_equal(lt->n_tokens, 3);
	assert_string_equal(lt->tokens[0]->name, "admin");
	orgdir_reply_free(r);
	/* A deleted token stops working at once. */
	assert_int_equal(orgdir_token_delete(admin, "ed-editor", &st), ORGDIR_OK);
	assert_int_equal(add(ed, "by-editor-2", "", 0, &st), ORGDIR_UNAUTHENTICATED);
	assert_int_equal(orgdir_token_delete(admin, "ed-editor", &st), ORGDIR_NOT_FOUND);
	/* An expired token. */
	assert_int_equal(
	    orgdir_token_create(admin, "short", ORGDIR__V1__ROLE__EDITOR, 1, &r, &tok, &st),
	    ORGDIR_OK);
	orgdir_client *sh = client_with(tok->secret);
	orgdir_reply_free(r);
	struct timespec ts = {1, 200000000};
	nanosleep(&ts, NULL);
	assert_int_equal(add(sh, "by-short", "", 0, &st), ORGDIR_UNAUTHENTICATED);
	assert_non_null(strstr(st.message, "expired"));
	orgdir_client_close(sh);
	orgdir_client_close(anon);
	orgdir_client_close(rd);
	orgdir_client_close(ed);
	orgdir_client_close(bad);
	orgdir_client_close(admin);
}

static void
test_change_log(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	assert_int_equal(add(c, "log-a", "", 0, &st), ORGDIR_OK);
	uint64_t created = st.revision;
	assert_true(created > 0);
	Orgdir__V1__Unit patch = unit("log-a", "", 0, "x", NULL);
	patch.acronym = "LA";
	const char *paths[] = {"acronym"};
	assert_int_equal(orgdir_unit_update(c, &patch, paths, 1, &r, &u, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	assert_int_equal(add(c, "log-b", "log-a", 0, &st), ORGDIR_OK);
	assert_int_equal(orgdir_unit_move(c, "log-b", "", NULL, &r, &u, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_move(c, "log-b", "log-a", NULL, &r, &u, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	uint32_t n;
	assert_int_equal(orgdir_unit_delete(c, "log-a", 1, NULL, &n, &st), ORGDIR_OK);
	uint64_t deleted = st.revision;

	Orgdir__V1__ListChangesResponse *l;
	assert_int_equal(orgdir_changes_list(c, 0, "log-a", ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT,
	                     0, NULL, &r, &l, &st),
	    ORGDIR_OK);
	assert_int_equal(l->n_changes, 3);
	const char *methods[] = {"CreateUnit", "UpdateUnit", "DeleteUnit"};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(l->changes[i]->method, methods[i]);
		assert_string_equal(l->changes[i]->actor, "admin");
		assert_string_equal(l->changes[i]->resource_id, "log-a");
		assert_non_null(l->changes[i]->time);
	}
	assert_int_equal(l->changes[0]->revision, created);
	assert_null(l->changes[0]->unit_before);
	assert_string_equal(l->changes[1]->unit_before->acronym, "");
	assert_string_equal(l->changes[1]->unit_after->acronym, "LA");
	assert_null(l->changes[2]->unit_after);
	assert_int_equal(l->changes[2]->revision, deleted);
	orgdir_reply_free(r);
	/* The force delete took log-b with it, at the same revision. */
	assert_int_equal(
	    orgdir_changes_list(c, created - 1, NULL, 0, 0, NULL, &r, &l, &st), ORGDIR_OK);
	int moves = 0;
	int at_delete = 0;
	for (size_t i = 0; i < l->n_changes; i++) {
		moves += strcmp(l->changes[i]->method, "MoveUnit") == 0;
		at_delete += l->changes[i]->revision == deleted;
		if (i > 0) {
			assert_true(l->changes[i]->revision >= l->changes[i - 1]->revision);
		}
	}
	assert_int_equal(moves, 2);
	assert_int_equal(at_delete, 2);
	orgdir_reply_free(r);
	/* Paging the whole log: no gap, no duplicate. */
	char token[64] = "";
	uint64_t last_rev = 0;
	uint32_t last_seq = 0;
	size_t total = 0;
	for (int page = 0; page < 1000; page++) {
		assert_int_equal(
		    orgdir_changes_list(c, 0, NULL, 0, 7, token, &r, &l, &st), ORGDIR_OK);
		for (size_t i = 0; i < l->n_changes; i++, total++) {
			Orgdir__V1__Change *ch = l->changes[i];
			assert_true(ch->revision > last_rev ||
			    (ch->revision == last_rev && ch->seq > last_seq) || total == 0);
			last_rev = ch->revision;
			last_seq = ch->seq;
		}
		od_strlcpy(token, l->next_page_token, sizeof(token));
		orgdir_reply_free(r);
		if (token[0] == '\0') {
			break;
		}
	}
	assert_int_equal(last_rev, deleted);
	assert_true(total > 600);
	orgdir_client_close(c);
}

struct watcher {
	uint64_t since;
	int got;
	uint64_t first_rev;
	orgdir_code code;
	uint64_t waited_ms;
};

static void *
watch_thread(void *p)
{
	struct watcher *w = p;
	orgdir_client *c = client_with("");
	orgdir_reply *r;
	Orgdir__V1__WatchChangesResponse *resp;
	orgdir_status st;
	uint64_t t0 = od_mono_ms();
	w->code = orgdir_changes_watch(c, w->since, NULL, 10000, 0, &r, &resp, &st);
	w->waited_ms = od_mono_ms() - t0;
	if (w->code == ORGDIR_OK) {
		w->got = (int) resp->n_changes;
		w->first_rev = resp->n_changes ? resp->changes[0]->revision : 0;
		orgdir_reply_free(r);
	}
	orgdir_client_close(c);
	return NULL;
}

static void
test_watch_long_poll(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__WatchChangesResponse *resp;
	Orgdir__V1__ServerInfoResponse *info;
	assert_int_equal(orgdir_server_info(c, &r, &info, &st), ORGDIR_OK);
	uint64_t now = info->revision;
	orgdir_reply_free(r);
	/* Nothing new and no wait: an empty answer at once. */
	assert_int_equal(orgdir_changes_watch(c, now, NULL, 0, 0, &r, &resp, &st), ORGDIR_OK);
	assert_int_equal(resp->n_changes, 0);
	assert_int_equal(resp->next_since_revision, now);
	orgdir_reply_free(r);
	/* A wait that runs out: empty, after about the wait. */
	uint64_t t0 = od_mono_ms();
	assert_int_equal(orgdir_changes_watch(c, now, NULL, 300, 0, &r, &resp, &st), ORGDIR_OK);
	assert_int_equal(resp->n_changes, 0);
	assert_true(od_mono_ms() - t0 >= 250);
	orgdir_reply_free(r);
	/* Three watchers wait; one write wakes them all with it. */
	pthread_t th[3];
	struct watcher w[3];
	for (int i = 0; i < 3; i++) {
		w[i] = (struct watcher){.since = now};
		pthread_create(&th[i], NULL, watch_thread, &w[i]);
	}
	struct timespec ts = {0, 300000000};
	nanosleep(&ts, NULL);
	assert_int_equal(add(c, "watched", "", 0, &st), ORGDIR_OK);
	uint64_t wrote = st.revision;
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].code, ORGDIR_OK);
		assert_int_equal(w[i].got, 1);
		assert_int_equal(w[i].first_rev, wrote);
		assert_true(w[i].waited_ms < 5000); /* woken by the write, not the timeout */
	}
	/* Resume where it stopped: nothing lost, nothing repeated. */
	assert_int_equal(orgdir_changes_watch(c, now, NULL, 0, 0, &r, &resp, &st), ORGDIR_OK);
	assert_int_equal(resp->n_changes, 1);
	assert_int_equal(resp->next_since_revision, wrote);
	orgdir_reply_free(r);
	assert_int_equal(
	    orgdir_changes_watch(c, wrote + 100, NULL, 0, 0, &r, &resp, &st), ORGDIR_OUT_OF_RANGE);
	assert_int_equal(
	    orgdir_changes_watch(c, now, NULL, 0, -1, &r, &resp, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "max_changes"));
	orgdir_client_close(c);
}

/* A force delete of 7 units is one revision with 7 changes; a watcher
 * asking for 3 at a time gets all 7, in order, each once, then resumes after
 * the revision (regression: the rest of the revision was skipped). */
static void
test_watch_revision_larger_than_an_answer(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__WatchChangesResponse *resp;
	uint32_t deleted = 0;
	assert_int_equal(add(c, "big-rev", "", 0, &st), ORGDIR_OK);
	for (int i = 0; i < 6; i++) {
		char id[32];
		snprintf(id, sizeof(id), "big-rev-%d", i);
		assert_int_equal(add(c, id, "big-rev", i, &st), ORGDIR_OK);
	}
	uint64_t before = st.revision;
	assert_int_equal(orgdir_unit_delete(c, "big-rev", 1, NULL, &deleted, &st), ORGDIR_OK);
	assert_int_equal(deleted, 7);
	uint64_t rev = st.revision;
	assert_int_equal(rev, before + 1);

	uint64_t since = before;
	char token[64] = "";
	char seen[7][32];
	int n_seen = 0, answers = 0;
	while (n_seen < 7 && answers < 10) {
		assert_int_equal(
		    orgdir_changes_watch(c, since, token, 0, 3, &r, &resp, &st), ORGDIR_OK);
		answers++;
		assert_true(resp->n_changes >= 1 && resp->n_changes <= 3);
		for (size_t i = 0; i < resp->n_changes; i++) {
			assert_int_equal(resp->changes[i]->revision, rev);
			for (int j = 0; j < n_seen; j++) {
				assert_string_not_equal(seen[j], resp->changes[i]->resource_id);
			}
			snprintf(
			    seen[n_seen++], sizeof(seen[0]), "%s", resp->changes[i]->resource_id);
		}
		since = resp->next_since_revision;
		snprintf(token, sizeof(token), "%s", resp->next_page_token);
		orgdir_reply_free(r);
	}
	assert_int_equal(n_seen, 7);
	assert_int_equal(answers, 3);
	assert_int_equal(since, rev); /* the revision is done: no token */
	assert_string_equal(token, "");
	assert_int_equal(orgdir_changes_watch(c, since, "", 0, 3, &r, &resp, &st), ORGDIR_OK);
	assert_int_equal(resp->n_changes, 0);
	orgdir_reply_free(r);
	/* A token that is not one is refused. */
	assert_int_equal(
	    orgdir_changes_watch(c, before, "zz", 0, 3, &r, &resp, &st), ORGDIR_INVALID_ARGUMENT);
	orgdir_client_close(c);
}

struct editor {
	orgdir_client *c;
	char etag[32];
	pthread_barrier_t *go;
	orgdir_code code;
	int index;
};

static void *
editor_thread(void *p)
{
	struct editor *e = p;
	char acr[16];
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	orgdir_status st;
	snprintf(acr, sizeof(acr), "E%d", e->index);
	Orgdir__V1__Unit patch = ORGDIR__V1__UNIT__INIT;
	patch.id = "contended";
	patch.acronym = acr;
	patch.etag = e->etag;
	const char *paths[] = {"acronym"};
	pthread_barrier_wait(e->go);
	e->code = orgdir_unit_update(e->c, &patch, paths, 1, &r, &u, &st);
	orgdir_reply_free(r);
	return NULL;
}

/* Concurrent editors with etags: exactly one wins each round. */
static void
test_concurrent_editors_one_wins(void **state)
{
	(void) state;
	enum { EDITORS = 6, ROUNDS = 20 };
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__Unit *u;
	assert_int_equal(add(c, "contended", "", 0, &st), ORGDIR_OK);
	pthread_barrier_t go;
	for (int round = 0; round < ROUNDS; round++) {
		assert_int_equal(orgdir_unit_get(c, "contended", &r, &u, &st), ORGDIR_OK);
		struct editor e[EDITORS];
		pthread_t th[EDITORS];
		pthread_barrier_init(&go, NULL, EDITORS);
		for (int i = 0; i < EDITORS; i++) {
			e[i] = (struct editor){.c = c, .go = &go, .index = i};
			od_strlcpy(e[i].etag, u->etag, sizeof(e[i].etag));
			pthread_create(&th[i], NULL, editor_thread, &e[i]);
		}
		orgdir_reply_free(r);
		int won = 0, aborted = 0, winner = -1;
		for (int i = 0; i < EDITORS; i++) {
			pthread_join(th[i], NULL);
			if (e[i].code == ORGDIR_OK) {
				won++;
				winner = i;
			}
			aborted += e[i].code == ORGDIR_ABORTED;
		}
		pthread_barrier_destroy(&go);
		assert_int_equal(won, 1);
		assert_int_equal(aborted, EDITORS - 1);
		/* The winner's value is the one stored: nothing lost or mixed. */
		char want[16];
		snprintf(want, sizeof(want), "E%d", winner);
		assert_int_equal(orgdir_unit_get(c, "contended", &r, &u, &st), ORGDIR_OK);
		assert_string_equal(u->acronym, want);
		orgdir_reply_free(r);
	}
	orgdir_client_close(c);
}

static void
test_search_over_rpc(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__SearchResponse *resp;
	Orgdir__V1__SearchRequest req = ORGDIR__V1__SEARCH_REQUEST__INIT;
	req.query = "directrice generale";
	assert_int_equal(orgdir_search(c, &req, &r, &resp, &st), ORGDIR_OK);
	assert_true(resp->n_hits >= 1);
	assert_string_equal(resp->hits[0]->unit->id, "crud-root");
	assert_int_equal(resp->hits[0]->match, ORGDIR__V1__SEARCH_HIT__MATCH__WHOLE_NAME);
	orgdir_reply_free(r);
	req.query = "cote divoire";
	assert_int_equal(orgdir_search(c, &req, &r, &resp, &st), ORGDIR_OK);
	assert_int_equal(resp->n_hits, 1);
	assert_string_equal(resp->hits[0]->country->code, "CI");
	orgdir_reply_free(r);
	req.query = "!!!";
	assert_int_equal(orgdir_search(c, &req, &r, &resp, &st), ORGDIR_INVALID_ARGUMENT);
	orgdir_client_close(c);
}

/* What orgctl never sends but another client may: a mask naming the id or
 * an output-only field, enum values past the known ones, notes over their
 * cap, and a move that would make the tree too deep. Each is refused with
 * INVALID_ARGUMENT or FAILED_PRECONDITION and a message, and changes
 * nothing. */
static void
test_fields_checked_for_any_client(void **state)
{
	(void) state;
	orgdir_client *c = od_test_client(&srv, NULL);
	orgdir_status st;
	orgdir_reply *r = NULL;
	Orgdir__V1__Unit *u;
	assert_int_equal(add(c, "checked", "", 0, &st), ORGDIR_OK);
	Orgdir__V1__Unit in = unit("checked", "", 0, "Checked", NULL);
	const char *id_path[] = {"id"};
	assert_int_equal(
	    orgdir_unit_update(c, &in, id_path, 1, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "id cannot change"));
	const char *etag_path[] = {"etag"};
	assert_int_equal(
	    orgdir_unit_update(c, &in, etag_path, 1, &r, &u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "output only"));

	Orgdir__V1__Country cin = ORGDIR__V1__COUNTRY__INIT;
	Orgdir__V1__Country *cout;
	Orgdir__V1__Membership m = ORGDIR__V1__MEMBERSHIP__INIT;
	Orgdir__V1__Presence pr = ORGDIR__V1__PRESENCE__INIT;
	cin.code = "PT";
	m.status = (Orgdir__V1__Membership__Status) 99;
	cin.membership = &m;
	const char *mp[] = {"membership"};
	assert_int_equal(
	    orgdir_country_update(c, &cin, mp, 1, &r, &cout, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "unknown membership status 99"));
	cin.membership = NULL;
	pr.declared = (Orgdir__V1__Presence__Level) 42;
	cin.presence = &pr;
	const char *pp[] = {"presence"};
	assert_int_equal(
	    orgdir_country_update(c, &cin, pp, 1, &r, &cout, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "unknown presence level 42"));
	cin.presence = NULL;
	char *notes = malloc(4098);
	assert_non_null(notes);
	memset(notes, 'n', 4097);
	notes[4097] = '\0';
	cin.notes = notes;
	const char *np[] = {"notes"};
	assert_int_equal(
	    orgdir_country_update(c, &cin, np, 1, &r, &cout, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "notes is 4097 bytes long; the limit is 4096"));
	free(notes);
	/* Nothing of it landed. */
	Orgdir__V1__ListCountriesRequest lr = ORGDIR__V1__LIST_COUNTRIES_REQUEST__INIT;
	Orgdir__V1__ListCountriesResponse *lc;
	Orgdir__V1__Membership__Status bad_status[] = {(Orgdir__V1__Membership__Status) 7};
	lr.membership = bad_status;
	lr.n_membership = 1;
	assert_int_equal(orgdir_country_list(c, &lr, &r, &lc, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "unknown membership status 7"));
	lr.n_membership = 0;
	lr.membership = NULL;
	lr.order_by = (Orgdir__V1__ListCountriesRequest__Order) 5;
	assert_int_equal(orgdir_country_list(c, &lr, &r, &lc, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "order_by"));
	lr.order_by = 0;
	assert_int_equal(orgdir_country_list(c, &lr, &r, &lc, &st), ORGDIR_OK);
	for (size_t i = 0; i < lc->n_countries; i++) {
		if (strcmp(lc->countries[i]->code, "PT") == 0) {
			assert_true(
			    lc->countries[i]->notes == NULL || lc->countries[i]->notes[0] == '\0');
			assert_true(lc->countries[i]->membership == NULL ||
			    lc->countries[i]->membership->status == 0);
		}
	}
	orgdir_reply_free(r);

	/* A chain as deep as the tree may be; moving another unit under its
	 * last link would go one level past it. */
	char id[32], parent[32];
	assert_int_equal(add(c, "deep-0", "", 0, &st), ORGDIR_OK);
	for (int i = 1; i <= OD_TREE_DEPTH_MAX; i++) {
		snprintf(id, sizeof(id), "deep-%d", i);
		snprintf(parent, sizeof(parent), "deep-%d", i - 1);
		assert_int_equal(add(c, id, parent, 0, &st), ORGDIR_OK);
	}
	snprintf(id, sizeof(id), "deep-%d", OD_TREE_DEPTH_MAX);
	assert_int_equal(
	    orgdir_unit_move(c, "checked", id, NULL, &r, &u, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "deeper than"));
	assert_int_equal(orgdir_unit_get(c, "checked", &r, &u, &st), ORGDIR_OK);
	assert_string_equal(u->parent_id, "");
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

/* --retain-revisions 3: the log keeps the last three revisions; a reader or
 * watcher from before them gets OUT_OF_RANGE telling it to read the
 * directory again, and one inside the window gets every change still kept,
 * for the log and for one resource alike. */
static void
test_retention_window(void **state)
{
	(void) state;
	od_test_server s3 = {0};
	const char *args[] = {"--retain-revisions", "3", NULL};
	od_test_server_start(&s3, args);
	orgdir_client *c = od_test_client(&s3, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__ListChangesResponse *list;
	Orgdir__V1__WatchChangesResponse *watch;
	uint64_t rev[6];
	assert_int_equal(add(c, "kept", "", 0, &st), ORGDIR_OK);
	rev[0] = st.revision;
	for (int i = 1; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof(id), "kept-%d", i);
		assert_int_equal(add(c, id, "kept", i, &st), ORGDIR_OK);
		rev[i] = st.revision;
	}
	/* Six revisions, three kept: the changes after rev[2]. */
	assert_int_equal(
	    orgdir_changes_list(c, 0, NULL, 0, 0, NULL, &r, &list, &st), ORGDIR_OUT_OF_RANGE);
	assert_non_null(strstr(st.message, "no longer holds"));
	assert_non_null(strstr(st.message, "ExportDirectory"));
	assert_int_equal(
	    orgdir_changes_list(c, rev[1], NULL, 0, 0, NULL, &r, &list, &st), ORGDIR_OUT_OF_RANGE);
	assert_int_equal(
	    orgdir_changes_watch(c, rev[0], NULL, 0, 0, &r, &watch, &st), ORGDIR_OUT_OF_RANGE);
	assert_non_null(strstr(st.message, "no longer holds"));
	assert_int_equal(
	    orgdir_changes_list(c, rev[2], NULL, 0, 0, NULL, &r, &list, &st), ORGDIR_OK);
	assert_int_equal(list->n_changes, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(list->changes[i]->revision, rev[3 + i]);
	}
	orgdir_reply_free(r);
	assert_int_equal(orgdir_changes_watch(c, rev[2], NULL, 0, 0, &r, &watch, &st), ORGDIR_OK);
	assert_int_equal(watch->n_changes, 3);
	assert_int_equal(watch->next_since_revision, rev[5]);
	orgdir_reply_free(r);
	/* One resource: its pruned change is gone from its own listing too. */
	assert_int_equal(orgdir_changes_list(c, rev[2], "kept-1",
	                     ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT, 0, NULL, &r, &list, &st),
	    ORGDIR_OK);
	assert_int_equal(list->n_changes, 0);
	orgdir_reply_free(r);
	assert_int_equal(orgdir_changes_list(c, rev[2], "kept-5",
	                     ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT, 0, NULL, &r, &list, &st),
	    ORGDIR_OK);
	assert_int_equal(list->n_changes, 1);
	assert_int_equal(list->changes[0]->revision, rev[5]);
	orgdir_reply_free(r);
	orgdir_client_close(c);
	/* The window holds across a restart. */
	assert_int_equal(od_test_server_stop(&s3), 0);
	od_test_server_start(&s3, args);
	c = od_test_client(&s3, NULL);
	assert_int_equal(
	    orgdir_changes_list(c, rev[1], NULL, 0, 0, NULL, &r, &list, &st), ORGDIR_OUT_OF_RANGE);
	assert_int_equal(
	    orgdir_changes_list(c, rev[2], NULL, 0, 0, NULL, &r, &list, &st), ORGDIR_OK);
	assert_int_equal(list->n_changes, 3);
	orgdir_reply_free(r);
	orgdir_client_close(c);
	assert_int_equal(od_test_server_stop(&s3), 0);
	od_test_server_cleanup(&s3);
}

/* A second server: the example organisation, and a small reply cap. */
static void
test_seeded_example_and_reply_cap(void **state)
{
	(void) state;
	const char *example = getenv("ORGDIR_EXAMPLE");
	assert_non_null(example);
	od_test_server s2 = {0};
	const char *args[] = {"--seed", example, NULL};
	od_test_server_start(&s2, args);
	orgdir_client *c = od_test_client(&s2, NULL);
	orgdir_status st;
	orgdir_reply *r;
	Orgdir__V1__GetSubtreeResponse *sub;
	assert_int_equal(orgdir_unit_subtree(c, NULL, 0, &r, &sub, &st), ORGDIR_OK);
	assert_true(sub->n_nodes >= 40);
	assert_string_equal(sub->nodes[0]->unit->id, "iom");
	assert_int_equal(sub->nodes[0]->depth, 0);
	assert_string_equal(sub->nodes[1]->unit->id, "dg");
	assert_string_equal(orgdir_text_pick(sub->nodes[1]->unit->head->title,
	                        sub->nodes[1]->unit->head->n_title, "fr"),
	    "Directrice générale");
	orgdir_reply_free(r);
	orgdir_client_close(c);
	/* A client that accepts only 4 KiB gets RESOURCE_EXHAUSTED, not a hang. */
	orgdir_options small = {.timeout_ms = 3000, .max_message_bytes = 4096};
	c = od_test_client(&s2, &small);
	assert_int_equal(orgdir_unit_subtree(c, NULL, 0, &r, &sub, &st), ORGDIR_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.message, "limit"));
	orgdir_client_close(c);
	assert_int_equal(od_test_server_stop(&s2), 0);
	od_test_server_cleanup(&s2);
}

int
main(void)
{
	/* OD_TEST_FILTER=name runs only the tests matching it (cmocka's
	 * pattern), to repeat one. */
	if (getenv("OD_TEST_FILTER") != NULL) {
		cmocka_set_test_filter(getenv("OD_TEST_FILTER"));
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crud_roundtrip),
	    cmocka_unit_test(test_tree_move_delete),
	    cmocka_unit_test(test_list_pagination),
	    cmocka_unit_test(test_garbage_and_truncation),
	    cmocka_unit_test(test_failed_calls_do_not_flood_the_log),
	    cmocka_unit_test(test_oversized_messages),
	    cmocka_unit_test(test_idle_half_and_non_sp_peers),
	    cmocka_unit_test(test_peers_closing_before_their_handshake),
	    cmocka_unit_test(test_clients_closed_at_once),
	    cmocka_unit_test(test_resent_write_applied_once),
	    cmocka_unit_test(test_import_parts_as_sent),
	    cmocka_unit_test(test_concurrent_writers_share_a_client),
	    cmocka_unit_test(test_server_info_and_health),
	    cmocka_unit_test(test_roles_against_writes),
	    cmocka_unit_test(test_change_log),
	    cmocka_unit_test(test_watch_long_poll),
	    cmocka_unit_test(test_watch_revision_larger_than_an_answer),
	    cmocka_unit_test(test_concurrent_editors_one_wins),
	    cmocka_unit_test(test_search_over_rpc),
	    cmocka_unit_test(test_restart_keeps_data),
	    cmocka_unit_test(test_seeded_example_and_reply_cap),
	    cmocka_unit_test(test_retention_window),
	    cmocka_unit_test(test_fields_checked_for_any_client),
	};
	signal(SIGPIPE, SIG_IGN); /* a server hanging up on a raw write */
	int rc = test_run_group(tests, group_setup, group_teardown);
	return rc;
}
