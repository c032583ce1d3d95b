#!/usr/bin/env python3
"""Log benchmark: Strata beside ClickHouse, zstd -19, grep -F and rg on the same real logs.

The corpus (corpus.py) is the LogHub samples of 16 systems and a full Linux syslog
(../shared/testdata/logs), one stream per system and level, spread over one UTC day two days
ago; --gb scales it by repetition to that much raw text for the speed measures. One run:

1. Stored bytes of the real corpus (1x, 6.8 MB): Strata's compacted block (pushed in two
   halves, flushed after each, merged by `strata compactor --once`), ClickHouse's MergeTree
   (zstd, after OPTIMIZE FINAL) and `zstd -19` of the whole raw file.
2. Ingest of the scaled corpus through Loki protobuf push (fsync before every 204), Strata
   pinned to core 0 and the pusher (bench/logs/log_push) to core 1: peak RSS while taking
   --rss-rate lines/s (another tenant, --rss-seconds), then everything as fast as taken, as
   lines per second and per CPU-second of the server.
3. Flush, compaction, then queries on a restarted Strata (cold: empty caches; the OS page
   cache is warm for both systems) and again (warm, median of --reps), beside the same
   questions to ClickHouse (restarted too): an absent trace ID, an absent word, a line-filter
   scan no index can narrow, and a Grafana logs panel over the day (1,000 newest lines, and
   `sum by (level) (count_over_time(...[5m]))` at a 5m step). grep -F and rg scan the raw
   file for the same needles (page cache warm). Answers are cross-checked: the same counts.

Usage: bench/logs/run.py [--gb 1] [--reps 5] [--record]
Needs: make build (strata, bench/log_push); Debian's clickhouse-server, zstd, ripgrep
(make deps-bench).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import corpus  # noqa: E402
from clickhouse import ClickHouse, cpu_seconds  # noqa: E402
from peers import free_port, get, rss_kib, stop_all, wait_http  # noqa: E402

STRATA = os.path.join(ROOT, "build", "strata")
PUSH = os.path.join(ROOT, "build", "bench", "log_push")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"  # no corpus line holds it
WORD = "zebrafishes"                            # nor this
SCAN = "qx"                                     # too short for any index; a few lines hold it


def write_corpus(path, raw_path, reps, day, split_ns=None):
    """Writes corpus.py's TSV (and the raw lines); with split_ns, two files split at that time."""
    outs = [open(path + ".a", "w"), open(path + ".b", "w")] if split_ns else [open(path, "w")]
    raw = open(raw_path, "w") if raw_path else None
    n = 0
    for ts, system, level, line in corpus.entries(reps, day):
        outs[1 if split_ns and ts >= split_ns else 0].write(f"{ts}\t{system}\t{level}\t{line}\n")
        if raw:
            raw.write(line + "\n")
        n += 1
    for f in outs + ([raw] if raw else []):
        f.close()
    return n


class Strata:
    def __init__(self, work, name):
        self.dir = os.path.join(work, name)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.config = os.path.join(HERE, "strata.yml")

    def start(self):
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", STRATA, "serve", "--config", self.config, "--data-dir", self.dir,
             "--listen", f"127.0.0.1:{self.port}", "--log.level", "warn"],
            stdout=open(self.dir + ".log", "a"), stderr=subprocess.STDOUT)
        wait_http(self.base + "/-/ready", 60)

    def stop(self):
        stop_all([self.proc])

    def push(self, tsv, *extra):
        out = subprocess.run(["taskset", "-c", "1", PUSH, "--url", self.base + "/loki/api/v1/push",
                              "--corpus", tsv, *extra], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"log_push failed: {out.stdout} {out.stderr}")
        return dict(kv.split("=") for kv in out.stdout.split())

    def flush(self):
        get(self.base + "/flush", timeout=600, data=b"")

    def compact(self):
        subprocess.run([STRATA, "compactor", "--config", self.config, "--data-dir", self.dir,
                        "--once"], check=True, capture_output=True)

    def stored_bytes(self):
        """Bytes of the live log blocks (data, index, blooms, meta.json) in the bucket."""
        root = os.path.join(self.dir, "bucket", "anonymous", "logs")
        total, blocks = 0, 0
        for b in os.listdir(root):
            d = os.path.join(root, b)
            if os.path.exists(os.path.join(d, "deletion-mark.json")):
                continue
            blocks += 1
            total += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        return total, blocks

    def logql(self, q, start_ns, end_ns, **params):
        path = "/loki/api/v1/query_range"
        args = {"query": q, "start": start_ns, "end": end_ns, **params}
        t0 = time.perf_counter()
        c0 = cpu_seconds(self.proc.pid)
        body = get(self.base + path + "?" + urllib.parse.urlencode(args), timeout=600)
        return time.perf_counter() - t0, cpu_seconds(self.proc.pid) - c0, json.loads(body)

    def objstore_received(self):
        text = get(self.base + "/metrics")
        return sum(float(l.split()[-1]) for l in text.splitlines()
                   if l.startswith("strata_objstore_received_bytes_total"))


