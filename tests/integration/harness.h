/* harness.h - starts and stops a real orgdird for black-box tests. */
#ifndef OD_HARNESS_H
#define OD_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "orgdir/orgdir.h"

typedef struct od_test_server {
	pid_t pid;
	char *dir; /* temp dir: data/ and the socket */
	char url[512];
	char data[512];
	char log[512];
	char token[256]; /* the admin token, once read */
} od_test_server;

/* Starts orgdird on a fresh temporary directory (or on srv->dir if already
 * set, to restart on the same data) with extra arguments (NULL-terminated),
 * and waits until Health answers SERVING. Aborts the test on failure. Call
 * it from the main thread: the server is SIGKILLed when the thread that
 * started it ends (so a failed or crashed test never leaves one behind). */
void od_test_server_start(od_test_server *srv, const char *const *extra);
/* SIGTERM and wait; returns the exit status (0 for a clean stop). */
int od_test_server_stop(od_test_server *srv);
/* The same with another signal. */
int od_test_server_stop_on(od_test_server *srv, int sig);
/* SIGKILL and reap. */
void od_test_server_kill(od_test_server *srv);
/* Removes the temporary directory. */
void od_test_server_cleanup(od_test_server *srv);
bool od_test_server_alive(od_test_server *srv);
/* The admin token orgdird wrote on its first start ("" if none). */
const char *od_test_admin_token(od_test_server *srv);
/* Opens a client on the server with a 5 s timeout, using the admin token
 * unless opts->token is set ("" = no token at all). */
orgdir_client *od_test_client(od_test_server *srv, const orgdir_options *opts);

#endif
