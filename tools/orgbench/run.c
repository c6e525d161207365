/* run.c - `orgbench run`: runs every workload at every concurrency level,
 * round after round, against what setup.c stood up, and reports. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orgbench.h"

static const char *
transport_of(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0 ? "ipc"
	    : strncmp(url, "tcp://", 6) == 0  ? "tcp"
	                                      : "other";
}

static int
measure(const ob_cli *o, ob_env *s, ob_result *res, ob_arena_pool *pool)
{
	int failures = 0;
	for (size_t li = 0; li < o->n_levels; li++) {
		for (unsigned round = 0; round < o->rounds; round++) {
			for (size_t wi = 0; wi < o->n_workloads; wi++) {
				ob_result *r = &res[li * o->n_workloads + wi];
				if (r->unavailable != NULL) {
					continue;
				}
				if (s->server_child && ob_env_server_gone(s)) {
					fprintf(stderr, "orgbench: orgdird has exited\n");
					return -1;
				}
				ob_run_opts ro = {
				    .sock =
				        r->workload == OB_W_ECHO ? s->echo_sock : s->server_sock,
				    .org = &s->org,
				    .workload = r->workload,
				    .concurrency = r->concurrency,
				    .threaded = o->threaded,
				    .warmup_s = o->warmup,
				    .duration_s = o->duration,
				    .timeout_ms = o->timeout_ms,
				    .seed = o->seed + round * 7919u + li * 104729u,
				    .pool = pool,
				    .token = s->token[0] != '\0' ? s->token : NULL,
				    .auth_reads = o->auth_reads,
				    .no_decode = o->no_decode,
				};
				ob_round *x = &r->rounds[r->n_rounds];
				char err[OB_ERR_MAX];
				if (ob_run_one(&ro, x, err, sizeof(err)) != 0) {
					fprintf(stderr, "orgbench: %s c=%u: %s\n",
					    ob_workload_info_of(r->workload)->name, r->concurrency,
					    err);
					return -1;
				}
				r->n_rounds++;
				if (s->server_pid > 0 && r->workload != OB_W_ECHO) {
					ob_rss(s->server_pid, &x->rss_kib, &x->anon_kib);
				}
				failures += x->errors > 0 || x->calls == 0;
				bool unanswered = x->errors > 0 &&
				    strncmp(x->first_error, "no answer", 9) == 0 &&
				    r->workload != OB_W_ECHO;
				if (!o->quiet || unanswered) {
					fprintf(stderr,
					    "orgbench: %-8s c=%-3u round %u/%u: %9.0f calls/s  p50 "
					    "%8.1f us  "
					    "errors %" PRIu64 "\n",
					    ob_workload_info_of(r->workload)->name, r->concurrency,
					    round + 1, o->rounds, x->calls_per_s, x->lat.p50,
					    x->errors);
				}
				if (unanswered) {
					fprintf(
					    stderr, "orgbench: first error: %s\n", x->first_error);
					if (ob_env_probe(s) != 0) {
						return -1;
					}
				}
			}
		}
	}
	return failures;
}

/* The table (or JSON lines) of every result, then the summary lines. */
static void
report(const ob_cli *o, const ob_env *s, const ob_result *res, size_t n_res, bool json, FILE *out)
{
	ob_report_ctx rc = {transport_of(s->server_url), o->threaded ? "threaded" : "async",
	    s->org.n, o->duration, json, out};
	if (!json) {
		fprintf(out,
		    "# orgbench: %zu units, %s, %s client%s, %.2f s windows after %.2f s warm-up, "
		    "%u round%s",
		    s->org.n, rc.transport, rc.client, o->no_decode ? " (envelopes only)" : "",
		    o->duration, o->warmup, o->rounds, o->rounds == 1 ? "" : "s");
		if (o->spawn) {
			fprintf(out, "; orgdird seeded and serving %.2f s after start", s->ready_s);
		}
		fputc('\n', out);
	} else {
		json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:f, s:f, s:i}", "setup",
		    s->server_url, "transport", rc.transport, "client", rc.client, "decode",
		    !o->no_decode, "units", (json_int_t) s->org.n, "duration_s", o->duration,
		    "warmup_s", o->warmup, "rounds", (int) o->rounds);
		if (j != NULL && o->spawn) {
			json_object_set_new(
			    j, "server_ready_s", json_real(round(s->ready_s * 1000) / 1000));
		}
		json_dumpf(j, out, JSON_COMPACT | JSON_REAL_PRECISION(10));
		fputc('\n', out);
		json_decref(j);
	}
	ob_report_header(&rc);
	/* By workload, then level: the table reads down each workload. */
	for (size_t wi = 0; wi < o->n_workloads; wi++) {
		for (size_t li = 0; li < o->n_levels; li++) {
			const ob_result *r = &res[li * o->n_workloads + wi];
			if (r->unavailable != NULL && li > 0) {
				continue; /* said once */
			}
			ob_report_result(&rc, r);
		}
	}
	ob_report_summary(&rc, res, n_res);
	fflush(out);
}

