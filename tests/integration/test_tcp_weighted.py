"""Weighted TCP services (tcp.services.<name>.weighted) against the real
binary and real TCP upstreams: python echo servers that each announce
themselves with a banner, so every connection says which one it reached.
Shares follow the weights (nested weighted services too, weight 0 gets
nothing), a weight change applies on reload, and a weighted service with a
missing child or a loop is refused with its routers while the rest serve.
"""
import socket

from attack import metric
from conftest import SLOW, wait_for
from tcp_peers import EchoServer

ENTRYPOINTS = ("web", "tcpep", "tcpzero")


def config(a, b, c, outer_a=2, outer_inner=2, extra_routers="", extra_services=""):
    return ("tcp:\n  routers:\n"
            "    main: {rule: \"HostSNI(`*`)\", service: outer, entryPoints: [tcpep]}\n"
            "    zero: {rule: \"HostSNI(`*`)\", service: allzero, entryPoints: [tcpzero]}\n" + extra_routers +
            "  services:\n"
            "    a: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    b: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    c: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    inner: {weighted: {services: [{name: b, weight: 1}, {name: c, weight: 1}]}}\n"
            "    outer: {weighted: {services: [{name: a, weight: %d}, {name: inner, weight: %d}, {name: b, weight: 0}]}}\n"
            "    allzero: {weighted: {services: [{name: a, weight: 0}]}}\n" % (a.address, b.address, c.address, outer_a,
                                                                           outer_inner) + extra_services)


def banner_of(port):
    """The banner of the upstream a new connection reached; b"" when closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        return data.strip()


def shares(g, n):
    counts = {}
    for _ in range(n):
        b = banner_of(g.ports["tcpep"])
        counts[b] = counts.get(b, 0) + 1
    return counts


def start(tmp_path, procs, **kw):
    ups = [EchoServer(banner=name + b"\n") for name in (b"A", b"B", b"C")]
    g = procs.gantry(tmp_path, config(*ups, **kw), entrypoints=ENTRYPOINTS)
    return g, ups


def test_connections_are_shared_by_weight_through_nested_weighted_services(tmp_path, procs):
    g, (a, b, c) = start(tmp_path, procs)
    counts = shares(g, 80)
    # outer: a 2, inner 2 (b 1, c 1), b 0 -> 40 / 20 / 20; smooth WRR per worker: off by at most one per worker
    assert abs(counts.get(b"A", 0) - 40) <= 2, counts
    assert abs(counts.get(b"B", 0) - 20) <= 2 and abs(counts.get(b"C", 0) - 20) <= 2, counts
    assert sum(counts.values()) == 80
    # the echo still relays both ways after the choice
    with socket.create_connection(("127.0.0.1", g.ports["tcpep"]), timeout=10 * SLOW) as s:
        assert s.recv(2) in (b"A\n", b"B\n", b"C\n")
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
    # every child of weight 0: the connection is refused (closed without a byte, counted as found no backend)
    failures = metric(g, "gantry_tcp_connect_failures_total")
    assert banner_of(g.ports["tcpzero"]) == b""
    wait_for(lambda: metric(g, "gantry_tcp_connect_failures_total") == failures + 1, what="the refusal counted")


def test_a_weight_change_applies_on_reload(tmp_path, procs):
    g, (a, b, c) = start(tmp_path, procs)
    g.write(config(a, b, c, outer_a=0, outer_inner=1))
    wait_for(lambda: all(banner_of(g.ports["tcpep"]) != b"A" for _ in range(6)), what="weight 0 for a")
    counts = shares(g, 40)
    assert b"A" not in counts and abs(counts.get(b"B", 0) - 20) <= 2, counts
    g.write(config(a, b, c, outer_a=3, outer_inner=1))
    wait_for(lambda: b"A" in [banner_of(g.ports["tcpep"]) for _ in range(4)], what="a back")
    counts = shares(g, 80)
    assert abs(counts.get(b"A", 0) - 60) <= 2, counts


def test_missing_child_and_loops_refuse_the_service_and_its_routers(tmp_path, procs):
    routers = ("    broken: {rule: \"HostSNI(`*`)\", service: hasmissing, entryPoints: [web]}\n"
               "    loop: {rule: \"HostSNI(`*`)\", service: loopx, entryPoints: [web]}\n")
    services = ("    hasmissing: {weighted: {services: [{name: a}, {name: nosuch, weight: 2}]}}\n"
                "    loopx: {weighted: {services: [{name: a}, {name: loopy}]}}\n"
                "    loopy: {weighted: {services: [{name: loopx}]}}\n")
    g, (a, b, c) = start(tmp_path, procs, extra_routers=routers, extra_services=services)
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "tcp service 'hasmissing@file': weighted: tcp service 'nosuch@file' does not exist" in problems, problems
    assert "tcp router 'broken@file': tcp service 'hasmissing@file' is not served" in problems, problems
    assert "tcp service 'loopx@file'" in problems and "tcp service 'loopy@file'" in problems, problems
    assert "tcp router 'loop@file': tcp service 'loopx@file' is not served" in problems, problems
    # the rest serves
    assert banner_of(g.ports["tcpep"]) in (b"A", b"B", b"C")
    # the API: Traefik's /api/tcp/services and /api/tcp/routers, with status and the errors naming them
    services = {s["name"]: s for s in g.api("/api/tcp/services")}
    assert services["outer@file"]["type"] == "weighted" and services["outer@file"]["status"] == "enabled"
    assert services["outer@file"]["weighted"]["services"] == [{"name": "a@file", "weight": 2},
                                                            {"name": "inner@file", "weight": 2},
                                                            {"name": "b@file", "weight": 0}]
    assert services["a@file"]["loadBalancer"]["servers"] == [{"address": a.address}]
    assert services["hasmissing@file"]["status"] == "disabled"
    assert "nosuch@file" in services["hasmissing@file"]["error"][0]
    broken = g.api("/api/tcp/routers/broken@file")
    assert broken["status"] == "disabled" and "hasmissing@file" in broken["error"][0], broken
    assert g.api("/api/tcp/routers/main@file")["status"] == "enabled"
    assert g.api("/api/tcp/services/inner@file")["weighted"]["services"][1] == {"name": "c@file", "weight": 1}
    # both kinds in one service: the file is refused as a whole (its previous version keeps serving)
    both = "    both: {loadBalancer: {servers: [{address: \"127.0.0.1:1\"}]}, weighted: {services: [{name: a}]}}\n"
    g.write(config(a, b, c, extra_services=both))
    wait_for(lambda: "exactly one of loadBalancer or weighted" in "\n".join(g.api("/api/overview")["problems"]),
             what="the refusal of 'both'")
    assert "tcp service 'both'" in "\n".join(g.api("/api/overview")["problems"])
    assert banner_of(g.ports["tcpep"]) in (b"A", b"B", b"C")
