"""The middleware pipeline against the real binary and a recording upstream:
chains in Traefik's order (entry point, router, service), provider
qualification, chain flattening and cycles, and fail closed: a router whose
policy cannot be built is not served, with its error in the API, while the
rest of the same file is.
"""
from attack import RecordingUpstream
from conftest import get, service_yaml, wait_for


def upstream_target(up, i=-1):
    head = up.requests[i][0]
    return head.split(b"\r\n", 1)[0].split(b" ")[1].decode()


def upstream_header(up, name, i=-1):
    for line in up.requests[i][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


def routers(g):
    return {r["name"]: r for r in g.api("/api/http/routers")}


def test_strip_and_add_prefix_rewrite_what_goes_upstream(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    strip: {rule: \"Host(`s.test`)\", service: app, middlewares: [api-strip]}\n"
                     "    add: {rule: \"Host(`a.test`)\", service: app, middlewares: [v2]}\n"
                     "    both: {rule: \"Host(`b.test`)\", service: app, middlewares: [api-strip, v2]}\n"
                     "  middlewares:\n"
                     "    api-strip: {stripPrefix: {prefixes: [/api, /other]}}\n"
                     "    v2: {addPrefix: {prefix: /v2}}\n" + "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/api/users?x=1", "s.test")[0] == 200, what="route live")
    assert upstream_target(up) == "/users?x=1"
    assert upstream_header(up, "X-Forwarded-Prefix") == "/api"
    assert get(g.port, "/api", "s.test")[0] == 200 and upstream_target(up) == "/"
    assert get(g.port, "/nomatch", "s.test")[0] == 200 and upstream_target(up) == "/nomatch"
    assert upstream_header(up, "X-Forwarded-Prefix") is None
    assert get(g.port, "/x?y=2", "a.test")[0] == 200 and upstream_target(up) == "/v2/x?y=2"
    # in order: strip, then add
    assert get(g.port, "/api/z", "b.test")[0] == 200 and upstream_target(up) == "/v2/z"


def test_redirect_scheme_answers_without_reaching_the_upstream(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [to-https]}\n"
                     "    p: {rule: \"Host(`p.test`)\", service: app, middlewares: [to-https-8443]}\n"
                     "  middlewares:\n"
                     "    to-https: {redirectScheme: {scheme: https, permanent: true}}\n"
                     "    to-https-8443: {redirectScheme: {scheme: https, port: \"8443\"}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 301, what="route live")
    status, headers, body = get(g.port, "/a/b?c=d", "r.test:8080")
    assert status == 301 and headers["location"] == "https://r.test/a/b?c=d" and body == b"Moved Permanently"
    status, headers, _ = get(g.port, "/a", "r.test", method="POST", body=b"x")
    assert status == 308 and headers["location"] == "https://r.test/a"
    status, headers, _ = get(g.port, "/", "p.test")
    assert status == 302 and headers["location"] == "https://p.test:8443/"
    status, headers, _ = get(g.port, "/", "p.test", method="PUT", body=b"")
    assert status == 307
    assert up.requests == []


def test_entrypoint_redirection_and_entrypoint_middlewares(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n"
           "    app: {rule: \"Host(`e.test`)\", service: app}\n"
           "    tagged: {rule: \"Host(`t.test`)\", service: app, entryPoints: [other], middlewares: [v1]}\n"
           "  middlewares:\n"
           "    v1: {addPrefix: {prefix: /v1}}\n"
           "    ep-strip: {stripPrefix: {prefixes: [/edge]}}\n"
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn, entrypoints=("web", "websecure", "other"),
                     args=["--entryPoints.web.http.redirections.entryPoint.to=websecure",
                           "--entryPoints.web.http.redirections.entryPoint.scheme=https",
                           "--entryPoints.other.http.middlewares=ep-strip@file"])
    secure_port = g.ports["websecure"]
    wait_for(lambda: get(g.port, "/x", "e.test")[0] == 301, what="redirect live")
    status, headers, _ = get(g.port, "/x?q=1", "e.test")
    assert status == 301 and headers["location"] == "https://e.test:%d/x?q=1" % secure_port
    # any host, even one no router knows, is redirected (a catch-all at the top priority)
    assert get(g.port, "/", "unknown.test")[0] == 301
    # the entry point's middlewares run before the router's
    other = g.ports["other"]
    assert get(other, "/edge/p", "t.test")[0] == 200 and upstream_target(up) == "/v1/p"
    assert get(other, "/edge/p", "e.test")[0] == 200 and upstream_target(up) == "/p"
    assert up.requests and len(up.requests) == 2


def test_fail_closed_only_the_routers_that_need_what_is_missing(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    ok: {rule: \"Host(`ok.test`)\", service: app, middlewares: [strip]}\n"
                     "    missing: {rule: \"Host(`missing.test`)\", service: app, middlewares: [nosuch]}\n"
                     "    plugin: {rule: \"Host(`plugin.test`)\", service: app, middlewares: [plug]}\n"
                     "    unknown: {rule: \"Host(`unknown.test`)\", service: app, middlewares: [weird]}\n"
                     "    badvalue: {rule: \"Host(`bad.test`)\", service: app, middlewares: [badredirect]}\n"
                     "    badoption: {rule: \"Host(`opt.test`)\", service: app, middlewares: [typo]}\n"
                     "    loop: {rule: \"Host(`loop.test`)\", service: app, middlewares: [c1]}\n"
                     "    chained: {rule: \"Host(`chain.test`)\", service: app, middlewares: [c3]}\n"
                     "    fo: {rule: \"Host(`fo.test`)\", service: fover}\n"
                     "  middlewares:\n"
                     "    strip: {stripPrefix: {prefixes: [/s]}}\n"
                     "    plug: {plugin: {demo: {headers: {a: b}}}}\n"
                     "    weird: {noSuchMiddleware: {x: 1}}\n"
                     "    badredirect: {redirectScheme: {permanent: maybe, scheme: https}}\n"
                     "    typo: {stripPrefix: {prefixs: [/s]}}\n"
                     "    c1: {chain: {middlewares: [c2]}}\n"
                     "    c2: {chain: {middlewares: [strip, c1]}}\n"
                     "    c3: {chain: {middlewares: [strip, c4]}}\n"
                     "    c4: {chain: {middlewares: [add]}}\n"
                     "    add: {addPrefix: {prefix: /z}}\n"
                     "  services:\n" + service_yaml("app", [up.url]) +
                     "    fover:\n      failover:\n        service: app\n        fallback: app\n")
    wait_for(lambda: get(g.port, "/s/1", "ok.test")[0] == 200, what="route live")
    assert upstream_target(up) == "/1"
    assert get(g.port, "/s/q", "chain.test")[0] == 200 and upstream_target(up) == "/z/q"
    served = len(up.requests)
    assert get(g.port, "/s/1", "fo.test")[0] == 200  # failover services are built
    served = len(up.requests)
    for host in ("missing", "plugin", "unknown", "bad", "opt", "loop"):
        assert get(g.port, "/s/1", host + ".test")[0] == 404, host
    assert len(up.requests) == served
    rs = routers(g)
    expect = {
        "missing@file": "middleware 'nosuch@file' does not exist",
        "plugin@file": "middleware type 'plugin' is not supported by gantry",
        "unknown@file": "middleware type 'noSuchMiddleware' is not supported by gantry",
        "badvalue@file": "permanent: 'maybe' is not a boolean",
        "badoption@file": "unknown option 'prefixs'",
        "loop@file": "chain loops back on itself",
    }
    for name, text in expect.items():
        assert rs[name]["status"] == "disabled" and text in " ".join(rs[name]["error"]), (name, rs[name])
    assert rs["ok@file"]["status"] == "enabled" and rs["chained@file"]["status"] == "enabled"
    mws = {m["name"]: m for m in g.api("/api/http/middlewares")}
    assert mws["strip@file"]["status"] == "enabled" and mws["strip@file"]["usedBy"] >= 2
    assert mws["plug@file"]["status"] == "disabled"
    overview = g.api("/api/overview")
    assert overview["http"]["middlewares"]["errors"] >= 3
    # fixing the file brings the refused router in without touching the others
    g.write(open(g.dynamic_path).read().replace("[nosuch]", "[strip]"))
    wait_for(lambda: get(g.port, "/s/m", "missing.test")[0] == 200, what="fixed router live")
    assert upstream_target(up) == "/m"


def test_provider_qualified_names(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    q: {rule: \"Host(`q.test`)\", service: app@file, middlewares: [\"strip@file\"]}\n"
                     "    other: {rule: \"Host(`o.test`)\", service: app, middlewares: [\"strip@docker\"]}\n"
                     "  middlewares:\n"
                     "    strip: {stripPrefix: {prefixes: [/s]}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/s/x", "q.test")[0] == 200, what="route live")
    assert upstream_target(up) == "/x"
    assert get(g.port, "/s/x", "o.test")[0] == 404
    assert "strip@docker' does not exist" in " ".join(routers(g)["other@file"]["error"])


def test_service_middlewares_run_after_the_routers(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`svc.test`)\", service: app, middlewares: [strip]}\n"
                     "  middlewares:\n"
                     "    strip: {stripPrefix: {prefixes: [/s]}}\n"
                     "    add: {addPrefix: {prefix: /inner}}\n"
                     "  services:\n" + service_yaml("app", [up.url], "      middlewares: [add]\n"))
    wait_for(lambda: get(g.port, "/s/x", "svc.test")[0] == 200, what="route live")
    assert upstream_target(up) == "/inner/x"
