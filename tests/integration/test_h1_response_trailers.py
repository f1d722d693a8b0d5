"""Response trailers to HTTP/1.1 clients (issue 16, RFC 9112 §7.1.2, RFC
9110 §6.5): a client that sent `TE: trailers` gets a chunked response whose
trailer section carries the upstream's trailers (HTTP/2 upstream or chunked
HTTP/1.1 upstream), byte-exact; the keep-alive connection carries the next
request; a client without it gets no trailers (RFC 9110 §6.5.1); compression
encodes the body inside the chunks; an upstream reset leaves the message
unfinished. Real peers: python3-h2 and raw HTTP/1.1 upstreams, curl and a
raw socket as clients."""
import gzip
import os
import socket
import ssl
import subprocess

import pytest

from conftest import SLOW, get, service_yaml, wait_for
from h2_peers import H2Upstream
from test_h2_upstream import ChunkedTrailerUpstream
from tls_certs import make_cert


@pytest.fixture
def gantry(tmp_path, procs):
    up = H2Upstream("a")
    h1 = ChunkedTrailerUpstream()
    cfg = ("http:\n  routers:\n"
           "    h2c: {rule: \"Host(`h2c.test`)\", service: h2c}\n"
           "    h1tr: {rule: \"Host(`h1tr.test`)\", service: h1tr}\n"
           "    gz: {rule: \"Host(`gz.test`)\", service: h2c, middlewares: [gz]}\n"
           "    h2c-tls: {rule: \"Host(`h2c.test`)\", service: h2c, tls: {}}\n"
           "  middlewares:\n    gz: {compress: {}}\n"
           "  services:\n" + service_yaml("h2c", [up.url]) + service_yaml("h1tr", [h1.url])
           + "tls:\n  certificates:\n    - {certFile: %s, keyFile: %s}\n" % make_cert(str(tmp_path), "h2c.test"))
    g = procs.gantry(tmp_path, cfg, workers=1)
    g.ca = os.path.join(str(tmp_path), "ca.crt")
    wait_for(lambda: get(g.port, "/", "h2c.test")[0] == 200, what="route live")
    yield g
    h1.stop()
    up.stop()


