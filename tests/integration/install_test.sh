#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds an example program
# against the installed liborgdir exactly as a user would: with pkg-config,
# once against the shared and once against the static library.
set -u
BUILD=$1
SRC=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if "$@"; then echo "ok: $*"; else echo "FAILED: $*"; fail=$((fail + 1)); fi; }
cmake --install "$BUILD" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name orgdir.pc)
export PKG_CONFIG_PATH=$(dirname "$pc")
check test -x "$tmp/prefix/bin/orgdird"
check test -x "$tmp/prefix/bin/orgctl"
check test -f "$tmp/prefix/include/orgdir/orgdir.h"
libdir=$(pkg-config --variable=libdir orgdir)
check test -f "$libdir/liborgdir.a"
check test -e "$libdir/liborgdir.so"
cflags=$(pkg-config --cflags orgdir)
libs=$(pkg-config --libs orgdir)
# shellcheck disable=SC2086
check cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror $cflags -o "$tmp/chart" \
  "$SRC/examples/print_chart.c" $libs -Wl,-rpath,"$libdir"
check "$tmp/chart" --help
# shellcheck disable=SC2086
check cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror $cflags -o "$tmp/unit_static" \
  "$SRC/examples/print_unit.c" "$libdir/liborgdir.a" $(pkg-config --libs-only-l libprotobuf-c) -lnng -lpthread
check "$tmp/unit_static" --help
# Nothing but orgdir_* (and the generated protobuf symbols) is exported.
bad=$(nm -D --defined-only "$libdir/liborgdir.so" | awk '{print $3}' |
  grep -v -E '^(orgdir_|orgdir__v1__|google__protobuf__|LIBORGDIR)' || true)
check test -z "$bad"
if [ "$fail" -eq 0 ]; then echo "install: all checks passed"; fi
exit "$fail"
