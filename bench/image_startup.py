#!/usr/bin/env python3
"""The gantry image: its uncompressed size, and start-up time from
`docker run -d` returning to the admin /readyz answering 200, over N runs,
on a private dockerd whose data root is cached in /var/cache/gantry (the
image is built with scripts/image.sh when missing or stale).
Usage: image_startup.py [N]"""
import http.client
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from benchlib import free_port  # noqa: E402 (this folder)
import dockerenv  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
cache = os.environ.get("GANTRY_CACHE", "/var/cache/gantry")


def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/readyz")
        return c.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False


if not dockerenv.available():
    sys.exit("needs root, dockerd and busybox-static")
engine = dockerenv.Dockerd(root=os.path.join(cache, "dockerd"), live_restore=False, keep=True).start()
try:
    env = dict(os.environ, DOCKER_HOST=engine.host, GANTRY_CACHE=cache)
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "image.sh"), "gantry"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", "gantry:dev").stdout)
    # dockerd runs with --bridge=none here: publish ports from a user-defined bridge
    engine.docker("network", "create", "gantry-bench", check=False)
    times = []
    for _ in range(n):
        port = free_port()
        t0 = time.monotonic()
        cid = engine.docker("run", "-d", "-p", "127.0.0.1:%d:8081" % port, "-e", "GANTRY_ADMIN_ADDRESS=:8081",
                            "--network", "gantry-bench",
                            "gantry:dev", "--entryPoints.web.address=:8080").stdout.decode().strip()
        t_run = time.monotonic()
        deadline = t_run + 30
        while not ready(port) and time.monotonic() < deadline:
            time.sleep(0.002)
        times.append(((time.monotonic() - t_run) * 1000, (t_run - t0) * 1000))
        engine.docker("rm", "-f", cid)
    ready_ms = sorted(t for t, _ in times)
    run_ms = sorted(r for _, r in times)
    print("| image | size (uncompressed) | `docker run -d` | run returned → /readyz 200: median | max |")
    print("|---|---|---|---|---|")
    print("| gantry:dev (FROM scratch) | %.1f MB | %.0f ms (median) | %.0f ms | %.0f ms |"
          % (size / 1e6, statistics.median(run_ms), statistics.median(ready_ms), ready_ms[-1]))
    print("\n%d runs; /readyz polled every 2 ms through the published port (docker-proxy)." % n)
finally:
    engine.docker("network", "rm", "gantry-bench", check=False)
    engine.stop()
