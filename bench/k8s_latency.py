#!/usr/bin/env python3
"""Kubernetes: watch-event-to-route latency and memory at scale. The
project's API-server emulator (HTTPS) holds 1,000 Ingresses (one host
each) over 1,000 Services whose EndpointSlices hold 10,000 endpoints (10
per Service, distinct loopback addresses of one nginx); gantry syncs, then
N times an Ingress is added and the time from the emulator's write to the
first 200 through gantry on its host is measured. Prints a table.
Usage: k8s_latency.py [BUILD] [N] [INGRESSES] [ENDPOINTS_PER_SERVICE]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from benchlib import free_port, rss_kib, status  # noqa: E402 (this folder)
from k8s_emulator import Emulator  # noqa: E402
from tls_certs import make_cert  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
n_ing = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
per_svc = int(sys.argv[4]) if len(sys.argv) > 4 else 10
d = tempfile.mkdtemp(prefix="gantry-k8s-")


up_port, gw_port = free_port(), free_port()
with open(d + "/nginx.conf", "w") as f:  # every 127.x address reaches it (loopback only)
    f.write("daemon off; pid %s/pid; error_log %s/err; events {} http { access_log off; server { listen %d; "
            "location / { return 200 ok; } } }" % (d, d, up_port))
up = subprocess.Popen(["nginx", "-e", d + "/err", "-p", d, "-c", d + "/nginx.conf"])
cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
emu = Emulator(cert=cert, key=key, history=100000).start()
emu.apply({"kind": "IngressClass", "metadata": {"name": "gantry"}, "spec": {"controller": "gantry.io/ingress-controller"}})


def ingress(i):
    return {"kind": "Ingress", "metadata": {"name": "ing-%d" % i, "namespace": "bench"},
            "spec": {"ingressClassName": "gantry", "rules": [{"host": "h%d.test" % i, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "svc-%d" % (i % n_ing), "port": {"number": 80}}}}]}}]}}


t0 = time.time()
for i in range(n_ing):
    emu.apply({"kind": "Service", "metadata": {"name": "svc-%d" % i, "namespace": "bench"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": up_port}]}})
    emu.apply({"kind": "EndpointSlice", "metadata": {"name": "svc-%d-x" % i, "namespace": "bench",
                                                     "labels": {"kubernetes.io/service-name": "svc-%d" % i}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": up_port}],
               "endpoints": [{"addresses": ["127.%d.%d.%d" % (1 + (i * per_svc + j) // 65536 % 250,
                                                               (i * per_svc + j) // 256 % 256, (i * per_svc + j) % 254 + 1)],
                              "conditions": {"ready": True}} for j in range(per_svc)]})
    emu.apply(ingress(i))
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", os.environ.get("GLOG", "--log.level=WARN"), "--admin.address=",
                       "--entryPoints.web.address=127.0.0.1:%d" % gw_port, "--providers.kubernetesIngress=true",
                       "--providers.kubernetesIngress.endpoint=" + emu.url,
                       "--providers.kubernetesIngress.token=" + emu.token,
                       "--providers.kubernetesIngress.certAuthFilePath=" + d + "/ca.crt"])
start = time.time()
deadline = start + 120
while status(gw_port, "h%d.test" % (n_ing - 1)) != 200 and time.time() < deadline:
    time.sleep(0.01)
sync_s = time.time() - start
rss_synced = rss_kib(gw.pid)
lat = []
for k in range(n):
    host_i = n_ing + k
    t = time.time()
    emu.apply(ingress(host_i) | {"spec": {"ingressClassName": "gantry", "rules": [{"host": "h%d.test" % host_i, "http": {
        "paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc-%d" % (k % n_ing),
                                                                              "port": {"number": 80}}}}]}}]}})
    while status(gw_port, "h%d.test" % host_i) != 200 and time.time() - t < 10:
        pass
    lat.append((time.time() - t) * 1000)
lat.sort()
rss_end = rss_kib(gw.pid)
print("| objects | first sync (list to routes) | event -> route: median | p99 | RSS after sync | RSS after %d changes |" % n)
print("|---|---|---|---|---|---|")
print("| %d Ingresses, %d Services, %d endpoints | %.2f s | %.1f ms | %.1f ms | %.1f MB | %.1f MB |"
      % (n_ing, n_ing, n_ing * per_svc, sync_s, statistics.median(lat), lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0],
         rss_synced / 1024, rss_end / 1024))
print("\n%d changes, each a new Ingress (a full rebuild of %d+ routers from the caches); gantry with 2 workers." % (n, n_ing))
gw.terminate()
gw.wait()
up.terminate()
emu.stop()
shutil.rmtree(d, ignore_errors=True)  # a finished run leaves /tmp as it found it (a failed one keeps it)
