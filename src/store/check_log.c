/* check_log.c - the consistency check of the change log, its
 * by-resource index (changes_by_res) and the tokens.
 * What is checked is listed in check.h; the shared state is in check_int.h. */
#include <inttypes.h>
#include <string.h>

#include "check_int.h"

#define META_LOG_FLOOR "log_floor"

/* --- the change log ----------------------------------------------------------------------- */

/* The changes_by_res key of a resource: "u:<id>" or "c:<CC>". */
static size_t
res_key(int type, const char *id, char *out /* 2 + OD_ID_MAX + 1 */)
{
	size_t n = strnlen(id, OD_ID_MAX);
	out[0] = type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY ? 'c' : 'u';
	out[1] = ':';
	memcpy(out + 2, id, n);
	return n + 2;
}

/* One decoded change: what it names agrees with its key and its kind. */
static void
check_change_record(struct ck *c, uint64_t rev, uint32_t seq, const Orgdir__V1__Change *ch)
{
	char sh[SHOWBUF];
	const char *id = od_check_show(ch->resource_id, strlen(ch->resource_id), sh, sizeof(sh));
	if (ch->revision != rev || ch->seq != seq) {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32 " holds the change of revision "
		    "%" PRIu64 " seq %" PRIu32,
		    rev, seq, ch->revision, ch->seq);
	}
	const char *before, *after;
	bool has_before, has_after;
	if (ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT) {
		if (strlen(ch->resource_id) > OD_ID_MAX || !od_id_valid(ch->resource_id)) {
			od_check_problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " names unit '%s', not a unit id",
			    rev, seq, id);
			return;
		}
		has_before = ch->unit_before != NULL;
		has_after = ch->unit_after != NULL;
		before = has_before ? ch->unit_before->id : "";
		after = has_after ? ch->unit_after->id : "";
	} else if (ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY) {
		if (!od_check_country_code_valid(ch->resource_id, strlen(ch->resource_id))) {
			od_check_problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " names country '%s', not an alpha-2 code",
			    rev, seq, id);
			return;
		}
		has_before = ch->country_before != NULL;
		has_after = ch->country_after != NULL;
		/* A country record may leave its code out (it is the key). */
		before = has_before && ch->country_before->code[0] ? ch->country_before->code
		                                                   : ch->resource_id;
		after = has_after && ch->country_after->code[0] ? ch->country_after->code
		                                                : ch->resource_id;
	} else {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " changes '%s' of unknown resource type %d",
		    rev, seq, id, (int) ch->resource_type);
		return;
	}
	const char *what =
	    ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT ? "unit" : "country";
	if (!has_before && !has_after) {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') has neither a before nor an after",
		    rev, seq, what, id);
	} else if ((has_before && strcmp(before, ch->resource_id) != 0) ||
	    (has_after && strcmp(after, ch->resource_id) != 0)) {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') holds another %s's record",
		    rev, seq, what, id, what);
	}
	char rk[2 + OD_ID_MAX + 1];
	uint8_t key[12];
	od_put_be64(key, rev);
	key[8] = (uint8_t) (seq >> 24);
	key[9] = (uint8_t) (seq >> 16);
	key[10] = (uint8_t) (seq >> 8);
	key[11] = (uint8_t) seq;
	if (!od_check_has_dup(c, c->s->changes_by_res, rk,
	        res_key(ch->resource_type, ch->resource_id, rk), key, sizeof(key))) {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " seq %" PRIu32
		    " (%s '%s') is missing from the changes_by_res index",
		    rev, seq, what, id);
	}
}

/* Reports revisions from..to (inclusive) as missing. */
static void
missing_revisions(struct ck *c, uint64_t from, uint64_t to, uint64_t floor)
{
	if (from == to) {
		od_check_problem(c,
		    "change log: revision %" PRIu64 " is missing (the log holds every change after "
		    "revision %" PRIu64 ")",
		    from, floor);
	} else {
		od_check_problem(c,
		    "change log: revisions %" PRIu64 " to %" PRIu64
		    " are missing (the log holds every change after revision %" PRIu64 ")",
		    from, to, floor);
	}
}

