/* pbdiff.c - od_pb_unpack against protobuf-c: see pbdiff.h. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbdiff.h"
#include "pbdecodetest/many.pb-c.h"
#include "pbdecodetest/three.pb-c.h"
#include "pbdecodetest/two.pb-c.h"

/* --- an allocator that checks its frees ----------------------------------- */

#define LIVE 0x6C6976655F626C6BULL
#define DEAD 0x646561645F626C6BULL

struct track {
	size_t live;
	size_t bad; /* frees of blocks it did not hand out, or twice */
};

static void *
track_alloc(void *ad, size_t n)
{
	struct track *t = ad;
	uint64_t *h = malloc(16 + n);
	if (h == NULL) {
		return NULL;
	}
	h[0] = LIVE;
	h[1] = n;
	t->live++;
	return h + 2;
}

static void
track_free(void *ad, void *p)
{
	struct track *t = ad;
	uint64_t *h = (uint64_t *) p - 2;
	if (h[0] != LIVE) {
		t->bad++;
		return;
	}
	h[0] = DEAD;
	t->live--;
	free(h);
}

/* --- comparison ----------------------------------------------------------- */

pbdiff_decoder_fn *pbdiff_decoder = od_pb_unpack;

#define FAIL(...) \
	do { \
		snprintf(why, why_len, __VA_ARGS__); \
		return false; \
	} while (0)

static bool
equal_value(const ProtobufCFieldDescriptor *f, const void *a, const void *b, const char *where,
    char *why, size_t why_len)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *sa = *(char *const *) a;
		const char *sb = *(char *const *) b;
		if ((sa == NULL) != (sb == NULL) ||
		    (sa == f->default_value) != (sb == f->default_value)) {
			FAIL("%s.%s: string %p vs %p (default %p)", where, f->name,
			    (const void *) sa, (const void *) sb, f->default_value);
		}
		if (sa != NULL && strcmp(sa, sb) != 0) {
			FAIL("%s.%s: \"%.40s\" vs \"%.40s\"", where, f->name, sa, sb);
		}
		return true;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *ba = a;
		const ProtobufCBinaryData *bb = b;
		const ProtobufCBinaryData *def = f->default_value;
		if (ba->len != bb->len || (ba->data == NULL) != (bb->data == NULL) ||
		    (def != NULL && (ba->data == def->data) != (bb->data == def->data))) {
			FAIL("%s.%s: bytes of %zu vs %zu", where, f->name, ba->len, bb->len);
		}
		if (ba->len > 0 && memcmp(ba->data, bb->data, ba->len) != 0) {
			FAIL("%s.%s: bytes differ", where, f->name);
		}
		return true;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *ma = *(ProtobufCMessage *const *) a;
		const ProtobufCMessage *mb = *(ProtobufCMessage *const *) b;
		if ((ma == NULL) != (mb == NULL)) {
			FAIL("%s.%s: message %s vs %s", where, f->name, ma ? "set" : "NULL",
			    mb ? "set" : "NULL");
		}
		return ma == NULL || pbdiff_equal(ma, mb, why, why_len);
	}
	default:
		if (memcmp(a, b, od_pb_field_size(f)) != 0) {
			FAIL("%s.%s: values differ", where, f->name);
		}
		return true;
	}
}

