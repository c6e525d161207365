/*
 * test_pbjson.c - the proto3 JSON mapping (src/common/pbjson.c).
 *
 * The expected JSON texts and wire bytes marked "Python" were produced by
 * Python's google.protobuf.json_format (python3-protobuf 3.21) from the same
 * .proto files, so these tests pin the mapping to the reference
 * implementation, not only to itself. Messages are built with the NULL
 * (malloc) allocator and freed with protobuf_c_message_free_unpacked, so a
 * run under valgrind also checks that every path, failing ones included,
 * frees what it took.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "od.h"
#include "orgdir/v1/resources.pb-c.h"
#include "orgdir/v1/rpc.pb-c.h"
#include "orgdir/v1/service.pb-c.h"
#include "pbjson.h"
#include "pbjsontest/all3.pb-c.h"
#include "pbjsontest/legacy2.pb-c.h"

#define TS_MIN INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define TS_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* --- helpers --------------------------------------------------------------- */

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL) {
		fail_msg("bad test JSON, line %d: %s", e.line, e.text);
	}
	return j;
}

/* text (n bytes) in a heap block of exactly n bytes, without a NUL after
 * it: a read past the end is then AddressSanitizer's to report. */
static char *
exact_copy(const char *text, size_t n)
{
	char *copy = malloc(n > 0 ? n : 1);
	assert_non_null(copy);
	if (n > 0) {
		memcpy(copy, text, n);
	}
	return copy;
}

/* Parses text (n bytes) as desc with the NULL allocator; the test fails
 * on error. */
static ProtobufCMessage *
parse_n_ok(const ProtobufCMessageDescriptor *desc, const char *text, size_t n)
{
	char err[512];
	char *copy = exact_copy(text, n);
	ProtobufCMessage *m = od_pbjson_parse(desc, copy, n, NULL, err, sizeof(err));
	free(copy);
	if (m == NULL) {
		fail_msg("parse of %.*s failed: %s", (int) n, text, err);
	}
	return m;
}

static ProtobufCMessage *
parse_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
	return parse_n_ok(desc, text, strlen(text));
}

/* The text of j as jansson writes it (compact), parsed as desc. */
static ProtobufCMessage *
parse_json(const ProtobufCMessageDescriptor *desc, const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(text);
	ProtobufCMessage *m = parse_ok(desc, text);
	free(text);
	return m;
}

/* Parses text (n bytes) as desc, which must fail with exactly `expected`. */
static void
expect_n_err(
    const ProtobufCMessageDescriptor *desc, const char *text, size_t n, const char *expected)
{
	char err[1024];
	char *copy = exact_copy(text, n);
	ProtobufCMessage *m = od_pbjson_parse(desc, copy, n, NULL, err, sizeof(err));
	free(copy);
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		fail_msg("parse of %.*s succeeded, expected \"%s\"", (int) n, text, expected);
	}
	assert_string_equal(err, expected);
}

static void
expect_err(const ProtobufCMessageDescriptor *desc, const char *text, const char *expected)
{
	expect_n_err(desc, text, strlen(text), expected);
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), *len);
	return buf;
}

static void
assert_same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la;
	size_t lb;
	uint8_t *pa = pack(a, &la);
	uint8_t *pb = pack(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(pa, pb, la);
	free(pa);
	free(pb);
}

/* message -> JSON -> message; the packed bytes must be identical. Returns
 * the JSON for the caller to inspect (and json_decref). */
static json_t *
round_trip(const ProtobufCMessage *m)
{
	json_t *j = od_pbjson_from_message(m);
	assert_non_null(j);
	ProtobufCMessage *back = parse_json(m->descriptor, j);
	assert_same_packed(m, back);
	protobuf_c_message_free_unpacked(back, NULL);
	return j;
}

static const json_t *
get(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		fail_msg("no key \"%s\"", key);
	}
	return v;
}

