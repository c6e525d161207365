/* args.c - the option table, command-line splitting and value parsing. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orgctl.h"

const struct od_ctl_optdef od_ctl_opts[OD_CTL_OPT_COUNT] = {
    [OD_CTL_OPT_SERVER] = {"server", "URL",
        "server address (env ORGDIR_SERVER; default tcp://127.0.0.1:7470)"},
    [OD_CTL_OPT_TOKEN] = {"token", "T", "bearer token ('' = none; env ORGDIR_TOKEN)"},
    [OD_CTL_OPT_TOKEN_FILE] = {"token-file", "FILE",
        "read the token from FILE's first line (env ORGDIR_TOKEN_FILE)"},
    [OD_CTL_OPT_DATA] = {"data", "DIR",
        "data directory whose admin.token is the last resort (env ORGDIR_DATA)"},
    [OD_CTL_OPT_TIMEOUT] = {"timeout", "MS", "per-call timeout in milliseconds (default 10000)"},
    [OD_CTL_OPT_JSON] = {"json", NULL, "print the reply as proto3 JSON, for scripts"},
    [OD_CTL_OPT_LANG] = {"lang", "TAG", "language of names shown (env ORGDIR_LANG; default en)"},
    [OD_CTL_OPT_HELP] = {"help", NULL, "show help and exit"},
    [OD_CTL_OPT_IDS] = {"ids", NULL, "show unit ids too"},
    [OD_CTL_OPT_DEPTH] = {"depth", "N", "levels below the root to show (0 = all)"},
    [OD_CTL_OPT_LIMIT] = {"limit", "N", "stop after N units"},
    [OD_CTL_OPT_PAGE_SIZE] = {"page-size", "N",
        "units per request (1-1000; default: the server's)"},
    [OD_CTL_OPT_PARENT] = {"parent", "ID", "parent unit (omit, '-' or '' for a root)"},
    [OD_CTL_OPT_KIND] = {"kind", "KIND",
        "kind of unit: department, regional-office, ... (listed below)"},
    [OD_CTL_OPT_NAME] = {"name", "LANG=TEXT", "name in one language (repeat)"},
    [OD_CTL_OPT_DESCRIPTION] = {"description", "LANG=TEXT", "description in one language (repeat)"},
    [OD_CTL_OPT_ACRONYM] = {"acronym", "A", "acronym, e.g. DOE"},
    [OD_CTL_OPT_HEAD_TITLE] = {"head-title", "LANG=TEXT",
        "title of the head's post in one language (repeat)"},
    [OD_CTL_OPT_HEAD_NAME] = {"head-name", "N", "name of the head"},
    [OD_CTL_OPT_HEAD_EMAIL] = {"head-email", "E", "e-mail of the head"},
    [OD_CTL_OPT_HEAD_PHONE] = {"head-phone", "P", "phone of the head"},
    [OD_CTL_OPT_COUNTRY] = {"country", "CC",
        "country of the unit's location: ISO 3166-1 alpha-2 code, e.g. CH"},
    [OD_CTL_OPT_CITY] = {"city", "C", "city"},
    [OD_CTL_OPT_EMAIL] = {"email", "E", "contact e-mail"},
    [OD_CTL_OPT_PHONE] = {"phone", "P", "contact phone"},
    [OD_CTL_OPT_URL] = {"url", "U", "web page"},
    [OD_CTL_OPT_SORT] = {"sort", "N", "position among siblings"},
    [OD_CTL_OPT_IF_MATCH] = {"if-match", "ETAG",
        "act only if the unit's etag is still ETAG (else ABORTED)"},
    [OD_CTL_OPT_FORCE] = {"force", NULL, "also delete all descendants"},
    [OD_CTL_OPT_MEMBER] = {"member", NULL, "member states"},
    [OD_CTL_OPT_OBSERVER] = {"observer", NULL, "observers"},
    [OD_CTL_OPT_NON_MEMBER] = {"non-member", NULL, "countries neither member nor observer"},
    [OD_CTL_OPT_PRESENT] = {"present", NULL, "only countries where the organisation is present"},
    [OD_CTL_OPT_ABSENT] = {"absent", NULL, "only countries where it is not present"},
    [OD_CTL_OPT_REGION] = {"region", "UNIT", "regional office unit covering the country"},
    [OD_CTL_OPT_MEMBERSHIP] = {"membership", "STATUS", "member, observer or none"},
    [OD_CTL_OPT_MEMBER_SINCE] = {"member-since", "YEAR",
        "year it joined, as member or observer (0: not recorded)"},
    [OD_CTL_OPT_PRESENCE] = {"presence", "LEVEL",
        "auto (from the units), absent, country-office, sub-offices"},
    [OD_CTL_OPT_NOTES] = {"notes", "TEXT", "free notes ('' clears them)"},
    [OD_CTL_OPT_ROLE] = {"role", "ROLE",
        "reader (reads), editor (+ unit and country changes) or admin"},
    [OD_CTL_OPT_TTL] = {"ttl", "DURATION",
        "expire after DURATION: seconds, or 90m, 12h, 30d (default: never)"},
    [OD_CTL_OPT_SINCE] = {"since", "REV", "only changes after revision REV"},
    [OD_CTL_OPT_UNDER] = {"under", "UNIT", "only units in UNIT's subtree"},
    [OD_CTL_OPT_REPLACE] = {"replace", NULL, "the directory becomes exactly the document"},
    [OD_CTL_OPT_MERGE] = {"merge", NULL, "add and replace units (the default)"},
    [OD_CTL_OPT_DRY_RUN] = {"dry-run", NULL, "check everything, write nothing"},
    [OD_CTL_OPT_TLS_CA] = {"tls-ca", "FILE",
        "CA certificate(s) for a tls+tcp:// server (env ORGDIR_TLS_CA)"},
    [OD_CTL_OPT_WAIT] = {"wait", "MS", "longest wait of one poll (100-60000; default 2000)"},
};

static int
find_opt(const char *name, size_t len)
{
	for (int i = 0; i < OD_CTL_OPT_COUNT; i++) {
		const char *n = od_ctl_opts[i].name;
		if (strlen(n) == len && strncmp(n, name, len) == 0) {
			return i;
		}
	}
	return -1;
}

bool
od_ctl_args_parse(int argc, char **argv, struct od_ctl_args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (argc < 0 || argc > OD_CTL_ARGS_MAX) {
		snprintf(err, errlen, "too many arguments (at most %d)", OD_CTL_ARGS_MAX);
		return false;
	}
	/* Each argument is at most one positional or one option. */
	a->pos = calloc((size_t) argc + 1, sizeof(*a->pos));
	a->opts = calloc((size_t) argc + 1, sizeof(*a->opts));
	if (a->pos == NULL || a->opts == NULL) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	bool options_done = false;
	for (int i = 0; i < argc; i++) {
		char *s = argv[i];
		if (options_done || s[0] != '-' || s[1] == '\0') {
			a->pos[a->n_pos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strcmp(s, "-h") == 0) {
			a->help = true;
			continue;
		}
		if (s[1] != '-') {
			snprintf(err, errlen, "unknown option '%s'", s);
			return false;
		}
		const char *name = s + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq != NULL ? (size_t) (eq - name) : strlen(name);
		int opt = find_opt(name, len);
		if (opt < 0) {
			snprintf(err, errlen, "unknown option '--%.*s'", (int) len, name);
			return false;
		}
		const char *val = NULL;
		if (od_ctl_opts[opt].metavar == NULL) {
			if (eq != NULL) {
				snprintf(err, errlen, "option '--%s' takes no value",
				    od_ctl_opts[opt].name);
				return false;
			}
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "option '--%s' needs a value (%s)",
			    od_ctl_opts[opt].name, od_ctl_opts[opt].metavar);
			return false;
		}
		if (opt == OD_CTL_OPT_HELP) {
			a->help = true;
			continue;
		}
		a->opts[a->n_opts].opt = opt;
		a->opts[a->n_opts].val = val;
		a->n_opts++;
	}
	return true;
}