bool
pbdiff_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why, size_t why_len)
{
	const ProtobufCMessageDescriptor *d = a->descriptor;
	if (b->descriptor != d) {
		FAIL("descriptor %s vs %s", d->name, b->descriptor ? b->descriptor->name : "NULL");
	}
	const char *ca = (const char *) a;
	const char *cb = (const char *) b;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *qa = ca + f->quantifier_offset;
		const void *qb = cb + f->quantifier_offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t na = *(const size_t *) qa;
			size_t nb = *(const size_t *) qb;
			if (na != nb) {
				FAIL("%s.%s: %zu vs %zu elements", d->name, f->name, na, nb);
			}
			const char *ea = *(char *const *) (ca + f->offset);
			const char *eb = *(char *const *) (cb + f->offset);
			size_t size = od_pb_field_size(f);
			for (size_t k = 0; k < na; k++) {
				if (!equal_value(
				        f, ea + k * size, eb + k * size, d->name, why, why_len)) {
					return false;
				}
			}
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			uint32_t wa = *(const uint32_t *) qa;
			uint32_t wb = *(const uint32_t *) qb;
			if (wa != wb) {
				FAIL("%s.%s: oneof case %u vs %u", d->name, f->name, wa, wb);
			}
			if (wa != f->id) {
				continue;
			}
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
		    *(const protobuf_c_boolean *) qa != *(const protobuf_c_boolean *) qb) {
			FAIL("%s.has_%s: %d vs %d", d->name, f->name,
			    *(const protobuf_c_boolean *) qa, *(const protobuf_c_boolean *) qb);
		}
		if (!equal_value(f, ca + f->offset, cb + f->offset, d->name, why, why_len)) {
			return false;
		}
	}
	if (a->n_unknown_fields != b->n_unknown_fields) {
		FAIL("%s: %zu vs %zu unknown fields", d->name, (size_t) a->n_unknown_fields,
		    (size_t) b->n_unknown_fields);
	}
	for (size_t k = 0; k < a->n_unknown_fields; k++) {
		const ProtobufCMessageUnknownField *ua = &a->unknown_fields[k];
		const ProtobufCMessageUnknownField *ub = &b->unknown_fields[k];
		if (ua->tag != ub->tag || ua->wire_type != ub->wire_type || ua->len != ub->len ||
		    memcmp(ua->data, ub->data, ua->len) != 0) {
			FAIL("%s: unknown field %zu (tag %u vs %u)", d->name, k, ua->tag, ub->tag);
		}
	}
	return true;
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *n)
{
	*n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(*n + 1);
	if (p != NULL && protobuf_c_message_pack(m, p) != *n) {
		free(p);
		p = NULL;
	}
	return p;
}

static bool
same(const ProtobufCMessage *ref, const ProtobufCMessage *m, const uint8_t *ref_packed,
    size_t ref_n, const char *who, char *why, size_t why_len)
{
	char inner[200];
	if (!pbdiff_equal(ref, m, inner, sizeof(inner))) {
		FAIL("%s: %s", who, inner);
	}
	size_t n;
	uint8_t *p = pack(m, &n);
	bool ok = p != NULL && ref_packed != NULL && n == ref_n && memcmp(p, ref_packed, n) == 0;
	free(p);
	if (!ok) {
		FAIL("%s: packs to other bytes (%zu vs %zu)", who, n, ref_n);
	}
	return true;
}

/* The reference for od_pb_unpack_checked's strings, read on the wire
 * alone: true when every string field of a message of type d in p[0..n),
 * at any depth, is valid UTF-8 without NUL and at most max bytes;
 * otherwise *bad says where (field NULL: nested deeper than
 * OD_PB_NESTING_MAX). Bytes that do not parse end the walk: they are the
 * decoder's to refuse. */
static bool
wire_strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, size_t max,
    od_pb_bad_string *bad)
{
	if (++bad->depth > OD_PB_NESTING_MAX) {
		bad->msg = d;
		bad->field = NULL;
		return false;
	}
	size_t i = 0;
	od_pb_wire w;
	while (od_pb_wire_next(p, n, &i, &w)) {
		const ProtobufCFieldDescriptor *f =
		    w.type == 2 ? protobuf_c_message_descriptor_get_field(d, w.number) : NULL;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (!wire_strings_ok(f->descriptor, w.data, w.len, max, bad)) {
				return false;
			}
		} else if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
		    (w.len > max || !od_utf8_valid((const char *) w.data, w.len))) {
			bad->msg = d;
			bad->field = f;
			bad->len = w.len;
			bad->too_long = w.len > max;
			return false;
		}
	}
	bad->depth--;
	return true;
}

/* od_pb_unpack_checked with strings of at most max bytes, against
 * od_pb_unpack followed by wire_strings_ok: it refuses what the decoder
 * refuses, accepts (the same message) what both accept, and refuses what
 * only the string check refuses, naming the same field, giving back all
 * it took. */
