"""TLS towards TCP servers (Traefik's tcp.serversTransports.<name>.tls and
servers[].tls) against the real binary and a real TLS server (Python's ssl
module, certificates from the openssl CLI): a server with tls: true gets a
client handshake first (SNI serverName or the server's host, chain and name
verified, a client certificate when the transport has one), then the
client's bytes inside TLS; a handshake that fails (unknown CA, no client
certificate, a server that never answers) closes the client's connection
without a byte. The PROXY header goes first, in plaintext. spiffe and
unloadable CAs refuse the service, named in the API.
"""
import os
import socket
import ssl

from conftest import SLOW
from tcp_peers import EchoServer, Listener
from test_tcp_proxy_protocol import parse_header
from tls_certs import make_cert, make_client_cert, make_ip_cert

ENTRYPOINTS = ("web", "good", "inline", "wrongca", "insecure", "mtls", "nocert", "plainip", "pp", "notls", "silent", "good12", "insecure12")


class TlsEcho(Listener):
    """A TLS server answering "tls:<bytes>"; records the SNI of each
    handshake, the client certificate's CN (with <client_ca>, one is
    required), handshake errors, and a plaintext PROXY header read first
    (with <proxy>)."""

    def __init__(self, cert, key, client_ca=None, proxy=False, tls12=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if tls12:
            self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if client_ca:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(client_ca)
        self.snis, self.clients, self.errors, self.headers = [], [], [], []
        self.ctx.sni_callback = lambda sock, name, ctx: self.snis.append(name)
        self.proxy = proxy
        self.listen()

    def one(self, conn):
        try:
            conn.settimeout(5 * SLOW)
            if self.proxy:
                self.headers.append(parse_header(conn)[0])
            with self.ctx.wrap_socket(conn, server_side=True) as t:
                peer = t.getpeercert()
                if peer:
                    self.clients.append(dict(x[0] for x in peer["subject"])["commonName"])
                data = t.recv(64)
                if data:
                    t.sendall(b"tls:" + data)
        except (OSError, EOFError, ssl.SSLError) as e:
            self.errors.append(str(e))
        finally:
            conn.close()


def exchange(port, payload=b"hello", timeout=5 * SLOW, want=9):
    """Sends <payload>, returns everything read until the peer closes (or <want> bytes)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(payload)
        data = b""
        while len(data) < want:
            chunk = c.recv(64)
            if not chunk:
                break
            data += chunk
        return data
    except ConnectionResetError:
        return data
    finally:
        c.close()


def router(name, service, ep):
    return "    %s: {rule: \"HostSNI(`*`)\", service: %s, entryPoints: [%s]}\n" % (name, service, ep)


def test_tls_towards_tcp_servers(tmp_path, procs):
    certs = str(tmp_path / "certs")
    other = str(tmp_path / "other")
    os.makedirs(certs)
    os.makedirs(other)
    crt, key = make_cert(certs, "backend.test")
    ip_crt, ip_key = make_ip_cert(certs, "backend-ip", "127.0.0.1")
    cli_crt, cli_key = make_client_cert(certs, "gantry-client")
    ca = os.path.join(certs, "ca.crt")
    make_cert(other, "unrelated")  # another CA, which did not sign the backend's certificate
    wrong_ca = os.path.join(other, "ca.crt")
    with open(ca) as f:
        ca_pem = f.read()

    named = TlsEcho(crt, key)
    mtls = TlsEcho(crt, key, client_ca=ca)
    by_ip = TlsEcho(ip_crt, ip_key)
    with_pp = TlsEcho(crt, key, proxy=True)
    old = TlsEcho(crt, key, tls12=True)
    plain = EchoServer()
    silent = socket.socket()  # accepts, never speaks TLS
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    silent_addr = "127.0.0.1:%d" % silent.getsockname()[1]

    inline = "|\n" + "\n".join("            " + line for line in ca_pem.strip().splitlines())
    cfg = ("tcp:\n  routers:\n"
           + router("good", "good", "good") + router("inline", "inline", "inline")
           + router("wrongca", "wrongca", "wrongca") + router("insecure", "insecure", "insecure")
           + router("mtls", "mtls", "mtls") + router("nocert", "nocert", "nocert")
           + router("plainip", "plainip", "plainip") + router("pp", "pp", "pp")
           + router("notls", "notls", "notls") + router("silent", "silent", "silent")
           + router("good12", "good12", "good12") + router("insecure12", "insecure12", "insecure12")
           + "  services:\n"
           "    good: {loadBalancer: {serversTransport: named, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "    inline: {loadBalancer: {serversTransport: inlineca, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "    wrongca: {loadBalancer: {serversTransport: wrongca, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "    insecure: {loadBalancer: {serversTransport: insecure, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "    mtls: {loadBalancer: {serversTransport: withcert, servers: [{address: \"%(mtls)s\", tls: true}]}}\n"
           "    nocert: {loadBalancer: {serversTransport: named, servers: [{address: \"%(mtls)s\", tls: true}]}}\n"
           "    plainip: {loadBalancer: {servers: [{address: \"%(by_ip)s\", tls: true}]}}\n"
           "    pp: {loadBalancer: {serversTransport: ppnamed, servers: [{address: \"%(with_pp)s\", tls: true}]}}\n"
           "    notls: {loadBalancer: {serversTransport: named, servers: [{address: \"%(plain)s\"}]}}\n"
           "    silent: {loadBalancer: {serversTransport: quick, servers: [{address: \"%(silent)s\", tls: true}]}}\n"
           "    good12: {loadBalancer: {serversTransport: named, servers: [{address: \"%(old)s\", tls: true}]}}\n"
           "    insecure12: {loadBalancer: {serversTransport: insecure, servers: [{address: \"%(old)s\", tls: true}]}}\n"
           "    spiffed: {loadBalancer: {serversTransport: spiffed, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "    badca: {loadBalancer: {serversTransport: badca, servers: [{address: \"%(named)s\", tls: true}]}}\n"
           "  serversTransports:\n"
           "    named: {tls: {serverName: backend.test, rootCAs: [\"%(ca)s\"]}}\n"
           "    inlineca:\n      tls:\n        serverName: backend.test\n        rootCAs:\n          - %(inline)s\n"
           "    wrongca: {tls: {serverName: backend.test, rootCAs: [\"%(wrong_ca)s\"]}}\n"
           "    insecure: {tls: {insecureSkipVerify: true, rootCAs: [\"%(wrong_ca)s\"]}}\n"
           "    withcert: {tls: {serverName: backend.test, rootCAs: [\"%(ca)s\"],"
           " certificates: [{certFile: \"%(cli_crt)s\", keyFile: \"%(cli_key)s\"}]}}\n"
           "    ppnamed: {proxyProtocol: {version: 1}, tls: {serverName: backend.test, rootCAs: [\"%(ca)s\"]}}\n"
           "    quick: {dialTimeout: 500ms, tls: {serverName: backend.test, rootCAs: [\"%(ca)s\"]}}\n"
           "    spiffed: {tls: {spiffe: {ids: [\"spiffe://example.org/x\"]}}}\n"
           "    badca: {tls: {rootCAs: [\"%(missing)s\"]}}\n"
           % dict(named=named.address, mtls=mtls.address, by_ip=by_ip.address, with_pp=with_pp.address, old=old.address,
                  plain=plain.address, silent=silent_addr, ca=ca, wrong_ca=wrong_ca, inline=inline,
                  cli_crt=cli_crt, cli_key=cli_key, missing=str(tmp_path / "no-such-ca.pem")))
    # the default transport (no serversTransport) trusts the system store: here, the test CA
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS, env_extra={"SSL_CERT_FILE": ca})
    p = g.ports

    # rootCAs (a file, or inline PEM) and serverName: SNI sent, chain and name verified
    assert exchange(p["good"]) == b"tls:hello"
    assert "backend.test" in named.snis, named.snis
    assert exchange(p["inline"]) == b"tls:hello"
    # TLS 1.2 too, insecureSkipVerify included (a certificate for another name than the server's host)
    assert exchange(p["good12"]) == b"tls:hello"
    assert exchange(p["insecure12"]) == b"tls:hello"
    # a CA that did not sign the server's certificate: closed, nothing relayed
    n_before = len(named.errors)
    assert exchange(p["wrongca"]) == b""
    # insecureSkipVerify: the same server, accepted
    assert exchange(p["insecure"]) == b"tls:hello"
    # a client certificate, for a server that requires one; without one, nothing
    assert exchange(p["mtls"]) == b"tls:hello"
    assert "gantry-client" in mtls.clients, mtls.clients
    assert exchange(p["nocert"]) == b""
    # servers[].tls: true without a transport: the defaults, the server's host (an IP) verified
    assert exchange(p["plainip"]) == b"tls:hello"
    assert by_ip.errors == [], by_ip.errors
    # the PROXY header first, in plaintext, then the handshake
    assert exchange(p["pp"]) == b"tls:hello"
    assert with_pp.headers and with_pp.headers[-1][0] == 1 and with_pp.headers[-1][1] == "127.0.0.1", with_pp.headers
    # a transport's tls alone does not make a server TLS (Traefik): plaintext to a server without tls
    assert exchange(p["notls"], want=5) == b"hello"
    # a server that never completes the handshake: dialTimeout closes the client's connection
    assert exchange(p["silent"], timeout=10 * SLOW) == b""
    assert len(named.errors) > n_before, named.errors  # the wrong-CA handshake was refused by gantry

    good = g.api("/api/tcp/services/good@file")["loadBalancer"]
    assert good["servers"] == [{"address": named.address, "tls": True}] and good["serversTransport"] == "named", good
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "tcp service 'spiffed@file': serversTransport 'spiffed@file': tls.spiffe is not supported by gantry for TCP" \
        in problems, problems
    assert "tcp service 'badca@file': serversTransport 'badca@file': tls.rootCAs: cannot read" in problems, problems
    g.wait_log(r"TLS handshake with server 127\.0\.0\.1:\d+ \(name 'backend\.test'\) failed")
    silent.close()
    plain.stop()


def test_static_tcp_servers_transport_tls(tmp_path, procs):
    """tcpServersTransport.tls (static) dials the tls servers of the services
    that name no transport: its rootCAs verify them (no SSL_CERT_FILE here,
    so the system store alone would refuse the test CA), insecureSkipVerify
    accepts any; a service with a transport of its own keeps that one's."""
    certs = str(tmp_path / "certs")
    os.makedirs(certs)
    ip_crt, ip_key = make_ip_cert(certs, "backend-ip", "127.0.0.1")
    ca = os.path.join(certs, "ca.crt")
    by_ip = TlsEcho(ip_crt, ip_key)
    cfg = ("tcp:\n  routers:\n" + router("good", "viadefault", "good") + router("notls", "own", "notls") +
           "  services:\n"
           "    viadefault: {loadBalancer: {servers: [{address: \"%(a)s\", tls: true}]}}\n"
           "    own: {loadBalancer: {serversTransport: systemstore, servers: [{address: \"%(a)s\", tls: true}]}}\n"
           "  serversTransports:\n"
           "    systemstore: {dialTimeout: 5s}\n" % dict(a=by_ip.address))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS, args=("--tcpServersTransport.tls.rootCAs=" + ca,))
    assert exchange(g.ports["good"]) == b"tls:hello"
    assert exchange(g.ports["notls"]) == b""  # its own transport: the system store, which lacks the test CA
    g.stop()
    other = str(tmp_path / "other")
    os.makedirs(other)
    make_cert(other, "unrelated")
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS,
                     args=("--tcpServersTransport.tls.rootCAs=" + os.path.join(other, "ca.crt"),))
    assert exchange(g.ports["good"]) == b""  # a CA that did not sign it
    g.stop()
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS, args=("--tcpServersTransport.tls.insecureSkipVerify=true",))
    assert exchange(g.ports["good"]) == b"tls:hello"
