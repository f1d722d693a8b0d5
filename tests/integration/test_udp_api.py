"""UDP where an operator looks: /api/entrypoints shows UDP entry points as
Traefik does (address with "/udp", udp.timeout as a Go duration), /metrics
and the API count real datagrams from python sockets (sessions, datagrams
and bytes both ways, drops by reason), the dashboard shows the UDP entry
point, routers and services in headless Chromium, and replicas on a real
dockerd with the same traefik.udp.services.<name> are one service.
"""
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, SLOW, free_port, wait_for
from test_udp import UdpEcho, answered_by, ask, client, dynamic, lb, router


def udp_gantry(procs, tmpdir, config, eps, workers=1):
    """<eps>: name -> udp.timeout (None: the default); the UDP ports in g.udp."""
    g_ports = {name: free_port() for name in eps}
    args = []
    for name, port in g_ports.items():
        args.append("--entryPoints.%s.address=127.0.0.1:%d/udp" % (name, port))
        if eps[name] is not None:
            args.append("--entryPoints.%s.udp.timeout=%s" % (name, eps[name]))
    g = procs.gantry(tmpdir, dynamic=config, args=args, workers=workers)
    g.udp = g_ports
    return g


def metrics(g):
    status, body = g.admin("/metrics")
    assert status == 200
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        if fam.name.startswith("gantry_udp_"):
            gauges = ("gantry_udp_sessions_open", "gantry_udp_service_sessions_open")
            assert fam.type == ("gauge" if fam.name in gauges else "counter"), fam
        for s in fam.samples:
            if s.name.startswith("gantry_udp_"):
                out[(s.name, s.labels.get("entrypoint", s.labels.get("service")), s.labels.get("reason"))] = s.value
    return out


def test_entrypoints_api_shows_udp_entry_points(procs, tmpdir):
    a = UdpEcho("a")
    try:
        g = udp_gantry(procs, tmpdir, dynamic(router("dns", "echo", ["dns"]), lb("echo", a)),
                       {"dns": "90s", "voice": "500ms", "game": None})
        eps = {e["name"]: e for e in g.api("/api/entrypoints")}
        assert set(eps) == {"web", "dns", "voice", "game"}
        dns = eps["dns"]
        assert dns["address"] == "127.0.0.1:%d/udp" % g.udp["dns"] and dns["port"] == g.udp["dns"]
        assert dns["udp"] == {"timeout": "1m30s"}  # Traefik prints its durations the Go way
        assert eps["voice"]["udp"] == {"timeout": "500ms"}
        assert eps["game"]["udp"] == {"timeout": "3s"}  # Traefik's default
        assert eps["web"]["udp"] == {"timeout": "3s"} and "/udp" not in eps["web"]["address"]
        assert dns["stats"]["sessions"] == 0 and dns["stats"]["datagramsIn"] == 0
        # one entry point by name, UDP or not, as Traefik's /api/entrypoints/{name}
        one = g.api("/api/entrypoints/dns")
        assert one["name"] == "dns" and one["address"] == dns["address"] and one["udp"] == {"timeout": "1m30s"}
        assert g.api("/api/entrypoints/web")["address"] == "127.0.0.1:%d" % g.port
        status, body = g.admin("/api/entrypoints/nope")
        assert status == 404 and b"entry point not found" in body
        # the counters in the entry point follow traffic
        assert answered_by(g.udp["dns"], "a")
        wait_for(lambda: g.api("/api/entrypoints/dns")["stats"]["datagramsOut"] >= 1, timeout=5 * SLOW,
                 what="datagrams counted in /api/entrypoints/dns")
    finally:
        a.close()


