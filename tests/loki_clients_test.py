#!/usr/bin/env python3
"""Real log senders push to `strata serve`; what they pushed must come back byte for byte.

Senders: pino + pino-loki (JSON push with structured metadata), winston + winston-loki
(snappy-compressed protobuf push), syslog-ng with its HTTP destination (Debian's
syslog-ng-mod-http, Loki JSON built by its templates), the OpenTelemetry JS SDK's OTLP log
exporters (protobuf and JSON) and the strata agent's Loki exporter (forwarding what pino-loki
sent it). Each sender talks to Strata through a recording proxy; the test decodes what was
sent with its own decoders (JSON, snappy, protobuf, written here from the formats' specs)
and compares it with what /loki/api/v1/query_range answers, entry by entry: labels, the
nanosecond timestamp, the line's bytes and structured metadata. Every request must have
been acknowledged with a 2xx.
"""
import argparse
import gzip
import http.client
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from peers import free_port, get, stop_all, wait_http

N = 20  # lines per sender
TENANT = "clients"
AGENT_TENANT = "clients-via-agent"


class Recorder:
    """An HTTP proxy to `upstream` that records each request and the status it got."""

    def __init__(self, upstream_port):
        self.records = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    chunk = self.rfile.read(size + 2)[:size]
                    if size == 0:
                        return body
                    body += chunk

            def do_POST(self):
                body = self.read_body()
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "transfer-encoding", "content-length")}
                conn.request("POST", self.path, body=body, headers=headers)
                res = conn.getresponse()
                answer = res.read()
                with recorder.lock:
                    recorder.records.append((self.path, dict(self.headers), body, res.status))
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pushes(self):
        with self.lock:
            return [r for r in self.records if r[0] in ("/loki/api/v1/push", "/otlp/v1/logs")]


# --- Decoders, written from the public formats (snappy's block format, protobuf's wire
# format, Loki's push.proto and OTLP's logs.proto), independent of Strata's.

def snappy_block(data):
    pos, n, shift = 0, 0, 0
    while True:  # uvarint: uncompressed length
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            length += 1
            out += data[pos:pos + length]
            pos += length
            continue
        if kind == 1:
            length = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            length = 1 + (tag >> 2)
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            length = 1 + (tag >> 2)
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        for _ in range(length):  # copies may overlap their own output
            out.append(out[-offset])
    assert len(out) == n, f"snappy: {len(out)} bytes, header says {n}"
    return bytes(out)


def protobuf_fields(data):
    """(field number, value) pairs: ints for varints and fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, pos = varint(data, pos)
        elif wire == 1:
            v, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            n, pos = varint(data, pos)
            v, pos = data[pos:pos + n], pos + n
        elif wire == 5:
            v, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, v


def varint(data, pos):
    v, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, pos


def parse_label_string(s):
    """Loki's stream label string: {a="b", c="d"} with Go-quoted values."""
    out = {}
    for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', s):
        out[m.group(1)] = json.loads('"' + m.group(2) + '"')
    return out


