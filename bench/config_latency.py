#!/usr/bin/env python3
"""Configuration-change latency through the file provider: write a file that
adds a router, measure until the first 200 through gantry on that host.
Reports median and p99 over N changes. Usage: config_latency.py BUILD_DIR [N]"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
d = tempfile.mkdtemp(prefix="gantry-lat-")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


up_port, gw_port = free_port(), free_port()
with open(d + "/nginx.conf", "w") as f:
    f.write("daemon off; pid %s/pid; error_log %s/err; events {} http { access_log off; server { listen 127.0.0.1:%d; "
            "location / { return 200 ok; } } }" % (d, d, up_port))
up = subprocess.Popen(["nginx", "-e", d + "/err", "-p", d, "-c", d + "/nginx.conf"])
dyn = os.path.join(d, "dynamic.yaml")


def write(k):
    routers = "".join("    r%d: {rule: \"Host(`h%d.test`)\", service: s}\n" % (i, i) for i in range(k + 1))
    with open(dyn + ".tmp", "w") as f:
        f.write("http:\n  routers:\n%s  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:%d\"}]}}\n"
                % (routers, up_port))
    os.rename(dyn + ".tmp", dyn)


write(0)
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", "--log.level=WARN",
                       "--entryPoints.web.address=127.0.0.1:%d" % gw_port, "--providers.file.filename=" + dyn])


def status(host):
    s = socket.create_connection(("127.0.0.1", gw_port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    data = s.recv(64)
    s.close()
    return int(data.split()[1])


deadline = time.time() + 10
while time.time() < deadline:
    try:
        if status("h0.test") == 200:
            break
    except OSError:
        time.sleep(0.01)
lat = []
for k in range(1, n + 1):
    t0 = time.perf_counter()
    write(k)
    while status("h%d.test" % k) != 200:
        if time.perf_counter() - t0 > 5:
            sys.exit("route h%d.test did not appear within 5 s" % k)
    lat.append((time.perf_counter() - t0) * 1000)
gw.terminate()
gw.wait()
up.terminate()
up.wait()
shutil.rmtree(d, ignore_errors=True)  # a finished run leaves /tmp as it found it (a failed one keeps it)
lat.sort()
print("| file change -> first 200 (ms), %d changes | median | p99 | max |" % n)
print("|---|---:|---:|---:|")
print("| rename of the dynamic file adding one router (inotify, parse, compile, swap) | %.2f | %.2f | %.2f |"
      % (lat[len(lat) // 2], lat[int(len(lat) * 0.99) - 1], lat[-1]))
