/*
 * pbdecode.c - od_pb_unpack: protobuf-c 1.4.1's protobuf_c_message_unpack,
 * same results, fewer instructions.
 *
 * protobuf-c reads each message twice: a scan that records every field in
 * slabs and counts repeated elements, then a parse of the slabs. Here one
 * pass reads and stores each field as it comes:
 *  - a message type's fields are looked up by a plan made the first time
 *    the process meets the type; the loop in fill reads the common fields by it
 *    (one-byte key; string, message, integer), everything else goes to
 *    general_field, which follows protobuf-c step by step;
 *  - repeated arrays and unknown fields grow (4, 8, 16, ...; the capacity
 *    follows from the count, so nothing is stored), each array one block of
 *    the allocator at the end as free_unpacked expects, old ones given back;
 *  - od_arena allocations are inlined when the allocator is an od_arena.
 *
 * Every refusal of protobuf-c's is kept, including its quirks: a key or a
 * length prefix of more than 5 bytes, a length over INT_MAX, a first key
 * byte with field number 0 (an 0x80 0x00 key is field 0 and kept as
 * unknown), a bool read from any wire type's bytes, a proto3 scalar of a
 * later copy of a submessage winning even when unset, a merge of two copies
 * of a submessage whose oneof neither sets. Its errors all end in NULL, so
 * finding one earlier or later in one pass changes nothing.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "od.h"

/* store_string copies short strings 16 or 32 bytes at a time into od_arena
 * blocks, which end at the next multiple of OD_ARENA_ALIGN. */
_Static_assert(OD_ARENA_ALIGN % 16 == 0, "od_arena blocks must end on 16-byte multiples");

/*
 * What the decoder learns about a message type the first time it reads one:
 * its first range of field numbers, whether it has required fields (the
 * only types that need a check at the end of a message), and, for the keys
 * of one byte (fields 1 to 15), what the loop in fill does with the field:
 * `op`, by the whole key byte, so a field on another wire type than its
 * own finds FAST_NONE. Plans are made once per process and kept in a table
 * every thread reads without a lock (a small request is decoded in a few
 * hundred instructions: making its plan on each call would cost more); a
 * plan never changes once published, except for `sub`, which only ever
 * goes from NULL to the one plan of that field's type. The table owns the
 * plans for the life of the process; a type it has no room for gets a plan
 * on the stack of the call that meets it.
 */
#define PLANS 256

enum fast_op {
	FAST_NONE, /* general_field */
	FAST_STRING, /* singular string, no presence flag */
	FAST_MESSAGE, /* singular message */
	FAST_VAR32, /* singular int32, uint32 or enum, no presence flag */
	FAST_VAR64, /* singular int64 or uint64, no presence flag */
	FAST_STRINGS, /* element of a repeated string */
	FAST_MESSAGES, /* element of a repeated message */
};

struct plan {
	const ProtobufCMessageDescriptor *desc;
	od_pb_fields fields;
	bool required;
	uint8_t op[256]; /* by key byte: keys of more bytes are FAST_NONE */
	const ProtobufCFieldDescriptor *field[16]; /* by field number */
	struct plan *_Atomic sub[16]; /* plans of message fields, once known */
};

static struct plan *_Atomic plans[PLANS];
static pthread_mutex_t plans_mu = PTHREAD_MUTEX_INITIALIZER;

struct dec {
	ProtobufCAllocator *a;
	od_arena *arena; /* a is this arena's allocator: allocate inline */
	const uint8_t *end; /* of the whole input */
	od_pb_bad_string *bad; /* od_pb_unpack_checked: where a string failed */
	size_t str_max; /* with bad: the longest string accepted */
	const ProtobufCMessageDescriptor *cur; /* with bad: the message being read */
	bool alias; /* od_pb_unpack_in_place: bytes fields point into the input */
};

/* One field as read off the wire: what follows its key. `len` counts from
 * `data` to the field's end, the length prefix included, as protobuf-c's
 * ScannedMember does (an unknown field keeps exactly those bytes). */
struct wire {
	uint32_t tag;
	uint8_t type;
	uint8_t pre; /* length prefix bytes, wire type 2 */
	const uint8_t *data;
	size_t len;
	uint64_t v; /* wire type 0 */
};

/* A message being read. */
struct msg {
	struct plan *pl;
	unsigned depth; /* of m: 1 at the top */
	ProtobufCMessage *m;
	const uint8_t *p;
	size_t n;
	uint64_t *seen; /* required fields seen, by index; NULL: none to check */
};

static void *
sys_alloc(void *ad, size_t n)
{
	(void) ad;
	return malloc(n);
}

