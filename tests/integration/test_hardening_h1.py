"""Hardening of HTTP/1.1 requests (issue 12), on raw sockets against the
real binary: strict chunked framing (RFC 9112 7.1), Host rules (RFC 9112
3.2), dot segments with parameters and raw backslashes in paths, TRACE,
Content-Length whitespace and HTTP versions. Every refusal is checked on
the wire (400 or 405, the connection closed) and at the upstream (nothing
of the refused request, and no smuggled request after it); every valid
neighbour is checked to pass with exactly one consistently framed request.
"""
import re
import socket
import ssl
import time

import pytest

from attack import H2Client, RecordingUpstream, status_of
from conftest import SLOW, get, service_yaml


def routes(up):
    return ("http:\n  routers:\n    r: {rule: \"Host(`s.test`)\", service: s}\n"
            "    nohost: {rule: \"PathPrefix(`/nohost`)\", service: s, priority: 1}\n"
            "  services:\n" + service_yaml("s", [up.url]))


def start(tmp_path, procs, args=()):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, routes(up), args=list(args))
    assert get(g.port, "/", "s.test")[0] == 200
    up.requests.clear()
    return g, up


@pytest.fixture
def env(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, routes(up))
    assert get(g.port, "/", "s.test")[0] == 200
    up.requests.clear()
    yield g, up
    up.stop()


def head(lines, body=b""):
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(port, pieces, timeout=3.0, gap=0.05, tls=False):
    """Sends <pieces> (bytes, or a list sent with <gap> seconds between
    them) on one connection (TLS, HTTP/1.1 by ALPN, with <tls>); returns
    (everything read, whether the server closed the connection before the
    timeout)."""
    if isinstance(pieces, bytes):
        pieces = [pieces]
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="s.test")
    out, closed = b"", False
    try:
        for i, p in enumerate(pieces):
            if i:
                time.sleep(gap)
            try:
                s.sendall(p)
            except (BrokenPipeError, ConnectionResetError):
                break
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                closed = True
                break
            if not d:
                closed = True
                break
            out += d
        return out, closed
    finally:
        s.close()


def statuses(resp):
    """The status of every response in <resp> (bodies here never contain
    a status line)."""
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", resp)]


CHUNKED = [b"POST /c HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked"]
SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: s.test\r\n\r\n"

# chunked bodies refused (RFC 9112 7.1): each is followed by a request that
# a lenient decoder would read as the next one
BAD_CHUNKED = {
    "size_0x2c": b"0x2c\r\n\r\n",
    "size_5zzz": b"5zzz\r\nhello\r\n0\r\n\r\n",
    "size_tab_word_without_semicolon": b"2c\tfoo\r\n" + b"a" * 44 + b"\r\n0\r\n\r\n",
    "size_empty": b"\r\nhello\r\n0\r\n\r\n",
    "size_empty_with_extension": b";a=b\r\nhello\r\n0\r\n\r\n",
    "size_line_bare_lf": b"5\nhello\r\n0\r\n\r\n",
    "last_chunk_bare_lf": b"0\n\r\n",
    "extension_bare_lf": b"5;a=b\nhello\r\n0\r\n\r\n",
    "extension_control_char": b"5;a=\x01\r\nhello\r\n0\r\n\r\n",
    "data_then_bare_lf": b"5\r\nhello\n0\r\n\r\n",
    "data_then_other_byte": b"5\r\nhelloX\r\n0\r\n\r\n",
    "data_then_cr_cr_lf": b"5\r\nhello\r\r\n0\r\n\r\n",
    "data_longer_than_size": b"3\r\nhello\r\n0\r\n\r\n",
    "extension_over_4k": b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n",
    "trailers_over_4k": b"5\r\nhello\r\n0\r\nX-T: " + b"t" * 5000 + b"\r\n\r\n",
    "trailer_bare_lf": b"5\r\nhello\r\n0\r\nX-T: 1\n\r\n",
    "size_17_digits": b"00000000000000005\r\nhello\r\n0\r\n\r\n",
}


