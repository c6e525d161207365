/*
 * orgctl.h - the internal header of the orgctl command-line tool.
 *
 * orgctl is a client of liborgdir like any other: it uses only the public
 * API (orgdir/orgdir.h), the proto3 JSON mapping (pbjson.h) and the common
 * helpers (od.h). Commands are data: each noun file (cmd_*.c) exports one
 * od_ctl_noun with a table of verbs; main.c parses the command line, finds
 * the verb and runs it.
 *
 * Exit codes: 0 success; 1 `health` answered but not SERVING; 2 usage
 * error; 11..26 a failed call, orgdir_code_exit() of its status (also used
 * for local failures: INTERNAL for out of memory or a write error).
 */
#ifndef OD_ORGCTL_H
#define OD_ORGCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "od.h"

#define OD_CTL_EXIT_OK 0
#define OD_CTL_EXIT_NOT_SERVING 1
#define OD_CTL_EXIT_USAGE 2

/* --- options ---------------------------------------------------------------
 * One table of every option (args.c), so each option's name, value and help
 * are written once; a verb lists the ids it accepts. Global options are
 * accepted anywhere on the command line. */
enum od_ctl_opt {
	OD_CTL_OPT_END = -1, /* terminates a verb's option list */
	/* global */
	OD_CTL_OPT_SERVER,
	OD_CTL_OPT_TOKEN,
	OD_CTL_OPT_TOKEN_FILE,
	OD_CTL_OPT_DATA,
	OD_CTL_OPT_TIMEOUT,
	OD_CTL_OPT_JSON,
	OD_CTL_OPT_LANG,
	OD_CTL_OPT_HELP,
	OD_CTL_OPT_TLS_CA,
	/* per command */
	OD_CTL_OPT_IDS,
	OD_CTL_OPT_DEPTH,
	OD_CTL_OPT_LIMIT,
	OD_CTL_OPT_PAGE_SIZE,
	OD_CTL_OPT_PARENT,
	OD_CTL_OPT_KIND,
	OD_CTL_OPT_NAME,
	OD_CTL_OPT_DESCRIPTION,
	OD_CTL_OPT_ACRONYM,
	OD_CTL_OPT_HEAD_TITLE,
	OD_CTL_OPT_HEAD_NAME,
	OD_CTL_OPT_HEAD_EMAIL,
	OD_CTL_OPT_HEAD_PHONE,
	OD_CTL_OPT_COUNTRY,
	OD_CTL_OPT_CITY,
	OD_CTL_OPT_EMAIL,
	OD_CTL_OPT_PHONE,
	OD_CTL_OPT_URL,
	OD_CTL_OPT_SORT,
	OD_CTL_OPT_IF_MATCH,
	OD_CTL_OPT_FORCE,
	OD_CTL_OPT_MEMBER,
	OD_CTL_OPT_OBSERVER,
	OD_CTL_OPT_NON_MEMBER,
	OD_CTL_OPT_PRESENT,
	OD_CTL_OPT_ABSENT,
	OD_CTL_OPT_REGION,
	OD_CTL_OPT_MEMBERSHIP,
	OD_CTL_OPT_MEMBER_SINCE,
	OD_CTL_OPT_PRESENCE,
	OD_CTL_OPT_NOTES,
	OD_CTL_OPT_ROLE,
	OD_CTL_OPT_TTL,
	OD_CTL_OPT_SINCE,
	OD_CTL_OPT_WAIT,
	OD_CTL_OPT_UNDER,
	OD_CTL_OPT_REPLACE,
	OD_CTL_OPT_MERGE,
	OD_CTL_OPT_DRY_RUN,
	OD_CTL_OPT_COUNT
};

/* The first option id that is not global. */
#define OD_CTL_OPT_FIRST_LOCAL OD_CTL_OPT_IDS

struct od_ctl_optdef {
	const char *name; /* long name without "--" */
	const char *metavar; /* NULL for a flag */
	const char *help;
};

/* A verb's own wording for an option the table words for another verb
 * (`--sort` is a position for `unit add` but an order for `country ls`):
 * the parse is the same, only the help differs. */
struct od_ctl_opthelp {
	int opt;
	const char *metavar; /* NULL = the table's */
	const char *help;
};

/* One option as given, in command-line order; val is NULL for a flag. */
struct od_ctl_optval {
	int opt;
	const char *val; /* borrowed from argv */
};

/* A command line split into positionals and options (both borrowed from
 * argv, arrays owned by the struct: od_ctl_args_free). */
