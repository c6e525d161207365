/*
 * fuzz_pbjson.c - libFuzzer target for the proto3 JSON mapping
 * (src/common/pbjson.c) and its tokenizer (jtok.c), the parser behind
 * --seed, import and --json.
 *
 * Arbitrary bytes are parsed as the text of an orgdir.v1.Directory and of
 * an orgdir.v1.UpdateUnitRequest. For every input:
 *  - into an arena: a refusal comes with a message (and a message cut to a
 *    5-byte buffer stays terminated); an accepted message maps back to JSON
 *    (jansson's output: the mapping never builds what it cannot write),
 *    whose text parses to a message again, which packs to the same bytes
 *    and maps to equal JSON (the round trip is a fixed point);
 *  - with protobuf-c's malloc allocator: accepted or refused, nothing
 *    leaks (AddressSanitizer's leak check runs with libFuzzer's);
 *  - a Directory read with od_pbjson_parse_each (its units handed over
 *    one by one) is the one read whole: the same error, or the same
 *    message once its units are put back, in order;
 *  - against jansson (json_loadb, duplicates refused): what jansson refuses
 *    we refuse too, and what we accept jansson accepts, but for the two
 *    documented differences: a byte order mark is skipped, integers past
 *    jansson's long long are read. When jansson accepts a text holding no
 *    reals, the text it writes back (compact, or \u-escaped and indented)
 *    gives exactly our result for the original: the same message, or the
 *    same error. (A real such as 1.00000000000000000001 is written back
 *    rounded, which an integer field rightly tells apart; and jansson lets
 *    a NUL byte after a literal through, regress-jansson-nul-after-literal.)
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
#define ERR_MAX 512

static uint8_t *
pack(const ProtobufCMessage *m, size_t *n)
{
	*n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(*n + 1);
	CHECK(p != NULL);
	CHECK(protobuf_c_message_pack(m, p) == *n);
	return p;
}

static bool
same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t n1, n2;
	uint8_t *p1 = pack(a, &n1);
	uint8_t *p2 = pack(b, &n2);
	bool same = n1 == n2 && memcmp(p1, p2, n1) == 0;
	free(p1);
	free(p2);
	return same;
}

static ProtobufCMessage *
parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len, od_arena *a,
    char err[ERR_MAX])
{
	err[0] = '\0';
	ProtobufCMessage *m = od_pbjson_parse(desc, text, len, &a->pb, err, ERR_MAX);
	if (m == NULL) {
		CHECK(err[0] != '\0');
		CHECK(strlen(err) < ERR_MAX);
	}
	return m;
}

/* Parses the input; checks the round trip of what it accepts. Returns the
 * message (in a) or NULL with err set. */
static ProtobufCMessage *
round_trip(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size, od_arena *a,
    char err[ERR_MAX])
{
	ProtobufCMessage *m = parse(desc, (const char *) data, size, a, err);
	if (m == NULL) {
		char small[5];
		memset(small, 'x', sizeof(small));
		CHECK(od_pbjson_parse(
		          desc, (const char *) data, size, &a->pb, small, sizeof(small)) == NULL);
		CHECK(strlen(small) < sizeof(small));
		return NULL;
	}
	CHECK(m->descriptor == desc);
	json_t *out = od_pbjson_from_message(m);
	CHECK(out != NULL);
	char *text = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
	CHECK(text != NULL);
	char err2[ERR_MAX];
	ProtobufCMessage *m2 = parse(desc, text, strlen(text), a, err2);
	if (m2 == NULL) {
		fprintf(stderr, "fuzz_pbjson: our own output is refused: %s\n  %s\n", err2, text);
		abort();
	}
	free(text);
	CHECK(same_packed(m, m2));
	json_t *out2 = od_pbjson_from_message(m2);
	CHECK(out2 != NULL);
	CHECK(json_equal(out, out2));
	json_decref(out);
	json_decref(out2);
	return m;
}

static void
no_leak(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = od_pbjson_parse(desc, (const char *) data, size, NULL, NULL, 0);
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static bool
has_real(const json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_REAL:
		return true;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
		{
			if (has_real(v)) {
				return true;
			}
		}
		return false;
	case JSON_OBJECT:
		json_object_foreach((json_t *) j, key, v)
		{
			if (has_real(v)) {
				return true;
			}
		}
		return false;
	default:
		return false;
	}
}