/*
 * Every change after the floor is kept: revisions floor+1 .. the store's
 * revision each have changes numbered from seq 0 without a gap. Changes at
 * or below the floor are left-overs pruning has not reached yet (it takes
 * a few per write) and are only checked for form.
 */
int
od_check_changes(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t floor = 0;
	MDB_val fk = {strlen(META_LOG_FLOOR), META_LOG_FLOOR};
	if (mdb_get(c->txn, c->s->meta, &fk, &v) == 0) {
		if (v.mv_size != sizeof(floor)) {
			od_check_problem(
			    c, "meta: the change log floor is %zu bytes, not 8", v.mv_size);
		} else {
			memcpy(&floor, v.mv_data, sizeof(floor));
		}
	}
	uint64_t top = c->rep->revision;
	if (floor > top) {
		od_check_problem(c,
		    "meta: the change log starts after revision %" PRIu64
		    ", later than the store's revision %" PRIu64,
		    floor, top);
	}
	uint64_t last_rev = floor; /* the last revision above the floor seen */
	uint64_t prev_rev = 0;
	uint32_t prev_seq = 0;
	bool any = false;
	int rc = mdb_cursor_open(c->txn, c->s->changes, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF];
		c->rep->changes++;
		if (k.mv_size != 12) {
			od_check_problem(c,
			    "change log: key '%s' is %zu bytes, not revision + seq (12)",
			    od_check_show(k.mv_data, k.mv_size, sh, sizeof(sh)), k.mv_size);
			continue;
		}
		uint64_t rev = od_get_be64(k.mv_data);
		uint32_t seq = od_get_be32((const uint8_t *) k.mv_data + 8);
		Orgdir__V1__Change *ch = orgdir__v1__change__unpack(&c->a.pb, v.mv_size, v.mv_data);
		if (ch == NULL) {
			od_check_problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    ": the stored %zu bytes do not decode as orgdir.v1.Change%s",
			    rev, seq, v.mv_size,
			    c->a.exhausted ? " (larger than the check's memory)" : "");
		} else {
			check_change_record(c, rev, seq, ch);
		}
		od_arena_reset(&c->a);
		if (rev > top) {
			od_check_problem(c,
			    "change log: revision %" PRIu64 " seq %" PRIu32
			    " is later than the store's revision %" PRIu64,
			    rev, seq, top);
		}
		bool same = any && rev == prev_rev;
		any = true;
		prev_rev = rev;
		uint32_t want_seq = same ? prev_seq + 1 : 0;
		prev_seq = seq;
		if (rev <= floor) {
			continue; /* a left-over below the retention start */
		}
		if (!same && rev > last_rev + 1) {
			missing_revisions(c, last_rev + 1, rev - 1, floor);
		}
		last_rev = rev;
		if (seq != want_seq) {
			od_check_problem(c,
			    "change log: revision %" PRIu64 " has seq %" PRIu32
			    " where seq %" PRIu32 " should be (changes are missing)",
			    rev, seq, want_seq);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if (last_rev < top) {
		missing_revisions(c, last_rev + 1, top, floor);
	}
	return 0;
}

