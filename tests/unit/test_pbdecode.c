/*
 * test_pbdecode.c - od_pb_unpack (src/common/pbdecode.c) must decode exactly
 * as protobuf-c 1.4.1's protobuf_c_message_unpack does: differential tests
 * over every message type (pbdiff.c compares the two), on realistic
 * messages, on messages with every field at edge values, on every truncation
 * and thousands of mutations of each, on random wire-format junk, under
 * failing allocators; and checks that the comparison itself fails on a
 * decoder that is wrong.
 *
 * PBDECODE_SCALE (default 1) scales the random rounds (runs under valgrind
 * use 0.05). `test_pbdecode DIR` writes the seed corpus of fuzz_pbdecode
 * (tests/fuzz/corpus/pbdecode/) into DIR and runs nothing else;
 * test_pbdecode_seeds_current checks the committed one is what it writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od.h"
#include "pbdiff.h"
#include "pbdecodetest/many.pb-c.h"
#include "pbdecodetest/three.pb-c.h"
#include "pbdecodetest/two.pb-c.h"
#include "testutil.h"

static double scale = 1.0;

static unsigned
rounds(unsigned n)
{
	unsigned k = (unsigned) (n * scale);
	return k > 0 ? k : 1;
}

static void *
arr(od_arena *a, size_t n, size_t size)
{
	void *p = od_arena_alloc(a, n * size);
	assert_non_null(p);
	return p;
}

static char *
str(od_arena *a, const char *s)
{
	return od_arena_strndup(a, s, strlen(s));
}

/* --- realistic messages ------------------------------------------------------ */

static Orgdir__V1__LocalizedString *
text(od_arena *a, const char *lang, const char *t)
{
	Orgdir__V1__LocalizedString *s = arr(a, 1, sizeof(*s));
	orgdir__v1__localized_string__init(s);
	s->lang = str(a, lang);
	s->text = str(a, t);
	return s;
}

static Google__Protobuf__Timestamp *
stamp(od_arena *a, int64_t sec)
{
	Google__Protobuf__Timestamp *t = arr(a, 1, sizeof(*t));
	google__protobuf__timestamp__init(t);
	t->seconds = sec;
	t->nanos = 123456789;
	return t;
}

static Orgdir__V1__Unit *
unit(od_arena *a, const char *id, const char *parent, int k)
{
	Orgdir__V1__Unit *u = arr(a, 1, sizeof(*u));
	orgdir__v1__unit__init(u);
	u->id = str(a, id);
	u->parent_id = str(a, parent);
	u->kind = (Orgdir__V1__Unit__Kind) (k % 12 + 1);
	u->n_name = 3;
	u->name = arr(a, 3, sizeof(*u->name));
	u->name[0] = text(a, "en", "Department of Operations and Emergencies");
	u->name[1] = text(a, "fr", "Département des opérations et des situations d'urgence");
	u->name[2] = text(a, "ar", "إدارة العمليات والطوارئ");
	u->n_description = 2;
	u->description = arr(a, 2, sizeof(*u->description));
	u->description[0] = text(a, "en", "Coordinates the response to crises and displacement.");
	u->description[1] = text(a, "zh", "协调危机和流离失所应对工作。");
	u->acronym = str(a, "DOE");
	u->head = arr(a, 1, sizeof(*u->head));
	orgdir__v1__head__init(u->head);
	u->head->n_title = 2;
	u->head->title = arr(a, 2, sizeof(*u->head->title));
	u->head->title[0] = text(a, "en", "Director");
	u->head->title[1] = text(a, "fr", "Directrice");
	u->head->name = str(a, "Amina Haddad");
	u->head->email = str(a, "ahaddad@example.org");
	u->location = arr(a, 1, sizeof(*u->location));
	orgdir__v1__location__init(u->location);
	u->location->country_code = str(a, "CH");
	u->location->city = str(a, "Genève");
	u->contact = arr(a, 1, sizeof(*u->contact));
	orgdir__v1__contact__init(u->contact);
	u->contact->url = str(a, "https://example.org/doe");
	u->contact->phone = str(a, "+41 22 717 91 11");
	u->sort_order = k * 10 - 25;
	u->etag = str(a, "W/\"17\"");
	u->create_time = stamp(a, 1700000000 + k);
	u->update_time = stamp(a, 1710000000 + k);
	return u;
}

static Orgdir__V1__Country *
country(od_arena *a, const char *code)
{
	Orgdir__V1__Country *c = arr(a, 1, sizeof(*c));
	orgdir__v1__country__init(c);
	c->code = str(a, code);
	c->alpha3 = str(a, "CHE");
	c->numeric = str(a, "756");
	c->n_name = 3;
	c->name = arr(a, 3, sizeof(*c->name));
	c->name[0] = text(a, "en", "Switzerland");
	c->name[1] = text(a, "de", "Schweiz");
	c->name[2] = text(a, "ru", "Швейцария");
	c->membership = arr(a, 1, sizeof(*c->membership));
	orgdir__v1__membership__init(c->membership);
	c->membership->status = ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	c->membership->since_year = 1951;
	c->presence = arr(a, 1, sizeof(*c->presence));
	orgdir__v1__presence__init(c->presence);
	c->presence->level = ORGDIR__V1__PRESENCE__LEVEL__SUB_OFFICES;
	c->presence->n_office_unit_ids = 2;
	c->presence->office_unit_ids = arr(a, 2, sizeof(char *));
	c->presence->office_unit_ids[0] = str(a, "co-bern");
	c->presence->office_unit_ids[1] = str(a, "so-geneva");
	c->notes = str(a, "Host country.");
	c->update_time = stamp(a, 1720000000);
	return c;
}

