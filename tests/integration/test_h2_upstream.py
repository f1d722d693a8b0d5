"""HTTP/2 upstreams (issue 16): h2c:// servers and https:// servers that
choose h2 by ALPN, reached by HTTP/1.1 and HTTP/2 clients; multiplexing
(one connection per server per worker, a second only when the server's
stream limit is reached), GOAWAY and killed servers under load, refused
and reset streams, trailers, gRPC through it, serversTransport.disableHTTP2.
The upstreams are real HTTP/2 servers (python3-h2, nghttpd, grpcio) that
count what they see."""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import SLOW, get, run, service_yaml, wait_for
from h2_peers import H2Upstream
from tls_certs import make_cert


def routes(*names):
    return "http:\n  routers:\n" + "".join(
        "    %s: {rule: \"Host(`%s.test`)\", service: %s}\n" % (n, n, n) for n in names)


def curl(port, path, host, *extra, timeout=20):
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code} %{http_version}", "-H", "Host: " + host]
                       + list(extra) + ["http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, timeout=timeout * SLOW)
    out = r.stdout.decode(errors="replace")
    body, _, tail = out.rpartition("\n")
    code, _, ver = tail.partition(" ")
    return int(code or 0), ver, body, r.returncode, r.stderr.decode(errors="replace")


def h2load(port, host, path, n, c, m=10, extra=()):
    hdr = ":authority: " + host  # h2load makes it the Host header over HTTP/1.1
    r = run(["h2load", "-n", str(n), "-c", str(c), "-m", str(m), "-H", hdr] + list(extra)
            + ["http://127.0.0.1:%d%s" % (port, path)], timeout=120)
    out = r.stdout.decode()
    m_ = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    return {"done": int(m_.group(3)), "succeeded": int(m_.group(4)), "failed": int(m_.group(5)),
            "errored": int(m_.group(6)), "2xx": int(st.group(1)), "5xx": int(st.group(4)), "out": out}


@pytest.fixture
def ups():
    started = []

    def make(*a, **kw):
        u = H2Upstream(*a, **kw)
        started.append(u)
        return u
    yield make
    for u in started:
        u.stop()


def test_h2c_upstream_from_h1_and_h2_clients(tmp_path, procs, ups):
    up = ups("a")
    g = procs.gantry(tmp_path, routes("h2c", "nohost") + "  services:\n" + service_yaml("h2c", [up.url])
                     + service_yaml("nohost", [up.url], "        passHostHeader: false\n"))
    wait_for(lambda: get(g.port, "/", "h2c.test")[0] == 200, what="route live")
    status, headers, body = get(g.port, "/", "h2c.test")
    assert body == b"h2 ok from a"
    code, ver, body, rc, _ = curl(g.port, "/", "h2c.test", "--http2-prior-knowledge")
    assert (code, ver, body) == (200, "2", "h2 ok from a")
    # the forwarded headers an HTTP/1.1 server would get, as HTTP/2 fields
    code, _, body, _, _ = curl(g.port, "/headers?x=1", "h2c.test", "-H", "X-Custom: yes", "-H", "Connection: keep-alive")
    import json
    seen = json.loads(body)
    assert seen[":authority"] == "h2c.test"   # passHostHeader defaults to true
    assert seen[":path"] == "/headers?x=1" and seen[":method"] == "GET"
    assert seen["x-custom"] == "yes" and seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-host"] == "h2c.test" and seen["x-forwarded-proto"] == "http"
    assert "connection" not in seen and "keep-alive" not in seen
    code, _, body, _, _ = curl(g.port, "/headers", "nohost.test")
    assert json.loads(body)[":authority"] == "127.0.0.1:%d" % up.port  # passHostHeader: false
    # a request body
    code, _, body, _, _ = curl(g.port, "/echo", "h2c.test", "--data-binary", "hello body")
    assert (code, body) == (200, "hello body")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 300000)
    code, _, body, _, _ = curl(g.port, "/echo", "h2c.test", "--http2-prior-knowledge", "--data-binary", "@%s" % big)
    assert (code, len(body)) == (200, 300000)
    # a large response goes through the flow-control windows
    code, _, body, _, _ = curl(g.port, "/big?n=3000000", "h2c.test")
    assert (code, len(body)) == (200, 3000000)
    # HEAD: the head only, its length kept
    r = subprocess.run(["curl", "-sS", "-I", "-H", "Host: h2c.test", "http://127.0.0.1:%d/" % g.port],
                       capture_output=True, timeout=20)
    assert b" 200" in r.stdout.split(b"\r\n")[0] and b"content-length: 12" in r.stdout.lower(), r.stdout
    assert up.connections <= 2  # one per worker at most


