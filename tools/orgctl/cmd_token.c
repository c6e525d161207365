/*
 * cmd_token.c - `orgctl token ...`: the bearer tokens and their roles
 * (ADMIN only; the server enforces it and says so).
 *
 * A secret is shown once, by `token add`, alone on stdout so that
 * `T=$(orgctl token add ci --role editor)` captures it; the words around
 * it go to stderr. Nothing else ever prints a secret.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orgctl.h"

/* 100 years: a bound for --ttl, far beyond any sensible expiry. */
#define TTL_MAX_SECONDS (100ull * 365 * 86400)

static const struct {
	const char *name;
	Orgdir__V1__Role role;
} roles[] = {
    {"reader", ORGDIR__V1__ROLE__READER},
    {"editor", ORGDIR__V1__ROLE__EDITOR},
    {"admin", ORGDIR__V1__ROLE__ADMIN},
};

static int
parse_role(const char *s)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(roles); i++) {
		if (strcasecmp(s, roles[i].name) == 0) {
			return (int) roles[i].role;
		}
	}
	return -1;
}

static const char *
role_name(int role)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(roles); i++) {
		if ((int) roles[i].role == role) {
			return roles[i].name;
		}
	}
	return "?";
}

/* "3600", "45s", "90m", "12h", "30d": seconds in 1..TTL_MAX_SECONDS. */
static bool
parse_duration(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9') {
		return false;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t) (*p - '0');
		if (v > TTL_MAX_SECONDS) {
			return false;
		}
	}
	uint64_t unit = 1;
	if (*p != '\0') {
		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return false;
		}
		if (p[1] != '\0') {
			return false;
		}
	}
	if (v == 0 || v > TTL_MAX_SECONDS / unit) {
		return false;
	}
	*out = v * unit;
	return true;
}

/* --- add -------------------------------------------------------------------------- */

static int
run_add(struct od_ctl *c, const struct od_ctl_args *a)
{
	const char *s = od_ctl_args_last(a, OD_CTL_OPT_ROLE);
	if (s == NULL) {
		return od_ctl_usage(c, "missing --role reader|editor|admin");
	}
	int role = parse_role(s);
	if (role < 0) {
		return od_ctl_usage(c, "--role: unknown role '%s' (reader, editor or admin)", s);
	}
	uint64_t ttl = 0;
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_TTL)) != NULL && !parse_duration(s, &ttl)) {
		return od_ctl_usage(c,
		    "--ttl: '%s' is not a duration such as 3600, 90m, 12h or 30d (at most 100 "
		    "years; omit --ttl for a token that never expires)",
		    s);
	}
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__CreateTokenResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_token_create(c->client, a->pos[0], role, ttl, &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
	} else {
		const Orgdir__V1__TokenInfo *t = r->token;
		char expires[64] = "";
		if (t != NULL && t->expire_time != NULL) {
			char when[48];
			od_ctl_format_time_s(t->expire_time, when, sizeof(when));
			snprintf(expires, sizeof(expires), ", expires %s", when);
		}
		/* The secret alone on stdout, between lines on stderr: on a
		 * terminal they read in order, and $(...) captures the secret. */
		fflush(stdout);
		fputs("orgctl: token '", stderr);
		od_ctl_put(stderr, t != NULL ? t->name : a->pos[0]);
		fprintf(stderr, "' (role %s%s) created; secret:\n",
		    role_name(t != NULL ? (int) t->role : role), expires);
		fflush(stderr);
		od_ctl_put(stdout, r->secret);
		fputc('\n', stdout);
		fflush(stdout);
		fputs("orgctl: store it now: it cannot be shown again.\n", stderr);
	}
	orgdir_reply_free(reply);
	return rc;
}

/* --- ls --------------------------------------------------------------------------------- */

