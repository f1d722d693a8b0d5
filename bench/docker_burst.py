#!/usr/bin/env python3
"""Docker bursts against an emulated Engine API (tests/integration/
docker_emulator.py; a real dockerd cannot start 300 containers at once on
this machine): N containers synced, then B started at once. Prints gantry's
RSS before and at its peak during the burst, the compiles the burst cost,
the time until every container of the burst answers 200, and then the
event -> first 200 latency of S single starts (median, p99) and gantry's
CPU time per single start (every thread: the rebuild, the compile and the
requests that poll for the 200).
Usage: docker_burst.py BUILD [N] [B] [S]"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from benchlib import free_port, rss_kib, status  # noqa: E402 (this folder)
from docker_emulator import DockerEmulator, container  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
burst = int(sys.argv[3]) if len(sys.argv) > 3 else 300
singles = int(sys.argv[4]) if len(sys.argv) > 4 else 50

WHOAMI = os.path.join(os.path.dirname(__file__), "..", "examples", "whoami", "whoami.py")


def labels(name, port):
    return {"gantry.http.routers.%s.rule" % name: "Host(`%s.test`)" % name,
            "gantry.http.services.%s.loadbalancer.server.port" % name: str(port)}


def peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """user + system CPU seconds of <pid> (all its threads)"""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_200(port, host, deadline_s):
    t0 = time.perf_counter()
    while status(port, host) != 200:
        if time.perf_counter() - t0 > deadline_s:
            raise SystemExit("%s not routed within %d s (gantry's log: %s)" % (host, deadline_s, log.name))


up_port = free_port()
up = subprocess.Popen(["/usr/bin/python3", WHOAMI, "--port", str(up_port)], stdout=subprocess.DEVNULL)
emu = DockerEmulator()
for i in range(n):
    emu.add(container("base%d" % i, "127.0.0.1", labels("base%d" % i, up_port)))
gw_port, admin_port = free_port(), free_port()
log = tempfile.NamedTemporaryFile(prefix="docker_burst.", suffix=".log", delete=False)
gw = subprocess.Popen([os.path.join(build, "gantry"), "--workers=2", "--log.level=" + os.environ.get("GANTRY_LOG_LEVEL", "INFO"),
                       "--admin.address=127.0.0.1:%d" % admin_port,
                       "--entryPoints.web.address=127.0.0.1:%d" % gw_port, "--providers.docker",
                       "--providers.docker.endpoint=" + emu.endpoint], stdout=log, stderr=subprocess.STDOUT)


def compiles():
    with open(log.name) as f:
        return len(re.findall(r"configuration applied", f.read()))


try:
    wait_200(gw_port, "base%d.test" % (n - 1), 60)
    time.sleep(1)
    rss0 = rss_kib(gw.pid)
    c0 = compiles()
    peak = [rss0]
    sampling = [True]

    def sample():
        while sampling[0] and gw.poll() is None:
            try:
                peak[0] = max(peak[0], rss_kib(gw.pid))
            except OSError:
                return
            time.sleep(0.005)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0, wall0 = time.perf_counter(), time.time()
    for i in range(burst):
        emu.start(container("burst%d" % i, "127.0.0.1", labels("burst%d" % i, up_port)))
    for i in range(burst):
        wait_200(gw_port, "burst%d.test" % i, 60)
    # when the burst was live: the first compile with every container (the
    # polling above is slower than gantry, the upstream being Python)
    burst_s = None
    with open(log.name) as f:
        for m in re.finditer(r"^(\S+)Z INFO  configuration applied in [0-9.]+ ms: (\d+) routers", f.read(), re.M):
            if int(m.group(2)) >= n + burst:
                t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                burst_s = t + float("0" + m.group(1)[19:]) - wall0
                break
    time.sleep(0.5)
    sampling[0] = False
    th.join()
    c1 = compiles()
    lat = []
    cpu0 = cpu_s(gw.pid)
    for i in range(singles):
        t1 = time.perf_counter()
        emu.start(container("single%d" % i, "127.0.0.1", labels("single%d" % i, up_port)))
        wait_200(gw_port, "single%d.test" % i, 20)
        lat.append((time.perf_counter() - t1) * 1000)
    cpu_per_start = (cpu_s(gw.pid) - cpu0) / singles * 1000
    lat.sort()
    with open(log.name) as f:
        warns = f.read().count(" WARN ")
    print("(%d WARN lines in gantry's log)" % warns)
    print("| %d containers, %d started at once | RSS before | RSS peak (sampled 5 ms) | VmHWM | compiles for the burst "
          "| first event -> burst live | single start -> 200 median | p99 | gantry CPU per single start |" % (n, burst))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| %s | %.0f MB | %.0f MB | %.0f MB | %d | %.0f ms | %.1f ms | %.1f ms | %.1f ms |"
          % (build, rss0 / 1024, peak[0] / 1024, peak_kib(gw.pid) / 1024, c1 - c0, burst_s * 1000,
             lat[len(lat) // 2], lat[max(0, int(len(lat) * 0.99) - 1)], cpu_per_start))
finally:
    gw.terminate()
    gw.wait()
    up.terminate()
    up.wait()
    emu.stop()
    if sys.exc_info()[0] is None and not os.environ.get("KEEP_LOG"):
        os.unlink(log.name)