def test_tls_upstream_alpn_h2_and_disable_http2(tmp_path, procs, ups):
    crt, key = make_cert(str(tmp_path), "backend.internal")
    up = ups("tls", tls_files=(crt, key))
    plain = ups("plain")
    dyn = (routes("tls", "h1only", "mir") +
           "  serversTransports:\n"
           "    insecure: {insecureSkipVerify: true}\n"
           "    noh2: {insecureSkipVerify: true, disableHTTP2: true}\n"
           "  services:\n"
           + service_yaml("tls", [up.url], "        serversTransport: insecure\n")
           + service_yaml("h1only", [up.url], "        serversTransport: noh2\n")
           + service_yaml("plain", [plain.url])
           + "    mir:\n      mirroring:\n        service: plain\n        mirrors: [{name: tls, percent: 100}]\n")
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "tls.test")[0] == 200, what="route live")
    for _ in range(5):
        assert get(g.port, "/", "tls.test")[2] == b"h2 ok from tls"
        code, ver, body, _, _ = curl(g.port, "/", "tls.test", "--http2-prior-knowledge")
        assert (code, body) == (200, "h2 ok from tls")
    assert up.connections >= 1 and up.streams >= 10
    h1_before = up.h1_requests
    assert get(g.port, "/", "h1only.test")[2] == b"proto=http/1.1 from tls"  # no h2 offered
    assert up.h1_requests == h1_before + 1
    # mirrors speak HTTP/1.1 and offer no h2 (the copy reaches the h1 responder)
    assert get(g.port, "/", "mir.test")[2] == b"h2 ok from plain"
    wait_for(lambda: up.h1_requests == h1_before + 2, what="mirror copy over HTTP/1.1")


def test_multiplexing_10k_requests_100_clients(tmp_path, procs, ups):
    # 100 clients x 10 streams over 2 workers: 250 at once per server and
    # worker, within the server's stream limit
    a, b = ups("a", max_streams=1000), ups("b", max_streams=1000)
    g = procs.gantry(tmp_path, routes("mux") + "  services:\n" + service_yaml("mux", [a.url, b.url]))
    wait_for(lambda: get(g.port, "/", "mux.test")[0] == 200, what="route live")
    r = h2load(g.port, "mux.test", "/", 10000, 100, m=10)
    assert r["succeeded"] == 10000 and r["2xx"] == 10000, r["out"]
    # balanced per request, over at most one connection per server per worker (2 workers)
    assert a.streams > 4000 and b.streams > 4000, (a.streams, b.streams)
    assert a.connections <= 2 and b.connections <= 2, (a.connections, b.connections)
    # and from HTTP/1.1 clients too
    r = h2load(g.port, "mux.test", "/", 2000, 50, m=1, extra=["--h1"])
    assert r["succeeded"] == 2000, r["out"]
    assert a.connections <= 2 and b.connections <= 2, (a.connections, b.connections)


