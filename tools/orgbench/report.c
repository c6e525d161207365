/* report.c - the human table and the JSON lines (one object per result). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "orgbench.h"

/* The workloads that commit writes: their committed writes/s is reported. */
static bool
writes_counted(enum ob_workload w)
{
	return w == OB_W_UPDATE || w == OB_W_WRITE || w == OB_W_MIXED;
}

typedef struct agg {
	uint64_t calls, errors, conflicts, writes;
	double cps, p50, p90, p99, max, wps, rtt50, dec50;
	long rss, anon;
	const char *first_error;
} agg;

/* One figure of a round, for medians over rounds. */
typedef double (*figure)(const ob_round *x);

static double
f_cps(const ob_round *x)
{
	return x->calls_per_s;
}

static double
f_p50(const ob_round *x)
{
	return x->lat.p50;
}

static double
f_p90(const ob_round *x)
{
	return x->lat.p90;
}

static double
f_p99(const ob_round *x)
{
	return x->lat.p99;
}

static double
f_rtt50(const ob_round *x)
{
	return x->rtt.p50;
}

static double
f_dec50(const ob_round *x)
{
	return x->decode.p50;
}

static double
f_wps(const ob_round *x)
{
	return x->elapsed_s > 0 ? (double) x->writes / x->elapsed_s : 0;
}

static double
median_of(const ob_result *r, figure f)
{
	double v[OB_ROUNDS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < r->n_rounds && n < OD_ARRAY_LEN(v); i++) {
		v[n++] = f(&r->rounds[i]);
	}
	return ob_median(v, n);
}

static double
r1(double v)
{
	return round(v * 10) / 10;
}

static void
aggregate(const ob_result *r, agg *a)
{
	memset(a, 0, sizeof(*a));
	a->rss = a->anon = -1;
	for (size_t i = 0; i < r->n_rounds; i++) {
		const ob_round *x = &r->rounds[i];
		a->calls += x->calls;
		a->errors += x->errors;
		a->conflicts += x->conflicts;
		a->writes += x->writes;
		if (x->lat.max > a->max) {
			a->max = x->lat.max;
		}
		a->rss = x->rss_kib;
		a->anon = x->anon_kib;
		if (a->first_error == NULL && x->first_error[0] != '\0') {
			a->first_error = x->first_error;
		}
	}
	/* One decimal is all the precision these figures have. */
	a->cps = r1(median_of(r, f_cps));
	a->p50 = r1(median_of(r, f_p50));
	a->p90 = r1(median_of(r, f_p90));
	a->p99 = r1(median_of(r, f_p99));
	a->rtt50 = r1(median_of(r, f_rtt50));
	a->dec50 = r1(median_of(r, f_dec50));
	a->wps = r1(median_of(r, f_wps));
	a->max = r1(a->max);
}

void
ob_report_header(const ob_report_ctx *rc)
{
	if (rc->json) {
		return;
	}
	fprintf(rc->out, "%-9s %5s %9s %10s %9s %9s %9s %10s %6s %9s %8s\n", "workload", "conc",
	    "calls", "calls/s", "p50 us", "p90 us", "p99 us", "max us", "errors", "conflicts",
	    "rss MiB");
}

static void
json_line(const ob_report_ctx *rc, json_t *j)
{
	json_dumpf(j, rc->out, JSON_COMPACT | JSON_REAL_PRECISION(10));
	fputc('\n', rc->out);
	json_decref(j);
}

