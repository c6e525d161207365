#!/usr/bin/env bash
# Installs the Debian 12 packages orgdir builds, runs and tests with.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
  libnng-dev liblmdb-dev libutf8proc-dev libjansson-dev libcmocka-dev
  iso-codes lmdb-utils nng-utils python3 valgrind clang-format git openssl clang libclang-rt-14-dev gdb
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
