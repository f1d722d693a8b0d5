#!/usr/bin/env python3
"""Docker event-to-route latency: from `docker run -d` returning (the
container has started) to the first 200 through gantry for its labels,
over N containers, on a private dockerd. Usage: docker_latency.py BUILD [N]"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from benchlib import free_port, status  # noqa: E402 (this folder)
import dockerenv  # noqa: E402
from dockerenv import Dockerd  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 50


if not dockerenv.available():
    sys.exit("needs root, dockerd and busybox-static")
engine = Dockerd().start()
engine.ensure_image()
gw_port = free_port()
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", "--log.level=WARN",
                       "--entryPoints.web.address=127.0.0.1:%d" % gw_port, "--providers.docker",
                       "--providers.docker.endpoint=" + engine.host])
try:
    time.sleep(1)
    lat, run_ms = [], []
    for i in range(n):
        port, host = free_port(), "c%d.bench" % i
        t0 = time.perf_counter()
        engine.run_web("c%d" % i, port, {"gantry.http.routers.c%d.rule" % i: "Host(`%s`)" % host,
                                         "gantry.http.services.c%d.loadbalancer.server.port" % i: port})
        t1 = time.perf_counter()
        while status(gw_port, host) != 200:
            if time.perf_counter() - t1 > 10:
                sys.exit("container %d not routed within 10 s" % i)
        lat.append((time.perf_counter() - t1) * 1000)
        run_ms.append((t1 - t0) * 1000)
    lat.sort()
    run_ms.sort()
    print("| docker run returned -> first 200 through gantry (ms), %d containers | median | p99 | max |" % n)
    print("|---|---:|---:|---:|")
    print("| event stream, one inspect, rebuild, compile, swap | %.2f | %.2f | %.2f |"
          % (lat[len(lat) // 2], lat[max(0, int(len(lat) * 0.99) - 1)], lat[-1]))
    print("\n(`docker run -d` itself took %.0f ms median)" % run_ms[len(run_ms) // 2])
finally:
    gw.terminate()
    gw.wait()
    engine.stop()