def load_logs(ch, table, tsv):
    """Loads corpus.py's TSV into a new MergeTree table and merges it to one part."""
    ch.sql(f"CREATE TABLE {table} (ts UInt64, system String, level String, line String) "
           "ENGINE = MergeTree ORDER BY (system, level, ts)")
    # TabSeparated unescapes backslashes: escape them, and the lines arrive as they are.
    esc = subprocess.Popen(["sed", r"s/\\/\\\\/g", tsv], stdout=subprocess.PIPE)
    ch.insert(table, "TabSeparated", esc.stdout)
    esc.wait()
    ch.sql(f"OPTIMIZE TABLE {table} FINAL")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0, help="raw text of the scaled corpus, GB")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rss-rate", type=int, default=90000)
    ap.add_argument("--rss-seconds", type=float, default=20)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    for b in (STRATA, PUSH):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} missing: make build")
    for b in ("clickhouse-server", "clickhouse-client", "zstd", "rg", "taskset"):
        if not shutil.which(b):
            sys.exit(f"{b} missing: make deps-bench")
    work = tempfile.mkdtemp(prefix="strata-logbench-")
    procs = []
    try:
        rows = run(args, work, procs)
    finally:
        stop_all([p.proc for p in procs if p.proc is not None])
        shutil.rmtree(work, ignore_errors=True)
    report = "\n".join(rows)
    print(report)
    if args.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write(f"\n### Logs, {time.strftime('%Y-%m-%d', time.gmtime())} "
                    f"({args.gb:g} GB of LogHub text over one day, {args.reps} repetitions)\n\n")
            f.write(f"Command: `bench/logs/run.py --gb {args.gb:g} --reps {args.reps} --record`\n")
            f.write(f"Machine: {os.cpu_count()} cores; servers pinned to core 0, clients to core 1.\n\n")
            f.write(report + "\n")