static bool
checked_agrees(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, size_t max,
    char *why, size_t why_len)
{
	struct track t = {0, 0};
	ProtobufCAllocator tracking = {track_alloc, track_free, &t};
	od_pb_bad_string bs = {0}, bc = {0};
	ProtobufCMessage *u = od_pb_unpack(desc, NULL, n, p);
	bool s = u == NULL || wire_strings_ok(desc, p, n, max, &bs);
	ProtobufCMessage *c = od_pb_unpack_checked(desc, &tracking, n, p, max, &bc);
	bool ok = true;
	if (u == NULL && c != NULL) {
		snprintf(why, why_len, "%s: checked accepts what od_pb_unpack refuses", desc->name);
		ok = false;
	} else if (u != NULL && s) {
		ok = c != NULL && bc.msg == NULL;
		if (!ok) {
			snprintf(why, why_len, "%s: checked (max %zu) refuses good strings",
			    desc->name, max);
		} else if (!pbdiff_equal(u, c, why, why_len)) {
			ok = false;
		}
	} else if (u != NULL) {
		ok = c == NULL && bc.msg == bs.msg && bc.field == bs.field &&
		    bc.too_long == bs.too_long;
		if (!ok) {
			snprintf(why, why_len,
			    "%s: checked (max %zu) and the wire walk disagree on a bad string "
			    "(%s / %s)",
			    desc->name, max, bc.field != NULL ? bc.field->name : "-",
			    bs.field != NULL ? bs.field->name : "-");
		}
	}
	protobuf_c_message_free_unpacked(u, NULL);
	if (c != NULL) {
		protobuf_c_message_free_unpacked(c, &tracking);
	}
	if (ok && (t.live != 0 || t.bad != 0)) {
		snprintf(why, why_len, "%s: checked left %zu blocks, %zu bad frees", desc->name,
		    t.live, t.bad);
		ok = false;
	}
	return ok;
}

/* True when every non-empty bytes field of m, at any depth, points into
 * p[0..n) (or is its field's default): what od_pb_unpack_in_place
 * promises. */
static bool
bytes_within(const ProtobufCMessage *m, const uint8_t *p, size_t n)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *member = (const char *) m + f->offset;
		bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
		size_t count =
		    repeated ? *(const size_t *) ((const char *) m + f->quantifier_offset) : 1;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *) ((const char *) m + f->quantifier_offset) != f->id) {
			continue;
		}
		for (size_t k = 0; k < count; k++) {
			if (f->type == PROTOBUF_C_TYPE_BYTES) {
				const ProtobufCBinaryData *b = repeated
				    ? &(*(ProtobufCBinaryData *const *) member)[k]
				    : (const ProtobufCBinaryData *) member;
				const ProtobufCBinaryData *def = f->default_value;
				bool is_default = !repeated && def != NULL && b->data == def->data;
				if (b->len > 0 && !is_default &&
				    (b->data < p || b->data + b->len > p + n)) {
					return false;
				}
			} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessage *sm = repeated
				    ? (*(ProtobufCMessage *const *const *) member)[k]
				    : *(ProtobufCMessage *const *) member;
				if (sm != NULL && !bytes_within(sm, p, n)) {
					return false;
				}
			}
		}
	}
	return true;
}

/* od_pb_unpack_in_place against protobuf-c's result ref (NULL: refused):
 * the same refusals (besides nesting too deep), equal results, and bytes
 * that point into the input. */
static bool
in_place_agrees(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n,
    const ProtobufCMessage *ref, od_arena *arena, char *why, size_t why_len)
{
	ProtobufCMessage *m = od_pb_unpack_in_place(desc, arena, n, p);
	if (m == NULL) {
		if (ref != NULL && pbdiff_wire_depth(desc, p, n) <= OD_PB_NESTING_MAX) {
			FAIL("%s: in place refuses what protobuf-c accepts", desc->name);
		}
		return true;
	}
	if (ref == NULL) {
		FAIL("%s: in place accepts what protobuf-c refuses", desc->name);
	}
	char inner[200];
	if (!pbdiff_equal(ref, m, inner, sizeof(inner))) {
		FAIL("%s: in place: %s", desc->name, inner);
	}
	if (!bytes_within(m, p, n)) {
		FAIL("%s: in place: a bytes field was copied", desc->name);
	}
	return true;
}

