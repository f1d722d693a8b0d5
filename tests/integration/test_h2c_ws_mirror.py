"""Issue 16 leftovers for h2c:// servers: a WebSocket to an h2c:// server
is an HTTP/1.1 Upgrade to the same host:port (h2c servers that serve
WebSocket speak HTTP/1.1 there too; RFC 8441 to the upstream is not
used), from HTTP/1.1 and HTTP/2 (RFC 8441) clients; mirror copies to an
h2c:// shadow go over HTTP/2, multiplexed on the worker's connection to
it, with per-mirror statistics. Real peers: python3-h2 (HTTP/2 side) and
python3-websockets (HTTP/1.1 side) behind one port that tells them apart
by the client preface, as a dual-protocol server does."""
import asyncio
import os
import socket
import struct
import threading

import pytest
import websockets

from attack import RecordingUpstream, metric
from conftest import SLOW, get, service_yaml, wait_for
from h2_peers import H2Upstream
from h2_raw import DATA, END_HEADERS, HEADERS, frame, hpack_headers, raw_connect
from test_ws_h2 import WsUpstream, connect_headers, settled, status_or_reset, ws_frame, ws_parse

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class DualServer:
    """One port: connections that open with the HTTP/2 preface go to an
    H2Upstream, the others (HTTP/1.1) to a WebSocket server; counted."""

    def __init__(self, h2_port, h1_port):
        self.targets = {"h2": h2_port, "h1": h1_port}
        self.seen = {"h2": 0, "h1": 0}
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.url = "h2c://127.0.0.1:%d" % self.port
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        first = b""
        while len(first) < len(PREFACE) and PREFACE.startswith(first):
            d = c.recv(len(PREFACE) - len(first))
            if not d:
                c.close()
                return
            first += d
        kind = "h2" if first == PREFACE else "h1"
        with self.lock:
            self.seen[kind] += 1
        b = socket.create_connection(("127.0.0.1", self.targets[kind]))
        b.sendall(first)
        threading.Thread(target=self.pump, args=(c, b), daemon=True).start()
        self.pump(b, c)

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self.lsock.close()


@pytest.fixture
def dual(tmp_path, procs):
    h2up, ws = H2Upstream("dual"), WsUpstream()
    d = DualServer(h2up.port, ws.port)
    cfg = ("http:\n  routers:\n    ws: {rule: \"Host(`ws.test`)\", service: ws}\n"
           "  services:\n" + service_yaml("ws", [d.url]))
    g = procs.gantry(tmp_path, cfg)
    wait_for(lambda: get(g.port, "/", "ws.test")[0] == 200, what="route live")
    yield g, d, h2up, ws
    d.stop()
    ws.stop()
    h2up.stop()


def test_websocket_from_http1_client_to_an_h2c_server(dual):
    g, d, h2up, ws = dual
    assert get(g.port, "/", "ws.test")[2] == b"h2 ok from dual"  # plain requests: HTTP/2
    h1_before = d.seen["h1"]

    async def talk():
        async with websockets.connect("ws://ws.test:%d/echo" % g.port, host="127.0.0.1", port=g.port,
                                      max_size=4 * 1024 * 1024) as c:
            for i in range(20):
                await c.send("message %d" % i)
                assert await c.recv() == "message %d" % i
            blob = os.urandom(300000)
            await c.send(blob)
            assert await c.recv() == blob
    asyncio.run(asyncio.wait_for(talk(), 20 * SLOW))
    assert d.seen["h1"] == h1_before + 1 and d.seen["h2"] >= 1, d.seen  # the Upgrade went over HTTP/1.1
    path, headers = ws.handshakes[-1]
    assert path == "/echo" and headers["upgrade"].lower() == "websocket", headers
    assert headers.get("host", "").startswith("ws.test"), headers


def test_websocket_from_http2_client_rfc8441_to_an_h2c_server(dual):
    g, d, h2up, ws = dual
    s, fr = raw_connect(g.port, "h2c", None, "ws.test")
    settled(fr)
    fr.send(frame(HEADERS, END_HEADERS, 1, hpack_headers(connect_headers("h2c", path="/echo?h2"))))
    status, code = status_or_reset(fr, 1)
    assert status == "200", (status, code)
    fr.send(frame(DATA, 0, 1, ws_frame(0x1, b"over h2 to h2c")))
    buf, got = b"", []
    while not got:
        f = fr.until(lambda f: f[2] == 1 and f[0] in (DATA,), 10 * SLOW)
        assert f is not None, "no echo"
        buf += f[3]
        got, buf = ws_parse(buf)
    assert got[0] == (0x1, b"over h2 to h2c")
    s.close()
    assert [h for h in ws.handshakes if h[0] == "/echo?h2"], ws.handshakes


