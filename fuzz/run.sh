#!/usr/bin/env bash
# Runs every fuzz target for a bounded time over a scratch copy of its seed corpus, JOBS targets
# at a time. An input that crashes a target is kept in BUILD_DIR/fuzz/artifacts/.
# Usage: fuzz/run.sh BUILD_DIR SECONDS [JOBS]
set -euo pipefail
build=$1
seconds=$2
jobs=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz/artifacts"
mkdir -p "$artifacts"

run_one() {
  local name=$1 dir="$work/$1"
  mkdir -p "$dir/corpus"
  cp -r "$here/corpus/$name/." "$dir/corpus/" 2>/dev/null || true
  if "$build/fuzz/${name}_fuzzer" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/${name}-" "$dir/corpus" >"$dir/log" 2>&1; then
    echo "fuzz: $name for ${seconds}s"
    tail -n 4 "$dir/log"
  else
    echo "fuzz: $name FAILED (inputs in $artifacts)"
    tail -n 80 "$dir/log"
    return 1
  fi
}

failed=0
for fuzzer in "$build"/fuzz/*_fuzzer; do
  while (($(jobs -rp | wc -l) >= jobs)); do
    wait -n || failed=1
  done
  run_one "$(basename "$fuzzer" _fuzzer)" &
done
while (($(jobs -rp | wc -l) > 0)); do
  wait -n || failed=1
done
exit "$failed"
