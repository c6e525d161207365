/*
 * main.c - orgctl: the command line of orgdir.
 *
 *   orgctl [global options] NOUN [VERB] [arguments and options]
 *
 * Global options, the environment, dispatch through the noun tables, help
 * at every level and the exit codes. The commands are in cmd_*.c.
 */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "orgctl.h"

#define DEFAULT_SERVER "tcp://127.0.0.1:7470"
#define DEFAULT_LANG "en"
#define TIMEOUT_MAX_MS 3600000L

static const struct od_ctl_noun *const nouns[] = {
    &od_ctl_noun_unit,
    &od_ctl_noun_country,
    &od_ctl_noun_stats,
    &od_ctl_noun_health,
    &od_ctl_noun_info,
};

static const struct od_ctl_noun *
find_noun(const char *name)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(nouns); i++) {
		if (strcmp(nouns[i]->name, name) == 0) {
			return nouns[i];
		}
	}
	return NULL;
}

static const struct od_ctl_verb *
find_verb(const struct od_ctl_noun *n, const char *name)
{
	for (size_t i = 0; i < n->n_verbs; i++) {
		if (n->verbs[i].name != NULL && strcmp(n->verbs[i].name, name) == 0) {
			return &n->verbs[i];
		}
	}
	return NULL;
}

/* A noun with a single unnamed verb is itself the command (health, info). */
static const struct od_ctl_verb *
noun_command(const struct od_ctl_noun *n)
{
	return n->n_verbs == 1 && n->verbs[0].name == NULL ? &n->verbs[0] : NULL;
}

/* --- help ---------------------------------------------------------------------------- */

/* An option's line of help, in the verb's own words when it has them
 * (v may be NULL: the global options). */
static void
print_opt(const struct od_ctl_verb *v, int opt)
{
	const struct od_ctl_optdef *d = &od_ctl_opts[opt];
	const char *metavar = d->metavar;
	const char *help = d->help;
	for (const struct od_ctl_opthelp *h = v != NULL ? v->opt_help : NULL;
	     h != NULL && h->opt != OD_CTL_OPT_END; h++) {
		if (h->opt == opt) {
			metavar = h->metavar != NULL ? h->metavar : metavar;
			help = h->help;
			break;
		}
	}
	char lhs[64];
	if (metavar != NULL) {
		snprintf(lhs, sizeof(lhs), "--%s %s", d->name, metavar);
	} else {
		snprintf(lhs, sizeof(lhs), "--%s", d->name);
	}
	printf("  %-25s %s\n", lhs, help);
}

/* Summaries are written in lower case for the command list. */
static void
print_sentence(const char *s)
{
	char first = s[0] >= 'a' && s[0] <= 'z' ? (char) (s[0] - 'a' + 'A') : s[0];
	printf("%c%s.\n", first, s[0] != '\0' ? s + 1 : "");
}

/* Words of s on lines of at most `width` columns, each indented. */
static void
print_wrapped(const char *s, int indent, int width)
{
	int col = 0;
	while (*s != '\0') {
		const char *sp = strchr(s, ' ');
		int len = sp != NULL ? (int) (sp - s) : (int) strlen(s);
		if (col > 0 && col + 1 + len > width) {
			putchar('\n');
			col = 0;
		}
		if (col == 0) {
			printf("%*s", indent, "");
			col = indent;
		} else {
			putchar(' ');
			col++;
		}
		printf("%.*s", len, s);
		col += len;
		s += len;
		while (*s == ' ') {
			s++;
		}
	}
	putchar('\n');
}

