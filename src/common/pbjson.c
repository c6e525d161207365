/*
 * pbjson.c - the proto3 JSON mapping for protobuf-c messages (see pbjson.h).
 *
 * Everything is driven by the descriptors, so one mapping serves every
 * message the project has or will have. The layout facts relied on are
 * protobuf-c 1.4.1's (they are what its own pack and free_unpacked use):
 *  - REPEATED: a size_t count at quantifier_offset, a pointer to an array of
 *    elements at offset;
 *  - ONEOF flag: a uint32 "case" at quantifier_offset holding the id of the
 *    member that is set;
 *  - OPTIONAL (proto2): a protobuf_c_boolean has_ at quantifier_offset for
 *    scalars and bytes; strings and messages are "set" when the pointer is
 *    neither NULL nor the field's default_value;
 *  - NONE (proto3): set when not zero, "" or NULL.
 *
 * Input keeps the message consistent after every store (a pointer is stored
 * and counted before anything can fail below it), so on any error the half
 * built message is released with protobuf_c_message_free_unpacked() and the
 * caller's allocator, and nothing leaks.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od.h"
#include "pbjson.h"

/* Message levels accepted on input (the root is level 1) and produced on
 * output. Deeper input is refused rather than recursed into, so hostile
 * JSON cannot exhaust the stack. */
#define PBJSON_DEPTH_MAX 64
/* Longest field name we map; protoc accepts longer, nobody writes them. */
#define PBJSON_NAME_MAX 256
/* Bytes of JSON path kept for error messages; deeper paths end in "...". */
#define PBJSON_PATH_MAX 512
/* Bytes of an offending value quoted back in an error message. */
#define PBJSON_QUOTE_MAX 64

/* The range the proto3 JSON spec allows for Timestamp:
 * 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z. */
#define TS_SECONDS_MIN INT64_C(-62135596800)
#define TS_SECONDS_MAX INT64_C(253402300799)
#define TS_NANOS_MAX 999999999

/* The smallest double that a conversion to float rounds to infinity:
 * FLT_MAX plus half its unit in the last place (2^104 / 2). */
#define FLOAT_ROUNDS_TO_INF ((double) FLT_MAX + 0x1p103)

static const char TIMESTAMP_NAME[] = "google.protobuf.Timestamp";
static const char FIELD_MASK_NAME[] = "google.protobuf.FieldMask";

/* ---------------------------------------------------------------------- */
/* Shared helpers                                                         */
/* ---------------------------------------------------------------------- */

static bool
is_lower(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
is_upper(char ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* protoc's ToJsonName (the json_name protoc would give the field, which is
 * what Python and Go print): drop each '_' and upper-case what follows.
 * ASCII only on purpose: field names are ASCII identifiers, and the C
 * library's toupper would make the result depend on the locale. */
static bool
camel_name(const char *snake, char *out, size_t outlen)
{
	size_t o = 0;
	bool up = false;

	for (const char *p = snake; *p != '\0'; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		if (o + 1 >= outlen) {
			return false;
		}
		out[o++] = (up && is_lower(*p)) ? (char) (*p - 'a' + 'A') : *p;
		up = false;
	}
	out[o] = '\0';
	return true;
}

/* camel_name(snake) == key, without a buffer (input looks up every key). */
static bool
camel_equals(const char *snake, const char *key)
{
	bool up = false;

	for (const char *p = snake; *p != '\0'; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		char want = (up && is_lower(*p)) ? (char) (*p - 'a' + 'A') : *p;
		if (*key != want) {
			return false;
		}
		key++;
		up = false;
	}
	return *key == '\0';
}

/* Element size of a repeated field's array, as protobuf-c lays it out. */
static size_t
elt_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static const char *
type_name(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
		return "int32";
	case PROTOBUF_C_TYPE_SINT32:
		return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32:
		return "sfixed32";
	case PROTOBUF_C_TYPE_INT64:
		return "int64";
	case PROTOBUF_C_TYPE_SINT64:
		return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64:
		return "sfixed64";
	case PROTOBUF_C_TYPE_UINT32:
		return "uint32";
	case PROTOBUF_C_TYPE_FIXED32:
		return "fixed32";
	case PROTOBUF_C_TYPE_UINT64:
		return "uint64";
	case PROTOBUF_C_TYPE_FIXED64:
		return "fixed64";
	case PROTOBUF_C_TYPE_FLOAT:
		return "float";
	case PROTOBUF_C_TYPE_DOUBLE:
		return "double";
	case PROTOBUF_C_TYPE_BOOL:
		return "bool";
	case PROTOBUF_C_TYPE_ENUM:
		return "enum";
	case PROTOBUF_C_TYPE_STRING:
		return "string";
	case PROTOBUF_C_TYPE_BYTES:
		return "bytes";
	case PROTOBUF_C_TYPE_MESSAGE:
		return "message";
	}
	return "?";
}

static bool
is_wkt(const ProtobufCMessageDescriptor *d, const char *name)
{
	return d->name != NULL && strcmp(d->name, name) == 0;
}

/* The field of a well-known type we read or write, checked against the
 * shape we expect so a look-alike descriptor cannot make us write out of
 * bounds. */
static const ProtobufCFieldDescriptor *
wkt_field(
    const ProtobufCMessageDescriptor *d, const char *name, ProtobufCType type, ProtobufCLabel label)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(d, name);

	if (f == NULL || f->type != type || f->label != label ||
	    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
		return NULL;
	}
	return f;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0))) {
		q--;
	}
	return q;
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic
 * Gregorian calendar. Pure arithmetic, so unlike timegm/mktime it does not
 * depend on TZ or on the C library's range. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	unsigned yoe = (unsigned) (y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	unsigned doe = (unsigned) (z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t) yoe + era * 400 + (*m <= 2);
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return (m == 2 && leap) ? 29 : days[m - 1];
}

