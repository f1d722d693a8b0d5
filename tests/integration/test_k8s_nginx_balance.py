"""ingress-nginx's upstream-hash-by and load-balance, Ingresses applied with
the real kubectl to the API-server emulator and requests from several
client addresses (127.0.0.x) to three whoami pods: `$remote_addr` pins
each client address to one pod while round robin spreads one client over
them; other nginx variables ($request_uri, $http_*, $cookie_*, $host...)
pin each value to one pod; a variable Gantry does not evaluate is
reported, a value ingress-nginx rejects takes the Ingress out."""
import http.client
import json

from conftest import SLOW, wait_for
from k8s_objects import nginx_ingress_yaml
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry, kubectl, problems  # noqa: F401


def ingress(emu, name, annotations):
    apply(emu, nginx_ingress_yaml(name, "pods", annotations))


def pod_from(port, host, client, headers=None, path="/"):
    """The whoami answering a request sent from address <client>, or the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW, source_address=(client, 0))
    conn.request("GET", path + "?format=json", headers=dict({"Host": host}, **(headers or {})))
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
    # $request_uri: one URI, one pod, whoever asks; the URIs spread over the pods
    by_uri = {}
    for i in range(12):
        seen = {pod_from(g.port, "by-uri.test", c, path="/u%d" % i) for c in clients[:4]}
        assert len(seen) == 1, (i, seen)
        by_uri[i] = seen.pop()
    assert len(set(by_uri.values())) >= 2, by_uri
    p = problems(g)
    assert "by-uri" not in p, p
    assert ("ingress default/binary: annotation nginx.ingress.kubernetes.io/load-balance is not used: "
            "upstream-hash-by comes first") in p, p
    # ingress-nginx's validation drops an Ingress whose load-balance is none of its algorithms
    assert "ingress default/refused: annotation nginx.ingress.kubernetes.io/load-balance: `least_conn` is not" in p, p
    assert pod_from(g.port, "refused.test", "127.0.0.1") == 404


def test_upstream_hash_by_request_variables_and_events(tmp_path, procs, emu):
    """$http_*, $cookie_*, $host$request_uri: each value stays on one pod
    from any client address, and the values spread over the pods; a
    variable gantry does not evaluate ($server_port) is served with round
    robin, so one request goes to every pod in turn, and an Event on the
    Ingress names the annotation and the variable. The subset is reported."""
    pods = [procs.whoami(name=n) for n in ("a", "b", "c")]
    apply(emu, NGINX_CLASS)
    backends(emu, "pods", pods)
    ingress(emu, "by-header", {"upstream-hash-by": "$http_x_tenant", "upstream-hash-by-subset": "true",
                               "upstream-hash-by-subset-size": "2"})
    ingress(emu, "by-cookie", {"upstream-hash-by": "${cookie_session}"})
    ingress(emu, "by-host-uri", {"upstream-hash-by": "$host$request_uri", "load-balance": "ewma"})
    ingress(emu, "by-port", {"upstream-hash-by": "$server_port"})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: pod_from(g.port, "by-port.test", "127.0.0.1") in ("a", "b", "c"), what="the Ingresses")
    clients = ["127.0.0.%d" % i for i in range(1, 5)]
    cases = {"by-header.test": lambda i: ({"X-Tenant": "t%d" % i}, "/"),
             "by-cookie.test": lambda i: ({"Cookie": "theme=dark; session=s%d" % i}, "/"),
             "by-host-uri.test": lambda i: ({}, "/p%d" % i)}
    for host, request in cases.items():
        chosen = {}
        for i in range(12):
            headers, path = request(i)
            wait_for(lambda: pod_from(g.port, host, "127.0.0.1", headers, path) in ("a", "b", "c"), what=host)
            seen = {pod_from(g.port, host, c, headers, path) for c in clients for _ in range(2)}
            assert len(seen) == 1, (host, i, seen)  # one value, one pod, from any client address
            chosen[i] = seen.pop()
        assert len(set(chosen.values())) >= 2, (host, chosen)  # the values spread over the pods
    # not evaluated: round robin, the same request reaches every pod
    assert {pod_from(g.port, "by-port.test", "127.0.0.1") for _ in range(6)} == {"a", "b", "c"}
    p = problems(g)
    assert ("ingress default/by-port: annotation nginx.ingress.kubernetes.io/upstream-hash-by: `$server_port`: the "
            "nginx variable $server_port is not one gantry evaluates") in p, p
    assert ("ingress default/by-header: annotation nginx.ingress.kubernetes.io/upstream-hash-by-subset is not "
            "implemented: each hash value goes to one endpoint (ignored)") in p, p
    assert not [x for x in p.splitlines() if "by-cookie" in x or ("by-host-uri" in x and "upstream-hash-by:" in x)], p

    def events(name):
        items = json.loads(kubectl(emu, "get", "events", "-n", "default", "-o", "json"))["items"]
        return [e for e in items if e["involvedObject"]["name"] == name]
    wait_for(lambda: len(events("by-port")) == 1 and len(events("by-header")) >= 1, what="the Events")
    (ev,) = events("by-port")
    assert ev["reason"] == "AnnotationNotHonoured" and ev["type"] == "Warning", ev
    assert "nginx.ingress.kubernetes.io/upstream-hash-by: `$server_port`" in ev["message"], ev
    assert all(e["reason"] == "AnnotationNotHonoured" for e in events("by-header"))
