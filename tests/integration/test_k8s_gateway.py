"""The kubernetesGateway provider (Gateway API v1) against the project's
API-server emulator, with real whoami backends and the real kubectl.

The Gateway API CRDs are installed first, as a user would, from
manifests/gateway-api/ (Kubernetes' own files, v1.2.1). Each test then
reproduces a scenario of the Gateway API conformance suite
(kubernetes-sigs/gateway-api conformance/tests/*.go) for a feature gantry
claims, named after it (test_<ConformanceTestName>), checking traffic and
the status gantry writes. Listeners on port 80 bind to the `web` entry
point and 443 to `websecure` (the documented fallback when no entry point
has the listener's port).
"""
import glob
import os
import shutil
import subprocess
import textwrap
import time

import pytest

from conftest import ROOT, SLOW, get, run, wait_for
from k8s_emulator import Emulator, kubeconfig
from tls_certs import make_cert

if shutil.which("kubectl") is None:
    pytest.skip("kubectl is not installed", allow_module_level=True)

CRDS = os.path.join(ROOT, "manifests", "gateway-api")
CONTROLLER = "gantry.io/gateway-controller"
INFRA_NS = "gateway-conformance-infra"

# the conformance suite's Gateway in INFRA_NS: one HTTP listener on 80 for routes of its namespace
GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: same-namespace, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: gantry
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
"""



def infra_route(name, path, backend, port):
    """HTTPRoute <name> in INFRA_NS on the Gateway above: <path> (a prefix) to <backend>:<port>."""
    return """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: %s}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: %s}}]
    backendRefs: [{name: %s, port: %d}]
""" % (name, INFRA_NS, path, backend, port)

class Cluster:
    def __init__(self, tmp_path, emu):
        self.emu, self.tmp = emu, tmp_path
        self.kc = kubeconfig(str(tmp_path / "kubeconfig"), emu, emu.ca)
        self.n = 0

    def kubectl(self, *args, stdin=None, check=True):
        # a fresh discovery cache: kinds appear when their CRDs are applied
        cache = str(self.tmp / ("kcache%d" % self.n))
        self.n += 1
        r = subprocess.run(["kubectl", "--cache-dir", cache, *args], input=stdin, capture_output=True,
                           env=dict(os.environ, KUBECONFIG=self.kc), timeout=60 * SLOW)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s: %s" % (" ".join(args), r.stderr.decode()))
        return r

    def apply(self, text):
        return self.kubectl("apply", "--validate=false", "-f", "-", stdin=textwrap.dedent(text).encode())

    def service(self, name, ports, ns="default"):
        """Service <name> with <ports> [(name, port, the backend's real port,
        appProtocol or None)], one endpoint on 127.0.0.1."""
        sp = []
        for pname, port, _, app in ports:
            p = {"name": pname, "port": port, "protocol": "TCP", "targetPort": 8080}
            if app:
                p["appProtocol"] = app
            sp.append(p)
        self.emu.apply({"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"ports": sp}})
        self.emu.apply({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                        "metadata": {"name": name + "-1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
                        "addressType": "IPv4", "ports": [{"name": pname, "port": real} for pname, _, real, _ in ports],
                        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})

    def backend(self, name, up, ns="default", port=80):
        """Service <name> (port <port>) whose one endpoint is the whoami <up>."""
        self.service(name, [("http", port, up.port, None)], ns)

    def status(self, kind, name, ns="default"):
        o = self.emu.get(kind, ns, name)
        return (o or {}).get("status") or {}

    def route_condition(self, name, ctype, kind="HTTPRoute", ns="default", gateway="same-namespace"):
        for p in self.status(kind, name, ns).get("parents", []):
            if p.get("controllerName") == CONTROLLER and p["parentRef"]["name"] == gateway:
                for c in p.get("conditions", []):
                    if c["type"] == ctype:
                        return c
        return None

    def listener(self, gw, lname, ns="default"):
        for l in self.status("Gateway", gw, ns).get("listeners", []):
            if l["name"] == lname:
                return l
        return None


class Recorder:
    """An HTTP backend that records the paths it is sent (a mirror)."""

    def __init__(self):
        import http.server
        import threading
        rec = self
        self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rec.seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def condition(conds, ctype):
    return next((c for c in conds or [] if c["type"] == ctype), None)


@pytest.fixture
def emu(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = d + "/ca.crt"
    yield e
    e.stop()


INFRA = """\
    apiVersion: v1
    kind: Namespace
    metadata: {name: gateway-conformance-infra}
    ---
    apiVersion: v1
    kind: Namespace
    metadata: {name: default}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: GatewayClass
    metadata: {name: gantry}
    spec:
      controllerName: gantry.io/gateway-controller
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: same-namespace, namespace: default}
    spec:
      gatewayClassName: gantry
      listeners:
      - name: http
        port: 80
        protocol: HTTP
        allowedRoutes:
          namespaces: {from: Same}
    """


@pytest.fixture
def cluster(tmp_path, emu):
    """The CRDs installed with kubectl (as a user would), the conformance
    suite's GatewayClass and its same-namespace Gateway."""
    c = Cluster(tmp_path, emu)
    c.kubectl("apply", "--validate=false", "-f", CRDS)  # the emulator serves no OpenAPI documents
    c.apply(INFRA)
    return c


