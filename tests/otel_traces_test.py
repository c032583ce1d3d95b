#!/usr/bin/env python3
"""Spans from a real instrumented application come back from Strata's Tempo API unchanged.

tests/otel/trace_app.js (the OpenTelemetry JS SDK: a frontend calling a backend over HTTP with
W3C trace context, the backend querying a "db") exports its spans four ways: OTLP/HTTP
protobuf and JSON and OTLP/gRPC straight to `strata serve`, and OTLP/gRPC to `strata agent`,
which forwards them to `strata serve` over OTLP/HTTP. The SDK's own record of each span (an in-memory
exporter beside the OTLP one) is the expectation: every span must come back with the same
IDs, parent, name, kind, times, attributes (with their types), status, events, resource and
scope through GET /api/traces/<id> as JSON (decoded here from Tempo's jsonpb form) and as
protobuf (decoded here by a small wire-format reader), and the trace must be whole.
"""
import argparse
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import peers
from peers import free_port, stop_all, wait_http

REQUESTS = 6  # traces per run, three spans each


def fetch(port, path, accept=None):
    headers = {"X-Scope-OrgID": "otel"}
    if accept:
        headers["Accept"] = accept
    return peers.fetch(f"http://127.0.0.1:{port}{path}", headers)


# ---- The SDK's record, in the form both decoders below produce ----

def expected_value(v):
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("double", v)
    return ("string", v)


def expected(span):
    return {
        "traceId": span["traceId"], "spanId": span["spanId"],
        "parentSpanId": span["parentSpanId"], "name": span["name"],
        "kind": span["kind"] + 1,  # the API's SpanKind is OTLP's minus one
        "start": int(span["start"]), "end": int(span["end"]),
        "attributes": {k: expected_value(v) for k, v in span["attributes"].items()},
        "status": (span["status"].get("code", 0), span["status"].get("message") or ""),
        "events": [(e["name"], int(e["time"]),
                    {k: expected_value(v) for k, v in e["attributes"].items()})
                   for e in span["events"]],
        "service": span["service"], "scope": (span["scope"], span["scopeVersion"]),
    }


# ---- Tempo's JSON (jsonpb: IDs base64, 64-bit integers as strings, zero values left out) ----

KINDS = ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
         "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"]
CODES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]


def json_id(s):
    return base64.b64decode(s).hex() if s else ""


def json_value(v):
    for key, kind, conv in (("stringValue", "string", str), ("boolValue", "bool", bool),
                            ("intValue", "int", int), ("doubleValue", "double", float)):
        if key in v:
            return (kind, conv(v[key]))
    raise ValueError(f"unexpected value {v}")


def json_attrs(attrs):
    return {a["key"]: json_value(a["value"]) for a in attrs or []}


def from_json(body):
    out = []
    for rs in json.loads(body)["batches"]:
        service = json_attrs(rs["resource"]["attributes"])["service.name"][1]
        for ss in rs["scopeSpans"]:
            scope = (ss["scope"].get("name", ""), ss["scope"].get("version", ""))
            for s in ss["spans"]:
                st = s.get("status", {})
                out.append({
                    "traceId": json_id(s["traceId"]), "spanId": json_id(s["spanId"]),
                    "parentSpanId": json_id(s.get("parentSpanId", "")), "name": s["name"],
                    "kind": KINDS.index(s.get("kind", KINDS[0])),
                    "start": int(s["startTimeUnixNano"]), "end": int(s["endTimeUnixNano"]),
                    "attributes": json_attrs(s.get("attributes")),
                    "status": (CODES.index(st.get("code", CODES[0])), st.get("message", "")),
                    "events": [(e["name"], int(e["timeUnixNano"]), json_attrs(e.get("attributes")))
                               for e in s.get("events", [])],
                    "service": service, "scope": scope})
    return out


# ---- Protobuf (tempopb.Trace = TracesData), read with the wire format alone ----

def wire_fields(buf):
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.append((field, v))
    return out


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def pb_value(buf):
    for f, v in wire_fields(buf):
        if f == 1:
            return ("string", v.decode())
        if f == 2:
            return ("bool", v != 0)
        if f == 3:
            return ("int", v - (1 << 64) if v >= 1 << 63 else v)
        if f == 4:
            return ("double", struct.unpack("<d", v)[0])
    raise ValueError("empty AnyValue")


def pb_attr(buf):
    kv = dict(wire_fields(buf))
    return kv[1].decode(), pb_value(kv.get(2, b""))


