/* main.c - orgbench: the load generator and benchmark of orgdird.
 * Dispatches to the sub-commands gen, run and echo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

static const char usage[] =
    "usage: orgbench <command> [options]\n"
    "\n"
    "  gen    write a generated organisation as orgdir.v1.Directory JSON\n"
    "  run    benchmark orgdird: workloads x concurrency levels, table or JSON\n"
    "  echo   a bare nng REP echo server: the transport's own limit\n"
    "\n"
    "`orgbench <command> --help` describes each. Typical:\n"
    "  orgbench run --spawn --units 10000 --workloads get,echo --rounds 6\n";

static const char gen_usage[] =
    "usage: orgbench gen [--units N] [--seed N] --out FILE.json\n"
    "\n"
    "Writes an organisation of N units (default 10000, 16 to 1000000) in the shape\n"
    "of examples/iom/org.json: a root, executive and deputy offices, offices,\n"
    "departments, divisions, units and teams, regional offices with country offices\n"
    "and sub-offices; names in en/fr/es, acronyms, head titles, locations. The same\n"
    "seed gives the same file. Parents come before their children: the file loads\n"
    "with `orgdird --seed FILE.json`.\n";

static int
gen_main(int argc, char **argv)
{
	ob_gen_opts o = {10000, 1};
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(gen_usage, stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr,
			    "orgbench gen: %s needs a value\nTry 'orgbench gen --help'.\n", a);
			return 2;
		}
		const char *v = argv[++i];
		char *end;
		errno = 0;
		if (strcmp(a, "--out") == 0) {
			out = v;
			continue;
		}
		unsigned long long n = strtoull(v, &end, 10);
		bool bad = errno != 0 || end == v || *end != '\0' || v[0] == '-';
		if (strcmp(a, "--units") == 0) {
			if (bad || n < 16 || n > 1000000) {
				fprintf(stderr,
				    "orgbench gen: --units: '%s' is not a number from 16 to "
				    "1000000\n",
				    v);
				return 2;
			}
			o.units = (size_t) n;
		} else if (strcmp(a, "--seed") == 0) {
			if (bad) {
				fprintf(stderr, "orgbench gen: --seed: '%s' is not a number\n", v);
				return 2;
			}
			o.seed = n;
		} else {
			fprintf(stderr,
			    "orgbench gen: unknown option '%s'\nTry 'orgbench gen --help'.\n", a);
			return 2;
		}
	}
	if (out == NULL) {
		fprintf(
		    stderr, "orgbench gen: --out FILE is required\nTry 'orgbench gen --help'.\n");
		return 2;
	}
	char err[OB_ERR_MAX];
	if (ob_gen_write_json(&o, out, err, sizeof(err)) != 0) {
		fprintf(stderr, "orgbench gen: %s\n", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("orgbench %s\n", ORGDIR_VERSION);
		return 0;
	}
	if (strcmp(cmd, "gen") == 0) {
		return gen_main(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "run") == 0) {
		return ob_run_main(argc - 1, argv + 1);
	}
	if (strcmp(cmd, "echo") == 0) {
		return ob_echo_main(argc - 1, argv + 1);
	}
	fprintf(stderr, "orgbench: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
