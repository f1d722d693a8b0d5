"""Service middlewares inside a failover with errors (Traefik v3.7 builds
each child with its own middlewares): the main service's run on the main
request only; when the main's answer is one of the errors, the request as
the failover got it (the router's chain applied, not the main's) passes the
fallback's middlewares and goes to the fallback; a fallback middleware that
answers answers the client; a main service that is down sends the request
straight through the fallback's middlewares.
"""
import pytest

from conftest import free_port, get, service_yaml, wait_for
from http_peers import StatusPeer as Peer
from k8s_emulator import Emulator
from test_k8s_crd import backend, gantry, info
from tls_certs import make_cert


MIDDLEWARES = ("  middlewares:\n"
               "    tag-router: {headers: {customRequestHeaders: {X-Router: r}}}\n"
               "    tag-main: {headers: {customRequestHeaders: {X-Main: yes}, customResponseHeaders: {X-Main-Hook: yes}}}\n"
               "    tag-fallback: {headers: {customRequestHeaders: {X-Fallback: yes}, customResponseHeaders: {X-Via: fallback}}}\n"
               "    prefix-fallback: {addPrefix: {prefix: /f}}\n"
               "    deny: {ipAllowList: {sourceRange: [10.0.0.0/8]}}\n")


def failover(name, main, fallback, errors="500-599"):
    return ("    %s:\n      failover:\n        service: %s\n        fallback: %s\n"
            "        errors: {status: [\"%s\"]}\n" % (name, main, fallback, errors))


def test_the_fallback_request_passes_the_fallbacks_middlewares_only(tmp_path, procs):
    main, fallback = Peer("main"), Peer("fallback")
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`f.test`)\", service: fo, middlewares: [tag-router]}\n"
                         + MIDDLEWARES + "  services:\n" + failover("fo", "sa", "sb")
                         + service_yaml("sa", [main.url], "      middlewares: [tag-main]\n")
                         + service_yaml("sb", [fallback.url], "      middlewares: [tag-fallback, prefix-fallback]\n"))
        wait_for(lambda: get(g.port, "/ok", "f.test")[0] == 200, what="route live")
        # the main answers: its middlewares both ways, the fallback untouched
        status, headers, body = get(g.port, "/ok", "f.test")
        assert (status, body) == (200, b"main 200 0\n") and headers.get("x-main-hook") == "yes"
        _, path, seen, _ = main.last()
        assert (path, seen.get("x-main"), seen.get("x-router"), seen.get("x-fallback")) == ("/ok", "yes", "r", None)
        assert not fallback.seen
        # the main's 500 is dropped: the fallback gets the request as the failover got it, through its own chain
        status, headers, body = get(g.port, "/500/x?q=1", "f.test", method="POST", body=b"payload")
        assert (status, body) == (200, b"fallback 200 7\n"), (status, body)
        assert headers.get("x-via") == "fallback" and "x-main-hook" not in headers, headers
        assert main.last().path == "/500/x?q=1" and main.last().headers.get("x-main") == "yes"
        _, path, seen, sent = fallback.last()
        assert path == "/f/500/x?q=1" and sent == b"payload"
        assert (seen.get("x-fallback"), seen.get("x-router"), seen.get("x-main")) == ("yes", "r", None), seen
    finally:
        main.close()
        fallback.close()


def test_a_fallback_middleware_that_answers_answers_the_client(tmp_path, procs):
    main, fallback = Peer("main"), Peer("fallback")
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`f.test`)\", service: fo}\n"
                         + MIDDLEWARES + "  services:\n" + failover("fo", "sa", "sb")
                         + service_yaml("sa", [main.url])
                         + service_yaml("sb", [fallback.url], "      middlewares: [deny]\n"))
        wait_for(lambda: get(g.port, "/ok", "f.test")[0] == 200, what="route live")
        status, _, _ = get(g.port, "/503/y", "f.test")
        assert status == 403  # the fallback's allow-list, after the main's 503 was dropped
        assert main.last().path == "/503/y" and not fallback.seen
        assert get(g.port, "/ok2", "f.test")[0] == 200  # the connection and the route carry on
    finally:
        main.close()
        fallback.close()