/* Each changes_by_res entry names a change of that resource in the log. */
int
od_check_changes_by_res(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->changes_by_res, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF], sh2[SHOWBUF];
		const char *res = od_check_show(k.mv_data, k.mv_size, sh, sizeof(sh));
		if (v.mv_size != 12) {
			od_check_problem(c, "changes_by_res: an entry of '%s' is %zu bytes, not 12",
			    res, v.mv_size);
			continue;
		}
		uint64_t rev = od_get_be64(v.mv_data);
		uint32_t seq = od_get_be32((const uint8_t *) v.mv_data + 8);
		MDB_val cv;
		if (mdb_get(c->txn, c->s->changes, &v, &cv) != 0) {
			od_check_problem(c,
			    "changes_by_res: '%s' lists revision %" PRIu64 " seq %" PRIu32
			    ", which is not in the change log",
			    res, rev, seq);
			continue;
		}
		Orgdir__V1__Change *ch =
		    orgdir__v1__change__unpack(&c->a.pb, cv.mv_size, cv.mv_data);
		char rk[2 + OD_ID_MAX + 1];
		size_t rkl;
		if (ch != NULL &&
		    ((rkl = res_key(ch->resource_type, ch->resource_id, rk)) != k.mv_size ||
		        memcmp(rk, k.mv_data, rkl) != 0)) {
			od_check_problem(c,
			    "changes_by_res: '%s' lists revision %" PRIu64 " seq %" PRIu32
			    ", a change of '%s'",
			    res, rev, seq, od_check_show(rk, rkl, sh2, sizeof(sh2)));
		}
		od_arena_reset(&c->a);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- tokens ------------------------------------------------------------------------------ */

int
od_check_tokens(struct ck *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->s->tokens, &cur);
	if (rc != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF], sh2[SHOWBUF], name[OD_ID_MAX + 1];
		const char *shown = od_check_show(k.mv_data, k.mv_size, sh, sizeof(sh));
		struct od_token_rec rec;
		c->rep->tokens++;
		if (!od_check_id_of(&k, name)) {
			od_check_problem(c, "token '%s': not a valid token name", shown);
		}
		if (v.mv_size != sizeof(rec)) {
			od_check_problem(c,
			    "token '%s': the stored %zu bytes are not a token record (%zu)", shown,
			    v.mv_size, sizeof(rec));
			continue;
		}
		memcpy(&rec, v.mv_data, sizeof(rec));
		if (rec.role < ORGDIR__V1__ROLE__READER || rec.role > ORGDIR__V1__ROLE__ADMIN) {
			od_check_problem(c, "token '%s': unknown role %" PRIu32, shown, rec.role);
		}
		if (rec.expire_sec != 0 && rec.expire_sec <= rec.create_sec) {
			od_check_problem(c,
			    "token '%s': expires (%" PRId64 ") before it was created (%" PRId64 ")",
			    shown, rec.expire_sec, rec.create_sec);
		}
		MDB_val hk = {sizeof(rec.hash), rec.hash};
		MDB_val hv;
		if (mdb_get(c->txn, c->s->token_hashes, &hk, &hv) != 0) {
			od_check_problem(
			    c, "token '%s': missing from the token_hashes index", shown);
		} else if (hv.mv_size != k.mv_size ||
		    memcmp(hv.mv_data, k.mv_data, k.mv_size) != 0) {
			od_check_problem(c, "token '%s': its hash is indexed under token '%s'",
			    shown, od_check_show(hv.mv_data, hv.mv_size, sh2, sizeof(sh2)));
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	if ((rc = mdb_cursor_open(c->txn, c->s->token_hashes, &cur)) != 0) {
		return rc;
	}
	for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		char sh[SHOWBUF];
		const char *name = od_check_show(v.mv_data, v.mv_size, sh, sizeof(sh));
		MDB_val tv;
		if (k.mv_size != 32) {
			od_check_problem(c,
			    "token_hashes: an entry for token '%s' has a %zu-byte key, not 32",
			    name, k.mv_size);
		} else if (mdb_get(c->txn, c->s->tokens, &v, &tv) != 0) {
			od_check_problem(c,
			    "token_hashes: an entry names token '%s', which does not exist", name);
		} else if (tv.mv_size == sizeof(struct od_token_rec)) {
			struct od_token_rec rec; /* copied: LMDB values are not aligned */
			memcpy(&rec, tv.mv_data, sizeof(rec));
			if (memcmp(rec.hash, k.mv_data, sizeof(rec.hash)) != 0) {
				od_check_problem(c,
				    "token_hashes: an entry names token '%s', whose secret has "
				    "another hash",
				    name);
			}
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
