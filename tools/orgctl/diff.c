/*
 * diff.c - what a change changed: a short field-level diff of the resource
 * before and after, driven by the protobuf-c descriptors so that a field
 * added to Unit or Country shows up without touching this file.
 *
 *   acronym "" → "DG"; name[fr] "Directeur" → "Directeur général"; kind unit → division
 */
#include <inttypes.h>
#include <string.h>

#include "orgctl.h"

/* Code points of one value shown before it is cut with "…". */
#define VALUE_MAX_CHARS 60
/* Unit and Country nest two levels; this only bounds a hostile descriptor. */
#define DEPTH_MAX 8
#define PATH_MAX_LEN 256

struct diff {
	od_buf *b;
	bool any; /* a difference was written: the next needs "; " */
	bool ok; /* every append succeeded */
};

static void
put(struct diff *d, const char *s, size_t n)
{
	if (d->ok && !od_buf_append(d->b, s, n)) {
		d->ok = false;
	}
}

static void
put_str(struct diff *d, const char *s)
{
	put(d, s, strlen(s));
}

/* Fields that change with every write or never change: not news. */
static bool
skipped(const char *name)
{
	static const char *const names[] = {"id", "code", "etag", "create_time", "update_time"};
	for (size_t i = 0; i < OD_ARRAY_LEN(names); i++) {
		if (strcmp(name, names[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* "text" with '"' and '\' escaped, control characters as '?', cut after
 * VALUE_MAX_CHARS code points. */
static void
put_quoted(struct diff *d, const char *s)
{
	put_str(d, "\"");
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
		if ((*p & 0xC0) != 0x80 && chars++ == VALUE_MAX_CHARS) {
			put_str(d, "…");
			break;
		}
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char) *p};
			put(d, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			put_str(d, "?");
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			put_str(d, "?"); /* C1 controls */
			p++;
		} else {
			put(d, (const char *) p, 1);
		}
	}
	put_str(d, "\"");
}

static void
put_enum(struct diff *d, const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
	char buf[64];
	if (ev == NULL) {
		snprintf(buf, sizeof(buf), "%d", v);
		put_str(d, buf);
		return;
	}
	/* Lower case, as orgctl takes them: "regional_office". */
	for (const char *p = ev->name; *p != '\0'; p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char) (*p - 'A' + 'a') : *p;
		put(d, &ch, 1);
	}
}

/* A zero value of any scalar type, for a field of an unset message. */
static const union {
	uint64_t u64;
	double dbl;
	const char *str;
	ProtobufCBinaryData bin;
} zero;

static const void *
field_at(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (m == NULL) {
		return f->type == PROTOBUF_C_TYPE_STRING ? (const void *) &zero.str : &zero;
	}
	return (const char *) m + f->offset;
}

static size_t
repeated_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return m == NULL ? 0 : *(const size_t *) ((const char *) m + f->quantifier_offset);
}

static size_t
scalar_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	default:
		return sizeof(uint32_t);
	}
}

/* One value of a scalar (or string, bytes) field at p. */
static void
put_scalar(struct diff *d, const ProtobufCFieldDescriptor *f, const void *p)
{
	char buf[64];
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		put_quoted(d, s != NULL ? s : "");
		return;
	}
	case PROTOBUF_C_TYPE_BYTES:
		snprintf(buf, sizeof(buf), "(%zu bytes)", ((const ProtobufCBinaryData *) p)->len);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		put_enum(d, f->descriptor, *(const int *) p);
		return;
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(
		    buf, sizeof(buf), "%s", *(const protobuf_c_boolean *) p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *) p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *) p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *) p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *) p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		snprintf(buf, sizeof(buf), "%g", (double) *(const float *) p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		snprintf(buf, sizeof(buf), "%g", *(const double *) p);
		break;
	default:
		snprintf(buf, sizeof(buf), "?");
		break;
	}
	put_str(d, buf);
}

