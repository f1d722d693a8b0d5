"""Helpers for the attack and fault tests: an upstream that records the
exact bytes it receives, raw HTTP/1.1 and HTTP/2 clients, and metric reads.
"""
import re
import socket
import subprocess
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

from conftest import PYTHON, SLOW, Process, wait_port


class _Recorded(list):
    """Recorded requests, with the trailer section of each (b"" when none)
    in .trailers, cleared together."""

    def __init__(self):
        super().__init__()
        self.trailers = []

    def clear(self):
        super().clear()
        self.trailers.clear()


class RecordingUpstream:
    """A raw HTTP/1.1 upstream on loopback. Records every request head and
    body it receives (exactly as sent), counts connections, answers 200 "ok"
    with keep-alive, optionally after <delay> seconds."""

    def __init__(self, delay=0.0, body=b"ok", port=0, record=True):
        self.delay = delay
        self.body = body
        self.record = record
        self.requests = _Recorded()  # (head bytes, body bytes); .trailers alongside
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                trailers = b""
                if re.search(rb"\r\ntransfer-encoding: *chunked", head, re.I):
                    got = self._read_chunked(c, buf)
                    if got is None:
                        return
                    body, trailers, buf = got
                else:
                    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
                    n = int(m.group(1)) if m else 0
                    while len(buf) < n:
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    body, buf = buf[:n], buf[n:]
                if self.record:
                    with self.lock:
                        self.requests.append((head, body))
                        self.requests.trailers.append(trailers)
                if self.delay:
                    time.sleep(self.delay)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.body) + self.body)
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def _read_chunked(c, buf):
        """Decodes a chunked body (RFC 9112 7.1) from <buf> and the socket;
        returns (body, trailer section, what follows) or None when the peer
        closed first."""
        def need(pred):
            nonlocal buf
            while not pred():
                d = c.recv(65536)
                if not d:
                    return False
                buf += d
            return True
        body = b""
        while True:
            if not need(lambda: b"\r\n" in buf):
                return None
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            if not need(lambda: len(buf) >= size + 2):
                return None
            body, buf = body + buf[:size], buf[size + 2:]
        if buf.startswith(b"\r\n") or (not buf and need(lambda: len(buf) >= 2) and buf.startswith(b"\r\n")):
            return body, b"", buf[2:]
        if not need(lambda: b"\r\n\r\n" in buf):
            return None
        trailers, buf = buf.split(b"\r\n\r\n", 1)
        return body, trailers, buf

    def request_lines(self):
        with self.lock:
            return [h.split(b"\r\n", 1)[0].decode(errors="replace") for h, _ in self.requests]

    def stop(self):
        self.stopped = True
        self.sock.close()


def raw_exchange(port, data, timeout=3.0, host="127.0.0.1"):
    """Sends <data> on a fresh connection, returns everything read until the
    server closes (or the timeout)."""
    s = socket.create_connection((host, port), timeout=timeout * SLOW)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def trickle_until_closed(sock, pieces, gap, limit=None):
    """Sends <pieces> one at a time, each followed by up to <gap> seconds
    of waiting for the server to close; stops after <limit> seconds (or
    when the pieces run out). Returns the seconds until the server closed
    the connection, or None. Closes <sock>."""
    t0 = time.time()
    closed_at = None
    for piece in pieces:
        if limit is not None and time.time() - t0 > limit * SLOW:
            break
        try:
            sock.sendall(piece)
            sock.settimeout(gap)
            if sock.recv(4096) == b"":
                closed_at = time.time() - t0
                break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed_at = time.time() - t0
            break
    sock.close()
    return closed_at


def status_of(response):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    return int(m.group(1)) if m else None


def metrics(g):
    status, body = g.admin("/metrics")
    assert status == 200
    return body.decode()


def metric(g, name, **labels):
    """Sum of the samples of <name> whose labels include <labels>."""
    total = 0.0
    found = False
    for line in metrics(g).splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:]+)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    assert found, "no metric %s%r" % (name, labels)
    return total


class H2Client:
    """A raw HTTP/2 (h2c prior knowledge) client on a socket, for frames a
    normal client never sends."""

    def __init__(self, port, validate=True, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW)
        cfg = h2.config.H2Configuration(client_side=True, validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate, validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.closed = False
        self.streams = {}
        self.auto_ack = True

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, authority, method="GET", extra=(), end_stream=True):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http"), (":authority", authority)] + list(extra)
        self.conn.send_headers(sid, headers, end_stream=end_stream)
        self.flush()
        return sid

    def events(self, timeout=5.0):
        """Reads once; returns the h2 events ([] with closed=True on EOF).
        Responses are also filed per stream for response()."""
        self.sock.settimeout(timeout * SLOW)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return []
        ev = self.conn.receive_data(data)
        for e in ev:
            sid = getattr(e, "stream_id", None)
            if isinstance(e, h2.events.ResponseReceived):
                self.streams.setdefault(sid, {})["status"] = int(dict(e.headers)[b":status"])
            elif isinstance(e, h2.events.DataReceived):
                st = self.streams.setdefault(sid, {})
                st["body"] = st.get("body", b"") + e.data
                if self.auto_ack:
                    self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamEnded):
                self.streams.setdefault(sid, {})["end"] = None
            elif isinstance(e, h2.events.StreamReset):
                self.streams.setdefault(sid, {})["end"] = e.error_code
        self.flush()
        return ev

    def response(self, sid, timeout=5.0):
        """(status, body, reset error code or None) of stream <sid>."""
        deadline = time.time() + timeout * SLOW
        while "end" not in self.streams.get(sid, {}) and time.time() < deadline and not self.closed:
            try:
                self.events(max(0.05, deadline - time.time()) / SLOW)
            except socket.timeout:
                break
        st = self.streams.get(sid, {})
        end = st.get("end", "closed" if self.closed else "timeout")
        return st.get("status"), st.get("body", b""), end

    def close(self):
        self.sock.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def parse_wrk(out):
    """wrk's report: requests, non2xx, socket_errors (text or None), p99_ms
    (with --latency), output."""
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_errors = re.search(r"Socket errors: (.*)", out)
    total = re.search(r"(\d+) requests in", out)
    assert total, out
    return {"requests": int(total.group(1)),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sock_errors.group(1) if sock_errors else None,
            "p99_ms": float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else None,
            "output": out}


def wrk_background(port, host, seconds, connections=8, path="/"):
    """Starts wrk (GETs); returns a function that waits for it and parses
    its report."""
    p = subprocess.Popen(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-H", "Host: " + host,
                          "http://127.0.0.1:%d%s" % (port, path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return lambda: parse_wrk(p.communicate(timeout=seconds + 60)[0].decode())


def wrk(port, host, seconds=3, connections=4, path="/"):
    return wrk_background(port, host, seconds, connections, path)()


class UpstreamProcess(Process):
    """A RecordingUpstream in its own process, to kill -9."""

    def __init__(self, port, body):
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        super().__init__([PYTHON, __file__, "upstream", str(port), body], "upstream")
        wait_port(port)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "upstream":
    RecordingUpstream(port=int(sys.argv[2]), body=sys.argv[3].encode(), record=False)
    while True:
        time.sleep(3600)
