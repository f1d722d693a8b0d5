"""WebSocket over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL
advertised, an extended CONNECT (`:protocol: websocket`, raw frames) carried
to an HTTP/1.1 WebSocket upstream as a GET with Upgrade, the edge cases, and
headless Chromium opening a WebSocket from a page it loaded over HTTP/2 TLS.

GANTRY_TEST_STANDIN=haproxy runs the same tests through HAProxy (which implements
RFC 8441) to validate them; the default is gantry."""
import asyncio
import http
import os
import struct
import subprocess
import threading

import pytest

from conftest import ROOT, SLOW, Process, free_port, wait_for, wait_port
from h2_raw import (DATA, END_HEADERS, GOAWAY, HEADERS, PROTOCOL_ERROR, REFUSED_STREAM, RST_STREAM,
                    SETTINGS_ENABLE_CONNECT_PROTOCOL, frame, hpack_headers, raw_connect)
from tls_certs import make_cert

PROXY = os.environ.get("GANTRY_TEST_STANDIN") or "gantry"
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
PAGE = b"<!doctype html><title>ws over h2</title><p>gantry</p>"


class WsUpstream:
    """python3-websockets echo server in a thread, recording each handshake
    request it gets (an HTTP/1.1 GET with Upgrade, or it would not get
    here); plain GETs get a small HTML page (the browser test loads it),
    an Upgrade to anything else a 400."""

    def __init__(self):
        import websockets
        self.port = free_port()
        self.handshakes = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def echo(ws, path=None):
            async for msg in ws:
                await ws.send(msg)

        def process_request(path, headers):
            upgrade = headers.get("Upgrade", "").lower()
            if upgrade and upgrade != "websocket":
                return http.HTTPStatus.BAD_REQUEST, [("Content-Length", "0")], b""
            if not upgrade:
                return http.HTTPStatus.OK, [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))], PAGE
            self.handshakes.append((path, dict((k.lower(), v) for k, v in headers.raw_items())))
            return None

        async def main():
            self.server = await websockets.serve(echo, "127.0.0.1", self.port, process_request=process_request)
            ready.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(main())
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def env(tmp_path, procs):
    up = WsUpstream()
    d = str(tmp_path)
    cert = make_cert(d, "ws.test", ips=("127.0.0.1",))

    class E:
        upstream = up
        ca = os.path.join(d, "ca.crt")
    if PROXY == "gantry":
        dyn = ("http:\n  routers:\n"
               "    ws:\n      rule: \"Host(`ws.test`)\"\n      service: ws\n"
               "    ws-tls:\n      rule: \"Host(`ws.test`)\"\n      service: ws\n      tls: {}\n"
               "  services:\n    ws:\n      loadBalancer:\n        servers:\n"
               "          - url: \"http://127.0.0.1:%d\"\n" % up.port
               + "tls:\n  certificates:\n    - certFile: %s\n      keyFile: %s\n" % cert)
        g = procs.gantry(tmp_path, dyn)
        E.h2c_port = E.tls_port = g.port
    elif PROXY == "haproxy":
        E.h2c_port, E.tls_port = free_port(), free_port()
        pem = os.path.join(d, "haproxy.pem")
        with open(pem, "w") as out:
            out.write(open(cert[0]).read() + open(cert[1]).read())
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
                    "  timeout tunnel 30s\nfrontend fe\n  bind 127.0.0.1:%d\n  bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1\n"
                    "  default_backend be\nbackend be\n  server up 127.0.0.1:%d\n" % (E.h2c_port, E.tls_port, pem, up.port))
        procs.add(Process(["haproxy", "-f", cfg, "-db"], "haproxy"))
        wait_port(E.h2c_port)
        wait_port(E.tls_port)
    else:
        pytest.skip("GANTRY_TEST_STANDIN=%s: not a stand-in for these tests" % PROXY)
    yield E
    up.stop()


def connect(env, mode):
    port = env.tls_port if mode == "tls" else env.h2c_port
    s, fr = raw_connect(port, mode, env.ca, "ws.test")
    return s, fr


def settled(fr):
    from h2_raw import ACK, SETTINGS
    assert fr.until(lambda f: f[0] == SETTINGS and f[1] & ACK, 5 * SLOW) is not None


def connect_headers(mode, protocol="websocket", path="/echo", extra=()):
    h = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "https" if mode == "tls" else "http"),
         (":path", path), (":authority", "ws.test"), ("sec-websocket-version", "13")]
    return [x for x in h if protocol is not None or x[0] != ":protocol"] + list(extra)


