/*
 * fuzz_pbdecode.c - libFuzzer target: od_pb_unpack (src/common/pbdecode.c)
 * against protobuf-c's protobuf_c_message_unpack, differential.
 *
 * The first byte picks the message type (its low 7 bits index
 * pbdiff_all_descriptors: orgdir.v1's types and the test-only ones of
 * tests/unit/pbdecode.cmake). With its high bit clear the rest of the input
 * is decoded as that type; with it set, the rest seeds pbdiff_gen, whose
 * wire is built from the type's fields (merges, oneofs, packed runs), and
 * that is decoded. Both decoders must refuse alike, or accept alike with
 * equal results (pbdiff_compare: field by field, packed bytes, and with
 * malloc, a checking allocator and an arena); a difference aborts. Leaks
 * show in AddressSanitizer's leak check.
 *
 * Built by tests/fuzz/CMakeLists.txt (-DORGDIR_FUZZ=ON); run by
 * tools/fuzz.sh. Seeds: tests/fuzz/corpus/pbdecode/, written by
 * `test_pbdecode tests/fuzz/corpus/pbdecode` (their first bytes index
 * pbdiff_all_descriptors: test_pbdecode_seeds_current fails when they no
 * longer match).
 */
#include <stdio.h>
#include <stdlib.h>

#include "pbdiff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	const ProtobufCMessageDescriptor **descs;
	size_t n = pbdiff_all_descriptors(&descs);
	const ProtobufCMessageDescriptor *d = descs[(data[0] & 0x7F) % n];
	char why[300];
	enum pbdiff_outcome o;
	if (data[0] & 0x80) {
		uint64_t seed = 1469598103934665603ULL; /* FNV-1a */
		for (size_t i = 1; i < size; i++) {
			seed = (seed ^ data[i]) * 1099511628211ULL;
		}
		pbdiff_rng r;
		pbdiff_seed(&r, seed);
		od_buf b;
		od_buf_init(&b, SIZE_MAX);
		pbdiff_gen(&r, d, &b, 0);
		o = pbdiff_compare(d, b.data, b.len, why, sizeof(why));
		od_buf_free(&b);
	} else {
		o = pbdiff_compare(d, data + 1, size - 1, why, sizeof(why));
	}
	if (o == PBDIFF_MISMATCH) {
		fprintf(stderr, "fuzz_pbdecode: %s\n", why);
		abort();
	}
	return 0;
}
