/* buf.c - capped byte buffer, the few protobuf wire writers we need, and
 * reading a whole file under a cap. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* First read buffer when the size is not known in advance (a pipe). */
#define READ_ALL_FIRST (1u << 20)

int
od_read_all(FILE *f, size_t cap, char **out, size_t *len)
{
	struct stat sb;
	size_t alloc = READ_ALL_FIRST < cap ? READ_ALL_FIRST : cap + 1;
	size_t n = 0;

	*out = NULL;
	*len = 0;
	if (cap >= SIZE_MAX / 2) {
		return EINVAL;
	}
	/* A regular file's size sizes the buffer; one byte more finds EOF
	 * without growing it. */
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
		if ((uint64_t) sb.st_size > cap) {
			return EFBIG;
		}
		alloc = (size_t) sb.st_size + 1;
	}
	char *buf = malloc(alloc);
	if (buf == NULL) {
		return ENOMEM;
	}
	for (;;) {
		if (n == alloc) {
			if (alloc > cap) {
				free(buf);
				return EFBIG;
			}
			/* One byte past the cap tells a file of exactly the cap from
			 * a larger one. */
			size_t na = alloc <= cap / 2 ? alloc * 2 : cap + 1;
			char *nb = realloc(buf, na);
			if (nb == NULL) {
				free(buf);
				return ENOMEM;
			}
			buf = nb;
			alloc = na;
		}
		errno = 0;
		size_t r = fread(buf + n, 1, alloc - n, f);
		n += r;
		if (r == 0 || n < alloc) {
			if (ferror(f)) {
				int e = errno != 0 ? errno : EIO;
				free(buf);
				return e;
			}
			if (feof(f)) {
				break;
			}
		}
	}
	if (n > cap) {
		free(buf);
		return EFBIG;
	}
	*out = buf;
	*len = n;
	return 0;
}
