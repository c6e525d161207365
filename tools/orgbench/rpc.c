/* rpc.c - request encoding, the benchmark's socket, and synchronous calls
 * for set-up (waiting for a server, ServerInfo, discovery). The measured
 * calls go through client.c instead. */
#include <stdio.h>
#include <string.h>

#include "orgbench.h"

#include <nng/protocol/reqrep0/req.h>

size_t
ob_pack_request(uint8_t *out, size_t cap, const char *method, uint64_t call_id,
    const ProtobufCMessage *body, const uint8_t *rid, const char *token)
{
	uint8_t inner[OB_REQ_MAX];
	Orgdir__V1__Request env = ORGDIR__V1__REQUEST__INIT;
	env.method = (char *) method;
	env.call_id = call_id;
	if (body != NULL) {
		if (protobuf_c_message_get_packed_size(body) > sizeof(inner)) {
			return 0;
		}
		env.body.len = protobuf_c_message_pack(body, inner);
		env.body.data = inner;
	}
	if (token != NULL) {
		env.auth_token = (char *) token;
	}
	if (rid != NULL) {
		env.request_id.data = (uint8_t *) rid;
		env.request_id.len = OB_RID_LEN;
	}
	if (orgdir__v1__request__get_packed_size(&env) > cap) {
		return 0;
	}
	return orgdir__v1__request__pack(&env, out);
}

int
ob_socket_open(nng_socket *s, const char *url, size_t recv_max, char *err, size_t errlen)
{
	int rv = nng_req0_open(s);
	if (rv != 0) {
		snprintf(err, errlen, "cannot open a REQ socket: %s", nng_strerror(rv));
		return -1;
	}
	/* No re-send: a slow call is a slow call, not a second request (and
	 * writes carry request ids anyway). The receive cap matches the
	 * server's message cap, so a large subtree is not dropped silently. */
	if ((rv = nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, recv_max)) != 0 ||
	    (rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 20)) != 0 ||
	    (rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 200)) != 0 ||
	    (rv = nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(*s);
		return -1;
	}
	return 0;
}

/* Sends req and waits for the answer on a context of its own. */
static int
exchange(nng_socket s, nng_msg *req, int timeout_ms, nng_msg **answer)
{
	nng_ctx ctx;
	nng_aio *aio;
	int rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		nng_msg_free(req);
		return rv;
	}
	if ((rv = nng_ctx_open(&ctx, s)) != 0) {
		nng_aio_free(aio);
		nng_msg_free(req);
		return rv;
	}
	nng_aio_set_timeout(aio, timeout_ms);
	nng_aio_set_msg(aio, req);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg *back = nng_aio_get_msg(aio); /* a failed send leaves it with us */
		if (back != NULL) {
			nng_msg_free(back);
		}
	} else {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) == 0) {
			*answer = nng_aio_get_msg(aio);
		}
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return rv;
}

static orgdir_code
transport_error(int rv, char *err, size_t errlen)
{
	snprintf(err, errlen, "no answer: %s", nng_strerror(rv));
	return rv == NNG_ETIMEDOUT ? ORGDIR_DEADLINE_EXCEEDED : ORGDIR_UNAVAILABLE;
}

orgdir_code
ob_call(nng_socket s, const char *method, const ProtobufCMessage *body, const char *token,
    int timeout_ms, ob_arena *a, Orgdir__V1__Response **resp, char *err, size_t errlen)
{
	static atomic_uint_fast64_t next_id = 1;
	uint8_t buf[OB_REQ_MAX + 128];
	uint64_t id = atomic_fetch_add(&next_id, 1);
	size_t len = ob_pack_request(buf, sizeof(buf), method, id, body, NULL, token);
	nng_msg *m;
	nng_msg *answer = NULL;

	*resp = NULL;
	if (len == 0) {
		snprintf(err, errlen, "%s: request too large to encode", method);
		return ORGDIR_INTERNAL;
	}
	int rv = nng_msg_alloc(&m, 0);
	if (rv != 0 || (rv = nng_msg_append(m, buf, len)) != 0) {
		if (rv == 0) {
			nng_msg_free(m);
		}
		return transport_error(rv, err, errlen);
	}
	if ((rv = exchange(s, m, timeout_ms, &answer)) != 0) {
		return transport_error(rv, err, errlen);
	}
	Orgdir__V1__Response *r = (Orgdir__V1__Response *) od_pb_unpack(
	    &orgdir__v1__response__descriptor, &a->a.pb, nng_msg_len(answer), nng_msg_body(answer));
	nng_msg_free(answer);
	if (r == NULL || r->call_id != id) {
		snprintf(err, errlen, "%s: the answer is not the orgdir.v1.Response to this call",
		    method);
		return ORGDIR_INTERNAL;
	}
	*resp = r;
	if (r->code != ORGDIR_OK) {
		snprintf(err, errlen, "%s: %s: %s", method, orgdir_code_name((orgdir_code) r->code),
		    r->message);
	}
	return (orgdir_code) r->code;
}

int
ob_wait_serving(nng_socket s, int timeout_ms, char *err, size_t errlen)
{
	uint64_t end = ob_now_ns() + (uint64_t) timeout_ms * 1000000u;
	ob_arena a;
	ob_arena_init(&a, 1 << 16);
	int ret = -1;
	snprintf(err, errlen, "no answer");
	do {
		Orgdir__V1__HealthCheckRequest req = ORGDIR__V1__HEALTH_CHECK_REQUEST__INIT;
		Orgdir__V1__Response *r;
		if (ob_call(s, "Health", &req.base, NULL, timeout_ms, &a, &r, err, errlen) ==
		    ORGDIR_OK) {
			Orgdir__V1__HealthCheckResponse *h =
			    (Orgdir__V1__HealthCheckResponse *) od_pb_unpack(
			        &orgdir__v1__health_check_response__descriptor, &a.a.pb,
			        r->body.len, r->body.data);
			if (h != NULL &&
			    h->status ==
			        ORGDIR__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
				ret = 0;
				break;
			}
			snprintf(err, errlen, "Health: not SERVING");
		}
		ob_arena_reset(&a);
		ob_sleep_ns(20 * 1000000u);
	} while (ob_now_ns() < end);
	ob_arena_destroy(&a);
	return ret;
}

int
ob_wait_echo(nng_socket s, int timeout_ms, char *err, size_t errlen)
{
	uint64_t end = ob_now_ns() + (uint64_t) timeout_ms * 1000000u;
	static const char probe[] = "orgbench echo probe";
	snprintf(err, errlen, "no answer");
	do {
		nng_msg *m;
		nng_msg *answer = NULL;
		if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, probe, sizeof(probe)) != 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		int rv = exchange(s, m, 500, &answer);
		if (rv == 0) {
			bool same = nng_msg_len(answer) == sizeof(probe) &&
			    memcmp(nng_msg_body(answer), probe, sizeof(probe)) == 0;
			nng_msg_free(answer);
			if (same) {
				return 0;
			}
			snprintf(err, errlen, "the echo server answered with other bytes");
			return -1;
		}
		snprintf(err, errlen, "no answer: %s", nng_strerror(rv));
		ob_sleep_ns(20 * 1000000u);
	} while (ob_now_ns() < end);
	return -1;
}
