/* changes.c - the change log: every committed change to a unit or a country,
 * appended in the write's own transaction, keyed by (revision, seq), with an
 * index by resource. The log is what history, watch and (later) replicas
 * and point-in-time views read. */
#include <string.h>

#include "store_int.h"

#define META_LOG_FLOOR "log_floor"
#define PRUNE_PER_WRITE 64

static void
make_key(uint8_t k[12], uint64_t rev, uint32_t seq)
{
	od_put_be64(k, rev);
	k[8] = (uint8_t) (seq >> 24);
	k[9] = (uint8_t) (seq >> 16);
	k[10] = (uint8_t) (seq >> 8);
	k[11] = (uint8_t) seq;
}

static size_t
res_key(int type, const char *id, char *out)
{
	size_t n = strlen(id);
	out[0] = type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY ? 'c' : 'u';
	out[1] = ':';
	memcpy(out + 2, id, n);
	return n + 2;
}

/* The log holds every change after this revision. */
static uint64_t
log_floor(od_txn *t)
{
	MDB_val k = {strlen(META_LOG_FLOOR), META_LOG_FLOOR};
	MDB_val v;
	uint64_t f = 0;
	if (mdb_get(t->txn, t->s->meta, &k, &v) == 0 && v.mv_size == sizeof(f)) {
		memcpy(&f, v.mv_data, sizeof(f));
	}
	return f;
}

int
od_changes_set_floor(od_txn *t, uint64_t f)
{
	return od_mdb_put(t, t->s->meta, META_LOG_FLOOR, strlen(META_LOG_FLOOR), &f, sizeof(f), 0);
}

/* Drops the oldest revisions beyond the retention window, a few per write. */
static int
prune(od_txn *t, od_arena *a, uint64_t rev)
{
	uint64_t keep = t->s->retain_revisions;
	if (keep == 0 || rev <= keep) {
		return 0;
	}
	uint64_t below = rev - keep; /* revisions <= below go */
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t floor = 0;
	int rc = mdb_cursor_open(t->txn, t->s->changes, &c);
	for (int i = 0; rc == 0 && i < PRUNE_PER_WRITE; i++) {
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) != 0 || k.mv_size != 12) {
			break;
		}
		uint64_t r = od_get_be64(k.mv_data);
		if (r > below) {
			break;
		}
		Orgdir__V1__Change *ch =
		    OD_PB_UNPACK(orgdir__v1__change, &a->pb, v.mv_size, v.mv_data);
		if (ch != NULL) {
			char rk[2 + OD_ID_MAX + 1];
			MDB_val key = {res_key(ch->resource_type, ch->resource_id, rk), rk};
			MDB_val dup = {12, k.mv_data};
			od_mdb_del(t, t->s->changes_by_res, &key, &dup);
		}
		rc = od_mdb_cursor_del(t, c, 0);
		floor = r;
	}
	if (c != NULL) {
		mdb_cursor_close(c);
	}
	if (rc == 0 && floor > log_floor(t)) {
		rc = od_changes_set_floor(t, floor);
	}
	return rc;
}

static bool
put_field_msg(od_buf *b, uint32_t field, const od_val *v)
{
	return v == NULL || od_pb_put_len_field(b, field, v->data, v->len);
}

static bool
put_field_str(od_buf *b, uint32_t field, const char *s)
{
	return s == NULL || s[0] == '\0' || od_pb_put_len_field(b, field, s, strlen(s));
}

orgdir_code
od_change_append(od_txn *t, od_arena *a, int type, const char *id, const od_val *before,
    const od_val *after, orgdir_status *st)
{
	uint64_t rev = od_txn_revision(t);
	if (t->seq_rev != rev) {
		t->seq_rev = rev;
		t->seq = 0;
	} else {
		t->seq++;
	}
	int64_t sec;
	int32_t nsec;
	od_now(&sec, &nsec);
	/* Change, encoded by hand: the before/after resources are the stored
	 * packed bytes, which are exactly a Unit (or Country) field's payload. */
	size_t cap = 96 + strlen(id) + (t->actor ? strlen(t->actor) : 0) +
	    (t->method ? strlen(t->method) : 0) + (before ? before->len : 0) +
	    (after ? after->len : 0);
	od_buf b = {.data = od_arena_alloc(a, cap), .alloc = cap, .cap = cap};
	uint8_t ts[24];
	od_buf tb = {.data = ts, .alloc = sizeof(ts), .cap = sizeof(ts)};
	if (b.data == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	od_pb_put_varint_field(&tb, 1, (uint64_t) sec);
	if (nsec != 0) {
		od_pb_put_varint_field(&tb, 2, (uint64_t) nsec);
	}
	int before_f = type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY ? 10 : 8;
	bool ok = od_pb_put_varint_field(&b, 1, rev) &&
	    (t->seq == 0 || od_pb_put_varint_field(&b, 2, t->seq)) &&
	    od_pb_put_len_field(&b, 3, tb.data, tb.len) && put_field_str(&b, 4, t->actor) &&
	    put_field_str(&b, 5, t->method) && od_pb_put_varint_field(&b, 6, (uint64_t) type) &&
	    put_field_str(&b, 7, id) && put_field_msg(&b, before_f, before) &&
	    put_field_msg(&b, before_f + 1, after);
	if (!ok) {
		return od_status_set(st, ORGDIR_INTERNAL, "change record larger than planned");
	}
	uint8_t key[12];
	char rk[2 + OD_ID_MAX + 1];
	make_key(key, rev, t->seq);
	int rc = od_mdb_put(t, t->s->changes, key, 12, b.data, b.len, MDB_APPEND);
	if (rc == MDB_KEYEXIST) {
		/* Not the largest key (a nested transaction was aborted and its
		 * revision reused): a plain put is still in order. */
		rc = od_mdb_put(t, t->s->changes, key, 12, b.data, b.len, 0);
	}
	if (rc == 0) {
		rc = od_mdb_put(t, t->s->changes_by_res, rk, res_key(type, id, rk), key, 12, 0);
	}
	if (rc == 0) {
		rc = prune(t, a, rev);
	}
	return od_mdb_status(t, rc, "append to the change log", st);
}

void
od_changes_span(od_txn *t, uint64_t *oldest, uint64_t *count)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t last = UINT64_MAX;
	*oldest = 0;
	*count = 0;
	if (mdb_cursor_open(t->txn, t->s->changes, &c) != 0) {
		return;
	}
	for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		uint64_t r = k.mv_size == 12 ? od_get_be64(k.mv_data) : 0;
		if (*count == 0) {
			*oldest = r;
		}
		if (r != last) {
			(*count)++;
			last = r;
		}
	}
	mdb_cursor_close(c);
}

