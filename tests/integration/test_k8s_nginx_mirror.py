"""ingress-nginx's mirror-target (+ mirror-request-body, mirror-host) onto
gantry's mirroring, with Ingresses applied by the real kubectl to the
API-server emulator: every request of the Ingress is copied to the URL with
its own URI, the main answer is the client's; what gantry cannot send as
ingress-nginx would refuses the Ingress."""
import pytest

from attack import RecordingUpstream
from conftest import get, wait_for
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry, problems  # noqa: F401
from test_k8s_nginx_proxy_ssl import ingress


@pytest.fixture
def shadow(procs):
    return procs.add(RecordingUpstream(body=b"shadow"))


def heads(up):
    return [h.decode() for h, _ in list(up.requests)]


def test_every_request_copied_with_its_uri_and_body(tmp_path, procs, emu, shadow):
    import http.client
    a = procs.whoami(name="main")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    target = "http://127.0.0.1:%d$request_uri" % shadow.port
    ingress(emu, "mirrored", "app", {"mirror-target": target, "mirror-host": "127.0.0.1"})
    ingress(emu, "nobody", "app", {"mirror-target": "http://127.0.0.1:%d/$request_uri" % shadow.port,
                                   "mirror-request-body": "off"})
    ingress(emu, "plain", "app", {})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "plain.test")[0] == 200, what="the Ingresses")
    for i in range(5):
        status, _, body = get(g.port, "/r%d?x=%d" % (i, i), "mirrored.test")
        assert status == 200 and b"main" in body
    wait_for(lambda: len(shadow.requests) >= 5, what="the copies")
    got = heads(shadow)
    for i in range(5):
        assert any(h.startswith("GET /r%d?x=%d HTTP/1.1\r\n" % (i, i)) for h in got), got
    assert all(("\r\nhost: 127.0.0.1:%d" % shadow.port) in h.lower() for h in got), got
    del shadow.requests[:]
    for host in ("mirrored.test", "nobody.test"):
        c = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        c.request("POST", "/upload", body=b"payload-" + host.encode(), headers={"Host": host})
        assert c.getresponse().status == 200
        c.close()
    wait_for(lambda: len(shadow.requests) >= 2, what="the POST copies")
    bodies = sorted(b for _, b in list(shadow.requests))
    assert bodies == [b"", b"payload-mirrored.test"], bodies  # mirror-request-body: off sends no body
    n = len(shadow.requests)
    assert get(g.port, "/x", "plain.test")[0] == 200
    assert len(shadow.requests) == n  # the other Ingress is not mirrored
    assert "mirror" not in problems(g), problems(g)


@pytest.mark.parametrize("annotations, says", [
    ({"mirror-target": "http://127.0.0.1:9/fixed"}, "mirror-target: `http://127.0.0.1:9/fixed` is not http(s)://host[:port]$request_uri"),
    ({"mirror-target": "http://127.0.0.1:9$uri"}, "is not http(s)://host[:port]$request_uri"),
    ({"mirror-target": "http://127.0.0.1:9$request_uri", "mirror-host": "other.example"},
     "mirror-host: `other.example` differs from the host of nginx.ingress.kubernetes.io/mirror-target"),
    ({"mirror-target": "http://127.0.0.1:9$request_uri", "mirror-request-body": "false"},
     "mirror-request-body: `false` is not on or off"),
])
def test_what_cannot_be_sent_refuses_the_ingress(tmp_path, procs, emu, annotations, says):
    a = procs.whoami(name="main")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    ingress(emu, "refused", "app", annotations)
    ingress(emu, "fine", "app", {})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "fine.test")[0] == 200, what="the other Ingress")
    assert "ingress default/refused: annotation nginx.ingress.kubernetes.io/" in problems(g)
    assert says in problems(g), problems(g)
    assert get(g.port, "/", "refused.test")[0] == 404