static const char *
str_at(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t
int_at(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* JSON text of a value, for exact comparisons of small documents. */
static void
assert_json_text(const json_t *j, const char *expected)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(s);
	assert_string_equal(s, expected);
	free(s);
}

static void
assert_json_equal_text(const json_t *j, const char *expected_text)
{
	json_t *want = load(expected_text);
	if (!json_equal((json_t *) j, want)) {
		char *got = json_dumps(j, JSON_COMPACT);
		json_decref(want);
		fail_msg("JSON differs, got %s\nwant %s", got, expected_text);
	}
	json_decref(want);
}

/* --- the Directory written by Python ----------------------------------------- */

/* json_format.MessageToJson(d) (Python) */
static const char PY_DIRECTORY_CAMEL[] =
    "{\n"
    "  \"units\": [\n"
    "    {\n"
    "      \"id\": \"wo\",\n"
    "      \"kind\": \"ORGANIZATION\",\n"
    "      \"name\": [\n"
    "        {\n"
    "          \"lang\": \"en\",\n"
    "          \"text\": \"World Organisation\"\n"
    "        },\n"
    "        {\n"
    "          \"lang\": \"fr\",\n"
    "          \"text\": \"Organisation mondiale\"\n"
    "        }\n"
    "      ],\n"
    "      \"acronym\": \"WO\",\n"
    "      \"sortOrder\": 1,\n"
    "      \"createTime\": \"2024-01-02T03:04:05Z\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"dg-office\",\n"
    "      \"parentId\": \"wo\",\n"
    "      \"kind\": \"EXECUTIVE_OFFICE\",\n"
    "      \"name\": [\n"
    "        {\n"
    "          \"lang\": \"en\",\n"
    "          \"text\": \"Office of the Director-General\"\n"
    "        }\n"
    "      ],\n"
    "      \"head\": {\n"
    "        \"title\": [\n"
    "          {\n"
    "            \"lang\": \"en\",\n"
    "            \"text\": \"Director-General\"\n"
    "          },\n"
    "          {\n"
    "            \"lang\": \"fr\",\n"
    "            \"text\": \"Directrice g\\u00e9n\\u00e9rale\"\n"
    "          }\n"
    "        ],\n"
    "        \"name\": \"Ana P\\u00e9rez\",\n"
    "        \"email\": \"dg@example.org\"\n"
    "      },\n"
    "      \"location\": {\n"
    "        \"countryCode\": \"CH\",\n"
    "        \"city\": \"Gen\\u00e8ve\"\n"
    "      },\n"
    "      \"sortOrder\": 1,\n"
    "      \"updateTime\": \"2024-03-04T05:06:07.123Z\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"field-ops\",\n"
    "      \"parentId\": \"wo\",\n"
    "      \"kind\": \"DEPARTMENT\",\n"
    "      \"name\": [\n"
    "        {\n"
    "          \"lang\": \"en\",\n"
    "          \"text\": \"Field Operations\"\n"
    "        }\n"
    "      ],\n"
    "      \"description\": [\n"
    "        {\n"
    "          \"lang\": \"en\",\n"
    "          \"text\": \"Runs the \\\"regional\\\" offices.\\nSecond line.\"\n"
    "        }\n"
    "      ],\n"
    "      \"contact\": {\n"
    "        \"phone\": \"+41 22 000 00 00\",\n"
    "        \"url\": \"https://example.org/ops\"\n"
    "      },\n"
    "      \"sortOrder\": -2,\n"
    "      \"etag\": \"W/3\"\n"
    "    }\n"
    "  ],\n"
    "  \"revision\": \"42\"\n"
    "}\n";

/* json_format.MessageToJson(d, preserving_proto_field_name=True) (Python) */
static const char PY_DIRECTORY_SNAKE[] =
    "{\n"
    "  \"units\": [\n"
    "    {\n"
    "      \"id\": \"wo\",\n"
    "      \"kind\": \"ORGANIZATION\",\n"
    "      \"name\": [\n"
    "        {\"lang\": \"en\", \"text\": \"World Organisation\"},\n"
    "        {\"lang\": \"fr\", \"text\": \"Organisation mondiale\"}\n"
    "      ],\n"
    "      \"acronym\": \"WO\",\n"
    "      \"sort_order\": 1,\n"
    "      \"create_time\": \"2024-01-02T03:04:05Z\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"dg-office\",\n"
    "      \"parent_id\": \"wo\",\n"
    "      \"kind\": \"EXECUTIVE_OFFICE\",\n"
    "      \"name\": [{\"lang\": \"en\", \"text\": \"Office of the Director-General\"}],\n"
    "      \"head\": {\n"
    "        \"title\": [\n"
    "          {\"lang\": \"en\", \"text\": \"Director-General\"},\n"
    "          {\"lang\": \"fr\", \"text\": \"Directrice g\\u00e9n\\u00e9rale\"}\n"
    "        ],\n"
    "        \"name\": \"Ana P\\u00e9rez\",\n"
    "        \"email\": \"dg@example.org\"\n"
    "      },\n"
    "      \"location\": {\"country_code\": \"CH\", \"city\": \"Gen\\u00e8ve\"},\n"
    "      \"sort_order\": 1,\n"
    "      \"update_time\": \"2024-03-04T05:06:07.123Z\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": \"field-ops\",\n"
    "      \"parent_id\": \"wo\",\n"
    "      \"kind\": \"DEPARTMENT\",\n"
    "      \"name\": [{\"lang\": \"en\", \"text\": \"Field Operations\"}],\n"
    "      \"description\": [\n"
    "        {\"lang\": \"en\", \"text\": \"Runs the \\\"regional\\\" offices.\\nSecond line.\"}\n"
    "      ],\n"
    "      \"contact\": {\"phone\": \"+41 22 000 00 00\", \"url\": \"https://example.org/ops\"},\n"
    "      \"sort_order\": -2,\n"
    "      \"etag\": \"W/3\"\n"
    "    }\n"
    "  ],\n"
    "  \"revision\": \"42\"\n"
    "}\n";

/* d.SerializeToString().hex() (Python) */
static const char PY_DIRECTORY_HEX[] =
    "0a4b0a02776f180122180a02656e1212576f726c64204f7267616e69736174696f6e221b"
    "0a02667212154f7267616e69736174696f6e206d6f6e6469616c653202574f5001620608"
    "a5facdac060aa8010a0964672d6f66666963651202776f180222240a02656e121e4f6666"
    "696365206f6620746865204469726563746f722d47656e6572616c3a510a160a02656e12"
    "104469726563746f722d47656e6572616c0a1b0a0266721215446972656374726963652067"
    "c3a96ec3a972616c65120a416e612050c3a972657a1a0e6467406578616d706c652e6f7267"
    "420d0a024348120747656ec3a8766550016a0b08bfad95af0610c0a9d33a0a97010a096669"
    "656c642d6f70731202776f180522160a02656e12104669656c64204f7065726174696f6e73"
    "2a2f0a02656e122952756e73207468652022726567696f6e616c22206f6666696365732e0a"
    "5365636f6e64206c696e652e4a2b12102b3431203232203030302030302030301a176874"
    "7470733a2f2f6578616d706c652e6f72672f6f707350feffffffffffffffff015a03572f33"
    "102a";

static void
assert_packed_hex(const ProtobufCMessage *m, const char *hex)
{
	size_t len;
	uint8_t *got = pack(m, &len);
	size_t want_max = strlen(hex) / 2;
	uint8_t *want = malloc(want_max + 1);
	assert_non_null(want);
	long n = od_hex_decode(hex, want, want_max);
	assert_true(n >= 0);
	assert_int_equal(len, (size_t) n);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static void
test_directory_written_by_python(void **state)
{
	(void) state;
	Orgdir__V1__Directory *camel = (Orgdir__V1__Directory *) parse_ok(
	    &orgdir__v1__directory__descriptor, PY_DIRECTORY_CAMEL);
	Orgdir__V1__Directory *snake = (Orgdir__V1__Directory *) parse_ok(
	    &orgdir__v1__directory__descriptor, PY_DIRECTORY_SNAKE);

	assert_int_equal(camel->revision, 42);
	assert_int_equal(camel->n_units, 3);
	Orgdir__V1__Unit *wo = camel->units[0];
	assert_string_equal(wo->id, "wo");
	assert_string_equal(wo->parent_id, "");
	assert_int_equal(wo->kind, ORGDIR__V1__UNIT__KIND__ORGANIZATION);
	assert_int_equal(wo->n_name, 2);
	assert_string_equal(wo->name[1]->lang, "fr");
	assert_string_equal(wo->name[1]->text, "Organisation mondiale");
	assert_int_equal(wo->create_time->seconds, 1704164645);
	assert_int_equal(wo->create_time->nanos, 0);
	assert_null(wo->update_time);
	assert_null(wo->head);
	Orgdir__V1__Unit *dg = camel->units[1];
	assert_string_equal(dg->parent_id, "wo");
	assert_int_equal(dg->kind, ORGDIR__V1__UNIT__KIND__EXECUTIVE_OFFICE);
	assert_string_equal(dg->head->name, "Ana P\xc3\xa9rez");
	assert_string_equal(dg->head->title[1]->text, "Directrice g\xc3\xa9n\xc3\xa9rale");
	assert_string_equal(dg->location->country_code, "CH");
	assert_string_equal(dg->location->city, "Gen\xc3\xa8ve");
	assert_int_equal(dg->update_time->seconds, 1709528767);
	assert_int_equal(dg->update_time->nanos, 123000000);
	Orgdir__V1__Unit *ops = camel->units[2];
	assert_int_equal(ops->sort_order, -2);
	assert_string_equal(
	    ops->description[0]->text, "Runs the \"regional\" offices.\nSecond line.");
	assert_string_equal(ops->contact->url, "https://example.org/ops");
	assert_string_equal(ops->contact->email, "");

	/* Both spellings give the very bytes Python serialises. */
	assert_packed_hex(&camel->base, PY_DIRECTORY_HEX);
	assert_packed_hex(&snake->base, PY_DIRECTORY_HEX);

	/* And what we print is what Python printed, key for key. */
	json_t *out = od_pbjson_from_message(&camel->base);
	assert_non_null(out);
	assert_json_equal_text(out, PY_DIRECTORY_CAMEL);
	json_decref(out);

	protobuf_c_message_free_unpacked(&camel->base, NULL);
	protobuf_c_message_free_unpacked(&snake->base, NULL);
}

/* --- Unit round trip and names ------------------------------------------------ */

static void
test_unit_round_trip(void **state)
{
	(void) state;
	Orgdir__V1__LocalizedString n_en = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString n_fr = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString d_en = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString t_en = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString t_fr = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__Head head = ORGDIR__V1__HEAD__INIT;
	Orgdir__V1__Location loc = ORGDIR__V1__LOCATION__INIT;
	Orgdir__V1__Contact contact = ORGDIR__V1__CONTACT__INIT;
	Google__Protobuf__Timestamp created = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Timestamp updated = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;

	n_en.lang = "en";
	n_en.text = "Field Operations";
	n_fr.lang = "fr";
	n_fr.text = "Op\xc3\xa9rations sur le terrain";
	d_en.lang = "en";
	d_en.text = "Tab\there, \"quotes\", emoji \xf0\x9f\x8c\x8d";
	t_en.lang = "en";
	t_en.text = "Director";
	t_fr.lang = "fr";
	t_fr.text = "Directrice";
	Orgdir__V1__LocalizedString *names[] = {&n_en, &n_fr};
	Orgdir__V1__LocalizedString *descs[] = {&d_en};
	Orgdir__V1__LocalizedString *titles[] = {&t_en, &t_fr};
	head.n_title = 2;
	head.title = titles;
	head.name = "Ana P\xc3\xa9rez";
	head.email = "ana@example.org";
	head.phone = "+41 22 000 00 01";
	loc.country_code = "CH";
	loc.city = "Gen\xc3\xa8ve";
	contact.email = "ops@example.org";
	contact.phone = "+41 22 000 00 00";
	contact.url = "https://example.org/ops";
	created.seconds = 1704164645;
	updated.seconds = 1709528767;
	updated.nanos = 123000000;
	u.id = "field-ops";
	u.parent_id = "wo";
	u.kind = ORGDIR__V1__UNIT__KIND__DEPARTMENT;
	u.n_name = 2;
	u.name = names;
	u.n_description = 1;
	u.description = descs;
	u.acronym = "FO";
	u.head = &head;
	u.location = &loc;
	u.contact = &contact;
	u.sort_order = -3;
	u.etag = "W/\"7\"";
	u.create_time = &created;
	u.update_time = &updated;

	json_t *j = round_trip(&u.base);
	assert_int_equal(json_object_size(j), 13); /* every field is set */
	assert_string_equal(str_at(j, "id"), "field-ops");
	assert_string_equal(str_at(j, "parentId"), "wo");
	assert_string_equal(str_at(j, "kind"), "DEPARTMENT");
	assert_int_equal(int_at(j, "sortOrder"), -3);
	assert_string_equal(str_at(j, "etag"), "W/\"7\"");
	assert_string_equal(str_at(j, "createTime"), "2024-01-02T03:04:05Z");
	assert_string_equal(str_at(j, "updateTime"), "2024-03-04T05:06:07.123Z");
	const json_t *h = get(j, "head");
	assert_string_equal(str_at(h, "name"), "Ana P\xc3\xa9rez");
	assert_string_equal(str_at(json_array_get(get(h, "title"), 1), "text"), "Directrice");
	assert_string_equal(str_at(get(j, "location"), "countryCode"), "CH");
	assert_string_equal(str_at(json_array_get(get(j, "description"), 0), "text"), d_en.text);
	assert_int_equal(json_array_size(get(j, "name")), 2);

	/* Field order is the .proto's (descriptor order), not alphabetical. */
	const char *order[] = {"id", "parentId", "kind", "name", "description", "acronym", "head",
	    "location", "contact", "sortOrder", "etag", "createTime", "updateTime"};
	size_t k = 0;
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val)
	{
		assert_true(k < OD_ARRAY_LEN(order));
		assert_string_equal(key, order[k]);
		k++;
	}
	json_decref(j);
}

static void
test_lower_camel_names(void **state)
{
	(void) state;
	uint8_t rid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t body[2] = {0x0a, 0x00};
	Orgdir__V1__Request r = ORGDIR__V1__REQUEST__INIT;
	r.method = "GetUnit";
	r.call_id = 7;
	r.body.len = sizeof(body);
	r.body.data = body;
	r.auth_token = "tok";
	r.deadline_ms = 1500;
	r.request_id.len = sizeof(rid);
	r.request_id.data = rid;
	r.max_reply_bytes = 65536;

	json_t *j = round_trip(&r.base);
	assert_json_text(j,
	    "{\"method\":\"GetUnit\",\"callId\":\"7\",\"body\":\"CgA=\","
	    "\"authToken\":\"tok\",\"deadlineMs\":1500,\"requestId\":\"AQIDBAUGBwg=\","
	    "\"maxReplyBytes\":65536}");
	json_decref(j);

	/* Input takes either spelling. */
	Orgdir__V1__Request *a = (Orgdir__V1__Request *) parse_ok(&orgdir__v1__request__descriptor,
	    "{\"max_reply_bytes\": 5, \"authToken\": \"x\", \"deadline_ms\": 9}");
	assert_int_equal(a->max_reply_bytes, 5);
	assert_string_equal(a->auth_token, "x");
	assert_int_equal(a->deadline_ms, 9);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	Orgdir__V1__Request *b = (Orgdir__V1__Request *) parse_ok(
	    &orgdir__v1__request__descriptor, "{\"maxReplyBytes\": 5}");
	assert_int_equal(b->max_reply_bytes, 5);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void
test_both_spellings_of_one_field_is_an_error(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__unit__descriptor, "{\"parent_id\": \"a\", \"parentId\": \"b\"}",
	    "parent_id: field given twice, as \"parent_id\" and \"parentId\"");
	expect_err(&orgdir__v1__directory__descriptor,
	    "{\"units\": [{\"sortOrder\": 1, \"sort_order\": 1}]}",
	    "units[0].sortOrder: field given twice, as \"sort_order\" and \"sortOrder\"");
}

static void
test_defaults_are_omitted(void **state)
{
	(void) state;
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	u.id = "only-id";
	json_t *j = round_trip(&u.base);
	assert_json_text(j, "{\"id\":\"only-id\"}");
	json_decref(j);

	Pbjsontest__AllTypes all = PBJSONTEST__ALL_TYPES__INIT;
	j = round_trip(&all.base);
	assert_json_text(j, "{}");
	json_decref(j);

	/* A set sub-message is printed even when all of it is default: being
	 * set is information. */
	Orgdir__V1__Head head = ORGDIR__V1__HEAD__INIT;
	u.head = &head;
	u.id = "";
	j = round_trip(&u.base);
	assert_json_text(j, "{\"head\":{}}");
	json_decref(j);

	/* null on input means "default". */
	Orgdir__V1__Unit *p = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor,
	    "{\"id\": \"x\", \"parentId\": null, \"head\": null, \"name\": null, \"kind\": null}");
	assert_string_equal(p->id, "x");
	assert_string_equal(p->parent_id, "");
	assert_null(p->head);
	assert_int_equal(p->n_name, 0);
	assert_int_equal(p->kind, 0);
	protobuf_c_message_free_unpacked(&p->base, NULL);
}

/* --- enums ----------------------------------------------------------------- */

static void
test_enum_by_name_and_number(void **state)
{
	(void) state;
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "{\"kind\": \"DIVISION\"}");
	assert_int_equal(u->kind, ORGDIR__V1__UNIT__KIND__DIVISION);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	u = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor, "{\"kind\": 5}");
	assert_int_equal(u->kind, ORGDIR__V1__UNIT__KIND__DEPARTMENT);
	json_t *j = od_pbjson_from_message(&u->base);
	assert_json_text(j, "{\"kind\":\"DEPARTMENT\"}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	u = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor, "{\"kind\": \"7\"}");
	assert_int_equal(u->kind, ORGDIR__V1__UNIT__KIND__UNIT);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	/* proto3 enums are open: a number from a newer peer survives, and goes
	 * back out as a number. */
	u = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor, "{\"kind\": 99}");
	assert_int_equal((int) u->kind, 99);
	j = round_trip(&u->base);
	assert_json_text(j, "{\"kind\":99}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	Pbjsontest__AllTypes *a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"rColor\": [\"GREEN\", 1, -4, \"RED\"]}");
	assert_int_equal(a->n_r_color, 4);
	assert_int_equal(a->r_color[0], PBJSONTEST__COLOR__GREEN);
	assert_int_equal(a->r_color[1], PBJSONTEST__COLOR__RED);
	assert_int_equal((int) a->r_color[2], -4);
	j = round_trip(&a->base);
	assert_json_text(j, "{\"rColor\":[\"GREEN\",\"RED\",-4,\"RED\"]}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void
test_enum_unknown_name_is_an_error(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__directory__descriptor,
	    "{\"units\": [{\"id\": \"a\"}, {\"id\": \"b\", \"kind\": \"DEPT\"}]}",
	    "units[1].kind: unknown enum value \"DEPT\" for orgdir.v1.Unit.Kind");
	/* Names are case-sensitive, as in every implementation. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\": \"division\"}",
	    "kind: unknown enum value \"division\" for orgdir.v1.Unit.Kind");
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\": 2147483648}",
	    "kind: 2147483648 is out of range for enum");
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\": true}",
	    "kind: expected an enum name or number, got boolean");
}

/* --- Timestamp ------------------------------------------------------------- */

static void
assert_ts_text(int64_t secs, int32_t nanos, const char *expected)
{
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = secs;
	ts.nanos = nanos;
	json_t *j = od_pbjson_from_message(&ts.base);
	if (expected == NULL) {
		assert_null(j);
		return;
	}
	assert_non_null(j);
	assert_true(json_is_string(j));
	assert_string_equal(json_string_value(j), expected);
	/* and back */
	Google__Protobuf__Timestamp *back =
	    (Google__Protobuf__Timestamp *) parse_json(&google__protobuf__timestamp__descriptor, j);
	assert_int_equal(back->seconds, secs);
	assert_int_equal(back->nanos, nanos);
	protobuf_c_message_free_unpacked(&back->base, NULL);
	json_decref(j);
}

static void
test_timestamp_format(void **state)
{
	(void) state;
	/* Arithmetic, not timegm/localtime: a local zone must change nothing. */
	setenv("TZ", "America/St_Johns", 1);
	tzset();

	assert_ts_text(0, 0, "1970-01-01T00:00:00Z");
	assert_ts_text(63108020, 21000000, "1972-01-01T10:00:20.021Z");
	assert_ts_text(1, 123456000, "1970-01-01T00:00:01.123456Z");
	assert_ts_text(1, 100, "1970-01-01T00:00:01.000000100Z");
	assert_ts_text(-1, 1, "1969-12-31T23:59:59.000000001Z");
	assert_ts_text(951782400, 0, "2000-02-29T00:00:00Z");
	assert_ts_text(4107542400, 500000000, "2100-03-01T00:00:00.500Z");
	assert_ts_text(TS_MIN, 0, "0001-01-01T00:00:00Z");
	assert_ts_text(TS_MAX, 999999999, "9999-12-31T23:59:59.999999999Z");
	/* Outside the range there is no RFC 3339 text: no JSON either. */
	assert_ts_text(TS_MAX + 1, 0, NULL);
	assert_ts_text(TS_MIN - 1, 999999999, NULL);
	assert_ts_text(0, -1, NULL);
	assert_ts_text(0, 1000000000, NULL);

	/* Inside a message. */
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 63108020;
	ts.nanos = 21000000;
	Orgdir__V1__ServerInfoResponse info = ORGDIR__V1__SERVER_INFO_RESPONSE__INIT;
	info.start_time = &ts;
	json_t *j = round_trip(&info.base);
	assert_json_text(j, "{\"startTime\":\"1972-01-01T10:00:20.021Z\"}");
	json_decref(j);
	/* ... which fails as a whole when the time cannot be written. */
	ts.seconds = TS_MAX + 1;
	assert_null(od_pbjson_from_message(&info.base));

	unsetenv("TZ");
	tzset();
}

static void
assert_ts_parse(const char *text, int64_t secs, int32_t nanos)
{
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\"", text);
	Google__Protobuf__Timestamp *ts = (Google__Protobuf__Timestamp *) parse_ok(
	    &google__protobuf__timestamp__descriptor, quoted);
	assert_int_equal(ts->seconds, secs);
	assert_int_equal(ts->nanos, nanos);
	protobuf_c_message_free_unpacked(&ts->base, NULL);
}

