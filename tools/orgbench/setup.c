/* setup.c - what `orgbench run` stands on: the spawned or dialled orgdird
 * and echo server, their temporary directory, the token, and the ids of
 * the organisation; and taking it all down again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orgbench.h"

extern char **environ;

#define RECV_MAX ((size_t) (1u << 30) + (64u << 10))

static void
print_log_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	char ring[20][512];
	size_t n = 0;
	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		snprintf(ring[n % 20], sizeof(ring[0]), "%s", line);
		n++;
	}
	fclose(f);
	if (n > 0) {
		fprintf(stderr, "--- last lines of %s ---\n", path);
	}
	for (size_t i = n > 20 ? n - 20 : 0; i < n; i++) {
		fputs(ring[i % 20], stderr);
	}
}

static bool
wants(const ob_cli *o, enum ob_workload w)
{
	for (size_t i = 0; i < o->n_workloads; i++) {
		if (o->workloads[i] == w) {
			return true;
		}
	}
	return false;
}

/* A listening URL of the transport, for a spawned server named `name`. */
static int
local_url(const ob_cli *o, const ob_env *s, const char *name, char *out, size_t n)
{
	if (strcmp(o->transport, "ipc") == 0) {
		return (size_t) snprintf(out, n, "ipc://%s/%s.sock", s->tmp, name) < n ? 0 : -1;
	}
	int port = ob_free_tcp_port();
	if (port <= 0) {
		return -1;
	}
	snprintf(out, n, "tcp://127.0.0.1:%d", port);
	return 0;
}

static int
spawn_server(const ob_cli *o, ob_env *s, char *err, size_t errlen)
{
	char json[600], data[600], log[600], self[512], server_bin[600], maxmsg[32];
	snprintf(json, sizeof(json), "%s/org.json", s->tmp);
	snprintf(data, sizeof(data), "%s/data", s->tmp);
	snprintf(log, sizeof(log), "%s/orgdird.log", s->tmp);
	ob_gen_opts g = {o->units, o->seed};
	uint64_t t0 = ob_now_ns();
	if (ob_gen_write_json(&g, json, err, errlen) != 0) {
		return -1;
	}
	struct stat sb;
	double gen_s = (double) (ob_now_ns() - t0) / 1e9;
	if (!o->quiet) {
		fprintf(stderr, "orgbench: generated %zu units (%.1f MB of JSON) in %.2f s\n",
		    o->units, stat(json, &sb) == 0 ? (double) sb.st_size / 1e6 : 0.0, gen_s);
	}
	const char *bin = o->orgdird;
	if (bin == NULL) {
		if (ob_self_dir(self, sizeof(self)) != 0) {
			snprintf(err, errlen, "cannot find orgdird: give --orgdird PATH");
			return -1;
		}
		snprintf(server_bin, sizeof(server_bin), "%s/orgdird", self);
		bin = server_bin;
	}
	if (local_url(o, s, "orgdird", s->server_url, sizeof(s->server_url)) != 0) {
		snprintf(err, errlen, "cannot find a free local port");
		return -1;
	}
	/* Room for the whole organisation in one GetSubtree reply. */
	size_t max = o->units * 1024 + (1u << 20);
	max = max < OD_MESSAGE_MAX_DEFAULT ? OD_MESSAGE_MAX_DEFAULT
	    : max > (1u << 30)             ? (1u << 30)
	                                   : max;
	snprintf(maxmsg, sizeof(maxmsg), "%zu", max);
	char *argv[] = {(char *) bin, "--listen", s->server_url, "--data", data, "--seed", json,
	    "--max-message-bytes", maxmsg, NULL, NULL, NULL, NULL, NULL};
	size_t next = 9;
	if (max > ((size_t) 256 << 20)) {
		/* Beyond orgdird's default reply cap; servers before that option
		 * never sent replies this large anyway. */
		argv[next++] = "--max-reply-bytes";
		argv[next++] = maxmsg;
	}
	/* The map sized up front for large organisations: with the search
	 * index, seeding 100,000 units into the default map fails when the
	 * map grows mid-seed ("index unit: Cannot allocate memory";
	 * docs/PERFORMANCE.md, server problem 8). 20 KiB per unit. */
	char mapsize[32];
	if (o->units >= 50000) {
		snprintf(mapsize, sizeof(mapsize), "%zu", (o->units * 20 + 1023) / 1024 + 256);
		argv[next++] = "--map-size";
		argv[next++] = mapsize;
	}
	if (ob_spawn(argv, log, &s->server_pid, err, errlen) != 0) {
		return -1;
	}
	s->server_child = true;
	return 0;
}

static int
spawn_echo(const ob_cli *o, ob_env *s, char *err, size_t errlen)
{
	char log[600], self[512];
	snprintf(log, sizeof(log), "%s/echo.log", s->tmp);
	if (ob_self_exe(self, sizeof(self)) != 0) {
		snprintf(err, errlen, "cannot find this program to start the echo server");
		return -1;
	}
	if (local_url(o, s, "echo", s->echo_url, sizeof(s->echo_url)) != 0) {
		snprintf(err, errlen, "cannot find a free local port");
		return -1;
	}
	char *argv[] = {self, "echo", "--listen", s->echo_url, NULL};
	if (ob_spawn(argv, log, &s->echo_pid, err, errlen) != 0) {
		return -1;
	}
	s->echo_child = true;
	return 0;
}