/* ---------------------------------------------------------------------- */
/* Output: message -> JSON                                                */
/* ---------------------------------------------------------------------- */

static json_t *message_to_json(const ProtobufCMessage *m, unsigned depth);

static json_t *
int64_to_json(int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_string(buf);
}

static json_t *
uint64_to_json(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

static json_t *
nonfinite_to_json(double v)
{
	if (isnan(v)) {
		return json_string("NaN");
	}
	return json_string(v > 0 ? "Infinity" : "-Infinity");
}

static json_t *
float_to_json(float f)
{
	if (!isfinite(f)) {
		return nonfinite_to_json(f);
	}
	/* (double)0.1f is 0.100000001490116...; emit the double nearest to the
	 * shortest decimal that reads back as the same float instead, as the
	 * other implementations print floats. snprintf and strtof/strtod use the
	 * same locale, so the round trip check holds in any locale. */
	char buf[32];
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, (double) f);
		if (strtof(buf, NULL) == f) {
			break;
		}
	}
	return json_real(strtod(buf, NULL));
}

static json_t *
double_to_json(double v)
{
	if (!isfinite(v)) {
		return nonfinite_to_json(v);
	}
	return json_real(v);
}

static json_t *
bytes_to_json(const ProtobufCBinaryData *b)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (b->len == 0) {
		return json_string("");
	}
	if (b->len > (SIZE_MAX - 1) / 4 * 3 - 2) {
		return NULL;
	}
	size_t outlen = (b->len + 2) / 3 * 4;
	char *out = malloc(outlen);
	if (out == NULL) {
		return NULL;
	}
	size_t o = 0;
	size_t i = 0;
	for (; i + 3 <= b->len; i += 3) {
		uint32_t v =
		    (uint32_t) b->data[i] << 16 | (uint32_t) b->data[i + 1] << 8 | b->data[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < b->len) {
		uint32_t v = (uint32_t) b->data[i] << 16;
		if (i + 1 < b->len) {
			v |= (uint32_t) b->data[i + 1] << 8;
		}
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < b->len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

static json_t *
enum_to_json(const ProtobufCEnumDescriptor *ed, int32_t v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	/* proto3 enums are open: a number this descriptor does not know (a newer
	 * peer's value) is still data, so it goes out as a number. */
	if (ev == NULL) {
		return json_integer(v);
	}
	return json_string(ev->name);
}

static json_t *
timestamp_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *fs =
	    wkt_field(d, "seconds", PROTOBUF_C_TYPE_INT64, PROTOBUF_C_LABEL_NONE);
	const ProtobufCFieldDescriptor *fn =
	    wkt_field(d, "nanos", PROTOBUF_C_TYPE_INT32, PROTOBUF_C_LABEL_NONE);
	if (fs == NULL || fn == NULL) {
		return NULL;
	}
	int64_t secs = *(const int64_t *) ((const char *) m + fs->offset);
	int32_t nanos = *(const int32_t *) ((const char *) m + fn->offset);
	/* The spec's range; anything else has no RFC 3339 form. */
	if (secs < TS_SECONDS_MIN || secs > TS_SECONDS_MAX || nanos < 0 || nanos > TS_NANOS_MAX) {
		return NULL;
	}
	int64_t days = floor_div(secs, 86400);
	int64_t rem = secs - days * 86400;
	int64_t y;
	unsigned mo;
	unsigned dd;
	civil_from_days(days, &y, &mo, &dd);

	/* 0, 3, 6 or 9 digits, the fewest that hold the value exactly. */
	char frac[12] = "";
	if (nanos != 0 && nanos % 1000000 == 0) {
		snprintf(frac, sizeof(frac), ".%03" PRId32, nanos / 1000000);
	} else if (nanos != 0 && nanos % 1000 == 0) {
		snprintf(frac, sizeof(frac), ".%06" PRId32, nanos / 1000);
	} else if (nanos != 0) {
		snprintf(frac, sizeof(frac), ".%09" PRId32, nanos);
	}
	char buf[48];
	snprintf(buf, sizeof(buf), "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u%sZ", y, mo, dd,
	    (unsigned) (rem / 3600), (unsigned) (rem / 60 % 60), (unsigned) (rem % 60), frac);
	return json_string(buf);
}

static json_t *
field_mask_to_json(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fp =
	    wkt_field(m->descriptor, "paths", PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_REPEATED);
	if (fp == NULL) {
		return NULL;
	}
	size_t n = *(const size_t *) ((const char *) m + fp->quantifier_offset);
	char *const *paths = *(char *const *const *) ((const char *) m + fp->offset);
	if (n == 0) {
		return json_string("");
	}
	/* snake -> camel never lengthens a path: the sum of lengths plus the
	 * commas bounds the output. */
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = paths[i] != NULL ? strlen(paths[i]) : 0;
		if (total > SIZE_MAX - len - 1) {
			return NULL;
		}
		total += len + 1;
	}
	char *out = malloc(total);
	if (out == NULL) {
		return NULL;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			out[o++] = ',';
		}
		const char *p = paths[i] != NULL ? paths[i] : "";
		for (; *p != '\0'; p++) {
			/* Only "_x" with x a lower-case letter becomes "X": every other
			 * '_' is kept, so the camel -> snake conversion on input gives
			 * back the path unchanged. */
			if (p[0] == '_' && is_lower(p[1])) {
				out[o++] = (char) (p[1] - 'a' + 'A');
				p++;
			} else {
				out[o++] = *p;
			}
		}
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

/* One value of field f stored at p (a singular member or an array slot). */
static json_t *
value_to_json(const ProtobufCFieldDescriptor *f, const void *p, unsigned depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *) p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *) p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return int64_to_json(*(const int64_t *) p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return uint64_to_json(*(const uint64_t *) p);
	case PROTOBUF_C_TYPE_FLOAT:
		return float_to_json(*(const float *) p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_to_json(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) p != 0);
	case PROTOBUF_C_TYPE_ENUM:
		return enum_to_json(f->descriptor, *(const int32_t *) p);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *) p;
		/* json_string refuses invalid UTF-8, which protobuf-c lets through
		 * on unpack: the whole conversion then fails rather than emit a
		 * document that no JSON reader accepts. */
		return json_string(s != NULL ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_to_json(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *) p;
		return sub != NULL ? message_to_json(sub, depth + 1) : NULL;
	}
	}
	return NULL;
}

