/*
 * cmd_log.c - `orgctl log` and `orgctl watch`: the change log, read back
 * or followed as it grows. Both print a change the same way:
 *
 *   r42  2026-11-27T19:12:03Z  admin  UpdateUnit  unit dg: acronym "" → "DG"
 *
 * `watch` long-polls WatchChanges with a short wait, so that SIGINT or
 * SIGTERM (which only set a flag) end it within that wait, with exit 0.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orgctl.h"

/* Bytes one change's line may take (values are cut at 60 characters, so
 * this is far above any real line). */
#define LINE_CAP (1u << 20)
#define WAIT_DEFAULT_MS 2000
/* A shorter wait would make the watch a busy loop. */
#define WAIT_MIN_MS 100
#define WAIT_MAX_MS 60000
/* Pause between tries while the server is unreachable during a watch. */
#define RETRY_MS 1000
/* --since takes any revision a long can hold. */
#define SINCE_MAX 0x7fffffffffffffffL

/* --- one change as a line ------------------------------------------------------------ */

int
od_ctl_print_change(const Orgdir__V1__Change *ch)
{
	char when[48];
	od_ctl_format_time_s(ch->time, when, sizeof(when));
	printf("r%" PRIu64 "  %s  ", ch->revision, when[0] != '\0' ? when : "-");
	od_ctl_put(stdout, ch->actor[0] != '\0' ? ch->actor : "-");
	fputs("  ", stdout);
	od_ctl_put(stdout, ch->method);
	fputs("  ", stdout);

	const ProtobufCMessage *before = NULL;
	const ProtobufCMessage *after = NULL;
	bool unit = ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT;
	if (unit) {
		fputs("unit ", stdout);
		before = ch->unit_before != NULL ? &ch->unit_before->base : NULL;
		after = ch->unit_after != NULL ? &ch->unit_after->base : NULL;
	} else if (ch->resource_type == ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY) {
		fputs("country ", stdout);
		before = ch->country_before != NULL ? &ch->country_before->base : NULL;
		after = ch->country_after != NULL ? &ch->country_after->base : NULL;
	} else {
		fputs("resource ", stdout);
	}
	od_ctl_put(stdout, ch->resource_id);
	fputs(": ", stdout);
	/* A unit comes and goes; a country's record is only ever changed (an
	 * unset one is all defaults), so it is always a diff. */
	if (unit && before == NULL && after != NULL) {
		fputs("created\n", stdout);
		return 0;
	}
	if (unit && before != NULL && after == NULL) {
		fputs("deleted\n", stdout);
		return 0;
	}
	od_buf b;
	od_buf_init(&b, LINE_CAP);
	bool ok = od_ctl_diff(&b, before, after) && od_buf_append(&b, "", 1);
	if (!ok) {
		od_buf_free(&b);
		fputc('\n', stdout);
		return od_ctl_fail_local("cannot describe a change (out of memory)");
	}
	od_ctl_put(stdout, b.len > 1 ? (const char *) b.data : "no field changed");
	fputc('\n', stdout);
	od_buf_free(&b);
	return 0;
}

/* --- log ---------------------------------------------------------------------------------- */

/* log: the changes of every page (--json), or printed page by page. */
struct change_list {
	uint64_t since;
	const char *rid;
	int rtype;
	bool print;
	Orgdir__V1__ListChangesResponse *last; /* the page just fetched */
	uint64_t revision; /* the store's, as the last page read it */
	Orgdir__V1__Change **items;
	size_t n, cap;
};

static orgdir_code
fetch_changes(struct od_ctl *c, void *arg, int32_t page_size, const char *token,
    struct od_ctl_page *pg, orgdir_status *st)
{
	struct change_list *l = arg;
	orgdir_code code = orgdir_changes_list(
	    c->client, l->since, l->rid, l->rtype, page_size, token, &pg->reply, &l->last, st);
	if (code == ORGDIR_OK) {
		pg->n = l->last->n_changes;
		pg->next_page_token = l->last->next_page_token;
		l->revision = l->last->revision;
	}
	return code;
}

