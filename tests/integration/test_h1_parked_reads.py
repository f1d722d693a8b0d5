"""HTTP/1.1 client sockets stay in the event loop's read set while h2o runs
a request (h1_framing.c parks them instead of h2o's stop and restart, which
cost two epoll_ctl calls a request). What comes while parked must behave as
before: a pipelined request is answered after the first, in order; a bad
one behind it is still refused; a client that half-closes still gets its
answer; one that goes away frees everything; and a keep-alive request
costs no epoll_ctl (strace)."""
import shutil
import socket
import subprocess
import time

import pytest

from attack import RecordingUpstream
from conftest import SLOW, get, service_yaml, wait_for

DELAY = 0.3


def config(up):
    return ("http:\n  routers:\n    r: {rule: \"Host(`p.test`)\", service: s}\n"
            "  services:\n" + service_yaml("s", [up.url]))


def read_responses(s, n, timeout=5.0):
    """Reads until <n> complete 'ok' responses (Content-Length: 2) came, or the peer closed."""
    s.settimeout(timeout * SLOW)
    out = b""
    while out.count(b"HTTP/1.1 ") < n or not out.endswith(b"ok"):
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        out += d
    return out


def test_request_arriving_while_the_first_runs_is_answered_after_it(tmp_path, procs):
    up = RecordingUpstream(delay=DELAY)
    g = procs.gantry(tmp_path, config(up))
    wait_for(lambda: get(g.port, "/", "p.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port))
    try:
        s.sendall(b"GET /one HTTP/1.1\r\nHost: p.test\r\n\r\n")
        time.sleep(DELAY / 3)  # the first is at the upstream: the socket is parked
        s.sendall(b"GET /two HTTP/1.1\r\nHost: p.test\r\n\r\n")
        out = read_responses(s, 2)
        assert out.count(b"HTTP/1.1 200 OK") == 2, out
        assert up.request_lines()[-2:] == ["GET /one HTTP/1.1", "GET /two HTTP/1.1"]
        # and the connection keeps going afterwards
        s.sendall(b"GET /three HTTP/1.1\r\nHost: p.test\r\n\r\n")
        assert read_responses(s, 1).count(b"HTTP/1.1 200 OK") == 1
    finally:
        s.close()


def test_bad_request_arriving_while_parked_is_refused_after_the_first(tmp_path, procs):
    up = RecordingUpstream(delay=DELAY)
    g = procs.gantry(tmp_path, config(up))
    wait_for(lambda: get(g.port, "/", "p.test")[0] == 200, what="route live")
    n_before = len(up.requests)
    s = socket.create_connection(("127.0.0.1", g.port))
    try:
        s.sendall(b"GET /one HTTP/1.1\r\nHost: p.test\r\n\r\n")
        time.sleep(DELAY / 3)
        # smuggling shape: a chunk size that is not hex; never forwarded
        s.sendall(b"POST /evil HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n")
        out = read_responses(s, 2)
        assert out.startswith(b"HTTP/1.1 200 OK"), out
        assert b"HTTP/1.1 400" in out, out
        assert [l for l in up.request_lines()[n_before:]] == ["GET /one HTTP/1.1"]
    finally:
        s.close()


def test_half_closed_client_still_gets_its_answer(tmp_path, procs):
    up = RecordingUpstream(delay=DELAY)
    g = procs.gantry(tmp_path, config(up))
    wait_for(lambda: get(g.port, "/", "p.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port))
    try:
        s.sendall(b"GET /one HTTP/1.1\r\nHost: p.test\r\n\r\n")
        time.sleep(DELAY / 3)
        s.shutdown(socket.SHUT_WR)  # the FIN reaches the parked socket
        out = read_responses(s, 1)
        assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"ok"), out
    finally:
        s.close()


def test_client_gone_while_parked_then_more_requests(tmp_path, procs):
    up = RecordingUpstream(delay=DELAY)
    g = procs.gantry(tmp_path, config(up))
    wait_for(lambda: get(g.port, "/", "p.test")[0] == 200, what="route live")
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET /gone HTTP/1.1\r\nHost: p.test\r\n\r\n")
        time.sleep(DELAY / 5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        s.close()
    time.sleep(DELAY * 2)
    assert get(g.port, "/after", "p.test")[0] == 200
    wait_for(lambda: g.api("/api/overview") is not None, what="api")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_keep_alive_requests_cost_no_epoll_ctl(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, config(up))
    wait_for(lambda: get(g.port, "/", "p.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port))
    out = str(tmp_path / "strace.txt")
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=epoll_ctl", "-o", out, "-p", str(g.proc.pid)])
    try:
        time.sleep(1.0 * SLOW)  # strace attached to every thread
        s.sendall(b"GET /warm HTTP/1.1\r\nHost: p.test\r\n\r\n")
        assert b"200 OK" in read_responses(s, 1)
        with open(out) as f:
            before = f.read().count("epoll_ctl(")
        for i in range(50):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: p.test\r\n\r\n" % i)
            assert b"200 OK" in read_responses(s, 1)
        time.sleep(0.2)
    finally:
        tracer.terminate()
        tracer.wait(timeout=10)
        s.close()
    with open(out) as f:
        calls = f.read().count("epoll_ctl(") - before
    assert calls <= 2, "%d epoll_ctl calls for 50 keep-alive requests" % calls
