"""Debian's ClickHouse (18.16) as the benchmarks run it beside Strata (bench/logs, bench/traces):
a server of its own in a work directory, on loopback ports, pinned to core 0 like Strata, every
part compressed with zstd (the best 18.16 offers: per-column codecs came later)."""
import os
import re
import shutil
import subprocess
import time
import urllib.parse

from peers import free_port, get, stop_all, wait_http


def cpu_seconds(pid):
    """User plus system CPU seconds process `pid` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ClickHouse:
    def __init__(self, work):
        self.dir = os.path.join(work, "clickhouse")
        os.makedirs(self.dir)
        self.http = free_port()
        self.tcp = free_port()
        conf = open("/etc/clickhouse-server/config.xml").read()
        conf = re.sub(r"<http_port>\d+</http_port>", f"<http_port>{self.http}</http_port>", conf)
        conf = re.sub(r"<tcp_port>\d+</tcp_port>", f"<tcp_port>{self.tcp}</tcp_port>", conf)
        conf = re.sub(r"<tcp_port_secure>\d+</tcp_port_secure>", "", conf)
        conf = re.sub(r"<interserver_http_port>\d+</interserver_http_port>", "", conf)
        conf = re.sub(r"<listen_host>::1</listen_host>", "", conf)
        conf = conf.replace("/var/lib/clickhouse/", self.dir + "/")
        conf = conf.replace("/var/log/clickhouse-server/", self.dir + "/")
        conf = re.sub(r"<compression incl=\"clickhouse_compression\">.*?</compression>",
                      "<compression><case><min_part_size>0</min_part_size>"
                      "<min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case>"
                      "</compression>", conf, flags=re.S)
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write(conf)
        shutil.copy("/etc/clickhouse-server/users.xml", self.dir)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", "clickhouse-server", "--config-file",
             os.path.join(self.dir, "config.xml")],
            stdout=open(self.dir + ".log", "a"), stderr=subprocess.STDOUT, cwd=self.dir)
        wait_http(f"http://127.0.0.1:{self.http}/ping", 60)

    def stop(self):
        stop_all([self.proc])

    def sql(self, q, data=None):
        """Runs `q`; returns (seconds, server CPU seconds, the answer's text)."""
        t0 = time.perf_counter()
        c0 = cpu_seconds(self.proc.pid)
        body = get(f"http://127.0.0.1:{self.http}/?" + urllib.parse.urlencode({"query": q}),
                   timeout=600, data=data if data is not None else b"")
        return time.perf_counter() - t0, cpu_seconds(self.proc.pid) - c0, body

    def insert(self, table, fmt, stdin, settings=()):
        """INSERTs the rows `stdin` (a file or pipe) holds in format `fmt` with clickhouse-client
        on core 1; returns the server CPU seconds it took."""
        c0 = cpu_seconds(self.proc.pid)
        subprocess.run(["taskset", "-c", "1", "clickhouse-client", "--port", str(self.tcp),
                        *settings, "--query", f"INSERT INTO {table} FORMAT {fmt}"],
                       stdin=stdin, check=True)
        return cpu_seconds(self.proc.pid) - c0

    def stored_bytes(self, table):
        """Bytes on disk of the table's active parts, and how many parts."""
        _, _, body = self.sql("SELECT sum(bytes_on_disk), count() FROM system.parts "
                              f"WHERE active AND table = '{table}'")
        b, parts = body.split()
        return int(b), int(parts)