static int
server_info(ob_env *s, size_t *unit_count, char *err, size_t errlen)
{
	ob_arena a;
	ob_arena_init(&a, 0);
	Orgdir__V1__ServerInfoRequest req = ORGDIR__V1__SERVER_INFO_REQUEST__INIT;
	Orgdir__V1__Response *r;
	int rc = -1;
	if (ob_call(s->server_sock, "ServerInfo", &req.base, NULL, 10000, &a, &r, err, errlen) ==
	    ORGDIR_OK) {
		Orgdir__V1__ServerInfoResponse *info =
		    (Orgdir__V1__ServerInfoResponse *) od_pb_unpack(
		        &orgdir__v1__server_info_response__descriptor, &a.a.pb, r->body.len,
		        r->body.data);
		if (info == NULL) {
			snprintf(err, errlen, "ServerInfo: malformed reply");
		} else {
			s->methods = calloc(info->n_methods + 1, sizeof(*s->methods));
			for (size_t i = 0; s->methods != NULL && i < info->n_methods; i++) {
				s->methods[s->n_methods++] = strdup(info->methods[i]);
			}
			*unit_count = (size_t) info->unit_count;
			rc = s->methods != NULL ? 0 : -1;
		}
	}
	ob_arena_destroy(&a);
	return rc;
}

bool
ob_env_has_method(const ob_env *s, const char *method)
{
	for (size_t i = 0; i < s->n_methods; i++) {
		if (s->methods[i] != NULL && strcmp(s->methods[i], method) == 0) {
			return true;
		}
	}
	return false;
}

/* Reads a token secret from a file (first line, blanks trimmed). */
static int
read_token(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	bool ok = fgets(out, (int) n, f) != NULL;
	fclose(f);
	size_t len = ok ? strlen(out) : 0;
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' ')) {
		out[--len] = '\0';
	}
	return len > 0 ? 0 : -1;
}

static const char *
reads_token(const ob_cli *o, const ob_env *s)
{
	return o->auth_reads && s->token[0] != '\0' ? s->token : NULL;
}

/* True once the spawned server has exited (its status is kept). */
bool
ob_env_server_gone(ob_env *s)
{
	if (!s->server_reaped && !ob_child_alive(s->server_pid, &s->server_exit)) {
		s->server_reaped = true;
	}
	return s->server_reaped;
}

/* Prints the threads' stacks of a hung process when gdb is installed. */
static void
dump_stacks(pid_t pid)
{
	static const char gdb[] = "/usr/bin/gdb";
	char spid[32];
	char *argv[] = {(char *) gdb, "-p", spid, "-batch", "-ex", "thread apply all bt 12", NULL};
	pid_t child;
	if (access(gdb, X_OK) != 0) {
		fprintf(stderr, "orgbench: (install gdb to see where it hangs)\n");
		return;
	}
	snprintf(spid, sizeof(spid), "%ld", (long) pid);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	int rc = posix_spawn(&child, gdb, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == 0) {
		fprintf(stderr, "--- the stacks of orgdird (pid %ld) ---\n", (long) pid);
		ob_child_stop_after(child, 60000);
	}
}

int
ob_env_probe(ob_env *s)
{
	nng_socket fresh;
	char err[OB_ERR_MAX];
	if (ob_socket_open(&fresh, s->server_url, RECV_MAX, err, sizeof(err)) != 0) {
		fprintf(stderr, "orgbench: %s\n", err);
		return -1;
	}
	if (ob_wait_serving(fresh, 5000, err, sizeof(err)) == 0) {
		fprintf(stderr,
		    "orgbench: orgdird answers a new connection: calls were lost on the "
		    "benchmark's; going on with the new one\n");
		nng_close(s->server_sock);
		s->server_sock = fresh;
		return 0;
	}
	nng_close(fresh);
	fprintf(stderr, "orgbench: orgdird at %s does not answer a new connection either (%s)\n",
	    s->server_url, err);
	if (s->server_child && !ob_env_server_gone(s)) {
		dump_stacks(s->server_pid);
	}
	return -1;
}

