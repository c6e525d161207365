#!/usr/bin/env bash
# Installs the dependencies, builds, starts orgdird with the example
# organisation (examples/iom) and prints its org chart in French.
# The server keeps running in the background; stop it with
#   kill $(cat orgdir-demo/orgdird.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
DEMO=${DEMO:-orgdir-demo}
URL=${ORGDIR_SERVER:-tcp://127.0.0.1:7470}
mkdir -p "$DEMO"
if [ -f "$DEMO/orgdird.pid" ] && kill -0 "$(cat "$DEMO/orgdird.pid")" 2>/dev/null; then
  kill "$(cat "$DEMO/orgdird.pid")"; sleep 0.5
fi
build/bin/orgdird --listen "$URL" --data "$DEMO/data" \
  --seed examples/iom/org.json 2>>"$DEMO/orgdird.log" &
echo $! > "$DEMO/orgdird.pid"
for _ in $(seq 50); do
  build/bin/orgctl --server "$URL" --timeout 200 health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "orgdird is running (pid $(cat "$DEMO/orgdird.pid"), $URL, log $DEMO/orgdird.log)"
echo
build/bin/orgctl --server "$URL" --lang fr unit tree