static int
keep_changes(struct od_ctl *c, void *arg, size_t take)
{
	struct change_list *l = arg;
	(void) c;
	if (l->print) {
		int rc = 0;
		for (size_t i = 0; i < take && rc == 0; i++) {
			rc = od_ctl_print_change(l->last->changes[i]);
		}
		return rc;
	}
	Orgdir__V1__Change **ch =
	    od_ctl_append(l->items, &l->cap, &l->n, l->last->changes, take, sizeof(*ch));
	if (ch == NULL) {
		return od_ctl_fail_local("out of memory");
	}
	l->items = ch;
	return 0;
}

/* --country CC: the alpha-2 code, upper case, as the log keys countries.
 * An alpha-3 code is asked of the server (it knows ISO 3166-1). */
static int
country_code(struct od_ctl *c, const char *s, char out[3])
{
	size_t n = strlen(s);
	bool letters = n >= 2 && n <= 3;
	for (size_t i = 0; letters && i < n; i++) {
		letters = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
	}
	if (!letters) {
		return od_ctl_usage(
		    c, "--country: '%s' is not an ISO 3166-1 code such as FR or FRA", s);
	}
	if (n == 2) {
		out[0] = (char) (s[0] & ~0x20);
		out[1] = (char) (s[1] & ~0x20);
		out[2] = '\0';
		return 0;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__Country *k = NULL;
	orgdir_status st = {0};
	if (orgdir_country_get(c->client, s, &reply, &k, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	snprintf(out, 3, "%s", k->code);
	orgdir_reply_free(reply);
	return 0;
}

static int
run_log(struct od_ctl *c, const struct od_ctl_args *a)
{
	long since = 0;
	long limit = 0;
	long page_size = 0;
	const char *s;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_SINCE)) != NULL &&
	    !od_ctl_parse_long(s, 0, SINCE_MAX, &since)) {
		return od_ctl_usage(c, "--since: '%s' is not a revision (a number from 0)", s);
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_LIMIT)) != NULL &&
	    !od_ctl_parse_long(s, 1, 1000000000L, &limit)) {
		return od_ctl_usage(c, "--limit: '%s' is not a number from 1 to 1000000000", s);
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_PAGE_SIZE)) != NULL &&
	    !od_ctl_parse_long(s, 1, OD_PAGE_MAX, &page_size)) {
		return od_ctl_usage(
		    c, "--page-size: '%s' is not a number from 1 to %d", s, OD_PAGE_MAX);
	}
	const char *country = od_ctl_args_last(a, OD_CTL_OPT_COUNTRY);
	if (country != NULL && a->n_pos > 0) {
		return od_ctl_usage(c, "give a unit ID or --country CC, not both");
	}
	/* Refuse a malformed code before connecting: nng 1.5 can leak a dialer
	 * when a socket is closed while its first connection is being made. */
	if (country != NULL &&
	    (strlen(country) < 2 || strlen(country) > 3 ||
	        strspn(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
	            strlen(country))) {
		return od_ctl_usage(
		    c, "--country: '%s' is not an ISO 3166-1 code such as FR or FRA", country);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	char cc[3];
	const char *rid = NULL;
	int rtype = ORGDIR__V1__CHANGE__RESOURCE_TYPE__RESOURCE_TYPE_UNSPECIFIED;
	if (country != NULL) {
		if ((rc = country_code(c, country, cc)) != 0) {
			return rc;
		}
		rid = cc;
		rtype = ORGDIR__V1__CHANGE__RESOURCE_TYPE__COUNTRY;
	} else if (a->n_pos > 0) {
		rid = a->pos[0];
		rtype = ORGDIR__V1__CHANGE__RESOURCE_TYPE__UNIT;
	}

	/* Human lines are printed page by page; --json keeps every page. */
	struct change_list l = {
	    .since = (uint64_t) since, .rid = rid, .rtype = rtype, .print = !c->json};
	struct od_ctl_list how = {
	    .fetch = fetch_changes, .keep = keep_changes, .arg = &l, .stream = !c->json};
	struct od_ctl_pages p;
	rc = od_ctl_pages_run(c, &how, limit, page_size, &p);
	if (rc == 0 && c->json) {
		/* One ListChangesResponse for all pages; nextPageToken only when
		 * --limit stopped before the end. */
		Orgdir__V1__ListChangesResponse all = ORGDIR__V1__LIST_CHANGES_RESPONSE__INIT;
		all.n_changes = l.n;
		all.changes = l.items;
		all.next_page_token = (char *) p.token;
		all.revision = l.revision;
		rc = od_ctl_print_json(&all.base);
	}
	free(l.items);
	od_ctl_pages_free(&p);
	return rc;
}

/* --- watch -------------------------------------------------------------------------------- */

/* Sleeps ms in short steps, returning early when a signal came. */
static void
pause_ms(int ms)
{
	for (int left = ms; left > 0 && od_ctl_stop_signal == 0; left -= 100) {
		struct timespec ts = {0, (left < 100 ? left : 100) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Failures worth waiting out: the server restarting, a network blip. The
 * revision to resume from is known, so nothing is lost meanwhile. */
static bool
transient(orgdir_code code)
{
	return code == ORGDIR_UNAVAILABLE || code == ORGDIR_DEADLINE_EXCEEDED;
}

static int
print_batch(struct od_ctl *c, const Orgdir__V1__WatchChangesResponse *r)
{
	for (size_t i = 0; i < r->n_changes; i++) {
		int rc;
		if (c->json) {
			rc = od_ctl_print_json_line(&r->changes[i]->base);
		} else {
			rc = od_ctl_print_change(r->changes[i]);
			if (rc == 0 && fflush(stdout) != 0) {
				rc = od_ctl_fail_local("cannot write the output");
			}
		}
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

static int
run_watch(struct od_ctl *c, const struct od_ctl_args *a)
{
	long since = -1;
	long wait = WAIT_DEFAULT_MS;
	const char *s;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_SINCE)) != NULL &&
	    !od_ctl_parse_long(s, 0, SINCE_MAX, &since)) {
		return od_ctl_usage(c, "--since: '%s' is not a revision (a number from 0)", s);
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_WAIT)) != NULL &&
	    !od_ctl_parse_long(s, WAIT_MIN_MS, WAIT_MAX_MS, &wait)) {
		return od_ctl_usage(c, "--wait: '%s' is not a number of milliseconds from %d to %d",
		    s, WAIT_MIN_MS, WAIT_MAX_MS);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_status st = {0};
	bool answered = false; /* the server has answered once: outages are waited out */
	if (since < 0) {
		/* From now: the revision the server is at. */
		orgdir_reply *reply = NULL;
		Orgdir__V1__ServerInfoResponse *info = NULL;
		if (orgdir_server_info(c->client, &reply, &info, &st) != ORGDIR_OK) {
			return od_ctl_fail(&st);
		}
		since = (long) info->revision;
		orgdir_reply_free(reply);
		answered = true; /* a server that keeps no more long polls: wait for one */
	}
	uint64_t next = (uint64_t) since;
	struct sigaction old[2];
	od_ctl_signals_catch(old);
	/* Said once the signals are caught: a script that waits for this line
	 * knows that SIGINT now ends the watch cleanly. */
	fprintf(stderr, "orgctl: watching the changes after r%" PRIu64 "; Ctrl-C to stop\n", next);
	bool down = false;
	char token[64] = ""; /* inside a revision larger than one answer */
	while (od_ctl_stop_signal == 0) {
		orgdir_reply *reply = NULL;
		Orgdir__V1__WatchChangesResponse *r = NULL;
		if (orgdir_changes_watch(
		        c->client, next, token, (uint32_t) wait, 0, &reply, &r, &st) != ORGDIR_OK) {
			if (od_ctl_stop_signal != 0) {
				break;
			}
			if (answered && transient(st.code)) {
				if (!down) {
					fprintf(stderr, "orgctl: %s: ", orgdir_code_name(st.code));
					od_ctl_put(stderr, st.message);
					fprintf(stderr, "; retrying from r%" PRIu64 "\n", next);
					down = true;
				}
				pause_ms(RETRY_MS);
				continue;
			}
			rc = od_ctl_fail(&st);
			break;
		}
		if (down) {
			fprintf(stderr, "orgctl: the server answers again\n");
			down = false;
		}
		answered = true;
		rc = print_batch(c, r);
		/* Never go back (a server behind us answers OUT_OF_RANGE), except
		 * to finish a revision that came in parts. */
		if (r->next_since_revision > next || r->next_page_token[0] != '\0') {
			next = r->next_since_revision;
		}
		snprintf(token, sizeof(token), "%s", r->next_page_token);
		orgdir_reply_free(reply);
		if (rc != 0) {
			break;
		}
	}
	od_ctl_signals_restore(old);
	return rc;
}

/* --- the tables ------------------------------------------------------------------------ */

static const int log_opts[] = {
    OD_CTL_OPT_SINCE, OD_CTL_OPT_COUNTRY, OD_CTL_OPT_LIMIT, OD_CTL_OPT_PAGE_SIZE, OD_CTL_OPT_END};
static const struct od_ctl_opthelp log_help[] = {
    {OD_CTL_OPT_COUNTRY, NULL, "the changes of country CC (FR, FRA) instead of a unit's"},
    {OD_CTL_OPT_LIMIT, NULL, "stop after N changes (the oldest first)"},
    {OD_CTL_OPT_PAGE_SIZE, NULL, "changes per request (1-1000; default: the server's)"},
    {OD_CTL_OPT_END, NULL, NULL},
};

static const struct od_ctl_verb log_verbs[] = {
    {NULL, run_log, "[ID | --country CC] [--since REV] [--limit N] [--page-size N]",
        "show the change log: who changed what, when",
        "Lists the committed changes oldest first, every page of them, one per\n"
        "line: revision, time (UTC), actor (the token's name), method, resource\n"
        "and what changed:\n"
        "  r42  2026-11-27T19:12:03Z  admin  UpdateUnit  unit dg: acronym \"\" → \"DG\"\n"
        "A unit's line says created, deleted, or each field changed as old → new\n"
        "(sub-fields as head.name, languages as name[fr]; long values cut with …);\n"
        "a country's line, each field of its record. With ID, only that unit's\n"
        "changes; with --country, only that country's; --since REV, only those\n"
        "after revision REV. --json prints one ListChangesResponse with the\n"
        "changes of all pages (before and after in full) and the revision read.\n"
        "OUT_OF_RANGE (exit 21) when the log no longer reaches back to REV.",
        log_opts, 0, 1, log_help},
};

const struct od_ctl_noun od_ctl_noun_log = {
    "log", "show the change log: who changed what, when", log_verbs, OD_ARRAY_LEN(log_verbs)};

static const int watch_opts[] = {OD_CTL_OPT_SINCE, OD_CTL_OPT_WAIT, OD_CTL_OPT_END};

static const struct od_ctl_verb watch_verbs[] = {
    {NULL, run_watch, "[--since REV] [--wait MS]", "print the changes as they happen",
        "Follows the change log without losing a change: prints every change\n"
        "after REV (without --since, after the server's current revision) as a\n"
        "line like 'orgctl log' (with --json, one Change object per line: JSON\n"
        "lines), flushed at once, until SIGINT (Ctrl-C) or SIGTERM, then exits 0.\n"
        "Each request waits on the server up to --wait MS for a change, so the\n"
        "watch ends within MS of the signal (a second Ctrl-C ends it at once).\n"
        "It starts by saying on stderr which revision it follows from.\n"
        "To resume after a stop, give --since the last revision printed. While\n"
        "the server is unreachable (a restart) it retries every second and goes\n"
        "on where it stopped. OUT_OF_RANGE (exit 21) when the log no longer\n"
        "reaches back to REV: read the directory again and watch from its\n"
        "revision.",
        watch_opts, 0, 0, NULL},
};

const struct od_ctl_noun od_ctl_noun_watch = {
    "watch", "print the changes as they happen", watch_verbs, OD_ARRAY_LEN(watch_verbs)};