struct od_ctl_args {
	char **pos;
	int n_pos;
	struct od_ctl_optval *opts;
	int n_opts;
	bool help;
};

/* Largest command line accepted, in arguments. */
#define OD_CTL_ARGS_MAX 4096

/* --- the run ------------------------------------------------------------------ */

/* The largest token accepted from a file, in bytes (the client's cap). */
#define OD_CTL_TOKEN_MAX 4096

struct od_ctl {
	const char *server;
	/* The token, once od_ctl_token_resolve has run (NULL = none). Never
	 * printed, not even in errors. */
	const char *token;
	/* Where it came from ("--token", "ORGDIR_TOKEN", a file's path...),
	 * for hints after UNAUTHENTICATED; NULL until resolved. */
	const char *token_source;
	bool token_resolved;
	/* Explicit sources, from apply_globals; resolved on first use. */
	const char *token_arg; /* --token (may be "": explicitly none) */
	const char *token_file; /* --token-file */
	const char *data_dir; /* --data, ORGDIR_DATA or the default */
	const char *tls_ca; /* --tls-ca or ORGDIR_TLS_CA: for tls+tcp:// servers */
	char token_path[4200]; /* DIR/admin.token when that was used */
	char token_buf[OD_CTL_TOKEN_MAX + 1]; /* a token read from a file; wiped at exit */
	int timeout_ms; /* 0 = library default */
	bool json;
	const char *lang;
	const char *cmdpath; /* "unit add": for usage hints */
	orgdir_client *client; /* opened on first use by od_ctl_client */
};

struct od_ctl_verb {
	const char *name; /* NULL for a noun that is itself a command */
	int (*run)(struct od_ctl *c, const struct od_ctl_args *a);
	const char *synopsis; /* after "orgctl <noun> <verb> " */
	const char *summary; /* one line */
	const char *details; /* more help, may be NULL */
	const int *opts; /* accepted options, OD_CTL_OPT_END-terminated */
	int min_pos; /* positionals after the verb */
	int max_pos;
	/* Help overrides, terminated by {OD_CTL_OPT_END}; NULL = none. */
	const struct od_ctl_opthelp *opt_help;
};

struct od_ctl_noun {
	const char *name;
	const char *summary;
	const struct od_ctl_verb *verbs;
	size_t n_verbs;
};

extern const struct od_ctl_noun od_ctl_noun_unit;
extern const struct od_ctl_noun od_ctl_noun_country;
extern const struct od_ctl_noun od_ctl_noun_token;
extern const struct od_ctl_noun od_ctl_noun_log;
extern const struct od_ctl_noun od_ctl_noun_watch;
extern const struct od_ctl_noun od_ctl_noun_stats;
extern const struct od_ctl_noun od_ctl_noun_search;
extern const struct od_ctl_noun od_ctl_noun_export;
extern const struct od_ctl_noun od_ctl_noun_import;
extern const struct od_ctl_noun od_ctl_noun_backup;
extern const struct od_ctl_noun od_ctl_noun_health;
extern const struct od_ctl_noun od_ctl_noun_info;

/* --- args.c --------------------------------------------------------------- */

extern const struct od_ctl_optdef od_ctl_opts[OD_CTL_OPT_COUNT];

/* Splits argv[0..argc) into positionals and options. "--name=value" and
 * "--name value" both work; "--" ends options; "-" alone is a positional.
 * Returns false with a message in err for an unknown option, a missing
 * value or a value given to a flag. */
bool od_ctl_args_parse(int argc, char **argv, struct od_ctl_args *a, char *err, size_t errlen);
void od_ctl_args_free(struct od_ctl_args *a);
/* The last value of option opt, or NULL when not given. */
const char *od_ctl_args_last(const struct od_ctl_args *a, int opt);
bool od_ctl_args_has(const struct od_ctl_args *a, int opt);

/* Base-10 integer in [min, max] (strtol: no atoi): the whole string, no
 * leading space or sign games. */
bool od_ctl_parse_long(const char *s, long min, long max, long *out);
/* Splits "LANG=TEXT": *lang_len receives the length of LANG, *text points
 * after '='. False when there is no '=' or LANG is not a BCP 47 tag. */