def gantry(procs, tmp_path, emu, args=(), entrypoints=("web",), **kw):
    return procs.gantry(tmp_path, None, entrypoints=entrypoints,
                        args=["--providers.kubernetesGateway=true",
                              "--providers.kubernetesGateway.endpoint=" + emu.url,
                              "--providers.kubernetesGateway.token=" + emu.token,
                              "--providers.kubernetesGateway.certAuthFilePath=" + emu.ca,
                              "--providers.kubernetesGateway.statusAddress.ip=192.0.2.10"] + list(args), **kw)


def whoami(g, path, host="example.test", **kw):
    """(status, JSON body or None) of a request through gantry."""
    import json
    status, headers, body = get(g.port, path + ("&" if "?" in path else "?") + "format=json", host, **kw)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def served_by(g, path, host="example.test", **kw):
    status, info = whoami(g, path, host, **kw)
    return info["name"] if status == 200 and info else status


# ---- GatewayClass and Gateway ----


def test_crds_installed_with_kubectl(cluster):
    r = cluster.kubectl("get", "crd", "-o", "name")
    names = r.stdout.decode().split()
    for kind in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "tlsroutes", "tcproutes"):
        assert "customresourcedefinition.apiextensions.k8s.io/%s.gateway.networking.k8s.io" % kind in names
    assert len(glob.glob(os.path.join(CRDS, "standard-*.yaml"))) == 5


def test_GatewayClassObservedGenerationBump_and_GatewayWithAttachedRoutes(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    gc = wait_for(lambda: condition(cluster.status("GatewayClass", "gantry", "").get("conditions"), "Accepted"),
                  what="GatewayClass Accepted")
    assert gc["status"] == "True" and gc["reason"] == "Accepted" and gc["observedGeneration"] == 1
    # a spec change bumps the generation; the condition follows it
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: gantry}
        spec:
          controllerName: gantry.io/gateway-controller
          description: bumped
        """)
    wait_for(lambda: condition(cluster.status("GatewayClass", "gantry", "").get("conditions"), "Accepted")
             ["observedGeneration"] == 2, what="observedGeneration 2")
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: attached, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    wait_for(lambda: (cluster.listener("same-namespace", "http") or {}).get("attachedRoutes") == 1, what="attachedRoutes 1")
    st = cluster.status("Gateway", "same-namespace")
    assert st["addresses"] == [{"type": "IPAddress", "value": "192.0.2.10"}]
    assert condition(st["conditions"], "Programmed")["status"] == "True"
    l = cluster.listener("same-namespace", "http")
    assert [k["kind"] for k in l["supportedKinds"]] == ["HTTPRoute", "GRPCRoute"]
    for t, s in (("Accepted", "True"), ("Programmed", "True"), ("ResolvedRefs", "True"), ("Conflicted", "False")):
        assert condition(l["conditions"], t)["status"] == s, (t, l)
    assert served_by(g, "/") == "a"
    # another controller's GatewayClass is left alone
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: other}
        spec: {controllerName: example.com/other}
        """)
    time.sleep(0.5)
    assert cluster.status("GatewayClass", "other", "") == {}


def test_GatewayInvalidRouteKind_and_GatewayInvalidTLSConfiguration(tmp_path, procs, cluster):
    gantry(procs, tmp_path, cluster.emu, entrypoints=("web", "websecure"))
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: invalid, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: kinds
            port: 80
            protocol: HTTP
            allowedRoutes:
              kinds: [{kind: FooRoute}]
          - name: tls
            port: 443
            hostname: secure.test
            protocol: HTTPS
            tls:
              certificateRefs: [{name: nonexistent}]
          - name: elsewhere
            port: 12345
            hostname: x.test
            protocol: HTTP
        """)
    wait_for(lambda: cluster.listener("invalid", "kinds"), what="listener status")
    kinds = cluster.listener("invalid", "kinds")
    assert condition(kinds["conditions"], "ResolvedRefs")["reason"] == "InvalidRouteKinds"
    assert kinds["supportedKinds"] == []
    tls = cluster.listener("invalid", "tls")
    assert condition(tls["conditions"], "ResolvedRefs")["reason"] == "InvalidCertificateRef"
    assert condition(tls["conditions"], "Programmed")["status"] == "False"
    other = cluster.listener("invalid", "elsewhere")
    assert condition(other["conditions"], "Accepted")["reason"] == "PortUnavailable"


def test_GatewaySecretReferenceGrantSpecific(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    d = str(tmp_path)
    crt, key = make_cert(d, "secure", ["secure.test"])
    import base64

    def b64(p):
        return base64.b64encode(open(p, "rb").read()).decode()
    cluster.apply("""\
        apiVersion: v1
        kind: Namespace
        metadata: {name: certs}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: certificate, namespace: certs}
        type: kubernetes.io/tls
        data: {tls.crt: %s, tls.key: %s}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: secure, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: https
            port: 443
            protocol: HTTPS
            hostname: secure.test
            tls:
              certificateRefs: [{name: certificate, namespace: certs}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: secure, namespace: default}
        spec:
          parentRefs: [{name: secure}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """ % (b64(crt), b64(key)))
    g = gantry(procs, tmp_path, cluster.emu, entrypoints=("websecure",))
    # without a ReferenceGrant the Secret of another namespace is refused
    wait_for(lambda: cluster.listener("secure", "https"), what="listener status")
    l = cluster.listener("secure", "https")
    assert condition(l["conditions"], "ResolvedRefs")["reason"] == "RefNotPermitted"
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: gateway-secret, namespace: certs}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: default}]
          to: [{group: "", kind: Secret, name: certificate}]
        """)
    wait_for(lambda: condition(cluster.listener("secure", "https")["conditions"], "ResolvedRefs")["status"] == "True",
             what="ResolvedRefs True")

    def https():
        r = run(["curl", "-sk", "--resolve", "secure.test:%d:127.0.0.1" % g.port, "https://secure.test:%d/?format=json" % g.port,
                 "-w", "\n%{http_code}"], check=False)
        return r.stdout.decode()
    out = wait_for(lambda: https().endswith("200") and https(), what="HTTPS through the listener")
    assert '"name": "a"' in out
    subject = run(["bash", "-c", "openssl s_client -connect 127.0.0.1:%d -servername secure.test </dev/null 2>/dev/null"
                   " | openssl x509 -noout -subject" % g.port], check=False).stdout.decode()
    assert "secure" in subject


