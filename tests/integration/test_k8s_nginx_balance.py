"""ingress-nginx's upstream-hash-by and load-balance, Ingresses applied with
the real kubectl to the API-server emulator and requests from several
client addresses (127.0.0.x) to three whoami pods: `$remote_addr` pins
each client address to one pod while round robin spreads one client over
them; what Gantry cannot hash by is reported, a value ingress-nginx
rejects takes the Ingress out."""
import http.client
import json

from conftest import SLOW, wait_for
from k8s_objects import nginx_ingress_yaml
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry, kubectl, problems  # noqa: F401


def ingress(emu, name, annotations):
    apply(emu, nginx_ingress_yaml(name, "pods", annotations))


def pod_from(port, host, client, headers=None):
    """The whoami answering a request sent from address <client>, or the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW, source_address=(client, 0))
    conn.request("GET", "/?format=json", headers=dict({"Host": host}, **(headers or {})))
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return json.loads(body)["name"] if r.status == 200 else r.status


def test_upstream_hash_by_remote_addr_pins_each_client(tmp_path, procs, emu):
    pods = [procs.whoami(name=n) for n in ("a", "b", "c")]
    apply(emu, NGINX_CLASS)
    backends(emu, "pods", pods)
    ingress(emu, "hashed", {"upstream-hash-by": "$remote_addr"})
    ingress(emu, "binary", {"upstream-hash-by": "$binary_remote_addr", "load-balance": "ewma"})
    ingress(emu, "spread", {})
    ingress(emu, "ewma", {"load-balance": "ewma"})
    ingress(emu, "by-uri", {"upstream-hash-by": "$request_uri"})
    ingress(emu, "refused", {"load-balance": "least_conn"})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: pod_from(g.port, "hashed.test", "127.0.0.1") in ("a", "b", "c"), what="the hashed Ingress")
    clients = ["127.0.0.%d" % i for i in range(1, 13)]
    for host in ("hashed.test", "binary.test"):
        chosen = {}
        for c in clients:
            seen = {pod_from(g.port, host, c) for _ in range(5)}
            assert len(seen) == 1, (host, c, seen)  # one client address, one pod
            chosen[c] = seen.pop()
        assert len(set(chosen.values())) >= 2, (host, chosen)  # the addresses are spread over the pods
    # without the annotation one client is spread by round robin
    assert {pod_from(g.port, "spread.test", "127.0.0.1") for _ in range(6)} == {"a", "b", "c"}
    assert pod_from(g.port, "ewma.test", "127.0.0.1") in ("a", "b", "c")
    assert pod_from(g.port, "by-uri.test", "127.0.0.1") in ("a", "b", "c")
    p = problems(g)
    assert ("ingress default/by-uri: annotation nginx.ingress.kubernetes.io/upstream-hash-by: `$request_uri` is not "
            "implemented: gantry hashes only the client address ($remote_addr, $binary_remote_addr); served with round "
            "robin (ignored)") in p, p
    assert ("ingress default/binary: annotation nginx.ingress.kubernetes.io/load-balance is not used: "
            "upstream-hash-by comes first") in p, p
    # ingress-nginx's validation drops an Ingress whose load-balance is none of its algorithms
    assert "ingress default/refused: annotation nginx.ingress.kubernetes.io/load-balance: `least_conn` is not" in p, p
    assert pod_from(g.port, "refused.test", "127.0.0.1") == 404


def test_upstream_hash_by_other_keys_round_robin_and_events(tmp_path, procs, emu):
    """$http_*, $cookie_*, $host$request_uri: no gantry balancer hashes by them
    (the request path is not changed for it): the Ingress is served with round
    robin, so one and the same request goes to every pod in turn, and an
    Event on the Ingress names the annotation and its value. A subset without
    its hash is reported as unused."""
    pods = [procs.whoami(name=n) for n in ("a", "b", "c")]
    apply(emu, NGINX_CLASS)
    backends(emu, "pods", pods)
    ingress(emu, "by-header", {"upstream-hash-by": "$http_x_tenant", "upstream-hash-by-subset": "true",
                               "upstream-hash-by-subset-size": "2"})
    ingress(emu, "by-cookie", {"upstream-hash-by": "$cookie_session"})
    ingress(emu, "by-host-uri", {"upstream-hash-by": "$host$request_uri", "load-balance": "ewma"})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: pod_from(g.port, "by-cookie.test", "127.0.0.1") in ("a", "b", "c"), what="the Ingresses")
    same = {"by-header.test": {"X-Tenant": "t1"}, "by-cookie.test": {"Cookie": "session=s1"}, "by-host-uri.test": {}}
    for host, headers in same.items():
        wait_for(lambda: pod_from(g.port, host, "127.0.0.1", headers) in ("a", "b", "c"), what=host)
        seen = {pod_from(g.port, host, "127.0.0.1", headers) for _ in range(6)}
        assert seen == {"a", "b", "c"}, (host, seen)  # not hashed: the same key reaches every pod
    p = problems(g)
    for name, key in (("by-header", "$http_x_tenant"), ("by-cookie", "$cookie_session"),
                      ("by-host-uri", "$host$request_uri")):
        assert ("ingress default/%s: annotation nginx.ingress.kubernetes.io/upstream-hash-by: `%s` is not implemented"
                % (name, key)) in p, p
    assert ("ingress default/by-header: annotation nginx.ingress.kubernetes.io/upstream-hash-by-subset is not used: "
            "upstream-hash-by `$http_x_tenant` is not implemented (ignored)") in p, p

    def events(name):
        items = json.loads(kubectl(emu, "get", "events", "-n", "default", "-o", "json"))["items"]
        return [e for e in items if e["involvedObject"]["name"] == name]
    wait_for(lambda: len(events("by-header")) == 3 and len(events("by-cookie")) == 1, what="the Events")
    (ev,) = events("by-cookie")
    assert ev["reason"] == "AnnotationNotHonoured" and ev["type"] == "Warning", ev
    assert "nginx.ingress.kubernetes.io/upstream-hash-by: `$cookie_session` is not implemented" in ev["message"], ev
    assert all(e["reason"] == "AnnotationNotHonoured" for e in events("by-header"))