static void
help_main(void)
{
	printf("Usage: orgctl [options] NOUN VERB [arguments] [options]\n"
	       "\n"
	       "orgctl reads and changes an orgdir organisational directory through its\n"
	       "server, orgdird.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < OD_ARRAY_LEN(nouns); i++) {
		const struct od_ctl_noun *n = nouns[i];
		if (noun_command(n) != NULL) {
			printf("  %-22s %s\n", n->name, n->summary);
			continue;
		}
		for (size_t k = 0; k < n->n_verbs; k++) {
			char lhs[64];
			snprintf(lhs, sizeof(lhs), "%s %s", n->name, n->verbs[k].name);
			printf("  %-22s %s\n", lhs, n->verbs[k].summary);
		}
	}
	printf("\nGlobal options (accepted before or after the command):\n");
	for (int o = 0; o < OD_CTL_OPT_FIRST_LOCAL; o++) {
		print_opt(NULL, o);
	}
	printf("\n"
	       "Environment:\n"
	       "  ORGDIR_SERVER          server address when --server is not given\n"
	       "  ORGDIR_TOKEN           bearer token when --token is not given\n"
	       "  ORGDIR_LANG            language when --lang is not given\n"
	       "\n"
	       "Exit codes:\n"
	       "  0   success\n"
	       "  1   health: the server answered but is not SERVING\n"
	       "  2   usage error (unknown command or option, bad value)\n");
	/* The status table is the one definition of codes and exit codes. */
#define X(name, val, exitc, msg) \
	if ((val) != 0) { \
		printf("  %-3d %-20s %s\n", (exitc), #name, (msg)); \
	}
	ORGDIR_CODE_TABLE(X)
#undef X
	printf("      (%d also for local failures such as out of memory)\n",
	    orgdir_code_exit(ORGDIR_INTERNAL));
	printf("\n"
	       "A failed call prints 'orgctl: CODE: message' on stderr.\n"
	       "Run 'orgctl NOUN --help' or 'orgctl NOUN VERB --help' for more.\n");
}

static void
help_noun(const struct od_ctl_noun *n)
{
	printf("Usage: orgctl %s VERB [arguments] [options]\n\n", n->name);
	print_sentence(n->summary);
	printf("\nVerbs:\n");
	for (size_t k = 0; k < n->n_verbs; k++) {
		printf("  %-5s %s\n", n->verbs[k].name, n->verbs[k].summary);
		printf("  %-5s orgctl %s %s %s\n", "", n->name, n->verbs[k].name,
		    n->verbs[k].synopsis);
	}
	printf("\nRun 'orgctl %s VERB --help' for a verb's options, 'orgctl --help' for\n"
	       "the global options and exit codes.\n",
	    n->name);
}

static void
help_verb(const struct od_ctl_noun *n, const struct od_ctl_verb *v)
{
	printf("Usage: orgctl %s", n->name);
	if (v->name != NULL) {
		printf(" %s", v->name);
	}
	if (v->synopsis[0] != '\0') {
		printf(" %s", v->synopsis);
	}
	printf("\n\n");
	print_sentence(v->summary);
	if (v->details != NULL) {
		printf("\n%s\n", v->details);
	}
	if (v->opts[0] != OD_CTL_OPT_END) {
		printf("\nOptions:\n");
		bool kind = false;
		for (const int *o = v->opts; *o != OD_CTL_OPT_END; o++) {
			print_opt(v, *o);
			kind = kind || *o == OD_CTL_OPT_KIND;
		}
		if (kind) {
			char kinds[512];
			od_ctl_kind_list(kinds, sizeof(kinds));
			printf("\nKinds (case-insensitive, '-' for '_'):\n");
			print_wrapped(kinds, 2, 76);
		}
	}
	printf("\nGlobal options: --server URL, --token T, --timeout MS, --json, --lang TAG\n"
	       "(see 'orgctl --help', which also lists the exit codes).\n");
}

/* "help", "help NOUN", "help NOUN VERB" (also "NOUN help [VERB]"). */
static int
help_for(struct od_ctl *c, char **words, int n)
{
	if (n == 0) {
		help_main();
		return 0;
	}
	const struct od_ctl_noun *noun = find_noun(words[0]);
	if (noun == NULL) {
		return od_ctl_usage(c, "unknown command '%s'", words[0]);
	}
	const struct od_ctl_verb *cmd = noun_command(noun);
	if (n == 1 || cmd != NULL) {
		if (cmd != NULL) {
			help_verb(noun, cmd);
		} else {
			help_noun(noun);
		}
		return 0;
	}
	const struct od_ctl_verb *v = find_verb(noun, words[1]);
	if (v == NULL) {
		c->cmdpath = noun->name;
		return od_ctl_usage(c, "unknown verb '%s' for '%s'", words[1], noun->name);
	}
	help_verb(noun, v);
	return 0;
}

/* --- global options and the environment ------------------------------------------- */

static int
apply_globals(struct od_ctl *c, const struct od_ctl_args *a)
{
	const char *s;
	if ((s = getenv("ORGDIR_SERVER")) != NULL && *s != '\0') {
		c->server = s;
	}
	if ((s = getenv("ORGDIR_TOKEN")) != NULL && *s != '\0') {
		c->token = s;
	}
	if ((s = getenv("ORGDIR_LANG")) != NULL && *s != '\0') {
		c->lang = s;
		if (!od_lang_valid(s) && od_ctl_args_last(a, OD_CTL_OPT_LANG) == NULL) {
			return od_ctl_usage(
			    c, "ORGDIR_LANG: '%s' is not a language tag such as fr, en, pt-BR", s);
		}
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_SERVER)) != NULL) {
		if (*s == '\0') {
			return od_ctl_usage(c, "--server: empty address");
		}
		c->server = s;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_TOKEN)) != NULL) {
		c->token = *s != '\0' ? s : NULL;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_TIMEOUT)) != NULL) {
		long ms;
		if (!od_ctl_parse_long(s, 1, TIMEOUT_MAX_MS, &ms)) {
			return od_ctl_usage(c,
			    "--timeout: '%s' is not a number of milliseconds from 1 to %ld", s,
			    TIMEOUT_MAX_MS);
		}
		c->timeout_ms = (int) ms;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_LANG)) != NULL) {
		if (!od_lang_valid(s)) {
			return od_ctl_usage(
			    c, "--lang: '%s' is not a language tag such as fr, en, pt-BR", s);
		}
		c->lang = s;
	}
	c->json = od_ctl_args_has(a, OD_CTL_OPT_JSON);
	return 0;
}

