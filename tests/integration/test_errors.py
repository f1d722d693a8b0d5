"""Clear answers: 404 no router, 502 nothing reachable, 503 no healthy
server, 504 upstream too slow; client timeouts cut slow-header clients and
idle keep-alive connections."""
import socket
import time

from attack import trickle_until_closed
from conftest import SLOW, free_port, get, service_yaml, wait_for


def test_502_when_no_server_is_reachable(tmp_path, procs):
    dead = "http://127.0.0.1:%d" % free_port()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [dead]))
    t0 = time.time()
    status, _, body = get(g.port, "/", "e.test")
    assert status == 502 and body == b"Bad Gateway"
    assert time.time() - t0 < 1 * SLOW
    g.wait_log(r"upstream http://127\.0\.0\.1:\d+ \(service s@file\): connection failure; not used for")


def test_503_when_service_has_no_server(tmp_path, procs):
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n    s:\n      loadBalancer:\n        servers: []\n")
    status, _, body = get(g.port, "/", "e.test")
    assert status == 503 and body == b"Service Unavailable"


def test_503_when_health_checks_fail(tmp_path, procs):
    up = procs.whoami()
    hc = "        healthCheck: {path: /health, interval: 200ms, timeout: 500ms}\n"
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url], hc))
    assert get(g.port, "/", "e.test")[0] == 200
    get(up.port, "/health/set?status=503")
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 503, what="503 once unhealthy")
    g.wait_log(r"health check .* unhealthy \(status 503\)")
    get(up.port, "/health/set?status=200")
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 200, what="200 once healthy again")
    g.wait_log(r"healthy again")


def test_504_on_upstream_timeout(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url]),
                     args=["--serversTransport.forwardingTimeouts.responseHeaderTimeout=1s"])
    t0 = time.time()
    status, _, body = get(g.port, "/slow?delay=4", "e.test")
    took = time.time() - t0
    assert status == 504 and body == b"Gateway Timeout"
    assert 0.9 < took < 3 * SLOW, took
    assert get(g.port, "/", "e.test")[0] == 200  # the service itself is fine


def test_slow_header_client_is_cut_off(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url]),
                     args=["--entryPoints.web.transport.respondingTimeouts.readTimeout=2s"])
    s = socket.create_connection(("127.0.0.1", g.port))
    request = b"GET / HTTP/1.1\r\nHost: e.test\r\nX-Slow: " + b"a" * 100
    # one byte every 200 ms: never completes within 2 s
    closed_at = trickle_until_closed(s, (bytes([b]) for b in request), gap=0.2)
    assert closed_at is not None and 1.5 < closed_at < 4 * SLOW, closed_at
    assert get(g.port, "/", "e.test")[0] == 200  # others are still served


def test_idle_keepalive_connection_is_closed(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url]),
                     args=["--entryPoints.web.transport.respondingTimeouts.idleTimeout=1s"])
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: e.test\r\n\r\n")
    s.settimeout(5 * SLOW)
    data = b""
    t0 = None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if t0 is None and b"\r\n\r\n" in data:
            t0 = time.time()
    assert data.startswith(b"HTTP/1.1 200")
    assert 0.5 < time.time() - t0 < 3 * SLOW  # closed by the server after ~1 s idle (the sweep runs every second)