def mirror_stats(g, name):
    svc = g.api("/api/http/services/mirrored@file")
    return {m["name"]: m for m in svc["mirroring"]["mirrors"]}[name]["stats"]


def test_mirror_copies_to_an_h2c_shadow_go_over_http2(tmp_path, procs):
    main, shadow = RecordingUpstream(), H2Upstream("shadow")
    try:
        cfg = ("http:\n  routers:\n    r: {rule: \"Host(`m.test`)\", service: mirrored}\n"
               "  services:\n    mirrored:\n      mirroring:\n        service: main\n"
               "        mirrors:\n          - {name: shadow, percent: 50}\n"
               + service_yaml("main", [main.url]) + service_yaml("shadow", [shadow.url]))
        g = procs.gantry(tmp_path, cfg, workers=1)
        n = 200
        for i in range(n):
            status, _, body = get(g.port, "/item/%d?q=1" % i, "m.test", method="POST", body=b"payload %d" % i)
            assert status == 200 and body == b"ok"
            if i % 50 == 49:  # fewer copies in flight than gantry's cap (64, then dropped), however slow the shadow
                wait_for(lambda: mirror_stats(g, "shadow@file")["requests"] >= (i + 1) // 2, timeout=10 * SLOW,
                         what="copies caught up")
        try:
            wait_for(lambda: mirror_stats(g, "shadow@file")["requests"] >= 100, timeout=10 * SLOW, what="copies answered")
        except AssertionError as e:  # what each side saw, for a failure on a loaded machine
            raise AssertionError("%s; gantry: %r; the shadow: %d connections, %d streams, %d bodies\n%s" % (
                e, mirror_stats(g, "shadow@file"), shadow.connections, shadow.streams, len(shadow.bodies_seen),
                g.output()[-3000:]))
        st = mirror_stats(g, "shadow@file")
        assert st["requests"] == 100 and st["responses"]["2xx"] == 100, st
        assert st["upstreamErrors"] == 0 and st["dropped"] == 0, st
        assert metric(g, "gantry_mirror_requests_total", service="mirrored@file", mirror="shadow@file",
                      code_class="2xx") == 100
        # the shadow saw HTTP/2 streams, the same request, body included, on one connection (one worker)
        assert shadow.streams == 100 and shadow.connections == 1, (shadow.streams, shadow.connections)
        bodies = dict(shadow.bodies_seen)
        assert len(bodies) == 100, sorted(bodies)[:5]
        for path, body in bodies.items():
            assert body == b"payload " + path.split("/")[2].split("?")[0].encode(), (path, body)
        seen = dict(shadow.headers_seen[0])
        assert seen[":method"] == "POST" and seen[":authority"] == "m.test", seen
        assert seen.get("x-forwarded-for") == "127.0.0.1" and "connection" not in seen, seen
    finally:
        shadow.stop()


def test_mirror_copies_reset_or_refused_by_h2c_shadows_count_as_errors(tmp_path, procs):
    main, shadow = RecordingUpstream(), H2Upstream("rst")
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = "h2c://127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()  # nothing listens there: connection refused
    try:
        cfg = ("http:\n  routers:\n    r: {rule: \"Host(`m.test`)\", service: mirrored}\n"
               "  services:\n    mirrored:\n      mirroring:\n        service: main\n"
               "        mirrors:\n          - {name: rst, percent: 100}\n          - {name: dead, percent: 100}\n"
               + service_yaml("main", [main.url]) + service_yaml("rst", [shadow.url]) + service_yaml("dead", [dead_url]))
        g = procs.gantry(tmp_path, cfg, workers=1)
        for i in range(5):
            status, _, body = get(g.port, "/rst", "m.test")
            assert (status, body) == (200, b"ok")  # the main answer, whatever the shadows do
        wait_for(lambda: mirror_stats(g, "rst@file")["upstreamErrors"] == 5
                 and mirror_stats(g, "dead@file")["upstreamErrors"] == 5, timeout=10 * SLOW, what="errors counted")
        assert shadow.streams == 5 and shadow.cancelled == 0
        assert mirror_stats(g, "rst@file")["requests"] == 0
        # the server still serves the following copies on its connection
        assert get(g.port, "/", "m.test")[0] == 200
        wait_for(lambda: mirror_stats(g, "rst@file")["requests"] == 1, what="a copy answered")
    finally:
        shadow.stop()
