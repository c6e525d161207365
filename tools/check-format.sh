#!/usr/bin/env bash
# Fails when a tracked C file differs from .clang-format's layout
# (fix with: clang-format -i $(git ls-files '*.c' '*.h')), or when the store
# changes LMDB other than through env.c's counted wrappers (od_mdb_put and
# its kin): the writer relies on their count (src/server/writer.c), and
# the write-ahead log on what they capture. (wal.c's replay applies logged
# changes again as they are: neither counted nor logged twice.)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files checked"
if grep -nE '(^|[^_a-z])mdb_(put|del|cursor_put|cursor_del|drop)\(' \
    $(git ls-files 'src/*.c' | grep -v -e '^src/store/env.c$' -e '^src/store/wal.c$'); then
	echo "the lines above change LMDB directly: use od_mdb_put, od_mdb_del, ... (env.c)" >&2
	exit 1
fi
echo "store writes: all through env.c's wrappers"
