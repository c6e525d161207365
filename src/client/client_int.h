/*
 * client_int.h - what the files of liborgdir share and users never see.
 *
 * client.c owns the transport (socket, contexts, envelope out); reply.c
 * owns decoding (envelope in, body, string checks) and orgdir_reply;
 * units.c and server.c are the typed wrappers over orgdir_client_call.
 */
#ifndef OD_CLIENT_INT_H
#define OD_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "od.h"

/* Per-call timeout when orgdir_options.timeout_ms is 0. */
#define OD_CLIENT_TIMEOUT_DEFAULT_MS 10000
/* How long a call waits without a connection when reconnect_ms is 0. */
#define OD_CLIENT_RECONNECT_DEFAULT_MS 5000
/* nng's dialer waits a random time below MIN, then below twice that, ...
 * up to below MAX, between attempts to reach a server that is gone. */
#define OD_CLIENT_REDIAL_MIN_MS 50
#define OD_CLIENT_REDIAL_MAX_MS 1000
/* How often a waiting call looks whether its client has a connection. */
#define OD_CLIENT_CHECK_MS 50
/* Largest max_message_bytes a client accepts. It travels as a uint32
 * (max_reply_bytes), and the reply arena may grow to OD_CLIENT_ARENA_FACTOR
 * times it: 256 MiB keeps that product far from size_t limits. */
#define OD_CLIENT_MESSAGE_MAX (256u << 20)
/* Bytes an envelope may add around a body of max_message_bytes (call id,
 * code, revision and the server's message). NNG_OPT_RECVMAXSZ is the sum:
 * nng drops a larger message by closing the connection, which a REQ socket
 * would only see as a timeout, so the margin must never be what bites. */
#define OD_CLIENT_ENVELOPE_MARGIN (64u * 1024u)
/* A decoded message takes more memory than its wire form: each Unit
 * struct is ~200 bytes, each string is rounded up to 16 and a 30-byte
 * localized name costs ~100 bytes as LocalizedString + two strings.
 * Measured on realistic units the ratio is ~4 (the envelope's body is not
 * copied: reply.c); 8 leaves headroom while still refusing replies built
 * to explode (e.g. thousands of empty sub-messages of 2 bytes each). */
#define OD_CLIENT_ARENA_FACTOR 8u
/* Bearer tokens longer than this are refused at open. */
#define OD_CLIENT_TOKEN_MAX 4096u
/* Method names are short identifiers ("GetSubtree"). */
#define OD_CLIENT_METHOD_MAX 64u
/* The 16-byte idempotency key: 8 random bytes per client + 8-byte counter. */
#define OD_CLIENT_REQUEST_ID_LEN 16u

/*
 * The memory a client's large replies decode into, kept between them: the
 * spare chunk of the last large reply freed. A fresh chunk of megabytes
 * costs a page fault per 4 KiB touched, about as much as the decode itself
 * (reply.c). Shared, and counted, by the client and each reply that took
 * from it: a reply may outlive its client.
 */
typedef struct od_reply_pool od_reply_pool;

/* The reply handle: everything a decoded reply points at lives in `arena`
 * (the envelope and the decoded message; the envelope's body field points
 * into the received bytes, gone once the reply is decoded). */
struct orgdir_reply {
	od_arena arena;
	od_reply_pool *pool; /* a counted share of its client's, or NULL */
};

/* New pool with one count (its client's), or NULL for want of memory. */
od_reply_pool *od_reply_pool_new(void);
/* Drops one count; the last frees the pool and its spare chunk. */
void od_reply_pool_unref(od_reply_pool *pool);

/*
 * Decodes a reply envelope of `len` bytes at `data` (borrowed; the caller
 * frees it after this returns: the decoded body is copied into the reply's
 * arena, and only it), checks it answers `call_id`, and decodes its body as
 * `desc`. On OK, *reply owns a new orgdir_reply and *out points into it.
 * On any other code *reply and *out are NULL and `st` says why (the
 * server's code and message, or INTERNAL / RESOURCE_EXHAUSTED for a reply
 * that cannot be used). `url` is only quoted in messages.
 */
orgdir_code od_client_decode_reply(const uint8_t *data, size_t len, uint64_t call_id,
    size_t max_body, const char *url, od_reply_pool *pool, const ProtobufCMessageDescriptor *desc,
    orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *st);

/* A call sent whose answer is not awaited yet: od_client_call_start fills
 * it, od_client_call_finish waits for the answer and releases it. */
typedef struct {
	orgdir_client *client;
	const ProtobufCMessageDescriptor *reply_desc;
	nng_ctx ctx;
	nng_aio *aio; /* NULL when nothing is in flight; its callback is aio_done */
	uint64_t seq;
	uint64_t start;
	int timeout_ms;
	/* aio_done sets `done` when the aio's step completes; the waiting
	 * caller gives up on a client without a connection (`lost`). The
	 * struct must not move while aio is in flight. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, lost;
} od_call_pending;

/* The first half of od_client_call_ex: checks and packs the request, and
 * sends it without waiting. On OK the call is in flight and must be
 * finished with od_client_call_finish (request may go at once: it is
 * packed); otherwise nothing is, and `status` says why (*reply and *out
 * are cleared either way). */
orgdir_code od_client_call_start(orgdir_client *client, const char *method,
    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
    uint32_t extra_ms, orgdir_reply **reply, ProtobufCMessage **out, od_call_pending *p,
    orgdir_status *status);
/* Waits for the answer of a call od_client_call_start sent, and decodes it
 * as orgdir_client_call does. */
orgdir_code od_client_call_finish(
    od_call_pending *p, orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *status);

/* Whether the client has a connection to its server now. */
bool od_client_connected(const orgdir_client *client);

/* orgdir_client_call with the call's time extended by extra_ms (long polls). */
orgdir_code od_client_call_ex(orgdir_client *client, const char *method,
    const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
    uint32_t extra_ms, orgdir_reply **reply, ProtobufCMessage **out, orgdir_status *status);

/* units.c: shared by the typed wrappers. A NULL argument: *reply is
 * cleared and INVALID_ARGUMENT names it. */
orgdir_code od_client_null_arg(
    orgdir_reply **reply, orgdir_status *st, const char *fn, const char *arg);
/* Fills *mask from paths (n = 0: no mask at all) and points *set at it. */
orgdir_code od_client_mask(const char *fn, const char *const *paths, size_t n,
    Google__Protobuf__FieldMask *mask, Google__Protobuf__FieldMask **set, orgdir_reply **reply,
    orgdir_status *st);

#endif
