/* main.c - orgdird: options, signals, start and stop. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "iso3166.h"
#include "check.h"
#include "server.h"

#define LISTEN_MAX 16

static const char usage[] =
    "usage: orgdird [--listen URL]... [--data DIR] [--seed FILE.json]\n"
    "               [--max-message-bytes N] [--contexts N] [--map-size MIB]\n"
    "               [--max-import-units N]\n"
    "               [--iso-codes FILE] [--require-auth] [--retain-revisions N]\n"
    "               [--max-reply-bytes N] [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "Serves the orgdir directory (service orgdir.v1.OrgDirectory) over nng.\n"
    "\n"
    "  --listen URL            tcp://HOST:PORT, ipc:///path, ... (repeatable;\n"
    "                          default tcp://127.0.0.1:7470)\n"
    "  --data DIR              LMDB data directory, created on first start\n"
    "                          (default ./orgdir-data)\n"
    "  --seed FILE             load an orgdir.v1.Directory JSON document when the\n"
    "                          store is empty (ignored otherwise)\n"
    "  --max-message-bytes N   largest request or reply (default 4194304)\n"
    "  --contexts N            concurrent calls in progress (default 128)\n"
    "  --map-size MIB          initial LMDB map size (default 256; grows when full)\n"
    "  --max-import-units N    units in one ImportDirectory (default 1000000)\n"
    "  --iso-codes FILE        ISO 3166-1 JSON of iso-codes (default\n"
    "                          /usr/share/iso-codes/json/iso_3166-1.json)\n"
    "  --tls-cert FILE         PEM certificate (chain) for tls+tcp:// listeners\n"
    "  --tls-key FILE          its PEM private key\n"
    "  --require-auth          reads need a token too (writes always do)\n"
    "  --retain-revisions N    keep the change log of the last N revisions only\n"
    "                          (default 0: keep it all)\n"
    "  --max-reply-bytes N     largest reply (default 268435456; clients may ask\n"
    "                          for less)\n"
    "  --no-wal                no write-ahead log (DIR/orgdird.wal): LMDB syncs\n"
    "                          each commit itself (slower; docs/OPERATIONS.md)\n"
    "  --check                 check the data directory's consistency and exit\n"
    "                          (0 = clean, 1 = problems found, 2 = cannot check;\n"
    "                          a store that cannot be opened exits with its\n"
    "                          status's code: 19 = FAILED_PRECONDITION when DIR\n"
    "                          holds no store, for --check creates nothing)\n"
    "  --version, --help\n"
    "\n"
    "On first start orgdird creates the token 'admin' and writes its secret to\n"
    "DIR/admin.token (mode 0600).\n"
    "\n"
    "SIGINT, SIGTERM or SIGHUP (its terminal closed) stop the server cleanly.\n";

static bool
parse_size(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
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

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "orgdird: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'orgdird --help'.\n");
	va_end(ap);
	return 2;
}

/* Below this many open files, a warning at start (connections are files). */
#define OPEN_FILES_LOW 4096

/*
 * Each connection is a file descriptor, and past the limit nng can only
 * turn new clients away (they see UNAVAILABLE; nothing says why). So
 * orgdird takes what the hard limit allows: a systemd service starts at
 * 1,024 of 524,288. Returns the limit it runs with (0: unknown).
 */
static unsigned long long
raise_open_files(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		return 0;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit all = {rl.rlim_max, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &all) == 0) {
			rl.rlim_cur = rl.rlim_max;
		}
	}
	return (unsigned long long) rl.rlim_cur;
}