static ProtobufCBinaryData
packed(od_arena *a, const ProtobufCMessage *m)
{
	ProtobufCBinaryData b;
	b.len = protobuf_c_message_get_packed_size(m);
	b.data = arr(a, b.len + 1, 1);
	assert_int_equal(protobuf_c_message_pack(m, b.data), b.len);
	return b;
}

/* The realistic messages, one of each type a client or server exchanges. */
static size_t
realistic(od_arena *a, ProtobufCMessage **out, size_t cap)
{
	size_t n = 0;
	Orgdir__V1__Unit *u = unit(a, "doe", "iom", 4);
	out[n++] = &u->base;
	out[n++] = &country(a, "CH")->base;

	Orgdir__V1__Change *ch = arr(a, 1, sizeof(*ch));
	orgdir__v1__change__init(ch);
	ch->revision = 981234;
	ch->seq = 2;
	ch->time = stamp(a, 1730000000);
	ch->actor = str(a, "editor-amina");
	ch->method = str(a, "UpdateUnit");
	ch->resource_type = ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT;
	ch->resource_id = str(a, "doe");
	ch->unit_before = unit(a, "doe", "iom", 3);
	ch->unit_after = u;
	out[n++] = &ch->base;

	Orgdir__V1__Directory *dir = arr(a, 1, sizeof(*dir));
	orgdir__v1__directory__init(dir);
	dir->n_units = 6;
	dir->units = arr(a, dir->n_units, sizeof(*dir->units));
	for (size_t i = 0; i < dir->n_units; i++) {
		char id[32];
		snprintf(id, sizeof(id), "unit-%zu", i);
		dir->units[i] = unit(a, id, i == 0 ? "" : "unit-0", (int) i);
	}
	dir->revision = 77;
	dir->n_countries = 2;
	dir->countries = arr(a, 2, sizeof(*dir->countries));
	dir->countries[0] = country(a, "CH");
	dir->countries[1] = country(a, "KE");
	out[n++] = &dir->base;

	Orgdir__V1__GetSubtreeResponse *st = arr(a, 1, sizeof(*st));
	orgdir__v1__get_subtree_response__init(st);
	st->n_nodes = dir->n_units;
	st->nodes = arr(a, st->n_nodes, sizeof(*st->nodes));
	for (size_t i = 0; i < st->n_nodes; i++) {
		st->nodes[i] = arr(a, 1, sizeof(*st->nodes[i]));
		orgdir__v1__subtree_node__init(st->nodes[i]);
		st->nodes[i]->depth = (uint32_t) (i > 0);
		st->nodes[i]->unit = dir->units[i];
	}
	out[n++] = &st->base;

	Orgdir__V1__SearchResponse *sr = arr(a, 1, sizeof(*sr));
	orgdir__v1__search_response__init(sr);
	sr->n_hits = 2;
	sr->hits = arr(a, 2, sizeof(*sr->hits));
	for (size_t i = 0; i < 2; i++) {
		sr->hits[i] = arr(a, 1, sizeof(*sr->hits[i]));
		orgdir__v1__search_hit__init(sr->hits[i]);
		sr->hits[i]->field = ORGDIR__V1__SEARCH_HIT__FIELD__NAME;
		sr->hits[i]->lang = str(a, "fr");
		sr->hits[i]->match = ORGDIR__V1__SEARCH_HIT__MATCH__WORD_PREFIX;
		sr->hits[i]->depth = 3;
	}
	sr->hits[0]->unit = u;
	sr->hits[1]->country = dir->countries[1];
	sr->next_page_token = str(a, "c2VhcmNoOjEw");
	sr->total_size = 41;
	out[n++] = &sr->base;

	Orgdir__V1__ImportDirectoryRequest *imp = arr(a, 1, sizeof(*imp));
	orgdir__v1__import_directory_request__init(imp);
	imp->mode = ORGDIR__V1__IMPORT_DIRECTORY_REQUEST__MODE__REPLACE;
	imp->session = str(a, "s-0001");
	imp->part = dir;
	imp->end_session = 1;
	out[n++] = &imp->base;

	Orgdir__V1__UpdateUnitRequest *up = arr(a, 1, sizeof(*up));
	orgdir__v1__update_unit_request__init(up);
	up->unit = u;
	up->update_mask = arr(a, 1, sizeof(*up->update_mask));
	google__protobuf__field_mask__init(up->update_mask);
	up->update_mask->n_paths = 2;
	up->update_mask->paths = arr(a, 2, sizeof(char *));
	up->update_mask->paths[0] = str(a, "name");
	up->update_mask->paths[1] = str(a, "head.title");
	out[n++] = &up->base;

	Orgdir__V1__GetSubtreeRequest gs = ORGDIR__V1__GET_SUBTREE_REQUEST__INIT;
	gs.root_id = str(a, "iom");
	gs.max_depth = -1;
	Orgdir__V1__Request *rq = arr(a, 1, sizeof(*rq));
	orgdir__v1__request__init(rq);
	rq->method = str(a, "GetSubtree");
	rq->call_id = UINT64_MAX - 5;
	rq->body = packed(a, &gs.base);
	rq->auth_token = str(a, "odt_3f9c0a");
	rq->deadline_ms = 30000;
	rq->request_id = packed(a, &gs.base);
	rq->max_reply_bytes = 256u << 20;
	out[n++] = &rq->base;

	Orgdir__V1__Response *rs = arr(a, 1, sizeof(*rs));
	orgdir__v1__response__init(rs);
	rs->call_id = 9;
	rs->code = 5;
	rs->message = str(a, "unit 'x' does not exist");
	rs->body = packed(a, &st->base);
	rs->revision = 981234;
	out[n++] = &rs->base;

	Orgdir__V1__ServerInfoResponse *si = arr(a, 1, sizeof(*si));
	orgdir__v1__server_info_response__init(si);
	si->version = str(a, "0.1.0");
	si->schema_version = 6;
	si->n_methods = orgdir__v1__org_directory__descriptor.n_methods;
	si->methods = arr(a, si->n_methods, sizeof(char *));
	for (size_t i = 0; i < si->n_methods; i++) {
		si->methods[i] = str(a, orgdir__v1__org_directory__descriptor.methods[i].name);
	}
	si->start_time = stamp(a, 1740000000);
	si->max_message_bytes = 4u << 20;
	out[n++] = &si->base;

	Orgdir__V1__ListCountriesRequest *lc = arr(a, 1, sizeof(*lc));
	orgdir__v1__list_countries_request__init(lc);
	lc->n_membership = 2;
	lc->membership = arr(a, 2, sizeof(*lc->membership));
	lc->membership[0] = ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	lc->membership[1] = ORGDIR__V1__MEMBERSHIP__STATUS__OBSERVER;
	lc->lang = str(a, "es");
	lc->page_size = 1000;
	out[n++] = &lc->base;

	Orgdir__V1__ListChangesResponse *lch = arr(a, 1, sizeof(*lch));
	orgdir__v1__list_changes_response__init(lch);
	lch->n_changes = 1;
	lch->changes = arr(a, 1, sizeof(*lch->changes));
	lch->changes[0] = ch;
	lch->revision = 981234;
	out[n++] = &lch->base;
	assert_true(n <= cap);
	return n;
}

