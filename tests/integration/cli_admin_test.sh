#!/usr/bin/env bash
# cli_admin_test.sh - the admin side of orgctl end to end: where the token
# comes from, `token add/ls/rm` and the roles, `log` and `watch`, against a
# real orgdird on its own data directory and ipc:// socket.
#
#   ORGDIRD=path/to/orgdird ORGCTL=path/to/orgctl bash cli_admin_test.sh
#
# When valgrind is installed and ORGCTL is a plain binary (not a sanitizer
# build, not tools/valgrind.sh's wrapper), a few commands and a watch also
# run under valgrind: no error, no leak.
set -u

OD_TEST_NAME=cli-admin
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The working directory is the test's own, so that ./orgdir-data (orgctl's
# default data directory) is only ever the one made here.
cd "$tmp" || exit 1

bg_pids=()
stop_bg() { # replaces lib.sh's cleanup as the EXIT trap, so does what it does
	local p
	set +e
	for p in "${bg_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	stop_servers
	rm -rf "$tmp"
}
trap stop_bg EXIT

# data_rows: table rows without the header.
data_rows() {
	tail -n +2 "$tmp/out"
}
# field N: the Nth "  "-separated field of each line of stdout (log lines).
methods() {
	awk -F '  ' '{print $4}' "$tmp/out" | tr '\n' ' '
}
add_unit() { # add_unit ID [args...] with the admin token
	local id=$1
	shift
	ctl unit add "$id" --kind department --name "en=Unit $id" "$@"
}
# revision: the server's revision now.
revision() {
	"$ORGCTL" --server "$sock" --json info |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["revision"]))'
}

# start_watch NAME COMMAND...: runs an `orgctl ... watch` COMMAND in the
# background, its output in $tmp/NAME.out and .err; returns once it says (on
# stderr) that it is watching, which it does after catching SIGINT and
# SIGTERM. Sets $wpid.
start_watch() {
	local name=$1
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	wpid=$!
	bg_pids+=("$wpid")
	if ! wait_lines "$tmp/$name.err" 1 60; then
		echo "note: $name: watch did not start" >&2
	fi
}
# stop_watch NAME SIGNAL: sends it, waits for the exit (KILL after 60 s);
# $rc is its status, $tmp/out and $tmp/err its output.
stop_watch() {
	local name=$1 sig=$2 killer
	kill "-$sig" "$wpid"
	# The timer takes its sleep with it when stopped: a stray sleep would
	# hold the test's output open (ctest waits for it).
	(
		trap 'kill "$t" 2>/dev/null; exit 0' TERM
		sleep 60 &
		t=$!
		wait "$t"
		kill -KILL "$wpid" 2>/dev/null
	) >/dev/null 2>&1 &
	killer=$!
	wait "$wpid"
	rc=$?
	kill "$killer" 2>/dev/null
	wait "$killer" 2>/dev/null
	cp "$tmp/$name.out" "$tmp/out"
	cp "$tmp/$name.err" "$tmp/err"
}

# --- without a server: help and usage errors ----------------------------------

ctl --help
expect_rc "orgctl --help" 0
expect_out "--help lists token add" "token add"
expect_out "--help lists token ls" "token ls"
expect_out "--help lists token rm" "token rm"
expect_out "--help lists log" "  log "
expect_out "--help lists watch" "  watch "
expect_out "--help: --token-file" "--token-file FILE"
expect_out "--help: --data" "--data DIR"
expect_out "--help: ORGDIR_TOKEN_FILE" "ORGDIR_TOKEN_FILE"
expect_out "--help: ORGDIR_DATA" "ORGDIR_DATA"
expect_out "--help: the token order" "Token (the first that applies)"
ctl token --help
expect_rc "token --help" 0
expect_out "token --help: add synopsis" "orgctl token add NAME --role reader|editor|admin"
ctl help token add
expect_rc "help token add" 0
expect_out "token add --help: --role" "--role ROLE"
expect_out "token add --help: --ttl" "--ttl DURATION"
expect_out "token add --help: secret once" "once"
ctl log --help
expect_rc "log --help" 0
expect_out "log --help: --country" "--country CC"
expect_out "log --help: --since" "--since REV"
expect_out "log --help: --limit wording" "stop after N changes"
ctl watch -h
expect_rc "watch -h" 0
expect_out "watch --help: --wait" "--wait MS"
expect_out "watch --help: JSON lines" "JSON"

