"""Service middlewares below the router's service (Traefik v3.7 runs a
service's middlewares wherever that service handles the request): the
children of a weighted (sticky or not), highestRandomWeight or failover
service each run their own after the router's chain (a mirroring
service's main and mirrors, a failover with errors' main and fallback:
test_mirror_middlewares.py, test_failover_middlewares.py); a service with
middlewares anywhere gantry cannot place them (deeper in a child, a mirror
inside a failover with errors included) takes the router out with an
error naming it, never serving the request without them.
"""
from attack import RecordingUpstream
from conftest import free_port, get, service_yaml, wait_for


def header_of(up, name, i=-1):
    for line in up.requests[i][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


def target_of(up, i=-1):
    return up.requests[i][0].split(b"\r\n", 1)[0].split(b" ")[1].decode()


def routers(g):
    return {r["name"]: r for r in g.api("/api/http/routers")}


def test_each_weighted_child_runs_its_own_middlewares_after_the_routers(tmp_path, procs):
    a, b = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`w.test`)\", service: split, middlewares: [strip]}\n"
                     "  middlewares:\n"
                     "    strip: {stripPrefix: {prefixes: [/s]}}\n"
                     "    tag-a: {headers: {customRequestHeaders: {X-Branch: a}, customResponseHeaders: {X-Served-By: a}}}\n"
                     "    prefix-b: {addPrefix: {prefix: /b}}\n"
                     "  services:\n"
                     "    split:\n      weighted:\n        services:\n"
                     "          - {name: sa, weight: 1}\n          - {name: sb, weight: 1}\n"
                     + service_yaml("sa", [a.url], "      middlewares: [tag-a]\n")
                     + service_yaml("sb", [b.url], "      middlewares: [prefix-b]\n"))
    wait_for(lambda: get(g.port, "/s/x", "w.test")[0] == 200, what="route live")
    seen = {}
    for _ in range(20):
        status, headers, _ = get(g.port, "/s/x", "w.test")
        assert status == 200
        who = headers.get("x-served-by", "b")
        seen[who] = seen.get(who, 0) + 1
    assert seen.get("a", 0) >= 5 and seen.get("b", 0) >= 5, seen  # both children, by weight
    assert a.requests and b.requests
    for i in range(len(a.requests)):  # the router's strip, then the child's own
        assert target_of(a, i) == "/x" and header_of(a, "X-Branch", i) == "a"
    for i in range(len(b.requests)):
        assert target_of(b, i) == "/b/x" and header_of(b, "X-Branch", i) is None


def test_hrw_and_failover_children_run_their_own_middlewares(tmp_path, procs):
    a, b = RecordingUpstream(), RecordingUpstream()
    dead = "http://127.0.0.1:%d" % free_port()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    hrw: {rule: \"Host(`h.test`)\", service: byclient}\n"
                     "    fo: {rule: \"Host(`f.test`)\", service: fo}\n"
                     "    down: {rule: \"Host(`down.test`)\", service: fodown}\n"
                     "  middlewares:\n"
                     "    tag-a: {headers: {customRequestHeaders: {X-Branch: a}}}\n"
                     "    tag-b: {headers: {customRequestHeaders: {X-Branch: b}}}\n"
                     "  services:\n"
                     "    byclient:\n      highestRandomWeight:\n        services: [{name: sa, weight: 1}, {name: sb, weight: 0}]\n"
                     "    fo:\n      failover: {service: sa, fallback: sb}\n"
                     "    fodown:\n      failover: {service: sdead, fallback: sb}\n"
                     + service_yaml("sa", [a.url], "      middlewares: [tag-a]\n")
                     + service_yaml("sb", [b.url], "      middlewares: [tag-b]\n")
                     + service_yaml("sdead", [dead], "        healthCheck: {path: /, interval: 100ms, timeout: 100ms}\n"
                                    "      middlewares: [tag-a]\n"))
    wait_for(lambda: get(g.port, "/", "h.test")[0] == 200, what="route live")
    assert header_of(a, "X-Branch") == "a"
    assert get(g.port, "/", "f.test")[0] == 200 and header_of(a, "X-Branch") == "a"
    # the main service down (health check): the fallback, with its own middlewares
    wait_for(lambda: get(g.port, "/d", "down.test")[0] == 200, timeout=10, what="fallback answers")
    assert target_of(b) == "/d" and header_of(b, "X-Branch") == "b"