enum pbdiff_outcome
pbdiff_compare(
    const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n, char *why, size_t why_len)
{
	static od_arena arena;
	static bool arena_ready;
	char scratch[256];
	if (why == NULL) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	why[0] = '\0';
	if (!arena_ready) {
		od_arena_init(&arena, (size_t) 1 << 30);
		arena_ready = true;
	}
	od_arena_reset(&arena);
	struct track t = {0, 0};
	ProtobufCAllocator tracking = {track_alloc, track_free, &t};

	ProtobufCMessage *ref = protobuf_c_message_unpack(desc, NULL, n, p);
	ProtobufCMessage *ours = pbdiff_decoder(desc, NULL, n, p);
	ProtobufCMessage *tracked = pbdiff_decoder(desc, &tracking, n, p);
	ProtobufCMessage *in_arena = pbdiff_decoder(desc, &arena.pb, n, p);
	enum pbdiff_outcome out = PBDIFF_MISMATCH;
	size_t live_after_decode = t.live;

	if (ref == NULL) {
		if (ours != NULL || tracked != NULL || in_arena != NULL) {
			snprintf(why, why_len, "%s: protobuf-c refuses, od_pb_unpack accepts",
			    desc->name);
		} else if (t.live != 0 || t.bad != 0) {
			snprintf(why, why_len, "%s: refused, but %zu blocks kept, %zu bad frees",
			    desc->name, t.live, t.bad);
		} else {
			out = PBDIFF_BOTH_REFUSE;
		}
	} else if (ours == NULL || tracked == NULL || in_arena == NULL) {
		if (ours != NULL || tracked != NULL || in_arena != NULL) {
			snprintf(why, why_len, "%s: od_pb_unpack accepts with one allocator only",
			    desc->name);
		} else if (t.live != 0 || t.bad != 0) {
			snprintf(why, why_len, "%s: refused, but %zu blocks kept, %zu bad frees",
			    desc->name, t.live, t.bad);
		} else if (pbdiff_wire_depth(desc, p, n) > OD_PB_NESTING_MAX) {
			out = PBDIFF_TOO_DEEP;
		} else {
			snprintf(why, why_len, "%s: od_pb_unpack refuses what protobuf-c accepts",
			    desc->name);
		}
	} else {
		size_t ref_n;
		uint8_t *ref_packed = pack(ref, &ref_n);
		if (same(ref, ours, ref_packed, ref_n, "malloc", why, why_len) &&
		    same(ref, tracked, ref_packed, ref_n, "tracked", why, why_len) &&
		    same(ref, in_arena, ref_packed, ref_n, "arena", why, why_len)) {
			out = PBDIFF_BOTH_ACCEPT;
		}
		free(ref_packed);
	}
	if (out != PBDIFF_MISMATCH && pbdiff_decoder == od_pb_unpack &&
	    (!checked_agrees(desc, p, n, SIZE_MAX, why, why_len) ||
	        !checked_agrees(desc, p, n, 8, why, why_len) ||
	        !in_place_agrees(desc, p, n, ref, &arena, why, why_len))) {
		out = PBDIFF_MISMATCH;
	}
	protobuf_c_message_free_unpacked(ref, NULL);
	protobuf_c_message_free_unpacked(ours, NULL);
	if (tracked != NULL) {
		protobuf_c_message_free_unpacked(tracked, &tracking);
		if (out != PBDIFF_MISMATCH && (t.live != 0 || t.bad != 0)) {
			snprintf(why, why_len,
			    "%s: free_unpacked left %zu of %zu blocks and made %zu bad frees",
			    desc->name, t.live, live_after_decode, t.bad);
			out = PBDIFF_MISMATCH;
		}
	}
	return out;
}

unsigned
pbdiff_wire_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n)
{
	unsigned deepest = 1;
	size_t i = 0;
	while (i < n) {
		uint64_t key, v;
		if (!od_pb_varint(p, n, &i, &key)) {
			break;
		}
		switch (key & 7) {
		case 0:
			if (!od_pb_varint(p, n, &i, &v)) {
				return deepest;
			}
			continue;
		case 1:
		case 5:
			i += (key & 7) == 1 ? 8 : 4;
			continue;
		case 2:
			if (!od_pb_varint(p, n, &i, &v) || v > n - i) {
				return deepest;
			}
			break;
		default:
			return deepest;
		}
		const ProtobufCFieldDescriptor *f = od_pb_field_of(desc, (uint32_t) (key >> 3));
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
			unsigned d = 1 + pbdiff_wire_depth(f->descriptor, p + i, (size_t) v);
			deepest = d > deepest ? d : deepest;
		}
		i += (size_t) v;
	}
	return deepest;
}

/* --- the message types ------------------------------------------------------ */

#define DESCS_MAX 128
static const ProtobufCMessageDescriptor *descs[DESCS_MAX];
static size_t n_descs;

static void
add_reachable(const ProtobufCMessageDescriptor *d)
{
	for (size_t i = 0; i < n_descs; i++) {
		if (descs[i] == d) {
			return;
		}
	}
	if (n_descs == DESCS_MAX) {
		abort();
	}
	descs[n_descs++] = d;
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE) {
			add_reachable(d->fields[i].descriptor);
		}
	}
}

