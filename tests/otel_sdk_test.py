#!/usr/bin/env python3
"""The OpenTelemetry JS SDK's own OTLP exporters send to Strata; the data must arrive intact.

- Metrics over OTLP/HTTP protobuf and JSON straight to `strata serve` (/otlp/v1/metrics):
  the query API must show them under their Prometheus names (suffixes, job/instance,
  histogram buckets, target_info).
- Metrics, logs and spans over OTLP/HTTP protobuf, JSON and gRPC to `strata agent` A, which
  translates metrics to remote write for `strata serve` and forwards everything over
  OTLP/HTTP to agent B. B's backend is down, so B must hold every log record and span in its
  durable queue: A's forwarding is checked by B's own decoder.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

from peers import free_port, get, stop_all, wait_http

N = 7  # counter increment, log records and spans per send


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    res = json.loads(get(url, headers={"X-Scope-OrgID": "otel"}))
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
            for r in res["data"]["result"]}


def metric_value(text, name, labels):
    pattern = re.escape(name) + r"\{([^}]*)\} (\S+)"
    total = 0.0
    for m in re.finditer(pattern, text):
        if all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += float(m.group(2))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--node-modules", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-otel-")
    procs = []
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    try:
        s_port, a_port, a_grpc, b_port = free_port(), free_port(), free_port(), free_port()
        log = open(os.path.join(work, "procs.log"), "w")
        procs.append(subprocess.Popen(
            [args.strata, "serve", "--data-dir", os.path.join(work, "serve"), "--listen",
             f"127.0.0.1:{s_port}", "--grpc-listen", ""], stdout=log, stderr=subprocess.STDOUT))
        with open(os.path.join(work, "a.yaml"), "w") as f:
            f.write(f"data_dir: {work}/a\nserver: {{listen: 127.0.0.1:{a_port}, "
                    f"grpc_listen: 127.0.0.1:{a_grpc}}}\n"
                    "receivers: {otlp: {tenant: otel}}\n"
                    f"exporters:\n- name: prom\n  url: http://127.0.0.1:{s_port}/api/v1/push\n"
                    f"- name: otel\n  type: otlp_http\n  url: http://127.0.0.1:{b_port}\n")
        with open(os.path.join(work, "b.yaml"), "w") as f:
            f.write(f"data_dir: {work}/b\nserver: {{listen: 127.0.0.1:{b_port}, grpc_listen: ''}}\n"
                    "exporters:\n- name: down\n  type: otlp_http\n  url: http://127.0.0.1:1\n"
                    "  health: {probe_interval: 1h}\n")
        for cfg in ("a.yaml", "b.yaml"):
            procs.append(subprocess.Popen([args.strata, "agent", "--config",
                                           os.path.join(work, cfg)],
                                          stdout=log, stderr=subprocess.STDOUT))
        for port in (s_port, a_port, b_port):
            wait_http(f"http://127.0.0.1:{port}/-/ready")

        env = dict(os.environ, NODE_PATH=args.node_modules)
        send = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otel", "send.js")

        def run_send(protocol, service, metrics, logs="-", traces="-"):
            r = subprocess.run(["node", send, protocol, service, metrics, logs, traces, str(N)],
                               env=env, capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, f"SDK send {protocol} {service}: {r.stderr.strip()[-500:]}")

        serve = f"http://127.0.0.1:{s_port}/otlp/v1/metrics"
        run_send("proto", "direct-proto", serve)
        run_send("json", "direct-json", serve)
        base = f"http://127.0.0.1:{a_port}/v1"
        run_send("proto", "agent-proto", f"{base}/metrics", f"{base}/logs", f"{base}/traces")
        run_send("json", "agent-json", f"{base}/metrics", f"{base}/logs", f"{base}/traces")
        grpc = f"http://127.0.0.1:{a_grpc}"
        run_send("grpc", "agent-grpc", grpc, grpc, grpc)

        jobs = ["direct-proto", "direct-json", "agent-proto", "agent-json", "agent-grpc"]
        deadline = time.time() + 30
        while time.time() < deadline:
            if len(query(s_port, "strata_test_requests_total")) == len(jobs):
                break
            time.sleep(0.5)
        for job in jobs:
            base_labels = f'job="{job}", instance="{job}-1"'
            got = query(s_port, f'strata_test_requests_total{{{base_labels}, http_route="/checkout"}}')
            check(list(got.values()) == [N], f"{job}: counter strata_test_requests_total = {N} ({got})")
            # The SDK's default bounds are 0, 5, 10, 25, ...: 0.004, 0.2 and 3 all fall in (0, 5].
            got = query(s_port, f'strata_test_duration_seconds_bucket{{{base_labels}, le="0"}}')
            check(list(got.values()) == [0], f"{job}: histogram bucket le=0 = 0 ({got})")
            got = query(s_port, f'strata_test_duration_seconds_bucket{{{base_labels}, le="5"}}')
            check(list(got.values()) == [3], f"{job}: histogram bucket le=5 = 3 ({got})")
            got = query(s_port, f'strata_test_duration_seconds_count{{{base_labels}}}')
            check(list(got.values()) == [3], f"{job}: histogram count = 3 ({got})")
            got = query(s_port, f'strata_test_duration_seconds_sum{{{base_labels}}}')
            check(len(got) == 1 and abs(list(got.values())[0] - 3.204) < 1e-9,
                  f"{job}: histogram sum = 3.204 ({got})")
            got = query(s_port, f'strata_test_temperature_celsius{{{base_labels}, room="lab"}}')
            check(list(got.values()) == [21.5], f"{job}: gauge with unit Cel = 21.5 ({got})")
            got = query(s_port, f'target_info{{{base_labels}, deployment_environment="test"}}')
            check(list(got.values()) == [1], f"{job}: target_info ({got})")

        # Agent B holds every log record and span A forwarded (3 sends x N each).
        deadline = time.time() + 30
        want = {"otlp_http_logs": 3 * N, "otlp_http_traces": 3 * N}
        got = {}
        while time.time() < deadline:
            b_metrics = get(f"http://127.0.0.1:{b_port}/metrics")
            got = {r: metric_value(b_metrics, "strata_agent_received_items_total", {"receiver": r})
                   for r in want}
            if got == want:
                break
            time.sleep(0.5)
        check(got == want, f"agent B received the forwarded logs and spans: {got}, want {want}")
        a_metrics = get(f"http://127.0.0.1:{a_port}/metrics")
        received = {r: metric_value(a_metrics, "strata_agent_received_items_total", {"receiver": r})
                    for r in ("otlp_http_logs", "otlp_grpc_logs", "otlp_http_traces",
                              "otlp_grpc_traces")}
        check(received == {"otlp_http_logs": 2 * N, "otlp_grpc_logs": N,
                           "otlp_http_traces": 2 * N, "otlp_grpc_traces": N},
              f"agent A counted what each receiver took: {received}")
    finally:
        stop_all(procs)
    if failures:
        print(f"{len(failures)} check(s) failed; logs in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)  # kept above, for its logs, when a check failed
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
