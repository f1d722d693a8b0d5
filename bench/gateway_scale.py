#!/usr/bin/env python3
"""Gateway API at scale, in the shape of the public Gateway API benchmark:
one Gateway, one HTTPRoute per hostname. The project's API-server emulator
(HTTPS) holds the CRDs (manifests/gateway-api, applied as a user would),
a GatewayClass, a Gateway and one Service (10 endpoints on one nginx);
gantry syncs, then
  1. ROUTES HTTPRoutes are written at once (the emulator's lock held, so
     no watch event leaves before the last write), and the time until the
     last route's hostname answers 200 through gantry is measured from the
     first write and from the end of the writes, when the first watch
     event can leave (every event in between, every rebuild);
  2. once the status writes have settled, N times one more HTTPRoute is
     written and the time from the write to the first 200 on its host is
     measured (median, p99);
RSS after 1 and after 2. Prints a table.
Usage: gateway_scale.py [BUILD] [ROUTES] [N]
Env: GW_BENCH_PERF=<file> records gantry with perf (call graphs) during 2;
GW_BENCH_KEEP=1 keeps the run directory (gantry.log: per-change timings)."""
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from benchlib import free_port, rss_kib, status  # noqa: E402 (this folder)
from k8s_emulator import Emulator  # noqa: E402
from tls_certs import make_cert  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n_routes = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
d = tempfile.mkdtemp(prefix="gantry-gw-")

up_port, gw_port = free_port(), free_port()
with open(d + "/nginx.conf", "w") as f:  # every 127.x address reaches it (loopback only)
    f.write("daemon off; pid %s/pid; error_log %s/err; events {} http { access_log off; server { listen %d; "
            "location / { return 200 ok; } } }" % (d, d, up_port))
up = subprocess.Popen(["nginx", "-e", d + "/err", "-p", d, "-c", d + "/nginx.conf"])
cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
emu = Emulator(cert=cert, key=key, history=200000).start()
for f in sorted(glob.glob(os.path.join(ROOT, "manifests", "gateway-api", "*.yaml"))):
    emu.apply(yaml.safe_load(open(f)))
emu.apply({"kind": "GatewayClass", "apiVersion": "gateway.networking.k8s.io/v1", "metadata": {"name": "gantry"},
           "spec": {"controllerName": "gantry.io/gateway-controller"}})
emu.apply({"kind": "Gateway", "apiVersion": "gateway.networking.k8s.io/v1", "metadata": {"name": "gw", "namespace": "bench"},
           "spec": {"gatewayClassName": "gantry", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}})
emu.apply({"kind": "Service", "metadata": {"name": "svc", "namespace": "bench"},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": up_port}]}})
emu.apply({"kind": "EndpointSlice", "metadata": {"name": "svc-x", "namespace": "bench",
                                                 "labels": {"kubernetes.io/service-name": "svc"}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": up_port}],
           "endpoints": [{"addresses": ["127.0.1.%d" % (j + 1)], "conditions": {"ready": True}} for j in range(10)]})


def route(i):
    return {"kind": "HTTPRoute", "apiVersion": "gateway.networking.k8s.io/v1",
            "metadata": {"name": "route-%d" % i, "namespace": "bench"},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["h%d.test" % i],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                "backendRefs": [{"name": "svc", "port": 80}]}]}}


log = open(d + "/gantry.log", "wb")
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", "--log.level=DEBUG", "--admin.address=",
                       "--entryPoints.web.address=127.0.0.1:%d" % gw_port, "--providers.kubernetesGateway=true",
                       "--providers.kubernetesGateway.endpoint=" + emu.url,
                       "--providers.kubernetesGateway.token=" + emu.token,
                       "--providers.kubernetesGateway.certAuthFilePath=" + d + "/ca.crt",
                       "--providers.kubernetesGateway.statusAddress.ip=192.0.2.1"], stdout=log, stderr=subprocess.STDOUT)
