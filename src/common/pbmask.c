/* pbmask.c - field-mask updates and a tiny wire scanner, driven by protobuf-c
 * descriptors so every resource shares them. */
#include <string.h>

#include "od.h"

/* Copies one field's value from src (NULL = the default) into dst. Pointers
 * are shared, not duplicated: both messages must live in the same arena. */
static void
copy_field(ProtobufCMessage *dst, const ProtobufCMessage *src, const ProtobufCFieldDescriptor *f)
{
	char *d = (char *) dst;
	const char *s = (const char *) src;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = 0;
		void *arr = NULL;
		if (src != NULL) {
			memcpy(&n, s + f->quantifier_offset, sizeof(n));
			memcpy(&arr, s + f->offset, sizeof(arr));
		}
		memcpy(d + f->quantifier_offset, &n, sizeof(n));
		memcpy(d + f->offset, &arr, sizeof(arr));
		return;
	}
	if (src != NULL) {
		memcpy(d + f->offset, s + f->offset, od_pb_field_size(f));
		return;
	}
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		/* protobuf-c points default_value at the characters themselves. */
		const char *empty = f->default_value ? (const char *) f->default_value : "";
		memcpy(d + f->offset, &empty, sizeof(empty));
	} else {
		memset(d + f->offset, 0, od_pb_field_size(f));
	}
}

/* "headName" -> "head_name" into out (cap bytes). */
static bool
snake_case(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z') {
			if (o + 2 >= cap) {
				return false;
			}
			out[o++] = '_';
			out[o++] = (char) (c - 'A' + 'a');
		} else {
			if (o + 1 >= cap) {
				return false;
			}
			out[o++] = c;
		}
	}
	out[o] = '\0';
	return true;
}

orgdir_code
od_pb_apply_path(ProtobufCMessage *dst, const ProtobufCMessage *src, const char *path,
    od_arena *arena, orgdir_status *st)
{
	const char *dot = strchr(path, '.');
	size_t n = dot ? (size_t) (dot - path) : strlen(path);
	char name[64];
	if (n == 0 || !snake_case(path, n, name, sizeof(name))) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "update_mask: malformed path '%.64s'", path);
	}
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(dst->descriptor, name);
	if (f == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "update_mask: %s has no field '%s'", dst->descriptor->name, name);
	}
	if (dot == NULL) {
		copy_field(dst, src, f);
		return ORGDIR_OK;
	}
	if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "update_mask: '%s' is not a message field, so '%.64s' has no meaning", name,
		    path);
	}
	ProtobufCMessage **dsub = (ProtobufCMessage **) ((char *) dst + f->offset);
	const ProtobufCMessage *ssub =
	    src ? *(ProtobufCMessage *const *) ((const char *) src + f->offset) : NULL;
	if (*dsub == NULL) {
		const ProtobufCMessageDescriptor *sd = f->descriptor;
		ProtobufCMessage *m = od_arena_alloc(arena, sd->sizeof_message);
		if (m == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
		protobuf_c_message_init(sd, m);
		*dsub = m;
	}
	return od_pb_apply_path(*dsub, ssub, dot + 1, arena, st);
}

bool
od_pb_wire_next(const uint8_t *p, size_t n, size_t *i, od_pb_wire *f)
{
	uint64_t key, v;
	if (!od_pb_varint(p, n, i, &key) || key >> 3 > UINT32_MAX) {
		return false;
	}
	f->number = (uint32_t) (key >> 3);
	f->type = (uint32_t) (key & 7);
	switch (f->type) {
	case 0:
		return od_pb_varint(p, n, i, &v);
	case 1:
	case 5: {
		size_t w = f->type == 1 ? 8 : 4;
		if (n - *i < w) {
			return false;
		}
		*i += w;
		return true;
	}
	case 2:
		if (!od_pb_varint(p, n, i, &v) || v > n - *i) {
			return false;
		}
		f->data = p + *i;
		f->len = (size_t) v;
		*i += f->len;
		return true;
	default:
		return false;
	}
}

bool
od_pb_scan_field(const uint8_t *p, size_t n, uint32_t field, const uint8_t **out, size_t *out_len)
{
	size_t i = 0;
	od_pb_wire f;
	while (i < n && od_pb_wire_next(p, n, &i, &f)) {
		if (f.type == 2 && f.number == field) {
			*out = f.data;
			*out_len = f.len;
			return true;
		}
	}
	return false;
}

/* Text without a NUL: ASCII is checked here, 8 bytes a step, and the rest
 * from the first step that is not by od_utf8_valid (an ASCII byte is a
 * whole character, so the text before it needs no second look). Most
 * strings of a reply are short ASCII (ids, language tags, names). */
bool
od_pb_text_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		if (!od_ascii8(p + i)) {
			return od_utf8_valid((const char *) p + i, n - i);
		}
	}
	if (i < n && n >= 8) {
		/* The last 8 bytes, overlapping what is checked already. */
		return od_ascii8(p + n - 8) || od_utf8_valid((const char *) p + i, n - i);
	}
	for (; i < n; i++) {
		if ((uint8_t) (p[i] - 1) >= 0x7F) {
			return od_utf8_valid((const char *) p + i, n - i);
		}
	}
	return true;
}

orgdir_code
od_pb_bad_string_status(const od_pb_bad_string *bad, size_t max, orgdir_status *st)
{
	if (bad->field == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "message nested too deeply");
	}
	if (bad->too_long) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s.%s is %zu bytes long; the limit is %zu", bad->msg->short_name,
		    bad->field->name, bad->len, max);
	}
	return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s.%s is not valid UTF-8",
	    bad->msg->short_name, bad->field->name);
}
