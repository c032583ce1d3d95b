#!/usr/bin/env bash
# Agent outage benchmark: strata agent, vmagent and Prometheus in agent mode scrape the same
# targets (bench/agent/target.py: T ports x S series, every second) and remote-write to one
# VictoriaMetrics. The backend is stopped for the outage (SIGTERM: a SIGKILLed VictoriaMetrics
# loses the rows it acknowledged in its last seconds, which would be counted against the
# agents); halfway through it every agent is SIGKILLed and restarted on its data directory;
# then the backend comes back. The targets
# then stop serving data and each agent drains. Items lost per agent = samples the targets
# served it (scrapes x S) minus the distinct samples the backend holds for it.
# Prints a Markdown table (appended to bench/RESULTS.md with --record).
#
# Usage: bench/agent/outage.sh [--targets T] [--series S] [--outage 120s] [--runs R] [--record]
#        [--keep]  (keeps the work directory: logs and each agent's final /metrics)
# Needs: make build, and the peers (make deps-peers: victoria-metrics, vmagent, prometheus).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
strata="$root/build/strata"
targets=4
series=500
outage=120
runs=1
record=0
keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --targets) targets=$2; shift 2 ;;
    --series) series=$2; shift 2 ;;
    --outage) outage=${2%s}; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --record) record=1; shift ;;
    --keep) keep=1; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -x $strata ]] || { echo "build first: make build" >&2; exit 1; }
for b in victoria-metrics vmagent prometheus python3 curl; do
  command -v $b >/dev/null || { echo "$b missing: make deps-peers" >&2; exit 1; }
done

work=$(mktemp -d /tmp/strata-outage-bench-XXXXXX)
declare -A pid
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [[ $keep -eq 1 ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

vm_port=19600
target_port=19610
declare -A port=([strata]=19601 [vmagent]=19602 [prometheus]=19603)
target_list=$(for ((k = 0; k < targets; k++)); do printf "'127.0.0.1:%d'," $((target_port + k)); done)
target_list="[${target_list%,}]"

start_vm() {
  victoria-metrics -storageDataPath="$work/vm" -httpListenAddr="127.0.0.1:$vm_port" \
    -retentionPeriod=10y -loggerLevel=ERROR >>"$work/vm.log" 2>&1 &
  pid[vm]=$!
  wait_ready "$vm_port" /health
}
start_agent() {
  case $1 in
    strata)
      "$strata" agent --config "$work/strata.yaml" >>"$work/strata.log" 2>&1 & ;;
    vmagent)
      vmagent -promscrape.config="$work/vmagent.yaml" -httpListenAddr="127.0.0.1:${port[vmagent]}" \
        -remoteWrite.url="http://127.0.0.1:$vm_port/api/v1/write" \
        -remoteWrite.tmpDataPath="$work/vmagent-data" -remoteWrite.label=agent=vmagent \
        -loggerLevel=ERROR >>"$work/vmagent.log" 2>&1 & ;;
    prometheus)
      prometheus --enable-feature=agent --config.file="$work/prometheus.yaml" \
        --storage.agent.path="$work/prometheus-data" \
        --web.listen-address="127.0.0.1:${port[prometheus]}" --log.level=error \
        >>"$work/prometheus.log" 2>&1 & ;;
  esac
  pid[$1]=$!
}

cat >"$work/strata.yaml" <<YAML
server: {listen: "127.0.0.1:${port[strata]}", grpc_listen: ""}
data_dir: $work/strata-data
scrape_configs:
- job_name: bench
  scrape_interval: 1s
  static_configs: [{targets: $target_list}]
  relabel_configs: [{target_label: agent, replacement: strata}]
exporters:
- name: vm
  url: http://127.0.0.1:$vm_port/api/v1/write
  probe_url: http://127.0.0.1:$vm_port/health
YAML
cat >"$work/vmagent.yaml" <<YAML
global: {scrape_interval: 1s}
scrape_configs:
- job_name: bench
  static_configs: [{targets: $target_list}]
