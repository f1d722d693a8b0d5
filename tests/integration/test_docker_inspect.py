"""The Docker provider against an emulated Engine API (docker_emulator.py):
a failed inspect is retried with backoff, shown in the log and the API, and
the initial synchronisation (so /readyz) waits for it; a burst of 300
container starts is coalesced into a few compiles, not one each."""
import re

from conftest import get, wait_for
from docker_emulator import DockerEmulator, container


def labels(name, port):
    return {"gantry.http.routers.%s.rule" % name: "Host(`%s.test`)" % name,
            "gantry.http.services.%s.loadbalancer.server.port" % name: str(port)}


def start_gantry(procs, tmp_path, emu):
    return procs.gantry(tmp_path, None, args=["--providers.docker", "--providers.docker.endpoint=" + emu.endpoint])


def test_failed_initial_inspect_is_retried_and_holds_readiness(tmp_path, procs):
    a = procs.whoami(name="a")
    emu = DockerEmulator()
    try:
        emu.add(container("ok", "127.0.0.1", labels("ok", a.port)))
        flaky = emu.add(container("flaky", "127.0.0.1", labels("flaky", a.port)), fail=4)
        g = start_gantry(procs, tmp_path, emu)
        g.wait_log(r"docker provider: inspect of container %s failed \(HTTP status 500, 1 time\); retrying in 200 ms; "
                   r"the initial synchronisation waits for it" % flaky["Id"][:12])
        status, body = g.admin("/readyz")
        assert status == 503 and b"docker provider: first synchronisation not complete" in body, (status, body)
        # retried (200, 400, 800, 1600 ms) until it answers; then ready with both
        wait_for(lambda: g.admin("/readyz")[0] == 200, timeout=10, interval=0.05, what="ready")
        assert get(g.port, "/", "flaky.test")[0] == 200
        assert get(g.port, "/", "ok.test")[0] == 200
        assert emu.inspects[flaky["Id"]] == 5
        g.wait_log(r"container %s inspected after 4 failed attempts" % flaky["Id"][:12])
        assert re.search(r"connected to the Docker API \(v1\.41\); 2 containers", g.output())
    finally:
        emu.stop()


def test_failed_inspect_after_sync_is_retried_and_shown(tmp_path, procs):
    a = procs.whoami(name="a")
    emu = DockerEmulator()
    try:
        emu.add(container("ok", "127.0.0.1", labels("ok", a.port)))
        g = start_gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="initial container")
        late = emu.start(container("late", "127.0.0.1", labels("late", a.port)), fail=1000)
        g.wait_log(r"inspect of container %s failed \(HTTP status 500, 1 time\)" % late["Id"][:12])
        problem = "container %s: inspect failed (HTTP status 500); retrying with backoff" % late["Id"][:12]
        wait_for(lambda: problem in g.api("/api/overview")["problems"], what="problem in the API")
        g.wait_log(re.escape("docker provider: " + problem))
        asked = emu.inspects[late["Id"]]
        wait_for(lambda: emu.inspects[late["Id"]] >= asked + 2, timeout=5, what="retries")
        assert get(g.port, "/", "late.test")[0] == 404
        assert get(g.port, "/", "ok.test")[0] == 200
        emu.fail_inspects[late["Id"]] = 0  # the daemon recovers
        wait_for(lambda: get(g.port, "/", "late.test")[0] == 200, timeout=15, interval=0.05, what="late container routed")
        wait_for(lambda: problem not in g.api("/api/overview")["problems"], what="problem gone")
    finally:
        emu.stop()