def run(args, work, procs):
    day = (int(time.time()) // 86400 - 2) * 86400 * 10**9
    end = day + corpus.DAY_NS - 1
    rows = []

    # 1. Stored bytes of the real corpus.
    one = os.path.join(work, "one.tsv")
    one_raw = os.path.join(work, "one.raw")
    lines1 = write_corpus(one, one_raw, 1, day, split_ns=day + corpus.DAY_NS // 2)
    raw1 = os.path.getsize(one_raw)
    zstd1 = len(subprocess.run(["zstd", "-19", "-q", "-c", one_raw], capture_output=True,
                               check=True).stdout)
    s = Strata(work, "strata-one")
    procs.append(s)
    s.start()
    for half in (one + ".a", one + ".b"):
        s.push(half)
        s.flush()
    s.stop()
    s.compact()
    strata1, blocks1 = s.stored_bytes()
    ch = ClickHouse(work)
    procs.append(ch)
    ch.start()
    with open(one, "w") as f:
        for half in (one + ".a", one + ".b"):
            f.write(open(half).read())
    load_logs(ch, "one", one)
    ch1, parts1 = ch.stored_bytes("one")
    rows += [f"Stored bytes, the real corpus ({lines1:,} lines, {raw1:,} bytes of text):", "",
             "| system | stored bytes | raw / stored | / zstd -19 |", "|---|---:|---:|---:|",
             f"| zstd -19 of the whole raw file | {zstd1:,} | {raw1 / zstd1:.2f} | 1.00 |",
             f"| Strata, compacted ({blocks1} block) | {strata1:,} | {raw1 / strata1:.2f} | "
             f"{strata1 / zstd1:.2f} |",
             f"| ClickHouse MergeTree, zstd ({parts1} part) | {ch1:,} | {raw1 / ch1:.2f} | "
             f"{ch1 / zstd1:.2f} |", ""]

    # 2. Ingest of the scaled corpus.
    reps = max(1, round(args.gb * 1e9 / raw1))
    big = os.path.join(work, "big.tsv")
    big_raw = os.path.join(work, "big.raw")
    lines = write_corpus(big, big_raw, reps, day)
    raw = os.path.getsize(big_raw)
    s = Strata(work, "strata")
    procs.append(s)
    s.start()
    slow = s.push(big, "--tenant", "rss", "--rate", str(args.rss_rate), "--duration",
                  str(args.rss_seconds), "--concurrency", "4")
    rss_at_rate = rss_kib(s.proc.pid, "VmHWM") / 1024
    c0 = cpu_seconds(s.proc.pid)
    fast = s.push(big, "--concurrency", "4")
    cpu = cpu_seconds(s.proc.pid) - c0
    rss_fast = rss_kib(s.proc.pid, "VmHWM") / 1024
    acked = int(fast["lines_acked"])
    s.flush()
    s.stop()
    t0 = time.perf_counter()
    s.compact()
    compact_s = time.perf_counter() - t0
    stored, nblocks = s.stored_bytes()
    rows += [f"Ingest: {lines:,} lines ({raw / 1e9:.2f} GB of text, the corpus {reps} times), "
             "Loki protobuf push, 4 connections, fsync before every 204:", "",
             "| measure | Strata |", "|---|---:|",
             f"| lines/s (server on one core) | {float(fast['lines_per_sec']):,.0f} |",
             f"| lines per server CPU-second | {acked / cpu:,.0f} |",
             f"| push p50 / p99 ms | {fast['p50_ms']} / {fast['p99_ms']} |",
             f"| peak RSS taking {args.rss_rate:,} lines/s for {args.rss_seconds:g} s (MiB; "
             f"{int(slow['lines_acked']):,} lines acked) | {rss_at_rate:.0f} |",
             f"| peak RSS after the whole load (MiB) | {rss_fast:.0f} |",
             f"| stored after compaction ({nblocks} blocks, {compact_s:.0f} s) | {stored:,} "
             f"({raw / stored:.1f}x) |", ""]

    # 3. Queries, ClickHouse loaded with the same lines.
    load_logs(ch, "logs", big)
    chb, chparts = ch.stored_bytes("logs")
    rows += [f"ClickHouse holds the scaled corpus in {chb:,} bytes ({chparts} parts).", ""]
    grep = {}
    for name, needle in (("trace ID", TRACE_ID), ("word", WORD), ("scan", SCAN)):
        for tool, cmd in (("grep -F", ["grep", "-F", "-c", needle, big_raw]),
                          ("rg", ["rg", "-F", "-c", "-j1", needle, big_raw])):
            subprocess.run(cmd, capture_output=True)  # page cache
            t0 = time.perf_counter()
            out = subprocess.run(["taskset", "-c", "0", *cmd], capture_output=True, text=True)
            grep[(name, tool)] = (time.perf_counter() - t0, int(out.stdout.strip() or 0))

    sel = '{job="loghub"}'
    logs_q = {
        "absent trace ID": (f'{sel} |= "{TRACE_ID}"',
                            f"SELECT ts, line FROM logs WHERE ts BETWEEN {day} AND {end} AND "
                            f"position(line, '{TRACE_ID}') > 0 ORDER BY ts DESC LIMIT 1000"),
        "absent word": (f'{sel} |= "{WORD}"',
                        f"SELECT ts, line FROM logs WHERE ts BETWEEN {day} AND {end} AND "
                        f"position(line, '{WORD}') > 0 ORDER BY ts DESC LIMIT 1000"),
        "panel: 1,000 newest lines": (sel, f"SELECT ts, system, level, line FROM logs WHERE ts "
                                      f"BETWEEN {day} AND {end} ORDER BY ts DESC LIMIT 1000"),
    }
    metric_q = {
        f'scan: count of lines holding "{SCAN}"':
            (f'sum(count_over_time({sel} |= "{SCAN}" [1d]))',
             f"SELECT count() FROM logs WHERE ts BETWEEN {day} AND {end} AND "
             f"position(line, '{SCAN}') > 0"),
        "panel: sum by (level) (count_over_time([5m]))":
            (f"sum by (level) (count_over_time({sel}[5m]))",
             f"SELECT intDiv(ts - {day}, 300000000000) AS b, level, count() FROM logs WHERE ts "
             f"BETWEEN {day} AND {end} GROUP BY b, level"),
    }

    def strata_run(q, metric):
        if metric and "[1d]" in q:
            return s.logql(q, end, end, step="1d")
        if metric:  # steps at day .. day + 24h: every entry in one (t - 5m, t] window
            return s.logql(q, day, day + corpus.DAY_NS, step="5m")
        return s.logql(q, day, end, limit=1000, direction="backward")

    def strata_count(ans, metric):
        res = ans["data"]["result"]
        if metric:
            return int(sum(float(v[1]) for r in res for v in r["values"]))
        return sum(len(r["values"]) for r in res)

    def ch_count(body, metric):
        lines_ = [l for l in body.splitlines() if l]
        return sum(int(l.split("\t")[-1]) for l in lines_) if metric else len(lines_)

    results = {}
    ch.stop()
    for metric, qs in ((False, logs_q), (True, metric_q)):
        for name, (lq, sq) in qs.items():
            # Cold: each system restarted before the query (empty caches).
            s.start()
            ch.start()
            r0 = s.objstore_received()
            cold = strata_run(lq, metric)
            read = s.objstore_received() - r0
            warm = [strata_run(lq, metric) for _ in range(args.reps)]
            ccold = ch.sql(sq)
            cwarm = [ch.sql(sq) for _ in range(args.reps)]
            results[name] = (cold, warm, read, ccold, cwarm, strata_count(cold[2], metric),
                             ch_count(ccold[2], metric))
            s.stop()
            ch.stop()
    rows += ["Queries over the day (seconds; cold = the first after restarting the server, "
             "warm = median of "
             f"{args.reps}; Strata's bytes read from the bucket on the cold run; CPU = the "
             "server's CPU-seconds on the cold run):", "",
             "| query | Strata cold | Strata warm | ClickHouse cold | ClickHouse warm | "
             "Strata read (of stored) | Strata CPU cold | answers (Strata / ClickHouse) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, (cold, warm, read, ccold, cwarm, n1, n2) in results.items():
        rows.append(f"| {name} | {cold[0]:.3f} | {median([w[0] for w in warm]):.3f} | "
                    f"{ccold[0]:.3f} | {median([w[0] for w in cwarm]):.3f} | "
                    f"{read:,.0f} ({read / stored:.2%}) | {cold[1]:.2f} | {n1:,} / {n2:,} |")
    scan = results[f'scan: count of lines holding "{SCAN}"']
    rows += ["", f"Line-filter scan: Strata {raw / 1e9 / max(scan[0][1], 1e-9):.2f} GB of text "
             f"per CPU-second cold, {raw / 1e9 / median([w[1] for w in scan[1]] or [1e-9]):.2f} "
             f"warm; ClickHouse {raw / 1e9 / max(scan[3][1], 1e-9):.2f} cold, "
             f"{raw / 1e9 / median([w[1] for w in scan[4]] or [1e-9]):.2f} warm (GB per "
             "CPU-second of the server).", "",
             "grep -F and rg over the raw file (page cache warm, one core):", "",
             "| needle | grep -F s | grep -F GB/s | rg s | rg GB/s | lines |", "|---|---:|---:|---:|---:|---:|"]
    for name in ("trace ID", "word", "scan"):
        g, r = grep[(name, "grep -F")], grep[(name, "rg")]
        rows.append(f"| {name} | {g[0]:.3f} | {raw / 1e9 / g[0]:.2f} | {r[0]:.3f} | "
                    f"{raw / 1e9 / r[0]:.2f} | {g[1]:,} |")
    return rows


if __name__ == "__main__":
    main()
