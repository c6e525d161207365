#!/usr/bin/env bash
# cli_transfer_test.sh - orgctl export, import and backup end to end: the
# example organisation exported, imported into an empty server and exported
# again gives the same units and countries; a broken document changes
# nothing and names its problems; a backup starts a server of its own.
set -u

OD_TEST_NAME=cli-transfer
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

a="ipc://$tmp/a.sock"
b="ipc://$tmp/b.sock"
c="ipc://$tmp/c.sock"
start_server "$a" "$tmp/a" --seed "$ORGDIR_EXAMPLE" || exit 1
start_server "$b" "$tmp/b" || exit 1

ctl_at "$a" export
expect_rc "export" 0
cp "$tmp/out" "$tmp/export-a.json"
expect_json "export holds the example" 'len(d["units"]) >= 50 and len(d["countries"]) >= 10 and "etag" not in d["units"][0]'

ctl_at "$b" import "$tmp/export-a.json" --dry-run
expect_rc "import --dry-run" 0
expect_out "dry run says so" "dry run, nothing written"
ctl_at "$b" stats --json
expect_json "dry run wrote nothing" 'int(d.get("totalUnits", "0")) == 0'

ctl_at "$b" import "$tmp/export-a.json"
expect_rc "import" 0
ctl_at "$b" export
expect_rc "export of the import" 0
cp "$tmp/out" "$tmp/export-b.json"
if python3 - "$tmp/export-a.json" "$tmp/export-b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("revision", None)
sys.exit(0 if a == b else 1)
PY
then ok; else bad "export -> import -> export gives the same units and countries"; fi

# A broken document: every problem reported, nothing written.
python3 - "$tmp/export-a.json" "$tmp/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["units"].append({"id": "orphan", "parentId": "nowhere", "kind": "OFFICE",
                   "name": [{"lang": "en", "text": "Orphan"}]})
d["units"].append({"id": "bad-country", "kind": "COUNTRY_OFFICE", "parentId": "iom",
                   "name": [{"lang": "en", "text": "X"}], "location": {"countryCode": "ZZ"}})
json.dump(d, open(sys.argv[2], "w"))
PY
ctl_at "$b" import "$tmp/broken.json" --replace
expect_rc "broken import" 19
expect_err "broken import names the unknown parent" "nowhere"
expect_err "broken import names the country" "ZZ"
ctl_at "$b" unit get orphan
expect_rc "nothing of the broken import landed" 15

# Documents orgctl cannot read or map: INVALID_ARGUMENT (exit 13) before
# anything is sent, with the line and column of bad JSON, the path of a
# field that does not map, or why the file cannot be read.
printf '{"units": [ {"id": "a",\n "kind": "OFFICE",, }]}' >"$tmp/syntax.json"
printf '{"units": [{"id": "a", "kind": "OFFICE", "colour": "red"}]}' >"$tmp/field.json"
printf '{"units": [{"id": "a", "kind": "NOPE"}]}' >"$tmp/enum.json"
ctl_at "$b" import "$tmp/syntax.json"
expect_rc "import of bad JSON" 13
expect_err "bad JSON: file, line and column" "syntax.json: line 2, column 19: expected a key, got ','"
ctl_at "$b" import "$tmp/field.json"
expect_rc "import of an unknown field" 13
expect_err "unknown field: its path" "field.json: units[0].colour: unknown field for orgdir.v1.Unit"
ctl_at "$b" import "$tmp/enum.json"
expect_rc "import of an unknown enum value" 13
expect_err "unknown enum value: its path" 'units[0].kind: unknown enum value "NOPE"'
ctl_at "$b" import "$tmp/no-such.json"
expect_rc "import of a missing file" 13
expect_err "missing file: says so" "unable to open $tmp/no-such.json: No such file or directory"
ctl_at "$b" unit get a
expect_rc "none of them landed" 15

