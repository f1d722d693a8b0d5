"""serversTransports against a real TLS upstream (Python's ssl server with
certificates made by the openssl CLI): verification against the system
store fails for a private CA, rootCAs and insecureSkipVerify make it work,
serverName is the name sent and verified, a client certificate reaches an
upstream that requires one, forwardingTimeouts apply per transport,
peerCertURI accepts only a certificate with that URI SAN (openssl-made,
spiffe://...), and a service naming a transport that is missing or asks
for what gantry cannot do is not served."""
import http.server
import ssl
import threading
import time

from conftest import get, service_yaml, wait_for
from tls_certs import make_ca, make_cert, make_client_cert


class TLSUpstream:
    def __init__(self, d, name="backend.internal", require_client_cert=False, uris=(), sans=None, tls12=False):
        crt, key = make_cert(d, name, sans=sans, uris=uris)
        _, ca = make_ca(d)
        self.seen_client = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.startswith("/slow"):
                    time.sleep(0.6)
                cert = self.connection.getpeercert()
                outer.seen_client.append(cert)
                body = b"tls ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ca)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


def test_transports(tmp_path, procs):
    d = str(tmp_path)
    up = TLSUpstream(d)
    mtls = TLSUpstream(d, "mtls.internal", require_client_cert=True)
    _, ca = make_ca(d)
    ccrt, ckey = make_client_cert(d, "gantry-client")
    try:
        dyn = ("http:\n  routers:\n"
               "    plain: {rule: \"Host(`plain.test`)\", service: plain}\n"
               "    ca: {rule: \"Host(`ca.test`)\", service: withca}\n"
               "    insecure: {rule: \"Host(`insecure.test`)\", service: insecure}\n"
               "    wrongname: {rule: \"Host(`wrong.test`)\", service: wrongname}\n"
               "    mtls: {rule: \"Host(`mtls.test`)\", service: mtls}\n"
               "    nocert: {rule: \"Host(`nocert.test`)\", service: nocert}\n"
               "    slow: {rule: \"Host(`slow.test`)\", service: slow}\n"
               "    missing: {rule: \"Host(`missing.test`)\", service: missing}\n"
               "    spiffe: {rule: \"Host(`spiffe.test`)\", service: spiffe}\n"
               "  serversTransports:\n"
               "    ca: {rootCAs: [\"%s\"], serverName: backend.internal}\n"
               "    insecure: {insecureSkipVerify: true}\n"
               "    wrongname: {rootCAs: [\"%s\"], serverName: other.internal}\n"
               "    client: {rootCAs: [\"%s\"], serverName: mtls.internal, certificates: [{certFile: \"%s\", keyFile: \"%s\"}]}\n"
               "    noclient: {rootCAs: [\"%s\"], serverName: mtls.internal}\n"
               "    quick: {insecureSkipVerify: true, forwardingTimeouts: {responseHeaderTimeout: 200ms}}\n"
               "    spiffe: {spiffe: {ids: [\"spiffe://x\"]}}\n"
               "  services:\n" % (ca, ca, ca, ccrt, ckey, ca)
               + service_yaml("plain", [up.url])
               + service_yaml("withca", [up.url], "        serversTransport: ca\n")
               + service_yaml("insecure", [up.url], "        serversTransport: insecure@file\n")
               + service_yaml("wrongname", [up.url], "        serversTransport: wrongname\n")
               + service_yaml("mtls", [mtls.url], "        serversTransport: client\n")
               + service_yaml("nocert", [mtls.url], "        serversTransport: noclient\n")
               + service_yaml("slow", [up.url], "        serversTransport: quick\n")
               + service_yaml("missing", [up.url], "        serversTransport: nosuch\n")
               + service_yaml("spiffe", [up.url], "        serversTransport: spiffe\n"))
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "ca.test")[0] == 200, what="route live")
        assert get(g.port, "/", "ca.test")[2] == b"tls ok"
        assert get(g.port, "/", "insecure.test")[0] == 200
        assert get(g.port, "/", "plain.test")[0] == 502      # a private CA: not in the system store
        assert get(g.port, "/", "wrong.test")[0] == 502      # the certificate is not for other.internal
        assert get(g.port, "/", "mtls.test")[0] == 200       # the client certificate was presented
        assert any(c and ("commonName", "gantry-client") in sum(c.get("subject", ()), ()) for c in mtls.seen_client)
        assert get(g.port, "/", "nocert.test")[0] == 502     # the upstream requires one
        assert get(g.port, "/", "slow.test")[0] == 200
        assert get(g.port, "/slow", "slow.test")[0] == 504   # responseHeaderTimeout of that transport only
        svcs = {s["name"]: s for s in g.api("/api/http/services")}
        assert "nosuch@file' does not exist" in " ".join(svcs["missing@file"]["error"])
        assert "spiffe is not supported" in " ".join(svcs["spiffe@file"]["error"])
        assert get(g.port, "/", "missing.test")[0] == 404 and get(g.port, "/", "spiffe.test")[0] == 404
    finally:
        up.stop()
        mtls.stop()


