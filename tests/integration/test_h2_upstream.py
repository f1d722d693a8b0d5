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
    r = run(["h2load", "-n", str(n), "-c", str(c), "-m", str(m), "-H", "host: " + host] + list(extra)
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
    g = procs.gantry(tmp_path, routes("h2c") + "  services:\n" + service_yaml("h2c", [up.url]))
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
    assert up.connections <= 2  # one per worker at most


def test_tls_upstream_alpn_h2_and_disable_http2(tmp_path, procs, ups):
    crt, key = make_cert(str(tmp_path), "backend.internal")
    up = ups("tls", tls_files=(crt, key))
    dyn = (routes("tls", "h1only") +
           "  serversTransports:\n"
           "    insecure: {insecureSkipVerify: true}\n"
           "    noh2: {insecureSkipVerify: true, disableHTTP2: true}\n"
           "  services:\n"
           + service_yaml("tls", [up.url], "        serversTransport: insecure\n")
           + service_yaml("h1only", [up.url], "        serversTransport: noh2\n"))
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
