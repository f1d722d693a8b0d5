"""Connection limits against the real binary: a per-client-IP maximum
refuses the excess from that address only; the global maximum pauses the
listeners (connections wait in the backlog, nothing spins) and resumes
them when connections close.
"""
import socket
import time

from attack import cpu_seconds, metric
from conftest import SLOW, get, service_yaml, wait_for


def route(url):
    return ("http:\n  routers:\n    r: {rule: \"Host(`l.test`)\", service: s}\n  services:\n" +
            service_yaml("s", [url]))


def connect(port, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def request(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\n\r\n")
    s.settimeout(5 * SLOW)
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            return None
        data += d
    return data


def closed_by_server(s, timeout=3.0):
    s.settimeout(timeout * SLOW)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_per_ip_limit_refuses_the_excess_from_that_address_only(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, route(up.url), args=["--connectionLimits.maxConnectionsPerIP=5"])
    # the readiness probe's connection must be gone first, or it counts
    # against 127.0.0.1's five
    wait_for(lambda: metric(g, "gantry_open_connections") == 0, what="no connection open")
    held = [connect(g.port) for _ in range(5)]
    wait_for(lambda: metric(g, "gantry_open_connections") == 5, what="5 connections open")
    extra = connect(g.port)
    assert closed_by_server(extra)  # the sixth from 127.0.0.1 is closed at once
    other = connect(g.port, source="127.0.0.2")  # another address is served
    assert request(other).startswith(b"HTTP/1.1 200")
    assert request(held[0]).startswith(b"HTTP/1.1 200")  # the five still work
    assert metric(g, "gantry_connections_closed_total", reason="per_ip_limit") >= 1
    for s in held:
        s.close()
    wait_for(lambda: metric(g, "gantry_open_connections") <= 1, what="connections closed")
    assert get(g.port, "/", "l.test")[0] == 200  # room again
    other.close()
    extra.close()


def test_global_limit_pauses_the_listener_and_resumes(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, route(up.url), workers=1, args=["--connectionLimits.maxConnections=10"])
    wait_for(lambda: metric(g, "gantry_open_connections") == 0, what="no connection open")
    held = [connect(g.port) for _ in range(10)]
    wait_for(lambda: metric(g, "gantry_open_connections") == 10, what="10 connections open")
    # the eleventh completes its TCP handshake (the kernel's backlog) but is not accepted
    waiting = connect(g.port)
    waiting.sendall(b"GET / HTTP/1.1\r\nHost: l.test\r\n\r\n")
    cpu0 = cpu_seconds(g.proc.pid)
    time.sleep(2)
    waiting.settimeout(0.2)
    try:
        early = waiting.recv(100)
    except socket.timeout:
        early = None
    cpu = cpu_seconds(g.proc.pid) - cpu0
    print("global limit: paused for 2 s using %.2f s of CPU" % cpu)
    assert early is None  # neither answered nor refused: waiting
    assert cpu < 0.3  # paused, not refusing in a tight loop
    assert metric(g, "gantry_open_connections") == 10
    held.pop().close()  # one slot frees: the waiting connection is served
    waiting.settimeout(5 * SLOW)
    data = b""
    while b"\r\n\r\n" not in data:
        d = waiting.recv(65536)
        assert d
        data += d
    assert data.startswith(b"HTTP/1.1 200")
    for s in held:
        s.close()
    waiting.close()
    assert get(g.port, "/", "l.test")[0] == 200
