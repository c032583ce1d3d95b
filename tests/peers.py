"""Helpers for tests that run real peers (Strata, Prometheus, ...) on loopback."""
import signal
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5, data=None):
    with urllib.request.urlopen(url, timeout=timeout, data=data) as r:
        return r.read().decode()


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
