"""entryPoints.<name>.http.tls (Traefik's entry point model): a router
without TLS of its own is a TLS router on an entry point that has it, with
its options; a router on several entry points of which only some have it
becomes one router per entry point, "<ep>-<name>", as in Traefik.
"""
from attack import RecordingUpstream
from conftest import get, run, service_yaml, wait_for


def curl(port, host, scheme="https", extra=()):
    r = run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", *extra, "--resolve", "%s:%d:127.0.0.1" % (host, port),
             "%s://%s:%d/" % (scheme, host, port)], check=False)
    return r.stdout.decode()


DYN = ("http:\n  routers:\n"
       "    any: {rule: \"Host(`a.test`)\", service: app}\n"
       "    sec: {rule: \"Host(`b.test`)\", service: app, entryPoints: [websecure]}\n"
       "    own: {rule: \"Host(`c.test`)\", service: app, entryPoints: [websecure], tls: {options: default}}\n"
       "  services:\n")


def test_routers_without_tls_take_the_entry_points(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, DYN + service_yaml("app", [up.url]), entrypoints=("web", "websecure"),
                     args=["--entryPoints.websecure.http.tls=true"])
    sec = g.ports["websecure"]
    wait_for(lambda: curl(sec, "b.test") == "200", what="TLS router live")
    assert curl(sec, "a.test") == "200" and curl(sec, "c.test") == "200"
    assert get(g.port, "/", "a.test")[0] == 200       # the web copy stays plain
    assert curl(sec, "b.test", scheme="http") == "404"  # on websecure only over TLS
    names = {r["name"] for r in g.api("/api/http/routers")}
    assert {"web-any@file", "websecure-any@file", "sec@file", "own@file"} <= names, names
    assert "any@file" not in names


def test_the_entry_points_tls_options_apply(tmp_path, procs):
    up = RecordingUpstream()
    dyn = DYN.replace("tls: {options: default}", "tls: {}") + service_yaml("app", [up.url]) + (
        "tls:\n  options:\n    modern: {minVersion: VersionTLS13}\n")
    g = procs.gantry(tmp_path, dyn, entrypoints=("web", "websecure"),
                     args=["--entryPoints.websecure.http.tls.options=modern@file"])
    sec = g.ports["websecure"]
    wait_for(lambda: curl(sec, "b.test") == "200", what="TLS router live")
    assert curl(sec, "b.test", extra=["--tls-max", "1.2"]) == "000"  # the entry point's option: TLS 1.3 only
    assert curl(sec, "c.test", extra=["--tls-max", "1.2"]) == "200"  # a router's own tls keeps its own (default) option
