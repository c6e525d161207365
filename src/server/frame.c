/* frame.c - encoding of the reply envelope (orgdir.v1.Response) into an nng
 * message, by hand, so a large body is copied exactly once. */
#include <string.h>

#include "server.h"

static bool
msg_varint(nng_msg *m, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	return nng_msg_append(m, tmp, n) == 0;
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t) v;
	return n;
}

/* Encodes orgdir.v1.Response by hand: the fields before the body go into a
 * stack buffer, so a reply is at most three appends, and a large body (a
 * whole subtree) is copied once, straight from the reply buffer. */
bool
od_frame_reply(
    nng_msg *m, uint64_t call_id, const orgdir_status *st, const od_buf *body, uint64_t revision)
{
	uint8_t head[ORGDIR_STATUS_MESSAGE_MAX + 48];
	uint8_t tail[16];
	size_t h = 0, t = 0;
	bool has_body = st->code == ORGDIR_OK && body != NULL && body->len > 0;
	nng_msg_clear(m);
	if (call_id != 0) {
		head[h++] = 1 << 3;
		h += put_varint(head + h, call_id);
	}
	if (st->code != ORGDIR_OK) {
		size_t ml = strnlen(st->message, ORGDIR_STATUS_MESSAGE_MAX - 1);
		head[h++] = 2 << 3;
		h += put_varint(head + h, (uint64_t) st->code);
		head[h++] = 3 << 3 | 2;
		h += put_varint(head + h, ml);
		memcpy(head + h, st->message, ml);
		h += ml;
	}
	if (has_body) {
		head[h++] = 4 << 3 | 2;
		h += put_varint(head + h, body->len);
	}
	if (revision != 0) {
		tail[t++] = 5 << 3;
		t += put_varint(tail + t, revision);
	}
	if (has_body && nng_msg_reserve(m, h + body->len + t) != 0) {
		return false;
	}
	return nng_msg_append(m, head, h) == 0 &&
	    (!has_body || nng_msg_append(m, body->data, body->len) == 0) &&
	    (t == 0 || nng_msg_append(m, tail, t) == 0);
}

bool
od_frame_recorded(nng_msg *m, uint64_t call_id, const od_val *recorded)
{
	/* Fields may come in any order: prefix the recorded Response (which has
	 * no call_id) with this call's id. */
	nng_msg_clear(m);
	return (call_id == 0 || (msg_varint(m, 1 << 3) && msg_varint(m, call_id))) &&
	    nng_msg_append(m, recorded->data, recorded->len) == 0;
}

/* Reads a varint at *i; false when truncated or longer than 10 bytes. */
static bool
get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*i >= n) {
			return false;
		}
		uint8_t b = p[(*i)++];
		v |= (uint64_t) (b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

bool
od_frame_decode_request(const uint8_t *p, size_t n, od_arena *a, Orgdir__V1__Request *req)
{
	orgdir__v1__request__init(req);
	size_t i = 0;
	while (i < n) {
		uint64_t key, v;
		if (!get_varint(p, n, &i, &key)) {
			return false;
		}
		uint32_t field = (uint32_t) (key >> 3);
		switch (key & 7) {
		case 0: /* varint */
			if (!get_varint(p, n, &i, &v)) {
				return false;
			}
			if (field == 2) {
				req->call_id = v;
			} else if (field == 5) {
				req->deadline_ms = (uint32_t) v;
			} else if (field == 7) {
				req->max_reply_bytes = (uint32_t) v;
			}
			break;
		case 1: /* 64-bit */
			if (n - i < 8) {
				return false;
			}
			i += 8;
			break;
		case 5: /* 32-bit */
			if (n - i < 4) {
				return false;
			}
			i += 4;
			break;
		case 2: { /* length-delimited: borrowed from p, strings copied */
			if (!get_varint(p, n, &i, &v) || v > n - i) {
				return false;
			}
			const uint8_t *d = p + i;
			size_t len = (size_t) v;
			i += len;
			if (field == 1 || field == 4) {
				char *s = od_arena_strndup(a, (const char *) d, len);
				if (s == NULL) {
					return false;
				}
				if (field == 1) {
					req->method = s;
				} else {
					req->auth_token = s;
				}
			} else if (field == 3) {
				req->body.data = (uint8_t *) d;
				req->body.len = len;
			} else if (field == 6) {
				req->request_id.data = (uint8_t *) d;
				req->request_id.len = len;
			}
			break;
		}
		default: /* groups and reserved wire types: not a Request */
			return false;
		}
	}
	return true;
}