def from_protobuf(body):
    out = []
    for f, rs in wire_fields(body):
        assert f == 1
        service, scopes = None, []
        for rf, rv in wire_fields(rs):
            if rf == 1:
                service = dict(pb_attr(a) for af, a in wire_fields(rv) if af == 1)["service.name"][1]
            elif rf == 2:
                scopes.append(rv)
        for ss in scopes:
            scope, spans = ("", ""), []
            for sf, sv in wire_fields(ss):
                if sf == 1:
                    d = dict(wire_fields(sv))
                    scope = (d.get(1, b"").decode(), d.get(2, b"").decode())
                elif sf == 2:
                    spans.append(sv)
            for sp in spans:
                s = {"attributes": {}, "events": [], "status": (0, ""), "parentSpanId": "",
                     "kind": 0, "service": service, "scope": scope}
                for k, v in wire_fields(sp):
                    if k == 1:
                        s["traceId"] = v.hex()
                    elif k == 2:
                        s["spanId"] = v.hex()
                    elif k == 4:
                        s["parentSpanId"] = v.hex()
                    elif k == 5:
                        s["name"] = v.decode()
                    elif k == 6:
                        s["kind"] = v
                    elif k == 7:
                        s["start"] = struct.unpack("<Q", v)[0]
                    elif k == 8:
                        s["end"] = struct.unpack("<Q", v)[0]
                    elif k == 9:
                        key, val = pb_attr(v)
                        s["attributes"][key] = val
                    elif k == 11:
                        e = {"attrs": {}, "name": "", "time": 0}
                        for ef, ev in wire_fields(v):
                            if ef == 1:
                                e["time"] = struct.unpack("<Q", ev)[0]
                            elif ef == 2:
                                e["name"] = ev.decode()
                            elif ef == 3:
                                key, val = pb_attr(ev)
                                e["attrs"][key] = val
                        s["events"].append((e["name"], e["time"], e["attrs"]))
                    elif k == 15:
                        d = dict(wire_fields(v))
                        s["status"] = (d.get(3, 0), d.get(2, b"").decode())
                out.append(s)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--node-modules", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-otel-traces-")
    procs, failures = [], []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    try:
        s_port, s_grpc, a_port, a_grpc = free_port(), free_port(), free_port(), free_port()
        log = open(os.path.join(work, "procs.log"), "w")
        procs.append(subprocess.Popen(
            [args.strata, "serve", "--data-dir", os.path.join(work, "serve"), "--listen",
             f"127.0.0.1:{s_port}", "--grpc-listen", f"127.0.0.1:{s_grpc}"],
            stdout=log, stderr=subprocess.STDOUT))
        with open(os.path.join(work, "agent.yaml"), "w") as f:
            f.write(f"data_dir: {work}/agent\nserver: {{listen: 127.0.0.1:{a_port}, "
                    f"grpc_listen: 127.0.0.1:{a_grpc}}}\n"
                    "receivers: {otlp: {tenant: otel}}\n"
                    f"exporters:\n- name: serve\n  type: otlp_http\n"
                    f"  url: http://127.0.0.1:{s_port}\n")
        procs.append(subprocess.Popen([args.strata, "agent", "--config",
                                       os.path.join(work, "agent.yaml")],
                                      stdout=log, stderr=subprocess.STDOUT))
        for port in (s_port, a_port):
            wait_http(f"http://127.0.0.1:{port}/-/ready")

        env = dict(os.environ, NODE_PATH=args.node_modules)
        app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "otel", "trace_app.js")
        runs = [("proto", "proto", f"http://127.0.0.1:{s_port}/v1/traces"),
                ("json", "json", f"http://127.0.0.1:{s_port}/otlp/v1/traces"),
                ("grpc", "grpc", f"http://127.0.0.1:{s_grpc}"),
                ("grpc via the agent", "grpc", f"http://127.0.0.1:{a_grpc}")]
        for name, protocol, url in runs:
            r = subprocess.run(["node", app, protocol, url, str(REQUESTS)], env=env,
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, f"{name}: the SDK exported its spans "
                                     f"({r.stderr.strip()[-500:]})")
            if r.returncode != 0:
                continue
            recorded = [expected(s) for s in json.loads(r.stdout)]
            traces = {}
            for s in recorded:
                traces.setdefault(s["traceId"], []).append(s)
            check(len(traces) == REQUESTS and all(len(t) == 3 for t in traces.values()),
                  f"{name}: the app made {REQUESTS} traces of 3 spans")
            key = lambda s: s["spanId"]
            for trace_id, want in traces.items():
                want = sorted(want, key=key)
                path = f"/api/traces/{trace_id}"
                # The agent forwards asynchronously: wait for the whole trace.
                deadline = time.time() + 30
                got = []
                while time.time() < deadline:
                    code, ctype, body = fetch(s_port, path)
                    got = sorted(from_json(body), key=key) if code == 200 else []
                    if len(got) >= len(want):
                        break
                    time.sleep(0.2)
                check(got == want, f"{name}: trace {trace_id} as JSON "
                                   f"({len(got)} spans{'' if got == want else f': {got} != {want}'})")
                code, ctype, body = fetch(s_port, path, "application/protobuf")
                got = sorted(from_protobuf(body), key=key) if code == 200 else []
                check(code == 200 and ctype == "application/protobuf" and got == want,
                      f"{name}: trace {trace_id} as protobuf ({code} {ctype})")
            trace_id = next(iter(traces))
            code, _, body = fetch(s_port, f"/api/v2/traces/{trace_id}")
            v2 = json.loads(body) if code == 200 else {}
            services = {a["value"]["stringValue"]
                        for rs in v2.get("trace", {}).get("resourceSpans", [])
                        for a in rs["resource"]["attributes"] if a["key"] == "service.name"}
            check(code == 200 and services == {"frontend", "backend"} and
                  int(v2.get("metrics", {}).get("inspectedBytes", "0")) > 0,
                  f"{name}: v2 answers the trace (both services) with its metrics")
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