# ---- HTTPRoute matching ----


def test_HTTPRouteSimpleSameNamespace_and_HTTPRouteExactPathMatching(tmp_path, procs, cluster):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", b)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: exact-matching, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: Exact, value: /}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: Exact, value: /v2}}]
            backendRefs: [{name: infra-backend-v2, port: 80}]
        """)
    wait_for(lambda: served_by(g, "/") == "a", what="/ -> v1")
    assert served_by(g, "/v2") == "b"
    assert served_by(g, "/v2/") == 404
    assert served_by(g, "/v2/example") == 404
    assert served_by(g, "/foo") == 404
    wait_for(lambda: cluster.route_condition("exact-matching", "Accepted"), what="route status")
    assert cluster.route_condition("exact-matching", "Accepted")["status"] == "True"
    assert cluster.route_condition("exact-matching", "ResolvedRefs")["status"] == "True"


def test_HTTPRouteMatching_and_HTTPRouteMatchingAcrossRoutes(tmp_path, procs, cluster):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", b)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: matching, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches:
            - path: {type: PathPrefix, value: /}
            - headers: [{name: version, value: one}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches:
            - path: {type: PathPrefix, value: /v2}
            - headers: [{name: version, value: two}]
            backendRefs: [{name: infra-backend-v2, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: matching-part2, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          hostnames: [example.com]
          rules:
          - matches:
            - path: {type: PathPrefix, value: /v2/example}
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: served_by(g, "/v2") == "b", what="/v2 -> v2")
    assert served_by(g, "/") == "a"
    assert served_by(g, "/example") == "a"
    assert served_by(g, "/", headers={"version": "one"}) == "a"
    assert served_by(g, "/v2/example") == "b"
    assert served_by(g, "/", headers={"version": "two"}) == "b"
    assert served_by(g, "/v2x") == "a"  # a prefix matches whole path elements only
    # across routes: the longer prefix on a more specific host wins
    assert served_by(g, "/v2/example", host="example.com") == "a"
    assert served_by(g, "/v2/other", host="example.com") == "b"


def test_HTTPRouteHeaderMatching_QueryParamMatching_MethodMatching(tmp_path, procs, cluster):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", b)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: kv, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{headers: [{name: version, value: one}]}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{headers: [{name: version, value: two}, {name: color, type: RegularExpression, value: "^(red|blue)$"}]}]
            backendRefs: [{name: infra-backend-v2, port: 80}]
          - matches: [{queryParams: [{name: animal, value: whale}]}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{queryParams: [{name: animal, value: dolphin}, {name: color, type: RegularExpression, value: "^bl.*"}]}]
            backendRefs: [{name: infra-backend-v2, port: 80}]
          - matches: [{method: POST, path: {type: PathPrefix, value: /m}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{method: GET, path: {type: PathPrefix, value: /m}}]
            backendRefs: [{name: infra-backend-v2, port: 80}]
        """)
    wait_for(lambda: served_by(g, "/", headers={"version": "one"}) == "a", what="header match")
    assert served_by(g, "/", headers={"version": "two", "color": "blue"}) == "b"
    assert served_by(g, "/", headers={"version": "two", "color": "green"}) == 404
    assert served_by(g, "/", headers={"version": "three"}) == 404
    assert served_by(g, "/?animal=whale") == "a"
    assert served_by(g, "/?animal=dolphin&color=blue") == "b"
    assert served_by(g, "/?animal=dolphin&color=red") == 404
    assert served_by(g, "/m", method="POST") == "a"
    assert served_by(g, "/m") == "b"
    assert served_by(g, "/m", method="PUT") == 404