size_t
pbdiff_all_descriptors(const ProtobufCMessageDescriptor ***out)
{
	if (n_descs == 0) {
		const ProtobufCServiceDescriptor *s = &orgdir__v1__org_directory__descriptor;
		add_reachable(&orgdir__v1__request__descriptor);
		add_reachable(&orgdir__v1__response__descriptor);
		for (unsigned i = 0; i < s->n_methods; i++) {
			add_reachable(s->methods[i].input);
			add_reachable(s->methods[i].output);
		}
		add_reachable(&pbdecodetest__two__descriptor);
		add_reachable(&pbdecodetest__needs__descriptor);
		add_reachable(&pbdecodetest__three__descriptor);
		add_reachable(&pbdecodetest__empty__descriptor);
		add_reachable(&pbdecodetest__wide__descriptor);
	}
	*out = descs;
	return n_descs;
}

/* --- random numbers ---------------------------------------------------------- */

void
pbdiff_seed(pbdiff_rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (r->s == 0) {
		r->s = 1;
	}
}

uint64_t
pbdiff_next(pbdiff_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint32_t
pbdiff_below(pbdiff_rng *r, uint32_t n)
{
	return (uint32_t) ((pbdiff_next(r) >> 32) % n);
}

/* --- filled messages -------------------------------------------------------- */

static const char *const texts[] = {
    "",
    "iom",
    "Organisation internationale pour les migrations",
    "Международная организация по миграции",
    "国际移民组织",
    "المنظمة الدولية للهجرة",
    "a\x7f\x01 \xc3\xa9",
    "Département de la gestion des migrations et de l'assistance humanitaire, bureau "
    "régional pour l'Europe de l'Est et l'Asie centrale, unité de la protection (avec un "
    "nom assez long pour qu'il faille deux octets de longueur sur le fil, soit plus de 127)",
};

static const int64_t ints[] = {0, 1, -1, INT32_MIN, INT32_MAX, 150, -150, INT64_MIN, INT64_MAX,
    (int64_t) 1 << 40, 300, 127, 128};

static void
fill_value(const ProtobufCFieldDescriptor *f, void *dst, od_arena *a, unsigned v, unsigned depth)
{
	int64_t i = ints[v % OD_ARRAY_LEN(ints)];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t u = (uint32_t) i;
		memcpy(dst, &u, 4);
		break;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		memcpy(dst, &i, 8);
		break;
	case PROTOBUF_C_TYPE_FLOAT: {
		static const float fl[] = {0.0f, -0.0f, 1.5f, NAN, INFINITY, FLT_MIN, -3e38f};
		memcpy(dst, &fl[v % OD_ARRAY_LEN(fl)], 4);
		break;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		static const double db[] = {0.0, -0.0, -2.25, NAN, -INFINITY, DBL_MIN, 1e300};
		memcpy(dst, &db[v % OD_ARRAY_LEN(db)], 8);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean b = (v % 3) != 0;
		memcpy(dst, &b, sizeof(b));
		break;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		int32_t x = v % 5 == 4 ? 12345 : e->values[v % e->n_values].value;
		memcpy(dst, &x, 4);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = texts[v % OD_ARRAY_LEN(texts)];
		char *c = od_arena_strndup(a, s, strlen(s));
		memcpy(dst, &c, sizeof(c));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		static const uint8_t raw[200] = {0x00, 0xFF, 0x80, 0x7F, 0x0A, 0x01};
		static const size_t lens[] = {0, 1, 3, 6, 200};
		ProtobufCBinaryData bd = {lens[v % OD_ARRAY_LEN(lens)], NULL};
		if (bd.len > 0) {
			bd.data = od_arena_alloc(a, bd.len);
			memcpy(bd.data, raw, bd.len);
		}
		memcpy(dst, &bd, sizeof(bd));
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *m = pbdiff_fill(f->descriptor, a, v + 1, depth);
		memcpy(dst, &m, sizeof(m));
		break;
	}
	}
}