static void
sys_free(void *ad, void *p)
{
	(void) ad;
	free(p);
}

ProtobufCAllocator od_pb_sys_allocator = {sys_alloc, sys_free, NULL};

static inline void *
dalloc(struct dec *d, size_t n)
{
	if (d->arena != NULL) {
		return od_arena_alloc(d->arena, n);
	}
	return d->a->alloc(d->a->allocator_data, n);
}

static inline void
dfree(struct dec *d, void *p)
{
	if (p != NULL) {
		d->a->free(d->a->allocator_data, p);
	}
}

static inline void *
member_of(void *m, unsigned offset)
{
	return (char *) m + offset;
}

static inline size_t *
count_of(void *m, const ProtobufCFieldDescriptor *f)
{
	return (size_t *) member_of(m, f->quantifier_offset);
}

/* --- plans ------------------------------------------------------------------ */

/* The op of key (field f, wire type wt). */
static uint8_t
op_of(const ProtobufCFieldDescriptor *f, unsigned wt)
{
	bool single =
	    (f->label == PROTOBUF_C_LABEL_NONE || f->label == PROTOBUF_C_LABEL_OPTIONAL) &&
	    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0 && f->quantifier_offset == 0;
	bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			return FAST_NONE;
		}
		return single ? FAST_STRING : repeated ? FAST_STRINGS : FAST_NONE;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			return FAST_NONE;
		}
		return single ? FAST_MESSAGE : repeated ? FAST_MESSAGES : FAST_NONE;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_ENUM:
		return single && wt == PROTOBUF_C_WIRE_TYPE_VARINT ? FAST_VAR32 : FAST_NONE;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		return single && wt == PROTOBUF_C_WIRE_TYPE_VARINT ? FAST_VAR64 : FAST_NONE;
	default:
		return FAST_NONE;
	}
}

static void
make_plan(struct plan *pl, const ProtobufCMessageDescriptor *desc)
{
	pl->desc = desc;
	od_pb_fields_init(&pl->fields, desc);
	pl->required = false;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		pl->required |= desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
		    desc->fields[i].default_value == NULL;
	}
	memset(pl->op, FAST_NONE, sizeof(pl->op));
	for (unsigned number = 1; number < 16; number++) {
		const ProtobufCFieldDescriptor *f = od_pb_fields_find(&pl->fields, number);
		pl->field[number] = f;
		atomic_init(&pl->sub[number], NULL);
		for (unsigned wt = 0; f != NULL && wt < 8; wt++) {
			pl->op[number << 3 | wt] = op_of(f, wt);
		}
	}
}

/* desc's plan, made the first time; NULL when the table is full (or no
 * memory): the caller then makes one on its stack. */
static struct plan *
plan_of(const ProtobufCMessageDescriptor *desc)
{
	unsigned h = (unsigned) ((uintptr_t) desc >> 5);
	for (unsigned j = 0; j < PLANS; j++) {
		struct plan *e =
		    atomic_load_explicit(&plans[(h + j) % PLANS], memory_order_acquire);
		if (e == NULL) {
			break;
		}
		if (e->desc == desc) {
			return e;
		}
	}
	struct plan *pl = NULL;
	pthread_mutex_lock(&plans_mu);
	for (unsigned j = 0; j < PLANS; j++) {
		struct plan *_Atomic *slot = &plans[(h + j) % PLANS];
		struct plan *e = atomic_load_explicit(slot, memory_order_relaxed);
		if (e != NULL && e->desc == desc) {
			pl = e; /* another thread made it meanwhile */
			break;
		}
		if (e == NULL) {
			if ((pl = malloc(sizeof(*pl))) != NULL) {
				make_plan(pl, desc);
				atomic_store_explicit(slot, pl, memory_order_release);
			}
			break;
		}
	}
	pthread_mutex_unlock(&plans_mu);
	return pl;
}

/* --- the wire --------------------------------------------------------------- */

/* A length prefix at p[*i] and the bytes it counts, advancing *i to them:
 * protobuf-c's, of at most 5 bytes and INT_MAX. */
static inline bool
read_len(const uint8_t *p, size_t n, size_t *i, size_t *len)
{
	size_t start = *i;
	uint64_t v;
	if (start < n && p[start] < 0x80) {
		v = p[start];
		*i = start + 1;
	} else if (!od_pb_varint(p, n, i, &v) || *i - start > 5 || v > INT_MAX) {
		return false;
	}
	if (v > n - *i) {
		return false;
	}
	*len = (size_t) v;
	return true;
}