def loki_entries(headers, body):
    """(labels, ts_ns, line, structured metadata) of one Loki push request."""
    if headers.get("Content-Encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    ctype = headers.get("Content-Type", "")
    out = []
    if "json" in ctype:
        for stream in json.loads(body)["streams"]:
            for v in stream["values"]:
                md = tuple(sorted(v[2].items())) if len(v) > 2 else ()
                out.append((tuple(sorted(stream["stream"].items())), int(v[0]), v[1], md))
        return out
    for f, stream in protobuf_fields(snappy_block(body)):
        assert f == 1
        labels, entries = {}, []
        for g, v in protobuf_fields(stream):
            if g == 1:
                labels = parse_label_string(v.decode())
            elif g == 2:
                ts, line, md = 0, "", []
                for h, w in protobuf_fields(v):
                    if h == 1:
                        t = dict(protobuf_fields(w))
                        ts = t.get(1, 0) * 10**9 + t.get(2, 0)
                    elif h == 2:
                        line = w.decode()
                    elif h == 3:
                        pair = dict(protobuf_fields(w))
                        md.append((pair.get(1, b"").decode(), pair.get(2, b"").decode()))
                entries.append((ts, line, tuple(sorted(md))))
        out += [(tuple(sorted(labels.items())), *e) for e in entries]
    return out


def otlp_log_records(headers, body):
    """(service.name, ts_ns, body string) of one OTLP logs request."""
    out = []
    if "json" in headers.get("Content-Type", ""):
        for rl in json.loads(body)["resourceLogs"]:
            attrs = {a["key"]: a["value"] for a in rl["resource"]["attributes"]}
            service = attrs["service.name"]["stringValue"]
            for sl in rl["scopeLogs"]:
                for r in sl["logRecords"]:
                    out.append((service, int(r["timeUnixNano"]), r["body"]["stringValue"]))
        return out
    for f, rl in protobuf_fields(body):
        service, records = "", []
        for g, v in protobuf_fields(rl):
            if g == 1:  # Resource
                for h, kv in protobuf_fields(v):
                    if h == 1:
                        kvd = dict(protobuf_fields(kv))
                        if kvd[1] == b"service.name":
                            service = dict(protobuf_fields(kvd[2]))[1].decode()
            elif g == 2:  # ScopeLogs
                for h, rec in protobuf_fields(v):
                    if h == 2:
                        r = dict(protobuf_fields(rec))
                        records.append((r.get(1, 0), dict(protobuf_fields(r[5]))[1].decode()))
        out += [(service, ts, line) for ts, line in records]
    return out


def stored(port, selector, start_ns, end_ns, tenant=TENANT):
    """(labels, ts_ns, line, structured metadata) of every entry the selector finds."""
    q = urllib.parse.urlencode({"query": selector, "start": start_ns, "end": end_ns,
                                "limit": 5000, "direction": "forward"})
    res = json.loads(get(f"http://127.0.0.1:{port}/loki/api/v1/query_range?{q}",
                         headers={"X-Scope-OrgID": tenant,
                                  "X-Loki-Response-Encoding-Flags": "categorize-labels"}))
    out = []
    for s in res["data"]["result"]:
        labels = tuple(sorted(s["stream"].items()))
        for v in s["values"]:
            md = tuple(sorted(v[2].get("structuredMetadata", {}).items())) if len(v) > 2 else ()
            out.append((labels, int(v[0]), v[1], md))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--otel-node-modules", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-loki-clients-")
    procs = []
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    try:
        s_port, a_port = free_port(), free_port()
        log = open(os.path.join(work, "procs.log"), "w")
        procs.append(subprocess.Popen(
            [args.strata, "serve", "--data-dir", os.path.join(work, "serve"), "--listen",
             f"127.0.0.1:{s_port}", "--grpc-listen", ""], stdout=log, stderr=subprocess.STDOUT))
        wait_http(f"http://127.0.0.1:{s_port}/-/ready")
        direct = Recorder(s_port)  # senders -> Strata
        via_agent = Recorder(s_port)  # the agent's Loki exporter -> Strata
        with open(os.path.join(work, "agent.yaml"), "w") as f:
            f.write(f"data_dir: {work}/agent\nserver: {{listen: 127.0.0.1:{a_port}, "
                    "grpc_listen: ''}\n"
                    f"exporters:\n- name: loki\n  type: loki\n"
                    f"  url: http://127.0.0.1:{via_agent.port}/loki/api/v1/push\n"
                    "  probe_url: none\n")
        procs.append(subprocess.Popen([args.strata, "agent", "--config",
                                       os.path.join(work, "agent.yaml")],
                                      stdout=log, stderr=subprocess.STDOUT))
        wait_http(f"http://127.0.0.1:{a_port}/-/ready")
        t0 = time.time_ns()
        here = os.path.dirname(os.path.abspath(__file__))

        def node(script, *argv, modules):
            r = subprocess.run(["node", os.path.join(here, script), *argv],
                               env=dict(os.environ, NODE_PATH=modules), capture_output=True,
                               text=True, timeout=120)
            check(r.returncode == 0, f"{script} {argv[0]}: {r.stderr.strip()[-500:]}")

        direct_url = f"http://127.0.0.1:{direct.port}"
        node("loki_clients/send.js", "pino", direct_url, TENANT, str(N), modules=args.node_modules)
        node("loki_clients/send.js", "winston", direct_url, TENANT, str(N),
             modules=args.node_modules)
        # pino-loki to the agent, whose Loki exporter forwards to Strata (another tenant).
        node("loki_clients/send.js", "pino", f"http://127.0.0.1:{a_port}", AGENT_TENANT, str(N),
             modules=args.node_modules)
        for proto in ("proto", "json"):
            node("otel/send.js", proto, f"otel-{proto}", "-", f"{direct_url}/otlp/v1/logs", "-",
                 str(N), modules=args.otel_node_modules)

        # syslog-ng tails a file and posts batches of Loki JSON it builds with its templates
        # (format-json escapes the message; substr cuts the string out of its object).
        lines = [f"syslog line {i} \u00e9\t\"q\" back\\slash" for i in range(N)]
        sng = os.path.join(work, "syslog-ng")
        os.makedirs(sng)
        with open(os.path.join(sng, "in.log"), "w") as f:
            f.write("".join(l + "\n" for l in lines))
        with open(os.path.join(sng, "sng.conf"), "w") as f:
            f.write(f"""@version: 3.38
source s {{ file("{sng}/in.log" flags(no-parse) follow-freq(0.1)); }};
destination d {{ http(
  url("{direct_url}/loki/api/v1/push") method("POST")
  headers("Content-Type: application/json", "X-Scope-OrgID: {TENANT}")
  batch-lines(8) batch-timeout(200)
  body-prefix('{{"streams":[{{"stream":{{"job":"syslog-ng"}},"values":[')
  delimiter(",")
  body('["${{R_UNIXTIME}}${{R_USEC}}000",$(substr "$(format-json --scope none m=$MSG)" 5 -1)]')
  body-suffix("]}}]}}")
); }};
log {{ source(s); destination(d); }};
""")
        procs.append(subprocess.Popen(
            ["syslog-ng", "-F", "-f", os.path.join(sng, "sng.conf"), "-R",
             os.path.join(sng, "persist"), "-p", os.path.join(sng, "pid"), "-c",
             os.path.join(sng, "ctl"), "--no-caps"], stdout=log, stderr=subprocess.STDOUT))

        def sent_by(recorder, pred):
            out = []
            for path, headers, body, status in recorder.pushes():
                if path == "/loki/api/v1/push":
                    out += [e for e in loki_entries(headers, body) if pred(e)]
            return sorted(out)

        deadline = time.time() + 60
        while time.time() < deadline:
            if (len(sent_by(direct, lambda e: ("job", "syslog-ng") in e[0])) >= N and
                    len(sent_by(via_agent, lambda e: True)) >= N):
                break
            time.sleep(0.2)
        end = time.time_ns() + 60 * 10**9

        bad = [(p, s) for p, _, _, s in direct.records + via_agent.records if not 200 <= s < 300]
        check(not bad, f"every push acknowledged with a 2xx ({bad[:3]})")
        for name, selector, recorder, pred in (
                ("pino-loki", '{app="pino"}', direct, lambda e: ("app", "pino") in e[0]),
                ("winston-loki", '{app="winston"}', direct, lambda e: ("app", "winston") in e[0]),
                ("syslog-ng", '{job="syslog-ng"}', direct, lambda e: ("job", "syslog-ng") in e[0]),
        ):
            want = sent_by(recorder, pred)
            check(len(want) == N, f"{name} sent {N} entries (sent {len(want)})")
            if name == "pino-loki":
                check(all(e[3] == (("trace_id", f"t{i}"),) for e in want
                          for i in [int(e[2].split('"i":')[1].split(",")[0])]),
                      "pino-loki sent each entry's structured metadata")
            got = stored(s_port, selector, t0 - 3600 * 10**9, end)
            check(got == want, f"{name}: what was pushed comes back byte for byte "
                               f"({len(got)} stored; first difference "
                               f"{next(((a, b) for a, b in zip(got, want) if a != b), None)})")
        check(sorted(e[2] for e in sent_by(direct, lambda e: ("job", "syslog-ng") in e[0])) ==
              sorted(lines), "syslog-ng sent the lines of its file unchanged")

        # The agent's exporter: it forwards what pino-loki sent it, and Strata stores that.
        forwarded = sent_by(via_agent, lambda e: True)
        check(len(forwarded) == N, f"the agent forwarded {N} entries ({len(forwarded)})")
        got = stored(s_port, '{app="pino"}', t0 - 3600 * 10**9, end, AGENT_TENANT)
        check(got == forwarded, "the agent's Loki exporter: what it pushed comes back byte for "
                                f"byte ({len(got)} stored)")

        # OTLP: each record's body is the line, at the record's time, in its service's stream.
        for proto in ("proto", "json"):
            want = []
            for path, headers, body, _ in direct.pushes():
                if path == "/otlp/v1/logs":
                    want += [(ts, line) for svc, ts, line in otlp_log_records(headers, body)
                             if svc == f"otel-{proto}"]
            got = [(ts, line) for _, ts, line, _ in
                   stored(s_port, f'{{service_name="otel-{proto}"}}', t0 - 3600 * 10**9, end,
                          "otel")]
            check(len(want) == N and sorted(want) == got,
                  f"OpenTelemetry JS OTLP/{proto} logs come back byte for byte "
                  f"({len(got)} stored, {len(want)} sent)")
    finally:
        stop_all(procs)
        if failures:
            print(f"work dir kept: {work}")
            with open(os.path.join(work, "procs.log")) as f:
                sys.stdout.write(f.read()[-3000:])
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
