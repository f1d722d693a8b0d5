"""More Gateway API conformance scenarios (kubernetes-sigs/gateway-api
conformance/tests/*.go) against the API emulator with the real kubectl and
real backends, each named after the conformance test it mirrors: Gateway
spec changes (observedGeneration, listeners added and removed, static
addresses), certificate references across namespaces, listener ports and
parentRef mismatches, several mirrors and backendRef filters. The fixtures
and helpers are those of test_k8s_gateway.py.
"""
import base64
import http.server
import threading

from conftest import get, run, wait_for
from tls_certs import make_cert
from test_k8s_gateway import cluster, condition, emu, gantry, served_by, whoami  # noqa: F401 (fixtures)

INFRA_NS = "gateway-conformance-infra"


def conditions_of(obj_status):
    return {c["type"]: c for c in obj_status.get("conditions", [])}


def gateway_conditions(cluster, name, ns=INFRA_NS):
    return conditions_of(cluster.status("Gateway", name, ns))


def latest(cluster, name, ns=INFRA_NS):
    """GatewayMustHaveLatestConditions: every condition of the Gateway and of
    its listeners carries the Gateway's current generation."""
    o = cluster.emu.get("Gateway", ns, name) or {}
    gen = o.get("metadata", {}).get("generation")
    st = o.get("status") or {}
    conds = list(st.get("conditions", []))
    for l in st.get("listeners", []):
        conds += l.get("conditions", [])
    return bool(conds) and all(c.get("observedGeneration") == gen for c in conds) and gen


def listeners(cluster, name, ns=INFRA_NS):
    return {l["name"]: l for l in cluster.status("Gateway", name, ns).get("listeners", [])}


def tls_secret(cluster, tmp_path, name, ns, hosts):
    crt, key = make_cert(str(tmp_path), name, hosts)

    def b64(p):
        return base64.b64encode(open(p, "rb").read()).decode()
    cluster.apply("""\
        apiVersion: v1
        kind: Secret
        metadata: {name: %s, namespace: %s}
        type: kubernetes.io/tls
        data: {tls.crt: %s, tls.key: %s}
        """ % (name, ns, b64(crt), b64(key)))


def https(g, host, port=None):
    """(exit code of curl, body + status) of GET https://<host>/ through gantry."""
    port = port or g.ports["websecure"]
    r = run(["curl", "-sk", "--max-time", "5", "--resolve", "%s:%d:127.0.0.1" % (host, port),
             "https://%s:%d/?format=json" % (host, port), "-w", "\n%{http_code}"], check=False)
    return r.returncode, r.stdout.decode()


class HeaderRecorder:
    """An HTTP backend that records (path, headers) of what it is sent (a mirror)."""

    def __init__(self):
        rec = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                # a header sent on several field lines is joined, as the conformance suite's echo server does
                names = {k.lower() for k in self.headers.keys()}
                rec.seen.append((self.path, {k: ",".join(self.headers.get_all(k)) for k in names}))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self):
        return [p for p, _ in self.seen]


def infra_backends(cluster, procs, *names):
    """whoami backends infra-backend-v1.. in gateway-conformance-infra, by name."""
    ups = {}
    for n in names:
        ups[n] = procs.whoami(name=n)
        cluster.backend(n, ups[n], ns=INFRA_NS)
    return ups


# ---- Gateway ----