/* The field at p[*i], advancing *i past it. protobuf-c's scan: keys and
 * length prefixes of at most 5 bytes, varints of at most 10. */
static bool
next_field(const uint8_t *p, size_t n, size_t *i, struct wire *w)
{
	size_t at = *i;
	uint8_t b = p[at];
	if ((b & 0xF8) == 0) {
		return false; /* field 0, as protobuf-c sees it: in the first byte */
	}
	w->type = b & 7;
	if (b < 0x80) {
		w->tag = b >> 3;
		at++;
	} else {
		uint64_t key;
		if (!od_pb_varint(p, n, &at, &key) || at - *i > 5) {
			return false;
		}
		w->tag = (uint32_t) (key >> 3);
	}
	w->data = p + at;
	w->pre = 0;
	w->v = 0;
	size_t start = at;
	switch (w->type) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		if (!od_pb_varint(p, n, &at, &w->v)) {
			return false;
		}
		w->len = at - start;
		break;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		w->len = w->type == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
		if (n - at < w->len) {
			return false;
		}
		at += w->len;
		break;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED: {
		size_t len;
		if (!read_len(p, n, &at, &len)) {
			return false;
		}
		w->pre = (uint8_t) (at - start);
		w->len = w->pre + len;
		at += len;
		break;
	}
	default:
		return false; /* groups (3, 4) and 6, 7 */
	}
	*i = at;
	return true;
}

static inline bool
is_packed(const ProtobufCFieldDescriptor *f, const struct wire *w)
{
	return w->type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED &&
	    ((f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0 ||
	        (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
	            f->type != PROTOBUF_C_TYPE_MESSAGE));
}

/* protobuf-c's bool: true when any of the value's bytes has a bit set
 * besides the continuation bit, whatever the wire type (for type 2 the
 * length prefix counts too). */
static bool
bool_of(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((p[i] & 0x7F) != 0) {
			return true;
		}
	}
	return false;
}

/* Stores varint v as a value of type t: 32-bit types keep the low 32 bits. */
static void
put_varint(ProtobufCType t, uint64_t v, void *dst)
{
	uint32_t u32 = (uint32_t) v;
	switch (t) {
	case PROTOBUF_C_TYPE_SINT32:
		u32 = (u32 >> 1) ^ (~(u32 & 1) + 1);
		memcpy(dst, &u32, 4);
		break;
	case PROTOBUF_C_TYPE_SINT64:
		v = (v >> 1) ^ (~(v & 1) + 1);
		memcpy(dst, &v, 8);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		memcpy(dst, &v, 8);
		break;
	default: /* INT32, UINT32, ENUM */
		memcpy(dst, &u32, 4);
		break;
	}
}

/* --- repeated arrays -------------------------------------------------------- */

/* The capacity of a repeated array holding n > 0 elements: 4, then powers
 * of 2. Arrays only ever grow to it, so it need not be stored. */
static inline size_t
capacity(size_t n)
{
	return n <= 4 ? 4 : (size_t) 1 << (64 - __builtin_clzll((unsigned long long) n - 1));
}

