/*
 * od.h - the internal umbrella header of src/common: statuses, logging,
 * arenas, byte buffers, text validation. Every layer includes this one.
 */
#ifndef OD_COMMON_H
#define OD_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "orgdir/orgdir.h"

#define OD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- limits shared by client and server (docs/PROTOCOL.md lists them) --- */
#define OD_ID_MAX 64 /* [a-z0-9][a-z0-9-]{0,63} */
#define OD_LANG_MAX 35 /* BCP 47 tag length */
#define OD_LANGS_MAX 16 /* languages per localized text */
#define OD_NAME_MAX 512 /* bytes: name, title, head name */
#define OD_SHORT_MAX 256 /* bytes: acronym, email, phone, city */
#define OD_TEXT_MAX 4096 /* bytes: description, url */
#define OD_TREE_DEPTH_MAX 64 /* levels below a root */
#define OD_NOTES_MAX 4096 /* bytes of a country's notes */
#define OD_PAGE_DEFAULT 100
#define OD_PAGE_MAX 1000
#define OD_MESSAGE_MAX_DEFAULT (4u << 20) /* 4 MiB: requests, and clients' replies */
#define OD_REPLY_MAX_DEFAULT (256u << 20) /* the server's own cap on a reply */

/* --- status ----------------------------------------------------------- */