ctl token add x
expect_rc "token add without --role" 2
expect_err "token add without --role: message" "missing --role"
ctl token add x --role boss
expect_rc "token add --role boss" 2
for ttl in 0 5y -3 1.5h h 12hh; do
	ctl token add x --role reader --ttl "$ttl"
	expect_rc "token add --ttl $ttl" 2
done
ctl token rm
expect_rc "token rm without a name" 2
ctl log a b
expect_rc "log with two ids" 2
ctl log a --country FR
expect_rc "log ID --country" 2
ctl log --since -1
expect_rc "log --since -1" 2
ctl log --role admin
expect_rc "log --role" 2
for w in 60001 0 99 x; do
	ctl watch --wait "$w"
	expect_rc "watch --wait $w" 2
done
ctl watch extra
expect_rc "watch with an argument" 2
ctl_bare --token-file "$tmp/no-such-file" unit get x
expect_rc "--token-file missing: usage error" 2
expect_err "--token-file missing: names the file" "$tmp/no-such-file"
expect_err "--token-file missing: says why" "No such file or directory"
ORGDIR_TOKEN_FILE="$tmp/no-such-file" ctl_bare unit get x
expect_rc "ORGDIR_TOKEN_FILE missing: usage error" 2
expect_err "ORGDIR_TOKEN_FILE missing: names the variable" "ORGDIR_TOKEN_FILE"
ctl_bare --token-file "$tmp/no-such-file" unit get --help
expect_rc "help works whatever the token file" 0

# --- the server -------------------------------------------------------------------

start_server "$sock" "$tmp/data" || exit 1
admin=${tokens[$sock]}
if [[ ! "$admin" =~ ^odt_[0-9a-f]{64}$ ]]; then
	echo "FAIL: no admin token in $tmp/data/admin.token" >&2
	exit 1
fi

# --- where the token comes from -----------------------------------------------------

ORGDIR_DATA="$tmp/data" ctl_bare unit add org --kind organization --name en=Org
expect_rc "ORGDIR_DATA: DIR/admin.token authorises a write" 0
expect_no_secret "ORGDIR_DATA: token not shown" "$admin"
ctl_bare --data "$tmp/data" unit set org --acronym ORG
expect_rc "--data DIR: DIR/admin.token authorises a write" 0
ln -s data orgdir-data
ctl_bare unit set org --acronym ORG2
expect_rc "default ./orgdir-data/admin.token authorises a write" 0
rm orgdir-data
ctl_bare unit set org --acronym ORG3
expect_rc "no data directory: no token" 26
expect_err "no token: UNAUTHENTICATED" "UNAUTHENTICATED"
expect_err "no token: the hint" "no token was sent"
ORGDIR_DATA="$tmp/elsewhere" ctl_bare unit set org --acronym ORG3
expect_rc "ORGDIR_DATA without admin.token: no token" 26
expect_err "ORGDIR_DATA without admin.token: names the file" "$tmp/elsewhere/admin.token"
ORGDIR_TOKEN="$admin" ctl_bare unit set org --acronym ORG3
expect_rc "ORGDIR_TOKEN authorises a write" 0
expect_no_secret "ORGDIR_TOKEN: token not shown" "$admin"

printf '%s\n' "$admin" >"$tmp/admin.tok"
chmod 600 "$tmp/admin.tok"
ctl_bare --token-file "$tmp/admin.tok" unit set org --acronym ORG4
expect_rc "--token-file authorises a write" 0
if [[ ! -s "$tmp/err" ]]; then ok; else bad "--token-file 0600: no warning expected"; fi
ORGDIR_TOKEN_FILE="$tmp/admin.tok" ctl_bare unit set org --acronym ORG5
expect_rc "ORGDIR_TOKEN_FILE authorises a write" 0
chmod 644 "$tmp/admin.tok"
ctl_bare --token-file "$tmp/admin.tok" unit set org --acronym ORG6
expect_rc "--token-file 0644 still works" 0
expect_err "--token-file 0644: warning" "can be read by others"
expect_no_secret "--token-file: token not shown" "$admin"
chmod 600 "$tmp/admin.tok"
printf '%s\r\nsecond line\n' "$admin" >"$tmp/crlf.tok"
chmod 600 "$tmp/crlf.tok"
ctl_bare --token-file "$tmp/crlf.tok" unit set org --acronym ORG7
expect_rc "token file with CRLF and more lines" 0
printf '\n%s\n' "$admin" >"$tmp/empty.tok"
ctl_bare --token-file "$tmp/empty.tok" unit get org
expect_rc "token file with an empty first line: usage error" 2
expect_err "empty first line: says so" "first line is empty"
head -c 5000 /dev/zero | tr '\0' a >"$tmp/long.tok"
ctl_bare --token-file "$tmp/long.tok" unit get org
expect_rc "token file over 4 KiB: usage error" 2
expect_no_secret "over 4 KiB: the content is not echoed" "aaaaaaaaaaaaaaaa"
ctl_bare --token-file "$tmp" unit get org
expect_rc "--token-file DIR: usage error" 2
expect_err "--token-file DIR: says why" "Is a directory"

