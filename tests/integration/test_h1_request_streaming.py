"""HTTP/1.1 request bodies streamed to the upstream as they arrive (issue
16): what happens around a streamed body on the client connection.
Pipelined requests after it, responses that come before the body is in
(no route, an upstream that answers at once), 413 in the middle of a
chunked body, a client that leaves mid-body, Expect: 100-continue, and
back-pressure from an upstream that does not read. Raw sockets on both
sides, so every byte on the wire is known."""
import hashlib
import re
import socket
import ssl
import threading
import time

import pytest

from conftest import SLOW, get

MiB = 1024 * 1024


class Upstream:
    """HTTP/1.1 upstream on raw sockets. Reads each request's body
    (Content-Length or chunked) and answers 200 with "<bytes> <sha256>".
    mode "early": answers 200 right after the head and reads nothing;
    mode "stall": reads nothing for <stall> seconds first. Records
    complete uploads by path, and bodies cut short."""

    def __init__(self, mode="read", stall=0.0):
        self.mode, self.stall = mode, stall
        self.done, self.cut = {}, []
        self.first_byte = {}
        self.trailers = {}
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = f.readline()
                    if not line:
                        return
                    head += line
                path = head.split(b" ")[1].decode()
                if self.mode == "early":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
                    time.sleep(15 * SLOW)  # then closes: long after the test looked
                    return
                if self.stall:
                    time.sleep(self.stall)
                h, n = hashlib.sha256(), 0
                lower = head.lower()
                if b"transfer-encoding: chunked" in lower:
                    while True:
                        line = f.readline()
                        if not line:
                            self.cut.append((path, n))
                            return
                        size = int(line.split(b";")[0], 16)
                        if size == 0:
                            trailers = b""
                            while True:
                                line = f.readline()
                                if line in (b"\r\n", b""):
                                    break
                                trailers += line
                            self.trailers[path] = trailers
                            break
                        data = f.read(size)
                        if len(data) < size:
                            self.cut.append((path, n + len(data)))
                            return
                        self.first_byte.setdefault(path, time.monotonic())
                        h.update(data)
                        n += size
                        f.read(2)
                else:
                    m = re.search(rb"content-length: *(\d+)", lower)
                    left = int(m.group(1)) if m else 0
                    while left:
                        data = f.read1(min(left, 256 * 1024))
                        if not data:
                            self.cut.append((path, n))
                            return
                        self.first_byte.setdefault(path, time.monotonic())
                        h.update(data)
                        n += len(data)
                        left -= len(data)
                self.done[path] = (n, h.hexdigest())
                body = b"%d %s" % (n, h.hexdigest().encode())
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except (OSError, ValueError):
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def start(procs, tmp_path, up, args=(), tls=False):
    cfg = ("http:\n  routers:\n    r:\n      rule: \"Host(`up.test`)\"\n      service: s\n"
           + ("      tls: {}\n" if tls else "")
           + "  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"%s\"\n" % up.url)
    return procs.gantry(tmp_path, cfg, args=list(args))


def connect(g, tls=False):
    s = socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="up.test")
    return s


