#!/usr/bin/env python3
"""Real Prometheus remote-writes to Strata; `strata tool dump` must show what Prometheus has.

With --via-agent the writes go through `strata agent` (Prometheus -> agent -> server), which
must forward them unchanged.

Starts (on loopback, in temp dirs) Strata, Debian's prometheus-node-exporter and prometheus,
which scrapes itself and the exporter every second and remote-writes to Strata. Then it
compares a closed time window: every series and sample Prometheus returns from its own HTTP
API must be in Strata's dump, and Strata must have nothing else in that window (staleness
markers aside, which Prometheus's API never returns). Prometheus also scrapes an OpenMetrics
target of this script that gives an exemplar with every scrape, and sends the exemplars
(exemplar-storage, send_exemplars): Strata's /api/v1/query_exemplars must answer what
Prometheus's own does for the window. A third target serves a native histogram in the
protobuf exposition format (native-histograms, send_native_histograms): Strata's answer for
the window's histograms must be Prometheus's own, byte for byte once parsed.
"""
import argparse
import http.server
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from peers import free_port, get, stop_all, wait_http

SCRAPE_SECONDS = 14
WINDOW_SECONDS = 8


def prom_labels(metric):
    def q(v):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return "{" + ", ".join(f"{k}={q(metric[k])}" for k in sorted(metric)) + "}"


def same_value(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def parse_dump(text):
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        labels, value, ts = line.rsplit(" ", 2)
        series.setdefault(labels, []).append((int(ts), float(value)))
    return series


class ExemplarTarget(http.server.BaseHTTPRequestHandler):
    """OpenMetrics with one counter whose every scrape carries a new exemplar."""
    scrapes = 0

    def do_GET(self):
        ExemplarTarget.scrapes += 1
        n = ExemplarTarget.scrapes
        body = ("# TYPE demo_requests counter\n"
                f'demo_requests_total{{path="/a"}} {n} # {{trace_id="{n:032x}"}} {n * 0.5} '
                f"{time.time():.3f}\n# EOF\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _zigzag(n):
    return (n << 1) ^ (n >> 63)


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _double(num, v):
    import struct
    return _field(num, 1, struct.pack("<d", v))


def _uint(num, v):
    return _field(num, 0, _varint(v))


class NativeHistogramTarget(http.server.BaseHTTPRequestHandler):
    """io.prometheus.client.MetricFamily (delimited protobuf, built field by field from
    metrics.proto) with one native histogram, schema 3, whose buckets grow every scrape."""
    scrapes = 0

    def do_GET(self):
        NativeHistogramTarget.scrapes += 1
        n = NativeHistogramTarget.scrapes
        pos = [n, 2 * n, n + 3]    # counts of positive buckets 3, 4 and 7 (two spans)
        neg = [n]                  # negative bucket 1
        zero = 2
        deltas = lambda counts: b"".join(_varint(_zigzag(c - p)) for c, p in zip(counts, [0] + counts[:-1]))
        span = lambda off, length: _field(1, 0, _varint(_zigzag(off))) + _uint(2, length)
        h = (_uint(1, sum(pos) + sum(neg) + zero) + _double(2, 1.25 * n) +
             _field(5, 0, _varint(_zigzag(3))) + _double(6, 2.0 ** -128) + _uint(7, zero) +
             _field(9, 2, span(1, 1)) + _field(10, 2, deltas(neg)) +
             _field(12, 2, span(3, 2)) + _field(12, 2, span(2, 1)) + _field(13, 2, deltas(pos)))
        label = _field(1, 2, b"path") + _field(2, 2, b"/a")
        metric = _field(1, 2, label) + _field(7, 2, h)
        family = (_field(1, 2, b"demo_latency_seconds") + _field(2, 2, b"Latency.") + _uint(3, 4) +
                  _field(4, 2, metric))
        body = _varint(len(family)) + family
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.google.protobuf; "
                         "proto=io.prometheus.client.MetricFamily; encoding=delimited")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--via-agent", action="store_true")
    args = ap.parse_args()
    for binary in ("prometheus", "prometheus-node-exporter"):
        if not shutil.which(binary):
            print(f"{binary} is not installed (make deps-peers installs it)")
            return 1

    work = tempfile.mkdtemp(prefix="strata-prom-")
    procs = []
    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ExemplarTarget)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    native = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NativeHistogramTarget)
    threading.Thread(target=native.serve_forever, daemon=True).start()
    try:
        s_port, p_port, n_port = free_port(), free_port(), free_port()
        data_dir = os.path.join(work, "strata")
        logs = {name: open(os.path.join(work, name + ".log"), "w") for name in ("strata", "prom", "node")}
        procs.append(subprocess.Popen([args.strata, "serve", "--data-dir", data_dir, "--listen",
                                       f"127.0.0.1:{s_port}", "--grpc-listen", ""],
                                      stdout=logs["strata"], stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{n_port}"],
                                      stdout=logs["node"], stderr=subprocess.STDOUT))
        wait_http(f"http://127.0.0.1:{s_port}/-/ready")
        wait_http(f"http://127.0.0.1:{n_port}/metrics")
        write_port = s_port
        if args.via_agent:
            write_port = free_port()
            agent_config = os.path.join(work, "agent.yaml")
            with open(agent_config, "w") as f:
                f.write(f"data_dir: {os.path.join(work, 'agent')}\n"
                        "server: {grpc_listen: ''}\n"
                        f"exporters:\n- name: strata\n  url: http://127.0.0.1:{s_port}/api/v1/push\n")
            logs["agent"] = open(os.path.join(work, "agent.log"), "w")
            procs.append(subprocess.Popen([args.strata, "agent", "--config", agent_config, "--listen",
                                           f"127.0.0.1:{write_port}"],
                                          stdout=logs["agent"], stderr=subprocess.STDOUT))
            wait_http(f"http://127.0.0.1:{write_port}/-/ready")
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{p_port}"]}}]
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{n_port}"]}}]
  - job_name: exemplars
    static_configs: [{{targets: ["127.0.0.1:{target.server_address[1]}"]}}]
  - job_name: native
    static_configs: [{{targets: ["127.0.0.1:{native.server_address[1]}"]}}]
