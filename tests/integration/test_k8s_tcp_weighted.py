"""Weighted TCP services from Kubernetes, applied with the real kubectl to
the project's API-server emulator, with real TCP upstreams (python echo
servers announcing themselves): an IngressRouteTCP with several services
(Traefik's CRD: a weighted service, weight 1 unless given), and Gateway API
TCPRoute/TLSRoute rules with several backendRefs (weights; weight 0 gets no
connection; an unresolvable ref's share of connections is refused, as the
spec asks of invalid backendRefs), and routes with several rules (the first
takes every connection; every rule's refs count for ResolvedRefs).
"""
import socket
import textwrap

from conftest import SLOW, run, wait_for
from tcp_peers import EchoServer, TlsNginx
from test_k8s_gateway import Cluster, cluster, emu, gantry as gateway_gantry  # noqa: F401 (fixtures)
from tls_certs import make_cert


def banner_of(port):
    """The banner of the upstream a new connection reached; b"" when refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW) as s:
        s.settimeout(5 * SLOW)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(100)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            return b""
        return data.strip()


def shares(port, n):
    counts = {}
    for _ in range(n):
        b = banner_of(port)
        counts[b] = counts.get(b, 0) + 1
    return counts


def echo_backends(cluster, *names):
    ups = {}
    for name in names:
        ups[name] = EchoServer(banner=name.encode() + b"\n")
        cluster.backend(name, ups[name])
    return ups


def test_ingressroutetcp_with_weighted_services(tmp_path, procs, cluster):
    echo_backends(cluster, "A", "B")
    emu = cluster.emu
    g = procs.gantry(tmp_path, None, entrypoints=("web", "tcpep"),
                     args=["--providers.kubernetesCRD=true", "--providers.kubernetesCRD.endpoint=" + emu.url,
                           "--providers.kubernetesCRD.token=" + emu.token,
                           "--providers.kubernetesCRD.certAuthFilePath=" + emu.ca])
    cluster.apply("""\
        apiVersion: traefik.io/v1alpha1
        kind: IngressRouteTCP
        metadata: {name: weighted, namespace: default}
        spec:
          entryPoints: [tcpep]
          routes:
          - match: HostSNI(`*`)
            services:
            - {name: a, port: 80, weight: 3}
            - {name: b, port: http}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: IngressRouteTCP
        metadata: {name: refused, namespace: default}
        spec:
          entryPoints: [tcpep]
          routes:
          - match: HostSNI(`x.test`)
            services:
            - {name: a, port: 80}
            - {name: absent, port: 80}
          tls: {passthrough: true}
        """.replace("{name: a,", "{name: A,").replace("{name: b,", "{name: B,"))
    # compiled (until then the entry point speaks HTTP and a banner never comes)
    wait_for(lambda: "default/absent" in "\n".join(g.api("/api/overview")["problems"]), what="the IngressRouteTCPs")
    wait_for(lambda: banner_of(g.ports["tcpep"]) in (b"A", b"B"), what="the IngressRouteTCP")
    counts = shares(g.ports["tcpep"], 80)
    assert abs(counts.get(b"A", 0) - 60) <= 2 and abs(counts.get(b"B", 0) - 20) <= 2, counts
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "ingressroutetcp default/refused route 0: service default/absent does not exist" in problems, problems


def test_TCPRoute_and_TLSRoute_with_weighted_backendRefs(tmp_path, procs, cluster):
    ups = echo_backends(cluster, "a", "b", "c")
    d = str(tmp_path)
    tls = {n: procs.add(TlsNginx(tmp_path, "tls-" + n, *make_cert(d, "abc.example.com"))) for n in ("x", "y")}
    for n, up in tls.items():
        cluster.backend("tls-" + n, up)
    g = gateway_gantry(procs, tmp_path, cluster.emu, entrypoints=("websecure", "tcp"),
                       args=["--providers.kubernetesGateway.experimentalChannel=true"])
    cluster.apply("""\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: l4, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - {name: tls, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
          - {name: tcp, port: %d, protocol: TCP}
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: weighted, namespace: default}
        spec:
          parentRefs: [{name: l4, sectionName: tcp}]
          rules:
          - backendRefs:
            - {name: a, port: 80, weight: 2}
            - {name: b, port: 80}
            - {name: missing, port: 80, weight: 1}
            - {name: c, port: 80, weight: 0}
        ---
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: split, namespace: default}
        spec:
          parentRefs: [{name: l4, sectionName: tls}]
          hostnames: [abc.example.com]
          rules: [{backendRefs: [{name: tls-x, port: 80, weight: 1}, {name: tls-y, port: 80, weight: 1}]}]
        """ % g.ports["tcp"])
    wait_for(lambda: cluster.route_condition("weighted", "ResolvedRefs", kind="TCPRoute", gateway="l4"),
             what="TCPRoute status")
    cond = cluster.route_condition("weighted", "ResolvedRefs", kind="TCPRoute", gateway="l4")
    assert cond["status"] == "False" and cond["reason"] == "BackendNotFound", cond
    wait_for(lambda: banner_of(g.ports["tcp"]) in (b"a", b"b", b""), what="the TCPRoute")
    before = ups["c"].connections
    counts = shares(g.ports["tcp"], 80)
    # a 2, b 1 (default), missing 1 (its quarter refused), c 0
    assert abs(counts.get(b"a", 0) - 40) <= 2 and abs(counts.get(b"b", 0) - 20) <= 2, counts
    assert abs(counts.get(b"", 0) - 20) <= 2 and b"c" not in counts, counts
    assert ups["c"].connections == before

    def through():
        r = run(["curl", "-sk", "--resolve", "abc.example.com:%d:127.0.0.1" % g.port, "https://abc.example.com:%d/" % g.port],
                check=False)
        return r.stdout.decode().strip()
    wait_for(lambda: through() in ("tls-x", "tls-y"), what="the TLSRoute")
    seen = [through() for _ in range(20)]
    assert abs(seen.count("tls-x") - 10) <= 2 and seen.count("tls-x") + seen.count("tls-y") == 20, seen


def test_TCPRoute_and_TLSRoute_with_several_rules(tmp_path, procs, cluster):
    """Rules of these kinds have no matches: every rule matches every
    connection and the first rule of the route takes them all (the spec's
    precedence within a Route), split by its own weights. A later rule's
    backends get none; an invalid ref there turns ResolvedRefs False with
    its reason and refuses nothing."""
    ups = echo_backends(cluster, "a", "b", "c")
    tls = {n: procs.add(TlsNginx(tmp_path, "tls-" + n, *make_cert(str(tmp_path), "abc.example.com"))) for n in ("x", "y")}
    for n, up in tls.items():
        cluster.backend("tls-" + n, up)
    g = gateway_gantry(procs, tmp_path, cluster.emu, entrypoints=("websecure", "tcp"),
                       args=["--providers.kubernetesGateway.experimentalChannel=true"])
    gateway = """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: l4, namespace: default}
        spec:
          gatewayClassName: gantry
          listeners:
          - {name: tls, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
          - {name: tcp, port: %d, protocol: TCP}
        """ % g.ports["tcp"]
    tcproute = """\
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: two-rules, namespace: default}
        spec:
          parentRefs: [{name: l4, sectionName: tcp}]
          rules: %s
        """
    tlsroute = """\
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TLSRoute
        metadata: {name: tls-rules, namespace: default}
        spec:
          parentRefs: [{name: l4, sectionName: tls}]
          hostnames: [abc.example.com]
          rules:
          - backendRefs: [{name: tls-x, port: 80}]
          - backendRefs: [{name: tls-y, port: 80}]
          - backendRefs: [{name: absent, port: 80}]
        """
    two_rules = "[{backendRefs: [{name: a, port: 80, weight: 3}, {name: b, port: 80}]}, {backendRefs: [{name: c, port: 80}]}]"
    cluster.apply("---\n".join(textwrap.dedent(d) for d in (gateway, tcproute % two_rules, tlsroute)))
    wait_for(lambda: cluster.route_condition("two-rules", "ResolvedRefs", kind="TCPRoute", gateway="l4"),
             what="TCPRoute status")
    assert cluster.route_condition("two-rules", "ResolvedRefs", kind="TCPRoute", gateway="l4")["status"] == "True"
    wait_for(lambda: banner_of(g.ports["tcp"]) in (b"a", b"b"), what="the TCPRoute")
    counts = shares(g.ports["tcp"], 80)
    # the first rule's a 3 : b 1; the second rule's c none
    assert abs(counts.get(b"a", 0) - 60) <= 2 and abs(counts.get(b"b", 0) - 20) <= 2, counts
    assert set(counts) == {b"a", b"b"} and ups["c"].connections == 0, counts
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "TCPRoute default/two-rules: rules after the first take no connection" in problems, problems

    # TLSRoute: the first rule's tls-x takes every connection; the third rule's absent Service is reported
    wait_for(lambda: cluster.route_condition("tls-rules", "ResolvedRefs", kind="TLSRoute", gateway="l4"),
             what="TLSRoute status")
    cond = cluster.route_condition("tls-rules", "ResolvedRefs", kind="TLSRoute", gateway="l4")
    assert cond["status"] == "False" and cond["reason"] == "BackendNotFound", cond
    assert "default/absent" in cond["message"], cond

    def through():
        r = run(["curl", "-sk", "--resolve", "abc.example.com:%d:127.0.0.1" % g.port, "https://abc.example.com:%d/" % g.port],
                check=False)
        return r.stdout.decode().strip()
    wait_for(lambda: through() == "tls-x", what="the TLSRoute")
    seen = [through() for _ in range(10)]
    assert seen == ["tls-x"] * 10, seen

    # an invalid ref in the TCPRoute's second rule: its status says so; nothing is refused
    cluster.apply(tcproute % "[{backendRefs: [{name: a, port: 80}]}, {backendRefs: [{name: missing, port: 80}]}]")
    wait_for(lambda: (cluster.route_condition("two-rules", "ResolvedRefs", kind="TCPRoute", gateway="l4") or {})
             .get("reason") == "BackendNotFound", what="the TCPRoute's new status")
    cond = cluster.route_condition("two-rules", "ResolvedRefs", kind="TCPRoute", gateway="l4")
    assert cond["status"] == "False" and "Service default/missing does not exist" in cond["message"], cond
    wait_for(lambda: shares(g.ports["tcp"], 8) == {b"a": 8}, what="the TCPRoute's new rules")
    counts = shares(g.ports["tcp"], 40)
    assert counts == {b"a": 40}, counts
