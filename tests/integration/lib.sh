# lib.sh - what the black-box CLI tests share (cli_test.sh,
# cli_country_test.sh, cli_admin_test.sh): a temporary directory, orgdird
# started on its own data directory and ipc:// socket and stopped at exit,
# orgctl runs and the checks on their exit code, stdout, stderr and JSON.
#
# Source it from a test script after `set -u`, with OD_TEST_NAME naming the
# temporary directory. It sets: tmp, sock (the main server's URL), pids,
# passed, failed, and after each ctl/ctl_at: rc, $tmp/out, $tmp/err.
# Needs ORGDIRD and ORGCTL in the environment; ORGDIR_SERVER, ORGDIR_TOKEN,
# ORGDIR_TOKEN_FILE, ORGDIR_DATA and ORGDIR_LANG are unset so that the
# caller's shell cannot change results.

: "${ORGDIRD:?set ORGDIRD to the orgdird binary}"
: "${ORGCTL:?set ORGCTL to the orgctl binary}"
unset ORGDIR_SERVER ORGDIR_TOKEN ORGDIR_TOKEN_FILE ORGDIR_DATA ORGDIR_LANG

tmp=$(mktemp -d "${TMPDIR:-/tmp}/orgdir-${OD_TEST_NAME:-cli}.XXXXXX") || exit 1
sock="ipc://$tmp/sock"
pids=()
declare -A tokens=() # URL -> the admin token of the server started there
passed=0
failed=0

stop_servers() {
	local p
	for p in "${pids[@]}"; do
		stop_pid "$p"
	done
	pids=()
}
# TERM, then KILL after 5 s.
stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
# The EXIT trap also runs when `set -e` or `set -u` ends the script; with
# errexit still on, the first kill or wait that fails (a server already
# gone) would end the trap too, leaving the other servers running.
cleanup() {
	set +e
	stop_servers
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Servers get SIGKILL when this shell dies, even when no trap can run (a
# SIGKILL, or a ctest timeout).
with_pdeathsig=()
if setpriv --pdeathsig KILL true 2>/dev/null; then
	with_pdeathsig=(setpriv --pdeathsig KILL)
fi

# start_server URL DATA_DIR [orgdird args...]: starts it and waits until
# `orgctl health` answers SERVING (at most 30 s: with ctest -j2 and the
# benchmark-like tests beside it, a new orgctl process can take most of a
# second to start, connect and be answered). Sets $server_pid, and
# remembers the admin token orgdird writes to DATA_DIR/admin.token on its
# first start (as the C harness's od_test_admin_token does): ctl and ctl_at
# pass it, so writes are authorised; give --token '' to call anonymously.
start_server() {
	local url=$1 data=$2 i
	shift 2
	mkdir -p "$data"
	"${with_pdeathsig[@]}" "$ORGDIRD" --listen "$url" --data "$data" "$@" >>"$tmp/orgdird.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	local until=$((SECONDS + 30))
	while ((SECONDS < until)); do
		if "$ORGCTL" --server "$url" --timeout 2000 health >/dev/null 2>&1; then
			tokens[$url]=$(head -n 1 "$data/admin.token" 2>/dev/null)
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "orgdird did not come up on $url; its log:" >&2
	cat "$tmp/orgdird.log" >&2
	if kill -0 "$server_pid" 2>/dev/null; then
		# Alive but not answering: say where it is, for the next one to look.
		echo "its $(grep '^State' "/proc/$server_pid/status" 2>/dev/null)" >&2
		if command -v gdb >/dev/null; then
			gdb -p "$server_pid" -batch -ex 'thread apply all bt 12' 2>&1 | grep '^#\|^Thread' >&2
		fi
	fi
	return 1
}

# ctl ARGS...: runs orgctl against the test server; $rc, $tmp/out, $tmp/err.
ctl() {
	ctl_at "$sock" "$@"
}
# ctl_at URL ARGS...
ctl_at() {
	local url=$1 token
	shift
	token=${tokens[$url]:-}
	"$ORGCTL" --server "$url" ${token:+--token "$token"} "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# ctl_bare ARGS...: orgctl against the test server with no token added:
# it finds its own (--token, --token-file, the environment, the data dir).
ctl_bare() {
	"$ORGCTL" --server "$sock" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# wait_lines FILE N [SECONDS]: until FILE has at least N lines, at most
# SECONDS (default 20); false when it never did.
wait_lines() {
	local file=$1 n=$2 max=$((${3:-20} * 10)) i
	for ((i = 0; i < max; i++)); do
		if [[ -f "$file" && $(wc -l <"$file") -ge $n ]]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

ok() {
	passed=$((passed + 1))
}
bad() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
	echo "  exit $rc; stdout:" >&2
	sed 's/^/    /' "$tmp/out" >&2
	echo "  stderr:" >&2
	sed 's/^/    /' "$tmp/err" >&2
}
# expect_rc NAME CODE
expect_rc() {
	if [[ $rc -eq $2 ]]; then ok; else bad "$1: exit $rc, wanted $2"; fi
}
# expect_out NAME TEXT: stdout contains TEXT (fixed string)
expect_out() {
	if grep -qF -- "$2" "$tmp/out"; then ok; else bad "$1: stdout lacks '$2'"; fi
}
expect_no_out() {
	if ! grep -qF -- "$2" "$tmp/out"; then ok; else bad "$1: stdout has '$2'"; fi
}
expect_err() {
	if grep -qF -- "$2" "$tmp/err"; then ok; else bad "$1: stderr lacks '$2'"; fi
}
# expect_exact NAME TEXT: stdout is exactly TEXT (plus the final newline)
expect_exact() {
	if [[ "$(cat "$tmp/out")" == "$2" ]]; then
		ok
	else
		bad "$1: stdout differs from the expected:"
		printf '%s\n' "$2" | diff - "$tmp/out" | sed 's/^/    /' >&2
	fi
}
# expect_no_secret NAME SECRET: neither stdout nor stderr shows SECRET
expect_no_secret() {
	if [[ -n "$2" ]] && ! grep -qF -- "$2" "$tmp/out" "$tmp/err"; then
		ok
	else
		bad "$1: a secret appears in the output (or the secret is empty)"
	fi
}
# expect_json NAME PYTHON-EXPR: stdout parses as JSON `d` and EXPR is true
expect_json() {
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
def lt(lst, lang):
    return {x["lang"]: x["text"] for x in lst}.get(lang)
sys.exit(0 if eval(sys.argv[2]) else 1)
' "$tmp/out" "$2" 2>>"$tmp/err"; then
		ok
	else
		bad "$1: JSON check failed: $2"
	fi
}
json_field() { # json_field PYTHON-EXPR: prints it from stdout's JSON
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1], encoding="utf-8")); print(eval(sys.argv[2]))' \
		"$tmp/out" "$1"
}

# finish: prints the totals; the script's exit status is 0 only when
# nothing failed.
finish() {
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
}