/* --- the rounds run on one input -------------------------------------------- */

struct tally {
	size_t runs, accepted, refused, too_deep;
};

static void
check(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, struct tally *t)
{
	char why[300];
	enum pbdiff_outcome o = pbdiff_compare(d, p, n, why, sizeof(why));
	if (o == PBDIFF_MISMATCH) {
		fprintf(stderr, "mismatch on %zu bytes:", n);
		for (size_t i = 0; i < n && i < 64; i++) {
			fprintf(stderr, " %02x", p[i]);
		}
		fprintf(stderr, "\n");
		fail_msg("%s", why);
	}
	t->runs++;
	t->accepted += o == PBDIFF_BOTH_ACCEPT;
	t->refused += o == PBDIFF_BOTH_REFUSE;
	t->too_deep += o == PBDIFF_TOO_DEEP;
}

/* The packed message, each of its truncations, and `mutations` mutants. */
static void
check_around(const ProtobufCMessage *m, pbdiff_rng *r, unsigned mutations, struct tally *t)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n + 1);
	uint8_t *q = malloc(n + 64);
	assert_non_null(p);
	assert_non_null(q);
	protobuf_c_message_pack(m, p);
	size_t before = t->accepted;
	check(m->descriptor, p, n, t);
	assert_int_equal(t->accepted, before + 1); /* the message itself decodes */
	for (size_t cut = 0; cut < n; cut++) {
		check(m->descriptor, p, cut, t);
	}
	for (unsigned k = 0; k < mutations; k++) {
		size_t qn = pbdiff_mutate(r, p, n, q, n + 64);
		check(m->descriptor, q, qn, t);
	}
	free(p);
	free(q);
}

/* --- tests ------------------------------------------------------------------- */

static bool
is_test_message(const ProtobufCMessageDescriptor *d)
{
	return strcmp(d->package_name, "pbdecodetest") == 0;
}

static void
test_every_message_type_is_compared(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor **d;
	size_t n = pbdiff_all_descriptors(&d);
	size_t ours = 0, test_only = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_test_message(d[i])) {
			test_only++;
		} else {
			ours++;
		}
	}
	/* Every message the .proto files declare is reachable from the service
	 * and the envelopes, so none goes untested. */
	assert_int_equal(ours, OD_PROTO_MESSAGES);
	assert_true(test_only >= 6);
}

/* What protobuf-c does at its edges, each written out: both decoders must
 * agree with the expectation, so a change of protobuf-c shows here too. */
struct known {
	const char *what;
	const ProtobufCMessageDescriptor *desc;
	bool accept;
	size_t n;
	uint8_t p[24];
};

#define KNOWN(what, desc, accept, ...) \
	{ \
		what, &desc, accept, sizeof((uint8_t[]){__VA_ARGS__}), \
		{ \
			__VA_ARGS__ \
		} \
	}

