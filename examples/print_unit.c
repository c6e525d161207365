/*
 * print_unit - prints one unit of an orgdir directory.
 *
 *   print_unit [--server URL] [--lang TAG] ID
 *
 * An example of liborgdir's public API: open a client, make one call, read
 * the reply, free it. The server is --server, else $ORGDIR_SERVER, else
 * tcp://127.0.0.1:7470. Texts are shown in --lang (default "en"), falling
 * back as orgdir_text_pick does. Exits 0 on success, 2 on a usage error,
 * and with orgdir_code_exit() of the status when the call fails.
 *
 * Build: see CMakeLists.txt (in the source tree) or Makefile.standalone
 * (against an installed liborgdir).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orgdir/orgdir.h>

#define PROG "print_unit"
#define DEFAULT_SERVER "tcp://127.0.0.1:7470"
#define DEFAULT_LANG "en"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [--server URL] [--lang TAG] ID\n"
	    "\n"
	    "Prints the unit ID of an orgdir directory.\n"
	    "\n"
	    "  --server URL  orgdird to ask (default: $ORGDIR_SERVER, else " DEFAULT_SERVER ")\n"
	    "  --lang TAG    language of names and titles, e.g. fr (default: " DEFAULT_LANG ")\n"
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

/* "-" for an empty or missing string, so every line has a value. */
static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static void
print_unit(const Orgdir__V1__Unit *u, const char *lang)
{
	const ProtobufCEnumValue *kind = protobuf_c_enum_descriptor_get_value(
	    &orgdir__v1__unit__kind__descriptor, (int) u->kind);
	const char *name = orgdir_text_pick(u->name, u->n_name, lang);
	const char *title = NULL;
	const char *holder = NULL;

	if (u->head != NULL) {
		title = orgdir_text_pick(u->head->title, u->head->n_title, lang);
		holder = u->head->name;
	}

	printf("id:       %s\n", u->id);
	if (kind != NULL) {
		printf("kind:     %s\n", kind->name);
	} else {
		/* A newer server may know kinds this program was not built with. */
		printf("kind:     %d\n", (int) u->kind);
	}
	printf("name:     %s\n", or_dash(name));
	printf("acronym:  %s\n", or_dash(u->acronym));
	printf("head:     %s", or_dash(title));
	if (holder != NULL && holder[0] != '\0') {
		printf(" (%s)", holder);
	}
	printf("\n");
	printf("parent:   %s\n", or_dash(u->parent_id));
	if (u->location != NULL &&
	    (u->location->city[0] != '\0' || u->location->country_code[0] != '\0')) {
		printf("location: %s%s%s\n", u->location->city,
		    u->location->city[0] != '\0' && u->location->country_code[0] != '\0' ? ", "
		                                                                         : "",
		    u->location->country_code);
	} else {
		printf("location: -\n");
	}
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
	const char *id = NULL;
	orgdir_client *client = NULL;
	orgdir_reply *reply = NULL;
	Orgdir__V1__Unit *unit = NULL;
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
		} else if (argv[i][0] == '-' || id != NULL) {
			fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		} else {
			id = argv[i];
		}
	}
	if (id == NULL) {
		usage(stderr);
		return 2;
	}

	code = orgdir_client_open(server, NULL, &client, &st);
	if (code != ORGDIR_OK) {
		rv = fail(code, &st);
		goto done;
	}
	code = orgdir_unit_get(client, id, &reply, &unit, &st);
	if (code != ORGDIR_OK) {
		rv = fail(code, &st);
		goto done;
	}
	print_unit(unit, lang);
	rv = 0;

done:
	orgdir_reply_free(reply);
	orgdir_client_close(client);
	return rv;
}
