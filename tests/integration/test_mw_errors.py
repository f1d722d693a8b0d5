"""The errors middleware against real upstreams (whoami answers any status
on /status/NNN; a second whoami is the error-page service and echoes the
path it was asked for): the page replaces the response with the original
status, Gantry's own 502 is replaced too, statusRewrites, a status outside
the ranges passes untouched, keep-alive on the app's connection survives;
and Traefik v3's page exchange (a small recording page service): {url} is
the whole original URL, query-escaped; errorRequestHeaders (unset: every
request header); every header field of the page's answer reaches the
client."""
import http.client
import http.server

from conftest import SLOW, free_port, get, service_yaml, wait_for
from http_peers import QuietHandler, serve


def config(app, pages, extra=""):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`e.test`)\", service: app, middlewares: [pages]}\n"
            "    dead: {rule: \"Host(`dead.test`)\", service: dead, middlewares: [pages]}\n"
            "    rw: {rule: \"Host(`rw.test`)\", service: app, middlewares: [rewrite]}\n"
            "  middlewares:\n"
            "    pages:\n      errors:\n        status: [\"500-599\", \"404\"]\n        service: pages\n"
            "        query: \"/{status}.html?orig={originalStatus}&url={url}\"\n"
            "    rewrite:\n      errors:\n        status: [\"418\"]\n        service: pages\n        query: /teapot\n"
            "        statusRewrites: {\"418\": 404}\n"
            "  services:\n" + service_yaml("app", [app.url]) + service_yaml("pages", [pages.url])
            + service_yaml("dead", ["http://127.0.0.1:%d" % free_port()]))


def test_error_pages(tmp_path, procs):
    app, pages = procs.whoami(), procs.whoami(name="pages")
    g = procs.gantry(tmp_path, config(app, pages))
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 200, what="route live")
    status, headers, body = get(g.port, "/status/503", "e.test")
    assert status == 503 and b"GET /503.html?orig=503&url=http%3A%2F%2Fe.test%2Fstatus%2F503" in body, body[:300]
    assert b"Hostname: pages" in body or b"pages" in body
    status, _, body = get(g.port, "/status/404", "e.test")
    assert status == 404 and b"/404.html" in body
    # outside the ranges: the app's own answer
    status, _, body = get(g.port, "/status/403", "e.test")
    assert status == 403 and body == b"status 403\n"
    # Gantry's own 502 (nothing listens) is replaced as well
    status, _, body = get(g.port, "/", "dead.test")
    assert status == 502 and b"/502.html" in body
    # statusRewrites: 418 is answered as 404 with the page
    status, _, body = get(g.port, "/status/418", "rw.test")
    assert status == 404 and b"GET /teapot" in body
    # many in a row on one client connection, errors and successes mixed
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10 * SLOW)
    for i in range(50):
        path = "/status/500" if i % 2 else "/ok"
        conn.request("GET", path, headers={"Host": "e.test"})
        r = conn.getresponse()
        data = r.read()
        assert r.status == (500 if i % 2 else 200), (i, r.status)
        assert (b"/500.html" in data) if i % 2 else (b"/500.html" not in data)
    conn.close()


def test_error_service_unreachable_keeps_the_original(tmp_path, procs):
    app = procs.whoami()
    dyn = config(app, app).replace(service_yaml("pages", [app.url]),
                                   service_yaml("pages", ["http://127.0.0.1:%d" % free_port()]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 200, what="route live")
    status, _, body = get(g.port, "/status/500", "e.test")
    assert status == 500


def test_missing_error_service_refuses_the_router(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`e.test`)\", service: app, middlewares: [p]}\n"
                     "  middlewares:\n    p: {errors: {status: [\"500\"], service: nosuch}}\n"
                     "  services:\n" + service_yaml("app", [app.url]))
    wait_for(lambda: g.api("/api/http/routers"), what="api")
    r = {x["name"]: x for x in g.api("/api/http/routers")}["r@file"]
    assert r["status"] == "disabled" and "nosuch@file" in " ".join(r["error"])


