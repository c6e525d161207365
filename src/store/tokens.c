/* tokens.c - bearer tokens: a name, a role, an optional expiry and the
 * SHA-256 of the secret. The secret itself is never stored. */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define SECRET_BYTES 32
#define SECRET_PREFIX "odt_"

static bool
get_rec(od_txn *t, const char *name, struct od_token_rec *out)
{
	MDB_val k = {strlen(name), (void *) name};
	MDB_val v;
	if (mdb_get(t->txn, t->s->tokens, &k, &v) != 0 || v.mv_size != sizeof(*out)) {
		return false;
	}
	memcpy(out, v.mv_data, sizeof(*out));
	return true;
}

orgdir_code
od_token_check(od_txn *t, const char *secret, od_token_auth *out, orgdir_status *st)
{
	uint8_t h[32];
	struct od_token_rec rec;
	size_t n = strlen(secret);
	od_sha256(secret, n, h);
	MDB_val k = {sizeof(h), h};
	MDB_val v;
	/* The lookup is by hash, so it reveals nothing of the secret; the
	 * stored hash is then compared in constant time all the same. */
	if (mdb_get(t->txn, t->s->token_hashes, &k, &v) != 0 || v.mv_size == 0 ||
	    v.mv_size > OD_ID_MAX) {
		return od_status_set(
		    st, ORGDIR_UNAUTHENTICATED, "the token is not valid on this server");
	}
	memcpy(out->name, v.mv_data, v.mv_size);
	out->name[v.mv_size] = '\0';
	if (!get_rec(t, out->name, &rec) || !od_ct_equal(rec.hash, h, sizeof(h))) {
		return od_status_set(
		    st, ORGDIR_UNAUTHENTICATED, "the token is not valid on this server");
	}
	if (rec.expire_sec != 0) {
		int64_t now;
		int32_t ns;
		od_now(&now, &ns);
		if (now >= rec.expire_sec) {
			return od_status_set(st, ORGDIR_UNAUTHENTICATED,
			    "token '%s' has expired: ask an admin for a new one", out->name);
		}
	}
	out->role = (int) rec.role;
	return ORGDIR_OK;
}

static Orgdir__V1__TokenInfo *
info_of(od_arena *a, const char *name, size_t name_len, const struct od_token_rec *rec)
{
	Orgdir__V1__TokenInfo *i = od_arena_alloc(a, sizeof(*i));
	Google__Protobuf__Timestamp *ts = od_arena_alloc(a, 2 * sizeof(*ts));
	if (i == NULL || ts == NULL) {
		return NULL;
	}
	orgdir__v1__token_info__init(i);
	google__protobuf__timestamp__init(&ts[0]);
	google__protobuf__timestamp__init(&ts[1]);
	i->name = od_arena_strndup(a, name, name_len);
	i->role = (Orgdir__V1__Role) rec->role;
	ts[0].seconds = rec->create_sec;
	i->create_time = &ts[0];
	if (rec->expire_sec != 0) {
		ts[1].seconds = rec->expire_sec;
		i->expire_time = &ts[1];
	}
	return i->name != NULL ? i : NULL;
}