/* The "is it set" rule of protobuf-c's own packer, per label. */
static bool
field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *) m;
	const void *member = base + f->offset;
	bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
	const void *ptr = pointer ? *(const void *const *) member : NULL;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return *(const size_t *) (base + f->quantifier_offset) > 0 &&
		    *(const void *const *) member != NULL;
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
		/* A set member is printed even when it holds its default value:
		 * that a member is chosen is information. */
		return *(const uint32_t *) (base + f->quantifier_offset) == f->id &&
		    (!pointer || ptr != NULL);
	}
	switch (f->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return !pointer || ptr != NULL;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (pointer) {
			return ptr != NULL && ptr != f->default_value;
		}
		return *(const protobuf_c_boolean *) (base + f->quantifier_offset) != 0;
	case PROTOBUF_C_LABEL_NONE:
		break;
	case PROTOBUF_C_LABEL_REPEATED:
		return false; /* handled above */
	}
	/* proto3: present unless zero. */
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *) member != 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return *(const uint32_t *) member != 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *) member != 0;
	case PROTOBUF_C_TYPE_FLOAT:
		/* -0.0 == 0 counts as default, as in protobuf-c's packer. */
		return *(const float *) member != 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *) member != 0;
	case PROTOBUF_C_TYPE_STRING:
		return ptr != NULL && *(const char *) ptr != '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *) member)->len > 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return ptr != NULL;
	}
	return false;
}