int
ob_run_main(int argc, char **argv)
{
	ob_cli o;
	int rc = ob_cli_parse(argc, argv, &o);
	if (rc != 0) {
		return rc == 1 ? 0 : rc; /* 1 = --help */
	}
	signal(SIGPIPE, SIG_IGN);

	ob_env s;
	memset(&s, 0, sizeof(s));
	char err[OB_ERR_MAX * 2] = "";
	if (ob_env_setup(&o, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "orgbench: %s\n", err);
		ob_env_teardown(&o, &s, true);
		return 1;
	}

	size_t n_res = o.n_levels * o.n_workloads;
	ob_result *res = calloc(n_res, sizeof(*res));
	ob_round *rounds = calloc(n_res * o.rounds, sizeof(*rounds));
	unsigned max_level = 1;
	for (size_t li = 0; li < o.n_levels; li++) {
		max_level = o.levels[li] > max_level ? o.levels[li] : max_level;
	}
	ob_arena_pool pool;
	if (res == NULL || rounds == NULL || ob_arena_pool_init(&pool, max_level) != 0) {
		fprintf(stderr, "orgbench: out of memory\n");
		free(res);
		free(rounds);
		ob_env_teardown(&o, &s, true);
		return 1;
	}
	for (size_t li = 0; li < o.n_levels; li++) {
		for (size_t wi = 0; wi < o.n_workloads; wi++) {
			ob_result *r = &res[li * o.n_workloads + wi];
			r->workload = o.workloads[wi];
			r->concurrency = o.levels[li];
			r->rounds = &rounds[(li * o.n_workloads + wi) * o.rounds];
			const char *m = ob_workload_info_of(r->workload)->method;
			if (m != NULL && !ob_env_has_method(&s, m)) {
				r->unavailable = r->workload == OB_W_SEARCH
				    ? "server has no Search method"
				    : "server lacks a method it needs";
			}
			if (r->unavailable == NULL && r->workload == OB_W_SEARCH &&
			    s.org.n_queries == 0) {
				r->unavailable = "no unit name has two words to search for";
			}
		}
	}

	int failures = measure(&o, &s, res, &pool);
	report(&o, &s, res, n_res, o.json, stdout);
	if (o.json_out != NULL) {
		FILE *f = fopen(o.json_out, "w");
		if (f == NULL) {
			fprintf(
			    stderr, "orgbench: cannot write %s: %s\n", o.json_out, strerror(errno));
			failures = failures < 0 ? failures : failures + 1;
		} else {
			report(&o, &s, res, n_res, true, f);
			fclose(f);
		}
	}

	ob_arena_pool_destroy(&pool);
	free(rounds);
	free(res);
	bool failed = failures != 0;
	if (ob_env_teardown(&o, &s, failed) != 0) {
		failed = true;
	}
	if (failures < 0) {
		return 1;
	}
	if (failed) {
		fprintf(stderr,
		    "orgbench: FAILED: some calls failed or a workload completed no calls\n");
	}
	return failed ? 1 : 0;
}
