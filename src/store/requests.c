/* requests.c - the idempotency record: the outcome of each write, keyed by
 * the client's request id, kept for the most recent OD_REQUESTS_KEPT writes. */
#include <string.h>

#include "store_int.h"

#define REQUEST_ID_MIN 8
#define REQUEST_ID_MAX 64

bool
od_request_lookup(od_txn *t, const od_val *key, od_val *response)
{
	if (key->len < REQUEST_ID_MIN || key->len > REQUEST_ID_MAX) {
		return false;
	}
	MDB_val k = {key->len, (void *) key->data};
	MDB_val v;
	if (mdb_get(t->txn, t->s->requests, &k, &v) != 0) {
		return false;
	}
	response->data = v.mv_data;
	response->len = v.mv_size;
	return true;
}

orgdir_code
od_request_record(od_txn *t, const od_val *key, const od_val *response, orgdir_status *st)
{
	if (key->len < REQUEST_ID_MIN || key->len > REQUEST_ID_MAX) {
		return ORGDIR_OK; /* not protected: nothing to remember */
	}
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->txn, t->s->request_log, &c);
	if (rc != 0) {
		return od_mdb_status(t, rc, "request log", st);
	}
	/* Sequence numbers are big-endian so the log reads oldest first. */
	uint64_t next = 0;
	uint64_t first = 0;
	MDB_val k, v;
	if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
		next = od_get_be64(k.mv_data) + 1;
	}
	if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8) {
		first = od_get_be64(k.mv_data);
	}
	/* Forget the oldest beyond the window, a few per write. */
	for (int i = 0; i < 4 && next - first >= OD_REQUESTS_KEPT; i++) {
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) != 0) {
			break;
		}
		MDB_val old = v;
		od_mdb_del(t, t->s->requests, &old, NULL);
		od_mdb_cursor_del(t, c, 0);
		first++;
	}
	mdb_cursor_close(c);
	uint8_t seq[8];
	od_put_be64(seq, next);
	rc = od_mdb_put(t, t->s->request_log, seq, 8, key->data, key->len, MDB_APPEND);
	if (rc == 0) {
		rc = od_mdb_put(
		    t, t->s->requests, key->data, key->len, response->data, response->len, 0);
	}
	return od_mdb_status(t, rc, "record request", st);
}