/* Sets st (may be NULL) to code and a printf-formatted message; returns code. */
orgdir_code od_status_set(orgdir_status *st, orgdir_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
orgdir_code od_status_vset(orgdir_status *st, orgdir_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void od_status_ok(orgdir_status *st);

/* --- logging: one line per event on stderr ------------------------------ */
void od_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- arena ------------------------------------------------------------ */

/*
 * A bump allocator in chunks. Frees nothing until reset or destroy; reset
 * keeps the first chunk so a reused arena allocates nothing in steady state.
 * `cap` bounds the total bytes handed out: past it allocations fail and
 * `exhausted` is set (so a decoder's NULL can be told apart from garbage).
 */
struct od_arena_chunk;
typedef struct od_arena {
	struct od_arena_chunk *head;
	struct od_arena_chunk *first;
	unsigned char *bump; /* next free byte of the head chunk */
	size_t room; /* bytes from bump the head chunk and the cap allow */
	size_t used_total;
	size_t cap;
	bool exhausted;
	ProtobufCAllocator pb; /* allocator_data points at this arena */
} od_arena;

#define OD_ARENA_ALIGN 16u

void od_arena_init(od_arena *a, size_t cap);
/* od_arena_alloc when the head chunk has no room: a new chunk, or NULL. */
void *od_arena_alloc_chunk(od_arena *a, size_t n);
/* n bytes aligned to OD_ARENA_ALIGN, or NULL past the cap. Inline: most
 * allocations of a decode only move the bump pointer. */
static inline void *
od_arena_alloc(od_arena *a, size_t n)
{
	/* need is 0 for n 0 and for an n so large that it wraps: slow path. */
	size_t need = (n + OD_ARENA_ALIGN - 1) & ~(size_t) (OD_ARENA_ALIGN - 1);
	if (need - 1 < a->room) {
		void *p = a->bump;
		a->bump += need;
		a->room -= need;
		a->used_total += need;
		return p;
	}
	return od_arena_alloc_chunk(a, n);
}
/* The arena's ProtobufCAllocator.alloc (a->pb.alloc): a decoder that sees
 * it may call od_arena_alloc itself. */
void *od_arena_pb_alloc(void *arena, size_t n);
char *od_arena_strndup(od_arena *a, const char *s, size_t n);
void od_arena_reset(od_arena *a);
/* Like od_arena_reset, but keeps the largest chunk of at most max_keep
 * bytes instead of the first: an arena reused for like work (search
 * upkeep, record after record) stops allocating after the first. */
void od_arena_reset_keep(od_arena *a, size_t max_keep);
void od_arena_destroy(od_arena *a);
/* Moves everything src holds (chunks, what was allocated in them) to dst,
 * which must not hold anything, and leaves src empty with its cap. */
void od_arena_move(od_arena *dst, od_arena *src);
/* Chunks handed between arenas: memory a like decode can reuse without
 * the page faults of fresh memory (liborgdir's large replies). */
typedef struct od_arena_chunk od_arena_chunk;
/* Takes the arena's largest chunk of at least min and at most max bytes
 * out of it (NULL: none), frees the others and leaves the arena empty,
 * ready for use: the caller owns the chunk. */
od_arena_chunk *od_arena_take_chunk(od_arena *a, size_t min, size_t max);
/* Makes c (from od_arena_take_chunk) the chunk an empty arena allocates
 * from first: the arena owns it. */
void od_arena_give_chunk(od_arena *a, od_arena_chunk *c);
size_t od_arena_chunk_size(const od_arena_chunk *c);
void od_arena_chunk_free(od_arena_chunk *c);
/* Makes the next allocations come from one chunk with at least n bytes of
 * room (within the cap), allocated now if the head chunk has less: for a
 * decode whose size is roughly known. False for want of memory. */
bool od_arena_reserve(od_arena *a, size_t n);

/* --- growable byte buffer with a cap (curl's dynbuf idea) ----------------- */
typedef struct od_buf {
	uint8_t *data;
	size_t len;
	size_t alloc;
	size_t cap; /* hard limit on len */
	bool overflow; /* an append was refused by the cap or by malloc */
} od_buf;

void od_buf_init(od_buf *b, size_t cap);
bool od_buf_reserve(od_buf *b, size_t extra);
bool od_buf_append(od_buf *b, const void *p, size_t n);
void od_buf_reset(od_buf *b);
void od_buf_free(od_buf *b);

/* Reads all of f (to EOF) into *out, a malloc'd buffer of *len bytes that
 * the caller frees (a regular file's size sizes it: one read, no copy).
 * Returns 0, or an errno value with *out NULL: EFBIG past cap bytes (cap <
 * SIZE_MAX / 2), ENOMEM, or the read's. f stays open. */
int od_read_all(FILE *f, size_t cap, char **out, size_t *len);

/* protobuf wire encoding into an od_buf (for replies built from stored bytes) */
bool od_pb_put_varint(od_buf *b, uint64_t v);
bool od_pb_put_len_field(od_buf *b, uint32_t field, const void *p, size_t n);
bool od_pb_put_varint_field(od_buf *b, uint32_t field, uint64_t v);
size_t od_pb_varint_size(uint64_t v);
/* Appends a packed message, as field `field` when field != 0. */
bool od_pb_put_message(od_buf *b, uint32_t field, const ProtobufCMessage *m);

/* --- text ----------------------------------------------------------------- */

bool od_utf8_valid(const char *s, size_t n);
/* [a-z0-9][a-z0-9-]{0,63} */
bool od_id_valid(const char *s);
/* A well-formed BCP 47 tag (syntax only): alpha{2,8}(-alnum{1,8})*. */
bool od_lang_valid(const char *s);
/* ASCII case-insensitive comparison of language tags' primary subtags. */
bool od_lang_same_primary(const char *a, const char *b);
/* The value of a hex digit (either case), or -1. */
int od_hex_value(char c);
void od_hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);
/* Returns decoded length, or -1 for bad hex / too long. */
long od_hex_decode(const char *s, uint8_t *out, size_t out_max);
/* True when the 8 bytes at p are all ASCII and none is NUL: a byte with
 * its high bit set shows in v, and the lowest NUL borrows in v - 0x01...,
 * setting its own high bit (a borrow may fail the bytes above it too,
 * which only sends them the slow way). Most text goes 8 bytes a step
 * (od_utf8_valid, and the check of strings on the wire in pbmask.c). */
static inline bool
od_ascii8(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return ((v | (v - 0x0101010101010101ull)) & 0x8080808080808080ull) == 0;
}
/* Copies at most dst_size-1 bytes and NUL-terminates; never splits a UTF-8
 * sequence. */
void od_strlcpy(char *dst, const char *src, size_t dst_size);
/* The first control character in s (C0, DEL, or a C1 character's first
 * byte), or NULL; with lines, tab, CR and LF are not counted. */
const unsigned char *od_control_char(const char *s, bool lines);
/* Replaces every control character of s with '?' (each byte of it). */
void od_mask_controls(char *s);
/* Replaces each byte of s that does not start a valid UTF-8 sequence with
 * '?': a message cut by a precision ("%.40s") inside a sequence. */
void od_utf8_repair(char *s);

/* The socket file of an ipc:// or unix:// URL (a pointer into url), or
 * NULL for another scheme or an empty path. */
const char *od_ipc_path(const char *url);

/* Now, as Unix seconds and nanoseconds (CLOCK_REALTIME). */
void od_now(int64_t *sec, int32_t *nsec);
/* Monotonic milliseconds. */
uint64_t od_mono_ms(void);
struct timespec;
/* *ts = CLOCK_MONOTONIC now + ms_from_now: the deadline of a
 * pthread_cond_timedwait on a condition made with that clock. */
void od_mono_deadline(uint64_t ms_from_now, struct timespec *ts);
/* pthread_cond_init of a condition whose timed waits take such deadlines
 * (a condition on the default, realtime, clock would time out at once). */
int od_mono_cond_init(pthread_cond_t *cv);

/* --- resource rules and generic message helpers --------------------------- */

/* Validates a unit about to be stored (ids, kind, languages, sizes, UTF-8),
 * normalises what is documented as normalised, drops unknown fields. */
orgdir_code od_unit_check(Orgdir__V1__Unit *u, orgdir_status *st);
orgdir_code od_check_id(const char *what, const char *id, orgdir_status *st);
/* One text: at most max bytes, UTF-8, no control character (C0, DEL, C1)
 * but, when lines is set, tabs and line breaks. */
orgdir_code od_check_text(
    const char *what, const char *s, size_t max, bool lines, orgdir_status *st);
/* A localized text: 1..OD_LANGS_MAX distinct BCP 47 tags (none when not
 * required), each text non-empty, at most max bytes of UTF-8 without
 * control characters (lines: tabs and line breaks allowed). */
orgdir_code od_check_localized(const char *what, Orgdir__V1__LocalizedString *const *v, size_t n,
    size_t max, bool required, bool lines, orgdir_status *st);
/* Sets the field named by `path` (snake_case or lowerCamelCase, dotted for
 * sub-messages) in dst to its value in src (NULL src = default). Pointers
 * are shared: dst, src and arena must have the same lifetime. */
orgdir_code od_pb_apply_path(ProtobufCMessage *dst, const ProtobufCMessage *src, const char *path,
    od_arena *arena, orgdir_status *st);
/* One field of packed bytes: its number, wire type and, for a
 * length-delimited one (type 2), its bytes. */
typedef struct od_pb_wire {
	uint32_t number;
	uint32_t type;
	const uint8_t *data;
	size_t len;
} od_pb_wire;
/* Reads the field at *i of p (n bytes) into f and moves *i past it. False
 * when the bytes end inside it or use a wire type protobuf no longer has
 * (groups). */
bool od_pb_wire_next(const uint8_t *p, size_t n, size_t *i, od_pb_wire *f);

/* --- protobuf wire reading: the scanner (pbmask.c) and the decoder
 * (pbdecode.c) share these, so both read the wire alike. --- */

/* The varint at p[*i] (at most 10 bytes, all before n), advancing *i.
 * Bits past the 64th are dropped, as protobuf-c does. False when the
 * bytes end first or the 10th byte still continues. */
static inline bool
od_pb_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	size_t at = *i;
	if (at < n && p[at] < 0x80) {
		*v = p[at];
		*i = at + 1;
		return true;
	}
	uint64_t r = 0;
	for (unsigned shift = 0; shift < 64 && at < n; shift += 7) {
		uint8_t b = p[at++];
		r |= (uint64_t) (b & 0x7F) << shift;
		if ((b & 0x80) == 0) {
			*v = r;
			*i = at;
			return true;
		}
	}
	return false;
}