def ws_frame(opcode, payload, mask=b"\x11\x22\x33\x44"):
    """A client (masked) WebSocket frame, FIN set (RFC 6455 §5.2)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(buf):
    """(list of (opcode, payload)) from server (unmasked) frames in <buf>, rest."""
    out = []
    while len(buf) >= 2:
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        i = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, i = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, i = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < i + n:
            break
        out.append((op, buf[i:i + n]))
        buf = buf[i + n:]
    return out, buf


def status_or_reset(fr, sid):
    """(':status' or None, RST_STREAM/GOAWAY error code or None)."""
    f = fr.until(lambda f: (f[2] == sid and f[0] in (HEADERS, RST_STREAM)) or f[0] == GOAWAY, 5 * SLOW)
    assert f is not None, "no answer on stream %d" % sid
    if f[0] == HEADERS:
        return dict(fr.headers_of(f)).get(":status"), None
    code = struct.unpack(">I", f[3][-4:] if f[0] == RST_STREAM else f[3][4:8])[0]
    return None, code


@pytest.mark.parametrize("mode", ["h2c", "tls"])
def test_rfc8441_3_settings_enable_connect_protocol_is_advertised(env, mode):
    s, fr = connect(env, mode)
    settled(fr)
    assert fr.server_settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1, fr.server_settings
    s.close()


@pytest.mark.parametrize("mode", ["h2c", "tls"])
def test_rfc8441_4_extended_connect_reaches_an_http1_websocket_upstream(env, mode):
    s, fr = connect(env, mode)
    settled(fr)
    fr.send(frame(HEADERS, END_HEADERS, 1, hpack_headers(connect_headers(mode, path="/echo?m=" + mode,
                                                                         extra=[("origin", "https://ws.test")]))))
    status, code = status_or_reset(fr, 1)
    assert status == "200", (status, code)
    big = os.urandom(70000)
    fr.send(frame(DATA, 0, 1, ws_frame(0x1, b"hello over h2") + ws_frame(0x2, b"\x00\x01binary")))
    for i in range(0, len(big) + 14, 16000):  # within the initial stream window, in frames of 16000
        chunk = ws_frame(0x2, big)[i:i + 16000]
        if chunk:
            fr.send(frame(DATA, 0, 1, chunk))
    buf, got = b"", []
    while len(got) < 3:
        f = fr.until(lambda f: f[2] == 1 and f[0] in (DATA, RST_STREAM, HEADERS), 10 * SLOW)
        assert f is not None and f[0] == DATA, "tunnel ended early: %r (got %r)" % (f, got)
        buf += f[3]
        msgs, buf = ws_parse(buf)
        got += msgs
        from h2_raw import WINDOW_UPDATE
        fr.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(f[3]) or 1)),
                frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", len(f[3]) or 1)))
    assert got[0] == (0x1, b"hello over h2") and got[1] == (0x2, b"\x00\x01binary"), got[:2]
    assert got[2] == (0x2, big)
    # a close frame comes back as a close, and the stream ends
    fr.send(frame(DATA, 0, 1, ws_frame(0x8, struct.pack(">H", 1000))))
    f = fr.until(lambda f: f[2] == 1 and f[0] == DATA and f[3][:1] == b"\x88", 5 * SLOW)
    assert f is not None, "no close frame echoed"
    s.close()
    path, headers = [h for h in env.upstream.handshakes if h[0] == "/echo?m=" + mode][0]
    assert headers["upgrade"].lower() == "websocket" and "upgrade" in headers["connection"].lower(), headers
    assert headers["sec-websocket-version"] == "13" and len(headers.get("sec-websocket-key", "")) == 24, headers
    assert headers.get("host", "").startswith("ws.test"), headers


def refused(env, headers, what):
    s, fr = connect(env, "h2c")
    settled(fr)
    before = len(env.upstream.handshakes)
    fr.send(frame(HEADERS, END_HEADERS, 1, hpack_headers(headers)))
    status, code = status_or_reset(fr, 1)
    s.close()
    # refused before it reaches the upstream: malformed (PROTOCOL_ERROR), REFUSED_STREAM, or a 4xx/501
    assert code in (PROTOCOL_ERROR, REFUSED_STREAM, None), "%s: reset with %s" % (what, code)
    assert status is None or status[0] in "45", "%s: answered %s" % (what, status)
    assert len(env.upstream.handshakes) == before, "%s reached the upstream" % what


def test_rfc8441_4_connect_with_path_but_no_protocol_is_malformed(env):
    """Without :protocol a CONNECT is RFC 9113 §8.5's, which has no :scheme
    and :path: with them it is malformed."""
    refused(env, connect_headers("h2c", protocol=None), "CONNECT with :path, no :protocol")


def test_rfc8441_4_unknown_protocol_is_refused(env):
    refused(env, connect_headers("h2c", protocol="not-a-protocol"), ":protocol not-a-protocol")


def test_rfc8441_4_protocol_on_a_get_is_malformed(env):
    h = [(":method", "GET") if k == ":method" else (k, v) for k, v in connect_headers("h2c")]
    refused(env, h, ":protocol on a GET")


def test_rfc9113_8_5_plain_connect_is_not_a_tunnel(env):
    """A CONNECT without :protocol asks for a TCP tunnel (forward proxying),
    which a reverse proxy does not offer: refused, nothing reaches the upstream."""
    refused(env, [(":method", "CONNECT"), (":authority", "127.0.0.1:%d" % env.upstream.port)], "plain CONNECT")


def test_rfc8441_5_websocket_from_chromium_over_the_pages_http2_connection(env, tmp_path):
    if not (os.path.exists("/usr/bin/chromium") and os.path.isdir(os.path.join(BROWSER_DIR, "node_modules",
                                                                                "playwright-core"))):
        msg = "needs Debian's chromium and `npm ci` in tests/browser"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    netlog = str(tmp_path / "netlog.json")
    url = "https://ws.test:%d/" % env.tls_port
    p = subprocess.run(["node", "ws_h2.mjs", url, "ws.test:%d" % env.tls_port, netlog], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=90 * SLOW)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert 'echo: ["hello over h2","second"]' in out, out
    assert "page protocol: h2" in out, out
    wait_for(lambda: env.upstream.handshakes, 5, what="upstream handshake")
    path, headers = env.upstream.handshakes[-1]
    assert path == "/echo" and headers["upgrade"].lower() == "websocket", headers
    # the net log shows the WebSocket went as an extended CONNECT on an HTTP/2 stream
    with open(netlog) as f:
        log = f.read()
    assert ":protocol: websocket" in log, \
        "Chromium opened the WebSocket on a new HTTP/1.1 connection, not the page's HTTP/2 one"