void
od_ctl_args_free(struct od_ctl_args *a)
{
	free(a->pos);
	free(a->opts);
	memset(a, 0, sizeof(*a));
}

const char *
od_ctl_args_last(const struct od_ctl_args *a, int opt)
{
	for (int i = a->n_opts - 1; i >= 0; i--) {
		if (a->opts[i].opt == opt) {
			return a->opts[i].val != NULL ? a->opts[i].val : "";
		}
	}
	return NULL;
}

bool
od_ctl_args_has(const struct od_ctl_args *a, int opt)
{
	return od_ctl_args_last(a, opt) != NULL;
}

bool
od_ctl_parse_long(const char *s, long min, long max, long *out)
{
	/* strtol skips leading space and accepts "+": a number is digits,
	 * optionally after one '-'. */
	const char *p = s[0] == '-' ? s + 1 : s;
	if (!isdigit((unsigned char) p[0])) {
		return false;
	}
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

bool
od_ctl_parse_lang_text(const char *s, size_t *lang_len, const char **text)
{
	const char *eq = strchr(s, '=');
	if (eq == NULL) {
		return false;
	}
	size_t n = (size_t) (eq - s);
	char lang[OD_LANG_MAX + 1];
	if (n == 0 || n > OD_LANG_MAX) {
		return false;
	}
	memcpy(lang, s, n);
	lang[n] = '\0';
	if (!od_lang_valid(lang)) {
		return false;
	}
	*lang_len = n;
	*text = eq + 1;
	return true;
}

static bool
lang_eq(const char *tag, const char *s, size_t n)
{
	return strlen(tag) == n && strncasecmp(tag, s, n) == 0;
}

bool
od_ctl_merge_localized(od_arena *ar, const struct od_ctl_args *a, int opt,
    Orgdir__V1__LocalizedString *const *cur, size_t n_cur, Orgdir__V1__LocalizedString ***out,
    size_t *n_out)
{
	size_t max = n_cur;
	for (int i = 0; i < a->n_opts; i++) {
		max += a->opts[i].opt == opt;
	}
	Orgdir__V1__LocalizedString **v = od_arena_alloc(ar, (max + 1) * sizeof(*v));
	if (v == NULL) {
		return false;
	}
	size_t n = 0;
	for (size_t i = 0; i < n_cur; i++) {
		v[n++] = cur[i];
	}
	for (int i = 0; i < a->n_opts; i++) {
		if (a->opts[i].opt != opt) {
			continue;
		}
		size_t ll;
		const char *text;
		if (!od_ctl_parse_lang_text(a->opts[i].val, &ll, &text)) {
			continue; /* check_fields has refused it already */
		}
		const char *lang = a->opts[i].val;
		size_t k = 0;
		while (k < n && !lang_eq(v[k]->lang, lang, ll)) {
			k++;
		}
		if (*text == '\0') {
			if (k < n) {
				memmove(&v[k], &v[k + 1], (n - k - 1) * sizeof(*v));
				n--;
			}
			continue;
		}
		Orgdir__V1__LocalizedString *ls = od_arena_alloc(ar, sizeof(*ls));
		if (ls == NULL) {
			return false;
		}
		orgdir__v1__localized_string__init(ls);
		ls->lang = k < n ? v[k]->lang : od_arena_strndup(ar, lang, ll);
		ls->text = od_arena_strndup(ar, text, strlen(text));
		if (ls->lang == NULL || ls->text == NULL) {
			return false;
		}
		if (k < n) {
			v[k] = ls;
		} else {
			v[n++] = ls;
		}
	}
	*out = v;
	*n_out = n;
	return true;
}

int
od_ctl_parse_kind(const char *s)
{
	char name[40];
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(name)) {
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		name[i] = s[i] == '-' ? '_' : s[i];
	}
	const ProtobufCEnumDescriptor *d = &orgdir__v1__unit__kind__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		if (d->values[i].value != ORGDIR__V1__UNIT__KIND__KIND_UNSPECIFIED &&
		    strcasecmp(d->values[i].name, name) == 0) {
			return d->values[i].value;
		}
	}
	return -1;
}