void
ob_report_result(const ob_report_ctx *rc, const ob_result *r)
{
	const char *name = ob_workload_info_of(r->workload)->name;
	if (r->unavailable != NULL) {
		if (rc->json) {
			json_line(rc,
			    json_pack("{s:s, s:i, s:s}", "workload", name, "concurrency",
			        (int) r->concurrency, "unavailable", r->unavailable));
		} else {
			fprintf(rc->out, "%-9s %5u unavailable: %s\n", name, r->concurrency,
			    r->unavailable);
		}
		return;
	}
	agg a;
	aggregate(r, &a);
	if (!rc->json) {
		char rss[16] = "-";
		if (a.rss >= 0) {
			snprintf(rss, sizeof(rss), "%.1f", a.rss / 1024.0);
		}
		fprintf(rc->out,
		    "%-9s %5u %9" PRIu64 " %10.0f %9.1f %9.1f %9.1f %10.1f %6" PRIu64 " %9" PRIu64
		    " %8s\n",
		    name, r->concurrency, a.calls, a.cps, a.p50, a.p90, a.p99, a.max, a.errors,
		    a.conflicts, rss);
		return;
	}
	json_t *rounds = json_array();
	for (size_t i = 0; i < r->n_rounds; i++) {
		json_array_append_new(rounds, json_real(round(r->rounds[i].calls_per_s * 10) / 10));
	}
	json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:I, s:f, s:i, s:I, s:f, s:o, s:f, s:f, s:f, "
	                      "s:f, s:I, s:I}",
	    "workload", name, "concurrency", (int) r->concurrency, "client", rc->client,
	    "transport", rc->transport, "units", (json_int_t) rc->units, "duration_s",
	    rc->duration_s, "rounds", (int) r->n_rounds, "calls", (json_int_t) a.calls,
	    "calls_per_s", a.cps, "calls_per_s_rounds", rounds, "p50_us", a.p50, "p90_us", a.p90,
	    "p99_us", a.p99, "max_us", a.max, "errors", (json_int_t) a.errors, "conflicts",
	    (json_int_t) a.conflicts);
	if (writes_counted(r->workload)) {
		json_object_set_new(j, "writes", json_integer((json_int_t) a.writes));
		json_object_set_new(j, "writes_per_s", json_real(a.wps));
	}
	if (r->workload == OB_W_SUBTREE || r->workload == OB_W_SEARCH || r->workload == OB_W_PING) {
		json_object_set_new(j, "round_trip_p50_us", json_real(a.rtt50));
	}
	if (r->workload == OB_W_SUBTREE) {
		json_object_set_new(j, "decode_p50_us", json_real(a.dec50));
	}
	json_object_set_new(j, "server_rss_kib", a.rss >= 0 ? json_integer(a.rss) : json_null());
	json_object_set_new(j, "server_anon_kib", a.anon >= 0 ? json_integer(a.anon) : json_null());
	if (a.first_error != NULL) {
		json_object_set_new(j, "first_error", json_string(a.first_error));
	}
	json_line(rc, j);
}

static const ob_result *
find(const ob_result *res, size_t n, enum ob_workload w, unsigned conc)
{
	for (size_t i = 0; i < n; i++) {
		if (res[i].workload == w && res[i].concurrency == conc &&
		    res[i].unavailable == NULL && res[i].n_rounds > 0) {
			return &res[i];
		}
	}
	return NULL;
}

/* Median of the per-round ratios a/b (rounds alternate, so round i of a
 * ran next to round i of b). */
static double
paired_ratio(const ob_result *a, const ob_result *b)
{
	double v[OB_ROUNDS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < a->n_rounds && i < b->n_rounds && n < OD_ARRAY_LEN(v); i++) {
		double d = b->rounds[i].calls_per_s;
		v[n++] = d > 0 ? a->rounds[i].calls_per_s / d : 0;
	}
	return ob_median(v, n);
}

static void
ratio_line(const ob_report_ctx *rc, const ob_result *a, const ob_result *b)
{
	const char *an = ob_workload_info_of(a->workload)->name;
	const char *bn = ob_workload_info_of(b->workload)->name;
	agg x, y;
	aggregate(a, &x);
	aggregate(b, &y);
	double ratio = y.cps > 0 ? x.cps / y.cps : 0;
	double paired = paired_ratio(a, b);
	if (rc->json) {
		char label[32];
		snprintf(label, sizeof(label), "%s/%s", an, bn);
		json_line(rc,
		    json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "ratio", label,
		        "concurrency", (int) a->concurrency, "value", round(ratio * 1000) / 1000,
		        "paired_median", round(paired * 1000) / 1000, "a_calls_per_s", x.cps,
		        "b_calls_per_s", y.cps, "a_p50_us", x.p50, "b_p50_us", y.p50, "rounds",
		        (int) a->n_rounds));
		return;
	}
	fprintf(rc->out,
	    "%s/%s c=%-3u throughput %.3f (paired rounds %.3f; %.0f vs %.0f calls/s), "
	    "p50 %+.1f us (%.1f vs %.1f), %zu round%s\n",
	    an, bn, a->concurrency, ratio, paired, x.cps, y.cps, x.p50 - y.p50, x.p50, y.p50,
	    a->n_rounds, a->n_rounds == 1 ? "" : "s");
}

