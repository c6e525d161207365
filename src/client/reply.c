/* reply.c - decode a reply envelope and its body into one arena per reply. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* Replies of this many bytes or more decode into the client's pool. */
#define POOL_REPLY_MIN ((size_t) 64 << 10)
/* A decoded reply takes about 4 times its wire size (client_int.h): a
 * chunk of 5 times holds the whole decode. */
#define POOL_FACTOR 5u
/* The largest spare chunk a client keeps (a reply of ~13 MB). */
#define POOL_KEEP_MAX ((size_t) 64 << 20)

struct od_reply_pool {
	atomic_uint refs;
	_Atomic(od_arena_chunk *) spare;
};

od_reply_pool *
od_reply_pool_new(void)
{
	od_reply_pool *p = malloc(sizeof(*p));
	if (p != NULL) {
		atomic_init(&p->refs, 1);
		atomic_init(&p->spare, NULL);
	}
	return p;
}

void
od_reply_pool_unref(od_reply_pool *pool)
{
	if (pool != NULL && atomic_fetch_sub(&pool->refs, 1) == 1) {
		od_arena_chunk *c = atomic_load(&pool->spare);
		if (c != NULL) {
			od_arena_chunk_free(c);
		}
		free(pool);
	}
}

/* Makes r's arena start with a chunk for a reply of len bytes: the pool's
 * spare when it is large enough, else a new one (which the pool keeps
 * after r). */
static void
pool_take(od_reply_pool *pool, orgdir_reply *r, size_t len)
{
	size_t want = POOL_FACTOR * len;
	od_arena_chunk *c = atomic_exchange(&pool->spare, NULL);
	if (c != NULL && od_arena_chunk_size(c) >= want) {
		od_arena_give_chunk(&r->arena, c);
	} else {
		if (c != NULL) {
			od_arena_chunk_free(c);
		}
		/* Only a hint: without it the decode grows the arena as usual. */
		(void) od_arena_reserve(&r->arena, want);
	}
	atomic_fetch_add(&pool->refs, 1);
	r->pool = pool;
}

/* Gives r's largest chunk to its pool, which keeps the larger of it and
 * the spare it has. */
static void
pool_give(orgdir_reply *r)
{
	od_arena_chunk *c =
	    od_arena_take_chunk(&r->arena, POOL_FACTOR * POOL_REPLY_MIN, POOL_KEEP_MAX);
	if (c != NULL) {
		/* Once in the pool, c is another thread's to take and free: its
		 * size is read before. */
		size_t size = od_arena_chunk_size(c);
		od_arena_chunk *old = atomic_exchange(&r->pool->spare, c);
		if (old != NULL && od_arena_chunk_size(old) > size) {
			old = atomic_exchange(&r->pool->spare, old);
		}
		if (old != NULL) {
			od_arena_chunk_free(old);
		}
	}
	od_reply_pool_unref(r->pool);
}

void
orgdir_reply_free(orgdir_reply *reply)
{
	if (reply == NULL) {
		return;
	}
	if (reply->pool != NULL) {
		pool_give(reply);
	}
	od_arena_destroy(&reply->arena);
	free(reply);
}

/* Frees r and reports a reply that could not be used. */
static orgdir_code
refuse(orgdir_reply *r, orgdir_status *st, const char *url, const char *what)
{
	orgdir_code code = ORGDIR_INTERNAL;
	if (r->arena.exhausted) {
		/* The decoder failed for want of memory, not because of bad bytes. */
		code = od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "reply from %s needs more than %zu bytes of memory to decode: ask for "
		    "less (a smaller page or depth), or raise max_message_bytes",
		    url, r->arena.cap);
	} else {
		od_status_set(st, code, "malformed reply from server at %s: %s", url, what);
	}
	orgdir_reply_free(r);
	return code;
}

