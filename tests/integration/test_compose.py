"""The quick start, for real: the gantry image is built here (debootstrap
base, `docker build`), `docker-compose up` runs examples/compose against a
real engine, requests reach both services through the gantry container (the
scaled one balanced), scaling moves the routes, and `docker stop` while wrk
runs loses no request that reached gantry before its listener closed.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import threading
import time
import http.client

import pytest

import dockerenv
from conftest import ROOT, SANITIZED, free_port, get, run, wait_for
from attack import parse_wrk

COMPOSE_FILE = os.path.join(ROOT, "examples", "compose", "docker-compose.yml")
CACHE = os.environ.get("GANTRY_CACHE", "/var/cache/gantry")
PROJECT = "gantryquick"


def require_tools():
    if SANITIZED:
        pytest.skip("the image holds a release build of its own; the plain run covers it")
    dockerenv.require()
    missing = [t for t in ("docker-compose", "debootstrap", "wrk") if shutil.which(t) is None]
    if missing:
        msg = "needs %s (scripts/deps.sh installs them)" % ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def engine():
    require_tools()
    # a data root kept between runs: the base image and the build cache stay
    d = dockerenv.Dockerd(root=os.path.join(CACHE, "dockerd"), live_restore=False, keep=True).start()
    env = dict(os.environ, DOCKER_HOST=d.host, GANTRY_CACHE=CACHE)
    started = time.monotonic()
    out = run(["bash", os.path.join(ROOT, "scripts", "image.sh"), "all"], timeout=1200, env=env).stdout.decode()
    size = d.docker("image", "inspect", "-f", "{{.Size}}", "gantry:dev").stdout.decode().strip()
    print("image: built in %.1f s; gantry:dev is %.1f MB uncompressed\n%s"
          % (time.monotonic() - started, int(size) / 1e6, out))
    d.image_size = int(size)
    yield d
    compose(d, {}, "down", "--remove-orphans", "-t", "5", check=False)
    d.stop()


def compose(d, extra_env, *args, check=True, timeout=180):
    env = dict(os.environ, DOCKER_HOST=d.host, COMPOSE_PROJECT_NAME=PROJECT, **extra_env)
    return run(["docker-compose", "-f", COMPOSE_FILE, *args], timeout=timeout, env=env, check=check)


def docker_time(text):
    """Docker's RFC 3339 time with nanoseconds, as seconds since the epoch."""
    m = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)(?:\.(\d+))?Z", text)
    assert m, text
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return base.timestamp() + float("0." + (m.group(2) or "0"))


def hostnames(port, host, n):
    seen, statuses = set(), []
    for _ in range(n):
        status, _, body = get(port, "/?format=json", host)
        statuses.append(status)
        if status == 200:
            seen.add(json.loads(body)["hostname"])
    return seen, statuses


def container_of(d, service):
    ids = d.docker("ps", "-q", "--filter", "label=com.docker.compose.project=%s" % PROJECT,
                   "--filter", "label=com.docker.compose.service=%s" % service).stdout.decode().split()
    return ids


class Recorder:
    """Keep-alive GETs in a loop, each recorded as (start, end, outcome)."""

    def __init__(self, port, host):
        self.port, self.host = port, host
        self.records, self.stopped = [], False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        conn = None
        while not self.stopped:
            start = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/", headers={"Host": self.host})
                r = conn.getresponse()
                r.read()
                outcome = r.status
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            self.records.append((start, time.time(), outcome))

    def stop(self):
        self.stopped = True
        self.thread.join(15)


