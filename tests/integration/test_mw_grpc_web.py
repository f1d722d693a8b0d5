"""grpcWeb against a real gRPC upstream (grpc_peers.py over h2c): gRPC-Web
calls by curl over HTTP/1.1 and HTTP/2 (prior knowledge), binary and -text,
unary and server-streaming; the response body's frames decoded, the trailer
frame (flag 0x80) carrying grpc-status and the server's trailing metadata
(and no HTTP trailers); an error status; CORS preflight and Allow-Origin;
a plain request passes untouched."""
import base64
import os
import struct
import subprocess

import pytest

from conftest import free_port, run_dir, wait_for
from module_procs import ModuleProcs
from grpc_peers import EchoServer, stubs

pb, pb_grpc = stubs(os.path.join(run_dir(), "grpc-stubs"))
STUB_DIR = os.path.join(run_dir(), "grpc-stubs")
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grpcweb")
    procs = ModuleProcs()
    try:
        server = EchoServer(procs, "gw", None, STUB_DIR)
        dyn = ("http:\n  routers:\n"
               "    gw: {rule: \"Host(`gw.test`)\", service: echo, middlewares: [gw]}\n"
               "    star: {rule: \"Host(`star.test`)\", service: echo, middlewares: [gwstar]}\n"
               "    dead: {rule: \"Host(`dead.test`)\", service: dead, middlewares: [gw]}\n"
               "  middlewares:\n"
               "    gw: {grpcWeb: {allowOrigins: [\"%s\"]}}\n"
               "    gwstar: {grpcWeb: {allowOrigins: [\"*\"]}}\n"
               "  services:\n"
               "    echo:\n      loadBalancer:\n        servers:\n          - url: \"%s\"\n"
               "    dead:\n      loadBalancer:\n        servers:\n          - url: \"h2c://127.0.0.1:%d\"\n"
               % (ORIGIN, server.scheme_url, free_port()))
        g = procs.gantry(tmp, dyn)
        yield g, str(tmp)
    finally:
        procs.stop_all()


def curl(g, tmp, path, http, body=None, headers=(), host="gw.test", method=None):
    """(status, headers dict (last value, lower-case names), body bytes, trailer names)."""
    hfile, bfile, infile = (os.path.join(tmp, n) for n in ("h", "b", "in"))
    args = ["curl", "-sS", "--max-time", "20", "-D", hfile, "-o", bfile, "-H", "Host: " + host]
    args.append("--http2-prior-knowledge" if http == 2 else "--http1.1")
    for h in headers:
        args += ["-H", h]
    if body is not None:
        with open(infile, "wb") as f:
            f.write(body)
        args += ["--data-binary", "@" + infile]
    if method:
        args += ["-X", method]
    subprocess.run(args + ["http://127.0.0.1:%d%s" % (g.port, path)], check=True, timeout=30)
    with open(hfile, "rb") as f:
        lines = f.read().decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs, after_blank, trailers = {}, False, []
    for line in lines[1:]:
        if line == "":
            after_blank = True
            continue
        name, _, value = line.partition(":")
        if after_blank:  # curl -D writes HTTP trailers after the head
            trailers.append(name.lower())
        else:
            hdrs[name.lower()] = value.strip()
    with open(bfile, "rb") as f:
        return status, hdrs, f.read(), trailers


def frame(msg, flag=0):
    data = msg.SerializeToString()
    return struct.pack(">BI", flag, len(data)) + data


