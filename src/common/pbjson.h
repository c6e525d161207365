/*
 * pbjson.h - the proto3 JSON mapping for protobuf-c messages, driven by
 * their descriptors (one mapping for --json, seeding and import/export).
 *
 * Mapping (https://protobuf.dev/programming-guides/proto3/#json):
 *  - field names in lowerCamelCase on output; both lowerCamelCase and the
 *    original snake_case names accepted on input;
 *  - enums by name on output; name or number on input;
 *  - int64/uint64/fixed64/sint64 as decimal strings on output; strings or
 *    numbers on input; 32-bit ints as numbers;
 *  - bytes as standard base64 (input also accepts URL-safe, with or without
 *    padding);
 *  - fields with default values (0, "", false, empty repeated, unset
 *    message) are omitted on output; null on input means default;
 *  - google.protobuf.Timestamp as an RFC 3339 string
 *    ("2026-11-27T18:59:24.123Z"), google.protobuf.FieldMask as one string
 *    of comma-separated lowerCamelCase paths;
 *  - unknown JSON fields are an error on input (the error names the path).
 */
#ifndef OD_PBJSON_H
#define OD_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Returns a new reference to a JSON object for m, or NULL on allocation
 * failure. The caller owns the reference (json_decref). */
json_t *od_pbjson_from_message(const ProtobufCMessage *m);

/*
 * Builds a message of type `desc` from JSON object `j`, allocating every
 * part from `alloc` (NULL = protobuf-c's default malloc allocator; then free
 * the result with protobuf_c_message_free_unpacked(msg, NULL)).
 * Returns NULL on error and writes into err (errlen bytes) a message naming
 * the JSON path and the reason, e.g.
 *   "units[3].kind: unknown enum value \"DEPT\" for orgdir.v1.Unit.Kind".
 * `j` is borrowed.
 */
ProtobufCMessage *od_pbjson_to_message(const ProtobufCMessageDescriptor *desc,
    const json_t *j, ProtobufCAllocator *alloc, char *err, size_t errlen);

#endif
