"""The kubernetescrd provider (Traefik's traefik.io/v1alpha1 kinds) against
the project's API-server emulator, with real whoami backends: the real
kubectl applies an IngressRoute with Middlewares (stripPrefix, basicAuth from
a Secret, headers), a TLSOption and a weighted TraefikService, shaped like
Traefik's documentation examples, and requests go through gantry; then the
reference rules: a missing Middleware or a cross-namespace reference takes
only its own router out, with the reason in the API.
"""
import base64
import json
import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import SLOW, get, run, wait_for
from k8s_emulator import Emulator, kubeconfig
from test_tls import peer_names
from tls_certs import make_cert


@pytest.fixture
def emu(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = d + "/ca.crt"
    yield e
    e.stop()


def gantry(procs, tmp_path, emu, args=(), **kw):
    return procs.gantry(tmp_path, None, args=["--providers.kubernetesCRD=true",
                                              "--providers.kubernetesCRD.endpoint=" + emu.url,
                                              "--providers.kubernetesCRD.token=" + emu.token,
                                              "--providers.kubernetesCRD.certAuthFilePath=" + emu.ca] + list(args),
                        **kw)


def backend(emu, name, up, ns="default"):
    """The Service <name> (port 80, "web") whose one endpoint is the whoami <up>."""
    emu.apply({"kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}})
    emu.apply({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
               "metadata": {"name": name + "-1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
               "addressType": "IPv4", "ports": [{"name": "web", "port": up.port}],
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})


def info(port, path, host, **kw):
    status, _, body = get(port, path + ("&" if "?" in path else "?") + "format=json", host, **kw)
    return json.loads(body) if status == 200 else status


def name_of(port, path, host, **kw):
    i = info(port, path, host, **kw)
    return i["name"] if isinstance(i, dict) else i


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def problems(g):
    return "\n".join(g.api("/api/overview")["problems"])


def test_kubectl_ingressroute_middlewares_tlsoption_and_weighted_traefikservice(tmp_path, procs, emu):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    kc = kubeconfig(str(tmp_path / "kubeconfig"), emu, emu.ca)
    env = dict(os.environ, KUBECONFIG=kc)
    users = base64.b64encode(b"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\n").decode()  # test:test (htpasswd)
    manifest = tmp_path / "crd.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Service
        metadata: {name: whoami-a, namespace: default}
        spec:
          ports: [{name: web, port: 80, targetPort: 8080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: whoami-a-1, namespace: default, labels: {kubernetes.io/service-name: whoami-a}}
        addressType: IPv4
        ports: [{name: web, port: %(a)d}]
        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: whoami-b, namespace: default}
        spec:
          ports: [{name: web, port: 80, targetPort: 8080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: whoami-b-1, namespace: default, labels: {kubernetes.io/service-name: whoami-b}}
        addressType: IPv4
        ports: [{name: web, port: %(b)d}]
        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: authsecret, namespace: default}
        data:
          users: %(users)s
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: stripprefix, namespace: default}
        spec:
          stripPrefix:
            prefixes: [/stripit]
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: test-auth, namespace: default}
        spec:
          basicAuth:
            secret: authsecret
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: testheader, namespace: default}
        spec:
          headers:
            customRequestHeaders:
              X-Script-Name: test
            customResponseHeaders:
              X-Custom-Response-Header: value
        ---
        apiVersion: traefik.io/v1alpha1
        kind: TLSOption
        metadata: {name: mytlsoption, namespace: default}
        spec:
          minVersion: VersionTLS12
          sniStrict: true
        ---
        apiVersion: traefik.io/v1alpha1
        kind: TraefikService
        metadata: {name: wrr1, namespace: default}
        spec:
          weighted:
            services:
              - {name: whoami-a, port: 80, weight: 1}
              - {name: whoami-b, port: web, weight: 1}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: IngressRoute
        metadata: {name: ingressroutefoo, namespace: default}
        spec:
          entryPoints: [web]
          routes:
          - match: Host(`foo.test`) && PathPrefix(`/stripit`)
            kind: Rule
            middlewares:
            - name: stripprefix
            - name: testheader
            services:
            - name: whoami-a
              port: 80
          - match: Host(`foo.test`) && PathPrefix(`/private`)
            kind: Rule
            middlewares:
            - name: test-auth
            services:
            - name: whoami-b
              port: web
          - match: Host(`wrr.test`)
            kind: Rule
            services:
            - name: wrr1
              kind: TraefikService
        """ % {"a": a.port, "b": b.port, "users": users}))
    r = subprocess.run(["kubectl", "apply", "--validate=false", "-f", str(manifest)], env=env, capture_output=True,
                       timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: g.admin("/readyz")[0] == 200, what="kubernetescrd provider synced")
    # stripPrefix + headers: the backend sees /x and the added header
    got = wait_for(lambda: isinstance(info(g.port, "/stripit/x", "foo.test"), dict) and info(g.port, "/stripit/x", "foo.test"),
                   what="stripit route")
    assert got["name"] == "a" and got["path"] == "/x", got
    assert got["headers"].get("X-Script-Name") == "test", got["headers"]
    status, headers, _ = get(g.port, "/stripit/x", "foo.test")
    assert {k.lower(): v for k, v in headers.items()}.get("x-custom-response-header") == "value", headers
    # basicAuth from the Secret
    assert get(g.port, "/private", "foo.test")[0] == 401
    assert name_of(g.port, "/private", "foo.test", headers=basic("test", "test")) == "b"
    assert get(g.port, "/private", "foo.test", headers=basic("test", "wrong"))[0] == 401
    # the weighted TraefikService reaches both
    seen = {name_of(g.port, "/", "wrr.test") for _ in range(20)}
    assert seen == {"a", "b"}, seen
    # router and service names as Traefik's
    routers = g.api("/api/http/routers")
    names = sorted(r["name"] for r in routers)
    assert all(n.startswith("default-ingressroutefoo-") and n.endswith("@kubernetescrd") for n in names), names
    assert len(names) == 3
    assert problems(g) == ""
    # kubectl delete: the routes go
    r = subprocess.run(["kubectl", "delete", "ingressroute", "ingressroutefoo"], env=env, capture_output=True,
                       timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    wait_for(lambda: name_of(g.port, "/stripit/x", "foo.test") == 404, what="routes gone after kubectl delete")


def ingressroute(name, routes, ns="default", tls=None, entrypoints=None):
    spec = {"routes": routes}
    if tls is not None:
        spec["tls"] = tls
    if entrypoints:
        spec["entryPoints"] = entrypoints
    return {"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def route(match, service, port=80, middlewares=(), ns=None):
    svc = {"name": service, "port": port}
    if ns:
        svc["namespace"] = ns
    return {"match": match, "kind": "Rule", "services": [svc], "middlewares": list(middlewares)}


def test_unresolvable_references_take_out_only_their_router(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    backend(emu, "app", a)
    backend(emu, "other", a, ns="team2")
    emu.apply({"kind": "Middleware", "metadata": {"name": "strip", "namespace": "team2"},
               "spec": {"stripPrefix": {"prefixes": ["/x"]}}})
    emu.apply(ingressroute("mixed", [
        route("Host(`ok.test`)", "app"),
        route("Host(`nomw.test`)", "app", middlewares=[{"name": "absent"}]),
        route("Host(`nosvc.test`)", "missing"),
        route("Host(`cross.test`)", "other", ns="team2"),
        route("Host(`crossmw.test`)", "app", middlewares=[{"name": "strip", "namespace": "team2"}]),
    ]))
    emu.apply(ingressroute("badopt", [route("Host(`opt.test`)", "app")], tls={"options": {"name": "nope"}}))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "ok.test") == "a", what="the valid router")
    for host in ("nomw.test", "nosvc.test", "cross.test", "crossmw.test", "opt.test"):
        assert name_of(g.port, "/", host) == 404, host
    p = problems(g)
    assert "ingressroute default/mixed route 1: middleware default/absent does not exist" in p, p
    assert "ingressroute default/mixed route 2: service default/missing does not exist" in p, p
    assert "route 3: reference to team2/other in another namespace refused" in p, p
    assert "route 4: reference to team2/strip in another namespace refused" in p, p
    assert "ingressroute default/badopt route 0: TLSOption default/nope does not exist" in p, p
    # the Middleware appears: its router comes back
    emu.apply({"kind": "Middleware", "metadata": {"name": "absent", "namespace": "default"},
               "spec": {"headers": {"customRequestHeaders": {"X-Mw": "1"}}}})
    got = wait_for(lambda: isinstance(info(g.port, "/", "nomw.test"), dict) and info(g.port, "/", "nomw.test"),
                   what="router back with its middleware")
    assert got["headers"].get("X-Mw") == "1"


def test_allow_cross_namespace(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    backend(emu, "other", a, ns="team2")
    emu.apply({"kind": "Middleware", "metadata": {"name": "strip", "namespace": "team2"},
               "spec": {"stripPrefix": {"prefixes": ["/x"]}}})
    emu.apply(ingressroute("cross", [route("Host(`cross.test`)", "other", ns="team2",
                                           middlewares=[{"name": "strip", "namespace": "team2"}])]))
    g = gantry(procs, tmp_path, emu, args=["--providers.kubernetesCRD.allowCrossNamespace=true"])
    got = wait_for(lambda: isinstance(info(g.port, "/x/y", "cross.test"), dict) and info(g.port, "/x/y", "cross.test"),
                   what="cross-namespace route")
    assert got["name"] == "a" and got["path"] == "/y"


def test_tls_secret_and_tlsstore_default_certificate(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    d = str(tmp_path)
    crt, key = make_cert(d, "secure.test")
    dcrt, dkey = make_cert(d, "fallback.test")
    backend(emu, "app", a)
    for name, (c, k) in (("secure-tls", (crt, key)), ("default-tls", (dcrt, dkey))):
        emu.apply({"kind": "Secret", "metadata": {"name": name, "namespace": "default"}, "type": "kubernetes.io/tls",
                   "data": {"tls.crt": base64.b64encode(open(c, "rb").read()).decode(),
                            "tls.key": base64.b64encode(open(k, "rb").read()).decode()}})
    emu.apply({"kind": "TLSStore", "metadata": {"name": "default", "namespace": "default"},
               "spec": {"defaultCertificate": {"secretName": "default-tls"}}})
    emu.apply(ingressroute("secure", [route("Host(`secure.test`)", "app")], tls={"secretName": "secure-tls"},
                           entrypoints=["websecure"]))
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "websecure"))
    tls_port = g.ports["websecure"]
    wait_for(lambda: "DNS:secure.test" in peer_names(tls_port, "secure.test"), what="certificate from the secret")
    assert "DNS:fallback.test" in peer_names(tls_port, "unknown.test")
    r = run(["curl", "-s", "--cacert", d + "/ca.crt", "--resolve", "secure.test:%d:127.0.0.1" % tls_port,
             "https://secure.test:%d/" % tls_port])
    assert b"Name: a" in r.stdout
    assert problems(g) == ""


def test_tlsstore_default_generated_cert_is_ordered_from_its_resolver(tmp_path, procs, emu):
    """TLSStore default spec.defaultGeneratedCert reaches the ACME manager:
    its names are ordered from the resolver it names (a CA nobody answers
    at: the attempt is what is checked here; issuance and serving are
    test_acme_default_generated.py's, with pebble); a resolver that does
    not exist is a problem."""
    from conftest import free_port
    dead_ca = "http://127.0.0.1:%d/dir" % free_port()
    emu.apply({"kind": "TLSStore", "metadata": {"name": "default", "namespace": "default"},
               "spec": {"defaultGeneratedCert": {"resolver": "le", "domain": {"main": "gen.test", "sans": ["alt.gen.test"]}}}})
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "websecure"),
               args=["--certificatesResolvers.le.acme.caServer=" + dead_ca,
                     "--certificatesResolvers.le.acme.storage=" + str(tmp_path / "acme.json"),
                     "--certificatesResolvers.le.acme.tlsChallenge=true"])
    wait_for(lambda: "resolver le: ordering a certificate for gen.test" in g.output(), timeout=10 * SLOW,
             what="order for the default certificate:\n" + g.output()[-2000:])
    wait_for(lambda: "acme: resolver le: certificate for gen.test:" in problems(g), timeout=10 * SLOW, what="its failure")
    emu.apply({"kind": "TLSStore", "metadata": {"name": "default", "namespace": "default"},
               "spec": {"defaultGeneratedCert": {"resolver": "nosuch", "domain": {"main": "gen.test"}}}})
    wait_for(lambda: "defaultGeneratedCert.resolver 'nosuch' is not defined" in problems(g), timeout=10 * SLOW,
             what="unknown resolver problem:\n" + problems(g))


def tls_secret(emu, name, crt, key):
    emu.apply({"kind": "Secret", "metadata": {"name": name, "namespace": "default"}, "type": "kubernetes.io/tls",
               "data": {"tls.crt": base64.b64encode(open(crt, "rb").read()).decode(),
                        "tls.key": base64.b64encode(open(key, "rb").read()).decode()}})


def test_tlsoptions_versions_and_client_auth_from_a_secret(tmp_path, procs, emu):
    from test_tls_options import curl, s_client
    from tls_certs import make_client_cert
    a = procs.whoami(name="a")
    d = str(tmp_path)
    ca = d + "/ca.crt"
    backend(emu, "app", a)
    for host in ("v13.test", "mtls.test"):
        crt, key = make_cert(d, host)
        tls_secret(emu, host, crt, key)
    ccrt, ckey = make_client_cert(d, "client")
    emu.apply({"kind": "Secret", "metadata": {"name": "client-ca", "namespace": "default"},
               "data": {"tls.ca": base64.b64encode(open(ca, "rb").read()).decode()}})
    emu.apply({"kind": "TLSOption", "metadata": {"name": "tls13", "namespace": "default"},
               "spec": {"minVersion": "VersionTLS13"}})
    emu.apply({"kind": "TLSOption", "metadata": {"name": "mtls", "namespace": "default"},
               "spec": {"clientAuth": {"secretNames": ["client-ca"], "clientAuthType": "RequireAndVerifyClientCert"}}})
    emu.apply(ingressroute("v13", [route("Host(`v13.test`)", "app")], entrypoints=["websecure"],
                           tls={"secretName": "v13.test", "options": {"name": "tls13"}}))
    emu.apply(ingressroute("mtls", [route("Host(`mtls.test`)", "app")], entrypoints=["websecure"],
                           tls={"secretName": "mtls.test", "options": {"name": "mtls", "namespace": "default"}}))
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "websecure"))
    port = g.ports["websecure"]
    wait_for(lambda: curl(port, "v13.test", ca).startswith("200"), what="TLS 1.3 router live")
    assert s_client(port, "v13.test", "-tls1_3")[0] == 0
    assert s_client(port, "v13.test", "-tls1_2")[0] != 0
    wait_for(lambda: curl(port, "mtls.test", ca, "--cert", ccrt, "--key", ckey).startswith("200"),
             what="client certificate accepted")
    assert not curl(port, "mtls.test", ca).startswith("200")
    assert problems(g) == ""


def test_traefikservice_mirroring_and_errors_middleware_service(tmp_path, procs, emu):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    backend(emu, "main", a)
    backend(emu, "shadow", b)
    emu.apply({"kind": "TraefikService", "metadata": {"name": "mirrored", "namespace": "default"},
               "spec": {"mirroring": {"name": "main", "port": 80,
                                      "mirrors": [{"name": "shadow", "port": "web", "percent": 100}]}}})
    emu.apply({"kind": "Middleware", "metadata": {"name": "oops", "namespace": "default"},
               "spec": {"errors": {"status": ["404"], "query": "/error-page",
                                   "service": {"name": "shadow", "port": 80}}}})
    emu.apply(ingressroute("m", [{"match": "Host(`m.test`)", "kind": "Rule",
                                  "services": [{"name": "mirrored", "kind": "TraefikService"}]},
                                 {"match": "Host(`e.test`)", "kind": "Rule",
                                  "middlewares": [{"name": "oops"}],
                                  "services": [{"name": "main", "port": 80}]}]))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "m.test") == "a", what="mirrored service answers from main")
    assert problems(g) == ""
    # errors: the main service's 404 is replaced by the error service's page
    def error_page():
        status, _, body = get(g.port, "/status/404", "e.test")
        return status == 404 and b"Name: b" in body and b"/error-page" in body
    wait_for(error_page, what="the error page from the errors middleware's service")
    assert name_of(g.port, "/", "e.test") == "a"


def test_ingressroutetcp_with_a_middlewaretcp(tmp_path, procs, emu):
    import socket
    from tcp_peers import EchoServer
    echo = EchoServer(banner=b"220 hello\r\n")
    backend(emu, "echo", echo)
    emu.apply({"kind": "MiddlewareTCP", "metadata": {"name": "allow", "namespace": "default"},
               "spec": {"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}}})
    emu.apply({"kind": "IngressRouteTCP", "metadata": {"name": "plain", "namespace": "default"},
               "spec": {"entryPoints": ["tcpep"], "routes": [{"match": "HostSNI(`*`)", "middlewares": [{"name": "allow"}],
                                                              "services": [{"name": "echo", "port": 80}]}]}})
    emu.apply({"kind": "IngressRouteTCP", "metadata": {"name": "refused", "namespace": "default"},
               "spec": {"entryPoints": ["tcpep"], "routes": [{"match": "HostSNI(`x.test`)",
                                                              "middlewares": [{"name": "absent"}],
                                                              "services": [{"name": "echo", "port": 80}]}]}})
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "tcpep"))

    def greeting():
        with socket.create_connection(("127.0.0.1", g.ports["tcpep"]), timeout=5 * SLOW) as s:
            s.settimeout(2 * SLOW)
            try:
                return s.recv(64)
            except (ConnectionResetError, socket.timeout):
                return b""
    wait_for(lambda: greeting() == b"220 hello\r\n", what="the TCP route to the echo server")
    assert "ingressroutetcp default/refused route 0: MiddlewareTCP default/absent does not exist" in problems(g)
    # the allow list no longer admits loopback: connections are closed before the backend
    emu.apply({"kind": "MiddlewareTCP", "metadata": {"name": "allow", "namespace": "default"},
               "spec": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}}})
    wait_for(lambda: greeting() == b"", what="the connection refused by the MiddlewareTCP")


def test_ingressroutetcp_tls_to_the_backend(tmp_path, procs, emu):
    """IngressRouteTCP services[].tls: true with a ServersTransportTCP whose
    tls names Secrets (rootCAsSecrets, certificatesSecrets): the server gets
    TLS with SNI serverName and the client certificate; spiffe refuses."""
    from test_tcp_backend_tls import TlsEcho, exchange
    from tls_certs import make_client_cert
    d = str(tmp_path)
    crt, key = make_cert(d, "backend.test")
    cli_crt, cli_key = make_client_cert(d, "gantry-client")
    up = TlsEcho(crt, key, client_ca=os.path.join(d, "ca.crt"))
    up.port = int(up.address.rsplit(":", 1)[1])
    backend(emu, "pg", up)

    def b64(path):
        return base64.b64encode(open(path, "rb").read()).decode()
    emu.apply({"kind": "Secret", "metadata": {"name": "pg-ca", "namespace": "default"}, "data": {"ca.crt": b64(d + "/ca.crt")}})
    emu.apply({"kind": "Secret", "metadata": {"name": "pg-client", "namespace": "default"}, "type": "kubernetes.io/tls",
               "data": {"tls.crt": b64(cli_crt), "tls.key": b64(cli_key)}})
    emu.apply({"kind": "ServersTransportTCP", "metadata": {"name": "pgtls", "namespace": "default"},
               "spec": {"tls": {"serverName": "backend.test", "rootCAsSecrets": ["pg-ca"],
                                "certificatesSecrets": ["pg-client"]}}})
    emu.apply({"kind": "ServersTransportTCP", "metadata": {"name": "mesh", "namespace": "default"},
               "spec": {"tls": {"spiffe": {"ids": ["spiffe://example.org/pg"]}}}})
    emu.apply({"kind": "IngressRouteTCP", "metadata": {"name": "pg", "namespace": "default"},
               "spec": {"entryPoints": ["tcpep"], "routes": [
                   {"match": "HostSNI(`*`)", "services": [{"name": "pg", "port": 80, "tls": True, "serversTransport": "pgtls"}]}]}})
    emu.apply({"kind": "IngressRouteTCP", "metadata": {"name": "meshed", "namespace": "default"},
               "spec": {"entryPoints": ["web"], "routes": [
                   {"match": "HostSNI(`m.test`)", "services": [{"name": "pg", "port": 80, "tls": True, "serversTransport": "mesh"}]}],
                   "tls": {"passthrough": True}}})
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "tcpep"))
    wait_for(lambda: exchange(g.ports["tcpep"], timeout=2 * SLOW) == b"tls:hello", what="TLS to the TCP backend")
    assert "backend.test" in up.snis and "gantry-client" in up.clients, (up.snis, up.clients)
    wait_for(lambda: "serversTransport 'default-mesh@kubernetescrd': tls.spiffe is not supported by gantry for TCP"
             in problems(g), what="the spiffe transport refused")


def test_serverstransport_root_ca_from_a_secret(tmp_path, procs, emu):
    from test_servers_transport import TLSUpstream
    d = str(tmp_path)
    up = TLSUpstream(d)  # certificate for backend.internal from the tests' CA (the emulator's)
    try:
        port = int(up.url.rsplit(":", 1)[1])
        emu.apply({"kind": "Service", "metadata": {"name": "secure", "namespace": "default"},
                   "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}})
        emu.apply({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                   "metadata": {"name": "secure-1", "namespace": "default",
                                "labels": {"kubernetes.io/service-name": "secure"}},
                   "addressType": "IPv4", "ports": [{"name": "https", "port": port}],
                   "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})
        emu.apply({"kind": "Secret", "metadata": {"name": "backend-ca", "namespace": "default"},
                   "data": {"ca.crt": base64.b64encode(open(d + "/ca.crt", "rb").read()).decode()}})
        emu.apply({"kind": "ServersTransport", "metadata": {"name": "internal", "namespace": "default"},
                   "spec": {"serverName": "backend.internal", "rootCAsSecrets": ["backend-ca"]}})
        emu.apply(ingressroute("tr", [
            {"match": "Host(`ca.test`)", "kind": "Rule",
             "services": [{"name": "secure", "port": 443, "serversTransport": "internal"}]},
            {"match": "Host(`plain.test`)", "kind": "Rule", "services": [{"name": "secure", "port": "https"}]}]))
        g = gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "ca.test")[2] == b"tls ok", what="https backend verified with the Secret's CA")
        assert get(g.port, "/", "plain.test")[0] == 502  # the system CAs do not know the tests' CA
        assert problems(g) == ""
    finally:
        up.stop()


def test_label_selector_namespaces_and_ingress_class(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    for ns in ("apps", "other"):
        backend(emu, "app", a, ns=ns)

    def ir(name, ns, labels=None, cls=None):
        o = ingressroute(name, [route("Host(`%s.test`)" % name, "app")], ns=ns)
        if labels:
            o["metadata"]["labels"] = labels
        if cls:
            o["metadata"]["annotations"] = {"kubernetes.io/ingress.class": cls}
        return o
    emu.apply(ir("chosen", "apps", {"team": "web"}, "gantry"))
    emu.apply(ir("unlabelled", "apps", None, "gantry"))
    emu.apply(ir("otherclass", "apps", {"team": "web"}, "traefik"))
    emu.apply(ir("elsewhere", "other", {"team": "web"}, "gantry"))
    g = gantry(procs, tmp_path, emu, args=["--providers.kubernetesCRD.labelSelector=team=web",
                                           "--providers.kubernetesCRD.namespaces=apps",
                                           "--providers.kubernetesCRD.ingressClass=gantry"])
    wait_for(lambda: name_of(g.port, "/", "chosen.test") == "a", what="the selected IngressRoute")
    for host in ("unlabelled.test", "otherclass.test", "elsewhere.test"):
        assert name_of(g.port, "/", host) == 404, host


def test_service_reference_middlewares(tmp_path, procs, emu):
    """services[].middlewares (Traefik v3.7): an IngressRoute's single
    service runs its own after the route's; in a weighted split only the
    requests sent to that service run them; a missing one takes the route out."""
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    backend(emu, "a", a)
    backend(emu, "b", b)
    emu.apply({"kind": "Middleware", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "tag", "namespace": "default"},
               "spec": {"headers": {"customRequestHeaders": {"X-Tag": "a-only"}}}})
    emu.apply({"kind": "Middleware", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "strip", "namespace": "default"},
               "spec": {"stripPrefix": {"prefixes": ["/api"]}}})
    emu.apply({"kind": "IngressRoute", "apiVersion": "traefik.io/v1alpha1", "metadata": {"name": "app", "namespace": "default"},
               "spec": {"routes": [
                   {"match": "Host(`one.test`)", "kind": "Rule", "middlewares": [{"name": "strip"}],
                    "services": [{"name": "a", "port": 80, "middlewares": [{"name": "tag"}]}]},
                   {"match": "Host(`split.test`)", "kind": "Rule", "services": [
                       {"name": "a", "port": 80, "middlewares": [{"name": "tag"}]}, {"name": "b", "port": 80}]},
                   {"match": "Host(`missing.test`)", "kind": "Rule",
                    "services": [{"name": "a", "port": 80, "middlewares": [{"name": "nosuch"}]}]}]}})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/api/x", "one.test") == "a", what="route live")
    i = info(g.port, "/api/x", "one.test")
    assert i["path"] == "/x" and i["headers"].get("X-Tag") == "a-only", i
    seen = {}
    for _ in range(12):
        i = info(g.port, "/", "split.test")
        seen.setdefault(i["name"], set()).add(i["headers"].get("X-Tag"))
    assert seen == {"a": {"a-only"}, "b": {None}}, seen
    assert get(g.port, "/", "missing.test")[0] == 404
    assert "default/nosuch does not exist" in problems(g)