/* Whether appending one element to an array of n needs a larger one. */
static inline bool
full(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

/* Makes room in *arr (n elements of `size` bytes) for `more`: a larger
 * array through the allocator, the old one given back. */
static bool
grow(struct dec *d, void **arr, size_t n, size_t more, size_t size)
{
	if (n > 0 && n + more <= capacity(n)) {
		return true;
	}
	void *a = dalloc(d, capacity(n + more) * size);
	if (a == NULL) {
		return false;
	}
	if (n > 0) {
		memcpy(a, *arr, n * size);
	}
	dfree(d, *arr);
	*arr = a;
	return true;
}

/* The slot for one more element of a repeated string or message field f
 * of m (pointers), or NULL. */
static inline void **
next_pointer_slot(struct dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	size_t n = *count_of(m, f);
	void ***arr = member_of(m, f->offset);
	if (full(n) && !grow(d, (void **) arr, n, 1, sizeof(void *))) {
		return NULL;
	}
	return *arr + n;
}

/* The slot for one more element of repeated field f of m, or NULL. */
static inline void *
next_slot(struct dec *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	size_t n = *count_of(m, f);
	void **arr = member_of(m, f->offset);
	size_t size = od_pb_field_size(f);
	if (full(n) && !grow(d, arr, n, 1, size)) {
		return NULL;
	}
	return (char *) *arr + n * size;
}

/* --- values ----------------------------------------------------------------- */

static ProtobufCMessage *unpack(struct dec *d, unsigned depth,
    const ProtobufCMessageDescriptor *desc, struct plan *pl, const uint8_t *p, size_t n);
static bool merge(struct dec *d, ProtobufCMessage *earlier, ProtobufCMessage *latter);

/* A copy of val[0..len) as string member *ps of field f. `clear`: *ps holds
 * a value already (not a fresh array slot), freed unless the default. */
static inline bool
store_string(struct dec *d, const ProtobufCFieldDescriptor *f, char **ps, const uint8_t *val,
    size_t len, bool clear)
{
	/* Checked before *ps changes: a refusal frees the message as it is. */
	if (d->bad != NULL &&
	    (len > d->str_max || !od_pb_text_ok_in(val, len, (size_t) (d->end - val)))) {
		d->bad->msg = d->cur;
		d->bad->field = f;
		d->bad->len = len;
		d->bad->too_long = len > d->str_max;
		return false;
	}
	if (clear && *ps != f->default_value && *ps != NULL) {
		dfree(d, *ps);
	}
	char *s;
	if (d->arena != NULL) {
		/* An od_arena block has room to the next multiple of 16, and the
		 * input goes on past most strings: copy a fixed 16 or 32. */
		s = *ps = od_arena_alloc(d->arena, len + 1);
		if (s == NULL) {
			return false;
		}
		if (len < 16 && d->end - val >= 16) {
			memcpy(s, val, 16);
		} else if (len < 32 && d->end - val >= 32) {
			memcpy(s, val, 32);
		} else {
			memcpy(s, val, len);
		}
	} else {
		s = *ps = d->a->alloc(d->a->allocator_data, len + 1);
		if (s == NULL) {
			return false;
		}
		memcpy(s, val, len);
	}
	s[len] = '\0';
	return true;
}

/* val[0..len) decoded as message member *pm of field f, a message at
 * `depth` (pl: the plan of f's type, if known). `clear`: *pm may hold an
 * earlier copy, which the new one is merged into. */
static inline bool
store_message(struct dec *d, unsigned depth, const ProtobufCFieldDescriptor *f, struct plan *pl,
    ProtobufCMessage **pm, const uint8_t *val, size_t len, bool clear)
{
	ProtobufCMessage *sub = unpack(d, depth, f->descriptor, pl, val, len);
	bool merged = true;
	if (clear && *pm != NULL && *pm != f->default_value) {
		if (sub != NULL) {
			merged = merge(d, *pm, sub);
		}
		protobuf_c_message_free_unpacked(*pm, d->a);
	}
	*pm = sub;
	return sub != NULL && merged;
}

/* One value of field f into member: protobuf-c's parse_required_member.
 * `clear` as for store_string, depth as for store_message. */
static bool
parse_value(struct dec *d, unsigned depth, const ProtobufCFieldDescriptor *f, const struct wire *w,
    void *member, bool clear)
{
	const uint8_t *val = w->data + w->pre;
	size_t len = w->len - w->pre;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SINT64:
		if (w->type != PROTOBUF_C_WIRE_TYPE_VARINT) {
			return false;
		}
		put_varint(f->type, w->v, member);
		return true;
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		if (w->type != PROTOBUF_C_WIRE_TYPE_32BIT) {
			return false;
		}
		memcpy(member, w->data, 4);
		return true;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (w->type != PROTOBUF_C_WIRE_TYPE_64BIT) {
			return false;
		}
		memcpy(member, w->data, 8);
		return true;
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean b = bool_of(w->data, w->len);
		memcpy(member, &b, sizeof(b));
		return true;
	}
	case PROTOBUF_C_TYPE_STRING:
		return w->type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED &&
		    store_string(d, f, member, val, len, clear);
	case PROTOBUF_C_TYPE_BYTES: {
		if (w->type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
			return false;
		}
		ProtobufCBinaryData *bd = member;
		const ProtobufCBinaryData *def = f->default_value;
		if (clear && bd->data != NULL && (def == NULL || bd->data != def->data)) {
			dfree(d, bd->data);
		}
		bd->data = NULL;
		if (len > 0 && d->alias) {
			bd->data = (uint8_t *) (uintptr_t) val; /* the input outlives it */
		} else if (len > 0) {
			bd->data = dalloc(d, len);
			if (bd->data == NULL) {
				return false;
			}
			memcpy(bd->data, val, len);
		}
		bd->len = len;
		return true;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return w->type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED &&
		    store_message(d, depth, f, NULL, member, val, len, clear);
	}
	return false;
}

/* How many values a packed run of type t holds at most: protobuf-c's
 * count_packed_elements (every byte of a bool, every varint's last byte),
 * refusing fixed-size values cut short. */
