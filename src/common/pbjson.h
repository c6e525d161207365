/*
 * pbjson.h - the proto3 JSON mapping for protobuf-c messages, driven by
 * their descriptors (one mapping for --json, seeding and import/export).
 *
 * Mapping (https://protobuf.dev/programming-guides/proto3/#json):
 *  - field names in lowerCamelCase on output (computed from the field name
 *    as protoc does: "max_reply_bytes" -> "maxReplyBytes"); both
 *    lowerCamelCase and the original snake_case names accepted on input,
 *    the same field under both names is an error;
 *  - fields in .proto (descriptor) order on output;
 *  - enums by name on output (a number the descriptor does not know goes
 *    out as a number); name, number or quoted number on input;
 *  - int64/uint64/fixed64/sint64/sfixed64 as decimal strings on output;
 *    strings or numbers on input; 32-bit ints as numbers. Integral reals
 *    (1.0, 1e3) are accepted; a value out of the type's range is an error;
 *  - float/double as numbers, NaN and infinities as "NaN", "Infinity",
 *    "-Infinity"; a float goes out as the double nearest to its shortest
 *    decimal form (0.1f -> 0.1);
 *  - bytes as standard base64 (input also accepts URL-safe, with or without
 *    padding);
 *  - proto3 fields with default values (0, "", false, empty repeated, unset
 *    message) are omitted on output; a set oneof member and a proto2
 *    optional with its has_ flag are printed even at their default; null
 *    on input means default (and does not choose a oneof member);
 *  - google.protobuf.Timestamp as an RFC 3339 string in UTC with 0, 3, 6
 *    or 9 fractional digits ("2026-11-27T18:59:24.123Z"); input also takes
 *    offsets ("+01:00"); range 0001-01-01 to 9999-12-31;
 *    google.protobuf.FieldMask as one string of comma-separated
 *    lowerCamelCase paths (input converts each back: "headName" ->
 *    "head_name"; snake_case paths pass unchanged);
 *  - unknown JSON fields are an error on input (the error names the path).
 * Not mapped specially: map<> fields (they appear as arrays of
 * {"key", "value"} entry objects), Duration, Struct/Value, the wrapper
 * types and Any (printed as the plain messages they are). A float or double
 * -0.0 counts as default and is omitted, as protobuf-c's packer does.
 *
 * Output builds a jansson json_t; input reads JSON text itself (jtok.c),
 * without a tree, for speed: an import reads tens of megabytes.
 */
#ifndef OD_PBJSON_H
#define OD_PBJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Returns a new reference to the JSON form of m: an object, or a string
 * when m itself is a Timestamp or a FieldMask. The caller owns the
 * reference (json_decref); m is borrowed. Returns NULL when m is NULL, on
 * allocation failure, or when m holds what the mapping cannot write: a
 * string that is not valid UTF-8 (protobuf-c does not check on unpack), a
 * Timestamp outside the range above, messages nested deeper than 64.
 */
json_t *od_pbjson_from_message(const ProtobufCMessage *m);

/*
 * Parses JSON text `text` (len bytes, UTF-8; not NUL-terminated, it may
 * start with a UTF-8 byte order mark) into a message of type `desc`: one
 * JSON object, or a string when `desc` is Timestamp or FieldMask, then only
 * whitespace. Every part of the result is allocated from `alloc` (NULL =
 * malloc, as protobuf-c's default allocator; then free the result with
 * protobuf_c_message_free_unpacked(msg, NULL); with an arena, reset the
 * arena). Strings in the result are NUL-terminated copies; nothing points
 * into `text`, which is borrowed.
 * Returns NULL on error, having freed through `alloc` all it took, and
 * writes into err (errlen bytes, cut to fit and always terminated; err may
 * be NULL) what went wrong:
 *  - text that is not JSON (RFC 8259, strictly): its line and column and
 *    what was expected, e.g. "line 3, column 17: expected ',' or '}', got
 *    ']'": trailing commas, comments, leading zeros, NaN/Infinity literals,
 *    invalid escapes, a lone UTF-16 surrogate in a \u escape, control
 *    characters or invalid UTF-8 in a string or key, more than whitespace
 *    after the value, the empty text;
 *  - JSON that does not map: the JSON path and the reason, e.g.
 *    "units[3].kind: unknown enum value \"DEPT\" for orgdir.v1.Unit.Kind".
 *    A JSON type that does not fit the field, an unknown field, a key
 *    given twice ("duplicate key"), the same field under both names or two
 *    members of one oneof, a number out of range or not an integer where
 *    one is needed, an unknown enum name, invalid base64, an invalid or
 *    out-of-range Timestamp, a string with a NUL (\u0000), null inside an
 *    array, a missing proto2 required field, messages nested deeper than
 *    64, and allocation failure ("out of memory").
 * The first error ends the parse; text after it is not checked. Numbers
 * are read from their text, exactly: an integer field takes
 * 18446744073709551615, 1e3 or 1.0 but not 1.5 or 1e-400; a float or double
 * takes the nearest value (an underflow reads as 0), read in the C locale.
 * What is built is bounded by len: cap the text before reading it.
 * Reentrant: keeps no state between calls (apart from a C locale object
 * made once), so threads may parse at once.
 */
ProtobufCMessage *od_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *text,
    size_t len, ProtobufCAllocator *alloc, char *err, size_t errlen);

/*
 * Called by od_pbjson_parse_each with each element of its field, in the
 * order of the text, as soon as the element is read: `i` is its index in
 * the JSON array. The element is the function's from then on (allocated
 * from the parse's `alloc`: with an arena it lives until the arena is
 * reset; with malloc, free it with protobuf_c_message_free_unpacked). It
 * returns false to stop the parse, which then fails with "stopped by the
 * caller" at that element's path.
 */
typedef bool (*od_pbjson_each_fn)(void *arg, ProtobufCMessage *element, size_t i);

/*
 * od_pbjson_parse, except that the elements of the top-level repeated
 * message field named `field` (its proto name, e.g. "units") go to fn as
 * they are read and are left out of the result, whose count for that field
 * stays 0. The checks and errors are od_pbjson_parse's; elements already
 * given to fn when a later error ends the parse stay fn's. A document can
 * so be sent on while the rest of it is still being read. It is an error
 * (and nothing is read) when desc has no such field or fn is NULL.
 */
ProtobufCMessage *od_pbjson_parse_each(const ProtobufCMessageDescriptor *desc, const char *text,
    size_t len, ProtobufCAllocator *alloc, const char *field, od_pbjson_each_fn fn, void *arg,
    char *err, size_t errlen);

#endif