def test_HTTPRoutePathMatchOrder(tmp_path, procs, cluster):
    ups = {n: procs.whoami(name=n) for n in ("exact", "long", "short", "method", "header", "query", "root")}
    for n, up in ups.items():
        cluster.backend(n, up)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: order, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /}}]
            backendRefs: [{name: root, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /match}, queryParams: [{name: q, value: "1"}]}]
            backendRefs: [{name: query, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /match}, headers: [{name: h, value: "1"}]}]
            backendRefs: [{name: header, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /match}, method: POST}]
            backendRefs: [{name: method, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /match}}]
            backendRefs: [{name: short, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /match/longer}}]
            backendRefs: [{name: long, port: 80}]
          - matches: [{path: {type: Exact, value: /match/longer/exact}}]
            backendRefs: [{name: exact, port: 80}]
        """)
    wait_for(lambda: served_by(g, "/match/longer/exact") == "exact", what="exact first")
    assert served_by(g, "/match/longer/exact", method="POST", headers={"h": "1"}) == "exact"
    assert served_by(g, "/match/longer/x", method="POST", headers={"h": "1"}) == "long"
    assert served_by(g, "/match/x?q=1", method="POST", headers={"h": "1"}) == "method"
    assert served_by(g, "/match/x?q=1", headers={"h": "1"}) == "header"
    assert served_by(g, "/match/x?q=1") == "query"
    assert served_by(g, "/match/x") == "short"
    assert served_by(g, "/other") == "root"


def test_HTTPRouteHostnameIntersection_and_HTTPRouteListenerHostnameMatching(tmp_path, procs, cluster):
    a, b, c = procs.whoami(name="a"), procs.whoami(name="b"), procs.whoami(name="c")
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", b)
    cluster.backend("infra-backend-v3", c)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: httproute-listener-hostname-matching, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - {name: listener-1, port: 80, protocol: HTTP, hostname: bar.com}
          - {name: listener-2, port: 80, protocol: HTTP, hostname: foo.bar.com}
          - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.bar.com"}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v1, namespace: default}
        spec:
          parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-1}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v2, namespace: default}
        spec:
          parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-2}]
          rules: [{backendRefs: [{name: infra-backend-v2, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-v3, namespace: default}
        spec:
          parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-3}]
          rules: [{backendRefs: [{name: infra-backend-v3, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: no-intersection, namespace: default}
        spec:
          parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-1}]
          hostnames: [other.com]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    wait_for(lambda: served_by(g, "/", host="bar.com") == "a", what="bar.com")
    assert served_by(g, "/", host="foo.bar.com") == "b"
    assert served_by(g, "/", host="baz.bar.com") == "c"
    assert served_by(g, "/", host="boo.baz.bar.com") == "c"
    assert served_by(g, "/", host="foo.com") == 404
    assert served_by(g, "/", host="other.com") == 404
    wait_for(lambda: cluster.route_condition("no-intersection", "Accepted", gateway="httproute-listener-hostname-matching"),
             what="status")
    assert cluster.route_condition("no-intersection", "Accepted",
                                   gateway="httproute-listener-hostname-matching")["reason"] == "NoMatchingListenerHostname"


# ---- filters ----


def test_HTTPRouteRequestHeaderModifier_and_HTTPRouteResponseHeaderModifier(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: headers, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /req}}]
            filters:
            - type: RequestHeaderModifier
              requestHeaderModifier:
                set: [{name: X-Header-Set, value: set-overwrites-values}]
                add: [{name: X-Header-Add, value: add-appends-values}]
                remove: [X-Header-Remove]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /res}}]
            filters:
            - type: ResponseHeaderModifier
              responseHeaderModifier:
                set: [{name: X-Header-Set, value: set-overwrites-values}]
                remove: [Content-Type]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: whoami(g, "/req")[0] == 200, what="route")
    _, info = whoami(g, "/req", headers={"X-Header-Set": "some-other-value", "X-Header-Remove": "val"})
    h = {k.lower(): v for k, v in info["headers"].items()}
    assert h["x-header-set"] == "set-overwrites-values"
    assert h["x-header-add"] == "add-appends-values"
    assert "x-header-remove" not in h
    # add appends to a header the request has (the headers middleware would replace it): both values reach the backend
    status, _, body = get(g.port, "/req", headers={"X-Header-Add": "some-value"})
    lines = [l.strip().lower() for l in body.decode().splitlines()]
    assert status == 200
    assert "x-header-add: some-value" in lines and "x-header-add: add-appends-values" in lines, lines
    status, headers, _ = get(g.port, "/res?format=json")
    assert status == 200 and headers.get("x-header-set") == "set-overwrites-values"
    assert "content-type" not in headers


def test_HTTPRouteRedirectHostAndStatus_Scheme_Path_Port(tmp_path, procs, cluster):
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: redirect, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]
            filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
          - matches: [{path: {type: PathPrefix, value: /host-and-status}}]
            filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, statusCode: 301}}]
          - matches: [{path: {type: PathPrefix, value: /scheme}}]
            filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
          - matches: [{path: {type: PathPrefix, value: /port}}]
            filters: [{type: RequestRedirect, requestRedirect: {port: 8083}}]
          - matches: [{path: {type: PathPrefix, value: /full}}]
            filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}}]
          - matches: [{path: {type: PathPrefix, value: /original-prefix}}]
            filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]
        """)
    wait_for(lambda: get(g.port, "/hostname-redirect")[0] == 302, what="redirect route")
    host = "example.test:%d" % g.port

    def loc(path, **kw):
        status, headers, _ = get(g.port, path, host, **kw)
        return status, headers.get("location")
    assert loc("/hostname-redirect") == (302, "http://example.org:%d/hostname-redirect" % g.port)
    assert loc("/host-and-status") == (301, "http://example.org:%d/host-and-status" % g.port)
    assert loc("/scheme") == (302, "https://example.test/scheme")
    assert loc("/port") == (302, "http://example.test:8083/port")
    assert loc("/full/x?a=b") == (302, "http://%s/full-path-replacement?a=b" % host)
    assert loc("/original-prefix/lemon") == (302, "http://%s/replacement-prefix/lemon" % host)
    assert loc("/original-prefix") == (302, "http://%s/replacement-prefix" % host)