deadline = time.time() + 30
while time.time() < deadline and ((emu.get("Gateway", "bench", "gw") or {}).get("status") or {}).get("listeners") is None:
    time.sleep(0.02)  # synced: the Gateway's status is written
rss_idle = rss_kib(gw.pid)

# 1. every route written at once (the emulator's lock held: one burst of watch events)
objs = [route(i) for i in range(n_routes)]
t0 = time.time()
with emu.lock:
    for o in objs:
        emu.apply(o)
write_s = time.time() - t0
deadline = t0 + 120
while status(gw_port, "h%d.test" % (n_routes - 1)) != 200 and time.time() < deadline:
    time.sleep(0.005)
all_live_s = time.time() - t0
sample = [status(gw_port, "h%d.test" % i) for i in range(0, n_routes, max(1, n_routes // 50))]
assert all(s == 200 for s in sample), sample
rss_synced = rss_kib(gw.pid)

# status writes: one PUT per route, serial; wait for them to settle
t1 = time.time()
settle_deadline = t1 + 300
while time.time() < settle_deadline:
    st = (emu.get("HTTPRoute", "bench", "route-%d" % (n_routes - 1)) or {}).get("status")
    if st and st.get("parents"):
        break
    time.sleep(0.1)
status_s = time.time() - t1
time.sleep(1.0)

# 2. one more route at a time
log.flush()
log_mark = os.path.getsize(d + "/gantry.log")
perf = None
if os.environ.get("GW_BENCH_PERF"):  # profile gantry during the changes only: perf record -g into that file
    perf = subprocess.Popen(["perf", "record", "--call-graph=dwarf,16384", "-F", "499", "-o", os.environ["GW_BENCH_PERF"], "-p", str(gw.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
def cpu_s(pid):  # user + system CPU seconds of a process: what a change costs, whatever the load
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


cpu0 = cpu_s(gw.pid)
lat = []
for k in range(n):
    i = n_routes + k
    t = time.time()
    emu.apply(route(i))
    while status(gw_port, "h%d.test" % i) != 200 and time.time() - t < 10:
        time.sleep(0.001)  # leave the CPU to gantry and the emulator
    lat.append((time.time() - t) * 1000)
cpu_per_change = (cpu_s(gw.pid) - cpu0) / n * 1000
if perf:
    perf.send_signal(2)
    perf.wait()
lat.sort()
rss_end = rss_kib(gw.pid)
# gantry's own share of each change: the translation, then the aggregator's compile and publish
with open(d + "/gantry.log", "rb") as f:
    f.seek(log_mark)
    tail = f.read().decode(errors="replace")
own = []
pending = None
for line in tail.splitlines():
    m = re.search(r"translated \d+ HTTPRoutes in (\d+) ms", line)
    if m:
        pending = int(m.group(1))
    m = re.search(r"configuration applied in ([\d.]+) ms", line)
    if m and pending is not None:
        own.append(pending + float(m.group(1)))
        pending = None
own.sort()
def p99(v):
    return v[max(0, int(len(v) * 0.99) - 1)] if v else float("nan")


print("| HTTPRoutes | written in | all live, from the first write | from the first watch event | status of all written after "
      "| one more route: median "
      "| p99 | gantry's share (translate + compile): median | p99 | gantry CPU per change | RSS idle | RSS with routes "
      "| RSS after %d changes |" % n)
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
print("| %d | %.2f s | %.2f s | %.2f s | %.1f s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f MB | %.1f MB | %.1f MB |"
      % (n_routes, write_s, all_live_s, all_live_s - write_s, status_s, statistics.median(lat), p99(lat),
         statistics.median(own) if own else float("nan"), p99(own), cpu_per_change, rss_idle / 1024, rss_synced / 1024,
         rss_end / 1024))
print("\none Gateway, one HTTPRoute per hostname; gantry with 2 workers; incremental translation (one route afresh per change).")
gw.terminate()
gw.wait()
log.close()
up.terminate()
emu.stop()
if os.environ.get("GW_BENCH_KEEP"):
    print("kept", d)
else:
    shutil.rmtree(d, ignore_errors=True)
