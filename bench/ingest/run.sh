#!/usr/bin/env bash
# Ingest benchmark: the same `strata tool loadgen` load against Strata, VictoriaMetrics and
# Prometheus, each server pinned to core 0 and loadgen to core 1, one after another in one run.
# Prints a Markdown table (and appends it to bench/RESULTS.md with --record).
#
# Usage: bench/ingest/run.sh [--series N] [--duration 60s] [--concurrency C] [--runs R] [--record]
# With --runs R the three servers take turns R times and the table shows per-column medians.
# --baseline BIN adds another Strata binary (a build of an earlier commit) as "strata-before",
# run in turn with the others, to show a change's effect side by side.
# --native-histograms adds the same number of native histogram series (loadgen
# --native-histograms: 12 buckets each) sent to Strata and to Prometheus (native-histograms
# enabled) as "strata-native" and "prometheus-native"; VictoriaMetrics does not store them.
# Needs: make build, and the peers (make deps-peers installs victoria-metrics and prometheus).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
strata="$root/build/strata"
series=1000000
duration=60s
concurrency=8
runs=1
record=0
baseline=""
native=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --series) series=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --record) record=1; shift ;;
    --baseline) baseline=$2; shift 2 ;;
    --native-histograms) native=1; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ -x $strata ]] || { echo "build first: make build" >&2; exit 1; }
[[ -z $baseline || -x $baseline ]] || { echo "--baseline $baseline is not an executable" >&2; exit 1; }
for b in victoria-metrics prometheus taskset; do
  command -v $b >/dev/null || { echo "$b missing: make deps-peers" >&2; exit 1; }
done

# loadgen starts its samples this far in the past and sends as fast as the server takes them
# until it catches up with real time, after which it waits for the clock like a real sender.
# Leave room for 3M samples/s over the whole run (at least 2h): a server that caught up
# would be measured waiting, not working.
case $duration in
  *m) duration_s=$((${duration%m} * 60)) ;;
  *s) duration_s=${duration%s} ;;
  *) echo "--duration wants seconds or minutes (30s, 2m), got $duration" >&2; exit 2 ;;
esac
rounds=$(((3000000 * duration_s + series - 1) / series))
offset_min=$(((rounds * 15 + 59) / 60))
((offset_min < 120)) && offset_min=120

work=$(mktemp -d /tmp/strata-bench-XXXXXX)
pid=""
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=19400

