#!/usr/bin/env bash
# Agent forwarding benchmark: `strata tool loadgen` pushes remote write into an agent (strata
# agent, then vmagent), which queues it on disk and forwards it to a remote-write receiver that
# checks and counts what it gets but stores nothing (build/bench/agent_sink: with a database as
# the backend, on this 2-core machine the database is the limit, not the agent). The agent is
# pinned to core 0; loadgen and the receiver share core 1. Measures samples/s delivered to the
# receiver (until the agent's backlog is drained), samples per CPU-second the agent spent
# (receive + disk queue + send) and the agent's peak RSS.
# Prints a Markdown table (appended to bench/RESULTS.md with --record).
#
# Usage: bench/agent/run.sh [--series N] [--duration 60s] [--concurrency C] [--runs R] [--record]
# Needs: make build, and vmagent (make deps-peers installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
strata="$root/build/strata"
sink="$root/build/bench/agent_sink"
series=100000
duration=60s
concurrency=4
runs=1
record=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --series) series=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --record) record=1; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -x $strata && -x $sink ]] || { echo "build first: make build" >&2; exit 1; }
for b in vmagent taskset curl; do
  command -v $b >/dev/null || { echo "$b missing: make deps-peers" >&2; exit 1; }
done

work=$(mktemp -d /tmp/strata-agent-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

backend_port=19500
agent_port=19501
# Samples the backend received so far.
backend_rows() {
  curl -sf "http://127.0.0.1:$backend_port/metrics" | awk '/^agent_sink_samples_total / {print $2}'
}

results="$work/results.tsv"
: >"$results"
run_one() {
  local name=$1 path=$2 ready=$3
  shift 3
  rm -rf "${work:?}/$name"
  mkdir -p "$work/$name"
  taskset -c 1 "$sink" --listen "127.0.0.1:$backend_port" >"$work/sink.log" 2>&1 &
  local backend=$!
  pids+=("$backend")
  wait_ready "$backend_port" /health
  taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
  local agent=$!
  pids+=("$agent")
  wait_ready "$agent_port" "$ready"
  local start out
  start=$(date +%s.%N)
  out=$(taskset -c 1 "$strata" tool loadgen --url "http://127.0.0.1:$agent_port$path" \
        --series "$series" --duration "$duration" --concurrency "$concurrency" --batch 2000 \
        --start-offset 2h)
  echo "$out" | sed "s/^/[$name] /" >&2
  local acked received
  acked=$(echo "$out" | sed -n 's/.*samples_acked=\([0-9]*\).*/\1/p')
  received=$(echo "$out" | sed -n 's/.*samples_per_sec=\([0-9]*\).*/\1/p')
  # Delivered: wait until the backend holds everything the agent acknowledged.
  local rows=0 end
  for _ in $(seq 1 3000); do
    rows=$(backend_rows)
    [[ ${rows:-0} -ge $acked ]] && break
    sleep 0.1
  done
  end=$(date +%s.%N)
  local hwm cpu
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$agent/status)
  # utime + stime of the agent, in seconds
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' /proc/$agent/stat)
  kill -TERM "$agent" "$backend"
  wait "$agent" "$backend" 2>/dev/null || true
  pids=()
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$received" \
    "$(awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", r / (e - s)}')" \
    "$acked" "$rows" "$((hwm / 1024))" "$(awk -v r="$rows" -v c="$cpu" 'BEGIN {printf "%.0f", r / c}')" \
    >>"$results"
}

cat >"$work/strata-agent.yaml" <<YAML
data_dir: $work/strata-agent
server: {grpc_listen: ""}
exporters:
- name: sink
  url: http://127.0.0.1:$backend_port/api/v1/write
YAML
for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs" >&2
  run_one strata-agent /api/v1/write /-/ready \
    "$strata" agent --config "$work/strata-agent.yaml" --listen "127.0.0.1:$agent_port" \
    --log.level warn
  run_one vmagent /api/v1/write /health \
    vmagent -httpListenAddr="127.0.0.1:$agent_port" \
    -remoteWrite.url="http://127.0.0.1:$backend_port/api/v1/write" \
    -remoteWrite.tmpDataPath="$work/vmagent" -loggerLevel=ERROR
done

report=$(python3 - "$results" "$runs" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
runs = int(sys.argv[2])
by = {}
for r in rows:
    by.setdefault(r[0], []).append([float(x) for x in r[1:]])
med = {k: [statistics.median(col) for col in zip(*v)] for k, v in by.items()}
label = "median of %d runs" % runs if runs > 1 else "1 run"
print("| agent (%s) | received samples/s | delivered samples/s (agent on 1 core) | samples acked | samples at backend | peak RSS MiB | samples per agent CPU-second |" % label)
print("|---|---:|---:|---:|---:|---:|---:|")
for k in ("strata-agent", "vmagent"):
    print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (k, *med[k]))
s, v = med["strata-agent"], med["vmagent"]
if runs > 1:
    print()
    print("Delivered samples/s of every run: " + "; ".join(
        "%s %s" % (k, ", ".join("%.0f" % x[1] for x in by[k])) for k in ("strata-agent", "vmagent")))
print()
print("strata agent / vmagent: delivered throughput %.2fx, samples per CPU-second %.2fx, peak RSS %.2fx"
      % (s[1] / v[1], s[5] / v[5], s[4] / v[4]))
PY
)
echo "$report"
if [[ $record == 1 ]]; then
  {
    echo
    echo "### Agent forwarding ($(date -u +%Y-%m-%d), series=$series duration=$duration concurrency=$concurrency runs=$runs)"
    echo
    echo "Command: \`bench/agent/run.sh --series $series --duration $duration --concurrency $concurrency --runs $runs\`"
    echo
    echo "$report"
  } >>"$root/bench/RESULTS.md"
fi