static void
assert_ts_bad(const char *text, const char *why)
{
	char json[256];
	char want[256];
	snprintf(json, sizeof(json), "{\"createTime\": \"%s\"}", text);
	snprintf(want, sizeof(want), "createTime: invalid timestamp \"%s\": %s", text, why);
	expect_err(&orgdir__v1__unit__descriptor, json, want);
}

static void
test_timestamp_parse(void **state)
{
	(void) state;
	static const char *const form = "expected YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)";

	setenv("TZ", "Asia/Kathmandu", 1);
	tzset();
	assert_ts_parse("1972-01-01T10:00:20.021Z", 63108020, 21000000);
	assert_ts_parse("1972-01-01T11:00:20.021+01:00", 63108020, 21000000);
	assert_ts_parse("1972-01-01T04:30:20.5-05:30", 63108020, 500000000);
	assert_ts_parse("1972-01-02T09:59:20.021+23:59", 63108020, 21000000);
	assert_ts_parse("1970-01-01t00:00:00.000000001z", 0, 1);
	assert_ts_parse("1970-01-01T00:00:00.123456Z", 0, 123456000);
	assert_ts_parse("1969-12-31T23:59:59Z", -1, 0);
	assert_ts_parse("2000-02-29T00:00:00Z", 951782400, 0);
	assert_ts_parse("0001-01-01T00:00:00Z", TS_MIN, 0);
	assert_ts_parse("0001-01-01T00:59:00+00:59", TS_MIN, 0);
	assert_ts_parse("9999-12-31T23:59:59.999999999Z", TS_MAX, 999999999);
	assert_ts_parse("9999-12-31T23:00:59.999999999-00:59", TS_MAX, 999999999);

	assert_ts_bad("2023-02-29T00:00:00Z", "no such date");
	assert_ts_bad("2024-04-31T00:00:00Z", "no such date");
	assert_ts_bad("2024-13-01T00:00:00Z", "no such date");
	assert_ts_bad(
	    "2024-01-02T24:00:00Z", "no such time of day (leap seconds are not representable)");
	assert_ts_bad(
	    "2016-12-31T23:59:60Z", "no such time of day (leap seconds are not representable)");
	assert_ts_bad("2024-01-02T03:04:05.1234567890Z", "more than 9 fractional digits");
	assert_ts_bad("2024-01-02T03:04:05+24:00", "no such UTC offset");
	assert_ts_bad("0001-01-01T00:00:00+00:01",
	    "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z");
	assert_ts_bad("9999-12-31T23:59:59-00:01",
	    "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z");
	assert_ts_bad("0000-12-31T23:59:59Z",
	    "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z");
	assert_ts_bad("2024-01-02 03:04:05Z", form);
	assert_ts_bad("2024-01-02T03:04:05", form);
	assert_ts_bad("2024-01-02T03:04:05.Z", form);
	assert_ts_bad("2024-01-02T03:04:05+0100", form);
	assert_ts_bad("2024-1-02T03:04:05Z", form);
	assert_ts_bad("10000-01-01T00:00:00Z", form);
	assert_ts_bad("2024-01-02T03:04:05Z ", form);
	assert_ts_bad("", form);
	expect_err(&orgdir__v1__unit__descriptor, "{\"createTime\": 1704164645}",
	    "createTime: expected an RFC 3339 timestamp string, got number");
	expect_err(&orgdir__v1__unit__descriptor, "{\"createTime\": {\"seconds\": 1}}",
	    "createTime: expected an RFC 3339 timestamp string, got object");
	unsetenv("TZ");
	tzset();
}

/* --- FieldMask ------------------------------------------------------------- */

static void
test_field_mask_both_ways(void **state)
{
	(void) state;
	char *paths[] = {"head.name", "parent_id", "sort_order", "a_1", "location"};
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	mask.n_paths = 3;
	mask.paths = paths;
	Orgdir__V1__Unit unit = ORGDIR__V1__UNIT__INIT;
	unit.id = "x";
	Orgdir__V1__UpdateUnitRequest req = ORGDIR__V1__UPDATE_UNIT_REQUEST__INIT;
	req.unit = &unit;
	req.update_mask = &mask;

	json_t *j = round_trip(&req.base);
	/* Python: MessageToJson(m, indent=None) */
	assert_json_equal_text(
	    j, "{\"unit\": {\"id\": \"x\"}, \"updateMask\": \"head.name,parentId,sortOrder\"}");
	json_decref(j);

	/* A path camelCase cannot spell ("a_1") is kept as written both ways. */
	mask.n_paths = 5;
	j = round_trip(&req.base);
	assert_string_equal(str_at(j, "updateMask"), "head.name,parentId,sortOrder,a_1,location");
	json_decref(j);

	/* The empty mask is a set mask with no paths. */
	mask.n_paths = 0;
	j = round_trip(&req.base);
	assert_string_equal(str_at(j, "updateMask"), "");
	json_decref(j);

	Orgdir__V1__UpdateUnitRequest *p =
	    (Orgdir__V1__UpdateUnitRequest *) parse_ok(&orgdir__v1__update_unit_request__descriptor,
	        "{\"updateMask\": \"headName,head.name,sortOrder,head.title,parent_id\"}");
	assert_non_null(p->update_mask);
	assert_int_equal(p->update_mask->n_paths, 5);
	assert_string_equal(p->update_mask->paths[0], "head_name");
	assert_string_equal(p->update_mask->paths[1], "head.name");
	assert_string_equal(p->update_mask->paths[2], "sort_order");
	assert_string_equal(p->update_mask->paths[3], "head.title");
	assert_string_equal(p->update_mask->paths[4], "parent_id");
	protobuf_c_message_free_unpacked(&p->base, NULL);

	p = (Orgdir__V1__UpdateUnitRequest *) parse_ok(
	    &orgdir__v1__update_unit_request__descriptor, "{\"update_mask\": \"\"}");
	assert_non_null(p->update_mask);
	assert_int_equal(p->update_mask->n_paths, 0);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	expect_err(&orgdir__v1__update_unit_request__descriptor,
	    "{\"updateMask\": \"name, acronym\"}",
	    "updateMask: invalid character ' ' in field mask \"name, acronym\"");
	expect_err(&orgdir__v1__update_unit_request__descriptor,
	    "{\"updateMask\": \"name,,acronym\"}",
	    "updateMask: empty path in field mask \"name,,acronym\"");
	expect_err(&orgdir__v1__update_unit_request__descriptor, "{\"updateMask\": \"name,\"}",
	    "updateMask: empty path in field mask \"name,\"");
	expect_err(&orgdir__v1__update_unit_request__descriptor, "{\"updateMask\": [\"name\"]}",
	    "updateMask: expected a string of comma-separated paths, got array");
}

/* --- numbers ---------------------------------------------------------------- */

static void
test_int64_as_string(void **state)
{
	(void) state;
	Orgdir__V1__Directory d = ORGDIR__V1__DIRECTORY__INIT;
	d.revision = UINT64_MAX;
	json_t *j = round_trip(&d.base);
	assert_json_text(j, "{\"revision\":\"18446744073709551615\"}");
	json_decref(j);

	Pbjsontest__AllTypes a = PBJSONTEST__ALL_TYPES__INIT;
	a.f_int64 = INT64_MIN;
	a.f_sint64 = -5;
	a.f_sfixed64 = INT64_MAX;
	a.f_fixed64 = 12345678901234567890u;
	j = round_trip(&a.base);
	assert_json_text(j,
	    "{\"fInt64\":\"-9223372036854775808\",\"fSint64\":\"-5\","
	    "\"fFixed64\":\"12345678901234567890\",\"fSfixed64\":\"9223372036854775807\"}");
	json_decref(j);

	/* Input: strings or numbers. */
	Pbjsontest__AllTypes *p =
	    (Pbjsontest__AllTypes *) parse_ok(&pbjsontest__all_types__descriptor,
	        "{\"fInt64\": -42, \"fUint64\": \"18446744073709551615\", \"fSint64\": \"-0\","
	        " \"fFixed64\": 1e3, \"f_sfixed64\": \"-9223372036854775808\"}");
	assert_int_equal(p->f_int64, -42);
	assert_true(p->f_uint64 == UINT64_MAX);
	assert_int_equal(p->f_sint64, 0);
	assert_int_equal(p->f_fixed64, 1000);
	assert_true(p->f_sfixed64 == INT64_MIN);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	expect_err(&pbjsontest__all_types__descriptor, "{\"fUint64\": \"18446744073709551616\"}",
	    "fUint64: \"18446744073709551616\" is out of range for uint64");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fUint64\": -1}",
	    "fUint64: -1 is out of range for uint64");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": \"-9223372036854775809\"}",
	    "fInt64: \"-9223372036854775809\" is out of range for int64");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": \"12a\"}",
	    "fInt64: \"12a\" is not an integer");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": \" 12\"}",
	    "fInt64: \" 12\" is not an integer");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": \"\"}",
	    "fInt64: \"\" is not an integer");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": 1.5}",
	    "fInt64: 1.5 is not an integer");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fInt64\": 1e19}",
	    "fInt64: 1e19 is out of range for int64");
}

static void
test_int32_out_of_range(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 4294967296}",
	    "sortOrder: 4294967296 is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 2147483648}",
	    "sortOrder: 2147483648 is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": -2147483649}",
	    "sortOrder: -2147483649 is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": \"3000000000\"}",
	    "sortOrder: \"3000000000\" is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 2.5}",
	    "sortOrder: 2.5 is not an integer");
	expect_err(&orgdir__v1__request__descriptor, "{\"deadlineMs\": -1}",
	    "deadlineMs: -1 is out of range for uint32");
	expect_err(&orgdir__v1__request__descriptor, "{\"deadlineMs\": 4294967296}",
	    "deadlineMs: 4294967296 is out of range for uint32");

	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "{\"sortOrder\": 2147483647}");
	assert_int_equal(u->sort_order, INT32_MAX);
	protobuf_c_message_free_unpacked(&u->base, NULL);
	u = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "{\"sortOrder\": \"-2147483648\"}");
	assert_int_equal(u->sort_order, INT32_MIN);
	protobuf_c_message_free_unpacked(&u->base, NULL);
	u = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 1e2}");
	assert_int_equal(u->sort_order, 100);
	protobuf_c_message_free_unpacked(&u->base, NULL);
	u = (Orgdir__V1__Unit *) parse_ok(&orgdir__v1__unit__descriptor, "{\"sortOrder\": -7.0}");
	assert_int_equal(u->sort_order, -7);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	Orgdir__V1__Request *r = (Orgdir__V1__Request *) parse_ok(
	    &orgdir__v1__request__descriptor, "{\"deadlineMs\": 4294967295}");
	assert_int_equal(r->deadline_ms, UINT32_MAX);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void
