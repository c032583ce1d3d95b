#!/usr/bin/env python3
"""A real browser sends Faro telemetry through strata agent into strata serve.

Debian's Chromium, headless, loads a page (tests/faro/) that uses the Grafana Faro Web SDK and
its tracing package from npm, bundled here by esbuild with a source map. The page is served from another origin
than the agent, so every send goes through a CORS preflight (JSON and x-api-key). It pushes a
log, an event and an error, reports web vitals, and fetches /api/data from its own server,
which the tracing instrumentation turns into a span and a traceparent header. Everything must
come back from `strata serve`: the lines from the Loki API with the keys Alloy's faro.receiver
writes, the error's stack mapped back to page.js through the source map the agent downloads
from the page's origin, and the fetch's trace (the ID the page server saw in traceparent) from
the Tempo API.
"""
import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from peers import fetch, free_port, stop_all, wait_http

TENANT = "browser"
APP = "faro-browser-test"


def get(port, path):
    code, _, body = fetch(f"http://127.0.0.1:{port}{path}", {"X-Scope-OrgID": TENANT})
    return code, body


def lines(port):
    q = urllib.parse.urlencode({"query": f'{{app_name="{APP}"}}', "limit": "1000",
                                "start": str(time.time_ns() - 3600 * 10**9)})
    code, body = get(port, f"/loki/api/v1/query_range?{q}")
    if code != 200:
        return []
    return [v[1] for s in json.loads(body)["data"]["result"] for v in s["values"]]