int
od_ctl_usage(const struct od_ctl *c, const char *fmt, ...)
{
	va_list ap;
	fputs("orgctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c != NULL && c->cmdpath != NULL) {
		fprintf(stderr, "Try 'orgctl %s --help'.\n", c->cmdpath);
	} else {
		fputs("Try 'orgctl --help'.\n", stderr);
	}
	return OD_CTL_EXIT_USAGE;
}

int
od_ctl_fail(const orgdir_status *st)
{
	const char *msg = st->message[0] != '\0' ? st->message : orgdir_code_message(st->code);
	fprintf(stderr, "orgctl: %s: ", orgdir_code_name(st->code));
	od_ctl_put(stderr, msg);
	fputc('\n', stderr);
	int rc = orgdir_code_exit(st->code);
	/* A status outside the table still must not look like success. */
	return rc != 0 ? rc : orgdir_code_exit(ORGDIR_UNKNOWN);
}

int
od_ctl_fail_local(const char *what)
{
	fprintf(stderr, "orgctl: %s: %s\n", orgdir_code_name(ORGDIR_INTERNAL), what);
	return orgdir_code_exit(ORGDIR_INTERNAL);
}

int
od_ctl_client(struct od_ctl *c)
{
	if (c->client != NULL) {
		return 0;
	}
	int rc = od_ctl_token_resolve(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_options o = {
	    .timeout_ms = c->timeout_ms, .token = c->token, .tls_ca_file = c->tls_ca};
	orgdir_status st = {0};
	if (orgdir_client_open(c->server, &o, &c->client, &st) != ORGDIR_OK) {
		c->client = NULL;
		return od_ctl_fail(&st);
	}
	return 0;
}

/*
 * nng 1.5's close of a REQ socket can wait forever (or spin) when it
 * races a connection still being set up: seen under valgrind, with a
 * server too slow to finish its handshake (nanomsg/nng#648, #1543). A
 * command's work is done by then, so the close gets CLOSE_WAIT_MS on a
 * thread of its own; past that, orgctl leaves it to the process's exit.
 * Whichever of the two finishes last frees the struct.
 */
#define CLOSE_WAIT_MS 2000

struct closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	orgdir_client *client;
	bool done, abandoned;
};