test_floats_and_doubles(void **state)
{
	(void) state;
	double rd[] = {1.5, INFINITY, -INFINITY, NAN, -0.25};
	Pbjsontest__AllTypes a = PBJSONTEST__ALL_TYPES__INIT;
	a.f_float = 0.1f;
	a.f_double = 1e300;
	a.n_r_double = OD_ARRAY_LEN(rd);
	a.r_double = rd;
	json_t *j = round_trip(&a.base);
	/* 0.1f goes out as 0.1, not 0.100000001490116. */
	assert_true(json_real_value(get(j, "fFloat")) == 0.1);
	assert_true(json_real_value(get(j, "fDouble")) == 1e300);
	const json_t *r = get(j, "rDouble");
	assert_true(json_real_value(json_array_get(r, 0)) == 1.5);
	assert_string_equal(json_string_value(json_array_get(r, 1)), "Infinity");
	assert_string_equal(json_string_value(json_array_get(r, 2)), "-Infinity");
	assert_string_equal(json_string_value(json_array_get(r, 3)), "NaN");
	json_decref(j);

	Pbjsontest__AllTypes *p = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor,
	    "{\"fFloat\": \"NaN\", \"fDouble\": \"-2.5e-3\", \"rDouble\": [1, \"Infinity\", 2.5]}");
	assert_true(isnan(p->f_float));
	assert_true(p->f_double == -2.5e-3);
	assert_int_equal(p->n_r_double, 3);
	assert_true(p->r_double[0] == 1.0);
	assert_true(isinf(p->r_double[1]) && p->r_double[1] > 0);
	assert_true(p->r_double[2] == 2.5);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	/* FLT_MAX prints as 3.4028235e+38, a little above it: still a float. */
	p = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"fFloat\": 3.4028235e+38}");
	assert_true(p->f_float == FLT_MAX);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	expect_err(&pbjsontest__all_types__descriptor, "{\"fFloat\": -3.4028236e+38}",
	    "fFloat: -3.4028236e+38 is out of range for float");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fFloat\": 1e39}",
	    "fFloat: 1e39 is out of range for float");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fDouble\": \"0x10\"}",
	    "fDouble: \"0x10\" is not a number");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fDouble\": \" 1.5\"}",
	    "fDouble: \" 1.5\" is not a number");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fDouble\": \"inf\"}",
	    "fDouble: \"inf\" is not a number");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fDouble\": \"1e999\"}",
	    "fDouble: \"1e999\" is out of range for double");
	expect_err(&pbjsontest__all_types__descriptor, "{\"fBool\": \"true\"}",
	    "fBool: expected true or false, got string");
}

/* Every scalar type, at its extremes, repeated and not, through the trip. */
static void
test_all_types_round_trip(void **state)
{
	(void) state;
	int32_t ri[] = {INT32_MIN, -1, 0, INT32_MAX};
	uint64_t ru[] = {0, UINT64_MAX};
	protobuf_c_boolean rb[] = {1, 0, 1};
	char *rs[] = {"", "x", "\xe2\x82\xac"};
	uint8_t b0[] = {0xff};
	uint8_t b1[] = {'h', 'i', '!'};
	ProtobufCBinaryData rby[] = {{sizeof(b0), b0}, {0, NULL}, {sizeof(b1), b1}};
	Pbjsontest__Color rc[] = {PBJSONTEST__COLOR__RED, PBJSONTEST__COLOR__COLOR_UNSPECIFIED};
	Pbjsontest__Node leaf = PBJSONTEST__NODE__INIT;
	Pbjsontest__Node mid = PBJSONTEST__NODE__INIT;
	Pbjsontest__Node empty = PBJSONTEST__NODE__INIT;
	leaf.value = -9;
	mid.child = &leaf;
	Pbjsontest__Node *rn[] = {&mid, &empty};
	Pbjsontest__AllTypes a = PBJSONTEST__ALL_TYPES__INIT;

	a.f_int32 = INT32_MIN;
	a.f_int64 = INT64_MIN;
	a.f_uint32 = UINT32_MAX;
	a.f_uint64 = UINT64_MAX;
	a.f_sint32 = INT32_MAX;
	a.f_sint64 = INT64_MAX;
	a.f_fixed32 = UINT32_MAX;
	a.f_fixed64 = UINT64_MAX;
	a.f_sfixed32 = INT32_MIN;
	a.f_sfixed64 = INT64_MIN;
	a.f_float = -FLT_MAX;
	a.f_double = DBL_MIN;
	a.f_bool = 1;
	a.f_string = "caf\xc3\xa9";
	a.f_bytes.len = sizeof(b1);
	a.f_bytes.data = b1;
	a.f_color = PBJSONTEST__COLOR__GREEN;
	a.f_node = &mid;
	a.n_r_int32 = OD_ARRAY_LEN(ri);
	a.r_int32 = ri;
	a.n_r_uint64 = OD_ARRAY_LEN(ru);
	a.r_uint64 = ru;
	a.n_r_bool = OD_ARRAY_LEN(rb);
	a.r_bool = rb;
	a.n_r_string = OD_ARRAY_LEN(rs);
	a.r_string = rs;
	a.n_r_bytes = OD_ARRAY_LEN(rby);
	a.r_bytes = rby;
	a.n_r_color = OD_ARRAY_LEN(rc);
	a.r_color = rc;
	a.n_r_node = OD_ARRAY_LEN(rn);
	a.r_node = rn;
	a.choice_case = PBJSONTEST__ALL_TYPES__CHOICE_O_BYTES;
	a.o_bytes.len = sizeof(b0);
	a.o_bytes.data = b0;

	json_t *j = round_trip(&a.base);
	assert_int_equal(int_at(j, "fInt32"), INT32_MIN);
	assert_string_equal(str_at(j, "fInt64"), "-9223372036854775808");
	assert_int_equal(int_at(j, "fUint32"), UINT32_MAX);
	assert_string_equal(str_at(j, "fUint64"), "18446744073709551615");
	assert_int_equal(int_at(j, "fSint32"), INT32_MAX);
	assert_string_equal(str_at(j, "fSint64"), "9223372036854775807");
	assert_int_equal(int_at(j, "fFixed32"), UINT32_MAX);
	assert_string_equal(str_at(j, "fFixed64"), "18446744073709551615");
	assert_int_equal(int_at(j, "fSfixed32"), INT32_MIN);
	assert_string_equal(str_at(j, "fSfixed64"), "-9223372036854775808");
	assert_true(json_is_true(get(j, "fBool")));
	assert_string_equal(str_at(j, "fString"), "caf\xc3\xa9");
	assert_string_equal(str_at(j, "fBytes"), "aGkh");
	assert_string_equal(str_at(j, "fColor"), "GREEN");
	assert_json_text(get(j, "fNode"), "{\"child\":{\"value\":-9}}");
	assert_json_text(get(j, "rInt32"), "[-2147483648,-1,0,2147483647]");
	assert_json_text(get(j, "rUint64"), "[\"0\",\"18446744073709551615\"]");
	assert_json_text(get(j, "rBool"), "[true,false,true]");
	assert_json_text(get(j, "rString"), "[\"\",\"x\",\"\xe2\x82\xac\"]");
	assert_json_text(get(j, "rBytes"), "[\"/w==\",\"\",\"aGkh\"]");
	assert_json_text(get(j, "rColor"), "[\"RED\",\"COLOR_UNSPECIFIED\"]");
	assert_json_text(get(j, "rNode"), "[{\"child\":{\"value\":-9}},{}]");
	assert_string_equal(str_at(j, "oBytes"), "/w==");
	json_decref(j);
}

/* --- bytes ----------------------------------------------------------------- */

static void
test_bytes_base64_round_trip(void **state)
{
	(void) state;
	static const uint8_t want_rid[] = {250, 251, 252, 253, 254, 255, 0, 1, 251, 255};
	/* Python: MessageToJson(req, indent=None) */
	static const char py[] = "{\"method\": \"GetUnit\", \"callId\": \"9223372036854775813\","
	                         " \"body\": \"CgJ3bw==\", \"requestId\": \"+vv8/f7/AAH7/w==\", "
	                         "\"maxReplyBytes\": 65536}";

	Orgdir__V1__Request *r =
	    (Orgdir__V1__Request *) parse_ok(&orgdir__v1__request__descriptor, py);
	assert_int_equal(r->request_id.len, sizeof(want_rid));
	assert_memory_equal(r->request_id.data, want_rid, sizeof(want_rid));
	assert_int_equal(r->body.len, 4);
	assert_memory_equal(r->body.data, "\x0a\x02wo", 4);
	assert_true(r->call_id == UINT64_C(9223372036854775813));
	json_t *j = round_trip(&r->base);
	assert_json_equal_text(j, py);
	json_decref(j);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* URL-safe alphabet, padding optional. */
	r = (Orgdir__V1__Request *) parse_ok(&orgdir__v1__request__descriptor,
	    "{\"requestId\": \"-vv8_f7_AAH7_w\", \"body\": \"CgJ3bw\"}");
	assert_int_equal(r->request_id.len, sizeof(want_rid));
	assert_memory_equal(r->request_id.data, want_rid, sizeof(want_rid));
	assert_int_equal(r->body.len, 4);
	assert_memory_equal(r->body.data, "\x0a\x02wo", 4);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Every length mod 3. */
	static const char *const enc[] = {"", "YQ==", "YWI=", "YWJj", "YWJjZA=="};
	for (size_t n = 0; n < OD_ARRAY_LEN(enc); n++) {
		uint8_t data[4] = {'a', 'b', 'c', 'd'};
		Orgdir__V1__Request q = ORGDIR__V1__REQUEST__INIT;
		q.request_id.len = n;
		q.request_id.data = n > 0 ? data : NULL;
		j = round_trip(&q.base);
		if (n == 0) {
			assert_json_text(j, "{}");
		} else {
			assert_string_equal(str_at(j, "requestId"), enc[n]);
		}
		json_decref(j);
	}

	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"abc*\"}",
	    "requestId: invalid base64: character '*' at offset 3");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"ab=c\"}",
	    "requestId: invalid base64: character '=' at offset 2");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"abcde\"}",
	    "requestId: invalid base64: length 5 cannot encode whole bytes");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"abc==\"}",
	    "requestId: invalid base64: bad '=' padding");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"YQ=\"}",
	    "requestId: invalid base64: bad '=' padding");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"YW Jj\"}",
	    "requestId: invalid base64: character ' ' at offset 2");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": \"\\u00e9AAA\"}",
	    "requestId: invalid base64: byte 0xc3 at offset 0");
	expect_err(&orgdir__v1__request__descriptor, "{\"requestId\": 12}",
	    "requestId: expected a base64 string, got number");
}

/* --- errors and paths --------------------------------------------------------- */

static void
test_unknown_field_error_names_the_path(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__directory__descriptor,
	    "{\"units\": [{\"id\": \"a\"}, {\"id\": \"b\", \"name\": [{\"lang\": \"en\", \"txt\": "
	    "\"x\"}]}]}",
	    "units[1].name[0].txt: unknown field for orgdir.v1.LocalizedString");
	expect_err(&orgdir__v1__unit__descriptor, "{\"colour\": \"red\"}",
	    "colour: unknown field for orgdir.v1.Unit");
	/* Neither PascalCase nor any other near miss is guessed at. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"ParentId\": \"x\"}",
	    "ParentId: unknown field for orgdir.v1.Unit");
	expect_err(&orgdir__v1__unit__descriptor, "{\"parentid\": \"x\"}",
	    "parentid: unknown field for orgdir.v1.Unit");
}

static void
test_type_mismatch_error(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__directory__descriptor,
	    "{\"units\": [{}, {}, {}, {\"name\": [{\"lang\": 3, \"text\": \"x\"}]}]}",
	    "units[3].name[0].lang: expected a string, got number");
	expect_err(&orgdir__v1__unit__descriptor, "{\"name\": {\"lang\": \"en\"}}",
	    "name: expected an array, got object");
	expect_err(&orgdir__v1__unit__descriptor, "{\"head\": \"Ana\"}",
	    "head: expected an object (orgdir.v1.Head), got string");
	expect_err(&orgdir__v1__unit__descriptor, "{\"name\": [null]}",
	    "name[0]: null is not allowed in a repeated field");
	expect_err(&orgdir__v1__unit__descriptor, "{\"name\": [{}, \"en\"]}",
	    "name[1]: expected an object (orgdir.v1.LocalizedString), got string");
	expect_err(
	    &orgdir__v1__unit__descriptor, "{\"id\": [\"a\"]}", "id: expected a string, got array");
	expect_err(
	    &orgdir__v1__unit__descriptor, "[]", "expected an object (orgdir.v1.Unit), got array");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": false}",
	    "sortOrder: expected a number, got boolean");
}

static void
test_strings_must_be_utf8_without_nul(void **state)
{
	(void) state;

	/* "\u0000" is valid JSON; a C string cannot carry it. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"id\": \"a\\u0000b\"}",
	    "id: string is not valid UTF-8 or contains a NUL character");
	/* Invalid UTF-8 is not JSON at all: the tokenizer refuses it, where it
	 * is. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"acronym\": \"\xff\xfe\"}",
	    "line 1, column 14: invalid UTF-8 in a string");
	/* A key with a NUL inside does not match the field its prefix names. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"id\\u0000x\": \"a\"}",
	    "id: unknown field for orgdir.v1.Unit");

	/* protobuf-c lets invalid UTF-8 through on unpack; JSON cannot carry
	 * it, so the conversion fails instead of printing a broken document. */
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	u.id = "\xc3\x28";
	assert_null(od_pbjson_from_message(&u.base));
}