def test_a_main_that_is_down_sends_straight_through_the_fallbacks_middlewares(tmp_path, procs):
    fallback = Peer("fallback")
    dead = "http://127.0.0.1:%d" % free_port()
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`f.test`)\", service: fo, middlewares: [tag-router]}\n"
                         + MIDDLEWARES + "  services:\n" + failover("fo", "sdead", "sb", "500")  # 502: not an error
                         + service_yaml("sdead", [dead], "        healthCheck: {path: /, interval: 100ms, timeout: 100ms}\n"
                                        "      middlewares: [tag-main]\n")
                         + service_yaml("sb", [fallback.url], "      middlewares: [tag-fallback]\n"))
        wait_for(lambda: get(g.port, "/d", "f.test")[0] == 200, timeout=10, what="fallback answers")
        status, headers, _ = get(g.port, "/d2", "f.test")
        assert status == 200 and headers.get("x-via") == "fallback" and "x-main-hook" not in headers
        _, path, seen, _ = fallback.last()
        assert (path, seen.get("x-fallback"), seen.get("x-router"), seen.get("x-main")) == ("/d2", "yes", "r", None)
    finally:
        fallback.close()


def test_a_main_middlewares_answer_that_is_an_error_goes_to_the_fallback(tmp_path, procs):
    main, fallback = Peer("main"), Peer("fallback")
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`f.test`)\", service: fo, middlewares: [tag-router]}\n"
                         "    kept: {rule: \"Host(`k.test`)\", service: fo2}\n"
                         + MIDDLEWARES + "  services:\n" + failover("fo", "sa", "sb", "403")
                         + failover("fo2", "sa", "sb", "500")
                         + service_yaml("sa", [main.url], "      middlewares: [tag-main, deny]\n")
                         + service_yaml("sb", [fallback.url], "      middlewares: [tag-fallback]\n"))
        wait_for(lambda: get(g.port, "/x", "f.test")[0] == 200, what="route live")
        # the main's allow-list answers 403, one of the errors: the fallback, through its own chain
        status, headers, body = get(g.port, "/y", "f.test")
        assert (status, body, headers.get("x-via")) == (200, b"fallback 200 0\n", "fallback"), (status, headers)
        _, path, seen, _ = fallback.last()
        assert (path, seen.get("x-fallback"), seen.get("x-router"), seen.get("x-main")) == ("/y", "yes", "r", None)
        # a status that is not one of the errors: the main's middleware answers the client
        assert get(g.port, "/z", "k.test")[0] == 403
        assert not main.seen and fallback.last().path == "/y"
    finally:
        main.close()
        fallback.close()


@pytest.fixture
def emu(tmp_path):
    cert, key = make_cert(str(tmp_path), "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = str(tmp_path) + "/ca.crt"
    yield e
    e.stop()


def test_a_traefikservice_failovers_references_run_their_own_middlewares(tmp_path, procs, emu):
    """Kubernetes: services[].middlewares on a TraefikService failover's main
    and fallback references (wrapping services of one child) run as above."""
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    backend(emu, "a", a)
    backend(emu, "b", b)
    for name, spec in (("tag-main", {"headers": {"customRequestHeaders": {"X-Main": "yes"}}}),
                       ("tag-fallback", {"headers": {"customRequestHeaders": {"X-Fallback": "yes"}}}),
                       ("to-root", {"replacePath": {"path": "/"}})):
        emu.apply({"kind": "Middleware", "apiVersion": "traefik.io/v1alpha1",
                   "metadata": {"name": name, "namespace": "default"}, "spec": spec})
    emu.apply({"kind": "TraefikService", "apiVersion": "traefik.io/v1alpha1",
               "metadata": {"name": "fo", "namespace": "default"},
               "spec": {"failover": {
                   "service": {"name": "a", "port": 80, "middlewares": [{"name": "tag-main"}]},
                   "fallback": {"name": "b", "port": 80, "middlewares": [{"name": "tag-fallback"}, {"name": "to-root"}]},
                   "errors": {"status": ["500-599"]}}}})
    emu.apply({"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "app", "namespace": "default"},
               "spec": {"routes": [{"match": "Host(`fo.test`)", "kind": "Rule",
                                    "services": [{"name": "fo", "kind": "TraefikService"}]}]}})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: isinstance(info(g.port, "/x", "fo.test"), dict), what="route live")
    i = info(g.port, "/x", "fo.test")
    assert i["name"] == "a" and i["headers"].get("X-Main") == "yes" and "X-Fallback" not in i["headers"], i
    i = info(g.port, "/status/503", "fo.test")  # the main's 503: the fallback, through its own chain only
    assert isinstance(i, dict) and i["name"] == "b" and i["path"] == "/", i
    assert i["headers"].get("X-Fallback") == "yes" and "X-Main" not in i["headers"], i