/* A message type's fields by number: protobuf-c's own lookup, with the
 * first range of consecutive numbers (all of a schema numbered 1..N, as
 * all of orgdir's are) looked up without a call. Set up once per message
 * read, so a loop over its fields does not reload the ranges. */
typedef struct od_pb_fields {
	const ProtobufCMessageDescriptor *d;
	const ProtobufCFieldDescriptor *first; /* the first range's fields */
	uint32_t start; /* its first number */
	uint32_t count;
} od_pb_fields;

static inline void
od_pb_fields_init(od_pb_fields *t, const ProtobufCMessageDescriptor *d)
{
	const ProtobufCIntRange *r = d->field_ranges;
	t->d = d;
	t->first = d->fields;
	t->start = 0;
	t->count = 0;
	if (d->n_field_ranges >= 1) {
		t->first = d->fields + r[0].orig_index;
		t->start = (uint32_t) r[0].start_value;
		t->count = r[1].orig_index - r[0].orig_index;
	}
}

/* Field number `number`, or NULL. */
static inline const ProtobufCFieldDescriptor *
od_pb_fields_find(const od_pb_fields *t, uint32_t number)
{
	if (number - t->start < t->count) {
		return t->first + (number - t->start);
	}
	return protobuf_c_message_descriptor_get_field(t->d, number);
}

