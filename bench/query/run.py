#!/usr/bin/env python3
"""Query benchmark: the same data in Strata, Prometheus and VictoriaMetrics, the same queries.

Loads N series x H hours at 15 s (strata tool loadgen: node_exporter-like counters and gauges
plus classic latency histograms, fixed seed and start time) into all three servers, then runs
a dashboard-like query mix -- rate, sum by, histogram_quantile, topk, regex selectors,
*_over_time, binary joins -- as range queries at 15 s and 60 s steps and as instant queries.
Systems take turns query by query (fair on a noisy machine). Reports median and p95 latency
per query family and system, and each server's peak RSS during the query phase (VmHWM reset
after loading). Results of Strata and Prometheus are compared for every query, so a fast
wrong answer cannot pass. Data starts 30 minutes before the queried hours, and evaluation
times sit 7.5 s off the scrape grid, avoiding the two places where Prometheus 2.42 and 3.x
(which Strata follows) legitimately differ.

Usage: bench/query/run.py [--series 100000] [--hours 6] [--reps 7] [--record]
Needs: make build; the peers (make deps-peers installs prometheus and victoria-metrics).
"""
import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from peers import canonical, difference, free_port, get, query, reset_peak, rss_kib, stop_all, wait_http  # noqa: E402

FAMILIES = {
    "rate": ["rate(node_network_receive_bytes_total[5m])"],
    "sum by": ["sum by (mode) (rate(node_cpu_seconds_total[5m]))",
               "sum by (instance) (rate(node_disk_read_bytes_total[5m]))"],
    "histogram_quantile": ["histogram_quantile(0.99, sum by (le, handler) "
                           "(rate(http_request_duration_seconds_bucket[5m])))"],
    "topk": ["topk(10, rate(node_disk_written_bytes_total[5m]))"],
    "regex selectors": ['sum(rate(node_cpu_seconds_total{mode=~"user|system|iowait", cpu=~"[0-3]"}[5m]))',
                        'node_filesystem_avail_bytes{mountpoint=~"/.*", instance=~"host-001.*"}'],
    "*_over_time": ["max_over_time(node_load1[10m])", "avg_over_time(node_memory_MemFree_bytes[30m])"],
    "binary joins": ["node_filesystem_avail_bytes / node_filesystem_size_bytes",
                     'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / on(instance) '
                     'count by (instance) (node_cpu_seconds_total{mode="idle"})'],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100000)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--baseline", help="another Strata binary (an earlier commit's build), queried "
                    "in turn with the others as strata-before")
    args = ap.parse_args()
    modes = [("range 1h @15s", 3600, 15), (f"range {args.hours}h @60s", args.hours * 3600, 60),
             ("instant", 0, 0)]
    strata_bin = os.path.join(ROOT, "build", "strata")
    for b in (strata_bin, shutil.which("prometheus"), shutil.which("victoria-metrics")):
        if not b or not os.path.exists(b):
            print("missing binaries: make build && make deps-peers", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="strata-qbench-")
    procs = []
    try:
        names = ["strata"] + (["strata-before"] if args.baseline else []) + ["prometheus", "victoriametrics"]
        ports = {n: free_port() for n in names}
        base = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1m\n")
        cmds = {
            "strata": [strata_bin, "serve", "--config", os.path.join(ROOT, "bench", "query", "strata.yml"),
                       "--data-dir", os.path.join(work, "strata"), "--listen", f"127.0.0.1:{ports['strata']}",
                       "--log.level", "warn"],
            "prometheus": ["prometheus", f"--config.file={os.path.join(work, 'prometheus.yml')}",
                           f"--storage.tsdb.path={os.path.join(work, 'prometheus')}",
                           f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                           "--web.enable-remote-write-receiver", "--log.level=warn"],
            "victoriametrics": ["victoria-metrics", f"-storageDataPath={os.path.join(work, 'vm')}",
                                f"-httpListenAddr=127.0.0.1:{ports['victoriametrics']}",
                                "-retentionPeriod=10y", "-loggerLevel=ERROR", "-search.latencyOffset=0s",
                                "-search.disableCache"],
        }
        if args.baseline:
            cmds["strata-before"] = [args.baseline, "serve", "--config",
                                     os.path.join(ROOT, "bench", "query", "strata.yml"), "--data-dir",
                                     os.path.join(work, "strata-before"), "--listen",
                                     f"127.0.0.1:{ports['strata-before']}", "--log.level", "warn"]
        pids = {}
        for name, cmd in cmds.items():
            log = open(os.path.join(work, name + ".log"), "w")
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            pids[name] = p.pid
        wait_http(base["strata"] + "/-/ready")
        if args.baseline:
            wait_http(base["strata-before"] + "/-/ready")
        wait_http(base["prometheus"] + "/-/ready")
        wait_http(base["victoriametrics"] + "/health")

        # 30 minutes of lead-in before the queried hours: windows at the very start of a series
        # are extrapolated differently by Prometheus 2.42 and 3.x (PR 13725), which Strata follows.
        rounds = (args.hours * 3600 + 1800) // 15
        start = (int(time.time()) // 3600) * 3600 - args.hours * 3600 - 1800 - 600
        paths = {"strata": "/api/v1/push", "strata-before": "/api/v1/push", "prometheus": "/api/v1/write",
                 "victoriametrics": "/api/v1/write"}
        load_secs = {}
        for name in [n for n in names if n != "prometheus"] + ["prometheus"]:
            t0 = time.time()
            out = subprocess.run([strata_bin, "tool", "loadgen", "--url", base[name] + paths[name],
                                  "--series", str(args.series), "--rounds", str(rounds), "--interval", "15s",
                                  "--start-time", str(start), "--concurrency", "4", "--seed", "11"],
                                 capture_output=True, text=True)
            load_secs[name] = time.time() - t0
            print(f"[{name}] loaded in {load_secs[name]:.0f}s: " + out.stdout.strip().replace("\n", " | "),
                  file=sys.stderr)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
        # VictoriaMetrics makes fresh data searchable after a flush; wait until all is visible.
        subprocess.run(["curl", "-s", base["victoriametrics"] + "/internal/force_flush"], capture_output=True)
        # 7.5 s off the scrape grid: no sample sits on a window's edge, where Prometheus 2.42
        # (left-closed ranges) and 3.x (left-open, as Strata) legitimately differ.
        end = start + rounds * 15 - 60 + 7.5
        for _ in range(120):
            _, r = query(base["victoriametrics"], {"query": "count(node_load1)", "time": end})
            if r.get("data", {}).get("result"):
                break
            time.sleep(1)
        for pid in pids.values():
            reset_peak(pid)

        times = {}  # (family, mode, system) -> [seconds]
        mismatches = []
        for family, qs in FAMILIES.items():
            for mode, span, step in modes:
                for q in qs:
                    params = {"query": q, "time": end} if step == 0 else \
                        {"query": q, "start": end - span, "end": end, "step": step}
                    answers = {}
                    for rep in range(args.reps):
                        for name in names:
                            secs, resp = query(base[name], params)
                            if resp.get("status") != "success":
                                mismatches.append(f"{name} failed {q} ({mode}): {resp.get('error')}")
                            times.setdefault((family, mode, name), []).append(secs)
                            answers[name] = resp
                    for name in [n for n in names if n.startswith("strata")]:
                        why = difference(canonical(answers[name]), canonical(answers["prometheus"]))
                        if why:
                            mismatches.append(f"{name} and prometheus differ on {q} ({mode}): {why}")
        peak = {name: rss_kib(pid, "VmHWM") // 1024 for name, pid in pids.items()}

        def p95(v):
            v = sorted(v)
            return v[min(len(v) - 1, math.ceil(0.95 * len(v)) - 1)]

        before = "strata-before" in names
        lines = ["| family | mode | Strata median / p95 ms | " +
                 ("strata-before median / p95 ms | " if before else "") +
                 "Prometheus median / p95 ms | VictoriaMetrics median / p95 ms | Strata / Prometheus | "
                 "Strata / VM |" + (" Strata / strata-before |" if before else ""),
                 "|---|---|---:|" + ("---:|" if before else "") + "---:|---:|---:|---:|" +
                 ("---:|" if before else "")]
        worst_p, worst_v = 0.0, 0.0
        for family in FAMILIES:
            for mode, _, _ in modes:
                m = {n: statistics.median(times[(family, mode, n)]) * 1000 for n in names}
                p = {n: p95(times[(family, mode, n)]) * 1000 for n in m}
                rp, rv = m["strata"] / m["prometheus"], m["strata"] / m["victoriametrics"]
                worst_p, worst_v = max(worst_p, rp), max(worst_v, rv)
                col_before = f"{m['strata-before']:.1f} / {p['strata-before']:.1f} | " if before else ""
                ratio_before = f" {m['strata'] / m['strata-before']:.2f}x |" if before else ""
                lines.append(f"| {family} | {mode} | {m['strata']:.1f} / {p['strata']:.1f} | {col_before}"
                             f"{m['prometheus']:.1f} / {p['prometheus']:.1f} | {m['victoriametrics']:.1f} / "
                             f"{p['victoriametrics']:.1f} | {rp:.2f}x | {rv:.2f}x |{ratio_before}")
        lines.append("")
        lines.append(f"Peak RSS during the query phase: Strata {peak['strata']} MiB, Prometheus "
                     f"{peak['prometheus']} MiB, VictoriaMetrics {peak['victoriametrics']} MiB. "
                     f"Worst family median ratio: {worst_p:.2f}x Prometheus, {worst_v:.2f}x VictoriaMetrics. "
                     f"Load time: " + ", ".join(f"{n} {s:.0f}s" for n, s in load_secs.items()) + ".")
        if args.baseline:
            ratios = sorted(statistics.median(times[(f, mode, "strata")]) /
                            statistics.median(times[(f, mode, "strata-before")])
                            for f in FAMILIES for mode, _, _ in modes)
            lines.append(f"Strata / strata-before (the baseline binary), median time per family and mode: "
                         f"median {statistics.median(ratios):.2f}x, from {ratios[0]:.2f}x to {ratios[-1]:.2f}x; "
                         f"peak RSS {peak['strata']} vs {peak['strata-before']} MiB.")
        lines.append(f"Result mismatches between Strata and Prometheus: {len(mismatches)}.")
        report = "\n".join(lines)
        print(report)
        for m in mismatches[:20]:
            print("  " + m)
        if args.record:
            with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
                f.write(f"\n### Query, {time.strftime('%Y-%m-%d', time.gmtime())} ({args.series} series x "
                        f"{args.hours}h at 15s, {args.reps} repetitions)\n\n")
                baseline = f" --baseline {args.baseline}" if args.baseline else ""
                f.write(f"Command: `bench/query/run.py --series {args.series} --hours {args.hours} "
                        f"--reps {args.reps}{baseline} --record`\n")
                f.write(f"Machine: {os.cpu_count()} cores; all servers running, taking turns query by "
                        "query; Strata's results cache and VictoriaMetrics's rollup cache disabled "
                        "(-search.disableCache) so repetitions measure evaluation, not cache hits; each Prometheus-family query's "
                        "answer from Strata compared with Prometheus's (1e-9).\n\n")
                f.write(report + "\n")
        return 1 if mismatches else 0
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