orgdir_code
od_token_create(od_txn *t, od_arena *a, const char *name, int role, uint64_t ttl_seconds,
    Orgdir__V1__TokenInfo **info, char **secret, orgdir_status *st)
{
	orgdir_code c = od_check_id("token name", name, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	if (role < ORGDIR__V1__ROLE__READER || role > ORGDIR__V1__ROLE__ADMIN) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "role must be READER, EDITOR or ADMIN");
	}
	if (ttl_seconds > (uint64_t) 100 * 366 * 86400) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "ttl_seconds is over 100 years");
	}
	struct od_token_rec rec;
	if (get_rec(t, name, &rec)) {
		return od_status_set(st, ORGDIR_ALREADY_EXISTS,
		    "token '%s' already exists: delete it first to replace it", name);
	}
	uint8_t raw[SECRET_BYTES];
	char *s = od_arena_alloc(a, sizeof(SECRET_PREFIX) + 2 * SECRET_BYTES);
	if (s == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	if (!od_random(raw, sizeof(raw))) {
		return od_status_set(st, ORGDIR_INTERNAL, "no randomness available for a token");
	}
	memcpy(s, SECRET_PREFIX, strlen(SECRET_PREFIX));
	od_hex_encode(raw, sizeof(raw), s + strlen(SECRET_PREFIX));
	int32_t ns;
	memset(&rec, 0, sizeof(rec));
	od_sha256(s, strlen(s), rec.hash);
	od_now(&rec.create_sec, &ns);
	rec.expire_sec = ttl_seconds ? rec.create_sec + (int64_t) ttl_seconds : 0;
	rec.role = (uint32_t) role;
	int rc =
	    od_mdb_put(t, t->s->tokens, name, strlen(name), &rec, sizeof(rec), MDB_NOOVERWRITE);
	if (rc == 0) {
		rc = od_mdb_put(
		    t, t->s->token_hashes, rec.hash, sizeof(rec.hash), name, strlen(name), 0);
	}
	if (rc != 0) {
		return od_mdb_status(t, rc, "store token", st);
	}
	*info = info_of(a, name, strlen(name), &rec);
	*secret = s;
	return *info != NULL
	    ? ORGDIR_OK
	    : od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
}

orgdir_code
od_token_delete(od_txn *t, const char *name, orgdir_status *st)
{
	struct od_token_rec rec;
	orgdir_code c = od_check_id("token name", name, st);
	if (c != ORGDIR_OK) {
		return c;
	}
	if (!get_rec(t, name, &rec)) {
		return od_status_set(st, ORGDIR_NOT_FOUND, "token '%s' does not exist", name);
	}
	MDB_val k = {strlen(name), (void *) name};
	MDB_val hk = {sizeof(rec.hash), rec.hash};
	int rc = od_mdb_del(t, t->s->tokens, &k, NULL);
	if (rc == 0) {
		rc = od_mdb_del(t, t->s->token_hashes, &hk, NULL);
	}
	return od_mdb_status(t, rc == MDB_NOTFOUND ? 0 : rc, "delete token", st);
}

orgdir_code
od_token_list(od_txn *t, od_arena *a, Orgdir__V1__ListTokensResponse **out, orgdir_status *st)
{
	MDB_stat ms;
	MDB_cursor *c;
	MDB_val k, v;
	Orgdir__V1__ListTokensResponse *r = od_arena_alloc(a, sizeof(*r));
	if (r == NULL || mdb_stat(t->txn, t->s->tokens, &ms) != 0 ||
	    mdb_cursor_open(t->txn, t->s->tokens, &c) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot list tokens");
	}
	orgdir__v1__list_tokens_response__init(r);
	r->tokens = od_arena_alloc(a, ms.ms_entries * sizeof(*r->tokens) + 1);
	size_t n = 0;
	for (int op = MDB_FIRST;
	     r->tokens != NULL && n < ms.ms_entries && mdb_cursor_get(c, &k, &v, op) == 0;
	     op = MDB_NEXT) {
		struct od_token_rec rec;
		if (v.mv_size != sizeof(rec)) {
			continue;
		}
		memcpy(&rec, v.mv_data, sizeof(rec));
		if ((r->tokens[n] = info_of(a, k.mv_data, k.mv_size, &rec)) != NULL) {
			n++;
		}
	}
	mdb_cursor_close(c);
	if (r->tokens == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of request memory");
	}
	r->n_tokens = n;
	*out = r;
	return ORGDIR_OK;
}

size_t
od_token_count(od_txn *t)
{
	MDB_stat ms;
	return mdb_stat(t->txn, t->s->tokens, &ms) == 0 ? ms.ms_entries : 0;
}
