/* test_frame.c - the reply envelope as orgdird encodes it by hand must
 * decode with protobuf-c as an orgdir.v1.Response, field for field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "testutil.h"

static Orgdir__V1__Response *
decode(nng_msg *m)
{
	return orgdir__v1__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
}

static void
test_ok_reply_with_body(void **state)
{
	(void) state;
	nng_msg *m;
	od_buf body;
	orgdir_status st = {ORGDIR_OK, "", 0};
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	od_buf_init(&body, 1u << 24);
	/* A body large enough for a multi-byte length prefix. */
	for (int i = 0; i < 100000; i++) {
		uint8_t b = (uint8_t) i;
		assert_true(od_buf_append(&body, &b, 1));
	}
	assert_true(od_frame_reply(m, 0xFFFFFFFFFFull, &st, &body, 77));
	Orgdir__V1__Response *r = decode(m);
	assert_non_null(r);
	assert_int_equal(r->call_id, 0xFFFFFFFFFFull);
	assert_int_equal(r->code, 0);
	assert_string_equal(r->message, "");
	assert_int_equal(r->body.len, 100000);
	assert_memory_equal(r->body.data, body.data, 100000);
	assert_int_equal(r->revision, 77);
	orgdir__v1__response__free_unpacked(r, NULL);
	od_buf_free(&body);
	nng_msg_free(m);
}

static void
test_error_reply_has_no_body(void **state)
{
	(void) state;
	nng_msg *m;
	od_buf body;
	orgdir_status st;
	od_status_set(&st, ORGDIR_NOT_FOUND, "unit '%s' does not exist", "x");
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, "old request bytes", 17), 0);
	od_buf_init(&body, 100);
	od_buf_append(&body, "partial", 7);
	assert_true(od_frame_reply(m, 5, &st, &body, 0));
	Orgdir__V1__Response *r = decode(m);
	assert_non_null(r);
	assert_int_equal(r->call_id, 5);
	assert_int_equal(r->code, ORGDIR_NOT_FOUND);
	assert_string_equal(r->message, "unit 'x' does not exist");
	assert_int_equal(r->body.len, 0);
	assert_int_equal(r->revision, 0);
	orgdir__v1__response__free_unpacked(r, NULL);
	od_buf_free(&body);
	nng_msg_free(m);
}

static void
test_recorded_reply_gets_this_call_id(void **state)
{
	(void) state;
	Orgdir__V1__Response rec = ORGDIR__V1__RESPONSE__INIT;
	uint8_t packed[64];
	rec.body.data = (uint8_t *) "unit";
	rec.body.len = 4;
	rec.revision = 9;
	od_val v = {packed, orgdir__v1__response__pack(&rec, packed)};
	nng_msg *m;
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_true(od_frame_recorded(m, 4242, &v));
	Orgdir__V1__Response *r = decode(m);
	assert_non_null(r);
	assert_int_equal(r->call_id, 4242);
	assert_int_equal(r->revision, 9);
	assert_int_equal(r->body.len, 4);
	orgdir__v1__response__free_unpacked(r, NULL);
	nng_msg_free(m);
}

static void
test_method_table_matches_service(void **state)
{
	(void) state;
	orgdir_status st;
	assert_int_equal(od_methods_init(&st), ORGDIR_OK);
	const ProtobufCServiceDescriptor *sd = &orgdir__v1__org_directory__descriptor;
	assert_int_equal(od_method_count(), sd->n_methods);
	for (unsigned i = 0; i < sd->n_methods; i++) {
		const od_method *m = od_method_find(sd->methods[i].name);
		assert_non_null(m);
		assert_ptr_equal(m->desc, &sd->methods[i]);
		assert_true((m->flags & (OD_M_READ | OD_M_WRITE)) != 0);
	}
	assert_null(od_method_find("NoSuchMethod"));
	assert_null(od_method_find(""));
	assert_true(od_method_find("CreateUnit")->flags & OD_M_WRITE);
	assert_true(od_method_find("GetUnit")->flags & OD_M_READ);
}

static void
test_request_decoder_matches_protobuf_c(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, 1u << 20);
	uint8_t body[300], rid[16], buf[1024];
	srand(11);
	for (int round = 0; round < 2000; round++) {
		Orgdir__V1__Request r = ORGDIR__V1__REQUEST__INIT;
		char method[20], token[40];
		snprintf(method, sizeof(method), "M%d", rand());
		snprintf(token, sizeof(token), "odt_%d", rand());
		for (size_t k = 0; k < sizeof(body); k++) {
			body[k] = (uint8_t) rand();
		}
		r.method = round % 7 ? method : "";
		r.call_id = (uint64_t) rand() << (round % 40);
		r.body.data = body;
		r.body.len = (size_t) (rand() % (int) sizeof(body));
		r.auth_token = round % 3 ? token : "";
		r.deadline_ms = (uint32_t) rand();
		r.request_id.data = rid;
		r.request_id.len = round % 5 ? sizeof(rid) : 0;
		r.max_reply_bytes = (uint32_t) rand();
		size_t n = orgdir__v1__request__pack(&r, buf);
		Orgdir__V1__Request d;
		od_arena_reset(&a);
		assert_true(od_frame_decode_request(buf, n, &a, &d));
		assert_string_equal(d.method, r.method);
		assert_string_equal(d.auth_token, r.auth_token);
		assert_int_equal(d.call_id, r.call_id);
		assert_int_equal(d.deadline_ms, r.deadline_ms);
		assert_int_equal(d.max_reply_bytes, r.max_reply_bytes);
		assert_int_equal(d.body.len, r.body.len);
		if (r.body.len) {
			assert_memory_equal(d.body.data, body, r.body.len);
		}
		assert_int_equal(d.request_id.len, r.request_id.len);
		/* Every strict prefix either fails or decodes what it holds, and
		 * never reads past its end (ASan/valgrind watch this). */
		for (size_t cut = 0; cut < n; cut += 1 + (size_t) rand() % 7) {
			uint8_t *copy = malloc(cut + 1);
			memcpy(copy, buf, cut);
			Orgdir__V1__Request e;
			(void) od_frame_decode_request(copy, cut, &a, &e);
			free(copy);
		}
	}
	/* Not a Request: a group wire type, a length past the end, a bad varint. */
	Orgdir__V1__Request e;
	assert_false(od_frame_decode_request((const uint8_t *) "\x0b", 1, &a, &e));
	assert_false(od_frame_decode_request((const uint8_t *) "\x0a\x05"
	                                                       "ab",
	    4, &a, &e));
	assert_false(od_frame_decode_request(
	    (const uint8_t *) "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, &a, &e));
	/* Unknown fields are skipped. */
	assert_true(od_frame_decode_request((const uint8_t *) "\x48\x01\x0a\x01X", 5, &a, &e));
	assert_string_equal(e.method, "X");
	od_arena_destroy(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_reply_with_body),
	    cmocka_unit_test(test_error_reply_has_no_body),
	    cmocka_unit_test(test_recorded_reply_gets_this_call_id),
	    cmocka_unit_test(test_method_table_matches_service),
	    cmocka_unit_test(test_request_decoder_matches_protobuf_c),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc;
}
