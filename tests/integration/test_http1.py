"""HTTP/1.1 through gantry with curl and Python clients: routing by host and
path, keep-alive to the upstream, methods and bodies, Traefik's 404."""
import json
import subprocess

from conftest import get, run, service_yaml, whoami_json


def config(up, extra_routers=""):
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"Host(`app.test`)\"\n      service: app\n"
            "    api:\n      rule: \"Host(`app.test`) && PathPrefix(`/api`)\"\n      service: api\n" + extra_routers +
            "  services:\n" + service_yaml("app", [up[0].url]) + service_yaml("api", [up[1].url]))


def test_routes_by_host_and_path(tmp_path, procs):
    up = [procs.whoami(name="app"), procs.whoami(name="api")]
    g = procs.gantry(tmp_path, config(up))
    assert whoami_json(g.port, "/", "app.test")["name"] == "app"
    assert whoami_json(g.port, "/api/v1", "app.test")["name"] == "api"  # longer rule wins
    assert whoami_json(g.port, "/apis", "APP.test:8080")["name"] == "api"  # char-wise prefix, host case/port ignored
    r = run(["curl", "-s", "-H", "Host: app.test", "http://127.0.0.1:%d/hello?x=1" % g.port])
    assert b"GET /hello?x=1 HTTP/1.1" in r.stdout


def test_unknown_host_is_404_with_traefik_body(tmp_path, procs):
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up))
    status, headers, body = get(g.port, "/", "nobody.test")
    assert status == 404 and body == b"404 page not found\n"
    # HTTP/1.0 without a Host header
    r = run(["curl", "-s", "-0", "-H", "Host:", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/" % g.port])
    assert r.stdout == b"404"


def test_methods_bodies_and_head(tmp_path, procs):
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up))
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        info = whoami_json(g.port, "/m", "app.test", method=method, body=b"x" * 100)
        assert info["method"] == method and info["body_length"] == 100
    status, headers, body = get(g.port, "/bytes/1000", "app.test", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "1000"
    status, headers, body = get(g.port, "/status/204", "app.test")
    assert status == 204 and body == b""
    status, headers, body = get(g.port, "/status/418", "app.test")
    assert status == 418
    # chunked request body is de-chunked and sent with a content-length
    r = run(["curl", "-s", "-H", "Host: app.test", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
             "http://127.0.0.1:%d/upload" % g.port], input=b"y" * 5000)
    assert json.loads(r.stdout)["length"] == 5000


def test_upstream_keepalive_is_reused(tmp_path, procs):
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up), workers=1)
    # 30 requests on new client connections: the upstream sees one connection
    peers = {whoami_json(g.port, "/", "app.test")["remote_addr"] for _ in range(30)}
    assert len(peers) == 1, peers


def test_response_headers_pass_through(tmp_path, procs):
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up))
    r = run(["curl", "-si", "-H", "Host: app.test", "http://127.0.0.1:%d/bytes/10" % g.port])
    head = r.stdout.split(b"\r\n\r\n")[0].decode().lower()
    assert "server: whoami" in head  # the upstream's server header, once
    assert head.count("date:") == 1 and head.count("content-length:") == 1
    assert "x-body-sha256:" in head


def test_many_concurrent_clients(tmp_path, procs):
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up))
    r = subprocess.run(["curl", "-s", "--parallel", "--parallel-max", "20", "-o", "/dev/null", "-w", "%{http_code}\n",
                        "-H", "Host: app.test", *["http://127.0.0.1:%d/n%d" % (g.port, i) for i in range(100)]],
                       capture_output=True, timeout=60)
    codes = r.stdout.decode().split()
    assert codes.count("200") == 100, codes


def test_keepalive_survives_configuration_change(tmp_path, procs):
    """Upstream connections belong to servers, not tables: a change that keeps
    the server keeps its idle connection."""
    up = [procs.whoami(), procs.whoami()]
    g = procs.gantry(tmp_path, config(up), workers=1)
    before = whoami_json(g.port, "/", "app.test")["remote_addr"]
    g.write(config(up, "    extra:\n      rule: \"Host(`extra.test`)\"\n      service: app\n"))
    g.wait_log(r"configuration applied.*3 routers")
    assert get(g.port, "/", "extra.test")[0] == 200
    after = whoami_json(g.port, "/", "app.test")["remote_addr"]
    assert before == after


def test_head_answered_with_a_body_does_not_break_the_next_requests(tmp_path, procs):
    """An upstream that wrongly sends a body after its answer to HEAD: the
    stray bytes are dropped with its connection (never forwarded, never
    read as the next response), and gantry keeps serving (it once freed
    the socket buffer under the event loop here)."""
    import http.client
    from attack import RecordingUpstream
    from conftest import get, service_yaml, wait_for
    up = RecordingUpstream(body=b"hello world")  # it answers HEAD with the body too
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`h.test`)\", service: app}\n  services:\n"
                     + service_yaml("app", [up.url]), workers=1)
    wait_for(lambda: get(g.port, "/", "h.test")[0] == 200, what="route live")
    for _ in range(3):
        c = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        c.request("HEAD", "/", headers={"Host": "h.test"})
        r = c.getresponse()
        assert r.status == 200 and r.read() == b""
        c.close()
        for _ in range(3):
            assert get(g.port, "/", "h.test")[2] == b"hello world"
    assert g.alive()
