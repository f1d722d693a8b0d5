"""Service middlewares inside a failover with errors (Traefik v3.7 builds
each child with its own middlewares): the main service's run on the main
request only; when the main's answer is one of the errors, the request as
the failover got it (the router's chain applied, not the main's) passes the
fallback's middlewares and goes to the fallback; a fallback middleware that
answers answers the client; a main service that is down sends the request
straight through the fallback's middlewares.
"""
import threading

import pytest

from conftest import free_port, get, service_yaml, wait_for
from http_peers import QuietHandler, serve
from k8s_emulator import Emulator
from test_k8s_crd import backend, gantry, info
from tls_certs import make_cert


class Peer:
    """Answers the path's first segment as the status ("/500/..." -> 500,
    anything else 200) and records (path, headers, body) of each request."""

    def __init__(self, name):
        self.name, self.seen, self.lock = name, [], threading.Lock()
        peer = self

        class Handler(QuietHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with peer.lock:
                    peer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                first = self.path.split("/")[1]
                status = int(first) if first.isdigit() else 200
                out = ("%s %d\n" % (peer.name, status)).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = answer

        self.httpd = serve(Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def last(self):
        with self.lock:
            return self.seen[-1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


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
        assert (status, body) == (200, b"main 200\n") and headers.get("x-main-hook") == "yes"
        path, seen, _ = main.last()
        assert (path, seen.get("x-main"), seen.get("x-router"), seen.get("x-fallback")) == ("/ok", "yes", "r", None)
        assert not fallback.seen
        # the main's 500 is dropped: the fallback gets the request as the failover got it, through its own chain
        status, headers, body = get(g.port, "/500/x?q=1", "f.test", method="POST", body=b"payload")
        assert (status, body) == (200, b"fallback 200\n"), (status, body)
        assert headers.get("x-via") == "fallback" and "x-main-hook" not in headers, headers
        assert main.last()[0] == "/500/x?q=1" and main.last()[1].get("x-main") == "yes"
        path, seen, sent = fallback.last()
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
        assert main.last()[0] == "/503/y" and not fallback.seen
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
        path, seen, _ = fallback.last()
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
        assert (status, body, headers.get("x-via")) == (200, b"fallback 200\n", "fallback"), (status, headers)
        path, seen, _ = fallback.last()
        assert (path, seen.get("x-fallback"), seen.get("x-router"), seen.get("x-main")) == ("/y", "yes", "r", None)
        # a status that is not one of the errors: the main's middleware answers the client
        assert get(g.port, "/z", "k.test")[0] == 403
        assert not main.seen and fallback.last()[0] == "/y"
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
