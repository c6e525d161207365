#!/usr/bin/env bash
# Fails when a tracked C file differs from .clang-format's layout.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files checked"
