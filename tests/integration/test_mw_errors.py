"""The errors middleware against real upstreams (whoami answers any status
on /status/NNN; a second whoami is the error-page service and echoes the
path it was asked for): the page replaces the response with the original
status, Gantry's own 502 is replaced too, statusRewrites, a status outside
the ranges passes untouched, keep-alive on the app's connection survives."""
import http.client

from conftest import SLOW, free_port, get, service_yaml, wait_for


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
    assert status == 503 and b"GET /503.html?orig=503&url=%2Fstatus%2F503" in body, body[:300]
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
