"""The Docker provider against a real Docker engine (a private dockerd):
labels become routes within milliseconds, replicas are balanced, health
checks and pauses gate traffic, bad labels cost only their container, and
Traefik's labels work with labelPrefix=traefik."""
import collections
import os
import re
import socket
import subprocess
import time

import pytest

import dockerenv
from conftest import free_port, get, wait_for
from dockerenv import Dockerd, SocketProxy


@pytest.fixture(scope="module")
def engine():
    dockerenv.require()
    d = Dockerd().start()
    d.ensure_image()
    yield d
    d.stop()


def gantry(procs, tmp_path, engine, *args, endpoint=None):
    return procs.gantry(tmp_path, None, args=["--providers.docker",
                                              "--providers.docker.endpoint=%s" % (endpoint or engine.host), *args])


def body(port, host):
    status, _, data = get(port, "/", host, timeout=2)
    return status, data.decode().strip()


def rule(host):
    return "Host(`%s`)" % host


def test_route_follows_the_container(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine)
    g.wait_log(r"docker provider: connected to the Docker API")
    port = free_port()
    t0 = time.time()
    engine.run_web("life", port, {"gantry.http.routers.life.rule": rule("life.test"),
                                  "gantry.http.services.life.loadbalancer.server.port": port})
    started = time.time()
    wait_for(lambda: body(g.port, "life.test") == (200, "life"), interval=0.005, what="route after docker run")
    print("docker run took %.0f ms, route live %.0f ms after it returned" % ((started - t0) * 1e3, (time.time() - started) * 1e3))
    engine.docker("stop", "-t", "2", "life")
    wait_for(lambda: body(g.port, "life.test")[0] == 404, what="route gone after docker stop")
    engine.docker("rm", "life")


def test_stopping_container_leaves_rotation_before_it_exits(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine)
    port = free_port()
    # PID 1 ignores SIGTERM: docker stop waits the full timeout before SIGKILL
    engine.docker("run", "-d", "--name", "slowstop", "--network", "host",
                  "-l", "gantry.http.routers.ss.rule=" + rule("ss.test"),
                  "-l", "gantry.http.services.ss.loadbalancer.server.port=%d" % port, dockerenv.IMAGE,
                  "sh", "-c", "trap '' TERM; mkdir -p /tmp/w; echo ss > /tmp/w/index.html; httpd -p 127.0.0.1:%d -h /tmp/w; "
                  "while true; do sleep 1; done" % port)
    wait_for(lambda: body(g.port, "ss.test") == (200, "ss"), what="route")
    stopper = subprocess.Popen(["docker", "-H", engine.host, "stop", "-t", "5", "slowstop"], stdout=subprocess.DEVNULL)
    wait_for(lambda: body(g.port, "ss.test")[0] == 404, timeout=3, what="route removed on SIGTERM")
    assert engine.docker("inspect", "-f", "{{.State.Running}}", "slowstop").stdout.strip() == b"true"
    stopper.wait(30)
    engine.docker("rm", "-f", "slowstop")


def test_replicas_are_balanced(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine, "--workers=1")
    for i in range(3):
        port = free_port()
        engine.run_web("rep-%d" % i, port, {"gantry.http.routers.rep.rule": rule("rep.test"),
                                            "gantry.http.services.rep.loadbalancer.server.port": port})
    wait_for(lambda: len({body(g.port, "rep.test")[1] for _ in range(6)}) == 3, what="three servers")
    seen = collections.Counter(body(g.port, "rep.test")[1] for _ in range(30))
    # round robin: 10 each, but a table rebuilt meanwhile (a late Docker
    # event) starts its cycle again, which moves one request per rebuild
    assert set(seen) == {"rep-0", "rep-1", "rep-2"} and all(8 <= n <= 12 for n in seen.values()), seen
    for i in range(3):
        engine.docker("rm", "-f", "rep-%d" % i)
    wait_for(lambda: body(g.port, "rep.test")[0] == 404, what="route gone")


