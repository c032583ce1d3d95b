#!/usr/bin/env python3
"""Traces benchmark: Strata beside ClickHouse laid out as Jaeger's ClickHouse backend, on the
same spans: synthetic OpenTelemetry demo traces (src/testing/synthetic_traces.h; --traces of
them, about 12 spans each, started over --window seconds). One run:

1. Ingest into Strata: bench/traces/span_push sends the traces as OTLP/HTTP protobuf (requests
   of about 512 spans, as an SDK's batch processor exports them; 4 connections; fsync before
   every answer; the metrics-generator on, as by default), Strata pinned to core 0 and the
   pusher to core 1: spans per second and per server CPU-second. Then POST /flush cuts every
   trace into blocks: bytes per span at rest in the bucket (data, index, meta.json).
2. The same spans into ClickHouse: bench/traces/span_rows writes them as rows of Jaeger's
   `spans` table (the native backend's schema, adapted to Debian's ClickHouse 18.16 as
   SPANS_DDL says), loaded with clickhouse-client (JSONEachRow) into a server pinned to core 0,
   merged to one part per day (OPTIMIZE FINAL): rows per server CPU-second of the load, and
   bytes per span on disk.
3. Queries over all of it, each on both (--reps times, medians): TraceQL searches through
   /api/search (the 20 newest matching traces) beside SQL giving the same 20 trace IDs from
   Jaeger's table, and TraceQL metrics through /api/metrics/query_range beside SQL counting the
   same spans per service and minute; the answers are compared. Reported: the spans' OTLP
   bytes scanned per server CPU-second, the same denominator for both.

With --rounds N the traces are sent in N rounds (seeds 1..N, each over its share of the
window), Strata flushing its head after each, so that its memory stays that of one round.

Usage: bench/traces/run.py [--traces 100000] [--window 600] [--rounds 1] [--reps 3] [--record]
Trace-by-ID over many blocks in s3rver is bench/traces/run.sh.
Needs: make build (strata, bench/span_push, bench/span_rows); Debian's clickhouse-server
(make deps-bench).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(HERE))
from clickhouse import ClickHouse, cpu_seconds  # noqa: E402
from peers import free_port, get, rss_kib, stop_all, wait_http  # noqa: E402

STRATA = os.path.join(ROOT, "build", "strata")
PUSH = os.path.join(ROOT, "build", "bench", "span_push")
ROWS = os.path.join(ROOT, "build", "bench", "span_rows")

# Jaeger's spans table (jaeger internal/storage/v2/clickhouse/sql/000001_initial_schema.up.sql)
# as Debian's ClickHouse 18.16 takes it: DateTime64(9) is Int64 nanoseconds (the partition and
# sort keys take its seconds), Bool is UInt8, and the Nested attribute lists inside events and
# links are Array columns of those Nested columns (18.16 nests one level); the data-skipping
# indexes (a bloom filter on trace_id, minmax on duration) are left out: 18.16 has none, and
# they would only add bytes.
TYPES = (("bool", "UInt8"), ("double", "Float64"), ("int", "Int64"), ("str", "String"),
         ("complex", "String"))


def attrs(prefix):
    return ", ".join(f"{prefix}{t}_attributes Nested(key String, value {v})" for t, v in TYPES)


INNER = ", ".join(f"{t}_attributes_key Array(String), {t}_attributes_value Array({v})"
                  for t, v in TYPES)
SPANS_DDL = (
    "CREATE TABLE spans (id String, trace_id String, trace_state String, parent_span_id String, "
    "name String, kind String, start_time Int64, status_code String, status_message String, "
    f"duration Int64, {attrs('')}, "
    f"events Nested(name String, timestamp Int64, {INNER}), "
    f"links Nested(trace_id String, span_id String, trace_state String, {INNER}), "
    f"service_name String, {attrs('resource_')}, scope_name String, scope_version String, "
    f"{attrs('scope_')}) "
    "ENGINE = MergeTree PARTITION BY toDate(intDiv(start_time, 1000000000)) "
    "ORDER BY (service_name, name, intDiv(start_time, 1000000000))")


# (TraceQL search, the same condition on one span of Jaeger's spans table).
SEARCHES = [
    ('{ status = error }', "status_code = 'Error'"),
    ('{ resource.service.name = "checkout" && span.app.order.id != nil }',
     "service_name = 'checkout' AND has(str_attributes.key, 'app.order.id')"),
    ('{ name =~ ".*GetCart" && kind = server }', "match(name, '^(.*GetCart)$') AND kind = 'Server'"),
]
# (TraceQL metrics query counting spans by service, the same condition in SQL).
METRICS = [
    ('{ status = error } | rate() by (resource.service.name)', "status_code = 'Error'"),
    ('{ kind = server } | rate() by (resource.service.name)', "kind = 'Server'"),
    ('{ } | rate() by (resource.service.name)', "1"),
]
STEP_S = 60


def kv(text):
    return dict(f.split("=", 1) for f in text.split())


def rounds_of(args, start_ns):
    """(seed, traces, window seconds, start ns) of each round."""
    per = args.traces // args.rounds
    window = args.window / args.rounds
    return [(r + 1, per, window, start_ns + int(r * window * 1e9)) for r in range(args.rounds)]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def strata_queries(args, base, proc, start_ns):
    """Runs SEARCHES and METRICS; returns {query: (cpu s, wall s, answer)}."""
    start_s = start_ns // 10**9 // STEP_S * STEP_S - STEP_S
    end_s = (start_ns + int(args.window * 1e9)) // 10**9 // STEP_S * STEP_S + 2 * STEP_S
    out = {}
    for q, _ in SEARCHES + METRICS:
        metrics = q in dict(METRICS)
        params = {"q": q, "start": start_s, "end": end_s}
        if metrics:
            params["step"] = f"{STEP_S}s"
            url = base + "/api/metrics/query_range?" + urllib.parse.urlencode(params)
        else:
            params["limit"] = 20
            url = base + "/api/search?" + urllib.parse.urlencode(params)
        cpus, walls = [], []
        for _ in range(args.reps):
            c0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            body = json.loads(get(url, timeout=1800))
            walls.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds(proc.pid) - c0)
        if metrics:
            answer = round(sum(float(x.get("value", 0)) * STEP_S
                               for s in body.get("series", []) for x in s["samples"]))
        else:
            answer = [t["traceID"].lstrip("0") for t in body["traces"]]
        out[q] = (median(cpus), median(walls), answer)
    return out


def clickhouse_queries(args, ch):
    out = {}
    for q, cond in SEARCHES:
        sql = (f"SELECT trace_id FROM spans GROUP BY trace_id HAVING countIf({cond}) > 0 "
               "ORDER BY min(start_time) DESC, trace_id LIMIT 20")
        runs = [ch.sql(sql) for _ in range(args.reps)]
        out[q] = (median([r[1] for r in runs]), median([r[0] for r in runs]),
                  [line.lstrip("0") for line in runs[-1][2].split()])
    for q, cond in METRICS:
        sql = (f"SELECT service_name, intDiv(start_time, {STEP_S * 10**9}) AS minute, count() "
               f"FROM spans WHERE {cond} GROUP BY service_name, minute")
        runs = [ch.sql(sql) for _ in range(args.reps)]
        total = sum(int(line.split()[-1]) for line in runs[-1][2].splitlines() if line)
        out[q] = (median([r[1] for r in runs]), median([r[0] for r in runs]), total)
    return out


def strata_run(args, work, procs, start_ns):
    data = os.path.join(work, "strata")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        ["taskset", "-c", "0", STRATA, "serve", "--data-dir", data,
         "--listen", f"127.0.0.1:{port}", "--log.level", "warn"],
        stdout=open(data + ".log", "a"), stderr=subprocess.STDOUT)
    procs.append(proc)
    wait_http(base + "/-/ready", 60)
    cpu, push = 0, {}
    for seed, traces, window, round_start in rounds_of(args, start_ns):
        c0 = cpu_seconds(proc.pid)
        out = subprocess.run(["taskset", "-c", "1", PUSH, "--url", base + "/v1/traces",
                              "--traces", str(traces), "--window", str(window),
                              "--start-ns", str(round_start), "--concurrency", "4",
                              "--seed", str(seed)],
                             capture_output=True, text=True)
        cpu += cpu_seconds(proc.pid) - c0
        if out.returncode != 0:
            raise RuntimeError(f"span_push failed: {out.stdout} {out.stderr}")
        for k, v in kv(out.stdout).items():
            push.setdefault(k, []).append(v)
        get(base + "/flush", timeout=600, data=b"")
    rss = rss_kib(proc.pid, "VmHWM") / 1024
    queries = strata_queries(args, base, proc, start_ns)
    stop_all([proc])
    root = os.path.join(data, "bucket", "anonymous", "traces")
    stored, blocks = 0, 0
    for b in os.listdir(root):
        d = os.path.join(root, b)
        if not os.path.isdir(d) or os.path.exists(os.path.join(d, "deletion-mark.json")):
            continue
        blocks += 1
        stored += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return push, cpu, rss, stored, blocks, queries


def clickhouse_run(args, work, procs, start_ns):
    ch = ClickHouse(work)
    procs.append(ch)
    ch.start()
    ch.sql(SPANS_DDL)
    cpu, load_s = 0, 0
    for seed, traces, window, round_start in rounds_of(args, start_ns):
        rows = subprocess.Popen(["taskset", "-c", "1", ROWS, "--traces", str(traces),
                                 "--window", str(window), "--start-ns", str(round_start),
                                 "--seed", str(seed)],
                                stdout=subprocess.PIPE)
        t0 = time.perf_counter()
        cpu += ch.insert("spans", "JSONEachRow", rows.stdout)
        load_s += time.perf_counter() - t0
        if rows.wait() != 0:
            raise RuntimeError("span_rows failed")
    ch.sql("OPTIMIZE TABLE spans FINAL")
    _, _, count = ch.sql("SELECT count() FROM spans")
    stored, parts = ch.stored_bytes("spans")
    queries = clickhouse_queries(args, ch)
    ch.stop()
    return int(count), cpu, load_s, stored, parts, queries


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--window", type=float, default=600)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    for b in (STRATA, PUSH, ROWS):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} missing: make build")
    for b in ("clickhouse-server", "clickhouse-client", "taskset"):
        if not shutil.which(b):
            sys.exit(f"{b} missing: make deps-bench")
    work = tempfile.mkdtemp(prefix="strata-tracebench-")
    procs = []
    try:
        start_ns = time.time_ns() - int(args.window * 1e9)
        push, cpu, rss, stored, blocks, queries = strata_run(args, work, procs, start_ns)
        spans = sum(int(x) for x in push["spans_total"])
        acked = sum(int(x) for x in push["spans_acked"])
        otlp = sum(int(x) for x in push["spans_bytes"])
        ch_spans, ch_cpu, ch_load_s, ch_stored, ch_parts, ch_queries = clickhouse_run(
            args, work, procs, start_ns)
        if ch_spans != spans:
            raise RuntimeError(f"ClickHouse holds {ch_spans} spans, Strata was sent {spans}")
        lines = [
            f"{args.traces:,} synthetic demo traces, {spans:,} spans "
            f"({otlp / spans:.0f} bytes a span as OTLP protobuf), started over "
            f"{args.window:g} s. Servers pinned to core 0, clients to core 1.", "",
            "| measure | Strata | ClickHouse (Jaeger's spans table) |", "|---|---:|---:|",
            f"| bytes per span at rest | {stored / spans:.1f} ({blocks} block{'s' if blocks != 1 else ''}, uncompacted) | "
            f"{ch_stored / ch_spans:.1f} ({ch_parts} part{'s' if ch_parts != 1 else ''}, zstd) |",
            f"| spans per server CPU-second, ingest | {acked / cpu:,.0f} (OTLP/HTTP, fsync "
            f"before each answer) | {ch_spans / ch_cpu:,.0f} (JSONEachRow, one INSERT, no "
            "fsync) |",
            f"| spans per second, server on one core | "
            f"{median([float(x) for x in push['spans_per_sec']]):,.0f} | "
            f"({ch_spans / ch_load_s:,.0f}: bound by span_rows writing JSON on core 1) |",
            f"| push p50 / p99 ms (requests of ~512 spans) | {median(push['p50_ms'])} / "
            f"{median(push['p99_ms'])} | |",
            f"| peak RSS, MiB | {rss:.0f} | |", "",
            f"Queries over all {spans:,} spans ({otlp / 1e6:,.0f} MB of OTLP), median of "
            f"{args.reps}: the spans' OTLP megabytes per server CPU-second (CPU seconds, wall "
            "seconds).", "",
            "| query | Strata MB/CPU-s (CPU s, wall s) | ClickHouse SQL MB/CPU-s (CPU s, wall s) "
            "| answers |", "|---|---:|---:|---|"]
        wrong = []
        for q, _ in SEARCHES + METRICS:
            s_cpu, s_wall, s_ans = queries[q]
            c_cpu, c_wall, c_ans = ch_queries[q]
            same = s_ans == c_ans
            if not same:
                wrong.append(f"{q}: Strata {s_ans} ClickHouse {c_ans}")
            what = (f"{len(s_ans)} traces" if isinstance(s_ans, list) else f"{s_ans:,} spans")
            lines.append(
                f"| `{q}` | {otlp / 1e6 / max(s_cpu, 1e-9):,.0f} ({s_cpu:.2f}, {s_wall:.2f}) | "
                f"{otlp / 1e6 / max(c_cpu, 1e-9):,.0f} ({c_cpu:.2f}, {c_wall:.2f}) | "
                f"{what}, {'the same' if same else 'DIFFER'} |")
        lines.append("")
        print("\n".join(lines))
        if wrong:
            raise RuntimeError("answers differ:\n" + "\n".join(wrong))
        if args.record:
            with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        stop_all([p for p in (q.proc if isinstance(q, ClickHouse) else q for q in procs) if p])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