static void
test_known_edges(void **state)
{
	(void) state;
	static const struct known cases[] = {
	    KNOWN("field 0 in a one-byte key", orgdir__v1__get_unit_request__descriptor, false,
	        0x00, 0x01),
	    KNOWN("field 0, wire type 2", orgdir__v1__get_unit_request__descriptor, false, 0x02,
	        0x00),
	    KNOWN("field 0 in a two-byte key is kept as unknown",
	        orgdir__v1__get_unit_request__descriptor, true, 0x80, 0x00, 0x01),
	    KNOWN("field 2^32-1 in a 5-byte key", orgdir__v1__get_unit_request__descriptor, true,
	        0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x01),
	    KNOWN("a 6-byte key", orgdir__v1__get_unit_request__descriptor, false, 0x88, 0x80, 0x80,
	        0x80, 0x80, 0x00, 0x01),
	    KNOWN("a key cut short", orgdir__v1__get_unit_request__descriptor, false, 0x88),
	    KNOWN("a 6-byte length", orgdir__v1__get_unit_request__descriptor, false, 0x0A, 0x80,
	        0x80, 0x80, 0x80, 0x80, 0x00),
	    KNOWN("a length over INT_MAX", orgdir__v1__get_unit_request__descriptor, false, 0x0A,
	        0x80, 0x80, 0x80, 0x80, 0x08),
	    KNOWN("a length past the end", orgdir__v1__get_unit_request__descriptor, false, 0x0A,
	        0x02, 'a'),
	    KNOWN("an empty string is allocated", orgdir__v1__get_unit_request__descriptor, true,
	        0x0A, 0x00),
	    KNOWN("an 11-byte varint", orgdir__v1__delete_unit_request__descriptor, false, 0x10,
	        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
	    KNOWN("a bool from bits past the 64th", orgdir__v1__delete_unit_request__descriptor,
	        true, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02),
	    KNOWN("a bool from wire type 2", orgdir__v1__delete_unit_request__descriptor, true,
	        0x12, 0x01, 0x00),
	    KNOWN("a bool from wire type 5", orgdir__v1__delete_unit_request__descriptor, true,
	        0x15, 0x00, 0x00, 0x00, 0x80),
	    KNOWN("a string as a varint", orgdir__v1__get_unit_request__descriptor, false, 0x08,
	        0x01),
	    KNOWN("a group", orgdir__v1__get_unit_request__descriptor, false, 0x13, 0x14),
	    KNOWN("wire type 6", orgdir__v1__get_unit_request__descriptor, false, 0x16),
	    KNOWN("wire type 7 of an unknown field", orgdir__v1__get_unit_request__descriptor,
	        false, 0x3F),
	    KNOWN("a field of a message without fields",
	        orgdir__v1__server_info_request__descriptor, true, 0x08, 0x01),
	    KNOWN("an empty submessage", orgdir__v1__get_subtree_response__descriptor, true, 0x0A,
	        0x00),
	    KNOWN("a submessage merged into its earlier copy",
	        orgdir__v1__create_unit_request__descriptor, true, 0x0A, 0x03, 0x0A, 0x01, 'a',
	        0x0A, 0x03, 0x12, 0x01, 'b'),
	    KNOWN("a proto3 scalar of the later copy wins though unset",
	        orgdir__v1__create_unit_request__descriptor, true, 0x0A, 0x02, 0x50, 0x05, 0x0A,
	        0x00),
	    KNOWN("repeated fields of two copies concatenate",
	        orgdir__v1__create_unit_request__descriptor, true, 0x0A, 0x04, 0x22, 0x02, 0x0A,
	        0x00, 0x0A, 0x04, 0x22, 0x02, 0x12, 0x00),
	    KNOWN("a packed enum cut inside a value", orgdir__v1__search_request__descriptor, false,
	        0x12, 0x02, 0x01, 0x82),
	    KNOWN("a packed run without one whole varint", orgdir__v1__search_request__descriptor,
	        false, 0x12, 0x02, 0x81, 0x81),
	    KNOWN("packed and unpacked runs of one field", orgdir__v1__search_request__descriptor,
	        true, 0x12, 0x03, 0x01, 0x82, 0x01, 0x10, 0x05),
	    KNOWN("an enum as a fixed64", orgdir__v1__search_request__descriptor, false, 0x11, 1, 2,
	        3, 4, 5, 6, 7, 8),
	    KNOWN("an unknown fixed64", orgdir__v1__get_unit_request__descriptor, true, 0x11, 1, 2,
	        3, 4, 5, 6, 7, 8),
	    KNOWN("a required field missing", pbdecodetest__needs__descriptor, false, 0x12, 0x00),
	    KNOWN("required fields present", pbdecodetest__needs__descriptor, true, 0x0A, 0x00,
	        0x12, 0x00),
	    KNOWN("a required field with a default may be absent", pbdecodetest__two__descriptor,
	        true, 0x08, 0x01),
	    KNOWN("a required field without one may not", pbdecodetest__two__descriptor, false,
	        0x12, 0x00),
	    KNOWN("a later oneof member replaces the earlier", pbdecodetest__two__descriptor, true,
	        0x08, 0x01, 0xCA, 0x02, 0x01, 'x', 0xC0, 0x02, 0x07),
	    KNOWN("two copies of a message whose oneof neither sets",
	        pbdecodetest__three__descriptor, false, 0x82, 0x05, 0x02, 0x08, 0x01, 0x82, 0x05,
	        0x00),
	    KNOWN("two copies of a message whose oneofs the first sets",
	        pbdecodetest__three__descriptor, true, 0x82, 0x05, 0x09, 0x92, 0x03, 0x00, 0xE5,
	        0x03, 0, 0, 0, 0, 0x82, 0x05, 0x00),
	    KNOWN("a packed bool of a multi-byte varint", pbdecodetest__two__descriptor, true, 0x08,
	        0x01, 0xD2, 0x01, 0x03, 0x02, 0x80, 0x00),
	    KNOWN("a packed fixed32 run not a multiple of 4", pbdecodetest__two__descriptor, false,
	        0x08, 0x01, 0xC2, 0x01, 0x03, 1, 2, 3),
	};
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		const struct known *k = &cases[i];
		char why[300];
		enum pbdiff_outcome o = pbdiff_compare(k->desc, k->p, k->n, why, sizeof(why));
		if (o == PBDIFF_MISMATCH) {
			fail_msg("%s: %s", k->what, why);
		}
		if ((o == PBDIFF_BOTH_ACCEPT) != k->accept) {
			fail_msg(
			    "%s: protobuf-c %s it", k->what, k->accept ? "refuses" : "accepts");
		}
	}
}

