#!/usr/bin/env bash
# host_limits_test.sh - orgdird at the machine's limits.
#
# - Disk: a write that does not fit is refused with RESOURCE_EXHAUSTED
#   saying what is full, nothing of it is stored, the server keeps serving
#   (and takes the writes that fit), and the data directory checks clean
#   and takes the write once there is room. The file size limit (`ulimit
#   -f`) is tried everywhere: orgdird ignores SIGXFSZ, so a write past it
#   fails with EFBIG (or LMDB's EIO for a short write) as on a full disk. A
#   real full disk (a small tmpfs) is tried too when this runs as root and
#   may mount one; otherwise that part says it is skipped.
# - Open files: orgdird raises its soft limit to the hard one (each
#   connection is a file), warns when that is low, and clients turned away
#   at the limit can connect again once others leave.
#
#   ORGDIRD=path/to/orgdird ORGCTL=path/to/orgctl ORGDIR_EXAMPLE=org.json \
#     bash host_limits_test.sh
set -u

OD_TEST_NAME=host-limits
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${ORGDIR_EXAMPLE:?set ORGDIR_EXAMPLE to examples/iom/org.json}"
small="$tmp/small"
trap 'umount "$small" 2>/dev/null; cleanup' EXIT

# 2,000 units under the example's root, ~4 MB of JSON: more than 2 MiB of
# store, and more than the small disk below holds.
python3 - "$tmp/big.json" <<'PYEOF'
import json, sys
words = "migration office programme regional support coordination policy data".split()
units = []
for i in range(2000):
    desc = " ".join(words[(i + k) % len(words)] + str(k) for k in range(90))
    units.append({"id": "bulk-%04d" % i, "parentId": "iom", "kind": "UNIT",
                  "name": [{"lang": "en", "text": "Bulk unit %d" % i}],
                  "description": [{"lang": "en", "text": desc},
                                  {"lang": "fr", "text": desc}]})
json.dump({"units": units}, open(sys.argv[1], "w"))
PYEOF

# full_write WHAT URL WANT: the import does not fit; it is refused with
# RESOURCE_EXHAUSTED and WANT in the message, and leaves the directory as
# it was; a small write still goes in, as the next revision.
full_write() {
	local what=$1 url=$2 want=$3 rev
	ctl_at "$url" export
	cp "$tmp/out" "$tmp/before.json"
	rev=$(json_field "int(d.get('revision', 0))")
	ctl_at "$url" import "$tmp/big.json" --merge
	expect_rc "$what: the import that does not fit" 18
	expect_err "$what: the message says what is full" "$want"
	ctl_at "$url" export
	if cmp -s "$tmp/out" "$tmp/before.json"; then
		ok
	else
		bad "$what: the export changed after the refused import"
	fi
	ctl_at "$url" health
	expect_out "$what: still serving" "SERVING"
	ctl_at "$url" unit set ocos --acronym OCOS-2
	expect_rc "$what: a small write still fits" 0
	ctl_at "$url" --json log --since "$rev"
	expect_json "$what: one change after the refused import, the small write" \
		"[c['method'] for c in d['changes']] == ['UpdateUnit'] and int(d['changes'][0]['revision']) == $rev + 1"
	if grep -F "ImportDirectory RESOURCE_EXHAUSTED: " "$tmp/orgdird.log" | grep -qF -- "$want"; then
		ok
	else
		rc=0
		bad "$what: orgdird's log lacks the refused commit"
	fi
}