def test_HTTPRouteRewritePath_and_HTTPRouteRewriteHost(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: rewrite-path, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
            filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]
            filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /full/one}}]
            filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /host}}]
            filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: whoami(g, "/full/one/two")[0] == 200, what="route")
    for path, want in (("/prefix/one/two", "/one/two"), ("/strip-prefix/three", "/three"), ("/strip-prefix", "/"),
                       ("/full/one/two", "/one"), ("/prefix/one", "/one")):
        status, info = whoami(g, path)
        assert status == 200 and info["path"] == want, (path, status, info and info["path"])
    _, info = whoami(g, "/host")
    assert {k.lower(): v for k, v in info["headers"].items()}["host"] == "one.example.org"


def test_HTTPRoute_extensionRef_to_a_traefik_Middleware(tmp_path, procs, cluster):
    """ExtensionRef filters name a traefik.io Middleware (kubernetesCRD
    provider): gantry's and Traefik's extension point."""
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    emu = cluster.emu
    emu.apply({"kind": "Middleware", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "add-header", "namespace": "default"},
               "spec": {"headers": {"customRequestHeaders": {"X-From-Middleware": "yes"}}}})
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: extension, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /ext}}]
            filters: [{type: ExtensionRef, extensionRef: {group: traefik.io, kind: Middleware, name: add-header}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /bad}}]
            filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Thing, name: x}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    g = gantry(procs, tmp_path, emu, args=["--providers.kubernetesCRD=true", "--providers.kubernetesCRD.endpoint=" + emu.url,
                                           "--providers.kubernetesCRD.token=" + emu.token,
                                           "--providers.kubernetesCRD.certAuthFilePath=" + emu.ca])
    wait_for(lambda: whoami(g, "/ext")[0] == 200, what="route with the Middleware")
    _, info = whoami(g, "/ext")
    assert {k.lower(): v for k, v in info["headers"].items()}.get("x-from-middleware") == "yes"
    assert whoami(g, "/bad")[0] == 404  # that rule is left out
    c = wait_for(lambda: cluster.route_condition("extension", "ResolvedRefs"), what="status")
    assert (c["status"], c["reason"]) == ("False", "InvalidKind")


def test_HTTPRouteRequestMirror(tmp_path, procs, cluster):
    a, m = procs.whoami(name="a"), Recorder()
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", m)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: request-mirror, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /mirror}}]
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, port: 80}}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: served_by(g, "/mirror") == "a", what="route")
    for i in range(5):
        assert served_by(g, "/mirror?i=%d" % i) == "a"
    # mirrored copies go out after the response, in their own time
    wait_for(lambda: all("/mirror?i=%d&format=json" % i in m.seen for i in range(5)), what="5 mirrored requests")


def test_HTTPRouteTimeoutBackendRequest(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: backend-request-timeout, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /slow}, headers: [{name: x-timeout, value: "yes"}]}]
            timeouts: {backendRequest: 500ms}
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /slow}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: get(g.port, "/slow?delay=0", headers={"x-timeout": "yes"})[0] == 200, what="route")
    # the conformance test: a backend answering after 1 s is cut at 500 ms with 504
    assert get(g.port, "/slow?delay=1", headers={"x-timeout": "yes"})[0] == 504
    assert get(g.port, "/slow?delay=1")[0] == 200  # the same backend through the rule without the timeout


def test_HTTPRouteTimeoutRequest(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: request-timeout, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /slow}, headers: [{name: x-timeout, value: "yes"}]}]
            timeouts: {request: 500ms}
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /slow}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: get(g.port, "/slow?delay=0", headers={"x-timeout": "yes"})[0] == 200, what="route")
    # the conformance test: the backend answers after 1 s, the request's deadline is 500 ms: 504
    t = time.time()
    assert get(g.port, "/slow?delay=1", headers={"x-timeout": "yes"})[0] == 504
    assert time.time() - t < 0.95
    assert get(g.port, "/slow?delay=1")[0] == 200  # the same backend through the rule without the timeout
    # both timeouts: the shorter one cuts
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: request-timeout, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /slow}, headers: [{name: x-timeout, value: "yes"}]}]
            timeouts: {request: 3s, backendRequest: 300ms}
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: get(g.port, "/slow?delay=0")[0] == 404, what="the second rule gone")
    assert get(g.port, "/slow?delay=1", headers={"x-timeout": "yes"})[0] == 504