results="$work/results.tsv"
: >"$results"
loadgen_extra=()
run_one() {
  local name=$1 path=$2 ready=$3
  shift 3
  local data="$work/$name"
  rm -rf "$data"
  mkdir -p "$data"
  taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  wait_ready "$port" "$ready"
  local out
  out=$(taskset -c 1 "$strata" tool loadgen --url "http://127.0.0.1:$port$path" --series "$series" \
        --duration "$duration" --concurrency "$concurrency" --batch 2000 --start-offset "${offset_min}m" \
        ${loadgen_extra[@]+"${loadgen_extra[@]}"})
  echo "$out" | sed "s/^/[$name] /" >&2
  local rate acked hwm rss
  rate=$(echo "$out" | sed -n 's/.*samples_per_sec=\([0-9]*\).*/\1/p')
  acked=$(echo "$out" | sed -n 's/.*samples_acked=\([0-9]*\).*/\1/p')
  errors=$(echo "$out" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  local disk
  disk=$(du -sb "$data" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rate" "$acked" "$errors" "$((hwm / 1024))" \
    "$((rss * 1024 / series))" "$(awk -v d="$disk" -v a="$acked" 'BEGIN {printf "%.2f", (a > 0 ? d / a : 0)}')" >>"$results"
}

printf 'global:\n  scrape_interval: 1m\n' >"$work/prometheus.yml"
for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs" >&2
  run_one strata /api/v1/push /-/ready \
    "$strata" serve --config "$here/strata.yml" --data-dir "$work/strata" --listen "127.0.0.1:$port" \
    --log.level warn
  if [[ -n $baseline ]]; then
    run_one strata-before /api/v1/push /-/ready \
      "$baseline" serve --config "$here/strata.yml" --data-dir "$work/strata-before" \
      --listen "127.0.0.1:$port" --log.level warn
  fi
  run_one victoriametrics /api/v1/write /health \
    victoria-metrics -storageDataPath="$work/victoriametrics" -httpListenAddr="127.0.0.1:$port" \
    -retentionPeriod=10y -loggerLevel=ERROR
  run_one prometheus /api/v1/write /-/ready \
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver --log.level=warn
  if [[ $native == 1 ]]; then
    loadgen_extra=(--native-histograms)
    run_one strata-native /api/v1/push /-/ready \
      "$strata" serve --config "$here/strata.yml" --data-dir "$work/strata-native" \
      --listen "127.0.0.1:$port" --log.level warn
    run_one prometheus-native /api/v1/write /-/ready \
      prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-native" \
      --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver --log.level=warn \
      --enable-feature=native-histograms
    loadgen_extra=()
  fi
done

# Medians per server and column, then the ratios the issue's targets are stated in.
report=$(python3 - "$results" "$runs" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
runs = int(sys.argv[2])
by = {}
for r in rows:
    by.setdefault(r[0], []).append([float(x) for x in r[1:]])
med = {k: [statistics.median(col) for col in zip(*v)] for k, v in by.items()}
label = "median of %d runs" % runs if runs > 1 else "1 run"
print("| server (%s) | samples/s (1 core) | samples acked | errors | peak RSS MiB | RSS bytes / active series | disk bytes / sample |" % label)
print("|---|---:|---:|---:|---:|---:|---:|")
servers = [k for k in ("strata", "strata-before", "victoriametrics", "prometheus",
                       "strata-native", "prometheus-native") if k in by]
for k in servers:
    m = med[k]
    print("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |" % (k, *m))
s, v, p = med["strata"], med["victoriametrics"], med["prometheus"]
if runs > 1:
    print()
    print("Samples/s of every run: " + "; ".join(
        "%s %s" % (k, ", ".join("%.0f" % x[0] for x in by[k])) for k in servers))
print()
print("Strata/VictoriaMetrics throughput: %.2fx; Strata/Prometheus throughput: %.2fx; "
      "Strata/Prometheus memory per active series: %.2fx" % (s[0] / v[0], s[0] / p[0], s[4] / p[4]))
if "strata-native" in med:
    n, pn = med["strata-native"], med["prometheus-native"]
    print("Native histograms (12 buckets, one sample each) against floats, Strata: samples/s "
          "%.2fx, disk bytes per sample %.2fx; Strata/Prometheus on native histograms: "
          "throughput %.2fx, memory per active series %.2fx"
          % (n[0] / s[0], n[5] / s[5], n[0] / pn[0], n[4] / pn[4]))
if "strata-before" in med:
    b = med["strata-before"]
    print("Strata/strata-before (the baseline binary): throughput %.2fx, peak RSS %.2fx, "
          "disk bytes per sample %.2fx" % (s[0] / b[0], s[3] / b[3], s[5] / b[5]))
PY
)
echo "$report"
if [[ $record == 1 ]]; then
  {
    echo
    echo "### Ingest, $(date -u +%Y-%m-%d) ($series series, $duration, $concurrency connections, $runs runs)"
    echo
    echo "Command: \`bench/ingest/run.sh --series $series --duration $duration --concurrency $concurrency --runs $runs${baseline:+ --baseline $baseline}$([[ $native == 1 ]] && echo " --native-histograms") --record\`"
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); servers pinned to core 0, loadgen to core 1; Strata with fsync before every acknowledgement (group commit)."
    echo
    echo "$report"
  } >>"$root/bench/RESULTS.md"
fi