/* {"child": {"child": ... {"value": 1} ... }}, `levels` objects deep; the
 * caller frees it. */
static char *
nested_nodes(unsigned levels)
{
	static const char open[] = "{\"child\": ";
	static const char leaf[] = "{\"value\": 1}";
	size_t len = (levels - 1) * (sizeof(open) - 1 + 1) + sizeof(leaf);
	char *text = malloc(len);
	assert_non_null(text);
	size_t o = 0;
	for (unsigned i = 1; i < levels; i++) {
		memcpy(text + o, open, sizeof(open) - 1);
		o += sizeof(open) - 1;
	}
	memcpy(text + o, leaf, sizeof(leaf) - 1);
	o += sizeof(leaf) - 1;
	for (unsigned i = 1; i < levels; i++) {
		text[o++] = '}';
	}
	text[o] = '\0';
	return text;
}

static void
test_nesting_cap(void **state)
{
	(void) state;
	char err[1024];

	/* 64 message levels (the root is one) are accepted ... */
	char *text = nested_nodes(64);
	Pbjsontest__Node *n = (Pbjsontest__Node *) parse_ok(&pbjsontest__node__descriptor, text);
	free(text);
	unsigned levels = 1;
	const Pbjsontest__Node *p = n;
	for (; p->child != NULL; p = p->child) {
		levels++;
	}
	assert_int_equal(levels, 64);
	assert_int_equal(p->value, 1);
	/* ... and go back out. */
	json_t *j = od_pbjson_from_message(&n->base);
	assert_non_null(j);
	json_decref(j);

	/* ... 65 are not, and the error names where. */
	text = nested_nodes(65);
	assert_null(od_pbjson_parse(
	    &pbjsontest__node__descriptor, text, strlen(text), NULL, err, sizeof(err)));
	free(text);
	char want[1024];
	size_t o = 0;
	for (int i = 0; i < 64; i++) {
		o += (size_t) snprintf(want + o, sizeof(want) - o, "%schild", i > 0 ? "." : "");
	}
	snprintf(want + o, sizeof(want) - o, ": nesting deeper than 64");
	assert_string_equal(err, want);

	/* A bomb far deeper fails the same way, without recursing into it. */
	text = nested_nodes(100000);
	assert_null(od_pbjson_parse(
	    &pbjsontest__node__descriptor, text, strlen(text), NULL, err, sizeof(err)));
	assert_non_null(strstr(err, ": nesting deeper than 64"));
	free(text);

	/* Output has the same cap: a 65-level message gives no JSON. */
	Pbjsontest__Node top = PBJSONTEST__NODE__INIT;
	top.child = n;
	assert_null(od_pbjson_from_message(&top.base));
	protobuf_c_message_free_unpacked(&n->base, NULL);
}

static void
test_long_paths_are_cut_not_overrun(void **state)
{
	(void) state;
	char key[700];
	char text[800];
	char err[1024];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"head\": {\"%s\": 1}}", key);
	size_t n = strlen(text);
	assert_null(
	    od_pbjson_parse(&orgdir__v1__unit__descriptor, text, n, NULL, err, sizeof(err)));
	assert_string_equal(err, "head...: unknown field for orgdir.v1.Head");

	/* A short buffer gets a cut, terminated message; NULL gets none. */
	char small[8];
	memset(small, 'x', sizeof(small));
	assert_null(
	    od_pbjson_parse(&orgdir__v1__unit__descriptor, text, n, NULL, small, sizeof(small)));
	assert_string_equal(small, "head...");
	assert_null(od_pbjson_parse(&orgdir__v1__unit__descriptor, text, n, NULL, NULL, 0));
}

/* expect_err has room for a message longer than the 512-byte path. */
#define expect_long_err expect_err

/* The path is built by hand, not by snprintf: a segment that just fits
 * is kept whole, one byte more is cut to "...", and indices of any width
 * come out as snprintf's "[%zu]" would. */
static void
test_path_segment_that_just_fits_is_kept(void **state)
{
	(void) state;
	char key[600];
	char text[800];
	char want[800];

	/* 512 bytes of path: 511 characters and the NUL. */
	memset(key, 'k', 511);
	key[511] = '\0';
	snprintf(text, sizeof(text), "{\"%s\": 1}", key);
	snprintf(want, sizeof(want), "%s: unknown field for orgdir.v1.Unit", key);
	expect_long_err(&orgdir__v1__unit__descriptor, text, want);
	key[511] = 'k';
	key[512] = '\0';
	snprintf(text, sizeof(text), "{\"%s\": 1}", key);
	expect_long_err(
	    &orgdir__v1__unit__descriptor, text, "...: unknown field for orgdir.v1.Unit");

	/* Below a field, the dot counts too: "head." and 506 characters fit. */
	key[506] = '\0';
	snprintf(text, sizeof(text), "{\"head\": {\"%s\": 1}}", key);
	snprintf(want, sizeof(want), "head.%s: unknown field for orgdir.v1.Head", key);
	expect_long_err(&orgdir__v1__unit__descriptor, text, want);
	key[506] = 'k';
	key[507] = '\0';
	snprintf(text, sizeof(text), "{\"head\": {\"%s\": 1}}", key);
	expect_long_err(
	    &orgdir__v1__unit__descriptor, text, "head...: unknown field for orgdir.v1.Head");

	/* Indices of one to four digits. */
	static const size_t at[] = {0, 9, 10, 99, 100, 1000};
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		size_t len = 32 + 4 * at[k];
		char *doc = malloc(len);
		assert_non_null(doc);
		size_t o = (size_t) snprintf(doc, len, "{\"units\": [");
		for (size_t i = 0; i < at[k]; i++) {
			o += (size_t) snprintf(doc + o, len - o, "{}, ");
		}
		snprintf(doc + o, len - o, "{\"bogus\": 1}]}");
		snprintf(want, sizeof(want), "units[%zu].bogus: unknown field for orgdir.v1.Unit",
		    at[k]);
		expect_err(&orgdir__v1__directory__descriptor, doc, want);
		free(doc);
	}
}

/* A number that does not fit is quoted back as it was written (a number
 * as its text, a string in quotes), cut after 64 characters, and
 * formatted only then. */
static void
test_integer_errors_quote_the_value_as_written(void **state)
{
	(void) state;
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": -9223372036854775808}",
	    "sortOrder: -9223372036854775808 is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 1e300}",
	    "sortOrder: 1e300 is out of range for int32");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": 0.1}",
	    "sortOrder: 0.1 is not an integer");
	expect_err(&orgdir__v1__unit__descriptor, "{\"sortOrder\": -4e9}",
	    "sortOrder: -4e9 is out of range for int32");
	expect_err(&orgdir__v1__request__descriptor, "{\"deadlineMs\": \"-5\"}",
	    "deadlineMs: \"-5\" is out of range for uint32");
	expect_err(
	    &orgdir__v1__unit__descriptor, "{\"kind\": 1.25}", "kind: 1.25 is not an integer");
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\": -2147483649}",
	    "kind: -2147483649 is out of range for enum");
	/* 64 characters are quoted whole; 65 are cut. */
	expect_err(&pbjsontest__all_types__descriptor,
	    "{\"fInt64\": \"1234567890123456789012345678901234567890123456789012345678901234\"}",
	    "fInt64: \"1234567890123456789012345678901234567890123456789012345678901234\" is out "
	    "of range for int64");
	expect_err(&pbjsontest__all_types__descriptor,
	    "{\"fInt64\": \"12345678901234567890123456789012345678901234567890123456789012345\"}",
	    "fInt64: \"1234567890123456789012345678901234567890123456789012345678901234...\" is "
	    "out of range for int64");
	expect_err(&pbjsontest__all_types__descriptor,
	    "{\"fUint32\": "
	    "\"x234567890123456789012345678901234567890123456789012345678901234567\"}",
	    "fUint32: \"x234567890123456789012345678901234567890123456789012345678901234...\" is "
	    "not an integer");
}

/* --- oneof and proto2 ------------------------------------------------------- */

static void
test_oneof(void **state)
{
	(void) state;
	Pbjsontest__AllTypes *a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"oString\": \"\"}");
	/* A chosen member is set even at its default value. */
	assert_int_equal(a->choice_case, PBJSONTEST__ALL_TYPES__CHOICE_O_STRING);
	assert_string_equal(a->o_string, "");
	json_t *j = round_trip(&a->base);
	assert_json_text(j, "{\"oString\":\"\"}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&a->base, NULL);

	a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"o_string\": null, \"oInt64\": \"0\"}");
	assert_int_equal(a->choice_case, PBJSONTEST__ALL_TYPES__CHOICE_O_INT64);
	assert_int_equal(a->o_int64, 0);
	j = round_trip(&a->base);
	assert_json_text(j, "{\"oInt64\":\"0\"}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&a->base, NULL);

	a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"oNode\": {\"child\": {\"value\": 3}}}");
	assert_int_equal(a->choice_case, PBJSONTEST__ALL_TYPES__CHOICE_O_NODE);
	assert_int_equal(a->o_node->child->value, 3);
	protobuf_c_message_free_unpacked(&a->base, NULL);

	expect_err(&pbjsontest__all_types__descriptor, "{\"oString\": \"a\", \"oInt64\": \"1\"}",
	    "oInt64: \"o_string\" is already set, and belongs to the same oneof");
	/* A failure inside a chosen message member frees it (valgrind). */
	expect_err(&pbjsontest__all_types__descriptor,
	    "{\"oNode\": {\"child\": {\"value\": \"x\"}}}",
	    "oNode.child.value: \"x\" is not an integer");
}

static void
test_proto2_optional_and_required(void **state)
{
	(void) state;
	int32_t vals[] = {-1, 1};
	Pbjsontest__Legacy l = PBJSONTEST__LEGACY__INIT;
	l.has_count = 1;
	l.count = 0;
	l.key = 7;
	l.has_flag = 1;
	l.flag = 0;
	l.n_values = 2;
	l.values = vals;
	/* has_ says set: 0 and false are printed; the default label is not. */
	json_t *j = round_trip(&l.base);
	assert_json_text(j, "{\"count\":0,\"key\":\"7\",\"flag\":false,\"values\":[-1,1]}");
	json_decref(j);

	Pbjsontest__Legacy *p =
	    (Pbjsontest__Legacy *) parse_ok(&pbjsontest__legacy__descriptor, "{\"key\": \"-3\"}");
	assert_int_equal(p->key, -3);
	assert_false(p->has_count);
	assert_false(p->has_flag);
	assert_true(p->flag); /* [default = true] */
	assert_string_equal(p->label, "none");
	j = round_trip(&p->base);
	assert_json_text(j, "{\"key\":\"-3\"}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	p = (Pbjsontest__Legacy *) parse_ok(&pbjsontest__legacy__descriptor,
	    "{\"key\": 0, \"label\": \"\", \"count\": 5, \"flag\": true}");
	assert_true(p->has_count);
	assert_int_equal(p->count, 5);
	assert_true(p->has_flag);
	assert_string_equal(p->label, "");
	j = round_trip(&p->base);
	assert_json_text(j, "{\"count\":5,\"label\":\"\",\"key\":\"0\",\"flag\":true}");
	json_decref(j);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	expect_err(&pbjsontest__legacy__descriptor, "{\"count\": 5}",
	    "missing required field \"key\" of pbjsontest.Legacy");
	expect_err(&pbjsontest__legacy__descriptor, "{\"key\": null, \"label\": \"x\"}",
	    "missing required field \"key\" of pbjsontest.Legacy");
}