def test_GatewayObservedGenerationBump(tmp_path, procs, cluster):
    gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gateway-observed-generation-bump, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: http
            hostname: bar.com
            port: 80
            protocol: HTTP
            allowedRoutes: {namespaces: {from: All}}
        """)
    assert wait_for(lambda: latest(cluster, "gateway-observed-generation-bump"), what="conditions of generation 1") == 1
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gateway-observed-generation-bump, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: http
            hostname: bar.com
            port: 80
            protocol: HTTP
            allowedRoutes: {namespaces: {from: All}}
          - name: alternate
            hostname: foo.com
            port: 80
            protocol: HTTP
            allowedRoutes: {namespaces: {from: All}}
        """)
    assert wait_for(lambda: latest(cluster, "gateway-observed-generation-bump") == 2 and
                    len(listeners(cluster, "gateway-observed-generation-bump")) == 2, what="conditions of generation 2")
    ls = listeners(cluster, "gateway-observed-generation-bump")
    assert condition(ls["alternate"]["conditions"], "Accepted")["status"] == "True"
    assert gateway_conditions(cluster, "gateway-observed-generation-bump")["Programmed"]["status"] == "True"


GW_ADD = """\
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: gateway-add-listener, namespace: gateway-conformance-infra}
    spec:
      gatewayClassName: gantry
      listeners:
      - name: https
        port: 443
        protocol: HTTPS
        hostname: secure.test.com
        allowedRoutes: {namespaces: {from: All}}
        tls:
          certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}]
%s"""
HTTP_LISTENER = """\
      - name: http
        port: 80
        protocol: HTTP
        %s
        allowedRoutes: {namespaces: {from: All}}
    """