static void
test_realistic_messages(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	ProtobufCMessage *msgs[32];
	size_t n = realistic(&a, msgs, OD_ARRAY_LEN(msgs));
	pbdiff_rng r;
	pbdiff_seed(&r, 1);
	struct tally t = {0};
	for (size_t i = 0; i < n; i++) {
		check_around(msgs[i], &r, rounds(5000), &t);
	}
	printf("realistic: %zu runs, %zu accepted, %zu refused\n", t.runs, t.accepted, t.refused);
	assert_true(t.accepted > n && t.refused > n);
	od_arena_destroy(&a);
}

static void
test_every_field_at_edge_values(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor **d;
	size_t n = pbdiff_all_descriptors(&d);
	pbdiff_rng r;
	pbdiff_seed(&r, 2);
	struct tally t = {0};
	od_arena a;
	od_arena_init(&a, (size_t) 256 << 20);
	for (size_t i = 0; i < n; i++) {
		for (unsigned v = 0; v < 6; v++) {
			ProtobufCMessage *m = pbdiff_fill(d[i], &a, v, 3);
			check_around(m, &r, rounds(v < 2 ? 1500 : 250), &t);
			od_arena_reset(&a);
		}
	}
	printf("edge values: %zu runs, %zu accepted, %zu refused\n", t.runs, t.accepted, t.refused);
	od_arena_destroy(&a);
}

static void
test_random_wire(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor **d;
	size_t n = pbdiff_all_descriptors(&d);
	pbdiff_rng r;
	pbdiff_seed(&r, 3);
	struct tally total = {0};
	for (size_t i = 0; i < n; i++) {
		struct tally t = {0};
		unsigned k = rounds(is_test_message(d[i]) ? 10000 : 4000);
		for (unsigned j = 0; j < k; j++) {
			od_buf b;
			od_buf_init(&b, SIZE_MAX);
			pbdiff_gen(&r, d[i], &b, 0);
			check(d[i], b.data, b.len, &t);
			od_buf_free(&b);
		}
		/* Both outcomes are reached for every type with fields (given
		 * rounds enough: PBDECODE_SCALE may make them few). */
		if (d[i]->n_fields > 0 && k >= 100) {
			assert_true(t.accepted > 0);
			assert_true(t.refused > 0);
		}
		total.runs += t.runs;
		total.accepted += t.accepted;
		total.refused += t.refused;
		total.too_deep += t.too_deep;
	}
	printf("random wire: %zu runs, %zu accepted, %zu refused, %zu past the nesting cap\n",
	    total.runs, total.accepted, total.refused, total.too_deep);
	assert_true(total.accepted > total.runs / 4);
}

/* Tree.child nested `levels` deep around an empty Tree: `levels + 1`
 * messages. */
static void
tree_chain(od_buf *b, unsigned levels)
{
	od_buf_init(b, SIZE_MAX);
	for (unsigned i = 0; i < levels; i++) {
		od_buf outer;
		od_buf_init(&outer, SIZE_MAX);
		assert_true(od_pb_put_len_field(&outer, 1, b->data, b->len));
		od_buf_free(b);
		*b = outer;
	}
}

/* The one place the two decoders differ: messages nested more than
 * OD_PB_NESTING_MAX deep (only a self-recursive type can), which
 * od_pb_unpack refuses and protobuf-c decodes. Up to the cap, the same. */
static void
test_nesting_cap(void **state)
{
	(void) state;
	od_buf b;
	tree_chain(&b, OD_PB_NESTING_MAX - 1);
	assert_int_equal(
	    pbdiff_wire_depth(&pbdecodetest__tree__descriptor, b.data, b.len), OD_PB_NESTING_MAX);
	assert_int_equal(pbdiff_compare(&pbdecodetest__tree__descriptor, b.data, b.len, NULL, 0),
	    PBDIFF_BOTH_ACCEPT);
	od_buf_free(&b);
	tree_chain(&b, OD_PB_NESTING_MAX);
	assert_int_equal(pbdiff_compare(&pbdecodetest__tree__descriptor, b.data, b.len, NULL, 0),
	    PBDIFF_TOO_DEEP);
	ProtobufCMessage *m =
	    protobuf_c_message_unpack(&pbdecodetest__tree__descriptor, NULL, b.len, b.data);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_null(od_pb_unpack(&pbdecodetest__tree__descriptor, NULL, b.len, b.data));
	od_buf_free(&b);
}