int
ob_env_setup(const ob_cli *o, ob_env *s, char *err, size_t errlen)
{
	bool need_echo = wants(o, OB_W_ECHO);
	if (o->spawn || (need_echo && o->echo_url == NULL)) {
		if (ob_mkdtemp(s->tmp, sizeof(s->tmp)) != 0) {
			snprintf(err, errlen, "cannot create a temporary directory: %s",
			    strerror(errno));
			return -1;
		}
	}
	uint64_t t0 = ob_now_ns();
	if (o->spawn) {
		if (spawn_server(o, s, err, errlen) != 0) {
			return -1;
		}
		t0 = ob_now_ns();
	} else {
		snprintf(s->server_url, sizeof(s->server_url), "%s", o->server);
		s->server_pid = (pid_t) o->server_pid;
	}
	if (need_echo) {
		if (o->echo_url != NULL) {
			snprintf(s->echo_url, sizeof(s->echo_url), "%s", o->echo_url);
		} else {
			ob_cli eo = *o;
			if (!o->spawn) {
				eo.transport = strncmp(o->server, "ipc://", 6) == 0 ? "ipc" : "tcp";
			}
			if (spawn_echo(&eo, s, err, errlen) != 0) {
				return -1;
			}
		}
	}
	if (ob_socket_open(&s->server_sock, s->server_url, RECV_MAX, err, errlen) != 0) {
		return -1;
	}
	s->have_server_sock = true;
	/* Seeding 1,000,000 units takes a while; a server that exits is not
	 * waited for. */
	uint64_t give_up =
	    ob_now_ns() + (uint64_t) (o->spawn ? 10000 + o->units / 10 : 15000) * 1000000u;
	int waited;
	while ((waited = ob_wait_serving(s->server_sock, 1000, err, errlen)) != 0 &&
	    ob_now_ns() < give_up && (!s->server_child || !ob_env_server_gone(s))) {
	}
	if (waited != 0) {
		char what[OB_ERR_MAX];
		snprintf(what, sizeof(what), "%s", err);
		snprintf(
		    err, errlen, "orgdird at %.200s is not serving: %.200s", s->server_url, what);
		return -1;
	}
	s->ready_s = (double) (ob_now_ns() - t0) / 1e9;
	if (o->token_file != NULL) {
		if (read_token(o->token_file, s->token, sizeof(s->token)) != 0) {
			snprintf(err, errlen, "cannot read a token from %.300s", o->token_file);
			return -1;
		}
	} else if (o->token != NULL) {
		snprintf(s->token, sizeof(s->token), "%s", o->token);
	} else if (o->spawn) {
		/* orgdird writes its first admin token there (older ones do not). */
		char path[600];
		snprintf(path, sizeof(path), "%s/data/admin.token", s->tmp);
		read_token(path, s->token, sizeof(s->token));
	}
	if (need_echo) {
		if (ob_socket_open(&s->echo_sock, s->echo_url, RECV_MAX, err, errlen) != 0) {
			return -1;
		}
		s->have_echo_sock = true;
		if (ob_wait_echo(s->echo_sock, 10000, err, errlen) != 0) {
			char what[OB_ERR_MAX];
			snprintf(what, sizeof(what), "%s", err);
			snprintf(err, errlen, "echo server at %.200s: %.200s", s->echo_url, what);
			return -1;
		}
	}
	size_t count = 0;
	if (server_info(s, &count, err, errlen) != 0) {
		return -1;
	}
	if (ob_discover(s->server_sock, reads_token(o, s), 60000, &s->org, err, errlen) != 0) {
		return -1;
	}
	if (!o->quiet) {
		fprintf(stderr, "orgbench: orgdird at %s serving %zu units%s", s->server_url,
		    s->org.n, o->spawn ? "" : "\n");
		if (o->spawn) {
			fprintf(stderr, " (seeded and ready %.2f s after start, pid %ld)\n",
			    s->ready_s, (long) s->server_pid);
		}
		if (need_echo) {
			fprintf(stderr, "orgbench: echo server at %s\n", s->echo_url);
		}
		if (s->org.n_queries >= 3) {
			fprintf(stderr,
			    "orgbench: %zu search queries, e.g. '%s' (%s), '%s' (%s), '%s' (%s)\n",
			    s->org.n_queries, s->org.queries[0], s->org.query_langs[0],
			    s->org.queries[1], s->org.query_langs[1], s->org.queries[2],
			    s->org.query_langs[2]);
		}
	}
	return 0;
}

int
ob_env_teardown(const ob_cli *o, ob_env *s, bool failed)
{
	int rc = 0;
	if (s->have_server_sock) {
		nng_close(s->server_sock);
	}
	if (s->have_echo_sock) {
		nng_close(s->echo_sock);
	}
	if (s->server_child) {
		int st = s->server_reaped ? s->server_exit : ob_child_stop(s->server_pid, 10000);
		if (st != 0) {
			fprintf(stderr, "orgbench: orgdird exited with status %d\n", st);
			failed = true;
			rc = -1;
		}
	}
	if (s->echo_child) {
		ob_child_stop(s->echo_pid, 5000);
	}
	if (s->tmp[0] != '\0') {
		if (failed && s->server_child) {
			char log[600];
			snprintf(log, sizeof(log), "%s/orgdird.log", s->tmp);
			print_log_tail(log);
		}
		if (o->keep) {
			fprintf(stderr, "orgbench: kept %s\n", s->tmp);
		} else {
			ob_rmtree(s->tmp);
		}
	}
	for (size_t i = 0; i < s->n_methods; i++) {
		free(s->methods[i]);
	}
	free(s->methods);
	ob_org_free(&s->org);
	return rc;
}
