#!/usr/bin/env python3
"""What a slowloris attack costs everyone else: p99 latency of wrk through
gantry and through nginx (as a reverse proxy, the comparison) to the same
nginx upstream, without and with 1,000 connections trickling a header that
never ends (one byte per connection every 2 s). Median p99 of ROUNDS short
wrk runs per cell, gantry and nginx interleaved in the same run.

This is the latency goal tests/integration/test_slow_clients.py used to
assert: on a shared 2-core machine one p99 swings from 0.3 to 3.5 ms on its
own, so a test could only flake; here it is measured side by side.

Usage: slowloris_latency.py BUILD_DIR   (env: ROUNDS=5 SECONDS=2 SLOW=1000)"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, status

build = sys.argv[1] if len(sys.argv) > 1 else "build"
rounds = int(os.environ.get("ROUNDS", "5"))
seconds = int(os.environ.get("SECONDS", "2"))
n_slow = int(os.environ.get("SLOW", "1000"))
d = tempfile.mkdtemp(prefix="gantry-slowloris-")
up_port, ng_port, gw_port = free_port(), free_port(), free_port()
with open(d + "/nginx.conf", "w") as f:
    f.write("worker_processes 2; daemon off; pid %s/pid; error_log %s/err; events { worker_connections 8192; }\n"
            "http { access_log off; client_header_timeout 10s; keepalive_requests 10000000;\n"
            "  upstream up { server 127.0.0.1:%d; keepalive 64; }\n"
            "  server { listen 127.0.0.1:%d; location / { return 200 ok; } }\n"
            "  server { listen 127.0.0.1:%d; location / { proxy_pass http://up; proxy_http_version 1.1;\n"
            "    proxy_set_header Connection \"\"; } } }\n" % (d, d, up_port, up_port, ng_port))
with open(d + "/dynamic.yaml", "w") as f:
    f.write("http:\n  routers:\n    r: {rule: \"Host(`c.test`)\", service: s}\n  services:\n"
            "    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:%d\"}]}}\n" % up_port)
procs = [subprocess.Popen(["nginx", "-e", d + "/err", "-p", d, "-c", d + "/nginx.conf"]),
         subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", "--log.level=WARN",
                           "--entryPoints.web.address=127.0.0.1:%d" % gw_port,
                           "--entryPoints.web.transport.respondingTimeouts.readTimeout=60s",
                           "--providers.file.filename=" + d + "/dynamic.yaml"])]


def wait_ready(port):
    deadline = time.time() + 10
    while status(port, "c.test") != 200:
        if time.time() > deadline:
            sys.exit("port %d did not answer 200 within 10 s" % port)
        time.sleep(0.05)


def p99_ms(port):
    out = subprocess.run(["wrk", "-t2", "-c32", "-d%ds" % seconds, "--latency", "-H", "Host: c.test",
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v


def median_p99(port):
    return sorted(p99_ms(port) for _ in range(rounds))[rounds // 2]


class Slowloris:
    """n_slow connections to <port> sending a head that never ends."""

    def __init__(self, port):
        self.socks = []
        for _ in range(n_slow):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: c.test\r\nX-Slow: ")
            self.socks.append(s)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.trickle, daemon=True)
        self.t.start()

    def trickle(self):
        while not self.stop.is_set():
            for s in self.socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            self.stop.wait(2)

    def close(self):
        self.stop.set()
        self.t.join()
        for s in self.socks:
            s.close()


try:
    for port in (ng_port, gw_port):
        wait_ready(port)
    rows = []
    for name, port in (("gantry", gw_port), ("nginx (proxy_pass)", ng_port)):
        base = median_p99(port)
        attack = Slowloris(port)
        time.sleep(1)
        loaded = median_p99(port)
        attack.close()
        rows.append((name, base, loaded))
finally:
    for p in procs:
        p.terminate()
        p.wait()
    shutil.rmtree(d, ignore_errors=True)
print("| proxy | p99 unloaded (ms) | p99 under %d slowloris connections (ms) | difference (ms) |" % n_slow)
print("|---|---:|---:|---:|")
for name, base, loaded in rows:
    print("| %s | %.2f | %.2f | %+.2f |" % (name, base, loaded, loaded - base))
print("\nmedian p99 of %d wrk runs of %d s (2 threads, 32 connections) per cell" % (rounds, seconds))