def logfmt(line):
    """The keys of a logfmt line (values unquoted), enough to check Alloy's keys."""
    out, i = {}, 0
    while i < len(line):
        eq = line.index("=", i)
        key = line[i:eq]
        i = eq + 1
        if i < len(line) and line[i] == '"':
            j = i + 1
            while line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            out[key] = json.loads(line[i:j + 1])
            i = j + 2
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            out[key] = line[i:j]
            i = j + 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--node-modules", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-faro-")
    procs, failures = [], []
    page_server = None

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    try:
        here = os.path.dirname(os.path.abspath(__file__))
        site = os.path.join(work, "site")
        os.makedirs(site)
        shutil.copy(os.path.join(here, "faro", "index.html"), site)
        subprocess.run([os.path.join(args.node_modules, ".bin", "esbuild"),
                        os.path.join(here, "faro", "page.js"), "--bundle", "--format=iife",
                        "--sourcemap", "--log-level=warning",
                        f"--outfile={os.path.join(site, 'bundle.js')}"],
                       env=dict(os.environ, NODE_PATH=args.node_modules), check=True, timeout=60)

        s_port, a_port, page_port = free_port(), free_port(), free_port()
        log = open(os.path.join(work, "procs.log"), "w")
        procs.append(subprocess.Popen(
            [args.strata, "serve", "--data-dir", os.path.join(work, "serve"), "--listen",
             f"127.0.0.1:{s_port}", "--grpc-listen", ""], stdout=log, stderr=subprocess.STDOUT))
        with open(os.path.join(work, "agent.yaml"), "w") as f:
            f.write(f"data_dir: {work}/agent\n"
                    f"server: {{listen: 127.0.0.1:{a_port}, grpc_listen: \"\"}}\n"
                    f"receivers:\n  faro:\n    tenant: {TENANT}\n    api_key: test-key\n"
                    f"    cors_allowed_origins: [\"http://127.0.0.1:{page_port}\"]\n"
                    f"    sourcemaps:\n      download: true\n"
                    f"      download_from_origins: [\"http://127.0.0.1:{page_port}/\"]\n"
                    f"exporters:\n"
                    f"- name: logs\n  type: loki\n"
                    f"  url: http://127.0.0.1:{s_port}/loki/api/v1/push\n"
                    f"- name: traces\n  type: otlp_http\n  url: http://127.0.0.1:{s_port}/otlp\n"
                    f"  signals: [traces]\n")
        procs.append(subprocess.Popen([args.strata, "agent", "--config",
                                       os.path.join(work, "agent.yaml")],
                                      stdout=log, stderr=subprocess.STDOUT))
        for port in (s_port, a_port):
            wait_http(f"http://127.0.0.1:{port}/-/ready")

        traceparents = []

        class Page(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=site, **kw)

            def do_GET(self):
                if self.path == "/api/data":
                    traceparents.append(self.headers.get("traceparent"))
                    body = b"42"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def log_message(self, *a):
                pass

        page_server = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), Page)
        threading.Thread(target=page_server.serve_forever, daemon=True).start()

        url = (f"http://127.0.0.1:{page_port}/index.html?" + urllib.parse.urlencode(
            {"collector": f"http://127.0.0.1:{a_port}/collect", "key": "test-key"}))
        procs.append(subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--enable-logging=stderr",
             f"--user-data-dir={os.path.join(work, 'chromium')}", url],
            stdout=log, stderr=subprocess.STDOUT))

        want = {"log": lambda k: k.get("message") == "hello from chromium",
                "fetched": lambda k: k.get("message") == "fetched 42",
                "exception": lambda k: k.get("kind") == "exception",
                "event": lambda k: k.get("event_name") == "checkout",
                "web vitals": lambda k: k.get("kind") == "measurement" and "fcp" in k}
        found = {}
        deadline = time.time() + 60
        while time.time() < deadline and len(found) < len(want):
            for line in lines(s_port):
                keys = logfmt(line)
                for name, match in want.items():
                    if name not in found and match(keys):
                        found[name] = keys
            time.sleep(0.3)
        for name in want:
            check(name in found, f"the browser's {name} is queryable in strata serve")

        meta_keys = {"app_name": APP, "app_version": "1.2.3", "app_environment": "ci",
                     "sdk_name": "faro-web"}
        for name, keys in found.items():
            check(all(keys.get(k) == v for k, v in meta_keys.items()) and
                  keys.get("browser_name") and keys.get("session_id") and
                  keys.get("page_url", "").startswith(f"http://127.0.0.1:{page_port}/") and
                  keys.get("timestamp", "").endswith(" +0000 UTC"),
                  f"{name}: app, sdk, browser, session and page keys ({keys})")
        if "log" in found:
            check(found["log"].get("kind") == "log" and found["log"].get("context_step") == "boot"
                  and "level" in found["log"], "log: kind, level and context keys")
        if "exception" in found:
            x = found["exception"]
            check(x.get("type") == "SyntaxError" and x.get("value") and
                  x.get("stacktrace", "").startswith("SyntaxError: ") and
                  "\n  at " in x.get("stacktrace", "") and x.get("hash", "").isdigit(),
                  f"exception: type, value, stacktrace with frames, hash ({x})")
            # The agent fetched bundle.js and the map esbuild wrote beside it: the frame that
            # threw is page.js's own line.
            with open(os.path.join(here, "faro", "page.js")) as f:
                line = next(i for i, l in enumerate(f, 1) if "JSON.parse('{not json')" in l)
            check(f"/tests/faro/page.js:{line}:" in x.get("stacktrace", ""),
                  f"exception: the frame is mapped to page.js line {line} ({x.get('stacktrace')})")
        if "event" in found:
            check(found["event"].get("event_name") == "checkout" and
                  found["event"].get("event_data_cart_items") == "3", "event: name and data")
        if "web vitals" in found:
            m = found["web vitals"]
            check(m.get("type") == "web-vitals" and float(m["value_fcp"]) > 0,
                  f"web vitals: fcp measured ({m.get('fcp')} ms)")

        check(len(traceparents) == 1 and traceparents[0] is not None,
              f"the fetch carried a traceparent header ({traceparents})")
        if traceparents and traceparents[0]:
            trace_id = traceparents[0].split("-")[1]
            spans = []
            deadline = time.time() + 30
            while time.time() < deadline and not spans:
                code, body = get(s_port, f"/api/v2/traces/{trace_id}")
                trace = json.loads(body).get("trace", {}) if code == 200 else {}
                spans = [(rs, s) for rs in trace.get("resourceSpans", [])
                         for ss in rs["scopeSpans"] for s in ss["spans"]]
                if not spans:
                    time.sleep(0.3)
            services = {a["value"]["stringValue"] for rs, _ in spans
                        for a in rs["resource"]["attributes"] if a["key"] == "service.name"}
            check(bool(spans) and services == {APP},
                  f"the fetch's trace {trace_id} is in strata serve ({len(spans)} spans, "
                  f"services {services})")

        _, metrics = get(a_port, "/metrics")
        check('strata_agent_receiver_requests_total{code="204",receiver="faro"}' in
              metrics.decode(), "the agent answered CORS preflights")
    finally:
        if page_server:
            page_server.shutdown()
        stop_all(procs)
        if failures:
            with open(os.path.join(work, "procs.log")) as f:
                print(f.read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
