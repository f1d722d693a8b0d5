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
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry, problems  # noqa: F401


def ingress(emu, name, annotations):
    apply(emu, nginx_ingress_yaml(name, "pods", annotations))


def pod_from(port, host, client):
    """The whoami answering a request sent from address <client>, or the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW, source_address=(client, 0))
    conn.request("GET", "/?format=json", headers={"Host": host})
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
            "implemented: only $remote_addr and $binary_remote_addr (ignored)") in p, p
    assert ("ingress default/binary: annotation nginx.ingress.kubernetes.io/load-balance is not used: "
            "upstream-hash-by comes first") in p, p
    # ingress-nginx's validation drops an Ingress whose load-balance is none of its algorithms
    assert "ingress default/refused: annotation nginx.ingress.kubernetes.io/load-balance: `least_conn` is not" in p, p
    assert pod_from(g.port, "refused.test", "127.0.0.1") == 404
