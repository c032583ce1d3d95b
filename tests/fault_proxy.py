#!/usr/bin/env python3
"""An HTTP proxy that misbehaves on purpose, for object-store fault tests.

Forwards each request to --upstream unchanged (the Host header too, so SigV4 signatures
stay valid). A fraction of requests (--fault-rate) instead gets one of: a 500 or 503 answer,
a dropped connection, or a delay before forwarding. `POST /-/mode` with body "down" fails
every request with 503 until "up" is posted. Prints the port it listens on.
"""
import argparse
import http.client
import http.server
import random
import socketserver
import sys
import threading
import time

state = {"down": False, "faults": 0}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/-/mode":
            state["down"] = body.strip() == b"down"
            return self.reply(200, b"ok")
        if self.path == "/-/faults":
            return self.reply(200, str(state["faults"]).encode())
        if state["down"]:
            return self.reply(503, b"<Error><Code>SlowDown</Code><Message>proxy is down</Message></Error>")
        if random.random() < self.server.fault_rate:
            with lock:
                state["faults"] += 1
            kind = random.choice(["500", "503", "drop", "delay"])
            if kind == "500":
                return self.reply(500, b"<Error><Code>InternalError</Code><Message>injected</Message></Error>")
            if kind == "503":
                return self.reply(503, b"<Error><Code>SlowDown</Code><Message>injected</Message></Error>")
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            time.sleep(random.uniform(0.05, 0.3))
        conn = http.client.HTTPConnection(self.server.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items()}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/xml")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="host:port")
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.upstream = args.upstream
    srv.fault_rate = args.fault_rate
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