def test_HTTPRouteWeight(tmp_path, procs, cluster):
    a, b, c = procs.whoami(name="a"), procs.whoami(name="b"), procs.whoami(name="c")
    cluster.backend("infra-backend-v1", a)
    cluster.backend("infra-backend-v2", b)
    cluster.backend("infra-backend-v3", c)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: weighted-backends, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - backendRefs:
            - {name: infra-backend-v1, port: 80, weight: 70}
            - {name: infra-backend-v2, port: 80, weight: 30}
            - {name: infra-backend-v3, port: 80, weight: 0}
        """)
    wait_for(lambda: served_by(g, "/") in ("a", "b"), what="route")
    counts = {}
    for _ in range(200):
        n = served_by(g, "/")
        counts[n] = counts.get(n, 0) + 1
    assert "c" not in counts, counts  # weight 0: never
    assert 100 <= counts.get("a", 0) <= 180 and 20 <= counts.get("b", 0) <= 100, counts


# ---- references and status reasons ----


def test_HTTPRouteInvalidNonExistentBackendRef_and_HTTPRouteInvalidBackendRefUnknownKind(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: nonexistent-backend-ref, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /missing}}]
            backendRefs: [{name: nonexistent, port: 8080}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: invalid-backend-ref-unknown-kind, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /kind}}]
            backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: x, port: 8080}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: ok, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /ok}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """)
    wait_for(lambda: cluster.route_condition("nonexistent-backend-ref", "ResolvedRefs"), what="status")
    c = cluster.route_condition("nonexistent-backend-ref", "ResolvedRefs")
    assert (c["status"], c["reason"]) == ("False", "BackendNotFound")
    assert cluster.route_condition("nonexistent-backend-ref", "Accepted")["status"] == "True"
    wait_for(lambda: cluster.route_condition("invalid-backend-ref-unknown-kind", "ResolvedRefs"), what="status")
    assert cluster.route_condition("invalid-backend-ref-unknown-kind", "ResolvedRefs")["reason"] == "InvalidKind"
    # an invalid reference fails its own share with 500, as the spec says; the rest serves
    assert served_by(g, "/missing") == 500
    assert served_by(g, "/kind") == 500
    assert served_by(g, "/ok") == "a"


def test_HTTPRouteInvalidBackendRef_weighted_share_answers_500(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: half-invalid, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - backendRefs:
            - {name: infra-backend-v1, port: 80, weight: 50}
            - {group: unknownkind.example.com, kind: NonExistent, name: x, port: 8080, weight: 50}
        """)
    wait_for(lambda: served_by(g, "/") in ("a", 500), what="route")
    counts = {}
    for _ in range(100):
        n = served_by(g, "/")
        counts[n] = counts.get(n, 0) + 1
    assert set(counts) == {"a", 500}, counts  # the invalid share: 500, never 503
    assert 30 <= counts["a"] <= 70, counts


def test_HTTPRouteInvalidCrossNamespaceBackendRef_and_HTTPRouteReferenceGrant(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: gateway-conformance-web-backend}\n")
    cluster.backend("web-backend", a, ns="gateway-conformance-web-backend")
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: reference-grant, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 80}]
        """)
    wait_for(lambda: cluster.route_condition("reference-grant", "ResolvedRefs"), what="status")
    assert cluster.route_condition("reference-grant", "ResolvedRefs")["reason"] == "RefNotPermitted"
    assert served_by(g, "/") == 500
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: reference-grant, namespace: gateway-conformance-web-backend}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
          to: [{group: "", kind: Service, name: web-backend}]
        """)
    wait_for(lambda: served_by(g, "/") == "a", what="granted")
    wait_for(lambda: cluster.route_condition("reference-grant", "ResolvedRefs")["status"] == "True", what="ResolvedRefs")


def test_HTTPRouteCrossNamespace_HTTPRouteDisallowedKind_and_InvalidParentRefs(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: gateway-conformance-web-backend}\n")
    cluster.backend("web-backend", a, ns="gateway-conformance-web-backend")
    cluster.backend("infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: backend-namespaces, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: http
            port: 80
            protocol: HTTP
            hostname: cross.test
            allowedRoutes:
              namespaces: {from: All}
          - name: tcp-only
            port: 80
            protocol: HTTP
            hostname: tcp-only.test
            allowedRoutes:
              kinds: [{kind: GRPCRoute}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: cross-namespace, namespace: gateway-conformance-web-backend}
        spec:
          parentRefs: [{name: backend-namespaces, namespace: default, sectionName: http}]
          rules: [{backendRefs: [{name: web-backend, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: disallowed-kind, namespace: default}
        spec:
          parentRefs: [{name: backend-namespaces, sectionName: tcp-only}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: invalid-cross-namespace-parent-ref, namespace: gateway-conformance-web-backend}
        spec:
          parentRefs: [{name: same-namespace, namespace: default}]
          rules: [{backendRefs: [{name: web-backend, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: section-name-not-matching, namespace: default}
        spec:
          parentRefs: [{name: same-namespace, sectionName: nope}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: port-not-matching, namespace: default}
        spec:
          parentRefs: [{name: same-namespace, port: 81}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    wait_for(lambda: served_by(g, "/", host="cross.test") == "a", what="cross-namespace route")
    assert served_by(g, "/", host="tcp-only.test") == 404
    checks = {("disallowed-kind", "default", "backend-namespaces"): "NotAllowedByListeners",
              ("invalid-cross-namespace-parent-ref", "gateway-conformance-web-backend", "same-namespace"): "NotAllowedByListeners",
              ("section-name-not-matching", "default", "same-namespace"): "NoMatchingParent",
              ("port-not-matching", "default", "same-namespace"): "NoMatchingParent"}
    for (name, ns, gw), reason in checks.items():
        c = wait_for(lambda: cluster.route_condition(name, "Accepted", ns=ns, gateway=gw), what="status of " + name)
        assert (c["status"], c["reason"]) == ("False", reason), name
    c = cluster.route_condition("cross-namespace", "Accepted", ns="gateway-conformance-web-backend", gateway="backend-namespaces")
    assert c["status"] == "True"


def test_status_only_by_the_leader_and_other_controllers_kept(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("infra-backend-v1", a)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: shared, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}, {name: elsewhere}]
          rules: [{backendRefs: [{name: infra-backend-v1, port: 80}]}]
        """)
    other = {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "elsewhere"},
             "controllerName": "example.com/other", "conditions": []}
    o = cluster.emu.get("HTTPRoute", "default", "shared")
    o["status"] = {"parents": [other]}
    cluster.emu.apply(o)
    g1 = gantry(procs, tmp_path, cluster.emu)
    (tmp_path / "second").mkdir()
    g2 = gantry(procs, tmp_path / "second", cluster.emu)
    wait_for(lambda: cluster.route_condition("shared", "Accepted"), what="status")
    parents = cluster.status("HTTPRoute", "shared")["parents"]
    assert other in parents and len(parents) == 2
    wait_for(lambda: served_by(g1, "/") == "a" and served_by(g2, "/") == "a", what="both instances serve")
    lease = cluster.emu.get("Lease", "default", "gantry-leader-gateway")
    assert lease and lease["spec"]["holderIdentity"]
    # only the leader writes: one of the two instances logs status writes, the other none
    writers = [g for g in (g1, g2) if "status of httproutes default/shared written" in g.output()]
    assert len(writers) == 1, [g.output()[-2000:] for g in (g1, g2)]
    # one writer: the status PUTs come from one instance (the lease holder), and stop once nothing changes
    puts = [p for m, p in cluster.emu.requests if m == "PUT" and "/httproutes/shared/status" in p]
    time.sleep(1.0)
    assert len([p for m, p in cluster.emu.requests if m == "PUT" and "/httproutes/shared/status" in p]) == len(puts)