# Precedence: the command line, then the environment, then the data dir.
ORGDIR_DATA="$tmp/data" ctl_bare --token '' unit set org --acronym ORG8
expect_rc "--token '' beats the data dir: write unauthenticated" 26
expect_err "--token '': hint" "no token was sent (--token '')"
ORGDIR_TOKEN="$admin" ctl_bare --token '' unit set org --acronym ORG8
expect_rc "--token '' beats ORGDIR_TOKEN" 26
ORGDIR_TOKEN="odt_bogus" ctl_bare --token-file "$tmp/admin.tok" unit set org --acronym ORG8
expect_rc "--token-file beats ORGDIR_TOKEN" 0
ORGDIR_TOKEN="$admin" ORGDIR_TOKEN_FILE="$tmp/empty.tok" ctl_bare unit set org --acronym ORG9
expect_rc "ORGDIR_TOKEN beats ORGDIR_TOKEN_FILE" 0
ORGDIR_DATA="$tmp/data" ctl_bare --token "odt_bogus" unit set org --acronym ORGA
expect_rc "an unknown token: UNAUTHENTICATED" 26
expect_err "an unknown token: the hint names its source" "the token sent came from --token"
ctl unit set org --acronym ORG --token ''
expect_rc "--token '' write" 26

# --- token add / ls / rm -----------------------------------------------------------

ctl token add reader1 --role reader
expect_rc "token add reader1" 0
reader=$(cat "$tmp/out")
if [[ "$reader" =~ ^odt_[0-9a-f]{64}$ ]]; then ok; else bad "token add: stdout is the secret alone"; fi
expect_err "token add: what was made" "token 'reader1' (role reader) created; secret:"
expect_err "token add: shown once" "it cannot be shown again"
ctl --token "$reader" unit add r-try --kind department --name en=Try
expect_rc "reader writes: PERMISSION_DENIED" 17
expect_err "reader writes: the server's message" "PERMISSION_DENIED"
expect_no_secret "reader writes: token not shown" "$reader"
ctl --token "$reader" unit get org
expect_rc "reader reads" 0
ctl --token "$reader" token ls
expect_rc "reader lists tokens: PERMISSION_DENIED" 17

ctl --json token add editor1 --role editor
expect_rc "token add editor1 --json" 0
expect_json "token add --json: CreateTokenResponse" \
	'd["token"]["name"] == "editor1" and d["token"]["role"] == "EDITOR" and d["secret"].startswith("odt_")'
editor=$(json_field 'd["secret"]')
ctl --token "$editor" unit add dept --kind department --name en=Dept --parent org
expect_rc "editor adds a unit" 0
ctl log dept
expect_rc "log dept" 0
expect_out "log: the editor token's name is the actor" "  editor1  CreateUnit  unit dept: created"
ctl --token "$editor" token add x --role admin
expect_rc "editor makes a token: PERMISSION_DENIED" 17
ctl token add editor1 --role editor
expect_rc "token add: a taken name" 16

ctl token ls
expect_rc "token ls" 0
expect_out "token ls: header" "NAME"
if [[ $(data_rows | wc -l) -eq 3 ]]; then ok; else bad "token ls: 3 tokens wanted"; fi
for n in admin reader1 editor1; do
	if data_rows | grep -q "^$n "; then ok; else bad "token ls: no row for $n"; fi
done
expect_out "token ls: never expires" "never"
expect_no_secret "token ls: no admin secret" "$admin"
expect_no_secret "token ls: no reader secret" "$reader"
expect_no_secret "token ls: no editor secret" "$editor"
expect_no_out "token ls: no secret at all" "odt_"
ctl --json token ls
expect_rc "token ls --json" 0
expect_json "token ls --json: three, no secret" \
	'len(d["tokens"]) == 3 and all("secret" not in t for t in d["tokens"])'
