#!/usr/bin/env python3
"""Bytes per sample on disk: the same loadgen data in Strata blocks, VictoriaMetrics and
Prometheus.

Writes N series x H hours at 15 s (strata tool loadgen, fixed seed and start time, in time
order) to each system, lets each settle (Strata: blocks cut and compacted by
`strata compactor --once`; VictoriaMetrics: force_flush + force_merge; Prometheus: its own
head compaction), then divides the bytes of the persisted blocks by the samples in them:
Strata: every object of the live blocks in the bucket over their meta.json sample counts;
VictoriaMetrics: data + indexdb over vm_rows; Prometheus: its block directories over
their meta.json sample counts (the WAL and head chunks are not counted for anyone).
The last row is the data's information floor (`strata tool loadgen --information-floor`):
the bytes per sample no lossless encoding of it can go below.

Usage: bench/storage/bytes.py [--series 2000] [--hours 26] [--record]
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from peers import free_port, get, stop_all, wait_http  # noqa: E402


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def strata_blocks(bucket):
    samples = total = 0
    for meta_path in glob.glob(os.path.join(bucket, "*", "*", "meta.json")):
        d = os.path.dirname(meta_path)
        if os.path.exists(os.path.join(d, "deletion-mark.json")):
            continue
        samples += json.load(open(meta_path))["stats"]["numSamples"]
        total += dir_bytes(d)
    return total, samples


def prometheus_blocks(path):
    samples = total = 0
    for meta_path in glob.glob(os.path.join(path, "*", "meta.json")):
        d = os.path.dirname(meta_path)
        samples += json.load(open(meta_path))["stats"]["numSamples"]
        total += dir_bytes(d)
    return total, samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--hours", type=int, default=26)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    strata = os.path.join(ROOT, "build", "strata")
    work = tempfile.mkdtemp(prefix="strata-bytes-")
    procs = []
    rounds = args.hours * 3600 // 15
    start = int(time.time()) - args.hours * 3600 - 600
    results = {}
    try:
        ports = {n: free_port() for n in ("strata", "prometheus", "vm")}
        cfg = os.path.join(work, "strata.yml")
        with open(cfg, "w") as f:
            f.write("storage:\n  maintenance_interval: 200ms\ncompactor:\n  enabled: false\n"
                    "limits:\n  ingestion_rate: 1e9\n  ingestion_burst: 1000000000\n")
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        cmds = {
            "strata": [strata, "serve", "--config", cfg, "--data-dir", os.path.join(work, "strata"),
                       "--listen", f"127.0.0.1:{ports['strata']}", "--log.level", "warn"],
            "prometheus": ["prometheus", f"--config.file={os.path.join(work, 'prometheus.yml')}",
                           f"--storage.tsdb.path={os.path.join(work, 'prometheus')}",
                           "--web.enable-remote-write-receiver",
                           f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
            "vm": ["victoria-metrics", f"-storageDataPath={os.path.join(work, 'vm')}",
                   "-retentionPeriod=10y", f"-httpListenAddr=127.0.0.1:{ports['vm']}"],
        }
        paths = {"strata": "/api/v1/push", "prometheus": "/api/v1/write", "vm": "/api/v1/write"}
        for name, cmd in cmds.items():
            log = open(os.path.join(work, name + ".log"), "w")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
            wait_http(f"http://127.0.0.1:{ports[name]}" +
                      ("/-/ready" if name != "vm" else "/health"))
            subprocess.run([strata, "tool", "loadgen", "--url",
                            f"http://127.0.0.1:{ports[name]}{paths[name]}", "--series",
                            str(args.series), "--rounds", str(rounds), "--interval", "15s",
                            "--start-time", str(start), "--concurrency", "2"], check=True,
                           stdout=subprocess.DEVNULL)
        # Strata: wait for the head to be cut, then compact as the compactor would.
        time.sleep(5)
        subprocess.run([strata, "compactor", "--config", cfg, "--data-dir",
                        os.path.join(work, "strata"), "--once", "--log.level", "warn"], check=True)
        b, s = strata_blocks(os.path.join(work, "strata", "bucket"))
        results["Strata"] = (b, s)
        base = f"http://127.0.0.1:{ports['vm']}"
        get(base + "/internal/force_flush")
        get(base + "/internal/force_merge?partition_prefix=" + time.strftime("%Y_%m", time.gmtime(start)))
        get(base + "/internal/force_merge?partition_prefix=" + time.strftime("%Y_%m"))
        time.sleep(20)
        metrics = get(base + "/metrics")
        rows = sum(float(m) for m in re.findall(r'^vm_rows\{type="storage/(?:small|big)"\} (\S+)', metrics, re.M))
        vm_bytes = dir_bytes(os.path.join(work, "vm", "data")) + dir_bytes(os.path.join(work, "vm", "indexdb"))
        results["VictoriaMetrics 1.79"] = (vm_bytes, rows)
        time.sleep(60)  # Prometheus compacts its head in the background
        results["Prometheus 2.42"] = prometheus_blocks(os.path.join(work, "prometheus"))
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)
    vm = results["VictoriaMetrics 1.79"]
    vm_bps = vm[0] / vm[1]
    lines = [f"| {name} | {s:,.0f} | {b:,} | {b / s:.2f} | {b / s / vm_bps:.2f}x |"
             for name, (b, s) in results.items()]
    # What no lossless store can go below on this data (loadgen knows its own draws).
    out = subprocess.run([strata, "tool", "loadgen", "--information-floor", "--series",
                          str(args.series), "--rounds", str(rounds), "--interval", "15s"],
                         check=True, capture_output=True, text=True).stdout
    floor = float(re.search(r"= (\S+) bytes per sample", out).group(1))
    lines.append(f"| information floor of the data | | | {floor:.2f} | {floor / vm_bps:.2f}x |")
    table = ("| system | samples on disk | bytes | bytes/sample | vs VM |\n|---|---:|---:|---:|---:|\n" +
             "\n".join(lines))
    print(table)
    if args.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write(f"\n### Bytes per sample, {args.series} series x {args.hours}h loadgen data "
                    f"({time.strftime('%Y-%m-%d')})\n\nCommand: `bench/storage/bytes.py --series "
                    f"{args.series} --hours {args.hours} --record`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
