#!/usr/bin/env bash
# Runs every fuzz target for a bounded time over a scratch copy of its seed corpus.
# Usage: fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
for fuzzer in "$build"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$here/corpus/$name/." "$work/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$work" 2>&1 | tail -n 4
  rm -rf "$work"
done
