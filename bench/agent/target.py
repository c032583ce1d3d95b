#!/usr/bin/env python3
"""Scrape targets for the agent outage benchmark: each port serves SERIES gauge series
(bench_series{i="..."}) in the text exposition format and counts the scrapes it served per
agent (by User-Agent). GET /served on the first port answers {"agent": scrapes} summed over
all ports; POST /stop makes every port answer 503 from then on (scrapes stop producing data).

Usage: target.py FIRST_PORT TARGETS SERIES
"""
import http.server
import json
import sys
import threading

first_port, targets, series = (int(a) for a in sys.argv[1:4])
lock = threading.Lock()
served = {}
stopped = threading.Event()
body = "".join(f'bench_series{{i="{i}"}} {i}\n' for i in range(series)).encode()


def agent_of(user_agent):
    ua = (user_agent or "").lower()
    for name, prefix in (("prometheus", "prometheus/"), ("vmagent", "vm_promscrape"),
                         ("strata", "strata-agent/")):
        if ua.startswith(prefix):
            return name
    return "other"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, data, ctype="text/plain; version=0.0.4"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/served":
            with lock:
                return self.reply(200, json.dumps(served).encode(), "application/json")
        if stopped.is_set():
            return self.reply(503, b"stopped\n")
        with lock:
            name = agent_of(self.headers.get("User-Agent"))
            served[name] = served.get(name, 0) + 1
        self.reply(200, body)

    def do_POST(self):
        stopped.set()
        self.reply(200, b"stopped\n")


servers = [http.server.ThreadingHTTPServer(("127.0.0.1", first_port + k), Handler)
           for k in range(targets)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
