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

Usage: bench/traces/run.py [--traces 100000] [--window 600] [--record]
Trace-by-ID over many blocks in s3rver is bench/traces/run.sh.
Needs: make build (strata, bench/span_push, bench/span_rows); Debian's clickhouse-server
(make deps-bench).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

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


def kv(text):
    return dict(f.split("=", 1) for f in text.split())


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
    c0 = cpu_seconds(proc.pid)
    out = subprocess.run(["taskset", "-c", "1", PUSH, "--url", base + "/v1/traces",
                          "--traces", str(args.traces), "--window", str(args.window),
                          "--start-ns", str(start_ns), "--concurrency", "4"],
                         capture_output=True, text=True)
    cpu = cpu_seconds(proc.pid) - c0
    if out.returncode != 0:
        raise RuntimeError(f"span_push failed: {out.stdout} {out.stderr}")
    push = kv(out.stdout)
    rss = rss_kib(proc.pid, "VmHWM") / 1024
    get(base + "/flush", timeout=600, data=b"")
    stop_all([proc])
    root = os.path.join(data, "bucket", "anonymous", "traces")
    stored, blocks = 0, 0
    for b in os.listdir(root):
        d = os.path.join(root, b)
        if not os.path.isdir(d) or os.path.exists(os.path.join(d, "deletion-mark.json")):
            continue
        blocks += 1
        stored += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return push, cpu, rss, stored, blocks


def clickhouse_run(args, work, procs, start_ns):
    ch = ClickHouse(work)
    procs.append(ch)
    ch.start()
    ch.sql(SPANS_DDL)
    rows = subprocess.Popen(["taskset", "-c", "1", ROWS, "--traces", str(args.traces),
                             "--window", str(args.window), "--start-ns", str(start_ns)],
                            stdout=subprocess.PIPE)
    t0 = time.perf_counter()
    cpu = ch.insert("spans", "JSONEachRow", rows.stdout)
    load_s = time.perf_counter() - t0
    if rows.wait() != 0:
        raise RuntimeError("span_rows failed")
    ch.sql("OPTIMIZE TABLE spans FINAL")
    _, _, count = ch.sql("SELECT count() FROM spans")
    stored, parts = ch.stored_bytes("spans")
    ch.stop()
    return int(count), cpu, load_s, stored, parts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--window", type=float, default=600)
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
        push, cpu, rss, stored, blocks = strata_run(args, work, procs, start_ns)
        spans = int(push["spans_total"])
        acked = int(push["spans_acked"])
        otlp = int(push["spans_bytes"])
        ch_spans, ch_cpu, ch_load_s, ch_stored, ch_parts = clickhouse_run(args, work, procs,
                                                                          start_ns)
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
            f"| spans per second, server on one core | {float(push['spans_per_sec']):,.0f} | "
            f"({ch_spans / ch_load_s:,.0f}: bound by span_rows writing JSON on core 1) |",
            f"| push p50 / p99 ms (requests of ~512 spans) | {push['p50_ms']} / "
            f"{push['p99_ms']} | |",
            f"| peak RSS, MiB | {rss:.0f} | |", ""]
        print("\n".join(lines))
        if args.record:
            with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        stop_all([p for p in (q.proc if isinstance(q, ClickHouse) else q for q in procs) if p])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
