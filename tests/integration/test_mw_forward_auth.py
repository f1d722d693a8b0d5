"""ForwardAuth against a real authentication server (a small threaded HTTP
server in the test, following oauth2-proxy's conventions: /oauth2/auth
answers 202 with X-Auth-Request-User/Email for a valid session cookie, 401
otherwise; /start answers 302 to a relative sign-in URL), through the real
binary to a recording upstream: what the auth server sees, what the
upstream sees, what the client gets."""
import json
import os

from attack import RecordingUpstream
from conftest import free_port, get, service_yaml, wait_for
from http_peers import QuietHandler, serve


class AuthServer:
    def __init__(self, ssl_ctx=None):
        self.seen = []
        outer = self

        class H(QuietHandler):
            def do_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                peer = self.connection.getpeercert() if ssl_ctx is not None else None
                outer.seen.append({"method": self.command, "path": self.path, "peer": peer,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                cookie = self.headers.get("Cookie") or ""
                if self.path.startswith("/oauth2/auth"):
                    if "_oauth2_proxy=valid" in cookie:
                        self.reply(202, b"", [("X-Auth-Request-User", "alice"), ("X-Auth-Request-Email", "alice@example.com"),
                                              ("Set-Cookie", "_oauth2_proxy=refreshed; Path=/"), ("X-Other", "nope")])
                    else:
                        self.reply(401, b"unauthorized\n", [("WWW-Authenticate", "Bearer realm=\"test\"")])
                elif self.path.startswith("/start"):
                    self.reply(302, b"", [("Location", "/oauth2/sign_in?rd=" + self.headers.get("X-Forwarded-Uri", ""))])
                elif self.path.startswith("/sized/"):  # /sized/<status>/<n>: a body of n bytes
                    _, _, status, n = self.path.split("/")
                    self.reply(int(status), b"x" * int(n), [("X-Auth-Request-User", "sized")])
                elif self.path.startswith("/slow"):
                    import time
                    time.sleep(0.5)
                    self.reply(200, b"", [])
                else:
                    self.reply(200, b"", [("X-Auth-Request-User", "anyone")])

            def reply(self, status, body, headers):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_any

        self.port = free_port()
        self.httpd = serve(H, ssl_ctx, self.port)
        self.url = "%s://127.0.0.1:%d" % ("https" if ssl_ctx is not None else "http", self.port)

    def stop(self):
        self.httpd.shutdown()


def upstream_headers(up, i=-1):
    head = up.requests[i][0].decode()
    return {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in head.split("\r\n")[1:] if ":" in l}


def config(auth, up, extra=""):
    return ("http:\n  routers:\n"
            "    app: {rule: \"Host(`app.test`)\", service: app, middlewares: [oauth]}\n"
            "    start: {rule: \"Host(`start.test`)\", service: app, middlewares: [start]}\n"
            "    down: {rule: \"Host(`down.test`)\", service: app, middlewares: [down]}\n"
            "  middlewares:\n"
            "    oauth:\n      forwardAuth:\n        address: \"%s/oauth2/auth\"\n"
            "        authResponseHeaders: [X-Auth-Request-User, X-Auth-Request-Email]\n"
            "        addAuthCookiesToResponse: [_oauth2_proxy]\n%s"
            "    start:\n      forwardAuth: {address: \"%s/start\"}\n"
            "    down:\n      forwardAuth: {address: \"http://127.0.0.1:%d/\"}\n"
            "  services:\n" % (auth.url, extra, auth.url, free_port()) + service_yaml("app", [up.url]))


def test_oauth2_proxy_conventions(tmp_path, procs):
    auth, up = AuthServer(), RecordingUpstream()
    try:
        g = procs.gantry(tmp_path, config(auth, up))
        wait_for(lambda: get(g.port, "/", "app.test")[0] == 401, what="route live")
        # no session: the auth server's 401, its headers and body, and nothing upstream
        status, headers, body = get(g.port, "/private?x=1", "app.test", headers={"X-Auth-Request-User": "mallory"})
        assert status == 401 and body == b"unauthorized\n" and headers["www-authenticate"] == 'Bearer realm="test"'
        assert up.requests == []
        a = auth.seen[-1]
        assert a["method"] == "GET" and a["path"] == "/oauth2/auth"
        h = a["headers"]
        assert h["x-forwarded-method"] == "GET" and h["x-forwarded-proto"] == "http"
        assert h["x-forwarded-host"] == "app.test" and h["x-forwarded-uri"] == "/private?x=1"
        assert h["x-forwarded-for"] == "127.0.0.1" and h["host"] == "127.0.0.1:%d" % auth.port
        # a session: through, with the identity headers the auth server set (the client's own are replaced)
        status, headers, body = get(g.port, "/private", "app.test",
                                    headers={"Cookie": "_oauth2_proxy=valid; other=1", "X-Auth-Request-User": "mallory"})
        assert status == 200 and body == b"ok"
        # the Cookie line ends where it should: the header after it reaches the auth server on its own line
        ah = auth.seen[-1]["headers"]
        assert ah["cookie"] == "_oauth2_proxy=valid; other=1" and ah["x-auth-request-user"] == "mallory", ah
        uh = upstream_headers(up)
        assert uh["x-auth-request-user"] == "alice" and uh["x-auth-request-email"] == "alice@example.com"
        assert "x-other" not in uh
        # addAuthCookiesToResponse: the auth server's refreshed cookie reaches the client
        assert headers["set-cookie"] == "_oauth2_proxy=refreshed; Path=/"
        # POST: the auth request is still a GET without the body
        status, _, _ = get(g.port, "/form", "app.test", method="POST", body=b"secret", headers={"Cookie": "_oauth2_proxy=valid"})
        assert status == 200 and auth.seen[-1]["method"] == "GET" and auth.seen[-1]["body"] == b""
        assert auth.seen[-1]["headers"]["x-forwarded-method"] == "POST"
        assert up.requests[-1][1] == b"secret"
    finally:
        auth.stop()


def test_auth_signin_url_and_max_response_body_size(tmp_path, procs):
    """Traefik v3.7's authSigninURL (the auth server's 401 becomes a 302 to it)
    and maxResponseBodySize (a longer auth answer is a 401 without body,
    whatever its status; one of exactly that size passes)."""
    auth, up = AuthServer(), RecordingUpstream()
    try:
        routers = "".join("    %s: {rule: \"Host(`%s.test`)\", service: app, middlewares: [%s]}\n" % (n, n, n)
                          for n in ("signin", "exact", "over", "deny"))
        cfg = ("http:\n  routers:\n" + routers + "  middlewares:\n"
               "    signin:\n      forwardAuth: {address: \"%s/oauth2/auth\", authSigninURL: \"https://login.test/sign_in?x=1\"}\n"
               "    exact:\n      forwardAuth: {address: \"%s/sized/200/100\", maxResponseBodySize: 100, authResponseHeaders: [X-Auth-Request-User]}\n"
               "    over:\n      forwardAuth: {address: \"%s/sized/200/101\", maxResponseBodySize: 100}\n"
               "    deny:\n      forwardAuth: {address: \"%s/sized/403/101\", maxResponseBodySize: 100}\n"
               "  services:\n" % (auth.url, auth.url, auth.url, auth.url) + service_yaml("app", [up.url]))
        g = procs.gantry(tmp_path, cfg)
        wait_for(lambda: get(g.port, "/", "signin.test")[0] == 302, what="route live")
        status, headers, _ = get(g.port, "/private?q=1", "signin.test")
        assert status == 302 and headers["location"] == "https://login.test/sign_in?x=1"
        # a valid session is not redirected
        status, _, body = get(g.port, "/private", "signin.test", headers={"Cookie": "_oauth2_proxy=valid"})
        assert status == 200 and body == b"ok"
        assert len(up.requests) == 1
        # a body of exactly maxResponseBodySize bytes: through
        status, _, body = get(g.port, "/a", "exact.test")
        assert status == 200 and body == b"ok" and upstream_headers(up)["x-auth-request-user"] == "sized"
        # one byte more: 401 with an empty body, 2xx or not, and nothing upstream
        for host in ("over.test", "deny.test"):
            status, _, body = get(g.port, "/b", host)
            assert (status, body) == (401, b""), host
        assert len(up.requests) == 2
    finally:
        auth.stop()


def test_auth_signin_url_and_signin_url_are_exclusive(tmp_path, procs):
    auth, up = AuthServer(), RecordingUpstream()
    try:
        cfg = ("http:\n  routers:\n"
               "    bad: {rule: \"Host(`bad.test`)\", service: app, middlewares: [both]}\n"
               "    neg: {rule: \"Host(`neg.test`)\", service: app, middlewares: [neg]}\n"
               "    good: {rule: \"Host(`good.test`)\", service: app}\n"
               "  middlewares:\n"
               "    both:\n      forwardAuth: {address: \"%s/oauth2/auth\", authSigninURL: \"/a\", signinURL: \"/b\"}\n"
               "    neg:\n      forwardAuth: {address: \"%s/oauth2/auth\", maxResponseBodySize: -2}\n"
               "  services:\n" % (auth.url, auth.url) + service_yaml("app", [up.url]))
        g = procs.gantry(tmp_path, cfg)
        wait_for(lambda: get(g.port, "/", "good.test")[0] == 200, what="route live")
        assert get(g.port, "/", "bad.test")[0] == 404 and get(g.port, "/", "neg.test")[0] == 404
        g.wait_log("authSigninURL and signinURL cannot both be set")
        g.wait_log("maxResponseBodySize")
    finally:
        auth.stop()


def test_redirect_location_made_absolute_and_auth_server_down(tmp_path, procs):
    auth, up = AuthServer(), RecordingUpstream()
    try:
        g = procs.gantry(tmp_path, config(auth, up))
        wait_for(lambda: get(g.port, "/", "start.test")[0] == 302, what="route live")
        status, headers, _ = get(g.port, "/page", "start.test")
        assert status == 302 and headers["location"] == "%s/oauth2/sign_in?rd=/page" % auth.url
        # the auth server cannot be reached: 500 (Traefik's), nothing upstream
        status, _, _ = get(g.port, "/", "down.test")
        assert status == 500 and up.requests == []
    finally:
        auth.stop()


def test_preserve_location_trust_forward_header_and_forward_body(tmp_path, procs):
    auth, up = AuthServer(), RecordingUpstream()
    extra_mw = ("    keep:\n      forwardAuth:\n        address: \"%s/start\"\n        preserveLocationHeader: true\n"
                "    body:\n      forwardAuth:\n        address: \"%s/check\"\n        forwardBody: true\n        maxBodySize: 10\n"
                "        preserveRequestMethod: true\n        trustForwardHeader: true\n"
                "        authRequestHeaders: [X-Keep]\n" % (auth.url, auth.url))
    dyn = config(auth, up).replace("  services:\n", extra_mw + "  services:\n").replace(
        "  middlewares:\n", "    keep: {rule: \"Host(`keep.test`)\", service: app, middlewares: [keep]}\n"
        "    body: {rule: \"Host(`body.test`)\", service: app, middlewares: [body]}\n  middlewares:\n")
    try:
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "keep.test")[0] == 302, what="route live")
        assert get(g.port, "/p", "keep.test")[1]["location"] == "/oauth2/sign_in?rd=/p"
        status, _, _ = get(g.port, "/up", "body.test", method="PUT", body=b"tiny",
                           headers={"X-Keep": "1", "X-Drop": "2", "X-Forwarded-Uri": "/spoofed"})
        assert status == 200
        a = auth.seen[-1]
        assert a["method"] == "PUT" and a["body"] == b"tiny"
        assert "x-keep" in a["headers"] and "x-drop" not in a["headers"]
        # trustForwardHeader applies only to what reached the middleware: an untrusted
        # client's X-Forwarded-* were removed at the entry point, as Traefik does
        assert a["headers"]["x-forwarded-uri"] == "/up"
        status, _, _ = get(g.port, "/up", "body.test", method="PUT", body=b"far too large a body")
        assert status == 401
    finally:
        auth.stop()


