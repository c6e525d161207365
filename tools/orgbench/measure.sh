#!/bin/sh
# measure.sh [BUILD_DIR] [OUT_DIR] - the runs behind docs/PERFORMANCE.md.
#
# Needs a Release build (cmake -DCMAKE_BUILD_TYPE=Release). Takes about seven
# minutes on 2 cores; client and servers share the machine, so run it when
# nothing else does (the load average is recorded beside the results).
set -eu
BUILD=${1:-build-bench}
OUT=${2:-orgbench-results}
B=$BUILD/bin
mkdir -p "$OUT"

{
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	echo "kernel: $(uname -r)"
	echo "loadavg before: $(cat /proc/loadavg)"
} > "$OUT/machine.txt"

for t in tcp ipc; do
	# Every workload at every level, one round each.
	"$B/orgbench" run --spawn --orgdird "$B/orgdird" --transport "$t" --units 10000 \
	    --workloads all --concurrency 1,4,16,64 --duration 1 \
	    --json-out "$OUT/table-$t.jsonl" > "$OUT/table-$t.txt"
	# get against the bare echo of the same bytes (and ping), alternating
	# rounds, judged on the median of six.
	"$B/orgbench" run --spawn --orgdird "$B/orgdird" --transport "$t" --units 10000 \
	    --workloads get,echo,ping --concurrency 1,4,16,64 --duration 1 --rounds 6 \
	    --json-out "$OUT/ratio-$t.jsonl" > "$OUT/ratio-$t.txt"
done
# search on 100,000 units (issue 4's target), with ping at the same levels:
# the summary line subtracts ping's round trip from search's at each level.
"$B/orgbench" run --spawn --orgdird "$B/orgdird" --units 100000 \
    --workloads search,ping --concurrency 1,16 --duration 1 --rounds 3 \
    --json-out "$OUT/search-100k.jsonl" > "$OUT/search-100k.txt"
echo "loadavg after: $(cat /proc/loadavg)" >> "$OUT/machine.txt"