/* Every option given must be global or one the verb accepts. */
static int
check_verb_opts(struct od_ctl *c, const struct od_ctl_verb *v, const struct od_ctl_args *a)
{
	for (int i = 0; i < a->n_opts; i++) {
		int opt = a->opts[i].opt;
		if (opt < OD_CTL_OPT_FIRST_LOCAL) {
			continue;
		}
		const int *o = v->opts;
		while (*o != OD_CTL_OPT_END && *o != opt) {
			o++;
		}
		if (*o == OD_CTL_OPT_END) {
			return od_ctl_usage(c, "option '--%s' does not apply to 'orgctl %s'",
			    od_ctl_opts[opt].name, c->cmdpath);
		}
	}
	return 0;
}

/* --- dispatch ----------------------------------------------------------------------------- */

static int
dispatch(struct od_ctl *c, struct od_ctl_args *a, char *cmdpath, size_t cmdpath_len)
{
	int rc = apply_globals(c, a);
	if (rc != 0) {
		return rc;
	}
	if (a->n_pos == 0) {
		if (a->help) {
			help_main();
			return 0;
		}
		return od_ctl_usage(c, "missing command");
	}
	if (strcmp(a->pos[0], "help") == 0) {
		return help_for(c, a->pos + 1, a->n_pos - 1);
	}
	const struct od_ctl_noun *noun = find_noun(a->pos[0]);
	if (noun == NULL) {
		return od_ctl_usage(c, "unknown command '%s'", a->pos[0]);
	}
	snprintf(cmdpath, cmdpath_len, "%s", noun->name);
	c->cmdpath = cmdpath;
	int used = 1; /* positionals taken by noun and verb */
	const struct od_ctl_verb *v = noun_command(noun);
	if (v == NULL) {
		if (a->n_pos < 2) {
			if (a->help) {
				help_noun(noun);
				return 0;
			}
			return od_ctl_usage(c, "missing verb for '%s'", noun->name);
		}
		if (strcmp(a->pos[1], "help") == 0) {
			char *words[2] = {a->pos[0], a->n_pos > 2 ? a->pos[2] : NULL};
			return help_for(c, words, a->n_pos > 2 ? 2 : 1);
		}
		v = find_verb(noun, a->pos[1]);
		if (v == NULL) {
			return od_ctl_usage(c, "unknown verb '%s' for '%s'", a->pos[1], noun->name);
		}
		snprintf(cmdpath, cmdpath_len, "%s %s", noun->name, v->name);
		used = 2;
	}
	if (a->help) {
		help_verb(noun, v);
		return 0;
	}
	if ((rc = check_verb_opts(c, v, a)) != 0) {
		return rc;
	}
	int n = a->n_pos - used;
	if (n < v->min_pos) {
		return od_ctl_usage(c, "missing argument: orgctl %s %s", cmdpath, v->synopsis);
	}
	if (n > v->max_pos) {
		return od_ctl_usage(c, "unexpected argument '%s'", a->pos[used + v->max_pos]);
	}
	/* The verb sees its own positionals only. */
	struct od_ctl_args va = *a;
	va.pos = a->pos + used;
	va.n_pos = n;
	return v->run(c, &va);
}

int
main(int argc, char **argv)
{
	struct od_ctl c = {
	    .server = DEFAULT_SERVER,
	    .lang = DEFAULT_LANG,
	};
	struct od_ctl_args a;
	char err[256];
	char cmdpath[64];
	int rc;
	if (!od_ctl_args_parse(argc - 1, argv + 1, &a, err, sizeof(err))) {
		rc = od_ctl_usage(NULL, "%s", err);
	} else {
		rc = dispatch(&c, &a, cmdpath, sizeof(cmdpath));
	}
	od_ctl_args_free(&a);
	orgdir_client_close(c.client);
	/* nng's threads would otherwise show as leaks under valgrind. */
	nng_fini();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("orgctl: write error");
		if (rc == 0) {
			rc = orgdir_code_exit(ORGDIR_INTERNAL);
		}
	}
	return rc;
}