def assert_refused(resp, closed, up, want=400):
    assert statuses(resp) == [want], resp[:300]
    assert closed, "the connection stayed open after %d" % want
    assert up.request_lines() == [], up.request_lines()


@pytest.mark.parametrize("name", sorted(BAD_CHUNKED))
def test_bad_chunked_body_is_400_closed_and_never_forwarded(env, name):
    g, up = env
    resp, closed = exchange(g.port, head(CHUNKED, BAD_CHUNKED[name] + SMUGGLED))
    assert_refused(resp, closed, up)
    assert get(g.port, "/", "s.test")[0] == 200  # others are still served


@pytest.mark.parametrize("name", ["size_0x2c", "data_then_bare_lf", "extension_over_4k", "trailer_bare_lf"])
def test_bad_chunked_body_sent_byte_by_byte_is_refused(env, name):
    """The same bodies arriving in many reads (size lines and trailers are
    held back until complete)."""
    g, up = env
    data = BAD_CHUNKED[name] + SMUGGLED
    step = 1 if len(data) < 200 else 700
    pieces = [head(CHUNKED)] + [data[i:i + step] for i in range(0, len(data), step)]
    resp, closed = exchange(g.port, pieces, gap=0.005)
    assert_refused(resp, closed, up)


def test_valid_request_before_a_bad_chunked_one_is_served(env):
    g, up = env
    first = head([b"POST /first HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked"], b"3\r\nabc\r\n0\r\n\r\n")
    resp, closed = exchange(g.port, first + head(CHUNKED, b"0x2c\r\n\r\n" + SMUGGLED))
    assert statuses(resp) == [200, 400] and closed, resp[:400]
    assert up.request_lines() == ["POST /first HTTP/1.1"]
    assert up.requests[0][1] == b"abc"


