/*
 * test_tls.c - orgdird on tls+tcp:// with a certificate made at test time
 * (openssl): the right CA connects; a wrong CA, a name mismatch and a
 * missing CA fail with clear messages; a plaintext client gets nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "od.h"
#include "testutil.h"

static od_test_server srv;
static char dir[512], ca[600], other_ca[600], url[128], plain_url[128];

static void
sh(const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	assert_int_equal(system(full), 0);
}

static int
setup(void **state)
{
	(void) state;
	char *d = test_mkdtemp("tls");
	od_strlcpy(dir, d, sizeof(dir));
	free(d);
	/* A CA, a server certificate for 127.0.0.1/localhost signed by it, and
	 * an unrelated second CA. */
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=orgdir-test-ca "
	   "-keyout ca.key -out ca.pem");
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
	   "-keyout other.key -out other.pem");
	sh("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out "
	   "server.csr");
	sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
	   "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile san.ext -out server.pem");
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(other_ca, sizeof(other_ca), "%s/other.pem", dir);
	/* A port from the pid, to keep parallel runs apart. */
	int port = 20000 + (int) (getpid() % 20000);
	/* mbed TLS 2.28 (nng's) matches DNS names only, never IP addresses. */
	snprintf(url, sizeof(url), "tls+tcp://localhost:%d", port);
	snprintf(plain_url, sizeof(plain_url), "tcp://localhost:%d", port);
	char cert[600], key[600];
	snprintf(cert, sizeof(cert), "%s/server.pem", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	const char *args[] = {"--listen", url, "--tls-cert", cert, "--tls-key", key, NULL};
	od_test_server_start(&srv, args); /* also listens on ipc:// for the harness */
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	assert_int_equal(od_test_server_stop(&srv), 0);
	od_test_server_cleanup(&srv);
	test_rmtree(dir);
	return 0;
}

static orgdir_code
health_over(const char *u, const char *ca_file, orgdir_status *st)
{
	orgdir_options o = {.timeout_ms = 2000, .tls_ca_file = ca_file};
	orgdir_client *c = NULL;
	orgdir_code code = orgdir_client_open(u, &o, &c, st);
	if (code != ORGDIR_OK) {
		return code;
	}
	int serving = 0;
	code = orgdir_server_health(c, &serving, st);
	orgdir_client_close(c);
	return code;
}

static void
test_right_ca_connects(void **state)
{
	(void) state;
	orgdir_status st;
	assert_int_equal(health_over(url, ca, &st), ORGDIR_OK);
	/* And a real read and write over it. */
	orgdir_options o = {
	    .timeout_ms = 3000, .tls_ca_file = ca, .token = od_test_admin_token(&srv)};
	orgdir_client *c;
	assert_int_equal(orgdir_client_open(url, &o, &c, &st), ORGDIR_OK);
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__LocalizedString n = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString *names[] = {&n};
	n.lang = "en";
	n.text = "Over TLS";
	u.id = "tls-unit";
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	u.name = names;
	u.n_name = 1;
	orgdir_reply *r;
	Orgdir__V1__Unit *out;
	assert_int_equal(orgdir_unit_create(c, &u, &r, &out, &st), ORGDIR_OK);
	orgdir_reply_free(r);
	assert_int_equal(orgdir_unit_get(c, "tls-unit", &r, &out, &st), ORGDIR_OK);
	assert_string_equal(out->name[0]->text, "Over TLS");
	orgdir_reply_free(r);
	orgdir_client_close(c);
}

static void
test_wrong_ca_fails_clearly(void **state)
{
	(void) state;
	orgdir_status st;
	assert_int_equal(health_over(url, other_ca, &st), ORGDIR_UNAVAILABLE);
	assert_non_null(strstr(st.message, "TLS"));
	assert_non_null(strstr(st.message, "other.pem"));
}

static void
test_name_mismatch_fails(void **state)
{
	(void) state;
	orgdir_status st;
	char u[160];
	/* Right CA and server, but the certificate is not for this name. */
	snprintf(u, sizeof(u), "tls+tcp://127.0.0.1:%s", strrchr(url, ':') + 1);
	assert_int_equal(health_over(u, ca, &st), ORGDIR_UNAVAILABLE);
	assert_non_null(strstr(st.message, "issued for '127.0.0.1'"));
}

static void
test_no_ca_and_bad_ca_file(void **state)
{
	(void) state;
	orgdir_status st;
	assert_int_equal(health_over(url, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "CA"));
	assert_int_equal(health_over(url, "/nonexistent/ca.pem", &st), ORGDIR_INVALID_ARGUMENT);
}

static void
test_no_plaintext_fallback(void **state)
{
	(void) state;
	orgdir_status st;
	/* A plaintext SP client on the TLS port never gets an answer. */
	assert_int_not_equal(health_over(plain_url, NULL, &st), ORGDIR_OK);
	/* And the server is still fine. */
	assert_int_equal(health_over(url, ca, &st), ORGDIR_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_right_ca_connects),
	    cmocka_unit_test(test_wrong_ca_fails_clearly),
	    cmocka_unit_test(test_name_mismatch_fails),
	    cmocka_unit_test(test_no_ca_and_bad_ca_file),
	    cmocka_unit_test(test_no_plaintext_fallback),
	};
	int rc = test_run_group(tests, setup, teardown);
	return rc;
}