class PageServer:
    """The error page service: records each request (path, headers) and
    answers a page with header fields of its own (repeated Set-Cookie, a
    field its Connection names, which must not reach the client)."""

    def __init__(self):
        self.seen = []
        outer = self

        class H(QuietHandler):
            def do_GET(self):
                outer.seen.append({"path": self.path, "headers": [(k.lower(), v) for k, v in self.headers.items()]})
                body = b"<h1>page for " + self.path.encode() + b"</h1>\n"
                self.send_response(200)
                for k, v in (("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                             ("X-Page", "yes"), ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                             ("Connection", "X-Hop"), ("X-Hop", "1"), ("Content-Length", str(len(body)))):
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = serve(H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def headers(self, i=-1):
        return dict(self.seen[i]["headers"])


def fetch(port, path, host, headers):
    """One request: (status, all header fields as (lowercase name, value), body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    conn.request("GET", path, headers=dict(headers, Host=host))
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, [(k.lower(), v) for k, v in r.getheaders()], body


def test_page_request_and_response_as_traefik_v3(tmp_path, procs):
    app, pages = procs.whoami(), PageServer()
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    all: {rule: \"Host(`all.test`)\", service: app, middlewares: [all]}\n"
                         "    some: {rule: \"Host(`some.test`)\", service: app, middlewares: [some]}\n"
                         "    none: {rule: \"Host(`none.test`)\", service: app, middlewares: [none]}\n"
                         "  middlewares:\n"
                         # a query without its leading '/': Traefik adds it
                         "    all: {errors: {status: [\"500-599\"], service: pages, query: \"{status}.html?from={url}\"}}\n"
                         "    some: {errors: {status: [\"404\"], service: pages, query: /p, errorRequestHeaders: [X-Test]}}\n"
                         "    none: {errors: {status: [\"404\"], service: pages, errorRequestHeaders: [],"
                         " statusRewrites: {\"404\": 410}}}\n"
                         "  services:\n" + service_yaml("app", [app.url]) + service_yaml("pages", [pages.url]))
        wait_for(lambda: get(g.port, "/", "all.test")[0] == 200, what="route live")
        sent = {"X-Test": "1", "Authorization": "Bearer secret", "Cookie": "session=abc", "Accept": "text/html"}
        status, headers, body = fetch(g.port, "/status/503?a=1&b=x%20y", "all.test", sent)
        # the status is kept; every field of the page's answer comes along, but
        # not the one its Connection field names, and not its framing
        assert status == 503, (status, body)
        assert body.startswith(b"<h1>page for /503.html?from=")
        names = [k for k, _ in headers]
        assert [v for k, v in headers if k == "set-cookie"] == ["a=1; Path=/", "b=2; Path=/"], headers
        assert dict(headers)["x-page"] == "yes" and dict(headers)["cache-control"] == "no-store"
        assert dict(headers)["content-type"] == "text/html; charset=utf-8"
        assert "x-hop" not in names and names.count("content-length") == 1 and names.count("date") == 1, headers
        # {url}: the whole original URL, query-escaped as Go's url.QueryEscape
        assert pages.seen[-1]["path"] == "/503.html?from=http%3A%2F%2Fall.test%2Fstatus%2F503%3Fa%3D1%26b%3Dx%2520y"
        # errorRequestHeaders unset: every request header goes to the page service, with the original Host
        h = pages.headers()
        assert h["host"] == "all.test" and h["x-test"] == "1" and h["authorization"] == "Bearer secret"
        assert h["cookie"] == "session=abc" and h["accept"] == "text/html", h
        # errorRequestHeaders: [X-Test]: that one only
        status, _, _ = fetch(g.port, "/status/404", "some.test", sent)
        h = pages.headers()
        assert status == 404 and pages.seen[-1]["path"] == "/p"
        assert h["x-test"] == "1" and "authorization" not in h and "cookie" not in h and "accept" not in h, h
        assert h["host"] == "some.test"
        # errorRequestHeaders: []: none (the Host only); no query: "/"; statusRewrites
        status, _, body = fetch(g.port, "/status/404", "none.test", sent)
        h = pages.headers()
        assert status == 410 and pages.seen[-1]["path"] == "/" and body == b"<h1>page for /</h1>\n"
        assert not {"x-test", "authorization", "cookie", "accept"} & set(h), h
    finally:
        pages.stop()


def test_page_request_carries_the_entry_points_forwarded_fields(tmp_path, procs):
    """Traefik's entry point writes X-Forwarded-Proto/-Host/-Port/-Server and
    X-Real-Ip into the request before any middleware: the page request,
    made from the request's headers, has them too; X-Forwarded-For only as a
    trusted proxy sent it (an untrusted client's is dropped), without the
    client's address (Traefik's page request has none to append). The
    internal nginxHeaders option is refused in a file, as Traefik's."""
    import socket
    app, pages = procs.whoami(), PageServer()
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    all: {rule: \"Host(`fw.test`)\", service: app, middlewares: [all]}\n"
                         "    some: {rule: \"Host(`some.test`)\", service: app, middlewares: [some]}\n"
                         "    nginx: {rule: \"Host(`nginx.test`)\", service: app, middlewares: [nginx]}\n"
                         "  middlewares:\n"
                         "    all: {errors: {status: [\"404\"], service: pages}}\n"
                         "    some: {errors: {status: [\"404\"], service: pages, errorRequestHeaders: [X-Real-Ip]}}\n"
                         "    nginx: {errors: {status: [\"404\"], service: pages, nginxHeaders: {X-Namespace: a}}}\n"
                         "  services:\n" + service_yaml("app", [app.url]) + service_yaml("pages", [pages.url]))
        wait_for(lambda: get(g.port, "/", "fw.test")[0] == 200, what="route live")
        forged = {"X-Forwarded-For": "6.6.6.6", "X-Real-Ip": "6.6.6.6", "X-Forwarded-Host": "evil.test"}
        status, _, _ = fetch(g.port, "/status/404", "fw.test", forged)
        h = pages.headers()
        assert status == 404
        assert h["x-forwarded-proto"] == "http" and h["x-forwarded-host"] == "fw.test", h
        assert h["x-forwarded-port"] == "80" and h["x-forwarded-server"] == socket.gethostname(), h
        assert h["x-real-ip"] == "127.0.0.1" and "x-forwarded-for" not in h, h
        # the same fields the app got (what a proxied request carries), X-Forwarded-For aside
        app_seen = get(g.port, "/", "fw.test", headers=forged)[2].decode()
        for k in ("x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-server", "x-real-ip"):
            assert ("%s: %s" % (k, h[k])).lower() in app_seen.lower(), (k, app_seen)
        # the Host's port is X-Forwarded-Port's
        fetch(g.port, "/status/404", "fw.test:8081", {})
        assert pages.headers()["x-forwarded-port"] == "8081"
        # errorRequestHeaders lists them like any header
        status, _, _ = fetch(g.port, "/status/404", "some.test", forged)
        h = pages.headers()
        assert status == 404 and h["x-real-ip"] == "127.0.0.1", h
        assert not {"x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-server",
                    "x-forwarded-for"} & set(h), h
        r = {x["name"]: x for x in g.api("/api/http/routers")}["nginx@file"]
        assert r["status"] == "disabled" and "nginxHeaders" in " ".join(r["error"]), r
    finally:
        pages.stop()