/* More message types in one input than the decoder keeps plans for (a
 * chain of 20), and a type of 302 fields whose required field is past the
 * bitmap the decoder keeps on its stack. */
static void
test_many_types_and_fields(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	pbdiff_rng r;
	pbdiff_seed(&r, 7);
	struct tally t = {0};
	for (unsigned v = 0; v < 3; v++) {
		ProtobufCMessage *chain = pbdiff_fill(&pbdecodetest__chain1__descriptor, &a, v, 25);
		size_t n = protobuf_c_message_get_packed_size(chain);
		uint8_t *p = malloc(n);
		protobuf_c_message_pack(chain, p);
		assert_int_equal(pbdiff_wire_depth(&pbdecodetest__chain1__descriptor, p, n), 20);
		free(p);
		check_around(chain, &r, rounds(500), &t);
		Pbdecodetest__Wide *w =
		    (Pbdecodetest__Wide *) pbdiff_fill(&pbdecodetest__wide__descriptor, &a, v, 25);
		check_around(&w->base, &r, rounds(300), &t);
		od_arena_reset(&a);
	}
	/* Without its required field, Wide is refused. */
	static const uint8_t no_last[] = {0x08, 0x01};
	assert_int_equal(
	    pbdiff_compare(&pbdecodetest__wide__descriptor, no_last, sizeof(no_last), NULL, 0),
	    PBDIFF_BOTH_REFUSE);
	od_arena_destroy(&a);
}

/* Descriptors of old generated code have no message_init: both decoders
 * then set the defaults from the field descriptors. (Not for a oneof with a
 * proto3 string member, as Three's: protobuf-c's generic init stores every
 * member's default in the shared union, so a later message member merges
 * into the empty string and crashes.) */
static void
test_without_message_init(void **state)
{
	(void) state;
	const ProtobufCMessageDescriptor *from[] = {&pbdecodetest__two__descriptor,
	    &pbdecodetest__needs__descriptor, &pbdecodetest__tree__descriptor,
	    &orgdir__v1__unit__descriptor, &orgdir__v1__directory__descriptor};
	pbdiff_rng r;
	pbdiff_seed(&r, 4);
	struct tally t = {0};
	/* Static: od_pb_unpack keeps a plan per descriptor for the process,
	 * so a descriptor must outlive it (generated ones do). */
	static ProtobufCMessageDescriptor copies[OD_ARRAY_LEN(from)];
	for (size_t i = 0; i < OD_ARRAY_LEN(from); i++) {
		ProtobufCMessageDescriptor *d = &copies[i];
		*d = *from[i];
		d->message_init = NULL;
		for (unsigned j = 0; j < rounds(3000); j++) {
			od_buf b;
			od_buf_init(&b, SIZE_MAX);
			pbdiff_gen(&r, d, &b, 0);
			check(d, b.data, b.len, &t);
			od_buf_free(&b);
		}
	}
	assert_true(t.accepted > 0);
}

/* An allocator that fails its k-th allocation and counts what is live. */
struct failing {
	size_t calls, fail_at, live;
};

static void *
failing_alloc(void *ad, size_t n)
{
	struct failing *f = ad;
	if (++f->calls == f->fail_at) {
		return NULL;
	}
	f->live++;
	return malloc(n);
}

static void
failing_free(void *ad, void *p)
{
	struct failing *f = ad;
	f->live--;
	free(p);
}

static void
refuses_on_every_failed_allocation(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	struct failing all = {0, 0, 0};
	ProtobufCAllocator none_fail = {failing_alloc, failing_free, &all};
	ProtobufCMessage *whole = od_pb_unpack(d, &none_fail, n, p);
	if (whole == NULL) {
		assert_int_equal(all.live, 0);
		return; /* refused anyway */
	}
	protobuf_c_message_free_unpacked(whole, &none_fail);
	assert_int_equal(all.live, 0);
	for (size_t k = 1;; k++) {
		struct failing f = {0, k, 0};
		ProtobufCAllocator a = {failing_alloc, failing_free, &f};
		ProtobufCMessage *m = od_pb_unpack(d, &a, n, p);
		if (m == NULL) {
			assert_true(f.calls >= k); /* the failure was reached */
			assert_int_equal(f.live, 0);
			continue;
		}
		assert_true(f.calls < k); /* no allocation failed */
		protobuf_c_message_free_unpacked(m, &a);
		assert_int_equal(f.live, 0);
		break;
	}
}

/* Decoded into an od_arena whose cap is too small, at every cap below what
 * the decode takes, d is refused with the arena marked exhausted (which
 * liborgdir and orgdird tell apart from bad bytes). */
static void
refuses_on_every_small_arena(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	od_arena a;
	od_arena_init(&a, SIZE_MAX);
	ProtobufCMessage *m = od_pb_unpack(d, &a.pb, n, p);
	size_t used = a.used_total;
	od_arena_destroy(&a);
	if (m == NULL) {
		return; /* refused anyway */
	}
	size_t step = used / 64 + 1;
	for (size_t cap = 0; cap < used; cap += step) {
		od_arena_init(&a, cap);
		assert_null(od_pb_unpack(d, &a.pb, n, p));
		assert_true(a.exhausted);
		od_arena_destroy(&a);
	}
	od_arena_init(&a, used);
	assert_non_null(od_pb_unpack(d, &a.pb, n, p));
	od_arena_destroy(&a);
}