expect_no_out "token ls --json: no secret at all" "odt_"

ctl token rm reader1
expect_rc "token rm reader1" 0
expect_out "token rm: says so" "deleted token 'reader1'"
ctl --token "$reader" unit add r-try --kind department --name en=Try
expect_rc "a removed token's write: UNAUTHENTICATED" 26
ctl token rm reader1
expect_rc "token rm again: NOT_FOUND" 15

ctl token add short --role editor --ttl 1
expect_rc "token add --ttl 1" 0
expect_err "token add --ttl: the expiry is shown" "expires "
short=$(cat "$tmp/out")
ctl token add later --role reader --ttl 90m
expect_rc "token add --ttl 90m" 0
sleep 2.2
ctl --token "$short" unit add s-try --kind department --name en=Try
expect_rc "an expired token's write: UNAUTHENTICATED" 26
expect_err "an expired token: the message says so" "expired"
ctl token ls
expect_out "token ls: an expired token is marked" "(expired)"
if data_rows | grep '^later ' | grep -qv never; then ok; else bad "token ls: --ttl 90m has an expiry"; fi

# --- log ----------------------------------------------------------------------------------

before=$(revision)
add_unit hist
ctl unit set hist --acronym H --name fr=Histoire
ctl unit mv hist org
ctl unit rm hist
ctl log hist
expect_rc "log hist" 0
if [[ $(wc -l <"$tmp/out") -eq 4 ]]; then ok; else bad "log hist: 4 lines wanted"; fi
if [[ "$(methods)" == "CreateUnit UpdateUnit MoveUnit DeleteUnit " ]]; then
	ok
else
	bad "log hist: methods in order, got '$(methods)'"
fi
if grep -qE '^r[0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  admin  CreateUnit  unit hist: created$' "$tmp/out"; then
	ok
else
	bad "log hist: the line format"
fi
expect_out "log: the update's diff (acronym)" 'UpdateUnit  unit hist: name[fr] "" → "Histoire"; acronym "" → "H"'
expect_out "log: the move's diff" 'MoveUnit  unit hist: parent_id "" → "org"'
expect_out "log: the delete" "DeleteUnit  unit hist: deleted"
ctl log --since "$before"
if [[ "$(methods)" == "CreateUnit UpdateUnit MoveUnit DeleteUnit " ]]; then
	ok
else
	bad "log --since: only the changes after it, got '$(methods)'"
fi
ctl log --since "$before" --limit 2
if [[ "$(methods)" == "CreateUnit UpdateUnit " ]]; then ok; else bad "log --limit 2: got '$(methods)'"; fi
ctl log hist --page-size 1
if [[ "$(methods)" == "CreateUnit UpdateUnit MoveUnit DeleteUnit " ]]; then
	ok
else
	bad "log --page-size 1: every page followed, got '$(methods)'"
fi
ctl unit set org --description "en=$(printf 'x%.0s' {1..200})"
ctl log org --since "$((before + 4))"
expect_out "log: a long value is cut" "…"
ctl log nobody
expect_rc "log of a unit never changed" 0
if [[ ! -s "$tmp/out" ]]; then ok; else bad "log nobody: nothing to show"; fi

ctl country set fr --membership member --member-since 1950
ctl log --country fr
expect_rc "log --country fr" 0
expect_out "log --country: the diff" \
	'UpdateCountry  country FR: membership.status none → member_state; membership.since_year 0 → 1950'
ctl log --country FRA
expect_out "log --country FRA (alpha-3)" "country FR: membership.status"
ctl log --country F1
expect_rc "log --country F1" 2

ctl log --json
expect_rc "log --json" 0
if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out"; then ok; else bad "log --json parses"; fi
expect_json "log --json: (revision, seq) increasing" \
	'all((int(a["revision"]), a.get("seq", 0)) < (int(b["revision"]), b.get("seq", 0)) for a, b in zip(d["changes"], d["changes"][1:]))'
expect_json "log --json: the store revision" 'int(d["revision"]) >= int(d["changes"][-1]["revision"])'
all_changes=$(json_field 'len(d["changes"])')
ctl log --json --page-size 2
expect_json "log --json --page-size 2: all pages merged" "len(d['changes']) == $all_changes and 'nextPageToken' not in d"
ctl log hist --json
expect_json "log hist --json: before and after" \
	'[c["method"] for c in d["changes"]] == ["CreateUnit", "UpdateUnit", "MoveUnit", "DeleteUnit"] and "unitBefore" not in d["changes"][0] and "unitAfter" not in d["changes"][3] and d["changes"][1]["unitAfter"]["acronym"] == "H"'