def test_GatewayModifyListeners(tmp_path, procs, cluster):
    infra_backends(cluster, procs, "infra-backend-v1")
    tls_secret(cluster, tmp_path, "tls-validity-checks-certificate", INFRA_NS, ["secure.test.com"])
    g = gantry(procs, tmp_path, cluster.emu, entrypoints=("web", "websecure"))
    route = """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: %s, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{kind: Gateway, name: %s, namespace: gateway-conformance-infra}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """
    # should be able to add a listener that then becomes available for routing traffic
    cluster.apply(GW_ADD % "")
    cluster.apply(route % ("http-route-1", "gateway-add-listener"))
    wait_for(lambda: (listeners(cluster, "gateway-add-listener").get("https") or {}).get("attachedRoutes") == 1,
             what="https listener with its route")
    assert served_by(g, "/", host="data.test.com") == 404
    gen = latest(cluster, "gateway-add-listener")
    cluster.apply(GW_ADD % (HTTP_LISTENER % "hostname: data.test.com"))
    wait_for(lambda: (latest(cluster, "gateway-add-listener") or 0) > gen and len(listeners(cluster, "gateway-add-listener")) == 2,
             what="status of the new generation")
    ls = listeners(cluster, "gateway-add-listener")
    for name in ("https", "http"):
        assert ls[name]["attachedRoutes"] == 1, ls
        assert {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"} in ls[name]["supportedKinds"]
        for t in ("Accepted", "ResolvedRefs", "Programmed"):
            assert condition(ls[name]["conditions"], t)["status"] == "True", (name, t, ls[name])
    assert wait_for(lambda: served_by(g, "/", host="data.test.com") == "infra-backend-v1", what="traffic on the new listener")
    assert '"name": "infra-backend-v1"' in https(g, "secure.test.com")[1]

    # should be able to remove listeners, which would then stop routing the relevant traffic
    remove = (GW_ADD % (HTTP_LISTENER % "")).replace("gateway-add-listener", "gateway-remove-listener")
    cluster.apply(remove.replace("secure.test.com", "remove.test.com"))
    tls_secret(cluster, tmp_path, "tls-validity-checks-certificate", INFRA_NS, ["secure.test.com", "remove.test.com"])
    cluster.apply(route % ("http-route-2", "gateway-remove-listener"))
    wait_for(lambda: all(l.get("attachedRoutes") == 1 for l in listeners(cluster, "gateway-remove-listener").values())
             and len(listeners(cluster, "gateway-remove-listener")) == 2, what="two listeners with the route")
    wait_for(lambda: https(g, "remove.test.com")[1].endswith("200"), what="HTTPS through the https listener")
    gen = latest(cluster, "gateway-remove-listener")
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gateway-remove-listener, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: http
            port: 80
            protocol: HTTP
            allowedRoutes: {namespaces: {from: All}}
        """)
    wait_for(lambda: (latest(cluster, "gateway-remove-listener") or 0) > gen, what="status of the new generation")
    ls = listeners(cluster, "gateway-remove-listener")
    assert list(ls) == ["http"] and ls["http"]["attachedRoutes"] == 1
    for t in ("Accepted", "ResolvedRefs"):
        assert condition(ls["http"]["conditions"], t)["status"] == "True"
    # the removed listener's traffic is no longer routed; the remaining one's is
    wait_for(lambda: not https(g, "remove.test.com")[1].endswith("200"), what="https listener gone")
    assert served_by(g, "/", host="anything.test") == "infra-backend-v1"


STATIC = """\
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: gateway-static-addresses, namespace: gateway-conformance-infra}
    spec:
      gatewayClassName: gantry
      addresses:
    %s
      listeners:
      - name: http
        port: 80
        protocol: HTTP
        hostname: static.test
    """


def test_GatewayStaticAddresses(tmp_path, procs, cluster):
    """The usable address is gantry's own (statusAddress.ip 192.0.2.10, as
    the test fixture sets it); 198.51.100.7 is not, and gantry cannot bind
    one on request."""
    infra_backends(cluster, procs, "infra-backend-v1")
    g = gantry(procs, tmp_path, cluster.emu)
    invalid = '  - {type: "test/fake-invalid-type", value: "fake address teehee!"}'
    unusable = "  - {type: IPAddress, value: 198.51.100.7}"
    usable = "  - {type: IPAddress, value: 192.0.2.10}"
    cluster.apply(STATIC % "\n".join((invalid, unusable, usable)))
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: static, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: gateway-static-addresses}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    # an address type gantry does not support: not accepted
    c = wait_for(lambda: gateway_conditions(cluster, "gateway-static-addresses").get("Accepted"), what="Accepted")
    assert (c["status"], c["reason"]) == ("False", "UnsupportedAddress")
    assert "test/fake-invalid-type" in c["message"]
    # fail closed: its route is not served, and says why
    r = wait_for(lambda: cluster.route_condition("static", "Accepted", ns=INFRA_NS, gateway="gateway-static-addresses"),
                 what="route status")
    assert r["status"] == "False" and "not programmed" in r["message"]
    assert served_by(g, "/", host="static.test") == 404
    # without the invalid address: accepted, not programmed (an address gantry cannot use)
    cluster.apply(STATIC % "\n".join((unusable, usable)))
    wait_for(lambda: latest(cluster, "gateway-static-addresses") == 2, what="generation 2")
    cs = gateway_conditions(cluster, "gateway-static-addresses")
    assert (cs["Accepted"]["status"], cs["Accepted"]["reason"]) == ("True", "Accepted")
    assert (cs["Programmed"]["status"], cs["Programmed"]["reason"]) == ("False", "AddressNotUsable")
    assert "198.51.100.7" in cs["Programmed"]["message"]
    assert served_by(g, "/", host="static.test") == 404
    # only the usable address: programmed, that address in the status, traffic served
    cluster.apply(STATIC % usable)
    wait_for(lambda: latest(cluster, "gateway-static-addresses") == 3, what="generation 3")
    cs = gateway_conditions(cluster, "gateway-static-addresses")
    assert (cs["Accepted"]["status"], cs["Programmed"]["status"], cs["Programmed"]["reason"]) == ("True", "True", "Programmed")
    st = cluster.status("Gateway", "gateway-static-addresses", INFRA_NS)
    assert st["addresses"] == [{"type": "IPAddress", "value": "192.0.2.10"}]
    l = listeners(cluster, "gateway-static-addresses")["http"]
    assert condition(l["conditions"], "Accepted")["status"] == "True"
    assert condition(l["conditions"], "ResolvedRefs")["status"] == "True"
    assert wait_for(lambda: served_by(g, "/", host="static.test") == "infra-backend-v1", what="traffic")
    # a value-less Hostname request: gantry has no hostname to assign
    cluster.apply(STATIC % "  - {type: Hostname}")
    wait_for(lambda: latest(cluster, "gateway-static-addresses") == 4, what="generation 4")
    cs = gateway_conditions(cluster, "gateway-static-addresses")
    assert (cs["Programmed"]["status"], cs["Programmed"]["reason"]) == ("False", "AddressNotAssigned")
    wait_for(lambda: served_by(g, "/", host="static.test") == 404, what="route out")


SECRET_GW = """\
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: %s, namespace: gateway-conformance-infra}
    spec:
      gatewayClassName: gantry
      listeners:
      - name: https
        port: 443
        protocol: HTTPS
        hostname: %s
        allowedRoutes: {namespaces: {from: All}}
        tls:
          certificateRefs: [{group: "", kind: Secret, name: certificate, namespace: gateway-conformance-web-backend}]
    """


def grant(name, ns, from_group="gateway.networking.k8s.io", from_kind="Gateway", from_ns=INFRA_NS, to_group='""',
          to_kind="Secret", to_name="certificate"):
    to = "{group: %s, kind: %s%s}" % (to_group, to_kind, ", name: %s" % to_name if to_name else "")
    return """\
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: %s, namespace: %s}
        spec:
          from: [{group: %s, kind: %s, namespace: %s}]
          to: [%s]
        """ % (name, ns, from_group, from_kind, from_ns, to)


def test_GatewaySecretMissingReferenceGrant_InvalidReferenceGrant_and_ReferenceGrantAllInNamespace(tmp_path, procs, cluster):
    infra_backends(cluster, procs, "infra-backend-v1")
    for ns in ("gateway-conformance-web-backend", "gateway-conformance-app-backend"):
        cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n" % ns)
    tls_secret(cluster, tmp_path, "certificate", "gateway-conformance-web-backend", ["missing.test", "invalid.test", "all.test"])
    g = gantry(procs, tmp_path, cluster.emu, entrypoints=("web", "websecure"))
    cluster.apply(SECRET_GW % ("gateway-secret-missing-reference-grant", "missing.test"))
    cluster.apply(SECRET_GW % ("gateway-secret-invalid-reference-grant", "invalid.test"))
    wb = "gateway-conformance-web-backend"
    for text in (grant("reference-grant-wrong-namespace", "gateway-conformance-app-backend"),
                 grant("reference-grant-wrong-from-group", wb, from_group="not-the-group-youre-looking-for"),
                 grant("reference-grant-wrong-from-kind", wb, from_kind="HTTPRoute"),
                 grant("reference-grant-wrong-from-namespace", wb, from_ns="not-the-namespace-youre-looking-for"),
                 grant("reference-grant-wrong-to-group", wb, to_group="not-the-group-youre-looking-for",
                       to_name="not-the-certificate-youre-looking-for"),
                 grant("reference-grant-wrong-to-kind", wb, to_kind="Service"),
                 grant("reference-grant-wrong-to-name", wb, to_name="not-the-certificate-youre-looking-for")):
        cluster.apply(text)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: secure, namespace: gateway-conformance-infra}
        spec:
          parentRefs:
          - {name: gateway-secret-missing-reference-grant}
          - {name: gateway-secret-invalid-reference-grant}
          - {name: gateway-secret-reference-grant-all-in-namespace}
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    for gw in ("gateway-secret-missing-reference-grant", "gateway-secret-invalid-reference-grant"):
        l = wait_for(lambda: listeners(cluster, gw).get("https"), what="listener status of " + gw)
        c = condition(l["conditions"], "ResolvedRefs")
        assert (c["status"], c["reason"]) == ("False", "RefNotPermitted"), (gw, l)
        assert l["attachedRoutes"] == 0
        assert {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"} in l["supportedKinds"]
    host = "missing.test"
    assert not https(g, host)[1].endswith("200")
    # a grant of every Secret of the namespace (no name)
    cluster.apply(SECRET_GW % ("gateway-secret-reference-grant-all-in-namespace", "all.test"))
    cluster.apply(grant("reference-grant-all-in-namespace", wb, to_name=None))
    gw = "gateway-secret-reference-grant-all-in-namespace"
    wait_for(lambda: condition((listeners(cluster, gw).get("https") or {}).get("conditions"), "Programmed"),
             what="listener status")
    wait_for(lambda: condition(listeners(cluster, gw)["https"]["conditions"], "ResolvedRefs")["status"] == "True",
             what="ResolvedRefs True")
    l = listeners(cluster, gw)["https"]
    c = condition(l["conditions"], "Programmed")
    assert (c["status"], c["reason"]) == ("True", "Programmed")
    out = wait_for(lambda: (lambda r: r[1].endswith("200") and r[1])(https(g, "all.test")), what="HTTPS with the granted Secret")
    assert '"name": "infra-backend-v1"' in out


# ---- HTTPRoute parentRefs and listener ports ----


def test_HTTPRouteListenerPortMatching(tmp_path, procs, cluster):
    """Ports 8080 and 8090 of the conformance manifest are entry points of
    free ports here (a listener binds the entry point that has its port)."""
    infra_backends(cluster, procs, "infra-backend-v1", "infra-backend-v2", "infra-backend-v3")
    g = gantry(procs, tmp_path, cluster.emu, entrypoints=("web", "alt", "alt2"))
    p2, p3 = g.ports["alt"], g.ports["alt2"]
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: httproute-listener-port-matching, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners:
          - {name: listener-1, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}, hostname: foo.com}
          - {name: listener-2, port: %(p2)d, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}, hostname: foo.com}
          - {name: listener-3, port: %(p2)d, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}, hostname: bar.com}
          - {name: listener-4, port: %(p3)d, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}, hostname: foo.com}
          - {name: listener-5, port: %(p3)d, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}, hostname: bar.com}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v1, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: 80}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v2, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: %(p2)d}]
          rules: [{backendRefs: [{name: infra-backend-v2, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v3, namespace: gateway-conformance-infra}
        spec:
          parentRefs:
          - {name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: %(p3)d, sectionName: listener-4}
          rules: [{backendRefs: [{name: infra-backend-v3, port: 80}]}]
        """ % {"p2": p2, "p3": p3})
    for route in ("backend-v1", "backend-v2", "backend-v3"):
        for t in ("Accepted", "ResolvedRefs"):
            c = wait_for(lambda: cluster.route_condition(route, t, ns=INFRA_NS, gateway="httproute-listener-port-matching"),
                         what="%s %s" % (route, t))
            assert c["status"] == "True", (route, c)
    wait_for(lambda: served_by(g, "/", host="foo.com") == "infra-backend-v1", what="route on port 80")
    cases = [(g.port, "foo.com", "infra-backend-v1"), (p2, "foo.com:%d" % p2, "infra-backend-v2"),
             (p2, "bar.com:%d" % p2, "infra-backend-v2"), (p3, "foo.com:%d" % p3, "infra-backend-v3"),
             (p3, "bar.com:%d" % p3, 404)]
    for port, host, want in cases:
        status, _, body = get(port, "/?format=json", host)
        got = __import__("json").loads(body)["name"] if status == 200 else status
        assert got == want, (port, host, got)
    ls = listeners(cluster, "httproute-listener-port-matching")
    assert [ls["listener-%d" % i]["attachedRoutes"] for i in range(1, 6)] == [1, 1, 1, 1, 0]