static json_t *
repeated_to_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, unsigned depth)
{
	size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
	const char *arr = *(const char *const *) ((const char *) m + f->offset);
	size_t esz = elt_size(f->type);
	json_t *a = json_array();

	if (a == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = value_to_json(f, arr + i * esz, depth);
		/* json_array_append_new takes v even when it fails. */
		if (v == NULL || json_array_append_new(a, v) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
message_to_json(const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (depth > PBJSON_DEPTH_MAX || d == NULL ||
	    d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		return NULL;
	}
	if (is_wkt(d, TIMESTAMP_NAME)) {
		return timestamp_to_json(m);
	}
	if (is_wkt(d, FIELD_MASK_NAME)) {
		return field_mask_to_json(m);
	}
	json_t *obj = json_object();
	if (obj == NULL) {
		return NULL;
	}
	/* d->fields is in field-number order: a stable, documented order that
	 * matches the .proto, unlike fields_sorted_by_name. */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!field_present(m, f)) {
			continue;
		}
		char key[PBJSON_NAME_MAX];
		if (!camel_name(f->name, key, sizeof(key))) {
			json_decref(obj);
			return NULL;
		}
		json_t *v = f->label == PROTOBUF_C_LABEL_REPEATED
		    ? repeated_to_json(m, f, depth)
		    : value_to_json(f, (const char *) m + f->offset, depth);
		/* json_object_set_new takes v even when it fails. */
		if (v == NULL || json_object_set_new(obj, key, v) != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *
od_pbjson_from_message(const ProtobufCMessage *m)
{
	if (m == NULL) {
		return NULL;
	}
	return message_to_json(m, 1);
}

/* ---------------------------------------------------------------------- */
/* Input: JSON -> message                                                 */
/* ---------------------------------------------------------------------- */

struct in_ctx {
	ProtobufCAllocator *mem;
	char *err;
	size_t errlen;
	bool failed;
	/* JSON path of the value being read, e.g. "units[3].name[0].lang". */
	char path[PBJSON_PATH_MAX];
	size_t path_len;
	unsigned path_lost; /* segments not recorded because path is full */
};

/* What path_append changed, for path_pop to undo. */
struct path_mark {
	size_t len;
	bool lost;
};

static bool fail(struct in_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error only (the deepest one: callers return at once)
 * and returns false so that callers can `return fail(...)`. */
static bool
fail(struct in_ctx *c, const char *fmt, ...)
{
	if (c->failed) {
		return false;
	}
	c->failed = true;
	if (c->err == NULL || c->errlen == 0) {
		return false;
	}
	size_t used = 0;
	if (c->path_len > 0 || c->path_lost > 0) {
		int n =
		    snprintf(c->err, c->errlen, "%s%s: ", c->path, c->path_lost > 0 ? "..." : "");
		if (n > 0) {
			used = (size_t) n < c->errlen ? (size_t) n : c->errlen - 1;
		}
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + used, c->errlen - used, fmt, ap);
	va_end(ap);
	return false;
}

static const char *
json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static bool
type_error(struct in_ctx *c, const char *expected, const json_t *j)
{
	return fail(c, "expected %s, got %s", expected, json_kind(j));
}

/* Appends seg (n bytes), after a '.' if dot, to the path: whole, or not at
 * all and then the path is marked cut ("..." in messages). This runs for
 * every field and element read, so it copies bytes and formats nothing. */
static struct path_mark
path_append(struct in_ctx *c, bool dot, const char *seg, size_t n)
{
	struct path_mark mark = {c->path_len, false};
	size_t need = n + (dot ? 1 : 0);

	/* The NUL needs a byte too. */
	if (c->path_lost > 0 || need >= sizeof(c->path) - c->path_len) {
		c->path_lost++;
		mark.lost = true;
		return mark;
	}
	char *o = c->path + c->path_len;
	if (dot) {
		*o++ = '.';
	}
	memcpy(o, seg, n);
	o[n] = '\0';
	c->path_len += need;
	return mark;
}

/* key_len is strlen(key): a key with a NUL inside shows up to the NUL. */
static struct path_mark
path_push_key(struct in_ctx *c, const char *key, size_t key_len)
{
	return path_append(c, c->path_len > 0, key, key_len);
}

/* "[index]", as "[%zu]" would print it. */
static struct path_mark
path_push_index(struct in_ctx *c, size_t index)
{
	char buf[3 * sizeof(size_t) + 2];
	size_t o = sizeof(buf);

	buf[--o] = ']';
	do {
		buf[--o] = (char) ('0' + index % 10);
		index /= 10;
	} while (index > 0);
	buf[--o] = '[';
	return path_append(c, false, buf + o, sizeof(buf) - o);
}

static void
path_pop(struct in_ctx *c, struct path_mark mark)
{
	if (mark.lost) {
		c->path_lost--;
		return;
	}
	c->path_len = mark.len;
	c->path[c->path_len] = '\0';
}

static void *
in_alloc(struct in_ctx *c, size_t n)
{
	void *p = c->mem->alloc(c->mem->allocator_data, n);
	if (p == NULL) {
		fail(c, "out of memory (%zu bytes)", n);
	}
	return p;
}

static ProtobufCMessage *
new_message(struct in_ctx *c, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = in_alloc(c, d->sizeof_message);
	if (m != NULL) {
		protobuf_c_message_init(d, m);
	}
	return m;
}

/* The shortest text that reads back as d, for error messages: "1e+39"
 * rather than "9.9999999999999994e+38". */
static void
shortest_double(double d, char *buf, size_t n)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d) {
			return;
		}
	}
}

/* An integer as read from JSON, before its type's range is applied. */
struct intval {
	bool neg;
	uint64_t mag;
	const json_t *src; /* the value as written, quoted back by errors */
};

/* The JSON value j as an error message shows it: formatted only when an
 * error needs it, since nearly every number read fits its field. */
static void
show_number(const json_t *j, char *buf, size_t n)
{
	switch (json_typeof(j)) {
	case JSON_INTEGER:
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return;
	case JSON_REAL:
		shortest_double(json_real_value(j), buf, n);
		return;
	case JSON_STRING: {
		const char *s = json_string_value(j);
		size_t len = json_string_length(j);
		snprintf(
		    buf, n, "\"%.*s%s\"", PBJSON_QUOTE_MAX, s, len > PBJSON_QUOTE_MAX ? "..." : "");
		return;
	}
	default:
		buf[0] = '\0'; /* not a number: callers never ask */
		return;
	}
}

static bool
not_an_integer(struct in_ctx *c, const json_t *j)
{
	char shown[PBJSON_QUOTE_MAX + 8];
	show_number(j, shown, sizeof(shown));
	return fail(c, "%s is not an integer", shown);
}

static bool
out_of_range(struct in_ctx *c, const json_t *j, const char *tname)
{
	char shown[PBJSON_QUOTE_MAX + 8];
	show_number(j, shown, sizeof(shown));
	return fail(c, "%s is out of range for %s", shown, tname);
}

/* Plain decimal, optional '-': what every implementation prints for 64-bit
 * values. Returns 0 ok, 1 not an integer, 2 too large for 64 bits. */
static int
parse_decimal(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	uint64_t v = 0;

	*neg = false;
	if (i < n && s[i] == '-') {
		*neg = true;
		i++;
	}
	if (i == n) {
		return 1;
	}
	for (; i < n; i++) {
		if (!is_digit(s[i])) {
			return 1;
		}
		unsigned dgt = (unsigned) (s[i] - '0');
		if (v > (UINT64_MAX - dgt) / 10) {
			return 2;
		}
		v = v * 10 + dgt;
	}
	*mag = v;
	if (v == 0) {
		*neg = false; /* "-0" is 0 */
	}
	return 0;
}

/* Reads an integer written as a JSON integer, an integral JSON real (1.0,
 * 1e3) or a decimal string ("123", as 64-bit values are written). */
static bool
read_intval(struct in_ctx *c, const json_t *j, const char *tname, struct intval *v)
{
	v->neg = false;
	v->mag = 0;
	v->src = j;
	switch (json_typeof(j)) {
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(j);
		v->neg = x < 0;
		/* -(x + 1) + 1 avoids negating LLONG_MIN. */
		v->mag = x < 0 ? (uint64_t) (-(x + 1)) + 1 : (uint64_t) x;
		return true;
	}
	case JSON_REAL: {
		double x = json_real_value(j);
		double ax = x < 0 ? -x : x;
		if (!(ax < 18446744073709551616.0)) {
			return out_of_range(c, j, tname);
		}
		v->mag = (uint64_t) ax;
		if ((double) v->mag != ax) {
			return not_an_integer(c, j);
		}
		v->neg = x < 0 && v->mag != 0;
		return true;
	}
	case JSON_STRING: {
		const char *s = json_string_value(j);
		size_t n = json_string_length(j);
		int r = parse_decimal(s, n, &v->neg, &v->mag);
		if (r == 1) {
			return not_an_integer(c, j);
		}
		if (r == 2) {
			return out_of_range(c, j, tname);
		}
		return true;
	}
	default:
		return type_error(c, "a number", j);
	}
}

/* Applies the range of a type whose largest value is max_pos; signed types
 * reach down to -(max_pos + 1). */
static bool
intval_check(
    struct in_ctx *c, const struct intval *v, bool is_signed, uint64_t max_pos, const char *tname)
{
	bool ok = v->neg ? (is_signed && v->mag - 1 <= max_pos) : v->mag <= max_pos;
	if (!ok) {
		return out_of_range(c, v->src, tname);
	}
	return true;
}

static int64_t
intval_signed(const struct intval *v)
{
	/* mag <= 2^63 here; mag - 1 fits in int64. */
	return v->neg ? -(int64_t) (v->mag - 1) - 1 : (int64_t) v->mag;
}

static bool
read_double(struct in_ctx *c, const json_t *j, double *out)
{
	switch (json_typeof(j)) {
	case JSON_INTEGER:
		*out = (double) json_integer_value(j);
		return true;
	case JSON_REAL:
		*out = json_real_value(j);
		return true;
	case JSON_STRING:
		break;
	default:
		return type_error(c, "a number", j);
	}
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
		return true;
	}
	if (strcmp(s, "Infinity") == 0) {
		*out = INFINITY;
		return true;
	}
	if (strcmp(s, "-Infinity") == 0) {
		*out = -INFINITY;
		return true;
	}
	/* A quoted number: let jansson's parser read it, which follows the JSON
	 * grammar and, unlike strtod, ignores the locale and refuses hex, "inf"
	 * and the like. Leading or trailing space would be skipped by it, so
	 * first and last characters are checked here. */
	json_t *num = NULL;
	if (n > 0 && (s[0] == '-' || is_digit(s[0])) && is_digit(s[n - 1])) {
		num = json_loadb(s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
	}
	if (num == NULL || !json_is_number(num)) {
		json_decref(num);
		return fail(c, "\"%.*s%s\" is not a number", PBJSON_QUOTE_MAX, s,
		    n > PBJSON_QUOTE_MAX ? "..." : "");
	}
	*out = json_number_value(num);
	json_decref(num);
	return true;
}

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z') {
		return ch - 'A';
	}
	if (ch >= 'a' && ch <= 'z') {
		return ch - 'a' + 26;
	}
	if (ch >= '0' && ch <= '9') {
		return ch - '0' + 52;
	}
	/* The standard and the URL-safe alphabets are both accepted. */
	if (ch == '+' || ch == '-') {
		return 62;
	}
	if (ch == '/' || ch == '_') {
		return 63;
	}
	return -1;
}

