#!/usr/bin/env bash
# Faro receiver benchmark: build/bench/faro_push posts browser-like Faro Web SDK payloads
# (about 1.4 KB of JSON: meta, two logs, web vitals, an event; an exception in every 10th, a
# fetch trace in every 5th) to strata agent's /collect with a CORS origin, as the SDK's fetch
# transport does. The agent turns them into Loki lines and OTLP traces, fsyncs them into its
# two queues before answering 202, and forwards them to build/bench/agent_sink (which checks
# and counts, storing nothing). The agent is pinned to core 0; the load and the sink share
# core 1. Two runs per repetition: saturated (--concurrency connections as fast as answered)
# and paced (--rate requests/s); each reports requests/s, requests per agent CPU-second, the
# latency percentiles the senders saw (on the shared core 1, so they include waiting to be
# scheduled there) and the agent's own (its request-duration histogram). `faro_push --offline` times the receiver's own work per
# payload (decode, lines, the traces' protobuf, snappy) without HTTP or queues.
# Prints a Markdown table (appended to bench/RESULTS.md with --record).
#
# Usage: bench/faro/run.sh [--duration 15] [--concurrency 16] [--rate 5000] [--runs 3] [--record]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
strata="$root/build/strata"
sink="$root/build/bench/agent_sink"
push="$root/build/bench/faro_push"
duration=15
concurrency=16
rate=5000
runs=3
record=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --record) record=1; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
for b in "$strata" "$sink" "$push"; do
  [[ -x $b ]] || { echo "build first: make build ($b)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/strata-faro-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
sink_port=19610
agent_port=19611
origin=https://shop.example

cat >"$work/agent.yaml" <<YAML
data_dir: $work/agent
server: {listen: "127.0.0.1:$agent_port", grpc_listen: ""}
log: {level: warn}
receivers:
  faro:
    cors_allowed_origins: ["$origin"]
exporters:
- name: logs
  type: loki
  url: http://127.0.0.1:$sink_port/loki/api/v1/push
- name: traces
  type: otlp_http
  url: http://127.0.0.1:$sink_port/otlp
  signals: [traces]
YAML

results="$work/results.tsv"
: >"$results"
# run_one NAME [faro_push flags...]: one agent, one load; appends a row to $results.
run_one() {
  local name=$1
  shift
  rm -rf "$work/agent"
  taskset -c 1 "$sink" --listen "127.0.0.1:$sink_port" >"$work/sink.log" 2>&1 &
  local sink_pid=$!
  pids+=("$sink_pid")
  wait_ready "$sink_port" /health
  taskset -c 0 "$strata" agent --config "$work/agent.yaml" >"$work/agent.log" 2>&1 &
  local agent=$!
  pids+=("$agent")
  wait_ready "$agent_port" /-/ready
  local cpu0 cpu1 out
  cpu0=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$agent/stat)
  out=$(taskset -c 1 "$push" --url "http://127.0.0.1:$agent_port/collect" --origin "$origin" \
        --duration "$duration" "$@")
  cpu1=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$agent/stat)
  echo "[$name] $out" >&2
  # The agent's own view (request read to response written): the share within 5 ms, and the
  # histogram bucket holding the 99th percentile.
  local agent_view
  agent_view=$(curl -sf "http://127.0.0.1:$agent_port/metrics" | python3 -c '
import re, sys
b = {}
for l in sys.stdin:
    m = re.match(r"strata_agent_http_request_duration_seconds_bucket\{.*le=\"([^\"]+)\".*route=\"/collect\".*\} (\S+)", l) or \
        re.match(r"strata_agent_http_request_duration_seconds_bucket\{.*route=\"/collect\".*le=\"([^\"]+)\".*\} (\S+)", l)
    if m:
        b[float(m.group(1))] = float(m.group(2))
total = b[float("inf")]
p99 = min(le for le, n in b.items() if n >= 0.99 * total)
print("%.2f\t%g" % (100 * b[0.005] / total, p99 * 1000))')
  kill -TERM "$agent" "$sink_pid"
  wait "$agent" "$sink_pid" 2>/dev/null || true
  pids=()
  local acked rps p50 p99
  acked=$(echo "$out" | sed -n 's/.*requests_acked=\([0-9]*\).*/\1/p')
  rps=$(echo "$out" | sed -n 's/.*requests_per_sec=\([0-9]*\).*/\1/p')
  p50=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
  p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" \
    "$(awk -v a="$acked" -v c0="$cpu0" -v c1="$cpu1" 'BEGIN {printf "%.0f", a / (c1 - c0)}')" \
    "$p50" "$p99" "$agent_view" >>"$results"
}

for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs" >&2
  run_one saturated --concurrency "$concurrency"
  run_one "paced at $rate/s" --concurrency "$concurrency" --rate "$rate"
done
offline=$(taskset -c 0 "$push" --offline --duration 5)
echo "[offline] $offline" >&2

report=$(python3 - "$results" "$runs" "$offline" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
runs, offline = int(sys.argv[2]), sys.argv[3]
by = {}
for r in rows:
    by.setdefault(r[0], []).append([float(x) for x in r[1:]])
label = "median of %d runs" % runs if runs > 1 else "1 run"
print("| strata agent, Faro receiver (%s) | requests/s (agent on 1 core) | requests per agent CPU-second | sender's p50 ms | sender's p99 ms | agent: answered within 5 ms | agent: p99 at most (ms) |" % label)
print("|---|---:|---:|---:|---:|---:|---:|")
for k, v in by.items():
    med = [statistics.median(col) for col in zip(*v)]
    print("| %s | %.0f | %.0f | %.2f | %.2f | %.2f%% | %g |" % (k, *med))
kv = dict(x.split("=") for x in offline.split())
print()
print("The receiver's own work (`faro_push --offline`: decode, lines, traces' protobuf, snappy): "
      "%s µs per payload, %s payloads per CPU-second." % (kv["us_per_payload"], kv["payloads_per_cpu_second"]))
PY
)
echo "$report"
if [[ $record == 1 ]]; then
  {
    echo
    echo "### Faro receiver ($(date -u +%Y-%m-%d), duration=${duration}s concurrency=$concurrency rate=$rate runs=$runs)"
    echo
    echo "Command: \`bench/faro/run.sh --duration $duration --concurrency $concurrency --rate $rate --runs $runs\`"
    echo
    echo "$report"
  } >>"$root/bench/RESULTS.md"
fi