def test_peer_cert_uri(tmp_path, procs):
    d = str(tmp_path)
    peer = TLSUpstream(d, "peer.internal", uris=["spiffe://example.org/peer"])
    other = TLSUpstream(d, "other.internal", uris=["spiffe://example.org/other", "https://example.org/peer"])
    plain = TLSUpstream(d, "plain.internal")  # no URI SAN at all
    _, ca = make_ca(d)
    try:
        transports = {
            # name, transport, upstream, expected status
            "ok": ("{rootCAs: [\"%s\"], serverName: peer.internal, peerCertURI: \"spiffe://example.org/peer\"}" % ca, peer, 200),
            # compared without case, as Go's strings.EqualFold
            "case": ("{rootCAs: [\"%s\"], serverName: peer.internal, peerCertURI: \"SPIFFE://Example.ORG/Peer\"}" % ca, peer, 200),
            # another URI, or none, in the certificate: refused
            "wrong": ("{rootCAs: [\"%s\"], serverName: other.internal, peerCertURI: \"spiffe://example.org/peer\"}" % ca, other, 502),
            "nouri": ("{rootCAs: [\"%s\"], serverName: plain.internal, peerCertURI: \"spiffe://example.org/peer\"}" % ca, plain, 502),
            "prefix": ("{rootCAs: [\"%s\"], serverName: peer.internal, peerCertURI: \"spiffe://example.org/pee\"}" % ca, peer, 502),
            # the name is still checked without insecureSkipVerify
            "badname": ("{rootCAs: [\"%s\"], serverName: else.internal, peerCertURI: \"spiffe://example.org/peer\"}" % ca, peer, 502),
            # insecureSkipVerify: the name is not checked (127.0.0.1 is not in the certificate), the chain and the URI are
            "insecure": ("{insecureSkipVerify: true, rootCAs: [\"%s\"], peerCertURI: \"spiffe://example.org/peer\"}" % ca, peer, 200),
            "insecure-wrong": ("{insecureSkipVerify: true, rootCAs: [\"%s\"], peerCertURI: \"spiffe://example.org/x\"}" % ca, peer, 502),
            # ... against the system store, which does not know the test CA
            "insecure-untrusted": ("{insecureSkipVerify: true, peerCertURI: \"spiffe://example.org/peer\"}", peer, 502),
        }
        dyn = "http:\n  routers:\n"
        for n in transports:
            dyn += "    %s: {rule: \"Host(`%s.test`)\", service: %s}\n" % (n, n, n)
        dyn += "  serversTransports:\n"
        for n, (t, _, _) in transports.items():
            dyn += "    %s: %s\n" % (n, t)
        dyn += "  services:\n"
        for n, (_, up, _) in transports.items():
            dyn += service_yaml(n, [up.url], "        serversTransport: %s\n" % n)
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
        for n, (_, _, expected) in transports.items():
            status, _, body = get(g.port, "/", "%s.test" % n)
            assert status == expected, (n, status, body)
            if expected == 200:
                assert body == b"tls ok"
        svcs = {s["name"]: s for s in g.api("/api/http/services")}
        assert not svcs["ok@file"].get("error"), svcs["ok@file"]
        assert "no URI SAN 'spiffe://example.org/peer'" in g.output()
    finally:
        peer.stop()
        other.stop()
        plain.stop()


