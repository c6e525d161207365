#!/usr/bin/env bash
# Runs the black-box integration tests once under valgrind memcheck: the
# test program itself (the liborgdir client), every orgdird it starts and
# every orgctl it runs. Fails when a test fails or when valgrind reports any
# error in any of those processes: invalid reads or writes, uses of
# uninitialised values, bad frees, definite leaks.
#
# Uses the normal build (BUILD, default build, as tools/test.sh leaves it;
# configured and built here when missing). The tests and their environment
# are taken from ctest; only ORGDIRD and ORGCTL are replaced by wrappers
# that exec valgrind. VALGRIND_TESTS (a ctest -R regex) picks the tests.
#   tools/valgrind.sh
#   VALGRIND_TESTS='^cli$' tools/valgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
# test_store and test_search: the store's own threads (the gate between
# readers and a remap, the import's key pipe); test_wal: the write-ahead
# log's recovery (3 s). test_pbdecode is left out:
# even at PBDECODE_SCALE=0.02 it takes 6 minutes under valgrind.
TESTS=${VALGRIND_TESTS:-^(test_integration|test_subtree|test_tls|cli.*|check_cli|sp_garbage|test_store|test_search|test_wal)$}

tools/install-deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORGDIR_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

work=$(mktemp -d "${TMPDIR:-/tmp}/orgdir-valgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/logs" "$work/bin"
# Each process writes its own log; with -q a log holds only errors.
# --fair-sched=yes: without it a thread woken by another (the server's
# writer, nng's workers) can wait seconds for valgrind's lock.
# VALGRIND_OPTS adds options, e.g. --track-origins=yes (twice as slow).
vg=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
	--errors-for-leak-kinds=definite --fair-sched=yes --num-callers=30
	"--suppressions=$PWD/tests/valgrind.supp"
	"--log-file=$work/logs/%q{OD_VG_NAME}.%p.log")
# OD_TEST_NO_LEAK_CHECK (set by a test for one server it starts) turns the
# leak check off for that process: test_integration's server whose ipc
# listener nng 1.5.2 stops, which nng never frees once closed
# (src/server/ipcguard.c). Every other error still counts.
for prog in orgdird orgctl; do
	{
		echo '#!/bin/sh'
		echo "OD_VG_NAME=$prog; export OD_VG_NAME"
		echo 'leaks=--leak-check=full'
		echo '[ -n "${OD_TEST_NO_LEAK_CHECK:-}" ] && leaks=--leak-check=no'
		printf 'exec'
		printf ' %q' "${vg[@]}"
		printf ' "$leaks"'
		printf ' %q' "$PWD/$BUILD/bin/$prog"
		echo ' "$@"'
	} >"$work/bin/$prog"
	chmod +x "$work/bin/$prog"
done

# The ctest definitions (command, environment, timeout) of the chosen tests.
ctest --test-dir "$BUILD" --show-only=json-v1 -R "$TESTS" >"$work/tests.json"
export OD_VG_WORK=$work OD_VG_CMD="${vg[*]}"
python3 - "$work/tests.json" <<'PY'
import concurrent.futures, json, os, shlex, signal, subprocess, sys, time

work = os.environ["OD_VG_WORK"]
vg = shlex.split(os.environ["OD_VG_CMD"])
tests = [t for t in json.load(open(sys.argv[1]))["tests"] if t.get("command")]
if not tests:
    sys.exit("valgrind: no test matches")

def run(t):
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    env = dict(os.environ)
    for kv in props.get("ENVIRONMENT", []):
        k, _, v = kv.partition("=")
        env[k] = v
    env["ORGDIRD"] = f"{work}/bin/orgdird"
    env["ORGCTL"] = f"{work}/bin/orgctl"
    cmd = t["command"]
    if not cmd[0].endswith("sh"):  # a C test program: the client runs under valgrind too
        env["OD_VG_NAME"] = t["name"]
        cmd = vg + cmd
    # valgrind is 10-50x slower: ten times the ctest timeout, at most 15 min
    # (the slowest, cli_country, takes about 5 min on 2 cores).
    limit = min(10 * float(props.get("TIMEOUT", 120)), 900)
    t0 = time.monotonic()
    # Its own session, so that a timeout ends the servers it started too.
    with open(f"{work}/{t['name']}.out", "wb") as log:
        p = subprocess.Popen(cmd, env=env, cwd=props.get("WORKING_DIRECTORY"),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = "timeout"
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(5)
            p.wait()
    out = open(f"{work}/{t['name']}.out", errors="replace").read()
    return t["name"], rc, out, time.monotonic() - t0

# The tests are independent (own temporary directories and sockets): run
# as many at once as there are cores.
failed = []
with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    for name, rc, out, dt in pool.map(run, tests):
        print(f"valgrind: {name}: exit {rc} in {dt:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
            print(out[-6000:], flush=True)
errors = []
for f in sorted(os.listdir(f"{work}/logs")):
    text = open(f"{work}/logs/{f}", errors="replace").read()
    if text.strip():
        errors.append(f)
        print(f"valgrind: errors in {f}:\n{text[:8000]}", flush=True)
n = len(os.listdir(f"{work}/logs"))
print(f"valgrind: {len(tests)} test(s), {n} process(es) checked, "
      f"{len(failed)} test(s) failed, {len(errors)} process(es) with errors")
sys.exit(1 if failed or errors else 0)
PY
