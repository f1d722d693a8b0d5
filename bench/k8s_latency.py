#!/usr/bin/env python3
"""Kubernetes: watch-event-to-route latency, CPU and memory at scale. The
project's API-server emulator (HTTPS) holds INGRESSES Ingresses (one host
each) over as many Services whose EndpointSlices hold ENDPOINTS_PER_SERVICE
endpoints each (distinct loopback addresses of one nginx); gantry syncs,
then:
  - add:    N times a new Ingress is written; time from the emulator's
            write to the first 200 through gantry on its host;
  - modify: N times an existing Ingress's path changes (/ <-> /v2 prefix
            routed as /); time to the first answer of the new kind;
  - slice:  N times one EndpointSlice is emptied / refilled; time to the
            first 503 / 200; gantry's CPU time per change (from
            /proc/<pid>/stat) is printed for every kind.
With --annotations the Ingresses are ingress-nginx's (class nginx, served by
providers.kubernetesIngressNGINX) and each carries 2-3 middlewares
(rewrite-target+use-regex, whitelist-source-range, limit-rps, enable-cors,
affinity), cycling over five mixes.
With PERF_DATA=<file> in the environment, `perf record -g` samples gantry
during the changes (not the sync) into that file.
Usage: k8s_latency.py [BUILD] [N] [INGRESSES] [ENDPOINTS_PER_SERVICE] [--annotations]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from benchlib import free_port, rss_kib  # noqa: E402 (this folder)
from k8s_emulator import Emulator  # noqa: E402
from tls_certs import make_cert  # noqa: E402

flags = [a for a in sys.argv[1:] if a.startswith("--")]
args = [a for a in sys.argv[1:] if not a.startswith("--")]
build = args[0] if len(args) > 0 else "build"
n = int(args[1]) if len(args) > 1 else 50
n_ing = int(args[2]) if len(args) > 2 else 1000
per_svc = int(args[3]) if len(args) > 3 else 10
nginx_mode = "--annotations" in flags
d = tempfile.mkdtemp(prefix="gantry-k8s-")
CLASS = "nginx" if nginx_mode else "gantry"
P = "nginx.ingress.kubernetes.io/"

MIXES = [  # 2-3 middlewares each
    {P + "rewrite-target": "/$2", P + "use-regex": "true", P + "limit-rps": "1000"},
    {P + "whitelist-source-range": "127.0.0.0/8,10.0.0.0/8", P + "limit-rps": "1000"},
    {P + "enable-cors": "true", P + "limit-rps": "500", P + "whitelist-source-range": "127.0.0.1/32"},
    {P + "affinity": "cookie", P + "session-cookie-name": "route", P + "whitelist-source-range": "127.0.0.0/8"},
    {P + "enable-cors": "true", P + "rewrite-target": "/$2", P + "proxy-body-size": "8m"},
]


def status(port, host, path="/"):
    """Status of one GET <path> to 127.0.0.1:<port> for <host>; 0 when none came."""
    import socket
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        return int(data.split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingress(i, svc_i, path="/"):
    ann = {}
    if nginx_mode:
        ann = dict(MIXES[i % len(MIXES)])
        if P + "rewrite-target" in ann:  # capture groups: /<path>(/|$)(.*) -> /$2
            path = "/(.*)" if path == "/" else path + "(/|$)(.*)"
    return {"kind": "Ingress", "metadata": {"name": "ing-%d" % i, "namespace": "bench", "annotations": ann},
            "spec": {"ingressClassName": CLASS, "rules": [{"host": "h%d.test" % i, "http": {"paths": [
                {"path": path, "pathType": "ImplementationSpecific" if nginx_mode else "Prefix",
                 "backend": {"service": {"name": "svc-%d" % svc_i, "port": {"number": 80}}}}]}}]}}


def endpoints(i, on):
    return [{"addresses": ["127.%d.%d.%d" % (1 + (i * per_svc + j) // 65536 % 250, (i * per_svc + j) // 256 % 256,
                                            (i * per_svc + j) % 254 + 1)],
             "conditions": {"ready": True}} for j in range(per_svc)] if on else []


def slice_obj(i, on):
    return {"kind": "EndpointSlice", "metadata": {"name": "svc-%d-x" % i, "namespace": "bench",
                                                  "labels": {"kubernetes.io/service-name": "svc-%d" % i}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": up_port}], "endpoints": endpoints(i, on)}


up_port, gw_port = free_port(), free_port()
with open(d + "/nginx.conf", "w") as f:  # every 127.x address reaches it (loopback only)
    f.write("daemon off; pid %s/pid; error_log %s/err; events {} http { access_log off; server { listen %d; "
            "location / { return 200 ok; } } }" % (d, d, up_port))
up = subprocess.Popen(["nginx", "-e", d + "/err", "-p", d, "-c", d + "/nginx.conf"])
cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
emu = Emulator(cert=cert, key=key, history=100000).start()
emu.apply({"kind": "IngressClass", "metadata": {"name": CLASS},
           "spec": {"controller": "k8s.io/ingress-nginx" if nginx_mode else "gantry.io/ingress-controller"}})

for i in range(n_ing):
    emu.apply({"kind": "Service", "metadata": {"name": "svc-%d" % i, "namespace": "bench"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": up_port}]}})
    emu.apply(slice_obj(i, True))
    emu.apply(ingress(i, i))
prov = "kubernetesIngressNGINX" if nginx_mode else "kubernetesIngress"
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", os.environ.get("GLOG", "--log.level=WARN"),
                       "--admin.address=", "--entryPoints.web.address=127.0.0.1:%d" % gw_port,
                       "--providers.%s=true" % prov, "--providers.%s.endpoint=%s" % (prov, emu.url),
                       "--providers.%s.token=%s" % (prov, emu.token),
                       "--providers.%s.certAuthFilePath=%s/ca.crt" % (prov, d)])
start = time.time()
deadline = start + 300
while status(gw_port, "h%d.test" % (n_ing - 1)) != 200 and time.time() < deadline:
    time.sleep(0.01)
sync_s = time.time() - start
time.sleep(1)
rss_synced = rss_kib(gw.pid)


def measure(write, host, want, path="/"):
    """ms from <write>() to the first answer <want> (a status or a predicate)."""
    t = time.time()
    write()
    ok = want if callable(want) else (lambda s: s == want)
    while not ok(status(gw_port, host, path)) and time.time() - t < 10:
        pass
    return (time.time() - t) * 1000


def run(kind, each):
    lat = []
    c0 = cpu_s(gw.pid)
    for k in range(n):
        lat.append(each(k))
        time.sleep(0.05)  # one change at a time: CPU per change, not per burst
    cpu = (cpu_s(gw.pid) - c0) / n * 1000
    lat.sort()
    return kind, statistics.median(lat), lat[max(0, int(len(lat) * 0.99) - 1)], cpu


perf = None
if os.environ.get("PERF_DATA"):
    perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "--call-graph", "dwarf,16384", "-p", str(gw.pid),
                             "-o", os.environ["PERF_DATA"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
rows = []
rows.append(run("add Ingress", lambda k: measure(lambda: emu.apply(ingress(n_ing + k, k % n_ing)),
                                                  "h%d.test" % (n_ing + k), 200)))


def modify(k):  # ing-j alternates between "/" and "/v2" (a request for / then 404s)
    j = k // 2 % n_ing
    moved = k % 2 == 0
    return measure(lambda: emu.apply(ingress(j, j, "/v2" if moved else "/")), "h%d.test" % j,
                   404 if moved else 200)


rows.append(run("modify Ingress", modify))


def slice_change(k):
    j = (k // 2 * 7) % n_ing
    on = k % 2 == 1
    return measure(lambda: emu.apply(slice_obj(j, on)), "h%d.test" % j, 200 if on else 503)


rows.append(run("EndpointSlice", slice_change))
rss_end = rss_kib(gw.pid)
if perf:
    perf.send_signal(2)
    perf.wait()
print("%d Ingresses%s, %d Services, %d endpoints: first sync %.2f s, RSS after sync %.1f MB, after the changes %.1f MB"
      % (n_ing, " (ingress-nginx, 2-3 middlewares each)" if nginx_mode else "", n_ing, n_ing * per_svc, sync_s,
         rss_synced / 1024, rss_end / 1024))
print("| change (x%d) | event -> route: median | p99 | gantry CPU per change |" % n)
print("|---|---|---|---|")
for kind, med, p99, cpu in rows:
    print("| %s | %.1f ms | %.1f ms | %.1f ms |" % (kind, med, p99, cpu))
gw.terminate()
gw.wait()
up.terminate()
emu.stop()
shutil.rmtree(d, ignore_errors=True)  # a finished run leaves /tmp as it found it (a failed one keeps it)
