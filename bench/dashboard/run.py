#!/usr/bin/env python3
"""Dashboard benchmark: an 8-panel dashboard over 1h, 24h, 7d and 30d, cold and warm.

Loads N series x D days (strata tool loadgen: node_exporter-like counters, gauges and
classic latency histograms, fixed seed, time order) into Strata, Prometheus and
VictoriaMetrics. Strata's head is cut into blocks as it goes and compacted (2h -> 12h -> 24h,
5m/1h downsampled copies) before queries start. Then, per system and range, the dashboard
is loaded as Grafana does it: the 8 panel queries at Grafana's step for the range
(maxDataPoints 1000, min interval = scrape interval, rounded as Grafana rounds),
$__rate_interval = max(step + scrape, 4 x scrape), start/end aligned to the step, 6 panels
at a time. "cold" is the first load after a restart; "warm" are the next loads (the window
moving with the clock, as a refreshing dashboard's does). Systems: Strata with its query
frontend (default config), Strata without it (no splitting, no results cache), Prometheus
2.42, VictoriaMetrics 1.79. Reports dashboard latency (all panels loaded) and each server's
peak RSS in the query phase; Strata's answers with and without the frontend are compared
point for point, and with Prometheus's to 1e-9.

--flood: a second tenant floods the frontend with uncached heavy 30-day queries from 8
clients while the measured tenant loads its 24h dashboard; reports its median latency
unloaded and loaded.

--adaptive POINTS: the 7d and 30d dashboards with adaptive=true under a budget of POINTS
(steps x series), against the same panels at full resolution: the step chosen and the
visual error per series (full-resolution points against the adapted curve, linearly
interpolated), max and mean relative difference.

Usage: bench/dashboard/run.py [--series 4000] [--days 30] [--interval 2m] [--warm 10]
                              [--dir DIR (kept; reused when loaded)] [--flood]
                              [--adaptive POINTS] [--record]
"""
import argparse
import concurrent.futures
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from peers import canonical, difference, free_port, get, query, reset_peak, rss_kib, stop_all, wait_http  # noqa: E402

STRATA = os.path.join(ROOT, "build", "strata")
PANELS = [
    "sum by (mode) (rate(node_cpu_seconds_total[$r]))",
    "histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[$r])))",
    "topk(5, sum by (instance) (rate(node_network_receive_bytes_total[$r])))",
    "sum by (device) (rate(node_disk_written_bytes_total[$r]))",
    "quantile(0.9, node_load5)",
    "sum(node_memory_MemAvailable_bytes)",
    "max by (mountpoint) (1 - node_filesystem_avail_bytes / node_filesystem_size_bytes)",
    "sum(rate(node_context_switches_total[$r]))",
]
RANGES = [("1h", 3600), ("24h", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400)]
# Seconds the bench's clock is behind the wall clock: with data loaded earlier (--dir), the
# dashboards' windows end where they would have when the data was loaded.
clock_offset = 0


def now():
    return int(time.time()) - clock_offset


def grafana_step(range_s, scrape_s):
    """Grafana's interval: range / maxDataPoints, at least the scrape interval, rounded."""
    raw = max(range_s / 1000, scrape_s)
    for limit, step in [(7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30), (90, 60),
                        (210, 120), (450, 300), (900, 600), (1200, 900), (2700, 1800),
                        (5400, 3600), (9000, 7200), (21600, 10800), (43200, 21600)]:
        if raw < limit:
            return max(step, scrape_s)
    return 86400


def duration(s):
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m" if s % 60 == 0 else f"{s}s"


def panel_queries(range_s, scrape_s, now):
    step = grafana_step(range_s, scrape_s)
    rate = duration(max(step + scrape_s, 4 * scrape_s))
    end = now // step * step
    return [{"query": p.replace("$r", rate), "start": end - range_s, "end": end, "step": step}
            for p in PANELS]


def load_dashboard(base, range_s, scrape_s, tenant=None, salt=None, at=None):
    """Loads all panels, 6 at a time; returns (seconds until all are in, answers). A salt
    makes each query text new (`+ salt * 0`), so no results cache can answer it; `at` fixes
    the window's end (default: the bench's clock)."""
    qs = panel_queries(range_s, scrape_s, at or now())
    for q in qs:
        if salt is not None:
            q["query"] = f"{q['query']} + {salt} * 0"
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        answers = list(ex.map(lambda q: query(base, q, tenant=tenant)[1], qs))
    return time.perf_counter() - t0, answers


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, math.ceil(p * len(v)) - 1)]


