/*
 * pbdiff.h - od_pb_unpack against protobuf-c's protobuf_c_message_unpack:
 * the comparison, message builders and input generators that
 * test_pbdecode and fuzz_pbdecode share (no cmocka here).
 */
#ifndef OD_PBDIFF_H
#define OD_PBDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "od.h"

/* What pbdiff_compare found. */
enum pbdiff_outcome {
	PBDIFF_BOTH_REFUSE,
	PBDIFF_BOTH_ACCEPT, /* and the results are equal */
	PBDIFF_TOO_DEEP, /* only od_pb_unpack refused: nested past OD_PB_NESTING_MAX */
	PBDIFF_MISMATCH, /* *why says how */
};

/*
 * Decodes p[0..n) as desc with both decoders and compares. Ours runs three
 * times: with malloc (NULL allocator), with an allocator that checks every
 * free against its allocations (a refusal must give back all it took, and
 * protobuf_c_message_free_unpacked must free every block of a result, none
 * twice, none it did not allocate), and into an od_arena. All must agree
 * with protobuf-c: refusal alike; accepted results equal field by field
 * (has flags, oneof cases, default pointers, unknown fields) and packing to
 * the same bytes. With the real decoder, od_pb_unpack_checked must also
 * agree with od_pb_unpack followed by a walk of the wire that checks every
 * string (strings of any length, and of at most 8 bytes), and
 * od_pb_unpack_in_place must give the same result with every bytes field
 * pointing into p. why (may be NULL) gets a description of a mismatch.
 */
enum pbdiff_outcome pbdiff_compare(
    const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, char *why, size_t why_len);

/* The decoder pbdiff_compare checks: od_pb_unpack, unless a test swaps in
 * a wrong one to see the comparison fail. */
typedef ProtobufCMessage *pbdiff_decoder_fn(const ProtobufCMessageDescriptor *desc,
    ProtobufCAllocator *alloc, size_t len, const uint8_t *data);
extern pbdiff_decoder_fn *pbdiff_decoder;

/* True when a and b are equal field by field; otherwise *why says where. */
bool pbdiff_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why, size_t why_len);

/* The deepest nesting of messages in p as desc (1: no submessage), read on
 * the wire as far as it parses. */
unsigned pbdiff_wire_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n);

/* Every message type: orgdir.v1's and the well-known types it uses (all
 * reachable from the service and the envelopes), then the test-only
 * pbdecodetest ones. */
size_t pbdiff_all_descriptors(const ProtobufCMessageDescriptor ***out);

/* A small deterministic generator (xorshift64*). */
typedef struct pbdiff_rng {
	uint64_t s;
} pbdiff_rng;
void pbdiff_seed(pbdiff_rng *r, uint64_t seed);
uint64_t pbdiff_next(pbdiff_rng *r);
/* Uniform in [0, n), n > 0. */
uint32_t pbdiff_below(pbdiff_rng *r, uint32_t n);

/* A message of type desc with every field set (every repeated field to
 * `variant % 3 + 1` elements), from a pool of edge values picked by
 * variant: extreme integers, NaN and -0.0, empty and long strings, names in
 * several scripts. Allocated in a, nested up to depth levels. */
ProtobufCMessage *pbdiff_fill(
    const ProtobufCMessageDescriptor *desc, od_arena *a, unsigned variant, unsigned depth);

/* Appends random wire-format fields for desc to out: mostly values of its
 * own fields (singular ones repeated, so last-wins, merges and oneof
 * replacement happen; packed and unpacked runs), also wrong wire types,
 * unknown and zero field numbers, over-long keys, varints and lengths, and
 * now and then a chain nested past the decoder's cap. */
void pbdiff_gen(pbdiff_rng *r, const ProtobufCMessageDescriptor *desc, od_buf *out, unsigned depth);

/* Writes a mutation of in[0..n) into out (at most cap bytes): bits
 * flipped, bytes set, inserted, deleted, ranges copied elsewhere, cuts.
 * Returns its length. */
size_t pbdiff_mutate(pbdiff_rng *r, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