static void
closer_free(struct closer *k)
{
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static void *
close_thread(void *arg)
{
	struct closer *k = arg;
	/* For the tests: a close that takes this long, as a stuck one would. */
	const char *stall = getenv("ORGCTL_TEST_CLOSE_STALL_MS");
	long ms = stall != NULL ? strtol(stall, NULL, 10) : 0;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		continue;
	}
	orgdir_client_close(k->client);
	pthread_mutex_lock(&k->mu);
	k->done = true;
	bool abandoned = k->abandoned;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	if (abandoned) {
		closer_free(k);
	}
	return NULL;
}

void
od_ctl_close_client(orgdir_client *client)
{
	struct closer *k = client != NULL ? malloc(sizeof(*k)) : NULL;
	pthread_condattr_t ca;
	pthread_t th;
	if (k == NULL || pthread_condattr_init(&ca) != 0) {
		free(k);
		orgdir_client_close(client);
		return;
	}
	*k = (struct closer){.client = client};
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, close_thread, k) != 0) {
		closer_free(k);
		orgdir_client_close(client);
		return;
	}
	struct timespec until;
	od_mono_deadline(CLOSE_WAIT_MS, &until);
	pthread_mutex_lock(&k->mu);
	for (int rc = 0; !k->done && rc != ETIMEDOUT;) {
		rc = pthread_cond_timedwait(&k->cv, &k->mu, &until);
	}
	bool done = k->done;
	k->abandoned = !done;
	pthread_mutex_unlock(&k->mu);
	if (done) {
		pthread_join(th, NULL);
		closer_free(k);
	} else {
		pthread_detach(th); /* it frees k if it ever finishes */
	}
}

/* --- SIGINT and SIGTERM ------------------------------------------------------------ */

volatile sig_atomic_t od_ctl_stop_signal;

static void
on_signal(int sig)
{
	od_ctl_stop_signal = sig;
}

void
od_ctl_signals_catch(struct sigaction old[2])
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	od_ctl_stop_signal = 0;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
}

void
od_ctl_signals_restore(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}