class System:
    def __init__(self, name, work, argv, ready_path, api_path, log):
        self.name, self.work, self.argv, self.ready, self.log = name, work, argv, ready_path, log
        self.port = free_port()
        self.api = api_path
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(argv, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_http(self.base + self.ready, 600)

    def stop(self):
        if self.proc:
            stop_all([self.proc])
            self.proc = None


def strata_config(path, frontend):
    with open(path, "w") as f:
        f.write("storage:\n  maintenance_interval: 200ms\ncompactor:\n  enabled: false\n"
                "limits:\n  ingestion_rate: 1e9\n  ingestion_burst: 1000000000\n"
                "query:\n  max_concurrent: 2\n")
        if not frontend:
            f.write("frontend:\n  split_interval: 0s\n  results_cache:\n    type: none\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=4000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--interval", default="2m")
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--dir")
    ap.add_argument("--flood", action="store_true")
    ap.add_argument("--adaptive", type=int, default=0)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    scrape_s = int(args.interval[:-1]) * {"s": 1, "m": 60}[args.interval[-1]]
    work = args.dir or tempfile.mkdtemp(prefix="strata-dash-")
    os.makedirs(work, exist_ok=True)
    cfg = {fe: os.path.join(work, f"strata-{'fe' if fe else 'nofe'}.yml") for fe in (True, False)}
    for fe, path in cfg.items():
        strata_config(path, fe)
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    strata_argv = lambda c: [STRATA, "serve", "--config", c, "--data-dir", os.path.join(work, "strata"),
                             "--listen", "127.0.0.1:{port}", "--log.level", "warn"]
    log = lambda n: os.path.join(work, n + ".log")
    systems = {
        "Strata": System("Strata", work, strata_argv(cfg[True]), "/-/ready", "/api/v1/push", log("strata")),
        "Strata, no frontend": System("Strata, no frontend", work, strata_argv(cfg[False]), "/-/ready",
                                      "/api/v1/push", log("strata")),
        "Prometheus 2.42": System("Prometheus 2.42", work, [
            "prometheus", f"--config.file={os.path.join(work, 'prometheus.yml')}",
            f"--storage.tsdb.path={os.path.join(work, 'prometheus')}", "--storage.tsdb.retention.time=400d",
            "--web.enable-remote-write-receiver", "--web.listen-address=127.0.0.1:{port}"],
            "/-/ready", "/api/v1/write", log("prometheus")),
        "VictoriaMetrics 1.79": System("VictoriaMetrics 1.79", work, [
            "victoria-metrics", f"-storageDataPath={os.path.join(work, 'vm')}", "-retentionPeriod=10y",
            "-httpListenAddr=127.0.0.1:{port}"], "/health", "/api/v1/write", log("vm")),
    }
    loaded = os.path.join(work, "loaded")  # holds the data's start time
    rounds = args.days * 86400 // scrape_s
    # Data starts D days and an hour before the load, 7 s off the minute (see bench/query),
    # and ends an hour before it.
    start = (int(time.time()) - args.days * 86400 - 3600) // 60 * 60 + 7
    if os.path.exists(loaded):
        with open(loaded) as f:
            text = f.read().strip()
        # Data loaded by an older version of this script: the marker's time is the load's end.
        loaded_at = int(text) + args.days * 86400 + 3600 if text else int(os.path.getmtime(loaded))
        global clock_offset
        clock_offset = int(time.time()) - loaded_at
    try:
        if not os.path.exists(loaded):
            for name in ("Strata", "Prometheus 2.42", "VictoriaMetrics 1.79"):
                s = systems[name]
                s.start()
                t0 = time.time()
                subprocess.run([STRATA, "tool", "loadgen", "--url", s.base + s.api, "--series",
                                str(args.series), "--rounds", str(rounds), "--interval", args.interval,
                                "--start-time", str(start), "--concurrency", "2"], check=True,
                               stdout=subprocess.DEVNULL)
                if name == "VictoriaMetrics 1.79":
                    get(s.base + "/internal/force_flush")
                print(f"loaded {name} in {time.time() - t0:.0f}s", flush=True)
                time.sleep(5)
                s.stop()
            t0 = time.time()
            subprocess.run([STRATA, "compactor", "--config", cfg[True], "--data-dir",
                            os.path.join(work, "strata"), "--once", "--log.level", "warn"], check=True)
            print(f"compacted Strata's blocks in {time.time() - t0:.0f}s", flush=True)
            with open(loaded, "w") as f:
                f.write(str(start))

        if args.flood:
            return flood(systems["Strata"], scrape_s, args)
        if args.adaptive:
            with open(cfg[True], "a") as f:
                f.write(f"  max_points: {args.adaptive}\n")  # under query:
            try:
                return adaptive(systems["Strata"], scrape_s, args)
            finally:
                strata_config(cfg[True], True)
        return dashboards(systems, scrape_s, args)
    finally:
        for s in systems.values():
            s.stop()
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


def max_relative_difference(a, b):
    """Largest |x - y| / max(|x|, |y|) over the points two answers share."""
    worst = 0.0
    for key, pts in canonical(a).items() if a.get("status") == "success" else []:
        other = dict(canonical(b).get(key, [])) if b.get("status") == "success" else {}
        for t, v in pts:
            w = other.get(t)
            if w is not None and not (math.isnan(v) or math.isnan(w)) and max(abs(v), abs(w)) > 0:
                worst = max(worst, abs(v - w) / max(abs(v), abs(w)))
    return worst


def dashboards(systems, scrape_s, args):
    rows = {}  # (system, range) -> (cold, warm p50, warm p95)
    rss = {}
    answers = {}
    now0 = now()  # every system's cold load covers the same windows
    for name, s in systems.items():
        peak = 0
        for rname, rs in RANGES:
            # Cold: a restart empties memory caches; Strata's on-disk cache goes too.
            shutil.rmtree(os.path.join(s.work, "strata", "cache"), ignore_errors=True)
            s.start()
            reset_peak(s.proc.pid)
            cold, ans = load_dashboard(s.base, rs, scrape_s, at=now0)
            answers[(name, rname)] = ans
            warm = [load_dashboard(s.base, rs, scrape_s)[0] for _ in range(args.warm)]
            peak = max(peak, rss_kib(s.proc.pid, "VmHWM"))
            rows[(name, rname)] = (cold, statistics.median(warm), pct(warm, 0.95))
            print(f"{name} {rname}: cold {cold:.3f}s warm p50 {rows[(name, rname)][1]:.3f}s "
                  f"p95 {rows[(name, rname)][2]:.3f}s", flush=True)
            s.stop()
        rss[name] = peak // 1024

    def diffs(a, b):
        n = 0
        for rname, _ in RANGES:
            for x, y in zip(answers[(a, rname)], answers[(b, rname)]):
                n += difference(canonical(x), canonical(y)) is not None
        return n

    def worst(a, b, rname):
        return max(max_relative_difference(x, y)
                   for x, y in zip(answers[(a, rname)], answers[(b, rname)]))

    names = list(systems)
    lines = ["| range (step) | " + " | ".join(f"{n}: cold / warm p50 / warm p95" for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for rname, rs in RANGES:
        cells = [f"{rows[(n, rname)][0]:.3f} / {rows[(n, rname)][1]:.3f} / {rows[(n, rname)][2]:.3f}"
                 for n in names]
        lines.append(f"| {rname} ({duration(grafana_step(rs, scrape_s))}) | " + " | ".join(cells) + " |")
    lines.append("| peak RSS, query phase | " + " | ".join(f"{rss[n]} MiB" for n in names) + " |")
    table = "\n".join(lines)
    s30 = rows[("Strata", "30d")]
    no30 = rows[("Strata, no frontend", "30d")]
    prom24 = rows[("Prometheus 2.42", "24h")][0]
    summary = (f"Warm 30-day dashboard p95: {s30[2]:.3f} s (target <= 1 s). "
               f"Cold Strata vs Prometheus's cold 24h ({prom24:.3f} s): "
               + ", ".join(f"{r} {rows[('Strata', r)][0] / prom24:.2f}x" for r, _ in RANGES)
               + " (target <= 3x). "
               f"30-day warm, without / with the frontend: {no30[1] / s30[1]:.1f}x (target >= 5x). "
               f"Panels differing, Strata with vs without frontend: {diffs('Strata', 'Strata, no frontend')} "
               f"of {len(PANELS) * len(RANGES)}; Strata vs Prometheus beyond 1e-9: "
               f"{diffs('Strata', 'Prometheus 2.42')}, largest relative difference per range: "
               + ", ".join(f"{r} {worst('Strata', 'Prometheus 2.42', r):.2g}" for r, _ in RANGES)
               + " (max_source_resolution=auto).")
    print(table + "\n\n" + summary)
    if args.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write(f"\n### Dashboard, {args.series} series x {args.days}d at {args.interval} "
                    f"({time.strftime('%Y-%m-%d')})\n\nCommand: `bench/dashboard/run.py --series "
                    f"{args.series} --days {args.days} --interval {args.interval} --warm {args.warm}`. "
                    f"Dashboard latency in seconds (all 8 panels in, 6 at a time).\n\n{table}\n\n{summary}\n")
    return 0


def record(args, rest):
    """With --record, appends the command line (ending in `rest`) to bench/RESULTS.md."""
    if args.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write(f"\nCommand: `bench/dashboard/run.py --series {args.series} --days {args.days} "
                    f"--interval {args.interval} {rest}\n")


def visual_error(full, adapted):
    """Per series: relative differences between the full-resolution points and the adapted
    curve (linear between its points) at the full points' times inside the adapted range."""
    out = []
    curves = canonical(adapted)
    for key, pts in canonical(full).items():
        curve = curves.get(key, [])
        if len(curve) < 2:
            continue
        errs = []
        j = 0
        for t, v in pts:
            if t < curve[0][0] or t > curve[-1][0] or math.isnan(v):
                continue
            while curve[j + 1][0] < t:
                j += 1
            (t0, v0), (t1, v1) = curve[j], curve[j + 1]
            est = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
            scale = max(abs(v), abs(est))
            errs.append(abs(v - est) / scale if scale > 0 else 0.0)
        if errs:
            out.append((max(errs), statistics.mean(errs)))
    return out


def adaptive(s, scrape_s, args):
    """The 7d and 30d panels with adaptive=true against full resolution."""
    s.start()
    at = now()
    lines = ["| range | panel | step asked -> used | series | max rel. diff (worst series) | "
             "mean rel. diff (mean over series) |", "|---|---|---|---:|---:|---:|"]
    for rname, rs in RANGES[2:]:
        for i, q in enumerate(panel_queries(rs, scrape_s, at)):
            _, full = query(s.base, q)
            _, ad = query(s.base, dict(q, adaptive="true", stats="all"))
            used = ad["data"]["stats"]["frontend"]["step"]
            errs = visual_error(full, ad)
            worst = max((e[0] for e in errs), default=0.0)
            mean = statistics.mean(e[1] for e in errs) if errs else 0.0
            lines.append(f"| {rname} | {i + 1} | {duration(q['step'])} -> {duration(int(used))} | "
                         f"{len(errs)} | {worst:.3g} | {mean:.3g} |")
    table = "\n".join(lines)
    print(table)
    record(args, f"--adaptive {args.adaptive}`\n\n{table}")
    return 0


def flood(s, scrape_s, args):
    """The quiet tenant's 24h dashboard, alone and while another tenant floods the frontend."""
    s.start()
    marker = os.path.join(s.work, "quiet-loaded")
    if not os.path.exists(marker):
        subprocess.run([STRATA, "tool", "loadgen", "--url", s.base + s.api, "--series", "500",
                        "--rounds", str(86400 // scrape_s + 60), "--interval", args.interval,
                        "--start-time", str(now() - 86400 - 7200), "--tenant", "quiet",
                        "--concurrency", "2"], check=True, stdout=subprocess.DEVNULL)
        open(marker, "w").close()
    stop = threading.Event()
    served = [0]

    def flooder(k):
        n = 0
        while not stop.is_set():
            n += 1
            # A new number each time: the normalized query differs, so nothing is cached.
            q = panel_queries(30 * 86400, scrape_s, now())[0]
            q["query"] = f"{q['query']} + {k * 100000 + n} * 0"
            query(s.base, q)
            served[0] += 1

    load_dashboard(s.base, 86400, scrape_s, tenant="quiet")  # warm the store gateway
    alone = [load_dashboard(s.base, 86400, scrape_s, "quiet", salt=i)[0] for i in range(args.warm)]
    threads = [threading.Thread(target=flooder, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    time.sleep(2)
    loaded = [load_dashboard(s.base, 86400, scrape_s, "quiet", salt=1000 + i)[0]
              for i in range(args.warm)]
    stop.set()
    for t in threads:
        t.join()
    a, b = statistics.median(alone), statistics.median(loaded)
    text = (f"Quiet tenant's 24h dashboard, median of {args.warm}: alone {a:.3f} s, while another "
            f"tenant floods the frontend from 8 clients ({served[0]} heavy 30-day queries answered) "
            f"{b:.3f} s = {b / a:.2f}x (target <= 2x).")
    print(text)
    record(args, f"--flood`. {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