def test_sticky_weighted_children_run_their_own_middlewares(tmp_path, procs):
    a, b = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`s.test`)\", service: sticky}\n"
                     "  middlewares:\n"
                     "    tag-a: {headers: {customRequestHeaders: {X-Branch: a}, customResponseHeaders: {X-Served-By: a}}}\n"
                     "    tag-b: {headers: {customRequestHeaders: {X-Branch: b}, customResponseHeaders: {X-Served-By: b}}}\n"
                     "  services:\n"
                     "    sticky:\n      weighted:\n        sticky: {cookie: {name: lane}}\n        services:\n"
                     "          - {name: sa, weight: 1}\n          - {name: sb, weight: 1}\n"
                     + service_yaml("sa", [a.url], "      middlewares: [tag-a]\n")
                     + service_yaml("sb", [b.url], "      middlewares: [tag-b]\n"))
    wait_for(lambda: get(g.port, "/", "s.test")[0] == 200, what="route live")
    cookies = {}
    for _ in range(4):  # new clients: balanced, each told where it sticks
        status, headers, _ = get(g.port, "/", "s.test")
        assert status == 200 and headers["set-cookie"].startswith("lane="), headers
        cookies[headers["x-served-by"]] = headers["set-cookie"].split(";")[0]
    assert set(cookies) == {"a", "b"}, cookies
    for who, cookie in cookies.items():
        for _ in range(5):  # a returning client: its child, its middlewares, no new cookie
            status, headers, _ = get(g.port, "/", "s.test", headers={"Cookie": cookie})
            assert (status, headers["x-served-by"]) == (200, who) and "set-cookie" not in headers, headers
    assert all(header_of(a, "X-Branch", i) == "a" for i in range(len(a.requests)))
    assert all(header_of(b, "X-Branch", i) == "b" for i in range(len(b.requests)))
    # a cookie naming no child: balanced again, and rewritten
    status, headers, _ = get(g.port, "/", "s.test", headers={"Cookie": "lane=0000000000000000"})
    assert status == 200 and headers["set-cookie"].split(";")[0] == cookies[headers["x-served-by"]]


def test_a_child_whose_middleware_cannot_be_built_takes_the_router_out(tmp_path, procs):
    a, b = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    bad: {rule: \"Host(`bad.test`)\", service: split}\n"
                     "    ok: {rule: \"Host(`ok.test`)\", service: sa}\n"
                     "  services:\n"
                     "    split:\n      weighted:\n        services:\n"
                     "          - {name: sa, weight: 1}\n          - {name: sb, weight: 1}\n"
                     + service_yaml("sa", [a.url])
                     + service_yaml("sb", [b.url], "      middlewares: [nosuch]\n"))
    wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
    assert get(g.port, "/", "bad.test")[0] == 404
    err = " ".join(routers(g)["bad@file"]["error"])
    assert "sb@file" in err and "nosuch" in err, err
    assert not b.requests


def test_middlewares_gantry_cannot_place_refuse_the_router(tmp_path, procs):
    a, b = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    mirrored: {rule: \"Host(`m.test`)\", service: mirrored}\n"
                     "    deep: {rule: \"Host(`d.test`)\", service: deep}\n"
                     "    foerr: {rule: \"Host(`e.test`)\", service: foerr}\n"
                     "    fine: {rule: \"Host(`f.test`)\", service: sb}\n"
                     "  middlewares:\n"
                     "    tag: {headers: {customRequestHeaders: {X-Tag: t}}}\n"
                     "  services:\n"
                     "    mirrored:\n      failover: {service: copied, fallback: sb, errors: {status: [\"500\"]}}\n"
                     "    copied:\n      mirroring:\n        service: sb\n        mirrors: [{name: sa, percent: 100}]\n"
                     "    inner:\n      weighted:\n        services: [{name: sa, weight: 1}]\n"
                     "    deep:\n      weighted:\n        services: [{name: inner, weight: 1}, {name: sb, weight: 1}]\n"
                     "    foerr:\n      failover: {service: inner, fallback: sb, errors: {status: [\"500\"]}}\n"
                     + service_yaml("sa", [a.url], "      middlewares: [tag]\n")
                     + service_yaml("sb", [b.url]))
    wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
    for host in ("m.test", "d.test", "e.test"):
        assert get(g.port, "/", host)[0] == 404, host
    rs = routers(g)
    for name in ("mirrored@file", "deep@file", "foerr@file"):
        err = " ".join(rs[name]["error"])
        assert "sa@file" in err and "not served" in err, (name, err)
    assert not a.requests


def test_an_error_page_service_with_middlewares_is_refused(tmp_path, procs):
    a, pages = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`e.test`)\", service: app, middlewares: [pages]}\n"
                     "    fine: {rule: \"Host(`f.test`)\", service: app}\n"
                     "  middlewares:\n"
                     "    pages: {errors: {status: [\"500-599\"], service: pagesvc, query: \"/{status}.html\"}}\n"
                     "    tag: {headers: {customRequestHeaders: {X-Tag: t}}}\n"
                     "  services:\n"
                     + service_yaml("app", [a.url])
                     + service_yaml("pagesvc", [pages.url], "      middlewares: [tag]\n"))
    wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
    assert get(g.port, "/", "e.test")[0] == 404
    err = " ".join(routers(g)["r@file"]["error"])
    assert "pagesvc@file" in err and "error page" in err, err