orgdir_code
od_changes_list(od_txn *t, od_arena *a, const Orgdir__V1__ListChangesRequest *r,
    Orgdir__V1__ListChangesResponse **out, orgdir_status *st)
{
	uint8_t start[12];
	uint8_t tok[12];
	bool after_token = false;
	char rk[2 + OD_ID_MAX + 1];
	size_t rkl = 0;
	orgdir_code code;

	if (r->page_size < 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "page_size must not be negative");
	}
	size_t want = r->page_size == 0
	    ? OD_PAGE_DEFAULT
	    : (r->page_size > OD_PAGE_MAX ? OD_PAGE_MAX : (size_t) r->page_size);
	if (r->resource_id[0] != '\0') {
		if (r->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY) {
			size_t n = strlen(r->resource_id);
			if (n != 2 || !od_utf8_valid(r->resource_id, n)) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "resource_id: a country is named by its alpha-2 code");
			}
		} else if ((code = od_check_id("resource_id", r->resource_id, st)) != ORGDIR_OK) {
			return code;
		}
		rkl = res_key(r->resource_type, r->resource_id, rk);
	}
	uint64_t floor = log_floor(t);
	if (r->since_revision < floor) {
		return od_status_set(st, ORGDIR_OUT_OF_RANGE,
		    "the change log no longer holds the changes after revision %llu (it starts "
		    "after "
		    "%llu): read the directory again (ExportDirectory) and follow changes from its "
		    "revision",
		    (unsigned long long) r->since_revision, (unsigned long long) floor);
	}
	if (r->page_token[0] != '\0') {
		if (od_hex_decode(r->page_token, tok, sizeof(tok)) != 12) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "page_token is not a token from a previous page of this listing");
		}
		memcpy(start, tok, 12);
		after_token = true;
	} else {
		make_key(start, r->since_revision + 1, 0);
	}
	Orgdir__V1__ListChangesResponse *resp = od_arena_alloc(a, sizeof(*resp));
	Orgdir__V1__Change **items = od_arena_alloc(a, want * sizeof(*items) + 1);
	if (resp == NULL || items == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	orgdir__v1__list_changes_response__init(resp);
	resp->revision = od_txn_revision(t);

	MDB_cursor *c;
	MDB_dbi dbi = rkl ? t->s->changes_by_res : t->s->changes;
	if (mdb_cursor_open(t->txn, dbi, &c) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot read the change log");
	}
	MDB_val k, v;
	int rc;
	if (rkl) {
		k = (MDB_val){rkl, rk};
		v = (MDB_val){12, start};
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
	} else {
		k = (MDB_val){12, start};
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	}
	size_t n = 0;
	uint8_t last[12];
	bool more = false;
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, rkl ? MDB_NEXT_DUP : MDB_NEXT)) {
		const void *ckey = rkl ? v.mv_data : k.mv_data;
		if ((rkl ? v.mv_size : k.mv_size) != 12) {
			continue;
		}
		if (after_token && memcmp(ckey, tok, 12) <= 0) {
			continue;
		}
		if (n == want) {
			more = true;
			break;
		}
		MDB_val cv;
		if (rkl) {
			MDB_val ck = {12, (void *) ckey};
			if (mdb_get(t->txn, t->s->changes, &ck, &cv) != 0) {
				continue; /* pruned since */
			}
		} else {
			cv = v;
		}
		items[n] = OD_PB_UNPACK(orgdir__v1__change, &a->pb, cv.mv_size, cv.mv_data);
		if (items[n] == NULL) {
			mdb_cursor_close(c);
			return a->exhausted
			    ? od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory")
			    : od_status_set(st, ORGDIR_DATA_LOSS, "a change record is corrupt");
		}
		memcpy(last, ckey, 12);
		n++;
	}
	mdb_cursor_close(c);
	resp->changes = items;
	resp->n_changes = n;
	if (more) {
		char *hex = od_arena_alloc(a, 25);
		if (hex == NULL) {
			return od_status_set(
			    st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
		}
		od_hex_encode(last, 12, hex);
		resp->next_page_token = hex;
	}
	*out = resp;
	return ORGDIR_OK;
}