# Backup (admin), then a server on the copy.
ctl_at "$a" backup "$tmp/backup"
expect_rc "backup" 0
start_server "$c" "$tmp/backup" || exit 1
ctl_at "$c" unit get dg
expect_rc "the backup serves" 0
ctl_at "$a" backup "$tmp/backup"
expect_rc "backup into a non-empty directory" 19
ctl_at "$a" --token '' backup "$tmp/backup2"
expect_rc "backup without a token" 26

# A cap that is not a number from 1 to 100,000,000 is a usage error (exit
# 2) that names the option, before anything is created.
for v in 0 -5 abc 100000001 ''; do
	"$ORGDIRD" --listen "ipc://$tmp/never.sock" --data "$tmp/never" --max-import-units "$v" \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
	expect_rc "--max-import-units '$v'" 2
	expect_err "--max-import-units '$v': says why" "--max-import-units: '$v' is not a number from 1 to 100000000"
done
if [[ ! -e "$tmp/never" ]]; then ok; else bad "a usage error created the data directory"; fi

# The cap on units in one import (orgdird --max-import-units): the example
# holds more than 10; refused whole, with the option named, nothing written.
d="ipc://$tmp/d.sock"
start_server "$d" "$tmp/d" --max-import-units 10 || exit 1
ctl_at "$d" import "$tmp/export-a.json"
expect_rc "an import over the unit cap" 18
expect_err "an import over the unit cap: says why" "at most 10 units (orgdird --max-import-units)"
ctl_at "$d" unit ls
expect_rc "nothing of it landed: unit ls" 0
if [[ ! -s "$tmp/out" ]] || [[ $(wc -l <"$tmp/out") -le 1 ]]; then
	ok
else
	bad "units landed from an import over the cap"
fi