def read_response(sock, buf=b""):
    """One HTTP/1.1 response off <sock>: (head, raw body bytes as framed, rest)."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        assert d, "connection closed before the head: %r" % buf
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" not in lower:
        n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(buf) < n:
            d = sock.recv(65536)
            assert d, "connection closed in the body"
            buf += d
        return head, buf[:n], buf[n:]
    # chunked: to the end of the trailer section
    pos = 0
    while True:
        while b"\r\n" not in buf[pos:]:
            d = sock.recv(65536)
            assert d, "connection closed in the chunked body: %r" % buf
            buf += d
        line_end = buf.index(b"\r\n", pos)
        size = int(buf[pos:line_end].split(b";")[0], 16)
        if size == 0:
            while b"\r\n\r\n" not in buf[line_end:]:
                d = sock.recv(65536)
                assert d, "connection closed in the trailer section: %r" % buf
                buf += d
            end = buf.index(b"\r\n\r\n", line_end) + 4 if buf[line_end:line_end + 4] != b"\r\n\r\n" else line_end + 4
            return head, buf[:end], buf[end:]
        need = line_end + 2 + size + 2
        while len(buf) < need:
            d = sock.recv(65536)
            assert d, "connection closed in a chunk"
            buf += d
        assert buf[need - 2:need] == b"\r\n"
        pos = need


def dechunk(raw):
    """The data and the trailer section (raw, without the final CRLF) of a chunked body."""
    data, pos = b"", 0
    while True:
        line_end = raw.index(b"\r\n", pos)
        size = int(raw[pos:line_end], 16)
        if size == 0:
            return data, raw[line_end + 2:]
        data += raw[line_end + 2:line_end + 2 + size]
        pos = line_end + 2 + size + 2


def ask(port, host, path, te=True, extra=b"", sock=None):
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
              + (b"TE: trailers\r\n" if te else b"") + extra + b"\r\n")
    return s


def test_h2c_upstream_grpc_style_trailers_exact_bytes_then_keep_alive(gantry):
    s = ask(gantry.port, "h2c.test", "/trailers")
    head, body, rest = read_response(s)
    lower = head.lower()
    assert head.startswith(b"HTTP/1.1 200") and b"\r\ntransfer-encoding: chunked" in lower, head
    assert b"content-length" not in lower and b"grpc-status" not in lower, head
    assert b"connection: keep-alive" in lower, head
    # one DATA frame upstream, one chunk here, then the trailer section
    assert body == b"12\r\nbody then trailers\r\n0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n", body
    assert rest == b""
    # the same connection carries the next request (trailers again, then a plain one)
    ask(gantry.port, "h2c.test", "/trailers", sock=s)
    head, body, rest = read_response(s)
    assert head.startswith(b"HTTP/1.1 200") and body.endswith(b"0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n")
    ask(gantry.port, "h2c.test", "/", sock=s)
    head, body, rest = read_response(s)
    assert head.startswith(b"HTTP/1.1 200") and body == b"h2 ok from a", (head, body)
    s.close()


def test_h1_chunked_upstream_trailers_reach_the_h1_client(gantry):
    s = ask(gantry.port, "h1tr.test", "/")
    head, body, _ = read_response(s)
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower(), head
    assert b"trailer:" not in head.lower()  # the upstream's announcement is hop-by-hop here
    data, trailers = dechunk(body)
    assert data == b"hello"
    # framing fields never go as trailers (the upstream sent content-length: 99)
    assert trailers == b"grpc-status: 0\r\nx-checksum: abc\r\n\r\n", trailers
    ask(gantry.port, "h1tr.test", "/", sock=s)  # keep-alive
    head, body, _ = read_response(s)
    assert dechunk(body) == (b"hello", b"grpc-status: 0\r\nx-checksum: abc\r\n\r\n")
    s.close()


def test_curl_raw_shows_the_trailer_section(gantry):
    r = subprocess.run(["curl", "-sS", "--raw", "-H", "Host: h2c.test", "-H", "TE: trailers",
                        "http://127.0.0.1:%d/trailers" % gantry.port], capture_output=True, timeout=20 * SLOW)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"12\r\nbody then trailers\r\n0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n", r.stdout
    # without --raw curl decodes it: the body alone, trailers not mixed in
    r = subprocess.run(["curl", "-sS", "-H", "Host: h2c.test", "-H", "TE: trailers",
                        "http://127.0.0.1:%d/trailers" % gantry.port], capture_output=True, timeout=20 * SLOW)
    assert (r.returncode, r.stdout) == (0, b"body then trailers"), r


def test_client_without_te_trailers_gets_none(gantry):
    for te in (False, True):
        extra = b"TE: gzip\r\n" if te else b""  # a TE without "trailers" is no consent either
        s = ask(gantry.port, "h2c.test", "/trailers", te=False, extra=extra)
        head, body, _ = read_response(s)
        assert head.startswith(b"HTTP/1.1 200") and b"grpc-status" not in head.lower()
        assert dechunk(body) == (b"body then trailers", b"\r\n"), body
        s.close()


def test_compressed_body_is_chunked_after_compression_with_trailers_kept(gantry):
    s = ask(gantry.port, "gz.test", "/big?n=200000", extra=b"Accept-Encoding: gzip\r\n")
    head, body, _ = read_response(s)
    assert b"content-encoding: gzip" in head.lower(), head
    data, trailers = dechunk(body)
    assert gzip.decompress(data) == b"b" * 200000
    assert trailers == b"\r\n"  # /big sends none
    s.close()


def test_head_request_is_not_chunked(gantry):
    s = socket.create_connection(("127.0.0.1", gantry.port), timeout=10 * SLOW)
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: h2c.test\r\nTE: trailers\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        assert d
        buf += d
    head = buf.split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"transfer-encoding" not in head, head
    s.close()


def test_upstream_reset_mid_response_leaves_the_message_unfinished(gantry):
    s = ask(gantry.port, "h2c.test", "/rst-after-headers")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), buf
    assert b"partial" in body and not body.endswith(b"0\r\n\r\n"), body  # no last chunk: the client sees the cut


def test_grpc_deadline_after_the_response_began_ends_with_trailers(gantry):
    """grpc-timeout passing after the head: the call ends as calls do, with
    DEADLINE_EXCEEDED in the trailer section (req_stream_can_send_trailers
    is true for this response), not with a cut connection."""
    s = socket.create_connection(("127.0.0.1", gantry.port), timeout=10 * SLOW)
    s.sendall(b"POST /stall HTTP/1.1\r\nHost: h2c.test\r\nTE: trailers\r\ncontent-type: application/grpc\r\n"
              b"grpc-timeout: 300m\r\ncontent-length: 0\r\n\r\n")
    head, body, _ = read_response(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    data, trailers = dechunk(body)
    assert data == b"x" and b"grpc-status: 4\r\n" in trailers, (data, trailers)
    s.close()


def test_http10_client_gets_no_chunked_framing(gantry):
    """HTTP/1.0 has no chunked encoding (RFC 9112 §7.1): TE: trailers from
    such a client changes nothing, the body ends with the connection."""
    s = socket.create_connection(("127.0.0.1", gantry.port), timeout=10 * SLOW)
    s.sendall(b"GET /trailers HTTP/1.0\r\nHost: h2c.test\r\nTE: trailers\r\n\r\n")
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding" not in head.lower(), head
    assert body == b"body then trailers", body


def test_trailers_over_tls_http1(gantry):
    """The same over TLS (ALPN http/1.1): the framing is Gantry's there too."""
    ctx = ssl.create_default_context(cafile=gantry.ca)
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", gantry.port), timeout=10 * SLOW)
    s = ctx.wrap_socket(raw, server_hostname="h2c.test")
    assert s.selected_alpn_protocol() == "http/1.1"
    for _ in range(2):  # and keep-alive
        ask(gantry.port, "h2c.test", "/trailers", sock=s)
        head, body, _ = read_response(s)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert body == b"12\r\nbody then trailers\r\n0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n", body
    s.close()
