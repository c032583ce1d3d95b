#!/usr/bin/env python3
"""Strata's PromQL against Debian's Prometheus, over the same data, through the HTTP API.

Starts Strata and Prometheus (remote-write receiver on) on loopback, writes the same
generated data to both with `strata tool loadgen` (fixed seed and start time: node_exporter-
like counters and gauges plus classic latency histograms), then runs a corpus of queries --
every function Prometheus 2.42 has, every operator and aggregation, offsets, @, subqueries,
regex matchers -- as instant and range queries on both. Results must match: same result type,
same label sets, same timestamps, values within 1e-9 relative, NaN and +-Inf identical.

Debian ships Prometheus 2.42; Strata follows 3.x. The corpus avoids only the corners where the
two differ: samples exactly on a range or lookback boundary (3.x excludes the left end; all
evaluation times here sit 7.5 s off the scrape grid), functions added after 2.42
(sort_by_label, limitk, limit_ratio, mad_over_time, ts_of_*), holt_winters' new name
double_exponential_smoothing (translated for Prometheus), atan2 keeping the metric name
(fixed in 2.46), nested subqueries whose inner range is a multiple of the outer step
(aligned points on the left end), and grouping by __name__ after a name-dropping function
(3.x removes names at the end of the query).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from peers import free_port, get, stop_all, wait_http

SERIES = 610          # four hosts of loadgen's node_exporter-like series with histograms
INTERVAL_S = 15
ROUNDS = 480          # two hours
REL_TOLERANCE = 1e-9

COUNTERS = ["node_cpu_seconds_total", "node_network_receive_bytes_total",
            "node_disk_read_bytes_total", "node_context_switches_total"]
GAUGES = ["node_load1", "node_memory_MemFree_bytes", "node_filesystem_avail_bytes", "node_procs_running"]
SELECTORS = [
    'node_cpu_seconds_total{mode="idle"}',
    'node_cpu_seconds_total{mode=~"user|system", cpu!="0"}',
    'node_network_receive_bytes_total{device!~"lo|docker.*"}',
    '{__name__=~"node_load.*"}',
    'node_filesystem_avail_bytes{mountpoint=~"/.*", fstype!="tmpfs"}',
    'node_disk_read_bytes_total{device=~"nvme.+"}',
]
RANGE_FUNCS = ["rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes",
               "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
               "count_over_time", "last_over_time", "present_over_time", "stddev_over_time",
               "stdvar_over_time", "absent_over_time"]
MATH_FUNCS = ["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "round",
              "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
              "acosh", "atanh", "deg", "rad", "timestamp", "minute", "hour", "day_of_week",
              "day_of_month", "day_of_year", "days_in_month", "month", "year"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]


def corpus():
    q = []
    for f in RANGE_FUNCS:
        for sel in (COUNTERS[0] + '{cpu="1"}', COUNTERS[1], GAUGES[0], SELECTORS[1]):
            for rng in ("1m", "5m", "17m"):
                q.append(f"{f}({sel}[{rng}])")
    q += [f"quantile_over_time({p}, {GAUGES[1]}[10m])" for p in ("0", "0.5", "0.99", "1", "-1", "2")]
    q += [f"predict_linear({GAUGES[2]}[30m], {t})" for t in ("0", "600", "3600")]
    q += [f"double_exponential_smoothing({GAUGES[0]}[10m], {a}, {b})" for a, b in (("0.3", "0.5"), ("0.9", "0.1"))]
    for f in MATH_FUNCS:
        q.append(f"{f}(rate({COUNTERS[0]}{{mode=\"user\"}}[5m]))")
        q.append(f"{f}({GAUGES[0]} / 3)")
    q += ["round(node_load1, 0.25)", "round(node_load5, 5)", "clamp(node_load1, 0.5, 1.5)",
          "clamp_min(node_load5, 1)", "clamp_max(node_load15, 1)", "clamp(node_load1, 2, 1)",
          "minute()", "hour()", "vector(time())", "time() - 60", "scalar(sum(node_load1))",
          "scalar(node_load1)", "vector(1) + 2", "pi()", "absent(node_load1)",
          'absent(nonexistent{job="x", a=~"b"})', 'absent_over_time(nonexistent{job="y"}[5m])',
          "timestamp(node_load1)", "timestamp(node_load1 offset 1m)"]
    for agg in AGGS:
        for grouping in ("", " by (instance)", " without (cpu)", " by (mode, instance)", " by ()"):
            q.append(f"{agg}{grouping} (rate({COUNTERS[0]}[5m]))")
        q.append(f"{agg}(node_filesystem_avail_bytes) by (mountpoint)")
    for k in ("1", "3", "0", "100"):
        q.append(f"topk({k}, rate({COUNTERS[0]}[5m]))")
        q.append(f"bottomk by (instance) ({k}, node_filesystem_avail_bytes)")
    q += [f"quantile({p}, rate({COUNTERS[0]}[5m]))" for p in ("0", "0.25", "0.5", "0.9", "1")]
    q += ["quantile by (mode) (0.9, rate(node_cpu_seconds_total[5m]))",
          'count_values("value", node_procs_running)', 'count_values by (instance) ("v", ceil(node_load1))']
    for p in ("0.5", "0.9", "0.99", "0", "1"):
        q.append(f"histogram_quantile({p}, rate(http_request_duration_seconds_bucket[5m]))")
        q.append(f"histogram_quantile({p}, sum by (le, handler) (rate(http_request_duration_seconds_bucket[10m])))")
    q += ["histogram_quantile(0.9, sum by (le) (increase(http_request_duration_seconds_bucket[1h])))",
          "sum by (handler) (rate(http_request_duration_seconds_bucket{le=\"0.1\"}[5m])) / "
          "sum by (handler) (rate(http_request_duration_seconds_count[5m]))"]
    ops = ["+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<="]
    for op in ops:
        # 2.42 kept the metric name on atan2 (fixed in 2.46): compare it under an aggregation.
        wrap = (lambda e: f"sum by (instance) ({e})") if op == "atan2" else (lambda e: e)
        q.append(wrap(f"node_load1 {op} node_load5"))
        q.append(wrap(f"node_load1 {op} 1.2"))
        q.append(wrap(f"0.8 {op} node_load15"))
        if op in ("==", "!=", ">", "<", ">=", "<="):
            q.append(f"node_load1 {op} bool node_load5")
            q.append(f"2 {op} bool 1")
        else:
            q.append(f"2 {op} 3")
    q += ["rate(node_cpu_seconds_total[5m]) / on(instance) group_left node_load1",
          "node_load1 * on(instance) group_right rate(node_cpu_seconds_total{mode=\"idle\"}[5m])",
          "rate(node_cpu_seconds_total[5m]) / ignoring(cpu, mode) group_left node_load1",
          "sum by (instance, mode) (rate(node_cpu_seconds_total[5m])) / ignoring(mode) group_left "
          "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
          "node_filesystem_avail_bytes / node_filesystem_size_bytes",
          "node_filesystem_avail_bytes / on(instance, mountpoint) node_filesystem_size_bytes",
          "1 - node_filesystem_avail_bytes / node_filesystem_size_bytes > 0.3",
          "node_load1 > on(instance) node_load5",
          "node_load1 and node_load5 > 1", "node_load1 or node_load5", "node_load1 unless node_load1 > 1",
          "node_load1 and on(instance) node_procs_running > 3",
          "node_load1 or on() vector(1)", "node_load1 unless ignoring(job) node_load5 > 10",
          "-node_load1", "-(node_load1 + 1) * 2 ^ 2", "- -node_load1", "2 ^ 3 ^ 2", "(1 + 2) * 3 % 4",
          "node_load1 + node_load1 offset 5m", "node_load1 offset -5m", "rate(node_cpu_seconds_total[5m] offset 10m)",
          "sum(rate(node_cpu_seconds_total[5m] offset 1h))", "delta(node_load1[10m] offset 30m)"]
    for sel in SELECTORS:
        q.append(sel)
        q.append(f"count({sel})")
        q.append(f"sum by (instance) (rate({sel}[5m]))" if "load" not in sel and "avail" not in sel
                 else f"avg by (instance) ({sel})")
    q += ['label_replace(node_load1, "host", "$1", "instance", "(.*):.*")',
          'label_replace(node_load1, "instance", "", "instance", ".*")',
          'label_replace(rate(node_cpu_seconds_total{cpu="0"}[5m]), "x", "${1}-$2", "mode", "(.)(.*)")',
          'label_join(node_load1, "id", "/", "job", "instance")',
          'label_join(node_load1, "job", "", "instance")',
          "sort(node_load1)", "sort_desc(node_load5)"]
    # Subqueries, with and without a step, nested, with offsets.
    q += ["max_over_time(rate(node_cpu_seconds_total{cpu=\"2\"}[5m])[30m:1m])",
          "avg_over_time(node_load1[20m:2m])", "min_over_time(node_load1[10m:])",
          "rate(node_context_switches_total[10m:30s])", "sum_over_time(node_load5[15m:1m] offset 10m)",
          "max_over_time(sum by (instance) (rate(node_cpu_seconds_total[5m]))[1h:5m])",
          # Inner windows 5m30s: aligned subquery points never sit on a window's left end.
          "deriv(avg_over_time(node_load1[5m30s:1m])[30m:2m])",
          "quantile_over_time(0.5, rate(node_network_receive_bytes_total[5m])[20m:1m])"]
    return q


def translate_for_prometheus242(query):
    return query.replace("double_exponential_smoothing(", "holt_winters(")


def run(base, path, params):
    data = urllib.parse.urlencode(params).encode()
    try:
        return json.loads(get(f"{base}{path}", timeout=60, data=data))
    except urllib.error.HTTPError as e:
        return json.loads(e.read().decode())


def canonical(resp):
    """Result as {labels: [(t, value), ...]} for comparison (order-insensitive)."""
    data = resp["data"]
    kind = data["resultType"]
    out = {}
    if kind in ("scalar", "string"):
        out["<scalar>"] = [(round(float(data["result"][0]) * 1000), data["result"][1])]
        return kind, out
    for r in data["result"]:
        key = json.dumps(r["metric"], sort_keys=True)
        pts = [r["value"]] if kind == "vector" else r["values"]
        out[key] = [(round(float(t) * 1000), v) for t, v in pts]
    return kind, out


def same(a, b):
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    if fa == fb:
        return True
    return abs(fa - fb) <= REL_TOLERANCE * max(abs(fa), abs(fb))


def compare(query, s, p):
    if s["status"] != p["status"]:
        return f"status strata={s['status']} ({s.get('error')}) prometheus={p['status']} ({p.get('error')})"
    if s["status"] != "success":
        return None
    sk, sv = canonical(s)
    pk, pv = canonical(p)
    if sk != pk:
        return f"resultType strata={sk} prometheus={pk}"
    if set(sv) != set(pv):
        only_s = sorted(set(sv) - set(pv))[:2]
        only_p = sorted(set(pv) - set(sv))[:2]
        return f"series differ: strata-only {only_s} prometheus-only {only_p}"
    for key, pts in pv.items():
        mine = sv[key]
        if len(mine) != len(pts):
            return f"{key}: {len(mine)} points vs {len(pts)}"
        for (ts, vs), (tp, vp) in zip(mine, pts):
            if ts != tp or not same(vs, vp):
                return f"{key}: at {tp} strata {vs}@{ts} prometheus {vp}"
    return None


def promtool_checks(strata, prom, t):
    """The real promtool against both servers: its output must be identical."""
    if not shutil.which("promtool"):
        return ["promtool is not installed (it comes with the prometheus package)"]
    commands = [
        # No sums here: 3.x sums with Kahan compensation, 2.42 does not (last-digit differences).
        ["query", "instant", "--time", str(t), "{server}", "max by (mode) (rate(node_cpu_seconds_total[5m]))"],
        ["query", "instant", "--time", str(t), "{server}", "topk(3, node_filesystem_avail_bytes)"],
        ["query", "instant", "-o", "json", "--time", str(t), "{server}", "histogram_quantile(0.9, "
         "max by (le) (rate(http_request_duration_seconds_bucket[5m])))"],
        ["query", "range", "--start", str(t - 600), "--end", str(t), "--step", "60s", "{server}",
         "avg by (instance) (node_load1)"],
        ["query", "series", "--match", 'node_load1', "--match", '{__name__="node_load5"}', "{server}"],
        ["query", "labels", "{server}", "mountpoint"],
        ["query", "labels", "--match", "node_load1", "{server}", "__name__"],
    ]
    problems = []
    for cmd in commands:
        outs = []
        for server in (strata, prom):
            r = subprocess.run(["promtool"] + [server if a == "{server}" else a for a in cmd],
                               capture_output=True, text=True, timeout=60)
            outs.append((r.returncode, r.stdout))
        if outs[0] != outs[1] or outs[0][0] != 0 or not outs[0][1].strip():
            problems.append(f"promtool {' '.join(cmd)}: strata {outs[0]!r:.300} prometheus {outs[1]!r:.300}")
    print(f"promtool: {len(commands)} commands against both servers")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    args = ap.parse_args()
    if not shutil.which("prometheus"):
        print("prometheus is not installed (make deps-peers installs it)")
        return 1
    work = tempfile.mkdtemp(prefix="strata-diff-")
    procs = []
    try:
        s_port, p_port = free_port(), free_port()
        logs = {n: open(os.path.join(work, n + ".log"), "w") for n in ("strata", "prom")}
        procs.append(subprocess.Popen([args.strata, "serve", "--data-dir", os.path.join(work, "strata"),
                                       "--listen", f"127.0.0.1:{s_port}", "--grpc-listen", ""],
                                      stdout=logs["strata"], stderr=subprocess.STDOUT))
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  evaluation_interval: 1m\n")
        procs.append(subprocess.Popen(["prometheus", f"--config.file={config}",
                                       f"--storage.tsdb.path={os.path.join(work, 'prom')}",
                                       f"--web.listen-address=127.0.0.1:{p_port}",
                                       "--web.enable-remote-write-receiver", "--log.level=warn"],
                                      stdout=logs["prom"], stderr=subprocess.STDOUT))
        strata, prom = f"http://127.0.0.1:{s_port}", f"http://127.0.0.1:{p_port}"
        wait_http(strata + "/-/ready")
        wait_http(prom + "/-/ready")

        # Data on a 15 s grid ending a few minutes ago; evaluation 7.5 s off that grid.
        start = (int(time.time()) // 3600 - 3) * 3600
        loads = [subprocess.Popen([args.strata, "tool", "loadgen", "--url", f"{base}/api/v1/{path}",
                                   "--series", str(SERIES), "--rounds", str(ROUNDS), "--interval",
                                   f"{INTERVAL_S}s", "--start-time", str(start), "--concurrency", "2",
                                   "--seed", "7"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for base, path in ((strata, "push"), (prom, "write"))]
        for l in loads:
            out, _ = l.communicate(timeout=600)
            responses = [line for line in out.splitlines() if line.startswith("loadgen: responses:")]
            codes = responses[0].split(":", 2)[2].split() if responses else []
            if l.returncode != 0 or not codes or any(not c.startswith("204=") for c in codes):
                print("loadgen failed:\n" + out)
                return 1

        t_end = start + ROUNDS * INTERVAL_S - 60
        instant_times = [t_end + 7.5, t_end - 1800 + 7.5, start + 3600 + 7.5]
        range_params = {"start": t_end - 3600 + 7.5, "end": t_end + 7.5, "step": "60"}
        queries = corpus()
        problems, evaluated = [], 0
        for q in queries:
            pq = translate_for_prometheus242(q)
            cases = [({"query": q, "time": t}, {"query": pq, "time": t}, "/api/v1/query") for t in instant_times]
            cases.append(({"query": q, **range_params}, {"query": pq, **range_params}, "/api/v1/query_range"))
            for sp, pp, path in cases:
                evaluated += 1
                why = compare(q, run(strata, path, sp), run(prom, path, pp))
                if why:
                    problems.append(f"{path} {q} @ {sp.get('time', 'range')}: {why}")
        print(f"compared {len(queries)} queries in {evaluated} evaluations (instant at 3 times, range "
              f"over 1h at 60s) on {SERIES} series x {ROUNDS} samples")
        problems += promtool_checks(strata, prom, t_end)
        if problems:
            print(f"{len(problems)} mismatches:")
            for p in problems[:40]:
                print("  " + p)
            return 1
        print("promql differential test: OK")
        return 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