bool od_ctl_parse_lang_text(const char *s, size_t *lang_len, const char **text);
/*
 * The localized list `cur` (may be empty) with the LANG=TEXT values of
 * option `opt` applied in command-line order: a language given replaces
 * its text or is added; an empty text removes it; the others stay as they
 * are. Everything new is allocated from ar; texts are copied. Values that
 * are not LANG=TEXT are skipped (check them first). False when ar is
 * exhausted.
 */
bool od_ctl_merge_localized(od_arena *ar, const struct od_ctl_args *a, int opt,
    Orgdir__V1__LocalizedString *const *cur, size_t n_cur, Orgdir__V1__LocalizedString ***out,
    size_t *n_out);
/* A Unit.Kind by name, case-insensitive, '-' for '_' ("regional-office").
 * -1 when unknown or KIND_UNSPECIFIED. */
int od_ctl_parse_kind(const char *s);

/* Prints "orgctl: <msg>" and a hint naming the help to read; returns 2. */
int od_ctl_usage(const struct od_ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "orgctl: CODE: message" for a failed call; returns its exit code. */
int od_ctl_fail(const orgdir_status *st);
/* A local failure (out of memory...): prints and returns INTERNAL's exit. */
int od_ctl_fail_local(const char *what);

/* Opens the client on first use (resolving the token first); on failure
 * prints and returns non-zero (the exit code). */
int od_ctl_client(struct od_ctl *c);

/* SIGINT and SIGTERM, while caught, set od_ctl_stop_signal (the signal) for
 * a long command to stop at its next step (watch, import); SA_RESETHAND
 * makes a second one end orgctl at once. Restore what catch saved. */
extern volatile sig_atomic_t od_ctl_stop_signal;
void od_ctl_signals_catch(struct sigaction old[2]);
void od_ctl_signals_restore(const struct sigaction old[2]);
/* Closes client, waiting for it at most ~2 s (nng 1.5 can hang there). */
void od_ctl_close_client(orgdir_client *client);

/* --- main.c: the token --------------------------------------------------------- */

/*
 * Sets c->token from, in order: --token (where '' means none); --token-file;
 * ORGDIR_TOKEN; ORGDIR_TOKEN_FILE; DATA/admin.token when readable (--data,
 * ORGDIR_DATA or ./orgdir-data). A file gives its first line without the
 * line end, at most OD_CTL_TOKEN_MAX bytes; a file others may read is used
 * with a warning. Returns 0, or 2 (usage) after printing why for a token
 * file given explicitly that cannot be used. Runs once; later calls return 0.
 */
int od_ctl_token_resolve(struct od_ctl *c);

/* --- output.c --------------------------------------------------------------- */

/* Prints m as proto3 JSON (two-space indent, the mapping's key order) and a
 * newline; returns 0 or the exit code of a local failure. */
int od_ctl_print_json(const ProtobufCMessage *m);
/* The same on one line (JSON lines), then flushes stdout; a write error
 * (a closed pipe) is a local failure too. */
int od_ctl_print_json_line(const ProtobufCMessage *m);
/* Writes server-supplied text, with control characters made harmless. */
void od_ctl_put(FILE *f, const char *s);
/* Display width of UTF-8 text, counted in code points. */
size_t od_ctl_width(const char *s);
/* The text for the run's language (orgdir_text_pick's fallback), or NULL. */
const char *od_ctl_pick(Orgdir__V1__LocalizedString *const *v, size_t n, const char *lang);
/* The unit's display name in lang, falling back to its id. */
const char *od_ctl_unit_name(const Orgdir__V1__Unit *u, const char *lang);
/* Lower-case kind name ("regional_office"); static storage. */
const char *od_ctl_kind_name(int kind);
/* "organization, executive_office, ...": every kind a unit can have. */
void od_ctl_kind_list(char *buf, size_t n);
/* RFC 3339 UTC; "" for NULL. buf of at least 40 bytes. */
void od_ctl_format_time(const Google__Protobuf__Timestamp *t, char *buf, size_t n);
/* The same to the second, without the fraction. */
void od_ctl_format_time_s(const Google__Protobuf__Timestamp *t, char *buf, size_t n);
/* One "label:  value" line of a record (`label [lang]:` when lang is not
 * NULL); nothing when value is NULL or empty. */
void od_ctl_print_line(const char *label, const char *lang, const char *value);
/* A localized text as record lines: the text for `lang` first, unlabelled,
 * then every other language labelled with its tag. */
void od_ctl_print_localized(
    const char *label, Orgdir__V1__LocalizedString *const *v, size_t n, const char *lang);
/* The readable multi-line record of `unit get`. */
void od_ctl_print_unit(const struct od_ctl *c, const Orgdir__V1__Unit *u);
/* "10,126": v with a comma every three digits. buf of at least 32 bytes. */
void od_ctl_format_count(uint64_t v, char *buf, size_t n);

/* A text table: column headers, then rows; cells are borrowed until print. */
struct od_ctl_table {
	size_t ncols;
	const char **cells; /* row-major, header first */
	size_t nrows; /* including the header */
	size_t cap;
	bool oom;
};
void od_ctl_table_init(struct od_ctl_table *t, size_t ncols, const char *const *headers);
void od_ctl_table_row(struct od_ctl_table *t, const char *const *cells);
/* Prints and frees; returns 0 or a local failure's exit code. */
int od_ctl_table_print(struct od_ctl_table *t);

/* Draws a GetSubtree answer like tree(1). */
int od_ctl_print_tree(const struct od_ctl *c, const Orgdir__V1__GetSubtreeResponse *r, bool ids);

/* --- diff.c: what a change changed ------------------------------------------------ */

/*
 * Appends to b a short field-level diff of two messages of the same type
 * (a Unit or a Country), in descriptor order: `field old → new` for each
 * changed field, separated by "; ". Sub-messages are compared field by
 * field (`head.name`), localized lists per language (`name[fr]`), and an
 * unset message counts as all defaults. Ids, etags and times are left out.
 * Long values are cut with "…". Appends nothing when nothing differs.
 * False when b refused an append (its cap, or out of memory).
 */
bool od_ctl_diff(od_buf *b, const ProtobufCMessage *before, const ProtobufCMessage *after);

/* --- pages.c: lists that come in pages (unit ls, country ls, log) --------------------- */

/* What one call of a list method returned; the command's fetch fills it. */
struct od_ctl_page {
	orgdir_reply *reply; /* the pager's once fetch returns OK */
	size_t n; /* items on the page */
	const char *next_page_token; /* in reply */
	int32_t total_size;
};

/* How a command lists: fetch the page of page_size items (0 = the server's
 * default) that `token` starts, then keep (gather, or print) its first
 * `take` items (0 or an exit code). With `stream` the items are printed as
 * they come: only the last page's reply is held (its token is in it). */
struct od_ctl_list {
	orgdir_code (*fetch)(struct od_ctl *c, void *arg, int32_t page_size, const char *token,
	    struct od_ctl_page *page, orgdir_status *st);
	int (*keep)(struct od_ctl *c, void *arg, size_t take);
	void *arg;
	bool stream;
	unsigned max_pages; /* stop after so many calls (0 = no bound) */
};

/* The pages fetched: their replies (the items point into them). */
struct od_ctl_pages {
	orgdir_reply **replies;
	size_t n_replies, cap;
	size_t n_items; /* kept so far */
	unsigned n_pages; /* calls made */
	int32_t total; /* the last page's total_size */
	const char *token; /* "" after the last page; else where --limit stopped */
};

/* Follows the pages until the last one or `limit` items (0 = all), asking
 * page_size at a time (0 = the server's default), and refuses a server
 * that sends the same token twice. 0 or the exit code of a failure (said
 * on stderr). *p is od_ctl_pages_free's either way. */
int od_ctl_pages_run(struct od_ctl *c, const struct od_ctl_list *l, long limit, long page_size,
    struct od_ctl_pages *p);
void od_ctl_pages_free(struct od_ctl_pages *p);
/* arr (of *cap elements of elem bytes) grown to hold at least `need` (and
 * allocated even for none); NULL only when out of memory (arr is then
 * untouched and still the caller's). */
void *od_ctl_grow(void *arr, size_t *cap, size_t need, size_t elem);
/* A `keep` of od_ctl_list: the first `take` items of a page (its array of
 * elem-byte items, NULL when the page is empty) appended to the list arr
 * (*n used of *cap), grown as od_ctl_grow does. Returns the list, or NULL
 * when out of memory (arr is then untouched and still the caller's). */
void *od_ctl_append(void *arr, size_t *cap, size_t *n, const void *page, size_t take, size_t elem);

/* --- cmd_log.c ------------------------------------------------------------------------ */

/* One change as a line of `log` and `watch` (with its newline):
 *   r42  2026-11-27T19:12:03Z  admin  UpdateUnit  unit dg: acronym "" → "DG"
 * Returns 0 or a local failure's exit code. */
int od_ctl_print_change(const Orgdir__V1__Change *ch);

#endif