/* --- the JSON text ------------------------------------------------------------ */

struct bad_text {
	const char *text;
	const char *err;
};

/* Each kind of syntax error, with where it is: line and column (characters,
 * from 1) of the byte that is wrong, or of the string's opening quote. */
static void
test_syntax_errors_say_line_and_column(void **state)
{
	(void) state;
	static const struct bad_text cases[] = {
	    {"", "line 1, column 1: expected a value, got the end of the text"},
	    {" \n\t", "line 2, column 2: expected a value, got the end of the text"},
	    {"{", "line 1, column 2: expected a key or '}', got the end of the text"},
	    {"{\"units\": [", "line 1, column 12: expected a value, got the end of the text"},
	    {"{\"revision\": 1", "line 1, column 15: expected ',' or '}', got the end of the text"},
	    {"{\"units\": [{}", "line 1, column 14: expected ',' or ']', got the end of the text"},
	    {"{,}", "line 1, column 2: expected a key or '}', got ','"},
	    {"{'units': []}", "line 1, column 2: expected a key or '}', got '''"},
	    {"{units: []}", "line 1, column 2: expected a key or '}', got 'u'"},
	    {"{\"units\" []}", "line 1, column 10: expected ':' after the key, got '['"},
	    {"{\"units\": [] \"revision\": 1}", "line 1, column 14: expected ',' or '}', got '\"'"},
	    {"{\"units\": [{} {}]}", "line 1, column 15: expected ',' or ']', got '{'"},
	    /* Trailing commas, comments. */
	    {"{\"units\": [],}",
	        "line 1, column 14: expected a key, got '}' (JSON has no trailing commas)"},
	    {"{\"units\": [{},]}",
	        "line 1, column 15: expected a value, got ']' (JSON has no trailing commas)"},
	    {"{\"units\": [,]}", "line 1, column 12: expected a value, got ','"},
	    {"// a comment\n{}",
	        "line 1, column 1: expected a value, got '/' (JSON has no comments)"},
	    {"{\"revision\": /* 1 */ 2}",
	        "line 1, column 14: expected a value, got '/' (JSON has no comments)"},
	    /* Numbers. */
	    {"{\"revision\": 01}", "line 1, column 14: leading zeros are not allowed in a number"},
	    {"{\"revision\": -01}", "line 1, column 15: leading zeros are not allowed in a number"},
	    {"{\"revision\": 00}", "line 1, column 14: leading zeros are not allowed in a number"},
	    {"{\"revision\": -}", "line 1, column 15: expected a digit after '-'"},
	    {"{\"revision\": +1}", "line 1, column 14: expected a value, got '+'"},
	    {"{\"revision\": .5}", "line 1, column 14: expected a value, got '.'"},
	    {"{\"revision\": 1.}", "line 1, column 16: expected a digit after '.' in a number"},
	    {"{\"revision\": 1.e3}", "line 1, column 16: expected a digit after '.' in a number"},
	    {"{\"revision\": 1e}",
	        "line 1, column 16: expected a digit in the exponent of a number"},
	    {"{\"revision\": 1e+}",
	        "line 1, column 17: expected a digit in the exponent of a number"},
	    {"{\"revision\": 1x}", "line 1, column 15: expected ',' or '}', got 'x'"},
	    {"{\"revision\": 0x10}", "line 1, column 15: expected ',' or '}', got 'x'"},
	    {"{\"revision\": NaN}",
	        "line 1, column 14: expected a value, got 'N' (NaN and "
	        "Infinity are written as strings)"},
	    {"{\"revision\": -Infinity}", "line 1, column 15: expected a digit after '-'"},
	    /* Words. */
	    {"{\"units\": tru}",
	        "line 1, column 11: expected a value, got 't' (JSON's words are "
	        "true, false and null)"},
	    {"{\"units\": True}", "line 1, column 11: expected a value, got 'T'"},
	    {"{\"units\": nul",
	        "line 1, column 11: expected a value, got 'n' (JSON's words are "
	        "true, false and null)"},
	    /* Strings. */
	    {"{\"units\": [{\"id\": \"abc", "line 1, column 19: unterminated string"},
	    {"{\"units\": [{\"id\": \"abc\\", "line 1, column 19: unterminated string"},
	    {"{\"units\": [{\"id\": \"a\\qb\"}]}",
	        "line 1, column 21: invalid escape '\\q' in a string"},
	    {"{\"units\": [{\"id\": \"a\\x41\"}]}",
	        "line 1, column 21: invalid escape '\\x' in a string"},
	    {"{\"units\": [{\"id\": \"\\u12\"}]}",
	        "line 1, column 20: invalid \\u escape: expected 4 hex digits"},
	    {"{\"units\": [{\"id\": \"\\u12g4\"}]}",
	        "line 1, column 20: invalid \\u escape: expected 4 hex digits"},
	    {"{\"units\": [{\"id\": \"\\ud800\"}]}",
	        "line 1, column 20: lone high surrogate in a \\u escape"},
	    {"{\"units\": [{\"id\": \"\\uDBFFx\"}]}",
	        "line 1, column 20: lone high surrogate in a \\u escape"},
	    {"{\"units\": [{\"id\": \"\\ud800\\u0041\"}]}",
	        "line 1, column 20: lone high surrogate in a \\u escape"},
	    {"{\"units\": [{\"id\": \"\\ud800\\ud800\"}]}",
	        "line 1, column 20: lone high surrogate in a \\u escape"},
	    {"{\"units\": [{\"id\": \"x\\udc00\"}]}",
	        "line 1, column 21: lone low surrogate in a \\u escape"},
	    {"{\"units\": [{\"id\": \"a\tb\"}]}",
	        "line 1, column 21: control character 0x09 in a string (escape it: \\u0009)"},
	    {"{\"units\": [{\"id\": \"a\nb\"}]}",
	        "line 1, column 21: control character 0x0a in a string (escape it: \\u000a)"},
	    /* Keys are strings like any other. */
	    {"{\"un\\its\": []}", "line 1, column 5: invalid escape '\\i' in a string"},
	    {"{\"units\\u00\": []}", "line 1, column 8: invalid \\u escape: expected 4 hex digits"},
	    /* One value, then only whitespace. */
	    {"{} x", "line 1, column 4: expected the end of the text after the value, got 'x'"},
	    {"{}{}", "line 1, column 3: expected the end of the text after the value, got '{'"},
	    {"{}\n\n  ]",
	        "line 3, column 3: expected the end of the text after the value, got ']'"},
	    {"{},", "line 1, column 3: expected the end of the text after the value, got ','"},
	    /* Lines count '\n', columns count characters (not bytes), from 1. */
	    {"{\n  \"units\": [\n    {\"id\": \"a\",\n     \"kind\": \"OFFICE\",, }]}",
	        "line 4, column 23: expected a key, got ','"},
	    {"{\"units\": [{\"id\": \"\xe6\x97\xa5\xe6\x9c\xac\"x}]}",
	        "line 1, column 23: expected ',' or '}', got 'x'"},
	    {"{\r\n\"units\": [}", "line 2, column 11: expected a value, got '}'"},
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		expect_err(&orgdir__v1__directory__descriptor, cases[i].text, cases[i].err);
	}
	/* A NUL byte in the text is a control character, in a string or not. */
	expect_n_err(&orgdir__v1__unit__descriptor, "{\"id\": \"a\0b\"}", 13,
	    "line 1, column 10: control character 0x00 in a string (escape it: \\u0000)");
	expect_n_err(&orgdir__v1__unit__descriptor, "{}\0", 3,
	    "line 1, column 3: expected the end of the text after the value, got byte 0x00");
	/* len is the end, whatever follows it in memory. */
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) parse_n_ok(
	    &orgdir__v1__unit__descriptor, "{\"id\": \"a\"} trailing", 11);
	assert_string_equal(u->id, "a");
	protobuf_c_message_free_unpacked(&u->base, NULL);
}

/* Every escape, surrogate pairs included, in values and in keys; the text
 * of a string without escapes is copied as it is. */
static void
test_string_escapes(void **state)
{
	(void) state;
	Pbjsontest__AllTypes *a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor,
	    "{\"fString\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0041\\u00e9\\u20AC\\ud83d\\ude00"
	    "\\uD834\\uDD1E \\u007f\\u0001\","
	    " \"rString\": [\"\", \"plain\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\\\\\"]}");
	assert_string_equal(a->f_string,
	    "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9d\x84\x9e \x7f\x01");
	assert_int_equal(a->n_r_string, 4);
	assert_string_equal(a->r_string[0], "");
	assert_string_equal(a->r_string[1], "plain");
	assert_string_equal(a->r_string[2], "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_string_equal(a->r_string[3], "\\");
	protobuf_c_message_free_unpacked(&a->base, NULL);

	/* Escaped keys name fields as they read once unescaped, and errors
	 * show them so. */
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "{\"\\u0069d\": \"x\", \"parent\\u005fid\": \"p\"}");
	assert_string_equal(u->id, "x");
	assert_string_equal(u->parent_id, "p");
	protobuf_c_message_free_unpacked(&u->base, NULL);
	expect_err(&orgdir__v1__unit__descriptor, "{\"p\\u0061rentId\": 5}",
	    "parentId: expected a string, got number");

	/* \u0000 is valid JSON, but a string field cannot hold a NUL: the
	 * mapping refuses it, wherever it is. */
	expect_err(&orgdir__v1__unit__descriptor, "{\"acronym\": \"\\u0000\"}",
	    "acronym: string is not valid UTF-8 or contains a NUL character");
	expect_err(&orgdir__v1__directory__descriptor,
	    "{\"units\": [{\"name\": [{\"lang\": \"en\", \"text\": \"a\\u0000\"}]}]}",
	    "units[0].name[0].text: string is not valid UTF-8 or contains a NUL character");
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\": \"OFFICE\\u0000\"}",
	    "kind: unknown enum value \"OFFICE\" for orgdir.v1.Unit.Kind");
	expect_err(&orgdir__v1__unit__descriptor, "{\"kind\\u0000\": \"OFFICE\"}",
	    "kind: unknown field for orgdir.v1.Unit");

	/* Escapes reach the values the mapping reads from strings too. */
	Orgdir__V1__Request *r = (Orgdir__V1__Request *) parse_ok(&orgdir__v1__request__descriptor,
	    "{\"callId\": \"\\u0031\\u0032\", \"requestId\": \"YW\\u004aj\", \"method\": "
	    "\"\\u00e9\"}");
	assert_true(r->call_id == 12);
	assert_int_equal(r->request_id.len, 3);
	assert_memory_equal(r->request_id.data, "abc", 3);
	assert_string_equal(r->method, "\xc3\xa9");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	Orgdir__V1__Unit *k = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "{\"kind\": \"\\u004fFFICE\"}");
	assert_int_equal(k->kind, ORGDIR__V1__UNIT__KIND__OFFICE);
	protobuf_c_message_free_unpacked(&k->base, NULL);
}

/* The text is not trusted: invalid UTF-8 is refused wherever it is, keys
 * included, as a syntax error at the bad byte. */
