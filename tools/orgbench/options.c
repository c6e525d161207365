/* options.c - the options of `orgbench run`, and its help. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

static const char run_usage[] =
    "usage: orgbench run (--spawn | --server URL) [options]\n"
    "\n"
    "Runs each workload at each concurrency level for a fixed time and reports\n"
    "throughput, latency percentiles, errors and the server's memory.\n"
    "\n"
    "  --spawn               generate an organisation, start orgdird on a temporary\n"
    "                        directory with --seed (and an echo server), stop both after\n"
    "  --server URL          benchmark a running orgdird instead\n"
    "  --orgdird PATH        the server to spawn (default: orgdird beside orgbench)\n"
    "  --transport tcp|ipc   what spawned servers listen on (default tcp: 127.0.0.1)\n"
    "  --echo URL            a running `orgbench echo` for the echo workload (else one is\n"
    "                        spawned on the server's transport)\n"
    "  --server-pid PID      read this local server's RSS (--spawn knows its own)\n"
    "  --token SECRET        token for writes (default: $ORGDIR_TOKEN; with --spawn,\n"
    "                        the spawned server's admin token)\n"
    "  --token-file FILE     read the token from FILE\n"
    "  --auth-reads          send the token with reads too (orgdird --require-auth)\n"
    "  --units N             size of the generated organisation (default 10000)\n"
    "  --seed N              generator and client seed (default 1)\n"
    "  --workloads LIST      comma-separated, or all (default):\n"
    "                        get children subtree path search update mixed ping echo\n"
    "  --concurrency LIST    concurrent calls, comma-separated (default 1,4,16,64)\n"
    "  --duration SECONDS    measuring window of each run (default 1)\n"
    "  --warmup SECONDS      unmeasured time before each window (default 0.2)\n"
    "  --rounds R            run the whole list R times per level, alternating, and\n"
    "                        report medians (default 1; use 6 for get vs echo)\n"
    "  --timeout MS          per call (default 30000)\n"
    "  --threaded            a thread per caller instead of contexts on one socket\n"
    "  --no-decode           check replies by their envelope only (call id, status),\n"
    "                        leaving out the client's protobuf-c decoding of bodies\n"
    "  --json                one JSON object per line instead of the table\n"
    "  --json-out FILE       also write the JSON lines to FILE\n"
    "  --keep                keep the temporary directory (org.json, logs)\n"
    "  --quiet               no progress lines on stderr\n"
    "\n"
    "Exit status: 0 when every call succeeded (ABORTED updates are conflicts, not\n"
    "failures) and every workload completed calls; 1 otherwise; 2 on usage errors.\n";

static int __attribute__((format(printf, 1, 2))) usage_error(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	fputs("orgbench run: ", stderr);
	vfprintf(stderr, f, ap);
	fputs("\nTry 'orgbench run --help'.\n", stderr);
	va_end(ap);
	return 2;
}

static bool
parse_ulong(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

static bool
parse_seconds(const char *s, double min, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > 3600) {
		return false;
	}
	*out = v;
	return true;
}

static int
parse_workloads(const char *s, ob_cli *o)
{
	char buf[256];
	o->n_workloads = 0;
	if (strcmp(s, "all") == 0) {
		for (int i = 0; i < OB_W_COUNT; i++) {
			o->workloads[o->n_workloads++] = (enum ob_workload) i;
		}
		return 0;
	}
	if (strlen(s) >= sizeof(buf)) {
		return usage_error("--workloads: list too long");
	}
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		int w = ob_workload_by_name(t);
		if (w < 0) {
			return usage_error("--workloads: unknown workload '%s'", t);
		}
		for (size_t i = 0; i < o->n_workloads; i++) {
			if (o->workloads[i] == (enum ob_workload) w) {
				return usage_error("--workloads: '%s' given twice", t);
			}
		}
		o->workloads[o->n_workloads++] = (enum ob_workload) w;
	}
	return o->n_workloads > 0 ? 0 : usage_error("--workloads: empty list");
}

static int
parse_levels(const char *s, ob_cli *o)
{
	char buf[256];
	if (strlen(s) >= sizeof(buf)) {
		return usage_error("--concurrency: list too long");
	}
	snprintf(buf, sizeof(buf), "%s", s);
	o->n_levels = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		unsigned long long v;
		if (o->n_levels == OB_LEVELS_MAX) {
			return usage_error("--concurrency: at most %d levels", OB_LEVELS_MAX);
		}
		if (!parse_ulong(t, 1, 1024, &v)) {
			return usage_error("--concurrency: '%s' is not a number from 1 to 1024", t);
		}
		o->levels[o->n_levels++] = (unsigned) v;
	}
	return o->n_levels > 0 ? 0 : usage_error("--concurrency: empty list");
}

int
ob_cli_parse(int argc, char **argv, ob_cli *o)
{
	unsigned long long v;
	memset(o, 0, sizeof(*o));
	o->transport = "tcp";
	o->units = 10000;
	o->seed = 1;
	o->duration = 1;
	o->warmup = 0.2;
	o->rounds = 1;
	o->timeout_ms = 30000;
	o->server_pid = -1;
	parse_workloads("all", o);
	parse_levels("1,4,16,64", o);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(run_usage, stdout);
			return 1;
		}
		bool *flag = strcmp(a, "--spawn") == 0 ? &o->spawn
		    : strcmp(a, "--json") == 0         ? &o->json
		    : strcmp(a, "--threaded") == 0     ? &o->threaded
		    : strcmp(a, "--keep") == 0         ? &o->keep
		    : strcmp(a, "--quiet") == 0        ? &o->quiet
		    : strcmp(a, "--auth-reads") == 0   ? &o->auth_reads
		    : strcmp(a, "--no-decode") == 0    ? &o->no_decode
		                                       : NULL;
		if (flag != NULL) {
			*flag = true;
			continue;
		}
		if (i + 1 >= argc) {
			return usage_error("%s needs a value", a);
		}
		const char *val = argv[++i];
		int rc = 0;
		if (strcmp(a, "--server") == 0) {
			o->server = val;
		} else if (strcmp(a, "--token") == 0) {
			o->token = val;
		} else if (strcmp(a, "--token-file") == 0) {
			o->token_file = val;
		} else if (strcmp(a, "--json-out") == 0) {
			o->json_out = val;
		} else if (strcmp(a, "--echo") == 0) {
			o->echo_url = val;
		} else if (strcmp(a, "--orgdird") == 0) {
			o->orgdird = val;
		} else if (strcmp(a, "--transport") == 0) {
			if (strcmp(val, "tcp") != 0 && strcmp(val, "ipc") != 0) {
				return usage_error("--transport: '%s' is not tcp or ipc", val);
			}
			o->transport = val;
		} else if (strcmp(a, "--server-pid") == 0) {
			if (!parse_ulong(val, 1, 1u << 30, &v)) {
				return usage_error("--server-pid: '%s' is not a process id", val);
			}
			o->server_pid = (long) v;
		} else if (strcmp(a, "--units") == 0) {
			if (!parse_ulong(val, 16, 1000000, &v)) {
				return usage_error(
				    "--units: '%s' is not a number from 16 to 1000000", val);
			}
			o->units = (size_t) v;
		} else if (strcmp(a, "--seed") == 0) {
			if (!parse_ulong(val, 0, UINT64_MAX, &v)) {
				return usage_error("--seed: '%s' is not a number", val);
			}
			o->seed = v;
		} else if (strcmp(a, "--workloads") == 0) {
			rc = parse_workloads(val, o);
		} else if (strcmp(a, "--concurrency") == 0) {
			rc = parse_levels(val, o);
		} else if (strcmp(a, "--duration") == 0) {
			if (!parse_seconds(val, 0.01, &o->duration)) {
				return usage_error(
				    "--duration: '%s' is not a time from 0.01 to 3600 s", val);
			}
		} else if (strcmp(a, "--warmup") == 0) {
			if (!parse_seconds(val, 0, &o->warmup)) {
				return usage_error(
				    "--warmup: '%s' is not a time from 0 to 3600 s", val);
			}
		} else if (strcmp(a, "--rounds") == 0) {
			if (!parse_ulong(val, 1, OB_ROUNDS_MAX, &v)) {
				return usage_error("--rounds: '%s' is not a number from 1 to %d",
				    val, OB_ROUNDS_MAX);
			}
			o->rounds = (unsigned) v;
		} else if (strcmp(a, "--timeout") == 0) {
			if (!parse_ulong(val, 1, 3600000, &v)) {
				return usage_error("--timeout: '%s' is not a number of ms", val);
			}
			o->timeout_ms = (int) v;
		} else {
			return usage_error("unknown option '%s'", a);
		}
		if (rc != 0) {
			return rc;
		}
	}
	if (o->token == NULL) {
		o->token = getenv("ORGDIR_TOKEN");
	}
	if (o->spawn == (o->server != NULL)) {
		return usage_error("give exactly one of --spawn and --server URL");
	}
	return 0;
}