static bool
count_packed(ProtobufCType t, const uint8_t *p, size_t n, size_t *k)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		*k = n / 4;
		return n % 4 == 0;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		*k = n / 8;
		return n % 8 == 0;
	case PROTOBUF_C_TYPE_BOOL:
		*k = n;
		return true;
	default:
		*k = 0;
		for (size_t i = 0; i < n; i++) {
			*k += (p[i] & 0x80) == 0;
		}
		return true;
	}
}

/* A packed run of f's values, appended to its array. */
static bool
parse_packed(struct dec *d, const ProtobufCFieldDescriptor *f, const struct wire *w, void *m)
{
	size_t *cnt = count_of(m, f);
	size_t size = od_pb_field_size(f);
	const uint8_t *p = w->data + w->pre;
	size_t n = w->len - w->pre;
	size_t most;
	if (!count_packed(f->type, p, n, &most)) {
		return false;
	}
	if (most == 0) {
		return n == 0; /* bytes, but not one whole varint */
	}
	if (!grow(d, member_of(m, f->offset), *cnt, most, size)) {
		return false;
	}
	char *arr = *(char **) member_of(m, f->offset) + size * *cnt;
	size_t k = 0;
	if (f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_DOUBLE ||
	    f->type == PROTOBUF_C_TYPE_FIXED32 || f->type == PROTOBUF_C_TYPE_FIXED64 ||
	    f->type == PROTOBUF_C_TYPE_SFIXED32 || f->type == PROTOBUF_C_TYPE_SFIXED64) {
		memcpy(arr, p, n);
		k = most;
	} else {
		for (size_t i = 0; i < n; k++) {
			size_t at = i;
			uint64_t v;
			if (!od_pb_varint(p, n, &i, &v)) {
				return false;
			}
			if (f->type == PROTOBUF_C_TYPE_BOOL) {
				protobuf_c_boolean b = bool_of(p + at, i - at);
				memcpy(arr + size * k, &b, sizeof(b));
			} else {
				put_varint(f->type, v, arr + size * k);
			}
		}
	}
	*cnt += k;
	return true;
}

static bool
keep_unknown(struct dec *d, ProtobufCMessage *m, const struct wire *w)
{
	if (full(m->n_unknown_fields) &&
	    !grow(d, (void **) &m->unknown_fields, m->n_unknown_fields, 1,
	        sizeof(*m->unknown_fields))) {
		return false;
	}
	ProtobufCMessageUnknownField *u = &m->unknown_fields[m->n_unknown_fields];
	u->tag = w->tag;
	u->wire_type = (ProtobufCWireType) w->type;
	u->len = w->len;
	u->data = dalloc(d, w->len);
	if (u->data == NULL) {
		return false;
	}
	memcpy(u->data, w->data, w->len);
	m->n_unknown_fields++;
	return true;
}

/* A member of a oneof: whichever member was set before goes first
 * (protobuf-c frees it, and does not merge two copies of a message). */
static bool
parse_oneof(struct dec *d, unsigned depth, const ProtobufCMessageDescriptor *desc,
    ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const struct wire *w)
{
	uint32_t *which = (uint32_t *) member_of(m, f->quantifier_offset);
	void *member = member_of(m, f->offset);
	if (*which != 0) {
		const ProtobufCFieldDescriptor *old = od_pb_field_of(desc, *which);
		if (old == NULL) {
			return false;
		}
		if (old->type == PROTOBUF_C_TYPE_STRING) {
			char *s = *(char **) member;
			if (s != old->default_value) {
				dfree(d, s);
			}
		} else if (old->type == PROTOBUF_C_TYPE_BYTES) {
			const ProtobufCBinaryData *bd = member;
			const ProtobufCBinaryData *def = old->default_value;
			if (def == NULL || bd->data != def->data) {
				dfree(d, bd->data);
			}
		} else if (old->type == PROTOBUF_C_TYPE_MESSAGE) {
			ProtobufCMessage *sm = *(ProtobufCMessage **) member;
			if (sm != NULL && sm != old->default_value) {
				protobuf_c_message_free_unpacked(sm, d->a);
			}
		}
		memset(member, 0, od_pb_field_size(old));
	}
	if (!parse_value(d, depth, f, w, member, true)) {
		return false;
	}
	*which = w->tag;
	return true;
}

/* --- messages --------------------------------------------------------------- */

/*
 * The field at p[at], as protobuf-c reads it: every field the loop in fill
 * does not read itself. Returns where the field ends, or 0 when refused.
 */