static void
test_allocation_failures(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	ProtobufCMessage *msgs[32];
	size_t n = realistic(&a, msgs, OD_ARRAY_LEN(msgs));
	for (size_t i = 0; i < n; i++) {
		size_t len = protobuf_c_message_get_packed_size(msgs[i]);
		uint8_t *p = malloc(len);
		protobuf_c_message_pack(msgs[i], p);
		refuses_on_every_failed_allocation(msgs[i]->descriptor, p, len);
		refuses_on_every_small_arena(msgs[i]->descriptor, p, len);
		free(p);
	}
	/* Merges, oneof replacement, unknown fields, and more than 256 fields'
	 * worth of required bits are not in those: random ones are. */
	pbdiff_rng r;
	pbdiff_seed(&r, 5);
	const ProtobufCMessageDescriptor *d[] = {&pbdecodetest__two__descriptor,
	    &pbdecodetest__three__descriptor, &orgdir__v1__directory__descriptor};
	for (size_t i = 0; i < OD_ARRAY_LEN(d); i++) {
		for (unsigned j = 0; j < rounds(300); j++) {
			od_buf b;
			od_buf_init(&b, SIZE_MAX);
			pbdiff_gen(&r, d[i], &b, 0);
			refuses_on_every_failed_allocation(d[i], b.data, b.len);
			refuses_on_every_small_arena(d[i], b.data, b.len);
			od_buf_free(&b);
		}
	}
	od_arena_destroy(&a);
}

/* The comparison must be able to fail: results changed after decoding, one
 * way each, must all be told apart from the right one. */
static void
test_comparison_catches_differences(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	ProtobufCMessage *msgs[32];
	size_t n = realistic(&a, msgs, OD_ARRAY_LEN(msgs));
	assert_true(n > 3);
	Orgdir__V1__Unit *u = (Orgdir__V1__Unit *) msgs[0];
	size_t len = protobuf_c_message_get_packed_size(&u->base);
	uint8_t *p = malloc(len + 8);
	protobuf_c_message_pack(&u->base, p);
	p[len] = 0xA8; /* an unknown field 101 = 1 */
	p[len + 1] = 0x06;
	p[len + 2] = 0x01;
	len += 3;
	char why[300];
	for (int change = 0; change < 8; change++) {
		Orgdir__V1__Unit *x =
		    (Orgdir__V1__Unit *) od_pb_unpack(&orgdir__v1__unit__descriptor, &a.pb, len, p);
		Orgdir__V1__Unit *y =
		    (Orgdir__V1__Unit *) od_pb_unpack(&orgdir__v1__unit__descriptor, &a.pb, len, p);
		assert_non_null(x);
		assert_non_null(y);
		assert_true(pbdiff_equal(&x->base, &y->base, why, sizeof(why)));
		switch (change) {
		case 0:
			y->name[2]->text[0] ^= 1;
			break;
		case 1:
			y->n_description--;
			break;
		case 2:
			y->head->name = (char *) protobuf_c_empty_string;
			break;
		case 3:
			y->base.n_unknown_fields = 0;
			break;
		case 4:
			y->base.unknown_fields[0].data[0] ^= 1;
			break;
		case 5:
			y->update_time->nanos++;
			break;
		case 6:
			y->location = NULL;
			break;
		default:
			y->sort_order = -y->sort_order;
			break;
		}
		assert_false(pbdiff_equal(&x->base, &y->base, why, sizeof(why)));
	}
	/* proto2 presence and oneof cases. */
	static const uint8_t two[] = {0x08, 0x01, 0x18, 0x00, 0xCA, 0x02, 0x01, 'x'};
	for (int change = 0; change < 3; change++) {
		Pbdecodetest__Two *x = (Pbdecodetest__Two *) od_pb_unpack(
		    &pbdecodetest__two__descriptor, &a.pb, sizeof(two), two);
		Pbdecodetest__Two *y = (Pbdecodetest__Two *) od_pb_unpack(
		    &pbdecodetest__two__descriptor, &a.pb, sizeof(two), two);
		assert_non_null(x);
		assert_non_null(y);
		assert_true(pbdiff_equal(&x->base, &y->base, why, sizeof(why)));
		if (change == 0) {
			y->has_o_int32 = 0; /* -7 either way: only the flag differs */
		} else if (change == 1) {
			y->pick_case = PBDECODETEST__TWO__PICK_K_INT32;
		} else {
			y->o_string = str(&a, "hello"); /* the default's text, not its pointer */
		}
		assert_false(pbdiff_equal(&x->base, &y->base, why, sizeof(why)));
	}
	free(p);
	od_arena_destroy(&a);
}

/* Wrong decoders, each wrong in one way od_pb_unpack could be. */
static ProtobufCMessage *
forgets_presence(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data)
{
	ProtobufCMessage *m = od_pb_unpack(desc, alloc, len, data);
	for (unsigned i = 0; m != NULL && i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		protobuf_c_boolean *has =
		    (protobuf_c_boolean *) ((char *) m + f->quantifier_offset);
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0 && *has) {
			*has = 0;
			break;
		}
	}
	return m;
}

