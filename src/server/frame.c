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

static bool
msg_bytes_field(nng_msg *m, uint32_t field, const void *p, size_t n)
{
	return msg_varint(m, (uint64_t) field << 3 | 2) && msg_varint(m, n) &&
	    (n == 0 || nng_msg_append(m, p, n) == 0);
}

/* Encodes orgdir.v1.Response by hand so a large body (a whole subtree) is
 * copied once, straight from the reply buffer into the message. */
bool
od_frame_reply(
    nng_msg *m, uint64_t call_id, const orgdir_status *st, const od_buf *body, uint64_t revision)
{
	nng_msg_clear(m);
	bool ok = true;
	if (call_id != 0) {
		ok = msg_varint(m, 1 << 3) && msg_varint(m, call_id);
	}
	if (ok && st->code != ORGDIR_OK) {
		ok = msg_varint(m, 2 << 3) && msg_varint(m, (uint64_t) st->code) &&
		    msg_bytes_field(m, 3, st->message, strlen(st->message));
	}
	if (ok && st->code == ORGDIR_OK && body != NULL && body->len > 0) {
		ok = nng_msg_reserve(m, body->len + 16) == 0 &&
		    msg_bytes_field(m, 4, body->data, body->len);
	}
	if (ok && revision != 0) {
		ok = msg_varint(m, 5 << 3) && msg_varint(m, revision);
	}
	return ok;
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