static void
test_invalid_utf8_is_refused(void **state)
{
	(void) state;
	static const struct bad_text cases[] = {
	    {"{\"id\": \"\xff\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    {"{\"id\": \"ab\x80\"}", "line 1, column 11: invalid UTF-8 in a string"},
	    /* Overlong forms, a surrogate, past U+10FFFF, cut short. */
	    {"{\"id\": \"\xc0\xaf\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    {"{\"id\": \"\xe0\x80\xaf\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    {"{\"id\": \"\xed\xa0\x80\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    {"{\"id\": \"\xf4\x90\x80\x80\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    {"{\"id\": \"\xe2\x82\"}", "line 1, column 9: invalid UTF-8 in a string"},
	    /* After good multi-byte characters: columns count characters. */
	    {"{\"id\": \"\xc3\xa9\xe2\x82\xac\xe2\x82\"}",
	        "line 1, column 11: invalid UTF-8 in a string"},
	    /* Keys, even of fields that do not exist. */
	    {"{\"\xff\": 1}", "line 1, column 3: invalid UTF-8 in a string"},
	    {"{\"i\xc3\": 1}", "line 1, column 4: invalid UTF-8 in a string"},
	    /* Outside strings, any non-ASCII byte is simply not JSON. */
	    {"{\"id\": \xc3\xa9}", "line 1, column 8: expected a value, got byte 0xc3"},
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		expect_err(&orgdir__v1__unit__descriptor, cases[i].text, cases[i].err);
	}
	/* Deep in a long string: the 8-byte scan finds it too. */
	char doc[256];
	snprintf(doc, sizeof(doc),
	    "{\"units\": [{\"id\": \"a\"}, {\"name\": [{\"lang\": \"en\", \"text\": "
	    "\"abcdefghijklmnopqrstuvwxyz0123456789%s\"}]}]}",
	    "\xf0\x9f\x98");
	expect_err(&orgdir__v1__directory__descriptor, doc,
	    "line 1, column 95: invalid UTF-8 in a string");
}

/* Numbers are read from their text: integers exactly, whatever their
 * spelling; doubles as the nearest value. */
static void
test_numbers_are_read_exactly(void **state)
{
	(void) state;
	Pbjsontest__AllTypes *a =
	    (Pbjsontest__AllTypes *) parse_ok(&pbjsontest__all_types__descriptor,
	        "{\"fUint64\": 18446744073709551615, \"fInt64\": -9223372036854775808,"
	        " \"fSint64\": 9007199254740993, \"fSfixed64\": 9007199254740993.0,"
	        " \"fFixed64\": 1.8446744073709551615e19, \"fInt32\": -0, \"fUint32\": -0.0e5,"
	        " \"fSint32\": 0.5e1, \"fFixed32\": 1234567890000000000000000e-15,"
	        " \"fSfixed32\": 0e99999999999999999999, \"fDouble\": 1e-400, \"fFloat\": -0}");
	assert_true(a->f_uint64 == UINT64_MAX);
	assert_true(a->f_int64 == INT64_MIN);
	/* A double would have made these 9007199254740992. */
	assert_true(a->f_sint64 == INT64_C(9007199254740993));
	assert_true(a->f_sfixed64 == INT64_C(9007199254740993));
	assert_true(a->f_fixed64 == UINT64_MAX);
	assert_int_equal(a->f_int32, 0);
	assert_int_equal(a->f_uint32, 0);
	assert_int_equal(a->f_sint32, 5);
	assert_int_equal(a->f_fixed32, 1234567890);
	assert_int_equal(a->f_sfixed32, 0);
	assert_true(a->f_double == 0.0); /* underflow: the nearest double */
	assert_true(a->f_float == 0.0f);
	protobuf_c_message_free_unpacked(&a->base, NULL);

	a = (Pbjsontest__AllTypes *) parse_ok(&pbjsontest__all_types__descriptor,
	    "{\"fDouble\": 2.2250738585072014e-308, \"rDouble\": [0.1, -1.5E+2, 5e-324,"
	    " 1.7976931348623157e308, \"1E2\", \"-0.0\", 123456789012345678901234567890]}");
	assert_true(a->f_double == DBL_MIN);
	assert_int_equal(a->n_r_double, 7);
	assert_true(a->r_double[0] == 0.1);
	assert_true(a->r_double[1] == -150.0);
	assert_true(a->r_double[2] == 5e-324);
	assert_true(a->r_double[3] == DBL_MAX);
	assert_true(a->r_double[4] == 100.0);
	assert_true(a->r_double[5] == 0.0 && signbit(a->r_double[5]));
	assert_true(a->r_double[6] == 123456789012345678901234567890.0);
	protobuf_c_message_free_unpacked(&a->base, NULL);

	static const struct bad_text cases[] = {
	    {"{\"fUint64\": 18446744073709551616}",
	        "fUint64: 18446744073709551616 is out of range for uint64"},
	    {"{\"fInt64\": 9223372036854775808}",
	        "fInt64: 9223372036854775808 is out of range for int64"},
	    {"{\"fUint64\": 1.8446744073709551616e19}",
	        "fUint64: 1.8446744073709551616e19 is out of range for uint64"},
	    {"{\"fUint64\": 100000000000000000000000000000000000000000}",
	        "fUint64: 100000000000000000000000000000000000000000 is out of range for uint64"},
	    {"{\"fInt32\": 1e400}", "fInt32: 1e400 is out of range for int32"},
	    {"{\"fDouble\": 1e400}", "fDouble: 1e400 is out of range for double"},
	    {"{\"fDouble\": -1e400}", "fDouble: -1e400 is out of range for double"},
	    {"{\"fInt32\": 1e-400}", "fInt32: 1e-400 is not an integer"},
	    {"{\"fInt64\": 1.0000000000000000001}",
	        "fInt64: 1.0000000000000000001 is not an integer"},
	    {"{\"fInt64\": 9007199254740993.5}", "fInt64: 9007199254740993.5 is not an integer"},
	    {"{\"fInt32\": 5e-1}", "fInt32: 5e-1 is not an integer"},
	    /* A number in a string follows the JSON grammar too. */
	    {"{\"fDouble\": \"01\"}", "fDouble: \"01\" is not a number"},
	    {"{\"fDouble\": \"1.\"}", "fDouble: \"1.\" is not a number"},
	    {"{\"fDouble\": \"\"}", "fDouble: \"\" is not a number"},
	    {"{\"fInt64\": \"1e3\"}", "fInt64: \"1e3\" is not an integer"},
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		expect_err(&pbjsontest__all_types__descriptor, cases[i].text, cases[i].err);
	}
}

/* JSON leaves the meaning of a key given twice open; every object here is
 * a message, and a field given twice is refused however it is spelt. */
static void
test_duplicate_keys_are_refused(void **state)
{
	(void) state;
	static const struct bad_text cases[] = {
	    {"{\"id\": \"a\", \"id\": \"a\"}", "id: duplicate key"},
	    {"{\"id\": null, \"kind\": 1, \"id\": \"b\"}", "id: duplicate key"},
	    {"{\"id\": \"a\", \"\\u0069d\": \"b\"}", "id: duplicate key"},
	    {"{\"parentId\": \"a\", \"parentId\": \"b\"}", "parentId: duplicate key"},
	    {"{\"name\": [], \"name\": []}", "name: duplicate key"},
	    {"{\"head\": {\"name\": \"x\", \"name\": \"y\"}}", "head.name: duplicate key"},
	    /* Both spellings, null or not: named where the text first gave it. */
	    {"{\"sortOrder\": null, \"sort_order\": 1}",
	        "sortOrder: field given twice, as \"sort_order\" and \"sortOrder\""},
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		expect_err(&orgdir__v1__unit__descriptor, cases[i].text, cases[i].err);
	}
	/* The same key in two objects is no duplicate. */
	Orgdir__V1__Directory *d = (Orgdir__V1__Directory *) parse_ok(
	    &orgdir__v1__directory__descriptor,
	    "{\"units\": [{\"id\": \"a\", \"head\": {\"name\": \"x\"}}, {\"id\": \"b\", \"head\": "
	    "{\"name\": \"y\"}}]}");
	assert_int_equal(d->n_units, 2);
	assert_string_equal(d->units[1]->head->name, "y");
	protobuf_c_message_free_unpacked(&d->base, NULL);
}

/* The mapping has no use for an array in an array, and the reader stops
 * at the first one: 100,000 '[' cost no stack (nor do 100,000 '{', which
 * stop at the nesting cap or sooner). */
static void
test_deep_arrays_do_not_recurse(void **state)
{
	(void) state;
	size_t n = 100000;
	char *text = malloc(n + 16);
	assert_non_null(text);
	memcpy(text, "{\"units\": ", 10);
	memset(text + 10, '[', n);
	expect_n_err(&orgdir__v1__directory__descriptor, text, 10 + n,
	    "units[0]: expected an object (orgdir.v1.Unit), got array");
	memcpy(text, "{\"rInt32\":", 10);
	expect_n_err(&pbjsontest__all_types__descriptor, text, 10 + n,
	    "rInt32[0]: expected a number, got array");
	memset(text, '[', n);
	expect_n_err(&orgdir__v1__directory__descriptor, text, n,
	    "expected an object (orgdir.v1.Directory), got array");
	memset(text, '{', n);
	expect_n_err(&orgdir__v1__directory__descriptor, text, n,
	    "line 1, column 2: expected a key or '}', got '{'");
	free(text);
}

/* A UTF-8 byte order mark opening the text is skipped (RFC 8259 8.1 lets
 * a parser ignore it, and Windows editors write one); anywhere else it is
 * not JSON. Lines and columns count from after it. */
static void
test_byte_order_mark(void **state)
{
	(void) state;
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) parse_ok(
	    &orgdir__v1__unit__descriptor, "\xef\xbb\xbf{\"id\": \"bom\"}");
	assert_string_equal(u->id, "bom");
	protobuf_c_message_free_unpacked(&u->base, NULL);
	expect_err(&orgdir__v1__unit__descriptor, "\xef\xbb\xbf{\"id\" 1}",
	    "line 1, column 7: expected ':' after the key, got '1'");
	expect_err(&orgdir__v1__unit__descriptor, "\xef\xbb\xbf\xef\xbb\xbf{}",
	    "line 1, column 1: expected a value, got byte 0xef");
	expect_err(&orgdir__v1__unit__descriptor, " \xef\xbb\xbf{}",
	    "line 1, column 2: expected a value, got byte 0xef");
	expect_err(&orgdir__v1__unit__descriptor, "\xef\xbb\xbf",
	    "line 1, column 1: expected a value, got the end of the text");
	/* UTF-16 is not UTF-8. */
	expect_n_err(&orgdir__v1__unit__descriptor, "\xff\xfe{\0}\0", 6,
	    "line 1, column 1: expected a value, got byte 0xff");
}

/* Space, tab, line feed and carriage return, anywhere between tokens; no
 * other space is JSON's. */
static void
test_whitespace_kinds(void **state)
{
	(void) state;
	Orgdir__V1__Directory *d = (Orgdir__V1__Directory *) parse_ok(
	    &orgdir__v1__directory__descriptor,
	    " \t\r\n{ \t\r\n\"units\" \t\r\n: \t\r\n[ \t\r\n{ \t\r\n\"id\"\t:\t\"a\"\r\n} \t\r\n,"
	    "\n{}\n] \t\r\n, \"revision\"\n:\n7\n} \t\r\n");
	assert_int_equal(d->n_units, 2);
	assert_string_equal(d->units[0]->id, "a");
	assert_int_equal(d->revision, 7);
	protobuf_c_message_free_unpacked(&d->base, NULL);
	expect_err(&orgdir__v1__unit__descriptor, "{\f}",
	    "line 1, column 2: expected a key or '}', got byte 0x0c");
	expect_err(&orgdir__v1__unit__descriptor, "{\"id\":\v\"a\"}",
	    "line 1, column 7: expected a value, got byte 0x0b");
	expect_err(&orgdir__v1__unit__descriptor, "{\xc2\xa0}",
	    "line 1, column 2: expected a key or '}', got byte 0xc2");
	expect_err(&orgdir__v1__unit__descriptor, "{}\xe2\x80\xa8",
	    "line 1, column 3: expected the end of the text after the value, got byte 0xe2");
}

/* JSON's decimal point is '.' whatever the locale says (skipped where no
 * locale with another decimal point is installed). */
static void
test_numbers_ignore_the_locale(void **state)
{
	(void) state;
	static const char *const commas[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
	const char *set = NULL;
	for (size_t i = 0; i < OD_ARRAY_LEN(commas) && set == NULL; i++) {
		set = setlocale(LC_NUMERIC, commas[i]);
	}
	if (set == NULL) {
		skip();
	}
	assert_true(strtod("1,5", NULL) == 1.5); /* the locale does what it says */
	Pbjsontest__AllTypes *a = (Pbjsontest__AllTypes *) parse_ok(
	    &pbjsontest__all_types__descriptor, "{\"fDouble\": 1.5, \"fFloat\": \"2.25\"}");
	setlocale(LC_NUMERIC, "C");
	assert_true(a->f_double == 1.5);
	assert_true(a->f_float == 2.25f);
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

/* The reader against jansson's: a valid text, and jansson's rewriting of
 * it (compact, and indented with every non-ASCII character as a \u escape,
 * surrogate pairs included), give the same message. */
static void
assert_same_as_jansson(const ProtobufCMessageDescriptor *desc, const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		fail_msg("jansson refuses %s: %s", text, e.text);
	}
	ProtobufCMessage *mine = parse_ok(desc, text);
	static const size_t flags[] = {JSON_COMPACT, JSON_ENSURE_ASCII | JSON_INDENT(1)};
	for (size_t i = 0; i < OD_ARRAY_LEN(flags); i++) {
		char *again = json_dumps(j, flags[i]);
		assert_non_null(again);
		ProtobufCMessage *theirs = parse_ok(desc, again);
		assert_same_packed(mine, theirs);
		protobuf_c_message_free_unpacked(theirs, NULL);
		free(again);
	}
	protobuf_c_message_free_unpacked(mine, NULL);
	json_decref(j);
}

static void
test_same_message_as_jansson_reads(void **state)
{
	(void) state;
	assert_same_as_jansson(&orgdir__v1__directory__descriptor, PY_DIRECTORY_CAMEL);
	assert_same_as_jansson(&orgdir__v1__directory__descriptor, PY_DIRECTORY_SNAKE);
	assert_same_as_jansson(&pbjsontest__all_types__descriptor,
	    "{\"fString\": \"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\xe2\x82\xac\","
	    " \"rString\": [\"\xf0\x9f\x98\x80\", \"\\u007f\"], \"fInt64\": -42,"
	    " \"fUint64\": \"18446744073709551615\", \"fDouble\": -2.5e-3, \"fFloat\": 0.1,"
	    " \"fInt32\": 100, \"rDouble\": [1e300, 5e-324, 0.30000000000000004]}");
}

/* --- allocators ------------------------------------------------------------- */

static void
test_arena_allocator(void **state)
{
	(void) state;
	char err[256];
	od_arena arena;
	od_arena_init(&arena, 1u << 20);
	const char *j = PY_DIRECTORY_CAMEL;
	size_t n = strlen(j);
	Orgdir__V1__Directory *d = (Orgdir__V1__Directory *) od_pbjson_parse(
	    &orgdir__v1__directory__descriptor, j, n, &arena.pb, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(d->n_units, 3);
	assert_string_equal(d->units[1]->head->title[1]->lang, "fr");
	assert_packed_hex(&d->base, PY_DIRECTORY_HEX);
	assert_true(arena.used_total > 0);

	/* Too small an arena: a clean error, and the arena says why. */
	od_arena small;
	od_arena_init(&small, 256);
	assert_null(
	    od_pbjson_parse(&orgdir__v1__directory__descriptor, j, n, &small.pb, err, sizeof(err)));
	assert_non_null(strstr(err, "out of memory"));
	assert_true(small.exhausted);
	od_arena_destroy(&small);
	od_arena_destroy(&arena);
}

struct failing_alloc {
	unsigned left; /* allocations that succeed before the first failure */
	unsigned live;
};

static void *
fa_alloc(void *data, size_t n)
{
	struct failing_alloc *fa = data;
	if (fa->left == 0) {
		return NULL;
	}
	fa->left--;
	void *p = malloc(n);
	if (p != NULL) {
		fa->live++;
	}
	return p;
}

static void
fa_free(void *data, void *p)
{
	struct failing_alloc *fa = data;
	if (p != NULL) {
		fa->live--;
	}
	free(p);
}

/* Fail each allocation in turn: every failure returns NULL with a message
 * and gives back all it took. */
static void
test_allocation_failure_frees_everything(void **state)
{
	(void) state;
	char err[256];
	const char *j = PY_DIRECTORY_CAMEL;
	unsigned k;
	for (k = 0; k < 10000; k++) {
		struct failing_alloc fa = {k, 0};
		ProtobufCAllocator a = {fa_alloc, fa_free, &fa};
		ProtobufCMessage *m = od_pbjson_parse(
		    &orgdir__v1__directory__descriptor, j, strlen(j), &a, err, sizeof(err));
		if (m != NULL) {
			assert_packed_hex(m, PY_DIRECTORY_HEX);
			protobuf_c_message_free_unpacked(m, &a);
			assert_int_equal(fa.live, 0);
			break;
		}
		assert_non_null(strstr(err, "out of memory"));
		assert_int_equal(fa.live, 0);
	}
	assert_true(k > 40); /* the document takes many allocations */
	assert_true(k < 10000);
}

/* A late error in a large document, NULL allocator: valgrind checks that
 * the partial message is freed. */
static void
test_late_error_frees_partial_message(void **state)
{
	(void) state;
	json_t *j = load(PY_DIRECTORY_CAMEL);
	json_t *units = json_object_get(j, "units");
	json_t *bad = json_object();
	json_object_set_new(
	    bad, "description", json_pack("[{s:s},{s:i}]", "lang", "en", "text", 5));
	json_array_append_new(units, bad);
	char *text = json_dumps(j, 0);
	json_decref(j);
	assert_non_null(text);
	expect_err(&orgdir__v1__directory__descriptor, text,
	    "units[3].description[1].text: expected a string, got number");
	free(text);

	char err[256];
	assert_null(od_pbjson_parse(NULL, "{}", 2, NULL, err, sizeof(err)));
	assert_string_equal(err, "no message descriptor or no JSON text");
	assert_null(
	    od_pbjson_parse(&orgdir__v1__unit__descriptor, NULL, 1, NULL, err, sizeof(err)));
	assert_string_equal(err, "no message descriptor or no JSON text");
	assert_null(od_pbjson_from_message(NULL));
}

/* --- od_pbjson_parse_each ------------------------------------------------------ */

/* What the element function saw: ids in order, indexes, and when to stop. */
struct each_seen {
	char ids[8][16];
	size_t idx[8];
	size_t n;
	size_t stop_at; /* answers false for this index; SIZE_MAX: never */
};

static bool
each_unit(void *arg, ProtobufCMessage *m, size_t i)
{
	struct each_seen *s = arg;
	const Orgdir__V1__Unit *u = (const Orgdir__V1__Unit *) m;
	assert_ptr_equal(m->descriptor, &orgdir__v1__unit__descriptor);
	if (s->n < 8) {
		od_strlcpy(s->ids[s->n], u->id, sizeof(s->ids[0]));
		s->idx[s->n] = i;
	}
	s->n++;
	/* The element is the function's: with the NULL allocator, its to free. */
	protobuf_c_message_free_unpacked(m, NULL);
	return i != s->stop_at;
}

/* Elements go to the function in order, as they are read, and are left out
 * of the result; the rest of the document is read as usual. */
static void
test_parse_each_hands_over_elements(void **state)
{
	(void) state;
	const char *text = "{\"units\": [{\"id\": \"a\"}, {\"id\": \"b\", \"parentId\": \"a\"},"
	                   " {\"id\": \"c\"}], \"countries\": [{\"code\": \"FR\"}],"
	                   " \"revision\": \"7\"}";
	struct each_seen seen = {.stop_at = SIZE_MAX};
	char err[256];
	Orgdir__V1__Directory *d =
	    (Orgdir__V1__Directory *) od_pbjson_parse_each(&orgdir__v1__directory__descriptor, text,
	        strlen(text), NULL, "units", each_unit, &seen, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.ids[0], "a");
	assert_string_equal(seen.ids[1], "b");
	assert_string_equal(seen.ids[2], "c");
	assert_int_equal(seen.idx[2], 2);
	assert_int_equal(d->n_units, 0);
	assert_null(d->units);
	assert_int_equal(d->n_countries, 1);
	assert_string_equal(d->countries[0]->code, "FR");
	assert_int_equal(d->revision, 7);
	protobuf_c_message_free_unpacked(&d->base, NULL);
}

/* An error inside an element names its path, after the elements before it
 * went to the function; a function that answers false stops the parse at
 * that element; a field that is not a repeated message is refused. */
static void
test_parse_each_errors(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor *dd = &orgdir__v1__directory__descriptor;
	const char *bad = "{\"units\": [{\"id\": \"a\"}, {\"id\": \"b\", \"colour\": 1}]}";
	struct each_seen seen = {.stop_at = SIZE_MAX};
	char err[256];
	assert_null(od_pbjson_parse_each(
	    dd, bad, strlen(bad), NULL, "units", each_unit, &seen, err, sizeof(err)));
	assert_int_equal(seen.n, 1);
	assert_string_equal(err, "units[1].colour: unknown field for orgdir.v1.Unit");

	const char *three = "{\"units\": [{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"}]}";
	struct each_seen stop = {.stop_at = 1};
	assert_null(od_pbjson_parse_each(
	    dd, three, strlen(three), NULL, "units", each_unit, &stop, err, sizeof(err)));
	assert_int_equal(stop.n, 2);
	assert_string_equal(err, "units[1]: stopped by the caller");

	/* Syntax errors keep their line and column. */
	const char *cut = "{\"units\": [{\"id\": \"a\"},\n {\"id\": ]}";
	struct each_seen some = {.stop_at = SIZE_MAX};
	assert_null(od_pbjson_parse_each(
	    dd, cut, strlen(cut), NULL, "units", each_unit, &some, err, sizeof(err)));
	assert_int_equal(some.n, 1);
	assert_non_null(strstr(err, "line 2, column"));

	struct each_seen none = {.stop_at = SIZE_MAX};
	assert_null(od_pbjson_parse_each(
	    dd, three, strlen(three), NULL, "revision", each_unit, &none, err, sizeof(err)));
	assert_null(od_pbjson_parse_each(
	    dd, three, strlen(three), NULL, "nope", each_unit, &none, err, sizeof(err)));
	assert_null(od_pbjson_parse_each(
	    dd, three, strlen(three), NULL, "units", NULL, &none, err, sizeof(err)));
	assert_int_equal(none.n, 0);
	assert_non_null(strstr(err, "no repeated message field"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_directory_written_by_python),
	    cmocka_unit_test(test_unit_round_trip),
	    cmocka_unit_test(test_lower_camel_names),
	    cmocka_unit_test(test_both_spellings_of_one_field_is_an_error),
	    cmocka_unit_test(test_defaults_are_omitted),
	    cmocka_unit_test(test_enum_by_name_and_number),
	    cmocka_unit_test(test_enum_unknown_name_is_an_error),
	    cmocka_unit_test(test_timestamp_format),
	    cmocka_unit_test(test_timestamp_parse),
	    cmocka_unit_test(test_field_mask_both_ways),
	    cmocka_unit_test(test_int64_as_string),
	    cmocka_unit_test(test_int32_out_of_range),
	    cmocka_unit_test(test_floats_and_doubles),
	    cmocka_unit_test(test_all_types_round_trip),
	    cmocka_unit_test(test_bytes_base64_round_trip),
	    cmocka_unit_test(test_unknown_field_error_names_the_path),
	    cmocka_unit_test(test_type_mismatch_error),
	    cmocka_unit_test(test_strings_must_be_utf8_without_nul),
	    cmocka_unit_test(test_nesting_cap),
	    cmocka_unit_test(test_long_paths_are_cut_not_overrun),
	    cmocka_unit_test(test_path_segment_that_just_fits_is_kept),
	    cmocka_unit_test(test_integer_errors_quote_the_value_as_written),
	    cmocka_unit_test(test_oneof),
	    cmocka_unit_test(test_proto2_optional_and_required),
	    cmocka_unit_test(test_arena_allocator),
	    cmocka_unit_test(test_allocation_failure_frees_everything),
	    cmocka_unit_test(test_late_error_frees_partial_message),
	    cmocka_unit_test(test_syntax_errors_say_line_and_column),
	    cmocka_unit_test(test_string_escapes),
	    cmocka_unit_test(test_invalid_utf8_is_refused),
	    cmocka_unit_test(test_numbers_are_read_exactly),
	    cmocka_unit_test(test_duplicate_keys_are_refused),
	    cmocka_unit_test(test_deep_arrays_do_not_recurse),
	    cmocka_unit_test(test_byte_order_mark),
	    cmocka_unit_test(test_whitespace_kinds),
	    cmocka_unit_test(test_numbers_ignore_the_locale),
	    cmocka_unit_test(test_same_message_as_jansson_reads),
	    cmocka_unit_test(test_parse_each_hands_over_elements),
	    cmocka_unit_test(test_parse_each_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
