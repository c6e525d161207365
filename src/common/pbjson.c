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
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtok.h"
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
	size_t esz = od_pb_field_size(f);
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
/* Input: JSON text -> message                                            */
/* ---------------------------------------------------------------------- */

/*
 * The reader pulls each value from the tokenizer (jtok.c) where the
 * message's shape expects one: there is no tree, strings are unescaped
 * straight into the message's own allocation, and a number is read from
 * its text, exactly. The first error ends the parse: the text after it is
 * not looked at.
 */

/* Path segments kept: a key and an index per message level, and spare. */
#define PBJSON_SEGS_MAX (2 * PBJSON_DEPTH_MAX + 4)

/* One step of the JSON path of the value being read: a key (unescaped) or,
 * when key is NULL, the index n of an array element. */
struct path_seg {
	const char *key;
	size_t n;
};

struct in_ctx {
	ProtobufCAllocator *mem;
	char *err;
	size_t errlen;
	bool failed;
	od_jtok tok;
	/* Keys with escapes, unescaped (the path points at them), and strings
	 * read other than into a string field: a few times the text's size at
	 * most, and usually nothing. */
	od_arena scratch;
	/* The path is formatted only when an error needs it. */
	unsigned nsegs;
	struct path_seg segs[PBJSON_SEGS_MAX];
	/* The camelCase name of a field given twice, for its error. */
	char camel[PBJSON_NAME_MAX];
	struct field_index *indexes; /* in scratch */
	/* od_pbjson_parse_each: the top-level repeated field whose elements go
	 * to each_fn as they are read (NULL: none). */
	const ProtobufCFieldDescriptor *each;
	od_pbjson_each_fn each_fn;
	void *each_arg;
};

/* The path as text: each segment whole or not at all, and none after the
 * first that does not fit (*lost: the message shows "..."). */
static size_t
format_path(const struct in_ctx *c, char out[PBJSON_PATH_MAX], bool *lost)
{
	size_t len = 0;

	*lost = false;
	out[0] = '\0';
	for (unsigned i = 0; i < c->nsegs; i++) {
		if (i >= PBJSON_SEGS_MAX) {
			*lost = true;
			break;
		}
		const struct path_seg *sg = &c->segs[i];
		char buf[3 * sizeof(size_t) + 2];
		const char *seg;
		size_t n;
		bool dot = false;
		if (sg->key != NULL) {
			/* A key with a NUL inside shows up to the NUL. */
			const char *nul = memchr(sg->key, '\0', sg->n);
			seg = sg->key;
			n = nul != NULL ? (size_t) (nul - sg->key) : sg->n;
			dot = len > 0;
		} else {
			int w = snprintf(buf, sizeof(buf), "[%zu]", sg->n);
			seg = buf;
			n = w > 0 ? (size_t) w : 0;
		}
		/* The NUL needs a byte too. */
		if (n + dot >= PBJSON_PATH_MAX - len) {
			*lost = true;
			break;
		}
		if (dot) {
			out[len++] = '.';
		}
		memcpy(out + len, seg, n);
		len += n;
		out[len] = '\0';
	}
	return len;
}