# --- past the file size limit ------------------------------------------------------------
# start_limited 'LIMIT' URL DATA [orgdird args...]: start_server with
# orgdird under bash's `ulimit LIMIT` (-f counts KiB).
start_limited() {
	local limit=$1 wrapper="$tmp/orgdird-limited"
	shift
	printf '#!/bin/bash\nulimit %s\nexec "%s" "$@"\n' "$limit" "$ORGDIRD" >"$wrapper"
	chmod +x "$wrapper"
	ORGDIRD=$wrapper start_server "$@"
}
start_limited "-f 2048" "$sock" "$tmp/data" --seed "$ORGDIR_EXAMPLE" || exit 1
limited_pid=$server_pid
full_write "ulimit -f" "$sock" "data.mdb reached orgdird's file size limit (ulimit -f: 2097152 bytes)"
if kill -0 "$limited_pid" 2>/dev/null; then ok; else bad "ulimit -f: orgdird died (SIGXFSZ?)"; fi
stop_servers
"$ORGDIRD" --check --data "$tmp/data" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc "ulimit -f: --check afterwards" 0
expect_out "ulimit -f: --check finds no problem" "0 problem(s)"
# A limit with room for the log (64 MiB) but not for the map's 256 MiB:
# LMDB writes through the file (whose writes fail cleanly) instead of in
# its map, and says so.
start_limited "-f 131072" "ipc://$tmp/mid.sock" "$tmp/mid" --seed "$ORGDIR_EXAMPLE" || exit 1
if grep -qF "$tmp/mid/data.mdb cannot have its blocks for the map's 256 MiB" "$tmp/orgdird.log"; then
	ok
else
	bad "ulimit -f 128 MiB: no word of writing through the file"
fi
ctl_at "ipc://$tmp/mid.sock" unit set ocos --acronym OCOS-3
expect_rc "ulimit -f 128 MiB: a write" 0
stop_servers
# Without the limit, the same import goes in whole.
start_server "$sock" "$tmp/data" || exit 1
ctl import "$tmp/big.json" --merge
expect_rc "no limit: the import" 0
expect_out "no limit: every unit" "2000 unit(s) created"

# --- a full disk -------------------------------------------------------------------------
mkdir -p "$small"
if [[ $(id -u) -ne 0 ]] || ! mount -t tmpfs -o size=1536k tmpfs "$small" 2>/dev/null; then
	echo "skipped: a full disk (needs root and a tmpfs mount); the file size limit above was tried"
else
	small_url="ipc://$tmp/small.sock"
	start_server "$small_url" "$small/data" --seed "$ORGDIR_EXAMPLE" || exit 1
	full_write "full disk" "$small_url" "the disk holding $small/data is full"
	stop_pid "$server_pid"
	"$ORGDIRD" --check --data "$small/data" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	expect_rc "full disk: --check afterwards" 0
	# A backup onto the full disk (the server above on a disk with room).
	ctl backup "$small/backup"
	expect_rc "full disk: a backup that does not fit" 18
	expect_err "full disk: the backup says so" "backup: the disk holding $small/backup is full"
	if [[ -z "$(ls -A "$small/backup" 2>/dev/null)" ]]; then
		ok
	else
		bad "full disk: the failed backup left $(ls -A "$small/backup")"
	fi
	# A new data directory on the full disk: orgdird says so and stops.
	"$ORGDIRD" --listen "ipc://$tmp/fresh.sock" --data "$small/fresh" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	expect_rc "full disk: a new data directory" 1
	expect_err "full disk: orgdird says why it stops" "the disk holding $small/fresh is full"
	umount "$small"
fi

# --- a full disk, the map written in place ----------------------------------------------
# With room for the log (64 MiB) and a 4 MiB map, LMDB writes in its map
# (MDB_WRITEMAP), data.mdb having its blocks up to the map's size. The
# disk then filled to the last MiB: the import needs a larger map, whose
# blocks the disk has not, and is refused; the server is not killed by a
# SIGBUS on a map page without a block.
if [[ $(id -u) -ne 0 ]] || ! mount -t tmpfs -o size=80m tmpfs "$small" 2>/dev/null; then
	echo "skipped: a full disk under the map (needs root and a tmpfs mount)"
else
	small_url="ipc://$tmp/small.sock"
	start_server "$small_url" "$small/data" --map-size 4 --seed "$ORGDIR_EXAMPLE" || exit 1
	sz=$(stat -c '%s %b' "$small/data/data.mdb")
	if [[ "${sz% *}" -eq $((4 << 20)) && "${sz#* }" -ge $((4 << 11)) ]]; then
		ok
	else
		bad "map in place: data.mdb is not 4 MiB with its blocks (size, 512 B blocks: $sz)"
	fi
	avail=$(df -k --output=avail "$small" | tail -1)
	dd if=/dev/zero of="$small/filler" bs=1k count=$((avail - 1024)) 2>/dev/null
	full_write "map in place, full disk" "$small_url" \
		"the disk holding $small/data is full"
	if grep -qF "ImportDirectory RESOURCE_EXHAUSTED: grow the database map to " "$tmp/orgdird.log"; then
		ok
	else
		bad "map in place: the import was not refused for the map's growth"
	fi
	if kill -0 "$server_pid" 2>/dev/null; then ok; else bad "map in place: orgdird died (SIGBUS?)"; fi
	stop_pid "$server_pid"
	"$ORGDIRD" --check --data "$small/data" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	expect_rc "map in place, full disk: --check afterwards" 0
	expect_out "map in place, full disk: --check finds no problem" "0 problem(s)"
	umount "$small"