orgdir_code
od_client_decode_reply(const uint8_t *data, size_t len, uint64_t call_id, size_t max_body,
    const char *url, od_reply_pool *pool, const ProtobufCMessageDescriptor *desc,
    orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *st)
{
	*reply = NULL;
	*out = NULL;

	/* nng's RECVMAXSZ already bounds len; checked again so the arena cap
	 * below can never be smaller than what one copy of the body needs. */
	if (len > max_body + OD_CLIENT_ENVELOPE_MARGIN) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "reply of %zu bytes from %s exceeds max_message_bytes (%zu)", len, url,
		    max_body);
	}
	orgdir_reply *r = malloc(sizeof(*r));
	if (r == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory for a reply");
	}
	od_arena_init(
	    &r->arena, (size_t) OD_CLIENT_ARENA_FACTOR * max_body + OD_CLIENT_ENVELOPE_MARGIN);
	r->pool = NULL;
	if (pool != NULL && len >= POOL_REPLY_MIN) {
		pool_take(pool, r, len);
	}

	/* The envelope's body stays in data (the caller's nng message, freed
	 * once the body below is decoded), not copied into the arena. */
	Orgdir__V1__Response *env = (Orgdir__V1__Response *) od_pb_unpack_in_place(
	    &orgdir__v1__response__descriptor, &r->arena, len, data);
	if (env == NULL) {
		return refuse(r, st, url, "not a Response envelope");
	}
	if (env->call_id != call_id) {
		/* nng's REQ matches replies by its own id, so this is a server that
		 * answered with the wrong envelope: never hand it to the caller. */
		orgdir_code code = od_status_set(st, ORGDIR_INTERNAL,
		    "reply for another call from %s (call id %llu, expected %llu)", url,
		    (unsigned long long) env->call_id, (unsigned long long) call_id);
		orgdir_reply_free(r);
		return code;
	}
	if (st != NULL) {
		st->revision = env->revision;
	}
	if (env->code != ORGDIR_OK) {
		orgdir_code code = ORGDIR_UNKNOWN;
		bool known = env->code > 0 && env->code < ORGDIR_CODE_COUNT;
		const char *msg = env->message;
		if (known) {
			code = (orgdir_code) env->code;
		}
		if (!od_utf8_valid(msg, strlen(msg))) {
			msg = "(the server's message was not valid UTF-8)";
		}
		if (!known) {
			od_status_set(st, code, "server at %s sent unknown status code %ld: %s",
			    url, (long) env->code, msg);
		} else if (msg[0] == '\0') {
			od_status_set(st, code, "%s", orgdir_code_message(code));
		} else {
			od_status_set(st, code, "%s", msg);
		}
		orgdir_reply_free(r);
		return code;
	}
	if (env->body.len > max_body) {
		/* The server was told max_reply_bytes; an honest one never gets here. */
		orgdir_code code = od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "reply body of %zu bytes from %s exceeds max_message_bytes (%zu)",
		    env->body.len, url, max_body);
		orgdir_reply_free(r);
		return code;
	}
	/* Every string checked (UTF-8, no NUL) as it is copied: one pass over
	 * the body, not a decode and a second walk of the wire. */
	od_pb_bad_string bad = {0};
	ProtobufCMessage *m =
	    od_pb_unpack_checked(desc, &r->arena.pb, env->body.len, env->body.data, SIZE_MAX, &bad);
	if (m == NULL) {
		char what[200];
		if (bad.msg == NULL) {
			snprintf(what, sizeof(what), "body is not a valid %s", desc->name);
		} else if (bad.field == NULL) {
			snprintf(what, sizeof(what), "%s nests more than %d levels", desc->name,
			    OD_PB_NESTING_MAX);
		} else {
			snprintf(what, sizeof(what), "field '%s' of %s is not valid UTF-8",
			    bad.field->name, bad.msg->name);
		}
		return refuse(r, st, url, what);
	}
	if (st != NULL) {
		st->code = ORGDIR_OK;
		st->message[0] = '\0';
	}
	*reply = r;
	*out = m;
	return ORGDIR_OK;
}