def test_second_connection_only_when_saturated(tmp_path, procs, ups):
    up = ups("five", max_streams=5, delay_ms=400)
    g = procs.gantry(tmp_path, routes("five") + "  services:\n" + service_yaml("five", [up.url]), workers=1)
    wait_for(lambda: get(g.port, "/", "five.test")[0] == 200, what="route live")
    assert up.connections == 1

    def burst(n):
        res = []
        ts = [threading.Thread(target=lambda: res.append(get(g.port, "/", "five.test")[0])) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return res
    assert burst(5) == [200] * 5
    assert up.connections == 1                 # five fit on one connection
    assert burst(10) == [200] * 10
    assert up.connections == 2, up.connections  # the sixth stream needed a second one
    assert up.max_open <= 5


def test_goaway_under_load_no_failures(tmp_path, procs, ups):
    up = ups("ga", goaway_every=200)
    g = procs.gantry(tmp_path, routes("ga") + "  services:\n" + service_yaml("ga", [up.url]))
    wait_for(lambda: get(g.port, "/", "ga.test")[0] == 200, what="route live")
    r = h2load(g.port, "ga.test", "/", 3000, 20, m=10)
    assert r["succeeded"] == 3000 and r["2xx"] == 3000, r["out"]
    assert up.connections >= 5  # GOAWAY happened, new connections took over


def test_killed_upstream_under_load(tmp_path, procs, ups):
    a, b = ups("a", delay_ms=5), ups("b", delay_ms=5)
    g = procs.gantry(tmp_path, routes("kill") + "  services:\n" + service_yaml("kill", [a.url, b.url]))
    wait_for(lambda: get(g.port, "/", "kill.test")[0] == 200, what="route live")
    killer = threading.Timer(1.0, a.stop)
    killer.start()
    r = h2load(g.port, "kill.test", "/", 3000, 20, m=5)
    killer.join()
    assert a.stopped and b.streams > 1000
    assert r["succeeded"] == 3000 and r["2xx"] == 3000, r["out"]


def test_refused_and_reset_streams(tmp_path, procs, ups):
    up = ups("r")
    g = procs.gantry(tmp_path, routes("r") + "  services:\n" + service_yaml("r", [up.url]))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    # REFUSED_STREAM: the request was not processed, so even a POST is retried
    before = up.streams
    up.refuse_left = 2
    code, _, body, _, _ = curl(g.port, "/echo", "r.test", "--data-binary", "again")
    assert (code, body) == (200, "again")
    assert up.streams == before + 3
    # reset before the response head: 502
    assert get(g.port, "/rst", "r.test")[0] == 502
    # reset after the head: the client sees a broken response, not a clean end
    code, ver, body, rc, err = curl(g.port, "/rst-after-headers", "r.test", "--http2-prior-knowledge")
    assert rc != 0 and body.startswith("partial") is not False, (rc, err)
    code, ver, body, rc, err = curl(g.port, "/rst-after-headers", "r.test")
    assert rc != 0, (rc, err)  # HTTP/1.1: chunked response without its last chunk
    # the server still serves
    assert get(g.port, "/", "r.test")[0] == 200


def test_client_reset_cancels_upstream_stream(tmp_path, procs, ups):
    import socket
    import h2.config
    import h2.connection
    up = ups("c")
    g = procs.gantry(tmp_path, routes("c") + "  services:\n" + service_yaml("c", [up.url]))
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port))
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "c.test"), (":path", "/never")],
                   end_stream=True)
    s.sendall(c.data_to_send())
    wait_for(lambda: "/never" in up.paths, what="request upstream")
    c.reset_stream(sid)
    s.sendall(c.data_to_send())
    wait_for(lambda: up.cancelled == 1, what="RST_STREAM(CANCEL) upstream")
    # and once the response has started (a body the client stops taking)
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "c.test"), (":path", "/stall")],
                   end_stream=True)
    s.sendall(c.data_to_send())
    s.settimeout(5 * SLOW)
    got_head = False
    while not got_head:
        for ev in c.receive_data(s.recv(65536)):
            got_head = got_head or (type(ev).__name__ == "ResponseReceived" and ev.stream_id == sid)
    c.reset_stream(sid)
    s.sendall(c.data_to_send())
    wait_for(lambda: up.cancelled == 2, what="RST_STREAM(CANCEL) upstream after the head")
    s.close()


def test_response_header_timeout_and_no_server(tmp_path, procs, ups):
    up = ups("t")
    dyn = (routes("t", "gone") + "  serversTransports:\n    quick: {forwardingTimeouts: {responseHeaderTimeout: 300ms}}\n"
           "  services:\n" + service_yaml("t", [up.url], "        serversTransport: quick\n")
           + service_yaml("gone", ["h2c://127.0.0.1:1"]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "t.test")[0] == 200, what="route live")
    assert get(g.port, "/never", "t.test")[0] == 504
    assert get(g.port, "/", "t.test")[0] == 200
    assert get(g.port, "/", "gone.test")[0] == 502


