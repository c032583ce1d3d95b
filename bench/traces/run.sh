#!/usr/bin/env bash
# Traces benchmark: trace-by-ID over many trace blocks in a real S3 server (bench/traces/run.py
# measures ingest and bytes at rest beside ClickHouse). Starts
# s3rver (npm, installed under build/peers as the tests install it) on loopback with its
# data in a temporary directory, runs build/bench/trace_lookup_bench against it, stops it.
#
# Usage: bench/traces/run.sh [trace_lookup_bench flags: --blocks 1000 --traces-per-block 500 ...]
# KEEP=1 keeps the temporary directory (s3rver's data and log) for a look afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bench="$root/build/bench/trace_lookup_bench"
[[ -x $bench ]] || { echo "build first: make build" >&2; exit 1; }
peers="$root/build/peers"
"$root/tests/peers/install-s3rver.sh" "$peers"

work=$(mktemp -d /tmp/strata-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3"
# The legacy provider gives s3rver the DES its listings of over 1,000 keys need.
node --openssl-legacy-provider "$peers/node_modules/s3rver/bin/s3rver.js" -d "$work/s3" -a 127.0.0.1 -p "$port" \
  --configure-bucket strata --silent >"$work/s3rver.log" 2>&1 &
s3pid=$!
trap 'kill $s3pid 2>/dev/null; wait $s3pid 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
"$bench" --s3 "http://127.0.0.1:$port" "$@"