remote_write:
  - url: http://127.0.0.1:{write_port}/api/v1/write
    send_exemplars: true
    send_native_histograms: true
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 2000}}
    metadata_config: {{send_interval: 2s}}
""")
        procs.append(subprocess.Popen(["prometheus", f"--config.file={config}",
                                       f"--storage.tsdb.path={os.path.join(work, 'prom-data')}",
                                       f"--web.listen-address=127.0.0.1:{p_port}", "--log.level=warn",
                                       "--enable-feature=exemplar-storage,native-histograms"],
                                      stdout=logs["prom"], stderr=subprocess.STDOUT))
        prom = f"http://127.0.0.1:{p_port}"
        wait_http(prom + "/-/ready")
        time.sleep(SCRAPE_SECONDS)

        # A closed window a few seconds in the past, so remote write has caught up with it.
        end_s = int(time.time()) - 4
        time.sleep(4)
        q = urllib.parse.urlencode({"query": f'{{__name__=~".+"}}[{WINDOW_SECONDS}s]', "time": end_s})
        resp = json.loads(get(f"{prom}/api/v1/query?{q}", timeout=30))
        assert resp["status"] == "success", resp
        want = {}
        for r in resp["data"]["result"]:
            if "values" in r:  # native histograms are compared below
                want[prom_labels(r["metric"])] = [(round(float(t) * 1000), float(v)) for t, v in r["values"]]

        failed = json.loads(get(f"{prom}/api/v1/query?query=" +
                                urllib.parse.quote("sum(prometheus_remote_storage_samples_failed_total)")))
        failed_n = float(failed["data"]["result"][0]["value"][1]) if failed["data"]["result"] else 0.0

        # The window's exemplars, from both.
        q = urllib.parse.urlencode({"query": "demo_requests_total", "start": end_s - WINDOW_SECONDS,
                                    "end": end_s})
        want_exemplars = json.loads(get(f"{prom}/api/v1/query_exemplars?{q}"))["data"]
        got_exemplars = json.loads(get(f"http://127.0.0.1:{s_port}/api/v1/query_exemplars?{q}"))["data"]

        # The native histograms of the window: Prometheus's API answer and Strata's, compared
        # as JSON (the same encoding: quoted numbers, [rule, lower, upper, count] buckets).
        q = urllib.parse.urlencode({"query": f"demo_latency_seconds[{WINDOW_SECONDS}s]", "time": end_s})
        want_native = json.loads(get(f"{prom}/api/v1/query?{q}"))["data"]["result"]
        got_native = json.loads(get(f"http://127.0.0.1:{s_port}/api/v1/query?{q}"))["data"]["result"]

        procs[0].send_signal(signal.SIGTERM)
        procs[0].wait(timeout=30)
        min_ms = end_s * 1000 - WINDOW_SECONDS * 1000 + 1  # range selectors are left-open
        dump = subprocess.run([args.strata, "tool", "dump", "--data-dir", data_dir, "--tenant", "anonymous",
                               "--min-time", str(min_ms), "--max-time", str(end_s * 1000)],
                              capture_output=True, text=True, check=True).stdout
        got = parse_dump(dump)

        problems = []
        for labels, samples in want.items():
            have = got.get(labels)
            if have is None:
                problems.append(f"missing series {labels}")
                continue
            have_ts = {t for t, _ in samples}
            # Staleness markers (NaN) are stored but never returned by Prometheus's API.
            have = [(t, v) for t, v in have if not (math.isnan(v) and t not in have_ts)]
            if len(have) != len(samples) or any(a[0] != b[0] or not same_value(a[1], b[1])
                                                for a, b in zip(have, samples)):
                problems.append(f"samples differ for {labels}: prometheus {samples[:4]}... strata {have[:4]}...")
        extra = [l for l, s in got.items() if l not in want and any(not math.isnan(v) for _, v in s)]
        problems += [f"series in strata only: {l}" for l in extra]

        n_samples = sum(len(s) for s in want.values())
        node = sum(1 for l in want if 'job="node"' in l)
        print(f"compared {len(want)} series ({node} from node_exporter) and {n_samples} samples "
              f"in a {WINDOW_SECONDS}s window; prometheus remote-write failures: {failed_n:.0f}")
        if failed_n > 0:
            problems.append(f"Prometheus reports {failed_n} failed remote-write samples")
        if len(want) < 100 or node < 50:
            problems.append("too few series scraped for a meaningful comparison")
        n_exemplars = sum(len(s["exemplars"]) for s in want_exemplars)
        print(f"compared {n_exemplars} exemplars in the window")
        if n_exemplars < 3:
            problems.append(f"too few exemplars in the window: {want_exemplars}")
        if got_exemplars != want_exemplars:
            problems.append(f"exemplars differ: prometheus {want_exemplars} strata {got_exemplars}")
        n_native = sum(len(s.get("histograms", [])) for s in want_native)
        print(f"compared {n_native} native histogram samples in the window")
        if n_native < 3:
            problems.append(f"too few native histograms in the window: {want_native}")
        if got_native != want_native:
            problems.append(f"native histograms differ: prometheus {want_native} strata {got_native}")
        if problems:
            print(f"{len(problems)} problems:")
            for p in problems[:20]:
                print("  " + p)
            for name in ("strata", "prom", "agent"):
                if name in logs:
                    print(f"--- {name} log (tail)")
                    print(open(os.path.join(work, name + ".log")).read()[-3000:])
            return 1
        print("prometheus remote write test" + (" via strata agent" if args.via_agent else "") + ": OK")
        return 0
    finally:
        target.shutdown()
        native.shutdown()
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