# --- watch ----------------------------------------------------------------------------------

start=$(revision)
start_watch watch "$ORGCTL" --server "$sock" --token "$admin" --json watch --since "$start" --wait 500
add_unit w1 --parent org
ctl unit set w1 --acronym W
ctl unit rm w1
if wait_lines "$tmp/watch.out" 3 60; then ok; else bad "watch: the 3 changes did not show up"; fi
sleep 0.3 # anything more would show now
stop_watch watch INT
expect_err "watch: says where it starts" "watching the changes after r$start"
expect_rc "watch exits 0 on SIGINT" 0
if [[ $(wc -l <"$tmp/watch.out") -eq 3 ]]; then ok; else bad "watch: exactly 3 lines wanted"; fi
if python3 - "$tmp/watch.out" "$start" <<'EOF'; then ok; else bad "watch --json: the 3 changes in order"; fi
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
ch = [json.loads(l) for l in lines]
start = int(sys.argv[2])
assert [c["method"] for c in ch] == ["CreateUnit", "UpdateUnit", "DeleteUnit"], ch
assert [int(c["revision"]) for c in ch] == [start + 1, start + 2, start + 3], ch
assert all(c["resourceId"] == "w1" for c in ch)
EOF
last=$(tail -n 1 "$tmp/watch.out" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["revision"]))')

# Resumed where it stopped: nothing old.
start_watch watch2 "$ORGCTL" --server "$sock" --json watch --since "$last" --wait 200
sleep 1 # a few polls
stop_watch watch2 INT
expect_rc "watch resumed: exits 0 on SIGINT" 0
if [[ ! -s "$tmp/watch2.out" ]]; then ok; else bad "watch resumed from $last: showed old changes"; fi

# Human lines, from the current revision, ended by SIGTERM.
start_watch watch3 "$ORGCTL" --server "$sock" watch --wait 300 # it has read its revision when it says so
add_unit w2
if wait_lines "$tmp/watch3.out" 1 60; then ok; else bad "watch (human): the change did not show up"; fi
stop_watch watch3 TERM
expect_rc "watch exits 0 on SIGTERM" 0
if [[ $(wc -l <"$tmp/out") -eq 1 ]]; then ok; else bad "watch from now: only the new change"; fi
expect_out "watch: a log line" "  admin  CreateUnit  unit w2: created"

# A watch outlives a restart of the server: down for longer than the
# client's reconnect time (5 s), it says so once, waits, and goes on from
# where it was, losing nothing written before or after.
from=$(revision)
start_watch watch4 "$ORGCTL" --server "$sock" --json watch --since "$from" --wait 300
add_unit w3
if wait_lines "$tmp/watch4.out" 1 60; then ok; else bad "watch across a restart: the first change"; fi
stop_pid "$server_pid"
sleep 7
start_server "$sock" "$tmp/data" || exit 1
add_unit w4
if wait_lines "$tmp/watch4.out" 2 60; then ok; else bad "watch across a restart: the change after it"; fi
stop_watch watch4 INT
expect_rc "watch across a restart: exits 0 on SIGINT" 0
expect_err "watch across a restart: the outage said once" "; retrying from r$((from + 1))"
expect_err "watch across a restart: and its end" "the server answers again"
if [[ $(grep -c 'retrying from' "$tmp/err") -eq 1 ]]; then ok; else bad "watch across a restart: the outage said more than once"; fi
if python3 - "$tmp/out" "$from" <<'EOF'; then ok; else bad "watch across a restart: w3 then w4, each once"; fi
import json, sys
ch = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
start = int(sys.argv[2])
assert [c["resourceId"] for c in ch] == ["w3", "w4"], ch
assert [int(c["revision"]) for c in ch] == [start + 1, start + 2], ch
EOF

now=$(revision)
ctl watch --since "$((now + 100))"
expect_rc "watch --since ahead of the server: OUT_OF_RANGE" 21
expect_err "watch OUT_OF_RANGE: the server's message" "ahead of this server"

