"""Slow and stalled clients, against the real binary: slowloris heads are
cut at the header deadline while others keep their latency, slow but
steady uploads complete, stalled uploads and trickling HTTP/2 connections
are cut, and a client that stops reading is cut without the proxy
buffering the response.
"""
import hashlib
import itertools
import json
import socket
import threading
import time

from attack import H2Client, metric, rss_kib, trickle_until_closed, wrk
from conftest import SLOW, Nginx, get, service_yaml, wait_for


def route(url, host="c.test"):
    return ("http:\n  routers:\n    r: {rule: \"Host(`%s`)\", service: s}\n  services:\n" % host +
            service_yaml("s", [url]))


def wrk_p99_ms(port, host, seconds=3):
    r = wrk(port, host, seconds)
    assert r["non2xx"] == 0 and r["socket_errors"] is None, r["output"]
    return r["p99_ms"], r["requests"]


def median_p99_ms(port, host, runs=3, seconds=2):
    """The median p99 of a few short runs: one run's p99 on a shared
    2-core machine swings by a millisecond on its own."""
    results = [wrk_p99_ms(port, host, seconds) for _ in range(runs)]
    return sorted(p for p, _ in results)[runs // 2], sum(n for _, n in results)


def test_slowloris_heads_are_cut_while_others_keep_their_latency(tmp_path, procs):
    ng = procs.add(Nginx(tmp_path))
    # the deadline leaves room for three measurements under attack
    g = procs.gantry(tmp_path, route(ng.url), args=["--entryPoints.web.transport.respondingTimeouts.readTimeout=10s"])
    base_p99, base_n = median_p99_ms(g.port, "c.test")

    n = 1000
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: c.test\r\nX-Slow: ")
        socks.append(s)
    stop = threading.Event()

    def trickle():  # one byte per connection every 2 s: the head never ends
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            stop.wait(2)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    t0 = time.time()
    wait_for(lambda: metric(g, "gantry_open_connections") >= n, 10, what="all slowloris connections open")
    loaded_p99, loaded_n = median_p99_ms(g.port, "c.test")
    print("slowloris: %d connections; median p99 of 3 runs: unloaded %.2f ms (%d requests), under attack %.2f ms "
          "(%d requests)"
          % (n, base_p99, base_n, loaded_p99, loaded_n))
    # Others keep being served (wrk_p99_ms: no error, no non-2xx) and are
    # not starved: a loop stalled by the 1,000 heads would show tens of ms.
    # The latency goal itself (within a millisecond of unloaded, as nginx)
    # is measured side by side in bench/slowloris_latency.py: one p99 on a
    # shared 2-core machine swings from 0.3 to 3.5 ms on its own.
    assert loaded_p99 <= base_p99 + 50, (base_p99, loaded_p99)

    # every slowloris connection is cut at the header deadline (10 s, swept each second)
    wait_for(lambda: metric(g, "gantry_connections_closed_total", reason="header_timeout") >= n, 20,
             what="slowloris connections cut")
    elapsed = time.time() - t0
    stop.set()
    t.join()
    closed = 0
    for s in socks:
        s.settimeout(2)
        try:
            while s.recv(4096):
                pass
            closed += 1
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        except socket.timeout:
            pass
        s.close()
    print("slowloris: %d of %d connections cut by the server after %.1f s" % (closed, n, elapsed))
    assert closed == n
    assert 10 <= elapsed < 18 * SLOW
    assert get(g.port, "/", "c.test")[0] == 200


def upload_config(procs, tmp_path, extra=()):
    up = procs.whoami()
    return procs.gantry(tmp_path, route(up.url), args=[
        "--entryPoints.web.transport.respondingTimeouts.readTimeout=2s",
        "--entryPoints.web.transport.respondingTimeouts.bodyMinRate=65536",
        "--entryPoints.web.transport.respondingTimeouts.bodyRateWindow=2s"] + list(extra))


def test_slow_steady_upload_completes(tmp_path, procs):
    """4 MB at 500 KB/s takes 8 s, four times the header deadline: a slow
    upload is not an attack (libh2o alone cuts it at readTimeout)."""
    g = upload_config(procs, tmp_path)
    body = bytes(range(256)) * (4 * 1024 * 1024 // 256)
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: c.test\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    t0 = time.time()
    step = 50 * 1024
    for i in range(0, len(body), step):  # 50 KiB every 100 ms
        s.sendall(body[i:i + step])
        time.sleep(max(0.0, t0 + (i + step) / 512000 - time.time()))
    s.settimeout(10 * SLOW)
    resp = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        resp += d
    elapsed = time.time() - t0
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    res = json.loads(resp.split(b"\r\n\r\n", 1)[1])
    assert res["length"] == len(body) and res["sha256"] == hashlib.sha256(body).hexdigest()
    print("slow upload: %d bytes in %.1f s completed" % (len(body), elapsed))
    assert elapsed > 6
    assert metric(g, "gantry_connections_closed_total", reason="body_rate") == 0


def cut_after(g, s, reason, limit):
    """Seconds until the server closed <s>; checks the metric."""
    t0 = time.time()
    s.settimeout(limit * SLOW)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    elapsed = time.time() - t0
    s.close()
    assert metric(g, "gantry_connections_closed_total", reason=reason) >= 1
    return elapsed


def test_stalled_upload_is_cut(tmp_path, procs):
    g = upload_config(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: c.test\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 200000)
    elapsed = cut_after(g, s, "body_rate", 10)
    print("stalled upload cut after %.1f s" % elapsed)
    assert 2 <= elapsed < 6 * SLOW
    assert get(g.port, "/", "c.test")[0] == 200


def test_trickled_upload_is_cut(tmp_path, procs):
    """1 KiB/s, under the 64 KiB/s minimum: cut even though bytes keep coming."""
    g = upload_config(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: c.test\r\nContent-Length: 1000000\r\n\r\n")
    closed_at = trickle_until_closed(s, itertools.repeat(b"y" * 256), gap=0.25, limit=10)
    print("trickled upload cut after %s s" % closed_at)
    assert closed_at is not None and 2 <= closed_at < 6 * SLOW
    assert metric(g, "gantry_connections_closed_total", reason="body_rate") >= 1


def test_http2_trickle_is_cut_at_the_idle_timeout(tmp_path, procs):
    """libh2o restarts its HTTP/2 idle timer on every byte; a partial frame
    trickled one byte a second must not hold the connection."""
    up = procs.whoami()
    g = procs.gantry(tmp_path, route(up.url), args=[
        "--entryPoints.web.transport.respondingTimeouts.idleTimeout=3s",
        "--entryPoints.web.transport.respondingTimeouts.bodyRateWindow=1s"])
    c = H2Client(g.port)
    status, _, _ = c.response(c.request("/", "c.test"))
    assert status == 200
    frame = b"\x00\x00\x10\x00\x01\x00\x00\x00\x03" + b"z" * 16  # a DATA frame, one byte at a time
    closed_at = trickle_until_closed(c.sock, (bytes([b]) for b in frame), gap=1.0)
    print("HTTP/2 trickle cut after %s s" % closed_at)
    assert closed_at is not None and 2.5 <= closed_at < 8 * SLOW
    assert metric(g, "gantry_connections_closed_total", reason="idle") >= 1


class BigUpstream:
    """Answers every request with <size> bytes, as fast as it is read."""

    def __init__(self, size):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.size = size
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size)
            block = b"\0" * (1 << 20)
            left = self.size
            while left:
                n = min(left, len(block))
                c.sendall(block[:n])
                left -= n
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def test_client_that_stops_reading_is_cut_without_buffering_the_response(tmp_path, procs):
    big = BigUpstream(500 * 1024 * 1024)
    g = procs.gantry(tmp_path, route(big.url), args=[
        "--entryPoints.web.transport.respondingTimeouts.writeTimeout=3s"])
    rss0 = rss_kib(g.proc.pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", g.port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: c.test\r\n\r\n")
    time.sleep(2)
    rss1 = rss_kib(g.proc.pid)
    t0 = time.time()
    wait_for(lambda: metric(g, "gantry_connections_closed_total", reason="write_stall") >= 1, 10,
             what="the stalled reader cut")
    print("non-reading client: cut %.1f s after the check; gantry RSS %d -> %d KiB while it stalled"
          % (time.time() - t0, rss0, rss1))
    assert rss1 - rss0 < 32 * 1024  # not the 500 MB response
    s.close()
    big.stop()


def test_http2_client_that_withholds_window_updates_is_cut(tmp_path, procs):
    """The socket is not writing (flow control holds the data), so only the
    stalled send itself reveals the client."""
    big = BigUpstream(50 * 1024 * 1024)
    g = procs.gantry(tmp_path, route(big.url), args=[
        "--entryPoints.web.transport.respondingTimeouts.writeTimeout=2s"])
    c = H2Client(g.port)
    sid = c.request("/", "c.test")
    got = 0
    t0 = time.time()
    c.sock.settimeout(1)
    while time.time() - t0 < 15 * SLOW:
        try:
            d = c.sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not d:
            break
        for e in c.conn.receive_data(d):  # never acknowledged: no WINDOW_UPDATE
            if hasattr(e, "data") and getattr(e, "stream_id", None) == sid:
                got += len(e.data)
    elapsed = time.time() - t0
    c.close()
    print("HTTP/2 window withheld: %d bytes received, cut after %.1f s" % (got, elapsed))
    assert got <= 65535 and elapsed < 10 * SLOW
    assert metric(g, "gantry_connections_closed_total", reason="write_stall") >= 1
    big.stop()