/* d's field number `number`, or NULL: one lookup. */
static inline const ProtobufCFieldDescriptor *
od_pb_field_of(const ProtobufCMessageDescriptor *d, uint32_t number)
{
	od_pb_fields t;
	od_pb_fields_init(&t, d);
	return od_pb_fields_find(&t, number);
}

/* Bytes one value of f's type takes in a message (an element of a repeated
 * field, or a singular field). */
static inline size_t
od_pb_field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
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
		return sizeof(void *);
	}
	return 0;
}

/* malloc and free as a ProtobufCAllocator: what protobuf-c uses for a NULL
 * allocator, so protobuf_c_message_free_unpacked(m, NULL) frees what it
 * allocates. */
extern ProtobufCAllocator od_pb_sys_allocator;

/*
 * Decodes packed bytes into a new message of type desc, every message,
 * string, byte string, repeated array and unknown field allocated on its
 * own through alloc (NULL: malloc), so protobuf_c_message_free_unpacked(m,
 * alloc) frees the result. The same contract and the same result as
 * protobuf-c 1.4.1's protobuf_c_message_unpack (tests/unit/test_pbdecode.c
 * and tests/fuzz/fuzz_pbdecode.c compare the two), in fewer instructions:
 * NULL for bytes it would refuse, and for messages nested more than
 * OD_PB_NESTING_MAX deep (protobuf-c recurses until its stack runs out; no
 * orgdir.v1 message nests more than 5 deep). On NULL, everything allocated
 * has been given back to alloc. With an od_arena's allocator (&arena.pb) it
 * allocates from the arena inline. Thread-safe; desc is only read, but
 * must live as long as the process (generated descriptors do): the plan
 * made from it is kept. Uses about 0.3 KiB of stack per level of nesting.
 */
ProtobufCMessage *od_pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
    size_t len, const uint8_t *data);
/* od_pb_unpack into arena a, except that every bytes field, at any depth,
 * points into data instead of holding a copy: data must outlive the
 * result. Strings are still copied (they end in a NUL). For an envelope
 * whose body is decoded next: liborgdir's replies. */
ProtobufCMessage *od_pb_unpack_in_place(
    const ProtobufCMessageDescriptor *desc, od_arena *a, size_t len, const uint8_t *data);