def test_metrics_count_real_datagrams(procs, tmpdir):
    a = UdpEcho("a")
    try:
        g = udp_gantry(procs, tmpdir, dynamic(router("dns", "echo", ["dns"]), lb("echo", a)),
                       {"dns": "2s", "game": "2s"}, workers=2)
        assert answered_by(g.udp["dns"], "a")
        before = metrics(g)
        sizes = [1, 100, 1400, 9000, 30000]
        with client() as c:
            for n in sizes:
                payload = os.urandom(n)
                assert ask(c, g.udp["dns"], payload) == b"a:" + payload
            assert metrics(g)[("gantry_udp_sessions_open", "dns", None)] >= 1  # within udp.timeout of the last
            with client() as lost:
                for _ in range(3):  # no router on game: dropped, counted
                    assert ask(lost, g.udp["game"], b"x", timeout=0.2) is None

            def delta(name, ep="dns", reason=None):
                return metrics(g)[(name, ep, reason)] - before.get((name, ep, reason), 0)

            # exact: one new session, five datagrams each way, their bytes (the echo adds "a:")
            wait_for(lambda: delta("gantry_udp_datagrams_out_total") == len(sizes), timeout=5 * SLOW,
                     what="datagrams out counted")
            assert delta("gantry_udp_datagrams_in_total") == len(sizes)
            assert delta("gantry_udp_bytes_in_total") == sum(sizes)
            assert delta("gantry_udp_bytes_out_total") == sum(sizes) + 2 * len(sizes)
            assert delta("gantry_udp_sessions_total") == 1
            # the same, per service (the router's)
            assert delta("gantry_udp_service_datagrams_in_total", "echo@file") == len(sizes)
            assert delta("gantry_udp_service_datagrams_out_total", "echo@file") == len(sizes)
            assert delta("gantry_udp_service_bytes_in_total", "echo@file") == sum(sizes)
            assert delta("gantry_udp_service_bytes_out_total", "echo@file") == sum(sizes) + 2 * len(sizes)
            assert delta("gantry_udp_service_sessions_total", "echo@file") == 1
            svc = g.api("/api/udp/services/echo@file")["stats"]
            assert svc["datagramsOut"] == metrics(g)[("gantry_udp_service_datagrams_out_total", "echo@file", None)]
            assert [s["stats"]["bytesIn"] for s in g.api("/api/udp/services")] == [svc["bytesIn"]]
            assert delta("gantry_udp_datagrams_dropped_total", "game", "no_route") == 3
            assert delta("gantry_udp_datagrams_dropped_total", "dns", "no_route") == 0
            assert delta("gantry_udp_datagrams_in_total", "game") == 0
            for reason in ("session_limit", "send_failed"):
                assert ("gantry_udp_datagrams_dropped_total", "dns", reason) in before
            # the API reads the same counters
            st = g.api("/api/entrypoints/dns")["stats"]
            assert st["datagramsOut"] == metrics(g)[("gantry_udp_datagrams_out_total", "dns", None)]
            assert g.api("/api/entrypoints/game")["stats"]["droppedNoRoute"] >= 3
        # idle past udp.timeout: every session ended, the gauge is back to 0
        wait_for(lambda: metrics(g)[("gantry_udp_sessions_open", "dns", None)] == 0, timeout=10 * SLOW,
                 what="sessions ended after udp.timeout")
        assert g.api("/api/overview")["udp"]["entryPoints"][0]["sessions"] == 0
    finally:
        a.close()


