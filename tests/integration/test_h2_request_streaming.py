"""HTTP/2 request bodies streamed to an HTTP/1.1 upstream as they arrive
(proxy/h2_stream.c, proxy/upstream.c): the upstream sees the first bytes
before the client sent the last, chunked when the length is unknown, with
the request's trailers; requests whose route needs the whole body first
(retry, buffering, mirroring with the body) are collected, as before."""
import re
import socket
import threading
import time

import h2.events

from attack import H2Client
from conftest import get, service_yaml


class StreamingUpstream:
    """An HTTP/1.1 server that records when each body byte arrived and the
    raw request, and answers once the body is complete."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests = []  # (head, body, first_body_byte_time, trailers)
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _recv(self, c, buf):
        d = c.recv(65536)
        if not d:
            raise EOFError
        return buf + d

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    buf = self._recv(c, buf)
                head, buf = buf.split(b"\r\n\r\n", 1)
                first = None
                body, trailers = b"", b""
                if re.search(rb"\r\ntransfer-encoding: *chunked", head, re.I):
                    while True:
                        while b"\r\n" not in buf:
                            buf = self._recv(c, buf)
                        line, buf = buf.split(b"\r\n", 1)
                        size = int(line.split(b";")[0], 16)
                        if size == 0:
                            while b"\r\n\r\n" not in b"\r\n" + buf:
                                buf = self._recv(c, buf)
                            if buf.startswith(b"\r\n"):
                                buf = buf[2:]
                            else:
                                trailers, buf = buf.split(b"\r\n\r\n", 1)
                            break
                        while len(buf) < size + 2:
                            buf = self._recv(c, buf)
                        if first is None:
                            first = time.time()
                        body += buf[:size]
                        buf = buf[size + 2:]
                else:
                    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
                    n = int(m.group(1)) if m else 0
                    while len(buf) < n:
                        if buf and first is None:
                            first = time.time()
                        buf = self._recv(c, buf)
                    if n and first is None:
                        first = time.time()
                    body, buf = buf[:n], buf[n:]
                with self.lock:
                    self.requests.append((head, body, first, trailers))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (OSError, EOFError):
            pass
        finally:
            c.close()


def config(up, middlewares=""):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`s.test`)\", service: s}\n"
            "    rr: {rule: \"Host(`retry.test`)\", service: s, middlewares: [again]}\n"
            "  middlewares:\n    again: {retry: {attempts: 2}}\n" + middlewares +
            "  services:\n" + service_yaml("s", [up.url]))


def upload(port, host, pieces, pause, length=None, trailers=None):
    """Sends <pieces> as DATA frames <pause> s apart; returns (status,
    time the last piece was sent)."""
    c = H2Client(port)
    extra = [("content-length", str(length))] if length is not None else []
    sid = c.request("/up", host, method="POST", extra=extra, end_stream=False)
    last = None
    for i, p in enumerate(pieces):
        time.sleep(pause)
        end = i == len(pieces) - 1 and trailers is None
        c.conn.send_data(sid, p, end_stream=end)
        c.flush()
        last = time.time()
    if trailers is not None:
        c.conn.send_headers(sid, trailers, end_stream=True)
        c.flush()
    status = c.response(sid, timeout=10)[0]
    c.close()
    return status, last


def test_h2_body_streams_chunked_before_it_ends(tmp_path, procs):
    up = StreamingUpstream()
    g = procs.gantry(tmp_path, config(up))
    pieces = [b"a" * 1000, b"b" * 1000, b"c" * 1000]
    status, last = upload(g.port, "s.test", pieces, 0.4)
    assert status == 200
    head, body, first, _ = up.requests[-1]
    assert body == b"".join(pieces)
    assert b"transfer-encoding: chunked" in head.lower()
    assert first is not None and first < last - 0.3, "the upstream had nothing before the client's last piece"


def test_h2_body_with_length_streams_with_content_length(tmp_path, procs):
    up = StreamingUpstream()
    g = procs.gantry(tmp_path, config(up))
    pieces = [b"x" * 5000, b"y" * 5000]
    status, last = upload(g.port, "s.test", pieces, 0.5, length=10000)
    assert status == 200
    head, body, first, _ = up.requests[-1]
    assert body == b"".join(pieces) and b"content-length: 10000" in head.lower()
    assert b"transfer-encoding" not in head.lower()
    assert first < last - 0.3


def test_h2_request_trailers_are_forwarded_as_trailers(tmp_path, procs):
    up = StreamingUpstream()
    g = procs.gantry(tmp_path, config(up))
    status, _ = upload(g.port, "s.test", [b"hello"], 0, trailers=[("x-checksum", "abc"), ("grpc-timeout", "5S")])
    assert status == 200
    head, body, _, trailers = up.requests[-1]
    assert body == b"hello"
    assert b"x-checksum: abc" in trailers and b"grpc-timeout: 5S" in trailers
    assert b"x-checksum" not in head  # not folded into the headers (libh2o 2.2.5 did)


def test_h2_body_is_collected_for_a_retry_route(tmp_path, procs):
    up = StreamingUpstream()
    g = procs.gantry(tmp_path, config(up))
    pieces = [b"a" * 300, b"b" * 300]
    status, last = upload(g.port, "retry.test", pieces, 0.4)
    assert status == 200
    head, body, first, _ = up.requests[-1]
    assert body == b"".join(pieces) and b"content-length: 600" in head.lower()
    assert first >= last - 0.05  # nothing before the whole body was there


def test_h2_client_reset_mid_upload_frees_the_upstream_request(tmp_path, procs):
    up = StreamingUpstream()
    g = procs.gantry(tmp_path, config(up))
    c = H2Client(g.port)
    sid = c.request("/up", "s.test", method="POST", end_stream=False)
    c.conn.send_data(sid, b"z" * 1000)
    c.flush()
    time.sleep(0.3)
    c.conn.reset_stream(sid)
    c.flush()
    time.sleep(0.3)
    # the connection and the proxy serve on
    sid = c.request("/", "s.test")
    assert c.response(sid)[0] == 200
    c.close()
    assert get(g.port, "/", "s.test")[0] == 200


def test_h2_slow_upstream_holds_the_client_window(tmp_path, procs):
    """Back-pressure: an upstream that does not read keeps the client's
    stream window closed instead of Gantry buffering the upload."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(lsock.accept()[0]), daemon=True).start()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`s.test`)\", service: s}\n"
                     "  services:\n" + service_yaml("s", ["http://127.0.0.1:%d" % lsock.getsockname()[1]]))
    c = H2Client(g.port)
    sid = c.request("/up", "s.test", method="POST", end_stream=False)
    sent = 0
    deadline = time.time() + 10
    chunk = b"q" * 16384
    while time.time() < deadline:
        window = min(c.conn.local_flow_control_window(sid), len(chunk))
        if window <= 0:
            # wait for WINDOW_UPDATEs that should not come beyond what the socket buffers take
            try:
                evs = c.events(timeout=1.0)
            except socket.timeout:
                break
            if not any(isinstance(e, h2.events.WindowUpdated) for e in evs):
                break
            continue
        c.conn.send_data(sid, chunk[:window])
        c.flush()
        sent += window
    c.close()
    print("sent before the window closed: %d bytes" % sent)
    # what the kernel's socket buffers hold plus the stream window (1 MiB),
    # not the whole upload: 64 MiB would have gone through without back-pressure
    assert sent < 16 * 1024 * 1024, sent