/* The same for a generated type by its prefix, the result typed by what it
 * is assigned to: Orgdir__V1__Unit *u = OD_PB_UNPACK(orgdir__v1__unit, ...). */
#define OD_PB_UNPACK(type, alloc, len, data) \
	((void *) od_pb_unpack(&type##__descriptor, (alloc), (len), (const uint8_t *) (data)))

/* Finds the first length-delimited top-level field `field` in packed bytes. */
bool od_pb_scan_field(
    const uint8_t *p, size_t n, uint32_t field, const uint8_t **out, size_t *out_len);
/*
 * od_pb_unpack, with every string field at any depth checked as it is
 * copied: protobuf-c does not check UTF-8 itself, and a C string cut at a
 * NUL or a bad byte would surface far from its cause. A string must be
 * valid UTF-8 without NUL and at most max bytes. NULL with bad->msg and
 * bad->field set for the first string that fails, in wire order; NULL
 * with bad->msg set and bad->field NULL for nesting deeper than
 * OD_PB_NESTING_MAX; NULL with bad->msg NULL for bytes that do not decode.
 * bad must start zeroed. (tests/unit/pbdiff.c holds it to a walk of the
 * wire that checks the same strings after a plain od_pb_unpack.)
 */
#define OD_PB_NESTING_MAX 32
typedef struct od_pb_bad_string {
	const ProtobufCMessageDescriptor *msg;
	const ProtobufCFieldDescriptor *field;
	size_t len;
	bool too_long;
	unsigned depth; /* for a walk of the wire (the tests') */
} od_pb_bad_string;
ProtobufCMessage *od_pb_unpack_checked(const ProtobufCMessageDescriptor *desc,
    ProtobufCAllocator *alloc, size_t len, const uint8_t *data, size_t max, od_pb_bad_string *bad);
/* The text check: valid UTF-8 without NUL. */
bool od_pb_text_ok(const uint8_t *p, size_t n);
/* The same for p[0..n) when `avail` bytes (>= n) can be read from p: a
 * string under 8 bytes is checked in one 8-byte load when the bytes after
 * it can be read too (the decoder's, where the input goes on). */
static inline bool
od_pb_text_ok_in(const uint8_t *p, size_t n, size_t avail)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n < 8 && avail >= 8) {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		/* Bit 7 of a byte: set for a NUL or a byte past 0x7F (od_ascii8).
		 * A borrow only moves up into later bytes, so the bytes past n
		 * cannot mark the first n. */
		uint64_t flags = (v | (v - 0x0101010101010101ull)) & 0x8080808080808080ull;
		uint64_t first_n = n == 0 ? 0 : ~0ull >> (64 - 8 * n);
		return (flags & first_n) == 0 || od_utf8_valid((const char *) p, n);
	}
#else
	(void) avail;
#endif
	return od_pb_text_ok(p, n);
}
/* What od_pb_unpack_checked found (bad->msg set), as a status:
 * INVALID_ARGUMENT naming the message and field, the length past max, or
 * the nesting. */
orgdir_code od_pb_bad_string_status(const od_pb_bad_string *bad, size_t max, orgdir_status *st);

/* CRC-32C (Castagnoli) of n bytes: the processor's instruction where it
 * has one (x86-64 SSE4.2), else od_crc32c_table, the same value a byte at a
 * time (kept callable for the tests). */
uint32_t od_crc32c(const void *p, size_t n);
uint32_t od_crc32c_table(const void *p, size_t n);
/* SHA-256 of n bytes (tokens are stored hashed). */
void od_sha256(const void *data, size_t n, uint8_t out[32]);
/* Constant-time comparison: the time does not depend on where a and b differ. */
bool od_ct_equal(const void *a, const void *b, size_t n);
/* n random bytes from the kernel (getrandom); false on failure. */
bool od_random(void *out, size_t n);

#endif