# ---- GRPCRoute, TLSRoute, TCPRoute ----


def test_GRPCRouteExactMethodMatching_translation(tmp_path, procs, cluster):
    a = procs.whoami(name="a")
    cluster.backend("grpc-infra-backend-v1", a)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: exact-matching, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
            backendRefs: [{name: grpc-infra-backend-v1, port: 80}]
        """)
    raw = wait_for(lambda: "grpcroute-default-exact-matching" in str(g.api("/api/http/routers")) and g.api("/api/http/routers"),
                   what="GRPCRoute router")
    text = str(raw)
    assert "Path(`/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo`)" in text
    services = str(g.api("/api/http/services"))
    assert "h2c://127.0.0.1:%d" % a.port in services
    wait_for(lambda: cluster.route_condition("exact-matching", "Accepted", kind="GRPCRoute"), what="status")


def test_GRPCRouteExactMethodMatching_and_GRPCRouteHeaderMatching_traffic(tmp_path, procs, cluster):
    """GRPCRoute traffic: calls reach the backend their service/method (and
    header) match names, over HTTP/2 end to end (h2c to the pods)."""
    import grpc
    from grpc_peers import EchoServer, channel, stubs
    v1, v2 = EchoServer(procs, "v1"), EchoServer(procs, "v2")
    cluster.backend("grpc-v1", v1)
    cluster.backend("grpc-v2", v2)
    g = gantry(procs, tmp_path, cluster.emu)
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: echo, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          rules:
          - matches: [{method: {service: gantry.test.Echo, method: Unary}, headers: [{name: x-version, value: two}]}]
            backendRefs: [{name: grpc-v2, port: 80}]
          - matches: [{method: {service: gantry.test.Echo, method: Unary}}]
            backendRefs: [{name: grpc-v1, port: 80}]
          - matches: [{method: {service: gantry.test.Echo, method: ServerStream}}]
            backendRefs: [{name: grpc-v2, port: 80}]
        """)
    pb, pb_grpc = stubs()
    ch = channel(g.port, authority="grpc.example")
    try:
        stub = pb_grpc.EchoStub(ch)

        def unary(md=()):
            try:
                return stub.Unary(pb.EchoRequest(message="hi"), timeout=5, metadata=md).server
            except grpc.RpcError as e:
                return str(e.code())

        wait_for(lambda: unary() == "v1", what="Unary -> v1")
        assert unary((("x-version", "two"),)) == "v2"
        replies = list(stub.ServerStream(pb.EchoRequest(message="s", count=3), timeout=5))
        assert [r.server for r in replies] == ["v2"] * 3 and [r.index for r in replies] == [0, 1, 2]
        with pytest.raises(grpc.RpcError) as e:  # no rule matches ClientStream: 404 becomes UNIMPLEMENTED in grpcio
            stub.ClientStream(iter([pb.EchoRequest(message="x")]), timeout=5)
        assert e.value.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND)
    finally:
        ch.close()
    wait_for(lambda: cluster.route_condition("echo", "Accepted", kind="GRPCRoute"), what="status")