static bool
read_bytes(struct in_ctx *c, const json_t *j, ProtobufCBinaryData *out)
{
	if (!json_is_string(j)) {
		return type_error(c, "a base64 string", j);
	}
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	size_t len = n;
	size_t pad = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	/* Every character is checked before anything is allocated, and first:
	 * a stray character is the likelier mistake than a bad length. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char) s[i];
		if (b64_value(ch) < 0) {
			if (ch >= 0x20 && ch < 0x7f) {
				return fail(
				    c, "invalid base64: character '%c' at offset %zu", ch, i);
			}
			return fail(c, "invalid base64: byte 0x%02x at offset %zu", ch, i);
		}
	}
	/* Padding is optional, but when present it must complete the last
	 * group of four. */
	if (pad > 0 && n % 4 != 0) {
		return fail(c, "invalid base64: bad '=' padding");
	}
	if (len % 4 == 1) {
		return fail(c, "invalid base64: length %zu cannot encode whole bytes", len);
	}
	size_t outlen = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	out->len = 0;
	out->data = NULL;
	if (outlen == 0) {
		return true;
	}
	uint8_t *buf = in_alloc(c, outlen);
	if (buf == NULL) {
		return false;
	}
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = acc << 6 | (uint32_t) b64_value((unsigned char) s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Left-over low bits of the last character are ignored, as Python's
	 * base64 module does. */
	out->data = buf;
	out->len = o;
	return true;
}

static bool
read_enum(struct in_ctx *c, const ProtobufCEnumDescriptor *ed, const json_t *j, int32_t *out)
{
	struct intval v;

	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		size_t n = json_string_length(j);
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
		if (ev != NULL && strlen(s) == n) {
			*out = ev->value;
			return true;
		}
		/* A quoted number ("1") is what Python's json_format also takes. */
		if (parse_decimal(s, n, &v.neg, &v.mag) == 0 &&
		    (v.neg ? v.mag - 1 <= INT32_MAX : v.mag <= INT32_MAX)) {
			*out = (int32_t) intval_signed(&v);
			return true;
		}
		return fail(c, "unknown enum value \"%.*s%s\" for %s", PBJSON_QUOTE_MAX, s,
		    n > PBJSON_QUOTE_MAX ? "..." : "", ed->name);
	}
	if (!json_is_number(j)) {
		return type_error(c, "an enum name or number", j);
	}
	if (!read_intval(c, j, "enum", &v) || !intval_check(c, &v, true, INT32_MAX, "enum")) {
		return false;
	}
	/* proto3 enums are open: unknown numbers are kept, as on the wire. */
	*out = (int32_t) intval_signed(&v);
	return true;
}

/* copy_empty: store "" as an allocated copy (so the value counts as set)
 * instead of leaving the field's default pointer in place. */
