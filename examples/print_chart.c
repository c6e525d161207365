/*
 * print_chart - prints an organisation chart as an indented tree.
 *
 *   print_chart [--server URL] [--lang TAG] [ROOT]
 *
 * An example of liborgdir's public API: one GetSubtree call returns ROOT
 * (default: every root, i.e. the whole organisation) and all its
 * descendants, depth-first in display order, each with its depth; this
 * program only indents them, two spaces per level, as "name (ACRONYM)".
 * The server is --server, else $ORGDIR_SERVER, else tcp://127.0.0.1:7470.
 * Names are shown in --lang (default "en"), falling back as
 * orgdir_text_pick does. Exits 0 on success, 2 on a usage error, and with
 * orgdir_code_exit() of the status when the call fails.
 *
 * Build: see CMakeLists.txt (in the source tree) or Makefile.standalone
 * (against an installed liborgdir).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orgdir/orgdir.h>

#define PROG "print_chart"
#define DEFAULT_SERVER "tcp://127.0.0.1:7470"
#define DEFAULT_LANG "en"
/* Indentation stops growing here; the server caps trees well below it. */
#define INDENT_MAX_LEVELS 100

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [--server URL] [--lang TAG] [ROOT]\n"
	    "\n"
	    "Prints the organisation chart below the unit ROOT (default: all of it).\n"
	    "\n"
	    "  --server URL  orgdird to ask (default: $ORGDIR_SERVER, else " DEFAULT_SERVER ")\n"
	    "  --lang TAG    language of the names, e.g. fr (default: " DEFAULT_LANG ")\n"
	    "  --help        print this help and exit\n");
}

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. */
static int
option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, n) != 0) {
		return 0;
	}
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0') {
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, PROG ": %s needs a value\n", name);
		exit(2);
	}
	*i += 1;
	*value = argv[*i];
	return 1;
}

static void
print_node(const Orgdir__V1__SubtreeNode *node, const char *lang)
{
	const Orgdir__V1__Unit *u = node->unit;
	unsigned depth = node->depth;
	const char *name;

	if (u == NULL) {
		return;
	}
	if (depth > INDENT_MAX_LEVELS) {
		depth = INDENT_MAX_LEVELS;
	}
	name = orgdir_text_pick(u->name, u->n_name, lang);
	/* A unit always has a name; show its id if a server sends none. */
	printf("%*s%s", (int) (2 * depth), "", name != NULL ? name : u->id);
	if (u->acronym[0] != '\0') {
		printf(" (%s)", u->acronym);
	}
	printf("\n");
}

static int
fail(orgdir_code code, const orgdir_status *st)
{
	fprintf(stderr, PROG ": %s: %s\n", orgdir_code_name(code),
	    st->message[0] != '\0' ? st->message : orgdir_code_message(code));
	return orgdir_code_exit(code);
}

int
main(int argc, char **argv)
{
	const char *server = getenv("ORGDIR_SERVER");
	const char *lang = DEFAULT_LANG;
	const char *root = NULL; /* NULL: every root */
	orgdir_client *client = NULL;
	orgdir_reply *reply = NULL;
	Orgdir__V1__GetSubtreeResponse *tree = NULL;
	orgdir_status st;
	orgdir_code code;
	int rv;

	if (server == NULL || server[0] == '\0') {
		server = DEFAULT_SERVER;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (option_value(argc, argv, &i, "--server", &server) ||
		    option_value(argc, argv, &i, "--lang", &lang)) {
			continue;
		} else if (argv[i][0] == '-' || root != NULL) {
			fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		} else {
			root = argv[i];
		}
	}

	code = orgdir_client_open(server, NULL, &client, &st);
	if (code != ORGDIR_OK) {
		rv = fail(code, &st);
		goto done;
	}
	/* max_depth 0: no limit. */
	code = orgdir_unit_subtree(client, root, 0, &reply, &tree, &st);
	if (code != ORGDIR_OK) {
		rv = fail(code, &st);
		goto done;
	}
	for (size_t i = 0; i < tree->n_nodes; i++) {
		print_node(tree->nodes[i], lang);
	}
	rv = 0;

done:
	orgdir_reply_free(reply);
	orgdir_client_close(client);
	return rv;
}
