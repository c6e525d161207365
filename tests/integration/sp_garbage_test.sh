#!/usr/bin/env bash
# sp_garbage_test.sh - what real SP peers (nngcat, from nng-utils) and a
# plain TCP client that does not speak SP send to orgdird: garbage requests
# get an answer that says why, peers of the wrong protocol are turned away,
# and the server keeps serving and loses nothing.
#
#   ORGDIRD=path/to/orgdird ORGCTL=path/to/orgctl NNGCAT=path/to/nngcat \
#     bash sp_garbage_test.sh
set -u

OD_TEST_NAME=sp-garbage
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NNGCAT=${NNGCAT:-$(command -v nngcat)}
if [[ -z "$NNGCAT" ]]; then
	echo "nngcat not found (Debian package nng-utils)" >&2
	exit 1
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tcp="tcp://127.0.0.1:$port"
start_server "$sock" "$tmp/data" --listen "$tcp" || exit 1
ctl unit add org --kind organization --name en=Org
expect_rc "a unit before the garbage" 0

# req URL ARGS...: one nngcat REQ exchange, the raw reply in $tmp/out.
req() {
	local url=$1
	shift
	"$NNGCAT" --req0 --dial "$url" --raw --recv-timeout 5 --send-timeout 5 "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# A REQ peer sending text, random bytes and an empty message: each gets an
# orgdir.v1.Response whose message says the envelope is malformed.
req "$sock" --data "hello, directory"
expect_rc "nngcat text" 0
expect_out "nngcat text: answered" "malformed request"
head -c 65536 /dev/urandom >"$tmp/random.bin"
req "$tcp" --file "$tmp/random.bin"
expect_rc "nngcat 64 KiB of random bytes over tcp" 0
if [[ -s "$tmp/out" ]]; then ok; else bad "random bytes: no answer"; fi
: >"$tmp/empty.bin"
req "$sock" --file "$tmp/empty.bin"
expect_rc "nngcat empty message" 0
if [[ -s "$tmp/out" ]]; then ok; else bad "empty message: no answer"; fi
# Many at once, from many connections.
many=()
for i in $(seq 1 20); do
	"$NNGCAT" --req0 --dial "$tcp" --raw --recv-timeout 5 --data "garbage $i" \
		>"$tmp/many.$i" 2>&1 &
	many+=($!)
done
wait "${many[@]}" # not a bare wait: the server is a job of this shell too
n=0
for i in $(seq 1 20); do
	grep -qF "malformed request" "$tmp/many.$i" && n=$((n + 1))
done
rc=$n
expect_rc "20 garbage requests at once, all answered" 20

# Peers of other protocols: the server is not their peer (nng refuses the
# connection); their sends just time out.
for proto in --push0 --pair1 --pub0 --surveyor0 --rep0; do
	"$NNGCAT" "$proto" --dial "$tcp" --data "not a request" --send-timeout 1 \
		--recv-timeout 1 --count 3 >/dev/null 2>&1
done
ok

# A plain TCP client that does not speak SP: HTTP, a wrong SP header, then
# half a header left open while a call goes through.
python3 - "$port" <<'EOF' >"$tmp/out" 2>"$tmp/err"
import socket, sys, time
port = int(sys.argv[1])
def hit(data, keep=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    if keep:
        return s
    try:
        s.recv(64)
    except OSError:
        pass
    s.close()
hit(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
hit(b"\x00SP\x00\x00\x31\x00\x00")          # an SP header naming REP as the peer
hit(bytes(range(256)) * 64)
held = hit(b"\x00SP", keep=True)              # half a header, kept open
time.sleep(0.5)
print("sent")
held.close()
EOF
rc=$?
expect_rc "plain TCP garbage" 0
expect_out "plain TCP garbage: sent" "sent"

# Still serving, and nothing was lost.
ctl health
expect_rc "health after the garbage" 0
expect_out "health after the garbage: SERVING" "SERVING"
ctl unit get org
expect_rc "the unit is still there" 0
ctl unit add after --parent org --kind department --name en=After
expect_rc "a write after the garbage" 0
if kill -0 "$server_pid" 2>/dev/null; then ok; else bad "orgdird died"; fi
stop_servers
"$ORGDIRD" --check --data "$tmp/data" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc "the store checks clean" 0

finish