YAML
cat >"$work/prometheus.yaml" <<YAML
global: {scrape_interval: 1s, external_labels: {agent: prometheus}}
scrape_configs:
- job_name: bench
  static_configs: [{targets: $target_list}]
remote_write:
- url: http://127.0.0.1:$vm_port/api/v1/write
YAML

# Distinct (series, timestamp) samples of bench_series the backend holds per agent.
stored() {
  curl -sf "http://127.0.0.1:$vm_port/api/v1/export" --data-urlencode 'match[]=bench_series' |
    python3 -c '
import json, sys
count = {}
for line in sys.stdin:
    s = json.loads(line)
    # Staleness markers (exported as null) are not scraped samples.
    ts = {t for t, v in zip(s["timestamps"], s["values"]) if v is not None}
    agent = s["metric"].get("agent", "?")
    count[agent] = count.get(agent, 0) + len(ts)
print(json.dumps(count))'
}

results="$work/results.tsv"
: >"$results"
for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs: outage ${outage}s, $targets targets x $series series" >&2
  rm -rf "$work"/vm "$work"/*-data
  python3 "$here/target.py" "$target_port" "$targets" "$series" &
  pid[target]=$!
  wait_ready "$target_port" /served
  start_vm
  for a in strata vmagent prometheus; do start_agent "$a"; done
  sleep 15
  echo "backend down" >&2
  kill -TERM "${pid[vm]}"; wait "${pid[vm]}" 2>/dev/null || true
  sleep $((outage / 2))
  echo "agents SIGKILLed and restarted" >&2
  for a in strata vmagent prometheus; do kill -9 "${pid[$a]}"; wait "${pid[$a]}" 2>/dev/null || true; done
  for a in strata vmagent prometheus; do start_agent "$a"; done
  sleep $((outage - outage / 2))
  echo "backend back" >&2
  start_vm
  sleep 10
  curl -sf -X POST "http://127.0.0.1:$target_port/stop" >/dev/null
  served=$(curl -sf "http://127.0.0.1:$target_port/served")
  # Drain: until the backend's counts stop changing for 20 s (at most 10 minutes).
  last="" same=0
  for _ in $(seq 1 120); do
    now=$(stored)
    if [[ $now == "$last" ]]; then same=$((same + 1)); else same=0; fi
    [[ $same -ge 4 ]] && break
    last=$now
    sleep 5
  done
  echo "served scrapes: $served; stored samples: $last" >&2
  for a in strata vmagent prometheus; do
    curl -sf "http://127.0.0.1:${port[$a]}/metrics" >"$work/$a.metrics.$r" || true
  done
  python3 - "$served" "$last" "$series" "$outage" >>"$results" <<'PY'
import json, sys
served, stored, series, outage = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for agent in ("strata", "vmagent", "prometheus"):
    want = served.get(agent, 0) * series
    got = stored.get(agent, 0)
    print(f"{agent}\t{outage}\t{want}\t{got}\t{max(0, want - got)}")
PY
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pid=()
done

table=$(
  echo "| agent | outage | samples scraped | samples at the backend | lost | lost % |"
  echo "|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %ss | %d | %d | %d | %.2f%% |\n", $1, $2, $3, $4, $5, ($3 > 0 ? 100 * $5 / $3 : 0)}' "$results"
)
echo "$table"
if [[ $record -eq 1 ]]; then
  {
    echo
    echo "### Agent outage: loss across a backend outage with an agent restart ($(date -u +%F))"
    echo
    echo "\`bench/agent/outage.sh --targets $targets --series $series --outage ${outage}s --runs $runs\`"
    echo "(each agent scrapes $targets targets x $series series every second; backend stopped"
    echo "for ${outage}s, every agent SIGKILLed and restarted halfway; Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}'), vmagent $(dpkg-query -W -f='${Version}' "$(dpkg -S "$(command -v vmagent)" | cut -d: -f1)"))"
    echo
    echo "$table"
  } >>"$root/bench/RESULTS.md"
fi
