/* pbmask.c - field-mask updates and a tiny wire scanner, driven by protobuf-c
 * descriptors so every resource shares them. */
#include <string.h>

#include "od.h"

static size_t
field_size(const ProtobufCFieldDescriptor *f)
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
		memcpy(d + f->offset, s + f->offset, field_size(f));
		return;
	}
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		/* protobuf-c points default_value at the characters themselves. */
		const char *empty = f->default_value ? (const char *) f->default_value : "";
		memcpy(d + f->offset, &empty, sizeof(empty));
	} else {
		memset(d + f->offset, 0, field_size(f));
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
od_pb_scan_field(const uint8_t *p, size_t n, uint32_t field, const uint8_t **out, size_t *out_len)
{
	size_t i = 0;
	while (i < n) {
		uint64_t key = 0;
		int shift = 0;
		do {
			if (i >= n || shift > 63) {
				return false;
			}
			key |= (uint64_t) (p[i] & 0x7F) << shift;
			shift += 7;
		} while (p[i++] & 0x80);
		uint32_t wt = key & 7;
		uint64_t len = 0;
		switch (wt) {
		case 0:
			while (i < n && (p[i] & 0x80)) {
				i++;
			}
			i++;
			continue;
		case 1:
			i += 8;
			continue;
		case 5:
			i += 4;
			continue;
		case 2:
			shift = 0;
			do {
				if (i >= n || shift > 63) {
					return false;
				}
				len |= (uint64_t) (p[i] & 0x7F) << shift;
				shift += 7;
			} while (p[i++] & 0x80);
			if (len > n - i) {
				return false;
			}
			if ((key >> 3) == field) {
				*out = p + i;
				*out_len = (size_t) len;
				return true;
			}
			i += (size_t) len;
			continue;
		default:
			return false;
		}
	}
	return false;
}

static orgdir_code
check_strings(const ProtobufCMessage *m, size_t max, int depth, orgdir_status *st)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > 32) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "message nested too deeply");
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		const char *base = (const char *) m + f->offset;
		size_t n = 1;
		const void *const *items = (const void *const *) base;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			memcpy(&n, (const char *) m + f->quantifier_offset, sizeof(n));
			items = *(const void *const *const *) base;
		}
		for (size_t k = 0; k < n; k++) {
			const void *item = items[k];
			if (item == NULL) {
				continue;
			}
			if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				orgdir_code c = check_strings(item, max, depth + 1, st);
				if (c != ORGDIR_OK) {
					return c;
				}
				continue;
			}
			size_t len = strlen(item);
			if (len > max) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "%s.%s is %zu bytes long; the limit is %zu", d->short_name,
				    f->name, len, max);
			}
			if (!od_utf8_valid(item, len)) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "%s.%s is not valid UTF-8", d->short_name, f->name);
			}
		}
	}
	return ORGDIR_OK;
}

orgdir_code
od_pb_check_strings(const ProtobufCMessage *m, size_t max, orgdir_status *st)
{
	return check_strings(m, max, 0, st);
}