static bool
read_string(struct in_ctx *c, const json_t *j, char **out, bool copy_empty)
{
	if (!json_is_string(j)) {
		return type_error(c, "a string", j);
	}
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	/* jansson only builds valid UTF-8 from text it parses, but a json_t
	 * made in code may hold anything, and "\u0000" is valid JSON that a C
	 * string cannot carry: od_utf8_valid refuses both. */
	if (!od_utf8_valid(s, n)) {
		return fail(c, "string is not valid UTF-8 or contains a NUL character");
	}
	if (n == 0 && !copy_empty) {
		return true;
	}
	char *copy = in_alloc(c, n + 1);
	if (copy == NULL) {
		return false;
	}
	memcpy(copy, s, n);
	copy[n] = '\0';
	*out = copy;
	return true;
}

static bool fill_message(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *j,
    ProtobufCMessage *m, unsigned depth);

/* One scalar, string or bytes value of field f into p (a singular member or
 * an array slot). Messages are handled by the callers, which must make the
 * new message reachable from its parent before filling it. */
static bool
read_value(
    struct in_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *j, void *p, bool copy_empty)
{
	struct intval v;
	double d;
	const char *tname = type_name(f->type);

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!read_intval(c, j, tname, &v) || !intval_check(c, &v, true, INT32_MAX, tname)) {
			return false;
		}
		*(int32_t *) p = (int32_t) intval_signed(&v);
		return true;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!read_intval(c, j, tname, &v) ||
		    !intval_check(c, &v, false, UINT32_MAX, tname)) {
			return false;
		}
		*(uint32_t *) p = (uint32_t) v.mag;
		return true;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!read_intval(c, j, tname, &v) || !intval_check(c, &v, true, INT64_MAX, tname)) {
			return false;
		}
		*(int64_t *) p = intval_signed(&v);
		return true;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!read_intval(c, j, tname, &v) ||
		    !intval_check(c, &v, false, UINT64_MAX, tname)) {
			return false;
		}
		*(uint64_t *) p = v.mag;
		return true;
	case PROTOBUF_C_TYPE_FLOAT:
		if (!read_double(c, j, &d)) {
			return false;
		}
		/* Past FLT_MAX by less than half a unit in the last place still
		 * rounds to FLT_MAX (and is how FLT_MAX is printed: 3.4028235e+38);
		 * from there on the float would be infinite. */
		if (isfinite(d) && (d >= FLOAT_ROUNDS_TO_INF || d <= -FLOAT_ROUNDS_TO_INF)) {
			char shown[32];
			shortest_double(d, shown, sizeof(shown));
			return fail(c, "%s is out of range for float", shown);
		}
		*(float *) p = (float) d;
		return true;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!read_double(c, j, &d)) {
			return false;
		}
		*(double *) p = d;
		return true;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j)) {
			return type_error(c, "true or false", j);
		}
		*(protobuf_c_boolean *) p = json_is_true(j) ? 1 : 0;
		return true;
	case PROTOBUF_C_TYPE_ENUM:
		return read_enum(c, f->descriptor, j, (int32_t *) p);
	case PROTOBUF_C_TYPE_STRING:
		return read_string(c, j, (char **) p, copy_empty);
	case PROTOBUF_C_TYPE_BYTES:
		return read_bytes(c, j, (ProtobufCBinaryData *) p);
	case PROTOBUF_C_TYPE_MESSAGE:
		break;
	}
	return fail(c, "internal error: unexpected field type %d", (int) f->type);
}

/* A singular message field: allocate, link into the parent, then fill. */
static bool
read_submessage(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *j,
    ProtobufCMessage **slot, unsigned depth)
{
	ProtobufCMessage *sub = new_message(c, f->descriptor);
	if (sub == NULL) {
		return false;
	}
	*slot = sub;
	return fill_message(c, f->descriptor, j, sub, depth + 1);
}

static bool
read_repeated(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const json_t *j,
    ProtobufCMessage *m, unsigned depth)
{
	if (!json_is_array(j)) {
		return type_error(c, "an array", j);
	}
	size_t n = json_array_size(j);
	size_t esz = elt_size(f->type);
	if (n == 0) {
		return true;
	}
	/* n is bounded by the parsed document; this only guards the product. */
	if (n > SIZE_MAX / esz) {
		return fail(c, "too many elements (%zu)", n);
	}
	char *arr = in_alloc(c, n * esz);
	if (arr == NULL) {
		return false;
	}
	memset(arr, 0, n * esz);
	size_t *count = (size_t *) ((char *) m + f->quantifier_offset);
	*(void **) ((char *) m + f->offset) = arr;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(j, i);
		struct path_mark mark = path_push_index(c, i);
		bool ok;
		if (json_is_null(e)) {
			ok = fail(c, "null is not allowed in a repeated field");
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			ProtobufCMessage *sub = new_message(c, f->descriptor);
			ok = sub != NULL;
			if (ok) {
				/* Counted before filling: free_unpacked then finds it. */
				((ProtobufCMessage **) arr)[i] = sub;
				(*count)++;
				ok = fill_message(c, f->descriptor, e, sub, depth + 1);
			}
		} else {
			ok = read_value(c, f, e, arr + i * esz, true);
			if (ok) {
				(*count)++;
			}
		}
		if (!ok) {
			return false; /* path kept for the message already written */
		}
		path_pop(c, mark);
	}
	return true;
}

