/* buf.c - capped byte buffer and the few protobuf wire writers we need. */
#include <stdlib.h>
#include <string.h>

#include "od.h"

void
od_buf_init(od_buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

bool
od_buf_reserve(od_buf *b, size_t extra)
{
	if (b->overflow) {
		return false;
	}
	if (extra > b->cap || b->len > b->cap - extra) {
		b->overflow = true;
		return false;
	}
	size_t need = b->len + extra;
	if (need <= b->alloc) {
		return true;
	}
	size_t na = b->alloc ? b->alloc : 256;
	while (na < need) {
		na *= 2;
	}
	uint8_t *nd = realloc(b->data, na);
	if (nd == NULL) {
		b->overflow = true;
		return false;
	}
	b->data = nd;
	b->alloc = na;
	return true;
}

bool
od_buf_append(od_buf *b, const void *p, size_t n)
{
	if (!od_buf_reserve(b, n)) {
		return false;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	return true;
}

void
od_buf_reset(od_buf *b)
{
	b->len = 0;
	b->overflow = false;
}

void
od_buf_free(od_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

size_t
od_pb_varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

bool
od_pb_put_varint(od_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	return od_buf_append(b, tmp, n);
}

bool
od_pb_put_len_field(od_buf *b, uint32_t field, const void *p, size_t n)
{
	return od_pb_put_varint(b, ((uint64_t) field << 3) | 2) && od_pb_put_varint(b, n) &&
	    od_buf_append(b, p, n);
}

bool
od_pb_put_varint_field(od_buf *b, uint32_t field, uint64_t v)
{
	return od_pb_put_varint(b, (uint64_t) field << 3) && od_pb_put_varint(b, v);
}

bool
od_pb_put_message(od_buf *b, uint32_t field, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (field != 0) {
		if (!od_pb_put_varint(b, ((uint64_t) field << 3) | 2) || !od_pb_put_varint(b, n)) {
			return false;
		}
	}
	if (n == 0) {
		return true; /* an empty message: b->data may still be NULL */
	}
	if (!od_buf_reserve(b, n)) {
		return false;
	}
	b->len += protobuf_c_message_pack(m, b->data + b->len);
	return true;
}