# A document of several parts (~9 MB): orgctl sends its units while it is
# still parsing the rest. It lands whole; a copy that turns out broken
# near its end (after parts went out) lands nothing, says where, and ends
# its session: more broken imports than the server keeps sessions open (4),
# then the good one, still land.
python3 - "$tmp/parts.json" "$tmp/parts-syntax.json" "$tmp/parts-field.json" <<'PY'
import json, sys
units = [{"id": "p-%d" % i, "parentId": "" if i == 0 else "p-%d" % ((i - 1) // 10),
          "kind": "OFFICE", "name": [{"lang": "en", "text": "Unit %d" % i}],
          "description": [{"lang": "en", "text": "d" * 400}]} for i in range(20000)]
text = json.dumps({"units": units})
open(sys.argv[1], "w").write(text)
open(sys.argv[2], "w").write(text[:-2] + ",]}")
units[19000]["colour"] = "red"
open(sys.argv[3], "w").write(json.dumps({"units": units}))
PY
e="ipc://$tmp/e.sock"
start_server "$e" "$tmp/e" || exit 1
for k in 1 2 3; do
	ctl_at "$e" import "$tmp/parts-syntax.json"
	expect_rc "a broken document of several parts ($k)" 13
	expect_err "its syntax error: line and column" "parts-syntax.json: line 1, column"
	ctl_at "$e" import "$tmp/parts-field.json"
	expect_rc "a document of several parts with an unknown field ($k)" 13
	expect_err "its unknown field: the path" "parts-field.json: units[19000].colour: unknown field"
done
# Interrupted while it reads (SIGINT, raised by orgctl itself after 15,000
# units, two parts sent: ORGCTL_TEST_SIGNAL_AFTER_UNITS): it says so, exits
# 130 and ends its session. Five in a row, then the good import below, which
# would find the server's four session slots taken by sessions left open.
for k in 1 2 3 4 5; do
	ORGCTL_TEST_SIGNAL_AFTER_UNITS=15000 ctl_at "$e" import "$tmp/parts.json"
	expect_rc "an import interrupted ($k)" 130
	expect_err "an interrupted import says so ($k)" "import interrupted (SIGINT) while reading it: nothing imported"
done
ctl_at "$e" unit get p-0
expect_rc "nothing of the broken documents landed" 15
# The server killed in the middle of an import (orgctl stops itself after
# 15,000 units, two parts sent: ORGCTL_TEST_SIGNAL_AFTER_UNITS=N:STOP; the
# server is killed; orgctl goes on): UNAVAILABLE (exit 24) once it has had
# no connection for liborgdir's reconnect_ms (5 s), not after its
# --timeout of 10 minutes, and nothing landed.
k="ipc://$tmp/k.sock"
start_server "$k" "$tmp/k" || exit 1
ORGCTL_TEST_SIGNAL_AFTER_UNITS=15000:STOP "$ORGCTL" --server "$k" --token "${tokens[$k]}" \
	--timeout 600000 import "$tmp/parts.json" >"$tmp/out" 2>"$tmp/err" &
ctl_pid=$!
for ((i = 0; i < 600; i++)); do
	[[ "$(ps -o stat= -p "$ctl_pid" 2>/dev/null)" == T* ]] && break
	sleep 0.1
done
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null
kill -CONT "$ctl_pid"
for ((i = 0; i < 600; i++)); do
	kill -0 "$ctl_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$ctl_pid" 2>/dev/null; then
	kill -KILL "$ctl_pid"
	bad "orgctl import still waits 60 s after its server was killed"
fi
wait "$ctl_pid"
rc=$?
expect_rc "an import whose server is killed" 24
expect_err "an import whose server is killed: message" "lost the connection to $k and could not reconnect within 5000 ms"
start_server "$k" "$tmp/k" || exit 1
ctl_at "$k" unit get p-0
expect_rc "nothing of the killed import landed" 15
ctl_at "$e" import "$tmp/parts.json"
expect_rc "the document of several parts" 0
expect_out "all of it" "20000 unit(s) created"
ctl_at "$e" unit get p-19999 --json
expect_rc "its last unit" 0
expect_out "its last unit's parent" '"parentId": "p-1999"'

# --seed goes through the import's checks: a broken document stops orgdird
# with each problem's path, and writes nothing, so a later --seed of a good
# one loads it (a store holding units would ignore it).
"$ORGDIRD" --listen "ipc://$tmp/seeded.sock" --data "$tmp/seeded" --seed "$tmp/broken.json" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc "orgdird --seed of a broken document" 1
expect_err "broken seed: the count" "2 problem(s), nothing loaded"
expect_err "broken seed: the unknown parent's path" "units[55].parentId: unit 'orphan': parent 'nowhere'"
expect_err "broken seed: the country's path" "units[56].location.countryCode"
s="ipc://$tmp/seeded.sock"
start_server "$s" "$tmp/seeded" --seed "$tmp/export-a.json" || exit 1
ctl_at "$s" unit get dg --json
expect_rc "the good seed after the broken one" 0
ctl_at "$s" unit get orphan
expect_rc "nothing of the broken seed" 15
# Started again with --seed of another document: the store holds units, so
# the file is not read (here it does not even exist) and nothing changes.
stop_pid "$server_pid"
start_server "$s" "$tmp/seeded" --seed "$tmp/no-such-file.json" || exit 1
rc=0
grep -q -- "--seed $tmp/no-such-file.json ignored: the store already holds units" \
    "$tmp/orgdird.log" || rc=1
expect_rc "a second --seed is ignored, and says so" 0
ctl_at "$s" unit get dg --json
expect_rc "the first seed's units are kept" 0
# A --seed file that cannot be opened, on an empty store: orgdird stops at
# once, saying which file and why.
"$ORGDIRD" --listen "ipc://$tmp/noseed.sock" --data "$tmp/noseed" --seed "$tmp/no-such-file.json" \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc "orgdird --seed of a missing file" 1
expect_err "the missing seed file, named" "unable to open $tmp/no-such-file.json: No such file or directory"

finish