static bool
read_field(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
    const json_t *j, ProtobufCMessage *m, unsigned depth)
{
	char *base = (char *) m;
	void *member = base + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return read_repeated(c, f, j, m, depth);
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
		uint32_t *which = (uint32_t *) (base + f->quantifier_offset);
		if (*which != 0 && *which != f->id) {
			const ProtobufCFieldDescriptor *other =
			    protobuf_c_message_descriptor_get_field(d, *which);
			return fail(c, "\"%s\" is already set, and belongs to the same oneof",
			    other != NULL ? other->name : "?");
		}
		/* The case is set before the value so that free_unpacked sees
		 * (and frees) a message or string stored below even on failure;
		 * until then the member holds its default, which it skips. */
		*which = f->id;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			return read_submessage(c, f, j, (ProtobufCMessage **) member, depth);
		}
		return read_value(c, f, j, member, true);
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		return read_submessage(c, f, j, (ProtobufCMessage **) member, depth);
	}
	/* proto3 "" stays the shared default; proto2 strings are copied so
	 * that an explicit "" counts as set. */
	if (!read_value(c, f, j, member, f->label != PROTOBUF_C_LABEL_NONE)) {
		return false;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING) {
		*(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
	}
	return true;
}

/* The field a JSON key names: its proto name first (a binary search), then
 * its lowerCamel name (a scan: messages have tens of fields, not
 * thousands). */
static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
	if (f != NULL) {
		return f;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (camel_equals(d->fields[i].name, key)) {
			return &d->fields[i];
		}
	}
	return NULL;
}

static bool
read_timestamp_text(
    const char *s, size_t n, int64_t *secs_out, int32_t *nanos_out, const char **why)
{
	size_t i = 0;
	unsigned v[6];
	/* YYYY-MM-DDThh:mm:ss: widths and separators */
	static const unsigned char width[6] = {4, 2, 2, 2, 2, 2};
	static const char sep[6] = {'-', '-', 'T', ':', ':', '\0'};

	*why = "expected YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)";
	for (int k = 0; k < 6; k++) {
		unsigned x = 0;
		for (unsigned w = 0; w < width[k]; w++, i++) {
			if (i >= n || !is_digit(s[i])) {
				return false;
			}
			x = x * 10 + (unsigned) (s[i] - '0');
		}
		v[k] = x;
		if (sep[k] != '\0') {
			/* RFC 3339 5.6 allows a lower-case t. */
			bool ok = i < n && (s[i] == sep[k] || (sep[k] == 'T' && s[i] == 't'));
			if (!ok) {
				return false;
			}
			i++;
		}
	}
	unsigned year = v[0];
	unsigned month = v[1];
	unsigned day = v[2];
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
		*why = "no such date";
		return false;
	}
	if (v[3] > 23 || v[4] > 59 || v[5] > 59) {
		*why = "no such time of day (leap seconds are not representable)";
		return false;
	}
	int32_t nanos = 0;
	if (i < n && s[i] == '.') {
		i++;
		unsigned digits = 0;
		while (i < n && is_digit(s[i])) {
			if (digits == 9) {
				*why = "more than 9 fractional digits";
				return false;
			}
			nanos = nanos * 10 + (s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0) {
			return false;
		}
		for (; digits < 9; digits++) {
			nanos *= 10;
		}
	}
	int64_t offset = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		i++;
		if (n - i != 5 || !is_digit(s[i]) || !is_digit(s[i + 1]) || s[i + 2] != ':' ||
		    !is_digit(s[i + 3]) || !is_digit(s[i + 4])) {
			return false;
		}
		unsigned oh = (unsigned) ((s[i] - '0') * 10 + (s[i + 1] - '0'));
		unsigned om = (unsigned) ((s[i + 3] - '0') * 10 + (s[i + 4] - '0'));
		if (oh > 23 || om > 59) {
			*why = "no such UTC offset";
			return false;
		}
		offset = sign * (int64_t) (oh * 3600 + om * 60);
		i += 5;
	} else {
		return false;
	}
	if (i != n) {
		return false;
	}
	/* Local time minus its offset is UTC. */
	int64_t secs = days_from_civil(year, month, day) * 86400 +
	    (int64_t) (v[3] * 3600 + v[4] * 60 + v[5]) - offset;
	if (secs < TS_SECONDS_MIN || secs > TS_SECONDS_MAX) {
		*why = "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z";
		return false;
	}
	*secs_out = secs;
	*nanos_out = nanos;
	return true;
}

static bool
read_timestamp(
    struct in_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fs =
	    wkt_field(d, "seconds", PROTOBUF_C_TYPE_INT64, PROTOBUF_C_LABEL_NONE);
	const ProtobufCFieldDescriptor *fn =
	    wkt_field(d, "nanos", PROTOBUF_C_TYPE_INT32, PROTOBUF_C_LABEL_NONE);
	if (fs == NULL || fn == NULL) {
		return fail(c, "descriptor %s does not have the expected fields", d->name);
	}
	if (!json_is_string(j)) {
		return type_error(c, "an RFC 3339 timestamp string", j);
	}
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	int64_t secs;
	int32_t nanos;
	const char *why;
	if (!read_timestamp_text(s, n, &secs, &nanos, &why)) {
		return fail(c, "invalid timestamp \"%.*s%s\": %s", PBJSON_QUOTE_MAX, s,
		    n > PBJSON_QUOTE_MAX ? "..." : "", why);
	}
	*(int64_t *) ((char *) m + fs->offset) = secs;
	*(int32_t *) ((char *) m + fn->offset) = nanos;
	return true;
}

