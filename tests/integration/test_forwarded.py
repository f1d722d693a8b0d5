"""X-Forwarded-* and X-Real-Ip as Traefik sets them; incoming ones are
trusted only from forwardedHeaders.trustedIPs; passHostHeader."""
from conftest import service_yaml, whoami_json


def config(up, pass_host=True):
    extra = "" if pass_host else "        passHostHeader: false\n"
    return ("http:\n  routers:\n    f:\n      rule: \"Host(`fwd.test`)\"\n      service: s\n"
            "  services:\n" + service_yaml("s", [up.url], extra))


def headers(port, **kw):
    return {k.lower(): v for k, v in whoami_json(port, "/", "fwd.test:%d" % port, **kw)["headers"].items()}


def test_forwarded_headers_from_untrusted_client(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    h = headers(g.port, headers={"X-Forwarded-For": "6.6.6.6", "X-Real-Ip": "6.6.6.6", "X-Forwarded-Proto": "https",
                                 "X-Forwarded-Host": "evil.test"})
    assert h["x-forwarded-for"] == "127.0.0.1"  # forged values are replaced
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "fwd.test:%d" % g.port
    assert h["x-forwarded-port"] == str(g.port)
    assert "x-forwarded-server" in h
    assert h["host"] == "fwd.test:%d" % g.port  # passHostHeader defaults to true


def test_forwarded_headers_from_trusted_proxy(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up), args=["--entryPoints.web.forwardedHeaders.trustedIPs=127.0.0.1/32"])
    h = headers(g.port, headers={"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Real-Ip": "1.2.3.4"})
    assert h["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"  # appended
    assert h["x-forwarded-proto"] == "https"
    assert h["x-real-ip"] == "1.2.3.4"


def test_pass_host_header_false(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up, pass_host=False))
    h = headers(g.port)
    assert h["host"] == "127.0.0.1:%d" % up.port
    assert h["x-forwarded-host"] == "fwd.test:%d" % g.port


def test_hop_by_hop_headers_dropped(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    h = headers(g.port, headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1", "Keep-Alive": "timeout=5",
                                 "Te": "trailers", "Proxy-Connection": "x", "X-Kept": "yes"})
    assert "x-secret" not in h and "keep-alive" not in h and "te" not in h and "proxy-connection" not in h
    assert h["x-kept"] == "yes"


def test_cookie_line_ends_before_the_next_header(tmp_path, procs):
    """A Cookie field followed by other fields (any HTTP/1.1 client's order)
    is sent upstream as one cookie line that ends where it should: the
    fields after it stay separate fields (they were once glued onto it)."""
    import socket
    from attack import RecordingUpstream
    from conftest import wait_for, get
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`c.test`)\", service: app}\n  services:\n"
                     + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"GET /x HTTP/1.1\r\nHost: c.test\r\nCookie: a=1\r\nX-After: yes\r\nCookie: b=2\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
    head = up.requests[-1][0].split(b"\r\n")
    assert b"cookie: a=1; b=2" in head and b"X-After: yes" in head, head
