"""Helpers for tests that run real peers (Strata, Prometheus, ...) on loopback."""
import json
import math
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def fetch(url, headers=None, timeout=5):
    """GETs url; returns (status, Content-Type, body bytes), for error statuses too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def wait_http(url, deadline_s=30):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            get(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def query(base, params, tenant=None):
    """Runs an instant or (with a step) range query; returns (seconds, decoded answer)."""
    path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
    data = urllib.parse.urlencode(params).encode()
    t0 = time.perf_counter()
    try:
        body = get(base + path, timeout=300, data=data,
                   headers={"X-Scope-OrgID": tenant} if tenant else None)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
    return time.perf_counter() - t0, json.loads(body)


def canonical(resp):
    if resp.get("status") != "success":
        return ("error", resp.get("error"))
    out = {}
    for r in resp["data"]["result"]:
        pts = r["values"] if "values" in r else [r["value"]]
        out[json.dumps(r["metric"], sort_keys=True)] = [(t, float(v)) for t, v in pts]
    return out


def difference(a, b):
    """None when two canonical results agree to 1e-9, else what differs."""
    if a == b:
        return None
    if isinstance(a, tuple) or isinstance(b, tuple):
        return f"{a if isinstance(a, tuple) else 'result'} vs {b if isinstance(b, tuple) else 'result'}"
    if set(a) != set(b):
        return f"series {sorted(set(a) ^ set(b))[:2]}"
    for k in a:
        if len(a[k]) != len(b[k]):
            return f"{k}: {len(a[k])} vs {len(b[k])} points"
        for (ta, va), (tb, vb) in zip(a[k], b[k]):
            if ta != tb:
                return f"{k}: timestamps {ta} vs {tb}"
            if math.isnan(va) or math.isnan(vb):
                if not (math.isnan(va) and math.isnan(vb)):
                    return f"{k} at {ta}: {va} vs {vb}"
            elif abs(va - vb) > 1e-9 * max(abs(va), abs(vb)):
                return f"{k} at {ta}: {va!r} vs {vb!r}"
    return None
