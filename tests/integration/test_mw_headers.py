"""The headers middleware against the real binary: request headers as the
upstream receives them, response headers as the client receives them
(upstream's removed or replaced, Gantry's own 502 included), security
headers and STS on TLS only, allowedHosts' 500 "Bad Host", and CORS
preflights answered by Gantry with the exact headers Traefik v3 sends
(pkg/middlewares/headers/header.go). The configurations are Traefik's
documentation examples (reference/routing-configuration/http/middlewares/
headers.md) in file form.
"""
import re
import socket
import threading

from attack import RecordingUpstream
from conftest import get, run, service_yaml, wait_for


def upstream_header(up, name, i=-1):
    for line in up.requests[i][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


def upstream_headers(up, name, i=-1):
    return [line.partition(b":")[2].strip().decode() for line in up.requests[i][0].split(b"\r\n")[1:]
            if line.partition(b":")[0].strip().lower() == name.lower().encode()]


class HeaderUpstream:
    """An HTTP/1.1 upstream answering 200 "ok" with the given extra response
    headers (a list of (name, value), repeats allowed)."""

    def __init__(self, headers):
        self.headers = headers
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                _, buf = buf.split(b"\r\n\r\n", 1)
                extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in self.headers)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + extra + b"\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def raw_response_headers(port, host, method="GET", headers=()):
    """Status and the response's header lines as (name, value) in order, names as sent."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, "/", skip_host=True)
    conn.putheader("Host", host)
    for k, v in headers:
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheaders(), body


def router(name, host, mws, tls=False):
    return "    %s: {rule: \"Host(`%s`)\", service: app, middlewares: [%s]%s}\n" % (
        name, host, ", ".join(mws), ", tls: {}" if tls else "")


def test_doc_adding_headers_to_request_and_response(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("r", "h.test", ["testHeader"]) +
           "  middlewares:\n"
           "    testHeader:\n"
           "      headers:\n"
           "        customRequestHeaders:\n"
           "          X-Script-Name: \"test\"\n"
           "        customResponseHeaders:\n"
           "          X-Custom-Response-Header: \"value\"\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "h.test")[0] == 200, what="route live")
    status, headers, body = get(g.port, "/", "h.test", headers={"X-Script-Name": "client"})
    assert status == 200 and body == b"ok"
    assert upstream_headers(up, "X-Script-Name") == ["test"]  # replaced, not added
    assert headers["x-custom-response-header"] == "value"
    # the name goes on the wire as Traefik (Go) writes it
    _, hs, _ = raw_response_headers(g.port, "h.test")
    assert ("X-Custom-Response-Header", "value") in hs


def test_doc_adding_and_removing_headers(tmp_path, procs):
    up = RecordingUpstream()
    resp = HeaderUpstream([("X-Custom-Response-Header", "from-upstream"), ("X-Other", "kept")])
    dyn = ("http:\n  routers:\n" + router("r", "h.test", ["testHeader"]) +
           "    resp: {rule: \"Host(`resp.test`)\", service: resp, middlewares: [testHeader]}\n"
           "  middlewares:\n"
           "    testHeader:\n"
           "      headers:\n"
           "        customRequestHeaders:\n"
           "          X-Script-Name: \"test\" # Adds\n"
           "          X-Custom-Request-Header: \"\" # Removes\n"
           "        customResponseHeaders:\n"
           "          X-Custom-Response-Header: \"\" # Removes\n"
           "  services:\n" + service_yaml("app", [up.url]) + service_yaml("resp", [resp.url]))
    try:
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "h.test")[0] == 200, what="route live")
        assert get(g.port, "/", "h.test", headers={"X-Custom-Request-Header": "secret"})[0] == 200
        assert upstream_header(up, "X-Custom-Request-Header") is None
        assert upstream_header(up, "X-Script-Name") == "test"
        status, headers, body = get(g.port, "/", "resp.test")
        assert status == 200 and body == b"ok"
        assert "x-custom-response-header" not in headers  # the upstream's, removed
        assert headers["x-other"] == "kept"
    finally:
        resp.stop()


def test_forwarded_headers_deleted_stay_deleted_and_host_override(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("r", "f.test", ["nofwd"]) + router("h", "host.test", ["host"]) +
           "  middlewares:\n"
           "    nofwd: {headers: {customRequestHeaders: {X-Forwarded-For: \"\", X-Forwarded-Proto: \"\", "
           "X-Real-Ip: \"\"}}}\n"
           "    host: {headers: {customRequestHeaders: {Host: internal.test}}}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
    # Traefik sets X-Forwarded-* before the middlewares: deleting them sticks
    assert upstream_header(up, "X-Forwarded-For") is None
    assert upstream_header(up, "X-Forwarded-Proto") is None
    assert upstream_header(up, "X-Real-Ip") is None
    assert upstream_header(up, "X-Forwarded-Host") == "f.test"
    assert get(g.port, "/", "host.test:%d" % g.port)[0] == 200
    assert upstream_header(up, "Host") == "internal.test"
    assert upstream_header(up, "X-Forwarded-Host") == "host.test:%d" % g.port
    assert upstream_header(up, "X-Forwarded-Port") == str(g.port)


def test_doc_security_headers_and_sts_on_tls_only(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("r", "s.test", ["testHeader"]) +
           router("sts", "sts.test", ["sts"]) + router("stsr", "sts.test", ["sts"], tls=True) +
           router("forced", "forced.test", ["forced"]) + router("dev", "dev.test", ["dev"], tls=True) +
           "  middlewares:\n"
           "    testHeader:\n"
           "      headers:\n"
           "        frameDeny: true\n"
           "        browserXssFilter: true\n"
           "    sts:\n"
           "      headers:\n"
           "        stsSeconds: 31536000\n"
           "        stsIncludeSubdomains: true\n"
           "        stsPreload: true\n"
           "        contentTypeNosniff: true\n"
           "        referrerPolicy: no-referrer\n"
           "        permissionsPolicy: \"camera=()\"\n"
           "        contentSecurityPolicy: \"default-src 'self'\"\n"
           "        sslProxyHeaders: {X-Is-Https: \"yes\"}\n"
           "    forced: {headers: {stsSeconds: 60, forceSTSHeader: true, customFrameOptionsValue: SAMEORIGIN}}\n"
           "    dev: {headers: {stsSeconds: 60, isDevelopment: true}}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "s.test")[0] == 200, what="route live")
    status, headers, _ = get(g.port, "/", "s.test")
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-xss-protection"] == "1; mode=block"
    assert "strict-transport-security" not in headers and "x-content-type-options" not in headers

    _, headers, _ = get(g.port, "/", "sts.test")
    assert "strict-transport-security" not in headers  # plain HTTP
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert headers["permissions-policy"] == "camera=()"
    assert headers["content-security-policy"] == "default-src 'self'"
    _, headers, _ = get(g.port, "/", "sts.test", headers={"X-Is-Https": "yes"})  # sslProxyHeaders
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    _, headers, _ = get(g.port, "/", "forced.test")
    assert headers["strict-transport-security"] == "max-age=60"
    assert headers["x-frame-options"] == "SAMEORIGIN"

    base = ["curl", "-sk", "-D", "-", "-o", "/dev/null"]
    out = run(base + ["--resolve", "sts.test:%d:127.0.0.1" % g.port, "https://sts.test:%d/" % g.port]).stdout.decode()
    assert re.search(r"(?im)^strict-transport-security: max-age=31536000; includeSubDomains; preload\r?$", out), out
    out = run(base + ["--resolve", "dev.test:%d:127.0.0.1" % g.port, "https://dev.test:%d/" % g.port]).stdout.decode()
    assert out.startswith("HTTP/") and "strict-transport-security" not in out.lower(), out
    # HTTP/2 gets the same headers
    out = run(base + ["--http2", "--resolve", "sts.test:%d:127.0.0.1" % g.port,
                      "https://sts.test:%d/" % g.port]).stdout.decode()
    assert out.startswith("HTTP/2 200") and "strict-transport-security: max-age=31536000" in out.lower(), out


def test_response_headers_on_gantrys_own_errors(tmp_path, procs):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = "http://127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()
    dyn = ("http:\n  routers:\n" + router("r", "e.test", ["sec"]) +
           "  middlewares:\n"
           "    sec: {headers: {frameDeny: true, customResponseHeaders: {X-Served-By: gantry}}}\n"
           "  services:\n" + service_yaml("app", [dead_url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 502, what="route live")
    status, headers, _ = get(g.port, "/", "e.test")
    assert status == 502 and headers["x-frame-options"] == "DENY" and headers["x-served-by"] == "gantry"


def test_allowed_hosts_answers_500_bad_host(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n"
           "    r: {rule: \"HostRegexp(`.+`)\", service: app, middlewares: [hosts]}\n"
           "  middlewares:\n"
           "    hosts:\n"
           "      headers:\n"
           "        allowedHosts: [foo.test, bar.test]\n"
           "        hostsProxyHeaders: [X-Forwarded-Host]\n"
           "        frameDeny: true\n"
           "        customResponseHeaders: {X-Custom: yes}\n"
           "        accessControlAllowOriginList: [\"*\"]\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "foo.test")[0] == 200, what="route live")
    status, headers, _ = get(g.port, "/", "BAR.test")
    assert status == 200 and headers["x-frame-options"] == "DENY"
    n = len(up.requests)
    # unrolled/secure's bad host handler: http.Error(w, "Bad Host", 500), then
    # the Header part's custom response and CORS headers; no security headers
    status, headers, body = get(g.port, "/", "evil.test")
    assert (status, body) == (500, b"Bad Host\n")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-custom"] == "yes" and headers["access-control-allow-origin"] == "*"
    assert "x-frame-options" not in headers
    # Go compares the Host header as sent: with a port it is another host
    assert get(g.port, "/", "foo.test:%d" % g.port)[0] == 500
    assert len(up.requests) == n


def test_doc_cors_preflight_answered_as_traefik(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("r", "c.test", ["testHeader"]) + router("cred", "cred.test", ["cred"]) +
           "  middlewares:\n"
           "    testHeader:\n"
           "      headers:\n"
           "        accessControlAllowMethods:\n"
           "          - GET\n"
           "          - OPTIONS\n"
           "          - PUT\n"
           "        accessControlAllowHeaders:\n"
           "          - \"*\"\n"
           "        accessControlAllowOriginList:\n"
           "          - https://foo.bar.org\n"
           "          - https://example.org\n"
           "        accessControlMaxAge: 100\n"
           "        addVaryHeader: true\n"
           "    cred:\n"
           "      headers:\n"
           "        accessControlAllowCredentials: true\n"
           "        accessControlAllowOriginList: [\"*\"]\n"
           "        accessControlAllowHeaders: [\"*\"]\n"
           "        accessControlAllowMethods: [\"*\"]\n"
           "        accessControlExposeHeaders: [X-Total, X-Page]\n"
           "        frameDeny: true\n"
           "        customResponseHeaders: {X-Custom: yes}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    n = len(up.requests)
    pre = [("Origin", "https://example.org"), ("Access-Control-Request-Method", "PUT"),
           ("Access-Control-Request-Headers", "X-Foo")]
    status, hs, body = raw_response_headers(g.port, "c.test", "OPTIONS", pre)
    # Traefik: processCorsHeaders, then Content-Length: 0 and WriteHeader(200)
    assert status == 200 and body == b""
    got = {k.lower(): v for k, v in hs if k.lower() not in ("date", "connection", "server")}
    assert got == {
        "access-control-allow-headers": "*",
        "access-control-allow-methods": "GET,OPTIONS,PUT",
        "access-control-allow-origin": "https://example.org",
        "access-control-max-age": "100",
        "content-length": "0",
    }, hs
    assert len(up.requests) == n  # never reached the service
    # a disallowed origin still gets its 200, without Allow-Origin
    status, hs, _ = raw_response_headers(g.port, "c.test", "OPTIONS",
                                         [("Origin", "https://evil.org"), ("Access-Control-Request-Method", "GET")])
    assert status == 200 and "access-control-allow-origin" not in {k.lower() for k, _ in hs}
    # OPTIONS without Access-Control-Request-Method is not a preflight
    assert get(g.port, "/", "c.test", method="OPTIONS", headers={"Origin": "https://example.org"})[0] == 200
    assert len(up.requests) == n + 1

    # normal responses: Allow-Origin for allowed origins only, Vary: Origin always
    _, headers, _ = get(g.port, "/", "c.test", headers={"Origin": "https://foo.bar.org"})
    assert headers["access-control-allow-origin"] == "https://foo.bar.org" and headers["vary"] == "Origin"
    assert "access-control-allow-methods" not in headers and "access-control-max-age" not in headers
    _, headers, _ = get(g.port, "/", "c.test", headers={"Origin": "https://evil.org"})
    assert "access-control-allow-origin" not in headers and headers["vary"] == "Origin"

    # "*" with credentials: the origin, request headers and method echoed; no
    # security or custom response headers on the preflight
    status, hs, _ = raw_response_headers(g.port, "cred.test", "OPTIONS", pre)
    got = {k.lower(): v for k, v in hs if k.lower() not in ("date", "connection", "server")}
    assert status == 200 and got == {
        "access-control-allow-credentials": "true",
        "access-control-allow-headers": "X-Foo",
        "access-control-allow-methods": "PUT",
        "access-control-allow-origin": "https://example.org",
        "access-control-expose-headers": "X-Total,X-Page",
        "content-length": "0",
    }, hs
    _, headers, _ = get(g.port, "/", "cred.test", headers={"Origin": "https://a.example"})
    assert headers["access-control-allow-origin"] == "https://a.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-expose-headers"] == "X-Total,X-Page"
    assert headers["x-frame-options"] == "DENY" and headers["x-custom"] == "yes"


def test_cors_vary_appends_to_the_upstreams(tmp_path, procs):
    resp = HeaderUpstream([("Vary", "Accept-Encoding"), ("Access-Control-Allow-Origin", "https://upstream.example")])
    dyn = ("http:\n  routers:\n" + router("r", "v.test", ["cors"]) +
           "  middlewares:\n"
           "    cors: {headers: {accessControlAllowOriginListRegex: [\"^https://[a-z]+\\\\.example\\\\.org$\"], "
           "addVaryHeader: true}}\n"
           "  services:\n" + service_yaml("app", [resp.url]))
    try:
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "v.test")[0] == 200, what="route live")
        _, headers, _ = get(g.port, "/", "v.test", headers={"Origin": "https://api.example.org"})
        assert headers["vary"] == "Accept-Encoding,Origin"
        assert headers["access-control-allow-origin"] == "https://api.example.org"  # overwrites the upstream's
        _, headers, _ = get(g.port, "/", "v.test", headers={"Origin": "https://api.example.org.evil"})
        assert headers["access-control-allow-origin"] == "https://upstream.example"  # not matched: left alone
    finally:
        resp.stop()


def test_bad_configurations_take_out_only_their_router(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("ok", "ok.test", ["good"]) + router("bad", "bad.test", ["bad"]) +
           router("empty", "empty.test", ["empty"]) +
           "  middlewares:\n"
           "    good: {headers: {frameDeny: true}}\n"
           "    bad: {headers: {frameDeny: maybe}}\n"
           "    empty: {headers: {frameDeny: false}}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
    assert get(g.port, "/", "bad.test")[0] == 404
    assert get(g.port, "/", "empty.test")[0] == 404
    errs = {r["name"]: " ".join(r.get("error") or []) for r in g.api("/api/http/routers")}
    assert "headers: frameDeny: 'maybe' is not a boolean" in errs["bad@file"], errs
    assert "headers: headers configuration not valid" in errs["empty@file"], errs
    assert errs["ok@file"] == ""


def test_answers_of_later_middlewares_and_http2_preflight(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n" + router("r", "redir.test", ["sec", "to-https"]) +
           router("c", "h2.test", ["cors", "sec"], tls=True) +
           "  middlewares:\n"
           "    sec: {headers: {frameDeny: true, customResponseHeaders: {X-Outer: \"1\"}}}\n"
           "    to-https: {redirectScheme: {scheme: https, permanent: true}}\n"
           "    cors: {headers: {accessControlAllowOriginList: [https://a.example], accessControlAllowMethods: [GET]}}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "redir.test")[0] == 301, what="route live")
    # the redirect answered after the headers middleware still gets its headers
    status, headers, _ = get(g.port, "/x", "redir.test")
    assert status == 301 and headers["location"] == "https://redir.test/x"
    assert headers["x-frame-options"] == "DENY" and headers["x-outer"] == "1"
    # HTTP/2 preflight: answered by the first middleware, so the second's
    # headers are not on it (Traefik: an inner handler never ran)
    out = run(["curl", "-sk", "--http2", "-X", "OPTIONS", "-D", "-", "-o", "/dev/null",
               "-H", "Origin: https://a.example", "-H", "Access-Control-Request-Method: GET",
               "--resolve", "h2.test:%d:127.0.0.1" % g.port, "https://h2.test:%d/" % g.port]).stdout.decode().lower()
    assert out.startswith("http/2 200"), out
    assert "access-control-allow-origin: https://a.example" in out and "access-control-allow-methods: get" in out
    assert "x-frame-options" not in out and "content-length: 0" in out
    assert up.requests == []