def read_response(f):
    """(status, headers lowercased, body) of one response from file <f>, or None at EOF."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body


def closed_soon(s, timeout=5.0):
    """True when the server closes <s> within <timeout> (what it sends meanwhile is dropped)."""
    s.settimeout(timeout * SLOW)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def pieces(n, size=64 * 1024):
    data = hashlib.sha256(b"seed").digest() * (n // 32)
    return data, [data[i:i + size] for i in range(0, n, size)]


@pytest.mark.parametrize("tls", [False, True])
def test_pipelined_request_after_a_streamed_body(procs, tmp_path, tls):
    up = Upstream()
    g = start(procs, tmp_path, up, tls=tls)
    data, parts = pieces(2 * MiB)
    s = connect(g, tls)
    s.sendall(b"POST /a HTTP/1.1\r\nHost: up.test\r\nContent-Length: %d\r\n\r\n" % len(data))
    for p in parts[:-1]:
        s.sendall(p)
        time.sleep(0.01)
    time.sleep(0.2)
    last_at = time.monotonic()
    # the last part and the next request in one write: the framing splits them
    s.sendall(parts[-1] + b"GET /b HTTP/1.1\r\nHost: up.test\r\n\r\n"
              b"POST /c HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    f = s.makefile("rb")
    r1, r2, r3 = read_response(f), read_response(f), read_response(f)
    s.close()
    assert r1[0] == 200 and r1[2] == b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())
    assert r2[0] == 200 and r2[2].startswith(b"0 ")
    assert r3[0] == 200 and r3[2] == b"5 " + hashlib.sha256(b"hello").hexdigest().encode()
    assert set(up.done) == {"/a", "/b", "/c"}
    assert up.first_byte["/a"] < last_at, "the body went up after its last byte (not streamed)"
    up.stop()


def test_streamed_body_reaches_the_upstream_before_it_ends(procs, tmp_path):
    """The third request of a connection (its stream is found by counting)."""
    up = Upstream()
    g = start(procs, tmp_path, up)
    data, parts = pieces(4 * MiB)
    s = connect(g)
    f = s.makefile("rb")
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: up.test\r\n\r\nPOST /2 HTTP/1.1\r\nHost: up.test\r\nContent-Length: 3\r\n\r\nabc")
    assert read_response(f)[0] == 200 and read_response(f)[2].startswith(b"3 ")
    s.sendall(b"POST /s HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\n")
    for p in parts[:len(parts) // 2]:
        s.sendall(b"%x\r\n%s\r\n" % (len(p), p))
    deadline = time.monotonic() + 5 * SLOW
    while "/s" not in up.first_byte and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "/s" in up.first_byte, "half of the body sent, none of it upstream"
    for p in parts[len(parts) // 2:]:
        s.sendall(b"%x\r\n%s\r\n" % (len(p), p))
    s.sendall(b"0\r\nX-Sum: 1\r\nContent-Length: 5\r\n\r\n")
    r = read_response(f)
    s.close()
    assert r[0] == 200 and r[2] == b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())
    # request trailers go up as trailers; framing fields in them do not
    assert up.trailers["/s"].lower() == b"x-sum: 1\r\n", up.trailers["/s"]
    up.stop()


def test_early_response_with_much_body_left_closes_the_connection(procs, tmp_path):
    """No route: 404 while 8 MiB are still to come. The rest must not be
    read as requests: the response says close, and the connection closes."""
    up = Upstream()
    g = start(procs, tmp_path, up)
    s = connect(g)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: nothing.test\r\nContent-Length: %d\r\n\r\n" % (8 * MiB))
    s.sendall(b"GET /smuggled HTTP/1.1\r\nHost: up.test\r\n\r\n" * 100)
    f = s.makefile("rb")
    r = read_response(f)
    assert r[0] == 404 and r[1].get("connection") == "close", r
    try:
        assert read_response(f) is None  # closed: what followed was not served
    except ConnectionResetError:
        pass  # closed with the client's bytes unread: a reset
    s.close()
    assert up.done == {}
    assert get(g.port, "/", "up.test")[0] == 200


def test_early_response_with_little_body_left_keeps_the_connection(procs, tmp_path):
    """No route: 404 with 40 KiB still to come: they are read and dropped
    (requests in them are not served), the next request is."""
    up = Upstream()
    g = start(procs, tmp_path, up)
    s = connect(g)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: nothing.test\r\nContent-Length: %d\r\n\r\n" % (40 * 1024))
    f = s.makefile("rb")
    r = read_response(f)
    assert r[0] == 404 and r[1].get("connection") == "keep-alive", r
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: up.test\r\n\r\n" * 10
    s.sendall(smuggled + b"y" * (40 * 1024 - len(smuggled)) + b"GET /next HTTP/1.1\r\nHost: up.test\r\n\r\n")
    r = read_response(f)
    s.close()
    assert r is not None and r[0] == 200, r
    assert set(up.done) == {"/next"}, up.done


def test_upstream_answering_before_the_body_is_in(procs, tmp_path):
    """The upstream answers after the head: the answer is relayed, says
    close, and the connection closes (the client may still be sending:
    the response is read alongside)."""
    up = Upstream(mode="early")
    g = start(procs, tmp_path, up)
    data, parts = pieces(8 * MiB)
    s = connect(g)
    got = []

    def reader():
        f = s.makefile("rb")
        r = read_response(f)
        try:
            closed = read_response(f) is None
        except ConnectionResetError:
            closed = True
        got.append((r, closed))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    s.sendall(b"POST /e HTTP/1.1\r\nHost: up.test\r\nContent-Length: %d\r\n\r\n" % len(data))
    try:
        for p in parts[:8]:
            s.sendall(p)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed after the answer
    t.join(10 * SLOW)
    s.close()
    assert got, "no answer"
    r, closed = got[0]
    assert r[0] == 200 and r[2] == b"early", r
    assert r[1].get("connection") == "close", r
    assert closed


def test_413_in_the_middle_of_a_chunked_body(procs, tmp_path):
    up = Upstream(stall=1.0)
    g = start(procs, tmp_path, up, ["--entryPoints.web.http.maxRequestBodyBytes=1048576"])
    data, parts = pieces(4 * MiB)
    s = connect(g)
    got = []
    reader = threading.Thread(target=lambda: got.append(read_response(s.makefile("rb"))), daemon=True)
    reader.start()
    s.sendall(b"POST /big HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for p in parts:
            s.sendall(b"%x\r\n%s\r\n" % (len(p), p))
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    reader.join(10 * SLOW)
    s.close()
    r = got[0] if got else None
    assert r is not None and r[0] == 413, r
    assert "/big" not in up.done
    assert get(g.port, "/", "up.test")[0] == 200


def test_client_leaving_mid_body_ends_the_upstream_request(procs, tmp_path):
    up = Upstream()
    g = start(procs, tmp_path, up)
    data, parts = pieces(2 * MiB)
    s = connect(g)
    s.sendall(b"POST /gone HTTP/1.1\r\nHost: up.test\r\nContent-Length: %d\r\n\r\n" % len(data))
    for p in parts[:8]:
        s.sendall(p)
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 5 * SLOW
    while not up.cut and time.monotonic() < deadline:
        time.sleep(0.05)
    assert up.cut and up.cut[0][0] == "/gone" and up.cut[0][1] < len(data), up.cut
    assert "/gone" not in up.done
    assert get(g.port, "/", "up.test")[0] == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_expect_100_continue_then_a_streamed_body(procs, tmp_path, framing):
    up = Upstream()
    g = start(procs, tmp_path, up)
    data, parts = pieces(1 * MiB)
    s = connect(g)
    framing_header = b"Transfer-Encoding: chunked" if framing == "chunked" else b"Content-Length: %d" % len(data)
    s.sendall(b"POST /100 HTTP/1.1\r\nHost: up.test\r\n%s\r\nExpect: 100-continue\r\n\r\n" % framing_header)
    assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    for p in parts:
        s.sendall(b"%x\r\n%s\r\n" % (len(p), p) if framing == "chunked" else p)
    if framing == "chunked":
        s.sendall(b"0\r\n\r\n")
    r = read_response(s.makefile("rb"))
    s.close()
    assert r[0] == 200 and r[2] == b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())


def test_an_upstream_that_does_not_read_stops_the_client(procs, tmp_path):
    """Back-pressure: while the upstream reads nothing, the client can only
    fill the socket buffers on the way and Gantry's bound (256 KiB), not
    send the whole 64 MiB. The body-rate rule (here 64 KiB/s over 1 s) does
    not cut a client that Gantry itself holds back."""
    up = Upstream(stall=4.0)
    g = start(procs, tmp_path, up, ["--entryPoints.web.transport.respondingTimeouts.bodyMinRate=65536",
                                    "--entryPoints.web.transport.respondingTimeouts.bodyRateWindow=1s"])
    total = 64 * MiB
    s = connect(g)
    s.sendall(b"POST /bp HTTP/1.1\r\nHost: up.test\r\nContent-Length: %d\r\n\r\n" % total)
    s.setblocking(False)
    chunk, sent, t0 = b"b" * 65536, 0, time.monotonic()
    while time.monotonic() - t0 < 2.0:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    assert sent < 40 * MiB, "%d MiB accepted while the upstream read nothing" % (sent // MiB)
    s.setblocking(True)
    s.settimeout(30 * SLOW)
    left = total - sent
    while left:
        n = s.send(chunk[:min(left, len(chunk))])
        left -= n
    r = read_response(s.makefile("rb"))
    s.close()
    assert r[0] == 200 and r[2].startswith(b"%d " % total), r


@pytest.mark.parametrize("split", [False, True])
def test_trailers_of_a_small_chunked_body_go_up_as_trailers(procs, tmp_path, split):
    """A chunked body complete before the upstream request starts (in the
    head's read, or in the next one) keeps its trailer section: it goes up
    chunked with the trailers, not collected with a length (which drops them)."""
    up = Upstream()
    g = start(procs, tmp_path, up)
    s = connect(g)
    f = s.makefile("rb")
    head = b"POST /t HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nsmall\r\n0\r\nX-Sum: 5\r\nContent-Length: 7\r\n\r\n"
    if split:
        s.sendall(head + b"5\r\nsma")
        time.sleep(0.1)
        s.sendall(body[6:])
    else:
        s.sendall(head + body)
    r = read_response(f)
    s.close()
    up.stop()
    assert r[0] == 200 and r[2] == b"5 " + hashlib.sha256(b"small").hexdigest().encode(), r
    assert up.trailers.get("/t", b"").lower() == b"x-sum: 5\r\n", up.trailers