/* Our result for the input (mine: the message, or NULL and err) against
 * jansson's reading of the same bytes (j, or NULL and je). */
static void
differential(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
    const ProtobufCMessage *mine, const char *err, const json_t *j, const json_error_t *je,
    od_arena *a)
{
	bool bom = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0;
	if (j == NULL) {
		bool overflow = json_error_code(je) == json_error_numeric_overflow;
		CHECK(mine == NULL || bom || overflow);
		return;
	}
	/* jansson drops a NUL byte right after a literal ("null\0,"), which
	 * is not JSON and which we refuse. */
	if (has_real(j) || memchr(data, '\0', size) != NULL) {
		return;
	}
	/* The flags of the rewrite come from the input, so both are fuzzed. */
	size_t flags = size % 2 == 0 ? JSON_COMPACT : JSON_ENSURE_ASCII | JSON_INDENT(2);
	char *text = json_dumps(j, JSON_ENCODE_ANY | flags);
	CHECK(text != NULL);
	char err2[ERR_MAX];
	ProtobufCMessage *theirs = parse(desc, text, strlen(text), a, err2);
	if ((mine == NULL) != (theirs == NULL) || (mine != NULL && !same_packed(mine, theirs)) ||
	    (mine == NULL && strcmp(err, err2) != 0)) {
		fprintf(stderr,
		    "fuzz_pbjson: the input and jansson's rewriting of it differ:\n"
		    "  input: %s\n  rewritten: %s\n  %s\n",
		    mine != NULL ? "accepted" : err, theirs != NULL ? "accepted" : err2, text);
		abort();
	}
	free(text);
}

/* The units od_pbjson_parse_each hands over, in order (malloc'd). */
struct handed {
	ProtobufCMessage **u;
	size_t n, cap;
};

static bool
take_unit(void *arg, ProtobufCMessage *m, size_t i)
{
	struct handed *h = arg;
	CHECK(i == h->n);
	CHECK(m->descriptor == &orgdir__v1__unit__descriptor);
	if (h->n == h->cap) {
		h->cap = h->cap == 0 ? 16 : 2 * h->cap;
		h->u = realloc(h->u, h->cap * sizeof(*h->u));
		CHECK(h->u != NULL);
	}
	h->u[h->n++] = m;
	return true;
}

/* A Directory read with its units handed over one by one is the one read
 * whole (whole, or NULL and err): refused with the same message, or the
 * same message once the units are put back. Nothing leaks either way. */
static void
each_matches(const uint8_t *data, size_t size, const ProtobufCMessage *whole, const char *err)
{
	struct handed h = {NULL, 0, 0};
	char err2[ERR_MAX];
	ProtobufCMessage *m = od_pbjson_parse_each(&orgdir__v1__directory__descriptor,
	    (const char *) data, size, NULL, "units", take_unit, &h, err2, ERR_MAX);
	CHECK((m == NULL) == (whole == NULL));
	if (m == NULL) {
		CHECK(strcmp(err, err2) == 0);
	} else {
		Orgdir__V1__Directory *d = (Orgdir__V1__Directory *) m;
		CHECK(d->n_units == 0);
		d->units = (Orgdir__V1__Unit **) h.u;
		d->n_units = h.n;
		CHECK(same_packed(m, whole));
		d->units = NULL;
		d->n_units = 0;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	for (size_t i = 0; i < h.n; i++) {
		protobuf_c_message_free_unpacked(h.u[i], NULL);
	}
	free(h.u);
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
	json_error_t je;
	json_t *j = json_loadb((const char *) data, size,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
	const ProtobufCMessageDescriptor *descs[] = {
	    &orgdir__v1__directory__descriptor,
	    &orgdir__v1__update_unit_request__descriptor,
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(descs); i++) {
		char err[ERR_MAX];
		ProtobufCMessage *m = round_trip(descs[i], data, size, &arena, err);
		differential(descs[i], data, size, m, err, j, &je, &arena);
		if (descs[i] == &orgdir__v1__directory__descriptor) {
			each_matches(data, size, m, err);
		}
		od_arena_reset(&arena);
		no_leak(descs[i], data, size);
	}
	json_decref(j);
	return 0;
}