def test_unreadable_inspect_is_retried_and_shown(tmp_path, procs):
    """An inspect answered 200 with a document cut short is a failed
    inspect: retried, in the log and the API, and it holds the first sync."""
    a = procs.whoami(name="a")
    emu = DockerEmulator()
    try:
        emu.add(container("ok", "127.0.0.1", labels("ok", a.port)))
        cut = emu.add(container("cut", "127.0.0.1", labels("cut", a.port)), garble=3)
        g = start_gantry(procs, tmp_path, emu)
        g.wait_log(r"inspect of container %s failed \(unreadable answer: container inspect: invalid JSON, 1 time\); "
                   r"retrying in 200 ms; the initial synchronisation waits for it" % cut["Id"][:12])
        assert g.admin("/readyz")[0] == 503
        wait_for(lambda: g.admin("/readyz")[0] == 200, timeout=10, interval=0.05, what="ready")
        assert get(g.port, "/", "cut.test")[0] == 200
        assert emu.inspects[cut["Id"]] == 4
        g.wait_log(r"container %s inspected after 3 failed attempts" % cut["Id"][:12])

        # after the sync: the container keeps its last state meanwhile
        late = emu.start(container("late", "127.0.0.1", labels("late", a.port)), garble=1000)
        problem = ("container %s: inspect failed (unreadable answer: container inspect: invalid JSON); retrying with "
                   "backoff" % late["Id"][:12])
        wait_for(lambda: problem in g.api("/api/overview")["problems"], what="problem in the API")
        g.wait_log(re.escape("docker provider: " + problem))
        asked = emu.inspects[late["Id"]]
        wait_for(lambda: emu.inspects[late["Id"]] >= asked + 2, timeout=5, what="retries")
        assert get(g.port, "/", "late.test")[0] == 404
        emu.garble_inspects[late["Id"]] = 0
        wait_for(lambda: get(g.port, "/", "late.test")[0] == 200, timeout=15, interval=0.05, what="late container routed")
        wait_for(lambda: problem not in g.api("/api/overview")["problems"], what="problem gone")
        assert get(g.port, "/", "ok.test")[0] == 200
    finally:
        emu.stop()


def test_initial_sync_bounds_inspects_in_flight(tmp_path, procs):
    """300 containers listed at once against a slow daemon: at most 32
    inspects are asked at a time (the rest wait their turn), none times out,
    and the sync completes with every container."""
    a = procs.whoami(name="a")
    emu = DockerEmulator()
    try:
        for i in range(300):
            emu.add(container("c%d" % i, "127.0.0.1", labels("c%d" % i, a.port)))
        emu.inspect_delay = 0.02
        g = start_gantry(procs, tmp_path, emu)
        wait_for(lambda: g.admin("/readyz")[0] == 200, timeout=30, what="ready")
        assert re.search(r"connected to the Docker API \(v1\.41\); 300 containers", g.output())
        assert 8 <= emu.max_in_flight <= 32, emu.max_in_flight
        assert sum(emu.inspects.values()) == 300 and " WARN " not in g.output()
        assert get(g.port, "/", "c0.test")[0] == 200 and get(g.port, "/", "c299.test")[0] == 200
    finally:
        emu.stop()


def test_burst_of_starts_is_coalesced(tmp_path, procs):
    a = procs.whoami(name="a")
    emu = DockerEmulator()
    try:
        for i in range(200):
            emu.add(container("base%d" % i, "127.0.0.1", labels("base%d" % i, a.port)))
        g = start_gantry(procs, tmp_path, emu)
        wait_for(lambda: g.admin("/readyz")[0] == 200, timeout=20, what="ready")
        before = len(re.findall(r"configuration applied", g.output()))
        burst = [container("burst%d" % i, "127.0.0.1", labels("burst%d" % i, a.port)) for i in range(300)]
        for c in burst:
            emu.start(c)
        wait_for(lambda: get(g.port, "/", "burst299.test")[0] == 200, timeout=30, interval=0.05, what="last of the burst")
        for i in range(0, 300, 7):
            wait_for(lambda: get(g.port, "/", "burst%d.test" % i)[0] == 200, timeout=10, what="burst%d" % i)
        compiles = len(re.findall(r"configuration applied", g.output())) - before
        # one compile per loop pass at most, never one per container
        assert 1 <= compiles <= 60, compiles
    finally:
        emu.stop()
