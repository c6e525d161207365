/*
 * fuzz_pbjson.c - libFuzzer target for the proto3 JSON mapping
 * (src/common/pbjson.c), the parser behind --seed, import and --json.
 *
 * Arbitrary bytes are parsed with jansson (any top-level value, NUL allowed
 * in strings so the mapping's own NUL check is reached) and mapped to
 * orgdir.v1.Directory and orgdir.v1.UpdateUnitRequest. For every input:
 *  - into an arena: a refusal comes with a message (and a message cut to a
 *    5-byte buffer stays terminated); an accepted message maps back to JSON
 *    (the mapping never builds what it cannot write), that JSON maps to a
 *    message again, which packs to the same bytes and maps to equal JSON
 *    (the round trip is a fixed point);
 *  - with protobuf-c's malloc allocator: accepted or refused, nothing
 *    leaks (AddressSanitizer's leak check runs with libFuzzer's).
 * A failed check aborts, which libFuzzer reports with the input.
 *
 * Built by tests/fuzz/CMakeLists.txt (-DORGDIR_FUZZ=ON); run by
 * tools/fuzz.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "od.h"
#include "pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_pbjson: check failed at line %d: %s\n", __LINE__, \
			    #cond); \
			abort(); \
		} \
	} while (0)

#define INPUT_MAX (1u << 20) /* the seed file cap is larger; this keeps runs fast */
#define ARENA_CAP ((size_t) 256 << 20)

static uint8_t *
pack(const ProtobufCMessage *m, size_t *n)
{
	*n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(*n + 1);
	CHECK(p != NULL);
	CHECK(protobuf_c_message_pack(m, p) == *n);
	return p;
}

static void
round_trip(const ProtobufCMessageDescriptor *desc, const json_t *j, od_arena *a)
{
	char err[256];
	err[0] = '\0';
	ProtobufCMessage *m = od_pbjson_to_message(desc, j, &a->pb, err, sizeof(err));
	if (m == NULL) {
		CHECK(err[0] != '\0');
		CHECK(strlen(err) < sizeof(err));
		char small[5];
		memset(small, 'x', sizeof(small));
		CHECK(od_pbjson_to_message(desc, j, &a->pb, small, sizeof(small)) == NULL);
		CHECK(strlen(small) < sizeof(small));
		return;
	}
	CHECK(m->descriptor == desc);
	json_t *out = od_pbjson_from_message(m);
	CHECK(out != NULL);
	ProtobufCMessage *m2 = od_pbjson_to_message(desc, out, &a->pb, err, sizeof(err));
	if (m2 == NULL) {
		char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
		fprintf(
		    stderr, "fuzz_pbjson: our own output is refused: %s\n  %s\n", err, s ? s : "?");
		free(s);
		abort();
	}
	size_t n1, n2;
	uint8_t *p1 = pack(m, &n1);
	uint8_t *p2 = pack(m2, &n2);
	CHECK(n1 == n2 && memcmp(p1, p2, n1) == 0);
	free(p1);
	free(p2);
	json_t *out2 = od_pbjson_from_message(m2);
	CHECK(out2 != NULL);
	CHECK(json_equal(out, out2));
	json_decref(out);
	json_decref(out2);
}

static void
no_leak(const ProtobufCMessageDescriptor *desc, const json_t *j)
{
	ProtobufCMessage *m = od_pbjson_to_message(desc, j, NULL, NULL, 0);
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static od_arena arena;
	static bool init;
	if (!init) {
		od_arena_init(&arena, ARENA_CAP);
		init = true;
	}
	if (size > INPUT_MAX) {
		return 0;
	}
	json_error_t e;
	json_t *j = json_loadb((const char *) data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (j == NULL) {
		return 0;
	}
	const ProtobufCMessageDescriptor *descs[] = {
	    &orgdir__v1__directory__descriptor,
	    &orgdir__v1__update_unit_request__descriptor,
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(descs); i++) {
		round_trip(descs[i], j, &arena);
		od_arena_reset(&arena);
		no_leak(descs[i], j);
	}
	json_decref(j);
	return 0;
}