static bool fail(struct in_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error only (the deepest one: callers return at once)
 * and returns false so that callers can `return fail(...)`. The message
 * starts with the JSON path of the value read. */
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
	char path[PBJSON_PATH_MAX];
	bool lost;
	size_t used = 0;
	if (format_path(c, path, &lost) > 0 || lost) {
		int n = snprintf(c->err, c->errlen, "%s%s: ", path, lost ? "..." : "");
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

/* A syntax error the tokenizer found: its line and column, no path. */
static bool
syntax_error(struct in_ctx *c)
{
	if (c->failed) {
		return false;
	}
	c->failed = true;
	if (c->err != NULL && c->errlen > 0) {
		od_jtok_error(&c->tok, c->err, c->errlen);
	}
	return false;
}

static bool
next_value(struct in_ctx *c, od_jtok_value *v)
{
	return od_jtok_next(&c->tok, v) || syntax_error(c);
}

static void
path_push(struct in_ctx *c, const char *key, size_t n)
{
	if (c->nsegs < PBJSON_SEGS_MAX) {
		c->segs[c->nsegs].key = key;
		c->segs[c->nsegs].n = n;
	}
	c->nsegs++;
}

static void
path_pop(struct in_ctx *c)
{
	c->nsegs--;
}

static const char *
kind_name(const od_jtok_value *v)
{
	switch (v->kind) {
	case OD_JTOK_OBJECT:
		return "object";
	case OD_JTOK_ARRAY:
		return "array";
	case OD_JTOK_STRING:
		return "string";
	case OD_JTOK_NUMBER:
		return "number";
	case OD_JTOK_TRUE:
	case OD_JTOK_FALSE:
		return "boolean";
	case OD_JTOK_NULL:
		return "null";
	}
	return "?";
}

static bool
type_error(struct in_ctx *c, const char *expected, const od_jtok_value *v)
{
	return fail(c, "expected %s, got %s", expected, kind_name(v));
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

/* The text of string value v: the document's own bytes, or unescaped into
 * the scratch arena. */
static bool
string_text(struct in_ctx *c, const od_jtok_value *v, const char **s, size_t *n)
{
	if (!v->escaped) {
		*s = v->s;
		*n = v->n;
		return true;
	}
	char *buf = od_arena_alloc(&c->scratch, v->n);
	if (buf == NULL) {
		*s = "";
		*n = 0;
		return fail(c, "out of memory (%zu bytes)", v->n);
	}
	*n = od_jtok_unescape(v, buf);
	*s = buf;
	return true;
}

/* printf arguments quoting s (n bytes, not terminated) in a message: at
 * most PBJSON_QUOTE_MAX bytes of it, then "..." if it was cut. */
#define QUOTE_LEN(n) ((int) ((n) < PBJSON_QUOTE_MAX ? (n) : PBJSON_QUOTE_MAX))
#define QUOTE_CUT(n) ((n) > PBJSON_QUOTE_MAX ? "..." : "")

/* strcmp(name, key) for a key of n bytes that is not NUL-terminated and
 * has no NUL inside. */
static int
name_cmp(const char *name, const char *key, size_t n)
{
	int r = strncmp(name, key, n);
	if (r != 0) {
		return r;
	}
	/* The first n bytes of name match key's, none of them NUL. */
	return name[n] != '\0';
}

/* An integer as read from JSON, before its type's range is applied. */
struct intval {
	bool neg;
	uint64_t mag;
	/* The value as written, quoted back by errors: a number's text, or a
	 * string's (in quotes). */
	const char *src;
	size_t src_len;
	bool src_string;
};

static void
show_value(const char *s, size_t n, bool string, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s%.*s%s%s", string ? "\"" : "", QUOTE_LEN(n), s, QUOTE_CUT(n),
	    string ? "\"" : "");
}

static bool
not_an_integer(struct in_ctx *c, const struct intval *v)
{
	char shown[PBJSON_QUOTE_MAX + 8];
	show_value(v->src, v->src_len, v->src_string, shown, sizeof(shown));
	return fail(c, "%s is not an integer", shown);
}

static bool
out_of_range(struct in_ctx *c, const char *s, size_t n, bool string, const char *tname)
{
	char shown[PBJSON_QUOTE_MAX + 8];
	show_value(s, n, string, shown, sizeof(shown));
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

/* A JSON number with a fraction or an exponent (its text checked against
 * the grammar) as an integer, exactly: no double in between, so
 * 1.8446744073709551615e19 is UINT64_MAX and 1.0000000000000000001 is not
 * an integer. Returns as parse_decimal. */
static int
parse_real_integer(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0;

	*neg = false;
	*mag = 0;
	if (s[0] == '-') {
		*neg = true;
		i++;
	}
	/* The digits, integer part then fraction, are one sequence D with the
	 * decimal point after `point` of them once the exponent is applied. */
	size_t int_at = i;
	while (i < n && is_digit(s[i])) {
		i++;
	}
	size_t n_int = i - int_at;
	size_t frac_at = i;
	size_t n_frac = 0;
	if (i < n && s[i] == '.') {
		frac_at = ++i;
		while (i < n && is_digit(s[i])) {
			i++;
		}
		n_frac = i - frac_at;
	}
	int64_t exp = 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool eneg = s[++i] == '-';
		if (s[i] == '+' || s[i] == '-') {
			i++;
		}
		/* Past a million the answer no longer depends on the exponent. */
		for (; i < n; i++) {
			if (exp < 1000000) {
				exp = exp * 10 + (s[i] - '0');
			}
		}
		exp = eneg ? -exp : exp;
	}
	size_t nd = n_int + n_frac;
	/* The first and last non-zero digits of D. */
	size_t first = SIZE_MAX;
	size_t last = 0;
	for (size_t k = 0; k < nd; k++) {
		char ch = k < n_int ? s[int_at + k] : s[frac_at + k - n_int];
		if (ch != '0') {
			first = first == SIZE_MAX ? k : first;
			last = k;
		}
	}
	if (first == SIZE_MAX) {
		*neg = false; /* 0, -0.0, 0e5 */
		return 0;
	}
	int64_t point = (int64_t) n_int + exp;
	if ((int64_t) last >= point) {
		return 1; /* a non-zero digit after the point */
	}
	if (point - (int64_t) first > 20) {
		return 2; /* more than 20 integer digits */
	}
	uint64_t v = 0;
	for (int64_t k = (int64_t) first; k < point; k++) {
		unsigned dgt = 0;
		if ((size_t) k < nd) {
			size_t ku = (size_t) k;
			dgt = (unsigned) ((ku < n_int ? s[int_at + ku] : s[frac_at + ku - n_int]) -
			    '0');
		}
		if (v > (UINT64_MAX - dgt) / 10) {
			return 2;
		}
		v = v * 10 + dgt;
	}
	*mag = v;
	return 0;
}

/* Reads an integer written as a JSON number (1, 1.0, 1e3: exactly) or as a
 * decimal string ("123", as 64-bit values are written). */
static bool
read_intval(struct in_ctx *c, const od_jtok_value *j, const char *tname, struct intval *v)
{
	int r;

	v->neg = false;
	v->mag = 0;
	switch (j->kind) {
	case OD_JTOK_NUMBER:
		v->src = j->s;
		v->src_len = j->n;
		v->src_string = false;
		r = j->real ? parse_real_integer(j->s, j->n, &v->neg, &v->mag)
		            : parse_decimal(j->s, j->n, &v->neg, &v->mag);
		break;
	case OD_JTOK_STRING:
		if (!string_text(c, j, &v->src, &v->src_len)) {
			return false;
		}
		v->src_string = true;
		r = parse_decimal(v->src, v->src_len, &v->neg, &v->mag);
		break;
	default:
		return type_error(c, "a number", j);
	}
	if (r == 1) {
		return not_an_integer(c, v);
	}
	if (r == 2) {
		return out_of_range(c, v->src, v->src_len, v->src_string, tname);
	}
	return true;
}

/* Applies the range of a type whose largest value is max_pos; signed types
 * reach down to -(max_pos + 1). */
static bool
intval_check(
    struct in_ctx *c, const struct intval *v, bool is_signed, uint64_t max_pos, const char *tname)
{
	bool ok = v->neg ? (is_signed && v->mag - 1 <= max_pos) : v->mag <= max_pos;
	if (!ok) {
		return out_of_range(c, v->src, v->src_len, v->src_string, tname);
	}
	return true;
}

static int64_t
intval_signed(const struct intval *v)
{
	/* mag <= 2^63 here; mag - 1 fits in int64. */
	return v->neg ? -(int64_t) (v->mag - 1) - 1 : (int64_t) v->mag;
}

static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void
c_numeric_make(void)
{
	c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/* The double nearest to JSON number s (n bytes, checked against the
 * grammar): strtod in the C locale, whatever the program's, since JSON's
 * decimal point is '.'. */
static bool
number_to_double(struct in_ctx *c, const char *s, size_t n, double *out)
{
	char local[64];
	char *buf = n < sizeof(local) ? local : od_arena_alloc(&c->scratch, n + 1);
	if (buf == NULL) {
		return fail(c, "out of memory (%zu bytes)", n + 1);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	pthread_once(&c_numeric_once, c_numeric_make);
	if (c_numeric == (locale_t) 0) {
		return fail(c, "out of memory (the C locale, to read numbers in)");
	}
	locale_t prev = uselocale(c_numeric);
	*out = strtod(buf, NULL);
	uselocale(prev);
	return true;
}

/* A float or double: a number, or a string holding a number, "NaN",
 * "Infinity" or "-Infinity". Too large for the type is an error; too
 * small to tell from 0 reads as 0, or as the nearest subnormal. */
static bool
read_double(struct in_ctx *c, const od_jtok_value *j, bool is_float, double *out)
{
	const char *s;
	size_t n;
	bool string = j->kind == OD_JTOK_STRING;

	if (j->kind == OD_JTOK_NUMBER) {
		s = j->s;
		n = j->n;
	} else if (string) {
		if (!string_text(c, j, &s, &n)) {
			return false;
		}
		if (n == 3 && memcmp(s, "NaN", 3) == 0) {
			*out = NAN;
			return true;
		}
		if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
			*out = INFINITY;
			return true;
		}
		if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
			*out = -INFINITY;
			return true;
		}
		/* A quoted number follows the JSON grammar too: no spaces, no
		 * hex, no "inf". */
		bool real;
		if (n == 0 || od_jtok_number(s, s + n, &real) != s + n) {
			return fail(c, "\"%.*s%s\" is not a number", QUOTE_LEN(n), s, QUOTE_CUT(n));
		}
	} else {
		return type_error(c, "a number", j);
	}
	double d;
	if (!number_to_double(c, s, n, &d)) {
		return false;
	}
	/* Past FLT_MAX by less than half a unit in the last place still
	 * rounds to FLT_MAX (and is how FLT_MAX is printed: 3.4028235e+38);
	 * from there on the float would be infinite. */
	if (isinf(d) || (is_float && (d >= FLOAT_ROUNDS_TO_INF || d <= -FLOAT_ROUNDS_TO_INF))) {
		return out_of_range(c, s, n, string, is_float ? "float" : "double");
	}
	*out = d;
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
read_bytes(struct in_ctx *c, const od_jtok_value *j, ProtobufCBinaryData *out)
{
	if (j->kind != OD_JTOK_STRING) {
		return type_error(c, "a base64 string", j);
	}
	const char *s;
	size_t n;
	if (!string_text(c, j, &s, &n)) {
		return false;
	}
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

/* The value of enum ed named s (n bytes, no NUL inside), or NULL: a binary
 * search of values_by_name, which protoc-c sorts by strcmp. */
static const ProtobufCEnumValue *
enum_by_name(const ProtobufCEnumDescriptor *ed, const char *s, size_t n)
{
	unsigned lo = 0;
	unsigned hi = ed->n_value_names;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int r = name_cmp(ed->values_by_name[mid].name, s, n);
		if (r == 0) {
			return &ed->values[ed->values_by_name[mid].index];
		}
		if (r < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

static bool
read_enum(struct in_ctx *c, const ProtobufCEnumDescriptor *ed, const od_jtok_value *j, int32_t *out)
{
	struct intval v;

	if (j->kind == OD_JTOK_STRING) {
		const char *s;
		size_t n;
		if (!string_text(c, j, &s, &n)) {
			return false;
		}
		const ProtobufCEnumValue *ev = j->nul ? NULL : enum_by_name(ed, s, n);
		if (ev != NULL) {
			*out = ev->value;
			return true;
		}
		/* A quoted number ("1") is what Python's json_format also takes. */
		if (parse_decimal(s, n, &v.neg, &v.mag) == 0 &&
		    (v.neg ? v.mag - 1 <= INT32_MAX : v.mag <= INT32_MAX)) {
			*out = (int32_t) intval_signed(&v);
			return true;
		}
		return fail(c, "unknown enum value \"%.*s%s\" for %s", QUOTE_LEN(n), s,
		    QUOTE_CUT(n), ed->name);
	}
	if (j->kind != OD_JTOK_NUMBER) {
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
 * instead of leaving the field's default pointer in place. The tokenizer
 * let only valid UTF-8 through; "\u0000" is valid JSON that a C string
 * cannot carry. */
static bool
read_string(struct in_ctx *c, const od_jtok_value *j, char **out, bool copy_empty)
{
	if (j->kind != OD_JTOK_STRING) {
		return type_error(c, "a string", j);
	}
	if (j->nul) {
		return fail(c, "string is not valid UTF-8 or contains a NUL character");
	}
	if (j->n == 0 && !copy_empty) {
		return true;
	}
	/* Unescaped straight into the copy: never longer than as written. */
	char *copy = in_alloc(c, j->n + 1);
	if (copy == NULL) {
		return false;
	}
	size_t n = j->n;
	if (j->escaped) {
		n = od_jtok_unescape(j, copy);
	} else {
		memcpy(copy, j->s, n);
	}
	copy[n] = '\0';
	*out = copy;
	return true;
}

static bool fill_message(struct in_ctx *c, const ProtobufCMessageDescriptor *d,
    const od_jtok_value *j, ProtobufCMessage *m, unsigned depth);

/* One scalar, string or bytes value of field f into p (a singular member or
 * an array slot). Messages are handled by the callers, which must make the
 * new message reachable from its parent before filling it. */
static bool
read_value(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const od_jtok_value *j, void *p,
    bool copy_empty)
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
		if (!read_double(c, j, true, &d)) {
			return false;
		}
		*(float *) p = (float) d;
		return true;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!read_double(c, j, false, &d)) {
			return false;
		}
		*(double *) p = d;
		return true;
	case PROTOBUF_C_TYPE_BOOL:
		if (j->kind != OD_JTOK_TRUE && j->kind != OD_JTOK_FALSE) {
			return type_error(c, "true or false", j);
		}
		*(protobuf_c_boolean *) p = j->kind == OD_JTOK_TRUE;
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
read_submessage(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const od_jtok_value *j,
    ProtobufCMessage **slot, unsigned depth)
{
	ProtobufCMessage *sub = new_message(c, f->descriptor);
	if (sub == NULL) {
		return false;
	}
	*slot = sub;
	return fill_message(c, f->descriptor, j, sub, depth + 1);
}

/* Room for one more element of a repeated field: the count is known only
 * at the ']', so the array doubles. The new array is linked before the
 * old one is freed: the message stays consistent for free_unpacked. */
static bool
grow_array(struct in_ctx *c, void **arr, size_t count, size_t esz, size_t *cap)
{
	size_t ncap = *cap == 0 ? 4 : *cap * 2;
	/* The elements are bounded by the text; this only guards the product. */
	if (ncap > SIZE_MAX / 2 / esz) {
		return fail(c, "too many elements (%zu)", count);
	}
	void *na = in_alloc(c, ncap * esz);
	if (na == NULL) {
		return false;
	}
	void *old = *arr;
	if (count > 0) {
		memcpy(na, old, count * esz);
	}
	*arr = na;
	if (old != NULL) {
		c->mem->free(c->mem->allocator_data, old);
	}
	*cap = ncap;
	return true;
}

/* One element of od_pbjson_parse_each's field (a message: the field was
 * checked), handed to the caller's function instead of the array. */
static bool
read_each(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const od_jtok_value *e, size_t i,
    unsigned depth)
{
	ProtobufCMessage *sub = new_message(c, f->descriptor);
	if (sub == NULL) {
		return false;
	}
	if (!fill_message(c, f->descriptor, e, sub, depth)) {
		protobuf_c_message_free_unpacked(sub, c->mem);
		return false;
	}
	/* From here on the element is the function's, whatever it answers. */
	if (!c->each_fn(c->each_arg, sub, i)) {
		return fail(c, "stopped by the caller");
	}
	return true;
}

static bool
read_repeated(struct in_ctx *c, const ProtobufCFieldDescriptor *f, const od_jtok_value *j,
    ProtobufCMessage *m, unsigned depth)
{
	if (j->kind != OD_JTOK_ARRAY) {
		return type_error(c, "an array", j);
	}
	size_t esz = od_pb_field_size(f);
	size_t *count = (size_t *) ((char *) m + f->quantifier_offset);
	void **arr = (void **) ((char *) m + f->offset);
	size_t cap = 0;
	bool streamed = f == c->each && depth == 1;
	for (size_t i = 0;; i++) {
		int more = od_jtok_element(&c->tok, i == 0);
		if (more <= 0) {
			return more == 0 || syntax_error(c);
		}
		if (i == cap && !streamed && !grow_array(c, arr, *count, esz, &cap)) {
			return false;
		}
		path_push(c, NULL, i);
		od_jtok_value e;
		if (!next_value(c, &e)) {
			return false;
		}
		if (e.kind == OD_JTOK_NULL) {
			return fail(c, "null is not allowed in a repeated field");
		}
		char *slot = streamed ? NULL : (char *) *arr + i * esz;
		if (streamed) {
			if (!read_each(c, f, &e, i, depth + 1)) {
				return false;
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			ProtobufCMessage *sub = new_message(c, f->descriptor);
			if (sub == NULL) {
				return false;
			}
			/* Counted before filling: free_unpacked then finds it. */
			*(ProtobufCMessage **) slot = sub;
			(*count)++;
			if (!fill_message(c, f->descriptor, &e, sub, depth + 1)) {
				return false;
			}
		} else {
			if (!read_value(c, f, &e, slot, true)) {
				return false;
			}
			(*count)++;
		}
		path_pop(c);
	}
}

static bool
read_field(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
    const od_jtok_value *j, ProtobufCMessage *m, unsigned depth)
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

/* Each message type's fields by both of their JSON names, built the first
 * time a parse meets the type (a document names the same few fields
 * hundreds of thousands of times): open addressing, at most half full. */
struct name_slot {
	const char *name; /* NULL: an empty slot */
	size_t len;
	unsigned field; /* index in d->fields */
	bool proto; /* name is the field's proto name, not its lowerCamel one */
};

enum wkt_kind { WKT_NONE, WKT_TIMESTAMP, WKT_FIELD_MASK };

struct field_index {
	const ProtobufCMessageDescriptor *d;
	struct field_index *next;
	enum wkt_kind wkt;
	bool has_required;
	size_t mask; /* slots - 1 */
	struct name_slot *slots;
};

static size_t
name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	}
	return h;
}

static const struct name_slot *
index_lookup(const struct field_index *x, const char *key, size_t n)
{
	for (size_t i = name_hash(key, n) & x->mask;; i = (i + 1) & x->mask) {
		const struct name_slot *sl = &x->slots[i];
		if (sl->name == NULL) {
			return NULL;
		}
		if (sl->len == n && memcmp(sl->name, key, n) == 0) {
			return sl;
		}
	}
}

/* A name already there keeps its field: proto names go in first, so
 * that one wins over another field's lowerCamel name, then lowerCamel
 * names in field order, as a scan would find them. */
static void
index_add(struct field_index *x, const char *name, unsigned field, bool proto)
{
	size_t len = strlen(name);
	size_t i = name_hash(name, len) & x->mask;
	while (x->slots[i].name != NULL) {
		if (x->slots[i].len == len && memcmp(x->slots[i].name, name, len) == 0) {
			return;
		}
		i = (i + 1) & x->mask;
	}
	x->slots[i] = (struct name_slot){name, len, field, proto};
}

static struct field_index *
field_index(struct in_ctx *c, const ProtobufCMessageDescriptor *d)
{
	struct field_index *x;
	for (x = c->indexes; x != NULL; x = x->next) {
		if (x->d == d) {
			return x;
		}
	}
	size_t nslots = 4;
	while (nslots < 4 * (size_t) d->n_fields) {
		nslots *= 2;
	}
	x = od_arena_alloc(&c->scratch, sizeof(*x));
	struct name_slot *slots = od_arena_alloc(&c->scratch, nslots * sizeof(*slots));
	if (x == NULL || slots == NULL) {
		fail(c, "out of memory (an index of %s)", d->name);
		return NULL;
	}
	memset(slots, 0, nslots * sizeof(*slots));
	x->d = d;
	x->wkt = is_wkt(d, TIMESTAMP_NAME) ? WKT_TIMESTAMP
	    : is_wkt(d, FIELD_MASK_NAME)   ? WKT_FIELD_MASK
	                                   : WKT_NONE;
	x->has_required = false;
	x->mask = nslots - 1;
	x->slots = slots;
	for (unsigned i = 0; i < d->n_fields; i++) {
		index_add(x, d->fields[i].name, i, true);
		x->has_required |= d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		/* lowerCamel is never longer than the proto name. */
		size_t len = strlen(d->fields[i].name);
		char *camel = od_arena_alloc(&c->scratch, len + 1);
		if (camel == NULL) {
			fail(c, "out of memory (an index of %s)", d->name);
			return NULL;
		}
		camel_name(d->fields[i].name, camel, len + 1);
		index_add(x, camel, i, false);
	}
	x->next = c->indexes;
	c->indexes = x;
	return x;
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
read_timestamp(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const od_jtok_value *j,
    ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fs =
	    wkt_field(d, "seconds", PROTOBUF_C_TYPE_INT64, PROTOBUF_C_LABEL_NONE);
	const ProtobufCFieldDescriptor *fn =
	    wkt_field(d, "nanos", PROTOBUF_C_TYPE_INT32, PROTOBUF_C_LABEL_NONE);
	if (fs == NULL || fn == NULL) {
		return fail(c, "descriptor %s does not have the expected fields", d->name);
	}
	if (j->kind != OD_JTOK_STRING) {
		return type_error(c, "an RFC 3339 timestamp string", j);
	}
	const char *s;
	size_t n;
	if (!string_text(c, j, &s, &n)) {
		return false;
	}
	int64_t secs;
	int32_t nanos;
	const char *why;
	if (!read_timestamp_text(s, n, &secs, &nanos, &why)) {
		return fail(
		    c, "invalid timestamp \"%.*s%s\": %s", QUOTE_LEN(n), s, QUOTE_CUT(n), why);
	}
	*(int64_t *) ((char *) m + fs->offset) = secs;
	*(int32_t *) ((char *) m + fn->offset) = nanos;
	return true;
}

static bool
read_field_mask(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const od_jtok_value *j,
    ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fp =
	    wkt_field(d, "paths", PROTOBUF_C_TYPE_STRING, PROTOBUF_C_LABEL_REPEATED);
	if (fp == NULL) {
		return fail(c, "descriptor %s does not have the expected fields", d->name);
	}
	if (j->kind != OD_JTOK_STRING) {
		return type_error(c, "a string of comma-separated paths", j);
	}
	const char *s;
	size_t n;
	if (!string_text(c, j, &s, &n)) {
		return false;
	}
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
			    (ch >= 0x20 && ch < 0x7f) ? ch : '?', QUOTE_LEN(n), s, QUOTE_CUT(n));
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
			return fail(c, "empty path in field mask \"%.*s%s\"", QUOTE_LEN(n), s,
			    QUOTE_CUT(n));
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

/* What one object has said about each field of its message, a bit per
 * field (by index in d->fields) in three sets: `seen` (a key named it,
 * null included), `proto` (the first key was its proto name, not its
 * lowerCamel one) and `set` (with a value other than null). */
#define MARK_WORDS_LOCAL 4 /* fields in messages of up to 256 fields */

struct field_marks {
	uint64_t *seen;
	uint64_t *proto;
	uint64_t *set;
	uint64_t local[3 * MARK_WORDS_LOCAL];
};

static bool
marks_init(struct in_ctx *c, struct field_marks *mk, unsigned n_fields)
{
	size_t words = (n_fields + 63u) / 64u;
	uint64_t *w = mk->local;
	if (words > MARK_WORDS_LOCAL) {
		w = od_arena_alloc(&c->scratch, 3 * words * sizeof(uint64_t));
		if (w == NULL) {
			return fail(c, "out of memory (%zu bytes)", 3 * words * sizeof(uint64_t));
		}
	}
	memset(w, 0, 3 * words * sizeof(uint64_t));
	mk->seen = w;
	mk->proto = w + words;
	mk->set = w + 2 * words;
	return true;
}

static bool
mark_get(const uint64_t *w, size_t i)
{
	return (w[i / 64] >> (i % 64) & 1) != 0;
}

static void
mark_put(uint64_t *w, size_t i)
{
	w[i / 64] |= (uint64_t) 1 << (i % 64);
}

/* Records that a key named field sl->field by the name in sl. A field
 * named twice is an error, whether by the same key (JSON leaves duplicate
 * keys' meaning open) or by both of its names: which one wins is not
 * something to guess. */
static bool
mark_field(struct in_ctx *c, struct field_marks *mk, const ProtobufCMessageDescriptor *d,
    const struct name_slot *sl)
{
	const ProtobufCFieldDescriptor *f = &d->fields[sl->field];

	if (!mark_get(mk->seen, sl->field)) {
		mark_put(mk->seen, sl->field);
		if (sl->proto) {
			mark_put(mk->proto, sl->field);
		}
		return true;
	}
	if (mark_get(mk->proto, sl->field) == sl->proto) {
		return fail(c, "duplicate key");
	}
	if (!camel_name(f->name, c->camel, sizeof(c->camel))) {
		return fail(c, "field name too long");
	}
	/* The error names the field where the text first gave it. */
	const char *first = sl->proto ? c->camel : f->name;
	if (c->nsegs <= PBJSON_SEGS_MAX) {
		c->segs[c->nsegs - 1].key = first;
		c->segs[c->nsegs - 1].n = strlen(first);
	}
	return fail(c, "field given twice, as \"%s\" and \"%s\"", f->name, c->camel);
}

static bool
fill_message(struct in_ctx *c, const ProtobufCMessageDescriptor *d, const od_jtok_value *j,
    ProtobufCMessage *m, unsigned depth)
{
	if (depth > PBJSON_DEPTH_MAX) {
		return fail(c, "nesting deeper than %d", PBJSON_DEPTH_MAX);
	}
	const struct field_index *x = field_index(c, d);
	if (x == NULL) {
		return false;
	}
	if (x->wkt == WKT_TIMESTAMP) {
		return read_timestamp(c, d, j, m);
	}
	if (x->wkt == WKT_FIELD_MASK) {
		return read_field_mask(c, d, j, m);
	}
	if (j->kind != OD_JTOK_OBJECT) {
		return fail(c, "expected an object (%s), got %s", d->name, kind_name(j));
	}
	struct field_marks mk;
	if (!marks_init(c, &mk, d->n_fields)) {
		return false;
	}
	for (bool first = true;; first = false) {
		od_jtok_value k;
		int more = od_jtok_member(&c->tok, first, &k);
		if (more < 0) {
			return syntax_error(c);
		}
		if (more == 0) {
			break;
		}
		const char *key;
		size_t key_len;
		if (!string_text(c, &k, &key, &key_len)) {
			return false;
		}
		path_push(c, key, key_len);
		/* A key with a NUL inside matches no field (no name has a NUL),
		 * not even the one its prefix names. */
		const struct name_slot *sl = index_lookup(x, key, key_len);
		if (sl == NULL) {
			return fail(c, "unknown field for %s", d->name);
		}
		if (!mark_field(c, &mk, d, sl)) {
			return false;
		}
		const ProtobufCFieldDescriptor *f = &d->fields[sl->field];
		od_jtok_value val;
		if (!next_value(c, &val)) {
			return false;
		}
		/* null means "default": leave the field as protobuf_c_message_init
		 * made it. */
		if (val.kind != OD_JTOK_NULL) {
			mark_put(mk.set, (size_t) (f - d->fields));
			if (!read_field(c, d, f, &val, m, depth)) {
				return false;
			}
		}
		path_pop(c);
	}
	/* proto2 required fields have no "unset" state to fall back on. */
	for (unsigned i = 0; x->has_required && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REQUIRED && !mark_get(mk.set, i)) {
			return fail(c, "missing required field \"%s\" of %s", f->name, d->name);
		}
	}
	return true;
}

ProtobufCMessage *
od_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
    ProtobufCAllocator *alloc, char *err, size_t errlen)
{
	return od_pbjson_parse_each(desc, text, len, alloc, NULL, NULL, NULL, err, errlen);
}

ProtobufCMessage *
od_pbjson_parse_each(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
    ProtobufCAllocator *alloc, const char *field, od_pbjson_each_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct in_ctx c;

	/* malloc/free, so that protobuf_c_message_free_unpacked(msg, NULL)
	 * releases the result. */
	c.mem = alloc != NULL ? alloc : &od_pb_sys_allocator;
	c.err = err;
	c.errlen = errlen;
	c.failed = false;
	c.nsegs = 0;
	c.indexes = NULL;
	c.each = NULL;
	c.each_fn = fn;
	c.each_arg = arg;
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}
	if (desc == NULL || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
	    (text == NULL && len > 0)) {
		fail(&c, "no message descriptor or no JSON text");
		return NULL;
	}
	if (field != NULL) {
		c.each = protobuf_c_message_descriptor_get_field_by_name(desc, field);
		if (c.each == NULL || c.each->label != PROTOBUF_C_LABEL_REPEATED ||
		    c.each->type != PROTOBUF_C_TYPE_MESSAGE || fn == NULL) {
			fail(&c, "%s has no repeated message field \"%s\" (or no function for it)",
			    desc->name, field);
			return NULL;
		}
	}
	ProtobufCMessage *m = new_message(&c, desc);
	if (m == NULL) {
		return NULL;
	}
	od_jtok_init(&c.tok, text, len);
	/* What the scratch arena holds is bounded by the text (see in_ctx). */
	od_arena_init(&c.scratch, SIZE_MAX);
	od_jtok_value v;
	bool ok = next_value(&c, &v) && fill_message(&c, desc, &v, m, 1) &&
	    (od_jtok_end(&c.tok) || syntax_error(&c));
	od_arena_destroy(&c.scratch);
	if (!ok) {
		protobuf_c_message_free_unpacked(m, c.mem);
		return NULL;
	}
	return m;
}
