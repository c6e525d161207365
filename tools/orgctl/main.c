/*
 * main.c - orgctl: the command line of orgdir.
 *
 *   orgctl [global options] NOUN [VERB] [arguments and options]
 *
 * Global options, the environment, dispatch through the noun tables, help
 * at every level and the exit codes. The commands are in cmd_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orgctl.h"

#define DEFAULT_SERVER "tcp://127.0.0.1:7470"
#define DEFAULT_LANG "en"
/* orgdird's default, so that both find the same directory. */
#define DEFAULT_DATA "./orgdir-data"
#define ADMIN_TOKEN_FILE "admin.token"
#define TIMEOUT_MAX_MS 3600000L

static const struct od_ctl_noun *const nouns[] = {
    &od_ctl_noun_unit,
    &od_ctl_noun_country,
    &od_ctl_noun_token,
    &od_ctl_noun_log,
    &od_ctl_noun_watch,
    &od_ctl_noun_stats,
    &od_ctl_noun_search,
    &od_ctl_noun_export,
    &od_ctl_noun_import,
    &od_ctl_noun_backup,
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
	       "Token (the first that applies):\n"
	       "  --token T; --token-file FILE; ORGDIR_TOKEN; ORGDIR_TOKEN_FILE; else\n"
	       "  DIR/admin.token when it can be read, DIR being --data, ORGDIR_DATA or\n"
	       "  ./orgdir-data (orgdird's default). A token file gives its first line\n"
	       "  (warning when others may read it). --token '' sends no token. Writes\n"
	       "  need one; reads only when orgdird runs with --require-auth.\n"
	       "\n"
	       "Environment:\n"
	       "  ORGDIR_SERVER          server address when --server is not given\n"
	       "  ORGDIR_TOKEN           bearer token (see Token)\n"
	       "  ORGDIR_TOKEN_FILE      token file (see Token)\n"
	       "  ORGDIR_DATA            data directory when --data is not given\n"
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
		const char *syn = n->verbs[k].synopsis;
		printf("  %-5s orgctl %s %s%s%s\n", "", n->name, n->verbs[k].name,
		    syn[0] != '\0' ? " " : "", syn);
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
	printf("\nGlobal options: --server URL, --token T, --token-file FILE, --data DIR,\n"
	       "--timeout MS, --json, --lang TAG (see 'orgctl --help', which also lists\n"
	       "where the token comes from and the exit codes).\n");
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
	if ((s = getenv("ORGDIR_DATA")) != NULL && *s != '\0') {
		c->data_dir = s;
	}
	if ((s = getenv("ORGDIR_TLS_CA")) != NULL && *s != '\0') {
		c->tls_ca = s;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_TLS_CA)) != NULL) {
		c->tls_ca = s;
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
	/* The token itself is read on first use (od_ctl_token_resolve): help
	 * works whatever the token files are. */
	c->token_arg = od_ctl_args_last(a, OD_CTL_OPT_TOKEN);
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_TOKEN_FILE)) != NULL) {
		if (*s == '\0') {
			return od_ctl_usage(c, "--token-file: empty file name");
		}
		c->token_file = s;
	}
	if ((s = od_ctl_args_last(a, OD_CTL_OPT_DATA)) != NULL) {
		if (*s == '\0') {
			return od_ctl_usage(c, "--data: empty directory name");
		}
		c->data_dir = s;
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

/* --- the token ---------------------------------------------------------------------- */

/* memset that the compiler may not drop: the secret must not linger. */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n-- > 0) {
		*v++ = 0;
	}
}

enum token_read {
	TOKEN_READ_OK,
	TOKEN_READ_ERRNO, /* open, stat or read failed: *err */
	TOKEN_READ_EMPTY,
	TOKEN_READ_LONG,
	TOKEN_READ_BINARY,
};

static const char *
token_read_why(enum token_read r, int err)
{
	switch (r) {
	case TOKEN_READ_ERRNO:
		return strerror(err);
	case TOKEN_READ_EMPTY:
		return "its first line is empty";
	case TOKEN_READ_LONG:
		return "its first line is longer than 4096 bytes";
	case TOKEN_READ_BINARY:
		return "its first line is not UTF-8 text";
	default:
		return "";
	}
}

/* Reads the first line of `path` (without "\n" or "\r\n") into
 * c->token_buf. Reads at most a line's cap and two bytes: the rest of the
 * file does not matter. *others: the file is a regular file that group or
 * others may read. */
static enum token_read
read_token_file(struct od_ctl *c, const char *path, int *err, bool *others)
{
	*others = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*err = errno;
		return TOKEN_READ_ERRNO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || S_ISDIR(sb.st_mode)) {
		*err = S_ISDIR(sb.st_mode) ? EISDIR : errno;
		close(fd);
		return TOKEN_READ_ERRNO;
	}
	/* Pipes (--token-file <(...)) have no meaningful mode. */
	*others = S_ISREG(sb.st_mode) && (sb.st_mode & (S_IRGRP | S_IROTH)) != 0;
	char buf[OD_CTL_TOKEN_MAX + 2];
	size_t len = 0;
	enum token_read r = TOKEN_READ_OK;
	while (len < sizeof(buf)) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			*err = errno;
			r = TOKEN_READ_ERRNO;
			break;
		}
		if (k == 0) {
			break;
		}
		len += (size_t) k;
		if (memchr(buf + len - (size_t) k, '\n', (size_t) k) != NULL) {
			break;
		}
	}
	close(fd);
	if (r == TOKEN_READ_OK) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl != NULL ? (size_t) (nl - buf) : len;
		if (n > 0 && buf[n - 1] == '\r') {
			n--;
		}
		if (n > OD_CTL_TOKEN_MAX) {
			r = TOKEN_READ_LONG;
		} else if (n == 0) {
			r = TOKEN_READ_EMPTY;
		} else if (memchr(buf, '\0', n) != NULL || !od_utf8_valid(buf, n)) {
			r = TOKEN_READ_BINARY;
		} else {
			memcpy(c->token_buf, buf, n);
			c->token_buf[n] = '\0';
			c->token = c->token_buf;
		}
	}
	wipe(buf, sizeof(buf));
	return r;
}