static __attribute__((noinline)) size_t
general_field(struct dec *d, struct msg *s, size_t at)
{
	const ProtobufCMessageDescriptor *desc = s->pl->desc;
	size_t i = at;
	struct wire w;
	if (!next_field(s->p, s->n, &i, &w)) {
		return 0;
	}
	const ProtobufCFieldDescriptor *f = od_pb_fields_find(&s->pl->fields, w.tag);
	if (f == NULL) {
		return keep_unknown(d, s->m, &w) ? i : 0;
	}
	void *member = member_of(s->m, f->offset);
	bool ok;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
		size_t k = (size_t) (f - desc->fields);
		if (s->seen != NULL) {
			s->seen[k / 64] |= (uint64_t) 1 << (k % 64);
		}
		ok = parse_value(d, s->depth + 1, f, &w, member, true);
	} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		void *slot;
		if (is_packed(f, &w)) {
			ok = parse_packed(d, f, &w, s->m);
		} else if ((ok = (slot = next_slot(d, s->m, f)) != NULL &&
		                   parse_value(d, s->depth + 1, f, &w, slot, false))) {
			(*count_of(s->m, f))++;
		}
	} else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
		ok = parse_oneof(d, s->depth + 1, desc, s->m, f, &w);
	} else if ((ok = parse_value(d, s->depth + 1, f, &w, member, true)) &&
	    f->quantifier_offset != 0) {
		protobuf_c_boolean has = 1;
		memcpy(member_of(s->m, f->quantifier_offset), &has, sizeof(has));
	}
	return ok ? i : 0;
}

static bool
required_all_seen(const ProtobufCMessageDescriptor *desc, const uint64_t *seen)
{
	for (unsigned k = 0; k < desc->n_fields; k++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[k];
		if (f->label == PROTOBUF_C_LABEL_REQUIRED && f->default_value == NULL &&
		    (seen[k / 64] & ((uint64_t) 1 << (k % 64))) == 0) {
			return false;
		}
	}
	return true;
}

/* The plan of the type of message field `number` of pl (1 to 15). */
static inline struct plan *
sub_plan(struct plan *pl, unsigned number)
{
	struct plan *sub = atomic_load_explicit(&pl->sub[number], memory_order_acquire);
	if (sub == NULL && (sub = plan_of(pl->field[number]->descriptor)) != NULL) {
		atomic_store_explicit(&pl->sub[number], sub, memory_order_release);
	}
	return sub;
}

/*
 * Reads p[0..n) into m, initialised, a message of plan pl at `depth`
 * (seen: its required fields, or NULL). The loop reads the common fields
 * itself, by the op of their key byte: a string or a message with its
 * length, or an integer varint, stored in a singular field without a
 * presence flag or appended to a repeated one. The rest go to
 * general_field. On false, m is still fit for
 * protobuf_c_message_free_unpacked.
 */
static inline bool
fill(struct dec *d, struct plan *pl, unsigned depth, ProtobufCMessage *m, const uint8_t *p,
    size_t n, uint64_t *seen)
{
	unsigned sub_depth = depth + 1;
	size_t i = 0;
	while (i < n) {
		unsigned key = p[i];
		unsigned op = pl->op[key];
		if (op == FAST_NONE) {
			struct msg s = {pl, depth, m, p, n, seen};
			if ((i = general_field(d, &s, i)) == 0) {
				return false;
			}
			continue;
		}
		const ProtobufCFieldDescriptor *f = pl->field[key >> 3];
		size_t j = i + 1;
		size_t len;
		uint64_t v;
		void **slot;
		switch (op) {
		case FAST_STRING:
			if (!read_len(p, n, &j, &len) ||
			    !store_string(d, f, member_of(m, f->offset), p + j, len, true)) {
				return false;
			}
			j += len;
			break;
		case FAST_MESSAGE:
			if (!read_len(p, n, &j, &len) ||
			    !store_message(d, sub_depth, f, sub_plan(pl, key >> 3),
			        member_of(m, f->offset), p + j, len, true)) {
				return false;
			}
			j += len;
			break;
		case FAST_STRINGS:
			if (!read_len(p, n, &j, &len) ||
			    (slot = next_pointer_slot(d, m, f)) == NULL ||
			    !store_string(d, f, (char **) slot, p + j, len, false)) {
				return false;
			}
			(*count_of(m, f))++;
			j += len;
			break;
		case FAST_MESSAGES:
			if (!read_len(p, n, &j, &len) ||
			    (slot = next_pointer_slot(d, m, f)) == NULL ||
			    !store_message(d, sub_depth, f, sub_plan(pl, key >> 3),
			        (ProtobufCMessage **) slot, p + j, len, false)) {
				return false;
			}
			(*count_of(m, f))++;
			j += len;
			break;
		case FAST_VAR32: {
			if (!od_pb_varint(p, n, &j, &v)) {
				return false;
			}
			uint32_t u = (uint32_t) v;
			memcpy(member_of(m, f->offset), &u, sizeof(u));
			break;
		}
		case FAST_VAR64:
			if (!od_pb_varint(p, n, &j, &v)) {
				return false;
			}
			memcpy(member_of(m, f->offset), &v, sizeof(v));
			break;
		default:
			__builtin_unreachable();
		}
		i = j;
	}
	return seen == NULL || required_all_seen(pl->desc, seen);
}

