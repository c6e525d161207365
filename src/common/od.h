/*
 * od.h - the internal umbrella header of src/common: statuses, logging,
 * arenas, byte buffers, text validation. Every layer includes this one.
 */
#ifndef OD_COMMON_H
#define OD_COMMON_H

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
	size_t used_total;
	size_t cap;
	bool exhausted;
	ProtobufCAllocator pb; /* allocator_data points at this arena */
} od_arena;

void od_arena_init(od_arena *a, size_t cap);
void *od_arena_alloc(od_arena *a, size_t n);
char *od_arena_strndup(od_arena *a, const char *s, size_t n);
void od_arena_reset(od_arena *a);
/* Like od_arena_reset, but keeps the largest chunk of at most max_keep
 * bytes instead of the first: an arena reused for like work (search
 * upkeep, record after record) stops allocating after the first. */
void od_arena_reset_keep(od_arena *a, size_t max_keep);
void od_arena_destroy(od_arena *a);

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

/* Now, as Unix seconds and nanoseconds (CLOCK_REALTIME). */
void od_now(int64_t *sec, int32_t *nsec);
/* Monotonic milliseconds. */
uint64_t od_mono_ms(void);

/* --- resource rules and generic message helpers --------------------------- */

/* Validates a unit about to be stored (ids, kind, languages, sizes, UTF-8),
 * normalises what is documented as normalised, drops unknown fields. */
orgdir_code od_unit_check(Orgdir__V1__Unit *u, orgdir_status *st);
orgdir_code od_check_id(const char *what, const char *id, orgdir_status *st);
orgdir_code od_check_localized(const char *what, Orgdir__V1__LocalizedString *const *v, size_t n,
    size_t max, bool required, orgdir_status *st);
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
/* Finds the first length-delimited top-level field `field` in packed bytes. */
bool od_pb_scan_field(
    const uint8_t *p, size_t n, uint32_t field, const uint8_t **out, size_t *out_len);
/* Strings in packed bytes of a message of type d, read on the wire (no
 * strlen, no walk of the decoded message): protobuf-c does not check UTF-8
 * itself, and a C string cut at a NUL or a bad byte would surface far from
 * its cause. True when every string field at any depth is valid UTF-8
 * without NUL and at most max bytes; otherwise *bad says where (field NULL:
 * nested deeper than OD_PB_NESTING_MAX). Bytes that do not parse are left
 * to the decoder. bad must start zeroed. */
#define OD_PB_NESTING_MAX 32
typedef struct od_pb_bad_string {
	const ProtobufCMessageDescriptor *msg;
	const ProtobufCFieldDescriptor *field;
	size_t len;
	bool too_long;
	unsigned depth;
} od_pb_bad_string;
bool od_pb_strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, size_t max,
    od_pb_bad_string *bad);
/* The same, as a status: INVALID_ARGUMENT naming the message and field. */
orgdir_code od_pb_check_strings(
    const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, size_t max, orgdir_status *st);

/* SHA-256 of n bytes (tokens are stored hashed). */
void od_sha256(const void *data, size_t n, uint8_t out[32]);
/* Constant-time comparison: the time does not depend on where a and b differ. */
bool od_ct_equal(const void *a, const void *b, size_t n);
/* n random bytes from the kernel (getrandom); false on failure. */
bool od_random(void *out, size_t n);

#endif