static bool
read_field_mask(
    struct in_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fp =
	    wkt_field(d, "paths", PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_REPEATED);
	if (fp == NULL) {
		return fail(c, "descriptor %s does not have the expected fields", d->name);
	}
	if (!json_is_string(j)) {
		return type_error(c, "a string of comma-separated paths", j);
	}
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);
	if (n == 0) {
		return true; /* the empty mask */
	}
	size_t npaths = 1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == ',') {
			npaths++;
		} else if (!is_lower(ch) && !is_upper(ch) && !is_digit(ch) && ch != '_' &&
		    ch != '.') {
			/* Catches "name, acronym" too, which would otherwise become a
			 * path " acronym" that nothing matches. */
			return fail(c, "invalid character '%c' in field mask \"%.*s%s\"",
			    (ch >= 0x20 && ch < 0x7f) ? ch : '?', PBJSON_QUOTE_MAX, s,
			    n > PBJSON_QUOTE_MAX ? "..." : "");
		}
	}
	char **paths = in_alloc(c, npaths * sizeof(char *));
	if (paths == NULL) {
		return false;
	}
	size_t *count = (size_t *) ((char *) m + fp->quantifier_offset);
	*(char ***) ((char *) m + fp->offset) = paths;
	*count = 0;
	size_t start = 0;
	while (start <= n) {
		size_t end = start;
		size_t upper = 0;
		while (end < n && s[end] != ',') {
			upper += is_upper(s[end]);
			end++;
		}
		if (end == start) {
			return fail(c, "empty path in field mask \"%.*s%s\"", PBJSON_QUOTE_MAX, s,
			    n > PBJSON_QUOTE_MAX ? "..." : "");
		}
		/* lowerCamel -> snake: "headName" -> "head_name"; a path already
		 * in snake_case passes unchanged. */
		char *p = in_alloc(c, end - start + upper + 1);
		if (p == NULL) {
			return false;
		}
		size_t o = 0;
		for (size_t i = start; i < end; i++) {
			if (is_upper(s[i])) {
				p[o++] = '_';
				p[o++] = (char) (s[i] - 'A' + 'a');
			} else {
				p[o++] = s[i];
			}
		}
		p[o] = '\0';
		paths[(*count)++] = p;
		start = end + 1;
	}
	return true;
}

static bool
fill_message(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const json_t *j,
    ProtobufCMessage *m, unsigned depth)
{
	if (depth > PBJSON_DEPTH_MAX) {
		return fail(c, "nesting deeper than %d", PBJSON_DEPTH_MAX);
	}
	if (is_wkt(d, TIMESTAMP_NAME)) {
		return read_timestamp(c, d, j, m);
	}
	if (is_wkt(d, FIELD_MASK_NAME)) {
		return read_field_mask(c, d, j, m);
	}
	if (!json_is_object(j)) {
		return fail(c, "expected an object (%s), got %s", d->name, json_kind(j));
	}
	/* jansson's iterators take a non-const object but do not change it. */
	json_t *obj = (json_t *) j;
	for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		size_t key_len = json_object_iter_key_len(it);
		const json_t *val = json_object_iter_value(it);
		/* The path shows a key with a NUL inside up to the NUL ... */
		size_t shown_len = strlen(key);
		struct path_mark mark = path_push_key(c, key, shown_len);
		/* ... and the key matches no field: it would by its prefix. */
		const ProtobufCFieldDescriptor *f =
		    shown_len == key_len ? find_field(d, key) : NULL;
		if (f == NULL) {
			return fail(c, "unknown field for %s", d->name);
		}
		/* The same field under both spellings: which one wins is not
		 * something to guess. */
		char camel[PBJSON_NAME_MAX];
		if (!camel_name(f->name, camel, sizeof(camel))) {
			return fail(c, "field name too long");
		}
		const char *other = strcmp(key, f->name) == 0 ? camel : f->name;
		if (strcmp(other, key) != 0 && json_object_get(j, other) != NULL) {
			return fail(c, "field given twice, as \"%s\" and \"%s\"", f->name, camel);
		}
		/* null means "default": leave the field as protobuf_c_message_init
		 * made it. */
		if (!json_is_null(val) && !read_field(c, d, f, val, m, depth)) {
			return false;
		}
		path_pop(c, mark);
	}
	/* proto2 required fields have no "unset" state to fall back on. */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label != PROTOBUF_C_LABEL_REQUIRED) {
			continue;
		}
		char camel[PBJSON_NAME_MAX];
		const json_t *a = json_object_get(j, f->name);
		const json_t *b =
		    camel_name(f->name, camel, sizeof(camel)) ? json_object_get(j, camel) : NULL;
		if ((a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b))) {
			return fail(c, "missing required field \"%s\" of %s", f->name, d->name);
		}
	}
	return true;
}

static void *
sys_alloc(void *data, size_t n)
{
	(void) data;
	return malloc(n);
}

static void
sys_free(void *data, void *p)
{
	(void) data;
	free(p);
}

ProtobufCMessage *
od_pbjson_to_message(const ProtobufCMessageDescriptor *desc, const json_t *j,
    ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	/* malloc/free, as protobuf-c's own default allocator, so that
	 * protobuf_c_message_free_unpacked(msg, NULL) releases the result. */
	ProtobufCAllocator sys = {sys_alloc, sys_free, NULL};
	struct in_ctx c = {.mem = alloc != NULL ? alloc : &sys, .err = err, .errlen = errlen};

	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	if (desc == NULL || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || j == NULL) {
		fail(&c, "no message descriptor or no JSON value");
		return NULL;
	}
	ProtobufCMessage *m = new_message(&c, desc);
	if (m == NULL) {
		return NULL;
	}
	if (!fill_message(&c, desc, j, m, 1)) {
		protobuf_c_message_free_unpacked(m, c.mem);
		return NULL;
	}
	return m;
}
