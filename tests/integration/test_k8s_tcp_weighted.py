"""Weighted TCP services from Kubernetes, applied with the real kubectl to
the project's API-server emulator, with real TCP upstreams (python echo
servers announcing themselves): an IngressRouteTCP with several services
(Traefik's CRD: a weighted service, weight 1 unless given), and Gateway API
TCPRoute/TLSRoute rules with several backendRefs (weights; weight 0 gets no
connection; an unresolvable ref's share of connections is refused, as the
spec asks of invalid backendRefs).
"""
import socket

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