int
main(int argc, char **argv)
{
	const char *listen[LISTEN_MAX];
	size_t n_listen = 0;
	const char *data = "./orgdir-data";
	const char *seed = NULL;
	const char *iso_path = NULL;
	bool require_auth = false;
	bool check = false;
	const char *tls_cert = NULL;
	const char *tls_key = NULL;
	unsigned long long retain = 0;
	unsigned long long max_reply = OD_REPLY_MAX_DEFAULT;
	unsigned long long max_msg = OD_MESSAGE_MAX_DEFAULT;
	unsigned long long contexts = 128;
	unsigned long long map_mib = 256;
	unsigned long long max_import = OD_IMPORT_UNITS_MAX_DEFAULT;
	bool no_sync = false;
	bool no_wal = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("orgdird %s (schema %d)\n", ORGDIR_VERSION, OD_SCHEMA_VERSION);
			return 0;
		}
		if (strcmp(a, "--check") == 0) {
			check = true;
			continue;
		}
		if (strcmp(a, "--require-auth") == 0) {
			require_auth = true;
			continue;
		}
		if (strcmp(a, "--no-sync") == 0) { /* tests only: loses durability */
			no_sync = true;
			continue;
		}
		if (strcmp(a, "--no-wal") == 0) {
			no_wal = true;
			continue;
		}
		if (v == NULL) {
			return usage_error("%s needs a value", a);
		}
		i++;
		if (strcmp(a, "--listen") == 0) {
			if (n_listen == LISTEN_MAX) {
				return usage_error("at most %d --listen URLs", LISTEN_MAX);
			}
			listen[n_listen++] = v;
		} else if (strcmp(a, "--data") == 0) {
			data = v;
		} else if (strcmp(a, "--retain-revisions") == 0) {
			if (!parse_size(v, 0, UINT64_MAX / 2, &retain)) {
				return usage_error("--retain-revisions: '%s' is not a number", v);
			}
		} else if (strcmp(a, "--max-reply-bytes") == 0) {
			if (!parse_size(v, 4096, 1u << 31, &max_reply)) {
				return usage_error(
				    "--max-reply-bytes: '%s' is not a size from 4096 to 2147483648",
				    v);
			}
		} else if (strcmp(a, "--tls-cert") == 0) {
			tls_cert = v;
		} else if (strcmp(a, "--tls-key") == 0) {
			tls_key = v;
		} else if (strcmp(a, "--iso-codes") == 0) {
			iso_path = v;
		} else if (strcmp(a, "--seed") == 0) {
			seed = v;
		} else if (strcmp(a, "--max-message-bytes") == 0) {
			if (!parse_size(v, 4096, 1u << 30, &max_msg)) {
				return usage_error("--max-message-bytes: '%s' is not a size from "
				                   "4096 to 1073741824",
				    v);
			}
		} else if (strcmp(a, "--contexts") == 0) {
			if (!parse_size(v, 1, 4096, &contexts)) {
				return usage_error(
				    "--contexts: '%s' is not a number from 1 to 4096", v);
			}
		} else if (strcmp(a, "--max-import-units") == 0) {
			if (!parse_size(v, 1, 100000000, &max_import)) {
				return usage_error(
				    "--max-import-units: '%s' is not a number from 1 to 100000000",
				    v);
			}
		} else if (strcmp(a, "--map-size") == 0) {
			if (!parse_size(v, 1, 1u << 20, &map_mib)) {
				return usage_error(
				    "--map-size: '%s' is not a size in MiB from 1 to 1048576", v);
			}
		} else {
			return usage_error("unknown option '%s'", a);
		}
	}
	if (n_listen == 0) {
		listen[n_listen++] = "tcp://127.0.0.1:7470";
	}

	/* Large buffers (a subtree, a search's hits) come from mmap and go back
	 * to the system when freed; glibc's default threshold rises after the
	 * first such free and then keeps them in the heap for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* A terminal that closes under a server run in it: a clean stop too,
	 * rather than the default action's end without the last checkpoint. */
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past a file size limit (ulimit -f, LimitFSIZE=) a write fails with
	 * EFBIG, which the write's caller is told, rather than killing us. */
	signal(SIGXFSZ, SIG_IGN);
	unsigned long long files = raise_open_files();

	orgdir_status st = {ORGDIR_OK, "", 0};
	/* A URL nng cannot listen on is known before the data directory (and
	 * its admin token) is created; a port in use only when listening. */
	if (!check && od_server_check_urls(listen, n_listen, &st) != ORGDIR_OK) {
		od_log("error", "cannot start: %s", st.message);
		return 1;
	}
	od_iso3166 *iso;
	if (od_iso3166_load(iso_path, NULL, &iso, &st) != ORGDIR_OK) {
		od_log("error", "cannot start: %s", st.message);
		return 1;
	}
	struct od_store *store;
	od_store_opts so = {.path = data,
	    .map_size = (size_t) map_mib << 20,
	    .no_sync = no_sync,
	    .no_wal = no_wal,
	    /* A reader per context, parked long polls' too (server.h). */
	    .max_readers = (unsigned) contexts * (1 + OD_PARKED_PER_CONTEXT) + 64,
	    .iso = iso,
	    .retain_revisions = retain,
	    .must_exist = check,
	    .exclusive = !check};
	if (od_store_open(&so, &store, &st) != ORGDIR_OK) {
		od_iso3166_free(iso);
		if (check) {
			/* FAILED_PRECONDITION (19) when there is no store to check. */
			fprintf(stderr, "orgdird: cannot check %s: %s\n", data, st.message);
			return orgdir_code_exit(st.code);
		}
		od_log("error", "cannot start: %s", st.message);
		return 1;
	}
	if (check) {
		od_check_report rep;
		orgdir_code c = od_store_check(store, &rep, &st);
		if (c == ORGDIR_OK || c == ORGDIR_DATA_LOSS) {
			od_check_report_print(&rep, stdout);
		} else {
			fprintf(stderr, "orgdird: cannot check %s: %s\n", data, st.message);
		}
		od_store_close(store);
		od_iso3166_free(iso);
		return c == ORGDIR_OK ? 0 : c == ORGDIR_DATA_LOSS ? 1 : 2;
	}
	if (od_auth_bootstrap(store, data, &st) != ORGDIR_OK ||
	    (seed != NULL && od_seed_load(store, seed, &st) != ORGDIR_OK)) {
		od_log("error", "cannot start: %s", st.message);
		od_store_close(store);
		od_iso3166_free(iso);
		return 1;
	}
	if (seed != NULL && od_store_refresh(store, &st) != ORGDIR_OK) {
		/* The seed's dirty pages, tens of MiB, would stay allocated. */
		od_log("error", "cannot start: %s", st.message);
		od_store_close(store);
		od_iso3166_free(iso);
		return 1;
	}
	struct od_server srv;
	od_server_opts o = {.listen = listen,
	    .n_listen = n_listen,
	    .max_message_bytes = max_msg,
	    .max_reply_bytes = max_reply,
	    .require_auth = require_auth,
	    .max_import_units = (unsigned) max_import,
	    .tls_cert_file = tls_cert,
	    .tls_key_file = tls_key,
	    .contexts = (unsigned) contexts};
	if (od_server_start(&srv, store, &o, &st) != ORGDIR_OK) {
		od_log("error", "cannot start: %s", st.message);
		od_store_close(store);
		od_iso3166_free(iso);
		return 1;
	}
	char where[1024] = "";
	for (size_t i = 0; i < n_listen; i++) {
		size_t len = strlen(where);
		snprintf(where + len, sizeof(where) - len, "%s%s", i ? " " : "", listen[i]);
	}
	od_log("info",
	    "started orgdird %s: listening on %s, data %s, %u contexts, max message %llu "
	    "bytes, %llu open files",
	    ORGDIR_VERSION, where, data, (unsigned) contexts, max_msg, files);
	if (files > 0 && files < OPEN_FILES_LOW) {
		od_log("warn",
		    "at most %llu open files, each connection one: clients past that are "
		    "turned away; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
		    files);
	}

	int sig = 0;
	sigwait(&sigs, &sig);
	od_log("info", "stopping on %s",
	    sig == SIGINT       ? "SIGINT"
	        : sig == SIGHUP ? "SIGHUP"
	                        : "SIGTERM");
	od_server_stop(&srv);
	od_store_close(store);
	od_iso3166_free(iso);
	/* No nng_fini: in nng 1.5 it can free what nng's reaper thread still
	 * uses (docs/OPERATIONS.md); the exit frees it all. */
	od_log("info", "stopped");
	return 0;
}