ProtobufCMessage *
pbdiff_fill(const ProtobufCMessageDescriptor *desc, od_arena *a, unsigned variant, unsigned depth)
{
	ProtobufCMessage *m = od_arena_alloc(a, desc->sizeof_message);
	protobuf_c_message_init(desc, m);
	char *c = (char *) m;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		unsigned v = variant * 7 + i;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth == 0) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = variant % 3 + 1;
			size_t size = od_pb_field_size(f);
			char *arr = od_arena_alloc(a, n * size);
			for (size_t k = 0; k < n; k++) {
				fill_value(f, arr + k * size, a, v + (unsigned) k, depth - 1);
			}
			memcpy(c + f->quantifier_offset, &n, sizeof(n));
			memcpy(c + f->offset, &arr, sizeof(arr));
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			/* One member per oneof: the variant picks which. */
			unsigned before = 0, members = 0;
			for (unsigned k = 0; k < desc->n_fields; k++) {
				const ProtobufCFieldDescriptor *g = &desc->fields[k];
				if ((g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
				    g->quantifier_offset == f->quantifier_offset) {
					before += k < i;
					members++;
				}
			}
			if (before != variant % members) {
				continue;
			}
			memcpy(c + f->quantifier_offset, &f->id, sizeof(uint32_t));
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
			protobuf_c_boolean has = 1;
			memcpy(c + f->quantifier_offset, &has, sizeof(has));
		}
		fill_value(f, c + f->offset, a, v, depth - 1);
	}
	return m;
}

/* --- random wire ------------------------------------------------------------ */

static void
put_varint_padded(od_buf *out, uint64_t v, unsigned extra)
{
	while (v >= 0x80 || extra > 0) {
		uint8_t b = (uint8_t) (v & 0x7F) | 0x80;
		v >>= 7;
		if (v == 0 && extra > 0) {
			extra--;
			if (extra == 0) {
				od_buf_append(out, &b, 1);
				b = 0;
				od_buf_append(out, &b, 1);
				return;
			}
		}
		od_buf_append(out, &b, 1);
	}
	uint8_t b = (uint8_t) v;
	od_buf_append(out, &b, 1);
}

/* A varint, mostly minimal, sometimes padded (valid up to 10 bytes). */
static void
put_some_varint(pbdiff_rng *r, od_buf *out, uint64_t v)
{
	unsigned c = pbdiff_below(r, 40);
	put_varint_padded(out, v, c == 0 ? 1 + pbdiff_below(r, 9) : 0);
}

static uint64_t
some_value(pbdiff_rng *r)
{
	static const uint64_t pool[] = {0, 1, 127, 128, 300, UINT64_MAX, (uint64_t) INT32_MIN,
	    (uint64_t) 1 << 31, (uint64_t) 1 << 32, (uint64_t) 1 << 63, 0xFFFFFFFF, 2, 3};
	if (pbdiff_below(r, 4) == 0) {
		return pbdiff_next(r) >> pbdiff_below(r, 64);
	}
	return pool[pbdiff_below(r, OD_ARRAY_LEN(pool))];
}

static void
put_key(pbdiff_rng *r, od_buf *out, uint64_t number, unsigned wt)
{
	unsigned c = pbdiff_below(r, 60);
	put_varint_padded(out, number << 3 | wt, c == 0 ? 1 + pbdiff_below(r, 4) : 0);
}

/* A varint value with the odd ones protobuf-c treats specially: 10 bytes
 * with bits past the 64th, 11 bytes. */
static void
put_value(pbdiff_rng *r, od_buf *out)
{
	unsigned c = pbdiff_below(r, 50);
	if (c == 0) {
		static const uint8_t ten[] = {
		    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7E};
		od_buf_append(out, ten, sizeof(ten));
	} else if (c == 1) {
		static const uint8_t eleven[] = {
		    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00};
		od_buf_append(out, eleven, sizeof(eleven));
	} else {
		put_some_varint(r, out, some_value(r));
	}
}

static void
put_random_bytes(pbdiff_rng *r, od_buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t) pbdiff_next(r);
		od_buf_append(out, &b, 1);
	}
}

/* A length prefix and payload; now and then a wrong or over-long prefix. */
static void
put_len(pbdiff_rng *r, od_buf *out, const uint8_t *p, size_t n)
{
	unsigned c = pbdiff_below(r, 80);
	uint64_t len = n;
	if (c == 0 && n > 0) {
		len = n - 1;
	} else if (c == 1) {
		len = n + 1 + pbdiff_below(r, 3);
	}
	put_varint_padded(out, len, c == 2 ? 1 + pbdiff_below(r, 5) : 0);
	od_buf_append(out, p, n);
}