fi

# --- open files --------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tcp="tcp://127.0.0.1:$port"
# hold N SECONDS: N REQ peers (the SP header over TCP, no request)
# connected to the port, held until $tmp/release exists (at most 60 s);
# "held K, A answered" in $tmp/held once they are up (A: the server's
# header came, waited for at most SECONDS).
hold() {
	rm -f "$tmp/release" "$tmp/held"
	python3 - "$port" "$1" "$tmp/release" "$tmp/held" "$2" <<'PYHOLD' &
import os, select, socket, sys, time
port, n, release, held = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
patience = float(sys.argv[5])
socks = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(5.0)
    try:
        s.connect(("127.0.0.1", port))
        # The SP header of a REQ peer: the server keeps the pipe open.
        s.sendall(b"\x00SP\x00\x00\x30\x00\x00")
        socks.append(s)
    except OSError:
        s.close()
answered, waiting, end = 0, set(socks), time.time() + patience
while waiting and time.time() < end:
    ready, _, _ = select.select(list(waiting), [], [], 0.2)
    for s in ready:
        waiting.discard(s)
        try:
            answered += len(s.recv(8)) == 8
        except OSError:
            pass
open(held, "w").write("held %d, %d answered\n" % (len(socks), answered))
end = time.time() + 60
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.05)
PYHOLD
	holder=$!
	wait_lines "$tmp/held" 1 60 || bad "open files: the connections were not made"
}
release() {
	touch "$tmp/release"
	wait "$holder"
}
# A soft limit of 256 under a higher hard one: raised, and 400 clients fit.
hard=$(ulimit -Hn)
start_limited "-Sn 256" "$tcp" "$tmp/files" || exit 1
if [[ "$hard" == unlimited || "$hard" -gt 4096 ]]; then
	if grep -qE "started orgdird .*, $hard open files" "$tmp/orgdird.log"; then
		ok
	else
		rc=0
		bad "open files: the soft limit of 256 was not raised to the hard $hard"
	fi
	hold 400 20
	if grep -qF "held 400, 400 answered" "$tmp/held"; then
		ok
	else
		rc=0
		bad "open files: not all 400 peers were taken: $(cat "$tmp/held")"
	fi
	ctl_at "$tcp" --timeout 5000 health
	expect_rc "open files: a call beside 400 other connections" 0
	release
else
	echo "skipped: raising the soft open files limit (the hard one is $hard)"
fi
stop_pid "$server_pid"
# A hard limit of 256: a warning; past it clients are turned away, and
# served again once the others leave.
start_limited "-n 256" "$tcp" "$tmp/files" || exit 1
if grep -qF "warn at most 256 open files, each connection one" "$tmp/orgdird.log"; then
	ok
else
	rc=0
	bad "open files: no warning for a limit of 256"
fi
hold 300 2
ctl_at "$tcp" --timeout 2000 health
expect_rc "open files: a client past the limit is turned away" 24
# log_says TEXT: orgdird's log has TEXT within 10 s.
log_says() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qF -- "$1" "$tmp/orgdird.log" && return 0
		sleep 0.1
	done
	return 1
}
if log_says "open files in use, one a connection: past the limit new clients are turned away"; then
	ok
else
	rc=0
	bad "open files: no warning in the log at the limit"
fi
release
for ((i = 0; i < 100; i++)); do
	ctl_at "$tcp" --timeout 2000 health
	[[ $rc -eq 0 ]] && break
	sleep 0.1
done
expect_out "open files: served again once the others left" "SERVING"
if log_says "of 256 open files in use: room for new clients again"; then
	ok
else
	rc=0
	bad "open files: no line in the log once under the limit again"
fi
finish