/* protobuf-c's message_init_generic, for descriptors without message_init. */
static void
init_generic(const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m)
{
	memset(m, 0, desc->sizeof_message);
	m->descriptor = desc;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (f->default_value == NULL || f->label == PROTOBUF_C_LABEL_REPEATED) {
			continue;
		}
		void *member = member_of(m, f->offset);
		if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
			memcpy(member, &f->default_value, sizeof(void *));
		} else {
			memcpy(member, f->default_value, od_pb_field_size(f));
		}
	}
}

/* unpack when the plan table is full: desc's plan lives in this frame. */
static __attribute__((noinline)) ProtobufCMessage *
unpack_unplanned(struct dec *d, unsigned depth, const ProtobufCMessageDescriptor *desc,
    const uint8_t *p, size_t n)
{
	struct plan spare;
	make_plan(&spare, desc);
	return unpack(d, depth, desc, &spare, p, n);
}

/* A new message of type desc (pl: its plan, if known) read from p[0..n),
 * nested `depth` deep (1: the top). */
static ProtobufCMessage *
unpack_in(struct dec *d, unsigned depth, const ProtobufCMessageDescriptor *desc, struct plan *pl,
    const uint8_t *p, size_t n)
{
	if (depth > OD_PB_NESTING_MAX) {
		if (d->bad != NULL) {
			d->bad->msg = desc;
			d->bad->field = NULL;
		}
		return NULL;
	}
	if (pl == NULL && (pl = plan_of(desc)) == NULL) {
		return unpack_unplanned(d, depth, desc, p, n);
	}
	ProtobufCMessage *m = dalloc(d, desc->sizeof_message);
	if (m == NULL) {
		return NULL;
	}
	if (desc->message_init != NULL) {
		desc->message_init(m);
	} else {
		init_generic(desc, m);
	}
	uint64_t seen_small[4];
	uint64_t *seen = NULL;
	bool ok = true;
	if (pl->required) {
		size_t bytes = (desc->n_fields + 63) / 64 * sizeof(uint64_t);
		seen = bytes <= sizeof(seen_small) ? seen_small : dalloc(d, bytes);
		if (seen != NULL) {
			memset(seen, 0, bytes);
		}
		ok = seen != NULL;
	}
	ok = ok && fill(d, pl, depth, m, p, n, seen);
	if (seen != NULL && seen != seen_small) {
		dfree(d, seen);
	}
	if (!ok) {
		protobuf_c_message_free_unpacked(m, d->a);
		return NULL;
	}
	return m;
}

/* unpack_in, noting (for od_pb_unpack_checked) which message is read. */
static ProtobufCMessage *
unpack(struct dec *d, unsigned depth, const ProtobufCMessageDescriptor *desc, struct plan *pl,
    const uint8_t *p, size_t n)
{
	const ProtobufCMessageDescriptor *outer = d->cur;
	d->cur = desc;
	ProtobufCMessage *m = unpack_in(d, depth, desc, pl, p, n);
	d->cur = outer;
	return m;
}

/* Reads the uint32 at offset off of m: a has flag, a oneof case, or (for a
 * proto3 scalar, whose quantifier_offset is 0) the first bytes of m's
 * descriptor pointer, which protobuf-c's merge reads too. */
static uint32_t
word_at(const ProtobufCMessage *m, unsigned off)
{
	uint32_t v;
	memcpy(&v, (const char *) m + off, sizeof(v));
	return v;
}

/*
 * protobuf-c's merge_messages, step for step: what `earlier` has and
 * `latter` lacks moves into latter (repeated fields are concatenated,
 * messages merged), and earlier is left fit only to be freed. Its rules are
 * kept as they are: a proto3 scalar of latter always wins, a string or
 * bytes moves when latter's is the default, an unset oneof in both fails.
 */
