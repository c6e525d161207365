/* harness.c - a real orgdird per test group, on a temporary data dir and an
 * ipc:// socket (Redis's start_server idea). */
#define _GNU_SOURCE /* gettid */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "child.h"
#include "testutil.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The admin token orgdird wrote on its first start ("" before). */
static void
read_token(const od_test_server *srv, char *out, size_t n)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/admin.token", srv->data);
	FILE *f = fopen(path, "r");
	out[0] = '\0';
	if (f != NULL) {
		if (fgets(out, (int) n, f) == NULL) {
			out[0] = '\0';
		}
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

const char *
od_test_admin_token(od_test_server *srv)
{
	read_token(srv, srv->token, sizeof(srv->token));
	return srv->token;
}

orgdir_client *
od_test_client(od_test_server *srv, const orgdir_options *opts)
{
	orgdir_options o = {.timeout_ms = 5000};
	orgdir_client *c = NULL;
	orgdir_status st;
	char token[sizeof(srv->token)];
	if (opts != NULL) {
		o = *opts;
	}
	if (o.token == NULL) {
		/* Into a buffer of this call's own: test threads open clients on
		 * one server at the same time (srv is shared, read-only here). */
		read_token(srv, token, sizeof(token)); /* empty before the first start */
		o.token = token;
	} else if (o.token[0] == '\0') {
		o.token = NULL; /* explicitly anonymous */
	}
	assert_int_equal(orgdir_client_open(srv->url, &o, &c, &st), ORGDIR_OK);
	return c;
}

void
od_test_server_start(od_test_server *srv, const char *const *extra)
{
	const char *bin = getenv("ORGDIRD");
	assert_non_null(bin);
	if (srv->dir == NULL) {
		srv->dir = test_mkdtemp("orgdird");
	}
	snprintf(srv->url, sizeof(srv->url), "ipc://%s/sock", srv->dir);
	snprintf(srv->data, sizeof(srv->data), "%s/data", srv->dir);
	snprintf(srv->log, sizeof(srv->log), "%s/orgdird.log", srv->dir);
	const char *argv[32] = {bin, "--listen", srv->url, "--data", srv->data};
	size_t n = 5;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	if (gettid() != getpid()) {
		/* Not an assertion: cmocka's longjmp must not leave another thread. */
		fprintf(stderr, "od_test_server_start: call it from the main thread\n");
		abort();
	}
	/* Tied to this process: a test that fails or crashes before stopping
	 * its server leaves none behind holding ctest's output pipe. */
	int rc = od_spawn_tied((char *const *) argv, srv->log, 0600, false, &srv->pid);
	if (rc != 0) {
		fprintf(stderr, "cannot start %s: %s\n", bin, strerror(rc));
	}
	assert_int_equal(rc, 0);
	/* Wait (at most 30 s: other tests load the machine) until it answers. */
	orgdir_options o = {.timeout_ms = 1000};
	orgdir_client *c = od_test_client(srv, &o);
	int serving = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (orgdir_server_health(c, &serving, NULL) == ORGDIR_OK && serving == 1) {
			break;
		}
		if (!od_test_server_alive(srv)) {
			break;
		}
		sleep_ms(50);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 30);
	orgdir_client_close(c);
	if (serving != 1) {
		fprintf(stderr, "orgdird did not start; log %s\n", srv->log);
	}
	assert_int_equal(serving, 1);
}

bool
od_test_server_alive(od_test_server *srv)
{
	int status;
	if (srv->pid <= 0) {
		return false;
	}
	if (waitpid(srv->pid, &status, WNOHANG) == 0) {
		return true;
	}
	/* Reaped (or gone): forget the pid, which the system may give to
	 * another process that a later kill must not reach. */
	srv->pid = 0;
	return false;
}

int
od_test_server_stop(od_test_server *srv)
{
	return od_test_server_stop_on(srv, SIGTERM);
}

int
od_test_server_stop_on(od_test_server *srv, int sig)
{
	int status = -1;
	if (srv->pid <= 0) {
		return -1;
	}
	kill(srv->pid, sig);
	for (int i = 0; i < 200; i++) {
		pid_t p = waitpid(srv->pid, &status, WNOHANG);
		if (p == srv->pid) {
			srv->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(25);
	}
	od_test_server_kill(srv);
	return -1; /* did not stop within 5 s */
}

void
od_test_server_kill(od_test_server *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
		srv->pid = 0;
	}
}

void
od_test_server_cleanup(od_test_server *srv)
{
	od_test_server_kill(srv);
	if (srv->dir != NULL) {
		test_rmtree(srv->dir);
		free(srv->dir);
		srv->dir = NULL;
	}
}