GOOD_CHUNKED = {
    "plain": (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "uppercase_hex_and_leading_zeros": (b"00A\r\n0123456789\r\n000\r\n\r\n", b"0123456789"),
    "extensions": (b"5;a=b;c=\"q;\\\"x\"\r\nhello\r\n0;last\r\n\r\n", b"hello"),
    "whitespace_before_extension": (b"5 \t;a=b\r\nhello\r\n0\r\n\r\n", b"hello"),
    "whitespace_before_crlf": (b"5 \r\nhello\r\n0\r\n\r\n", b"hello"),
    "trailers": (b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", b"hello"),
    "extension_near_4k": (b"5;" + b"e" * 4000 + b"\r\nhello\r\n0\r\n\r\n", b"hello"),
    "two_chunks": (b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", b"hello"),
}


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("name", sorted(GOOD_CHUNKED))
def test_valid_chunked_body_is_forwarded_once_with_its_length(env, name, split):
    g, up = env
    body, want = GOOD_CHUNKED[name]
    req = head(CHUNKED, body) + head([b"GET /next HTTP/1.1", b"Host: s.test", b"Connection: close"])
    pieces = [req[i:i + 3] for i in range(0, len(req), 3)] if split and len(req) < 300 else [req]
    resp, closed = exchange(g.port, pieces, gap=0.002)
    assert statuses(resp) == [200, 200], resp[:300]
    assert up.request_lines() == ["POST /c HTTP/1.1", "GET /next HTTP/1.1"]
    h, got = up.requests[0]
    assert got == want
    if name == "trailers":
        # trailers go up as trailers (issue 16), so the body stays chunked
        assert b"transfer-encoding: chunked" in h.lower() and b"content-length" not in h.lower(), h
        assert up.requests.trailers[0].lower() == b"x-trailer: 1\r\ny: 2", up.requests.trailers[0]
    else:
        assert b"content-length: %d" % len(want) in h.lower() and b"transfer-encoding" not in h.lower(), h


def test_expect_100_continue_chunked_stays_strict(env):
    g, up = env
    req = head(CHUNKED + [b"Expect: 100-continue"])
    s = socket.create_connection(("127.0.0.1", g.port), timeout=3 * SLOW)
    s.sendall(req)
    assert s.recv(100).startswith(b"HTTP/1.1 100")
    s.sendall(b"0x2c\r\n\r\n" + SMUGGLED)
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not d:
            break
        out += d
    s.close()
    assert statuses(out) == [400], out
    assert up.request_lines() == []


# --- Content-Length and versions ---

def test_content_length_with_surrounding_whitespace_is_accepted(env):
    g, up = env
    resp, _ = exchange(g.port, head([b"POST /w HTTP/1.1", b"Host: s.test", b"Content-Length:  5 \t",
                                     b"Connection: close"], b"hello"))
    assert statuses(resp) == [200], resp[:300]
    h, body = up.requests[0]
    assert body == b"hello" and b"content-length: 5\r" in h.lower() + b"\r"


def test_content_length_whitespace_keeps_the_next_request_aligned(env):
    g, up = env
    resp, _ = exchange(g.port, head([b"POST /w HTTP/1.1", b"Host: s.test", b"Content-Length: 5  "], b"hello") +
                       head([b"GET /after HTTP/1.1", b"Host: s.test", b"Connection: close"]))
    assert statuses(resp) == [200, 200], resp[:300]
    assert up.request_lines() == ["POST /w HTTP/1.1", "GET /after HTTP/1.1"]
    assert up.requests[0][1] == b"hello"


@pytest.mark.parametrize("version", [b"HTTP/1.2", b"HTTP/1.9", b"HTTP/1.10"])
def test_unknown_http1_minor_version_is_400(env, version):
    g, up = env
    resp, closed = exchange(g.port, head([b"GET / " + version, b"Host: s.test"]) + SMUGGLED)
    assert_refused(resp, closed, up)


def test_http10_and_http11_are_served(env):
    g, up = env
    resp, _ = exchange(g.port, head([b"GET /ten HTTP/1.0", b"Host: s.test"]))
    assert status_of(resp) == 200, resp[:200]
    resp, _ = exchange(g.port, head([b"GET /eleven HTTP/1.1", b"Host: s.test", b"Connection: close"]))
    assert status_of(resp) == 200, resp[:200]
    assert up.request_lines() == ["GET /ten HTTP/1.1", "GET /eleven HTTP/1.1"]


# --- Host (RFC 9112 3.2) ---

BAD_HOST = {
    "http11_without_host": head([b"GET / HTTP/1.1", b"X-A: b"]),
    "two_equal_hosts": head([b"GET / HTTP/1.1", b"Host: s.test", b"Host: s.test"]),
    "two_different_hosts": head([b"GET / HTTP/1.1", b"Host: other.test", b"Host: s.test"]),
    "two_hosts_with_a_body": head([b"POST / HTTP/1.1", b"Host: s.test", b"host: other.test",
                                   b"Content-Length: 5"], b"hello"),
    "absolute_form_other_host": head([b"GET http://other.test/x HTTP/1.1", b"Host: s.test"]),
    "absolute_form_host_header_other": head([b"GET http://s.test/x HTTP/1.1", b"Host: other.test"]),
    "absolute_form_without_host": head([b"GET http://s.test/x HTTP/1.1"]),
}


@pytest.mark.parametrize("name", sorted(BAD_HOST))
def test_bad_host_is_400_closed_and_never_forwarded(env, name):
    g, up = env
    resp, closed = exchange(g.port, BAD_HOST[name] + SMUGGLED)
    assert_refused(resp, closed, up)


@pytest.mark.parametrize("extra", [[b"Host: s.test"], [b"Content-Length: 5", b"Content-Length: 5"]])
def test_checks_cover_heads_over_8k(env, extra):
    """request_check used to look for the end of the head in the first 8 KiB only."""
    g, up = env
    req = head([b"POST / HTTP/1.1", b"Host: s.test", b"X-Pad: " + b"p" * 9000] + extra, b"hello")
    resp, closed = exchange(g.port, req + SMUGGLED)
    assert_refused(resp, closed, up)


def test_valid_host_forms_are_served(env):
    g, up = env
    ok = [
        head([b"GET /nohost/ten HTTP/1.0"]),  # HTTP/1.0 may omit Host
        head([b"GET http://s.test/abs HTTP/1.1", b"Host: s.test", b"Connection: close"]),
        head([b"GET http://S.TEST:80/port HTTP/1.1", b"Host: s.test", b"Connection: close"]),
        head([b"GET /host-port HTTP/1.1", b"Host: s.test:80", b"Connection: close"]),
    ]
    for req in ok:
        resp, _ = exchange(g.port, req)
        assert statuses(resp) == [200], (req, resp[:300])
    assert up.request_lines() == ["GET /nohost/ten HTTP/1.1", "GET /abs HTTP/1.1", "GET /port HTTP/1.1",
                                  "GET /host-port HTTP/1.1"]


def test_http2_host_disagreeing_with_authority_is_400(env):
    """RFC 9113 8.3.1: a `host` that names another entity than `:authority`
    is malformed: 400, nothing upstream; the connection serves on."""
    g, up = env
    c = H2Client(g.port, validate=False)
    sid = c.request("/h2", "s.test", extra=[("host", "other.test")])
    assert c.response(sid)[0] == 400
    sid = c.request("/h2", "s.test", extra=[("host", "S.test")])  # the same host, another case: fine
    assert c.response(sid)[0] == 200
    c.close()
    assert len(up.requests) == 1
    h, _ = up.requests[0]
    hosts = [line for line in h.lower().split(b"\r\n") if line.startswith(b"host:")]
    assert hosts == [b"host: s.test"], h


def test_http2_host_without_authority_routes(env):
    """No :authority (allowed): Host decides, as in HTTP/1.1."""
    g, up = env
    c = H2Client(g.port, validate=False)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "GET"), (":path", "/h2"), (":scheme", "http"), ("host", "s.test")], end_stream=True)
    c.flush()
    assert c.response(sid)[0] == 200
    c.close()


