"""Service middlewares inside a mirroring service (Traefik v3.7 builds each
child service with its own middlewares): a mirror's run on its copy only,
the main service's on the main request only (the copies are taken after
the router's chain, before the main's); a mirror's middleware that answers
(an allow-list, a redirect, a rate limit) drops that copy and nothing
else; a middleware that would make a copy wait is refused.
"""
import time

from attack import RecordingUpstream, metric
from conftest import get, service_yaml, wait_for
from test_mirroring import mirror_stats
from test_failover_middlewares import emu  # noqa: F401 (the Kubernetes API emulator fixture)
from test_k8s_crd import backend, gantry as k8s_gantry
from test_service_middlewares_nested import header_of, routers, target_of  # what a RecordingUpstream saw


MIDDLEWARES = ("  middlewares:\n"
               "    tag-router: {headers: {customRequestHeaders: {X-Router: r}}}\n"
               "    tag-shadow: {headers: {customRequestHeaders: {X-Shadow: yes}}}\n"
               "    prefix-shadow: {addPrefix: {prefix: /shadow}}\n"
               "    tag-main: {headers: {customRequestHeaders: {X-Main: yes}, customResponseHeaders: {X-Served: main}}}\n"
               "    deny: {ipAllowList: {sourceRange: [10.0.0.0/8]}}\n"
               "    to-https: {redirectScheme: {scheme: https}}\n"
               "    one-a-minute: {rateLimit: {average: 1, period: 1m, burst: 1}}\n"
               "    waits: {forwardAuth: {address: \"http://127.0.0.1:1/auth\"}}\n")


def mirroring(name, main, mirrors):
    y = "    %s:\n      mirroring:\n        service: %s\n        mirrors:\n" % (name, main)
    return y + "".join("          - {name: %s, percent: 100}\n" % m for m in mirrors)


def test_a_mirrors_middlewares_run_on_its_copy_only(tmp_path, procs):
    main, shadow = RecordingUpstream(), RecordingUpstream(body=b"shadow")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`m.test`)\", service: mirrored, middlewares: [tag-router]}\n"
                     + MIDDLEWARES + "  services:\n" + mirroring("mirrored", "sa", ["sb"])
                     + service_yaml("sa", [main.url])
                     + service_yaml("sb", [shadow.url], "      middlewares: [tag-shadow, prefix-shadow]\n"))
    wait_for(lambda: get(g.port, "/x", "m.test")[0] == 200, what="route live")
    for i in range(5):
        status, _, body = get(g.port, "/x?i=%d" % i, "m.test")
        assert (status, body) == (200, b"ok")
    wait_for(lambda: len(shadow.requests) == len(main.requests), what="copies arrived")
    for i in range(len(main.requests)):  # the router's chain on both; the mirror's on the copy only
        assert header_of(main, "X-Router", i) == "r" and header_of(main, "X-Shadow", i) is None
        assert target_of(main, i).startswith("/x")
    for i in range(len(shadow.requests)):
        assert header_of(shadow, "X-Router", i) == "r" and header_of(shadow, "X-Shadow", i) == "yes"
        assert target_of(shadow, i).startswith("/shadow/x")
        assert header_of(shadow, "Host", i) == "m.test"


def test_the_main_services_middlewares_run_on_the_main_request_only(tmp_path, procs):
    main, shadow, other = RecordingUpstream(), RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`m.test`)\", service: mirrored, middlewares: [tag-router]}\n"
                     "    refused: {rule: \"Host(`deny.test`)\", service: denied}\n"
                     + MIDDLEWARES + "  services:\n" + mirroring("mirrored", "sa", ["sb"])
                     + mirroring("denied", "sdeny", ["sc"])
                     + service_yaml("sa", [main.url], "      middlewares: [tag-main]\n")
                     + service_yaml("sb", [shadow.url], "      middlewares: [tag-shadow]\n")
                     + service_yaml("sdeny", [main.url], "      middlewares: [deny]\n")
                     + service_yaml("sc", [other.url]))
    wait_for(lambda: get(g.port, "/", "m.test")[0] == 200, what="route live")
    status, headers, body = get(g.port, "/y", "m.test")
    assert (status, body, headers.get("x-served")) == (200, b"ok", "main")  # the main's response hook too
    wait_for(lambda: len(shadow.requests) == len(main.requests), what="copies arrived")
    assert header_of(main, "X-Main") == "yes" and header_of(main, "X-Shadow") is None
    assert header_of(shadow, "X-Main") is None and header_of(shadow, "X-Shadow") == "yes"
    assert header_of(shadow, "X-Router") == "r" and target_of(shadow) == "/y"
    # the main's chain refuses the client: the copy was taken before it and still goes (Traefik's order)
    n_main = len(main.requests)
    status, _, _ = get(g.port, "/z", "deny.test")
    assert status == 403
    wait_for(lambda: len(other.requests) == 1, what="the copy of a refused request")
    assert target_of(other) == "/z" and len(main.requests) == n_main