def test_service_sessions_open_gauge(procs, tmpdir):
    """gantry_udp_service_sessions_open and stats.sessionsOpen: the sessions
    open now per service (summed over workers), back to 0 after udp.timeout;
    a service without traffic shows 0. A service removed while its sessions
    are open leaves the list and, back before they end, shows them again."""
    a, b = UdpEcho("a"), UdpEcho("b")
    try:
        both = dynamic(router("dns", "echo", ["dns"]) + router("game", "other", ["game"]), lb("echo", a) + lb("other", b))
        g = udp_gantry(procs, tmpdir, both, {"dns": "5s", "game": "5s"}, workers=2)

        def gauge(svc):
            return metrics(g).get(("gantry_udp_service_sessions_open", svc, None))

        assert gauge("echo@file") == 0 and gauge("other@file") == 0
        clients = [client() for _ in range(3)]
        try:
            for c in clients:
                assert ask(c, g.udp["dns"], b"hi") == b"a:hi"
            assert gauge("echo@file") == 3 and gauge("other@file") == 0
            assert g.api("/api/udp/services/echo@file")["stats"]["sessionsOpen"] == 3
            assert metrics(g)[("gantry_udp_sessions_open", "dns", None)] == 3  # the entry point's agrees
            # the same client again: still one session each
            assert ask(clients[0], g.udp["dns"], b"again") == b"a:again"
            assert gauge("echo@file") == 3
            g.write(dynamic(router("game", "other", ["game"]), lb("other", b)))
            wait_for(lambda: gauge("echo@file") is None, timeout=5 * SLOW, what="echo@file gone from /metrics")
            g.write(both)
            wait_for(lambda: gauge("echo@file") is not None, timeout=5 * SLOW, what="echo@file back")
            assert gauge("echo@file") == 3  # its sessions, idle but not ended, are counted again
        finally:
            for c in clients:
                c.close()
        wait_for(lambda: gauge("echo@file") == 0, timeout=10 * SLOW, what="sessions ended after udp.timeout")
        assert g.api("/api/udp/services/echo@file")["stats"]["sessionsOpen"] == 0
        assert metrics(g)[("gantry_udp_service_sessions_total", "echo@file", None)] == 3
    finally:
        a.close()
        b.close()


BROWSER_DIR = os.path.join(ROOT, "tests", "browser")