def test_HTTPRouteInvalidParentRefNotMatchingListenerPort_and_HTTPRouteInvalidParentRefNotMatchingSectionName(
        tmp_path, procs, cluster):
    infra_backends(cluster, procs, "infra-backend-v1")
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: same-namespace, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: httproute-listener-not-matching-route-port, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra, port: 81}]
          hostnames: [port.test]
          rules: [{backendRefs: [{name: infra-backend-v1, kind: Service, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: httproute-listener-not-matching-section-name, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra, port: 80, sectionName: http1}]
          hostnames: [section.test]
          rules: [{backendRefs: [{name: infra-backend-v1, kind: Service, port: 80}]}]
        """)
    for route in ("httproute-listener-not-matching-route-port", "httproute-listener-not-matching-section-name"):
        c = wait_for(lambda: cluster.route_condition(route, "Accepted", ns=INFRA_NS), what="status of " + route)
        assert (c["status"], c["reason"]) == ("False", "NoMatchingParent"), route
        # HTTPRouteMustHaveNoAcceptedParents; the references themselves resolve
        parents = cluster.status("HTTPRoute", route, INFRA_NS)["parents"]
        assert all(condition(p["conditions"], "Accepted")["status"] == "False" for p in parents)
        assert cluster.route_condition(route, "ResolvedRefs", ns=INFRA_NS)["status"] == "True"
    # GatewayMustHaveZeroRoutes
    wait_for(lambda: listeners(cluster, "same-namespace").get("http"), what="listener status")
    assert listeners(cluster, "same-namespace")["http"]["attachedRoutes"] == 0
    assert served_by(g, "/", host="port.test") == 404 and served_by(g, "/", host="section.test") == 404


# ---- HTTPRoute mirrors and backendRef filters ----


def test_HTTPRouteRequestMultipleMirrors(tmp_path, procs, cluster):
    infra_backends(cluster, procs, "infra-backend-v1")
    m2, m3 = HeaderRecorder(), HeaderRecorder()
    cluster.backend("infra-backend-v2", m2, ns=INFRA_NS)
    cluster.backend("infra-backend-v3", m3, ns=INFRA_NS)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: same-namespace, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: request-multiple-mirrors, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /multi-mirror}}]
            filters:
            - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, namespace: gateway-conformance-infra, port: 80}}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v3, namespace: gateway-conformance-infra, port: 80}}}
            backendRefs: [{name: infra-backend-v1, port: 80, namespace: gateway-conformance-infra}]
          - matches: [{path: {type: PathPrefix, value: /multi-mirror-and-modify-request-headers}}]
            filters:
            - type: RequestHeaderModifier
              requestHeaderModifier:
                set: [{name: X-Header-Set, value: set-overwrites-values}]
                add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}]
                remove: [X-Header-Remove]
            - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, namespace: gateway-conformance-infra, port: 80}}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v3, namespace: gateway-conformance-infra, port: 80}}}
            backendRefs: [{name: infra-backend-v1, port: 80, namespace: gateway-conformance-infra}]
        """)
    wait_for(lambda: served_by(g, "/multi-mirror") == "infra-backend-v1", what="route")
    for i in range(3):
        assert served_by(g, "/multi-mirror?i=%d" % i) == "infra-backend-v1"
    # every mirror gets a copy of every request (after the response, in its own time)
    for m in (m2, m3):
        wait_for(lambda: all("/multi-mirror?i=%d&format=json" % i in m.paths() for i in range(3)), timeout=15, what="3 mirrored requests")
    status, info = whoami(g, "/multi-mirror-and-modify-request-headers",
                          headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"})
    assert status == 200 and info["name"] == "infra-backend-v1"
    for m in (m2, m3):
        seen = wait_for(lambda: [h for p, h in m.seen if p.startswith("/multi-mirror-and-modify-request-headers")],
                        timeout=15, what="mirrored copy with headers")
        h = seen[0]
        assert h["x-header-set"] == "set-overwrites-values" and h["x-header-add"] == "header-val-1"
        assert "x-header-remove" not in h
        assert "header-val-2" in h["x-header-add-append"] and "append-val-1" in h["x-header-add-append"]
    assert cluster.route_condition("request-multiple-mirrors", "ResolvedRefs", ns=INFRA_NS)["status"] == "True"


def test_HTTPRouteBackendRequestRedirect_HTTPRouteBackendURLRewrite_and_HTTPRouteRequestHeaderModifierBackendWeights(
        tmp_path, procs, cluster):
    """backendRefs[].filters: the rule's when every backendRef of the rule
    has the same (always so with one); when they differ, as in the
    BackendWeights scenario, each backend's run only on the requests sent
    to it (after the rule's)."""
    infra_backends(cluster, procs, "infra-backend-v1", "infra-backend-v2")
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: same-namespace, namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: gantry
          listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-filters, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /set}}]
            backendRefs:
            - name: infra-backend-v1
              port: 80
              filters:
              - type: RequestHeaderModifier
                requestHeaderModifier:
                  set: [{name: X-Header-Set, value: set-overwrites-values}]
                  remove: [X-Header-Remove]
          - matches: [{path: {type: PathPrefix, value: /full}}]
            backendRefs:
            - name: infra-backend-v1
              port: 80
              filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /redirected-full}}}]
          - matches: [{path: {type: PathPrefix, value: /prefix}}]
            backendRefs:
            - name: infra-backend-v1
              port: 80
              filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /redirected-prefix}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-url-rewrite, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace}]
          hostnames: [rewrite.test]
          rules:
          - matches: [{path: {type: PathPrefix, value: /full}}]
            backendRefs:
            - name: infra-backend-v1
              port: 80
              filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /rewritten-full}}}]
          - matches: [{path: {type: PathPrefix, value: /prefix}}]
            backendRefs:
            - name: infra-backend-v1
              port: 80
              filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /rewritten-prefix}}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-filters-differ, namespace: gateway-conformance-infra}
        spec:
          parentRefs: [{name: same-namespace}]
          hostnames: [differ.test]
          rules:
          - backendRefs:
            - name: infra-backend-v1
              port: 80
              filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: v1}]}}]
            - {name: infra-backend-v2, port: 80}
        """)
    wait_for(lambda: whoami(g, "/set")[0] == 200, what="route")
    _, info = whoami(g, "/set", headers={"X-Header-Set": "other", "X-Header-Remove": "x"})
    h = {k.lower(): v for k, v in info["headers"].items()}
    assert h["x-header-set"] == "set-overwrites-values" and "x-header-remove" not in h
    status, headers, _ = get(g.port, "/full/x")
    assert status == 302 and headers["location"].endswith("/redirected-full"), headers
    status, headers, _ = get(g.port, "/prefix/one")
    assert status == 302 and headers["location"].endswith("/redirected-prefix/one"), headers
    wait_for(lambda: whoami(g, "/full/original", host="rewrite.test")[0] == 200, what="rewrite route")
    assert whoami(g, "/full/original", host="rewrite.test")[1]["path"] == "/rewritten-full"
    assert whoami(g, "/prefix/original", host="rewrite.test")[1]["path"] == "/rewritten-prefix/original"
    # each backendRef's own filters run only for the requests sent to it
    wait_for(lambda: whoami(g, "/", host="differ.test")[0] == 200, what="differ route")
    seen = {}
    for _ in range(20):
        status, info = whoami(g, "/", host="differ.test")
        assert status == 200
        h = {k.lower(): v for k, v in info["headers"].items()}
        tag = h.get("x-backend")
        seen[info["name"]] = seen.get(info["name"], set()) | {tag if isinstance(tag, str) else (tag or [None])[0]}
    assert seen.get("infra-backend-v1") == {"v1"} and seen.get("infra-backend-v2") == {None}, seen
    c = wait_for(lambda: cluster.route_condition("backend-filters-differ", "ResolvedRefs", ns=INFRA_NS), what="status")
    assert c["status"] == "True", c