def test_a_mirror_chain_that_answers_drops_that_copy_only(tmp_path, procs):
    main, denied, redirected, limited, plain = (RecordingUpstream() for _ in range(5))
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`m.test`)\", service: mirrored}\n"
                     + MIDDLEWARES + "  services:\n" + mirroring("mirrored", "sa", ["sdeny", "sredir", "slimit", "splain"])
                     + service_yaml("sa", [main.url])
                     + service_yaml("sdeny", [denied.url], "      middlewares: [deny]\n")
                     + service_yaml("sredir", [redirected.url], "      middlewares: [to-https]\n")
                     + service_yaml("slimit", [limited.url], "      middlewares: [one-a-minute]\n")
                     + service_yaml("splain", [plain.url]))
    wait_for(lambda: get(g.port, "/", "m.test")[0] == 200, what="route live")
    for i in range(5):
        status, headers, body = get(g.port, "/n%d" % i, "m.test")
        assert (status, body) == (200, b"ok")  # whatever the mirrors' chains did
        assert "retry-after" not in headers and "location" not in headers, headers  # nor what they put in their answers
    wait_for(lambda: len(plain.requests) == len(main.requests), what="the plain mirror's copies")
    time.sleep(0.3)
    assert len(main.requests) == 6
    assert not denied.requests and not redirected.requests
    assert len(limited.requests) == 1  # the burst: one copy, then 429s, dropped
    # each refused copy is counted in its mirror's stats (API and /metrics), not as dropped or failed
    for mirror, refused in (("sdeny@file", 6), ("sredir@file", 6), ("slimit@file", 5), ("splain@file", 0)):
        st = mirror_stats(g, mirror)
        assert (st["refused"], st["dropped"], st["upstreamErrors"]) == (refused, 0, 0), (mirror, st)
        assert metric(g, "gantry_mirror_refused_total", service="mirrored@file", mirror=mirror) == refused


def test_a_mirror_middleware_that_would_wait_refuses_the_router(tmp_path, procs):
    main, shadow = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    bad: {rule: \"Host(`bad.test`)\", service: mirrored}\n"
                     "    ok: {rule: \"Host(`ok.test`)\", service: sa}\n"
                     + MIDDLEWARES + "  services:\n" + mirroring("mirrored", "sa", ["sb"])
                     + service_yaml("sa", [main.url])
                     + service_yaml("sb", [shadow.url], "      middlewares: [waits]\n"))
    wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
    assert get(g.port, "/", "bad.test")[0] == 404
    err = " ".join(routers(g)["bad@file"]["error"])
    assert "sb@file" in err and "waits" in err and "not served" in err, err
    assert not shadow.requests


def test_a_weighted_child_that_mirrors_runs_its_parts(tmp_path, procs):
    main, shadow = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`w.test`)\", service: split}\n"
                     + MIDDLEWARES + "  services:\n"
                     "    split:\n      weighted:\n        services: [{name: mirrored, weight: 1}]\n"
                     + mirroring("mirrored", "sa", ["sb"])
                     + service_yaml("sa", [main.url], "      middlewares: [tag-main]\n")
                     + service_yaml("sb", [shadow.url], "      middlewares: [tag-shadow]\n"))
    wait_for(lambda: get(g.port, "/", "w.test")[0] == 200, what="route live")
    wait_for(lambda: len(shadow.requests) == len(main.requests), what="copies arrived")
    assert header_of(main, "X-Main") == "yes" and header_of(main, "X-Shadow") is None
    assert header_of(shadow, "X-Main") is None and header_of(shadow, "X-Shadow") == "yes"


def test_a_traefikservice_mirrorings_references_run_their_own_middlewares(tmp_path, procs, emu):
    """Kubernetes: services[].middlewares on a TraefikService mirroring's main
    and mirror references (wrapping services of one child) run as above."""
    main, shadow = RecordingUpstream(), RecordingUpstream()
    backend(emu, "main", main)
    backend(emu, "shadow", shadow)
    for name, hdr in (("tag-main", "X-Main"), ("tag-shadow", "X-Shadow")):
        emu.apply({"kind": "Middleware", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": name, "namespace": "default"},
                   "spec": {"headers": {"customRequestHeaders": {hdr: "yes"}}}})
    emu.apply({"kind": "TraefikService", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "mirrored", "namespace": "default"},
               "spec": {"mirroring": {"name": "main", "port": 80, "middlewares": [{"name": "tag-main"}],
                                      "mirrors": [{"name": "shadow", "port": 80, "percent": 100,
                                                   "middlewares": [{"name": "tag-shadow"}]}]}}})
    emu.apply({"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "app", "namespace": "default"},
               "spec": {"routes": [{"match": "Host(`m.test`)", "kind": "Rule",
                                    "services": [{"name": "mirrored", "kind": "TraefikService"}]}]}})
    g = k8s_gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/k", "m.test")[0] == 200, what="route live")
    wait_for(lambda: len(shadow.requests) == len(main.requests), what="copies arrived")
    assert header_of(main, "X-Main") == "yes" and header_of(main, "X-Shadow") is None
    assert header_of(shadow, "X-Main") is None and header_of(shadow, "X-Shadow") == "yes"