def nghttp_trailers(port, host, path):
    r = run(["nghttp", "-v", "-H", ":authority: " + host, "http://127.0.0.1:%d%s" % (port, path)], check=False)
    out = r.stdout.decode(errors="replace")
    # the HEADERS frame after the DATA frames carries the trailers
    tail = out.split("recv DATA", 1)[-1] if "recv DATA" in out else ""
    return out, tail


class ChunkedTrailerUpstream:
    """An HTTP/1.1 server answering chunked with a trailer section."""

    def __init__(self):
        import socket as _s
        self.lsock = _s.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.lsock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                _, buf = buf.split(b"\r\n\r\n", 1)
                s.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: grpc-status, x-checksum\r\n\r\n"
                          b"5\r\nhello\r\n0\r\ngrpc-status: 0\r\nx-checksum: abc\r\ncontent-length: 99\r\n\r\n")
        finally:
            s.close()

    def stop(self):
        self.lsock.close()


def test_response_trailers_to_http2_clients(tmp_path, procs, ups):
    up = ups("tr")
    h1 = ChunkedTrailerUpstream()
    try:
        g = procs.gantry(tmp_path, routes("tr", "h1tr") + "  services:\n" + service_yaml("tr", [up.url])
                         + service_yaml("h1tr", [h1.url]))
        wait_for(lambda: get(g.port, "/", "tr.test")[0] == 200, what="route live")
        out, tail = nghttp_trailers(g.port, "tr.test", "/trailers")
        assert "grpc-status: 0" in tail and "x-trailer: yes" in tail, out
        out, tail = nghttp_trailers(g.port, "h1tr.test", "/")
        assert "grpc-status: 0" in tail and "x-checksum: abc" in tail, out
        assert "content-length: 99" not in tail  # framing fields are not trailers
    finally:
        h1.stop()


def test_h1_chunked_trailers_keep_the_connection_usable(tmp_path, procs):
    """The trailer section is read to its end: the body is intact and the
    keep-alive connection carries the next request."""
    h1 = ChunkedTrailerUpstream()
    try:
        g = procs.gantry(tmp_path, routes("h1tr") + "  services:\n" + service_yaml("h1tr", [h1.url]), workers=1)
        wait_for(lambda: get(g.port, "/", "h1tr.test")[0] == 200, what="route live")
        for _ in range(5):
            status, headers, body = get(g.port, "/", "h1tr.test")
            assert (status, body) == (200, b"hello")
    finally:
        h1.stop()


# ---- gRPC (python3-grpcio as client and server; generic handlers, no stubs) ----

def grpc_server(name):
    import grpc
    from concurrent import futures

    def echo(request, context):
        context.set_trailing_metadata((("x-served-by", name),))
        return request

    def slow(request, context):
        time.sleep(2)
        return request

    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, "h2c://127.0.0.1:%d" % port


def grpc_call(port, host, method, payload=b"ping", timeout=10):
    import grpc
    ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=(("grpc.default_authority", host),))
    try:
        fn = ch.unary_unary("/test.Echo/" + method)
        return fn.with_call(payload, timeout=timeout)
    finally:
        ch.close()


GRPC_EMPTY = "/dev/zero"  # replaced below by a file holding one empty gRPC message