static bool
scalar_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b)
{
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *x = *(char *const *) a;
		const char *y = *(char *const *) b;
		return strcmp(x != NULL ? x : "", y != NULL ? y : "") == 0;
	}
	if (f->type == PROTOBUF_C_TYPE_BYTES) {
		const ProtobufCBinaryData *x = a;
		const ProtobufCBinaryData *y = b;
		return x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
	}
	return memcmp(a, b, scalar_size(f->type)) == 0;
}

/* Starts one difference: "; " after the first, then the path. */
static void
begin(struct diff *d, const char *path)
{
	if (d->any) {
		put_str(d, "; ");
	}
	d->any = true;
	put_str(d, path);
	put_str(d, " ");
}

static const char *const arrow = " → ";

/* A localized list, language by language: before's order, then the
 * languages only after has. An absent language shows as "". */
static void
diff_localized(struct diff *d, const char *path, Orgdir__V1__LocalizedString *const *a, size_t na,
    Orgdir__V1__LocalizedString *const *b, size_t nb)
{
	char p[PATH_MAX_LEN + OD_LANG_MAX + 3];
	for (size_t pass = 0; pass < 2; pass++) {
		Orgdir__V1__LocalizedString *const *v = pass == 0 ? a : b;
		size_t n = pass == 0 ? na : nb;
		for (size_t i = 0; i < n; i++) {
			const char *lang = v[i]->lang;
			const char *old = NULL;
			const char *new = NULL;
			for (size_t k = 0; k < na && old == NULL; k++) {
				old = strcmp(a[k]->lang, lang) == 0 ? a[k]->text : NULL;
			}
			for (size_t k = 0; k < nb && new == NULL; k++) {
				new = strcmp(b[k]->lang, lang) == 0 ? b[k]->text : NULL;
			}
			if (pass == 1 && old != NULL) {
				continue; /* done in the first pass */
			}
			if (old != NULL && new != NULL && strcmp(old, new) == 0) {
				continue;
			}
			snprintf(p, sizeof(p), "%s[%s]", path, lang);
			begin(d, p);
			put_quoted(d, old != NULL ? old : "");
			put_str(d, arrow);
			put_quoted(d, new != NULL ? new : "");
		}
	}
}

static void
put_list(struct diff *d, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
	size_t n = repeated_count(m, f);
	size_t sz = f->type == PROTOBUF_C_TYPE_STRING ? sizeof(char *)
	    : f->type == PROTOBUF_C_TYPE_BYTES        ? sizeof(ProtobufCBinaryData)
	                                              : scalar_size(f->type);
	const char *base = n > 0 ? *(const char *const *) field_at(m, f) : NULL;
	put_str(d, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			put_str(d, ", ");
		}
		put_scalar(d, f, base + i * sz);
	}
	put_str(d, "]");
}

static bool
list_equal(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t n = repeated_count(a, f);
	if (n != repeated_count(b, f)) {
		return false;
	}
	if (n == 0) {
		return true;
	}
	const char *x = *(const char *const *) field_at(a, f);
	const char *y = *(const char *const *) field_at(b, f);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		/* Compare the messages by their encoding. */
		for (size_t i = 0; i < n; i++) {
			const ProtobufCMessage *p =
			    ((ProtobufCMessage *const *) (const void *) x)[i];
			const ProtobufCMessage *q =
			    ((ProtobufCMessage *const *) (const void *) y)[i];
			size_t lp = protobuf_c_message_get_packed_size(p);
			size_t lq = protobuf_c_message_get_packed_size(q);
			if (lp != lq) {
				return false;
			}
			od_buf bp;
			od_buf bq;
			od_buf_init(&bp, lp + 16);
			od_buf_init(&bq, lq + 16);
			bool same = od_pb_put_message(&bp, 0, p) && od_pb_put_message(&bq, 0, q) &&
			    bp.len == bq.len && memcmp(bp.data, bq.data, bp.len) == 0;
			od_buf_free(&bp);
			od_buf_free(&bq);
			if (!same) {
				return false;
			}
		}
		return true;
	}
	size_t sz = f->type == PROTOBUF_C_TYPE_STRING ? sizeof(char *)
	    : f->type == PROTOBUF_C_TYPE_BYTES        ? sizeof(ProtobufCBinaryData)
	                                              : scalar_size(f->type);
	for (size_t i = 0; i < n; i++) {
		if (!scalar_equal(f, x + i * sz, y + i * sz)) {
			return false;
		}
	}
	return true;
}