# Long polls hold a context each, beside those that receive: on a server of
# one context (eight long polls at most), nine watchers of 30 s waits:
# one is told the server keeps no more, and retries every second; calls
# are answered beside them (within a 10 s timeout: a starved call would
# wait out the watchers), and the change reaches the eight that wait.
lp_sock="ipc://$tmp/lp.sock"
start_server "$lp_sock" "$tmp/lp" --contexts 1 || exit 1
lp_pids=()
for i in 1 2 3 4 5 6 7 8 9; do
	"$ORGCTL" --server "$lp_sock" --json watch --wait 30000 >"$tmp/lp$i.out" 2>"$tmp/lp$i.err" &
	lp_pids+=($!)
	bg_pids+=($!)
done
# lp_count FILES PATTERN: how many of the files hold PATTERN.
lp_count() {
	grep -lF -- "$2" $1 2>/dev/null | wc -l
}
# lp_wait FILES PATTERN N: until N of the files hold PATTERN, at most 30 s.
lp_wait() {
	local i
	for ((i = 0; i < 300; i++)); do
		(($(lp_count "$1" "$2") >= $3)) && return 0
		sleep 0.1
	done
	return 1
}
if lp_wait "$tmp/lp?.err" "8 long polls wait already" 1; then
	ok
else
	rc=0
	bad "long polls: no watcher was told the server keeps no more"
fi
ctl_at "$lp_sock" --timeout 10000 health
expect_rc "long polls: a call beside eight of them, one context" 0
ctl_at "$lp_sock" --timeout 10000 unit add lp1 --kind organization --name en=Polls
expect_rc "long polls: a write beside them" 0
if lp_wait "$tmp/lp?.out" '"lp1"' 8; then
	ok
else
	rc=0
	bad "long polls: the change reached $(lp_count "$tmp/lp?.out" '"lp1"') watchers, not 8"
fi
kill -KILL "${lp_pids[@]}" 2>/dev/null
wait "${lp_pids[@]}" 2>/dev/null

# --- valgrind -----------------------------------------------------------------------------------

is_elf() { [[ "$(head -c 4 "$1" 2>/dev/null | tr -d '\0')" == $'\x7fELF' ]]; }
if ! command -v valgrind >/dev/null; then
	echo "note: valgrind not installed: skipping the valgrind checks"
elif [ -n "${ORGDIR_SANITIZED:-}" ] || ! is_elf "$ORGCTL" ||
	ldd "$ORGCTL" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	echo "note: ORGCTL is a wrapper or a sanitizer build: skipping the valgrind checks"
else
	# --fair-sched=yes: as in tools/valgrind.sh; without it nng's reaper,
	# spinning on a socket still in use, can starve the thread it waits for.
	vg=(valgrind -q --error-exitcode=99 --leak-check=full --fair-sched=yes
		--show-leak-kinds=definite,indirect,possible
		--errors-for-leak-kinds=definite,indirect,possible
		"--suppressions=$(dirname "${BASH_SOURCE[0]}")/../valgrind.supp")
	vg_ctl() { # like ctl, under valgrind
		"${vg[@]}" "$ORGCTL" --server "$sock" --token "$admin" "$@" >"$tmp/out" 2>"$tmp/err"
		rc=$?
	}
	vg_ctl token ls
	expect_rc "valgrind: token ls" 0
	vg_ctl token add vg --role reader --ttl 1h
	expect_rc "valgrind: token add" 0
	vg_ctl log --page-size 3
	expect_rc "valgrind: log (diffs, pages)" 0
	vg_ctl --json log --country FR
	expect_rc "valgrind: log --json" 0
	vg_ctl unit add x --kind department --name en=X --token ''
	expect_rc "valgrind: an unauthenticated write" 26
	ORGDIR_DATA="$tmp/data" "${vg[@]}" "$ORGCTL" --server "$sock" --token-file "$tmp/admin.tok" \
		unit get org >"$tmp/out" 2>"$tmp/err"
	rc=$?
	expect_rc "valgrind: --token-file" 0

	from=$(revision)
	start_watch vgwatch "${vg[@]}" "$ORGCTL" --server "$sock" watch --since "$from" --wait 300
	sleep 0.5 # a poll or two under valgrind
	add_unit vgw
	if wait_lines "$tmp/vgwatch.out" 1 60; then ok; else bad "valgrind: watch shows the write"; fi
	stop_watch vgwatch INT
	expect_rc "valgrind: watch, a write, SIGINT: exit 0, no error, no leak" 0
	expect_out "valgrind: watch line" "unit vgw: created"
fi

finish