# --- paths ---

BAD_PATHS = [b"/api/..;/admin", b"/api/.;/admin", b"/api/..;x/admin", b"/..;/admin", b"/api/%2e%2e;/admin",
             b"/api\\..\\admin", b"/a\\b"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_dot_segment_with_parameters_and_backslash_are_400(env, path):
    g, up = env
    resp, closed = exchange(g.port, head([b"GET " + path + b" HTTP/1.1", b"Host: s.test"]) + SMUGGLED)
    assert_refused(resp, closed, up)


def test_path_neighbours_are_forwarded_as_routed(env):
    g, up = env
    for path in [b"/a;b=c/d", b"/a/...;x/b", b"/a/x..;/b", b"/a/.x;/b"]:
        resp, _ = exchange(g.port, head([b"GET " + path + b" HTTP/1.1", b"Host: s.test", b"Connection: close"]))
        assert statuses(resp) == [200], (path, resp[:200])
    assert up.request_lines() == ["GET /a;b=c/d HTTP/1.1", "GET /a/...;x/b HTTP/1.1", "GET /a/x..;/b HTTP/1.1",
                                  "GET /a/.x;/b HTTP/1.1"]


def test_backslash_and_dot_parameters_can_be_allowed(tmp_path, procs):
    g, up = start(tmp_path, procs, ["--entryPoints.web.http.encodedCharacters.allowEncodedBackSlash=true",
                                    "--entryPoints.web.http.sanitizePath=false"])
    for path in [b"/a\\b", b"/api/..;/admin"]:
        resp, _ = exchange(g.port, head([b"GET " + path + b" HTTP/1.1", b"Host: s.test", b"Connection: close"]))
        assert statuses(resp) == [200], (path, resp[:200])
    assert up.request_lines() == ["GET /a\\b HTTP/1.1", "GET /api/..;/admin HTTP/1.1"]
    up.stop()


# --- methods ---

@pytest.mark.parametrize("method", [b"TRACE", b"TRACK"])
def test_trace_and_track_are_405_by_default(env, method):
    g, up = env
    resp, _ = exchange(g.port, head([method + b" / HTTP/1.1", b"Host: s.test", b"Connection: close"]))
    assert statuses(resp) == [405], resp[:300]
    assert b"\r\nallow: " in resp.lower()
    c = H2Client(g.port)
    status, _, _ = c.response(c.request("/", "s.test", method=method.decode()))
    c.close()
    assert status == 405
    assert up.request_lines() == []


def test_trace_can_be_allowed_per_entry_point(tmp_path, procs):
    g, up = start(tmp_path, procs, ["--entryPoints.web.http.allowTraceMethod=true"])
    resp, _ = exchange(g.port, head([b"TRACE /t HTTP/1.1", b"Host: s.test", b"Connection: close"]))
    assert statuses(resp) == [200], resp[:300]
    assert up.request_lines() == ["TRACE /t HTTP/1.1"]
    up.stop()


def test_unknown_methods_are_still_forwarded(env):
    g, up = env
    for method in [b"PROPFIND", b"FOO", b"trace"]:
        resp, _ = exchange(g.port, head([method + b" /m HTTP/1.1", b"Host: s.test", b"Connection: close"]))
        assert statuses(resp) == [200], (method, resp[:300])
    assert up.request_lines() == ["PROPFIND /m HTTP/1.1", "FOO /m HTTP/1.1", "trace /m HTTP/1.1"]


# --- the same over TLS (Gantry runs the handshake so it sees the first bytes) ---

@pytest.fixture
def tls_env(tmp_path, procs):
    up = RecordingUpstream()
    y = ("http:\n  routers:\n    r: {rule: \"Host(`s.test`)\", service: s, tls: {}}\n"
         "  services:\n" + service_yaml("s", [up.url]))
    g = procs.gantry(tmp_path, y)
    resp, _ = exchange(g.port, head([b"GET / HTTP/1.1", b"Host: s.test", b"Connection: close"]), tls=True)
    assert statuses(resp) == [200], resp[:300]
    up.requests.clear()
    yield g, up
    up.stop()


@pytest.mark.parametrize("name", ["size_0x2c", "size_tab_word_without_semicolon", "data_then_bare_lf",
                                  "trailer_bare_lf", "extension_over_4k"])
def test_bad_chunked_body_over_tls_is_400_closed_and_never_forwarded(tls_env, name):
    g, up = tls_env
    resp, closed = exchange(g.port, head(CHUNKED, BAD_CHUNKED[name] + SMUGGLED), tls=True)
    assert_refused(resp, closed, up)


def test_tls_http1_valid_neighbours_and_versions(tls_env):
    g, up = tls_env
    body, want = GOOD_CHUNKED["extensions"]
    resp, _ = exchange(g.port, head(CHUNKED, body) + head([b"POST /w HTTP/1.1", b"Host: s.test",
                                                           b"Content-Length:  5 ", b"Connection: close"], b"hello"),
                       tls=True)
    assert statuses(resp) == [200, 200], resp[:300]
    assert [b for _, b in up.requests] == [want, b"hello"]
    resp, closed = exchange(g.port, head([b"GET / HTTP/1.2", b"Host: s.test"]) + SMUGGLED, tls=True)
    assert statuses(resp) == [400] and closed, resp[:300]
    assert len(up.requests) == 2


def test_tls_http2_is_still_negotiated(tls_env):
    g, up = tls_env
    r = __import__("conftest").run(["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                                    "--resolve", "s.test:%d:127.0.0.1" % g.port, "https://s.test:%d/" % g.port])
    assert r.stdout == b"2 200", r.stdout


# --- after an Upgrade request ---

UPGRADE = head([b"GET /u HTTP/1.1", b"Host: s.test", b"Connection: upgrade", b"Upgrade: foo"])


@pytest.mark.parametrize("then", [b"0x2c\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"])
def test_nothing_after_an_upgrade_that_did_not_happen_is_read(env, then):
    """Bytes after a request with Upgrade are not followed by h1_framing
    (they may be a tunnel's); when the upstream does not answer 101, libh2o
    closes the connection after the response, so they are never read as a
    request either."""
    g, up = env
    resp, closed = exchange(g.port, UPGRADE + head(CHUNKED, then + SMUGGLED))
    assert statuses(resp) == [200] and closed, resp[:600]
    assert b"connection: close" in resp.lower()
    assert up.request_lines() == ["GET /u HTTP/1.1"], up.request_lines()
