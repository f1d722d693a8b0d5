"""Request smuggling and malformed HTTP, on raw sockets against the real
binary: each ambiguous or broken request is answered 400 (413 for bodies
over the limit) and the upstream never sees it, let alone two requests.
"""
import h2.errors
import pytest

from attack import H2Client, RecordingUpstream, raw_exchange, status_of
from conftest import get, service_yaml

HOST = b"s.test"


def routes(up, extra_router=""):
    return ("http:\n  routers:\n    r: {rule: \"Host(`s.test`)\", service: s}\n" + extra_router +
            "  services:\n" + service_yaml("s", [up.url]))


@pytest.fixture
def env(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, routes(up), args=["--entryPoints.web.http.maxRequestBodyBytes=1000"])
    assert get(g.port, "/", "s.test")[0] == 200
    up.requests.clear()
    yield g, up
    up.stop()


def head(lines, body=b""):
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


SMUGGLE = b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: s.test\r\n\r\n"

BAD_REQUESTS = {
    # framing conflicts (CL.TE / TE.CL desync)
    "cl_and_te": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: %d" % len(SMUGGLE),
                       b"Transfer-Encoding: chunked"], SMUGGLE),
    "te_and_cl": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked",
                       b"Content-Length: 4"], SMUGGLE),
    "duplicate_cl_differ": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: 5", b"Content-Length: 41"],
                                b"hello" + SMUGGLE),
    "duplicate_cl_same": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: 5", b"Content-Length: 5"],
                              b"hello"),
    "cl_list": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: 5, 5"], b"hello"),
    "cl_plus": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: +5"], b"hello"),
    "duplicate_te": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: identity",
                          b"Transfer-Encoding: chunked"], SMUGGLE),
    "te_not_chunked": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked, identity"], SMUGGLE),
    "te_space_before_colon": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding : chunked",
                                   b"Content-Length: 4"], SMUGGLE),
    "obs_fold": head([b"GET / HTTP/1.1", b"Host: s.test", b"X-A: one", b" folded: two"]),
    "obs_fold_te": head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: 4", b"X-A: b",
                         b"\tTransfer-Encoding: chunked"], SMUGGLE),
    # chunked bodies
    "chunk_size_invalid": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked"],
                               b"zz\r\nhello\r\n0\r\n\r\n"),
    "chunk_size_overflow": head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked"],
                                b"1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    # bytes that must never reach a header or request line
    "nul_in_value": head([b"GET / HTTP/1.1", b"Host: s.test", b"X-A: a\x00b"]),
    "cr_in_value": head([b"GET / HTTP/1.1", b"Host: s.test", b"X-A: a\rX-B: b"]),
    "space_in_target": head([b"GET /a b HTTP/1.1", b"Host: s.test"]),
    "ctl_in_target": head([b"GET /a\x01b HTTP/1.1", b"Host: s.test"]),
    "bad_header_name": head([b"GET / HTTP/1.1", b"Host: s.test", b"X(A): b"]),
    "invalid_host": head([b"GET / HTTP/1.1", b"Host: s.test/../x"]),
    "bad_version": head([b"GET / HTTP/9.9", b"Host: s.test"]),
    # libh2o's limits: the head (request line and headers) at most 408 KiB, 100 headers
    "head_too_long": head([b"GET /" + b"a" * 420000 + b" HTTP/1.1", b"Host: s.test"]),
    "header_too_long": head([b"GET / HTTP/1.1", b"Host: s.test", b"X-A: " + b"a" * 420000]),
    "too_many_headers": head([b"GET / HTTP/1.1", b"Host: s.test"] + [b"X-%d: a" % i for i in range(120)]),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_malformed_request_is_refused_and_never_forwarded(env, name):
    g, up = env
    resp = raw_exchange(g.port, BAD_REQUESTS[name])
    assert status_of(resp) == 400, (name, resp[:300])
    assert up.request_lines() == [], (name, up.request_lines())
    # the connection is closed after the 400: nothing else is read from it
    assert resp.count(b"HTTP/1.1 ") == 1
    assert get(g.port, "/", "s.test")[0] == 200  # others are still served


def test_max_header_bytes_is_431(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, routes(up), args=["--entryPoints.web.http.maxHeaderBytes=4096"])
    resp = raw_exchange(g.port, head([b"GET / HTTP/1.1", b"Host: s.test", b"X-A: " + b"a" * 5000]))
    assert status_of(resp) == 431, resp[:200]
    assert get(g.port, "/", "s.test", headers={"X-A": "a" * 3000})[0] == 200
    c = H2Client(g.port)
    status, _, _ = c.response(c.request("/", "s.test", extra=[("x-a", "b" * 5000)]))
    assert status == 431
    c.close()
    assert len(up.requests) == 1
    up.stop()


def test_valid_requests_still_pass_with_one_request_upstream(env):
    g, up = env
    ok = [
        head([b"POST /p HTTP/1.1", b"Host: s.test", b"Content-Length: 5", b"Connection: close"], b"hello"),
        head([b"POST /c HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked", b"Connection: close"],
             b"5\r\nhello\r\n0\r\n\r\n"),
        head([b"GET /t HTTP/1.1", b"Host: s.test", b"X-A: a\tb", b"Connection: close"]),
    ]
    for req in ok:
        resp = raw_exchange(g.port, req)
        assert status_of(resp) == 200, resp[:200]
    lines = up.request_lines()
    assert lines == ["POST /p HTTP/1.1", "POST /c HTTP/1.1", "GET /t HTTP/1.1"], lines
    # the chunked body went upstream de-chunked, with its length
    h, body = up.requests[1]
    assert body == b"hello" and b"content-length: 5" in h.lower() and b"transfer-encoding" not in h.lower()


