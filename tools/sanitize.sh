#!/usr/bin/env bash
# Builds with clang, AddressSanitizer + UndefinedBehaviorSanitizer and
# warnings as errors into build-asan, and runs the whole test suite there.
# Any memory error, leak (LeakSanitizer) or undefined behaviour aborts the
# process that hit it, so its test fails.
#   tools/sanitize.sh            # CI
#   BUILD=/tmp/asan tools/sanitize.sh -R test_store
#                                # other build dir; extra arguments go to ctest
#   SAN=thread tools/sanitize.sh # ThreadSanitizer instead, into build-tsan:
#                                # a data race aborts the process (the whole
#                                # suite ~8 min on 2 cores; CI runs the
#                                # threaded tests only, .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
SAN=${SAN:-address}
case "$SAN" in
address)
	BUILD=${BUILD:-build-asan}
	san_flag=-DORGDIR_SANITIZE=ON
	;;
thread)
	BUILD=${BUILD:-build-tsan}
	san_flag=-DORGDIR_TSAN=ON
	;;
*)
	echo "sanitize.sh: SAN must be address or thread, not '$SAN'" >&2
	exit 2
	;;
esac

tools/install-deps.sh
need=()
for p in clang libclang-rt-14-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	"$san_flag" -DORGDIR_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

# Every process a test starts (orgdird, orgctl, examples) inherits these.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}
# (The install test is not defined in a sanitizer build: a plain compiler
# cannot link the instrumented library.)
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" "$@"
