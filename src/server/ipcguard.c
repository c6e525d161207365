/*
 * ipcguard.c - keeps the ipc:// listeners accepting.
 *
 * nng 1.5.2 (Debian 12's) has a bug in its IPC transport (nng issue 1518,
 * fixed upstream in 1.5.3 and not backported): when a peer is gone before
 * the server has written its 8-byte SP header, the write fails (EPIPE),
 * the handshake ends with NNG_ECLOSED, which nng's listener takes for its
 * own closing, and it never accepts again. (A peer gone after that write
 * does no harm.) Any local process that can open the socket file could so
 * cut the server off, and a client that exits (or is killed) right after
 * connecting did. TCP and TLS are not affected (checked the same way).
 *
 * So each ipc:// (or unix://) listener is probed once a second from a
 * thread of its own: a plain UNIX-socket connection that sends a complete
 * SP header (a REQ peer's), reads the server's, and waits for the socket to
 * take the connection as a pipe (counted by a pipe callback, per listener).
 * A stopped listener still completes handshakes (its transport goes on),
 * but its connections never become pipes. After PROBE_MISSES probes in a
 * row that did not, the listener is closed and made again on the same
 * address, and the log says so. Closing a listener closes the
 * connections it made: their clients reconnect and re-send (a write is
 * applied once, by its request id). The probe's own connection completes
 * its handshake before it closes, so it never trips the bug itself.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define PROBE_EVERY_MS 1000
#define PROBE_WAIT_MS 1000 /* for the server's SP header */
#define PROBE_MISSES 2

struct guarded {
	char *url; /* owned */
	char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	nng_listener l;
	atomic_int listener_id; /* l's: the pipe callback matches pipes by it */
	atomic_uint pipes; /* pipes the socket took from l (from any of its makings) */
	unsigned misses;
};

/* The thread reads g and n, which od_ipc_guard_listen sets before
 * od_ipc_guard_start: nothing changes them while it runs. */

struct od_ipc_guard {
	nng_socket sock;
	struct guarded *g; /* owned */
	size_t n;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop; /* under mu */
};

/* The socket file of an ipc:// or unix:// URL into out, or false for
 * another scheme (or a path too long for a UNIX socket address). */
static bool
ipc_path(const char *url, char *out, size_t cap)
{
	const char *p = od_ipc_path(url);
	if (p == NULL || strlen(p) >= cap) {
		return false;
	}
	memcpy(out, p, strlen(p) + 1);
	return true;
}

bool
od_ipc_guarded_url(const char *url)
{
	char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	return ipc_path(url, path, sizeof(path));
}

/* Counts the pipes each guarded listener gives the socket. */
static void
pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct od_ipc_guard *x = arg;
	int id = nng_listener_id(nng_pipe_listener(p));
	(void) ev;
	for (size_t i = 0; i < x->n; i++) {
		if (id > 0 && atomic_load(&x->g[i].listener_id) == id) {
			atomic_fetch_add(&x->g[i].pipes, 1);
		}
	}
}

enum probed {
	PROBE_OK, /* a pipe came of it, or no verdict */
	PROBE_STUCK, /* connected, but no pipe: the listener stopped accepting */
	PROBE_GONE, /* refused, or no socket file: nothing listens there */
};

/* Whether the listener of g took a connection as a pipe within
 * PROBE_WAIT_MS: the handshake done (the server's 8-byte SP header read),
 * then the socket's count of its pipes up. */
static enum probed
probe(struct guarded *g)
{
	const char *path = g->path;
	unsigned before = atomic_load(&g->pipes);
	/* Non-blocking: a connect to a full backlog must not hold the thread
	 * (nor a server stopping, which waits for it). */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return PROBE_OK; /* nothing learnt about the listener: no verdict */
	}
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A REQ peer's header: 0, 'S', 'P', 0, protocol 0x30 big-endian, 0, 0. */
	static const unsigned char hello[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
	unsigned char got[8];
	size_t have = 0;
	bool ok = false;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		/* A full backlog (EAGAIN) says the server is busy, not stopped:
		 * no verdict. Gone or refused: nothing there accepts. */
		ok = errno == EINTR || errno == EAGAIN;
		close(fd);
		return ok ? PROBE_OK : PROBE_GONE;
	}
	if (send(fd, hello, sizeof(hello), MSG_NOSIGNAL) == (ssize_t) sizeof(hello)) {
		uint64_t deadline = od_mono_ms() + PROBE_WAIT_MS;
		for (;;) {
			uint64_t now = od_mono_ms();
			if (now >= deadline) {
				break;
			}
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			int r = poll(&pf, 1, (int) (deadline - now));
			if (r < 0 && errno == EINTR) {
				continue;
			}
			if (r <= 0) {
				break;
			}
			ssize_t k = recv(fd, got + have, sizeof(got) - have, 0);
			if (k < 0 && errno == EINTR) {
				continue;
			}
			if (k <= 0) {
				break;
			}
			have += (size_t) k;
			if (have == sizeof(got)) {
				break;
			}
		}
		bool shook = have == sizeof(got) && got[0] == 0 && got[1] == 'S' && got[2] == 'P' &&
		    got[3] == 0;
		/* The pipe is added right after the handshake: poll for it. */
		while (shook && !ok && od_mono_ms() < deadline) {
			ok = atomic_load(&g->pipes) != before;
			if (!ok) {
				struct timespec ms = {0, 1000000};
				nanosleep(&ms, NULL);
			}
		}
	}
	close(fd);
	return ok ? PROBE_OK : PROBE_STUCK;
}