static int
run_ls(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_reply *reply = NULL;
	Orgdir__V1__ListTokensResponse *r = NULL;
	orgdir_status st = {0};
	if (orgdir_token_list(c->client, &reply, &r, &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		rc = od_ctl_print_json(&r->base);
		orgdir_reply_free(reply);
		return rc;
	}
	/* Two time columns per row, kept until the table is printed. */
	char(*times)[2][64] = calloc(r->n_tokens + 1, sizeof(*times));
	if (times == NULL) {
		orgdir_reply_free(reply);
		return od_ctl_fail_local("out of memory");
	}
	static const char *const headers[] = {"NAME", "ROLE", "CREATED", "EXPIRES"};
	struct od_ctl_table t;
	od_ctl_table_init(&t, OD_ARRAY_LEN(headers), headers);
	time_t now = time(NULL);
	for (size_t i = 0; i < r->n_tokens; i++) {
		const Orgdir__V1__TokenInfo *k = r->tokens[i];
		od_ctl_format_time_s(k->create_time, times[i][0], sizeof(times[i][0]));
		if (k->expire_time == NULL) {
			snprintf(times[i][1], sizeof(times[i][1]), "never");
		} else {
			char when[48];
			od_ctl_format_time_s(k->expire_time, when, sizeof(when));
			snprintf(times[i][1], sizeof(times[i][1]), "%s%s", when,
			    k->expire_time->seconds <= (int64_t) now ? " (expired)" : "");
		}
		const char *row[] = {k->name, role_name((int) k->role), times[i][0], times[i][1]};
		od_ctl_table_row(&t, row);
	}
	rc = od_ctl_table_print(&t);
	free(times);
	orgdir_reply_free(reply);
	return rc;
}

/* --- rm ------------------------------------------------------------------------------------- */

static int
run_rm(struct od_ctl *c, const struct od_ctl_args *a)
{
	int rc = od_ctl_client(c);
	if (rc != 0) {
		return rc;
	}
	orgdir_status st = {0};
	if (orgdir_token_delete(c->client, a->pos[0], &st) != ORGDIR_OK) {
		return od_ctl_fail(&st);
	}
	if (c->json) {
		Orgdir__V1__DeleteTokenResponse r = ORGDIR__V1__DELETE_TOKEN_RESPONSE__INIT;
		return od_ctl_print_json(&r.base);
	}
	fputs("deleted token '", stdout);
	od_ctl_put(stdout, a->pos[0]);
	fputs("'\n", stdout);
	return 0;
}

/* --- the table ---------------------------------------------------------------------------- */

static const int add_opts[] = {OD_CTL_OPT_ROLE, OD_CTL_OPT_TTL, OD_CTL_OPT_END};
static const int no_opts[] = {OD_CTL_OPT_END};

static const struct od_ctl_verb token_verbs[] = {
    {"add", run_add, "NAME --role reader|editor|admin [--ttl DURATION]",
        "create a token and show its secret, once",
        "NAME is [a-z0-9][a-z0-9-]{0,63}: the actor shown in 'orgctl log'. Roles:\n"
        "reader (every read), editor (reads, unit and country changes), admin\n"
        "(everything, tokens included). --ttl takes seconds (3600) or a number\n"
        "with s, m, h or d (90m, 12h, 30d); without it the token never expires.\n"
        "The secret is printed alone on stdout, once: the server keeps only its\n"
        "hash. The lines around it go to stderr, so T=$(orgctl token add ...)\n"
        "captures just the secret. --json prints the CreateTokenResponse (with\n"
        "the secret). Needs an admin token (else PERMISSION_DENIED, exit 17).",
        add_opts, 1, 1, NULL},
    {"ls", run_ls, "", "list the tokens: name, role, created, expires",
        "Never shows secrets. --json prints the ListTokensResponse. Needs an\n"
        "admin token.",
        no_opts, 0, 0, NULL},
    {"rm", run_rm, "NAME", "delete a token",
        "The token stops working with the next call made with it. Needs an\n"
        "admin token; NOT_FOUND (exit 15) for a name that is not a token.",
        no_opts, 1, 1, NULL},
};

const struct od_ctl_noun od_ctl_noun_token = {"token",
    "manage the bearer tokens and their roles (admin)", token_verbs, OD_ARRAY_LEN(token_verbs)};