def curl_grpc(port, host, path, *extra):
    """A gRPC-shaped request over HTTP/2 (nghttp: curl 7.88 drops, or waits
    forever on, a response that is complete before its upload is, both of
    which RFC 9113 8.1 allows): the head of Gantry's answer, as
    "http/2 <status>" and "name: value" lines, lowercased."""
    headers = []
    for i in range(0, len(extra), 2):  # ("-H", "name: value") pairs
        headers += ["-H", extra[i + 1]]
    t0 = time.time()
    r = subprocess.run(["nghttp", "-v", "-H", ":authority: " + host, "-H", "content-type: application/grpc",
                        "-H", "te: trailers", "-d", GRPC_EMPTY] + headers + ["http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, timeout=30 * SLOW)
    head = []
    for line in r.stdout.decode(errors="replace").splitlines():
        m = re.search(r"recv \(stream_id=\d+\) (:?[^:]+): (.*)$", line)
        if m:
            name, value = m.group(1), m.group(2)
            head.append("http/2 " + value if name == ":status" else "%s: %s" % (name, value))
    out = "\n".join(head).lower()
    return out if out else "nghttp: " + r.stdout.decode(errors="replace")[-2000:], time.time() - t0


def test_grpc_errors_are_grpc_statuses(tmp_path, procs, ups):
    global GRPC_EMPTY
    GRPC_EMPTY = str(tmp_path / "empty.grpc")
    with open(GRPC_EMPTY, "wb") as f:
        f.write(b"\x00\x00\x00\x00\x00")
    up = ups("slow")
    dyn = (routes("gone", "slow", "empty") + "  services:\n" + service_yaml("gone", ["h2c://127.0.0.1:1"])
           + service_yaml("slow", [up.url]) + "    empty:\n      loadBalancer:\n        servers: []\n")
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "slow.test")[0] == 200, what="route live")
    # no server can be reached: UNAVAILABLE, in a trailers-only answer
    head, _ = curl_grpc(g.port, "gone.test", "/test.Echo/Echo")
    assert head.startswith("http/2 200") and "grpc-status: 14" in head and "content-type: application/grpc" in head, head
    # grpc-timeout is a deadline: DEADLINE_EXCEEDED after it, the upstream stream cancelled
    head, took = curl_grpc(g.port, "slow.test", "/never", "-H", "grpc-timeout: 300m")
    assert "grpc-status: 4" in head, head
    assert 0.25 < took < 2.5, took
    wait_for(lambda: up.cancelled >= 1, what="upstream stream cancelled")
    # a plain request to the same route is not turned into gRPC
    assert get(g.port, "/", "gone.test")[0] == 502
    # metrics per gRPC status
    metrics = g.admin("/metrics")[1].decode()
    assert 'gantry_service_grpc_responses_total{service="gone@file",grpc_status="14"} 1' in metrics, metrics[-3000:]
    assert 'gantry_service_grpc_responses_total{service="slow@file",grpc_status="4"} 1' in metrics


def test_grpc_unary_through_h2c_upstreams(tmp_path, procs):
    import grpc
    s1, u1 = grpc_server("one")
    s2, u2 = grpc_server("two")
    try:
        g = procs.gantry(tmp_path, routes("grpc", "gone") + "  services:\n" + service_yaml("grpc", [u1, u2])
                         + service_yaml("gone", ["h2c://127.0.0.1:1"]))
        wait_for(lambda: get(g.port, "/", "grpc.test")[0] != 404, what="route live")
        seen = []
        for i in range(20):
            resp, call = grpc_call(g.port, "grpc.test", "Echo", b"msg%d" % i)
            assert resp == b"msg%d" % i
            seen.append(dict(call.trailing_metadata())["x-served-by"])
        assert set(seen) == {"one", "two"}  # balanced per request
        with pytest.raises(grpc.RpcError) as e:
            grpc_call(g.port, "grpc.test", "Slow", timeout=0.3)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # the trailers-only UNAVAILABLE answer, as a gRPC client sees it (libh2o's
        # server ends it with an empty DATA frame, which grpcio reads as "Stream removed")
        with pytest.raises(grpc.RpcError) as e:
            grpc_call(g.port, "gone.test", "Echo")
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value
    finally:
        s1.stop(0)
        s2.stop(0)


def grpc_health_server(state):
    """grpc.health.v1.Health/Check answering state["status"] (1 SERVING,
    2 NOT_SERVING), by generic handler on raw bytes (no stubs needed)."""
    import grpc
    from concurrent import futures

    def check(request, context):
        state["calls"] = state.get("calls", 0) + 1
        return bytes([0x08, state["status"]])

    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, "h2c://127.0.0.1:%d" % port