def test_TLSRouteSimpleSameNamespace_and_TCPRoute(tmp_path, procs, cluster):
    from tcp_peers import EchoServer, TlsNginx
    d = str(tmp_path)
    nginx = procs.add(TlsNginx(tmp_path, "tls-backend", *make_cert(d, "abc.example.com")))
    echo = EchoServer(banner=b"220 hello\r\n")
    cluster.backend("tls-backend", nginx)
    cluster.backend("tcp-backend", echo)
    g = gantry(procs, tmp_path, cluster.emu, entrypoints=("websecure", "tcp"),
               args=["--providers.kubernetesGateway.experimentalChannel=true"])
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gateway-tlsroute, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - name: https
            port: 443
            protocol: TLS
            hostname: "*.example.com"
            tls: {mode: Passthrough}
          - name: tcp
            port: %d
            protocol: TCP
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: gateway-conformance-infra-test, namespace: default}
        spec:
          parentRefs: [{name: gateway-tlsroute, sectionName: https}]
          hostnames: [abc.example.com]
          rules: [{backendRefs: [{name: tls-backend, port: 80}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: echo, namespace: default}
        spec:
          parentRefs: [{name: gateway-tlsroute, sectionName: tcp}]
          rules: [{backendRefs: [{name: tcp-backend, port: 80}]}]
        """ % g.ports["tcp"])

    def through(sni):
        r = run(["curl", "-sk", "--resolve", "%s:%d:127.0.0.1" % (sni, g.port), "https://%s:%d/" % (sni, g.port)], check=False)
        return r.stdout.decode().strip()
    wait_for(lambda: through("abc.example.com") == "tls-backend", what="TLS passthrough by SNI")
    # passthrough: the backend's own certificate reaches the client
    subject = run(["bash", "-c", "openssl s_client -connect 127.0.0.1:%d -servername abc.example.com </dev/null 2>/dev/null"
                   " | openssl x509 -noout -subject" % g.port], check=False).stdout.decode()
    assert "abc.example.com" in subject
    assert through("other.example.com") != "tls-backend"
    import socket

    def banner():
        with socket.create_connection(("127.0.0.1", g.ports["tcp"]), timeout=2) as s:
            return s.recv(64)
    wait_for(lambda: banner() == b"220 hello\r\n", what="TCPRoute")
    wait_for(lambda: cluster.route_condition("gateway-conformance-infra-test", "Accepted", kind="TLSRoute",
                                             gateway="gateway-tlsroute"), what="TLSRoute status")
    assert cluster.route_condition("echo", "Accepted", kind="TCPRoute", gateway="gateway-tlsroute")["status"] == "True"


def test_mixed_cluster_ingress_ingressroute_httproute_on_one_host(tmp_path, procs, cluster):
    """Ingress, IngressRoute and HTTPRoute on one host, as documented in
    docs/kubernetes.md: an HTTPRoute on a hostname ranks above 10^12, an
    Ingress rule on an exact host at 4*10^9 + its path, an IngressRoute at
    its priority (the rule's length unless set)."""
    ups = {n: procs.whoami(name=n) for n in ("ing", "ir", "gw")}
    for n, up in ups.items():
        cluster.backend(n, up)
    emu = cluster.emu
    emu.apply({"kind": "IngressClass", "metadata": {"name": "gantry"}, "spec": {"controller": "gantry.io/ingress-controller"}})
    emu.apply({"kind": "Ingress", "metadata": {"name": "ing", "namespace": "default"},
               "spec": {"ingressClassName": "gantry", "rules": [{"host": "mixed.test", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "ing", "port": {"number": 80}}}}]}}]}})
    emu.apply({"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "ir", "namespace": "default"},
               "spec": {"routes": [{"match": "Host(`mixed.test`) && PathPrefix(`/ir`)", "kind": "Rule",
                                    "services": [{"name": "ir", "port": 80}]}]}})
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: gw, namespace: default}
        spec:
          parentRefs: [{name: same-namespace}]
          hostnames: [mixed.test]
          rules:
          - matches: [{path: {type: PathPrefix, value: /gw}}, {path: {type: PathPrefix, value: /ir/override}}]
            backendRefs: [{name: gw, port: 80}]
        """)
    conn = ["--endpoint=" + emu.url, "--token=" + emu.token, "--certAuthFilePath=" + emu.ca]
    g = gantry(procs, tmp_path, emu, args=["--providers.kubernetesIngress=true", "--providers.kubernetesCRD=true"] +
               ["--providers.kubernetesIngress." + a[2:] for a in conn] + ["--providers.kubernetesCRD." + a[2:] for a in conn])
    wait_for(lambda: served_by(g, "/gw", host="mixed.test") == "gw", what="HTTPRoute")
    # an Ingress rule on an exact host ranks at 4*10^9 + path: above an IngressRoute's rule-length default
    wait_for(lambda: served_by(g, "/ir", host="mixed.test") == "ing", what="Ingress before IngressRoute")
    ir = emu.get("IngressRoute", "default", "ir")
    ir["spec"]["routes"][0]["priority"] = 5000000000
    emu.apply(ir)
    wait_for(lambda: served_by(g, "/ir", host="mixed.test") == "ir", what="IngressRoute with priority 5*10^9")
    assert served_by(g, "/", host="mixed.test") == "ing"
    assert served_by(g, "/other", host="mixed.test") == "ing"
    assert served_by(g, "/ir/x", host="mixed.test") == "ir"
    assert served_by(g, "/ir/override", host="mixed.test") == "gw"  # HTTPRoute first (priority > 10^12 on a host)