def test_pipelined_requests_are_forwarded_one_by_one(env):
    g, up = env
    two = (head([b"GET /one HTTP/1.1", b"Host: s.test"]) +
           head([b"GET /two HTTP/1.1", b"Host: s.test", b"Connection: close"]))
    resp = raw_exchange(g.port, two)
    assert resp.count(b"HTTP/1.1 200") == 2
    assert up.request_lines() == ["GET /one HTTP/1.1", "GET /two HTTP/1.1"]


def test_body_limit_is_413_per_entry_point(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, routes(up), entrypoints=("small", "big"),
                     args=["--entryPoints.small.http.maxRequestBodyBytes=1000",
                           "--entryPoints.big.http.maxRequestBodyBytes=100000"])
    body = b"x" * 5000
    for port, want in ((g.ports["small"], 413), (g.ports["big"], 200)):
        # with a Content-Length: refused before the body is read
        resp = raw_exchange(port, head([b"POST / HTTP/1.1", b"Host: s.test", b"Content-Length: 5000",
                                        b"Connection: close"], body))
        assert status_of(resp) == want, resp[:200]
        # chunked: refused once the limit is passed
        chunked = b"".join(b"3e8\r\n" + b"y" * 1000 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"
        resp = raw_exchange(port, head([b"POST / HTTP/1.1", b"Host: s.test", b"Transfer-Encoding: chunked",
                                        b"Connection: close"], chunked))
        assert status_of(resp) == want, resp[:200]
    assert len(up.requests) == 2 and all(len(b) == 5000 for _, b in up.requests)
    up.stop()


def test_http2_oversized_body_is_413(tmp_path, procs):
    """An HTTP/2 body of unknown length over maxBodySize: 413 when the bytes
    pass the limit (the upstream, slow to answer, had the head and the
    bytes under the limit: the body streams), the upstream connection is
    cut, the rest of the body is refused (RST_STREAM NO_ERROR after the
    answer, RFC 9113 8.1), the connection serves on."""
    up = RecordingUpstream(delay=1.0)
    g = procs.gantry(tmp_path, routes(up), args=["--entryPoints.web.http.maxRequestBodyBytes=1000"])
    c = H2Client(g.port)
    sid = c.request("/", "s.test", method="POST", end_stream=False)
    c.conn.send_data(sid, b"z" * 5000, end_stream=True)
    c.flush()
    status, _, _ = c.response(sid)
    assert status == 413
    sid = c.request("/", "s.test", method="POST", end_stream=False)
    c.conn.send_data(sid, b"z" * 100, end_stream=True)
    c.flush()
    assert c.response(sid)[0] == 200
    c.close()
    up.stop()


def test_http2_declared_oversized_body_is_413_at_once(env):
    """A content-length over maxBodySize is answered before any DATA."""
    g, up = env
    c = H2Client(g.port)
    sid = c.request("/", "s.test", method="POST", end_stream=False, extra=[("content-length", "5000")])
    status, _, _ = c.response(sid)
    assert status == 413
    c.close()
    assert up.request_lines() == []


H2_BAD = {
    "space_in_path": [(":path", "/a b")],
    "crlf_in_path": [(":path", "/a\r\nX-Injected: 1")],
    "bad_method": [(":method", "GE T")],
    "crlf_in_authority": [(":authority", "s.test\r\nX-Injected: 1")],
}


@pytest.mark.parametrize("name", sorted(H2_BAD))
def test_http2_pseudo_headers_cannot_inject_into_the_upstream_request(env, name):
    g, up = env
    c = H2Client(g.port, validate=False)
    base = {":method": "GET", ":path": "/", ":scheme": "http", ":authority": "s.test"}
    base.update(dict(H2_BAD[name]))
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, list(base.items()), end_stream=True)
    c.flush()
    status, _, reset = c.response(sid)
    assert status == 400 or reset is not None, (name, status, reset)
    c.close()
    assert up.request_lines() == [], up.request_lines()


def test_http2_header_value_with_newline_is_400(env):
    g, up = env
    c = H2Client(g.port, validate=False)
    sid = c.request("/", "s.test", extra=[("x-a", "a\r\nx-injected: 1")])
    c.flush()
    status, _, reset = c.response(sid)
    assert status == 400 or reset is not None
    c.close()
    assert up.request_lines() == []


def test_http2_content_length_mismatch_is_reset(env):
    g, up = env
    c = H2Client(g.port, validate=False)
    sid = c.request("/", "s.test", method="POST", extra=[("content-length", "3")], end_stream=False)
    c.conn.send_data(sid, b"longer than three", end_stream=True)
    c.flush()
    status, _, reset = c.response(sid)
    assert status is None and reset == h2.errors.ErrorCodes.PROTOCOL_ERROR
    c.close()
    assert up.request_lines() == []