/* A token file named by the user (`what`: --token-file or
 * ORGDIR_TOKEN_FILE): one that cannot be used is a usage error. */
static int
token_from_file(struct od_ctl *c, const char *path, const char *what)
{
	int err = 0;
	bool others = false;
	enum token_read r = read_token_file(c, path, &err, &others);
	if (r != TOKEN_READ_OK) {
		/* Not the verb's fault: point at the global help. */
		const char *cmdpath = c->cmdpath;
		c->cmdpath = NULL;
		int rc = od_ctl_usage(c, "%s %s: %s", what, path, token_read_why(r, err));
		c->cmdpath = cmdpath;
		return rc;
	}
	if (others) {
		fprintf(stderr,
		    "orgctl: warning: token file %s can be read by others: 'chmod 600' it\n", path);
	}
	c->token_source = path;
	return 0;
}

/* DATA/admin.token, the token of last resort: silently none when it does
 * not exist or cannot be read (a reader's account, another machine). */
static void
token_from_data_dir(struct od_ctl *c)
{
	const char *dir = c->data_dir != NULL ? c->data_dir : DEFAULT_DATA;
	int n = snprintf(c->token_path, sizeof(c->token_path), "%s/%s", dir, ADMIN_TOKEN_FILE);
	if (n < 0 || (size_t) n >= sizeof(c->token_path)) {
		return;
	}
	int err = 0;
	bool others = false;
	enum token_read r = read_token_file(c, c->token_path, &err, &others);
	if (r == TOKEN_READ_ERRNO && (err == ENOENT || err == EACCES || err == ENOTDIR)) {
		return;
	}
	if (r != TOKEN_READ_OK) {
		fprintf(stderr, "orgctl: warning: %s: %s; no token sent\n", c->token_path,
		    token_read_why(r, err));
		return;
	}
	if (others) {
		fprintf(stderr,
		    "orgctl: warning: token file %s can be read by others: 'chmod 600' it\n",
		    c->token_path);
	}
	c->token_source = c->token_path;
}

int
od_ctl_token_resolve(struct od_ctl *c)
{
	if (c->token_resolved) {
		return 0;
	}
	c->token_resolved = true;
	c->token = NULL;
	/* The command line first, then the environment (as for --server and
	 * --lang): an exported ORGDIR_TOKEN must not override the file named on
	 * the command line. */
	if (c->token_arg != NULL) {
		c->token = c->token_arg[0] != '\0' ? c->token_arg : NULL;
		c->token_source = "--token";
		return 0;
	}
	if (c->token_file != NULL) {
		return token_from_file(c, c->token_file, "--token-file");
	}
	const char *s = getenv("ORGDIR_TOKEN");
	if (s != NULL && *s != '\0') {
		c->token = s;
		c->token_source = "ORGDIR_TOKEN";
		return 0;
	}
	s = getenv("ORGDIR_TOKEN_FILE");
	if (s != NULL && *s != '\0') {
		return token_from_file(c, s, "ORGDIR_TOKEN_FILE");
	}
	token_from_data_dir(c);
	return 0;
}

/* After UNAUTHENTICATED or PERMISSION_DENIED: which token was sent (never
 * the token itself), since it may not be the one the user thinks. */
static void
token_hint(const struct od_ctl *c)
{
	if (c->token != NULL) {
		fprintf(stderr, "orgctl: the token sent came from %s\n", c->token_source);
	} else if (c->token_arg != NULL) {
		fputs("orgctl: no token was sent (--token '')\n", stderr);
	} else {
		fprintf(stderr,
		    "orgctl: no token was sent: none was given and %s/%s was not used (see "
		    "'orgctl --help', Token)\n",
		    c->data_dir != NULL ? c->data_dir : DEFAULT_DATA, ADMIN_TOKEN_FILE);
	}
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
	/* One write per line: a message is not spread over a write per byte
	 * (od_ctl_put), interleaved with other processes' output. */
	setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	if (!od_ctl_args_parse(argc - 1, argv + 1, &a, err, sizeof(err))) {
		rc = od_ctl_usage(NULL, "%s", err);
	} else {
		rc = dispatch(&c, &a, cmdpath, sizeof(cmdpath));
	}
	if (c.token_resolved &&
	    (rc == orgdir_code_exit(ORGDIR_UNAUTHENTICATED) ||
	        rc == orgdir_code_exit(ORGDIR_PERMISSION_DENIED))) {
		token_hint(&c);
	}
	od_ctl_args_free(&a);
	od_ctl_close_client(c.client);
	wipe(c.token_buf, sizeof(c.token_buf));
	/* No nng_fini: in nng 1.5 it can free what nng's reaper thread still
	 * uses (a panic seen under valgrind); the exit frees it all. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("orgctl: write error");
		if (rc == 0) {
			rc = orgdir_code_exit(ORGDIR_INTERNAL);
		}
	}
	return rc;
}