static unsigned
wire_type_of(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 5;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 1;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

static void gen_fields(pbdiff_rng *r, const ProtobufCMessageDescriptor *desc, od_buf *out,
    unsigned depth, unsigned count);

/* A payload of wire type 2 for f: a message, text, or a packed run. */
static void
gen_payload(pbdiff_rng *r, const ProtobufCFieldDescriptor *f, od_buf *out, unsigned depth)
{
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (depth < 5) {
			gen_fields(r, f->descriptor, out, depth + 1, pbdiff_below(r, 5));
		}
		return;
	}
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
	    pbdiff_below(r, 8) == 0) {
		if (pbdiff_below(r, 3) == 0) {
			put_random_bytes(r, out, pbdiff_below(r, 12));
		} else {
			const char *s = texts[pbdiff_below(r, OD_ARRAY_LEN(texts))];
			od_buf_append(out, s, strlen(s));
		}
		return;
	}
	unsigned k = pbdiff_below(r, 6);
	unsigned wt = wire_type_of(f);
	for (unsigned i = 0; i < k; i++) {
		if (wt == 0) {
			put_value(r, out);
		} else {
			put_random_bytes(r, out, wt == 1 ? 8 : 4);
		}
	}
	if (pbdiff_below(r, 15) == 0) {
		put_random_bytes(r, out, 1 + pbdiff_below(r, 3)); /* a cut value */
	}
}

/* A message field f nested `levels` deep in itself (f->descriptor == the
 * message holding f): past the decoder's cap. */
static void
gen_chain(pbdiff_rng *r, const ProtobufCFieldDescriptor *f, od_buf *out, unsigned levels)
{
	od_buf inner;
	od_buf_init(&inner, SIZE_MAX);
	gen_fields(r, f->descriptor, &inner, 6, 1);
	for (unsigned i = 0; i < levels; i++) {
		od_buf next;
		od_buf_init(&next, SIZE_MAX);
		od_pb_put_len_field(&next, f->id, inner.data, inner.len);
		od_buf_free(&inner);
		inner = next;
	}
	od_buf_append(out, inner.data, inner.len);
	od_buf_free(&inner);
}

static void
gen_field(pbdiff_rng *r, const ProtobufCFieldDescriptor *f, od_buf *out, unsigned depth)
{
	unsigned wt = wire_type_of(f);
	unsigned c = pbdiff_below(r, 100);
	if (c < 8) {
		static const unsigned other[] = {0, 1, 2, 5};
		wt = other[pbdiff_below(r, 4)];
	} else if (f->label == PROTOBUF_C_LABEL_REPEATED && wt != 2 && c < 50) {
		wt = 2; /* packed */
	} else if (c == 99 && depth == 0 && f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessageDescriptor *sub = f->descriptor;
		for (unsigned i = 0; i < sub->n_fields; i++) {
			const ProtobufCFieldDescriptor *g = &sub->fields[i];
			if (g->type == PROTOBUF_C_TYPE_MESSAGE && g->descriptor == sub) {
				od_buf chain;
				od_buf_init(&chain, SIZE_MAX);
				gen_chain(r, g, &chain, OD_PB_NESTING_MAX - 2 + pbdiff_below(r, 6));
				put_key(r, out, f->id, 2);
				put_len(r, out, chain.data, chain.len);
				od_buf_free(&chain);
				return;
			}
		}
	}
	put_key(r, out, f->id, wt);
	switch (wt) {
	case 0:
		put_value(r, out);
		break;
	case 1:
	case 5:
		put_random_bytes(r, out, wt == 1 ? 8 : 4);
		break;
	default: {
		od_buf payload;
		od_buf_init(&payload, SIZE_MAX);
		gen_payload(r, f, &payload, depth);
		put_len(r, out, payload.data, payload.len);
		od_buf_free(&payload);
		break;
	}
	}
}

