#!/usr/bin/env bash
# check_cli_test.sh - `orgdird --check --data DIR` never creates anything:
# a missing directory, an empty one or a file is refused with
# FAILED_PRECONDITION's exit code (19) and left as it was; a store written
# by a real orgdird is checked clean (0).
#
#   ORGDIRD=path/to/orgdird ORGCTL=path/to/orgctl bash check_cli_test.sh
set -u

OD_TEST_NAME=check-cli
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The working directory is the test's own: a relative --data that were
# created would land here, and be seen.
cd "$tmp" || exit 1

# check DIR: orgdird --check --data DIR; $rc, $tmp/out, $tmp/err.
check() {
	"$ORGDIRD" --check --data "$1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# listing DIR: its entries, hidden ones included, one a line.
listing() {
	(cd "$1" && find . -mindepth 1 | sort)
}

# A directory that does not exist: refused, and still not there.
check "$tmp/missing"
expect_rc "missing directory" 19
expect_err "missing directory: message" "cannot check $tmp/missing: no data directory"
expect_err "missing directory: says nothing was made" "nothing was created"
if [[ ! -e "$tmp/missing" ]]; then ok; else bad "missing directory: --check created it"; fi
check "$tmp/missing/deeper"
expect_rc "missing parent directory" 19
if [[ ! -e "$tmp/missing" ]]; then ok; else bad "missing parent: --check created it"; fi
check missing-relative
expect_rc "missing relative directory" 19
if [[ ! -e "$tmp/missing-relative" ]]; then ok; else bad "relative: --check created it"; fi

# An empty directory: refused, and still empty (no data.mdb, no lock.mdb).
mkdir "$tmp/empty"
check "$tmp/empty"
expect_rc "empty directory" 19
expect_err "empty directory: message" "holds no orgdir store (no LMDB data.mdb"
if [[ -z "$(listing "$tmp/empty")" ]]; then
	ok
else
	bad "empty directory: --check wrote into it: $(listing "$tmp/empty" | tr '\n' ' ')"
fi

# A directory with other files but no data.mdb: refused, left as it was.
mkdir "$tmp/other"
echo note >"$tmp/other/README"
before=$(listing "$tmp/other")
check "$tmp/other"
expect_rc "directory without data.mdb" 19
if [[ "$(listing "$tmp/other")" == "$before" ]]; then ok; else bad "other: --check wrote into it"; fi

# A file where the directory should be.
echo x >"$tmp/afile"
check "$tmp/afile"
expect_rc "a file, not a directory" 19
expect_err "a file: message" "is not a directory"

# A store a real orgdird wrote: clean.
start_server "$sock" "$tmp/data" || exit 1
ctl unit add org --kind organization --name en=Org
expect_rc "unit add" 0
ctl unit add dept --parent org --kind department --name en=Dept --acronym DPT
expect_rc "unit add child" 0
ctl token add reader1 --role reader
expect_rc "token add" 0
stop_servers
check "$tmp/data"
expect_rc "a real store" 0
expect_out "a real store: summary" "0 problem(s)"
expect_out "a real store: units counted" "2 units"

finish
