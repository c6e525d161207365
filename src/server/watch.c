/*
 * watch.c - long polls (WatchChanges). A read that finds nothing new parks
 * its context here instead of answering; a commit, or the end of its wait,
 * runs it again. One small thread owns the waits, so neither nng's callback
 * threads nor the writer ever block or re-run reads.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "server.h"

#define WAIT_MAX_MS 60000
#define DEADLINE_MARGIN_MS 200

orgdir_code
od_call_park(od_call *call, uint32_t wait_ms, orgdir_status *st)
{
	struct od_ctx *c = call->ctx;
	struct od_server *srv = c->srv;
	if (atomic_load(&srv->parked) >= srv->max_extra) {
		c->turned_away = true; /* the clients' load: logged within the rate */
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "%u long polls wait already, the most this server keeps: poll again in a "
		    "second",
		    srv->max_extra);
	}
	if (c->deadline_ms != 0) {
		uint32_t cap =
		    c->deadline_ms > DEADLINE_MARGIN_MS ? c->deadline_ms - DEADLINE_MARGIN_MS : 0;
		wait_ms = wait_ms < cap ? wait_ms : cap;
	}
	if (wait_ms > WAIT_MAX_MS) {
		wait_ms = WAIT_MAX_MS;
	}
	pthread_mutex_lock(&srv->watch_mu);
	bool stopped = srv->watch_stop;
	pthread_mutex_unlock(&srv->watch_mu);
	if (stopped || wait_ms == 0) {
		return ORGDIR_OK; /* not parked: the handler answers now */
	}
	call->parked = true;
	c->expired = false;
	c->wake_at_ms = od_mono_ms() + wait_ms;
	return ORGDIR_OK;
}

bool
od_watch_enqueue(struct od_ctx *c)
{
	struct od_server *srv = c->srv;
	pthread_mutex_lock(&srv->watch_mu);
	if (srv->watch_stop) {
		pthread_mutex_unlock(&srv->watch_mu);
		return false;
	}
	/* A commit between the handler's snapshot and now: run again at once. */
	c->wake_now = srv->committed > c->parked_at_rev;
	c->next_watcher = srv->watchers;
	srv->watchers = c;
	atomic_fetch_add(&srv->parked, 1);
	pthread_cond_signal(&srv->watch_cv);
	pthread_mutex_unlock(&srv->watch_mu);
	od_ctx_top_up(srv);
	return true;
}

void
od_watch_notify(struct od_server *srv, uint64_t revision)
{
	pthread_mutex_lock(&srv->watch_mu);
	if (revision > srv->committed) {
		srv->committed = revision;
	}
	bool any = false;
	for (struct od_ctx *c = srv->watchers; c != NULL; c = c->next_watcher) {
		c->wake_now = true;
		any = true;
	}
	if (any) {
		pthread_cond_signal(&srv->watch_cv);
	}
	pthread_mutex_unlock(&srv->watch_mu);
}

static void *
watch_main(void *arg)
{
	struct od_server *srv = arg;
	pthread_mutex_lock(&srv->watch_mu);
	for (;;) {
		/* Before the scan, not between it and the wait: a commit's notice
		 * in between would wait for the timer. */
		pthread_mutex_unlock(&srv->watch_mu);
		od_files_check(srv);
		pthread_mutex_lock(&srv->watch_mu);
		uint64_t now = od_mono_ms();
		uint64_t next = now + 1000;
		struct od_ctx *ready = NULL;
		struct od_ctx **link = &srv->watchers;
		while (*link != NULL) {
			struct od_ctx *c = *link;
			if (c->wake_now || c->wake_at_ms <= now || srv->watch_stop) {
				*link = c->next_watcher;
				atomic_fetch_sub(&srv->parked, 1);
				c->expired = !c->wake_now;
				c->next_watcher = ready;
				ready = c;
			} else {
				next = c->wake_at_ms < next ? c->wake_at_ms : next;
				link = &c->next_watcher;
			}
		}
		if (ready != NULL) {
			pthread_mutex_unlock(&srv->watch_mu);
			while (ready != NULL) {
				struct od_ctx *c = ready;
				ready = c->next_watcher;
				if (srv->watch_stop) {
					c->expired = true;
				}
				od_ctx_rerun(c); /* answers, or parks again */
			}
			pthread_mutex_lock(&srv->watch_mu);
			continue;
		}
		if (srv->watch_stop) {
			break;
		}
		struct timespec ts;
		od_mono_deadline(next - now, &ts);
		pthread_cond_timedwait(&srv->watch_cv, &srv->watch_mu, &ts);
	}
	pthread_mutex_unlock(&srv->watch_mu);
	return NULL;
}

#define FILES_CHECK_MS 1000

void
od_files_check(struct od_server *srv)
{
	uint64_t now = od_mono_ms();
	struct rlimit rl;
	if (now < srv->files_next_ms || getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY) {
		return;
	}
	srv->files_next_ms = now + FILES_CHECK_MS;
	unsigned long long n = rl.rlim_cur; /* no descriptor left to count them: all */
	DIR *d = opendir("/proc/self/fd");
	if (d != NULL) {
		n = 0;
		while (readdir(d) != NULL) {
			n++;
		}
		closedir(d);
		n = n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
	} else if (errno != EMFILE && errno != ENFILE) {
		return; /* no /proc: cannot tell */
	}
	unsigned long long limit = (unsigned long long) rl.rlim_cur;
	if (!srv->files_warned && n * 10 >= limit * 9) {
		srv->files_warned = true;
		od_log("warn",
		    "%llu of %llu open files in use, one a connection: past the limit new "
		    "clients are turned away; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
		    n, limit);
	} else if (srv->files_warned && n * 10 < limit * 8) {
		srv->files_warned = false;
		od_log(
		    "info", "%llu of %llu open files in use: room for new clients again", n, limit);
	}
}

orgdir_code
od_watch_init(struct od_server *srv, orgdir_status *st)
{
	pthread_mutex_init(&srv->watch_mu, NULL);
	od_mono_cond_init(&srv->watch_cv);
	srv->watch_inited = true;
	if (pthread_create(&srv->watch_thread, NULL, watch_main, srv) != 0) {
		return od_status_set(st, ORGDIR_INTERNAL, "cannot start the watch thread");
	}
	srv->watch_running = true;
	return ORGDIR_OK;
}

void
od_watch_stop(struct od_server *srv)
{
	if (!srv->watch_running) {
		return;
	}
	pthread_mutex_lock(&srv->watch_mu);
	srv->watch_stop = true;
	pthread_cond_signal(&srv->watch_cv);
	pthread_mutex_unlock(&srv->watch_mu);
	pthread_join(srv->watch_thread, NULL);
	srv->watch_running = false;
}