static ProtobufCMessage *
accepts_everything(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data)
{
	ProtobufCMessage *m = od_pb_unpack(desc, alloc, len, data);
	if (m == NULL) {
		m = alloc != NULL ? alloc->alloc(alloc->allocator_data, desc->sizeof_message)
		                  : malloc(desc->sizeof_message);
		protobuf_c_message_init(desc, m);
	}
	return m;
}

static ProtobufCMessage *
drops_unknown_fields(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data)
{
	ProtobufCMessage *m = od_pb_unpack(desc, alloc, len, data);
	if (m != NULL && m->n_unknown_fields > 0) {
		m->n_unknown_fields--;
		if (alloc == NULL) {
			free(m->unknown_fields[m->n_unknown_fields].data);
		} else {
			alloc->free(
			    alloc->allocator_data, m->unknown_fields[m->n_unknown_fields].data);
		}
	}
	return m;
}

static ProtobufCMessage *
nests_three_deep(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data)
{
	if (pbdiff_wire_depth(desc, data, len) > 3) {
		return NULL;
	}
	return od_pb_unpack(desc, alloc, len, data);
}

static void
test_wrong_decoders_are_caught(void **state)
{
	(void) state;
	pbdiff_decoder_fn *wrong[] = {
	    forgets_presence, accepts_everything, drops_unknown_fields, nests_three_deep};
	const ProtobufCMessageDescriptor *d[] = {&pbdecodetest__two__descriptor,
	    &pbdecodetest__three__descriptor, &orgdir__v1__directory__descriptor};
	for (size_t w = 0; w < OD_ARRAY_LEN(wrong); w++) {
		pbdiff_rng r;
		pbdiff_seed(&r, 6);
		size_t caught = 0;
		pbdiff_decoder = wrong[w];
		for (size_t i = 0; i < OD_ARRAY_LEN(d); i++) {
			for (unsigned j = 0; j < 2000; j++) {
				od_buf b;
				od_buf_init(&b, SIZE_MAX);
				pbdiff_gen(&r, d[i], &b, 0);
				caught +=
				    pbdiff_compare(d[i], b.data, b.len, NULL, 0) == PBDIFF_MISMATCH;
				od_buf_free(&b);
			}
		}
		pbdiff_decoder = od_pb_unpack;
		printf("wrong decoder %zu: %zu of %zu inputs tell it apart\n", w, caught,
		    2000 * OD_ARRAY_LEN(d));
		assert_true(caught > 0);
	}
}

/* Writes fuzz_pbdecode's seeds: the first byte picks the type (see
 * tests/fuzz/fuzz_pbdecode.c), the rest is a packed message. */
static int
write_seeds(const char *dir)
{
	const ProtobufCMessageDescriptor **fd;
	size_t nf = pbdiff_all_descriptors(&fd);
	od_arena a;
	od_arena_init(&a, (size_t) 64 << 20);
	ProtobufCMessage *msgs[32];
	size_t n = realistic(&a, msgs, OD_ARRAY_LEN(msgs));
	/* The realistic messages, and a filled one of each test-only root
	 * (not Wide: 10 KiB filled; the generator mode reaches it). */
	const ProtobufCMessageDescriptor *roots[] = {&pbdecodetest__two__descriptor,
	    &pbdecodetest__needs__descriptor, &pbdecodetest__three__descriptor,
	    &pbdecodetest__tree__descriptor, &pbdecodetest__empty__descriptor,
	    &pbdecodetest__chain1__descriptor};
	for (size_t i = 0; i < OD_ARRAY_LEN(roots) && n < OD_ARRAY_LEN(msgs); i++) {
		msgs[n++] = pbdiff_fill(
		    roots[i], &a, 1, roots[i] == &pbdecodetest__chain1__descriptor ? 25 : 2);
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < nf && fd[k] != msgs[i]->descriptor) {
			k++;
		}
		if (k == nf || k > 0x7F) {
			return 1;
		}
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.bin", dir, msgs[i]->descriptor->short_name);
		FILE *f = fopen(path, "wb");
		if (f == NULL) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			return 1;
		}
		size_t len = protobuf_c_message_get_packed_size(msgs[i]);
		uint8_t *p = malloc(len + 1);
		p[0] = (uint8_t) k;
		protobuf_c_message_pack(msgs[i], p + 1);
		fwrite(p, 1, len + 1, f);
		fclose(f);
		free(p);
	}
	od_arena_destroy(&a);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *s = getenv("PBDECODE_SCALE");
	if (s != NULL && s[0] != '\0') {
		scale = strtod(s, NULL);
	}
	if (argc == 2) {
		return write_seeds(argv[1]);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_message_type_is_compared),
	    cmocka_unit_test(test_known_edges),
	    cmocka_unit_test(test_comparison_catches_differences),
	    cmocka_unit_test(test_wrong_decoders_are_caught),
	    cmocka_unit_test(test_realistic_messages),
	    cmocka_unit_test(test_every_field_at_edge_values),
	    cmocka_unit_test(test_random_wire),
	    cmocka_unit_test(test_many_types_and_fields),
	    cmocka_unit_test(test_nesting_cap),
	    cmocka_unit_test(test_without_message_init),
	    cmocka_unit_test(test_allocation_failures),
	};
	return test_run_group(tests, NULL, NULL);
}