def test_compose_quick_start(engine, tmp_path):
    d = engine
    http_port, admin_port = free_port(), free_port()
    env = {"DOCKER_SOCK": d.sock, "DOCKER_GID": str(os.stat(d.sock).st_gid),
           "GANTRY_HTTP_PORT": str(http_port), "GANTRY_ADMIN_PORT": str(admin_port)}
    compose(d, env, "down", "--remove-orphans", "-t", "5", check=False)
    compose(d, env, "up", "-d", "--no-build")
    gantry_id = container_of(d, "gantry")[0]

    # start-up: container start to /readyz 200
    def readyz():
        try:
            c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=1)
            c.request("GET", "/readyz")
            return c.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
    wait_for(readyz, timeout=30, interval=0.01, what="gantry container /readyz")
    ready_at = time.time()
    start_epoch = docker_time(d.docker("inspect", "-f", "{{.State.StartedAt}}", gantry_id).stdout.decode().strip())
    print("start-up: container started -> /readyz 200 in at most %.3f s" % (ready_at - start_epoch))

    # both services through the gantry container; the scaled one is balanced
    wait_for(lambda: get(http_port, "/", "whoami.localhost")[0] == 200, timeout=20, what="whoami route")
    seen, statuses = hostnames(http_port, "whoami.localhost", 20)
    assert statuses.count(200) == 20 and len(seen) == 2, (seen, statuses)
    wait_for(lambda: get(http_port, "/api/x", "api.localhost")[0] == 200, timeout=20, what="api route")
    assert get(http_port, "/", "api.localhost")[0] == 404  # PathPrefix(`/api`) only
    # the dashboard and the API are published on the admin port
    c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
    c.request("GET", "/api/http/routers")
    routers = {r["name"] for r in json.loads(c.getresponse().read())}
    assert {"whoami@docker", "api@docker"} <= routers, routers
    c.request("GET", "/dashboard/")
    assert c.getresponse().status == 200
    # the image's HEALTHCHECK (gantry healthcheck) reports healthy
    wait_for(lambda: d.docker("inspect", "-f", "{{.State.Health.Status}}", gantry_id).stdout.strip() == b"healthy",
             timeout=30, interval=0.5, what="container health")

    # scale up: the route follows
    compose(d, env, "up", "-d", "--no-build", "--no-recreate", "--scale", "whoami=3")
    wait_for(lambda: len(hostnames(http_port, "whoami.localhost", 12)[0]) == 3, timeout=20, interval=0.2,
             what="three whoami replicas served")
    # scale down while requests flow: none fails (a stopped replica's
    # connection failures are retried on the others)
    rec = Recorder(http_port, "whoami.localhost")
    compose(d, env, "up", "-d", "--no-build", "--no-recreate", "--scale", "whoami=1")
    wait_for(lambda: len(hostnames(http_port, "whoami.localhost", 10)[0]) == 1, timeout=20, interval=0.2,
             what="one whoami replica served")
    rec.stop()
    failed = [r for r in rec.records if r[2] != 200]
    print("scale 3 -> 1: %d requests during the change, %d failed" % (len(rec.records), len(failed)))
    assert rec.records and not failed, failed[:5]

    # docker stop while wrk runs: nothing fails before the listener closed
    slow = {}
    wrk = subprocess.Popen(["wrk", "-t1", "-c8", "-d6s", "-H", "Host: whoami.localhost",
                            "http://127.0.0.1:%d/" % http_port], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rec = Recorder(http_port, "whoami.localhost")
    time.sleep(2)

    def slow_request():
        try:
            slow["response"] = get(http_port, "/slow?delay=1.5", "whoami.localhost", timeout=20)[0]
        except Exception as e:  # noqa: BLE001 - asserted below
            slow["error"] = e
    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.3)
    stop_sent = time.time()
    d.docker("stop", "-t", "20", gantry_id, timeout=60)
    stopped = time.time()
    t.join(30)
    out = wrk.communicate(timeout=60)[0].decode()
    rec.stop()
    logs = d.docker("logs", "-t", gantry_id).stdout.decode() + d.docker("logs", "-t", gantry_id).stderr.decode()
    m = re.search(r"^(\S+) .*listeners closed", logs, re.M)
    assert m, logs[-3000:]
    closed = docker_time(m.group(1))
    exit_code = d.docker("inspect", "-f", "{{.State.ExitCode}}", gantry_id).stdout.decode().strip()
    w = parse_wrk(out)
    before = [r for r in rec.records if r[0] < closed]
    failed_before = [r for r in before if r[2] != 200]
    print("docker stop under load: stop took %.2f s, exit code %s; listener closed %.3f s after the signal; "
          "wrk %d requests, %d non-2xx, socket errors %s; recorder %d requests before the close, %d failed; "
          "in-flight slow request: %r" % (stopped - stop_sent, exit_code, closed - stop_sent, w["requests"],
                                          w["non2xx"], w["socket_errors"], len(before), len(failed_before), slow))
    assert exit_code == "0" and stopped - stop_sent < 15
    assert slow.get("response") == 200  # in flight when SIGTERM came: finished
    assert w["non2xx"] == 0 and w["requests"] > 0
    assert before and not failed_before, failed_before[:5]


def test_unreadable_docker_socket_is_explained(engine):
    """Without the socket's group the non-root user cannot connect: the log
    says what to do, once, and gantry keeps running."""
    d = engine
    cid = d.docker("run", "-d", "-v", "%s:/var/run/docker.sock:ro" % d.sock, "gantry:dev",
                   "--providers.docker=true", "--entryPoints.web.address=:18080").stdout.decode().strip()
    try:
        def said():
            logs = d.docker("logs", cid).stdout.decode() + d.docker("logs", cid).stderr.decode()
            return logs if "permission denied on /var/run/docker.sock" in logs else None
        logs = wait_for(said, timeout=20, interval=0.2, what="permission error in the log")
        assert "--group-add %d" % os.stat(d.sock).st_gid in logs, logs
        assert d.docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == b"true"
    finally:
        d.docker("rm", "-f", cid, check=False)