static bool
merge(struct dec *d, ProtobufCMessage *earlier, ProtobufCMessage *latter)
{
	const ProtobufCMessageDescriptor *desc = latter->descriptor;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *fi = &desc->fields[i];
		if (fi->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t *ne = count_of(earlier, fi);
			size_t *nl = count_of(latter, fi);
			char **pe = (char **) member_of(earlier, fi->offset);
			char **pl = (char **) member_of(latter, fi->offset);
			if (*ne == 0) {
				continue;
			}
			if (*nl > 0) {
				size_t size = od_pb_field_size(fi);
				char *arr = dalloc(d, (*ne + *nl) * size);
				if (arr == NULL) {
					return false;
				}
				memcpy(arr, *pe, *ne * size);
				memcpy(arr + *ne * size, *pl, *nl * size);
				dfree(d, *pl);
				dfree(d, *pe);
				*pl = arr;
				*nl += *ne;
			} else {
				*nl = *ne;
				*pl = *pe;
			}
			*ne = 0;
			*pe = NULL;
			continue;
		}
		if (fi->label != PROTOBUF_C_LABEL_OPTIONAL && fi->label != PROTOBUF_C_LABEL_NONE) {
			continue;
		}
		const ProtobufCFieldDescriptor *f = fi;
		if ((fi->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			if (word_at(latter, fi->quantifier_offset) != 0) {
				continue;
			}
			f = od_pb_field_of(desc, word_at(earlier, fi->quantifier_offset));
			if (f == NULL) {
				return false;
			}
		}
		void *e = member_of(earlier, f->offset);
		void *l = member_of(latter, f->offset);
		bool move = false;
		switch (f->type) {
		case PROTOBUF_C_TYPE_MESSAGE: {
			ProtobufCMessage *em = *(ProtobufCMessage **) e;
			ProtobufCMessage *lm = *(ProtobufCMessage **) l;
			if (em != NULL && lm != NULL) {
				if (!merge(d, em, lm)) {
					return false;
				}
			} else {
				move = em != NULL;
			}
			break;
		}
		case PROTOBUF_C_TYPE_BYTES: {
			const uint8_t *ed = ((ProtobufCBinaryData *) e)->data;
			const uint8_t *ld = ((ProtobufCBinaryData *) l)->data;
			const ProtobufCBinaryData *def = f->default_value;
			move = ed != NULL && (def == NULL || ed != def->data) &&
			    (ld == NULL || (def != NULL && ld == def->data));
			break;
		}
		case PROTOBUF_C_TYPE_STRING:
			move = *(char **) e != f->default_value && *(char **) l == f->default_value;
			break;
		default:
			move = word_at(earlier, fi->quantifier_offset) != 0 &&
			    word_at(latter, fi->quantifier_offset) == 0;
			break;
		}
		if (!move) {
			continue;
		}
		size_t size = od_pb_field_size(f);
		memcpy(l, e, size);
		memset(e, 0, size);
		if (f->quantifier_offset != 0) {
			memcpy(member_of(latter, fi->quantifier_offset),
			    member_of(earlier, fi->quantifier_offset), sizeof(uint32_t));
			memset(member_of(earlier, fi->quantifier_offset), 0, sizeof(uint32_t));
		}
	}
	return true;
}

static void
dec_init(struct dec *d, ProtobufCAllocator *alloc, const uint8_t *data, size_t len)
{
	d->a = alloc != NULL ? alloc : &od_pb_sys_allocator;
	d->arena = NULL;
	d->end = data != NULL ? data + len : NULL;
	d->bad = NULL;
	d->str_max = 0;
	d->cur = NULL;
	d->alias = false;
	if (d->a->alloc == od_arena_pb_alloc) {
		d->arena = d->a->allocator_data;
	}
}

ProtobufCMessage *
od_pb_unpack_checked(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data, size_t max, od_pb_bad_string *bad)
{
	struct dec d;
	dec_init(&d, alloc, data, len);
	d.bad = bad;
	d.str_max = max;
	return unpack(&d, 1, desc, NULL, data, len);
}

ProtobufCMessage *
od_pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, size_t len,
    const uint8_t *data)
{
	return od_pb_unpack_checked(desc, alloc, len, data, 0, NULL);
}

ProtobufCMessage *
od_pb_unpack_in_place(
    const ProtobufCMessageDescriptor *desc, od_arena *a, size_t len, const uint8_t *data)
{
	struct dec d;
	dec_init(&d, &a->pb, data, len);
	d.alias = true;
	return unpack(&d, 1, desc, NULL, data, len);
}