def test_peer_cert_sans(tmp_path, procs):
    """peerCertSANs (Traefik v3.8): one of the listed SANs must be in the
    server's certificate: a URI (without case) or a DNSName (matched as a
    host name, wildcards included); peerCertURI counts as one more URI; the
    chain is still verified with insecureSkipVerify; a type other than URI
    or DNSName refuses the transport's services."""
    d = str(tmp_path)
    peer = TLSUpstream(d, "peer.internal", sans=["peer.internal", "*.mesh.internal"], uris=["spiffe://example.org/peer"])
    _, ca = make_ca(d)
    try:
        insecure = "{insecureSkipVerify: true, rootCAs: [\"%s\"], peerCertSANs: [%%s]}" % ca
        transports = {
            "uri": (insecure % "{type: URI, value: \"SPIFFE://example.org/Peer\"}", 200),
            "dns": (insecure % "{type: DNSName, value: peer.internal}", 200),
            "wild": (insecure % "{type: DNSName, value: a.mesh.internal}", 200),
            "any": (insecure % "{type: DNSName, value: nope.internal}, {type: URI, value: \"spiffe://example.org/peer\"}", 200),
            "none": (insecure % "{type: DNSName, value: nope.internal}, {type: URI, value: \"spiffe://example.org/x\"}", 502),
            "deep": (insecure % "{type: DNSName, value: a.b.mesh.internal}", 502),
            "withuri": (("{insecureSkipVerify: true, rootCAs: [\"%s\"], peerCertURI: \"spiffe://example.org/peer\", "
                         "peerCertSANs: [{type: DNSName, value: nope.internal}]}") % ca, 200),
            "untrusted": ("{insecureSkipVerify: true, peerCertSANs: [{type: DNSName, value: peer.internal}]}", 502),
            "badtype": (insecure % "{type: IPAddress, value: 127.0.0.1}", 404),
        }
        dyn = "http:\n  routers:\n"
        for n in transports:
            dyn += "    %s: {rule: \"Host(`%s.test`)\", service: %s}\n" % (n, n, n)
        dyn += "  serversTransports:\n"
        for n, (t, _) in transports.items():
            dyn += "    %s: %s\n" % (n, t)
        dyn += "  services:\n"
        for n in transports:
            dyn += service_yaml(n, [peer.url], "        serversTransport: %s\n" % n)
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "uri.test")[0] == 200, what="route live")
        for n, (_, expected) in transports.items():
            status, _, body = get(g.port, "/", "%s.test" % n)
            assert status == expected, (n, status, body)
        assert "no DNSName SAN 'nope.internal' nor any other listed" in g.output()
        svcs = {s["name"]: s for s in g.api("/api/http/services")}
        assert "peerCertSANs entry {type: 'IPAddress'" in " ".join(svcs["badtype@file"]["error"]), svcs["badtype@file"]
    finally:
        peer.stop()


def test_insecure_skip_verify_against_a_tls12_server_named_otherwise(tmp_path, procs):
    """libh2o checks the server name itself at the end of a TLS 1.2
    handshake: insecureSkipVerify must skip that too, while a verifying
    transport still refuses the name."""
    d = str(tmp_path)
    up = TLSUpstream(d, "backend.internal", tls12=True)
    _, ca = make_ca(d)
    try:
        dyn = ("http:\n  routers:\n"
               "    insecure: {rule: \"Host(`insecure.test`)\", service: insecure}\n"
               "    verified: {rule: \"Host(`verified.test`)\", service: verified}\n"
               "  serversTransports:\n"
               "    insecure: {insecureSkipVerify: true, serverName: other.internal}\n"
               "    verified: {rootCAs: [\"%s\"], serverName: other.internal}\n"
               "  services:\n" % ca
               + service_yaml("insecure", [up.url], "        serversTransport: insecure\n")
               + service_yaml("verified", [up.url], "        serversTransport: verified\n"))
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "verified.test")[0] == 502, what="route live")
        for _ in range(3):
            status, _, body = get(g.port, "/", "insecure.test")
            assert (status, body) == (200, b"tls ok")
        assert get(g.port, "/", "verified.test")[0] == 502
    finally:
        up.stop()