def test_health_check_grpc_mode_and_h2c(tmp_path, procs, ups):
    state = {"status": 1}
    srv, url = grpc_health_server(state)
    up = ups("plain")
    try:
        dyn = (routes("hc", "hh") + "  services:\n"
               + service_yaml("hc", [url], "        healthCheck: {mode: grpc, interval: 200ms, timeout: 150ms}\n")
               + service_yaml("hh", [up.url], "        healthCheck: {path: /, interval: 200ms, timeout: 150ms}\n"))
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: state.get("calls", 0) >= 2, timeout=5 * SLOW, what="gRPC health checks")

        def healthy(name):
            svc = {s["name"]: s for s in g.api("/api/http/services")}[name + "@file"]
            return svc.get("serverStatus", {})
        wait_for(lambda: list(healthy("hc").values()) == ["UP"], what="gRPC server UP")
        # an HTTP health check of an h2c server speaks HTTP/2 with prior knowledge
        wait_for(lambda: "/" in up.paths, what="HTTP/2 health check")
        assert list(healthy("hh").values()) == ["UP"]
        state["status"] = 2  # NOT_SERVING
        wait_for(lambda: list(healthy("hc").values()) == ["DOWN"], what="gRPC server DOWN")
        head, _ = curl_grpc_simple(g.port, "hc.test")
        assert "grpc-status: 14" in head, head  # no healthy server: UNAVAILABLE
        state["status"] = 1
        wait_for(lambda: list(healthy("hc").values()) == ["UP"], what="gRPC server UP again")
    finally:
        srv.stop(0)


def curl_grpc_simple(port, host):
    r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "Host: " + host,
                        "-H", "content-type: application/grpc", "-X", "POST",
                        "http://127.0.0.1:%d/test.Echo/Echo" % port], capture_output=True, timeout=30 * SLOW)
    return r.stdout.decode(errors="replace").lower(), 0


def test_slow_client_holds_back_the_upstream(tmp_path, procs, ups):
    """Flow control follows the client: a client that reads nothing gets the
    upstream stream stalled at its window (256 KiB) plus socket buffers."""
    import socket
    up = ups("big")
    g = procs.gantry(tmp_path, routes("big") + "  services:\n" + service_yaml("big", [up.url]))
    wait_for(lambda: get(g.port, "/", "big.test")[0] == 200, what="route live")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # before connect: shrunk later, the window stalls for seconds
    s.connect(("127.0.0.1", g.port))
    s.sendall(b"GET /big?n=50000000 HTTP/1.1\r\nHost: big.test\r\n\r\n")
    wait_for(lambda: up.sent > 0, what="response started")
    time.sleep(1.0 * SLOW)
    stalled = up.sent
    time.sleep(0.5 * SLOW)
    assert up.sent == stalled, "the upstream kept sending to a client that reads nothing"
    assert stalled < 8 * 1024 * 1024, stalled
    # reading resumes the stream to its end
    got = 0
    s.settimeout(30 * SLOW)
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got += len(d)
        if got >= 50000000:
            break
    assert got >= 50000000
    s.close()


def test_idle_connection_closed_and_dead_peer_detected(tmp_path, procs, ups):
    up = ups("idle")
    dead = ups("dead")
    dyn = (routes("idle", "dead") + "  serversTransports:\n"
           "    short: {forwardingTimeouts: {idleConnTimeout: 500ms, readIdleTimeout: 300ms, pingTimeout: 300ms}}\n"
           "  services:\n"
           + service_yaml("idle", [up.url], "        serversTransport: short\n")
           + service_yaml("dead", [dead.url], "        serversTransport: short\n"))
    g = procs.gantry(tmp_path, dyn, workers=1)
    wait_for(lambda: get(g.port, "/", "idle.test")[0] == 200, what="route live")
    assert up.open_conns == 1
    wait_for(lambda: up.open_conns == 0, timeout=3 * SLOW, what="idle HTTP/2 connection closed")
    # a peer that stops answering (PINGs included) is found dead and its request fails over
    assert get(g.port, "/", "dead.test")[0] == 200
    dead.frozen = True
    t0 = time.time()
    status = get(g.port, "/never", "dead.test", timeout=20)[0]
    assert status == 502 and time.time() - t0 < 3 * SLOW, (status, time.time() - t0)
    g.wait_log("no PING acknowledgement")