def test_tls_to_the_auth_server_ca_client_certificate_and_refusals(tmp_path, procs):
    """forwardAuth.tls (Traefik's ClientTLS): the auth server's CA and a client
    certificate, files or inline PEM; an auth server the middleware cannot
    verify or that refuses the connection answers 500 and nothing goes
    upstream; a half-given certificate refuses the router."""
    import ssl
    from tls_certs import make_client_cert, make_ip_cert
    certs = str(tmp_path / "pki")
    os.makedirs(certs)
    srv_crt, srv_key = make_ip_cert(certs, "auth", "127.0.0.1")
    cli_crt, cli_key = make_client_cert(certs, "gantry-client")
    ca = os.path.join(certs, "ca.crt")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
    ctx.load_cert_chain(srv_crt, srv_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    auth, up = AuthServer(ctx), RecordingUpstream()
    ca_pem = open(ca).read()

    def mw(name, tls):
        return "    %s:\n      forwardAuth:\n        address: \"%s/oauth2/auth\"\n        tls: %s\n" % (name, auth.url, tls)
    dyn = ("http:\n  routers:\n" + "".join(
        "    %s: {rule: \"Host(`%s.test`)\", service: app, middlewares: [%s]}\n" % (n, n, n)
        for n in ("files", "inline", "nocert", "noca", "insecure", "half")) + "  middlewares:\n" +
        mw("files", "{ca: %s, cert: %s, key: %s}" % (ca, cli_crt, cli_key)) +
        mw("inline", json.dumps({"ca": ca_pem, "cert": open(cli_crt).read(), "key": open(cli_key).read()})) +
        mw("nocert", "{ca: %s}" % ca) +
        mw("noca", "{cert: %s, key: %s}" % (cli_crt, cli_key)) +
        mw("insecure", "{insecureSkipVerify: true, cert: %s, key: %s}" % (cli_crt, cli_key)) +
        mw("half", "{ca: %s, cert: %s}" % (ca, cli_crt)) +
        "  services:\n" + service_yaml("app", [up.url]))
    try:
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "files.test")[0] == 401, what="route live")
        for host in ("files.test", "inline.test", "insecure.test"):
            status, _, body = get(g.port, "/in", host, headers={"Cookie": "_oauth2_proxy=valid"})
            assert (status, body) == (200, b"ok"), host
            peer = auth.seen[-1]["peer"]
            assert dict(x[0] for x in peer["subject"])["commonName"] == "gantry-client"
        n_up = len(up.requests)
        # no client certificate: the auth server refuses the handshake; a CA
        # that does not sign the auth server: Gantry refuses it; both 500
        for host in ("nocert.test", "noca.test"):
            status, _, _ = get(g.port, "/in", host, headers={"Cookie": "_oauth2_proxy=valid"})
            assert status == 500, host
        assert len(up.requests) == n_up
        r = {x["name"]: x for x in g.api("/api/http/routers")}["half@file"]
        assert r["status"] == "disabled" and "cert and key go together" in " ".join(r["error"])
        assert get(g.port, "/", "half.test")[0] == 404
    finally:
        auth.stop()


def test_tls_options_need_an_https_address(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`t.test`)\", service: app, middlewares: [a]}\n"
                     "  middlewares:\n    a:\n      forwardAuth:\n        address: \"http://127.0.0.1:1/\"\n"
                     "        tls: {insecureSkipVerify: true}\n  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: g.api("/api/http/routers"), what="api")
    r = {x["name"]: x for x in g.api("/api/http/routers")}["r@file"]
    assert r["status"] == "disabled" and "is not https" in " ".join(r["error"])
    assert get(g.port, "/", "t.test")[0] == 404