static void diff_message(struct diff *d, const ProtobufCMessageDescriptor *desc,
    const ProtobufCMessage *a, const ProtobufCMessage *b, const char *prefix, int depth);

static void
diff_field(struct diff *d, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *a,
    const ProtobufCMessage *b, const char *path, int depth)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    f->descriptor == &orgdir__v1__localized_string__descriptor) {
			size_t na = repeated_count(a, f);
			size_t nb = repeated_count(b, f);
			diff_localized(d, path,
			    na > 0 ? *(Orgdir__V1__LocalizedString *const *const *) field_at(a, f)
			           : NULL,
			    na,
			    nb > 0 ? *(Orgdir__V1__LocalizedString *const *const *) field_at(b, f)
			           : NULL,
			    nb);
			return;
		}
		if (list_equal(f, a, b)) {
			return;
		}
		begin(d, path);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			put_str(d, "changed");
			return;
		}
		put_list(d, f, a);
		put_str(d, arrow);
		put_list(d, f, b);
		return;
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *x =
		    a != NULL ? *(ProtobufCMessage *const *) field_at(a, f) : NULL;
		const ProtobufCMessage *y =
		    b != NULL ? *(ProtobufCMessage *const *) field_at(b, f) : NULL;
		if (x == NULL && y == NULL) {
			return;
		}
		if (f->descriptor == &google__protobuf__timestamp__descriptor) {
			char tx[64];
			char ty[64];
			od_ctl_format_time((const Google__Protobuf__Timestamp *) x, tx, sizeof(tx));
			od_ctl_format_time((const Google__Protobuf__Timestamp *) y, ty, sizeof(ty));
			if (strcmp(tx, ty) != 0) {
				begin(d, path);
				put_str(d, tx[0] != '\0' ? tx : "(none)");
				put_str(d, arrow);
				put_str(d, ty[0] != '\0' ? ty : "(none)");
			}
			return;
		}
		if (depth + 1 >= DEPTH_MAX) {
			return;
		}
		diff_message(d, f->descriptor, x, y, path, depth + 1);
		return;
	}
	const void *x = field_at(a, f);
	const void *y = field_at(b, f);
	if (scalar_equal(f, x, y)) {
		return;
	}
	begin(d, path);
	put_scalar(d, f, x);
	put_str(d, arrow);
	put_scalar(d, f, y);
}

static void
diff_message(struct diff *d, const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *a,
    const ProtobufCMessage *b, const char *prefix, int depth)
{
	char path[PATH_MAX_LEN];
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (depth == 0 && skipped(f->name)) {
			continue;
		}
		/* A oneof member is compared only when it is the chosen one on a side;
		 * Unit and Country have none, so keep it simple: skip them. */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			continue;
		}
		snprintf(
		    path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", f->name);
		diff_field(d, f, a, b, path, depth);
	}
}

bool
od_ctl_diff(od_buf *b, const ProtobufCMessage *before, const ProtobufCMessage *after)
{
	const ProtobufCMessage *m = before != NULL ? before : after;
	if (m == NULL) {
		return true;
	}
	if (before != NULL && after != NULL && before->descriptor != after->descriptor) {
		return false;
	}
	struct diff d = {b, false, true};
	diff_message(&d, m->descriptor, before, after, "", 0);
	return d.ok;
}