def frames(body):
    """[(flag, payload)] of a binary gRPC-Web body; the whole body must be frames."""
    out, i = [], 0
    while i < len(body):
        assert len(body) - i >= 5, "a frame head cut short"
        flag, n = struct.unpack(">BI", body[i:i + 5])
        assert len(body) - i - 5 >= n, "a frame cut short"
        out.append((flag, body[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def b64_chunks_decode(text):
    """-text bodies: base64 pieces, each padded on its own, concatenated:
    4-character groups, each decoded alone (padding may end any of them)."""
    text = text.strip()
    assert len(text) % 4 == 0, "pieces are padded"
    return b"".join(base64.b64decode(text[i:i + 4], validate=True) for i in range(0, len(text), 4))


def trailer_map(payload):
    lines = payload.decode().split("\r\n")
    assert lines[-1] == "", "each trailer line ends in CRLF"
    return dict((k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[:-1]))


def check_unary(status, hdrs, body, trailers, text=False):
    assert status == 200
    # the upstream's content-type, application/grpc -> application/grpc-web[-text] (as improbable-eng's grpcweb)
    assert hdrs["content-type"] == ("application/grpc-web-text" if text else "application/grpc-web")
    if text:
        body = b64_chunks_decode(body)
    fs = frames(body)
    assert [f for f, _ in fs] == [0, 0x80], fs
    reply = pb.EchoReply.FromString(fs[0][1])
    assert reply.message == "hello" and reply.server == "gw"
    assert hdrs.get("x-initial") == "gw"  # initial metadata stays in the head
    t = trailer_map(fs[1][1])
    assert t["grpc-status"] == "0" and t["x-trailer"] == "gw" and t["x-echo-trailer"] == "e1"
    assert trailers == [], "trailers went in the body, not as HTTP trailers"
    return reply


@pytest.mark.parametrize("http", [1, 2])
def test_unary_binary(env, http):
    g, tmp = env
    body = frame(pb.EchoRequest(message="hello"))
    r = curl(g, tmp, "/gantry.test.Echo/Unary", http, body,
             ["Content-Type: application/grpc-web+proto", "X-Grpc-Web: 1", "x-echo: e1"])
    reply = check_unary(*r)
    # upstream saw a gRPC call: te: trailers, content-type application/grpc+proto
    assert reply.metadata.get("content-type") in (None, "application/grpc+proto")


@pytest.mark.parametrize("http", [1, 2])
def test_unary_text(env, http):
    g, tmp = env
    body = base64.b64encode(frame(pb.EchoRequest(message="hello")))
    r = curl(g, tmp, "/gantry.test.Echo/Unary", http, body,
             ["Content-Type: application/grpc-web-text+proto", "Accept: application/grpc-web-text", "x-echo: e1"])
    check_unary(*r, text=True)


@pytest.mark.parametrize("http", [1, 2])
@pytest.mark.parametrize("text", [False, True])
def test_server_stream(env, http, text):
    g, tmp = env
    body = frame(pb.EchoRequest(message="s", count=5))
    ct = "application/grpc-web-text+proto" if text else "application/grpc-web+proto"
    if text:
        body = base64.b64encode(body)
    status, hdrs, out, trailers = curl(g, tmp, "/gantry.test.Echo/ServerStream", http, body, ["Content-Type: " + ct])
    assert status == 200 and hdrs["content-type"] == ct.replace("+proto", "")
    fs = frames(b64_chunks_decode(out) if text else out)
    assert [f for f, _ in fs] == [0] * 5 + [0x80]
    assert [pb.EchoReply.FromString(p).index for _, p in fs[:5]] == list(range(5))
    assert trailer_map(fs[-1][1])["grpc-status"] == "0" and trailers == []


@pytest.mark.parametrize("http", [1, 2])
def test_error_status(env, http):
    g, tmp = env
    body = frame(pb.EchoRequest(message="boom", fail_code=5))  # NOT_FOUND
    status, hdrs, out, trailers = curl(g, tmp, "/gantry.test.Echo/Unary", http, body,
                                       ["Content-Type: application/grpc-web+proto"])
    assert status == 200
    # grpcio answers an abort trailers-only (grpc-status in the head, as the spec
    # allows) or with a trailer frame: either way the client reads status 5
    if hdrs.get("grpc-status") is not None:
        assert hdrs["grpc-status"] == "5" and "failed as asked" in hdrs.get("grpc-message", "")
    else:
        fs = frames(out)
        assert fs[-1][0] == 0x80
        t = trailer_map(fs[-1][1])
        assert t["grpc-status"] == "5" and "failed as asked" in t["grpc-message"]
    assert hdrs["content-type"].startswith("application/grpc-web")
    assert trailers == []


@pytest.mark.parametrize("http", [1, 2])
def test_gantry_error_is_grpc_web(env, http):
    """No upstream answers: Gantry's own trailers-only UNAVAILABLE, labelled gRPC-Web."""
    g, tmp = env
    status, hdrs, out, trailers = curl(g, tmp, "/gantry.test.Echo/Unary", http, base64.b64encode(frame(pb.EchoRequest(message="x"))),
                                       ["Content-Type: application/grpc-web-text+proto", "Origin: " + ORIGIN],
                                       host="dead.test")
    assert status == 200 and hdrs["grpc-status"] == "14" and out == b"" and trailers == []
    assert hdrs["content-type"] == "application/grpc-web-text"
    assert hdrs["access-control-allow-origin"] == ORIGIN


def test_bad_text_body(env):
    g, tmp = env
    status, _, _, _ = curl(g, tmp, "/gantry.test.Echo/Unary", 1, b"not base64!!",
                           ["Content-Type: application/grpc-web-text+proto"])
    assert status == 400


@pytest.mark.parametrize("host,origin,allowed", [("gw.test", ORIGIN, True), ("gw.test", "https://evil.example", False),
                                                 ("star.test", "https://any.example", True)])
def test_cors(env, host, origin, allowed):
    g, tmp = env
    status, hdrs, out, _ = curl(g, tmp, "/gantry.test.Echo/Unary", 1, None, [
        "Origin: " + origin, "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: content-type,x-grpc-web,x-user-agent,grpc-timeout"], host=host, method="OPTIONS")
    assert status == 204 and out == b""
    if allowed:
        assert hdrs["access-control-allow-origin"] == origin
        assert "POST" in hdrs["access-control-allow-methods"]
        asked = [h.strip() for h in hdrs["access-control-allow-headers"].split(",")]
        assert {"content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"} <= set(asked)
        assert hdrs["access-control-allow-credentials"] == "true" and hdrs["access-control-max-age"] == "600"
    else:
        assert "access-control-allow-origin" not in hdrs
    # the call itself
    r = curl(g, tmp, "/gantry.test.Echo/Unary", 2, frame(pb.EchoRequest(message="hello")),
             ["Content-Type: application/grpc-web+proto", "Origin: " + origin, "x-echo: e1"], host=host)
    check_unary(*r)
    if allowed:
        assert r[1]["access-control-allow-origin"] == origin
        exposed = [h.strip() for h in r[1]["access-control-expose-headers"].split(",")]
        assert {"grpc-status", "grpc-message", "x-initial"} <= set(exposed)
        assert r[1]["access-control-allow-credentials"] == "true"
    else:
        assert "access-control-allow-origin" not in r[1]


def test_native_grpc_and_plain_requests_untouched(env):
    g, tmp = env
    import grpc
    from grpc_peers import channel
    # a native gRPC call through the same router: trailers stay HTTP trailers
    ch = channel(g.port, authority="gw.test")
    try:
        reply, call = pb_grpc.EchoStub(ch).Unary.with_call(pb.EchoRequest(message="native"), timeout=10,
                                                           metadata=(("x-echo", "n"),))
        assert reply.message == "native" and dict(call.trailing_metadata())["x-trailer"] == "gw"
    finally:
        ch.close()
    # a plain GET: not gRPC-Web, not a preflight: reaches the upstream as it is
    status, hdrs, _, _ = curl(g, tmp, "/", 1, None, ["Origin: " + ORIGIN])
    assert "access-control-allow-origin" not in hdrs
    assert not hdrs.get("content-type", "").startswith("application/grpc-web")
    # an OPTIONS that is not a gRPC-Web preflight is not answered by the middleware
    status, hdrs, _, _ = curl(g, tmp, "/", 1, None, ["Origin: " + ORIGIN, "Access-Control-Request-Method: GET"],
                              method="OPTIONS")
    assert "access-control-allow-origin" not in hdrs


@pytest.mark.parametrize("text", [False, True])
def test_server_stream_is_not_held_back(env, text):
    """Each message reaches an HTTP/1.1 client when the server sends it (a
    -text piece is padded on its own), not at the end of the call."""
    import http.client
    import time
    g, _ = env
    body = frame(pb.EchoRequest(message="s", count=3, sleep_ms=400))
    ct = "application/grpc-web-text+proto" if text else "application/grpc-web+proto"
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=20)
    try:
        start = time.monotonic()
        conn.request("POST", "/gantry.test.Echo/ServerStream", base64.b64encode(body) if text else body,
                     {"Host": "gw.test", "Content-Type": ct})
        resp = conn.getresponse()
        assert resp.status == 200
        got, first_at = b"", None
        while True:
            piece = resp.read1(65536)
            if not piece:
                break
            got += piece
            if first_at is None:
                first_at = time.monotonic() - start
        total = time.monotonic() - start
    finally:
        conn.close()
    fs = frames(b64_chunks_decode(got) if text else got)
    assert [f for f, _ in fs] == [0, 0, 0, 0x80]
    assert first_at < 0.9 and total >= 1.15, (first_at, total)


def test_h2_text_body_arriving_late_and_trailers_not_sent(env):
    """HTTP/2: a -text body sent in two DATA frames 0.3 s apart (still
    arriving when the request runs) is collected, decoded and answered;
    the response carries no HTTP trailers (python3-h2 sees every frame)."""
    import time
    from h2_raw import Client
    g, _ = env
    text = base64.b64encode(frame(pb.EchoRequest(message="hello")))
    c = Client(g.port)
    try:
        sid = c.request([(":method", "POST"), (":scheme", "http"), (":authority", "gw.test"),
                         (":path", "/gantry.test.Echo/Unary"), ("content-type", "application/grpc-web-text"),
                         ("x-echo", "e1")], text[:8], end_stream=False)
        time.sleep(0.3)
        c.conn.send_data(sid, text[8:], end_stream=True)
        c.flush()
        headers, body, trailers, reset = c.response(sid)
    finally:
        c.close()
    assert reset is None and trailers is None
    assert headers[":status"] == "200" and headers["content-type"] == "application/grpc-web-text"
    check_unary(200, {"content-type": "application/grpc-web-text", "x-initial": headers.get("x-initial")}, body, [],
                text=True)


def test_native_bidi_still_streams(env):
    """grpcWeb collects -text bodies only: a native bidi call on the same
    router stays full duplex (message n+1 is sent after reply n)."""
    import queue
    import grpc
    from grpc_peers import channel
    g, _ = env
    ch = channel(g.port, authority="gw.test")
    try:
        q = queue.Queue()

        def requests():
            while True:
                m = q.get()
                if m is None:
                    return
                yield m

        q.put(pb.EchoRequest(message="0"))
        call = pb_grpc.EchoStub(ch).Bidi(requests(), timeout=15)
        got = []
        for reply in call:
            got.append(reply.message)
            q.put(None if len(got) == 5 else pb.EchoRequest(message=str(len(got))))
        assert got == ["0", "1", "2", "3", "4"] and call.code() == grpc.StatusCode.OK
    finally:
        ch.close()


def test_h1_text_body_arriving_late(env):
    """HTTP/1.1 (bodies stream there too): a -text body whose second half
    comes 0.3 s after the head is collected, decoded and answered."""
    import socket
    import time
    g, _ = env
    text = base64.b64encode(frame(pb.EchoRequest(message="hello")))
    head = ("POST /gantry.test.Echo/Unary HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/grpc-web-text\r\n"
            "x-echo: e1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(text)).encode()
    s = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    try:
        s.sendall(head + text[:8])
        time.sleep(0.3)
        s.sendall(text[8:])
        raw = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            raw += b
    finally:
        s.close()
    head_part, _, body = raw.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    hdrs = dict((k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:]))
    assert lines[0].split()[1] == "200" and hdrs["transfer-encoding"] == "chunked"
    decoded, rest = b"", body  # de-chunk
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        decoded, rest = decoded + rest[:n], rest[n + 2:]
    check_unary(200, hdrs, decoded, [], text=True)