static int
listen_on(nng_socket sock, struct guarded *g)
{
	int rv = nng_listener_create(&g->l, sock, g->url);
	if (rv == 0) {
		atomic_store(&g->listener_id, nng_listener_id(g->l));
		if ((rv = nng_listener_start(g->l, 0)) != 0) {
			nng_listener_close(g->l);
		}
	}
	return rv;
}

/* Closes g's listener and makes it again. */
static void
restart(struct od_ipc_guard *x, struct guarded *g, enum probed why)
{
	od_log("warn", "%s %s; listening on it again", g->url,
	    why == PROBE_STUCK ? "was no longer accepting connections (a peer left before its "
	                         "handshake: nng 1.5.2's IPC bug)"
	                       : "refused a connection (its socket file was removed?)");
	nng_listener_close(g->l);
	int rv = listen_on(x->sock, g);
	if (rv != 0) {
		/* Tried again at the next probe, which finds nothing there. */
		od_log("error", "cannot listen on %s again: %s", g->url, nng_strerror(rv));
	}
}

static void *
guard_main(void *arg)
{
	struct od_ipc_guard *x = arg;
	pthread_mutex_lock(&x->mu);
	while (!x->stop) {
		struct timespec ts;
		od_mono_deadline(PROBE_EVERY_MS, &ts);
		while (!x->stop && pthread_cond_timedwait(&x->cv, &x->mu, &ts) != ETIMEDOUT) {
		}
		if (x->stop) {
			break;
		}
		pthread_mutex_unlock(&x->mu);
		for (size_t i = 0; i < x->n; i++) {
			struct guarded *g = &x->g[i];
			enum probed p = probe(g);
			g->misses = p == PROBE_OK ? 0 : g->misses + 1;
			if (g->misses >= PROBE_MISSES) {
				g->misses = 0;
				restart(x, g, p);
			}
		}
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

void
od_ipc_guard_stop(struct od_ipc_guard *x)
{
	if (x == NULL || !x->running) {
		return;
	}
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->thread, NULL);
	x->running = false;
}

void
od_ipc_guard_free(struct od_ipc_guard *x)
{
	if (x == NULL) {
		return;
	}
	od_ipc_guard_stop(x);
	for (size_t i = 0; i < x->n; i++) {
		free(x->g[i].url);
	}
	free(x->g);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

orgdir_code
od_ipc_guard_new(struct od_ipc_guard **out, nng_socket sock, orgdir_status *st)
{
	struct od_ipc_guard *x = calloc(1, sizeof(*x));
	*out = NULL;
	if (x == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	x->sock = sock;
	if (pthread_mutex_init(&x->mu, NULL) != 0) {
		free(x);
		return od_status_set(st, ORGDIR_INTERNAL, "cannot create a mutex");
	}
	if (od_mono_cond_init(&x->cv) != 0) {
		pthread_mutex_destroy(&x->mu);
		free(x);
		return od_status_set(st, ORGDIR_INTERNAL, "cannot create a condition variable");
	}
	*out = x;
	return ORGDIR_OK;
}

orgdir_code
od_ipc_guard_listen(struct od_ipc_guard *x, const char *url, orgdir_status *st)
{
	struct guarded *ng = realloc(x->g, (x->n + 1) * sizeof(*ng));
	if (ng == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	x->g = ng;
	struct guarded *g = &x->g[x->n];
	memset(g, 0, sizeof(*g));
	if (!ipc_path(url, g->path, sizeof(g->path)) || (g->url = strdup(url)) == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s: not an ipc:// address", url);
	}
	int rv = listen_on(x->sock, g);
	if (rv != 0) {
		free(g->url);
		return od_status_set(
		    st, ORGDIR_UNAVAILABLE, "cannot listen on %s: %s", url, nng_strerror(rv));
	}
	x->n++;
	return ORGDIR_OK;
}

orgdir_code
od_ipc_guard_start(struct od_ipc_guard *x, orgdir_status *st)
{
	if (x->n == 0 || x->running) {
		return ORGDIR_OK;
	}
	int rv = nng_pipe_notify(x->sock, NNG_PIPE_EV_ADD_POST, pipe_added, x);
	if (rv != 0) {
		return od_status_set(
		    st, ORGDIR_INTERNAL, "cannot watch the socket's pipes: %s", nng_strerror(rv));
	}
	if (pthread_create(&x->thread, NULL, guard_main, x) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot start a thread");
	}
	x->running = true;
	return ORGDIR_OK;
}