static void
gen_fields(pbdiff_rng *r, const ProtobufCMessageDescriptor *desc, od_buf *out, unsigned depth,
    unsigned count)
{
	size_t starts[24];
	unsigned n_starts = 0;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
		    pbdiff_below(r, 10) != 0) {
			gen_field(r, &desc->fields[i], out, depth);
		}
	}
	for (unsigned k = 0; k < count; k++) {
		size_t at = out->len;
		unsigned c = pbdiff_below(r, 100);
		if (c < 70 && desc->n_fields > 0) {
			gen_field(r, &desc->fields[pbdiff_below(r, desc->n_fields)], out, depth);
		} else if (c < 80) {
			/* Unknown: a number no field has, up to 2^32 - 1, or 0 (a two-byte key). */
			static const unsigned wts[] = {0, 1, 2, 5};
			unsigned wt = wts[pbdiff_below(r, 4)];
			uint64_t number = pbdiff_below(r, 4) == 0 ? pbdiff_next(r) >> 32
			                                          : 1 + pbdiff_below(r, 200);
			if (pbdiff_below(r, 10) == 0) {
				put_varint_padded(out, wt, 1);
			} else {
				put_key(r, out, number, wt);
			}
			if (wt == 0) {
				put_value(r, out);
			} else if (wt == 2) {
				uint8_t junk[16];
				size_t n = pbdiff_below(r, sizeof(junk));
				for (size_t i = 0; i < n; i++) {
					junk[i] = (uint8_t) pbdiff_next(r);
				}
				put_len(r, out, junk, n);
			} else {
				put_random_bytes(r, out, wt == 1 ? 8 : 4);
			}
		} else if (c < 84 && desc->n_fields > 0) {
			/* Groups and the wire types that do not exist. */
			static const unsigned bad[] = {3, 4, 6, 7};
			put_key(r, out, desc->fields[pbdiff_below(r, desc->n_fields)].id,
			    bad[pbdiff_below(r, 4)]);
		} else if (c < 97 && n_starts > 0) {
			/* A field again: last wins, merges, oneof replacement. */
			unsigned j = pbdiff_below(r, n_starts);
			size_t end = j + 1 < n_starts ? starts[j + 1] : at;
			od_buf_reserve(out, end - starts[j]);
			od_buf_append(out, out->data + starts[j], end - starts[j]);
		} else {
			put_random_bytes(r, out, 1 + pbdiff_below(r, 3));
		}
		if (n_starts < OD_ARRAY_LEN(starts) && out->len > at) {
			starts[n_starts++] = at;
		}
	}
}

void
pbdiff_gen(pbdiff_rng *r, const ProtobufCMessageDescriptor *desc, od_buf *out, unsigned depth)
{
	gen_fields(r, desc, out, depth, 2 + pbdiff_below(r, 10));
}

/* --- mutations ------------------------------------------------------------- */

size_t
pbdiff_mutate(pbdiff_rng *r, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	if (n > cap) {
		n = cap;
	}
	memcpy(out, in, n);
	unsigned rounds = 1 + pbdiff_below(r, 3);
	for (unsigned k = 0; k < rounds; k++) {
		unsigned c = pbdiff_below(r, 7);
		size_t at = n > 0 ? pbdiff_below(r, (uint32_t) n) : 0;
		static const uint8_t interesting[] = {0x00, 0x80, 0xFF, 0x7F, 0x01, 0x0A, 0x12};
		if (n == 0) {
			c = 2;
		}
		switch (c) {
		case 0:
			out[at] ^= (uint8_t) (1u << pbdiff_below(r, 8));
			break;
		case 1:
			out[at] = pbdiff_below(r, 2)
			    ? (uint8_t) pbdiff_next(r)
			    : interesting[pbdiff_below(r, sizeof(interesting))];
			break;
		case 2: { /* insert */
			size_t k2 = 1 + pbdiff_below(r, 4);
			if (n + k2 > cap) {
				break;
			}
			memmove(out + at + k2, out + at, n - at);
			for (size_t i = 0; i < k2; i++) {
				out[at + i] = pbdiff_below(r, 2)
				    ? (uint8_t) pbdiff_next(r)
				    : interesting[pbdiff_below(r, sizeof(interesting))];
			}
			n += k2;
			break;
		}
		case 3: { /* delete */
			size_t k2 = 1 + pbdiff_below(r, 8);
			if (k2 > n - at) {
				k2 = n - at;
			}
			memmove(out + at, out + at + k2, n - at - k2);
			n -= k2;
			break;
		}
		case 4: { /* copy a range elsewhere */
			size_t len = 1 + pbdiff_below(r, 32);
			if (len > n - at) {
				len = n - at;
			}
			if (n + len > cap) {
				break;
			}
			size_t to = pbdiff_below(r, (uint32_t) n + 1);
			uint8_t tmp[32];
			memcpy(tmp, out + at, len);
			memmove(out + to + len, out + to, n - to);
			memcpy(out + to, tmp, len);
			n += len;
			break;
		}
		case 5:
			n = at;
			break;
		default: /* a length or key byte made larger or smaller */
			out[at] = (uint8_t) (out[at] + (pbdiff_below(r, 2) ? 1 : 0xFF));
			break;
		}
	}
	return n;
}