def test_grpc_reaches_h2c_and_tls_grpc_servers(tmp_path, procs):
    """The request half of gRPC through HTTP/2 upstreams, whatever the client
    connection: grpcio servers behind h2c:// and https:// (ALPN h2) answer a
    unary call made by curl, balanced per request."""
    import grpc
    from concurrent import futures
    crt, key = make_cert(str(tmp_path), "grpc.internal")
    seen = []

    def serve(tls):
        def echo(request, context):
            seen.append("tls" if tls else "h2c")
            return request
        handler = grpc.method_handlers_generic_handler("test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
        srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        srv.add_generic_rpc_handlers((handler,))
        if tls:
            creds = grpc.ssl_server_credentials([(open(key, "rb").read(), open(crt, "rb").read())])
            port = srv.add_secure_port("127.0.0.1:0", creds)
        else:
            port = srv.add_insecure_port("127.0.0.1:0")
        srv.start()
        return srv, ("https://127.0.0.1:%d" if tls else "h2c://127.0.0.1:%d") % port

    s1, u1 = serve(False)
    s2, u2 = serve(True)
    try:
        dyn = (routes("g") + "  serversTransports:\n    insecure: {insecureSkipVerify: true}\n  services:\n"
               + service_yaml("g", [u1, u2], "        serversTransport: insecure\n"))
        g = procs.gantry(tmp_path, dyn, workers=1)
        global GRPC_EMPTY
        GRPC_EMPTY = str(tmp_path / "msg.grpc")
        with open(GRPC_EMPTY, "wb") as f:
            f.write(b"\x00\x00\x00\x00\x03abc")
        wait_for(lambda: curl_grpc(g.port, "g.test", "/test.Echo/Echo")[0].startswith("http/2 200"), what="route live")
        before = len(seen)
        for _ in range(6):
            head, _ = curl_grpc(g.port, "g.test", "/test.Echo/Echo")
            assert head.startswith("http/2 200") and "content-type: application/grpc" in head, head
        assert len(seen) == before + 6
        assert seen[before:].count("h2c") == 3 and seen[before:].count("tls") == 3  # balanced per request
    finally:
        s1.stop(0)
        s2.stop(0)


def test_nghttpd_upstream(tmp_path, procs):
    """Another HTTP/2 implementation behind Gantry: nghttpd (nghttp2's server)
    in cleartext, a static tree; small files under load and a 5 MB file."""
    import hashlib
    from conftest import Process, free_port, wait_port
    docs = tmp_path / "htdocs"
    docs.mkdir()
    (docs / "small").write_bytes(b"nghttpd small\n")
    big = os.urandom(5 * 1024 * 1024)
    (docs / "big").write_bytes(big)
    port = free_port()
    procs.add(Process(["nghttpd", "--no-tls", "-d", str(docs), "--address=127.0.0.1", str(port)], "nghttpd"))
    wait_port(port)
    g = procs.gantry(tmp_path, routes("ng") + "  services:\n" + service_yaml("ng", ["h2c://127.0.0.1:%d" % port]))
    wait_for(lambda: get(g.port, "/small", "ng.test")[0] == 200, what="route live")
    r = h2load(g.port, "ng.test", "/small", 5000, 50, m=10)
    assert r["succeeded"] == 5000, r["out"]
    r = h2load(g.port, "ng.test", "/small", 1000, 20, m=1, extra=["--h1"])
    assert r["succeeded"] == 1000, r["out"]
    for extra in ((), ("--http2-prior-knowledge",)):
        res = subprocess.run(["curl", "-sS", "-H", "Host: ng.test"] + list(extra) + ["http://127.0.0.1:%d/big" % g.port],
                             capture_output=True, timeout=60 * SLOW)
        assert hashlib.sha256(res.stdout).digest() == hashlib.sha256(big).digest(), (len(res.stdout), res.stderr)


def test_tls_h2_upstream_under_load_few_connections(tmp_path, procs, ups):
    """A cold https:// server learns it is HTTP/2 from the first handshakes:
    the connections opened meanwhile do not all stay."""
    crt, key = make_cert(str(tmp_path), "backend.internal")
    up = ups("tls", tls_files=(crt, key), max_streams=1000)
    dyn = (routes("tls") + "  serversTransports:\n    insecure: {insecureSkipVerify: true}\n  services:\n"
           + service_yaml("tls", [up.url], "        serversTransport: insecure\n"))
    g = procs.gantry(tmp_path, dyn)
    r = h2load(g.port, "tls.test", "/", 4000, 40, m=10)
    assert r["succeeded"] == 4000, r["out"]
    wait_for(lambda: up.open_conns <= 2, timeout=5 * SLOW, what="one HTTP/2 connection per worker left")
    opened, kept = up.connections, up.open_conns
    r = h2load(g.port, "tls.test", "/", 4000, 40, m=10)
    assert r["succeeded"] == 4000, r["out"]
    # warm: a worker that holds a connection opens none; one that took no
    # client in the cold run (the kernel spreads accepts unevenly) knows the
    # server speaks h2 from the other worker and opens exactly one
    assert up.connections - opened <= 2 - kept, (opened, kept, up.connections)


def test_request_trailers_reach_an_h2c_upstream_as_trailers(tmp_path, procs, ups):
    """Request trailers go up as an HTTP/2 trailer HEADERS frame after the
    body, from an HTTP/2 client (trailers after DATA) and from an HTTP/1.1
    client (chunked trailer section of a body that streams); framing fields
    in them do not."""
    import socket
    from h2_raw import Client
    up = ups("rt")
    g = procs.gantry(tmp_path, routes("rt") + "  services:\n" + service_yaml("rt", [up.url]))
    wait_for(lambda: get(g.port, "/", "rt.test")[0] == 200, what="route live")
    c = Client(g.port)
    try:
        sid = c.request([(":method", "POST"), (":scheme", "http"), (":authority", "rt.test"), (":path", "/echo?h2")],
                        body=b"h2 body", trailers=[("x-sum", "h2"), ("grpc-status-details", "t")])
        headers, body, _, reset = c.response(sid)
        assert (headers.get(":status"), body, reset) == ("200", b"h2 body", None), (headers, body, reset)
    finally:
        c.close()
    big = b"b" * (1024 * 1024)  # beyond what is collected before the upstream request starts: it streams
    s = socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW)
    try:
        s.sendall(b"POST /echo?h1 HTTP/1.1\r\nHost: rt.test\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
                  b"%x\r\n%s\r\n" % (len(big), big))
        time.sleep(0.2)
        s.sendall(b"7\r\nh1 body\r\n0\r\nX-Sum: h1\r\nContent-Length: 99\r\n\r\n")
        got = b""
        while not got.endswith(b"h1 body"):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.1 200") and got.endswith(big + b"h1 body"), got[:300]
    finally:
        s.close()
    wait_for(lambda: len(up.trailers_seen) == 2, 5, what="two trailer sections at the upstream")
    seen = dict(up.trailers_seen)
    assert seen["/echo?h2"] == [("x-sum", "h2"), ("grpc-status-details", "t")], seen
    assert seen["/echo?h1"] == [("x-sum", "h1")], seen  # content-length is framing, not a trailer
    assert [b for p, b in up.bodies_seen if p in ("/echo?h1", "/echo?h2")] == [b"h2 body", big + b"h1 body"]


def test_request_trailers_of_a_small_chunked_body_reach_the_upstream(tmp_path, procs, ups):
    """A chunked body that is complete before the upstream request starts
    still sends its trailers up (as trailers: the body streams instead of
    going up with a length), to HTTP/2 and HTTP/1.1 upstreams."""
    import socket
    up = ups("rt")
    g = procs.gantry(tmp_path, routes("rt") + "  services:\n" + service_yaml("rt", [up.url]))
    wait_for(lambda: get(g.port, "/", "rt.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port), timeout=10 * SLOW)
    try:
        s.sendall(b"POST /echo?small HTTP/1.1\r\nHost: rt.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nsmall\r\n0\r\nX-Sum: small\r\n\r\n")
        got = b""
        while not got.endswith(b"small"):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got
    finally:
        s.close()
    wait_for(lambda: up.trailers_seen, 5, what="the trailer section at the upstream")
    assert up.trailers_seen == [("/echo?small", [("x-sum", "small")])]
