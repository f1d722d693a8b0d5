"""Gateway API conformance scenarios (kubernetes-sigs/gateway-api
conformance/tests/*.go) against the API emulator with the real kubectl and
real whoami backends, named after the conformance test they mirror:
listener isolation. The fixtures and helpers are those of
test_k8s_gateway.py.
"""
import json

from conftest import get, wait_for
from test_k8s_gateway import cluster, emu, gantry, served_by  # noqa: F401 (fixtures)

INFRA_NS = "gateway-conformance-infra"

# (listener name, hostname or None, the path prefix of the route attached to it)
ISOLATION_LISTENERS = [("empty-hostname", None), ("wildcard-example-com", "*.example.com"),
                       ("wildcard-foo-example-com", "*.foo.example.com"), ("abc-foo-example-com", "abc.foo.example.com")]
# every request host goes to exactly one listener: the most specific one matching it
ISOLATION_HOSTS = {"bar.com": "empty-hostname", "bar.example.com": "wildcard-example-com",
                   "bar.foo.example.com": "wildcard-foo-example-com", "abc.foo.example.com": "abc-foo-example-com"}


def isolation_manifest(gw, route_hostnames, listeners=None):
    """Gateway <gw> with the four listeners on port 80 (or those named in
    <listeners>), one HTTPRoute per listener (sectionName) matching
    PathPrefix /<listener name>, with <route_hostnames> (or none)."""
    docs = ["""\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  gatewayClassName: gantry
  listeners:
""" % (gw, INFRA_NS) + "".join(
        "  - {name: %s, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}%s}\n"
        % (n, ", hostname: '%s'" % h if h else "") for n, h in ISOLATION_LISTENERS if listeners is None or n in listeners)]
    for n, _ in ISOLATION_LISTENERS:
        route = "attaches-to-%s%s" % (n, "-with-hostname-intersection" if route_hostnames else "")
        docs.append("""\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: %s}
spec:
  parentRefs: [{name: %s, namespace: %s, sectionName: %s}]
%s  rules:
  - matches: [{path: {type: PathPrefix, value: /%s}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
""" % (route, INFRA_NS, gw, INFRA_NS, n,
            "  hostnames: [%s]\n" % ", ".join("'%s'" % h for h in route_hostnames) if route_hostnames else "", n))
    return "---\n".join(docs)


def check_isolation(g, cluster, gw, suffix):
    for n, _ in ISOLATION_LISTENERS:
        route = "attaches-to-%s%s" % (n, suffix)
        for t in ("Accepted", "ResolvedRefs"):
            c = wait_for(lambda: cluster.route_condition(route, t, ns=INFRA_NS, gateway=gw), what="%s %s" % (route, t))
            assert c["status"] == "True", (route, c)
    wait_for(lambda: served_by(g, "/abc-foo-example-com", host="abc.foo.example.com") == "infra-backend-v1",
             what="the routes of %s live" % gw)
    got, want = {}, {}
    for host, owner in ISOLATION_HOSTS.items():
        for listener, _ in ISOLATION_LISTENERS:
            path = "/" + listener
            status, _, body = get(g.port, path + "?format=json", host)
            got[(host, path)] = json.loads(body)["name"] if status == 200 else status
            want[(host, path)] = "infra-backend-v1" if listener == owner else 404
    assert got == want
    ls = {l["name"]: l for l in cluster.status("Gateway", gw, INFRA_NS).get("listeners", [])}
    assert {n: ls[n]["attachedRoutes"] for n, _ in ISOLATION_LISTENERS} == {n: 1 for n, _ in ISOLATION_LISTENERS}


def test_GatewayHTTPListenerIsolation(tmp_path, procs, cluster):
    """Both subtests: hostnames only in the listeners, then intersecting
    hostnames in listeners and routes (each route names all four hosts;
    only what its own listener is the most specific for may reach it). The
    two Gateways share gantry's web entry point, so the second replaces the
    first rather than running beside it (a request could else be answered
    by the other Gateway's route)."""
    up = procs.whoami(name="infra-backend-v1")
    cluster.backend("infra-backend-v1", up, ns=INFRA_NS, port=8080)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply(isolation_manifest("http-listener-isolation", None))
    check_isolation(g, cluster, "http-listener-isolation", "")
    assert served_by(g, "/empty-hostname", host="other.test") == "infra-backend-v1"

    cluster.kubectl("delete", "-n", INFRA_NS, "gateway/http-listener-isolation",
                    *("httproute/attaches-to-%s" % n for n, _ in ISOLATION_LISTENERS))
    gw = "http-listener-isolation-with-hostname-intersection"
    cluster.apply(isolation_manifest(gw, ["bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com"]))
    # a host no listener names: the first Gateway's route without hostnames took it, the second's do not
    wait_for(lambda: served_by(g, "/empty-hostname", host="other.test") == 404, what="the first Gateway gone")
    check_isolation(g, cluster, gw, "-with-hostname-intersection")


def test_GatewayHTTPListenerIsolation_follows_listener_changes(tmp_path, procs, cluster):
    """Not a conformance scenario: a more specific listener added to a live
    Gateway takes its hosts from the routes of the catch-all listener at
    once, and gives them back when removed (the routes are unchanged)."""
    up = procs.whoami(name="infra-backend-v1")
    cluster.backend("infra-backend-v1", up, ns=INFRA_NS, port=8080)
    g = gantry(procs, tmp_path, cluster.emu)
    gw = "http-listener-isolation"
    cluster.apply(isolation_manifest(gw, None))
    wait_for(lambda: served_by(g, "/abc-foo-example-com", host="abc.foo.example.com") == "infra-backend-v1", what="routes live")

    def listeners(names):
        cluster.apply(isolation_manifest(gw, None, names).split("---\n")[0])

    listeners({"empty-hostname"})  # the three specific listeners go: their hosts fall to the catch-all
    wait_for(lambda: served_by(g, "/empty-hostname", host="abc.foo.example.com") == "infra-backend-v1",
             what="abc.foo.example.com on the catch-all listener")
    assert served_by(g, "/empty-hostname", host="bar.example.com") == "infra-backend-v1"
    assert served_by(g, "/abc-foo-example-com", host="abc.foo.example.com") == 404
    listeners({"empty-hostname", "wildcard-example-com"})
    wait_for(lambda: served_by(g, "/empty-hostname", host="bar.example.com") == 404, what="*.example.com isolated")
    assert served_by(g, "/empty-hostname", host="abc.foo.example.com") == 404
    assert served_by(g, "/wildcard-example-com", host="abc.foo.example.com") == "infra-backend-v1"
    assert served_by(g, "/empty-hostname", host="bar.com") == "infra-backend-v1"