/*
 * Search's cost at the server, apart from the transport: the median round
 * trip of Search (reply received, before the client decodes it) minus that
 * of Health at the same level, which crosses the same transport, envelope
 * and dispatch but does no work. Meaningful at one client (no queueing).
 */
static void
search_line(const ob_report_ctx *rc, const ob_result *s, const ob_result *ping)
{
	agg x, y;
	aggregate(s, &x);
	if (ping != NULL) {
		aggregate(ping, &y);
	}
	if (rc->json) {
		json_t *j = json_pack("{s:s, s:i, s:f, s:f}", "search_server", "estimate",
		    "concurrency", (int) s->concurrency, "search_round_trip_p50_us", x.rtt50,
		    "search_p50_us", x.p50);
		if (ping != NULL) {
			json_object_set_new(j, "ping_round_trip_p50_us", json_real(y.rtt50));
			json_object_set_new(
			    j, "server_p50_us_estimate", json_real(r1(x.rtt50 - y.rtt50)));
		}
		json_line(rc, j);
		return;
	}
	if (ping == NULL) {
		fprintf(rc->out,
		    "search  c=%-3u round trip p50 %.1f us (end to end %.1f us); run ping at this "
		    "level for the server's share\n",
		    s->concurrency, x.rtt50, x.p50);
		return;
	}
	fprintf(rc->out,
	    "search  c=%-3u server-side p50 ~%.1f us = round trip %.1f us - ping's %.1f us "
	    "(end to end with client decode %.1f us)\n",
	    s->concurrency, x.rtt50 - y.rtt50, x.rtt50, y.rtt50, x.p50);
}

void
ob_report_summary(const ob_report_ctx *rc, const ob_result *res, size_t n)
{
	bool printed = false;
	for (size_t i = 0; i < n; i++) {
		const ob_result *r = &res[i];
		if (r->unavailable != NULL || r->n_rounds == 0) {
			continue;
		}
		const ob_result *echo = find(res, n, OB_W_ECHO, r->concurrency);
		if (echo != NULL && (r->workload == OB_W_GET || r->workload == OB_W_PING)) {
			if (!printed && !rc->json) {
				fputc('\n', rc->out);
				printed = true;
			}
			ratio_line(rc, r, echo);
		}
	}
	for (size_t i = 0; i < n && !rc->json; i++) {
		const ob_result *r = &res[i];
		if (r->unavailable != NULL || r->n_rounds == 0) {
			continue;
		}
		agg a;
		aggregate(r, &a);
		if (r->workload == OB_W_SUBTREE) {
			fprintf(rc->out,
			    "subtree c=%-3u end to end p50 %.2f ms = round trip %.2f ms + client "
			    "decode "
			    "%.2f ms\n",
			    r->concurrency, a.p50 / 1000, a.rtt50 / 1000, a.dec50 / 1000);
		} else if (writes_counted(r->workload)) {
			fprintf(rc->out,
			    "%-7s c=%-3u %.0f writes/s committed, %" PRIu64 " conflicts\n",
			    ob_workload_info_of(r->workload)->name, r->concurrency, a.wps,
			    a.conflicts);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (res[i].workload == OB_W_SEARCH && res[i].unavailable == NULL &&
		    res[i].n_rounds > 0) {
			search_line(rc, &res[i], find(res, n, OB_W_PING, res[i].concurrency));
		}
	}
	for (size_t i = 0; i < n && !rc->json; i++) {
		agg a;
		if (res[i].unavailable != NULL || res[i].n_rounds == 0) {
			continue;
		}
		aggregate(&res[i], &a);
		if (a.first_error != NULL) {
			fprintf(rc->out, "%s c=%u: %" PRIu64 " errors, first: %s\n",
			    ob_workload_info_of(res[i].workload)->name, res[i].concurrency,
			    a.errors, a.first_error);
		}
	}
}
