#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan) into
# build-fuzz and runs every target for SECONDS (default 60) of wall time,
# all at once, each from a copy of its seed corpus tests/fuzz/corpus/<name>/
# (the tree is never written) and with tests/fuzz/<name>.dict when there is
# one. Fails when any target finds a crash, a leak, undefined behaviour, a
# timeout or an out-of-memory.
#
#   tools/fuzz.sh            # CI: 60 s per target
#   tools/fuzz.sh 3600       # a longer run
#   FUZZ_WORK=/tmp/fz tools/fuzz.sh 3600
#                            # keep the grown corpora and any crash input in
#                            # /tmp/fz/<name>/ and /tmp/fz/artifacts/
#   FUZZ_TARGETS="pbdecode" tools/fuzz.sh 120
#                            # only those targets (names without fuzz_)
#
# A crash input is copied to build-fuzz/fuzz-artifacts/; reproduce it with
#   build-fuzz/bin/fuzz_<name> build-fuzz/fuzz-artifacts/<file>
# and, once fixed, commit it as tests/fuzz/corpus/<name>/regress-<what>:
# every later run (and ctest in a fuzzing build) replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case "$secs" in
'' | *[!0-9]*)
	echo "usage: tools/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac
BUILD=${BUILD:-build-fuzz}

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
	-DORGDIR_FUZZ=ON -DORGDIR_SANITIZE=ON -DORGDIR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fuzz

if [ -n "${FUZZ_WORK:-}" ]; then
	work=$FUZZ_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/artifacts" "$BUILD/fuzz-artifacts"

# Largest input per target (libFuzzer's default is 4096).
max_len() {
	case "$1" in
	textkey) echo 4200 ;; # just past the 4096-byte input cap
	pbjson) echo 16384 ;;
	pbdecode) echo 8192 ;; # the largest seeds are about 4 KiB
	envelope) echo 65536 ;;
	dispatch) echo 32768 ;; # a request with a body: an import part, a unit
	*) echo 4096 ;;
	esac
}

# Flags of one target. fuzz_dispatch runs a whole server, which logs each
# failed call to stderr: libFuzzer keeps its own report and the sanitizers'
# and silences the rest.
extra_flags() {
	case "$1" in
	dispatch) echo -close_fd_mask=2 ;;
	esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
names=()
pids=()
for bin in "$BUILD"/bin/fuzz_*; do
	name=${bin##*/fuzz_}
	case " ${FUZZ_TARGETS:-$name} " in
	*" $name "*) ;;
	*) continue ;;
	esac
	mkdir -p "$work/$name"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$work/$name/"
	fi
	dict=()
	if [ -f "tests/fuzz/$name.dict" ]; then
		dict=("-dict=tests/fuzz/$name.dict")
	fi
	# shellcheck disable=SC2046 # extra_flags: words or nothing
	"$bin" -max_total_time="$secs" -max_len="$(max_len "$name")" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" $(extra_flags "$name") \
		-artifact_prefix="$work/artifacts/$name-" "$work/$name" >"$work/$name.log" 2>&1 &
	names+=("$name")
	pids+=($!)
done
if [ ${#names[@]} -eq 0 ]; then
	echo "fuzz: no targets built in $BUILD/bin" >&2
	exit 1
fi

failed=0
for i in "${!names[@]}"; do
	name=${names[$i]}
	if wait "${pids[$i]}"; then
		line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$work/$name.log" | tail -1 || true)
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
		echo "fuzz_$name: ok, $execs runs in ${secs}s; ${line#* }"
	else
		failed=1
		echo "fuzz_$name: FAILED; its log:" >&2
		tail -60 "$work/$name.log" >&2
	fi
done
if ls "$work/artifacts/"* >/dev/null 2>&1; then
	cp "$work/artifacts/"* "$BUILD/fuzz-artifacts/"
	echo "fuzz: inputs that failed are in $BUILD/fuzz-artifacts/:" >&2
	ls -l "$BUILD/fuzz-artifacts/" >&2
	failed=1
fi
exit $failed