def tcp_body(port):
    """The body a raw TCP connection to <port> gets for an HTTP/1.0 request ("" if refused or cut)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return ""
    return data.decode(errors="replace").partition("\r\n\r\n")[2].strip()


def test_tcp_replicas_share_one_service(tmp_path, procs, engine):
    """Two containers with the same tcp.services name (replicas): one
    service with both as servers, each gets connections; a third that
    differs but for its server is a conflict that takes the service out."""
    g = procs.gantry(tmp_path, None, entrypoints=("web", "pg"), workers=1,
                     args=["--providers.docker", "--providers.docker.endpoint=%s" % engine.host])
    for i in range(2):
        port = free_port()
        engine.run_web("tr-%d" % i, port, {"gantry.tcp.routers.tr.rule": "HostSNI(`*`)",
                                           "gantry.tcp.routers.tr.entrypoints": "pg",
                                           "gantry.tcp.services.tr.loadbalancer.server.port": port})
    pg = g.ports["pg"]
    wait_for(lambda: len({tcp_body(pg) for _ in range(6)} - {""}) == 2, timeout=10, what="both replicas served")
    seen = collections.Counter(tcp_body(pg) for _ in range(20))
    assert set(seen) == {"tr-0", "tr-1"} and all(7 <= n <= 13 for n in seen.values()), seen
    port = free_port()
    engine.run_web("tr-odd", port, {"gantry.tcp.routers.tr.rule": "HostSNI(`*`)",
                                    "gantry.tcp.routers.tr.entrypoints": "pg",
                                    "gantry.tcp.services.tr.loadbalancer.server.port": port,
                                    "gantry.tcp.services.tr.loadbalancer.proxyprotocol.version": "2"})
    # no TCP route left: the entry point answers as an HTTP one (404)
    wait_for(lambda: tcp_body(pg) not in ("tr-0", "tr-1"), timeout=10, what="conflicting definitions take the service out")
    g.wait_log(r"tcp service tr is defined differently by container tr-\S+ .* and container tr-odd")
    engine.docker("rm", "-f", "tr-odd")
    wait_for(lambda: len({tcp_body(pg) for _ in range(6)} - {""}) == 2, timeout=10, what="served again")
    for i in range(2):
        engine.docker("rm", "-f", "tr-%d" % i)


def test_health_check_gates_traffic(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine)
    port = free_port()
    engine.run_web("hc", port, {"gantry.http.routers.hc.rule": rule("hc.test"),
                                "gantry.http.services.hc.loadbalancer.server.port": port},
                   extra=["--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms", "--health-retries", "1"])
    time.sleep(1)
    assert body(g.port, "hc.test")[0] == 404  # starting/unhealthy: left out
    engine.docker("exec", "hc", "touch", "/tmp/ok")
    wait_for(lambda: body(g.port, "hc.test") == (200, "hc"), what="served once healthy")
    engine.docker("exec", "hc", "rm", "/tmp/ok")
    wait_for(lambda: body(g.port, "hc.test")[0] == 404, what="removed when unhealthy")
    engine.docker("rm", "-f", "hc")


def test_paused_container_is_removed(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine)
    port = free_port()
    engine.run_web("pz", port, {"gantry.http.routers.pz.rule": rule("pz.test"),
                                "gantry.http.services.pz.loadbalancer.server.port": port})
    wait_for(lambda: body(g.port, "pz.test") == (200, "pz"), what="route")
    engine.docker("pause", "pz")
    # a request already sent to it may hang until the pause ends; new ones get 404
    wait_for(lambda: body(g.port, "pz.test")[0] == 404, timeout=10, what="paused: removed")
    engine.docker("unpause", "pz")
    wait_for(lambda: body(g.port, "pz.test") == (200, "pz"), what="unpaused: back")
    engine.docker("rm", "-f", "pz")


def test_bad_label_costs_only_its_container(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine)
    good, bad = free_port(), free_port()
    engine.run_web("badlabel", bad, {"gantry.http.routers.bad.rule": rule("bad.test"),
                                     "gantry.http.services.bad.loadbalancer.server.port": "eighty"})
    engine.run_web("badrule", free_port(), {"gantry.http.routers.br.rule": "Host(`br.test`) && Pth(`/`)",
                                            "gantry.http.services.br.loadbalancer.server.port": "1"})
    engine.run_web("goodlabel", good, {"gantry.http.routers.good.rule": rule("good.test"),
                                       "gantry.http.services.good.loadbalancer.server.port": good})
    wait_for(lambda: body(g.port, "good.test") == (200, "goodlabel"), what="good container served")
    assert body(g.port, "bad.test")[0] == 404
    g.wait_log(r"container badlabel label gantry\.http\.services\.bad\.loadbalancer\.server\.port: service bad: port must be "
               r"a number between 1 and 65535, got 'eighty'")
    g.wait_log(r"container badrule label gantry\.http\.routers\.br\.rule: router 'br@docker': rule .*unknown matcher 'Pth'")
    # a later, unrelated change does not repeat the complaint
    engine.run_web("another", free_port(), {"gantry.enable": "false"})
    time.sleep(0.5)
    assert len(re.findall(r"got 'eighty'", g.output())) == 1
    for n in ("badlabel", "badrule", "goodlabel", "another"):
        engine.docker("rm", "-f", n)


def test_traefik_labels_and_defaults(tmp_path, procs, engine):
    g = gantry(procs, tmp_path, engine, "--providers.docker.labelPrefix=traefik",
               "--providers.docker.exposedByDefault=false")
    p1, p2, p3 = free_port(), free_port(), free_port()
    engine.run_web("legacy", p1, {"traefik.enable": "true",
                                  "traefik.http.routers.legacy.rule": "Host(`legacy.test`) && PathPrefix(`/`)",
                                  "traefik.http.services.legacy.loadbalancer.server.port": p1})
    # no router label: Traefik's default rule Host(`{{ normalize .Name }}`)
    engine.run_web("my_app", p2, {"traefik.enable": "true", "traefik.http.services.x.loadbalancer.server.port": p2})
    engine.run_web("not-enabled", p3, {"traefik.http.routers.ne.rule": rule("ne.test"),
                                       "traefik.http.services.ne.loadbalancer.server.port": p3})
    wait_for(lambda: body(g.port, "legacy.test") == (200, "legacy"), what="traefik labels")
    wait_for(lambda: body(g.port, "my-app") == (200, "my_app"), what="default rule")
    assert body(g.port, "ne.test")[0] == 404  # exposedByDefault=false
    for n in ("legacy", "my_app", "not-enabled"):
        engine.docker("rm", "-f", n)


def test_events_missed_while_disconnected_are_resynchronised(tmp_path, procs, engine):
    proxy = SocketProxy(engine.sock, os.path.join(engine.root, "proxy-%d.sock" % free_port()))
    try:
        g = gantry(procs, tmp_path, engine, endpoint="unix://" + proxy.path)
        pa, pb = free_port(), free_port()
        engine.run_web("before", pa, {"gantry.http.routers.before.rule": rule("before.test"),
                                      "gantry.http.services.before.loadbalancer.server.port": pa})
        wait_for(lambda: body(g.port, "before.test") == (200, "before"), what="route")
        proxy.cut()
        g.wait_log(r"docker provider: .* retrying with backoff")
        engine.run_web("during", pb, {"gantry.http.routers.during.rule": rule("during.test"),
                                      "gantry.http.services.during.loadbalancer.server.port": pb})
        engine.docker("rm", "-f", "before")
        time.sleep(0.5)
        assert body(g.port, "during.test")[0] == 404  # not seen yet: the engine is unreachable
        proxy.restore()
        wait_for(lambda: body(g.port, "during.test") == (200, "during"), timeout=15, what="started while away")
        wait_for(lambda: body(g.port, "before.test")[0] == 404, what="removed while away")
        g.wait_log(r"connected to the Docker API .* after \d+ attempts")
        assert len(re.findall(r"retrying with backoff", g.output())) == 1  # said once, not in a loop
        engine.docker("rm", "-f", "during")
    finally:
        proxy.close()