def browser_available():
    return (shutil.which("node") and os.path.exists("/usr/bin/chromium")
            and os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")))


def test_dashboard_shows_udp(procs, tmpdir):
    a = UdpEcho("a")
    try:
        routers = router("dns", "echo", ["dns"]) + router("zlate", "echo", ["dns"])
        g = udp_gantry(procs, tmpdir, dynamic(routers, lb("echo", a)), {"dns": "2s"})
        status, body = g.admin("/dashboard/")
        assert status == 200 and b'id="udp-routers"' in body and b'id="udp-services"' in body
        if not browser_available():
            msg = "needs node, Debian's chromium and `npm ci` in tests/browser"
            if os.environ.get("CI"):
                pytest.fail(msg)
            pytest.skip(msg)
        assert answered_by(g.udp["dns"], "a")
        p = subprocess.run(["node", "dashboard_udp.mjs", "http://127.0.0.1:%d/dashboard/" % g.admin_port,
                            "dns", "dns@file", "zlate@file", "echo@file"],
                           cwd=BROWSER_DIR, capture_output=True, text=True, timeout=60 * SLOW)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out
        rows = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        assert rows["entrypoint dns"].startswith("dns 127.0.0.1:%d/udp timeout 2s" % g.udp["dns"]), out
        assert rows["router dns@file"] == "enabled dns@file echo@file dns", out
        assert rows["router zlate@file"].startswith("disabled zlate@file") and "'dns@file' serves it" in out, out
        # open sessions (the one above, until udp.timeout), datagrams/s, in / out
        assert re.fullmatch(r"enabled echo@file %s [01] [0-9.]+ [1-9][0-9]* / [1-9][0-9]*" % re.escape(a.address),
                            rows["service echo@file"]), out
    finally:
        a.close()


@pytest.fixture(scope="module")
def engine():
    import dockerenv
    dockerenv.require()
    d = dockerenv.Dockerd().start()
    d.ensure_image()
    yield d
    d.stop()


def test_docker_replicas_are_one_udp_service(procs, tmp_path, engine):
    """Two containers (host network) with the same udp router and service
    labels, each naming its own server port: one router, one service with
    both servers, new clients balanced over both; one container gone, its
    server leaves the service."""
    import dockerenv
    a, b = UdpEcho("a"), UdpEcho("b")
    names = []
    try:
        port = free_port()
        g = procs.gantry(tmp_path, None, workers=1, args=[
            "--providers.docker", "--providers.docker.endpoint=" + engine.host,
            "--entryPoints.dns.address=127.0.0.1:%d/udp" % port])
        for name, echo in (("dns-a", a), ("dns-b", b)):
            engine.docker("run", "-d", "--name", name, "--network", "host",
                          "-l", "gantry.udp.routers.dns.entrypoints=dns",
                          "-l", "gantry.udp.services.dns.loadbalancer.server.port=%d" % echo.port,
                          dockerenv.IMAGE, "sleep", "3600")
            names.append(name)

        def servers():
            ss = g.api("/api/udp/services")
            return sorted(s["address"] for s in ss[0]["loadBalancer"]["servers"]) if len(ss) == 1 else ss

        wait_for(lambda: servers() == sorted([a.address, b.address]), timeout=15 * SLOW, what="one service, two servers")
        rs = g.api("/api/udp/routers")
        assert [(r["name"], r["service"], r["status"]) for r in rs] == [("dns@docker", "dns@docker", "enabled")]
        assert g.api("/api/overview")["problems"] == []
        # round robin over the merged servers: new clients reach both
        got = set()
        for _ in range(4):
            with client() as c:
                answer = ask(c, port, b"hi")
                got.add(answer[:2] if answer else None)
        assert got == {b"a:", b"b:"}, got
        engine.docker("rm", "-f", "dns-b")
        names.remove("dns-b")
        wait_for(lambda: servers() == [a.address], timeout=15 * SLOW, what="the removed replica's server gone")
        assert answered_by(port, "a")
    finally:
        for name in names:
            engine.docker("rm", "-f", name, check=False)
        a.close()
        b.close()


def test_counters_under_concurrent_traffic_reads_and_swaps(procs, tmpdir):
    """Two workers relay datagrams of four client threads while the admin
    thread serves /metrics and /api/entrypoints in a loop and the file
    provider swaps the table (a router on another entry point comes and
    goes). Run against the TSan build, the procs fixture fails on any
    report; with any build, the counters add up to what the clients got."""
    import threading
    a = UdpEcho("a")
    try:
        config = dynamic(router("dns", "echo", ["dns"]), lb("echo", a))
        g = udp_gantry(procs, tmpdir, config, {"dns": "3s", "game": "3s"}, workers=2)
        assert answered_by(g.udp["dns"], "a")
        before = metrics(g)
        answered = []
        stop = threading.Event()

        def traffic():
            n = 0
            with client() as c:
                c.settimeout(1.0 * SLOW)
                for i in range(150):
                    c.sendto(b"%d" % i, ("127.0.0.1", g.udp["dns"]))
                    try:
                        n += c.recvfrom(100)[0] == b"a:%d" % i
                    except OSError:
                        pass
            answered.append(n)

        def reads():
            while not stop.is_set():
                metrics(g)
                g.api("/api/entrypoints")

        def swaps():
            for v in range(10):
                extra = router("swap%d" % v, "echo", ["game"]) if v % 2 == 0 else ""
                g.write(dynamic(router("dns", "echo", ["dns"]) + extra, lb("echo", a)))
                time.sleep(0.05)

        threads = [threading.Thread(target=traffic) for _ in range(4)]
        threads += [threading.Thread(target=reads), threading.Thread(target=swaps)]
        for t in threads:
            t.start()
        for t in threads[:4] + threads[5:]:
            t.join(60 * SLOW)
        stop.set()
        threads[4].join(30 * SLOW)
        got = sum(answered)
        assert got >= 4 * 150 * 0.9, answered  # loopback: a few may be lost to full buffers at most
        wait_for(lambda: metrics(g)[("gantry_udp_datagrams_out_total", "dns", None)]
                 - before[("gantry_udp_datagrams_out_total", "dns", None)] >= got, timeout=5 * SLOW,
                 what="datagrams out counted")
        m = metrics(g)
        sent_in = m[("gantry_udp_datagrams_in_total", "dns", None)] - before[("gantry_udp_datagrams_in_total", "dns", None)]
        assert got <= sent_in <= 4 * 150, (got, sent_in)
        assert m[("gantry_udp_sessions_total", "dns", None)] - before[("gantry_udp_sessions_total", "dns", None)] == 4
        # the service stayed through every swap: its counters went on
        svc = ("gantry_udp_service_datagrams_in_total", "echo@file", None)
        assert m[svc] - before[svc] == sent_in
    finally:
        a.close()
